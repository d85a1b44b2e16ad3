//! `Watch`: the handle of a running watch.

use std::sync::Arc;

use pyo3::prelude::*;

use crate::errors::to_py;

/// A running watch. Dropping it does not stop the watch; `cancel()` (or leaving its
/// `with` block) does.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Watch {
    inner: Arc<turtle_finder::Watch>,
}

impl Watch {
    pub(crate) fn new(inner: Arc<turtle_finder::Watch>) -> Watch {
        Watch { inner }
    }
}

#[pymethods]
impl Watch {
    /// Stops the watch: once this returns the callback is never called again (from inside
    /// the callback: not after the current call). Idempotent; never deadlocks.
    fn cancel(&self, py: Python<'_>) {
        let w = self.inner.clone();
        // A running callback holds the GIL while cancel waits for it to return.
        py.detach(move || w.cancel());
    }

    /// Whether the watch was cancelled (or its finder closed).
    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    /// The last error the watch reported as an exception instance, or None.
    #[getter]
    fn last_error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.inner
            .last_error()
            .map(|e| to_py(py, &e).into_value(py).into_any())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.cancel(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "Watch(id={}, cancelled={})",
            self.inner.id(),
            self.inner.is_cancelled()
        )
    }
}

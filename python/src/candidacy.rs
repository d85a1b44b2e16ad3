//! `Candidacy`: running for leader until stopped.

use pyo3::prelude::*;

/// A candidate running for leader (`finder.run_for_leader`): it campaigns, leads until it
/// loses the leadership (`on_lost(exc)`), and campaigns again (`on_elected(leader)` at each
/// win), until `stop()` (or leaving its `with` block) resigns and ends it.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Candidacy {
    pub(crate) inner: turtle_finder::Candidacy,
    /// Kept alive by the handle (its drop would close it).
    pub(crate) _finder: Py<crate::finder::ServiceFinder>,
}

#[pymethods]
impl Candidacy {
    /// Whether this candidate surely leads now (no I/O).
    fn is_leading(&self) -> bool {
        self.inner.is_leading()
    }

    /// The leadership's fencing token while it leads, None while it campaigns.
    #[getter]
    fn token(&self) -> Option<i64> {
        self.inner.leadership().map(|l| l.token())
    }

    /// The last campaign's failure (it is tried again with a backoff), or None.
    #[getter]
    fn last_error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let e = self.inner.last_error()?;
        Some(crate::errors::to_py(py, &e).into_value(py).into_any())
    }

    /// Stops running: resigns if leading and waits for that (the finder's timeout and a
    /// second at most). Idempotent.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.stop(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("Candidacy(leading={})", self.inner.is_leading())
    }
}

/// The core's `on_elected` for `callback(leader)`: an exception it raises is reported
/// through `sys.unraisablehook`.
pub(crate) fn on_elected(callback: Py<PyAny>) -> turtle_finder::OnElected {
    std::sync::Arc::new(move |leader| {
        Python::try_attach(|py| {
            let called = Py::new(py, crate::lock::Leader::new(leader.clone()))
                .and_then(|l| callback.call1(py, (l,)));
            if let Err(raised) = called {
                raised.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    })
}

//! `Registration`: a registered instance, kept until closed.

use std::time::Duration;

use pyo3::prelude::*;
use turtle_finder::{Error, ErrorKind};

use crate::errors::to_py;

/// A registered instance of a service: its key stays in etcd, bound to a lease kept alive
/// in the background, until `close()` (or leaving its `with` block, or the finder's
/// close) revokes it. Dropping the handle does not revoke it; the handle keeps its finder
/// alive.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Registration {
    inner: turtle_finder::Registration,
    /// Kept alive by the handle (its drop would close it, and revoke this registration).
    _finder: Py<crate::finder::ServiceFinder>,
}

impl Registration {
    pub(crate) fn new(
        inner: turtle_finder::Registration,
        finder: Py<crate::finder::ServiceFinder>,
    ) -> Registration {
        Registration {
            inner,
            _finder: finder,
        }
    }
}

#[pymethods]
impl Registration {
    /// Revokes the lease: watchers see the instance go at once. Waits for etcd's answer
    /// (twice the finder's timeout at most). Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.inner.forked() {
            let why = "this registration was made in the parent process before fork(); it stays the parent's";
            return Err(to_py(py, &Error::new(ErrorKind::Closed, why)));
        }
        let r = self.inner.clone();
        py.detach(move || r.close());
        Ok(())
    }

    /// "registered", "reregistering" (the lease was lost and is being renewed), "lost"
    /// (no member confirmed it for a whole TTL) or "closed".
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state().as_str()
    }

    /// The key written: `<prefix><name>/<instance id>`.
    #[getter]
    fn key(&self) -> &str {
        self.inner.key()
    }

    /// The id of the lease the key is bound to now.
    #[getter]
    fn lease_id(&self) -> i64 {
        self.inner.lease_id()
    }

    /// The time to live etcd granted, in seconds.
    #[getter]
    fn ttl(&self) -> f64 {
        Duration::as_secs_f64(&self.inner.ttl())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Registration(key={:?}, state={:?})",
            self.key(),
            self.state()
        )
    }
}

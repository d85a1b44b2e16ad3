//! `Registration`: a registered instance, kept until closed.

use std::time::Duration;

use pyo3::prelude::*;

/// A registered instance of a service: its key stays in etcd, bound to a lease kept alive
/// in the background, until `close()` (or leaving its `with` block, or the finder's
/// close) revokes it. Dropping the handle does not revoke it.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Registration {
    inner: turtle_finder::Registration,
}

impl Registration {
    pub(crate) fn new(inner: turtle_finder::Registration) -> Registration {
        Registration { inner }
    }
}

#[pymethods]
impl Registration {
    /// Revokes the lease: watchers see the instance go at once. Waits for etcd's answer
    /// (twice the finder's timeout at most). Idempotent.
    fn close(&self, py: Python<'_>) {
        let r = self.inner.clone();
        py.detach(move || r.close());
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
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "Registration(key={:?}, state={:?})",
            self.key(),
            self.state()
        )
    }
}

//! `Lock`, a held lock, and `Entry`, a key as read.

use std::sync::{Arc, Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::to_py;

/// What the core's `on_lost` reaches: the guard's `threading.Event` and the callbacks
/// given to `on_lost`, filled in once the guard exists (a loss before that is kept).
#[derive(Default)]
pub(crate) struct Lost {
    event: OnceLock<Py<PyAny>>,
    callbacks: Mutex<Vec<Py<PyAny>>>,
    /// The loss, once it happened.
    error: Mutex<Option<turtle_finder::Error>>,
}

impl Lost {
    /// The core's `on_lost`, run on the dispatcher thread: sets the event, then calls
    /// every callback with the `SessionLostError` (an exception it raises is reported
    /// through `sys.unraisablehook`).
    pub(crate) fn callback(me: &Arc<Lost>) -> turtle_finder::OnLost {
        let me = me.clone();
        Arc::new(move |e| {
            *me.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
            Python::try_attach(|py| me.fire(py));
        })
    }

    fn fire(&self, py: Python<'_>) {
        let Some(e) = self.error.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return;
        };
        if let Some(event) = self.event.get() {
            if let Err(raised) = event.call_method0(py, "set") {
                raised.write_unraisable(py, None);
            }
        }
        let callbacks =
            std::mem::take(&mut *self.callbacks.lock().unwrap_or_else(|p| p.into_inner()));
        for cb in callbacks {
            if let Err(raised) = cb.call1(py, (to_py(py, &e).into_value(py),)) {
                raised.write_unraisable(py, Some(cb.bind(py)));
            }
        }
    }
}

/// A held lock: `token` is its fencing token (the create revision of its key, larger for
/// every later holder). `is_valid()` says whether it is surely still held, `lost` is a
/// `threading.Event` set when it is not, and `unlock()` (or leaving its `with` block)
/// lets go. Dropping the handle unlocks it in the background.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Lock {
    inner: turtle_finder::LockGuard,
    lost: Arc<Lost>,
    event: Py<PyAny>,
    /// Kept alive by the handle (its drop would close it, and unlock this lock).
    _finder: Py<crate::finder::ServiceFinder>,
}

impl Lock {
    pub(crate) fn new(
        py: Python<'_>,
        inner: turtle_finder::LockGuard,
        lost: Arc<Lost>,
        finder: Py<crate::finder::ServiceFinder>,
    ) -> PyResult<Lock> {
        let event = py.import("threading")?.getattr("Event")?.call0()?.unbind();
        let _ = lost.event.set(event.clone_ref(py));
        // Lost before the handle existed (or just now): the event says so at once.
        if !inner.is_valid() {
            event.call_method0(py, "set")?;
        }
        lost.fire(py);
        Ok(Lock {
            inner,
            lost,
            event,
            _finder: finder,
        })
    }

    pub(crate) fn fence(&self) -> turtle_finder::Fence {
        self.inner.fence()
    }
}

#[pymethods]
impl Lock {
    /// The fencing token: the create revision of the lock's key.
    #[getter]
    fn token(&self) -> i64 {
        self.inner.token()
    }

    /// The etcd key that holds the lock: `<name>/<lease id in hex>`.
    #[getter]
    fn key(&self) -> &str {
        self.inner.key()
    }

    /// The lock's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The id of the lease the lock stands on.
    #[getter]
    fn lease_id(&self) -> i64 {
        self.inner.lease()
    }

    /// A `threading.Event`, set once the lock is no longer surely held (lost or unlocked).
    #[getter]
    fn lost(&self, py: Python<'_>) -> Py<PyAny> {
        if !self.inner.is_valid() {
            let _ = self.event.call_method0(py, "set");
        }
        self.event.clone_ref(py)
    }

    /// Whether the lock is surely still held (no I/O); false for good once in doubt.
    fn is_valid(&self, py: Python<'_>) -> bool {
        let valid = self.inner.is_valid();
        if !valid {
            let _ = self.event.call_method0(py, "set");
        }
        valid
    }

    /// Calls `callback(exc)` on the finder's dispatcher thread if the lock is lost while
    /// held (not when unlocked), with the `SessionLostError` saying why; at once (on this
    /// thread) when it was lost already.
    fn on_lost(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        if !callback.bind(py).is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "on_lost takes a callable",
            ));
        }
        (self
            .lost
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner()))
        .push(callback);
        self.lost.fire(py);
        Ok(())
    }

    /// Lets go: deletes the key only if it is still this lock's, and revokes its lease.
    /// Idempotent; waits for etcd's answer (the finder's timeout and a second at most).
    fn unlock(&self, py: Python<'_>) {
        let _ = self.event.call_method0(py, "set");
        py.detach(|| self.inner.unlock());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.unlock(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "Lock(key={:?}, token={}, valid={})",
            self.inner.key(),
            self.inner.token(),
            self.inner.is_valid()
        )
    }
}

/// A key as read: `value` (str, or bytes when not UTF-8) and its revisions.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Entry {
    inner: turtle_finder::Entry,
}

impl Entry {
    pub(crate) fn new(inner: turtle_finder::Entry) -> Entry {
        Entry { inner }
    }
}

#[pymethods]
impl Entry {
    /// The whole etcd key.
    #[getter]
    fn key(&self) -> &str {
        &self.inner.key
    }

    /// The value: str, or bytes when it is not UTF-8.
    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyAny> {
        match self.inner.value_str() {
            Ok(s) => PyString::new(py, s).into_any().unbind(),
            Err(_) => PyBytes::new(py, &self.inner.value).into_any().unbind(),
        }
    }

    /// The revision that created the key.
    #[getter]
    fn create_revision(&self) -> i64 {
        self.inner.create_revision
    }

    /// The revision of the key's last write: what `if_revision` compares.
    #[getter]
    fn mod_revision(&self) -> i64 {
        self.inner.mod_revision
    }

    /// How many times the key was written since it was created.
    #[getter]
    fn version(&self) -> i64 {
        self.inner.version
    }

    /// The lease the key is bound to, 0 for none.
    #[getter]
    fn lease_id(&self) -> i64 {
        self.inner.lease
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Entry(key={:?}, value={}, mod_revision={})",
            self.inner.key,
            self.value(py),
            self.inner.mod_revision
        )
    }
}

//! `Lock`, a held lock, and `Entry`, a key as read.

use std::sync::{Arc, Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::{to_py, IntoPy};

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

/// A lock or a leadership, as the core gave it.
pub(crate) enum Guard {
    Lock(turtle_finder::LockGuard),
    Lead(turtle_finder::Leadership),
}

impl Guard {
    fn token(&self) -> i64 {
        match self {
            Guard::Lock(g) => g.token(),
            Guard::Lead(l) => l.token(),
        }
    }
    fn key(&self) -> &str {
        match self {
            Guard::Lock(g) => g.key(),
            Guard::Lead(l) => l.key(),
        }
    }
    fn name(&self) -> &str {
        match self {
            Guard::Lock(g) => g.name(),
            Guard::Lead(l) => l.name(),
        }
    }
    fn lease(&self) -> i64 {
        match self {
            Guard::Lock(g) => g.lease(),
            Guard::Lead(l) => l.lease(),
        }
    }
    fn is_valid(&self) -> bool {
        match self {
            Guard::Lock(g) => g.is_valid(),
            Guard::Lead(l) => l.is_valid(),
        }
    }
    fn fence(&self) -> turtle_finder::Fence {
        match self {
            Guard::Lock(g) => g.fence(),
            Guard::Lead(l) => l.fence(),
        }
    }
    fn unlock(&self) {
        match self {
            Guard::Lock(g) => g.unlock(),
            Guard::Lead(l) => l.resign(),
        }
    }
}

/// What `Lock` and `Leadership` share: the guard, its loss, and the finder kept alive.
pub(crate) struct Held {
    guard: Guard,
    lost: Arc<Lost>,
    event: Py<PyAny>,
    /// Kept alive by the handle (its drop would close it, and let this go).
    finder: Py<crate::finder::ServiceFinder>,
}

impl Held {
    pub(crate) fn new(
        py: Python<'_>,
        guard: Guard,
        lost: Arc<Lost>,
        finder: Py<crate::finder::ServiceFinder>,
    ) -> PyResult<Held> {
        let event = py.import("threading")?.getattr("Event")?.call0()?.unbind();
        let _ = lost.event.set(event.clone_ref(py));
        // Lost before the handle existed (or just now): the event says so at once.
        if !guard.is_valid() {
            event.call_method0(py, "set")?;
        }
        lost.fire(py);
        Ok(Held {
            guard,
            lost,
            event,
            finder,
        })
    }

    pub(crate) fn fence(&self) -> turtle_finder::Fence {
        self.guard.fence()
    }

    /// The compare that holds only while the lock or leadership is held.
    fn owner_cmp(&self) -> crate::txn::Compare {
        crate::txn::Compare {
            inner: self.fence().owner_cmp(),
        }
    }

    fn lost_event(&self, py: Python<'_>) -> Py<PyAny> {
        self.is_valid(py);
        self.event.clone_ref(py)
    }

    fn is_valid(&self, py: Python<'_>) -> bool {
        let valid = self.guard.is_valid();
        if !valid {
            let _ = self.event.call_method0(py, "set");
        }
        valid
    }

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

    fn let_go(&self, py: Python<'_>) {
        let _ = self.event.call_method0(py, "set");
        py.detach(|| self.guard.unlock());
    }
}

/// A held lock: `token` is its fencing token (the create revision of its key, larger for
/// every later holder). `is_valid()` says whether it is surely still held, `lost` is a
/// `threading.Event` set when it is not, and `unlock()` (or leaving its `with` block)
/// lets go. Dropping the handle unlocks it in the background.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Lock {
    pub(crate) held: Held,
}

#[pymethods]
impl Lock {
    /// The fencing token: the create revision of the lock's key.
    #[getter]
    fn token(&self) -> i64 {
        self.held.guard.token()
    }

    /// The etcd key that holds the lock: `<name>/<lease id in hex>`.
    #[getter]
    fn key(&self) -> &str {
        self.held.guard.key()
    }

    /// The lock's name.
    #[getter]
    fn name(&self) -> &str {
        self.held.guard.name()
    }

    /// The id of the lease the lock stands on.
    #[getter]
    fn lease_id(&self) -> i64 {
        self.held.guard.lease()
    }

    /// A `threading.Event`, set once the lock is no longer surely held (lost or unlocked).
    #[getter]
    fn lost(&self, py: Python<'_>) -> Py<PyAny> {
        self.held.lost_event(py)
    }

    /// Whether the lock is surely still held (no I/O); false for good once in doubt.
    fn is_valid(&self, py: Python<'_>) -> bool {
        self.held.is_valid(py)
    }

    /// Calls `callback(exc)` on the finder's dispatcher thread if the lock is lost while
    /// held (not when unlocked), with the `SessionLostError` saying why; at once (on this
    /// thread) when it was lost already.
    fn on_lost(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        self.held.on_lost(py, callback)
    }

    /// The compare that holds only while this lock is held, for `finder.txn().when(...)`.
    fn owner_cmp(&self) -> crate::txn::Compare {
        self.held.owner_cmp()
    }

    /// Lets go: deletes the key only if it is still this lock's, and revokes its lease.
    /// Idempotent; waits for etcd's answer (the finder's timeout and a second at most).
    fn unlock(&self, py: Python<'_>) {
        self.held.let_go(py)
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
        let g = &self.held.guard;
        format!(
            "Lock(key={:?}, token={}, valid={})",
            g.key(),
            g.token(),
            g.is_valid()
        )
    }
}

/// A won election: `token`, `key`, `is_valid()`, `lost` and `on_lost` as a `Lock` has;
/// `proclaim(value)` writes a new value while it leads, `resign()` (or leaving its `with`
/// block) steps down.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Leadership {
    pub(crate) held: Held,
}

#[pymethods]
impl Leadership {
    /// The fencing token: the create revision of the leader's key.
    #[getter]
    fn token(&self) -> i64 {
        self.held.guard.token()
    }

    /// The leader's key: `<name>/<lease id in hex>`.
    #[getter]
    fn key(&self) -> &str {
        self.held.guard.key()
    }

    /// The election's name.
    #[getter]
    fn name(&self) -> &str {
        self.held.guard.name()
    }

    /// The id of the lease the leadership stands on.
    #[getter]
    fn lease_id(&self) -> i64 {
        self.held.guard.lease()
    }

    /// A `threading.Event`, set once this is no longer surely the leader.
    #[getter]
    fn lost(&self, py: Python<'_>) -> Py<PyAny> {
        self.held.lost_event(py)
    }

    /// Whether this is surely still the leader (no I/O); false for good once in doubt.
    fn is_valid(&self, py: Python<'_>) -> bool {
        self.held.is_valid(py)
    }

    /// Calls `callback(exc)` on the dispatcher thread if the leadership is lost.
    fn on_lost(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        self.held.on_lost(py, callback)
    }

    /// Writes `value` (str or bytes) as the leader's value, only while this leads
    /// (`ConditionFailedError` once it does not). Returns the revision.
    fn proclaim(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<i64> {
        let Guard::Lead(l) = &self.held.guard else {
            unreachable!("a Leadership holds a leadership")
        };
        let bytes = crate::finder::bytes_of(value)?;
        let finder = self.held.finder.get().inner.clone();
        py.detach(|| finder.proclaim(l, &bytes)).py(py)
    }

    /// The compare that holds only while this leads, for `finder.txn().when(...)`.
    fn owner_cmp(&self) -> crate::txn::Compare {
        self.held.owner_cmp()
    }

    /// Steps down: deletes the key if it is still this leadership's, revokes its lease.
    /// Idempotent.
    fn resign(&self, py: Python<'_>) {
        self.held.let_go(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.resign(py);
        false
    }

    fn __repr__(&self) -> String {
        let g = &self.held.guard;
        format!(
            "Leadership(key={:?}, token={}, valid={})",
            g.key(),
            g.token(),
            g.is_valid()
        )
    }
}

/// An election's leader: `key`, `value` (str, or bytes when not UTF-8) and `revision`
/// (the create revision of its key).
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Leader {
    inner: turtle_finder::Leader,
}

impl Leader {
    pub(crate) fn new(inner: turtle_finder::Leader) -> Leader {
        Leader { inner }
    }
}

#[pymethods]
impl Leader {
    /// The leader's key.
    #[getter]
    fn key(&self) -> &str {
        &self.inner.key
    }

    /// The leader's value: str, or bytes when it is not UTF-8.
    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyAny> {
        match self.inner.value_str() {
            Ok(s) => PyString::new(py, s).into_any().unbind(),
            Err(_) => PyBytes::new(py, &self.inner.value).into_any().unbind(),
        }
    }

    /// The create revision of the leader's key: larger for every later leader.
    #[getter]
    fn revision(&self) -> i64 {
        self.inner.revision
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Leader(key={:?}, value={})", self.inner.key, self.value(py))
    }
}

/// A lease kept alive for locks and elections to share (`finder.lock_session(ttl)`): a
/// lock on it costs no grant and no revoke. `close()` (or leaving its `with` block)
/// revokes it, and its locks are lost.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct LockSession {
    pub(crate) inner: turtle_finder::LockSession,
    /// Kept alive by the handle (its drop would close it).
    pub(crate) _finder: Py<crate::finder::ServiceFinder>,
}

#[pymethods]
impl LockSession {
    /// The id of the lease.
    #[getter]
    fn lease_id(&self) -> i64 {
        self.inner.lease()
    }

    /// The TTL etcd granted, in seconds.
    #[getter]
    fn ttl(&self) -> f64 {
        self.inner.ttl().as_secs_f64()
    }

    /// Whether the lease is surely alive now (no I/O).
    fn is_alive(&self) -> bool {
        self.inner.is_alive()
    }

    /// Revokes the lease in the background (closing the finder waits for it): the locks
    /// on it are lost. Idempotent.
    fn close(&self) {
        self.inner.close()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "LockSession(lease_id={:x}, alive={})",
            self.inner.lease(),
            self.inner.is_alive()
        )
    }
}

/// A key as read: `value` (str, or bytes when not UTF-8) and its revisions.
#[pyclass(module = "turtle_finder._native", frozen)]
#[derive(Clone)]
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

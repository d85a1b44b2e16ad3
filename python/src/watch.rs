//! `Watch`, the handle of a running watch, and the adapters that turn Python callables
//! into the core's callbacks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PySystemExit, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::change::Change;
use crate::errors::to_py;
use crate::instances::Instances;

/// The watch a callback belongs to, so `SystemExit` inside the callback can end it. The
/// first callback of an `initial=True` watch may run before the core returned the watch:
/// the exit is then remembered and done as soon as the watch exists.
#[derive(Default)]
pub(crate) struct Owner {
    watch: OnceLock<Arc<turtle_finder::Watch>>,
    exit: AtomicBool,
}

impl Owner {
    /// Ends the watch now, or as soon as it exists.
    fn exit(&self) {
        self.exit.store(true, Ordering::SeqCst);
        if let Some(w) = self.watch.get() {
            w.cancel();
        }
    }

    /// The watch exists: ends it at once if a callback asked to meanwhile.
    fn set(&self, watch: Arc<turtle_finder::Watch>) {
        let _ = self.watch.set(watch.clone());
        if self.exit.load(Ordering::SeqCst) {
            watch.cancel();
        }
    }
}

/// Checks the callables of `watch_service`; `on_error=None` means no error callback.
pub(crate) fn callables(
    callback: Bound<'_, PyAny>,
    on_error: Option<Bound<'_, PyAny>>,
) -> PyResult<(Py<PyAny>, Option<Py<PyAny>>)> {
    if !callback.is_callable() {
        return Err(PyTypeError::new_err("callback must be callable"));
    }
    let on_error = on_error.filter(|e| !e.is_none());
    if on_error.as_ref().is_some_and(|e| !e.is_callable()) {
        return Err(PyTypeError::new_err("on_error must be callable or None"));
    }
    Ok((callback.unbind(), on_error.map(Bound::unbind)))
}

/// An optional Python callable.
type MaybeCallable = Option<Py<PyAny>>;

/// Checks two optional callables (`None` means none).
pub(crate) fn optional_callables(
    a: Option<Bound<'_, PyAny>>,
    b: Option<Bound<'_, PyAny>>,
) -> PyResult<(MaybeCallable, MaybeCallable)> {
    let check = |c: Option<Bound<'_, PyAny>>| match c.filter(|c| !c.is_none()) {
        Some(c) if !c.is_callable() => {
            Err(PyTypeError::new_err("callbacks must be callable or None"))
        }
        other => Ok(other.map(Bound::unbind)),
    };
    Ok((check(a)?, check(b)?))
}

/// The core's registration-state callback for `on_state(state)`, if given.
pub(crate) fn on_state(
    handler: Option<Py<PyAny>>,
) -> impl Fn(turtle_finder::RegistrationState) + Send + Sync + 'static {
    move |state| {
        let Some(handler) = &handler else { return };
        Python::try_attach(|py| {
            if let Err(raised) = handler.call1(py, (state.as_str(),)) {
                raised.write_unraisable(py, Some(handler.bind(py)));
            }
        });
    }
}

/// What `callback` gets: a `Change` with `changes=True`, else the new value (str; bytes
/// when not UTF-8; None when deleted).
fn argument(py: Python<'_>, c: &turtle_finder::Change, changes: bool) -> PyResult<Py<PyAny>> {
    if changes {
        return Py::new(py, Change::new(c.clone())).map(Py::into_any);
    }
    Ok(match (&c.value, c.value_str()) {
        (None, _) => py.None(),
        (Some(_), Ok(Some(s))) => PyString::new(py, s).into_any().unbind(),
        (Some(v), _) => PyBytes::new(py, v).into_any().unbind(),
    })
}

/// Calls `callback(arg)`: an exception goes to `sys.unraisablehook` and the watch goes on;
/// `SystemExit` ends the watch.
fn call_back(py: Python<'_>, callback: &Py<PyAny>, arg: PyResult<Py<PyAny>>, owner: &Owner) {
    let Err(e) = arg.and_then(|a| callback.call1(py, (a,))) else {
        return;
    };
    if e.is_instance_of::<PySystemExit>(py) {
        owner.exit();
    } else {
        e.write_unraisable(py, Some(callback.bind(py)));
    }
}

/// The core's change callback for `callback`.
pub(crate) fn on_change(
    callback: Py<PyAny>,
    changes: bool,
    owner: Arc<Owner>,
) -> impl FnMut(&turtle_finder::Change) + Send + 'static {
    move |c| {
        Python::try_attach(|py| call_back(py, &callback, argument(py, c, changes), &owner));
    }
}

/// The core's instances callback for `callback`: it gets an `Instances`.
pub(crate) fn on_instances(
    callback: Py<PyAny>,
    owner: Arc<Owner>,
) -> impl FnMut(&turtle_finder::Instances) + Send + 'static {
    move |list| {
        Python::try_attach(|py| {
            let arg = Py::new(py, Instances::new(list.clone())).map(Py::into_any);
            call_back(py, &callback, arg, &owner);
        });
    }
}

/// The core's observer callback for `callback`: it gets a `Leader`, or None.
pub(crate) fn on_leader(
    callback: Py<PyAny>,
    owner: Arc<Owner>,
) -> impl FnMut(Option<&turtle_finder::Leader>) + Send + 'static {
    move |leader| {
        Python::try_attach(|py| {
            let arg = match leader {
                None => Ok(py.None()),
                Some(l) => Py::new(py, crate::lock::Leader::new(l.clone())).map(Py::into_any),
            };
            call_back(py, &callback, arg, &owner);
        });
    }
}

/// The core's error callback for `on_error(exc)`, if given.
pub(crate) fn on_error(
    handler: Option<Py<PyAny>>,
) -> impl Fn(&turtle_finder::Error) + Send + Sync + 'static {
    move |e| {
        let Some(handler) = &handler else { return };
        Python::try_attach(|py| {
            if let Err(raised) = handler.call1(py, (to_py(py, e).into_value(py),)) {
                raised.write_unraisable(py, Some(handler.bind(py)));
            }
        });
    }
}

/// A running watch. Dropping it does not stop the watch; `cancel()` (or leaving its
/// `with` block) does.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Watch {
    inner: Arc<turtle_finder::Watch>,
    /// Kept alive by the handle (its drop would close it, and end this watch).
    _finder: Py<crate::finder::ServiceFinder>,
}

impl Watch {
    /// The handle of a watch the core made; its callbacks' `owner` learns of it.
    pub(crate) fn started(
        inner: turtle_finder::Watch,
        owner: &Owner,
        finder: Py<crate::finder::ServiceFinder>,
    ) -> Watch {
        let inner = Arc::new(inner);
        owner.set(inner.clone());
        Watch {
            inner,
            _finder: finder,
        }
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

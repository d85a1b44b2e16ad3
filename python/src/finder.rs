//! `ServiceFinder` for Python: arguments are taken while holding the interpreter, the
//! blocking work runs detached from it.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use pyo3::exceptions::{PySystemExit, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use turtle_finder::{Config, Consistency, ErrorKind, ReadOptions, WatchOptions};

use crate::change::Change;
use crate::errors::{invalid, to_py, IntoPy};
use crate::watch::Watch;

/// Every finder made in this process, so the interpreter can close them before it exits.
static LIVE: Mutex<Vec<Weak<turtle_finder::ServiceFinder>>> = Mutex::new(Vec::new());

/// Closes every live finder (registered with `atexit`): no callback then runs while the
/// interpreter shuts down.
#[pyfunction]
pub(crate) fn _close_all(py: Python<'_>) {
    let live: Vec<_> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    py.detach(|| live.iter().for_each(|f| f.close()));
}

/// Service lookups and watches on an etcd v3 cluster.
///
/// ServiceFinder(endpoints=None, *, prefix="/services/", timeout=None, serializable=False)
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct ServiceFinder {
    inner: Arc<turtle_finder::ServiceFinder>,
}

/// Seconds from Python as a deadline; None stays None.
fn seconds(py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Duration>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_finite() && t > 0.0 && t < 1e9 => Ok(Some(Duration::from_secs_f64(t))),
        Some(t) => Err(invalid(
            py,
            format!("timeout must be a positive number of seconds, not {t}"),
        )),
    }
}

#[pymethods]
impl ServiceFinder {
    #[new]
    #[pyo3(signature = (endpoints=None, *, prefix=None, timeout=None, serializable=false))]
    fn new(
        py: Python<'_>,
        endpoints: Option<&Bound<'_, PyAny>>,
        prefix: Option<String>,
        timeout: Option<f64>,
        serializable: bool,
    ) -> PyResult<ServiceFinder> {
        let cfg = match endpoints {
            None => Config::from_env(),
            Some(e) if e.is_instance_of::<PyString>() => Config::new([e.extract::<String>()?]),
            Some(e) => {
                let list: Vec<String> = e.extract().map_err(|_| {
                    PyTypeError::new_err("endpoints must be a str, a list of str, or None")
                })?;
                Config::new(list)
            }
        };
        let mut cfg = cfg.py(py)?;
        if let Some(p) = prefix {
            cfg = cfg.with_prefix(p).py(py)?;
        }
        if let Some(d) = seconds(py, timeout)? {
            cfg = cfg.with_deadline(d);
        }
        if serializable {
            cfg = cfg.with_consistency(Consistency::Serializable);
        }
        let inner = Arc::new(
            py.detach(|| turtle_finder::ServiceFinder::new(cfg))
                .py(py)?,
        );
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&inner));
        Ok(ServiceFinder { inner })
    }

    /// The value of service `name` as text, or None when absent. Blocks at most `timeout`
    /// seconds (default: the finder's); the GIL is released meanwhile and Ctrl-C ends it.
    #[pyo3(signature = (name, *, timeout=None))]
    fn get_service(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: Option<f64>,
    ) -> PyResult<Option<String>> {
        match self.lookup(py, name, timeout)? {
            None => Ok(None),
            Some(v) => turtle_finder::value_text(name, v).map(Some).py(py),
        }
    }

    /// The value of service `name` as bytes, or None when absent.
    #[pyo3(signature = (name, *, timeout=None))]
    fn get_service_bytes<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self
            .lookup(py, name, timeout)?
            .map(|v| PyBytes::new(py, &v)))
    }

    /// Calls `callback(new_value)` on the finder's dispatcher thread after every change of
    /// service `name` (None when deleted; bytes when the value is not UTF-8), one callback at
    /// a time. With `changes=True` it gets a `Change` instead. `initial=True` delivers the
    /// current value first. `on_error(exc)` hears of trouble the watch keeps retrying through.
    /// The watch lives until cancelled or the finder closes, whether or not the returned
    /// handle is kept. A callback that raises is reported through `sys.unraisablehook`
    /// and the watch goes on; `sys.exit()` in a callback ends just that watch, as it ends
    /// a thread.
    #[pyo3(signature = (name, callback, *, initial=false, changes=false, on_error=None))]
    fn watch_service(
        &self,
        py: Python<'_>,
        name: &str,
        callback: Bound<'_, PyAny>,
        initial: bool,
        changes: bool,
        on_error: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Watch> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err("callback must be callable"));
        }
        if on_error
            .as_ref()
            .is_some_and(|e| !e.is_callable() && !e.is_none())
        {
            return Err(PyTypeError::new_err("on_error must be callable or None"));
        }
        let callback = callback.unbind();
        let on_error = on_error.filter(|e| !e.is_none()).map(Bound::unbind);
        // Set once the watch exists, so SystemExit inside the callback can end it.
        let me: Arc<OnceLock<Arc<turtle_finder::Watch>>> = Arc::default();
        let me_cb = me.clone();
        let on_change = move |c: &turtle_finder::Change| {
            Python::try_attach(|py| {
                let arg: PyResult<Py<PyAny>> = if changes {
                    Py::new(py, Change::new(c.clone())).map(Py::into_any)
                } else {
                    Ok(match (&c.value, c.value_str()) {
                        (None, _) => py.None(),
                        (Some(_), Ok(Some(s))) => PyString::new(py, s).into_any().unbind(),
                        (Some(v), _) => PyBytes::new(py, v).into_any().unbind(),
                    })
                };
                let result = arg.and_then(|a| callback.call1(py, (a,)));
                if let Err(e) = result {
                    if e.is_instance_of::<PySystemExit>(py) {
                        if let Some(w) = me_cb.get() {
                            w.cancel();
                        }
                    } else {
                        e.write_unraisable(py, Some(callback.bind(py)));
                    }
                }
            });
        };
        let on_err = move |e: &turtle_finder::Error| {
            if let Some(handler) = &on_error {
                Python::try_attach(|py| {
                    if let Err(raised) = handler.call1(py, (to_py(py, e).into_value(py),)) {
                        raised.write_unraisable(py, Some(handler.bind(py)));
                    }
                });
            }
        };
        let opts = WatchOptions {
            initial,
            deadline: None,
        };
        let finder = self.inner.clone();
        let name = name.to_string();
        let watch = py
            .detach(move || finder.watch_service_with(&name, opts, on_change, on_err))
            .py(py)?;
        let watch = Arc::new(watch);
        let _ = me.set(watch.clone());
        Ok(Watch::new(watch))
    }

    /// Cancels every watch and stops the finder's threads; later calls raise ClosedError.
    fn close(&self, py: Python<'_>) {
        let f = self.inner.clone();
        py.detach(move || f.close());
    }

    /// The configured endpoints.
    #[getter]
    fn endpoints(&self) -> Vec<String> {
        self.inner
            .config()
            .endpoints()
            .iter()
            .map(|e| e.to_string())
            .collect()
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
        format!("ServiceFinder({:?})", self.endpoints())
    }
}

impl ServiceFinder {
    fn lookup(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: Option<f64>,
    ) -> PyResult<Option<Vec<u8>>> {
        let opts = ReadOptions {
            deadline: seconds(py, timeout)?,
            consistency: None,
        };
        let raised: Mutex<Option<PyErr>> = Mutex::new(None);
        // Runs Python's signal handlers (on the main thread): Ctrl-C raises here.
        let interrupted = || {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(e) => {
                    *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    true
                }
            })
        };
        let finder = &self.inner;
        let result = py.detach(|| finder.get_service_bytes_interruptible(name, opts, &interrupted));
        match result {
            Err(e) if e.kind() == ErrorKind::Interrupted => Err(raised
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_else(|| to_py(py, &e))),
            other => other.py(py),
        }
    }
}

impl Drop for ServiceFinder {
    fn drop(&mut self) {
        // Closing joins the dispatcher, which may be waiting for the GIL: let go of it.
        let f = self.inner.clone();
        if Python::try_attach(|py| py.detach(|| f.close())).is_none() {
            self.inner.close();
        }
    }
}

//! The process-wide registry of live finders, closed by an `atexit` hook so no callback
//! runs while the interpreter shuts down.

use std::ffi::CString;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeWarning;
use pyo3::prelude::*;

/// Every finder made in this process and not yet dropped.
static LIVE: Mutex<Vec<Weak<turtle_finder::ServiceFinder>>> = Mutex::new(Vec::new());

/// Adds a new finder to the registry.
pub(crate) fn register(finder: &Arc<turtle_finder::ServiceFinder>) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(finder));
}

/// Closes every live finder, waiting at most `timeout` seconds in all for running
/// callbacks (registered with `atexit` by the package, so the process always exits).
/// A finder whose callback did not return in time is abandoned with a RuntimeWarning.
#[pyfunction]
#[pyo3(signature = (timeout=2.0))]
pub(crate) fn _close_all(py: Python<'_>, timeout: f64) -> PyResult<()> {
    let live: Vec<_> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    let limit = Duration::try_from_secs_f64(timeout).unwrap_or(Duration::ZERO);
    let end = Instant::now() + limit;
    // Each finder gets what is left, and at least a moment to end an idle dispatcher.
    let left = || {
        end.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100))
    };
    let abandoned = py.detach(|| live.iter().filter(|f| !f.close_timeout(left())).count());
    if abandoned > 0 {
        warn_abandoned(py, limit)?;
    }
    Ok(())
}

/// The warning of a close that gave up waiting for a callback.
pub(crate) fn warn_abandoned(py: Python<'_>, limit: Duration) -> PyResult<()> {
    let message = format!(
        "a turtle_finder callback did not return within {limit:?} of close(); its thread was abandoned"
    );
    let category = py.get_type::<PyRuntimeWarning>();
    PyErr::warn(py, &category, &CString::new(message)?, 1)
}

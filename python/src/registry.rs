//! The process-wide registry of live finders, closed by an `atexit` hook so no callback
//! runs while the interpreter shuts down.

use std::sync::{Arc, Mutex, Weak};

use pyo3::prelude::*;

/// Every finder made in this process and not yet dropped.
static LIVE: Mutex<Vec<Weak<turtle_finder::ServiceFinder>>> = Mutex::new(Vec::new());

/// Adds a new finder to the registry.
pub(crate) fn register(finder: &Arc<turtle_finder::ServiceFinder>) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(finder));
}

/// Closes every live finder (registered with `atexit` by the package).
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

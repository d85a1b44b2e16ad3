//! `Change`: what a watch delivers, for callbacks that want more than the new value.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use turtle_finder::ChangeKind;

use crate::errors::IntoPy;

/// One change of a watched service.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Change {
    inner: turtle_finder::Change,
}

impl Change {
    pub(crate) fn new(inner: turtle_finder::Change) -> Change {
        Change { inner }
    }
}

#[pymethods]
impl Change {
    /// The service name.
    #[getter]
    fn service(&self) -> &str {
        &self.inner.service
    }

    /// The new value as text, None when the key is absent. Raises InvalidValueError when
    /// the value is not UTF-8 (read `value_bytes` then).
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.inner.value_str().py(py).map(|v| v.map(str::to_string))
    }

    /// The new value as bytes, None when the key is absent.
    #[getter]
    fn value_bytes<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.value.as_deref().map(|v| PyBytes::new(py, v))
    }

    /// The etcd revision of the change.
    #[getter]
    fn revision(&self) -> i64 {
        self.inner.revision
    }

    /// "initial", "put", "delete" or "reset" (history compacted: the current value, read anew).
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner.kind {
            ChangeKind::Initial => "initial",
            ChangeKind::Put => "put",
            ChangeKind::Delete => "delete",
            ChangeKind::Reset => "reset",
        }
    }

    /// Older changes dropped just before this one because the callback was slower than
    /// the updates (0 unless the watch's queue overflowed).
    #[getter]
    fn skipped(&self) -> u64 {
        self.inner.skipped
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        let value = match &c.value {
            None => "None".to_string(),
            Some(v) => match std::str::from_utf8(v) {
                Ok(s) => format!("{s:?}"),
                Err(_) => format!("<{} bytes, not UTF-8>", v.len()),
            },
        };
        format!(
            "Change(service={:?}, kind={:?}, value={value}, revision={})",
            c.service,
            self.kind(),
            c.revision
        )
    }
}

//! `Instance` and `Instances`: the registered instances of a service.

use pyo3::prelude::*;
use pyo3::types::PyList;

/// JSON of the core's as a Python object (through the `json` module: one conversion).
pub(crate) fn json_to_py(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let json = py.import("json")?;
    Ok(json.call_method1("loads", (value.to_string(),))?.unbind())
}

/// One registered instance of a service.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Instance {
    inner: turtle_finder::Instance,
}

#[pymethods]
impl Instance {
    /// The instance id: the key after `<prefix><name>/` (by default the address).
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    /// The address clients connect to.
    #[getter]
    fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The metadata stored with it, as `json.loads` makes it (None when none).
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &self.inner.metadata)
    }

    /// The etcd revision at which the entry was last written.
    #[getter]
    fn revision(&self) -> i64 {
        self.inner.revision
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Instance>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        let i = &self.inner;
        format!(
            "Instance(id={:?}, addr={:?}, metadata={}, revision={})",
            i.id, i.addr, i.metadata, i.revision
        )
    }
}

/// The instances of a service at one revision: a sequence of `Instance` ordered by id,
/// with the entries that are not instances in `malformed` (never a silently shorter list).
#[pyclass(module = "turtle_finder._native", frozen, sequence)]
pub(crate) struct Instances {
    inner: turtle_finder::Instances,
}

impl Instances {
    pub(crate) fn new(inner: turtle_finder::Instances) -> Instances {
        Instances { inner }
    }
}

#[pymethods]
impl Instances {
    fn __len__(&self) -> usize {
        self.inner.instances.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyIterator>> {
        let items = self
            .inner
            .instances
            .iter()
            .map(|i| Instance { inner: i.clone() });
        let list = PyList::new(
            py,
            items
                .map(|i| Py::new(py, i))
                .collect::<PyResult<Vec<_>>>()?,
        )?;
        list.try_iter()
    }

    fn __getitem__(&self, index: isize) -> PyResult<Instance> {
        let len = self.inner.instances.len() as isize;
        let i = if index < 0 { index + len } else { index };
        match (0..len).contains(&i) {
            true => Ok(Instance {
                inner: self.inner.instances[i as usize].clone(),
            }),
            false => Err(pyo3::exceptions::PyIndexError::new_err(
                "instance index out of range",
            )),
        }
    }

    /// The service name.
    #[getter]
    fn service(&self) -> &str {
        &self.inner.service
    }

    /// `(key, reason)` of each entry that is not an instance.
    #[getter]
    fn malformed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let pairs = self
            .inner
            .malformed
            .iter()
            .map(|m| (m.key.as_str(), m.reason.as_str()));
        PyList::new(py, pairs)
    }

    /// The revision the list is as of.
    #[getter]
    fn revision(&self) -> i64 {
        self.inner.revision
    }

    /// "initial", "reset", or "put"/"delete" of the change that made this list.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    fn __repr__(&self) -> String {
        let addrs: Vec<&str> = self
            .inner
            .instances
            .iter()
            .map(|i| i.addr.as_str())
            .collect();
        format!(
            "Instances(service={:?}, addrs={addrs:?}, malformed={}, revision={})",
            self.inner.service,
            self.inner.malformed.len(),
            self.inner.revision
        )
    }
}

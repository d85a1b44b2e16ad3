//! `Txn`, a transaction built with `when`, `then` and `otherwise`; `Compare` and `Op`,
//! its parts; `TxnResult`, what it did.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::IntoPy;
use crate::finder::bytes_of;
use crate::lock::Entry;
use turtle_finder::{Cmp, Condition, Operation};

/// One compare of a transaction: `Compare.value(key, "==", value)`,
/// `Compare.version(key, ">", 0)`, `Compare.create_revision(key, "==", rev)`,
/// `Compare.mod_revision(key, "<", rev)`; a lock's `owner_cmp()`. The comparisons are
/// "==", "!=", ">" and "<". A compare of an absent key's value never holds; its version
/// and revisions are 0.
#[pyclass(module = "turtle_finder._native", frozen)]
#[derive(Clone)]
pub(crate) struct Compare {
    pub(crate) inner: Condition,
}

fn cmp_of(op: &str) -> PyResult<Cmp> {
    Cmp::parse(op).ok_or_else(|| {
        PyValueError::new_err(format!(
            "a comparison is one of \"==\", \"!=\", \">\", \"<\", not {op:?}"
        ))
    })
}

#[pymethods]
impl Compare {
    /// The key's value compared with `value` (str or bytes).
    #[staticmethod]
    fn value(key: &str, op: &str, value: &Bound<'_, PyAny>) -> PyResult<Compare> {
        let inner = Condition::value(key, cmp_of(op)?, bytes_of(value)?);
        Ok(Compare { inner })
    }

    /// The key's version (writes since created; 0: absent) compared with `version`.
    #[staticmethod]
    fn version(key: &str, op: &str, version: i64) -> PyResult<Compare> {
        let inner = Condition::version(key, cmp_of(op)?, version);
        Ok(Compare { inner })
    }

    /// The key's create revision (0: absent) compared with `revision`.
    #[staticmethod]
    fn create_revision(key: &str, op: &str, revision: i64) -> PyResult<Compare> {
        let inner = Condition::create_revision(key, cmp_of(op)?, revision);
        Ok(Compare { inner })
    }

    /// The key's mod revision (0: absent) compared with `revision`.
    #[staticmethod]
    fn mod_revision(key: &str, op: &str, revision: i64) -> PyResult<Compare> {
        let inner = Condition::mod_revision(key, cmp_of(op)?, revision);
        Ok(Compare { inner })
    }

    fn __repr__(&self) -> String {
        format!("Compare({:?})", self.inner)
    }
}

/// One operation of a transaction's branch: `Op.put(key, value)`, `Op.delete(key)`,
/// `Op.get(key)` (whose `Entry`, or None, is in `TxnResult.gets`).
#[pyclass(module = "turtle_finder._native", frozen)]
#[derive(Clone)]
pub(crate) struct Op {
    inner: Operation,
}

#[pymethods]
impl Op {
    /// Writes `value` (str or bytes) at `key`.
    #[staticmethod]
    fn put(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Op> {
        let inner = Operation::put(key, bytes_of(value)?);
        Ok(Op { inner })
    }

    /// Deletes `key`.
    #[staticmethod]
    fn delete(key: &str) -> Op {
        Op {
            inner: Operation::delete(key),
        }
    }

    /// Reads `key` at the transaction's revision.
    #[staticmethod]
    fn get(key: &str) -> Op {
        Op {
            inner: Operation::get(key),
        }
    }

    fn __repr__(&self) -> String {
        format!("Op({:?})", self.inner)
    }
}

/// A transaction of a finder (`finder.txn()`): `when(*compares)`, `then(*ops)`,
/// `otherwise(*ops)` add to it and return it, `commit()` runs it at one revision.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct Txn {
    txn: Mutex<turtle_finder::Txn>,
    finder: Py<crate::finder::ServiceFinder>,
}

impl Txn {
    pub(crate) fn new(finder: Py<crate::finder::ServiceFinder>) -> Txn {
        Txn {
            txn: Mutex::default(),
            finder,
        }
    }

    fn with(slf: &Bound<'_, Self>, add: impl FnOnce(&mut turtle_finder::Txn)) -> Py<Self> {
        let me = slf.get();
        add(&mut me.txn.lock().unwrap_or_else(|p| p.into_inner()));
        slf.clone().unbind()
    }
}

#[pymethods]
impl Txn {
    /// Adds compares that must all hold for the `then` operations.
    #[pyo3(signature = (*compares))]
    fn when(slf: &Bound<'_, Self>, compares: Vec<PyRef<'_, Compare>>) -> Py<Self> {
        let all: Vec<Condition> = compares.iter().map(|c| c.inner.clone()).collect();
        Txn::with(slf, |t| t.compares.extend(all))
    }

    /// Adds operations for when every compare holds.
    #[pyo3(signature = (*ops))]
    fn then(slf: &Bound<'_, Self>, ops: Vec<PyRef<'_, Op>>) -> Py<Self> {
        let all: Vec<Operation> = ops.iter().map(|o| o.inner.clone()).collect();
        Txn::with(slf, |t| t.success.extend(all))
    }

    /// Adds operations for when a compare does not hold.
    #[pyo3(signature = (*ops))]
    fn otherwise(slf: &Bound<'_, Self>, ops: Vec<PyRef<'_, Op>>) -> Py<Self> {
        let all: Vec<Operation> = ops.iter().map(|o| o.inner.clone()).collect();
        Txn::with(slf, |t| t.failure.extend(all))
    }

    /// Runs the transaction: a `TxnResult`. A compare that does not hold is no error
    /// (`succeeded` is False). One that writes is retried only when it cannot have
    /// reached a member.
    fn commit(&self, py: Python<'_>) -> PyResult<TxnResult> {
        let txn = self.txn.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let finder = self.finder.get().inner.clone();
        let done = py.detach(move || finder.txn(&txn)).py(py)?;
        let gets = done.gets.into_iter().map(|e| e.map(Entry::new)).collect();
        Ok(TxnResult {
            succeeded: done.succeeded,
            revision: done.revision,
            gets,
        })
    }

    fn __repr__(&self) -> String {
        let t = self.txn.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "Txn({} compares, {} then, {} otherwise)",
            t.compares.len(),
            t.success.len(),
            t.failure.len()
        )
    }
}

/// What a committed transaction did.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct TxnResult {
    /// Whether every compare held (the `then` operations ran).
    #[pyo3(get)]
    succeeded: bool,
    /// The revision the transaction ran at.
    #[pyo3(get)]
    revision: i64,
    gets: Vec<Option<Entry>>,
}

#[pymethods]
impl TxnResult {
    /// One `Entry` (or None for an absent key) per `Op.get` of the branch that ran.
    #[getter]
    fn gets(&self, py: Python<'_>) -> PyResult<Vec<Option<Py<Entry>>>> {
        (self.gets.iter())
            .map(|e| e.clone().map(|e| Py::new(py, e)).transpose())
            .collect()
    }

    fn __bool__(&self) -> bool {
        self.succeeded
    }

    fn __repr__(&self) -> String {
        format!(
            "TxnResult(succeeded={}, revision={}, gets={})",
            self.succeeded,
            self.revision,
            self.gets.len()
        )
    }
}

//! turtle-finder errors as the Python exception classes of `turtle_finder._errors`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use turtle_finder::{Error, ErrorKind};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception class named `name` in `turtle_finder._errors`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module =
        ERRORS.get_or_try_init(py, || py.import("turtle_finder._errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// The class for a kind: every class derives from `TurtleError`.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::Unavailable => "UnavailableError",
        ErrorKind::DeadlineExceeded => "DeadlineExceededError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        ErrorKind::Closed => "ClosedError",
        ErrorKind::InvalidValue => "InvalidValueError",
        ErrorKind::SessionLost => "SessionLostError",
        ErrorKind::ConditionFailed => "ConditionFailedError",
        _ => "InternalError",
    }
}

/// The one conversion of a turtle-finder error into a Python exception.
pub(crate) fn to_py(py: Python<'_>, e: &Error) -> PyErr {
    match class(py, class_name(e.kind())) {
        Ok(cls) => PyErr::from_type(cls, e.to_string()),
        Err(import_failed) => import_failed,
    }
}

/// `Result<T, Error>` into `PyResult<T>`.
pub(crate) trait IntoPy<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}

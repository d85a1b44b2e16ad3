//! Status codes and the per-thread last error message.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use ::turtle_finder::{Error, ErrorKind};

/// The result of every libturtle call. The numbers are stable.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum turtle_status {
    /// Success.
    TURTLE_OK = 0,
    /// An argument is unusable: NULL, not UTF-8, a malformed endpoint, a name with '/'.
    TURTLE_INVALID_ARGUMENT = 1,
    /// No member answered within the deadline.
    TURTLE_UNAVAILABLE = 2,
    /// A member answered but the call did not complete within its deadline.
    TURTLE_DEADLINE_EXCEEDED = 3,
    /// The cluster refused the credentials or the operation.
    TURTLE_PERMISSION_DENIED = 4,
    /// The finder was closed.
    TURTLE_CLOSED = 5,
    /// The stored value is not valid UTF-8 or contains a NUL byte; use turtle_get_service_bytes.
    TURTLE_INVALID_VALUE = 6,
    /// A bug inside libturtle (including a caught panic).
    TURTLE_INTERNAL = 7,
    /// The handle was already freed, or is of another kind.
    TURTLE_INVALID_HANDLE = 8,
}

/// A failed call: its status and the message for `turtle_last_error`.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) status: turtle_status,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn new(status: turtle_status, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> FfiError {
        FfiError::new(turtle_status::TURTLE_INVALID_ARGUMENT, message)
    }
}

pub(crate) fn status_of(kind: ErrorKind) -> turtle_status {
    use turtle_status::*;
    match kind {
        ErrorKind::InvalidArgument => TURTLE_INVALID_ARGUMENT,
        ErrorKind::Unavailable => TURTLE_UNAVAILABLE,
        ErrorKind::DeadlineExceeded => TURTLE_DEADLINE_EXCEEDED,
        ErrorKind::PermissionDenied => TURTLE_PERMISSION_DENIED,
        ErrorKind::Closed => TURTLE_CLOSED,
        ErrorKind::InvalidValue => TURTLE_INVALID_VALUE,
        _ => TURTLE_INTERNAL,
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError::new(status_of(e.kind()), e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A C string of `s`, with NUL bytes (which C cannot carry) shown as `\0`.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).expect("NUL bytes were replaced")
}

pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|e| *e.borrow_mut() = c_string(message));
}

/// The message of the last failed libturtle call on the calling thread, or "" after a
/// success. Valid until the next libturtle call on the same thread; never NULL; do not free.
#[no_mangle]
pub extern "C" fn turtle_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A static, human-readable name of a status number, e.g. "unavailable"; "unknown status"
/// for a number that is none. Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn turtle_status_name(status: u32) -> *const c_char {
    let s: &'static [u8] = match status {
        0 => b"ok\0",
        1 => b"invalid argument\0",
        2 => b"unavailable\0",
        3 => b"deadline exceeded\0",
        4 => b"permission denied\0",
        5 => b"closed\0",
        6 => b"invalid value\0",
        7 => b"internal\0",
        8 => b"invalid handle\0",
        _ => b"unknown status\0",
    };
    s.as_ptr().cast()
}

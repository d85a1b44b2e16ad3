//! Status codes and the per-thread last error message.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use ::turtle_finder::{Error, ErrorKind};

/// The result of every libturtle call. The numbers are stable; each error kind of
/// turtle-finder has its own, and `turtle_status_name` names them all.
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
    /// A blocking call was interrupted. No libturtle function returns it today (C calls
    /// have no interrupt check); the number is kept for the core's error kind of that name.
    TURTLE_INTERRUPTED = 9,
    /// The lease a lock or leadership stood on is gone: it is no longer held.
    TURTLE_SESSION_LOST = 10,
    /// A conditional write's condition did not hold: nothing was written.
    TURTLE_CONDITION_FAILED = 11,
}

use turtle_status::*;

/// Every status, at the index of its number.
const ALL: [turtle_status; 12] = [
    TURTLE_OK,
    TURTLE_INVALID_ARGUMENT,
    TURTLE_UNAVAILABLE,
    TURTLE_DEADLINE_EXCEEDED,
    TURTLE_PERMISSION_DENIED,
    TURTLE_CLOSED,
    TURTLE_INVALID_VALUE,
    TURTLE_INTERNAL,
    TURTLE_INVALID_HANDLE,
    TURTLE_INTERRUPTED,
    TURTLE_SESSION_LOST,
    TURTLE_CONDITION_FAILED,
];

/// The one table between the core's error kinds and their status numbers.
const KIND_STATUS: [(ErrorKind, turtle_status); 10] = [
    (ErrorKind::InvalidArgument, TURTLE_INVALID_ARGUMENT),
    (ErrorKind::Unavailable, TURTLE_UNAVAILABLE),
    (ErrorKind::DeadlineExceeded, TURTLE_DEADLINE_EXCEEDED),
    (ErrorKind::PermissionDenied, TURTLE_PERMISSION_DENIED),
    (ErrorKind::Closed, TURTLE_CLOSED),
    (ErrorKind::InvalidValue, TURTLE_INVALID_VALUE),
    (ErrorKind::Internal, TURTLE_INTERNAL),
    (ErrorKind::Interrupted, TURTLE_INTERRUPTED),
    (ErrorKind::SessionLost, TURTLE_SESSION_LOST),
    (ErrorKind::ConditionFailed, TURTLE_CONDITION_FAILED),
];

impl turtle_status {
    /// The status of an error kind (a kind this build does not know is internal).
    pub(crate) fn of(kind: ErrorKind) -> turtle_status {
        KIND_STATUS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(TURTLE_INTERNAL, |(_, s)| *s)
    }

    /// The error kind this status stands for; `None` for OK and invalid handle.
    fn kind(self) -> Option<ErrorKind> {
        KIND_STATUS
            .iter()
            .find(|(_, s)| *s == self)
            .map(|(k, _)| *k)
    }

    /// The name `turtle_status_name` gives: the kind's name for error kinds.
    fn name(self) -> &'static str {
        match (self, self.kind()) {
            (_, Some(kind)) => kind.as_str(),
            (TURTLE_OK, None) => "ok",
            (_, None) => "invalid handle",
        }
    }
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
        FfiError::new(TURTLE_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError::new(turtle_status::of(e.kind()), e.to_string())
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

/// The message of the calling thread's last libturtle call that returns a status: why it
/// failed, or "" when it succeeded. Valid until the thread's next libturtle call; never
/// NULL; do not free.
#[no_mangle]
pub extern "C" fn turtle_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A static, human-readable name of a status number, e.g. "unavailable"; "unknown status"
/// for a number that is none. Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn turtle_status_name(status: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| ALL.iter().map(|s| c_string(s.name())).collect());
    match names.get(status as usize) {
        Some(name) => name.as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_status_and_name() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "ALL is in number order");
        }
        let mut seen = Vec::new();
        for kind in ErrorKind::ALL {
            let status = turtle_status::of(kind);
            assert_eq!(status.kind(), Some(kind), "{kind:?}");
            assert_eq!(status.name(), kind.as_str());
            assert!(!seen.contains(&status), "{kind:?} shares {status:?}");
            seen.push(status);
        }
        // SAFETY: static NUL-terminated strings.
        let name = |n| unsafe { std::ffi::CStr::from_ptr(turtle_status_name(n)) };
        assert_eq!(name(0).to_str(), Ok("ok"));
        assert_eq!(name(3).to_str(), Ok("deadline exceeded"));
        assert_eq!(name(8).to_str(), Ok("invalid handle"));
        assert_eq!(name(10).to_str(), Ok("session lost"));
        assert_eq!(name(11).to_str(), Ok("condition failed"));
        assert_eq!(name(12).to_str(), Ok("unknown status"));
    }
}

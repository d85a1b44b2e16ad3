//! The panic boundary and argument checks every exported function goes through.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::{set_last_error, turtle_status, FfiError};

/// Runs an exported function's body: no panic crosses into C, every failure sets the
/// thread's last error, every success clears it.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), FfiError>) -> turtle_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error("");
            turtle_status::TURTLE_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!(
                "internal error (a panic inside libturtle was caught): {what}"
            ));
            turtle_status::TURTLE_INTERNAL
        }
    }
}

/// A borrowed UTF-8 string argument; NULL and non-UTF-8 are errors naming the argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("argument `{name}` is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract above.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|e| FfiError::invalid(format!("argument `{name}` is not valid UTF-8 ({e})")))
}

/// An out-parameter; NULL is an error naming it.
///
/// # Safety
/// `p` is NULL or points to writable memory for a `T`.
pub(crate) unsafe fn arg_out<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, FfiError> {
    // SAFETY: checked for NULL; writable per the contract above.
    unsafe { p.as_mut() }.ok_or_else(|| FfiError::invalid(format!("argument `{name}` is NULL")))
}

/// Writes `value` to an optional out-parameter: NULL means the caller does not want it.
///
/// # Safety
/// `p` is NULL or points to writable memory for a `T`.
pub(crate) unsafe fn optional_out<T>(p: *mut T, value: T) {
    // SAFETY: NULL or writable per the contract above.
    if let Some(out) = unsafe { p.as_mut() } {
        *out = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exported function runs its body through `guard`: a panic comes out as
    /// TURTLE_INTERNAL with a message, and the next success clears the message.
    #[test]
    fn no_panic_crosses_the_boundary() {
        let status = guard(|| panic!("on purpose"));
        assert_eq!(status, turtle_status::TURTLE_INTERNAL);
        // SAFETY: the thread's last error, a NUL-terminated string.
        let message = unsafe { CStr::from_ptr(crate::status::turtle_last_error()) };
        let text = message.to_str().unwrap();
        assert!(
            text.contains("panic") && text.contains("on purpose"),
            "{text}"
        );
        assert_eq!(guard(|| Ok(())), turtle_status::TURTLE_OK);
        // SAFETY: as above.
        let message = unsafe { CStr::from_ptr(crate::status::turtle_last_error()) };
        assert!(message.to_bytes().is_empty());
    }
}

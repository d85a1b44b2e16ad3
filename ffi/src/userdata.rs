//! The caller's `user_data` and the callbacks every kind of handle shares.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use ::turtle_finder::Error;

use crate::status::{c_string, turtle_status};

/// Called on the dispatcher thread when a watch or registration runs into trouble it keeps
/// retrying (e.g. TURTLE_UNAVAILABLE while no member answers). `message` is valid during
/// the call.
pub type turtle_error_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, status: turtle_status, message: *const c_char),
>;

/// Called exactly once with `user_data` when the library no longer needs it: after the
/// watch or registration is cancelled, freed or its finder closed, or at once when the
/// call that was given it fails. Runs on the thread that ends the watch, or on the dispatcher thread, with no
/// lock of libturtle held: it may call any function, including `turtle_finder_free`.
pub type turtle_release_cb = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The caller's `user_data`, released exactly once when the last callback is dropped.
pub(crate) struct UserData {
    pub(crate) ptr: *mut c_void,
    pub(crate) release: turtle_release_cb,
}

// SAFETY: the caller promises, by passing user_data to a callback run on another thread,
// that it may be used from there; the library only hands it back.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences it.
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: the caller's release function, called once with its own pointer.
            unsafe { release(self.ptr) };
        }
    }
}

/// Makes the core's error callback of the caller's `on_error` (which may be NULL).
pub(crate) fn error_callback(
    on_error: turtle_error_cb,
    data: Arc<UserData>,
) -> impl Fn(&Error) + Send + Sync + 'static {
    move |e: &Error| {
        if let Some(cb) = on_error {
            let msg = c_string(&e.to_string());
            // SAFETY: the caller's callback with its own user_data; `msg` outlives the call.
            unsafe { cb(data.ptr, turtle_status::of(e.kind()), msg.as_ptr()) };
        }
    }
}

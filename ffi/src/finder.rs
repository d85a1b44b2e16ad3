//! `turtle_finder`: lookups.

use std::ffi::{c_char, CString};
use std::time::Duration;

use ::turtle_finder::{Config, ReadOptions, ServiceFinder};

use crate::boundary::{arg_out, arg_str, guard};
use crate::config::CONFIGS;
use crate::handles::Table;
use crate::status::{turtle_status, FfiError};

/// A service finder: a connection pool to the cluster, a runtime thread and a dispatcher
/// thread. Owned by the caller; free with `turtle_finder_free`. Every function taking it
/// may be called from any thread at once, including from inside a watch callback. A
/// blocking call runs the finder's I/O on the calling thread while it waits, so a thread
/// that calls needs a stack of 256 KiB or more (512 KiB in a debug build).
pub struct turtle_finder {
    _private: [u8; 0],
}

pub(crate) static FINDERS: Table<ServiceFinder> = Table::new(2, "turtle_finder");

/// Makes a finder from `cfg` into `*out`.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn make(cfg: Config, out: *mut *mut turtle_finder) -> Result<(), FfiError> {
    // SAFETY: caller contract.
    let out = unsafe { arg_out(out, "out") }?;
    let finder = ServiceFinder::new(cfg)?;
    *out = FINDERS.insert(finder);
    Ok(())
}

/// Makes a finder for `endpoints` ("host:port", "http://host:port" or
/// "https://host:port", comma-separated), with the TLS and auth settings of the
/// environment (see `turtle_config_new`). Connections open lazily: this succeeds with
/// every member down. `*out` is written only
/// on success.
///
/// # Safety
/// `endpoints` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_new(
    endpoints: *const c_char,
    out: *mut *mut turtle_finder,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let e = unsafe { arg_str(endpoints, "endpoints") }?;
        // SAFETY: caller contract.
        unsafe { make(Config::new([e])?.with_env_settings()?, out) }
    })
}

/// Makes a finder for the members in `TURTLE_ENDPOINTS` (default 127.0.0.1:2379).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_new_from_env(out: *mut *mut turtle_finder) -> turtle_status {
    // SAFETY: caller contract.
    guard(|| unsafe { make(Config::from_env()?, out) })
}

/// Makes a finder from a config; the config stays the caller's (free it when done).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_new_with_config(
    config: *const crate::config::turtle_config,
    out: *mut *mut turtle_finder,
) -> turtle_status {
    guard(|| {
        let cfg = CONFIGS.get(config, "config")?.lock().clone();
        // SAFETY: caller contract.
        unsafe { make(cfg, out) }
    })
}

/// Cancels every watch and stops the finder's threads; no callback runs after it returns,
/// also when other threads close the finder at the same time (they all wait). From inside
/// one of its callbacks: none after the current one. From inside a callback of another
/// finder whose running callback itself waits for this one (closing or cancelling across
/// finders): that running callback ends after. Waits as long as a callback runs (see
/// `turtle_finder_close_timeout`). Later calls give TURTLE_CLOSED. The handle stays valid
/// until `turtle_finder_free`. Idempotent.
#[no_mangle]
pub extern "C" fn turtle_finder_close(finder: *mut turtle_finder) -> turtle_status {
    guard(|| {
        FINDERS.get(finder, "finder")?.close();
        Ok(())
    })
}

/// `turtle_finder_close` that waits at most `timeout_ms` for a running callback. When the
/// callback does not return in time, the finder's dispatcher thread is abandoned (it ends
/// when the callback returns, or with the process), a warning goes to stderr, and the
/// result is TURTLE_DEADLINE_EXCEEDED; the finder is closed either way.
#[no_mangle]
pub extern "C" fn turtle_finder_close_timeout(
    finder: *mut turtle_finder,
    timeout_ms: u64,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        if f.close_timeout(Duration::from_millis(timeout_ms)) {
            return Ok(());
        }
        Err(FfiError::new(
            turtle_status::TURTLE_DEADLINE_EXCEEDED,
            format!(
                "a watch callback did not return within {timeout_ms} ms; its thread was abandoned"
            ),
        ))
    })
}

/// Closes (as `turtle_finder_close`) and frees a finder. NULL is a no-op; a freed handle
/// gives TURTLE_INVALID_HANDLE. Calls other threads are making with the handle at that
/// moment end as after a close (TURTLE_CLOSED, or their result if they finished first);
/// later calls give TURTLE_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn turtle_finder_free(finder: *mut turtle_finder) -> turtle_status {
    guard(|| FINDERS.free(finder, "finder", |f| f.close()))
}

/// A call's deadline in milliseconds: 0 means the finder's default.
pub(crate) fn deadline_of(deadline_ms: u64) -> Option<Duration> {
    (deadline_ms > 0).then(|| Duration::from_millis(deadline_ms))
}

fn lookup(
    finder: *mut turtle_finder,
    name: &str,
    deadline_ms: u64,
) -> Result<Option<Vec<u8>>, FfiError> {
    let f = FINDERS.get(finder, "finder")?;
    let opts = ReadOptions {
        deadline: deadline_of(deadline_ms),
        ..ReadOptions::default()
    };
    Ok(f.get_service_bytes(name, opts)?)
}

/// Looks up service `name`. On success `*out_value` is a new NUL-terminated string the
/// caller frees with `turtle_string_free`, or NULL when the service is absent (absent is
/// not an error). A value that is not UTF-8 or holds a NUL byte gives TURTLE_INVALID_VALUE
/// (read it with `turtle_get_service_bytes`). `deadline_ms` 0 means the finder's default.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out_value` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_get_service(
    finder: *mut turtle_finder,
    name: *const c_char,
    deadline_ms: u64,
    out_value: *mut *mut c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out_value, "out_value") }?;
        // SAFETY: caller contract.
        let name = unsafe { arg_str(name, "name") }?;
        let value = match lookup(finder, name, deadline_ms)? {
            None => std::ptr::null_mut(),
            Some(bytes) => {
                let shown = ::turtle_finder::value_text(name, bytes)?;
                CString::new(shown)
                    .map_err(|_| {
                        FfiError::new(
                            turtle_status::TURTLE_INVALID_VALUE,
                            "the value holds a NUL byte; use turtle_get_service_bytes",
                        )
                    })?
                    .into_raw()
            }
        };
        *out = value;
        Ok(())
    })
}

/// Looks up service `name` as raw bytes. On success `*out_found` says whether it exists;
/// if so `*out_data`/`*out_len` are a new buffer the caller frees with `turtle_bytes_free`
/// (for an absent service, and for an empty value: NULL and 0).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_get_service_bytes(
    finder: *mut turtle_finder,
    name: *const c_char,
    deadline_ms: u64,
    out_data: *mut *mut u8,
    out_len: *mut usize,
    out_found: *mut bool,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let (data, len, found) = unsafe {
            (
                arg_out(out_data, "out_data")?,
                arg_out(out_len, "out_len")?,
                arg_out(out_found, "out_found")?,
            )
        };
        // SAFETY: caller contract.
        let name = unsafe { arg_str(name, "name") }?;
        let value = lookup(finder, name, deadline_ms)?;
        *found = value.is_some();
        match value {
            None => {
                *data = std::ptr::null_mut();
                *len = 0;
            }
            // An empty value is found but has no buffer: NULL, so free() is safe on it too.
            Some(v) if v.is_empty() => {
                *data = std::ptr::null_mut();
                *len = 0;
            }
            Some(v) => {
                *len = v.len();
                *data = Box::into_raw(v.into_boxed_slice()).cast();
            }
        }
        Ok(())
    })
}

/// Frees a string returned by libturtle. NULL is a no-op.
///
/// # Safety
/// `s` is NULL or a string from libturtle not yet freed.
#[no_mangle]
pub unsafe extern "C" fn turtle_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by CString::into_raw in this library.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Frees a buffer returned by `turtle_get_service_bytes`, with its length. NULL is a no-op.
///
/// # Safety
/// `data`/`len` are NULL/any or a buffer from libturtle not yet freed, with its length.
#[no_mangle]
pub unsafe extern "C" fn turtle_bytes_free(data: *mut u8, len: usize) {
    if !data.is_null() {
        // SAFETY: made by Box::into_raw of a boxed slice of `len` bytes in this library.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }
}

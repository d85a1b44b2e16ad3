//! `turtle_watch`: callbacks on every change of a service.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use ::turtle_finder::{Change, ChangeKind, Error, ServiceFinder, Watch, WatchOptions};

use crate::boundary::{arg_out, arg_str, guard, optional_out};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::status::{c_string, turtle_status, FfiError};
use crate::userdata::{error_callback, turtle_error_cb, turtle_release_cb, UserData};

/// A running watch. Owned by the caller; free with `turtle_watch_free` (which cancels it).
/// May be used from any thread, including from inside its own callback.
pub struct turtle_watch {
    _private: [u8; 0],
}

pub(crate) static WATCHES: Table<Watch> = Table::new(3, "turtle_watch");

/// Deliver the current value first (kind TURTLE_CHANGE_INITIAL), then every change.
pub const TURTLE_WATCH_INITIAL: u32 = 1;

/// Why a change was delivered.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum turtle_change_kind {
    /// The value when the watch started (with TURTLE_WATCH_INITIAL).
    TURTLE_CHANGE_INITIAL = 0,
    /// The key was written.
    TURTLE_CHANGE_PUT = 1,
    /// The key was deleted; `value` is NULL.
    TURTLE_CHANGE_DELETE = 2,
    /// The history was compacted: this is the current value, read anew.
    TURTLE_CHANGE_RESET = 3,
}

/// One change, as a callback sees it. Every pointer in it is valid only during the call.
#[repr(C)]
pub struct turtle_change {
    /// The service name (NUL-terminated).
    pub service: *const c_char,
    /// The new value, NUL-terminated, or NULL when the key is absent. It may hold NUL bytes
    /// or non-UTF-8 bytes: `value_len` is its true length.
    pub value: *const c_char,
    /// Length of `value` in bytes, without the terminating NUL (0 when NULL).
    pub value_len: usize,
    /// The etcd revision of the change.
    pub revision: i64,
    /// Why it was delivered.
    pub kind: turtle_change_kind,
    /// Older changes dropped just before this one because the callback was slower than
    /// the updates (0 unless the watch's queue, `max_queued_changes`, overflowed).
    pub skipped: u64,
}

/// Called on the finder's dispatcher thread after each change; never two callbacks of one
/// finder at once. `change` and what it points to are valid only during the call.
pub type turtle_watch_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, change: *const turtle_change)>;

pub(crate) fn kind_of(k: ChangeKind) -> turtle_change_kind {
    match k {
        ChangeKind::Initial => turtle_change_kind::TURTLE_CHANGE_INITIAL,
        ChangeKind::Put => turtle_change_kind::TURTLE_CHANGE_PUT,
        ChangeKind::Delete => turtle_change_kind::TURTLE_CHANGE_DELETE,
        ChangeKind::Reset => turtle_change_kind::TURTLE_CHANGE_RESET,
    }
}

fn deliver(
    cb: unsafe extern "C" fn(*mut c_void, *const turtle_change),
    data: &UserData,
    c: &Change,
) {
    let service = c_string(&c.service);
    let value: Option<Vec<u8>> = c.value.as_ref().map(|v| {
        let mut buf = Vec::with_capacity(v.len() + 1);
        buf.extend_from_slice(v);
        buf.push(0);
        buf
    });
    let change = turtle_change {
        service: service.as_ptr(),
        value: value
            .as_ref()
            .map_or(std::ptr::null(), |v| v.as_ptr().cast()),
        value_len: c.value.as_ref().map_or(0, Vec::len),
        revision: c.revision,
        kind: kind_of(c.kind),
        skipped: c.skipped,
    };
    // SAFETY: the caller's callback with its own user_data; `change` outlives the call.
    unsafe { cb(data.ptr, &change) };
}

/// The options `flags` ask for; unknown bits are an error.
pub(crate) fn options(flags: u32) -> Result<WatchOptions, FfiError> {
    let unknown = flags & !TURTLE_WATCH_INITIAL;
    if unknown != 0 {
        return Err(FfiError::invalid(format!("unknown flags {unknown:#x}")));
    }
    Ok(WatchOptions {
        initial: flags & TURTLE_WATCH_INITIAL != 0,
        ..WatchOptions::default()
    })
}

/// Watches service `name`: `on_change` runs on the finder's dispatcher thread after every
/// change, one callback at a time. `flags` is 0 or TURTLE_WATCH_INITIAL. `on_error` and
/// `release` may be NULL. `*out` is written only on success; `release` is called exactly
/// once in every case (see `turtle_release_cb`).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out` is NULL or writable; the callbacks
/// may be called with `user_data` from the dispatcher thread until `release` is called.
#[no_mangle]
pub unsafe extern "C" fn turtle_watch_service(
    finder: *mut turtle_finder,
    name: *const c_char,
    flags: u32,
    on_change: turtle_watch_cb,
    on_error: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_watch,
) -> turtle_status {
    // Owned from here on, so every early return releases it.
    let data = Arc::new(UserData {
        ptr: user_data,
        release,
    });
    // Both callbacks share `user_data`: it is released once both are dropped.
    let start = |f: &ServiceFinder, name: &str, opts: WatchOptions, on_change| {
        let opts = opts.on_error(error_callback(on_error, data.clone()));
        f.watch_service_with(name, opts, move |c: &Change| deliver(on_change, &data, c))
    };
    // SAFETY: caller contract.
    guard(move || unsafe { make_watch(finder, name, flags, on_change, out, start) })
}

/// What the watch-making calls share: the finder, the name, the options of `flags` and
/// a callback that is there; then the watch `start` makes, stored in `*out`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out` is NULL or writable.
pub(crate) unsafe fn make_watch<C>(
    finder: *mut turtle_finder,
    name: *const c_char,
    flags: u32,
    on_change: Option<C>,
    out: *mut *mut turtle_watch,
    start: impl FnOnce(&ServiceFinder, &str, WatchOptions, C) -> Result<Watch, Error>,
) -> Result<(), FfiError> {
    let f = FINDERS.get(finder, "finder")?;
    // SAFETY: caller contract.
    let name = unsafe { arg_str(name, "name") }?;
    // SAFETY: caller contract.
    let out = unsafe { arg_out(out, "out") }?;
    let on_change = on_change.ok_or_else(|| FfiError::invalid("argument `on_change` is NULL"))?;
    *out = WATCHES.insert(start(&f, name, options(flags)?, on_change)?);
    Ok(())
}

/// Cancels a watch: once this returns its callbacks never run again (it waits for a
/// running one). Called from inside a callback of the same finder, it does not block and
/// nothing runs after the current call; from a callback of another finder whose running
/// callback itself waits for this one, it returns at once rather than deadlock. The handle
/// stays valid until `turtle_watch_free`. Idempotent.
#[no_mangle]
pub extern "C" fn turtle_watch_cancel(watch: *mut turtle_watch) -> turtle_status {
    guard(|| {
        WATCHES.get(watch, "watch")?.cancel();
        Ok(())
    })
}

/// The last error the watch reported (it keeps retrying after one; a change delivered
/// since clears it): `*out_status` its status (TURTLE_OK when none) and, when `out_message`
/// is not NULL, `*out_message` a new string the caller frees with `turtle_string_free`, or
/// NULL when none. Thread-safe.
///
/// # Safety
/// `out_status` is NULL or writable; `out_message` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_watch_last_error(
    watch: *mut turtle_watch,
    out_status: *mut turtle_status,
    out_message: *mut *mut c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let status = unsafe { arg_out(out_status, "out_status") }?;
        let last = WATCHES.get(watch, "watch")?.last_error();
        *status = last
            .as_ref()
            .map_or(turtle_status::TURTLE_OK, |e| turtle_status::of(e.kind()));
        // SAFETY: caller contract: NULL or writable.
        unsafe {
            optional_out(
                out_message,
                last.map_or(std::ptr::null_mut(), |e| {
                    c_string(&e.to_string()).into_raw()
                }),
            )
        };
        Ok(())
    })
}

/// Cancels (as `turtle_watch_cancel`) and frees a watch. NULL is a no-op; a freed handle
/// gives TURTLE_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn turtle_watch_free(watch: *mut turtle_watch) -> turtle_status {
    guard(|| WATCHES.free(watch, "watch", |w| w.cancel()))
}

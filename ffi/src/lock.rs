//! `turtle_lock_guard`: a held lock or won election, and the writes fenced on it.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use ::turtle_finder::{Entry, Fence, Leadership, LockGuard, LockOptions, WriteOptions};

use crate::boundary::{arg_out, arg_str, guard, optional_out};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::status::{c_string, turtle_status, FfiError};
use crate::userdata::{turtle_error_cb, turtle_release_cb, UserData};

/// A held lock (from `turtle_lock`/`turtle_try_lock`) or a won election (from
/// `turtle_campaign`): held until `turtle_lock_guard_free` lets go, or lost. Owned by the
/// caller; may be used from any thread.
pub struct turtle_lock_guard {
    _private: [u8; 0],
}

/// A lock or a leadership.
pub(crate) enum Held {
    Lock(LockGuard),
    Lead(Leadership),
}

impl Held {
    pub(crate) fn fence(&self) -> Fence {
        match self {
            Held::Lock(g) => g.fence(),
            Held::Lead(l) => l.fence(),
        }
    }
    fn is_valid(&self) -> bool {
        match self {
            Held::Lock(g) => g.is_valid(),
            Held::Lead(l) => l.is_valid(),
        }
    }
    fn let_go(&self) {
        match self {
            Held::Lock(g) => g.unlock(),
            Held::Lead(l) => l.resign(),
        }
    }
}

pub(crate) static LOCKS: Table<Held> = Table::new(6, "turtle_lock_guard");

/// The options of a lock or campaign from C arguments. `ttl_s` 0 means 10; `timeout_ms` 0
/// waits until it is had. `on_lost` (may be NULL) runs once on the dispatcher thread if
/// the lock is lost while held, with TURTLE_SESSION_LOST and why; `release` is called
/// exactly once.
pub(crate) fn lock_options(
    ttl_s: u64,
    timeout_ms: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
) -> LockOptions {
    let data = Arc::new(UserData {
        ptr: user_data,
        release,
    });
    LockOptions {
        ttl: Duration::from_secs(if ttl_s == 0 { 10 } else { ttl_s }),
        timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
        on_lost: Some(Arc::new(crate::userdata::error_callback(on_lost, data))),
        interrupt: None,
        session: None,
    }
}

/// Takes the lock `name` with `opts`, or campaigns in election `name` with the `len`
/// bytes at `value`: the guard in `*out`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `value`'s pointer is NULL with length 0, or that
/// many readable bytes; `out` is NULL or writable.
pub(crate) unsafe fn take(
    finder: *mut turtle_finder,
    name: *const c_char,
    value: Option<(*const u8, usize)>,
    opts: Result<LockOptions, FfiError>,
    out: *mut *mut turtle_lock_guard,
) -> turtle_status {
    guard(move || {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (name, out) = unsafe { (arg_str(name, "name")?, arg_out(out, "out")?) };
        let held = match value {
            None => Held::Lock(f.lock(name, opts?)?),
            // SAFETY: caller contract.
            Some((p, len)) => Held::Lead(f.campaign(name, unsafe { arg_bytes(p, len) }?, opts?)?),
        };
        *out = LOCKS.insert(held);
        Ok(())
    })
}

/// Takes the lock `name` (the same lock as `etcdctl lock NAME` and Go's
/// `concurrency.Mutex`), waiting at most `timeout_ms` (0: until it is had) on a lease of
/// `ttl_s` whole seconds (0 means 10): TURTLE_DEADLINE_EXCEEDED when the wait ran out,
/// TURTLE_SESSION_LOST when its lease died meanwhile; every failure leaves no waiter key.
/// `*out` is written only on success. `on_lost` (may be NULL) is called once on the
/// dispatcher thread if the lock is lost while held (never for `turtle_lock_guard_free`), with
/// TURTLE_SESSION_LOST and why; `release` is called exactly once (see
/// `turtle_release_cb`).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable; `on_lost` may be called
/// with `user_data` from the dispatcher thread until `release` is called.
#[no_mangle]
pub unsafe extern "C" fn turtle_lock(
    finder: *mut turtle_finder,
    name: *const c_char,
    ttl_s: u64,
    timeout_ms: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_lock_guard,
) -> turtle_status {
    let opts = lock_options(ttl_s, timeout_ms, on_lost, user_data, release);
    // SAFETY: caller contract.
    unsafe { take(finder, name, None, Ok(opts), out) }
}

/// `turtle_lock` that does not wait: `*out` is NULL (and TURTLE_OK) when another holds
/// the lock.
///
/// # Safety
/// As `turtle_lock`.
#[no_mangle]
pub unsafe extern "C" fn turtle_try_lock(
    finder: *mut turtle_finder,
    name: *const c_char,
    ttl_s: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_lock_guard,
) -> turtle_status {
    let opts = lock_options(ttl_s, 0, on_lost, user_data, release);
    guard(move || {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (name, out) = unsafe { (arg_str(name, "name")?, arg_out(out, "out")?) };
        *out = match f.try_lock(name, opts)? {
            Some(g) => LOCKS.insert(Held::Lock(g)),
            None => std::ptr::null_mut(),
        };
        Ok(())
    })
}

/// Campaigns in election `name` (the same election as `etcdctl elect NAME`) with the
/// `len` bytes at `value`, as `turtle_lock` takes a lock: `*out` is the leadership once
/// this candidate leads.
///
/// # Safety
/// As `turtle_lock`; `value` is NULL with `len` 0, or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn turtle_campaign(
    finder: *mut turtle_finder,
    name: *const c_char,
    value: *const u8,
    len: usize,
    ttl_s: u64,
    timeout_ms: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_lock_guard,
) -> turtle_status {
    let opts = lock_options(ttl_s, timeout_ms, on_lost, user_data, release);
    // SAFETY: caller contract.
    unsafe { take(finder, name, Some((value, len)), Ok(opts), out) }
}

/// The lock's fencing token (the create revision of its key), its key as a new string
/// the caller frees with `turtle_string_free`, and whether it is surely still held (no
/// I/O; false for good once in doubt). Each out-parameter may be NULL when not wanted.
///
/// # Safety
/// The out-parameters are each NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_lock_guard_info(
    lock: *mut turtle_lock_guard,
    token: *mut i64,
    key: *mut *mut c_char,
    valid: *mut bool,
) -> turtle_status {
    guard(|| {
        let held = LOCKS.get(lock, "lock")?;
        let fence = held.fence();
        // SAFETY: caller contract: each NULL or writable.
        unsafe {
            optional_out(token, fence.token);
            optional_out(valid, held.is_valid());
            if !key.is_null() {
                optional_out(key, c_string(&fence.key).into_raw()); // no string unless asked
            }
        }
        Ok(())
    })
}

/// Lets go (a lock is unlocked, a leadership resigned: the key deleted only if it is still
/// this one's, the lease revoked) and frees the handle; waits for etcd's answer, the
/// finder's deadline and a second at most. NULL is a no-op.
#[no_mangle]
pub extern "C" fn turtle_lock_guard_free(lock: *mut turtle_lock_guard) -> turtle_status {
    guard(|| LOCKS.free(lock, "lock", |held| held.let_go()))
}

/// Writes a leadership's new value (`len` bytes at `value`) only while it leads
/// (TURTLE_CONDITION_FAILED once not); `*revision` (may be NULL) is the write's revision.
///
/// # Safety
/// `value` is NULL with `len` 0, or `len` readable bytes; `revision` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_proclaim(
    finder: *mut turtle_finder,
    leadership: *mut turtle_lock_guard,
    value: *const u8,
    len: usize,
    revision: *mut i64,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        let held = LOCKS.get(leadership, "leadership")?;
        let Held::Lead(l) = &*held else {
            return Err(FfiError::invalid(
                "a lock is no leadership: campaign for one",
            ));
        };
        // SAFETY: caller contract.
        let value = unsafe { arg_bytes(value, len) }?;
        let rev = f.proclaim(l, value)?;
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(revision, rev) };
        Ok(())
    })
}

/// The conditions of a write: `if_owner` NULL for none, `if_revision` -1 for none (0:
/// only while the key is absent).
fn conditions(
    if_owner: *mut turtle_lock_guard,
    if_revision: i64,
) -> Result<WriteOptions, FfiError> {
    let if_owner = match if_owner.is_null() {
        true => None,
        false => Some(LOCKS.get(if_owner, "if_owner")?.fence()),
    };
    if if_revision < -1 {
        return Err(FfiError::invalid(format!(
            "argument `if_revision` is {if_revision}: a revision, 0 for absent, or -1 for none"
        )));
    }
    Ok(WriteOptions {
        if_owner,
        if_revision: (if_revision >= 0).then_some(if_revision),
    })
}

/// Writes the `len` bytes at `value` at the etcd key `key` (a whole key), only while the
/// lock `if_owner` is held (NULL: no such condition) and the key's mod revision is
/// `if_revision` (-1: no such condition; 0: only while absent). A failed condition is
/// TURTLE_CONDITION_FAILED and writes nothing. `*revision` (may be NULL) is the write's.
///
/// # Safety
/// `key` is NULL or NUL-terminated; `value` is NULL with `len` 0, or `len` readable
/// bytes; `revision` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_put(
    finder: *mut turtle_finder,
    key: *const c_char,
    value: *const u8,
    len: usize,
    if_owner: *mut turtle_lock_guard,
    if_revision: i64,
    revision: *mut i64,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (key, value) = unsafe { (arg_str(key, "key")?, arg_bytes(value, len)?) };
        let rev = f.put(key, value, conditions(if_owner, if_revision)?)?;
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(revision, rev) };
        Ok(())
    })
}

/// Deletes the etcd key `key`, under the conditions of `turtle_put`.
///
/// # Safety
/// As `turtle_put`.
#[no_mangle]
pub unsafe extern "C" fn turtle_delete(
    finder: *mut turtle_finder,
    key: *const c_char,
    if_owner: *mut turtle_lock_guard,
    if_revision: i64,
    revision: *mut i64,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let key = unsafe { arg_str(key, "key") }?;
        let rev = f.delete(key, conditions(if_owner, if_revision)?)?;
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(revision, rev) };
        Ok(())
    })
}

/// A key as read (`turtle_get`), or an election's leader (`turtle_leader`: `key` is the
/// leader's, `value` its value, `create_revision` its token).
#[repr(C)]
pub struct turtle_entry {
    /// The whole key, NUL-terminated.
    pub key: *const c_char,
    /// The value's bytes (not NUL-terminated; NULL when empty).
    pub value: *const u8,
    /// How many bytes `value` has.
    pub value_len: usize,
    /// The revision that created the key (a lock's or leader's token).
    pub create_revision: i64,
    /// The revision of the key's last write (what `if_revision` compares); 0 for a leader.
    pub mod_revision: i64,
    /// How many times the key was written since it was created; 0 for a leader.
    pub version: i64,
    /// The lease the key is bound to, 0 for none.
    pub lease: i64,
}

/// The entry and the memory its pointers point into (`repr(C)`: the entry comes first).
#[repr(C)]
struct OwnedEntry {
    entry: turtle_entry,
    _key: std::ffi::CString,
    _value: Box<[u8]>,
}

pub(crate) fn entry_out(e: Entry) -> *mut turtle_entry {
    let key = c_string(&e.key);
    let value = e.value.into_boxed_slice();
    let owned = Box::new(OwnedEntry {
        entry: turtle_entry {
            key: key.as_ptr(),
            value: if value.is_empty() {
                std::ptr::null()
            } else {
                value.as_ptr()
            },
            value_len: value.len(),
            create_revision: e.create_revision,
            mod_revision: e.mod_revision,
            version: e.version,
            lease: e.lease,
        },
        _key: key,
        _value: value,
    });
    // `entry` is the first field: the pointer to it is the pointer to the whole.
    Box::into_raw(owned).cast()
}

/// Reads the etcd key `key` (linearizable): `*out` is a new entry the caller frees with
/// `turtle_entry_free`, or NULL when the key is absent.
///
/// # Safety
/// `key` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_get(
    finder: *mut turtle_finder,
    key: *const c_char,
    out: *mut *mut turtle_entry,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (key, out) = unsafe { (arg_str(key, "key")?, arg_out(out, "out")?) };
        *out = f.get(key)?.map_or(std::ptr::null_mut(), entry_out);
        Ok(())
    })
}

/// The leader of election `name` now (linearizable): `*out` a new entry the caller frees
/// with `turtle_entry_free`, or NULL when there is none.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_leader(
    finder: *mut turtle_finder,
    name: *const c_char,
    out: *mut *mut turtle_entry,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (name, out) = unsafe { (arg_str(name, "name")?, arg_out(out, "out")?) };
        *out = match f.leader(name)? {
            None => std::ptr::null_mut(),
            Some(l) => entry_out(Entry {
                key: l.key,
                value: l.value,
                create_revision: l.revision,
                mod_revision: 0,
                version: 0,
                lease: 0,
            }),
        };
        Ok(())
    })
}

/// Frees an entry from `turtle_get` or `turtle_leader`. NULL is a no-op.
///
/// # Safety
/// `entry` is NULL or an entry from libturtle not yet freed.
#[no_mangle]
pub unsafe extern "C" fn turtle_entry_free(entry: *mut turtle_entry) {
    if !entry.is_null() {
        // SAFETY: made by entry_out: the first field of a boxed OwnedEntry.
        drop(unsafe { Box::from_raw(entry.cast::<OwnedEntry>()) });
    }
}

/// `len` bytes at `p` (NULL with 0 is empty).
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes.
pub(crate) unsafe fn arg_bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], FfiError> {
    match (p.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(FfiError::invalid(format!(
            "argument `value` is NULL with a length of {len}"
        ))),
        // SAFETY: caller contract.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(p, len) }),
    }
}

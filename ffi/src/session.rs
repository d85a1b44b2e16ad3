//! `turtle_lock_session`: a lease locks and elections share, and the locks and campaigns
//! taken on one.

use std::ffi::{c_char, c_void};

use ::turtle_finder::LockSession;

use crate::boundary::{arg_out, guard, optional_out};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::lock::{take, turtle_lock_guard};
use crate::status::{turtle_status, FfiError};
use crate::userdata::{turtle_error_cb, turtle_release_cb};

/// A lease kept alive for locks and elections to share (`turtle_lock_session_new`): a lock
/// on it (`turtle_lock_on`, `turtle_campaign_on`) costs no grant and no revoke. Freeing it
/// revokes the lease: its locks are lost.
pub struct turtle_lock_session {
    _private: [u8; 0],
}

static SESSIONS: Table<LockSession> = Table::new(9, "turtle_lock_session");

/// A lease of `ttl_s` whole seconds (0 means 10) kept alive for locks and elections to
/// share, in `*out`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_lock_session_new(
    finder: *mut turtle_finder,
    ttl_s: u64,
    out: *mut *mut turtle_lock_session,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        let ttl = std::time::Duration::from_secs(if ttl_s == 0 { 10 } else { ttl_s });
        *out = SESSIONS.insert(f.lock_session(ttl)?);
        Ok(())
    })
}

/// The session's lease id and whether it is surely alive now (no I/O). Each
/// out-parameter may be NULL.
///
/// # Safety
/// The out-parameters are each NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_lock_session_info(
    session: *mut turtle_lock_session,
    lease: *mut i64,
    alive: *mut bool,
) -> turtle_status {
    guard(|| {
        let s = SESSIONS.get(session, "session")?;
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(lease, s.lease()) };
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(alive, s.is_alive()) };
        Ok(())
    })
}

/// Revokes the session's lease (in the background; freeing the finder waits for it) and
/// frees the handle: the locks on it are lost. NULL is a no-op.
#[no_mangle]
pub extern "C" fn turtle_lock_session_free(session: *mut turtle_lock_session) -> turtle_status {
    guard(|| SESSIONS.free(session, "session", |s| s.close()))
}

/// The options of a lock on `session`.
fn on_session(
    session: *mut turtle_lock_session,
    timeout_ms: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
) -> Result<::turtle_finder::LockOptions, FfiError> {
    let opts = crate::lock::lock_options(0, timeout_ms, on_lost, user_data, release);
    let s = SESSIONS.get(session, "session")?;
    Ok(::turtle_finder::LockOptions {
        session: Some((*s).clone()),
        ..opts
    })
}

/// `turtle_lock` on a shared session: the lock's key is `<name>/<session lease>`, one
/// lock per name on a session at a time (a second is TURTLE_INVALID_ARGUMENT); a failed
/// wait takes its key back and the session lives on.
///
/// # Safety
/// As `turtle_lock`.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C spelling: callbacks, user data, release
pub unsafe extern "C" fn turtle_lock_on(
    finder: *mut turtle_finder,
    session: *mut turtle_lock_session,
    name: *const c_char,
    timeout_ms: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_lock_guard,
) -> turtle_status {
    let opts = on_session(session, timeout_ms, on_lost, user_data, release);
    // SAFETY: caller contract.
    unsafe { take(finder, name, None, opts, out) }
}

/// `turtle_campaign` on a shared session (see `turtle_lock_on`).
///
/// # Safety
/// As `turtle_campaign`.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C spelling: callbacks, user data, release
pub unsafe extern "C" fn turtle_campaign_on(
    finder: *mut turtle_finder,
    session: *mut turtle_lock_session,
    name: *const c_char,
    value: *const u8,
    len: usize,
    timeout_ms: u64,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_lock_guard,
) -> turtle_status {
    let opts = on_session(session, timeout_ms, on_lost, user_data, release);
    // SAFETY: caller contract.
    unsafe { take(finder, name, Some((value, len)), opts, out) }
}

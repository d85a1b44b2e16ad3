//! `turtle_candidacy`: running for leader until freed, and `turtle_observe`: an
//! election's leaders as they change.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use ::turtle_finder::Candidacy;

use crate::boundary::{arg_out, arg_str, guard, optional_out};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::lock::{arg_bytes, entry_out, turtle_entry, turtle_entry_free};
use crate::status::turtle_status;
use crate::userdata::{turtle_error_cb, turtle_release_cb, UserData};

/// Running for leader (`turtle_run_for_leader`) until freed. Owned by the caller.
pub struct turtle_candidacy {
    _private: [u8; 0],
}

static CANDIDACIES: Table<Candidacy> = Table::new(8, "turtle_candidacy");

/// Called on the dispatcher thread with an election's leader: its key, value and token
/// (`create_revision`), valid during the call; NULL when there is none (`turtle_observe`).
pub type turtle_leader_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, leader: *const turtle_entry)>;

/// Calls `cb` with `leader` as a `turtle_entry` (NULL for none), valid during the call.
pub(crate) fn deliver_leader(
    cb: unsafe extern "C" fn(*mut c_void, *const turtle_entry),
    data: &UserData,
    leader: Option<&::turtle_finder::Leader>,
) {
    let entry = leader.map_or(std::ptr::null_mut(), |l| {
        entry_out(::turtle_finder::Entry {
            key: l.key.clone(),
            value: l.value.clone(),
            create_revision: l.revision,
            mod_revision: 0,
            version: 0,
            lease: 0,
        })
    });
    // SAFETY: the caller's callback with its own user_data; `entry` outlives the call.
    unsafe { cb(data.ptr, entry) };
    // SAFETY: made just above, or NULL.
    unsafe { turtle_entry_free(entry) };
}

/// Runs for leader of election `name` with the `len` bytes at `value`, a lease of `ttl_s`
/// whole seconds (0 means 10) per campaign, until `turtle_candidacy_free`: `on_elected` at
/// each win, `on_lost` (TURTLE_SESSION_LOST and why) at each loss, both on the dispatcher
/// thread (either may be NULL); after a loss it campaigns again, after a failed campaign
/// with a backoff. `release` is called exactly once.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `value` is NULL with `len` 0, or `len` readable bytes;
/// `out` is NULL or writable; the callbacks may be called with `user_data` from the
/// dispatcher thread until `release` is called.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C spelling: callbacks, user data, release
pub unsafe extern "C" fn turtle_run_for_leader(
    finder: *mut turtle_finder,
    name: *const c_char,
    value: *const u8,
    len: usize,
    ttl_s: u64,
    on_elected: turtle_leader_cb,
    on_lost: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_candidacy,
) -> turtle_status {
    let data = Arc::new(UserData {
        ptr: user_data,
        release,
    });
    guard(move || {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (name, value, out) = unsafe {
            (
                arg_str(name, "name")?,
                arg_bytes(value, len)?,
                arg_out(out, "out")?,
            )
        };
        let opts = ::turtle_finder::LockOptions {
            ttl: std::time::Duration::from_secs(if ttl_s == 0 { 10 } else { ttl_s }),
            ..Default::default()
        };
        let lost = crate::userdata::error_callback(on_lost, data.clone());
        let elected = move |l: &::turtle_finder::Leader| {
            if let Some(cb) = on_elected {
                deliver_leader(cb, &data, Some(l));
            }
        };
        let c = f.run_for_leader(name, value, opts, Arc::new(elected), Arc::new(lost))?;
        *out = CANDIDACIES.insert(c);
        Ok(())
    })
}

/// Whether the candidacy surely leads now (no I/O), and its token while it does (0 while
/// it campaigns). Each out-parameter may be NULL.
///
/// # Safety
/// The out-parameters are each NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_candidacy_info(
    candidacy: *mut turtle_candidacy,
    leading: *mut bool,
    token: *mut i64,
) -> turtle_status {
    guard(|| {
        let c = CANDIDACIES.get(candidacy, "candidacy")?;
        let now = c.leadership();
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(leading, now.is_some()) };
        // SAFETY: caller contract: NULL or writable.
        unsafe { optional_out(token, now.map_or(0, |l| l.token())) };
        Ok(())
    })
}

/// Stops running and frees the candidacy: resigns if leading, waiting for that at most
/// the finder's deadline and a second. NULL is a no-op.
#[no_mangle]
pub extern "C" fn turtle_candidacy_free(candidacy: *mut turtle_candidacy) -> turtle_status {
    guard(|| CANDIDACIES.free(candidacy, "candidacy", |c| c.stop()))
}

/// Observes election `name`: `on_leader` runs on the dispatcher thread with the leader
/// first, then each time the leader or its value changes, and with NULL when there is
/// none; resumed across failover and compaction like every watch. Cancel and free the
/// returned watch as any other; `release` is called exactly once.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable; `on_leader` may be called
/// with `user_data` from the dispatcher thread until `release` is called.
#[no_mangle]
pub unsafe extern "C" fn turtle_observe(
    finder: *mut turtle_finder,
    name: *const c_char,
    on_leader: turtle_leader_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut crate::watch::turtle_watch,
) -> turtle_status {
    let data = UserData {
        ptr: user_data,
        release,
    };
    let start = |f: &::turtle_finder::ServiceFinder, name: &str, _, cb| {
        f.observe(name, move |l: Option<&::turtle_finder::Leader>| {
            deliver_leader(cb, &data, l)
        })
    };
    // SAFETY: caller contract.
    guard(move || unsafe { crate::watch::make_watch(finder, name, 0, on_leader, out, start) })
}

//! `turtle_txn`: a transaction built compare by compare and operation by operation, and
//! `turtle_candidacy`: running for leader until freed.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use ::turtle_finder::{Candidacy, Cmp, Condition, Operation, Txn};
use parking_lot::Mutex;

use crate::boundary::{arg_out, arg_str, guard};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::lock::LOCKS;
use crate::lock::{arg_bytes, entry_out, turtle_entry, turtle_entry_free, turtle_lock_guard};
use crate::status::{turtle_status, FfiError};
use crate::userdata::{turtle_error_cb, turtle_release_cb, UserData};

/// A transaction being built (`turtle_txn_new`): compares, then the operations for when
/// they all hold (TURTLE_THEN) and for when one does not (TURTLE_OTHERWISE). Owned by the
/// caller, freed with `turtle_txn_free`; committing does not free it.
pub struct turtle_txn {
    _private: [u8; 0],
}

static TXNS: Table<Mutex<Txn>> = Table::new(7, "turtle_txn");

/// The branch of operations for when every compare holds.
pub const TURTLE_THEN: u32 = 0;
/// The branch of operations for when a compare does not hold.
pub const TURTLE_OTHERWISE: u32 = 1;
/// A compare of a key's version (writes since created; 0: absent).
pub const TURTLE_FIELD_VERSION: u32 = 1;
/// A compare of a key's create revision (0: absent); a lock's token.
pub const TURTLE_FIELD_CREATE_REVISION: u32 = 2;
/// A compare of a key's mod revision (0: absent).
pub const TURTLE_FIELD_MOD_REVISION: u32 = 3;

/// A new, empty transaction in `*out`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_new(out: *mut *mut turtle_txn) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        *out = TXNS.insert(Mutex::new(Txn::new()));
        Ok(())
    })
}

/// Frees a transaction. NULL is a no-op; a freed handle is TURTLE_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn turtle_txn_free(txn: *mut turtle_txn) -> turtle_status {
    guard(|| match txn.is_null() {
        true => Ok(()),
        false => TXNS.remove(txn, "txn").map(drop),
    })
}

fn cmp_of(op: &str) -> Result<Cmp, FfiError> {
    Cmp::parse(op).ok_or_else(|| {
        FfiError::invalid(format!(
            "argument `op` is {op:?}: one of \"==\", \"!=\", \">\", \"<\""
        ))
    })
}

fn add(txn: *mut turtle_txn, f: impl FnOnce(&mut Txn)) -> Result<(), FfiError> {
    f(&mut TXNS.get(txn, "txn")?.lock());
    Ok(())
}

/// Adds a compare of the value of `key` with the `len` bytes at `value`; `op` is "==",
/// "!=", ">" or "<". A compare of an absent key's value never holds.
///
/// # Safety
/// `key` and `op` are NULL or NUL-terminated; `value` is NULL with `len` 0, or `len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_when_value(
    txn: *mut turtle_txn,
    key: *const c_char,
    op: *const c_char,
    value: *const u8,
    len: usize,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let (key, op, value) = unsafe {
            (
                arg_str(key, "key")?,
                arg_str(op, "op")?,
                arg_bytes(value, len)?,
            )
        };
        let c = Condition::value(key, cmp_of(op)?, value);
        add(txn, |t| t.compares.push(c))
    })
}

/// Adds a compare of a number of `key` (`field`: TURTLE_FIELD_VERSION,
/// TURTLE_FIELD_CREATE_REVISION or TURTLE_FIELD_MOD_REVISION) with `number`.
///
/// # Safety
/// `key` and `op` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_when_number(
    txn: *mut turtle_txn,
    key: *const c_char,
    field: u32,
    op: *const c_char,
    number: i64,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let (key, op) = unsafe { (arg_str(key, "key")?, arg_str(op, "op")?) };
        let cmp = cmp_of(op)?;
        let c = match field {
            TURTLE_FIELD_VERSION => Condition::version(key, cmp, number),
            TURTLE_FIELD_CREATE_REVISION => Condition::create_revision(key, cmp, number),
            TURTLE_FIELD_MOD_REVISION => Condition::mod_revision(key, cmp, number),
            other => {
                return Err(FfiError::invalid(format!(
                    "argument `field` is {other}: one of the TURTLE_FIELD_ constants"
                )))
            }
        };
        add(txn, |t| t.compares.push(c))
    })
}

/// Adds the compare that holds only while the lock (or leadership) `owner` is held.
#[no_mangle]
pub extern "C" fn turtle_txn_when_owner(
    txn: *mut turtle_txn,
    owner: *mut turtle_lock_guard,
) -> turtle_status {
    guard(|| {
        let c = LOCKS.get(owner, "owner")?.fence().owner_cmp();
        add(txn, |t| t.compares.push(c))
    })
}

fn add_op(txn: *mut turtle_txn, branch: u32, op: Operation) -> Result<(), FfiError> {
    match branch {
        TURTLE_THEN => add(txn, |t| t.success.push(op)),
        TURTLE_OTHERWISE => add(txn, |t| t.failure.push(op)),
        other => Err(FfiError::invalid(format!(
            "argument `branch` is {other}: TURTLE_THEN or TURTLE_OTHERWISE"
        ))),
    }
}

/// Adds to `branch` a write of the `len` bytes at `value` at `key`.
///
/// # Safety
/// `key` is NULL or NUL-terminated; `value` is NULL with `len` 0, or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_put(
    txn: *mut turtle_txn,
    branch: u32,
    key: *const c_char,
    value: *const u8,
    len: usize,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let (key, value) = unsafe { (arg_str(key, "key")?, arg_bytes(value, len)?) };
        add_op(txn, branch, Operation::put(key, value))
    })
}

/// Adds to `branch` a delete of `key`.
///
/// # Safety
/// `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_delete(
    txn: *mut turtle_txn,
    branch: u32,
    key: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let key = unsafe { arg_str(key, "key") }?;
        add_op(txn, branch, Operation::delete(key))
    })
}

/// Adds to `branch` a read of `key` (one entry of the result's `gets`).
///
/// # Safety
/// `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_get(
    txn: *mut turtle_txn,
    branch: u32,
    key: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let key = unsafe { arg_str(key, "key") }?;
        add_op(txn, branch, Operation::get(key))
    })
}

/// What a committed transaction did; freed with `turtle_txn_result_free`.
#[repr(C)]
pub struct turtle_txn_result {
    /// Whether every compare held (the TURTLE_THEN operations ran).
    pub succeeded: bool,
    /// The revision the transaction ran at.
    pub revision: i64,
    /// How many entries `gets` has: one per read of the branch that ran.
    pub gets_len: usize,
    /// The reads' entries in order, each NULL for an absent key.
    pub gets: *mut *mut turtle_entry,
}

/// Commits `txn` on `finder`: `*out` is a new result. A compare that does not hold is no
/// error (`succeeded` is false). One that writes is retried only when it cannot have
/// reached a member.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_commit(
    finder: *mut turtle_finder,
    txn: *mut turtle_txn,
    out: *mut *mut turtle_txn_result,
) -> turtle_status {
    guard(|| {
        let f = FINDERS.get(finder, "finder")?;
        let t = TXNS.get(txn, "txn")?.lock().clone();
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        let done = f.txn(&t)?;
        let gets: Box<[*mut turtle_entry]> = (done.gets.into_iter())
            .map(|e| e.map_or(std::ptr::null_mut(), entry_out))
            .collect();
        let gets_len = gets.len();
        *out = Box::into_raw(Box::new(turtle_txn_result {
            succeeded: done.succeeded,
            revision: done.revision,
            gets_len,
            gets: Box::into_raw(gets).cast(),
        }));
        Ok(())
    })
}

/// Frees a result of `turtle_txn_commit` and its entries. NULL is a no-op.
///
/// # Safety
/// `result` is NULL or a result from libturtle not yet freed.
#[no_mangle]
pub unsafe extern "C" fn turtle_txn_result_free(result: *mut turtle_txn_result) {
    if result.is_null() {
        return;
    }
    // SAFETY: made by turtle_txn_commit from a box, its `gets` from a boxed slice.
    let r = unsafe { Box::from_raw(result) };
    let gets = std::ptr::slice_from_raw_parts_mut(r.gets, r.gets_len);
    // SAFETY: as above.
    for e in unsafe { Box::from_raw(gets) }.iter() {
        // SAFETY: each an entry of entry_out, or NULL.
        unsafe { turtle_entry_free(*e) };
    }
}

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
        // SAFETY: caller contract: each NULL or writable.
        if let Some(out) = unsafe { leading.as_mut() } {
            *out = now.is_some();
        }
        // SAFETY: as above.
        if let Some(out) = unsafe { token.as_mut() } {
            *out = now.map_or(0, |l| l.token());
        }
        Ok(())
    })
}

/// Stops running and frees the candidacy: resigns if leading, waiting for that at most
/// the finder's deadline and a second. NULL is a no-op.
#[no_mangle]
pub extern "C" fn turtle_candidacy_free(candidacy: *mut turtle_candidacy) -> turtle_status {
    guard(|| {
        if candidacy.is_null() {
            return Ok(());
        }
        CANDIDACIES.remove(candidacy, "candidacy")?.stop();
        Ok(())
    })
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

/// A lease kept alive for locks and elections to share (`turtle_lock_session_new`): a lock
/// on it (`turtle_lock_on`, `turtle_campaign_on`) costs no grant and no revoke. Freeing it
/// revokes the lease: its locks are lost.
pub struct turtle_lock_session {
    _private: [u8; 0],
}

static SESSIONS: Table<::turtle_finder::LockSession> = Table::new(9, "turtle_lock_session");

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
        // SAFETY: caller contract: each NULL or writable.
        if let Some(out) = unsafe { lease.as_mut() } {
            *out = s.lease();
        }
        // SAFETY: as above.
        if let Some(out) = unsafe { alive.as_mut() } {
            *out = s.is_alive();
        }
        Ok(())
    })
}

/// Revokes the session's lease (in the background; freeing the finder waits for it) and
/// frees the handle: the locks on it are lost. NULL is a no-op.
#[no_mangle]
pub extern "C" fn turtle_lock_session_free(session: *mut turtle_lock_session) -> turtle_status {
    guard(|| {
        if !session.is_null() {
            SESSIONS.remove(session, "session")?.close();
        }
        Ok(())
    })
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
    guard(move || {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (name, out) = unsafe { (arg_str(name, "name")?, arg_out(out, "out")?) };
        *out = LOCKS.insert(crate::lock::Held::Lock(f.lock(name, opts?)?));
        Ok(())
    })
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
        *out = LOCKS.insert(crate::lock::Held::Lead(f.campaign(name, value, opts?)?));
        Ok(())
    })
}

//! `turtle_txn`: a transaction built compare by compare and operation by operation.

use std::ffi::c_char;

use ::turtle_finder::{Cmp, Condition, Operation, Txn};
use parking_lot::Mutex;

use crate::boundary::{arg_out, arg_str, guard};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::lock::LOCKS;
use crate::lock::{arg_bytes, entry_out, turtle_entry, turtle_entry_free, turtle_lock_guard};
use crate::status::{turtle_status, FfiError};

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
    guard(|| TXNS.free(txn, "txn", drop))
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

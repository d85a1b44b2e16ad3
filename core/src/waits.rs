//! Waits of one dispatcher thread for another, without deadlock.
//!
//! A callback may cancel another finder's watch or close another finder; both wait for
//! that finder's dispatcher (its running callback, or its end). Two callbacks doing so to
//! each other at once would wait forever, so every such wait is recorded here, and a wait
//! that would close a cycle is not made: the callback it would wait for is (through the
//! cycle) waiting for the caller, so it cannot start another invocation meanwhile.

use std::cell::Cell;
use std::thread::ThreadId;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// Who waits for whom: (waiting dispatcher, dispatcher it waits for).
static WAITING: Mutex<Vec<(ThreadId, ThreadId)>> = Mutex::new(Vec::new());

thread_local! {
    static IS_DISPATCHER: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a dispatcher (other threads cannot be waited for).
pub(crate) fn mark_dispatcher() {
    IS_DISPATCHER.with(|d| d.set(true));
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The condition holds.
    Done,
    /// Not waited: `target` waits, directly or through others, for the caller.
    Cycle,
    /// The limit passed first.
    TimedOut,
}

/// The record of one dispatcher waiting for another; removed when dropped.
struct Record(ThreadId, ThreadId);

impl Drop for Record {
    fn drop(&mut self) {
        let mut w = WAITING.lock();
        if let Some(i) = w.iter().position(|(a, b)| (*a, *b) == (self.0, self.1)) {
            w.swap_remove(i);
        }
    }
}

/// Records that the calling dispatcher waits for `target`, unless `target` waits for it.
fn record(target: ThreadId) -> Result<Option<Record>, ()> {
    if !IS_DISPATCHER.with(Cell::get) {
        return Ok(None); // nobody waits for a thread that is not a dispatcher
    }
    let me = std::thread::current().id();
    let mut w = WAITING.lock();
    let mut cur = target;
    loop {
        if cur == me {
            return Err(());
        }
        match w.iter().find(|(a, _)| *a == cur) {
            Some((_, next)) => cur = *next,
            None => break,
        }
    }
    w.push((me, target));
    Ok(Some(Record(me, target)))
}

/// Waits until `done(state)` holds, on `cv` with `state`'s lock, for dispatcher `target`
/// (a thread other than the caller), until `limit` if one is given.
pub(crate) fn wait_for<T>(
    target: ThreadId,
    state: &Mutex<T>,
    cv: &Condvar,
    done: impl Fn(&T) -> bool,
    limit: Option<Instant>,
) -> Waited {
    let Ok(_record) = record(target) else {
        return Waited::Cycle;
    };
    let mut s = state.lock();
    while !done(&s) {
        match limit {
            None => cv.wait(&mut s),
            Some(end) => {
                if cv.wait_until(&mut s, end).timed_out() && !done(&s) {
                    return Waited::TimedOut;
                }
            }
        }
    }
    Waited::Done
}

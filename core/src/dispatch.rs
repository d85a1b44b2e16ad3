//! The dispatcher thread: runs every user callback of a finder, one at a time.
//!
//! No lock is held while a callback runs or is dropped (dropping it may run user code,
//! such as libturtle's `release`, that calls back into the finder).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::{Condvar, Mutex};

use crate::delivery::{Delivery, Sink};
use crate::error::{Error, ErrorKind, Result};
use crate::mailbox::Mailbox;
use crate::metrics::Metrics;
use crate::sigpipe;
use crate::waits::{self, Waited};

/// A watch's callback as the dispatcher calls it.
pub(crate) type Callback = Box<dyn FnMut(Delivery) + Send>;

/// Run by the dispatcher before each callback: finds locks whose time is up, so their
/// loss (an urgent slot's delivery, run at once) comes before that callback.
pub(crate) type Gate = Box<dyn Fn() + Send + Sync>;

thread_local! {
    /// True on the dispatcher thread while its gate runs: between two callbacks, where an
    /// urgent slot's callback may run at once.
    static IN_GATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

enum Job {
    /// Deliver the next queued change of this watch.
    Run(Arc<Slot>),
    Stop,
}

/// A flag with a condition variable: set once, waited for by many.
#[derive(Default)]
struct Latch {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn set(&self) {
        *self.set.lock() = true;
        self.cv.notify_all();
    }
}

/// The `turtle-dispatch` thread and its queue.
pub(crate) struct Dispatcher {
    tx: Sender<Job>,
    thread: ThreadId,
    join: Mutex<Option<JoinHandle<()>>>,
    closed: Arc<AtomicBool>,
    /// Set by the thread as it ends, after the last callback it ran was dropped.
    ended: Arc<Latch>,
    metrics: Arc<Metrics>,
    gate: Arc<std::sync::OnceLock<Gate>>,
}

impl Dispatcher {
    pub(crate) fn start(metrics: Arc<Metrics>) -> Result<Dispatcher> {
        let (tx, rx) = unbounded();
        let closed = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(Latch::default());
        let (flag, latch) = (closed.clone(), ended.clone());
        let gate = Arc::new(std::sync::OnceLock::<Gate>::new());
        let before = gate.clone();
        let join =
            crate::threads::spawn("turtle-dispatch", move || run(rx, &flag, &latch, &before))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Internal,
                        format!("cannot start the dispatcher thread: {e}"),
                    )
                })?;
        Ok(Dispatcher {
            tx,
            thread: join.thread().id(),
            join: Mutex::new(Some(join)),
            closed,
            ended,
            metrics,
            gate,
        })
    }

    /// Sets the check run before each callback (once).
    pub(crate) fn set_gate(&self, gate: Gate) {
        let _ = self.gate.set(gate);
    }

    /// A slot for a new watch's callback; deliveries to it are queued for this thread.
    pub(crate) fn slot(&self, callback: Callback, max_queued: usize) -> Arc<Slot> {
        self.new_slot(callback, max_queued, false)
    }

    /// A slot whose delivery from the gate runs its callback at once, before the callback
    /// the gate precedes (a lock's loss).
    pub(crate) fn urgent_slot(&self, callback: Callback) -> Arc<Slot> {
        self.new_slot(callback, 1, true)
    }

    fn new_slot(&self, callback: Callback, max_queued: usize, urgent: bool) -> Arc<Slot> {
        Arc::new_cyclic(|me| Slot {
            mailbox: Mailbox::new(max_queued, self.metrics.clone()),
            metrics: self.metrics.clone(),
            state: Mutex::new(SlotState {
                callback: Some(callback),
                running: false,
                cancelled: false,
            }),
            idle: Condvar::new(),
            tx: self.tx.clone(),
            me: me.clone(),
            closed: self.closed.clone(),
            dispatcher: self.thread,
            urgent,
        })
    }

    /// True on the dispatcher thread, i.e. inside a callback.
    pub(crate) fn is_current(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// Tells the thread to end after the callback running now; no queued callback runs.
    pub(crate) fn signal_stop(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Job::Stop);
    }

    /// Stops the thread and waits until it ended, except from the thread itself (it ends
    /// when the callback returns) and where the thread waits for the caller's dispatcher
    /// (see `waits`). False when `limit` passed first: the thread is then abandoned, still
    /// in its callback.
    pub(crate) fn stop(&self, limit: Option<Duration>) -> bool {
        self.signal_stop();
        if self.is_current() {
            return true;
        }
        let end = limit.map(|d| Instant::now() + d);
        let latch = &self.ended;
        match waits::wait_for(self.thread, &latch.set, &latch.cv, |e| *e, end) {
            Waited::Done => {
                if let Some(join) = self.join.lock().take() {
                    let _ = join.join();
                }
                true
            }
            Waited::Cycle => true,
            Waited::TimedOut => false,
        }
    }
}

fn run(rx: Receiver<Job>, closed: &AtomicBool, ended: &Latch, gate: &std::sync::OnceLock<Gate>) {
    waits::mark_dispatcher();
    sigpipe::block_for_good();
    for job in rx.iter() {
        match job {
            Job::Stop => break,
            Job::Run(slot) => {
                if !closed.load(Ordering::SeqCst) {
                    if let Some(check) = gate.get() {
                        IN_GATE.set(true);
                        let _ = catch_unwind(AssertUnwindSafe(check));
                        IN_GATE.set(false);
                    }
                    slot.run_one();
                }
            }
        }
    }
    // Queued jobs hold slots, and slots may hold the last callbacks: drop them here.
    drop(rx);
    ended.set();
}

/// One watch's queue and callback.
pub(crate) struct Slot {
    mailbox: Mailbox,
    state: Mutex<SlotState>,
    /// Notified when a running invocation ends.
    idle: Condvar,
    tx: Sender<Job>,
    me: Weak<Slot>,
    closed: Arc<AtomicBool>,
    dispatcher: ThreadId,
    metrics: Arc<Metrics>,
    /// Delivered to from the gate, its callback runs at once (see `urgent_slot`).
    urgent: bool,
}

struct SlotState {
    /// Taken out while it runs, and for good once cancelled.
    callback: Option<Callback>,
    running: bool,
    cancelled: bool,
}

impl Slot {
    fn run_one(self: Arc<Self>) {
        let Some(d) = self.mailbox.pop() else { return };
        let taken = {
            let mut s = self.state.lock();
            if s.cancelled || self.closed.load(Ordering::SeqCst) {
                None
            } else {
                s.running = true;
                s.callback.take()
            }
        };
        let Some(mut f) = taken else { return };
        let started = Instant::now();
        if catch_unwind(AssertUnwindSafe(|| f(d))).is_err() {
            eprintln!("turtle-finder: a watch callback panicked; the watch goes on");
        }
        self.metrics.callback(started.elapsed());
        let cancelled = {
            let mut s = self.state.lock();
            if s.cancelled {
                Some(f)
            } else {
                s.callback = Some(f);
                self.end_run(&mut s);
                None
            }
        };
        if let Some(f) = cancelled {
            // Cancelled meanwhile (maybe by itself): released now, with no lock held, and
            // before a waiting `cancel` returns.
            drop(f);
            self.end_run(&mut self.state.lock());
            return;
        }
        // Come back for the next entry; an empty mailbox then marks the slot idle.
        let _ = self.tx.send(Job::Run(self.clone()));
    }

    fn end_run(&self, s: &mut SlotState) {
        s.running = false;
        self.idle.notify_all();
    }

    /// Marks the watch cancelled: its callback never starts again. A callback not running
    /// is dropped at once; a running one when it returns. Never waits.
    pub(crate) fn cancel_now(&self) {
        self.mailbox.close();
        let idle = {
            let mut s = self.state.lock();
            s.cancelled = true;
            s.callback.take()
        };
        drop(idle); // released with no lock held
    }

    /// [`Slot::cancel_now`], then waits until a running invocation returned, except from
    /// inside it and where that invocation waits for the caller's own callback (`waits`).
    /// After this returns the callback is never invoked again.
    pub(crate) fn cancel(&self) {
        self.cancel_now();
        if std::thread::current().id() == self.dispatcher {
            return; // from a callback of this finder: the running one, if any, is the caller
        }
        waits::wait_for(
            self.dispatcher,
            &self.state,
            &self.idle,
            |s| !s.running,
            None,
        );
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.lock().cancelled
    }
}

impl Sink for Slot {
    fn deliver(&self, d: Delivery) {
        if self.mailbox.push(d) {
            if let Some(me) = self.me.upgrade() {
                // From the gate no callback runs: this one may, before the next.
                match self.urgent && IN_GATE.get() {
                    true => {
                        // Its callback is not the gate: what it delivers is queued.
                        IN_GATE.set(false);
                        me.run_one();
                        IN_GATE.set(true);
                    }
                    false => {
                        let _ = self.tx.send(Job::Run(me));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Change, ChangeKind};

    fn change(revision: i64) -> Delivery {
        Delivery::Change(Change {
            service: "cdd".into(),
            value: None,
            revision,
            kind: ChangeKind::Put,
            skipped: 0,
        })
    }

    #[test]
    fn callbacks_run_in_order_on_the_dispatcher_and_never_after_cancel_or_stop() {
        let d = Dispatcher::start(Arc::new(Metrics::new(false).unwrap())).unwrap();
        let (tx, rx) = unbounded();
        let on_change = move |delivery: Delivery| {
            if let Delivery::Change(c) = delivery {
                let name = std::thread::current().name().map(str::to_string);
                tx.send((c.revision, name)).unwrap();
                assert!(c.revision != 2, "a panicking callback");
            }
        };
        let slot = d.slot(Box::new(on_change), 16);
        for rev in 1..=4 {
            slot.deliver(change(rev));
        }
        let got: Vec<(i64, Option<String>)> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        let revisions: Vec<i64> = got.iter().map(|(r, _)| *r).collect();
        assert_eq!(
            revisions,
            [1, 2, 3, 4],
            "in order, and on past the panic at 2"
        );
        assert!(got
            .iter()
            .all(|(_, t)| t.as_deref() == Some("turtle-dispatch")));
        slot.cancel();
        assert!(slot.is_cancelled());
        slot.deliver(change(5));
        // A second slot's delivery runs after anything queued before it: none of slot 1.
        let (tx2, rx2) = unbounded();
        let other = d.slot(Box::new(move |_| tx2.send(()).unwrap()), 16);
        other.deliver(change(6));
        rx2.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(rx.try_recv().is_err(), "nothing after cancel");
        assert!(d.stop(None));
        other.deliver(change(7));
        assert!(rx2.try_recv().is_err(), "nothing after stop");
    }

    #[test]
    fn what_the_gate_finds_runs_before_the_callback_it_precedes() {
        let d = Dispatcher::start(Arc::new(Metrics::new(false).unwrap())).unwrap();
        let (tx, rx) = unbounded();
        let said = tx.clone();
        let urgent = d.urgent_slot(Box::new(move |_| said.send("lost").unwrap()));
        let (once, found) = (Arc::new(AtomicBool::new(false)), urgent.clone());
        d.set_gate(Box::new(move || {
            if !once.swap(true, Ordering::SeqCst) {
                found.deliver(change(1)); // the gate finds a loss before the first change
            }
        }));
        let slot = d.slot(Box::new(move |_| tx.send("change").unwrap()), 16);
        slot.deliver(change(2));
        slot.deliver(change(3));
        let got: Vec<&str> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(got, ["lost", "change", "change"]);
        // Outside the gate an urgent slot is queued like any other.
        urgent.deliver(change(4));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "lost");
        assert!(d.stop(None));
    }
}

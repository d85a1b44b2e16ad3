//! The dispatcher thread: runs every user callback of a finder, one at a time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{JoinHandle, ThreadId};

use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::Mutex;

use crate::change::{Delivery, Sink};
use crate::error::{Error, ErrorKind, Result};
use crate::mailbox::Mailbox;

/// A watch's callback as the dispatcher calls it.
pub(crate) type Callback = Box<dyn FnMut(Delivery) + Send>;

enum Job {
    /// Deliver the next queued change of this watch.
    Run(Arc<Slot>),
    Stop,
}

/// The `turtle-dispatch` thread and its queue.
pub(crate) struct Dispatcher {
    tx: Sender<Job>,
    thread: ThreadId,
    join: Mutex<Option<JoinHandle<()>>>,
    closed: Arc<AtomicBool>,
}

impl Dispatcher {
    pub(crate) fn start() -> Result<Dispatcher> {
        let (tx, rx) = unbounded();
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let join = std::thread::Builder::new()
            .name("turtle-dispatch".into())
            .spawn(move || run(rx, flag))
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
        })
    }

    /// A slot for a new watch's callback; deliveries to it are queued for this thread.
    pub(crate) fn slot(&self, callback: Callback, max_queued: usize) -> Arc<Slot> {
        Arc::new_cyclic(|me| Slot {
            mailbox: Mailbox::new(max_queued),
            callback: Mutex::new(Some(callback)),
            cancelled: AtomicBool::new(false),
            tx: self.tx.clone(),
            me: me.clone(),
            closed: self.closed.clone(),
        })
    }

    /// True on the dispatcher thread, i.e. inside a callback.
    pub(crate) fn is_current(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// Stops the thread after the callback running now, and joins it unless called from it.
    pub(crate) fn stop(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Job::Stop);
        let join = self.join.lock().take();
        if let Some(join) = join {
            if self.is_current() {
                return; // closing from a callback: the thread ends when the callback returns
            }
            let _ = join.join();
        }
    }
}

fn run(rx: Receiver<Job>, closed: Arc<AtomicBool>) {
    for job in rx {
        match job {
            Job::Stop => return,
            Job::Run(slot) => {
                if !closed.load(Ordering::SeqCst) {
                    slot.run_one();
                }
            }
        }
    }
}

/// One watch's queue and callback.
pub(crate) struct Slot {
    mailbox: Mailbox,
    /// Locked while the callback runs, so `cancel` from another thread waits for it.
    callback: Mutex<Option<Callback>>,
    cancelled: AtomicBool,
    tx: Sender<Job>,
    me: Weak<Slot>,
    closed: Arc<AtomicBool>,
}

impl Slot {
    fn run_one(self: Arc<Self>) {
        if self.cancelled.load(Ordering::SeqCst) {
            return;
        }
        let Some(d) = self.mailbox.pop() else { return };
        {
            let mut cb = self.callback.lock();
            if !self.cancelled.load(Ordering::SeqCst) && !self.closed.load(Ordering::SeqCst) {
                if let Some(f) = cb.as_mut() {
                    if catch_unwind(AssertUnwindSafe(|| f(d))).is_err() {
                        eprintln!("turtle-finder: a watch callback panicked; the watch goes on");
                    }
                }
            }
            if self.cancelled.load(Ordering::SeqCst) {
                *cb = None; // cancelled from inside the callback: release it now
                return;
            }
        }
        // Come back for the next entry; an empty mailbox then marks the slot idle.
        let _ = self.tx.send(Job::Run(self.clone()));
    }

    /// After this returns the callback never runs again (from the dispatcher thread: after
    /// the current invocation). Dropping the callback releases what it holds.
    pub(crate) fn cancel(&self, on_dispatcher: bool) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.mailbox.close();
        if on_dispatcher {
            // Held only if this very callback is running; it is then dropped on return.
            if let Some(mut cb) = self.callback.try_lock() {
                *cb = None;
            }
        } else {
            *self.callback.lock() = None;
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

impl Sink for Slot {
    fn deliver(&self, d: Delivery) {
        if self.mailbox.push(d) {
            if let Some(me) = self.me.upgrade() {
                let _ = self.tx.send(Job::Run(me));
            }
        }
    }
}

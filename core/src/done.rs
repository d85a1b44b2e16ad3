//! A background task's end, which blocking callers and async code wait for: a lock's
//! keeper after its unlock, a candidacy's loop after its resign.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

/// Runs a future to its end on a blocking caller's thread, driving the finder's runtime.
pub(crate) type Driver = Arc<dyn Fn(Pin<Box<dyn Future<Output = ()> + Send>>) + Send + Sync>;

/// Set once when the task ended.
#[derive(Default)]
pub(crate) struct Done {
    set: Mutex<bool>,
    set_cv: Condvar,
    set_async: Notify,
    /// Drives the runtime while a blocking caller waits (a blocking finder's), so the task
    /// runs at once instead of when the runtime's thread next takes the runtime back.
    driver: OnceLock<Driver>,
}

impl Done {
    /// Marks the task ended and wakes every waiter.
    pub(crate) fn set(&self) {
        *self.set.lock() = true;
        self.set_cv.notify_all();
        self.set_async.notify_waiters();
    }

    /// Waits until the task ended.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.set_async.notified();
            if *self.set.lock() {
                return;
            }
            notified.await;
        }
    }

    /// Waits at most `limit` until the task ended, from a blocking caller: driving the
    /// runtime with the driver if there is one.
    pub(crate) fn wait_blocking(self: &Arc<Self>, limit: Duration) {
        if let Some(drive) = self.driver.get() {
            let me = self.clone();
            drive(Box::pin(async move {
                let _ = tokio::time::timeout(limit, me.wait()).await;
            }));
            return;
        }
        let end = Instant::now() + limit;
        let mut set = self.set.lock();
        while !*set && !self.set_cv.wait_until(&mut set, end).timed_out() {}
    }

    /// Has blocking waits drive the runtime with `driver` (set once).
    pub(crate) fn drive_with(&self, driver: Driver) {
        let _ = self.driver.set(driver);
    }
}

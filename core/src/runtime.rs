//! The runtime a blocking finder owns, and who drives it.
//!
//! A blocking call drives the runtime on its own thread while it waits: tokio's
//! current-thread runtime hands its core to whichever thread is in `Runtime::block_on`,
//! so the caller writes the request and reads the answer itself, and no thread is woken
//! on either side (two wake-ups per call were a third of a lookup's CPU). The
//! `turtle-runtime` thread drives it whenever no call does, so watches, keepalives and
//! probes go on between calls: it lends the core to the first call and takes it back once
//! no call has used it for [`HAND_BACK`]. A call from inside another tokio runtime cannot
//! enter this one; it hands its work to the runtime as a task and waits for the answer.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;

use crate::error::{Error, ErrorKind, Result};
use crate::sigpipe;

/// How often a blocking call that can be interrupted asks whether it is.
pub(crate) const INTERRUPT_CHECK: Duration = Duration::from_millis(50);

/// How long the runtime stays lent after the last call left it. Between calls nobody
/// drives it, so this bounds how late a watch event or keepalive can be; a caller
/// calling again within it keeps the core without any hand-over.
const HAND_BACK: Duration = Duration::from_millis(5);

pub(crate) struct RuntimeThread {
    handle: Handle,
    lending: Arc<Lending>,
    join: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the calls and the runtime thread share to pass the core between them.
struct Lending {
    state: Mutex<State>,
    /// Tells the runtime thread that calls left or that the finder closes.
    changed: Condvar,
    /// Asks the runtime thread to leave `block_on`, freeing the core for a call.
    wanted: Notify,
    /// Ends every call in progress when the finder closes.
    closing: Notify,
}

struct State {
    /// The runtime, for calls to enter; `None` once the finder closes.
    runtime: Option<Arc<Runtime>>,
    /// The runtime thread drives the runtime (or is about to).
    thread_drives: bool,
    /// Calls in `block_on` now.
    calls: usize,
    /// When the last call left `block_on`.
    last_call: Instant,
}

/// A call's share of the runtime; leaving updates the count (also on unwind).
struct Lease<'a> {
    lending: &'a Lending,
    runtime: Option<Arc<Runtime>>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // The runtime thread shuts the runtime down once it holds the last reference.
        drop(self.runtime.take());
        let mut s = self.lending.state.lock();
        s.calls -= 1;
        s.last_call = Instant::now();
        if s.runtime.is_none() && s.calls == 0 {
            self.lending.changed.notify_all();
        }
    }
}

impl Lending {
    /// Enters the runtime for a call, asking the runtime thread to free the core.
    fn lease(&self) -> Result<Lease<'_>> {
        let mut s = self.state.lock();
        let runtime = s.runtime.clone().ok_or_else(Error::closed)?;
        s.calls += 1;
        if s.thread_drives {
            s.thread_drives = false;
            self.wanted.notify_one();
        }
        Ok(Lease {
            lending: self,
            runtime: Some(runtime),
        })
    }

    /// The runtime thread: drives the runtime while no call does; at close, waits for
    /// the calls to leave and shuts it down.
    fn run(&self, rt: Arc<Runtime>) {
        sigpipe::block_for_good();
        loop {
            rt.block_on(self.wanted.notified());
            let mut s = self.state.lock();
            loop {
                if s.runtime.is_none() {
                    while s.calls > 0 {
                        self.changed.wait(&mut s);
                    }
                    drop(s);
                    // Ends every task (watches, probes, requests) without waiting for
                    // blocking work: a DNS lookup in flight may take as long as the
                    // system resolver likes, and close must not wait for it.
                    if let Ok(rt) = Arc::try_unwrap(rt) {
                        rt.shutdown_timeout(Duration::ZERO);
                    }
                    return;
                }
                let idle = s.last_call.elapsed();
                if s.calls == 0 && idle >= HAND_BACK {
                    s.thread_drives = true;
                    break;
                }
                // Woken by time, not by every call leaving: a caller in a loop costs
                // this thread one wake-up per HAND_BACK, not one per call.
                let wait = match s.calls {
                    0 => HAND_BACK - idle,
                    _ => HAND_BACK,
                };
                self.changed.wait_for(&mut s, wait);
            }
        }
    }
}

impl RuntimeThread {
    pub(crate) fn start() -> Result<RuntimeThread> {
        let internal = |e: std::io::Error| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot start the runtime thread: {e}"),
            )
        };
        let rt = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(internal)?,
        );
        let handle = rt.handle().clone();
        let lending = Arc::new(Lending {
            state: Mutex::new(State {
                runtime: Some(rt.clone()),
                thread_drives: true,
                calls: 0,
                last_call: Instant::now(),
            }),
            changed: Condvar::new(),
            wanted: Notify::new(),
            closing: Notify::new(),
        });
        let thread_lending = lending.clone();
        let join = crate::threads::spawn("turtle-runtime", move || thread_lending.run(rt))
            .map_err(internal)?;
        Ok(RuntimeThread {
            handle,
            lending,
            join: Mutex::new(Some(join)),
        })
    }

    /// Runs `fut` and waits for it. Works from any thread, including threads inside
    /// another tokio runtime.
    pub(crate) fn block<T, F>(&self, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        self.block_interruptible(fut, None)
    }

    /// [`RuntimeThread::block`] that also gives up when `interrupted()` returns true; it is
    /// asked every [`INTERRUPT_CHECK`] while waiting (outside the runtime, so a check that
    /// waits, as for Python's lock, holds up no other work), and the abandoned call is
    /// dropped.
    pub(crate) fn block_interruptible<T, F>(
        &self,
        fut: F,
        interrupted: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        if Handle::try_current().is_ok() {
            return self.spawned(fut, interrupted);
        }
        // Registered before the lease checks for close, so a close between them is seen.
        let mut closing = pin!(self.lending.closing.notified());
        closing.as_mut().enable();
        // On the heap, as a spawned task's was: the caller's stack only polls it.
        let mut fut = Box::pin(fut);
        // This thread writes to the members' sockets while it drives the runtime.
        let _no_sigpipe = sigpipe::Blocked::now();
        loop {
            let lease = self.lending.lease()?;
            let rt = lease.runtime.as_ref().expect("a lease holds the runtime");
            let step = rt.block_on(async {
                tokio::select! {
                    biased;
                    _ = closing.as_mut() => Some(Err(Error::closed())),
                    r = fut.as_mut() => Some(r),
                    _ = tokio::time::sleep(INTERRUPT_CHECK) => None,
                }
            });
            drop(lease);
            match step {
                Some(r) => return r,
                None if interrupted.is_some_and(|f| f()) => {
                    return Err(Error::new(ErrorKind::Interrupted, "interrupted"))
                }
                None => {}
            }
        }
    }

    /// A call from inside another runtime: the work runs as a task of this one.
    fn spawned<T, F>(
        &self,
        fut: F,
        interrupted: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let task = self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        loop {
            match rx.recv_timeout(INTERRUPT_CHECK) {
                Ok(r) => return r,
                // A runtime that shut down drops the task, and with it the sender.
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(Error::closed())
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout)
                    if interrupted.is_some_and(|f| f()) =>
                {
                    task.abort();
                    return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Ends every call in progress and every task, and joins the thread.
    pub(crate) fn stop(&self) {
        {
            let mut s = self.lending.state.lock();
            if s.runtime.take().is_some() && s.thread_drives {
                self.lending.wanted.notify_one();
            }
            self.lending.closing.notify_waiters();
            self.lending.changed.notify_all();
        }
        if let Some(join) = self.join.lock().take() {
            let _ = join.join();
        }
    }
}

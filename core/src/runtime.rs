//! The `turtle-runtime` thread: the tokio runtime a blocking finder owns.

use std::future::Future;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::{Error, ErrorKind, Result};

/// How often a blocking call that can be interrupted asks whether it is.
pub(crate) const INTERRUPT_CHECK: Duration = Duration::from_millis(50);

pub(crate) struct RuntimeThread {
    handle: Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    join: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl RuntimeThread {
    pub(crate) fn start() -> Result<RuntimeThread> {
        let internal = |e: std::io::Error| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot start the runtime thread: {e}"),
            )
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(internal)?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let join = std::thread::Builder::new()
            .name("turtle-runtime".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
                // Ends every task (watches, probes, requests) without waiting for blocking
                // work: a DNS lookup in flight may take as long as the system resolver
                // likes, and close must not wait for it.
                rt.shutdown_timeout(Duration::ZERO);
            })
            .map_err(internal)?;
        Ok(RuntimeThread {
            handle,
            stop: Mutex::new(Some(stop)),
            join: Mutex::new(Some(join)),
        })
    }

    /// Runs `fut` on the runtime thread and waits for it. Works from any thread that is
    /// not the runtime thread, including threads inside another tokio runtime.
    pub(crate) fn block<T, F>(&self, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        self.block_interruptible(fut, &|| false)
    }

    /// [`RuntimeThread::block`] that also gives up when `interrupted()` returns true; it is
    /// asked every [`INTERRUPT_CHECK`] while waiting, and the abandoned call is aborted.
    pub(crate) fn block_interruptible<T, F>(
        &self,
        fut: F,
        interrupted: &dyn Fn() -> bool,
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
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if interrupted() => {
                    task.abort();
                    return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Ends every task and joins the thread.
    pub(crate) fn stop(&self) {
        if let Some(stop) = self.stop.lock().take() {
            let _ = stop.send(());
        }
        if let Some(join) = self.join.lock().take() {
            let _ = join.join();
        }
    }
}

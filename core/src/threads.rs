//! The library's own threads: named, and running before `spawn` returns. The name is set
//! by the new thread itself as it starts, so without the wait a thread just made could
//! still show its parent's name (a finder just made seemed to have no dispatcher).

use std::thread::JoinHandle;

/// Starts thread `name` running `f`, once it runs.
pub(crate) fn spawn<T, F>(name: &str, f: F) -> std::io::Result<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (started, running) = std::sync::mpsc::sync_channel(1);
    let join = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = started.send(());
            f()
        })?;
    // An error only if the thread ended without a word: it is joined like any other.
    let _ = running.recv();
    Ok(join)
}

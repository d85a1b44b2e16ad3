//! SIGINT, SIGTERM and SIGHUP (the terminal closed), received by the command that waits
//! for them (`watch`, `register`, `lock`): each ends it the same way, a registration revoked.

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and the threads it starts after, so
/// that [`wait_for_signal`] receives them.
pub(crate) fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits until SIGINT, SIGTERM or SIGHUP arrives.
pub(crate) fn wait_for_signal(set: &libc::sigset_t) {
    let mut sig = 0;
    // SAFETY: `set` was made by block_signals; sigwait writes `sig`.
    unsafe { libc::sigwait(set, &mut sig) };
}

/// Whether one of `set`'s signals arrived (it stays pending, for a later wait).
pub(crate) fn pending(set: &libc::sigset_t) -> bool {
    // SAFETY: plain libc calls on local signal sets.
    unsafe {
        let mut now: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut now);
        [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
            .iter()
            .any(|&s| libc::sigismember(set, s) == 1 && libc::sigismember(&now, s) == 1)
    }
}

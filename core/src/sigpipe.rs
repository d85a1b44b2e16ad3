//! SIGPIPE never reaches the host program because of this library. A write to a socket
//! whose member died raises SIGPIPE in the writing thread, and a C program keeps SIGPIPE's
//! default action, which ends the process (Rust and Python programs ignore it). Linux has
//! no per-socket way to say no (`SO_NOSIGPIPE`), and the sockets' writes are tokio's, not
//! ours to give `MSG_NOSIGNAL`: so the library's own threads block SIGPIPE for good, and a
//! caller's thread blocks it while it drives the runtime, consuming a SIGPIPE raised
//! meanwhile before it unblocks (a thread-directed signal raised by a write stays pending
//! on that thread until then).

/// The set holding SIGPIPE alone.
fn sigpipe() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialize a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

/// Blocks SIGPIPE in this thread for good (the library's own threads).
pub(crate) fn block_for_good() {
    let set = sigpipe();
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// SIGPIPE blocked in this thread until dropped; one raised meanwhile is consumed.
pub(crate) struct Blocked {
    old: libc::sigset_t,
    /// Whether SIGPIPE was pending before (the program's own; left alone).
    pending_before: bool,
}

fn is_pending() -> bool {
    // SAFETY: sigpending writes a local set; sigismember reads it.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        libc::sigismember(&pending, libc::SIGPIPE) == 1
    }
}

impl Blocked {
    /// Blocks SIGPIPE in this thread.
    pub(crate) fn now() -> Blocked {
        let set = sigpipe();
        // SAFETY: `old` is written by pthread_sigmask.
        let old = unsafe {
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            old
        };
        Blocked {
            old,
            pending_before: is_pending(),
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: `old` came from pthread_sigmask; the set is valid.
        let was_blocked = unsafe { libc::sigismember(&self.old, libc::SIGPIPE) == 1 };
        if !self.pending_before && !was_blocked && is_pending() {
            let set = sigpipe();
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: consumes the pending SIGPIPE this call's writes raised.
            unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
        }
        // SAFETY: restores the caller's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sigpipe_raised_while_blocked_is_consumed_and_the_mask_restored() {
        // On a thread of its own: the mask is per thread.
        std::thread::spawn(|| {
            {
                let _blocked = Blocked::now();
                // SAFETY: raise sends SIGPIPE to this very thread, where it is blocked.
                unsafe { libc::raise(libc::SIGPIPE) };
                assert!(is_pending());
            }
            assert!(!is_pending(), "consumed");
            // SAFETY: reads this thread's mask.
            let mask = unsafe {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                now
            };
            // SAFETY: a valid set.
            assert_eq!(
                unsafe { libc::sigismember(&mask, libc::SIGPIPE) },
                0,
                "unblocked"
            );
        })
        .join()
        .unwrap();
    }
}

//! `turtle lock NAME [-- COMMAND ARGS]`: the lock held while the command runs (its token in
//! `TURTLE_LOCK_TOKEN`), or until Ctrl-C, SIGTERM or SIGHUP without one; like
//! `etcdctl lock`, and the same lock as etcdctl's and Go's of that name.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use turtle_finder::{Error, ErrorKind, LockOptions};

use super::signals::{block_signals, pending, wait_for_signal};
use crate::{failure, finder, Global, Outcome};

/// The exit code when the lock was lost while the command ran.
pub(crate) const LOST: u8 = 5;

/// Takes the lock `name`, then runs `command` under it (or holds it until a signal).
pub(crate) fn run(g: &Global, name: &str, ttl: u64, command: &[String]) -> Outcome {
    let signals = block_signals();
    let f = finder(g)?;
    let p = g.printer();
    let child = Arc::new(AtomicI32::new(0));
    let lost = Arc::new(AtomicBool::new(false));
    let opts = options(ttl, signals, &child, &lost);
    let guard = match f.lock(name, opts) {
        Err(e) if e.kind() == ErrorKind::Interrupted => return Err(failure(1, "interrupted")),
        other => other?,
    };
    let (key, token) = (guard.key().to_string(), guard.token());
    p.line(
        || format!("locked {key} token {token}"),
        || json!({"event": "locked", "key": key, "token": token}),
    );
    let code = match command.split_first() {
        None => {
            wait_for_signal(&signals);
            Ok(0)
        }
        // Lost already (the process was paused right after it got the lock): the command
        // never runs.
        Some(_) if !guard.is_valid() => {
            lost.store(true, Ordering::SeqCst);
            Ok(0)
        }
        Some((program, args)) => {
            let held = Held {
                key: &key,
                token,
                lost: &lost,
            };
            run_under(program, args, held, signals, child)
        }
    };
    guard.unlock();
    p.line(
        || format!("unlocked {key}"),
        || json!({"event": "unlocked", "key": key}),
    );
    if lost.load(Ordering::SeqCst) {
        return Err(failure(
            LOST,
            format!("the lock {key} was lost while the command ran"),
        ));
    }
    match u8::try_from(code?) {
        Ok(0) => Ok(()),
        Ok(c) => Err(failure(c, "")),
        Err(_) => Err(failure(1, "")),
    }
}

/// The lock's options: a loss ends the command; a signal while waiting ends the wait.
fn options(
    ttl: u64,
    signals: libc::sigset_t,
    child: &Arc<AtomicI32>,
    lost: &Arc<AtomicBool>,
) -> LockOptions {
    let (pid, was_lost) = (child.clone(), lost.clone());
    LockOptions {
        ttl: Duration::from_secs(ttl),
        on_lost: Some(Arc::new(move |e: &Error| {
            eprintln!("turtle: {e}; ending the command");
            was_lost.store(true, Ordering::SeqCst);
            signal_child(&pid, libc::SIGTERM);
        })),
        // Ctrl-C while waiting for the lock gives up the wait (and leaves no waiter key).
        interrupt: Some(Arc::new(move || pending(&signals))),
        ..LockOptions::default()
    }
}

/// Runs the command with the lock's token and key, signals passed on: its exit code
/// (128 + N when signal N ended it).
/// What the command runs under: the lock's key and token, and whether it was lost.
struct Held<'a> {
    key: &'a str,
    token: i64,
    lost: &'a AtomicBool,
}

fn run_under(
    program: &str,
    args: &[String],
    held: Held<'_>,
    signals: libc::sigset_t,
    child_pid: Arc<AtomicI32>,
) -> Result<i32, crate::Failure> {
    let (key, token) = (held.key, held.token);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("TURTLE_LOCK_TOKEN", token.to_string())
        .env("TURTLE_LOCK_KEY", key);
    // SAFETY: only an async-signal-safe call between fork and exec.
    unsafe { cmd.pre_exec(unblock_signals) };
    let mut child = cmd
        .spawn()
        .map_err(|e| failure(2, format!("cannot run {program}: {e}")))?;
    child_pid.store(child.id() as i32, Ordering::SeqCst);
    // A loss told before the pid was there found no child to end: this one ends it. (The
    // loss sets the flag before it reads the pid, so one of the two sees the other.)
    if held.lost.load(Ordering::SeqCst) {
        signal_child(&child_pid, libc::SIGTERM);
    }
    forward_signals(signals, child_pid);
    let status = child.wait().map_err(|e| failure(1, e.to_string()))?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

fn signal_child(pid: &AtomicI32, sig: i32) {
    let pid = pid.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: a plain kill of our own child.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Signals to this process go on to the command, which decides how to end.
fn forward_signals(signals: libc::sigset_t, child: Arc<AtomicI32>) {
    std::thread::spawn(move || loop {
        let mut sig = 0;
        // SAFETY: `signals` was made by block_signals; sigwait writes `sig`.
        unsafe { libc::sigwait(&signals, &mut sig) };
        signal_child(&child, sig);
    });
}

/// In the child before exec: the signals this process blocked are the command's again.
fn unblock_signals() -> std::io::Result<()> {
    // SAFETY: sigemptyset/sigprocmask on a local set are async-signal-safe.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    Ok(())
}

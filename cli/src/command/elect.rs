//! `turtle elect NAME VALUE`: campaign, lead until Ctrl-C, SIGTERM or SIGHUP, then resign;
//! `turtle elect --listen NAME`: a line per leader change. The same election as
//! `etcdctl elect NAME` and Go's `concurrency.Election` of that name.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use turtle_finder::{Error, ErrorKind, Leader, LockOptions};

use super::lock::LOST;
use super::signals::{block_signals, pending, wait_for_signal};
use crate::print::{shown, text, value_json, with};
use crate::{failure, finder, Global, Outcome};

/// Campaigns with `value` and leads until a signal (or the leadership's loss) ends it.
pub(crate) fn run(g: &Global, name: &str, value: &str, ttl: u64) -> Outcome {
    let signals = block_signals();
    let f = finder(g)?;
    let p = g.printer();
    let lost = Arc::new(AtomicBool::new(false));
    let was_lost = lost.clone();
    let opts = LockOptions {
        ttl: Duration::from_secs(ttl),
        on_lost: Some(Arc::new(move |e: &Error| {
            eprintln!("turtle: {e}");
            was_lost.store(true, Ordering::SeqCst);
            // SAFETY: a plain syscall on this process: it ends the wait below.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        })),
        interrupt: Some(Arc::new(move || pending(&signals))),
        ..LockOptions::default()
    };
    let leading = match f.campaign(name, value.as_bytes(), opts) {
        Err(e) if e.kind() == ErrorKind::Interrupted => return Err(failure(1, "interrupted")),
        other => other?,
    };
    let (key, token) = (leading.key().to_string(), leading.token());
    p.line(
        || format!("leading {key} token {token}"),
        || json!({"event": "leading", "key": key, "token": token}),
    );
    wait_for_signal(&signals);
    leading.resign();
    if lost.load(Ordering::SeqCst) {
        return Err(failure(LOST, format!("the leadership {key} was lost")));
    }
    p.line(
        || format!("resigned {key}"),
        || json!({"event": "resigned", "key": key}),
    );
    Ok(())
}

/// Prints the leader of `name`, then a line each time it changes, until a signal.
pub(crate) fn listen(g: &Global, name: &str) -> Outcome {
    let signals = block_signals();
    let f = finder(g)?;
    let p = g.printer();
    let _w = f.observe(name, move |l: Option<&Leader>| {
        p.line(
            || match l {
                None => "(no leader)".to_string(),
                Some(l) => format!("{} {} {}", l.revision, text(&l.key), shown(&l.value)),
            },
            || match l {
                None => json!({"leader": null}),
                Some(l) => {
                    let doc = json!({"key": l.key, "revision": l.revision});
                    json!({ "leader": with(doc, value_json(Some(&l.value))) })
                }
            },
        )
    })?;
    wait_for_signal(&signals);
    Ok(())
}

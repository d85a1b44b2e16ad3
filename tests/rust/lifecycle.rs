//! Thread lifecycle of a finder: close and drop join both threads; closing from inside a
//! callback does not deadlock. One test in its own binary, so thread counts are exact.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::unbounded;
use turtle_finder::{Config, ErrorKind, ServiceFinder};
use turtle_tests::Cluster;

const WAIT: Duration = Duration::from_secs(20);

/// How many threads of this process have this name.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

fn counts() -> (usize, usize) {
    (
        threads_named("turtle-runtime"),
        threads_named("turtle-dispatch"),
    )
}

#[test]
fn close_and_drop_join_both_threads_and_close_works_from_a_callback() {
    let c = Cluster::start();
    let cfg = Config::new(c.endpoints()).unwrap();
    assert_eq!(counts(), (0, 0));

    // close() with live watches: returns, joins both threads, and no callback runs after.
    let f = ServiceFinder::new(cfg.clone()).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, delivered) = unbounded();
    for name in ["a", "b", "c"] {
        let (n, tx) = (calls.clone(), tx.clone());
        f.watch_service(name, move |_| {
            n.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(());
        })
        .unwrap();
    }
    c.put_via(0, "/services/a", "1");
    delivered.recv_timeout(WAIT).unwrap();
    assert_eq!(counts(), (1, 1));
    f.close();
    assert_eq!(counts(), (0, 0), "close joined both threads");
    let before = calls.load(Ordering::SeqCst);
    let witness = ServiceFinder::new(cfg.clone()).unwrap();
    let (wtx, wrx) = unbounded();
    witness
        .watch_service("b", move |ch| wtx.send(ch.revision).unwrap())
        .unwrap();
    let rev = c.put_via(0, "/services/b", "2");
    assert_eq!(wrx.recv_timeout(WAIT).unwrap(), rev);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "no callback after close"
    );
    drop(witness);

    // Drop without close, watches live: the same.
    let f = ServiceFinder::new(cfg.clone()).unwrap();
    f.watch_service("a", |_| {}).unwrap();
    assert_eq!(counts(), (1, 1));
    drop(f);
    assert_eq!(counts(), (0, 0), "drop joined both threads");

    // close() from inside a callback: returns, and the finder is closed.
    let f = Arc::new(ServiceFinder::new(cfg).unwrap());
    let (done_tx, done) = unbounded();
    let me = f.clone();
    f.watch_service("stop", move |_| {
        me.close();
        done_tx
            .send(me.get_service("stop").unwrap_err().kind())
            .unwrap();
    })
    .unwrap();
    c.put_via(0, "/services/stop", "now");
    assert_eq!(done.recv_timeout(WAIT).unwrap(), ErrorKind::Closed);
    assert_eq!(
        threads_named("turtle-runtime"),
        0,
        "runtime joined from the callback"
    );
    assert_eq!(f.get_service("stop").unwrap_err().kind(), ErrorKind::Closed);
}

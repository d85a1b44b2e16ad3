//! Watches against a real cluster: delivery, cancel semantics, re-entrancy, panics,
//! compaction.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver};
use turtle_finder::{Change, ChangeKind, Config, ServiceFinder, WatchOptions};
use turtle_tests::{Cluster, Mode, Proxy};

const WAIT: Duration = Duration::from_secs(20);

fn finder(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap()).unwrap()
}

/// A callback that forwards every change to a channel.
fn recorder() -> (impl FnMut(&Change) + Send + 'static, Receiver<Change>) {
    let (tx, rx) = unbounded();
    (move |c: &Change| tx.send(c.clone()).unwrap(), rx)
}

fn next(rx: &Receiver<Change>) -> Change {
    rx.recv_timeout(WAIT)
        .expect("a change within the wait limit")
}

#[test]
fn every_change_in_order_and_delete_is_none() {
    let c = Cluster::start();
    let f = finder(&c);
    let (cb, rx) = recorder();
    let _w = f.watch_service("cdd", cb).unwrap();
    let mut revs = Vec::new();
    for i in 0..50 {
        revs.push(c.put_via(i % 3, "/services/cdd", format!("v{i}")));
    }
    let del = c.delete_via(1, "/services/cdd");
    c.put_via(0, "/services/other", "not watched");
    for (i, rev) in revs.iter().enumerate() {
        let ch = next(&rx);
        assert_eq!(
            (ch.kind, ch.value_str().unwrap(), ch.revision),
            (ChangeKind::Put, Some(format!("v{i}").as_str()), *rev)
        );
        assert_eq!(ch.skipped, 0);
    }
    let ch = next(&rx);
    assert_eq!(
        (ch.kind, ch.value.clone(), ch.revision),
        (ChangeKind::Delete, None, del)
    );
    assert_eq!(ch.value_str().unwrap(), None);
}

#[test]
fn initial_value_first_then_changes_without_a_gap() {
    let c = Cluster::start();
    let f = finder(&c);
    let r0 = c.put_via(0, "/services/cdd", "before");
    let (cb, rx) = recorder();
    let _w = f
        .watch_service_with("cdd", WatchOptions::initial(), cb)
        .unwrap();
    let r1 = c.put_via(1, "/services/cdd", "after");
    let first = next(&rx);
    assert_eq!(
        (first.kind, first.value_str().unwrap(), first.revision),
        (ChangeKind::Initial, Some("before"), r0)
    );
    let second = next(&rx);
    assert_eq!(
        (second.kind, second.value_str().unwrap(), second.revision),
        (ChangeKind::Put, Some("after"), r1)
    );

    let (cb, rx) = recorder();
    let _w = f
        .watch_service_with("absent", WatchOptions::initial(), cb)
        .unwrap();
    let ch = next(&rx);
    assert_eq!((ch.kind, ch.value), (ChangeKind::Initial, None));
}

/// Sends on drop: proves a callback was released.
struct DropSignal(crossbeam_channel::Sender<()>);
impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn cancel_while_a_slow_callback_runs_waits_for_it_and_ends_all_calls() {
    let c = Cluster::start();
    let f = finder(&c);
    let (entered_tx, entered) = unbounded::<()>();
    let (release, released) = unbounded::<()>();
    let (dropped_tx, dropped) = unbounded::<()>();
    let cancel_returned = Arc::new(AtomicBool::new(false));
    let late_calls = Arc::new(AtomicUsize::new(0));
    let (guard, flag, late) = (
        DropSignal(dropped_tx),
        cancel_returned.clone(),
        late_calls.clone(),
    );
    let w = f
        .watch_service("slow", move |_| {
            let _keep = &guard;
            if flag.load(Ordering::SeqCst) {
                late.fetch_add(1, Ordering::SeqCst);
            }
            entered_tx.send(()).unwrap();
            let _ = released.recv_timeout(WAIT);
        })
        .unwrap();
    // A witness on the same finder shows when later changes have been dispatched.
    let (cb, witness) = recorder();
    let _witness = f.watch_service("slow", cb).unwrap();

    c.put_via(0, "/services/slow", "1");
    c.put_via(0, "/services/slow", "2");
    entered.recv_timeout(WAIT).expect("callback entered");
    let w = Arc::new(w);
    let canceller = {
        let (w, flag) = (w.clone(), cancel_returned.clone());
        std::thread::spawn(move || {
            w.cancel();
            flag.store(true, Ordering::SeqCst);
        })
    };
    // The callback is still blocked, so cancel cannot have returned and released it.
    assert!(
        dropped.recv_timeout(Duration::from_millis(200)).is_err(),
        "callback released while running"
    );
    release.send(()).unwrap();
    canceller.join().unwrap();
    dropped
        .try_recv()
        .expect("cancel returned only after releasing the callback");
    for i in 3..10 {
        c.put_via(0, "/services/slow", i.to_string());
    }
    while next(&witness).value_str().unwrap() != Some("9") {}
    assert_eq!(
        late_calls.load(Ordering::SeqCst),
        0,
        "callback ran after cancel returned"
    );
    w.cancel(); // idempotent
    assert!(w.is_cancelled());
}

#[test]
fn cancel_from_inside_the_callback() {
    let c = Cluster::start();
    let f = finder(&c);
    let calls = Arc::new(AtomicUsize::new(0));
    let handle: Arc<OnceLock<turtle_finder::Watch>> = Arc::default();
    let (n, h) = (calls.clone(), handle.clone());
    let w = f
        .watch_service("self", move |_| {
            if n.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                h.get().expect("handle set").cancel();
            }
        })
        .unwrap();
    handle.set(w).unwrap();
    let (cb, witness) = recorder();
    let _witness = f.watch_service("self", cb).unwrap();
    for i in 0..10 {
        c.put_via(1, "/services/self", i.to_string());
    }
    while next(&witness).value_str().unwrap() != Some("9") {}
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(handle.get().unwrap().is_cancelled());
}

#[test]
fn a_callback_may_look_up_and_watch_without_deadlock() {
    let c = Cluster::start();
    let f = Arc::new(finder(&c));
    c.put_via(0, "/services/peer", "peer-value");
    let (got_tx, got) = unbounded::<String>();
    let (inner_cb, inner) = recorder();
    let inner_cb = Arc::new(parking_lot::Mutex::new(Some(inner_cb)));
    let me = f.clone();
    let _w = f
        .watch_service("outer", move |_| {
            let v = me.get_service("peer").unwrap().unwrap();
            if let Some(mut cb) = inner_cb.lock().take() {
                // The handle may go: the watch lives until the finder closes.
                let _ = me.watch_service("inner", move |ch| cb(ch)).unwrap();
            }
            got_tx.send(v).unwrap();
        })
        .unwrap();
    c.put_via(0, "/services/outer", "go");
    assert_eq!(got.recv_timeout(WAIT).unwrap(), "peer-value");
    c.put_via(0, "/services/inner", "nested");
    assert_eq!(next(&inner).value_str().unwrap(), Some("nested"));
    f.close(); // breaks the finder <-> callback cycle
}

#[test]
fn a_panicking_callback_leaves_the_dispatcher_alive() {
    let c = Cluster::start();
    let f = finder(&c);
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("boom", move |ch| {
            if ch.value_str().unwrap() == Some("panic") {
                panic!("test panic in a callback");
            }
            tx.send(ch.clone()).unwrap();
        })
        .unwrap();
    c.put_via(0, "/services/boom", "panic");
    c.put_via(0, "/services/boom", "after");
    assert_eq!(next(&rx).value_str().unwrap(), Some("after"));
    // Other watches of the finder run too.
    let (cb, other) = recorder();
    let _o = f.watch_service("boom2", cb).unwrap();
    c.put_via(0, "/services/boom2", "x");
    assert_eq!(next(&other).value_str().unwrap(), Some("x"));
}

#[test]
fn compaction_while_held_back_delivers_one_reset_and_goes_on() {
    let c = Cluster::start();
    let proxies: Vec<Proxy> = c
        .endpoints()
        .iter()
        .map(|e| Proxy::start(e).unwrap())
        .collect();
    let cfg = Config::new(proxies.iter().map(|p| p.endpoint())).unwrap();
    let f = ServiceFinder::new(cfg).unwrap();
    let (cb, rx) = recorder();
    let (etx, errors) = unbounded();
    let _w = f
        .watch_service_with(
            "cdd",
            WatchOptions::default().on_error(move |e| etx.send(e.clone()).unwrap()),
            cb,
        )
        .unwrap();
    c.put_via(0, "/services/cdd", "v1");
    assert_eq!(next(&rx).value_str().unwrap(), Some("v1"));

    // Hold every connection of the finder: its watch can neither deliver nor move.
    for p in &proxies {
        p.set(Mode::Hold);
    }
    let mut last = 0;
    for v in 2..=5 {
        last = c.put_via(0, "/services/cdd", format!("v{v}"));
    }
    c.compact_via(0, last);
    // The finder notices it is cut off and says so through the error callback.
    let e = errors
        .recv_timeout(WAIT)
        .expect("an error while every member is unreachable");
    assert_eq!(e.kind(), turtle_finder::ErrorKind::Unavailable, "{e}");
    for p in &proxies {
        p.set(Mode::Pass);
    }
    let reset = next(&rx);
    assert_eq!(
        (reset.kind, reset.value_str().unwrap(), reset.revision),
        (ChangeKind::Reset, Some("v5"), last)
    );
    let r6 = c.put_via(1, "/services/cdd", "v6");
    let ch = next(&rx);
    assert_eq!(
        (ch.kind, ch.value_str().unwrap(), ch.revision),
        (ChangeKind::Put, Some("v6"), r6)
    );
    assert!(rx.try_recv().is_err(), "exactly one reset");
}

#[test]
fn calls_after_close_fail_as_closed() {
    let c = Cluster::start();
    let f = finder(&c);
    let w = f.watch_service("x", |_| {}).unwrap();
    f.close();
    assert!(w.is_cancelled());
    assert_eq!(
        f.get_service("x").unwrap_err().kind(),
        turtle_finder::ErrorKind::Closed
    );
    assert_eq!(
        f.watch_service("x", |_| {}).unwrap_err().kind(),
        turtle_finder::ErrorKind::Closed
    );
    f.close(); // idempotent
    w.cancel();
}

#[test]
fn the_async_client_reads_and_streams_changes() {
    let c = Cluster::start();
    // The cluster helper blocks on its own runtime, so it is called between these steps.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    c.put_via(0, "/services/async", "a");
    let client = rt
        .block_on(turtle_finder::Client::connect(
            Config::new(c.endpoints()).unwrap(),
        ))
        .unwrap();
    assert_eq!(
        rt.block_on(client.get_service("async")).unwrap().as_deref(),
        Some("a")
    );
    let mut stream = rt
        .block_on(client.watch_service("async", WatchOptions::initial()))
        .unwrap();
    let first = rt.block_on(stream.next()).unwrap().unwrap();
    assert_eq!(
        (first.kind, first.value_str().unwrap()),
        (ChangeKind::Initial, Some("a"))
    );
    let rev = c.put_via(1, "/services/async", "b");
    let ch = rt
        .block_on(async { tokio::time::timeout(WAIT, stream.next()).await })
        .expect("in time")
        .unwrap()
        .unwrap();
    assert_eq!(
        (ch.kind, ch.value_str().unwrap(), ch.revision),
        (ChangeKind::Put, Some("b"), rev)
    );
    stream.cancel();
    assert!(
        rt.block_on(stream.next()).is_none(),
        "a cancelled stream ends"
    );
}

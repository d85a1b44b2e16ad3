//! Hostile and careless conditions, each a defect found by probing (issue 8): members that
//! are not etcd, names that do not resolve or resolve slowly, hung members, an auth
//! cluster without credentials, oversized names, large catch-ups, a cluster replaced under
//! a watch, and callbacks of two finders that cancel or close each other.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use turtle_finder::{Change, ChangeKind, Config, Error, ErrorKind, ReadOptions, ServiceFinder};
use turtle_tests::{in_private_resolver, Cluster, Dns, DnsServer, Fake, FakeMember, Mode, Proxy};

const WAIT: Duration = Duration::from_secs(20);

fn finder_of(endpoints: &[String]) -> ServiceFinder {
    ServiceFinder::new(Config::new(endpoints).unwrap()).unwrap()
}

fn deadline(secs: u64) -> ReadOptions {
    ReadOptions::deadline(Duration::from_secs(secs))
}

/// Every change of a watch, and that an error came, in one channel.
enum Seen {
    Change(Change),
    Error,
}

fn watch_all(f: &ServiceFinder, name: &str) -> (turtle_finder::Watch, Receiver<Seen>) {
    let (tx, rx) = unbounded();
    let tx2 = tx.clone();
    let w = f
        .watch_service_with(
            name,
            turtle_finder::WatchOptions::default()
                .on_error(move |_: &Error| tx2.send(Seen::Error).unwrap()),
            move |c: &Change| tx.send(Seen::Change(c.clone())).unwrap(),
        )
        .unwrap();
    (w, rx)
}

/// The next change, counting the errors before it.
fn next_change(rx: &Receiver<Seen>, errors: &mut usize) -> Change {
    loop {
        match rx
            .recv_timeout(WAIT)
            .expect("a change within the wait limit")
        {
            Seen::Change(c) => return c,
            Seen::Error => *errors += 1,
        }
    }
}

#[test]
fn members_that_are_not_etcd_fail_over_to_one_that_is() {
    let c = Cluster::start();
    for kind in [Fake::Http1, Fake::Http2NotFound, Fake::Garbage] {
        c.put_via(0, "/services/cdd", format!("{kind:?}"));
        let fake = FakeMember::start(kind).unwrap();
        let f = finder_of(&[fake.endpoint(), c.endpoint(0)]);
        let value = f.get_service("cdd").unwrap();
        assert_eq!(value, Some(format!("{kind:?}")), "{kind:?}");
        let (_w, rx) = watch_all(&f, "cdd");
        let rev = c.put_via(1, "/services/cdd", "changed");
        assert_eq!(next_change(&rx, &mut 0).revision, rev, "{kind:?}");

        let alone = finder_of(&[fake.endpoint()]);
        let e = alone.get_service_with("cdd", deadline(1)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{kind:?}: {e}");
        assert_eq!(e.attempts()[0].member, fake.endpoint(), "{e}");
        let e = alone.watch_service("cdd", |_| {}).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{kind:?}: {e}");
    }
}

#[test]
fn hung_members_are_unavailable_whatever_the_deadline() {
    let c = Cluster::start();
    // Keepalive failures within the deadline (the test cluster allows pings this often)
    // must not turn "nobody answered" into "deadline exceeded".
    let cfg = Config::new(c.endpoints())
        .unwrap()
        .with_keepalive(Duration::from_millis(500), Duration::from_millis(500));
    let f = ServiceFinder::new(cfg).unwrap();
    f.get_service("cdd").unwrap();
    (0..3).for_each(|i| c.stop(i));
    let e = f.get_service_with("cdd", deadline(4)).unwrap_err();
    (0..3).for_each(|i| c.cont(i));
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(e.attempts().len(), 3, "{e}");
}

#[test]
fn a_name_that_does_not_resolve_is_unavailable_and_said_once() {
    if !in_private_resolver("hostile::a_name_that_does_not_resolve_is_unavailable_and_said_once") {
        return;
    }
    let _dns = DnsServer::start(Dns::NoSuchName);
    let f = finder_of(&["nosuch.turtle.test:2379".into()]);
    let e = f.get_service_with("cdd", deadline(2)).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{text}");
    assert!(
        text.contains("nosuch.turtle.test:2379: dns error"),
        "{text}"
    );
    assert_eq!(text.matches("dns error").count(), 1, "{text}");
}

#[test]
fn close_does_not_wait_for_a_slow_name_lookup() {
    if !in_private_resolver("hostile::close_does_not_wait_for_a_slow_name_lookup") {
        return;
    }
    let dns = DnsServer::start(Dns::Silent);
    let f = Arc::new(finder_of(&["slow.turtle.test:2379".into()]));
    let g = f.clone();
    let lookup = std::thread::spawn(move || g.get_service_with("cdd", deadline(60)));
    assert!(
        dns.wait_for_query(),
        "the lookup never asked the name server"
    );
    let t = Instant::now();
    f.close();
    let took = t.elapsed();
    assert_eq!(
        lookup.join().unwrap().unwrap_err().kind(),
        ErrorKind::Closed
    );
    // The resolver waits 20 s for an answer; close must not (it took 19 s before).
    assert!(took < Duration::from_secs(5), "close took {took:?}");
}

#[test]
fn an_auth_cluster_without_credentials_is_permission_denied() {
    let c = Cluster::start();
    c.etcdctl(&["user", "add", "root:rootpw"]);
    c.etcdctl(&["auth", "enable"]);
    let f = finder_of(&c.endpoints());
    let t = Instant::now();
    let e = f.get_service("cdd").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("requires authentication"), "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "no retry loop: {:?}",
        t.elapsed()
    );
    let e = f.watch_service("cdd", |_| {}).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
}

#[test]
fn oversized_names_are_refused_at_once_and_harm_no_other_watch() {
    let c = Cluster::start();
    let f = finder_of(&c.endpoints());
    let (_healthy, rx) = watch_all(&f, "healthy");
    let huge = "n".repeat(2 << 20);
    for e in [
        f.get_service(&huge).unwrap_err(),
        f.watch_service(&huge, |_| {}).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("at most 1024"), "{e}");
    }
    let limit = "n".repeat(turtle_finder::MAX_NAME_BYTES);
    assert_eq!(f.get_service(&limit).unwrap(), None);
    let rev = c.put_via(0, "/services/healthy", "still here");
    let mut errors = 0;
    assert_eq!(next_change(&rx, &mut errors).revision, rev);
    assert_eq!(errors, 0);
}

/// Writes `values` while the finder's watch stream is held (its member looks hung), so
/// the stream moves to another member and gets them there in one catch-up.
fn catch_up(c: &Cluster, proxy: &Proxy, name: &str, values: &[Vec<u8>]) -> Vec<i64> {
    proxy.set(Mode::Hold);
    let key = format!("/services/{name}");
    let revs = values
        .iter()
        .map(|v| c.put_via(1, &key, v.clone()))
        .collect();
    revs
}

fn big(n: usize, fill: u8) -> Vec<u8> {
    vec![fill; n]
}

#[test]
fn a_catch_up_larger_than_4_mib_is_delivered() {
    let c = Cluster::start();
    let proxy = Proxy::start(&c.endpoint(0)).unwrap();
    let f = finder_of(&[proxy.endpoint(), c.endpoint(1), c.endpoint(2)]);
    let (_w, rx) = watch_all(&f, "large");
    let values = [
        big(1_400_000, b'a'),
        big(1_400_000, b'b'),
        big(1_400_000, b'c'),
    ];
    let revs = catch_up(&c, &proxy, "large", &values);
    let mut errors = 0;
    for (v, rev) in values.iter().zip(&revs) {
        let ch = next_change(&rx, &mut errors);
        assert_eq!((ch.kind, ch.revision), (ChangeKind::Put, *rev));
        assert_eq!(ch.value.as_ref(), Some(v));
    }
    let rev = c.put_via(2, "/services/large", "small");
    assert_eq!(next_change(&rx, &mut errors).revision, rev);
    proxy.set(Mode::Pass);
}

#[test]
fn a_catch_up_too_large_to_read_is_reported_and_read_anew() {
    let c = Cluster::start();
    let proxy = Proxy::start(&c.endpoint(0)).unwrap();
    let cfg = Config::new([proxy.endpoint(), c.endpoint(1), c.endpoint(2)])
        .unwrap()
        .with_max_response_bytes(1 << 20)
        .unwrap();
    let f = ServiceFinder::new(cfg).unwrap();
    let (w, rx) = watch_all(&f, "wedged");
    let values = [big(400_000, b'a'), big(400_000, b'b'), big(400_000, b'c')];
    let revs = catch_up(&c, &proxy, "wedged", &values);
    let mut errors = 0;
    let reset = next_change(&rx, &mut errors);
    assert_eq!(reset.kind, ChangeKind::Reset);
    assert_eq!(
        (reset.revision, reset.value.as_ref()),
        (revs[2], Some(&values[2]))
    );
    assert!(errors >= 1, "the skipped catch-up is reported");
    let rev = c.put_via(2, "/services/wedged", "small");
    let after = next_change(&rx, &mut errors);
    assert_eq!((after.kind, after.revision), (ChangeKind::Put, rev));
    assert!(errors < 10, "{errors} errors: the watch looped");
    assert!(w.last_error().is_none(), "recovered: last_error is cleared");
    proxy.set(Mode::Pass);
}

/// A cluster replaced under a watch (`new_identity`: another cluster id; else the same
/// id, as after a restore in place) starts again at revision 1: the watch must see it.
fn replaced_cluster_is_read_anew(new_identity: bool) {
    let mut c = Cluster::start();
    let f = finder_of(&c.endpoints());
    let (_w, rx) = watch_all(&f, "moved");
    let mut errors = 0;
    for i in 0..30 {
        c.put_via(0, "/services/moved", format!("old{i}"));
    }
    while next_change(&rx, &mut errors).value.as_deref() != Some(b"old29".as_slice()) {}
    c.recreate(new_identity);
    let last = (0..5)
        .map(|i| c.put_via(0, "/services/moved", format!("new{i}")))
        .last()
        .unwrap();
    assert!(last < 30, "the new cluster counts from 1 again");
    let mut kinds = Vec::new();
    loop {
        let ch = next_change(&rx, &mut errors);
        kinds.push(ch.kind);
        if ch.revision == last {
            assert_eq!(ch.value.as_deref(), Some(b"new4".as_slice()));
            break;
        }
    }
    assert!(kinds.contains(&ChangeKind::Reset), "{kinds:?}");
}

#[test]
fn a_cluster_replaced_with_another_id_is_read_anew() {
    replaced_cluster_is_read_anew(true);
}

#[test]
fn a_cluster_restored_in_place_is_read_anew() {
    replaced_cluster_is_read_anew(false);
}

/// Two finders whose callbacks, both running at once, act on each other.
fn cross_finder(act: fn(&Shared, usize)) {
    let c = Cluster::start();
    let shared = Arc::new(Shared {
        finders: [finder_of(&c.endpoints()), finder_of(&c.endpoints())],
        watches: Default::default(),
        both_in: Barrier::new(2),
        done: AtomicUsize::new(0),
    });
    let (tx, rx) = unbounded();
    for i in 0..2 {
        let (s, tx) = (shared.clone(), tx.clone());
        let cb = move |_: &Change| {
            s.both_in.wait(); // both callbacks run now
            act(&s, 1 - i);
            s.done.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(i);
        };
        let w = shared.finders[i]
            .watch_service(&format!("cross{i}"), cb)
            .unwrap();
        shared.watches.lock().push(Arc::new(w));
    }
    c.put_via(0, "/services/cross0", "go");
    c.put_via(1, "/services/cross1", "go");
    for _ in 0..2 {
        rx.recv_timeout(WAIT)
            .expect("both callbacks returned: no deadlock");
    }
    assert_eq!(shared.done.load(Ordering::SeqCst), 2);
}

struct Shared {
    finders: [ServiceFinder; 2],
    watches: parking_lot::Mutex<Vec<Arc<turtle_finder::Watch>>>,
    both_in: Barrier,
    done: AtomicUsize,
}

#[test]
fn callbacks_of_two_finders_cancelling_each_others_watch_do_not_deadlock() {
    cross_finder(|s, other| {
        let w = s.watches.lock()[other].clone(); // not under the test's own lock
        w.cancel();
        assert!(w.is_cancelled());
    });
}

#[test]
fn callbacks_of_two_finders_closing_each_other_do_not_deadlock() {
    cross_finder(|s, other| s.finders[other].close());
}

#[test]
fn every_concurrent_close_waits_for_the_running_callback() {
    let c = Cluster::start();
    let f = Arc::new(finder_of(&c.endpoints()));
    let (entered_tx, entered) = unbounded();
    let (release, released) = unbounded::<()>();
    let running = Arc::new(AtomicUsize::new(0));
    let r = running.clone();
    let _w = f
        .watch_service("slow", move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            entered_tx.send(()).unwrap();
            released.recv().unwrap();
            r.fetch_sub(1, Ordering::SeqCst);
        })
        .unwrap();
    c.put_via(0, "/services/slow", "1");
    entered.recv_timeout(WAIT).unwrap();
    let (closed_tx, closed) = unbounded();
    let closers: Vec<_> = (0..2)
        .map(|_| {
            let (f, tx, running) = (f.clone(), closed_tx.clone(), running.clone());
            std::thread::spawn(move || {
                f.close();
                tx.send(running.load(Ordering::SeqCst)).unwrap();
            })
        })
        .collect();
    // Neither close may return while the callback runs (both did at once before).
    assert!(closed.recv_timeout(Duration::from_millis(500)).is_err());
    release.send(()).unwrap();
    for _ in 0..2 {
        assert_eq!(
            closed.recv_timeout(WAIT).unwrap(),
            0,
            "a callback ran after close"
        );
    }
    closers.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn close_timeout_abandons_a_callback_that_never_returns() {
    let c = Cluster::start();
    let f = finder_of(&c.endpoints());
    let (entered_tx, entered) = unbounded();
    let (release, released) = unbounded::<()>();
    let _w = f
        .watch_service("stuck", move |_| {
            entered_tx.send(()).unwrap();
            let _ = released.recv();
        })
        .unwrap();
    c.put_via(0, "/services/stuck", "1");
    entered.recv_timeout(WAIT).unwrap();
    assert!(
        !f.close_timeout(Duration::from_millis(300)),
        "the callback is stuck"
    );
    assert_eq!(
        f.get_service("stuck").unwrap_err().kind(),
        ErrorKind::Closed
    );
    drop(release); // the stuck callback returns; its abandoned thread ends
}

#[test]
fn values_of_any_bytes_and_size_by_lookup_and_watch() {
    let c = Cluster::start();
    let f = finder_of(&c.endpoints());
    let (_w, rx) = watch_all(&f, "bytes");
    let every: Vec<u8> = (0..=255).collect();
    for value in [big(1_400_000, b't'), every, b"a\0b\0\0c".to_vec()] {
        let rev = c.put_via(0, "/services/bytes", value.clone());
        let ch = next_change(&rx, &mut 0);
        assert_eq!((ch.revision, ch.value.as_ref()), (rev, Some(&value)));
        let read = f.get_service_bytes("bytes", Default::default()).unwrap();
        assert_eq!(read.as_ref(), Some(&value));
        match std::str::from_utf8(&value) {
            Ok(text) => assert_eq!(f.get_service("bytes").unwrap().as_deref(), Some(text)),
            Err(_) => assert_eq!(
                f.get_service("bytes").unwrap_err().kind(),
                ErrorKind::InvalidValue
            ),
        }
    }
}

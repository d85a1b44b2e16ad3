//! Locks (issue 20) against a real cluster: turns and fencing tokens, the keys of etcd's
//! Go recipe shared with `etcdctl lock`, a waiter whose lease dies, a holder whose key is
//! deleted, a member killed under a holder, and bad input.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crossbeam_channel::{unbounded, RecvTimeoutError};
use turtle_finder::{Config, ErrorKind, LockGuard, LockOptions, ServiceFinder, WriteOptions};
use turtle_tests::Cluster;

const WAIT: Duration = Duration::from_secs(20);

fn finder(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap()).unwrap()
}

/// The keys under `<name>/`, oldest first.
fn waiter_keys(c: &Cluster, name: &str) -> Vec<String> {
    let out = c.etcdctl(&[
        "get",
        "--prefix",
        "--keys-only",
        "--sort-by=CREATE",
        "--order=ASCEND",
        &format!("{name}/"),
    ]);
    out.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Waits until `name` has `n` waiter keys (no event says so outside the finder).
fn await_waiters(c: &Cluster, name: &str, n: usize) -> Vec<String> {
    let end = Instant::now() + WAIT;
    loop {
        let keys = waiter_keys(c, name);
        if keys.len() == n {
            return keys;
        }
        assert!(Instant::now() < end, "never {n} waiters: {keys:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the guard's `lost` on a runtime of the test's own.
fn await_lost(g: &LockGuard) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::timeout(WAIT, g.lost()).await })
        .expect("lost never fired");
}

#[test]
fn two_finders_take_turns_with_growing_tokens_and_leave_no_keys() {
    let c = Cluster::start();
    let (a, b) = (finder(&c), finder(&c));
    let held = a.lock("jobs", LockOptions::default()).unwrap();
    assert!(held.is_valid());
    assert_eq!(held.key(), format!("jobs/{:x}", held.lease()));
    assert!(b
        .try_lock("jobs", LockOptions::default())
        .unwrap()
        .is_none());
    assert_eq!(waiter_keys(&c, "jobs"), [held.key()], "try_lock left a key");

    let waiter = std::thread::spawn(move || {
        let g = b.lock("jobs", LockOptions::timeout(WAIT)).unwrap();
        (g.token(), g.key().to_string(), g.is_valid(), b, g)
    });
    await_waiters(&c, "jobs", 2);
    let first = held.token();
    held.unlock();
    assert!(!held.is_valid());
    held.unlock(); // idempotent
    let (token, key, valid, _b, g) = waiter.join().unwrap();
    assert!(valid);
    assert!(token > first, "{token} <= {first}");
    assert_eq!(waiter_keys(&c, "jobs"), [key]);
    g.unlock();
    assert_eq!(waiter_keys(&c, "jobs"), Vec::<String>::new());
}

#[test]
fn a_lock_waited_for_too_long_is_deadline_exceeded_and_leaves_no_key() {
    let c = Cluster::start();
    let (a, b) = (finder(&c), finder(&c));
    let held = a.lock("slow", LockOptions::default()).unwrap();
    let e = b
        .lock("slow", LockOptions::timeout(Duration::from_millis(300)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    assert_eq!(waiter_keys(&c, "slow"), [held.key()]);
}

#[test]
fn turtle_locks_and_etcdctl_lock_exclude_each_other_both_ways() {
    let c = Cluster::start();
    let f = finder(&c);
    // etcdctl holds: turtle waits until it lets go.
    let mut theirs = c
        .etcdctl_command()
        .args(["lock", "--ttl=5", "shared"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(theirs.stdout.take().unwrap());
    let mut their_key = String::new();
    out.read_line(&mut their_key).unwrap();
    assert!(their_key.starts_with("shared/"), "{their_key:?}");
    assert!(f
        .try_lock("shared", LockOptions::default())
        .unwrap()
        .is_none());
    let waiter = std::thread::spawn(move || {
        let g = f.lock("shared", LockOptions::timeout(WAIT));
        (f, g)
    });
    await_waiters(&c, "shared", 2);
    // SAFETY: a child of this test, not yet reaped.
    unsafe { libc::kill(theirs.id() as i32, libc::SIGTERM) };
    theirs.wait().unwrap();
    let (f, mine) = waiter.join().unwrap();
    let mine = mine.unwrap();
    assert_eq!(waiter_keys(&c, "shared"), [mine.key()]);

    // turtle holds: etcdctl's waiter key goes in after ours, and it prints only after
    // the unlock.
    let mut theirs = c
        .etcdctl_command()
        .args(["lock", "--ttl=5", "shared"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let keys = await_waiters(&c, "shared", 2);
    assert_eq!(keys[0], mine.key());
    let token = mine.token();
    mine.unlock();
    let mut out = BufReader::new(theirs.stdout.take().unwrap());
    let mut their_key = String::new();
    out.read_line(&mut their_key).unwrap();
    assert_eq!(their_key.trim(), keys[1]);
    let rev = c.etcdctl(&["get", "-w", "json", their_key.trim()]);
    let created: i64 = rev
        .split("\"create_revision\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.parse().ok())
        .expect("a create revision");
    assert!(created > token, "{created} <= {token}");
    // SAFETY: as above.
    unsafe { libc::kill(theirs.id() as i32, libc::SIGTERM) };
    theirs.wait().unwrap();
    drop(f);
}

/// etcd 3.4's Lock RPC grants to a waiter whose lease expired (etcd #9921); here a
/// waiter whose lease is revoked while it waits gets `SessionLost`, even when the holder
/// lets go right then.
#[test]
fn a_waiter_whose_lease_dies_gets_session_lost_never_the_lock() {
    let c = Cluster::start();
    let (a, b) = (finder(&c), finder(&c));
    let held = a.lock("fenced", LockOptions::default()).unwrap();
    let waiter = std::thread::spawn(move || {
        let got = b.lock("fenced", LockOptions::timeout(WAIT));
        (b, got)
    });
    let keys = await_waiters(&c, "fenced", 2);
    let lease = keys[1].rsplit('/').next().unwrap().to_string();
    c.etcdctl(&["lease", "revoke", &lease]);
    held.unlock();
    let (_b, got) = waiter.join().unwrap();
    let e = got.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SessionLost, "{e}");
    assert_eq!(waiter_keys(&c, "fenced"), Vec::<String>::new());
}

#[test]
fn a_holder_whose_key_is_deleted_loses_the_lock_for_good_and_its_fenced_writes_fail() {
    let c = Cluster::start();
    let f = finder(&c);
    let (tx, lost) = unbounded();
    let opts = LockOptions {
        on_lost: Some(Arc::new(move |e: &turtle_finder::Error| {
            tx.send((e.kind(), std::thread::current().name().map(str::to_string)))
                .unwrap();
        })),
        ..LockOptions::default()
    };
    let held = f.lock("taken", opts).unwrap();
    let fence = WriteOptions::if_owner(held.fence());
    f.put("/taken/state", b"1", fence.clone()).unwrap();
    c.etcdctl(&["del", held.key()]);
    await_lost(&held);
    assert!(!held.is_valid());
    let (kind, thread) = lost.recv_timeout(WAIT).unwrap();
    assert_eq!(kind, ErrorKind::SessionLost);
    assert_eq!(
        thread.as_deref(),
        Some("turtle-dispatch"),
        "on the dispatcher"
    );
    let e = f.put("/taken/state", b"late", fence.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    assert_eq!(f.get("/taken/state").unwrap().unwrap().value, b"1");
    // Another takes it; the old guard's unlock deletes nothing of the new holder's.
    let g = finder(&c);
    let other = g.lock("taken", LockOptions::default()).unwrap();
    held.unlock();
    assert_eq!(waiter_keys(&c, "taken"), [other.key()]);
    assert!(other.is_valid());
    let e = f.delete("/taken/state", fence).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    assert!(lost.try_recv().is_err(), "on_lost fired twice");
}

#[test]
fn an_unlock_is_no_loss_and_on_lost_stays_quiet() {
    let c = Cluster::start();
    let f = finder(&c);
    let (tx, lost) = unbounded::<()>();
    let opts = LockOptions {
        on_lost: Some(Arc::new(move |_: &turtle_finder::Error| {
            tx.send(()).unwrap()
        })),
        ..LockOptions::default()
    };
    let held = f.lock("quiet", opts).unwrap();
    held.unlock();
    await_lost(&held); // at once: no longer held
    drop(held);
    // The callback was dropped with the lock: the channel says so, no wait needed.
    assert_eq!(lost.recv_timeout(WAIT), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn writes_compare_and_swap_on_the_revision_read() {
    let c = Cluster::start();
    let f = finder(&c);
    let create = WriteOptions::if_revision(0);
    let rev = f.put("/cfg/limit", b"10", create.clone()).unwrap();
    let e = f.put("/cfg/limit", b"11", create).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    let entry = f.get("/cfg/limit").unwrap().unwrap();
    assert_eq!(
        (entry.value_str().unwrap(), entry.mod_revision),
        ("10", rev)
    );
    assert_eq!((entry.create_revision, entry.version), (rev, 1));
    let next = f
        .put("/cfg/limit", b"12", WriteOptions::if_revision(rev))
        .unwrap();
    assert!(next > rev);
    let e = f
        .delete("/cfg/limit", WriteOptions::if_revision(rev))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    f.delete("/cfg/limit", WriteOptions::if_revision(next))
        .unwrap();
    assert_eq!(f.get("/cfg/limit").unwrap(), None);
    f.put("/cfg/raw", &[0xff, 0], WriteOptions::default())
        .unwrap();
    let raw = f.get("/cfg/raw").unwrap().unwrap();
    assert_eq!(raw.value, [0xff, 0]);
    assert_eq!(raw.value_str().unwrap_err().kind(), ErrorKind::InvalidValue);
    let e = f.put("", b"x", WriteOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

/// The member the holder's keepalives go to is killed, then (restarted) the one they go to
/// then is stopped: they go to another, the lock is kept (no `lost`) and nobody else gets
/// it.
#[test]
fn a_member_killed_or_stopped_under_a_holder_keeps_the_lock() {
    let mut c = Cluster::start();
    let f = finder(&c);
    // A TTL with room for an election: the member may be the leader, and the keepalives
    // wait for the next one.
    let opts = LockOptions {
        ttl: Duration::from_secs(6),
        ..LockOptions::default()
    };
    let held = f.lock("kept", opts.clone()).unwrap();
    let other = finder(&c);
    for fault in ["SIGKILL", "SIGSTOP"] {
        let preferred = f.preferred_member().to_string();
        let i = (0..c.len()).find(|&i| c.endpoint(i) == preferred).unwrap();
        match fault {
            "SIGKILL" => c.kill(i),
            _ => c.stop(i),
        }
        // Past the TTL and half as much again: the lease lived only through keepalives
        // on the others.
        let end = Instant::now() + Duration::from_secs(9);
        while Instant::now() < end {
            assert!(held.is_valid(), "lost after {fault}");
            // During the election an attempt may fail (its own grant waits for a
            // leader), but it never gets the lock.
            if let Ok(got) = other.try_lock("kept", opts.clone()) {
                assert!(got.is_none(), "a second holder after {fault}");
            }
            std::thread::sleep(Duration::from_millis(200)); // a sample every 200 ms
        }
        match fault {
            "SIGKILL" => c.restart(i),
            _ => c.cont(i),
        }
    }
    held.unlock();
    assert!(other.try_lock("kept", opts).unwrap().is_some());
}

#[test]
fn bad_lock_names_and_ttls_are_invalid_arguments_that_write_nothing() {
    let c = Cluster::start();
    let f = finder(&c);
    for (name, ttl) in [
        ("", Duration::from_secs(10)),
        ("a\0b", Duration::from_secs(10)),
        ("ok", Duration::ZERO),
        ("ok", Duration::from_millis(1500)),
    ] {
        let opts = LockOptions {
            ttl,
            ..LockOptions::default()
        };
        let e = f.lock(name, opts.clone()).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidArgument,
            "{name:?} {ttl:?}: {e}"
        );
        let e = f.try_lock(name, opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    assert_eq!(c.etcdctl(&["lease", "list"]).trim(), "found 0 leases");
}

/// Closing the finder lets go of its locks and revokes the leases of abandoned attempts
/// before it returns, so a process that exits after it leaves no key for a TTL.
#[test]
fn closing_the_finder_lets_go_of_its_locks_before_it_returns() {
    let c = Cluster::start();
    let f = finder(&c);
    let held = f.lock("closing", LockOptions::default()).unwrap();
    let dropped = f.lock("dropped", LockOptions::default()).unwrap();
    drop(dropped);
    f.close();
    assert!(!held.is_valid());
    assert_eq!(waiter_keys(&c, "closing"), Vec::<String>::new());
    assert_eq!(waiter_keys(&c, "dropped"), Vec::<String>::new());
    assert_eq!(c.etcdctl(&["lease", "list"]).trim(), "found 0 leases");
    held.unlock(); // after close: nothing to do, and no hang
}

/// Locks on one shared session: no lease per lock, one lock per name on it, a timed-out
/// wait takes its key back and the session lives on, closing the session loses its locks.
#[test]
fn locks_share_a_session_and_go_with_it() {
    let c = Cluster::start();
    let (f, other) = (finder(&c), finder(&c));
    let s = f.lock_session(Duration::from_secs(10)).unwrap();
    let on = |timeout| LockOptions {
        session: Some(s.clone()),
        timeout,
        ..LockOptions::default()
    };
    let a = f.lock("shared-a", on(None)).unwrap();
    let b = f.lock("shared-b", on(None)).unwrap();
    assert_eq!((a.lease(), b.lease()), (s.lease(), s.lease()));
    let e = f.lock("shared-a", on(None)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    b.unlock();
    assert!(
        s.is_alive(),
        "an unlock on a shared session keeps the lease"
    );
    assert_eq!(
        c.etcdctl(&["lease", "list"]).lines().count(),
        2,
        "one lease"
    );
    let theirs = other.lock("shared-b", LockOptions::default()).unwrap();
    let e = f
        .lock("shared-b", on(Some(Duration::from_millis(300))))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    assert_eq!(
        waiter_keys(&c, "shared-b"),
        [theirs.key()],
        "the wait took its key back"
    );
    assert!(s.is_alive());
    s.close();
    await_lost(&a);
    assert!(!a.is_valid());
    let end = Instant::now() + WAIT;
    while !waiter_keys(&c, "shared-a").is_empty() {
        assert!(
            Instant::now() < end,
            "the session's revoke never took its keys"
        );
    }
}

/// A finder whose every member is behind a proxy of the test's own.
pub(crate) fn behind_proxies(c: &Cluster) -> (ServiceFinder, Vec<turtle_tests::Proxy>) {
    let proxies: Vec<_> = (0..c.len())
        .map(|i| turtle_tests::Proxy::start(&c.endpoint(i)).unwrap())
        .collect();
    let endpoints: Vec<String> = proxies.iter().map(|p| p.endpoint()).collect();
    (
        ServiceFinder::new(Config::new(endpoints).unwrap()).unwrap(),
        proxies,
    )
}

/// The proxy in front of the member the finder sends to now, after a read warmed it.
fn serving<'p>(f: &ServiceFinder, proxies: &'p [turtle_tests::Proxy]) -> &'p turtle_tests::Proxy {
    f.get("/warm").unwrap();
    let now = f.preferred_member().to_string();
    (proxies.iter())
        .find(|p| p.endpoint() == now)
        .expect("the preferred member is one of the proxies")
}

/// How many calls of `operation` another member answered than the one asked first.
fn failovers(f: &ServiceFinder, operation: &str) -> u64 {
    let line = format!("turtle_failovers_total{{operation=\"{operation}\"}} ");
    let text = f.metrics().unwrap();
    (text.lines())
        .find_map(|l| l.strip_prefix(line.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Answers lost on the way back (the member does what it was asked; the client never
/// hears): the acquire retried on another member finds its own key (no second waiter),
/// the unlock and the resign retried delete nothing of a newer lock on the same session.
#[test]
fn answers_lost_on_the_way_back_leave_no_second_key_and_delete_no_newer_lock() {
    use turtle_tests::Mode;
    let c = Cluster::start();
    let (f, proxies) = behind_proxies(&c);
    let session = f.lock_session(Duration::from_secs(10)).unwrap();
    let on_session = || LockOptions {
        session: Some(session.clone()),
        timeout: Some(WAIT),
        ..LockOptions::default()
    };
    // Acquire: the waiter key is put, its answer lost, the put retried elsewhere.
    let deaf = serving(&f, &proxies);
    deaf.set(Mode::Deaf);
    let first = f.lock("deaf", on_session()).unwrap();
    deaf.set(Mode::Pass);
    assert!(
        failovers(&f, "lock") >= 1,
        "the put went to another member too"
    );
    assert_eq!(
        waiter_keys(&c, "deaf"),
        [first.key()],
        "one key, the lock's"
    );
    let created = c.etcdctl(&["get", first.key(), "-w", "json"]);
    assert!(
        created.contains(&format!("\"create_revision\":{}", first.token())),
        "{created}"
    );
    // Unlock: the fenced delete applied, its answer lost; then a newer lock on the same
    // session (the same key) is untouched by the retry.
    let deaf = serving(&f, &proxies);
    deaf.set(Mode::Deaf);
    first.unlock();
    let newer = f.lock("deaf", on_session()).unwrap();
    deaf.set(Mode::Pass);
    assert!(
        failovers(&f, "unlock") >= 1,
        "the delete went to another member too"
    );
    assert_eq!(newer.key(), first.key(), "one session, one key");
    assert!(newer.token() > first.token());
    f.put("/deaf/probe", b"x", WriteOptions::if_owner(newer.fence()))
        .unwrap();
    assert!(newer.is_valid());
    assert_eq!(waiter_keys(&c, "deaf"), [newer.key()]);
    newer.unlock();
    // Resign: the same for a leadership.
    let leading = f.campaign("deaf-e", b"v", on_session()).unwrap();
    let deaf = serving(&f, &proxies);
    deaf.set(Mode::Deaf);
    leading.resign();
    let again = f.campaign("deaf-e", b"w", on_session()).unwrap();
    deaf.set(Mode::Pass);
    assert!(
        failovers(&f, "unlock") >= 2,
        "the resign's delete went to another member too"
    );
    assert!(again.token() > leading.token());
    let now = f.leader("deaf-e").unwrap().unwrap();
    assert_eq!(
        (now.revision, now.value.as_slice()),
        (again.token(), &b"w"[..])
    );
    again.resign();
    assert_eq!(waiter_keys(&c, "deaf-e"), Vec::<String>::new());
    assert!(session.is_alive(), "the session lived through it all");
}

/// While a waiter waits, the history its watch started from is compacted and its auth
/// token expires (`--auth-token-ttl 2`): the wait goes on, and ends with the lock once the
/// holder lets go, as the only key and with a larger token.
#[test]
fn a_wait_outlives_compaction_and_an_expired_auth_token() {
    let mut c = Cluster::start_with(turtle_tests::ClusterOptions {
        extra_args: vec!["--auth-token-ttl".into(), "2".into()],
        ..Default::default()
    });
    c.enable_auth("rootpw");
    let root = || {
        let cfg = Config::new(c.endpoints()).unwrap();
        ServiceFinder::new(cfg.with_auth("root", "rootpw").unwrap()).unwrap()
    };
    let (holder, waiter) = (root(), root());
    let held = holder.lock("waits", LockOptions::default()).unwrap();
    let waiting = std::thread::spawn(move || {
        let got = waiter.lock("waits", LockOptions::timeout(WAIT * 2));
        (waiter, got)
    });
    await_waiters(&c, "waits", 2);
    // Writes after the waiter's read, then compaction past them all.
    let mut last = 0;
    for i in 0..5 {
        last = holder
            .put(
                "/waits/noise",
                format!("{i}").as_bytes(),
                WriteOptions::default(),
            )
            .unwrap();
    }
    c.compact_via(0, last);
    // No event says a token expired: waited out, its TTL and a second.
    std::thread::sleep(Duration::from_secs(3));
    assert!(held.is_valid(), "the holder kept its lock through it");
    held.unlock();
    let (_waiter, got) = waiting.join().unwrap();
    let got = got.expect("the waiter got the lock");
    assert!(got.token() > held.token() && got.is_valid());
    assert_eq!(waiter_keys(&c, "waits"), [got.key()]);
}

/// The child's part below: holds lock `paused-holder` (TTL 2 s) and watches the service
/// `paused-noise`, printing each callback, until the parent ends it.
fn child_holds_and_watches() {
    let f = ServiceFinder::from_env().unwrap();
    let opts = LockOptions {
        ttl: Duration::from_secs(2),
        on_lost: Some(Arc::new(|_: &turtle_finder::Error| println!("child: lost"))),
        ..LockOptions::default()
    };
    let held = f.lock("paused-holder", opts).unwrap();
    let _w = f
        .watch_service("paused-noise", |ch| {
            let v = ch.value.as_deref().map(String::from_utf8_lossy);
            println!("child: change {}", v.unwrap_or_default());
        })
        .unwrap();
    println!("child: holding {} {}", held.key(), held.token());
    std::thread::sleep(Duration::from_secs(60)); // until the parent ends it
}

/// A holder stopped (SIGSTOP) past its TTL while another takes the lock and while keys it
/// watches change: resumed, its first callback is the loss, before any of the changes
/// made while it was stopped; its fence no longer lets a write land.
#[test]
fn a_paused_holder_hears_of_its_loss_before_any_other_callback() {
    if turtle_tests::role().is_some() {
        return child_holds_and_watches();
    }
    let c = Cluster::start();
    let child = turtle_tests::ChildProcess::start(
        "locks::a_paused_holder_hears_of_its_loss_before_any_other_callback",
        "hold",
        &c.endpoints(),
    );
    let said = child.wait_for("child: holding");
    assert!(said.iter().all(|l| !l.contains("lost")), "{said:?}");
    let keys = waiter_keys(&c, "paused-holder");
    let f = finder(&c);
    let token = f.get(&keys[0]).unwrap().unwrap().create_revision;
    child.signal(libc::SIGSTOP);
    for i in 0..3 {
        c.put_via(0, "/services/paused-noise", format!("during-{i}"));
    }
    // Taken by another once the stopped holder's lease expired.
    let next = f.lock("paused-holder", LockOptions::timeout(WAIT)).unwrap();
    assert!(next.token() > token);
    child.signal(libc::SIGCONT);
    let before = child.wait_for("child: lost");
    assert!(
        before.iter().all(|l| !l.contains("during-")),
        "a change came before the loss: {before:?}"
    );
    child.wait_for("child: change during-2");
    let stale = WriteOptions::if_owner(turtle_finder::Fence {
        key: keys[0].clone(),
        token,
    });
    let e = f.put("/paused-holder/state", b"late", stale).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    child.signal(libc::SIGKILL);
}

//! Services that announce themselves (issue 9): registration kept alive across member
//! faults and re-registered after a long stop, instance lists in etcd's Go format, watches
//! of them, and the watch-backed cache, against real clusters and real processes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use turtle_finder::{
    ChangeKind, Config, Instances, ReadOptions, RegisterOptions, RegistrationState, ServiceFinder,
};
use turtle_tests::{role, ChildProcess, Cluster};

const WAIT: Duration = Duration::from_secs(20);

fn finder(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap()).unwrap()
}

fn ttl(secs: u64) -> RegisterOptions {
    RegisterOptions {
        ttl: Duration::from_secs(secs),
        ..Default::default()
    }
}

fn addrs(list: &Instances) -> Vec<String> {
    list.instances.iter().map(|i| i.addr.clone()).collect()
}

/// Every list an instances watch delivers.
fn watch_lists(f: &ServiceFinder, name: &str) -> (turtle_finder::Watch, Receiver<Instances>) {
    let (tx, rx) = unbounded();
    let w = f
        .watch_instances(name, move |l| tx.send(l.clone()).unwrap())
        .unwrap();
    (w, rx)
}

/// Waits for a list that satisfies `done`.
fn until(rx: &Receiver<Instances>, done: impl Fn(&Instances) -> bool) -> Instances {
    loop {
        let list = rx.recv_timeout(WAIT).expect("a list within the wait limit");
        if done(&list) {
            return list;
        }
    }
}

#[test]
fn registered_instances_are_listed_in_the_go_format_and_go_at_once_on_close() {
    let c = Cluster::start();
    let (a, b) = (finder(&c), finder(&c));
    let (_w, lists) = watch_lists(&b, "cdd");
    assert!(until(&lists, |l| l.kind == ChangeKind::Initial)
        .instances
        .is_empty());
    let meta = RegisterOptions {
        metadata: serde_json::json!({"zone": "b", "weight": 2}),
        ..ttl(5)
    };
    let reg = a.register("cdd", "10.0.0.1:8080", meta).unwrap();
    assert_eq!(reg.key(), "/services/cdd/10.0.0.1:8080");
    assert_eq!(reg.state(), RegistrationState::Registered);
    assert!(reg.ttl() >= Duration::from_secs(5));
    let stored = c.etcdctl(&["get", "--print-value-only", reg.key()]);
    assert_eq!(
        stored.trim(),
        r#"{"Addr":"10.0.0.1:8080","Metadata":{"weight":2,"zone":"b"}}"#
    );
    let listed = until(&lists, |l| l.instances.len() == 1);
    assert_eq!(listed.instances[0].id, "10.0.0.1:8080");
    assert_eq!(listed.instances[0].metadata["zone"], "b");
    assert_eq!(addrs(&b.instances("cdd").unwrap()), ["10.0.0.1:8080"]);
    let t = Instant::now();
    reg.close();
    until(&lists, |l| l.instances.is_empty());
    println!("gone {:?} after close (TTL 5 s)", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(4), "revoked, not expired");
    assert_eq!(reg.state(), RegistrationState::Closed);
    assert!(c.etcdctl(&["get", reg.key()]).is_empty());
}

#[test]
fn entries_written_by_go_or_by_hand_are_read_and_malformed_ones_reported() {
    let c = Cluster::start();
    let f = finder(&c);
    c.etcdctl(&[
        "put",
        "/services/web/a",
        r#"{"Addr":"10.0.0.1:80","Metadata":null}"#,
    ]);
    c.etcdctl(&[
        "put",
        "/services/web/b",
        r#"{"Op":0,"Addr":"10.0.0.2:80","Metadata":"v1"}"#,
    ]);
    c.etcdctl(&[
        "put",
        "/services/web/c",
        r#"{"Addr":"10.0.0.3:80","Extra":[1,2]}"#,
    ]);
    c.etcdctl(&["put", "/services/web/bad", r#"[ "turtle1", "turtle2" ]"#]);
    c.etcdctl(&[
        "put",
        "/services/web",
        "the seed's single key, beside the instances",
    ]);
    let list = f.instances("web").unwrap();
    assert_eq!(addrs(&list), ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    assert_eq!(list.malformed.len(), 1);
    assert_eq!(list.malformed[0].key, "/services/web/bad");
    assert!(
        list.malformed[0].reason.contains("not a JSON object"),
        "{:?}",
        list.malformed
    );
    assert_eq!(
        f.get_service("web").unwrap().as_deref(),
        Some("the seed's single key, beside the instances")
    );
}

#[test]
fn instance_lists_survive_a_compaction_as_a_reset() {
    let c = Cluster::start();
    let f = finder(&c);
    let (_w, lists) = watch_lists(&f, "compacted");
    until(&lists, |l| l.kind == ChangeKind::Initial);
    let proxy = turtle_tests::Proxy::start(&c.endpoint(0)).unwrap();
    let g = ServiceFinder::new(Config::new([proxy.endpoint()]).unwrap()).unwrap();
    let (_gw, glists) = watch_lists(&g, "compacted");
    until(&glists, |l| l.kind == ChangeKind::Initial);
    proxy.set(turtle_tests::Mode::Cut); // the stream breaks: it must resume after the compaction
    let mut last = 0;
    for i in 0..5 {
        let v = format!(r#"{{"Addr":"10.0.0.{i}:1"}}"#);
        last = c.put_via(1, &format!("/services/compacted/{i}"), v);
    }
    c.compact_via(1, last);
    proxy.set(turtle_tests::Mode::Pass);
    let reset = until(&glists, |l| l.kind == ChangeKind::Reset);
    assert_eq!(reset.instances.len(), 5);
    assert_eq!(until(&lists, |l| l.instances.len() == 5).revision, last);
}

#[test]
fn a_registration_outlives_a_killed_and_a_hung_member() {
    let mut c = Cluster::start();
    let f = finder(&c);
    let reg = f.register("steady", "10.1.0.1:80", ttl(3)).unwrap();
    let watcher = ChildProcess::etcdctl_watch("/services/steady/", &c.endpoints());
    for fault in ["SIGKILL", "SIGSTOP"] {
        let serving = f.preferred_member().to_string();
        let victim = c.index_of(&serving).unwrap();
        match fault {
            "SIGKILL" => c.kill(victim),
            _ => c.stop(victim),
        }
        // Three TTLs: every keepalive in that time goes to another member.
        let end = Instant::now() + reg.ttl() * 3;
        while Instant::now() < end {
            let list = f.instances_with("steady", ReadOptions::default());
            assert_eq!(addrs(&list.unwrap()), ["10.1.0.1:80"], "after {fault}");
            std::thread::sleep(Duration::from_millis(200)); // sampling, not waiting
        }
        match fault {
            "SIGKILL" => c.restart(victim),
            _ => c.cont(victim),
        }
        assert_eq!(reg.state(), RegistrationState::Registered, "after {fault}");
    }
    let seen = watcher.lines_so_far();
    assert!(
        !seen.iter().any(|l| l == "DELETE"),
        "another client saw it go: {seen:?}"
    );
    reg.close();
}

/// The child's part in the tests below: registers `name` with a 2 s TTL, prints every
/// state, and lists the instances it sees when asked on stdin... or just lives.
fn child_registers(name: &str) {
    let f = ServiceFinder::from_env().unwrap();
    let reg = f
        .register(
            name,
            &format!("10.9.0.{}:80", std::process::id() % 250),
            ttl(2)
                .on_state(|s| println!("child: state {}", s.as_str()))
                .on_error(|e| println!("child: error {e}")),
        )
        .unwrap();
    println!("child: registered {}", reg.key());
    std::thread::sleep(Duration::from_secs(60)); // until the parent ends it
}

#[test]
fn a_process_stopped_longer_than_its_ttl_comes_back_under_a_new_lease() {
    if role().is_some() {
        return child_registers("paused");
    }
    let c = Cluster::start();
    let f = finder(&c);
    let (_w, lists) = watch_lists(&f, "paused");
    let child = ChildProcess::start(
        "services::a_process_stopped_longer_than_its_ttl_comes_back_under_a_new_lease",
        "register",
        &c.endpoints(),
    );
    child.wait_for("child: registered");
    until(&lists, |l| l.instances.len() == 1);
    child.signal(libc::SIGSTOP);
    let t = Instant::now();
    until(&lists, |l| l.instances.is_empty());
    println!("gone {:?} after SIGSTOP (TTL 2 s)", t.elapsed());
    child.signal(libc::SIGCONT);
    let t = Instant::now();
    until(&lists, |l| l.instances.len() == 1);
    println!("back {:?} after SIGCONT", t.elapsed());
    let said = child.wait_for("child: state registered");
    assert!(
        said.iter()
            .any(|l| l.contains("child: state reregistering")),
        "{said:?}"
    );
}

#[test]
fn a_killed_process_is_gone_within_its_ttl() {
    if role().is_some() {
        return child_registers("killed");
    }
    let c = Cluster::start();
    let f = finder(&c);
    let (_w, lists) = watch_lists(&f, "killed");
    let child = ChildProcess::start(
        "services::a_killed_process_is_gone_within_its_ttl",
        "register",
        &c.endpoints(),
    );
    child.wait_for("child: registered");
    until(&lists, |l| l.instances.len() == 1);
    child.signal(libc::SIGKILL);
    let t = Instant::now();
    until(&lists, |l| l.instances.is_empty());
    let gone = t.elapsed();
    println!("gone {gone:?} after SIGKILL (TTL 2 s)");
    assert!(gone <= Duration::from_secs(3), "TTL + 1 s at most");
}

#[test]
fn two_processes_see_each_others_instances() {
    if role().is_some() {
        return child_registers("pair");
    }
    let c = Cluster::start();
    let f = finder(&c);
    let mine = f.register("pair", "10.8.0.1:80", ttl(5)).unwrap();
    let child = ChildProcess::start(
        "services::two_processes_see_each_others_instances",
        "register",
        &c.endpoints(),
    );
    child.wait_for("child: registered");
    let (_w, lists) = watch_lists(&f, "pair");
    let both = until(&lists, |l| l.instances.len() == 2);
    assert!(addrs(&both).contains(&"10.8.0.1:80".to_string()));
    drop(child); // killed: its lease expires after 2 s
    until(&lists, |l| l.instances.len() == 1);
    mine.close();
}

fn cached(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap().with_cache(true)).unwrap()
}

#[test]
fn the_cache_equals_fresh_reads_after_changes_a_kill_and_a_compaction() {
    let mut c = Cluster::start();
    let f = cached(&c);
    let fresh = finder(&c);
    let names: Vec<String> = (0..10).map(|i| format!("cached{i}")).collect();
    let (_w, lists) = watch_lists(&f, "cached-instances");
    for n in &names {
        assert_eq!(f.get_service(n).unwrap(), None); // starts caching it
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..1000 {
        let name = &names[(random() % 10) as usize];
        let key = format!("/services/{name}");
        let writer = (0..c.len()).find(|&m| c.pid(m).is_some()).unwrap();
        match random() % 5 {
            0 => drop(c.delete_via(writer, &key)),
            1 => drop(c.put_via(
                writer,
                &format!("/services/cached-instances/{i}"),
                r#"{"Addr":"h:1"}"#,
            )),
            _ => drop(c.put_via(writer, &key, format!("v{i}"))),
        }
        if i == 300 {
            let serving = f.watch_member().unwrap().to_string();
            c.kill(c.index_of(&serving).unwrap());
        }
        if i == 600 {
            let rev = c.put_via(writer, "/services/compact-mark", "x");
            c.compact_via(writer, rev);
        }
    }
    let last = c.put_via(
        (0..c.len()).find(|&m| c.pid(m).is_some()).unwrap(),
        "/services/cached0",
        "last",
    );
    // The cache catches up with the last write (events are delivered in order).
    let end = Instant::now() + WAIT;
    while f.get_service("cached0").unwrap().as_deref() != Some("last") {
        assert!(Instant::now() < end, "the cache never saw revision {last}");
        std::thread::sleep(Duration::from_millis(10)); // polling the cache: no event to await
    }
    for n in &names {
        assert_eq!(
            f.get_service(n).unwrap(),
            fresh.get_service(n).unwrap(),
            "{n}"
        );
    }
    let want = fresh.instances("cached-instances").unwrap();
    let got = until(&lists, |l| l.instances.len() == want.instances.len());
    assert_eq!(addrs(&got), addrs(&want));
    assert_eq!(
        f.instances("cached-instances").unwrap().instances,
        want.instances
    );
}

#[test]
fn the_cache_answers_while_the_leader_is_killed() {
    let mut c = Cluster::start();
    c.put_via(0, "/services/hot", "value");
    let f = Arc::new(cached(&c));
    assert_eq!(f.get_service("hot").unwrap().as_deref(), Some("value"));
    let end = Instant::now() + WAIT;
    while f.watch_member().is_none() {
        assert!(Instant::now() < end, "the cache's watch never started");
        std::thread::sleep(Duration::from_millis(5)); // polling: no event says "cached"
    }
    let (stop, errors, lookups) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let looper = {
        let (f, stop, errors, lookups) = (f.clone(), stop.clone(), errors.clone(), lookups.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match f.get_service("hot") {
                    Ok(Some(v)) if v == "value" => drop(lookups.fetch_add(1, Ordering::SeqCst)),
                    _ => drop(errors.fetch_add(1, Ordering::SeqCst)),
                }
            }
        })
    };
    let leader = c.leader().unwrap();
    c.kill(leader);
    c.wait_all_ready_but(leader);
    stop.store(true, Ordering::SeqCst);
    looper.join().unwrap();
    println!(
        "{} lookups through the election",
        lookups.load(Ordering::SeqCst)
    );
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    assert!(lookups.load(Ordering::SeqCst) > 1000);
}

#[test]
fn the_async_client_registers_lists_and_streams_instances() {
    let c = Cluster::start();
    // A multi-thread runtime: the registration's task runs while the test blocks on it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = Config::new(c.endpoints()).unwrap();
    let client = rt.block_on(turtle_finder::Client::connect(cfg)).unwrap();
    let mut stream = rt
        .block_on(client.watch_instances("async-web", turtle_finder::WatchOptions::initial()))
        .unwrap();
    let next = |s: &mut turtle_finder::InstancesStream| {
        rt.block_on(async { tokio::time::timeout(WAIT, s.next()).await })
            .expect("a list in time")
            .unwrap()
            .unwrap()
    };
    assert!(next(&mut stream).instances.is_empty());
    // The async client tells a registration's states too (on its runtime).
    let (to_states, states) = unbounded();
    let opts = ttl(5).on_state(move |s| to_states.send(s).unwrap());
    let reg = rt
        .block_on(client.register("async-web", "10.5.0.1:80", opts))
        .unwrap();
    assert_eq!(addrs(&next(&mut stream)), ["10.5.0.1:80"]);
    let listed = rt.block_on(client.instances("async-web")).unwrap();
    assert_eq!(addrs(&listed), ["10.5.0.1:80"]);
    rt.block_on(reg.close_async());
    assert_eq!(reg.state(), RegistrationState::Closed);
    assert_eq!(
        states.recv_timeout(WAIT).unwrap(),
        RegistrationState::Closed
    );
    assert!(next(&mut stream).instances.is_empty(), "revoked at once");
    stream.cancel();
    assert!(rt.block_on(stream.next()).is_none());
}

/// The leases etcd holds, by id.
fn leases(c: &Cluster) -> Vec<i64> {
    let listed = c.etcdctl(&["lease", "list"]);
    (listed.lines().skip(1))
        .filter_map(|l| i64::from_str_radix(l.trim(), 16).ok())
        .collect()
}

/// A grant whose answer is lost after etcd applied it (the member hears, the client does
/// not) is given up on that member after the connect timeout and retried on the next with
/// the same lease id: one lease, not two; and no write of the registration is hedged.
#[test]
fn a_write_whose_answer_is_lost_is_retried_once_and_never_hedged() {
    let c = Cluster::start();
    let proxy = turtle_tests::Proxy::start(&c.endpoint(0)).unwrap();
    let mut endpoints = vec![proxy.endpoint()];
    endpoints.extend(c.endpoints().into_iter().skip(1));
    let cfg = Config::new(endpoints)
        .unwrap()
        .with_connect_timeout(Duration::from_millis(500));
    let f = ServiceFinder::new(cfg).unwrap();
    f.get_service("warm-up").unwrap(); // the connection through the proxy is open
    assert_eq!(f.preferred_member().to_string(), proxy.endpoint());
    let before = leases(&c);
    proxy.set(turtle_tests::Mode::Deaf);
    let reg = f.register("deaf", "10.7.0.1:80", ttl(30)).unwrap();
    let after = leases(&c);
    let new: Vec<i64> = after
        .iter()
        .filter(|l| !before.contains(l))
        .copied()
        .collect();
    assert_eq!(
        new,
        [reg.lease_id()],
        "one lease granted, the registration's"
    );
    let text = f.metrics().unwrap();
    for op in ["grant", "put"] {
        let hedged =
            turtle_tests::sample(&text, "turtle_hedged_requests_total", &[("operation", op)]);
        assert_eq!(hedged.unwrap_or(0.0), 0.0, "{op} was hedged:\n{text}");
    }
    let deaf = proxy.endpoint();
    let lost = [("operation", "grant"), ("member", deaf.as_str())];
    let given_up = turtle_tests::sample(&text, "turtle_requests_total", &lost);
    assert_eq!(given_up, Some(1.0), "the deaf member's grant:\n{text}");
    let list = f.instances("deaf").unwrap();
    assert_eq!(addrs(&list), ["10.7.0.1:80"]);
    reg.close();
    assert!(!leases(&c).contains(&reg.lease_id()), "closing revokes it");
}

/// A registration etcd refuses (metadata over its request limit) leaves no lease behind:
/// the lease granted for the refused put is revoked (it would live for the whole TTL).
#[test]
fn a_refused_registration_leaves_no_lease() {
    let c = Cluster::start();
    let f = finder(&c);
    let before = leases(&c);
    let huge = RegisterOptions {
        ttl: Duration::from_secs(365 * 24 * 3600),
        metadata: serde_json::Value::String("x".repeat(2 << 20)),
        ..Default::default()
    };
    for _ in 0..3 {
        let e = f.register("huge", "10.8.0.1:80", huge.clone()).unwrap_err();
        assert_eq!(e.kind(), turtle_finder::ErrorKind::InvalidArgument, "{e}");
    }
    assert_eq!(
        leases(&c),
        before,
        "every lease of a refused put was revoked"
    );
}

/// The requests of `operation` the metrics count, over every member and outcome.
fn requests(f: &ServiceFinder, operation: &str) -> f64 {
    let text = f.metrics().unwrap();
    let label = format!("operation=\"{operation}\"");
    (text.lines())
        .filter(|l| l.starts_with("turtle_requests_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// With the cache on, instance lists are answered from memory like values: 1,000 lookups
/// make (almost) no request, and they answer while every member is hung.
#[test]
fn cached_instances_are_answered_from_memory() {
    let c = Cluster::start();
    let f = cached(&c);
    let reg = f.register("ci", "10.6.0.1:80", ttl(30)).unwrap();
    for _ in 0..1000 {
        assert_eq!(addrs(&f.instances("ci").unwrap()), ["10.6.0.1:80"]);
    }
    // The first lookup reads, and so do those before the cache's watch delivered its
    // first list: a handful at most, not one each.
    let reads = requests(&f, "instances");
    assert!(
        (1.0..=20.0).contains(&reads),
        "{reads} requests for 1,000 cached lookups"
    );
    for i in 0..c.len() {
        c.stop(i);
    }
    let list = f.instances("ci");
    for i in 0..c.len() {
        c.cont(i);
    }
    assert_eq!(
        addrs(&list.unwrap()),
        ["10.6.0.1:80"],
        "answered with every member hung"
    );
    reg.close();
}

/// The value of gauge `name` in the finder's metrics.
fn gauge(f: &ServiceFinder, name: &str) -> f64 {
    let text = f.metrics().unwrap();
    turtle_tests::sample(&text, name, &[]).unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// The cached set is bounded (issue 19, item 7: 20,000 names kept 20,001 watches): past
/// `cache_limit`, the names looked up least recently leave with their watches, and a
/// lookup of one reads etcd again.
#[test]
fn the_cache_keeps_at_most_its_limit_of_names_and_their_watches() {
    let c = Cluster::start();
    let cfg = Config::new(c.endpoints()).unwrap().with_cache(true);
    let f = ServiceFinder::new(cfg.with_cache_limit(8).unwrap()).unwrap();
    c.put_via(0, "/services/b0", "first");
    for i in 0..40 {
        f.get_service(&format!("b{i}")).unwrap();
    }
    // The watches start in the background: wait for the count to settle at the limit.
    let end = Instant::now() + WAIT;
    while gauge(&f, "turtle_watches") > 8.0 {
        assert!(
            Instant::now() < end,
            "{} watches",
            gauge(&f, "turtle_watches")
        );
        std::thread::sleep(Duration::from_millis(20)); // no event says a cancel was applied
    }
    assert!(gauge(&f, "turtle_watches") >= 1.0);
    let before = requests(&f, "get_service");
    c.put_via(0, "/services/b0", "second");
    assert_eq!(f.get_service("b0").unwrap().as_deref(), Some("second"));
    assert!(
        requests(&f, "get_service") > before,
        "b0 was evicted: read anew"
    );
}

/// A registration keeps its key (issue 19, item 6): deleted by hand, it is written back;
/// two processes registering one address share the key, and the one closed first does
/// not take the other's instance away; a second registration of a key on one finder is
/// refused.
#[test]
fn a_registration_keeps_its_key_when_deleted_or_shared_and_one_finder_refuses_a_twin() {
    let c = Cluster::start();
    let (a, b, watcher) = (finder(&c), finder(&c), finder(&c));
    let (_w, lists) = watch_lists(&watcher, "own");
    let one = |l: &Instances| addrs(l) == ["10.7.0.1:80"];
    let none = |l: &Instances| l.instances.is_empty();
    let reg = a.register("own", "10.7.0.1:80", ttl(30)).unwrap();
    until(&lists, one);
    c.delete_via(1, reg.key());
    until(&lists, none);
    until(&lists, one);
    assert_eq!(reg.state(), RegistrationState::Registered);

    let twin = a.register("own", "10.7.0.1:80", ttl(30)).unwrap_err();
    assert_eq!(
        twin.kind(),
        turtle_finder::ErrorKind::InvalidArgument,
        "{twin}"
    );
    assert!(
        twin.to_string()
            .contains("registered by this finder already"),
        "{twin}"
    );

    // b's put moves the key to b's lease; b's close revokes it; a writes it back.
    let other = b.register("own", "10.7.0.1:80", ttl(30)).unwrap();
    other.close();
    until(&lists, none);
    until(&lists, one);
    let got = c.etcdctl(&["get", reg.key(), "--print-value-only"]);
    assert!(got.contains("10.7.0.1:80"), "{got:?}");
    // Closed, it stays gone.
    reg.close();
    until(&lists, none);
    let again = a.register("own", "10.7.0.1:80", ttl(30)).unwrap();
    until(&lists, one);
    again.close();
}

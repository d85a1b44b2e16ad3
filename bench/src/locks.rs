//! Locks and elections: an uncontended lock + unlock against raw `etcd-client`'s Lock RPC
//! (on a lease granted once, the way a program reuses a session), the hand-off from one
//! holder to the next among 8 waiters, and an election's failover after the leader's
//! process is killed.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use turtle_finder::{Config, LockOptions, ServiceFinder};
use turtle_tests::Cluster;

use crate::measure::{cpu, line, pct, ratio, rt};

/// Lock + unlock `n` times, uncontended: latency p50/p99 and CPU per pair. The raw Lock
/// RPC and both turtle variants take turns pair by pair, so a slower disk for a while
/// (an fsync per write) weighs on all three alike.
pub fn uncontended(cluster: &Cluster, n: usize) {
    let eps = cluster.endpoints();
    let rt = rt();
    let raw = rt
        .block_on(etcd_client::Client::connect(&eps, None))
        .unwrap();
    let lease = rt
        .block_on(raw.lease_client().grant(60, None))
        .unwrap()
        .id();
    let mut lock = raw.lock_client();
    let f = ServiceFinder::new(Config::new(&eps).unwrap()).unwrap();
    let session = f.lock_session(Duration::from_secs(60)).unwrap();
    let variants = [
        ("a reused session", Some(session)),
        ("a lease per lock", None),
    ];
    // Per variant (raw first): the pairs' times and the CPU they took.
    let mut times: Vec<Vec<Duration>> = (0..3).map(|_| Vec::with_capacity(n)).collect();
    let mut cpus = [Duration::ZERO; 3];
    for _ in 0..n {
        let (t, c0) = (Instant::now(), cpu());
        let opts = etcd_client::LockOptions::new().with_lease(lease);
        let held = rt.block_on(lock.lock("bench-raw", Some(opts))).unwrap();
        rt.block_on(lock.unlock(held.key().to_vec())).unwrap();
        times[0].push(t.elapsed());
        cpus[0] += cpu() - c0;
        for (v, (_, shared)) in variants.iter().enumerate() {
            let (t, c0) = (Instant::now(), cpu());
            let opts = LockOptions {
                session: shared.clone(),
                ..LockOptions::default()
            };
            f.lock("bench-turtle", opts).unwrap().unlock();
            times[v + 1].push(t.elapsed());
            cpus[v + 1] += cpu() - c0;
        }
    }
    let raw_cpu = cpus[0] / n as u32;
    for (v, (what, _)) in variants.iter().enumerate() {
        for p in [0.5, 0.99] {
            let theirs = pct(&mut times[0], p);
            let ours = pct(&mut times[v + 1], p);
            line(
                &format!("lock + unlock on {what}, p{}", (p * 100.0) as u32),
                format!("{ours:.2?} (raw Lock RPC on a reused lease: {theirs:.2?})"),
                Some((ratio(ours, theirs), "≤ 1.2×")),
            );
        }
        let turtle_cpu = cpus[v + 1] / n as u32;
        line(
            &format!("lock + unlock on {what}, client CPU per pair"),
            format!("{turtle_cpu:.2?} (raw: {raw_cpu:.2?})"),
            Some((ratio(turtle_cpu, raw_cpu), "")),
        );
    }
}

/// 8 threads, each with a finder of its own, take the lock in turn for `run`: the time
/// from a holder's unlock call to the next holder's grant, and acquisitions per second.
pub fn hand_off(cluster: &Cluster, run: Duration) {
    let eps = cluster.endpoints();
    let released: Arc<Mutex<Option<Instant>>> = Arc::default();
    let gaps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let end = Instant::now() + run;
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (eps, released, gaps) = (eps.clone(), released.clone(), gaps.clone());
            std::thread::spawn(move || {
                let f = ServiceFinder::new(Config::new(&eps).unwrap()).unwrap();
                let mut got = 0usize;
                while Instant::now() < end {
                    let opts = LockOptions::timeout(Duration::from_secs(30));
                    let g = f.lock("bench-handoff", opts).unwrap();
                    if let Some(t) = released.lock().take() {
                        gaps.lock().push(t.elapsed());
                    }
                    got += 1;
                    *released.lock() = Some(Instant::now());
                    g.unlock();
                }
                got
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut gaps = gaps.lock().clone();
    for p in [0.5, 0.99] {
        line(
            &format!("hand-off, 8 waiters, p{}", (p * 100.0) as u32),
            format!("{:.2?}", pct(&mut gaps, p)),
            None,
        );
    }
    line(
        "acquisitions per second, 8 waiters",
        format!("{:.0}", total as f64 / run.as_secs_f64()),
        None,
    );
}

/// A leader in a process of its own (this binary's `elect-child` mode) is SIGKILLed: the
/// time until an observer sees the next candidate lead. Bounded by the killed leader's
/// TTL: nobody resigns for it, so its lease must expire.
pub fn election_failover(cluster: &Cluster) {
    let eps = cluster.endpoints().join(",");
    let child = |value: &str| {
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args(["elect-child", &eps, value])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(c.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        c
    };
    let f = ServiceFinder::new(Config::new(cluster.endpoints()).unwrap()).unwrap();
    let mut first = child("first");
    let (tx, rx) = crossbeam_channel::unbounded();
    let _w = f
        .observe("bench-elect", move |l| {
            let _ = tx.send((Instant::now(), l.map(|l| l.value.clone())));
        })
        .unwrap();
    while f.leader("bench-elect").unwrap().map(|l| l.value) != Some(b"first".to_vec()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut second = child("second");
    // Both candidates' keys are in: the second waits behind the first.
    while cluster_keys(cluster, "bench-elect/") < 2 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = Instant::now();
    first.kill().unwrap();
    first.wait().unwrap();
    let seen = loop {
        let (at, value) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        if value.as_deref() == Some(b"second") {
            break at;
        }
    };
    line(
        "election failover, leader SIGKILLed (TTL 10 s)",
        format!("{:.2?}", seen - killed),
        Some((ratio(seen - killed, Duration::from_secs(11)), "≤ TTL + 1 s")),
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

fn cluster_keys(cluster: &Cluster, prefix: &str) -> usize {
    let out = cluster.etcdctl(&["get", "--prefix", "--keys-only", prefix]);
    out.lines().filter(|l| !l.is_empty()).count()
}

/// `turtle-bench elect-child ENDPOINTS VALUE`: says "campaigning", campaigns, and leads
/// (once it does) until killed.
pub fn elect_child(args: &[String]) {
    let (Some(eps), Some(value)) = (args.first(), args.get(1)) else {
        eprintln!("turtle-bench elect-child ENDPOINTS VALUE");
        std::process::exit(2);
    };
    let f = ServiceFinder::new(Config::new([eps]).unwrap()).unwrap();
    println!("campaigning");
    let _l = f
        .campaign("bench-elect", value.as_bytes(), LockOptions::default())
        .unwrap();
    std::thread::park();
}

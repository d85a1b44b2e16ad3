//! Failover: the longest gap between successful lookups while the serving member is
//! killed or hung, for turtle-finder and raw etcd-client; and how soon a watch moves off
//! a hung member.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

use crate::measure::{metric_total, rt};

type Lookup = Box<dyn FnMut() -> Result<(), String> + Send>;

/// The leader, or the member after it (a follower).
fn victim_of(cluster: &Cluster, leader: bool) -> usize {
    let l = cluster.leader().expect("a leader");
    if leader {
        l
    } else {
        (l + 1) % cluster.len()
    }
}

/// Every fault on a follower and on the leader, for both clients.
pub fn lookup_gaps(cluster: &mut Cluster) {
    println!("| fault on the serving member | client | longest gap between successes | errors seen by the caller | target |");
    println!("|---|---|---|---|---|");
    for (fault, leader) in [
        ("SIGKILL", false),
        ("SIGSTOP", false),
        ("SIGKILL", true),
        ("SIGSTOP", true),
    ] {
        let role = if leader { "leader" } else { "follower" };
        let target = match (fault, leader) {
            ("SIGKILL", false) => "≤ 100 ms, no error",
            (_, false) => "≤ 50 ms, no error",
            _ => "(leader: bounded by etcd's election)",
        };
        let victim = victim_of(cluster, leader);
        let (gap, errs) = {
            let lookup = finder_lookup(cluster, victim);
            failover_gap(cluster, victim, fault, lookup)
        };
        println!(
            "| {fault} ({role}) | turtle-finder | {:.0} ms | {errs} | {target} |",
            gap.as_secs_f64() * 1e3
        );
        let victim = victim_of(cluster, leader);
        let all = cluster.endpoints();
        let (gap, errs) = failover_gap(cluster, victim, fault, raw_lookup(all));
        println!(
            "| {fault} ({role}) | raw etcd-client (all 3 endpoints, 5 s timeout) | {:.0} ms | {errs} | |",
            gap.as_secs_f64() * 1e3
        );
    }
}

/// A finder that reads through `victim` first.
fn finder_lookup(cluster: &Cluster, victim: usize) -> Lookup {
    let first: Vec<String> = std::iter::once(cluster.endpoint(victim))
        .chain(
            (0..cluster.len())
                .filter(|&i| i != victim)
                .map(|i| cluster.endpoint(i)),
        )
        .collect();
    let f = ServiceFinder::new(Config::new(&first).unwrap()).unwrap();
    Box::new(move || f.get_service("cdd").map(|_| ()).map_err(|e| e.to_string()))
}

/// Raw etcd-client with every endpoint and a 5 s timeout per lookup.
fn raw_lookup(all: Vec<String>) -> Lookup {
    let rt = rt();
    let c = rt
        .block_on(etcd_client::Client::connect(&all, None))
        .unwrap();
    Box::new(move || {
        let mut kv = c.kv_client();
        rt.block_on(async {
            let limit = Duration::from_secs(5);
            match tokio::time::timeout(limit, kv.get("/services/cdd", None)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in 5 s".into()),
            }
        })
    })
}

/// Runs lookups, applies `fault` to member `victim` after 100 of them, keeps going for
/// 2 s of wall time after the fault, undoes it; returns the longest gap and error count.
fn failover_gap(
    cluster: &mut Cluster,
    victim: usize,
    fault: &str,
    mut lookup: Lookup,
) -> (Duration, usize) {
    for _ in 0..200 {
        lookup().expect("lookups before the fault");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = unbounded::<Result<Instant, String>>();
    let s = stop.clone();
    let h = thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            let _ = tx.send(lookup().map(|_| Instant::now()));
        }
    });
    let mut times = vec![Instant::now()];
    let mut errors = 0;
    let mut faulted_at = None;
    while faulted_at.is_none_or(|t: Instant| t.elapsed() < Duration::from_secs(2)) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(t)) => times.push(t),
            Ok(Err(_)) => errors += 1,
            Err(_) => break,
        }
        if faulted_at.is_none() && times.len() > 100 {
            match fault {
                "SIGKILL" => cluster.kill(victim),
                _ => cluster.stop(victim),
            }
            faulted_at = Some(Instant::now());
        }
    }
    stop.store(true, Ordering::SeqCst);
    for r in rx.iter() {
        match r {
            Ok(t) => times.push(t),
            Err(_) => errors += 1,
        }
    }
    h.join().unwrap();
    // A lookup still hanging when the window closed is a gap too.
    times.push(Instant::now());
    match fault {
        "SIGKILL" => cluster.restart(victim),
        _ => cluster.cont(victim),
    }
    let gap = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    (gap, errors)
}

/// A watch whose member (a follower) is SIGSTOPped: the time from the stop until the
/// next write, made through the leader right after the stop, is delivered from another
/// member. (With the leader stopped, the write itself waits for etcd's election and
/// request timeout, up to 7 s, which would measure etcd, not the watch.)
pub fn watch_move(cluster: &mut Cluster) {
    cluster.wait_all_ready(); // after the faults above, every member has a leader again
    let leader = cluster.leader().expect("a leader");
    let follower = (leader + 1) % cluster.len();
    let order: Vec<String> = std::iter::once(follower)
        .chain((0..cluster.len()).filter(|&i| i != follower))
        .map(|i| cluster.endpoint(i))
        .collect();
    let finder = ServiceFinder::new(Config::new(&order).unwrap()).unwrap();
    let (tx, rx) = unbounded::<(i64, Instant)>();
    let _w = finder
        .watch_service("moving", move |c| {
            tx.send((c.revision, Instant::now())).unwrap()
        })
        .unwrap();
    let r0 = cluster.put_via(leader, "/services/moving", "0");
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap().0, r0);
    let serving = finder.watch_member().unwrap().to_string();
    let watched = cluster.index_of(&serving).expect("a member of the cluster");
    let role = if watched == leader {
        "leader"
    } else {
        "follower"
    };
    let writer = if watched == leader { follower } else { leader };
    cluster.stop(watched);
    let t = Instant::now();
    let r1 = cluster.put_via(writer, "/services/moving", "1");
    let (rev, at) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the watch moved");
    let why = (finder.member_health().into_iter())
        .find(|h| h.endpoint == serving)
        .and_then(|h| h.last_error)
        .unwrap_or_default();
    cluster.cont(watched);
    // One more write after the member is back: every revision exactly once, in order.
    let r2 = cluster.put_via(writer, "/services/moving", "2");
    let mut seen = vec![rev];
    while seen.last() != Some(&r2) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((r, _)) => seen.push(r),
            Err(_) => break,
        }
    }
    let exact = seen == [r1, r2];
    println!(
        "| watch of a SIGSTOPped {role}: stop → next write delivered from another member | {:.0} ms ({why}), from {:?}; revisions {seen:?} for writes [{r1}, {r2}]: {} | | ≤ 600 ms, none lost or twice |",
        (at - t).as_secs_f64() * 1e3,
        finder.watch_member().map(|e| e.to_string()),
        if exact { "none lost, none twice" } else { "LOST OR DUPLICATED" }
    );
}

/// The share of lookups that were hedged (also sent to a second member) on a healthy
/// cluster: one caller, then two at full speed on this machine's two cores.
pub fn hedge_rate(cluster: &Cluster, n: usize) {
    for callers in [1, 2] {
        let f = Arc::new(ServiceFinder::new(Config::new(cluster.endpoints()).unwrap()).unwrap());
        for _ in 0..200 {
            f.get_service("cdd").expect("warm-up lookup");
        }
        let before = hedges(&f);
        let threads: Vec<_> = (0..callers)
            .map(|_| {
                let f = f.clone();
                thread::spawn(move || {
                    for _ in 0..n {
                        f.get_service("cdd").expect("lookup");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let hedged = (hedges(&f) - before) as u64;
        let total = n * callers;
        println!(
            "| hedged lookups in steady state, {callers} caller(s) at full speed | {hedged} of {total} ({:.2}%) | | ≤ 5% |",
            100.0 * hedged as f64 / total as f64
        );
        f.close();
    }
}

/// The finder's count of hedged requests, from its metrics.
fn hedges(f: &ServiceFinder) -> f64 {
    metric_total(&f.metrics().unwrap(), "turtle_hedged_requests_total{")
}

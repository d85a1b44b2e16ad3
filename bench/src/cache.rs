//! The watch-backed cache: a cached lookup's time and CPU against a lookup through etcd,
//! its rate from 8 threads, and the longest gap between lookups while the leader is
//! killed, with the cache and without.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

use crate::measure::{cpu, line, measure, ratio};

/// A finder with the cache on, with "cdd" cached (its watch delivered the first read).
fn cached_finder(cluster: &Cluster) -> Arc<ServiceFinder> {
    let cfg = Config::new(cluster.endpoints()).unwrap().with_cache(true);
    let f = Arc::new(ServiceFinder::new(cfg).unwrap());
    f.get_service("cdd").unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    // Cached once a lookup costs no request: far below a millisecond.
    while {
        let t = Instant::now();
        f.get_service("cdd").unwrap();
        t.elapsed() > Duration::from_micros(100)
    } {
        assert!(Instant::now() < end, "the cache never filled");
    }
    f
}

pub fn lookups(cluster: &Cluster, uncached_n: usize) {
    let f = cached_finder(cluster);
    let plain = ServiceFinder::new(Config::new(cluster.endpoints()).unwrap()).unwrap();
    let uncached = measure(uncached_n, || {
        (0..uncached_n).for_each(|_| drop(plain.get_service("cdd").unwrap()))
    });
    let n = 1_000_000;
    let one = measure(n, || {
        (0..n).for_each(|_| drop(f.get_service("cdd").unwrap()))
    });
    let per = |p: &crate::measure::Phase| 1e9 / p.ops_per_s;
    line(
        "uncached ServiceFinder::get_service (a linearizable read)",
        format!(
            "{:.1} µs, {:.1?} CPU",
            per(&uncached) / 1e3,
            uncached.cpu_per_op
        ),
        None,
    );
    line(
        "cached ServiceFinder::get_service, one thread",
        format!(
            "{:.0} ns, {:.0?} CPU ({:.0}× less CPU than through etcd)",
            per(&one),
            one.cpu_per_op,
            ratio(uncached.cpu_per_op, one.cpu_per_op)
        ),
        Some((per(&one) / 1e3, "≤ 1 µs per lookup (ratio: µs)")),
    );
    let threads = 8;
    let t = Instant::now();
    let c0 = cpu();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let f = f.clone();
            thread::spawn(move || (0..n).for_each(|_| drop(f.get_service("cdd").unwrap())))
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let rate = (threads * n) as f64 / t.elapsed().as_secs_f64();
    let cores = thread::available_parallelism().map_or(1, |c| c.get());
    line(
        &format!("cached lookups, {threads} threads ({cores} cores)"),
        format!(
            "{:.1} M/s, {:.0?} CPU per lookup",
            rate / 1e6,
            (cpu() - c0) / (threads * n) as u32
        ),
        Some((rate / one.ops_per_s, "≥ 4× one thread's rate")),
    );
    f.close();
}

/// Lookups in a loop on a thread while the leader is SIGKILLed: the longest time
/// without a successful lookup, and the errors.
fn leader_kill_gap(cluster: &mut Cluster, f: Arc<ServiceFinder>) -> (Duration, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let (s, g) = (stop.clone(), f.clone());
    let looper = thread::spawn(move || {
        let (mut last, mut gap, mut errors) = (Instant::now(), Duration::ZERO, 0);
        while !s.load(Ordering::SeqCst) {
            match g.get_service("cdd") {
                Ok(_) => {
                    gap = gap.max(last.elapsed());
                    last = Instant::now();
                }
                Err(_) => errors += 1,
            }
        }
        (gap.max(last.elapsed()), errors)
    });
    thread::sleep(Duration::from_millis(300)); // lookups run before the kill
    let leader = cluster.leader().expect("a leader");
    cluster.kill(leader);
    cluster.wait_all_ready_but(leader);
    thread::sleep(Duration::from_millis(500)); // and after the election
    stop.store(true, Ordering::SeqCst);
    let result = looper.join().unwrap();
    cluster.restart(leader);
    result
}

pub fn leader_kill(cluster: &mut Cluster) {
    for cache in [true, false] {
        let f = match cache {
            true => cached_finder(cluster),
            false => {
                Arc::new(ServiceFinder::new(Config::new(cluster.endpoints()).unwrap()).unwrap())
            }
        };
        let (gap, errors) = leader_kill_gap(cluster, f.clone());
        line(
            &format!(
                "SIGKILL of the leader, lookups {}",
                if cache {
                    "with the cache"
                } else {
                    "without it"
                }
            ),
            format!(
                "longest gap {:.1} ms, {errors} errors",
                gap.as_secs_f64() * 1e3
            ),
            None,
        );
        f.close();
    }
}

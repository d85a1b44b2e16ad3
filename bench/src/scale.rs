//! 10,000 watched names on one finder: resident memory, and the time until every watch
//! delivered a write made right after the member serving the stream was killed (nothing
//! lost, nothing twice).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

use crate::measure::rt;

/// What the watches saw: per watch the last revision and how many changes; in all, how
/// many changes arrived, and how many came out of order or twice.
struct Seen {
    last: Vec<AtomicI64>,
    count: Vec<AtomicU64>,
    total: Mutex<usize>,
    more: Condvar,
    disorder: AtomicU64,
}

impl Seen {
    fn record(&self, i: usize, rev: i64) {
        if self.last[i].swap(rev, Ordering::SeqCst) >= rev {
            self.disorder.fetch_add(1, Ordering::SeqCst);
        }
        self.count[i].fetch_add(1, Ordering::SeqCst);
        *self.total.lock() += 1;
        self.more.notify_all();
    }

    /// Waits until `total` changes arrived; false after 60 s.
    fn wait_total(&self, total: usize) -> bool {
        let mut t = self.total.lock();
        let end = Instant::now() + Duration::from_secs(60);
        while *t < total {
            if self.more.wait_until(&mut t, end).timed_out() {
                return false;
            }
        }
        true
    }
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap();
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// Writes a new value to every watched key through member `via`, 128 to a transaction
/// (etcd's default `--max-txn-ops`).
fn write_all(cluster: &Cluster, via: usize, n: usize, round: &str) {
    let rt = rt();
    let client = rt
        .block_on(etcd_client::Client::connect([cluster.endpoint(via)], None))
        .unwrap();
    let mut kv = client.kv_client();
    for chunk in (0..n).collect::<Vec<_>>().chunks(128) {
        let ops = chunk
            .iter()
            .map(|i| etcd_client::TxnOp::put(format!("/services/s{i}"), round, None))
            .collect::<Vec<_>>();
        let txn = etcd_client::Txn::new().and_then(ops);
        let end = Instant::now() + Duration::from_secs(15);
        // A write during an election fails with "request timed out": try again.
        while let Err(e) = rt.block_on(kv.txn(txn.clone())) {
            assert!(Instant::now() < end, "writes failed for 15 s: {e}");
        }
    }
}

pub fn watches(cluster: &mut Cluster, n: usize) {
    let before = rss_kib();
    // The stream starts on a follower, so killing it needs no election.
    let leader = cluster.leader().expect("a leader");
    let order: Vec<String> = (1..=cluster.len())
        .map(|k| cluster.endpoint((leader + k) % cluster.len()))
        .collect();
    let finder = ServiceFinder::new(Config::new(&order).unwrap()).unwrap();
    let seen = Arc::new(Seen {
        last: (0..n).map(|_| AtomicI64::new(0)).collect(),
        count: (0..n).map(|_| AtomicU64::new(0)).collect(),
        total: Mutex::new(0),
        more: Condvar::new(),
        disorder: AtomicU64::new(0),
    });
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let s = seen.clone();
            let w = finder.watch_service(&format!("s{i}"), move |c| s.record(i, c.revision));
            w.unwrap()
        })
        .collect();
    let set_up = t.elapsed();
    let serving = finder.watch_member().expect("a stream").to_string();
    let victim = cluster.index_of(&serving).unwrap();
    let writer = if victim == leader {
        (victim + 1) % cluster.len()
    } else {
        leader
    };
    write_all(cluster, writer, n, "first");
    assert!(seen.wait_total(n), "every watch got the first round");
    let memory = rss_kib().saturating_sub(before);
    cluster.kill(victim);
    let t = Instant::now();
    write_all(cluster, writer, n, "second");
    let written = t.elapsed();
    let resumed = seen.wait_total(2 * n);
    let took = t.elapsed();
    let twice = (0..n)
        .filter(|&i| seen.count[i].load(Ordering::SeqCst) == 2)
        .count();
    println!(
        "| watched names on one finder | {n} (set up in {:.1} s; one watch stream) | |",
        set_up.as_secs_f64()
    );
    println!(
        "| finder's resident memory with them | {:.1} MB | < 100 MB |",
        memory as f64 / 1024.0
    );
    println!(
        "| SIGKILL of the serving member → every watch delivered the next write | {} in {:.2} s (the writes took {:.2} s), moved to {:?} | < 2 s |",
        if resumed { "all" } else { "NOT all" },
        took.as_secs_f64(),
        written.as_secs_f64(),
        finder.watch_member().map(|e| e.to_string()),
    );
    println!(
        "| changes lost / out of order or twice | {} / {} | 0 / 0 |",
        n - twice,
        seen.disorder.load(Ordering::SeqCst)
    );
    drop(handles);
    finder.close();
    cluster.restart(victim);
}

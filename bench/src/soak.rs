//! The soak: lookups and writes at full speed on this machine's two cores for some
//! minutes, while a watch follows every write. Counts the watch stream's moves (a move
//! under load alone is a spurious one: no member failed) and checks the watch saw every
//! write exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

use crate::measure::{metric_total, rt};

/// Runs the soak for `minutes` and prints its row.
pub fn run(cluster: &Cluster, minutes: u64) {
    let f = Arc::new(ServiceFinder::new(Config::new(cluster.endpoints()).unwrap()).unwrap());
    let (tx, rx) = unbounded::<i64>();
    let _w = f
        .watch_service("soak", move |c| tx.send(c.revision).unwrap())
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (f, stop) = (f.clone(), stop.clone());
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                f.get_service("cdd").expect("lookup");
                n += 1;
            }
            n
        })
    };
    let rt = rt();
    let client = rt
        .block_on(etcd_client::Client::connect(cluster.endpoints(), None))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60 * minutes);
    let mut written = Vec::new();
    let mut kv = client.kv_client();
    while Instant::now() < end {
        let rev = rt
            .block_on(kv.put("/services/soak", written.len().to_string(), None))
            .expect("write")
            .header()
            .map_or(0, |h| h.revision());
        written.push(rev);
    }
    stop.store(true, Ordering::Relaxed);
    let lookups = reader.join().unwrap();
    let last = *written.last().unwrap();
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(r) => seen.push(r),
            Err(_) => break,
        }
    }
    let text = f.metrics().unwrap();
    let moves = metric_total(&text, "turtle_watch_stream_moves_total");
    let hedged = metric_total(&text, "turtle_hedged_requests_total{");
    let exact = seen == written;
    println!(
        "| soak, {minutes} min: {lookups} lookups and {} writes at full speed, one watch | {moves} watch stream moves; {hedged} lookups hedged ({:.3}%); watch saw every write once: {exact} | | 0 moves, ≤ 5% hedged |",
        written.len(),
        100.0 * hedged / lookups as f64
    );
}

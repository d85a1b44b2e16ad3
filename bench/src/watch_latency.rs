//! put → callback latency: a raw etcd-client watch against the finder's watch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};

use crate::lookups::Clients;
use crate::measure::{line, pct, ratio, rt};

const CHANGES: usize = 2000;

/// A raw watch of `key` through `ep` on a thread of its own, sending the time of each
/// event, until `stop` is set.
fn raw_watcher(
    ep: String,
    key: &'static str,
    stop: Arc<AtomicBool>,
) -> (thread::JoinHandle<()>, Receiver<Instant>) {
    let (tx, rx) = unbounded::<Instant>();
    let h = thread::spawn(move || {
        rt().block_on(async move {
            let c = etcd_client::Client::connect([ep.as_str()], None)
                .await
                .unwrap();
            let mut stream = c.watch_client().watch(key, None).await.unwrap();
            while !stop.load(Ordering::SeqCst) {
                match tokio::time::timeout(Duration::from_millis(200), stream.message()).await {
                    Ok(Ok(Some(resp))) => {
                        for _ in resp.events() {
                            let _ = tx.send(Instant::now());
                        }
                    }
                    Ok(_) => break,
                    Err(_) => {}
                }
            }
        })
    });
    (h, rx)
}

/// Writes `key` CHANGES times, each after the last one's event arrived; the latencies.
fn latencies(c: &Clients, key: &str, rx: &Receiver<Instant>) -> Vec<Duration> {
    let mut writer = c.raw.kv_client();
    (0..CHANGES)
        .map(|i| {
            let t = Instant::now();
            c.rt.block_on(writer.put(key, i.to_string(), None)).unwrap();
            rx.recv_timeout(Duration::from_secs(10)).expect("event") - t
        })
        .collect()
}

pub fn put_to_callback(c: &Clients, ep: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    let (raw_watch, raw_rx) = raw_watcher(ep.to_string(), "/services/lat-raw", stop.clone());
    let (fin_tx, fin_rx) = unbounded::<Instant>();
    let w = c
        .finder
        .watch_service("lat", move |_| fin_tx.send(Instant::now()).unwrap())
        .unwrap();
    // Interleave to share any drift of the machine between both.
    let mut raw_lat = latencies(c, "/services/lat-raw", &raw_rx);
    let mut fin_lat = latencies(c, "/services/lat", &fin_rx);
    raw_lat.extend(latencies(c, "/services/lat-raw", &raw_rx));
    fin_lat.extend(latencies(c, "/services/lat", &fin_rx));
    stop.store(true, Ordering::SeqCst);
    raw_watch.join().unwrap();
    w.cancel();
    let (r50, r99) = (pct(&mut raw_lat, 0.5), pct(&mut raw_lat, 0.99));
    let (f50, f99) = (pct(&mut fin_lat, 0.5), pct(&mut fin_lat, 0.99));
    line(
        "raw watch put→event p50 / p99",
        format!("{r50:.0?} / {r99:.0?}"),
        None,
    );
    line(
        "finder put→callback p50",
        format!("{f50:.0?}"),
        Some((ratio(f50, r50), "≤ 1.10")),
    );
    line(
        "finder put→callback p99",
        format!("{f99:.0?}"),
        Some((ratio(f99, r99), "≤ 1.10")),
    );
}

//! The benchmark: raw `etcd-client` and turtle-finder against one real 3-member cluster in
//! one run. Prints each figure and its ratio to the raw baseline measured in the same run.
//!
//! `make bench` (release build). `BENCH_LOOKUPS` sets the lookups per phase (default 5000);
//! `BENCH_ONE_CALLER=1` stops after the single-caller lookups.
//! One module per measurement; `python_baseline` holds the modes `make bench-python` uses.

mod cache;
mod failover;
mod locks;
mod lookups;
mod measure;
mod metrics;
mod python_baseline;
mod scale;
mod soak;
mod tls;
mod watch_latency;

use std::sync::Arc;

use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => full_run(),
        Some("lookups") => python_baseline::lookups(&args[1..]),
        Some("watch-times") => python_baseline::watch_times(&args[1..]),
        Some("watch-move") => failover::watch_move(&mut Cluster::start()),
        Some("failover") => failover_run(),
        Some("soak") => soak_run(
            args.get(1)
                .map_or(Ok(10), |m| m.parse())
                .unwrap_or_else(|_| {
                    eprintln!("turtle-bench soak [MINUTES]: minutes are a whole number");
                    std::process::exit(2)
                }),
        ),
        Some("scale") => scale::watches(&mut Cluster::start(), 10_000),
        Some("cache") => cache_run(),
        Some("tls") => tls_run(5000),
        Some("metrics") => metrics_run(5000),
        Some("locks") => locks_run(),
        Some("elect-child") => locks::elect_child(&args[1..]),
        Some(other) => {
            eprintln!("turtle-bench: unknown mode {other:?}; modes: (none), lookups ENDPOINTS N THREADS, watch-times ENDPOINTS SERVICE, watch-move, failover, soak [MINUTES], scale, cache, tls, metrics, locks");
            std::process::exit(2);
        }
    }
}

/// The whole benchmark against a cluster of its own.
fn full_run() {
    let n: usize = std::env::var("BENCH_LOOKUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let mut cluster = Cluster::start();
    cluster.put_via(0, "/services/cdd", r#"[ "turtle1", "turtle2", "turtle3" ]"#);
    let leader = cluster.leader().expect("a leader");
    // Every client reads through the same follower, so all pay the same server path.
    let follower = (leader + 1) % cluster.len();
    let ep = cluster.endpoint(follower);
    let ordered: Vec<String> = std::iter::once(ep.clone())
        .chain(
            (0..cluster.len())
                .filter(|&i| i != follower)
                .map(|i| cluster.endpoint(i)),
        )
        .collect();
    println!(
        "cluster: {} (leader {}), lookups per phase: {n}\n",
        cluster.endpoints().join(", "),
        cluster.endpoint(leader)
    );
    println!("| measure | value | ratio to raw etcd-client | target |");
    println!("|---|---|---|---|");
    let rt = measure::rt();
    let raw = rt
        .block_on(etcd_client::Client::connect([ep.as_str()], None))
        .unwrap();
    let finder = Arc::new(ServiceFinder::new(Config::new(&ordered).unwrap()).unwrap());
    let clients = lookups::Clients {
        rt: &rt,
        raw: &raw,
        finder: &finder,
        ordered: &ordered,
    };
    lookups::one_caller(&clients, n);
    if std::env::var_os("BENCH_ONE_CALLER").is_some() {
        return; // only the single-caller figures, for trying changes of the hot path
    }
    lookups::eight_callers(&clients, n);
    watch_latency::put_to_callback(&clients, &ep);
    finder.close();
    println!();
    failover_part(&mut cluster, n);
    println!();
    failover::watch_move(&mut cluster);
    println!("\n| scale | value | target |\n|---|---|---|");
    scale::watches(&mut cluster, 10_000);
    println!();
    cache_part(&mut cluster, n);
    println!();
    metrics_part(&cluster, n);
    println!();
    locks_part(&cluster);
    println!();
    drop(cluster);
    tls_run(n);
}

/// Locks and elections on a cluster of their own.
fn locks_run() {
    locks_part(&Cluster::start());
}

fn locks_part(cluster: &Cluster) {
    println!("| locks | value | ratio | target |\n|---|---|---|---|");
    locks::uncontended(cluster, 500);
    locks::hand_off(cluster, std::time::Duration::from_secs(5));
    locks::election_failover(cluster);
}

/// The soak (10 minutes unless told), on a cluster of its own.
fn soak_run(minutes: u64) {
    let cluster = Cluster::start();
    cluster.put_via(0, "/services/cdd", r#"[ "turtle1", "turtle2", "turtle3" ]"#);
    println!("| soak | value | ratio | target |\n|---|---|---|---|");
    soak::run(&cluster, minutes);
}

/// Lookups across faults and the hedge rate, on a cluster of their own.
fn failover_run() {
    let mut cluster = Cluster::start();
    cluster.put_via(0, "/services/cdd", r#"[ "turtle1", "turtle2", "turtle3" ]"#);
    failover_part(&mut cluster, 5000);
}

fn failover_part(cluster: &mut Cluster, n: usize) {
    failover::lookup_gaps(cluster);
    failover::hedge_rate(cluster, 4 * n);
}

/// The TLS figures, on clusters of their own.
fn tls_run(n: usize) {
    println!("| TLS | value | ratio | target |\n|---|---|---|---|");
    tls::run(n);
}

/// The metrics' cost on a cluster of its own.
fn metrics_run(n: usize) {
    let cluster = Cluster::start();
    cluster.put_via(0, "/services/cdd", r#"[ "turtle1", "turtle2", "turtle3" ]"#);
    metrics_part(&cluster, n);
}

fn metrics_part(cluster: &Cluster, n: usize) {
    println!("| metrics | value | ratio | target |\n|---|---|---|---|");
    metrics::run(cluster, n);
}

/// The cache's figures on a cluster of its own.
fn cache_run() {
    let mut cluster = Cluster::start();
    cluster.put_via(0, "/services/cdd", r#"[ "turtle1", "turtle2", "turtle3" ]"#);
    cache_part(&mut cluster, 5000);
}

fn cache_part(cluster: &mut Cluster, n: usize) {
    println!("| cache | value | ratio | target |\n|---|---|---|---|");
    cache::lookups(cluster, n);
    cache::leader_kill(cluster);
}

//! The demo: a local 3-member etcd cluster, a lookup, a watch, the member in use killed,
//! and lookups and the watch carrying on. Run with `make demo`.

use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("starting a local 3-member etcd cluster…");
    let mut cluster = Cluster::start();
    let endpoints = cluster.endpoints();
    println!("  members: {}", endpoints.join(", "));

    let seed = r#"[ "turtle1", "turtle2", "turtle3" ]"#;
    cluster.put_via(0, "/services/cdd", seed);
    println!("stored /services/cdd = {seed}");

    let finder = ServiceFinder::new(Config::new(&endpoints)?)?;
    let value = finder.get_service("cdd")?;
    println!(
        "lookup: get_service(\"cdd\") = {}",
        value.as_deref().unwrap_or("(absent)")
    );

    let (tx, changes) = unbounded();
    finder.watch_service("cdd", move |change| {
        let value = change
            .value_str()
            .ok()
            .flatten()
            .unwrap_or("<deleted>")
            .to_string();
        println!(
            "  watch: Key change at revision {}: {value}",
            change.revision
        );
        let _ = tx.send(value);
    })?;

    let serving = finder.preferred_member().to_string();
    let victim = cluster
        .index_of(&serving)
        .ok_or("serving member not in the cluster")?;
    let writer = (victim + 1) % cluster.len();
    cluster.put_via(writer, "/services/cdd", r#"[ "turtle1", "turtle2" ]"#);
    changes.recv_timeout(Duration::from_secs(10))?;

    let is_leader = cluster.leader() == Some(victim);
    let role = if is_leader {
        "the leader: linearizable lookups wait until the others elect a new one"
    } else {
        "a follower"
    };
    println!("killing the member in use ({serving}, {role}) with SIGKILL…");
    cluster.kill(victim);
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..200 {
        let t = Instant::now();
        let v = finder.get_service("cdd")?;
        slowest = slowest.max(t.elapsed());
        assert!(v.is_some(), "the service is still there");
    }
    println!(
        "  200 lookups after the kill in {:.2} s, slowest {:.1} ms{}, no errors; now served by {}",
        start.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1e3,
        if is_leader { " (the election)" } else { "" },
        finder.preferred_member()
    );
    cluster.put_via(
        writer,
        "/services/cdd",
        r#"[ "turtle2", "turtle3", "turtle4" ]"#,
    );
    let seen = changes.recv_timeout(Duration::from_secs(10))?;
    let stream = finder.watch_member().map(|e| e.to_string());
    println!(
        "  the watch carried on: it saw {seen} (watch stream on {})",
        stream.as_deref().unwrap_or("no member yet")
    );

    finder.close();
    drop(cluster);
    println!("done: cluster stopped.");
    Ok(())
}

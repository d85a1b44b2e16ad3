//! Resources come back: 1,000 finders made, used and closed, and 1,000 watches made and
//! cancelled, leave this process's threads and file descriptors as they were and its
//! memory about where it was. One test in its own binary, so the counts are this test's.

use std::time::Instant;

use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

/// (threads, open file descriptors, resident KiB) of this process.
fn usage() -> (usize, usize, u64) {
    let count = |dir: &str| std::fs::read_dir(dir).unwrap().count();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    (count("/proc/self/task"), count("/proc/self/fd"), rss)
}

#[test]
fn a_thousand_finders_and_a_thousand_watches_leave_nothing_behind() {
    let c = Cluster::start();
    c.put_via(0, "/services/cdd", "x");
    let cfg = Config::new(c.endpoints()).unwrap();
    let cycle = || {
        let f = ServiceFinder::new(cfg.clone()).unwrap();
        assert_eq!(f.get_service("cdd").unwrap().as_deref(), Some("x"));
        f.watch_service("cdd", |_| {}).unwrap();
        f.close();
    };
    cycle(); // the allocator and lazy statics settle
    let (threads, fds, rss) = usage();
    let t = Instant::now();
    (0..1000).for_each(|_| cycle());
    let after_finders = usage();
    println!(
        "1000 finders in {:?}: {after_finders:?} from {:?}",
        t.elapsed(),
        (threads, fds, rss)
    );
    assert_eq!(
        (after_finders.0, after_finders.1),
        (threads, fds),
        "threads and fds"
    );

    let f = ServiceFinder::new(cfg).unwrap();
    f.get_service("cdd").unwrap();
    // Every member's connection open before counting: a read hedged on a busy machine
    // opens the next member's (one per member, kept for later requests), which is no leak.
    assert_eq!(f.health().unwrap().len(), 3);
    let (threads, fds, rss2) = usage();
    let t = Instant::now();
    for i in 0..1000 {
        f.watch_service(&format!("w{}", i % 50), |_| {})
            .unwrap()
            .cancel();
    }
    let after_watches = usage();
    println!(
        "1000 watches in {:?}: {after_watches:?} from {:?}",
        t.elapsed(),
        (threads, fds, rss2)
    );
    assert_eq!(
        (after_watches.0, after_watches.1),
        (threads, fds),
        "threads and fds"
    );
    f.close();
    // Memory: what the allocator keeps may differ a little; a leak of ~10 KiB a finder
    // or a watch would show as 10 MiB.
    let grown = usage().2.saturating_sub(rss);
    assert!(grown < 8 * 1024, "resident memory grew by {grown} KiB");
}

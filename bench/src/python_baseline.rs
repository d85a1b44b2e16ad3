//! The modes the Python benchmark runs this binary in, for a baseline measured in the
//! same run: the Rust blocking API's and raw `etcd-client`'s lookups, and the blocking API's
//! watch callbacks' times.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::unbounded;
use turtle_finder::{Config, ServiceFinder};

use crate::lookups;
use crate::measure::Phase;

/// `lookups ENDPOINTS N THREADS [raw]`: the blocking API's lookups from THREADS threads, or
/// with `raw` raw `etcd-client`'s from THREADS tasks on one current-thread runtime (the
/// first endpoint only); prints `{"ops_per_s": .., "cpu_per_op_us": ..}`.
pub fn lookups(args: &[String]) {
    let (eps, n, threads, raw) = match args {
        [eps, n, threads] => (eps, n, threads, false),
        [eps, n, threads, raw] if raw == "raw" => (eps, n, threads, true),
        _ => panic!("lookups ENDPOINTS N THREADS [raw]"),
    };
    let (n, threads): (usize, usize) = (n.parse().expect("N"), threads.parse().expect("THREADS"));
    let p = if raw {
        raw_lookups(eps.split(',').next().expect("an endpoint"), n, threads)
    } else {
        finder_lookups(eps, n, threads)
    };
    println!(
        "{{\"ops_per_s\": {:.1}, \"cpu_per_op_us\": {:.2}}}",
        p.ops_per_s,
        p.cpu_per_op.as_secs_f64() * 1e6
    );
}

fn finder_lookups(eps: &str, n: usize, threads: usize) -> Phase {
    let finder = Arc::new(ServiceFinder::new(Config::new([eps]).unwrap()).unwrap());
    for _ in 0..200 {
        finder.get_service("cdd").unwrap().unwrap();
    }
    lookups::finder_threads(&finder, n, threads)
}

fn raw_lookups(ep: &str, n: usize, tasks: usize) -> Phase {
    let rt = crate::measure::rt();
    let client = rt
        .block_on(etcd_client::Client::connect([ep], None))
        .unwrap();
    lookups::raw_tasks(&rt, &client, 200, 1); // warm-up, not counted
    lookups::raw_tasks(&rt, &client, n, tasks)
}

/// `watch-times ENDPOINTS SERVICE`: watches SERVICE with the blocking API and prints
/// `REVISION MONOTONIC_NS` per callback (CLOCK_MONOTONIC, as Python's time.monotonic) until
/// stdin closes; lets another process's writes time this process's callbacks.
pub fn watch_times(args: &[String]) {
    let [eps, service] = args else {
        panic!("watch-times ENDPOINTS SERVICE")
    };
    let finder = ServiceFinder::new(Config::new([eps.as_str()]).unwrap()).unwrap();
    let (tx, rx) = unbounded::<(i64, u128)>();
    let w = finder
        .watch_service(service, move |c| {
            tx.send((c.revision, monotonic_ns())).unwrap()
        })
        .unwrap();
    println!("ready");
    let printer = thread::spawn(move || {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (rev, ns) in rx {
            let _ = writeln!(out, "{rev} {ns}");
            let _ = out.flush();
        }
    });
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    w.cancel();
    finder.close();
    drop(finder);
    printer.join().unwrap();
}

fn monotonic_ns() -> u128 {
    // SAFETY: clock_gettime fills the struct we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

//! The benchmark: raw `etcd-client` and turtle-finder against one real 3-member cluster in
//! one run. Prints each figure and its ratio to the raw baseline measured in the same run.
//!
//! `make bench` (release build). `BENCH_LOOKUPS` sets the lookups per phase (default 5000).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use turtle_finder::{Client, Config, ServiceFinder};
use turtle_tests::Cluster;

/// User + system CPU time of this process so far (etcd members are other processes).
fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

#[derive(Default)]
struct Phase {
    ops_per_s: f64,
    cpu_per_op: Duration,
}

/// The median throughput and median CPU per operation of some rounds.
fn median(mut v: Vec<Phase>) -> Phase {
    let mid = v.len() / 2;
    v.sort_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s));
    let ops_per_s = v[mid].ops_per_s;
    v.sort_by_key(|p| p.cpu_per_op);
    Phase {
        ops_per_s,
        cpu_per_op: v[mid].cpu_per_op,
    }
}

/// Runs `n` operations with `f`, measuring wall time and this process's CPU time.
fn measure(n: usize, f: impl FnOnce()) -> Phase {
    let (t, c) = (Instant::now(), cpu());
    f();
    let (wall, used) = (t.elapsed(), cpu() - c);
    Phase {
        ops_per_s: n as f64 / wall.as_secs_f64(),
        cpu_per_op: used / n as u32,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn line(name: &str, value: String, ratio: Option<(f64, &str)>) {
    match ratio {
        Some((r, target)) => println!("| {name} | {value} | {r:.2}× | {target} |"),
        None => println!("| {name} | {value} | | |"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => full_run(),
        Some("lookups") => lookups_mode(&args[1..]),
        Some("watch-times") => watch_times_mode(&args[1..]),
        Some(other) => {
            eprintln!("turtle-bench: unknown mode {other:?}; modes: (none), lookups ENDPOINTS N THREADS, watch-times ENDPOINTS SERVICE");
            std::process::exit(2);
        }
    }
}

/// `lookups ENDPOINTS N THREADS`: the blocking API's lookups, for the Python benchmark's
/// baseline; prints `{"ops_per_s": .., "cpu_per_op_us": ..}`.
fn lookups_mode(args: &[String]) {
    let [eps, n, threads] = args else {
        panic!("lookups ENDPOINTS N THREADS")
    };
    let (n, threads): (usize, usize) = (n.parse().expect("N"), threads.parse().expect("THREADS"));
    let finder = Arc::new(ServiceFinder::new(Config::new([eps.as_str()]).unwrap()).unwrap());
    for _ in 0..200 {
        finder.get_service("cdd").unwrap().unwrap();
    }
    let p = measure(n, || {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let f = finder.clone();
                thread::spawn(move || {
                    (0..n / threads).for_each(|_| drop(f.get_service("cdd").unwrap().unwrap()))
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    println!(
        "{{\"ops_per_s\": {:.1}, \"cpu_per_op_us\": {:.2}}}",
        p.ops_per_s,
        p.cpu_per_op.as_secs_f64() * 1e6
    );
}

/// `watch-times ENDPOINTS SERVICE`: watches SERVICE with the blocking API and prints
/// `REVISION MONOTONIC_NS` per callback (CLOCK_MONOTONIC, as Python's time.monotonic) until
/// stdin closes; lets another process's writes time this process's callbacks.
fn watch_times_mode(args: &[String]) {
    let [eps, service] = args else {
        panic!("watch-times ENDPOINTS SERVICE")
    };
    let finder = ServiceFinder::new(Config::new([eps.as_str()]).unwrap()).unwrap();
    let (tx, rx) = unbounded::<(i64, u128)>();
    let _w = finder
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
    drop(_w);
    finder.close();
    drop(finder);
    printer.join().unwrap();
}

fn monotonic_ns() -> u128 {
    // SAFETY: clock_gettime fills the struct we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
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
    let follower = (leader + 1) % cluster.len();
    // Every client reads through the same follower, so all pay the same server path.
    let ep = cluster.endpoint(follower);
    let others: Vec<String> = (0..cluster.len())
        .filter(|&i| i != follower)
        .map(|i| cluster.endpoint(i))
        .collect();
    let ordered: Vec<String> = std::iter::once(ep.clone())
        .chain(others.iter().cloned())
        .collect();
    println!(
        "cluster: {} (leader {}), lookups per phase: {n}\n",
        cluster.endpoints().join(", "),
        cluster.endpoint(leader)
    );
    println!("| measure | value | ratio to raw etcd-client | target |");
    println!("|---|---|---|---|");

    // One caller, four clients, measured in interleaved rounds; medians are reported.
    let raw_rt = rt();
    let raw = raw_rt
        .block_on(etcd_client::Client::connect([ep.as_str()], None))
        .unwrap();
    let mut kv = raw.kv_client();
    let client = raw_rt
        .block_on(Client::connect(Config::new(&ordered).unwrap()))
        .unwrap();
    let finder = Arc::new(ServiceFinder::new(Config::new(&ordered).unwrap()).unwrap());
    let c_eps = std::ffi::CString::new(ordered.join(",")).unwrap();
    let mut handle: *mut turtle::turtle_finder = std::ptr::null_mut();
    // SAFETY: valid C string and out-pointer.
    let st = unsafe { turtle::turtle_finder_new(c_eps.as_ptr(), &mut handle) };
    assert_eq!(st, turtle::turtle_status::TURTLE_OK);
    // libturtle: the exported C functions, called as a C program calls them.
    let c_lookup = || {
        let mut v: *mut std::ffi::c_char = std::ptr::null_mut();
        // SAFETY: live handle, static name, valid out-pointer; the string is freed at once.
        unsafe {
            assert_eq!(
                turtle::turtle_get_service(handle, c"cdd".as_ptr(), 0, &mut v),
                turtle::turtle_status::TURTLE_OK
            );
            turtle::turtle_string_free(v);
        }
    };
    let mut rounds: [Vec<Phase>; 4] = Default::default();
    for round in 0..4 {
        // Round 0 warms every client up and is not counted.
        let k = if round == 0 { 200 } else { n };
        let phases = [
            measure(k, || {
                raw_rt.block_on(async {
                    for _ in 0..k {
                        kv.get("/services/cdd", None).await.unwrap();
                    }
                })
            }),
            measure(k, || {
                raw_rt.block_on(async {
                    for _ in 0..k {
                        client.get_service("cdd").await.unwrap().unwrap();
                    }
                })
            }),
            measure(k, || {
                (0..k).for_each(|_| {
                    finder.get_service("cdd").unwrap().unwrap();
                })
            }),
            measure(k, || (0..k).for_each(|_| c_lookup())),
        ];
        if round > 0 {
            for (all, p) in rounds.iter_mut().zip(phases) {
                all.push(p);
            }
        }
    }
    turtle::turtle_finder_free(handle);
    let [base, asy, blk, cabi] = rounds.map(median);
    line(
        "raw etcd-client get, one task",
        format!(
            "{:.0} ops/s, {:.1?} CPU/op",
            base.ops_per_s, base.cpu_per_op
        ),
        None,
    );
    line(
        "async Client::get_service, one task",
        format!("{:.0} ops/s", asy.ops_per_s),
        Some((asy.ops_per_s / base.ops_per_s, "≥ 0.90")),
    );
    line(
        "async Client CPU per lookup",
        format!("{:.1?}", asy.cpu_per_op),
        Some((ratio(asy.cpu_per_op, base.cpu_per_op), "≤ 1.20")),
    );
    line(
        "ServiceFinder::get_service, one thread",
        format!("{:.0} ops/s", blk.ops_per_s),
        Some((blk.ops_per_s / base.ops_per_s, "≥ 0.90")),
    );
    line(
        "ServiceFinder CPU per lookup",
        format!("{:.1?}", blk.cpu_per_op),
        Some((ratio(blk.cpu_per_op, base.cpu_per_op), "≤ 1.20")),
    );
    line(
        "libturtle turtle_get_service, one thread",
        format!(
            "{:.0} ops/s, {:.1?} CPU/op",
            cabi.ops_per_s, cabi.cpu_per_op
        ),
        Some((
            cabi.ops_per_s / blk.ops_per_s,
            "≥ 0.90 of ServiceFinder's ops/s",
        )),
    );

    // 8 threads (finder) vs 8 tasks (raw).
    let raw8 = measure(n, || {
        raw_rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let mut kv = raw.kv_client();
                    tokio::spawn(async move {
                        for _ in 0..n / 8 {
                            kv.get("/services/cdd", None).await.unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
    line(
        "raw etcd-client, 8 tasks",
        format!(
            "{:.0} ops/s, {:.1?} CPU/op",
            raw8.ops_per_s, raw8.cpu_per_op
        ),
        None,
    );
    let fin8 = measure(n, || {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let f = finder.clone();
                thread::spawn(move || {
                    for _ in 0..n / 8 {
                        f.get_service("cdd").unwrap().unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    line(
        "ServiceFinder, 8 threads",
        format!(
            "{:.0} ops/s, {:.1?} CPU/op",
            fin8.ops_per_s, fin8.cpu_per_op
        ),
        Some((fin8.ops_per_s / raw8.ops_per_s, "(vs raw 8 tasks)")),
    );

    // put -> callback latency, 2000 changes, raw watch vs finder watch.
    let changes = 2000;
    let (raw_tx, raw_rx) = unbounded::<Instant>();
    let stop_raw = Arc::new(AtomicBool::new(false));
    let raw_watch = {
        let ep = ep.clone();
        let stop = stop_raw.clone();
        thread::spawn(move || {
            let rt = rt();
            rt.block_on(async move {
                let c = etcd_client::Client::connect([ep.as_str()], None)
                    .await
                    .unwrap();
                let mut stream = c
                    .watch_client()
                    .watch("/services/lat-raw", None)
                    .await
                    .unwrap();
                while !stop.load(Ordering::SeqCst) {
                    match tokio::time::timeout(Duration::from_millis(200), stream.message()).await {
                        Ok(Ok(Some(resp))) => {
                            for _ in resp.events() {
                                let _ = raw_tx.send(Instant::now());
                            }
                        }
                        Ok(_) => break,
                        Err(_) => {}
                    }
                }
            })
        })
    };
    let (fin_tx, fin_rx) = unbounded::<Instant>();
    let _w = finder
        .watch_service("lat", move |_| fin_tx.send(Instant::now()).unwrap())
        .unwrap();
    let mut writer = raw.kv_client();
    let mut lat = |key: &str, rx: &Receiver<Instant>| -> Vec<Duration> {
        (0..changes)
            .map(|i| {
                let t = Instant::now();
                raw_rt
                    .block_on(writer.put(key, i.to_string(), None))
                    .unwrap();
                rx.recv_timeout(Duration::from_secs(10)).expect("event") - t
            })
            .collect()
    };
    // Interleave to share any drift of the machine between both.
    let mut raw_lat = lat("/services/lat-raw", &raw_rx);
    let mut fin_lat = lat("/services/lat", &fin_rx);
    raw_lat.extend(lat("/services/lat-raw", &raw_rx));
    fin_lat.extend(lat("/services/lat", &fin_rx));
    stop_raw.store(true, Ordering::SeqCst);
    raw_watch.join().unwrap();
    let (r50, r99, f50, f99) = (
        pct(&mut raw_lat, 0.5),
        pct(&mut raw_lat, 0.99),
        pct(&mut fin_lat, 0.5),
        pct(&mut fin_lat, 0.99),
    );
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
    drop(_w);
    finder.close();
    println!();

    // Failover: lookups in a loop while the member serving them fails.
    println!("| fault on the serving member | client | longest gap between successes | errors seen by the caller | target |");
    println!("|---|---|---|---|---|");
    for (fault, victim_is_leader) in [
        ("SIGKILL", false),
        ("SIGSTOP", false),
        ("SIGKILL", true),
        ("SIGSTOP", true),
    ] {
        let victim = victim_of(&cluster, victim_is_leader);
        let role = if victim_is_leader {
            "leader"
        } else {
            "follower"
        };
        let first: Vec<String> = std::iter::once(cluster.endpoint(victim))
            .chain(
                (0..cluster.len())
                    .filter(|&i| i != victim)
                    .map(|i| cluster.endpoint(i)),
            )
            .collect();
        let target = match (fault, victim_is_leader) {
            ("SIGKILL", false) => "≤ 100 ms, no error",
            (_, false) => "≤ 1 s, no error",
            _ => "(leader: bounded by etcd's election)",
        };
        let (gap, errs) = failover_gap(&mut cluster, victim, fault, || {
            let f = ServiceFinder::new(Config::new(&first).unwrap()).unwrap();
            Box::new(move || f.get_service("cdd").map(|_| ()).map_err(|e| e.to_string()))
        });
        println!(
            "| {fault} ({role}) | turtle-finder | {:.0} ms | {errs} | {target} |",
            gap.as_secs_f64() * 1e3
        );
        let victim = victim_of(&cluster, victim_is_leader);
        let all = cluster.endpoints();
        let (gap, errs) = failover_gap(&mut cluster, victim, fault, || {
            let rt = rt();
            let c = rt
                .block_on(etcd_client::Client::connect(&all, None))
                .unwrap();
            Box::new(move || {
                let mut kv = c.kv_client();
                rt.block_on(async {
                    match tokio::time::timeout(
                        Duration::from_secs(5),
                        kv.get("/services/cdd", None),
                    )
                    .await
                    {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("no answer in 5 s".into()),
                    }
                })
            })
        });
        println!("| {fault} ({role}) | raw etcd-client (all 3 endpoints, 5 s timeout) | {:.0} ms | {errs} | |", gap.as_secs_f64() * 1e3);
    }

    // A watch whose member is SIGSTOPped: time until it delivers from another member.
    println!();
    let finder = ServiceFinder::new(Config::new(cluster.endpoints()).unwrap()).unwrap();
    let (tx, rx) = unbounded::<(i64, Instant)>();
    let _w = finder
        .watch_service("moving", move |c| {
            tx.send((c.revision, Instant::now())).unwrap()
        })
        .unwrap();
    let r0 = cluster.put_via(0, "/services/moving", "0");
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap().0, r0);
    let watching = cluster
        .index_of(&finder.watch_member().unwrap().to_string())
        .unwrap();
    let writer_i = (watching + 1) % cluster.len();
    cluster.stop(watching);
    let t = Instant::now();
    let r1 = cluster.put_via(writer_i, "/services/moving", "1");
    let (rev, at) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the watch moved");
    let moved = at - t;
    cluster.cont(watching);
    println!(
        "watch of a SIGSTOPped member: delivered revision {rev} (written {r1}) {:.2}s after the stop, from {:?} (target ≤ 2 s, nothing lost: {})",
        moved.as_secs_f64(),
        finder.watch_member().map(|e| e.to_string()),
        rev == r1
    );
}

/// The leader, or the member after it (a follower).
fn victim_of(cluster: &Cluster, leader: bool) -> usize {
    let l = cluster.leader().expect("a leader");
    if leader {
        l
    } else {
        (l + 1) % cluster.len()
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

type Lookup = Box<dyn FnMut() -> Result<(), String> + Send>;

/// Runs lookups, applies `fault` to member `victim` after 200 of them, keeps going for
/// 2 s of wall time after the fault, undoes it; returns the longest gap and error count.
fn failover_gap(
    cluster: &mut Cluster,
    victim: usize,
    fault: &str,
    make: impl FnOnce() -> Lookup,
) -> (Duration, usize) {
    let mut lookup = make();
    for _ in 0..200 {
        lookup().expect("lookups before the fault");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = unbounded::<Result<Instant, String>>();
    let s = stop.clone();
    let h = thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            let r = lookup().map(|_| Instant::now());
            let _ = tx.send(r);
        }
    });
    let begin = Instant::now();
    let mut times = vec![begin];
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

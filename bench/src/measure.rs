//! Measuring: CPU time, rounds and medians, percentiles, counters from a finder's
//! metrics, and the report's table lines.

use std::time::{Duration, Instant};

/// User + system CPU time of this process so far (etcd members are other processes).
pub fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Throughput and CPU per operation of one measured phase.
#[derive(Default)]
pub struct Phase {
    pub ops_per_s: f64,
    pub cpu_per_op: Duration,
}

/// The median throughput and median CPU per operation of some rounds.
pub fn median(mut v: Vec<Phase>) -> Phase {
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
pub fn measure(n: usize, f: impl FnOnce()) -> Phase {
    let (t, c) = (Instant::now(), cpu());
    f();
    let (wall, used) = (t.elapsed(), cpu() - c);
    Phase {
        ops_per_s: n as f64 / wall.as_secs_f64(),
        cpu_per_op: used / n as u32,
    }
}

/// A current-thread tokio runtime, as a raw etcd-client program would use.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The `p` quantile (0 to 1) of `v`.
pub fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// One row of the report's table: a measure, its value, and its ratio with the target.
pub fn line(name: &str, value: String, ratio: Option<(f64, &str)>) {
    match ratio {
        Some((r, target)) => println!("| {name} | {value} | {r:.2}× | {target} |"),
        None => println!("| {name} | {value} | | |"),
    }
}

/// The sum over every label set of the metric samples in `text` (Prometheus text) whose
/// line starts with `name`, e.g. `turtle_hedged_requests_total{`.
pub fn metric_total(text: &str, name: &str) -> f64 {
    (text.lines())
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

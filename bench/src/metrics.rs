//! Metrics: a lookup's throughput and CPU with the metrics on and off, in alternating
//! rounds against the same member, beside raw `etcd-client`; and what a scrape costs.

use std::time::{Duration, Instant};

use turtle_finder::{Config, ServiceFinder};
use turtle_tests::Cluster;

use crate::measure::{line, measure, median, ratio, rt, Phase};

pub fn run(c: &Cluster, n: usize) {
    let ep = c.endpoint(0);
    let finder = |on: bool| {
        let cfg = Config::new([ep.as_str()]).unwrap().with_metrics(on);
        ServiceFinder::new(cfg).unwrap()
    };
    let (on, off) = (finder(true), finder(false));
    let rt = rt();
    let raw = rt
        .block_on(etcd_client::Client::connect([ep.as_str()], None))
        .unwrap();
    let mut kv = raw.kv_client();
    let mut phases: [Vec<Phase>; 3] = Default::default();
    // Alternating rounds: drift of the machine (other processes, CPU frequency) falls on
    // every mode alike.
    for _ in 0..7 {
        phases[0].push(measure(n, || {
            (0..n).for_each(|_| drop(rt.block_on(kv.get("/services/cdd", None)).unwrap()))
        }));
        for (i, f) in [(1, &on), (2, &off)] {
            phases[i].push(measure(n, || {
                (0..n).for_each(|_| drop(f.get_service("cdd").unwrap()))
            }));
        }
    }
    let [raw, on_p, off_p] = phases.map(median);
    let per_op = |p: &Phase| format!("{:.0} ops/s, {:.1?} CPU/op", p.ops_per_s, p.cpu_per_op);
    line("raw etcd-client", per_op(&raw), None);
    line(
        "ServiceFinder, metrics off",
        per_op(&off_p),
        Some((ratio(off_p.cpu_per_op, raw.cpu_per_op), "CPU vs raw")),
    );
    line(
        "ServiceFinder, metrics on",
        per_op(&on_p),
        Some((ratio(on_p.cpu_per_op, raw.cpu_per_op), "CPU vs raw")),
    );
    line(
        "metrics on vs off: CPU per lookup",
        format!("{:.1?} vs {:.1?}", on_p.cpu_per_op, off_p.cpu_per_op),
        Some((ratio(on_p.cpu_per_op, off_p.cpu_per_op), "≤ 1.03×")),
    );
    line(
        "metrics on vs off: throughput",
        format!("{:.0} vs {:.0} ops/s", on_p.ops_per_s, off_p.ops_per_s),
        Some((on_p.ops_per_s / off_p.ops_per_s, "(1.00× is no cost)")),
    );
    let mut renders: Vec<Duration> = (0..200)
        .map(|_| {
            let t = Instant::now();
            drop(on.metrics().unwrap());
            t.elapsed()
        })
        .collect();
    renders.sort();
    let size = on.metrics().unwrap().len();
    line(
        "one scrape: rendering the metrics text",
        format!("{:.0?} median, {size} bytes", renders[100]),
        None,
    );
}

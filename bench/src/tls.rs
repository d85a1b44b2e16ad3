//! TLS: what a handshake costs a new finder, and a lookup's throughput and CPU over TLS
//! against plaintext and against raw `etcd-client` over TLS, in one run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use turtle_finder::{Config, ServiceFinder};
use turtle_tests::{Certs, Cluster, ClusterOptions};

use crate::measure::{cpu, line, measure, median, ratio, rt, Phase};

/// The median time and CPU of a new finder's first lookup (connection, and handshake).
fn first_lookup(cfg: &Config) -> (Duration, Duration) {
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..15 {
        let f = ServiceFinder::new(cfg.clone()).unwrap();
        let (t, c) = (Instant::now(), cpu());
        f.get_service("cdd").unwrap();
        times.push(t.elapsed());
        cpus.push(cpu() - c);
    }
    times.sort();
    cpus.sort();
    (times[7], cpus[7])
}

/// The medians of 3 rounds of `n` lookups of the raw client and the finder.
fn rounds(raw: &mut dyn FnMut(), finder: &ServiceFinder, n: usize) -> [Phase; 2] {
    let mut all: [Vec<Phase>; 2] = Default::default();
    for _ in 0..3 {
        all[0].push(measure(n, || (0..n).for_each(|_| raw())));
        all[1].push(measure(n, || {
            (0..n).for_each(|_| drop(finder.get_service("cdd").unwrap()))
        }));
    }
    all.map(median)
}

/// A raw etcd-client lookup loop through member 0 of `c`, over TLS when `certs`.
fn raw_client(c: &Cluster, certs: Option<&Certs>) -> Box<dyn FnMut()> {
    let rt = rt();
    let mut opts = etcd_client::ConnectOptions::new();
    if let Some(certs) = certs {
        opts = opts.with_tls(certs.etcd_client_tls());
    }
    let client = rt
        .block_on(etcd_client::Client::connect([c.endpoint(0)], Some(opts)))
        .unwrap();
    let mut kv = client.kv_client();
    Box::new(move || drop(rt.block_on(kv.get("/services/cdd", None)).unwrap()))
}

pub fn run(n: usize) {
    let certs = Arc::new(Certs::new());
    let tls = Cluster::start_with(ClusterOptions {
        tls: Some(certs.clone()),
        client_cert_auth: true,
        ..Default::default()
    });
    let plain = Cluster::start();
    for c in [&tls, &plain] {
        c.put_via(0, "/services/cdd", r#"[ "turtle1", "turtle2", "turtle3" ]"#);
    }
    let tls_cfg = Config::new([tls.endpoint(0)])
        .unwrap()
        .with_ca_file(&certs.ca)
        .with_client_cert(&certs.client.cert, &certs.client.key);
    let plain_cfg = Config::new([plain.endpoint(0)]).unwrap();
    let (tls_first, tls_first_cpu) = first_lookup(&tls_cfg);
    let (plain_first, plain_first_cpu) = first_lookup(&plain_cfg);
    line(
        "a new finder's first lookup, plaintext",
        format!("{plain_first:.1?}, {plain_first_cpu:.1?} CPU"),
        None,
    );
    line(
        "a new finder's first lookup over TLS (the handshake)",
        format!("{tls_first:.1?}, {tls_first_cpu:.1?} CPU"),
        Some((ratio(tls_first_cpu, plain_first_cpu), "CPU vs plaintext")),
    );
    let tls_finder = ServiceFinder::new(tls_cfg).unwrap();
    let plain_finder = ServiceFinder::new(plain_cfg).unwrap();
    let [raw_tls, fin_tls] = rounds(&mut *raw_client(&tls, Some(&certs)), &tls_finder, n);
    let [raw_plain, fin_plain] = rounds(&mut *raw_client(&plain, None), &plain_finder, n);
    let per_op = |p: &Phase| format!("{:.0} ops/s, {:.1?} CPU/op", p.ops_per_s, p.cpu_per_op);
    line("raw etcd-client over TLS", per_op(&raw_tls), None);
    line(
        "ServiceFinder over TLS, CPU per lookup",
        per_op(&fin_tls),
        Some((
            ratio(fin_tls.cpu_per_op, raw_tls.cpu_per_op),
            "≤ 1.20× raw over TLS",
        )),
    );
    let tls_throughput = fin_tls.ops_per_s / raw_tls.ops_per_s;
    let plain_throughput = fin_plain.ops_per_s / raw_plain.ops_per_s;
    line(
        "ServiceFinder throughput vs raw: TLS / plaintext",
        format!("{tls_throughput:.2}× / {plain_throughput:.2}×"),
        Some((
            tls_throughput / plain_throughput,
            "the same ratio as plaintext",
        )),
    );
    line(
        "ServiceFinder CPU per lookup: TLS vs plaintext",
        format!("{:.1?} vs {:.1?}", fin_tls.cpu_per_op, fin_plain.cpu_per_op),
        Some((
            ratio(fin_tls.cpu_per_op, fin_plain.cpu_per_op),
            "(what TLS adds)",
        )),
    );
}

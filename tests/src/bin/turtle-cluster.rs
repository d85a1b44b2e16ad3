//! `turtle-cluster`: the Rust test cluster for the C and Python tests.
//!
//! Starts a cluster, prints one JSON line `{"endpoints": [...], "pids": [...]}`, then
//! answers one JSON line per command read from stdin:
//! `kill I`, `stop I`, `cont I`, `restart I`, `ready` (waits until every member knows a
//! leader), `leader`, `put KEY VALUE`, `delete KEY`, `keys PREFIX`, `compact REV`, `pids`. It stops the
//! cluster and exits when stdin closes (so a crashed test never leaves etcd behind) or on
//! `quit`.
//!
//! Usage: `turtle-cluster [--members N] [--tls] [--client-cert-auth] [--auth ROOT_PASSWORD]
//! [-- extra etcd flags...]`. With `--tls` the first line also has `"certs"`: the paths of
//! the CA, a client certificate and key, and a CA that signed nothing; with `--auth`, auth
//! is on with `root` and a `reader` (password `readerpw`) that may read `/services/` only.

use std::io::{BufRead, Write};

use std::sync::Arc;

use serde_json::json;
use turtle_tests::{Certs, Cluster, ClusterOptions};

fn main() {
    let mut opts = ClusterOptions::default();
    let mut auth: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--members" => {
                opts.members = match args.next().and_then(|n| n.parse().ok()) {
                    Some(n) if n > 0 => n,
                    _ => fail("--members takes a number above 0"),
                }
            }
            "--tls" => opts.tls = Some(Arc::new(Certs::new())),
            "--client-cert-auth" => opts.client_cert_auth = true,
            "--auth" => {
                auth = Some(
                    args.next()
                        .unwrap_or_else(|| fail("--auth takes a password")),
                )
            }
            "--" => opts.extra_args.extend(args.by_ref()),
            "-h" | "--help" => {
                println!("usage: turtle-cluster [--members N] [--tls] [--client-cert-auth] [--auth ROOT_PASSWORD] [-- etcd flags...]; commands on stdin: kill|stop|cont|restart I, ready, leader, put K V, delete K, keys PREFIX, compact REV, pids, quit");
                return;
            }
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    let certs = opts.tls.clone();
    let mut cluster = Cluster::start_with(opts);
    if let Some(root) = &auth {
        cluster.enable_auth(root);
        cluster.add_reader("reader", "readerpw", "/services/");
    }
    let mut out = std::io::stdout().lock();
    let mut first = json!({"endpoints": cluster.endpoints(), "pids": pids(&cluster)});
    if let Some(c) = certs {
        let p = |p: &std::path::Path| p.display().to_string();
        first["certs"] = json!({
            "ca": p(&c.ca), "wrong_ca": p(&c.wrong_ca),
            "client_cert": p(&c.client.cert), "client_key": p(&c.client.key),
        });
    }
    say(&mut out, first);
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let index = |w: Option<&&str>| {
            w.and_then(|s| s.parse::<usize>().ok())
                .filter(|&i| i < cluster.len())
        };
        let reply = match (words.first().copied(), index(words.get(1))) {
            (Some("quit"), _) => break,
            (Some("kill"), Some(i)) => {
                cluster.kill(i);
                json!({"ok": true})
            }
            (Some("stop"), Some(i)) => {
                cluster.stop(i);
                json!({"ok": true})
            }
            (Some("cont"), Some(i)) => {
                cluster.cont(i);
                json!({"ok": true})
            }
            (Some("restart"), Some(i)) => {
                cluster.restart(i);
                json!({"ok": true, "pids": pids(&cluster)})
            }
            (Some("ready"), _) => {
                cluster.wait_all_ready();
                json!({"ok": true})
            }
            (Some("leader"), _) => {
                json!({"ok": true, "leader": cluster.leader()})
            }
            (Some("pids"), _) => json!({"ok": true, "pids": pids(&cluster)}),
            (Some("put"), _) if words.len() >= 3 => {
                let live = live_member(&cluster);
                json!({"ok": true, "revision": cluster.put_via(live, words[1], words[2..].join(" "))})
            }
            (Some("delete"), _) if words.len() == 2 => {
                let live = live_member(&cluster);
                json!({"ok": true, "revision": cluster.delete_via(live, words[1])})
            }
            (Some("keys"), _) if words.len() == 2 => {
                let out = cluster.etcdctl(&["get", "--prefix", "--keys-only", words[1]]);
                let keys: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
                json!({"ok": true, "keys": keys})
            }
            (Some("compact"), _) => match words.get(1).and_then(|r| r.parse::<i64>().ok()) {
                Some(rev) => {
                    cluster.compact_via(live_member(&cluster), rev);
                    json!({"ok": true})
                }
                None => json!({"ok": false, "error": "compact takes a revision"}),
            },
            _ => json!({"ok": false, "error": format!("unknown command {line:?}")}),
        };
        say(&mut out, reply);
    }
}

fn live_member(c: &Cluster) -> usize {
    (0..c.len()).find(|&i| c.pid(i).is_some()).unwrap_or(0)
}

fn pids(c: &Cluster) -> Vec<Option<u32>> {
    (0..c.len()).map(|i| c.pid(i)).collect()
}

fn say(out: &mut impl Write, v: serde_json::Value) {
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn fail(msg: &str) -> ! {
    eprintln!("turtle-cluster: {msg}");
    std::process::exit(2);
}

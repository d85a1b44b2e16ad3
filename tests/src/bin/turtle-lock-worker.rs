//! `turtle-lock-worker NAME WORKER COUNT`: the Rust face's part in the mixed-face lock
//! contention test (tests/python/test_contention.py), as `tests/c/lock_worker.c` and the
//! Python worker there are the others'. Until it has made COUNT increments, it takes the
//! lock NAME, reads the counter `/NAME/counter`, and in one transaction fenced on the lock
//! (and on the counter's mod revision) writes the counter plus one and a log key
//! `/NAME/log/WORKER/SEQ` holding `VALUE TOKEN`; then unlocks. A transaction whose answer
//! was lost counts once the next round finds its log key. Members of the cluster are killed and
//! stopped meanwhile, so every step may fail: it starts the round again.

use std::time::Duration;

use turtle_finder::{Cmp, Condition, Config, LockOptions, Operation, ServiceFinder, Txn};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, worker, count] = args.as_slice() else {
        eprintln!("usage: turtle-lock-worker NAME WORKER COUNT");
        std::process::exit(2);
    };
    let count: u32 = count.parse().expect("COUNT is a number");
    let f = ServiceFinder::new(Config::from_env().expect("TURTLE_ENDPOINTS")).expect("finder");
    let (mut seq, mut failures) = (0, 0);
    while seq < count {
        match round(&f, name, worker, seq) {
            Ok(true) => seq += 1,
            Ok(false) => {}
            Err(e) => {
                failures += 1;
                eprintln!("worker {worker}: round {seq}: {e}");
                assert!(failures < 1000, "worker {worker}: too many failures");
            }
        }
    }
    println!("done {worker} {seq} failures {failures}");
}

/// One round: whether the increment `seq` is made.
fn round(f: &ServiceFinder, name: &str, worker: &str, seq: u32) -> turtle_finder::Result<bool> {
    let opts = LockOptions {
        ttl: Duration::from_secs(3),
        timeout: Some(Duration::from_secs(30)),
        ..LockOptions::default()
    };
    let guard = f.lock(name, opts)?;
    let counter = format!("/{name}/counter");
    let log = format!("/{name}/log/{worker}/{seq}");
    // A transaction of an earlier round whose answer was lost may have made it; under the
    // lock no late one can land any more (it is fenced on a key now gone).
    if f.get(&log)?.is_some() {
        guard.unlock();
        return Ok(true);
    }
    let (value, rev) = match f.get(&counter)? {
        Some(e) => (
            e.value_str()?.parse::<u64>().expect("a number"),
            e.mod_revision,
        ),
        None => (0, 0),
    };
    let next = value + 1;
    let txn = Txn::new()
        .when([
            guard.owner_cmp(),
            Condition::mod_revision(counter.as_str(), Cmp::Equal, rev),
        ])
        .then([
            Operation::put(counter.as_str(), next.to_string()),
            Operation::put(log.as_str(), format!("{next} {}", guard.token())),
        ]);
    // An error may be an answer lost after it applied: the next round's check says.
    let made = f.txn(&txn).map(|done| done.succeeded);
    guard.unlock();
    made
}

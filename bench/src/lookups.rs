//! Lookup throughput and CPU per lookup: raw `etcd-client`, the async `Client`, the
//! blocking `ServiceFinder` and libturtle from one caller, then raw and the finder from 8.

use std::sync::Arc;
use std::thread;

use turtle_finder::{Client, Config, ServiceFinder};

use crate::measure::{line, measure, median, ratio, Phase};

/// libturtle's finder, called as a C program calls it.
struct CFinder(*mut turtle::turtle_finder);

impl CFinder {
    fn new(endpoints: &[String]) -> CFinder {
        let eps = std::ffi::CString::new(endpoints.join(",")).unwrap();
        let mut handle: *mut turtle::turtle_finder = std::ptr::null_mut();
        // SAFETY: valid C string and out-pointer.
        let st = unsafe { turtle::turtle_finder_new(eps.as_ptr(), &mut handle) };
        assert_eq!(st, turtle::turtle_status::TURTLE_OK);
        CFinder(handle)
    }

    fn lookup(&self) {
        let mut v: *mut std::ffi::c_char = std::ptr::null_mut();
        // SAFETY: live handle, static name, valid out-pointer; the string is freed at once.
        unsafe {
            assert_eq!(
                turtle::turtle_get_service(self.0, c"cdd".as_ptr(), 0, &mut v),
                turtle::turtle_status::TURTLE_OK
            );
            turtle::turtle_string_free(v);
        }
    }
}

impl Drop for CFinder {
    fn drop(&mut self) {
        turtle::turtle_finder_free(self.0);
    }
}

/// The clients under test, all reading through the same member first.
pub struct Clients<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub raw: &'a etcd_client::Client,
    pub finder: &'a Arc<ServiceFinder>,
    /// The endpoints, the member every client reads through first.
    pub ordered: &'a [String],
}

/// One caller, four clients, measured in interleaved rounds; medians are reported.
pub fn one_caller(c: &Clients, n: usize) {
    let client =
        c.rt.block_on(Client::connect(Config::new(c.ordered).unwrap()))
            .unwrap();
    let cfinder = CFinder::new(c.ordered);
    let mut kv = c.raw.kv_client();
    let mut rounds: [Vec<Phase>; 4] = Default::default();
    for round in 0..4 {
        // Round 0 warms every client up and is not counted.
        let k = if round == 0 { 200 } else { n };
        let phases = [
            measure(k, || {
                c.rt.block_on(async {
                    for _ in 0..k {
                        kv.get("/services/cdd", None).await.unwrap();
                    }
                })
            }),
            measure(k, || {
                c.rt.block_on(async {
                    for _ in 0..k {
                        client.get_service("cdd").await.unwrap().unwrap();
                    }
                })
            }),
            measure(k, || {
                (0..k).for_each(|_| drop(c.finder.get_service("cdd").unwrap()))
            }),
            measure(k, || (0..k).for_each(|_| cfinder.lookup())),
        ];
        if round > 0 {
            for (all, p) in rounds.iter_mut().zip(phases) {
                all.push(p);
            }
        }
    }
    report_one_caller(rounds.map(median));
}

fn report_one_caller([base, asy, blk, cabi]: [Phase; 4]) {
    let per_op = |p: &Phase| format!("{:.0} ops/s, {:.1?} CPU/op", p.ops_per_s, p.cpu_per_op);
    line("raw etcd-client get, one task", per_op(&base), None);
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
        per_op(&cabi),
        Some((
            cabi.ops_per_s / blk.ops_per_s,
            "≥ 0.90 of ServiceFinder's ops/s",
        )),
    );
}

/// 8 threads (finder) vs 8 tasks (raw).
pub fn eight_callers(c: &Clients, n: usize) {
    let raw8 = raw_tasks(c.rt, c.raw, n, 8);
    let per_op = |p: &Phase| format!("{:.0} ops/s, {:.1?} CPU/op", p.ops_per_s, p.cpu_per_op);
    line("raw etcd-client, 8 tasks", per_op(&raw8), None);
    let fin8 = finder_threads(c.finder, n, 8);
    line(
        "ServiceFinder, 8 threads",
        per_op(&fin8),
        Some((fin8.ops_per_s / raw8.ops_per_s, "(vs raw 8 tasks)")),
    );
}

/// `n` raw `etcd-client` gets, shared by `tasks` tasks on the runtime `rt`.
pub fn raw_tasks(
    rt: &tokio::runtime::Runtime,
    raw: &etcd_client::Client,
    n: usize,
    tasks: usize,
) -> Phase {
    measure(n, || {
        rt.block_on(async {
            let all: Vec<_> = (0..tasks)
                .map(|_| {
                    let mut kv = raw.kv_client();
                    tokio::spawn(async move {
                        for _ in 0..n / tasks {
                            kv.get("/services/cdd", None).await.unwrap();
                        }
                    })
                })
                .collect();
            for t in all {
                t.await.unwrap();
            }
        })
    })
}

/// `n` blocking `ServiceFinder` lookups, shared by `threads` threads.
pub fn finder_threads(finder: &Arc<ServiceFinder>, n: usize, threads: usize) -> Phase {
    measure(n, || {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let f = finder.clone();
                thread::spawn(move || {
                    for _ in 0..n / threads {
                        f.get_service("cdd").unwrap().unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    })
}

"""The Python benchmark: turtle_finder from Python against the Rust blocking API and the
Python clients python-etcd3 (etcd3, v3) and python-etcd (etcd, the seed's v2 client), all
on one cluster in one run. Prints a table of figures and ratios.

    make bench-python        (release wheel; BENCH_LOOKUPS sets lookups per phase)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import etcd  # noqa: E402  python-etcd, the seed's client
import etcd3  # noqa: E402
import turtle_finder as tf  # noqa: E402
from conftest import Cluster  # noqa: E402

BENCH = ROOT / "target" / "release" / "turtle-bench"
N = int(os.environ.get("BENCH_LOOKUPS", "3000"))
CHANGES = int(os.environ.get("BENCH_CHANGES", "2000"))
VALUE = '[ "turtle1", "turtle2", "turtle3" ]'


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(n: int, threads: int, lookup: Callable[[], object]) -> tuple[float, float]:
    """ops/s and CPU µs per op of n lookups spread over `threads` threads."""

    def work() -> None:
        for _ in range(n // threads):
            lookup()

    ts = [threading.Thread(target=work) for _ in range(threads)]
    t0, c0 = time.perf_counter(), cpu()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall, used = time.perf_counter() - t0, cpu() - c0
    return n / wall, used / n * 1e6


def rust_lookups(eps: str, threads: int, raw: bool = False) -> tuple[float, float]:
    """The Rust ServiceFinder's lookups from `threads` threads, or raw etcd-client's from
    as many tasks on one runtime, through the first endpoint (every client reads through it first)."""
    args = [str(BENCH), "lookups", eps, str(N), str(threads)] + (["raw"] if raw else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    return d["ops_per_s"], d["cpu_per_op_us"]


def latencies(put: Callable[[int], None], wait: Callable[[], float], n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.monotonic()
        put(i)
        out.append(wait() - t)
    return out


def pct(v: list[float], p: float) -> float:
    s = sorted(v)
    return s[round((len(s) - 1) * p)] * 1e6


def main() -> None:
    c = Cluster("--enable-v2")
    try:
        run(c)
    finally:
        c.close()


def run(c: Cluster) -> None:
    eps = ",".join(c.endpoints)
    host, port = c.endpoints[0].split(":")
    v3 = etcd3.client(host=host, port=int(port))
    v3.put("/services/cdd", VALUE)
    v2 = etcd.Client(host=tuple((h, int(p)) for h, p in (e.split(":") for e in c.endpoints)), allow_reconnect=True)
    v2.write("/services/cdd", VALUE)
    finder = tf.ServiceFinder(c.endpoints)
    clients: dict[str, Callable[[], object]] = {
        "turtle_finder": lambda: finder.get_service("cdd"),
        "python-etcd3 (v3)": lambda: v3.get("/services/cdd"),
        "python-etcd (v2, the seed's)": lambda: v2.get("/services/cdd").value,
    }
    for lookup in clients.values():
        for _ in range(200):
            lookup()
    print(f"cluster: {eps}, {N} lookups per phase, {CHANGES} changes; medians of 3 rounds\n")
    print("| measure | value | ratio | target |")
    print("|---|---|---|---|")
    results: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for _ in range(3):
        for threads in (1, 8):
            results.setdefault("Rust ServiceFinder", {}).setdefault(threads, []).append(rust_lookups(eps, threads))
            results.setdefault("raw", {}).setdefault(threads, []).append(rust_lookups(eps, threads, raw=True))
            for name, lookup in clients.items():
                results.setdefault(name, {}).setdefault(threads, []).append(measure(N, threads, lookup))

    def med(name: str, threads: int) -> tuple[float, float]:
        rows = results[name][threads]
        return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)

    for threads in (1, 8):
        rust_ops, rust_cpu = med("Rust ServiceFinder", threads)
        base = f"{rust_ops:.0f} ops/s, {rust_cpu:.0f} µs CPU/op"
        print(f"| Rust ServiceFinder, {threads} thread(s) | {base} | (baseline) | |")
        raw_ops, raw_cpu = med("raw", threads)
        raw = f"{raw_ops:.0f} ops/s, {raw_cpu:.0f} µs CPU/op"
        print(f"| raw etcd-client (Rust), {threads} task(s) | {raw} | {raw_ops / rust_ops:.2f}× Rust | |")
        for name in clients:
            ops, cpu_us = med(name, threads)
            target = "≥ 0.90" if name == "turtle_finder" else ""
            print(f"| {name}, {threads} thread(s) | {ops:.0f} ops/s | {ops / rust_ops:.2f}× Rust | {target} |")
            target = "≤ 2.0" if name == "turtle_finder" and threads == 1 else ""
            ratio = cpu_us / rust_cpu
            print(f"| {name} CPU per lookup, {threads} thread(s) | {cpu_us:.0f} µs | {ratio:.2f}× Rust | {target} |")
        ops, cpu_us = med("turtle_finder", threads)
        vs_raw = f"{cpu_us / raw_cpu:.2f}× / {ops / raw_ops:.2f}× raw"
        target = "CPU ≤ 1.20, ops ≥ 1.0 (Rust's)" if threads == 1 else ""
        print(
            f"| turtle_finder CPU per lookup / ops, {threads} thread(s), vs raw etcd-client | {vs_raw} | | {target} |"
        )

    # put -> callback latency; every writer is python-etcd3, so all pay the same put.
    # The three watches live side by side and are measured in interleaved rounds.
    import queue

    got: queue.Queue[float] = queue.Queue()
    w = finder.watch_service("lat", lambda _v: got.put(time.monotonic()))
    rust = subprocess.Popen(
        [str(BENCH), "watch-times", eps, "lat-rust"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert rust.stdout is not None and rust.stdout.readline().strip() == "ready"
    stdout = rust.stdout

    def rust_event() -> float:
        return int(stdout.readline().split()[1]) / 1e9

    e3: queue.Queue[float] = queue.Queue()
    wid = v3.add_watch_callback("/services/lat-etcd3", lambda _r: e3.put(time.monotonic()))
    py_lat: list[float] = []
    rust_lat: list[float] = []
    e3_lat: list[float] = []
    rounds = 4
    for _ in range(rounds):
        k = CHANGES // rounds
        py_lat += latencies(lambda i: v3.put("/services/lat", str(i)), lambda: got.get(timeout=10), k)
        rust_lat += latencies(lambda i: v3.put("/services/lat-rust", str(i)), rust_event, k)
        e3_lat += latencies(lambda i: v3.put("/services/lat-etcd3", str(i)), lambda: e3.get(timeout=10), k)
    w.cancel()
    v3.cancel_watch(wid)
    assert rust.stdin is not None
    rust.stdin.close()
    rust.wait(timeout=10)

    r50, r99 = pct(rust_lat, 0.5), pct(rust_lat, 0.99)
    print(f"| Rust ServiceFinder put→callback p50 / p99 | {r50:.0f} / {r99:.0f} µs | (baseline) | |")
    for name, lat, target in [("turtle_finder", py_lat, "p99 ≤ 1.2"), ("python-etcd3", e3_lat, "")]:
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
        ratios = f"{p50 / r50:.2f}× / {p99 / r99:.2f}× Rust"
        print(f"| {name} put→callback p50 / p99 | {p50:.0f} / {p99:.0f} µs | {ratios} | {target} |")
    print("\n(all writes by python-etcd3, timed from before the put to the callback; CLOCK_MONOTONIC across processes)")
    finder.close()
    cached_lookups(c)
    hung_follower(c)


def hedged(sf: tf.ServiceFinder) -> int:
    """The finder's count of hedged requests, from its metrics."""
    lines = sf.metrics().splitlines()
    return sum(int(float(ln.rsplit(" ", 1)[1])) for ln in lines if ln.startswith("turtle_hedged_requests_total{"))


def hung_follower(c: Cluster) -> None:
    """SIGSTOP of the follower a finder reads through first: the longest gap between
    successful lookups from Python; and the share of lookups hedged before it."""
    with tf.ServiceFinder(c.endpoints) as probe:
        status = probe.health()
    # Not member 0: turtle-cluster writes through the first member with a process.
    followers = [c.endpoints.index(s.endpoint) for s in status if s.member_id != s.leader_id]
    follower = next(i for i in followers if i != 0)
    first = [c.endpoints[follower]] + [e for i, e in enumerate(c.endpoints) if i != follower]
    with tf.ServiceFinder(first) as sf:
        for _ in range(200):
            sf.get_service("cdd")
        before = hedged(sf)
        steady = 4 * N
        for _ in range(steady):
            sf.get_service("cdd")
        rate = (hedged(sf) - before) / steady
        times = [time.monotonic()]
        errors = 0
        stopped_at = None
        while stopped_at is None or time.monotonic() - stopped_at < 2.0:
            try:
                sf.get_service("cdd")
                times.append(time.monotonic())
            except tf.TurtleError:
                errors += 1
            if stopped_at is None and len(times) > 100:
                c.stop(follower)
                stopped_at = time.monotonic()
        c.cont(follower)
    gap = max(b - a for a, b in zip(times, times[1:]))
    c.call("ready")  # the follower has caught up: the new finder's watch opens on it
    moved_after, revisions, written = hung_watch(c, follower, first)
    print("\n| hung member | value | ratio | target |\n|---|---|---|---|")
    print(f"| turtle_finder hedged lookups in steady state | {100 * rate:.2f}% of {steady} | | ≤ 5% |")
    value = f"{1e3 * gap:.0f} ms, {errors} errors"
    print(f"| turtle_finder SIGSTOP of the serving follower: longest gap | {value} | | ≤ 50 ms, 0 errors |")
    exact = "none lost or twice" if revisions == written else f"got {revisions} for {written}"
    value = f"{1e3 * moved_after:.0f} ms, {exact}"
    print(f"| turtle_finder watch, SIGSTOP of its member: stop → next write delivered | {value} | | ≤ 600 ms |")


def hung_watch(c: Cluster, follower: int, first: list[str]) -> tuple[float, list[int], list[int]]:
    """A watch on the follower (first in the finder's list): the time from its SIGSTOP
    to the next write's delivery from another member; the revisions seen and written."""
    import queue

    got: queue.Queue[tuple[int, float]] = queue.Queue()
    with tf.ServiceFinder(first) as sf:
        w = sf.watch_service("pymove", lambda ch: got.put((ch.revision, time.monotonic())), changes=True)
        written = [c.put("/services/pymove", "0")]
        seen = [got.get(timeout=10)[0]]
        c.stop(follower)
        stopped = time.monotonic()
        written.append(c.put("/services/pymove", "1"))
        rev, at = got.get(timeout=30)
        seen.append(rev)
        c.cont(follower)
        written.append(c.put("/services/pymove", "2"))
        while seen[-1] != written[-1]:
            seen.append(got.get(timeout=30)[0])
        w.cancel()
    return at - stopped, seen, written


def cached_lookups(c: Cluster) -> None:
    """The watch-backed cache from Python: a lookup's time from one thread, and the rate
    from 8 (the GIL lets one thread run Python at a time)."""
    with tf.ServiceFinder(c.endpoints, cache=True) as sf:
        sf.get_service("cdd")
        deadline = time.monotonic() + 10
        while True:  # cached once a lookup costs no request
            t = time.perf_counter()
            sf.get_service("cdd")
            if time.perf_counter() - t < 50e-6:
                break
            assert time.monotonic() < deadline, "the cache never filled"
        n = 200_000
        one, one_cpu = measure(n, 1, lambda: sf.get_service("cdd"))
        eight, eight_cpu = measure(n, 8, lambda: sf.get_service("cdd"))
        print("\n| cache | value | ratio | target |\n|---|---|---|---|")
        print(f"| turtle_finder cached get_service, 1 thread | {1e6 / one:.2f} µs, {one_cpu:.2f} µs CPU | | ≤ 3 µs |")
        scale = f"{eight / one:.2f}× 1 thread"
        value = f"{eight:.0f} ops/s, {eight_cpu:.2f} µs CPU"
        print(f"| turtle_finder cached get_service, 8 threads | {value} | {scale} | ≥ 4× |")


if __name__ == "__main__":
    main()

"""A flood of /metrics scrapes against one finder, and its lookups' median beside a control
finder's in the same process (issue 19, item 5). Run from the project root after
`make test-python` (or `tools/python-env.sh`): `target/venv/bin/python bench/metrics_flood.py`.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import statistics
import sys
import time
from multiprocessing.synchronize import Event

sys.path.insert(0, "tests/python")
import turtle_finder as tf  # noqa: E402
from conftest import Cluster  # noqa: E402

FLOODERS = 4


def flood(addr: str, stop: Event) -> None:
    """Scrapes as fast as it can until `stop`."""
    host, port = addr.rsplit(":", 1)
    while not stop.is_set():
        try:
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                while s.recv(65536):
                    pass
        except OSError:
            pass


def median_ms(sf: tf.ServiceFinder, n: int = 2000) -> float:
    took = []
    for _ in range(n):
        start = time.perf_counter()
        sf.get_service("p")
        took.append(time.perf_counter() - start)
    return statistics.median(took) * 1000


def main() -> None:
    c = Cluster()
    try:
        c.put("/services/p", "v")
        flooded = tf.ServiceFinder(c.endpoints, metrics_addr="127.0.0.1:0")
        control = tf.ServiceFinder(c.endpoints)
        addr = flooded.metrics_addr
        assert addr is not None
        print(f"quiet: p50 {median_ms(flooded):.2f} ms, control {median_ms(control):.2f} ms")
        stop = mp.Event()
        procs = [mp.Process(target=flood, args=(addr, stop)) for _ in range(FLOODERS)]
        for p in procs:
            p.start()
        time.sleep(1)  # the flood under way
        print(f"{FLOODERS} flooding: p50 {median_ms(flooded):.2f} ms, control {median_ms(control):.2f} ms")
        stop.set()
        for p in procs:
            p.join()
    finally:
        c.close()


if __name__ == "__main__":
    main()

"""Registration, instance lists and the cache from Python (issue 9)."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import turtle_finder as tf
from conftest import Cluster
from test_process import Lines, wait_for


class Lists:
    """An instances callback that keeps every list, and a way to wait for the next one
    that is as wanted (lists before it are passed over)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.lists: list[tf.Instances] = []
        self.seen = 0

    def __call__(self, instances: tf.Instances) -> None:
        with self.cond:
            self.lists.append(instances)
            self.cond.notify_all()

    def _next(self, want: Any) -> int | None:
        return next((i for i in range(self.seen, len(self.lists)) if want(self.lists[i])), None)

    def until(self, want: Any, timeout: float = 20.0) -> tf.Instances:
        with self.cond:
            found = self.cond.wait_for(lambda: self._next(want) is not None, timeout)
            assert found, f"no list like that within {timeout} s: {self.lists[self.seen :]}"
            i = self._next(want)
            assert i is not None
            self.seen = i + 1
            return self.lists[i]


def addrs(instances: tf.Instances) -> list[str]:
    return [i.addr for i in instances]


def test_register_list_watch_and_revoke(cluster: Cluster) -> None:
    a, b = tf.ServiceFinder(cluster.endpoints), tf.ServiceFinder(cluster.endpoints)
    lists = Lists()
    b.watch_instances("py-web", lists)
    lists.until(lambda x: x.kind == "initial" and len(x) == 0)
    states: list[str] = []
    with a.register("py-web", "10.0.0.1:80", ttl=5, metadata={"zone": "b", "n": [1, 2]}, on_state=states.append) as reg:
        assert reg.state == "registered" and reg.key == "/services/py-web/10.0.0.1:80"
        assert reg.ttl >= 5 and reg.lease_id > 0
        got = lists.until(lambda x: len(x) == 1)
        assert got[0].id == "10.0.0.1:80" and got[0].metadata == {"zone": "b", "n": [1, 2]}
        assert addrs(b.instances("py-web")) == ["10.0.0.1:80"]
        started = time.monotonic()
    lists.until(lambda x: len(x) == 0 and x.kind == "delete")
    assert time.monotonic() - started < 4, "revoked at once, not expired after the 5 s TTL"
    assert reg.state == "closed"
    a.close()
    b.close()


def test_a_watch_without_the_initial_list_and_reads_of_either_consistency(cluster: Cluster) -> None:
    with tf.ServiceFinder(cluster.endpoints) as sf:
        lists = Lists()
        sf.watch_instances("py-later", lists, initial=False)
        with sf.register("py-later", "10.0.0.4:80", ttl=5):
            first = lists.until(lambda x: True)
            assert first.kind == "put" and addrs(first) == ["10.0.0.4:80"], "no initial list first"
            for serializable in (None, False, True):
                assert addrs(sf.instances("py-later", serializable=serializable)) == ["10.0.0.4:80"]
        cluster.put("/services/py-either", "v")
        assert sf.get_service_bytes("py-either", serializable=False) == b"v"
        assert sf.get_service("py-absent", serializable=True) is None


def test_handles_keep_their_finder_alive(cluster: Cluster) -> None:
    def registered() -> tf.Registration:
        return tf.ServiceFinder(cluster.endpoints).register("py-kept", "10.0.0.5:80", ttl=5)

    got = threading.Event()

    def watching() -> tf.Watch:
        return tf.ServiceFinder(cluster.endpoints).watch_service("py-kept-w", lambda v: got.set())

    reg, watch = registered(), watching()
    gc.collect()  # the finders are referred to by their handles only
    with tf.ServiceFinder(cluster.endpoints) as other:
        assert reg.state == "registered"
        assert addrs(other.instances("py-kept")) == ["10.0.0.5:80"]
    cluster.put("/services/py-kept-w", "v")
    assert got.wait(20), "the watch lives on"
    assert not watch.cancelled
    reg.close()
    watch.cancel()


def test_go_format_entries_and_malformed_ones(cluster: Cluster) -> None:
    eps = f"--endpoints={','.join(cluster.endpoints)}"
    for key, value in [
        ("/services/py-go/a", '{"Addr":"10.0.0.1:80","Metadata":null}'),
        ("/services/py-go/b", '{"Op":0,"Addr":"10.0.0.2:80"}'),
        ("/services/py-go/bad", "nope"),
    ]:
        subprocess.run(["etcdctl", eps, "put", key, value], check=True, capture_output=True)
    with tf.ServiceFinder(cluster.endpoints) as sf:
        found = sf.instances("py-go")
        assert addrs(found) == ["10.0.0.1:80", "10.0.0.2:80"]
        assert found.malformed == [("/services/py-go/bad", found.malformed[0][1])]
        assert "not JSON" in found.malformed[0][1]
        assert found[-1].metadata is None and found.revision > 0
        with pytest.raises(IndexError):
            found[2]


def test_bad_registrations_are_refused(cluster: Cluster) -> None:
    with tf.ServiceFinder(cluster.endpoints) as sf:
        bads: list[dict[str, Any]] = [dict(ttl=0), dict(ttl=1.5), dict(ttl=float("nan")), dict(addr="")]
        for bad in bads:
            with pytest.raises(tf.InvalidArgumentError):
                sf.register("py-bad", **{"addr": "h:1", **bad})
        with pytest.raises(TypeError):
            sf.register("py-bad", "h:1", metadata=object())
        with pytest.raises(TypeError):
            sf.register("py-bad", "h:1", on_state=42)  # type: ignore[arg-type]
        with pytest.raises(tf.InvalidArgumentError):
            sf.instances("a/b")


def test_a_process_stopped_longer_than_its_ttl_comes_back(cluster: Cluster) -> None:
    code = textwrap.dedent(
        """
        import time, turtle_finder as tf
        sf = tf.ServiceFinder()
        reg = sf.register("py-paused", "10.7.0.1:80", ttl=2, on_state=lambda s: print("state", s, flush=True))
        print("registered", flush=True)
        time.sleep(60)
        """
    )
    watcher = tf.ServiceFinder(cluster.endpoints)
    lists = Lists()
    watcher.watch_instances("py-paused", lists)
    proc = subprocess.Popen([sys.executable, "-c", code], env=cluster.env, stdout=subprocess.PIPE, text=True)
    out = Lines(proc)
    try:
        wait_for(out, "registered")
        lists.until(lambda x: len(x) == 1)
        proc.send_signal(signal.SIGSTOP)
        lists.until(lambda x: len(x) == 0)  # the lease expired: watchers see it go
        proc.send_signal(signal.SIGCONT)
        lists.until(lambda x: len(x) == 1)  # back, under a new lease
        said = wait_for(out, "state registered")
        assert "state reregistering" in said, said
    finally:
        proc.kill()
        proc.wait()
        out.join()
        watcher.close()


def test_the_cache_answers_from_memory(cluster: Cluster) -> None:
    cluster.put("/services/py-cached", "one")
    with tf.ServiceFinder(cluster.endpoints, cache=True) as sf:
        assert sf.get_service("py-cached") == "one"
        cluster.put("/services/py-cached", "two")
        deadline = time.monotonic() + 20
        while sf.get_service("py-cached") != "two":  # the cache follows its watch
            assert time.monotonic() < deadline, "the cache never saw the change"
            time.sleep(0.01)
        assert sf.instances("py-cached") is not None and len(sf.instances("py-cached")) == 0

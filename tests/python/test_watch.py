"""Watches from Python: the seed's callback(new_value), handles, changes, errors."""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

import pytest
import turtle_finder as tf
from conftest import Cluster, Recorder


def test_callback_gets_every_new_value_and_none_on_delete(cluster: Cluster, recorder: Recorder) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    sf.watch_service("py-w1", recorder)  # the handle is not kept, as in the seed
    gc.collect()
    for i in range(20):
        cluster.put("/services/py-w1", f"v{i}")
    cluster.delete("/services/py-w1")
    assert [recorder.next() for _ in range(21)] == [f"v{i}" for i in range(20)] + [None]
    sf.close()


def test_callbacks_run_on_the_dispatcher_thread_one_at_a_time(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    seen: list[str] = []
    running = threading.Semaphore(1)
    done = threading.Event()

    def cb(value: Any) -> None:
        assert running.acquire(blocking=False), "two callbacks at once"
        seen.append(threading.current_thread().name)
        running.release()
        if value == "last":
            done.set()

    for name in ["py-t1", "py-t2"]:
        sf.watch_service(name, cb)
    for i in range(10):
        cluster.put("/services/py-t1", str(i))
        cluster.put("/services/py-t2", str(i))
    cluster.put("/services/py-t2", "last")
    assert done.wait(20)
    assert threading.current_thread().name not in seen
    assert len(set(seen)) == 1
    sf.close()


def test_watch_handle_change_objects_and_initial(cluster: Cluster, recorder: Recorder) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    r0 = cluster.put("/services/py-w2", "before")
    with sf.watch_service("py-w2", recorder, initial=True, changes=True) as w:
        first = recorder.next()
        assert (first.kind, first.value, first.revision, first.service) == ("initial", "before", r0, "py-w2")
        r1 = cluster.put("/services/py-w2", "after")
        ch = recorder.next()
        assert isinstance(ch, tf.Change)
        assert (ch.kind, ch.value, ch.value_bytes, ch.revision, ch.skipped) == ("put", "after", b"after", r1, 0)
        assert "after" in repr(ch)
        r2 = cluster.delete("/services/py-w2")
        ch = recorder.next()
        assert (ch.kind, ch.value, ch.revision) == ("delete", None, r2)
        assert not w.cancelled
    assert w.cancelled  # leaving the with block cancels
    assert w.last_error is None
    sf.close()


def test_cancel_stops_the_callback(cluster: Cluster, recorder: Recorder) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    w = sf.watch_service("py-w3", recorder)
    witness = Recorder()
    sf.watch_service("py-w3", witness)
    cluster.put("/services/py-w3", "1")
    assert recorder.next() == "1"
    w.cancel()
    w.cancel()
    cluster.put("/services/py-w3", "2")
    assert witness.next() == "1" and witness.next() == "2"
    assert recorder.q.empty()
    sf.close()


def test_a_raising_callback_is_reported_and_the_watch_goes_on(
    cluster: Cluster, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    sf = tf.ServiceFinder(cluster.endpoints)

    def cb(value: Any) -> None:
        if value == "boom":
            raise RuntimeError("callback failed")
        recorder(value)

    sf.watch_service("py-w4", cb)
    cluster.put("/services/py-w4", "boom")
    cluster.put("/services/py-w4", "fine")
    assert recorder.next() == "fine"
    assert len(reported) == 1
    assert isinstance(reported[0].exc_value, RuntimeError)
    sf.close()


def test_a_callback_may_use_its_finder(cluster: Cluster, recorder: Recorder) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    cluster.put("/services/py-peer", "peer")
    handles: list[tf.Watch] = []

    def cb(value: Any) -> None:
        recorder(sf.get_service("py-peer"))
        handles[0].cancel()  # cancel of its own watch, from inside

    handles.append(sf.watch_service("py-w5", cb))
    cluster.put("/services/py-w5", "go")
    assert recorder.next() == "peer"
    cluster.put("/services/py-w5", "again")
    witness = Recorder()
    sf.watch_service("py-w5", witness)
    cluster.put("/services/py-w5", "end")
    assert witness.next() == "end"
    assert recorder.q.empty() and handles[0].cancelled
    sf.close()


def test_errors_reach_on_error_and_last_error(fresh_cluster: Cluster, recorder: Recorder) -> None:
    sf = tf.ServiceFinder(fresh_cluster.endpoints)
    errors = Recorder()
    w = sf.watch_service("py-w6", recorder, on_error=errors)
    fresh_cluster.put("/services/py-w6", "1")
    assert recorder.next() == "1"
    for i in range(3):
        fresh_cluster.stop(i)
    try:
        e = errors.next(30)
        assert isinstance(e, tf.UnavailableError)
        assert isinstance(w.last_error, tf.UnavailableError)
    finally:
        for i in range(3):
            fresh_cluster.cont(i)
    fresh_cluster.put("/services/py-w6", "2")
    assert recorder.next(30) == "2"  # the watch never died
    sf.close()

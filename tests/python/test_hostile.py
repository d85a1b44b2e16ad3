"""Defects found by probing (issue 8), from Python: finders whose callbacks cancel or close
each other, a callback that never returns (the seed's own program on a delete; Ctrl-C
during a watch's set-up is in test_process.py), sys.exit() in the first callback, finders kept alive by their own
callbacks, and errors that must name things (or must not: credentials)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import turtle_finder as tf
from conftest import ROOT, Cluster, run_python
from test_process import Lines, wait_for


def cross_attempt(cluster: Cluster, act: str, attempt: int) -> None:
    """Two finders whose callbacks, running at the same time, cancel each other's watch
    or close each other's finder."""
    finders = [tf.ServiceFinder(cluster.endpoints), tf.ServiceFinder(cluster.endpoints)]
    watches: list[tf.Watch] = []
    both_in = threading.Barrier(2, timeout=20)
    done = threading.Semaphore(0)

    def make(i: int) -> Any:
        def cb(_value: Any) -> None:
            both_in.wait()  # both callbacks are running now
            if act == "cancel":
                watches[1 - i].cancel()
            else:
                finders[1 - i].close()
            done.release()

        return cb

    names = [f"py-cross{attempt}-{i}" for i in range(2)]
    watches.extend(finders[i].watch_service(names[i], make(i)) for i in range(2))
    for name in names:
        cluster.put(f"/services/{name}", "go")
    for _ in range(2):
        assert done.acquire(timeout=20), f"attempt {attempt}: a callback never returned (deadlock)"
    for f in finders:
        f.close()


@pytest.mark.parametrize("act", ["cancel", "close"])
def test_callbacks_of_two_finders_acting_on_each_other_do_not_deadlock(cluster: Cluster, act: str) -> None:
    for attempt in range(5):
        cross_attempt(cluster, act, attempt)


def test_close_with_a_timeout_abandons_a_stuck_callback(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    entered, release = threading.Event(), threading.Event()

    def stuck(_value: Any) -> None:
        entered.set()
        release.wait()

    sf.watch_service("py-stuck", stuck)
    cluster.put("/services/py-stuck", "1")
    assert entered.wait(20)
    with pytest.warns(RuntimeWarning, match="did not return"):
        assert sf.close(timeout=0.3) is False
    assert sf.closed and "closed" in repr(sf)
    with pytest.raises(tf.ClosedError):
        sf.get_service("py-stuck")
    release.set()
    assert sf.close() is True


def test_the_seeds_program_exits_on_ctrl_c_after_a_delete_wedged_its_lock(cluster: Cluster) -> None:
    """The seed's callback does 'Key change: ' + new_data; a delete (None) raises while it
    holds its lock, so the next callback and the main loop block on that lock for good.
    Ctrl-C must still end the program."""
    seed = ROOT / "examples" / "python" / "seed_example.py"
    cluster.put("/services/cdd", '[ "turtle1" ]')
    proc = subprocess.Popen(
        [sys.executable, str(seed)],
        env={**cluster.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Lines(proc)
    try:
        wait_for(out, "Critical Section!")
        cluster.delete("/services/cdd")
        wait_for(out, 'TypeError: can only concatenate str (not "NoneType") to str')
        cluster.put("/services/cdd", '[ "turtle2" ]')  # this callback blocks on the lock
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.join()
    assert code != 0  # ended by the KeyboardInterrupt


def test_exit_with_a_callback_that_never_returns(cluster: Cluster) -> None:
    code = textwrap.dedent(
        """
        import threading, turtle_finder as tf
        sf = tf.ServiceFinder()
        entered, stuck = threading.Event(), threading.Event()
        def callback(value):
            print("in the callback", flush=True)
            entered.set()
            stuck.wait()  # never set
        sf.watch_service("py-never", callback, initial=True)
        entered.wait()
        """
    )
    cluster.put("/services/py-never", "x")
    r = run_python(code, cluster.env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "in the callback"
    assert "RuntimeWarning" in r.stderr and "did not return" in r.stderr, r.stderr


def test_sys_exit_in_the_first_callback_of_an_initial_watch_ends_it(cluster: Cluster) -> None:
    cluster.put("/services/py-first-exit", "x")
    sf = tf.ServiceFinder(cluster.endpoints)
    w = sf.watch_service("py-first-exit", lambda _v: sys.exit(1), initial=True)
    deadline = time.monotonic() + 20
    while not w.cancelled:  # nothing to wait on: the watch ends on the dispatcher
        assert time.monotonic() < deadline, "the watch went on after sys.exit()"
        time.sleep(0.01)
    sf.close()


def test_finders_kept_alive_by_their_own_callbacks_end_at_exit(cluster: Cluster) -> None:
    code = textwrap.dedent(
        """
        import gc, turtle_finder as tf
        for i in range(50):
            sf = tf.ServiceFinder()
            sf.watch_service("py-cycle", lambda v, sf=sf: sf.get_service("py-cycle"), initial=True)
            del sf
        gc.collect()  # the cycles pass through Rust: gc cannot end them; atexit does
        print("made", flush=True)
        """
    )
    r = run_python(code, cluster.env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "made", r.stderr
    assert "did not return" not in r.stderr, r.stderr


def test_errors_name_the_argument_and_never_a_password(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    with pytest.raises(TypeError, match="name"):
        sf.get_service(42)  # type: ignore[arg-type]
    with pytest.raises(tf.InvalidArgumentError) as e:
        tf.ServiceFinder("http://user:s3cret@127.0.0.1:2379")
    assert "s3cret" not in str(e.value) and "***@" in str(e.value)
    with pytest.raises(tf.InvalidArgumentError, match="at most 1024"):
        sf.get_service("n" * (2 << 20))
    with pytest.raises(tf.InvalidArgumentError, match="must end with '/'"):
        tf.ServiceFinder(cluster.endpoints, prefix="services")
    with pytest.raises(tf.InvalidArgumentError, match="cache_limit must be at least 1"):
        tf.ServiceFinder(cluster.endpoints, cache=True, cache_limit=0)
    with pytest.raises(OverflowError):
        tf.ServiceFinder(cluster.endpoints, cache_limit=-1)
    sf.close()
    assert repr(sf).endswith("closed)")
    doc = tf.ServiceFinder.__doc__ or ""
    assert "ServiceFinder(" not in doc, "the signature is pyo3's, not repeated by hand"
    assert "prefix=None" in (tf.ServiceFinder.__text_signature__ or "")


@pytest.mark.parametrize(
    "value",
    [b"\x00nul\x00inside", bytes(range(256)), b"t" * 1_400_000],
    ids=["nul-bytes", "binary", "1.4MB"],
)
def test_values_of_any_bytes_and_size_by_lookup_and_watch(cluster: Cluster, value: bytes) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    got: list[Any] = []
    arrived = threading.Event()

    def cb(change: tf.Change) -> None:
        got.append(change.value_bytes)
        arrived.set()

    sf.watch_service("py-bytes", cb, changes=True)
    subprocess.run(
        ["etcdctl", f"--endpoints={','.join(cluster.endpoints)}", "put", "/services/py-bytes"],
        input=value,
        check=True,
        capture_output=True,
    )
    assert arrived.wait(20)
    assert got == [value]
    assert sf.get_service_bytes("py-bytes") == value
    sf.close()

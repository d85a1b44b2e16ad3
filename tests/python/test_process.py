"""Process life from Python: the seed's program unchanged, Ctrl-C, exit with live
watches, sys.exit() in a callback, fork, and the GIL released while blocked."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import turtle_finder as tf
from conftest import ROOT, Cluster, run_python


class Lines:
    """A child's stdout, line by line, read on a thread that closes the pipe at its end."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            with stdout:
                for line in stdout:
                    self.q.put(line.rstrip("\n"))

        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()

    def get(self, timeout: float) -> str:
        return self.q.get(timeout=timeout)

    def join(self) -> None:
        """Waits until the child's stdout ended and is closed (after the child exited)."""
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the child's stdout stayed open"


def wait_for(q: Lines, want: str, timeout: float = 20.0) -> list[str]:
    seen = []
    end = time.monotonic() + timeout
    while True:
        line = q.get(timeout=max(0.0, end - time.monotonic()))
        seen.append(line)
        if line == want:
            return seen


def test_the_seeds_program_runs_unchanged(cluster: Cluster) -> None:
    seed = ROOT / "examples" / "python" / "seed_example.py"
    text = seed.read_text()
    assert "import turtle_finder as service_finder" in text and "Thread" not in text.replace("threading", "")
    proc = subprocess.Popen(
        [sys.executable, str(seed)],
        env={**cluster.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    out = Lines(proc)
    try:
        wait_for(out, "Critical Section!")
        cluster.put("/services/cdd", '[ "turtle1", "turtle2", "not a turtle" ]')
        wait_for(out, 'Key change: [ "turtle1", "turtle2", "not a turtle" ]')
        wait_for(out, "Critical Section!")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        out.join()


@pytest.mark.parametrize(
    "call",
    ['sf.get_service("cdd", timeout=30)', 'sf.watch_service("cdd", print)', 'sf.register("cdd", "10.0.0.9:80")'],
)
def test_ctrl_c_interrupts_a_call_blocked_on_hung_members(fresh_cluster: Cluster, call: str) -> None:
    """A lookup, a watch's set-up (its initial read) and a registration all end on Ctrl-C."""
    code = textwrap.dedent(
        f"""
        import sys, time, turtle_finder as tf
        sf = tf.ServiceFinder(timeout=30)
        try:
            print("ready", flush=True)
            {call}
            print("returned", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted {{time.monotonic()}}", flush=True)
        """
    )
    for i in range(3):
        fresh_cluster.stop(i)
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], env=fresh_cluster.env, stdout=subprocess.PIPE, text=True)
        out = Lines(proc)
        assert out.get(timeout=20) == "ready"
        # Wait until the main thread sleeps inside the call (no event says so; its state does).
        stat = Path(f"/proc/{proc.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "S":
            assert time.monotonic() < deadline, "child never blocked"
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        line = out.get(timeout=10)
        assert line.startswith("interrupted"), line
        took = float(line.split()[1]) - sent
        print(f"KeyboardInterrupt {took * 1000:.0f} ms after SIGINT")
        assert took < 0.5
        assert proc.wait(timeout=10) == 0
        out.join()
    finally:
        for i in range(3):
            fresh_cluster.cont(i)


def test_exit_with_live_watches_50_times(cluster: Cluster) -> None:
    code = textwrap.dedent(
        """
        import turtle_finder as tf
        sf = tf.ServiceFinder()
        for name in ["py-exit-a", "py-exit-b", "py-exit-c"]:
            sf.watch_service(name, lambda v: None, initial=True)
        print("watching")
        """
    )
    cluster.put("/services/py-exit-a", "x")
    worst = 0.0
    for _ in range(50):
        start = time.monotonic()
        r = run_python(code, cluster.env, timeout=20)
        worst = max(worst, time.monotonic() - start)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "watching"
        assert "panicked" not in r.stderr and "Fatal" not in r.stderr, r.stderr
    print(f"slowest of 50 runs: {worst:.2f} s")


def test_sys_exit_in_a_callback_ends_that_watch_like_a_thread(cluster: Cluster) -> None:
    code = textwrap.dedent(
        """
        import sys, time, turtle_finder as tf
        sf = tf.ServiceFinder()
        w = sf.watch_service("py-sysexit", lambda v: sys.exit(3))
        print("ready", flush=True)
        end = time.monotonic() + 20
        while not w.cancelled and time.monotonic() < end:
            time.sleep(0.01)
        print("cancelled" if w.cancelled else "still running", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=cluster.env, stdout=subprocess.PIPE, text=True)
    out = Lines(proc)
    assert out.get(timeout=20) == "ready"
    cluster.put("/services/py-sysexit", "bye")
    assert out.get(timeout=30) == "cancelled"
    assert proc.wait(timeout=10) == 0
    out.join()


def test_fork_child_gets_a_clear_error_and_can_make_its_own_finder(cluster: Cluster) -> None:
    cluster.put("/services/py-fork", "forked")
    code = textwrap.dedent(
        """
        import os, sys, turtle_finder as tf
        sf = tf.ServiceFinder()
        sf.watch_service("py-fork", lambda v: None)
        assert sf.get_service("py-fork") == "forked"
        pid = os.fork()
        if pid == 0:
            try:
                sf.get_service("py-fork")
                sys.exit(10)
            except tf.ClosedError as e:
                assert "fork" in str(e), e
            mine = tf.ServiceFinder()
            sys.exit(0 if mine.get_service("py-fork") == "forked" else 11)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        assert sf.get_service("py-fork") == "forked"  # the parent's finder still works
        """
    )
    r = run_python(code, cluster.env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "child 0", (r.stdout, r.stderr)


def test_a_registration_closed_in_a_fork_child_says_so_at_once(cluster: Cluster) -> None:
    code = textwrap.dedent(
        """
        import os, sys, time, turtle_finder as tf
        sf = tf.ServiceFinder()
        reg = sf.register("py-fork-reg", "10.0.0.6:80", ttl=5)
        pid = os.fork()
        if pid == 0:
            started = time.monotonic()
            try:
                reg.close()
                sys.exit(10)
            except tf.ClosedError as e:
                assert "fork" in str(e), e
            sys.exit(0 if time.monotonic() - started < 0.5 else 11)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        assert reg.state == "registered"  # the parent's registration is untouched
        reg.close()
        """
    )
    r = run_python(code, cluster.env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "child 0", (r.stdout, r.stderr)


def test_the_gil_is_released_while_a_lookup_blocks(fresh_cluster: Cluster) -> None:
    sf = tf.ServiceFinder(fresh_cluster.endpoints)
    for i in range(3):
        fresh_cluster.stop(i)
    try:
        done = threading.Event()

        def blocked() -> None:
            try:
                sf.get_service("cdd", timeout=1.0)
            except tf.TurtleError:
                pass
            done.set()

        t = threading.Thread(target=blocked)
        t.start()
        spins = 0
        while not done.is_set():
            spins += 1
        t.join()
        assert spins > 10_000, f"the main thread ran only {spins} loops while the lookup blocked"
    finally:
        for i in range(3):
            fresh_cluster.cont(i)
    sf.close()

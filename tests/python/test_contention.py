"""Eight processes of the three faces contend for one lock while members are killed and
stopped (issue 20): each makes increments of a counter in etcd with transactions fenced
on the lock, and logs each with its token. No two holders overlap: the counter ends at
exactly the number of increments, every value is written once, and the values follow the
tokens' order (a later holder's token is larger)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import turtle_finder as tf
from conftest import ROOT, Cluster

COUNT = int(os.environ.get("TURTLE_CONTENTION_COUNT", "50"))
TARGET = ROOT / "target" / "debug"

PYTHON_WORKER = textwrap.dedent(
    """
    import sys
    import turtle_finder as tf

    name, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    f = tf.ServiceFinder()
    counter, seq, failures = f"/{name}/counter", 0, 0

    def round_of(seq):
        log = f"/{name}/log/{worker}/{seq}"
        with f.lock(name, ttl=3, timeout=30) as guard:
            if f.get(log) is not None:  # an earlier round's lost answer made it
                return True
            entry = f.get(counter)
            value, rev = (int(entry.value), entry.mod_revision) if entry else (0, 0)
            done = (
                f.txn()
                .when(guard.owner_cmp(), tf.Compare.mod_revision(counter, "==", rev))
                .then(tf.Op.put(counter, str(value + 1)), tf.Op.put(log, f"{value + 1} {guard.token}"))
                .commit()
            )
            return done.succeeded

    while seq < count:
        try:
            seq += round_of(seq)
        except tf.TurtleError as e:
            failures += 1
            print(f"worker {worker}: round {seq}: {e}", file=sys.stderr)
            assert failures < 1000
    print(f"done {worker} {seq} failures {failures}")
    """
)


def c_worker(tmp: Path) -> Path:
    exe = tmp / "lock_worker"
    cc = os.environ.get("CC", "cc")
    src = ROOT / "tests" / "c" / "lock_worker.c"
    subprocess.run(
        [cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Werror", f"-I{ROOT / 'include'}", str(src)]
        + ["-o", str(exe), f"-L{TARGET}", "-lturtle"],
        check=True,
    )
    return exe


@pytest.mark.timeout(400)  # about a minute; a busy machine may take several
def test_eight_processes_of_three_faces_never_hold_the_lock_together(fresh_cluster: Cluster) -> None:
    c = fresh_cluster
    with tempfile.TemporaryDirectory() as tmp:
        c_exe = c_worker(Path(tmp))
        env = {**c.env, "LD_LIBRARY_PATH": str(TARGET)}
        rust = [str(TARGET / "turtle-lock-worker")]
        commands = [rust] * 3 + [[str(c_exe)]] * 3 + [[sys.executable, "-c", PYTHON_WORKER]] * 2
        workers = [
            subprocess.Popen(
                [*cmd, "ct", f"w{i}", str(COUNT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for i, cmd in enumerate(commands)
        ]
        faults = 0
        while any(w.poll() is None for w in workers):
            member = faults % 3
            if faults % 2 == 0:
                c.call(f"kill {member}")
                time.sleep(1.0)  # pacing the faults, not waiting for an event
                c.call(f"restart {member}")
            else:
                c.stop(member)
                time.sleep(1.0)
                c.cont(member)
            faults += 1
            time.sleep(0.5)
        outs = [w.communicate() for w in workers]
    for cmd, w, (out, err) in zip(commands, workers, outs, strict=True):
        assert w.returncode == 0, f"{cmd[0]}: exit {w.returncode}\n{out}\n{err[-3000:]}"
        assert out.startswith("done "), out
    print(f"{faults} faults;", "; ".join(out.strip() for out, _ in outs))
    f = tf.ServiceFinder(c.endpoints)
    total = 8 * COUNT
    counter = f.get("/ct/counter")
    assert counter is not None and counter.value == str(total), counter
    logs = c.call("keys /ct/log/")["keys"]
    assert len(logs) == total, f"{len(logs)} log keys"
    made = []
    for key in logs:
        entry = f.get(key)
        assert entry is not None
        value, token = map(int, str(entry.value).split())
        made.append((value, token))
    made.sort()
    assert [v for v, _ in made] == list(range(1, total + 1)), "every value written once"
    tokens = [t for _, t in made]
    assert all(a < b for a, b in zip(tokens, tokens[1:], strict=False)), "holders in token order"
    assert faults >= 2, "the run saw member faults"

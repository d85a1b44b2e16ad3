"""The etcd test cluster for the Python tests: the same Rust helper as the Rust and C
tests, driven through its command-line entry (target/debug/turtle-cluster)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_BIN = Path(os.environ.get("TURTLE_CLUSTER_BIN", ROOT / "target" / "debug" / "turtle-cluster"))


class Cluster:
    """A running 3-member etcd cluster; it dies with this process (its stdin closes)."""

    def __init__(self, *etcd_args: str, options: tuple[str, ...] = ()) -> None:
        """`options` are turtle-cluster's own (--tls, --client-cert-auth, --auth PW)."""
        if not CLUSTER_BIN.exists():
            raise RuntimeError(f"{CLUSTER_BIN} is missing: run `cargo build -p turtle-tests` (make test does)")
        args = [str(CLUSTER_BIN), *options] + (["--", *etcd_args] if etcd_args else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = json.loads(self._line())
        self.endpoints: list[str] = first["endpoints"]
        self.certs: dict[str, str] = first.get("certs", {})

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("turtle-cluster ended")
        return line

    def call(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self._line())
        if not reply.get("ok"):
            raise RuntimeError(f"turtle-cluster {command!r}: {reply}")
        return reply

    def put(self, key: str, value: str) -> int:
        rev: int = self.call(f"put {key} {value}")["revision"]
        return rev

    def delete(self, key: str) -> int:
        rev: int = self.call(f"delete {key}")["revision"]
        return rev

    def stop(self, i: int) -> None:
        self.call(f"stop {i}")

    def cont(self, i: int) -> None:
        self.call(f"cont {i}")

    def close(self) -> None:
        """Ends the cluster (its stdin closing ends it) and closes both pipes."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "TURTLE_ENDPOINTS": ",".join(self.endpoints)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    yield c
    c.close()


@pytest.fixture
def fresh_cluster() -> Iterator[Cluster]:
    """A cluster of its own, for tests that stop members."""
    c = Cluster()
    yield c
    c.close()


class Recorder:
    """A callback that queues what it gets, and a way to wait for it."""

    def __init__(self) -> None:
        self.q: queue.Queue[Any] = queue.Queue()

    def __call__(self, value: Any) -> None:
        self.q.put(value)

    def next(self, timeout: float = 20.0) -> Any:
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing delivered within {timeout} s") from None


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def run_python(code: str, env: dict[str, str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter of this virtualenv."""
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)

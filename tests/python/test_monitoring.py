"""Monitoring from Python: the metrics text (checked by promtool) moving with a killed
member, the metrics settings, /metrics served, members() and health() with a member
stopped."""

from __future__ import annotations

import re
import subprocess
import urllib.request

import pytest
import turtle_finder as tf
from conftest import Cluster


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the first series `name{...}` holding `labels`."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if re.match(rf"{name}(\{{|$)", series) and all(f'{k}="{v}"' in series for k, v in labels.items()):
            return float(value)
    return None


def promtool_check(text: str) -> None:
    out = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_metrics_move_with_a_killed_member(fresh_cluster: Cluster) -> None:
    fresh_cluster.put("/services/py-mon", "v")
    with tf.ServiceFinder(fresh_cluster.endpoints) as sf:
        assert sf.get_service("py-mon") == "v"
        text = sf.metrics()
        promtool_check(text)
        first = fresh_cluster.endpoints[0]
        assert sample(text, "turtle_requests_total", operation="get_service", outcome="ok", member=first) == 1
        assert sample(text, "turtle_member_up", member=first) == 1
        fresh_cluster.call("kill 0")
        assert sf.get_service("py-mon") == "v"
        text = sf.metrics()
        promtool_check(text)
        assert sample(text, "turtle_failovers_total", operation="get_service") == 1
        assert sample(text, "turtle_member_up", member=first) == 0
        assert sf.metrics_addr is None


def test_members_and_health_with_a_member_stopped(fresh_cluster: Cluster) -> None:
    with tf.ServiceFinder(fresh_cluster.endpoints) as sf:
        members = sf.members()
        assert len(members) == 3
        leaders = [m for m in members if m.is_leader]
        assert len(leaders) == 1, members
        leader = fresh_cluster.call("leader")["leader"]
        assert f"http://{fresh_cluster.endpoints[leader]}" in leaders[0].client_urls
        stopped = (leader + 1) % 3
        fresh_cluster.stop(stopped)
        try:
            health = sf.health()
        finally:
            fresh_cluster.cont(stopped)
        assert [h.endpoint for h in health] == fresh_cluster.endpoints
        for i, h in enumerate(health):
            if i == stopped:
                assert not h.reachable and not h.healthy and h.round_trip is None
                assert h.error is not None and "no answer" in h.error
            else:
                assert h.healthy and h.leader_id == leaders[0].id, h
                assert h.round_trip is not None and h.round_trip > 0
                assert h.raft_term > 0 and h.version.startswith("3.")
        assert "MemberStatus(" in repr(health[0]) and "Member(" in repr(members[0])


def test_metrics_settings_and_the_served_endpoint(cluster: Cluster) -> None:
    with tf.ServiceFinder(cluster.endpoints, metrics=False) as quiet:
        quiet.get_service("x")
        with pytest.raises(tf.InvalidArgumentError, match="metrics are off"):
            quiet.metrics()
    with pytest.raises(tf.InvalidArgumentError, match="is not IP:PORT"):
        tf.ServiceFinder(cluster.endpoints, metrics_addr="nowhere")
    with pytest.raises(tf.InvalidArgumentError, match="metrics are off"):
        tf.ServiceFinder(cluster.endpoints, metrics=False, metrics_addr="127.0.0.1:0")
    with tf.ServiceFinder(cluster.endpoints, metrics_addr="127.0.0.1:0") as sf:
        sf.get_service("x")
        addr = sf.metrics_addr
        assert addr is not None and addr.startswith("127.0.0.1:")
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = resp.read().decode()
        promtool_check(body)
        assert sample(body, "turtle_requests_total", operation="get_service", outcome="ok") == 1

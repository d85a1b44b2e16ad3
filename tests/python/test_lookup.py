"""Lookups from Python against a real cluster, and bad input."""

from __future__ import annotations

import subprocess

import pytest
import turtle_finder as tf
from conftest import Cluster


def test_present_absent_unicode(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    cluster.put("/services/py-cdd", '[ "turtle1", "turtle2", "turtle3" ]')
    assert sf.get_service("py-cdd") == '[ "turtle1", "turtle2", "turtle3" ]'
    assert sf.get_service("py-absent") is None
    cluster.put("/services/py-uni", "värde ☃ 🐢")
    assert sf.get_service("py-uni") == "värde ☃ 🐢"
    assert sf.get_service_bytes("py-uni") == "värde ☃ 🐢".encode()
    assert sf.get_service_bytes("py-absent") is None


def test_endpoints_as_list_string_or_environment(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.put("/services/py-ep", "x")
    assert tf.ServiceFinder(cluster.endpoints).get_service("py-ep") == "x"
    assert tf.ServiceFinder(",".join(cluster.endpoints)).get_service("py-ep") == "x"
    monkeypatch.setenv("TURTLE_ENDPOINTS", ",".join(cluster.endpoints))
    sf = tf.ServiceFinder()
    assert sf.endpoints == cluster.endpoints
    assert sf.get_service("py-ep", timeout=2.0) == "x"


def test_every_setting_is_a_keyword_argument(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(
        cluster.endpoints,
        prefix="/services/",
        timeout=3.0,
        max_queued_changes=16,
        hedge_after=0.2,
        hedge_floor=0.02,
        connect_timeout=0.8,
        keepalive=(20.0, 5.0),
        watch_check=(0.25, 0.9),
        leader_check=1.0,
        watch_retry_delay=0.0,
        retry_backoff=(0.01, 0.4),
        probe_backoff=(0.05, 1.0),
    )
    cluster.put("/services/py-settings", "x")
    assert sf.get_service("py-settings") == "x"


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("max_queued_changes", 0, "max_queued_changes"),
        ("hedge_after", 0.0, "hedge_after"),
        ("hedge_floor", -0.5, "hedge_floor"),
        ("connect_timeout", -1.0, "connect_timeout"),
        ("keepalive", (0.0, 1.0), "keepalive"),
        ("watch_check", (0.3, float("nan")), "watch_check"),
        ("leader_check", float("inf"), "leader_check"),
        ("retry_backoff", (1.0, 0.1), "retry_backoff"),
        ("probe_backoff", (0.0, 0.0), "probe_backoff"),
        ("timeout", 1e12, "deadline"),
    ],
)
def test_unusable_settings_are_invalid_arguments(setting: str, value: object, named: str) -> None:
    with pytest.raises(tf.InvalidArgumentError) as e:
        tf.ServiceFinder("127.0.0.1:1", **{setting: value})  # type: ignore[arg-type]
    assert named in str(e.value), str(e.value)


@pytest.mark.parametrize("bad", ["", ",", "localhost", "127.0.0.1:0", "ftp://a:1", ["a:1", "a:1"], []])
def test_malformed_endpoints(bad: object) -> None:
    with pytest.raises(tf.InvalidArgumentError) as e:
        tf.ServiceFinder(bad)  # type: ignore[arg-type]
    assert isinstance(e.value, ValueError) and isinstance(e.value, tf.TurtleError)


def test_bad_arguments_get_clear_errors(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    for bad in ["", "a/b", "nul\0byte"]:
        with pytest.raises(tf.InvalidArgumentError):
            sf.get_service(bad)
        with pytest.raises(tf.InvalidArgumentError):
            sf.watch_service(bad, print)
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate cannot reach etcd
        sf.get_service("\udcff")
    with pytest.raises(TypeError):
        sf.get_service(b"cdd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tf.ServiceFinder(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sf.watch_service("cdd", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tf.ServiceFinder(cluster.endpoints, bogus=1)  # type: ignore[call-arg]
    for t in [0, -1, float("nan"), float("inf")]:
        with pytest.raises(tf.InvalidArgumentError):
            sf.get_service("cdd", timeout=t)


def test_non_utf8_value_is_an_error_or_bytes(cluster: Cluster) -> None:
    sf = tf.ServiceFinder(cluster.endpoints)
    # etcdctl takes the raw bytes as an argument.
    subprocess.run(
        ["etcdctl", f"--endpoints={','.join(cluster.endpoints)}", "put", "/services/py-bin", b"a\xff\xfeb"],
        check=True,
        capture_output=True,
    )
    with pytest.raises(tf.InvalidValueError):
        sf.get_service("py-bin")
    assert sf.get_service_bytes("py-bin") == b"a\xff\xfeb"


def test_errors_name_members_and_reuse_builtin_bases() -> None:
    sf = tf.ServiceFinder(["127.0.0.1:1", "127.0.0.1:2"])
    with pytest.raises(tf.UnavailableError) as e:
        sf.get_service("cdd", timeout=3.0)
    assert isinstance(e.value, ConnectionError)
    assert "127.0.0.1:1: connection refused" in str(e.value)
    assert "127.0.0.1:2: connection refused" in str(e.value)
    assert issubclass(tf.DeadlineExceededError, TimeoutError)
    assert issubclass(tf.PermissionDeniedError, PermissionError)


def test_context_manager_and_closed(cluster: Cluster) -> None:
    with tf.ServiceFinder(cluster.endpoints) as sf:
        assert sf.get_service("py-absent") is None
    with pytest.raises(tf.ClosedError):
        sf.get_service("py-absent")
    sf.close()  # idempotent

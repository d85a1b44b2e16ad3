"""Property tests of every public function (hypothesis): whatever names, values, endpoint
strings, timeouts and argument types a caller passes, the answer is a result or one of
the documented exceptions: TypeError (wrong type), OverflowError (an integer out of
range), UnicodeEncodeError (a lone surrogate, which no UTF-8 key can hold), or a
TurtleError subclass. Never a crash, a hang or another exception."""

from __future__ import annotations

import subprocess
from typing import Any

import turtle_finder as tf
from conftest import Cluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DOCUMENTED = (TypeError, OverflowError, UnicodeEncodeError, tf.TurtleError)
SLOW_OK = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.lists(st.text(max_size=10), max_size=3),
    st.tuples(st.floats(), st.floats()),
)
names = st.one_of(st.text(max_size=60), st.sampled_from(["cdd", "", "a/b", "x" * 1025, "nul\0"]), anything)
seconds = st.one_of(st.none(), st.floats(), st.integers(min_value=-(10**12), max_value=10**12), anything)


def call(f: Any, *args: Any, **kwargs: Any) -> Any:
    """Calls f; a documented exception is as good as a result."""
    try:
        return f(*args, **kwargs)
    except DOCUMENTED as e:
        return e


@SLOW_OK
@given(name=names, timeout=seconds)
def test_lookups_take_any_name_and_timeout(cluster: Cluster, name: Any, timeout: Any) -> None:
    with tf.ServiceFinder(cluster.endpoints, timeout=2.0) as sf:
        for lookup in (sf.get_service, sf.get_service_bytes):
            got = call(lookup, name, timeout=timeout)
            assert got is None or isinstance(got, (str, bytes, BaseException)), got


@SLOW_OK
@given(endpoints=st.one_of(st.text(max_size=80), st.lists(st.text(max_size=30), max_size=4), anything))
def test_finders_take_any_endpoints(endpoints: Any) -> None:
    # Connections open lazily, so no name is looked up: no query leaves this machine.
    sf = call(tf.ServiceFinder, endpoints, timeout=0.2)
    if isinstance(sf, tf.ServiceFinder):
        assert sf.endpoints and not sf.closed
        sf.close()
    else:
        assert isinstance(sf, DOCUMENTED), sf


setting_names = [
    "prefix",
    "timeout",
    "serializable",
    "max_queued_changes",
    "max_response_bytes",
    "hedge_after",
    "hedge_floor",
    "connect_timeout",
    "keepalive",
    "watch_check",
    "leader_check",
    "watch_retry_delay",
    "retry_backoff",
    "probe_backoff",
]


@SLOW_OK
@given(setting=st.sampled_from(setting_names), value=anything)
def test_every_setting_takes_any_value(setting: str, value: Any) -> None:
    sf = call(tf.ServiceFinder, "127.0.0.1:1", **{setting: value})
    if isinstance(sf, tf.ServiceFinder):
        sf.close()
    else:
        assert isinstance(sf, DOCUMENTED), sf


@SLOW_OK
@given(name=names, callback=st.one_of(st.just(print), anything), flag=st.booleans(), on_error=anything)
def test_watches_take_any_arguments(cluster: Cluster, name: Any, callback: Any, flag: bool, on_error: Any) -> None:
    with tf.ServiceFinder(cluster.endpoints, timeout=2.0) as sf:
        w = call(sf.watch_service, name, callback, initial=flag, changes=not flag, on_error=on_error)
        if isinstance(w, tf.Watch):
            w.cancel()
            assert w.cancelled
        else:
            assert isinstance(w, DOCUMENTED), w


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(value=st.binary(min_size=1, max_size=4096))  # etcdctl reads no empty value from stdin
def test_any_stored_bytes_come_back_unchanged_or_as_a_clear_error(cluster: Cluster, value: bytes) -> None:
    subprocess.run(
        ["etcdctl", f"--endpoints={','.join(cluster.endpoints)}", "put", "/services/py-prop"],
        input=value,
        check=True,
        capture_output=True,
    )
    with tf.ServiceFinder(cluster.endpoints) as sf:
        assert sf.get_service_bytes("py-prop") == value
        text = call(sf.get_service, "py-prop")
        try:
            assert text == value.decode()
        except UnicodeDecodeError:
            assert isinstance(text, tf.InvalidValueError), text

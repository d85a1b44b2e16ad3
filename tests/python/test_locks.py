"""Locks, fenced and compare-and-swap writes from Python (issue 20)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import turtle_finder as tf
from conftest import Cluster, Recorder


def finder(cluster: Cluster) -> tf.ServiceFinder:
    return tf.ServiceFinder(cluster.endpoints)


def test_a_lock_is_held_until_its_with_block_ends_and_tokens_grow(cluster: Cluster) -> None:
    a, b = finder(cluster), finder(cluster)
    with a.lock("py-jobs") as held:
        assert held.is_valid()
        assert held.key == f"py-jobs/{held.lease_id:x}"
        assert not held.lost.is_set()
        assert b.try_lock("py-jobs") is None
        first = held.token
    assert not held.is_valid()
    assert held.lost.is_set()
    later = b.try_lock("py-jobs")
    assert later is not None
    assert later.token > first
    later.unlock()
    later.unlock()  # idempotent


def test_a_lock_not_had_in_time_raises_and_the_body_never_runs(cluster: Cluster) -> None:
    a, b = finder(cluster), finder(cluster)
    ran = False
    with a.lock("py-busy"):
        with pytest.raises(tf.DeadlineExceededError) as e:
            with b.lock("py-busy", timeout=0.3):
                ran = True
        assert isinstance(e.value, TimeoutError)
    assert not ran
    with b.lock("py-busy", timeout=5) as mine:
        assert mine.is_valid()


def test_a_waiter_gets_the_lock_when_the_holder_lets_go(cluster: Cluster) -> None:
    a, b = finder(cluster), finder(cluster)
    held = a.lock("py-turn")
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(b.lock("py-turn", timeout=20).token))
    waiter.start()
    # The waiter's key is there before the holder lets go: etcd says so.
    deadline = time.monotonic() + 20
    while len(cluster.call("keys py-turn/")["keys"]) < 2:
        assert time.monotonic() < deadline, "the waiter never put its key"

    held.unlock()
    waiter.join(20)
    assert got and got[0] > held.token


def test_a_lost_lock_sets_its_event_calls_back_and_fences_late_writes(cluster: Cluster, recorder: Recorder) -> None:
    f = finder(cluster)
    held = f.lock("py-lost")
    held.on_lost(recorder)
    f.put("/py-lost/state", "1", if_owner=held)
    cluster.delete(held.key)
    assert held.lost.wait(20)
    exc = recorder.next()
    assert isinstance(exc, tf.SessionLostError), exc
    assert not held.is_valid()
    with pytest.raises(tf.ConditionFailedError):
        f.put("/py-lost/state", "late", if_owner=held)
    entry = f.get("/py-lost/state")
    assert entry is not None and entry.value == "1"
    # A callback added after the loss is called at once.
    late = Recorder()
    held.on_lost(late)
    assert isinstance(late.next(timeout=1), tf.SessionLostError)


def test_writes_compare_and_swap_on_the_revision_read(cluster: Cluster) -> None:
    f = finder(cluster)
    rev = f.put("/py-cfg/limit", "10", if_revision=0)
    with pytest.raises(tf.ConditionFailedError):
        f.put("/py-cfg/limit", "11", if_revision=0)
    entry = f.get("/py-cfg/limit")
    assert entry is not None
    assert (entry.value, entry.mod_revision, entry.create_revision, entry.version) == ("10", rev, rev, 1)
    nxt = f.put("/py-cfg/limit", b"12", if_revision=rev)
    with pytest.raises(tf.ConditionFailedError):
        f.delete("/py-cfg/limit", if_revision=rev)
    f.delete("/py-cfg/limit", if_revision=nxt)
    assert f.get("/py-cfg/limit") is None
    f.put("/py-cfg/raw", b"\xff\x00")
    raw = f.get("/py-cfg/raw")
    assert raw is not None and raw.value == b"\xff\x00"


def test_bad_lock_and_write_arguments_are_clear_errors(cluster: Cluster) -> None:
    f = finder(cluster)
    for name, ttl in [("", 10.0), ("a\0b", 10.0), ("ok", 0.0), ("ok", 1.5), ("ok", -1.0), ("ok", float("nan"))]:
        with pytest.raises(tf.InvalidArgumentError):
            f.lock(name, ttl=ttl)
        with pytest.raises(tf.InvalidArgumentError):
            f.try_lock(name, ttl=ttl)
    with pytest.raises(tf.InvalidArgumentError):
        f.lock("ok", timeout=-1)
    with pytest.raises(TypeError):
        f.put("/py-cfg/x", 5)  # type: ignore[arg-type]
    with pytest.raises(tf.InvalidArgumentError):
        f.put("", "x")
    held = f.lock("py-bad")
    with pytest.raises(TypeError):
        held.on_lost(5)  # type: ignore[arg-type]
    held.unlock()


def test_candidates_lead_in_turn_and_observers_see_each_leader(cluster: Cluster, recorder: Recorder) -> None:
    a, b, o = finder(cluster), finder(cluster), finder(cluster)
    o.observe("py-sched", lambda leader: recorder(None if leader is None else leader.value))
    assert recorder.next() is None
    assert o.leader("py-sched") is None
    with a.campaign("py-sched", "a") as leading:
        assert recorder.next() == "a"
        now = o.leader("py-sched")
        assert now is not None and (now.key, now.revision) == (leading.key, leading.token)
        leading.proclaim(b"a2")
        assert recorder.next() == "a2"
        assert b.try_lock("py-sched") is None  # a leadership is a lock of the same name
    with pytest.raises(tf.ConditionFailedError):
        leading.proclaim("late")
    assert recorder.next() is None
    with pytest.raises(tf.DeadlineExceededError):
        with a.campaign("py-sched", "x"), b.campaign("py-sched", "y", timeout=0.3):
            pass
    assert not leading.is_valid() and leading.lost.is_set()


def test_a_transaction_writes_together_only_when_its_compares_hold(cluster: Cluster) -> None:
    f = finder(cluster)
    rev = f.put("/py-txn/job", "queued")
    start = (
        f.txn()
        .when(
            tf.Compare.value("/py-txn/job", "==", "queued"),
            tf.Compare.mod_revision("/py-txn/job", "==", rev),
            tf.Compare.create_revision("/py-txn/owner", "==", 0),
        )
        .then(tf.Op.put("/py-txn/job", "running"), tf.Op.put("/py-txn/owner", b"py"), tf.Op.get("/py-txn/job"))
        .otherwise(tf.Op.get("/py-txn/job"), tf.Op.get("/py-txn/absent"))
    )
    first = start.commit()
    assert first.succeeded and first
    (job,) = first.gets
    assert job is not None and (job.value, job.mod_revision) == ("running", first.revision)
    second = start.commit()
    assert not second.succeeded and not second
    assert second.revision == first.revision
    got = second.gets
    assert got[0] is not None and got[0].value == "running" and got[1] is None
    # Under a lock's owner compare: lands while held, not once its key is gone.
    with f.lock("py-txn-lock") as held:
        fenced = f.txn().when(held.owner_cmp()).then(tf.Op.put("/py-txn/fenced", "1"))
        assert fenced.commit().succeeded
        cluster.delete(held.key)
        assert held.lost.wait(20)
        assert not fenced.commit().succeeded


def test_bad_transactions_are_clear_errors(cluster: Cluster) -> None:
    f = finder(cluster)
    with pytest.raises(ValueError, match="comparison"):
        tf.Compare.version("/k", "=", 1)
    with pytest.raises(TypeError):
        tf.Op.put("/k", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        f.txn().then("not an op")  # type: ignore[arg-type]
    with pytest.raises(tf.InvalidArgumentError, match="twice"):
        f.txn().then(tf.Op.put("/k", "a"), tf.Op.delete("/k")).commit()
    with pytest.raises(tf.InvalidArgumentError, match="too many operations"):
        f.txn().then(*[tf.Op.put(f"/many/{i}", "x") for i in range(129)]).commit()
    assert f.get("/k") is None and f.get("/many/0") is None


def test_a_candidate_runs_again_after_a_loss_until_stopped(cluster: Cluster) -> None:
    a, b = finder(cluster), finder(cluster)
    heard_a, heard_b = Recorder(), Recorder()

    def won_by(heard: Recorder) -> Callable[[tf.Leader], None]:
        return lambda leader: heard(("won", leader.value, leader.revision))

    running_a = a.run_for_leader("py-cron", "a", won_by(heard_a), heard_a)
    won, value, first = heard_a.next()
    assert (won, value) == ("won", "a") and running_a.is_leading() and running_a.token == first
    with b.run_for_leader("py-cron", b"b", won_by(heard_b), heard_b) as running_b:
        assert running_b.last_error is None
        deadline = time.monotonic() + 20
        while len(cluster.call("keys py-cron/")["keys"]) < 2:
            assert time.monotonic() < deadline, "b never put its key"
        leader = a.leader("py-cron")
        assert leader is not None
        cluster.delete(leader.key)
        assert isinstance(heard_a.next(), tf.SessionLostError)
        won, value, second = heard_b.next()
        assert (won, value) == ("won", "b") and second > first
        assert not running_a.is_leading() and running_a.token is None
    # b resigned on leaving its block: a, running again, leads.
    won, _, third = heard_a.next()
    assert won == "won" and third > second
    running_a.stop()
    running_a.stop()
    assert a.leader("py-cron") is None
    with pytest.raises(TypeError):
        a.run_for_leader("py-cron", "a", "not callable")  # type: ignore[arg-type]
    with pytest.raises(tf.InvalidArgumentError):
        a.run_for_leader("", "a", print)


def test_locks_share_a_session_and_go_with_it(cluster: Cluster) -> None:
    a, b = finder(cluster), finder(cluster)
    with a.lock_session(ttl=5) as session:
        assert session.is_alive() and session.ttl == 5
        one = a.lock("py-s1", session=session)
        two = a.lock("py-s2", session=session)
        assert one.lease_id == two.lease_id == session.lease_id
        assert one.key == f"py-s1/{session.lease_id:x}"
        with pytest.raises(tf.InvalidArgumentError, match="already"):
            a.try_lock("py-s1", session=session)  # one lock per name on a session
        one.unlock()
        assert session.is_alive(), "an unlock does not end the session"
        with a.campaign("py-s3", "v", session=session) as leading:
            assert leading.lease_id == session.lease_id
        freed = b.try_lock("py-s1")
        assert freed is not None, "the unlocked name is free"
        freed.unlock()
    # Closing the session revokes its lease: the lock on it is lost.
    assert two.lost.wait(20)
    assert not two.is_valid()
    again = b.try_lock("py-s2")
    assert again is not None
    again.unlock()

//! Which calls may be hedged, retried or sent to another member after a failure: a policy
//! per operation, as etcd's Go client names one per RPC (`retry.go`: repeatable and
//! non-repeatable), and the operation's name in metrics and errors.

use crate::failure::{not_applied, Failure};

/// How an operation may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A read: also sent to the next member when the first is slow (hedged), and retried
    /// on another member after any failure.
    Read,
    /// A write that applied twice does no harm (a keepalive, a revoke, a put of the same
    /// key, value and lease, a grant with the client's own lease id): never hedged, retried
    /// on another member after any failure, including a member silent for the connect
    /// timeout.
    IdempotentWrite,
    /// A read that must not be cancelled while a member runs it (a read-only transaction:
    /// etcd 3.5.0-3.5.4 panic then, etcd #14110): never hedged nor abandoned for silence,
    /// retried on another member after a failure.
    UncancelledRead,
    /// A write that applied twice would differ (a transaction): never hedged, retried only
    /// when it cannot have reached a member (no connection was made, or etcd answered that
    /// it did not apply it); it waits for its member's answer until the deadline.
    Write,
}

/// An operation of the pool: its name (the `operation` label of the metrics, and the start
/// of its errors) and its retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Op {
    pub(crate) name: &'static str,
    pub(crate) retry: Retry,
}

const fn read(name: &'static str) -> Op {
    Op {
        name,
        retry: Retry::Read,
    }
}

const fn write(name: &'static str) -> Op {
    Op {
        name,
        retry: Retry::Write,
    }
}

const fn uncancelled_read(name: &'static str) -> Op {
    Op {
        name,
        retry: Retry::UncancelledRead,
    }
}

const fn idempotent(name: &'static str) -> Op {
    Op {
        name,
        retry: Retry::IdempotentWrite,
    }
}

impl Op {
    /// A lookup of one service.
    pub(crate) const GET_SERVICE: Op = read("get_service");
    /// A read of a service's instances.
    pub(crate) const INSTANCES: Op = read("instances");
    /// The snapshot a new watch starts from.
    pub(crate) const WATCH_START: Op = read("watch_start");
    /// A watch's key read anew (compacted, cancelled, or too large to catch up).
    pub(crate) const RESYNC: Op = read("resync");
    /// The cluster's member list.
    pub(crate) const MEMBER_LIST: Op = read("member_list");
    /// A member's status.
    pub(crate) const STATUS: Op = read("status");
    /// A lease grant with the client's own id: a retry that finds it granted is done.
    pub(crate) const GRANT: Op = idempotent("grant");
    /// A put of a registration's key, value and lease.
    pub(crate) const PUT: Op = idempotent("put");
    /// One keepalive of a lease.
    pub(crate) const KEEPALIVE: Op = idempotent("keepalive");
    /// A lease revoked (a lease already gone is fine).
    pub(crate) const REVOKE: Op = idempotent("revoke");
    /// A lock's waiter key put unless there (its lease names it: a retry finds it).
    pub(crate) const LOCK: Op = idempotent("lock");
    /// A lock's keys read to see whose turn it is.
    pub(crate) const LOCK_WAIT: Op = read("lock_wait");
    /// A lock's key deleted if its create revision is the token (a retry deletes nothing).
    pub(crate) const UNLOCK: Op = idempotent("unlock");
    /// A leader's new value, put only while its key is the leadership's (the same value
    /// twice is the same key).
    pub(crate) const PROCLAIM: Op = idempotent("proclaim");
    /// An election's leader read.
    pub(crate) const LEADER: Op = read("leader");
    /// A key read with its revisions.
    pub(crate) const GET: Op = read("get");
    /// A key written with no condition (the same value twice is the same key).
    pub(crate) const KV_PUT: Op = idempotent("kv_put");
    /// A key deleted with no condition.
    pub(crate) const KV_DELETE: Op = idempotent("kv_delete");
    /// A write under a condition: applied twice, the second would fail its condition.
    pub(crate) const TXN: Op = write("txn");
    /// A transaction that only compares and reads.
    pub(crate) const TXN_READ: Op = uncancelled_read("txn_read");

    /// Whether a slow first member makes the pool ask the next one too.
    pub(crate) fn hedged(self) -> bool {
        self.retry == Retry::Read
    }

    /// Whether, after `failure` on one member, the call may go on with another.
    pub(crate) fn may_retry(self, failure: &Failure) -> bool {
        match (self.retry, failure) {
            (_, Failure::Final(_)) => false,
            (Retry::Read | Retry::UncancelledRead | Retry::IdempotentWrite, _) => true,
            (Retry::Write, Failure::NotSent(_)) => true,
            (Retry::Write, Failure::Retryable(reason)) => not_applied(reason),
            (Retry::Write, Failure::Connection(_)) => false,
        }
    }

    /// Whether one silent attempt is abandoned for the next member after `limit`: only
    /// idempotent writes (reads hedge instead; other writes wait for their answer).
    pub(crate) fn gives_up_on_silence(self) -> bool {
        self.retry == Retry::IdempotentWrite
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn each_kind_retries_what_it_may() {
        let not_sent = Failure::NotSent("connection refused".into());
        let lost = Failure::Connection("connection reset".into());
        let no_leader = Failure::Retryable("etcdserver: no leader".into());
        let timed_out = Failure::Retryable("etcdserver: request timed out".into());
        let fin = Failure::Final(Error::new(ErrorKind::InvalidArgument, "no"));
        let txn = Op {
            name: "txn",
            retry: Retry::Write,
        };
        for op in [Op::GET_SERVICE, Op::KEEPALIVE, Op::GRANT] {
            for f in [&not_sent, &lost, &no_leader, &timed_out] {
                assert!(op.may_retry(f), "{op:?} after {f:?}");
            }
            assert!(!op.may_retry(&fin));
        }
        assert!(txn.may_retry(&not_sent) && txn.may_retry(&no_leader));
        assert!(!txn.may_retry(&lost) && !txn.may_retry(&timed_out) && !txn.may_retry(&fin));
        assert!(Op::RESYNC.hedged() && !Op::PUT.hedged() && !txn.hedged());
        assert!(Op::REVOKE.gives_up_on_silence() && !txn.gives_up_on_silence());
        assert!(!Op::TXN_READ.hedged() && !Op::TXN_READ.gives_up_on_silence());
        assert!(Op::TXN_READ.may_retry(&lost) && Op::TXN_READ.may_retry(&timed_out));
        assert!(!Op::INSTANCES.gives_up_on_silence());
    }
}

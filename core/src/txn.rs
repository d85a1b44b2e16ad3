//! Transactions: compares on keys, then one list of operations if they all hold and
//! another if not, applied by etcd at one revision (its `Txn` RPC). A lock's guard gives
//! the compare that makes a write land only while the lock is held (`owner_cmp`).

use etcd_client::{Compare, CompareOp, TxnOp, TxnOpResponse};

use crate::error::{Error, Result};
use crate::kv::{Entry, Fence};
use crate::pool::Pool;
use crate::retry::Op;

/// How a compare compares the key's field with the given one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// The same.
    Equal,
    /// Not the same.
    NotEqual,
    /// The key's is greater.
    Greater,
    /// The key's is less.
    Less,
}

impl Cmp {
    /// `==`, `!=`, `>` or `<` (Python's and the C header's spelling); `None` for others.
    pub fn parse(s: &str) -> Option<Cmp> {
        match s {
            "==" => Some(Cmp::Equal),
            "!=" => Some(Cmp::NotEqual),
            ">" => Some(Cmp::Greater),
            "<" => Some(Cmp::Less),
            _ => None,
        }
    }

    fn etcd(self) -> CompareOp {
        match self {
            Cmp::Equal => CompareOp::Equal,
            Cmp::NotEqual => CompareOp::NotEqual,
            Cmp::Greater => CompareOp::Greater,
            Cmp::Less => CompareOp::Less,
        }
    }
}

/// What of a key a [`Condition`] compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Its value (etcd fails every compare of a missing key's value, `NotEqual` too).
    Value(Vec<u8>),
    /// How many times it was written since created (0: absent).
    Version(i64),
    /// The revision that created it (0: absent); a lock's token.
    CreateRevision(i64),
    /// The revision of its last write (0: absent).
    ModRevision(i64),
}

/// One compare of a transaction: the key's field against a given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The whole etcd key.
    pub key: String,
    /// How the key's field compares with the given one.
    pub cmp: Cmp,
    /// The field and the value it is compared with.
    pub field: Field,
}

impl Condition {
    /// The key's value compared with `value`.
    pub fn value(key: impl Into<String>, cmp: Cmp, value: impl Into<Vec<u8>>) -> Condition {
        let field = Field::Value(value.into());
        Condition {
            key: key.into(),
            cmp,
            field,
        }
    }

    /// The key's version compared with `version` (0 is an absent key).
    pub fn version(key: impl Into<String>, cmp: Cmp, version: i64) -> Condition {
        let field = Field::Version(version);
        Condition {
            key: key.into(),
            cmp,
            field,
        }
    }

    /// The key's create revision compared with `revision` (0 is an absent key).
    pub fn create_revision(key: impl Into<String>, cmp: Cmp, revision: i64) -> Condition {
        let field = Field::CreateRevision(revision);
        Condition {
            key: key.into(),
            cmp,
            field,
        }
    }

    /// The key's mod revision compared with `revision` (0 is an absent key).
    pub fn mod_revision(key: impl Into<String>, cmp: Cmp, revision: i64) -> Condition {
        let field = Field::ModRevision(revision);
        Condition {
            key: key.into(),
            cmp,
            field,
        }
    }

    fn etcd(&self) -> Compare {
        let (key, op) = (self.key.as_str(), self.cmp.etcd());
        match &self.field {
            Field::Value(v) => Compare::value(key, op, v.as_slice()),
            Field::Version(n) => Compare::version(key, op, *n),
            Field::CreateRevision(n) => Compare::create_revision(key, op, *n),
            Field::ModRevision(n) => Compare::mod_revision(key, op, *n),
        }
    }
}

/// One operation of a transaction's branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Writes a value at a key (with no lease).
    Put {
        /// The whole etcd key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Deletes a key (nothing when absent).
    Delete {
        /// The whole etcd key.
        key: String,
    },
    /// Reads a key at the transaction's revision: one [`TxnResult::gets`] entry.
    Get {
        /// The whole etcd key.
        key: String,
    },
}

impl Operation {
    /// Writes `value` at `key`.
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Operation {
        let (key, value) = (key.into(), value.into());
        Operation::Put { key, value }
    }

    /// Deletes `key`.
    pub fn delete(key: impl Into<String>) -> Operation {
        Operation::Delete { key: key.into() }
    }

    /// Reads `key`.
    pub fn get(key: impl Into<String>) -> Operation {
        Operation::Get { key: key.into() }
    }

    fn key(&self) -> &str {
        match self {
            Operation::Put { key, .. } | Operation::Delete { key } | Operation::Get { key } => key,
        }
    }

    fn writes(&self) -> bool {
        !matches!(self, Operation::Get { .. })
    }

    fn etcd(&self) -> TxnOp {
        match self {
            Operation::Put { key, value } => TxnOp::put(key.as_str(), value.as_slice(), None),
            Operation::Delete { key } => TxnOp::delete(key.as_str(), None),
            Operation::Get { key } => TxnOp::get(key.as_str(), None),
        }
    }
}

/// A transaction: if every compare of [`Txn::when`] holds, the operations of
/// [`Txn::then`], else those of [`Txn::otherwise`], all at one revision.
///
/// ```
/// use turtle_finder::{Cmp, Condition, Operation, Txn};
/// // Move a job from "queued" to "running" only if nobody else did.
/// let txn = Txn::new()
///     .when([Condition::value("/jobs/42", Cmp::Equal, "queued")])
///     .then([Operation::put("/jobs/42", "running")])
///     .otherwise([Operation::get("/jobs/42")]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    /// The compares, all of which must hold for [`Txn::then`]'s branch.
    pub compares: Vec<Condition>,
    /// The operations when every compare holds.
    pub success: Vec<Operation>,
    /// The operations when one does not.
    pub failure: Vec<Operation>,
}

impl Txn {
    /// A transaction with no compares (its `then` branch always runs) and no operations.
    pub fn new() -> Txn {
        Txn::default()
    }

    /// Adds compares that must all hold.
    pub fn when(mut self, compares: impl IntoIterator<Item = Condition>) -> Txn {
        self.compares.extend(compares);
        self
    }

    /// Adds operations for when every compare holds.
    pub fn then(mut self, ops: impl IntoIterator<Item = Operation>) -> Txn {
        self.success.extend(ops);
        self
    }

    /// Adds operations for when a compare does not hold.
    pub fn otherwise(mut self, ops: impl IntoIterator<Item = Operation>) -> Txn {
        self.failure.extend(ops);
        self
    }

    /// An error for a transaction etcd would refuse or that names an empty key.
    fn check(&self) -> Result<()> {
        let keys = (self.compares.iter().map(|c| c.key.as_str()))
            .chain(self.success.iter().chain(&self.failure).map(Operation::key));
        if keys.into_iter().any(str::is_empty) {
            return Err(Error::invalid("a transaction's key must not be empty"));
        }
        for branch in [&self.success, &self.failure] {
            let mut written: Vec<&str> = branch
                .iter()
                .filter(|o| o.writes())
                .map(Operation::key)
                .collect();
            written.sort_unstable();
            if let Some(w) = written.windows(2).find(|w| w[0] == w[1]) {
                return Err(Error::invalid(format!(
                    "a transaction's branch writes key {} twice (etcd refuses it)",
                    w[0]
                )));
            }
        }
        Ok(())
    }

    /// Applied twice, a transaction that writes could differ: retried only when it cannot
    /// have reached a member. One that only reads is retried anywhere, but never hedged:
    /// the slower copy's cancel would crash etcd 3.5.0-3.5.4 (etcd #14110).
    fn op(&self) -> Op {
        match self
            .success
            .iter()
            .chain(&self.failure)
            .any(Operation::writes)
        {
            true => Op::TXN,
            false => Op::TXN_READ,
        }
    }

    fn etcd(&self) -> etcd_client::Txn {
        etcd_client::Txn::new()
            .when(
                self.compares
                    .iter()
                    .map(Condition::etcd)
                    .collect::<Vec<_>>(),
            )
            .and_then(self.success.iter().map(Operation::etcd).collect::<Vec<_>>())
            .or_else(self.failure.iter().map(Operation::etcd).collect::<Vec<_>>())
    }
}

impl Fence {
    /// The compare that holds only while the lock is held: its key's create revision is
    /// the token.
    pub fn owner_cmp(&self) -> Condition {
        Condition::create_revision(self.key.as_str(), Cmp::Equal, self.token)
    }
}

impl crate::lock::LockGuard {
    /// The compare that holds only while this lock is held: for a transaction's writes
    /// that must land only under the lock.
    pub fn owner_cmp(&self) -> Condition {
        self.fence().owner_cmp()
    }
}

impl crate::election::Leadership {
    /// The compare that holds only while this is the leader.
    pub fn owner_cmp(&self) -> Condition {
        self.fence().owner_cmp()
    }
}

/// What a committed transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResult {
    /// Whether every compare held (the `then` branch ran), or not (`otherwise` ran).
    pub succeeded: bool,
    /// The revision the transaction ran at (the revision of its writes, if any).
    pub revision: i64,
    /// One entry per `Get` of the branch that ran, in order: `None` for an absent key.
    pub gets: Vec<Option<Entry>>,
}

/// Commits `txn` under its retry policy.
pub(crate) async fn commit(pool: &Pool, txn: &Txn) -> Result<TxnResult> {
    txn.check()?;
    pool.run(txn.op(), pool.cfg.deadline, |m| {
        let mut kv = m.kv.clone();
        let req = txn.etcd();
        async move {
            let resp = kv.txn(req).await?;
            let gets = (resp.op_responses().into_iter())
                .filter_map(|r| match r {
                    TxnOpResponse::Get(g) => Some(g.kvs().first().map(Entry::of)),
                    _ => None,
                })
                .collect();
            Ok(TxnResult {
                succeeded: resp.succeeded(),
                revision: resp.header().map_or(0, |h| h.revision()),
                gets,
            })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn comparisons_are_spelled_as_in_c_and_python() {
        let all = ["==", "!=", ">", "<"].map(|s| Cmp::parse(s).unwrap());
        assert_eq!(all, [Cmp::Equal, Cmp::NotEqual, Cmp::Greater, Cmp::Less]);
        assert_eq!(Cmp::parse("="), None);
        assert_eq!(Cmp::parse(""), None);
    }

    #[test]
    fn a_transaction_etcd_would_refuse_is_an_invalid_argument() {
        let twice = Txn::new().then([Operation::put("k", "a"), Operation::delete("k")]);
        assert_eq!(
            twice.check().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let empty = Txn::new().when([Condition::version("", Cmp::Equal, 0)]);
        assert_eq!(
            empty.check().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let fine = Txn::new()
            .then([Operation::put("k", "a"), Operation::get("k")])
            .otherwise([Operation::delete("k")]);
        assert!(
            fine.check().is_ok(),
            "one write of a key per branch is fine"
        );
    }

    #[test]
    fn only_a_transaction_that_writes_is_a_write() {
        let read = Txn::new()
            .then([Operation::get("a")])
            .otherwise([Operation::get("b")]);
        assert_eq!(read.op(), Op::TXN_READ);
        let write = read.otherwise([Operation::delete("b")]);
        assert_eq!(write.op(), Op::TXN);
    }
}

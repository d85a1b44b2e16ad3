//! Keys as such: a read with its revisions, and writes that can be made to land only
//! under a condition: a lock still held (fenced on its token) or a key unchanged since a
//! revision the program read (compare-and-swap).

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use crate::error::{Error, ErrorKind, Result};
use crate::pool::Pool;
use crate::retry::Op;

/// A key as read: its value and revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The whole etcd key.
    pub key: String,
    /// The value, as stored. See [`Entry::value_str`].
    pub value: Vec<u8>,
    /// The revision that created the key (a lock's token, for a lock's key).
    pub create_revision: i64,
    /// The revision of the last write of the key: what `if_revision` compares.
    pub mod_revision: i64,
    /// How many times the key was written since it was created.
    pub version: i64,
    /// The lease the key is bound to, 0 for none.
    pub lease: i64,
}

impl Entry {
    pub(crate) fn of(kv: &etcd_client::KeyValue) -> Entry {
        Entry {
            key: String::from_utf8_lossy(kv.key()).into_owned(),
            value: kv.value().to_vec(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
            version: kv.version(),
            lease: kv.lease(),
        }
    }

    /// The value as text; an error (not a mangled string) when it is not valid UTF-8.
    pub fn value_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidValue,
                format!("key {}: value is not UTF-8 ({e})", self.key),
            )
        })
    }
}

/// A lock's key and token: a write made with it lands only while the lock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lock's key.
    pub key: String,
    /// The lock's token: its key's create revision.
    pub token: i64,
}

/// The conditions of a write: all must hold, or nothing is written and the write fails
/// with `ConditionFailed`.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Only while this lock is held (from `LockGuard::fence`).
    pub if_owner: Option<Fence>,
    /// Only while the key's mod revision is this one (0: only while the key is absent).
    pub if_revision: Option<i64>,
}

impl WriteOptions {
    /// Only while the lock of `fence` is held.
    pub fn if_owner(fence: Fence) -> WriteOptions {
        WriteOptions {
            if_owner: Some(fence),
            ..WriteOptions::default()
        }
    }

    /// Only while the key's mod revision is `revision` (0: while it is absent).
    pub fn if_revision(revision: i64) -> WriteOptions {
        WriteOptions {
            if_revision: Some(revision),
            ..WriteOptions::default()
        }
    }

    fn compares(&self, key: &str) -> Vec<Compare> {
        let mut all = Vec::new();
        if let Some(f) = &self.if_owner {
            all.push(Compare::create_revision(
                f.key.as_str(),
                CompareOp::Equal,
                f.token,
            ));
        }
        if let Some(rev) = self.if_revision {
            all.push(Compare::mod_revision(key, CompareOp::Equal, rev));
        }
        all
    }

    fn failed(&self, key: &str) -> Error {
        let mut why = Vec::new();
        if let Some(f) = &self.if_owner {
            why.push(format!(
                "lock {} with token {} is no longer held",
                f.key, f.token
            ));
        }
        if let Some(rev) = self.if_revision {
            why.push(format!("its mod revision is no longer {rev}"));
        }
        Error::new(
            ErrorKind::ConditionFailed,
            format!("key {key}: not written: {}", why.join(", or ")),
        )
    }

    /// A write that applied twice would differ (its condition fails the second time):
    /// retried only when it cannot have reached a member.
    fn op(&self, plain: Op) -> Op {
        match (&self.if_owner, self.if_revision) {
            (None, None) => plain,
            _ => Op::TXN,
        }
    }
}

fn check_key(key: &str) -> Result<()> {
    match key.is_empty() {
        true => Err(Error::invalid("a key must not be empty".to_string())),
        false => Ok(()),
    }
}

/// Reads `key` (linearizable).
pub(crate) async fn get(pool: &Pool, key: &str) -> Result<Option<Entry>> {
    check_key(key)?;
    pool.run(Op::GET, pool.cfg.deadline, |m| {
        let mut kv = m.kv.clone();
        async move {
            let resp = kv.get(key, None).await?;
            Ok(resp.kvs().first().map(Entry::of))
        }
    })
    .await
}

/// Writes `value` at `key` if `opts`' conditions hold: the revision written.
pub(crate) async fn put(pool: &Pool, key: &str, value: &[u8], opts: &WriteOptions) -> Result<i64> {
    check_key(key)?;
    let txn = || {
        Txn::new()
            .when(opts.compares(key))
            .and_then([TxnOp::put(key, value, None)])
    };
    commit(pool, opts.op(Op::KV_PUT), txn, || opts.failed(key)).await
}

/// Deletes `key` if `opts`' conditions hold: the revision of the delete (of the read
/// when there was no key).
pub(crate) async fn delete(pool: &Pool, key: &str, opts: &WriteOptions) -> Result<i64> {
    check_key(key)?;
    let txn = || {
        Txn::new()
            .when(opts.compares(key))
            .and_then([TxnOp::delete(key, None)])
    };
    commit(pool, opts.op(Op::KV_DELETE), txn, || opts.failed(key)).await
}

/// Commits the transaction `txn` makes (again for each try) under `op`'s retry policy:
/// the revision when its condition held, `failed()` when it did not.
pub(crate) async fn commit(
    pool: &Pool,
    op: Op,
    txn: impl Fn() -> Txn,
    failed: impl FnOnce() -> Error,
) -> Result<i64> {
    let (succeeded, revision) = pool
        .run(op, pool.cfg.deadline, |m| {
            let mut kv = m.kv.clone();
            let txn = txn();
            async move {
                let resp = kv.txn(txn).await?;
                Ok((resp.succeeded(), resp.header().map_or(0, |h| h.revision())))
            }
        })
        .await?;
    match succeeded {
        true => Ok(revision),
        false => Err(failed()),
    }
}

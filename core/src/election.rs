//! Leader election: etcd's Go `concurrency.Election` recipe on the client side, with its
//! keys, so `etcdctl elect` and Go programs see a turtle leader and turtle sees theirs.
//!
//! A candidate is a lock's waiter whose key holds its value: the leader is the key of
//! lowest create revision under `<name>/`, and is granted as a lock is (see `lock.rs`).
//! Observers keep the keys under the prefix from one watch and deliver the leader each
//! time it (or its value) changes, or `None` when there is none.

use std::collections::BTreeMap;
use std::sync::Arc;

use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp};
use parking_lot::Mutex;

use crate::change::Leader;
use crate::delivery::{Delivery, KeyValue, Sink};
use crate::error::{Error, ErrorKind, Result};
use crate::lock::LockGuard;
use crate::pool::Pool;
use crate::retry::Op;

/// A won election: held like a lock (see [`LockGuard`]) until resigned or lost.
pub struct Leadership {
    guard: LockGuard,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("key", &self.guard.key())
            .field("token", &self.guard.token())
            .finish()
    }
}

impl Leadership {
    pub(crate) fn new(guard: LockGuard) -> Leadership {
        Leadership { guard }
    }

    /// The election's name.
    pub fn name(&self) -> &str {
        self.guard.name()
    }

    /// The leader's key: `<name>/<lease id in hex>`.
    pub fn key(&self) -> &str {
        self.guard.key()
    }

    /// The fencing token: the create revision of the key.
    pub fn token(&self) -> i64 {
        self.guard.token()
    }

    /// The lease the leadership stands on.
    pub fn lease(&self) -> i64 {
        self.guard.lease()
    }

    /// Whether this is surely still the leader (no I/O); false for good once in doubt.
    pub fn is_valid(&self) -> bool {
        self.guard.is_valid()
    }

    /// Waits until this is no longer surely the leader.
    pub async fn lost(&self) {
        self.guard.lost().await
    }

    /// The key and token, for writes that land only while this is the leader.
    pub fn fence(&self) -> crate::kv::Fence {
        self.guard.fence()
    }

    /// What a proclaim of this leadership needs.
    pub(crate) fn claim(&self) -> Claim {
        Claim {
            name: self.name().to_string(),
            key: self.key().to_string(),
            token: self.token(),
            lease: self.lease(),
        }
    }

    /// Steps down: deletes the key if it is still this leadership's, revokes the lease.
    /// Idempotent.
    pub fn resign(&self) {
        self.guard.unlock()
    }

    /// [`Leadership::resign`] for async code.
    pub async fn resign_async(&self) {
        self.guard.unlock_async().await
    }
}

/// What a proclaim needs of a leadership: owned, so a blocking call can carry it.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    name: String,
    key: String,
    token: i64,
    lease: i64,
}

/// Writes a new value to the leader's key, only while it is still this leadership's key
/// (its create revision is the token), on its lease: the revision of the write.
pub(crate) async fn proclaim(pool: &Pool, c: &Claim, value: &[u8]) -> Result<i64> {
    let txn = || {
        Txn::new()
            .when([Compare::create_revision(
                c.key.as_str(),
                CompareOp::Equal,
                c.token,
            )])
            .and_then([TxnOp::put(
                c.key.as_str(),
                value,
                Some(PutOptions::new().with_lease(c.lease)),
            )])
    };
    let failed = || {
        let (name, key) = (&c.name, &c.key);
        Error::new(
            ErrorKind::ConditionFailed,
            format!("election {name}: {key} is no longer the leader"),
        )
    };
    crate::kv::commit(pool, Op::PROCLAIM, txn, failed).await
}

/// The leader of election `name` now (linearizable), `None` when there is none.
pub(crate) async fn leader(pool: &Pool, name: &str) -> Result<Option<Leader>> {
    crate::keys::check_lock_name(name)?;
    let prefix = format!("{name}/");
    pool.run(Op::LEADER, pool.cfg.deadline, |m| {
        let mut kv = m.kv.clone();
        let opts = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend)
            .with_limit(1);
        let prefix = prefix.clone();
        async move {
            let resp = kv.get(prefix, Some(opts)).await?;
            Ok(resp.kvs().first().map(|kv| Leader {
                key: String::from_utf8_lossy(kv.key()).into_owned(),
                value: kv.value().to_vec(),
                revision: kv.create_revision(),
            }))
        }
    })
    .await
}

/// Turns a prefix watch of `<name>/` into the leader each time it changes: keeps the
/// candidates' keys with their create revisions and values.
pub(crate) struct LeaderSink {
    state: Mutex<Candidates>,
    out: Arc<dyn Sink>,
}

#[derive(Default)]
struct Candidates {
    /// Key → (create revision, value).
    keys: BTreeMap<Vec<u8>, (i64, Vec<u8>)>,
    /// The leader last delivered (`Some(None)`: none), to deliver only changes.
    last: Option<Option<Leader>>,
}

impl Candidates {
    fn apply(&mut self, kvs: &[KeyValue]) {
        for kv in kvs {
            match &kv.value {
                Some(v) => {
                    let created = self.keys.get(&kv.key).map_or(kv.created, |(c, _)| *c);
                    self.keys.insert(kv.key.clone(), (created, v.clone()));
                }
                None => {
                    self.keys.remove(&kv.key);
                }
            }
        }
    }

    /// The leader, if it differs from the last one delivered.
    fn changed(&mut self) -> Option<Option<Leader>> {
        let now = (self.keys.iter())
            .min_by_key(|(_, (created, _))| *created)
            .map(|(key, (created, value))| Leader {
                key: String::from_utf8_lossy(key).into_owned(),
                value: value.clone(),
                revision: *created,
            });
        if self.last.as_ref() == Some(&now) {
            return None;
        }
        self.last = Some(now.clone());
        Some(now)
    }
}

impl LeaderSink {
    pub(crate) fn new(out: Arc<dyn Sink>) -> LeaderSink {
        LeaderSink {
            state: Mutex::default(),
            out,
        }
    }
}

impl Sink for LeaderSink {
    fn deliver(&self, d: Delivery) {
        let changed = match d {
            Delivery::Snapshot(kvs, _, _) => {
                let mut s = self.state.lock();
                s.keys.clear();
                s.apply(&kvs);
                s.changed()
            }
            Delivery::Events(events) => {
                let mut s = self.state.lock();
                s.apply(&events);
                s.changed()
            }
            other => return self.out.deliver(other),
        };
        if let Some(leader) = changed {
            self.out.deliver(Delivery::Leader(leader));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str, revision: i64, created: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(value.into()),
            revision,
            created,
        }
    }

    fn gone(key: &str, revision: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: None,
            revision,
            created: 0,
        }
    }

    #[test]
    fn the_leader_is_the_oldest_candidate_and_only_changes_are_told() {
        let mut c = Candidates::default();
        c.apply(&[put("e/b", "B", 5, 5), put("e/a", "A", 4, 4)]);
        assert_eq!(c.changed().unwrap().unwrap().value, b"A");
        assert_eq!(c.changed(), None, "the same leader again is no change");
        c.apply(&[put("e/a", "A2", 7, 4)]); // proclaimed: same key, new value
        let l = c.changed().unwrap().unwrap();
        assert_eq!((l.value.as_slice(), l.revision), (&b"A2"[..], 4));
        c.apply(&[gone("e/a", 8)]);
        assert_eq!(c.changed().unwrap().unwrap().key, "e/b");
        c.apply(&[gone("e/b", 9)]);
        assert_eq!(c.changed(), Some(None), "no leader");
    }
}

//! What flows from the I/O side to a watch's consumer: deliveries, and the sinks that
//! take them.

use crate::change::{Change, ChangeKind};
use crate::error::Error;
use crate::instance::{InstanceSet, Instances, RegistrationState};

/// One key as a prefix watch sees it: its value (`None` once deleted) and the revision
/// it was last written (or deleted) at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyValue {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) revision: i64,
    /// The revision that created the key (0 once deleted): who leads an election.
    pub(crate) created: i64,
}

/// What a watch's consumer receives: a change, or an error that it should know of
/// (the watch itself goes on retrying).
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    Change(Change),
    Error(Error),
    /// A prefix watch's events from one etcd response, in order: the changes of one
    /// transaction come together.
    Events(Vec<KeyValue>),
    /// A prefix watch's whole range as read at a revision: its start, or a reset.
    Snapshot(Vec<KeyValue>, i64, ChangeKind),
    /// A full list of a service's instances (what an instances adapter makes of the two
    /// above).
    Instances(Instances),
    /// A registration's state changed.
    Registration(RegistrationState),
    /// An election's leader changed (`None`: there is none).
    Leader(Option<crate::change::Leader>),
}

impl Delivery {
    /// A read delivered as a watch's start (`Initial`) or a reset: a range as a snapshot,
    /// one key as a change of `service` (its value, or none when absent).
    pub(crate) fn of_read(
        service: &str,
        range: bool,
        kvs: Vec<KeyValue>,
        revision: i64,
        kind: ChangeKind,
    ) -> Delivery {
        if range {
            return Delivery::Snapshot(kvs, revision, kind);
        }
        let kv = kvs.into_iter().next();
        Delivery::Change(Change {
            service: service.to_string(),
            revision: kv.as_ref().map_or(revision, |kv| kv.revision),
            value: kv.and_then(|kv| kv.value),
            kind,
            skipped: 0,
        })
    }
}

/// Applies keys read or changed to an instance set, in order.
pub(crate) fn apply_all<'s>(set: &'s mut InstanceSet, kvs: &[KeyValue]) -> &'s mut InstanceSet {
    for kv in kvs {
        set.apply(&kv.key, kv.value.as_deref(), kv.revision);
    }
    set
}

/// Where a watch's deliveries go: a dispatcher slot (blocking finder) or an async stream.
/// `deliver` is called on the runtime thread and must not block.
pub(crate) trait Sink: Send + Sync {
    fn deliver(&self, d: Delivery);
}

/// Makes full instance lists of a prefix watch's snapshots and events, for `out`.
/// `deliver` runs on the runtime thread only, so its lock is never contended.
pub(crate) struct InstancesSink {
    set: parking_lot::Mutex<InstanceSet>,
    out: std::sync::Arc<dyn Sink>,
}

impl InstancesSink {
    /// An adapter for the instances of `service`, whose keys start with `prefix_len`
    /// bytes of `<prefix><service>/`.
    pub(crate) fn new(service: &str, prefix_len: usize, out: std::sync::Arc<dyn Sink>) -> Self {
        InstancesSink {
            set: parking_lot::Mutex::new(InstanceSet::new(service, prefix_len)),
            out,
        }
    }
}

impl Sink for InstancesSink {
    fn deliver(&self, d: Delivery) {
        let list = match d {
            Delivery::Snapshot(kvs, revision, kind) => {
                let mut set = self.set.lock();
                set.clear();
                apply_all(&mut set, &kvs).list(revision, kind)
            }
            Delivery::Events(events) => {
                let mut set = self.set.lock();
                apply_all(&mut set, &events);
                let last = events.last().expect("a response with events");
                let kind = if last.value.is_some() {
                    ChangeKind::Put
                } else {
                    ChangeKind::Delete
                };
                set.list(last.revision, kind)
            }
            other => return self.out.deliver(other),
        };
        self.out.deliver(Delivery::Instances(list));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::entry_value;

    /// Keeps what it is given.
    #[derive(Default)]
    struct Kept(parking_lot::Mutex<Vec<Delivery>>);
    impl Sink for Kept {
        fn deliver(&self, d: Delivery) {
            self.0.lock().push(d);
        }
    }

    fn put(key: &str, addr: &str, revision: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(entry_value(addr, &serde_json::Value::Null)),
            revision,
            created: revision,
        }
    }

    #[test]
    fn a_read_is_a_change_of_its_key_or_a_snapshot_of_its_range() {
        let kvs = vec![put("/s/cdd", "h:1", 3)];
        match Delivery::of_read("cdd", false, kvs.clone(), 9, ChangeKind::Reset) {
            Delivery::Change(c) => {
                assert_eq!(
                    (c.service.as_str(), c.revision, c.kind),
                    ("cdd", 3, ChangeKind::Reset)
                );
                assert!(c.value.is_some());
            }
            other => panic!("{other:?}"),
        }
        // An absent key: no value, at the read's revision.
        match Delivery::of_read("cdd", false, vec![], 9, ChangeKind::Initial) {
            Delivery::Change(c) => assert_eq!((c.value, c.revision), (None, 9)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Delivery::of_read("cdd", true, kvs, 9, ChangeKind::Initial),
            Delivery::Snapshot(k, 9, ChangeKind::Initial) if k.len() == 1
        ));
    }

    #[test]
    fn an_instances_sink_turns_snapshots_and_events_into_full_lists() {
        let out = std::sync::Arc::new(Kept::default());
        let sink = InstancesSink::new("cdd", "/s/cdd/".len(), out.clone());
        let snapshot = vec![put("/s/cdd/a", "h:1", 2), put("/s/cdd/b", "h:2", 3)];
        sink.deliver(Delivery::Snapshot(snapshot, 5, ChangeKind::Initial));
        let gone = KeyValue {
            key: "/s/cdd/a".into(),
            value: None,
            revision: 6,
            created: 0,
        };
        sink.deliver(Delivery::Events(vec![put("/s/cdd/c", "h:3", 6), gone]));
        sink.deliver(Delivery::Error(Error::closed()));
        let got = out.0.lock();
        let lists: Vec<(Vec<&str>, i64, ChangeKind)> = (got.iter())
            .filter_map(|d| match d {
                Delivery::Instances(l) => Some((
                    l.instances.iter().map(|i| i.addr.as_str()).collect(),
                    l.revision,
                    l.kind,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            lists,
            [
                (vec!["h:1", "h:2"], 5, ChangeKind::Initial),
                (vec!["h:2", "h:3"], 6, ChangeKind::Delete),
            ]
        );
        assert!(
            matches!(got.last(), Some(Delivery::Error(_))),
            "others pass through"
        );
    }
}

//! The watch-backed cache: services and instance lists kept in memory by watches of
//! their own, so a lookup is a local read.
//!
//! Readers never take a lock: the maps and the values are swapped whole (`arc-swap`),
//! written only on the runtime thread as the watches deliver.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;

use crate::change::ChangeKind;
use crate::delivery::{Delivery, Sink};
use crate::instance::Instances;
use crate::keys::Target;

/// A cached service value: its bytes (`None` when absent) and revision.
struct Value {
    value: Option<Vec<u8>>,
}

/// One cached name: empty until its watch delivered the first read.
pub(crate) struct Cached<T> {
    current: ArcSwapOption<T>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached {
            current: ArcSwapOption::empty(),
        }
    }
}

impl Sink for Cached<Value> {
    fn deliver(&self, d: Delivery) {
        if let Delivery::Change(c) = d {
            self.current.store(Some(Arc::new(Value { value: c.value })));
        }
    }
}

impl Sink for Cached<Instances> {
    fn deliver(&self, d: Delivery) {
        if let Delivery::Instances(list) = d {
            self.current.store(Some(Arc::new(list)));
        }
    }
}

/// Names in the cache, by kind.
type Names<T> = ArcSwap<HashMap<String, Arc<Cached<T>>>>;

/// The cache of one client.
#[derive(Default)]
pub(crate) struct Cache {
    services: Names<Value>,
    instances: Names<Instances>,
    /// Serializes additions (each copies a map); lookups never take it.
    adding: Mutex<()>,
}

/// Adds `name` to `names` unless there; the new entry when added (its watch is to start).
fn add<T>(names: &Names<T>, lock: &Mutex<()>, name: &str) -> Option<Arc<Cached<T>>> {
    let _adding = lock.lock();
    if names.load().contains_key(name) {
        return None;
    }
    let entry = Arc::new(Cached::default());
    let mut next = HashMap::clone(&names.load());
    next.insert(name.to_string(), entry.clone());
    names.store(Arc::new(next));
    Some(entry)
}

impl Cache {
    /// The cached value of service `name`: `None` when not cached (yet); `Some(None)`
    /// when cached as absent.
    pub(crate) fn service(&self, name: &str) -> Option<Option<Vec<u8>>> {
        let names = self.services.load();
        let current = names.get(name)?.current.load();
        current.as_ref().map(|v| v.value.clone())
    }

    /// The cached instances of service `name`, when cached.
    pub(crate) fn instances(&self, name: &str) -> Option<Instances> {
        let names = self.instances.load();
        let current = names.get(name)?.current.load();
        current.as_ref().map(|list| Instances {
            kind: ChangeKind::Initial,
            ..Instances::clone(list)
        })
    }

    /// The sink of a new entry for `name`, whose watch the caller is to start: every name
    /// looked up once is kept from then on (a watch each, for the client's life). `None`
    /// when `name` is cached, or being filled, already.
    pub(crate) fn to_fill(&self, name: &str, target: Target) -> Option<Arc<dyn Sink>> {
        match target {
            Target::Service => add(&self.services, &self.adding, name).map(|e| e as Arc<dyn Sink>),
            Target::Instances => {
                add(&self.instances, &self.adding, name).map(|e| e as Arc<dyn Sink>)
            }
        }
    }

    /// Forgets a name whose watch could not start, so a later lookup tries again.
    pub(crate) fn forget(&self, name: &str, target: Target) {
        let _adding = self.adding.lock();
        match target {
            Target::Service => remove(&self.services, name),
            Target::Instances => remove(&self.instances, name),
        }
    }
}

/// Removes `name` from `names` (the caller holds the adding lock).
fn remove<T>(names: &Names<T>, name: &str) {
    let mut next = HashMap::clone(&names.load());
    next.remove(name);
    names.store(Arc::new(next));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;

    fn change(value: Option<&str>) -> Delivery {
        Delivery::Change(Change {
            service: "cdd".into(),
            value: value.map(|v| v.as_bytes().to_vec()),
            revision: 1,
            kind: ChangeKind::Put,
            skipped: 0,
        })
    }

    #[test]
    fn a_name_is_filled_once_answered_from_its_watch_and_forgotten_on_failure() {
        let cache = Cache::default();
        assert_eq!(cache.service("cdd"), None, "not cached");
        let sink = cache.to_fill("cdd", Target::Service).expect("a new entry");
        assert!(
            cache.to_fill("cdd", Target::Service).is_none(),
            "filled once"
        );
        assert_eq!(cache.service("cdd"), None, "empty until the watch delivers");
        sink.deliver(change(Some("h:1")));
        assert_eq!(cache.service("cdd"), Some(Some(b"h:1".to_vec())));
        sink.deliver(change(None));
        assert_eq!(cache.service("cdd"), Some(None), "cached as absent");
        // Services and instances are kept apart; a failed watch is forgotten.
        assert!(cache.to_fill("cdd", Target::Instances).is_some());
        cache.forget("cdd", Target::Instances);
        assert!(
            cache.to_fill("cdd", Target::Instances).is_some(),
            "tried again"
        );
        cache.forget("cdd", Target::Service);
        assert_eq!(cache.service("cdd"), None);
    }
}

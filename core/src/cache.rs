//! The watch-backed cache: services and instance lists kept in memory by watches of
//! their own, so a lookup is a local read.
//!
//! A lookup takes a shared lock of its kind's map (never held across I/O) and reads the
//! entry's value, which the watch swaps whole (`arc-swap`) on the runtime thread. Adding a
//! name is one insert. The set is bounded: past `limit` names of a kind, the eighth looked
//! up least recently goes at once (their watches are cancelled by the caller), so eviction
//! costs O(1) per name added, amortized. Written here rather than taken from an LRU crate:
//! evicting must hand back each entry's watch to cancel, and lookups must not take an
//! exclusive lock to bump recency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use parking_lot::RwLock;

use crate::change::ChangeKind;
use crate::delivery::{Delivery, Sink};
use crate::instance::Instances;
use crate::keys::Target;

/// A cached service value: its bytes (`None` when absent).
struct Value {
    value: Option<Vec<u8>>,
}

/// One cached name: empty until its watch delivered the first read.
pub(crate) struct Cached<T> {
    current: ArcSwapOption<T>,
    /// The tick of the cache's clock when it was last looked up.
    used: AtomicU64,
    /// The id of its watch, once started (0 before).
    watch: AtomicI64,
    /// Evicted: a watch that starts after this is cancelled at once.
    evicted: AtomicBool,
}

impl<T> Cached<T> {
    fn new(tick: u64) -> Cached<T> {
        Cached {
            current: ArcSwapOption::empty(),
            used: AtomicU64::new(tick),
            watch: AtomicI64::new(0),
            evicted: AtomicBool::new(false),
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

/// Names in the cache of one kind.
type Names<T> = RwLock<HashMap<String, Arc<Cached<T>>>>;

/// A name added to the cache: its entry (the sink its watch fills) and the watches of the
/// names evicted to make room, which the caller cancels.
pub(crate) struct Added {
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) entry: Arc<dyn Watched>,
    pub(crate) evicted: Vec<i64>,
}

/// The part of an entry that knows its watch.
pub(crate) trait Watched: Send + Sync {
    /// Records the entry's watch; false when the entry was evicted meanwhile (the caller
    /// then cancels the watch).
    fn started(&self, id: i64) -> bool;
}

impl<T: Send + Sync> Watched for Cached<T> {
    fn started(&self, id: i64) -> bool {
        self.watch.store(id, Ordering::SeqCst);
        !self.evicted.load(Ordering::SeqCst)
    }
}

/// The cache of one client.
pub(crate) struct Cache {
    services: Names<Value>,
    instances: Names<Instances>,
    /// Names kept of each kind at most.
    limit: usize,
    /// The clock of lookups: a tick per lookup or addition.
    clock: AtomicU64,
}

impl Cache {
    /// An empty cache keeping at most `limit` names of each kind (at least 1).
    pub(crate) fn new(limit: usize) -> Cache {
        Cache {
            services: RwLock::default(),
            instances: RwLock::default(),
            limit: limit.max(1),
            clock: AtomicU64::new(0),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The cached value of service `name`: `None` when not cached (yet); `Some(None)`
    /// when cached as absent.
    pub(crate) fn service(&self, name: &str) -> Option<Option<Vec<u8>>> {
        let current = self.look_up(&self.services, name)?;
        current.as_ref().map(|v| v.value.clone())
    }

    /// The cached instances of service `name`, when cached.
    pub(crate) fn instances(&self, name: &str) -> Option<Instances> {
        let current = self.look_up(&self.instances, name)?;
        current.as_ref().map(|list| Instances {
            kind: ChangeKind::Initial,
            ..Instances::clone(list)
        })
    }

    /// The current value of `name`'s entry, marking it used.
    fn look_up<T>(&self, names: &Names<T>, name: &str) -> Option<Option<Arc<T>>> {
        let names = names.read();
        let entry = names.get(name)?;
        entry.used.store(self.tick(), Ordering::Relaxed);
        Some(entry.current.load_full())
    }

    /// A new entry for `name`, whose watch the caller is to start, and the watches of
    /// the names evicted to make room. `None` when `name` is cached, or being filled,
    /// already.
    pub(crate) fn to_fill(&self, name: &str, target: Target) -> Option<Added> {
        match target {
            Target::Service => self.add(&self.services, name),
            Target::Instances => self.add(&self.instances, name),
            Target::Election => None, // never cached: observers watch
        }
    }

    fn add<T: Send + Sync + 'static>(&self, names: &Names<T>, name: &str) -> Option<Added>
    where
        Cached<T>: Sink,
    {
        let mut names = names.write();
        if names.contains_key(name) {
            return None;
        }
        let entry = Arc::new(Cached::new(self.tick()));
        names.insert(name.to_string(), entry.clone());
        let evicted = match names.len() > self.limit {
            true => evict(&mut names, (self.limit / 8).max(1)),
            false => Vec::new(),
        };
        Some(Added {
            sink: entry.clone(),
            entry,
            evicted,
        })
    }

    /// Forgets a name whose watch could not start, so a later lookup tries again.
    pub(crate) fn forget(&self, name: &str, target: Target) {
        match target {
            Target::Service => drop(self.services.write().remove(name)),
            Target::Instances => drop(self.instances.write().remove(name)),
            Target::Election => {}
        }
    }

    /// How many names of each kind are cached: services, instance lists.
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.services.read().len(), self.instances.read().len())
    }
}

/// Removes the `n` entries looked up least recently; the ids of their started watches.
fn evict<T>(names: &mut HashMap<String, Arc<Cached<T>>>, n: usize) -> Vec<i64> {
    let mut ticks: Vec<u64> = names
        .values()
        .map(|e| e.used.load(Ordering::Relaxed))
        .collect();
    let n = n.min(ticks.len());
    let (_, cut, _) = ticks.select_nth_unstable(n - 1);
    let cut = *cut;
    let mut watches = Vec::new();
    let mut left = n;
    names.retain(|_, e| {
        if left == 0 || e.used.load(Ordering::Relaxed) > cut {
            return true;
        }
        left -= 1;
        e.evicted.store(true, Ordering::SeqCst);
        let id = e.watch.load(Ordering::SeqCst);
        if id != 0 {
            watches.push(id);
        }
        false
    });
    watches
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
        let cache = Cache::new(100);
        assert_eq!(cache.service("cdd"), None, "not cached");
        let sink = cache
            .to_fill("cdd", Target::Service)
            .expect("a new entry")
            .sink;
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

    #[test]
    fn past_the_limit_the_names_looked_up_least_recently_go_with_their_watches() {
        let cache = Cache::new(16);
        let mut started = Vec::new();
        for i in 0..16 {
            let added = cache.to_fill(&format!("s{i}"), Target::Service).unwrap();
            assert!(added.evicted.is_empty());
            assert!(added.entry.started(100 + i));
            added.sink.deliver(change(Some("v")));
            started.push(added);
        }
        // s0 and s1 are looked up now: s2 and s3 are the least recent.
        assert!(cache.service("s0").is_some() && cache.service("s1").is_some());
        let added = cache.to_fill("s16", Target::Service).unwrap();
        assert_eq!(added.evicted.len(), 2, "an eighth of the limit at once");
        let mut gone = added.evicted.clone();
        gone.sort_unstable();
        assert_eq!(gone, vec![102, 103]);
        assert_eq!(cache.len(), (15, 0));
        assert_eq!(cache.service("s2"), None);
        assert!(cache.service("s0").is_some());
        // An entry evicted before its watch started says so: the caller cancels it.
        let late = cache.to_fill("late", Target::Service).unwrap();
        for i in 0..20 {
            cache.to_fill(&format!("t{i}"), Target::Service);
        }
        assert!(!late.entry.started(999), "evicted before its watch started");
        assert_eq!(cache.len().0, 16);
    }
}

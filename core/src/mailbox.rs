//! The bounded queue between a watch and its consumer.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::delivery::Delivery;
use crate::metrics::Metrics;

/// Holds a watch's undelivered changes. Bounded: when full, the oldest entry is dropped
/// (counted in the next change's `skipped`), so order is kept and the newest state is
/// always delivered.
pub(crate) struct Mailbox {
    state: Mutex<State>,
    cap: usize,
    /// Counts what is queued, taken and dropped.
    metrics: Arc<Metrics>,
}

struct State {
    items: VecDeque<Delivery>,
    skipped: u64,
    /// A consumer has been told there is work and has not yet seen the queue empty.
    scheduled: bool,
    closed: bool,
}

impl Mailbox {
    pub(crate) fn new(cap: usize, metrics: Arc<Metrics>) -> Mailbox {
        Mailbox {
            state: Mutex::new(State {
                items: VecDeque::new(),
                skipped: 0,
                scheduled: false,
                closed: false,
            }),
            cap: cap.max(1),
            metrics,
        }
    }

    /// Queues `d`; true when the consumer was idle and must be woken.
    pub(crate) fn push(&self, d: Delivery) -> bool {
        let mut s = self.state.lock();
        if s.closed {
            return false;
        }
        if s.items.len() >= self.cap {
            if let Some(Delivery::Change(old)) = s.items.pop_front() {
                s.skipped += 1 + old.skipped;
                self.metrics.skipped();
            }
        } else {
            self.metrics.queued(1);
        }
        s.items.push_back(d);
        !std::mem::replace(&mut s.scheduled, true)
    }

    /// The oldest entry; `None` marks the consumer idle until the next push wakes it.
    pub(crate) fn pop(&self) -> Option<Delivery> {
        let mut s = self.state.lock();
        let d = s.items.pop_front();
        if d.is_some() {
            self.metrics.queued(-1);
        }
        match d {
            Some(Delivery::Change(mut c)) => {
                c.skipped += std::mem::take(&mut s.skipped);
                self.metrics.delivered();
                Some(Delivery::Change(c))
            }
            Some(d @ (Delivery::Events(_) | Delivery::Snapshot(..) | Delivery::Instances(_))) => {
                self.metrics.delivered();
                Some(d)
            }
            Some(other) => Some(other),
            None => {
                s.scheduled = false;
                None
            }
        }
    }

    /// Drops what is queued and refuses what comes.
    pub(crate) fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        self.metrics.queued(-(s.items.len() as i64));
        s.items.clear();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.metrics
            .queued(-(self.state.get_mut().items.len() as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Change, ChangeKind};

    fn put(rev: i64) -> Delivery {
        Delivery::Change(Change {
            service: "s".into(),
            value: Some(rev.to_string().into_bytes()),
            revision: rev,
            kind: ChangeKind::Put,
            skipped: 0,
        })
    }

    fn rev(d: Option<Delivery>) -> (i64, u64) {
        match d {
            Some(Delivery::Change(c)) => (c.revision, c.skipped),
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn overflow_keeps_order_and_newest() {
        let m = Mailbox::new(3, Arc::new(Metrics::new(false).unwrap()));
        assert!(m.push(put(1)), "first push wakes the consumer");
        for r in 2..=10 {
            assert!(!m.push(put(r)), "later pushes do not");
        }
        assert_eq!(rev(m.pop()), (8, 7));
        assert_eq!(rev(m.pop()), (9, 0));
        assert_eq!(rev(m.pop()), (10, 0));
        assert!(m.pop().is_none());
        assert!(m.push(put(11)), "an emptied mailbox wakes again");
    }

    #[test]
    fn closed_refuses() {
        let m = Mailbox::new(2, Arc::new(Metrics::new(false).unwrap()));
        m.push(put(1));
        m.close();
        assert!(m.pop().is_none());
        assert!(!m.push(put(2)));
        assert!(m.is_closed());
    }
}

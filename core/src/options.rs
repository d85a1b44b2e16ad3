//! The per-call options of lookups and watches.

use std::time::Duration;

use crate::config::Consistency;

/// Per-call options of a lookup.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Overrides the finder's deadline for this call.
    pub deadline: Option<Duration>,
    /// Overrides the finder's read consistency for this call.
    pub consistency: Option<Consistency>,
}

impl ReadOptions {
    /// A call with this deadline.
    pub fn deadline(d: Duration) -> ReadOptions {
        ReadOptions {
            deadline: Some(d),
            consistency: None,
        }
    }
}

/// Options of a new watch.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchOptions {
    /// Deliver the current value first (kind [`ChangeKind::Initial`](crate::change::ChangeKind::Initial)); the watch then
    /// continues from exactly that read, so nothing written in between is missed.
    pub initial: bool,
    /// Deadline of the initial read; the finder's default when `None`.
    pub deadline: Option<Duration>,
}

impl WatchOptions {
    /// Options that deliver the current value first.
    pub fn initial() -> WatchOptions {
        WatchOptions {
            initial: true,
            deadline: None,
        }
    }
}

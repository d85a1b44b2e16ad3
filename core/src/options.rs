//! The per-call options of lookups, watches and registrations: each operation has one
//! struct with everything a call may set, callbacks and the interrupt check included, so
//! every face has one entry point per operation.
//!
//! Callbacks run on the finder's dispatcher thread (`ServiceFinder`), one at a time; with
//! the async `Client` they run on the runtime's task
//! that has the news, so they must be short and never block. The interrupt check is the
//! blocking face's: the async client's calls end when their future is dropped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::Consistency;
use crate::error::Error;
use crate::instance::RegistrationState;
use crate::settings::REGISTRATION_TTL;

/// Asked every 50 ms while a blocking call waits; `true` gives the call up with
/// [`ErrorKind::Interrupted`](crate::error::ErrorKind::Interrupted) (Python's Ctrl-C).
pub type Interrupt = Arc<dyn Fn() -> bool + Send + Sync>;
/// Told of trouble a watch or registration keeps retrying through.
pub type OnError = Arc<dyn Fn(&Error) + Send + Sync>;
/// Told of every change of a registration's state.
pub type OnState = Arc<dyn Fn(RegistrationState) + Send + Sync>;

/// Per-call options of a lookup (`get_service_with`, `get_service_bytes`,
/// `instances_with`).
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// Overrides the finder's deadline for this call.
    pub deadline: Option<Duration>,
    /// Overrides the finder's read consistency for this call.
    pub consistency: Option<Consistency>,
    /// The blocking call gives up when this says so.
    pub interrupt: Option<Interrupt>,
}

impl ReadOptions {
    /// A call with this deadline.
    pub fn deadline(d: Duration) -> ReadOptions {
        ReadOptions {
            deadline: Some(d),
            ..ReadOptions::default()
        }
    }

    /// These options, given up when `check` returns true (see [`Interrupt`]).
    pub fn interrupt(mut self, check: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.interrupt = Some(Arc::new(check));
        self
    }
}

/// Options of a new watch (`watch_service_with`, `watch_instances_with`).
#[derive(Clone, Default)]
pub struct WatchOptions {
    /// Deliver the current value first (kind
    /// [`ChangeKind::Initial`](crate::change::ChangeKind::Initial)); the watch then continues
    /// from exactly that read, so nothing written in between is missed.
    pub initial: bool,
    /// Deadline of the initial read; the finder's default when `None`.
    pub deadline: Option<Duration>,
    /// Errors the watch keeps retrying through (the blocking face also keeps the last in
    /// `Watch::last_error`; the async streams also yield them).
    pub on_error: Option<OnError>,
    /// The blocking set-up (the initial read) gives up when this says so.
    pub interrupt: Option<Interrupt>,
}

impl WatchOptions {
    /// Options that deliver the current value first.
    pub fn initial() -> WatchOptions {
        WatchOptions {
            initial: true,
            ..WatchOptions::default()
        }
    }

    /// These options, with `f` told of the errors the watch runs into.
    pub fn on_error(mut self, f: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(f));
        self
    }

    /// These options, the set-up given up when `check` returns true.
    pub fn interrupt(mut self, check: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.interrupt = Some(Arc::new(check));
        self
    }
}

/// Options of a registration (`register`).
#[derive(Clone)]
pub struct RegisterOptions {
    /// The lease's time to live, in whole seconds from 1 s to a year (default 10 s). The
    /// lease is kept alive every third of it; etcd raises a TTL below its own minimum
    /// (2 s with its default election timeout): `Registration::ttl` says what it granted.
    pub ttl: Duration,
    /// JSON stored with the address (`null` when not given).
    pub metadata: Value,
    /// The last segment of the key; the address when `None`, as etcd's Go endpoints
    /// manager does.
    pub instance_id: Option<String>,
    /// Told of every change of the registration's state.
    pub on_state: Option<OnState>,
    /// Told of the trouble its keepalives and writes run into (they keep trying).
    pub on_error: Option<OnError>,
    /// The blocking call (the grant and the first write) gives up when this says so.
    pub interrupt: Option<Interrupt>,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions {
            ttl: REGISTRATION_TTL,
            metadata: Value::Null,
            instance_id: None,
            on_state: None,
            on_error: None,
            interrupt: None,
        }
    }
}

impl RegisterOptions {
    /// These options, with `f` told of every state change.
    pub fn on_state(mut self, f: impl Fn(RegistrationState) + Send + Sync + 'static) -> Self {
        self.on_state = Some(Arc::new(f));
        self
    }

    /// These options, with `f` told of the trouble the registration runs into.
    pub fn on_error(mut self, f: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(f));
        self
    }
}

/// Whether a callback is set, for `Debug`.
fn set<T: ?Sized>(f: &Option<Arc<T>>) -> &'static str {
    match f {
        Some(_) => "set",
        None => "none",
    }
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("deadline", &self.deadline)
            .field("consistency", &self.consistency)
            .field("interrupt", &set(&self.interrupt))
            .finish()
    }
}

impl std::fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchOptions")
            .field("initial", &self.initial)
            .field("deadline", &self.deadline)
            .field("on_error", &set(&self.on_error))
            .field("interrupt", &set(&self.interrupt))
            .finish()
    }
}

impl std::fmt::Debug for RegisterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterOptions")
            .field("ttl", &self.ttl)
            .field("metadata", &self.metadata)
            .field("instance_id", &self.instance_id)
            .field("on_state", &set(&self.on_state))
            .field("on_error", &set(&self.on_error))
            .field("interrupt", &set(&self.interrupt))
            .finish()
    }
}

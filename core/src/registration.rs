//! Ephemeral registration: an instance's key bound to a lease that a task on the runtime
//! keeps alive through the failover pool, granted and written again when it is lost, and
//! revoked at once on close.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde_json::Value;
use tokio::sync::{oneshot, Notify};
use tokio::time::{sleep, sleep_until, Instant};

use crate::config::{check_name, MAX_DURATION};
use crate::delivery::{Delivery, Sink};
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{entry_value, RegistrationState};
use crate::pool::{backoff, Pool};

/// The default time to live of a registration's lease.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Options of a registration (`Client::register`, `ServiceFinder::register`).
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// The lease's time to live, in whole seconds from 1 s to a year (default 10 s). The
    /// lease is kept alive every third of it; etcd raises a TTL below its own minimum
    /// (2 s with its default election timeout): [`Registration::ttl`] says what it granted.
    pub ttl: Duration,
    /// JSON stored with the address (`null` when not given).
    pub metadata: Value,
    /// The last segment of the key; the address when `None`, as etcd's Go endpoints
    /// manager does.
    pub instance_id: Option<String>,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions {
            ttl: DEFAULT_TTL,
            metadata: Value::Null,
            instance_id: None,
        }
    }
}

/// What one registration writes, checked.
pub(crate) struct Spec {
    pub(crate) key: String,
    value: Vec<u8>,
    ttl: i64,
}

/// Checks `name`, `addr` and the options, and makes the key and the value.
pub(crate) fn spec(prefix: &str, name: &str, addr: &str, opts: &RegisterOptions) -> Result<Spec> {
    check_name(name)?;
    let id = opts.instance_id.as_deref().unwrap_or(addr);
    for (what, text) in [("address", addr), ("instance id", id)] {
        if text.is_empty() || text.contains('\0') || text.len() > crate::config::MAX_NAME_BYTES {
            return Err(Error::invalid(format!(
                "{what} {text:?} must be 1 to {} bytes without NUL",
                crate::config::MAX_NAME_BYTES
            )));
        }
    }
    let ttl = opts.ttl;
    if ttl < Duration::from_secs(1) || ttl > MAX_DURATION || ttl.subsec_nanos() != 0 {
        return Err(Error::invalid(format!(
            "ttl must be whole seconds from 1 s to a year, not {ttl:?}"
        )));
    }
    Ok(Spec {
        key: format!("{prefix}{name}/{id}"),
        value: entry_value(addr, &opts.metadata),
        ttl: ttl.as_secs() as i64,
    })
}

/// What the registration's task and its handle share.
struct Shared {
    key: String,
    state: Mutex<RegistrationState>,
    lease: AtomicI64,
    ttl: AtomicI64,
    /// Told of every state change (the blocking finder's dispatcher slot).
    sink: Option<Arc<dyn Sink>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    /// Set when the task ended (after its revoke).
    ended: Mutex<bool>,
    /// How long a blocking close waits for that: a revoke gets the deadline, a
    /// keepalive in flight up to the same again.
    close_limit: Duration,
    ended_cv: Condvar,
    ended_async: Notify,
}

impl Shared {
    fn set_state(&self, state: RegistrationState) {
        let changed = std::mem::replace(&mut *self.state.lock(), state) != state;
        if let (true, Some(sink)) = (changed, &self.sink) {
            sink.deliver(Delivery::Registration(state));
        }
    }

    fn end(&self) {
        self.set_state(RegistrationState::Closed);
        *self.ended.lock() = true;
        self.ended_cv.notify_all();
        self.ended_async.notify_waiters();
    }
}

/// A registered instance: its key stays in etcd, bound to a lease kept alive in the
/// background, until `close` (or drop) revokes it. Cheap to clone; all clones are one
/// registration.
#[derive(Clone)]
pub struct Registration {
    shared: Arc<Shared>,
}

impl Registration {
    /// The key written: `<prefix><name>/<instance id>`.
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// Where the registration stands now.
    pub fn state(&self) -> RegistrationState {
        *self.shared.state.lock()
    }

    /// The id of the lease the key is bound to now (another one after a re-registration).
    pub fn lease_id(&self) -> i64 {
        self.shared.lease.load(Ordering::SeqCst)
    }

    /// The time to live etcd granted (it raises a TTL below its minimum).
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.shared.ttl.load(Ordering::SeqCst).max(0) as u64)
    }

    /// Stops the keepalives and revokes the lease: watchers see the instance go at once.
    /// Blocks until the revoke was answered or gave up (about twice the deadline at
    /// most; the lease then expires after its TTL); idempotent. From async code use
    /// [`Registration::close_async`].
    pub fn close(&self) {
        self.signal_stop();
        let end = std::time::Instant::now() + self.shared.close_limit;
        let mut ended = self.shared.ended.lock();
        while !*ended && !self.shared.ended_cv.wait_until(&mut ended, end).timed_out() {}
    }

    /// [`Registration::close`] for async code.
    pub async fn close_async(&self) {
        loop {
            let notified = self.shared.ended_async.notified();
            self.signal_stop();
            if *self.shared.ended.lock() {
                return;
            }
            notified.await;
        }
    }

    /// Tells the task to revoke and end, without waiting.
    pub(crate) fn signal_stop(&self) {
        if let Some(stop) = self.shared.stop.lock().take() {
            let _ = stop.send(());
        }
    }

    /// Whether the task ended.
    pub(crate) fn is_ended(&self) -> bool {
        *self.shared.ended.lock()
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("key", &self.key())
            .field("state", &self.state())
            .field("lease", &self.lease_id())
            .finish()
    }
}

/// Grants a lease, writes the key under it, and starts the task that keeps it alive.
/// Must run inside the tokio runtime the task will run on.
pub(crate) async fn register(
    pool: Arc<Pool>,
    spec: Spec,
    sink: Option<Arc<dyn Sink>>,
) -> Result<Registration> {
    let lease = write(&pool, &spec).await?;
    let (stop, stopped) = oneshot::channel();
    let shared = Arc::new(Shared {
        key: spec.key.clone(),
        state: Mutex::new(RegistrationState::Registered),
        lease: AtomicI64::new(lease.0),
        ttl: AtomicI64::new(lease.1),
        sink,
        stop: Mutex::new(Some(stop)),
        ended: Mutex::new(false),
        close_limit: pool.cfg.deadline * 2 + Duration::from_secs(1),
        ended_cv: Condvar::new(),
        ended_async: Notify::new(),
    });
    pool.metrics.registrations(1);
    tokio::spawn(keep(pool, spec, shared.clone(), stopped));
    Ok(Registration { shared })
}

/// Grants a lease and writes the key under it: (lease id, granted TTL in seconds).
/// A retried put of the same key, value and lease is harmless; a retried grant leaves at
/// most one unused lease, which expires after the TTL.
async fn write(pool: &Pool, spec: &Spec) -> Result<(i64, i64)> {
    let deadline = pool.cfg.deadline;
    let granted = pool
        .run("register", deadline, |m| {
            let (mut lease, ttl) = (m.lease.clone(), spec.ttl);
            async move { lease.grant(ttl, None).await.map(|r| (r.id(), r.ttl())) }
        })
        .await?;
    pool.run("register", deadline, |m| {
        let mut kv = m.kv.clone();
        let (key, value) = (spec.key.clone(), spec.value.clone());
        let opts = etcd_client::PutOptions::new().with_lease(granted.0);
        async move { kv.put(key, value, Some(opts)).await.map(|_| ()) }
    })
    .await?;
    Ok(granted)
}

/// One keepalive through the pool: true while the lease lives, false once etcd says it
/// is gone.
async fn keep_alive(pool: &Pool, lease: i64, deadline: Duration) -> Result<bool> {
    pool.run("keepalive", deadline, |m| {
        let mut client = m.lease.clone();
        async move {
            match client.keep_alive(lease).await {
                Ok(_) => Ok(true),
                Err(etcd_client::Error::LeaseKeepAliveError(e)) if e.contains("not found") => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// The registration's task: keepalives every third of the TTL until stopped, a new lease
/// and write when the old one is gone, then the revoke.
async fn keep(
    pool: Arc<Pool>,
    spec: Spec,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut confirmed = Instant::now();
    let mut pauses = backoff(pool.cfg.retry_backoff);
    loop {
        let ttl = Duration::from_secs(shared.ttl.load(Ordering::SeqCst).max(1) as u64);
        let every = ttl / 3;
        tokio::select! {
            _ = &mut stopped => break,
            _ = sleep_until(confirmed + every) => {}
        }
        let lease = shared.lease.load(Ordering::SeqCst);
        let step = tokio::select! {
            _ = &mut stopped => break,
            r = keep_alive(&pool, lease, every.max(Duration::from_millis(500))) => r,
        };
        match step {
            Ok(true) => {
                confirmed = Instant::now();
                pauses = backoff(pool.cfg.retry_backoff);
                shared.set_state(RegistrationState::Registered);
            }
            Ok(false) => {
                shared.set_state(RegistrationState::Reregistering);
                let written = tokio::select! {
                    _ = &mut stopped => break,
                    w = write(&pool, &spec) => w,
                };
                match written {
                    Ok((id, ttl)) => {
                        pool.metrics.reregistered();
                        shared.lease.store(id, Ordering::SeqCst);
                        shared.ttl.store(ttl, Ordering::SeqCst);
                        confirmed = Instant::now();
                        shared.set_state(RegistrationState::Registered);
                    }
                    Err(e) => report(&shared, e),
                }
            }
            Err(e) => {
                if confirmed.elapsed() >= ttl {
                    shared.set_state(RegistrationState::Lost);
                }
                report(&shared, e);
                // Try again soon: the next member may answer.
                let pause = pauses.next().unwrap_or(every);
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = sleep(pause) => {}
                }
            }
        }
    }
    revoke(&pool, shared.lease.load(Ordering::SeqCst)).await;
    pool.metrics.registrations(-1);
    shared.end();
}

/// Keepalive trouble goes to the state callback's consumer as an error.
fn report(shared: &Shared, e: Error) {
    if let Some(sink) = &shared.sink {
        let message = format!("registration of {:?}: {e}; retrying", shared.key);
        sink.deliver(Delivery::Error(Error::new(e.kind(), message)));
    }
}

/// Revokes the lease (the key goes with it). A lease already gone is fine; a cluster that
/// does not answer within the deadline lets it expire after its TTL.
async fn revoke(pool: &Pool, lease: i64) {
    let _ = pool
        .run("revoke", pool.cfg.deadline, |m| {
            let mut client = m.lease.clone();
            async move { client.revoke(lease).await.map(|_| ()) }
        })
        .await
        .or_else(|e| match e.kind() {
            ErrorKind::Internal if e.to_string().contains("not found") => Ok(()),
            _ => Err(e),
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked() {
        let ok = spec(
            "/services/",
            "cdd",
            "10.0.0.1:80",
            &RegisterOptions::default(),
        )
        .unwrap();
        assert_eq!(ok.key, "/services/cdd/10.0.0.1:80");
        assert_eq!(ok.ttl, 10);
        let named = RegisterOptions {
            instance_id: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(spec("/s/", "cdd", "h:1", &named).unwrap().key, "/s/cdd/a");
        for (name, addr, ttl) in [
            ("cdd", "", 10_000),
            ("a/b", "h:1", 10_000),
            ("cdd", "h\0", 10_000),
            ("cdd", "h:1", 0),
            ("cdd", "h:1", 1500),
            ("cdd", "h:1", 500),
        ] {
            let opts = RegisterOptions {
                ttl: Duration::from_millis(ttl),
                ..Default::default()
            };
            let e = spec("/s/", name, addr, &opts).err().expect("refused");
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidArgument,
                "{name} {addr} {ttl}: {e}"
            );
        }
    }
}

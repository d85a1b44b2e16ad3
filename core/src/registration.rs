//! Ephemeral registration: an instance's key bound to the lease of a [`Session`], granted
//! and written again when the session is lost, and revoked at once on close.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::PutResponse;
use parking_lot::{Condvar, Mutex};
use tokio::sync::{oneshot, Notify};

use crate::config::MAX_DURATION;
use crate::delivery::{Delivery, Sink};
use crate::error::{Error, Result};
use crate::failure::lease_not_found;
use crate::instance::{entry_value, RegistrationState};
use crate::keys::{check_name, MAX_NAME_BYTES};
use crate::member::Member;
use crate::options::RegisterOptions;
use crate::pool::{backoff, Pool};
use crate::retry::Op;
use crate::session::{Session, Trouble};

/// The default time to live of a registration's lease.
pub const DEFAULT_TTL: Duration = crate::settings::REGISTRATION_TTL;

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
        if text.is_empty() || text.contains('\0') || text.len() > MAX_NAME_BYTES {
            return Err(Error::invalid(format!(
                "{what} {text:?} must be 1 to {} bytes without NUL",
                MAX_NAME_BYTES
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
    /// The process that made it (its task runs there, not in a child after fork()).
    pid: u32,
    /// The revision of the last write of the key.
    written: AtomicI64,
    /// Told when the key was seen deleted (by someone else, or with a lease that ended).
    key_gone: Notify,
    /// Run once when the task ends: ends the watch of the own key.
    on_end: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Shared {
    fn set_state(&self, state: RegistrationState) {
        let changed = std::mem::replace(&mut *self.state.lock(), state) != state;
        if let (true, Some(sink)) = (changed, &self.sink) {
            sink.deliver(Delivery::Registration(state));
        }
    }

    /// Books a write of the key: the watch of the own key starts after it.
    fn wrote(&self, put: &PutResponse) {
        let revision = put.header().map_or(0, |h| h.revision());
        self.written.store(revision, Ordering::SeqCst);
    }

    fn end(&self) {
        self.set_state(RegistrationState::Closed);
        let on_end = {
            let mut slot = self.on_end.lock();
            *self.ended.lock() = true;
            slot.take()
        };
        self.ended_cv.notify_all();
        self.ended_async.notify_waiters();
        if let Some(f) = on_end {
            f();
        }
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
        if self.forked() {
            return; // see Registration::forked
        }
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

    /// True in a child process after fork(): the registration and its keepalives belong to
    /// the parent, and closing it here returns at once, changing nothing.
    pub fn forked(&self) -> bool {
        std::process::id() != self.shared.pid
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

    /// The revision of the key's last write by this registration.
    pub(crate) fn written(&self) -> i64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// The sink of the watch of the own key: a deletion (by `etcdctl del`, or by the end
    /// of another registration's lease that had taken the key over) has the task write
    /// the key back under its lease.
    pub(crate) fn key_watcher(&self) -> Arc<dyn Sink> {
        Arc::new(KeyWatcher(Arc::downgrade(&self.shared)))
    }

    /// Runs `f` when the registration ends (at once if it has).
    pub(crate) fn on_end(&self, f: impl FnOnce() + Send + 'static) {
        let mut slot = self.shared.on_end.lock();
        if *self.shared.ended.lock() {
            drop(slot);
            return f();
        }
        *slot = Some(Box::new(f));
    }
}

/// Watches the registration's own key.
struct KeyWatcher(std::sync::Weak<Shared>);

impl Sink for KeyWatcher {
    fn deliver(&self, d: Delivery) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        if let Delivery::Change(c) = d {
            if c.value.is_none() {
                shared.key_gone.notify_one();
            }
        }
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
    let (stop, stopped) = oneshot::channel();
    let shared = Arc::new(Shared {
        key: spec.key.clone(),
        state: Mutex::new(RegistrationState::Registered),
        lease: AtomicI64::new(0),
        ttl: AtomicI64::new(0),
        sink,
        stop: Mutex::new(Some(stop)),
        ended: Mutex::new(false),
        close_limit: pool.cfg.deadline * 2 + Duration::from_secs(1),
        ended_cv: Condvar::new(),
        ended_async: Notify::new(),
        pid: std::process::id(),
        written: AtomicI64::new(0),
        key_gone: Notify::new(),
        on_end: Mutex::new(None),
    });
    let session = write(&pool, &spec, &shared).await?;
    pool.metrics.registrations(1);
    tokio::spawn(keep(pool, spec, shared.clone(), session, stopped));
    Ok(Registration { shared })
}

/// Grants a session and writes the key under its lease (a put retried with the same key,
/// value and lease is harmless). A put that fails revokes the lease it would have used.
async fn write(pool: &Arc<Pool>, spec: &Spec, shared: &Arc<Shared>) -> Result<Session> {
    let weak = Arc::downgrade(shared);
    let trouble: Trouble = Arc::new(move |e| {
        if let Some(shared) = weak.upgrade() {
            report(&shared, e);
        }
    });
    let session = Session::grant(pool, spec.ttl, trouble).await?;
    let put = pool.run(Op::PUT, pool.cfg.deadline, |m| {
        put_key(&m, spec, session.id())
    });
    match put.await {
        Ok(put) => shared.wrote(&put),
        Err(e) => {
            session.close(pool).await;
            return Err(e);
        }
    }
    shared.lease.store(session.id(), Ordering::SeqCst);
    let ttl = session.ttl().as_secs() as i64;
    shared.ttl.store(ttl, Ordering::SeqCst);
    Ok(session)
}

/// The registration's task: while its session lives, nothing to do; once lost, a new
/// session and write (backing off, jittered, up to about the TTL, while they fail); when
/// stopped, the revoke.
async fn keep(
    pool: Arc<Pool>,
    spec: Spec,
    shared: Arc<Shared>,
    mut session: Session,
    mut stopped: oneshot::Receiver<()>,
) {
    let most = Duration::from_secs(spec.ttl as u64).max(pool.cfg.retry_backoff.0);
    'kept: loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = session.lost() => {}
            _ = shared.key_gone.notified() => {
                put_back(&pool, &spec, &shared, &session).await;
                continue;
            }
        };
        // Gone, or surely not confirmed within its TTL: a new lease and write.
        shared.set_state(RegistrationState::Reregistering);
        let mut pauses = backoff((pool.cfg.retry_backoff.0, most));
        loop {
            let written = tokio::select! {
                _ = &mut stopped => break 'kept,
                w = write(&pool, &spec, &shared) => w,
            };
            match written {
                Ok(next) => {
                    // The key is on the new lease: the old one (gone, or surely not
                    // confirmed) holds nothing now.
                    std::mem::replace(&mut session, next).close(&pool).await;
                    pool.metrics.reregistered();
                    shared.set_state(RegistrationState::Registered);
                    break;
                }
                Err(e) => {
                    shared.set_state(RegistrationState::Lost);
                    report(&shared, e);
                    if pause_or_stop(pauses.next().unwrap_or(most), &mut stopped).await {
                        break 'kept;
                    }
                }
            }
        }
    }
    session.close(&pool).await;
    pool.metrics.registrations(-1);
    shared.end();
}

/// The put of the registration's key and value under `lease`, on member `m`.
fn put_key(
    m: &Member,
    spec: &Spec,
    lease: i64,
) -> impl Future<Output = std::result::Result<PutResponse, etcd_client::Error>> {
    let mut kv = m.kv.clone();
    let (key, value) = (spec.key.clone(), spec.value.clone());
    let opts = etcd_client::PutOptions::new().with_lease(lease);
    async move { kv.put(key, value, Some(opts)).await }
}

/// Writes the key again under the live session's lease after it was seen deleted (not
/// ours to judge who deleted it: the instance still runs). A put that fails is reported;
/// a lease gone (revoked: the deletion was its end) is the session's to find and handle.
async fn put_back(pool: &Pool, spec: &Spec, shared: &Shared, session: &Session) {
    if !session.is_alive() {
        return;
    }
    let put = pool.run(Op::PUT, pool.cfg.deadline, |m| {
        let put = put_key(&m, spec, session.id());
        async move {
            match put.await {
                Ok(put) => Ok(Some(put)),
                Err(e) if lease_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        }
    });
    match put.await {
        Ok(Some(put)) => {
            shared.wrote(&put);
            pool.metrics.reregistered();
        }
        Ok(None) => {}
        Err(e) => report(shared, e),
    }
}

/// Waits `pause`, or until the registration is told to stop; true when stopped.
async fn pause_or_stop(pause: Duration, stopped: &mut oneshot::Receiver<()>) -> bool {
    tokio::select! {
        _ = stopped => true,
        _ = tokio::time::sleep(pause) => false,
    }
}

/// Keepalive trouble goes to the state callback's consumer as an error.
fn report(shared: &Shared, e: Error) {
    if let Some(sink) = &shared.sink {
        let message = format!("registration of {:?}: {e}; retrying", shared.key);
        sink.deliver(Delivery::Error(Error::new(e.kind(), message)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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

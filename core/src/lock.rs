//! Locks: etcd's Go `concurrency.Mutex` recipe on the client side, with its keys, so a
//! turtle lock, `etcdctl lock` and a Go program's lock on one name exclude each other.
//!
//! A waiter puts `<name>/<lease id in hex>` on a lease of its own; the owner is the key of
//! lowest create revision under `<name>/`. A waiter watches only the key just before its
//! own (no thundering herd) and its own key, and is granted only after a linearizable read
//! showed its key there and none before it while its session was surely alive: never on
//! etcd 3.4's Lock RPC, which grants to expired leases (etcd #9921). The token is the
//! key's create revision, increasing across the cluster: a fencing token.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Compare, CompareOp, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse,
};
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch, Notify};

use crate::delivery::{Delivery, Sink};
use crate::done::{Done, Driver};
use crate::error::{Error, ErrorKind, Result};
use crate::hub::{Entry, Hub};
use crate::pool::{Pending, Pool, Tracker};
use crate::retry::Op;
use crate::session::{Loss, Session};

/// How often a waiter or a holder reads its keys again though no watch said anything:
/// a watch on a member that hangs says nothing, and the read goes to another member.
const RECHECK: Duration = Duration::from_secs(1);

/// The longest lease etcd grants (its `MaxLeaseTTL`).
const MAX_TTL: Duration = Duration::from_secs(9_000_000_000);

/// A callback told that a lock was lost (with why, a `SessionLost` error).
pub type OnLost = Arc<dyn Fn(&Error) + Send + Sync>;

/// How a lock is taken.
#[derive(Clone)]
pub struct LockOptions {
    /// The lease's time to live, in whole seconds (at least 1): how long the lock outlives
    /// a holder that stopped answering. 10 s by default.
    pub ttl: Duration,
    /// How long to wait for the lock; `None` waits until it is had (or the session lost).
    pub timeout: Option<Duration>,
    /// Called once if the lock is lost while held (not when it is unlocked): on the
    /// dispatcher thread for `ServiceFinder`, before any later
    /// callback of that finder; on the runtime's task for `Client`.
    pub on_lost: Option<OnLost>,
    /// Checked while a blocking call waits; when it returns true, the call gives up with
    /// `Interrupted` and leaves no waiter key (Python's Ctrl-C).
    pub interrupt: Option<crate::options::Interrupt>,
    /// A lease to take the lock on, shared with other locks (`ttl` is then the
    /// session's): no lease is granted or revoked per lock, and losing the session loses
    /// every lock on it. `None`: a lease of the lock's own.
    pub session: Option<LockSession>,
}

/// A name booked on a shared session, freed when dropped (with its lock, or its failed or
/// abandoned wait).
struct Booking(LockSession, String);

impl Drop for Booking {
    fn drop(&mut self) {
        self.0.names.lock().remove(&self.1);
    }
}

/// A lease kept alive for locks and elections to share, the shape of Go's
/// `concurrency.Session`: a lock on it costs no grant and no revoke. One session holds or
/// waits for a name once at a time (the key is `<name>/<lease>`, the same for both).
/// Closing it (or the finder) revokes the lease, which ends its locks.
#[derive(Clone)]
pub struct LockSession {
    session: Arc<Session>,
    names: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for LockSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockSession({:x})", self.session.id())
    }
}

impl LockSession {
    pub(crate) async fn grant(pool: &Arc<Pool>, ttl: Duration) -> Result<LockSession> {
        let ttl = ttl_seconds(ttl)?;
        Ok(LockSession {
            session: Arc::new(Session::grant(pool, ttl, Arc::new(|_| {})).await?),
            names: Arc::default(),
        })
    }

    /// The lease's id.
    pub fn lease(&self) -> i64 {
        self.session.id()
    }

    /// The TTL etcd granted.
    pub fn ttl(&self) -> Duration {
        self.session.ttl()
    }

    /// Whether the lease is surely alive now (no I/O).
    pub fn is_alive(&self) -> bool {
        self.session.is_alive()
    }

    /// Revokes the lease in the background (a closing finder waits for it): its locks are
    /// lost and their keys go with it.
    pub fn close(&self) {
        self.session.end();
    }

    /// Books `name` for a lock on this session until the booking is dropped; an error
    /// when one holds or waits for it.
    fn book(&self, name: &str) -> Result<Booking> {
        match self.names.lock().insert(name.to_string()) {
            true => Ok(Booking(self.clone(), name.to_string())),
            false => Err(Error::invalid(format!(
                "lock {name}: this session already holds or waits for it (one lease, one key)"
            ))),
        }
    }

    /// What the client keeps of it, to revoke it when the client closes.
    pub(crate) fn holder(&self) -> std::sync::Weak<Session> {
        Arc::downgrade(&self.session)
    }
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            ttl: Duration::from_secs(10),
            timeout: None,
            on_lost: None,
            interrupt: None,
            session: None,
        }
    }
}

impl std::fmt::Debug for LockOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockOptions")
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .field("on_lost", &self.on_lost.is_some())
            .finish()
    }
}

impl LockOptions {
    /// The default TTL, waiting at most `timeout`.
    pub fn timeout(timeout: Duration) -> LockOptions {
        LockOptions {
            timeout: Some(timeout),
            ..LockOptions::default()
        }
    }
}

/// What a lock needs of its client.
pub(crate) struct Parts<'a> {
    pub(crate) pool: &'a Arc<Pool>,
    pub(crate) hub: &'a Hub,
    pub(crate) ids: &'a AtomicI64,
}

/// A held lock. [`LockGuard::unlock`] (or dropping it) lets go; [`LockGuard::is_valid`]
/// says whether it is surely still held, and [`LockGuard::lost`] waits until it is not.
pub struct LockGuard {
    held: Arc<Held>,
}

struct Held {
    name: String,
    key: String,
    token: i64,
    session: Arc<Session>,
    /// Whether the session is the lock's own (revoked with it) or shared (it outlives it).
    owns_session: bool,
    /// The booking of the name on a shared session, freed when the lock ends.
    booking: Mutex<Option<Booking>>,
    /// Sticky: false once the lock is in doubt.
    valid: AtomicBool,
    lost: watch::Sender<bool>,
    /// Told of a loss (not of an unlock); dropped when the keeper task ends.
    on_lost: Mutex<Option<Arc<dyn Sink>>>,
    /// Unlocking: the end that follows is no loss.
    unlocking: AtomicBool,
    /// Asks the keeper task to unlock; the tracker keeps a closing finder waiting for it.
    unlock: Mutex<Option<oneshot::Sender<Tracker>>>,
    pending: Arc<Pending>,
    /// Set once the keeper task ended (after its unlock, if asked).
    ended: Arc<Done>,
    /// How long a blocking unlock waits for the keeper task.
    close_limit: Duration,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("key", &self.held.key)
            .field("token", &self.held.token)
            .finish()
    }
}

impl LockGuard {
    /// The lock's name, as given.
    pub fn name(&self) -> &str {
        &self.held.name
    }

    /// The etcd key that holds the lock: `<name>/<lease id in hex>`.
    pub fn key(&self) -> &str {
        &self.held.key
    }

    /// The fencing token: the create revision of the key. Every later holder's is larger,
    /// so a store that keeps the largest token it saw refuses a holder that lost the lock.
    pub fn token(&self) -> i64 {
        self.held.token
    }

    /// The lock's key and token, for writes that must land only while it is held
    /// (`WriteOptions::if_owner`).
    pub fn fence(&self) -> crate::kv::Fence {
        crate::kv::Fence {
            key: self.held.key.clone(),
            token: self.held.token,
        }
    }

    /// The lease the lock stands on.
    pub fn lease(&self) -> i64 {
        self.held.session.id()
    }

    /// Whether the lock is surely still held (no I/O): false for good once its lease's
    /// time may be up, etcd said the lease is gone, its key was deleted, or it was
    /// unlocked.
    pub fn is_valid(&self) -> bool {
        self.held.check()
    }

    /// Waits until the lock is no longer surely held (at once when it is not).
    pub async fn lost(&self) {
        let mut rx = self.held.lost.subscribe();
        if !self.held.check() {
            return;
        }
        let _ = rx.wait_for(|lost| *lost).await;
    }

    /// Lets go: deletes the key only if it is still the one this guard made (its create
    /// revision is the token), and revokes the lease. Idempotent; waits for etcd's answer
    /// at most the finder's close limit.
    pub fn unlock(&self) {
        self.held.ask_unlock();
        self.held.ended.wait_blocking(self.held.close_limit);
    }

    /// [`LockGuard::unlock`] for async code.
    pub async fn unlock_async(&self) {
        self.held.ask_unlock();
        self.held.ended.wait().await
    }

    /// Has blocking unlocks drive the runtime with `driver` while they wait.
    pub(crate) fn drive_with(&self, driver: Driver) {
        self.held.ended.drive_with(driver);
    }
}

/// What a client keeps of each lock it gave out, to let go of it when it closes.
pub(crate) struct Holder(std::sync::Weak<Held>);

impl Holder {
    /// Asks the lock's task to unlock, if the lock is still there.
    pub(crate) fn let_go(&self) {
        if let Some(held) = self.0.upgrade() {
            held.ask_unlock();
        }
    }

    /// Checks the lock (no I/O): one whose time is up is lost now, and says so.
    pub(crate) fn check(&self) {
        if let Some(held) = self.0.upgrade() {
            held.check();
        }
    }

    /// Whether the lock's task ended.
    pub(crate) fn is_gone(&self) -> bool {
        self.0.strong_count() == 0
    }
}

impl LockGuard {
    /// What the client keeps of this lock.
    pub(crate) fn holder(&self) -> Holder {
        Holder(Arc::downgrade(&self.held))
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Unlocked in the background: nothing else would, and it would last the TTL.
        self.held.ask_unlock();
    }
}

impl Held {
    #[allow(clippy::too_many_arguments)] // the parts of a granted lock, once
    fn new(
        name: &str,
        key: String,
        token: i64,
        session: Arc<Session>,
        booking: Option<Booking>,
        on_lost: Option<Arc<dyn Sink>>,
        unlock: oneshot::Sender<Tracker>,
        pool: &Pool,
    ) -> Held {
        Held {
            name: name.to_string(),
            key,
            token,
            session,
            owns_session: booking.is_none(),
            booking: Mutex::new(booking),
            valid: AtomicBool::new(true),
            lost: watch::channel(false).0,
            on_lost: Mutex::new(on_lost),
            unlocking: AtomicBool::new(false),
            unlock: Mutex::new(Some(unlock)),
            pending: pool.pending.clone(),
            ended: Arc::default(),
            close_limit: pool.cfg.deadline + Duration::from_secs(1),
        }
    }

    fn check(&self) -> bool {
        if self.valid.load(Ordering::Acquire) && self.session.is_alive() {
            return true;
        }
        self.invalidate("its lease's time may be up");
        false
    }

    /// Marks the lock not surely held, for good; the first time, unless it is being
    /// unlocked, tells `on_lost` why.
    fn invalidate(&self, why: &str) {
        self.valid.store(false, Ordering::Release);
        let was_lost = self.lost.send_replace(true);
        if !was_lost && !self.unlocking.load(Ordering::Acquire) {
            if let Some(sink) = self.on_lost.lock().clone() {
                sink.deliver(Delivery::Error(session_lost(&self.key, why)));
            }
        }
    }

    fn ask_unlock(&self) {
        self.unlocking.store(true, Ordering::Release);
        self.valid.store(false, Ordering::Release);
        if let Some(tx) = self.unlock.lock().take() {
            let _ = tx.send(self.pending.track());
        }
    }

    fn end(&self, why: &str) {
        self.invalidate(why);
        self.on_lost.lock().take();
        self.ended.set();
    }
}

/// The TTL in whole seconds etcd takes.
fn ttl_seconds(ttl: Duration) -> Result<i64> {
    if ttl < Duration::from_secs(1) || ttl > MAX_TTL || ttl.subsec_nanos() != 0 {
        return Err(Error::invalid(format!(
            "a lock's ttl must be whole seconds from 1 to {}, not {ttl:?}",
            MAX_TTL.as_secs()
        )));
    }
    Ok(ttl.as_secs() as i64)
}

fn session_lost(key: &str, why: &str) -> Error {
    Error::new(ErrorKind::SessionLost, format!("lock {key}: {why}"))
}

fn loss_reason(loss: Loss) -> &'static str {
    match loss {
        Loss::Gone => "etcd says its lease is gone",
        Loss::Expired => "no keepalive was answered before its lease's time was up",
        Loss::Closed => "its session was closed",
    }
}

/// Takes the lock `name`: waits for it unless `wait` is false (then `None` when another
/// holds it). Every failure, and a refusal, revokes the lease, so no waiter key is left.
pub(crate) async fn lock(
    parts: Parts<'_>,
    name: &str,
    value: &[u8],
    opts: &LockOptions,
    wait: bool,
    on_lost: Option<Arc<dyn Sink>>,
) -> Result<Option<LockGuard>> {
    crate::keys::check_lock_name(name)?;
    let pool = parts.pool;
    let (session, shared) = session_for(pool, name, opts).await?;
    let key = format!("{name}/{:x}", session.id());
    let attempt = acquire(&parts, name, &key, value, &session, wait);
    let outcome = match opts.timeout {
        None => attempt.await,
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::DeadlineExceeded,
                    format!("lock {name}: not had within {limit:?}"),
                ))
            }),
    };
    let token = match outcome {
        Ok(Some(token)) => token,
        other => {
            match &shared {
                // The lease lives on: take the waiter key back (ours: the lease names it).
                Some(_) => delete_key(pool, &key).await,
                None => session.close(pool).await,
            }
            return other.map(|_| None);
        }
    };
    let (unlock_tx, unlock_rx) = oneshot::channel();
    let held = Arc::new(Held::new(
        name, key, token, session, shared, on_lost, unlock_tx, pool,
    ));
    let wake = Arc::new(Wake::default());
    let unwatch = watch_keys(
        &parts,
        name,
        &[held.key.as_bytes().to_vec()],
        token + 1,
        &wake,
    );
    tokio::spawn(keep(pool.clone(), held.clone(), wake, unlock_rx, unwatch));
    Ok(Some(LockGuard { held }))
}

/// The session a lock stands on: the shared one of `opts` (the name booked on it), or a
/// lease of the lock's own.
async fn session_for(
    pool: &Arc<Pool>,
    name: &str,
    opts: &LockOptions,
) -> Result<(Arc<Session>, Option<Booking>)> {
    match &opts.session {
        Some(s) => Ok((s.session.clone(), Some(s.book(name)?))),
        None => {
            let ttl = ttl_seconds(opts.ttl)?;
            let session = Session::grant(pool, ttl, Arc::new(|_| {})).await?;
            Ok((Arc::new(session), None))
        }
    }
}

/// The guard of a lock taken with waiting, which always comes back held.
pub(crate) fn waited(got: Option<LockGuard>) -> Result<LockGuard> {
    got.ok_or_else(|| Error::new(ErrorKind::Internal, "a waited lock came back unheld"))
}

/// Puts the waiter key and waits until it is the owner: the token, or `None` when `wait`
/// is false and another holds the lock.
async fn acquire(
    parts: &Parts<'_>,
    name: &str,
    key: &str,
    value: &[u8],
    session: &Session,
    wait: bool,
) -> Result<Option<i64>> {
    let pool = parts.pool;
    let prefix = format!("{name}/");
    let (my_rev, owner) = put_waiter(pool, key, &prefix, value, session.id()).await?;
    // The transaction that put the key read the owner at its own revision, through the
    // log (Go's recipe): the lock uncontended, that is the confirmation.
    if owner == Some((key.as_bytes().to_vec(), my_rev)) && session.is_alive() {
        return Ok(Some(my_rev));
    }
    loop {
        let turn = read_turn(pool, key, &prefix, my_rev).await?;
        if turn.mine != Some(my_rev) {
            return Err(session_lost(key, "its key was deleted while it waited"));
        }
        if !session.is_alive() {
            return Err(session_lost(key, "its lease's time may be up"));
        }
        let Some(before) = turn.before else {
            return Ok(Some(my_rev));
        };
        if !wait {
            return Ok(None);
        }
        // Woken by any news of the key before ours or of our own, then read again.
        let wake = Arc::new(Wake::default());
        let keys = [before, key.as_bytes().to_vec()];
        let unwatch = watch_keys(parts, name, &keys, turn.revision + 1, &wake);
        let woke = tokio::select! {
            loss = session.lost() => Err(session_lost(key, loss_reason(loss))),
            _ = wake.0.notified() => Ok(()),
            _ = tokio::time::sleep(RECHECK) => Ok(()),
        };
        unwatch();
        woke?;
    }
}

/// What a read of the lock's keys found.
struct Turn {
    /// The create revision of our key, `None` when it is gone.
    mine: Option<i64>,
    /// The key created last before ours, if any: the one to wait for.
    before: Option<Vec<u8>>,
    /// The revision of the read.
    revision: i64,
}

/// Puts the waiter key unless it is there (the same lease makes the same key, so a retry
/// after an answer lost finds the first try's key), and reads the owner (the key of lowest
/// create revision) in the same transaction: the key's create revision, and the owner's
/// key and create revision.
async fn put_waiter(
    pool: &Pool,
    key: &str,
    prefix: &str,
    value: &[u8],
    lease: i64,
) -> Result<(i64, Option<(Vec<u8>, i64)>)> {
    pool.run(Op::LOCK, pool.cfg.deadline, |m| {
        let mut kv = m.kv.clone();
        let owner = || {
            let first = GetOptions::new()
                .with_prefix()
                .with_keys_only()
                .with_sort(SortTarget::Create, SortOrder::Ascend)
                .with_limit(1);
            TxnOp::get(prefix, Some(first))
        };
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([
                TxnOp::put(key, value, Some(PutOptions::new().with_lease(lease))),
                owner(),
            ])
            .or_else([TxnOp::get(key, None), owner()]);
        async move {
            let resp = kv.txn(txn).await?;
            let header_rev = resp.header().map_or(0, |h| h.revision());
            let ops = resp.op_responses();
            let mine = match resp.succeeded() {
                true => header_rev,
                false => first_create_revision(&ops).unwrap_or(0),
            };
            let owner = match ops.get(1) {
                Some(TxnOpResponse::Get(g)) => {
                    (g.kvs().first()).map(|kv| (kv.key().to_vec(), kv.create_revision()))
                }
                _ => None,
            };
            Ok((mine, owner))
        }
    })
    .await
}

/// Reads (linearizably, in one range) our key and the last key created before it.
async fn read_turn(pool: &Pool, key: &str, prefix: &str, my_rev: i64) -> Result<Turn> {
    // One range, not a read-only transaction: etcd 3.5.0-3.5.4 panic when a read-only
    // transaction's request is cancelled while it runs (etcd #14110), and a hedged read's
    // slower copy is cancelled. Newest first up to our key: ours, then the one before it.
    pool.run(Op::LOCK_WAIT, pool.cfg.deadline, |m| {
        let mut kv = m.kv.clone();
        let upto_mine = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Create, SortOrder::Descend)
            .with_max_create_revision(my_rev)
            .with_limit(2);
        async move {
            let resp = kv.get(prefix, Some(upto_mine)).await?;
            let kvs = resp.kvs();
            let mine = (kvs.first())
                .filter(|kv| kv.key() == key.as_bytes() && kv.create_revision() == my_rev)
                .map(|_| my_rev);
            let before = kvs.get(usize::from(mine.is_some()));
            Ok(Turn {
                mine,
                before: before.map(|kv| kv.key().to_vec()),
                revision: resp.header().map_or(0, |h| h.revision()),
            })
        }
    })
    .await
}

/// The create revision of the first key the first get of `ops` found.
fn first_create_revision(ops: &[TxnOpResponse]) -> Option<i64> {
    match ops.first() {
        Some(TxnOpResponse::Get(g)) => g.kvs().first().map(|kv| kv.create_revision()),
        _ => None,
    }
}

/// Deletes `key` only while its create revision is `token`: a retry, or an unlock after
/// the lease expired and the name was locked again, deletes no newer lock.
async fn delete_fenced(pool: &Pool, key: &str, token: i64) {
    let txn = || {
        Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, token)])
            .and_then([TxnOp::delete(key, None)])
    };
    // A failure, or a key no longer ours, leaves nothing to do: the revoke that follows
    // deletes the key too.
    let _ = crate::kv::commit(pool, Op::UNLOCK, txn, Error::closed).await;
}

/// `opts.on_lost` called where the loss is found (the async face's rule).
pub(crate) fn direct(opts: &LockOptions) -> Option<Arc<dyn Sink>> {
    let f = opts.on_lost.clone()?;
    Some(Arc::new(Direct(f)))
}

struct Direct(OnLost);

impl Sink for Direct {
    fn deliver(&self, d: Delivery) {
        if let Delivery::Error(e) = d {
            (self.0)(&e);
        }
    }
}

/// Deletes a waiter key of a shared session's (a failed wait; the lease lives on).
async fn delete_key(pool: &Pool, key: &str) {
    // A failure leaves the key to the session's end: it names the session's lease.
    let _ = pool
        .run(Op::UNLOCK, pool.cfg.deadline, |m| {
            let mut kv = m.kv.clone();
            async move { kv.delete(key, None).await.map(|_| ()) }
        })
        .await;
}

/// Wakes a waiter or a holder when a watch delivers anything.
#[derive(Default)]
struct Wake(Notify);

impl Sink for Wake {
    fn deliver(&self, _: Delivery) {
        // A permit is kept when nobody waits yet: no news is lost between reads.
        self.0.notify_one();
    }
}

/// Watches `keys` from `from` on the client's shared stream (resumed across failover and
/// compaction like every watch), waking `wake`; returns what removes the watches.
fn watch_keys(
    parts: &Parts<'_>,
    name: &str,
    keys: &[Vec<u8>],
    from: i64,
    wake: &Arc<Wake>,
) -> impl FnOnce() + Send + 'static {
    let mut removers = Vec::new();
    for key in keys {
        let id = parts.ids.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            service: name.to_string(),
            key: key.clone(),
            range_end: None,
            next_rev: from,
            sink: wake.clone(),
            resync: false,
        };
        if parts.hub.add(id, entry) {
            removers.push(parts.hub.remover(id));
        }
    }
    move || removers.into_iter().for_each(|remove| remove())
}

/// The holder's task: marks the lock lost when the session is lost or the key is gone,
/// and unlocks when asked (or when the guard is dropped).
async fn keep(
    pool: Arc<Pool>,
    held: Arc<Held>,
    wake: Arc<Wake>,
    mut unlock: oneshot::Receiver<Tracker>,
    unwatch: impl FnOnce(),
) {
    let prefix = format!("{}/", held.name);
    let mut tracked = None;
    let why = loop {
        tokio::select! {
            t = &mut unlock => {
                tracked = t.ok();
                break "unlocked";
            }
            loss = held.session.lost() => break loss_reason(loss),
            _ = wake.0.notified() => {}
            _ = tokio::time::sleep(RECHECK) => {}
        }
        if !held.session.is_alive() {
            break "its lease's time may be up";
        }
        // An error reading says nothing of the lock: the session decides then.
        if let Ok(turn) = read_turn(&pool, &held.key, &prefix, held.token).await {
            if turn.mine != Some(held.token) {
                break "its key was deleted";
            }
        }
    };
    held.invalidate(why);
    unwatch();
    // Lost too: our clock may have given up on a lease etcd still keeps, and the key
    // must not make the next waiter wait out the TTL. Fenced, so no newer lock goes.
    delete_fenced(&pool, &held.key, held.token).await;
    if held.owns_session {
        held.session.close(&pool).await;
    }
    held.booking.lock().take();
    held.end(why);
    drop(tracked);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_seconds_etcd_grants() {
        assert_eq!(ttl_seconds(Duration::from_secs(10)).unwrap(), 10);
        for bad in [
            Duration::ZERO,
            Duration::from_millis(1500),
            Duration::from_millis(500),
            MAX_TTL + Duration::from_secs(1),
        ] {
            let e = ttl_seconds(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn names_may_not_be_empty_or_hold_nul() {
        use crate::keys::check_lock_name as check_name;
        assert!(check_name("jobs").is_ok());
        assert!(check_name("/locks/jobs").is_ok());
        assert_eq!(
            check_name("").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            check_name("a\0b").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}

//! The async client, for programs that already run tokio.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::{oneshot, Notify};

use crate::cache::Cache;
use crate::change::Leader;
use crate::change::{value_text, Change, ChangeKind};
use crate::cluster::{self, ClusterMember, MemberStatus};
use crate::config::{Config, Consistency};
use crate::delivery::{apply_all, Delivery, InstancesSink, Sink};
use crate::election::{self, Claim, Leadership};
use crate::endpoints::Endpoint;
use crate::error::{Error, Result};
use crate::exporter::{self, Render};
use crate::hub::{Entry, Hub};
use crate::instance::{InstanceSet, Instances};
use crate::keys::{self, check_name, Target};
use crate::kv::{self, WriteOptions};
use crate::lock::{self, LockGuard, LockOptions, LockSession};
use crate::mailbox::Mailbox;
use crate::membership;
use crate::metrics::Metrics;
use crate::options::{OnError, OnState, ReadOptions, RegisterOptions, WatchOptions};
use crate::pool::{MemberHealth, Pool};
use crate::registration::{self, Registration};
use crate::retry::Op;
use crate::txn::{self, Txn, TxnResult};

/// An etcd v3 service-discovery client for async code. Cheap to clone; all clones share
/// one connection per member and one watch stream. Background tasks run on the tokio
/// runtime that created it and end when the last clone is dropped.
///
/// ```no_run
/// # async fn demo() -> turtle_finder::Result<()> {
/// let client = turtle_finder::Client::connect(turtle_finder::Config::from_env()?).await?;
/// println!("{:?}", client.get_service("cdd").await?);
/// let mut watch = client.watch_service("cdd", turtle_finder::WatchOptions::initial()).await?;
/// while let Some(change) = watch.next().await {
///     println!("{:?}", change?.value_str()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Arc<Pool>,
    hub: Hub,
    next_id: AtomicI64,
    /// The watch-backed cache, when the settings ask for one.
    cache: Option<Arc<Cache>>,
    /// Every registration made, so closing the finder closes them.
    registrations: parking_lot::Mutex<Vec<Registration>>,
    /// Every lock given out, so closing the finder lets go of them.
    locks: parking_lot::Mutex<Vec<lock::Holder>>,
    /// Every lock session made, so closing the finder revokes them.
    sessions: parking_lot::Mutex<Vec<std::sync::Weak<crate::session::Session>>>,
    /// Where `/metrics` is served, if anywhere; the server stops when this is dropped.
    exporter: Option<(SocketAddr, oneshot::Sender<()>)>,
}

impl Client {
    /// Sets up the pool. Connections open lazily, so this succeeds with every member down;
    /// calls then fail with `Unavailable` until one answers. Must run inside a tokio runtime.
    /// Unusable settings are an `InvalidArgument` error (see [`Config::check`]).
    pub async fn connect(config: Config) -> Result<Client> {
        config.check()?;
        let cache = (config.cache).then(|| Arc::new(Cache::new(config.cache_limit)));
        let pool = Pool::new(Arc::new(config)).await?;
        let exporter = match pool.cfg.metrics_addr {
            None => None,
            Some(addr) => {
                let weak = Arc::downgrade(&pool);
                let render: Render = Arc::new(move || match weak.upgrade() {
                    Some(pool) => pool.metrics_text(),
                    None => Err(Error::closed()),
                });
                let (stop, stopped) = oneshot::channel();
                Some((exporter::serve(addr, render, stopped).await?, stop))
            }
        };
        membership::start(&pool);
        let hub = Hub::start(pool.clone());
        Ok(Client {
            inner: Arc::new(Inner {
                pool,
                hub,
                next_id: AtomicI64::new(1),
                cache,
                registrations: Default::default(),
                locks: Default::default(),
                sessions: Default::default(),
                exporter,
            }),
        })
    }

    /// The metrics in Prometheus's text format (see the README's list). An
    /// `InvalidArgument` error when the metrics setting is off.
    pub fn metrics(&self) -> Result<String> {
        self.inner.pool.metrics_text()
    }

    /// Where `/metrics` is served (the port chosen when the setting asked for port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.inner.exporter.as_ref().map(|(addr, _)| *addr)
    }

    /// The cluster's members as it lists them, the leader marked: what `etcdctl member
    /// list` shows.
    pub async fn members(&self) -> Result<Vec<ClusterMember>> {
        cluster::members(&self.inner.pool, self.config().deadline).await
    }

    /// Each member's status, asked now, all at once: reachable or not, round trip, raft
    /// term and index, leader, alarms. A member silent for the watch check timeout or
    /// the connect timeout (the longer; 1 s by default) is reported unreachable.
    pub async fn health(&self) -> Vec<MemberStatus> {
        cluster::health(&self.inner.pool, self.config().answer_limit()).await
    }

    /// What records this client's metrics.
    pub(crate) fn recorder(&self) -> &Arc<Metrics> {
        &self.inner.pool.metrics
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &Config {
        &self.inner.pool.cfg
    }

    /// The value of service `name` (the key `<prefix><name>`), `None` when absent.
    pub async fn get_service(&self, name: &str) -> Result<Option<String>> {
        self.get_service_with(name, ReadOptions::default()).await
    }

    /// [`Client::get_service`] with a deadline or consistency for this call.
    pub async fn get_service_with(&self, name: &str, opts: ReadOptions) -> Result<Option<String>> {
        match self.get_service_bytes(name, opts).await? {
            None => Ok(None),
            Some(v) => value_text(name, v).map(Some),
        }
    }

    /// The raw bytes of service `name`, for values that are not UTF-8.
    pub async fn get_service_bytes(
        &self,
        name: &str,
        opts: ReadOptions,
    ) -> Result<Option<Vec<u8>>> {
        match self.cached_service(name)? {
            Some(cached) => Ok(cached),
            None => self.read_service(name, opts).await,
        }
    }

    /// Reads service `name` from etcd (the cache, when on, missed it), and has the cache
    /// keep it from now on.
    pub(crate) async fn read_service(
        &self,
        name: &str,
        opts: ReadOptions,
    ) -> Result<Option<Vec<u8>>> {
        let key = self.config().service_key(name)?;
        let pool = &self.inner.pool;
        let deadline = pool.cfg.call_deadline(opts.deadline)?;
        let consistency = opts.consistency.unwrap_or(pool.cfg.consistency);
        let (kv, _) = (pool.read(Op::GET_SERVICE, key.as_bytes(), deadline, consistency)).await?;
        self.fill_cache(name, Target::Service);
        Ok(kv.map(|(v, _)| v))
    }

    /// The cached value of service `name`, when the cache is on and has it: no RPC, no
    /// lock shared with the I/O side. `Ok(None)` when it must be read.
    pub(crate) fn cached_service(&self, name: &str) -> Result<Option<Option<Vec<u8>>>> {
        let Some(cache) = &self.inner.cache else {
            return Ok(None);
        };
        check_name(name)?;
        Ok(cache.service(name))
    }

    /// The registered instances of service `name` (the entries under `<prefix><name>/`).
    pub async fn instances(&self, name: &str) -> Result<Instances> {
        self.instances_with(name, ReadOptions::default()).await
    }

    /// [`Client::instances`] with a deadline or consistency for this call.
    pub async fn instances_with(&self, name: &str, opts: ReadOptions) -> Result<Instances> {
        match self.cached_instances(name)? {
            Some(cached) => Ok(cached),
            None => self.read_instances(name, opts).await,
        }
    }

    /// Reads the instances of `name` from etcd (the cache, when on, missed them), and has
    /// the cache keep them from now on.
    pub(crate) async fn read_instances(&self, name: &str, opts: ReadOptions) -> Result<Instances> {
        let (key, end) = self.range_of(name, Target::Instances)?;
        let pool = &self.inner.pool;
        let deadline = pool.cfg.call_deadline(opts.deadline)?;
        let consistency = opts.consistency.unwrap_or(pool.cfg.consistency);
        let (kvs, revision) =
            (pool.read_range(Op::INSTANCES, &key, end.as_deref(), deadline, consistency)).await?;
        self.fill_cache(name, Target::Instances);
        let mut set = InstanceSet::new(name, key.len());
        Ok(apply_all(&mut set, &kvs).list(revision, ChangeKind::Initial))
    }

    /// The cached instances of service `name`, when the cache is on and has them.
    pub(crate) fn cached_instances(&self, name: &str) -> Result<Option<Instances>> {
        let Some(cache) = &self.inner.cache else {
            return Ok(None);
        };
        check_name(name)?;
        Ok(cache.instances(name))
    }

    /// With the cache on, starts the watch the cache asks for to keep `name` in memory
    /// (once per name; see [`Cache::to_fill`]).
    fn fill_cache(&self, name: &str, target: Target) {
        let Some(cache) = self.inner.cache.clone() else {
            return;
        };
        let Some(added) = cache.to_fill(name, target) else {
            return;
        };
        for id in &added.evicted {
            self.stop_watch(*id);
        }
        // An instances entry keeps full lists: the prefix watch's snapshots and events
        // go through the adapter that makes them.
        let sink = match target {
            Target::Service => added.sink,
            Target::Instances => match self.instances_sink(name, added.sink) {
                Ok(sink) => sink,
                Err(_) => return cache.forget(name, target),
            },
            Target::Election => return,
        };
        let (me, name, entry) = (self.clone(), name.to_string(), added.entry);
        tokio::spawn(async move {
            let opts = WatchOptions::initial();
            match me.start_watch(&name, target, opts, sink).await {
                Ok(id) if !entry.started(id) => me.stop_watch(id),
                Ok(_) => {}
                Err(_) => cache.forget(&name, target),
            }
        });
    }

    /// Watches service `name`; changes arrive through the returned stream.
    pub async fn watch_service(&self, name: &str, opts: WatchOptions) -> Result<WatchStream> {
        let sink = self.stream_sink(&opts);
        let id = (self.start_watch(name, Target::Service, opts, sink.clone())).await?;
        Ok(WatchStream {
            rx: Receiver::new(id, sink, self.clone()),
        })
    }

    /// Watches the instances of service `name`: the full list after every change (the
    /// current list first with `opts.initial`).
    pub async fn watch_instances(&self, name: &str, opts: WatchOptions) -> Result<InstancesStream> {
        let sink = self.stream_sink(&opts);
        let adapter = self.instances_sink(name, sink.clone())?;
        let id = (self.start_watch(name, Target::Instances, opts, adapter)).await?;
        Ok(InstancesStream {
            rx: Receiver::new(id, sink, self.clone()),
        })
    }

    /// Observes election `name`: the leader first, then each time the leader or its value
    /// changes (`None`: there is none), resumed across failover and compaction like every
    /// watch.
    pub async fn observe(&self, name: &str) -> Result<LeaderStream> {
        let sink = self.stream_sink(&WatchOptions::default());
        let adapter = Arc::new(election::LeaderSink::new(sink.clone()));
        let opts = WatchOptions::initial();
        let id = (self.start_watch(name, Target::Election, opts, adapter)).await?;
        Ok(LeaderStream {
            rx: Receiver::new(id, sink, self.clone()),
        })
    }

    /// The queue of a new watch stream.
    fn stream_sink(&self, opts: &WatchOptions) -> Arc<StreamSink> {
        Arc::new(StreamSink {
            mailbox: Mailbox::new(self.config().max_queued_changes, self.recorder().clone()),
            notify: Notify::new(),
            on_error: opts.on_error.clone(),
        })
    }

    /// An adapter that turns the prefix watch of `name`'s instances into full lists.
    pub(crate) fn instances_sink(&self, name: &str, out: Arc<dyn Sink>) -> Result<Arc<dyn Sink>> {
        let (key, _) = self.range_of(name, Target::Instances)?;
        Ok(Arc::new(InstancesSink::new(name, key.len(), out)))
    }

    /// The key, and for instances the end of the range, that `target` of `name` watches.
    fn range_of(&self, name: &str, target: Target) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
        keys::range_of(&self.config().prefix, name, target)
    }

    /// Reads the snapshot, delivers it if asked, and registers the watch from the
    /// snapshot's revision + 1.
    pub(crate) async fn start_watch(
        &self,
        name: &str,
        target: Target,
        opts: WatchOptions,
        sink: Arc<dyn Sink>,
    ) -> Result<i64> {
        let (key, range_end) = self.range_of(name, target)?;
        let pool = &self.inner.pool;
        let deadline = pool.cfg.call_deadline(opts.deadline)?;
        let (kvs, read_rev) = pool
            .read_range(
                Op::WATCH_START,
                &key,
                range_end.as_deref(),
                deadline,
                Consistency::Linearizable,
            )
            .await?;
        if opts.initial {
            let range = target != Target::Service;
            sink.deliver(Delivery::of_read(
                name,
                range,
                kvs,
                read_rev,
                ChangeKind::Initial,
            ));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            service: name.to_string(),
            key,
            range_end,
            next_rev: read_rev + 1,
            sink,
            resync: false,
        };
        if !self.inner.hub.add(id, entry) {
            return Err(Error::closed());
        }
        Ok(id)
    }

    /// Takes the lock `name` (the key prefix `etcdctl lock` and Go's `concurrency.Mutex`
    /// use: the same name is the same lock), waiting at most `opts.timeout`: a guard once
    /// held, `DeadlineExceeded` when the wait ran out, `SessionLost` when the lease the
    /// wait stood on died. Every failure leaves no waiter key behind. See [`LockGuard`].
    pub async fn lock(&self, name: &str, opts: LockOptions) -> Result<LockGuard> {
        let got = self
            .lock_to(name, b"", &opts, true, lock::direct(&opts))
            .await?;
        lock::waited(got)
    }

    /// A lease of `ttl` (whole seconds) kept alive for locks and elections to share
    /// (`LockOptions::session`): a lock on it costs no grant and no revoke. Closing the
    /// client's finder revokes it.
    pub async fn lock_session(&self, ttl: std::time::Duration) -> Result<LockSession> {
        let s = LockSession::grant(&self.inner.pool, ttl).await?;
        let mut all = self.inner.sessions.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(s.holder());
        Ok(s)
    }

    /// Takes the lock `name` if nobody holds it: `None` when somebody does.
    pub async fn try_lock(&self, name: &str, opts: LockOptions) -> Result<Option<LockGuard>> {
        self.lock_to(name, b"", &opts, false, lock::direct(&opts))
            .await
    }

    /// Campaigns in election `name` with `value`: waits (at most `opts.timeout`) until
    /// this candidate leads, as a lock is taken (see [`Client::lock`]); a leadership is a
    /// lock whose key holds the leader's value.
    pub async fn campaign(
        &self,
        name: &str,
        value: &[u8],
        opts: LockOptions,
    ) -> Result<Leadership> {
        let got = self
            .lock_to(name, value, &opts, true, lock::direct(&opts))
            .await?;
        Ok(Leadership::new(lock::waited(got)?))
    }

    /// Writes a new value of the leadership's key, only while it leads.
    pub async fn proclaim(&self, leadership: &Leadership, value: &[u8]) -> Result<i64> {
        self.proclaim_claim(&leadership.claim(), value).await
    }

    /// [`Client::proclaim`] of a leadership's claim.
    pub(crate) async fn proclaim_claim(&self, claim: &Claim, value: &[u8]) -> Result<i64> {
        election::proclaim(&self.inner.pool, claim, value).await
    }

    /// The leader of election `name` now (linearizable), `None` when there is none.
    pub async fn leader(&self, name: &str) -> Result<Option<Leader>> {
        election::leader(&self.inner.pool, name).await
    }

    /// Reads the etcd key `key` (a whole key, no prefix added), linearizably.
    pub async fn get(&self, key: &str) -> Result<Option<kv::Entry>> {
        kv::get(&self.inner.pool, key).await
    }

    /// Writes `value` at the etcd key `key` if `opts`' conditions hold (`ConditionFailed`
    /// otherwise, and nothing written): the revision of the write. A write with a
    /// condition is retried only when it cannot have reached a member.
    pub async fn put(&self, key: &str, value: &[u8], opts: WriteOptions) -> Result<i64> {
        kv::put(&self.inner.pool, key, value, &opts).await
    }

    /// Deletes the etcd key `key` if `opts`' conditions hold: the revision of the delete.
    pub async fn delete(&self, key: &str, opts: WriteOptions) -> Result<i64> {
        kv::delete(&self.inner.pool, key, &opts).await
    }

    /// Commits the transaction `txn` (see [`Txn`]): whether its compares held, its
    /// revision and its reads. One that writes is retried only when it cannot have
    /// reached a member; a compare that does not hold is no error (`succeeded` is false).
    pub async fn txn(&self, txn: &Txn) -> Result<TxnResult> {
        txn::commit(&self.inner.pool, txn).await
    }

    /// A lock whose loss goes to `on_lost`.
    pub(crate) async fn lock_to(
        &self,
        name: &str,
        value: &[u8],
        opts: &LockOptions,
        wait: bool,
        on_lost: Option<Arc<dyn Sink>>,
    ) -> Result<Option<LockGuard>> {
        let parts = lock::Parts {
            pool: &self.inner.pool,
            hub: &self.inner.hub,
            ids: &self.inner.next_id,
        };
        let got = lock::lock(parts, name, value, opts, wait, on_lost).await?;
        if let Some(guard) = &got {
            let mut locks = self.inner.locks.lock();
            locks.retain(|h| !h.is_gone());
            locks.push(guard.holder());
        }
        Ok(got)
    }

    /// A check of every lock this client gives out (no I/O): one whose lease's time is up
    /// is lost then and tells its `on_lost`. It keeps no client alive.
    pub(crate) fn lock_checker(&self) -> impl Fn() + Send + Sync + 'static {
        let inner = Arc::downgrade(&self.inner);
        move || {
            if let Some(inner) = inner.upgrade() {
                inner.locks.lock().iter().for_each(lock::Holder::check);
            }
        }
    }

    /// Lets go of every lock this client gave out, and waits (at most `limit`) until the
    /// clean-ups under way in the background are done: locks let go, leases of dropped
    /// sessions revoked. A closing finder calls it, so none outlives it by a TTL.
    pub(crate) async fn settle(&self, limit: std::time::Duration) {
        let locks = std::mem::take(&mut *self.inner.locks.lock());
        locks.iter().for_each(lock::Holder::let_go);
        let sessions = std::mem::take(&mut *self.inner.sessions.lock());
        sessions
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .for_each(|s| s.end());
        let _ = tokio::time::timeout(limit, self.inner.pool.pending.settled()).await;
    }

    /// Registers an instance of service `name` at `addr`: the key
    /// `<prefix><name>/<instance id>` holding `{"Addr": addr, "Metadata": ...}`, bound to
    /// a lease kept alive in the background (on this client's tokio runtime) until the
    /// registration is closed. A lost lease is granted and written again automatically.
    /// `opts.on_state` and `opts.on_error` are called on the runtime's task that has the
    /// news: keep them short.
    pub async fn register(
        &self,
        name: &str,
        addr: &str,
        opts: RegisterOptions,
    ) -> Result<Registration> {
        let sink: Option<Arc<dyn Sink>> = match (&opts.on_state, &opts.on_error) {
            (None, None) => None,
            (on_state, on_error) => Some(Arc::new(Callbacks {
                on_state: on_state.clone(),
                on_error: on_error.clone(),
            })),
        };
        self.register_to(name, addr, &opts, sink).await
    }

    /// [`Client::register`] whose state changes and errors go to `sink`.
    pub(crate) async fn register_to(
        &self,
        name: &str,
        addr: &str,
        opts: &RegisterOptions,
        sink: Option<Arc<dyn Sink>>,
    ) -> Result<Registration> {
        let spec = registration::spec(&self.config().prefix, name, addr, opts)?;
        let key = spec.key.clone();
        self.check_unregistered(&key)?;
        let reg = registration::register(self.inner.pool.clone(), spec, sink).await?;
        if !self.keep_registration(&reg) {
            // Another registration of the key got in while this one was written.
            reg.close_async().await;
            return Err(already_registered(&key));
        }
        self.watch_own_key(&reg, name);
        Ok(reg)
    }

    /// Adds `reg` to the client's open registrations; false when one of its key is there.
    fn keep_registration(&self, reg: &Registration) -> bool {
        let mut all = self.inner.registrations.lock();
        all.retain(|r| !r.is_ended());
        if all.iter().any(|r| r.key() == reg.key()) {
            return false;
        }
        all.push(reg.clone());
        true
    }

    /// An error when this client has an open registration of `key`: two would share one
    /// key under two leases, and the first closed would take the other's instance away.
    fn check_unregistered(&self, key: &str) -> Result<()> {
        let all = self.inner.registrations.lock();
        match all.iter().any(|r| r.key() == key && !r.is_ended()) {
            true => Err(already_registered(key)),
            false => Ok(()),
        }
    }

    /// Watches the registration's own key from its write on, so a deletion by someone
    /// else is written back; the watch ends with the registration.
    fn watch_own_key(&self, reg: &Registration, name: &str) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            service: name.to_string(),
            key: reg.key().as_bytes().to_vec(),
            range_end: None,
            next_rev: reg.written() + 1,
            sink: reg.key_watcher(),
            resync: false,
        };
        if self.inner.hub.add(id, entry) {
            reg.on_end(self.inner.hub.remover(id));
        }
    }

    /// Every registration of this client that is still open.
    pub(crate) fn registrations(&self) -> Vec<Registration> {
        self.inner.registrations.lock().clone()
    }

    /// Stops delivering to watch `id`; never blocks.
    pub(crate) fn stop_watch(&self, id: i64) {
        self.inner.hub.remove(id);
    }

    /// The member requests go to first (the one serving lookups while it answers).
    pub fn preferred_member(&self) -> Endpoint {
        self.inner.pool.preferred()
    }

    /// Each member's health as the pool sees it.
    pub fn member_health(&self) -> Vec<MemberHealth> {
        self.inner.pool.health()
    }

    /// The member whose watch stream carries this client's watches now (`None` while
    /// there are no watches or the stream is moving).
    pub fn watch_member(&self) -> Option<Endpoint> {
        self.inner.hub.serving()
    }
}

/// A registration's callbacks, called where its news arrive (the async client's).
struct Callbacks {
    on_state: Option<OnState>,
    on_error: Option<OnError>,
}

impl Sink for Callbacks {
    fn deliver(&self, d: Delivery) {
        match (d, &self.on_state, &self.on_error) {
            (Delivery::Registration(state), Some(f), _) => f(state),
            (Delivery::Error(e), _, Some(f)) => f(&e),
            _ => {}
        }
    }
}

struct StreamSink {
    mailbox: Mailbox,
    notify: Notify,
    /// Told of errors too (they are also queued for the stream).
    on_error: Option<OnError>,
}

impl Sink for StreamSink {
    fn deliver(&self, d: Delivery) {
        if let (Delivery::Error(e), Some(f)) = (&d, &self.on_error) {
            f(e);
        }
        self.mailbox.push(d);
        self.notify.notify_one();
    }
}

/// The consumer end of an async watch: its queue, and the watch to stop.
struct Receiver {
    id: i64,
    sink: Arc<StreamSink>,
    client: Client,
}

impl Receiver {
    fn new(id: i64, sink: Arc<StreamSink>, client: Client) -> Receiver {
        Receiver { id, sink, client }
    }

    /// The next delivery; `None` once cancelled.
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            match self.sink.mailbox.pop() {
                Some(d) => return Some(d),
                None if self.sink.mailbox.is_closed() => return None,
                None => self.sink.notify.notified().await,
            }
        }
    }

    fn cancel(&mut self) {
        self.sink.mailbox.close();
        self.sink.notify.notify_one();
        self.client.stop_watch(self.id);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The changes of one watch, for async code. Dropping it cancels the watch.
pub struct WatchStream {
    rx: Receiver,
}

impl WatchStream {
    /// The next change, or an error the watch ran into (it keeps retrying after one).
    /// `None` once cancelled.
    pub async fn next(&mut self) -> Option<Result<Change>> {
        loop {
            match self.rx.next().await? {
                Delivery::Change(c) => return Some(Ok(c)),
                Delivery::Error(e) => return Some(Err(e)),
                _ => {}
            }
        }
    }

    /// Stops the watch; [`WatchStream::next`] then returns `None`.
    pub fn cancel(&mut self) {
        self.rx.cancel();
    }
}

/// The instance lists of one instances watch, for async code. Dropping it cancels it.
pub struct InstancesStream {
    rx: Receiver,
}

impl InstancesStream {
    /// The full list after the next change, or an error the watch ran into (it keeps
    /// retrying after one). `None` once cancelled.
    pub async fn next(&mut self) -> Option<Result<Instances>> {
        loop {
            match self.rx.next().await? {
                Delivery::Instances(list) => return Some(Ok(list)),
                Delivery::Error(e) => return Some(Err(e)),
                _ => {}
            }
        }
    }

    /// Stops the watch; [`InstancesStream::next`] then returns `None`.
    pub fn cancel(&mut self) {
        self.rx.cancel();
    }
}

/// The leaders of one election as an observer sees them, for async code. Dropping it
/// cancels the watch.
pub struct LeaderStream {
    rx: Receiver,
}

impl LeaderStream {
    /// The leader after the next change (`Some(None)`: there is none now), or an error the
    /// watch ran into (it keeps retrying after one). `None` once cancelled.
    pub async fn next(&mut self) -> Option<Result<Option<Leader>>> {
        loop {
            match self.rx.next().await? {
                Delivery::Leader(l) => return Some(Ok(l)),
                Delivery::Error(e) => return Some(Err(e)),
                _ => {}
            }
        }
    }

    /// Stops the watch; [`LeaderStream::next`] then returns `None`.
    pub fn cancel(&mut self) {
        self.rx.cancel();
    }
}

impl std::fmt::Debug for LeaderStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderStream")
            .field("id", &self.rx.id)
            .finish()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.config().endpoints())
            .finish()
    }
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream")
            .field("id", &self.rx.id)
            .finish()
    }
}

impl std::fmt::Debug for InstancesStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancesStream")
            .field("id", &self.rx.id)
            .finish()
    }
}

/// A second registration of `key` on one client.
fn already_registered(key: &str) -> Error {
    Error::invalid(format!(
        "{key:?} is registered by this finder already: keep that registration, or close it \
         first (or give this one another instance id)"
    ))
}

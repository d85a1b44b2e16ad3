//! The blocking `ServiceFinder`: its own runtime thread, its own dispatcher thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::candidacy::{self, Candidacy, OnElected};
use crate::change::Leader;
use crate::change::{value_text, Change};
use crate::client::Client;
use crate::cluster::{ClusterMember, MemberStatus};
use crate::config::Config;
use crate::delivery::{Delivery, Sink};
use crate::dispatch::{Dispatcher, Slot};
use crate::election::{LeaderSink, Leadership};
use crate::endpoints::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{Instances, RegistrationState};
use crate::keys::Target;
use crate::kv::{Entry, WriteOptions};
use crate::lock::{LockGuard, LockOptions, LockSession, OnLost};
use crate::options::{OnError, OnState, ReadOptions, RegisterOptions, WatchOptions};
use crate::pool::MemberHealth;
use crate::registration::Registration;
use crate::runtime::RuntimeThread;
use crate::txn::{Txn, TxnResult};

/// Service lookups and watches for code that does not run tokio.
///
/// Owns two threads: `turtle-runtime` (all I/O) and `turtle-dispatch` (every callback,
/// one at a time). All methods may be called from any thread, including from inside a
/// callback. `close` (or drop) stops and joins both threads.
///
/// ```no_run
/// use turtle_finder::ServiceFinder;
/// let finder = ServiceFinder::from_env()?;
/// println!("{:?}", finder.get_service("cdd")?);
/// finder.watch_service("cdd", |change| println!("Key change: {:?}", change.value_str()))?;
/// # Ok::<(), turtle_finder::Error>(())
/// ```
pub struct ServiceFinder {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    runtime: RuntimeThread,
    dispatcher: Dispatcher,
    watches: Mutex<HashMap<i64, Arc<Slot>>>,
    closed: AtomicBool,
    /// A close gave up waiting for a stuck callback: dropping the finder then waits no more.
    abandoned: AtomicBool,
    pid: u32,
}

impl ServiceFinder {
    /// A finder for the members in `config`. Connections open lazily: this succeeds with
    /// every member down, and calls report `Unavailable` until one answers.
    pub fn new(config: Config) -> Result<ServiceFinder> {
        let runtime = RuntimeThread::start()?;
        let client = runtime.block(Client::connect(config))?;
        let dispatcher = Dispatcher::start(client.recorder().clone())?;
        // A lock whose time is up says so before the next callback runs (design §10).
        dispatcher.set_gate(Box::new(client.lock_checker()));
        let shared = Shared {
            client,
            runtime,
            dispatcher,
            watches: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            pid: std::process::id(),
        };
        Ok(ServiceFinder {
            shared: Arc::new(shared),
        })
    }

    /// A finder for `TURTLE_ENDPOINTS` (default `127.0.0.1:2379`).
    pub fn from_env() -> Result<ServiceFinder> {
        ServiceFinder::new(Config::from_env()?)
    }

    /// The settings this finder was made with.
    pub fn config(&self) -> &Config {
        self.shared.client.config()
    }

    /// The value of service `name`, `None` when absent; linearizable unless configured otherwise.
    pub fn get_service(&self, name: &str) -> Result<Option<String>> {
        self.get_service_with(name, ReadOptions::default())
    }

    /// [`ServiceFinder::get_service`] with a deadline, consistency or interrupt check for
    /// this call.
    pub fn get_service_with(&self, name: &str, opts: ReadOptions) -> Result<Option<String>> {
        self.get_service_bytes(name, opts)?
            .map(|v| value_text(name, v))
            .transpose()
    }

    /// The raw bytes of service `name`, for values that are not UTF-8.
    pub fn get_service_bytes(&self, name: &str, opts: ReadOptions) -> Result<Option<Vec<u8>>> {
        // A cached name is read on the caller's thread: no hand-off, no RPC, and no
        // count of a shared reference touched (which threads would fight over).
        let client = self.shared.usable()?;
        if let Some(cached) = client.cached_service(name)? {
            return Ok(cached);
        }
        let (client, name) = (client.clone(), name.to_string());
        let interrupt = opts.interrupt.clone();
        self.shared.runtime.block_interruptible(
            async move { client.read_service(&name, opts).await },
            interrupt.as_deref(),
        )
    }

    /// The registered instances of service `name`: the entries under `<prefix><name>/`,
    /// ordered by id, with the entries that are not instances in `malformed`.
    ///
    /// ```no_run
    /// # let finder = turtle_finder::ServiceFinder::from_env()?;
    /// let list = finder.instances("cdd")?;
    /// for i in &list.instances {
    ///     println!("{} at {} ({})", i.id, i.addr, i.metadata);
    /// }
    /// for bad in &list.malformed {
    ///     eprintln!("not an instance: {bad:?}");
    /// }
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn instances(&self, name: &str) -> Result<Instances> {
        self.instances_with(name, ReadOptions::default())
    }

    /// [`ServiceFinder::instances`] with a deadline, consistency or interrupt check for
    /// this call.
    pub fn instances_with(&self, name: &str, opts: ReadOptions) -> Result<Instances> {
        let client = self.shared.usable()?;
        if let Some(cached) = client.cached_instances(name)? {
            return Ok(cached);
        }
        let (client, name) = (client.clone(), name.to_string());
        let interrupt = opts.interrupt.clone();
        self.shared.runtime.block_interruptible(
            async move { client.read_instances(&name, opts).await },
            interrupt.as_deref(),
        )
    }

    /// Calls `callback` on the dispatcher thread with the full list of service `name`'s
    /// instances: the current one first, then after every change.
    pub fn watch_instances<F>(&self, name: &str, callback: F) -> Result<Watch>
    where
        F: FnMut(&Instances) + Send + 'static,
    {
        self.watch_instances_with(name, WatchOptions::initial(), callback)
    }

    /// [`ServiceFinder::watch_instances`] with options: without `initial`, the first list
    /// comes after the first change; errors go to `opts.on_error`.
    pub fn watch_instances_with<F>(
        &self,
        name: &str,
        opts: WatchOptions,
        mut callback: F,
    ) -> Result<Watch>
    where
        F: FnMut(&Instances) + Send + 'static,
    {
        let each = move |d: &Delivery| {
            if let Delivery::Instances(list) = d {
                callback(list);
            }
        };
        self.watch(name, Target::Instances, opts, each)
    }

    /// Registers an instance of service `name` at `addr` (see [`Client::register`]): the
    /// key stays while this finder runs, kept alive on its runtime thread, until the
    /// registration or the finder is closed. `opts.on_state` and `opts.on_error` run on
    /// the dispatcher thread.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use turtle_finder::RegisterOptions;
    /// # let finder = turtle_finder::ServiceFinder::from_env()?;
    /// let opts = RegisterOptions { ttl: Duration::from_secs(10), ..Default::default() }
    ///     .on_state(|state| println!("now {}", state.as_str()));
    /// let me = finder.register("cdd", "10.0.0.1:8080", opts)?;
    /// println!("registered as {}", me.key());
    /// me.close(); // revoked: watchers see the instance go at once
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn register(&self, name: &str, addr: &str, opts: RegisterOptions) -> Result<Registration> {
        let client = self.shared.usable()?.clone();
        let sink = match (&opts.on_state, &opts.on_error) {
            (None, None) => None,
            (on_state, on_error) => Some(self.registration_slot(on_state, on_error)),
        };
        let interrupt = opts.interrupt.clone();
        let (name, addr, to) = (name.to_string(), addr.to_string(), sink.clone());
        let made = self.shared.runtime.block_interruptible(
            async move {
                let sink = to.map(|s| s as Arc<dyn Sink>);
                client.register_to(&name, &addr, &opts, sink).await
            },
            interrupt.as_deref(),
        );
        if let (Err(_), Some(slot)) = (&made, sink) {
            slot.cancel_now();
        }
        made
    }

    /// Takes the lock `name`, waiting at most `opts.timeout` (see [`Client::lock`]):
    ///
    /// ```no_run
    /// # use turtle_finder::{ServiceFinder, Config, LockOptions};
    /// let finder = ServiceFinder::new(Config::from_env()?)?;
    /// let guard = finder.lock("jobs", LockOptions::default())?;
    /// println!("held with fencing token {}", guard.token());
    /// guard.unlock();
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn lock(&self, name: &str, opts: LockOptions) -> Result<LockGuard> {
        let got = self.lock_to(name, b"", opts, true)?;
        crate::lock::waited(got)
    }

    /// A lease for locks and elections to share; see [`Client::lock_session`].
    pub fn lock_session(&self, ttl: Duration) -> Result<LockSession> {
        let client = self.shared.usable()?.clone();
        (self.shared.runtime)
            .block_interruptible(async move { client.lock_session(ttl).await }, None)
    }

    /// Takes the lock `name` if nobody holds it: `None` when somebody does.
    pub fn try_lock(&self, name: &str, opts: LockOptions) -> Result<Option<LockGuard>> {
        self.lock_to(name, b"", opts, false)
    }

    /// A lock whose `on_lost` runs on the dispatcher thread, queued behind (so before any
    /// later) callback of this finder.
    fn lock_to(
        &self,
        name: &str,
        value: &[u8],
        opts: LockOptions,
        wait: bool,
    ) -> Result<Option<LockGuard>> {
        let client = self.shared.usable()?.clone();
        let on_lost = opts.on_lost.clone().map(|f| {
            let callback = move |d| {
                if let Delivery::Error(e) = d {
                    f(&e);
                }
            };
            self.shared.dispatcher.urgent_slot(Box::new(callback)) as Arc<dyn Sink>
        });
        let (name, interrupt) = (name.to_string(), opts.interrupt.clone());
        let value = value.to_vec();
        let got = self.shared.runtime.block_interruptible(
            async move { client.lock_to(&name, &value, &opts, wait, on_lost).await },
            interrupt.as_deref(),
        )?;
        if let Some(guard) = &got {
            guard.drive_with(self.driver());
        }
        Ok(got)
    }

    /// Runs a future on the caller's thread, driving this finder's runtime (for a lock's
    /// blocking unlock, a candidacy's blocking stop); nothing once the finder is gone.
    fn driver(&self) -> crate::done::Driver {
        let shared = Arc::downgrade(&self.shared);
        Arc::new(move |fut| {
            if let Some(s) = shared.upgrade() {
                let done = async move {
                    fut.await;
                    Ok(())
                };
                let _ = s.runtime.block_interruptible(done, None);
            }
        })
    }

    /// Campaigns in election `name` (the name `etcdctl elect` and Go's
    /// `concurrency.Election` use) with `value`, waiting at most `opts.timeout` until
    /// this candidate leads; see [`Client::campaign`].
    ///
    /// ```no_run
    /// # use turtle_finder::{ServiceFinder, Config, LockOptions};
    /// let finder = ServiceFinder::new(Config::from_env()?)?;
    /// let leading = finder.campaign("scheduler", b"host-a", LockOptions::default())?;
    /// finder.proclaim(&leading, b"host-a:9000")?;
    /// leading.resign();
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn campaign(&self, name: &str, value: &[u8], opts: LockOptions) -> Result<Leadership> {
        let got = self.lock_to(name, value, opts, true)?;
        Ok(Leadership::new(crate::lock::waited(got)?))
    }

    /// Writes a new value of the leadership's key, only while it leads: `ConditionFailed`
    /// once it does not.
    pub fn proclaim(&self, leadership: &Leadership, value: &[u8]) -> Result<i64> {
        let client = self.shared.usable()?.clone();
        let (claim, value) = (leadership.claim(), value.to_vec());
        (self.shared.runtime).block_interruptible(
            async move { client.proclaim_claim(&claim, &value).await },
            None,
        )
    }

    /// The leader of election `name` now (linearizable), `None` when there is none.
    pub fn leader(&self, name: &str) -> Result<Option<Leader>> {
        let client = self.shared.usable()?.clone();
        let name = name.to_string();
        (self.shared.runtime).block_interruptible(async move { client.leader(&name).await }, None)
    }

    /// Runs for leader of election `name` with `value` until the candidacy is stopped or
    /// dropped (see [`Candidacy`]): `on_elected` and `on_lost` run on the dispatcher
    /// thread, a loss queued before any later callback of this finder.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use turtle_finder::{ServiceFinder, Config, LockOptions};
    /// let finder = ServiceFinder::new(Config::from_env()?)?;
    /// let running = finder.run_for_leader(
    ///     "scheduler",
    ///     b"host-a",
    ///     LockOptions::default(),
    ///     Arc::new(|leader| println!("leading with token {}", leader.revision)),
    ///     Arc::new(|why| eprintln!("no longer leading: {why}")),
    /// )?;
    /// // ... later: resigns if leading.
    /// running.stop();
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn run_for_leader(
        &self,
        name: &str,
        value: &[u8],
        opts: LockOptions,
        on_elected: OnElected,
        on_lost: OnLost,
    ) -> Result<Candidacy> {
        let client = self.shared.usable()?.clone();
        let callback = move |d| candidacy::tell(&on_elected, &on_lost, d);
        let events = self.shared.dispatcher.slot(Box::new(callback), 16) as Arc<dyn Sink>;
        let (name, value) = (name.to_string(), value.to_vec());
        let running = (self.shared.runtime).block_interruptible(
            async move { candidacy::start(client, &name, &value, opts, events) },
            None,
        )?;
        running.drive_with(self.driver());
        Ok(running)
    }

    /// Calls `callback` on the dispatcher thread with the leader of election `name` first,
    /// then each time the leader or its value changes (`None`: there is none), with every
    /// guarantee of a watch (resumed across failover and compaction).
    pub fn observe<F>(&self, name: &str, mut callback: F) -> Result<Watch>
    where
        F: FnMut(Option<&Leader>) + Send + 'static,
    {
        let each = move |d: &Delivery| {
            if let Delivery::Leader(l) = d {
                callback(l.as_ref());
            }
        };
        self.watch(name, Target::Election, WatchOptions::initial(), each)
    }

    /// Reads the etcd key `key` (a whole key), linearizably; see [`Client::get`].
    pub fn get(&self, key: &str) -> Result<Option<Entry>> {
        let client = self.shared.usable()?.clone();
        let key = key.to_string();
        (self.shared.runtime).block_interruptible(async move { client.get(&key).await }, None)
    }

    /// Writes `value` at `key` if `opts`' conditions hold; see [`Client::put`].
    ///
    /// ```no_run
    /// # use turtle_finder::{ServiceFinder, Config, LockOptions, WriteOptions};
    /// let finder = ServiceFinder::new(Config::from_env()?)?;
    /// let guard = finder.lock("jobs", LockOptions::default())?;
    /// // Lands only while the lock is held: a paused holder's late write fails.
    /// finder.put("/jobs/state", b"done", WriteOptions::if_owner(guard.fence()))?;
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn put(&self, key: &str, value: &[u8], opts: WriteOptions) -> Result<i64> {
        let client = self.shared.usable()?.clone();
        let (key, value) = (key.to_string(), value.to_vec());
        (self.shared.runtime)
            .block_interruptible(async move { client.put(&key, &value, opts).await }, None)
    }

    /// Deletes `key` if `opts`' conditions hold; see [`Client::delete`].
    pub fn delete(&self, key: &str, opts: WriteOptions) -> Result<i64> {
        let client = self.shared.usable()?.clone();
        let key = key.to_string();
        (self.shared.runtime)
            .block_interruptible(async move { client.delete(&key, opts).await }, None)
    }

    /// Commits the transaction `txn`; see [`Client::txn`].
    ///
    /// ```no_run
    /// # use turtle_finder::{ServiceFinder, Config, LockOptions, Operation, Txn};
    /// let finder = ServiceFinder::new(Config::from_env()?)?;
    /// let guard = finder.lock("jobs", LockOptions::default())?;
    /// let done = Txn::new()
    ///     .when([guard.owner_cmp()])
    ///     .then([Operation::put("/jobs/state", "done"), Operation::delete("/jobs/next")]);
    /// assert!(finder.txn(&done)?.succeeded, "the lock was lost before the write");
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn txn(&self, txn: &Txn) -> Result<TxnResult> {
        let client = self.shared.usable()?.clone();
        let txn = txn.clone();
        (self.shared.runtime).block_interruptible(async move { client.txn(&txn).await }, None)
    }

    /// A dispatcher slot for a registration's callbacks; it lets itself go once the
    /// registration reported it closed.
    fn registration_slot(
        &self,
        on_state: &Option<OnState>,
        on_error: &Option<OnError>,
    ) -> Arc<Slot> {
        let me: Arc<OnceLock<Weak<Slot>>> = Arc::default();
        let mine = me.clone();
        let (on_state, on_error) = (on_state.clone(), on_error.clone());
        let callback = move |d| match d {
            Delivery::Registration(state) => {
                if let Some(f) = &on_state {
                    f(state);
                }
                let done = state == RegistrationState::Closed;
                if let (true, Some(slot)) = (done, mine.get().and_then(Weak::upgrade)) {
                    slot.cancel_now();
                }
            }
            Delivery::Error(e) => {
                if let Some(f) = &on_error {
                    f(&e);
                }
            }
            _ => {}
        };
        let slot =
            (self.shared.dispatcher).slot(Box::new(callback), self.config().max_queued_changes);
        let _ = me.set(Arc::downgrade(&slot));
        slot
    }

    /// Calls `callback` on the dispatcher thread after every change of service `name`.
    /// Errors the watch runs into (it keeps retrying) are kept in [`Watch::last_error`].
    ///
    /// ```no_run
    /// # let finder = turtle_finder::ServiceFinder::from_env()?;
    /// let watch = finder.watch_service("cdd", |change| match change.value_str() {
    ///     Ok(Some(hosts)) => println!("cdd = {hosts}"),
    ///     Ok(None) => println!("cdd was deleted"),
    ///     Err(not_text) => eprintln!("{not_text}"),
    /// })?;
    /// // ... changes arrive on the dispatcher thread meanwhile ...
    /// watch.cancel(); // no callback runs after this returns
    /// # Ok::<(), turtle_finder::Error>(())
    /// ```
    pub fn watch_service<F>(&self, name: &str, callback: F) -> Result<Watch>
    where
        F: FnMut(&Change) + Send + 'static,
    {
        self.watch_service_with(name, WatchOptions::default(), callback)
    }

    /// [`ServiceFinder::watch_service`] with options: the current value first, a deadline
    /// or interrupt check of the set-up, and a callback for errors, which runs on the
    /// dispatcher thread too.
    pub fn watch_service_with<F>(
        &self,
        name: &str,
        opts: WatchOptions,
        mut callback: F,
    ) -> Result<Watch>
    where
        F: FnMut(&Change) + Send + 'static,
    {
        let each = move |d: &Delivery| {
            if let Delivery::Change(c) = d {
                callback(c);
            }
        };
        self.watch(name, Target::Service, opts, each)
    }

    /// A watch of `target` whose deliveries go to `each` on the dispatcher thread (and
    /// its errors to `opts.on_error`, and into [`Watch::last_error`]).
    fn watch<F>(&self, name: &str, target: Target, opts: WatchOptions, mut each: F) -> Result<Watch>
    where
        F: FnMut(&Delivery) + Send + 'static,
    {
        let client = self.shared.usable()?.clone();
        let last_error: Arc<Mutex<Option<Error>>> = Arc::default();
        let (last, on_error) = (last_error.clone(), opts.on_error.clone());
        let callback = move |d| match d {
            Delivery::Error(e) => {
                *last.lock() = Some(e.clone());
                if let Some(f) = &on_error {
                    f(&e);
                }
            }
            d => {
                last.lock().take(); // changes flow again: the watch recovered
                each(&d);
            }
        };
        let slot =
            (self.shared.dispatcher).slot(Box::new(callback), self.config().max_queued_changes);
        let sink: Arc<dyn Sink> = match target {
            Target::Service => slot.clone(),
            Target::Instances => client.instances_sink(name, slot.clone())?,
            Target::Election => Arc::new(LeaderSink::new(slot.clone())),
        };
        let (name, interrupt) = (name.to_string(), opts.interrupt.clone());
        let started = self.shared.runtime.block_interruptible(
            async move { client.start_watch(&name, target, opts, sink).await },
            interrupt.as_deref(),
        );
        let id = match started {
            Ok(id) => id,
            Err(e) => {
                slot.cancel_now();
                return Err(e);
            }
        };
        self.started(id, slot, last_error)
    }

    /// Keeps a watch that started, unless the finder closed meanwhile.
    fn started(
        &self,
        id: i64,
        slot: Arc<Slot>,
        last_error: Arc<Mutex<Option<Error>>>,
    ) -> Result<Watch> {
        self.shared.watches.lock().insert(id, slot.clone());
        if self.shared.closed.load(Ordering::SeqCst) {
            // close() ran meanwhile and did not see this watch.
            self.shared.cancel(id, &slot);
            return Err(Error::closed());
        }
        let shared = Arc::downgrade(&self.shared);
        Ok(Watch {
            id,
            slot,
            shared,
            last_error,
        })
    }

    /// The member lookups go to first.
    pub fn preferred_member(&self) -> Endpoint {
        self.shared.client.preferred_member()
    }

    /// Each member's health as the pool sees it.
    pub fn member_health(&self) -> Vec<MemberHealth> {
        self.shared.client.member_health()
    }

    /// The member whose watch stream carries this finder's watches now.
    pub fn watch_member(&self) -> Option<Endpoint> {
        self.shared.client.watch_member()
    }

    /// The metrics in Prometheus's text format: requests by operation, outcome and
    /// member, latencies, failovers, member health, watch moves, callback queue and
    /// times, registrations (the README lists them). An `InvalidArgument` error when the
    /// metrics setting is off.
    pub fn metrics(&self) -> Result<String> {
        self.shared.usable()?.metrics()
    }

    /// Where `/metrics` is served, when the settings asked for it.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.shared.client.metrics_addr()
    }

    /// The cluster's members as it lists them, the leader marked (`etcdctl member list`).
    pub fn members(&self) -> Result<Vec<ClusterMember>> {
        let client = self.shared.usable()?.clone();
        self.shared
            .runtime
            .block(async move { client.members().await })
    }

    /// Each member's status, asked now (`etcdctl endpoint health` and `status`): see
    /// [`Client::health`].
    pub fn health(&self) -> Result<Vec<MemberStatus>> {
        let client = self.shared.usable()?.clone();
        self.shared
            .runtime
            .block(async move { Ok(client.health().await) })
    }

    /// Cancels every watch, stops both threads and joins them. No callback runs after it
    /// returns, also when other threads close at the same time (they all wait), with two
    /// exceptions that would otherwise deadlock: from inside a callback of this finder,
    /// the current one ends after it returns; from inside a callback of another finder
    /// that this finder's running callback is itself waiting for (closing or cancelling
    /// across finders), that running callback ends after. Idempotent; later calls fail
    /// with [`ErrorKind::Closed`]. Waits as long as a callback runs: see
    /// [`ServiceFinder::close_timeout`].
    pub fn close(&self) {
        self.shared.close(None);
    }

    /// Whether [`ServiceFinder::close`] was called (or the finder was dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// [`ServiceFinder::close`] that waits at most `limit` for a running callback. False
    /// when the callback did not return in time: its dispatcher thread is then abandoned
    /// (it ends when the callback returns, or with the process); the finder is closed
    /// either way.
    pub fn close_timeout(&self, limit: Duration) -> bool {
        self.shared.close(Some(limit))
    }
}

impl Drop for ServiceFinder {
    fn drop(&mut self) {
        if self.shared.forked() {
            // A child after fork(): the parent's threads do not exist here and their locks
            // may be held forever. Touch nothing; the memory goes with the process.
            std::mem::forget(self.shared.clone());
            return;
        }
        // A close that abandoned a stuck callback already said so; dropping waits no more.
        let limit = self
            .shared
            .abandoned
            .load(Ordering::SeqCst)
            .then_some(Duration::ZERO);
        self.shared.close(limit);
    }
}

impl Shared {
    /// True in a child after fork(): this finder's threads belong to the parent.
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// The client, unless closed or forked away from.
    fn usable(&self) -> Result<&Client> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::closed());
        }
        if self.forked() {
            return Err(Error::new(
                ErrorKind::Closed,
                "this finder was made in the parent process before fork(); make a new one in the child",
            ));
        }
        Ok(&self.client)
    }

    fn cancel(&self, id: i64, slot: &Slot) {
        if self.forked() {
            return; // after fork(), see ServiceFinder's Drop
        }
        slot.cancel();
        let removed = self.watches.lock().remove(&id);
        drop(removed);
        self.client.stop_watch(id);
    }

    /// The first caller stops the dispatcher and cancels every watch; every caller then
    /// waits for the dispatcher to end (see [`ServiceFinder::close`]).
    fn close(&self, limit: Option<Duration>) -> bool {
        if self.forked() {
            return true; // see Drop
        }
        if !self.closed.swap(true, Ordering::SeqCst) {
            // Registrations revoke their leases first (their tasks need the runtime).
            let registrations = self.client.registrations();
            registrations.iter().for_each(Registration::signal_stop);
            registrations.iter().for_each(Registration::close);
            // Locks let go and leases revoked in the background are done before the
            // runtime stops (a process that exits after close leaves none for a TTL).
            let client = self.client.clone();
            let limit = self.client.config().deadline + Duration::from_secs(1);
            let _ = self.runtime.block(async move {
                client.settle(limit).await;
                Ok(())
            });
            // Stop first: a callback's release may close this finder again meanwhile.
            self.dispatcher.signal_stop();
            let slots: Vec<(i64, Arc<Slot>)> = self.watches.lock().drain().collect();
            for (id, slot) in slots {
                slot.cancel_now();
                self.client.stop_watch(id);
            }
        }
        let ended = self.dispatcher.stop(limit);
        if !ended {
            self.abandoned.store(true, Ordering::SeqCst);
        }
        self.runtime.stop();
        ended
    }
}

/// A running watch. Dropping the handle does not stop the watch (like the seed's
/// watcher thread, it lives until cancelled or the finder closes); `cancel` does.
pub struct Watch {
    id: i64,
    slot: Arc<Slot>,
    shared: Weak<Shared>,
    last_error: Arc<Mutex<Option<Error>>>,
}

impl Watch {
    /// Stops the watch. Once this returns the callback is never invoked again: it waits
    /// for an invocation running on the dispatcher. From inside that callback, no
    /// invocation follows the current one; from a callback of another finder that the
    /// running invocation is itself waiting for, it returns at once rather than deadlock
    /// (no further invocation starts). Idempotent, safe from any thread.
    pub fn cancel(&self) {
        match self.shared.upgrade() {
            Some(shared) => shared.cancel(self.id, &self.slot),
            None => self.slot.cancel(),
        }
    }

    /// Whether `cancel` was called or the finder closed.
    pub fn is_cancelled(&self) -> bool {
        self.slot.is_cancelled()
    }

    /// The last error the watch reported (it keeps retrying after errors).
    pub fn last_error(&self) -> Option<Error> {
        self.last_error.lock().clone()
    }

    /// This watch's id, unique within its finder.
    pub fn id(&self) -> i64 {
        self.id
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("id", &self.id)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl std::fmt::Debug for ServiceFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFinder")
            .field("endpoints", &self.config().endpoints())
            .field("closed", &self.shared.closed.load(Ordering::SeqCst))
            .finish()
    }
}

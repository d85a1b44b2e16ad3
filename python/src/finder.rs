//! `ServiceFinder` for Python: arguments are taken while holding the interpreter, the
//! blocking work runs detached from it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use turtle_finder::{
    Config, Consistency, Error, ErrorKind, Interrupt, LockOptions, ReadOptions, RegisterOptions,
    WatchOptions, WriteOptions,
};

use crate::candidacy::{self, Candidacy};
use crate::errors::{to_py, IntoPy};
use crate::instances::Instances;
use crate::lock::{Entry, Guard, Held, Leader, Leadership, Lock, LockSession, Lost};
use crate::monitoring::{Member, MemberStatus};
use crate::registration::Registration;
use crate::registry;
use crate::txn::Txn;
use crate::watch::{self, Owner, Watch};

/// A number of seconds as a duration; negative, NaN and infinite are errors naming `what`.
/// Whether zero or a large value is allowed is the core's to say.
fn seconds(what: &str, s: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} must be a number of seconds, not {s}"),
        )
    })
}

/// A Python object as JSON, through `json.dumps`; what it cannot serialize is a TypeError.
fn json_of(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let text: String = py
        .import("json")?
        .call_method1("dumps", (value,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| PyTypeError::new_err(format!("metadata: {e}")))
}

/// The timing keyword arguments of `ServiceFinder`, in seconds.
struct Timings {
    timeout: Option<f64>,
    hedge_after: Option<f64>,
    hedge_floor: Option<f64>,
    connect_timeout: Option<f64>,
    keepalive: Option<(f64, f64)>,
    watch_check: Option<(f64, f64)>,
    leader_check: Option<f64>,
    watch_retry_delay: Option<f64>,
    retry_backoff: Option<(f64, f64)>,
    probe_backoff: Option<(f64, f64)>,
    auto_sync: Option<f64>,
}

/// The TLS, auth and discovery keyword arguments of `ServiceFinder`.
struct Security {
    ca_file: Option<PathBuf>,
    ca_pem: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    server_name: Option<String>,
    user: Option<String>,
    password: Option<String>,
    discovery_srv: Option<String>,
    name_server: Option<String>,
}

impl Security {
    /// `cfg` with every setting given (those of the environment apply first).
    fn apply(self, mut cfg: Config) -> Result<Config, Error> {
        if let Some(ca) = self.ca_file {
            cfg = cfg.with_ca_file(ca);
        }
        if let Some(pem) = self.ca_pem {
            cfg = cfg.with_ca_pem(pem);
        }
        match (self.cert_file, self.key_file) {
            (Some(cert), Some(key)) => cfg = cfg.with_client_cert(cert, key),
            (None, None) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "cert_file and key_file go together",
                ))
            }
        }
        if let Some(name) = self.server_name {
            cfg = cfg.with_server_name(name);
        }
        match (self.user, self.password) {
            (Some(user), Some(password)) => cfg = cfg.with_auth(user, password)?,
            (None, None) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "user and password go together",
                ))
            }
        }
        if let Some(domain) = self.discovery_srv {
            cfg = cfg.with_discovery_srv(&domain)?;
        }
        if let Some(ns) = self.name_server {
            cfg = cfg.with_name_server(&ns)?;
        }
        Ok(cfg)
    }
}

/// The other keyword arguments of `ServiceFinder`.
struct Others {
    prefix: Option<String>,
    serializable: Option<bool>,
    cache: Option<bool>,
    cache_limit: Option<usize>,
    max_queued_changes: Option<usize>,
    max_response_bytes: Option<usize>,
    metrics: Option<bool>,
    metrics_addr: Option<String>,
}

impl Others {
    /// `cfg` with every setting given.
    fn apply(self, mut cfg: Config) -> Result<Config, Error> {
        if let Some(p) = self.prefix {
            cfg = cfg.with_prefix(p)?;
        }
        if let Some(n) = self.max_queued_changes {
            cfg = cfg.with_max_queued_changes(n)?;
        }
        if let Some(n) = self.max_response_bytes {
            cfg = cfg.with_max_response_bytes(n)?;
        }
        if let Some(serializable) = self.serializable {
            cfg = cfg.with_consistency(match serializable {
                true => Consistency::Serializable,
                false => Consistency::Linearizable,
            });
        }
        if let Some(on) = self.cache {
            cfg = cfg.with_cache(on);
        }
        if let Some(n) = self.cache_limit {
            cfg = cfg.with_cache_limit(n)?;
        }
        if let Some(on) = self.metrics {
            cfg = cfg.with_metrics(on);
        }
        if let Some(addr) = self.metrics_addr {
            cfg = cfg.with_metrics_addr(&addr)?;
        }
        Ok(cfg)
    }
}

/// A core setter of one duration, and of two; with the keyword's name and value.
type SetOne<'a> = (&'a str, Option<f64>, fn(Config, Duration) -> Config);
type SetTwo<'a> = (
    &'a str,
    Option<(f64, f64)>,
    fn(Config, Duration, Duration) -> Config,
);

impl Timings {
    /// `cfg` with every timing given applied through the core's setters.
    fn apply(&self, mut cfg: Config) -> Result<Config, Error> {
        let ones: [SetOne; 6] = [
            ("timeout", self.timeout, Config::with_deadline),
            ("hedge_after", self.hedge_after, Config::with_hedge_after),
            ("hedge_floor", self.hedge_floor, Config::with_hedge_floor),
            (
                "connect_timeout",
                self.connect_timeout,
                Config::with_connect_timeout,
            ),
            ("leader_check", self.leader_check, Config::with_leader_check),
            (
                "watch_retry_delay",
                self.watch_retry_delay,
                Config::with_watch_retry_delay,
            ),
        ];
        for (what, value, set) in ones {
            if let Some(s) = value {
                cfg = set(cfg, seconds(what, s)?);
            }
        }
        let twos: [SetTwo; 4] = [
            ("keepalive", self.keepalive, Config::with_keepalive),
            ("watch_check", self.watch_check, Config::with_watch_check),
            (
                "retry_backoff",
                self.retry_backoff,
                Config::with_retry_backoff,
            ),
            (
                "probe_backoff",
                self.probe_backoff,
                Config::with_probe_backoff,
            ),
        ];
        for (what, value, set) in twos {
            if let Some((a, b)) = value {
                cfg = set(cfg, seconds(what, a)?, seconds(what, b)?);
            }
        }
        if let Some(every) = self.auto_sync {
            cfg = cfg.with_auto_sync(seconds("auto_sync", every)?);
        }
        Ok(cfg)
    }
}

/// The settings for `endpoints`: a str ("a:1,b:2"), a list of str, or None (from
/// `TURTLE_ENDPOINTS`).
fn endpoints_config(endpoints: Option<&Bound<'_, PyAny>>) -> PyResult<Result<Config, Error>> {
    let given = match endpoints {
        None => return Ok(Config::from_env()),
        Some(e) if e.is_instance_of::<PyString>() => Config::new([e.extract::<String>()?]),
        Some(e) => {
            let list: Vec<String> = e.extract().map_err(|_| {
                PyTypeError::new_err("endpoints must be a str, a list of str, or None")
            })?;
            Config::new(list)
        }
    };
    Ok(given.and_then(Config::with_env_settings))
}

/// Service lookups and watches on an etcd v3 cluster.
#[pyclass(module = "turtle_finder._native", frozen)]
pub(crate) struct ServiceFinder {
    pub(crate) inner: Arc<turtle_finder::ServiceFinder>,
}

#[pymethods]
impl ServiceFinder {
    #[new]
    #[pyo3(signature = (
        endpoints=None, *, prefix=None, timeout=None, serializable=None, cache=None,
        cache_limit=None, max_queued_changes=None, max_response_bytes=None, hedge_after=None,
        hedge_floor=None, connect_timeout=None, keepalive=None, watch_check=None, leader_check=None,
        watch_retry_delay=None, retry_backoff=None, probe_backoff=None, ca_file=None,
        ca_pem=None, cert_file=None, key_file=None, server_name=None, user=None,
        password=None, discovery_srv=None, name_server=None, auto_sync=None, metrics=None,
        metrics_addr=None,
    ))]
    // One keyword argument per setting of the core's Config, as Python callers expect;
    // each defaults to None, the core's default (the core's settings table checks them).
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        endpoints: Option<&Bound<'_, PyAny>>,
        prefix: Option<String>,
        timeout: Option<f64>,
        serializable: Option<bool>,
        cache: Option<bool>,
        cache_limit: Option<usize>,
        max_queued_changes: Option<usize>,
        max_response_bytes: Option<usize>,
        hedge_after: Option<f64>,
        hedge_floor: Option<f64>,
        connect_timeout: Option<f64>,
        keepalive: Option<(f64, f64)>,
        watch_check: Option<(f64, f64)>,
        leader_check: Option<f64>,
        watch_retry_delay: Option<f64>,
        retry_backoff: Option<(f64, f64)>,
        probe_backoff: Option<(f64, f64)>,
        ca_file: Option<PathBuf>,
        ca_pem: Option<String>,
        cert_file: Option<PathBuf>,
        key_file: Option<PathBuf>,
        server_name: Option<String>,
        user: Option<String>,
        password: Option<String>,
        discovery_srv: Option<String>,
        name_server: Option<String>,
        auto_sync: Option<f64>,
        metrics: Option<bool>,
        metrics_addr: Option<String>,
    ) -> PyResult<ServiceFinder> {
        #[rustfmt::skip]
        let timings = Timings { timeout, hedge_after, hedge_floor, connect_timeout, keepalive, watch_check, leader_check, watch_retry_delay, retry_backoff, probe_backoff, auto_sync };
        #[rustfmt::skip]
        let security = Security { ca_file, ca_pem, cert_file, key_file, server_name, user, password, discovery_srv, name_server };
        #[rustfmt::skip]
        let others = Others { prefix, serializable, cache, cache_limit, max_queued_changes, max_response_bytes, metrics, metrics_addr };
        let cfg = endpoints_config(endpoints)?
            .and_then(|cfg| security.apply(cfg))
            .and_then(|cfg| others.apply(cfg))
            .and_then(|cfg| timings.apply(cfg));
        let cfg = cfg.py(py)?;
        let inner = Arc::new(
            py.detach(|| turtle_finder::ServiceFinder::new(cfg))
                .py(py)?,
        );
        registry::register(&inner);
        Ok(ServiceFinder { inner })
    }

    /// The value of service `name` as text, or None when absent. Blocks at most `timeout`
    /// seconds (default: the finder's); the GIL is released meanwhile and Ctrl-C ends it.
    /// `serializable` overrides the finder's read consistency for this call.
    #[pyo3(signature = (name, *, timeout=None, serializable=None))]
    fn get_service(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: Option<f64>,
        serializable: Option<bool>,
    ) -> PyResult<Option<String>> {
        match self.lookup(py, name, timeout, serializable)? {
            None => Ok(None),
            Some(v) => turtle_finder::value_text(name, v).map(Some).py(py),
        }
    }

    /// The value of service `name` as bytes, or None when absent.
    #[pyo3(signature = (name, *, timeout=None, serializable=None))]
    fn get_service_bytes<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        timeout: Option<f64>,
        serializable: Option<bool>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self
            .lookup(py, name, timeout, serializable)?
            .map(|v| PyBytes::new(py, &v)))
    }

    /// Calls `callback(new_value)` on the finder's dispatcher thread after every change of
    /// service `name` (None when deleted; bytes when the value is not UTF-8), one callback at
    /// a time. With `changes=True` it gets a `Change` instead. `initial=True` delivers the
    /// current value first. `on_error(exc)` hears of trouble the watch keeps retrying through.
    /// The watch lives until cancelled or the finder closes, whether or not the returned
    /// handle is kept. A callback that raises is reported through `sys.unraisablehook`
    /// and the watch goes on; `sys.exit()` in a callback ends just that watch, as it ends
    /// a thread.
    #[pyo3(signature = (name, callback, *, initial=false, changes=false, on_error=None))]
    fn watch_service(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        callback: Bound<'_, PyAny>,
        initial: bool,
        changes: bool,
        on_error: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Watch> {
        let (callback, on_error) = watch::callables(callback, on_error)?;
        let owner = Arc::new(Owner::default());
        let on_change = watch::on_change(callback, changes, owner.clone());
        let finder = &slf.get().inner;
        let watch = set_up_watch(py, initial, on_error, |opts| {
            finder.watch_service_with(name, opts, on_change)
        })?;
        Ok(Watch::started(watch, &owner, slf.clone().unbind()))
    }

    /// The registered instances of service `name` (the entries under `<prefix><name>/`),
    /// ordered by id. Blocks at most `timeout` seconds; Ctrl-C ends it. `serializable`
    /// overrides the finder's read consistency for this call.
    #[pyo3(signature = (name, *, timeout=None, serializable=None))]
    fn instances(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: Option<f64>,
        serializable: Option<bool>,
    ) -> PyResult<Instances> {
        let opts = read_options(timeout, serializable).py(py)?;
        let finder = &self.inner;
        let list = interruptible(py, |interrupt| {
            let opts = ReadOptions {
                interrupt: Some(interrupt),
                ..opts
            };
            finder.instances_with(name, opts)
        })?;
        Ok(Instances::new(list))
    }

    /// Calls `callback(instances)` on the finder's dispatcher thread with the full list of
    /// service `name`'s instances: the current one first (unless `initial=False`), then
    /// after every change. `on_error(exc)` hears of trouble the watch keeps retrying
    /// through. As `watch_service`, the watch lives until cancelled or the finder closes.
    #[pyo3(signature = (name, callback, *, initial=true, on_error=None))]
    fn watch_instances(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        callback: Bound<'_, PyAny>,
        initial: bool,
        on_error: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Watch> {
        let (callback, on_error) = watch::callables(callback, on_error)?;
        let owner = Arc::new(Owner::default());
        let each = watch::on_instances(callback, owner.clone());
        let finder = &slf.get().inner;
        let watch = set_up_watch(py, initial, on_error, |opts| {
            finder.watch_instances_with(name, opts, each)
        })?;
        Ok(Watch::started(watch, &owner, slf.clone().unbind()))
    }

    /// Registers an instance of service `name` at `addr`: the key
    /// `<prefix><name>/<instance_id or addr>` holding `{"Addr": addr, "Metadata":
    /// metadata}` (etcd's Go endpoints format; `metadata` is anything `json.dumps` takes),
    /// bound to a lease of `ttl` whole seconds (default 10) kept alive in the background and renewed
    /// when lost. `on_state(state)` and `on_error(exc)` run on the dispatcher thread. A
    /// context manager: leaving it revokes the lease at once.
    #[pyo3(signature = (name, addr, ttl=None, metadata=None, *, instance_id=None, on_state=None, on_error=None))]
    #[allow(clippy::too_many_arguments)] // the keyword arguments of a Python method
    fn register(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        addr: &str,
        ttl: Option<f64>,
        metadata: Option<Bound<'_, PyAny>>,
        instance_id: Option<String>,
        on_state: Option<Bound<'_, PyAny>>,
        on_error: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Registration> {
        let ttl = match ttl {
            Some(t) => seconds("ttl", t).py(py)?,
            None => turtle_finder::DEFAULT_TTL,
        };
        let metadata = match metadata {
            None => serde_json::Value::Null,
            Some(m) => json_of(py, &m)?,
        };
        let (on_state, on_error) = watch::optional_callables(on_state, on_error)?;
        let opts = RegisterOptions {
            ttl,
            metadata,
            instance_id,
            ..RegisterOptions::default()
        }
        .on_state(watch::on_state(on_state))
        .on_error(watch::on_error(on_error));
        let finder = &slf.get().inner;
        // Interruptible like a lookup (Ctrl-C); a lease granted meanwhile is revoked.
        let reg = interruptible(py, |interrupt| {
            let opts = RegisterOptions {
                interrupt: Some(interrupt),
                ..opts
            };
            finder.register(name, addr, opts)
        })?;
        Ok(Registration::new(reg, slf.clone().unbind()))
    }

    /// Takes the lock `name` (the name `etcdctl lock` and Go's `concurrency.Mutex` use:
    /// the same name is the same lock) on a lease of `ttl` whole seconds, waiting at most
    /// `timeout` seconds (None: until it is had). Raises `DeadlineExceededError` when the
    /// wait ran out and `SessionLostError` when its lease died meanwhile; Ctrl-C ends the
    /// wait. Every failure leaves no waiter key. A context manager: leaving it unlocks.
    /// With `session` (from `lock_session`) the lock stands on that shared lease (`ttl` is
    /// the session's): no lease granted or revoked for it.
    #[pyo3(signature = (name, ttl=10.0, timeout=None, *, session=None))]
    fn lock(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        ttl: f64,
        timeout: Option<f64>,
        session: Option<PyRef<'_, LockSession>>,
    ) -> PyResult<Lock> {
        let opts = lock_options(py, ttl, timeout, session)?;
        let got = Self::take_lock(slf, py, name, opts, true)?;
        got.ok_or_else(|| {
            to_py(
                py,
                &Error::new(ErrorKind::Internal, "a waited lock came back unheld"),
            )
        })
    }

    /// Takes the lock `name` if nobody holds it: a `Lock`, or None when somebody does.
    #[pyo3(signature = (name, ttl=10.0, *, session=None))]
    fn try_lock(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        ttl: f64,
        session: Option<PyRef<'_, LockSession>>,
    ) -> PyResult<Option<Lock>> {
        let opts = lock_options(py, ttl, None, session)?;
        Self::take_lock(slf, py, name, opts, false)
    }

    /// A lease of `ttl` whole seconds kept alive for locks and elections to share
    /// (`lock(..., session=s)`, `campaign(..., session=s)`): a lock on it costs no grant
    /// and no revoke; one lock per name on it at a time. `close()` (or leaving its `with`
    /// block, or closing the finder) revokes it, which loses its locks.
    #[pyo3(signature = (ttl=10.0))]
    fn lock_session(slf: &Bound<'_, Self>, py: Python<'_>, ttl: f64) -> PyResult<LockSession> {
        let ttl = seconds("ttl", ttl).py(py)?;
        let f = slf.get().inner.clone();
        let inner = py.detach(move || f.lock_session(ttl)).py(py)?;
        Ok(LockSession {
            inner,
            _finder: slf.clone().unbind(),
        })
    }

    /// The etcd key `key` (a whole key) as an `Entry`, or None when absent; a linearizable
    /// read.
    fn get(&self, py: Python<'_>, key: &str) -> PyResult<Option<Entry>> {
        let f = self.inner.clone();
        let got = py.detach(move || f.get(key)).py(py)?;
        Ok(got.map(Entry::new))
    }

    /// Writes `value` (str or bytes) at the etcd key `key`: only while the lock `if_owner`
    /// is held and/or only while the key's mod revision is `if_revision` (0: while the key
    /// is absent). A failed condition raises `ConditionFailedError` and writes nothing.
    /// Returns the revision of the write.
    #[pyo3(signature = (key, value, *, if_owner=None, if_revision=None))]
    fn put(
        &self,
        py: Python<'_>,
        key: &str,
        value: &Bound<'_, PyAny>,
        if_owner: Option<PyRef<'_, Lock>>,
        if_revision: Option<i64>,
    ) -> PyResult<i64> {
        let bytes = bytes_of(value)?;
        let opts = write_options(if_owner, if_revision);
        let f = self.inner.clone();
        py.detach(move || f.put(key, &bytes, opts)).py(py)
    }

    /// Deletes the etcd key `key`, under the conditions of `put`. Returns the revision.
    #[pyo3(signature = (key, *, if_owner=None, if_revision=None))]
    fn delete(
        &self,
        py: Python<'_>,
        key: &str,
        if_owner: Option<PyRef<'_, Lock>>,
        if_revision: Option<i64>,
    ) -> PyResult<i64> {
        let opts = write_options(if_owner, if_revision);
        let f = self.inner.clone();
        py.detach(move || f.delete(key, opts)).py(py)
    }

    /// Campaigns in election `name` (the name `etcdctl elect` and Go's
    /// `concurrency.Election` use) with `value` (str or bytes) on a lease of `ttl` whole
    /// seconds, waiting at most `timeout` seconds (None: until it leads). A `Leadership`,
    /// a context manager that resigns on exit; raises as `lock` does. `session` as for
    /// `lock`.
    #[pyo3(signature = (name, value, ttl=10.0, timeout=None, *, session=None))]
    fn campaign(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        value: &Bound<'_, PyAny>,
        ttl: f64,
        timeout: Option<f64>,
        session: Option<PyRef<'_, LockSession>>,
    ) -> PyResult<Leadership> {
        let value = bytes_of(value)?;
        let (opts, lost) = lock_options(py, ttl, timeout, session)?;
        let finder = &slf.get().inner;
        let l = interruptible(py, |interrupt| {
            let opts = LockOptions {
                interrupt: Some(interrupt),
                ..opts
            };
            finder.campaign(name, &value, opts)
        })?;
        let held = Held::new(py, Guard::Lead(l), lost, slf.clone().unbind())?;
        Ok(Leadership { held })
    }

    /// Runs for leader of election `name` with `value` (str or bytes) on a lease of `ttl`
    /// whole seconds per campaign, until the returned `Candidacy` is stopped:
    /// `on_elected(leader)` after each win, `on_lost(exc)` (a `SessionLostError`) after
    /// each loss, both on the dispatcher thread; it campaigns again after a loss, and
    /// after a failed campaign with a backoff.
    #[pyo3(signature = (name, value, on_elected, on_lost=None, ttl=10.0))]
    fn run_for_leader(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        value: &Bound<'_, PyAny>,
        on_elected: Bound<'_, PyAny>,
        on_lost: Option<Bound<'_, PyAny>>,
        ttl: f64,
    ) -> PyResult<Candidacy> {
        let value = bytes_of(value)?;
        let (on_elected, on_lost) = watch::callables(on_elected, on_lost)?;
        let opts = LockOptions {
            ttl: seconds("ttl", ttl).py(py)?,
            ..LockOptions::default()
        };
        let (elected, lost) = (candidacy::on_elected(on_elected), watch::on_error(on_lost));
        let finder = slf.get().inner.clone();
        let inner = py
            .detach(move || finder.run_for_leader(name, &value, opts, elected, Arc::new(lost)))
            .py(py)?;
        let _finder = slf.clone().unbind();
        Ok(Candidacy { inner, _finder })
    }

    /// A new transaction: `finder.txn().when(*compares).then(*ops).otherwise(*ops)
    /// .commit()`; see `Txn`.
    fn txn(slf: &Bound<'_, Self>) -> Txn {
        Txn::new(slf.clone().unbind())
    }

    /// The leader of election `name` now (a linearizable read): a `Leader`, or None.
    fn leader(&self, py: Python<'_>, name: &str) -> PyResult<Option<Leader>> {
        let f = self.inner.clone();
        let got = py.detach(move || f.leader(name)).py(py)?;
        Ok(got.map(Leader::new))
    }

    /// Calls `callback(leader)` on the dispatcher thread with the leader of election
    /// `name` first, then each time the leader or its value changes (None: there is none),
    /// resumed across failover and compaction like every watch.
    fn observe(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<Watch> {
        let (callback, _) = watch::callables(callback, None)?;
        let owner = Arc::new(Owner::default());
        let each = watch::on_leader(callback, owner.clone());
        let finder = slf.get().inner.clone();
        let w = py.detach(move || finder.observe(name, each)).py(py)?;
        Ok(Watch::started(w, &owner, slf.clone().unbind()))
    }

    /// Cancels every watch and stops the finder's threads; later calls raise ClosedError.
    /// No callback runs after it returns (from inside a callback: none after the current
    /// one). With `timeout` (seconds) it waits at most that long for a running callback,
    /// then abandons the finder's dispatcher thread with a RuntimeWarning; without, it
    /// waits as long as the callback runs. Returns whether it ended cleanly.
    #[pyo3(signature = (*, timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let limit = timeout.map(|t| seconds("timeout", t)).transpose().py(py)?;
        let f = self.inner.clone();
        let ended = py.detach(move || match limit {
            None => {
                f.close();
                true
            }
            Some(limit) => f.close_timeout(limit),
        });
        if !ended {
            registry::warn_abandoned(py, limit.unwrap_or_default())?;
        }
        Ok(ended)
    }

    /// The metrics in Prometheus's text format (requests, latencies, failovers, member
    /// health, watch moves, callback queue and times, registrations). InvalidArgumentError
    /// when made with `metrics=False`.
    fn metrics(&self, py: Python<'_>) -> PyResult<String> {
        let f = &self.inner;
        py.detach(|| f.metrics()).py(py)
    }

    /// Where `/metrics` is served ("ip:port"), or None.
    #[getter]
    fn metrics_addr(&self) -> Option<String> {
        self.inner.metrics_addr().map(|a| a.to_string())
    }

    /// The cluster's members, the leader marked (what `etcdctl member list` shows).
    /// Blocks at most the finder's timeout.
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Member>> {
        let f = &self.inner;
        let list = py.detach(|| f.members()).py(py)?;
        Ok(list.into_iter().map(Member::from).collect())
    }

    /// Every member's status, asked now, all at once (what `etcdctl endpoint health` and
    /// `endpoint status` show); a member silent for about a second is unreachable.
    fn health(&self, py: Python<'_>) -> PyResult<Vec<MemberStatus>> {
        let f = &self.inner;
        let list = py.detach(|| f.health()).py(py)?;
        Ok(list.into_iter().map(MemberStatus::from).collect())
    }

    /// Whether `close()` was called (or the finder was closed at exit).
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The configured endpoints.
    #[getter]
    fn endpoints(&self) -> Vec<String> {
        self.inner
            .config()
            .endpoints()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py, None)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match self.inner.is_closed() {
            true => format!("ServiceFinder({:?}, closed)", self.endpoints()),
            false => format!("ServiceFinder({:?})", self.endpoints()),
        }
    }
}

impl ServiceFinder {
    fn lookup(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: Option<f64>,
        serializable: Option<bool>,
    ) -> PyResult<Option<Vec<u8>>> {
        let opts = read_options(timeout, serializable).py(py)?;
        let finder = &self.inner;
        interruptible(py, |interrupt| {
            let opts = ReadOptions {
                interrupt: Some(interrupt),
                ..opts
            };
            finder.get_service_bytes(name, opts)
        })
    }
}

/// A watch's set-up, which Ctrl-C ends: `start` with the options `initial` and `on_error`
/// ask for.
fn set_up_watch(
    py: Python<'_>,
    initial: bool,
    on_error: Option<Py<PyAny>>,
    start: impl FnOnce(WatchOptions) -> Result<turtle_finder::Watch, Error> + Send,
) -> PyResult<turtle_finder::Watch> {
    let opts = WatchOptions {
        initial,
        ..WatchOptions::default()
    }
    .on_error(watch::on_error(on_error));
    interruptible(py, |interrupt| {
        start(WatchOptions {
            interrupt: Some(interrupt),
            ..opts
        })
    })
}

/// The options of one read: its deadline and consistency, when given.
fn read_options(timeout: Option<f64>, serializable: Option<bool>) -> Result<ReadOptions, Error> {
    let deadline = timeout.map(|t| seconds("timeout", t)).transpose()?;
    let consistency = serializable.map(|s| match s {
        true => Consistency::Serializable,
        false => Consistency::Linearizable,
    });
    Ok(ReadOptions {
        deadline,
        consistency,
        ..ReadOptions::default()
    })
}

/// A lock's or campaign's options, its loss going to the returned `Lost`.
fn lock_options(
    py: Python<'_>,
    ttl: f64,
    timeout: Option<f64>,
    session: Option<PyRef<'_, LockSession>>,
) -> PyResult<(LockOptions, Arc<Lost>)> {
    let ttl = seconds("ttl", ttl).py(py)?;
    let timeout = timeout.map(|t| seconds("timeout", t)).transpose().py(py)?;
    let lost = Arc::new(Lost::default());
    let opts = LockOptions {
        ttl,
        timeout,
        on_lost: Some(Lost::callback(&lost)),
        interrupt: None,
        session: session.map(|s| s.inner.clone()),
    };
    Ok((opts, lost))
}

/// A str or bytes value as bytes; anything else is a TypeError.
pub(crate) fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.extract::<String>()?.into_bytes()),
        Err(_) => match value.cast::<PyBytes>() {
            Ok(b) => Ok(b.as_bytes().to_vec()),
            Err(_) => Err(PyTypeError::new_err("value must be str or bytes")),
        },
    }
}

/// The conditions of a write.
fn write_options(if_owner: Option<PyRef<'_, Lock>>, if_revision: Option<i64>) -> WriteOptions {
    WriteOptions {
        if_owner: if_owner.map(|l| l.held.fence()),
        if_revision,
    }
}

impl ServiceFinder {
    /// `lock` and `try_lock`: the TTL checked, Ctrl-C ends the wait.
    fn take_lock(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        name: &str,
        (opts, lost): (LockOptions, Arc<Lost>),
        wait: bool,
    ) -> PyResult<Option<Lock>> {
        let finder = &slf.get().inner;
        let got = interruptible(py, |interrupt| {
            let opts = LockOptions {
                interrupt: Some(interrupt),
                ..opts
            };
            match wait {
                true => finder.lock(name, opts).map(Some),
                false => finder.try_lock(name, opts),
            }
        })?;
        let held = got.map(|g| Held::new(py, Guard::Lock(g), lost, slf.clone().unbind()));
        Ok(held.transpose()?.map(|held| Lock { held }))
    }
}

/// Runs a blocking call detached from the interpreter, with Python's signal handlers run
/// (on the main thread) while it waits: when one raises (Ctrl-C), the call gives up and
/// that exception is what the caller gets.
fn interruptible<T: Send>(
    py: Python<'_>,
    call: impl FnOnce(Interrupt) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let said = raised.clone();
    let interrupt: Interrupt = Arc::new(move || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *said.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                true
            }
        })
    });
    match py.detach(|| call(interrupt)) {
        Err(e) if e.kind() == ErrorKind::Interrupted => Err(raised
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| to_py(py, &e))),
        other => other.py(py),
    }
}

impl Drop for ServiceFinder {
    fn drop(&mut self) {
        // Closing joins the dispatcher, which may be waiting for the GIL: let go of it.
        let f = self.inner.clone();
        if Python::try_attach(|py| py.detach(|| f.close())).is_none() {
            self.inner.close();
        }
    }
}

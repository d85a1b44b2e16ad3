//! The failover pool: one lazily connected channel per member, health tracking,
//! hedged retries across members inside a deadline, and background re-probes.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::auth::Auth;
use crate::config::{Config, Consistency};
use crate::delivery::KeyValue;
use crate::discovery::{self, Discovery};
use crate::endpoints::Endpoint;
use crate::error::{Attempt, Error, ErrorKind, Result};
use crate::failure::{classify, token_refused, Failure};
pub use crate::member::MemberHealth;
use crate::member::{Connector, Member};
use crate::metrics::{Metrics, Outcome};
use crate::retry::Op;

/// The members of one client. Requests stick to one member (the preferred) while it
/// answers, so one connection carries the load and "the member serving" is well defined.
/// The set of members may change (auto-sync, DNS SRV discovery); a request works on the
/// set it started with.
pub(crate) struct Pool {
    members: ArcSwap<Vec<Arc<Member>>>,
    /// The preferred member's place in `members`.
    preferred: AtomicUsize,
    pub(crate) cfg: Arc<Config>,
    connector: Connector,
    /// Asks the membership task to look the members up again now.
    look_again: Notify,
    pub(crate) metrics: Arc<Metrics>,
}

/// An endless exponential backoff with jitter from `min` up to `max`.
pub(crate) fn backoff((min, max): (Duration, Duration)) -> impl Iterator<Item = Duration> + Send {
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_jitter()
        .without_max_times()
        .build()
}

impl Pool {
    /// Creates the channels (nothing connects until the first request), after reading the
    /// TLS files and, with DNS SRV discovery, the members' records.
    pub(crate) async fn new(cfg: Arc<Config>) -> Result<Arc<Pool>> {
        let tls = match cfg.tls.is_set() || cfg.endpoints.iter().any(Endpoint::is_tls) {
            true => Some(cfg.tls.client_config()?),
            false => None,
        };
        let auth = cfg.auth.clone().map(|c| Arc::new(Auth::new(c)));
        let endpoints = match &cfg.discovery {
            None => cfg.endpoints.clone(),
            Some(domain) => discovery::resolve(&discovery_of(&cfg, domain), cfg.deadline).await?,
        };
        let connector = Connector {
            cfg: cfg.clone(),
            tls,
            auth,
        };
        let mut members = Vec::with_capacity(endpoints.len());
        for endpoint in &endpoints {
            members.push(Arc::new(connector.member(endpoint).await?));
        }
        let pool = Arc::new(Pool {
            members: ArcSwap::from_pointee(members),
            preferred: AtomicUsize::new(0),
            metrics: Arc::new(Metrics::new(cfg.metrics)?),
            cfg,
            connector,
            look_again: Notify::new(),
        });
        if pool.cfg.auto_sync.is_some() || pool.cfg.discovery.is_some() {
            tokio::spawn(membership(Arc::downgrade(&pool)));
        }
        Ok(pool)
    }

    /// Members in the order to try: the preferred first, healthy before unhealthy.
    pub(crate) fn order(&self) -> Vec<Arc<Member>> {
        let members = self.members.load();
        let n = members.len();
        let p = self.preferred.load(Ordering::Relaxed) % n;
        let ring = (0..n).map(|i| &members[(p + i) % n]);
        let (mut ok, bad): (Vec<_>, Vec<_>) = ring.cloned().partition(|m| m.is_healthy());
        ok.extend(bad);
        ok
    }

    /// The members, as configured or learned.
    pub(crate) fn all(&self) -> Vec<Arc<Member>> {
        self.members.load().to_vec()
    }

    /// How many members the pool has (at least one).
    pub(crate) fn member_count(&self) -> usize {
        self.members.load().len()
    }

    /// The endpoint requests go to first.
    pub(crate) fn preferred(&self) -> Endpoint {
        let members = self.members.load();
        members[self.preferred.load(Ordering::Relaxed) % members.len()]
            .endpoint
            .clone()
    }

    /// Each member's health.
    pub(crate) fn health(&self) -> Vec<MemberHealth> {
        self.members.load().iter().map(|m| m.report()).collect()
    }

    /// The metrics text, each member's health as it is now.
    pub(crate) fn metrics_text(&self) -> Result<String> {
        let members: Vec<(String, bool)> = (self.members.load().iter())
            .map(|m| (m.label.clone(), m.is_healthy()))
            .collect();
        self.metrics.render(&members)
    }

    pub(crate) fn mark_ok(&self, m: &Arc<Member>) {
        if let Some(i) = self.members.load().iter().position(|x| Arc::ptr_eq(x, m)) {
            self.preferred.store(i, Ordering::Relaxed);
        }
        m.set_healthy(true);
    }

    /// Takes the member out of the preferred rotation until a background probe answers.
    pub(crate) fn mark_failed(&self, m: &Arc<Member>, reason: &str) {
        fail(m, reason, self.cfg.probe_backoff, self.cfg.connect_timeout);
    }

    /// Checks a member that lost a hedge race (silent for `silent` while another answered):
    /// in the background, it is asked for its status, and marked failed only when that goes
    /// unanswered for the connect timeout. A member slow once stays healthy; a hung one is
    /// taken out (reads have moved to the winner meanwhile).
    pub(crate) fn check(&self, m: &Arc<Member>, silent: Duration) {
        if !m.is_healthy() || !m.start_check() {
            return;
        }
        let (m, metrics) = (m.clone(), self.metrics.clone());
        let (pause, limit) = (self.cfg.probe_backoff, self.cfg.connect_timeout);
        tokio::spawn(async move {
            let answer = status_within(&m, limit).await;
            let outcome = answer.as_ref().map_or_else(|(o, _)| *o, |()| Outcome::Ok);
            metrics.request("status_check", &m.label, outcome);
            m.end_check();
            if let Err((_, why)) = answer {
                let reason = format!("no answer to a read within {silent:?}; status check: {why}");
                fail(&m, &reason, pause, limit);
            }
        });
    }

    /// Whether auth is on.
    pub(crate) fn has_auth(&self) -> bool {
        self.connector.auth.is_some()
    }

    /// With auth on and no token yet, obtains one through `m` (before a stream opens:
    /// its token goes with its start).
    pub(crate) async fn ensure_token(
        &self,
        m: &Member,
    ) -> std::result::Result<(), etcd_client::Error> {
        match &self.connector.auth {
            Some(auth) if auth.token().is_none() => auth.renew(&mut m.auth.clone(), &None).await,
            _ => Ok(()),
        }
    }

    /// Drops the auth token: the next request obtains a fresh one.
    pub(crate) fn forget_token(&self) {
        if let Some(auth) = &self.connector.auth {
            auth.forget();
        }
    }

    /// Replaces the members by those at `endpoints`: the ones already there stay (with
    /// their connections and health), the others are made, the rest leave. An empty list
    /// changes nothing.
    async fn set_members(&self, endpoints: &[Endpoint]) -> Result<()> {
        if endpoints.is_empty() {
            return Ok(());
        }
        let now = self.members.load_full();
        let mut next = Vec::with_capacity(endpoints.len());
        for e in endpoints {
            match now.iter().find(|m| &m.endpoint == e) {
                Some(m) => next.push(m.clone()),
                None => next.push(Arc::new(self.connector.member(e).await?)),
            }
        }
        let same =
            next.len() == now.len() && next.iter().zip(now.iter()).all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            self.members.store(Arc::new(next));
        }
        Ok(())
    }

    /// The cluster's members as it lists them: a client URL of each (https when TLS is
    /// set, else http, else what there is).
    async fn listed_members(&self) -> Result<Vec<Endpoint>> {
        let listed = self
            .run(Op::MEMBER_LIST, self.cfg.deadline, |m| {
                let mut c = m.cluster.clone();
                async move { c.member_list().await }
            })
            .await?;
        let tls = self.connector.tls.is_some();
        let mut out = Vec::new();
        for member in listed.members() {
            let urls = member.client_urls();
            let pick = (urls.iter())
                .find(|u| u.starts_with("https://") == tls)
                .or_else(|| urls.first());
            if let Some(e) = pick.and_then(|u| Endpoint::parse(u).ok()) {
                if !out.contains(&e) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// Reads one key: the value with its mod revision, and the read's revision.
    pub(crate) async fn read(
        &self,
        op: Op,
        key: &[u8],
        deadline: Duration,
        consistency: Consistency,
    ) -> Result<(Option<(Vec<u8>, i64)>, i64)> {
        let (kvs, rev) = self
            .read_range(op, key, None, deadline, consistency)
            .await?;
        let first = kvs.into_iter().next();
        Ok((
            first.map(|kv| (kv.value.unwrap_or_default(), kv.revision)),
            rev,
        ))
    }

    /// Reads the keys from `key` up to `range_end` (just `key` without one), and the
    /// read's revision.
    pub(crate) async fn read_range(
        &self,
        op: Op,
        key: &[u8],
        range_end: Option<&[u8]>,
        deadline: Duration,
        consistency: Consistency,
    ) -> Result<(Vec<KeyValue>, i64)> {
        let mut opts = etcd_client::GetOptions::new();
        if consistency == Consistency::Serializable {
            opts = opts.with_serializable();
        }
        if let Some(end) = range_end {
            opts = opts.with_range(end);
        }
        let read = self.run(op, deadline, |m| {
            let mut kv = m.kv.clone();
            let (key, opts) = (key.to_vec(), opts.clone());
            async move {
                let resp = kv.get(key, Some(opts)).await?;
                let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
                let kvs = (resp.kvs().iter())
                    .map(|kv| KeyValue {
                        key: kv.key().to_vec(),
                        value: Some(kv.value().to_vec()),
                        revision: kv.mod_revision(),
                    })
                    .collect();
                Ok((kvs, rev))
            }
        });
        read.await.map_err(|e| match e.kind() {
            ErrorKind::PermissionDenied => Error::new(
                ErrorKind::PermissionDenied,
                format!("reading {}: {}", String::from_utf8_lossy(key), e.message()),
            ),
            _ => e,
        })
    }

    /// Runs `call` on members until one succeeds or `deadline` passes, as `op`'s retry
    /// policy allows.
    ///
    /// The preferred member is asked first. If it fails with a connection error or a
    /// retryable status, the next member is asked at once (a write only when the failure
    /// says it cannot have been applied, or when it is idempotent). A read whose member is
    /// silent for the hedge delay (twice its recent 95th percentile latency, between
    /// `hedge_floor` and `hedge_after`) is also sent to the next member and the first
    /// answer wins; an idempotent write is given up on that member after the connect
    /// timeout and sent to the next; other writes wait for their answer. After every
    /// member failed, the next round waits an exponential, jittered backoff.
    pub(crate) async fn run<T, F, Fut>(&self, op: Op, deadline: Duration, call: F) -> Result<T>
    where
        F: Fn(Arc<Member>) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let mut round = Round::new(self, op, deadline);
        let first = round.next_due(self).expect("a pool has members");
        let (auth, silence) = (self.connector.auth.as_deref(), round.silence);
        let try_on = |m| Box::pin(attempt(auth, silence, m, &call));
        let mut first_attempt = try_on(first);
        // The common case costs one timer: the preferred member answers before the hedge.
        let early = tokio::select! {
            biased;
            r = &mut first_attempt => Some(r),
            _ = sleep_until(round.launch_at.min(round.end)) => None,
        };
        let mut inflight = FuturesUnordered::new();
        match early {
            Some((m, res)) => {
                if let Some(v) = round.settle(self, &m, res).transpose() {
                    return round.done(self, v);
                }
            }
            None => inflight.push(first_attempt),
        }
        loop {
            if let Some(m) = round.next_due(self) {
                inflight.push(try_on(m));
                continue;
            }
            tokio::select! {
                biased;
                Some((m, res)) = inflight.next(), if !inflight.is_empty() => {
                    if let Some(v) = round.settle(self, &m, res).transpose() {
                        return round.done(self, v);
                    }
                }
                _ = sleep_until(round.launch_at) => {}
                _ = sleep_until(round.end) => {
                    let e = round.expire(self, deadline);
                    return round.done(self, Err(e));
                }
            }
        }
    }
}

/// The bookkeeping of one [`Pool::run`]: who was asked when, what failed, who is next.
struct Round {
    op: Op,
    start: Instant,
    end: Instant,
    /// How long a read waits for one member before also asking the next.
    hedge: Duration,
    /// How long an idempotent write waits for one member before giving up on it.
    silence: Option<Duration>,
    /// When the next member is due to be asked.
    launch_at: Instant,
    /// Members not yet asked in this round, the next at the back.
    cycle: Vec<Arc<Member>>,
    pauses: Box<dyn Iterator<Item = Duration> + Send>,
    failures: Vec<Attempt>,
    /// Some member gave a (retryable) answer: running out of time is then a deadline,
    /// not unavailability.
    answered: bool,
    /// Members with an attempt in flight, and when it started.
    pending: Vec<(Arc<Member>, Instant)>,
    /// The member asked first.
    first: Option<Arc<Member>>,
}

impl Round {
    fn new(pool: &Pool, op: Op, deadline: Duration) -> Round {
        let start = Instant::now();
        let mut cycle = pool.order();
        cycle.reverse(); // popped from the back
        let (floor, cap) = (pool.cfg.hedge_floor, pool.cfg.hedge_after);
        let hedge = cycle.last().map_or(cap, |m| m.hedge_delay(floor, cap));
        Round {
            op,
            start,
            end: start + deadline.min(crate::config::MAX_DURATION),
            hedge,
            silence: op.gives_up_on_silence().then_some(pool.cfg.connect_timeout),
            launch_at: start,
            cycle,
            pauses: Box::new(backoff(pool.cfg.retry_backoff)),
            failures: Vec::new(),
            answered: false,
            pending: Vec::new(),
            first: None,
        }
    }

    /// The member to ask now, if one is due. The next after it is due a hedge delay
    /// later; after a full round, the next round starts after a backoff.
    fn next_due(&mut self, pool: &Pool) -> Option<Arc<Member>> {
        // Launch without a timer when due: a timer set to "now" fires a tick late.
        while Instant::now() >= self.launch_at {
            let Some(m) = self.cycle.pop() else {
                // Every member failed once: look them up again meanwhile (auto-sync, SRV).
                pool.look_again.notify_one();
                self.cycle = pool.order();
                self.cycle.reverse();
                let pause = self.pauses.next().unwrap_or(self.hedge);
                self.launch_at = Instant::now() + pause;
                return None;
            };
            if !self.pending.iter().any(|(p, _)| Arc::ptr_eq(p, &m)) {
                if !self.pending.is_empty() {
                    pool.metrics.hedge(self.op.name);
                }
                self.first.get_or_insert_with(|| m.clone());
                let now = Instant::now();
                self.pending.push((m.clone(), now));
                // A write asks the next member only once this one failed (settle).
                self.launch_at = match self.op.hedged() {
                    true => now + self.hedge,
                    false => self.end,
                };
                return Some(m);
            }
        }
        None
    }

    /// Books an answer: the value on success, `None` to go on after a retryable failure
    /// (the next member is then due at once), `Err` when the failure is final.
    fn settle<T>(
        &mut self,
        pool: &Pool,
        m: &Arc<Member>,
        res: std::result::Result<T, etcd_client::Error>,
    ) -> Result<Option<T>> {
        let asked = self.pending.iter().find(|(p, _)| Arc::ptr_eq(p, m));
        let asked_at = asked.map_or(self.start, |(_, t)| *t);
        self.pending.retain(|(p, _)| !Arc::ptr_eq(p, m));
        let member = m.label.as_str();
        let e = match res {
            Ok(v) => {
                pool.metrics.request(self.op.name, member, Outcome::Ok);
                if !self.first.as_ref().is_some_and(|f| Arc::ptr_eq(f, m)) {
                    pool.metrics.failover(self.op.name);
                }
                m.answered(asked_at.elapsed());
                self.check_losers(pool);
                pool.mark_ok(m);
                return Ok(Some(v));
            }
            Err(e) => e,
        };
        let failure = classify(&e);
        let retry = self.op.may_retry(&failure);
        let (reason, outcome) = match failure {
            Failure::Final(e) => {
                pool.metrics.request(self.op.name, member, Outcome::Error);
                return Err(e);
            }
            Failure::NotSent(r) | Failure::Connection(r) => (r, Outcome::ConnectionError),
            Failure::Retryable(r) => {
                self.answered = true;
                (r, Outcome::RetryableError)
            }
        };
        pool.metrics.request(self.op.name, member, outcome);
        pool.mark_failed(m, &reason);
        record(&mut self.failures, m, reason);
        if !retry {
            let failures = std::mem::take(&mut self.failures);
            return Err(Error::maybe_applied(self.op.name, failures));
        }
        self.launch_at = Instant::now();
        Ok(None)
    }

    /// Another member answered: those still silent after the hedge delay lost the race.
    /// One slow answer is no failure, so each is only checked ([`Pool::check`]).
    fn check_losers(&self, pool: &Pool) {
        let now = Instant::now();
        for (m, t) in &self.pending {
            if now.duration_since(*t) >= self.hedge {
                pool.check(m, self.hedge);
            }
        }
    }

    /// The deadline passed: every member still silent is marked failed, and the error
    /// lists every member tried.
    fn expire(&mut self, pool: &Pool, deadline: Duration) -> Error {
        let waited = self.start.elapsed();
        for (m, _) in &self.pending {
            let reason = format!("no answer within {waited:.0?}");
            pool.metrics
                .request(self.op.name, &m.label, Outcome::NoAnswer);
            pool.mark_failed(m, &reason);
            record(&mut self.failures, m, reason);
        }
        let failures = std::mem::take(&mut self.failures);
        Error::exhausted(self.op.name, deadline, failures, self.answered)
    }

    /// The call's result, its duration counted.
    fn done<T>(&self, pool: &Pool, result: Result<T>) -> Result<T> {
        pool.metrics.call(self.op.name, self.start.elapsed());
        result
    }
}

/// One call on one member, given up after `silence` when set. With auth on, a token is
/// obtained first when there is none, and a call refused for its token (expired, or lost
/// by a restarted etcd) is made once more with a fresh one.
async fn attempt<T, F, Fut>(
    auth: Option<&Auth>,
    silence: Option<Duration>,
    m: Arc<Member>,
    call: &F,
) -> (Arc<Member>, std::result::Result<T, etcd_client::Error>)
where
    F: Fn(Arc<Member>) -> Fut,
    Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let Some(limit) = silence else {
        return authorized(auth, m, call).await;
    };
    match timeout(limit, authorized(auth, m.clone(), call)).await {
        Ok(answer) => answer,
        Err(_) => {
            let silent = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {limit:?}"),
            );
            (m, Err(etcd_client::Error::IoError(silent)))
        }
    }
}

/// [`attempt`] with the token taken care of.
async fn authorized<T, F, Fut>(
    auth: Option<&Auth>,
    m: Arc<Member>,
    call: &F,
) -> (Arc<Member>, std::result::Result<T, etcd_client::Error>)
where
    F: Fn(Arc<Member>) -> Fut,
    Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let Some(auth) = auth else {
        let r = call(m.clone()).await;
        return (m, r);
    };
    let stale = auth.token();
    if stale.is_none() {
        if let Err(e) = auth.renew(&mut m.auth.clone(), &stale).await {
            return (m, Err(e));
        }
    }
    let stale = auth.token();
    match call(m.clone()).await {
        Err(e) if token_refused(&e) => match auth.renew(&mut m.auth.clone(), &stale).await {
            Ok(()) => {
                let again = call(m.clone()).await;
                (m, again)
            }
            Err(renewing) => (m, Err(renewing)),
        },
        r => (m, r),
    }
}

/// Takes `m` out of the preferred rotation and starts a background probe (pausing as
/// `pause` says, each try waiting `limit`) unless one is on it.
fn fail(m: &Arc<Member>, reason: &str, pause: (Duration, Duration), limit: Duration) {
    let start_probe = {
        let mut h = m.health.lock();
        m.set_healthy(false);
        h.last_error = Some(reason.to_string());
        !std::mem::replace(&mut h.probing, true)
    };
    if start_probe {
        tokio::spawn(probe(Arc::downgrade(m), pause, limit));
    }
}

/// Keeps the last failure per member, in the order members first failed.
fn record(failures: &mut Vec<Attempt>, m: &Member, reason: String) {
    let member = m.endpoint.to_string();
    match failures.iter_mut().find(|a| a.member == member) {
        Some(a) => a.reason = reason,
        None => failures.push(Attempt { member, reason }),
    }
}

/// Asks `m` for its status, waiting at most `limit`; a failure says how it went and why.
async fn status_within(m: &Member, limit: Duration) -> std::result::Result<(), (Outcome, String)> {
    let mut client = m.maintenance.clone();
    match timeout(limit, client.status()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err((Outcome::ConnectionError, e.to_string())),
        Err(_) => Err((Outcome::NoAnswer, format!("no answer within {limit:?}"))),
    }
}

/// Asks a failed member for its status, pausing as `pause` says between tries, until it
/// answers within `limit`; then returns it to the pool.
async fn probe(member: Weak<Member>, pause: (Duration, Duration), limit: Duration) {
    let mut pauses = backoff(pause);
    loop {
        tokio::time::sleep(pauses.next().unwrap_or(pause.1)).await;
        let Some(m) = member.upgrade() else { return };
        if status_within(&m, limit).await.is_ok() {
            let mut h = m.health.lock();
            m.set_healthy(true);
            h.probing = false;
            return;
        }
    }
}

/// Where the pool's discovery looks.
fn discovery_of(cfg: &Config, domain: &str) -> Discovery {
    Discovery {
        domain: domain.to_string(),
        name_server: cfg.name_server,
    }
}

/// The pool's membership task: with auto-sync, the cluster's member list every interval
/// and after a request found no member answering; with DNS SRV discovery, the records
/// again after such a request. At most once a second; ends with the pool.
async fn membership(pool: Weak<Pool>) {
    loop {
        let (interval, notified) = {
            let Some(p) = pool.upgrade() else { return };
            let interval = p.cfg.auto_sync.unwrap_or(Duration::from_secs(3600));
            let notified = async move { p.look_again.notified().await };
            (interval, notified)
        };
        tokio::select! {
            _ = sleep(interval) => {}
            _ = notified => {}
        }
        let Some(p) = pool.upgrade() else { return };
        let found = match (&p.cfg.discovery, p.cfg.auto_sync) {
            (_, Some(_)) => p.listed_members().await,
            (Some(domain), None) => {
                discovery::resolve(&discovery_of(&p.cfg, domain), p.cfg.deadline).await
            }
            (None, None) => return,
        };
        if let Ok(endpoints) = found {
            let _ = p.set_members(&endpoints).await;
        }
        drop(p);
        sleep(Duration::from_secs(1)).await;
    }
}

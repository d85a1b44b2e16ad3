//! The failover pool: one lazily connected channel per member, health tracking,
//! hedged retries across members inside a deadline, and background re-probes.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::stream::{FuturesUnordered, StreamExt};
use parking_lot::Mutex;
use tokio::time::{sleep_until, timeout, Instant};

use crate::config::{Config, Consistency};
use crate::delivery::KeyValue;
use crate::endpoints::Endpoint;
use crate::error::{classify, Attempt, Error, ErrorKind, Failure, Result};

/// The health of one member as the pool last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberHealth {
    /// The member's endpoint as configured.
    pub endpoint: String,
    /// False from a failed attempt until a background probe succeeds.
    pub healthy: bool,
    /// Why the member was last marked unhealthy, if it ever was.
    pub last_error: Option<String>,
}

/// One etcd member: its pooled connection and its health.
pub(crate) struct Member {
    pub(crate) index: usize,
    pub(crate) endpoint: Endpoint,
    /// Unary requests; no require-leader, so serializable reads work without a leader.
    pub(crate) kv: etcd_client::KvClient,
    /// Same connection, with etcd's require-leader metadata: a member that loses its
    /// leader ends our watch stream instead of keeping it silently idle.
    pub(crate) watch: etcd_client::WatchClient,
    pub(crate) maintenance: etcd_client::MaintenanceClient,
    /// Leases of registrations.
    pub(crate) lease: etcd_client::LeaseClient,
    /// Read on every request; the details below are only for reports.
    unhealthy: AtomicBool,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    probing: bool,
    last_error: Option<String>,
}

impl Member {
    /// The member's lazily connected channel and the etcd clients on it.
    async fn new(index: usize, endpoint: &Endpoint, cfg: &Config) -> Result<Member> {
        if endpoint.is_tls() {
            return Err(Error::invalid(format!(
                "endpoint {endpoint}: TLS is not supported by this build of turtle-finder"
            )));
        }
        let channel = tonic::transport::Endpoint::from_shared(endpoint.url())
            .map_err(|e| Error::invalid(format!("endpoint {endpoint}: {e}")))?
            .connect_timeout(cfg.connect_timeout)
            .http2_keep_alive_interval(cfg.keepalive_interval)
            .keep_alive_timeout(cfg.keepalive_timeout)
            .keep_alive_while_idle(true)
            .tcp_nodelay(true)
            .connect_lazy();
        let client = |opts| {
            let channel = etcd_client::Channel::Tonic(channel.clone());
            async move {
                etcd_client::Client::from_channel(channel, opts)
                    .await
                    .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))
            }
        };
        let plain = client(None).await?;
        let require_leader = etcd_client::ConnectOptions::new().with_require_leader(true);
        let leader_only = client(Some(require_leader)).await?;
        Ok(Member {
            index,
            endpoint: endpoint.clone(),
            kv: plain
                .kv_client()
                .max_decoding_message_size(cfg.max_response_bytes),
            maintenance: plain.maintenance_client(),
            lease: plain.lease_client(),
            watch: leader_only
                .watch_client()
                .max_decoding_message_size(cfg.max_response_bytes),
            unhealthy: AtomicBool::new(false),
            health: Mutex::new(Health::default()),
        })
    }
}

/// The members of one client. Requests stick to one member (the preferred) while it
/// answers, so one connection carries the load and "the member serving" is well defined.
pub(crate) struct Pool {
    members: Vec<Arc<Member>>,
    preferred: AtomicUsize,
    pub(crate) cfg: Arc<Config>,
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
    /// Creates the channels; nothing connects until the first request.
    pub(crate) async fn new(cfg: Arc<Config>) -> Result<Pool> {
        let mut members = Vec::with_capacity(cfg.endpoints.len());
        for (index, endpoint) in cfg.endpoints.iter().enumerate() {
            members.push(Arc::new(Member::new(index, endpoint, &cfg).await?));
        }
        Ok(Pool {
            members,
            preferred: AtomicUsize::new(0),
            cfg,
        })
    }

    /// Members in the order to try: the preferred first, healthy before unhealthy.
    pub(crate) fn order(&self) -> Vec<Arc<Member>> {
        let n = self.members.len();
        let p = self.preferred.load(Ordering::Relaxed) % n;
        let ring = (0..n).map(|i| &self.members[(p + i) % n]);
        let (mut ok, bad): (Vec<_>, Vec<_>) = ring
            .cloned()
            .partition(|m| !m.unhealthy.load(Ordering::Relaxed));
        ok.extend(bad);
        ok
    }

    /// How many members the pool has (at least one).
    pub(crate) fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The endpoint requests go to first.
    pub(crate) fn preferred(&self) -> &Endpoint {
        &self.members[self.preferred.load(Ordering::Relaxed) % self.members.len()].endpoint
    }

    /// Each member's health.
    pub(crate) fn health(&self) -> Vec<MemberHealth> {
        self.members
            .iter()
            .map(|m| {
                let h = m.health.lock();
                MemberHealth {
                    endpoint: m.endpoint.to_string(),
                    healthy: !m.unhealthy.load(Ordering::Relaxed),
                    last_error: h.last_error.clone(),
                }
            })
            .collect()
    }

    pub(crate) fn mark_ok(&self, m: &Member) {
        self.preferred.store(m.index, Ordering::Relaxed);
        m.unhealthy.store(false, Ordering::Relaxed);
    }

    /// Takes the member out of the preferred rotation until a background probe answers.
    pub(crate) fn mark_failed(&self, m: &Arc<Member>, reason: &str) {
        let start_probe = {
            let mut h = m.health.lock();
            m.unhealthy.store(true, Ordering::Relaxed);
            h.last_error = Some(reason.to_string());
            !std::mem::replace(&mut h.probing, true)
        };
        if start_probe {
            let (pause, limit) = (self.cfg.probe_backoff, self.cfg.connect_timeout);
            tokio::spawn(probe(Arc::downgrade(m), pause, limit));
        }
    }

    /// Reads one key: the value with its mod revision, and the read's revision.
    pub(crate) async fn read(
        &self,
        key: &[u8],
        deadline: Duration,
        consistency: Consistency,
    ) -> Result<(Option<(Vec<u8>, i64)>, i64)> {
        let (kvs, rev) = self.read_range(key, None, deadline, consistency).await?;
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
        self.run("get_service", deadline, |m| {
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
        })
        .await
    }

    /// Runs `call` on members until one succeeds or `deadline` passes.
    ///
    /// The preferred member is asked first. If it fails with a connection error or a
    /// retryable status, the next member is asked at once; if it is silent for
    /// `hedge_after`, the next member is asked too and the first answer wins. After every
    /// member failed, the next round waits an exponential, jittered backoff.
    pub(crate) async fn run<T, F, Fut>(&self, op: &str, deadline: Duration, call: F) -> Result<T>
    where
        F: Fn(Arc<Member>) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let mut round = Round::new(self, deadline);
        let first = round.next_due(self).expect("a pool has members");
        let mut first_attempt = Box::pin(attempt(first, &call));
        // The common case costs one timer: the preferred member answers before the hedge.
        let early = tokio::select! {
            biased;
            r = &mut first_attempt => Some(r),
            _ = sleep_until(round.launch_at.min(round.end)) => None,
        };
        let mut inflight = FuturesUnordered::new();
        match early {
            Some((m, res)) => {
                if let Some(v) = round.settle(self, &m, res)? {
                    return Ok(v);
                }
            }
            None => inflight.push(first_attempt),
        }
        loop {
            if let Some(m) = round.next_due(self) {
                inflight.push(Box::pin(attempt(m, &call)));
                continue;
            }
            tokio::select! {
                biased;
                Some((m, res)) = inflight.next(), if !inflight.is_empty() => {
                    if let Some(v) = round.settle(self, &m, res)? {
                        return Ok(v);
                    }
                }
                _ = sleep_until(round.launch_at) => {}
                _ = sleep_until(round.end) => return Err(round.expire(self, op, deadline)),
            }
        }
    }
}

/// The bookkeeping of one [`Pool::run`]: who was asked when, what failed, who is next.
struct Round {
    start: Instant,
    end: Instant,
    hedge: Duration,
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
    pending: Vec<(usize, Instant)>,
}

impl Round {
    fn new(pool: &Pool, deadline: Duration) -> Round {
        let start = Instant::now();
        let mut cycle = pool.order();
        cycle.reverse(); // popped from the back
        Round {
            start,
            end: start + deadline.min(crate::config::MAX_DURATION),
            hedge: pool.cfg.hedge_after,
            launch_at: start,
            cycle,
            pauses: Box::new(backoff(pool.cfg.retry_backoff)),
            failures: Vec::new(),
            answered: false,
            pending: Vec::new(),
        }
    }

    /// The member to ask now, if one is due. The next after it is due `hedge_after`
    /// later; after a full round, the next round starts after a backoff.
    fn next_due(&mut self, pool: &Pool) -> Option<Arc<Member>> {
        // Launch without a timer when due: a timer set to "now" fires a tick late.
        while Instant::now() >= self.launch_at {
            let Some(m) = self.cycle.pop() else {
                self.cycle = pool.order();
                self.cycle.reverse();
                let pause = self.pauses.next().unwrap_or(self.hedge);
                self.launch_at = Instant::now() + pause;
                return None;
            };
            if !self.pending.iter().any(|(i, _)| *i == m.index) {
                let now = Instant::now();
                self.pending.push((m.index, now));
                self.launch_at = now + self.hedge;
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
        self.pending.retain(|(i, _)| *i != m.index);
        let e = match res {
            Ok(v) => {
                self.mark_silent(pool, self.hedge);
                pool.mark_ok(m);
                return Ok(Some(v));
            }
            Err(e) => e,
        };
        let reason = match classify(&e) {
            Failure::Final(e) => return Err(e),
            Failure::Connection(r) => r,
            Failure::Retryable(r) => {
                self.answered = true;
                r
            }
        };
        pool.mark_failed(m, &reason);
        record(&mut self.failures, m, reason);
        self.launch_at = Instant::now();
        Ok(None)
    }

    /// Marks the members still silent after `limit` as failed.
    fn mark_silent(&mut self, pool: &Pool, limit: Duration) {
        let now = Instant::now();
        for (i, t) in &self.pending {
            if now.duration_since(*t) >= limit {
                let reason = format!("no answer within {limit:?}");
                pool.mark_failed(&pool.members[*i], &reason);
            }
        }
    }

    /// The deadline passed: every member still silent is marked failed, and the error
    /// lists every member tried.
    fn expire(mut self, pool: &Pool, op: &str, deadline: Duration) -> Error {
        let waited = self.start.elapsed();
        for (i, _) in &self.pending {
            let m = &pool.members[*i];
            let reason = format!("no answer within {waited:.0?}");
            pool.mark_failed(m, &reason);
            record(&mut self.failures, m, reason);
        }
        Error::exhausted(op, deadline, self.failures, self.answered)
    }
}

async fn attempt<T, F, Fut>(
    m: Arc<Member>,
    call: &F,
) -> (Arc<Member>, std::result::Result<T, etcd_client::Error>)
where
    F: Fn(Arc<Member>) -> Fut,
    Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let r = call(m.clone()).await;
    (m, r)
}

/// Keeps the last failure per member, in the order members first failed.
fn record(failures: &mut Vec<Attempt>, m: &Member, reason: String) {
    let member = m.endpoint.to_string();
    match failures.iter_mut().find(|a| a.member == member) {
        Some(a) => a.reason = reason,
        None => failures.push(Attempt { member, reason }),
    }
}

/// Asks a failed member for its status, pausing as `pause` says between tries, until it
/// answers within `limit`; then returns it to the pool.
async fn probe(member: Weak<Member>, pause: (Duration, Duration), limit: Duration) {
    let mut pauses = backoff(pause);
    loop {
        tokio::time::sleep(pauses.next().unwrap_or(pause.1)).await;
        let Some(m) = member.upgrade() else { return };
        let mut client = m.maintenance.clone();
        let ok = matches!(timeout(limit, client.status()).await, Ok(Ok(_)));
        if ok {
            let mut h = m.health.lock();
            m.unhealthy.store(false, Ordering::Relaxed);
            h.probing = false;
            return;
        }
    }
}

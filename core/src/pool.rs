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

use crate::config::Config;
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
    /// Read on every request; the details below are only for reports.
    unhealthy: AtomicBool,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    probing: bool,
    last_error: Option<String>,
}

/// The members of one client. Requests stick to one member (the preferred) while it
/// answers, so one connection carries the load and "the member serving" is well defined.
pub(crate) struct Pool {
    members: Vec<Arc<Member>>,
    preferred: AtomicUsize,
    pub(crate) cfg: Arc<Config>,
}

/// Exponential backoff with jitter between rounds over all members.
pub(crate) fn round_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(500))
        .with_jitter()
        .without_max_times()
        .build()
}

impl Pool {
    /// Creates the channels; nothing connects until the first request.
    pub(crate) async fn new(cfg: Arc<Config>) -> Result<Pool> {
        let mut members = Vec::with_capacity(cfg.endpoints.len());
        for (index, endpoint) in cfg.endpoints.iter().enumerate() {
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
            let plain = etcd_client::Client::from_channel(
                etcd_client::Channel::Tonic(channel.clone()),
                None,
            )
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
            let leader_only = etcd_client::Client::from_channel(
                etcd_client::Channel::Tonic(channel),
                Some(etcd_client::ConnectOptions::new().with_require_leader(true)),
            )
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
            members.push(Arc::new(Member {
                index,
                endpoint: endpoint.clone(),
                kv: plain.kv_client(),
                maintenance: plain.maintenance_client(),
                watch: leader_only.watch_client(),
                unhealthy: AtomicBool::new(false),
                health: Mutex::new(Health::default()),
            }));
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
            tokio::spawn(probe(Arc::downgrade(m)));
        }
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
        let start = Instant::now();
        let end = start + deadline;
        let hedge = self.cfg.hedge_after;
        let mut cycle: Vec<Arc<Member>> = self.order();
        cycle.reverse(); // popped from the back
        let first = cycle.pop().expect("a pool has members");
        let mut st = Round {
            failures: Vec::new(),
            answered: false,
            pending: vec![(first.index, start)],
        };
        let mut first_attempt = Box::pin(attempt(first, &call));
        // The common case costs one timer: the preferred member answers before the hedge.
        let early = tokio::select! {
            biased;
            r = &mut first_attempt => Some(r),
            _ = sleep_until(start + hedge.min(deadline)) => None,
        };
        let mut inflight = FuturesUnordered::new();
        let mut launch_at = Instant::now();
        match early {
            Some((m, Ok(v))) => {
                self.mark_ok(&m);
                return Ok(v);
            }
            Some((m, Err(e))) => {
                st.pending.clear();
                self.failed(&m, &e, &mut st)?;
            }
            None => inflight.push(first_attempt),
        }
        let mut backoff = round_backoff();
        loop {
            // Launch without a timer when due: a timer set to "now" fires a tick late.
            if Instant::now() >= launch_at {
                if cycle.is_empty() {
                    // A full round was asked: back off, then start over.
                    cycle = self.order();
                    cycle.reverse();
                    launch_at = Instant::now() + backoff.next().unwrap_or(hedge);
                } else {
                    let m = cycle.pop().expect("not empty");
                    if !st.pending.iter().any(|(i, _)| *i == m.index) {
                        st.pending.push((m.index, Instant::now()));
                        inflight.push(Box::pin(attempt(m, &call)));
                        launch_at = Instant::now() + hedge;
                    }
                    continue;
                }
            }
            tokio::select! {
                biased;
                Some((m, res)) = inflight.next(), if !inflight.is_empty() => {
                    st.pending.retain(|(i, _)| *i != m.index);
                    match res {
                        Ok(v) => {
                            let now = Instant::now();
                            for (i, t) in &st.pending {
                                if now.duration_since(*t) >= hedge {
                                    self.mark_failed(&self.members[*i], &format!("no answer within {hedge:?}"));
                                }
                            }
                            self.mark_ok(&m);
                            return Ok(v);
                        }
                        Err(e) => {
                            self.failed(&m, &e, &mut st)?;
                            launch_at = Instant::now();
                        }
                    }
                }
                _ = sleep_until(launch_at) => {}
                _ = sleep_until(end) => {
                    let waited = start.elapsed();
                    for (i, _) in &st.pending {
                        let m = &self.members[*i];
                        let reason = format!("no answer within {waited:.0?}");
                        self.mark_failed(m, &reason);
                        record(&mut st.failures, m, reason);
                    }
                    return Err(Error::exhausted(op, deadline, st.failures, st.answered));
                }
            }
        }
    }

    /// Books a failed attempt; `Err` when the failure is final.
    fn failed(&self, m: &Arc<Member>, e: &etcd_client::Error, st: &mut Round) -> Result<()> {
        let reason = match classify(e) {
            Failure::Final(e) => return Err(e),
            Failure::Connection(r) => r,
            Failure::Retryable(r) => {
                st.answered = true;
                r
            }
        };
        self.mark_failed(m, &reason);
        record(&mut st.failures, m, reason);
        Ok(())
    }
}

struct Round {
    failures: Vec<Attempt>,
    /// Some member gave a (retryable) answer: running out of time is then a deadline,
    /// not unavailability.
    answered: bool,
    /// Members with an attempt in flight, and when it started.
    pending: Vec<(usize, Instant)>,
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

/// Asks a failed member for its status until it answers, then returns it to the pool.
async fn probe(member: Weak<Member>) {
    let mut backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        tokio::time::sleep(backoff.next().unwrap_or(Duration::from_secs(1))).await;
        let Some(m) = member.upgrade() else { return };
        let mut client = m.maintenance.clone();
        let ok = matches!(
            timeout(Duration::from_secs(1), client.status()).await,
            Ok(Ok(_))
        );
        if ok {
            let mut h = m.health.lock();
            m.unhealthy.store(false, Ordering::Relaxed);
            h.probing = false;
            return;
        }
    }
}

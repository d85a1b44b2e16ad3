//! The failover pool: one lazily connected channel per member, health tracking,
//! hedged retries across members inside a deadline, and background re-probes.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    unhealthy: bool,
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
        let (mut ok, bad): (Vec<_>, Vec<_>) =
            ring.cloned().partition(|m| !m.health.lock().unhealthy);
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
                    healthy: !h.unhealthy,
                    last_error: h.last_error.clone(),
                }
            })
            .collect()
    }

    pub(crate) fn mark_ok(&self, m: &Member) {
        self.preferred.store(m.index, Ordering::Relaxed);
        m.health.lock().unhealthy = false;
    }

    /// Takes the member out of the preferred rotation until a background probe answers.
    pub(crate) fn mark_failed(&self, m: &Arc<Member>, reason: &str) {
        let start_probe = {
            let mut h = m.health.lock();
            h.unhealthy = true;
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
        let mut backoff = round_backoff();
        let mut failures: Vec<Attempt> = Vec::new();
        let mut answered = false;
        let mut cycle: Vec<Arc<Member>> = self.order();
        cycle.reverse(); // popped from the back
        let mut inflight = FuturesUnordered::new();
        let mut pending: Vec<(usize, Instant)> = Vec::new(); // member index, launch time
        let mut launch_at = start;
        loop {
            tokio::select! {
                biased;
                Some((m, res)) = inflight.next(), if !inflight.is_empty() => {
                    let m: Arc<Member> = m;
                    pending.retain(|(i, _)| *i != m.index);
                    let reason = match res {
                        Ok(v) => {
                            let now = Instant::now();
                            for (i, t) in &pending {
                                if now.duration_since(*t) >= hedge {
                                    self.mark_failed(&self.members[*i], &format!("no answer within {hedge:?}"));
                                }
                            }
                            self.mark_ok(&m);
                            return Ok(v);
                        }
                        Err(e) => match classify(&e) {
                            Failure::Final(e) => return Err(e),
                            Failure::Connection(r) => r,
                            Failure::Retryable(r) => { answered = true; r }
                        },
                    };
                    self.mark_failed(&m, &reason);
                    record(&mut failures, &m, reason);
                    launch_at = Instant::now();
                }
                _ = sleep_until(launch_at) => {
                    if cycle.is_empty() {
                        // A full round was asked: back off, then start over.
                        cycle = self.order();
                        cycle.reverse();
                        launch_at = Instant::now() + backoff.next().unwrap_or(hedge);
                        continue;
                    }
                    let m = cycle.pop().expect("not empty");
                    if pending.iter().any(|(i, _)| *i == m.index) {
                        continue; // still waiting on this member from an earlier round
                    }
                    pending.push((m.index, Instant::now()));
                    let fut = call(m.clone());
                    inflight.push(async move { (m, fut.await) });
                    launch_at = Instant::now() + hedge;
                }
                _ = sleep_until(end) => {
                    let waited = start.elapsed();
                    for (i, _) in &pending {
                        let m = &self.members[*i];
                        let reason = format!("no answer within {waited:.0?}");
                        self.mark_failed(m, &reason);
                        record(&mut failures, m, reason);
                    }
                    return Err(Error::exhausted(op, deadline, failures, answered));
                }
            }
        }
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
            h.unhealthy = false;
            h.probing = false;
            return;
        }
    }
}

//! The failover pool: one lazily connected channel per member, which member is preferred,
//! health tracking and background re-probes. A call's round over the members is
//! `round.rs`; reads are `reads.rs`; refreshing the member list is `membership.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::future::join_all;
use tokio::sync::Notify;

use crate::auth::Auth;
use crate::config::Config;
use crate::discovery::{self, Discovery};
use crate::endpoints::Endpoint;
use crate::error::Result;
pub use crate::member::MemberHealth;
use crate::member::{Connector, Member, NoStatus};
use crate::metrics::{Metrics, Outcome};
use crate::tls::Dialer;

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
    /// The endpoints the pool started with: configured, or the first DNS SRV answer.
    seeds: Vec<Endpoint>,
    pub(crate) metrics: Arc<Metrics>,
    /// Clean-ups under way in the background (a lease revoked, a lock let go), which a
    /// closing finder waits for.
    pub(crate) pending: Arc<Pending>,
}

/// Counts clean-ups under way; [`Pending::settled`] waits until there is none.
#[derive(Default)]
pub(crate) struct Pending {
    count: std::sync::atomic::AtomicUsize,
    idle: Notify,
}

/// One clean-up under way, until dropped.
pub(crate) struct Tracker(Arc<Pending>);

impl Pending {
    /// Counts one more clean-up, until the tracker is dropped.
    pub(crate) fn track(self: &Arc<Self>) -> Tracker {
        self.count.fetch_add(1, Ordering::SeqCst);
        Tracker(self.clone())
    }

    /// Waits until no clean-up is under way.
    pub(crate) async fn settled(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
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
            true => Some(Dialer::new(&cfg.tls)?),
            false => None,
        };
        let auth = cfg.auth.clone().map(|c| Arc::new(Auth::new(c)));
        let endpoints = match &cfg.discovery {
            None => cfg.endpoints.clone(),
            Some(domain) => {
                let at = Discovery {
                    domain: domain.clone(),
                    name_server: cfg.name_server,
                };
                let found = discovery::resolve(&at, cfg.deadline).await?;
                let (usable, plain): (Vec<_>, Vec<_>) =
                    found.into_iter().partition(|e| cfg.may_learn(e));
                if usable.is_empty() {
                    return Err(refused_plain(&plain));
                }
                usable
            }
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
            seeds: endpoints,
            pending: Arc::default(),
        });
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

    /// The credentials and token, with auth on.
    pub(crate) fn auth(&self) -> Option<&Auth> {
        self.connector.auth.as_deref()
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

    /// Waits until a call found no member answering: the members are to be looked up
    /// again.
    pub(crate) async fn look_again(&self) {
        self.look_again.notified().await
    }

    /// Tells the membership task (if any) to look the members up again.
    pub(crate) fn members_failed(&self) {
        self.look_again.notify_one();
    }

    /// Whether the members are reached over TLS.
    pub(crate) fn has_tls(&self) -> bool {
        self.connector.tls.is_some()
    }

    /// Follows the members the cluster lists (auto-sync) or DNS names: those already in
    /// the pool stay as they are (connections, health); a new one is asked for its status
    /// first and, when it does not answer within the connect timeout, joins unhealthy with
    /// the reason (shown by `health()`, probed, used once it answers); the members no
    /// longer listed leave, but only when a listed one answers, so a cluster whose
    /// advertised URLs do not work from here (NAT, containers) keeps the endpoints that
    /// do. An empty list changes nothing.
    pub(crate) async fn follow(&self, endpoints: &[Endpoint]) -> Result<()> {
        let endpoints: Vec<&Endpoint> = (endpoints.iter())
            .filter(|e| self.cfg.may_learn(e))
            .collect();
        if endpoints.is_empty() {
            return Ok(());
        }
        let now = self.members.load_full();
        let mut listed = Vec::with_capacity(endpoints.len());
        let mut new = Vec::new();
        for e in endpoints {
            match now.iter().find(|m| &m.endpoint == e) {
                Some(m) => listed.push(m.clone()),
                None => {
                    let m = Arc::new(self.connector.member(e).await?);
                    new.push(m.clone());
                    listed.push(m);
                }
            }
        }
        let limit = self.cfg.connect_timeout;
        let checks = new.iter().map(|m| status_within(m, limit));
        for (m, answer) in new.iter().zip(join_all(checks).await) {
            if let Err((_, why)) = answer {
                let reason = format!("listed by the cluster but not answering here: {why}");
                self.mark_failed(m, &reason);
            }
        }
        let mut next = listed;
        if !next.iter().any(|m| m.is_healthy()) {
            let kept = now
                .iter()
                .filter(|m| !next.iter().any(|n| Arc::ptr_eq(m, n)));
            next.extend(kept.cloned().collect::<Vec<_>>());
        }
        self.replace(next);
        Ok(())
    }

    /// Brings back the configured endpoints (or the first DNS answer) missing from the
    /// pool: the seeds are never forgotten, and are tried again when the members learned
    /// since stop answering.
    pub(crate) async fn restore_seeds(&self) -> Result<()> {
        let now = self.members.load_full();
        let mut next = now.to_vec();
        for e in &self.seeds {
            if !now.iter().any(|m| &m.endpoint == e) {
                next.push(Arc::new(self.connector.member(e).await?));
            }
        }
        self.replace(next);
        Ok(())
    }

    /// Stores `next` as the members unless it is the same set in the same order.
    fn replace(&self, next: Vec<Arc<Member>>) {
        let now = self.members.load();
        let same =
            next.len() == now.len() && next.iter().zip(now.iter()).all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            self.members.store(Arc::new(next));
        }
    }
}

/// DNS SRV named only plain members, which this finder may not use.
fn refused_plain(plain: &[Endpoint]) -> crate::error::Error {
    let names: Vec<String> = plain.iter().map(|e| e.to_string()).collect();
    crate::error::Error::invalid(format!(
        "DNS SRV discovery found only plain http:// members ({}), and this finder has TLS \
         settings or credentials: they are never sent in the clear to a member nobody \
         configured (publish _etcd-client-ssl._tcp records, or give the endpoints)",
        names.join(", ")
    ))
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

/// Asks `m` for its status, waiting at most `limit`; a failure says how it went and why.
async fn status_within(m: &Member, limit: Duration) -> std::result::Result<(), (Outcome, String)> {
    match m.status_within(limit).await {
        Ok(_) => Ok(()),
        Err(e @ NoStatus::Failed(_)) => Err((Outcome::ConnectionError, e.to_string())),
        Err(e @ NoStatus::Silent(_)) => Err((Outcome::NoAnswer, e.to_string())),
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

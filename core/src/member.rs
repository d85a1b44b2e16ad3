//! One etcd member: its lazily connected channel (TLS for `https://` members, the auth
//! token on every request when auth is on), the etcd clients on it, and its health.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::auth::{Auth, WithToken};
use crate::config::Config;
use crate::endpoints::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::failure::reason_of;
use crate::latency::Latency;
use crate::security::Tls;
use crate::tls::Dialer;

/// The health of one member as the pool last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberHealth {
    /// The member's endpoint as configured (or learned).
    pub endpoint: String,
    /// False from a failed attempt until a background probe succeeds.
    pub healthy: bool,
    /// Why the member was last marked unhealthy, if it ever was.
    pub last_error: Option<String>,
}

/// What every member of a pool is made with.
pub(crate) struct Connector {
    pub(crate) cfg: Arc<Config>,
    /// How `https://` members are dialed, when TLS settings were given (the system's
    /// roots otherwise).
    pub(crate) tls: Option<Dialer>,
    pub(crate) auth: Option<Arc<Auth>>,
}

/// One etcd member: its pooled connection and its health.
pub(crate) struct Member {
    pub(crate) endpoint: Endpoint,
    /// The endpoint as shown (in metrics' labels), made once.
    pub(crate) label: String,
    /// Unary requests; no require-leader, so serializable reads work without a leader.
    pub(crate) kv: etcd_client::KvClient,
    /// Same connection, with etcd's require-leader metadata: a member that loses its
    /// leader ends our watch stream instead of keeping it silently idle.
    pub(crate) watch: etcd_client::WatchClient,
    pub(crate) maintenance: etcd_client::MaintenanceClient,
    /// Leases of registrations.
    pub(crate) lease: etcd_client::LeaseClient,
    /// Authentication, when auth is on.
    pub(crate) auth: etcd_client::AuthClient,
    /// The member list, for auto-sync.
    pub(crate) cluster: etcd_client::ClusterClient,
    /// Read on every request; the details below are only for reports.
    unhealthy: AtomicBool,
    pub(crate) health: Mutex<Health>,
    /// Recent successful calls' latencies: how long a read waits before hedging.
    latency: Mutex<Latency>,
    /// A status check is on its way after the member lost a hedge race.
    checking: AtomicBool,
}

/// Why a member was last marked failed, and whether a probe is on it.
#[derive(Default)]
pub(crate) struct Health {
    pub(crate) probing: bool,
    pub(crate) last_error: Option<String>,
}

impl Connector {
    /// A member's lazily connected channel and the etcd clients on it.
    pub(crate) async fn member(&self, endpoint: &Endpoint) -> Result<Member> {
        let cfg = &self.cfg;
        let bad = |e: &dyn std::fmt::Display| Error::invalid(format!("endpoint {endpoint}: {e}"));
        // An https member is dialed by our TLS (which reads a rotated client certificate
        // again); tonic sees a plain URL, as it refuses https without its own TLS.
        let plain_url = format!("http://{}:{}", endpoint.host(), endpoint.port());
        let builder = tonic::transport::Endpoint::from_shared(plain_url)
            .map_err(|e| bad(&e))?
            .connect_timeout(cfg.connect_timeout)
            .http2_keep_alive_interval(cfg.keepalive_interval)
            .keep_alive_timeout(cfg.keepalive_timeout)
            .keep_alive_while_idle(true)
            .tcp_nodelay(true);
        let channel = match endpoint.is_tls() {
            true => {
                let dialer = match &self.tls {
                    Some(d) => d.clone(),
                    None => Dialer::new(&Tls::default())?,
                };
                builder.connect_with_connector_lazy(dialer.to(endpoint)?)
            }
            false => builder.connect_lazy(),
        };
        let etcd_channel = || match &self.auth {
            None => etcd_client::Channel::Tonic(channel.clone()),
            Some(auth) => {
                etcd_client::Channel::Custom(tower::util::BoxCloneSyncService::new(WithToken {
                    inner: channel.clone(),
                    auth: auth.clone(),
                }))
            }
        };
        let client = |opts| {
            let channel = etcd_channel();
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
            endpoint: endpoint.clone(),
            label: endpoint.to_string(),
            kv: (plain.kv_client()).max_decoding_message_size(cfg.max_response_bytes),
            maintenance: plain.maintenance_client(),
            lease: plain.lease_client(),
            auth: plain.auth_client(),
            cluster: plain.cluster_client(),
            watch: (leader_only.watch_client()).max_decoding_message_size(cfg.max_response_bytes),
            unhealthy: AtomicBool::new(false),
            health: Mutex::new(Health::default()),
            latency: Mutex::new(Latency::default()),
            checking: AtomicBool::new(false),
        })
    }
}

/// Why a status call gave no answer.
pub(crate) enum NoStatus {
    /// The member (or the way to it) failed.
    Failed(etcd_client::Error),
    /// Silent for the whole limit.
    Silent(Duration),
}

impl std::fmt::Display for NoStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoStatus::Failed(e) => write!(f, "{}", reason_of(e)),
            NoStatus::Silent(limit) => write!(f, "no answer within {limit:?}"),
        }
    }
}

impl Member {
    /// Asks the member for its status, waiting at most `limit`.
    pub(crate) async fn status_within(
        &self,
        limit: Duration,
    ) -> std::result::Result<etcd_client::StatusResponse, NoStatus> {
        let mut client = self.maintenance.clone();
        match tokio::time::timeout(limit, client.status()).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => Err(NoStatus::Failed(e)),
            Err(_) => Err(NoStatus::Silent(limit)),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        !self.unhealthy.load(Ordering::Relaxed)
    }

    pub(crate) fn set_healthy(&self, healthy: bool) {
        self.unhealthy.store(!healthy, Ordering::Relaxed);
    }

    /// Books a successful call that took `took`.
    pub(crate) fn answered(&self, took: Duration) {
        self.latency.lock().record(took);
    }

    /// Whether a status check may start now (none is on its way); the caller ends it with
    /// [`Member::end_check`].
    pub(crate) fn start_check(&self) -> bool {
        !self.checking.swap(true, Ordering::AcqRel)
    }

    /// The status check has its answer.
    pub(crate) fn end_check(&self) {
        self.checking.store(false, Ordering::Release);
    }

    /// How long a read waits for this member before also asking the next.
    pub(crate) fn hedge_delay(&self, floor: Duration, cap: Duration) -> Duration {
        self.latency.lock().patience(floor, cap)
    }

    /// The member's health for reports.
    pub(crate) fn report(&self) -> MemberHealth {
        let h = self.health.lock();
        MemberHealth {
            endpoint: self.label.clone(),
            healthy: self.is_healthy(),
            last_error: h.last_error.clone(),
        }
    }
}

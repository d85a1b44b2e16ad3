//! Every setting of a finder, with defaults a careful etcd user would pick.

use std::time::Duration;

use crate::endpoints::{self, Endpoint};
use crate::error::{Error, Result};
use crate::keys::{self, check_prefix};
use crate::security::{Credentials, Pem, Secret, Tls};

/// The environment variables of [`Config::from_env`].
pub const CA_FILE_ENV: &str = "TURTLE_CA_FILE";
/// See [`CA_FILE_ENV`].
pub const CERT_FILE_ENV: &str = "TURTLE_CERT_FILE";
/// See [`CA_FILE_ENV`].
pub const KEY_FILE_ENV: &str = "TURTLE_KEY_FILE";
/// See [`CA_FILE_ENV`].
pub const SERVER_NAME_ENV: &str = "TURTLE_SERVER_NAME";
/// See [`CA_FILE_ENV`].
pub const USER_ENV: &str = "TURTLE_USER";
/// See [`CA_FILE_ENV`].
pub const PASSWORD_ENV: &str = "TURTLE_PASSWORD";
/// See [`CA_FILE_ENV`].
pub const DISCOVERY_SRV_ENV: &str = "TURTLE_DISCOVERY_SRV";
/// See [`CA_FILE_ENV`].
pub const NAME_SERVER_ENV: &str = "TURTLE_NAME_SERVER";
/// See [`CA_FILE_ENV`].
pub const METRICS_ADDR_ENV: &str = "TURTLE_METRICS_ADDR";

/// An environment variable: `None` when unset or empty; an error when not UTF-8.
fn env(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::invalid(format!("{name} is not valid UTF-8")))
        }
    }
}

/// How a lookup is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Goes through the leader: never older than a write that finished before it began.
    #[default]
    Linearizable,
    /// Served by the member asked, from its own state: faster, possibly stale, and
    /// still answers while the cluster has no leader.
    Serializable,
}

/// Settings of a `Client` or `ServiceFinder`. Build with [`Config::new`] or
/// [`Config::from_env`] and the `with_*` methods; the settings are checked together when a
/// client or finder is made from them (an unusable one is an `InvalidArgument` error naming
/// it), or at once with [`Config::check`].
///
/// Every timing the engine uses is one of these settings; the README's numbers are their
/// defaults.
///
/// ```
/// use std::time::Duration;
/// let cfg = turtle_finder::Config::new(["127.0.0.1:2379", "127.0.0.1:22379"])
///     .unwrap()
///     .with_deadline(Duration::from_secs(2))
///     .with_prefix("/services/")
///     .unwrap();
/// assert_eq!(cfg.endpoints().len(), 2);
/// assert!(cfg.check().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) prefix: String,
    pub(crate) deadline: Duration,
    pub(crate) consistency: Consistency,
    pub(crate) max_queued_changes: usize,
    pub(crate) max_response_bytes: usize,
    pub(crate) hedge_after: Duration,
    pub(crate) hedge_floor: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive_interval: Duration,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) watch_check_interval: Duration,
    pub(crate) watch_check_timeout: Duration,
    pub(crate) leader_check_interval: Duration,
    pub(crate) watch_retry_delay: Duration,
    pub(crate) retry_backoff: (Duration, Duration),
    pub(crate) probe_backoff: (Duration, Duration),
    pub(crate) cache: bool,
    pub(crate) cache_limit: usize,
    pub(crate) tls: Tls,
    pub(crate) auth: Option<Credentials>,
    /// The domain whose SRV records name the members.
    pub(crate) discovery: Option<String>,
    pub(crate) name_server: Option<std::net::SocketAddr>,
    pub(crate) auto_sync: Option<Duration>,
    pub(crate) metrics: bool,
    /// Where the finder serves `/metrics`, if anywhere.
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
}

/// The longest duration any setting accepts: far beyond any sensible value, and far from
/// where adding it to the clock could overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

impl Config {
    /// Settings for these endpoints: a list whose items may also be comma-separated.
    pub fn new<I, S>(endpoints: I) -> Result<Config>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let items: Vec<S> = endpoints.into_iter().collect();
        Ok(Config::defaults(endpoints::parse_list(&items)?))
    }

    /// Settings from the environment: the endpoints in `TURTLE_ENDPOINTS` (or the members
    /// the DNS SRV records of `TURTLE_DISCOVERY_SRV` name, or `127.0.0.1:2379`), and the
    /// security settings of [`Config::with_env_settings`].
    pub fn from_env() -> Result<Config> {
        let discovery = env(DISCOVERY_SRV_ENV)?;
        let cfg = match (&discovery, std::env::var_os(endpoints::ENDPOINTS_ENV)) {
            (Some(domain), None) => Config::discover(domain)?,
            _ => Config::defaults(endpoints::from_env()?),
        };
        cfg.with_env_settings()
    }

    /// Settings whose members are found by DNS SRV records of `domain`, as etcdctl's
    /// `--discovery-srv` finds them: `_etcd-client-ssl._tcp.<domain>` (https) and
    /// `_etcd-client._tcp.<domain>` (http), read when a finder is made, and again when
    /// every known member fails. The system's resolver is asked unless
    /// [`Config::with_name_server`] says another.
    pub fn discover(domain: &str) -> Result<Config> {
        Config::defaults(Vec::new()).with_discovery_srv(domain)
    }

    /// Finds the members by the DNS SRV records of `domain` instead of the endpoints (see
    /// [`Config::discover`]).
    pub fn with_discovery_srv(mut self, domain: &str) -> Result<Config> {
        let domain = domain.trim();
        if domain.is_empty() || domain.contains(['/', ' ', '\0', ':']) {
            return Err(Error::invalid(format!(
                "discovery domain {domain:?} is not a domain name"
            )));
        }
        self.discovery = Some(domain.to_string());
        // Instead of the endpoints: the default one must not trip the TLS rule.
        self.endpoints.clear();
        Ok(self)
    }

    /// The settings of the environment other than the members, where set:
    /// `TURTLE_CA_FILE`, `TURTLE_CERT_FILE` with `TURTLE_KEY_FILE`, `TURTLE_SERVER_NAME`,
    /// `TURTLE_USER` with `TURTLE_PASSWORD`, `TURTLE_NAME_SERVER` (the name server of SRV
    /// discovery) and `TURTLE_METRICS_ADDR` (where to serve `/metrics`). `from_env`
    /// applies them; the C and Python faces apply them before their own arguments.
    pub fn with_env_settings(mut self) -> Result<Config> {
        if let Some(ca) = env(CA_FILE_ENV)? {
            self = self.with_ca_file(ca);
        }
        match (env(CERT_FILE_ENV)?, env(KEY_FILE_ENV)?) {
            (Some(cert), Some(key)) => self = self.with_client_cert(cert, key),
            (None, None) => {}
            _ => {
                return Err(Error::invalid(format!(
                    "{CERT_FILE_ENV} and {KEY_FILE_ENV} go together"
                )))
            }
        }
        if let Some(name) = env(SERVER_NAME_ENV)? {
            self = self.with_server_name(name);
        }
        match (env(USER_ENV)?, std::env::var(PASSWORD_ENV)) {
            (Some(user), Ok(password)) => self = self.with_auth(user, password)?,
            (None, Err(_)) => {}
            _ => {
                return Err(Error::invalid(format!(
                    "{USER_ENV} and {PASSWORD_ENV} go together"
                )))
            }
        }
        if let Some(ns) = env(NAME_SERVER_ENV)? {
            self = self.with_name_server(&ns)?;
        }
        if let Some(addr) = env(METRICS_ADDR_ENV)? {
            self = self.with_metrics_addr(&addr)?;
        }
        Ok(self)
    }

    fn defaults(endpoints: Vec<Endpoint>) -> Config {
        use crate::settings as d;
        Config {
            endpoints,
            prefix: d::PREFIX.into(),
            deadline: d::DEADLINE,
            consistency: Consistency::Linearizable,
            max_queued_changes: d::MAX_QUEUED_CHANGES,
            max_response_bytes: d::MAX_RESPONSE_BYTES,
            hedge_after: d::HEDGE_AFTER,
            hedge_floor: d::HEDGE_FLOOR,
            connect_timeout: d::CONNECT_TIMEOUT,
            keepalive_interval: d::KEEPALIVE.0,
            keepalive_timeout: d::KEEPALIVE.1,
            watch_check_interval: d::WATCH_CHECK.0,
            watch_check_timeout: d::WATCH_CHECK.1,
            leader_check_interval: d::LEADER_CHECK,
            watch_retry_delay: d::WATCH_RETRY_DELAY,
            retry_backoff: d::RETRY_BACKOFF,
            probe_backoff: d::PROBE_BACKOFF,
            cache: d::CACHE,
            cache_limit: d::CACHE_LIMIT,
            tls: Tls::default(),
            auth: None,
            discovery: None,
            name_server: None,
            auto_sync: None,
            metrics: d::METRICS,
            metrics_addr: None,
        }
    }

    /// The members, in the order given.
    /// (Empty when they are found by DNS SRV discovery.)
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Replaces the members: a list whose items may also be comma-separated.
    pub fn with_endpoints<I, S>(mut self, endpoints: I) -> Result<Config>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let items: Vec<S> = endpoints.into_iter().collect();
        self.endpoints = endpoints::parse_list(&items)?;
        Ok(self)
    }

    /// The key prefix of services (default `/services/`): `get_service("cdd")` reads
    /// `/services/cdd`. Empty, or ending with `/`; no NUL; at most `MAX_NAME_BYTES` bytes.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Config> {
        let prefix = prefix.into();
        check_prefix(&prefix)?;
        self.prefix = prefix;
        Ok(self)
    }

    /// Keeps looked-up and watched services in memory (default off): a lookup of a name
    /// looked up or watched before is a local read, with no RPC, as fresh as the watch
    /// behind it (see the README), and it answers while the cluster has no leader.
    pub fn with_cache(mut self, on: bool) -> Config {
        self.cache = on;
        self
    }

    /// Counts requests, failovers, watch moves and callbacks for
    /// `ServiceFinder::metrics` (default on; see the README's list of metrics). Off, the
    /// counting costs nothing and `metrics` is an error.
    pub fn with_metrics(mut self, on: bool) -> Config {
        self.metrics = on;
        self
    }

    /// Serves the metrics over HTTP at `http://<addr>/metrics` (default: nowhere), on the
    /// finder's runtime until it closes. `addr` is `IP:PORT`; port 0 picks a free one
    /// (`ServiceFinder::metrics_addr` says which). With the metrics off, an error when a
    /// finder is made.
    pub fn with_metrics_addr(mut self, addr: &str) -> Result<Config> {
        let parsed = addr.trim().parse().map_err(|_| {
            Error::invalid(format!(
                "metrics address {addr:?} is not IP:PORT (e.g. 127.0.0.1:9464)"
            ))
        })?;
        self.metrics_addr = Some(parsed);
        Ok(self)
    }

    /// Verifies `https://` members against the CA certificates in this PEM file (read
    /// when a finder is made; a file that cannot be read is an `InvalidArgument` naming
    /// it). Without one, the system's roots are used.
    pub fn with_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Config {
        self.tls.ca = Some(Pem::File(path.into()));
        self
    }

    /// [`Config::with_ca_file`] with the PEM text itself.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Config {
        self.tls.ca = Some(Pem::Text(pem.into()));
        self
    }

    /// Presents this client certificate and key (PEM files) to `https://` members, for
    /// clusters started with `--client-cert-auth`.
    pub fn with_client_cert(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Config {
        self.tls.client = Some((Pem::File(cert.into()), Pem::File(key.into())));
        self
    }

    /// The name the members' certificates must carry, when not the endpoints' host.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Config {
        self.tls.server_name = Some(name.into());
        self
    }

    /// Authenticates as `user` on a cluster with auth enabled. The token is obtained on
    /// first use and renewed without the caller noticing when etcd says it expired; wrong
    /// credentials are a `PermissionDenied` error. The password never appears in errors,
    /// logs or `Debug`.
    pub fn with_auth(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Config> {
        let user = user.into();
        if user.is_empty() || user.contains('\0') {
            return Err(Error::invalid("user name is empty or contains a NUL byte"));
        }
        self.auth = Some(Credentials {
            user,
            password: Secret(password.into()),
        });
        Ok(self)
    }

    /// The name server SRV discovery asks (`host:port`, an IP address; default: the
    /// system's resolver).
    pub fn with_name_server(mut self, addr: &str) -> Result<Config> {
        let parsed: std::net::SocketAddr = addr.parse().map_err(|_| {
            Error::invalid(format!(
                "name server {addr:?} is not an IP address and port"
            ))
        })?;
        self.name_server = Some(parsed);
        Ok(self)
    }

    /// Asks the cluster for its member list every `interval` and after a request found
    /// no member answering (default: off, as etcd's Go client): members added to the
    /// cluster join the pool, removed ones leave it.
    pub fn with_auto_sync(mut self, interval: Duration) -> Config {
        self.auto_sync = Some(interval);
        self
    }

    /// Turns auto-sync off (the default).
    pub fn without_auto_sync(mut self) -> Config {
        self.auto_sync = None;
        self
    }

    /// The default deadline of every call (default 5 s); calls may override it.
    pub fn with_deadline(mut self, deadline: Duration) -> Config {
        self.deadline = deadline;
        self
    }

    /// Default read consistency of lookups (default linearizable).
    pub fn with_consistency(mut self, c: Consistency) -> Config {
        self.consistency = c;
        self
    }

    /// How many names of each kind (services, instance lists) the cache keeps at most
    /// (default 10,000; at least 1). Past that, an eighth of them, those looked up least
    /// recently, leave at once and their watches end; a lookup of one reads etcd again.
    pub fn with_cache_limit(mut self, n: usize) -> Result<Config> {
        if n == 0 {
            return Err(Error::invalid("cache_limit must be at least 1"));
        }
        self.cache_limit = n;
        Ok(self)
    }

    /// How many undelivered changes a watch keeps while its callback is busy (default 1024).
    /// Past that the oldest are dropped; the newest is always kept and delivered.
    pub fn with_max_queued_changes(mut self, n: usize) -> Result<Config> {
        if n == 0 {
            return Err(Error::invalid("max_queued_changes must be at least 1"));
        }
        self.max_queued_changes = n;
        Ok(self)
    }

    /// The largest response accepted from a member, in bytes (default 2 GiB - 1, as etcd's
    /// Go client; at least 4096). etcd may answer with more than its request limit: a
    /// watch catching up on several large values gets them in one response. A watch whose
    /// catch-up is larger is read anew and delivered as a reset, with an error first.
    pub fn with_max_response_bytes(mut self, n: usize) -> Result<Config> {
        if !(4096..=i32::MAX as usize).contains(&n) {
            return Err(Error::invalid(format!(
                "max_response_bytes must be from 4096 to {}, not {n}",
                i32::MAX
            )));
        }
        self.max_response_bytes = n;
        Ok(self)
    }

    /// The longest a read waits for one member before also asking the next (default
    /// 250 ms). Below it, the wait follows the member's recent latency: twice its 95th
    /// percentile, at least [`Config::with_hedge_floor`]. This is what keeps lookups going
    /// when a member hangs.
    pub fn with_hedge_after(mut self, d: Duration) -> Config {
        self.hedge_after = d;
        self
    }

    /// The shortest a read waits for one member before also asking the next (default
    /// 10 ms), however fast the member has been: a margin for a busy machine's scheduling,
    /// so that hedged reads stay rare. A floor at or above `hedge_after` makes the wait
    /// fixed at `hedge_after`.
    pub fn with_hedge_floor(mut self, d: Duration) -> Config {
        self.hedge_floor = d;
        self
    }

    /// TCP connect timeout per member (default 1 s); also how long a background probe of a
    /// failed member waits for its answer.
    pub fn with_connect_timeout(mut self, d: Duration) -> Config {
        self.connect_timeout = d;
        self
    }

    /// HTTP/2 keepalive pings, sent also while idle (default every 10 s, 5 s to answer).
    /// etcd closes connections that ping more often than its `--grpc-keepalive-min-time`
    /// (5 s by default), so keep `interval` above that unless the servers allow more.
    pub fn with_keepalive(mut self, interval: Duration, timeout: Duration) -> Config {
        self.keepalive_interval = interval;
        self.keepalive_timeout = timeout;
        self
    }

    /// How often the watch stream is checked for life (a progress request), and the
    /// longest a progress request may go unanswered before the stream is moved to another
    /// member (defaults 200 ms and 1 s). Below that longest, the limit follows the
    /// member's answers: twice their recent 95th percentile, at least the interval. The
    /// timeout also bounds opening a stream and the leader check's status call.
    pub fn with_watch_check(mut self, interval: Duration, timeout: Duration) -> Config {
        self.watch_check_interval = interval;
        self.watch_check_timeout = timeout;
        self
    }

    /// How often the member serving the watch stream is asked whether it has a leader
    /// (default 1.5 s): the client-side half of etcd's require-leader.
    pub fn with_leader_check(mut self, interval: Duration) -> Config {
        self.leader_check_interval = interval;
        self
    }

    /// How long a watch that etcd cancelled for a reason other than compaction (e.g. a
    /// permission lost) waits before it is read and created anew (default 1 s).
    pub fn with_watch_retry_delay(mut self, d: Duration) -> Config {
        self.watch_retry_delay = d;
        self
    }

    /// The exponential, jittered backoff between rounds over all members, of requests and
    /// of the watch stream (default from 20 ms up to 500 ms).
    pub fn with_retry_backoff(mut self, min: Duration, max: Duration) -> Config {
        self.retry_backoff = (min, max);
        self
    }

    /// The exponential, jittered backoff between background probes of a failed member
    /// (default from 100 ms up to 2 s).
    pub fn with_probe_backoff(mut self, min: Duration, max: Duration) -> Config {
        self.probe_backoff = (min, max);
        self
    }

    /// Checks the settings: each alone (every timing above zero, but the watch retry delay
    /// may be zero, and at most [`MAX_DURATION`]; every backoff's minimum at most its
    /// maximum), then together (members or a discovery domain; TLS settings only with
    /// `https://` members; metrics served only when counted). Clients and finders run
    /// this when they are made, in every face; setters refuse only a value malformed on
    /// its own (an endpoint, a prefix, an address).
    pub fn check(&self) -> Result<()> {
        self.check_values()?;
        if self.endpoints.is_empty() && self.discovery.is_none() {
            return Err(Error::invalid("no endpoints given"));
        }
        if let (Some(addr), false) = (self.metrics_addr, self.metrics) {
            return Err(Error::invalid(format!(
                "metrics are off but are to be served at {addr}"
            )));
        }
        if let (true, Some(plain)) = (
            self.tls.is_set(),
            self.endpoints.iter().find(|e| !e.is_tls()),
        ) {
            return Err(Error::invalid(format!(
                "TLS settings are given but endpoint {plain} is not https://"
            )));
        }
        Ok(())
    }

    /// Whether a member found at run time (auto-sync, DNS SRV) may be used at `e`: with
    /// TLS settings only `https://`, and with credentials plain `http://` only when the
    /// user chose plain endpoints explicitly. Nothing secret ever goes out in the clear
    /// to an address nobody configured.
    pub(crate) fn may_learn(&self, e: &Endpoint) -> bool {
        if e.is_tls() {
            return true;
        }
        let chose_plain = self.discovery.is_none() && self.endpoints.iter().any(|c| !c.is_tls());
        !self.tls.is_set() && (self.auth.is_none() || chose_plain)
    }

    /// The rules of each setting alone, which no other setting changes: what libturtle's
    /// setters check at once (so the order of setters never matters).
    pub fn check_values(&self) -> Result<()> {
        let positive = [
            ("deadline", self.deadline),
            ("hedge_after", self.hedge_after),
            ("hedge_floor", self.hedge_floor),
            ("connect_timeout", self.connect_timeout),
            ("keepalive interval", self.keepalive_interval),
            ("keepalive timeout", self.keepalive_timeout),
            ("watch check interval", self.watch_check_interval),
            ("watch check timeout", self.watch_check_timeout),
            ("leader_check", self.leader_check_interval),
            ("retry_backoff maximum", self.retry_backoff.1),
            ("probe_backoff maximum", self.probe_backoff.1),
        ];
        for (name, d) in positive {
            if d.is_zero() {
                return Err(Error::invalid(format!("{name} must be above zero")));
            }
        }
        if self.auto_sync.is_some_and(|d| d.is_zero()) {
            return Err(Error::invalid("auto_sync must be above zero (or off)"));
        }
        let bounded = [
            ("auto_sync", self.auto_sync.unwrap_or_default()),
            ("watch_retry_delay", self.watch_retry_delay),
            ("retry_backoff minimum", self.retry_backoff.0),
            ("probe_backoff minimum", self.probe_backoff.0),
        ];
        for (name, d) in positive.iter().chain(&bounded) {
            if *d > MAX_DURATION {
                return Err(Error::invalid(format!(
                    "{name} of {d:?} is longer than the limit of {MAX_DURATION:?}"
                )));
            }
        }
        for (name, (min, max)) in [
            ("retry_backoff", self.retry_backoff),
            ("probe_backoff", self.probe_backoff),
        ] {
            if min > max {
                return Err(Error::invalid(format!(
                    "{name}: minimum {min:?} is above maximum {max:?}"
                )));
            }
        }
        Ok(())
    }

    /// How long a member may take to answer a status call or to open a watch stream: the
    /// watch check timeout or the connect timeout, the longer.
    pub(crate) fn answer_limit(&self) -> Duration {
        self.watch_check_timeout.max(self.connect_timeout)
    }

    /// The deadline of one call: `per_call` when given (checked as the setting is), else
    /// the default.
    pub(crate) fn call_deadline(&self, per_call: Option<Duration>) -> Result<Duration> {
        match per_call {
            None => Ok(self.deadline),
            Some(d) if d.is_zero() => Err(Error::invalid("deadline must be above zero")),
            Some(d) if d > MAX_DURATION => Err(Error::invalid(format!(
                "deadline of {d:?} is longer than the limit of {MAX_DURATION:?}"
            ))),
            Some(d) => Ok(d),
        }
    }

    /// The key of a service, after checking its name.
    pub(crate) fn service_key(&self, name: &str) -> Result<String> {
        keys::service_key(&self.prefix, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MAX_NAME_BYTES;

    #[test]
    fn names_are_checked() {
        let c = Config::new(["a:1"]).unwrap();
        assert_eq!(c.service_key("cdd").unwrap(), "/services/cdd");
        assert_eq!(c.service_key("çdd☃").unwrap(), "/services/çdd☃");
        for bad in ["", "a/b", "/", "a\0b"] {
            assert_eq!(
                c.service_key(bad).unwrap_err().kind(),
                crate::error::ErrorKind::InvalidArgument
            );
        }
        assert!(c.clone().with_prefix("/x\0").is_err());
        let e = c.clone().with_prefix("services").unwrap_err();
        assert!(e.to_string().contains("did you mean \"services/\""), "{e}");
        assert!(c.clone().with_prefix("").is_ok());
        assert!(c
            .clone()
            .with_prefix("x".repeat(MAX_NAME_BYTES + 1) + "/")
            .is_err());
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert!(c
            .service_key(&long)
            .unwrap_err()
            .to_string()
            .contains("1025 bytes"));
        assert!(c.service_key(&long[1..]).is_ok());
        assert!(c.clone().with_max_queued_changes(0).is_err());
        assert!(c.with_cache_limit(0).is_err());
    }

    #[test]
    fn timings_are_checked_together() {
        let c = Config::new(["a:1"]).unwrap();
        assert!(c.check().is_ok());
        let zero = c
            .clone()
            .with_watch_check(Duration::ZERO, Duration::from_millis(1));
        assert!(zero
            .check()
            .unwrap_err()
            .to_string()
            .contains("watch check interval"));
        let huge = c.clone().with_deadline(Duration::MAX);
        assert!(huge.check().unwrap_err().to_string().contains("deadline"));
        let upside_down = c
            .clone()
            .with_retry_backoff(Duration::from_millis(9), Duration::from_millis(1));
        assert!(upside_down
            .check()
            .unwrap_err()
            .to_string()
            .contains("retry_backoff"));
        assert!(c.with_watch_retry_delay(Duration::ZERO).check().is_ok());
    }
}

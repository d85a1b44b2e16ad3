//! Every setting of a finder, with defaults a careful etcd user would pick.

use std::time::Duration;

use crate::endpoints::{self, Endpoint};
use crate::error::{Error, Result};

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

/// Settings of a [`crate::Client`] or [`crate::ServiceFinder`]. Build with [`Config::new`]
/// or [`Config::from_env`] and the `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// let cfg = turtle_finder::Config::new(["127.0.0.1:2379", "127.0.0.1:22379"])
///     .unwrap()
///     .with_deadline(Duration::from_secs(2))
///     .with_prefix("/services/")
///     .unwrap();
/// assert_eq!(cfg.endpoints().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) prefix: String,
    pub(crate) deadline: Duration,
    pub(crate) hedge_after: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive_interval: Duration,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) watch_check_interval: Duration,
    pub(crate) watch_check_timeout: Duration,
    pub(crate) consistency: Consistency,
    pub(crate) max_queued_changes: usize,
}

impl Config {
    /// Settings for these endpoints: a list whose items may also be comma-separated.
    pub fn new<I, S>(endpoints: I) -> Result<Config>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let items: Vec<S> = endpoints.into_iter().collect();
        Ok(Config::with_endpoints(endpoints::parse_list(&items)?))
    }

    /// Settings for the endpoints in `TURTLE_ENDPOINTS`, or `127.0.0.1:2379` when unset.
    pub fn from_env() -> Result<Config> {
        Ok(Config::with_endpoints(endpoints::from_env()?))
    }

    fn with_endpoints(endpoints: Vec<Endpoint>) -> Config {
        Config {
            endpoints,
            prefix: "/services/".into(),
            deadline: Duration::from_secs(5),
            hedge_after: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(5),
            watch_check_interval: Duration::from_millis(300),
            watch_check_timeout: Duration::from_millis(1000),
            consistency: Consistency::Linearizable,
            max_queued_changes: 1024,
        }
    }

    /// The members, in the order given.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The key prefix of services (default `/services/`): `get_service("cdd")` reads
    /// `/services/cdd`. May be empty; must not contain NUL.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Config> {
        let prefix = prefix.into();
        if prefix.contains('\0') {
            return Err(Error::invalid("prefix contains a NUL byte"));
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// The default deadline of every call (default 5 s); calls may override it.
    pub fn with_deadline(mut self, deadline: Duration) -> Config {
        self.deadline = deadline;
        self
    }

    /// How long a request waits for one member before also asking the next (default 250 ms).
    /// This is what keeps lookups going within a second when a member hangs.
    pub fn with_hedge_after(mut self, d: Duration) -> Config {
        self.hedge_after = d;
        self
    }

    /// TCP connect timeout per member (default 1 s).
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

    /// How often the watch stream is checked for life (a progress request), and how long
    /// it may stay silent before it is moved to another member (defaults 300 ms and 1 s).
    pub fn with_watch_check(mut self, interval: Duration, timeout: Duration) -> Config {
        self.watch_check_interval = interval;
        self.watch_check_timeout = timeout;
        self
    }

    /// Default read consistency of lookups (default linearizable).
    pub fn with_consistency(mut self, c: Consistency) -> Config {
        self.consistency = c;
        self
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

    /// The key of a service, after checking its name.
    pub(crate) fn service_key(&self, name: &str) -> Result<String> {
        check_name(name)?;
        Ok(format!("{}{}", self.prefix, name))
    }
}

/// A service name is one path segment: not empty, no `/`, no NUL.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("service name is empty"));
    }
    if name.contains('/') {
        return Err(Error::invalid(format!(
            "service name {name:?} contains '/'"
        )));
    }
    if name.contains('\0') {
        return Err(Error::invalid(format!(
            "service name {name:?} contains a NUL byte"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let c = Config::new(["a:1"]).unwrap();
        assert_eq!(c.service_key("cdd").unwrap(), "/services/cdd");
        assert_eq!(c.service_key("çdd☃").unwrap(), "/services/çdd☃");
        for bad in ["", "a/b", "/", "a\0b"] {
            assert_eq!(
                c.service_key(bad).unwrap_err().kind(),
                crate::ErrorKind::InvalidArgument
            );
        }
        assert!(c.clone().with_prefix("/x\0").is_err());
        assert!(c.with_max_queued_changes(0).is_err());
    }
}

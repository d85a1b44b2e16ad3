//! `turtle_config`: the core's `Config` behind a handle, one setter per setting.

use std::ffi::c_char;
use std::time::Duration;

use ::turtle_finder::{Config, Consistency, Error};
use parking_lot::Mutex;

use crate::boundary::{arg_out, arg_str, guard};
use crate::handles::Table;
use crate::status::{turtle_status, FfiError};

/// Settings of a finder under construction. Owned by the caller; free with
/// `turtle_config_free`. Safe to use from any thread (calls are serialized).
pub struct turtle_config {
    _private: [u8; 0],
}

/// Reads go through the leader (the default).
pub const TURTLE_LINEARIZABLE: u32 = 0;
/// Reads are served by the member asked: faster, possibly stale, work without a leader.
pub const TURTLE_SERIALIZABLE: u32 = 1;

pub(crate) static CONFIGS: Table<Mutex<Config>> = Table::new(1, "turtle_config");

/// Applies one setter of the core's `Config`; the config changes only when the value passes
/// the core's rules of that setting alone, so a rejected value leaves it as it was. How
/// settings combine is checked when the finder is made, so the order of setters never
/// matters.
fn update(
    config: *mut turtle_config,
    set: impl FnOnce(Config) -> Result<Config, Error>,
) -> Result<(), FfiError> {
    let cfg = CONFIGS.get(config, "config")?;
    let mut cfg = cfg.lock();
    let next = set(cfg.clone())?;
    next.check_values()?;
    *cfg = next;
    Ok(())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Makes a config with the defaults: endpoints from `TURTLE_ENDPOINTS` (read now; a
/// malformed value gives TURTLE_INVALID_ARGUMENT), or the members `TURTLE_DISCOVERY_SRV`
/// names, or 127.0.0.1:2379; TLS and auth from `TURTLE_CA_FILE`, `TURTLE_CERT_FILE`,
/// `TURTLE_KEY_FILE`, `TURTLE_SERVER_NAME`, `TURTLE_USER`, `TURTLE_PASSWORD`; metrics
/// served where `TURTLE_METRICS_ADDR` says; every other setting at the default its setter
/// names (the README's settings table lists them all).
///
/// Each setter checks its own value at once and leaves the config unchanged when it is
/// refused; how settings combine (TLS settings with `http://` endpoints, a metrics address
/// with the metrics off) is checked when the finder is made, so the order of setters never
/// matters. The same rules and messages as Rust's `Config::check` and Python's keywords.
/// `*out` is written only on success.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_new(out: *mut *mut turtle_config) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        *out = CONFIGS.insert(Mutex::new(Config::from_env()?));
        Ok(())
    })
}

/// Frees a config. NULL is a no-op; a freed handle gives TURTLE_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn turtle_config_free(config: *mut turtle_config) -> turtle_status {
    guard(|| CONFIGS.free(config, "config", drop))
}

/// Sets the members: "host:port" or "http://host:port", comma-separated. Checked now:
/// malformed or empty gives TURTLE_INVALID_ARGUMENT and leaves the config unchanged.
///
/// # Safety
/// `endpoints` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_endpoints(
    config: *mut turtle_config,
    endpoints: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let e = unsafe { arg_str(endpoints, "endpoints") }?;
        update(config, |c| c.with_endpoints([e]))
    })
}

/// Sets the key prefix of services (default "/services/").
///
/// # Safety
/// `prefix` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_prefix(
    config: *mut turtle_config,
    prefix: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let p = unsafe { arg_str(prefix, "prefix") }?;
        update(config, |c| c.with_prefix(p))
    })
}

/// Sets the default deadline of every call, in milliseconds, at least 1 (default 5000).
#[no_mangle]
pub extern "C" fn turtle_config_set_deadline_ms(
    config: *mut turtle_config,
    deadline_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_deadline(ms(deadline_ms)))))
}

/// Sets the read consistency: TURTLE_LINEARIZABLE (default) or TURTLE_SERIALIZABLE.
#[no_mangle]
pub extern "C" fn turtle_config_set_consistency(
    config: *mut turtle_config,
    consistency: u32,
) -> turtle_status {
    guard(|| {
        let c = match consistency {
            TURTLE_LINEARIZABLE => Consistency::Linearizable,
            TURTLE_SERIALIZABLE => Consistency::Serializable,
            other => return Err(FfiError::invalid(format!("unknown consistency {other}"))),
        };
        update(config, |cfg| Ok(cfg.with_consistency(c)))
    })
}

/// Verifies `https://` members against the CA certificates in this PEM file (read when
/// the finder is made: a file that cannot be read gives TURTLE_INVALID_ARGUMENT naming
/// it). Without one, the system's roots are used. Default from `TURTLE_CA_FILE`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_ca_file(
    config: *mut turtle_config,
    path: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let path = unsafe { arg_str(path, "path") }?;
        update(config, |c| Ok(c.with_ca_file(path)))
    })
}

/// `turtle_config_set_ca_file` with the PEM text itself.
///
/// # Safety
/// `pem` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_ca_pem(
    config: *mut turtle_config,
    pem: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let pem = unsafe { arg_str(pem, "pem") }?;
        update(config, |c| Ok(c.with_ca_pem(pem)))
    })
}

/// Presents this client certificate and key (PEM files) to `https://` members, for
/// clusters started with `--client-cert-auth`. Default from `TURTLE_CERT_FILE` and
/// `TURTLE_KEY_FILE`.
///
/// # Safety
/// Both are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_client_cert(
    config: *mut turtle_config,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let (cert, key) = unsafe {
            (
                arg_str(cert_file, "cert_file")?,
                arg_str(key_file, "key_file")?,
            )
        };
        update(config, |c| Ok(c.with_client_cert(cert, key)))
    })
}

/// The name the members' certificates must carry, when not the endpoints' host.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_server_name(
    config: *mut turtle_config,
    name: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let name = unsafe { arg_str(name, "name") }?;
        update(config, |c| Ok(c.with_server_name(name)))
    })
}

/// Authenticates as `user` on a cluster with auth enabled; the token is renewed without
/// the caller noticing. Wrong credentials give TURTLE_PERMISSION_DENIED. The password is
/// never shown in messages. Default from `TURTLE_USER` and `TURTLE_PASSWORD`.
///
/// # Safety
/// Both are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_auth(
    config: *mut turtle_config,
    user: *const c_char,
    password: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let (user, password) = unsafe { (arg_str(user, "user")?, arg_str(password, "password")?) };
        update(config, |c| c.with_auth(user, password))
    })
}

/// Finds the members by the DNS SRV records of `domain` (`_etcd-client-ssl._tcp` and
/// `_etcd-client._tcp`) instead of the endpoints. Default from `TURTLE_DISCOVERY_SRV`.
///
/// # Safety
/// `domain` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_discovery_srv(
    config: *mut turtle_config,
    domain: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let domain = unsafe { arg_str(domain, "domain") }?;
        update(config, |c| c.with_discovery_srv(domain))
    })
}

/// The name server SRV discovery asks ("ip:port"; default the system's resolver, or
/// `TURTLE_NAME_SERVER`).
///
/// # Safety
/// `addr` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_name_server(
    config: *mut turtle_config,
    addr: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let addr = unsafe { arg_str(addr, "addr") }?;
        update(config, |c| c.with_name_server(addr))
    })
}

/// Asks the cluster for its member list every `interval_ms` and after a request found no
/// member answering: added members join, removed ones leave (0, the default, is off).
#[no_mangle]
pub extern "C" fn turtle_config_set_auto_sync_ms(
    config: *mut turtle_config,
    interval_ms: u64,
) -> turtle_status {
    guard(|| {
        update(config, |c| match interval_ms {
            0 => Ok(c.without_auto_sync()),
            ms => Ok(c.with_auto_sync(Duration::from_millis(ms))),
        })
    })
}

/// Counts requests, failovers, watch moves and callbacks for `turtle_finder_metrics`
/// (default true).
#[no_mangle]
pub extern "C" fn turtle_config_set_metrics(config: *mut turtle_config, on: bool) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_metrics(on))))
}

/// Serves the metrics at `http://<addr>/metrics` ("ip:port"; port 0 picks a free one,
/// which `turtle_finder_metrics_addr` tells) until the finder closes. Default from
/// `TURTLE_METRICS_ADDR`, else nowhere. TURTLE_INVALID_ARGUMENT with the metrics off.
///
/// # Safety
/// `addr` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_metrics_addr(
    config: *mut turtle_config,
    addr: *const c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let addr = unsafe { arg_str(addr, "addr") }?;
        update(config, |c| c.with_metrics_addr(addr))
    })
}

/// Keeps looked-up and watched services in memory (default false): a lookup of a name
/// looked up or watched before is then a local read, with no request, and answers while
/// the cluster has no leader.
#[no_mangle]
pub extern "C" fn turtle_config_set_cache(config: *mut turtle_config, on: bool) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_cache(on))))
}

/// Sets how many names of each kind (services, instance lists) the cache keeps, at least 1
/// (default 10000); past that, an eighth of them, those looked up least recently, leave
/// and their watches end.
#[no_mangle]
pub extern "C" fn turtle_config_set_cache_limit(
    config: *mut turtle_config,
    max: usize,
) -> turtle_status {
    guard(|| update(config, |c| c.with_cache_limit(max)))
}

/// Sets how many undelivered changes a watch keeps while its callback is busy, at least 1
/// (default 1024); past that the oldest are dropped and counted in `skipped`.
#[no_mangle]
pub extern "C" fn turtle_config_set_max_queued_changes(
    config: *mut turtle_config,
    max: usize,
) -> turtle_status {
    guard(|| update(config, |c| c.with_max_queued_changes(max)))
}

/// Sets the largest response accepted from a member, in bytes, from 4096 to 2147483647
/// (default 2147483647). A watch whose catch-up is larger is read anew and delivered as a
/// reset.
#[no_mangle]
pub extern "C" fn turtle_config_set_max_response_bytes(
    config: *mut turtle_config,
    max: usize,
) -> turtle_status {
    guard(|| update(config, |c| c.with_max_response_bytes(max)))
}

/// Sets the longest a read waits for one member before also asking the next, in
/// milliseconds (default 250); below it the wait follows the member's recent latency.
#[no_mangle]
pub extern "C" fn turtle_config_set_hedge_after_ms(
    config: *mut turtle_config,
    hedge_after_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_hedge_after(ms(hedge_after_ms)))))
}

/// Sets the shortest a read waits for one member before also asking the next, in
/// milliseconds (default 10); at or above the hedge_after setting, the wait is fixed at
/// that.
#[no_mangle]
pub extern "C" fn turtle_config_set_hedge_floor_ms(
    config: *mut turtle_config,
    hedge_floor_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_hedge_floor(ms(hedge_floor_ms)))))
}

/// Sets the TCP connect timeout per member, also a probe's wait, in milliseconds (default
/// 1000).
#[no_mangle]
pub extern "C" fn turtle_config_set_connect_timeout_ms(
    config: *mut turtle_config,
    timeout_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_connect_timeout(ms(timeout_ms)))))
}

/// Sets the HTTP/2 keepalive: a ping every `interval_ms`, answered within `timeout_ms`
/// (defaults 10000 and 5000). etcd closes connections that ping more often than its
/// `--grpc-keepalive-min-time` (5 s by default).
#[no_mangle]
pub extern "C" fn turtle_config_set_keepalive_ms(
    config: *mut turtle_config,
    interval_ms: u64,
    timeout_ms: u64,
) -> turtle_status {
    guard(|| {
        update(config, |c| {
            Ok(c.with_keepalive(ms(interval_ms), ms(timeout_ms)))
        })
    })
}

/// Sets the watch stream's liveness check: a progress request every `interval_ms`, and
/// the longest silence after which the stream moves to another member (defaults 200 and
/// 1000); below that longest, the limit follows the member's recent answers.
#[no_mangle]
pub extern "C" fn turtle_config_set_watch_check_ms(
    config: *mut turtle_config,
    interval_ms: u64,
    timeout_ms: u64,
) -> turtle_status {
    guard(|| {
        update(config, |c| {
            Ok(c.with_watch_check(ms(interval_ms), ms(timeout_ms)))
        })
    })
}

/// Sets how often the watch stream's member is asked whether it has a leader, in
/// milliseconds (default 1500).
#[no_mangle]
pub extern "C" fn turtle_config_set_leader_check_ms(
    config: *mut turtle_config,
    interval_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_leader_check(ms(interval_ms)))))
}

/// Sets how long a watch that etcd cancelled (for a reason other than compaction) waits
/// before it is created anew, in milliseconds; 0 allowed (default 1000).
#[no_mangle]
pub extern "C" fn turtle_config_set_watch_retry_delay_ms(
    config: *mut turtle_config,
    delay_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_watch_retry_delay(ms(delay_ms)))))
}

/// Sets the exponential, jittered backoff between rounds over all members (defaults 20
/// and 500); `min_ms` must not be above `max_ms`.
#[no_mangle]
pub extern "C" fn turtle_config_set_retry_backoff_ms(
    config: *mut turtle_config,
    min_ms: u64,
    max_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_retry_backoff(ms(min_ms), ms(max_ms)))))
}

/// Sets the exponential, jittered backoff between background probes of a failed member
/// (defaults 100 and 2000); `min_ms` must not be above `max_ms`.
#[no_mangle]
pub extern "C" fn turtle_config_set_probe_backoff_ms(
    config: *mut turtle_config,
    min_ms: u64,
    max_ms: u64,
) -> turtle_status {
    guard(|| update(config, |c| Ok(c.with_probe_backoff(ms(min_ms), ms(max_ms)))))
}

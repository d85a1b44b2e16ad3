//! The one table of settings: every setting of `Config`, its default, and
//! how each face spells it (the Rust setter, the C setter, the Python keywords, the
//! environment variables, the `turtle` command's flags).
//!
//! Defaults live here and nowhere else: `Config` starts from these constants, and the C
//! header, the Python stub, the `turtle` command and the README's settings table are
//! checked against [`SETTINGS`] by unit tests, so a setting added to one face only fails
//! the build's tests.

use std::fmt::Write as _;
use std::time::Duration;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The key prefix of services.
pub(crate) const PREFIX: &str = "/services/";
/// The default deadline of a call.
pub(crate) const DEADLINE: Duration = ms(5000);
/// Changes a watch keeps while its callback is busy.
pub(crate) const MAX_QUEUED_CHANGES: usize = 1024;
/// The largest response accepted (etcd's Go client's default).
pub(crate) const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;
/// The longest a read waits for one member before also asking the next.
pub(crate) const HEDGE_AFTER: Duration = ms(250);
/// The shortest such wait.
pub(crate) const HEDGE_FLOOR: Duration = ms(10);
/// The TCP connect timeout, also a probe's wait.
pub(crate) const CONNECT_TIMEOUT: Duration = ms(1000);
/// HTTP/2 keepalive: ping interval and answer timeout.
pub(crate) const KEEPALIVE: (Duration, Duration) = (ms(10_000), ms(5000));
/// The watch stream's check: progress request interval and the longest silence.
pub(crate) const WATCH_CHECK: (Duration, Duration) = (ms(200), ms(1000));
/// How often the watch stream's member is asked whether it has a leader.
pub(crate) const LEADER_CHECK: Duration = ms(1500);
/// How long a watch cancelled by etcd waits before it is made anew.
pub(crate) const WATCH_RETRY_DELAY: Duration = ms(1000);
/// The backoff between rounds over all members.
pub(crate) const RETRY_BACKOFF: (Duration, Duration) = (ms(20), ms(500));
/// The backoff between probes of a failed member.
pub(crate) const PROBE_BACKOFF: (Duration, Duration) = (ms(100), ms(2000));
/// Whether the watch-backed cache is on.
pub(crate) const CACHE: bool = false;
/// Names of each kind (services, instance lists) the cache keeps at most.
pub(crate) const CACHE_LIMIT: usize = 10_000;
/// Whether metrics are counted.
pub(crate) const METRICS: bool = true;
/// The time to live of a registration's lease (a per-call option, not a `Config` setting).
pub const REGISTRATION_TTL: Duration = Duration::from_secs(10);

/// A setting's default, as the faces show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// A duration.
    Duration(Duration),
    /// Two durations set together (an interval and a timeout).
    Pair(Duration, Duration),
    /// A backoff's minimum and maximum.
    Range(Duration, Duration),
    /// A number.
    Count(usize),
    /// On or off.
    Switch(bool),
    /// Described in words (no value to compare): "none", "the system's roots".
    Words(&'static str),
}

/// One setting of a finder, and its name in every face.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// What it sets, in a few words (the README table's first column).
    pub what: &'static str,
    /// Its default.
    pub default: DefaultValue,
    /// The `Config` methods that set it.
    pub rust: &'static [&'static str],
    /// The C setters, less their `turtle_config_set_` prefix.
    pub c: &'static [&'static str],
    /// The keyword arguments of Python's `ServiceFinder`.
    pub python: &'static [&'static str],
    /// The environment variables that set it.
    pub env: &'static [&'static str],
    /// The `turtle` command's flags that set it.
    pub cli: &'static [&'static str],
}

const fn row(what: &'static str, default: DefaultValue, rust: &'static [&'static str]) -> Setting {
    Setting {
        what,
        default,
        rust,
        c: &[],
        python: &[],
        env: &[],
        cli: &[],
    }
}

impl Setting {
    const fn c(mut self, c: &'static [&'static str]) -> Setting {
        self.c = c;
        self
    }
    const fn py(mut self, python: &'static [&'static str]) -> Setting {
        self.python = python;
        self
    }
    const fn env(mut self, env: &'static [&'static str]) -> Setting {
        self.env = env;
        self
    }
    const fn cli(mut self, cli: &'static [&'static str]) -> Setting {
        self.cli = cli;
        self
    }
}

use DefaultValue::*;

/// Every setting, in the README's order.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    row("members", Words("`TURTLE_ENDPOINTS`, else `127.0.0.1:2379`"), &["new", "from_env", "with_endpoints"])
        .c(&["endpoints"]).py(&["endpoints"]).env(&["TURTLE_ENDPOINTS"]).cli(&["--endpoints"]),
    row("key prefix of services", Words("`/services/`"), &["with_prefix"]).c(&["prefix"]).py(&["prefix"]),
    row("deadline of a call", Duration(DEADLINE), &["with_deadline"]).c(&["deadline_ms"]).py(&["timeout"]).cli(&["--timeout"]),
    row("read consistency", Words("linearizable"), &["with_consistency"]).c(&["consistency"]).py(&["serializable"]),
    row("watch-backed cache", Switch(CACHE), &["with_cache"]).c(&["cache"]).py(&["cache"]),
    row("names the cache keeps, of services and of instance lists each (the least recently looked up go first)",
        Count(CACHE_LIMIT), &["with_cache_limit"]).c(&["cache_limit"]).py(&["cache_limit"]),
    row("changes queued per watch", Count(MAX_QUEUED_CHANGES), &["with_max_queued_changes"])
        .c(&["max_queued_changes"]).py(&["max_queued_changes"]),
    row("largest response accepted, bytes", Count(MAX_RESPONSE_BYTES), &["with_max_response_bytes"])
        .c(&["max_response_bytes"]).py(&["max_response_bytes"]),
    row("hedge after, at most (wait for one member before also asking the next)", Duration(HEDGE_AFTER), &["with_hedge_after"])
        .c(&["hedge_after_ms"]).py(&["hedge_after"]),
    row("hedge after, at least (below: twice the member's recent p95 latency)", Duration(HEDGE_FLOOR), &["with_hedge_floor"])
        .c(&["hedge_floor_ms"]).py(&["hedge_floor"]),
    row("connect timeout (and probe wait)", Duration(CONNECT_TIMEOUT), &["with_connect_timeout"])
        .c(&["connect_timeout_ms"]).py(&["connect_timeout"]),
    row("keepalive interval, timeout", Pair(KEEPALIVE.0, KEEPALIVE.1), &["with_keepalive"]).c(&["keepalive_ms"]).py(&["keepalive"]),
    row("watch check interval, silence limit (at most; below: twice the recent p95 answer, at least the interval)",
        Pair(WATCH_CHECK.0, WATCH_CHECK.1), &["with_watch_check"]).c(&["watch_check_ms"]).py(&["watch_check"]),
    row("leader check interval", Duration(LEADER_CHECK), &["with_leader_check"]).c(&["leader_check_ms"]).py(&["leader_check"]),
    row("watch retry delay (cancelled by etcd)", Duration(WATCH_RETRY_DELAY), &["with_watch_retry_delay"])
        .c(&["watch_retry_delay_ms"]).py(&["watch_retry_delay"]),
    row("backoff between rounds", Range(RETRY_BACKOFF.0, RETRY_BACKOFF.1), &["with_retry_backoff"])
        .c(&["retry_backoff_ms"]).py(&["retry_backoff"]),
    row("backoff between probes", Range(PROBE_BACKOFF.0, PROBE_BACKOFF.1), &["with_probe_backoff"])
        .c(&["probe_backoff_ms"]).py(&["probe_backoff"]),
    row("auto-sync of the member list", Words("off"), &["with_auto_sync", "without_auto_sync"]).c(&["auto_sync_ms"]).py(&["auto_sync"]),
    row("metrics (`metrics()`)", Switch(METRICS), &["with_metrics"]).c(&["metrics"]).py(&["metrics"]),
    row("where to serve `/metrics`", Words("none"), &["with_metrics_addr"]).c(&["metrics_addr"]).py(&["metrics_addr"])
        .env(&["TURTLE_METRICS_ADDR"]),
    row("CA bundle of `https://` members", Words("the system's roots"), &["with_ca_file", "with_ca_pem"])
        .c(&["ca_file", "ca_pem"]).py(&["ca_file", "ca_pem"]).env(&["TURTLE_CA_FILE"]),
    row("client certificate and key", Words("none"), &["with_client_cert"]).c(&["client_cert"]).py(&["cert_file", "key_file"])
        .env(&["TURTLE_CERT_FILE", "TURTLE_KEY_FILE"]),
    row("server name to verify", Words("the endpoint's host"), &["with_server_name"]).c(&["server_name"]).py(&["server_name"])
        .env(&["TURTLE_SERVER_NAME"]),
    row("user and password", Words("none"), &["with_auth"]).c(&["auth"]).py(&["user", "password"])
        .env(&["TURTLE_USER", "TURTLE_PASSWORD"]),
    row("DNS SRV domain instead of endpoints", Words("none"), &["discover", "with_discovery_srv"]).c(&["discovery_srv"])
        .py(&["discovery_srv"]).env(&["TURTLE_DISCOVERY_SRV"]),
    row("name server of that discovery", Words("the system's resolver"), &["with_name_server"]).c(&["name_server"])
        .py(&["name_server"]).env(&["TURTLE_NAME_SERVER"]),
];

/// "250 ms", "1 s", "1.5 s": how the README and the `turtle` command write a duration.
pub fn shown(d: Duration) -> String {
    match d.as_millis() {
        n if n < 1000 => format!("{n} ms"),
        n => format!("{} s", n as f64 / 1000.0),
    }
}

impl DefaultValue {
    /// The default as the README and `turtle --help` write it.
    pub fn shown(&self) -> String {
        match *self {
            Duration(d) => shown(d),
            Pair(a, b) => format!("{}, {}", shown(a), shown(b)),
            Range(a, b) => format!("{} to {}", shown(a), shown(b)),
            Count(n) => n.to_string(),
            Switch(on) => if on { "on" } else { "off" }.into(),
            Words(w) => w.into(),
        }
    }

    /// The default as libturtle's header writes it, in the C setter's units
    /// (milliseconds); `None` when described in words.
    pub fn in_c(&self) -> Option<String> {
        Some(match *self {
            Duration(d) => format!("default {}", d.as_millis()),
            Pair(a, b) | Range(a, b) => {
                format!("defaults {} and {}", a.as_millis(), b.as_millis())
            }
            Count(n) => format!("default {n}"),
            Switch(on) => format!("default {on}"),
            Words(_) => return None,
        })
    }
}

/// The README's table of settings, as [`SETTINGS`] makes it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| setting | default | Rust `Config::` | C `turtle_config_set_` | Python `ServiceFinder(` | `turtle` |\n\
         |---|---|---|---|---|---|\n",
    );
    let list = |names: &[&str], suffix: &str| -> String {
        let items: Vec<String> = names.iter().map(|n| format!("`{n}{suffix}`")).collect();
        items.join(", ")
    };
    for s in SETTINGS {
        let env: Vec<String> = s.env.iter().map(|e| format!("`{e}`")).collect();
        let what = match env.is_empty() || s.c == ["endpoints"] {
            true => s.what.to_string(),
            false => format!("{} ({})", s.what, env.join(", ")),
        };
        let py_suffix = if s.python == ["endpoints"] { "" } else { "=" };
        let _ = writeln!(
            out,
            "| {what} | {} | {} | {} | {} | {} |",
            s.default.shown(),
            list(s.rust, ""),
            list(s.c, ""),
            list(s.python, py_suffix),
            list(s.cli, ""),
        );
    }
    out
}

/// The setting a Python keyword sets.
pub fn by_python(keyword: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.python.contains(&keyword))
}

/// The setting a `turtle` flag sets.
pub fn by_cli(flag: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.cli.contains(&flag))
}

#[cfg(test)]
mod tests {
    //! The faces against the table: the README, the C header, the Python stub and the
    //! Python signature. (The `turtle` command's flags are checked in its own crate.)
    use super::*;

    const README: &str = include_str!("../../README.md");
    const HEADER: &str = include_str!("../../include/turtle.h");
    const STUB: &str = include_str!("../../python/turtle_finder/_native.pyi");
    const PY_FINDER: &str = include_str!("../../python/src/finder.rs");

    fn all(face: fn(&Setting) -> &'static [&'static str]) -> Vec<&'static str> {
        let mut names: Vec<_> = SETTINGS.iter().flat_map(face).copied().collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn readme_table_is_the_table() {
        let table = markdown_table();
        let start = README
            .find("| setting | default | Rust `Config::`")
            .expect("README has the settings table");
        let shown: String = README[start..]
            .lines()
            .take_while(|l| l.starts_with('|'))
            .map(|l| format!("{l}\n"))
            .collect();
        if std::env::var_os("TURTLE_BLESS").is_some() && shown != table {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
            std::fs::write(path, README.replacen(&shown, &table, 1)).unwrap();
            return;
        }
        assert_eq!(
            shown, table,
            "README's settings table differs from SETTINGS (`make header` writes it)"
        );
    }

    /// The comment of a C function in the header, and whether it is declared.
    fn c_doc(name: &str) -> Option<&'static str> {
        let decl = HEADER.find(&format!(" {name}("))?;
        let before = &HEADER[..decl];
        let open = before.rfind("/**")?;
        Some(&before[open..])
    }

    /// A comment's words on one line, as written in the Rust source.
    fn joined(doc: &str) -> String {
        doc.split_whitespace()
            .filter(|w| *w != "*")
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn c_setters_are_the_table() {
        let mut declared: Vec<&str> = HEADER
            .split("turtle_status turtle_config_set_")
            .skip(1)
            .map(|rest| &rest[..rest.find('(').unwrap()])
            .collect();
        declared.sort_unstable();
        assert_eq!(declared, all(|s| s.c), "turtle.h's setters and SETTINGS");
        for s in SETTINGS {
            let Some(default) = s.default.in_c() else {
                continue;
            };
            for c in s.c {
                let doc = joined(c_doc(&format!("turtle_config_set_{c}")).unwrap());
                assert!(
                    doc.contains(&format!("({default})")),
                    "turtle_config_set_{c}'s comment does not say \"({default})\":\n{doc}"
                );
            }
        }
    }

    /// The keyword arguments (name, default) of `ServiceFinder.__init__` in the stub.
    fn stub_keywords() -> Vec<(String, String)> {
        let start = STUB.find("class ServiceFinder:").unwrap();
        let init = &STUB[start..];
        let args = &init[init.find("*,").unwrap() + 2..init.find(") -> None").unwrap()];
        args.split(",\n")
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                let (name, rest) = a.split_once(':').unwrap();
                let default = rest.rsplit_once('=').map_or("", |(_, d)| d.trim());
                (
                    name.trim().to_string(),
                    default.trim_end_matches(',').into(),
                )
            })
            .collect()
    }

    #[test]
    fn python_keywords_are_the_table() {
        let mut table = all(|s| s.python);
        table.retain(|k| *k != "endpoints");
        let stub = stub_keywords();
        let mut names: Vec<&str> = stub.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names, table,
            "_native.pyi's ServiceFinder keywords and SETTINGS"
        );
        for (name, default) in &stub {
            assert_eq!(
                default, "None",
                "{name}: a keyword defaults to None (the core's default applies)"
            );
        }
        // The native signature, as pyo3 is told it.
        let sig = PY_FINDER
            .split("signature = (")
            .nth(1)
            .and_then(|s| s.split("))]").next())
            .unwrap();
        let mut native: Vec<&str> = sig
            .split(',')
            .map(|a| a.split('=').next().unwrap().trim())
            .filter(|a| !a.is_empty() && *a != "*" && *a != "endpoints")
            .collect();
        native.sort_unstable();
        assert_eq!(
            native, table,
            "python/src/finder.rs's signature and SETTINGS"
        );
        assert!(
            sig.split(',')
                .skip(1)
                .all(|a| a.trim().is_empty() || a.trim() == "*" || a.trim().ends_with("=None")),
            "every keyword of python/src/finder.rs defaults to None: {sig}"
        );
    }

    #[test]
    fn every_default_is_shown_as_the_readme_writes_it() {
        assert_eq!(shown(ms(250)), "250 ms");
        assert_eq!(shown(ms(1500)), "1.5 s");
        assert_eq!(Range(ms(20), ms(500)).shown(), "20 ms to 500 ms");
        assert_eq!(
            Pair(ms(200), ms(1000)).in_c().unwrap(),
            "defaults 200 and 1000"
        );
        assert_eq!(by_python("timeout").unwrap().rust, ["with_deadline"]);
        assert_eq!(by_cli("--timeout").unwrap().python, ["timeout"]);
    }
}

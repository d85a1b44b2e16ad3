//! `turtle`: an etcd cluster as services see it, from the shell.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use turtle_cli::dev_cluster;
use turtle_finder::{
    settings_table, Change, Config, Error, ErrorKind, Instances, ReadOptions, RegisterOptions,
    ServiceFinder,
};

const EXIT_CODES: &str = "\
Exit codes:
  0  done (watch and register: ended by Ctrl-C or SIGTERM)
  1  the cluster could not do it (unreachable, no leader, permission denied, ...)
  2  usage error: bad arguments or settings
  3  get: the service is not registered
  4  health, dev-cluster status: a member is down or there is no leader";

/// An etcd cluster as services see it: lookups, watches, registrations, members, health
/// and metrics through turtle-finder, and a local 3-member cluster for development.
#[derive(Parser)]
#[command(name = "turtle", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// The members, comma-separated (host:port, http:// or https://). TLS, auth and
    /// discovery settings come from TURTLE_CA_FILE, TURTLE_USER, ... as for the library.
    #[arg(long, global = true, env = "TURTLE_ENDPOINTS")]
    endpoints: Option<String>,
    #[arg(long, global = true, value_name = "SECONDS", help = setting_help("--timeout"))]
    timeout: Option<f64>,
    /// Print JSON (one document, or one line per event for watch and register).
    #[arg(long, global = true)]
    json: bool,
}

/// A flag's help: the setting it sets and its default, from the core's table.
fn setting_help(flag: &str) -> String {
    let s = settings_table::by_cli(flag).expect("a flag of the settings table");
    format!(
        "The {}, in seconds (default {}).",
        s.what,
        s.default.shown()
    )
}

#[derive(Subcommand)]
enum Command {
    /// Print the value of service NAME (the key <prefix>NAME).
    Get {
        /// The service name.
        name: String,
    },
    /// Print the value of service NAME, then one line per change until Ctrl-C.
    Watch {
        /// The service name.
        name: String,
    },
    /// List the registered instances of service NAME.
    Instances {
        /// The service name.
        name: String,
    },
    /// Register an instance of service NAME at ADDR and hold it until Ctrl-C, then revoke
    /// it.
    Register {
        /// The service name.
        name: String,
        /// The address clients connect to.
        addr: String,
        /// The lease's time to live, in whole seconds.
        #[arg(long, default_value_t = turtle_finder::DEFAULT_TTL.as_secs())]
        ttl: u64,
        /// JSON stored with the address.
        #[arg(long)]
        metadata: Option<String>,
        /// The last segment of the key (default: the address).
        #[arg(long)]
        id: Option<String>,
    },
    /// List the cluster's members, the leader marked (etcdctl member list).
    Members,
    /// Ask every member for its status (etcdctl endpoint health/status); exit 4 when one
    /// is down or there is no leader.
    Health,
    /// Print metrics in Prometheus's text format: of this command's own client after it
    /// asked for the member list, or of a running finder's /metrics with --from.
    Metrics {
        /// A finder's metrics address (host:port) to read /metrics from.
        #[arg(long, value_name = "ADDR")]
        from: Option<String>,
    },
    /// Run a local etcd cluster on free 127.0.0.1 ports, for development.
    DevCluster {
        #[command(subcommand)]
        action: DevAction,
        /// Where its data, logs and pids live (default TURTLE_DEV_CLUSTER_DIR, else
        /// $XDG_STATE_HOME/turtle/dev-cluster).
        #[arg(long, global = true, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum DevAction {
    /// Start the members (detached) and wait until they have a leader.
    Up {
        /// How many members.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
        members: u8,
    },
    /// Stop the members `up` started, and remove their data.
    Down,
    /// Show whether the members run and are healthy; exit 4 when not.
    Status,
}

/// How a command ends: an exit code and, for failures, one line for stderr.
struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match e.kind() {
            ErrorKind::InvalidArgument => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("turtle: {}", f.message.replace('\n', "; "));
            }
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    let g = &cli.global;
    match cli.command {
        Command::Get { name } => get(g, &name),
        Command::Watch { name } => watch(g, &name),
        Command::Instances { name } => instances(g, &name),
        Command::Register {
            name,
            addr,
            ttl,
            metadata,
            id,
        } => register(g, &name, &addr, ttl, metadata.as_deref(), id),
        Command::Members => members(g),
        Command::Health => health(g),
        Command::Metrics { from } => metrics(g, from.as_deref()),
        Command::DevCluster { action, state_dir } => {
            let dir = state_dir.unwrap_or_else(dev_cluster::default_state_dir);
            dev(g, action, &dir)
        }
    }
}

/// The settings the global options and the environment give.
fn config(g: &Global) -> Result<Config, Error> {
    let mut cfg = match &g.endpoints {
        Some(e) => Config::new([e])?.with_env_settings()?,
        None => Config::from_env()?,
    };
    if let Some(t) = g.timeout {
        let d = Duration::try_from_secs_f64(t).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("--timeout {t} is not a number of seconds"),
            )
        })?;
        cfg = cfg.with_deadline(d);
    }
    Ok(cfg)
}

fn finder(g: &Global) -> Result<ServiceFinder, Error> {
    ServiceFinder::new(config(g)?)
}

/// A value as text: as it is when UTF-8, else with the bytes that are not escaped
/// (`\xNN`), so nothing is lost or mangled silently.
fn shown(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => s.to_string(),
        Err(_) => value.escape_ascii().to_string(),
    }
}

/// A value in JSON: a string when UTF-8, else its hex under `value_hex`.
fn value_json(value: Option<&[u8]>) -> Value {
    match value {
        None => json!({"value": null}),
        Some(v) => match std::str::from_utf8(v) {
            Ok(s) => json!({"value": s}),
            Err(_) => json!({"value": null, "value_hex": hex(v)}),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Merges the fields of `extra` into `base`.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn get(g: &Global, name: &str) -> Outcome {
    let f = finder(g)?;
    let value = f.get_service_bytes(name, ReadOptions::default())?;
    if g.json {
        let doc = json!({"name": name, "found": value.is_some()});
        println!("{}", with(doc, value_json(value.as_deref())));
    } else if let Some(v) = &value {
        println!("{}", shown(v));
    }
    match value {
        Some(_) => Ok(()),
        None => Err(failure(3, format!("service {name:?} is not registered"))),
    }
}

fn change_line(json: bool, c: &Change) -> String {
    if json {
        let doc = json!({
            "name": c.service, "revision": c.revision, "kind": c.kind.as_str(),
            "skipped": c.skipped,
        });
        return with(doc, value_json(c.value.as_deref())).to_string();
    }
    let value = match &c.value {
        Some(v) => shown(v),
        None => "(absent)".into(),
    };
    let skipped = match c.skipped {
        0 => String::new(),
        n => format!(" ({n} older changes skipped)"),
    };
    format!("{} {} {value}{skipped}", c.revision, c.kind.as_str())
}

/// Blocks SIGINT and SIGTERM in this thread and the threads it starts after, so that
/// [`wait_for_signal`] receives them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits until SIGINT or SIGTERM arrives.
fn wait_for_signal(set: &libc::sigset_t) {
    let mut sig = 0;
    // SAFETY: `set` was made by block_signals; sigwait writes `sig`.
    unsafe { libc::sigwait(set, &mut sig) };
}

fn watch(g: &Global, name: &str) -> Outcome {
    let signals = block_signals(); // before the finder starts its threads
    let f = finder(g)?;
    let json = g.json;
    let shown_name = name.to_string();
    let _w = f.watch_service_with(
        name,
        turtle_finder::WatchOptions::initial(),
        move |c: &Change| println!("{}", change_line(json, c)),
        move |e: &Error| eprintln!("turtle: watch {shown_name}: {e} (retrying)"),
    )?;
    wait_for_signal(&signals);
    Ok(())
}

fn instances_json(list: &Instances) -> Value {
    json!({
        "name": list.service,
        "revision": list.revision,
        "instances": list.instances.iter().map(|i| json!({
            "id": i.id, "addr": i.addr, "metadata": i.metadata, "revision": i.revision,
        })).collect::<Vec<_>>(),
        "malformed": list.malformed.iter().map(|m| json!({"key": m.key, "reason": m.reason}))
            .collect::<Vec<_>>(),
    })
}

fn instances(g: &Global, name: &str) -> Outcome {
    let f = finder(g)?;
    let list = f.instances(name)?;
    if g.json {
        println!("{}", instances_json(&list));
        return Ok(());
    }
    for i in &list.instances {
        println!("{}\t{}\t{}", i.id, i.addr, i.metadata);
    }
    for m in &list.malformed {
        eprintln!("turtle: skipped {}: {}", m.key, m.reason);
    }
    Ok(())
}

fn register(
    g: &Global,
    name: &str,
    addr: &str,
    ttl: u64,
    metadata: Option<&str>,
    id: Option<String>,
) -> Outcome {
    let metadata = match metadata {
        None => Value::Null,
        Some(text) => serde_json::from_str(text)
            .map_err(|e| failure(2, format!("--metadata is not JSON: {e}")))?,
    };
    let opts = RegisterOptions {
        ttl: Duration::from_secs(ttl),
        metadata,
        instance_id: id,
    };
    let signals = block_signals();
    let f = finder(g)?;
    let json = g.json;
    let reg = f.register_with(
        name,
        addr,
        opts,
        move |s| match json {
            true => println!("{}", json!({"event": "state", "state": s.as_str()})),
            false => println!("state {}", s.as_str()),
        },
        |e| eprintln!("turtle: {e}"),
    )?;
    let (key, lease, granted) = (reg.key().to_string(), reg.lease_id(), reg.ttl().as_secs());
    match json {
        true => println!(
            "{}",
            json!({"event": "registered", "key": key, "lease": format!("{lease:x}"), "ttl": granted})
        ),
        false => println!("registered {key} lease {lease:x} ttl {granted}s (Ctrl-C revokes it)"),
    }
    wait_for_signal(&signals);
    reg.close();
    match json {
        true => println!("{}", json!({"event": "revoked", "key": key})),
        false => println!("revoked {key}"),
    }
    Ok(())
}

fn members(g: &Global) -> Outcome {
    let f = finder(g)?;
    let list = f.members()?;
    if g.json {
        let docs: Vec<Value> = (list.iter())
            .map(|m| {
                json!({
                    "id": format!("{:x}", m.id), "name": m.name, "client_urls": m.client_urls,
                    "peer_urls": m.peer_urls, "is_leader": m.is_leader, "is_learner": m.is_learner,
                })
            })
            .collect();
        println!("{}", Value::Array(docs));
        return Ok(());
    }
    for m in &list {
        let role = match (m.is_leader, m.is_learner) {
            (true, _) => "leader",
            (_, true) => "learner",
            _ => "follower",
        };
        let name = if m.name.is_empty() {
            "(unstarted)"
        } else {
            &m.name
        };
        println!("{:x}\t{name}\t{}\t{role}", m.id, m.client_urls.join(","));
    }
    Ok(())
}

/// Prints every member's status; `Err` with exit code 4 when one is not healthy.
fn report_health(g: &Global, f: &ServiceFinder) -> Outcome {
    let list = f.health()?;
    let healthy = list.iter().all(|s| s.is_healthy());
    if g.json {
        let docs: Vec<Value> = (list.iter())
            .map(|s| {
                json!({
                    "endpoint": s.endpoint, "healthy": s.is_healthy(), "reachable": s.reachable,
                    "round_trip_ms": s.round_trip.map(|d| d.as_secs_f64() * 1000.0),
                    "member_id": format!("{:x}", s.member_id),
                    "leader_id": format!("{:x}", s.leader_id), "raft_term": s.raft_term,
                    "raft_index": s.raft_index, "version": s.version, "db_size": s.db_size,
                    "alarms": s.alarms, "error": s.error,
                })
            })
            .collect();
        println!("{}", json!({"healthy": healthy, "members": docs}));
    } else {
        for s in &list {
            match (&s.error, s.round_trip) {
                (Some(e), _) => println!("{}\tunreachable\t{e}", s.endpoint),
                (None, rtt) => println!(
                    "{}\t{}\t{:.1} ms\tterm {}\tindex {}\tleader {:x}{}",
                    s.endpoint,
                    if s.is_healthy() {
                        "healthy"
                    } else {
                        "unhealthy"
                    },
                    rtt.unwrap_or_default().as_secs_f64() * 1000.0,
                    s.raft_term,
                    s.raft_index,
                    s.leader_id,
                    match s.alarms.is_empty() {
                        true => String::new(),
                        false => format!("\talarms {}", s.alarms.join(",")),
                    }
                ),
            }
        }
    }
    match healthy {
        true => Ok(()),
        false => Err(failure(4, "")),
    }
}

fn health(g: &Global) -> Outcome {
    report_health(g, &finder(g)?)
}

fn metrics(g: &Global, from: Option<&str>) -> Outcome {
    let text = match from {
        Some(addr) => scrape(addr, g.timeout.unwrap_or(5.0))?,
        None => {
            let f = finder(g)?;
            f.members()?;
            f.metrics()?
        }
    };
    print!("{text}");
    Ok(())
}

/// GET http://ADDR/metrics.
fn scrape(addr: &str, timeout: f64) -> Result<String, Failure> {
    let url = format!("http://{addr}/metrics");
    let limit = Duration::try_from_secs_f64(timeout)
        .map_err(|_| failure(2, format!("--timeout {timeout} is not a number of seconds")))?;
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(limit))
        .build()
        .new_agent();
    let mut resp = agent
        .get(&url)
        .call()
        .map_err(|e| failure(1, format!("{url}: {e}")))?;
    resp.body_mut()
        .read_to_string()
        .map_err(|e| failure(1, format!("{url}: {e}")))
}

fn dev(g: &Global, action: DevAction, dir: &std::path::Path) -> Outcome {
    match action {
        DevAction::Up { members } => {
            let running = dev_cluster::up(dir, members as usize).map_err(|m| failure(1, m))?;
            let endpoints: Vec<String> = running.iter().map(|m| m.endpoint.clone()).collect();
            if let Err(e) = wait_healthy(&endpoints) {
                let _ = dev_cluster::down(dir);
                return Err(failure(
                    1,
                    format!(
                        "the dev cluster did not come up: {e} (logs in {})",
                        dir.display()
                    ),
                ));
            }
            if g.json {
                let pids: Vec<u32> = running.iter().map(|m| m.pid).collect();
                println!(
                    "{}",
                    json!({"endpoints": endpoints, "pids": pids, "state_dir": dir})
                );
            } else {
                println!(
                    "dev cluster up: {} members, state in {}",
                    running.len(),
                    dir.display()
                );
                println!("export TURTLE_ENDPOINTS={}", endpoints.join(","));
            }
            Ok(())
        }
        DevAction::Down => {
            let stopped = dev_cluster::down(dir).map_err(|m| failure(1, m))?;
            if g.json {
                let pids: Vec<u32> = stopped.iter().map(|m| m.pid).collect();
                println!("{}", json!({"stopped": pids}));
            } else if stopped.is_empty() {
                println!("no dev cluster runs from {}", dir.display());
            } else {
                for m in &stopped {
                    println!("stopped {} (pid {})", m.name, m.pid);
                }
            }
            Ok(())
        }
        DevAction::Status => {
            let Some(members) = dev_cluster::recorded(dir).map_err(|m| failure(1, m))? else {
                return Err(failure(
                    4,
                    format!("no dev cluster runs from {}", dir.display()),
                ));
            };
            let alive = members.iter().filter(|m| m.is_alive()).count();
            if !g.json {
                for m in &members {
                    let state = if m.is_alive() {
                        "running"
                    } else {
                        "not running"
                    };
                    println!("{}\t{}\tpid {}\t{state}", m.name, m.endpoint, m.pid);
                }
            }
            if alive == 0 {
                return Err(failure(4, "no member runs"));
            }
            let endpoints: Vec<String> = members.iter().map(|m| m.endpoint.clone()).collect();
            let g = Global {
                endpoints: Some(endpoints.join(",")),
                timeout: g.timeout,
                json: g.json,
            };
            let f = finder(&g)?;
            report_health(&g, &f)?;
            match alive == members.len() {
                true => Ok(()),
                false => Err(failure(4, "")),
            }
        }
    }
}

/// Waits up to 30 s until every member is healthy.
fn wait_healthy(endpoints: &[String]) -> Result<(), Error> {
    let f = ServiceFinder::new(Config::new(endpoints)?)?;
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let list = f.health()?;
        if list.iter().all(|s| s.is_healthy()) {
            return Ok(());
        }
        if Instant::now() > end {
            let down: Vec<String> = (list.iter())
                .filter(|s| !s.is_healthy())
                .map(|s| {
                    format!(
                        "{}: {}",
                        s.endpoint,
                        s.error.as_deref().unwrap_or("no leader")
                    )
                })
                .collect();
            return Err(Error::new(ErrorKind::Unavailable, down.join("; ")));
        }
        // Members elect a leader on their own clock: ask again shortly.
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The global flags that are settings are the core's table's, and no other.
    #[test]
    fn setting_flags_are_the_table() {
        let cmd = Cli::command();
        let mut flags: Vec<String> = (cmd.get_arguments())
            .filter(|a| a.is_global_set() && a.get_id() != "json")
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        flags.sort();
        let mut table: Vec<String> = (settings_table::SETTINGS.iter())
            .flat_map(|s| s.cli.iter().map(|f| f.to_string()))
            .collect();
        table.sort();
        assert_eq!(flags, table, "turtle's global flags and the settings table");
        let help = setting_help("--timeout");
        assert_eq!(help, "The deadline of a call, in seconds (default 5 s).");
    }
}

//! The local etcd cluster of `turtle dev-cluster`: members on 127.0.0.1 ports chosen free
//! at start, started detached (they outlive the command), their data, logs and pids in a
//! state directory, so `down` stops exactly what `up` started.
//!
//! [`member_args`] is the one place that says how a local member runs; the test cluster
//! (`turtle-tests`) starts its members with the same flags.

use std::fs::File;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How one local member runs: its name, data directory, ports and cluster.
pub struct MemberSpec<'a> {
    /// The member's name (`m0`, `m1`, ...).
    pub name: &'a str,
    /// Where it keeps its data.
    pub data_dir: &'a Path,
    /// The port clients use.
    pub client_port: u16,
    /// The port peers use.
    pub peer_port: u16,
    /// `https` or `http`, for the client URL (peers stay plain).
    pub client_scheme: &'a str,
    /// Every founding member, `name=http://127.0.0.1:PEER_PORT`, comma-separated.
    pub initial_cluster: &'a str,
    /// The cluster token: members of one cluster share it.
    pub token: &'a str,
    /// `new` for a founding member, `existing` for one added later.
    pub state: &'a str,
}

/// The etcd flags of a local member (TLS files and other flags go after them).
pub fn member_args(m: &MemberSpec<'_>) -> Vec<String> {
    let client = format!("{}://127.0.0.1:{}", m.client_scheme, m.client_port);
    let peer = format!("http://127.0.0.1:{}", m.peer_port);
    let data = m.data_dir.display().to_string();
    [
        "--name",
        m.name,
        "--data-dir",
        &data,
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
        "--listen-peer-urls",
        &peer,
        "--initial-advertise-peer-urls",
        &peer,
        "--initial-cluster",
        m.initial_cluster,
        "--initial-cluster-token",
        m.token,
        "--initial-cluster-state",
        m.state,
        // Lets clients ping often enough to find a hung member in about a second.
        "--grpc-keepalive-min-time",
        "100ms",
        "--logger",
        "zap",
        "--log-outputs",
        "stderr",
        "--log-level",
        "warn",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `n` distinct free ports on 127.0.0.1.
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    // Hold all listeners until every port is chosen, so no two are the same.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The etcd binary: `ETCD_BIN`, else `etcd` from `PATH`.
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("etcd"))
}

/// The state directory: `TURTLE_DEV_CLUSTER_DIR`, else
/// `$XDG_STATE_HOME/turtle/dev-cluster` (`~/.local/state/...`).
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TURTLE_DEV_CLUSTER_DIR") {
        return PathBuf::from(d);
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("turtle").join("dev-cluster")
}

/// One member as the state file records it.
#[derive(Debug, Clone)]
pub struct Running {
    /// Its name.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// The process's start time (clock ticks since boot): a pid reused by another
    /// process after ours ended has another.
    pub started: u64,
    /// Its client endpoint, `127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Running {
    /// Whether the process is still the one `up` started, and not a zombie.
    pub fn is_alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((state, started)) if started == self.started && state != 'Z')
    }
}

/// The state and start time of process `pid`, from `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // After the name: state is field 3, start time field 22.
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// The state file's name.
const STATE_FILE: &str = "cluster.json";
/// The lock `up` and `down` hold, so two of them on one directory never interleave.
const LOCK_FILE: &str = "cluster.lock";

/// Takes the state directory's lock (creating the directory), or says who holds it.
fn lock(dir: &Path) -> Result<File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: a plain syscall on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(format!(
            "another turtle dev-cluster command is using {} now",
            dir.display()
        ));
    }
    Ok(file)
}

/// What `up` made in the state directory, as its state file records it (a file written
/// before the record existed: each member's data directory and log).
fn created(v: &Value, members: &[Running]) -> Vec<String> {
    match v["created"].as_array() {
        Some(list) => (list.iter().filter_map(Value::as_str).map(String::from)).collect(),
        None => (members.iter())
            .flat_map(|m| [m.name.clone(), format!("{}.log", m.name)])
            .collect(),
    }
}

/// The entries of `dir` that are neither the state, the lock, nor in `ours`.
fn foreign(dir: &Path, ours: &[String]) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name != STATE_FILE && name != LOCK_FILE && !ours.contains(&name) {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

/// Removes what `up` made (`ours`) and the state file; anything else stays.
fn remove_ours(dir: &Path, ours: &[String]) {
    for name in ours.iter().map(String::as_str).chain([STATE_FILE]) {
        let path = dir.join(name);
        let _ = match path.is_dir() {
            true => std::fs::remove_dir_all(&path),
            false => std::fs::remove_file(&path),
        };
    }
}

/// The members `up` recorded in `dir`, if it did.
pub fn recorded(dir: &Path) -> Result<Option<Vec<Running>>, String> {
    Ok(record(dir)?.map(|(members, _)| members))
}

/// The members `up` recorded and the names of what it made in the state directory.
type Record = (Vec<Running>, Vec<String>);

/// The members `up` recorded in `dir` and what it made there, if it did.
fn record(dir: &Path) -> Result<Option<Record>, String> {
    let text = match std::fs::read_to_string(state_file(dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", state_file(dir).display())),
    };
    let bad = || {
        format!(
            "{} is not a dev-cluster state file",
            state_file(dir).display()
        )
    };
    let v: Value = serde_json::from_str(&text).map_err(|_| bad())?;
    let members = v["members"].as_array().ok_or_else(bad)?;
    members
        .iter()
        .map(|m| {
            Some(Running {
                name: m["name"].as_str()?.to_string(),
                pid: m["pid"].as_u64()? as u32,
                started: m["started"].as_u64()?,
                endpoint: m["endpoint"].as_str()?.to_string(),
            })
        })
        .collect::<Option<Vec<_>>>()
        .map(|members| {
            let made = created(&v, &members);
            Some((members, made))
        })
        .ok_or_else(bad)
}

/// What an earlier `up` made in `dir`, when `dir` may be used: it records no member that
/// runs, and holds nothing else.
fn check_free(dir: &Path) -> Result<Vec<String>, String> {
    let before = record(dir)?;
    if let Some((members, _)) = &before {
        if members.iter().any(Running::is_alive) {
            return Err(format!(
                "a dev cluster already runs from {} (turtle dev-cluster down stops it)",
                dir.display()
            ));
        }
    }
    let made_before = before.map(|(_, made)| made).unwrap_or_default();
    let others = foreign(dir, &made_before)?;
    if !others.is_empty() {
        return Err(format!(
            "{} holds files dev-cluster did not make ({}): give --state-dir an empty or new directory",
            dir.display(),
            others.join(", ")
        ));
    }
    Ok(made_before)
}

/// Starts `n` members with their data in `dir`, detached; records them and what it made;
/// their endpoints. Refuses when `dir` already records a member that runs, holds anything
/// an earlier `up` did not make, or another `up` or `down` is at work there.
pub fn up(dir: &Path, n: usize) -> Result<Vec<Running>, String> {
    let _lock = lock(dir)?;
    let made_before = check_free(dir)?;
    remove_ours(dir, &made_before);
    let ports = free_ports(2 * n).map_err(|e| format!("no free ports: {e}"))?;
    let names: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let initial: Vec<String> = (names.iter().enumerate())
        .map(|(i, name)| format!("{name}=http://127.0.0.1:{}", ports[2 * i + 1]))
        .collect();
    let token = format!("turtle-dev-{}-{}", std::process::id(), dir.display());
    let mut running: Vec<Running> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let spec = MemberSpec {
            name,
            data_dir: &dir.join(name),
            client_port: ports[2 * i],
            peer_port: ports[2 * i + 1],
            client_scheme: "http",
            initial_cluster: &initial.join(","),
            token: &token,
            state: "new",
        };
        match spawn_member(dir, &spec) {
            Ok(m) => running.push(m),
            Err(e) => {
                for m in &running {
                    // SAFETY: a plain syscall on a process this call just started.
                    unsafe { libc::kill(m.pid as libc::pid_t, libc::SIGKILL) };
                }
                return Err(e);
            }
        }
    }
    let made: Vec<String> = (names.iter())
        .flat_map(|n| [n.clone(), format!("{n}.log")])
        .collect();
    let record = json!({
        "members": running.iter().map(|m| json!({
            "name": m.name, "pid": m.pid, "started": m.started, "endpoint": m.endpoint,
        })).collect::<Vec<_>>(),
        "created": made,
    });
    std::fs::write(state_file(dir), format!("{record:#}\n"))
        .map_err(|e| format!("{}: {e}", state_file(dir).display()))?;
    Ok(running)
}

/// Starts one member, detached, its output in `<dir>/<name>.log`, from no data.
fn spawn_member(dir: &Path, spec: &MemberSpec) -> Result<Running, String> {
    // A cluster's data belongs to its ports and token: start from nothing.
    let _ = std::fs::remove_dir_all(spec.data_dir);
    let log = File::create(dir.join(format!("{}.log", spec.name)))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(etcd_binary())
        .args(member_args(spec))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0) // a Ctrl-C in the shell that ran `up` does not reach it
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", etcd_binary().display()))?;
    Ok(Running {
        name: spec.name.to_string(),
        pid: child.id(),
        started: proc_stat(child.id()).map_or(0, |(_, s)| s),
        endpoint: format!("127.0.0.1:{}", spec.client_port),
    })
}

/// Stops the members `dir` records (SIGTERM, then SIGKILL after 10 s) if they are still
/// the processes `up` started, and removes what `up` made there (nothing else); the
/// members it stopped.
pub fn down(dir: &Path) -> Result<Vec<Running>, String> {
    if !state_file(dir).exists() {
        return Ok(Vec::new());
    }
    let lock = lock(dir)?;
    let Some((members, made)) = record(dir)? else {
        return Ok(Vec::new());
    };
    let alive: Vec<Running> = members.into_iter().filter(Running::is_alive).collect();
    for m in &alive {
        // SAFETY: a plain syscall; the start time says the pid is still ours.
        unsafe { libc::kill(m.pid as libc::pid_t, libc::SIGTERM) };
    }
    let end = Instant::now() + Duration::from_secs(10);
    for m in &alive {
        while m.is_alive() {
            if Instant::now() > end {
                // SAFETY: as above.
                unsafe { libc::kill(m.pid as libc::pid_t, libc::SIGKILL) };
            }
            // Not our child: nothing to wait on but the process table.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    remove_ours(dir, &made);
    let _ = std::fs::remove_file(dir.join(LOCK_FILE));
    drop(lock);
    Ok(alive)
}

//! The local etcd cluster of `turtle dev-cluster`: members on 127.0.0.1 ports chosen free
//! at start, started detached (they outlive the command), their data, logs and pids in a
//! state directory, so `down` stops exactly what `up` started.
//!
//! [`member_args`] is the one place that says how a local member runs; the test cluster
//! (`turtle-tests`) starts its members with the same flags.

use std::fs::File;
use std::net::TcpListener;
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
    dir.join("cluster.json")
}

/// The members `up` recorded in `dir`, if it did.
pub fn recorded(dir: &Path) -> Result<Option<Vec<Running>>, String> {
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
        .map(Some)
        .ok_or_else(bad)
}

/// Starts `n` members with their data in `dir`, detached; records them; their endpoints.
/// Refuses when `dir` already records a member that runs.
pub fn up(dir: &Path, n: usize) -> Result<Vec<Running>, String> {
    if let Some(members) = recorded(dir)? {
        if members.iter().any(Running::is_alive) {
            return Err(format!(
                "a dev cluster already runs from {} (turtle dev-cluster down stops it)",
                dir.display()
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
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
    let record = json!({
        "members": running.iter().map(|m| json!({
            "name": m.name, "pid": m.pid, "started": m.started, "endpoint": m.endpoint,
        })).collect::<Vec<_>>(),
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
/// the processes `up` started, and removes their data; the members it stopped.
pub fn down(dir: &Path) -> Result<Vec<Running>, String> {
    let Some(members) = recorded(dir)? else {
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
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n == "cluster.json" || (n.starts_with('m') && (path.is_dir() || n.ends_with(".log")))
        });
        if ours {
            let _ = match path.is_dir() {
                true => std::fs::remove_dir_all(&path),
                false => std::fs::remove_file(&path),
            };
        }
    }
    Ok(alive)
}

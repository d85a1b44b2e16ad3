//! `turtle dev-cluster up|down|status`: a local etcd cluster for development.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use turtle_cli::dev_cluster;
use turtle_finder::{Config, Error, ErrorKind, ServiceFinder};

use super::health;
use crate::print::out;
use crate::{failure, finder, DevAction, Global, Outcome};

/// Runs `action` on the dev cluster whose state is in `dir`.
pub(crate) fn run(g: &Global, action: DevAction, dir: &Path) -> Outcome {
    match action {
        DevAction::Up { members } => up(g, dir, members as usize),
        DevAction::Down => down(g, dir),
        DevAction::Status => status(g, dir),
    }
}

/// Starts the members and waits until they are healthy.
fn up(g: &Global, dir: &Path, members: usize) -> Outcome {
    let running = dev_cluster::up(dir, members).map_err(|m| failure(1, m))?;
    let endpoints: Vec<String> = running.iter().map(|m| m.endpoint.clone()).collect();
    if let Err(e) = wait_healthy(dir, &running) {
        let _ = dev_cluster::down(dir);
        let logs = dir.display();
        return Err(failure(
            1,
            format!("the dev cluster did not come up: {e} (logs in {logs})"),
        ));
    }
    let pids: Vec<u32> = running.iter().map(|m| m.pid).collect();
    g.printer().line(
        || {
            let n = running.len();
            let all = endpoints.join(",");
            format!(
                "dev cluster up: {n} members, state in {}\nexport TURTLE_ENDPOINTS={all}",
                dir.display()
            )
        },
        || json!({"endpoints": endpoints, "pids": pids, "state_dir": dir}),
    );
    Ok(())
}

/// Stops the members `up` started.
fn down(g: &Global, dir: &Path) -> Outcome {
    let stopped = dev_cluster::down(dir).map_err(|m| failure(1, m))?;
    let pids: Vec<u32> = stopped.iter().map(|m| m.pid).collect();
    g.printer().line(
        || match stopped.is_empty() {
            true => format!("no dev cluster runs from {}", dir.display()),
            false => (stopped.iter())
                .map(|m| format!("stopped {} (pid {})", m.name, m.pid))
                .collect::<Vec<_>>()
                .join("\n"),
        },
        || json!({"stopped": pids}),
    );
    Ok(())
}

/// Whether the members run, and their health; exit 4 when one does not run or is unhealthy.
fn status(g: &Global, dir: &Path) -> Outcome {
    let Some(members) = dev_cluster::recorded(dir).map_err(|m| failure(1, m))? else {
        let none = format!("no dev cluster runs from {}", dir.display());
        if g.json {
            out!("{}", json!({"state_dir": dir, "members": []}));
        }
        return Err(failure(4, none));
    };
    let alive = members.iter().filter(|m| m.is_alive()).count();
    if !g.json {
        for m in &members {
            let state = match m.is_alive() {
                true => "running",
                false => "not running",
            };
            out!("{}\t{}\tpid {}\t{state}", m.name, m.endpoint, m.pid);
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
    health::report(&g, &finder(&g)?)?;
    match alive == members.len() {
        true => Ok(()),
        false => Err(failure(4, "")),
    }
}

/// Waits up to 30 s until every member is healthy; at once an error when one exited.
fn wait_healthy(dir: &Path, running: &[dev_cluster::Running]) -> Result<(), Error> {
    let endpoints: Vec<&str> = running.iter().map(|m| m.endpoint.as_str()).collect();
    let f = ServiceFinder::new(Config::new(endpoints)?)?;
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = running.iter().find(|m| !m.is_alive()) {
            let log = dir.join(format!("{}.log", m.name));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let said = match last.is_empty() {
                true => "it wrote nothing".to_string(),
                false => format!("its last words: {last}"),
            };
            let message = format!("member {} (pid {}) exited; {said}", m.name, m.pid);
            return Err(Error::new(ErrorKind::Unavailable, message));
        }
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

//! The `turtle` command end to end against real clusters: each subcommand's output, bad
//! arguments, an unreachable cluster, and `dev-cluster up`/`down` leaving nothing behind.
//!
//! Uses the `turtle` binary that `make test` builds first (`cargo build --workspace`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use turtle_tests::{promtool_check_metrics, ChildProcess, Cluster};

/// target/debug/turtle, next to this test's deps/ folder.
fn turtle_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("turtle");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p turtle-cli` first (make test does)",
        bin.display()
    );
    bin
}

/// `turtle` with `args`, no endpoints from this process's environment.
fn turtle(args: &[&str]) -> Command {
    let mut cmd = Command::new(turtle_bin());
    cmd.args(args)
        .env_remove("TURTLE_ENDPOINTS")
        .env_remove("TURTLE_DEV_CLUSTER_DIR");
    cmd
}

/// Runs `turtle` against cluster `c`: (exit code, stdout, stderr).
fn run(c: &Cluster, args: &[&str]) -> (i32, String, String) {
    let endpoints = c.endpoints().join(",");
    let mut all = vec!["--endpoints", endpoints.as_str()];
    all.extend(args);
    split(turtle(&all).output().unwrap())
}

fn split(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A one-line error, "turtle: ...".
fn one_line_error(stderr: &str) {
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("turtle: "), "{stderr:?}");
}

#[test]
fn every_subcommand_against_a_real_cluster() {
    let c = Cluster::start();
    c.put_via(0, "/services/cdd", "hello");
    assert_eq!(
        run(&c, &["get", "cdd"]),
        (0, "hello\n".into(), String::new())
    );
    let (code, out, _) = run(&c, &["--json", "get", "cdd"]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (code, &doc["found"], &doc["value"]),
        (0, &Value::Bool(true), &"hello".into())
    );
    let (code, out, err) = run(&c, &["get", "absent"]);
    assert_eq!((code, out.as_str()), (3, ""));
    one_line_error(&err);
    assert!(err.contains("not registered"), "{err}");
    // Bytes that are not UTF-8 are escaped, never mangled.
    c.put_via(0, "/services/raw", vec![0xff, b'A']);
    assert_eq!(run(&c, &["get", "raw"]).1, "\\xffA\n");
    let doc: Value = serde_json::from_str(&run(&c, &["--json", "get", "raw"]).1).unwrap();
    assert_eq!(doc["value_hex"], "ff41");

    let (code, out, _) = run(&c, &["members"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert_eq!(out.matches("\tleader").count(), 1, "{out}");
    let doc: Value = serde_json::from_str(&run(&c, &["--json", "members"]).1).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 3);

    let (code, out, _) = run(&c, &["health"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("\thealthy\t").count(), 3, "{out}");

    let (code, out, _) = run(&c, &["metrics"]);
    assert_eq!(code, 0);
    promtool_check_metrics(&out).unwrap();
    assert!(
        out.contains("operation=\"member_list\",outcome=\"ok\""),
        "{out}"
    );
    let (code, out, _) = run(&c, &["--json", "metrics"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).expect("--json metrics is JSON");
    let samples = doc["samples"].as_array().unwrap();
    assert!(samples.iter().any(|s| s["name"] == "turtle_requests_total"
        && s["labels"]["operation"] == "member_list"
        && s["value"].as_f64() >= Some(1.0)));

    // watch: the value, then one line per change, until SIGINT.
    let endpoints = c.endpoints().join(",");
    let mut watch = ChildProcess::spawn(turtle(&["--endpoints", &endpoints, "watch", "cdd"]));
    watch.wait_for("initial hello");
    let r = c.put_via(1, "/services/cdd", "world");
    watch.wait_for(&format!("{r} put world"));
    let r = c.delete_via(2, "/services/cdd");
    watch.wait_for(&format!("{r} delete (absent)"));
    watch.signal(libc::SIGINT);
    assert!(watch.wait_exit().success());

    // register: held until SIGTERM, then revoked at once (the TTL is 30 s).
    let mut reg = ChildProcess::spawn(turtle(&[
        "--endpoints",
        &endpoints,
        "register",
        "web",
        "10.0.0.1:80",
        "--ttl",
        "30",
        "--metadata",
        r#"{"zone":"a"}"#,
    ]));
    reg.wait_for("registered /services/web/10.0.0.1:80");
    let (code, out, _) = run(&c, &["instances", "web"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "10.0.0.1:80\t10.0.0.1:80\t{\"zone\":\"a\"}\n")
    );
    let doc: Value = serde_json::from_str(&run(&c, &["--json", "instances", "web"]).1).unwrap();
    assert_eq!(doc["instances"][0]["metadata"]["zone"], "a");
    reg.signal(libc::SIGTERM);
    reg.wait_for("revoked /services/web/10.0.0.1:80");
    assert!(reg.wait_exit().success());
    assert_eq!(
        run(&c, &["instances", "web"]),
        (0, String::new(), String::new())
    );

    // A hung member: health says which, and exits 4.
    c.stop(1);
    let (code, out, _) = run(&c, &["health"]);
    c.cont(1);
    assert_eq!(code, 4, "{out}");
    let hung = out.lines().find(|l| l.starts_with(&c.endpoint(1))).unwrap();
    assert!(hung.contains("unreachable"), "{out}");
}

#[test]
fn bad_arguments_are_usage_errors_and_an_unreachable_cluster_one_line() {
    for args in [
        &[][..],
        &["get"],
        &["frobnicate"],
        &["--endpoints", "a:b:c", "get", "x"],
        &["--endpoints", "127.0.0.1:1", "--timeout", "-1", "get", "x"],
        &["--endpoints", "127.0.0.1:1", "get", "a/b"],
        &[
            "--endpoints",
            "127.0.0.1:1",
            "register",
            "x",
            "1.2.3.4:5",
            "--metadata",
            "{",
        ],
        &["dev-cluster", "up", "--members", "0"],
        &["metrics", "--from", "not an addr"],
    ] {
        let (code, _, err) = split(turtle(args).output().unwrap());
        assert_eq!(code, 2, "turtle {args:?}: {err}");
        assert!(!err.is_empty(), "turtle {args:?} said nothing");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again: nothing listens there
    let endpoint = format!("127.0.0.1:{port}");
    let t = Instant::now();
    let (code, out, err) = split(
        turtle(&["--endpoints", &endpoint, "--timeout", "1", "get", "x"])
            .output()
            .unwrap(),
    );
    assert_eq!((code, out.as_str()), (1, ""));
    one_line_error(&err);
    assert!(err.contains(&endpoint), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "no hang: {:?}",
        t.elapsed()
    );
    let (code, out, _) = split(
        turtle(&["--endpoints", &endpoint, "health"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 4);
    assert!(out.contains("unreachable"), "{out}");
}

/// Runs `dev-cluster down` on drop, so a failed test leaves no cluster running.
struct DownOnDrop<'a>(&'a Path);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let dir = self.0.display().to_string();
        let _ = turtle(&["dev-cluster", "down", "--state-dir", &dir]).output();
    }
}

/// Whether process `pid` exists and is not a zombie.
fn runs(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn dev_cluster_up_status_down_leaves_no_process_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.display().to_string();
    let _down = DownOnDrop(&dir);
    let (code, out, err) = split(
        turtle(&["--json", "dev-cluster", "up", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let endpoints: Vec<String> = (doc["endpoints"].as_array().unwrap().iter())
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    let pids: Vec<u64> = (doc["pids"].as_array().unwrap().iter())
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!((endpoints.len(), pids.len()), (3, 3));
    assert!(pids.iter().all(|&p| runs(p)));

    let (code, out, _) = split(
        turtle(&["dev-cluster", "status", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("\trunning").count(), 3, "{out}");
    let joined = endpoints.join(",");
    let (code, out, _) = split(
        turtle(&["--endpoints", &joined, "members"])
            .output()
            .unwrap(),
    );
    assert_eq!((code, out.lines().count()), (0, 3), "{out}");
    let (code, _, err) = split(
        turtle(&["dev-cluster", "up", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("already runs"), "{err}");

    // Files the user put there meanwhile are not dev-cluster's to delete (issue 19,
    // item 4: `down` removed main/, models/ and mynotes.log).
    for d in ["main", "models", "m9"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("mynotes.log"), "mine").unwrap();
    let (code, out, _) = split(
        turtle(&["dev-cluster", "down", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0);
    assert_eq!(out.matches("stopped m").count(), 3, "{out}");
    for p in &pids {
        assert!(!runs(*p), "pid {p} still runs");
    }
    assert!(!dir.join("cluster.json").exists() && !dir.join("m0").exists());
    let mut left: Vec<String> = (std::fs::read_dir(&dir).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["m9", "main", "models", "mynotes.log"]);
    // A directory holding anything else is refused, and left as it is.
    let (code, _, err) = split(
        turtle(&["dev-cluster", "up", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("did not make (m9, main, models, mynotes.log)"),
        "{err}"
    );
    assert!(dir.join("m9").is_dir() && !dir.join("cluster.json").exists());
    let (code, out, _) = split(
        turtle(&["--json", "dev-cluster", "status", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 4);
    let doc: Value = serde_json::from_str(&out).expect("JSON with no cluster too");
    assert_eq!(doc["members"], serde_json::json!([]));
    let (code, out, _) = split(
        turtle(&["dev-cluster", "down", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0);
    assert!(out.contains("no dev cluster"), "{out}");
}

/// Two `up` at once on one directory: one starts the cluster, the other is refused and
/// leaves no process behind (issue 19, item 4); an etcd that cannot start is said at once,
/// not after the 30 s wait.
#[test]
fn dev_cluster_up_takes_a_lock_and_reports_an_etcd_that_exits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.display().to_string();
    let _down = DownOnDrop(&dir);
    let racers: Vec<std::process::Child> = (0..2)
        .map(|_| {
            turtle(&["dev-cluster", "up", "--state-dir", &d])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes: Vec<(i32, String)> = racers
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stderr).into(),
            )
        })
        .collect();
    codes.sort();
    assert_eq!(codes[0].0, 0, "{codes:?}");
    assert_eq!(codes[1].0, 1, "{codes:?}");
    let why = &codes[1].1;
    assert!(
        why.contains("is using") || why.contains("already runs"),
        "{why}"
    );
    let (code, out, _) = split(
        turtle(&["dev-cluster", "down", "--state-dir", &d])
            .output()
            .unwrap(),
    );
    assert_eq!((code, out.matches("stopped m").count()), (0, 3), "{out}");
    let ours = std::fs::read_dir("/proc").unwrap().filter_map(|e| {
        let cmd = std::fs::read(e.ok()?.path().join("cmdline")).ok()?;
        String::from_utf8_lossy(&cmd).contains(&d).then_some(())
    });
    assert_eq!(ours.count(), 0, "an etcd of {d} still runs");

    let bad = tmp.path().join("bad").display().to_string();
    let (code, _, err) = split(
        turtle(&["dev-cluster", "up", "--state-dir", &bad])
            .env("ETCD_BIN", "/bin/false")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("member m") && err.contains(") exited; it wrote nothing"),
        "{err}"
    );
}

/// Runs `turtle` against `c` with its stdout piped; the child and its first line.
fn first_line_of(c: &Cluster, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let endpoints = c.endpoints().join(",");
    let mut all = vec!["--endpoints", endpoints.as_str()];
    all.extend(args);
    let mut child = turtle(&all)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    (child, line) // `out` dropped: the pipe's reader is gone, as after `| head -1`
}

/// Waits up to 20 s for `child` to end; its exit status.
fn ends(mut child: std::process::Child) -> std::process::ExitStatus {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait().unwrap()).unwrap());
    rx.recv_timeout(Duration::from_secs(20))
        .expect("turtle ended within 20 s")
}

/// `turtle watch … | head -1` and `turtle register … | head -1` end once stdout is closed
/// (SIGPIPE is ignored in Rust programs: the write fails instead), the registration revoked;
/// SIGHUP ends a registration as SIGTERM does (issue 19, item 9).
#[test]
fn a_closed_stdout_or_sighup_ends_watch_and_register() {
    let c = Cluster::start();
    c.put_via(0, "/services/piped", "v");
    let (watch, first) = first_line_of(&c, &["watch", "piped"]);
    assert!(first.ends_with("initial v\n"), "{first:?}");
    c.put_via(0, "/services/piped", "w"); // its line meets the closed pipe
    assert!(ends(watch).success());

    let (register, first) = first_line_of(&c, &["register", "piped-reg", "10.3.0.1:80"]);
    assert!(
        first.starts_with("registered /services/piped-reg/10.3.0.1:80"),
        "{first:?}"
    );
    // Its next line meets the closed pipe: the state change after its lease is revoked
    // ("registered KEY lease HEX ttl ..."); it then ends, revoking the new lease.
    let lease = first.split_whitespace().nth(3).unwrap();
    c.etcdctl(&["lease", "revoke", lease]);
    assert!(ends(register).success());
    let left = c.etcdctl(&["get", "--prefix", "/services/piped-reg/", "--keys-only"]);
    assert!(left.trim().is_empty(), "revoked on the way out: {left}");

    let child = ChildProcess::spawn(turtle(&[
        "--endpoints",
        &c.endpoints().join(","),
        "register",
        "hup",
        "10.3.0.2:80",
    ]));
    child.wait_for("registered /services/hup/10.3.0.2:80");
    child.signal(libc::SIGHUP);
    child.wait_for("revoked /services/hup/10.3.0.2:80");
    let left = c.etcdctl(&["get", "--prefix", "/services/hup/", "--keys-only"]);
    assert!(left.trim().is_empty(), "revoked at once: {left}");
}

/// Values, addresses and ids are printed one line each, whatever they hold: control
/// characters and backslashes escaped, so a value cannot pass for two changes or send the
/// terminal escapes, and a typed `\xff` differs from the byte (issue 19, item 14).
#[test]
fn control_characters_are_escaped_in_text_output() {
    let c = Cluster::start();
    c.put_via(0, "/services/forged", "a\n2 put b\x1b[31m\\xff");
    let (code, out, _) = run(&c, &["get", "forged"]);
    assert_eq!(code, 0);
    assert_eq!(out, "a\\n2 put b\\u{1b}[31m\\\\xff\n");
    c.put_via(0, "/services/forged/id\tx", r#"{"Addr":"h:1\tq\n"}"#);
    let (code, out, _) = run(&c, &["instances", "forged"]);
    assert_eq!(code, 0);
    assert_eq!(out, "id\\tx\th:1\\tq\\n\tnull\n");
}

/// The keys under `<name>/`.
fn lock_keys(c: &Cluster, name: &str) -> Vec<String> {
    let out = c.etcdctl(&["get", "--prefix", "--keys-only", &format!("{name}/")]);
    out.lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `turtle lock NAME -- COMMAND` runs the command under the lock with its token, exits
/// with its status and leaves no key; a lock lost meanwhile ends the command and exits 5;
/// Ctrl-C while waiting gives up and leaves no waiter key (issue 20, item 4).
#[test]
fn turtle_lock_runs_a_command_under_the_lock_and_passes_its_status() {
    let c = Cluster::start();
    let (code, out, err) = run(
        &c,
        &[
            "lock",
            "jobs",
            "--",
            "sh",
            "-c",
            "echo \"$TURTLE_LOCK_TOKEN $TURTLE_LOCK_KEY\"; exit 7",
        ],
    );
    assert_eq!(code, 7, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let locked: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(locked[0], "locked", "{out}");
    assert_eq!(lines[1], format!("{} {}", locked[3], locked[1]), "{out}");
    assert!(lines[2].starts_with("unlocked jobs/"), "{out}");
    assert!(lock_keys(&c, "jobs").is_empty());

    // Lost while the command runs: the key deleted under it.
    let (child, first) = first_line_of(&c, &["lock", "--ttl", "2", "lost", "--", "sleep", "30"]);
    let key = first.split(' ').nth(1).unwrap().to_string();
    c.etcdctl(&["del", &key]);
    assert_eq!(ends(child).code(), Some(5));

    // Waiting behind a holder, then Ctrl-C.
    let f = turtle_finder::ServiceFinder::new(turtle_finder::Config::new(c.endpoints()).unwrap())
        .unwrap();
    let held = f
        .lock("held", turtle_finder::LockOptions::default())
        .unwrap();
    let endpoints = c.endpoints().join(",");
    let waiter = turtle(&["--endpoints", &endpoints, "lock", "held", "--", "true"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while lock_keys(&c, "held").len() < 2 {
        assert!(Instant::now() < end, "the waiter never put its key");
    }
    // SAFETY: our child, not yet reaped.
    unsafe { libc::kill(waiter.id() as i32, libc::SIGINT) };
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    one_line_error(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(lock_keys(&c, "held"), [held.key()]);
}

/// `turtle lock NAME` (no command) and `etcdctl lock NAME` exclude each other.
#[test]
fn turtle_lock_and_etcdctl_lock_exclude_each_other() {
    use std::io::BufRead;
    let c = Cluster::start();
    let (turtle_lock, first) = first_line_of(&c, &["lock", "shared"]);
    assert!(first.starts_with("locked shared/"), "{first}");
    let mut theirs = c
        .etcdctl_command()
        .args(["lock", "--ttl=5", "shared"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while lock_keys(&c, "shared").len() < 2 {
        assert!(Instant::now() < end, "etcdctl never put its key");
    }
    // SAFETY: our child, not yet reaped.
    unsafe { libc::kill(turtle_lock.id() as i32, libc::SIGTERM) };
    assert_eq!(ends(turtle_lock).code(), Some(0));
    let mut line = String::new();
    std::io::BufReader::new(theirs.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("shared/"), "{line}");
    // SAFETY: as above.
    unsafe { libc::kill(theirs.id() as i32, libc::SIGTERM) };
    theirs.wait().unwrap();
}

/// `turtle elect NAME VALUE` leads until SIGTERM and resigns; `turtle --json elect
/// --listen NAME` prints each leader and then none; `etcdctl elect -l` sees the turtle
/// leader (issue 20, item 4).
#[test]
fn turtle_elect_leads_until_a_signal_and_listen_sees_each_leader() {
    use std::io::BufRead;
    let c = Cluster::start();
    let (leader, first) = first_line_of(&c, &["elect", "sched", "host-a"]);
    assert!(first.starts_with("leading sched/"), "{first}");
    let key = first.split(' ').nth(1).unwrap().to_string();
    let endpoints = c.endpoints().join(",");
    let mut listen = turtle(&[
        "--endpoints",
        &endpoints,
        "--json",
        "elect",
        "--listen",
        "sched",
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(listen.stdout.take().unwrap()).lines();
    let doc: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(doc["leader"]["key"], key.as_str(), "{doc}");
    assert_eq!(doc["leader"]["value"], "host-a", "{doc}");
    let mut theirs = c
        .etcdctl_command()
        .args(["elect", "-l", "sched"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut their_lines = std::io::BufReader::new(theirs.stdout.take().unwrap()).lines();
    assert_eq!(their_lines.next().unwrap().unwrap(), key);
    assert_eq!(their_lines.next().unwrap().unwrap(), "host-a");
    theirs.kill().unwrap();
    theirs.wait().unwrap();
    // SAFETY: our child, not yet reaped.
    unsafe { libc::kill(leader.id() as i32, libc::SIGTERM) };
    assert_eq!(ends(leader).code(), Some(0));
    let doc: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(doc, serde_json::json!({"leader": null}));
    // SAFETY: as above.
    unsafe { libc::kill(listen.id() as i32, libc::SIGTERM) };
    assert_eq!(ends(listen).code(), Some(0));
    let (code, _, err) = run(&c, &["elect", "sched"]);
    assert_eq!(code, 2, "a value is needed to campaign: {err}");
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: our child, not yet reaped.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// etcd 3.4's Lock and Campaign RPCs grant to a waiter whose lease expired (etcd #9921).
/// A `turtle lock` waiter (and a `turtle elect` candidate) stopped (SIGSTOP) until its
/// lease expired, resumed after the holder let go, never runs its command (never says it
/// leads): it fails, and no key of it is left.
#[test]
fn a_waiter_or_candidate_paused_past_its_ttl_never_gets_the_lock() {
    let c = Cluster::start();
    let f = turtle_finder::ServiceFinder::new(turtle_finder::Config::new(c.endpoints()).unwrap())
        .unwrap();
    let endpoints = c.endpoints().join(",");
    let lock = ["lock", "--ttl", "2", "paused", "--", "echo", "GOT"];
    let elect = ["elect", "--ttl", "2", "paused-e", "GOT"];
    for (name, args) in [("paused", &lock[..]), ("paused-e", &elect[..])] {
        let held = f.lock(name, turtle_finder::LockOptions::default()).unwrap();
        let mut all = vec!["--endpoints", endpoints.as_str()];
        all.extend(args);
        let waiter = turtle(&all)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while lock_keys(&c, name).len() < 2 {
            assert!(Instant::now() < end, "the waiter never put its key");
        }
        signal(&waiter, libc::SIGSTOP);
        // Its lease expires while it is stopped: etcd deletes its key.
        while lock_keys(&c, name).len() > 1 {
            assert!(
                Instant::now() < end + Duration::from_secs(10),
                "the waiter's lease never expired"
            );
        }
        held.unlock();
        signal(&waiter, libc::SIGCONT);
        let out = waiter.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            !stdout.contains("GOT") && !stdout.contains("leading"),
            "{name}: held what it did not: {stdout}"
        );
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(&format!("lock {name}/")), "{stderr}");
        assert!(lock_keys(&c, name).is_empty());
    }
}

/// A `turtle lock` holder stopped for twice its TTL while another takes the lock: resumed,
/// it finds the lock lost, ends its command and exits 5; the other's fenced write lands,
/// a write fenced on the paused holder's token does not.
#[test]
fn a_holder_paused_past_its_ttl_loses_the_lock_and_its_fence() {
    let c = Cluster::start();
    let (holder, first) = first_line_of(&c, &["lock", "--ttl", "2", "fenced", "--", "sleep", "60"]);
    let words: Vec<&str> = first.split(' ').collect();
    let (key, token): (String, i64) = (words[1].to_string(), words[3].trim().parse().unwrap());
    signal(&holder, libc::SIGSTOP);
    let f = turtle_finder::ServiceFinder::new(turtle_finder::Config::new(c.endpoints()).unwrap())
        .unwrap();
    let opts = turtle_finder::LockOptions::timeout(Duration::from_secs(20));
    let next = f.lock("fenced", opts).unwrap(); // once the paused holder's lease expired
    assert!(next.token() > token);
    let stale = turtle_finder::WriteOptions::if_owner(turtle_finder::Fence { key, token });
    let e = f.put("/fenced/state", b"late", stale).unwrap_err();
    assert_eq!(e.kind(), turtle_finder::ErrorKind::ConditionFailed, "{e}");
    f.put(
        "/fenced/state",
        b"new",
        turtle_finder::WriteOptions::if_owner(next.fence()),
    )
    .unwrap();
    signal(&holder, libc::SIGCONT);
    assert_eq!(ends(holder).code(), Some(5));
    assert_eq!(lock_keys(&c, "fenced"), [next.key()]);
}

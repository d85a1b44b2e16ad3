//! A real etcd cluster of N members on 127.0.0.1, for tests and demos.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use turtle_cli::dev_cluster::{etcd_binary, free_ports, member_args, MemberSpec};

use crate::certs::Certs;

/// How to start a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of members (default 3).
    pub members: usize,
    /// More etcd flags for every member, e.g. `--enable-v2`.
    pub extra_args: Vec<String>,
    /// Client URLs over TLS with these certificates (peers stay plain).
    pub tls: Option<Arc<Certs>>,
    /// With `tls`: clients must present a certificate the CA signed.
    pub client_cert_auth: bool,
    /// The etcd binary of member `i`, where given (a mixed-version cluster); the others
    /// run `ETCD_BIN`, else `etcd`.
    pub binaries: Vec<Option<PathBuf>>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            members: 3,
            extra_args: Vec::new(),
            tls: None,
            client_cert_auth: false,
            binaries: Vec::new(),
        }
    }
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

/// The etcd 3.5 binary the suite also runs on: `ETCD35_BIN`, else where `tools/etcd35.sh`
/// puts it (`target/etcd-3.5.1/etcd`); panics, saying how to get it, when it is not there.
pub fn etcd35_binary() -> PathBuf {
    let path = std::env::var_os("ETCD35_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/etcd-3.5.1/etcd"));
    assert!(
        path.is_file(),
        "no etcd 3.5 at {}: tools/etcd35.sh fetches it (make setup runs it)",
        path.display()
    );
    path
}

/// A running etcd cluster. Every member is killed and its data removed on drop (also when
/// a test panics); members also die with the thread that started them (`PR_SET_PDEATHSIG`),
/// so none outlives a crashed test run.
pub struct Cluster {
    dir: tempfile::TempDir,
    etcd: PathBuf,
    members: Vec<Member>,
    rt: tokio::runtime::Runtime,
    opts: ClusterOptions,
    token: String,
    /// The helper's own credentials once auth is on.
    user: Option<(String, String)>,
}

impl Cluster {
    /// Starts a 3-member cluster and waits until every member has a leader.
    pub fn start() -> Cluster {
        Cluster::start_with(ClusterOptions::default())
    }

    /// Starts a cluster as `opts` says; panics with etcd's log when it does not come up.
    pub fn start_with(opts: ClusterOptions) -> Cluster {
        let mut last = String::new();
        // A port taken between choosing and binding makes a member exit: try anew.
        for _ in 0..3 {
            match Cluster::try_start(&opts) {
                Ok(c) => return c,
                Err(e) => last = e,
            }
        }
        panic!("etcd test cluster did not start: {last}");
    }

    fn try_start(opts: &ClusterOptions) -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("turtle-etcd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let ports = free_ports(2 * opts.members).map_err(|e| e.to_string())?;
        let names: Vec<String> = (0..opts.members).map(|i| format!("m{i}")).collect();
        let initial: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n}=http://127.0.0.1:{}", ports[2 * i + 1]))
            .collect();
        let token = format!("turtle-{}-{}", std::process::id(), dir.path().display());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut cluster = Cluster {
            dir,
            etcd: etcd_binary(),
            members: Vec::new(),
            rt,
            opts: opts.clone(),
            token,
            user: None,
        };
        for (i, name) in names.iter().enumerate() {
            let (cport, pport) = (ports[2 * i], ports[2 * i + 1]);
            let args = cluster.member_args(name, (cport, pport), &initial.join(","), "new");
            cluster.members.push(Member {
                name: name.clone(),
                client_port: cport,
                peer_port: pport,
                args,
                child: None,
            });
        }
        for i in 0..cluster.members.len() {
            cluster
                .spawn(i)
                .map_err(|e| format!("cannot run {}: {e}", cluster.etcd.display()))?;
        }
        for i in 0..cluster.members.len() {
            cluster.wait_ready(i, Duration::from_secs(30))?;
        }
        Ok(cluster)
    }

    /// The flags of a member: those of every local member (the dev cluster's), then TLS
    /// if asked for and the extra flags.
    fn member_args(
        &self,
        name: &str,
        (cport, pport): (u16, u16),
        initial: &str,
        state: &str,
    ) -> Vec<String> {
        let data = self.dir.path().join(name);
        let mut args = member_args(&MemberSpec {
            name,
            data_dir: &data,
            client_port: cport,
            peer_port: pport,
            client_scheme: if self.opts.tls.is_some() {
                "https"
            } else {
                "http"
            },
            initial_cluster: initial,
            token: &self.token,
            state,
        });
        if let Some(certs) = &self.opts.tls {
            let path = |p: &Path| p.display().to_string();
            args.extend([
                "--cert-file".into(),
                path(&certs.server.cert),
                "--key-file".into(),
                path(&certs.server.key),
                "--trusted-ca-file".into(),
                path(&certs.ca),
            ]);
            if self.opts.client_cert_auth {
                args.push("--client-cert-auth".into());
            }
        }
        args.extend(self.opts.extra_args.iter().cloned());
        args
    }

    /// How the helper's own clients connect: TLS with the client certificate, and the
    /// credentials once auth is on.
    fn connect_options(&self) -> etcd_client::ConnectOptions {
        let mut opts = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(500))
            .with_timeout(Duration::from_secs(10));
        if let Some(certs) = &self.opts.tls {
            opts = opts.with_tls(certs.etcd_client_tls());
        }
        if let Some((user, password)) = &self.user {
            opts = opts.with_user(user, password);
        }
        opts
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.members[i].name))
    }

    fn spawn(&mut self, i: usize) -> std::io::Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(i))?;
        let binary = self.opts.binaries.get(i).cloned().flatten();
        let mut cmd = Command::new(binary.as_ref().unwrap_or(&self.etcd));
        cmd.args(&self.members[i].args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.members[i].child = Some(cmd.spawn()?);
        Ok(())
    }

    /// Waits until member `i` answers and knows a leader.
    fn wait_ready(&mut self, i: usize, limit: Duration) -> Result<(), String> {
        let end = Instant::now() + limit;
        let endpoint = self.endpoint(i);
        loop {
            if let Some(child) = self.members[i].child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "{} exited with {status}: {}",
                        self.members[i].name,
                        self.log_tail(i)
                    ));
                }
            }
            let opts = self
                .connect_options()
                .with_timeout(Duration::from_millis(500));
            let ok = self.rt.block_on(async {
                let mut c = etcd_client::Client::connect([endpoint.as_str()], Some(opts))
                    .await
                    .ok()?;
                let s = c.status().await.ok()?;
                (s.leader() != 0).then_some(())
            });
            if ok.is_some() {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(format!(
                    "{} not ready within {limit:?}: {}",
                    self.members[i].name,
                    self.log_tail(i)
                ));
            }
            // Polling: etcd offers no readiness event to wait on.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of member `i`'s log, from its panic's first lines on if it panicked.
    fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = match lines.iter().rposition(|l| l.starts_with("panic:")) {
            Some(p) => p.saturating_sub(3),
            None => lines.len().saturating_sub(5),
        };
        lines[from..(from + 12).min(lines.len())].join("\n")
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a cluster has members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `i`'s client endpoint, `127.0.0.1:PORT`.
    pub fn endpoint(&self, i: usize) -> String {
        let scheme = if self.opts.tls.is_some() {
            "https://"
        } else {
            ""
        };
        format!("{scheme}127.0.0.1:{}", self.members[i].client_port)
    }

    /// Every member's client endpoint.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.endpoint(i)).collect()
    }

    /// The index of the member with this endpoint.
    pub fn index_of(&self, endpoint: &str) -> Option<usize> {
        (0..self.len()).find(|&i| self.endpoint(i) == endpoint)
    }

    /// Process id of member `i`, if running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].child.as_ref().map(|c| c.id())
    }

    /// The data directory of the whole cluster.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn signal(&self, i: usize, sig: libc::c_int) {
        let pid = self.pid(i).expect("member is running");
        // SAFETY: plain syscall on a child we own.
        let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// SIGKILLs member `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOPs member `i`: it keeps its sockets but answers nothing (a hung member).
    /// Returns once the member has stopped: `kill` returns before every thread of it has
    /// (a busy machine showed a stopped member answering a status call after it), and the
    /// kernel tells the parent when the whole process has stopped.
    pub fn stop(&self, i: usize) {
        let Some(pid) = self.pid(i) else {
            panic!("member {i} does not run")
        };
        if proc_state(pid) == Some('T') {
            return; // stopped already: no new stop to be told of
        }
        self.signal(i, libc::SIGSTOP);
        let mut status = 0;
        loop {
            // SAFETY: a plain syscall on our own child; WUNTRACED reports its stop and
            // reaps nothing.
            let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WUNTRACED) };
            if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            }
            assert!(
                rc == pid as libc::pid_t && libc::WIFSTOPPED(status),
                "member {i} did not stop (waitpid {rc}, status {status:#x}: {}); its log:\n{}",
                match libc::WIFEXITED(status) {
                    true => format!("it exited with {}", libc::WEXITSTATUS(status)),
                    false => "not an exit".to_string(),
                },
                self.log_tail(i)
            );
            return;
        }
    }

    /// SIGCONTs member `i`.
    pub fn cont(&self, i: usize) {
        self.signal(i, libc::SIGCONT);
    }

    /// Starts member `i` again without waiting (to bring several back at once).
    pub fn spawn_only(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i).expect("start etcd member");
    }

    /// Waits until every member answers and knows a leader.
    pub fn wait_all_ready(&mut self) {
        for i in 0..self.len() {
            if let Err(e) = self.wait_ready(i, Duration::from_secs(30)) {
                panic!("member {i} did not come back: {e}");
            }
        }
    }

    /// Waits until every running member but `skip` answers and knows a leader (after
    /// `skip` was killed: the others elected a new leader).
    pub fn wait_all_ready_but(&mut self, skip: usize) {
        for i in (0..self.len()).filter(|&i| i != skip) {
            if let Err(e) = self.wait_ready(i, Duration::from_secs(30)) {
                panic!("member {i} has no leader: {e}");
            }
        }
    }

    /// Starts member `i` again on its data and ports, and waits until it is ready.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i).expect("restart etcd member");
        if let Err(e) = self.wait_ready(i, Duration::from_secs(30)) {
            panic!("member {i} did not come back: {e}");
        }
    }

    /// Replaces the cluster by a new one on the same ports: every member is killed, its
    /// data removed, and the members start anew (revisions from 1 again). With
    /// `new_identity` the new cluster gets another cluster token, hence another cluster
    /// id; without, the id is the same (etcd derives it from names, URLs and token), as
    /// when a cluster is restored in place.
    pub fn recreate(&mut self, new_identity: bool) {
        for i in 0..self.len() {
            self.kill(i);
            let data = self.dir.path().join(&self.members[i].name);
            std::fs::remove_dir_all(&data).expect("remove a member's data");
            if new_identity {
                let args = &mut self.members[i].args;
                let at = args.iter().position(|a| a == "--initial-cluster-token");
                let token = &mut args[at.expect("a token") + 1];
                token.push_str("-again");
            }
        }
        for i in 0..self.len() {
            self.spawn(i).expect("start etcd member");
        }
        self.wait_all_ready();
    }

    /// A raw `etcd-client` connected to member `i` only, and the runtime to drive it.
    pub fn client(&self, i: usize) -> (etcd_client::Client, &tokio::runtime::Runtime) {
        let c = self
            .rt
            .block_on(etcd_client::Client::connect(
                [self.endpoint(i)],
                Some(self.connect_options()),
            ))
            .expect("connect");
        (c, &self.rt)
    }

    /// Runs `op` on a client of member `i`, retrying for up to 15 s while the cluster
    /// elects a leader (writes during an election fail with "request timed out").
    fn with_retry<T, F, Fut>(&self, i: usize, what: &str, op: F) -> T
    where
        F: Fn(etcd_client::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let (c, rt) = self.client(i);
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            match rt.block_on(op(c.clone())) {
                Ok(v) => return v,
                Err(_) if Instant::now() < end => {
                    // Polling: an election has no event a client can wait on.
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("{what} through member {i}: {e}"),
            }
        }
    }

    /// Writes `key` through member `i`; returns the revision of the write.
    ///
    /// Exactly once: a put retried after an ambiguous failure (a leader hung mid-write) may
    /// have been applied already, and a second one would be a second change (a watch test
    /// saw "1" at revisions 3 and 4 for one call). So the put is a transaction guarded by
    /// the key's revision before it; a retry that finds it moved to our value takes that.
    pub fn put_via(&self, i: usize, key: &str, value: impl Into<Vec<u8>>) -> i64 {
        use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
        let value = value.into();
        loop {
            let get = self.with_retry(i, "get", |mut c| async move { c.get(key, None).await });
            let before = get.kvs().first().map_or(0, |kv| kv.mod_revision());
            let resp = self.with_retry(i, "put", |mut c| {
                let when = Compare::mod_revision(key, CompareOp::Equal, before);
                let put = TxnOp::put(key, value.clone(), None);
                let txn = Txn::new()
                    .when([when])
                    .and_then([put])
                    .or_else([TxnOp::get(key, None)]);
                async move { c.txn(txn).await }
            });
            if resp.succeeded() {
                return resp.header().expect("header").revision();
            }
            let now = resp.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Get(g) => g.kvs().first().cloned(),
                _ => None,
            });
            match now {
                Some(kv) if kv.value() == value.as_slice() => return kv.mod_revision(),
                _ => {} // someone else wrote it meanwhile: again, from there
            }
        }
    }

    /// Deletes `key` through member `i`; returns the revision.
    pub fn delete_via(&self, i: usize, key: &str) -> i64 {
        let resp = self.with_retry(
            i,
            "delete",
            |mut c| async move { c.delete(key, None).await },
        );
        resp.header().expect("header").revision()
    }

    /// Compacts the history up to `revision` (through member `i`), waiting until it is physical.
    pub fn compact_via(&self, i: usize, revision: i64) {
        self.with_retry(i, "compact", |mut c| async move {
            c.compact(
                revision,
                Some(etcd_client::CompactionOptions::new().with_physical()),
            )
            .await
        });
    }

    /// Every put (`Some(value)`) and delete (`None`) of `key` from revision `from` through
    /// `to`, as the server's history has them (read with a watch through member `i`).
    pub fn history(&self, i: usize, key: &str, from: i64, to: i64) -> Vec<(i64, Option<String>)> {
        let (c, rt) = self.client(i);
        rt.block_on(async move {
            let mut wc = c.watch_client();
            let opts = etcd_client::WatchOptions::new().with_start_revision(from);
            let mut stream = wc.watch(key, Some(opts)).await.expect("watch history");
            let mut out = Vec::new();
            loop {
                let limit = Duration::from_secs(20);
                let resp = tokio::time::timeout(limit, stream.message())
                    .await
                    .expect("history in time");
                let resp = resp.expect("history stream").expect("history stream open");
                for ev in resp.events() {
                    let kv = ev.kv().expect("event kv");
                    let v = match ev.event_type() {
                        etcd_client::EventType::Put => {
                            Some(String::from_utf8(kv.value().to_vec()).expect("utf-8"))
                        }
                        etcd_client::EventType::Delete => None,
                    };
                    out.push((kv.mod_revision(), v));
                    if kv.mod_revision() >= to {
                        return out;
                    }
                }
            }
        })
    }

    /// The index of the current leader, asking member `i`.
    pub fn leader_via(&self, i: usize) -> Option<usize> {
        let (mut c, rt) = self.client(i);
        let leader = rt.block_on(c.status()).ok()?.leader();
        let list = rt.block_on(c.member_list()).ok()?;
        let m = list.members().iter().find(|m| m.id() == leader)?;
        self.members.iter().position(|x| x.name == m.name())
    }

    /// The index of the current leader, asking the running members in turn.
    pub fn leader(&self) -> Option<usize> {
        (0..self.len())
            .filter(|&i| self.pid(i).is_some())
            .find_map(|i| self.leader_via(i))
    }

    /// Runs `etcdctl` against every member with these arguments; returns its stdout.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let out = self
            .etcdctl_command()
            .args(args)
            .output()
            .expect("run etcdctl");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("etcdctl output is UTF-8")
    }
}

impl Cluster {
    /// `etcdctl` against every running member, with the cluster's TLS files and the
    /// helper's credentials.
    pub fn etcdctl_command(&self) -> Command {
        self.etcdctl_via(None)
    }

    /// [`Cluster::etcdctl_command`] through every running member but `except`.
    fn etcdctl_via(&self, except: Option<usize>) -> Command {
        let running: Vec<String> = (0..self.len())
            .filter(|&i| self.pid(i).is_some() && Some(i) != except)
            .map(|i| self.endpoint(i))
            .collect();
        let mut cmd =
            Command::new(std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "etcdctl".into()));
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", running.join(",")));
        if let Some(certs) = &self.opts.tls {
            cmd.arg(format!("--cacert={}", certs.ca.display()))
                .arg(format!("--cert={}", certs.client.cert.display()))
                .arg(format!("--key={}", certs.client.key.display()));
        }
        if let Some((user, password)) = &self.user {
            cmd.arg(format!("--user={user}:{password}"));
        }
        cmd
    }

    /// Turns auth on with a `root` user of this password; the helper authenticates as
    /// root from then on.
    pub fn enable_auth(&mut self, root_password: &str) {
        self.etcdctl(&["user", "add", &format!("root:{root_password}")]);
        self.etcdctl(&["auth", "enable"]);
        self.user = Some(("root".into(), root_password.into()));
    }

    /// Adds `user` with a role that may only read keys under `prefix`.
    pub fn add_reader(&self, user: &str, password: &str, prefix: &str) {
        self.add_user(user, password, "read", prefix);
    }

    /// Adds `user` with a role granted `permission` (read, write, readwrite) on keys
    /// under `prefix`.
    pub fn add_user(&self, user: &str, password: &str, permission: &str, prefix: &str) {
        let role = format!("{user}-{permission}");
        self.etcdctl(&["role", "add", &role]);
        self.etcdctl(&[
            "role",
            "grant-permission",
            &role,
            permission,
            "--prefix=true",
            prefix,
        ]);
        self.etcdctl(&["user", "add", &format!("{user}:{password}")]);
        self.etcdctl(&["user", "grant-role", user, &role]);
    }

    /// Adds a member to the cluster (`etcdctl member add`, then starts it); its index.
    pub fn add_member(&mut self) -> usize {
        let i = self.members.len();
        let name = format!("m{i}");
        let ports = free_ports(2).expect("free ports");
        let peer = format!("http://127.0.0.1:{}", ports[1]);
        self.etcdctl_when_healthy(
            None,
            &["member", "add", &name, &format!("--peer-urls={peer}")],
        );
        let initial: Vec<String> = (self.members.iter())
            .filter(|m| m.child.is_some())
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .chain([format!("{name}={peer}")])
            .collect();
        let args = self.member_args(&name, (ports[0], ports[1]), &initial.join(","), "existing");
        self.members.push(Member {
            name,
            client_port: ports[0],
            peer_port: ports[1],
            args,
            child: None,
        });
        self.spawn(i).expect("start the new member");
        if let Err(e) = self.wait_ready(i, Duration::from_secs(30)) {
            panic!("the new member did not join: {e}");
        }
        i
    }

    /// Removes member `i` from the cluster (`etcdctl member remove`), then stops it.
    pub fn remove_member(&mut self, i: usize) {
        let list = self.etcdctl(&["member", "list"]);
        let name = self.members[i].name.clone();
        let id = list
            .lines()
            .find(|l| l.split(", ").nth(2) == Some(name.as_str()))
            .and_then(|l| l.split(", ").next())
            .unwrap_or_else(|| panic!("{name} is not in {list}"))
            .to_string();
        // Asked through the others: the removed member stops before it answers.
        self.etcdctl_when_healthy(Some(i), &["member", "remove", &id]);
        self.kill(i);
    }

    /// Runs a membership change, retrying while etcd calls the cluster unhealthy: it
    /// changes membership only once every member was connected for 5 s.
    fn etcdctl_when_healthy(&self, except: Option<usize>, args: &[&str]) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            match self.etcdctl_via(except).args(args).output() {
                Ok(o) if o.status.success() => return,
                Ok(o)
                    if Instant::now() < end
                        && String::from_utf8_lossy(&o.stderr).contains("unhealthy") =>
                {
                    std::thread::sleep(Duration::from_millis(500)); // no event says "healthy"
                }
                other => panic!("etcdctl {args:?}: {other:?}"),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                // SIGKILL also ends a stopped process.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The state letter of process `pid` (`R`, `S`, `T` for stopped, ...), from /proc.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

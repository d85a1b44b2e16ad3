//! The test binary as a second process: a test runs itself again with a role, and the
//! child does that role's part (register a service, say) while the parent watches, stops
//! or kills it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ROLE: &str = "TURTLE_TEST_ROLE";

/// The role this process plays, when it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// A child running test `test` of this binary with `role`, and its stdout by line.
pub struct ChildProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl ChildProcess {
    /// Starts the child with `TURTLE_ENDPOINTS` set to `endpoints`.
    pub fn start(test: &str, role: &str, endpoints: &[String]) -> ChildProcess {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env("TURTLE_ENDPOINTS", endpoints.join(","));
        ChildProcess::spawn(cmd)
    }

    /// `etcdctl watch --prefix PREFIX` against `endpoints`: another client's view.
    pub fn etcdctl_watch(prefix: &str, endpoints: &[String]) -> ChildProcess {
        let mut cmd =
            Command::new(std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "etcdctl".into()));
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(["watch", "--prefix", prefix]);
        ChildProcess::spawn(cmd)
    }

    /// Runs `cmd` with its stdout read line by line.
    pub fn spawn(mut cmd: Command) -> ChildProcess {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start the child");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        ChildProcess { child, lines }
    }

    /// Waits up to 20 s for a line that holds `said` (the test harness may have written
    /// on the same line before it); the lines before it.
    pub fn wait_for(&self, said: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.contains(said) => return seen,
                Ok(line) => seen.push(line),
                Err(_) => panic!("the child never said {said:?}; it said {seen:?}"),
            }
        }
    }

    /// Waits up to 20 s for the child to exit; its status (a panic when it does not).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            assert!(
                std::time::Instant::now() < end,
                "the child did not exit within 20 s"
            );
            // std offers no wait with a timeout on a child.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line the child wrote so far, without waiting.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: a plain syscall on our own child.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.child.id());
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

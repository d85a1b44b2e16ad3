//! A private DNS resolver for one test: the test runs itself again in a mount namespace
//! (`unshare -m`, which needs root, as CI has) where `/etc/resolv.conf` names only
//! 127.0.0.9, and a [`DnsServer`] of the test answers there. No query leaves loopback.

use std::net::UdpSocket;
use std::process::Command;
use std::sync::mpsc;
use std::thread;

/// Set in the child that runs inside the namespace.
const IN_NAMESPACE: &str = "TURTLE_TEST_PRIVATE_RESOLVER";

/// The only name server of the namespace.
pub const NAME_SERVER: &str = "127.0.0.9";

/// Runs the test named `test` of this test binary again inside a mount namespace whose
/// resolver is [`NAME_SERVER`] (20 s timeout, one attempt), and asserts it passed. Returns
/// true in that child, which then does the test's work; false in the parent, once done.
pub fn in_private_resolver(test: &str) -> bool {
    if std::env::var_os(IN_NAMESPACE).is_some() {
        return true;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("resolv.conf");
    let text = format!("nameserver {NAME_SERVER}\noptions timeout:20 attempts:1\n");
    std::fs::write(&conf, text).expect("write resolv.conf");
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/resolv.conf && shift && exec "$@""#)
        .arg("sh")
        .arg(&conf)
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, "1")
        .output()
        .expect("run unshare (util-linux)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in a private resolver namespace (needs root for unshare -m): {}\n{stdout}\n{stderr}",
        out.status
    );
    false
}

/// How the test's name server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dns {
    /// Every name does not exist (NXDOMAIN), at once.
    NoSuchName,
    /// Nothing is ever answered: lookups wait for the resolver's timeout.
    Silent,
}

/// A name server on [`NAME_SERVER`]:53 (inside [`in_private_resolver`] only).
pub struct DnsServer {
    queries: mpsc::Receiver<()>,
}

impl DnsServer {
    /// Starts answering as `how` says, on a thread of its own.
    pub fn start(how: Dns) -> DnsServer {
        let socket = UdpSocket::bind((NAME_SERVER, 53)).expect("bind the test name server");
        let (tx, queries) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let _ = tx.send(());
                if how == Dns::NoSuchName && n >= 12 {
                    // The query itself, made a response: QR, RD kept, RA, rcode 3.
                    buf[2] |= 0x80;
                    buf[3] = 0x83;
                    let _ = socket.send_to(&buf[..n], from);
                }
            }
        });
        DnsServer { queries }
    }

    /// Waits until a query arrived (a lookup is in flight); false after 20 s without one.
    pub fn wait_for_query(&self) -> bool {
        self.queries
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_ok()
    }
}

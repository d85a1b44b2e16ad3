//! A small TCP proxy on loopback that can hold or cut a client's connections.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Pass,
    /// Keeps connections open but forwards nothing (packets dropped, member looks hung).
    Hold,
    /// Closes every connection and refuses new ones.
    Cut,
    /// Forwards requests to the member but holds its answers: the member does what it is
    /// asked, and the client never hears of it.
    Deaf,
}

struct Shared {
    mode: Mutex<Mode>,
    changed: Condvar,
    conns: Mutex<Vec<TcpStream>>,
    done: AtomicBool,
    upstream: Mutex<String>,
}

/// Forwards a local port to `upstream` until dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Pass),
            changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            done: AtomicBool::new(false),
            upstream: Mutex::new(upstream.to_string()),
        });
        let s = shared.clone();
        let accept = thread::Builder::new()
            .name("test-proxy".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.done.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(down) = conn else { continue };
                    if *s.mode.lock().unwrap() == Mode::Cut {
                        continue; // dropped: the client sees the connection closed
                    }
                    let upstream = s.upstream.lock().unwrap().clone();
                    let Ok(up) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let _ = down.set_nodelay(true);
                    let _ = up.set_nodelay(true);
                    let (Ok(d2), Ok(u2)) = (down.try_clone(), up.try_clone()) else {
                        continue;
                    };
                    {
                        let mut conns = s.conns.lock().unwrap();
                        conns.push(down.try_clone().expect("clone"));
                        conns.push(up.try_clone().expect("clone"));
                    }
                    pump(s.clone(), down, up, true);
                    pump(s.clone(), u2, d2, false);
                }
            })?;
        Ok(Proxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The proxy's endpoint, `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Where new connections go from now on (a proxy started before its member's port
    /// was known).
    pub fn set_upstream(&self, upstream: &str) {
        *self.shared.upstream.lock().unwrap() = upstream.to_string();
    }

    /// Switches what the proxy does; `Cut` closes every open connection at once.
    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        self.shared.changed.notify_all();
        if mode == Mode::Cut {
            for c in self.shared.conns.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` as the mode says; `to_member` tells the direction.
fn pump(s: Arc<Shared>, mut from: TcpStream, mut to: TcpStream, to_member: bool) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut mode = s.mode.lock().unwrap();
            while *mode == Mode::Hold || (*mode == Mode::Deaf && !to_member) {
                mode = s.changed.wait(mode).unwrap();
            }
            if *mode == Mode::Cut {
                break;
            }
            drop(mode);
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::SeqCst);
        self.set(Mode::Cut);
        // Wake the accept loop so it sees `done`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

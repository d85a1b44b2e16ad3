//! Servers on loopback that answer like something that is not etcd: what a client meets
//! when an endpoint points at the wrong service or at a load balancer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

/// What the fake member answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fake {
    /// An HTTP/1 server (like `python3 -m http.server`): a 400 response, then close.
    Http1,
    /// An HTTP/2 server answering every request with 404 and no gRPC status (a load
    /// balancer with no route).
    Http2NotFound,
    /// Bytes that are no protocol at all, then close.
    Garbage,
}

/// A fake member on a free loopback port, serving until the process ends.
pub struct FakeMember {
    addr: SocketAddr,
}

impl FakeMember {
    /// Starts serving `kind` on a free port.
    pub fn start(kind: Fake) -> std::io::Result<FakeMember> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        thread::Builder::new()
            .name("test-fake-member".into())
            .spawn(move || {
                for conn in listener.incoming().map_while(Result::ok) {
                    thread::spawn(move || serve(kind, conn));
                }
            })?;
        Ok(FakeMember { addr })
    }

    /// The fake's endpoint, `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }
}

fn serve(kind: Fake, mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    match kind {
        Fake::Http1 => {
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\nbad request",
            );
        }
        Fake::Garbage => {
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(&[0x5a; 64]);
        }
        Fake::Http2NotFound => http2_not_found(conn),
    }
}

/// Answers every HTTP/2 request on the connection with a bare 404.
fn http2_not_found(conn: TcpStream) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let _ = conn.set_nonblocking(true);
        let Ok(conn) = tokio::net::TcpStream::from_std(conn) else {
            return;
        };
        let Ok(mut h2) = h2::server::handshake(conn).await else {
            return;
        };
        while let Some(Ok((_request, mut respond))) = h2.accept().await {
            let response = http::Response::builder()
                .status(404)
                .body(())
                .expect("response");
            let _ = respond.send_response(response, true);
        }
    });
}

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

/// A TLS server on a free loopback port that presents `cert` (PEM files) and hangs up
/// after the handshake: what a client meets at a member with a certificate it must
/// refuse (expired, or for another host).
pub struct FakeTlsMember {
    addr: SocketAddr,
}

impl FakeTlsMember {
    /// Starts it, serving until the process ends.
    pub fn start(cert: &crate::CertFiles) -> std::io::Result<FakeTlsMember> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.cert)
            .map_err(std::io::Error::other)?
            .collect::<Result<_, _>>()
            .map_err(std::io::Error::other)?;
        let key = PrivateKeyDer::from_pem_file(&cert.key).map_err(std::io::Error::other)?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(std::io::Error::other)?;
        let config = std::sync::Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        thread::Builder::new()
            .name("test-fake-tls".into())
            .spawn(move || {
                for mut conn in listener.incoming().map_while(Result::ok) {
                    let config = config.clone();
                    thread::spawn(move || {
                        let Ok(mut tls) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        while tls.is_handshaking() {
                            if tls.complete_io(&mut conn).is_err() {
                                return;
                            }
                        }
                    });
                }
            })?;
        Ok(FakeTlsMember { addr })
    }

    /// Its endpoint, `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }
}

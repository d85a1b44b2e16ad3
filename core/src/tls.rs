//! TLS connections to `https://` members: the rustls configuration made from the
//! settings, and the dialer each member's channel connects through.
//!
//! The client certificate and key files are read again at the first handshake after
//! either changes (etcd's Go client reads them at every handshake), so a certificate a
//! certificate manager rotates is presented from the next connection on, without a new
//! finder. tonic's own TLS takes one identity for the channel's life, hence this dialer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::endpoints::Endpoint;
use crate::error::{Error, Result};
use crate::security::{Pem, Tls};

/// The protocol every member speaks, offered in the handshake (gRPC needs it).
const ALPN_H2: &[u8] = b"h2";

/// Dials `https://` members with one rustls configuration.
#[derive(Clone)]
pub(crate) struct Dialer {
    config: Arc<ClientConfig>,
    /// The name the server certificate must have, when not the endpoint's host.
    server_name: Option<ServerName<'static>>,
}

impl Dialer {
    /// The configuration of `tls`: the CA bundle read and checked now (the system's roots
    /// when none is given), the client identity read now and again after its files change.
    pub(crate) fn new(tls: &Tls) -> Result<Dialer> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots(tls)?);
        let mut config = match &tls.client {
            Some((cert, key)) => {
                builder.with_client_cert_resolver(Arc::new(Identity::new(cert, key, provider)?))
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        let server_name = match &tls.server_name {
            Some(name) => Some(
                ServerName::try_from(name.clone())
                    .map_err(|e| Error::invalid(format!("TLS server name {name:?}: {e}")))?,
            ),
            None => None,
        };
        Ok(Dialer {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The connector of one member's channel.
    pub(crate) fn to(&self, endpoint: &Endpoint) -> Result<Dial> {
        let host = endpoint
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => ServerName::try_from(host.to_string()).map_err(|e| {
                Error::invalid(format!("endpoint {endpoint}: no TLS server name: {e}"))
            })?,
        };
        Ok(Dial {
            connector: TlsConnector::from(self.config.clone()),
            host: host.to_string(),
            port: endpoint.port(),
            name,
        })
    }
}

/// The trust anchors: the CA bundle's certificates, or the system's.
fn roots(tls: &Tls) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match &tls.ca {
        Some(ca) => {
            for cert in crate::security::ca_certificates(ca)? {
                roots.add(cert).map_err(|e| {
                    Error::invalid(format!(
                        "{}: a certificate that is no CA ({e})",
                        ca.name("CA file")
                    ))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(Error::invalid(
                    "TLS: no CA file given and no system root certificates found".to_string(),
                ));
            }
        }
    }
    Ok(roots)
}

/// Connects to one member: TCP, then the TLS handshake (tonic's connect timeout bounds
/// both).
#[derive(Clone)]
pub(crate) struct Dial {
    connector: TlsConnector,
    host: String,
    port: u16,
    name: ServerName<'static>,
}

impl tower::Service<http::Uri> for Dial {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let Dial {
            connector,
            host,
            port,
            name,
        } = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            Ok(TokioIo::new(connector.connect(name, tcp).await?))
        })
    }
}

/// The client certificate and key: from text once, from files again after they change.
struct Identity {
    cert: Pem,
    key: Pem,
    provider: Arc<rustls::crypto::CryptoProvider>,
    loaded: Mutex<Loaded>,
}

/// The identity last read, and the files' stamps when it was.
struct Loaded {
    stamp: Stamp,
    key: Arc<CertifiedKey>,
}

/// Each file's modification time and length (`None` for PEM text, which never changes).
type Stamp = [Option<(SystemTime, u64)>; 2];

impl Identity {
    fn new(
        cert: &Pem,
        key: &Pem,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Identity> {
        let stamp = stamp(cert, key);
        let certified = crate::security::identity(cert, key, &provider)?;
        Ok(Identity {
            cert: cert.clone(),
            key: key.clone(),
            provider,
            loaded: Mutex::new(Loaded {
                stamp,
                key: Arc::new(certified),
            }),
        })
    }

    /// The identity to present: read again when a file changed since. A pair that does
    /// not read or does not match (a rotation between writing the certificate and the
    /// key) leaves the last good one in use, and is read again at the next handshake.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut loaded = self.loaded.lock();
        let now = stamp(&self.cert, &self.key);
        if now != loaded.stamp {
            if let Ok(certified) = crate::security::identity(&self.cert, &self.key, &self.provider)
            {
                *loaded = Loaded {
                    stamp: now,
                    key: Arc::new(certified),
                };
            }
        }
        loaded.key.clone()
    }
}

fn stamp(cert: &Pem, key: &Pem) -> Stamp {
    [cert.stamp(), key.stamp()]
}

impl ResolvesClientCert for Identity {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({:?}, {:?})", self.cert, self.key)
    }
}

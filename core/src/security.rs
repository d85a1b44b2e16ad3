//! TLS and credentials settings: what a finder needs to reach a secured cluster.
//!
//! TLS is rustls (through tonic): pure Rust, no system OpenSSL to match, the same on every
//! platform a wheel or a static library goes to; server certificates are checked against
//! the given CA bundle, or the system's roots when none is given.

use std::path::PathBuf;

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::{Error, Result};

/// A PEM document: a file's path (read when a finder is made) or the text itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Pem {
    File(PathBuf),
    Text(String),
}

impl Pem {
    /// The bytes; a file that cannot be read is an `InvalidArgument` naming it.
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Text(t) => Ok(t.clone().into_bytes()),
            Pem::File(path) => std::fs::read(path)
                .map_err(|e| Error::invalid(format!("{what} {}: {e}", path.display()))),
        }
    }

    /// How the PEM is named in errors.
    fn name(&self, what: &str) -> String {
        match self {
            Pem::File(path) => format!("{what} {}", path.display()),
            Pem::Text(_) => format!("{what} (PEM text)"),
        }
    }
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pem::File(p) => write!(f, "{}", p.display()),
            Pem::Text(_) => f.write_str("(PEM text)"),
        }
    }
}

/// The TLS settings of `https://` endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) ca: Option<Pem>,
    /// A client certificate and its key, for clusters with `--client-cert-auth`.
    pub(crate) client: Option<(Pem, Pem)>,
    /// The name the server certificate must have, when not the endpoint's host.
    pub(crate) server_name: Option<String>,
}

impl Tls {
    /// Whether any TLS setting was made (an `http://` endpoint then is an error).
    pub(crate) fn is_set(&self) -> bool {
        *self != Tls::default()
    }

    /// The client configuration of every `https://` member: the files read now.
    pub(crate) fn client_config(&self) -> Result<ClientTlsConfig> {
        let mut cfg = ClientTlsConfig::new();
        cfg = match &self.ca {
            Some(ca) => cfg.ca_certificate(Certificate::from_pem(ca.read("CA file")?)),
            None => cfg.with_native_roots(),
        };
        if let Some((cert, key)) = &self.client {
            let (c, k) = (cert.read("certificate file")?, key.read("key file")?);
            check_pem(&c, "CERTIFICATE", &cert.name("certificate file"))?;
            check_pem(&k, "PRIVATE KEY", &key.name("key file"))?;
            cfg = cfg.identity(Identity::from_pem(c, k));
        }
        if let Some(ca) = &self.ca {
            check_pem(&ca.read("CA file")?, "CERTIFICATE", &ca.name("CA file"))?;
        }
        if let Some(name) = &self.server_name {
            cfg = cfg.domain_name(name.clone());
        }
        Ok(cfg)
    }
}

/// A PEM document that holds no block of `kind` is not what it was given as: say so now
/// rather than at the first handshake.
fn check_pem(bytes: &[u8], kind: &str, what: &str) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    match text.contains("-----BEGIN") && text.contains(kind) {
        true => Ok(()),
        false => Err(Error::invalid(format!("{what}: no PEM {kind} in it"))),
    }
}

/// A password: never shown, in errors, logs or `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The user name and password of a cluster with auth enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: Secret,
}

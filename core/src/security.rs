//! TLS and credentials settings: what a finder needs to reach a secured cluster.
//!
//! TLS is rustls (see `tls.rs`): pure Rust, no system OpenSSL to match, the same on every
//! platform a wheel or a static library goes to; server certificates are checked against
//! the given CA bundle, or the system's roots when none is given.

use std::path::PathBuf;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::error::{Error, Result};

/// A PEM document: a file's path (read when a finder is made) or the text itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Pem {
    File(PathBuf),
    Text(String),
}

/// The largest PEM file read: far above any certificate bundle, and a bound on what a
/// wrong path (a log, a device) could make a finder read.
const MAX_PEM_BYTES: u64 = 4 << 20;

impl Pem {
    /// The bytes; a file that cannot be read is an `InvalidArgument` naming it. Only a
    /// regular file is read (a FIFO nobody writes would block the finder for good), and at
    /// most [`MAX_PEM_BYTES`].
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        let path = match self {
            Pem::Text(t) => return Ok(t.clone().into_bytes()),
            Pem::File(path) => path,
        };
        let refused = |why: String| Error::invalid(format!("{what} {}: {why}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| refused(e.to_string()))?;
        if !meta.is_file() {
            return Err(refused("not a regular file".into()));
        }
        if meta.len() > MAX_PEM_BYTES {
            return Err(refused(format!(
                "{} bytes, more than a PEM file holds",
                meta.len()
            )));
        }
        std::fs::read(path).map_err(|e| refused(e.to_string()))
    }

    /// A file's modification time and length, to see it was rewritten; `None` for text
    /// (and for a file that cannot be read now: the last one read stays in use).
    pub(crate) fn stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        let Pem::File(path) = self else { return None };
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// How the PEM is named in errors.
    pub(crate) fn name(&self, what: &str) -> String {
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
}

/// The certificates of a PEM document, each parsed; none is an error.
fn certificates(bytes: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("{what}: not a PEM certificate ({e})")))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!("{what}: no PEM CERTIFICATE in it")));
    }
    Ok(certs)
}

/// The certificates of a CA bundle, read and parsed.
pub(crate) fn ca_certificates(ca: &Pem) -> Result<Vec<CertificateDer<'static>>> {
    certificates(&ca.read("CA file")?, &ca.name("CA file"))
}

/// A client certificate and its private key, read, parsed and checked to belong together,
/// so that a bad file is an error naming it and why rather than a failed handshake.
pub(crate) fn identity(cert: &Pem, key: &Pem, provider: &CryptoProvider) -> Result<CertifiedKey> {
    let (cert_name, key_name) = (cert.name("certificate file"), key.name("key file"));
    let chain = certificates(&cert.read("certificate file")?, &cert_name)?;
    let key = key.read("key file")?;
    if String::from_utf8_lossy(&key).contains("ENCRYPTED PRIVATE KEY") {
        return Err(Error::invalid(format!(
            "{key_name}: an encrypted private key; give it decrypted (openssl pkey -in KEY -out PLAIN)"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|e| Error::invalid(format!("{key_name}: no PEM PRIVATE KEY in it ({e})")))?;
    CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| Error::invalid(format!("{key_name} does not go with {cert_name}: {e}")))
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

//! Certificates the tests make for themselves (never a committed private key): a CA, a
//! server certificate for localhost and 127.0.0.1, a client certificate, and the wrong
//! ones: another CA, a certificate for another host, an expired one.

use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair,
};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate's PEM file.
    pub cert: PathBuf,
    /// The private key's PEM file.
    pub key: PathBuf,
}

/// Every certificate a TLS test needs, in a temporary directory of its own.
#[derive(Debug)]
pub struct Certs {
    _dir: tempfile::TempDir,
    /// The CA that signed the others (but `wrong_ca`).
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub wrong_ca: PathBuf,
    /// localhost and 127.0.0.1, for etcd's client URLs.
    pub server: CertFiles,
    /// A client certificate, for `--client-cert-auth`.
    pub client: CertFiles,
    /// A server certificate for another host only.
    pub other_host: CertFiles,
    /// A server certificate for localhost that expired in 2020.
    pub expired: CertFiles,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("CA certificate");
    (Issuer::new(params, key), cert.pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a PEM file");
    path
}

/// A certificate for `names` signed by `issuer`, valid from `from` to `until` (years).
fn leaf(
    dir: &Path,
    name: &str,
    names: &[&str],
    issuer: &Issuer<'_, KeyPair>,
    (from, until): (i32, i32),
    usages: &[ExtendedKeyUsagePurpose],
) -> CertFiles {
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = date_time_ymd(from, 1, 1);
    params.not_after = date_time_ymd(until, 1, 1);
    params.extended_key_usages = usages.to_vec();
    let cert = params.signed_by(&key, issuer).expect("sign");
    CertFiles {
        cert: write(dir, &format!("{name}.crt"), &cert.pem()),
        key: write(dir, &format!("{name}.key"), &key.serialize_pem()),
    }
}

impl Certs {
    /// Makes them all.
    pub fn new() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("turtle-certs-")
            .tempdir()
            .expect("dir");
        let d = dir.path();
        let (issuer, ca_pem) = ca("turtle test CA");
        let (_, wrong_pem) = ca("turtle wrong CA");
        let local = ["localhost", "127.0.0.1"];
        // etcd's gateway dials etcd itself with the server certificate: both usages.
        let server = [
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let client = [ExtendedKeyUsagePurpose::ClientAuth];
        let always = (2020, 2100);
        Certs {
            ca: write(d, "ca.crt", &ca_pem),
            wrong_ca: write(d, "wrong-ca.crt", &wrong_pem),
            server: leaf(d, "server", &local, &issuer, always, &server),
            client: leaf(d, "client", &["turtle-client"], &issuer, always, &client),
            other_host: leaf(d, "other", &["other.example"], &issuer, always, &server),
            expired: leaf(d, "expired", &local, &issuer, (2019, 2020), &server),
            _dir: dir,
        }
    }

    /// Raw `etcd-client` TLS options: this CA, and the client certificate as identity.
    pub fn etcd_client_tls(&self) -> etcd_client::TlsOptions {
        let read = |p: &Path| std::fs::read(p).expect("read a test certificate");
        etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(read(&self.ca)))
            .identity(etcd_client::Identity::from_pem(
                read(&self.client.cert),
                read(&self.client.key),
            ))
    }
}

impl Default for Certs {
    fn default() -> Self {
        Certs::new()
    }
}

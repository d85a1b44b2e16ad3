//! Parsing and validating the cluster's member addresses.

use crate::error::{Error, Result};

/// The environment variable read when no endpoints are given.
pub const ENDPOINTS_ENV: &str = "TURTLE_ENDPOINTS";

/// Used when neither the caller nor `TURTLE_ENDPOINTS` names a member.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";

/// One cluster member's client address, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    /// Parses `host:port`, `http://host:port` or `https://host:port`.
    /// IPv6 hosts go in brackets: `[::1]:2379`.
    ///
    /// ```
    /// let e = turtle_finder::Endpoint::parse("http://127.0.0.1:2379").unwrap();
    /// assert_eq!(e.to_string(), "127.0.0.1:2379");
    /// assert!(turtle_finder::Endpoint::parse("127.0.0.1").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Endpoint> {
        let shown = without_userinfo(text);
        let bad = |why: &str| Error::invalid(format!("endpoint {shown:?}: {why}"));
        let s = text.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if shown != text {
            return Err(bad(
                "user names and passwords do not belong in endpoints (they would be logged)",
            ));
        }
        let (tls, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if s.contains("://") {
            return Err(bad("only http:// and https:// are supported"));
        } else {
            (false, s)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, p) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (
                h,
                p.strip_prefix(':')
                    .ok_or_else(|| bad("expected ':port' after the IPv6 address"))?,
            )
        } else {
            rest.rsplit_once(':')
                .ok_or_else(|| bad("expected host:port"))?
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(bad("host has characters no host name or address has"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("port is not a number from 1 to 65535"));
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(Endpoint { tls, host, port })
    }

    /// The URL given to the gRPC transport.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// Whether the member is reached over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host: a name, an IPv4 address, or an IPv6 address in brackets.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

/// `text` with anything that looks like `user:password@` before the host replaced by
/// `***@`, so no error or log repeats a credential.
fn without_userinfo(text: &str) -> std::borrow::Cow<'_, str> {
    let start = text.find("://").map_or(0, |i| i + 3);
    let authority_end = text[start..].find('/').map_or(text.len(), |i| start + i);
    match text[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]).into(),
        None => text.into(),
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tls {
            f.write_str("https://")?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Parses a comma-separated list of endpoints (`TURTLE_ENDPOINTS` uses the same form).
/// Duplicates are an error: each member gets exactly one pooled connection.
pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Endpoint>> {
    let mut out: Vec<Endpoint> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in items {
        for part in item.as_ref().split(',') {
            let e = Endpoint::parse(part)?;
            if !seen.insert(e.clone()) {
                return Err(Error::invalid(format!("endpoint {e} is listed twice")));
            }
            out.push(e);
        }
    }
    if out.is_empty() {
        return Err(Error::invalid("no endpoints given"));
    }
    Ok(out)
}

/// The endpoints from `TURTLE_ENDPOINTS`, or the default when it is unset.
/// A set but empty or malformed variable is an error, not a silent fallback.
pub fn from_env() -> Result<Vec<Endpoint>> {
    match std::env::var(ENDPOINTS_ENV) {
        Ok(v) => parse_list(&[v])
            .map_err(|e| Error::invalid(format!("{ENDPOINTS_ENV}: {}", e.message()))),
        Err(std::env::VarError::NotPresent) => parse_list(&[DEFAULT_ENDPOINT]),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid(format!(
            "{ENDPOINTS_ENV} is not valid UTF-8"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        let l = parse_list(&[
            "127.0.0.1:2379, http://localhost:22379,https://etcd-1.example:2379/",
            "[::1]:2",
        ])
        .unwrap();
        let shown: Vec<String> = l.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1:2379",
                "localhost:22379",
                "https://etcd-1.example:2379",
                "[::1]:2"
            ]
        );
        assert_eq!(l[1].url(), "http://localhost:22379");
        assert_eq!(l[3].url(), "http://[::1]:2");
    }

    #[test]
    fn a_long_list_parses_in_one_pass() {
        // 65,535 members took 1.9 s when each was compared with all before it.
        let list: Vec<String> = (1..=65535u32).map(|p| format!("10.0.0.1:{p}")).collect();
        let parsed = parse_list(&[list.join(",")]).unwrap();
        assert_eq!(parsed.len(), 65535);
        assert_eq!(parsed[65534].to_string(), "10.0.0.1:65535");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            " ",
            ",",
            "127.0.0.1",
            "127.0.0.1:",
            ":2379",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "h:p",
            "unix:///tmp/x",
            "grpc://a:1",
            "a b:1",
            "[::1:2379",
            "a:1,",
            "a/b:1",
            "a:1\0",
            "http://u:p@a:1",
        ] {
            let err = parse_list(&[bad]).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad:?}");
        }
        assert!(parse_list::<&str>(&[]).is_err());
        for secret in [
            "http://user:s3cret@h:1",
            "user:s3cret@h:1",
            "https://s3cret@h:1/",
        ] {
            let e = parse_list(&[secret]).unwrap_err().to_string();
            assert!(!e.contains("s3cret") && e.contains("***@h:1"), "{e}");
        }
        assert!(parse_list(&["a:1", "a:1"])
            .unwrap_err()
            .to_string()
            .contains("twice"));
    }
}

//! Members found by DNS SRV records, as etcdctl's `--discovery-srv` finds them:
//! `_etcd-client-ssl._tcp.<domain>` (https) and `_etcd-client._tcp.<domain>` (http).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;

use crate::endpoints::Endpoint;
use crate::error::{Error, ErrorKind, Result};

/// Where the members are found: a domain, and the name server to ask (the system's
/// resolver when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovery {
    pub(crate) domain: String,
    pub(crate) name_server: Option<SocketAddr>,
}

/// The two services etcd's clients look up, and whether each is TLS.
const SERVICES: [(&str, bool); 2] = [
    ("_etcd-client-ssl._tcp", true),
    ("_etcd-client._tcp", false),
];

fn resolver(d: &Discovery, timeout: Duration) -> Result<TokioResolver> {
    let provider = TokioConnectionProvider::default();
    let mut builder = match d.name_server {
        Some(addr) => {
            let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
            let config = ResolverConfig::from_parts(None, vec![], servers);
            TokioResolver::builder_with_config(config, provider)
        }
        None => TokioResolver::builder(provider).map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("no system resolver for DNS SRV discovery: {e}"),
            )
        })?,
    };
    // Two tries ("attempts" counts the retries), each half the deadline: the lookup
    // keeps to its deadline, and a datagram lost costs half of it, not the lookup.
    builder.options_mut().timeout = timeout / 2;
    builder.options_mut().attempts = 1;
    Ok(builder.build())
}

/// The members the domain's SRV records name, https before http, each once; an error
/// when there is none (`Unavailable`: the records may come back).
pub(crate) async fn resolve(d: &Discovery, timeout: Duration) -> Result<Vec<Endpoint>> {
    let resolver = resolver(d, timeout)?;
    let names =
        SERVICES.map(|(service, _)| format!("{service}.{}.", d.domain.trim_end_matches('.')));
    // Both at once, so discovery as a whole keeps to one deadline.
    let answers =
        futures_util::future::join_all(names.iter().map(|n| resolver.srv_lookup(n.as_str()))).await;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for ((name, (_, tls)), answer) in names.iter().zip(SERVICES).zip(answers) {
        match answer {
            Ok(records) => {
                for srv in records.iter() {
                    let host = srv.target().to_utf8();
                    let host = host.trim_end_matches('.');
                    let scheme = if tls { "https" } else { "http" };
                    let e = Endpoint::parse(&format!("{scheme}://{host}:{}", srv.port()))?;
                    if !found.contains(&e) {
                        found.push(e);
                    }
                }
            }
            Err(e) if e.is_no_records_found() => failures.push(format!("{name}: no records")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    if found.is_empty() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "DNS SRV discovery of {:?} found no members ({})",
                d.domain,
                failures.join("; ")
            ),
        ));
    }
    Ok(found)
}

//! What every turtle-finder test shares: a real etcd cluster on loopback ports chosen at
//! run time ([`Cluster`]), with real faults (SIGKILL, SIGSTOP, restart, compaction), and a
//! small TCP proxy ([`Proxy`]) that can hold or cut a client's connections, and fake
//! members that answer like something else than etcd ([`FakeMember`]), and a private
//! name server for tests of DNS ([`in_private_resolver`]), and a real Prometheus
//! ([`Prometheus`]).
//!
//! The `turtle-cluster` binary offers the same to the C and Python tests over stdin/stdout.

mod certs;
mod child;
mod cluster;
mod fake;
mod prometheus;
mod proxy;
mod resolver;

pub use certs::{CertFiles, Certs};
pub use child::{role, ChildProcess};
pub use cluster::{etcd35_binary, Cluster, ClusterOptions};
pub use fake::{Fake, FakeMember, FakeTlsMember};
pub use prometheus::{http_get, promtool_check_metrics, sample, Job, Prometheus};
pub use proxy::{Mode, Proxy};
pub use resolver::{in_private_resolver, Dns, DnsServer, NAME_SERVER};

// The README's Rust examples are compiled (and its other blocks skipped) by `cargo test
// --doc` here, in a crate that is not published: the README lies outside the crates.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

//! What every turtle-finder test shares: a real etcd cluster on loopback ports chosen at
//! run time ([`Cluster`]), with real faults (SIGKILL, SIGSTOP, restart, compaction), and a
//! small TCP proxy ([`Proxy`]) that can hold or cut a client's connections.
//!
//! The `turtle-cluster` binary offers the same to the C and Python tests over stdin/stdout.

mod cluster;
mod proxy;

pub use cluster::{Cluster, ClusterOptions};
pub use proxy::{Mode, Proxy};

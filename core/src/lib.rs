//! turtle-finder: service discovery on etcd v3 whose lookups keep working while a member
//! is down and whose watches never silently die.
//!
//! Two faces over one engine:
//! - [`ServiceFinder`], blocking: owns a runtime thread (`turtle-runtime`) and a dispatcher
//!   thread (`turtle-dispatch`) that runs every callback, one at a time.
//! - [`Client`], async, for programs that already run tokio.
//!
//! Both share the failover pool (one lazily connected channel per member, hedged retries
//! across members within a deadline, background re-probes) and the watch hub (one watch
//! stream for all watches, resumed on another member from the last delivered revision + 1).

// Layers, each using only those above it: error, settings, clock, sigpipe, threads; keys, failure; retry,
// endpoints, change, security, metrics, exporter, latency; instance, discovery, auth, tls; config,
// delivery; member, mailbox, runtime, waits, done, cache, options; pool; round; reads, dispatch; session,
// hub, cluster, kv; registration, membership, lock; election; txn; client; candidacy; finder.
mod auth;
mod cache;
mod candidacy;
mod change;
mod client;
mod clock;
mod cluster;
mod config;
mod delivery;
mod discovery;
mod dispatch;
mod done;
mod election;
mod endpoints;
mod error;
mod exporter;
mod failure;
mod finder;
mod hub;
mod instance;
mod keys;
mod kv;
mod latency;
mod lock;
mod mailbox;
mod member;
mod membership;
mod metrics;
mod options;
mod pool;
mod reads;
mod registration;
mod retry;
mod round;
mod runtime;
mod security;
mod session;
mod settings;
mod sigpipe;
mod threads;
mod tls;
mod txn;
mod waits;

pub use candidacy::{Candidacy, OnElected};
pub use change::{value_text, Change, ChangeKind, Leader};
pub use client::{Client, InstancesStream, LeaderStream, WatchStream};
pub use cluster::{ClusterMember, MemberStatus};
pub use config::{
    Config, Consistency, CA_FILE_ENV, CERT_FILE_ENV, DISCOVERY_SRV_ENV, KEY_FILE_ENV, MAX_DURATION,
    METRICS_ADDR_ENV, NAME_SERVER_ENV, PASSWORD_ENV, SERVER_NAME_ENV, USER_ENV,
};
pub use election::Leadership;
pub use endpoints::{parse_list as parse_endpoints, Endpoint, DEFAULT_ENDPOINT, ENDPOINTS_ENV};
pub use error::{Attempt, Error, ErrorKind, Result};
pub use finder::{ServiceFinder, Watch};
pub use instance::{Instance, Instances, Malformed, RegistrationState};
pub use keys::MAX_NAME_BYTES;
pub use kv::{Entry, Fence, WriteOptions};
pub use lock::{LockGuard, LockOptions, LockSession, OnLost};
pub use options::{Interrupt, OnError, OnState, ReadOptions, RegisterOptions, WatchOptions};
pub use pool::MemberHealth;
pub use registration::{Registration, DEFAULT_TTL};
pub use txn::{Cmp, Condition, Field, Operation, Txn, TxnResult};
/// The table of settings and their defaults (see [`settings::SETTINGS`]).
pub mod settings_table {
    pub use crate::settings::{
        by_cli, by_python, markdown_table, shown, DefaultValue, Setting, SETTINGS,
    };
}

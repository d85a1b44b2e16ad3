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

// Layers, each using only those above it: error; endpoints, change; config; mailbox,
// runtime, waits; pool, dispatch; hub; client; finder.
mod change;
mod client;
mod config;
mod dispatch;
mod endpoints;
mod error;
mod finder;
mod hub;
mod mailbox;
mod pool;
mod runtime;
mod waits;

pub use change::{value_text, Change, ChangeKind};
pub use client::{Client, ReadOptions, WatchOptions, WatchStream};
pub use config::{Config, Consistency, MAX_DURATION, MAX_NAME_BYTES};
pub use endpoints::{parse_list as parse_endpoints, Endpoint, DEFAULT_ENDPOINT, ENDPOINTS_ENV};
pub use error::{Attempt, Error, ErrorKind, Result};
pub use finder::{ServiceFinder, Watch};
pub use pool::MemberHealth;

// The README's Rust example is compiled (and its other blocks skipped) by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

//! One module per command of `turtle`, as etcdctl has one file per command; what they
//! print goes through one printer (`print.rs`).

pub(crate) mod dev;
pub(crate) mod elect;
pub(crate) mod get;
pub(crate) mod health;
pub(crate) mod instances;
pub(crate) mod lock;
pub(crate) mod members;
pub(crate) mod metrics;
pub(crate) mod register;
mod signals;
pub(crate) mod watch;

//! The library half of the `turtle` command: the local dev cluster, shared with the
//! test cluster so both start members the same way.

pub mod dev_cluster;

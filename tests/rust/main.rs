//! Every integration test of turtle-finder in one binary (one link instead of twelve), a
//! module per area, each against real etcd clusters and real processes. A test that runs
//! this binary again (a child process, a private resolver) names itself `module::test`.

mod c_abi;
mod cli;
mod elections;
mod failover;
mod hostile;
mod lifecycle;
mod locks;
mod lookup;
mod monitoring;
mod resources;
mod secure;
mod services;
mod threads;
mod transactions;
mod watch;

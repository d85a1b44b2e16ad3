//! `turtle members`: the cluster's members, the leader marked (etcdctl member list).

use crate::{finder, Global, Outcome};

/// Prints the cluster's members.
pub(crate) fn run(g: &Global) -> Outcome {
    let list = finder(g)?.members()?;
    g.printer().members(&list);
    Ok(())
}

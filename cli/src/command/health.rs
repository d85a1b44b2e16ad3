//! `turtle health`: every member's status (etcdctl endpoint health/status); exit 4 when one
//! is down or there is no leader.

use turtle_finder::ServiceFinder;

use crate::{failure, finder, Global, Outcome};

/// Prints every member's status; `Err` with exit code 4 when one is not healthy.
pub(crate) fn report(g: &Global, f: &ServiceFinder) -> Outcome {
    let list = f.health()?;
    let healthy = list.iter().all(|s| s.is_healthy());
    g.printer().health(&list, healthy);
    match healthy {
        true => Ok(()),
        false => Err(failure(4, "")),
    }
}

/// Prints the status of the members the settings name.
pub(crate) fn run(g: &Global) -> Outcome {
    report(g, &finder(g)?)
}

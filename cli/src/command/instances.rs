//! `turtle instances NAME`: the registered instances of a service.

use crate::{finder, Global, Outcome};

/// Prints the instances of service `name`.
pub(crate) fn run(g: &Global, name: &str) -> Outcome {
    let list = finder(g)?.instances(name)?;
    g.printer().instances(&list);
    Ok(())
}

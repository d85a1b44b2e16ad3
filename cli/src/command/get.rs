//! `turtle get NAME`: the value of a service; exit 3 when it is not registered.

use turtle_finder::ReadOptions;

use crate::{failure, finder, Global, Outcome};

/// Prints the value of service `name`.
pub(crate) fn run(g: &Global, name: &str) -> Outcome {
    let f = finder(g)?;
    let value = f.get_service_bytes(name, ReadOptions::default())?;
    g.printer().value(name, value.as_deref());
    match value {
        Some(_) => Ok(()),
        None => Err(failure(3, format!("service {name:?} is not registered"))),
    }
}

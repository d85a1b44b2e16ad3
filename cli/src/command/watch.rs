//! `turtle watch NAME`: the value, then one line per change until Ctrl-C or SIGTERM.

use turtle_finder::{Change, Error, WatchOptions};

use super::signals::{block_signals, wait_for_signal};
use crate::{finder, Global, Outcome};

/// Prints the value of service `name`, then every change, until a signal ends it.
pub(crate) fn run(g: &Global, name: &str) -> Outcome {
    let signals = block_signals(); // before the finder starts its threads
    let f = finder(g)?;
    let printer = g.printer();
    let shown_name = name.to_string();
    let opts = WatchOptions::initial()
        .on_error(move |e: &Error| eprintln!("turtle: watch {shown_name}: {e} (retrying)"));
    let _w = f.watch_service_with(name, opts, move |c: &Change| printer.change(c))?;
    wait_for_signal(&signals);
    Ok(())
}

//! `turtle register NAME ADDR`: an instance held until Ctrl-C or SIGTERM, then revoked.

use std::time::Duration;

use serde_json::{json, Value};
use turtle_finder::RegisterOptions;

use super::signals::{block_signals, wait_for_signal};
use crate::{failure, finder, Global, Outcome};

/// Registers an instance of service `name` at `addr` until a signal ends it.
pub(crate) fn run(
    g: &Global,
    name: &str,
    addr: &str,
    ttl: u64,
    metadata: Option<&str>,
    id: Option<String>,
) -> Outcome {
    let metadata = match metadata {
        None => Value::Null,
        Some(text) => serde_json::from_str(text)
            .map_err(|e| failure(2, format!("--metadata is not JSON: {e}")))?,
    };
    let signals = block_signals();
    let f = finder(g)?;
    let p = g.printer();
    let opts = RegisterOptions {
        ttl: Duration::from_secs(ttl),
        metadata,
        instance_id: id,
        ..RegisterOptions::default()
    }
    .on_state(move |s| {
        let text = || format!("state {}", s.as_str());
        p.line(text, || json!({"event": "state", "state": s.as_str()}))
    })
    .on_error(|e| eprintln!("turtle: {e}"));
    let reg = f.register(name, addr, opts)?;
    let (key, lease, granted) = (reg.key().to_string(), reg.lease_id(), reg.ttl().as_secs());
    p.line(
        || format!("registered {key} lease {lease:x} ttl {granted}s (Ctrl-C revokes it)"),
        || json!({"event": "registered", "key": key, "lease": format!("{lease:x}"), "ttl": granted}),
    );
    wait_for_signal(&signals);
    reg.close();
    p.line(
        || format!("revoked {key}"),
        || json!({"event": "revoked", "key": key}),
    );
    Ok(())
}

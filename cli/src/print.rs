//! The one printer of the `turtle` command: every output in text or, with `--json`, as
//! JSON (one document, or one line per event for `watch` and `register`).

use serde_json::{json, Value};
use turtle_finder::{Change, ClusterMember, Instances, MemberStatus};

/// Prints in the format the user asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) json: bool,
}

/// Writes one line to stdout. A closed stdout (`turtle watch … | head -1`) ends the
/// command as SIGTERM does: `watch` and `register` wait for that signal (and `register`
/// then revokes), the other commands end by it.
pub(crate) fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        // SAFETY: a plain syscall on this process.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    }
}

/// Prints a line through [`emit`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::print::emit(&format!($($arg)*))
    };
}
pub(crate) use out;

/// Text as one line that says what it holds: backslashes and control characters escaped
/// (`\\`, `\n`, `\t`, `\u{1b}`), so a value or address cannot break a line or a column
/// into two, or send the terminal escapes.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// A value as text: [`text`] when UTF-8, else with the bytes that are not ASCII escaped
/// (`\xNN`), so nothing is lost or mangled silently, and a typed `\xff` (shown `\\xff`)
/// differs from the byte.
pub(crate) fn shown(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => text(s),
        Err(_) => value.escape_ascii().to_string(),
    }
}

/// A value in JSON: a string when UTF-8, else its hex under `value_hex`.
pub(crate) fn value_json(value: Option<&[u8]>) -> Value {
    match value {
        None => json!({"value": null}),
        Some(v) => match std::str::from_utf8(v) {
            Ok(s) => json!({"value": s}),
            Err(_) => json!({"value": null, "value_hex": hex(v)}),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Merges the fields of `extra` into `base`.
pub(crate) fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

impl Printer {
    /// A text line, or a JSON document.
    pub(crate) fn line(&self, text: impl FnOnce() -> String, doc: impl FnOnce() -> Value) {
        match self.json {
            true => out!("{}", doc()),
            false => out!("{}", text()),
        }
    }

    /// `get`: the value (text: nothing when absent).
    pub(crate) fn value(&self, name: &str, value: Option<&[u8]>) {
        match (self.json, value) {
            (true, _) => {
                let doc = json!({"name": name, "found": value.is_some()});
                out!("{}", with(doc, value_json(value)));
            }
            (false, Some(v)) => out!("{}", shown(v)),
            (false, None) => {}
        }
    }

    /// `watch`: one line per change.
    pub(crate) fn change(&self, c: &Change) {
        out!("{}", self.change_line(c));
    }

    fn change_line(&self, c: &Change) -> String {
        if self.json {
            let doc = json!({
                "name": c.service, "revision": c.revision, "kind": c.kind.as_str(),
                "skipped": c.skipped,
            });
            return with(doc, value_json(c.value.as_deref())).to_string();
        }
        let value = match &c.value {
            Some(v) => shown(v),
            None => "(absent)".into(),
        };
        let skipped = match c.skipped {
            0 => String::new(),
            n => format!(" ({n} older changes skipped)"),
        };
        format!("{} {} {value}{skipped}", c.revision, c.kind.as_str())
    }
}

fn instances_json(list: &Instances) -> Value {
    json!({
        "name": list.service,
        "revision": list.revision,
        "instances": list.instances.iter().map(|i| json!({
            "id": i.id, "addr": i.addr, "metadata": i.metadata, "revision": i.revision,
        })).collect::<Vec<_>>(),
        "malformed": list.malformed.iter().map(|m| json!({"key": m.key, "reason": m.reason}))
            .collect::<Vec<_>>(),
    })
}

impl Printer {
    /// `instances`: one line per instance (text: id, addr, metadata, tab-separated; the
    /// entries that are not instances on stderr).
    pub(crate) fn instances(&self, list: &Instances) {
        if self.json {
            out!("{}", instances_json(list));
            return;
        }
        for i in &list.instances {
            out!("{}\t{}\t{}", text(&i.id), text(&i.addr), i.metadata);
        }
        for m in &list.malformed {
            eprintln!("turtle: skipped {}: {}", m.key, m.reason);
        }
    }

    /// `members`: one line per member, the leader marked.
    pub(crate) fn members(&self, list: &[ClusterMember]) {
        if self.json {
            let docs: Vec<Value> = (list.iter())
            .map(|m| {
                json!({
                    "id": format!("{:x}", m.id), "name": m.name, "client_urls": m.client_urls,
                    "peer_urls": m.peer_urls, "is_leader": m.is_leader, "is_learner": m.is_learner,
                })
            })
            .collect();
            out!("{}", Value::Array(docs));
            return;
        }
        for m in list {
            let role = match (m.is_leader, m.is_learner) {
                (true, _) => "leader",
                (_, true) => "learner",
                _ => "follower",
            };
            let name = if m.name.is_empty() {
                "(unstarted)"
            } else {
                &m.name
            };
            let urls = text(&m.client_urls.join(","));
            out!("{:x}\t{}\t{urls}\t{role}", m.id, text(name));
        }
    }

    /// `health`: one line per member's status.
    pub(crate) fn health(&self, list: &[MemberStatus], healthy: bool) {
        if self.json {
            let docs: Vec<Value> = (list.iter())
                .map(|s| {
                    json!({
                        "endpoint": s.endpoint, "healthy": s.is_healthy(), "reachable": s.reachable,
                        "round_trip_ms": s.round_trip.map(|d| d.as_secs_f64() * 1000.0),
                        "member_id": format!("{:x}", s.member_id),
                        "leader_id": format!("{:x}", s.leader_id), "raft_term": s.raft_term,
                        "raft_index": s.raft_index, "version": s.version, "db_size": s.db_size,
                        "alarms": s.alarms, "error": s.error,
                    })
                })
                .collect();
            out!("{}", json!({"healthy": healthy, "members": docs}));
        } else {
            for s in list {
                match (&s.error, s.round_trip) {
                    (Some(e), _) => out!("{}\tunreachable\t{e}", s.endpoint),
                    (None, rtt) => out!(
                        "{}\t{}\t{:.1} ms\tterm {}\tindex {}\tleader {:x}{}",
                        s.endpoint,
                        if s.is_healthy() {
                            "healthy"
                        } else {
                            "unhealthy"
                        },
                        rtt.unwrap_or_default().as_secs_f64() * 1000.0,
                        s.raft_term,
                        s.raft_index,
                        s.leader_id,
                        match s.alarms.is_empty() {
                            true => String::new(),
                            false => format!("\talarms {}", s.alarms.join(",")),
                        }
                    ),
                }
            }
        }
    }
}

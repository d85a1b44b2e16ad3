//! The one printer of the `turtle` command: every output in text or, with `--json`, as
//! JSON (one document, or one line per event for `watch` and `register`).

use serde_json::{json, Value};
use turtle_finder::{Change, ClusterMember, Instances, MemberStatus};

/// Prints in the format the user asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) json: bool,
}

/// A value as text: as it is when UTF-8, else with the bytes that are not escaped
/// (`\xNN`), so nothing is lost or mangled silently.
fn shown(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => s.to_string(),
        Err(_) => value.escape_ascii().to_string(),
    }
}

/// A value in JSON: a string when UTF-8, else its hex under `value_hex`.
fn value_json(value: Option<&[u8]>) -> Value {
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
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

impl Printer {
    /// A text line, or a JSON document.
    pub(crate) fn line(&self, text: impl FnOnce() -> String, doc: impl FnOnce() -> Value) {
        match self.json {
            true => println!("{}", doc()),
            false => println!("{}", text()),
        }
    }

    /// `get`: the value (text: nothing when absent).
    pub(crate) fn value(&self, name: &str, value: Option<&[u8]>) {
        match (self.json, value) {
            (true, _) => {
                let doc = json!({"name": name, "found": value.is_some()});
                println!("{}", with(doc, value_json(value)));
            }
            (false, Some(v)) => println!("{}", shown(v)),
            (false, None) => {}
        }
    }

    /// `watch`: one line per change.
    pub(crate) fn change(&self, c: &Change) {
        println!("{}", self.change_line(c));
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
            println!("{}", instances_json(list));
            return;
        }
        for i in &list.instances {
            println!("{}\t{}\t{}", i.id, i.addr, i.metadata);
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
            println!("{}", Value::Array(docs));
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
            println!("{:x}\t{name}\t{}\t{role}", m.id, m.client_urls.join(","));
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
            println!("{}", json!({"healthy": healthy, "members": docs}));
        } else {
            for s in list {
                match (&s.error, s.round_trip) {
                    (Some(e), _) => println!("{}\tunreachable\t{e}", s.endpoint),
                    (None, rtt) => println!(
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

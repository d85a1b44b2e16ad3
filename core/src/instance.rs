//! Registered instances of a service: the entries under `<prefix><name>/`, in the JSON
//! format of etcd's Go `naming/endpoints` manager, and the set a prefix watch keeps.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::change::ChangeKind;

/// One registered instance of a service: the key `<prefix><name>/<id>` holding
/// `{"Addr": "...", "Metadata": ...}` (etcd's Go `naming/endpoints` format; the older
/// `{"Op": 0, "Addr": ...}` form of `grpc/naming` is read too).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The instance id: the key after `<prefix><name>/` (by default the address).
    pub id: String,
    /// The address clients connect to.
    pub addr: String,
    /// Whatever JSON the registrant attached; `Null` when none.
    pub metadata: Value,
    /// The etcd revision at which the entry was last written.
    pub revision: i64,
}

/// An entry under a service's key that is not an instance; skipped, and reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The entry's key (invalid UTF-8 shown with replacement characters).
    pub key: String,
    /// Why it was skipped.
    pub reason: String,
}

/// The instances of a service at one revision, and the entries that were skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Instances {
    /// The service name.
    pub service: String,
    /// The instances, ordered by id.
    pub instances: Vec<Instance>,
    /// Entries that are not instances (not JSON, no `Addr`, ...): never a silently
    /// shorter list.
    pub malformed: Vec<Malformed>,
    /// The revision this list is as of.
    pub revision: i64,
    /// Why it was delivered: `Initial`, `Reset`, or `Put`/`Delete` of the last change.
    pub kind: ChangeKind,
}

/// Reads one entry's value. `None` for an entry that says it was deleted (`"Op": 1`).
fn parse(id: &str, value: &[u8], revision: i64) -> Option<Result<Instance, String>> {
    let v: Value = match serde_json::from_slice(value) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("not JSON ({e})"))),
    };
    let Some(obj) = v.as_object() else {
        return Some(Err("not a JSON object".into()));
    };
    match obj.get("Op") {
        None => {}
        Some(op) if op == 0 => {}
        Some(op) if op == 1 => return None,
        Some(op) => return Some(Err(format!("unknown \"Op\" {op}"))),
    }
    let addr = match obj.get("Addr") {
        Some(Value::String(a)) if !a.is_empty() => a.clone(),
        Some(_) => return Some(Err("\"Addr\" is not a non-empty string".into())),
        None => return Some(Err("no \"Addr\"".into())),
    };
    let metadata = obj.get("Metadata").cloned().unwrap_or(Value::Null);
    let id = id.to_string();
    Some(Ok(Instance {
        id,
        addr,
        metadata,
        revision,
    }))
}

/// Where a registration stands, as its keepalive task last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationState {
    /// The key is written under a lease that etcd confirmed within the TTL.
    Registered,
    /// The lease's session was lost (etcd said the lease is gone, or no keepalive was
    /// answered before its time was surely up): a new lease is being granted and the key
    /// written again.
    Reregistering,
    /// Writing it again failed: the key has probably expired and watchers see the instance
    /// gone. It is tried again, backing off up to about the TTL, until a member answers.
    Lost,
    /// Closed: the lease was revoked (or the finder closed).
    Closed,
}

impl RegistrationState {
    /// The lowercase name: `"registered"`, `"reregistering"`, `"lost"` or `"closed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationState::Registered => "registered",
            RegistrationState::Reregistering => "reregistering",
            RegistrationState::Lost => "lost",
            RegistrationState::Closed => "closed",
        }
    }
}

/// The JSON value a registration writes (the Go endpoints manager's format).
pub(crate) fn entry_value(addr: &str, metadata: &Value) -> Vec<u8> {
    serde_json::json!({ "Addr": addr, "Metadata": metadata })
        .to_string()
        .into_bytes()
}

/// The entries under one service's key, as a prefix watch sees them.
pub(crate) struct InstanceSet {
    service: String,
    /// The length of `<prefix><name>/`, cut from keys to make ids.
    prefix_len: usize,
    entries: BTreeMap<Vec<u8>, Result<Instance, Malformed>>,
}

impl InstanceSet {
    pub(crate) fn new(service: &str, prefix_len: usize) -> InstanceSet {
        InstanceSet {
            service: service.to_string(),
            prefix_len,
            entries: BTreeMap::new(),
        }
    }

    /// Puts (`Some`) or deletes (`None`) one key's entry.
    pub(crate) fn apply(&mut self, key: &[u8], value: Option<&[u8]>, revision: i64) {
        let Some(value) = value else {
            self.entries.remove(key);
            return;
        };
        let id = String::from_utf8_lossy(&key[self.prefix_len.min(key.len())..]);
        let entry = match std::str::from_utf8(key) {
            Err(_) => Some(Err("the key is not UTF-8".to_string())),
            Ok(_) if id.is_empty() => Some(Err("the key has no instance id".into())),
            Ok(_) => parse(&id, value, revision),
        };
        match entry {
            None => {
                self.entries.remove(key);
            }
            Some(Ok(i)) => {
                self.entries.insert(key.to_vec(), Ok(i));
            }
            Some(Err(reason)) => {
                let key_text = String::from_utf8_lossy(key).into_owned();
                let m = Malformed {
                    key: key_text,
                    reason,
                };
                self.entries.insert(key.to_vec(), Err(m));
            }
        }
    }

    /// Forgets every entry (before a snapshot is applied).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The list as of `revision`.
    pub(crate) fn list(&self, revision: i64, kind: ChangeKind) -> Instances {
        let mut instances = Vec::new();
        let mut malformed = Vec::new();
        for entry in self.entries.values() {
            match entry {
                Ok(i) => instances.push(i.clone()),
                Err(m) => malformed.push(m.clone()),
            }
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Instances {
            service: self.service.clone(),
            instances,
            malformed,
            revision,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_with(entries: &[(&str, &str)]) -> Instances {
        let mut s = InstanceSet::new("cdd", "/services/cdd/".len());
        for (i, (id, value)) in entries.iter().enumerate() {
            let key = format!("/services/cdd/{id}");
            s.apply(key.as_bytes(), Some(value.as_bytes()), i as i64 + 2);
        }
        s.list(9, ChangeKind::Initial)
    }

    #[test]
    fn reads_the_go_formats_and_reports_the_rest() {
        let list = set_with(&[
            (
                "10.0.0.2:80",
                r#"{"Addr":"10.0.0.2:80","Metadata":{"zone":"b"}}"#,
            ),
            (
                "10.0.0.1:80",
                r#"{"Op":0,"Addr":"10.0.0.1:80","Metadata":"old form"}"#,
            ),
            ("gone", r#"{"Op":1,"Addr":"10.0.0.3:80"}"#),
            ("extra", r#"{"Addr":"h:1","Unknown":true}"#),
            ("bad-json", "[ \"turtle1\""),
            ("no-addr", r#"{"Metadata":1}"#),
            ("num-addr", r#"{"Addr":5}"#),
        ]);
        let ids: Vec<&str> = list.instances.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["10.0.0.1:80", "10.0.0.2:80", "extra"]);
        assert_eq!(list.instances[1].metadata, serde_json::json!({"zone": "b"}));
        assert_eq!(list.instances[2].metadata, Value::Null);
        assert_eq!(list.instances[0].revision, 3);
        let bad: Vec<&str> = list.malformed.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            bad,
            [
                "/services/cdd/bad-json",
                "/services/cdd/no-addr",
                "/services/cdd/num-addr"
            ]
        );
        assert!(list.malformed[0].reason.starts_with("not JSON"));
    }

    #[test]
    fn registrations_write_what_they_read() {
        let v = entry_value("h:1", &serde_json::json!({"w": 2}));
        let back = parse("h:1", &v, 5).unwrap().unwrap();
        assert_eq!(
            (back.addr.as_str(), back.metadata["w"].as_i64()),
            ("h:1", Some(2))
        );
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#"{"Addr":"h:1","Metadata":{"w":2}}"#
        );
    }
}

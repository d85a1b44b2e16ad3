//! What a watch delivers.

use crate::error::{Error, ErrorKind, Result};

/// Why a watch delivered a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The value when the watch started (only with `WatchOptions::initial`).
    Initial,
    /// The service's key was written.
    Put,
    /// The service's key was deleted; the value is `None`.
    Delete,
    /// The history the watch needed was compacted away: this is the current value, read
    /// anew, and the watch goes on from it. Changes in between are not delivered.
    Reset,
}

impl ChangeKind {
    /// The lowercase name: `"initial"`, `"put"`, `"delete"` or `"reset"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Initial => "initial",
            ChangeKind::Put => "put",
            ChangeKind::Delete => "delete",
            ChangeKind::Reset => "reset",
        }
    }
}

/// One change of a watched service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The service name, as given to `watch_service`.
    pub service: String,
    /// The new value, `None` when the key is absent. Raw bytes: see [`Change::value_str`].
    pub value: Option<Vec<u8>>,
    /// The etcd revision of the change (of the read, for `Initial` and `Reset` of an absent key).
    pub revision: i64,
    /// Why this was delivered.
    pub kind: ChangeKind,
    /// How many older changes were dropped just before this one because the callback was
    /// slower than the updates (0 unless the watch's queue overflowed).
    pub skipped: u64,
}

impl Change {
    /// The value as text; an error (not a mangled string) when it is not valid UTF-8.
    pub fn value_str(&self) -> Result<Option<&str>> {
        match &self.value {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|e| not_utf8(&self.service, e)),
        }
    }
}

/// A stored value as text: an [`ErrorKind::InvalidValue`] error (naming the service) when it
/// is not valid UTF-8, never a mangled string. Every face's text lookup goes through here.
pub fn value_text(service: &str, value: Vec<u8>) -> Result<String> {
    String::from_utf8(value).map_err(|e| not_utf8(service, e.utf8_error()))
}

fn not_utf8(service: &str, e: std::str::Utf8Error) -> Error {
    Error::new(
        ErrorKind::InvalidValue,
        format!("the value of service {service:?} is not valid UTF-8 ({e}); read it as bytes"),
    )
}

/// Who leads an election: the candidate's key and value, and the create revision of its
/// key (its leadership's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The leader's key: `<name>/<lease id in hex>`.
    pub key: String,
    /// The value the leader proclaimed.
    pub value: Vec<u8>,
    /// The create revision of the leader's key: larger for every later leader.
    pub revision: i64,
}

impl Leader {
    /// The value as text; an error (not a mangled string) when it is not valid UTF-8.
    pub fn value_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidValue,
                format!("leader {}: value is not UTF-8 ({e})", self.key),
            )
        })
    }
}

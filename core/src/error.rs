//! The one error type of turtle-finder, with the kinds every face maps.

use std::fmt;
use std::time::Duration;

/// What went wrong, coarse enough for C status codes and Python exception classes.
///
/// The faces own their spellings of a kind: libturtle's `turtle_status` numbers (stable,
/// part of the C ABI) and the Python exception classes are both derived from this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something unusable: a malformed endpoint, a service name with `/`.
    InvalidArgument,
    /// No member answered: every member tried refused, dropped or never answered the connection.
    Unavailable,
    /// The call's deadline passed while a member was still working on it.
    DeadlineExceeded,
    /// The cluster refused the credentials or the operation.
    PermissionDenied,
    /// The finder (or the watch) was closed.
    Closed,
    /// A stored value is not valid UTF-8; the bytes API returns it unchanged.
    InvalidValue,
    /// Anything else: a bug or an answer etcd should never give.
    Internal,
    /// The caller's interrupt check fired during a blocking call (Python's Ctrl-C).
    Interrupted,
    /// The lease a lock or leadership stood on is gone (expired, revoked, or its key
    /// deleted): what it guarded is no longer held, and must not be acted on.
    SessionLost,
    /// A conditional write's condition did not hold (the lock is no longer the guard's,
    /// or the key changed since the revision given): nothing was written.
    ConditionFailed,
}

impl ErrorKind {
    /// Every kind, in the order of the C ABI's status numbers (1, 2, ...).
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unavailable,
        ErrorKind::DeadlineExceeded,
        ErrorKind::PermissionDenied,
        ErrorKind::Closed,
        ErrorKind::InvalidValue,
        ErrorKind::Internal,
        ErrorKind::Interrupted,
        ErrorKind::SessionLost,
        ErrorKind::ConditionFailed,
    ];

    /// A short lowercase name, e.g. `"deadline exceeded"`: what `Display` shows, and the
    /// name libturtle's `turtle_status_name` gives the kind's status.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::DeadlineExceeded => "deadline exceeded",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Closed => "closed",
            ErrorKind::InvalidValue => "invalid value",
            ErrorKind::Internal => "internal",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::SessionLost => "session lost",
            ErrorKind::ConditionFailed => "condition failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt on one member, kept so an error can say what was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The member's endpoint as configured, e.g. `127.0.0.1:2379`.
    pub member: String,
    /// Why that member failed, e.g. `connection refused` or `no answer within 250ms`.
    pub reason: String,
}

/// The error of every turtle-finder call: its [`ErrorKind`], a message, and the attempts
/// on each member that led to it.
///
/// ```no_run
/// use turtle_finder::{ErrorKind, ServiceFinder};
/// # let finder = ServiceFinder::from_env()?;
/// match finder.get_service("cdd") {
///     Ok(hosts) => println!("{hosts:?}"),
///     Err(e) if e.kind() == ErrorKind::Unavailable => {
///         for attempt in e.attempts() {
///             eprintln!("{}: {}", attempt.member, attempt.reason);
///         }
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), turtle_finder::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    attempts: Vec<Attempt>,
}

/// `Result` with turtle-finder's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            attempts: Vec::new(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn closed() -> Self {
        Error::new(ErrorKind::Closed, "the finder is closed")
    }

    /// The failure of a call that tried members and ran out of time or members.
    pub(crate) fn exhausted(
        op: &str,
        deadline: Duration,
        attempts: Vec<Attempt>,
        connected: bool,
    ) -> Self {
        let kind = if connected {
            ErrorKind::DeadlineExceeded
        } else {
            ErrorKind::Unavailable
        };
        let what = if connected {
            format!("{op}: deadline of {deadline:?} exceeded")
        } else {
            format!("{op}: no member answered within {deadline:?}")
        };
        Error {
            kind,
            message: what,
            attempts,
        }
    }

    /// The failure of a write that may have been applied, so was not tried again.
    pub(crate) fn maybe_applied(op: &str, attempts: Vec<Attempt>) -> Self {
        Error {
            kind: ErrorKind::Unavailable,
            message: format!("{op}: the request may have been applied; not retried"),
            attempts,
        }
    }

    /// The kind, for matching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the list of attempts.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Every member tried and why each failed, oldest first (the last failure per member).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.attempts.is_empty() {
            f.write_str(" (tried ")?;
            for (i, a) in self.attempts.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", a.member, a.reason)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_attempts() {
        let e = Error::exhausted(
            "get_service",
            Duration::from_secs(2),
            vec![
                Attempt {
                    member: "127.0.0.1:1".into(),
                    reason: "connection refused".into(),
                },
                Attempt {
                    member: "127.0.0.1:2".into(),
                    reason: "no answer within 250ms".into(),
                },
            ],
            false,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "get_service: no member answered within 2s (tried 127.0.0.1:1: connection refused; 127.0.0.1:2: no answer within 250ms)"
        );
    }
}

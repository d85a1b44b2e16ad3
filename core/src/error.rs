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
}

impl ErrorKind {
    /// Every kind, in the order of the C ABI's status numbers (1, 2, ...).
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unavailable,
        ErrorKind::DeadlineExceeded,
        ErrorKind::PermissionDenied,
        ErrorKind::Closed,
        ErrorKind::InvalidValue,
        ErrorKind::Internal,
        ErrorKind::Interrupted,
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

/// How the pool should treat a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The member could not be reached or did not answer: try another one.
    Connection(String),
    /// The member answered but could not serve now (no leader, overloaded): try another one.
    Retryable(String),
    /// The answer is final whichever member gives it.
    Final(Error),
}

/// Sorts an `etcd-client` error into what the pool should do with it.
///
/// Only an answer etcd itself gave can be final. Everything else that goes wrong with one
/// member (refused, reset, silent, DNS, TLS, HTTP/2 or gRPC protocol errors, a server that
/// is not etcd, a response that cannot be decoded) is that member's failure: the call goes
/// on with another one.
pub(crate) fn classify(err: &etcd_client::Error) -> Failure {
    match err {
        etcd_client::Error::TransportError(e) => Failure::Connection(short(&describe(e))),
        etcd_client::Error::IoError(e) => Failure::Connection(short(&describe(e))),
        etcd_client::Error::WatchError(e) => Failure::Connection(short(e)),
        etcd_client::Error::GRpcStatus(status) if !from_etcd(status) => {
            Failure::Connection(short(&describe_status(status)))
        }
        etcd_client::Error::GRpcStatus(status) => classify_answer(status),
        other => Failure::Final(Error::new(ErrorKind::Internal, other.to_string())),
    }
}

/// A failure in a few words, whatever its class.
pub(crate) fn reason_of(e: &etcd_client::Error) -> String {
    match classify(e) {
        Failure::Connection(r) | Failure::Retryable(r) => r,
        Failure::Final(e) => e.to_string(),
    }
}

/// What tonic says when it makes a status up itself, with no cause attached: no member
/// sent these.
const MADE_UP_BY_TONIC: [&str; 9] = [
    "grpc-status header missing",
    "protocol error",
    "h2 protocol error",
    "Error, decoded message length too large",
    "Unexpected EOF decoding stream",
    "Missing response message",
    "Error encoding",
    "Error compressing",
    "client cancelled",
];

/// Whether etcd (a gRPC server) sent this status: tonic attaches the cause to a status it
/// made from a transport error, and uses known words for those it makes up otherwise.
fn from_etcd(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    status.source().is_none()
        && !MADE_UP_BY_TONIC
            .iter()
            .any(|m| status.message().starts_with(m))
}

/// Whether a failure of the watch stream was a response too large to decode: resuming
/// from the same revision would get the same response again.
pub(crate) fn is_too_large(reason: &str) -> bool {
    reason.contains("decoded message length too large")
}

/// An answer of etcd's.
fn classify_answer(status: &tonic::Status) -> Failure {
    use tonic::Code;
    let msg = short(status.message());
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Aborted
        | Code::Unknown => Failure::Retryable(msg),
        Code::ResourceExhausted if !msg.contains("larger than max") => Failure::Retryable(msg),
        Code::PermissionDenied | Code::Unauthenticated => {
            Failure::Final(Error::new(ErrorKind::PermissionDenied, msg))
        }
        // etcd with auth on, asked without credentials.
        Code::InvalidArgument if msg.contains("user name is empty") => Failure::Final(Error::new(
            ErrorKind::PermissionDenied,
            format!("the cluster requires authentication ({msg})"),
        )),
        // Wrong user or password: etcd's words, and no retry.
        Code::InvalidArgument if msg.contains("authentication failed") => {
            Failure::Final(Error::new(ErrorKind::PermissionDenied, msg))
        }
        Code::InvalidArgument
        | Code::OutOfRange
        | Code::FailedPrecondition
        | Code::ResourceExhausted => Failure::Final(Error::new(ErrorKind::InvalidArgument, msg)),
        _ => Failure::Final(Error::new(ErrorKind::Internal, msg)),
    }
}

/// A status tonic made: its message and the causes (its `Display` is a debug dump).
fn describe_status(status: &tonic::Status) -> String {
    use std::error::Error as _;
    match status.source() {
        Some(cause) => describe(&Pair(status.message(), cause)),
        None => status.message().to_string(),
    }
}

/// A message with a cause, to describe as one error.
#[derive(Debug)]
struct Pair<'a>(&'a str, &'a (dyn std::error::Error + 'static));

impl fmt::Display for Pair<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Pair<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.1)
    }
}

/// An error with its causes, each said once: tonic keeps the useful part ("Connection
/// refused") deep inside, and often repeats a cause's words in its wrapper.
fn describe(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        cur = c.source();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}

/// Long messages are cut to what a person needs.
fn short(s: &str) -> String {
    let s = s.trim().trim_end_matches(':').trim();
    if s.to_ascii_lowercase().contains("connection refused") {
        return "connection refused".into();
    }
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

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

    #[test]
    fn status_codes_are_sorted() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let mut refused = tonic::Status::unavailable("error trying to connect: tcp connect error");
        refused.set_source(std::sync::Arc::new(io));
        assert_eq!(
            classify(&etcd_client::Error::GRpcStatus(refused)),
            Failure::Connection("connection refused".into())
        );
        // A load balancer's 404, or a response that is not gRPC: that member's failure.
        for made_up in [
            tonic::Status::unimplemented(
                "grpc-status header missing, mapped from HTTP status code 404",
            ),
            tonic::Status::permission_denied(
                "grpc-status header missing, mapped from HTTP status code 403",
            ),
            tonic::Status::internal(
                "protocol error: received message with invalid compression flag: 60",
            ),
        ] {
            let e = etcd_client::Error::GRpcStatus(made_up);
            assert!(matches!(classify(&e), Failure::Connection(_)), "{e:?}");
        }
        let no_auth = etcd_client::Error::GRpcStatus(tonic::Status::invalid_argument(
            "etcdserver: user name is empty",
        ));
        assert!(
            matches!(classify(&no_auth), Failure::Final(e) if e.kind() == ErrorKind::PermissionDenied)
        );
        let no_leader =
            etcd_client::Error::GRpcStatus(tonic::Status::unavailable("etcdserver: no leader"));
        assert!(matches!(classify(&no_leader), Failure::Retryable(_)));
        let denied = etcd_client::Error::GRpcStatus(tonic::Status::permission_denied(
            "etcdserver: permission denied",
        ));
        assert!(
            matches!(classify(&denied), Failure::Final(e) if e.kind() == ErrorKind::PermissionDenied)
        );
    }
}

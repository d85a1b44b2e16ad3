//! etcd's error vocabulary in one place: how a failed attempt is sorted (what the pool
//! may do next, [`classify`]) and named predicates for the answers the engine acts on.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// How the pool should treat a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection could be made: the request cannot have reached the member.
    NotSent(String),
    /// The connection failed or went silent after the request may have been sent.
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
        etcd_client::Error::TransportError(e) => connection(describe(e)),
        etcd_client::Error::IoError(e) => connection(describe(e)),
        etcd_client::Error::WatchError(e) => Failure::Connection(short(e)),
        etcd_client::Error::GRpcStatus(status) if !from_etcd(status) => {
            connection(describe_status(status))
        }
        etcd_client::Error::GRpcStatus(status) => classify_answer(status),
        other => Failure::Final(Error::new(ErrorKind::Internal, other.to_string())),
    }
}

/// A connection's failure, said in full: before the request left, or maybe after.
fn connection(described: String) -> Failure {
    // hyper's and tonic's words for a connection that was never made (refused, no route,
    // DNS, TLS handshake): no request went out on it.
    let never_made = ["error trying to connect", "tcp connect error", "dns error"];
    let lower = described.to_ascii_lowercase();
    match never_made.iter().any(|w| lower.contains(w)) || lower.contains("connection refused") {
        true => Failure::NotSent(short(&described)),
        false => Failure::Connection(short(&described)),
    }
}

/// A failure in a few words, whatever its class.
pub(crate) fn reason_of(e: &etcd_client::Error) -> String {
    match classify(e) {
        Failure::NotSent(r) | Failure::Connection(r) | Failure::Retryable(r) => r,
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

// etcd's words, each named once. etcd sends most of its errors as a gRPC status whose
// message is one of `rpctypes`' strings ("etcdserver: ..."); the Go client compares them
// the same way (`rpctypes.Error`).

/// A request refused for its token: expired, or lost by a restarted etcd (the token is then
/// renewed and the request made once more).
pub(crate) fn token_refused(e: &etcd_client::Error) -> bool {
    status_says(e, &["invalid auth token", "user name is empty"])
}

/// The cluster has auth off: a request needs no token (etcd's Go client goes on without).
pub(crate) fn auth_not_enabled(e: &etcd_client::Error) -> bool {
    status_says(e, &["authentication is not enabled"])
}

/// etcd does not know the lease (expired, revoked, or never granted).
pub(crate) fn lease_not_found(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::LeaseKeepAliveError(m) => m.contains("not found"),
        _ => status_says(e, &["requested lease not found"]),
    }
}

/// etcd already has a lease of that id: a grant with the client's id was applied before.
pub(crate) fn lease_exists(e: &etcd_client::Error) -> bool {
    status_says(e, &["lease already exists"])
}

/// A retryable answer that says the request was not applied: no leader to propose it to,
/// or too many requests queued to take it.
pub(crate) fn not_applied(reason: &str) -> bool {
    ["no leader", "too many requests", "not capable"]
        .iter()
        .any(|w| reason.contains(w))
}

/// A reason that says permission was denied (a watch's, which comes as words).
pub(crate) fn permission_denied(reason: &str) -> bool {
    reason.contains("permission denied")
}

/// A reason that speaks of permission at all.
pub(crate) fn about_permission(reason: &str) -> bool {
    reason.contains("permission")
}

/// Whether etcd answered with a status whose message says one of `words`.
fn status_says(e: &etcd_client::Error, words: &[&str]) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => words.iter().any(|w| s.message().contains(w)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_sorted() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let mut refused = tonic::Status::unavailable("error trying to connect: tcp connect error");
        refused.set_source(std::sync::Arc::new(io));
        assert_eq!(
            classify(&etcd_client::Error::GRpcStatus(refused)),
            Failure::NotSent("connection refused".into())
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

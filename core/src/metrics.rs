//! A client's metrics in Prometheus's text format: what the cluster looks like from the
//! services' side (which member answers, how often calls fail over, how far behind the
//! callbacks are).
//!
//! Made with the `prometheus` crate: its text encoder writes the classic exposition
//! format (0.0.4) that `promtool check metrics` and every Prometheus read;
//! `prometheus-client` writes only OpenMetrics, which `promtool` rejects.

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error::{Error, ErrorKind, Result};

/// Latency buckets, in seconds: from a loopback answer to a deadline.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A client's metrics, or nothing when they are off (then every call below is a no-op).
pub(crate) struct Metrics(Option<Box<Set>>);

/// Every metric of a client, registered in its own registry.
struct Set {
    registry: Registry,
    calls: Calls,
    watches: IntGauge,
    watch_moves: IntCounter,
    watch_resumes: IntCounter,
    watch_resets: IntCounter,
    delivered: IntCounter,
    skipped: IntCounter,
    queued: IntGauge,
    callback_seconds: Histogram,
    registrations: IntGauge,
    reregistrations: IntCounter,
}

/// The metrics of calls and members.
struct Calls {
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    failovers: IntCounterVec,
    hedges: IntCounterVec,
    member_up: IntGaugeVec,
}

/// How one attempt on one member ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The member answered.
    Ok,
    /// No connection, or it broke.
    ConnectionError,
    /// The member answered with an error worth asking another member about.
    RetryableError,
    /// The member answered with an error that ends the call (e.g. permission denied).
    Error,
    /// Still silent when the call's deadline passed.
    NoAnswer,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ConnectionError => "connection_error",
            Outcome::RetryableError => "retryable_error",
            Outcome::Error => "error",
            Outcome::NoAnswer => "no_answer",
        }
    }
}

/// `made`, registered in `r` where it is made.
fn registered<M>(r: &Registry, made: prometheus::Result<M>) -> prometheus::Result<M>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let m = made?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

fn counter(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    registered(r, IntCounter::new(name, help))
}

fn gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    registered(r, IntGauge::new(name, help))
}

fn counters(
    r: &Registry,
    name: &str,
    help: &str,
    by: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(r, IntCounterVec::new(Opts::new(name, help), by))
}

fn latency(name: &str, help: &str) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec())
}

impl Calls {
    fn new(r: &Registry) -> prometheus::Result<Calls> {
        let by_operation = ["operation"];
        Ok(Calls {
            requests: counters(
                r,
                "turtle_requests_total",
                "Requests to etcd members, by operation, outcome and member.",
                &["operation", "outcome", "member"],
            )?,
            request_seconds: registered(r, HistogramVec::new(
                latency(
                    "turtle_request_duration_seconds",
                    "How long calls took, failovers and retries included, by operation.",
                ),
                &by_operation,
            ))?,
            failovers: counters(
                r,
                "turtle_failovers_total",
                "Calls answered by another member than the one asked first.",
                &by_operation,
            )?,
            hedges: counters(
                r,
                "turtle_hedged_requests_total",
                "Requests sent to another member while an earlier one was unanswered.",
                &by_operation,
            )?,
            member_up: registered(r, IntGaugeVec::new(
                Opts::new(
                    "turtle_member_up",
                    "1 while the member answers, 0 from a failed request until a probe answers.",
                ),
                &["member"],
            ))?,
        })
    }
}

impl Set {
    fn new() -> prometheus::Result<Set> {
        let r = Registry::new();
        Ok(Set {
            calls: Calls::new(&r)?,
            watches: gauge(&r, "turtle_watches", "Watches open.")?,
            watch_moves: counter(
                &r,
                "turtle_watch_stream_moves_total",
                "Watch streams that failed and moved to another member.",
            )?,
            watch_resumes: counter(
                &r,
                "turtle_watch_resumes_total",
                "Watches created again on a new stream from their next revision.",
            )?,
            watch_resets: counter(
                &r,
                "turtle_watch_resets_total",
                "Watches whose history was gone (compaction, another cluster), read anew.",
            )?,
            delivered: counter(
                &r,
                "turtle_changes_delivered_total",
                "Changes handed to callbacks and streams.",
            )?,
            skipped: counter(
                &r,
                "turtle_changes_skipped_total",
                "Changes dropped from a full queue (a newer one of the same watch follows).",
            )?,
            queued: gauge(
                &r,
                "turtle_callback_queue_depth",
                "Changes and errors queued for callbacks and streams, not yet taken.",
            )?,
            callback_seconds: registered(
                &r,
                Histogram::with_opts(latency(
                    "turtle_callback_duration_seconds",
                    "How long callbacks ran.",
                )),
            )?,
            registrations: gauge(&r, "turtle_registrations", "Registrations open.")?,
            reregistrations: counter(
                &r,
                "turtle_reregistrations_total",
                "Registrations written again under a new lease after theirs was lost.",
            )?,
            registry: r,
        })
    }
}

impl Metrics {
    /// The metrics of a new client; `on` false makes every recording a no-op.
    pub(crate) fn new(on: bool) -> Result<Metrics> {
        if !on {
            return Ok(Metrics(None));
        }
        let set = Set::new()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot set up metrics: {e}")))?;
        Ok(Metrics(Some(Box::new(set))))
    }

    fn with(&self, f: impl FnOnce(&Set)) {
        if let Some(set) = &self.0 {
            f(set);
        }
    }

    /// One attempt of `operation` on `member` ended.
    pub(crate) fn request(&self, operation: &str, member: &str, outcome: Outcome) {
        self.with(|s| {
            (s.calls.requests)
                .with_label_values(&[operation, outcome.label(), member])
                .inc()
        });
    }

    /// A call of `operation` ended after `took`.
    pub(crate) fn call(&self, operation: &str, took: Duration) {
        self.with(|s| {
            (s.calls.request_seconds)
                .with_label_values(&[operation])
                .observe(took.as_secs_f64())
        });
    }

    /// A call of `operation` was answered by another member than the first asked.
    pub(crate) fn failover(&self, operation: &str) {
        self.with(|s| s.calls.failovers.with_label_values(&[operation]).inc());
    }

    /// Another member was asked while an earlier attempt was unanswered.
    pub(crate) fn hedge(&self, operation: &str) {
        self.with(|s| s.calls.hedges.with_label_values(&[operation]).inc());
    }

    /// How many watches are open.
    pub(crate) fn watches(&self, n: usize) {
        self.with(|s| s.watches.set(n as i64));
    }

    /// The watch stream failed and moves on.
    pub(crate) fn watch_moved(&self) {
        self.with(|s| s.watch_moves.inc());
    }

    /// `n` watches were created again on a new stream.
    pub(crate) fn watches_resumed(&self, n: usize) {
        self.with(|s| s.watch_resumes.inc_by(n as u64));
    }

    /// A watch was read anew and reset.
    pub(crate) fn watch_reset(&self) {
        self.with(|s| s.watch_resets.inc());
    }

    /// A delivery was queued (`+1`), taken (`-1`), or `n` were dropped with their queue.
    pub(crate) fn queued(&self, delta: i64) {
        self.with(|s| s.queued.add(delta));
    }

    /// A change was dropped from a full queue.
    pub(crate) fn skipped(&self) {
        self.with(|s| s.skipped.inc());
    }

    /// A change was handed to its consumer.
    pub(crate) fn delivered(&self) {
        self.with(|s| s.delivered.inc());
    }

    /// A callback ran for `took`.
    pub(crate) fn callback(&self, took: Duration) {
        self.with(|s| s.callback_seconds.observe(took.as_secs_f64()));
    }

    /// A registration opened (`+1`) or ended (`-1`).
    pub(crate) fn registrations(&self, delta: i64) {
        self.with(|s| s.registrations.add(delta));
    }

    /// A lost registration was written again.
    pub(crate) fn reregistered(&self) {
        self.with(|s| s.reregistrations.inc());
    }

    /// The text exposition, with each member's health as `members` says it now.
    pub(crate) fn render(&self, members: &[(String, bool)]) -> Result<String> {
        let Some(s) = &self.0 else {
            return Err(Error::invalid(
                "metrics are off for this finder (the metrics setting)",
            ));
        };
        // Members come and go (auto-sync): the gauge shows exactly today's.
        s.calls.member_up.reset();
        for (member, up) in members {
            s.calls
                .member_up
                .with_label_values(&[member])
                .set(*up as i64);
        }
        TextEncoder::new()
            .encode_to_string(&s.registry.gather())
            .map_err(|e| Error::new(ErrorKind::Internal, format!("encoding metrics: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing_and_says_so() {
        let m = Metrics::new(false).unwrap();
        m.request("get", "a", Outcome::Ok);
        let e = m.render(&[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("metrics are off"), "{e}");
    }

    #[test]
    fn names_follow_the_conventions() {
        let m = Metrics::new(true).unwrap();
        m.request("get", "127.0.0.1:1", Outcome::ConnectionError);
        m.call("get", Duration::from_millis(3));
        let text = m.render(&[("127.0.0.1:1".into(), false)]).unwrap();
        assert!(text.contains(
            "turtle_requests_total{member=\"127.0.0.1:1\",operation=\"get\",outcome=\"connection_error\"} 1"
        ), "{text}");
        assert!(text.contains("turtle_member_up{member=\"127.0.0.1:1\"} 0"));
        assert!(text
            .contains("turtle_request_duration_seconds_bucket{operation=\"get\",le=\"0.005\"} 1"));
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            let parts: Vec<&str> = line.split(' ').collect();
            assert!(parts[2].starts_with("turtle_"), "{line}");
            assert_eq!(
                parts[3] == "counter",
                parts[2].ends_with("_total"),
                "{line}"
            );
        }
    }
}

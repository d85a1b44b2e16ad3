//! The hedged round of one pool call: the preferred member first, the next when one fails
//! (or, for reads, is slow), a backoff after every member failed, all inside a deadline and
//! as the operation's retry policy allows.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::{sleep_until, timeout, Instant};

use crate::auth::Auth;
use crate::error::{Attempt, Error, Result};
use crate::failure::{classify, token_refused, Failure};
use crate::member::Member;
use crate::metrics::Outcome;
use crate::pool::{backoff, Pool};
use crate::retry::Op;

impl Pool {
    /// Runs `call` on members until one succeeds or `deadline` passes, as `op`'s retry
    /// policy allows.
    ///
    /// The preferred member is asked first. If it fails with a connection error or a
    /// retryable status, the next member is asked at once (a write only when the failure
    /// says it cannot have been applied, or when it is idempotent). A read whose member is
    /// silent for the hedge delay (twice its recent 95th percentile latency, between
    /// `hedge_floor` and `hedge_after`) is also sent to the next member and the first
    /// answer wins; an idempotent write is given up on that member after the connect
    /// timeout and sent to the next; other writes wait for their answer. After every
    /// member failed, the next round waits an exponential, jittered backoff.
    pub(crate) async fn run<T, F, Fut>(&self, op: Op, deadline: Duration, call: F) -> Result<T>
    where
        F: Fn(Arc<Member>) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let mut round = Round::new(self, op, deadline);
        let first = round.next_due(self).expect("a pool has members");
        let (auth, silence) = (self.auth(), round.silence);
        let try_on = |m| Box::pin(attempt(auth, silence, m, &call));
        let mut first_attempt = try_on(first);
        // The common case costs one timer: the preferred member answers before the hedge.
        let early = tokio::select! {
            biased;
            r = &mut first_attempt => Some(r),
            _ = sleep_until(round.launch_at.min(round.end)) => None,
        };
        let mut inflight = FuturesUnordered::new();
        match early {
            Some((m, res)) => {
                if let Some(v) = round.settle(self, &m, res).transpose() {
                    return round.done(self, v);
                }
            }
            None => inflight.push(first_attempt),
        }
        loop {
            if let Some(m) = round.next_due(self) {
                inflight.push(try_on(m));
                continue;
            }
            tokio::select! {
                biased;
                Some((m, res)) = inflight.next(), if !inflight.is_empty() => {
                    if let Some(v) = round.settle(self, &m, res).transpose() {
                        return round.done(self, v);
                    }
                }
                _ = sleep_until(round.launch_at) => {}
                _ = sleep_until(round.end) => {
                    let e = round.expire(self, deadline);
                    return round.done(self, Err(e));
                }
            }
        }
    }
}

/// The bookkeeping of one [`Pool::run`]: who was asked when, what failed, who is next.
struct Round {
    op: Op,
    start: Instant,
    end: Instant,
    /// How long a read waits for one member before also asking the next.
    hedge: Duration,
    /// How long an idempotent write waits for one member before giving up on it.
    silence: Option<Duration>,
    /// When the next member is due to be asked.
    launch_at: Instant,
    /// Members not yet asked in this round, the next at the back.
    cycle: Vec<Arc<Member>>,
    pauses: Box<dyn Iterator<Item = Duration> + Send>,
    failures: Vec<Attempt>,
    /// Some member gave a (retryable) answer: running out of time is then a deadline,
    /// not unavailability.
    answered: bool,
    /// Members with an attempt in flight, and when it started.
    pending: Vec<(Arc<Member>, Instant)>,
    /// The member asked first.
    first: Option<Arc<Member>>,
}

impl Round {
    fn new(pool: &Pool, op: Op, deadline: Duration) -> Round {
        let start = Instant::now();
        let mut cycle = pool.order();
        cycle.reverse(); // popped from the back
        let (floor, cap) = (pool.cfg.hedge_floor, pool.cfg.hedge_after);
        let hedge = cycle.last().map_or(cap, |m| m.hedge_delay(floor, cap));
        Round {
            op,
            start,
            end: start + deadline.min(crate::config::MAX_DURATION),
            hedge,
            silence: op.gives_up_on_silence().then_some(pool.cfg.connect_timeout),
            launch_at: start,
            cycle,
            pauses: Box::new(backoff(pool.cfg.retry_backoff)),
            failures: Vec::new(),
            answered: false,
            pending: Vec::new(),
            first: None,
        }
    }

    /// The member to ask now, if one is due. The next after it is due a hedge delay
    /// later; after a full round, the next round starts after a backoff.
    fn next_due(&mut self, pool: &Pool) -> Option<Arc<Member>> {
        // Launch without a timer when due: a timer set to "now" fires a tick late.
        while Instant::now() >= self.launch_at {
            let Some(m) = self.cycle.pop() else {
                // Every member failed once: look them up again meanwhile (auto-sync, SRV).
                pool.members_failed();
                self.cycle = pool.order();
                self.cycle.reverse();
                let pause = self.pauses.next().unwrap_or(self.hedge);
                self.launch_at = Instant::now() + pause;
                return None;
            };
            if !self.pending.iter().any(|(p, _)| Arc::ptr_eq(p, &m)) {
                if !self.pending.is_empty() {
                    pool.metrics.hedge(self.op.name);
                }
                self.first.get_or_insert_with(|| m.clone());
                let now = Instant::now();
                self.pending.push((m.clone(), now));
                // A write asks the next member only once this one failed (settle).
                self.launch_at = match self.op.hedged() {
                    true => now + self.hedge,
                    false => self.end,
                };
                return Some(m);
            }
        }
        None
    }

    /// Books an answer: the value on success, `None` to go on after a retryable failure
    /// (the next member is then due at once), `Err` when the failure is final.
    fn settle<T>(
        &mut self,
        pool: &Pool,
        m: &Arc<Member>,
        res: std::result::Result<T, etcd_client::Error>,
    ) -> Result<Option<T>> {
        let asked = self.pending.iter().find(|(p, _)| Arc::ptr_eq(p, m));
        let asked_at = asked.map_or(self.start, |(_, t)| *t);
        self.pending.retain(|(p, _)| !Arc::ptr_eq(p, m));
        let member = m.label.as_str();
        let e = match res {
            Ok(v) => {
                pool.metrics.request(self.op.name, member, Outcome::Ok);
                if !self.first.as_ref().is_some_and(|f| Arc::ptr_eq(f, m)) {
                    pool.metrics.failover(self.op.name);
                }
                m.answered(asked_at.elapsed());
                self.check_losers(pool);
                pool.mark_ok(m);
                return Ok(Some(v));
            }
            Err(e) => e,
        };
        let failure = classify(&e);
        let retry = self.op.may_retry(&failure);
        let (reason, outcome) = match failure {
            Failure::Final(e) => {
                pool.metrics.request(self.op.name, member, Outcome::Error);
                return Err(e);
            }
            Failure::NotSent(r) | Failure::Connection(r) => (r, Outcome::ConnectionError),
            Failure::Retryable(r) => {
                self.answered = true;
                (r, Outcome::RetryableError)
            }
        };
        pool.metrics.request(self.op.name, member, outcome);
        pool.mark_failed(m, &reason);
        record(&mut self.failures, m, reason);
        if !retry {
            let failures = std::mem::take(&mut self.failures);
            return Err(Error::maybe_applied(self.op.name, failures));
        }
        self.launch_at = Instant::now();
        Ok(None)
    }

    /// Another member answered: those still silent after the hedge delay lost the race.
    /// One slow answer is no failure, so each is only checked ([`Pool::check`]).
    fn check_losers(&self, pool: &Pool) {
        let now = Instant::now();
        for (m, t) in &self.pending {
            if now.duration_since(*t) >= self.hedge {
                pool.check(m, self.hedge);
            }
        }
    }

    /// The deadline passed: every member still silent is marked failed, and the error
    /// lists every member tried.
    fn expire(&mut self, pool: &Pool, deadline: Duration) -> Error {
        let waited = self.start.elapsed();
        for (m, _) in &self.pending {
            // A member that failed before (refused, say) and was asked again keeps that
            // reason: on a busy machine the retry may be what the deadline caught.
            let member = m.endpoint.to_string();
            let reason = match self.failures.iter().find(|a| a.member == member) {
                Some(a) => format!("{}, then no answer within {waited:.0?}", a.reason),
                None => format!("no answer within {waited:.0?}"),
            };
            pool.metrics
                .request(self.op.name, &m.label, Outcome::NoAnswer);
            pool.mark_failed(m, &reason);
            record(&mut self.failures, m, reason);
        }
        let failures = std::mem::take(&mut self.failures);
        Error::exhausted(self.op.name, deadline, failures, self.answered)
    }

    /// The call's result, its duration counted.
    fn done<T>(&self, pool: &Pool, result: Result<T>) -> Result<T> {
        pool.metrics.call(self.op.name, self.start.elapsed());
        result
    }
}

/// One member's answer to one attempt.
type Answer<T> = (Arc<Member>, std::result::Result<T, etcd_client::Error>);

/// One call on one member, given up after `silence` when set. With auth on, a token is
/// obtained first when there is none, and a call refused for its token (expired, or lost
/// by a restarted etcd) is made once more with a fresh one.
async fn attempt<T, F, Fut>(
    auth: Option<&Auth>,
    silence: Option<Duration>,
    m: Arc<Member>,
    call: &F,
) -> Answer<T>
where
    F: Fn(Arc<Member>) -> Fut,
    Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let answer = async {
        let Some(auth) = auth else {
            return call(m.clone()).await;
        };
        let stale = auth.token();
        if stale.is_none() {
            auth.renew(&mut m.auth.clone(), &stale).await?;
        }
        let stale = auth.token();
        match call(m.clone()).await {
            Err(e) if token_refused(&e) => {
                if stale.is_none() {
                    auth.needed(); // sent without one, as auth was off
                }
                auth.renew(&mut m.auth.clone(), &stale).await?;
                call(m.clone()).await
            }
            r => r,
        }
    };
    let Some(limit) = silence else {
        return (m.clone(), answer.await);
    };
    match timeout(limit, answer).await {
        Ok(answer) => (m, answer),
        Err(_) => {
            let silent = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {limit:?}"),
            );
            (m, Err(etcd_client::Error::IoError(silent)))
        }
    }
}

/// Keeps the last failure per member, in the order members first failed.
fn record(failures: &mut Vec<Attempt>, m: &Member, reason: String) {
    let member = m.endpoint.to_string();
    match failures.iter_mut().find(|a| a.member == member) {
        Some(a) => a.reason = reason,
        None => failures.push(Attempt { member, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A pool of three members nothing listens on (no call is made: bookkeeping only).
    async fn pool() -> Arc<Pool> {
        let cfg = Config::new(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"])
            .unwrap()
            .with_metrics(false)
            .with_hedge_floor(Duration::from_secs(3600));
        Pool::new(Arc::new(cfg)).await.unwrap()
    }

    fn status(s: tonic::Status) -> std::result::Result<(), etcd_client::Error> {
        Err(etcd_client::Error::GRpcStatus(s))
    }

    #[tokio::test]
    async fn a_read_is_hedged_and_a_failure_moves_it_on_at_once() {
        let pool = pool().await;
        let mut round = Round::new(&pool, Op::GET_SERVICE, Duration::from_secs(5));
        let first = round.next_due(&pool).unwrap();
        assert_eq!(first.endpoint.to_string(), "127.0.0.1:1");
        assert!(
            round.next_due(&pool).is_none(),
            "the next waits for the hedge delay"
        );
        assert!(round.launch_at > Instant::now(), "due at the hedge delay");
        let no_leader = status(tonic::Status::unavailable("etcdserver: no leader"));
        assert_eq!(round.settle(&pool, &first, no_leader), Ok(None));
        assert!(
            round.answered,
            "an answer: running out of time is a deadline then"
        );
        let second = round.next_due(&pool).unwrap();
        assert_eq!(second.endpoint.to_string(), "127.0.0.1:2");
        let denied = status(tonic::Status::permission_denied(
            "etcdserver: permission denied",
        ));
        let e = round.settle(&pool, &second, denied).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied);
    }

    #[tokio::test]
    async fn a_write_is_never_hedged_and_one_that_may_have_applied_is_not_retried() {
        let pool = pool().await;
        let txn = Op {
            name: "txn",
            retry: crate::retry::Retry::Write,
        };
        let mut round = Round::new(&pool, txn, Duration::from_secs(5));
        let first = round.next_due(&pool).unwrap();
        assert!(round.next_due(&pool).is_none());
        assert_eq!(
            round.launch_at, round.end,
            "no second member while one is asked"
        );
        let timed_out = status(tonic::Status::unavailable("etcdserver: request timed out"));
        let e = round.settle(&pool, &first, timed_out).unwrap_err();
        assert!(e.message().contains("may have been applied"), "{e}");
        assert_eq!(e.attempts().len(), 1);
        // An idempotent write goes on after the same answer.
        let mut round = Round::new(&pool, Op::KEEPALIVE, Duration::from_secs(5));
        let m = round.next_due(&pool).unwrap();
        assert!(round.silence.is_some(), "a silent member is given up");
        let timed_out = status(tonic::Status::unavailable("etcdserver: request timed out"));
        assert_eq!(round.settle(&pool, &m, timed_out), Ok(None));
        assert!(round.next_due(&pool).is_some());
    }
}

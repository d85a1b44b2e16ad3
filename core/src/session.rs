//! A session: one lease kept alive through the failover pool, the shape of etcd's Go
//! `concurrency.Session`. Registrations stand on it (and locks and elections will): the
//! code has one keepalive loop.
//!
//! A session knows until when its lease is surely alive: the *send* time of the last
//! answered keepalive (or of the grant) plus the TTL etcd granted, less a margin, on the
//! boot clock (which runs through suspend). etcd's leader counts the TTL from when it
//! applies the keepalive, which is later than the send, so the session errs on the safe
//! side. Once that time passes without a newer answer, or etcd says the lease is gone, the
//! session is lost for good: it never comes back, a new one must be granted.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use crate::clock::{self, BootTime};
use crate::error::{Error, Result};
use crate::failure::{lease_exists, lease_not_found};
use crate::pool::{backoff, Pending, Pool, Tracker};
use crate::retry::Op;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Loss {
    /// etcd said the lease is gone (expired or revoked).
    Gone,
    /// No keepalive was answered before the lease's time was surely up.
    Expired,
    /// Closed by its owner (the lease revoked).
    Closed,
}

/// A callback for trouble the keepalives run into (they keep trying).
pub(crate) type Trouble = Arc<dyn Fn(Error) + Send + Sync>;

/// A lease kept alive in the background until closed or lost. Dropping it closes it.
pub(crate) struct Session {
    id: i64,
    ttl: Duration,
    alive_until: Arc<Mutex<BootTime>>,
    lost: watch::Receiver<Option<Loss>>,
    /// Stops the keeper; with a tracker it revokes the lease too (a session dropped
    /// unclosed, e.g. by an interrupted registration or lock), which a closing finder
    /// waits for.
    stop: Mutex<Option<oneshot::Sender<Option<Tracker>>>>,
    pending: Arc<Pending>,
}

/// The margin taken off the TTL: a tenth of it, at most a second.
fn margin(ttl: Duration) -> Duration {
    (ttl / 10).min(Duration::from_secs(1))
}

impl Session {
    /// Grants a lease of `ttl` (whole seconds) with an id of the client's choosing, so a
    /// grant retried on another member is harmless, and starts keeping it alive. Must run
    /// inside the tokio runtime the keepalives will run on.
    pub(crate) async fn grant(pool: &Arc<Pool>, ttl: i64, trouble: Trouble) -> Result<Session> {
        let id = rand::random_range(1..i64::MAX);
        let sent = BootTime::now();
        let granted = pool
            .run(Op::GRANT, pool.cfg.deadline, |m| {
                let mut lease = m.lease.clone();
                let opts = etcd_client::LeaseGrantOptions::new().with_id(id);
                async move {
                    match lease.grant(ttl, Some(opts)).await {
                        Ok(r) => Ok(r.ttl()),
                        // An earlier try of this grant reached etcd: it is ours.
                        Err(e) if lease_exists(&e) => {
                            Ok(lease.time_to_live(id, None).await?.granted_ttl())
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .await?;
        let ttl = Duration::from_secs(granted.max(1) as u64);
        let alive_until = Arc::new(Mutex::new(sent + (ttl - margin(ttl))));
        let (lost_tx, lost) = watch::channel(None);
        let (stop, stopped) = oneshot::channel();
        let keeper = Keeper {
            pool: pool.clone(),
            id,
            ttl,
            alive_until: alive_until.clone(),
            trouble,
        };
        tokio::spawn(keeper.run(lost_tx, stopped));
        Ok(Session {
            id,
            ttl,
            alive_until,
            lost,
            stop: Mutex::new(Some(stop)),
            pending: pool.pending.clone(),
        })
    }

    /// The lease's id.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The TTL etcd granted (it raises one below its minimum).
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether the lease is surely alive now: not lost, not ended (its revoke may be under
    /// way), and its time not up.
    pub(crate) fn is_alive(&self) -> bool {
        self.lost.borrow().is_none()
            && self.stop.lock().is_some()
            && !self.alive_until.lock().passed()
    }

    /// Waits until the session is lost, and says why.
    pub(crate) async fn lost(&self) -> Loss {
        let mut lost = self.lost.clone();
        let loss = match lost.wait_for(Option::is_some).await {
            Ok(loss) => loss.clone(),
            Err(_) => None, // the keeper ended without a word: it was dropped
        };
        loss.unwrap_or(Loss::Closed)
    }

    /// Stops the keepalives and revokes the lease in the background (a closing finder
    /// waits for it).
    pub(crate) fn end(&self) {
        if let Some(stop) = self.stop.lock().take() {
            let _ = stop.send(Some(self.pending.track()));
        }
    }

    /// Stops the keepalives and revokes the lease (the keys on it go at once); waits for
    /// the revoke's answer, at most the deadline. A lease already gone is fine.
    pub(crate) async fn close(&self, pool: &Pool) {
        if let Some(stop) = self.stop.lock().take() {
            let _ = stop.send(None);
        }
        revoke(pool, self.id).await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropped unclosed: the keeper revokes the lease in the background (nothing else
        // will, and it would live for its TTL).
        if let Some(stop) = self.stop.lock().take() {
            let _ = stop.send(Some(self.pending.track()));
        }
    }
}

/// The keepalive task of one session.
struct Keeper {
    pool: Arc<Pool>,
    id: i64,
    ttl: Duration,
    alive_until: Arc<Mutex<BootTime>>,
    trouble: Trouble,
}

impl Keeper {
    /// Keepalives every third of the TTL, sooner again after a failure, until stopped or
    /// lost.
    async fn run(
        self,
        lost: watch::Sender<Option<Loss>>,
        mut stopped: oneshot::Receiver<Option<Tracker>>,
    ) {
        let every = self.ttl / 3;
        let mut pauses = backoff(self.pool.cfg.retry_backoff);
        let mut next = BootTime::now() + every;
        let loss = loop {
            let until = *self.alive_until.lock();
            tokio::select! {
                revoke_it = &mut stopped => break self.stopped(revoke_it).await,
                _ = clock::sleep_until(until) => break Loss::Expired,
                _ = clock::sleep_until(next) => {}
            }
            let sent = BootTime::now();
            let answer = tokio::select! {
                revoke_it = &mut stopped => break self.stopped(revoke_it).await,
                _ = clock::sleep_until(until) => break Loss::Expired,
                a = keep_alive(&self.pool, self.id, every.max(Duration::from_millis(500))) => a,
            };
            match answer {
                Ok(true) => {
                    *self.alive_until.lock() = sent + (self.ttl - margin(self.ttl));
                    pauses = backoff(self.pool.cfg.retry_backoff);
                    next = sent + every;
                }
                Ok(false) => break Loss::Gone,
                Err(e) => {
                    (self.trouble)(e);
                    let pause = pauses.next().unwrap_or(every);
                    next = BootTime::now() + pause.min(every);
                }
            }
        };
        let _ = lost.send(Some(loss));
    }
}

impl Keeper {
    /// Stopped by the session's owner: revokes the lease when asked (the session was
    /// dropped unclosed).
    async fn stopped(
        &self,
        revoke_it: std::result::Result<Option<Tracker>, oneshot::error::RecvError>,
    ) -> Loss {
        if let Ok(Some(_tracked)) = revoke_it {
            revoke(&self.pool, self.id).await;
        }
        Loss::Closed
    }
}

/// One keepalive through the pool: true while the lease lives, false once etcd says it is
/// gone.
async fn keep_alive(pool: &Pool, lease: i64, deadline: Duration) -> Result<bool> {
    pool.run(Op::KEEPALIVE, deadline, |m| {
        let mut client = m.lease.clone();
        async move {
            match client.keep_alive(lease).await {
                Ok(_) => Ok(true),
                Err(e) if lease_not_found(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// Revokes a lease (its keys go with it). A lease already gone is fine; a cluster that does
/// not answer within the deadline lets it expire after its TTL.
pub(crate) async fn revoke(pool: &Pool, lease: i64) {
    // A failure leaves nothing to do: the lease expires after its TTL.
    let _ = pool
        .run(Op::REVOKE, pool.cfg.deadline, |m| {
            let mut client = m.lease.clone();
            async move {
                match client.revoke(lease).await {
                    Err(e) if lease_not_found(&e) => Ok(()),
                    other => other.map(|_| ()),
                }
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_a_tenth_of_the_ttl_and_at_most_a_second() {
        assert_eq!(margin(Duration::from_secs(5)), Duration::from_millis(500));
        assert_eq!(margin(Duration::from_secs(60)), Duration::from_secs(1));
        assert_eq!(margin(Duration::from_secs(1)), Duration::from_millis(100));
    }
}

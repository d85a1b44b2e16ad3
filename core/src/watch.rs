//! The watch hub: every watch of a client on one shared etcd watch stream, moved to
//! another member on failure and resumed from the last delivered revision + 1.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{interval, sleep, timeout, Instant, MissedTickBehavior};

use crate::change::{Change, ChangeKind, Delivery};
use crate::endpoints::Endpoint;
use crate::error::{classify, Error, ErrorKind, Failure};
use crate::pool::{round_backoff, Member, Pool};

/// Where a watch's deliveries go: a dispatcher slot or an async stream.
pub(crate) trait Sink: Send + Sync {
    fn deliver(&self, d: Delivery);
}

/// A watch as the hub keeps it.
pub(crate) struct Entry {
    pub(crate) service: String,
    pub(crate) key: Vec<u8>,
    /// The lowest revision not yet delivered: events below it are duplicates or stale.
    pub(crate) next_rev: i64,
    pub(crate) sink: Arc<dyn Sink>,
}

pub(crate) enum Cmd {
    Add(i64, Entry),
    Remove(i64),
}

/// The handle the client keeps; dropping every handle ends the hub task.
#[derive(Clone)]
pub(crate) struct Hub {
    tx: mpsc::UnboundedSender<Cmd>,
    serving: Serving,
}

/// The member whose stream carries the watches now, if any.
type Serving = Arc<parking_lot::Mutex<Option<Endpoint>>>;

impl Hub {
    pub(crate) fn start(pool: Arc<Pool>) -> Hub {
        let (tx, rx) = mpsc::unbounded_channel();
        let serving = Serving::default();
        tokio::spawn(run(pool, rx, serving.clone()));
        Hub { tx, serving }
    }

    /// The member serving the watch stream now.
    pub(crate) fn serving(&self) -> Option<Endpoint> {
        self.serving.lock().clone()
    }

    pub(crate) fn add(&self, id: i64, entry: Entry) -> bool {
        self.tx.send(Cmd::Add(id, entry)).is_ok()
    }

    /// Never blocks: safe from callbacks and from any thread.
    pub(crate) fn remove(&self, id: i64) {
        let _ = self.tx.send(Cmd::Remove(id));
    }
}

enum Outcome {
    Shutdown,
    Idle,
    /// The stream failed; `served` says whether the member answered on it before.
    Failed {
        reason: String,
        served: bool,
    },
}

type Watches = HashMap<i64, Entry>;

async fn run(pool: Arc<Pool>, mut rx: mpsc::UnboundedReceiver<Cmd>, serving: Serving) {
    let mut watches: Watches = HashMap::new();
    let mut backoff = round_backoff();
    let mut failed_in_row = 0usize;
    let members = pool.order().len();
    loop {
        while watches.is_empty() {
            match rx.recv().await {
                Some(cmd) => apply(&mut watches, cmd),
                None => return,
            }
        }
        let member = pool.order().swap_remove(0);
        let outcome = serve(&pool, &member, &mut watches, &mut rx, &serving).await;
        *serving.lock() = None;
        match outcome {
            Outcome::Shutdown => return,
            Outcome::Idle => {}
            Outcome::Failed { reason, served } => {
                pool.mark_failed(&member, &reason);
                if served {
                    failed_in_row = 0;
                    backoff = round_backoff();
                }
                failed_in_row += 1;
                // The first failures move straight to the next member; once every member
                // failed in a row, tell the consumers and back off, still retrying.
                if failed_in_row >= members {
                    let err = Error::new(
                        ErrorKind::Unavailable,
                        format!("watch: no member serves the watch stream (last: {}: {reason}); retrying", member.endpoint),
                    );
                    for e in watches.values() {
                        e.sink.deliver(Delivery::Error(err.clone()));
                    }
                    failed_in_row = 0;
                    let pause = backoff.next().unwrap_or(Duration::from_millis(500));
                    if !idle_for(pause, &mut watches, &mut rx).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Applies commands for `pause`; false when the client is gone.
async fn idle_for(
    pause: Duration,
    watches: &mut Watches,
    rx: &mut mpsc::UnboundedReceiver<Cmd>,
) -> bool {
    let end = Instant::now() + pause;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => apply(watches, cmd),
                None => return false,
            },
            _ = tokio::time::sleep_until(end) => return true,
        }
    }
}

fn apply(watches: &mut Watches, cmd: Cmd) {
    match cmd {
        Cmd::Add(id, e) => {
            watches.insert(id, e);
        }
        Cmd::Remove(id) => {
            watches.remove(&id);
        }
    }
}

/// Ids of watches on etcd streams, never reused: etcd keeps a compacted watch's id
/// taken on its stream, so a re-created watch needs a new one.
static STREAM_IDS: AtomicI64 = AtomicI64::new(1);

/// The create request of watch `id`, under a fresh stream id recorded in `by_stream`.
fn create_request(
    id: i64,
    e: &Entry,
    by_stream: &mut HashMap<i64, i64>,
) -> etcd_client::WatchOptions {
    let sid = STREAM_IDS.fetch_add(1, AtomicOrdering::Relaxed);
    by_stream.retain(|_, v| *v != id);
    by_stream.insert(sid, id);
    etcd_client::WatchOptions::new()
        .with_watch_id(sid)
        .with_start_revision(e.next_rev)
}

fn stream_id_of(id: i64, by_stream: &HashMap<i64, i64>) -> Option<i64> {
    by_stream.iter().find(|(_, v)| **v == id).map(|(k, _)| *k)
}

/// A compacted watch's fresh read: (id, value, revision of the value or read).
type ResetResult = (i64, crate::Result<(Option<Vec<u8>>, i64, i64)>);

async fn serve(
    pool: &Arc<Pool>,
    member: &Arc<Member>,
    watches: &mut Watches,
    rx: &mut mpsc::UnboundedReceiver<Cmd>,
    serving: &Serving,
) -> Outcome {
    let cfg = &pool.cfg;
    let failed = |reason: String, served: bool| Outcome::Failed { reason, served };
    let mut ids: Vec<i64> = watches.keys().copied().collect();
    ids.sort_unstable();
    let first = ids[0];
    let mut client = member.watch.clone();
    let mut by_stream: HashMap<i64, i64> = HashMap::new();
    let open_limit = cfg.watch_check_timeout.max(cfg.connect_timeout);
    let stream = match timeout(
        open_limit,
        client.watch(
            watches[&first].key.clone(),
            Some(create_request(first, &watches[&first], &mut by_stream)),
        ),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failed(reason_of(&e), false),
        Err(_) => {
            return failed(
                format!("no answer opening a watch stream within {open_limit:?}"),
                false,
            )
        }
    };
    let (mut sender, mut responses) = stream.split();
    *serving.lock() = Some(member.endpoint.clone());
    for id in &ids[1..] {
        let e = &watches[id];
        if let Err(e) = sender
            .watch(e.key.clone(), Some(create_request(*id, e, &mut by_stream)))
            .await
        {
            return failed(reason_of(&e), false);
        }
    }

    let mut served = false;
    let mut last_heard = Instant::now();
    let mut tick = interval(cfg.watch_check_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ticks = 0u64;
    let (reset_tx, mut reset_rx) = mpsc::unbounded_channel::<ResetResult>();
    let (leader_tx, mut leader_rx) = mpsc::unbounded_channel::<bool>();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => return Outcome::Shutdown,
                Some(Cmd::Add(id, e)) => {
                    let req = create_request(id, &e, &mut by_stream);
                    let key = e.key.clone();
                    watches.insert(id, e);
                    if let Err(e) = sender.watch(key, Some(req)).await {
                        return failed(reason_of(&e), served);
                    }
                }
                Some(Cmd::Remove(id)) => {
                    if let (Some(_), Some(sid)) = (watches.remove(&id), stream_id_of(id, &by_stream)) {
                        by_stream.remove(&sid);
                        let _ = sender.cancel(sid).await;
                    }
                    if watches.is_empty() {
                        return Outcome::Idle;
                    }
                }
            },
            msg = responses.message() => match msg {
                Ok(Some(resp)) => {
                    last_heard = Instant::now();
                    served = true;
                    on_response(pool, watches, &by_stream, resp, &reset_tx);
                }
                Ok(None) => return failed("the member ended the watch stream".into(), served),
                Err(e) => return failed(reason_of(&e), served),
            },
            _ = tick.tick() => {
                let silent = last_heard.elapsed();
                if silent > cfg.watch_check_timeout {
                    return failed(format!("watch stream silent for {silent:.0?}"), served);
                }
                // A progress request makes a live member answer even when nothing changes.
                if let Err(e) = sender.request_progress().await {
                    return failed(reason_of(&e), served);
                }
                ticks += 1;
                if ticks % 5 == 0 {
                    check_leader(member.clone(), leader_tx.clone());
                }
            }
            Some(has_leader) = leader_rx.recv() => {
                if !has_leader {
                    return failed("the member has no leader".into(), served);
                }
            }
            Some((id, res)) = reset_rx.recv() => {
                if let Some(e) = watches.get_mut(&id) {
                    match res {
                        Ok((value, revision, read_rev)) => {
                            e.next_rev = read_rev + 1;
                            e.sink.deliver(Delivery::Change(Change {
                                service: e.service.clone(),
                                value,
                                revision,
                                kind: ChangeKind::Reset,
                                skipped: 0,
                            }));
                        }
                        Err(err) => e.sink.deliver(Delivery::Error(err)),
                    }
                    let req = create_request(id, e, &mut by_stream);
                    if let Err(err) = sender.watch(e.key.clone(), Some(req)).await {
                        return failed(reason_of(&err), served);
                    }
                }
            }
        }
    }
}

/// The client-side half of require-leader: a member cut off from the others keeps a
/// watch open but gets no new events; its status then names no leader.
fn check_leader(member: Arc<Member>, tx: mpsc::UnboundedSender<bool>) {
    tokio::spawn(async move {
        let mut m = member.maintenance.clone();
        if let Ok(Ok(status)) = timeout(Duration::from_secs(1), m.status()).await {
            let _ = tx.send(status.leader() != 0);
        }
    });
}

/// Delivers one response's events, or starts the recovery of a cancelled watch.
fn on_response(
    pool: &Arc<Pool>,
    watches: &mut Watches,
    by_stream: &HashMap<i64, i64>,
    resp: etcd_client::WatchResponse,
    resets: &mpsc::UnboundedSender<ResetResult>,
) {
    let Some(&id) = by_stream.get(&resp.watch_id()) else {
        return;
    };
    let Some(entry) = watches.get_mut(&id) else {
        return;
    };
    if resp.canceled() {
        if resp.compact_revision() > 0 {
            spawn_reset(pool.clone(), id, entry, Duration::ZERO, resets.clone());
        } else {
            // Not asked for by us (e.g. permission lost): say so, and try again shortly.
            let reason = resp.cancel_reason();
            let kind = if reason.contains("permission") {
                ErrorKind::PermissionDenied
            } else {
                ErrorKind::Unavailable
            };
            entry.sink.deliver(Delivery::Error(Error::new(
                kind,
                format!(
                    "watch of {:?} was cancelled by etcd: {reason}; retrying",
                    entry.service
                ),
            )));
            spawn_reset(
                pool.clone(),
                id,
                entry,
                Duration::from_secs(1),
                resets.clone(),
            );
        }
        return;
    }
    for ev in resp.events() {
        let Some(kv) = ev.kv() else { continue };
        let rev = kv.mod_revision();
        // The revision filter: after a resume, members may repeat or lag.
        if rev < entry.next_rev {
            continue;
        }
        entry.next_rev = rev + 1;
        let (kind, value) = match ev.event_type() {
            etcd_client::EventType::Put => (ChangeKind::Put, Some(kv.value().to_vec())),
            etcd_client::EventType::Delete => (ChangeKind::Delete, None),
        };
        entry.sink.deliver(Delivery::Change(Change {
            service: entry.service.clone(),
            value,
            revision: rev,
            kind,
            skipped: 0,
        }));
    }
}

/// Re-reads a watch's key after its history was compacted (or it was cancelled).
fn spawn_reset(
    pool: Arc<Pool>,
    id: i64,
    entry: &Entry,
    delay: Duration,
    tx: mpsc::UnboundedSender<ResetResult>,
) {
    let key = entry.key.clone();
    tokio::spawn(async move {
        sleep(delay).await;
        let deadline = pool.cfg.deadline;
        let res =
            crate::client::read(&pool, &key, deadline, crate::Consistency::Linearizable).await;
        let res = res.map(|(kv, read_rev)| match kv {
            Some((value, mod_rev)) => (Some(value), mod_rev, read_rev),
            None => (None, read_rev, read_rev),
        });
        let _ = tx.send((id, res));
    });
}

fn reason_of(e: &etcd_client::Error) -> String {
    match classify(e) {
        Failure::Connection(r) | Failure::Retryable(r) => r,
        Failure::Final(e) => e.to_string(),
    }
}

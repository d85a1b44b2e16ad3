//! The watch hub: every watch of a client on one shared etcd watch stream, moved to
//! another member on failure and resumed from the last delivered revision + 1.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{WatchRequestSender, WatchResponse, WatchResponseStream};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{
    interval, interval_at, sleep, sleep_until, timeout, Instant, MissedTickBehavior,
};

use crate::change::{Change, ChangeKind};
use crate::config::Consistency;
use crate::delivery::{Delivery, KeyValue, Sink};
use crate::endpoints::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::failure::{about_permission, is_too_large, permission_denied, reason_of};
use crate::latency::Latency;
use crate::member::Member;
use crate::pool::{backoff, Pool};
use crate::retry::Op;

/// A watch as the hub keeps it.
pub(crate) struct Entry {
    pub(crate) service: String,
    pub(crate) key: Vec<u8>,
    /// A prefix watch of the keys from `key` up to this one (an instances watch); `None`
    /// watches `key` alone.
    pub(crate) range_end: Option<Vec<u8>>,
    /// The lowest revision not yet delivered: events below it are duplicates or stale.
    pub(crate) next_rev: i64,
    pub(crate) sink: Arc<dyn Sink>,
    /// Resuming from `next_rev` cannot work: read the key anew (a reset) before the next
    /// stream creates the watch.
    pub(crate) resync: bool,
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
        let pauses = Box::new(backoff(pool.cfg.retry_backoff));
        let task = HubTask {
            pool,
            rx,
            serving: serving.clone(),
            watches: HashMap::new(),
            pauses,
            failed_in_row: Vec::new(),
            cluster_id: None,
            reauth_at: None,
            moved: false,
        };
        tokio::spawn(task.run());
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

    /// What removes watch `id` later, without holding the hub (or its client).
    pub(crate) fn remover(&self, id: i64) -> impl FnOnce() + Send + 'static {
        let tx = self.tx.clone();
        move || {
            let _ = tx.send(Cmd::Remove(id));
        }
    }
}

/// How a stream ended.
enum Outcome {
    Shutdown,
    Idle,
    /// The stream's auth token may have expired: a new stream, with a fresh token.
    Renew,
    /// The revisions the watches resume from are no longer the cluster's (it was
    /// replaced or restored): every watch is read anew before the next stream.
    Resync(String),
    /// The stream failed; `served` says whether the member answered on it before.
    Failed {
        reason: String,
        served: bool,
    },
}

type Watches = HashMap<i64, Entry>;

/// The hub's task: the watches, and what it knows between streams.
struct HubTask {
    pool: Arc<Pool>,
    rx: mpsc::UnboundedReceiver<Cmd>,
    serving: Serving,
    watches: Watches,
    pauses: Box<dyn Iterator<Item = Duration> + Send>,
    /// The members whose streams failed in a row, since the last one that had served
    /// (`next_member` says how the next is chosen from them).
    failed_in_row: Vec<Arc<Member>>,
    /// The id of the cluster the watches' revisions belong to, once a stream said it.
    cluster_id: Option<u64>,
    /// When a denied watch last made the hub renew its auth token.
    reauth_at: Option<Instant>,
    /// The last stream failed: the next one resumes the watches.
    moved: bool,
}

impl HubTask {
    /// Serves the watches on one member after another until the client is gone.
    async fn run(mut self) {
        while self.wait_for_watches().await {
            self.resync_flagged().await;
            let Some(member) = self.next_member().await else {
                return;
            };
            let outcome = Session::serve(&mut self, &member).await;
            *self.serving.lock() = None;
            match outcome {
                Outcome::Shutdown => return,
                Outcome::Idle | Outcome::Renew => {}
                Outcome::Resync(reason) => self.flag_all(&reason),
                Outcome::Failed { reason, served } => {
                    self.pool.metrics.watch_moved();
                    self.moved = true;
                    if is_too_large(&reason) {
                        self.flag_all(&format!(
                            "the member's catch-up could not be read ({reason})"
                        ));
                    }
                    if !self.after_failure(&member, &reason, served).await {
                        return;
                    }
                }
            }
        }
    }

    /// The member for the next stream: a healthy one that has not failed in this row.
    /// When there is none, the pause of a probe first, then a healthy one (tried in this
    /// row or not: a member out for an election, or for an answer late on a busy machine,
    /// is back once its probe answers), and only then one still unhealthy: a hung member
    /// costs the open limit, and when it was the leader, the others fail in this row
    /// until they elect another (found so under load). `None` when the client is gone.
    async fn next_member(&mut self) -> Option<Arc<Member>> {
        if let Some(m) = self.pick(true, true) {
            return Some(m);
        }
        if !self.idle_for(self.pool.cfg.probe_backoff.0 * 2).await {
            return None;
        }
        let any = || self.pool.order().swap_remove(0);
        let m = (self.pick(true, true))
            .or_else(|| self.pick(true, false))
            .or_else(|| self.pick(false, true));
        Some(m.unwrap_or_else(any))
    }

    /// The first member in the pool's order that is healthy (when `healthy`) and has not
    /// failed in this row (when `untried`).
    fn pick(&self, healthy: bool, untried: bool) -> Option<Arc<Member>> {
        let tried = |m: &Arc<Member>| self.failed_in_row.iter().any(|f| Arc::ptr_eq(f, m));
        let mut order = self.pool.order();
        let at =
            (order.iter()).position(|m| (m.is_healthy() || !healthy) && !(untried && tried(m)));
        at.map(|i| order.swap_remove(i))
    }

    /// Applies commands while there is nothing to watch; false when the client is gone.
    async fn wait_for_watches(&mut self) -> bool {
        while self.watches.is_empty() {
            match self.rx.recv().await {
                Some(cmd) => self.apply(cmd),
                None => return false,
            }
        }
        true
    }

    /// Marks every watch for a fresh read, and tells it why.
    fn flag_all(&mut self, why: &str) {
        let err = Error::new(
            ErrorKind::Unavailable,
            format!("watch: {why}; reading the current value anew (delivered as a reset)"),
        );
        for e in self.watches.values_mut() {
            e.resync = true;
            e.sink.deliver(Delivery::Error(err.clone()));
        }
    }

    /// Reads every flagged watch's key anew and delivers it as a reset; the watch then
    /// resumes from that read. A read that fails leaves the flag for the next round.
    async fn resync_flagged(&mut self) {
        let flagged: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = (self.watches.iter())
            .filter(|(_, e)| e.resync)
            .map(|(id, e)| (*id, e.key.clone(), e.range_end.clone()))
            .collect();
        let pool = &self.pool;
        let mut reads: FuturesUnordered<_> = (flagged.into_iter())
            .map(|(id, key, end)| async move { (id, fresh_read(pool, &key, end.as_deref()).await) })
            .collect();
        let mut done = Vec::new();
        while let Some(r) = reads.next().await {
            done.push(r);
        }
        drop(reads);
        for (id, read) in done {
            let Some(e) = self.watches.get_mut(&id) else {
                continue;
            };
            match read {
                Ok(read) => {
                    e.resync = false;
                    self.pool.metrics.watch_reset();
                    deliver_reset(e, read);
                }
                Err(err) => e.sink.deliver(Delivery::Error(err)),
            }
        }
    }

    /// Books a failed stream. The first failures move straight to the next member; once
    /// every member failed in a row, the consumers are told and the hub backs off, still
    /// retrying. False when the client is gone.
    async fn after_failure(&mut self, member: &Arc<Member>, reason: &str, served: bool) -> bool {
        self.pool.mark_failed(member, reason);
        if served {
            self.failed_in_row.clear();
            self.pauses = Box::new(backoff(self.pool.cfg.retry_backoff));
        }
        self.failed_in_row.push(member.clone());
        if self.failed_in_row.len() < self.pool.member_count() {
            return true;
        }
        let err = Error::new(
            ErrorKind::Unavailable,
            format!(
                "watch: no member serves the watch stream (last: {}: {reason}); retrying",
                member.endpoint
            ),
        );
        for e in self.watches.values() {
            e.sink.deliver(Delivery::Error(err.clone()));
        }
        self.failed_in_row.clear();
        let pause = self.pauses.next().unwrap_or(self.pool.cfg.retry_backoff.1);
        self.idle_for(pause).await
    }

    /// Applies commands for `pause`; false when the client is gone.
    async fn idle_for(&mut self, pause: Duration) -> bool {
        let end = Instant::now() + pause;
        loop {
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.apply(cmd),
                    None => return false,
                },
                _ = tokio::time::sleep_until(end) => return true,
            }
        }
    }

    fn apply(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Add(id, e) => {
                self.watches.insert(id, e);
            }
            Cmd::Remove(id) => {
                self.watches.remove(&id);
            }
        }
        self.pool.metrics.watches(self.watches.len());
    }
}

/// Ids of watches on etcd streams, never reused: etcd keeps a compacted watch's id
/// taken on its stream, so a re-created watch needs a new one.
static STREAM_IDS: AtomicI64 = AtomicI64::new(1);

/// A fresh read of a watch's key or range, and the read's revision.
struct Read {
    kvs: Vec<KeyValue>,
    revision: i64,
}

/// Why a watch's key is read anew during a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFor {
    /// Its history is gone (compacted) or etcd cancelled it: deliver a reset.
    Reset,
    /// The member's revision is below what the watch delivered: reset only if the
    /// cluster's is too (a replaced or restored cluster), not if the member lags.
    Verify,
}

/// A fresh read, for watch `id`.
type ReadResult = (i64, ReadFor, Result<Read>);

/// What ends a session step: `Err` carries how the stream ended.
type Step = std::result::Result<(), Outcome>;

/// A request waiting to go out on the stream.
enum Out {
    /// The key, the request, and its stream id.
    Create(Vec<u8>, etcd_client::WatchOptions, i64),
    Cancel(i64),
    Progress,
}

/// Sends one request. Cancel-safe: a send given up by `select!` is made again from the
/// same entry of the outbox.
async fn send(
    sender: &mut WatchRequestSender,
    out: &Out,
) -> std::result::Result<(), etcd_client::Error> {
    match out {
        Out::Create(key, opts, _) => sender.watch(key.clone(), Some(opts.clone())).await,
        Out::Cancel(sid) => sender.cancel(*sid).await,
        Out::Progress => sender.request_progress().await,
    }
}

/// One watch stream on one member, carrying every watch of the hub.
///
/// Every request goes out from one branch of the session's loop, so a member slow to take
/// them (thousands of watches re-created after a move, or a hung member) never stops the
/// loop from reading responses and checking the stream's life.
struct Session<'h> {
    hub: &'h mut HubTask,
    member: Arc<Member>,
    sender: WatchRequestSender,
    outbox: VecDeque<Out>,
    /// Create requests sent that etcd has not answered yet (by stream id), and when.
    unanswered: HashMap<i64, Instant>,
    /// When etcd last answered a create or cancel request.
    last_answer: Instant,
    ids: StreamIds,
    /// The member answered on this stream.
    served: bool,
    last_heard: Instant,
    /// When the oldest progress request not yet followed by any message went out.
    progress_sent: Option<Instant>,
    /// How long the member took to answer progress requests lately.
    progress_rtt: Latency,
    resets: mpsc::UnboundedSender<ReadResult>,
    leader: mpsc::UnboundedSender<bool>,
}

impl<'h> Session<'h> {
    /// Opens a stream on `member`, creates every watch on it and serves them until the
    /// stream fails, the watches are gone or the client is.
    async fn serve(hub: &'h mut HubTask, member: &Arc<Member>) -> Outcome {
        let mut ids: Vec<i64> = hub.watches.keys().copied().collect();
        ids.sort_unstable();
        let mut stream_ids = StreamIds::default();
        let (first, _, first_sid) = stream_ids.create_request(ids[0], &hub.watches[&ids[0]]);
        let cfg = &hub.pool.cfg;
        let open_limit = cfg.answer_limit();
        let mut client = member.watch.clone();
        let key = hub.watches[&ids[0]].key.clone();
        let open = async {
            hub.pool.ensure_token(member).await?;
            client.watch(key, Some(first)).await
        };
        let stream = match timeout(open_limit, open).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return failed(reason_of(&e), false),
            Err(_) => {
                let reason = format!("no answer opening a watch stream within {open_limit:?}");
                return failed(reason, false);
            }
        };
        let (sender, responses) = stream.split();
        *hub.serving.lock() = Some(member.endpoint.clone());
        if std::mem::take(&mut hub.moved) {
            hub.pool.metrics.watches_resumed(ids.len());
        }
        let (resets, reset_rx) = mpsc::unbounded_channel();
        let (leader, leader_rx) = mpsc::unbounded_channel();
        let mut session = Session {
            hub,
            member: member.clone(),
            sender,
            outbox: VecDeque::new(),
            unanswered: HashMap::from([(first_sid, Instant::now())]),
            last_answer: Instant::now(),
            ids: stream_ids,
            served: false,
            last_heard: Instant::now(),
            progress_sent: None,
            progress_rtt: Latency::default(),
            resets,
            leader,
        };
        ids[1..].iter().for_each(|id| session.create(*id));
        session.run(responses, reset_rx, leader_rx).await
    }

    /// Reacts to whatever comes first until the stream ends.
    async fn run(
        mut self,
        mut responses: WatchResponseStream,
        mut reset_rx: mpsc::UnboundedReceiver<ReadResult>,
        mut leader_rx: mpsc::UnboundedReceiver<bool>,
    ) -> Outcome {
        let cfg = self.hub.pool.cfg.clone();
        let mut progress = interval(cfg.watch_check_interval);
        progress.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let every = cfg.leader_check_interval;
        let mut leader_check = interval_at(Instant::now() + every, every);
        leader_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let next = self.outbox.front();
            let silence = self.silence_limit();
            let too_late = self.progress_sent.map(|t| t + silence);
            let step = tokio::select! {
                sent = send(&mut self.sender, next.unwrap_or(&Out::Progress)), if next.is_some() => {
                    self.on_sent(sent)
                }
                cmd = self.hub.rx.recv() => self.on_command(cmd),
                msg = responses.message() => self.on_message(msg),
                _ = sleep_until(too_late.unwrap_or_else(Instant::now)), if too_late.is_some() => {
                    Err(self.failed(format!("no answer to a progress request within {silence:.0?}")))
                }
                _ = progress.tick() => self.check_progress(),
                _ = leader_check.tick() => {
                    self.check_leader();
                    Ok(())
                }
                Some(has_leader) = leader_rx.recv() => self.on_leader(has_leader),
                Some((id, why, read)) = reset_rx.recv() => self.on_read(id, why, read),
            };
            if let Err(outcome) = step {
                return outcome;
            }
        }
    }

    fn failed(&self, reason: String) -> Outcome {
        failed(reason, self.served)
    }

    /// How long a progress request may go without any message before the stream is
    /// moved: twice the member's recent 95th percentile answer, at least the check
    /// interval (a margin for a busy machine), at most the check timeout.
    fn silence_limit(&self) -> Duration {
        let cfg = &self.hub.pool.cfg;
        (self.progress_rtt).patience(cfg.watch_check_interval, cfg.watch_check_timeout)
    }

    /// A request went out: the next one may follow.
    fn on_sent(&mut self, sent: std::result::Result<(), etcd_client::Error>) -> Step {
        match sent {
            Ok(()) => {
                match self.outbox.pop_front() {
                    Some(Out::Create(_, _, sid)) => {
                        self.unanswered.insert(sid, Instant::now());
                    }
                    Some(Out::Progress) => {
                        self.progress_sent.get_or_insert_with(Instant::now);
                    }
                    _ => {}
                }
                Ok(())
            }
            Err(e) => Err(self.failed(reason_of(&e))),
        }
    }

    /// Queues the create request of watch `id` (from its next revision, under a fresh
    /// stream id), and the cancel of the one it replaces, which may still be live on etcd.
    fn create(&mut self, id: i64) {
        let Some(e) = self.hub.watches.get(&id) else {
            return;
        };
        let (req, old, sid) = self.ids.create_request(id, e);
        self.outbox.push_back(Out::Create(e.key.clone(), req, sid));
        if let Some(old) = old {
            self.outbox.push_back(Out::Cancel(old));
        }
    }

    fn on_command(&mut self, cmd: Option<Cmd>) -> Step {
        match cmd {
            None => Err(Outcome::Shutdown),
            Some(Cmd::Add(id, e)) => {
                self.hub.apply(Cmd::Add(id, e));
                self.create(id);
                Ok(())
            }
            Some(Cmd::Remove(id)) => {
                self.hub.apply(Cmd::Remove(id));
                if let Some(sid) = self.ids.forget(id) {
                    self.outbox.push_back(Out::Cancel(sid));
                }
                if self.hub.watches.is_empty() {
                    return Err(Outcome::Idle);
                }
                Ok(())
            }
        }
    }

    fn on_message(
        &mut self,
        msg: std::result::Result<Option<WatchResponse>, etcd_client::Error>,
    ) -> Step {
        match msg {
            Ok(Some(resp)) => {
                self.last_heard = Instant::now();
                // Any message shows the member alive, a progress answer or not.
                if let Some(sent) = self.progress_sent.take() {
                    self.progress_rtt.record(sent.elapsed());
                }
                self.served = true;
                self.check_cluster(&resp)?;
                self.on_response(resp)
            }
            Ok(None) => Err(self.failed("the member ended the watch stream".into())),
            Err(e) => Err(self.failed(reason_of(&e))),
        }
    }

    /// Moves a stream that stayed silent too long; else asks for progress, which a live
    /// member answers even when nothing changes.
    fn check_progress(&mut self) -> Step {
        let limit = self.hub.pool.cfg.watch_check_timeout;
        let silent = self.last_heard.elapsed();
        if silent > limit {
            return Err(self.failed(format!("watch stream silent for {silent:.0?}")));
        }
        // etcd 3.4 drops a create request silently when the stream's auth token expired:
        // a create long unanswered on a live stream that answers no create at all gets a
        // new stream (and a fresh token). A busy etcd still answers others meanwhile.
        let overdue = |t: &Instant| t.elapsed() > limit * 5;
        if overdue(&self.last_answer) && self.unanswered.values().any(overdue) {
            self.unanswered.clear();
            if self.renew_token() {
                return Err(Outcome::Renew);
            }
            return Err(self.failed("etcd did not answer a watch's create request".into()));
        }
        if !self.outbox.iter().any(|o| matches!(o, Out::Progress)) {
            self.outbox.push_back(Out::Progress);
        }
        Ok(())
    }

    /// With auth on, drops the token so the next stream gets a fresh one; true when it
    /// did (once in 10 s at most: a real denial is then reported).
    fn renew_token(&mut self) -> bool {
        let recently = (self.hub.reauth_at).is_some_and(|t| t.elapsed() < Duration::from_secs(10));
        if !self.hub.pool.has_auth() || recently {
            return false;
        }
        self.hub.reauth_at = Some(Instant::now());
        self.hub.pool.forget_token();
        true
    }

    /// The client-side half of require-leader: a member cut off from the others keeps a
    /// watch open but gets no new events; its status then names no leader.
    fn check_leader(&self) {
        let m = self.member.clone();
        let (tx, limit) = (self.leader.clone(), self.hub.pool.cfg.watch_check_timeout);
        tokio::spawn(async move {
            if let Ok(status) = m.status_within(limit).await {
                let _ = tx.send(status.leader() != 0);
            }
        });
    }

    fn on_leader(&self, has_leader: bool) -> Step {
        match has_leader {
            true => Ok(()),
            false => Err(self.failed("the member has no leader".into())),
        }
    }

    /// Ends the stream when the cluster is another than the watches' revisions belong to.
    fn check_cluster(&mut self, resp: &WatchResponse) -> Step {
        let Some(id) = resp.header().map(|h| h.cluster_id()).filter(|id| *id != 0) else {
            return Ok(());
        };
        match self.hub.cluster_id.replace(id) {
            Some(known) if known != id => Err(Outcome::Resync(format!(
                "the cluster changed (id {known:x} is now {id:x})"
            ))),
            _ => Ok(()),
        }
    }

    /// A watch just created on a member whose revision is below what the watch already
    /// delivered: etcd would wait silently for that revision. Ask the cluster.
    fn check_created(&self, id: i64, resp: &WatchResponse) {
        let member_rev = resp.header().map_or(0, |h| h.revision());
        let entry = &self.hub.watches[&id];
        if member_rev > 0 && member_rev + 1 < entry.next_rev {
            let pool = self.hub.pool.clone();
            spawn_read(
                pool,
                id,
                entry,
                ReadFor::Verify,
                Duration::ZERO,
                self.resets.clone(),
            );
        }
    }

    /// Delivers one response's events, or starts the recovery of a cancelled watch.
    fn on_response(&mut self, resp: WatchResponse) -> Step {
        let sid = self.answered_id(&resp);
        if resp.created() || resp.canceled() {
            self.unanswered.remove(&sid);
            self.last_answer = Instant::now();
        }
        let Some(id) = self.ids.watch_of(sid) else {
            return Ok(());
        };
        if !self.hub.watches.contains_key(&id) {
            return Ok(());
        }
        if resp.canceled() {
            return self.on_cancelled(id, &resp);
        } else if resp.created() {
            self.check_created(id, &resp);
        } else if let Some(entry) = self.hub.watches.get_mut(&id) {
            deliver_events(entry, &resp);
        }
        Ok(())
    }

    /// The stream id a response is for. etcd 3.4 answers a create it refuses (permission
    /// denied) with id -1 instead of the id asked for; it answers creates in order, so that
    /// is the oldest create still unanswered (3.5 gives the id).
    fn answered_id(&self, resp: &WatchResponse) -> i64 {
        match (resp.watch_id(), resp.created() && resp.canceled()) {
            (-1, true) => self.unanswered.keys().min().copied().unwrap_or(-1),
            (sid, _) => sid,
        }
    }

    /// etcd ended watch `id`: compacted history is read anew at once; any other reason
    /// (e.g. a permission lost) is reported and retried after `watch_retry_delay`.
    fn on_cancelled(&mut self, id: i64, resp: &WatchResponse) -> Step {
        let pool = self.hub.pool.clone();
        if resp.compact_revision() > 0 {
            spawn_read(
                pool,
                id,
                &self.hub.watches[&id],
                ReadFor::Reset,
                Duration::ZERO,
                self.resets.clone(),
            );
            return Ok(());
        }
        let reason = resp.cancel_reason();
        // With auth on, a denied watch may only mean the stream's token expired: a new
        // stream gets a fresh one (once in a while: a real denial is then reported).
        if permission_denied(reason) && self.renew_token() {
            return Err(Outcome::Renew);
        }
        let entry = &self.hub.watches[&id];
        let kind = if about_permission(reason) {
            ErrorKind::PermissionDenied
        } else {
            ErrorKind::Unavailable
        };
        let message = format!(
            "watch of {:?} was cancelled by etcd: {reason}; retrying",
            entry.service
        );
        entry
            .sink
            .deliver(Delivery::Error(Error::new(kind, message)));
        let delay = pool.cfg.watch_retry_delay;
        spawn_read(pool, id, entry, ReadFor::Reset, delay, self.resets.clone());
        Ok(())
    }

    /// A fresh read arrived: delivers it as a reset (or the error of reading) and creates
    /// the watch again from there; a verifying read that finds the cluster where the
    /// watch left it changes nothing.
    fn on_read(&mut self, id: i64, why: ReadFor, read: Result<Read>) -> Step {
        let Some(e) = self.hub.watches.get_mut(&id) else {
            return Ok(());
        };
        match read {
            Ok(read) if why == ReadFor::Verify && read.revision + 1 >= e.next_rev => {
                return Ok(()); // the member lags; etcd delivers once it caught up
            }
            Ok(read) => {
                self.hub.pool.metrics.watch_reset();
                deliver_reset(e, read);
            }
            Err(err) => e.sink.deliver(Delivery::Error(err)),
        }
        self.create(id);
        Ok(())
    }
}

fn failed(reason: String, served: bool) -> Outcome {
    Outcome::Failed { reason, served }
}

/// Which etcd watch id on the stream stands for which watch of the hub, both ways.
#[derive(Default)]
struct StreamIds {
    watch_of: HashMap<i64, i64>,
    stream_of: HashMap<i64, i64>,
}

impl StreamIds {
    /// The create request of watch `id` from its next revision, under a fresh stream id;
    /// and the stream id it had before, if any.
    fn create_request(
        &mut self,
        id: i64,
        e: &Entry,
    ) -> (etcd_client::WatchOptions, Option<i64>, i64) {
        let sid = STREAM_IDS.fetch_add(1, AtomicOrdering::Relaxed);
        let old = self.forget(id);
        self.watch_of.insert(sid, id);
        self.stream_of.insert(id, sid);
        let mut req = etcd_client::WatchOptions::new()
            .with_watch_id(sid)
            .with_start_revision(e.next_rev);
        if let Some(end) = &e.range_end {
            req = req.with_range(end.clone());
        }
        (req, old, sid)
    }

    /// The watch a stream id stands for.
    fn watch_of(&self, sid: i64) -> Option<i64> {
        self.watch_of.get(&sid).copied()
    }

    /// Drops watch `id`'s stream id, returning it.
    fn forget(&mut self, id: i64) -> Option<i64> {
        let sid = self.stream_of.remove(&id)?;
        self.watch_of.remove(&sid);
        Some(sid)
    }
}

/// Delivers the events of one response that are new to the watch: one change each for
/// a key's watch, all together for a prefix watch (a transaction's changes come in one
/// response).
fn deliver_events(entry: &mut Entry, resp: &WatchResponse) {
    let all = resp.events().iter().filter_map(|ev| {
        let kv = ev.kv()?;
        let value = match ev.event_type() {
            etcd_client::EventType::Put => Some(kv.value().to_vec()),
            etcd_client::EventType::Delete => None,
        };
        Some(KeyValue {
            key: kv.key().to_vec(),
            created: if value.is_some() {
                kv.create_revision()
            } else {
                0
            },
            value,
            revision: kv.mod_revision(),
        })
    });
    let (events, next_rev) = new_events(entry.next_rev, all);
    entry.next_rev = next_rev;
    if entry.range_end.is_some() {
        if !events.is_empty() {
            entry.sink.deliver(Delivery::Events(events));
        }
        return;
    }
    for KeyValue {
        value, revision, ..
    } in events
    {
        let kind = if value.is_some() {
            ChangeKind::Put
        } else {
            ChangeKind::Delete
        };
        entry.sink.deliver(Delivery::Change(Change {
            service: entry.service.clone(),
            value,
            revision,
            kind,
            skipped: 0,
        }));
    }
}

/// The revision filter: of `events`, those at `next_rev` or later (after a resume, members
/// may repeat what was delivered or lag behind it), and the next revision not delivered.
fn new_events(next_rev: i64, events: impl Iterator<Item = KeyValue>) -> (Vec<KeyValue>, i64) {
    let mut next = next_rev;
    let fresh: Vec<KeyValue> = events
        .filter(|kv| kv.revision >= next_rev)
        .inspect(|kv| next = next.max(kv.revision + 1))
        .collect();
    (fresh, next)
}

/// Reads a watch's key or range anew (linearizable, through the pool).
async fn fresh_read(pool: &Pool, key: &[u8], range_end: Option<&[u8]>) -> Result<Read> {
    let deadline = pool.cfg.deadline;
    let (kvs, revision) = pool
        .read_range(
            Op::RESYNC,
            key,
            range_end,
            deadline,
            Consistency::Linearizable,
        )
        .await?;
    Ok(Read { kvs, revision })
}

/// Delivers a fresh read as a reset; the watch goes on from the read.
fn deliver_reset(e: &mut Entry, read: Read) {
    e.next_rev = read.revision + 1;
    let range = e.range_end.is_some();
    let reset = Delivery::of_read(
        &e.service,
        range,
        read.kvs,
        read.revision,
        ChangeKind::Reset,
    );
    e.sink.deliver(reset);
}

/// Reads a watch's key anew after `delay`, for the session to act on.
fn spawn_read(
    pool: Arc<Pool>,
    id: i64,
    entry: &Entry,
    why: ReadFor,
    delay: Duration,
    tx: mpsc::UnboundedSender<ReadResult>,
) {
    let (key, end) = (entry.key.clone(), entry.range_end.clone());
    tokio::spawn(async move {
        sleep(delay).await;
        let _ = tx.send((id, why, fresh_read(&pool, &key, end.as_deref()).await));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, revision: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(b"v".to_vec()),
            revision,
            created: revision,
        }
    }

    #[test]
    fn the_revision_filter_drops_what_was_delivered_and_moves_on() {
        let events = [kv("a", 4), kv("a", 5), kv("b", 5), kv("a", 7)];
        let (fresh, next) = new_events(5, events.clone().into_iter());
        assert_eq!(fresh, events[1..]);
        assert_eq!(next, 8);
        // A lagging member repeats old events only: nothing new, the same next revision.
        let (fresh, next) = new_events(8, events.into_iter());
        assert!(fresh.is_empty());
        assert_eq!(next, 8);
        assert_eq!(new_events(3, std::iter::empty()), (vec![], 3));
    }

    struct Nowhere;
    impl Sink for Nowhere {
        fn deliver(&self, _: Delivery) {}
    }

    #[test]
    fn stream_ids_are_fresh_per_create_and_map_back_to_their_watch() {
        let entry = Entry {
            service: "cdd".into(),
            key: b"/s/cdd/".to_vec(),
            range_end: Some(b"/s/cdd0".to_vec()),
            next_rev: 42,
            sink: Arc::new(Nowhere),
            resync: false,
        };
        let mut ids = StreamIds::default();
        let (_, old, first) = ids.create_request(7, &entry);
        assert_eq!((old, ids.watch_of(first)), (None, Some(7)));
        // Created again (a resume): a new stream id; the old one no longer maps.
        let (_, old, second) = ids.create_request(7, &entry);
        assert_eq!(old, Some(first));
        assert_ne!(first, second);
        assert_eq!((ids.watch_of(first), ids.watch_of(second)), (None, Some(7)));
        assert_eq!(ids.forget(7), Some(second));
        assert_eq!((ids.watch_of(second), ids.forget(7)), (None, None));
    }
}

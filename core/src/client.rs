//! The async client, for programs that already run tokio.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::change::{value_text, Change, ChangeKind, Delivery, Sink};
use crate::config::{Config, Consistency};
use crate::endpoints::Endpoint;
use crate::error::{Error, Result};
use crate::hub::{Entry, Hub};
use crate::mailbox::Mailbox;
use crate::pool::{MemberHealth, Pool};

/// Per-call options of a lookup.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Overrides the finder's deadline for this call.
    pub deadline: Option<Duration>,
    /// Overrides the finder's read consistency for this call.
    pub consistency: Option<Consistency>,
}

impl ReadOptions {
    /// A call with this deadline.
    pub fn deadline(d: Duration) -> ReadOptions {
        ReadOptions {
            deadline: Some(d),
            consistency: None,
        }
    }
}

/// Options of a new watch.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchOptions {
    /// Deliver the current value first (kind [`ChangeKind::Initial`]); the watch then
    /// continues from exactly that read, so nothing written in between is missed.
    pub initial: bool,
    /// Deadline of the initial read; the finder's default when `None`.
    pub deadline: Option<Duration>,
}

impl WatchOptions {
    /// Options that deliver the current value first.
    pub fn initial() -> WatchOptions {
        WatchOptions {
            initial: true,
            deadline: None,
        }
    }
}

/// An etcd v3 service-discovery client for async code. Cheap to clone; all clones share
/// one connection per member and one watch stream. Background tasks run on the tokio
/// runtime that created it and end when the last clone is dropped.
///
/// ```no_run
/// # async fn demo() -> turtle_finder::Result<()> {
/// let client = turtle_finder::Client::connect(turtle_finder::Config::from_env()?).await?;
/// println!("{:?}", client.get_service("cdd").await?);
/// let mut watch = client.watch_service("cdd", turtle_finder::WatchOptions::initial()).await?;
/// while let Some(change) = watch.next().await {
///     println!("{:?}", change?.value_str()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Arc<Pool>,
    hub: Hub,
    next_id: AtomicI64,
}

impl Client {
    /// Sets up the pool. Connections open lazily, so this succeeds with every member down;
    /// calls then fail with `Unavailable` until one answers. Must run inside a tokio runtime.
    /// Unusable settings are an `InvalidArgument` error (see [`Config::check`]).
    pub async fn connect(config: Config) -> Result<Client> {
        config.check()?;
        let pool = Arc::new(Pool::new(Arc::new(config)).await?);
        let hub = Hub::start(pool.clone());
        Ok(Client {
            inner: Arc::new(Inner {
                pool,
                hub,
                next_id: AtomicI64::new(1),
            }),
        })
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &Config {
        &self.inner.pool.cfg
    }

    /// The value of service `name` (the key `<prefix><name>`), `None` when absent.
    pub async fn get_service(&self, name: &str) -> Result<Option<String>> {
        self.get_service_with(name, ReadOptions::default()).await
    }

    /// [`Client::get_service`] with a deadline or consistency for this call.
    pub async fn get_service_with(&self, name: &str, opts: ReadOptions) -> Result<Option<String>> {
        match self.get_service_bytes(name, opts).await? {
            None => Ok(None),
            Some(v) => value_text(name, v).map(Some),
        }
    }

    /// The raw bytes of service `name`, for values that are not UTF-8.
    pub async fn get_service_bytes(
        &self,
        name: &str,
        opts: ReadOptions,
    ) -> Result<Option<Vec<u8>>> {
        let key = self.config().service_key(name)?;
        let pool = &self.inner.pool;
        let deadline = pool.cfg.call_deadline(opts.deadline)?;
        let consistency = opts.consistency.unwrap_or(pool.cfg.consistency);
        let (kv, _) = pool.read(key.as_bytes(), deadline, consistency).await?;
        Ok(kv.map(|(v, _)| v))
    }

    /// Watches service `name`; changes arrive through the returned stream.
    pub async fn watch_service(&self, name: &str, opts: WatchOptions) -> Result<WatchStream> {
        let sink = Arc::new(StreamSink {
            mailbox: Mailbox::new(self.config().max_queued_changes),
            notify: Notify::new(),
        });
        let id = self.start_watch(name, opts, sink.clone()).await?;
        Ok(WatchStream {
            id,
            sink,
            client: self.clone(),
        })
    }

    /// Reads the snapshot, delivers it if asked, and registers the watch from the
    /// snapshot's revision + 1.
    pub(crate) async fn start_watch(
        &self,
        name: &str,
        opts: WatchOptions,
        sink: Arc<dyn Sink>,
    ) -> Result<i64> {
        let key = self.config().service_key(name)?;
        let pool = &self.inner.pool;
        let deadline = pool.cfg.call_deadline(opts.deadline)?;
        let (kv, read_rev) = pool
            .read(key.as_bytes(), deadline, Consistency::Linearizable)
            .await?;
        if opts.initial {
            let (value, revision) = match kv {
                Some((v, r)) => (Some(v), r),
                None => (None, read_rev),
            };
            sink.deliver(Delivery::Change(Change {
                service: name.to_string(),
                value,
                revision,
                kind: ChangeKind::Initial,
                skipped: 0,
            }));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            service: name.to_string(),
            key: key.into_bytes(),
            next_rev: read_rev + 1,
            sink,
            resync: false,
        };
        if !self.inner.hub.add(id, entry) {
            return Err(Error::closed());
        }
        Ok(id)
    }

    /// Stops delivering to watch `id`; never blocks.
    pub(crate) fn stop_watch(&self, id: i64) {
        self.inner.hub.remove(id);
    }

    /// The member requests go to first (the one serving lookups while it answers).
    pub fn preferred_member(&self) -> Endpoint {
        self.inner.pool.preferred().clone()
    }

    /// Each member's health as the pool sees it.
    pub fn member_health(&self) -> Vec<MemberHealth> {
        self.inner.pool.health()
    }

    /// The member whose watch stream carries this client's watches now (`None` while
    /// there are no watches or the stream is moving).
    pub fn watch_member(&self) -> Option<Endpoint> {
        self.inner.hub.serving()
    }
}

struct StreamSink {
    mailbox: Mailbox,
    notify: Notify,
}

impl Sink for StreamSink {
    fn deliver(&self, d: Delivery) {
        self.mailbox.push(d);
        self.notify.notify_one();
    }
}

/// The changes of one watch, for async code. Dropping it cancels the watch.
pub struct WatchStream {
    id: i64,
    sink: Arc<StreamSink>,
    client: Client,
}

impl WatchStream {
    /// The next change, or an error the watch ran into (it keeps retrying after one).
    /// `None` once cancelled.
    pub async fn next(&mut self) -> Option<Result<Change>> {
        loop {
            match self.sink.mailbox.pop() {
                Some(Delivery::Change(c)) => return Some(Ok(c)),
                Some(Delivery::Error(e)) => return Some(Err(e)),
                None if self.sink.mailbox.is_closed() => return None,
                None => self.sink.notify.notified().await,
            }
        }
    }

    /// Stops the watch; [`WatchStream::next`] then returns `None`.
    pub fn cancel(&mut self) {
        self.sink.mailbox.close();
        self.sink.notify.notify_one();
        self.client.stop_watch(self.id);
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.config().endpoints())
            .finish()
    }
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream").field("id", &self.id).finish()
    }
}

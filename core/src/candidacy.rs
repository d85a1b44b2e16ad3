//! Running for leader until told to stop: campaign, lead until the leadership is lost,
//! campaign again; the shape of client-go's leader election. Each win and each loss is
//! told to the program's callbacks.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::change::Leader;
use crate::client::Client;
use crate::delivery::{Delivery, Sink};
use crate::done::{Done, Driver};
use crate::election::Leadership;
use crate::error::{Error, ErrorKind, Result};
use crate::lock::{LockOptions, OnLost};

/// A callback told of a won election: the leader it made (its key, value and token).
pub type OnElected = Arc<dyn Fn(&Leader) + Send + Sync>;

/// The backoff after a failed campaign (no member answered, the wait's lease died): from
/// this, doubling up to the TTL.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// A candidate running for leader of one election until stopped (or dropped, or its
/// finder closed): it campaigns, leads until it loses the leadership, and campaigns again.
/// A failed campaign is tried again after a backoff (from 100 ms, doubling up to the TTL).
pub struct Candidacy {
    state: Arc<State>,
    stop: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    leading: Mutex<Option<Arc<Leadership>>>,
    last_error: Mutex<Option<Error>>,
    /// Set once the loop ended (after its resign, if it led).
    done: Arc<Done>,
    /// How long a blocking stop waits for the resign.
    stop_limit: Duration,
}

impl std::fmt::Debug for Candidacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let leading = self.leadership();
        f.debug_struct("Candidacy")
            .field("leading", &leading.as_ref().map(|l| l.key().to_string()))
            .finish()
    }
}

impl Candidacy {
    /// The leadership while this candidate surely leads, `None` while it campaigns.
    pub fn leadership(&self) -> Option<Arc<Leadership>> {
        let leading = self.state.leading.lock();
        leading.as_ref().filter(|l| l.is_valid()).cloned()
    }

    /// Whether this candidate surely leads now (no I/O).
    pub fn is_leading(&self) -> bool {
        self.leadership().is_some()
    }

    /// The last campaign's failure, if the last campaign failed (it is tried again).
    pub fn last_error(&self) -> Option<Error> {
        self.state.last_error.lock().clone()
    }

    /// [`Candidacy::stop`] for async code.
    pub async fn stop_async(&self) {
        let _ = self.stop.send(true);
        self.state.done.wait().await
    }

    /// Stops running: resigns if leading, and waits for that at most the finder's
    /// deadline and a second (a member down may delay etcd's answer). Idempotent.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        self.state.done.wait_blocking(self.state.stop_limit);
    }

    /// Has blocking stops drive the runtime with `driver` while they wait.
    pub(crate) fn drive_with(&self, driver: Driver) {
        self.state.done.drive_with(driver);
    }
}

impl Drop for Candidacy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Client {
    /// Runs for leader of election `name` with `value` until the candidacy is stopped
    /// (see [`Candidacy`]): `on_elected` is called with each leadership won, `on_lost`
    /// with each one lost (a `SessionLost` error), on the runtime's task that has the
    /// news: keep them short. `opts.timeout` and `opts.on_lost` are not used (it waits as
    /// long as it takes, and tells `on_lost`); `opts.session` is refused.
    pub async fn run_for_leader(
        &self,
        name: &str,
        value: &[u8],
        opts: LockOptions,
        on_elected: OnElected,
        on_lost: OnLost,
    ) -> Result<Candidacy> {
        let events = Arc::new(Direct(on_elected, on_lost));
        start(self.clone(), name, value, opts, events)
    }
}

/// Tells a candidacy's event to its callbacks: a win to `on_elected`, a loss to `on_lost`.
pub(crate) fn tell(on_elected: &OnElected, on_lost: &OnLost, d: Delivery) {
    match d {
        Delivery::Leader(Some(l)) => on_elected(&l),
        Delivery::Error(e) => on_lost(&e),
        _ => {}
    }
}

/// The async face's events: told on the runtime's task that has the news.
struct Direct(OnElected, OnLost);

impl Sink for Direct {
    fn deliver(&self, d: Delivery) {
        tell(&self.0, &self.1, d)
    }
}

/// Starts running for leader of `name` with `value` on `client`'s runtime (the caller is
/// inside it): wins go to `events` as `Delivery::Leader(Some)`, losses as the lock's
/// loss (`Delivery::Error` of `SessionLost`) through the leadership itself.
pub(crate) fn start(
    client: Client,
    name: &str,
    value: &[u8],
    opts: LockOptions,
    events: Arc<dyn Sink>,
) -> Result<Candidacy> {
    crate::keys::check_lock_name(name)?;
    if opts.session.is_some() {
        // A session's key is the same for every campaign: a lost leadership's key would be
        // the next campaign's, and its loss the next one's too.
        return Err(Error::invalid(format!(
            "run_for_leader {name}: takes a lease of its own per campaign, not a session"
        )));
    }
    let (stop, stopped) = watch::channel(false);
    let state = Arc::new(State {
        stop_limit: client.config().deadline + Duration::from_secs(1),
        ..State::default()
    });
    let run = Run {
        client,
        name: name.to_string(),
        value: value.to_vec(),
        opts: LockOptions {
            timeout: None,
            on_lost: None,
            ..opts
        },
        events,
        state: state.clone(),
    };
    tokio::spawn(run.until(stopped));
    Ok(Candidacy { state, stop })
}

struct Run {
    client: Client,
    name: String,
    value: Vec<u8>,
    opts: LockOptions,
    events: Arc<dyn Sink>,
    state: Arc<State>,
}

impl Run {
    async fn until(self, mut stopped: watch::Receiver<bool>) {
        let ttl = self.opts.ttl.max(FIRST_RETRY);
        let mut backoff = crate::pool::backoff((FIRST_RETRY, ttl));
        loop {
            let events = Some(self.events.clone());
            let campaign = (self.client).lock_to(&self.name, &self.value, &self.opts, true, events);
            let won = tokio::select! {
                _ = stopped.wait_for(|s| *s) => break,
                won = campaign => won,
            };
            match won.and_then(crate::lock::waited) {
                Ok(guard) => {
                    let leadership = Leadership::new(guard);
                    backoff = crate::pool::backoff((FIRST_RETRY, ttl));
                    if self.lead(leadership, &mut stopped).await {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::Closed | ErrorKind::InvalidArgument) => {
                    *self.state.last_error.lock() = Some(e);
                    break;
                }
                Err(e) => {
                    *self.state.last_error.lock() = Some(e);
                    let pause = backoff.next().unwrap_or(ttl);
                    tokio::select! {
                        _ = stopped.wait_for(|s| *s) => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
        self.state.done.set();
    }

    /// Leads until the leadership is lost (false) or the candidacy stopped (true, after
    /// resigning).
    async fn lead(&self, leadership: Leadership, stopped: &mut watch::Receiver<bool>) -> bool {
        let leadership = Arc::new(leadership);
        *self.state.last_error.lock() = None;
        *self.state.leading.lock() = Some(leadership.clone());
        self.events.deliver(Delivery::Leader(Some(Leader {
            key: leadership.key().to_string(),
            value: self.value.clone(),
            revision: leadership.token(),
        })));
        let stop = tokio::select! {
            _ = stopped.wait_for(|s| *s) => true,
            _ = leadership.lost() => false,
        };
        *self.state.leading.lock() = None;
        if stop {
            leadership.resign_async().await;
        }
        stop
    }
}

//! Auth: the token of a cluster with auth enabled, obtained on first use, renewed when
//! etcd says it expired, and put on every request by a layer of the member's channel.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwapOption;
use http::HeaderValue;

use crate::failure::auth_not_enabled;
use crate::security::Credentials;

/// The request that obtains a token, and so goes without one.
const AUTHENTICATE: &str = "/etcdserverpb.Auth/Authenticate";

/// A finder's credentials and its current token (one token serves every member: etcd
/// makes it through raft).
pub(crate) struct Auth {
    creds: Credentials,
    token: ArcSwapOption<HeaderValue>,
    /// One authentication at a time: requests that found the token stale wait for it.
    renewing: tokio::sync::Mutex<()>,
    /// The cluster said auth is not enabled: requests go without a token until one is
    /// refused for the want of it.
    needless: AtomicBool,
}

/// The token a request went with, to tell whether another renewed it meanwhile.
pub(crate) type Stale = Option<Arc<HeaderValue>>;

impl Auth {
    pub(crate) fn new(creds: Credentials) -> Auth {
        Auth {
            creds,
            token: ArcSwapOption::empty(),
            renewing: tokio::sync::Mutex::new(()),
            needless: AtomicBool::new(false),
        }
    }

    /// The token now (none before the first authentication).
    pub(crate) fn token(&self) -> Stale {
        self.token.load_full()
    }

    /// Drops the token (a stream found it refused): the next request authenticates.
    pub(crate) fn forget(&self) {
        self.token.store(None);
        self.needless.store(false, Ordering::SeqCst);
    }

    /// A request without a token was refused for the want of one (auth was turned on):
    /// the next renewal authenticates.
    pub(crate) fn needed(&self) {
        self.needless.store(false, Ordering::SeqCst);
    }

    /// Authenticates through `client`, unless the token is no longer `stale` (another
    /// request renewed it meanwhile).
    pub(crate) async fn renew(
        &self,
        client: &mut etcd_client::AuthClient,
        stale: &Stale,
    ) -> Result<(), etcd_client::Error> {
        let _one = self.renewing.lock().await;
        if self.needless.load(Ordering::SeqCst) {
            return Ok(());
        }
        let now = self.token.load();
        let same = match (&*now, stale) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            return Ok(());
        }
        let (user, password) = (self.creds.user.clone(), self.creds.password.0.clone());
        let resp = match client.authenticate(user, password).await {
            Err(e) if auth_not_enabled(&e) => {
                self.needless.store(true, Ordering::SeqCst);
                return Ok(());
            }
            r => r?,
        };
        let value = HeaderValue::from_str(resp.token()).map_err(|e| {
            etcd_client::Error::InvalidArgs(format!("etcd gave a token that is no header: {e}"))
        })?;
        self.token.store(Some(Arc::new(value)));
        Ok(())
    }
}

/// A member's channel that puts the token on every request but `Authenticate`.
#[derive(Clone)]
pub(crate) struct WithToken {
    pub(crate) inner: tonic::transport::Channel,
    pub(crate) auth: Arc<Auth>,
}

type Request = http::Request<tonic::body::Body>;
type Response = http::Response<tonic::body::Body>;

impl tower::Service<Request> for WithToken {
    type Response = Response;
    type Error = tower::BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response, tower::BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if req.uri().path() != AUTHENTICATE {
            if let Some(token) = self.auth.token() {
                req.headers_mut()
                    .insert("token", HeaderValue::clone(&token));
            }
        }
        let response = self.inner.call(req);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}

//! The `/metrics` HTTP endpoint a finder serves when asked to (HTTP/1.1 by `hyper`, which
//! tonic already brings).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// What the endpoint serves: the metrics text, made anew for each scrape.
pub(crate) type Render = Arc<dyn Fn() -> Result<String> + Send + Sync>;

/// The content type of Prometheus's text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Connections served at once; more wait in the kernel's backlog, holding no descriptor
/// of the process (lookups and failover need those).
const MAX_CONNECTIONS: usize = 32;
/// A client that has not sent its request's headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one connection lives (one request each: keep-alive is off).
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);
/// The pause after a failed accept (out of descriptors): retrying at once would spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The least time between two connections taken: at most 20 scrapes a second, so a flood
/// of them cannot take the runtime thread from the lookups (a scraper asks every few
/// seconds; a flood waits in the backlog).
const ACCEPT_GAP: Duration = Duration::from_millis(50);

/// Binds `addr` and serves `GET /metrics` there until `stop` is dropped or fired; the
/// address bound (its port chosen when `addr` asks for port 0).
pub(crate) async fn serve(
    addr: SocketAddr,
    render: Render,
    mut stop: oneshot::Receiver<()>,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::invalid(format!("cannot serve metrics at {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::invalid(format!("cannot serve metrics at {addr}: {e}")))?;
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = &mut stop => return,
                conn = accept(&listener, &permits) => conn,
            };
            let Some((stream, permit)) = conn else {
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            };
            tokio::spawn(serve_connection(stream, render.clone(), permit));
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(ACCEPT_GAP) => {}
            }
        }
    });
    Ok(bound)
}

/// The next connection, once fewer than the limit are open; `None` when accept failed.
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> Option<(TcpStream, OwnedSemaphorePermit)> {
    let permit = permits.clone().acquire_owned().await.ok()?;
    let (stream, _) = listener.accept().await.ok()?;
    Some((stream, permit))
}

/// Serves one connection: one request, its headers within the header timeout, the whole
/// within the connection limit.
async fn serve_connection(stream: TcpStream, render: Render, _permit: OwnedSemaphorePermit) {
    let service = hyper::service::service_fn(move |req| answer(req, render.clone()));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    // A scraper that hangs up early, or too late, is its own business.
    let _ = tokio::time::timeout(CONNECTION_LIMIT, conn).await;
}

async fn answer(
    req: Request<Incoming>,
    render: Render,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, kind: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            kind.parse().expect("a valid header"),
        );
        Ok(r)
    };
    let plain = "text/plain; charset=utf-8";
    if req.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            plain,
            "only /metrics is here\n".into(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            plain,
            "GET /metrics\n".into(),
        );
    }
    match render() {
        Ok(text) => reply(StatusCode::OK, TEXT_FORMAT, text),
        Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, plain, format!("{e}\n")),
    }
}

//! The `/metrics` HTTP endpoint a finder serves when asked to (HTTP/1.1 by `hyper`, which
//! tonic already brings).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// What the endpoint serves: the metrics text, made anew for each scrape.
pub(crate) type Render = Arc<dyn Fn() -> Result<String> + Send + Sync>;

/// The content type of Prometheus's text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

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
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = &mut stop => return,
                conn = listener.accept() => conn,
            };
            // A failed accept (e.g. out of file descriptors) ends only that connection.
            let Ok((stream, _)) = conn else { continue };
            let render = render.clone();
            let service = hyper::service::service_fn(move |req| answer(req, render.clone()));
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let _ = conn.await; // a scraper that hangs up early is its own business
            });
        }
    });
    Ok(bound)
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

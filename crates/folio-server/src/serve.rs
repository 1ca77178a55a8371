//! The HTTP/1.1 server loop. `axum::serve` sets no header read timeout and
//! no header size limit, so a client could hold a connection open forever by
//! trickling a request line; this loop configures hyper directly, gives every
//! request its peer address (`ConnectInfo`, for per-IP rate limits), and
//! shuts down gracefully. Request bodies get their own deadlines in
//! [`body_deadline`].

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::Service;

use crate::error::ApiError;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// The request line and headers must arrive within this time.
    pub header_timeout: Duration,
    /// Largest request head (request line + headers), bytes; larger → 431.
    pub max_header_bytes: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Serve `router` on `listener` until `shutdown` resolves, then let open
/// connections finish their current request.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let close_rx = close_rx.clone();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(addr));
                let mut r = router.clone();
                async move { r.call(req).await }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(cfg.header_timeout)
                .max_header_size(cfg.max_header_bytes)
                .max_headers(100);
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            let mut conn = pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(peer = %addr, error = %e, "connection ended with an error");
                    }
                }
                _ = async { let _ = stop_rx.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(close_rx);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(close_rx);
    close_tx.closed().await;
}

/// Deadlines for reading a request body: `idle` between two reads (a client
/// that stops sending), and `total` for the whole body (a client trickling a
/// byte now and then). Either ends the request with 408 and closes the
/// connection.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    pub idle: Duration,
    pub total: Duration,
}

impl Default for BodyDeadline {
    fn default() -> Self {
        BodyDeadline {
            idle: Duration::from_secs(30),
            total: Duration::from_secs(600),
        }
    }
}

#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body was not received in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// Middleware: wrap the body so reads time out; if one did, whatever the
/// handler made of the broken body is replaced by a 408 problem.
pub async fn body_deadline(
    axum::extract::State(st): axum::extract::State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let d = st.security.body;
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let (parts, body) = req.into_parts();
    let deadline = tokio::time::Instant::now() + d.total;
    let stream =
        futures_util::stream::unfold((body.into_data_stream(), false), move |(mut s, done)| {
            let flag = flag.clone();
            async move {
                if done {
                    return None;
                }
                let wait = tokio::time::Instant::now() + d.idle;
                match tokio::time::timeout_at(wait.min(deadline), s.next()).await {
                    Ok(Some(Ok(chunk))) => Some((Ok(chunk), (s, false))),
                    Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), (s, true))),
                    Ok(None) => None,
                    Err(_) => {
                        flag.store(true, Ordering::SeqCst);
                        Some((Err(axum::BoxError::from(BodyTimedOut)), (s, true)))
                    }
                }
            }
        });
    let req = Request::from_parts(parts, Body::from_stream(stream));
    let resp = next.run(req).await;
    if !timed_out.load(Ordering::SeqCst) {
        return resp;
    }
    metrics::counter!("folio_body_timeouts_total").increment(1);
    let mut resp = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body was not received in time (at most {} s between reads, {} s in all)",
            d.idle.as_secs(),
            d.total.as_secs()
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

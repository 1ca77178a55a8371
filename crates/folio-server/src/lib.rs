//! Folio's HTTP API.
//!
//! Why a crate of its own: the HTTP surface (routes, uploads, problem
//! documents, SSE, health, metrics, OpenAPI) is a contract with clients and
//! changes for different reasons than the queue or the worker. The binary
//! builds an [`AppState`] and serves [`router`].
//!
//! Layout: the route table is [`router`] below; each group of handlers lives
//! in [`routes`] (the web UI in `routes::ui`, the admin API in
//! `routes::admin`); [`error::ApiError`] renders every failure as RFC 7807
//! problem+json with a stable `code`; [`upload`] streams multipart files into
//! storage; [`jobdoc`] renders the job document; [`openapi`] describes it all.

pub mod error;
pub mod jobdoc;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod security;
pub mod serve;
pub mod state;
pub mod upload;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::HeaderName;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

pub use error::{ApiError, ApiResult};
pub use state::{ApiConfig, AppState, Inner};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API on one screen.
pub fn router(state: AppState) -> Router {
    use routes::*;
    Router::new()
        .route("/", get(ui::index))
        .route("/admin", get(ui::admin))
        .route("/ui/{file}", get(ui::ui_asset))
        .route("/v1/{operation}", post(submit::submit))
        .route("/v1/jobs/{id}", get(jobs::get_job).delete(jobs::delete_job))
        .route("/v1/jobs/{id}/events", get(events::events))
        .route("/v1/jobs/{id}/result", get(result::result))
        .route("/v1/admin/stats", get(admin::stats))
        .route("/v1/admin/jobs", get(admin::jobs))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(docs::openapi))
        .route("/docs", get(docs::docs))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(tag_route))
        // Uploads are limited while streaming (FOLIO_MAX_UPLOAD_BYTES), not here.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            serve::body_deadline,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside in: headers and CORS also decorate 401/429 answers (a
        // browser can then read them); the caller is known before limiting.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::middleware::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::auth::authenticate,
        ))
        .layer(security::headers::cors(&state.security.allowed_origins))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::headers::security_headers,
        ))
        .layer(middleware::from_fn(observe))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The matched route template, carried from routing out to [`observe`].
#[derive(Clone)]
struct RouteLabel(String);

async fn tag_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(RouteLabel(r));
    }
    resp
}

/// Request span (with the request id), access log line and HTTP metrics.
async fn observe(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    let start = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let route = resp
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".into());
    let status = resp.status().as_u16();
    metrics::counter!(
        "folio_http_requests_total",
        "route" => route.clone(),
        "method" => method.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("folio_http_request_duration_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    span.in_scope(
        || tracing::info!(status, route = %route, ms = elapsed.as_millis() as u64, "request"),
    );
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("the request handler panicked").into_response()
}

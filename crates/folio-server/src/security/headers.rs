//! Headers on every response, and CORS.
//!
//! The API answers JSON and files, never pages meant to run code, so its
//! Content-Security-Policy forbids everything; HTML handlers (`/docs`, the web
//! UI) set their own policy and it wins. Framing is refused twice
//! (`X-Frame-Options` for old browsers, `frame-ancestors` for new ones).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::state::AppState;

/// The policy for everything that is not an HTML page.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// HSTS: one year, subdomains included (set only when served over TLS).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

pub fn peer(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

pub async fn security_headers(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let sec = &st.security;
    let tls = sec.hsts
        || super::clientip::forwarded_https(peer(&req), req.headers(), &sec.trusted_proxies);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

/// CORS for the configured origins only; no origins, no CORS headers at all
/// (browsers then refuse cross-origin reads). API keys travel in headers, not
/// cookies, so credentials mode stays off.
pub fn cors(origins: &[String]) -> CorsLayer {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim().trim_end_matches('/')).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::RANGE,
            http::HeaderName::from_static("x-api-key"),
            http::HeaderName::from_static("prefer"),
            http::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            header::CONTENT_RANGE,
            http::HeaderName::from_static("x-request-id"),
            http::HeaderName::from_static("ratelimit-limit"),
            http::HeaderName::from_static("ratelimit-remaining"),
            http::HeaderName::from_static("ratelimit-reset"),
            http::HeaderName::from_static("x-folio-job-id"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

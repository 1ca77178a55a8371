//! The rate-limit layer: one upload budget (POST to `/v1`) and one read
//! budget (everything else under `/v1`, plus the docs) per client — per API
//! key when one was sent, else per client address. Health checks and metrics
//! are never limited (probes must not be starved by clients).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::{Decision, Rate, parse_rate};
use crate::error::ApiError;
use crate::security::auth::Caller;
use crate::security::clientip::client_ip;
use crate::security::headers::peer;
use crate::state::AppState;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Uploads,
    Reads,
}

fn class(method: &Method, path: &str) -> Option<Class> {
    if path.starts_with("/health/") || path == "/metrics" {
        return None;
    }
    if *method == Method::OPTIONS {
        return None;
    }
    if *method == Method::POST && path.starts_with("/v1/") {
        Some(Class::Uploads)
    } else {
        Some(Class::Reads)
    }
}

/// The rate for this caller: the key's override (`off` = none) or the default.
fn rate_for(st: &AppState, caller: Option<&Caller>, class: Class) -> Option<Rate> {
    let (default, own) = match class {
        Class::Uploads => (
            st.security.upload_rate,
            caller
                .and_then(|c| c.key())
                .and_then(|k| k.rate_limit_uploads.clone()),
        ),
        Class::Reads => (
            st.security.read_rate,
            caller
                .and_then(|c| c.key())
                .and_then(|k| k.rate_limit_reads.clone()),
        ),
    };
    match own {
        // Checked when the key was created; a bad stored value keeps the default.
        Some(s) => parse_rate(&s).unwrap_or(default),
        None => default,
    }
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn put(h: &mut HeaderMap, name: &'static str, v: u64) {
    if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
        h.insert(name, v);
    }
}

fn add_headers(h: &mut HeaderMap, d: &Decision) {
    put(h, "ratelimit-limit", u64::from(d.limit));
    put(h, "ratelimit-remaining", u64::from(d.remaining));
    put(h, "ratelimit-reset", secs_ceil(d.reset));
}

pub async fn rate_limit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(class) = class(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let caller = req.extensions().get::<Caller>().cloned();
    let Some(rate) = rate_for(&st, caller.as_ref(), class) else {
        return next.run(req).await;
    };
    let who = match caller.as_ref().and_then(|c| c.key()) {
        Some(k) => format!("key:{}", k.id),
        None => match client_ip(peer(&req), req.headers(), &st.security.trusted_proxies) {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".into(),
        },
    };
    let bucket = match class {
        Class::Uploads => format!("uploads:{who}"),
        Class::Reads => format!("reads:{who}"),
    };
    let decision = match st.limiter.check(&bucket, rate).await {
        Ok(d) => d,
        Err(e) => {
            // A limiter outage (shared store down) must not take the API
            // down with it: let the request through, loudly.
            tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
            return next.run(req).await;
        }
    };
    if !decision.allowed {
        metrics::counter!("folio_rate_limited_total", "class" => match class {
            Class::Uploads => "uploads",
            Class::Reads => "reads",
        })
        .increment(1);
        let retry = secs_ceil(decision.retry_after).max(1);
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many {} requests (limit {rate}); retry in {retry} s",
                match class {
                    Class::Uploads => "upload",
                    Class::Reads => "read",
                }
            ),
        )
        .with("retry_after", retry)
        .into_response();
        let h = resp.headers_mut();
        add_headers(h, &decision);
        put(h, "retry-after", retry);
        return resp;
    }
    let mut resp = next.run(req).await;
    add_headers(resp.headers_mut(), &decision);
    resp
}

//! `GET /v1/admin/stats` and `GET /v1/admin/jobs`: what the `/admin` page
//! shows. Every handler here starts with [`require_admin`].

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use folio_jobs::{JobState, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::jobdoc::job_document;
use crate::security::auth::Caller;
use crate::state::AppState;

/// Default and bounds of the stats window, seconds.
const DEFAULT_WINDOW_SECS: u64 = 3600;
const MIN_WINDOW_SECS: u64 = 60;
const MAX_WINDOW_SECS: u64 = 7 * 24 * 3600;
const DEFAULT_JOBS: u32 = 50;
const MAX_JOBS: u32 = 500;

/// The one place that decides who may use the admin API.
///
/// An admin key may; a non-admin key may not (403); without a key, only
/// when `FOLIO_AUTH=off` (local use: the authentication layer has already
/// answered 401 to key-less `/v1` requests when keys are required). Every
/// admin handler calls it first.
pub fn require_admin(st: &AppState, caller: &Caller) -> ApiResult<()> {
    match caller {
        Caller::Key(k) if k.admin => Ok(()),
        Caller::Anonymous if !st.security.auth_required => Ok(()),
        _ => Err(ApiError::new(
            http::StatusCode::FORBIDDEN,
            "forbidden",
            "the admin API needs an admin key (folio keys create --admin)",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    /// Window in seconds.
    window: Option<String>,
}

pub async fn stats(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<StatsQuery>,
) -> ApiResult<Json<Value>> {
    require_admin(&st, &caller)?;
    let window_secs = match q.window.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_WINDOW_SECS,
        Some(w) => w
            .parse::<u64>()
            .map_err(|_| {
                ApiError::bad_request("invalid_options", "window must be a number of seconds")
            })?
            .clamp(MIN_WINDOW_SECS, MAX_WINDOW_SECS),
    };
    let now = now_ms();
    let s = st
        .store
        .admin_stats(now, Duration::from_secs(window_secs))
        .await?;
    let finished = s.succeeded + s.failed + s.cancelled;
    let minutes = window_secs as f64 / 60.0;
    Ok(Json(json!({
        "window_seconds": window_secs,
        "since": folio_jobs::time::rfc3339(s.since),
        "now": folio_jobs::time::rfc3339(now),
        "queue": {"queued": s.queue.queued, "running": s.queue.running},
        "jobs": {
            "submitted": s.submitted,
            "finished": finished,
            "succeeded": s.succeeded,
            "failed": s.failed,
            "cancelled": s.cancelled,
            // Rounded to 2 decimals: a rate for people, not for accounting.
            "per_minute": (finished as f64 / minutes * 100.0).round() / 100.0,
            "finished_per_minute": s.finished_per_minute,
        },
        "failures": {
            "by_code": s.failure_codes.iter().map(|(c, n)| json!({"code": c, "count": n})).collect::<Vec<_>>(),
            "recent": s.recent_failures.iter().map(|j| json!({
                "id": j.id,
                "operation": j.operation().as_str(),
                "code": j.error.as_ref().map(|e| e.code.as_str()),
                "message": j.error.as_ref().map(|e| e.message.as_str()),
                "finished_at": j.finished_at.map(folio_jobs::time::rfc3339),
            })).collect::<Vec<_>>(),
        },
        "storage": {"bytes": s.storage_bytes, "jobs": s.stored_jobs},
        "workers": st.pool.as_ref().map(|_| "in-process").unwrap_or("separate"),
    })))
}

#[derive(Debug, Deserialize)]
pub struct JobsQuery {
    state: Option<String>,
    limit: Option<String>,
}

pub async fn jobs(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Json<Value>> {
    require_admin(&st, &caller)?;
    let state = match q.state.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(s) => Some(s.parse::<JobState>().map_err(|_| {
            ApiError::bad_request(
                "invalid_options",
                format!("unknown state '{s}' (queued, running, succeeded, failed, cancelled)"),
            )
        })?),
    };
    let limit = match q.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_JOBS,
        Some(l) => l
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request("invalid_options", "limit must be a number"))?
            .clamp(1, MAX_JOBS),
    };
    let now = now_ms();
    let jobs = st.store.recent_jobs(state, limit).await?;
    Ok(Json(json!({
        "jobs": jobs.iter().map(|j| job_document(j, now)).collect::<Vec<_>>(),
    })))
}

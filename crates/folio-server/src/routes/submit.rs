//! `POST /v1/{operation}`: upload, queue, and answer with the result (sync)
//! or with the job (202, when it takes longer than the sync window or the
//! client sent `Prefer: respond-async`).

use std::time::Duration;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use folio_jobs::{Job, JobSpec, JobState, NewJob, OpOptions, Operation, OptionsError, now_ms};
use http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use crate::error::{ApiError, ApiResult};
use crate::jobdoc::{job_document, job_url};
use crate::routes::result::download;
use crate::security::auth::Caller;
use crate::state::AppState;
use crate::upload::{self, Upload};

/// What the client asked for in `Prefer` (RFC 7240).
struct Prefer {
    respond_async: bool,
    wait: Option<Duration>,
}

fn prefer(headers: &HeaderMap) -> Prefer {
    let mut p = Prefer {
        respond_async: false,
        wait: None,
    };
    for v in headers.get_all("prefer") {
        for token in v.to_str().unwrap_or("").split(',') {
            let t = token.trim().to_ascii_lowercase();
            if t == "respond-async" {
                p.respond_async = true;
            } else if let Some(secs) = t.strip_prefix("wait=") {
                p.wait = secs.trim().parse::<u64>().ok().map(Duration::from_secs);
            }
        }
    }
    p
}

fn options_error(e: OptionsError) -> ApiError {
    match e {
        OptionsError::UnknownOperation(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_operation", e.to_string())
        }
        _ => ApiError::bad_request("invalid_options", e.to_string()),
    }
}

pub async fn submit(
    State(st): State<AppState>,
    caller: Caller,
    Path(operation): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let op: Operation = operation.parse().map_err(options_error)?;
    // Refuse a declared oversize body before reading any of it.
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > st.cfg.max_upload_bytes
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the upload exceeds the limit of {} bytes",
                st.cfg.max_upload_bytes
            ),
        )
        .with("limit", st.cfg.max_upload_bytes));
    }
    check_job_cap(&st, &caller).await?;
    let multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_multipart",
            format!("send the files as multipart/form-data: {}", e.body_text()),
        )
    })?;
    let upload = upload::receive(&st, op, multipart).await?;
    let (job, cache_hit) = match queue(&st, &caller, op, &upload).await {
        Ok(x) => x,
        Err(e) => {
            upload::discard(&st, &upload.inputs).await;
            return Err(e);
        }
    };
    Ok(respond(st, job, cache_hit, prefer(&headers)).await)
}

/// A key with `max_concurrent_jobs` may not have more queued + running jobs.
/// Checked before reading the upload (a refused client wastes no bandwidth);
/// two simultaneous submissions can both pass, so the cap is approximate by
/// at most the key's upload burst.
async fn check_job_cap(st: &AppState, caller: &Caller) -> ApiResult<()> {
    let Some(key) = caller.key() else {
        return Ok(());
    };
    let Some(cap) = key.max_concurrent_jobs else {
        return Ok(());
    };
    let active = st.store.active_jobs_of(&key.id).await?;
    if active >= u64::from(cap) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_jobs",
            format!("this key already has {active} unfinished job(s); its limit is {cap}"),
        )
        .with("limit", cap)
        .header(header::RETRY_AFTER, "1"));
    }
    Ok(())
}

async fn queue(
    st: &AppState,
    caller: &Caller,
    op: Operation,
    up: &Upload,
) -> ApiResult<(Job, bool)> {
    let (min, max) = op.input_count();
    if up.inputs.len() < min {
        return Err(ApiError::bad_request(
            "missing_file",
            format!("{op} needs at least {min} file part(s)"),
        ));
    }
    if up.inputs.len() > max {
        return Err(ApiError::bad_request(
            "too_many_files",
            format!("{op} takes at most {max} file(s), got {}", up.inputs.len()),
        ));
    }
    let mut password = None;
    let mut priority = 0i32;
    let mut soft_timeout = None;
    let mut opts = Vec::new();
    for (k, v) in &up.fields {
        match k.as_str() {
            "password" => password = Some(v.clone()).filter(|p| !p.is_empty()),
            "priority" => {
                priority = v
                    .trim()
                    .parse::<i32>()
                    .map_err(|_| {
                        ApiError::bad_request("invalid_options", "priority must be an integer")
                    })?
                    .clamp(-100, 100)
            }
            "timeout" => {
                soft_timeout = Some(v.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad_request("invalid_options", "timeout must be a number of seconds")
                })?)
            }
            _ => opts.push((k.clone(), v.clone())),
        }
    }
    let mut options = OpOptions::from_fields(op, &opts).map_err(options_error)?;
    if st.security.force_sanitize {
        options.force_sanitize();
    }
    // Check the options the way the worker will use them: a bad page range
    // is a 400 now, not a failed job later.
    folio_worker::child::engine_call(&options, password.clone())
        .map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let mut spec = JobSpec::new(options, up.inputs.clone());
    spec.password = password;
    spec.soft_timeout_secs = soft_timeout;
    let now = now_ms();
    let cache_key = if st.cfg.cache {
        // Scoped by owner: a cache hit hands out an existing job, which
        // must be one the caller may see.
        spec.cache_material().map(|m| {
            let m = format!("{m}|owner={}", caller.owner().unwrap_or(""));
            Sha256::digest(m.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
    } else {
        None
    };
    if let Some(key) = &cache_key
        && let Some(hit) = st.store.find_cached(key, now).await?
    {
        metrics::counter!("folio_cache_hits_total", "operation" => op.as_str()).increment(1);
        tracing::info!(job_id = %hit.id, "result cache hit");
        upload::discard(st, &up.inputs).await;
        return Ok((hit, true));
    }
    let job = st
        .store
        .insert(NewJob {
            id: uuid::Uuid::now_v7().to_string(),
            spec,
            priority,
            max_attempts: st.cfg.max_attempts,
            cache_key,
            owner: caller.owner().map(str::to_string),
            created_at: now,
            expires_at: now + st.retention_ms(),
        })
        .await?;
    metrics::counter!("folio_jobs_submitted_total", "operation" => op.as_str()).increment(1);
    tracing::info!(job_id = %job.id, operation = %op, bytes_in = job.bytes_in, "job queued");
    if let Some(pool) = &st.pool {
        pool.notify();
    }
    Ok((job, false))
}

/// 202 with the job document and where to follow it.
pub fn accepted(job: &Job) -> Response {
    let url = job_url(&job.id);
    let mut r = (StatusCode::ACCEPTED, Json(job_document(job, now_ms()))).into_response();
    if let Ok(v) = url.parse() {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    r
}

async fn respond(st: AppState, job: Job, cache_hit: bool, prefer: Prefer) -> Response {
    let job = if prefer.respond_async || job.state.is_terminal() {
        job
    } else {
        let wait = prefer
            .wait
            .map(|w| w.min(st.cfg.sync_wait))
            .unwrap_or(st.cfg.sync_wait);
        match wait_for(&st, &job.id, wait).await {
            Ok(Some(j)) => j,
            Ok(None) => job,
            Err(e) => return e.into_response(),
        }
    };
    if prefer.respond_async || !job.state.is_terminal() {
        return accepted(&job);
    }
    match finished(&st, &job).await {
        Ok(mut r) => {
            if let Ok(v) = http::HeaderValue::from_str(if cache_hit { "hit" } else { "miss" }) {
                r.headers_mut().insert("x-folio-cache", v);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

/// The answer for a finished job: its result, or its error as a problem.
async fn finished(st: &AppState, job: &Job) -> ApiResult<Response> {
    match job.state {
        JobState::Succeeded => download(st, job, None).await,
        JobState::Failed => {
            let (code, message) = job
                .error
                .as_ref()
                .map(|e| (e.code.as_str(), e.message.as_str()))
                .unwrap_or(("internal", "the job failed"));
            Err(ApiError::from_job_error(code, message)
                .with("job_id", job.id.clone())
                .with("job", job_url(&job.id)))
        }
        _ => Err(
            ApiError::new(StatusCode::CONFLICT, "cancelled", "the job was cancelled")
                .with("job_id", job.id.clone()),
        ),
    }
}

/// Wait until the job is terminal or `wait` passes. Follows the in-process
/// event bus, and re-reads the store twice a second (the worker may be
/// another process).
async fn wait_for(st: &AppState, id: &str, wait: Duration) -> ApiResult<Option<Job>> {
    let mut rx = st.events.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(e) if e.job_id == id && e.is_terminal() => {}
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => { tokio::time::sleep_until(deadline).await; }
            },
            _ = check.tick() => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(None),
        }
        if let Some(j) = st.store.get(id).await?
            && j.state.is_terminal()
        {
            return Ok(Some(j));
        }
    }
}

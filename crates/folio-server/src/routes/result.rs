//! `GET /v1/jobs/{id}/result`: the result file, with `Range` support; 410
//! once expired.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use folio_jobs::{Job, JobState, now_ms};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::{ApiError, ApiResult};
use crate::jobdoc::job_url;
use crate::security::auth::{Caller, visible_job};
use crate::security::disposition;
use crate::state::AppState;

/// How long a presigned download URL is valid.
const PRESIGNED_SECS: u64 = 300;

/// A parsed single byte range (end exclusive), or `None` for the whole file.
/// Several ranges are answered with the whole file (allowed by RFC 9110).
fn parse_range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // Suffix: the last N bytes.
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .saturating_add(1)
                .min(size)
        };
        start..end
    };
    if range.start >= range.end || range.start >= size {
        return Err(());
    }
    Ok(Some(range))
}

fn set(h: &mut HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// Stream a succeeded job's result. `range` is the request's `Range` header.
pub async fn download(
    st: &AppState,
    job: &Job,
    range: Option<&HeaderValue>,
) -> ApiResult<Response> {
    let now = now_ms();
    if !job.result_live(now) {
        return Err(ApiError::new(
            StatusCode::GONE,
            "expired",
            "the result has expired and was deleted",
        )
        .with("job_id", job.id.clone()));
    }
    let Some(result) = &job.result else {
        return Err(ApiError::internal("succeeded job without a result"));
    };
    let size = result.size;
    let range = match range.and_then(|v| v.to_str().ok()) {
        Some(v) => parse_range(v, size).map_err(|_| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the range '{v}' is not within 0..{size}"),
            )
            .header(header::CONTENT_RANGE, &format!("bytes */{size}"))
        })?,
        None => None,
    };
    // Whole-file downloads can go straight to object storage; ranged ones
    // stream through here so the range answer stays ours.
    if st.cfg.presigned_downloads && range.is_none() {
        let url = st
            .storage
            .presigned_get(
                &result.key,
                &result.name,
                &result.media_type,
                std::time::Duration::from_secs(PRESIGNED_SECS),
            )
            .await?;
        if let Some(url) = url {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
            set(resp.headers_mut(), header::LOCATION, &url);
            set(
                resp.headers_mut(),
                header::CACHE_CONTROL,
                "private, no-store",
            );
            set(resp.headers_mut(), "x-folio-job-id", &job.id);
            return Ok(resp);
        }
    }
    let stream = match st.storage.get(&result.key, range.clone()).await {
        Ok(s) => s,
        Err(folio_storage::StorageError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "expired",
                "the result is no longer stored",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    set(h, header::CONTENT_TYPE, &result.media_type);
    set(
        h,
        header::CONTENT_DISPOSITION,
        &disposition::attachment(&result.name),
    );
    set(h, header::ACCEPT_RANGES, "bytes");
    set(h, header::CACHE_CONTROL, "private, no-store");
    set(h, "x-folio-job-id", &job.id);
    set(h, "x-folio-operation", job.operation().as_str());
    set(h, "x-folio-bytes-in", &job.bytes_in.to_string());
    set(h, "x-folio-bytes-out", &size.to_string());
    if let Some(r) = &job.report {
        for (field, name) in [
            ("pages_in", "x-folio-pages-in"),
            ("pages_out", "x-folio-pages-out"),
        ] {
            if let Some(n) = r.get(field).and_then(|v| v.as_u64()) {
                set(h, name, &n.to_string());
            }
        }
    }
    set(
        h,
        header::CONTENT_LOCATION,
        &format!("{}/result", job_url(&job.id)),
    );
    match range {
        Some(r) => {
            set(h, header::CONTENT_LENGTH, &(r.end - r.start).to_string());
            set(
                h,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        None => set(h, header::CONTENT_LENGTH, &size.to_string()),
    }
    Ok(resp)
}

pub async fn result(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let job = visible_job(&st, &caller, &id).await?;
    match job.state {
        JobState::Succeeded => download(&st, &job, headers.get(header::RANGE)).await,
        JobState::Queued | JobState::Running => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "the job is {}; follow {}/events or retry later",
                job.state,
                job_url(&id)
            ),
        )
        .with("job_status", job.state.as_str())
        .header(header::RETRY_AFTER, "1")),
        JobState::Failed => {
            let e = job.error.clone();
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "job_failed",
                "the job failed: it has no result",
            )
            .with(
                "error",
                serde_json::json!(
                    e.map(|e| serde_json::json!({"code": e.code, "message": e.message}))
                ),
            ))
        }
        JobState::Cancelled => Err(ApiError::new(
            StatusCode::GONE,
            "cancelled",
            "the job was cancelled",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=95-200", 100), Ok(Some(95..100)));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=5-2", 100).is_err());
        assert!(parse_range("bytes=x-", 100).is_err());
    }
}

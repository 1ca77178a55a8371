//! `GET /v1/jobs/{id}` and `DELETE /v1/jobs/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use folio_jobs::now_ms;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::jobdoc::job_document;
use crate::security::auth::{Caller, visible_job};
use crate::state::AppState;

pub async fn get_job(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = visible_job(&st, &caller, &id).await?;
    Ok(Json(job_document(&job, now_ms())))
}

/// Cancel the job (a running job is stopped: its child process is told to
/// stop, then killed) and delete its files.
pub async fn delete_job(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    // Only the owner (or an admin) may cancel: check before touching the job.
    visible_job(&st, &caller, &id).await?;
    let now = now_ms();
    let job = st
        .store
        .cancel(&id, now)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    if let Some(pool) = &st.pool {
        pool.cancel_local(&id);
    }
    for key in job.keys() {
        if let Err(e) = st.storage.delete(&key).await {
            tracing::warn!(job_id = %id, error = %e, "cannot delete a job file");
        }
    }
    st.store.mark_purged(&id).await?;
    st.events.publish_state(&job);
    tracing::info!(job_id = %id, state = %job.state, "job deleted");
    let job = st.store.get(&id).await?.unwrap_or(job);
    Ok(Json(job_document(&job, now)))
}

//! The job document returned by `GET /v1/jobs/{id}` (and 202 answers).

use folio_jobs::time::rfc3339;
use folio_jobs::{Job, JobState, Millis};
use serde_json::{Value, json};

fn ts(ms: Option<Millis>) -> Value {
    ms.map(|m| Value::String(rfc3339(m))).unwrap_or(Value::Null)
}

pub fn job_url(id: &str) -> String {
    format!("/v1/jobs/{id}")
}

pub fn job_document(job: &Job, now: Millis) -> Value {
    let url = job_url(&job.id);
    let expired = job.purged || (job.state.is_terminal() && job.expires_at <= now);
    let mut links = json!({
        "self": url,
        "events": format!("{url}/events"),
    });
    if job.state == JobState::Succeeded && !expired {
        links["result"] = Value::String(format!("{url}/result"));
    }
    let queue_ms = job.started_at.map(|s| (s - job.created_at).max(0));
    let run_ms = match (job.started_at, job.finished_at) {
        (Some(s), Some(f)) => Some((f - s).max(0)),
        _ => None,
    };
    json!({
        "id": job.id,
        "operation": job.operation().as_str(),
        "status": job.state.as_str(),
        "progress": if job.state == JobState::Succeeded { 1.0 } else { job.progress },
        "priority": job.priority,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested,
        "timings": {
            "queued_at": ts(Some(job.created_at)),
            "started_at": ts(job.started_at),
            "finished_at": ts(job.finished_at),
            "queue_ms": queue_ms,
            "run_ms": run_ms,
        },
        "input": {
            "files": job.spec.inputs.iter().map(|i| json!({"name": i.name, "bytes": i.size})).collect::<Vec<_>>(),
            "bytes": job.bytes_in,
        },
        "output": job.result.as_ref().map(|r| json!({
            "name": r.name,
            "media_type": r.media_type,
            "bytes": r.size,
            "files": r.files,
        })),
        "options": serde_json::to_value(&job.spec.options).unwrap_or(Value::Null),
        "report": job.report,
        "error": job.error.as_ref().map(|e| json!({"code": e.code, "message": e.message})),
        "expires_at": ts(Some(job.expires_at)),
        "expired": expired,
        "links": links,
    })
}

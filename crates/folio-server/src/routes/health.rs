//! `GET /health/live` (the process answers) and `GET /health/ready` (it can
//! do work: database, storage, worker pool, queue depth). A failing readiness
//! check answers 503 naming the failing checks.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn check(ok: bool, detail: impl Into<Value>) -> Value {
    json!({"status": if ok { "ok" } else { "fail" }, "detail": detail.into()})
}

pub async fn ready(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let mut checks = Map::new();
    let db = tokio::time::timeout(CHECK_TIMEOUT, st.store.ping()).await;
    checks.insert(
        "database".into(),
        match db {
            Ok(Ok(())) => check(true, "reachable"),
            Ok(Err(e)) => check(false, e.to_string()),
            Err(_) => check(false, "timed out"),
        },
    );
    let storage = tokio::time::timeout(CHECK_TIMEOUT, st.storage.check()).await;
    checks.insert(
        "storage".into(),
        match storage {
            Ok(Ok(())) => check(true, "writable"),
            Ok(Err(e)) => check(false, e.to_string()),
            Err(_) => check(false, "timed out"),
        },
    );
    checks.insert(
        "workers".into(),
        match &st.pool {
            Some(p) if p.healthy() => json!({"status": "ok", "size": p.size(), "active": p.active()}),
            Some(p) => json!({"status": "fail", "detail": "worker pool stopped", "size": p.size()}),
            None => json!({"status": "ok", "detail": "no workers in this process (API only)", "size": 0}),
        },
    );
    let stats = tokio::time::timeout(CHECK_TIMEOUT, st.store.queue_stats()).await;
    checks.insert(
        "queue".into(),
        match stats {
            Ok(Ok(s)) => json!({
                "status": if s.queued <= st.cfg.max_queue_depth { "ok" } else { "fail" },
                "queued": s.queued,
                "running": s.running,
                "max": st.cfg.max_queue_depth,
            }),
            Ok(Err(e)) => check(false, e.to_string()),
            Err(_) => check(false, "timed out"),
        },
    );
    let failing: Vec<String> = checks
        .iter()
        .filter(|(_, v)| v["status"] != "ok")
        .map(|(k, _)| k.clone())
        .collect();
    if failing.is_empty() {
        Ok(Json(json!({"status": "ok", "checks": checks})))
    } else {
        Err(ApiError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("failing checks: {}", failing.join(", ")),
        )
        .with("failing", failing)
        .with("checks", Value::Object(checks)))
    }
}

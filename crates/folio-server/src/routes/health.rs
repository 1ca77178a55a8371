//! `GET /health/live` (the process answers) and `GET /health/ready` (it can
//! do work: database, storage, Redis, worker pool, queue depth), each with
//! its latency. A failing readiness check answers 503 naming the failing
//! checks. Redis is optional: without it the node still works (per-node rate
//! limits, progress of other processes' jobs polled from the store), so a
//! Redis outage is reported as `degraded` with 200.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn with_latency(mut v: Value, started: Instant) -> Value {
    v["latency_ms"] = json!((started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0);
    v
}

fn check(ok: bool, detail: impl Into<Value>) -> Value {
    json!({"status": if ok { "ok" } else { "fail" }, "detail": detail.into()})
}

pub async fn ready(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let mut checks = Map::new();
    let started = Instant::now();
    let db = tokio::time::timeout(CHECK_TIMEOUT, st.store.ping()).await;
    checks.insert(
        "database".into(),
        with_latency(
            match db {
                Ok(Ok(())) => check(true, "reachable"),
                Ok(Err(e)) => check(false, e.to_string()),
                Err(_) => check(false, "timed out"),
            },
            started,
        ),
    );
    let started = Instant::now();
    let storage = tokio::time::timeout(CHECK_TIMEOUT, st.storage.check()).await;
    checks.insert(
        "storage".into(),
        with_latency(
            match storage {
                Ok(Ok(())) => check(true, "writable"),
                Ok(Err(e)) => check(false, e.to_string()),
                Err(_) => check(false, "timed out"),
            },
            started,
        ),
    );
    if let Some(link) = &st.redis {
        let started = Instant::now();
        let degraded = |detail: String| json!({"status": "degraded", "detail": detail});
        let v = match link.get() {
            None => degraded(
                "not connected: rate limits are per node, events of other processes are polled"
                    .into(),
            ),
            Some(r) => match r.ping().await {
                Ok(_) => check(true, "reachable"),
                Err(e) => degraded(format!(
                    "{e}: rate limits are per node, events of other processes are polled"
                )),
            },
        };
        checks.insert("redis".into(), with_latency(v, started));
    }
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
        .filter(|(_, v)| v["status"] != "ok" && v["status"] != "degraded")
        .map(|(k, _)| k.clone())
        .collect();
    let degraded = checks.values().any(|v| v["status"] == "degraded");
    if failing.is_empty() {
        let status = if degraded { "degraded" } else { "ok" };
        Ok(Json(json!({"status": status, "checks": checks})))
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

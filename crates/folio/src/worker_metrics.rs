//! `/metrics` and `/health/live` of a `folio worker` process, on
//! `FOLIO_METRICS_LISTEN`: job outcomes, durations, queue wait and
//! compression figures are recorded where jobs run, so a worker-only process
//! must expose them itself for Prometheus to see them.

use anyhow::{Context, Result};
use axum::Router;
use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;

/// Bind `addr` and serve until the task is aborted.
pub async fn serve(addr: &str, handle: PrometheusHandle) -> Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (FOLIO_METRICS_LISTEN)"))?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = handle.render();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        )
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        );
    tracing::info!(addr = %local, "worker metrics listening");
    // Also on stdout, for scripts and tests that start on port 0.
    println!("folio worker metrics on http://{local}");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "worker metrics server stopped");
        }
    }))
}

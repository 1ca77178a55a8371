//! `GET /metrics`: Prometheus text format. Every name starts with `folio_`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header;

use crate::state::AppState;

pub async fn metrics(State(st): State<AppState>) -> Response {
    // Queue figures are read from the store at scrape time (the queue may be
    // fed and drained by other processes).
    if let Ok(s) = st.store.queue_stats().await {
        metrics::gauge!("folio_queue_depth").set(s.queued as f64);
        metrics::gauge!("folio_jobs_running").set(s.running as f64);
    }
    // Readiness as a gauge (1 ready, 0 not), so alerts need no HTTP prober.
    let ready = super::health::ready(State(st.clone())).await.is_ok();
    metrics::gauge!("folio_ready").set(if ready { 1.0 } else { 0.0 });
    let body = st.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

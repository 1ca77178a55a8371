//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use folio_db::Store;
use folio_storage::Storage;
use folio_worker::{EventBus, Pool};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::ratelimit::Limiter;
use crate::security::SecurityConfig;

/// The API's own settings (the binary maps `FOLIO_*` onto these).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body (all files together), bytes.
    pub max_upload_bytes: u64,
    /// Most files in one request.
    pub max_files: usize,
    /// How long a request waits for its job before answering 202.
    pub sync_wait: Duration,
    /// How long inputs and results are kept.
    pub retention: Duration,
    /// Reuse live results for identical input + operation + options.
    pub cache: bool,
    /// Attempts per job (retries only for retryable failures).
    pub max_attempts: u32,
    /// Readiness fails when more jobs than this are queued.
    pub max_queue_depth: u64,
    /// Redirect result downloads to presigned storage URLs when the storage
    /// has them (S3).
    pub presigned_downloads: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_upload_bytes: 100 * 1000 * 1000,
            max_files: 50,
            sync_wait: Duration::from_secs(30),
            retention: Duration::from_secs(3600),
            cache: true,
            max_attempts: 3,
            max_queue_depth: 10_000,
            presigned_downloads: false,
        }
    }
}

pub struct Inner {
    pub cfg: ApiConfig,
    pub store: Arc<dyn Store>,
    pub storage: Arc<dyn Storage>,
    pub events: EventBus,
    /// The in-process worker pool; `None` when this process only serves the API.
    pub pool: Option<Arc<Pool>>,
    pub metrics: Option<PrometheusHandle>,
    pub security: SecurityConfig,
    /// Rate-limit buckets (in memory, or shared between nodes).
    pub limiter: Arc<dyn Limiter>,
    /// Redis (`FOLIO_REDIS_URL`), when configured: shared rate limits and
    /// job events from other processes. Possibly not connected (yet).
    pub redis: Option<folio_redis::RedisLink>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn retention_ms(&self) -> i64 {
        i64::try_from(self.cfg.retention.as_millis()).unwrap_or(i64::MAX / 4)
    }
}

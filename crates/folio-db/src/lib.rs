//! Folio's durable job queue.
//!
//! Why a crate of its own: the queue is the one piece of shared state between
//! the API and the workers, and it must survive restarts. [`Store`] states the
//! queue semantics once; [`sqlite::SqliteStore`] implements them for the
//! single-binary deployment, and [`postgres::PostgresStore`] (claiming with
//! `FOR UPDATE SKIP LOCKED`, waking idle workers with LISTEN/NOTIFY) for many
//! API and worker processes on many hosts. [`suite`] is the behavioural test
//! suite both implementations pass.
//!
//! Queue semantics:
//! - [`Store::claim`] takes the queued job with the highest priority (oldest
//!   first on ties) whose `run_after` has passed, marks it running with a lease
//!   (`lease_until`) and a new fencing token (`fence`, +1 per claim), and
//!   counts the attempt. Two claimers never get the same job.
//! - The worker renews the lease while running ([`Store::renew`]); the answer
//!   tells it whether cancellation was requested.
//! - [`Store::reap_expired`] re-queues running jobs whose lease expired (their
//!   worker died), or fails them once their attempts are used up.
//! - Writes by a worker ([`Store::complete`], [`Store::fail`], progress...) only
//!   succeed while its fencing token is current: a stale worker whose job was
//!   re-delivered gets [`StoreError::Stale`].
//! - Retryable failures go back to `queued` with `run_after` set by the
//!   caller's backoff; others end `failed`.

pub mod backup;
pub mod keys;
pub mod postgres;
pub mod sqlite;
pub mod suite;

use std::time::Duration;

use async_trait::async_trait;
use folio_jobs::{Job, JobError, JobState, Millis, NewJob, ResultRef};

pub use keys::{ApiKey, NewApiKey};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller's claim is no longer current (fencing token changed, or the
    /// job is not running any more).
    #[error("stale claim: job {0} is no longer held by this worker")]
    Stale(String),
    #[error("job {0} not found")]
    NotFound(String),
    /// A stored value could not be read back (bad JSON, unknown state).
    #[error("corrupt job row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still ours; stop the work if `cancel_requested`.
    Held { cancel_requested: bool },
    /// Re-delivered or finished elsewhere: stop and write nothing.
    Lost,
}

/// A successful run's outcome.
#[derive(Debug, Clone)]
pub struct Completion {
    pub report: serde_json::Value,
    pub result: ResultRef,
    /// Files (inputs and result) expire then.
    pub expires_at: Millis,
}

/// Queue depth figures for readiness and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Queued jobs (including those waiting for a retry).
    pub queued: u64,
    pub running: u64,
}

/// What the admin view shows: the queue now, and what happened in a recent
/// window of time `[since, now]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminStats {
    pub queue: QueueStats,
    /// Start of the window (inclusive), ms since the epoch.
    pub since: Millis,
    /// Jobs created in the window.
    pub submitted: u64,
    /// Jobs that reached a final state in the window, by state.
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Jobs that reached a final state, per minute of the window, oldest
    /// minute first (the last entry is the minute that ends at `now`).
    pub finished_per_minute: Vec<u64>,
    /// Failures in the window by error code, most frequent first.
    pub failure_codes: Vec<(String, u64)>,
    /// The latest failures in the window, newest first (at most
    /// [`ADMIN_RECENT_FAILURES`]).
    pub recent_failures: Vec<Job>,
    /// Bytes held in storage for jobs whose files are not purged: inputs
    /// plus results.
    pub storage_bytes: u64,
    /// Jobs whose files are still stored.
    pub stored_jobs: u64,
}

/// How many failures [`Store::admin_stats`] lists one by one.
pub const ADMIN_RECENT_FAILURES: usize = 20;

/// Number of one-minute buckets for a window (at least one).
pub fn minute_buckets(window_ms: Millis) -> usize {
    usize::try_from((window_ms.max(1) + 59_999) / 60_000).unwrap_or(1)
}

/// The job table and queue. Every method is a single atomic step.
#[async_trait]
pub trait Store: Send + Sync {
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Queue a new job (state `queued`, claimable from `created_at`).
    async fn insert(&self, job: NewJob) -> Result<Job>;

    async fn get(&self, id: &str) -> Result<Option<Job>>;

    /// Claim the next job (see the crate docs). `None` when nothing is ready.
    async fn claim(&self, now: Millis, lease: Duration) -> Result<Option<Job>>;

    /// Extend the lease of a running job held with `fence`.
    async fn renew(&self, id: &str, fence: i64, now: Millis, lease: Duration) -> Result<Renewal>;

    /// Record progress (0..=1); returns the new event sequence number.
    async fn set_progress(&self, id: &str, fence: i64, progress: f32) -> Result<i64>;

    /// Mark the job succeeded with its result.
    async fn complete(&self, id: &str, fence: i64, now: Millis, done: Completion) -> Result<Job>;

    /// Record a failure. With `retry_at`, the job goes back to `queued` and is
    /// claimable from then on; without, it ends `failed`.
    async fn fail(
        &self,
        id: &str,
        fence: i64,
        now: Millis,
        error: JobError,
        retry_at: Option<Millis>,
        expires_at: Millis,
    ) -> Result<Job>;

    /// The worker stopped a job on request: it ends `cancelled`.
    async fn finish_cancelled(
        &self,
        id: &str,
        fence: i64,
        now: Millis,
        expires_at: Millis,
    ) -> Result<Job>;

    /// Give a running job back to the queue without counting the attempt
    /// (graceful shutdown).
    async fn release(&self, id: &str, fence: i64) -> Result<Job>;

    /// Cancel: a queued job ends `cancelled` at once; a running job gets
    /// `cancel_requested` (its worker stops it); a finished job is unchanged.
    /// `None` if there is no such job.
    async fn cancel(&self, id: &str, now: Millis) -> Result<Option<Job>>;

    /// Re-queue running jobs whose lease expired before `now`, or fail them
    /// with `lease_expired` when their attempts are used up. Returns the jobs
    /// as they are after the change.
    async fn reap_expired(&self, now: Millis) -> Result<Vec<Job>>;

    /// A succeeded, unexpired, unpurged job with this cache key.
    async fn find_cached(&self, cache_key: &str, now: Millis) -> Result<Option<Job>>;

    /// Jobs whose files are due for deletion: not running or queued, not
    /// purged, `expires_at` ≤ `now`. At most `limit`.
    async fn expired(&self, now: Millis, limit: u32) -> Result<Vec<Job>>;

    /// Note that a job's files are gone.
    async fn mark_purged(&self, id: &str) -> Result<()>;

    /// Delete rows of purged jobs that expired before `before`; returns how many.
    async fn delete_purged_before(&self, before: Millis) -> Result<u64>;

    async fn queue_stats(&self) -> Result<QueueStats>;

    /// Queued and running jobs submitted by `owner` (the per-key job cap).
    async fn active_jobs_of(&self, owner: &str) -> Result<u64>;

    // API keys (`FOLIO_AUTH`). Keys are never deleted, only revoked, so job
    // owners keep pointing at a record.

    /// Store a new key; a duplicate id or hash is an error.
    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKey>;

    /// The key with this hash, revoked or not (the caller checks).
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>>;

    /// Every key, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;

    /// Revoke a key; `false` when there is no such active key.
    async fn revoke_api_key(&self, id: &str, now: Millis) -> Result<bool>;
    /// Figures for the admin view over the window `[now - window, now]`.
    async fn admin_stats(&self, now: Millis, window: Duration) -> Result<AdminStats>;

    /// The newest jobs (by creation), optionally only those in `state`.
    async fn recent_jobs(&self, state: Option<JobState>, limit: u32) -> Result<Vec<Job>>;

    /// Claim the run of scheduled `task` (cleanup, reaper) for the time slot
    /// starting at `slot_start`: `true` for exactly one caller per slot, even
    /// across processes sharing the store; that caller runs the task.
    async fn claim_slot(&self, task: &str, slot_start: Millis) -> Result<bool>;

    /// Return when a job may have become claimable, or after `max` at the
    /// latest. The default only sleeps (idle workers poll); stores that can
    /// be told about new work across processes (PostgreSQL LISTEN/NOTIFY)
    /// return early.
    async fn wait_for_work(&self, max: Duration) {
        tokio::time::sleep(max).await;
    }
}

/// Slot rows older than this are deleted when a newer slot is claimed.
pub(crate) const SLOT_KEEP_MS: i64 = 24 * 3600 * 1000;

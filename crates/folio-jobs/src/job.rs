//! The job record as the store keeps it, and the pieces it refers to.

use serde::{Deserialize, Serialize};

use crate::{JobSpec, JobState};

/// Milliseconds since the Unix epoch (UTC). Integers keep the store portable
/// (SQLite and PostgreSQL alike) and need no date library.
pub type Millis = i64;

/// A job id: a UUID (v7, so ids sort by creation time) as text.
pub type JobId = String;

/// The current time in [`Millis`].
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Error codes the service adds to the engine's (`invalid_pdf`, `encrypted`...).
/// Stable: clients match on them.
pub mod codes {
    /// The child process died (signal, abort, resource limit) without a result.
    pub const CRASHED: &str = "crashed";
    /// The job ran past its hard time limit and was killed.
    pub const TIMEOUT: &str = "timeout";
    /// Reading inputs or storing outputs failed.
    pub const STORAGE: &str = "storage";
    /// The job's worker vanished (lease expired) too many times.
    pub const LEASE_EXPIRED: &str = "lease_expired";
    /// A bug or impossible state in the service.
    pub const INTERNAL: &str = "internal";
    /// The job was cancelled.
    pub const CANCELLED: &str = "cancelled";
}

/// Why a job failed: a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
    /// Whether running the job again could succeed (drives retries).
    #[serde(default)]
    pub retryable: bool,
}

impl JobError {
    pub fn new(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        JobError {
            code: code.into(),
            message: message.into(),
            retryable,
        }
    }
}

/// One stored input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// Storage key (chosen by the storage, never from the client's file name).
    pub key: String,
    /// The client's file name, sanitized; for reports and download names only.
    pub name: String,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// The stored result of a job: one file (several outputs are zipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRef {
    pub key: String,
    /// Download file name (safe ASCII).
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// The files produced by the operation (one, or the zip's members).
    pub files: Vec<String>,
}

/// What is needed to queue a job.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub spec: JobSpec,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: u32,
    pub cache_key: Option<String>,
    /// The API key (its id) that submitted the job; `None` when anonymous.
    pub owner: Option<String>,
    pub created_at: Millis,
    /// When the inputs (and, until finished, the job) expire.
    pub expires_at: Millis,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub state: JobState,
    pub spec: JobSpec,
    pub priority: i32,
    /// Runs started so far (claims).
    pub attempts: u32,
    pub max_attempts: u32,
    /// 0..=1, meaningful while running.
    pub progress: f32,
    pub created_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// Not claimable before this time (retry backoff).
    pub run_after: Millis,
    /// While running: the claim is valid until then.
    pub lease_until: Option<Millis>,
    /// Incremented on every claim; writes by an older claim are refused.
    pub fence: i64,
    pub cancel_requested: bool,
    pub error: Option<JobError>,
    /// The engine's report (JSON), once succeeded.
    pub report: Option<serde_json::Value>,
    pub result: Option<ResultRef>,
    pub bytes_in: u64,
    pub cache_key: Option<String>,
    /// The API key (its id) that submitted the job; `None` when anonymous.
    pub owner: Option<String>,
    /// After this time the job's files may be deleted.
    pub expires_at: Millis,
    /// Set once the cleanup deleted the job's files.
    pub purged: bool,
    /// Bumped on every state or progress change (SSE event id).
    pub event_seq: i64,
}

impl Job {
    pub fn operation(&self) -> crate::Operation {
        self.spec.operation()
    }

    /// Whether the result may still be downloaded at `now`.
    pub fn result_live(&self, now: Millis) -> bool {
        self.state == JobState::Succeeded
            && !self.purged
            && self.expires_at > now
            && self.result.is_some()
    }

    /// Storage keys owned by this job (inputs and result).
    pub fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.spec.inputs.iter().map(|i| i.key.clone()).collect();
        if let Some(r) = &self.result {
            k.push(r.key.clone());
        }
        k
    }
}

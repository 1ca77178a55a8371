//! Events a client can follow (server-sent events): progress and state changes.
//!
//! Every change to a job bumps its `event_seq`; the sequence number doubles as
//! the SSE event id, so a client resuming with `Last-Event-ID` gets only what
//! is newer than what it saw.

use serde::{Deserialize, Serialize};

use crate::{JobError, JobState};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub job_id: String,
    /// Monotonic per job; the SSE `id`.
    pub seq: i64,
    #[serde(flatten)]
    pub kind: JobEventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEventKind {
    /// Progress in 0..=1 of a running job.
    Progress { progress: f32 },
    /// The job changed state; `error` is set for `failed`.
    State {
        state: JobState,
        progress: f32,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<JobError>,
    },
}

impl JobEvent {
    /// The SSE event name: `progress` or `state`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            JobEventKind::Progress { .. } => "progress",
            JobEventKind::State { .. } => "state",
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, JobEventKind::State { state, .. } if state.is_terminal())
    }
}

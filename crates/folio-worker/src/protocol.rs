//! The parent ↔ child protocol of `folio __run-job`.
//!
//! Parent → child (stdin): one line of JSON, a [`ChildRequest`]; later the
//! line `cancel` asks the child to stop at its next check. Closing stdin
//! (the parent died) also cancels.
//!
//! Child → parent (stdout): JSON lines, [`ChildMessage`]s: any number of
//! `progress`, then exactly one `result`. Output files are written into the
//! request's `out_dir`; only their names travel over the pipe. Anything on
//! stderr is diagnostics for the log.

use std::path::PathBuf;

use folio_jobs::{JobError, OpOptions};
use serde::{Deserialize, Serialize};

/// The hidden subcommand that runs one job.
pub const CHILD_SUBCOMMAND: &str = "__run-job";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildInput {
    pub path: PathBuf,
    /// Display name (sanitized), used in reports and bookmarks.
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildRequest {
    pub job_id: String,
    pub options: OpOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub inputs: Vec<ChildInput>,
    /// Where output files go (exists, empty).
    pub out_dir: PathBuf,
    pub limits: folio_engine::Limits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildOutput {
    /// File name inside `out_dir`.
    pub file: String,
    /// Suggested name from the engine (e.g. `part-001.pdf`).
    pub name: String,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChildMessage {
    Progress {
        progress: f32,
    },
    Result {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<serde_json::Value>,
        #[serde(default)]
        outputs: Vec<ChildOutput>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<JobError>,
    },
}

//! Folio's job vocabulary, shared by the store, the worker and the HTTP API.
//!
//! Why a crate of its own: the queue (`folio-db`), the worker (`folio-worker`)
//! and the server (`folio-server`) must agree on what a job is, which states it
//! moves through and when it is retried, without depending on each other or on
//! any I/O. Everything here is plain data plus pure functions, so it is cheap to
//! compile and trivial to test.
//!
//! Module map:
//! - [`spec`] — what to run (operation, versioned options, input references)
//! - [`state`] — the job life cycle and its allowed transitions
//! - [`retry`] — which failures are retried and after how long
//! - [`job`] — the job record as stored, errors and result references
//! - [`event`] — progress/state events streamed to clients
//! - [`duration`] — human durations such as `1h`, `30s`, `1h30m`

pub mod duration;
pub mod event;
pub mod job;
pub mod names;
pub mod retry;
pub mod spec;
pub mod state;
pub mod time;

pub use event::{JobEvent, JobEventKind};
pub use job::{InputRef, Job, JobError, JobId, Millis, NewJob, ResultRef, codes, now_ms};
pub use retry::RetryPolicy;
pub use spec::{FileKind, JobSpec, OpOptions, Operation, OptionsError, SPEC_VERSION};
pub use state::JobState;

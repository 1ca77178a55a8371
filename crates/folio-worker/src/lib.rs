//! Folio's job runner.
//!
//! Why a crate of its own: running untrusted documents is the dangerous part
//! of the service. This crate claims jobs from the [`folio_db::Store`], fetches
//! their inputs from [`folio_storage::Storage`], and runs the engine in a
//! **child process** of the same binary (`folio __run-job`) with OS resource
//! limits (address space, CPU time, no core dumps), a soft time limit (the
//! child is asked to stop) and a hard one (it is killed). Whatever happens in
//! the child — an engine error, a panic, an abort, a stack overflow, a signal —
//! becomes a job outcome with a stable code; the server keeps serving.
//!
//! Module map:
//! - [`pool`] — worker slots, lease renewal, retries, graceful shutdown, reaper
//! - [`runner`] — spawning and supervising one child process
//! - [`child`] — the child's side (`child_main`) and option → engine mapping
//! - [`protocol`] — the JSON-lines protocol between the two
//! - [`events`] — in-process fan-out of progress/state events (for SSE)
//! - [`cleanup`] — retention (expired files and rows)
//! - [`zip`] — a minimal stored-ZIP writer for multi-file results

pub mod child;
pub mod cleanup;
pub mod events;
pub mod pool;
pub mod protocol;
pub mod runner;
pub mod zip;

pub use events::EventBus;
pub use pool::{Pool, WorkerConfig};
pub use runner::{ChildCommand, ChildLimits};

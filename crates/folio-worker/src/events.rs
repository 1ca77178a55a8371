//! In-process fan-out of job events to server-sent-event streams. Events are
//! also reflected in the store (state, progress, `event_seq`), so a client
//! that connects late, or to another process, still sees the latest state.

use folio_jobs::{Job, JobEvent, JobEventKind};
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<JobEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(1024)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        EventBus {
            tx: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, event: JobEvent) {
        // No subscribers is fine.
        let _ = self.tx.send(event);
    }

    /// Publish the job's current state.
    pub fn publish_state(&self, job: &Job) {
        self.publish(state_event(job));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.tx.subscribe()
    }
}

/// The state event describing `job` as it is now.
pub fn state_event(job: &Job) -> JobEvent {
    JobEvent {
        job_id: job.id.clone(),
        seq: job.event_seq,
        kind: JobEventKind::State {
            state: job.state,
            progress: job.progress,
            error: job
                .error
                .clone()
                .filter(|_| job.state == folio_jobs::JobState::Failed),
        },
    }
}

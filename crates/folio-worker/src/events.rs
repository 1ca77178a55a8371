//! In-process fan-out of job events to server-sent-event streams. Events are
//! also reflected in the store (state, progress, `event_seq`), so a client
//! that connects late, or to another process, still sees the latest state.

use std::sync::{Arc, OnceLock};

use folio_jobs::{Job, JobEvent, JobEventKind};
use tokio::sync::{broadcast, mpsc};

/// Local subscribers get every event; events that happened in this process
/// are also handed to the forwarder (Redis pub/sub) when one is set, so
/// other processes' subscribers see them too.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<JobEvent>,
    forward: Arc<OnceLock<mpsc::Sender<JobEvent>>>,
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
            forward: Arc::new(OnceLock::new()),
        }
    }

    /// An event of this process: to local subscribers and the forwarder.
    pub fn publish(&self, event: JobEvent) {
        if let Some(f) = self.forward.get() {
            // Full (the forwarder is stuck): drop it; readers poll the store.
            let _ = f.try_send(event.clone());
        }
        // No subscribers is fine.
        let _ = self.tx.send(event);
    }

    /// An event from another process: to local subscribers only.
    pub fn inject(&self, event: JobEvent) {
        let _ = self.tx.send(event);
    }

    /// Also hand this process's events to `forward` from now on (set once).
    pub fn forward_to(&self, forward: mpsc::Sender<JobEvent>) {
        let _ = self.forward.set(forward);
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

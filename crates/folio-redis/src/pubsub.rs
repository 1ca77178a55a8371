//! Job events across processes: `PUBLISH folio:job:{id}` where the job runs,
//! `PSUBSCRIBE folio:job:*` where clients follow it. Messages carry the
//! sending node's id, so a node ignores its own events (its local bus had
//! them already). Redis pub/sub is fire-and-forget: an event lost while
//! Redis is away is made up for by the SSE handler reading the store.

use std::time::Duration;

use folio_jobs::JobEvent;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Redis, Result, timed};

pub const CHANNEL_PREFIX: &str = "folio:job:";

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: String,
    event: JobEvent,
}

impl Redis {
    /// Publish one job event to `folio:job:{id}`.
    pub async fn publish(&self, event: &JobEvent) -> Result<()> {
        let payload = serde_json::to_string(&Envelope {
            node: self.node.clone(),
            event: event.clone(),
        })
        .unwrap_or_default();
        let mut c = self.conn.clone();
        let _: i64 = timed(
            redis::cmd("PUBLISH")
                .arg(format!("{CHANNEL_PREFIX}{}", event.job_id))
                .arg(payload)
                .query_async(&mut c),
        )
        .await?;
        Ok(())
    }

    /// Publish every event received on `events` until the channel closes.
    /// Failures are logged and the event dropped (readers fall back to the
    /// store).
    pub fn spawn_publisher(&self, mut events: mpsc::Receiver<JobEvent>) -> JoinHandle<()> {
        let redis = self.clone();
        tokio::spawn(async move {
            let mut failing = false;
            while let Some(e) = events.recv().await {
                match redis.publish(&e).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("redis publishing works again");
                    }
                    Ok(()) => {}
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(error = %err, "cannot publish job events to redis; followers fall back to polling");
                    }
                    Err(_) => {}
                }
            }
        })
    }

    /// Follow the events other nodes publish, handing each to `deliver`.
    /// Reconnects after Redis goes away (events meanwhile are missed; SSE
    /// readers poll the store for those).
    pub fn spawn_subscriber(
        &self,
        deliver: impl Fn(JobEvent) + Send + Sync + 'static,
    ) -> JoinHandle<()> {
        let client = self.client.clone();
        let node = self.node.clone();
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut ps) => {
                        if let Err(e) = ps.psubscribe(format!("{CHANNEL_PREFIX}*")).await {
                            tracing::warn!(error = %e, "redis PSUBSCRIBE failed");
                        } else {
                            tracing::info!("following job events from other nodes via redis");
                            let mut msgs = ps.on_message();
                            while let Some(m) = msgs.next().await {
                                let Ok(payload) = m.get_payload::<String>() else {
                                    continue;
                                };
                                match serde_json::from_str::<Envelope>(&payload) {
                                    Ok(env) if env.node != node => deliver(env.event),
                                    Ok(_) => {}
                                    Err(e) => {
                                        tracing::debug!(error = %e, "unreadable job event on redis")
                                    }
                                }
                            }
                            tracing::warn!("redis subscription lost; reconnecting");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot subscribe to redis; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }
}

//! Retention: delete the files of expired jobs, then, later, their rows.

use std::sync::Arc;
use std::time::Duration;

use folio_db::Store;
use folio_jobs::{Millis, now_ms};
use folio_storage::Storage;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanupStats {
    pub purged_jobs: u64,
    pub deleted_blobs: u64,
    pub deleted_rows: u64,
}

/// One pass: purge the files of every expired job (in batches), then delete
/// rows that expired more than `row_retention` ago. Rows outlive their files
/// so that `GET /v1/jobs/{id}/result` can answer 410 Gone for a while.
pub async fn cleanup_once(
    store: &dyn Store,
    storage: &dyn Storage,
    now: Millis,
    row_retention: Duration,
) -> Result<CleanupStats, folio_db::StoreError> {
    let mut stats = CleanupStats::default();
    loop {
        let due = store.expired(now, 200).await?;
        if due.is_empty() {
            break;
        }
        for job in &due {
            for key in job.keys() {
                match storage.delete(&key).await {
                    Ok(()) => stats.deleted_blobs += 1,
                    Err(e) => tracing::warn!(job_id = %job.id, error = %e, "cannot delete blob"),
                }
            }
            store.mark_purged(&job.id).await?;
            stats.purged_jobs += 1;
        }
    }
    let cutoff = now - i64::try_from(row_retention.as_millis()).unwrap_or(i64::MAX / 2);
    stats.deleted_rows = store.delete_purged_before(cutoff).await?;
    Ok(stats)
}

/// Run [`cleanup_once`] once per `interval` time slot until the task is
/// aborted. Every API node runs this loop; the shared store hands each slot
/// to one of them ([`Store::claim_slot`]), so a pass never runs twice.
pub fn spawn_cleanup(
    store: Arc<dyn Store>,
    storage: Arc<dyn Storage>,
    interval: Duration,
    row_retention: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let slot = crate::pool::slot_start(now_ms(), interval);
            match store.claim_slot("cleanup", slot).await {
                Ok(true) => {}
                Ok(false) => {
                    crate::pool::sleep_to_next_slot(interval).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cleanup: cannot claim the time slot");
                    crate::pool::sleep_to_next_slot(interval).await;
                    continue;
                }
            }
            match cleanup_once(store.as_ref(), storage.as_ref(), now_ms(), row_retention).await {
                Ok(s) if s != CleanupStats::default() => tracing::info!(
                    purged_jobs = s.purged_jobs,
                    deleted_blobs = s.deleted_blobs,
                    deleted_rows = s.deleted_rows,
                    "cleanup"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cleanup failed"),
            }
            crate::pool::sleep_to_next_slot(interval).await;
        }
    })
}

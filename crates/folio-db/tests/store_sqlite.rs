//! The shared Store suite against SQLite (a fresh database file per test).

use folio_db::{SqliteStore, suite};

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("folio.db"))
        .await
        .unwrap();
    (dir, store)
}

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, store) = fresh().await;
            suite::$name(&store).await;
        }
    )*};
}

suite_tests!(
    insert_and_get,
    claim_order_by_priority,
    concurrent_claimers_never_share,
    lease_expiry_redelivers,
    stale_completion_refused,
    retry_backoff,
    cancel,
    release_requeues,
    cache_and_expiry,
    event_seq_increases,
    api_keys,
    job_owner_and_active_count,
    admin_stats_window,
    recent_jobs_newest_first,
    schedule_slot_once,
);

#[tokio::test]
async fn wal_mode_and_reopen_keeps_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("folio.db");
    {
        let s = SqliteStore::open(&path).await.unwrap();
        use folio_db::Store;
        s.insert(suite::new_job(7, 0, 1)).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        s.pool().close().await;
    }
    let s = SqliteStore::open(&path).await.unwrap();
    use folio_db::Store;
    assert!(
        s.get("job-00007").await.unwrap().is_some(),
        "migrations re-run cleanly, data kept"
    );
}

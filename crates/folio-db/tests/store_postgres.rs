//! The shared Store suite against PostgreSQL: every case in a database of its
//! own (`CREATE DATABASE folio_test_<random>`, dropped afterwards), on the
//! server at `FOLIO_TEST_PG_URL` (default: 127.0.0.1:5432, user postgres).
//! An unreachable server fails these tests; `FOLIO_SKIP_PG=1` skips them.

use std::time::{Duration, Instant};

use folio_db::postgres::testing::{TestDatabase, skip};
use folio_db::{PostgresStore, Store, suite};

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if skip() {
                eprintln!("FOLIO_SKIP_PG=1: skipped");
                return;
            }
            let tdb = TestDatabase::create().await.unwrap();
            let store = PostgresStore::open(&tdb.url).await.unwrap();
            suite::$name(&store).await;
            store.pool().close().await;
            drop(store);
            tdb.drop_db().await.unwrap();
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
    schedule_slot_once,
    admin_stats_window,
    recent_jobs_newest_first,
    api_keys,
    job_owner_and_active_count,
);

/// Several nodes starting at once migrate the same empty database: all of
/// them open, the schema is applied once, and their claims never overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once_and_share_the_queue() {
    if skip() {
        return;
    }
    let tdb = TestDatabase::create().await.unwrap();
    let opens = (0..4).map(|_| PostgresStore::open(&tdb.url));
    let stores: Vec<PostgresStore> = futures_util::future::join_all(opens)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    // Once each: as many rows as migration files.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count() as i64;
    assert_eq!(applied, files);
    for n in 0..30 {
        stores[n as usize % 4]
            .insert(suite::new_job(n, 0, 1_700_000_000_000 + i64::from(n)))
            .await
            .unwrap();
    }
    let claimers = stores.iter().map(|s| async move {
        let mut got = Vec::new();
        while let Some(j) = s
            .claim(1_700_000_100_000, Duration::from_secs(10))
            .await
            .unwrap()
        {
            got.push(j.id);
        }
        got
    });
    let mut all: Vec<String> = futures_util::future::join_all(claimers)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (30, 30));
    for s in &stores {
        s.pool().close().await;
    }
    drop(stores);
    tdb.drop_db().await.unwrap();
}

/// An idle worker waiting on one node is woken by a job queued through
/// another node (NOTIFY), long before its polling fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_idle_workers_on_other_nodes() {
    if skip() {
        return;
    }
    let tdb = TestDatabase::create().await.unwrap();
    let worker = PostgresStore::open(&tdb.url).await.unwrap();
    let api = PostgresStore::open(&tdb.url).await.unwrap();
    // Let the LISTEN connection come up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let waiting = tokio::spawn({
        let w = worker.clone();
        async move { w.wait_for_work(Duration::from_secs(20)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.insert(suite::new_job(1, 0, 1_700_000_000_000))
        .await
        .unwrap();
    waiting.await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "woken by NOTIFY, not by the 20 s timeout: {waited:?}"
    );
    // Without new work, the wait lasts its full time.
    let t = Instant::now();
    worker.wait_for_work(Duration::from_millis(300)).await;
    assert!(t.elapsed() >= Duration::from_millis(290));
    worker.pool().close().await;
    api.pool().close().await;
    drop((worker, api));
    tdb.drop_db().await.unwrap();
}

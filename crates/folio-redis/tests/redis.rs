//! Against the real Redis at `FOLIO_TEST_REDIS_URL` (default
//! 127.0.0.1:6379): GCRA limits shared by several connections, and job
//! events across "nodes". An unreachable Redis fails these tests;
//! `FOLIO_SKIP_REDIS=1` skips them.

use std::time::Duration;

use folio_jobs::{JobEvent, JobEventKind};
use folio_redis::Redis;

fn skip() -> bool {
    std::env::var("FOLIO_SKIP_REDIS").is_ok_and(|v| v == "1")
}

async fn connect() -> Redis {
    let url = std::env::var("FOLIO_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
    Redis::connect(&url).await.unwrap_or_else(|e| {
        panic!("Redis at {url} is unreachable ({e}); start it (scripts/test-setup.sh) or set FOLIO_SKIP_REDIS=1")
    })
}

fn unique(name: &str) -> String {
    format!("test:{name}:{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn gcra_allows_the_burst_then_paces() {
    if skip() {
        return;
    }
    let r = connect().await;
    let key = unique("burst");
    for want_remaining in (0..5).rev() {
        let d = r.check(&key, 2.0, 5).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, want_remaining);
        assert_eq!(d.retry_after, Duration::ZERO);
    }
    let denied = r.check(&key, 2.0, 5).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    // One request per 500 ms refills.
    assert!(
        denied.retry_after > Duration::from_millis(300)
            && denied.retry_after <= Duration::from_millis(500),
        "{denied:?}"
    );
    assert!(denied.reset > Duration::from_millis(2000), "{denied:?}");
    tokio::time::sleep(denied.retry_after + Duration::from_millis(30)).await;
    let again = r.check(&key, 2.0, 5).await.unwrap();
    assert!(again.allowed, "{again:?}");
    assert!(!r.check(&key, 2.0, 5).await.unwrap().allowed);
    // Another key is another bucket.
    assert!(r.check(&unique("other"), 2.0, 5).await.unwrap().allowed);
    assert!(r.check(&key, 0.0, 5).await.is_err());
    assert!(r.check(&key, 1.0, 0).await.is_err());
}

/// Three "API nodes" (connections) hammering one bucket at once share it:
/// exactly `burst` requests pass in total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_bucket_is_shared_by_all_nodes() {
    if skip() {
        return;
    }
    let nodes = [connect().await, connect().await, connect().await];
    let key = unique("shared");
    let calls = nodes.iter().flat_map(|n| {
        let key = key.clone();
        (0..20).map(move |_| {
            let key = key.clone();
            async move { n.check(&key, 0.01, 10).await.unwrap().allowed }
        })
    });
    let allowed = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .filter(|a| *a)
        .count();
    assert_eq!(allowed, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_events_reach_other_nodes_but_not_their_sender() {
    if skip() {
        return;
    }
    let api = connect().await;
    let worker = connect().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tx2 = tx.clone();
    let sub = api.spawn_subscriber(move |e| {
        let _ = tx.send(("api", e));
    });
    let own = worker.spawn_subscriber(move |e| {
        let _ = tx2.send(("worker", e));
    });
    // Let both subscriptions come up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let job_id = unique("job");
    let ev = JobEvent {
        job_id: job_id.clone(),
        seq: 7,
        kind: JobEventKind::Progress { progress: 0.5 },
    };
    worker.publish(&ev).await.unwrap();
    let (who, got) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("event delivered")
        .unwrap();
    assert_eq!((who, &got), ("api", &ev));
    // The worker's own subscriber skipped it: nothing else arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err()
    );
    assert!(api.ping().await.unwrap() < Duration::from_secs(1));
    sub.abort();
    own.abort();
}

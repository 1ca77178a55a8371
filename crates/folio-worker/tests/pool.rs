//! The worker pool against a real SQLite store and local storage, with a
//! small Python program standing in for `folio __run-job`: results stored,
//! several outputs zipped, retries with backoff, cancel, graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use folio_db::{SqliteStore, Store};
use folio_jobs::{InputRef, JobSpec, JobState, NewJob, OpOptions, RetryPolicy, now_ms};
use folio_storage::{LocalStorage, Storage};
use folio_worker::{ChildCommand, EventBus, Pool, WorkerConfig};

/// Behaviour per job chosen by the first input's name:
/// `ok*` one output, `many*` three outputs, `flaky*` fails retryably on the
/// first attempt (marker file), `slow*` sleeps until cancelled.
const FAKE_CHILD: &str = r#"
import json, os, sys, time, select
req = json.loads(sys.stdin.readline())
name = req["inputs"][0]["name"]
out = req["out_dir"]
def result(**kw):
    kw["type"] = "result"
    print(json.dumps(kw), flush=True)
def write(i, data, n):
    open(os.path.join(out, "out-%04d" % i), "wb").write(data)
    return {"file": "out-%04d" % i, "name": n, "media_type": "application/pdf", "size": len(data)}
print(json.dumps({"type": "progress", "progress": 0.5}), flush=True)
if name.startswith("ok"):
    data = open(req["inputs"][0]["path"], "rb").read()
    result(report={"operation": "rotate", "pages_out": 1}, outputs=[write(0, data, "x.pdf")])
elif name.startswith("many"):
    result(report={"operation": "split"}, outputs=[write(i, b"%%PDF-part%d" % i, "part.pdf") for i in range(3)])
elif name.startswith("flaky"):
    marker = req["inputs"][0]["path"] + ".seen"
    if not os.path.exists(marker):
        open(marker, "w").close()
        result(error={"code": "internal", "message": "transient", "retryable": True})
    else:
        result(report={}, outputs=[write(0, b"%PDF-ok", "x.pdf")])
elif name.startswith("slow"):
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0.05)
        if r and sys.stdin.readline().strip() == "cancel":
            result(error={"code": "cancelled", "message": "stopped"})
            break
"#;

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    storage: Arc<dyn Storage>,
    pool: Pool,
}

async fn env(workers: usize, lease: Duration) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await.unwrap());
    let cfg = WorkerConfig {
        workers,
        lease,
        soft_timeout: Duration::from_secs(30),
        hard_timeout: Duration::from_secs(40),
        memory_limit: Some(2 << 30),
        cpu_limit: Some(60),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 300,
            max_delay_ms: 1000,
        },
        retention: Duration::from_secs(60),
        poll_interval: Duration::from_millis(100),
        child: ChildCommand {
            program: "python3".into(),
            args: vec!["-c".into(), FAKE_CHILD.into()],
        },
        max_input_bytes: 1 << 20,
    };
    let pool = Pool::start(cfg, store.clone(), storage.clone(), EventBus::default());
    Env {
        _dir: dir,
        store,
        storage,
        pool,
    }
}

async fn submit(e: &Env, name: &str) -> String {
    let body = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"%PDF-1.7 input"))]);
    let st = e.storage.put(Box::pin(body), None).await.unwrap();
    let id = format!("job-{name}");
    let now = now_ms();
    e.store
        .insert(NewJob {
            id: id.clone(),
            spec: JobSpec::new(
                OpOptions::Rotate {
                    angle: 90,
                    pages: None,
                },
                vec![InputRef {
                    key: st.key,
                    name: name.into(),
                    size: st.size,
                    sha256: st.sha256,
                }],
            ),
            priority: 0,
            max_attempts: 3,
            cache_key: None,
            owner: None,
            created_at: now,
            expires_at: now + 60_000,
        })
        .await
        .unwrap();
    e.pool.notify();
    id
}

async fn wait_state(e: &Env, id: &str, want: JobState) -> folio_jobs::Job {
    let t = Instant::now();
    loop {
        let j = e.store.get(id).await.unwrap().unwrap();
        if j.state == want {
            return j;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "job {id} stuck: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_stores_the_result() {
    let e = env(2, Duration::from_secs(5)).await;
    let id = submit(&e, "ok.pdf").await;
    let j = wait_state(&e, &id, JobState::Succeeded).await;
    let r = j.result.unwrap();
    assert_eq!(r.name, "ok-rotated.pdf");
    assert_eq!(r.media_type, "application/pdf");
    assert_eq!(r.size, 14);
    assert_eq!(j.attempts, 1);
    assert_eq!(j.report.unwrap()["pages_out"], 1);
    let p = e.storage.local_path(&r.key).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), b"%PDF-1.7 input");
    e.pool.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_outputs_are_zipped() {
    let e = env(1, Duration::from_secs(5)).await;
    let id = submit(&e, "many.pdf").await;
    let j = wait_state(&e, &id, JobState::Succeeded).await;
    let r = j.result.unwrap();
    assert_eq!(r.media_type, "application/zip");
    assert_eq!(r.name, "many-rotated.zip");
    let p = e.storage.local_path(&r.key).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile; print(sorted(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "['part-2.pdf', 'part-3.pdf', 'part.pdf']"
    );
    e.pool.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_after_backoff() {
    let e = env(1, Duration::from_secs(5)).await;
    let id = submit(&e, "flaky.pdf").await;
    let j = wait_state(&e, &id, JobState::Succeeded).await;
    assert_eq!(j.attempts, 2, "one failure, one retry");
    e.pool.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_job() {
    let e = env(1, Duration::from_secs(3)).await;
    let id = submit(&e, "slow.pdf").await;
    wait_state(&e, &id, JobState::Running).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    e.store.cancel(&id, now_ms()).await.unwrap();
    e.pool.cancel_local(&id);
    let j = wait_state(&e, &id, JobState::Cancelled).await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(j.result.is_none());
    assert_eq!(e.pool.active(), 0);
    e.pool.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_requeues_running_jobs_after_the_grace() {
    let e = env(1, Duration::from_secs(3)).await;
    let id = submit(&e, "slow.pdf").await;
    wait_state(&e, &id, JobState::Running).await;
    assert!(e.pool.healthy());
    let t = Instant::now();
    e.pool.shutdown(Duration::from_millis(300)).await;
    assert!(t.elapsed() < Duration::from_secs(5));
    let j = e.store.get(&id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(j.attempts, 0, "a shutdown does not spend an attempt");
    assert!(!e.pool.healthy());
}

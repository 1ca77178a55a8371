//! Scale-out on real servers: 2 API processes (`folio serve --workers 0`) and
//! 3 worker processes (`folio worker`) sharing PostgreSQL (a fresh database),
//! Redis and an S3-compatible store (moto, started here on a free port).
//!
//! 100 jobs of real corpus files go in through both API nodes; one worker is
//! killed with SIGKILL in the middle of a job. Every job succeeds, every
//! result downloads identically from either node, no result is stored twice
//! (the bucket holds exactly one input and one result per job), and after
//! the retention no object remains. An event stream on node A follows, live
//! through Redis, a job submitted through node B and run by a worker.
//!
//! Needs PostgreSQL, Redis and moto (scripts/test-setup.sh); fails loudly
//! without them unless FOLIO_SKIP_PG=1 / FOLIO_SKIP_S3=1 / FOLIO_SKIP_REDIS=1.

mod service_support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use folio_db::postgres::testing::TestDatabase;
use folio_storage::S3Storage;
use folio_storage::testing::MotoServer;
use service_support::{Server, connect, corpus, read_head};

const BUCKET: &str = "scaleout";
/// Small corpus files that every operation below handles quickly.
const SMALL: &[&str] = &[
    "dev/pdf/pdf20__Simple_PDF_2.0_file.pdf",
    "dev/pdf/pdf20__PDF_2.0_via_incremental_save.pdf",
    "dev/pdf/pdfjs__issue17215.pdf",
    "dev/pdf/pdfjs__multiple-filters-length-zero.pdf",
    "dev/pdf/pysample__pdflatex-forms.pdf",
    "dev/pdf/pysample__libreoffice-form.pdf",
    "dev/pdf/ocrmypdf__jbig2.pdf",
    "dev/pdf/ocrmypdf__epson.pdf",
    "dev/pdf/pysample__google-doc-document.pdf",
    "dev/pdf/pdfjs__issue9972-1.pdf",
];
/// A few seconds of work (lossy compression with SSIM checks): long enough
/// to kill its worker in the middle, and to report progress.
const SLOW: &str = "dev/pdf/deb__reportlab-userguide.pdf";

struct Worker {
    child: Child,
}

impl Worker {
    fn start(data: &Path, env: &[(String, String)], slots: &str) -> Worker {
        std::fs::create_dir_all(data).unwrap();
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(["worker", "--data-dir"])
            .arg(data)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("FOLIO_WORKERS", slots)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start folio worker");
        Worker { child }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn skip() -> bool {
    ["FOLIO_SKIP_PG", "FOLIO_SKIP_S3", "FOLIO_SKIP_REDIS"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| v == "1"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bucket_keys(rt: &tokio::runtime::Runtime, moto: &MotoServer) -> Vec<String> {
    let settings = moto.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = S3Storage::from_url_with(&format!("s3://{BUCKET}"), &pairs).unwrap();
    rt.block_on(s.list_keys()).unwrap()
}

fn submit(node: &Server, op: &str, file: &Path, fields: &[(&str, &str)]) -> String {
    let bytes = std::fs::read(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let r = node.post_form(
        &format!("/v1/{op}"),
        &[("prefer", "respond-async")],
        &[("file", &name, &bytes)],
        fields,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// Follow `/v1/jobs/{id}/events` on `addr` until a final state; the
/// (event name, data) pairs seen.
fn follow_events(addr: String, id: String) -> Vec<(String, serde_json::Value)> {
    let mut s = connect(&addr);
    write!(
        s,
        "GET /v1/jobs/{id}/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let (status, _) = read_head(&mut r);
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    let mut name = String::new();
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        // Chunked framing: chunk-size lines are hex digits only; skip them.
        let l = line.trim_end();
        if let Some(n) = l.strip_prefix("event:") {
            name = n.trim().to_string();
        } else if let Some(d) = l.strip_prefix("data:") {
            let v: serde_json::Value = serde_json::from_str(d.trim()).unwrap();
            let terminal = name == "state"
                && matches!(
                    v["state"].as_str(),
                    Some("succeeded" | "failed" | "cancelled")
                );
            seen.push((name.clone(), v));
            if terminal {
                break;
            }
        }
    }
    seen
}

#[test]
fn two_api_nodes_three_workers_shared_postgres_redis_s3() {
    if skip() {
        eprintln!("skipped (FOLIO_SKIP_*)");
        return;
    }
    let Some(slow) = corpus(SLOW) else { return };
    let small: Vec<PathBuf> = SMALL.iter().filter_map(|f| corpus(f)).collect();
    if small.len() < SMALL.len() {
        return;
    }
    let started = Instant::now();
    let rt = rt();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let tdb = rt.block_on(TestDatabase::create()).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    let mut env: Vec<(String, String)> = vec![
        ("FOLIO_DATABASE_URL".into(), tdb.url.clone()),
        ("FOLIO_REDIS_URL".into(), redis_url()),
        ("FOLIO_STORAGE_URL".into(), format!("s3://{BUCKET}/jobs")),
        // Every job runs (no result reuse), so every job stores its own result.
        ("FOLIO_CACHE".into(), "false".into()),
        ("FOLIO_RETENTION".into(), "45s".into()),
        ("FOLIO_CLEANUP_INTERVAL".into(), "1s".into()),
        ("FOLIO_LEASE".into(), "3s".into()),
        ("FOLIO_LOG_FORMAT".into(), "json".into()),
        // One test client submits 100 jobs in a burst: the per-client
        // budgets (shared through Redis) would answer 429 by design.
        ("FOLIO_RATE_LIMIT_UPLOADS".into(), "off".into()),
        ("FOLIO_RATE_LIMIT_READS".into(), "off".into()),
    ];
    for (k, v) in moto.settings() {
        env.push((k.to_ascii_uppercase(), v));
    }

    // `folio migrate` applies the schema once; the nodes then find it done.
    let out = Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("migrate")
        .arg("--data-dir")
        .arg(tmp.path().join("migrate"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "folio migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));

    let api_env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("FOLIO_WORKERS", "0")])
        .collect();
    let a = Server::start(&tmp.path().join("api-a"), &api_env);
    let b = Server::start(&tmp.path().join("api-b"), &api_env);

    // Worker 1 alone takes the slow job; it is killed while running it.
    let mut w1 = Worker::start(&tmp.path().join("worker-1"), &env, "1");
    let doomed = submit(&a, "compress", &slow, &[("level", "strong")]);
    let t = Instant::now();
    loop {
        let j = b.get(&format!("/v1/jobs/{doomed}")).json();
        if j["status"] == "running" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the slow job never started: {j}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    w1.kill9();
    let j = b.get(&format!("/v1/jobs/{doomed}")).json();
    assert_eq!(
        j["status"], "running",
        "killed in the middle of the job: {j}"
    );

    let _w2 = Worker::start(&tmp.path().join("worker-2"), &env, "2");
    let _w3 = Worker::start(&tmp.path().join("worker-3"), &env, "2");

    // A job submitted through B, followed through A (no workers in A: its
    // progress events can only come from Redis).
    let followed = submit(&b, "compress", &slow, &[("level", "balanced")]);
    let sse = {
        let (addr, id) = (a.addr.clone(), followed.clone());
        std::thread::spawn(move || follow_events(addr, id))
    };

    let mut jobs = vec![doomed.clone(), followed.clone()];
    let ops: [(&str, &[(&str, &str)]); 3] = [
        ("rotate", &[("angle", "90")]),
        ("compress", &[("level", "lossless")]),
        ("text", &[]),
    ];
    for n in 0..98usize {
        let node = if n.is_multiple_of(2) { &a } else { &b };
        let (op, fields) = ops[n % ops.len()];
        jobs.push(submit(node, op, &small[n % small.len()], fields));
    }
    assert_eq!(jobs.len(), 100);

    // Wait for all; download each result from both nodes as it finishes.
    let mut pending: Vec<String> = jobs.clone();
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut round = 0usize;
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} jobs unfinished, e.g. {}",
            pending.len(),
            b.get(&format!("/v1/jobs/{}", pending[0])).text()
        );
        round += 1;
        let mut still = Vec::new();
        for id in pending {
            let node = if round.is_multiple_of(2) { &a } else { &b };
            let j = node.get(&format!("/v1/jobs/{id}")).json();
            match j["status"].as_str() {
                Some("succeeded") => {
                    let ra = a.get(&format!("/v1/jobs/{id}/result"));
                    let rb = b.get(&format!("/v1/jobs/{id}/result"));
                    assert_eq!((ra.status, rb.status), (200, 200), "{id}");
                    if j["output"]["media_type"] == "application/pdf" {
                        assert!(ra.body.starts_with(b"%PDF-"), "{id}");
                    }
                    assert_eq!(ra.body, rb.body, "{id}: same result from both nodes");
                    assert_eq!(ra.body.len() as u64, j["output"]["bytes"].as_u64().unwrap());
                }
                Some("failed" | "cancelled") => panic!("job {id} did not succeed: {j}"),
                _ => still.push(id),
            }
        }
        pending = still;
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let processed = started.elapsed();

    // The killed job was re-delivered after its lease expired and ran again.
    let d = a.get(&format!("/v1/jobs/{doomed}")).json();
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["attempts"], 2, "{d}");

    // One input and one result per job: nothing stored twice, nothing orphaned.
    let keys = bucket_keys(&rt, &moto);
    assert_eq!(
        keys.len(),
        200,
        "objects in the bucket after 100 jobs: {}",
        keys.len()
    );
    assert!(keys.iter().all(|k| k.starts_with("jobs/")), "{keys:?}");

    // The event stream on A saw the job run on a worker, live.
    let events = sse.join().unwrap();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"progress"),
        "progress events relayed through Redis to node A: {names:?}"
    );
    assert!(
        events
            .iter()
            .any(|(n, v)| n == "state" && v["state"] == "running"),
        "{events:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1["state"].as_str()),
        ("state", Some("succeeded"))
    );
    let seqs: Vec<i64> = events
        .iter()
        .map(|(_, v)| v["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // Readiness names each dependency with its latency.
    let ready = a.get("/health/ready");
    assert_eq!(ready.status, 200, "{}", ready.text());
    let r = ready.json();
    assert_eq!(r["status"], "ok", "{r}");
    for dep in ["database", "storage", "redis"] {
        assert_eq!(r["checks"][dep]["status"], "ok", "{r}");
        assert!(r["checks"][dep]["latency_ms"].as_f64().is_some(), "{r}");
    }

    // After the retention, cleanup (one node per slot) empties the bucket.
    let t = Instant::now();
    loop {
        let left = bucket_keys(&rt, &moto);
        if left.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "{} objects left after retention",
            left.len()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(b.get(&format!("/v1/jobs/{doomed}/result")).status, 410);
    assert_eq!(a.get(&format!("/v1/jobs/{followed}/result")).status, 410);
    eprintln!(
        "scale-out: 100 jobs processed in {processed:?}, all in {:?}",
        started.elapsed()
    );
    drop((a, b));
    rt.block_on(tdb.drop_db()).unwrap();
}

fn redis_url() -> String {
    std::env::var("FOLIO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

//! The child supervisor, driven with small shell programs standing in for
//! `folio __run-job`: limits applied, crashes, time limits, cancellation.

use std::time::{Duration, Instant};

use folio_jobs::OpOptions;
use folio_worker::protocol::ChildRequest;
use folio_worker::runner::{ChildCommand, ChildLimits, ChildOutcome, Control, run_child};
use tokio::sync::mpsc;

fn sh(script: &str) -> ChildCommand {
    ChildCommand {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
    }
}

fn limits() -> ChildLimits {
    ChildLimits {
        address_space: Some(1 << 30),
        cpu_secs: Some(60),
        soft_timeout: Duration::from_secs(20),
        hard_timeout: Duration::from_secs(30),
        cancel_grace: Duration::from_secs(5),
    }
}

fn request() -> ChildRequest {
    ChildRequest {
        job_id: "t".into(),
        options: OpOptions::Merge { sanitize: false },
        password: None,
        inputs: vec![],
        out_dir: "/nonexistent".into(),
        limits: folio_engine::Limits::default(),
    }
}

async fn run(cmd: ChildCommand, limits: ChildLimits) -> (ChildOutcome, Vec<f32>) {
    let (_tx, rx) = mpsc::channel(1);
    let mut progress = Vec::new();
    let o = run_child(&cmd, limits, &request(), rx, |p| progress.push(p)).await;
    (o, progress)
}

fn failed_code(o: &ChildOutcome) -> (&str, &str) {
    match o {
        ChildOutcome::Failed(e) => (e.code.as_str(), e.message.as_str()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn limits_are_applied_and_progress_flows() {
    let script = r#"read req; case "$req" in *'"job_id":"t"'*) ;; *) exit 9;; esac
printf '{"type":"progress","progress":0.5}\n'
printf '{"type":"result","report":{"as":"%s","cpu":"%s","core":"%s"},"outputs":[]}\n' "$(ulimit -v)" "$(ulimit -t)" "$(ulimit -c)""#;
    let (o, progress) = run(sh(script), limits()).await;
    assert_eq!(progress, [0.5]);
    match o {
        ChildOutcome::Done { report, outputs } => {
            assert!(outputs.is_empty());
            assert_eq!(report["as"], "1048576", "RLIMIT_AS in KiB");
            assert_eq!(report["cpu"], "60");
            assert_eq!(report["core"], "0");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn engine_failure_is_passed_through() {
    let script = r#"read req; echo '{"type":"result","error":{"code":"invalid_pdf","message":"not a PDF","retryable":false}}'"#;
    let (o, _) = run(sh(script), limits()).await;
    assert_eq!(failed_code(&o), ("invalid_pdf", "not a PDF"));
}

#[tokio::test]
async fn signals_and_aborts_are_crashes() {
    for (sig, word) in [
        ("SEGV", "SIGSEGV"),
        ("ABRT", "SIGABRT"),
        ("KILL", "SIGKILL"),
    ] {
        let (o, _) = run(sh(&format!("read req; kill -{sig} $$")), limits()).await;
        let (code, msg) = failed_code(&o);
        assert_eq!(code, "crashed");
        assert!(msg.contains(word), "{msg}");
    }
}

#[tokio::test]
async fn exit_without_result_is_a_crash_with_stderr() {
    let (o, _) = run(
        sh("read req; echo 'thread main has overflowed its stack' >&2; exit 3"),
        limits(),
    )
    .await;
    let (code, msg) = failed_code(&o);
    assert_eq!(code, "crashed");
    assert!(
        msg.contains("status 3") && msg.contains("overflowed"),
        "{msg}"
    );
}

#[tokio::test]
async fn runaway_allocation_hits_the_address_space_limit() {
    // python3 raises MemoryError under RLIMIT_AS and exits 1 without a result.
    let mut l = limits();
    l.address_space = Some(512 << 20);
    let (o, _) = run(
        ChildCommand {
            program: "python3".into(),
            args: vec![
                "-c".into(),
                "import sys; sys.stdin.readline(); b = bytearray(2 * 10**9)".into(),
            ],
        },
        l,
    )
    .await;
    let (code, msg) = failed_code(&o);
    assert_eq!(code, "crashed");
    assert!(msg.contains("MemoryError"), "{msg}");
}

#[tokio::test]
async fn soft_limit_asks_the_child_to_stop() {
    // A cooperative child: stops when it reads `cancel`.
    let script = r#"read req; read c; [ "$c" = cancel ] && echo '{"type":"result","error":{"code":"cancelled","message":"stopped"}}'"#;
    let mut l = limits();
    l.soft_timeout = Duration::from_millis(200);
    let t = Instant::now();
    let (o, _) = run(sh(script), l).await;
    assert_eq!(failed_code(&o).0, "timeout");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn hard_limit_kills_a_child_that_ignores_cancel() {
    let mut l = limits();
    l.soft_timeout = Duration::from_millis(100);
    l.hard_timeout = Duration::from_millis(400);
    let t = Instant::now();
    let (o, _) = run(sh("read req; exec sleep 30"), l).await;
    let (code, msg) = failed_code(&o);
    assert_eq!(code, "timeout");
    assert!(msg.contains("killed"), "{msg}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[tokio::test]
async fn cancel_and_kill_controls() {
    let script = r#"read req; read c; [ "$c" = cancel ] && echo '{"type":"result","error":{"code":"cancelled","message":"stopped"}}'"#;
    let (tx, rx) = mpsc::channel(1);
    let h =
        tokio::spawn(async move { run_child(&sh(script), limits(), &request(), rx, |_| {}).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(Control::Cancel).await.unwrap();
    assert_eq!(h.await.unwrap(), ChildOutcome::Cancelled);

    // A child ignoring cancel is killed after the grace and still counts as cancelled.
    let mut l = limits();
    l.cancel_grace = Duration::from_millis(200);
    let (tx, rx) = mpsc::channel(1);
    let h = tokio::spawn(async move {
        run_child(&sh("read req; exec sleep 30"), l, &request(), rx, |_| {}).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(Control::Cancel).await.unwrap();
    assert_eq!(h.await.unwrap(), ChildOutcome::Cancelled);

    let (tx, rx) = mpsc::channel(1);
    let h = tokio::spawn(async move {
        run_child(
            &sh("read req; exec sleep 30"),
            limits(),
            &request(),
            rx,
            |_| {},
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(Control::Kill).await.unwrap();
    assert_eq!(h.await.unwrap(), ChildOutcome::Killed);
}

//! Robustness check: every file of a corpus through every operation.
//!
//! Each file runs in its own child process (this same binary with `--one`), so
//! a panic, an abort or a hang in one operation is caught, counted and named
//! instead of taking the run down. The parent prints counts per operation and
//! outcome, lists every crash/timeout, and exits non-zero if there was any.
//!
//! ```text
//! cargo run -p folio-engine --example corpus_check -- ../shared/corpus/pdfjs [--jobs 2] [--timeout 120]
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use folio_engine::compress::{self, CompressOptions, Level};
use folio_engine::{Ctx, Input, Limits, PageSpec};

/// Wall-time budget the engine gets per operation; the parent's kill timeout
/// is a second, outer bound for anything the engine's checks do not reach.
const OP_SECONDS: u64 = 30;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one") {
        let Some(path) = args.get(2) else {
            eprintln!("--one needs a file");
            std::process::exit(2);
        };
        run_one(Path::new(path));
        return;
    }
    let mut dir = None;
    let mut jobs = 2usize;
    let mut timeout = 120u64;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--jobs" => jobs = it.next().and_then(|v| v.parse().ok()).unwrap_or(2),
            "--timeout" => timeout = it.next().and_then(|v| v.parse().ok()).unwrap_or(120),
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: corpus_check DIR [--jobs N] [--timeout SECS]");
        std::process::exit(2);
    };
    std::process::exit(run_all(&dir, jobs.max(1), Duration::from_secs(timeout)));
}

fn ctx() -> Ctx {
    Ctx::new(Limits {
        wall_time: Duration::from_secs(OP_SECONDS),
        ..Limits::default()
    })
}

/// Child: run every operation on one file and print `op<TAB>outcome` lines.
fn run_one(path: &Path) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            println!("read\tio:{e}");
            return;
        }
    };
    let outcome = |r: folio_engine::Result<()>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.code().to_string(),
    };
    let report = |op: &str, r: folio_engine::Result<()>| {
        println!("{op}\t{}", outcome(r));
    };
    report(
        "info",
        folio_engine::info::info(&bytes, None, &ctx()).map(drop),
    );
    for (name, level) in [
        ("compress_lossless", Level::Lossless),
        ("compress_balanced", Level::Balanced),
    ] {
        let opts = CompressOptions {
            level,
            ..Default::default()
        };
        report(
            name,
            compress::compress(&bytes, &opts, &ctx()).and_then(|o| {
                // Never larger than the input.
                if o.report.bytes_out > o.report.bytes_in {
                    Err(folio_engine::Error::Internal(format!(
                        "output larger than input: {} > {}",
                        o.report.bytes_out, o.report.bytes_in
                    )))
                } else {
                    Ok(())
                }
            }),
        );
    }
    let first: PageSpec = match "1".parse() {
        Ok(p) => p,
        Err(_) => PageSpec::all(),
    };
    report(
        "extract",
        folio_engine::split::extract(
            &bytes,
            &folio_engine::split::ExtractOptions {
                pages: first.clone(),
                password: None,
            },
            &ctx(),
        )
        .map(drop),
    );
    report(
        "split",
        folio_engine::split::split_every(
            &bytes,
            &folio_engine::split::SplitOptions {
                every: 50,
                password: None,
            },
            &ctx(),
        )
        .map(drop),
    );
    report(
        "rotate",
        folio_engine::rotate::rotate(
            &bytes,
            &folio_engine::rotate::RotateOptions {
                angle: 90,
                pages: PageSpec::all(),
                password: None,
            },
            &ctx(),
        )
        .map(drop),
    );
    report(
        "merge",
        folio_engine::merge::merge(
            &[Input::new("a", &bytes), Input::new("b", &bytes)],
            &Default::default(),
            &ctx(),
        )
        .map(drop),
    );
    report(
        "text",
        folio_engine::text::text(
            &bytes,
            &folio_engine::text::TextOptions {
                pages: PageSpec::all(),
                password: None,
            },
            &ctx(),
        )
        .map(drop),
    );
    report(
        "render",
        folio_engine::render::render(
            &bytes,
            &folio_engine::render::RenderOptions {
                page: 1,
                dpi: 36.0,
                password: None,
            },
            &ctx(),
        )
        .map(drop),
    );
}

#[derive(Default)]
struct Tally {
    /// op → outcome → count
    counts: BTreeMap<String, BTreeMap<String, usize>>,
    /// files whose child crashed or hung, with what it said
    failures: Vec<String>,
    slowest: Vec<(Duration, String)>,
}

/// Parent: fan files out to children, `jobs` at a time, and tally.
fn run_all(dir: &Path, jobs: usize, timeout: Duration) -> i32 {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()) == Some("pdf"))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            return 2;
        }
    };
    files.sort();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find own executable: {e}");
            return 2;
        }
    };
    let started = Instant::now();
    let queue = Mutex::new(files.clone());
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(file) = next else { break };
                    let t0 = Instant::now();
                    let (lines, failure) = run_child(&exe, &file, timeout);
                    let took = t0.elapsed();
                    if let Ok(mut t) = tally.lock() {
                        for l in lines.lines() {
                            if let Some((op, outcome)) = l.split_once('\t') {
                                *t.counts
                                    .entry(op.to_string())
                                    .or_default()
                                    .entry(outcome.to_string())
                                    .or_default() += 1;
                            }
                        }
                        if let Some(f) = failure {
                            t.failures.push(format!("{}: {f}", file.display()));
                        }
                        t.slowest.push((took, file.display().to_string()));
                    }
                }
            });
        }
    });
    let mut t = tally.into_inner().unwrap_or_default();
    println!(
        "corpus_check: {} files from {} in {:.1} s",
        files.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    for (op, outcomes) in &t.counts {
        let total: usize = outcomes.values().sum();
        let parts: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}={n}")).collect();
        println!("  {op:<18} {total:>5}  {}", parts.join(" "));
    }
    t.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!("  slowest files:");
    for (d, f) in t.slowest.iter().take(5) {
        println!("    {:>6.1} s  {f}", d.as_secs_f64());
    }
    let internal: usize = t
        .counts
        .values()
        .map(|o| {
            o.get("internal").copied().unwrap_or(0)
                + o.get("internal_output_check").copied().unwrap_or(0)
        })
        .sum();
    if internal > 0 {
        println!("  note: {internal} internal error(s): bugs to look at, not crashes");
    }
    if t.failures.is_empty() {
        println!("corpus_check: no crash, no abort, no hang");
        0
    } else {
        println!(
            "corpus_check: {} file(s) crashed or hung:",
            t.failures.len()
        );
        for f in &t.failures {
            println!("  {f}");
        }
        1
    }
}

/// Run the child on one file; returns its stdout and, if it did not exit
/// cleanly within `timeout`, why.
fn run_child(exe: &Path, file: &Path, timeout: Duration) -> (String, Option<String>) {
    let mut child = match Command::new(exe)
        .arg("--one")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return (String::new(), Some(format!("spawn failed: {e}"))),
    };
    // Drain pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if t0.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let last_op = stdout
        .lines()
        .last()
        .and_then(|l| l.split('\t').next())
        .unwrap_or("start");
    let failure = match status {
        None => Some(format!(
            "hung (killed after {} s) after op '{last_op}'",
            timeout.as_secs()
        )),
        Some(st) if st.success() => None,
        Some(st) => {
            let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            Some(format!("crashed ({st}) after op '{last_op}': {tail}"))
        }
    };
    (stdout, failure)
}

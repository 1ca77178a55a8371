//! The child side: `folio __run-job`. Reads a [`ChildRequest`], runs one
//! engine operation, writes output files and JSON lines. Runs in its own
//! process, under OS resource limits set by the parent, so an abort, a stack
//! overflow or a runaway allocation ends this process only.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use folio_engine::compress::{self, CompressOptions};
use folio_engine::images::{self, ImagesOptions};
use folio_engine::merge::{self, MergeOptions};
use folio_engine::render::{self, RenderOptions};
use folio_engine::rotate::{self, RotateOptions};
use folio_engine::split::{self, ExtractOptions, SplitOptions};
use folio_engine::text::{self, TextOptions};
use folio_engine::{Ctx, Error, Input, Output, PageSpec};
use folio_jobs::{JobError, OpOptions, codes};

use crate::protocol::{ChildMessage, ChildOutput, ChildRequest};

/// An engine call with parsed, typed options.
#[derive(Debug, Clone)]
pub enum EngineCall {
    Compress(CompressOptions),
    Merge(MergeOptions),
    Images(ImagesOptions),
    Extract(ExtractOptions),
    SplitEvery(SplitOptions),
    Rotate(RotateOptions),
    Text(TextOptions),
    Render(RenderOptions),
}

fn pages(spec: Option<&str>) -> Result<PageSpec, Error> {
    spec.unwrap_or("").parse::<PageSpec>()
}

/// Turn stored options into engine options, checking what can be checked
/// without the input (enumerations, page syntax, ranges). The API calls this
/// before queueing so bad options are a 400, not a failed job.
pub fn engine_call(options: &OpOptions, password: Option<String>) -> Result<EngineCall, Error> {
    let bad = |m: &str| Err(Error::InvalidOptions(m.to_string()));
    Ok(match options {
        OpOptions::Compress {
            level,
            target_size,
            min_ssim,
            ..
        } => {
            if let Some(s) = min_ssim
                && !(0.0..=1.0).contains(s)
            {
                return bad("min_ssim must be between 0 and 1");
            }
            EngineCall::Compress(CompressOptions {
                level: level.parse()?,
                target_size: *target_size,
                min_ssim: *min_ssim,
                password,
            })
        }
        OpOptions::Merge { .. } => EngineCall::Merge(MergeOptions { password }),
        OpOptions::ImagesToPdf {
            page_size,
            margin,
            dpi,
        } => {
            if !margin.is_finite() || *margin < 0.0 || *margin > 1000.0 {
                return bad("margin must be between 0 and 1000 points");
            }
            if let Some(d) = dpi
                && (!d.is_finite() || *d <= 0.0 || *d > 10_000.0)
            {
                return bad("dpi must be between 0 and 10000");
            }
            EngineCall::Images(ImagesOptions {
                page_size: page_size.parse()?,
                margin_pt: *margin,
                dpi: *dpi,
            })
        }
        OpOptions::Split { pages: p, every } => match (p, every) {
            (Some(p), None) => EngineCall::Extract(ExtractOptions {
                pages: pages(Some(p))?,
                password,
            }),
            (None, Some(0)) => return bad("every must be at least 1"),
            (None, Some(n)) => EngineCall::SplitEvery(SplitOptions {
                every: *n,
                password,
            }),
            (Some(_), Some(_)) => return bad("give either pages or every, not both"),
            (None, None) => return bad("split needs pages (e.g. 1-3) or every (e.g. 1)"),
        },
        OpOptions::Rotate { angle, pages: p } => {
            if !matches!(angle, 90 | 180 | 270) {
                return bad("angle must be 90, 180 or 270");
            }
            EngineCall::Rotate(RotateOptions {
                angle: *angle,
                pages: pages(p.as_deref())?,
                password,
            })
        }
        OpOptions::Text { pages: p } => EngineCall::Text(TextOptions {
            pages: pages(p.as_deref())?,
            password,
        }),
        OpOptions::Render { page, dpi } => {
            if *page == 0 {
                return bad("page numbers start at 1");
            }
            if !dpi.is_finite() || *dpi < 1.0 || *dpi > 2400.0 {
                return bad("dpi must be between 1 and 2400");
            }
            EngineCall::Render(RenderOptions {
                page: *page,
                dpi: *dpi,
                password,
            })
        }
    })
}

/// Run the call on the inputs (already in memory).
pub fn run_call(call: &EngineCall, inputs: &[Input<'_>], ctx: &Ctx) -> Result<Output, Error> {
    let one = || -> Result<&[u8], Error> {
        match inputs {
            [i] => Ok(i.bytes),
            _ => Err(Error::InvalidOptions(format!(
                "this operation takes exactly one input, got {}",
                inputs.len()
            ))),
        }
    };
    match call {
        EngineCall::Compress(o) => compress::compress(one()?, o, ctx),
        EngineCall::Merge(o) => merge::merge(inputs, o, ctx),
        EngineCall::Images(o) => images::images_to_pdf(inputs, o, ctx),
        EngineCall::Extract(o) => split::extract(one()?, o, ctx),
        EngineCall::SplitEvery(o) => split::split_every(one()?, o, ctx),
        EngineCall::Rotate(o) => rotate::rotate(one()?, o, ctx),
        EngineCall::Text(o) => text::text(one()?, o, ctx),
        EngineCall::Render(o) => render::render(one()?, o, ctx),
    }
}

/// Write one JSON line to stdout; stdout is the protocol channel, so writes
/// are serialized and flushed.
fn emit(msg: &ChildMessage) {
    if let Ok(line) = serde_json::to_string(msg) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn engine_error(e: &Error) -> JobError {
    JobError::new(e.code(), e.to_string(), e.is_retryable())
}

fn execute(
    req: &ChildRequest,
    cancel: Arc<AtomicBool>,
) -> Result<(serde_json::Value, Vec<ChildOutput>), JobError> {
    let call = engine_call(&req.options, req.password.clone()).map_err(|e| engine_error(&e))?;
    let io_err = |what: &str, p: &Path, e: std::io::Error| {
        JobError::new(codes::STORAGE, format!("{what} {}: {e}", p.display()), true)
    };
    let mut datas = Vec::with_capacity(req.inputs.len());
    for i in &req.inputs {
        let bytes = std::fs::read(&i.path).map_err(|e| io_err("cannot read input", &i.path, e))?;
        datas.push(bytes);
    }
    let inputs: Vec<Input<'_>> = req
        .inputs
        .iter()
        .zip(&datas)
        .map(|(i, d)| Input::new(&i.name, d))
        .collect();
    // Progress lines at most once per percent.
    let last = Arc::new(AtomicU32::new(u32::MAX));
    let ctx = Ctx::new(req.limits.clone())
        .with_cancel(cancel)
        .with_progress(move |f| {
            let pct = (f * 100.0) as u32;
            if last.swap(pct, Ordering::Relaxed) != pct {
                emit(&ChildMessage::Progress { progress: f });
            }
        });
    let mut out = run_call(&call, &inputs, &ctx).map_err(|e| engine_error(&e))?;
    if req.options.sanitize() {
        folio_engine::sanitize::sanitize_output(&mut out, &ctx).map_err(|e| engine_error(&e))?;
    }
    drop(datas);
    let mut outputs = Vec::with_capacity(out.files.len());
    for (n, f) in out.files.iter().enumerate() {
        let file = format!("out-{n:04}");
        let path = req.out_dir.join(&file);
        std::fs::write(&path, &f.bytes).map_err(|e| io_err("cannot write output", &path, e))?;
        outputs.push(ChildOutput {
            file,
            name: folio_jobs::names::sanitize(&f.name),
            media_type: f.media_type.to_string(),
            size: f.bytes.len() as u64,
        });
    }
    let report = serde_json::to_value(&out.report).unwrap_or(serde_json::Value::Null);
    Ok((report, outputs))
}

/// Entry point of `folio __run-job`. Returns the process exit code: 0 when a
/// result line was written (even a failure result), 2 when the request
/// itself was unreadable.
pub fn child_main() -> i32 {
    let stdin = std::io::stdin();
    let mut first = String::new();
    if stdin.lock().read_line(&mut first).is_err() {
        eprintln!("folio __run-job: cannot read the request from stdin");
        return 2;
    }
    let req: ChildRequest = match serde_json::from_str(&first) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("folio __run-job: bad request: {e}");
            return 2;
        }
    };
    folio_engine::work_on_this_thread();
    let cancel = Arc::new(AtomicBool::new(false));
    {
        // Watch stdin for `cancel` (or EOF: the parent is gone).
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.trim() == "cancel" => break,
                    Ok(_) => {}
                }
            }
            cancel.store(true, Ordering::Relaxed);
        });
    }
    // A panic becomes an `internal` failure with its message; the default
    // hook would also print it to stderr, which the parent logs.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(&req, cancel)));
    let msg = match result {
        Ok(Ok((report, outputs))) => ChildMessage::Result {
            report: Some(report),
            outputs,
            error: None,
        },
        Ok(Err(error)) => ChildMessage::Result {
            report: None,
            outputs: Vec::new(),
            error: Some(error),
        },
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            ChildMessage::Result {
                report: None,
                outputs: Vec::new(),
                error: Some(JobError::new(
                    codes::INTERNAL,
                    format!("the operation panicked: {what}"),
                    false,
                )),
            }
        }
    };
    emit(&msg);
    0
}

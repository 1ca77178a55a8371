//! The engine subcommands: read files, call the engine, write files, report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use folio_engine::compress::{self, CompressOptions};
use folio_engine::images::{self, ImagesOptions};
use folio_engine::merge::{self, MergeOptions};
use folio_engine::render::{self, RenderOptions};
use folio_engine::rotate::{self, RotateOptions};
use folio_engine::split::{self, ExtractOptions, SplitOptions};
use folio_engine::text::{self, TextOptions};
use folio_engine::{Ctx, Input, Limits, Output, PageSpec, Report};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{Cli, Command, Common};
use crate::files;

fn ctx(common: &Common) -> Ctx {
    Ctx::new(Limits {
        wall_time: Duration::from_secs(common.timeout),
        ..Limits::default()
    })
}

fn pages(spec: Option<&str>) -> Result<PageSpec> {
    Ok(spec.unwrap_or("").parse::<PageSpec>()?)
}

/// Print reports: JSON on stdout with `--json`, else one summary line on stderr.
fn report(common: &Common, reports: &[(PathBuf, Report)]) -> Result<()> {
    if common.json {
        let v: Vec<_> = reports
            .iter()
            .map(|(p, r)| serde_json::json!({"input": p, "report": r}))
            .collect();
        let v = if v.len() == 1 {
            v[0].clone()
        } else {
            serde_json::Value::Array(v)
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (p, r) in reports {
            eprintln!("{}: {}", p.display(), summary(r));
        }
    }
    Ok(())
}

fn summary(r: &Report) -> String {
    let mut s = format!("{} {} → {} bytes", r.operation, r.bytes_in, r.bytes_out);
    if r.operation == "compress" && r.bytes_in > 0 {
        s.push_str(&format!(" ({:.1}% saved)", (1.0 - r.ratio()) * 100.0));
    }
    if r.pages_out > 0 {
        s.push_str(&format!(", {} page(s)", r.pages_out));
    }
    s.push_str(&format!(", {} ms", r.elapsed_ms));
    if r.kept_original {
        s.push_str(", original kept (nothing made it smaller)");
    }
    s
}

/// Run `op` over each input, writing each result to its target. A progress
/// bar is shown on a terminal for batches; never when stderr is piped.
fn batch(
    inputs: &[PathBuf],
    targets: Option<&[PathBuf]>,
    common: &Common,
    op: impl Fn(&[u8], &Ctx) -> folio_engine::Result<Output>,
) -> Result<()> {
    let bar = if inputs.len() > 1 && std::io::stderr().is_terminal() && !common.json {
        let b = ProgressBar::new(inputs.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut reports = Vec::new();
    let mut failures = 0usize;
    for (i, input) in inputs.iter().enumerate() {
        if let Some(b) = &bar {
            b.set_message(input.display().to_string());
        }
        let result = files::read(input).and_then(|bytes| {
            let out = op(&bytes, &ctx(common))?;
            match targets {
                Some(t) => write_outputs(&t[i], &out)?,
                None => {
                    // Text to stdout.
                    for f in &out.files {
                        use std::io::Write;
                        std::io::stdout().write_all(&f.bytes)?;
                    }
                }
            }
            Ok(out.report)
        });
        match result {
            Ok(r) => reports.push((input.clone(), r)),
            Err(e) if inputs.len() > 1 => {
                failures += 1;
                let msg = match e.downcast_ref::<folio_engine::Error>() {
                    Some(fe) => format!("error[{}]: {fe}", fe.code()),
                    None => format!("error: {e:#}"),
                };
                match &bar {
                    Some(b) => b.println(format!("{}: {msg}", input.display())),
                    None => eprintln!("{}: {msg}", input.display()),
                }
            }
            Err(e) => return Err(e),
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if targets.is_some() || common.json {
        report(common, &reports)?;
    }
    if failures > 0 {
        bail!("{failures} of {} input(s) failed", inputs.len());
    }
    Ok(())
}

/// Write one output: a single file to `target`, several into `target` as a directory.
fn write_outputs(target: &Path, out: &Output) -> Result<()> {
    match out.files.as_slice() {
        [one] => files::write_atomic(target, &one.bytes),
        many => {
            for f in many {
                files::write_atomic(&target.join(&f.name), &f.bytes)?;
            }
            Ok(())
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    folio_engine::work_on_this_thread();
    match cli.command {
        Command::Compress {
            inputs,
            dest,
            level,
            target_size,
            min_ssim,
            sanitize,
            common,
        } => {
            let opts = CompressOptions {
                level: level.parse()?,
                target_size,
                min_ssim,
                password: common.password.clone(),
            };
            let t = files::targets(
                &inputs,
                dest.output.as_deref(),
                dest.out_dir.as_deref(),
                "pdf",
            )?;
            batch(&inputs, Some(&t), &common, |b, c| {
                let mut out = compress::compress(b, &opts, c)?;
                if sanitize {
                    folio_engine::sanitize::sanitize_output(&mut out, c)?;
                }
                Ok(out)
            })
        }
        Command::Merge {
            inputs,
            output,
            sanitize,
            common,
        } => {
            let datas = inputs
                .iter()
                .map(|p| files::read(p))
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<String> = inputs.iter().map(|p| display_name(p)).collect();
            let ins: Vec<Input> = names
                .iter()
                .zip(&datas)
                .map(|(n, d)| Input::new(n, d))
                .collect();
            let opts = MergeOptions {
                password: common.password.clone(),
            };
            let c = ctx(&common);
            let mut out = merge::merge(&ins, &opts, &c)?;
            if sanitize {
                folio_engine::sanitize::sanitize_output(&mut out, &c)?;
            }
            write_outputs(&output, &out)?;
            report(&common, &[(output, out.report)])
        }
        Command::ImagesToPdf {
            inputs,
            output,
            page_size,
            margin,
            dpi,
            common,
        } => {
            let datas = inputs
                .iter()
                .map(|p| files::read(p))
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<String> = inputs.iter().map(|p| display_name(p)).collect();
            let ins: Vec<Input> = names
                .iter()
                .zip(&datas)
                .map(|(n, d)| Input::new(n, d))
                .collect();
            let opts = ImagesOptions {
                page_size: page_size.parse()?,
                margin_pt: margin,
                dpi,
            };
            let out = images::images_to_pdf(&ins, &opts, &ctx(&common))?;
            write_outputs(&output, &out)?;
            report(&common, &[(output, out.report)])
        }
        Command::Split {
            input,
            pages: spec,
            every,
            dest,
            common,
        } => {
            let bytes = files::read(&input)?;
            let out = match (spec, every) {
                (Some(spec), None) => {
                    let Some(o) = dest.output.clone() else {
                        bail!("split --pages writes one file: give -o FILE");
                    };
                    let opts = ExtractOptions {
                        pages: pages(Some(&spec))?,
                        password: common.password.clone(),
                    };
                    let out = split::extract(&bytes, &opts, &ctx(&common))?;
                    write_outputs(&o, &out)?;
                    (o, out)
                }
                (None, Some(n)) => {
                    let Some(d) = dest.out_dir.clone() else {
                        bail!("split --every writes several files: give --out-dir DIR");
                    };
                    let opts = SplitOptions {
                        every: n,
                        password: common.password.clone(),
                    };
                    let out = split::split_every(&bytes, &opts, &ctx(&common))?;
                    for f in &out.files {
                        files::write_atomic(&d.join(&f.name), &f.bytes)?;
                    }
                    (d, out)
                }
                _ => bail!("give --pages SPEC (extract) or --every N (chunks)"),
            };
            report(&common, &[(out.0, out.1.report)])
        }
        Command::Rotate {
            inputs,
            angle,
            pages: spec,
            dest,
            common,
        } => {
            let opts = RotateOptions {
                angle,
                pages: pages(spec.as_deref())?,
                password: common.password.clone(),
            };
            let t = files::targets(
                &inputs,
                dest.output.as_deref(),
                dest.out_dir.as_deref(),
                "pdf",
            )?;
            batch(&inputs, Some(&t), &common, |b, c| {
                rotate::rotate(b, &opts, c)
            })
        }
        Command::Text {
            inputs,
            pages: spec,
            dest,
            common,
        } => {
            let opts = TextOptions {
                pages: pages(spec.as_deref())?,
                password: common.password.clone(),
            };
            let t = if dest.output.is_none() && dest.out_dir.is_none() {
                None
            } else {
                Some(files::targets(
                    &inputs,
                    dest.output.as_deref(),
                    dest.out_dir.as_deref(),
                    "txt",
                )?)
            };
            batch(&inputs, t.as_deref(), &common, |b, c| {
                text::text(b, &opts, c)
            })
        }
        Command::Render {
            input,
            page,
            dpi,
            output,
            common,
        } => {
            let bytes = files::read(&input)?;
            let opts = RenderOptions {
                page,
                dpi,
                password: common.password.clone(),
            };
            let out = render::render(&bytes, &opts, &ctx(&common))?;
            write_outputs(&output, &out)?;
            report(&common, &[(output, out.report)])
        }
        Command::Serve(_)
        | Command::Worker(_)
        | Command::Migrate(_)
        | Command::Config(_)
        | Command::RunJob => {
            bail!("not an engine command")
        }
        Command::Backup { .. } | Command::Healthcheck { .. } | Command::Keys { .. } => {
            bail!("not an engine command")
        }
        Command::Info { inputs, common } => {
            let mut all = Vec::new();
            for p in &inputs {
                let bytes = files::read(p)?;
                let info =
                    folio_engine::info::info(&bytes, common.password.as_deref(), &ctx(&common))?;
                all.push((p.clone(), info));
            }
            if common.json {
                let v: Vec<_> = all
                    .iter()
                    .map(|(p, i)| serde_json::json!({"input": p, "info": i}))
                    .collect();
                let v = if v.len() == 1 {
                    v[0].clone()
                } else {
                    serde_json::Value::Array(v)
                };
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (p, i) in &all {
                    println!("{}:", p.display());
                    println!("  pages:      {}", i.pages);
                    println!("  version:    {}", i.version);
                    println!("  encrypted:  {}", i.encrypted);
                    println!("  producer:   {}", i.producer.as_deref().unwrap_or("-"));
                    println!("  bytes:      {}", i.bytes);
                    println!("  images:     {} ({} bytes)", i.images, i.image_bytes);
                    println!("  fonts:      {} ({} bytes)", i.fonts, i.font_bytes);
                    println!(
                        "  content:    {} stream(s) ({} bytes)",
                        i.content_streams, i.content_bytes
                    );
                }
            }
            Ok(())
        }
    }
}

/// A file name for bookmarks and reports: the last path component only.
fn display_name(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "document".into())
}

//! Compression. `lossless` rewrites the file compactly; the lossy levels
//! (`balanced` ≈ Ghostscript /ebook, `strong` ≈ /screen) also resample and
//! re-encode images (see [`crate::imaging`]).
//!
//! The pipeline, in order:
//! 1. open (decrypting with the password; the output is never encrypted),
//! 2. keep only what the trailer reaches,
//! 3. [`images`]: the per-image pass of the lossy levels,
//! 4. [`streams`]: every stream re-deflated losslessly when that is smaller,
//! 5. [`dedup`]: identical objects merged, unreachable ones dropped,
//! 6. write with object streams and a cross-reference stream,
//! 7. keep the input instead if the result is not smaller.

mod dedup;
mod images;
mod streams;

use lopdf::{Document, Object};

use crate::document::{self, WriteMode};
use crate::report::{OutputFile, PDF};
use crate::{Ctx, Error, Output, Report, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Lossless,
    #[default]
    Balanced,
    Strong,
}

impl std::str::FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lossless" => Ok(Level::Lossless),
            "balanced" | "" => Ok(Level::Balanced),
            "strong" => Ok(Level::Strong),
            other => Err(Error::InvalidOptions(format!(
                "unknown compression level '{other}' (use lossless, balanced or strong)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CompressOptions {
    pub level: Level,
    /// Aim for an output no larger than this many bytes (lossy levels).
    pub target_size: Option<u64>,
    /// Minimum page SSIM to keep (lossy levels); each level has a default.
    pub min_ssim: Option<f32>,
    pub password: Option<String>,
}

pub fn compress(input: &[u8], opts: &CompressOptions, ctx: &Ctx) -> Result<Output> {
    let opened = document::open(input, opts.password.as_deref(), ctx)?;
    let mut report = Report::new("compress");
    report.inputs = 1;
    report.bytes_in = input.len() as u64;
    report.pages_in = opened.page_count;
    report.pages_out = opened.page_count;
    let pages = opened.page_count;
    let mut doc = opened.doc;

    if opened.was_encrypted {
        report
            .notes
            .push("the input was encrypted: the output is written without encryption".into());
    }
    if is_signed(&doc) {
        report
            .notes
            .push("the document carries digital signatures: rewriting it invalidates them".into());
    }

    let objects_before = doc.objects.len();
    // Before pruning: the scan reads the input's object streams.
    let numbers = document::number_texts(input, &doc, ctx);
    tidy_trailer(&mut doc);
    document::repair_page_tree(&mut doc, ctx.limits.max_depth);
    let mut removed = dedup::prune(&mut doc);
    ctx.check()?;

    // Lossy levels spend most of their time on images: give that pass the
    // first half of the progress range.
    let (image_ctx, stream_ctx) = if opts.level == Level::Lossless {
        (ctx.clone(), ctx.clone())
    } else {
        (ctx.span(0.0, 0.5), ctx.span(0.5, 0.9))
    };
    let image_stats = images::recompress_images(&mut doc, opts.level, &image_ctx, &mut report)?;
    normalize_lengths(&mut doc);
    let stream_stats = streams::recompress(&mut doc, &stream_ctx)?;
    let deduplicated = dedup::deduplicate(&mut doc, ctx)?;
    removed += dedup::prune(&mut doc);
    ctx.progress(0.9);

    if stream_stats.over_stream_limit > 0 {
        report.notes.push(format!(
            "{} stream(s) decode past the per-stream limit and were left as they are",
            stream_stats.over_stream_limit
        ));
    }
    if stream_stats.over_document_limit > 0 {
        report.notes.push(format!(
            "the document's decode budget was spent: {} stream(s) were left as they are",
            stream_stats.over_document_limit
        ));
    }
    if stream_stats.undecodable > 0 {
        report.notes.push(format!(
            "{} stream(s) with damaged data were left as they are",
            stream_stats.undecodable
        ));
    }

    let out =
        document::write_with_numbers(&mut doc, pages, WriteMode::Compact, Some(&numbers), ctx)?;
    ctx.progress(1.0);

    report.detail("level", format!("{:?}", opts.level).to_lowercase());
    report.detail("objects_in", objects_before as u64);
    report.detail("objects_out", doc.objects.len() as u64);
    report.detail("streams_recompressed", stream_stats.recompressed as u64);
    report.detail("stream_bytes_saved", stream_stats.bytes_saved);
    report.detail(
        "images_recompressed",
        image_stats.images_recompressed as u64,
    );
    report.detail("image_bytes_saved", image_stats.bytes_saved);
    report.detail("objects_deduplicated", deduplicated as u64);
    report.detail("objects_removed", removed as u64);

    let bytes = if out.len() >= input.len() {
        report.kept_original = true;
        report.notes.push(
            "the rewritten file was not smaller than the input: the input is returned unchanged"
                .into(),
        );
        input.to_vec()
    } else {
        out
    };
    report.detail("bytes_saved", (input.len() - bytes.len()) as u64);
    tracing::debug!(
        bytes_in = input.len(),
        bytes_out = bytes.len(),
        streams = stream_stats.recompressed,
        deduplicated,
        removed,
        "compress done"
    );
    Ok(Output::single(
        OutputFile {
            name: "compressed.pdf".into(),
            media_type: PDF,
            bytes,
        },
        report,
        ctx,
    ))
}

/// Keep only the trailer entries that describe the document (`/Root`,
/// `/Info`, `/ID`). The rest describe the input file's layout (`/Prev`,
/// `/XRefStm`, a cross-reference stream's `/W`, `/Filter`, `/DecodeParms`...)
/// and would be wrong, or at best dead weight, in the new file.
fn tidy_trailer(doc: &mut Document) {
    let old = std::mem::take(&mut doc.trailer);
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(v) = old.get(key) {
            doc.trailer.set(key, v.clone());
        }
    }
}

/// Store every stream's `/Length` as the direct length of its data: an
/// indirect length is an extra object, and a wrong one (repaired by lopdf on
/// load) must not survive into the output.
fn normalize_lengths(doc: &mut Document) {
    for obj in doc.objects.values_mut() {
        if let Object::Stream(s) = obj {
            let n = s.content.len() as i64;
            s.dict.set("Length", n);
        }
    }
}

/// True if the form has signature fields (`/SigFlags` set).
fn is_signed(doc: &Document) -> bool {
    let Ok(catalog) = doc.catalog() else {
        return false;
    };
    let acro = match catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => doc.get_dictionary(*id).ok(),
        Ok(Object::Dictionary(d)) => Some(d),
        _ => None,
    };
    acro.and_then(|a| a.get(b"SigFlags").ok())
        .and_then(|f| f.as_i64().ok())
        .is_some_and(|f| f & 1 != 0)
}

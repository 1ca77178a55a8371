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
pub mod quality;
mod streams;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use lopdf::{Document, Object, ObjectId};

use crate::document::{self, WriteMode};
use crate::imaging::{self, ImagePass, ImagePolicy, Override};
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

/// Default page-SSIM floor of a level (see [`quality`]). The lossy levels
/// differ in how hard they push images (resolution, JPEG quality), not in how
/// much worse a page may look: at 0.85, `strong` let through a scanned page
/// that poppler shows at SSIM 0.79 (hayro, smoother, measured 0.92 there);
/// 0.92 backs that page off for 1 % more bytes over the corpus (BENCHMARKS.md).
pub fn default_min_ssim(level: Level) -> f64 {
    match level {
        Level::Lossless => 1.0,
        Level::Balanced | Level::Strong => 0.92,
    }
}

/// The libdeflate level the stream pass re-deflates at: the fast one for
/// `balanced`, the default, unless the user asked for a size; the strongest
/// everywhere else (the trade is measured in [`crate::deflate`]).
fn stream_level(level: Level, target_size: Option<u64>) -> i32 {
    match (level, target_size) {
        (Level::Balanced, None) => crate::deflate::FAST_LEVEL,
        _ => crate::deflate::LEVEL,
    }
}

/// The floor while searching for `--target-size` without an explicit
/// `--min-ssim`: the user asked for a size, so quality may go lower than the
/// level's default, but not to mush.
pub const TARGET_SIZE_MIN_SSIM: f64 = 0.70;

/// Quality scales tried, in order, when searching for a target size (1 =
/// the level's defaults; see [`ImagePolicy::quality_scale`]).
const TARGET_SIZE_SCALES: [f32; 7] = [1.0, 0.75, 0.55, 0.42, 0.32, 0.24, 0.18];

/// Back-off ladder of the quality gate for an image on a page under the
/// floor: its scale times this factor, then the original image.
const BACK_OFF_FACTOR: f32 = 1.4;

/// Same-size image re-encodes must save at least 1/this of the input
/// together (see [`ImagePolicy::min_document_gain`]).
const MIN_DOCUMENT_GAIN_DIVISOR: u64 = 100;

pub fn compress(input: &[u8], opts: &CompressOptions, ctx: &Ctx) -> Result<Output> {
    if let Some(m) = opts.min_ssim
        && !(m.is_finite() && (0.0..=1.0).contains(&m))
    {
        return Err(Error::InvalidOptions(
            "min_ssim must be a number between 0 and 1".into(),
        ));
    }
    if opts.target_size == Some(0) {
        return Err(Error::InvalidOptions(
            "target_size must be a positive number of bytes".into(),
        ));
    }
    // Also decides for the stream pass, whose streams are the input's bytes;
    // images and the gate start the workers themselves.
    crate::parallel::need_workers_for(input.len());
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
    let removed_first = prepare(&mut doc, ctx);
    ctx.check()?;
    let base = Base {
        input,
        password: opts.password.as_deref(),
        pages,
        numbers: &numbers,
        stream_level: stream_level(opts.level, opts.target_size),
    };

    let best = match images::policy(opts.level) {
        None => build(doc, None, &HashMap::new(), &base, ctx)?,
        Some(policy) => {
            let floor = opts
                .min_ssim
                .map(f64::from)
                .unwrap_or(if opts.target_size.is_some() {
                    TARGET_SIZE_MIN_SSIM
                } else {
                    default_min_ssim(opts.level)
                });
            lossy(
                Source::new(doc),
                policy,
                floor,
                opts.target_size,
                &base,
                ctx,
                &mut report,
            )?
        }
    };
    ctx.progress(1.0);

    let Attempt {
        bytes: out,
        pass,
        policy,
        streams: stream_stats,
        deduplicated,
        removed,
        objects_out,
    } = best;
    let image_stats = match &policy {
        Some(p) => images::describe(&pass, p, &mut report),
        None => images::ImageStats::default(),
    };
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

    report.detail("level", format!("{:?}", opts.level).to_lowercase());
    report.detail("objects_in", objects_before as u64);
    report.detail("objects_out", objects_out as u64);
    report.detail("streams_recompressed", stream_stats.recompressed as u64);
    report.detail("stream_bytes_saved", stream_stats.bytes_saved);
    report.detail(
        "images_recompressed",
        image_stats.images_recompressed as u64,
    );
    report.detail("image_bytes_saved", image_stats.bytes_saved);
    report.detail("objects_deduplicated", deduplicated as u64);
    report.detail("objects_removed", (removed_first + removed) as u64);

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
    if let Some(target) = opts.target_size {
        let reached = bytes.len() as u64 <= target;
        report.detail("target_size", target);
        report.detail("target_reached", reached);
        if !reached {
            report.notes.push(format!(
                "the target of {target} bytes was not reached: the smallest result within the \
                 quality floor is {} bytes",
                bytes.len()
            ));
        }
    }
    report.detail("bytes_saved", (input.len() - bytes.len()) as u64);
    tracing::debug!(
        bytes_in = input.len(),
        bytes_out = bytes.len(),
        streams = stream_stats.recompressed,
        deduplicated,
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

/// The steps between opening the input and the first attempt: keep only
/// what the trailer reaches, mend the page tree, drop unreachable objects.
/// Returns how many objects were dropped.
fn prepare(doc: &mut Document, ctx: &Ctx) -> usize {
    tidy_trailer(doc);
    document::repair_page_tree(doc, ctx.limits.max_depth);
    dedup::prune(doc)
}

/// The prepared document for each attempt of the lossy levels. The first
/// attempt takes the one already open; a later one (a gate round that backs
/// images off, the next step of a target-size search) opens the input
/// again. Cloning up front for every attempt kept two copies of the
/// document in memory for the whole run, for a retry most files never need
/// (deb__fullrefman: 359 MB peak against 214 MB lossless).
struct Source {
    first: Option<Document>,
}

impl Source {
    fn new(doc: Document) -> Self {
        Source { first: Some(doc) }
    }

    fn take(&mut self, base: &Base<'_>, ctx: &Ctx) -> Result<Document> {
        if let Some(doc) = self.first.take() {
            return Ok(doc);
        }
        let mut doc = document::open(base.input, base.password, ctx)?.doc;
        prepare(&mut doc, ctx);
        Ok(doc)
    }
}

/// What every attempt shares: the input and how to write the output.
struct Base<'a> {
    input: &'a [u8],
    password: Option<&'a str>,
    pages: u32,
    numbers: &'a document::NumberTexts,
    /// libdeflate level of the stream pass ([`stream_level`]).
    stream_level: i32,
}

/// One complete rewrite of the document.
struct Attempt {
    bytes: Vec<u8>,
    pass: ImagePass,
    policy: Option<ImagePolicy>,
    streams: streams::StreamStats,
    deduplicated: usize,
    removed: usize,
    objects_out: usize,
}

/// Image pass (when `policy` is set), lossless stream pass, deduplication,
/// compact write.
fn build(
    mut doc: Document,
    policy: Option<&ImagePolicy>,
    overrides: &HashMap<ObjectId, Override>,
    base: &Base<'_>,
    ctx: &Ctx,
) -> Result<Attempt> {
    let stream_pass = streams::StreamPass::new(base.stream_level, ctx);
    let (pass, streams) = match policy {
        Some(p) => {
            // The streams that are not images are re-deflated while the
            // images are re-encoded; the images the pass keeps, after it.
            let (images_ctx, beside) = ctx.span(0.0, 0.5).side_by_side();
            let (pass, others) =
                imaging::recompress_images_alongside(&mut doc, p, overrides, &images_ctx, |doc| {
                    stream_pass.encode(doc, |_, s| !imaging::is_image(s), &beside)
                })?;
            normalize_lengths(&mut doc);
            let mut stats = others?.apply(&mut doc);
            stats += stream_pass
                .encode(
                    &doc,
                    |id, s| imaging::is_image(s) && !pass.rewritten.contains(&id),
                    &ctx.span(0.5, 0.8),
                )?
                .apply(&mut doc);
            (pass, stats)
        }
        None => {
            normalize_lengths(&mut doc);
            let stats = stream_pass
                .encode(&doc, |_, _| true, &ctx.span(0.0, 0.9))?
                .apply(&mut doc);
            (ImagePass::default(), stats)
        }
    };
    let deduplicated = dedup::deduplicate(&mut doc, ctx)?;
    let removed = dedup::prune(&mut doc);
    let bytes = document::write_with_numbers(
        &mut doc,
        base.pages,
        WriteMode::Compact,
        Some(base.numbers),
        base.stream_level,
        ctx,
    )?;
    Ok(Attempt {
        bytes,
        pass,
        policy: policy.cloned(),
        streams,
        deduplicated,
        removed,
        objects_out: doc.objects.len(),
    })
}

/// The lossy levels: the gated image pass, and with a target size, a
/// search over quality scales for the first result under it.
fn lossy(
    mut doc: Source,
    policy: ImagePolicy,
    floor: f64,
    target: Option<u64>,
    base: &Base<'_>,
    ctx: &Ctx,
    report: &mut Report,
) -> Result<Attempt> {
    let mut original: Option<quality::Original> = None;
    let Some(target) = target else {
        // Re-encoding images at their size for under 1 % of the file is not
        // worth their loss (nor the gate's renders: pdfcpu__go spent half
        // its time rendering a page to check a JPEG that saved 0.7 %). A
        // target-size search needs every byte, so it keeps them.
        let policy = ImagePolicy {
            min_document_gain: base.input.len() as u64 / MIN_DOCUMENT_GAIN_DIVISOR,
            ..policy
        };
        let (attempt, gate) = gated(&mut doc, policy, floor, base, &mut original, false, ctx)?;
        gate.describe(floor, original.as_ref(), report);
        return Ok(attempt);
    };
    let mut best: Option<(Attempt, Gate)> = None;
    for (i, &scale) in TARGET_SIZE_SCALES.iter().enumerate() {
        let p = ImagePolicy {
            quality_scale: scale,
            ..policy.clone()
        };
        let (attempt, gate) = gated(&mut doc, p, floor, base, &mut original, true, ctx)?;
        let size = attempt.bytes.len() as u64;
        tracing::debug!(scale, size, target, "target size search");
        let better = best
            .as_ref()
            .is_none_or(|(b, _)| attempt.bytes.len() < b.bytes.len());
        let done = size <= target || size >= base.input.len() as u64 && i > 0;
        if better {
            best = Some((attempt, gate));
        }
        // Stop once under the target, or when going harder stopped helping
        // (nothing left to resample: the rest of the file is not images).
        if done || !better {
            break;
        }
    }
    let (attempt, gate) = best.ok_or_else(|| Error::Internal("no compression attempt".into()))?;
    gate.describe(floor, original.as_ref(), report);
    Ok(attempt)
}

/// What the quality gate measured over its rounds.
#[derive(Debug, Default)]
struct Gate {
    rounds: u32,
    scores: quality::PageScores,
    backed_off: usize,
    kept: usize,
}

impl Gate {
    /// `original` is what the gate rendered the input from, if anything.
    fn describe(&self, floor: f64, original: Option<&quality::Original>, report: &mut Report) {
        let mut q = serde_json::Map::new();
        q.insert("min_ssim_floor".into(), floor.into());
        // Resolution of the comparison renders (0 when nothing was rendered).
        let dpi = if self.scores.is_empty() {
            0.0
        } else {
            quality::GATE_DPI
        };
        q.insert("dpi".into(), (dpi as f64).into());
        q.insert("rounds".into(), self.rounds.into());
        q.insert("pages_checked".into(), self.scores.len().into());
        q.insert("images_backed_off".into(), self.backed_off.into());
        q.insert("images_kept_by_gate".into(), self.kept.into());
        q.insert(
            "reference_images_reduced".into(),
            original.map_or(0, quality::Original::reduced_images).into(),
        );
        if let Some((min, median)) = quality::summary(&self.scores) {
            q.insert("ssim_min".into(), round4(min).into());
            q.insert("ssim_median".into(), round4(median).into());
            if min < floor {
                report.notes.push(format!(
                    "page SSIM {min:.3} stays under the floor {floor:.2} with the original images: \
                     the difference is not in the images"
                ));
            }
        }
        let pages: Vec<serde_json::Value> = self
            .scores
            .iter()
            .take(500)
            .map(|(p, s)| serde_json::json!({"page": p, "ssim": s.map(round4)}))
            .collect();
        q.insert("pages".into(), pages.into());
        report.detail("quality", serde_json::Value::Object(q));
        if self.backed_off > 0 || self.kept > 0 {
            report.notes.push(format!(
                "quality gate: {} image(s) re-done gentler, {} kept as they were, to hold page \
                 SSIM ≥ {floor:.2}",
                self.backed_off, self.kept
            ));
        }
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// One image pass held to `floor`: build, render the pages whose images
/// changed, and back off the images of pages under the floor (gentler
/// scale, then the original) until every page holds or nothing is left to
/// back off.
///
/// The first round checks every page an altered image is drawn on; a later
/// round only the pages of the images it re-did. The image pass is
/// deterministic, so every other image comes out as it did and the scores
/// of its pages stand. `search` is set for the steps of a target-size
/// search, which all look at the same pages: the original's renders are
/// kept for them.
fn gated(
    doc: &mut Source,
    policy: ImagePolicy,
    floor: f64,
    base: &Base<'_>,
    original: &mut Option<quality::Original>,
    search: bool,
    ctx: &Ctx,
) -> Result<(Attempt, Gate)> {
    let mut overrides: HashMap<ObjectId, Override> = HashMap::new();
    let mut gate = Gate::default();
    let mut policy = policy;
    let mut scores: BTreeMap<u32, Option<f64>> = BTreeMap::new();
    // Images whose override changed in the last round (`None` in the first).
    let mut redone: Option<HashSet<ObjectId>> = None;
    loop {
        ctx.check()?;
        gate.rounds += 1;
        if original.is_some() {
            // The original's renders are settled: no stand-ins needed.
            policy.reference_ppi = None;
        }
        let mut attempt = build(doc.take(base, ctx)?, Some(&policy), &overrides, base, ctx)?;
        let references = std::mem::take(&mut attempt.pass.references);
        // Images whose samples are unchanged (only re-deflated) cannot move
        // a page's SSIM: their pages are not rendered.
        let changed: Vec<ObjectId> = attempt
            .pass
            .actions
            .iter()
            .filter(|a| a.needs_check())
            .map(|a| a.id)
            .collect();
        let pages: BTreeSet<u32> = changed
            .iter()
            .filter_map(|id| attempt.pass.pages.get(id))
            .flatten()
            .copied()
            .collect();
        if pages.is_empty() {
            gate.scores.clear();
            return Ok((attempt, gate));
        }
        let to_check: BTreeSet<u32> = match &redone {
            None => pages.clone(),
            Some(ids) => ids
                .iter()
                .filter_map(|id| attempt.pass.pages.get(id))
                .flatten()
                .filter(|p| pages.contains(p))
                .copied()
                .collect(),
        };
        if original.is_none() {
            match open_original(base, references, search, ctx) {
                Ok(o) => *original = Some(o),
                Err(e) => {
                    ctx.check()?;
                    // The renderer refuses the input (it opened in lopdf):
                    // nothing can be measured, so take no lossy risk.
                    tracing::info!("quality gate: input not renderable ({e}); images kept");
                    let mut keep = HashMap::new();
                    for id in &changed {
                        keep.insert(*id, Override::Keep);
                    }
                    gate.kept = changed.len();
                    let attempt = build(doc.take(base, ctx)?, Some(&policy), &keep, base, ctx)?;
                    return Ok((attempt, gate));
                }
            }
        }
        let Some(orig) = original.as_ref() else {
            return Ok((attempt, gate));
        };
        let fresh =
            quality::page_scores(orig, &attempt.bytes, &to_check, floor, &ctx.span(0.8, 0.95))?;
        scores.extend(fresh);
        // Pages none of whose images is altered any more are the original's.
        scores.retain(|p, _| pages.contains(p));
        let failing: BTreeSet<u32> = scores
            .iter()
            .filter(|(_, s)| s.is_some_and(|s| s < floor))
            .map(|(p, _)| *p)
            .collect();
        gate.scores = scores.iter().map(|(p, s)| (*p, *s)).collect();
        if failing.is_empty() {
            return Ok((attempt, gate));
        }
        let mut now_redone = HashSet::new();
        for id in &changed {
            let on_failing = attempt
                .pass
                .pages
                .get(id)
                .is_some_and(|ps| !ps.is_disjoint(&failing));
            if !on_failing {
                continue;
            }
            let next = match overrides.get(id) {
                None => {
                    gate.backed_off += 1;
                    Override::Scale(policy.quality_scale * BACK_OFF_FACTOR)
                }
                Some(Override::Scale(_)) => {
                    gate.backed_off = gate.backed_off.saturating_sub(1);
                    gate.kept += 1;
                    Override::Keep
                }
                Some(Override::Keep) => continue,
            };
            overrides.insert(*id, next);
            now_redone.insert(*id);
        }
        if now_redone.is_empty() {
            // The pages under the floor differ for reasons other than the
            // images (or only in images already kept): nothing left to try.
            return Ok((attempt, gate));
        }
        redone = Some(now_redone);
    }
}

/// The original for the gate to render: from [`reference_pdf`] when the
/// image pass left stand-ins and that opens, from the input otherwise.
/// Errors when the input does not open for rendering (or on cancellation).
fn open_original(
    base: &Base<'_>,
    references: HashMap<ObjectId, lopdf::Stream>,
    search: bool,
    ctx: &Ctx,
) -> Result<quality::Original> {
    let original = match reference_pdf(base, references, ctx)? {
        Some((bytes, n)) => match quality::Original::open(&bytes, None, ctx) {
            Ok(o) => o.with_reduced_images(n),
            Err(e) => {
                ctx.check()?;
                tracing::warn!("quality gate: the reduced reference does not open: {e}");
                quality::Original::open(base.input, base.password, ctx)?
            }
        },
        None => quality::Original::open(base.input, base.password, ctx)?,
    };
    Ok(if search {
        original.keeping_all_renders()
    } else {
        original
    })
}

/// The input with its biggest scans replaced by the averaged pixels the
/// image pass decoded them to (at least the gate's resolution on the page,
/// see [`ImagePolicy::reference_ppi`]), for the gate to render "before"
/// from, and how many images were replaced; `None` when there are none.
///
/// Why: to draw a page, hayro decodes every image on it whole. For the
/// 9000 × 9000 scan of ocrmypdf__multipage that is 302 MB to render one page
/// at 100 dpi, against 104 MB from its 2 × 2 average, and the two renders
/// differ by SSIM 0.99999 (3 × 3: 0.99997): at the gate's resolution the
/// averaged copy looks the same.
fn reference_pdf(
    base: &Base<'_>,
    references: HashMap<ObjectId, lopdf::Stream>,
    ctx: &Ctx,
) -> Result<Option<(Vec<u8>, usize)>> {
    if references.is_empty() {
        return Ok(None);
    }
    let mut doc = match document::open(base.input, base.password, ctx) {
        Ok(o) => o.doc,
        Err(e) => {
            ctx.check()?;
            tracing::warn!("quality gate: no reduced reference ({e})");
            return Ok(None);
        }
    };
    prepare(&mut doc, ctx);
    let mut replaced = 0;
    for (id, stream) in references {
        if let Some(Object::Stream(old)) = doc.objects.get_mut(&id) {
            *old = stream;
            replaced += 1;
        }
    }
    if replaced == 0 {
        return Ok(None);
    }
    match document::write(&mut doc, base.pages, WriteMode::Classic, ctx) {
        Ok(bytes) => Ok(Some((bytes, replaced))),
        Err(e) => {
            ctx.check()?;
            tracing::warn!("quality gate: no reduced reference ({e})");
            Ok(None)
        }
    }
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

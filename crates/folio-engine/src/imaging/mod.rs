//! Lossy image recompression: the building blocks of the `balanced` and
//! `strong` compression levels.
//!
//! - [`placement`]: how large each image is drawn, hence its effective ppi
//! - [`decode`]: image XObject → normalised 8-bit pixels (or "keep it");
//!   big Flate scans that will be downsampled are averaged down while they
//!   decode (`shrink`)
//! - [`encode`]: resampling, photo/graphic classification, JPEG and Flate
//! - [`ssim`]: structural similarity, to check renders before and after
//!
//! [`recompress_images`] ties them together: dedupe identical image
//! streams, then for each image decide a target size from its placement,
//! re-encode it (JPEG for photos, Flate with predictors for graphics) and
//! replace it only when the result — image plus its soft mask — is smaller.
//! Images are processed in parallel in small batches so only a few decoded
//! images are in memory at once.

pub mod decode;
pub mod encode;
pub mod placement;
mod shrink;
pub mod ssim;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::{Ctx, Result};
use decode::{Decoded, DecodedImage, Pixels, SourceCodec};
use encode::{ContentKind, ResizeFilter};
use placement::{Placement, Placements};

/// How aggressively images are recompressed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImagePolicy {
    /// Resolution to downsample to, in pixels per inch on the page.
    pub target_ppi: f32,
    /// Downsample only images above `threshold × target_ppi` (Ghostscript's
    /// DownsampleThreshold): an image just above the target is not worth the
    /// generation loss.
    pub threshold: f32,
    /// mozjpeg quality (0–100) for photographic content.
    pub jpeg_quality: u8,
    /// Images whose stream is smaller than this are left alone.
    pub min_bytes: usize,
    /// Images narrower or shorter than this (pixels) are left alone.
    pub min_side: u32,
    /// Back-off knob: 1.0 = the level's defaults; above 1 raises JPEG quality
    /// and target ppi proportionally (gentler), below 1 compresses harder.
    pub quality_scale: f32,
    /// A JPEG that is not downsampled is re-encoded only when that saves at
    /// least this fraction: re-compressing a JPEG costs quality for little.
    pub min_reencode_gain: f32,
    /// Same-size lossy re-encodes (JPEG again, or Flate of changed samples)
    /// are all kept as they were when together they would save fewer bytes
    /// than this: a generation of loss, and the quality gate's renders of
    /// their pages, for next to nothing. 0 takes every one.
    pub min_document_gain: u64,
    /// Images decoded at once (per parallel batch).
    pub batch_images: usize,
    /// Rough decoded bytes allowed per batch (one image always proceeds).
    pub batch_bytes: u64,
    /// When set, an image averaged down while it decodes ([`shrink`]) to at
    /// least this resolution on the page also leaves a lossless copy of the
    /// averaged pixels in [`ImagePass::references`], for the quality gate
    /// to render the original page from instead of the full scan.
    pub reference_ppi: Option<f32>,
}

impl ImagePolicy {
    /// Ghostscript `/ebook` class: 150 ppi, good JPEG quality.
    pub fn balanced() -> Self {
        ImagePolicy {
            target_ppi: 150.0,
            threshold: 1.5,
            jpeg_quality: 72,
            min_bytes: 2048,
            min_side: 32,
            quality_scale: 1.0,
            min_reencode_gain: 0.1,
            min_document_gain: 0,
            batch_images: 6,
            batch_bytes: 768 << 20,
            reference_ppi: None,
        }
    }

    /// Ghostscript `/screen` class: screen resolution, stronger JPEG.
    pub fn strong() -> Self {
        ImagePolicy {
            target_ppi: 96.0,
            jpeg_quality: 55,
            min_reencode_gain: 0.05,
            ..Self::balanced()
        }
    }

    /// JPEG quality after `quality_scale`.
    pub fn effective_quality(&self) -> u8 {
        let s = if self.quality_scale.is_finite() && self.quality_scale > 0.0 {
            self.quality_scale
        } else {
            1.0
        };
        (self.jpeg_quality as f32 * s).round().clamp(10.0, 95.0) as u8
    }

    /// The largest re-encoding of a `before`-byte lossy (JPEG, JPEG 2000)
    /// image kept at its size that is worth taking: `min_reencode_gain`
    /// smaller.
    pub fn reencode_budget(&self, before: u64) -> u64 {
        (before as f64 * (1.0 - self.min_reencode_gain as f64)) as u64
    }

    /// Target ppi after `quality_scale`.
    pub fn effective_ppi(&self) -> f64 {
        let s = if self.quality_scale.is_finite() && self.quality_scale > 0.0 {
            self.quality_scale
        } else {
            1.0
        };
        (self.target_ppi * s).max(1.0) as f64
    }
}

/// What was done to one image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    DownsampledJpeg,
    Jpeg,
    DownsampledFlate,
    Flate,
    /// Identical to another image stream; references now point to `into`.
    Deduplicated {
        into: (u32, u16),
    },
    Kept {
        reason: String,
    },
}

/// One image's outcome, for reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageAction {
    pub id: (u32, u16),
    pub width: u32,
    pub height: u32,
    pub new_width: u32,
    pub new_height: u32,
    /// Stream bytes before (image plus its soft mask when that was rewritten).
    pub before_bytes: u64,
    pub after_bytes: u64,
    /// Lowest effective resolution before and after, when the image is drawn.
    pub ppi_before: Option<f64>,
    pub ppi_after: Option<f64>,
    pub action: Action,
    /// The new stream holds the very samples of the old one, read the same
    /// way (same size, colour space, 8 bpc, no /Decode, soft mask
    /// untouched): only the compression changed, so the page renders
    /// identically and the quality gate need not look at it.
    #[serde(skip)]
    pub same_pixels: bool,
}

impl ImageAction {
    fn kept(id: ObjectId, w: u32, h: u32, bytes: u64, ppi: Option<f64>, reason: &str) -> Self {
        ImageAction {
            id,
            width: w,
            height: h,
            new_width: w,
            new_height: h,
            before_bytes: bytes,
            after_bytes: bytes,
            ppi_before: ppi,
            ppi_after: ppi,
            action: Action::Kept {
                reason: reason.to_string(),
            },
            same_pixels: false,
        }
    }

    /// True when the stream was replaced (re-encoded or resampled).
    pub fn changed(&self) -> bool {
        !matches!(
            self.action,
            Action::Kept { .. } | Action::Deduplicated { .. }
        )
    }

    /// True when the stream was replaced in a way that can change how its
    /// pages look: what the quality gate must render.
    pub fn needs_check(&self) -> bool {
        self.changed() && !self.same_pixels
    }
}

/// True for an image XObject's stream (soft masks included).
pub fn is_image(s: &Stream) -> bool {
    matches!(s.dict.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Image")
}

/// A per-image exception to the policy, set by the quality gate when a page
/// drawing the image fell below its SSIM floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Override {
    /// Use this `quality_scale` instead of the policy's.
    Scale(f32),
    /// Leave the image as it is.
    Keep,
}

/// The pages (1-based) each image is drawn on.
pub type ImagePages = HashMap<ObjectId, BTreeSet<u32>>;

/// The outcome of one image pass.
#[derive(Debug, Clone, Default)]
pub struct ImagePass {
    /// One action per image stream (kept ones included, with the reason).
    pub actions: Vec<ImageAction>,
    /// The pages (1-based) each image is drawn on.
    pub pages: ImagePages,
    /// Streams this pass replaced (images and their soft masks).
    pub rewritten: HashSet<ObjectId>,
    /// Reduced lossless stand-ins for original images (see
    /// [`ImagePolicy::reference_ppi`]), by the id of the image they stand for.
    pub references: HashMap<ObjectId, Stream>,
}

/// Recompress the images of `doc` according to `policy`, in place.
///
/// Returns one action per image stream (kept ones included, with the reason).
/// Errors only on cancellation or the wall-time limit; any image that cannot
/// be handled is kept as it was.
pub fn recompress_images(
    doc: &mut Document,
    policy: &ImagePolicy,
    ctx: &Ctx,
) -> Result<Vec<ImageAction>> {
    Ok(recompress_images_with(doc, policy, &HashMap::new(), ctx)?.actions)
}

/// [`recompress_images`] with per-image exceptions. Image ids are stable
/// between passes over clones of one document (deduplication keeps the
/// lowest id), so the quality gate can re-run the pass with overrides.
pub fn recompress_images_with(
    doc: &mut Document,
    policy: &ImagePolicy,
    overrides: &HashMap<ObjectId, Override>,
    ctx: &Ctx,
) -> Result<ImagePass> {
    Ok(recompress_images_alongside(doc, policy, overrides, ctx, |_| ())?.0)
}

/// [`recompress_images_with`], running `alongside` on the same document
/// (read-only) while the images are decoded and encoded, and returning its
/// result too. The compressor re-deflates the other streams there: a file
/// with one big image otherwise kept one core idle for the whole image.
pub fn recompress_images_alongside<R: Send>(
    doc: &mut Document,
    policy: &ImagePolicy,
    overrides: &HashMap<ObjectId, Override>,
    ctx: &Ctx,
    alongside: impl FnOnce(&Document) -> R + Send,
) -> Result<(ImagePass, R)> {
    let mut actions = dedupe_images(doc, ctx)?;
    let shared: &Document = doc;
    let (encoded, other) = rayon::join(
        || encode_images(shared, policy, overrides, ctx),
        || alongside(shared),
    );
    let (outcomes, pages) = encoded?;
    let outcomes = keep_small_reencodes(outcomes, policy.min_document_gain);
    let mut rewritten = HashSet::new();
    let mut references = HashMap::new();
    for out in outcomes {
        if let Some(s) = out.reference {
            references.insert(out.action.id, s);
        }
        if let Some((s, mask)) = out.replacement {
            doc.objects.insert(out.action.id, Object::Stream(s));
            rewritten.insert(out.action.id);
            if let Some((mid, ms)) = mask {
                doc.objects.insert(mid, Object::Stream(ms));
                rewritten.insert(mid);
            }
        }
        actions.push(out.action);
    }
    let pass = ImagePass {
        actions,
        pages,
        rewritten,
        references,
    };
    Ok((pass, other))
}

/// Decode and re-encode the images of `doc` in batches bounded by their
/// decoded size, in parallel; the results are stored by the caller.
/// Also returns the pages each image is drawn on.
fn encode_images(
    doc: &Document,
    policy: &ImagePolicy,
    overrides: &HashMap<ObjectId, Override>,
    ctx: &Ctx,
) -> Result<(Vec<Outcome>, ImagePages)> {
    let placements = placement::placements(doc, ctx)?;
    if !placements.complete {
        tracing::info!("image placement incomplete: images keep their resolution");
    } else if !placements.uncertain.is_empty() {
        tracing::info!(
            count = placements.uncertain.len(),
            "some images sit in unreadable content: they keep their resolution"
        );
    }

    // Soft masks are rewritten with their parent; one shared by several
    // images stays as it is (its parents may still be resampled: a soft
    // mask need not match its image's size).
    let mut mask_owners: HashMap<ObjectId, u32> = HashMap::new();
    let mut images: Vec<ObjectId> = Vec::new();
    for (id, obj) in &doc.objects {
        if let Object::Stream(s) = obj
            && is_image(s)
        {
            images.push(*id);
            if let Ok(Object::Reference(m)) = s.dict.get(b"SMask") {
                *mask_owners.entry(*m).or_default() += 1;
            }
        }
    }
    images.retain(|id| !mask_owners.contains_key(id));

    let total = images.len().max(1);
    let mut done = 0usize;
    let mut outcomes = Vec::with_capacity(images.len());
    let mut queue = images.into_iter().peekable();
    while queue.peek().is_some() {
        ctx.check()?;
        // A batch: a few images, bounded by their decoded size.
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        while let Some(&id) = queue.peek() {
            let est = estimated_decoded_bytes(doc, id);
            if !batch.is_empty()
                && (batch.len() >= policy.batch_images.max(1)
                    || bytes.saturating_add(est) > policy.batch_bytes)
            {
                break;
            }
            bytes = bytes.saturating_add(est);
            batch.push(id);
            queue.next();
        }
        crate::parallel::need_workers();
        let results: Vec<Result<Outcome>> = batch
            .par_iter()
            .map(|&id| {
                let p = placements.get(id).copied();
                let owned_mask = doc
                    .get_object(id)
                    .ok()
                    .and_then(|o| o.as_stream().ok())
                    .and_then(|s| s.dict.get(b"SMask").ok())
                    .and_then(|o| o.as_reference().ok())
                    .filter(|m| mask_owners.get(m) == Some(&1));
                match overrides.get(&id) {
                    None => process_one(doc, id, p, &placements, owned_mask, policy, ctx),
                    Some(Override::Scale(s)) => {
                        let policy = ImagePolicy {
                            quality_scale: *s,
                            ..policy.clone()
                        };
                        process_one(doc, id, p, &placements, owned_mask, &policy, ctx)
                    }
                    Some(Override::Keep) => Ok(Outcome {
                        action: kept_by_gate(doc, id, p),
                        replacement: None,
                        reference: None,
                    }),
                }
            })
            .collect();
        for r in results {
            outcomes.push(r?);
        }
        done += batch.len();
        ctx.progress(done as f32 / total as f32);
    }
    Ok((outcomes, placements.pages))
}

/// Undo the same-size lossy re-encodes when all of them together save less
/// than `min` bytes (see [`ImagePolicy::min_document_gain`]).
fn keep_small_reencodes(mut outcomes: Vec<Outcome>, min: u64) -> Vec<Outcome> {
    let same_size_lossy =
        |a: &ImageAction| matches!(a.action, Action::Jpeg | Action::Flate) && a.needs_check();
    let gain: u64 = outcomes
        .iter()
        .filter(|o| same_size_lossy(&o.action))
        .map(|o| o.action.before_bytes.saturating_sub(o.action.after_bytes))
        .sum();
    if gain >= min {
        return outcomes;
    }
    for o in outcomes.iter_mut().filter(|o| same_size_lossy(&o.action)) {
        let a = &o.action;
        o.action = ImageAction::kept(
            a.id,
            a.width,
            a.height,
            a.before_bytes,
            a.ppi_before,
            "re-encoding at its size would save too little of the document",
        );
        o.replacement = None;
    }
    outcomes
}

fn kept_by_gate(doc: &Document, id: ObjectId, p: Option<Placement>) -> ImageAction {
    let bytes = match doc.get_object(id) {
        Ok(Object::Stream(s)) => s.content.len() as u64,
        _ => 0,
    };
    let (w, h) = placement::image_size(doc, id).unwrap_or((0, 0));
    ImageAction::kept(
        id,
        w,
        h,
        bytes,
        p.map(|p| p.min_ppi()),
        "kept by the quality gate",
    )
}

fn estimated_decoded_bytes(doc: &Document, id: ObjectId) -> u64 {
    placement::image_size(doc, id)
        .map(|(w, h)| w as u64 * h as u64 * 4)
        .unwrap_or(0)
}

/// Merge byte-identical image streams (same dictionary and data) into one
/// object, rewriting every reference. Returns the `Deduplicated` actions.
fn dedupe_images(doc: &mut Document, ctx: &Ctx) -> Result<Vec<ImageAction>> {
    let mut by_hash: BTreeMap<[u8; 32], Vec<ObjectId>> = BTreeMap::new();
    for (id, obj) in &doc.objects {
        if let Object::Stream(s) = obj
            && is_image(s)
        {
            let mut h = Sha256::new();
            // Debug output of the dictionary is deterministic for a given
            // key order; differently ordered twins simply stay separate.
            let mut dict = s.dict.clone();
            dict.remove(b"Length");
            h.update(format!("{dict:?}").as_bytes());
            h.update([0u8]);
            h.update(&s.content);
            by_hash.entry(h.finalize().into()).or_default().push(*id);
        }
    }
    let mut map: HashMap<ObjectId, ObjectId> = HashMap::new();
    for ids in by_hash.values() {
        if let Some((&keep, rest)) = ids.split_first() {
            for &dup in rest {
                map.insert(dup, keep);
            }
        }
    }
    if map.is_empty() {
        return Ok(Vec::new());
    }
    ctx.check()?;
    fn rewrite(o: &mut Object, map: &HashMap<ObjectId, ObjectId>) {
        match o {
            Object::Reference(r) => {
                if let Some(n) = map.get(r) {
                    *r = *n;
                }
            }
            Object::Array(a) => a.iter_mut().for_each(|v| rewrite(v, map)),
            Object::Dictionary(d) => d.iter_mut().for_each(|(_, v)| rewrite(v, map)),
            Object::Stream(s) => s.dict.iter_mut().for_each(|(_, v)| rewrite(v, map)),
            _ => {}
        }
    }
    // Iterative over objects; nesting inside one object is bounded by the
    // parser's own depth limit.
    for obj in doc.objects.values_mut() {
        rewrite(obj, &map);
    }
    rewrite_dict(&mut doc.trailer, &map);
    let mut actions = Vec::new();
    for (dup, keep) in map {
        let (w, h) = placement::image_size(doc, dup).unwrap_or((0, 0));
        let bytes = match doc.objects.remove(&dup) {
            Some(Object::Stream(s)) => s.content.len() as u64,
            _ => 0,
        };
        actions.push(ImageAction {
            id: dup,
            width: w,
            height: h,
            new_width: w,
            new_height: h,
            before_bytes: bytes,
            after_bytes: 0,
            ppi_before: None,
            ppi_after: None,
            action: Action::Deduplicated { into: keep },
            same_pixels: false,
        });
    }
    actions.sort_by_key(|a| a.id);
    Ok(actions)
}

fn rewrite_dict(d: &mut Dictionary, map: &HashMap<ObjectId, ObjectId>) {
    for (_, v) in d.iter_mut() {
        if let Object::Reference(r) = v
            && let Some(n) = map.get(r)
        {
            *r = *n;
        }
    }
}

/// A processed image: its action and, when smaller, the new stream (and
/// the rewritten soft mask).
struct Outcome {
    action: ImageAction,
    replacement: Option<(Stream, Option<(ObjectId, Stream)>)>,
    /// See [`ImagePass::references`].
    reference: Option<Stream>,
}

/// The encoded candidate for one image.
struct Encoded {
    bytes: Vec<u8>,
    jpeg: bool,
    parms: Option<Dictionary>,
}

fn process_one(
    doc: &Document,
    id: ObjectId,
    placement: Option<Placement>,
    placements: &Placements,
    owned_mask: Option<ObjectId>,
    policy: &ImagePolicy,
    ctx: &Ctx,
) -> Result<Outcome> {
    ctx.check()?;
    let kept = |action| {
        Ok(Outcome {
            action,
            replacement: None,
            reference: None,
        })
    };
    let Ok(Object::Stream(stream)) = doc.get_object(id) else {
        return kept(ImageAction::kept(id, 0, 0, 0, None, "not a stream"));
    };
    let before = stream.content.len() as u64;
    let (w, h) = placement::image_size(doc, id).unwrap_or((0, 0));
    let ppi = placement.map(|p| p.min_ppi());
    let kept_because = |reason: &str| kept(ImageAction::kept(id, w, h, before, ppi, reason));
    if (before as usize) < policy.min_bytes {
        return kept_because("small stream");
    }
    if w < policy.min_side || h < policy.min_side {
        return kept_because("small image");
    }
    // Target size per axis from the largest drawn size.
    let target = policy.effective_ppi();
    let (mut nw, mut nh) = (w, h);
    // A soft mask with /Matte must keep its image's exact size (PDF 32000-1
    // §11.6.5.3); one we may not rewrite pins the image's size.
    let matte_mask = stream
        .dict
        .get(b"SMask")
        .ok()
        .and_then(|o| o.as_reference().ok())
        .and_then(|m| doc.get_object(m).ok())
        .and_then(|o| o.as_stream().ok())
        .is_some_and(|m| m.dict.has(b"Matte"));
    let size_pinned = matte_mask && owned_mask.is_none();
    if let Some(p) = placements.trusted(id).filter(|_| !size_pinned) {
        let limit = policy.threshold as f64 * target;
        if p.min_ppi_x > limit {
            nw = ((w as f64) * target / p.min_ppi_x).round().max(1.0) as u32;
        }
        if p.min_ppi_y > limit {
            nh = ((h as f64) * target / p.min_ppi_y).round().max(1.0) as u32;
        }
    }
    let resized = (nw, nh) != (w, h);
    // A big image that shrinks to half or less is averaged down by the
    // whole factor while it decodes; the resampling below does the rest.
    let shrink = if resized {
        (w / nw.max(1)).min(h / nh.max(1)).max(1)
    } else {
        1
    };
    let img = match decode::decode_image(doc, stream, ctx, shrink)? {
        Decoded::Image(i) => i,
        Decoded::Keep(reason) => return kept_because(&reason),
    };
    let DecodedImage {
        pixels,
        color_space,
        source,
        was_indexed,
        ..
    } = img;
    // Averaged down while decoding, and still finer than the gate looks:
    // those pixels can stand in for the scan when the gate renders the
    // original page (see `ImagePolicy::reference_ppi`).
    let reference_wanted = (pixels.width, pixels.height) != (w, h)
        && policy.reference_ppi.zip(placement).is_some_and(|(min, p)| {
            let min = f64::from(min);
            p.min_ppi_x * f64::from(pixels.width) / f64::from(w.max(1)) >= min
                && p.min_ppi_y * f64::from(pixels.height) / f64::from(h.max(1)) >= min
        });
    let kind = match source {
        SourceCodec::Jpeg => ContentKind::Photo,
        SourceCodec::Lossless | SourceCodec::Jpx => {
            let limited = was_indexed || pixels.model == decode::ColorModel::Gray;
            encode::classify(&pixels, limited)
        }
    };
    let resampled = if (pixels.width, pixels.height) != (nw, nh) {
        let filter = if kind == ContentKind::Graphic {
            ResizeFilter::CatmullRom
        } else {
            ResizeFilter::Lanczos3
        };
        match encode::resize(&pixels, nw, nh, filter) {
            Some(p) => Some(p),
            None => return kept_because("resampling failed"),
        }
    } else {
        None
    };
    let px = resampled.as_ref().unwrap_or(&pixels);
    ctx.check()?;
    let lossy_source = matches!(source, SourceCodec::Jpeg | SourceCodec::Jpx);
    if lossy_source && !resized && kind == ContentKind::Photo && !jpeg_may_pay(px, before, policy) {
        return kept_because("re-encoding saves too little (estimated)");
    }
    // The stand-in is deflated on the other core while the image encodes.
    let (enc, reference) = rayon::join(
        || encode_best(px, kind, policy),
        || {
            reference_wanted
                .then(|| reference_stream(&stream.dict, &pixels, color_space.clone()))
                .flatten()
        },
    );
    let Some(enc) = enc else {
        return kept_because("encoding failed");
    };
    drop(resampled);
    drop(pixels);

    // Resample the soft mask along with the image when it is ours alone.
    let mut mask_before = 0u64;
    let mut new_mask: Option<(ObjectId, Stream)> = None;
    if resized
        && let Some(mid) = owned_mask
        && let Some((mb, ms)) = resample_mask(doc, mid, w, h, nw, nh, ctx)?
    {
        mask_before = mb;
        new_mask = Some((mid, ms));
    }
    if resized && matte_mask && new_mask.is_none() {
        return kept_because("soft mask with /Matte could not be resampled");
    }
    let mask_after = new_mask
        .as_ref()
        .map(|(_, s)| s.content.len() as u64)
        .unwrap_or(0);
    let after = enc.bytes.len() as u64 + mask_after;
    let before_total = before + mask_before;
    let needed = if lossy_source && !resized {
        policy.reencode_budget(before)
    } else {
        before_total.saturating_sub(1)
    };
    if after > needed {
        return kept_because(if lossy_source && !resized {
            "re-encoding saves too little"
        } else {
            "re-encoding would not be smaller"
        });
    }
    // Lossless samples re-deflated as they were: see `ImageAction::same_pixels`.
    // (Not resized also means the soft mask was left as it was.)
    let same_pixels = !resized
        && !enc.jpeg
        && source == SourceCodec::Lossless
        && stream.dict.get(b"ColorSpace").ok() == Some(&color_space)
        && stream
            .dict
            .get(b"BitsPerComponent")
            .and_then(Object::as_i64)
            .ok()
            == Some(8)
        && !stream.dict.has(b"Decode")
        && !stream.dict.has(b"ImageMask");
    let new_stream = build_stream(&stream.dict, nw, nh, color_space, &enc);
    let ppi_after = placement.map(|p| {
        (p.min_ppi_x * nw as f64 / w.max(1) as f64).min(p.min_ppi_y * nh as f64 / h.max(1) as f64)
    });
    let action = match (resized, enc.jpeg) {
        (true, true) => Action::DownsampledJpeg,
        (false, true) => Action::Jpeg,
        (true, false) => Action::DownsampledFlate,
        (false, false) => Action::Flate,
    };
    Ok(Outcome {
        action: ImageAction {
            id,
            width: w,
            height: h,
            new_width: nw,
            new_height: nh,
            before_bytes: before_total,
            after_bytes: after,
            ppi_before: ppi,
            ppi_after,
            action,
            same_pixels,
        },
        replacement: Some((new_stream, new_mask)),
        reference,
    })
}

/// Pixels from which [`jpeg_may_pay`] estimates instead of encoding it all.
const PROBE_MIN_PIXELS: u64 = 1 << 20;
/// How far over the needed size the estimate may land and still be tried
/// in full. On the dev corpus's photos of 1 MP and more the estimate was
/// 0.89–1.16 × the full encode's size, so an image skipped here would have
/// saved at most 1 % beyond the threshold.
const PROBE_MARGIN: f64 = 1.15;

/// Whether re-encoding a JPEG (or JPEG 2000) image that keeps its size may
/// save the policy's `min_reencode_gain`, judged from 1/8 of its rows
/// ([`encode::sample_bands`]). An already well-compressed photo otherwise
/// costs a full trellis encode only to be kept: ocrmypdf__poster, one 8.4 MP
/// page, spent 0.35 s of 0.42 s that way. Small images are not probed.
fn jpeg_may_pay(px: &Pixels, before: u64, policy: &ImagePolicy) -> bool {
    if (px.width as u64) * (px.height as u64) < PROBE_MIN_PIXELS {
        return true;
    }
    let Some((sample, fraction)) = encode::sample_bands(px) else {
        return true;
    };
    let Some(bytes) = encode::encode_jpeg(&sample, policy.effective_quality()) else {
        return true;
    };
    let estimate = bytes.len() as f64 / fraction;
    estimate <= policy.reencode_budget(before) as f64 * PROBE_MARGIN
}

/// JPEG for photos, Flate for graphics; for unclear content both, keeping
/// JPEG only when it is clearly smaller (it costs sharpness on edges).
fn encode_best(px: &Pixels, kind: ContentKind, policy: &ImagePolicy) -> Option<Encoded> {
    let q = policy.effective_quality();
    let jpeg = || {
        encode::encode_jpeg(px, q).map(|bytes| Encoded {
            bytes,
            jpeg: true,
            parms: None,
        })
    };
    let flate = || {
        encode::encode_flate(px).map(|(bytes, p)| Encoded {
            bytes,
            jpeg: false,
            parms: Some(p),
        })
    };
    match kind {
        ContentKind::Photo => jpeg(),
        ContentKind::Graphic => flate(),
        ContentKind::Unclear => match (jpeg(), flate()) {
            (Some(j), Some(f)) => Some(if j.bytes.len() * 2 <= f.bytes.len() {
                j
            } else {
                f
            }),
            (j, f) => j.or(f),
        },
    }
}

/// A lossless stand-in for an original image, from the pixels it was
/// decoded to (see [`ImagePolicy::reference_ppi`]). Deflated at the fastest
/// level without predictors: it only lives until the gate has opened it.
fn reference_stream(old: &Dictionary, px: &Pixels, color_space: Object) -> Option<Stream> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&px.data).ok()?;
    let enc = Encoded {
        bytes: z.finish().ok()?,
        jpeg: false,
        parms: None,
    };
    Some(build_stream(old, px.width, px.height, color_space, &enc))
}

/// Decode and resample the soft mask `mid` of a `w × h` image resampled to
/// `nw × nh`. Returns the old size and the new stream, or `None` to leave it.
fn resample_mask(
    doc: &Document,
    mid: ObjectId,
    w: u32,
    h: u32,
    nw: u32,
    nh: u32,
    ctx: &Ctx,
) -> Result<Option<(u64, Stream)>> {
    let Ok(Object::Stream(ms)) = doc.get_object(mid) else {
        return Ok(None);
    };
    let Some((mw, mh)) = placement::image_size(doc, mid) else {
        return Ok(None);
    };
    let img = match decode::decode_image(doc, ms, ctx, 1)? {
        Decoded::Image(i) if i.pixels.model == decode::ColorModel::Gray => i,
        _ => return Ok(None),
    };
    // Same scale factors as the image (masks may have their own size).
    let tw = ((mw as f64) * nw as f64 / w.max(1) as f64).round().max(1.0) as u32;
    let th = ((mh as f64) * nh as f64 / h.max(1) as f64).round().max(1.0) as u32;
    if tw >= mw && th >= mh {
        return Ok(None);
    }
    let Some(px) = encode::resize(&img.pixels, tw, th, ResizeFilter::CatmullRom) else {
        return Ok(None);
    };
    let Some((bytes, parms)) = encode::encode_flate(&px) else {
        return Ok(None);
    };
    let enc = Encoded {
        bytes,
        jpeg: false,
        parms: Some(parms),
    };
    let stream = build_stream(&ms.dict, tw, th, img.color_space, &enc);
    Ok(Some((ms.content.len() as u64, stream)))
}

/// The new image dictionary: the old one minus everything describing the
/// old encoding, plus size, colour space, 8 bpc and the new filter. `/SMask`,
/// `/Mask` (stencil), `/Intent`, `/Interpolate`, `/Matte`, `/OC`, metadata
/// and structure keys are kept.
fn build_stream(old: &Dictionary, w: u32, h: u32, color_space: Object, enc: &Encoded) -> Stream {
    let mut d = old.clone();
    for k in [
        &b"Length"[..],
        b"Filter",
        b"DecodeParms",
        b"Decode",
        b"DL",
        b"F",
        b"FFilter",
        b"FDecodeParms",
        b"SMaskInData",
        b"Alternates",
    ] {
        d.remove(k);
    }
    d.set("Type", Object::Name(b"XObject".to_vec()));
    d.set("Subtype", Object::Name(b"Image".to_vec()));
    d.set("Width", Object::Integer(w as i64));
    d.set("Height", Object::Integer(h as i64));
    d.set("ColorSpace", color_space);
    d.set("BitsPerComponent", Object::Integer(8));
    if enc.jpeg {
        d.set("Filter", Object::Name(b"DCTDecode".to_vec()));
    } else {
        d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        if let Some(p) = &enc.parms {
            d.set("DecodeParms", Object::Dictionary(p.clone()));
        }
    }
    let mut s = Stream::new(d, enc.bytes.clone());
    // Already compressed: lopdf must not wrap it in another Flate layer.
    s.allows_compression = false;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_scale_backs_off_and_is_clamped() {
        let mut p = ImagePolicy::balanced();
        assert_eq!(p.effective_quality(), 72);
        assert_eq!(p.effective_ppi(), 150.0);
        p.quality_scale = 1.2;
        assert_eq!(p.effective_quality(), 86);
        assert!((p.effective_ppi() - 180.0).abs() < 1e-3);
        p.quality_scale = 3.0;
        assert_eq!(p.effective_quality(), 95);
        p.quality_scale = f32::NAN;
        assert_eq!(p.effective_quality(), 72);
        p.quality_scale = 0.0;
        assert_eq!(p.effective_ppi(), 150.0);
        let s = ImagePolicy::strong();
        assert!(s.target_ppi < p.target_ppi && s.jpeg_quality < p.jpeg_quality);
    }
}

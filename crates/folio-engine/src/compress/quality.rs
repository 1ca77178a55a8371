//! The quality gate of the lossy levels: render the pages whose images
//! changed, before and after, at a low resolution and compare them with
//! SSIM. Pages under the floor get their images backed off (gentler
//! settings, then the original) by the caller, [`super::compress`].
//!
//! Only pages that draw a rewritten image are rendered: every other page is
//! losslessly the same, so a text-only file costs nothing here.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;

use crate::imaging::ssim::{GrayImage as SsimImage, ssim_any_size};
use crate::render::{GrayImage, PageRenderer, RenderDoc};
use crate::{Ctx, Result};

/// Resolution of the comparison renders: 100 dpi, what people and the
/// benchmark harness compare pages at. At 72 dpi (half the pixels) the gate
/// saw less of the loss: a scan brought to 96 ppi scored 0.96 at 72 dpi and
/// 0.92 at 100 dpi (both hayro; poppler shows that page at 0.79 at 100 dpi,
/// which is why the floors are 0.92, see `default_min_ssim`).
pub const GATE_DPI: f32 = 100.0;

/// Renders of the original kept between rounds, in bytes.
const ORIGINAL_CACHE_BYTES: usize = 96 << 20;

/// Pages rendered per parallel task (one renderer each, sharing its caches).
const PAGES_PER_TASK: usize = 4;

/// The SSIM of each checked page; `None` when the original page could not
/// be rendered (then nothing can be measured and the page is not held back).
pub type PageScores = Vec<(u32, Option<f64>)>;

/// Renders of the input document, opened once for all rounds.
pub struct Original {
    doc: RenderDoc,
    cache: std::sync::Mutex<(usize, HashMap<u32, GrayImage>)>,
    /// Keep every page's render, not only those under the floor.
    keep_all: bool,
    /// Images drawn from an averaged stand-in (see `super::reference_pdf`).
    reduced_images: usize,
}

impl Original {
    pub fn open(input: &[u8], password: Option<&str>, ctx: &Ctx) -> Result<Self> {
        Ok(Original {
            doc: RenderDoc::open(input, password, ctx)?,
            cache: std::sync::Mutex::new((0, HashMap::new())),
            keep_all: false,
            reduced_images: 0,
        })
    }

    /// Mark this as opened from a reference in which `n` images are
    /// averaged stand-ins for the input's.
    pub fn with_reduced_images(self, n: usize) -> Self {
        Original {
            reduced_images: n,
            ..self
        }
    }

    pub fn reduced_images(&self) -> usize {
        self.reduced_images
    }

    /// Keep the renders of pages that pass too (within the cache's budget):
    /// for a target-size search, where every step re-checks every page.
    /// By default only pages under the floor are kept, the only ones a
    /// later round of the same pass looks at again.
    pub fn keeping_all_renders(self) -> Self {
        Original {
            keep_all: true,
            ..self
        }
    }

    fn cached(&self, page: u32) -> Option<GrayImage> {
        self.cache.lock().ok()?.1.get(&page).cloned()
    }

    fn remember(&self, page: u32, img: GrayImage) {
        if let Ok(mut c) = self.cache.lock()
            && !c.1.contains_key(&page)
            && c.0 + img.pixels.len() <= ORIGINAL_CACHE_BYTES
        {
            c.0 += img.pixels.len();
            c.1.insert(page, img);
        }
    }
}

/// SSIM of `pages` (1-based) between the original and `output`. The
/// original's render of a page that scores under `floor` is kept for the
/// next round.
///
/// Errors only on cancellation or the time limit. An output that cannot be
/// opened or rendered scores 0 on every page it should have shown.
pub fn page_scores(
    original: &Original,
    output: &[u8],
    pages: &BTreeSet<u32>,
    floor: f64,
    ctx: &Ctx,
) -> Result<PageScores> {
    let pages: Vec<u32> = pages.iter().copied().collect();
    crate::parallel::need_workers();
    let out_doc = match RenderDoc::open(output, None, ctx) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.check()?;
            tracing::warn!("quality gate: the output does not open for rendering: {e}");
            None
        }
    };
    // One page: render the original and the output at once, the only
    // parallelism there is (most one-page files are one big image).
    if let [page] = pages[..] {
        let (a, b) = rayon::join(
            || render_original(original, page, &mut original.doc.renderer(ctx), ctx),
            || {
                out_doc
                    .as_ref()
                    .map(|d| d.renderer(ctx).render_gray(page, GATE_DPI, ctx))
            },
        );
        return Ok(vec![score(original, page, a, b, floor, ctx)?]);
    }
    let results: Vec<Result<PageScores>> = pages
        .par_chunks(PAGES_PER_TASK)
        .map(|chunk| {
            let mut before = original.doc.renderer(ctx);
            let mut after = out_doc.as_ref().map(|d| d.renderer(ctx));
            let mut scores = Vec::with_capacity(chunk.len());
            for &page in chunk {
                ctx.check()?;
                let a = render_original(original, page, &mut before, ctx);
                // No use rendering the output when the original fails.
                let b = match a {
                    Ok(_) => after.as_mut().map(|r| r.render_gray(page, GATE_DPI, ctx)),
                    Err(_) => None,
                };
                scores.push(score(original, page, a, b, floor, ctx)?);
            }
            Ok(scores)
        })
        .collect();
    let mut all = Vec::with_capacity(pages.len());
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

/// The original's render of `page`, from the cache when it is there.
fn render_original(
    original: &Original,
    page: u32,
    renderer: &mut PageRenderer<'_>,
    ctx: &Ctx,
) -> Result<GrayImage> {
    if let Some(img) = original.cached(page) {
        return Ok(img);
    }
    renderer.render_gray(page, GATE_DPI, ctx)
}

/// One page's score from its two renders (`after` is `None` when the output
/// did not open); keeps the original's render when the page is under
/// `floor` (or the original keeps all). Errors only on cancellation or the
/// time limit.
fn score(
    original: &Original,
    page: u32,
    before: Result<GrayImage>,
    after: Option<Result<GrayImage>>,
    floor: f64,
    ctx: &Ctx,
) -> Result<(u32, Option<f64>)> {
    let a = match before {
        Ok(img) => img,
        Err(e) => {
            ctx.check()?;
            tracing::debug!(page, "quality gate: original not renderable: {e}");
            return Ok((page, None));
        }
    };
    let s = match after {
        Some(Ok(b)) => compare(&a, &b).unwrap_or(0.0),
        Some(Err(e)) => {
            ctx.check()?;
            tracing::warn!(page, "quality gate: output page not renderable: {e}");
            0.0
        }
        None => 0.0,
    };
    if s < floor || original.keep_all {
        original.remember(page, a);
    }
    Ok((page, Some(s)))
}

fn compare(a: &GrayImage, b: &GrayImage) -> Option<f64> {
    ssim_any_size(
        SsimImage::new(a.width, a.height, &a.pixels)?,
        SsimImage::new(b.width, b.height, &b.pixels)?,
    )
}

/// Minimum and median of the measured scores.
pub fn summary(scores: &PageScores) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = scores.iter().filter_map(|(_, s)| *s).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Some((v[0], median))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_ignores_unmeasured_pages() {
        assert_eq!(summary(&vec![(1, None)]), None);
        let s = summary(&vec![
            (1, Some(0.9)),
            (2, None),
            (3, Some(0.5)),
            (4, Some(1.0)),
        ]);
        assert_eq!(s, Some((0.5, 0.9)));
        let s = summary(&vec![(1, Some(0.8)), (2, Some(0.6))]);
        assert_eq!(s.map(|s| s.0), Some(0.6));
        assert!((s.map(|s| s.1).unwrap_or(0.0) - 0.7).abs() < 1e-9);
    }
}

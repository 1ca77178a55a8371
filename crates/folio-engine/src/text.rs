//! Text extraction in reading order, pages separated by form feeds.
//!
//! hayro-interpret runs each page's content through a [`Device`] that only
//! collects glyphs: their Unicode text (ToUnicode, glyph names), origin,
//! baseline direction, size and advance. Layout then happens per page:
//!
//! 1. glyphs are grouped by baseline direction (rotated text is read in its own
//!    frame, so a `/Rotate 90` page or a vertical label still reads in order);
//! 2. consecutive glyphs of the content stream on one baseline form chunks,
//!    and chunks that share a baseline and nearly touch become line segments
//!    (spaces come from explicit space glyphs or gaps wider than a fraction of
//!    the font size; duplicated glyphs, as in fake bold, are dropped);
//! 3. segments are ordered by recursive XY-cut: a vertical gutter that splits
//!    the region into two substantial sides is cut first (columns), otherwise
//!    the widest horizontal gap (title above columns, paragraphs);
//! 4. rows are written top to bottom, segments of one row joined by a space,
//!    blank lines between blocks, and a word hyphenated across lines is joined
//!    as pdftotext does.

use std::ops::Range;

use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::hayro_cmap::{BfString, WritingMode};
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps,
    InterpreterCache, InterpreterSettings, SoftMask, interpret_page,
};
use hayro::kurbo::{BezPath, Point, Rect};

use crate::preflight::{Preflight, Purpose};
use crate::render::RenderDoc;
use crate::report::{self, OutputFile, Report};
use crate::{Ctx, Output, PageSpec, Result};

#[derive(Debug, Clone)]
pub struct TextOptions {
    pub pages: PageSpec,
    pub password: Option<String>,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            pages: PageSpec::all(),
            password: None,
        }
    }
}

/// Most glyphs kept from one page: a bound on memory for hostile content
/// streams that show millions of glyphs. Real pages have a few thousand.
const MAX_GLYPHS_PER_PAGE: usize = 2_000_000;

/// Extract the text of the selected pages as UTF-8, one form feed between
/// pages (`text.txt`).
///
/// Errors: those of `document::open`, `page_out_of_range` / `invalid_options`
/// for the selection, `limit_exceeded` when a stream the pages use decodes
/// past the limits.
pub fn text(input: &[u8], opts: &TextOptions, ctx: &Ctx) -> Result<Output> {
    ctx.progress(0.0);
    let doc = RenderDoc::open(input, opts.password.as_deref(), ctx)?;
    let count = doc.page_count();
    let selected = opts.pages.resolve(count)?;
    let mut preflight = Preflight::new(doc.lopdf(), Purpose::Text, ctx);
    let cache = InterpreterCache::new();
    let settings = InterpreterSettings::default();
    let pdf = doc.hayro();
    let pages = pdf.pages();

    let mut out = String::new();
    let mut truncated_pages = 0u32;
    let mut empty_pages = 0u32;
    for (i, &number) in selected.iter().enumerate() {
        ctx.check()?;
        if doc.pages_agree() {
            preflight.check_page(number, ctx)?;
        } else {
            preflight.check_all(ctx)?;
        }
        let Some(page) = number.checked_sub(1).and_then(|i| pages.get(i as usize)) else {
            return Err(crate::Error::PageOutOfRange {
                page: number,
                count,
            });
        };
        let (w, h) = page.render_dimensions();
        let mut context = Context::new(
            page.initial_transform(true).to_kurbo(),
            Rect::new(0.0, 0.0, w as f64, h as f64),
            &cache,
            page.xref(),
            settings.clone(),
        );
        let mut collector = Collector::default();
        interpret_page(page, &mut context, &mut collector);
        if collector.truncated {
            truncated_pages += 1;
        }
        ctx.check()?;
        let page_text = layout_page(&collector, (w as f64, h as f64));
        if page_text.trim().is_empty() {
            empty_pages += 1;
        }
        if i > 0 {
            out.push('\x0c');
        }
        out.push_str(&page_text);
        ctx.progress((i + 1) as f32 / selected.len() as f32);
    }

    let mut report = Report::new("text");
    report.inputs = 1;
    report.bytes_in = input.len() as u64;
    report.pages_in = count;
    report.detail("pages", selected.len());
    report.detail("characters", out.chars().count());
    if empty_pages > 0 {
        report.notes.push(format!(
            "{empty_pages} page(s) have no extractable text (scanned images need OCR)"
        ));
    }
    if truncated_pages > 0 {
        report.notes.push(format!(
            "{truncated_pages} page(s) show more than {MAX_GLYPHS_PER_PAGE} glyphs; the rest was skipped"
        ));
    }
    if doc.was_encrypted() {
        report.notes.push("the input was encrypted".into());
    }
    Ok(Output::single(
        OutputFile {
            name: "text.txt".into(),
            media_type: report::TEXT,
            bytes: out.into_bytes(),
        },
        report,
        ctx,
    ))
}

/// One glyph as shown on the page (display coordinates: y down, page rotation
/// applied, in points).
#[derive(Debug, Clone)]
struct RawGlyph {
    text: Range<usize>,
    x: f64,
    y: f64,
    /// Baseline direction (unit vector).
    dx: f64,
    dy: f64,
    /// Font size in points.
    em: f64,
    /// Advance along the baseline, in points.
    adv: f64,
    space: bool,
}

/// A [`Device`] that keeps glyphs and ignores all drawing.
#[derive(Default)]
struct Collector {
    text: String,
    glyphs: Vec<RawGlyph>,
    truncated: bool,
}

impl Collector {
    /// Place one glyph; `scale` turns glyph units into page units along
    /// the baseline (see [`run_scale`]), `None` meaning "use the em".
    fn push_glyph(&mut self, s: &str, m: &GlyphGeom, scale: Option<f64>) {
        if self.glyphs.len() >= MAX_GLYPHS_PER_PAGE {
            self.truncated = true;
            return;
        }
        let GlyphGeom {
            origin,
            dx,
            dy,
            em,
            adv_units,
            vertical,
        } = *m;
        let adv = if vertical {
            // CJK vertical text: one em per glyph down the column.
            em
        } else if adv_units.is_finite() && adv_units > 0.0 {
            (adv_units * scale.unwrap_or(em / 1000.0)).min(em * 10.0)
        } else {
            0.0
        };
        let start = self.text.len();
        let mut only_space = true;
        for ch in s.chars() {
            match ch {
                '\u{0}'..='\u{1f}' | '\u{7f}' | '\u{200b}'..='\u{200d}' | '\u{feff}' => {}
                ' ' | '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{3000}' => {}
                '\u{fb00}' => self.push_str("ff", &mut only_space),
                '\u{fb01}' => self.push_str("fi", &mut only_space),
                '\u{fb02}' => self.push_str("fl", &mut only_space),
                '\u{fb03}' => self.push_str("ffi", &mut only_space),
                '\u{fb04}' => self.push_str("ffl", &mut only_space),
                '\u{fb05}' | '\u{fb06}' => self.push_str("st", &mut only_space),
                // Hebrew and Arabic presentation forms (shaped glyphs) are
                // written as the letters they show, as NFKC does.
                // A ligature (lam-alef) expands to letters in reading order,
                // but glyphs are collected in page order and right-to-left
                // lines are reversed later: store them reversed.
                '\u{fb1d}'..='\u{fdff}' | '\u{fe70}'..='\u{fefe}' => {
                    use unicode_normalization::UnicodeNormalization;
                    let letters: String = std::iter::once(ch).nfkc().collect();
                    if letters.chars().all(is_rtl_or_mark) {
                        self.text.push_str(&reverse_clusters(&letters));
                    } else {
                        self.text.push_str(&letters);
                    }
                    only_space = false;
                }
                other => {
                    self.text.push(other);
                    only_space = false;
                }
            }
        }
        let is_space = only_space && s.chars().any(|c| c.is_whitespace());
        if only_space && !is_space {
            // Control characters only: nothing to place.
            self.text.truncate(start);
            return;
        }
        self.glyphs.push(RawGlyph {
            text: start..self.text.len(),
            x: origin.x,
            y: origin.y,
            dx,
            dy,
            em,
            adv,
            space: is_space,
        });
    }

    fn push_str(&mut self, s: &str, only_space: &mut bool) {
        self.text.push_str(s);
        *only_space = false;
    }
}

impl<'a> Device<'a> for Collector {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}

    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        let vertical = matches!(run.writing_mode(), WritingMode::Vertical);
        let mut placed: Vec<(BfString, GlyphGeom)> = Vec::with_capacity(run.glyphs().len());
        for g in run.glyphs() {
            let u = match (g.as_unicode(), &**g) {
                (Some(u), _) => u,
                // Type 3 fonts from TeX's bitmap fonts name glyphs "a97" and
                // the like, unknown to the glyph list, but their codes are
                // ASCII for printable characters and Latin-1 for accented
                // letters (T1 encoding); pdftotext does the same.
                (None, Glyph::Type3(t)) => match t.char_code() {
                    c @ (0x20..=0x7e | 0xc0..=0xff) => BfString::Char(char::from(c as u8)),
                    _ => continue,
                },
                (None, _) => continue,
            };
            let adv = match &**g {
                Glyph::Outline(o) => o.advance_width(),
                Glyph::Type3(t) => t.advance_width(),
            }
            .unwrap_or(0.0) as f64;
            if let Some(geom) = GlyphGeom::new(props.transform * g.transform(), adv, vertical) {
                placed.push((u, geom));
            }
        }
        let scale = run_scale(&placed);
        for (u, geom) in &placed {
            match u {
                BfString::Char(c) => {
                    let mut buf = [0u8; 4];
                    self.push_glyph(c.encode_utf8(&mut buf), geom, scale);
                }
                BfString::String(s) => self.push_glyph(s, geom, scale),
            }
        }
    }
}

/// Where and how big one glyph is, in display space.
#[derive(Debug, Clone, Copy)]
struct GlyphGeom {
    origin: Point,
    /// Baseline direction (unit vector).
    dx: f64,
    dy: f64,
    /// Font size in points, from the glyph's "up" axis (1000 units per em),
    /// which width stretching does not touch.
    em: f64,
    /// Advance in glyph units (1000 per em), from the PDF's widths.
    adv_units: f64,
    vertical: bool,
}

impl GlyphGeom {
    fn new(m: hayro::kurbo::Affine, adv_units: f64, vertical: bool) -> Option<Self> {
        let [a, b, c, d, _, _] = m.as_coeffs();
        let origin = m * Point::ZERO;
        if !(origin.x.is_finite() && origin.y.is_finite()) {
            return None;
        }
        let em = (c.hypot(d) * 1000.0).clamp(0.01, 1.0e5);
        let (dx, dy) = if vertical {
            // Vertical writing advances down the glyph's up axis.
            (-c, -d)
        } else if a.hypot(b) > 1e-12 {
            (a, b)
        } else {
            (-d, c)
        };
        let n = dx.hypot(dy);
        if !(n.is_finite() && n > 0.0) {
            return None;
        }
        Some(GlyphGeom {
            origin,
            dx: dx / n,
            dy: dy / n,
            em,
            adv_units,
            vertical,
        })
    }
}

/// Page units per glyph unit along the baseline for one run, when the run
/// itself shows the text is stretched (`Tz`, an anisotropic matrix) so the em
/// does not give advances. Consecutive origins are one advance apart plus
/// char/word spacing and kerning, so a real scale shows as the same ratio of
/// distance to advance across glyphs of *different* widths (constant letter
/// spacing or evenly spaced dot leaders give ratios that vary with the width,
/// or a single width). `None` keeps the em: hayro stretches a substitute
/// font's outlines, so the glyph's x axis cannot be trusted for this.
fn run_scale(placed: &[(BfString, GlyphGeom)]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = placed
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (&w[0].1, &w[1].1);
            if a.vertical || !(a.adv_units.is_finite() && a.adv_units > 1.0) {
                return None;
            }
            let along = (b.origin.x - a.origin.x) * a.dx + (b.origin.y - a.origin.y) * a.dy;
            Some((along / a.adv_units, a.adv_units))
        })
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let mut ratios: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    ratios.sort_by(f64::total_cmp);
    let m = *ratios.get(ratios.len() / 2)?;
    let em = placed.first()?.1.em / 1000.0;
    if !(m > em * 0.2 && m < em * 5.0) || (m / em - 1.0).abs() < 0.1 {
        return None;
    }
    let agreeing: Vec<f64> = pairs
        .iter()
        .filter(|p| (p.0 - m).abs() <= 0.03 * m)
        .map(|p| p.1)
        .collect();
    // Widths among the agreeing pairs: several, none dominating.
    let mut widths: Vec<i64> = agreeing.iter().map(|w| w.round() as i64).collect();
    widths.sort_unstable();
    let mut most = 0usize;
    let mut distinct = 0usize;
    for run in widths.chunk_by(|a, b| a == b) {
        distinct += 1;
        most = most.max(run.len());
    }
    (agreeing.len() * 2 >= pairs.len()
        && agreeing.len() >= 3
        && distinct >= 3
        && most * 10 <= agreeing.len() * 7)
        .then_some(m)
}

// ---------------------------------------------------------------------------
// Layout

/// A gap wider than this fraction of the font size is a word space
/// (pdftotext's value; measured on the corpus, 0.12 loses "10.Link"-style
/// tight list numbers and splits no more words at 0.1).
const SPACE_GAP: f64 = 0.1;
/// Consecutive glyphs of the stream further apart than this (in em) start a
/// new chunk.
const CHUNK_GAP: f64 = 1.5;
/// Chunks on one baseline closer than this (in em) are one line segment.
const MERGE_GAP: f64 = 0.8;
/// A vertical gutter must be at least this wide (in em) to split columns.
const GUTTER: f64 = 0.9;
/// Each side of a column split must be at least this wide (in em), so a list's
/// bullets are not read as a column of their own.
const MIN_COLUMN_WIDTH: f64 = 3.0;
/// Regions with more segments than this are split at every horizontal gap.
const MAX_CAREFUL_REGION: usize = 4000;
/// Fraction of the em above the baseline (ascent) and below it (descent)
/// used for line boxes.
const ASCENT: f64 = 0.8;
const DESCENT: f64 = 0.2;

/// A glyph in its direction group's frame: `u` along the baseline, `v` down
/// across lines.
#[derive(Debug, Clone)]
struct FGlyph {
    idx: usize,
    u0: f64,
    u1: f64,
    v: f64,
    em: f64,
    space: bool,
}

impl FGlyph {
    fn top(&self) -> f64 {
        self.v - ASCENT * self.em
    }
    fn bottom(&self) -> f64 {
        self.v + DESCENT * self.em
    }
}

/// A line segment: glyphs on one baseline, sorted along it.
#[derive(Debug, Clone)]
struct Seg {
    text: String,
    u0: f64,
    u1: f64,
    top: f64,
    bottom: f64,
    v: f64,
    em: f64,
}

/// Fraction of the shorter of two vertical extents that they share.
fn v_overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    let inter = a.1.min(b.1) - a.0.max(b.0);
    let shorter = (a.1 - a.0).min(b.1 - b.0);
    if shorter <= 0.0 {
        return if inter >= 0.0 { 1.0 } else { 0.0 };
    }
    inter / shorter
}

/// Fraction of the longer of two vertical extents that they share: a tall
/// glyph (a brace spanning lines, a drop cap) does not pass for the line of
/// every small glyph beside it.
fn v_overlap_of_longer(a: (f64, f64), b: (f64, f64)) -> f64 {
    let inter = a.1.min(b.1) - a.0.max(b.0);
    let longer = (a.1 - a.0).max(b.1 - b.0);
    if longer <= 0.0 {
        return if inter >= 0.0 { 1.0 } else { 0.0 };
    }
    inter / longer
}

/// The text of one page.
fn layout_page(c: &Collector, (w, h): (f64, f64)) -> String {
    // Drop what lies well outside the page: it is clipped away for readers.
    let margin = 2.0;
    let visible: Vec<usize> = (0..c.glyphs.len())
        .filter(|&i| {
            let g = &c.glyphs[i];
            g.x >= -margin - g.em
                && g.x <= w + margin + g.em
                && g.y >= -margin - g.em
                && g.y <= h + margin + g.em
        })
        .collect();

    // Group by baseline direction, snapped to multiples of 90° when close.
    let mut groups: Vec<(i32, Vec<usize>)> = Vec::new();
    for i in visible {
        let g = &c.glyphs[i];
        let key = direction_key(g.dx, g.dy);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    // Main direction first, like pdftotext's primary rotation.
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));

    let mut rows_out: Vec<OutRow> = Vec::new();
    for (gi, (key, members)) in groups.iter().enumerate() {
        let segs = build_segments(c, *key, members);
        let mut rows = order_rows(segs);
        if gi > 0
            && let Some(first) = rows.first_mut()
        {
            first.blank_before = true;
        }
        rows_out.extend(rows);
    }
    write_rows(&rows_out)
}

fn direction_key(dx: f64, dy: f64) -> i32 {
    let deg = dy.atan2(dx).to_degrees();
    let snapped = (deg / 90.0).round() * 90.0;
    let d = if (deg - snapped).abs() <= 5.0 {
        snapped
    } else {
        (deg / 2.0).round() * 2.0
    };
    (d.round() as i32).rem_euclid(360)
}

/// Chunks in stream order, merged into line segments.
fn build_segments(c: &Collector, key: i32, members: &[usize]) -> Vec<Seg> {
    let theta = (key as f64).to_radians();
    let (cos, sin) = (theta.cos(), theta.sin());
    let fg: Vec<FGlyph> = members
        .iter()
        .map(|&i| {
            let g = &c.glyphs[i];
            let u = g.x * cos + g.y * sin;
            let v = -g.x * sin + g.y * cos;
            FGlyph {
                idx: i,
                u0: u,
                u1: u + g.adv,
                v,
                em: g.em,
                space: g.space,
            }
        })
        .collect();

    // 1. Chunks: runs of stream-consecutive glyphs on one baseline.
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_end = 0.0f64;
    for (k, g) in fg.iter().enumerate() {
        if let Some(&last) = cur.last() {
            let p: &FGlyph = &fg[last];
            let em = p.em.max(g.em);
            let gap = g.u0 - cur_end;
            let same_line = v_overlap((p.top(), p.bottom()), (g.top(), g.bottom())) >= 0.5
                && (g.v - p.v).abs() <= 0.5 * em;
            if !(same_line && gap <= CHUNK_GAP * em && gap >= -0.7 * em) {
                chunks.push(std::mem::take(&mut cur));
            }
        }
        if cur.is_empty() {
            cur_end = g.u1;
        } else {
            cur_end = cur_end.max(g.u1);
        }
        cur.push(k);
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }

    // 2. Merge chunks sharing a baseline and (nearly) touching.
    // Chunks of nothing but spaces (blank form fields, padding) carry no
    // text and would only glue unrelated lines together.
    chunks.retain(|ch| ch.iter().any(|&k| !fg[k].space));
    #[derive(Clone, Copy)]
    struct CBox {
        u0: f64,
        u1: f64,
        top: f64,
        bottom: f64,
        em: f64,
        v: f64,
    }
    let boxes: Vec<CBox> = chunks
        .iter()
        .map(|ch| {
            let mut b = CBox {
                u0: f64::INFINITY,
                u1: f64::NEG_INFINITY,
                top: f64::INFINITY,
                bottom: f64::NEG_INFINITY,
                em: 0.0,
                v: 0.0,
            };
            for &k in ch {
                let g = &fg[k];
                b.u0 = b.u0.min(g.u0);
                b.u1 = b.u1.max(g.u1);
                b.top = b.top.min(g.top());
                b.bottom = b.bottom.max(g.bottom());
                if g.em > b.em {
                    b.em = g.em;
                    b.v = g.v;
                }
            }
            b
        })
        .collect();
    let mut uf = UnionFind::new(chunks.len());
    // Pairwise on a sweep over tops; quadratic only within one band of lines,
    // and skipped for absurd chunk counts.
    let mut comparisons = 0u64;
    if chunks.len() <= 20_000 {
        let mut order: Vec<usize> = (0..chunks.len()).collect();
        order.sort_by(|&a, &b| boxes[a].top.total_cmp(&boxes[b].top));
        for (oi, &a) in order.iter().enumerate() {
            let ba = boxes[a];
            for &b in &order[oi + 1..] {
                let bb = boxes[b];
                comparisons += 1;
                if bb.top >= ba.bottom || comparisons > 50_000_000 {
                    break;
                }
                if v_overlap((ba.top, ba.bottom), (bb.top, bb.bottom)) < 0.5 {
                    continue;
                }
                let em = ba.em.max(bb.em);
                let small = ba.em.min(bb.em);
                let similar_size = small * 1.15 >= em;
                // Same-size text on baselines a quarter em apart is another
                // line (superscripts differ in size, and pass on overlap).
                if similar_size && (ba.v - bb.v).abs() > 0.25 * em {
                    continue;
                }
                // Sizes differ: a script shares most of the line's height, a
                // tall glyph spanning several lines does not.
                if !similar_size
                    && v_overlap_of_longer((ba.top, ba.bottom), (bb.top, bb.bottom)) < 0.5
                {
                    continue;
                }
                let gap = ba.u0.max(bb.u0) - ba.u1.min(bb.u1);
                // Overlapping chunks of different sizes are separate layers
                // (a caption over a title), not one line.
                if gap < 0.0 && !similar_size {
                    continue;
                }
                let limit = if similar_size { em } else { small };
                if gap <= MERGE_GAP * limit {
                    uf.union(a, b);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (ci, ch) in chunks.iter().enumerate() {
        groups
            .entry(uf.find(ci))
            .or_default()
            .extend(ch.iter().copied());
    }

    // 3. Build each segment's text along the baseline.
    let mut segs = Vec::with_capacity(groups.len());
    for (_, mut gl) in groups {
        gl.sort_by(|&a, &b| fg[a].u0.total_cmp(&fg[b].u0).then(a.cmp(&b)));
        if let Some(s) = segment_text(c, &fg, &gl) {
            segs.push(s);
        }
    }
    segs
}

/// Join the glyphs of one segment (sorted along the baseline) into text.
fn segment_text(c: &Collector, fg: &[FGlyph], gl: &[usize]) -> Option<Seg> {
    let glyph_str = |k: usize| c.text.get(c.glyphs[fg[k].idx].text.clone()).unwrap_or("");
    let mut text = String::new();
    let mut kept: Vec<usize> = Vec::new();
    let mut last_end: Option<f64> = None;
    let mut pending_space = false;
    // A diacritic drawn before its base letter, waiting for it.
    let mut pending_mark: Option<char> = None;
    let mut has_marks = false;
    let mut seg = Seg {
        text: String::new(),
        u0: f64::INFINITY,
        u1: f64::NEG_INFINITY,
        top: f64::INFINITY,
        bottom: f64::NEG_INFINITY,
        v: 0.0,
        em: 0.0,
    };
    for (pos, &k) in gl.iter().enumerate() {
        let g = &fg[k];
        if g.space {
            // A space counts when it follows the text so far, not when it
            // is drawn over a glyph (padding of another layer).
            if last_end.is_some_and(|e| g.u0 >= e - 0.3 * g.em) {
                pending_space = true;
            }
            continue;
        }
        let s = glyph_str(k);
        // Drop a glyph drawn again on top of itself (fake bold, fill + stroke).
        let dup = kept.iter().rev().take(4).any(|&p| {
            let q = &fg[p];
            (q.u0 - g.u0).abs() < 0.15 * g.em
                && (q.v - g.v).abs() < 0.15 * g.em
                && glyph_str(p) == s
        });
        if dup {
            continue;
        }
        // A spacing accent placed over a neighbour (TeX builds accented
        // letters this way) becomes a combining mark on that letter.
        if let Some(mark) = combining_mark(s) {
            let center = (g.u0 + g.u1) / 2.0;
            let covers = |q: &FGlyph| {
                center >= q.u0 - 0.05 * q.em
                    && center <= q.u1 + 0.05 * q.em
                    && v_overlap((q.top(), q.bottom()), (g.top(), g.bottom())) > 0.0
            };
            if !pending_space && kept.last().is_some_and(|&p| covers(&fg[p])) {
                attach_mark(&mut text, mark);
                has_marks = true;
                continue;
            }
            let next = gl.get(pos + 1).map(|&n| &fg[n]).filter(|n| !n.space);
            if pending_mark.is_none() && next.is_some_and(covers) {
                pending_mark = Some(mark);
                continue;
            }
        }
        if let Some(&p) = kept.last()
            && let Some(end) = last_end
        {
            let q = &fg[p];
            let em = g.em.min(q.em).max(0.01);
            let big = g.em.max(q.em);
            // Super- and subscripts: a smaller size on a shifted baseline is
            // a separate word, as pdftotext writes it.
            let script = (g.v - q.v).abs() > 0.2 * big && g.em.min(q.em) * 1.1 < big;
            if (pending_space || script || g.u0 - end > SPACE_GAP * em) && !text.ends_with(' ') {
                text.push(' ');
            }
        }
        pending_space = false;
        text.push_str(s);
        if let Some(mark) = pending_mark.take() {
            attach_mark(&mut text, mark);
            has_marks = true;
        }
        kept.push(k);
        last_end = Some(last_end.map_or(g.u1, |e: f64| e.max(g.u1)));
        seg.u0 = seg.u0.min(g.u0);
        seg.u1 = seg.u1.max(g.u1);
        seg.top = seg.top.min(g.top());
        seg.bottom = seg.bottom.max(g.bottom());
        // The baseline of the biggest glyphs (not of a superscript).
        if g.em > seg.em + 1e-9 {
            seg.em = g.em;
            seg.v = g.v;
        }
    }
    if kept.is_empty() {
        return None;
    }
    let text = text.trim_end();
    seg.text = if has_marks {
        use unicode_normalization::UnicodeNormalization;
        text.nfc().collect()
    } else {
        text.to_string()
    };
    Some(seg)
}

/// The combining form of a spacing accent (or a combining mark itself).
fn combining_mark(s: &str) -> Option<char> {
    let mut it = s.chars();
    let c = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some(match c {
        '`' => '\u{300}',
        '\u{b4}' => '\u{301}',
        '^' | '\u{2c6}' => '\u{302}',
        '~' | '\u{2dc}' => '\u{303}',
        '\u{af}' | '\u{2c9}' => '\u{304}',
        '\u{2d8}' => '\u{306}',
        '\u{2d9}' => '\u{307}',
        '\u{a8}' => '\u{308}',
        '\u{2da}' => '\u{30a}',
        '\u{2dd}' => '\u{30b}',
        '\u{2c7}' => '\u{30c}',
        '\u{b8}' => '\u{327}',
        '\u{2db}' => '\u{328}',
        '\u{300}'..='\u{36f}' => c,
        _ => return None,
    })
}

/// Append a combining mark to the last letter; a dotless i or j under an
/// accent above is the plain letter (TeX draws "ï" as "ı" plus "¨").
fn attach_mark(text: &mut String, mark: char) {
    let above = ('\u{300}'..='\u{315}').contains(&mark);
    if above && text.ends_with('\u{131}') {
        text.pop();
        text.push('i');
    } else if above && text.ends_with('\u{237}') {
        text.pop();
        text.push('j');
    }
    text.push(mark);
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            let p = self.parent[x];
            self.parent[x] = self.parent[p];
            x = p;
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

/// One output line.
#[derive(Debug, Clone)]
struct OutRow {
    text: String,
    blank_before: bool,
}

/// Order segments by XY-cut and turn each leaf region into rows.
fn order_rows(segs: Vec<Seg>) -> Vec<OutRow> {
    if segs.is_empty() {
        return Vec::new();
    }
    let mut leaves: Vec<Vec<usize>> = Vec::new();
    // Depth-first, first region on top of the stack.
    let mut stack: Vec<Vec<usize>> = vec![(0..segs.len()).collect()];
    // Each split costs the region's size; a budget keeps adversarial layouts
    // (one segment peeled per level) from going quadratic without end.
    let mut work = 0usize;
    while let Some(region) = stack.pop() {
        work += region.len();
        if work > 20_000_000 {
            leaves.push(region);
            continue;
        }
        match split_region(&segs, &region) {
            Some(parts) => {
                for p in parts.into_iter().rev() {
                    stack.push(p);
                }
            }
            None => leaves.push(region),
        }
    }

    // Rows per leaf, and the vertical gaps between consecutive rows.
    struct Row {
        text: String,
        top: f64,
        bottom: f64,
        em: f64,
    }
    let mut rows: Vec<(Row, bool)> = Vec::new(); // (row, starts a new leaf)
    for leaf in &leaves {
        let mut idx = leaf.clone();
        idx.sort_by(|&a, &b| {
            segs[a]
                .v
                .total_cmp(&segs[b].v)
                .then(segs[a].u0.total_cmp(&segs[b].u0))
        });
        // Rows with their running vertical extent.
        let mut groups: Vec<(Vec<usize>, f64, f64)> = Vec::new();
        for i in idx {
            let s = &segs[i];
            if let Some((g, t, b)) = groups.last_mut()
                && v_overlap_of_longer((*t, *b), (s.top, s.bottom)) >= 0.5
            {
                g.push(i);
                *t = t.min(s.top);
                *b = b.max(s.bottom);
                continue;
            }
            groups.push((vec![i], s.top, s.bottom));
        }
        let groups = groups.into_iter().map(|(g, _, _)| g);
        for (gi, mut g) in groups.enumerate() {
            g.sort_by(|&a, &b| segs[a].u0.total_cmp(&segs[b].u0));
            let mut text = g
                .iter()
                .map(|&i| segs[i].text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if is_rtl_line(&text) {
                text = visual_to_logical(&text);
            }
            let top = g.iter().map(|&i| segs[i].top).fold(f64::INFINITY, f64::min);
            let bottom = g
                .iter()
                .map(|&i| segs[i].bottom)
                .fold(f64::NEG_INFINITY, f64::max);
            let em = g.iter().map(|&i| segs[i].em).fold(0.0, f64::max);
            rows.push((
                Row {
                    text,
                    top,
                    bottom,
                    em,
                },
                gi == 0,
            ));
        }
    }

    // A blank line where the gap to the previous row is clearly wider than
    // the usual line gap, or where reading jumps up (a new column).
    let gaps: Vec<f64> = rows
        .windows(2)
        .map(|w| w[1].0.top - w[0].0.bottom)
        .filter(|g| *g >= 0.0)
        .collect();
    let typical = median(gaps).unwrap_or(0.0);
    let mut out = Vec::with_capacity(rows.len());
    for i in 0..rows.len() {
        let blank_before = if i == 0 {
            false
        } else {
            let (prev, cur) = (&rows[i - 1].0, &rows[i].0);
            let gap = cur.top - prev.bottom;
            let em = prev.em.min(cur.em);
            let jumped_up = rows[i].1 && cur.bottom < prev.top;
            jumped_up || (gap > 0.6 * em && gap > typical * 1.5 + 0.1 * em)
        };
        out.push(OutRow {
            text: std::mem::take(&mut rows[i].0.text),
            blank_before,
        });
    }
    out
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Split a region at a column gutter or at its widest horizontal gap(s);
/// `None` makes it a leaf.
fn split_region(segs: &[Seg], region: &[usize]) -> Option<Vec<Vec<usize>>> {
    if region.len() < 2 {
        return None;
    }
    let em = median(region.iter().map(|&i| segs[i].em).collect()).unwrap_or(10.0);

    // Vertical gutter: widest gap in the projection on the baseline axis.
    let mut xs: Vec<(f64, f64)> = region.iter().map(|&i| (segs[i].u0, segs[i].u1)).collect();
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (lo, hi) = (
        xs[0].0,
        xs.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max),
    );
    let mut best_x: Option<(f64, f64)> = None;
    let mut reach = xs[0].1;
    for &(a, b) in &xs[1..] {
        if a > reach {
            let gap = a - reach;
            let (left_w, right_w) = (reach - lo, hi - a);
            if gap >= GUTTER * em
                && left_w >= MIN_COLUMN_WIDTH * em
                && right_w >= MIN_COLUMN_WIDTH * em
                && best_x.is_none_or(|(w, _)| gap > w)
            {
                best_x = Some((gap, (a + reach) / 2.0));
            }
        }
        reach = reach.max(b);
    }
    if let Some((_, cut)) = best_x {
        let (left, right): (Vec<usize>, Vec<usize>) =
            region.iter().partition(|&&i| segs[i].u0 < cut);
        // A column split only makes sense when a side has more than one row.
        let rows = |side: &[usize]| {
            let mut v: Vec<f64> = side.iter().map(|&i| segs[i].v).collect();
            v.sort_by(f64::total_cmp);
            v.windows(2).filter(|w| w[1] - w[0] > 0.5 * em).count() + 1
        };
        if !left.is_empty() && !right.is_empty() && (rows(&left) > 1 || rows(&right) > 1) {
            return Some(vec![left, right]);
        }
    }

    // Horizontal gaps: cut at the widest (and any nearly as wide).
    let mut ys: Vec<(f64, f64)> = region
        .iter()
        .map(|&i| (segs[i].top, segs[i].bottom))
        .collect();
    ys.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut gaps: Vec<(f64, f64)> = Vec::new(); // (width, position)
    let mut reach = ys[0].1;
    for &(a, b) in &ys[1..] {
        if a > reach {
            gaps.push((a - reach, (a + reach) / 2.0));
        }
        reach = reach.max(b);
    }
    let widest = gaps.iter().map(|g| g.0).fold(0.0, f64::max);
    if widest <= 0.0 {
        return None;
    }
    // Cutting one gap at a time keeps columns below a title together, but is
    // quadratic; huge regions (hostile or map-like pages) cut every gap.
    let threshold = if region.len() > MAX_CAREFUL_REGION {
        0.0
    } else {
        widest * 0.9
    };
    let mut cuts: Vec<f64> = gaps
        .iter()
        .filter(|g| g.0 >= threshold)
        .map(|g| g.1)
        .collect();
    cuts.sort_by(f64::total_cmp);
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); cuts.len() + 1];
    for &i in region {
        let mid = (segs[i].top + segs[i].bottom) / 2.0;
        let k = cuts.partition_point(|&c| c < mid);
        if let Some(p) = parts.get_mut(k) {
            p.push(i);
        }
    }
    parts.retain(|p| !p.is_empty());
    if parts.len() < 2 {
        return None;
    }
    Some(parts)
}

fn is_rtl(c: char) -> bool {
    matches!(c,
        '\u{590}'..='\u{8ff}' | '\u{fb1d}'..='\u{fdff}' | '\u{fe70}'..='\u{feff}')
}

fn is_rtl_or_mark(c: char) -> bool {
    is_rtl(c) || unicode_normalization::char::is_combining_mark(c)
}

/// Base characters with their following combining marks, in reverse order.
fn reverse_clusters(s: &str) -> String {
    let mut clusters: Vec<String> = Vec::new();
    for c in s.chars() {
        match clusters.last_mut() {
            Some(last) if unicode_normalization::char::is_combining_mark(c) => last.push(c),
            _ => clusters.push(c.to_string()),
        }
    }
    clusters.reverse();
    clusters.concat()
}

/// A line whose letters are mostly right-to-left scripts.
fn is_rtl_line(s: &str) -> bool {
    let (mut rtl, mut ltr) = (0usize, 0usize);
    for c in s.chars() {
        if is_rtl(c) {
            rtl += 1;
        } else if c.is_alphabetic() {
            ltr += 1;
        }
    }
    rtl > ltr
}

/// Glyphs come in page order (left to right); a right-to-left line is read
/// from the right. Reverse it, then restore the order inside embedded
/// left-to-right runs (numbers, Latin words), keeping combining marks after
/// their letters.
fn visual_to_logical(s: &str) -> String {
    // Clusters: a base character with the marks that follow it.
    let mut clusters: Vec<String> = Vec::new();
    for c in s.chars() {
        match clusters.last_mut() {
            Some(last) if unicode_normalization::char::is_combining_mark(c) => last.push(c),
            _ => clusters.push(c.to_string()),
        }
    }
    clusters.reverse();
    let strong_ltr = |cl: &str| {
        cl.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() && !is_rtl(c))
    };
    let neutral = |cl: &str| {
        cl.chars()
            .next()
            .is_some_and(|c| !c.is_alphanumeric() && !is_rtl(c))
    };
    let mut i = 0;
    while i < clusters.len() {
        if !strong_ltr(&clusters[i]) {
            i += 1;
            continue;
        }
        // Extend over LTR characters and neutrals that lie between them.
        let mut j = i + 1;
        let mut end = i + 1;
        while j < clusters.len() && (strong_ltr(&clusters[j]) || neutral(&clusters[j])) {
            if strong_ltr(&clusters[j]) {
                end = j + 1;
            }
            j += 1;
        }
        clusters[i..end].reverse();
        i = end;
    }
    clusters.concat()
}

/// Write rows, joining words hyphenated across line ends.
fn write_rows(rows: &[OutRow]) -> String {
    let mut out = String::new();
    let mut carry = String::new();
    for (i, r) in rows.iter().enumerate() {
        if r.text.is_empty() {
            continue;
        }
        if carry.is_empty() && r.blank_before && !out.is_empty() {
            out.push('\n');
        }
        carry.push_str(&r.text);
        let next = rows.get(i + 1);
        if let Some(n) = next
            && !n.blank_before
            && ends_hyphenated(&carry)
            && n.text.chars().next().is_some_and(char::is_alphabetic)
        {
            carry.pop();
            continue;
        }
        out.push_str(&carry);
        out.push('\n');
        carry.clear();
    }
    if !carry.is_empty() {
        out.push_str(&carry);
        out.push('\n');
    }
    out
}

/// A line ending in a hyphen right after a letter.
fn ends_hyphenated(s: &str) -> bool {
    let mut it = s.chars().rev();
    matches!(it.next(), Some('-' | '\u{ad}' | '\u{2010}'))
        && it.next().is_some_and(char::is_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, u0: f64, v: f64) -> Seg {
        let em = 10.0;
        Seg {
            text: text.into(),
            u0,
            u1: u0 + text.len() as f64 * 5.0,
            top: v - ASCENT * em,
            bottom: v + DESCENT * em,
            v,
            em,
        }
    }

    fn texts(rows: &[OutRow]) -> Vec<&str> {
        rows.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn two_columns_read_column_by_column() {
        // Left column at u=0..200, right at u=250..450, aligned baselines,
        // and a full-width title above.
        let mut segs = vec![seg(&"T".repeat(80), 0.0, 10.0)];
        for k in 0..5 {
            let v = 40.0 + 12.0 * k as f64;
            segs.push(seg(&format!("left{k}{}", "x".repeat(34)), 0.0, v));
            segs.push(seg(&format!("right{k}{}", "y".repeat(34)), 250.0, v));
        }
        let rows = order_rows(segs);
        let t = texts(&rows);
        assert!(t[0].starts_with("TTT"));
        let order: Vec<&str> = t[1..].iter().map(|s| &s[..5]).collect();
        assert_eq!(
            order,
            vec![
                "left0", "left1", "left2", "left3", "left4", "right", "right", "right", "right",
                "right"
            ]
        );
        assert!(rows[6].blank_before, "new column starts a block");
    }

    #[test]
    fn bullets_are_not_a_column() {
        let mut segs = Vec::new();
        for k in 0..4 {
            let v = 12.0 * k as f64;
            segs.push(seg("*", 0.0, v));
            segs.push(seg(&format!("item {k} text"), 20.0, v));
        }
        let rows = order_rows(segs);
        assert_eq!(
            texts(&rows),
            vec![
                "* item 0 text",
                "* item 1 text",
                "* item 2 text",
                "* item 3 text"
            ]
        );
    }

    #[test]
    fn hyphenated_words_are_joined() {
        let rows = vec![
            OutRow {
                text: "an alterna-".into(),
                blank_before: false,
            },
            OutRow {
                text: "tive way".into(),
                blank_before: false,
            },
            OutRow {
                text: "x - y".into(),
                blank_before: true,
            },
            OutRow {
                text: "end".into(),
                blank_before: false,
            },
        ];
        assert_eq!(write_rows(&rows), "an alternative way\n\nx - y\nend\n");
    }

    #[test]
    fn right_to_left_lines_are_reversed() {
        // Visual (page) order of "שלום hello world": the Latin phrase keeps
        // its order, the Hebrew word is reversed and comes first.
        let visual = "hello world םולש";
        assert!(is_rtl_line("abc םולש"));
        assert_eq!(visual_to_logical(visual), "שלום hello world");
        assert!(!is_rtl_line("hello שלום world"));
    }

    #[test]
    fn accents_become_combining_marks() {
        let mut t = String::from("na\u{131}");
        attach_mark(&mut t, '\u{308}');
        use unicode_normalization::UnicodeNormalization;
        assert_eq!(
            t.nfc().collect::<String>(),
            "nai\u{308}".nfc().collect::<String>()
        );
        assert_eq!(combining_mark("\u{b8}"), Some('\u{327}'));
        assert_eq!(combining_mark("ab"), None);
    }

    #[test]
    fn direction_keys_snap() {
        assert_eq!(direction_key(1.0, 0.0), 0);
        assert_eq!(direction_key(0.0, 1.0), 90);
        assert_eq!(direction_key(0.0, -1.0), 270);
        assert_eq!(direction_key(1.0, 0.03), 0);
        assert_eq!(direction_key(1.0, 1.0), 46);
    }
}

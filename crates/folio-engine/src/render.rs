//! Render a page to PNG (thumbnails, and the quality checks of compression).
//!
//! Rendering uses hayro. The document is opened twice: by `document::open`
//! (lopdf: limits, encryption errors, and the [`Preflight`] walk that bounds
//! every stream and image a page uses) and by hayro-syntax, which draws. The
//! pixmap size is bounded before it is allocated, since hayro aborts the
//! process when an allocation fails.
//!
//! For many pages of one document (compression's quality gate), open a
//! [`RenderDoc`] once and call [`PageRenderer::render_gray`] per page: fonts,
//! decoded objects and preflight results are shared between pages.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings};

use crate::document::{self, Opened};
use crate::error::LimitKind;
use crate::preflight::{self, Preflight, Purpose};
use crate::report::{self, OutputFile, Report};
use crate::{Ctx, Error, Limits, Output, Result};

#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// 1-based page number.
    pub page: u32,
    /// Resolution in dots per inch.
    pub dpi: f32,
    pub password: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            page: 1,
            dpi: 72.0,
            password: None,
        }
    }
}

/// Highest accepted resolution: beyond this a page is a poster, not a preview.
pub const MAX_DPI: f32 = 2400.0;

/// An 8-bit grayscale raster, row-major, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// An 8-bit RGB raster (opaque, composited on white), row-major, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// Luma (Rec. 601 weights), as most tools compute gray.
    pub fn to_gray(&self) -> GrayImage {
        let mut pixels = vec![0u8; self.pixels.len() / 3];
        for (o, p) in pixels.iter_mut().zip(self.pixels.chunks_exact(3)) {
            *o = luma(p[0], p[1], p[2]);
        }
        GrayImage {
            width: self.width,
            height: self.height,
            pixels,
        }
    }

    /// Encode as an 8-bit RGB PNG.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        encode_png(self.width, self.height, png::ColorType::Rgb, &self.pixels)
    }
}

impl GrayImage {
    /// Encode as an 8-bit grayscale PNG.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        encode_png(
            self.width,
            self.height,
            png::ColorType::Grayscale,
            &self.pixels,
        )
    }
}

fn encode_png(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Result<Vec<u8>> {
    let fail = |e: png::EncodingError| Error::Internal(format!("PNG encoding failed: {e}"));
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(fail)?;
    writer.write_image_data(data).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Reject resolutions that are not a positive number up to [`MAX_DPI`].
pub fn check_dpi(dpi: f32) -> Result<()> {
    if !(dpi.is_finite() && dpi > 0.0 && dpi <= MAX_DPI) {
        return Err(Error::InvalidOptions(format!(
            "dpi must be above 0 and at most {MAX_DPI}, got {dpi}"
        )));
    }
    Ok(())
}

/// A document opened for rendering: the lopdf copy (limits, preflight) and
/// the hayro copy (drawing).
pub struct RenderDoc {
    opened: Opened,
    pdf: hayro_syntax::Pdf,
}

impl RenderDoc {
    /// Open `bytes` (errors: those of `document::open`, plus `invalid_pdf` /
    /// `encrypted` / `wrong_password` / `unsupported_feature` when hayro
    /// disagrees with lopdf).
    pub fn open(bytes: &[u8], password: Option<&str>, ctx: &Ctx) -> Result<Self> {
        let opened = document::open(bytes, password, ctx)?;
        ctx.check()?;
        let pdf = hayro_syntax::Pdf::new_with_password(bytes.to_vec(), password.unwrap_or(""))
            .map_err(|e| preflight::hayro_error(e, password))?;
        let n = pdf.pages().len();
        Limits::ensure(LimitKind::Pages, ctx.limits.max_pages as u64, n as u64)?;
        if n == 0 {
            return Err(Error::InvalidPdf(
                "the document has no readable pages".into(),
            ));
        }
        if n != opened.page_count as usize {
            tracing::warn!(
                hayro = n,
                lopdf = opened.page_count,
                "the two parsers count different page numbers"
            );
        }
        Ok(RenderDoc { opened, pdf })
    }

    /// Pages as the renderer sees them.
    pub fn page_count(&self) -> u32 {
        u32::try_from(self.pdf.pages().len()).unwrap_or(u32::MAX)
    }

    pub fn was_encrypted(&self) -> bool {
        self.opened.was_encrypted
    }

    /// The lopdf copy of the document (read-only).
    pub fn lopdf(&self) -> &lopdf::Document {
        &self.opened.doc
    }

    pub(crate) fn hayro(&self) -> &hayro_syntax::Pdf {
        &self.pdf
    }

    /// Whether both parsers agree on the page list, so page N of one is page N
    /// of the other and can be preflighted alone.
    pub(crate) fn pages_agree(&self) -> bool {
        self.pdf.pages().len() == self.opened.page_count as usize
    }

    /// A renderer that shares caches across the pages it renders.
    pub fn renderer(&self, ctx: &Ctx) -> PageRenderer<'_> {
        PageRenderer {
            doc: self,
            cache: RenderCache::new(),
            settings: InterpreterSettings::default(),
            preflight: Preflight::new(&self.opened.doc, Purpose::Render, ctx),
        }
    }
}

/// Renders pages of one [`RenderDoc`], reusing fonts and checks between pages.
pub struct PageRenderer<'a> {
    doc: &'a RenderDoc,
    cache: RenderCache<'a>,
    settings: InterpreterSettings,
    preflight: Preflight<'a>,
}

impl<'a> PageRenderer<'a> {
    /// Size in pixels of `page` (1-based) at `dpi`, without rendering.
    pub fn page_size(&self, page: u32, dpi: f32) -> Result<(u32, u32)> {
        check_dpi(dpi)?;
        let p = self.page(page)?;
        let (w, h) = p.render_dimensions();
        let scale = dpi as f64 / 72.0;
        let px = |v: f32| (v as f64 * scale).round().max(1.0);
        let (pw, ph) = (px(w), px(h));
        Ok((
            pw.min(u32::MAX as f64) as u32,
            ph.min(u32::MAX as f64) as u32,
        ))
    }

    fn page(&self, page: u32) -> Result<&'a hayro_syntax::page::Page<'a>> {
        let pages = self.doc.pdf.pages();
        let count = self.doc.page_count();
        page.checked_sub(1)
            .and_then(|i| pages.get(i as usize))
            .ok_or(Error::PageOutOfRange { page, count })
    }

    /// Render `page` (1-based) at `dpi` on a white background.
    pub fn render_rgb(&mut self, page: u32, dpi: f32, ctx: &Ctx) -> Result<RgbImage> {
        let (width, height, pixmap) = self.render_pixmap(page, dpi, ctx)?;
        Ok(RgbImage {
            width,
            height,
            pixels: premultiplied_on_white(pixmap.data_as_u8_slice()),
        })
    }

    /// Render `page` (1-based) at `dpi` and convert to 8-bit gray: the same
    /// values as `render_rgb(..).to_gray()`, without the RGB raster between.
    pub fn render_gray(&mut self, page: u32, dpi: f32, ctx: &Ctx) -> Result<GrayImage> {
        let (width, height, pixmap) = self.render_pixmap(page, dpi, ctx)?;
        Ok(GrayImage {
            width,
            height,
            pixels: premultiplied_gray_on_white(pixmap.data_as_u8_slice()),
        })
    }

    /// The checks and hayro's render of `page`: premultiplied RGBA.
    fn render_pixmap(&mut self, page: u32, dpi: f32, ctx: &Ctx) -> Result<(u32, u32, Pixmap)> {
        let (width, height) = self.page_size(page, dpi)?;
        let pixels = (width as u64).saturating_mul(height as u64);
        // vello_cpu addresses pixmaps with u16 sides.
        let side = width.max(height) as u64;
        Limits::ensure(LimitKind::ImagePixels, u16::MAX as u64, side)?;
        Limits::ensure(LimitKind::ImagePixels, ctx.limits.max_image_pixels, pixels)?;
        ctx.check()?;
        if self.doc.pages_agree() {
            self.preflight.check_page(page, ctx)?;
        } else {
            self.preflight.check_all(ctx)?;
        }
        ctx.check()?;
        let p = self.page(page)?;
        let scale = dpi as f64 / 72.0;
        // The sizes were checked against u16::MAX above.
        let (w16, h16) = (width as u16, height as u16);
        let mut rctx = RenderContext::new(w16, h16);
        let transform = Affine::scale(scale) * p.initial_transform(true).to_kurbo();
        hayro::render_into(
            p,
            &self.cache,
            &self.settings,
            &RenderSettings::default(),
            &mut rctx,
            transform,
        );
        rctx.flush();
        let mut pixmap = Pixmap::new(w16, h16);
        rctx.render_with(
            &mut pixmap,
            &mut Resources::default(),
            RasterizerSettings {
                target_init: TargetInit::Clear(WHITE),
                ..Default::default()
            },
        );
        drop(rctx);
        ctx.check()?;
        Ok((width, height, pixmap))
    }
}

/// Premultiplied RGBA → RGB over white (the background is cleared to opaque
/// white, so alpha is 255 except where a renderer left it otherwise).
///
/// Written into a buffer of the final size (not pushed byte by byte), so
/// the loop vectorises: the conversions of the quality gate's renders were
/// 45 % of a 56-page balanced run (pdfcpu__pike-stanford).
fn premultiplied_on_white(rgba: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; rgba.len() / 4 * 3];
    for (o, p) in out.chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
        let inv = 255 - p[3];
        o[0] = p[0].saturating_add(inv);
        o[1] = p[1].saturating_add(inv);
        o[2] = p[2].saturating_add(inv);
    }
    out
}

/// Rec. 601 luma of 8-bit RGB, rounded: the one formula of [`RgbImage::to_gray`]
/// and [`premultiplied_gray_on_white`].
#[inline(always)]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 299 + g as u32 * 587 + b as u32 * 114 + 500) / 1000) as u8
}

/// Premultiplied RGBA → gray over white, in one pass.
fn premultiplied_gray_on_white(rgba: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; rgba.len() / 4];
    for (o, p) in out.iter_mut().zip(rgba.chunks_exact(4)) {
        let inv = 255 - p[3];
        *o = luma(
            p[0].saturating_add(inv),
            p[1].saturating_add(inv),
            p[2].saturating_add(inv),
        );
    }
    out
}

/// Convenience: open `bytes` and render one page (1-based) to gray.
pub fn render_gray(
    bytes: &[u8],
    password: Option<&str>,
    page: u32,
    dpi: f32,
    ctx: &Ctx,
) -> Result<GrayImage> {
    check_dpi(dpi)?;
    let doc = RenderDoc::open(bytes, password, ctx)?;
    let mut r = doc.renderer(ctx);
    r.render_gray(page, dpi, ctx)
}

/// Render `opts.page` at `opts.dpi` to an RGB PNG named `page-N.png`.
///
/// Errors: `invalid_options` (dpi outside (0, 2400], page 0),
/// `page_out_of_range`, `limit_exceeded` (pixmap or a stream/image of the
/// page too large), and those of `document::open`.
pub fn render(input: &[u8], opts: &RenderOptions, ctx: &Ctx) -> Result<Output> {
    check_dpi(opts.dpi)?;
    if opts.page == 0 {
        return Err(Error::InvalidOptions("pages start at 1".into()));
    }
    ctx.progress(0.0);
    let doc = RenderDoc::open(input, opts.password.as_deref(), ctx)?;
    let mut r = doc.renderer(ctx);
    let img = r.render_rgb(opts.page, opts.dpi, ctx)?;
    let png = img.to_png()?;
    let mut report = Report::new("render");
    report.inputs = 1;
    report.bytes_in = input.len() as u64;
    report.pages_in = doc.page_count();
    report.detail("page", opts.page);
    report.detail("dpi", opts.dpi);
    report.detail("width", img.width);
    report.detail("height", img.height);
    if doc.was_encrypted() {
        report.notes.push("the input was encrypted".into());
    }
    ctx.progress(1.0);
    Ok(Output::single(
        OutputFile {
            name: format!("page-{}.png", opts.page),
            media_type: report::PNG,
            bytes: png,
        },
        report,
        ctx,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_in_one_pass_equals_gray_of_the_rgb_raster() {
        // Pseudo-random premultiplied pixels, alpha opaque and not.
        let mut s = 99u32;
        let rgba: Vec<u8> = (0..4 * 5000)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                if i % 4 == 3 && !s.is_multiple_of(3) {
                    255
                } else {
                    (s % 256) as u8
                }
            })
            .collect();
        let rgb = RgbImage {
            width: 100,
            height: 50,
            pixels: premultiplied_on_white(&rgba),
        };
        assert_eq!(rgb.pixels.len(), 3 * 5000);
        // Transparent black over white is white; opaque pixels are unchanged.
        assert_eq!(premultiplied_on_white(&[0, 0, 0, 0]), vec![255, 255, 255]);
        assert_eq!(premultiplied_on_white(&[10, 20, 30, 255]), vec![10, 20, 30]);
        assert_eq!(premultiplied_gray_on_white(&rgba), rgb.to_gray().pixels);
        assert_eq!(rgb.to_gray().pixels.len(), 5000);
        assert_eq!(premultiplied_gray_on_white(&[255, 0, 0, 255]), vec![76]);
    }
}

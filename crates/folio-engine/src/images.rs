//! Images (JPEG, PNG, TIFF) to PDF, passing compressed data through untouched
//! wherever PDF can carry it.
//!
//! - JPEG: the file is embedded byte for byte as a `DCTDecode` image; only
//!   the header is parsed (size, components, Adobe/JFIF/EXIF/ICC segments).
//!   EXIF orientation is applied by the drawing matrix, never by re-encoding.
//! - PNG: opaque, non-interlaced images keep their IDAT data as `FlateDecode`
//!   with PNG predictors; alpha, interlacing and complex palette transparency
//!   are decoded and re-deflated (alpha as an `/SMask`).
//! - TIFF: one page per frame; single-strip CCITT G4 is passed through as
//!   `CCITTFaxDecode`, everything else is decoded and re-deflated.
//!
//! Formats are told apart by their magic bytes, never by the name. Every
//! image's pixel count is checked against `max_image_pixels` before anything
//! is decoded.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_writer::types::Predictor;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use serde_json::json;

use crate::error::LimitKind;
use crate::limits::Limits;
use crate::report::{self, OutputFile, Report};
use crate::{Ctx, Error, Input, Output, Result, document};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum PageSize {
    /// The page is the image's size at its resolution (or `dpi`).
    #[default]
    Auto,
    A4,
    Letter,
}

impl std::str::FromStr for PageSize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(PageSize::Auto),
            "a4" => Ok(PageSize::A4),
            "letter" => Ok(PageSize::Letter),
            other => Err(Error::InvalidOptions(format!(
                "unknown page size '{other}' (use auto, a4 or letter)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImagesOptions {
    pub page_size: PageSize,
    /// Margin around the image, in PDF points (1/72 in).
    pub margin_pt: f32,
    /// Override the image's own resolution (pixels per inch) for `auto` pages.
    pub dpi: Option<f32>,
}

/// Resolution assumed when an image states none: img2pdf's default, so that
/// pages come out the same size as with that widely used tool.
const DEFAULT_DPI: f32 = 96.0;
/// Largest page side most viewers accept (200 in; Acrobat's limit).
const MAX_PAGE_PT: f32 = 14_400.0;
/// Smallest page side Acrobat accepts.
const MIN_PAGE_PT: f32 = 3.0;
const A4_PT: (f32, f32) = (595.275_6, 841.889_8);
const LETTER_PT: (f32, f32) = (612.0, 792.0);
/// Largest ICC profile we embed; real profiles are well below 1 MB.
const MAX_ICC_BYTES: usize = 4 * 1024 * 1024;

pub fn images_to_pdf(inputs: &[Input<'_>], opts: &ImagesOptions, ctx: &Ctx) -> Result<Output> {
    validate_options(opts)?;
    if inputs.is_empty() {
        return Err(Error::InvalidOptions("no images were given".into()));
    }
    ctx.limits
        .check_inputs(inputs.iter().map(|i| i.bytes.len()))?;

    let mut report = Report::new("images");
    report.inputs = inputs.len();
    report.bytes_in = inputs.iter().map(|i| i.bytes.len() as u64).sum();

    let mut writer = Writer::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut details = Vec::new();
    let total = inputs.len() as f32;

    for (index, input) in inputs.iter().enumerate() {
        ctx.check()?;
        let mut emit = |page: Prepared<'_>| -> Result<()> {
            ctx.check()?;
            let pages_so_far = writer.pages.len() as u64 + 1;
            Limits::ensure(LimitKind::Pages, ctx.limits.max_pages as u64, pages_so_far)?;
            let placed = writer.add_page(&page, opts)?;
            *tally.entry(page.handling.to_string()).or_default() += 1;
            for w in &page.warnings {
                report.notes.push(format!("{}: {w}", input.name));
            }
            let mut d = json!({
                "name": input.name,
                "format": page.format,
                "width": page.raster.width,
                "height": page.raster.height,
                "bits_per_component": page.raster.bpc,
                "color": page.raster.color.describe(),
                "handling": page.handling,
                "dpi": [placed.dpi.0, placed.dpi.1],
                "orientation": page.orientation,
                "page_pt": [placed.page.0, placed.page.1],
                "stream_bytes": placed.stream_bytes,
                "icc": page.raster.icc.is_some(),
                "alpha": page.raster.smask.is_some(),
            });
            if let Some(frame) = page.frame {
                d["frame"] = json!(frame);
            }
            details.push(d);
            Ok(())
        };
        prepare(input, ctx, &mut emit)?;
        ctx.progress((index + 1) as f32 / total);
    }

    let pages = u32::try_from(writer.pages.len()).unwrap_or(u32::MAX);
    let bytes = writer.finish();
    document::verify_output(&bytes, pages)?;

    report.pages_out = pages;
    report.notes.splice(
        0..0,
        tally
            .into_iter()
            .map(|(what, n)| format!("{what}: {n} image(s)")),
    );
    report.detail("images", serde_json::Value::Array(details));
    let file = OutputFile {
        name: "images.pdf".into(),
        media_type: report::PDF,
        bytes,
    };
    Ok(Output::single(file, report, ctx))
}

fn validate_options(opts: &ImagesOptions) -> Result<()> {
    let m = opts.margin_pt;
    if !m.is_finite() || m < 0.0 {
        return Err(Error::InvalidOptions(format!(
            "margin must be a non-negative number of points, got {m}"
        )));
    }
    let room = match opts.page_size {
        PageSize::Auto => MAX_PAGE_PT,
        PageSize::A4 => A4_PT.0,
        PageSize::Letter => LETTER_PT.0,
    };
    if 2.0 * m >= room - 1.0 {
        return Err(Error::InvalidOptions(format!(
            "a margin of {m} pt leaves no room for the image on the page"
        )));
    }
    if let Some(d) = opts.dpi
        && !(d.is_finite() && (1.0..=100_000.0).contains(&d))
    {
        return Err(Error::InvalidOptions(format!(
            "dpi must be between 1 and 100000, got {d}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// What goes into the PDF
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Space {
    Gray,
    Rgb,
    Cmyk,
}

impl Space {
    fn components(self) -> u8 {
        match self {
            Space::Gray => 1,
            Space::Rgb => 3,
            Space::Cmyk => 4,
        }
    }

    fn name(self) -> Name<'static> {
        match self {
            Space::Gray => Name(b"DeviceGray"),
            Space::Rgb => Name(b"DeviceRGB"),
            Space::Cmyk => Name(b"DeviceCMYK"),
        }
    }

    /// The ICC header's data colour space signature for this space.
    fn icc_signature(self) -> &'static [u8; 4] {
        match self {
            Space::Gray => b"GRAY",
            Space::Rgb => b"RGB ",
            Space::Cmyk => b"CMYK",
        }
    }
}

enum Color {
    Device(Space),
    /// RGB palette, 3 bytes per entry.
    Indexed(Vec<u8>),
}

impl Color {
    /// Samples per pixel in the image data.
    fn samples(&self) -> u8 {
        match self {
            Color::Device(s) => s.components(),
            Color::Indexed(_) => 1,
        }
    }

    /// The space an ICC profile must describe.
    fn base(&self) -> Space {
        match self {
            Color::Device(s) => *s,
            Color::Indexed(_) => Space::Rgb,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Color::Device(Space::Gray) => "gray",
            Color::Device(Space::Rgb) => "rgb",
            Color::Device(Space::Cmyk) => "cmyk",
            Color::Indexed(_) => "indexed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Dct,
    /// zlib data; `predicted` when rows carry PNG filter bytes.
    Flate {
        predicted: bool,
    },
    /// CCITT Group 4 (K = -1).
    Ccitt {
        black_is_1: bool,
    },
}

/// One image XObject ready to be written.
struct Raster<'a> {
    width: u32,
    height: u32,
    bpc: u8,
    color: Color,
    /// Uncompressed ICC profile, already checked against `color`.
    icc: Option<Cow<'a, [u8]>>,
    data: Cow<'a, [u8]>,
    encoding: Encoding,
    decode: Option<Vec<f32>>,
    /// `/Mask` colour-key ranges (min, max per component).
    color_key: Option<Vec<i32>>,
    smask: Option<Box<Raster<'a>>>,
}

/// One page: an image plus how to place it.
struct Prepared<'a> {
    raster: Raster<'a>,
    /// Pixels per inch as stated by the file (already sanitised).
    dpi: Option<(f32, f32)>,
    /// EXIF/TIFF orientation, 1..=8.
    orientation: u8,
    format: &'static str,
    /// How the image was embedded, for the report's notes.
    handling: &'static str,
    warnings: Vec<String>,
    /// Frame number for multi-frame files.
    frame: Option<usize>,
}

// ---------------------------------------------------------------------------
// Format detection and dispatch
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jpeg,
    Png,
    Tiff,
}

fn sniff(b: &[u8]) -> std::result::Result<Format, &'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if b.starts_with(b"II*\0")
        || b.starts_with(b"MM\0*")
        || b.starts_with(b"II+\0")
        || b.starts_with(b"MM\0+")
    {
        return Ok(Format::Tiff);
    }
    // Name the formats people commonly try, so the error says what to do.
    let known = if b.starts_with(b"GIF8") {
        "a GIF image (not supported: use PNG)"
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        "a WebP image (not supported)"
    } else if b.starts_with(b"BM") {
        "a BMP image (not supported)"
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        "a HEIF/AVIF image (not supported)"
    } else if b.starts_with(b"\0\0\0\x0cjP  ") || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        "a JPEG 2000 image (not supported)"
    } else if document::looks_like_pdf(b) {
        "a PDF, not an image (use merge)"
    } else if b.is_empty() {
        "empty"
    } else {
        "not a JPEG, PNG or TIFF image"
    };
    Err(known)
}

fn prepare<'a>(
    input: &Input<'a>,
    ctx: &Ctx,
    emit: &mut dyn FnMut(Prepared<'a>) -> Result<()>,
) -> Result<()> {
    let format = sniff(input.bytes).map_err(|why| bad(input.name, why))?;
    tracing::debug!(name = input.name, ?format, "images: preparing");
    match format {
        Format::Jpeg => emit(prepare_jpeg(input, ctx)?),
        Format::Png => emit(prepare_png(input, ctx)?),
        Format::Tiff => prepare_tiff(input, ctx, emit),
    }
}

fn bad(name: &str, why: impl std::fmt::Display) -> Error {
    Error::UnsupportedImage(format!("{name}: {why}"))
}

/// Run a third-party decoder so that a panic inside it on a hostile file
/// becomes an `unsupported_image` error instead of taking the process down.
fn guarded<T>(name: &str, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(bad(name, format!("the {what} decoder failed on this file"))),
    }
}

fn check_pixels(name: &str, width: u32, height: u32, ctx: &Ctx) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(bad(
            name,
            format!("the image has no pixels ({width}×{height})"),
        ));
    }
    Limits::ensure(
        LimitKind::ImagePixels,
        ctx.limits.max_image_pixels,
        width as u64 * height as u64,
    )
}

/// Round a stated resolution the way img2pdf does (72.009 dpi from PNG's
/// pixels-per-metre becomes 72), dropping values that cannot be real.
fn sane_dpi(v: f64) -> Option<f32> {
    if !v.is_finite() {
        return None;
    }
    let r = v.round();
    // 0 and 1 are what writers put when they mean "unknown".
    if (2.0..=100_000.0).contains(&r) {
        Some(r as f32)
    } else {
        None
    }
}

fn dpi_pair(x: Option<f32>, y: Option<f32>) -> Option<(f32, f32)> {
    match (x, y) {
        (Some(x), Some(y)) => Some((x, y)),
        (Some(x), None) => Some((x, x)),
        (None, Some(y)) => Some((y, y)),
        (None, None) => None,
    }
}

/// Keep an ICC profile only if it describes `space`; a mismatched profile
/// would make viewers reject or miscolour the image.
fn checked_icc<'a>(
    icc: Option<Cow<'a, [u8]>>,
    space: Space,
    warnings: &mut Vec<String>,
) -> Option<Cow<'a, [u8]>> {
    let icc = icc?;
    if icc.len() < 132 || icc.len() > MAX_ICC_BYTES {
        warnings.push("ICC profile ignored (implausible size)".into());
        return None;
    }
    if &icc[16..20] != space.icc_signature() {
        warnings.push("ICC profile ignored (it does not match the image's colours)".into());
        return None;
    }
    let class = &icc[12..16];
    if !matches!(class, b"mntr" | b"scnr" | b"prtr" | b"spac") {
        warnings.push("ICC profile ignored (not a device profile)".into());
        return None;
    }
    Some(icc)
}

// ---------------------------------------------------------------------------
// EXIF
// ---------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Copy)]
struct ExifFacts {
    orientation: Option<u8>,
    dpi: Option<(f32, f32)>,
}

/// Orientation and resolution from raw EXIF (TIFF-structured) data. EXIF is
/// advisory: anything unreadable is ignored.
fn exif_facts(raw: &[u8]) -> ExifFacts {
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        let mut reader = exif::Reader::new();
        reader.continue_on_error(true);
        match reader.read_raw(raw.to_vec()) {
            Ok(e) => Some(e),
            Err(exif::Error::PartialResult(p)) => Some(p.into_inner().0),
            Err(e) => {
                tracing::debug!("images: unreadable EXIF: {e}");
                None
            }
        }
    }));
    let Ok(Some(exif)) = parsed else {
        return ExifFacts::default();
    };
    let uint = |tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .and_then(|f| f.value.get_uint(0))
    };
    let rational = |tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .and_then(|f| match &f.value {
                exif::Value::Rational(v) => v.first().map(|r| r.to_f64()),
                _ => None,
            })
    };
    let orientation = uint(exif::Tag::Orientation)
        .and_then(|o| u8::try_from(o).ok())
        .filter(|o| (1..=8).contains(o));
    let factor = match uint(exif::Tag::ResolutionUnit) {
        Some(3) => Some(2.54),
        Some(2) | None => Some(1.0),
        _ => None,
    };
    let dpi = factor.and_then(|k| {
        dpi_pair(
            rational(exif::Tag::XResolution).and_then(|v| sane_dpi(v * k)),
            rational(exif::Tag::YResolution).and_then(|v| sane_dpi(v * k)),
        )
    });
    ExifFacts { orientation, dpi }
}

// ---------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct JpegHeader<'a> {
    width: u32,
    height: u32,
    components: u8,
    progressive: bool,
    adobe_transform: Option<u8>,
    jfif_dpi: Option<(f32, f32)>,
    exif: Option<&'a [u8]>,
    icc: Option<Vec<u8>>,
    icc_broken: bool,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]) as usize)
}

/// Walk the JPEG's marker segments up to the first scan. Pixels are never
/// decoded; the scan data is only searched for its end-of-image marker so a
/// truncated upload is refused instead of embedded half-grey.
fn parse_jpeg(b: &[u8]) -> std::result::Result<JpegHeader<'_>, String> {
    let mut h = JpegHeader::default();
    let mut sof_seen = false;
    let mut icc_parts: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut i = 2usize;
    loop {
        if b.get(i) != Some(&0xFF) {
            return Err(if i >= b.len() {
                "truncated JPEG (no image data)".into()
            } else {
                format!("corrupt JPEG (no marker at byte {i})")
            });
        }
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err("truncated JPEG (no image data)".into());
        };
        i += 1;
        match marker {
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 | 0xD9 => return Err("corrupt JPEG (image ends before its data)".into()),
            _ => {}
        }
        let len = be16(b, i).ok_or("truncated JPEG header")?;
        if len < 2 {
            return Err("corrupt JPEG (bad segment length)".into());
        }
        let seg = b.get(i + 2..i + len).ok_or("truncated JPEG header")?;
        match marker {
            0xC0..=0xC2 if !sof_seen => {
                sof_seen = true;
                if seg.len() < 6 {
                    return Err("corrupt JPEG frame header".into());
                }
                if seg[0] != 8 {
                    return Err(format!("{}-bit JPEG (PDF carries only 8-bit JPEG)", seg[0]));
                }
                h.height = be16(seg, 1).unwrap_or(0) as u32;
                h.width = be16(seg, 3).unwrap_or(0) as u32;
                h.components = seg[5];
                h.progressive = marker == 0xC2;
                if seg.len() < 6 + 3 * seg[5] as usize {
                    return Err("corrupt JPEG frame header".into());
                }
                if h.height == 0 {
                    return Err("JPEG with a deferred height (DNL) is not supported".into());
                }
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let kind = match marker {
                    0xC3 => "lossless",
                    0xC9..=0xCB | 0xCD..=0xCF => "arithmetic-coded",
                    _ => "hierarchical",
                };
                return Err(format!("{kind} JPEG (not supported by PDF viewers)"));
            }
            0xE0 if seg.starts_with(b"JFIF\0") && seg.len() >= 12 => {
                let units = seg[7];
                let (x, y) = (be16(seg, 8).unwrap_or(0), be16(seg, 10).unwrap_or(0));
                let k = match units {
                    1 => Some(1.0),
                    2 => Some(2.54),
                    _ => None,
                };
                if let Some(k) = k {
                    h.jfif_dpi = dpi_pair(sane_dpi(x as f64 * k), sane_dpi(y as f64 * k));
                }
            }
            0xE1 if seg.starts_with(b"Exif\0\0") && h.exif.is_none() => {
                h.exif = Some(&seg[6..]);
            }
            0xE2 if seg.starts_with(b"ICC_PROFILE\0") && seg.len() > 14 => {
                icc_parts.push((seg[12], seg[13], &seg[14..]));
            }
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => {
                h.adobe_transform = Some(seg[11]);
            }
            0xDA => {
                if !sof_seen {
                    return Err("corrupt JPEG (scan before frame header)".into());
                }
                let rest = b.get(i + len..).unwrap_or(&[]);
                if !rest.windows(2).rev().any(|w| w == [0xFF, 0xD9]) {
                    return Err("truncated JPEG (the end-of-image marker is missing)".into());
                }
                break;
            }
            _ => {}
        }
        i += len;
    }
    if !matches!(h.components, 1 | 3 | 4) {
        return Err(format!(
            "JPEG with {} colour components (only 1, 3 or 4 are supported)",
            h.components
        ));
    }
    // ICC profiles over 64 KB are split over numbered APP2 segments.
    if !icc_parts.is_empty() {
        icc_parts.sort_by_key(|p| p.0);
        let count = icc_parts[0].1 as usize;
        let complete = icc_parts.len() == count
            && icc_parts
                .iter()
                .enumerate()
                .all(|(k, p)| p.0 as usize == k + 1 && p.1 as usize == count);
        if complete {
            h.icc = Some(icc_parts.iter().flat_map(|p| p.2.iter().copied()).collect());
        } else {
            h.icc_broken = true;
        }
    }
    Ok(h)
}

fn prepare_jpeg<'a>(input: &Input<'a>, ctx: &Ctx) -> Result<Prepared<'a>> {
    let h = parse_jpeg(input.bytes).map_err(|e| bad(input.name, e))?;
    check_pixels(input.name, h.width, h.height, ctx)?;
    let space = match h.components {
        1 => Space::Gray,
        3 => Space::Rgb,
        _ => Space::Cmyk,
    };
    let mut warnings = Vec::new();
    if h.icc_broken {
        warnings.push("ICC profile ignored (incomplete)".into());
    }
    let exif = h.exif.map(exif_facts).unwrap_or_default();
    // Adobe applications write CMYK JPEGs inverted (0 = full ink); the
    // APP14 marker is how readers recognise them.
    let decode =
        (space == Space::Cmyk && h.adobe_transform.is_some()).then(|| [1.0, 0.0].repeat(4));
    let handling = match (space, h.progressive) {
        (Space::Cmyk, _) => "JPEG (CMYK) passed through",
        (_, true) => "JPEG (progressive) passed through",
        _ => "JPEG passed through",
    };
    let icc = checked_icc(h.icc.map(Cow::Owned), space, &mut warnings);
    Ok(Prepared {
        raster: Raster {
            width: h.width,
            height: h.height,
            bpc: 8,
            color: Color::Device(space),
            icc,
            data: Cow::Borrowed(input.bytes),
            encoding: Encoding::Dct,
            decode,
            color_key: None,
            smask: None,
        },
        // JFIF density wins; EXIF's is used when JFIF has none (as Pillow does).
        dpi: h.jfif_dpi.or(exif.dpi),
        orientation: exif.orientation.unwrap_or(1),
        format: "JPEG",
        handling,
        warnings,
        frame: None,
    })
}

// ---------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------

/// The IHDR fields, read directly so the pixel limit is checked before the
/// decoder allocates anything.
fn png_ihdr(b: &[u8]) -> Option<(u32, u32)> {
    if b.get(12..16)? != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(b.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(b.get(20..24)?.try_into().ok()?);
    Some((w, h))
}

/// All IDAT chunk payloads in order, bounds-checked (CRCs and the zlib data
/// are checked by the decoder pass).
fn png_idat(b: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut i = 8usize;
    loop {
        let len = b
            .get(i..i + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
            .ok_or("truncated PNG (no IEND chunk)")?;
        let kind = b.get(i + 4..i + 8).ok_or("truncated PNG")?;
        let data = b
            .get(i + 8..i + 8 + len)
            .ok_or("truncated PNG (a chunk runs past the end of the file)")?;
        if kind == b"IDAT" {
            out.push(data);
        } else if kind == b"IEND" {
            break;
        }
        i += 12 + len;
    }
    if out.is_empty() {
        return Err("PNG without image data".into());
    }
    Ok(out)
}

fn png_err(name: &str, e: png::DecodingError) -> Error {
    match e {
        png::DecodingError::LimitsExceeded => Error::limit(
            LimitKind::StreamBytes,
            64 * 1024 * 1024,
            64 * 1024 * 1024 + 1,
        ),
        other => bad(name, format!("corrupt PNG ({other})")),
    }
}

/// How a palette image's transparency can be expressed.
enum PaletteAlpha {
    Opaque,
    /// Fully transparent indices forming one range: a colour-key `/Mask`.
    Key(u8, u8),
    /// Partial alpha or scattered indices: an `/SMask` built from the indices.
    Table(Vec<u8>),
}

fn palette_alpha(trns: &[u8], entries: usize) -> PaletteAlpha {
    let alpha: Vec<u8> = (0..entries.max(1))
        .map(|k| trns.get(k).copied().unwrap_or(255))
        .collect();
    if alpha.iter().all(|&a| a == 255) {
        return PaletteAlpha::Opaque;
    }
    if alpha.iter().all(|&a| a == 0 || a == 255) {
        let clear: Vec<usize> = (0..alpha.len()).filter(|&k| alpha[k] == 0).collect();
        if let (Some(&lo), Some(&hi)) = (clear.first(), clear.last())
            && hi - lo + 1 == clear.len()
            && hi <= 255
        {
            return PaletteAlpha::Key(lo as u8, hi as u8);
        }
    }
    PaletteAlpha::Table(alpha)
}

/// Unpack one row of `bits`-deep samples into bytes.
fn unpack_row(row: &[u8], bits: u8, count: usize, out: &mut Vec<u8>) {
    if bits >= 8 {
        out.extend_from_slice(&row[..count.min(row.len())]);
        return;
    }
    let per_byte = 8 / bits as usize;
    let mask = (1u8 << bits) - 1;
    for k in 0..count {
        let byte = row.get(k / per_byte).copied().unwrap_or(0);
        let shift = 8 - bits as usize * (k % per_byte + 1);
        out.push((byte >> shift) & mask);
    }
}

fn prepare_png<'a>(input: &Input<'a>, ctx: &Ctx) -> Result<Prepared<'a>> {
    let name = input.name;
    let (w, h) = png_ihdr(input.bytes).ok_or_else(|| bad(name, "corrupt PNG header"))?;
    check_pixels(name, w, h, ctx)?;
    let idat = png_idat(input.bytes).map_err(|e| bad(name, e))?;
    // Deflate expands at most ~1032:1: a small file claiming a large image
    // is refused before the decoder allocates a frame for it.
    let packed: usize = idat.iter().map(|c| c.len()).sum();
    let depth = input.bytes.get(24).copied().unwrap_or(8) as u64;
    let min_raw = h as u64 * ((w as u64 * depth).div_ceil(8) + 1);
    if min_raw > packed as u64 * 1040 {
        return Err(bad(
            name,
            "corrupt PNG (too little image data for its size)",
        ));
    }
    guarded(name, "PNG", || prepare_png_inner(input, idat, ctx))
}

fn prepare_png_inner<'a>(
    input: &Input<'a>,
    idat: Vec<&'a [u8]>,
    ctx: &Ctx,
) -> Result<Prepared<'a>> {
    use png::{BitDepth, ColorType};
    let name = input.name;
    let mut decoder = png::Decoder::new(Cursor::new(input.bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    decoder.set_ignore_text_chunk(true);
    let mut reader = decoder.read_info().map_err(|e| png_err(name, e))?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    let depth = info.bit_depth as u8;
    let color_type = info.color_type;
    let interlaced = info.interlaced;
    let trns = info.trns.as_ref().map(|t| t.to_vec());
    let palette = info.palette.as_ref().map(|p| p.to_vec());
    let icc = info.icc_profile.as_ref().map(|p| p.to_vec());
    let exif = info.exif_metadata.as_ref().map(|e| exif_facts(e));
    let dpi = info.pixel_dims.and_then(|d| match d.unit {
        png::Unit::Meter => dpi_pair(
            sane_dpi(d.xppu as f64 * 0.0254),
            sane_dpi(d.yppu as f64 * 0.0254),
        ),
        png::Unit::Unspecified => None,
    });
    let mut warnings = Vec::new();
    if info.is_animated() {
        warnings.push("animated PNG: only the default image is used".into());
    }

    let (space, has_alpha) = match color_type {
        ColorType::Grayscale => (Space::Gray, false),
        ColorType::GrayscaleAlpha => (Space::Gray, true),
        ColorType::Rgb => (Space::Rgb, false),
        ColorType::Rgba => (Space::Rgb, true),
        ColorType::Indexed => (Space::Rgb, false),
    };
    let color = match color_type {
        ColorType::Indexed => {
            let p = palette.ok_or_else(|| bad(name, "palette PNG without a palette"))?;
            if p.is_empty() || p.len() % 3 != 0 || p.len() > 256 * 3 {
                return Err(bad(name, "corrupt PNG palette"));
            }
            Color::Indexed(p)
        }
        _ => Color::Device(space),
    };
    let icc = checked_icc(icc.map(Cow::Owned), space, &mut warnings);

    // Transparency that needs no decoding: a colour key, as PDF's /Mask.
    let mut palette_table = None;
    let mut color_key = None;
    if let Some(t) = &trns {
        match &color {
            Color::Indexed(p) => match palette_alpha(t, p.len() / 3) {
                PaletteAlpha::Opaque => {}
                PaletteAlpha::Key(lo, hi) => color_key = Some(vec![lo as i32, hi as i32]),
                PaletteAlpha::Table(a) => palette_table = Some(a),
            },
            Color::Device(s) => {
                let n = s.components() as usize;
                let max = (1u32 << depth) - 1;
                // The png crate keeps 16-bit keys as two bytes and narrows
                // shallower ones to one byte per sample.
                let vals: Vec<u32> = (0..n)
                    .filter_map(|k| {
                        if depth == 16 {
                            be16(t, 2 * k).map(|v| v as u32)
                        } else {
                            t.get(k).map(|&v| v as u32)
                        }
                    })
                    .collect();
                if vals.len() == n && vals.iter().all(|&v| v <= max) {
                    color_key = Some(vals.iter().flat_map(|&v| [v as i32, v as i32]).collect());
                } else {
                    warnings.push("transparency colour ignored (out of range)".into());
                }
            }
        }
    }

    let samples = color.samples() as usize;
    let passthrough = !interlaced && !has_alpha;
    if passthrough {
        // Decode row by row (one row of memory) to prove the data is sound
        // before embedding it untouched; collect palette alpha on the way.
        let mut alpha = palette_table.as_ref().map(|_| Vec::new());
        let mut indices = Vec::new();
        while let Some(row) = reader.next_row().map_err(|e| png_err(name, e))? {
            if let (Some(a), Some(table)) = (alpha.as_mut(), palette_table.as_ref()) {
                indices.clear();
                unpack_row(row.data(), depth, width as usize, &mut indices);
                a.extend(
                    indices
                        .iter()
                        .map(|&ix| table.get(ix as usize).copied().unwrap_or(255)),
                );
            }
        }
        png::Reader::finish(&mut reader).map_err(|e| png_err(name, e))?;
        let data: Vec<u8> = idat.concat();
        let smask = match alpha {
            Some(a) => Some(Box::new(alpha_raster(width, height, 8, &a)?)),
            None => None,
        };
        let handling = if smask.is_some() {
            "PNG passed through (palette alpha as soft mask)"
        } else {
            "PNG passed through"
        };
        let exif = exif.unwrap_or_default();
        return Ok(Prepared {
            raster: Raster {
                width,
                height,
                bpc: depth,
                color,
                icc,
                data: Cow::Owned(data),
                encoding: Encoding::Flate { predicted: true },
                decode: None,
                color_key,
                smask,
            },
            dpi: dpi.or(exif.dpi),
            orientation: exif.orientation.unwrap_or(1),
            format: "PNG",
            handling,
            warnings,
            frame: None,
        });
    }

    // Decode: alpha must be split off, interlaced rows re-ordered.
    ctx.check()?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad(name, "PNG too large to decode"))?;
    let mut buf = vec![0u8; size];
    let out = reader.next_frame(&mut buf).map_err(|e| png_err(name, e))?;
    buf.truncate(out.buffer_size());
    let line = out.line_size;
    let bytes_per_sample = if out.bit_depth == BitDepth::Sixteen {
        2
    } else {
        1
    };
    let (color_data, smask, handling) = if has_alpha {
        let (c, a) = split_alpha(&buf, samples, bytes_per_sample);
        drop(buf);
        if a.iter().all(|&v| v == 0xFF) {
            warnings.push("alpha channel is fully opaque: dropped".into());
            (c, None, "PNG decoded (opaque alpha dropped)")
        } else {
            let mask = alpha_raster(width, height, depth, &a)?;
            (c, Some(Box::new(mask)), "PNG decoded (alpha as soft mask)")
        }
    } else {
        let smask = match &palette_table {
            Some(table) => {
                let mut a = Vec::with_capacity(width as usize * height as usize);
                let mut idx = Vec::new();
                for row in buf.chunks(line.max(1)) {
                    idx.clear();
                    unpack_row(row, depth, width as usize, &mut idx);
                    a.extend(
                        idx.iter()
                            .map(|&ix| table.get(ix as usize).copied().unwrap_or(255)),
                    );
                }
                Some(Box::new(alpha_raster(width, height, 8, &a)?))
            }
            None => None,
        };
        (buf, smask, "PNG decoded (interlaced)")
    };
    let data = deflate_image(&color_data, width, height, samples as u8, depth)?;
    let exif = exif.unwrap_or_default();
    Ok(Prepared {
        raster: Raster {
            width,
            height,
            bpc: depth,
            color,
            icc,
            data: Cow::Owned(data),
            encoding: Encoding::Flate { predicted: true },
            decode: None,
            color_key: if smask.is_some() { None } else { color_key },
            smask,
        },
        dpi: dpi.or(exif.dpi),
        orientation: exif.orientation.unwrap_or(1),
        format: "PNG",
        handling,
        warnings,
        frame: None,
    })
}

/// Split interleaved colour+alpha samples (alpha last) into two buffers.
fn split_alpha(buf: &[u8], color_samples: usize, bytes_per_sample: usize) -> (Vec<u8>, Vec<u8>) {
    let px = (color_samples + 1) * bytes_per_sample;
    let cbytes = color_samples * bytes_per_sample;
    let n = buf.len() / px;
    let mut c = Vec::with_capacity(n * cbytes);
    let mut a = Vec::with_capacity(n * bytes_per_sample);
    for p in buf.chunks_exact(px) {
        c.extend_from_slice(&p[..cbytes]);
        a.extend_from_slice(&p[cbytes..]);
    }
    (c, a)
}

/// A gray soft mask from one alpha sample per pixel.
fn alpha_raster<'a>(width: u32, height: u32, bpc: u8, alpha: &[u8]) -> Result<Raster<'a>> {
    let data = deflate_image(alpha, width, height, 1, bpc)?;
    Ok(Raster {
        width,
        height,
        bpc,
        color: Color::Device(Space::Gray),
        icc: None,
        data: Cow::Owned(data),
        encoding: Encoding::Flate { predicted: true },
        decode: None,
        color_key: None,
        smask: None,
    })
}

// ---------------------------------------------------------------------------
// TIFF
// ---------------------------------------------------------------------------

fn tiff_err(name: &str, e: tiff::TiffError) -> Error {
    match e {
        // Only reachable past our own pixel check (e.g. huge tag arrays).
        tiff::TiffError::LimitsExceeded => bad(name, "TIFF exceeds the decoder's memory limits"),
        tiff::TiffError::UnsupportedError(u) => bad(name, format!("unsupported TIFF ({u})")),
        other => bad(name, format!("corrupt TIFF ({other})")),
    }
}

fn tiff_limits(ctx: &Ctx) -> tiff::decoder::Limits {
    let mut l = tiff::decoder::Limits::default();
    // Our own pixel check runs first; this only keeps the decoder's buffers
    // within what that check allows (up to 4 × 16-bit samples per pixel).
    l.decoding_buffer_size =
        usize::try_from(ctx.limits.max_image_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    l.ifd_value_size = 16 * 1024 * 1024;
    l
}

fn tiff_rational(v: Option<tiff::decoder::ifd::Value>) -> Option<f64> {
    use tiff::decoder::ifd::Value;
    match v? {
        Value::Rational(n, d) if d != 0 => Some(n as f64 / d as f64),
        Value::List(l) => tiff_rational(l.into_iter().next()),
        Value::Short(n) => Some(n as f64),
        Value::Unsigned(n) => Some(n as f64),
        Value::Float(f) => Some(f as f64),
        Value::Double(f) => Some(f),
        _ => None,
    }
}

fn prepare_tiff<'a>(
    input: &Input<'a>,
    ctx: &Ctx,
    emit: &mut dyn FnMut(Prepared<'a>) -> Result<()>,
) -> Result<()> {
    let name = input.name;
    // Pass 1: count frames and check every frame's size before decoding any.
    let frames = guarded(name, "TIFF", || {
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(input.bytes))
            .map_err(|e| tiff_err(name, e))?
            .with_limits(tiff_limits(ctx));
        let mut frames = Vec::new();
        loop {
            ctx.check()?;
            let (w, h) = dec.dimensions().map_err(|e| tiff_err(name, e))?;
            check_pixels(name, w, h, ctx)?;
            let subfile = dec
                .find_tag_unsigned::<u32>(tiff::tags::Tag::NewSubfileType)
                .ok()
                .flatten()
                .unwrap_or(0);
            frames.push(subfile & 1 == 1);
            Limits::ensure(
                LimitKind::Pages,
                ctx.limits.max_pages as u64,
                frames.len() as u64,
            )?;
            if !dec.more_images() {
                break;
            }
            dec.next_image().map_err(|e| tiff_err(name, e))?;
        }
        Ok(frames)
    })?;
    // Reduced-resolution copies (thumbnails) are skipped unless that would
    // leave nothing.
    let skip_reduced = frames.iter().any(|r| !r);
    let multi = frames.len() > 1;

    guarded(name, "TIFF", || {
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(input.bytes))
            .map_err(|e| tiff_err(name, e))?
            .with_limits(tiff_limits(ctx));
        for (k, &reduced) in frames.iter().enumerate() {
            if k > 0 {
                dec.next_image().map_err(|e| tiff_err(name, e))?;
            }
            if reduced && skip_reduced {
                continue;
            }
            ctx.check()?;
            let mut page = tiff_frame(input, &mut dec)?;
            if multi {
                page.frame = Some(k + 1);
            }
            emit(page)?;
        }
        Ok(())
    })
}

fn tiff_frame<'a>(
    input: &Input<'a>,
    dec: &mut tiff::decoder::Decoder<Cursor<&'a [u8]>>,
) -> Result<Prepared<'a>> {
    use tiff::ColorType;
    use tiff::tags::Tag;
    let name = input.name;
    let (width, height) = dec.dimensions().map_err(|e| tiff_err(name, e))?;
    let uint = |dec: &mut tiff::decoder::Decoder<_>, tag| -> Option<u32> {
        dec.find_tag_unsigned::<u32>(tag).ok().flatten()
    };
    let compression = uint(dec, Tag::Compression).unwrap_or(1);
    let photometric = uint(dec, Tag::PhotometricInterpretation);
    let fill_order = uint(dec, Tag::FillOrder).unwrap_or(1);
    let orientation = uint(dec, Tag::Orientation)
        .and_then(|o| u8::try_from(o).ok())
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1);
    let unit = uint(dec, Tag::ResolutionUnit).unwrap_or(2);
    let factor = match unit {
        2 => Some(1.0),
        3 => Some(2.54),
        _ => None,
    };
    let dpi = factor.and_then(|k| {
        let x = tiff_rational(dec.find_tag(Tag::XResolution).ok().flatten());
        let y = tiff_rational(dec.find_tag(Tag::YResolution).ok().flatten());
        dpi_pair(
            x.and_then(|v| sane_dpi(v * k)),
            y.and_then(|v| sane_dpi(v * k)),
        )
    });
    let icc_raw = dec
        .find_tag(Tag::IccProfile)
        .ok()
        .flatten()
        .and_then(|v| v.into_u8_vec().ok());
    let extra = dec
        .find_tag_unsigned_vec::<u16>(Tag::ExtraSamples)
        .ok()
        .flatten()
        .unwrap_or_default();
    let planar = uint(dec, Tag::PlanarConfiguration).unwrap_or(1);
    let colortype = dec.colortype().map_err(|e| tiff_err(name, e))?;
    let mut warnings = Vec::new();

    // CCITT G4 in one strip is exactly what PDF's CCITTFaxDecode reads.
    if compression == 4
        && colortype == ColorType::Gray(1)
        && matches!(photometric, Some(0 | 1))
        && matches!(fill_order, 1 | 2)
        && dec.get_chunk_type() == tiff::decoder::ChunkType::Strip
        && dec.strip_count().ok() == Some(1)
    {
        let offsets = dec.get_tag_u64_vec(Tag::StripOffsets).ok();
        let counts = dec.get_tag_u64_vec(Tag::StripByteCounts).ok();
        if let (Some([off]), Some([len])) = (offsets.as_deref(), counts.as_deref()) {
            let range = usize::try_from(*off).ok().and_then(|o| {
                let l = usize::try_from(*len).ok()?;
                input.bytes.get(o..o.checked_add(l)?)
            });
            if let Some(raw) = range {
                // Decode once to prove the data is sound (1 bit per pixel).
                dec.read_image().map_err(|e| tiff_err(name, e))?;
                let data = if fill_order == 2 {
                    Cow::Owned(raw.iter().map(|b| b.reverse_bits()).collect())
                } else {
                    Cow::Borrowed(raw)
                };
                return Ok(Prepared {
                    raster: Raster {
                        width,
                        height,
                        bpc: 1,
                        color: Color::Device(Space::Gray),
                        icc: None,
                        data,
                        encoding: Encoding::Ccitt {
                            black_is_1: photometric == Some(1),
                        },
                        decode: None,
                        color_key: None,
                        smask: None,
                    },
                    dpi,
                    orientation,
                    format: "TIFF",
                    handling: "TIFF CCITT G4 passed through",
                    warnings,
                    frame: None,
                });
            }
        }
    }

    // Everything else is decoded and deflated.
    let (space, bits, alpha, ycbcr) = match colortype {
        ColorType::Gray(b @ (1 | 2 | 4 | 8 | 16)) => (Space::Gray, b, false, false),
        ColorType::RGB(b @ (8 | 16)) => (Space::Rgb, b, false, false),
        ColorType::RGBA(b @ (8 | 16)) => (Space::Rgb, b, true, false),
        ColorType::CMYK(b @ (8 | 16)) => (Space::Cmyk, b, false, false),
        ColorType::CMYKA(b @ (8 | 16)) => (Space::Cmyk, b, true, false),
        ColorType::YCbCr(8) => (Space::Rgb, 8, false, true),
        ColorType::Multiband {
            bit_depth: b @ (8 | 16),
            num_samples: 2,
        } if matches!(photometric, Some(1)) => (Space::Gray, b, true, false),
        other => {
            return Err(bad(
                name,
                format!("unsupported TIFF colour model ({other:?})"),
            ));
        }
    };
    let n = space.components() as usize;
    let stored = n + alpha as usize;
    let result = if planar == 2 && stored > 1 {
        let mut r = tiff::decoder::DecodingResult::U8(Vec::new());
        let layout = dec
            .read_image_to_buffer(&mut r)
            .map_err(|e| tiff_err(name, e))?;
        if layout.planes != stored || tiff_bytes(&r).len() < layout.complete_len {
            return Err(bad(name, "planar TIFF too large to decode"));
        }
        interleave_planes(r, stored)
    } else {
        dec.read_image().map_err(|e| tiff_err(name, e))?
    };
    let mut data = match result {
        tiff::decoder::DecodingResult::U8(v) if bits <= 8 => v,
        tiff::decoder::DecodingResult::U16(v) if bits == 16 => {
            v.iter().flat_map(|s| s.to_be_bytes()).collect()
        }
        _ => {
            return Err(bad(
                name,
                "unsupported TIFF sample format (float or signed)",
            ));
        }
    };
    let bytes_per_sample = if bits == 16 { 2 } else { 1 };
    let row_bytes = (width as usize * stored * bits as usize).div_ceil(8);
    if data.len() < row_bytes * height as usize {
        return Err(bad(name, "corrupt TIFF (short image data)"));
    }
    data.truncate(row_bytes * height as usize);
    if ycbcr {
        ycbcr_to_rgb(&mut data);
    }
    let mut handling = match (compression, alpha) {
        (4, _) => "TIFF CCITT G4 decoded (multi-strip)",
        (_, true) => "TIFF decoded (alpha as soft mask)",
        _ => "TIFF decoded",
    };
    let (color_data, smask) = if alpha {
        // ExtraSamples 1 = associated (premultiplied), 2 = unassociated,
        // 0 = not transparency (dropped). Without the tag the fourth sample
        // is taken as plain alpha, as libtiff-based readers and Pillow do.
        let kind = extra.first().copied().unwrap_or(2);
        let (mut c, a) = split_alpha(&data, n, bytes_per_sample);
        drop(data);
        if kind == 1 {
            unpremultiply(&mut c, &a, n, bytes_per_sample);
        }
        if !matches!(kind, 1 | 2) {
            warnings.push("extra sample is not alpha: ignored".into());
            handling = "TIFF decoded";
            (c, None)
        } else if a.iter().all(|&v| v == 0xFF) {
            warnings.push("alpha channel is fully opaque: dropped".into());
            handling = "TIFF decoded (opaque alpha dropped)";
            (c, None)
        } else {
            (c, Some(Box::new(alpha_raster(width, height, bits, &a)?)))
        }
    } else {
        (data, None)
    };
    let icc = if bits > 1 {
        checked_icc(icc_raw.map(Cow::Owned), space, &mut warnings)
    } else {
        None
    };
    let encoded = deflate_image(&color_data, width, height, n as u8, bits)?;
    Ok(Prepared {
        raster: Raster {
            width,
            height,
            bpc: bits,
            color: Color::Device(space),
            icc,
            data: Cow::Owned(encoded),
            encoding: Encoding::Flate { predicted: true },
            decode: None,
            color_key: None,
            smask,
        },
        dpi,
        orientation,
        format: "TIFF",
        handling,
        warnings,
        frame: None,
    })
}

fn tiff_bytes(r: &tiff::decoder::DecodingResult) -> &[u8] {
    match r {
        tiff::decoder::DecodingResult::U8(v) => v,
        _ => &[],
    }
}

/// Planar (one plane per sample) 8-bit data to interleaved pixels.
fn interleave_planes(
    r: tiff::decoder::DecodingResult,
    planes: usize,
) -> tiff::decoder::DecodingResult {
    use tiff::decoder::DecodingResult;
    match r {
        DecodingResult::U8(v) => {
            let plane = v.len() / planes;
            let mut out = Vec::with_capacity(plane * planes);
            for i in 0..plane {
                for p in 0..planes {
                    out.push(v.get(p * plane + i).copied().unwrap_or(0));
                }
            }
            DecodingResult::U8(out)
        }
        DecodingResult::U16(v) => {
            let plane = v.len() / planes;
            let mut out = Vec::with_capacity(plane * planes);
            for i in 0..plane {
                for p in 0..planes {
                    out.push(v.get(p * plane + i).copied().unwrap_or(0));
                }
            }
            DecodingResult::U16(out)
        }
        other => other,
    }
}

/// JPEG-style (full range BT.601) YCbCr to RGB, in place.
fn ycbcr_to_rgb(data: &mut [u8]) {
    for px in data.chunks_exact_mut(3) {
        let y = px[0] as f32;
        let cb = px[1] as f32 - 128.0;
        let cr = px[2] as f32 - 128.0;
        px[0] = (y + 1.402 * cr).round().clamp(0.0, 255.0) as u8;
        px[1] = (y - 0.344_136 * cb - 0.714_136 * cr)
            .round()
            .clamp(0.0, 255.0) as u8;
        px[2] = (y + 1.772 * cb).round().clamp(0.0, 255.0) as u8;
    }
}

/// Undo premultiplied (associated) alpha: PDF soft masks expect straight colour.
fn unpremultiply(color: &mut [u8], alpha: &[u8], n: usize, bytes_per_sample: usize) {
    if bytes_per_sample == 1 {
        for (px, &a) in color.chunks_exact_mut(n).zip(alpha) {
            if a == 0 || a == 255 {
                continue;
            }
            for c in px {
                *c = ((*c as u32 * 255 + a as u32 / 2) / a as u32).min(255) as u8;
            }
        }
    } else {
        for (px, a) in color.chunks_exact_mut(2 * n).zip(alpha.chunks_exact(2)) {
            let a = u16::from_be_bytes([a[0], a[1]]) as u32;
            if a == 0 || a == 0xFFFF {
                continue;
            }
            for c in px.chunks_exact_mut(2) {
                let v = u16::from_be_bytes([c[0], c[1]]) as u32;
                let s = ((v * 0xFFFF + a / 2) / a).min(0xFFFF) as u16;
                c.copy_from_slice(&s.to_be_bytes());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Deflate with PNG predictors
// ---------------------------------------------------------------------------

/// PNG-filter each row (adaptively for 8/16-bit data, as libpng does) and
/// zlib-compress with libdeflater. The result is read back with
/// `/DecodeParms << /Predictor 15 /Colors n /BitsPerComponent b /Columns w >>`.
fn deflate_image(raw: &[u8], width: u32, height: u32, colors: u8, bpc: u8) -> Result<Vec<u8>> {
    let row = (width as usize * colors as usize * bpc as usize).div_ceil(8);
    let rows = height as usize;
    let bpp = (colors as usize * bpc as usize).div_ceil(8).max(1);
    let total = rows
        .checked_mul(row + 1)
        .ok_or_else(|| Error::limit(LimitKind::StreamBytes, i32::MAX as u64, u64::MAX))?;
    if raw.len() < row * rows {
        return Err(Error::Internal("image data shorter than its size".into()));
    }
    let mut filtered = Vec::with_capacity(total);
    let adaptive = bpc >= 8;
    let mut cand: [Vec<u8>; 5] = Default::default();
    let zero = vec![0u8; row];
    for y in 0..rows {
        let cur = &raw[y * row..(y + 1) * row];
        let prev = if y == 0 {
            &zero[..]
        } else {
            &raw[(y - 1) * row..y * row]
        };
        if !adaptive {
            filtered.push(0);
            filtered.extend_from_slice(cur);
            continue;
        }
        for (f, c) in cand.iter_mut().enumerate() {
            c.clear();
            for i in 0..row {
                let a = if i >= bpp { cur[i - bpp] } else { 0 };
                let b = prev[i];
                let cc = if i >= bpp { prev[i - bpp] } else { 0 };
                let x = cur[i];
                c.push(match f {
                    0 => x,
                    1 => x.wrapping_sub(a),
                    2 => x.wrapping_sub(b),
                    3 => x.wrapping_sub(((a as u16 + b as u16) / 2) as u8),
                    _ => x.wrapping_sub(paeth(a, b, cc)),
                });
            }
        }
        // Minimum sum of absolute differences: libpng's heuristic.
        let best = (0..5)
            .min_by_key(|&f| {
                cand[f]
                    .iter()
                    .map(|&v| (v as i8).unsigned_abs() as u64)
                    .sum::<u64>()
            })
            .unwrap_or(0);
        filtered.push(best as u8);
        filtered.extend_from_slice(&cand[best]);
    }
    zlib(&filtered)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let pa = (p - a as i16).abs();
    let pb = (p - b as i16).abs();
    let pc = (p - c as i16).abs();
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn zlib(data: &[u8]) -> Result<Vec<u8>> {
    // libdeflate's slowest levels buy 5–10 % on screenshots and scans but
    // run at ~1–2 MB/s; keep them for small images.
    let level = match data.len() {
        n if n <= 1024 * 1024 => 12,
        n if n <= 8 * 1024 * 1024 => 10,
        _ => 9,
    };
    let lvl = libdeflater::CompressionLvl::new(level)
        .map_err(|_| Error::Internal("bad deflate level".into()))?;
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0u8; c.zlib_compress_bound(data.len())];
    let n = c
        .zlib_compress(data, &mut out)
        .map_err(|e| Error::Internal(format!("deflate failed: {e:?}")))?;
    out.truncate(n);
    Ok(out)
}

// ---------------------------------------------------------------------------
// PDF writing
// ---------------------------------------------------------------------------

struct Placed {
    page: (f32, f32),
    dpi: (f32, f32),
    stream_bytes: usize,
}

struct Writer {
    pdf: Pdf,
    next: i32,
    catalog: Ref,
    tree: Ref,
    pages: Vec<Ref>,
    icc: HashMap<Vec<u8>, Ref>,
}

fn stream_len_ok(n: usize) -> Result<()> {
    // pdf-writer refuses (panics on) streams past i32::MAX.
    Limits::ensure(LimitKind::StreamBytes, i32::MAX as u64, n as u64)
}

fn dim(v: u32) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::limit(LimitKind::ImagePixels, i32::MAX as u64, v as u64))
}

impl Writer {
    fn new() -> Self {
        let mut w = Writer {
            pdf: Pdf::new(),
            next: 1,
            catalog: Ref::new(1),
            tree: Ref::new(1),
            pages: Vec::new(),
            icc: HashMap::new(),
        };
        w.catalog = w.alloc();
        w.tree = w.alloc();
        w
    }

    fn alloc(&mut self) -> Ref {
        let r = Ref::new(self.next);
        self.next += 1;
        r
    }

    fn icc_ref(&mut self, profile: &[u8], space: Space) -> Result<Ref> {
        if let Some(r) = self.icc.get(profile) {
            return Ok(*r);
        }
        let id = self.alloc();
        let packed = {
            let lvl = libdeflater::CompressionLvl::best();
            let mut c = libdeflater::Compressor::new(lvl);
            let mut out = vec![0u8; c.zlib_compress_bound(profile.len())];
            let n = c
                .zlib_compress(profile, &mut out)
                .map_err(|e| Error::Internal(format!("deflate failed: {e:?}")))?;
            out.truncate(n);
            out
        };
        let mut s = self.pdf.icc_profile(id, &packed);
        s.n(space.components() as i32);
        s.alternate_name(space.name());
        s.filter(Filter::FlateDecode);
        s.finish();
        self.icc.insert(profile.to_vec(), id);
        Ok(id)
    }

    /// Write an image XObject (and its mask and profile); returns its ref
    /// and the bytes of image data written.
    fn write_raster(&mut self, r: &Raster<'_>) -> Result<(Ref, usize)> {
        stream_len_ok(r.data.len())?;
        let (w, h) = (dim(r.width)?, dim(r.height)?);
        let mut bytes = r.data.len();
        let smask = match &r.smask {
            Some(m) => {
                let (id, n) = self.write_raster(m)?;
                bytes += n;
                Some(id)
            }
            None => None,
        };
        let icc = match &r.icc {
            Some(p) => Some(self.icc_ref(p, r.color.base())?),
            None => None,
        };
        let id = self.alloc();
        let mut img = self.pdf.image_xobject(id, &r.data);
        img.width(w).height(h);
        match (&r.color, icc) {
            (Color::Device(_), Some(icc)) => img.color_space().icc_based(icc),
            (Color::Device(s), None) => {
                img.color_space_name(s.name());
            }
            (Color::Indexed(p), icc) => {
                let mut arr = img.insert(Name(b"ColorSpace")).array();
                arr.item(Name(b"Indexed"));
                match icc {
                    Some(icc) => {
                        arr.push().array().item(Name(b"ICCBased")).item(icc);
                    }
                    None => {
                        arr.item(Name(b"DeviceRGB"));
                    }
                }
                arr.item((p.len() / 3) as i32 - 1);
                arr.item(Str(p));
            }
        }
        img.bits_per_component(r.bpc as i32);
        match r.encoding {
            Encoding::Dct => {
                img.filter(Filter::DctDecode);
            }
            Encoding::Flate { predicted } => {
                img.filter(Filter::FlateDecode);
                if predicted {
                    img.decode_parms()
                        .predictor(Predictor::PngOptimum)
                        .colors(r.color.samples() as i32)
                        .bits_per_component(r.bpc as i32)
                        .columns(w);
                }
            }
            Encoding::Ccitt { black_is_1 } => {
                img.filter(Filter::CcittFaxDecode);
                img.decode_parms()
                    .k(-1)
                    .columns(w)
                    .rows(h)
                    .black_is_1(black_is_1);
            }
        }
        if let Some(d) = &r.decode {
            img.decode(d.iter().copied());
        }
        if let Some(k) = &r.color_key {
            img.color_mask(k.iter().copied());
        }
        if let Some(m) = smask {
            img.s_mask(m);
        }
        img.finish();
        Ok((id, bytes))
    }

    fn add_page(&mut self, p: &Prepared<'_>, opts: &ImagesOptions) -> Result<Placed> {
        let (image, stream_bytes) = self.write_raster(&p.raster)?;
        let dpi = opts
            .dpi
            .map(|d| (d, d))
            .or(p.dpi)
            .unwrap_or((DEFAULT_DPI, DEFAULT_DPI));
        let geo = geometry(p.raster.width, p.raster.height, dpi, p.orientation, opts);
        let mut content = Content::new();
        content.save_state();
        content.transform(geo.matrix);
        content.x_object(Name(b"Im0"));
        content.restore_state();
        let content = content.finish();
        let content_id = self.alloc();
        self.pdf.stream(content_id, &content);
        let page_id = self.alloc();
        let mut page = self.pdf.page(page_id);
        page.parent(self.tree)
            .media_box(Rect::new(0.0, 0.0, geo.page.0, geo.page.1))
            .contents(content_id);
        page.resources().x_objects().pair(Name(b"Im0"), image);
        page.finish();
        self.pages.push(page_id);
        Ok(Placed {
            page: geo.page,
            dpi,
            stream_bytes,
        })
    }

    fn finish(mut self) -> Vec<u8> {
        let count = i32::try_from(self.pages.len()).unwrap_or(i32::MAX);
        self.pdf
            .pages(self.tree)
            .kids(self.pages.iter().copied())
            .count(count);
        self.pdf.catalog(self.catalog).pages(self.tree);
        let info = self.alloc();
        self.pdf.document_info(info).producer(TextStr("Folio"));
        self.pdf.finish()
    }
}

struct Geometry {
    page: (f32, f32),
    matrix: [f32; 6],
}

/// Page size and the matrix that draws the image (unit square) upright.
///
/// `orientation` is the EXIF/TIFF value: how the stored pixels must be
/// turned for display. Orientations 5–8 swap width and height.
fn geometry(
    width: u32,
    height: u32,
    dpi: (f32, f32),
    orientation: u8,
    opts: &ImagesOptions,
) -> Geometry {
    let m = opts.margin_pt;
    let iw = width as f32 * 72.0 / dpi.0;
    let ih = height as f32 * 72.0 / dpi.1;
    let (dw, dh) = if orientation >= 5 { (ih, iw) } else { (iw, ih) };
    let (page, x0, y0, w, h) = match opts.page_size {
        PageSize::Auto => {
            let room = MAX_PAGE_PT - 2.0 * m;
            let mut s = 1.0f32;
            if dw > room || dh > room {
                s = (room / dw).min(room / dh);
            } else if dw.min(dh) < MIN_PAGE_PT {
                s = (MIN_PAGE_PT / dw.min(dh)).min(room / dw.max(dh));
            }
            let (w, h) = (dw * s, dh * s);
            ((w + 2.0 * m, h + 2.0 * m), m, m, w, h)
        }
        PageSize::A4 | PageSize::Letter => {
            let (pw, ph) = if opts.page_size == PageSize::A4 {
                A4_PT
            } else {
                LETTER_PT
            };
            let s = ((pw - 2.0 * m) / dw).min((ph - 2.0 * m) / dh);
            let (w, h) = (dw * s, dh * s);
            ((pw, ph), (pw - w) / 2.0, (ph - h) / 2.0, w, h)
        }
    };
    // Unit-square point (p, q) of the stored image lands at
    // (a·p + c·q + e, b·p + d·q + f); derived per orientation from where the
    // stored top-left corner must appear.
    let matrix = match orientation {
        2 => [-w, 0.0, 0.0, h, x0 + w, y0],
        3 => [-w, 0.0, 0.0, -h, x0 + w, y0 + h],
        4 => [w, 0.0, 0.0, -h, x0, y0 + h],
        5 => [0.0, -h, -w, 0.0, x0 + w, y0 + h],
        6 => [0.0, -h, w, 0.0, x0, y0 + h],
        7 => [0.0, h, w, 0.0, x0, y0],
        8 => [0.0, h, -w, 0.0, x0 + w, y0],
        _ => [w, 0.0, 0.0, h, x0, y0],
    };
    Geometry { page, matrix }
}

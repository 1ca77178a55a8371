//! Decode an image XObject to 8-bit interleaved pixels (gray, RGB or CMYK),
//! or say why it should be kept as it is.
//!
//! The output samples are *normalised*: `/Decode` arrays are applied and
//! Indexed images are expanded through their palette, so the pixels can be
//! written back with the default `/Decode` and the base colour space. That
//! covers inverted CMYK JPEGs too: in a PDF, DCT samples are taken as the
//! decoder returns them (the APP14 "Adobe" marker only selects the colour
//! transform), and Photoshop-style inverted CMYK is expressed by
//! `/Decode [1 0 1 0 1 0 1 0]` — as img2pdf, Acrobat, pdf.js and hayro treat
//! it. Applying the array therefore gives true ink values.
//!
//! Everything is bounded before allocation: the pixel count is checked against
//! `max_image_pixels` from the dictionary and again from the JPEG header, and
//! decompression stops at the size the image can possibly need.
//!
//! JPEG 2000 goes through hayro-jpeg2000 (the decoder hayro itself uses).
//! Anything we cannot decode faithfully (JBIG2, CCITT, bi-level images,
//! image masks, colour-key masks, Lab, unusual filters, truncated data) is
//! reported as [`Decoded::Keep`] with a reason: the caller keeps the original.

use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::{Dictionary, Document, Object, Stream};

use super::shrink::{self, Geometry, RowPredictor, Shrunk};
use crate::{Ctx, Result};

/// How the samples of a decoded image are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorModel {
    /// One channel (DeviceGray, CalGray, ICC N=1, Separation).
    Gray,
    /// Three channels (DeviceRGB, CalRGB, ICC N=3).
    Rgb,
    /// Four channels (DeviceCMYK, ICC N=4, 4-colourant DeviceN).
    Cmyk,
}

impl ColorModel {
    pub fn channels(self) -> usize {
        match self {
            ColorModel::Gray => 1,
            ColorModel::Rgb => 3,
            ColorModel::Cmyk => 4,
        }
    }

    fn from_channels(n: usize) -> Option<Self> {
        match n {
            1 => Some(ColorModel::Gray),
            3 => Some(ColorModel::Rgb),
            4 => Some(ColorModel::Cmyk),
            _ => None,
        }
    }
}

/// Interleaved 8-bit pixels, rows packed without padding.
#[derive(Debug, Clone)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub model: ColorModel,
    pub data: Vec<u8>,
}

impl Pixels {
    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width as usize * self.model.channels()
    }
}

/// The codec of the original stream, which decides how we re-encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceCodec {
    /// DCTDecode: already lossy.
    Jpeg,
    /// JPXDecode (JPEG 2000): usually lossy; re-encoded like a JPEG source.
    Jpx,
    /// Flate/LZW/RunLength/uncompressed: exact samples.
    Lossless,
}

/// A decoded image and what is needed to write it back.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub pixels: Pixels,
    /// The `/ColorSpace` to write for `pixels`: the original object when the
    /// channels are unchanged (kept as a reference, e.g. to an ICC profile), the
    /// palette's base colour space for an expanded Indexed image.
    pub color_space: Object,
    pub source: SourceCodec,
    pub bits_per_component: u8,
    pub was_indexed: bool,
}

/// Result of [`decode_image`].
#[derive(Debug)]
pub enum Decoded {
    Image(DecodedImage),
    /// Keep the original stream untouched; the reason is for reports.
    Keep(String),
}

fn keep<T: Into<String>>(reason: T) -> Result<Decoded> {
    Ok(Decoded::Keep(reason.into()))
}

fn resolve<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

fn get<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    d.get(key).ok().map(|o| resolve(doc, o))
}

fn int(doc: &Document, d: &Dictionary, key: &[u8]) -> Option<i64> {
    match get(doc, d, key)? {
        Object::Integer(i) => Some(*i),
        Object::Real(r) if r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    }
}

fn num(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// A parsed image colour space.
#[derive(Debug, Clone)]
pub(super) struct ColorSpaceInfo {
    pub(super) model: ColorModel,
    /// What to write back as `/ColorSpace` for normalised pixels.
    object: Object,
    indexed: Option<Palette>,
}

#[derive(Debug, Clone)]
pub(super) struct Palette {
    hival: usize,
    /// `(hival + 1) × base channels` bytes.
    lookup: Vec<u8>,
}

/// Parse `/ColorSpace`. `Err` carries the reason to keep the image.
fn parse_color_space(
    doc: &Document,
    original: &Object,
    allow_indexed: bool,
) -> std::result::Result<ColorSpaceInfo, String> {
    let plain = |model| {
        Ok(ColorSpaceInfo {
            model,
            object: original.clone(),
            indexed: None,
        })
    };
    let obj = resolve(doc, original);
    let (family, arr): (&[u8], &[Object]) = match obj {
        Object::Name(n) => (n.as_slice(), &[]),
        Object::Array(a) => match a.first().map(|o| resolve(doc, o)) {
            Some(Object::Name(n)) => (n.as_slice(), a.as_slice()),
            _ => return Err("malformed colour space".into()),
        },
        _ => return Err("missing or malformed colour space".into()),
    };
    match family {
        b"DeviceGray" | b"G" | b"CalGray" => plain(ColorModel::Gray),
        b"DeviceRGB" | b"RGB" | b"CalRGB" => plain(ColorModel::Rgb),
        b"DeviceCMYK" | b"CMYK" => plain(ColorModel::Cmyk),
        b"ICCBased" => {
            let Some(Object::Stream(s)) = arr.get(1).map(|o| resolve(doc, o)) else {
                return Err("ICCBased without a profile stream".into());
            };
            let n = int(doc, &s.dict, b"N").unwrap_or(0);
            // A /Range other than [0 1 ...] (e.g. Lab-based profiles) would
            // change what 8-bit samples mean; keep those images.
            if let Some(Object::Array(range)) = get(doc, &s.dict, b"Range")
                && range
                    .iter()
                    .enumerate()
                    .any(|(i, v)| num(resolve(doc, v)) != Some(if i % 2 == 0 { 0.0 } else { 1.0 }))
            {
                return Err("ICC profile with a non-default /Range".into());
            }
            match ColorModel::from_channels(usize::try_from(n).unwrap_or(0)) {
                Some(m) => plain(m),
                None => Err(format!("ICCBased with N={n}")),
            }
        }
        b"Separation" => plain(ColorModel::Gray),
        b"DeviceN" => {
            let n = match arr.get(1).map(|o| resolve(doc, o)) {
                Some(Object::Array(names)) => names.len(),
                _ => 0,
            };
            // Three colourants would go through JPEG's RGB→YCbCr transform,
            // which suits only RGB-like data.
            match n {
                1 => plain(ColorModel::Gray),
                4 => plain(ColorModel::Cmyk),
                _ => Err(format!("DeviceN with {n} colourants")),
            }
        }
        b"Indexed" | b"I" if allow_indexed => {
            let base_obj = arr.get(1).ok_or("Indexed without a base")?;
            let base = parse_color_space(doc, base_obj, false)?;
            let hival = arr
                .get(2)
                .map(|o| resolve(doc, o))
                .and_then(|o| o.as_i64().ok())
                .filter(|h| (0..=255).contains(h))
                .ok_or("Indexed with a bad hival")? as usize;
            let need = (hival + 1) * base.model.channels();
            let lookup = match arr.get(3).map(|o| resolve(doc, o)) {
                Some(Object::String(s, _)) => s.clone(),
                Some(Object::Stream(s)) => s
                    .get_plain_content_with_limit(need + 1024)
                    .map_err(|e| format!("unreadable palette: {e}"))?,
                _ => return Err("Indexed without a lookup table".into()),
            };
            if lookup.len() < need {
                return Err("palette shorter than hival".into());
            }
            Ok(ColorSpaceInfo {
                model: base.model,
                object: base.object,
                indexed: Some(Palette {
                    hival,
                    lookup: lookup[..need].to_vec(),
                }),
            })
        }
        b"Indexed" | b"I" => Err("nested Indexed colour space".into()),
        b"Lab" => Err("Lab colour space".into()),
        b"Pattern" => Err("Pattern colour space on an image".into()),
        other => Err(format!(
            "unsupported colour space {}",
            String::from_utf8_lossy(other)
        )),
    }
}

/// The filter chain: names and their parameter dictionaries.
fn filters<'a>(doc: &'a Document, dict: &'a Dictionary) -> Vec<(&'a [u8], Option<&'a Dictionary>)> {
    let names: Vec<&[u8]> = match get(doc, dict, b"Filter") {
        Some(Object::Name(n)) => vec![n.as_slice()],
        Some(Object::Array(a)) => a
            .iter()
            .map(|o| match resolve(doc, o) {
                Object::Name(n) => n.as_slice(),
                _ => b"?".as_slice(),
            })
            .collect(),
        _ => vec![],
    };
    let params: Vec<Option<&Dictionary>> = match get(doc, dict, b"DecodeParms") {
        Some(Object::Dictionary(d)) => vec![Some(d)],
        Some(Object::Array(a)) => a
            .iter()
            .map(|o| match resolve(doc, o) {
                Object::Dictionary(d) => Some(d),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, params.get(i).copied().flatten()))
        .collect()
}

const GENERIC: &[&[u8]] = &[
    b"FlateDecode",
    b"LZWDecode",
    b"ASCII85Decode",
    b"ASCIIHexDecode",
    b"RunLengthDecode",
];

/// Undo the first `n` (generic) filters with lopdf's bounded decoders.
fn decode_prefix(
    doc: &Document,
    stream: &Stream,
    chain: &[(&[u8], Option<&Dictionary>)],
    n: usize,
    limit: usize,
) -> std::result::Result<Vec<u8>, String> {
    if n == 0 {
        if stream.content.len() > limit {
            return Err("stream larger than the image can be".into());
        }
        return Ok(stream.content.clone());
    }
    let prefix = chain.get(..n).ok_or("bad filter chain")?;
    // A throw-away stream holding only the generic filters, so lopdf never
    // sees the image codec it does not implement.
    let mut d = Dictionary::new();
    d.set(
        "Filter",
        Object::Array(
            prefix
                .iter()
                .map(|(f, _)| Object::Name(f.to_vec()))
                .collect(),
        ),
    );
    d.set(
        "DecodeParms",
        Object::Array(
            prefix
                .iter()
                .map(|(_, p)| match p {
                    Some(p) => Object::Dictionary(resolve_dict_refs(doc, p)),
                    None => Object::Null,
                })
                .collect(),
        ),
    );
    let tmp = Stream {
        dict: d,
        content: stream.content.clone(),
        allows_compression: true,
        start_position: None,
    };
    tmp.decompressed_content_with_limit(limit)
        .map_err(|e| format!("cannot decompress: {e}"))
}

/// lopdf reads predictor parameters as direct integers only.
fn resolve_dict_refs(doc: &Document, d: &Dictionary) -> Dictionary {
    let mut out = Dictionary::new();
    for (k, v) in d.iter() {
        out.set(k.clone(), resolve(doc, v).clone());
    }
    out
}

/// Decode the image XObject `stream` of `doc`.
///
/// Errors only on cancellation / wall time; every property of the image that
/// we do not handle gives `Ok(Decoded::Keep(reason))`.
///
/// `shrink` (≥ 1) is how many times smaller per axis the caller will make
/// the image: a big Flate image is then averaged down by that factor while
/// it decodes ([`super::shrink`]) and comes back `ceil(w / shrink) ×
/// ceil(h / shrink)`; other images come back at full size whatever it is.
pub fn decode_image(doc: &Document, stream: &Stream, ctx: &Ctx, shrink: u32) -> Result<Decoded> {
    decode_image_with(doc, stream, ctx, shrink, SHRINK_FROM)
}

/// [`decode_image`], streaming images of `shrink_from` decoded bytes and more.
fn decode_image_with(
    doc: &Document,
    stream: &Stream,
    ctx: &Ctx,
    shrink: u32,
    shrink_from: usize,
) -> Result<Decoded> {
    ctx.check()?;
    let dict = &stream.dict;
    if matches!(get(doc, dict, b"ImageMask"), Some(Object::Boolean(true))) {
        return keep("stencil image mask");
    }
    let (Some(w), Some(h)) = (int(doc, dict, b"Width"), int(doc, dict, b"Height")) else {
        return keep("missing /Width or /Height");
    };
    let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
        return keep("negative or huge dimensions");
    };
    if w == 0 || h == 0 {
        return keep("empty image");
    }
    let pixels = w as u64 * h as u64;
    if pixels > ctx.limits.max_image_pixels {
        return keep(format!(
            "{w}×{h} image is above the {} pixel limit",
            ctx.limits.max_image_pixels
        ));
    }
    if matches!(get(doc, dict, b"Mask"), Some(Object::Array(_))) {
        // Colour-key masking needs exact sample values: lossy or resampled
        // data would punch holes in the wrong places.
        return keep("colour-key mask");
    }
    let chain = filters(doc, dict);
    let (last, _) = chain.last().copied().unwrap_or((b"", None));
    let image_codec = match last {
        b"DCTDecode" | b"DCT" => Some(SourceCodec::Jpeg),
        b"JPXDecode" => Some(SourceCodec::Jpx),
        b"JBIG2Decode" => return keep("JBIG2 image"),
        b"CCITTFaxDecode" | b"CCF" => return keep("CCITT fax image"),
        _ => None,
    };
    let n_generic = if image_codec.is_some() {
        chain.len() - 1
    } else {
        chain.len()
    };
    if let Some((f, _)) = chain[..n_generic]
        .iter()
        .find(|(f, _)| !GENERIC.contains(f))
    {
        return keep(format!("unsupported filter {}", String::from_utf8_lossy(f)));
    }
    if get(doc, dict, b"F").is_some() {
        return keep("external stream data");
    }
    if image_codec == Some(SourceCodec::Jpx) {
        return decode_jpx_image(doc, stream, &chain, n_generic, w, h, ctx);
    }
    let Some(cs_obj) = dict.get(b"ColorSpace").ok() else {
        return keep("no /ColorSpace");
    };
    let cs = match parse_color_space(doc, cs_obj, true) {
        Ok(cs) => cs,
        Err(reason) => return keep(reason),
    };
    let bpc = match int(doc, dict, b"BitsPerComponent") {
        Some(b @ (1 | 2 | 4 | 8 | 16)) => b as u8,
        None if image_codec == Some(SourceCodec::Jpeg) => 8,
        other => return keep(format!("BitsPerComponent {other:?}")),
    };
    if bpc == 1 && cs.indexed.is_none() && cs.model == ColorModel::Gray {
        return keep("bi-level image");
    }
    let comps = if cs.indexed.is_some() {
        1
    } else {
        cs.model.channels()
    };
    let max_stream = usize::try_from(ctx.limits.max_stream_bytes).unwrap_or(usize::MAX);
    let decode_arr = decode_array(doc, dict, comps, bpc, cs.indexed.as_ref());

    let (samples, source) = match image_codec {
        Some(_) => {
            if cs.indexed.is_some() {
                return keep("Indexed JPEG");
            }
            if bpc != 8 {
                return keep("JPEG with BitsPerComponent other than 8");
            }
            let jpeg = match decode_prefix(doc, stream, &chain, n_generic, max_stream) {
                Ok(b) => b,
                Err(reason) => return keep(reason),
            };
            let params = chain.last().and_then(|(_, p)| *p);
            let color_transform = params.and_then(|p| int(doc, p, b"ColorTransform"));
            match decode_jpeg(&jpeg, w, h, comps, color_transform, ctx) {
                Ok(px) => (px, SourceCodec::Jpeg),
                Err(reason) => return keep(reason),
            }
        }
        None => {
            let row_bytes = (w as usize)
                .checked_mul(comps)
                .and_then(|v| v.checked_mul(bpc as usize))
                .map(|bits| bits.div_ceil(8));
            let Some(need) = row_bytes.and_then(|r| r.checked_mul(h as usize)) else {
                return keep("image size overflows");
            };
            if shrink >= 2
                && need >= shrink_from
                && need <= max_stream
                && let [(b"FlateDecode", params)] = chain.as_slice()
                && let Some(predictor) = row_predictor(doc, *params, w, comps, bpc)
            {
                let g = Geometry {
                    width: w,
                    height: h,
                    bpc,
                    comps,
                };
                return Ok(
                    match shrink::flate_shrunk(
                        &stream.content,
                        predictor,
                        g,
                        &cs,
                        &decode_arr,
                        shrink,
                        ctx,
                    )? {
                        Shrunk::Pixels(pixels) => Decoded::Image(DecodedImage {
                            pixels,
                            color_space: cs.object,
                            source: SourceCodec::Lossless,
                            bits_per_component: bpc,
                            was_indexed: cs.indexed.is_some(),
                        }),
                        Shrunk::Keep(reason) => Decoded::Keep(reason),
                    },
                );
            }
            // Producers pad streams a little; anything far beyond what the
            // image can hold is refused rather than inflated.
            let limit = need
                .saturating_add(need / 16)
                .saturating_add(65_536)
                .min(max_stream);
            let data = match decode_prefix(doc, stream, &chain, n_generic, limit) {
                Ok(b) => b,
                Err(reason) => return keep(reason),
            };
            if data.len() < need {
                return keep(format!(
                    "image data truncated ({} of {need} bytes)",
                    data.len()
                ));
            }
            (data, SourceCodec::Lossless)
        }
    };
    ctx.check()?;
    let pixels = match normalise(samples, w, h, bpc, comps, &cs, &decode_arr) {
        Some(p) => p,
        None => return keep("image data does not match its dictionary"),
    };
    Ok(Decoded::Image(DecodedImage {
        pixels,
        color_space: cs.object,
        source,
        bits_per_component: bpc,
        was_indexed: cs.indexed.is_some(),
    }))
}

/// Decoded size from which an image to be downsampled by 2 or more is
/// averaged down while it decodes instead of being inflated whole.
const SHRINK_FROM: usize = 32 << 20;

/// The row predictor of a Flate layer with parameters `p`, when the
/// streamed decoder handles it: none, or PNG filters whose geometry is the
/// image's. `None` sends the image down the whole-buffer path.
fn row_predictor(
    doc: &Document,
    p: Option<&Dictionary>,
    w: u32,
    comps: usize,
    bpc: u8,
) -> Option<RowPredictor> {
    let Some(p) = p else {
        return Some(RowPredictor::None);
    };
    match int(doc, p, b"Predictor").unwrap_or(1) {
        ..=1 => Some(RowPredictor::None),
        10..=15 => {
            let colors = int(doc, p, b"Colors").unwrap_or(1);
            let bits = int(doc, p, b"BitsPerComponent").unwrap_or(8);
            let columns = int(doc, p, b"Columns").unwrap_or(1);
            (colors == comps as i64 && bits == bpc as i64 && columns == w as i64).then(|| {
                RowPredictor::Png {
                    bpp: (comps * bpc as usize / 8).max(1),
                }
            })
        }
        _ => None,
    }
}

/// JPEG 2000 decodes to more memory per pixel than the final 8-bit buffer
/// (f32 planes), and hayro-jpeg2000 aborts on failed allocations: cap it
/// below the general pixel limit.
const JPX_MAX_PIXELS: u64 = 64_000_000;

/// JPXDecode: the codestream carries its own colour space and bit depth;
/// `/Decode` is ignored for JPX images (PDF 32000-1 §8.9.5).
fn decode_jpx_image(
    doc: &Document,
    stream: &Stream,
    chain: &[(&[u8], Option<&Dictionary>)],
    n_generic: usize,
    w: u32,
    h: u32,
    ctx: &Ctx,
) -> Result<Decoded> {
    let dict = &stream.dict;
    if (w as u64) * (h as u64) > JPX_MAX_PIXELS.min(ctx.limits.max_image_pixels) {
        return keep("JPEG 2000 image above the decode limit");
    }
    if matches!(get(doc, dict, b"SMaskInData"), Some(Object::Integer(i)) if *i != 0) {
        return keep("JPEG 2000 with its soft mask in the data");
    }
    // The PDF colour space, when given, overrides the codestream's.
    let pdf_cs = match dict.get(b"ColorSpace").ok() {
        Some(o) => match parse_color_space(doc, o, true) {
            Ok(cs) if cs.indexed.is_none() => Some(cs),
            Ok(_) => return keep("Indexed JPEG 2000"),
            Err(reason) => return keep(reason),
        },
        None => None,
    };
    let max_stream = usize::try_from(ctx.limits.max_stream_bytes).unwrap_or(usize::MAX);
    let data = match decode_prefix(doc, stream, chain, n_generic, max_stream) {
        Ok(b) => b,
        Err(reason) => return keep(reason),
    };
    ctx.check()?;
    let max_pixels = JPX_MAX_PIXELS.min(ctx.limits.max_image_pixels);
    let r = catch_unwind(AssertUnwindSafe(
        || -> std::result::Result<(Vec<u8>, ColorModel), String> {
            let settings = hayro_jpeg2000::DecodeSettings {
                resolve_palette_indices: true,
                strict: false,
                target_resolution: None,
            };
            let img = hayro_jpeg2000::Image::new(&data, &settings)
                .map_err(|e| format!("bad JPEG 2000: {e:?}"))?;
            let (jw, jh) = (img.width(), img.height());
            if (jw as u64) * (jh as u64) > max_pixels {
                return Err("JPEG 2000 image above the decode limit".into());
            }
            if (jw, jh) != (w, h) {
                return Err(format!("JPEG 2000 is {jw}×{jh}, dictionary says {w}×{h}"));
            }
            if img.has_alpha() {
                return Err("JPEG 2000 with alpha".into());
            }
            let n = img.color_space().num_channels() as usize;
            let model = ColorModel::from_channels(n)
                .ok_or_else(|| format!("JPEG 2000 with {n} channels"))?;
            let mut dctx = hayro_jpeg2000::DecoderContext::default();
            let decoded = img
                .decode(&mut dctx)
                .map_err(|e| format!("bad JPEG 2000 data: {e:?}"))?;
            let px = decoded.data_u8();
            if px.len() != (w as usize) * (h as usize) * n {
                return Err("JPEG 2000 decoded to an unexpected size".into());
            }
            Ok((px, model))
        },
    ));
    let (data, model) = match r {
        Ok(Ok(v)) => v,
        Ok(Err(reason)) => return keep(reason),
        Err(_) => return keep("JPEG 2000 decoder failure"),
    };
    let color_space = match pdf_cs {
        Some(cs) if cs.model == model => cs.object,
        Some(_) => return keep("JPEG 2000 channels differ from /ColorSpace"),
        // Without a PDF colour space the codestream's applies; its device
        // equivalent is what viewers without ICC support show.
        None => Object::Name(
            match model {
                ColorModel::Gray => &b"DeviceGray"[..],
                ColorModel::Rgb => b"DeviceRGB",
                ColorModel::Cmyk => b"DeviceCMYK",
            }
            .to_vec(),
        ),
    };
    Ok(Decoded::Image(DecodedImage {
        pixels: Pixels {
            width: w,
            height: h,
            model,
            data,
        },
        color_space,
        source: SourceCodec::Jpx,
        bits_per_component: 8,
        was_indexed: false,
    }))
}

/// `/Decode` pairs per component, or the default for the colour space.
fn decode_array(
    doc: &Document,
    dict: &Dictionary,
    comps: usize,
    bpc: u8,
    palette: Option<&Palette>,
) -> Vec<(f32, f32)> {
    let default_max = if palette.is_some() {
        ((1u32 << bpc) - 1) as f32
    } else {
        1.0
    };
    let default = vec![(0.0, default_max); comps];
    let Some(Object::Array(a)) = get(doc, dict, b"Decode") else {
        return default;
    };
    if a.len() != 2 * comps {
        // Viewers ignore malformed arrays; so do we.
        return default;
    }
    let vals: Option<Vec<f32>> = a.iter().map(|o| num(resolve(doc, o))).collect();
    match vals {
        Some(v) if v.iter().all(|x| x.is_finite()) => {
            v.chunks_exact(2).map(|p| (p[0], p[1])).collect()
        }
        _ => default,
    }
}

fn is_identity(decode: &[(f32, f32)]) -> bool {
    decode.iter().all(|&(a, b)| a == 0.0 && b == 1.0)
}

/// Turn raw samples into normalised 8-bit pixels (Decode applied, palette
/// expanded). `None` when the data is too short.
pub(super) fn normalise(
    raw: Vec<u8>,
    w: u32,
    h: u32,
    bpc: u8,
    comps: usize,
    cs: &ColorSpaceInfo,
    decode: &[(f32, f32)],
) -> Option<Pixels> {
    let (wu, hu) = (w as usize, h as usize);
    let model = cs.model;
    let out_ch = model.channels();
    let n_samples = wu.checked_mul(hu)?.checked_mul(comps)?;
    if let Some(pal) = &cs.indexed {
        // Index LUT: raw value → palette entry (Decode maps raw to index).
        let maxv = ((1u32 << bpc.min(8)) - 1) as f32;
        let (d0, d1) = decode.first().copied().unwrap_or((0.0, maxv));
        let mut lut = vec![0u8; 1usize << bpc.min(8)];
        for (v, slot) in lut.iter_mut().enumerate() {
            let x = d0 + v as f32 * (d1 - d0) / maxv.max(1.0);
            *slot = x.round().clamp(0.0, pal.hival as f32) as u8;
        }
        let mut out = Vec::with_capacity(wu.checked_mul(hu)?.checked_mul(out_ch)?);
        let row_bytes = (wu * bpc as usize).div_ceil(8);
        if bpc == 16 {
            return None;
        }
        for y in 0..hu {
            let row = raw.get(y * row_bytes..(y + 1) * row_bytes)?;
            for x in 0..wu {
                let v = sample(row, x, bpc);
                let idx = lut[v as usize] as usize * out_ch;
                out.extend_from_slice(pal.lookup.get(idx..idx + out_ch)?);
            }
        }
        return Some(Pixels {
            width: w,
            height: h,
            model,
            data: out,
        });
    }
    if comps != out_ch {
        return None;
    }
    if bpc == 8 {
        let mut data = raw;
        if data.len() < n_samples {
            return None;
        }
        data.truncate(n_samples);
        if !is_identity(decode) {
            let luts: Vec<[u8; 256]> = decode.iter().map(|&d| lut8(d, 255.0)).collect();
            for px in data.chunks_exact_mut(comps) {
                for (v, lut) in px.iter_mut().zip(&luts) {
                    *v = lut[*v as usize];
                }
            }
        }
        return Some(Pixels {
            width: w,
            height: h,
            model,
            data,
        });
    }
    let row_bytes = (wu * comps * bpc as usize).div_ceil(8);
    let mut out = Vec::with_capacity(n_samples);
    if bpc == 16 {
        for y in 0..hu {
            let row = raw.get(y * row_bytes..(y + 1) * row_bytes)?;
            for (i, s) in row.chunks_exact(2).take(wu * comps).enumerate() {
                let v = u16::from_be_bytes([s[0], s[1]]) as f32 / 65535.0;
                let (d0, d1) = decode.get(i % comps).copied().unwrap_or((0.0, 1.0));
                out.push(((d0 + v * (d1 - d0)).clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    } else {
        let maxv = ((1u32 << bpc) - 1) as f32;
        let luts: Vec<[u8; 256]> = decode.iter().map(|&d| lut8(d, maxv)).collect();
        for y in 0..hu {
            let row = raw.get(y * row_bytes..(y + 1) * row_bytes)?;
            for i in 0..wu * comps {
                let v = sample(row, i, bpc);
                out.push(luts.get(i % comps)?[v as usize]);
            }
        }
    }
    Some(Pixels {
        width: w,
        height: h,
        model,
        data: out,
    })
}

/// Map a raw sample in `0..=maxv` through `/Decode (d0, d1)` to 0..=255.
fn lut8((d0, d1): (f32, f32), maxv: f32) -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (v, slot) in lut.iter_mut().enumerate() {
        let x = d0 + (v as f32).min(maxv) * (d1 - d0) / maxv;
        *slot = (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
    lut
}

/// The `i`-th `bpc`-bit sample of a packed row (bpc ≤ 8).
fn sample(row: &[u8], i: usize, bpc: u8) -> u8 {
    match bpc {
        8 => row.get(i).copied().unwrap_or(0),
        1 | 2 | 4 => {
            let bit = i * bpc as usize;
            let byte = row.get(bit / 8).copied().unwrap_or(0);
            let shift = 8 - bpc as usize - (bit % 8);
            (byte >> shift) & ((1u8 << bpc) - 1)
        }
        _ => 0,
    }
}

/// Decode JPEG data to raw samples with `comps` channels (no /Decode yet).
fn decode_jpeg(
    data: &[u8],
    w: u32,
    h: u32,
    comps: usize,
    color_transform: Option<i64>,
    ctx: &Ctx,
) -> std::result::Result<Vec<u8>, String> {
    use zune_jpeg::JpegDecoder;
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace as Zcs;
    use zune_jpeg::zune_core::options::DecoderOptions;

    let max_pixels = ctx.limits.max_image_pixels;
    // zune-jpeg is memory-safe Rust, but a decoder bug must cost one image,
    // never the process.
    let r = catch_unwind(AssertUnwindSafe(|| {
        let opts = DecoderOptions::default()
            .set_max_width(u16::MAX as usize)
            .set_max_height(u16::MAX as usize);
        let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), opts);
        dec.decode_headers()
            .map_err(|e| format!("bad JPEG: {e:?}"))?;
        let info = dec.info().ok_or("bad JPEG header")?;
        let (jw, jh) = (info.width as u32, info.height as u32);
        if (jw as u64) * (jh as u64) > max_pixels {
            return Err("JPEG above the pixel limit".to_string());
        }
        if jw != w || jh != h {
            return Err(format!("JPEG is {jw}×{jh}, dictionary says {w}×{h}"));
        }
        let jcomps = info.components as usize;
        if jcomps != comps {
            return Err(format!(
                "JPEG has {jcomps} components, colour space {comps}"
            ));
        }
        let input = dec.input_colorspace().ok_or("bad JPEG header")?;
        let (out, ycck) = match (jcomps, input) {
            (1, _) => (Zcs::Luma, false),
            (3, Zcs::YCbCr) if color_transform == Some(0) => (Zcs::YCbCr, false),
            (3, Zcs::YCbCr) => (Zcs::RGB, false),
            (3, _) => (Zcs::RGB, false),
            (4, Zcs::YCCK) => (Zcs::YCCK, color_transform != Some(0)),
            (4, Zcs::CMYK) => (Zcs::CMYK, color_transform == Some(1)),
            (4, other) => (other, false),
            _ => return Err("unsupported JPEG component count".to_string()),
        };
        dec.set_options(opts.jpeg_set_out_colorspace(out));
        let mut px = dec.decode().map_err(|e| format!("bad JPEG data: {e:?}"))?;
        let expect = (w as usize) * (h as usize) * comps;
        if px.len() != expect {
            return Err("JPEG decoded to an unexpected size".to_string());
        }
        if ycck {
            ycck_to_cmyk(&mut px);
        }
        Ok(px)
    }));
    r.unwrap_or_else(|_| Err("JPEG decoder failure".to_string()))
}

/// Adobe YCCK (APP14 transform 2) to CMYK, in place: YCbCr→RGB on the
/// first three channels, then C = 255 − R etc.; K is stored as is.
fn ycck_to_cmyk(px: &mut [u8]) {
    for p in px.chunks_exact_mut(4) {
        let y = p[0] as f32;
        let cb = p[1] as f32 - 128.0;
        let cr = p[2] as f32 - 128.0;
        let r = y + 1.402 * cr;
        let g = y - 0.344_136 * cb - 0.714_136 * cr;
        let b = y + 1.772 * cb;
        p[0] = (255.0 - r).round().clamp(0.0, 255.0) as u8;
        p[1] = (255.0 - g).round().clamp(0.0, 255.0) as u8;
        p[2] = (255.0 - b).round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    fn doc() -> Document {
        Document::with_version("1.7")
    }

    fn image(dict: Dictionary, data: Vec<u8>) -> Stream {
        Stream::new(dict, data)
    }

    fn decode(d: &Document, s: &Stream) -> Decoded {
        decode_image(d, s, &Ctx::default(), 1).unwrap()
    }

    fn pixels(d: Decoded) -> DecodedImage {
        match d {
            Decoded::Image(i) => i,
            Decoded::Keep(r) => panic!("kept: {r}"),
        }
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        crate::deflate::zlib(data).unwrap()
    }

    /// The reference: full-size pixels averaged over k × k blocks.
    fn box_average(px: &Pixels, k: usize) -> Pixels {
        let (w, h, ch) = (px.width as usize, px.height as usize, px.model.channels());
        let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
        let mut data = Vec::new();
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..ch {
                    let (mut sum, mut n) = (0u32, 0u32);
                    for y in oy * k..((oy + 1) * k).min(h) {
                        for x in ox * k..((ox + 1) * k).min(w) {
                            sum += px.data[(y * w + x) * ch + c] as u32;
                            n += 1;
                        }
                    }
                    data.push(((sum + n / 2) / n) as u8);
                }
            }
        }
        Pixels {
            width: ow as u32,
            height: oh as u32,
            model: px.model,
            data,
        }
    }

    fn streamed(d: &Document, s: &Stream, k: u32) -> Decoded {
        decode_image_with(d, s, &Ctx::default(), k, 0).unwrap()
    }

    #[test]
    fn big_flate_images_average_down_while_decoding() {
        let d = doc();
        let (w, h) = (23u32, 17u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37) % 251) as u8).collect();
        let predicted = crate::imaging::encode::png_predict(&rgb, w as usize * 3, 3, h as usize);
        let with_png = image(
            dictionary! {
                "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8,
                "Filter" => "FlateDecode",
                "DecodeParms" => dictionary! {
                    "Predictor" => 15, "Colors" => 3, "BitsPerComponent" => 8, "Columns" => w,
                },
            },
            zlib(&predicted),
        );
        // 4-bit gray with an inverting /Decode, no predictor.
        let gray4: Vec<u8> = (0..(w as usize).div_ceil(2) * h as usize)
            .map(|i| (i * 29 % 256) as u8)
            .collect();
        let gray = image(
            dictionary! {
                "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 4,
                "Decode" => vec![1.into(), 0.into()], "Filter" => "FlateDecode",
            },
            zlib(&gray4),
        );
        // An 8-bit palette of 4 colours.
        let pal: Vec<u8> = vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9];
        let idx: Vec<u8> = (0..w * h).map(|i| (i % 4) as u8).collect();
        let indexed = image(
            dictionary! {
                "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => vec!["Indexed".into(), "DeviceRGB".into(), 3.into(), Object::string_literal(pal)],
                "BitsPerComponent" => 8, "Filter" => "FlateDecode",
            },
            zlib(&idx),
        );
        for s in [&with_png, &gray, &indexed] {
            let full = pixels(decode(&d, s));
            for k in [2u32, 3, 5] {
                let small = pixels(streamed(&d, s, k));
                let want = box_average(&full.pixels, k as usize);
                assert_eq!(
                    (small.pixels.width, small.pixels.height),
                    (want.width, want.height)
                );
                assert_eq!(small.pixels.data, want.data, "k = {k}");
                assert_eq!(small.color_space, full.color_space);
                assert_eq!(small.was_indexed, full.was_indexed);
            }
        }
    }

    #[test]
    fn streamed_decoding_keeps_what_it_cannot_read() {
        let d = doc();
        let (w, h) = (16u32, 12u32);
        let gray: Vec<u8> = (0..w * h).map(|i| (i * 7 % 256) as u8).collect();
        let dict = |parms: Option<Dictionary>| {
            let mut dd = dictionary! {
                "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
                "Filter" => "FlateDecode",
            };
            if let Some(p) = parms {
                dd.set("DecodeParms", p);
            }
            dd
        };
        let kept = |dec: Decoded| match dec {
            Decoded::Keep(r) => r,
            Decoded::Image(_) => panic!("decoded"),
        };
        // Rows missing at the end.
        let z = zlib(&gray[..gray.len() / 2]);
        assert!(kept(streamed(&d, &image(dict(None), z), 2)).contains("truncated"));
        // A PNG filter byte that does not exist.
        let mut rows = Vec::new();
        for r in gray.chunks(w as usize) {
            rows.push(7u8);
            rows.extend_from_slice(r);
        }
        let png = dictionary! { "Predictor" => 15, "Columns" => w };
        let s = image(dict(Some(png)), zlib(&rows));
        assert!(kept(streamed(&d, &s, 2)).contains("predictor"));
        // Not zlib at all.
        let s = image(dict(None), b"definitely not zlib data".to_vec());
        assert!(kept(streamed(&d, &s, 2)).contains("decompress"));
        // A TIFF predictor is not streamed: the image comes back whole.
        let tiff = dictionary! { "Predictor" => 2, "Columns" => w };
        let s = image(dict(Some(tiff)), zlib(&gray));
        let img = pixels(streamed(&d, &s, 2));
        assert_eq!((img.pixels.width, img.pixels.height), (w, h));
    }

    #[test]
    fn gray_4bit_with_inverting_decode() {
        let d = doc();
        let s = image(
            dictionary! {
                "Subtype" => "Image", "Width" => 3, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 4,
                "Decode" => vec![1.into(), 0.into()],
            },
            vec![0x0F, 0x80],
        );
        let img = pixels(decode(&d, &s));
        // 0 → white, 15 → black, 8 → 255·(1 − 8/15) = 119.
        assert_eq!(img.pixels.data, vec![255, 0, 119]);
        assert_eq!(img.pixels.model, ColorModel::Gray);
    }

    #[test]
    fn indexed_expands_palette_and_uses_base_space() {
        let d = doc();
        let pal = vec![255, 0, 0, 0, 0, 255];
        let s = image(
            dictionary! {
                "Subtype" => "Image", "Width" => 4, "Height" => 1,
                "ColorSpace" => vec!["Indexed".into(), "DeviceRGB".into(), 1.into(), Object::string_literal(pal)],
                "BitsPerComponent" => 1,
            },
            vec![0b0110_0000],
        );
        let img = pixels(decode(&d, &s));
        assert!(img.was_indexed);
        assert_eq!(img.color_space, Object::Name(b"DeviceRGB".to_vec()));
        assert_eq!(
            img.pixels.data,
            vec![255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0]
        );
    }

    #[test]
    fn sixteen_bit_rgb_takes_high_precision() {
        let d = doc();
        let s = image(
            dictionary! {
                "Subtype" => "Image", "Width" => 1, "Height" => 1,
                "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 16,
            },
            vec![0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00],
        );
        let img = pixels(decode(&d, &s));
        assert_eq!(img.pixels.data, vec![255, 128, 0]);
    }

    #[test]
    fn flate_with_png_predictor() {
        use std::io::Write;
        // Two rows of 2 RGB pixels, PNG "Up" filter on the second row.
        let raw = [0u8, 10, 20, 30, 40, 50, 60, 2, 1, 1, 1, 1, 1, 1];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).unwrap();
        let d = doc();
        let s = image(
            dictionary! {
                "Subtype" => "Image", "Width" => 2, "Height" => 2,
                "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8,
                "Filter" => "FlateDecode",
                "DecodeParms" => dictionary! { "Predictor" => 12, "Colors" => 3, "Columns" => 2 },
            },
            z.finish().unwrap(),
        );
        let img = pixels(decode(&d, &s));
        assert_eq!(
            img.pixels.data,
            vec![10, 20, 30, 40, 50, 60, 11, 21, 31, 41, 51, 61]
        );
    }

    #[test]
    fn keeps_what_it_cannot_handle() {
        let d = doc();
        let cases = [
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1, "ImageMask" => true },
                "mask",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 1 },
                "bi-level",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "JPXDecode" },
                "bad JPEG 2000",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 1, "Filter" => "CCITTFaxDecode" },
                "CCITT",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 8,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
                "truncated",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 100_000, "Height" => 100_000,
                "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8 },
                "pixel limit",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
                "Mask" => vec![0.into(), 10.into()] },
                "colour-key",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "DCTDecode" },
                "JPEG",
            ),
            (
                dictionary! { "Subtype" => "Image", "Width" => 8, "Height" => 1,
                "ColorSpace" => vec!["Lab".into(), dictionary!{}.into()], "BitsPerComponent" => 8 },
                "Lab",
            ),
        ];
        for (dict, why) in cases {
            match decode(&d, &image(dict, vec![0; 8])) {
                Decoded::Keep(r) => assert!(r.contains(why), "{why}: {r}"),
                Decoded::Image(_) => panic!("{why}: decoded"),
            }
        }
    }

    #[test]
    fn adobe_inverted_cmyk_jpeg_is_normalised_by_decode() {
        // Photoshop-style CMYK JPEG: stored samples are 255 − ink, and the
        // PDF says so with /Decode [1 0 1 0 1 0 1 0].
        let ink = [30u8, 160, 90, 10];
        let stored: Vec<u8> = (0..64 * 64).flat_map(|_| ink.map(|v| 255 - v)).collect();
        let px = super::super::decode::Pixels {
            width: 64,
            height: 64,
            model: ColorModel::Cmyk,
            data: stored,
        };
        let jpg = super::super::encode::encode_jpeg(&px, 95).unwrap();
        let d = doc();
        let inv: Vec<Object> = (0..4).flat_map(|_| [1.into(), 0.into()]).collect();
        let s = image(
            dictionary! {
                "Subtype" => "Image", "Width" => 64, "Height" => 64,
                "ColorSpace" => "DeviceCMYK", "BitsPerComponent" => 8,
                "Filter" => "DCTDecode", "Decode" => inv,
            },
            jpg,
        );
        let img = pixels(decode(&d, &s));
        assert_eq!(img.source, SourceCodec::Jpeg);
        for p in img.pixels.data.chunks_exact(4) {
            for (got, want) in p.iter().zip(ink) {
                assert!((*got as i32 - want as i32).abs() <= 3, "{p:?} vs {ink:?}");
            }
        }
    }

    #[test]
    fn ycck_conversion_of_neutral_gray() {
        // Y=255 (white in RGB) with neutral chroma → no CMY ink.
        let mut px = vec![255, 128, 128, 40];
        ycck_to_cmyk(&mut px);
        assert_eq!(px, vec![0, 0, 0, 40]);
    }
}

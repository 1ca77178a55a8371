//! Resampling and re-encoding of decoded images.
//!
//! - [`resize`]: fast_image_resize convolution (Lanczos3 for photos,
//!   CatmullRom for graphics, which rings less on hard edges).
//! - [`classify`]: a cheap look at a subsample (colour count, how often
//!   neighbours are identical) telling photos from flat graphics.
//! - [`encode_jpeg`]: mozjpeg, progressive with optimised Huffman tables and
//!   trellis quantisation; gray stays one component, CMYK stays CMYK
//!   (plain Adobe transform 0, non-inverted samples, so no `/Decode` needed).
//! - [`encode_flate`]: PNG-style row predictors (PDF `/Predictor 15`) and
//!   libdeflate at a high level, for graphics that JPEG would smear.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize as fr;
use lopdf::{Dictionary, Object};

use super::decode::{ColorModel, Pixels};

/// Which filter suits the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeFilter {
    /// Sharp, for photos.
    Lanczos3,
    /// Less ringing, for graphics and masks.
    CatmullRom,
}

fn pixel_type(model: ColorModel) -> fr::PixelType {
    match model {
        ColorModel::Gray => fr::PixelType::U8,
        ColorModel::Rgb => fr::PixelType::U8x3,
        ColorModel::Cmyk => fr::PixelType::U8x4,
    }
}

/// Resample `px` to `w × h`. `None` only on an internal size mismatch.
pub fn resize(px: &Pixels, w: u32, h: u32, filter: ResizeFilter) -> Option<Pixels> {
    let w = w.max(1);
    let h = h.max(1);
    if px.width == w && px.height == h {
        return Some(px.clone());
    }
    let pt = pixel_type(px.model);
    let need = px.stride().checked_mul(px.height as usize)?;
    let src = fr::images::ImageRef::new(px.width, px.height, px.data.get(..need)?, pt).ok()?;
    let mut dst = fr::images::Image::new(w, h, pt);
    let alg = match filter {
        ResizeFilter::Lanczos3 => fr::FilterType::Lanczos3,
        ResizeFilter::CatmullRom => fr::FilterType::CatmullRom,
    };
    // The 4th channel of CMYK is black, not alpha: no premultiplication.
    let opts = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(alg))
        .use_alpha(false);
    fr::Resizer::new().resize(&src, &mut dst, &opts).ok()?;
    Some(Pixels {
        width: w,
        height: h,
        model: px.model,
        data: dst.into_vec(),
    })
}

/// What kind of picture a subsample suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// Many colours, few identical neighbours: JPEG.
    Photo,
    /// Few colours or mostly flat: lossless Flate.
    Graphic,
    /// In between: try both and compare sizes.
    Unclear,
}

/// Colours counted before we stop (enough to call it a photo).
const COLOR_CAP: usize = 4096;
/// Samples looked at, at most.
const SAMPLE_TARGET: usize = 65_536;

/// Classify by sampling ~64 K pixels on a regular grid: the number of
/// distinct colours (≤ 256 means a palette image) and the share of sampled
/// pixels equal to their right neighbour (flat areas are typical of
/// screenshots and diagrams, rare in photos and scans).
///
/// `limited` says the colour count says little by itself: gray images have
/// at most 256 levels and palette images at most 256 entries, photos
/// included. Then only a handful of colours means a graphic, and flatness
/// decides the rest.
pub fn classify(px: &Pixels, limited: bool) -> ContentKind {
    let ch = px.model.channels();
    let (w, h) = (px.width as usize, px.height as usize);
    if w < 2 || h == 0 {
        return ContentKind::Graphic;
    }
    let total = w * h;
    let step = ((total / SAMPLE_TARGET) as f64).sqrt().floor().max(1.0) as usize;
    let stride = px.stride();
    let mut colors: HashSet<u32> = HashSet::new();
    let (mut pairs, mut equal) = (0usize, 0usize);
    let pack = |p: &[u8]| p.iter().fold(0u32, |acc, &v| (acc << 8) | v as u32);
    for y in (0..h).step_by(step) {
        let row = &px.data[y * stride..(y + 1) * stride];
        for x in (0..w - 1).step_by(step) {
            let a = &row[x * ch..(x + 1) * ch];
            let b = &row[(x + 1) * ch..(x + 2) * ch];
            if colors.len() <= COLOR_CAP {
                colors.insert(pack(a));
            }
            pairs += 1;
            if a == b {
                equal += 1;
            }
        }
    }
    let flat = equal as f64 / pairs.max(1) as f64;
    let few = if limited { 16 } else { 256 };
    if colors.len() <= few {
        ContentKind::Graphic
    } else if (limited || colors.len() > 1024) && flat < 0.25 {
        ContentKind::Photo
    } else if flat > 0.7 {
        ContentKind::Graphic
    } else {
        ContentKind::Unclear
    }
}

/// Encode as baseline-compatible progressive JPEG. `None` if mozjpeg fails.
pub fn encode_jpeg(px: &Pixels, quality: u8) -> Option<Vec<u8>> {
    let need = px.stride().checked_mul(px.height as usize)?;
    let data = px.data.get(..need)?;
    if px.width == 0 || px.height == 0 || px.width > 65_500 || px.height > 65_500 {
        return None;
    }
    let cs = match px.model {
        ColorModel::Gray => mozjpeg::ColorSpace::JCS_GRAYSCALE,
        ColorModel::Rgb => mozjpeg::ColorSpace::JCS_RGB,
        ColorModel::Cmyk => mozjpeg::ColorSpace::JCS_CMYK,
    };
    // libjpeg reports errors by unwinding through the mozjpeg wrapper.
    let r = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(cs);
        c.set_size(px.width as usize, px.height as usize);
        c.set_quality(quality.clamp(1, 100) as f32);
        // mozjpeg's search over progressive scan scripts costs half again
        // the time for 0.6 % of the bytes (the corpus photos at q72: 5.9 s
        // vs 3.9 s); trellis quantisation, the part that pays, stays on.
        // Before `set_progressive_mode`, which then writes the standard
        // progressive script (after it, the crate would clear the script
        // and fall back to baseline).
        c.set_optimize_scans(false);
        c.set_progressive_mode();
        c.set_optimize_coding(true);
        let mut started = c.start_compress(Vec::with_capacity(need / 8 + 1024))?;
        started.write_scanlines(data)?;
        started.finish()
    }));
    match r {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::debug!("JPEG encoding failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("JPEG encoder error");
            None
        }
    }
}

/// Rows per band of [`sample_bands`], a multiple of the 16-row JPEG MCU so
/// each band encodes as it would inside the whole image.
const PROBE_BAND_ROWS: usize = 16;
/// One band of every this many goes into the sample (1/8 of the rows).
const PROBE_BAND_EVERY: usize = 8;

/// A smaller image made of evenly spaced bands of `px`'s rows, and the
/// fraction of the rows it holds: what [`encode_jpeg`] produces on it,
/// divided by the fraction, estimates the whole image's encoded size.
pub fn sample_bands(px: &Pixels) -> Option<(Pixels, f64)> {
    let stride = px.stride();
    let height = px.height as usize;
    let mut data = Vec::new();
    let mut rows = 0usize;
    let mut y = 0usize;
    while y < height {
        let end = (y + PROBE_BAND_ROWS).min(height);
        data.extend_from_slice(px.data.get(y * stride..end * stride)?);
        rows += end - y;
        y += PROBE_BAND_ROWS * PROBE_BAND_EVERY;
    }
    if rows == 0 {
        return None;
    }
    let sample = Pixels {
        width: px.width,
        height: rows as u32,
        model: px.model,
        data,
    };
    Some((sample, rows as f64 / height as f64))
}

/// PNG row filters (PDF Predictor 15: a filter-type byte before each row),
/// picking per row the filter with the smallest sum of absolute residuals
/// (the first such filter on a tie).
///
/// Each filter is computed over the whole row in its own loop, with the
/// first `bpp` bytes (no left neighbour) done apart, so the loops have no
/// branches and vectorise; a per-byte loop filling all five candidates was
/// 17 % of a balanced run on text-and-screenshot files (TAMReview, ECSTR).
pub fn png_predict(data: &[u8], stride: usize, bpp: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((stride + 1) * height);
    let zero = vec![0u8; stride];
    let mut cand: [Vec<u8>; 5] = std::array::from_fn(|_| vec![0u8; stride]);
    let bpp = bpp.clamp(1, stride.max(1));
    for y in 0..height {
        let Some(row) = data.get(y * stride..(y + 1) * stride) else {
            break;
        };
        let prev = if y == 0 {
            &zero[..]
        } else {
            &data[(y - 1) * stride..y * stride]
        };
        filter_row(row, prev, bpp, &mut cand);
        let score = |v: &[u8]| {
            v.iter()
                .map(|&b| (b as i8).unsigned_abs() as u64)
                .sum::<u64>()
        };
        let (best, _) = cand
            .iter()
            .enumerate()
            .map(|(k, v)| (k, score(v)))
            .min_by_key(|&(_, s)| s)
            .unwrap_or((0, 0));
        out.push(best as u8);
        out.extend_from_slice(&cand[best]);
    }
    out
}

/// The five PNG filters of `row` (previous row `prev`, `bpp` bytes per
/// pixel, `1 ≤ bpp ≤ row.len()` unless the row is empty) into `cand`.
fn filter_row(row: &[u8], prev: &[u8], bpp: usize, cand: &mut [Vec<u8>; 5]) {
    let n = row.len();
    if n == 0 {
        return;
    }
    let [none, sub, up, avg, pae] = cand;
    none.copy_from_slice(row);
    for ((d, &x), &b) in up.iter_mut().zip(row).zip(prev) {
        *d = x.wrapping_sub(b);
    }
    // Bytes without a left neighbour: a = c = 0.
    for i in 0..bpp {
        let (x, b) = (row[i], prev[i]);
        sub[i] = x;
        avg[i] = x.wrapping_sub(b / 2);
        pae[i] = x.wrapping_sub(b);
    }
    let (rest, left) = (&row[bpp..], &row[..n - bpp]);
    let (up_rest, up_left) = (&prev[bpp..], &prev[..n - bpp]);
    for ((d, &x), &a) in sub[bpp..].iter_mut().zip(rest).zip(left) {
        *d = x.wrapping_sub(a);
    }
    for (((d, &x), &a), &b) in avg[bpp..].iter_mut().zip(rest).zip(left).zip(up_rest) {
        *d = x.wrapping_sub(((a as u16 + b as u16) / 2) as u8);
    }
    for ((((d, &x), &a), &b), &c) in pae[bpp..]
        .iter_mut()
        .zip(rest)
        .zip(left)
        .zip(up_rest)
        .zip(up_left)
    {
        *d = x.wrapping_sub(paeth_branchless(a, b, c));
    }
}

/// The PNG Paeth predictor as selects instead of branches, so the loop vectorises.
#[inline(always)]
fn paeth_branchless(a: u8, b: u8, c: u8) -> u8 {
    let (ai, bi, ci) = (a as i16, b as i16, c as i16);
    let pa = (bi - ci).abs();
    let pb = (ai - ci).abs();
    let pc = (ai + bi - 2 * ci).abs();
    let bc = if pb <= pc { b } else { c };
    if pa <= pb && pa <= pc { a } else { bc }
}

/// Flate with PNG predictors: the stream bytes and its `/DecodeParms`.
pub fn encode_flate(px: &Pixels) -> Option<(Vec<u8>, Dictionary)> {
    let ch = px.model.channels();
    let predicted = png_predict(&px.data, px.stride(), ch, px.height as usize);
    let bytes = crate::deflate::zlib(&predicted)?;
    let mut parms = Dictionary::new();
    parms.set("Predictor", Object::Integer(15));
    parms.set("Colors", Object::Integer(ch as i64));
    parms.set("BitsPerComponent", Object::Integer(8));
    parms.set("Columns", Object::Integer(px.width as i64));
    Some((bytes, parms))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PNG Paeth predictor as RFC 2083 §6.6 writes it: the reference
    /// for `paeth_branchless`.
    fn paeth(a: u8, b: u8, c: u8) -> u8 {
        let p = a as i16 + b as i16 - c as i16;
        let (pa, pb, pc) = (
            (p - a as i16).abs(),
            (p - b as i16).abs(),
            (p - c as i16).abs(),
        );
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    #[test]
    fn sample_bands_takes_one_band_in_eight() {
        let px = gradient(10, 300, ColorModel::Rgb);
        let (sample, fraction) = sample_bands(&px).expect("sample");
        // Rows 0-15, 128-143, 256-271: three bands of 16 of 300 rows.
        assert_eq!(sample.height, 48);
        assert_eq!(sample.width, 10);
        assert_eq!(sample.data.len(), 48 * px.stride());
        assert!((fraction - 48.0 / 300.0).abs() < 1e-12);
        let stride = px.stride();
        assert_eq!(
            &sample.data[16 * stride..17 * stride],
            &px.data[128 * stride..129 * stride]
        );
        // A short image is its own sample.
        let small = gradient(4, 5, ColorModel::Gray);
        let (s2, f2) = sample_bands(&small).expect("sample");
        assert_eq!((s2.height, f2), (5, 1.0));
    }

    fn gradient(w: u32, h: u32, model: ColorModel) -> Pixels {
        let ch = model.channels();
        let mut data = Vec::with_capacity((w * h) as usize * ch);
        let mut s = 12345u32;
        for y in 0..h {
            for x in 0..w {
                for c in 0..ch {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    let v =
                        (x * 255 / w.max(1)) as i32 + (y * 97 / h.max(1)) as i32 + c as i32 * 20;
                    data.push((v + (s % 9) as i32 - 4).clamp(0, 255) as u8);
                }
            }
        }
        Pixels {
            width: w,
            height: h,
            model,
            data,
        }
    }

    /// The per-byte formulation `png_predict` had before its filters were
    /// split into vectorisable loops.
    fn png_predict_reference(data: &[u8], stride: usize, bpp: usize, height: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let zero = vec![0u8; stride];
        let mut cand: [Vec<u8>; 5] = std::array::from_fn(|_| vec![0u8; stride]);
        for y in 0..height {
            let row = &data[y * stride..(y + 1) * stride];
            let prev = if y == 0 {
                &zero[..]
            } else {
                &data[(y - 1) * stride..y * stride]
            };
            for i in 0..stride {
                let a = if i >= bpp { row[i - bpp] } else { 0 };
                let b = prev[i];
                let c = if i >= bpp { prev[i - bpp] } else { 0 };
                let x = row[i];
                cand[0][i] = x;
                cand[1][i] = x.wrapping_sub(a);
                cand[2][i] = x.wrapping_sub(b);
                cand[3][i] = x.wrapping_sub(((a as u16 + b as u16) / 2) as u8);
                cand[4][i] = x.wrapping_sub(paeth(a, b, c));
            }
            let score = |v: &[u8]| {
                v.iter()
                    .map(|&b| (b as i8).unsigned_abs() as u64)
                    .sum::<u64>()
            };
            let best = (0..5).min_by_key(|&k| score(&cand[k])).unwrap_or(0);
            out.push(best as u8);
            out.extend_from_slice(&cand[best]);
        }
        out
    }

    #[test]
    fn png_predict_matches_the_per_byte_filters() {
        // Smooth, noisy, flat and saturated rows, at 1, 3 and 4 bytes per
        // pixel, including rows narrower than one pixel's bytes.
        for (w, h, model) in [
            (37u32, 11u32, ColorModel::Rgb),
            (64, 9, ColorModel::Gray),
            (5, 7, ColorModel::Cmyk),
            (1, 3, ColorModel::Rgb),
        ] {
            let mut px = gradient(w, h, model);
            let stride = px.stride();
            for (i, v) in px.data.iter_mut().enumerate() {
                match (i / stride) % 4 {
                    0 => *v = 255 - *v,
                    1 if i % 3 == 0 => *v = 0,
                    2 => *v = 128,
                    _ => {}
                }
            }
            let ch = model.channels();
            let got = png_predict(&px.data, stride, ch, h as usize);
            let want = png_predict_reference(&px.data, stride, ch, h as usize);
            assert_eq!(got, want, "{w}x{h} {model:?}");
        }
        // Exhaustive Paeth check.
        for a in 0..=255u8 {
            for b in (0..=255u8).step_by(3) {
                for c in (0..=255u8).step_by(5) {
                    assert_eq!(paeth_branchless(a, b, c), paeth(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn png_predictor_round_trips_through_lopdf() {
        let px = gradient(37, 11, ColorModel::Rgb);
        let (bytes, parms) = encode_flate(&px).unwrap();
        let mut d = Dictionary::new();
        d.set("Filter", "FlateDecode");
        d.set("DecodeParms", parms);
        let s = lopdf::Stream::new(d, bytes);
        assert_eq!(s.decompressed_content().unwrap(), px.data);
    }

    #[test]
    fn jpeg_keeps_channels_and_size() {
        for model in [ColorModel::Gray, ColorModel::Rgb, ColorModel::Cmyk] {
            let px = gradient(64, 40, model);
            let jpg = encode_jpeg(&px, 75).unwrap();
            let mut dec =
                zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(&jpg));
            dec.decode_headers().unwrap();
            let info = dec.info().unwrap();
            assert_eq!((info.width, info.height), (64, 40));
            assert_eq!(info.components as usize, model.channels(), "{model:?}");
        }
    }

    #[test]
    fn resize_halves() {
        let px = gradient(100, 60, ColorModel::Cmyk);
        let r = resize(&px, 50, 30, ResizeFilter::Lanczos3).unwrap();
        assert_eq!(r.data.len(), 50 * 30 * 4);
        // A smooth ramp stays a ramp: left darker than right in channel 0.
        assert!(r.data[0] < r.data[(49) * 4]);
    }

    #[test]
    fn classification() {
        let photo = gradient(300, 200, ColorModel::Rgb);
        assert_eq!(classify(&photo, false), ContentKind::Photo);
        let mut flat = Pixels {
            width: 300,
            height: 200,
            model: ColorModel::Rgb,
            data: vec![255; 300 * 200 * 3],
        };
        assert_eq!(classify(&flat, false), ContentKind::Graphic);
        // A few hundred colours in big flat blocks: still a graphic.
        for (i, p) in flat.data.chunks_exact_mut(3).enumerate() {
            let block = (i % 300) / 10 + (i / 300 / 10) * 30;
            p[0] = (block % 256) as u8;
            p[1] = (block / 256 * 40) as u8;
        }
        assert_eq!(classify(&flat, false), ContentKind::Graphic);
        // A gray photo has ≤ 256 levels yet is a photo.
        let mut gray = gradient(300, 200, ColorModel::Gray);
        let mut s = 7u32;
        for v in &mut gray.data {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            *v = v.wrapping_add((s % 24) as u8);
        }
        assert_eq!(classify(&gray, true), ContentKind::Photo);
        assert_eq!(classify(&gray, false), ContentKind::Graphic);
    }
}

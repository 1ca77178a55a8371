//! Streamed decoding of big Flate images, averaged down while they decode.
//!
//! A scan that the image pass will downsample by at least 2 need not be held
//! whole at full resolution: its rows are inflated a band of `k` rows at a
//! time, un-predicted, normalised ([`super::decode`]'s rules: `/Decode`,
//! palettes, bit depths) and averaged over `k × k` blocks. The image pass then
//! resamples the result (a box-filtered image at most 2× the target's size
//! per axis) to the target with its usual filter. A 9000 × 9000 RGB scan
//! (ocrmypdf__multipage) was inflated into 243 MB, with up to twice that
//! while the buffer grew, and resampled through 180 MB more; this holds the
//! 61 MB result and a few rows.

use lopdf::filters::png::{self, FilterType};

use super::decode::{ColorSpaceInfo, Pixels, normalise};
use crate::{Ctx, Result};

/// How a big image was (or was not) decoded here.
#[derive(Debug)]
pub enum Shrunk {
    /// Box-averaged pixels, `ceil(w / k) × ceil(h / k)`.
    Pixels(Pixels),
    /// Keep the original image; the reason is for reports.
    Keep(String),
}

/// The row predictor under the Flate layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowPredictor {
    None,
    /// PNG filters (`/Predictor` 10–15): a filter byte before each row,
    /// undone with lopdf's `decode_row`; `bpp` bytes per pixel (at least 1).
    Png {
        bpp: usize,
    },
}

/// What is known of the image before its data is read.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub width: u32,
    pub height: u32,
    pub bpc: u8,
    /// Samples per pixel in the data (1 for an Indexed image).
    pub comps: usize,
}

/// Decode the zlib data `data` of an image with geometry `g` and average
/// it over `k × k` blocks (`k ≥ 1`; edge blocks average what they hold).
/// Errors only on cancellation or the time limit.
pub fn flate_shrunk(
    data: &[u8],
    predictor: RowPredictor,
    g: Geometry,
    cs: &ColorSpaceInfo,
    decode: &[(f32, f32)],
    k: u32,
    ctx: &Ctx,
) -> Result<Shrunk> {
    use flate2::{Decompress, FlushDecompress, Status};
    let keep = |r: &str| Ok(Shrunk::Keep(r.to_string()));
    let (w, h) = (g.width as usize, g.height as usize);
    let k = k.max(1) as usize;
    let Some(row_bytes) = w
        .checked_mul(g.comps)
        .and_then(|v| v.checked_mul(g.bpc as usize))
        .map(|bits| bits.div_ceil(8))
    else {
        return keep("image size overflows");
    };
    let lead = usize::from(matches!(predictor, RowPredictor::Png { .. }));
    let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
    let ch = cs.model.channels();
    let Some(out_len) = ow.checked_mul(oh).and_then(|v| v.checked_mul(ch)) else {
        return keep("image size overflows");
    };
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut inf = Decompress::new(true);
    // One encoded row (filter byte + samples), the previous unfiltered row,
    // the band of unfiltered rows, and the column sums of one output row.
    let mut enc = vec![0u8; row_bytes + lead];
    let mut prev = vec![0u8; row_bytes];
    let mut band: Vec<u8> = Vec::with_capacity(row_bytes * k);
    let mut sums = vec![0u32; ow * ch];
    let mut ended = false;
    let mut y = 0usize;
    while y < h {
        ctx.check()?;
        let rows = k.min(h - y);
        band.clear();
        for _ in 0..rows {
            // Fill one encoded row.
            let mut filled = 0usize;
            while filled < enc.len() {
                if ended {
                    return keep("image data truncated");
                }
                let rest = data.get(inf.total_in() as usize..).unwrap_or_default();
                let (i0, o0) = (inf.total_in(), inf.total_out());
                match inf.decompress(rest, &mut enc[filled..], FlushDecompress::None) {
                    Ok(Status::StreamEnd) => ended = true,
                    Ok(_) => {}
                    Err(_) => return keep("cannot decompress image data"),
                }
                let got = (inf.total_out() - o0) as usize;
                if got == 0 && inf.total_in() == i0 && !ended {
                    return keep("image data truncated");
                }
                filled += got;
            }
            if let RowPredictor::Png { bpp } = predictor {
                let Ok(kind) = FilterType::try_from(enc[0]) else {
                    return keep("bad PNG predictor in image data");
                };
                png::decode_row(kind, bpp, &prev, &mut enc[1..]);
            }
            prev.copy_from_slice(&enc[lead..]);
            band.extend_from_slice(&prev);
        }
        let Some(px) = normalise(
            std::mem::take(&mut band),
            g.width,
            rows as u32,
            g.bpc,
            g.comps,
            cs,
            decode,
        ) else {
            return keep("image data does not match its dictionary");
        };
        if px.data.len() != rows * w * ch {
            return keep("image data does not match its dictionary");
        }
        average_band(&px.data, w, rows, ch, k, &mut sums, &mut out);
        band = Vec::with_capacity(row_bytes * k);
        y += rows;
    }
    Ok(Shrunk::Pixels(Pixels {
        width: ow as u32,
        height: oh as u32,
        model: cs.model,
        data: out,
    }))
}

/// Average `rows` rows of `w` pixels (`ch` channels) over blocks of `k`
/// columns, appending one output row to `out`. `sums` is scratch space of
/// `ceil(w / k) × ch`.
fn average_band(
    px: &[u8],
    w: usize,
    rows: usize,
    ch: usize,
    k: usize,
    sums: &mut [u32],
    out: &mut Vec<u8>,
) {
    sums.fill(0);
    let stride = w * ch;
    for r in 0..rows {
        let row = &px[r * stride..(r + 1) * stride];
        for (x, p) in row.chunks_exact(ch).enumerate() {
            let o = (x / k) * ch;
            for (s, &v) in sums[o..o + ch].iter_mut().zip(p) {
                *s += v as u32;
            }
        }
    }
    for (ox, block) in sums.chunks_exact(ch).enumerate() {
        let cols = k.min(w - ox * k) as u32;
        let n = cols * rows as u32;
        out.extend(block.iter().map(|&s| ((s + n / 2) / n) as u8));
    }
}

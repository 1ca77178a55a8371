//! Structural similarity (SSIM) between two grayscale images.
//!
//! Used to check that lossy image re-encoding keeps pages looking the same:
//! callers render a page before and after, convert to gray and compare. The
//! implementation is the reference one from Wang et al. (2004): an 11×11
//! Gaussian window (σ = 1.5), `C1 = (0.01·255)²`, `C2 = (0.03·255)²`, and the
//! mean of the SSIM map. Borders are handled by clamping the window to the
//! image (edge replication), so small images still get a score.

use std::borrow::Cow;

/// A borrowed 8-bit grayscale image, rows packed without padding.
#[derive(Debug, Clone, Copy)]
pub struct GrayImage<'a> {
    pub width: u32,
    pub height: u32,
    pub data: &'a [u8],
}

impl<'a> GrayImage<'a> {
    /// `None` when `data` is shorter than `width × height`.
    pub fn new(width: u32, height: u32, data: &'a [u8]) -> Option<Self> {
        let need = (width as usize).checked_mul(height as usize)?;
        (data.len() >= need && need > 0).then_some(GrayImage {
            width,
            height,
            data,
        })
    }
}

const C1: f32 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f32 = (0.03 * 255.0) * (0.03 * 255.0);
const RADIUS: usize = 5;
const SIGMA: f32 = 1.5;

fn gaussian_kernel() -> [f32; 2 * RADIUS + 1] {
    let mut k = [0f32; 2 * RADIUS + 1];
    let mut sum = 0.0;
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f32 - RADIUS as f32;
        *v = (-(x * x) / (2.0 * SIGMA * SIGMA)).exp();
        sum += *v;
    }
    for v in &mut k {
        *v /= sum;
    }
    k
}

/// Separable Gaussian blur with edge replication, of a whole plane: the
/// reference that [`ssim`]'s row-at-a-time [`RowBlur`] reproduces.
#[cfg(test)]
///
/// Both passes loop over the taps outside and the pixels inside, on plain
/// slices, so the compiler vectorises them (the quality gate blurs five
/// page-sized planes per comparison).
fn blur(src: &[f32], w: usize, h: usize, k: &[f32; 2 * RADIUS + 1]) -> Vec<f32> {
    let mut tmp = vec![0f32; w * h];
    let mut padded = vec![0f32; w + 2 * RADIUS];
    for (row, dst) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        let (first, last) = (row[0], row[w - 1]);
        padded[..RADIUS].fill(first);
        padded[RADIUS..RADIUS + w].copy_from_slice(row);
        padded[RADIUS + w..].fill(last);
        for (i, kv) in k.iter().enumerate() {
            for (d, s) in dst.iter_mut().zip(&padded[i..i + w]) {
                *d += kv * s;
            }
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let dst_row = &mut out[y * w..(y + 1) * w];
        for (i, kv) in k.iter().enumerate() {
            let sy = (y + i).saturating_sub(RADIUS).min(h - 1);
            let src_row = &tmp[sy * w..(sy + 1) * w];
            for (d, s) in dst_row.iter_mut().zip(src_row) {
                *d += kv * s;
            }
        }
    }
    out
}

/// Mean SSIM of two same-size gray images, in [-1, 1] (1 = identical).
/// `None` when the sizes differ.
///
/// Only the part of the images that differs is computed: a pixel whose
/// window holds no differing pixel scores exactly as identical windows do
/// (1), so the SSIM map is evaluated on the bounding box of the differences
/// grown by the window radius (read with another radius of context), and
/// every other pixel counts as 1. The quality gate compares pages where
/// only a few images changed, so this is most of the page left out.
///
/// The five blurred planes are never held whole: rows are blurred
/// horizontally into a ring of `2·RADIUS + 1` rows per plane and blurred
/// vertically one output row at a time ([`RowBlur`]), so memory is
/// 220 bytes per column instead of ~36 bytes per pixel. A one-page scan
/// rendered at the gate's 100 dpi (1761 × 1000) held 63 MB of planes.
/// The arithmetic and its order are those of [`blur`], so scores are
/// bit-for-bit the same.
pub fn ssim(a: GrayImage<'_>, b: GrayImage<'_>) -> Option<f64> {
    if a.width != b.width || a.height != b.height {
        return None;
    }
    let (w, h) = (a.width as usize, a.height as usize);
    let n = w * h;
    let (da, db) = (&a.data[..n], &b.data[..n]);
    let Some((x0, y0, x1, y1)) = diff_box(da, db, w) else {
        return Some(1.0);
    };
    // Pixels scored (differences + radius) and pixels read (+ one more).
    let grow = |lo: usize, hi: usize, by: usize, max: usize| {
        (lo.saturating_sub(by), (hi + by).min(max - 1))
    };
    let (sx0, sx1) = grow(x0, x1, RADIUS, w);
    let (sy0, sy1) = grow(y0, y1, RADIUS, h);
    let (rx0, rx1) = grow(x0, x1, 2 * RADIUS, w);
    let (ry0, ry1) = grow(y0, y1, 2 * RADIUS, h);
    let (cw, ch) = (rx1 - rx0 + 1, ry1 - ry0 + 1);
    let k = gaussian_kernel();
    let mut blur = RowBlur::new(cw, ch, k);
    // Input row `cy` of the crop as the five planes a, b, a², b², a·b,
    // each padded by RADIUS replicated pixels at both ends.
    let mut planes: [Vec<f32>; 5] = std::array::from_fn(|_| vec![0f32; cw + 2 * RADIUS]);
    let mut total = 0f64;
    for oy in (sy0 - ry0)..=(sy1 - ry0) {
        let out = blur.row(oy, |cy, rows: &mut [Vec<f32>; 5]| {
            let y = ry0 + cy;
            let ra = &da[y * w + rx0..=y * w + rx1];
            let rb = &db[y * w + rx0..=y * w + rx1];
            let [pa, pb, paa, pbb, pab] = &mut planes;
            for (i, (&va, &vb)) in ra.iter().zip(rb).enumerate() {
                let (fa, fb) = (va as f32, vb as f32);
                let j = RADIUS + i;
                pa[j] = fa;
                pb[j] = fb;
                paa[j] = fa * fa;
                pbb[j] = fb * fb;
                pab[j] = fa * fb;
            }
            for (padded, dst) in planes.iter_mut().zip(rows.iter_mut()) {
                blur_row(padded, dst, &k);
            }
        });
        let [mu_a, mu_b, s_aa, s_bb, s_ab] = out;
        for x in (sx0 - rx0)..=(sx1 - rx0) {
            total += ssim_at(mu_a[x], mu_b[x], s_aa[x], s_bb[x], s_ab[x]) as f64;
        }
    }
    let scored = (sx1 - sx0 + 1) * (sy1 - sy0 + 1);
    Some((total + (n - scored) as f64) / n as f64)
}

/// Horizontal pass of [`blur`] on one row. `padded` holds the row between
/// RADIUS slots at each end, which are filled here with its first and last
/// pixels; `dst` (one row wide) receives the blurred row.
fn blur_row(padded: &mut [f32], dst: &mut [f32], k: &[f32; 2 * RADIUS + 1]) {
    let w = dst.len();
    let (first, last) = (padded[RADIUS], padded[RADIUS + w - 1]);
    padded[..RADIUS].fill(first);
    padded[RADIUS + w..].fill(last);
    dst.fill(0.0);
    for (i, kv) in k.iter().enumerate() {
        for (d, s) in dst.iter_mut().zip(&padded[i..i + w]) {
            *d += kv * s;
        }
    }
}

/// The separable blur of five planes of a `w × h` image, produced one
/// output row at a time from a ring of horizontally blurred input rows.
struct RowBlur {
    w: usize,
    h: usize,
    k: [f32; 2 * RADIUS + 1],
    /// Horizontally blurred input rows, row `y` in slot `y % (2·RADIUS + 1)`.
    ring: Vec<[Vec<f32>; 5]>,
    /// Input rows blurred so far (rows `0..filled`).
    filled: usize,
    out: [Vec<f32>; 5],
}

impl RowBlur {
    fn new(w: usize, h: usize, k: [f32; 2 * RADIUS + 1]) -> Self {
        let planes = || -> [Vec<f32>; 5] { std::array::from_fn(|_| vec![0f32; w]) };
        RowBlur {
            w,
            h,
            k,
            ring: (0..2 * RADIUS + 1).map(|_| planes()).collect(),
            filled: 0,
            out: planes(),
        }
    }

    /// Output row `y` of the five blurred planes. `input(cy, rows)` writes
    /// the horizontal blur of input row `cy` into `rows`; it is called once
    /// per input row, in order. Rows must be asked for in increasing order.
    fn row(
        &mut self,
        y: usize,
        mut input: impl FnMut(usize, &mut [Vec<f32>; 5]),
    ) -> &[Vec<f32>; 5] {
        let slots = 2 * RADIUS + 1;
        let need = (y + RADIUS).min(self.h - 1) + 1;
        while self.filled < need {
            input(self.filled, &mut self.ring[self.filled % slots]);
            self.filled += 1;
        }
        for (p, dst) in self.out.iter_mut().enumerate() {
            dst.fill(0.0);
            for (i, kv) in self.k.iter().enumerate() {
                let sy = (y + i).saturating_sub(RADIUS).min(self.h - 1);
                let src = &self.ring[sy % slots][p];
                for (d, s) in dst.iter_mut().zip(&src[..self.w]) {
                    *d += kv * s;
                }
            }
        }
        &self.out
    }
}

/// SSIM of one window from its blurred means (`ma`, `mb`), blurred squares
/// (`saa`, `sbb`) and blurred product (`sab`).
fn ssim_at(ma: f32, mb: f32, saa: f32, sbb: f32, sab: f32) -> f32 {
    let va = (saa - ma * ma).max(0.0);
    let vb = (sbb - mb * mb).max(0.0);
    let cov = sab - ma * mb;
    let num = (2.0 * ma * mb + C1) * (2.0 * cov + C2);
    let den = (ma * ma + mb * mb + C1) * (va + vb + C2);
    num / den
}

/// Inclusive bounding box `(x0, y0, x1, y1)` of the pixels that differ, or
/// `None` when the images are identical.
fn diff_box(a: &[u8], b: &[u8], w: usize) -> Option<(usize, usize, usize, usize)> {
    let mut bbox: Option<(usize, usize, usize, usize)> = None;
    for (y, (ra, rb)) in a.chunks_exact(w).zip(b.chunks_exact(w)).enumerate() {
        if ra == rb {
            continue;
        }
        // The rows differ, so both searches find a pixel.
        let first = ra.iter().zip(rb).position(|(p, q)| p != q).unwrap_or(0);
        let from_end = ra
            .iter()
            .rev()
            .zip(rb.iter().rev())
            .position(|(p, q)| p != q);
        let last = w - 1 - from_end.unwrap_or(0);
        bbox = Some(match bbox {
            None => (first, y, last, y),
            Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(last), y),
        });
    }
    bbox
}

/// Resize a gray image to `w × h` (CatmullRom); used to compare renders that
/// came out one pixel apart or at different resolutions.
pub fn resize_gray(img: GrayImage<'_>, w: u32, h: u32) -> Option<Vec<u8>> {
    use fast_image_resize as fr;
    if img.width == w && img.height == h {
        return Some(img.data[..(w as usize) * (h as usize)].to_vec());
    }
    let src = fr::images::ImageRef::new(
        img.width,
        img.height,
        &img.data[..(img.width as usize) * (img.height as usize)],
        fr::PixelType::U8,
    )
    .ok()?;
    let mut dst = fr::images::Image::new(w.max(1), h.max(1), fr::PixelType::U8);
    let opts =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom));
    fr::Resizer::new().resize(&src, &mut dst, &opts).ok()?;
    Some(dst.into_vec())
}

/// SSIM of two gray images of possibly different sizes: both are brought to
/// the smaller width and height first (an image already that size is used
/// as it is, not copied).
pub fn ssim_any_size(a: GrayImage<'_>, b: GrayImage<'_>) -> Option<f64> {
    let w = a.width.min(b.width);
    let h = a.height.min(b.height);
    let (ra, rb) = (fitted(a, w, h)?, fitted(b, w, h)?);
    ssim(GrayImage::new(w, h, &ra)?, GrayImage::new(w, h, &rb)?)
}

/// `img`'s pixels at `w × h`: borrowed when it already has that size.
fn fitted(img: GrayImage<'_>, w: u32, h: u32) -> Option<Cow<'_, [u8]>> {
    if (img.width, img.height) == (w, h) {
        Some(Cow::Borrowed(img.data))
    } else {
        resize_gray(img, w, h).map(Cow::Owned)
    }
}

/// Convert interleaved RGBA (or RGB with `channels = 3`) to gray with the
/// Rec. 601 luma weights; alpha is ignored (renders are opaque).
pub fn to_gray(data: &[u8], channels: usize) -> Vec<u8> {
    match channels {
        0 => Vec::new(),
        1 => data.to_vec(),
        2 => data.chunks_exact(2).map(|p| p[0]).collect(),
        c => data
            .chunks_exact(c)
            .map(|p| {
                let v = 299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32;
                ((v + 500) / 1000) as u8
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| ((x * 7 + y * 3) % 256) as u8))
            .collect()
    }

    /// Deterministic pseudo-random noise (xorshift), so tests do not need a crate.
    fn noisy(src: &[u8], amp: i32, seed: u32) -> Vec<u8> {
        let mut s = seed.max(1);
        src.iter()
            .map(|&v| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let n = (s % (2 * amp as u32 + 1)) as i32 - amp;
                (v as i32 + n).clamp(0, 255) as u8
            })
            .collect()
    }

    #[test]
    fn identical_is_one() {
        let a = pattern(64, 48);
        let s = ssim(
            GrayImage::new(64, 48, &a).unwrap(),
            GrayImage::new(64, 48, &a).unwrap(),
        )
        .unwrap();
        assert!((s - 1.0).abs() < 1e-6, "{s}");
    }

    #[test]
    fn noise_lowers_it_monotonically() {
        let a = pattern(80, 60);
        fn g(d: &[u8]) -> GrayImage<'_> {
            GrayImage::new(80, 60, d).unwrap()
        }
        let light = noisy(&a, 8, 7);
        let heavy = noisy(&a, 60, 7);
        let s_light = ssim(g(&a), g(&light)).unwrap();
        let s_heavy = ssim(g(&a), g(&heavy)).unwrap();
        assert!(s_light < 0.999 && s_light > 0.5, "{s_light}");
        assert!(s_heavy < s_light, "{s_heavy} vs {s_light}");
    }

    #[test]
    fn known_values() {
        // A constant shift of a flat image changes only the luminance term:
        // SSIM = (2·μa·μb + C1) / (μa² + μb² + C1).
        let a = vec![100u8; 32 * 32];
        let b = vec![150u8; 32 * 32];
        let s = ssim(
            GrayImage::new(32, 32, &a).unwrap(),
            GrayImage::new(32, 32, &b).unwrap(),
        )
        .unwrap();
        let expect =
            (2.0 * 100.0 * 150.0 + C1 as f64) / (100.0f64.powi(2) + 150.0f64.powi(2) + C1 as f64);
        assert!((s - expect).abs() < 1e-4, "{s} vs {expect}");
        // Inverted structure scores far below a mild change.
        let p = pattern(32, 32);
        let inv: Vec<u8> = p.iter().map(|v| 255 - v).collect();
        let s_inv = ssim(
            GrayImage::new(32, 32, &p).unwrap(),
            GrayImage::new(32, 32, &inv).unwrap(),
        )
        .unwrap();
        assert!(s_inv < 0.0, "{s_inv}");
    }

    /// The reference computation over the whole image, as `ssim` did before
    /// it learnt to skip identical parts.
    fn full_ssim(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
        let k = gaussian_kernel();
        let fa: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let fb: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let sq =
            |x: &[f32], y: &[f32]| -> Vec<f32> { x.iter().zip(y).map(|(p, q)| p * q).collect() };
        let (mu_a, mu_b) = (blur(&fa, w, h, &k), blur(&fb, w, h, &k));
        let s_aa = blur(&sq(&fa, &fa), w, h, &k);
        let s_bb = blur(&sq(&fb, &fb), w, h, &k);
        let s_ab = blur(&sq(&fa, &fb), w, h, &k);
        let mut total = 0f64;
        for i in 0..w * h {
            total += ssim_at(mu_a[i], mu_b[i], s_aa[i], s_bb[i], s_ab[i]) as f64;
        }
        total / (w * h) as f64
    }

    #[test]
    fn local_difference_scores_as_the_whole_image_computation() {
        let (w, h) = (120usize, 90usize);
        let a = pattern(w as u32, h as u32);
        // A noisy patch in the middle, one at a corner, one on an edge.
        for (x0, y0) in [(50usize, 40usize), (0, 0), (113, 30)] {
            let mut b = a.clone();
            let noise = noisy(&a, 40, 11);
            for y in y0..(y0 + 7).min(h) {
                for x in x0..(x0 + 7).min(w) {
                    b[y * w + x] = noise[y * w + x];
                }
            }
            fn g(d: &[u8], w: usize, h: usize) -> GrayImage<'_> {
                GrayImage::new(w as u32, h as u32, d).unwrap()
            }
            let fast = ssim(g(&a, w, h), g(&b, w, h)).unwrap();
            let full = full_ssim(&a, &b, w, h);
            assert!(fast < 0.9999, "{fast}");
            assert!((fast - full).abs() < 1e-6, "{fast} vs {full} at {x0},{y0}");
        }
    }

    #[test]
    fn row_at_a_time_blur_is_bit_for_bit_the_whole_plane_blur() {
        // Differences in every corner make the scored box the whole image,
        // so `ssim` and the whole-plane reference do the same arithmetic in
        // the same order: the scores must be equal, not merely close. Sizes
        // cover images shorter and narrower than the 11-row window.
        for (w, h) in [(97usize, 61usize), (23, 7), (5, 40), (1, 1), (64, 11)] {
            let a = pattern(w as u32, h as u32);
            let b = noisy(&a, 30, 5);
            fn g(d: &[u8], w: usize, h: usize) -> GrayImage<'_> {
                GrayImage::new(w as u32, h as u32, d).unwrap()
            }
            let fast = ssim(g(&a, w, h), g(&b, w, h)).unwrap();
            let full = full_ssim(&a, &b, w, h);
            if a != b {
                assert_eq!(fast.to_bits(), full.to_bits(), "{w}x{h}: {fast} vs {full}");
            }
        }
    }

    #[test]
    fn sizes_must_match_unless_resized() {
        let a = pattern(40, 30);
        let b = pattern(41, 30);
        assert!(
            ssim(
                GrayImage::new(40, 30, &a).unwrap(),
                GrayImage::new(41, 30, &b).unwrap()
            )
            .is_none()
        );
        let s = ssim_any_size(
            GrayImage::new(40, 30, &a).unwrap(),
            GrayImage::new(41, 30, &b).unwrap(),
        )
        .unwrap();
        assert!(s > 0.5, "{s}");
        assert!(GrayImage::new(10, 10, &a[..50]).is_none());
    }

    #[test]
    fn gray_conversion() {
        assert_eq!(
            to_gray(&[255, 255, 255, 255, 0, 0, 0, 255], 4),
            vec![255, 0]
        );
        assert_eq!(to_gray(&[255, 0, 0], 3), vec![76]);
    }
}

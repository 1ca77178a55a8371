//! Structural similarity (SSIM) between two grayscale images.
//!
//! Used to check that lossy image re-encoding keeps pages looking the same:
//! callers render a page before and after, convert to gray and compare. The
//! implementation is the reference one from Wang et al. (2004): an 11×11
//! Gaussian window (σ = 1.5), `C1 = (0.01·255)²`, `C2 = (0.03·255)²`, and the
//! mean of the SSIM map. Borders are handled by clamping the window to the
//! image (edge replication), so small images still get a score.

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

/// Separable Gaussian blur with edge replication.
fn blur(src: &[f32], w: usize, h: usize, k: &[f32; 2 * RADIUS + 1]) -> Vec<f32> {
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            let mut acc = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let sx = (x + i).saturating_sub(RADIUS).min(w - 1);
                acc += kv * row[sx];
            }
            tmp[y * w + x] = acc;
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for (i, kv) in k.iter().enumerate() {
            let sy = (y + i).saturating_sub(RADIUS).min(h - 1);
            let src_row = &tmp[sy * w..(sy + 1) * w];
            let dst_row = &mut out[y * w..(y + 1) * w];
            for (d, s) in dst_row.iter_mut().zip(src_row) {
                *d += kv * s;
            }
        }
    }
    out
}

/// Mean SSIM of two same-size gray images, in [-1, 1] (1 = identical).
/// `None` when the sizes differ.
pub fn ssim(a: GrayImage<'_>, b: GrayImage<'_>) -> Option<f64> {
    if a.width != b.width || a.height != b.height {
        return None;
    }
    let (w, h) = (a.width as usize, a.height as usize);
    let n = w * h;
    let k = gaussian_kernel();
    let fa: Vec<f32> = a.data[..n].iter().map(|&v| v as f32).collect();
    let fb: Vec<f32> = b.data[..n].iter().map(|&v| v as f32).collect();
    let mu_a = blur(&fa, w, h, &k);
    let mu_b = blur(&fb, w, h, &k);
    let aa: Vec<f32> = fa.iter().map(|v| v * v).collect();
    let s_aa = blur(&aa, w, h, &k);
    drop(aa);
    let bb: Vec<f32> = fb.iter().map(|v| v * v).collect();
    let s_bb = blur(&bb, w, h, &k);
    drop(bb);
    let ab: Vec<f32> = fa.iter().zip(&fb).map(|(x, y)| x * y).collect();
    let s_ab = blur(&ab, w, h, &k);
    drop(ab);
    let mut total = 0f64;
    for i in 0..n {
        let (ma, mb) = (mu_a[i], mu_b[i]);
        let va = (s_aa[i] - ma * ma).max(0.0);
        let vb = (s_bb[i] - mb * mb).max(0.0);
        let cov = s_ab[i] - ma * mb;
        let num = (2.0 * ma * mb + C1) * (2.0 * cov + C2);
        let den = (ma * ma + mb * mb + C1) * (va + vb + C2);
        total += (num / den) as f64;
    }
    Some(total / n as f64)
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
/// the smaller width and height first.
pub fn ssim_any_size(a: GrayImage<'_>, b: GrayImage<'_>) -> Option<f64> {
    let w = a.width.min(b.width);
    let h = a.height.min(b.height);
    let ra = resize_gray(a, w, h)?;
    let rb = resize_gray(b, w, h)?;
    ssim(GrayImage::new(w, h, &ra)?, GrayImage::new(w, h, &rb)?)
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

//! Images → PDF on the dev corpus and on synthetic images: validity (qpdf),
//! page counts and sizes, JPEG pass-through, colours and orientation
//! (rendered with pdftoppm and compared with img2pdf's output or MuPDF's
//! own rendering of the image), output size against img2pdf, and errors.

mod support;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use folio_engine::images::{ImagesOptions, PageSize, images_to_pdf};
use folio_engine::{Ctx, Input, Output};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn dev_image(name: &str) -> PathBuf {
    support::corpus()
        .expect("corpus")
        .join("dev/images")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dev_image(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn convert_with(
    inputs: &[(&str, &[u8])],
    opts: &ImagesOptions,
    ctx: &Ctx,
) -> folio_engine::Result<Output> {
    let inputs: Vec<Input> = inputs.iter().map(|(n, b)| Input::new(n, b)).collect();
    images_to_pdf(&inputs, opts, ctx)
}

fn convert(name: &str, bytes: &[u8]) -> Output {
    convert_with(&[(name, bytes)], &ImagesOptions::default(), &Ctx::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn pdf_of(o: &Output) -> &[u8] {
    assert_eq!(o.files.len(), 1);
    assert_eq!(o.files[0].media_type, "application/pdf");
    &o.files[0].bytes
}

fn err_code(r: folio_engine::Result<Output>) -> (String, String) {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => (e.code().to_string(), e.to_string()),
    }
}

fn load(pdf: &[u8]) -> lopdf::Document {
    lopdf::Document::load_mem(pdf).expect("lopdf reads our output")
}

fn num(o: &lopdf::Object) -> f32 {
    o.as_float().expect("number")
}

/// Page (width, height) of every page, from the MediaBox.
fn page_sizes(pdf: &[u8]) -> Vec<(f32, f32)> {
    let doc = load(pdf);
    doc.get_pages()
        .values()
        .map(|id| {
            let page = doc.get_dictionary(*id).unwrap();
            let mb = page.get(b"MediaBox").unwrap().as_array().unwrap();
            (num(&mb[2]) - num(&mb[0]), num(&mb[3]) - num(&mb[1]))
        })
        .collect()
}

/// The image XObject dictionary drawn on each page (and its mask, if any).
fn page_images(pdf: &[u8]) -> Vec<(lopdf::Dictionary, Option<lopdf::Dictionary>)> {
    let doc = load(pdf);
    doc.get_pages()
        .values()
        .map(|id| {
            let page = doc.get_dictionary(*id).unwrap();
            let res = page.get(b"Resources").unwrap().as_dict().unwrap();
            let xo = res.get(b"XObject").unwrap().as_dict().unwrap();
            let r = xo.get(b"Im0").unwrap().as_reference().unwrap();
            let img = doc.get_object(r).unwrap().as_stream().unwrap().dict.clone();
            let mask = img.get(b"SMask").ok().map(|m| {
                let r = m.as_reference().unwrap();
                doc.get_object(r).unwrap().as_stream().unwrap().dict.clone()
            });
            (img, mask)
        })
        .collect()
}

fn name_of(d: &lopdf::Dictionary, key: &[u8]) -> String {
    match d.get(key) {
        Ok(lopdf::Object::Name(n)) => String::from_utf8_lossy(n).into_owned(),
        Ok(lopdf::Object::Array(a)) => a
            .iter()
            .map(|o| match o {
                lopdf::Object::Name(n) => String::from_utf8_lossy(n).into_owned(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Ok(other) => format!("{other:?}"),
        Err(_) => String::new(),
    }
}

fn int_of(d: &lopdf::Dictionary, key: &[u8]) -> i64 {
    d.get(key).unwrap().as_i64().unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let first = needle[0];
    hay.len() >= needle.len()
        && (0..=hay.len() - needle.len())
            .any(|i| hay[i] == first && &hay[i..i + needle.len()] == needle)
}

/// An RGB raster.
#[derive(Debug)]
struct Raster {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Raster {
    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * self.w + x);
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }
}

fn read_ppm(path: &Path) -> Raster {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // "P6\n<w> <h>\n255\n" (both pdftoppm and mutool write this form).
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b[i] == b'#' {
            while b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let s = i;
        while !b[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&b[s..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "{}", path.display());
    let w: usize = fields[1].parse().unwrap();
    let h: usize = fields[2].parse().unwrap();
    let px = b[i + 1..i + 1 + w * h * 3].to_vec();
    Raster { w, h, px }
}

/// Render page 1 of `pdf` with poppler at `dpi`.
fn render(pdf: &[u8], dpi: u32) -> Raster {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.pdf");
    std::fs::write(&f, pdf).unwrap();
    let out = dir.path().join("out");
    let st = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-singlefile", "-f", "1", "-l", "1"])
        .arg(&f)
        .arg(&out)
        .status()
        .expect("pdftoppm (poppler-utils) must be installed");
    assert!(st.success(), "pdftoppm failed");
    read_ppm(&dir.path().join("out.ppm"))
}

/// MuPDF's own rendering of an image file (an independent decoder).
fn render_image_with_mupdf(path: &Path, dpi: u32) -> Raster {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ppm");
    let st = Command::new("mutool")
        .args(["draw", "-q", "-c", "rgb", "-r", &dpi.to_string(), "-o"])
        .arg(&out)
        .arg(path)
        .output()
        .expect("mutool must be installed");
    assert!(st.status.success(), "mutool failed on {}", path.display());
    read_ppm(&out)
}

/// MuPDF's rendering of page 1 of `pdf`: compared with
/// [`render_image_with_mupdf`], the renderer is the same on both sides.
fn render_pdf_with_mupdf(pdf: &[u8], dpi: u32) -> Raster {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.pdf");
    std::fs::write(&f, pdf).unwrap();
    render_image_with_mupdf(&f, dpi)
}

/// img2pdf's output for `path`, or None when img2pdf refuses the image.
fn img2pdf(path: &Path) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pdf");
    let st = Command::new("img2pdf")
        .arg(path)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("img2pdf must be installed");
    if !st.status.success() {
        return None;
    }
    std::fs::read(&out).ok().filter(|b| !b.is_empty())
}

/// Mean absolute difference per channel (0..255); sizes must match.
fn mad(a: &Raster, b: &Raster) -> f64 {
    assert_eq!((a.w, a.h), (b.w, b.h), "rendered sizes differ");
    let sum: u64 =
        a.px.iter()
            .zip(&b.px)
            .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
            .sum();
    sum as f64 / a.px.len() as f64
}

fn pdf_page_count(pdf: &[u8]) -> u32 {
    support::qpdf_pages(pdf).expect("qpdf reads the page count")
}

// ---------------------------------------------------------------------------
// synthetic images
// ---------------------------------------------------------------------------

fn png_bytes(
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<&[u8]>,
    trns: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        if let Some(p) = palette {
            enc.set_palette(p.to_vec());
        }
        if let Some(t) = trns {
            enc.set_trns(t.to_vec());
        }
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(data).unwrap();
    }
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut c = kind.to_vec();
    c.extend_from_slice(data);
    out.extend_from_slice(&c);
    out.extend_from_slice(&libdeflater::crc32(&c).to_be_bytes());
}

/// An Adam7-interlaced 8-bit RGB PNG, written by hand (the png crate's
/// encoder does not interlace).
fn interlaced_rgb_png(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    const PASSES: [(usize, usize, usize, usize); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let (w, h) = (w as usize, h as usize);
    let mut raw = Vec::new();
    for (x0, y0, dx, dy) in PASSES {
        let mut y = y0;
        while y < h {
            if x0 < w {
                raw.push(0u8);
                let mut x = x0;
                while x < w {
                    raw.extend_from_slice(&rgb[3 * (y * w + x)..3 * (y * w + x) + 3]);
                    x += dx;
                }
            }
            y += dy;
        }
    }
    let mut z = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut zbuf = vec![0; z.zlib_compress_bound(raw.len())];
    let n = z.zlib_compress(&raw, &mut zbuf).unwrap();
    zbuf.truncate(n);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 1]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zbuf);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A smooth, asymmetric RGB test pattern.
fn pattern(w: u32, h: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for y in 0..h {
        for x in 0..w {
            v.push((x * 255 / w.max(1)) as u8);
            v.push((y * 255 / h.max(1)) as u8);
            v.push(if (x / 8 + y / 8) % 2 == 0 { 40 } else { 200 });
        }
    }
    v
}

/// Insert an EXIF APP1 segment with `orientation` right after the JPEG's
/// APP0 (or SOI).
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut seg = b"Exif\0\0".to_vec();
    seg.extend_from_slice(&tiff);
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((seg.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(&seg);
    let mut at = 2;
    if jpeg[2..4] == [0xFF, 0xE0] {
        at = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    }
    let mut out = jpeg[..at].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[at..]);
    out
}

// ---------------------------------------------------------------------------
// corpus
// ---------------------------------------------------------------------------

#[test]
fn every_dev_image_becomes_a_valid_pdf_with_the_right_page_count() {
    let images = support::dev_images();
    assert!(images.len() >= 15, "dev images missing from the manifest");
    for e in images {
        let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&e.path).unwrap();
        let out = convert(&name, &bytes);
        let pdf = pdf_of(&out);
        support::qpdf_check(pdf).unwrap_or_else(|m| panic!("{name}: qpdf --check: {m}"));
        let expected = e.pages.unwrap_or(1) as u32;
        assert_eq!(pdf_page_count(pdf), expected, "{name}");
        let r = &out.report;
        assert_eq!(r.inputs, 1, "{name}");
        assert_eq!(r.bytes_in, bytes.len() as u64, "{name}");
        assert_eq!(r.pages_out, expected, "{name}");
        assert_eq!(r.bytes_out, pdf.len() as u64, "{name}");
        assert!(!r.notes.is_empty(), "{name}: no notes");
        let details = r.details["images"].as_array().unwrap();
        assert_eq!(details.len(), expected as usize, "{name}");
    }
}

#[test]
fn jpegs_are_embedded_byte_for_byte() {
    for e in support::dev_images() {
        let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&e.path).unwrap();
        if !bytes.starts_with(&[0xFF, 0xD8]) {
            continue;
        }
        let out = convert(&name, &bytes);
        let pdf = pdf_of(&out);
        assert!(
            contains(pdf, &bytes),
            "{name}: JPEG bytes not found unchanged"
        );
        let (img, _) = &page_images(pdf)[0];
        assert_eq!(name_of(img, b"Filter"), "DCTDecode", "{name}");
        assert!(
            out.report
                .notes
                .iter()
                .any(|n| n.contains("passed through")),
            "{name}: {:?}",
            out.report.notes
        );
        // The stream is exactly the file: no re-encoding, no trailing bytes.
        assert_eq!(int_of(img, b"Length"), bytes.len() as i64, "{name}");
    }
}

#[test]
fn adobe_cmyk_jpegs_get_the_inverted_decode_array() {
    for name in ["ocrmypdf__baiona_cmyk.jpg", "pillow__pil_sample_cmyk.jpg"] {
        let out = convert(name, &read(name));
        let (img, _) = &page_images(pdf_of(&out))[0];
        assert_eq!(name_of(img, b"ColorSpace"), "DeviceCMYK", "{name}");
        let decode: Vec<f32> = img
            .get(b"Decode")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(num)
            .collect();
        assert_eq!(decode, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0], "{name}");
    }
    // An RGB JPEG gets no Decode array.
    let out = convert("rain.jpg", &read("deb__RainDrops.jpg"));
    let (img, _) = &page_images(pdf_of(&out))[0];
    assert!(img.get(b"Decode").is_err());
}

#[test]
fn exif_rotated_jpegs_get_upright_pages() {
    // Canon: stored 2048×1536 landscape, Orientation 6 → portrait page.
    let out = convert("canon.jpg", &read("exif__canon_hdr_NO.jpg"));
    let (w, h) = page_sizes(pdf_of(&out))[0];
    assert!(
        h > w,
        "orientation 6 must give a portrait page, got {w}×{h}"
    );
    assert!(
        (w - 614.4).abs() < 0.01 && (h - 819.2).abs() < 0.01,
        "{w}×{h} (180 dpi)"
    );
    // Stored 450×600 portrait, Orientation 8 → landscape page.
    let out = convert("l8.jpg", &read("exif__landscape_8.jpg"));
    let (w, h) = page_sizes(pdf_of(&out))[0];
    assert!(
        w > h,
        "orientation 8 must give a landscape page, got {w}×{h}"
    );
    assert_eq!(out.report.details["images"][0]["orientation"], 8);
}

/// All eight EXIF orientations on one asymmetric photo: each rendering must
/// equal the upright rendering turned the way EXIF says.
#[test]
fn all_eight_exif_orientations_are_drawn_correctly() {
    let jpeg = read("deb__FreshFlower.jpg");
    let base = render(pdf_of(&convert("o1.jpg", &with_orientation(&jpeg, 1))), 10);
    for o in 2..=8u16 {
        let bytes = with_orientation(&jpeg, o);
        let out = convert("o.jpg", &bytes);
        let pdf = pdf_of(&out);
        assert!(
            contains(pdf, &bytes),
            "orientation {o}: JPEG not embedded as is"
        );
        let got = render(pdf, 10);
        // Where displayed pixel (x, y) comes from in the stored image.
        let (bw, bh) = (base.w, base.h);
        let (ew, eh) = if o >= 5 { (bh, bw) } else { (bw, bh) };
        assert_eq!((got.w, got.h), (ew, eh), "orientation {o}: page shape");
        let mut expected = Vec::with_capacity(ew * eh * 3);
        for y in 0..eh {
            for x in 0..ew {
                let (sx, sy) = match o {
                    2 => (bw - 1 - x, y),
                    3 => (bw - 1 - x, bh - 1 - y),
                    4 => (x, bh - 1 - y),
                    5 => (y, x),
                    6 => (y, bh - 1 - x),
                    7 => (bw - 1 - y, bh - 1 - x),
                    8 => (bw - 1 - y, x),
                    _ => (x, y),
                };
                expected.extend_from_slice(&base.at(sx, sy));
            }
        }
        let expected = Raster {
            w: ew,
            h: eh,
            px: expected,
        };
        let d = mad(&got, &expected);
        assert!(d < 4.0, "orientation {o}: mean difference {d:.2}");
    }
}

/// Output size against img2pdf (≤ 1.01×, no absolute slack needed), and
/// rendering against img2pdf's output (or MuPDF's rendering of the image
/// when img2pdf refuses it) to catch wrong colours or orientation.
#[test]
fn matches_img2pdf_in_size_and_rendering() {
    let mut table = String::from(
        "\nimage                                              input      folio    img2pdf  ratio   diff\n",
    );
    let mut failures = Vec::new();
    for e in support::dev_images() {
        let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&e.path).unwrap();
        let out = convert(&name, &bytes);
        let ours = pdf_of(&out);
        let theirs = img2pdf(&e.path);
        let (ours_r, reference, limit) = match &theirs {
            Some(t) => (render(ours, 30), render(t, 30), 1.0),
            // img2pdf refused: MuPDF renders our PDF and decodes the image
            // itself (it resamples each a little differently).
            None => (
                render_pdf_with_mupdf(ours, 30),
                render_image_with_mupdf(&e.path, 30),
                2.0,
            ),
        };
        let d = mad(&ours_r, &reference);
        let (their_len, ratio) = match &theirs {
            Some(t) => (t.len().to_string(), ours.len() as f64 / t.len() as f64),
            None => ("refused".into(), ours.len() as f64 / bytes.len() as f64),
        };
        table.push_str(&format!(
            "{name:<48} {:>9} {:>10} {:>10} {ratio:>6.3} {d:>6.2}\n",
            bytes.len(),
            ours.len(),
            their_len
        ));
        match &theirs {
            Some(t) => {
                if ours.len() as f64 > 1.01 * t.len() as f64 {
                    failures.push(format!("{name}: {} > 1.01 × {}", ours.len(), t.len()));
                }
                // Same page geometry as img2pdf (it rotates with /Rotate, we
                // with the matrix, so compare the rendered shape).
            }
            // img2pdf refuses 16-bit and RGBA TIFFs; we must still not
            // inflate the input.
            None => {
                if ours.len() > bytes.len() {
                    failures.push(format!("{name}: {} > input {}", ours.len(), bytes.len()));
                }
            }
        }
        if d >= limit {
            failures.push(format!(
                "{name}: rendering differs by {d:.2} (limit {limit})"
            ));
        }
    }
    println!(
        "{table}(ratio = folio/img2pdf, or folio/input where img2pdf refused; diff = mean abs pixel difference at 30 dpi)"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// PNG variants
// ---------------------------------------------------------------------------

fn write_tmp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn png_passthrough_keeps_the_idat_data() {
    let bytes = read("skimage__astronaut.png");
    let out = convert("astronaut.png", &bytes);
    let pdf = pdf_of(&out);
    let (img, mask) = &page_images(pdf)[0];
    assert_eq!(name_of(img, b"Filter"), "FlateDecode");
    assert!(mask.is_none());
    assert!(name_of(img, b"ColorSpace").contains("ICCBased"), "ICC kept");
    // The first IDAT chunk's payload appears verbatim.
    let len = u32::from_be_bytes(bytes[33..37].try_into().unwrap()) as usize;
    let mut i = 8;
    let idat = loop {
        let l = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        if &bytes[i + 4..i + 8] == b"IDAT" {
            break &bytes[i + 8..i + 8 + l];
        }
        i += 12 + l;
    };
    let _ = len;
    assert!(contains(pdf, &idat[..idat.len().min(4096)]));
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("PNG passed through"))
    );
}

#[test]
fn palette_png_with_partial_transparency_gets_a_soft_mask_and_renders_like_img2pdf() {
    let (w, h) = (48u32, 40u32);
    let palette: Vec<u8> = (0..16u32)
        .flat_map(|i| [(i * 16) as u8, (255 - i * 16) as u8, (i * 37 % 255) as u8])
        .collect();
    let trns: Vec<u8> = (0..16u8).map(|i| i * 17).collect();
    let data: Vec<u8> = (0..w * h).map(|k| ((k % w) * 16 / w) as u8).collect();
    let bytes = png_bytes(
        w,
        h,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        &data,
        Some(&palette),
        Some(&trns),
    );
    let out = convert("pal.png", &bytes);
    let pdf = pdf_of(&out);
    support::qpdf_check(pdf).unwrap();
    let (img, mask) = &page_images(pdf)[0];
    assert!(
        name_of(img, b"ColorSpace").starts_with("Indexed"),
        "{img:?}"
    );
    let mask = mask.as_ref().expect("soft mask");
    assert_eq!(int_of(mask, b"BitsPerComponent"), 8);
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "pal.png", &bytes);
    let theirs = img2pdf(&p).expect("img2pdf converts palette+tRNS");
    let d = mad(&render(pdf, 72), &render(&theirs, 72));
    assert!(d < 1.0, "palette alpha renders differently: {d:.2}");
}

#[test]
fn palette_png_with_one_transparent_index_uses_a_colour_key() {
    let (w, h) = (16u32, 16u32);
    let palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255];
    let data: Vec<u8> = (0..w * h).map(|k| (k % 4) as u8).collect();
    let bytes = png_bytes(
        w,
        h,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        &data,
        Some(&palette),
        Some(&[255, 0]),
    );
    let out = convert("key.png", &bytes);
    let (img, mask) = &page_images(pdf_of(&out))[0];
    assert!(mask.is_none());
    let key: Vec<i64> = img
        .get(b"Mask")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_i64().unwrap())
        .collect();
    assert_eq!(key, [1, 1]);
}

#[test]
fn gray_png_with_trns_uses_a_colour_key_without_decoding() {
    let (w, h) = (16u32, 8u32);
    let data: Vec<u8> = (0..w * h).map(|k| (k * 2) as u8).collect();
    let bytes = png_bytes(
        w,
        h,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
        &data,
        None,
        Some(&[0, 10]),
    );
    let out = convert("g.png", &bytes);
    let (img, _) = &page_images(pdf_of(&out))[0];
    let key: Vec<i64> = img
        .get(b"Mask")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_i64().unwrap())
        .collect();
    assert_eq!(key, [10, 10]);
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("passed through"))
    );
}

#[test]
fn interlaced_png_is_decoded_and_renders_like_the_plain_one() {
    let (w, h) = (61u32, 37u32);
    let rgb = pattern(w, h);
    let plain = png_bytes(
        w,
        h,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        &rgb,
        None,
        None,
    );
    let inter = interlaced_rgb_png(w, h, &rgb);
    let a = convert("plain.png", &plain);
    let b = convert("inter.png", &inter);
    assert!(
        b.report.notes.iter().any(|n| n.contains("interlaced")),
        "{:?}",
        b.report.notes
    );
    support::qpdf_check(pdf_of(&b)).unwrap();
    let d = mad(&render(pdf_of(&a), 72), &render(pdf_of(&b), 72));
    assert!(d < 0.01, "interlaced decode differs: {d}");
}

#[test]
fn sixteen_bit_rgba_png_keeps_16_bits_and_its_alpha() {
    let (w, h) = (40u32, 30u32);
    let mut data = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let r = (x * 65535 / w) as u16;
            let g = (y * 65535 / h) as u16;
            let a = if x < w / 2 {
                65535u16
            } else {
                (y * 65535 / h) as u16
            };
            for v in [r, g, 30000, a] {
                data.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    let bytes = png_bytes(
        w,
        h,
        png::ColorType::Rgba,
        png::BitDepth::Sixteen,
        &data,
        None,
        None,
    );
    let out = convert("rgba16.png", &bytes);
    let pdf = pdf_of(&out);
    support::qpdf_check(pdf).unwrap();
    let (img, mask) = &page_images(pdf)[0];
    assert_eq!(int_of(img, b"BitsPerComponent"), 16);
    let mask = mask.as_ref().expect("alpha becomes a soft mask");
    assert_eq!(int_of(mask, b"BitsPerComponent"), 16);
    // MuPDF decodes the PNG itself: an independent reference.
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "rgba16.png", &bytes);
    let reference = render_image_with_mupdf(&p, 96);
    let ours = render_pdf_with_mupdf(pdf, 96);
    let d = mad(&ours, &reference);
    assert!(
        d < 3.0,
        "16-bit RGBA renders differently from MuPDF: {d:.2}"
    );
}

// ---------------------------------------------------------------------------
// TIFF variants
// ---------------------------------------------------------------------------

fn multipage_tiff() -> Vec<u8> {
    use tiff::encoder::{TiffEncoder, colortype};
    let mut buf = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut buf).unwrap();
        enc.write_image::<colortype::RGB8>(40, 30, &pattern(40, 30))
            .unwrap();
        let g16: Vec<u16> = (0..20 * 50).map(|k| (k * 65) as u16).collect();
        enc.write_image::<colortype::Gray16>(20, 50, &g16).unwrap();
        let mut rgba = Vec::new();
        for y in 0..16u32 {
            for x in 0..16u32 {
                rgba.extend_from_slice(&[
                    (x * 16) as u8,
                    (y * 16) as u8,
                    128,
                    if x < 8 { 255 } else { 60 },
                ]);
            }
        }
        enc.write_image::<colortype::RGBA8>(16, 16, &rgba).unwrap();
    }
    buf.into_inner()
}

#[test]
fn multipage_tiff_gives_one_page_per_frame() {
    let bytes = multipage_tiff();
    let out = convert("multi.tiff", &bytes);
    let pdf = pdf_of(&out);
    support::qpdf_check(pdf).unwrap();
    assert_eq!(pdf_page_count(pdf), 3);
    assert_eq!(out.report.pages_out, 3);
    // No resolution stated: 96 dpi, like img2pdf.
    let sizes = page_sizes(pdf);
    assert_eq!(sizes, vec![(30.0, 22.5), (15.0, 37.5), (12.0, 12.0)]);
    let imgs = page_images(pdf);
    assert_eq!(int_of(&imgs[1].0, b"BitsPerComponent"), 16);
    assert_eq!(name_of(&imgs[1].0, b"ColorSpace"), "DeviceGray");
    assert!(imgs[2].1.is_some(), "RGBA frame has a soft mask");
    let frames: Vec<_> = out.report.details["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(frames, [1, 2, 3]);
    // Each frame renders like MuPDF's rendering of the same frame.
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "multi.tiff", &bytes);
    let reference = render_image_with_mupdf(&p, 96);
    let d = mad(&render_pdf_with_mupdf(pdf, 96), &reference);
    assert!(d < 1.0, "first TIFF frame differs: {d:.2}");
}

#[test]
fn frame_count_is_checked_against_max_pages() {
    let mut ctx = Ctx::default();
    ctx.limits.max_pages = 2;
    let bytes = multipage_tiff();
    let (code, msg) = err_code(convert_with(
        &[("multi.tiff", &bytes)],
        &ImagesOptions::default(),
        &ctx,
    ));
    assert_eq!(code, "limit_exceeded");
    assert!(msg.contains("pages"), "{msg}");
}

#[test]
fn g4_tiff_is_passed_through_as_ccitt() {
    let bytes = read("pillow__pport_g4.tif");
    let out = convert("g4.tif", &bytes);
    let (img, _) = &page_images(pdf_of(&out))[0];
    assert_eq!(name_of(img, b"Filter"), "CCITTFaxDecode");
    assert_eq!(int_of(img, b"BitsPerComponent"), 1);
    let parms = img.get(b"DecodeParms").unwrap().as_dict().unwrap();
    assert_eq!(int_of(parms, b"K"), -1);
    assert_eq!(int_of(parms, b"Columns"), 2548);
    assert_eq!(int_of(parms, b"Rows"), 3296);
    // Photometric 0 (WhiteIsZero) → BlackIs1 false.
    assert!(!parms.get(b"BlackIs1").unwrap().as_bool().unwrap());
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("G4 passed through"))
    );
}

#[test]
fn cmyk_lzw_tiff_renders_like_mupdf() {
    use tiff::encoder::{Compression, TiffEncoder, colortype};
    let (w, h) = (48u32, 32u32);
    let mut cmyk = Vec::new();
    for y in 0..h {
        for x in 0..w {
            cmyk.extend_from_slice(&[
                (x * 5) as u8,
                (y * 7) as u8,
                if x > w / 2 { 200 } else { 0 },
                (x + y) as u8,
            ]);
        }
    }
    let mut buf = Cursor::new(Vec::new());
    TiffEncoder::new(&mut buf)
        .unwrap()
        .with_compression(Compression::Lzw)
        .write_image::<colortype::CMYK8>(w, h, &cmyk)
        .unwrap();
    let bytes = buf.into_inner();
    let out = convert("cmyk.tiff", &bytes);
    let pdf = pdf_of(&out);
    let (img, _) = &page_images(pdf)[0];
    assert_eq!(name_of(img, b"ColorSpace"), "DeviceCMYK");
    assert!(img.get(b"Decode").is_err(), "TIFF CMYK is not inverted");
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "cmyk.tiff", &bytes);
    let d = mad(
        &render_pdf_with_mupdf(pdf, 96),
        &render_image_with_mupdf(&p, 96),
    );
    assert!(d < 1.0, "CMYK TIFF differs: {d:.2}");
}

#[test]
fn tiff_orientation_tag_turns_the_page() {
    use tiff::encoder::{TiffEncoder, colortype};
    use tiff::tags::Tag;
    let (w, h) = (40u32, 24u32);
    let rgb = pattern(w, h);
    let tiff_with = |o: u16| {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut enc = TiffEncoder::new(&mut buf).unwrap();
            let mut img = enc.new_image::<colortype::RGB8>(w, h).unwrap();
            img.encoder().write_tag(Tag::Orientation, o).unwrap();
            img.write_data(&rgb).unwrap();
        }
        buf.into_inner()
    };
    let upright = render_pdf_with_mupdf(pdf_of(&convert("o1.tiff", &tiff_with(1))), 96);
    let out = convert("o6.tiff", &tiff_with(6));
    let pdf = pdf_of(&out);
    assert_eq!(
        page_sizes(pdf)[0],
        (18.0, 30.0),
        "orientation 6 swaps the page"
    );
    let got = render_pdf_with_mupdf(pdf, 96);
    assert_eq!((got.w, got.h), (upright.h, upright.w));
    // Rotated 90° clockwise: displayed (x, y) shows stored (y, h-1-x).
    let mut px = Vec::new();
    for y in 0..got.h {
        for x in 0..got.w {
            px.extend_from_slice(&upright.at(y, upright.h - 1 - x));
        }
    }
    let d = mad(
        &got,
        &Raster {
            w: got.w,
            h: got.h,
            px,
        },
    );
    assert!(d < 4.0, "orientation 6 drawn wrongly: {d:.2}");
}

#[test]
fn sixteen_bit_tiff_stays_16_bit() {
    let out = convert(
        "mc.tiff",
        &read("pillow__cmx3g8_wv_1998.260_0745_mcidas.tiff"),
    );
    let (img, _) = &page_images(pdf_of(&out))[0];
    assert_eq!(int_of(img, b"BitsPerComponent"), 16);
    assert_eq!(name_of(img, b"Filter"), "FlateDecode");
}

// ---------------------------------------------------------------------------
// placement and options
// ---------------------------------------------------------------------------

#[test]
fn a4_and_letter_fit_the_image_within_the_margins() {
    let bytes = read("exif__canon_hdr_NO.jpg");
    for (size, (pw, ph)) in [
        (PageSize::A4, (595.2756, 841.8898)),
        (PageSize::Letter, (612.0, 792.0)),
    ] {
        let opts = ImagesOptions {
            page_size: size,
            margin_pt: 36.0,
            dpi: None,
        };
        let out = convert_with(&[("c.jpg", &bytes)], &opts, &Ctx::default()).unwrap();
        let pdf = pdf_of(&out);
        let (w, h) = page_sizes(pdf)[0];
        assert!(
            (w - pw).abs() < 0.01 && (h - ph).abs() < 0.01,
            "{size:?}: {w}×{h}"
        );
        // Render and find the drawn area: it must lie within the margins,
        // be centred, and touch the margin on one axis (fit).
        let r = render(pdf, 36);
        let nonwhite = |x: usize, y: usize| r.at(x, y).iter().any(|&c| c < 245);
        let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
        for y in 0..r.h {
            for x in 0..r.w {
                if nonwhite(x, y) {
                    x0 = x0.min(x);
                    x1 = x1.max(x);
                    y0 = y0.min(y);
                    y1 = y1.max(y);
                }
            }
        }
        let margin_px = 36.0 * 36.0 / 72.0; // 18 px at 36 dpi
        assert!(
            x0 as f64 >= margin_px - 1.0 && y0 as f64 >= margin_px - 1.0,
            "{size:?}: ({x0},{y0})"
        );
        assert!(
            (r.w - 1 - x1) as f64 >= margin_px - 1.0 && (r.h - 1 - y1) as f64 >= margin_px - 1.0
        );
        // Portrait image (after EXIF rotation) on a portrait page: width-limited.
        assert!(
            (x0 as f64 - margin_px).abs() <= 2.0,
            "{size:?}: fitted width, x0={x0}"
        );
        let (top, bottom) = (y0 as i64, (r.h - 1 - y1) as i64);
        assert!(
            (top - bottom).abs() <= 2,
            "{size:?}: centred vertically ({top} vs {bottom})"
        );
    }
}

#[test]
fn auto_page_adds_the_margin_and_dpi_overrides_the_resolution() {
    let bytes = read("deb__RainDrops.jpg"); // 1920×1200 at 72 dpi
    let opts = ImagesOptions {
        page_size: PageSize::Auto,
        margin_pt: 10.0,
        dpi: Some(300.0),
    };
    let out = convert_with(&[("r.jpg", &bytes)], &opts, &Ctx::default()).unwrap();
    let (w, h) = page_sizes(pdf_of(&out))[0];
    assert!(
        (w - (460.8 + 20.0)).abs() < 0.01 && (h - (288.0 + 20.0)).abs() < 0.01,
        "{w}×{h}"
    );
}

#[test]
fn pages_stay_within_pdf_size_limits() {
    // 1920×1200 at 1 dpi would be 138240 pt wide: scaled to 14400 pt.
    let big = ImagesOptions {
        dpi: Some(1.0),
        ..Default::default()
    };
    let out = convert_with(
        &[("r.jpg", &read("deb__RainDrops.jpg"))],
        &big,
        &Ctx::default(),
    )
    .unwrap();
    let (w, h) = page_sizes(pdf_of(&out))[0];
    assert!(
        (w - 14_400.0).abs() < 0.5 && (h - 9_000.0).abs() < 0.5,
        "{w}×{h}"
    );
    // 32×32 at 100000 dpi would be 0.02 pt: scaled up to 3 pt.
    let tiny = ImagesOptions {
        dpi: Some(100_000.0),
        ..Default::default()
    };
    let out = convert_with(
        &[("t.png", &read("squeeze__basn0g16.png"))],
        &tiny,
        &Ctx::default(),
    )
    .unwrap();
    let (w, h) = page_sizes(pdf_of(&out))[0];
    assert!((w - 3.0).abs() < 0.01 && (h - 3.0).abs() < 0.01, "{w}×{h}");
}

#[test]
fn several_inputs_make_one_page_each_in_order() {
    let a = read("pillow__pil_sample_cmyk.jpg");
    let b = read("squeeze__basn2c16.png");
    let c = multipage_tiff();
    let out = convert_with(
        &[("a.jpg", &a), ("b.png", &b), ("c.tiff", &c)],
        &ImagesOptions::default(),
        &Ctx::default(),
    )
    .unwrap();
    let pdf = pdf_of(&out);
    support::qpdf_check(pdf).unwrap();
    assert_eq!(pdf_page_count(pdf), 5);
    assert_eq!(out.report.inputs, 3);
    assert_eq!(out.report.bytes_in, (a.len() + b.len() + c.len()) as u64);
    let names: Vec<_> = out.report.details["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a.jpg", "b.png", "c.tiff", "c.tiff", "c.tiff"]);
    assert_eq!(page_sizes(pdf)[0], (100.0, 100.0));
}

#[test]
fn bad_options_are_invalid_options() {
    let bytes = read("pillow__pil_sample_cmyk.jpg");
    for opts in [
        ImagesOptions {
            margin_pt: -1.0,
            ..Default::default()
        },
        ImagesOptions {
            margin_pt: f32::NAN,
            ..Default::default()
        },
        ImagesOptions {
            page_size: PageSize::A4,
            margin_pt: 400.0,
            dpi: None,
        },
        ImagesOptions {
            dpi: Some(0.0),
            ..Default::default()
        },
        ImagesOptions {
            dpi: Some(f32::INFINITY),
            ..Default::default()
        },
    ] {
        let (code, _) = err_code(convert_with(&[("a.jpg", &bytes)], &opts, &Ctx::default()));
        assert_eq!(code, "invalid_options", "{opts:?}");
    }
    let (code, _) = err_code(convert_with(
        &[],
        &ImagesOptions::default(),
        &Ctx::default(),
    ));
    assert_eq!(code, "invalid_options");
    assert!("A4".parse::<PageSize>().is_ok());
    assert_eq!(
        "tabloid".parse::<PageSize>().unwrap_err().code(),
        "invalid_options"
    );
}

// ---------------------------------------------------------------------------
// bad input and limits
// ---------------------------------------------------------------------------

#[test]
fn garbage_and_truncated_images_are_unsupported_image() {
    let jpeg = read("deb__RainDrops.jpg");
    let png = read("skimage__astronaut.png");
    let tif = read("exif__BSG1.tiff");
    let g4 = read("pillow__pport_g4.tif");
    let mut bad_crc = png.clone();
    let mid = bad_crc.len() / 2;
    bad_crc[mid] ^= 0xFF;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.jpg", vec![]),
        ("hello.png", b"hello world".to_vec()),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ("doc.pdf", b"%PDF-1.4\n%%EOF".to_vec()),
        ("head.jpg", jpeg[..300].to_vec()),
        ("half.jpg", jpeg[..jpeg.len() / 2].to_vec()),
        ("soi.jpg", vec![0xFF, 0xD8, 0xFF]),
        ("sig.png", png[..8].to_vec()),
        ("half.png", png[..png.len() / 2].to_vec()),
        ("flipped.png", bad_crc),
        ("half.tiff", tif[..tif.len() / 2].to_vec()),
        ("head.tiff", tif[..16].to_vec()),
        ("half_g4.tif", g4[..g4.len() / 2].to_vec()),
    ];
    for (name, bytes) in cases {
        let (code, msg) = err_code(convert_with(
            &[(name, &bytes)],
            &ImagesOptions::default(),
            &Ctx::default(),
        ));
        assert_eq!(code, "unsupported_image", "{name}: {msg}");
        assert!(
            msg.contains(name),
            "{name}: the error must name the input: {msg}"
        );
    }
    // One bad input fails the whole job, naming that input.
    let good = read("pillow__pil_sample_cmyk.jpg");
    let (code, msg) = err_code(convert_with(
        &[("good.jpg", &good), ("bad.png", b"nope")],
        &ImagesOptions::default(),
        &Ctx::default(),
    ));
    assert_eq!(code, "unsupported_image");
    assert!(msg.contains("bad.png"), "{msg}");
}

#[test]
fn pdfs_including_hostile_and_encrypted_ones_are_not_images() {
    let pdfs: Vec<_> = support::dev_pdfs()
        .into_iter()
        .filter(|e| {
            e.category == "hostile"
                || e.category.contains("encrypt")
                || e.notes.to_lowercase().contains("password")
        })
        .collect();
    assert!(
        !pdfs.is_empty(),
        "no hostile/encrypted PDFs in the manifest"
    );
    for e in pdfs {
        let bytes = std::fs::read(&e.path).unwrap();
        let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
        let (code, msg) = err_code(convert_with(
            &[(&name, &bytes)],
            &ImagesOptions::default(),
            &Ctx::default(),
        ));
        assert_eq!(code, "unsupported_image", "{name}: {msg}");
    }
}

#[test]
fn magic_bytes_decide_the_format_not_the_name() {
    let bytes = read("squeeze__basn2c16.png");
    let out = convert("really_a_png.jpg", &bytes);
    assert_eq!(out.report.details["images"][0]["format"], "PNG");
}

#[test]
fn pixel_limit_is_checked_before_decoding() {
    let mut ctx = Ctx::default();
    ctx.limits.max_image_pixels = 100_000;
    for name in [
        "deb__RainDrops.jpg",
        "skimage__astronaut.png",
        "exif__BSG1.tiff",
        "pillow__pport_g4.tif",
    ] {
        let bytes = read(name);
        let (code, msg) = err_code(convert_with(
            &[(name, &bytes)],
            &ImagesOptions::default(),
            &ctx,
        ));
        assert_eq!(code, "limit_exceeded", "{name}: {msg}");
        assert!(msg.contains("image_pixels"), "{name}: {msg}");
    }
    // A PNG header claiming 100000×100000 pixels with no data behind it.
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut huge, b"IHDR", &ihdr);
    let (code, _) = err_code(convert_with(
        &[("huge.png", &huge)],
        &ImagesOptions::default(),
        &Ctx::default(),
    ));
    assert_eq!(code, "limit_exceeded");
}

#[test]
fn input_count_and_size_limits_apply() {
    let bytes = read("pillow__pil_sample_cmyk.jpg");
    let mut ctx = Ctx::default();
    ctx.limits.max_inputs = 1;
    let (code, _) = err_code(convert_with(
        &[("a", &bytes), ("b", &bytes)],
        &ImagesOptions::default(),
        &ctx,
    ));
    assert_eq!(code, "limit_exceeded");
    let mut ctx = Ctx::default();
    ctx.limits.max_input_bytes = 1000;
    let (code, _) = err_code(convert_with(
        &[("a", &bytes)],
        &ImagesOptions::default(),
        &ctx,
    ));
    assert_eq!(code, "limit_exceeded");
}

#[test]
fn cancellation_stops_the_job() {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ctx = Ctx::default().with_cancel(flag);
    let bytes = read("pillow__pil_sample_cmyk.jpg");
    let (code, _) = err_code(convert_with(
        &[("a", &bytes)],
        &ImagesOptions::default(),
        &ctx,
    ));
    assert_eq!(code, "cancelled");
}

#[test]
fn progress_reaches_one() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let ctx = Ctx::default().with_progress(move |f| s2.lock().unwrap().push(f));
    let bytes = read("pillow__pil_sample_cmyk.jpg");
    convert_with(
        &[("a", &bytes), ("b", &bytes)],
        &ImagesOptions::default(),
        &ctx,
    )
    .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last().copied(), Some(1.0));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
}

/// Mutated headers can claim large sizes; keep the test's memory modest.
fn small() -> Ctx {
    let mut ctx = Ctx::default();
    ctx.limits.max_image_pixels = 4_000_000;
    ctx
}

/// Deterministic byte mutations of small corpus images: every result is a
/// valid PDF or a clean error, never a panic or an invalid file.
#[test]
fn mutated_images_never_panic() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in [
        "squeeze__basn0g16.png",
        "squeeze__basn2c16.png",
        "pillow__pil_sample_cmyk.jpg",
        "exif__landscape_8.jpg",
    ] {
        let orig = read(name);
        for _ in 0..60 {
            let mut b = orig.clone();
            let n = 1 + (rnd() % 8) as usize;
            for _ in 0..n {
                // Mostly hit the headers, where parsers branch.
                let span = if rnd() % 2 == 0 {
                    b.len().min(600)
                } else {
                    b.len()
                };
                let i = (rnd() as usize) % span;
                b[i] = rnd() as u8;
            }
            if rnd() % 4 == 0 {
                let cut = (rnd() as usize) % b.len();
                b.truncate(cut);
            }
            match convert_with(&[(name, &b)], &ImagesOptions::default(), &small()) {
                Ok(o) => support::qpdf_check(pdf_of(&o)).unwrap_or_else(|m| panic!("{name}: {m}")),
                Err(e) => assert!(
                    matches!(e.code(), "unsupported_image" | "limit_exceeded"),
                    "{name}: {e}"
                ),
            }
        }
    }
    // TIFF too (its decoder has internal assertions; they must not escape).
    let orig = multipage_tiff();
    for _ in 0..120 {
        let mut b = orig.clone();
        for _ in 0..1 + rnd() % 4 {
            let i = (rnd() as usize) % b.len();
            b[i] = rnd() as u8;
        }
        match convert_with(&[("m.tiff", &b)], &ImagesOptions::default(), &small()) {
            Ok(o) => support::qpdf_check(pdf_of(&o)).unwrap(),
            Err(e) => assert!(
                matches!(e.code(), "unsupported_image" | "limit_exceeded"),
                "{e}"
            ),
        }
    }
}

//! Rendering: pixels compared with pdftoppm, bounds checked before hayro
//! allocates, typed errors on every bad input.

mod support;

use std::process::Command;

use folio_engine::render::{RenderDoc, RenderOptions, render, render_gray};
use folio_engine::{Ctx, Error};
use lopdf::{Document, Object, Stream, dictionary};

/// The error of a result that must fail (without printing a large output).
trait MustFail {
    fn must_fail(self) -> folio_engine::Error;
}

impl<T> MustFail for folio_engine::Result<T> {
    fn must_fail(self) -> folio_engine::Error {
        match self {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }
}

fn read(name: &str) -> Vec<u8> {
    let c = support::corpus().expect("corpus");
    std::fs::read(c.join("dev/pdf").join(name)).expect("read corpus file")
}

fn opts(page: u32, dpi: f32) -> RenderOptions {
    RenderOptions {
        page,
        dpi,
        password: None,
    }
}

/// Decode our PNG output to (width, height, gray pixels).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let px = &buf[..info.buffer_size()];
    let gray = match info.color_type {
        png::ColorType::Rgb => px
            .chunks_exact(3)
            .map(|p| {
                ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114 + 500) / 1000) as u8
            })
            .collect(),
        png::ColorType::Grayscale => px.to_vec(),
        other => panic!("unexpected PNG color type {other:?}"),
    };
    (info.width, info.height, gray)
}

/// pdftoppm's gray rendering of one page at `dpi` (PGM, parsed here).
fn pdftoppm_gray(path: &std::path::Path, page: u32, dpi: u32) -> (u32, u32, Vec<u8>) {
    let out = Command::new("pdftoppm")
        .args(["-gray", "-r", &dpi.to_string()])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(path)
        .output()
        .expect("run pdftoppm");
    assert!(out.status.success(), "pdftoppm failed");
    parse_pgm(&out.stdout)
}

fn parse_pgm(b: &[u8]) -> (u32, u32, Vec<u8>) {
    // "P5\n<w> <h>\n255\n" then bytes.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !b[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&b[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let w: u32 = fields[1].parse().unwrap();
    let h: u32 = fields[2].parse().unwrap();
    let data = b[i + 1..].to_vec();
    assert_eq!(data.len(), (w * h) as usize);
    (w, h, data)
}

/// Mean absolute difference over the common area, after a 4×4 box average
/// (anti-aliasing and sub-pixel placement differ between rasterizers).
fn mean_abs_diff(a: &(u32, u32, Vec<u8>), b: &(u32, u32, Vec<u8>)) -> f64 {
    let w = a.0.min(b.0) as usize;
    let h = a.1.min(b.1) as usize;
    let (aw, bw) = (a.0 as usize, b.0 as usize);
    let block = 4;
    let mut total = 0.0;
    let mut n = 0usize;
    for by in (0..h.saturating_sub(block - 1)).step_by(block) {
        for bx in (0..w.saturating_sub(block - 1)).step_by(block) {
            let (mut sa, mut sb) = (0u32, 0u32);
            for y in by..by + block {
                for x in bx..bx + block {
                    sa += a.2[y * aw + x] as u32;
                    sb += b.2[y * bw + x] as u32;
                }
            }
            let d = (sa as f64 - sb as f64).abs() / (block * block) as f64;
            total += d;
            n += 1;
        }
    }
    total / n.max(1) as f64
}

#[test]
fn page_one_matches_pdftoppm() {
    let files = [
        "pdfjs__tracemonkey.pdf",
        "pdf20__Simple_PDF_2.0_file.pdf",
        "pdfcpu__VectorApple.pdf",
        "pdfcpu__mountain.pdf",
        "pysample__cmyk-image.pdf",
        "deb__reportlab-userguide.pdf",
        "pdfcpu__go.pdf",
        "pdfjs__issue9949.pdf",
        "deb__beamerexample-conference-talk.pdf",
    ];
    let c = support::corpus().unwrap();
    eprintln!("{:<44} {:>9} {:>9} {:>9}", "file", "size", "ours", "blank");
    for f in files {
        let path = c.join("dev/pdf").join(f);
        let bytes = std::fs::read(&path).unwrap();
        let out = render(&bytes, &opts(1, 50.0), &Ctx::default()).unwrap();
        assert_eq!(out.files[0].media_type, folio_engine::report::PNG);
        let ours = decode_png(&out.files[0].bytes);
        let reference = pdftoppm_gray(&path, 1, 50);
        // Same size up to rounding.
        assert!(
            ours.0.abs_diff(reference.0) <= 1 && ours.1.abs_diff(reference.1) <= 1,
            "{f}: ours {}x{}, pdftoppm {}x{}",
            ours.0,
            ours.1,
            reference.0,
            reference.1
        );
        let d = mean_abs_diff(&ours, &reference);
        // How far a blank page would be: the test must be able to fail.
        let white = (reference.0, reference.1, vec![255u8; reference.2.len()]);
        let blank = mean_abs_diff(&white, &reference);
        eprintln!(
            "{f:<44} {:>9} {d:>9.2} {blank:>9.2}",
            format!("{}x{}", ours.0, ours.1)
        );
        // Rasterizers differ in anti-aliasing, gradients and color
        // conversion; a wrong or missing drawing is far above these bounds.
        assert!(d < 20.0, "{f}: mean abs diff {d:.2} against pdftoppm");
        assert!(
            d < blank * 0.3 || blank < 2.0,
            "{f}: too close to blank ({blank:.2}) compared with pdftoppm ({d:.2})"
        );
    }
}

#[test]
fn wrong_page_is_far_from_pdftoppm() {
    // The comparison above can tell pages apart: our page 2 is far from
    // pdftoppm's page 1, our page 1 is close.
    let c = support::corpus().unwrap();
    let path = c.join("dev/pdf/pdfjs__tracemonkey.pdf");
    let bytes = std::fs::read(&path).unwrap();
    let reference = pdftoppm_gray(&path, 1, 50);
    let p1 = decode_png(
        &render(&bytes, &opts(1, 50.0), &Ctx::default())
            .unwrap()
            .files[0]
            .bytes,
    );
    let p2 = decode_png(
        &render(&bytes, &opts(2, 50.0), &Ctx::default())
            .unwrap()
            .files[0]
            .bytes,
    );
    let (d1, d2) = (
        mean_abs_diff(&p1, &reference),
        mean_abs_diff(&p2, &reference),
    );
    assert!(d1 * 2.0 < d2, "page 1 {d1:.2} vs page 2 {d2:.2}");
}

#[test]
fn output_size_follows_dpi_and_report() {
    let bytes = read("pdfjs__tracemonkey.pdf"); // US Letter, 612 x 792 pt
    for (dpi, w, h) in [(72.0, 612, 792), (36.0, 306, 396), (144.0, 1224, 1584)] {
        let out = render(&bytes, &opts(1, dpi), &Ctx::default()).unwrap();
        let (pw, ph, _) = decode_png(&out.files[0].bytes);
        assert_eq!((pw, ph), (w, h), "dpi {dpi}");
        assert_eq!(out.report.details["width"], w);
        assert_eq!(out.report.details["height"], h);
        assert_eq!(out.report.pages_in, 14);
        assert_eq!(out.files[0].name, "page-1.png");
    }
}

#[test]
fn rotated_pages_swap_width_and_height() {
    // Rotate page 1 by 90° with lopdf: the rendered image becomes landscape.
    let bytes = read("pdf20__Simple_PDF_2.0_file.pdf");
    let mut doc = Document::load_mem(&bytes).unwrap();
    let page_id = doc.get_pages()[&1];
    doc.get_dictionary_mut(page_id)
        .unwrap()
        .set("Rotate", Object::Integer(90));
    let mut rotated = Vec::new();
    doc.save_to(&mut rotated).unwrap();
    let a = decode_png(
        &render(&bytes, &opts(1, 36.0), &Ctx::default())
            .unwrap()
            .files[0]
            .bytes,
    );
    let b = decode_png(
        &render(&rotated, &opts(1, 36.0), &Ctx::default())
            .unwrap()
            .files[0]
            .bytes,
    );
    assert_eq!((a.0, a.1), (b.1, b.0));
}

#[test]
fn bad_options_are_invalid_options() {
    let bytes = read("pdf20__Simple_PDF_2.0_file.pdf");
    for dpi in [0.0, -5.0, f32::NAN, f32::INFINITY, 2400.5] {
        let e = render(&bytes, &opts(1, dpi), &Ctx::default()).must_fail();
        assert_eq!(e.code(), "invalid_options", "dpi {dpi}");
    }
    let e = render(&bytes, &opts(0, 72.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "invalid_options");
}

#[test]
fn page_out_of_range() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let e = render(&bytes, &opts(15, 50.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "page_out_of_range");
    assert!(matches!(
        e,
        Error::PageOutOfRange {
            page: 15,
            count: 14
        }
    ));
}

#[test]
fn pixmap_is_bounded_before_rendering() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let mut ctx = Ctx::default();
    ctx.limits.max_image_pixels = 100_000;
    // 612x792 at 72 dpi is 484 704 pixels.
    let e = render(&bytes, &opts(1, 72.0), &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
    assert!(e.to_string().contains("image_pixels"), "{e}");
    // A US Letter page at 2400 dpi is 20400 x 26400 = 538 M pixels: refused
    // by the default limit (200 M) without allocating anything.
    let e = render(&bytes, &opts(1, 2400.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
    // Within the pixel budget but wider than the rasterizer's 65 535 pixels:
    // a 200-inch-wide page at 400 dpi is 80 000 pixels wide.
    let content = Stream::new(dictionary! {}, b"0 0 1 rg 0 0 10 10 re f".to_vec());
    let wide = make_pdf_sized(content, None, (14400, 10));
    let mut ctx = Ctx::default();
    ctx.limits.max_image_pixels = u64::MAX;
    let e = render(&wide, &opts(1, 400.0), &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
    assert!(render(&wide, &opts(1, 72.0), &ctx).is_ok());
}

#[test]
fn images_are_bounded_before_decoding() {
    // mountain.pdf is one large photo on one page: at 10 dpi the pixmap is
    // tiny, but the 1268 x 720 image itself is over a 0.5 MP limit.
    let bytes = read("pdfcpu__mountain.pdf");
    let mut ctx = Ctx::default();
    ctx.limits.max_image_pixels = 500_000;
    let e = render(&bytes, &opts(1, 10.0), &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
    assert!(e.to_string().contains("image_pixels"), "{e}");
}

/// A one-page 200 x 200 pt PDF drawing `content`, with `xobject` as /Im0.
fn make_pdf(content: Stream, xobject: Option<Stream>) -> Vec<u8> {
    make_pdf_sized(content, xobject, (200, 200))
}

fn make_pdf_sized(content: Stream, xobject: Option<Stream>, (w, h): (i64, i64)) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let content_id = doc.add_object(content);
    let mut resources = dictionary! {};
    if let Some(x) = xobject {
        let xid = doc.add_object(x);
        resources.set("XObject", dictionary! { "Im0" => xid });
    }
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), w.into(), h.into()],
        "Contents" => content_id,
        "Resources" => resources,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn flate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn content_stream_bomb_is_a_limit_error() {
    // 8 MB of spaces inflate from a few KB; the limit is 1 MB.
    let mut content = b"0 0 1 rg 10 10 50 50 re f\n".to_vec();
    content.resize(8 * 1024 * 1024, b' ');
    let stream = Stream::new(dictionary! { "Filter" => "FlateDecode" }, flate(&content));
    let pdf = make_pdf(stream, None);
    let mut ctx = Ctx::default();
    ctx.limits.max_stream_bytes = 1024 * 1024;
    let e = render(&pdf, &opts(1, 36.0), &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded", "{e}");
    let t = folio_engine::text::text(&pdf, &Default::default(), &ctx).must_fail();
    assert_eq!(t.code(), "limit_exceeded", "{t}");
    // Within the default limits the same file renders.
    assert!(render(&pdf, &opts(1, 36.0), &Ctx::default()).is_ok());
}

#[test]
fn huge_declared_image_is_refused_not_allocated() {
    // 100 000 x 100 000 gray image: 10 G pixels. hayro would try to allocate
    // it and abort; the preflight refuses it first.
    let img = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image",
            "Width" => 100_000, "Height" => 100_000,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            "Filter" => "FlateDecode",
        },
        flate(&[0u8; 1000]),
    );
    let content = Stream::new(dictionary! {}, b"q 100 0 0 100 50 50 cm /Im0 Do Q".to_vec());
    let pdf = make_pdf(content, Some(img));
    let e = render(&pdf, &opts(1, 36.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
    assert!(e.to_string().contains("image_pixels"), "{e}");
    // Text extraction never decodes images: it succeeds.
    assert!(folio_engine::text::text(&pdf, &Default::default(), &Ctx::default()).is_ok());
}

#[test]
fn jpeg_header_larger_than_its_dictionary_is_refused() {
    // The dictionary says 10 x 10; the JPEG's own header says 60000 x 60000,
    // which is what a decoder would allocate.
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0xEA, 0x60, 0xEA, 0x60, 0x01, 0x01, 0x11, 0x00,
        0xFF, 0xD9,
    ];
    let img = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image",
            "Width" => 10, "Height" => 10,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            "Filter" => "DCTDecode",
        },
        jpeg.to_vec(),
    );
    let content = Stream::new(dictionary! {}, b"q 100 0 0 100 50 50 cm /Im0 Do Q".to_vec());
    let pdf = make_pdf(content, Some(img));
    let e = render(&pdf, &opts(1, 36.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "limit_exceeded", "{e}");
}

#[test]
fn encrypted_file_needs_its_password() {
    let bytes = read("pysample__libreoffice-writer-password.pdf");
    let e = render(&bytes, &opts(1, 36.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "encrypted");
    let mut o = opts(1, 36.0);
    o.password = Some("wrong".into());
    assert_eq!(
        render(&bytes, &o, &Ctx::default()).must_fail().code(),
        "wrong_password"
    );
    o.password = Some("openpassword".into());
    let out = render(&bytes, &o, &Ctx::default()).unwrap();
    let (_, _, px) = decode_png(&out.files[0].bytes);
    assert!(
        px.iter().any(|&p| p < 128),
        "the decrypted page shows something"
    );
}

#[test]
fn not_a_pdf_is_invalid_pdf() {
    let e = render(b"GIF89a", &opts(1, 72.0), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "invalid_pdf");
}

#[test]
fn cancelled_before_rendering() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let e = render(&bytes, &opts(1, 50.0), &Ctx::default().with_cancel(flag)).must_fail();
    assert_eq!(e.code(), "cancelled");
}

#[test]
fn many_pages_of_one_document_share_a_renderer() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let ctx = Ctx::default();
    let doc = RenderDoc::open(&bytes, None, &ctx).unwrap();
    assert_eq!(doc.page_count(), 14);
    let mut r = doc.renderer(&ctx);
    let pages: Vec<_> = (1..=3)
        .map(|p| r.render_gray(p, 30.0, &ctx).unwrap())
        .collect();
    for g in &pages {
        assert_eq!(g.pixels.len(), (g.width * g.height) as usize);
        assert!(g.pixels.iter().any(|&p| p < 100), "text is drawn");
    }
    assert_ne!(pages[0].pixels, pages[1].pixels);
    // The one-shot helper draws the same pixels.
    let again = render_gray(&bytes, None, 2, 30.0, &ctx).unwrap();
    assert_eq!(again, pages[1]);
    // Gray PNG round-trips.
    let (w, h, px) = decode_png(&again.to_png().unwrap());
    assert_eq!((w, h), (again.width, again.height));
    assert_eq!(px, again.pixels);
    assert_eq!(
        r.render_gray(15, 30.0, &ctx).must_fail().code(),
        "page_out_of_range"
    );
}

#[test]
fn every_dev_pdf_renders_or_fails_with_a_code() {
    for e in support::dev_pdfs() {
        let bytes = std::fs::read(&e.path).unwrap();
        match render(&bytes, &opts(1, 50.0), &Ctx::default()) {
            Ok(out) => {
                let (w, h, _) = decode_png(&out.files[0].bytes);
                assert!(w > 0 && h > 0);
            }
            Err(err) => {
                eprintln!("{}: {}: {err}", e.path.display(), err.code());
                assert!(
                    (e.category == "hostile" || e.category == "encrypted")
                        && [
                            "invalid_pdf",
                            "encrypted",
                            "limit_exceeded",
                            "unsupported_feature"
                        ]
                        .contains(&err.code()),
                    "{} failed: {err}",
                    e.path.display()
                );
            }
        }
    }
}

#[test]
fn render_doc_can_be_shared_between_threads() {
    // Compression's quality gate may render pages in parallel: one
    // PageRenderer per thread over one shared RenderDoc.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RenderDoc>();
    let bytes = read("pdfjs__tracemonkey.pdf");
    let ctx = Ctx::default();
    let doc = RenderDoc::open(&bytes, None, &ctx).unwrap();
    let sizes: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=2)
            .map(|p| {
                let (doc, ctx) = (&doc, &ctx);
                s.spawn(move || {
                    doc.renderer(ctx)
                        .render_gray(p, 20.0, ctx)
                        .unwrap()
                        .pixels
                        .len()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(sizes, vec![170 * 220, 170 * 220]);
}

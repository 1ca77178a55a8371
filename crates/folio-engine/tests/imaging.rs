//! Lossy image building blocks on real files: placement (effective ppi),
//! decoding against poppler's `pdfimages`, and whole-document recompression
//! checked by qpdf and by SSIM of page renders.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use folio_engine::imaging::decode::{ColorModel, Decoded, DecodedImage, decode_image};
use folio_engine::imaging::placement::placements;
use folio_engine::imaging::ssim::{GrayImage, ssim_any_size};
use folio_engine::imaging::{
    Action, ImagePolicy, recompress_images, recompress_images_alongside, recompress_images_with,
};
use folio_engine::{Ctx, document};
use lopdf::{Document, Object, ObjectId, Stream, dictionary};

fn pdf_path(name: &str) -> PathBuf {
    support::corpus()
        .expect("corpus")
        .join("dev/pdf")
        .join(name)
}

fn load(name: &str) -> Document {
    let bytes = std::fs::read(pdf_path(name)).expect("read corpus file");
    document::open(&bytes, None, &Ctx::default())
        .expect("open")
        .doc
}

/// `pdfimages -list`: object number → smallest (x-ppi, y-ppi) over its uses.
fn pdfimages_ppi(path: &Path) -> HashMap<u32, (f64, f64)> {
    let out = Command::new("pdfimages")
        .arg("-list")
        .arg(path)
        .output()
        .expect("pdfimages (poppler-utils) is installed");
    let mut m: HashMap<u32, (f64, f64)> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 || f[2] != "image" {
            continue;
        }
        let (Ok(obj), Ok(x), Ok(y)) = (f[10].parse(), f[12].parse(), f[13].parse()) else {
            continue;
        };
        let e = m.entry(obj).or_insert((f64::MAX, f64::MAX));
        e.0 = e.0.min(x);
        e.1 = e.1.min(y);
    }
    m
}

#[test]
fn placement_matches_pdfimages_on_corpus_files() {
    for name in [
        "ocrmypdf__multipage.pdf",
        "pdfcpu__BuildingWebappsWithGo.pdf",
        "pdfcpu__mountain.pdf",
        "pysample__cmyk-image.pdf",
    ] {
        let doc = load(name);
        let p = placements(&doc, &Ctx::default()).unwrap();
        assert!(p.complete, "{name}: walk incomplete");
        let expected = pdfimages_ppi(&pdf_path(name));
        assert!(!expected.is_empty(), "{name}: pdfimages listed nothing");
        for (obj, (ex, ey)) in expected {
            let (id, pl) = p
                .map
                .iter()
                .find(|(id, _)| id.0 == obj)
                .unwrap_or_else(|| panic!("{name}: object {obj} has no placement"));
            // pdfimages rounds to whole ppi.
            assert!(
                (pl.min_ppi_x - ex).abs() <= 1.0 && (pl.min_ppi_y - ey).abs() <= 1.0,
                "{name} {id:?}: ours {:.1}×{:.1}, pdfimages {ex}×{ey}",
                pl.min_ppi_x,
                pl.min_ppi_y
            );
        }
    }
}

#[test]
fn poster_ppi_from_page_and_pixels() {
    // img2pdf made one 2550×3300 JPEG fill a 1800×2329 unit area of a page
    // with /UserUnit 10: 250 × 323.5 inches, so about 10.2 ppi. (pdfimages
    // ignores UserUnit and says 102.)
    let doc = load("ocrmypdf__poster.pdf");
    let p = placements(&doc, &Ctx::default()).unwrap();
    assert!(p.complete);
    assert_eq!(p.map.len(), 1);
    let pl = p.map.values().next().unwrap();
    assert!((pl.max_points_w - 18000.0).abs() < 0.5, "{pl:?}");
    assert!((pl.min_ppi_x - 10.2).abs() < 0.01, "{pl:?}");
    assert!((pl.min_ppi_y - 10.2).abs() < 0.01, "{pl:?}");
    assert_eq!(pl.uses, 1);
}

/// A 100×50 gray image, a form that draws it at 50×25 and at 2× inside a
/// `/Matrix [2 0 0 2 0 0]`, the form drawn twice by the page (once scaled
/// by 3), the image also drawn directly at 10×10, and through a tiling
/// pattern; plus a form that draws itself (a loop).
fn synthetic_doc() -> (Document, ObjectId) {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let img = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 100, "Height" => 50,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
        },
        (0..100 * 50).map(|i| (i % 251) as u8).collect(),
    );
    let img_id = doc.add_object(img);
    let loop_id = doc.new_object_id();
    let loop_form = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "L" => loop_id, "Im" => img_id } },
        },
        b"q 1 0 0 1 0 0 cm /L Do Q q 5 0 0 5 0 0 cm /Im Do Q".to_vec(),
    );
    doc.objects.insert(loop_id, Object::Stream(loop_form));
    let form = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 500.into(), 500.into()],
            "Matrix" => vec![2.into(), 0.into(), 0.into(), 2.into(), 0.into(), 0.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im" => img_id, "L" => loop_id } },
        },
        b"q 50 0 0 25 0 0 cm /Im Do Q q 80 0 0 30 10 10 cm /Im Do Q /L Do".to_vec(),
    );
    let form_id = doc.add_object(form);
    let pattern = Stream::new(
        dictionary! {
            "Type" => "Pattern", "PatternType" => 1, "PaintType" => 1, "TilingType" => 1,
            "BBox" => vec![0.into(), 0.into(), 20.into(), 20.into()], "XStep" => 20, "YStep" => 20,
            "Matrix" => vec![4.into(), 0.into(), 0.into(), 4.into(), 0.into(), 0.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im" => img_id } },
        },
        b"q 20 0 0 20 0 0 cm /Im Do Q".to_vec(),
    );
    let pattern_id = doc.add_object(pattern);
    let content = b"q 3 0 0 3 0 0 cm /F Do Q /F Do q 10 0 0 10 0 0 cm /Im Do Q \
        q 0.5 0 0 0.5 0 0 cm /Pattern cs /P scn 0 0 100 100 re f Q"
        .to_vec();
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Contents" => content_id,
        "Resources" => dictionary! {
            "XObject" => dictionary! { "F" => form_id, "Im" => img_id },
            "Pattern" => dictionary! { "P" => pattern_id },
        },
    });
    support::close_one_page(&mut doc, pages_id, page_id);
    (doc, img_id)
}

#[test]
fn synthetic_form_pattern_and_loop() {
    let (doc, img_id) = synthetic_doc();
    let p = placements(&doc, &Ctx::default()).unwrap();
    let pl = p.get(img_id).expect("image placed");
    // Largest: inside the form (×2) drawn at ×3: 80·2·3 = 480 wide, 30·2·3 = 180 high.
    assert!((pl.max_points_w - 480.0).abs() < 1e-6, "{pl:?}");
    assert!((pl.max_points_h - 180.0).abs() < 1e-6, "{pl:?}");
    assert!((pl.min_ppi_x - 100.0 / (480.0 / 72.0)).abs() < 1e-6);
    assert!((pl.min_ppi_y - 50.0 / (180.0 / 72.0)).abs() < 1e-6);
    // 2 per form draw (+1 via the loop form) × 2, 1 direct, 1 via the pattern.
    assert_eq!(pl.uses, 2 * 3 + 1 + 1, "{pl:?}");
    assert!(p.complete);
}

#[test]
fn depth_limit_marks_images_uncertain() {
    let (doc, img_id) = synthetic_doc();
    let limits = folio_engine::Limits {
        max_depth: 1,
        ..Default::default()
    };
    let p = placements(&doc, &Ctx::new(limits)).unwrap();
    assert!(p.complete);
    assert!(
        p.uncertain.contains(&img_id),
        "forms inside forms exceed depth 1"
    );
    // The direct draw is still seen, but not trusted for resampling.
    assert!(p.get(img_id).is_some());
    assert!(p.trusted(img_id).is_none());
    let p = placements(&doc, &Ctx::default()).unwrap();
    assert!(p.trusted(img_id).is_some());
}

fn decoded(doc: &Document, obj: u32) -> DecodedImage {
    let s = doc.get_object((obj, 0)).unwrap().as_stream().unwrap();
    match decode_image(doc, s, &Ctx::default(), 1).unwrap() {
        Decoded::Image(i) => i,
        Decoded::Keep(r) => panic!("object {obj} kept: {r}"),
    }
}

/// Decode a PNG written by pdfimages.
fn read_png(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), buf)
}

/// Extract image `index` of `pdf` with `pdfimages -png`.
fn pdfimages_png(pdf: &Path, page: u32, dir: &Path) -> Vec<PathBuf> {
    let prefix = dir.join(format!("p{page}"));
    let st = Command::new("pdfimages")
        .args(["-png", "-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(st.success());
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("p{page}-"))
        })
        .collect();
    v.sort();
    v
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
        .sum::<u64>() as f64
        / a.len() as f64
}

#[test]
fn decode_matches_pdfimages() {
    let dir = tempfile::tempdir().unwrap();
    // mountain: a 1268×720 Flate RGB photo; exact.
    let path = pdf_path("pdfcpu__mountain.pdf");
    let doc = load("pdfcpu__mountain.pdf");
    let img = decoded(&doc, 3);
    let png = &pdfimages_png(&path, 1, dir.path())[0];
    let (w, h, ch, data) = read_png(png);
    assert_eq!((img.pixels.width, img.pixels.height, 3), (w, h, ch));
    assert_eq!(img.pixels.model, ColorModel::Rgb);
    assert!(img.pixels.data == data, "Flate RGB samples differ");

    // multipage: ICC JPEG (p1), Flate RGB (p3), Flate+DCT (p4), Flate gray
    // (p5), Flate RGB with an SMask (p6).
    let path = pdf_path("ocrmypdf__multipage.pdf");
    let doc = load("ocrmypdf__multipage.pdf");
    for (page, obj, exact) in [
        (1, 35, false),
        (3, 62, true),
        (4, 54, false),
        (5, 42, true),
        (6, 43, true),
    ] {
        let img = decoded(&doc, obj);
        let pngs = pdfimages_png(&path, page, dir.path());
        let (w, h, ch, data) = read_png(&pngs[0]);
        assert_eq!(
            (
                img.pixels.width,
                img.pixels.height,
                img.pixels.model.channels()
            ),
            (w, h, ch),
            "page {page}"
        );
        if exact {
            assert!(img.pixels.data == data, "page {page}: samples differ");
        } else {
            // Different IDCTs (libjpeg vs zune-jpeg) differ by a level or two.
            let d = mean_abs_diff(&img.pixels.data, &data);
            assert!(d < 2.0, "page {page}: mean difference {d}");
        }
        if page == 6 {
            // The soft mask decodes as gray, same size.
            let s = doc.get_object((obj, 0)).unwrap().as_stream().unwrap();
            let m = s.dict.get(b"SMask").unwrap().as_reference().unwrap();
            let mask = decoded(&doc, m.0);
            let (mw, mh, mch, mdata) = read_png(&pngs[1]);
            assert_eq!((mask.pixels.width, mask.pixels.height, 1), (mw, mh, mch));
            assert!(mask.pixels.data == mdata, "soft mask differs");
        }
    }
    // ICC colour space is kept as the same reference.
    let s = doc.get_object((35, 0)).unwrap().as_stream().unwrap();
    assert_eq!(
        &decoded(&doc, 35).color_space,
        s.dict.get(b"ColorSpace").unwrap()
    );
}

#[test]
fn decode_jpx_matches_pdfimages() {
    // A 1500×1125 JPEG 2000 RGB photo (poppler decodes it with openjpeg).
    let dir = tempfile::tempdir().unwrap();
    let path = pdf_path("pdfjs__issue5567.pdf");
    let doc = load("pdfjs__issue5567.pdf");
    let img = decoded(&doc, 11);
    assert_eq!(img.source, folio_engine::imaging::decode::SourceCodec::Jpx);
    let pngs = pdfimages_png(&path, 1, dir.path());
    let (w, h, ch, data) = read_png(&pngs[0]);
    assert_eq!(
        (
            img.pixels.width,
            img.pixels.height,
            img.pixels.model.channels()
        ),
        (w, h, ch)
    );
    let d = mean_abs_diff(&img.pixels.data, &data);
    assert!(d < 2.0, "mean difference {d}");
}

#[test]
fn decode_indexed_cmyk() {
    // 756×1008 Indexed over DeviceCMYK: expands to 4 channels, every pixel
    // one of the palette's entries, base colour space written back.
    let doc = load("pysample__cmyk-image.pdf");
    let img = decoded(&doc, 5);
    assert!(img.was_indexed);
    assert_eq!(img.pixels.model, ColorModel::Cmyk);
    assert_eq!(img.color_space, Object::Name(b"DeviceCMYK".to_vec()));
    assert_eq!(img.pixels.data.len(), 756 * 1008 * 4);
    let s = doc.get_object((5, 0)).unwrap().as_stream().unwrap();
    let cs = s.dict.get(b"ColorSpace").unwrap().as_array().unwrap();
    let pal = match doc.dereference(&cs[3]).unwrap().1 {
        Object::String(b, _) => b.clone(),
        Object::Stream(s) => s.decompressed_content().unwrap(),
        o => panic!("{o:?}"),
    };
    let entries: std::collections::HashSet<&[u8]> = pal.chunks_exact(4).collect();
    assert!(img.pixels.data.chunks_exact(4).all(|p| entries.contains(p)));
    let distinct: std::collections::HashSet<&[u8]> = img.pixels.data.chunks_exact(4).collect();
    assert!(
        distinct.len() > 16,
        "a real picture uses many palette entries"
    );
}

/// Read a binary PGM (P5) as written by `pdftoppm -gray`.
fn read_pgm(path: &Path) -> (u32, u32, Vec<u8>) {
    let b = std::fs::read(path).unwrap();
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
        let start = i;
        while !b[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&b[start..i]).to_string());
    }
    assert_eq!(fields[0], "P5");
    let w: u32 = fields[1].parse().unwrap();
    let h: u32 = fields[2].parse().unwrap();
    let data = b[i + 1..i + 1 + (w * h) as usize].to_vec();
    (w, h, data)
}

/// Render every page at 50 dpi in gray; returns the PGM files in page order.
fn render_gray(pdf: &[u8], dir: &Path, tag: &str) -> Vec<PathBuf> {
    let f = dir.join(format!("{tag}.pdf"));
    std::fs::write(&f, pdf).unwrap();
    let st = Command::new("pdftoppm")
        .args(["-r", "50", "-gray"])
        .arg(&f)
        .arg(dir.join(tag))
        .status()
        .unwrap();
    assert!(st.success());
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with(&format!("{tag}-")) && n.ends_with(".pgm")
        })
        .collect();
    v.sort();
    v
}

fn min_page_ssim(before: &[u8], after: &[u8]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let a = render_gray(before, dir.path(), "before");
    let b = render_gray(after, dir.path(), "after");
    assert_eq!(a.len(), b.len(), "page count differs");
    let mut min = 1.0f64;
    for (pa, pb) in a.iter().zip(&b) {
        let (wa, ha, da) = read_pgm(pa);
        let (wb, hb, db) = read_pgm(pb);
        let s = ssim_any_size(
            GrayImage::new(wa, ha, &da).unwrap(),
            GrayImage::new(wb, hb, &db).unwrap(),
        )
        .unwrap();
        min = min.min(s);
    }
    min
}

fn recompress_file(
    name: &str,
    policy: &ImagePolicy,
) -> (usize, usize, f64, Vec<folio_engine::imaging::ImageAction>) {
    let original = std::fs::read(pdf_path(name)).unwrap();
    let mut doc = document::open(&original, None, &Ctx::default())
        .unwrap()
        .doc;
    let actions = recompress_images(&mut doc, policy, &Ctx::default()).unwrap();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    support::qpdf_check(&out).unwrap_or_else(|e| panic!("{name}: qpdf --check failed: {e}"));
    // issue7229's first page object sits at a wrong xref offset and lopdf
    // drops it on load (qpdf reconstructs it): compare with lopdf's plain
    // round trip there, so the figure measures what imaging changed.
    let reference = if name == "pdfjs__issue7229.pdf" {
        let mut plain = document::open(&original, None, &Ctx::default())
            .unwrap()
            .doc;
        let mut v = Vec::new();
        plain.save_to(&mut v).unwrap();
        v
    } else {
        original.clone()
    };
    let s = min_page_ssim(&reference, &out);
    (original.len(), out.len(), s, actions)
}

#[test]
fn recompress_image_heavy_files() {
    for (name, max_ratio) in [
        ("pdfcpu__mountain.pdf", 0.25),
        ("ocrmypdf__poster.pdf", 1.0),
        ("pdfcpu__BuildingWebappsWithGo.pdf", 0.8),
        ("pdfjs__issue7229.pdf", 0.8),
        ("pysample__cmyk-image.pdf", 1.0),
        ("ocrmypdf__multipage.pdf", 0.9),
        ("pdfjs__issue5567.pdf", 0.3),
    ] {
        for (level, policy) in [
            ("balanced", ImagePolicy::balanced()),
            ("strong", ImagePolicy::strong()),
        ] {
            let (before, after, s, actions) = recompress_file(name, &policy);
            println!(
                "{name} {level}: {before} -> {after} bytes ({:.1}%), min page SSIM {s:.4}",
                100.0 * after as f64 / before as f64
            );
            for a in &actions {
                println!(
                    "    {:?} {}x{} -> {}x{} {} -> {} ppi {:?} -> {:?} {:?}",
                    a.id,
                    a.width,
                    a.height,
                    a.new_width,
                    a.new_height,
                    a.before_bytes,
                    a.after_bytes,
                    a.ppi_before.map(|v| v.round()),
                    a.ppi_after.map(|v| v.round()),
                    a.action
                );
            }
            assert!(s >= 0.9, "{name} {level}: SSIM {s}");
            assert!(after <= before, "{name} {level}: grew");
            if level == "balanced" {
                assert!(
                    (after as f64) <= before as f64 * max_ratio,
                    "{name}: {after} of {before} is above {max_ratio}"
                );
            }
        }
    }
}

#[test]
fn recompress_honours_placement_and_threshold() {
    // Synthetic doc: the 100×50 image is drawn at most 480×180 pt (15×20
    // ppi): far below any target, so it is never downsampled.
    let (mut doc, img_id) = synthetic_doc();
    let mut policy = ImagePolicy::balanced();
    policy.min_bytes = 0;
    let actions = recompress_images(&mut doc, &policy, &Ctx::default()).unwrap();
    let a = actions.iter().find(|a| a.id == img_id).unwrap();
    assert_eq!((a.new_width, a.new_height), (100, 50), "{a:?}");
    // With a 9 ppi target both axes (15 and 20 ppi) exceed 1.5×9:
    // 100·9/15 = 60 and 50·9/20 = 22.5 → 23.
    let (mut doc, img_id) = synthetic_doc();
    policy.target_ppi = 9.0;
    let actions = recompress_images(&mut doc, &policy, &Ctx::default()).unwrap();
    let a = actions.iter().find(|a| a.id == img_id).unwrap();
    assert!(
        matches!(a.action, Action::DownsampledFlate | Action::DownsampledJpeg),
        "{a:?}"
    );
    assert_eq!((a.new_width, a.new_height), (60, 23), "{a:?}");
    let s = doc.get_object(img_id).unwrap().as_stream().unwrap();
    assert_eq!(s.dict.get(b"Width").unwrap().as_i64().unwrap(), 60);
}

#[test]
fn work_alongside_the_image_pass_sees_the_images_before_they_are_stored() {
    // A 9 ppi target downsamples the synthetic image to 60 × 23.
    let mut policy = ImagePolicy::balanced();
    policy.min_bytes = 0;
    policy.target_ppi = 9.0;
    let (mut doc, img_id) = synthetic_doc();
    let original = doc
        .get_object(img_id)
        .unwrap()
        .as_stream()
        .unwrap()
        .content
        .clone();
    let (pass, seen) = recompress_images_alongside(
        &mut doc,
        &policy,
        &HashMap::new(),
        &Ctx::default(),
        |d: &Document| {
            d.get_object(img_id)
                .unwrap()
                .as_stream()
                .unwrap()
                .content
                .clone()
        },
    )
    .unwrap();
    assert_eq!(seen, original, "the closure ran on the document as it was");
    assert!(pass.rewritten.contains(&img_id));
    let stored = doc.get_object(img_id).unwrap().as_stream().unwrap();
    assert_eq!(stored.dict.get(b"Width").unwrap().as_i64().unwrap(), 60);
    assert_ne!(stored.content, original);
    // The same pass as without a closure.
    let (mut plain, _) = synthetic_doc();
    let alone =
        recompress_images_with(&mut plain, &policy, &HashMap::new(), &Ctx::default()).unwrap();
    assert_eq!(alone.rewritten, pass.rewritten);
    assert_eq!(
        plain
            .get_object(img_id)
            .unwrap()
            .as_stream()
            .unwrap()
            .content,
        stored.content
    );
}

#[test]
fn duplicate_images_are_merged() {
    let (mut doc, img_id) = synthetic_doc();
    // A byte-identical copy referenced from the page under another name.
    let copy = doc.get_object(img_id).unwrap().clone();
    let copy_id = doc.add_object(copy);
    let page = doc.get_pages()[&1];
    let res = doc
        .get_dictionary_mut(page)
        .unwrap()
        .get_mut(b"Resources")
        .unwrap();
    res.as_dict_mut()
        .unwrap()
        .get_mut(b"XObject")
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Copy", copy_id);
    let actions = recompress_images(&mut doc, &ImagePolicy::balanced(), &Ctx::default()).unwrap();
    assert!(
        actions
            .iter()
            .any(|a| a.id == copy_id && a.action == Action::Deduplicated { into: img_id })
    );
    assert!(doc.get_object(copy_id).is_err(), "duplicate removed");
    let res = doc
        .get_dictionary(page)
        .unwrap()
        .get(b"Resources")
        .unwrap()
        .as_dict()
        .unwrap();
    let xo = res.get(b"XObject").unwrap().as_dict().unwrap();
    assert_eq!(xo.get(b"Copy").unwrap().as_reference().unwrap(), img_id);
}

#[test]
fn huge_claimed_image_is_kept_without_decoding() {
    let (mut doc, _) = synthetic_doc();
    let big = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 60_000, "Height" => 60_000,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "FlateDecode",
        },
        vec![0x78; 4096],
    ));
    let actions = recompress_images(&mut doc, &ImagePolicy::balanced(), &Ctx::default()).unwrap();
    let a = actions.iter().find(|a| a.id == big).unwrap();
    match &a.action {
        Action::Kept { reason } => assert!(reason.contains("pixel limit"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cancelled_run_reports_cancelled() {
    let (mut doc, _) = synthetic_doc();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ctx = Ctx::default().with_cancel(flag);
    let e = recompress_images(&mut doc, &ImagePolicy::balanced(), &ctx).unwrap_err();
    assert_eq!(e.code(), "cancelled");
    let (mut doc, _) = synthetic_doc();
    let ctx = Ctx::new(folio_engine::Limits {
        wall_time: std::time::Duration::ZERO,
        ..Default::default()
    });
    std::thread::sleep(std::time::Duration::from_millis(2));
    let e = recompress_images(&mut doc, &ImagePolicy::balanced(), &ctx).unwrap_err();
    assert_eq!(e.code(), "limit_exceeded");
}

#[test]
fn hostile_and_encrypted_files_do_not_panic() {
    let (mut processed, mut encrypted) = (0, 0);
    for e in support::dev_pdfs()
        .into_iter()
        .filter(|e| e.category == "hostile")
    {
        let bytes = std::fs::read(&e.path).unwrap();
        let pw = e.notes.contains("password").then_some("openpassword");
        let Ok(opened) = document::open(&bytes, pw, &Ctx::default()) else {
            continue;
        };
        if pw.is_some() {
            assert!(opened.was_encrypted);
            encrypted += 1;
        }
        let mut doc = opened.doc;
        let actions = recompress_images(&mut doc, &ImagePolicy::strong(), &Ctx::default())
            .unwrap_or_else(|err| panic!("{}: {err}", e.path.display()));
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        println!("{}: {} image action(s)", e.path.display(), actions.len());
        processed += 1;
    }
    assert!(processed >= 5, "only {processed} hostile files opened");
    assert_eq!(encrypted, 1, "the password-protected file was processed");
}

/// A page with one 200×200 CMYK image: four ink patches plus noise, so it
/// counts as photographic and is re-encoded as a CMYK JPEG.
fn cmyk_doc() -> Document {
    let mut s = 99u32;
    let mut data = Vec::with_capacity(200 * 200 * 4);
    for y in 0..200u32 {
        for x in 0..200u32 {
            let patch: [u8; 4] = match (x < 100, y < 100) {
                (true, true) => [200, 20, 20, 0],
                (false, true) => [20, 200, 20, 0],
                (true, false) => [20, 20, 200, 0],
                (false, false) => [0, 0, 0, 120],
            };
            for v in patch {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                data.push((v as i32 + (s % 21) as i32 - 10).clamp(0, 255) as u8);
            }
        }
    }
    let mut img = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 200, "Height" => 200,
            "ColorSpace" => "DeviceCMYK", "BitsPerComponent" => 8,
        },
        data,
    );
    img.compress().unwrap();
    support::one_image_page(img, 200)
}

/// Mean RGB of each quadrant of page 1 rendered by pdftoppm at 36 dpi.
fn quadrant_colours(pdf: &[u8]) -> Vec<[f64; 3]> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.pdf");
    std::fs::write(&f, pdf).unwrap();
    let st = Command::new("pdftoppm")
        .args(["-r", "36", "-singlefile"])
        .arg(&f)
        .arg(dir.path().join("c"))
        .status()
        .unwrap();
    assert!(st.success());
    let b = std::fs::read(dir.path().join("c.ppm")).unwrap();
    let parts: Vec<&[u8]> = b.splitn(5, |c| c.is_ascii_whitespace()).collect();
    let w: usize = std::str::from_utf8(parts[1]).unwrap().parse().unwrap();
    let h: usize = std::str::from_utf8(parts[2]).unwrap().parse().unwrap();
    let px = &parts[4][..w * h * 3];
    let mut out = Vec::new();
    // Page y grows downwards in the render: top row = image rows y ≥ 100.
    for (qx, qy) in [(0, 1), (1, 1), (0, 0), (1, 0)] {
        let mut sum = [0f64; 3];
        let mut n = 0f64;
        for y in (qy * h / 2 + 2)..((qy + 1) * h / 2 - 2) {
            for x in (qx * w / 2 + 2)..((qx + 1) * w / 2 - 2) {
                for c in 0..3 {
                    sum[c] += px[(y * w + x) * 3 + c] as f64;
                }
                n += 1.0;
            }
        }
        out.push(sum.map(|v| v / n));
    }
    out
}

#[test]
fn cmyk_jpeg_keeps_colours() {
    let mut doc = cmyk_doc();
    let mut before = Vec::new();
    doc.save_to(&mut before).unwrap();
    let actions = recompress_images(&mut doc, &ImagePolicy::balanced(), &Ctx::default()).unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].action, Action::Jpeg, "{:?}", actions[0]);
    let img = doc.get_object(actions[0].id).unwrap().as_stream().unwrap();
    assert_eq!(
        img.dict.get(b"Filter").unwrap().as_name().unwrap(),
        b"DCTDecode"
    );
    assert!(
        img.dict.get(b"Decode").is_err(),
        "samples are true ink values"
    );
    let mut after = Vec::new();
    doc.save_to(&mut after).unwrap();
    support::qpdf_check(&after).unwrap();
    let (a, b) = (quadrant_colours(&before), quadrant_colours(&after));
    for (qa, qb) in a.iter().zip(&b) {
        for c in 0..3 {
            assert!((qa[c] - qb[c]).abs() < 8.0, "before {a:?}\nafter {b:?}");
        }
    }
    // The four patches really differ (an inverted image would not match).
    assert!((a[0][0] - a[1][0]).abs() > 50.0, "{a:?}");
}

#[test]
fn content_syntax_error_makes_its_images_uncertain() {
    let (mut doc, img_id) = synthetic_doc();
    // Page 1 draws the image, then hits a syntax error: what follows could
    // draw it larger in a lenient viewer.
    let page = doc.get_pages()[&1];
    let content = doc
        .get_dictionary(page)
        .unwrap()
        .get(b"Contents")
        .unwrap()
        .as_reference()
        .unwrap();
    doc.objects.insert(
        content,
        Object::Stream(Stream::new(
            dictionary! {},
            b"q 10 0 0 10 0 0 cm /Im Do Q [ 1 2 ( unterminated".to_vec(),
        )),
    );
    let p = placements(&doc, &Ctx::default()).unwrap();
    assert!(p.complete);
    assert!(p.get(img_id).is_some(), "the draw before the error counts");
    assert!(p.uncertain.contains(&img_id));
    let mut policy = ImagePolicy::balanced();
    policy.min_bytes = 0;
    policy.target_ppi = 1.0;
    let actions = recompress_images(&mut doc, &policy, &Ctx::default()).unwrap();
    let a = actions.iter().find(|a| a.id == img_id).unwrap();
    assert_eq!(
        (a.new_width, a.new_height),
        (100, 50),
        "not resampled: {a:?}"
    );
}

/// A 200×200 RGB noise image with a radial soft mask, drawn at 100×100 pt
/// (144 ppi). With `share`, a second image uses the same mask; with
/// `matte`, the mask has a /Matte entry.
fn smask_doc(share: bool, matte: bool) -> (Document, ObjectId, ObjectId) {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut s = 5u32;
    let mut rgb = Vec::new();
    let mut alpha = Vec::new();
    for y in 0..200i32 {
        for x in 0..200i32 {
            for c in 0..3 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                rgb.push(((x + y * c) % 200 + (s % 50) as i32) as u8);
            }
            let d = ((x - 100).pow(2) + (y - 100).pow(2)) as f64;
            alpha.push((255.0 * (1.0 - (d.sqrt() / 100.0).min(1.0))) as u8);
        }
    }
    let mut mask_dict = dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 200,
    "Height" => 200, "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 };
    if matte {
        mask_dict.set("Matte", vec![0.into(), 0.into(), 0.into()]);
    }
    let mut mask = Stream::new(mask_dict, alpha);
    mask.compress().unwrap();
    let mask_id = doc.add_object(mask);
    let mut img = Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 200, "Height" => 200,
        "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "SMask" => mask_id },
        rgb.clone(),
    );
    img.compress().unwrap();
    let img_id = doc.add_object(img);
    let mut xobjects = dictionary! { "Im" => img_id };
    let mut content = b"q 100 0 0 100 50 50 cm /Im Do Q".to_vec();
    if share {
        rgb.reverse();
        let mut img2 = Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 200, "Height" => 200,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "SMask" => mask_id },
            rgb,
        );
        img2.compress().unwrap();
        xobjects.set("Im2", doc.add_object(img2));
        content.extend_from_slice(b" q 50 0 0 50 0 0 cm /Im2 Do Q");
    }
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 200.into(), 200.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => xobjects },
    });
    support::close_one_page(&mut doc, pages_id, page_id);
    (doc, img_id, mask_id)
}

#[test]
fn soft_mask_is_resampled_with_its_image() {
    let (mut doc, img_id, mask_id) = smask_doc(false, true);
    let mut before = Vec::new();
    doc.save_to(&mut before).unwrap();

    // Drawn at 100 pt: 144 ppi. A 50 ppi target gives 200·50/144 ≈ 69 px.
    let policy = ImagePolicy {
        target_ppi: 50.0,
        ..ImagePolicy::balanced()
    };
    let actions = recompress_images(&mut doc, &policy, &Ctx::default()).unwrap();
    assert_eq!(
        actions.len(),
        1,
        "the mask is handled with its image: {actions:?}"
    );
    let a = &actions[0];
    assert_eq!((a.new_width, a.new_height), (69, 69), "{a:?}");
    let img = doc.get_object(img_id).unwrap().as_stream().unwrap();
    assert_eq!(
        img.dict.get(b"SMask").unwrap().as_reference().unwrap(),
        mask_id
    );
    let m = doc.get_object(mask_id).unwrap().as_stream().unwrap();
    assert_eq!(m.dict.get(b"Width").unwrap().as_i64().unwrap(), 69);
    assert_eq!(m.dict.get(b"Height").unwrap().as_i64().unwrap(), 69);
    assert_eq!(
        m.dict.get(b"Filter").unwrap().as_name().unwrap(),
        b"FlateDecode"
    );
    match decode_image(&doc, m, &Ctx::default(), 1).unwrap() {
        Decoded::Image(i) => {
            // Centre opaque, corners transparent, as before.
            let px = &i.pixels.data;
            assert!(px[34 * 69 + 34] > 230, "{}", px[34 * 69 + 34]);
            assert!(px[0] < 10, "{}", px[0]);
        }
        Decoded::Keep(r) => panic!("{r}"),
    }
    let mut after = Vec::new();
    doc.save_to(&mut after).unwrap();
    support::qpdf_check(&after).unwrap();
    let s = min_page_ssim(&before, &after);
    assert!(s > 0.9, "SSIM {s}");
}

/// Ghostscript's pdfwrite at a PDFSETTINGS preset; `None` if gs fails.
fn ghostscript(pdf: &Path, preset: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gs.pdf");
    let st = Command::new("gs")
        .args([
            "-sDEVICE=pdfwrite",
            &format!("-dPDFSETTINGS=/{preset}"),
            "-dNOPAUSE",
            "-dBATCH",
            "-dQUIET",
        ])
        .arg(format!("-sOutputFile={}", out.display()))
        .arg(pdf)
        .output()
        .ok()?;
    if !st.status.success() {
        return None;
    }
    std::fs::read(&out).ok()
}

/// The whole `compress` pipeline at the lossy levels on image-heavy files:
/// valid, renders close to the original, and no larger than Ghostscript's
/// /ebook (balanced) and /screen (strong) presets at equal quality: where
/// Ghostscript's pages stay above the level's floor, Folio is not larger;
/// where they fall under it (/screen on issue7229: 191 KB at page SSIM
/// 0.65), Folio holds the floor instead of matching the size.
#[test]
fn compress_levels_against_ghostscript() {
    use folio_engine::compress::{CompressOptions, Level, compress};
    for name in [
        "pdfcpu__mountain.pdf",
        "pdfcpu__BuildingWebappsWithGo.pdf",
        "pdfjs__issue7229.pdf",
        "pdfjs__issue5567.pdf",
        "pdfjs__issue19971.pdf",
    ] {
        let path = pdf_path(name);
        let original = std::fs::read(&path).unwrap();
        for (level, preset) in [(Level::Balanced, "ebook"), (Level::Strong, "screen")] {
            let out = compress(
                &original,
                &CompressOptions {
                    level,
                    ..Default::default()
                },
                &Ctx::default(),
            )
            .unwrap();
            let pdf = &out.files[0].bytes;
            support::qpdf_check(pdf).unwrap();
            let s = min_page_ssim(&original, pdf);
            let gs = ghostscript(&path, preset);
            let gs_ssim = gs.as_ref().map(|g| min_page_ssim(&original, g));
            println!(
                "{name} {level:?}: {} -> {} (gs /{preset}: {:?} at SSIM {gs_ssim:?}), min page SSIM {s:.4}",
                original.len(),
                pdf.len(),
                gs.as_ref().map(Vec::len),
            );
            assert!(s >= 0.9, "{name} {level:?}: SSIM {s}");
            let floor = folio_engine::compress::default_min_ssim(level);
            if let (Some(g), Some(gq)) = (gs, gs_ssim)
                && gq >= floor
            {
                let g = g.len();
                assert!(
                    pdf.len() <= g + g / 20,
                    "{name} {level:?}: {} vs gs {g} (gs SSIM {gq:.4})",
                    pdf.len()
                );
            }
        }
    }
}

#[test]
fn shared_matte_mask_pins_image_size() {
    // Two images share one soft mask with /Matte: the mask cannot follow
    // both, and /Matte needs equal sizes, so neither image is resampled.
    let (mut doc, img_id, mask_id) = smask_doc(true, true);
    let policy = ImagePolicy {
        target_ppi: 50.0,
        ..ImagePolicy::balanced()
    };
    let actions = recompress_images(&mut doc, &policy, &Ctx::default()).unwrap();
    assert_eq!(actions.len(), 2, "{actions:?}");
    for a in &actions {
        assert_eq!((a.new_width, a.new_height), (200, 200), "{a:?}");
    }
    let m = doc.get_object(mask_id).unwrap().as_stream().unwrap();
    assert_eq!(m.dict.get(b"Width").unwrap().as_i64().unwrap(), 200);
    let img = doc.get_object(img_id).unwrap().as_stream().unwrap();
    assert_eq!(img.dict.get(b"Width").unwrap().as_i64().unwrap(), 200);
    // Without /Matte, a shared mask stays and the images may shrink.
    let (mut doc, img_id, _) = smask_doc(true, false);
    let actions = recompress_images(&mut doc, &policy, &Ctx::default()).unwrap();
    let a = actions.iter().find(|a| a.id == img_id).unwrap();
    assert_eq!((a.new_width, a.new_height), (69, 69), "{a:?}");
}

/// Images reached only through an annotation appearance (mapped onto its
/// /Rect) and through a soft-mask group set by `gs` are placed too.
#[test]
fn annotation_appearance_and_soft_mask_group_placements() {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mk_img = |doc: &mut Document, w: i64| {
        doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => 100,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
            vec![128; (w * 100) as usize],
        ))
    };
    let annot_img = mk_img(&mut doc, 100);
    let mask_img = mk_img(&mut doc, 50);
    // Appearance: BBox 10×10, image fills it; the Rect is 200×100.
    let ap = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form",
        "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "A" => annot_img } } },
        b"q 10 0 0 10 0 0 cm /A Do Q".to_vec(),
    ));
    let annot = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Stamp",
        "Rect" => vec![100.into(), 100.into(), 300.into(), 200.into()],
        "AP" => dictionary! { "N" => ap },
    });
    // Soft-mask group drawing the other image at 36×36 (in the CTM of `gs`).
    let group = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form",
        "BBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
        "Group" => dictionary! { "S" => "Transparency", "CS" => "DeviceGray" },
        "Resources" => dictionary! { "XObject" => dictionary! { "M" => mask_img } } },
        b"q 36 0 0 36 0 0 cm /M Do Q".to_vec(),
    ));
    let content = doc.add_object(Stream::new(
        dictionary! {},
        b"q 2 0 0 2 0 0 cm /G gs 0 0 10 10 re f Q".to_vec(),
    ));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Contents" => content, "Annots" => vec![annot.into()],
        "Resources" => dictionary! { "ExtGState" => dictionary! {
            "G" => dictionary! { "SMask" => dictionary! { "S" => "Luminosity", "G" => group } } } },
    });
    support::close_one_page(&mut doc, pages_id, page);

    let p = placements(&doc, &Ctx::default()).unwrap();
    let a = p.get(annot_img).expect("annotation image placed");
    assert!(
        (a.max_points_w - 200.0).abs() < 1e-6 && (a.max_points_h - 100.0).abs() < 1e-6,
        "{a:?}"
    );
    let m = p.get(mask_img).expect("soft-mask image placed");
    // 36 pt inside a ×2 CTM.
    assert!((m.max_points_w - 72.0).abs() < 1e-6, "{m:?}");
    assert!((m.min_ppi_x - 50.0).abs() < 1e-6, "{m:?}");
}

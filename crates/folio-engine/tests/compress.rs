//! `compress` on the dev corpus: validity, page counts, never larger,
//! rendering unchanged, and a size comparison with qpdf.

mod support;

use std::path::Path;
use std::process::Command;

use folio_engine::compress::{self, CompressOptions, Level};
use folio_engine::{Ctx, Output};

fn lossless() -> CompressOptions {
    CompressOptions {
        level: Level::Lossless,
        ..Default::default()
    }
}

fn run(bytes: &[u8], opts: &CompressOptions) -> folio_engine::Result<Output> {
    compress::compress(bytes, opts, &Ctx::default())
}

fn dev(name: &str) -> Vec<u8> {
    let c = support::corpus().expect("corpus");
    std::fs::read(c.join("dev/pdf").join(name)).expect("read corpus file")
}

/// Every non-hostile dev PDF: the output checks with qpdf, keeps its page
/// count, is never larger than the input, and the report adds up.
#[test]
fn every_dev_pdf_compresses_losslessly() {
    let mut total_in = 0u64;
    let mut total_out = 0u64;
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let bytes = std::fs::read(&e.path).expect("read");
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let out = run(&bytes, &lossless()).unwrap_or_else(|err| panic!("{name}: {err}"));
        let r = &out.report;
        let pdf = &out.files[0].bytes;
        assert!(pdf.len() <= bytes.len(), "{name}: output larger than input");
        assert_eq!(r.bytes_in, bytes.len() as u64);
        assert_eq!(r.bytes_out, pdf.len() as u64);
        assert_eq!(r.kept_original, pdf == &bytes, "{name}: kept_original flag");
        if let Err(msg) = support::qpdf_check(pdf) {
            panic!("{name}: qpdf --check failed:\n{msg}");
        }
        let pages = support::qpdf_pages(pdf).unwrap_or_else(|| panic!("{name}: no page count"));
        assert_eq!(pages, r.pages_in, "{name}: page count");
        for key in [
            "streams_recompressed",
            "objects_deduplicated",
            "objects_removed",
            "bytes_saved",
        ] {
            assert!(r.details.contains_key(key), "{name}: detail {key} missing");
        }
        assert_eq!(
            r.details["bytes_saved"].as_u64(),
            Some(r.bytes_in - r.bytes_out),
            "{name}"
        );
        eprintln!(
            "{name:50} {:>9} -> {:>9} ({:5.1}%){}",
            bytes.len(),
            pdf.len(),
            100.0 * r.ratio(),
            if r.kept_original { " kept" } else { "" }
        );
        total_in += bytes.len() as u64;
        total_out += pdf.len() as u64;
    }
    eprintln!("TOTAL {total_in} -> {total_out}");
    assert!(
        total_out < total_in * 95 / 100,
        "lossless saved under 5% overall"
    );
}

/// Hostile files: a result or a typed error, never a panic; a result is
/// still a valid PDF no larger than the input.
#[test]
fn hostile_files_fail_cleanly_or_compress() {
    for e in support::dev_pdfs() {
        if e.category != "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).expect("read");
        let res = std::panic::catch_unwind(|| run(&bytes, &lossless()));
        match res {
            Err(_) => panic!("{name}: panicked"),
            Ok(Ok(out)) => {
                let pdf = &out.files[0].bytes;
                assert!(pdf.len() <= bytes.len(), "{name}: larger");
                // qpdf flags some hostile inputs themselves (a JBIG2 content
                // stream...): the output must check clean when the input does.
                if out.report.kept_original {
                    assert_eq!(pdf, &bytes, "{name}");
                } else {
                    if support::qpdf_check(&bytes).is_ok() {
                        support::qpdf_check(pdf).unwrap_or_else(|m| panic!("{name}: {m}"));
                    }
                    // The output holds the pages Folio found (qpdf may see
                    // a different number in the damaged input).
                    assert_eq!(
                        support::qpdf_pages(pdf),
                        Some(out.report.pages_in),
                        "{name}"
                    );
                }
                eprintln!(
                    "{name}: ok {} -> {} {:?}",
                    bytes.len(),
                    pdf.len(),
                    out.report.notes
                );
            }
            Ok(Err(err)) => {
                assert!(
                    [
                        "invalid_pdf",
                        "encrypted",
                        "limit_exceeded",
                        "unsupported_feature"
                    ]
                    .contains(&err.code()),
                    "{name}: unexpected error {err}"
                );
                eprintln!("{name}: {} ({err})", err.code());
            }
        }
    }
}

#[test]
fn encrypted_input_needs_its_password_and_is_written_decrypted() {
    let bytes = dev("pysample__libreoffice-writer-password.pdf");
    let e = run(&bytes, &lossless()).expect_err("needs a password");
    assert_eq!(e.code(), "encrypted");
    let wrong = CompressOptions {
        password: Some("nope".into()),
        ..lossless()
    };
    assert_eq!(run(&bytes, &wrong).err().unwrap().code(), "wrong_password");
    let right = CompressOptions {
        password: Some("openpassword".into()),
        ..lossless()
    };
    let out = run(&bytes, &right).unwrap();
    let pdf = &out.files[0].bytes;
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("without encryption")),
        "{:?}",
        out.report.notes
    );
    if !out.report.kept_original {
        // Opens without any password now.
        let again = folio_engine::document::open(pdf, None, &Ctx::default()).unwrap();
        assert!(!again.was_encrypted);
        support::qpdf_check(pdf).unwrap();
    }
}

#[test]
fn signed_files_are_noted() {
    let out = run(&dev("qpdf__minimal-signed-restricted.pdf"), &lossless()).unwrap();
    assert!(
        out.report.notes.iter().any(|n| n.contains("signatures")),
        "{:?}",
        out.report.notes
    );
}

#[test]
fn owner_password_files_are_noted() {
    let out = run(&dev("pdfjs__secHandler.pdf"), &lossless()).unwrap();
    assert!(out.report.notes.iter().any(|n| n.contains("encrypt")));
    let again = folio_engine::document::open(&out.files[0].bytes, None, &Ctx::default()).unwrap();
    assert!(!again.was_encrypted);
}

/// A second pass over Folio's own output finds nothing to gain: the input
/// comes back unchanged and flagged.
#[test]
fn already_optimal_input_is_kept() {
    let first = run(&dev("pdfjs__tracemonkey.pdf"), &lossless()).unwrap();
    assert!(!first.report.kept_original);
    let once = first.files[0].bytes.clone();
    let second = run(&once, &lossless()).unwrap();
    assert!(second.report.kept_original, "{:?}", second.report);
    assert_eq!(second.files[0].bytes, once);
    assert_eq!(second.report.bytes_out, second.report.bytes_in);
    assert!(second.report.notes.iter().any(|n| n.contains("unchanged")));
}

/// A hand-written minimal PDF is smaller than any object-stream layout.
#[test]
fn tiny_classic_pdf_is_kept() {
    let body = b"%PDF-1.0\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/MediaBox[0 0 3 3]/Parent 2 0 R>>endobj\n";
    let mut pdf = body.to_vec();
    let xref = pdf.len();
    let offs: Vec<usize> = [b"1 0 obj", b"2 0 obj", b"3 0 obj"]
        .iter()
        .map(|m| pdf.windows(7).position(|w| w == *m).unwrap())
        .collect();
    pdf.extend_from_slice(b"xref\n0 4\n0000000000 65535 f \n");
    for o in offs {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer<</Size 4/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    let out = run(&pdf, &lossless()).unwrap();
    assert!(out.report.kept_original);
    assert_eq!(out.files[0].bytes, pdf);
}

/// The lossy levels re-encode images on top of the lossless pipeline:
/// smaller than lossless on an image-heavy file, strong ≤ balanced, valid,
/// same page count, and the report lists what happened to each image.
#[test]
fn lossy_levels_recompress_images() {
    let bytes = dev("pdfcpu__BuildingWebappsWithGo.pdf");
    let lossless_out = run(&bytes, &lossless()).unwrap();
    assert!(
        lossless_out
            .report
            .notes
            .iter()
            .all(|n| !n.contains("image"))
    );
    let mut sizes = Vec::new();
    for level in [Level::Balanced, Level::Strong] {
        let out = run(
            &bytes,
            &CompressOptions {
                level,
                ..Default::default()
            },
        )
        .unwrap();
        let r = &out.report;
        let pdf = &out.files[0].bytes;
        support::qpdf_check(pdf).unwrap();
        assert_eq!(support::qpdf_pages(pdf), Some(r.pages_in));
        assert!(
            pdf.len() * 10 < lossless_out.files[0].bytes.len() * 8,
            "{level:?}: {} vs lossless {}",
            pdf.len(),
            lossless_out.files[0].bytes.len()
        );
        let images = r.details["images"].as_array().unwrap();
        assert_eq!(
            images.len() as u64,
            r.details["images_seen"].as_u64().unwrap()
        );
        assert!(r.details["images_recompressed"].as_u64().unwrap() >= 1);
        assert!(r.details["image_bytes_saved"].as_u64().unwrap() > 100_000);
        sizes.push(pdf.len());
    }
    assert!(
        sizes[1] <= sizes[0],
        "strong {} > balanced {}",
        sizes[1],
        sizes[0]
    );
    // A text document still compresses and stays valid.
    let out = run(
        &dev("pdfjs__tracemonkey.pdf"),
        &CompressOptions {
            level: Level::Strong,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(out.report.bytes_out < out.report.bytes_in);
    support::qpdf_check(&out.files[0].bytes).unwrap();
}

/// Progress stays monotonic across the image and stream passes.
#[test]
fn lossy_progress_is_monotonic() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let ctx = Ctx::default().with_progress(move |f| s2.lock().unwrap().push(f));
    compress::compress(
        &dev("pdfcpu__BuildingWebappsWithGo.pdf"),
        &CompressOptions::default(),
        &ctx,
    )
    .unwrap();
    let v = seen.lock().unwrap().clone();
    assert!(v.len() > 2);
    // Parallel workers may report slightly out of order within a pass; the
    // passes themselves must not go back.
    let image_phase_max = v.iter().take_while(|&&f| f <= 0.5).count();
    assert!(image_phase_max > 0);
    assert!(v[image_phase_max..].iter().all(|&f| f >= 0.5), "{v:?}");
    assert_eq!(*v.last().unwrap(), 1.0);
}

/// Streams past the per-stream or per-document decode limits are kept as
/// they are, and the report says so; the output is still valid.
#[test]
fn decode_limits_leave_streams_alone() {
    // PDF 1.3 without object streams: open() decodes nothing, so only the
    // compress pass meets the limits.
    let bytes = dev("pdfjs__TAMReview.pdf");
    let mut ctx = Ctx::default();
    ctx.limits.max_stream_bytes = 2000;
    let out = compress::compress(&bytes, &lossless(), &ctx).unwrap();
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("per-stream limit")),
        "{:?}",
        out.report.notes
    );
    support::qpdf_check(&out.files[0].bytes).unwrap();

    let mut ctx = Ctx::default();
    ctx.limits.max_document_bytes = 50_000;
    let out = compress::compress(&bytes, &lossless(), &ctx).unwrap();
    assert!(
        out.report.notes.iter().any(|n| n.contains("decode budget")),
        "{:?}",
        out.report.notes
    );
    support::qpdf_check(&out.files[0].bytes).unwrap();
}

#[test]
fn cancel_stops_the_work() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let flag = Arc::new(AtomicBool::new(true));
    let ctx = Ctx::default().with_cancel(flag);
    let e = compress::compress(&dev("pdfjs__tracemonkey.pdf"), &lossless(), &ctx)
        .err()
        .unwrap();
    assert_eq!(e.code(), "cancelled");
}

#[test]
fn not_a_pdf_is_invalid_pdf() {
    assert_eq!(
        run(b"hello", &lossless()).err().unwrap().code(),
        "invalid_pdf"
    );
}

/// Pages 1-2 rendered by poppler at 40 dpi in grey, as PGM files in order.
fn render(pdf: &[u8], dir: &Path, tag: &str) -> Vec<Vec<u8>> {
    let f = dir.join(format!("{tag}.pdf"));
    std::fs::write(&f, pdf).unwrap();
    let prefix = dir.join(tag);
    let st = Command::new("pdftoppm")
        .args(["-r", "40", "-gray", "-f", "1", "-l", "2"])
        .arg(&f)
        .arg(&prefix)
        .output()
        .expect("run pdftoppm (install poppler-utils)");
    assert!(st.status.success(), "pdftoppm failed on {tag}");
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "pgm")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{tag}-"))
        })
        .collect();
    pages.sort();
    pages.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Lossless means lossless: poppler renders pages 1-2 of every non-hostile
/// dev PDF to the very same pixels before and after.
#[test]
fn lossless_renders_identically() {
    let mut compared = 0;
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).expect("read");
        let out = run(&bytes, &lossless()).unwrap_or_else(|err| panic!("{name}: {err}"));
        if out.report.kept_original {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let before = render(&bytes, dir.path(), "before");
        let after = render(&out.files[0].bytes, dir.path(), "after");
        assert!(!before.is_empty(), "{name}: nothing rendered");
        assert_eq!(before.len(), after.len(), "{name}: rendered page count");
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            let again = |tag: &str| render(&bytes, dir.path(), tag).swap_remove(i);
            let mut k = 0;
            assert!(
                support::same_render(a, b, || {
                    k += 1;
                    again(&format!("again{k}"))
                }),
                "{name}: page {} renders differently",
                i + 1
            );
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} files compared");
}

/// On a file without images the lossy levels differ from lossless only in
/// how hard they deflate: `balanced` at the fast level (a little larger,
/// same pages), `strong` at the strongest (the very bytes of lossless).
#[test]
fn balanced_deflates_faster_and_strong_as_hard_as_lossless() {
    let bytes = dev("pdfcpu__itu-t81.pdf");
    let at = |level| {
        let opts = CompressOptions {
            level,
            ..Default::default()
        };
        run(&bytes, &opts).expect("compress").files.remove(0).bytes
    };
    let (lossless, balanced, strong) =
        (at(Level::Lossless), at(Level::Balanced), at(Level::Strong));
    assert_eq!(strong, lossless, "strong deflates at lossless's level");
    assert_ne!(balanced, lossless, "balanced deflates at its own level");
    let ratio = balanced.len() as f64 / lossless.len() as f64;
    println!(
        "itu-t81: lossless {} bytes, balanced {} ({ratio:.4})",
        lossless.len(),
        balanced.len()
    );
    assert!(
        (1.0..1.03).contains(&ratio),
        "balanced is {ratio:.4} × lossless: the fast level should cost a little, not more than 3 %"
    );
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        render(&balanced, dir.path(), "balanced"),
        render(&lossless, dir.path(), "lossless"),
        "same pages"
    );
}

/// Folio's lossless output against `qpdf --object-streams=generate
/// --recompress-flate --compression-level=9`, summed over the dev PDFs.
/// Prints the figures; asserts Folio's total is not larger.
#[test]
fn lossless_total_is_not_larger_than_qpdf() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t_in, mut t_folio, mut t_qpdf) = (0u64, 0u64, 0u64);
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).expect("read");
        let folio = run(&bytes, &lossless()).unwrap().files[0].bytes.len() as u64;
        let q = dir.path().join(&name);
        let st = Command::new("qpdf")
            .args([
                "--object-streams=generate",
                "--recompress-flate",
                "--compression-level=9",
            ])
            .arg(&e.path)
            .arg(&q)
            .status()
            .expect("run qpdf");
        // qpdf exits 3 when it wrote the file with warnings.
        assert!(matches!(st.code(), Some(0 | 3)), "qpdf failed on {name}");
        let qpdf = std::fs::metadata(&q).unwrap().len();
        eprintln!(
            "{name:50} in {:>9}  folio {folio:>9}  qpdf {qpdf:>9}",
            bytes.len()
        );
        t_in += bytes.len() as u64;
        t_folio += folio;
        t_qpdf += qpdf;
    }
    eprintln!(
        "TOTAL in {t_in}  folio {t_folio} ({:.1}%)  qpdf {t_qpdf} ({:.1}%)",
        100.0 * t_folio as f64 / t_in as f64,
        100.0 * t_qpdf as f64 / t_in as f64
    );
    assert!(t_folio <= t_qpdf, "folio {t_folio} > qpdf {t_qpdf}");
}

/// pdfcpu__go: re-encoding its one JPEG at its size saves 1.8 KB of 250 KB.
/// That is under 1 % of the file, so the image is kept and no page is
/// rendered for the gate; a target-size search still takes those bytes.
#[test]
fn same_size_reencodes_that_save_under_one_percent_are_kept() {
    let bytes = dev("pdfcpu__go.pdf");
    let jpeg_action = |out: &Output| -> (String, u64) {
        let images = out.report.details["images"].as_array().unwrap();
        let jpeg = images
            .iter()
            .find(|i| i["id"][0] == 12)
            .expect("image 12 is reported");
        let action = &jpeg["action"];
        let label = action["reason"].as_str().map_or_else(
            || action["kind"].as_str().unwrap().to_string(),
            str::to_string,
        );
        (label, jpeg["after_bytes"].as_u64().unwrap())
    };
    let out = run(&bytes, &CompressOptions::default()).unwrap();
    let (label, after) = jpeg_action(&out);
    assert!(label.contains("too little of the document"), "{label}");
    assert_eq!(after, 5837, "kept as it was");
    assert!(
        out.report
            .details
            .get("quality")
            .is_none_or(|q| q["pages_checked"] == 0)
    );
    support::qpdf_check(&out.files[0].bytes).unwrap();

    // With a target a little under that result, the JPEG is re-encoded.
    let target = out.files[0].bytes.len() as u64 - 1000;
    let searched = run(
        &bytes,
        &CompressOptions {
            target_size: Some(target),
            ..Default::default()
        },
    )
    .unwrap();
    let (label, after) = jpeg_action(&searched);
    assert_eq!(label, "jpeg");
    assert!(after < 5837);
    assert!(searched.files[0].bytes.len() as u64 <= target);
}

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
            assert!(a == b, "{name}: page {} renders differently", i + 1);
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} files compared");
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

#[test]
#[ignore]
fn debug_dump() {
    let name = std::env::var("DUMP").unwrap();
    let bytes = dev(&name);
    match run(&bytes, &lossless()) {
        Ok(o) => std::fs::write("/tmp/dump.pdf", &o.files[0].bytes).unwrap(),
        Err(e) => eprintln!("ERR {e}"),
    }
}

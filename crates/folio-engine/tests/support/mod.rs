//! Shared helpers for the engine's integration tests: where the corpus is,
//! and an independent validity check (`qpdf --check`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `shared/corpus` found by walking up from this crate (works from the main
/// checkout, a git worktree or CI's clone with `shared/` beside it), or
/// `FOLIO_CORPUS` when set. Panics loudly when absent, unless
/// `FOLIO_ALLOW_NO_CORPUS=1`, in which case tests print that they skip.
pub fn corpus() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("FOLIO_CORPUS") {
        return Some(PathBuf::from(p));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in here.ancestors() {
        let c = dir.join("shared").join("corpus");
        if c.join("dev").is_dir() {
            return Some(c);
        }
    }
    if std::env::var("FOLIO_ALLOW_NO_CORPUS").as_deref() == Ok("1") {
        eprintln!("SKIPPING: shared/corpus not found above {}", here.display());
        return None;
    }
    panic!(
        "shared/corpus not found above {} (set FOLIO_CORPUS, or FOLIO_ALLOW_NO_CORPUS=1 to skip)",
        here.display()
    );
}

/// One row of `dev/MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: String,
    pub category: String,
    /// Page count as listed, when it is a number.
    pub pages: Option<u64>,
    pub notes: String,
}

/// Every entry of the dev manifest (PDFs and images).
pub fn manifest() -> Vec<Entry> {
    let Some(c) = corpus() else { return vec![] };
    let text = std::fs::read_to_string(c.join("dev").join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 10 {
                return None;
            }
            Some(Entry {
                path: c.join(f[1]),
                kind: f[2].to_string(),
                category: f[3].to_string(),
                pages: f[7].parse().ok(),
                notes: f[9].to_string(),
            })
        })
        .collect()
}

pub fn dev_pdfs() -> Vec<Entry> {
    manifest().into_iter().filter(|e| e.kind == "pdf").collect()
}

pub fn dev_images() -> Vec<Entry> {
    manifest()
        .into_iter()
        .filter(|e| e.kind == "images")
        .collect()
}

/// Run `qpdf --check` on `bytes`; Err with qpdf's output when it reports
/// errors (exit 2). Warnings (exit 3) are accepted, as qpdf itself does.
pub fn qpdf_check(bytes: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let f = dir.path().join("check.pdf");
    std::fs::write(&f, bytes).map_err(|e| e.to_string())?;
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(&f)
        .output()
        .map_err(|e| format!("cannot run qpdf (install the qpdf package): {e}"))?;
    match out.status.code() {
        Some(0) | Some(3) => Ok(()),
        _ => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// `bytes` rewritten by qpdf with every stream decoded and no object
/// streams: the same document in a fixed layout, for comparing two files
/// whose content is the same but whose streams are compressed differently
/// (poppler's renders of some files move with the layout alone; see
/// BENCHMARKS.md on pdfcpu__VectorApple).
pub fn qpdf_decoded(bytes: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("in.pdf"), dir.path().join("out.pdf"));
    std::fs::write(&a, bytes).expect("write");
    let st = Command::new("qpdf")
        .args([
            "--qdf",
            "--object-streams=disable",
            "--decode-level=all",
            "--deterministic-id",
        ])
        .arg(&a)
        .arg(&b)
        .status()
        .expect("run qpdf (install the qpdf package)");
    assert!(matches!(st.code(), Some(0 | 3)), "qpdf failed: {st}");
    std::fs::read(&b).expect("read qpdf's output")
}

/// A one-page document whose page is a `side` × `side` pt square with
/// `image` (an image XObject stream) drawn across all of it as `/Im`.
pub fn one_image_page(image: lopdf::Stream, side: i64) -> lopdf::Document {
    use lopdf::{Document, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let img_id = doc.add_object(image);
    let content_id = doc.add_object(Stream::new(
        dictionary! {},
        format!("q {side} 0 0 {side} 0 0 cm /Im Do Q").into_bytes(),
    ));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), side.into(), side.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im" => img_id } },
    });
    close_one_page(&mut doc, pages_id, page_id);
    doc
}

/// Give `doc` its page tree (`pages_id`, reserved, holding `page_id` alone)
/// and a catalog in the trailer.
pub fn close_one_page(
    doc: &mut lopdf::Document,
    pages_id: lopdf::ObjectId,
    page_id: lopdf::ObjectId,
) {
    use lopdf::{Object, dictionary};
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
}

/// Page count as qpdf sees it.
pub fn qpdf_pages(bytes: &[u8]) -> Option<u32> {
    let dir = tempfile::tempdir().ok()?;
    let f = dir.path().join("p.pdf");
    std::fs::write(&f, bytes).ok()?;
    let out = Command::new("qpdf")
        .arg("--show-npages")
        .arg(&f)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Whether two poppler renders of the same page count as the same picture.
///
/// Byte-identical renders always do. Otherwise `rerender` renders the
/// original page again (up to 16 times): poppler substitutes non-embedded
/// fonts nondeterministically on some files (pdfjs__issue6127.pdf page 1
/// comes out in two versions, 7 and 5 times in 12 runs of the same command),
/// so `other` counts as the same when it equals some render of the original,
/// and when the original itself does not render reproducibly, renders that
/// differ in at most 1% of their bytes count as the same. A page that
/// poppler renders reproducibly must match exactly. (With four re-renders
/// and no comparison of `other` against them, all four came out like the
/// first often enough, (7/12)^4 ≈ 12 %, to fail a clean CI run.)
pub fn same_render(original: &[u8], other: &[u8], mut rerender: impl FnMut() -> Vec<u8>) -> bool {
    if original == other {
        return true;
    }
    let mut unstable = false;
    for _ in 0..16 {
        let again = rerender();
        if again == other {
            return true;
        }
        if again != original {
            unstable = true;
            break;
        }
    }
    if !unstable || original.len() != other.len() {
        return false;
    }
    let differing = original.iter().zip(other).filter(|(a, b)| a != b).count();
    let fraction = differing as f64 / original.len().max(1) as f64;
    eprintln!("poppler renders this page nondeterministically; {fraction:.4} of bytes differ");
    fraction <= 0.01
}

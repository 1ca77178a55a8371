//! `extract` and `split_every` on the dev corpus.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use folio_engine::split::{self, ExtractOptions, SplitOptions};
use folio_engine::{Ctx, PageSpec, document};
use lopdf::{Document, Object};

fn dev(name: &str) -> Vec<u8> {
    let c = support::corpus().expect("corpus");
    std::fs::read(c.join("dev/pdf").join(name)).expect("read corpus file")
}

fn extract(bytes: &[u8], spec: &str) -> folio_engine::Result<folio_engine::Output> {
    split::extract(
        bytes,
        &ExtractOptions {
            pages: spec.parse::<PageSpec>().unwrap(),
            password: None,
        },
        &Ctx::default(),
    )
}

fn split_every(bytes: &[u8], every: u32) -> folio_engine::Result<folio_engine::Output> {
    split::split_every(
        bytes,
        &SplitOptions {
            every,
            password: None,
        },
        &Ctx::default(),
    )
}

/// Structural promises of every output: page objects outside the page tree
/// are not carried along, and no outline item points at a missing page.
fn check_structure(pdf: &[u8], what: &str) {
    let doc = Document::load_mem(pdf).unwrap_or_else(|e| panic!("{what}: lopdf: {e}"));
    let pages: HashSet<_> = document::page_ids(&doc).into_iter().collect();
    let page_objects = doc
        .objects
        .values()
        .filter(|o| {
            // Page objects of a page tree (some producers put bogus
            // `/Type /Page` dictionaries elsewhere, without a parent).
            o.as_dict().is_ok_and(|d| {
                d.has(b"Parent")
                    && d.get(b"Type")
                        .and_then(Object::as_name)
                        .is_ok_and(|t| t == b"Page")
            })
        })
        .count();
    assert_eq!(page_objects, pages.len(), "{what}: stray page objects");
    // Outline items with an explicit destination lead to a page of the tree.
    let Ok(cat) = doc.catalog() else { return };
    let Ok(root) = cat.get(b"Outlines").and_then(Object::as_reference) else {
        return;
    };
    let mut stack = vec![root];
    let mut seen = HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Ok(item) = doc.get_dictionary(id) else {
            continue;
        };
        if let Ok(Object::Array(dest)) = item.get(b"Dest")
            && let Some(first) = dest.first()
        {
            assert!(
                matches!(first, Object::Reference(p) if pages.contains(p))
                    || matches!(first, Object::Integer(_)),
                "{what}: outline item {id:?} points to {first:?}"
            );
        }
        for k in [&b"First"[..], b"Next"] {
            if let Ok(r) = item.get(k).and_then(Object::as_reference) {
                stack.push(r);
            }
        }
    }
}

/// Page `page` of `pdf` rendered by poppler at 40 dpi, grey PGM.
fn render_page(pdf: &[u8], page: u32, dir: &Path, tag: &str) -> Vec<u8> {
    let f = dir.join(format!("{tag}.pdf"));
    std::fs::write(&f, pdf).unwrap();
    let out = dir.join(format!("{tag}.pgm"));
    let st = Command::new("pdftoppm")
        .args(["-r", "40", "-gray", "-singlefile"])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(&f)
        .arg(dir.join(tag))
        .output()
        .expect("run pdftoppm");
    assert!(st.status.success(), "pdftoppm {tag}");
    std::fs::read(out).unwrap()
}

/// Every non-hostile dev PDF: extract the last and the first page (in that
/// order); the output checks, has 2 pages (1 for single-page files), and
/// each page renders exactly as it did in the input.
#[test]
fn extract_last_and_first_page_of_every_dev_pdf() {
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).unwrap();
        let out = extract(&bytes, "last,1").unwrap_or_else(|err| panic!("{name}: {err}"));
        let pdf = &out.files[0].bytes;
        let n = out.report.pages_in;
        let want = if n == 1 { 1 } else { 2 };
        assert_eq!(out.report.pages_out, want, "{name}");
        support::qpdf_check(pdf).unwrap_or_else(|m| panic!("{name}: {m}"));
        assert_eq!(support::qpdf_pages(pdf), Some(want), "{name}");
        check_structure(pdf, &name);
        let dir = tempfile::tempdir().unwrap();
        let orig_last = render_page(&bytes, n, dir.path(), "in_last");
        let out_first = render_page(pdf, 1, dir.path(), "out_first");
        assert!(
            support::same_render(&orig_last, &out_first, || render_page(
                &bytes,
                n,
                dir.path(),
                "in_last_again"
            )),
            "{name}: last page renders differently"
        );
        if n > 1 {
            let orig_first = render_page(&bytes, 1, dir.path(), "in_first");
            let out_second = render_page(pdf, 2, dir.path(), "out_second");
            assert!(
                support::same_render(&orig_first, &out_second, || render_page(
                    &bytes,
                    1,
                    dir.path(),
                    "in_first_again"
                )),
                "{name}: first page renders differently"
            );
        }
        eprintln!("{name:50} {:>9} -> {:>9}", bytes.len(), pdf.len());
    }
}

/// Every non-hostile dev PDF of at most 200 pages, cut every 10 pages:
/// the parts check, are named in order, and hold all pages between them.
#[test]
fn split_every_ten_pages() {
    for e in support::dev_pdfs() {
        if e.category == "hostile" || e.pages.is_none_or(|p| p > 200) {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).unwrap();
        let out = split_every(&bytes, 10).unwrap_or_else(|err| panic!("{name}: {err}"));
        let n = out.report.pages_in;
        assert_eq!(out.files.len(), n.div_ceil(10) as usize, "{name}");
        let mut total = 0;
        for (i, f) in out.files.iter().enumerate() {
            assert_eq!(f.name, format!("part-{:03}.pdf", i + 1));
            support::qpdf_check(&f.bytes).unwrap_or_else(|m| panic!("{name} {}: {m}", f.name));
            let p = support::qpdf_pages(&f.bytes).unwrap();
            let expect = (n - 10 * i as u32).min(10);
            assert_eq!(p, expect, "{name} {}", f.name);
            check_structure(&f.bytes, &format!("{name} {}", f.name));
            total += p;
        }
        assert_eq!(total, n, "{name}");
        assert_eq!(out.report.pages_out, n);
        assert_eq!(
            out.report.bytes_out,
            out.files.iter().map(|f| f.bytes.len() as u64).sum::<u64>()
        );
    }
}

/// One large manual, cut in 100-page parts.
#[test]
fn split_a_large_file() {
    let bytes = dev("deb__memman.pdf");
    let out = split_every(&bytes, 100).unwrap();
    assert_eq!(out.files.len(), 7);
    let mut total = 0;
    for f in &out.files {
        support::qpdf_check(&f.bytes).unwrap_or_else(|m| panic!("{}: {m}", f.name));
        total += support::qpdf_pages(&f.bytes).unwrap();
    }
    assert_eq!(total, 615);
    // Each part carries only what its pages need: together they are not
    // many times the input.
    assert!(
        out.report.bytes_out < 4 * bytes.len() as u64,
        "{}",
        out.report.bytes_out
    );
}

/// All pages of this book share one resource dictionary naming every image
/// of the book: a one-page extract must not carry them all.
#[test]
fn shared_resources_are_cut_to_what_the_page_uses() {
    let bytes = dev("pdfcpu__gobook.0.pdf");
    let out = extract(&bytes, "5").unwrap();
    let pdf = &out.files[0].bytes;
    assert!(pdf.len() < bytes.len() / 4, "{} bytes", pdf.len());
    assert_eq!(
        out.report.details["pages_with_pruned_resources"].as_u64(),
        Some(1)
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(render_page(pdf, 1, dir.path(), "a") == render_page(&bytes, 5, dir.path(), "b"));
}

/// The 2415-page manual cut in 500-page parts.
#[test]
fn split_the_largest_file() {
    let bytes = dev("deb__fullrefman.pdf");
    let t = std::time::Instant::now();
    let out = split_every(&bytes, 500).unwrap();
    eprintln!("fullrefman split in {:?}", t.elapsed());
    assert_eq!(out.files.len(), 5);
    let mut total = 0;
    for f in &out.files {
        support::qpdf_check(&f.bytes).unwrap_or_else(|m| panic!("{}: {m}", f.name));
        total += support::qpdf_pages(&f.bytes).unwrap();
    }
    assert_eq!(total, 2415);
}

#[test]
fn extract_keeps_the_selection_order() {
    let bytes = dev("pdfjs__tracemonkey.pdf");
    let out = extract(&bytes, "3,1").unwrap();
    let pdf = &out.files[0].bytes;
    let dir = tempfile::tempdir().unwrap();
    assert!(render_page(pdf, 1, dir.path(), "a") == render_page(&bytes, 3, dir.path(), "b"));
    assert!(render_page(pdf, 2, dir.path(), "c") == render_page(&bytes, 1, dir.path(), "d"));
    assert!(render_page(pdf, 1, dir.path(), "e") != render_page(&bytes, 1, dir.path(), "f"));
}

/// Bookmarks to pages that stay are kept, the others dropped; none dangles.
#[test]
fn outlines_follow_the_pages() {
    let bytes = dev("pdfcpu__gobook.0.pdf");
    let src = Document::load_mem(&bytes).unwrap();
    assert!(
        src.catalog().unwrap().has(b"Outlines"),
        "test file has bookmarks"
    );
    let out = extract(&bytes, "10-20").unwrap();
    let pdf = &out.files[0].bytes;
    check_structure(pdf, "gobook 10-20");
    assert!(
        out.report.details["outline_items_dropped"]
            .as_u64()
            .unwrap()
            > 0,
        "{:?}",
        out.report.details
    );
    let doc = Document::load_mem(pdf).unwrap();
    assert!(
        doc.catalog().unwrap().has(b"Outlines"),
        "some bookmarks stay"
    );
}

/// Page labels (as qpdf computes them per page) move with their pages.
fn page_labels(pdf: &[u8]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.pdf");
    std::fs::write(&f, pdf).unwrap();
    let o = Command::new("qpdf")
        .args(["--json", "--json-key=pages"])
        .arg(&f)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].clone())
        .collect()
}

#[test]
fn page_labels_move_with_their_pages() {
    // Front matter "u:1", "u:2", roman numerals, then arabic numbers.
    let bytes = dev("pdfcpu__ECSTR11-01.pdf");
    let before = page_labels(&bytes);
    let out = extract(&bytes, "12,1,3,4,5").unwrap();
    let after = page_labels(&out.files[0].bytes);
    let want: Vec<_> = [12, 1, 3, 4, 5]
        .iter()
        .map(|&p| before[p - 1].clone())
        .collect();
    assert_eq!(after, want);
    assert!(want[0] != want[1] && want[2].is_object());
}

#[test]
fn bad_options_are_typed_errors() {
    let bytes = dev("pdfjs__tracemonkey.pdf");
    assert_eq!(
        split_every(&bytes, 0).err().unwrap().code(),
        "invalid_options"
    );
    let e = extract(&bytes, "15").err().unwrap();
    assert_eq!(e.code(), "page_out_of_range");
    assert_eq!(
        extract(&bytes, "2-40").err().unwrap().code(),
        "page_out_of_range"
    );
    assert_eq!(extract(b"nope", "1").err().unwrap().code(), "invalid_pdf");
}

#[test]
fn encrypted_input_needs_the_password() {
    let bytes = dev("pysample__libreoffice-writer-password.pdf");
    assert_eq!(extract(&bytes, "1").err().unwrap().code(), "encrypted");
    assert_eq!(split_every(&bytes, 1).err().unwrap().code(), "encrypted");
    let out = split::extract(
        &bytes,
        &ExtractOptions {
            pages: PageSpec::all(),
            password: Some("openpassword".into()),
        },
        &Ctx::default(),
    )
    .unwrap();
    support::qpdf_check(&out.files[0].bytes).unwrap();
    assert!(
        out.report
            .notes
            .iter()
            .any(|n| n.contains("without encryption"))
    );
}

#[test]
fn hostile_files_fail_cleanly_or_split() {
    for e in support::dev_pdfs() {
        if e.category != "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).unwrap();
        for res in [extract(&bytes, "1"), split_every(&bytes, 1)] {
            match res {
                Ok(out) => {
                    for f in &out.files {
                        assert_eq!(support::qpdf_pages(&f.bytes), Some(1), "{name} {}", f.name);
                    }
                }
                Err(err) => assert!(
                    [
                        "invalid_pdf",
                        "encrypted",
                        "limit_exceeded",
                        "unsupported_feature"
                    ]
                    .contains(&err.code()),
                    "{name}: {err}"
                ),
            }
        }
    }
}

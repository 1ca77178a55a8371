//! Text extraction: word recall against pdftotext on the dev corpus, page
//! selection, form feeds, encryption and hostile files.

mod support;

use std::collections::HashMap;
use std::process::Command;

use folio_engine::text::{TextOptions, text};
use folio_engine::{Ctx, PageSpec};

/// Pages compared on long documents (both tools are restricted to them).
const MAX_PAGES: u32 = 20;

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

fn opts(pages: &str, password: Option<&str>) -> TextOptions {
    TextOptions {
        pages: pages.parse::<PageSpec>().unwrap(),
        password: password.map(str::to_string),
    }
}

fn extract(bytes: &[u8], pages: &str, password: Option<&str>) -> folio_engine::Result<String> {
    let out = text(bytes, &opts(pages, password), &Ctx::default())?;
    assert_eq!(out.files.len(), 1);
    assert_eq!(out.files[0].name, "text.txt");
    assert_eq!(out.files[0].media_type, folio_engine::report::TEXT);
    Ok(String::from_utf8(out.files[0].bytes.clone()).expect("UTF-8 output"))
}

fn pdftotext(path: &std::path::Path, last: Option<u32>) -> Option<String> {
    let mut cmd = Command::new("pdftotext");
    cmd.arg("-enc").arg("UTF-8");
    if let Some(l) = last {
        cmd.arg("-l").arg(l.to_string());
    }
    let out = cmd.arg(path).arg("-").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Lowercased words with punctuation trimmed from both ends; ligatures
/// expanded so the comparison is about words, not glyph choices.
fn words(s: &str) -> Vec<String> {
    let s = s
        .replace('\u{fb00}', "ff")
        .replace('\u{fb01}', "fi")
        .replace('\u{fb02}', "fl")
        .replace('\u{fb03}', "ffi")
        .replace('\u{fb04}', "ffl");
    s.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Fraction of `reference`'s word multiset found in `ours`.
fn recall(reference: &[String], ours: &[String]) -> f64 {
    let mut have: HashMap<&str, usize> = HashMap::new();
    for w in ours {
        *have.entry(w.as_str()).or_default() += 1;
    }
    let mut hit = 0usize;
    for w in reference {
        if let Some(n) = have.get_mut(w.as_str())
            && *n > 0
        {
            *n -= 1;
            hit += 1;
        }
    }
    hit as f64 / reference.len().max(1) as f64
}

#[test]
fn recall_against_pdftotext_on_text_pdfs() {
    let mut table: Vec<(String, usize, f64)> = Vec::new();
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let long = e.pages.is_none_or(|p| p > MAX_PAGES as u64);
        let Some(reference) = pdftotext(&e.path, long.then_some(MAX_PAGES)) else {
            continue;
        };
        let reference = words(&reference);
        if reference.len() < 50 {
            continue;
        }
        let bytes = std::fs::read(&e.path).unwrap();
        let pages = if long {
            format!("1-{MAX_PAGES}")
        } else {
            "all".to_string()
        };
        let ours = extract(&bytes, &pages, None)
            .unwrap_or_else(|err| panic!("{}: {err}", e.path.display()));
        let r = recall(&reference, &words(&ours));
        let name = e.path.file_name().unwrap().to_string_lossy().into_owned();
        table.push((name, reference.len(), r));
    }
    assert!(
        table.len() >= 20,
        "too few text PDFs found: {}",
        table.len()
    );
    table.sort_by(|a, b| a.2.total_cmp(&b.2));
    eprintln!("{:<48} {:>8} {:>7}", "file", "words", "recall");
    for (name, n, r) in &table {
        eprintln!("{name:<48} {n:>8} {r:>7.3}");
    }
    let median = table[table.len() / 2].2;
    eprintln!("median recall over {} files: {median:.3}", table.len());
    assert!(median >= 0.95, "median recall {median:.3} < 0.95");
}

#[test]
fn reading_order_on_a_two_column_paper() {
    // tracemonkey is a two-column paper: the end of the left column's first
    // paragraph comes before the right column's start.
    let t = extract(&read("pdfjs__tracemonkey.pdf"), "1", None).unwrap();
    let a = t.find("JavaScript, for").expect("left column text present");
    let b = t
        .find("and is used for the application logic")
        .expect("right column text present");
    assert!(a < b, "left column must come before the right column");
    // Hyphenated line ends are joined as pdftotext does.
    assert!(t.contains("alternative compilation technique"), "{t}");
}

#[test]
fn form_feeds_separate_pages() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let t = extract(&bytes, "all", None).unwrap();
    assert_eq!(t.matches('\x0c').count(), 13, "14 pages, 13 separators");
    let t = extract(&bytes, "2-4", None).unwrap();
    assert_eq!(t.matches('\x0c').count(), 2);
}

#[test]
fn page_selection_picks_the_right_pages() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let all = extract(&bytes, "all", None).unwrap();
    let pages: Vec<&str> = all.split('\x0c').collect();
    assert_eq!(pages.len(), 14);
    let third = extract(&bytes, "3", None).unwrap();
    assert_eq!(third, pages[2]);
    let picked = extract(&bytes, "5,2", None).unwrap();
    assert_eq!(picked, format!("{}\x0c{}", pages[4], pages[1]));
    // The chosen page is really page 3: compare with pdftotext's page 3.
    let c = support::corpus().unwrap();
    let out = Command::new("pdftotext")
        .args(["-f", "3", "-l", "3"])
        .arg(c.join("dev/pdf/pdfjs__tracemonkey.pdf"))
        .arg("-")
        .output()
        .unwrap();
    let reference = words(&String::from_utf8_lossy(&out.stdout));
    assert!(recall(&reference, &words(&third)) > 0.95);
}

#[test]
fn selection_errors_have_codes() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let e = text(&bytes, &opts("15", None), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "page_out_of_range");
    let e = text(&bytes, &opts("2-40", None), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "page_out_of_range");
}

#[test]
fn encrypted_file_needs_its_password() {
    let bytes = read("pysample__libreoffice-writer-password.pdf");
    let e = text(&bytes, &opts("all", None), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "encrypted");
    let e = text(&bytes, &opts("all", Some("wrong")), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "wrong_password");
    let out = text(&bytes, &opts("all", Some("openpassword")), &Ctx::default()).unwrap();
    let t = String::from_utf8(out.files[0].bytes.clone()).unwrap();
    assert!(
        words(&t).len() >= 3,
        "decrypted text should have words: {t:?}"
    );
    assert!(out.report.notes.iter().any(|n| n.contains("encrypted")));
}

#[test]
fn owner_password_only_files_extract_without_password() {
    let bytes = read("pdfjs__secHandler.pdf");
    let t = extract(&bytes, "all", None).unwrap();
    assert!(!t.trim().is_empty());
}

#[test]
fn not_a_pdf_is_invalid_pdf() {
    let e = text(b"hello", &opts("all", None), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "invalid_pdf");
}

#[test]
fn cancelled_and_timed_out() {
    let bytes = read("pdfjs__tracemonkey.pdf");
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ctx = Ctx::default().with_cancel(flag);
    let e = text(&bytes, &opts("all", None), &ctx).must_fail();
    assert_eq!(e.code(), "cancelled");
    let mut ctx = Ctx::default();
    ctx.limits.wall_time = std::time::Duration::ZERO;
    let e = text(&bytes, &opts("all", None), &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
}

#[test]
fn stream_limit_applies_to_page_content() {
    // A stream-size limit below the size of tracemonkey's fonts and content.
    let bytes = read("pdfjs__tracemonkey.pdf");
    let mut ctx = Ctx::default();
    ctx.limits.max_stream_bytes = 1000;
    let e = text(&bytes, &opts("1", None), &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded", "{e}");
}

#[test]
fn every_dev_pdf_extracts_or_fails_with_a_code() {
    for e in support::dev_pdfs() {
        let bytes = std::fs::read(&e.path).unwrap();
        // Long documents: the first pages are enough to exercise the code.
        let pages = if e.category != "hostile" && e.pages.is_some_and(|p| p > MAX_PAGES as u64) {
            "1-3"
        } else {
            "all"
        };
        let res = text(&bytes, &opts(pages, None), &Ctx::default());
        match res {
            Ok(out) => {
                let t = String::from_utf8(out.files[0].bytes.clone()).expect("UTF-8");
                let n = pages
                    .parse::<PageSpec>()
                    .unwrap()
                    .resolve(out.report.pages_in)
                    .map(|v| v.len())
                    .unwrap_or(1);
                assert_eq!(t.matches('\x0c').count(), n - 1, "{}", e.path.display());
            }
            Err(err) => {
                let code = err.code();
                eprintln!("{}: {code}: {err}", e.path.display());
                assert!(
                    (e.category == "hostile" || e.category == "encrypted")
                        && [
                            "invalid_pdf",
                            "encrypted",
                            "limit_exceeded",
                            "page_out_of_range",
                            "unsupported_feature"
                        ]
                        .contains(&code),
                    "{} failed: {err}",
                    e.path.display()
                );
            }
        }
    }
}

/// A one-page PDF with Helvetica as /F1 and the given content.
fn pdf_with_content(content: Vec<u8>) -> Vec<u8> {
    use lopdf::{Document, Stream, dictionary};
    let mut doc = Document::with_version("1.4");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
    });
    support::close_one_page(&mut doc, pages_id, page_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn scattered_glyphs_do_not_blow_up() {
    // 60 000 glyphs at pseudo-random places: layout must stay near-linear.
    let mut content = b"BT /F1 6 Tf\n".to_vec();
    let mut x: u64 = 12345;
    for _ in 0..60_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (px, py) = ((x >> 33) % 600, (x >> 13) % 780);
        content.extend_from_slice(format!("1 0 0 1 {px} {py} Tm (a) Tj\n").as_bytes());
    }
    content.extend_from_slice(b"ET\n");
    let pdf = pdf_with_content(content);
    let t0 = std::time::Instant::now();
    let t = extract(&pdf, "all", None).unwrap();
    assert!(t.matches('a').count() >= 50_000);
    assert!(t0.elapsed().as_secs() < 60, "took {:?}", t0.elapsed());
}

#[test]
fn one_long_line_of_separate_words() {
    // 5 000 tiny words drawn one per Tj on one baseline, in reverse order,
    // about three em apart.
    let mut content = b"BT /F1 0.02 Tf\n".to_vec();
    for i in (0..5000).rev() {
        content.extend_from_slice(
            format!("1 0 0 1 {:.3} 400 Tm (w{i}) Tj\n", 1.0 + i as f64 * 0.12).as_bytes(),
        );
    }
    content.extend_from_slice(b"ET\n");
    let t = extract(&pdf_with_content(content), "all", None).unwrap();
    let w = words(&t);
    assert_eq!(w.len(), 5000);
    assert_eq!(w[0], "w0");
    assert_eq!(w[4999], "w4999");
}

#[test]
fn rotated_text_reads_in_its_own_direction() {
    // Two lines rotated by 90° (reading bottom to top, so the next line is
    // to the right) and one normal line.
    let content = b"BT /F1 12 Tf 1 0 0 1 72 700 Tm (Normal heading) Tj ET\n\
        BT /F1 12 Tf 0 1 -1 0 300 100 Tm (first rotated line) Tj ET\n\
        BT /F1 12 Tf 0 1 -1 0 314 100 Tm (second rotated line) Tj ET\n"
        .to_vec();
    let t = extract(&pdf_with_content(content), "all", None).unwrap();
    assert!(t.contains("Normal heading"), "{t}");
    let a = t.find("first rotated line").expect("first line whole");
    let b = t.find("second rotated line").expect("second line whole");
    assert!(a < b, "{t}");
}

//! `info`: facts checked against poppler's pdfinfo/pdffonts and qpdf.

mod support;

use std::collections::HashSet;
use std::process::Command;

use folio_engine::Ctx;
use folio_engine::info::{decode_text_string, info};
use lopdf::{Document, Object, StringFormat, dictionary};

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

/// `Key: value` lines of `pdfinfo`.
fn pdfinfo(path: &std::path::Path) -> Vec<(String, String)> {
    let out = Command::new("pdfinfo").arg(path).output().expect("pdfinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

#[test]
fn agrees_with_pdfinfo_on_the_dev_corpus() {
    let mut compared = 0;
    for e in support::dev_pdfs() {
        // pdfinfo spins on some hostile files, and cannot open user-locked ones.
        if e.category == "hostile" {
            continue;
        }
        let bytes = std::fs::read(&e.path).unwrap();
        let ours = info(&bytes, None, &Ctx::default())
            .unwrap_or_else(|err| panic!("{}: {err}", e.path.display()));
        let theirs = pdfinfo(&e.path);
        let name = e.path.display();
        assert_eq!(
            Some(ours.pages.to_string().as_str()),
            field(&theirs, "Pages"),
            "{name}: pages"
        );
        assert_eq!(
            Some(ours.version.as_str()),
            field(&theirs, "PDF version"),
            "{name}: version"
        );
        assert_eq!(ours.bytes, bytes.len() as u64);
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        for (key, value) in [
            ("Title", &ours.title),
            ("Producer", &ours.producer),
            ("Creator", &ours.creator),
            ("Author", &ours.author),
        ] {
            assert_eq!(
                value.as_deref().map(norm),
                field(&theirs, key).map(norm),
                "{name}: {key}"
            );
        }
        assert_eq!(
            ours.encrypted,
            field(&theirs, "Encrypted").is_some_and(|v| v.starts_with("yes")),
            "{name}: encrypted"
        );
        // Every document of the corpus has page content streams (one of
        // them, secHandler, an empty one).
        assert!(ours.content_streams >= 1, "{name}");
        compared += 1;
    }
    assert!(compared >= 40, "compared {compared} files");
}

#[test]
fn embedded_fonts_match_pdffonts() {
    for f in [
        "pdfjs__tracemonkey.pdf",
        "pdfcpu__ECSTR11-01.pdf",
        "pysample__google-doc-document.pdf",
    ] {
        let c = support::corpus().unwrap();
        let out = Command::new("pdffonts")
            .arg(c.join("dev/pdf").join(f))
            .output()
            .unwrap();
        // Unique embedded font objects (Type 3 fonts have no font program).
        let mut ids = HashSet::new();
        for l in String::from_utf8_lossy(&out.stdout).lines().skip(2) {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let n = cols.len();
            if n >= 7 && cols[n - 5] == "yes" && !l.contains("Type 3") {
                ids.insert((cols[n - 2].to_string(), cols[n - 1].to_string()));
            }
        }
        let i = info(&read(f), None, &Ctx::default()).unwrap();
        assert_eq!(i.fonts as usize, ids.len(), "{f}");
        assert!(i.font_bytes > 1000 * i.fonts as u64, "{f}: font bytes");
    }
}

#[test]
fn images_and_content_are_counted() {
    let bytes = read("pdfcpu__mountain.pdf");
    let i = info(&bytes, None, &Ctx::default()).unwrap();
    assert_eq!(i.images, 1);
    // The one photo is nearly the whole file.
    assert!(i.image_bytes > bytes.len() as u64 * 9 / 10, "{i:?}");
    assert_eq!(i.content_streams, 1);
    assert_eq!(i.fonts, 0);

    let i = info(&read("pdfjs__tracemonkey.pdf"), None, &Ctx::default()).unwrap();
    assert_eq!(i.pages, 14);
    assert!(i.content_streams >= 14);
    assert_eq!(i.producer.as_deref(), Some("pdfeTeX-1.21a"));
    assert_eq!(i.creator.as_deref(), Some("TeX"));
    assert_eq!(i.version, "1.4");
    let json = serde_json::to_value(&i).unwrap();
    assert_eq!(json["pages"], 14);
    assert_eq!(json["encrypted"], false);
}

#[test]
fn pdf_2_0_version() {
    let i = info(
        &read("pdf20__Simple_PDF_2.0_file.pdf"),
        None,
        &Ctx::default(),
    )
    .unwrap();
    assert_eq!(i.version, "2.0");
}

#[test]
fn catalog_version_overrides_an_older_header() {
    let mut doc = Document::load_mem(&read("pdfjs__tracemonkey.pdf")).unwrap();
    doc.catalog_mut()
        .unwrap()
        .set("Version", Object::Name(b"1.7".to_vec()));
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    assert_eq!(info(&out, None, &Ctx::default()).unwrap().version, "1.7");
}

#[test]
fn text_strings_are_decoded() {
    // Title in UTF-16BE, Producer in PDFDocEncoding (0x84 is an em dash).
    let mut doc = Document::load_mem(&read("pdf20__Simple_PDF_2.0_file.pdf")).unwrap();
    let mut title = vec![0xFE, 0xFF];
    for u in "Grüße – 東京".encode_utf16() {
        title.extend_from_slice(&u.to_be_bytes());
    }
    let info_id = doc.add_object(dictionary! {
        "Title" => Object::String(title, StringFormat::Hexadecimal),
        "Producer" => Object::String(b"A\x84B \xe9".to_vec(), StringFormat::Literal),
    });
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    let i = info(&out, None, &Ctx::default()).unwrap();
    assert_eq!(i.title.as_deref(), Some("Grüße – 東京"));
    assert_eq!(i.producer.as_deref(), Some("A\u{2014}B é"));
    assert_eq!(decode_text_string(b""), "");
}

#[test]
fn encryption() {
    let bytes = read("pysample__libreoffice-writer-password.pdf");
    let e = info(&bytes, None, &Ctx::default()).must_fail();
    assert_eq!(e.code(), "encrypted");
    let e = info(&bytes, Some("nope"), &Ctx::default()).must_fail();
    assert_eq!(e.code(), "wrong_password");
    let i = info(&bytes, Some("openpassword"), &Ctx::default()).unwrap();
    assert!(i.encrypted);
    assert!(i.pages >= 1);
    // Owner-password-only files open, and say they are encrypted.
    let i = info(&read("pdfjs__secHandler.pdf"), None, &Ctx::default()).unwrap();
    assert!(i.encrypted);
}

#[test]
fn bad_inputs_have_codes() {
    let e = info(b"not a pdf", None, &Ctx::default()).must_fail();
    assert_eq!(e.code(), "invalid_pdf");
    let mut ctx = Ctx::default();
    ctx.limits.max_input_bytes = 100;
    let e = info(&read("pdfjs__tracemonkey.pdf"), None, &ctx).must_fail();
    assert_eq!(e.code(), "limit_exceeded");
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ctx = Ctx::default().with_cancel(flag);
    let e = info(&read("pdfjs__tracemonkey.pdf"), None, &ctx).must_fail();
    assert_eq!(e.code(), "cancelled");
}

#[test]
fn every_dev_pdf_is_described_or_fails_with_a_code() {
    for e in support::dev_pdfs() {
        let bytes = std::fs::read(&e.path).unwrap();
        match info(&bytes, None, &Ctx::default()) {
            Ok(i) => assert!(i.pages >= 1, "{}", e.path.display()),
            Err(err) => {
                eprintln!("{}: {}: {err}", e.path.display(), err.code());
                assert!(
                    (e.category == "hostile" || e.category == "encrypted")
                        && ["invalid_pdf", "encrypted", "limit_exceeded"].contains(&err.code()),
                    "{} failed: {err}",
                    e.path.display()
                );
            }
        }
    }
}

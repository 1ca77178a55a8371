//! `rotate` on the dev corpus and on synthetic page trees.

mod support;

use std::process::Command;

use folio_engine::rotate::{self, RotateOptions};
use folio_engine::{Ctx, PageSpec, document};
use lopdf::{Document, Object, dictionary};

fn dev(name: &str) -> Vec<u8> {
    let c = support::corpus().expect("corpus");
    std::fs::read(c.join("dev/pdf").join(name)).expect("read corpus file")
}

fn rotate(bytes: &[u8], angle: u16, pages: &str) -> folio_engine::Result<folio_engine::Output> {
    rotate::rotate(
        bytes,
        &RotateOptions {
            angle,
            pages: pages.parse::<PageSpec>().unwrap(),
            password: None,
        },
        &Ctx::default(),
    )
}

/// Effective `/Rotate` of every page (own entry or inherited), 0..360.
fn rotations(pdf: &[u8]) -> Vec<i64> {
    let doc = document::open(pdf, None, &Ctx::default()).unwrap().doc;
    document::page_nodes(&doc)
        .iter()
        .map(|n| {
            let own = doc.get_dictionary(n.id).unwrap().get(b"Rotate").ok();
            let v = own
                .or_else(|| n.inherited.get(b"Rotate").ok())
                .map(|v| match v {
                    Object::Reference(r) => doc.get_object(*r).unwrap().as_i64().unwrap_or(0),
                    o => o.as_i64().unwrap_or(0),
                })
                .unwrap_or(0);
            let v = if v % 90 != 0 { 0 } else { v };
            v.rem_euclid(360)
        })
        .collect()
}

/// Every non-hostile dev PDF turned 90° clockwise: valid, same page count,
/// every page's rotation grew by 90.
#[test]
fn every_dev_pdf_rotates() {
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).unwrap();
        let out = rotate(&bytes, 90, "all").unwrap_or_else(|err| panic!("{name}: {err}"));
        let pdf = &out.files[0].bytes;
        support::qpdf_check(pdf).unwrap_or_else(|m| panic!("{name}: {m}"));
        assert_eq!(
            support::qpdf_pages(pdf),
            Some(out.report.pages_in),
            "{name}"
        );
        let before = rotations(&bytes);
        let after = rotations(pdf);
        let want: Vec<i64> = before.iter().map(|r| (r + 90) % 360).collect();
        assert_eq!(after, want, "{name}");
    }
}

/// Four quarter turns render exactly like the original.
#[test]
fn four_quarter_turns_render_like_the_original() {
    let bytes = dev("pdfjs__tracemonkey.pdf");
    let mut pdf = bytes.clone();
    for _ in 0..4 {
        pdf = rotate(&pdf, 90, "1-2").unwrap().files.remove(0).bytes;
    }
    let dir = tempfile::tempdir().unwrap();
    let render = |p: &[u8], tag: &str| {
        let f = dir.path().join(format!("{tag}.pdf"));
        std::fs::write(&f, p).unwrap();
        let st = Command::new("pdftoppm")
            .args(["-r", "30", "-gray", "-singlefile", "-f", "1", "-l", "1"])
            .arg(&f)
            .arg(dir.path().join(tag))
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::read(dir.path().join(format!("{tag}.pgm"))).unwrap()
    };
    assert!(render(&bytes, "a") == render(&pdf, "b"));
    let once = rotate(&bytes, 90, "1").unwrap().files.remove(0).bytes;
    assert!(render(&bytes, "c") != render(&once, "d"));
}

/// A page tree node carries `/Rotate 90`; page 1 also has its own 180.
fn synthetic() -> Vec<u8> {
    let mut doc = Document::with_version("1.4");
    let pages = doc.new_object_id();
    let content = doc.add_object(lopdf::Stream::new(
        dictionary! {},
        b"0 0 10 10 re f".to_vec(),
    ));
    let p1 = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "Contents" => content, "Rotate" => 180,
    });
    let p2 =
        doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages, "Contents" => content });
    let p3 = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "Contents" => content, "Rotate" => -90,
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![p1.into(), p2.into(), p3.into()], "Count" => 3,
            "Rotate" => 90,
            "MediaBox" => vec![0.into(), 0.into(), 100.into(), 200.into()],
        }),
    );
    let root = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", root);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn inherited_and_negative_rotations_are_respected() {
    let pdf = synthetic();
    assert_eq!(rotations(&pdf), vec![180, 90, 270]);
    let out = rotate(&pdf, 90, "2-3").unwrap();
    let r = &out.files[0].bytes;
    support::qpdf_check(r).unwrap();
    // Page 1 untouched, page 2 inherited 90 -> 180, page 3 -90 (= 270) -> 0.
    assert_eq!(rotations(r), vec![180, 180, 0]);
    let out = rotate(&pdf, 270, "1").unwrap();
    assert_eq!(rotations(&out.files[0].bytes), vec![90, 90, 270]);
    assert_eq!(out.report.details["pages_rotated"].as_u64(), Some(1));
}

#[test]
fn bad_angles_and_pages_are_typed_errors() {
    let pdf = synthetic();
    for a in [0u16, 45, 360, 450, 91] {
        let e = rotate(&pdf, a, "all").err().unwrap();
        assert_eq!(e.code(), "invalid_options", "angle {a}");
    }
    assert_eq!(
        rotate(&pdf, 90, "4").err().unwrap().code(),
        "page_out_of_range"
    );
    assert_eq!(
        rotate(b"%PDF-1.4 junk", 90, "1").err().unwrap().code(),
        "invalid_pdf"
    );
}

#[test]
fn encrypted_input_needs_the_password() {
    let bytes = dev("pysample__libreoffice-writer-password.pdf");
    assert_eq!(rotate(&bytes, 90, "1").err().unwrap().code(), "encrypted");
    let out = rotate::rotate(
        &bytes,
        &RotateOptions {
            angle: 180,
            pages: PageSpec::all(),
            password: Some("openpassword".into()),
        },
        &Ctx::default(),
    )
    .unwrap();
    support::qpdf_check(&out.files[0].bytes).unwrap();
    assert!(rotations(&out.files[0].bytes).iter().all(|&r| r == 180));
}

#[test]
fn hostile_files_fail_cleanly_or_rotate() {
    for e in support::dev_pdfs() {
        if e.category != "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&e.path).unwrap();
        match rotate(&bytes, 180, "all") {
            Ok(out) => assert_eq!(
                support::qpdf_pages(&out.files[0].bytes),
                Some(out.report.pages_in),
                "{name}"
            ),
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

//! `document::open` on real files: encryption, hostile structure, headers.

mod support;

use folio_engine::{Ctx, document};

fn open_file(name: &str, password: Option<&str>) -> folio_engine::Result<document::Opened> {
    let c = support::corpus().expect("corpus");
    let bytes = std::fs::read(c.join("dev/pdf").join(name)).expect("read corpus file");
    document::open(&bytes, password, &Ctx::default())
}

#[test]
fn user_password_file_needs_the_password() {
    let e = open_file("pysample__libreoffice-writer-password.pdf", None)
        .err()
        .expect("must not open without password");
    assert_eq!(e.code(), "encrypted");
    let e = open_file("pysample__libreoffice-writer-password.pdf", Some("nope"))
        .err()
        .expect("must not open with a wrong password");
    assert_eq!(e.code(), "wrong_password");
    let ok = open_file(
        "pysample__libreoffice-writer-password.pdf",
        Some("openpassword"),
    )
    .expect("opens with the right password");
    assert!(ok.page_count >= 1);
    assert!(ok.was_encrypted);
}

#[test]
fn owner_password_only_files_open_without_password() {
    for f in ["pdfjs__secHandler.pdf", "pdfjs__issue9972-1.pdf"] {
        let o = open_file(f, None).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(o.page_count, 1, "{f}");
    }
}

#[test]
fn not_a_pdf_is_invalid_pdf() {
    let e = document::open(b"hello world", None, &Ctx::default())
        .err()
        .expect("error");
    assert_eq!(e.code(), "invalid_pdf");
    let e = document::open(b"", None, &Ctx::default())
        .err()
        .expect("error");
    assert_eq!(e.code(), "invalid_pdf");
}

#[test]
fn input_size_limit_is_named() {
    let mut ctx = Ctx::default();
    ctx.limits.max_input_bytes = 10;
    let e = document::open(b"%PDF-1.4 and more than ten bytes", None, &ctx)
        .err()
        .expect("error");
    assert_eq!(e.code(), "limit_exceeded");
    assert!(e.to_string().contains("input_bytes"), "{e}");
}

#[test]
fn every_dev_pdf_opens_or_fails_with_a_code() {
    for e in support::dev_pdfs() {
        let bytes = std::fs::read(&e.path).expect("read");
        match document::open(&bytes, None, &Ctx::default()) {
            Ok(o) => {
                if let Some(p) = e.pages
                    && p < 100_000
                    && e.category != "hostile"
                {
                    assert_eq!(o.page_count as u64, p, "{}", e.path.display());
                }
            }
            Err(err) => {
                assert!(
                    e.category == "hostile" || e.category == "encrypted",
                    "{} failed: {err}",
                    e.path.display()
                );
            }
        }
    }
}

//! The CLI as a user runs it: exit codes, one-line errors with codes, files
//! written only on success, batches and JSON reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn folio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(args)
        .output()
        .expect("run folio")
}

fn corpus_pdf(name: &str) -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in here.ancestors() {
        let p = d.join("shared/corpus/dev/pdf").join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    if std::env::var("FOLIO_ALLOW_NO_CORPUS").as_deref() == Ok("1") {
        eprintln!("SKIPPING: corpus file {name} not found");
        return None;
    }
    panic!("corpus file {name} not found above {}", here.display());
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_every_operation() {
    let o = folio(&["--help"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for cmd in [
        "compress",
        "merge",
        "images-to-pdf",
        "split",
        "rotate",
        "text",
        "render",
        "info",
    ] {
        assert!(s.contains(cmd), "help lacks {cmd}: {s}");
    }
}

#[test]
fn missing_input_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pdf");
    let o = folio(&[
        "compress",
        "/nonexistent/x.pdf",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.starts_with("folio: error"), "{e}");
    assert!(e.contains("cannot read"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(!out.exists());
}

#[test]
fn not_a_pdf_fails_with_code_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pdf");
    std::fs::write(&bad, b"this is not a pdf at all").unwrap();
    let out = dir.path().join("o.pdf");
    let o = folio(&[
        "compress",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--level",
        "lossless",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("error[invalid_pdf]"), "{}", stderr(&o));
    assert!(!out.exists(), "no output on failure");
}

#[test]
fn encrypted_without_password_says_encrypted() {
    let Some(p) = corpus_pdf("pysample__libreoffice-writer-password.pdf") else {
        return;
    };
    let o = folio(&["info", p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("error[encrypted]"), "{}", stderr(&o));
    let o = folio(&[
        "info",
        p.to_str().unwrap(),
        "--password",
        "openpassword",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["info"]["encrypted"], true);
    assert!(v["info"]["pages"].as_u64().unwrap() >= 1);
}

#[test]
fn several_inputs_need_out_dir() {
    let o = folio(&["compress", "a.pdf", "b.pdf", "-o", "x.pdf"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--out-dir"), "{}", stderr(&o));
}

#[test]
fn bad_level_and_bad_pages_are_invalid_options() {
    let Some(p) = corpus_pdf("pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.pdf");
    let o = folio(&[
        "compress",
        p.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--level",
        "extreme",
    ]);
    assert!(
        stderr(&o).contains("error[invalid_options]"),
        "{}",
        stderr(&o)
    );
    let o = folio(&[
        "split",
        p.to_str().unwrap(),
        "--pages",
        "0-x",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        stderr(&o).contains("error[invalid_options]"),
        "{}",
        stderr(&o)
    );
    let o = folio(&[
        "split",
        p.to_str().unwrap(),
        "--pages",
        "5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        stderr(&o).contains("error[page_out_of_range]"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn batch_compress_writes_each_output_and_json_reports() {
    let (Some(a), Some(b)) = (
        corpus_pdf("pdf20__Simple_PDF_2.0_file.pdf"),
        corpus_pdf("pysample__google-doc-document.pdf"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = folio(&[
        "compress",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out-dir",
        dir.path().to_str().unwrap(),
        "--level",
        "lossless",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let arr = v.as_array().expect("array of reports");
    assert_eq!(arr.len(), 2);
    for r in arr {
        let rep = &r["report"];
        assert!(rep["bytes_out"].as_u64().unwrap() <= rep["bytes_in"].as_u64().unwrap());
    }
    for name in [
        "pdf20__Simple_PDF_2.0_file.pdf",
        "pysample__google-doc-document.pdf",
    ] {
        let f = dir.path().join(name);
        let bytes = std::fs::read(&f).unwrap_or_else(|_| panic!("{name} written"));
        assert!(bytes.starts_with(b"%PDF-"));
    }
}

#[test]
fn text_goes_to_stdout_and_split_every_writes_parts() {
    let Some(p) = corpus_pdf("pdfjs__tracemonkey.pdf") else {
        return;
    };
    let o = folio(&["text", p.to_str().unwrap(), "--pages", "1-2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("Trace"), "text of tracemonkey page 1: {t:.200}");
    assert_eq!(
        t.matches('\x0c').count(),
        1,
        "two pages, one form feed between"
    );

    let dir = tempfile::tempdir().unwrap();
    let o = folio(&[
        "split",
        p.to_str().unwrap(),
        "--every",
        "5",
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut parts: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 3, "14 pages in chunks of 5: {parts:?}");
}

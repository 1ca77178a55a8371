//! `--sanitize` on real files with JavaScript, launch actions, attachments
//! and XFA: the output has none left (checked by re-reading every object),
//! keeps its pages, and the report says what went.

mod support;

use folio_engine::compress::{CompressOptions, Level, compress};
use folio_engine::merge::{MergeOptions, merge};
use folio_engine::sanitize::sanitize_output;
use folio_engine::{Ctx, Input, Limits, document};
use lopdf::Object;

fn file(rel: &str) -> Option<Vec<u8>> {
    let c = support::corpus()?;
    Some(std::fs::read(c.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

/// Active things left in a PDF, by kind.
fn active(bytes: &[u8]) -> Vec<String> {
    let ctx = Ctx::new(Limits::default());
    let doc = document::open(bytes, None, &ctx).unwrap().doc;
    let mut found = Vec::new();
    fn walk(o: &Object, found: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        let d = match o {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            Object::Array(a) => {
                a.iter().for_each(|o| walk(o, found, depth + 1));
                return;
            }
            _ => return,
        };
        for key in ["JS", "AA", "JavaScript", "EmbeddedFiles", "EF", "XFA"] {
            if d.has(key.as_bytes()) {
                found.push(key.to_string());
            }
        }
        for (k, n) in [
            ("S", "JavaScript"),
            ("S", "Launch"),
            ("Type", "EmbeddedFile"),
            ("Subtype", "FileAttachment"),
        ] {
            if d.get(k.as_bytes()).and_then(|o| o.as_name()).ok() == Some(n.as_bytes()) {
                found.push(n.to_string());
            }
        }
        for (_, v) in d.iter() {
            walk(v, found, depth + 1);
        }
    }
    for o in doc.objects.values() {
        walk(o, &mut found, 0);
    }
    found.sort();
    found.dedup();
    found
}

/// Run merge (or lossless compress, which keeps the catalog's document-level
/// scripts that merge leaves out), then sanitize.
fn merged_and_sanitized(
    rel: &str,
    via_compress: bool,
) -> Option<(Vec<String>, serde_json::Value, Vec<u8>, u32)> {
    let bytes = file(rel)?;
    let ctx = Ctx::new(Limits::default());
    let pages_in = document::open(&bytes, None, &ctx).unwrap().page_count;
    let mut out = if via_compress {
        let opts = CompressOptions {
            level: Level::Lossless,
            ..Default::default()
        };
        compress(&bytes, &opts, &ctx).unwrap()
    } else {
        merge(
            &[Input::new("x.pdf", &bytes)],
            &MergeOptions::default(),
            &ctx,
        )
        .unwrap()
    };
    let before = active(&out.files[0].bytes);
    sanitize_output(&mut out, &ctx).unwrap();
    let details = out.report.details["sanitized"].clone();
    if let Err(e) = support::qpdf_check(&out.files[0].bytes) {
        panic!("{rel}: qpdf --check fails: {e}");
    }
    let pages_out = document::open(&out.files[0].bytes, None, &ctx)
        .unwrap()
        .page_count;
    assert_eq!(pages_in, pages_out, "{rel}: pages kept");
    assert!(out.report.notes.iter().any(|n| n.starts_with("sanitize:")));
    Some((before, details, out.files[0].bytes.clone(), pages_out))
}

#[test]
fn javascript_is_removed() {
    for rel in [
        "pdfjs/issue6106.pdf",
        "pdfjs/opt_demo.pdf",
        "pdfjs/bug1782564.pdf",
    ] {
        let Some((before, details, after, _)) = merged_and_sanitized(rel, true) else {
            return;
        };
        assert!(
            before
                .iter()
                .any(|k| k == "JS" || k == "JavaScript" || k == "AA"),
            "{rel}: the test file has no JavaScript after merge: {before:?}"
        );
        assert!(
            details["javascript"].as_u64().unwrap()
                + details["additional_actions"].as_u64().unwrap()
                > 0,
            "{rel}: {details}"
        );
        assert_eq!(active(&after), Vec::<String>::new(), "{rel}");
    }
}

#[test]
fn attachments_and_launch_actions_are_removed() {
    for (rel, key) in [
        ("pdfjs/attachment.pdf", "embedded_files"),
        ("pdfjs/issue17846.pdf", "launch_actions"),
    ] {
        let Some((before, details, after, _)) = merged_and_sanitized(rel, false) else {
            return;
        };
        assert!(!before.is_empty(), "{rel}");
        assert!(details[key].as_u64().unwrap() > 0, "{rel}: {details}");
        assert_eq!(active(&after), Vec::<String>::new(), "{rel}");
    }
}

#[test]
fn xfa_is_removed_by_compress_sanitize() {
    let Some(bytes) = file("dev/pdf/pdfjs__xfa_filled_imm1344e.pdf") else {
        return;
    };
    let ctx = Ctx::new(Limits::default());
    let opts = CompressOptions {
        level: Level::Lossless,
        ..Default::default()
    };
    let mut out = compress(&bytes, &opts, &ctx).unwrap();
    assert!(active(&out.files[0].bytes).contains(&"XFA".to_string()));
    sanitize_output(&mut out, &ctx).unwrap();
    assert_eq!(out.report.details["sanitized"]["xfa"], 1);
    assert!(!active(&out.files[0].bytes).contains(&"XFA".to_string()));
}

#[test]
fn clean_files_are_left_alone() {
    let Some(bytes) = file("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let ctx = Ctx::new(Limits::default());
    let mut out = merge(
        &[Input::new("x.pdf", &bytes)],
        &MergeOptions::default(),
        &ctx,
    )
    .unwrap();
    let before = out.files[0].bytes.clone();
    sanitize_output(&mut out, &ctx).unwrap();
    assert_eq!(
        out.files[0].bytes, before,
        "nothing to remove: bytes unchanged"
    );
    assert_eq!(out.report.details["sanitized"]["javascript"], 0);
}

//! Safe file names. Client file names are only ever used for display and for
//! the download name, and even then only after [`sanitize`]: ASCII letters,
//! digits, `.`, `-`, `_`; no path separators, no leading dots, bounded length.

use crate::Operation;

const MAX_LEN: usize = 100;

/// A file name safe for `Content-Disposition` and logs. Falls back to
/// `document` when nothing usable remains.
pub fn sanitize(name: &str) -> String {
    // Last path component only (clients send `C:\dir\a.pdf` or `dir/a.pdf`).
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::with_capacity(base.len().min(MAX_LEN));
    let mut last_dash = false;
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '-'
        };
        if c == '-' && last_dash {
            continue;
        }
        last_dash = c == '-';
        out.push(c);
        if out.len() >= MAX_LEN {
            break;
        }
    }
    let trimmed = out
        .trim_start_matches(['.', '-'])
        .trim_end_matches(['-', '.']);
    if trimmed.is_empty() {
        "document".into()
    } else {
        trimmed.to_string()
    }
}

/// The file stem (name without its last extension) of a sanitized name.
pub fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// The download name for a job's result: `<first input stem>-<operation>.<ext>`
/// (merge: `merged.pdf`; images-to-pdf: `images.pdf`).
pub fn result_name(op: Operation, first_input: &str, ext: &str) -> String {
    let stem = stem(first_input);
    let base = match op {
        Operation::Merge => "merged".to_string(),
        Operation::ImagesToPdf => format!("{stem}-images"),
        Operation::Compress => format!("{stem}-compressed"),
        Operation::Rotate => format!("{stem}-rotated"),
        Operation::Split => format!("{stem}-split"),
        Operation::Text => stem.to_string(),
        Operation::Render => format!("{stem}-page"),
    };
    sanitize(&format!("{base}.{ext}"))
}

/// The usual extension for a media type.
pub fn extension(media_type: &str) -> &'static str {
    let mt = media_type.split(';').next().unwrap_or("").trim();
    match mt {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "application/zip" => "zip",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_paths_and_oddities() {
        assert_eq!(sanitize("report.pdf"), "report.pdf");
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitize("C:\\Users\\me\\My Report (1).pdf"),
            "My-Report-1-.pdf"
        );
        assert_eq!(
            sanitize("\"quoted\";\r\nX-Evil: 1.pdf"),
            "quoted-X-Evil-1.pdf"
        );
        assert_eq!(sanitize(".hidden"), "hidden");
        assert_eq!(sanitize(""), "document");
        assert_eq!(sanitize("日本語"), "document");
        assert!(sanitize(&"a".repeat(500)).len() <= MAX_LEN);
    }

    #[test]
    fn result_names() {
        assert_eq!(
            result_name(Operation::Compress, "scan.pdf", "pdf"),
            "scan-compressed.pdf"
        );
        assert_eq!(result_name(Operation::Merge, "a.pdf", "pdf"), "merged.pdf");
        assert_eq!(
            result_name(Operation::Split, "book.pdf", "zip"),
            "book-split.zip"
        );
        assert_eq!(result_name(Operation::Text, "book.pdf", "txt"), "book.txt");
        assert_eq!(extension("text/plain; charset=utf-8"), "txt");
    }
}

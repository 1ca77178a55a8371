//! `Content-Disposition` for downloads. Result names are already built from
//! sanitized input names, but this is the last line: whatever the name, the
//! header carries no CR/LF, quotes, backslashes or path parts, an ASCII
//! `filename` fallback and the exact name as RFC 5987 `filename*`.

/// `attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>`.
pub fn attachment(name: &str) -> String {
    // Last path component only; control characters dropped.
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().trim_start_matches('.');
    let clean = if clean.is_empty() { "download" } else { clean };
    let ascii = folio_jobs::names::sanitize(clean);
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        encode_5987(clean)
    )
}

/// RFC 5987 `value-chars`: attr-char stays, everything else is %XX of UTF-8.
fn encode_5987(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        assert_eq!(
            attachment("report-compressed.pdf"),
            "attachment; filename=\"report-compressed.pdf\"; filename*=UTF-8''report-compressed.pdf"
        );
    }

    #[test]
    fn hostile_names_are_neutralised() {
        for evil in [
            "a\r\nSet-Cookie: x=1.pdf",
            "\"; filename=evil.exe",
            "../../etc/passwd",
            "C:\\Windows\\system32\\x.pdf",
            "..",
            "",
        ] {
            let v = attachment(evil);
            assert!(!v.contains('\r') && !v.contains('\n'), "{v}");
            assert!(!v.contains('/') && !v.contains('\\'), "{v}");
            // Exactly the two quotes around the ASCII fallback.
            assert_eq!(v.matches('"').count(), 2, "{v}");
            assert!(http::HeaderValue::from_str(&v).is_ok(), "{v}");
        }
    }

    #[test]
    fn unicode_names_keep_their_name_in_filename_star() {
        let v = attachment("résumé 日本.pdf");
        assert!(
            v.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.pdf"),
            "{v}"
        );
        assert!(v.is_ascii());
    }
}

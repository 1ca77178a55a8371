//! `GET /openapi.json` and `GET /docs`: the API description and a small page
//! that renders it, both served from the binary (no CDN, no build download).

use std::sync::LazyLock;

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("../../assets/docs.html");

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// The page's policy allows exactly its own inline `<script>` and `<style>`
/// (by hash) and fetching `/openapi.json` from this origin — nothing else.
static DOCS_CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        inline_hashes(PAGE, "script"),
        inline_hashes(PAGE, "style"),
    )
});

pub async fn docs() -> Response {
    let mut r = Html(PAGE).into_response();
    if let Ok(v) = HeaderValue::from_str(&DOCS_CSP) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// `'sha256-…'` sources for every inline `<tag>…</tag>` of the page
/// (`'none'` if there are none).
pub fn inline_hashes(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let Some(j) = body.find(&close) else { break };
        out.push(format!(
            "'sha256-{}'",
            base64(&Sha256::digest(&body.as_bytes()[..j]))
        ));
        rest = &body[j + close.len()..];
    }
    if out.is_empty() {
        "'none'".into()
    } else {
        out.join(" ")
    }
}

/// Standard base64 with padding (CSP hash sources use it).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_docs_page_scripts_are_hashed() {
        assert!(DOCS_CSP.contains("script-src 'sha256-"), "{}", *DOCS_CSP);
        assert!(DOCS_CSP.contains("style-src 'sha256-"), "{}", *DOCS_CSP);
        assert!(!DOCS_CSP.contains("unsafe-inline"));
    }
}

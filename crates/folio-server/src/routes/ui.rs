//! The web UI: `/` (convert files) and `/admin` (queue and storage), with
//! their scripts and stylesheet under `/ui/`. Plain HTML/CSS/JS embedded in
//! the binary: no build step, no CDN, works offline.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and styles
//! only from this origin (no inline code), images from this origin or `blob:`
//! (thumbnails), requests only to this origin, no framing.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::error::ApiError;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";

/// One embedded file: its bytes and Content-Type.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

fn asset(name: &str) -> Option<Asset> {
    let (body, content_type): (&'static [u8], &'static str) = match name {
        "index.html" => (include_bytes!("../../ui/index.html"), HTML),
        "admin.html" => (include_bytes!("../../ui/admin.html"), HTML),
        "app.js" => (
            include_bytes!("../../ui/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "key.js" => (
            include_bytes!("../../ui/key.js"),
            "text/javascript; charset=utf-8",
        ),
        "admin.js" => (
            include_bytes!("../../ui/admin.js"),
            "text/javascript; charset=utf-8",
        ),
        "style.css" => (
            include_bytes!("../../ui/style.css"),
            "text/css; charset=utf-8",
        ),
        _ => return None,
    };
    Some(Asset { body, content_type })
}

fn serve(a: Asset) -> Response {
    let mut r = (StatusCode::OK, a.body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Small files that change with each release: revalidate every time
    // rather than run an old script against a newer API.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn page(name: &str) -> Response {
    match asset(name) {
        Some(a) => serve(a),
        None => ApiError::internal(format!("embedded page {name} is missing")).into_response(),
    }
}

pub async fn index() -> Response {
    page("index.html")
}

pub async fn admin() -> Response {
    page("admin.html")
}

/// `/ui/{file}`: the scripts and the stylesheet (not the pages themselves,
/// which have their own paths).
pub async fn ui_asset(Path(file): Path<String>) -> Response {
    match asset(&file).filter(|a| a.content_type != HTML) {
        Some(a) => serve(a),
        None => ApiError::not_found(format!("no UI file {file}")).into_response(),
    }
}

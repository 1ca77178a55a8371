//! Multipart uploads, streamed straight into storage.
//!
//! Every part with a file name is an input, in order, whatever its field
//! name (`file`, `files`, `files[]`...); other parts are options. Nothing is
//! held whole in memory: each file's first kilobyte is inspected (magic
//! bytes, not the client's Content-Type), then the stream goes to storage,
//! which stops with 413 as soon as the request's byte budget is crossed.

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use bytes::{Bytes, BytesMut};
use folio_jobs::names::sanitize;
use folio_jobs::{FileKind, InputRef, Operation};
use futures_util::StreamExt;
use http::StatusCode;

use crate::error::{ApiError, ApiResult, UploadRejected};
use crate::state::AppState;

/// How far into a file `%PDF-` may start (PDF readers allow leading junk).
const PDF_HEADER_WINDOW: usize = 1024;
/// Largest non-file form field.
const MAX_FIELD_BYTES: usize = 16 * 1024;
const MAX_FIELDS: usize = 64;

pub struct Upload {
    pub inputs: Vec<InputRef>,
    pub fields: Vec<(String, String)>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.body_text(),
        )
    } else {
        ApiError::bad_request(
            "bad_multipart",
            format!("the multipart body could not be read: {}", e.body_text()),
        )
    }
}

/// What the first bytes say the file is.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let window = &head[..head.len().min(PDF_HEADER_WINDOW)];
    if window.windows(5).any(|w| w == b"%PDF-") {
        return Some("pdf");
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("jpeg");
    }
    if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Some("png");
    }
    if head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || head.starts_with(b"II+\0")
        || head.starts_with(b"MM\0+")
    {
        return Some("tiff");
    }
    None
}

fn check_kind(kind: FileKind, head: &[u8], name: &str) -> ApiResult<()> {
    let found = sniff(head);
    let ok = match kind {
        FileKind::Pdf => found == Some("pdf"),
        FileKind::Image => matches!(found, Some("jpeg" | "png" | "tiff")),
    };
    if ok {
        return Ok(());
    }
    let wanted = match kind {
        FileKind::Pdf => "a PDF (%PDF- within the first 1 KB)",
        FileKind::Image => "a JPEG, PNG or TIFF image",
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
        format!(
            "'{name}' is not {wanted}; its content looks like {}",
            found.unwrap_or("something else")
        ),
    )
    .with("file", name))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the upload exceeds the limit of {limit} bytes"),
    )
    .with("limit", limit)
}

/// Receive every part. On any error, files stored so far are deleted.
pub async fn receive(state: &AppState, op: Operation, mut mp: Multipart) -> ApiResult<Upload> {
    let mut up = Upload {
        inputs: Vec::new(),
        fields: Vec::new(),
    };
    let r = receive_parts(state, op, &mut mp, &mut up).await;
    if r.is_err() {
        discard(state, &up.inputs).await;
    }
    r.map(|_| up)
}

pub async fn discard(state: &AppState, inputs: &[InputRef]) {
    for i in inputs {
        let _ = state.storage.delete(&i.key).await;
    }
}

async fn receive_parts(
    state: &AppState,
    op: Operation,
    mp: &mut Multipart,
    up: &mut Upload,
) -> ApiResult<()> {
    let limit = state.cfg.max_upload_bytes;
    let mut budget = limit;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let Some(file_name) = field.file_name().map(sanitize) else {
            // An option.
            let name = field.name().unwrap_or("").to_string();
            if up.fields.len() >= MAX_FIELDS {
                return Err(ApiError::bad_request(
                    "invalid_options",
                    "too many form fields",
                ));
            }
            let mut value = BytesMut::new();
            while let Some(c) = field.chunk().await.map_err(multipart_error)? {
                value.extend_from_slice(&c);
                if value.len() > MAX_FIELD_BYTES {
                    return Err(ApiError::bad_request(
                        "invalid_options",
                        format!("form field '{name}' is longer than {MAX_FIELD_BYTES} bytes"),
                    ));
                }
            }
            budget = budget
                .checked_sub(value.len() as u64)
                .ok_or_else(|| too_large(limit))?;
            let value = String::from_utf8(value.to_vec()).map_err(|_| {
                ApiError::bad_request(
                    "invalid_options",
                    format!("form field '{name}' is not UTF-8"),
                )
            })?;
            up.fields.push((name, value));
            continue;
        };
        if up.inputs.len() >= state.cfg.max_files {
            return Err(ApiError::bad_request(
                "too_many_files",
                format!("at most {} files per request", state.cfg.max_files),
            ));
        }
        // Peek at the first kilobyte to check what the file really is.
        let mut head = BytesMut::new();
        while head.len() < PDF_HEADER_WINDOW {
            match field.chunk().await.map_err(multipart_error)? {
                Some(c) => {
                    head.extend_from_slice(&c);
                    if head.len() as u64 > budget {
                        return Err(too_large(limit));
                    }
                }
                None => break,
            }
        }
        if head.is_empty() {
            return Err(ApiError::bad_request(
                "empty_file",
                format!("'{file_name}' is empty"),
            ));
        }
        check_kind(op.input_kind(), &head, &file_name)?;
        let rest = futures_util::stream::unfold(field, |mut f| async move {
            match f.chunk().await {
                Ok(Some(c)) => Some((Ok(c), f)),
                Ok(None) => None,
                Err(e) => Some((
                    Err(std::io::Error::other(UploadRejected(multipart_error(e)))),
                    f,
                )),
            }
        });
        let body =
            futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(head.freeze()) })
                .chain(rest);
        let stored = match state.storage.put(Box::pin(body), Some(budget)).await {
            Ok(s) => s,
            Err(folio_storage::StorageError::TooLarge { .. }) => return Err(too_large(limit)),
            Err(e) => return Err(e.into()),
        };
        budget -= stored.size.min(budget);
        up.inputs.push(InputRef {
            key: stored.key,
            name: file_name,
            size: stored.size,
            sha256: stored.sha256,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("pdf"));
        let mut junk = vec![b' '; 1000];
        junk.extend_from_slice(b"%PDF-1.4");
        assert_eq!(sniff(&junk), Some("pdf"));
        let mut late = vec![b' '; 1020];
        late.extend_from_slice(b"%PDF-1.4");
        assert_eq!(
            sniff(&late),
            None,
            "header must start within the first 1 KB"
        );
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff(b"II*\0...."), Some("tiff"));
        assert_eq!(sniff(b"<html>"), None);
    }
}

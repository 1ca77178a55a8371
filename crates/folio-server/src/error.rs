//! One error type for every handler, rendered as an RFC 7807 problem document
//! (`application/problem+json`) with a stable `code`. Engine codes
//! (`invalid_pdf`, `encrypted`...) and service codes share one namespace.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    /// Extra members of the problem document (`job_id`, `checks`...).
    pub extra: Map<String, Value>,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            detail: detail.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// The problem for a failed job's error code (engine or service code).
    pub fn from_job_error(code: &str, message: &str) -> Self {
        ApiError::new(status_for_code(code), code, message)
    }
}

/// HTTP status for a job error code. Input problems are 422 (the request was
/// well-formed, the document is not workable), bad options 400, service
/// faults 500.
pub fn status_for_code(code: &str) -> StatusCode {
    match code {
        "invalid_options" | "page_out_of_range" => StatusCode::BAD_REQUEST,
        "invalid_pdf"
        | "encrypted"
        | "wrong_password"
        | "unsupported_image"
        | "unsupported_feature"
        | "limit_exceeded"
        | "crashed"
        | "timeout" => StatusCode::UNPROCESSABLE_ENTITY,
        "cancelled" => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("/docs#problem-{}", self.code),
            "title": title(self.status),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let Value::Object(m) = &mut body {
            for (k, v) in self.extra {
                m.insert(k, v);
            }
        }
        if self.status.is_server_error() {
            tracing::error!(code = %self.code, detail = %self.detail, "request failed");
        }
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (k, v) in self.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

impl From<folio_db::StoreError> for ApiError {
    fn from(e: folio_db::StoreError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database", e.to_string())
    }
}

impl From<folio_storage::StorageError> for ApiError {
    fn from(e: folio_storage::StorageError) -> Self {
        use folio_storage::StorageError as S;
        match e {
            S::TooLarge { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the upload exceeds the limit of {limit} bytes"),
            )
            .with("limit", limit),
            S::Body(io) => match io
                .get_ref()
                .and_then(|e| e.downcast_ref::<UploadRejected>())
            {
                Some(r) => r.0.clone_error(),
                None => ApiError::bad_request(
                    "bad_upload",
                    format!("the upload could not be read: {io}"),
                ),
            },
            S::NotFound(_) => {
                ApiError::new(StatusCode::GONE, "expired", "the file is no longer stored")
            }
            other => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage",
                other.to_string(),
            ),
        }
    }
}

/// An upload refused while streaming (inside an `io::Error`), carried out
/// through the storage layer.
#[derive(Debug)]
pub struct UploadRejected(pub ApiError);

impl std::fmt::Display for UploadRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.detail)
    }
}

impl std::error::Error for UploadRejected {}

impl ApiError {
    fn clone_error(&self) -> ApiError {
        ApiError {
            status: self.status,
            code: self.code.clone(),
            detail: self.detail.clone(),
            extra: self.extra.clone(),
            headers: self.headers.clone(),
        }
    }
}

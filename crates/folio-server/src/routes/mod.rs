//! One file per group of handlers; the route table is in `lib.rs`.

pub mod admin;
pub mod docs;
pub mod events;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod result;
pub mod submit;
pub mod ui;

use http::Uri;

use crate::error::ApiError;

/// Unknown paths: a problem document rather than an empty 404.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

pub async fn method_not_allowed(method: http::Method, uri: Uri) -> ApiError {
    ApiError::new(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

//! `GET /openapi.json` and `GET /docs`: the API description and a small page
//! that renders it, both served from the binary (no CDN, no build download).

use axum::Json;
use axum::response::Html;
use serde_json::Value;

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub async fn docs() -> Html<&'static str> {
    Html(include_str!("../../assets/docs.html"))
}

//! Facts about a PDF: pages, version, encryption, producer, what takes the bytes.

use crate::{Ctx, Error, Result};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Info {
    pub pages: u32,
    pub version: String,
    pub encrypted: bool,
    pub producer: Option<String>,
    pub creator: Option<String>,
    pub title: Option<String>,
    pub bytes: u64,
    pub images: u32,
    pub image_bytes: u64,
    pub fonts: u32,
    pub font_bytes: u64,
    pub content_streams: u32,
    pub content_bytes: u64,
}

pub fn info(input: &[u8], password: Option<&str>, ctx: &Ctx) -> Result<Info> {
    let _ = (input, password, ctx);
    Err(Error::UnsupportedFeature(
        "info is not implemented yet".into(),
    ))
}

//! Render a page to PNG (thumbnails, and the quality checks of compression).

use crate::{Ctx, Error, Output, Result};

#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// 1-based page number.
    pub page: u32,
    /// Resolution in dots per inch.
    pub dpi: f32,
    pub password: Option<String>,
}

pub fn render(input: &[u8], opts: &RenderOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (input, opts, ctx);
    Err(Error::UnsupportedFeature(
        "render is not implemented yet".into(),
    ))
}

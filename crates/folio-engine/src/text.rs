//! Text extraction in reading order, pages separated by form feeds.

use crate::{Ctx, Error, Output, PageSpec, Result};

#[derive(Debug, Clone)]
pub struct TextOptions {
    pub pages: PageSpec,
    pub password: Option<String>,
}

pub fn text(input: &[u8], opts: &TextOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (input, opts, ctx);
    Err(Error::UnsupportedFeature(
        "text is not implemented yet".into(),
    ))
}

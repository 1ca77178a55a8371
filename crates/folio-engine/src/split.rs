//! Extract a page selection into one file, or cut a document into chunks.

use crate::{Ctx, Error, Output, PageSpec, Result};

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub pages: PageSpec,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// Pages per chunk (≥ 1).
    pub every: u32,
    pub password: Option<String>,
}

pub fn extract(input: &[u8], opts: &ExtractOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (input, opts, ctx);
    Err(Error::UnsupportedFeature(
        "extract is not implemented yet".into(),
    ))
}

pub fn split_every(input: &[u8], opts: &SplitOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (input, opts, ctx);
    Err(Error::UnsupportedFeature(
        "split is not implemented yet".into(),
    ))
}

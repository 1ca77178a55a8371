//! Merge several PDFs into one, keeping outlines, links and form fields.

use crate::{Ctx, Error, Input, Output, Result};

#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Password tried on every encrypted input.
    pub password: Option<String>,
}

pub fn merge(inputs: &[Input<'_>], opts: &MergeOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (inputs, opts, ctx);
    Err(Error::UnsupportedFeature(
        "merge is not implemented yet".into(),
    ))
}

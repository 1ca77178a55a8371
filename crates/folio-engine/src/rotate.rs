//! Rotate pages by a multiple of 90°.

use crate::{Ctx, Error, Output, PageSpec, Result};

#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// 90, 180 or 270 (clockwise, as viewers show it).
    pub angle: u16,
    pub pages: PageSpec,
    pub password: Option<String>,
}

pub fn rotate(input: &[u8], opts: &RotateOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (input, opts, ctx);
    Err(Error::UnsupportedFeature(
        "rotate is not implemented yet".into(),
    ))
}

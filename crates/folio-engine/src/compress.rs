//! Compression. `lossless` rewrites the file compactly; lossy levels
//! (`balanced`, `strong`) are planned to resample/re-encode images.

use crate::{Ctx, Error, Output, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Lossless,
    #[default]
    Balanced,
    Strong,
}

impl std::str::FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lossless" => Ok(Level::Lossless),
            "balanced" | "" => Ok(Level::Balanced),
            "strong" => Ok(Level::Strong),
            other => Err(Error::InvalidOptions(format!(
                "unknown compression level '{other}' (use lossless, balanced or strong)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CompressOptions {
    pub level: Level,
    /// Aim for an output no larger than this many bytes (lossy levels).
    pub target_size: Option<u64>,
    /// Minimum page SSIM to keep (lossy levels); each level has a default.
    pub min_ssim: Option<f32>,
    pub password: Option<String>,
}

pub fn compress(input: &[u8], opts: &CompressOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (input, opts, ctx);
    Err(Error::UnsupportedFeature(
        "compress is not implemented yet".into(),
    ))
}

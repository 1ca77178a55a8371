//! The per-image pass of the lossy levels (`balanced`, `strong`).
//!
//! Not implemented yet: the lossy levels currently run the lossless pipeline
//! and say so in the report. This is where resampling and re-encoding of
//! image XObjects plugs in; it runs before the lossless stream pass, so the
//! images it leaves untouched are still re-deflated and deduplicated.

use lopdf::Document;

use super::Level;
use crate::{Ctx, Report, Result};

/// Counts from the image pass, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImageStats {
    pub images_recompressed: usize,
    pub bytes_saved: u64,
}

/// Re-encode images for a lossy `level`; a no-op for `Level::Lossless`.
pub fn recompress_images(
    _doc: &mut Document,
    level: Level,
    ctx: &Ctx,
    report: &mut Report,
) -> Result<ImageStats> {
    ctx.check()?;
    if level != Level::Lossless {
        report.notes.push(
            "lossy image recompression not yet applied: only lossless optimisation was done".into(),
        );
    }
    Ok(ImageStats::default())
}

//! The per-image pass of the lossy levels (`balanced`, `strong`), backed
//! by [`crate::imaging`]: images are resampled to the level's target
//! resolution (from where they are drawn on the page) and re-encoded (JPEG
//! for photographic content, Flate with predictors for graphics), each kept
//! only when smaller. It runs before the lossless stream pass, so the images
//! it leaves untouched are still re-deflated and deduplicated.

use lopdf::Document;

use super::Level;
use crate::imaging::{self, Action, ImagePolicy};
use crate::{Ctx, Report, Result};

/// At most this many per-image entries go into the report's details.
const MAX_REPORTED_IMAGES: usize = 200;

/// Counts from the image pass, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImageStats {
    pub images_recompressed: usize,
    pub bytes_saved: u64,
}

/// The image policy of a level; `None` for `Level::Lossless`.
pub fn policy(level: Level) -> Option<ImagePolicy> {
    match level {
        Level::Lossless => None,
        Level::Balanced => Some(ImagePolicy::balanced()),
        Level::Strong => Some(ImagePolicy::strong()),
    }
}

/// Re-encode images for a lossy `level`; a no-op for `Level::Lossless`.
pub fn recompress_images(
    doc: &mut Document,
    level: Level,
    ctx: &Ctx,
    report: &mut Report,
) -> Result<ImageStats> {
    ctx.check()?;
    let Some(policy) = policy(level) else {
        return Ok(ImageStats::default());
    };
    let actions = imaging::recompress_images(doc, &policy, ctx)?;
    let mut stats = ImageStats::default();
    let (mut downsampled, mut reencoded, mut deduplicated) = (0usize, 0usize, 0usize);
    for a in &actions {
        match a.action {
            Action::DownsampledJpeg | Action::DownsampledFlate => downsampled += 1,
            Action::Jpeg | Action::Flate => reencoded += 1,
            Action::Deduplicated { .. } => deduplicated += 1,
            Action::Kept { .. } => {}
        }
        if a.changed() || matches!(a.action, Action::Deduplicated { .. }) {
            stats.bytes_saved += a.before_bytes.saturating_sub(a.after_bytes);
        }
    }
    stats.images_recompressed = downsampled + reencoded;
    if downsampled > 0 {
        report.notes.push(format!(
            "{downsampled} image(s) downsampled to about {:.0} ppi",
            policy.effective_ppi()
        ));
    }
    if reencoded > 0 {
        report.notes.push(format!(
            "{reencoded} image(s) re-encoded at their resolution"
        ));
    }
    report.detail("image_target_ppi", policy.effective_ppi());
    report.detail("image_jpeg_quality", policy.effective_quality() as u64);
    report.detail("images_seen", actions.len() as u64);
    report.detail("images_downsampled", downsampled as u64);
    report.detail("images_reencoded", reencoded as u64);
    report.detail("images_deduplicated", deduplicated as u64);
    let listed: Vec<&imaging::ImageAction> = actions.iter().take(MAX_REPORTED_IMAGES).collect();
    if let Ok(v) = serde_json::to_value(listed) {
        report.detail("images", v);
    }
    Ok(stats)
}

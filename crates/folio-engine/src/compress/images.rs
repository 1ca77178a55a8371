//! The per-image pass of the lossy levels (`balanced`, `strong`), backed
//! by [`crate::imaging`]: images are resampled to the level's target
//! resolution (from where they are drawn on the page) and re-encoded (JPEG
//! for photographic content, Flate with predictors for graphics), each kept
//! only when smaller. It runs before the lossless stream pass, so the images
//! it leaves untouched are still re-deflated and deduplicated.

use super::Level;
use crate::Report;
use crate::imaging::{self, Action, ImagePass, ImagePolicy};

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
    let policy = match level {
        Level::Lossless => return None,
        Level::Balanced => ImagePolicy::balanced(),
        Level::Strong => ImagePolicy::strong(),
    };
    // Scans averaged down to at least the gate's resolution leave their
    // averaged pixels for the gate's renders of the original (see
    // `super::reference_pdf`).
    Some(ImagePolicy {
        reference_ppi: Some(super::quality::GATE_DPI),
        ..policy
    })
}

/// Describe an image pass in `report` (notes, counts, per-image actions).
pub fn describe(pass: &ImagePass, policy: &ImagePolicy, report: &mut Report) -> ImageStats {
    let mut stats = ImageStats::default();
    let (mut downsampled, mut reencoded, mut deduplicated) = (0usize, 0usize, 0usize);
    for a in &pass.actions {
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
    report.detail("images_seen", pass.actions.len() as u64);
    report.detail("images_downsampled", downsampled as u64);
    report.detail("images_reencoded", reencoded as u64);
    report.detail("images_deduplicated", deduplicated as u64);
    let listed: Vec<&imaging::ImageAction> =
        pass.actions.iter().take(MAX_REPORTED_IMAGES).collect();
    if let Ok(v) = serde_json::to_value(listed) {
        report.detail("images", v);
    }
    stats
}

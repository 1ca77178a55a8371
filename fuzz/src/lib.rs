//! The engine entries the fuzz targets drive. Errors are expected (hostile
//! input); a panic, abort, hang or runaway allocation is a finding. Limits
//! are small so that each run stays fast and allocation limits are exercised.

use folio_engine::compress::{CompressOptions, Level, compress as run_compress};
use folio_engine::images::{ImagesOptions, images_to_pdf};
use folio_engine::merge::{MergeOptions, merge as run_merge};
use folio_engine::render::{RenderOptions, render as run_render};
use folio_engine::text::{TextOptions, text as run_text};
use folio_engine::{Ctx, Input, Limits, document};

fn ctx() -> Ctx {
    // Well under libFuzzer's -rss_limit_mb and -timeout (scripts/fuzz-smoke.sh):
    // an input that gets past these is a finding, not noise.
    let limits = Limits {
        max_input_bytes: 4 << 20,
        max_pages: 50,
        max_image_pixels: 20_000_000,
        max_stream_bytes: 64 << 20,
        max_document_bytes: 256 << 20,
        wall_time: std::time::Duration::from_secs(20),
        ..Limits::default()
    };
    Ctx::new(limits)
}

pub fn load(data: &[u8]) {
    let _ = document::open(data, None, &ctx());
}

pub fn compress(data: &[u8]) {
    let opts = CompressOptions {
        level: Level::Lossless,
        ..Default::default()
    };
    let _ = run_compress(data, &opts, &ctx());
}

/// The lossy path: image decoders (DCT, Flate, JPX, JBIG2, CCITT through
/// hayro), mozjpeg, resampling, and the quality gate's renders.
pub fn compress_lossy(data: &[u8]) {
    let opts = CompressOptions {
        level: Level::Balanced,
        ..Default::default()
    };
    let _ = run_compress(data, &opts, &ctx());
}

/// Page 1 at a small resolution: content streams, fonts, shadings, images.
pub fn render(data: &[u8]) {
    let opts = RenderOptions {
        dpi: 24.0,
        ..Default::default()
    };
    let _ = run_render(data, &opts, &ctx());
}

/// Two documents from one input: split at the middle, so both halves mutate.
pub fn merge(data: &[u8]) {
    let (a, b) = data.split_at(data.len() / 2);
    let inputs = [Input::new("a.pdf", a), Input::new("b.pdf", b)];
    let _ = run_merge(&inputs, &MergeOptions::default(), &ctx());
}

pub fn text(data: &[u8]) {
    let _ = run_text(data, &TextOptions::default(), &ctx());
}

/// One image input (the format is whatever the bytes are: the per-format
/// targets differ by their seed corpus).
pub fn images(data: &[u8]) {
    let _ = images_to_pdf(
        &[Input::new("i", data)],
        &ImagesOptions::default(),
        &ctx(),
    );
}

/// Every entry by name, for the replay driver.
pub const ENTRIES: &[(&str, fn(&[u8]))] = &[
    ("load", load),
    ("compress", compress),
    ("compress_lossy", compress_lossy),
    ("render", render),
    ("merge", merge),
    ("text", text),
    ("images", images),
];

//! The engine entries the fuzz targets drive. Errors are expected (hostile
//! input); a panic, abort, hang or runaway allocation is a finding. Limits
//! are small so that each run stays fast and allocation limits are exercised.

use folio_engine::compress::{CompressOptions, Level, compress as run_compress};
use folio_engine::images::{ImagesOptions, images_to_pdf};
use folio_engine::merge::{MergeOptions, merge as run_merge};
use folio_engine::text::{TextOptions, text as run_text};
use folio_engine::{Ctx, Input, Limits, document};

fn ctx() -> Ctx {
    let limits = Limits {
        max_input_bytes: 4 << 20,
        max_pages: 50,
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
    ("merge", merge),
    ("text", text),
    ("images", images),
];

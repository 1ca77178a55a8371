//! Folio's engine: PDF operations on bytes, synchronous, bounded.
//!
//! Every operation takes its input bytes, typed options and a [`Ctx`]
//! (limits, deadline, progress, cancel) and returns an [`Output`] (files plus a
//! [`Report`]) or an [`Error`] with a stable code. The engine never touches the
//! network, storage or a runtime: the CLI and the service feed it bytes.
//!
//! Module map:
//! - [`document`]: open (lopdf, limits, encryption) and write (with a second-parser check)
//! - [`compress`], [`merge`], [`images`], [`split`], [`rotate`], [`text`], [`render`], [`info`]: one operation each
//! - [`imaging`]: lossy image recompression blocks (placement, decode, encode, SSIM)
//! - [`sanitize`]: remove JavaScript, launch actions, embedded files and XFA (`--sanitize`)
//! - [`pages`]: page selections such as `1-3,7,10-`
//! - `deflate`: the one zlib encoder setting of everything `compress` writes
//! - [`preflight`]: bounded checks of what a page uses, before hayro decodes it
//! - [`limits`], [`error`], [`report`]: the contract shared by all operations

mod compact;
pub mod compress;
mod deflate;
pub mod document;
pub mod error;
pub mod images;
pub mod imaging;
pub mod info;
pub mod limits;
pub mod merge;
pub mod pages;
mod parallel;
pub mod preflight;
pub mod render;
pub mod report;
pub mod rotate;
pub mod sanitize;
pub mod split;
pub mod text;

pub use error::{Error, LimitKind, Result};
pub use limits::{Ctx, Limits};
pub use pages::PageSpec;
pub use report::{Output, OutputFile, Report};

pub use parallel::work_on_this_thread;

/// One named input: the name is used in reports, bookmarks and errors only,
/// never as a path.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(name: &'a str, bytes: &'a [u8]) -> Self {
        Input { name, bytes }
    }
}

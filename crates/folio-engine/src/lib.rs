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

/// Make the calling thread worker 0 of rayon's global pool, for a process
/// whose main thread does nothing but run operations (the CLI, the job
/// child). Without it every parallel step hands its work to a pool thread
/// and blocks until one wakes up: on a one-page file that was 0.3 ms of a
/// 2.8 ms run (strace: two futex waits of 230 and 98 µs). Call it before
/// the first operation; later calls, or a pool already built, leave things
/// as they are.
pub fn work_on_this_thread() {
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global()
    {
        tracing::debug!("rayon's pool was already built: {e}");
    }
}

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

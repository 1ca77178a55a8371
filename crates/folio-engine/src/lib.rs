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

/// Make the calling thread worker 0 of a rayon pool, for a process whose
/// main thread does nothing but run operations (the CLI, the job child).
/// Without it every parallel step hands its work to a pool thread and blocks
/// until one wakes up: on a one-page file that was 0.3 ms of a 2.8 ms run
/// (strace: two futex waits of 230 and 98 µs). Call it before the first
/// operation; later calls leave things as they are.
///
/// The pool is our own, kept for the life of the process, rather than
/// rayon's global one: `build_global` waits until every other worker thread
/// has started, `build` does not, and a one-page compress finishes 0.11 ms
/// sooner (1.86 → 1.75 ms, 300 interleaved runs). Parallel steps started on
/// this thread run in this pool; another thread's would use rayon's global
/// pool, as before.
pub fn work_on_this_thread() {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    if POOL.get().is_some() {
        return;
    }
    match rayon::ThreadPoolBuilder::new().use_current_thread().build() {
        Ok(pool) => {
            if let Err(pool) = POOL.set(pool) {
                // Another thread got there first. This thread is worker 0
                // of `pool`: dropping it would shut down the pool under it.
                std::mem::forget(pool);
            }
        }
        Err(e) => tracing::debug!("no pool of our own: {e}"),
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

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    #[test]
    fn the_calling_thread_becomes_worker_zero_of_a_pool() {
        // The test runs on a thread of its own, outside any pool.
        assert_eq!(rayon::current_thread_index(), None);
        super::work_on_this_thread();
        assert_eq!(rayon::current_thread_index(), Some(0));
        super::work_on_this_thread();
        assert_eq!(
            rayon::current_thread_index(),
            Some(0),
            "a second call changes nothing"
        );
        // Parallel work started here runs in that pool and adds up.
        let sum: u64 = (1..=10_000u64).into_par_iter().map(|i| i * 2).sum();
        assert_eq!(sum, 10_000 * 10_001);
        let workers: std::collections::HashSet<Option<usize>> = (0..64)
            .into_par_iter()
            .map(|_| rayon::current_thread_index())
            .collect();
        assert!(
            workers.iter().all(Option::is_some),
            "ran outside the pool: {workers:?}"
        );
    }
}

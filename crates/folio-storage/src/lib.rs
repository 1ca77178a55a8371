//! Where job inputs and results live.
//!
//! Why a crate of its own: uploads and results are streamed, never held whole
//! in memory, and the service must not care whether they sit on a local disk
//! or in an S3-compatible object store. [`Storage`] is that boundary; [`LocalStorage`]
//! keeps blobs under a directory. Keys are chosen by the storage (random,
//! hex), never derived from client file names, so no client input ever
//! becomes a path.

mod local;
pub mod s3;
pub mod suite;
pub mod testing;

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

pub use local::LocalStorage;
pub use s3::S3Storage;

/// A stream of chunks, as uploads arrive (possibly borrowing the request).
pub type BodyStream<'a> = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'a>>;

/// A stream of chunks owning its source, as downloads leave.
pub type ByteStream = BodyStream<'static>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The body grew past the `max_bytes` given to [`Storage::put`]; nothing was kept.
    #[error("the upload exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The incoming stream failed (client went away, or a checker refused it);
    /// nothing was kept. The original error is inside.
    #[error("the upload failed: {0}")]
    Body(io::Error),
    #[error("no blob with key {0}")]
    NotFound(String),
    /// A key that this storage could not have produced.
    #[error("invalid storage key")]
    InvalidKey,
    #[error("the requested range is not satisfiable (size {size})")]
    RangeNotSatisfiable { size: u64 },
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What [`Storage::put`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub size: u64,
    /// Hex SHA-256 of the content (for the result cache).
    pub sha256: String,
}

#[async_trait]
pub trait Storage: Send + Sync {
    /// Store a stream under a new key. Stops and keeps nothing as soon as more
    /// than `max_bytes` arrived, or the stream yields an error.
    async fn put<'a>(&self, body: BodyStream<'a>, max_bytes: Option<u64>) -> Result<Stored>;

    /// Store a local file (a worker's output) under a new key. The file may be
    /// moved rather than copied.
    async fn put_file(&self, path: &Path) -> Result<Stored>;

    /// Read a blob, or the byte range `range` of it (end exclusive).
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream>;

    async fn size(&self, key: &str) -> Result<u64>;

    /// Delete a blob; deleting a missing blob succeeds.
    async fn delete(&self, key: &str) -> Result<()>;

    /// A path the blob can be read from directly, when the storage is local
    /// (lets a worker's child process read inputs without a copy).
    fn local_path(&self, key: &str) -> Option<PathBuf>;

    /// A directory on the same file system for temporary files, when local.
    fn scratch_dir(&self) -> Option<PathBuf>;

    /// Readiness: can we write and read right now?
    async fn check(&self) -> Result<()>;

    /// A URL a client can download the blob from directly for `expires`,
    /// served as an attachment named `file_name`; `None` when this storage
    /// has no such URLs (local files).
    async fn presigned_get(
        &self,
        _key: &str,
        _file_name: &str,
        _media_type: &str,
        _expires: Duration,
    ) -> Result<Option<String>> {
        Ok(None)
    }
}

/// The `Content-Disposition` of a download named `name` (a safe name from
/// `folio_jobs::names`, never a client's raw file name).
pub fn attachment_disposition(name: &str) -> String {
    format!("attachment; filename=\"{name}\"")
}

/// Open the storage named by `url`: `s3://bucket/prefix`, or local files
/// under `data_dir` when `url` is `None`.
pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<std::sync::Arc<dyn Storage>> {
    Ok(match url {
        Some(u) => std::sync::Arc::new(S3Storage::from_url(u)?),
        None => std::sync::Arc::new(LocalStorage::open(data_dir).await?),
    })
}

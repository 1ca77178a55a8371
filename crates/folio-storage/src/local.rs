//! Blobs as files: `<root>/blobs/<k0k1>/<key>`, written via `<root>/tmp` and
//! renamed into place, so a crash never leaves a partial blob under a key.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use crate::{BodyStream, ByteStream, Result, Storage, StorageError, Stored};

const READ_CHUNK: usize = 64 * 1024;

/// Temporary entries older than this are leftovers of a dead process.
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

async fn remove_stale(dir: &Path, age: std::time::Duration) {
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        let old = e
            .metadata()
            .await
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|a| a > age);
        if old {
            let p = e.path();
            let r = if p.is_dir() {
                tokio::fs::remove_dir_all(&p).await
            } else {
                tokio::fs::remove_file(&p).await
            };
            if let Err(err) = r {
                tracing::debug!(path = %p.display(), error = %err, "cannot remove a stale temporary file");
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct LocalStorage {
    blobs: PathBuf,
    tmp: PathBuf,
}

fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys are 32 lowercase hex digits: anything else is refused before it can
/// reach the file system.
fn valid_key(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl LocalStorage {
    /// Use (and create) `<root>/blobs` and `<root>/tmp`. Temporary files
    /// left over by a crashed process are removed once they are old enough
    /// that no live process (another `folio worker` sharing the directory)
    /// can still be using them.
    pub async fn open(root: &Path) -> Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&blobs).await?;
        tokio::fs::create_dir_all(&tmp).await?;
        remove_stale(&tmp, STALE_TMP).await;
        Ok(LocalStorage { blobs, tmp })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(StorageError::InvalidKey);
        }
        Ok(self.blobs.join(&key[..2]).join(key))
    }

    fn tmp_path(&self) -> PathBuf {
        self.tmp.join(format!("put-{}", new_key()))
    }

    async fn place(&self, tmp: &Path, key: &str) -> Result<PathBuf> {
        let dest = self.path(key)?;
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(tmp, &dest).await?;
        Ok(dest)
    }

    async fn write_stream(
        &self,
        mut body: BodyStream<'_>,
        max: Option<u64>,
        tmp: &Path,
    ) -> Result<(u64, String)> {
        let mut file = tokio::fs::File::create(tmp).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(StorageError::Body)?;
            size += chunk.len() as u64;
            if let Some(limit) = max
                && size > limit
            {
                return Err(StorageError::TooLarge { limit });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok((size, hex(&hasher.finalize())))
    }
}

#[async_trait]
impl Storage for LocalStorage {
    async fn put<'a>(&self, body: BodyStream<'a>, max_bytes: Option<u64>) -> Result<Stored> {
        let tmp = self.tmp_path();
        match self.write_stream(body, max_bytes, &tmp).await {
            Ok((size, sha256)) => {
                let key = new_key();
                if let Err(e) = self.place(&tmp, &key).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e);
                }
                Ok(Stored { key, size, sha256 })
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn put_file(&self, path: &Path) -> Result<Stored> {
        // Hash while reading; then move the file if it is on our file system,
        // else copy it.
        let mut f = tokio::fs::File::open(path).await?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        drop(f);
        let key = new_key();
        let dest = self.path(&key)?;
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if tokio::fs::rename(path, &dest).await.is_err() {
            let tmp = self.tmp_path();
            tokio::fs::copy(path, &tmp).await?;
            self.place(&tmp, &key).await?;
        }
        Ok(Stored {
            key,
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    async fn get(&self, key: &str, range: Option<std::ops::Range<u64>>) -> Result<ByteStream> {
        let path = self.path(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound(key.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        match range {
            None => Ok(Box::pin(ReaderStream::with_capacity(file, READ_CHUNK))),
            Some(Range { start, end }) => {
                let size = file.metadata().await?.len();
                if start >= end || end > size {
                    return Err(StorageError::RangeNotSatisfiable { size });
                }
                file.seek(io::SeekFrom::Start(start)).await?;
                Ok(Box::pin(ReaderStream::with_capacity(
                    file.take(end - start),
                    READ_CHUNK,
                )))
            }
        }
    }

    async fn size(&self, key: &str) -> Result<u64> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(key.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path(key).ok()
    }

    fn scratch_dir(&self) -> Option<PathBuf> {
        Some(self.tmp.clone())
    }

    async fn check(&self) -> Result<()> {
        let p = self.tmp_path();
        tokio::fs::write(&p, b"ok").await?;
        let back = tokio::fs::read(&p).await;
        let _ = tokio::fs::remove_file(&p).await;
        if back? != b"ok" {
            return Err(StorageError::Io(io::Error::other("read back differs")));
        }
        Ok(())
    }
}

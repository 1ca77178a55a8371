//! Blobs in an S3-compatible object store (AWS S3, MinIO, Garage, Ceph RGW...)
//! under `s3://bucket/prefix/<key>`, through the `object_store` crate.
//!
//! Uploads stream: up to one part (5 MiB) is buffered; a body that grows past
//! it becomes a multipart upload whose parts leave while the rest arrives, and
//! the byte limit is enforced as the bytes come in. A body that fails or
//! grows too large aborts the multipart upload, so nothing is left behind.
//! Downloads stream too, ranged when asked.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjPath;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::{BodyStream, ByteStream, Result, Storage, StorageError, Stored};

/// S3's smallest part (except the last): bodies up to this size are one PUT.
const PART: usize = 5 * 1024 * 1024;
/// Parts in flight per upload.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Debug, Clone)]
pub struct S3Storage {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
}

fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_key(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn os_err(e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { path, .. } => StorageError::NotFound(path),
        e => StorageError::Io(io::Error::other(e)),
    }
}

/// `s3://bucket/some/prefix` → (`bucket`, `some/prefix`).
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// HTTPS to the store goes through rustls with ring, built without a default
/// provider (see the workspace Cargo.toml), so it is made the process's own
/// before the first client is built; a provider installed earlier stays.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl S3Storage {
    /// `s3://bucket/prefix`, with endpoint, region and credentials from the
    /// usual `AWS_*` variables (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_url_with(url, &[])
    }

    /// Like [`S3Storage::from_url`], with settings that take precedence over
    /// the environment, named like the variables in lower case
    /// (`aws_endpoint`, `aws_allow_http`, `aws_access_key_id`...).
    pub fn from_url_with(url: &str, settings: &[(&str, &str)]) -> Result<Self> {
        let (bucket, prefix) = parse_url(url).ok_or_else(|| {
            StorageError::Io(io::Error::other(format!(
                "invalid storage URL {url}: expected s3://bucket/prefix"
            )))
        })?;
        install_tls_provider();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        for (k, v) in settings {
            let key: AmazonS3ConfigKey = k.parse().map_err(|e| {
                StorageError::Io(io::Error::other(format!("unknown S3 setting {k}: {e}")))
            })?;
            builder = builder.with_config(key, *v);
        }
        let store = builder
            .build()
            .map_err(|e| StorageError::Io(io::Error::other(e)))?;
        Ok(S3Storage {
            store: Arc::new(store),
            bucket,
            prefix,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn path(&self, key: &str) -> Result<ObjPath> {
        if !valid_key(key) {
            return Err(StorageError::InvalidKey);
        }
        Ok(self.raw_path(key))
    }

    fn raw_path(&self, name: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(name)
        } else {
            ObjPath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// Every object under this storage's prefix (operators and tests: what
    /// is left in the bucket).
    pub async fn list_keys(&self) -> Result<Vec<String>> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let metas: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(os_err)?;
        Ok(metas.into_iter().map(|m| m.location.to_string()).collect())
    }

    /// Stream `body` to `path`: one PUT when it fits in a part, else a
    /// multipart upload, aborted on any failure.
    async fn upload(
        &self,
        path: &ObjPath,
        mut body: BodyStream<'_>,
        max: Option<u64>,
    ) -> Result<(u64, String)> {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut first: Vec<u8> = Vec::new();
        let mut multipart: Option<WriteMultipart> = None;
        let outcome: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(StorageError::Body)?;
                size += chunk.len() as u64;
                if let Some(limit) = max
                    && size > limit
                {
                    return Err(StorageError::TooLarge { limit });
                }
                hasher.update(&chunk);
                match &mut multipart {
                    Some(w) => {
                        w.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(os_err)?;
                        w.write(&chunk);
                    }
                    None => {
                        first.extend_from_slice(&chunk);
                        if first.len() > PART {
                            let upload = self.store.put_multipart(path).await.map_err(os_err)?;
                            let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
                            w.write(&first);
                            first = Vec::new();
                            multipart = Some(w);
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        match (outcome, multipart) {
            (Ok(()), Some(w)) => {
                w.finish().await.map_err(os_err)?;
            }
            (Ok(()), None) => {
                self.store
                    .put(path, PutPayload::from(Bytes::from(first)))
                    .await
                    .map_err(os_err)?;
            }
            (Err(e), Some(w)) => {
                if let Err(abort) = w.abort().await {
                    tracing::warn!(error = %abort, "cannot abort a multipart upload");
                }
                return Err(e);
            }
            (Err(e), None) => return Err(e),
        }
        Ok((size, hex(&hasher.finalize())))
    }
}

#[async_trait]
impl Storage for S3Storage {
    async fn put<'a>(&self, body: BodyStream<'a>, max_bytes: Option<u64>) -> Result<Stored> {
        let key = new_key();
        let path = self.path(&key)?;
        let (size, sha256) = self.upload(&path, body, max_bytes).await?;
        Ok(Stored { key, size, sha256 })
    }

    async fn put_file(&self, path: &Path) -> Result<Stored> {
        let file = tokio::fs::File::open(path).await?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        self.put(Box::pin(stream), None).await
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream> {
        let path = self.path(key)?;
        let mut opts = GetOptions::default();
        if let Some(r) = range {
            // Checked here, so every storage answers a bad range the same way.
            let size = self.store.head(&path).await.map_err(os_err)?.size;
            if r.start >= r.end || r.end > size {
                return Err(StorageError::RangeNotSatisfiable { size });
            }
            opts.range = Some(GetRange::Bounded(r));
        }
        let got = self.store.get_opts(&path, opts).await.map_err(os_err)?;
        Ok(Box::pin(got.into_stream().map_err(io::Error::other)))
    }

    async fn size(&self, key: &str) -> Result<u64> {
        let path = self.path(key)?;
        Ok(self.store.head(&path).await.map_err(os_err)?.size)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(os_err(e)),
        }
    }

    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }

    fn scratch_dir(&self) -> Option<PathBuf> {
        None
    }

    async fn check(&self) -> Result<()> {
        let path = self.raw_path(&format!(".folio-check-{}", new_key()));
        self.store
            .put(&path, PutPayload::from_static(b"ok"))
            .await
            .map_err(os_err)?;
        let back = async {
            self.store
                .get(&path)
                .await
                .map_err(os_err)?
                .bytes()
                .await
                .map_err(os_err)
        }
        .await;
        let _ = self.store.delete(&path).await;
        if back? != Bytes::from_static(b"ok") {
            return Err(StorageError::Io(io::Error::other("read back differs")));
        }
        Ok(())
    }

    async fn presigned_get(
        &self,
        key: &str,
        file_name: &str,
        media_type: &str,
        expires: Duration,
    ) -> Result<Option<String>> {
        let path = self.path(key)?;
        // Signed with the URL, so the client cannot change them.
        let opts = SignedUrlOptions::new().with_query([
            (
                "response-content-disposition",
                crate::attachment_disposition(file_name),
            ),
            ("response-content-type", media_type.to_string()),
        ]);
        let url = self
            .store
            .signed_url_opts(Method::GET, &path, expires, &opts)
            .await
            .map_err(os_err)?;
        Ok(Some(url.to_string()))
    }
}

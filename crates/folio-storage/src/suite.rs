//! The behavioural test suite for [`Storage`] implementations: local files
//! (`tests/local.rs`) and S3 against a real S3-compatible server
//! (`tests/s3.rs`) pass the same cases. Each takes a fresh, empty storage and
//! panics on the first broken promise.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::{ByteStream, Storage, StorageError};

fn stream(chunks: Vec<&'static [u8]>) -> ByteStream {
    Box::pin(futures_util::stream::iter(
        chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
    ))
}

pub async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

/// Put, read whole and ranged, size, delete (twice), check.
pub async fn put_get_range_delete(s: &dyn Storage) {
    let st = s
        .put(stream(vec![b"hello ", b"world"]), Some(100))
        .await
        .unwrap();
    assert_eq!(st.size, 11);
    assert_eq!(
        st.sha256,
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(st.key.len(), 32);
    assert_eq!(
        collect(s.get(&st.key, None).await.unwrap()).await,
        b"hello world"
    );
    assert_eq!(
        collect(s.get(&st.key, Some(6..11)).await.unwrap()).await,
        b"world"
    );
    assert!(matches!(
        s.get(&st.key, Some(5..12)).await,
        Err(StorageError::RangeNotSatisfiable { size: 11 })
    ));
    assert_eq!(s.size(&st.key).await.unwrap(), 11);
    s.delete(&st.key).await.unwrap();
    s.delete(&st.key).await.unwrap();
    assert!(matches!(
        s.get(&st.key, None).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.size(&st.key).await,
        Err(StorageError::NotFound(_))
    ));
    s.check().await.unwrap();
}

/// The limit stops the upload as soon as it is crossed (the next chunk is
/// never pulled), and a failing body keeps nothing.
pub async fn limit_and_body_errors(s: &dyn Storage) {
    let chunks = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"12345")),
        Ok(Bytes::from_static(b"67890")),
        Err(std::io::Error::other("must not be reached")),
    ]);
    let r = s.put(Box::pin(chunks), Some(8)).await;
    assert!(
        matches!(r, Err(StorageError::TooLarge { limit: 8 })),
        "{r:?}"
    );
    let chunks = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(std::io::Error::other("client went away")),
    ]);
    assert!(matches!(
        s.put(Box::pin(chunks), None).await,
        Err(StorageError::Body(_))
    ));
}

/// Keys the storage could not have made are refused before any I/O.
pub async fn keys_are_never_paths(s: &dyn Storage) {
    for bad in [
        "../../etc/passwd",
        "",
        "ABCDEF0123456789ABCDEF0123456789",
        "x",
    ] {
        assert!(
            matches!(s.get(bad, None).await, Err(StorageError::InvalidKey)),
            "{bad}"
        );
        assert!(
            matches!(s.delete(bad).await, Err(StorageError::InvalidKey)),
            "{bad}"
        );
        assert!(s.local_path(bad).is_none());
    }
}

/// A body of several parts (12 MiB in 64 KiB chunks) round-trips byte for
/// byte, ranges across part boundaries included; one over the limit after
/// several parts is refused and leaves nothing readable.
pub async fn large_streamed_bodies(s: &dyn Storage) {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 192;
    let pattern = |i: usize| -> Bytes {
        Bytes::from(
            (0..CHUNK)
                .map(|j| ((i * 31 + j * 7) % 251) as u8)
                .collect::<Vec<u8>>(),
        )
    };
    let body = futures_util::stream::iter((0..CHUNKS).map(move |i| Ok(pattern(i))));
    let st = s.put(Box::pin(body), Some(64 << 20)).await.unwrap();
    assert_eq!(st.size, (CHUNK * CHUNKS) as u64);
    let back = collect(s.get(&st.key, None).await.unwrap()).await;
    assert_eq!(back.len(), CHUNK * CHUNKS);
    let want: Vec<u8> = (0..CHUNKS).flat_map(|i| pattern(i).to_vec()).collect();
    assert!(back == want, "content differs");
    let five_mib = 5u64 << 20;
    let r = (five_mib - 10)..(five_mib + 10);
    assert_eq!(
        collect(s.get(&st.key, Some(r.clone())).await.unwrap()).await,
        want[r.start as usize..r.end as usize]
    );
    s.delete(&st.key).await.unwrap();

    let body = futures_util::stream::iter((0..CHUNKS).map(move |i| Ok(pattern(i))));
    let r = s.put(Box::pin(body), Some(8 << 20)).await;
    assert!(
        matches!(r, Err(StorageError::TooLarge { limit }) if limit == 8 << 20),
        "{r:?}"
    );
}

/// A local file (a worker's output) is stored and reads back.
pub async fn put_file_roundtrip(s: &dyn Storage) {
    let dir = std::env::temp_dir().join(format!("folio-suite-{}", uuid::Uuid::new_v4().simple()));
    tokio::fs::create_dir_all(&dir).await.unwrap();
    let f = dir.join("out.pdf");
    tokio::fs::write(&f, b"%PDF-1.7 fake").await.unwrap();
    let st = s.put_file(&f).await.unwrap();
    assert_eq!(st.size, 13);
    assert_eq!(
        collect(s.get(&st.key, None).await.unwrap()).await,
        b"%PDF-1.7 fake"
    );
    let _ = tokio::fs::remove_dir_all(&dir).await;
}

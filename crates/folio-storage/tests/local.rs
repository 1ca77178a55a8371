//! LocalStorage: streaming put with limits, ranges, keys, deletion.

use bytes::Bytes;
use folio_storage::{ByteStream, LocalStorage, Storage, StorageError};
use futures_util::StreamExt;

fn stream(chunks: Vec<&'static [u8]>) -> ByteStream {
    Box::pin(futures_util::stream::iter(
        chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
    ))
}

async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

async fn store() -> (tempfile::TempDir, LocalStorage) {
    let d = tempfile::tempdir().unwrap();
    let s = LocalStorage::open(d.path()).await.unwrap();
    (d, s)
}

#[tokio::test]
async fn put_get_range_delete() {
    let (_d, s) = store().await;
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
    assert!(s.local_path(&st.key).unwrap().is_file());
    s.delete(&st.key).await.unwrap();
    s.delete(&st.key).await.unwrap();
    assert!(matches!(
        s.get(&st.key, None).await,
        Err(StorageError::NotFound(_))
    ));
    s.check().await.unwrap();
}

#[tokio::test]
async fn limit_enforced_while_streaming_and_nothing_kept() {
    let (d, s) = store().await;
    // The third chunk would never be pulled: the error comes as soon as the
    // second crosses the limit.
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
    let leftovers: Vec<_> = std::fs::read_dir(d.path().join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "partial upload removed");
    let blobs: Vec<_> = std::fs::read_dir(d.path().join("blobs")).unwrap().collect();
    assert!(blobs.is_empty());
}

#[tokio::test]
async fn body_error_keeps_nothing() {
    let (_d, s) = store().await;
    let chunks = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(std::io::Error::other("client went away")),
    ]);
    assert!(matches!(
        s.put(Box::pin(chunks), None).await,
        Err(StorageError::Body(_))
    ));
}

#[tokio::test]
async fn keys_are_never_paths() {
    let (_d, s) = store().await;
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

#[tokio::test]
async fn put_file_moves_into_storage() {
    let (d, s) = store().await;
    let f = d.path().join("tmp").join("out.pdf");
    std::fs::write(&f, b"%PDF-1.7 fake").unwrap();
    let st = s.put_file(&f).await.unwrap();
    assert_eq!(st.size, 13);
    assert!(!f.exists(), "moved, not copied");
    assert_eq!(
        collect(s.get(&st.key, None).await.unwrap()).await,
        b"%PDF-1.7 fake"
    );
}

#[tokio::test]
async fn a_second_process_does_not_remove_fresh_temporary_files() {
    let (d, _s) = store().await;
    let in_flight = d.path().join("tmp").join("put-in-flight");
    std::fs::write(&in_flight, b"partial upload of another process").unwrap();
    let _again = LocalStorage::open(d.path()).await.unwrap();
    assert!(in_flight.exists());
}

//! LocalStorage: the shared storage suite, plus what is local-only (temporary
//! files, moves, paths).

use bytes::Bytes;
use folio_storage::{ByteStream, LocalStorage, Storage, StorageError};
use futures_util::StreamExt;

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

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let (_d, s) = store().await;
            folio_storage::suite::$name(&s).await;
        }
    )*};
}

// The shared storage suite (the S3 storage passes the same cases).
suite_tests!(
    put_get_range_delete,
    limit_and_body_errors,
    keys_are_never_paths,
    large_streamed_bodies,
    put_file_roundtrip,
);

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

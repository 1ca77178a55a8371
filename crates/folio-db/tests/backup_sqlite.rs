//! `VACUUM INTO` backups of a live SQLite store.

use folio_db::backup::{backup_sqlite, verify};
use folio_db::{SqliteStore, Store, StoreError, suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_holds_a_consistent_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("folio.db");
    let store = SqliteStore::open(&path).await.unwrap();
    for n in 0..20 {
        store.insert(suite::new_job(n, 0, 1_000)).await.unwrap();
    }
    // Keep writing while the backup runs.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 20..220 {
                store.insert(suite::new_job(n, 0, 1_000)).await.unwrap();
            }
        })
    };
    let out = dir.path().join("backup.db");
    let info = backup_sqlite(&path, &out).await.unwrap();
    writer.await.unwrap();
    assert!(
        (20..=220).contains(&info.jobs),
        "backup holds {} jobs",
        info.jobs
    );
    assert_eq!(info.bytes, std::fs::metadata(&out).unwrap().len());
    assert!(info.bytes > 0);

    // The copy is a working store with the same rows.
    let restored = SqliteStore::open(&out).await.unwrap();
    let job = restored.get("job-00007").await.unwrap().expect("job 7");
    assert_eq!(job.id, "job-00007");
    assert_eq!(verify(&out).await.unwrap().jobs, info.jobs);
}

#[tokio::test]
async fn backup_refuses_to_overwrite_and_needs_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("folio.db");
    let out = dir.path().join("exists.db");
    std::fs::write(&out, b"keep me").unwrap();
    // No database yet.
    let e = backup_sqlite(&path, &dir.path().join("x.db"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Db(ref m) if m.contains("no job database")),
        "{e}"
    );
    assert!(!dir.path().join("x.db").exists());

    SqliteStore::open(&path).await.unwrap();
    let e = backup_sqlite(&path, &out).await.unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

#[tokio::test]
async fn verify_rejects_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, vec![0x42u8; 8192]).unwrap();
    assert!(verify(&bad).await.is_err());
}

//! Online backup of the SQLite job store with `VACUUM INTO`: a consistent,
//! compacted copy taken while the service keeps running (readers and the
//! writer are not blocked for longer than one page copy at a time in WAL
//! mode). The copy is then opened and checked (`PRAGMA integrity_check`).
//!
//! The source is opened without running migrations, so a backup taken
//! before an upgrade holds the schema of the version that wrote it.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row, SqliteConnection};

use crate::{Result, StoreError};

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupInfo {
    /// Job rows in the copy.
    pub jobs: u64,
    /// Size of the copy in bytes.
    pub bytes: u64,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Copy the database at `source` to `out` (which must not exist yet) and
/// verify the copy.
pub async fn backup_sqlite(source: &Path, out: &Path) -> Result<BackupInfo> {
    if !source.is_file() {
        return Err(StoreError::Db(format!(
            "no job database at {}",
            source.display()
        )));
    }
    if out.exists() {
        return Err(StoreError::Db(format!(
            "{} already exists; a backup never overwrites a file",
            out.display()
        )));
    }
    let out_str = out
        .to_str()
        .ok_or_else(|| StoreError::Db(format!("{} is not valid UTF-8", out.display())))?;
    let opts = SqliteConnectOptions::new()
        .filename(source)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = SqliteConnection::connect_with(&opts).await.map_err(db)?;
    sqlx::query("VACUUM INTO ?1")
        .bind(out_str)
        .execute(&mut conn)
        .await
        .map_err(db)?;
    conn.close().await.map_err(db)?;
    verify(out).await
}

/// Open a backup read-only, check its integrity and count its jobs.
pub async fn verify(path: &Path) -> Result<BackupInfo> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&opts).await.map_err(db)?;
    let check: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(db)?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!(
            "backup {} failed its integrity check: {check}",
            path.display()
        )));
    }
    let jobs: i64 = sqlx::query("SELECT COUNT(*) FROM jobs")
        .fetch_one(&mut conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(db)?;
    conn.close().await.map_err(db)?;
    let bytes = std::fs::metadata(path)
        .map_err(|e| StoreError::Db(format!("cannot stat {}: {e}", path.display())))?
        .len();
    Ok(BackupInfo {
        jobs: jobs.max(0) as u64,
        bytes,
    })
}

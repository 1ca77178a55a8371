//! The SQLite store: one file in WAL mode, so readers (API) never block the
//! writer (workers). Every queue step is a single `UPDATE ... RETURNING`
//! statement: SQLite takes the write lock before evaluating it, which makes
//! claims atomic without explicit transactions.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use folio_jobs::{Job, JobError, JobSpec, JobState, Millis, NewJob, ResultRef, codes};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr, SqlitePool};

use crate::{
    ADMIN_RECENT_FAILURES, AdminStats, ApiKey, Completion, NewApiKey, QueueStats, Renewal, Result,
    SLOT_KEEP_MS, Store, StoreError, minute_buckets,
};

/// Migrations, embedded so the binary needs no files at run time.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "jobs",
        include_str!("../migrations/sqlite/0001_jobs.sql"),
    ),
    (
        2,
        "schedule_slots",
        include_str!("../migrations/sqlite/0002_schedule_slots.sql"),
    ),
    (
        3,
        "api_keys",
        include_str!("../migrations/sqlite/0003_api_keys.sql"),
    ),
];

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path`, in WAL mode, and run
    /// the migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only an OS
            // crash can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(db)?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    Cow::Borrowed(*d),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Db(format!("migration failed: {e}")))
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn fetch_one_job(&self, sql: &'static str, id: &str) -> Result<Option<Job>> {
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| to_job(&r)).transpose()
    }

    /// After a fenced write touched no row: `Stale` if the job exists, else `NotFound`.
    async fn stale_or_missing(&self, id: &str) -> StoreError {
        match self.get(id).await {
            Ok(Some(_)) => StoreError::Stale(id.to_string()),
            Ok(None) => StoreError::NotFound(id.to_string()),
            Err(e) => e,
        }
    }
}

fn json_col<T: serde::de::DeserializeOwned>(row: &SqliteRow, col: &str) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col).map_err(db)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

fn to_job(row: &SqliteRow) -> Result<Job> {
    let id: String = row.try_get("id").map_err(db)?;
    let state: String = row.try_get("state").map_err(db)?;
    let spec: String = row.try_get("spec").map_err(db)?;
    let spec = JobSpec::from_json(&spec).map_err(|e| StoreError::Corrupt(format!("{id}: {e}")))?;
    let get_i64 = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    let get_opt = |c: &str| row.try_get::<Option<i64>, _>(c).map_err(db);
    Ok(Job {
        state: JobState::from_str(&state).map_err(StoreError::Corrupt)?,
        spec,
        priority: get_i64("priority")? as i32,
        attempts: get_i64("attempts")?.max(0) as u32,
        max_attempts: get_i64("max_attempts")?.max(0) as u32,
        progress: row.try_get::<f64, _>("progress").map_err(db)? as f32,
        created_at: get_i64("created_at")?,
        started_at: get_opt("started_at")?,
        finished_at: get_opt("finished_at")?,
        run_after: get_i64("run_after")?,
        lease_until: get_opt("lease_until")?,
        fence: get_i64("fence")?,
        cancel_requested: get_i64("cancel_requested")? != 0,
        error: json_col::<JobError>(row, "error")?,
        report: json_col::<serde_json::Value>(row, "report")?,
        result: json_col::<ResultRef>(row, "result")?,
        bytes_in: get_i64("bytes_in")?.max(0) as u64,
        cache_key: row.try_get("cache_key").map_err(db)?,
        owner: row.try_get("owner").map_err(db)?,
        expires_at: get_i64("expires_at")?,
        purged: get_i64("purged")? != 0,
        event_seq: get_i64("event_seq")?,
        id,
    })
}

const KEY_COLUMNS: &str = "id, name, key_hash, admin, rate_limit_uploads, rate_limit_reads, \
     max_concurrent_jobs, created_at, revoked_at";

fn to_key(row: &SqliteRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        key_hash: row.try_get("key_hash").map_err(db)?,
        admin: row.try_get::<i64, _>("admin").map_err(db)? != 0,
        rate_limit_uploads: row.try_get("rate_limit_uploads").map_err(db)?,
        rate_limit_reads: row.try_get("rate_limit_reads").map_err(db)?,
        max_concurrent_jobs: row
            .try_get::<Option<i64>, _>("max_concurrent_jobs")
            .map_err(db)?
            .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        created_at: row.try_get("created_at").map_err(db)?,
        revoked_at: row.try_get("revoked_at").map_err(db)?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

// The SQL below is written once per statement with the column list inlined by
// `concat!`-style constants, because sqlx only accepts `&'static str` as SQL.
macro_rules! returning {
    ($sql:literal) => {
        concat!(
            $sql,
            " RETURNING id, state, spec, priority, attempts, max_attempts, progress, created_at, \
             started_at, finished_at, run_after, lease_until, fence, cancel_requested, error, report, \
             result, bytes_in, cache_key, expires_at, purged, event_seq, owner"
        )
    };
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, state, spec, priority, attempts, max_attempts, progress, created_at, \
             started_at, finished_at, run_after, lease_until, fence, cancel_requested, error, report, \
             result, bytes_in, cache_key, expires_at, purged, event_seq, owner FROM jobs ",
            $rest
        )
    };
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert(&self, job: NewJob) -> Result<Job> {
        let row = sqlx::query(returning!(
            "INSERT INTO jobs (id, state, operation, spec, priority, max_attempts, created_at, \
             run_after, bytes_in, cache_key, expires_at, owner) \
             VALUES (?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10)"
        ))
        .bind(&job.id)
        .bind(job.spec.operation().as_str())
        .bind(job.spec.to_json())
        .bind(job.priority)
        .bind(i64::from(job.max_attempts))
        .bind(job.created_at)
        .bind(job.spec.inputs.iter().map(|i| i.size).sum::<u64>() as i64)
        .bind(&job.cache_key)
        .bind(job.expires_at)
        .bind(&job.owner)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        to_job(&row)
    }

    async fn get(&self, id: &str) -> Result<Option<Job>> {
        self.fetch_one_job(select!("WHERE id = ?1"), id).await
    }

    async fn claim(&self, now: Millis, lease: Duration) -> Result<Option<Job>> {
        let row = sqlx::query(returning!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, \
             lease_until = ?1 + ?2, started_at = ?1, progress = 0, event_seq = event_seq + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= ?1 \
                         AND cancel_requested = 0 \
                         ORDER BY priority DESC, created_at, id LIMIT 1) \
               AND state = 'queued'"
        ))
        .bind(now)
        .bind(ms(lease))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| to_job(&r)).transpose()
    }

    async fn renew(&self, id: &str, fence: i64, now: Millis, lease: Duration) -> Result<Renewal> {
        let row = sqlx::query(
            "UPDATE jobs SET lease_until = ?3 + ?4 \
             WHERE id = ?1 AND fence = ?2 AND state = 'running' RETURNING cancel_requested",
        )
        .bind(id)
        .bind(fence)
        .bind(now)
        .bind(ms(lease))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(match row {
            Some(r) => Renewal::Held {
                cancel_requested: r.try_get::<i64, _>(0).map_err(db)? != 0,
            },
            None => Renewal::Lost,
        })
    }

    async fn set_progress(&self, id: &str, fence: i64, progress: f32) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE jobs SET progress = ?3, event_seq = event_seq + 1 \
             WHERE id = ?1 AND fence = ?2 AND state = 'running' RETURNING event_seq",
        )
        .bind(id)
        .bind(fence)
        .bind(f64::from(progress.clamp(0.0, 1.0)))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => r.try_get::<i64, _>(0).map_err(db),
            None => Err(self.stale_or_missing(id).await),
        }
    }

    async fn complete(&self, id: &str, fence: i64, now: Millis, done: Completion) -> Result<Job> {
        let row = sqlx::query(returning!(
            "UPDATE jobs SET state = 'succeeded', progress = 1, finished_at = ?3, lease_until = NULL, \
             report = ?4, result = ?5, expires_at = ?6, error = NULL, event_seq = event_seq + 1 \
             WHERE id = ?1 AND fence = ?2 AND state = 'running'"
        ))
        .bind(id)
        .bind(fence)
        .bind(now)
        .bind(to_json(&done.report))
        .bind(to_json(&done.result))
        .bind(done.expires_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => to_job(&r),
            None => Err(self.stale_or_missing(id).await),
        }
    }

    async fn fail(
        &self,
        id: &str,
        fence: i64,
        now: Millis,
        error: JobError,
        retry_at: Option<Millis>,
        expires_at: Millis,
    ) -> Result<Job> {
        let row = match retry_at {
            Some(at) => sqlx::query(returning!(
                "UPDATE jobs SET state = 'queued', run_after = ?4, lease_until = NULL, error = ?3, \
                 progress = 0, event_seq = event_seq + 1 \
                 WHERE id = ?1 AND fence = ?2 AND state = 'running'"
            ))
            .bind(id)
            .bind(fence)
            .bind(to_json(&error))
            .bind(at),
            None => sqlx::query(returning!(
                "UPDATE jobs SET state = 'failed', finished_at = ?4, lease_until = NULL, error = ?3, \
                 expires_at = ?5, event_seq = event_seq + 1 \
                 WHERE id = ?1 AND fence = ?2 AND state = 'running'"
            ))
            .bind(id)
            .bind(fence)
            .bind(to_json(&error))
            .bind(now)
            .bind(expires_at),
        }
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => to_job(&r),
            None => Err(self.stale_or_missing(id).await),
        }
    }

    async fn finish_cancelled(
        &self,
        id: &str,
        fence: i64,
        now: Millis,
        expires_at: Millis,
    ) -> Result<Job> {
        let row = sqlx::query(returning!(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?3, lease_until = NULL, \
             expires_at = ?4, event_seq = event_seq + 1 \
             WHERE id = ?1 AND fence = ?2 AND state = 'running'"
        ))
        .bind(id)
        .bind(fence)
        .bind(now)
        .bind(expires_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => to_job(&r),
            None => Err(self.stale_or_missing(id).await),
        }
    }

    async fn release(&self, id: &str, fence: i64) -> Result<Job> {
        let row = sqlx::query(returning!(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, progress = 0, \
             attempts = MAX(attempts - 1, 0), event_seq = event_seq + 1 \
             WHERE id = ?1 AND fence = ?2 AND state = 'running'"
        ))
        .bind(id)
        .bind(fence)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => to_job(&r),
            None => Err(self.stale_or_missing(id).await),
        }
    }

    async fn cancel(&self, id: &str, now: Millis) -> Result<Option<Job>> {
        let row = sqlx::query(returning!(
            "UPDATE jobs SET \
               state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
               finished_at = CASE WHEN state = 'queued' THEN ?2 ELSE finished_at END, \
               cancel_requested = 1, event_seq = event_seq + 1 \
             WHERE id = ?1 AND state IN ('queued', 'running')"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => to_job(&r).map(Some),
            // Finished (unchanged) or missing.
            None => self.get(id).await,
        }
    }

    async fn reap_expired(&self, now: Millis) -> Result<Vec<Job>> {
        let error = to_json(&JobError::new(
            codes::LEASE_EXPIRED,
            "the job's worker stopped responding too many times",
            false,
        ));
        let rows = sqlx::query(returning!(
            "UPDATE jobs SET \
               state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
               error = CASE WHEN attempts >= max_attempts THEN ?2 ELSE error END, \
               finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE NULL END, \
               lease_until = NULL, progress = 0, run_after = ?1, event_seq = event_seq + 1 \
             WHERE state = 'running' AND lease_until < ?1"
        ))
        .bind(now)
        .bind(error)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(to_job).collect()
    }

    async fn find_cached(&self, cache_key: &str, now: Millis) -> Result<Option<Job>> {
        let row = sqlx::query(select!(
            "WHERE cache_key = ?1 AND state = 'succeeded' AND purged = 0 AND expires_at > ?2 \
             ORDER BY finished_at DESC LIMIT 1"
        ))
        .bind(cache_key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| to_job(&r)).transpose()
    }

    async fn expired(&self, now: Millis, limit: u32) -> Result<Vec<Job>> {
        let rows = sqlx::query(select!(
            "WHERE purged = 0 AND expires_at <= ?1 AND state IN ('succeeded', 'failed', 'cancelled') \
             ORDER BY expires_at LIMIT ?2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(to_job).collect()
    }

    async fn mark_purged(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET purged = 1 WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_purged_before(&self, before: Millis) -> Result<u64> {
        let r = sqlx::query("DELETE FROM jobs WHERE purged = 1 AND expires_at < ?1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.rows_affected())
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(state = 'queued'), 0), COALESCE(SUM(state = 'running'), 0) \
             FROM jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(QueueStats {
            queued: row.try_get::<i64, _>(0).map_err(db)?.max(0) as u64,
            running: row.try_get::<i64, _>(1).map_err(db)?.max(0) as u64,
        })
    }

    async fn active_jobs_of(&self, owner: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner = ?1 AND state IN ('queued', 'running')",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(n.max(0) as u64)
    }

    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        let sql = format!(
            "INSERT INTO api_keys (id, name, key_hash, admin, rate_limit_uploads, rate_limit_reads, \
             max_concurrent_jobs, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.key_hash)
            .bind(i64::from(key.admin))
            .bind(&key.rate_limit_uploads)
            .bind(&key.rate_limit_reads)
            .bind(key.max_concurrent_jobs.map(i64::from))
            .bind(key.created_at)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        to_key(&row)
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| to_key(&r)).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(to_key).collect()
    }

    async fn revoke_api_key(&self, id: &str, now: Millis) -> Result<bool> {
        let r =
            sqlx::query("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }

    async fn admin_stats(&self, now: Millis, window: Duration) -> Result<AdminStats> {
        let since = now.saturating_sub(ms(window));
        let queue = self.queue_stats().await?;
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN created_at >= ?1 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN state = 'succeeded' AND finished_at >= ?1 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN state = 'failed' AND finished_at >= ?1 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN state = 'cancelled' AND finished_at >= ?1 THEN 1 ELSE 0 END), 0) \
             FROM jobs WHERE created_at >= ?1 OR finished_at >= ?1",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let count =
            |i: usize| -> Result<u64> { Ok(row.try_get::<i64, _>(i).map_err(db)?.max(0) as u64) };
        let (submitted, succeeded, failed, cancelled) =
            (count(0)?, count(1)?, count(2)?, count(3)?);

        // Finished jobs per minute: bucket 0 is the oldest minute.
        let buckets = minute_buckets(now - since);
        let mut finished_per_minute = vec![0u64; buckets];
        let rows = sqlx::query(
            "SELECT (?2 - finished_at) / 60000 AS age, COUNT(*) FROM jobs \
             WHERE finished_at >= ?1 AND finished_at <= ?2 \
               AND state IN ('succeeded', 'failed', 'cancelled') \
             GROUP BY age",
        )
        .bind(since)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        for r in rows {
            let age = r.try_get::<i64, _>(0).map_err(db)?.max(0) as usize;
            let n = r.try_get::<i64, _>(1).map_err(db)?.max(0) as u64;
            // Age 0 is the newest minute, the last bucket.
            let i = buckets
                .saturating_sub(1)
                .saturating_sub(age.min(buckets - 1));
            finished_per_minute[i] += n;
        }

        // Failure codes: the error is stored as JSON text; tally in Rust so
        // the SQL stays the same on every database.
        let rows = sqlx::query(
            "SELECT error FROM jobs WHERE state = 'failed' AND finished_at >= ?1 \
             ORDER BY finished_at DESC LIMIT 10000",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut codes: std::collections::BTreeMap<String, u64> = Default::default();
        for r in &rows {
            let code = json_col::<JobError>(r, "error")?
                .map(|e| e.code)
                .unwrap_or_else(|| "unknown".into());
            *codes.entry(code).or_default() += 1;
        }
        let mut failure_codes: Vec<(String, u64)> = codes.into_iter().collect();
        failure_codes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

        let rows = sqlx::query(select!(
            "WHERE state = 'failed' AND finished_at >= ?1 \
             ORDER BY finished_at DESC, id DESC LIMIT ?2"
        ))
        .bind(since)
        .bind(ADMIN_RECENT_FAILURES as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let recent_failures = rows.iter().map(to_job).collect::<Result<Vec<_>>>()?;

        // Storage: inputs of every unpurged job, plus their results' sizes
        // (inside the result JSON).
        let row =
            sqlx::query("SELECT COALESCE(SUM(bytes_in), 0), COUNT(*) FROM jobs WHERE purged = 0")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        let inputs = row.try_get::<i64, _>(0).map_err(db)?.max(0) as u64;
        let stored_jobs = row.try_get::<i64, _>(1).map_err(db)?.max(0) as u64;
        let rows = sqlx::query("SELECT result FROM jobs WHERE purged = 0 AND result IS NOT NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut outputs = 0u64;
        for r in &rows {
            if let Some(res) = json_col::<ResultRef>(r, "result")? {
                outputs = outputs.saturating_add(res.size);
            }
        }

        Ok(AdminStats {
            queue,
            since,
            submitted,
            succeeded,
            failed,
            cancelled,
            finished_per_minute,
            failure_codes,
            recent_failures,
            storage_bytes: inputs.saturating_add(outputs),
            stored_jobs,
        })
    }

    async fn recent_jobs(&self, state: Option<JobState>, limit: u32) -> Result<Vec<Job>> {
        let rows = match state {
            Some(st) => sqlx::query(select!(
                "WHERE state = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2"
            ))
            .bind(st.as_str())
            .bind(i64::from(limit)),
            None => sqlx::query(select!("ORDER BY created_at DESC, id DESC LIMIT ?1"))
                .bind(i64::from(limit)),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(to_job).collect()
    }

    async fn claim_slot(&self, task: &str, slot_start: Millis) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO schedule_slots (task, slot_start) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .bind(task)
        .bind(slot_start)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        let won = r.rows_affected() == 1;
        if won {
            sqlx::query("DELETE FROM schedule_slots WHERE task = ?1 AND slot_start < ?2")
                .bind(task)
                .bind(slot_start - SLOT_KEEP_MS)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(won)
    }
}

//! The PostgreSQL store, for many API and worker processes on many hosts.
//!
//! Same queue semantics as SQLite (see the crate docs), each step one
//! statement. Claims pick their row with `FOR UPDATE SKIP LOCKED`, so
//! concurrent claimers on any number of nodes skip each other's rows instead
//! of waiting on them. A trigger sends `NOTIFY folio_jobs` whenever a job
//! becomes queued; every store keeps one `LISTEN` connection and wakes its
//! idle workers ([`Store::wait_for_work`]), so new work starts at once while
//! polling stays only a fallback (a notification lost while reconnecting).
//!
//! Migrations run at open under the advisory lock sqlx's migrator takes, so
//! several nodes starting at once apply them exactly once.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use folio_jobs::{Job, JobError, JobSpec, JobState, Millis, NewJob, ResultRef, codes};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row, SqlSafeStr};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::{
    ADMIN_RECENT_FAILURES, AdminStats, ApiKey, Completion, NewApiKey, QueueStats, Renewal, Result,
    SLOT_KEEP_MS, Store, StoreError, minute_buckets,
};

/// The channel the `jobs_queued_notify` trigger notifies.
pub const WORK_CHANNEL: &str = "folio_jobs";

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "jobs",
        include_str!("../migrations/postgres/0001_jobs.sql"),
    ),
    (
        2,
        "schedule_slots",
        include_str!("../migrations/postgres/0002_schedule_slots.sql"),
    ),
    (
        3,
        "api_keys",
        include_str!("../migrations/postgres/0003_api_keys.sql"),
    ),
];

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Aborts the LISTEN task when the last clone of the store is dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    work: Arc<Notify>,
    _listener: Arc<AbortOnDrop>,
}

fn connect_options(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Db(format!("invalid PostgreSQL URL: {e}")))
}

/// Apply the PostgreSQL migrations (`folio migrate`, and every start). Safe
/// to run from several processes at once: the migrator holds an advisory
/// lock while it works, and applied migrations are skipped.
pub async fn migrate(pool: &PgPool) -> Result<()> {
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
        .run(pool)
        .await
        .map_err(|e| StoreError::Db(format!("migration failed: {e}")))
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:pass@host:port/db`), apply the
    /// migrations and start listening for new work.
    pub async fn open(url: &str) -> Result<Self> {
        let opts = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            // A database that does not answer fails requests and readiness
            // quickly instead of hanging them.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(db)?;
        migrate(&pool).await?;
        let work = Arc::new(Notify::new());
        let listener = tokio::spawn(listen_loop(pool.clone(), work.clone()));
        Ok(PostgresStore {
            pool,
            work,
            _listener: Arc::new(AbortOnDrop(listener)),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn stale_or_missing(&self, id: &str) -> StoreError {
        match self.get(id).await {
            Ok(Some(_)) => StoreError::Stale(id.to_string()),
            Ok(None) => StoreError::NotFound(id.to_string()),
            Err(e) => e,
        }
    }
}

/// Keep a LISTEN connection and wake waiting workers on each notification.
/// `PgListener` reconnects by itself after a lost connection; failures to
/// even start are retried with a pause.
async fn listen_loop(pool: PgPool, work: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the LISTEN connection; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(WORK_CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN {WORK_CHANNEL} failed; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(_) => work.notify_waiters(),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                    // Something may have been queued meanwhile: look now.
                    work.notify_waiters();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

fn json_col<T: serde::de::DeserializeOwned>(row: &PgRow, col: &str) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col).map_err(db)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

const KEY_COLUMNS: &str = "id, name, key_hash, admin, rate_limit_uploads, rate_limit_reads, \
     max_concurrent_jobs, created_at, revoked_at";

fn to_key(row: &PgRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        key_hash: row.try_get("key_hash").map_err(db)?,
        admin: row.try_get::<bool, _>("admin").map_err(db)?,
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

fn to_job(row: &PgRow) -> Result<Job> {
    let id: String = row.try_get("id").map_err(db)?;
    let state: String = row.try_get("state").map_err(db)?;
    let spec: String = row.try_get("spec").map_err(db)?;
    let spec = JobSpec::from_json(&spec).map_err(|e| StoreError::Corrupt(format!("{id}: {e}")))?;
    let get_i32 = |c: &str| row.try_get::<i32, _>(c).map_err(db);
    let get_i64 = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    let get_opt = |c: &str| row.try_get::<Option<i64>, _>(c).map_err(db);
    let get_bool = |c: &str| row.try_get::<bool, _>(c).map_err(db);
    Ok(Job {
        state: JobState::from_str(&state).map_err(StoreError::Corrupt)?,
        spec,
        priority: get_i32("priority")?,
        attempts: get_i32("attempts")?.max(0) as u32,
        max_attempts: get_i32("max_attempts")?.max(0) as u32,
        progress: row.try_get::<f64, _>("progress").map_err(db)? as f32,
        created_at: get_i64("created_at")?,
        started_at: get_opt("started_at")?,
        finished_at: get_opt("finished_at")?,
        run_after: get_i64("run_after")?,
        lease_until: get_opt("lease_until")?,
        fence: get_i64("fence")?,
        cancel_requested: get_bool("cancel_requested")?,
        error: json_col::<JobError>(row, "error")?,
        report: json_col::<serde_json::Value>(row, "report")?,
        result: json_col::<ResultRef>(row, "result")?,
        bytes_in: get_i64("bytes_in")?.max(0) as u64,
        cache_key: row.try_get("cache_key").map_err(db)?,
        owner: row.try_get("owner").map_err(db)?,
        expires_at: get_i64("expires_at")?,
        purged: get_bool("purged")?,
        event_seq: get_i64("event_seq")?,
        id,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

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

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert(&self, job: NewJob) -> Result<Job> {
        let bytes_in = job.spec.inputs.iter().map(|i| i.size).sum::<u64>();
        let row = sqlx::query(returning!(
            "INSERT INTO jobs (id, state, operation, spec, priority, max_attempts, created_at, \
             run_after, bytes_in, cache_key, expires_at, owner) \
             VALUES ($1, 'queued', $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)"
        ))
        .bind(&job.id)
        .bind(job.spec.operation().as_str())
        .bind(job.spec.to_json())
        .bind(job.priority)
        .bind(clamp_i32(job.max_attempts))
        .bind(job.created_at)
        .bind(i64::try_from(bytes_in).unwrap_or(i64::MAX))
        .bind(&job.cache_key)
        .bind(job.expires_at)
        .bind(&job.owner)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        to_job(&row)
    }

    async fn get(&self, id: &str) -> Result<Option<Job>> {
        let row = sqlx::query(select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| to_job(&r)).transpose()
    }

    async fn claim(&self, now: Millis, lease: Duration) -> Result<Option<Job>> {
        // SKIP LOCKED: a row another claimer is taking right now is passed
        // over, not waited for; the outer `state = 'queued'` re-checks the row
        // as it is after any concurrent update committed.
        let row = sqlx::query(returning!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, \
             lease_until = $1 + $2, started_at = $1, progress = 0, event_seq = event_seq + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= $1 \
                         AND NOT cancel_requested \
                         ORDER BY priority DESC, created_at, id \
                         FOR UPDATE SKIP LOCKED LIMIT 1) \
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
            "UPDATE jobs SET lease_until = $3 + $4 \
             WHERE id = $1 AND fence = $2 AND state = 'running' RETURNING cancel_requested",
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
                cancel_requested: r.try_get::<bool, _>(0).map_err(db)?,
            },
            None => Renewal::Lost,
        })
    }

    async fn set_progress(&self, id: &str, fence: i64, progress: f32) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE jobs SET progress = $3, event_seq = event_seq + 1 \
             WHERE id = $1 AND fence = $2 AND state = 'running' RETURNING event_seq",
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
            "UPDATE jobs SET state = 'succeeded', progress = 1, finished_at = $3, lease_until = NULL, \
             report = $4, result = $5, expires_at = $6, error = NULL, event_seq = event_seq + 1 \
             WHERE id = $1 AND fence = $2 AND state = 'running'"
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
                "UPDATE jobs SET state = 'queued', run_after = $4, lease_until = NULL, error = $3, \
                 progress = 0, event_seq = event_seq + 1 \
                 WHERE id = $1 AND fence = $2 AND state = 'running'"
            ))
            .bind(id)
            .bind(fence)
            .bind(to_json(&error))
            .bind(at),
            None => sqlx::query(returning!(
                "UPDATE jobs SET state = 'failed', finished_at = $4, lease_until = NULL, error = $3, \
                 expires_at = $5, event_seq = event_seq + 1 \
                 WHERE id = $1 AND fence = $2 AND state = 'running'"
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
            "UPDATE jobs SET state = 'cancelled', finished_at = $3, lease_until = NULL, \
             expires_at = $4, event_seq = event_seq + 1 \
             WHERE id = $1 AND fence = $2 AND state = 'running'"
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
             attempts = GREATEST(attempts - 1, 0), event_seq = event_seq + 1 \
             WHERE id = $1 AND fence = $2 AND state = 'running'"
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
               finished_at = CASE WHEN state = 'queued' THEN $2 ELSE finished_at END, \
               cancel_requested = TRUE, event_seq = event_seq + 1 \
             WHERE id = $1 AND state IN ('queued', 'running')"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(r) => to_job(&r).map(Some),
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
               error = CASE WHEN attempts >= max_attempts THEN $2 ELSE error END, \
               finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
               lease_until = NULL, progress = 0, run_after = $1, event_seq = event_seq + 1 \
             WHERE state = 'running' AND lease_until < $1"
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
            "WHERE cache_key = $1 AND state = 'succeeded' AND NOT purged AND expires_at > $2 \
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
            "WHERE NOT purged AND expires_at <= $1 AND state IN ('succeeded', 'failed', 'cancelled') \
             ORDER BY expires_at LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(to_job).collect()
    }

    async fn mark_purged(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET purged = TRUE WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_purged_before(&self, before: Millis) -> Result<u64> {
        let r = sqlx::query("DELETE FROM jobs WHERE purged AND expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.rows_affected())
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE state = 'queued'), \
                    COUNT(*) FILTER (WHERE state = 'running') \
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

    async fn admin_stats(&self, now: Millis, window: Duration) -> Result<AdminStats> {
        let since = now.saturating_sub(ms(window));
        let queue = self.queue_stats().await?;
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE created_at >= $1), \
                    COUNT(*) FILTER (WHERE state = 'succeeded' AND finished_at >= $1), \
                    COUNT(*) FILTER (WHERE state = 'failed' AND finished_at >= $1), \
                    COUNT(*) FILTER (WHERE state = 'cancelled' AND finished_at >= $1) \
             FROM jobs WHERE created_at >= $1 OR finished_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let count =
            |i: usize| -> Result<u64> { Ok(row.try_get::<i64, _>(i).map_err(db)?.max(0) as u64) };
        let (submitted, succeeded, failed, cancelled) =
            (count(0)?, count(1)?, count(2)?, count(3)?);

        let buckets = minute_buckets(now - since);
        let mut finished_per_minute = vec![0u64; buckets];
        let rows = sqlx::query(
            "SELECT ($2 - finished_at) / 60000 AS age, COUNT(*) FROM jobs \
             WHERE finished_at >= $1 AND finished_at <= $2 \
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
            let i = buckets
                .saturating_sub(1)
                .saturating_sub(age.min(buckets - 1));
            finished_per_minute[i] += n;
        }

        let rows = sqlx::query(
            "SELECT error FROM jobs WHERE state = 'failed' AND finished_at >= $1 \
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
            "WHERE state = 'failed' AND finished_at >= $1 \
             ORDER BY finished_at DESC, id DESC LIMIT $2"
        ))
        .bind(since)
        .bind(ADMIN_RECENT_FAILURES as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let recent_failures = rows.iter().map(to_job).collect::<Result<Vec<_>>>()?;

        // SUM(BIGINT) is NUMERIC in PostgreSQL: cast back.
        let row = sqlx::query(
            "SELECT COALESCE(SUM(bytes_in), 0)::BIGINT, COUNT(*) FROM jobs WHERE NOT purged",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let inputs = row.try_get::<i64, _>(0).map_err(db)?.max(0) as u64;
        let stored_jobs = row.try_get::<i64, _>(1).map_err(db)?.max(0) as u64;
        let rows = sqlx::query("SELECT result FROM jobs WHERE NOT purged AND result IS NOT NULL")
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
                "WHERE state = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(st.as_str())
            .bind(i64::from(limit)),
            None => sqlx::query(select!("ORDER BY created_at DESC, id DESC LIMIT $1"))
                .bind(i64::from(limit)),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(to_job).collect()
    }

    async fn claim_slot(&self, task: &str, slot_start: Millis) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO schedule_slots (task, slot_start) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(task)
        .bind(slot_start)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        let won = r.rows_affected() == 1;
        if won {
            sqlx::query("DELETE FROM schedule_slots WHERE task = $1 AND slot_start < $2")
                .bind(task)
                .bind(slot_start - SLOT_KEEP_MS)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(won)
    }

    async fn wait_for_work(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.work.notified()).await;
    }

    async fn active_jobs_of(&self, owner: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner = $1 AND state IN ('queued', 'running')",
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
             max_concurrent_jobs, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.key_hash)
            .bind(key.admin)
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
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
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
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }
}

/// Throw-away databases for tests (this crate's suite, the service tests):
/// `CREATE DATABASE folio_test_<random>` on the server of `admin_url`,
/// dropped by [`TestDatabase::drop_db`].
pub mod testing {
    use sqlx::{Connection, PgConnection};

    use crate::{Result, StoreError};

    /// Where tests find PostgreSQL: `FOLIO_TEST_PG_URL`, else the local
    /// server with trust authentication.
    pub fn admin_url() -> String {
        std::env::var("FOLIO_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
    }

    /// `FOLIO_SKIP_PG=1`: PostgreSQL tests pass without running. Otherwise
    /// an unreachable server fails them.
    pub fn skip() -> bool {
        std::env::var("FOLIO_SKIP_PG").is_ok_and(|v| v == "1")
    }

    #[derive(Debug)]
    pub struct TestDatabase {
        pub url: String,
        pub name: String,
        admin_url: String,
    }

    fn db(e: sqlx::Error) -> StoreError {
        StoreError::Db(e.to_string())
    }

    impl TestDatabase {
        pub async fn create() -> Result<TestDatabase> {
            let admin_url = admin_url();
            let mut conn = PgConnection::connect(&admin_url).await.map_err(|e| {
                StoreError::Db(format!(
                    "PostgreSQL at {admin_url} is unreachable ({e}); start it (scripts/test-setup.sh) \
                     or set FOLIO_SKIP_PG=1 to skip the PostgreSQL tests"
                ))
            })?;
            let suffix: String = uuid_like();
            let name = format!("folio_test_{suffix}");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .map_err(db)?;
            let _ = conn.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_else(|| admin_url.clone());
            Ok(TestDatabase {
                url: format!("{base}/{name}"),
                name,
                admin_url,
            })
        }

        /// Drop the database, disconnecting whoever still uses it.
        pub async fn drop_db(self) -> Result<()> {
            let mut conn = PgConnection::connect(&self.admin_url).await.map_err(db)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await
            .map_err(db)?;
            let _ = conn.close().await;
            Ok(())
        }
    }

    /// 16 lowercase hex digits from the clock and the process id: unique
    /// enough for concurrent test runs, and a valid identifier.
    fn uuid_like() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mixed = t
            ^ (u64::from(std::process::id()) << 40)
            ^ N.fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("{mixed:016x}")
    }
}

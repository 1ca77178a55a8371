//! The behavioural test suite for [`Store`] implementations.
//!
//! Each function takes a fresh, empty store and panics on the first broken
//! promise. The SQLite tests call every one of them
//! (`tests/store_sqlite.rs`); a PostgreSQL store must pass the same list.
//! Time is passed explicitly (`now`), so lease and backoff behaviour is tested
//! without sleeping.

use std::collections::HashSet;
use std::time::Duration;

use folio_jobs::{InputRef, JobError, JobSpec, JobState, Millis, NewJob, OpOptions, ResultRef};

use crate::{Completion, Renewal, Store, StoreError};

const LEASE: Duration = Duration::from_secs(10);
const T0: Millis = 1_700_000_000_000;

/// A queued job for tests: `n` makes the id, `priority` and `created_at` vary.
pub fn new_job(n: u32, priority: i32, created_at: Millis) -> NewJob {
    let spec = JobSpec::new(
        OpOptions::Rotate {
            angle: 90,
            pages: None,
        },
        vec![InputRef {
            key: format!("input-{n}"),
            name: format!("in-{n}.pdf"),
            size: 100 + u64::from(n),
            sha256: format!("{n:064x}"),
        }],
    );
    NewJob {
        id: format!("job-{n:05}"),
        spec,
        priority,
        max_attempts: 3,
        cache_key: Some(format!("cache-{n}")),
        owner: None,
        created_at,
        expires_at: created_at + 3_600_000,
    }
}

fn completion(expires_at: Millis) -> Completion {
    Completion {
        report: serde_json::json!({"operation": "rotate", "pages_out": 1}),
        result: ResultRef {
            key: "result-key".into(),
            name: "out.pdf".into(),
            media_type: "application/pdf".into(),
            size: 42,
            files: vec!["out.pdf".into()],
        },
        expires_at,
    }
}

/// Insert, read back, and the fields a new job starts with.
pub async fn insert_and_get(s: &dyn Store) {
    let j = s.insert(new_job(1, 3, T0)).await.unwrap();
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(j.attempts, 0);
    assert_eq!(j.priority, 3);
    assert_eq!(j.bytes_in, 101);
    let back = s.get("job-00001").await.unwrap().unwrap();
    assert_eq!(back, j);
    assert_eq!(back.spec.inputs[0].key, "input-1");
    assert!(s.get("nope").await.unwrap().is_none());
    s.ping().await.unwrap();
}

/// Higher priority first; oldest first among equals; nothing when empty.
pub async fn claim_order_by_priority(s: &dyn Store) {
    s.insert(new_job(1, 0, T0 + 1)).await.unwrap();
    s.insert(new_job(2, 5, T0 + 2)).await.unwrap();
    s.insert(new_job(3, 5, T0 + 3)).await.unwrap();
    s.insert(new_job(4, 0, T0)).await.unwrap();
    s.insert(new_job(5, -1, T0 - 10)).await.unwrap();
    let now = T0 + 100;
    let mut order = Vec::new();
    while let Some(j) = s.claim(now, LEASE).await.unwrap() {
        assert_eq!(j.state, JobState::Running);
        assert_eq!(j.attempts, 1);
        assert_eq!(j.lease_until, Some(now + 10_000));
        order.push(j.id);
    }
    assert_eq!(
        order,
        [
            "job-00002",
            "job-00003",
            "job-00004",
            "job-00001",
            "job-00005"
        ]
    );
    let stats = s.queue_stats().await.unwrap();
    assert_eq!((stats.queued, stats.running), (0, 5));
}

/// Many claimers at once never receive the same job, and all jobs are handed out.
pub async fn concurrent_claimers_never_share(s: &dyn Store) {
    const JOBS: u32 = 40;
    for n in 0..JOBS {
        s.insert(new_job(n, (n % 3) as i32, T0 + i64::from(n)))
            .await
            .unwrap();
    }
    let claimer = || async {
        let mut got = Vec::new();
        while let Some(j) = s.claim(T0 + 1000, LEASE).await.unwrap() {
            got.push(j.id);
        }
        got
    };
    let results = futures_util::future::join_all((0..8).map(|_| claimer())).await;
    let all: Vec<String> = results.into_iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), JOBS as usize, "every job claimed exactly once");
    assert_eq!(unique.len(), JOBS as usize, "no job claimed twice");
}

/// A job whose lease expired is re-delivered with a new fencing token.
pub async fn lease_expiry_redelivers(s: &dyn Store) {
    s.insert(new_job(1, 0, T0)).await.unwrap();
    let first = s.claim(T0, LEASE).await.unwrap().unwrap();
    assert!(s.claim(T0, LEASE).await.unwrap().is_none());
    // Renewal moves the lease forward.
    assert_eq!(
        s.renew(&first.id, first.fence, T0 + 5_000, LEASE)
            .await
            .unwrap(),
        Renewal::Held {
            cancel_requested: false
        }
    );
    assert!(
        s.reap_expired(T0 + 12_000).await.unwrap().is_empty(),
        "renewed lease holds"
    );
    let reaped = s.reap_expired(T0 + 15_001).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].state, JobState::Queued);
    let second = s.claim(T0 + 15_001, LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, first.id);
    assert!(second.fence > first.fence);
    assert_eq!(second.attempts, 2);
    // The old holder has lost it.
    assert_eq!(
        s.renew(&first.id, first.fence, T0 + 15_002, LEASE)
            .await
            .unwrap(),
        Renewal::Lost
    );
}

/// Writes with an outdated fencing token are refused and change nothing.
pub async fn stale_completion_refused(s: &dyn Store) {
    s.insert(new_job(1, 0, T0)).await.unwrap();
    let old = s.claim(T0, LEASE).await.unwrap().unwrap();
    s.reap_expired(T0 + 20_000).await.unwrap();
    let new = s.claim(T0 + 20_000, LEASE).await.unwrap().unwrap();
    let now = T0 + 21_000;
    assert!(matches!(
        s.complete(&old.id, old.fence, now, completion(now + 1))
            .await,
        Err(StoreError::Stale(_))
    ));
    assert!(matches!(
        s.fail(
            &old.id,
            old.fence,
            now,
            JobError::new("internal", "x", true),
            None,
            now
        )
        .await,
        Err(StoreError::Stale(_))
    ));
    assert!(matches!(
        s.set_progress(&old.id, old.fence, 0.5).await,
        Err(StoreError::Stale(_))
    ));
    assert!(matches!(
        s.release(&old.id, old.fence).await,
        Err(StoreError::Stale(_))
    ));
    assert!(matches!(
        s.complete("missing", 1, now, completion(now)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.get(&new.id).await.unwrap().unwrap().state,
        JobState::Running
    );
    let seq = s.set_progress(&new.id, new.fence, 0.5).await.unwrap();
    assert!(seq > new.event_seq);
    let done = s
        .complete(&new.id, new.fence, now, completion(now + 3_600_000))
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.finished_at, Some(now));
    assert_eq!(done.result.as_ref().unwrap().key, "result-key");
    assert_eq!(done.progress, 1.0);
    // Completing twice is stale too: the job is no longer running.
    assert!(matches!(
        s.complete(&new.id, new.fence, now, completion(now)).await,
        Err(StoreError::Stale(_))
    ));
}

/// Retryable failures come back after their backoff; others end `failed`;
/// a job whose lease keeps expiring is given up on.
pub async fn retry_backoff(s: &dyn Store) {
    s.insert(new_job(1, 0, T0)).await.unwrap();
    let j = s.claim(T0, LEASE).await.unwrap().unwrap();
    let err = JobError::new("internal", "flaky", true);
    let q = s
        .fail(&j.id, j.fence, T0 + 1, err.clone(), Some(T0 + 2_000), T0)
        .await
        .unwrap();
    assert_eq!(q.state, JobState::Queued);
    assert_eq!(q.run_after, T0 + 2_000);
    assert_eq!(q.error.as_ref(), Some(&err));
    assert!(
        s.claim(T0 + 1_999, LEASE).await.unwrap().is_none(),
        "backoff respected"
    );
    let j2 = s.claim(T0 + 2_000, LEASE).await.unwrap().unwrap();
    assert_eq!(j2.attempts, 2);
    let fatal = JobError::new("invalid_pdf", "not a PDF", false);
    let f = s
        .fail(
            &j2.id,
            j2.fence,
            T0 + 2_500,
            fatal.clone(),
            None,
            T0 + 9_999,
        )
        .await
        .unwrap();
    assert_eq!(f.state, JobState::Failed);
    assert_eq!(f.error, Some(fatal));
    assert_eq!(f.finished_at, Some(T0 + 2_500));
    assert_eq!(f.expires_at, T0 + 9_999);
    assert!(s.claim(T0 + 100_000, LEASE).await.unwrap().is_none());

    // Lease expiry with attempts used up: failed with `lease_expired`.
    s.insert(new_job(2, 0, T0)).await.unwrap();
    let mut now = T0;
    for attempt in 1..=3 {
        let c = s.claim(now, LEASE).await.unwrap().unwrap();
        assert_eq!(c.attempts, attempt);
        now += 11_000;
        s.reap_expired(now).await.unwrap();
    }
    let gone = s.get("job-00002").await.unwrap().unwrap();
    assert_eq!(gone.state, JobState::Failed);
    assert_eq!(gone.error.unwrap().code, "lease_expired");
}

/// Cancelling a queued job ends it; a running one is flagged for its worker.
pub async fn cancel(s: &dyn Store) {
    s.insert(new_job(1, 0, T0)).await.unwrap();
    s.insert(new_job(2, 0, T0 + 1)).await.unwrap();
    let c = s.cancel("job-00001", T0 + 5).await.unwrap().unwrap();
    assert_eq!(c.state, JobState::Cancelled);
    assert_eq!(c.finished_at, Some(T0 + 5));
    let running = s.claim(T0 + 10, LEASE).await.unwrap().unwrap();
    assert_eq!(running.id, "job-00002", "a cancelled job is never claimed");
    let flagged = s.cancel("job-00002", T0 + 11).await.unwrap().unwrap();
    assert_eq!(flagged.state, JobState::Running);
    assert!(flagged.cancel_requested);
    assert_eq!(
        s.renew(&running.id, running.fence, T0 + 12, LEASE)
            .await
            .unwrap(),
        Renewal::Held {
            cancel_requested: true
        }
    );
    let done = s
        .finish_cancelled(&running.id, running.fence, T0 + 13, T0 + 100)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Cancelled);
    // Cancelling a finished job changes nothing; a missing one is None.
    let again = s.cancel("job-00002", T0 + 14).await.unwrap().unwrap();
    assert_eq!(again, done);
    assert!(s.cancel("missing", T0).await.unwrap().is_none());
}

/// Graceful shutdown gives a job back without spending an attempt.
pub async fn release_requeues(s: &dyn Store) {
    s.insert(new_job(1, 0, T0)).await.unwrap();
    let j = s.claim(T0, LEASE).await.unwrap().unwrap();
    let r = s.release(&j.id, j.fence).await.unwrap();
    assert_eq!(r.state, JobState::Queued);
    assert_eq!(r.attempts, 0);
    let again = s.claim(T0 + 1, LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempts, 1);
    assert!(again.fence > j.fence);
}

/// Result cache look-ups, expiry and purge of old rows.
pub async fn cache_and_expiry(s: &dyn Store) {
    s.insert(new_job(1, 0, T0)).await.unwrap();
    let j = s.claim(T0, LEASE).await.unwrap().unwrap();
    s.complete(&j.id, j.fence, T0 + 10, completion(T0 + 1_000))
        .await
        .unwrap();
    let hit = s.find_cached("cache-1", T0 + 500).await.unwrap().unwrap();
    assert_eq!(hit.id, j.id);
    assert!(s.find_cached("cache-2", T0 + 500).await.unwrap().is_none());
    assert!(
        s.find_cached("cache-1", T0 + 1_000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(s.expired(T0 + 999, 10).await.unwrap().is_empty());
    // Queued jobs are never listed for deletion, even if old.
    s.insert(new_job(2, 0, T0 - 10_000_000)).await.unwrap();
    let due = s.expired(T0 + 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["job-00001"]
    );
    s.mark_purged(&j.id).await.unwrap();
    assert!(s.get(&j.id).await.unwrap().unwrap().purged);
    assert!(s.expired(T0 + 1_000, 10).await.unwrap().is_empty());
    assert!(
        s.find_cached("cache-1", T0 + 500).await.unwrap().is_none(),
        "purged"
    );
    assert_eq!(s.delete_purged_before(T0 + 1_000).await.unwrap(), 0);
    assert_eq!(s.delete_purged_before(T0 + 1_001).await.unwrap(), 1);
    assert!(s.get(&j.id).await.unwrap().is_none());
    assert!(s.get("job-00002").await.unwrap().is_some());
}

/// Every state change and progress update bumps `event_seq`.
pub async fn event_seq_increases(s: &dyn Store) {
    let a = s.insert(new_job(1, 0, T0)).await.unwrap();
    let b = s.claim(T0, LEASE).await.unwrap().unwrap();
    let p = s.set_progress(&b.id, b.fence, 0.25).await.unwrap();
    let c = s
        .complete(&b.id, b.fence, T0 + 1, completion(T0 + 2))
        .await
        .unwrap();
    assert!(a.event_seq < b.event_seq && b.event_seq < p && p < c.event_seq);
}

fn new_key(n: u32, admin: bool) -> crate::NewApiKey {
    crate::NewApiKey {
        id: format!("key_{n:04}"),
        name: format!("client {n}"),
        key_hash: format!("{n:064x}"),
        admin,
        rate_limit_uploads: (n == 1).then(|| "1/s,burst=2".to_string()),
        rate_limit_reads: None,
        max_concurrent_jobs: (n == 1).then_some(3),
        created_at: T0 + i64::from(n),
    }
}

/// Keys are found by hash only, listed oldest first, revoked once; a
/// duplicate hash is refused.
pub async fn api_keys(s: &dyn Store) {
    let a = s.insert_api_key(new_key(1, false)).await.unwrap();
    assert_eq!(a.rate_limit_uploads.as_deref(), Some("1/s,burst=2"));
    assert_eq!(a.max_concurrent_jobs, Some(3));
    assert!(a.active() && !a.admin);
    s.insert_api_key(new_key(2, true)).await.unwrap();
    let found = s.api_key_by_hash(&format!("{:064x}", 1)).await.unwrap();
    assert_eq!(found.as_ref(), Some(&a));
    assert!(s.api_key_by_hash("feed").await.unwrap().is_none());
    let mut dup = new_key(3, false);
    dup.key_hash = a.key_hash.clone();
    assert!(s.insert_api_key(dup).await.is_err(), "hashes are unique");
    let all = s.list_api_keys().await.unwrap();
    assert_eq!(
        all.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["key_0001", "key_0002"]
    );
    assert!(all[1].admin);
    assert!(s.revoke_api_key("key_0001", T0 + 50).await.unwrap());
    assert!(
        !s.revoke_api_key("key_0001", T0 + 60).await.unwrap(),
        "once"
    );
    assert!(!s.revoke_api_key("key_9999", T0).await.unwrap());
    let revoked = s.api_key_by_hash(&a.key_hash).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 50));
    assert!(!revoked.active());
}

/// Jobs remember their owner; active jobs are counted per owner.
pub async fn job_owner_and_active_count(s: &dyn Store) {
    let mut a = new_job(1, 0, T0);
    a.owner = Some("key_a".into());
    let mut b = new_job(2, 0, T0 + 1);
    b.owner = Some("key_a".into());
    let mut c = new_job(3, 0, T0 + 2);
    c.owner = Some("key_b".into());
    s.insert(a).await.unwrap();
    s.insert(b).await.unwrap();
    s.insert(c).await.unwrap();
    s.insert(new_job(4, 0, T0 + 3)).await.unwrap();
    assert_eq!(
        s.get("job-00001").await.unwrap().unwrap().owner.as_deref(),
        Some("key_a")
    );
    assert_eq!(s.get("job-00004").await.unwrap().unwrap().owner, None);
    assert_eq!(s.active_jobs_of("key_a").await.unwrap(), 2);
    assert_eq!(s.active_jobs_of("key_b").await.unwrap(), 1);
    assert_eq!(s.active_jobs_of("nobody").await.unwrap(), 0);
    // A finished job no longer counts.
    let j = s.claim(T0 + 10, LEASE).await.unwrap().unwrap();
    assert_eq!(j.id, "job-00001");
    s.complete(&j.id, j.fence, T0 + 20, completion(T0 + 9_999))
        .await
        .unwrap();
    assert_eq!(s.active_jobs_of("key_a").await.unwrap(), 1);
}

/// Admin figures: queue depth, what finished in the window (by state, per
/// minute), failures by code, and the storage held by unpurged jobs.
pub async fn admin_stats_window(s: &dyn Store) {
    let now = T0 + 600_000;
    let window = Duration::from_secs(300);
    let empty = s.admin_stats(now, window).await.unwrap();
    assert_eq!(empty.since, now - 300_000);
    assert_eq!(empty.finished_per_minute, vec![0; 5]);
    assert_eq!(
        (empty.submitted, empty.storage_bytes, empty.stored_jobs),
        (0, 0, 0)
    );

    // An old job that finished before the window: counts for storage only.
    s.insert(new_job(1, 0, T0)).await.unwrap();
    let old = s.claim(T0, LEASE).await.unwrap().unwrap();
    s.complete(&old.id, old.fence, T0 + 1_000, completion(now + 3_600_000))
        .await
        .unwrap();
    // In the window: one success two minutes before `now`, two failures with
    // different codes in the last minute, one cancelled while queued, one
    // still running and one queued.
    for n in 2..=7 {
        s.insert(new_job(n, 0, now - 250_000 + i64::from(n)))
            .await
            .unwrap();
    }
    let ok = s.claim(now - 200_000, LEASE).await.unwrap().unwrap();
    s.complete(&ok.id, ok.fence, now - 130_000, completion(now + 3_600_000))
        .await
        .unwrap();
    for (code, at) in [("invalid_pdf", now - 20_000), ("encrypted", now - 10_000)] {
        let j = s.claim(at - 1, LEASE).await.unwrap().unwrap();
        s.fail(
            &j.id,
            j.fence,
            at,
            JobError::new(code, "bad input", false),
            None,
            now + 3_600_000,
        )
        .await
        .unwrap();
    }
    s.cancel("job-00007", now - 5_000).await.unwrap();
    let running = s.claim(now - 1_000, LEASE).await.unwrap().unwrap();
    assert_eq!(running.id, "job-00005");
    // job-00006 stays queued.
    let a = s.admin_stats(now, window).await.unwrap();
    assert_eq!((a.queue.queued, a.queue.running), (1, 1));
    assert_eq!(a.submitted, 6, "the old job was created before the window");
    assert_eq!((a.succeeded, a.failed, a.cancelled), (1, 2, 1));
    assert_eq!(
        a.finished_per_minute,
        vec![0, 0, 1, 0, 3],
        "oldest minute first; the last minute holds two failures and the cancel"
    );
    let mut codes = a.failure_codes.clone();
    codes.sort();
    assert_eq!(
        codes,
        vec![("encrypted".to_string(), 1), ("invalid_pdf".to_string(), 1)]
    );
    assert_eq!(
        a.recent_failures
            .iter()
            .map(|j| j.error.as_ref().unwrap().code.as_str())
            .collect::<Vec<_>>(),
        ["encrypted", "invalid_pdf"],
        "newest first"
    );
    // Inputs of all 7 jobs (100 + n bytes each) plus two results of 42 bytes.
    let inputs: u64 = (1..=7).map(|n| 100 + n).sum();
    assert_eq!(a.storage_bytes, inputs + 2 * 42);
    assert_eq!(a.stored_jobs, 7);

    // Purged jobs no longer count for storage.
    s.mark_purged(&old.id).await.unwrap();
    let b = s.admin_stats(now, window).await.unwrap();
    assert_eq!(b.storage_bytes, inputs - 101 + 42);
    assert_eq!(b.stored_jobs, 6);
    // A longer window reaches the old job's completion.
    let c = s.admin_stats(now, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(c.succeeded, 2);
    assert_eq!(c.finished_per_minute.len(), 60);
    assert_eq!(c.finished_per_minute.iter().sum::<u64>(), 5);
}

/// Recent jobs: newest first, filtered by state, limited.
pub async fn recent_jobs_newest_first(s: &dyn Store) {
    for n in 1..=5 {
        s.insert(new_job(n, 0, T0 + i64::from(n))).await.unwrap();
    }
    let j = s.claim(T0 + 10, LEASE).await.unwrap().unwrap();
    assert_eq!(j.id, "job-00001");
    let all = s.recent_jobs(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [
            "job-00005",
            "job-00004",
            "job-00003",
            "job-00002",
            "job-00001"
        ]
    );
    let two = s.recent_jobs(None, 2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].id, "job-00005");
    let running = s.recent_jobs(Some(JobState::Running), 10).await.unwrap();
    assert_eq!(
        running.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["job-00001"]
    );
    assert!(
        s.recent_jobs(Some(JobState::Failed), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Each scheduled task's time slot is claimed by exactly one caller, even
/// when many race for it; other tasks and later slots are separate.
pub async fn schedule_slot_once(s: &dyn Store) {
    assert!(s.claim_slot("cleanup", T0).await.unwrap());
    assert!(!s.claim_slot("cleanup", T0).await.unwrap(), "slot taken");
    assert!(s.claim_slot("reaper", T0).await.unwrap(), "other task");
    let racers = (0..8).map(|_| s.claim_slot("cleanup", T0 + 60_000));
    let won = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(won, 1, "exactly one of the racers runs the slot");
    // Old slots are forgotten after a day, so the table stays small, but a
    // slot that was run is never handed out again while it is kept.
    assert!(!s.claim_slot("cleanup", T0 + 60_000).await.unwrap());
}

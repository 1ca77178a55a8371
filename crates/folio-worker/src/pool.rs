//! The worker pool: `workers` slots, each claiming one job at a time from the
//! store and running it in a child process, plus a reaper that re-queues jobs
//! whose worker vanished.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use folio_db::{Completion, Renewal, Store, StoreError};
use folio_jobs::names::{extension, result_name};
use folio_jobs::{Job, JobError, Millis, ResultRef, RetryPolicy, codes, now_ms};
use folio_storage::Storage;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::events::EventBus;
use crate::protocol::{ChildInput, ChildRequest};
use crate::runner::{ChildCommand, ChildLimits, ChildOutcome, Control, run_child};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Concurrent jobs in this process.
    pub workers: usize,
    /// Lease length; renewed every third of it.
    pub lease: Duration,
    /// Soft limit (the job is asked to stop) unless the job sets its own.
    pub soft_timeout: Duration,
    /// Hard limit after which the child is killed.
    pub hard_timeout: Duration,
    /// RLIMIT_AS per child, bytes.
    pub memory_limit: Option<u64>,
    /// RLIMIT_CPU per child, seconds.
    pub cpu_limit: Option<u64>,
    pub retry: RetryPolicy,
    /// How long inputs and results are kept after a job ends.
    pub retention: Duration,
    /// How often an idle slot looks for work when not woken.
    pub poll_interval: Duration,
    pub child: ChildCommand,
    /// Largest input the engine accepts.
    pub max_input_bytes: u64,
}

impl WorkerConfig {
    fn child_limits(&self, job: &Job) -> ChildLimits {
        let soft = job
            .spec
            .soft_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(self.soft_timeout)
            .min(self.soft_timeout);
        ChildLimits {
            address_space: self.memory_limit,
            cpu_secs: self.cpu_limit,
            soft_timeout: soft,
            hard_timeout: self.hard_timeout.max(soft),
            cancel_grace: Duration::from_secs(5),
        }
    }
}

struct Shared {
    cfg: WorkerConfig,
    store: Arc<dyn Store>,
    storage: Arc<dyn Storage>,
    events: EventBus,
    wake: Notify,
    /// true: stop claiming new jobs.
    stopping: watch::Sender<bool>,
    /// true: kill running jobs and give them back to the queue.
    killing: watch::Sender<bool>,
    active: AtomicUsize,
    /// Control channels of the jobs running here, for immediate cancel.
    running: Mutex<HashMap<String, mpsc::Sender<Control>>>,
}

/// A running pool. Dropping it does not stop the slots; call [`Pool::shutdown`].
/// After shutdown, [`Pool::healthy`] is false.
pub struct Pool {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    reaper: JoinHandle<()>,
}

impl Pool {
    pub fn start(
        cfg: WorkerConfig,
        store: Arc<dyn Store>,
        storage: Arc<dyn Storage>,
        events: EventBus,
    ) -> Pool {
        let shared = Arc::new(Shared {
            cfg,
            store,
            storage,
            events,
            wake: Notify::new(),
            stopping: watch::channel(false).0,
            killing: watch::channel(false).0,
            active: AtomicUsize::new(0),
            running: Mutex::new(HashMap::new()),
        });
        let tasks: Vec<JoinHandle<()>> = (0..shared.cfg.workers)
            .map(|slot| tokio::spawn(slot_loop(shared.clone(), slot)))
            .collect();
        let reaper = tokio::spawn(reaper_loop(shared.clone()));
        Pool {
            shared,
            tasks: Mutex::new(tasks),
            reaper,
        }
    }

    /// A job was queued: wake an idle slot now instead of at its next poll.
    pub fn notify(&self) {
        self.shared.wake.notify_one();
    }

    /// Jobs running right now.
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    pub fn size(&self) -> usize {
        self.shared.cfg.workers
    }

    /// Every slot task is alive (none panicked or exited).
    pub fn healthy(&self) -> bool {
        let slots_ok = self
            .tasks
            .lock()
            .map(|t| t.iter().all(|t| !t.is_finished()))
            .unwrap_or(false);
        slots_ok && !self.reaper.is_finished() && !*self.shared.stopping.borrow()
    }

    /// Ask a job running in this process to stop now (its store row already
    /// has `cancel_requested`; this only saves waiting for the next renewal).
    pub fn cancel_local(&self, job_id: &str) {
        let tx = self
            .shared
            .running
            .lock()
            .ok()
            .and_then(|m| m.get(job_id).cloned());
        if let Some(tx) = tx {
            let _ = tx.try_send(Control::Cancel);
        }
    }

    /// Graceful shutdown: stop claiming, let running jobs finish for up to
    /// `grace`, then kill the rest and give them back to the queue.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.shared.stopping.send(true);
        self.shared.wake.notify_waiters();
        let tasks = self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let all = futures_util::future::join_all(tasks);
        tokio::pin!(all);
        if tokio::time::timeout(grace, &mut all).await.is_err() {
            tracing::info!(
                active = self.shared.active.load(Ordering::Relaxed),
                "shutdown grace over: re-queueing running jobs"
            );
            let _ = self.shared.killing.send(true);
            all.await;
        }
        self.reaper.abort();
    }
}

async fn slot_loop(shared: Arc<Shared>, slot: usize) {
    let mut stopping = shared.stopping.subscribe();
    loop {
        if *stopping.borrow() {
            break;
        }
        match shared.store.claim(now_ms(), shared.cfg.lease).await {
            Ok(Some(job)) => {
                shared.active.fetch_add(1, Ordering::Relaxed);
                metrics::gauge!("folio_jobs_active").increment(1.0);
                let span = tracing::info_span!(
                    "job",
                    job_id = %job.id,
                    operation = %job.operation(),
                    attempt = job.attempts,
                    slot
                );
                run_job(&shared, job).instrument(span).await;
                shared.active.fetch_sub(1, Ordering::Relaxed);
                metrics::gauge!("folio_jobs_active").decrement(1.0);
                // There may be more: look again at once.
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "claim failed"),
        }
        // Woken by a job queued in this process, by the store (PostgreSQL
        // NOTIFY from any node), or by the polling fallback.
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = shared.store.wait_for_work(shared.cfg.poll_interval) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// The start of the time slot of length `every` that `now` falls in.
pub fn slot_start(now: Millis, every: Duration) -> Millis {
    let len = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    now - now.rem_euclid(len)
}

/// Sleep until the next slot of length `every` begins.
pub async fn sleep_to_next_slot(every: Duration) {
    let now = now_ms();
    let next = slot_start(now, every) + i64::try_from(every.as_millis()).unwrap_or(0);
    let wait = u64::try_from(next - now).unwrap_or(0).max(1);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// Every pool runs this, but each time slot's pass happens on one node only
/// (the one that claims the slot in the shared store).
async fn reaper_loop(shared: Arc<Shared>) {
    let every = (shared.cfg.lease / 2).max(Duration::from_millis(200));
    loop {
        let slot = slot_start(now_ms(), every);
        match shared.store.claim_slot("reaper", slot).await {
            Ok(true) => {}
            Ok(false) => {
                sleep_to_next_slot(every).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reaper: cannot claim the time slot");
                sleep_to_next_slot(every).await;
                continue;
            }
        }
        match shared.store.reap_expired(now_ms()).await {
            Ok(jobs) => {
                for j in &jobs {
                    tracing::warn!(job_id = %j.id, state = %j.state, "lease expired: job re-queued or failed");
                    shared.events.publish_state(j);
                }
                if !jobs.is_empty() {
                    shared.wake.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "reaper failed"),
        }
        sleep_to_next_slot(every).await;
    }
}

fn retention_ms(cfg: &WorkerConfig) -> i64 {
    i64::try_from(cfg.retention.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Where a job's scratch files go: next to storage when it is local (so
/// results can be moved, not copied), else the system temp dir.
fn work_dir(shared: &Shared, job: &Job) -> PathBuf {
    shared
        .storage
        .scratch_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("job-{}-{}", job.id, job.fence))
}

async fn fetch_inputs(shared: &Shared, job: &Job, dir: &Path) -> Result<Vec<ChildInput>, JobError> {
    let mut out = Vec::with_capacity(job.spec.inputs.len());
    for (n, input) in job.spec.inputs.iter().enumerate() {
        let missing = || {
            JobError::new(
                codes::STORAGE,
                format!("input '{}' is no longer stored", input.name),
                false,
            )
        };
        if let Some(p) = shared.storage.local_path(&input.key) {
            if tokio::fs::try_exists(&p).await.unwrap_or(false) {
                out.push(ChildInput {
                    path: p,
                    name: input.name.clone(),
                });
                continue;
            }
            return Err(missing());
        }
        let path = dir.join(format!("in-{n:04}"));
        let mut stream = shared
            .storage
            .get(&input.key, None)
            .await
            .map_err(|e| match e {
                folio_storage::StorageError::NotFound(_) => missing(),
                e => JobError::new(codes::STORAGE, format!("cannot read input: {e}"), true),
            })?;
        let io = |e: std::io::Error| {
            JobError::new(codes::STORAGE, format!("cannot copy input: {e}"), true)
        };
        let mut f = tokio::fs::File::create(&path).await.map_err(io)?;
        while let Some(chunk) = stream.next().await {
            f.write_all(&chunk.map_err(io)?).await.map_err(io)?;
        }
        f.flush().await.map_err(io)?;
        out.push(ChildInput {
            path,
            name: input.name.clone(),
        });
    }
    Ok(out)
}

/// Store the child's outputs as the job's result (zipped when several).
async fn store_result(
    shared: &Shared,
    job: &Job,
    dir: &Path,
    outputs: &[crate::protocol::ChildOutput],
) -> Result<ResultRef, JobError> {
    let first = job
        .spec
        .inputs
        .first()
        .map(|i| i.name.as_str())
        .unwrap_or("document");
    let op = job.operation();
    let storage_err = |e: String| {
        JobError::new(
            codes::STORAGE,
            format!("cannot store the result: {e}"),
            true,
        )
    };
    let (path, name, media_type) = match outputs {
        [] => {
            return Err(JobError::new(
                codes::INTERNAL,
                "the operation produced no output",
                false,
            ));
        }
        [one] => (
            dir.join("out").join(&one.file),
            result_name(op, first, extension(&one.media_type)),
            one.media_type.clone(),
        ),
        many => {
            let names: Vec<String> = many.iter().map(|o| o.name.clone()).collect();
            let names = crate::zip::unique_names(&names);
            let members: Vec<(String, PathBuf)> = names
                .into_iter()
                .zip(many)
                .map(|(n, o)| (n, dir.join("out").join(&o.file)))
                .collect();
            let zip = dir.join("result.zip");
            let z = zip.clone();
            tokio::task::spawn_blocking(move || crate::zip::write_zip(&z, &members))
                .await
                .map_err(|e| storage_err(e.to_string()))?
                .map_err(|e| storage_err(e.to_string()))?;
            (
                zip,
                result_name(op, first, "zip"),
                "application/zip".to_string(),
            )
        }
    };
    let stored = shared
        .storage
        .put_file(&path)
        .await
        .map_err(|e| storage_err(e.to_string()))?;
    Ok(ResultRef {
        key: stored.key,
        name,
        media_type,
        size: stored.size,
        files: outputs.iter().map(|o| o.name.clone()).collect(),
    })
}

enum Stop {
    None,
    Lost,
    Shutdown,
}

async fn run_job(shared: &Arc<Shared>, job: Job) {
    shared.events.publish_state(&job);
    let op = job.operation().as_str();
    if let Some(started) = job.started_at {
        metrics::histogram!("folio_queue_wait_seconds", "operation" => op)
            .record((started - job.created_at).max(0) as f64 / 1000.0);
    }
    tracing::info!("job started");
    let dir = work_dir(shared, &job);
    let outcome = match tokio::fs::create_dir_all(dir.join("out")).await {
        Err(e) => Err(JobError::new(
            codes::STORAGE,
            format!("cannot create a work directory: {e}"),
            true,
        )),
        Ok(()) => match fetch_inputs(shared, &job, &dir).await {
            Err(e) => Err(e),
            Ok(inputs) => Ok(supervise(shared, &job, inputs, &dir).await),
        },
    };
    let now = now_ms();
    let expires = now + retention_ms(&shared.cfg);
    let elapsed = job
        .started_at
        .map(|s| (now - s).max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    let record = |outcome: &'static str| {
        metrics::counter!("folio_jobs_total", "operation" => op, "outcome" => outcome).increment(1);
        metrics::histogram!("folio_job_duration_seconds", "operation" => op).record(elapsed);
    };
    let result: Result<Option<Job>, StoreError> = match outcome {
        Ok((_, Stop::Lost)) => {
            tracing::warn!("lease lost: the job was re-delivered elsewhere; dropping this run");
            Ok(None)
        }
        Ok((_, Stop::Shutdown)) => {
            tracing::info!("shutdown: job given back to the queue");
            shared.store.release(&job.id, job.fence).await.map(Some)
        }
        Ok((ChildOutcome::Done { report, outputs }, Stop::None)) => {
            match store_result(shared, &job, &dir, &outputs).await {
                Ok(result) => {
                    let bytes_out = result.size;
                    let key = result.key.clone();
                    let r = shared
                        .store
                        .complete(
                            &job.id,
                            job.fence,
                            now,
                            Completion {
                                report: report.clone(),
                                result,
                                expires_at: expires,
                            },
                        )
                        .await;
                    match &r {
                        Ok(done) if done.purged => {
                            // Deleted by the client while finishing: drop the result.
                            let _ = shared.storage.delete(&key).await;
                            record("cancelled");
                        }
                        Ok(_) => {
                            record("succeeded");
                            metrics::counter!("folio_bytes_in_total", "operation" => op)
                                .increment(job.bytes_in);
                            metrics::counter!("folio_bytes_out_total", "operation" => op)
                                .increment(bytes_out);
                            if job.operation() == folio_jobs::Operation::Compress
                                && job.bytes_in > 0
                            {
                                metrics::histogram!("folio_compression_ratio")
                                    .record(bytes_out as f64 / job.bytes_in as f64);
                            }
                            tracing::info!(bytes_in = job.bytes_in, bytes_out, "job succeeded");
                        }
                        Err(_) => {
                            let _ = shared.storage.delete(&key).await;
                        }
                    }
                    r.map(Some)
                }
                Err(e) => fail(shared, &job, e, now, expires, &record).await,
            }
        }
        Ok((ChildOutcome::Failed(e), Stop::None)) | Err(e) => {
            fail(shared, &job, e, now, expires, &record).await
        }
        Ok((ChildOutcome::Cancelled, Stop::None)) => {
            record("cancelled");
            tracing::info!("job cancelled");
            shared
                .store
                .finish_cancelled(&job.id, job.fence, now, expires)
                .await
                .map(Some)
        }
        Ok((ChildOutcome::Killed, Stop::None)) => {
            // Killed without a reason we know of: treat as a crash.
            fail(
                shared,
                &job,
                JobError::new(codes::CRASHED, "the job process was killed", false),
                now,
                expires,
                &record,
            )
            .await
        }
    };
    match result {
        Ok(Some(j)) => shared.events.publish_state(&j),
        Ok(None) => {}
        Err(StoreError::Stale(_)) => {
            tracing::warn!("the job was re-delivered meanwhile; this run's outcome is dropped")
        }
        Err(e) => tracing::error!(error = %e, "cannot record the job's outcome"),
    }
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        tracing::debug!(error = %e, "cannot remove the work directory");
    }
}

async fn fail(
    shared: &Shared,
    job: &Job,
    error: JobError,
    now: Millis,
    expires: Millis,
    record: &impl Fn(&'static str),
) -> Result<Option<Job>, StoreError> {
    let policy: RetryPolicy = RetryPolicy {
        max_attempts: job.max_attempts,
        ..shared.cfg.retry
    };
    let retry_at = policy.should_retry(job.attempts, error.retryable).then(|| {
        now + i64::try_from(policy.delay(job.attempts).as_millis()).unwrap_or(i64::MAX / 4)
    });
    if retry_at.is_some() {
        record("retried");
        tracing::warn!(code = %error.code, error = %error.message, "job failed; will retry");
    } else {
        record("failed");
        tracing::warn!(code = %error.code, error = %error.message, "job failed");
    }
    shared
        .store
        .fail(&job.id, job.fence, now, error, retry_at, expires)
        .await
        .map(Some)
}

/// Run the child while renewing the lease, forwarding progress, and reacting
/// to cancellation, lease loss and shutdown.
async fn supervise(
    shared: &Arc<Shared>,
    job: &Job,
    inputs: Vec<ChildInput>,
    dir: &Path,
) -> (ChildOutcome, Stop) {
    let request = ChildRequest {
        job_id: job.id.clone(),
        options: job.spec.options.clone(),
        password: job.spec.password.clone(),
        inputs,
        out_dir: dir.join("out"),
        limits: folio_engine::Limits {
            wall_time: shared.cfg.child_limits(job).soft_timeout,
            max_input_bytes: shared.cfg.max_input_bytes,
            ..folio_engine::Limits::default()
        },
    };
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    if let Ok(mut m) = shared.running.lock() {
        m.insert(job.id.clone(), ctl_tx.clone());
    }
    if job.cancel_requested {
        let _ = ctl_tx.try_send(Control::Cancel);
    }
    let (progress_tx, mut progress_rx) = watch::channel(0f32);
    let limits = shared.cfg.child_limits(job);
    let child = run_child(&shared.cfg.child, limits, &request, ctl_rx, move |p| {
        let _ = progress_tx.send(p);
    });
    tokio::pin!(child);
    let mut renew = tokio::time::interval(shared.cfg.lease / 3);
    renew.tick().await; // the first tick is immediate
    let mut killing = shared.killing.subscribe();
    let mut stop = Stop::None;
    let mut last_progress_write = tokio::time::Instant::now() - Duration::from_secs(1);
    let mut progress_open = true;
    let outcome = loop {
        tokio::select! {
            o = &mut child => break o,
            _ = renew.tick() => {
                match shared.store.renew(&job.id, job.fence, now_ms(), shared.cfg.lease).await {
                    Ok(Renewal::Held { cancel_requested: true }) => { let _ = ctl_tx.try_send(Control::Cancel); }
                    Ok(Renewal::Held { .. }) => {}
                    Ok(Renewal::Lost) => { stop = Stop::Lost; let _ = ctl_tx.try_send(Control::Kill); }
                    Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
                }
            }
            changed = progress_rx.changed(), if progress_open => {
                if changed.is_err() { progress_open = false; continue; }
                // At most four store writes per second; the final state follows anyway.
                if last_progress_write.elapsed() >= Duration::from_millis(250) {
                    last_progress_write = tokio::time::Instant::now();
                    let p = *progress_rx.borrow_and_update();
                    match shared.store.set_progress(&job.id, job.fence, p).await {
                        Ok(seq) => shared.events.publish(folio_jobs::JobEvent {
                            job_id: job.id.clone(),
                            seq,
                            kind: folio_jobs::JobEventKind::Progress { progress: p },
                        }),
                        Err(StoreError::Stale(_)) => { stop = Stop::Lost; let _ = ctl_tx.try_send(Control::Kill); }
                        Err(e) => tracing::debug!(error = %e, "cannot record progress"),
                    }
                }
            }
            k = killing.changed() => {
                if k.is_ok() && *killing.borrow() {
                    stop = Stop::Shutdown;
                    let _ = ctl_tx.try_send(Control::Kill);
                }
            }
        }
    };
    if let Ok(mut m) = shared.running.lock() {
        m.remove(&job.id);
    }
    // A job that finished on its own just as shutdown or lease loss came is
    // still recorded normally if it produced a final outcome.
    let stop = match (&outcome, stop) {
        (ChildOutcome::Killed, s) => s,
        (_, Stop::Lost) => Stop::Lost,
        _ => Stop::None,
    };
    (outcome, stop)
}

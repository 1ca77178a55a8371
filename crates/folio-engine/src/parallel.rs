//! The thread pool of a process that runs one operation at a time on its
//! main thread (the CLI, the job child): that thread is worker 0, and the
//! other workers start only once an operation has work to share.
//!
//! Why: on a small file the whole run takes ~1.5 ms, and starting the second
//! worker and handing it slivers of work cost ~0.1–0.3 ms of it (one-page
//! compress, interleaved runs against `RAYON_NUM_THREADS=1`). Big inputs,
//! images and the quality gate call [`need_workers`] and get both cores.
//!
//! The pool's other workers are kept unstarted until then. Until they start,
//! work is done by worker 0 alone, which rayon's `join`, `scope` and
//! parallel iterators do without waiting for anyone. (`rayon::broadcast`
//! would wait for every worker: call [`need_workers`] before using it.)

use std::sync::{Mutex, MutexGuard, OnceLock};

/// Inputs up to this size are worked on by the calling thread alone, unless
/// they hold images to re-encode or pages to render.
pub const WORTH_WORKERS: usize = 64 << 10;

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
/// The pool's other workers, waiting to be started by [`need_workers`].
static UNSTARTED: Mutex<Vec<rayon::ThreadBuilder>> = Mutex::new(Vec::new());

fn unstarted() -> MutexGuard<'static, Vec<rayon::ThreadBuilder>> {
    // The list stays consistent whatever panicked while it was held.
    UNSTARTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Make the calling thread worker 0 of a rayon pool, for a process whose
/// main thread does nothing but run operations. Without it every parallel
/// step hands its work to a pool thread and blocks until one wakes up: on a
/// one-page file that was 0.3 ms of a 2.8 ms run (strace: two futex waits of
/// 230 and 98 µs). Call it before the first operation; later calls leave
/// things as they are.
///
/// The pool is our own rather than rayon's global one, because
/// `build_global` waits until every worker has started and `build` does not.
/// Parallel steps started on this thread run in this pool; another thread's
/// use rayon's global pool, as before.
pub fn work_on_this_thread() {
    if POOL.get().is_some() {
        return;
    }
    let mut builder = rayon::ThreadPoolBuilder::new();
    if std::env::var_os("RAYON_NUM_THREADS").is_none()
        && let Some(n) = cpus_of_this_process()
    {
        builder = builder.num_threads(n);
    }
    let built = builder
        .use_current_thread()
        .spawn_handler(|worker| {
            unstarted().push(worker);
            Ok(())
        })
        .build();
    match built {
        Ok(pool) => {
            if let Err(pool) = POOL.set(pool) {
                // Another thread got there first. This thread is worker 0
                // of `pool`: dropping it would shut down the pool under it.
                std::mem::forget(pool);
            }
        }
        Err(e) => tracing::debug!("no pool of our own: {e}"),
    }
}

/// The CPUs this process may run on (its affinity mask): one system call.
/// rayon would ask `std::thread::available_parallelism`, which also reads
/// the cgroup's CPU quota through four files, ~45 µs of a ~1.5 ms run on a
/// small file; the quota is applied when the workers start instead.
#[cfg(target_os = "linux")]
fn cpus_of_this_process() -> Option<usize> {
    // SAFETY: `set` is a plain bit mask that sched_getaffinity fills in.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        usize::try_from(libc::CPU_COUNT(&set))
            .ok()
            .filter(|&n| n > 0)
    }
}

/// Elsewhere rayon decides.
#[cfg(not(target_os = "linux"))]
fn cpus_of_this_process() -> Option<usize> {
    None
}

/// Start the pool's other workers (once; nothing to do without such a pool),
/// as many as the process's CPU quota allows (`available_parallelism`
/// counts it): the pool was sized by the affinity mask alone, and a worker
/// that never starts never takes work.
pub fn need_workers() {
    let mut waiting = std::mem::take(&mut *unstarted());
    let allowed = std::thread::available_parallelism().map_or(usize::MAX, |n| n.get());
    // Worker 0 is the calling thread.
    waiting.truncate(allowed.saturating_sub(1));
    for worker in waiting {
        let index = worker.index();
        let started = std::thread::Builder::new()
            .name(format!("folio-worker-{index}"))
            .spawn(move || worker.run());
        if let Err(e) = started {
            // The work still gets done, by the threads there are.
            tracing::warn!("could not start worker thread {index}: {e}");
        }
    }
}

/// [`need_workers`] when `bytes` of input are more than [`WORTH_WORKERS`].
pub fn need_workers_for(bytes: usize) {
    if bytes > WORTH_WORKERS {
        need_workers();
    }
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    // One test: the pool is the process's.
    #[test]
    fn work_runs_on_worker_zero_until_the_others_are_needed() {
        // The test runs on a thread of its own, outside any pool.
        assert_eq!(rayon::current_thread_index(), None);
        super::work_on_this_thread();
        super::work_on_this_thread();
        assert_eq!(rayon::current_thread_index(), Some(0));
        let threads = rayon::current_num_threads();
        let on = |n: usize| -> std::collections::HashSet<usize> {
            (0..n)
                .into_par_iter()
                .map(|_| {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    rayon::current_thread_index().unwrap_or(usize::MAX)
                })
                .collect()
        };
        // Before: everything on this thread, and the results add up.
        assert_eq!(on(64), [0].into());
        let sum: u64 = (1..=10_000u64).into_par_iter().map(|i| i * 2).sum();
        assert_eq!(sum, 10_000 * 10_001);
        rayon::join(|| (), || ());
        super::need_workers_for(super::WORTH_WORKERS);
        assert_eq!(on(64), [0].into(), "not enough work yet");
        // After: the other workers take part (when the machine has them).
        super::need_workers_for(super::WORTH_WORKERS + 1);
        super::need_workers();
        if threads > 1 {
            assert!(on(256).len() > 1, "the other workers never ran");
        }
        assert!(on(256).iter().all(|&i| i < threads));
    }
}

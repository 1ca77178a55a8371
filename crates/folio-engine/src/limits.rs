//! Resource bounds for one operation, and the context that carries them.
//!
//! Every operation takes a [`Ctx`]: the limits, a deadline derived from
//! `Limits::wall_time`, an optional progress callback and a cancel flag.
//! Operations call [`Ctx::check`] between units of work (pages, images,
//! objects) so a runaway job stops on its own; the service additionally runs
//! operations in a child process with OS limits, for the cases no check reaches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, LimitKind, Result};

/// Sane defaults for a self-hosted service; every field can be raised or lowered.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest accepted input file, in bytes.
    pub max_input_bytes: u64,
    /// Total bytes over all inputs of one operation (merge, images→PDF).
    pub max_total_input_bytes: u64,
    /// Most inputs for one operation.
    pub max_inputs: u32,
    /// Most pages in one document (input or output).
    pub max_pages: u32,
    /// Largest decoded image, in pixels (width × height), checked before decoding.
    pub max_image_pixels: u64,
    /// Largest size one stream may decompress to.
    pub max_stream_bytes: u64,
    /// Largest total decompressed bytes over one document.
    pub max_document_bytes: u64,
    /// Deepest nesting followed in page trees, outlines, forms.
    pub max_depth: u32,
    /// Wall-clock budget for one operation.
    #[serde(with = "secs")]
    pub wall_time: Duration,
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(v.clamp(0.0, 1.0e9)))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 512 * 1024 * 1024,
            max_total_input_bytes: 1024 * 1024 * 1024,
            max_inputs: 500,
            max_pages: 20_000,
            max_image_pixels: 200_000_000,
            max_stream_bytes: 256 * 1024 * 1024,
            max_document_bytes: 2 * 1024 * 1024 * 1024,
            max_depth: 64,
            wall_time: Duration::from_secs(600),
        }
    }
}

impl Limits {
    /// Fail with `limit_exceeded` if `found` is above `max`.
    pub fn ensure(kind: LimitKind, max: u64, found: u64) -> Result<()> {
        if found > max {
            Err(Error::limit(kind, max, found))
        } else {
            Ok(())
        }
    }

    /// Check the sizes of all inputs of one operation.
    pub fn check_inputs(&self, sizes: impl IntoIterator<Item = usize>) -> Result<()> {
        let mut total = 0u64;
        let mut count = 0u64;
        for s in sizes {
            Self::ensure(LimitKind::InputBytes, self.max_input_bytes, s as u64)?;
            total += s as u64;
            count += 1;
        }
        Self::ensure(LimitKind::Inputs, self.max_inputs as u64, count)?;
        Self::ensure(LimitKind::InputBytes, self.max_total_input_bytes, total)
    }
}

type ProgressFn = dyn Fn(f32) + Send + Sync;

/// What one running operation carries: limits, deadline, progress and cancel.
#[derive(Clone)]
pub struct Ctx {
    pub limits: Limits,
    started: Instant,
    progress: Option<Arc<ProgressFn>>,
    cancel: Option<Arc<AtomicBool>>,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new(Limits::default())
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("limits", &self.limits)
            .field("elapsed", &self.started.elapsed())
            .finish()
    }
}

impl Ctx {
    pub fn new(limits: Limits) -> Self {
        Ctx {
            limits,
            started: Instant::now(),
            progress: None,
            cancel: None,
        }
    }

    /// Report progress in 0..=1 to `f` (called from the operation's thread(s)).
    pub fn with_progress(mut self, f: impl Fn(f32) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Stop at the next check once `flag` is set.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// The same context (limits, deadline, cancel) whose progress 0..=1 maps
    /// onto `from..=to` of this one: for one phase of a multi-phase operation.
    pub fn span(&self, from: f32, to: f32) -> Ctx {
        let mut c = self.clone();
        if let Some(parent) = self.progress.clone() {
            c.progress = Some(Arc::new(move |f: f32| parent(from + (to - from) * f)));
        }
        c
    }

    /// Two contexts for two phases that run side by side: this one sees the
    /// mean of their progress (each 0..=1), so it moves on as either does.
    pub fn side_by_side(&self) -> (Ctx, Ctx) {
        let Some(parent) = self.progress.clone() else {
            return (self.clone(), self.clone());
        };
        // Each side's latest fraction, as f32 bits.
        let sides = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
        let side = |i: usize| {
            let mut c = self.clone();
            let (parent, sides) = (parent.clone(), sides.clone());
            c.progress = Some(Arc::new(move |f: f32| {
                sides[i].store(f.to_bits(), Ordering::Relaxed);
                let sum: f32 = sides
                    .iter()
                    .map(|s| f32::from_bits(s.load(Ordering::Relaxed)))
                    .sum();
                parent(sum / 2.0);
            }));
            c
        };
        (side(0), side(1))
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Report progress (clamped to 0..=1).
    pub fn progress(&self, fraction: f32) {
        if let Some(f) = &self.progress {
            f(fraction.clamp(0.0, 1.0));
        }
    }

    /// Fail if the wall-time budget is spent or the operation was cancelled.
    /// Cheap: call it per page, per image, per few hundred objects.
    pub fn check(&self) -> Result<()> {
        if let Some(c) = &self.cancel
            && c.load(Ordering::Relaxed)
        {
            return Err(Error::Cancelled);
        }
        let elapsed = self.started.elapsed();
        if elapsed > self.limits.wall_time {
            return Err(Error::limit(
                LimitKind::WallTime,
                self.limits.wall_time.as_secs(),
                elapsed.as_secs(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn side_by_side_phases_report_their_mean_within_the_span() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let ctx = Ctx::default().with_progress(move |f| s2.lock().unwrap().push(f));
        let (a, b) = ctx.span(0.0, 0.5).side_by_side();
        a.progress(0.5);
        b.progress(1.0);
        a.progress(1.0);
        assert_eq!(*seen.lock().unwrap(), [0.125, 0.375, 0.5]);
        // Without a callback there is nothing to combine.
        let (c, _) = Ctx::default().side_by_side();
        c.progress(0.3);
    }
}

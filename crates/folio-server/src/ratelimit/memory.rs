//! The in-process limiter: a TAT per key in a mutex-guarded map. Buckets
//! that have refilled completely carry no information and are dropped when
//! the map grows, so memory stays bounded by the number of recently active
//! clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use super::{Decision, Limiter, LimiterError, Rate, gcra};

/// Above this many buckets, full ones are swept on the next check.
const SWEEP_AT: usize = 50_000;

pub struct MemoryLimiter {
    start: Instant,
    buckets: Mutex<HashMap<String, u64>>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        MemoryLimiter {
            start: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl MemoryLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn check(&self, key: &str, rate: Rate) -> Result<Decision, LimiterError> {
        let now = self.now();
        let mut map = self
            .buckets
            .lock()
            .map_err(|_| LimiterError("limiter state poisoned".into()))?;
        if map.len() >= SWEEP_AT {
            // A TAT in the past means the bucket is full: forget it.
            map.retain(|_, tat| *tat > now);
        }
        let (d, tat) = gcra::step(map.get(key).copied(), now, rate);
        map.insert(key.to_string(), tat);
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn keys_have_separate_buckets() {
        let l = MemoryLimiter::new();
        let rate = Rate {
            count: 1,
            period: Duration::from_secs(3600),
            burst: 2,
        };
        assert!(l.check("a", rate).await.unwrap().allowed);
        assert!(l.check("a", rate).await.unwrap().allowed);
        let d = l.check("a", rate).await.unwrap();
        assert!(!d.allowed);
        assert!(d.retry_after > Duration::from_secs(1000));
        assert!(l.check("b", rate).await.unwrap().allowed);
    }
}

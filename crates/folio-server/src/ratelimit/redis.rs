//! Rate limits shared by every API node through Redis (`FOLIO_REDIS_URL`):
//! the same GCRA, done atomically in Redis (`folio_redis::gcra`). Until
//! Redis answers — or while it fails — buckets are kept per node in memory,
//! so an outage degrades limits instead of refusing or waving through traffic.

use async_trait::async_trait;
use folio_redis::RedisLink;

use super::{Decision, Limiter, LimiterError, MemoryLimiter, Rate};

pub struct RedisLimiter {
    link: RedisLink,
    local: MemoryLimiter,
}

impl RedisLimiter {
    pub fn new(link: RedisLink) -> Self {
        RedisLimiter {
            link,
            local: MemoryLimiter::new(),
        }
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn check(&self, key: &str, rate: Rate) -> Result<Decision, LimiterError> {
        if let Some(r) = self.link.get() {
            let per_sec = f64::from(rate.count) / rate.period.as_secs_f64();
            match r.check(key, per_sec, rate.burst).await {
                Ok(d) => {
                    return Ok(Decision {
                        allowed: d.allowed,
                        limit: rate.burst,
                        remaining: d.remaining,
                        reset: d.reset,
                        retry_after: d.retry_after,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "redis rate limit failed; limiting on this node")
                }
            }
        }
        self.local.check(key, rate).await
    }
}

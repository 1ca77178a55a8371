//! GCRA (generic cell rate algorithm) rate limiting in Redis: one key per
//! bucket holds the "theoretical arrival time" (TAT). A request is allowed
//! when it does not push the TAT further than `burst` emission intervals
//! ahead of now. The whole check-and-update is one Lua script, so concurrent
//! API nodes cannot both take the last slot, and it reads Redis's clock
//! (`TIME`), so the nodes' clocks need not agree.

use std::sync::LazyLock;
use std::time::Duration;

use crate::{Redis, RedisError, Result, timed};

/// KEYS[1]: bucket. ARGV[1]: emission interval in µs (1 s / rate).
/// ARGV[2]: burst (requests allowed at once).
/// Returns {allowed, retry_after_us, remaining, reset_us}.
const SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now, 0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((now - allow_at) / interval)
return {1, 0, remaining, new_tat - now}
"#;

static GCRA: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SCRIPT));

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// When denied: how long until one request would be allowed.
    pub retry_after: Duration,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// How long until the bucket is full again (all of `burst` available).
    pub reset: Duration,
}

fn us(v: i64) -> Duration {
    Duration::from_micros(u64::try_from(v).unwrap_or(0))
}

impl Redis {
    /// Count one request against bucket `key`, refilled at `rate_per_sec`
    /// with up to `burst` at once. Keys are namespaced under `folio:rl:`.
    pub async fn check(&self, key: &str, rate_per_sec: f64, burst: u32) -> Result<Decision> {
        if !(rate_per_sec.is_finite() && rate_per_sec > 0.0) || burst == 0 {
            return Err(RedisError::InvalidLimit(format!(
                "rate {rate_per_sec}/s, burst {burst}"
            )));
        }
        let interval_us = (1_000_000.0 / rate_per_sec).round().max(1.0) as i64;
        let mut c = self.conn.clone();
        let mut inv = GCRA.key(format!("folio:rl:{key}"));
        inv.arg(interval_us).arg(burst);
        let (allowed, retry, remaining, reset): (i64, i64, i64, i64) =
            timed(inv.invoke_async(&mut c)).await?;
        Ok(Decision {
            allowed: allowed == 1,
            retry_after: us(retry),
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            reset: us(reset),
        })
    }
}

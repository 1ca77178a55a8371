//! Rate limits: a [`Rate`] (`10/s,burst=20`), the [`Limiter`] trait that
//! keeps the per-client state, and the GCRA arithmetic both implementations
//! share ([`gcra`]).
//!
//! Why a trait: one process keeps its buckets in memory ([`MemoryLimiter`]);
//! several API nodes behind a balancer must share them (a Redis limiter
//! implements the same trait with the same [`gcra`] step done atomically
//! server-side). The state holds an `Arc<dyn Limiter>`.

pub mod gcra;
pub mod memory;
pub mod middleware;
pub mod redis;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryLimiter;
pub use redis::RedisLimiter;

/// `count` requests per `period`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Rate {
    /// Time between two requests at the sustained rate.
    pub fn interval(&self) -> Duration {
        self.period / self.count.max(1)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit},burst={}", self.count, self.burst)
    }
}

/// Parse `N/s`, `N/min` or `N/h`, optionally `,burst=M`; `off` → `None`.
pub fn parse_rate(s: &str) -> Result<Option<Rate>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || format!("'{s}' is not a rate (N/s, N/min or N/h, optionally ,burst=M; or off)");
    let mut parts = s.split(',').map(str::trim);
    let (n, unit) = parts
        .next()
        .and_then(|p| p.split_once('/'))
        .ok_or_else(bad)?;
    let count: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let period = match unit.trim() {
        "s" | "sec" => Duration::from_secs(1),
        "m" | "min" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    let mut burst = count;
    for p in parts {
        let v = p.strip_prefix("burst=").ok_or_else(bad)?;
        burst = v.trim().parse().ok().filter(|b| *b > 0).ok_or_else(bad)?;
    }
    Ok(Some(Rate {
        count,
        period,
        burst,
    }))
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_rate(s)?.ok_or_else(|| "off is not a rate here".to_string())
    }
}

/// One limiter answer, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The burst size (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests still possible right now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Until the bucket is full again (`RateLimit-Reset`).
    pub reset: Duration,
    /// When refused: how long to wait (`Retry-After`).
    pub retry_after: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct LimiterError(pub String);

/// Keyed GCRA buckets. `check` counts one request against `key`'s bucket for
/// `rate` and answers whether it may proceed.
#[async_trait]
pub trait Limiter: Send + Sync {
    async fn check(&self, key: &str, rate: Rate) -> Result<Decision, LimiterError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            parse_rate("10/s,burst=20").unwrap(),
            Some(Rate {
                count: 10,
                period: Duration::from_secs(1),
                burst: 20
            })
        );
        assert_eq!(parse_rate("100/min").unwrap().unwrap().burst, 100);
        assert_eq!(
            parse_rate(" 5/h , burst=1 ").unwrap().unwrap().period,
            Duration::from_secs(3600)
        );
        assert_eq!(parse_rate("off").unwrap(), None);
        for bad in ["", "10", "0/s", "10/day", "10/s,burst=0", "10/s,b=3", "x/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_rate("10/s,burst=20").unwrap().unwrap().to_string(),
            "10/s,burst=20"
        );
    }
}

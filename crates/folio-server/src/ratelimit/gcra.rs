//! The generic cell rate algorithm: one timestamp per bucket (the
//! theoretical arrival time, TAT). A request at `now` is allowed when
//! `TAT - now` stays within `burst × interval`; each allowed request pushes
//! the TAT one interval further. O(1) state, exact, no background refill.

use std::time::Duration;

use super::{Decision, Rate};

/// One step: the stored TAT (nanoseconds on any monotonic clock, `None` for
/// a new bucket) and `now` on the same clock → the decision and the TAT to
/// store (unchanged when refused).
pub fn step(tat: Option<u64>, now: u64, rate: Rate) -> (Decision, u64) {
    let t = nanos(rate.interval()).max(1);
    let tau = t.saturating_mul(u64::from(rate.burst));
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(t);
    // How far ahead of `now` the bucket would be after this request; more
    // than `tau` means the burst is used up. Relative arithmetic: the clock
    // may start near zero.
    let ahead = new_tat - now;
    if ahead > tau {
        let d = Decision {
            allowed: false,
            limit: rate.burst,
            remaining: 0,
            reset: Duration::from_nanos(tat - now),
            retry_after: Duration::from_nanos(ahead - tau),
        };
        return (d, tat);
    }
    // Requests that would still fit after this one.
    let remaining = ((tau - ahead) / t).min(u64::from(rate.burst)) as u32;
    let d = Decision {
        allowed: true,
        limit: rate.burst,
        remaining,
        reset: Duration::from_nanos(ahead),
        retry_after: Duration::ZERO,
    };
    (d, new_tat)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn burst_then_sustained_rate() {
        let rate = Rate {
            count: 2,
            period: Duration::from_secs(1),
            burst: 4,
        };
        let mut tat = None;
        let now = 100 * S;
        let mut remaining = Vec::new();
        for _ in 0..4 {
            let (d, t) = step(tat, now, rate);
            assert!(d.allowed);
            remaining.push(d.remaining);
            tat = Some(t);
        }
        assert_eq!(remaining, [3, 2, 1, 0]);
        let (d, t) = step(tat, now, rate);
        assert!(
            !d.allowed,
            "the fifth request in the same instant is refused"
        );
        assert_eq!(d.retry_after, Duration::from_millis(500));
        assert_eq!(t, tat.unwrap(), "a refusal costs nothing");
        // Half a second later (one interval), exactly one more fits.
        let (d, t) = step(tat, now + S / 2, rate);
        assert!(d.allowed);
        let (d, _) = step(Some(t), now + S / 2, rate);
        assert!(!d.allowed);
        // A clock starting at zero counts the same.
        let (d, _) = step(None, 0, rate);
        assert!(d.allowed && d.remaining == 3);
        // After a long pause the bucket is full again, not fuller.
        let (d, _) = step(Some(t), now + 100 * S, rate);
        assert!(d.allowed && d.remaining == 3);
    }
}

//! Backoff arithmetic shared by every caller that retries fetches.
//!
//! Whether to retry at all is [`crate::ErrorKind::is_retryable`]'s call; this module only says how long
//! to wait before attempt `n + 1`.

use std::time::Duration;

/// Full-jitter exponential backoff.
///
/// The default (`max_retries: 5`, `base: 1s`, `cap: 60s`) waits on average 0.5 s, 1 s, 2 s, 4 s, 8 s before
/// the five retries, and never more than a minute even when the server asks for longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// The backoff ceiling of the first retry.
    pub base: Duration,
    /// The largest delay ever returned.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_mins(1),
        }
    }
}

impl RetryPolicy {
    /// Whether attempt number `attempt` (0 = the first retry) may still be made.
    pub fn allows(&self, attempt: u32) -> bool {
        attempt < self.max_retries
    }

    /// The ceiling of the backoff before retry `attempt` (0-based): `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.cap)
    }

    /// Full-jitter exponential backoff: uniform in `[0, min(cap, base * 2^attempt)]`.
    /// When the server sent a `retry_after`, it is honoured instead (capped at `cap`), since
    /// retrying earlier would only be throttled again.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.cap);
        }
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = RetryPolicy {
            max_retries: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let got: Vec<u128> = (0..6).map(|a| p.ceiling(a).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(200), Duration::from_secs(1));
    }

    #[test]
    fn delay_is_uniform_within_the_ceiling() {
        let p = RetryPolicy::default();
        let mut rng = fastrand::Rng::with_seed(7);
        let samples: Vec<Duration> = (0..2000).map(|_| p.delay(2, None, &mut rng)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_secs(4)));
        let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
        assert!((mean - 2.0).abs() < 0.15, "mean {mean}");
        assert!(samples.iter().any(|d| *d < Duration::from_millis(200)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(3800)));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7)), &mut rng),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_mins(10)), &mut rng),
            Duration::from_mins(1)
        );
        assert!(p.allows(4));
        assert!(!p.allows(5));
    }
}

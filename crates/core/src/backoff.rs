//! The one retry policy: exponential from a base, capped, optionally jittered. Webhook
//! deliveries, the relayer's packets and the indexer's failed rounds all use it (each with
//! its own numbers).

use std::time::Duration;

/// Delay after `n` consecutive failures: `base * 2^(n-1)` (`base` for `n = 0`), at most
/// `max`; with `jitter`, times a uniform random factor in [0.5, 1] so many senders
/// recovering from one outage do not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Ceiling of the delay.
    pub max: Duration,
    /// Whether to scale each delay by a random factor in [0.5, 1].
    pub jitter: bool,
}

impl Backoff {
    /// A policy without jitter.
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            jitter: false,
        }
    }

    /// The same policy with jitter.
    pub const fn with_jitter(self) -> Backoff {
        Backoff {
            jitter: true,
            ..self
        }
    }

    /// The delay before the next attempt after `failures` consecutive failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let exp = self.base.saturating_mul(1u32 << doublings).min(self.max);
        if !self.jitter {
            return exp;
        }
        let mut r = [0u8; 2];
        // Without an entropy source the full delay is the safe side.
        let factor = match getrandom::fill(&mut r) {
            Ok(()) => 0.5 + 0.5 * (f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX)),
            Err(_) => 1.0,
        };
        exp.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        let schedule: Vec<u128> = (1..=10).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(
            schedule,
            [
                250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
        assert_eq!(b.delay(0).as_millis(), 250);
        assert_eq!(b.delay(u32::MAX).as_millis(), 30_000);
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(3600)).with_jitter();
        for n in 1..40 {
            let d = b.delay(n).as_millis();
            let exp = (1000u128 << (n - 1).min(30)).min(3_600_000);
            assert!(d >= exp / 2 && d <= exp, "attempt {n}: {d}");
        }
    }
}

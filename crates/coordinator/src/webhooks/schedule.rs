//! The retry schedule of webhook deliveries, after Standard Webhooks providers: an attempt
//! at once, then retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the previous
//! one (about 27.6 h in all), each delay stretched by a random 0–20 % so receivers that
//! come back after an outage are not hit by every delivery at once. After the last
//! retry fails the delivery is `failed`; a redeliver or recover starts a fresh schedule.

use std::time::Duration;

/// The default delays before retries 1, 2, …, milliseconds.
pub const DEFAULT_SCHEDULE_MS: [u64; 7] = [
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    10 * 3_600_000,
];

/// The default jitter: each delay is stretched by up to this fraction.
pub const DEFAULT_JITTER: f64 = 0.2;

/// The delay before the next attempt after `failures` failed attempts in the current
/// round, or `None` when the schedule is spent (the delivery fails). `unit` in [0, 1)
/// picks the jitter.
pub fn retry_delay(schedule_ms: &[u64], jitter: f64, failures: u64, unit: f64) -> Option<Duration> {
    let index = usize::try_from(failures.checked_sub(1)?).ok()?;
    let base = *schedule_ms.get(index)?;
    let stretch = 1.0 + jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    Some(Duration::from_millis(base).mul_f64(stretch))
}

/// The shortest time between a delivery's first attempt and its last (jitter at its
/// minimum): how long a receiver may be down without losing the delivery.
pub fn span(schedule_ms: &[u64]) -> Duration {
    Duration::from_millis(schedule_ms.iter().sum())
}

/// A uniform random number in [0, 1).
pub fn unit_random() -> f64 {
    let bytes = crate::random_bytes::<8>().unwrap_or_default();
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_more_than_a_day() {
        let day = Duration::from_secs(24 * 3600);
        assert!(
            span(&DEFAULT_SCHEDULE_MS) >= day,
            "{:?}",
            span(&DEFAULT_SCHEDULE_MS)
        );
        // The same, summed through the delay function with the jitter at its minimum.
        let total: Duration = (1..=DEFAULT_SCHEDULE_MS.len() as u64)
            .map(|n| retry_delay(&DEFAULT_SCHEDULE_MS, DEFAULT_JITTER, n, 0.0).unwrap())
            .sum();
        assert!(total >= day, "{total:?}");
        assert_eq!(total, Duration::from_millis(99_305_000));
        // Eight attempts, then the delivery fails.
        assert_eq!(
            retry_delay(&DEFAULT_SCHEDULE_MS, DEFAULT_JITTER, 8, 0.5),
            None
        );
        assert_eq!(
            retry_delay(&DEFAULT_SCHEDULE_MS, DEFAULT_JITTER, 0, 0.5),
            None
        );
    }

    #[test]
    fn jitter_only_stretches_within_its_bound() {
        for n in 1..=7u64 {
            let base = Duration::from_millis(DEFAULT_SCHEDULE_MS[n as usize - 1]);
            for _ in 0..50 {
                let d = retry_delay(&DEFAULT_SCHEDULE_MS, 0.2, n, unit_random()).unwrap();
                assert!(d >= base && d <= base.mul_f64(1.2), "retry {n}: {d:?}");
            }
        }
        assert_eq!(
            retry_delay(&[1_000], 0.2, 1, 0.999_999)
                .unwrap()
                .as_millis(),
            1_199
        );
    }

    #[test]
    fn unit_random_is_in_range_and_varies() {
        let xs: Vec<f64> = (0..100).map(|_| unit_random()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|x| *x != xs[0]));
    }
}

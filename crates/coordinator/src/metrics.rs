//! Prometheus metrics (`lockstep_<what>_<unit>`), rendered in the text exposition format,
//! and the per-token rate limiter. `/metrics` appends the text of the registered
//! `lockstep_core::MetricsSource`s (the chain side's) after these counters.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Token buckets by key (a token id, a client address): `rate` requests per second,
/// bursts up to `burst`. Buckets that have refilled completely are dropped once the map
/// holds [`RateLimiter::PRUNE_AT`] keys, so its size stays bounded by the keys active
/// within the last `burst / rate` seconds.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
}

impl RateLimiter {
    /// The map size at which full buckets are dropped.
    pub const PRUNE_AT: usize = 10_000;

    /// Takes one token from `key`'s bucket; `Err(seconds until one is available)` when empty.
    pub fn check(&self, key: &str, rate: f64, burst: f64) -> Result<(), u64> {
        self.take(key, rate, burst, 1.0)
    }

    /// Whether `key`'s bucket has a token, without taking it; `Err(seconds until one is
    /// available)` when empty.
    pub fn peek(&self, key: &str, rate: f64, burst: f64) -> Result<(), u64> {
        self.take(key, rate, burst, 0.0)
    }

    fn take(&self, key: &str, rate: f64, burst: f64, cost: f64) -> Result<(), u64> {
        if rate <= 0.0 {
            return Ok(());
        }
        let now = std::time::Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return Ok(());
        };
        if b.len() >= Self::PRUNE_AT {
            b.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * rate < burst
            });
        }
        let (tokens, last) = b.entry(key.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= cost;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counters keyed by metric name and label set.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
}

const HELP: &[(&str, &str)] = &[
    (
        "lockstep_http_requests_total",
        "HTTP requests answered, by method and status.",
    ),
    (
        "lockstep_instructions_total",
        "Instructions accepted (first submissions).",
    ),
    (
        "lockstep_matches_total",
        "Instruction pairs matched into settlements.",
    ),
    (
        "lockstep_transitions_total",
        "Settlement state transitions, by target state.",
    ),
    (
        "lockstep_registration_failures_total",
        "Failed hand-overs of cleared settlements to the chain side's registrar (retried).",
    ),
    (
        "lockstep_webhook_deliveries_total",
        "Webhook delivery attempts, by outcome.",
    ),
    (
        "lockstep_webhook_failures_total",
        "Webhook deliveries given up after the last attempt.",
    ),
];

impl Metrics {
    /// Adds one to a counter with labels like `state="FINALIZED"` (empty for none).
    pub fn inc(&self, name: &'static str, labels: String) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, labels)).or_default() += 1;
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(c) = self.counters.lock() else {
            return out;
        };
        for (name, help) in HELP {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            let mut any = false;
            for ((n, labels), v) in c.iter().filter(|((n, _), _)| n == name) {
                any = true;
                if labels.is_empty() {
                    out.push_str(&format!("{n} {v}\n"));
                } else {
                    out.push_str(&format!("{n}{{{labels}}} {v}\n"));
                }
            }
            if !any {
                out.push_str(&format!("{name} 0\n"));
            }
        }
        out
    }
}

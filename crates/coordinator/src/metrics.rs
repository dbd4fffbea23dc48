//! Prometheus metrics (`lockstep_<what>_<unit>`), rendered in the text exposition format.

use std::collections::BTreeMap;
use std::sync::Mutex;

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

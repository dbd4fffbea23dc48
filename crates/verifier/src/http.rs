//! `/healthz` (200 when every chain's last scan succeeded, 503 with each chain's state
//! otherwise: a refusing chain names the disagreement) and `/metrics` (Prometheus text).

use crate::service::{ChainHealth, Health};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The router of the verifier's HTTP side.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn healthz(State(h): State<Arc<Health>>) -> impl IntoResponse {
    let body = serde_json::json!({
        "status": if h.healthy() { "ok" } else { "unhealthy" },
        "chains": h.snapshot(),
    });
    let code = if h.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body))
}

async fn metrics(State(h): State<Arc<Health>>) -> String {
    render(&h)
}

/// The metrics in the Prometheus text format.
pub fn render(h: &Health) -> String {
    let mut out = String::new();
    let counters = [
        (
            "lockstep_verifier_verified_total",
            "verify transactions sent.",
            &h.verified,
        ),
        (
            "lockstep_verifier_already_done_total",
            "Packets found already verified by this key, committed or delivered.",
            &h.already_done,
        ),
        (
            "lockstep_verifier_rejected_total",
            "Escrow packets refused by the packet checks.",
            &h.rejected,
        ),
        (
            "lockstep_verifier_rpc_disagreements_total",
            "Scans refused because a chain's RPC endpoints disagreed.",
            &h.disagreements,
        ),
        (
            "lockstep_verifier_scan_errors_total",
            "Scans that failed otherwise (RPC errors, timeouts, reverts).",
            &h.scan_errors,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP lockstep_verifier_chain_healthy 1 when the chain's last scan succeeded.\n# TYPE lockstep_verifier_chain_healthy gauge"
    );
    let snapshot = h.snapshot();
    for (id, c) in &snapshot {
        let ok = u8::from(matches!(c, ChainHealth::Ok { .. }));
        let _ = writeln!(
            out,
            "lockstep_verifier_chain_healthy{{chain_id=\"{id}\"}} {ok}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP lockstep_verifier_cursor_block Next block the verifier scans, per chain.\n# TYPE lockstep_verifier_cursor_block gauge"
    );
    for (id, c) in &snapshot {
        if let ChainHealth::Ok { cursor } = c {
            let _ = writeln!(
                out,
                "lockstep_verifier_cursor_block{{chain_id=\"{id}\"}} {cursor}"
            );
        }
    }
    render_balances(h, &mut out);
    out
}

fn render_balances(h: &Health, out: &mut String) {
    let balances = h.balances();
    let _ = writeln!(
        out,
        "# HELP lockstep_verifier_balance_wei The verifier key's balance, per chain.\n# TYPE lockstep_verifier_balance_wei gauge"
    );
    for (id, (wei, _)) in &balances {
        let _ = writeln!(
            out,
            "lockstep_verifier_balance_wei{{chain_id=\"{id}\"}} {wei}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP lockstep_verifier_balance_below_minimum 1 when the verifier key's balance is below the chain's min_balance_wei.\n# TYPE lockstep_verifier_balance_below_minimum gauge"
    );
    for (id, (wei, min)) in &balances {
        let low = u8::from(min.is_some_and(|m| *wei < m));
        let _ = writeln!(
            out,
            "lockstep_verifier_balance_below_minimum{{chain_id=\"{id}\"}} {low}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_chain_health() {
        let h = Health::default();
        assert!(!h.healthy());
        h.set(1, ChainHealth::Ok { cursor: 42 });
        assert!(h.healthy());
        h.disagreements.fetch_add(2, Ordering::Relaxed);
        h.set(2, ChainHealth::Refusing { reason: "x".into() });
        assert!(!h.healthy());
        let text = render(&h);
        assert!(
            text.contains("lockstep_verifier_rpc_disagreements_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("lockstep_verifier_chain_healthy{chain_id=\"1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("lockstep_verifier_chain_healthy{chain_id=\"2\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("lockstep_verifier_cursor_block{chain_id=\"1\"} 42\n"),
            "{text}"
        );
    }
}

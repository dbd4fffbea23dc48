//! An in-process webhook receiver: one URL per platform, Standard Webhooks signatures
//! verified (`v1,base64(HMAC-SHA256(key, "id.timestamp.body"))`, key = the base64 part of
//! `whsec_...`), every accepted delivery recorded, every rejected one counted.

use crate::world::Platform;
use crate::{POLL, STEP_TIMEOUT};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use eyre::bail;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// One accepted delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The platform key the URL was registered for.
    pub platform: String,
    /// `webhook-id` (stable across retries of one event).
    pub webhook_id: String,
    /// `event`, e.g. `settlement.state.finalized`.
    pub event: String,
    /// `data.settlement_id`.
    pub settlement_id: Option<String>,
    /// The whole payload.
    pub body: Value,
    /// Wall-clock arrival time.
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// Monotonic arrival time.
    pub at: Instant,
}

/// Called for every accepted delivery (the demo prints them as they arrive).
pub type Printer = Arc<dyn Fn(&Delivery) + Send + Sync>;

#[derive(Default)]
struct Inner {
    secrets: HashMap<String, String>,
    deliveries: Vec<Delivery>,
    rejected: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    printer: Option<Printer>,
}

/// The receiver; it runs until dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl WebhookReceiver {
    /// Starts a receiver on a free loopback port; `printer` sees every accepted delivery.
    pub async fn start(printer: Option<Printer>) -> eyre::Result<WebhookReceiver> {
        let shared = Shared {
            inner: Arc::new(Mutex::new(Inner::default())),
            printer,
        };
        let app = Router::new()
            .route("/hooks/{platform}", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebhookReceiver {
            base_url,
            shared,
            task,
        })
    }

    /// The URL to register for `platform`.
    pub fn url_for(&self, platform: &str) -> String {
        format!("{}/hooks/{platform}", self.base_url)
    }

    /// The endpoint secret (`whsec_...`) deliveries for `platform` must be signed with.
    pub fn set_secret(&self, platform: &str, secret: &str) {
        lock(&self.shared.inner)
            .secrets
            .insert(platform.to_string(), secret.to_string());
    }

    /// Every accepted delivery so far, in arrival order (retries included).
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared.inner).deliveries.clone()
    }

    /// Why each refused request was refused (bad or missing signature, unknown platform...).
    pub fn rejected(&self) -> Vec<String> {
        lock(&self.shared.inner).rejected.clone()
    }

    /// The events of one settlement at one platform, one per `webhook-id` (retries of the
    /// same event collapsed), in order of first arrival.
    pub fn events(&self, platform: &str, settlement_id: &str) -> Vec<Delivery> {
        let mut seen = std::collections::HashSet::new();
        self.deliveries()
            .into_iter()
            .filter(|d| d.platform == platform && d.settlement_id.as_deref() == Some(settlement_id))
            .filter(|d| seen.insert(d.webhook_id.clone()))
            .collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn receive(
    State(shared): State<Shared>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(id), Some(ts), Some(sig)) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    ) else {
        lock(&shared.inner)
            .rejected
            .push(format!("{platform}: missing webhook headers"));
        return StatusCode::BAD_REQUEST;
    };
    let secret = lock(&shared.inner).secrets.get(&platform).cloned();
    let Some(secret) = secret else {
        lock(&shared.inner).rejected.push(format!(
            "{platform}: no secret registered (webhook-id {id})"
        ));
        return StatusCode::UNAUTHORIZED;
    };
    let Ok(ts_num) = ts.parse::<i64>() else {
        lock(&shared.inner)
            .rejected
            .push(format!("{platform}: bad timestamp {ts}"));
        return StatusCode::BAD_REQUEST;
    };
    if (chrono::Utc::now().timestamp() - ts_num).abs() > 300 {
        lock(&shared.inner).rejected.push(format!(
            "{platform}: stale timestamp {ts} (webhook-id {id})"
        ));
        return StatusCode::BAD_REQUEST;
    }
    if !verify_signature(&secret, &id, &ts, &body, &sig) {
        lock(&shared.inner)
            .rejected
            .push(format!("{platform}: bad signature (webhook-id {id})"));
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        lock(&shared.inner)
            .rejected
            .push(format!("{platform}: body is not JSON (webhook-id {id})"));
        return StatusCode::BAD_REQUEST;
    };
    let d = Delivery {
        platform,
        webhook_id: id,
        event: v["event"].as_str().unwrap_or_default().to_string(),
        settlement_id: v["data"]["settlement_id"].as_str().map(str::to_string),
        body: v,
        received_at: chrono::Utc::now(),
        at: Instant::now(),
    };
    if let Some(p) = &shared.printer {
        p(&d);
    }
    lock(&shared.inner).deliveries.push(d);
    StatusCode::NO_CONTENT
}

/// Standard Webhooks verification: `header` holds space-separated `v1,<base64>` signatures;
/// one must equal HMAC-SHA256 over `id.timestamp.body` keyed with the decoded secret.
pub fn verify_signature(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| B64.decode(k).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return false;
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = B64.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

impl crate::world::World {
    /// Waits for a webhook `event` of settlement `id` at `platform` (by platform key) and
    /// returns its body.
    pub async fn wait_event(&self, platform: &str, id: &str, event: &str) -> eyre::Result<Value> {
        let started = Instant::now();
        loop {
            if let Some(d) = self
                .hooks
                .events(platform, id)
                .into_iter()
                .find(|d| d.event == event)
            {
                return Ok(d.body);
            }
            if started.elapsed() > crate::STEP_TIMEOUT {
                eyre::bail!(
                    "no {event} webhook at {platform}\n{}",
                    self.context(Some(id)).await
                );
            }
            tokio::time::sleep(crate::POLL).await;
        }
    }

    /// Waits for the `settlement.state.<state>` webhook of one settlement at one platform.
    pub async fn wait_webhook(
        &self,
        platform: &Platform,
        id: &str,
        state: &str,
    ) -> eyre::Result<Delivery> {
        let event = format!("settlement.state.{}", state.to_ascii_lowercase());
        let started = Instant::now();
        loop {
            if let Some(d) = self
                .hooks
                .events(&platform.key, id)
                .into_iter()
                .find(|d| d.event == event)
            {
                return Ok(d);
            }
            if started.elapsed() > STEP_TIMEOUT {
                bail!(
                    "no {event} webhook at {} after {} s\n{}",
                    platform.name,
                    STEP_TIMEOUT.as_secs(),
                    self.context(Some(id)).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The `settlement.state.*` events one platform received for a settlement, one per
    /// webhook-id, e.g. `["compliance_checking", ..., "finalized"]`, in state-machine order:
    /// deliveries run concurrently and may arrive out of order (two transitions from one
    /// block are milliseconds apart), so they are chained by `data.previous_state` →
    /// `data.state`, as a receiver would. Deliveries that do not fit the chain (a duplicate,
    /// a gap) are appended in arrival order, so a comparison still shows them.
    pub fn webhook_states(&self, platform: &Platform, id: &str) -> Vec<String> {
        let mut left: Vec<(Option<String>, String, String)> = self
            .hooks
            .events(&platform.key, id)
            .into_iter()
            .filter_map(|d| {
                let name = d.event.strip_prefix("settlement.state.")?.to_string();
                let data = &d.body["data"];
                let prev = data["previous_state"].as_str().map(str::to_string);
                let state = data["state"].as_str().unwrap_or_default().to_string();
                Some((prev, state, name))
            })
            .collect();
        let mut out = Vec::new();
        let mut cur: Option<String> = None;
        while let Some(i) = left.iter().position(|(p, _, _)| *p == cur) {
            let (_, state, name) = left.remove(i);
            out.push(name);
            cur = Some(state);
        }
        out.extend(left.into_iter().map(|(_, _, name)| name));
        out
    }

    /// Checks the webhooks of every platform for one settlement: no refused request, each
    /// event delivered under exactly one webhook-id, and the state events equal to the
    /// settlement's transitions (lowercase) in order.
    pub async fn check_webhooks(&self, id: &str) -> eyre::Result<()> {
        let rejected = self.hooks.rejected();
        if !rejected.is_empty() {
            bail!("webhook requests refused: {rejected:?}");
        }
        let transitions: Vec<String> = self
            .transitions(id)
            .await?
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        for p in self.platforms() {
            let events = self.hooks.events(&p.key, id);
            let mut names: Vec<&str> = events.iter().map(|d| d.event.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            if names.len() != before {
                bail!(
                    "{}: one event under several webhook-ids (delivered twice as different events): {:?}",
                    p.name,
                    events
                        .iter()
                        .map(|d| (&d.event, &d.webhook_id))
                        .collect::<Vec<_>>()
                );
            }
            let states = self.webhook_states(p, id);
            if states != transitions {
                bail!(
                    "{}: state webhooks {states:?} differ from the transitions {transitions:?}",
                    p.name
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verifies_a_standard_webhooks_signature() {
        // The Standard Webhooks specification's example.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = "1614265330";
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(verify_signature(secret, id, ts, body, sig));
        assert!(verify_signature(
            secret,
            id,
            ts,
            body,
            &format!("v1,xx {sig}")
        ));
        assert!(!verify_signature(secret, id, "1614265331", body, sig));
        assert!(!verify_signature(secret, id, ts, b"{}", sig));
    }
}

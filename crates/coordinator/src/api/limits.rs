//! Request limits (docs/coordinator.md, "Server limits"): the body size (413), the body
//! read timeout (408), the request timeout (503), and the per-address rate limit for
//! requests without a valid token (429). The connection-level limits (header read timeout,
//! connection cap) are set by the accept loop in `crate::serve`.

use super::support::{ApiError, AppState};
use crate::metrics::RateLimiter;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

/// Reads the whole body (at most `max_body_bytes`, within `body_read_timeout_ms`) before
/// the handler runs, then runs the handler within `request_timeout_ms`.
pub(super) async fn limit_request(State(c): State<AppState>, req: Request, next: Next) -> Response {
    let h = &c.config.http;
    let max = h.max_body_bytes;
    let (parts, body) = req.into_parts();
    let mut read = Read::default();
    let within = Duration::from_millis(h.body_read_timeout_ms);
    let outcome = tokio::time::timeout(within, read.body(body, max)).await;
    let bytes = match (outcome, read.over) {
        (_, true) => return too_large(max),
        (Err(_), false) => return body_timeout(),
        (Ok(Err(e)), false) => {
            tracing::debug!(error = %e, "reading the request body failed");
            return close(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ));
        }
        (Ok(Ok(())), false) => read.bytes,
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    match tokio::time::timeout(Duration::from_millis(h.request_timeout_ms), next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(timeout_ms = h.request_timeout_ms, "request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request took too long; retry later",
            )
            .into_response()
        }
    }
}

/// How much of an oversized body is read and dropped (so the client, still sending,
/// can read the 413 instead of a reset connection), in multiples of the limit.
const DRAIN_FACTOR: usize = 16;

/// A body being read: kept while within the limit, then drained and dropped.
#[derive(Default)]
struct Read {
    bytes: Vec<u8>,
    over: bool,
}

impl Read {
    /// Reads `body` to its end; past `max` bytes only counts (and stops at
    /// [`DRAIN_FACTOR`] times `max`).
    async fn body(&mut self, body: Body, max: usize) -> Result<(), axum::Error> {
        use http_body_util::BodyExt;
        let mut body = body;
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            seen = seen.saturating_add(data.len());
            if seen > max {
                self.over = true;
                self.bytes = Vec::new();
                if seen > max.saturating_mul(DRAIN_FACTOR) {
                    return Ok(());
                }
            } else {
                self.bytes.extend_from_slice(&data);
            }
        }
        Ok(())
    }
}

fn too_large(max: usize) -> Response {
    close(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body exceeds {max} bytes"),
    ))
}

fn body_timeout() -> Response {
    close(ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "the request body did not arrive in time",
    ))
}

/// The error answer with `Connection: close`: the rest of the body is not read.
fn close(e: ApiError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    r
}

/// The per-address limit for requests without a valid token, and the hashes of tokens
/// seen valid: while an address is over its limit, a presented token is looked up only
/// if it was valid before, so a flood of made-up tokens costs no database lookup.
#[derive(Debug, Default)]
pub struct AddressLimiter {
    buckets: RateLimiter,
    known: Mutex<HashSet<String>>,
}

/// Hashes of valid tokens remembered at most (the set is cleared when full).
const KNOWN_TOKENS: usize = 100_000;

impl AddressLimiter {
    /// Charges one unauthenticated request to the caller's address; `Err(retry after
    /// seconds)` when its bucket is empty.
    pub(crate) fn charge(
        &self,
        c: &AppState,
        peer: Option<&ConnectInfo<SocketAddr>>,
    ) -> Result<(), u64> {
        let h = &c.config.http;
        self.buckets.check(
            &address_key(peer),
            h.unauthenticated_per_second,
            h.unauthenticated_burst,
        )
    }

    /// Whether a token with this hash may be looked up now: always when the address is
    /// within its limit, else only a token that was valid before.
    pub(crate) fn may_look_up(
        &self,
        c: &AppState,
        peer: Option<&ConnectInfo<SocketAddr>>,
        token_hash: &str,
    ) -> Result<(), u64> {
        let h = &c.config.http;
        let within = self.buckets.peek(
            &address_key(peer),
            h.unauthenticated_per_second,
            h.unauthenticated_burst,
        );
        match within {
            Ok(()) => Ok(()),
            Err(_) if self.known.lock().is_ok_and(|k| k.contains(token_hash)) => Ok(()),
            Err(secs) => Err(secs),
        }
    }

    /// Remembers a token hash that authenticated.
    pub(crate) fn remember(&self, token_hash: &str) {
        if let Ok(mut k) = self.known.lock()
            && !k.contains(token_hash)
        {
            if k.len() >= KNOWN_TOKENS {
                k.clear();
            }
            k.insert(token_hash.to_string());
        }
    }
}

/// The bucket key of a peer: its IPv4 address, or its IPv6 /64 (one host usually holds a
/// whole /64); `unknown` when the router runs without the accept loop.
fn address_key(peer: Option<&ConnectInfo<SocketAddr>>) -> String {
    match peer.map(|p| p.0.ip()) {
        Some(IpAddr::V4(a)) => a.to_string(),
        Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
    }
}

/// The 429 answer.
pub(crate) fn too_many(detail: &str, retry_after: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, detail).retry_after(retry_after)
}

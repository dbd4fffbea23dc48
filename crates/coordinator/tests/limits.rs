//! Server limits through real sockets on loopback (docs/coordinator.md, "Server limits"):
//! header and body read timeouts, the body size limit, the connection cap, the
//! per-address limit for requests without a valid token, and the query-parameter rule.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

both_backends!(
    unauthenticated_requests_are_limited_per_address,
    unknown_query_parameters_are_refused,
);

/// Short timeouts so the tests take a second, not the defaults' tens.
async fn start(tweak: impl FnOnce(&mut lockstep_coordinator::config::HttpConfig)) -> Env {
    Env::start(Backend::Sqlite, |c, _| {
        c.http.header_read_timeout_ms = 500;
        c.http.body_read_timeout_ms = 500;
        tweak(&mut c.http);
    })
    .await
    .unwrap()
}

fn addr(env: &Env) -> std::net::SocketAddr {
    env.server.as_ref().unwrap().addr()
}

/// Reads until the peer closes (or 5 s pass); returns what arrived and when it closed.
async fn read_until_closed(s: &mut TcpStream) -> (String, Duration) {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "connection still open after 5 s; got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_headers_are_cut_off() {
    let env = start(|_| {}).await;
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let (got, after) = read_until_closed(&mut s).await;
    assert!(
        after < Duration::from_millis(2_000),
        "closed after {after:?}"
    );
    assert!(!got.contains("200 OK"), "{got}");
    // An idle connection that never sends a byte is cut off too.
    let mut idle = TcpStream::connect(addr(&env)).await.unwrap();
    let (_, after) = read_until_closed(&mut idle).await;
    assert!(
        after < Duration::from_millis(2_000),
        "idle closed after {after:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_body_gets_408_and_the_connection_closes() {
    let env = start(|_| {}).await;
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    s.write_all(
        b"POST /v1/instructions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"idem",
    )
    .await
    .unwrap();
    let (got, after) = read_until_closed(&mut s).await;
    assert!(
        after < Duration::from_millis(2_000),
        "closed after {after:?}"
    );
    assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    assert!(
        got.contains("\"detail\":\"the request body did not arrive in time\""),
        "{got}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let env = start(|h| h.max_body_bytes = 1024 * 1024).await;
    let (_, token) = env.platform("Alpha").await;
    for size in [2 * 1024 * 1024, 10 * 1024 * 1024] {
        let body = format!("{{\"idempotency_key\": \"{}\"}}", "x".repeat(size));
        let r = env
            .http
            .post(format!("{}/v1/instructions", env.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"detail": "the request body exceeds 1048576 bytes"})
        );
    }
    // Chunked, without a Content-Length: cut off at the limit while reading.
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    s.write_all(b"POST /v1/instructions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "y".repeat(64 * 1024));
    for _ in 0..17 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let (got, _) = read_until_closed(&mut s).await;
    assert!(got.starts_with("HTTP/1.1 413 "), "{got}");
    // Under the limit is fine (and refused for its content, not its size).
    let (st, _) = env
        .post(
            &token,
            "/v1/instructions",
            &json!({"pad": "z".repeat(900_000)}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_json_content_type_gets_415() {
    let env = start(|_| {}).await;
    let (_, token) = env.platform("Alpha").await;
    let r = env
        .http
        .post(format!("{}/v1/instructions", env.base))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["detail"].as_str().unwrap().contains("Content-Type"),
        "{v}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait() {
    let env = start(|h| {
        h.max_connections = 1;
        h.header_read_timeout_ms = 60_000;
    })
    .await;
    let hold = TcpStream::connect(addr(&env)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let url = format!("{}/healthz", env.base);
    assert!(
        quick.get(&url).send().await.is_err(),
        "a second connection is served while the first holds the only slot"
    );
    drop(hold);
    let r = quick.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    env.stop().await;
}

async fn unauthenticated_requests_are_limited_per_address(backend: Backend) {
    let Some(env) = Env::start(backend, |c, _| {
        c.http.unauthenticated_per_second = 1.0;
        c.http.unauthenticated_burst = 5.0;
    })
    .await
    else {
        return;
    };
    let (_, token) = env.platform("Alpha").await;
    assert_eq!(env.get(&token, "/v1/instructions").await.0, StatusCode::OK);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..12 {
        let mut r = env.http.get(format!("{}/v1/instructions", env.base));
        if i % 2 == 1 {
            r = r.bearer_auth(format!("lst_made_up_{i}"));
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let v: Value = resp.json().await.unwrap();
            assert_eq!(
                v["detail"],
                "too many requests without a valid token from this address"
            );
        }
        statuses.push(status);
    }
    assert_eq!(
        &statuses[..5],
        &[401; 5],
        "the burst is allowed: {statuses:?}"
    );
    assert!(
        statuses[5..].iter().all(|s| *s == 429),
        "then 429: {statuses:?}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    // /healthz needs no token and counts against the same limit.
    let (st, _) = env.req(Method::GET, None, "/healthz", None).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // A valid token still works from the throttled address.
    for _ in 0..3 {
        assert_eq!(env.get(&token, "/v1/instructions").await.0, StatusCode::OK);
    }
    env.stop().await;
}

async fn unknown_query_parameters_are_refused(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, token) = env.platform("Alpha").await;
    for path in [
        "/v1/settlements?status=FINALIZED",
        "/v1/settlements?state=FINALIZED&extra=1",
        "/v1/instructions?state=matched",
        "/v1/webhook-endpoints?limit=5",
        "/v1/settlement-templates?x=1",
        "/v1/settlement-templates/dvp-standard?x",
        "/v1/settlements/stl_x/events?offset=1",
    ] {
        let (st, v) = env.get(&token, path).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .starts_with("unknown query parameter"),
            "{path}: {v}"
        );
    }
    let (st, _) = env.req(Method::GET, None, "/healthz?verbose=1", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    for path in [
        "/v1/settlements?state=FINALIZED&limit=5&offset=0",
        "/v1/instructions?status=matched",
        "/v1/settlement-templates",
    ] {
        let (st, v) = env.get(&token, path).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_shared_answer() {
    let env = start(|_| {}).await;
    let (st, doc) = env.req(Method::GET, None, "/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    let mut ops = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops += 1;
            let r = op["responses"].as_object().unwrap();
            let secured = path != "/healthz";
            let mut want = vec!["400", "408", "413", "429", "503"];
            if secured {
                want.push("401");
            }
            if path.contains('{') {
                want.push("404");
            }
            if op.get("requestBody").is_some() {
                want.extend(["415", "422"]);
            }
            for code in want {
                assert!(r.contains_key(code), "{method} {path} lacks {code}");
            }
            if secured {
                assert_eq!(
                    r["401"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody"
                );
            }
            assert!(
                r["429"]["headers"].get("Retry-After").is_some(),
                "{method} {path}"
            );
        }
    }
    assert!(ops >= 20, "{ops} operations");
    // Every string a platform submits in an instruction is bounded in the document, as
    // the validator bounds it (a fuzzer generates within these bounds).
    let schemas = &doc["components"]["schemas"];
    for (name, fields) in [
        (
            "InstructionRequest",
            &[
                "idempotency_key",
                "template_slug",
                "timeout_at",
                "trade_reference",
                "counterparty_platform_id",
                "maturity_at",
                "repayment_amount",
                "repo_rate",
            ][..],
        ),
        (
            "Party",
            &[
                "external_reference",
                "name",
                "wallet_address",
                "deposit_address",
            ][..],
        ),
        ("LegInput", &["instrument_id", "quantity"][..]),
    ] {
        for f in fields {
            let p = &schemas[name]["properties"][*f];
            let bounded = p.get("maxLength").is_some()
                || p["pattern"]
                    .as_str()
                    .is_some_and(|r| r.starts_with('^') && r.ends_with('$'));
            assert!(
                bounded,
                "{name}.{f} has no length bound or anchored pattern: {p}"
            );
        }
    }
    let req = &schemas["InstructionRequest"]["properties"];
    assert_eq!(req["idempotency_key"]["maxLength"], 200);
    assert_eq!(req["legs"]["maxItems"], 8);
    assert_eq!(schemas["Party"]["properties"]["name"]["maxLength"], 200);
    assert_eq!(
        schemas["Party"]["properties"]["external_reference"]["maxLength"],
        128
    );
    let loc = &doc["components"]["schemas"]["FieldError"]["properties"]["loc"];
    assert_eq!(loc["type"], "array");
    assert_eq!(
        loc["items"]["oneOf"],
        json!([{"type": "string"}, {"type": "integer", "minimum": 0}])
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzer_findings_stay_4xx() {
    let env = start(|_| {}).await;
    let (_, token) = env.platform("Alpha").await;
    // A chain id the canonical request form cannot carry (was a 500).
    let mut body = seller("big-chain", None);
    body["party"]["chain_id"] = json!(9_223_372_036_854_775_808_u64);
    let (st, v) = env.post(&token, "/v1/instructions", &body).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("chain_id"), "{v}");
    // An undeclared method is the router's 405 even with a query string.
    let (st, _) = env
        .req(
            Method::TRACE,
            Some(&token),
            "/v1/settlements/x/deposits?sender=",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    // Out-of-range paging and unknown filter values are 422, as documented.
    for path in [
        "/v1/instructions?limit=0",
        "/v1/settlements?offset=-1",
        "/v1/settlements?state=",
        "/v1/instructions?status=nope",
    ] {
        let (st, v) = env.get(&token, path).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
    }
    env.stop().await;
}

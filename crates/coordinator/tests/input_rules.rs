//! Input hygiene of instructions (issue 11), on SQLite and PostgreSQL: integer fields
//! beyond what JSON carries exactly, the character and length rules of every string
//! field, and the bounds of `timeout_at`. Each is a 422 whose `errors[].loc` names the
//! field, never a 500.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    chain_ids_beyond_2_pow_53_are_field_errors,
    string_fields_refuse_invisible_mixed_script_and_overlong_text,
    timeout_at_is_bounded,
);

/// Whether the 422 answer has a field error at exactly `loc`.
fn has_loc(v: &Value, loc: &Value) -> bool {
    v["errors"]
        .as_array()
        .is_some_and(|errs| errs.iter().any(|e| &e["loc"] == loc))
}

async fn chain_ids_beyond_2_pow_53_are_field_errors(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let two53 = 1u64 << 53;
    for (i, id) in [two53, two53 + 1, u64::MAX].into_iter().enumerate() {
        for (j, field) in ["party", "leg"].into_iter().enumerate() {
            let mut body = seller(&format!("big-{i}-{j}"), None);
            let loc = if field == "party" {
                body["party"]["chain_id"] = json!(id);
                json!(["body", "party", "chain_id"])
            } else {
                body["legs"][1]["chain_id"] = json!(id);
                json!(["body", "legs", 1, "chain_id"])
            };
            // Twice: the retry of the same key must not find a half-stored request.
            for _ in 0..2 {
                let (s, v) = env.post(&a, "/v1/instructions", &body).await;
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{id} {field}: {v}");
                assert!(has_loc(&v, &loc), "{id} {field}: {v}");
                assert!(v["detail"].as_str().unwrap().contains("2^53"), "{v}");
            }
        }
    }
    // Negative and beyond u64: refused by the JSON reader with the field's path.
    let template = seller("neg", None).to_string();
    let at = format!("\"chain_id\":{CHAIN_A}");
    for bad in ["-1", "18446744073709551616", "1e3", "31337.5"] {
        let body = template.replacen(&at, &format!("\"chain_id\":{bad}"), 1);
        assert_ne!(body, template);
        let r = env
            .http
            .post(format!("{}/v1/instructions", env.base))
            .bearer_auth(&a)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["detail"].as_str().unwrap().contains("party.chain_id"),
            "{bad}: {v}"
        );
    }
    let (_, l) = env.get(&a, "/v1/instructions").await;
    assert_eq!(l["total"], 0, "{l}");
    env.stop().await;
}

async fn string_fields_refuse_invisible_mixed_script_and_overlong_text(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let long = "x".repeat(10_000);
    let party = |f: &str| json!(["body", "party", f]);
    type Case = (&'static str, Box<dyn Fn(&mut Value)>, Value, &'static str);
    let cases: Vec<Case> = vec![
        (
            "NUL in name",
            Box::new(|v| v["party"]["name"] = json!("Alpha\u{0}AG")),
            party("name"),
            "control",
        ),
        (
            "zero-width in reference",
            Box::new(|v| v["party"]["external_reference"] = json!("A-\u{200B}1")),
            party("external_reference"),
            "format",
        ),
        (
            "bidi override in name",
            Box::new(|v| v["party"]["name"] = json!("Alpha \u{202E}GA")),
            party("name"),
            "format",
        ),
        (
            "Cyrillic A in a Latin name",
            Box::new(|v| v["party"]["name"] = json!("\u{410}lpha Securities AG")),
            party("name"),
            "Cyrillic",
        ),
        (
            "Greek omicron in a Latin name",
            Box::new(|v| v["party"]["name"] = json!("Alpha Sec\u{3BF}rities")),
            party("name"),
            "Greek",
        ),
        (
            "non-NFC name",
            Box::new(|v| v["party"]["name"] = json!("Mu\u{308}ller AG")),
            party("name"),
            "NFC",
        ),
        (
            "line separator in name",
            Box::new(|v| v["party"]["name"] = json!("Alpha\u{2028}AG")),
            party("name"),
            "separator",
        ),
        (
            "name of 201 characters",
            Box::new(|v| v["party"]["name"] = json!("n".repeat(201))),
            party("name"),
            "at most 200",
        ),
        (
            "reference of 129 characters",
            Box::new(|v| v["party"]["external_reference"] = json!("r".repeat(129))),
            party("external_reference"),
            "at most 128",
        ),
        (
            "blank reference",
            Box::new(|v| v["party"]["external_reference"] = json!("  ")),
            party("external_reference"),
            "blank",
        ),
        (
            "control in idempotency key",
            Box::new(|v| v["idempotency_key"] = json!("k\u{1b}[31m")),
            json!(["body", "idempotency_key"]),
            "control",
        ),
        (
            "long template slug",
            Box::new(move |v| v["template_slug"] = json!("t".repeat(65))),
            json!(["body", "template_slug"]),
            "template slug",
        ),
        (
            "trade reference in lower case",
            Box::new(|v| {
                v["trade_reference"] = json!(format!("LS-{}", ulid::Ulid::new()).to_lowercase())
            }),
            json!(["body", "trade_reference"]),
            "trade reference",
        ),
        (
            "trade reference with NUL",
            Box::new(|v| v["trade_reference"] = json!("LS-\u{0}")),
            json!(["body", "trade_reference"]),
            "trade reference",
        ),
        (
            "platform id with a space",
            Box::new(|v| v["counterparty_platform_id"] = json!("plt 1")),
            json!(["body", "counterparty_platform_id"]),
            "platform id",
        ),
        (
            "quantity of 79 digits",
            Box::new(|v| v["legs"][0]["quantity"] = json!("9".repeat(79))),
            json!(["body", "legs", 0, "quantity"]),
            "78 digits",
        ),
        (
            "too many legs",
            Box::new(|v| {
                let leg = v["legs"][0].clone();
                v["legs"] = json!(vec![leg; 1000]);
            }),
            json!(["body", "legs"]),
            "at most 8 legs",
        ),
    ];
    for (name, tweak, loc, why) in cases {
        let mut body = seller(&format!("bad-{name}"), None);
        tweak(&mut body);
        let (s, v) = env.post(&a, "/v1/instructions", &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {v}");
        assert!(has_loc(&v, &loc), "{name}: {v}");
        let msg = v["detail"].as_str().unwrap();
        assert!(msg.contains(why), "{name}: {msg}");
    }
    // Long values are refused without being echoed back.
    for (field, set) in [
        ("name", json!({"name": long})),
        ("external_reference", json!({"external_reference": long})),
    ] {
        let mut body = seller(&format!("long-{field}"), None);
        body["party"][field] = set[field].clone();
        let (s, v) = env.post(&a, "/v1/instructions", &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            v.to_string().len() < 1_000,
            "{field}: answer echoes the value"
        );
    }
    let mut body = seller("long-time", None);
    body["timeout_at"] = json!(long);
    let (s, v) = env.post(&a, "/v1/instructions", &body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(has_loc(&v, &json!(["body", "timeout_at"])), "{v}");
    let (_, l) = env.get(&a, "/v1/instructions").await;
    assert_eq!(l["total"], 0, "{l}");
    // Names in other scripts, accents and words of different scripts side by side pass.
    for (i, name) in [
        "Müller & Söhne GmbH",
        "Αλφα Alpha AG",
        "Иванов и партнёры",
        "株式会社アルファ",
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = seller(&format!("ok-{i}"), None);
        body["party"]["name"] = json!(name);
        let (s, v) = env.post(&a, "/v1/instructions", &body).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {v}");
        assert_eq!(v["party"]["name"], name);
    }
    env.stop().await;
}

async fn timeout_at_is_bounded(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let loc = json!(["body", "timeout_at"]);
    // No escrow of these chains states a limit: the coordinator's 30 days apply.
    let thirty_one_days = (chrono::Utc::now() + chrono::Duration::days(31)).to_rfc3339();
    for (i, t) in ["9999-12-31T23:59:59Z", thirty_one_days.as_str()]
        .into_iter()
        .enumerate()
    {
        let mut body = seller(&format!("far-{i}"), None);
        body["timeout_at"] = json!(t);
        let (s, v) = env.post(&a, "/v1/instructions", &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}: {v}");
        assert!(has_loc(&v, &loc), "{t}: {v}");
        assert!(
            v["detail"].as_str().unwrap().contains("at most 30 days"),
            "{v}"
        );
    }
    let mut body = seller("near", None);
    body["timeout_at"] = json!((chrono::Utc::now() + chrono::Duration::days(29)).to_rfc3339());
    let (s, v) = env.post(&a, "/v1/instructions", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    env.stop().await;
}

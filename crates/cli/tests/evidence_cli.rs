//! `lockstep evidence ...` run as a process: good input, bad input, exit codes and
//! exact stdout.

#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut si = child.stdin.take().unwrap();
        if let Some(b) = stdin {
            si.write_all(b).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn ok_json(args: &[&str], stdin: &[u8]) -> Value {
    let o = run(args, Some(stdin));
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stderr.is_empty());
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Bad input: exit 2, nothing on stdout, exactly one line on stderr naming the problem.
fn bad(args: &[&str], stdin: &[u8], needle: &str) {
    let o = run(args, Some(stdin));
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?} {}",
        String::from_utf8_lossy(stdin)
    );
    assert!(o.stdout.is_empty(), "{args:?}: stdout not empty");
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{err:?} lacks {needle:?}"
    );
}

fn load(p: &Path) -> Value {
    lockstep_evidence::parse_strict(&std::fs::read(p).unwrap()).unwrap()
}

fn case(file: &str, id: &str) -> Value {
    let doc = load(&vectors().join(file));
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone()
}

#[test]
fn canon_prints_exact_bytes_from_stdin_and_file() {
    let o = run(
        &["evidence", "canon"],
        Some("{\"b\":[1.0,\"\u{2028}\"],\"a\":{\"\u{fb01}\":1,\"\u{1f600}\":2}}".as_bytes()),
    );
    assert!(o.status.success());
    assert_eq!(
        o.stdout,
        "{\"a\":{\"\u{1f600}\":2,\"\u{fb01}\":1},\"b\":[1,\"\u{2028}\"]}".as_bytes()
    );
    let dir = std::env::temp_dir().join(format!("lockstep-evidence-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("doc.json");
    std::fs::write(&f, b" { \"z\" : null , \"y\" : true } ").unwrap();
    let o = run(&["evidence", "canon", f.to_str().unwrap()], None);
    assert_eq!(o.stdout, br#"{"y":true,"z":null}"#);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ref_prints_prefixed_digest_and_newline() {
    let c = case("published/passport.json", "ap-001");
    let o = run(
        &["evidence", "ref"],
        Some(c["input"].to_string().as_bytes()),
    );
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!("{}\n", c["output"]["passport_ref"].as_str().unwrap())
    );
}

#[test]
fn build_keystone_matches_bind_keystone() {
    let c = case("published/compositions.json", "keystone-record");
    let out = ok_json(
        &["evidence", "build", "keystone"],
        c["input"].to_string().as_bytes(),
    );
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "canon_version",
            "type",
            "passport_ref",
            "mandate_ref",
            "policy_bound_ref",
            "verdict",
            "decision_ref",
            "action_type",
            "scope",
            "outcome",
            "executed_at_ms",
            "execution_ref",
            "trust_outcome",
            "trust_query_ref",
            "chain"
        ]
    );
    for k in ["decision_ref", "execution_ref", "trust_query_ref"] {
        assert_eq!(out[k], c["output"][k], "{k}");
    }
    assert_eq!(out["type"], "execution_keystone");
    assert_eq!(out["chain"][4], out["execution_ref"]);
}

#[test]
fn build_frame_matches_the_published_pef_frame() {
    let c = case("published/compositions.json", "pef-frame");
    let out = ok_json(
        &["evidence", "build", "frame"],
        c["input"].to_string().as_bytes(),
    );
    assert_eq!(out, c["output"]);
}

#[test]
fn build_audit_chain_and_settlement_binding() {
    let c = case("lockstep/audit_chain.json", "three-frames");
    let out = ok_json(
        &["evidence", "build", "audit-chain"],
        c["input"].to_string().as_bytes(),
    );
    assert_eq!(out, c["output"]);
    let c = case("published/compositions.json", "binding-settlement-binding");
    let out = ok_json(
        &["evidence", "build", "settlement-binding"],
        c["input"].to_string().as_bytes(),
    );
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "content_hash",
            "settlement_ref",
            "retention_row",
            "retention_chain_ref",
            "binding_ref"
        ]
    );
    assert_eq!(out, c["output"]);
}

#[test]
fn verify_accepts_good_bundles_and_reports_the_first_mismatch() {
    let good = vectors().join("bundles/settled.bundle.json");
    let o = run(&["evidence", "verify", good.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8(o.stdout).unwrap();
    assert!(
        line.starts_with("ok: ") && line.lines().count() == 1,
        "{line}"
    );

    let mut b = load(&good);
    b["legs"][1]["binding_ref"] =
        json!("sha256:1111111111111111111111111111111111111111111111111111111111111111");
    let dir = std::env::temp_dir().join(format!("lockstep-evidence-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("tampered.json");
    std::fs::write(&f, serde_json::to_vec(&b).unwrap()).unwrap();
    let o = run(&["evidence", "verify", f.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("mismatch: $.legs[1].binding_ref: expected \"sha256:"),
        "{err}"
    );
    assert!(err.contains("found \"sha256:1111"), "{err}");

    std::fs::write(
        &f,
        b"{\"bundle_version\":\"lockstep-evidence-bundle/v1\",\"facts\":{}}",
    )
    .unwrap();
    let o = run(&["evidence", "verify", f.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("$.facts.jurisdiction_flags: required member is missing")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_one_line_on_stderr_and_nothing_on_stdout() {
    bad(
        &["evidence", "canon"],
        br#"{"a":{"b":1,"b":2}}"#,
        "duplicate member name \"b\"",
    );
    bad(&["evidence", "ref"], br#"["\ud800"]"#, "surrogate");
    bad(&["evidence", "canon"], b"[9007199254740992]", "outside");
    bad(&["evidence", "canon"], b"{\"a\":1", "invalid JSON");
    bad(&["evidence", "canon"], b"", "invalid JSON");
    bad(
        &["evidence", "ref", "/nonexistent/lockstep.json"],
        b"",
        "reading /nonexistent/lockstep.json",
    );
    let mut k = case("published/compositions.json", "keystone-record")["input"].clone();
    k["verdict"] = json!("MAYBE");
    bad(
        &["evidence", "build", "keystone"],
        k.to_string().as_bytes(),
        "verdict: \"MAYBE\" is not one of ALLOW, DENY, REFER",
    );
    k["verdict"] = json!("ALLOW");
    k["executed_at_ms"] = json!("2026-05-23T10:40:00.000Z");
    bad(
        &["evidence", "build", "keystone"],
        k.to_string().as_bytes(),
        "executed_at_ms: expected integer, found string",
    );
    bad(&["evidence", "build", "frame"], br#"{"claim_type":"payment_execution","receipt_format":"x","receipt":[],"frame_provider_did":"d","frame_timestamp_ms":1}"#, "receipt: expected object");
    bad(
        &["evidence", "build", "audit-chain"],
        br#"{"frame_ids":[]}"#,
        "frame_ids: must be a non-empty list",
    );
    bad(
        &["evidence", "build", "settlement-binding"],
        br#"{"execution_ref":"sha256:00"}"#,
        "execution_ref",
    );
    bad(
        &["evidence", "bench", "--iterations", "0"],
        b"",
        "at least 1",
    );
}

#[test]
fn bench_prints_rate_and_the_last_refs() {
    let o = run(&["evidence", "bench", "--iterations", "50"], None);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["iterations"], 50);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    assert!(v["keystones_per_sec"].as_f64().unwrap() > 0.0);
    let mut st = lockstep_evidence::bench::BenchState::default();
    let last = lockstep_evidence::bench::full_keystone(49, &mut st).unwrap();
    assert_eq!(v["last"], serde_json::to_value(&last).unwrap());
    assert_eq!(v["last"]["row_hashes"].as_array().unwrap().len(), 2);
}

#[test]
fn bundle_builds_the_vector_bundle_from_its_facts() {
    for name in ["settled", "refunded", "denied"] {
        let facts = std::fs::read(vectors().join(format!("bundles/{name}.facts.json"))).unwrap();
        let out = ok_json(&["evidence", "bundle"], &facts);
        assert_eq!(
            out,
            load(&vectors().join(format!("bundles/{name}.bundle.json"))),
            "{name}"
        );
    }
    let mut facts = load(&vectors().join("bundles/settled.facts.json"));
    facts["legs"][0]["anchor"]["block_hash"] = json!("0xABC");
    bad(
        &["evidence", "bundle"],
        facts.to_string().as_bytes(),
        "legs[0].anchor.block_hash: must be 0x followed by 64 lowercase hex digits",
    );
}

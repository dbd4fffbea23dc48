//! Runs every vector file: the published goldens restated under `vectors/published/`
//! (checked, never regenerated), the project's own under `vectors/lockstep/`, and the
//! good and tampered bundles under `vectors/bundles/`.

#![allow(clippy::unwrap_used, missing_docs)]

use lockstep_evidence::bundle::{
    BundleFacts, Mismatch, OfflineOnly, VerifyError, build_bundle, verify_bundle,
};
use lockstep_evidence::parse_strict;
use lockstep_evidence::vectors::{CONSTRUCTIONS, compute};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn load(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse_strict(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

/// Checks every case of one file; returns (constructions covered by positives, count).
fn run_file(p: &Path, exact_errors: bool) -> (BTreeSet<String>, usize) {
    let doc = load(p);
    let name = p.display().to_string();
    let default = doc["construction"].as_str().unwrap().to_owned();
    let mut covered = BTreeSet::new();
    let cases = doc["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{name}: no cases");
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let construction = c
            .get("construction")
            .and_then(Value::as_str)
            .unwrap_or(&default);
        let input = match (c.get("input"), c.get("input_text")) {
            (Some(v), None) => Ok(v.clone()),
            (None, Some(Value::String(t))) => parse_strict(t.as_bytes()),
            _ => panic!("{name} {id}: needs exactly one of input, input_text"),
        };
        let result = input.and_then(|v| compute(construction, &v));
        match c["expect"].as_str().unwrap() {
            expect @ ("ok" | "differ") => {
                let out = result.unwrap_or_else(|e| panic!("{name} {id}: rejected: {e}"));
                let want = c["output"].as_object().unwrap();
                assert!(!want.is_empty(), "{name} {id}: empty output");
                for (k, v) in want {
                    assert_eq!(out.get(k), Some(v), "{name} {id}: output {k}");
                }
                if expect == "differ" {
                    for (k, v) in c["claimed"].as_object().unwrap() {
                        assert_ne!(
                            out.get(k),
                            Some(v),
                            "{name} {id}: {k} must differ from the claim"
                        );
                    }
                } else {
                    covered.insert(construction.to_owned());
                }
            }
            "reject" => {
                let err = match result {
                    Ok(out) => panic!("{name} {id}: accepted, got {out}"),
                    Err(e) => e.to_string(),
                };
                match c.get("error").and_then(Value::as_str) {
                    Some(want) => assert_eq!(err, want, "{name} {id}: error"),
                    None => assert!(
                        !exact_errors,
                        "{name} {id}: own reject vectors carry their error"
                    ),
                }
            }
            other => panic!("{name} {id}: unknown expect {other}"),
        }
    }
    (covered, cases.len())
}

#[test]
fn published_goldens_recompute() {
    let mut n = 0;
    for p in files("published") {
        let text = std::fs::read_to_string(&p).unwrap();
        // The project restates the corpus' facts; it does not copy its headers.
        assert!(
            !text.contains("\"set\"") && !text.contains("\"schema_version\""),
            "{}",
            p.display()
        );
        n += run_file(&p, false).1;
    }
    assert!(n >= 60, "only {n} published cases");
}

#[test]
fn own_vectors_recompute_and_cover_every_construction() {
    let mut covered = BTreeSet::new();
    for p in files("lockstep") {
        covered.extend(run_file(&p, true).0);
    }
    let missing: Vec<_> = CONSTRUCTIONS
        .iter()
        .filter(|c| **c != "bundle" && !covered.contains(**c))
        .collect();
    assert!(
        missing.is_empty(),
        "constructions without a positive vector: {missing:?}"
    );
}

#[test]
fn good_bundles_rebuild_and_verify() {
    let meta = load(&root().join("bundles/tampered.json"));
    let good = meta["good"].as_array().unwrap();
    assert!(good.len() >= 3);
    for g in good {
        let g = g.as_str().unwrap();
        let facts = load(&root().join(format!("bundles/{g}.facts.json")));
        let bundle = load(&root().join(format!("bundles/{g}.bundle.json")));
        let rebuilt = build_bundle(&BundleFacts::from_json("$", &facts).unwrap()).unwrap();
        assert_eq!(
            rebuilt, bundle,
            "{g}: bundle differs from its facts' rebuild"
        );
        let summary = verify_bundle(&bundle, &OfflineOnly).unwrap_or_else(|e| panic!("{g}: {e}"));
        assert_eq!(
            summary.decision_ref.as_str(),
            bundle["decision"]["decision_ref"].as_str().unwrap()
        );
    }
}

#[test]
fn tampered_bundles_report_the_expected_first_mismatch() {
    let meta = load(&root().join("bundles/tampered.json"));
    let cases = meta["tampered"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let mut b = load(&root().join("bundles").join(c["bundle"].as_str().unwrap()));
        let ptr = c["pointer"].as_str().unwrap();
        let (parent, last) = ptr.rsplit_once('/').unwrap();
        match (b.pointer_mut(parent).unwrap(), c.get("set")) {
            (Value::Object(m), Some(v)) => {
                m.insert(last.to_owned(), v.clone());
            }
            (Value::Object(m), None) => {
                m.shift_remove(last).unwrap();
            }
            (Value::Array(a), Some(v)) => a[last.parse::<usize>().unwrap()] = v.clone(),
            (Value::Array(a), None) => {
                a.remove(last.parse::<usize>().unwrap());
            }
            _ => panic!("{id}: bad pointer"),
        }
        let want: Mismatch = serde_json::from_value(c["first_mismatch"].clone()).unwrap();
        match verify_bundle(&b, &OfflineOnly) {
            Err(VerifyError::Mismatch(m)) => assert_eq!(m, want, "{id}"),
            other => panic!("{id}: expected a mismatch, got {other:?}"),
        }
    }
}

/// A checker that objects to one chain, proving the online hook is consulted.
struct RejectChain(u64);

impl lockstep_evidence::bundle::AnchorChecker for RejectChain {
    fn check(
        &self,
        path: &str,
        a: &lockstep_evidence::bundle::AnchorRecord,
    ) -> Result<(), Mismatch> {
        if a.chain_id == self.0 {
            return Err(Mismatch {
                path: format!("{path}.block_hash"),
                expected: "<on-chain block hash>".into(),
                found: a.block_hash.clone(),
            });
        }
        Ok(())
    }
    fn describe(&self) -> &'static str {
        "test checker"
    }
}

#[test]
fn anchor_checker_is_consulted_per_leg() {
    let b = load(&root().join("bundles/settled.bundle.json"));
    match verify_bundle(&b, &RejectChain(10)) {
        Err(VerifyError::Mismatch(m)) => assert_eq!(m.path, "$.facts.legs[1].anchor.block_hash"),
        other => panic!("{other:?}"),
    }
    assert!(verify_bundle(&b, &RejectChain(5)).is_ok());
}

#[test]
fn bench_workload_matches_the_published_keystone_at_agent_001_shape() {
    // Iteration i uses agent-<i>; the rest of the chain is the published keystone's
    // mandate, so mandate_ref must equal the golden one and every ref must recompute
    // through the JSON constructors too.
    let mut st = lockstep_evidence::bench::BenchState::default();
    let k = lockstep_evidence::bench::full_keystone(1, &mut st).unwrap();
    assert_eq!(
        k.mandate_ref.as_str(),
        "sha256:a4f8cb5ee09b29478ac1cc2f468d66e16d3d25f7a229a31d22ad521e11d04d35"
    );
    let policy = serde_json::json!({"policy_id": "aml.transfer", "version": 1});
    assert_eq!(
        lockstep_evidence::canonicalize(&policy).unwrap(),
        lockstep_evidence::bench::POLICY_CANONICAL
    );
    let passport = compute("passport", &serde_json::json!({"agent_id": "agent-1", "issuer": "did:algo:issuer", "scope": "payments", "validity_window": "2026-06-21/2026-09-21"})).unwrap();
    assert_eq!(
        passport["passport_ref"].as_str(),
        Some(k.passport_ref.as_str())
    );
    let chain = compute("audit_chain", &serde_json::json!({"frame_ids": [k.execution_frame_id, k.settlement_frame_id], "trust_outcome": "TRUSTED"})).unwrap();
    assert_eq!(chain["cap"].as_str(), Some(k.cap.as_str()));
    assert_eq!(
        chain["rows"][1]["row_hash"].as_str(),
        Some(k.row_hashes[1].bare())
    );
}

#[test]
fn our_canonical_bytes_equal_serde_jcs_on_every_vector_document() {
    // An independent RFC 8785 implementation as a cross-check of our writer (both the
    // Value canonicaliser and, through the bundles, the typed constructors' output).
    let mut n = 0;
    for dir in ["published", "lockstep", "bundles"] {
        for p in files(dir) {
            let doc = load(&p);
            assert_eq!(
                lockstep_evidence::canonicalize(&doc).unwrap(),
                serde_jcs::to_vec(&doc).unwrap(),
                "{}",
                p.display()
            );
            n += 1;
        }
    }
    for c in load(&root().join("lockstep/canonical.json"))["cases"]
        .as_array()
        .unwrap()
    {
        if let (Some(t), Some(out)) = (c["input_text"].as_str(), c["output"].get("canonical")) {
            let v = parse_strict(t.as_bytes()).unwrap();
            assert_eq!(
                serde_jcs::to_string(&v).unwrap(),
                out.as_str().unwrap(),
                "{}",
                c["id"]
            );
            n += 1;
        }
    }
    assert!(n > 30);
}

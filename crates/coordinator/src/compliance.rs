//! Screening: a provider trait, a local sanctions list and an HTTP provider.
//!
//! Each provider answers per party and per wallet with pass / flagged / fail. The
//! settlement's result is the worst of all findings: any fail rolls it back, any flag
//! holds it for a manual decision, otherwise it is cleared.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;
use utoipa::ToSchema;

/// One screening result, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScreeningResult {
    /// Nothing found.
    Pass,
    /// Possible hit: needs a manual decision.
    Flagged,
    /// Definite hit: the settlement is rolled back.
    Fail,
}

/// Who is screened: one party of a settlement.
#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    /// `seller` or `buyer`.
    pub role: String,
    /// The party's legal name.
    pub name: String,
    /// The party's wallet (checksummed).
    pub wallet_address: String,
    /// The wallet's chain.
    pub chain_id: u64,
    /// The platform's reference for the party.
    pub external_reference: String,
}

/// One provider's answer about one subject's name or wallet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// Provider name.
    pub provider: String,
    /// The party's role.
    pub role: String,
    /// `name` or `wallet`.
    pub check: String,
    /// The result.
    pub result: ScreeningResult,
    /// Why.
    pub reason: String,
}

/// A boxed future (the provider trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A screening provider.
pub trait ScreeningProvider: Send + Sync + 'static {
    /// Its name, as templates list it.
    fn name(&self) -> &str;
    /// Screens one subject. An `Err` is an outage, not a verdict: the screening is retried.
    fn screen<'a>(&'a self, subject: &'a Subject) -> BoxFuture<'a, Result<Vec<Finding>>>;
}

/// One sanctions list entry.
#[derive(Debug, Clone, Deserialize)]
pub struct SanctionsEntry {
    /// Listed name.
    pub name: String,
    /// Listed wallet addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// A local sanctions list: exact wallet match = fail; a name match (every word of the
/// listed name in the party's name, or the reverse) = flagged.
///
/// Formats: JSON `[{"name": "...", "addresses": ["0x..."]}]`, or CSV with a header
/// `name,address` (one address per row; repeat the name for several).
#[derive(Debug, Clone)]
pub struct SanctionsList {
    entries: Vec<SanctionsEntry>,
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl SanctionsList {
    /// Builds a list from entries.
    pub fn new(entries: Vec<SanctionsEntry>) -> SanctionsList {
        SanctionsList { entries }
    }

    /// Loads a `.json` or `.csv` file.
    pub fn load(path: &Path) -> Result<SanctionsList> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let bad = |m: String| Error::Config(format!("sanctions list {}: {m}", path.display()));
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            let mut entries: Vec<SanctionsEntry> = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("name")) {
                    continue;
                }
                let (name, addr) = match line.rsplit_once(',') {
                    Some((n, a)) => (n.trim().trim_matches('"').to_string(), a.trim().to_string()),
                    None => (line.trim_matches('"').to_string(), String::new()),
                };
                if name.is_empty() {
                    return Err(bad(format!("line {}: empty name", i + 1)));
                }
                match entries.iter_mut().find(|e| e.name == name) {
                    Some(e) if !addr.is_empty() => e.addresses.push(addr),
                    Some(_) => {}
                    None => entries.push(SanctionsEntry {
                        name,
                        addresses: if addr.is_empty() { vec![] } else { vec![addr] },
                    }),
                }
            }
            Ok(SanctionsList { entries })
        } else {
            let entries: Vec<SanctionsEntry> =
                serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            Ok(SanctionsList { entries })
        }
    }

    /// Screens synchronously.
    pub fn check(&self, s: &Subject) -> Vec<Finding> {
        let finding = |check: &str, result, reason: String| Finding {
            provider: "sanctions-list".into(),
            role: s.role.clone(),
            check: check.into(),
            result,
            reason,
        };
        let wallet_hit = self.entries.iter().find(|e| {
            e.addresses
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&s.wallet_address))
        });
        let party_words = words(&s.name);
        let name_hit = self.entries.iter().find(|e| {
            let listed = words(&e.name);
            !listed.is_empty()
                && !party_words.is_empty()
                && (listed.iter().all(|w| party_words.contains(w))
                    || party_words.iter().all(|w| listed.contains(w)))
        });
        vec![
            match wallet_hit {
                Some(e) => finding(
                    "wallet",
                    ScreeningResult::Fail,
                    format!("wallet is listed for {:?}", e.name),
                ),
                None => finding("wallet", ScreeningResult::Pass, "wallet not listed".into()),
            },
            match name_hit {
                Some(e) => finding(
                    "name",
                    ScreeningResult::Flagged,
                    format!("name resembles listed {:?}", e.name),
                ),
                None => finding("name", ScreeningResult::Pass, "name not listed".into()),
            },
        ]
    }
}

impl ScreeningProvider for SanctionsList {
    fn name(&self) -> &str {
        "sanctions-list"
    }
    fn screen<'a>(&'a self, subject: &'a Subject) -> BoxFuture<'a, Result<Vec<Finding>>> {
        Box::pin(async move { Ok(self.check(subject)) })
    }
}

/// An external screening service. The coordinator POSTs the [`Subject`] as JSON and
/// expects `{"result": "pass"|"flagged"|"fail", "reason": "..."}` with a 2xx status.
#[derive(Debug, Clone)]
pub struct HttpScreening {
    url: String,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct HttpAnswer {
    result: ScreeningResult,
    #[serde(default)]
    reason: String,
}

impl HttpScreening {
    /// A provider calling `url` with a per-call timeout.
    pub fn new(url: &str, timeout: Duration) -> Result<HttpScreening> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Config(format!("http screening client: {e}")))?;
        Ok(HttpScreening {
            url: url.into(),
            client,
        })
    }
}

impl ScreeningProvider for HttpScreening {
    fn name(&self) -> &str {
        "http"
    }
    fn screen<'a>(&'a self, subject: &'a Subject) -> BoxFuture<'a, Result<Vec<Finding>>> {
        Box::pin(async move {
            let fail = |m: String| Error::Screening {
                provider: "http".into(),
                message: m,
            };
            let resp = self
                .client
                .post(&self.url)
                .json(subject)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(fail(format!("status {status}")));
            }
            let a: HttpAnswer = resp
                .json()
                .await
                .map_err(|e| fail(format!("bad answer: {e}")))?;
            Ok(vec![Finding {
                provider: "http".into(),
                role: subject.role.clone(),
                check: "party".into(),
                result: a.result,
                reason: a.reason,
            }])
        })
    }
}

/// The outcome of screening every party with every provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScreeningReport {
    /// The worst finding (pass when no provider ran).
    pub result: ScreeningResult,
    /// Providers that ran.
    pub providers: Vec<String>,
    /// Every finding.
    pub findings: Vec<Finding>,
}

/// Runs the providers (those the template lists, in order) over the subjects.
pub async fn screen_all(
    providers: &[&dyn ScreeningProvider],
    subjects: &[Subject],
) -> Result<ScreeningReport> {
    let mut findings = Vec::new();
    for p in providers {
        for s in subjects {
            findings.extend(p.screen(s).await?);
        }
    }
    Ok(ScreeningReport {
        result: findings
            .iter()
            .map(|f| f.result)
            .max()
            .unwrap_or(ScreeningResult::Pass),
        providers: providers.iter().map(|p| p.name().to_string()).collect(),
        findings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subject(name: &str, wallet: &str) -> Subject {
        Subject {
            role: "seller".into(),
            name: name.into(),
            wallet_address: wallet.into(),
            chain_id: 1,
            external_reference: "x".into(),
        }
    }

    #[test]
    fn address_match_fails_and_name_match_flags() {
        let list = SanctionsList::new(vec![SanctionsEntry {
            name: "Evil Corp".into(),
            addresses: vec!["0x00000000000000000000000000000000000BAD01".into()],
        }]);
        let worst = |s: &Subject| list.check(s).iter().map(|f| f.result).max().unwrap();
        assert_eq!(
            worst(&subject(
                "Good Bank",
                "0x00000000000000000000000000000000000bad01"
            )),
            ScreeningResult::Fail
        );
        assert_eq!(
            worst(&subject(
                "EVIL CORP Holdings Ltd",
                "0x0000000000000000000000000000000000000001"
            )),
            ScreeningResult::Flagged
        );
        assert_eq!(
            worst(&subject(
                "Good Bank",
                "0x0000000000000000000000000000000000000001"
            )),
            ScreeningResult::Pass
        );
    }

    #[test]
    fn csv_and_json_lists_load() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("l.csv");
        std::fs::write(
            &csv,
            "name,address\nEvil Corp,0xaa\nEvil Corp,0xbb\nNobody,\n",
        )
        .unwrap();
        let l = SanctionsList::load(&csv).unwrap();
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.entries[0].addresses, vec!["0xaa", "0xbb"]);
        let json = dir.path().join("l.json");
        std::fs::write(&json, r#"[{"name":"Evil Corp","addresses":["0xaa"]}]"#).unwrap();
        assert_eq!(SanctionsList::load(&json).unwrap().entries.len(), 1);
    }
}

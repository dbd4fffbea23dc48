//! Settlement templates, defined as data (`crates/coordinator/templates/*.json`) and
//! embedded in the binary.

use crate::{Error, Result};
use lockstep_core::SettlementState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const BUILT_IN: &[&str] = &[
    include_str!("../templates/dvp-standard.json"),
    include_str!("../templates/cross-chain-dvp.json"),
    include_str!("../templates/dvp-internal.json"),
];

/// A settlement template.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Identifier used by instructions (`template_slug`).
    pub slug: String,
    /// Human name.
    pub name: String,
    /// What it settles.
    pub description: String,
    /// Whether both sides may come from one platform (an internalised trade). When
    /// false, an instruction never matches one of its own platform's, and naming one's
    /// own platform as `counterparty_platform_id` is refused.
    #[serde(default)]
    pub allow_same_platform: bool,
    /// Whether every leg must be on one chain.
    pub single_chain: bool,
    /// Roles that must be present, one instruction each.
    pub required_roles: Vec<String>,
    /// Leg types each instruction must contain.
    pub required_leg_types: Vec<String>,
    /// Screening providers run for this template (when configured).
    pub compliance_providers: Vec<String>,
    /// States a settlement of this template passes through.
    pub states: Vec<SettlementState>,
    /// Allowed edges; a subset of the coordinator's one transition table.
    pub transitions: Vec<(SettlementState, SettlementState)>,
}

/// The loaded templates, looked up by slug.
#[derive(Debug, Clone)]
pub struct Templates(Vec<Template>);

impl Templates {
    /// The built-in templates (see [`built_in`]).
    pub fn load() -> Result<Templates> {
        built_in().map(Templates)
    }

    /// A template by slug.
    pub fn get(&self, slug: &str) -> Option<&Template> {
        self.0.iter().find(|t| t.slug == slug)
    }

    /// Every template, in definition order.
    pub fn all(&self) -> &[Template] {
        &self.0
    }
}

/// The built-in templates, validated against the state machine table.
pub fn built_in() -> Result<Vec<Template>> {
    BUILT_IN
        .iter()
        .map(|text| {
            let t: Template = serde_json::from_str(text)?;
            for (from, to) in &t.transitions {
                if !from.can_transition_to(*to) {
                    return Err(Error::Config(format!(
                        "template {}: edge {from} -> {to} is not in the state machine table",
                        t.slug
                    )));
                }
            }
            Ok(t)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn built_in_templates_load_and_respect_the_table() {
        let ts = super::built_in().unwrap();
        let slugs: Vec<_> = ts.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(slugs, ["dvp-standard", "cross-chain-dvp", "dvp-internal"]);
        assert!(ts[0].single_chain && !ts[1].single_chain && ts[2].single_chain);
        // Only the internalised template lets one platform submit both sides.
        assert!(!ts[0].allow_same_platform && !ts[1].allow_same_platform);
        assert!(ts[2].allow_same_platform);
        assert_eq!(ts[0].transitions.len(), lockstep_core::TRANSITIONS.len());
    }
}

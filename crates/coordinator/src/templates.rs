//! Settlement templates, defined as data (`crates/coordinator/templates/*.json`) and
//! embedded in the binary.

use crate::trade::{Direction, LegType, Role};
use crate::{Error, Result};
use lockstep_core::SettlementState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const BUILT_IN: &[&str] = &[
    include_str!("../templates/dvp-standard.json"),
    include_str!("../templates/cross-chain-dvp.json"),
    include_str!("../templates/dvp-internal.json"),
    include_str!("../templates/repo.json"),
];

/// Templates shipped with the binary but loaded only when the configuration names them
/// (`enable_templates`): the multi-party ones, whose settlements the pipeline cannot clear
/// yet (the decision evidence holds two parties; docs/coordinator.md "Multi-party matching").
const OPTIONAL: &[&str] = &[include_str!("../templates/dvp-fx.json")];

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
    /// Leg types each instruction must contain (two-role templates; a multi-role
    /// template lists the leg types its roles use and states them per role in `role_legs`).
    pub required_leg_types: Vec<String>,
    /// Multi-role templates (more than two `required_roles`): the legs each role
    /// provides, as (leg type, direction) pairs; an instruction for the role carries
    /// exactly these. Empty for two-role templates, whose rule is one leg per leg type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_legs: Vec<RoleLegs>,
    /// Repo templates only: what makes a settlement of this template a repo opening with a
    /// close fixed at opening (docs/coordinator.md "Repo"). Instructions of such a template
    /// must carry `maturity_at` and `repayment_amount`; all others refuse them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<RepoSpec>,
    /// Screening providers run for this template (when configured).
    pub compliance_providers: Vec<String>,
    /// States a settlement of this template passes through.
    pub states: Vec<SettlementState>,
    /// Allowed edges; a subset of the coordinator's one transition table.
    pub transitions: Vec<(SettlementState, SettlementState)>,
}

/// The repo parameters of a template (data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    /// Length of the close's window, seconds: the close's deadline is `maturity_at` plus
    /// this. At least 60.
    #[schema(minimum = 60)]
    pub close_window_secs: u64,
}

/// The legs one role of a multi-role template provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleLegs {
    /// The role.
    pub role: Role,
    /// Its legs, by type and direction (from the role's point of view).
    pub legs: Vec<LegSpec>,
}

/// One leg a role provides: what it moves and whether the role delivers or receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegSpec {
    /// `asset_delivery` or `payment`.
    pub leg_type: LegType,
    /// `deliver` or `receive`.
    pub direction: Direction,
}

impl Template {
    /// Whether settlements of this template have more than two parties (matched by the
    /// multi-party rules, docs/coordinator.md "Multi-party matching").
    pub fn is_multi_party(&self) -> bool {
        self.required_roles.len() > 2
    }

    /// The legs `role` provides in a multi-role template.
    pub fn legs_of(&self, role: Role) -> Option<&[LegSpec]> {
        self.role_legs
            .iter()
            .find(|r| r.role == role)
            .map(|r| r.legs.as_slice())
    }
}

/// A multi-role template names every role in `role_legs` exactly once, each with legs;
/// a two-role template has none.
fn check_roles(t: &Template) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("template {}: {m}", t.slug)));
    if t.required_roles.len() < 2 {
        return bad("needs at least two roles".into());
    }
    if let Some(r) = t.repo {
        // The close reverses the two legs of a seller and a buyer.
        if t.is_multi_party() || r.close_window_secs < 60 {
            return bad("a repo template has two roles and a close window of at least 60 s".into());
        }
    }
    if !t.is_multi_party() {
        return match t.role_legs.is_empty() {
            true => Ok(()),
            false => bad("role_legs is for templates with more than two roles".into()),
        };
    }
    let mut named: Vec<&str> = t.role_legs.iter().map(|r| r.role.as_str()).collect();
    let mut want: Vec<&str> = t.required_roles.iter().map(String::as_str).collect();
    named.sort_unstable();
    want.sort_unstable();
    if named != want || t.role_legs.iter().any(|r| r.legs.is_empty()) {
        return bad("role_legs must give every required role its legs, once".into());
    }
    // The settlement row keeps its first two parties in the seller and buyer columns.
    if !(want.contains(&Role::Seller.as_str()) && want.contains(&Role::Buyer.as_str())) {
        return bad("a multi-role template has the roles seller and buyer".into());
    }
    Ok(())
}

/// The loaded templates, looked up by slug.
#[derive(Debug, Clone)]
pub struct Templates(Vec<Template>);

impl Templates {
    /// The built-in templates (see [`built_in`]) and the optional ones `enabled` names
    /// (an unknown name is a configuration error).
    pub fn load(enabled: &[String]) -> Result<Templates> {
        let mut all = built_in()?;
        let optional = parse(OPTIONAL)?;
        for slug in enabled {
            let t = optional.iter().find(|t| &t.slug == slug).ok_or_else(|| {
                Error::Config(format!("enable_templates: no optional template {slug:?}"))
            })?;
            all.push(t.clone());
        }
        Ok(Templates(all))
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
    parse(BUILT_IN)
}

/// The optional templates ([`OPTIONAL`]), validated like the built-in ones.
pub fn optional() -> Result<Vec<Template>> {
    parse(OPTIONAL)
}

/// Parses template files and checks their roles and edges.
fn parse(texts: &[&str]) -> Result<Vec<Template>> {
    texts
        .iter()
        .map(|text| {
            let t: Template = serde_json::from_str(text)?;
            check_roles(&t)?;
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
        assert_eq!(
            slugs,
            ["dvp-standard", "cross-chain-dvp", "dvp-internal", "repo"]
        );
        assert_eq!(ts[3].repo.map(|r| r.close_window_secs), Some(3_600));
        assert!(ts[..3].iter().all(|t| t.repo.is_none()) && !ts[3].single_chain);
        assert!(ts[0].single_chain && !ts[1].single_chain && ts[2].single_chain);
        // Only the internalised template lets one platform submit both sides.
        assert!(!ts[0].allow_same_platform && !ts[1].allow_same_platform);
        assert!(ts[2].allow_same_platform);
        assert_eq!(ts[0].transitions.len(), lockstep_core::TRANSITIONS.len());
    }

    #[test]
    fn the_fx_template_has_three_roles_with_complementary_legs() {
        use crate::trade::{Direction, LegType, Role};
        let ts = super::built_in().unwrap();
        assert!(ts.iter().all(|t| !t.is_multi_party()));
        let fx = &super::optional().unwrap()[0];
        assert_eq!(fx.slug, "dvp-fx");
        assert!(fx.is_multi_party() && !fx.single_chain && !fx.allow_same_platform);
        let loaded = super::Templates::load(&["dvp-fx".into()]).unwrap();
        assert_eq!(loaded.all().len(), 5);
        assert!(super::Templates::load(&["nope".into()]).is_err());
        // Per (leg type), as many delivering as receiving legs across the roles.
        let mut balance = std::collections::BTreeMap::new();
        for r in [Role::Seller, Role::Buyer, Role::FxProvider] {
            for l in fx.legs_of(r).unwrap() {
                let d = if l.direction == Direction::Deliver {
                    1
                } else {
                    -1
                };
                *balance.entry(l.leg_type.as_str()).or_insert(0) += d;
            }
        }
        assert_eq!(balance.values().copied().collect::<Vec<i32>>(), [0, 0]);
        assert_eq!(fx.legs_of(Role::FxProvider).unwrap().len(), 2);
        assert_eq!(
            fx.legs_of(Role::Seller).unwrap()[0].leg_type,
            LegType::AssetDelivery
        );
    }

    #[test]
    fn role_legs_must_name_every_role_of_a_multi_role_template() {
        let text = include_str!("../templates/dvp-fx.json");
        let mut t: super::Template = serde_json::from_str(text).unwrap();
        assert!(super::check_roles(&t).is_ok());
        t.role_legs.pop();
        assert!(super::check_roles(&t).is_err());
        t.role_legs.clear();
        t.required_roles.truncate(2);
        assert!(super::check_roles(&t).is_ok());
        t.required_roles.truncate(1);
        assert!(super::check_roles(&t).is_err());
    }
}

//! The context the lifecycle's automatic steps run with.

use super::machine::AfterCommit;
use crate::compliance::ScreeningProvider;
use crate::templates::Templates;
use crate::terms::Escrows;
use alloy::signers::local::PrivateKeySigner;
use lockstep_core::{Db, SettlementRegistrar, TransferEligibility};
use std::sync::Arc;

/// What the lifecycle's automatic steps use: storage and the post-commit hook, the
/// templates (which providers run), the screening providers, the attester key and escrow
/// deployments (terms and attestations), and the chain side's registrar when there is one.
#[derive(Clone)]
pub struct Lifecycle {
    /// Storage.
    pub db: Db,
    /// Metric and wake-ups after each commit.
    pub hook: AfterCommit,
    /// Settlement templates.
    pub templates: Arc<Templates>,
    /// Configured screening providers.
    pub providers: Vec<Arc<dyn ScreeningProvider>>,
    /// Signs registration attestations.
    pub attester: PrivateKeySigner,
    /// The escrow per chain.
    pub escrows: Arc<Escrows>,
    /// The chain side, when configured.
    pub registrar: Option<Arc<dyn SettlementRegistrar>>,
    /// Checks the legs' transfers against permissioned tokens before clearing (R6); none
    /// configured = no check.
    pub eligibility: Option<Arc<dyn TransferEligibility>>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("db", &self.db)
            .field("attester", &self.attester.address())
            .field("registrar", &self.registrar.is_some())
            .field("eligibility", &self.eligibility.is_some())
            .finish_non_exhaustive()
    }
}

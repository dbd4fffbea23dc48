//! The port through which the coordinator's API re-checks an evidence bundle's receipt
//! anchors against the chains (the dashboard's "verify" button): the chain side implements
//! it with its configured RPC endpoints; without a chain side only the offline check runs.

use async_trait::async_trait;
use serde_json::Value;

/// Why a bundle did not verify against the chains.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AnchorCheckFailed(pub String);

/// Re-checks a bundle against the chains its anchors name.
#[async_trait]
pub trait BundleAnchors: Send + Sync + 'static {
    /// Verifies `bundle` (content and every anchor: receipt, block hash on the canonical
    /// chain, escrow, event, settlement id); the one-line summary when it passes.
    async fn verify_on_chains(&self, bundle: &Value) -> Result<String, AnchorCheckFailed>;
}

//! The relayer key's balance on the keeper's chain, read every [`BALANCE_EVERY`] and
//! published against the chain's `min_relayer_balance_wei` (an empty balance stalls every
//! delivery to that chain until it is refilled; the packets wait, they are never dropped).

use super::{Keeper, KeeperState};
use crate::client::rpc;
use crate::error::Result;
use alloy::providers::Provider;
use std::time::{Duration, Instant};

/// How often the balance is read.
pub const BALANCE_EVERY: Duration = Duration::from_secs(10);

impl Keeper {
    /// Reads and publishes the relayer key's balance on this keeper's chain when due.
    pub(super) async fn balance(&self, st: &mut KeeperState) -> Result<()> {
        let Some(chain) = self.scope.and_then(|eid| self.chains.by_eid(eid)) else {
            return Ok(());
        };
        if st.balance_after.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        st.balance_after = Some(Instant::now() + BALANCE_EVERY);
        let from = chain.sender.from();
        let wei = chain
            .provider
            .get_balance(from)
            .await
            .map_err(|e| rpc(chain.chain_id(), "eth_getBalance", e))?;
        let wei = u128::try_from(wei).unwrap_or(u128::MAX);
        let min = chain.config.min_relayer_balance_wei.map(u128::from);
        if min.is_some_and(|m| wei < m) {
            tracing::warn!(chain_id = chain.chain_id(), relayer = %from, balance_wei = wei, min_wei = ?min, "relayer balance below the configured minimum");
        }
        self.metrics.set_relayer_balance(chain.chain_id(), wei, min);
        Ok(())
    }
}

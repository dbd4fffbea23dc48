//! The receive library's ULN config of a path, read once per [`ULN_CONFIG_TTL`] instead of
//! on every delivery pass: a packet waiting for its DVN quorum is looked at every
//! `poll_interval_ms`, and each look needs the config (which DVNs, how many confirmations).
//!
//! A config re-wired within the TTL cannot make the relayer deliver what the new config
//! forbids: the receive library checks the quorum on chain in the same transaction
//! (`commitVerification` / `RelayerDvn.verifyAndDeliver` revert), and the next read after
//! the TTL sees the new config.

use crate::client::{ChainClient, rpc};
use crate::lz::delivery::PassError;
use alloy::primitives::Address;
use lockstep_bindings::IReceiveUlnQuorum::{self, UlnConfig};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a read ULN config is used before it is read again.
pub const ULN_CONFIG_TTL: Duration = Duration::from_secs(10);

/// Recently read ULN configs of one chain's receive library, by (receiver, source eid).
#[derive(Debug, Default)]
pub struct UlnConfigs(Mutex<HashMap<(Address, u32), (Instant, UlnConfig)>>);

impl UlnConfigs {
    /// The effective ULN config of `receiver`'s path from `src_eid` on `dst` (cached).
    pub async fn get(
        &self,
        dst: &ChainClient,
        receiver: Address,
        src_eid: u32,
    ) -> Result<UlnConfig, PassError> {
        let key = (receiver, src_eid);
        if let Some((at, c)) = self.0.lock().ok().and_then(|m| m.get(&key).cloned())
            && at.elapsed() < ULN_CONFIG_TTL
        {
            return Ok(c);
        }
        let uln = IReceiveUlnQuorum::new(dst.receive_lib()?, dst.provider.clone());
        let config = uln
            .getUlnConfig(receiver, src_eid)
            .call()
            .await
            .map_err(|e| rpc(dst.chain_id(), "getUlnConfig", e))?;
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, (Instant::now(), config.clone()));
        }
        Ok(config)
    }
}

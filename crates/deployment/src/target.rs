//! What the check expects of one chain, taken from its `[[chains]]` table.

use alloy::primitives::Address;
use lockstep_chain::ChainConfig;
use std::time::Duration;

/// One configured chain with every address the check compares against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// EVM chain id.
    pub chain_id: u64,
    /// LayerZero endpoint id.
    pub eid: u32,
    /// JSON-RPC URL (`--rpc` or the configuration's `rpc_url`).
    pub rpc_url: String,
    /// Per-request timeout.
    pub rpc_timeout: Duration,
    /// The escrow.
    pub escrow: Address,
    /// The EndpointV2.
    pub endpoint: Address,
    /// The SendUln302 the escrow must send through.
    pub send_lib: Address,
    /// The ReceiveUln302 the escrow must receive through.
    pub receive_lib: Address,
    /// The timelock that must own the escrow and be its delegate.
    pub timelock: Address,
    /// The independent verifier's DVN, required on every receive path.
    pub verifier_dvn: Address,
    /// The coordinator's `RelayerDvn`, when the chain configures one (and `dvn` is on):
    /// required on every receive path too, next to the verifier.
    pub relayer_dvn: Option<Address>,
}

/// A `[[chains]]` table lacks what the check needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// No `--rpc CHAIN=URL` and no `rpc_url`.
    #[error("no RPC URL: pass --rpc {0}=URL or set rpc_url")]
    NoRpc(u64),
    /// Keys the check compares against are not set.
    #[error("[[chains]] lacks {}", .0.join(", "))]
    Missing(Vec<&'static str>),
}

impl Target {
    /// The target of `chain`, reached at `rpc` when given, else at its `rpc_url`.
    pub fn from_config(chain: &ChainConfig, rpc: Option<&str>) -> Result<Target, TargetError> {
        let rpc_url = rpc
            .map(str::to_string)
            .or_else(|| chain.rpc_url.clone())
            .ok_or(TargetError::NoRpc(chain.chain_id))?;
        let mut missing = Vec::new();
        let mut need = |key: &'static str, v: Option<Address>| {
            if v.is_none() {
                missing.push(key);
            }
            v.unwrap_or_default()
        };
        let target = Target {
            chain_id: chain.chain_id,
            eid: chain.eid,
            rpc_url,
            rpc_timeout: Duration::from_millis(chain.rpc_timeout_ms.max(1)),
            escrow: chain.escrow,
            endpoint: need("endpoint", chain.endpoint),
            send_lib: need("send_lib", chain.send_lib),
            receive_lib: need("receive_lib", chain.receive_lib),
            timelock: need("timelock", chain.timelock),
            verifier_dvn: need("verifier_dvn", chain.verifier_dvn),
            relayer_dvn: chain.relayer_dvn.filter(|_| chain.dvn),
        };
        if missing.is_empty() {
            Ok(target)
        } else {
            Err(TargetError::Missing(missing))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_missing_key_is_named_and_the_rpc_flag_wins() {
        let mut c = ChainConfig::new(31337, 40101, Address::repeat_byte(1));
        assert_eq!(
            Target::from_config(&c, None).unwrap_err(),
            TargetError::NoRpc(31337)
        );
        c.rpc_url = Some("http://127.0.0.1:1".into());
        c.endpoint = Some(Address::repeat_byte(2));
        assert_eq!(
            Target::from_config(&c, None).unwrap_err(),
            TargetError::Missing(vec!["send_lib", "receive_lib", "timelock", "verifier_dvn"])
        );
        c.send_lib = Some(Address::repeat_byte(3));
        c.receive_lib = Some(Address::repeat_byte(4));
        c.timelock = Some(Address::repeat_byte(5));
        c.verifier_dvn = Some(Address::repeat_byte(6));
        let t = Target::from_config(&c, Some("http://127.0.0.1:2")).unwrap();
        assert_eq!(t.rpc_url, "http://127.0.0.1:2");
        assert_eq!(
            (t.timelock, t.verifier_dvn),
            (Address::repeat_byte(5), Address::repeat_byte(6))
        );
    }
}

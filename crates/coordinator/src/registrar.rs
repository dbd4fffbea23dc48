//! The seam to the chain side: after a settlement reaches `COMPLIANCE_CLEARED`, the
//! settlement worker hands it to the configured [`SettlementRegistrar`] once (recorded in
//! `settlements.registrar_notified_at`). The chain side submits `register(terms,
//! signature)` on every escrow and later drives `AWAITING_DEPOSITS` and the following
//! states from the escrows' events through [`crate::settlements::apply_transition`].
//! With no registrar configured, cleared settlements wait in `COMPLIANCE_CLEARED`.

use crate::terms::{Attestation, Terms};
use alloy::primitives::B256;
use std::future::Future;
use std::pin::Pin;

/// A settlement ready for on-chain registration.
#[derive(Debug, Clone)]
pub struct ClearedSettlement {
    /// The coordinator's settlement id (`stl_...`).
    pub id: String,
    /// The trade reference (`settlementId = keccak256(trade_reference)`).
    pub trade_reference: String,
    /// The terms every escrow registers.
    pub terms: Terms,
    /// `keccak256(abi.encode(terms))`.
    pub terms_hash: B256,
    /// One signed registration per chain.
    pub attestations: Vec<Attestation>,
}

/// Registers cleared settlements on chain. Implemented by the chain side.
pub trait SettlementRegistrar: Send + Sync + 'static {
    /// Starts registration. An `Err` is logged and retried by the settlement worker.
    fn register<'a>(
        &'a self,
        settlement: &'a ClearedSettlement,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

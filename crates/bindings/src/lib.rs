//! alloy bindings for Lockstep's contracts, generated at build time from the forge
//! artifacts in `out/` (see `build.rs`): the escrow's interface ([`ISettlementEscrow`]:
//! calls, events, custom errors, `Terms`/`Leg`), the LayerZero v2 calls the relayer makes ([`ILocalEndpoint`],
//! [`ILocalReceiveUln`], [`ILayerZeroEndpointV2`] for `PacketSent` and the inbound views)
//! the coordinator's DVN and executor contract ([`RelayerDvn`]) and the local demo token
//! ([`DemoToken`]).
//!
//! Reverts are decoded into the interface's typed errors with [`decode_revert`]; the
//! LayerZero errors of the relay steps with [`lz::decode_lz_revert`]. [`escrow_state`] holds
//! the escrow's per-chain state values (`settlementOf(id).state`).

#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

include!(concat!(env!("OUT_DIR"), "/contracts.rs"));

pub mod escrow_state;
pub mod lz;
mod revert;

pub use lz::{IReceiveUlnQuorum, LzRevert, decode_lz_revert};
pub use revert::{EscrowRevert, decode_revert, decode_revert_data};

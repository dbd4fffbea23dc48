//! The LayerZero v2 relayer: the receive-side DVN and executor of the escrows' paths.
//!
//! - [`codec`]: the packet codec (one header parser, shared with the indexer) and the
//!   executor options;
//! - [`delivery`]: one delivery pass of one packet (verify, commit, `lzReceive`), reading
//!   the destination's state before each step;
//! - [`relayer`]: the loop: queue the stored `PacketSent` logs as `lz_packets` rows, deliver
//!   the due ones in nonce order per path, record every pass with its typed status, retry
//!   with [`relayer::RELAY_BACKOFF`] and give up after [`relayer::MAX_ATTEMPTS`].
//!
//! The timeout and resend keeper is [`crate::keeper`].

pub mod codec;
pub mod delivery;
pub mod relayer;

pub use codec::{HEADER_LEN, PACKET_VERSION, Packet, PacketError, PacketHeader, lz_receive_value};
pub use delivery::DeliveryState;
pub use relayer::{MAX_ATTEMPTS, RELAY_BACKOFF, Relayer};

use crate::error::ChainError;
use lockstep_bindings::EscrowRevert;

/// The text recorded for a failed step: a LayerZero revert (decoded by selector, see
/// `lockstep_bindings::lz`) is named; anything else is the error's own message.
pub fn error_text(e: &ChainError) -> String {
    if let ChainError::Reverted {
        chain_id,
        what,
        revert: EscrowRevert::Other(data),
    } = e
        && let Some(lz) = lockstep_bindings::decode_lz_revert(data)
    {
        return format!("chain {chain_id}: {what} reverted: {lz:?}");
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_layerzero_reverts() {
        use alloy::sol_types::SolError;
        use lockstep_bindings::lz::LzErrors;
        let data = LzErrors::LZ_InvalidNonce { nonce: 3 }.abi_encode();
        let e = ChainError::Reverted {
            chain_id: 7,
            what: "lzReceive".into(),
            revert: lockstep_bindings::decode_revert_data(&data),
        };
        let text = error_text(&e);
        assert!(text.contains("LZ_InvalidNonce"), "{text}");
        assert!(text.contains("lzReceive"), "{text}");
        let other = ChainError::Config("x".into());
        assert_eq!(error_text(&other), other.to_string());
    }
}

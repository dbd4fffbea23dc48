//! Typed decoding of escrow reverts.

use crate::ISettlementEscrow::ISettlementEscrowErrors;
use alloy::sol_types::SolInterface;
use alloy::transports::{RpcError, TransportErrorKind};

/// A revert of an escrow call, decoded when its data is one of the interface's errors.
#[derive(Debug, thiserror::Error)]
pub enum EscrowRevert {
    /// One of `ISettlementEscrow`'s custom errors.
    #[error("escrow reverted: {0:?}")]
    Escrow(ISettlementEscrowErrors),
    /// Revert data that is not an escrow error (e.g. an ERC-20 or OpenZeppelin error).
    #[error("reverted with undecoded data 0x{}", alloy::hex::encode(.0))]
    Other(alloy::primitives::Bytes),
}

/// Decodes raw revert data into the escrow's typed errors.
pub fn decode_revert_data(data: &[u8]) -> EscrowRevert {
    match ISettlementEscrowErrors::abi_decode(data) {
        Ok(e) => EscrowRevert::Escrow(e),
        Err(_) => EscrowRevert::Other(alloy::primitives::Bytes::copy_from_slice(data)),
    }
}

/// The typed revert inside an RPC error (from `eth_call` or `eth_estimateGas`), if the
/// node returned revert data.
pub fn decode_revert(err: &RpcError<TransportErrorKind>) -> Option<EscrowRevert> {
    let payload = err.as_error_resp()?;
    let data = payload.as_revert_data()?;
    Some(decode_revert_data(&data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ISettlementEscrow;
    use alloy::primitives::B256;
    use alloy::sol_types::{SolCall, SolError};

    #[test]
    fn decodes_a_typed_escrow_error() {
        let id = B256::repeat_byte(7);
        let data = ISettlementEscrow::EscrowAwaitingHub { settlementId: id }.abi_encode();
        match decode_revert_data(&data) {
            EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowAwaitingHub(e)) => {
                assert_eq!(e.settlementId, id)
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode_revert_data(&[0xde, 0xad, 0xbe, 0xef]),
            EscrowRevert::Other(_)
        ));
    }

    #[test]
    fn bindings_match_the_deployed_selectors() {
        // The escrow's v2 deposit selector as the coordinator's calldata builder uses it: the
        // leg's `depositKey` is an address and the authorisation a signature (no secret).
        assert_eq!(
            ISettlementEscrow::depositCall::SIGNATURE,
            "deposit((bytes32,uint32,uint64,bytes32,(uint32,address,uint256,address,address,address)[]),uint256,bytes)"
        );
    }
}

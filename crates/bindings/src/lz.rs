//! The LayerZero v2 errors a relay step (`ReceiveUln302.verify`, `commitVerification`,
//! `EndpointV2.lzReceive`) can revert with: EndpointV2's `Errors`, ReceiveUlnBase's and
//! OAppReceiver's. [`decode_lz_revert`] turns revert data into one of them by selector, so
//! the relayer can name the failure without looking at error strings.

use alloy::sol_types::SolInterface;

alloy::sol! {
    /// The LayerZero errors a delivery step can revert with.
    #[derive(Debug, PartialEq, Eq)]
    interface LzErrors {
        error LZ_InvalidReceiveLibrary();
        error LZ_InvalidNonce(uint64 nonce);
        error LZ_Unauthorized();
        error LZ_PathNotInitializable();
        error LZ_PathNotVerifiable();
        error LZ_InvalidPayloadHash();
        error LZ_PayloadHashNotFound(bytes32 expected, bytes32 actual);
        error LZ_ULN_Verifying();
        error LZ_ULN_InvalidPacketHeader();
        error LZ_ULN_InvalidPacketVersion();
        error LZ_ULN_InvalidEid();
        error LZ_ULN_InvalidConfigType(uint32 configType);
        error OnlyEndpoint(address addr);
        error OnlyPeer(uint32 eid, bytes32 sender);
        error NoPeer(uint32 eid);
    }
}

alloy::sol! {
    /// ReceiveUln302's views of a path's DVN quorum (`UlnBase.getUlnConfig`,
    /// `ReceiveUlnBase.verifiable`): the executor commits only once `verifiable` holds, and the
    /// verifier and the deployment checks read the effective config.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface IReceiveUlnQuorum {
        struct UlnConfig {
            uint64 confirmations;
            uint8 requiredDVNCount;
            uint8 optionalDVNCount;
            uint8 optionalDVNThreshold;
            address[] requiredDVNs;
            address[] optionalDVNs;
        }
        function getUlnConfig(address oapp, uint32 remoteEid) external view returns (UlnConfig memory config);
        function verifiable(UlnConfig memory config, bytes32 headerHash, bytes32 payloadHash) external view returns (bool);
    }
}

/// A decoded LayerZero revert.
pub type LzRevert = LzErrors::LzErrorsErrors;

/// The LayerZero error in `data`, if its selector is one of [`LzErrors`]'.
pub fn decode_lz_revert(data: &[u8]) -> Option<LzRevert> {
    LzRevert::abi_decode(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;

    #[test]
    fn decodes_layerzero_errors_by_selector() {
        let data = LzErrors::LZ_InvalidNonce { nonce: 3 }.abi_encode();
        assert_eq!(
            decode_lz_revert(&data),
            Some(LzRevert::LZ_InvalidNonce(LzErrors::LZ_InvalidNonce {
                nonce: 3
            }))
        );
        assert_eq!(decode_lz_revert(&[0xde, 0xad, 0xbe, 0xef]), None);
        assert_eq!(decode_lz_revert(&[]), None);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Terms} from "../ISettlementEscrow.sol";

/// @title SettlementMsgCodec
/// @notice Encoding of the messages escrows exchange over LayerZero:
/// `kind (1 byte) ‖ abi.encode(terms)`. Carrying the full terms lets the receiver check them against
/// its stored `termsHash` (`keccak256` of exactly those bytes) and pay or refund its legs on receipt,
/// without storing legs at registration and without a second transaction.
library SettlementMsgCodec {
    /// @notice Spoke -> hub: every leg on the sending chain is deposited.
    uint8 internal constant LOCKED = 1;
    /// @notice Hub -> spoke: the settlement executed; pay the legs.
    uint8 internal constant RELEASE = 2;
    /// @notice Hub -> spoke: the settlement aborted; refund the deposits.
    uint8 internal constant ABORT = 3;

    /// @notice The message is shorter than a kind byte and one ABI word.
    error SettlementMsgCodecMalformed(uint256 length);

    /// @notice Encodes a message from a kind and the ABI encoding of the terms.
    /// @param msgKind LOCKED, RELEASE or ABORT.
    /// @param termsAbi `abi.encode(terms)`.
    function encode(uint8 msgKind, bytes memory termsAbi) internal pure returns (bytes memory) {
        return abi.encodePacked(msgKind, termsAbi);
    }

    /// @notice The message kind.
    function kind(bytes calldata message) internal pure returns (uint8) {
        if (message.length < 33) revert SettlementMsgCodecMalformed(message.length);
        return uint8(message[0]);
    }

    /// @notice The encoded terms carried by the message (hash them to compare with `termsHash`).
    function encodedTerms(bytes calldata message) internal pure returns (bytes calldata) {
        return message[1:];
    }

    /// @notice Decodes the terms carried by the message.
    function terms(bytes calldata message) internal pure returns (Terms memory) {
        return abi.decode(message[1:], (Terms));
    }
}

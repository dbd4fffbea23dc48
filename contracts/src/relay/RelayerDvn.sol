// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Origin} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";
import {ILocalEndpoint, ILocalReceiveUln} from "../local/ILzStack.sol";

/// @title RelayerDvn
/// @notice The coordinator's DVN identity and executor on one chain. Its address (not the relayer's key) is
/// the DVN the escrows' receive configurations require next to the independent verifier, so the relayer's
/// last verification, the commit and the delivery of a packet fit in one transaction (`verifyAndDeliver`)
/// instead of three. It holds no funds and has no other power: only `operator` (the relayer's key) can
/// verify as this DVN; committing and delivering are permissionless on LayerZero, so `deliver` is too.
/// @dev Verifying is all the operator can do here, and one DVN's verification alone never commits a
/// packet while the receive path requires two DVNs (R5 of the security design).
contract RelayerDvn {
    /// @notice What the relayer delivers: the packet header, its payload hash and the `lzReceive` arguments.
    struct Delivery {
        bytes header;
        bytes32 payloadHash;
        Origin origin;
        address receiver;
        bytes32 guid;
        bytes message;
    }

    /// @notice The key allowed to verify as this DVN (the coordinator's relayer key).
    address public immutable operator;
    /// @notice This chain's EndpointV2.
    ILocalEndpoint public immutable endpoint;

    /// @notice Only the operator verifies as this DVN.
    error RelayerDvnNotOperator(address caller);
    /// @notice A constructor argument is the zero address.
    error RelayerDvnZeroAddress();

    /// @param endpoint_ This chain's EndpointV2.
    /// @param operator_ The relayer's key.
    constructor(address endpoint_, address operator_) {
        if (endpoint_ == address(0) || operator_ == address(0)) revert RelayerDvnZeroAddress();
        endpoint = ILocalEndpoint(endpoint_);
        operator = operator_;
    }

    modifier onlyOperator() {
        if (msg.sender != operator) revert RelayerDvnNotOperator(msg.sender);
        _;
    }

    /// @notice Verifies a packet as this DVN, without committing it (the other required DVNs have not
    /// verified it yet, or an earlier nonce of its path is not delivered).
    /// @param receiveLib The destination's ReceiveUln302.
    /// @param header The packet header.
    /// @param payloadHash `keccak256(guid ++ message)`.
    /// @param confirmations The source-chain confirmations this DVN waited for.
    function verify(address receiveLib, bytes calldata header, bytes32 payloadHash, uint64 confirmations)
        external
        onlyOperator
    {
        ILocalReceiveUln(receiveLib).verify(header, payloadHash, confirmations);
    }

    /// @notice Verifies as this DVN, commits and delivers, in one transaction. Reverts as a whole (nothing
    /// verified) when the other required DVNs have not verified yet (`LZ_ULN_Verifying`) or the receiver
    /// reverts; `msg.value` is forwarded to `lzReceive`.
    /// @param receiveLib The destination's ReceiveUln302.
    /// @param confirmations The source-chain confirmations this DVN waited for.
    /// @param d The packet and its delivery.
    function verifyAndDeliver(address receiveLib, uint64 confirmations, Delivery calldata d)
        external
        payable
        onlyOperator
    {
        ILocalReceiveUln(receiveLib).verify(d.header, d.payloadHash, confirmations);
        _deliver(receiveLib, d);
    }

    /// @notice Commits a packet the DVN quorum verified and delivers it, in one transaction. Anyone may
    /// call it: both steps are permissionless on LayerZero.
    /// @param receiveLib The destination's ReceiveUln302.
    /// @param d The packet and its delivery.
    function deliver(address receiveLib, Delivery calldata d) external payable {
        _deliver(receiveLib, d);
    }

    function _deliver(address receiveLib, Delivery calldata d) private {
        ILocalReceiveUln(receiveLib).commitVerification(d.header, d.payloadHash);
        endpoint.lzReceive{value: msg.value}(d.origin, d.receiver, d.guid, d.message, "");
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {ILayerZeroEndpointV2} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ISettlementEscrow, Leg} from "../ISettlementEscrow.sol";

/// @title EscrowStorage
/// @notice The escrow's state: per-settlement slots, buffers of messages heard before registration, the
/// sender of deposit-key legs and the amounts owed; plus the bitmap helpers every part uses.
/// @dev Storage per settlement is two slots: the `termsHash` and a packed word (state, flags, bitmap of
/// local legs held, bitmap of remote legs reported locked), plus the sender of deposit-key legs.
abstract contract EscrowStorage is ISettlementEscrow, ReentrancyGuardTransient {
    /// @notice Legs are tracked in 32-bit bitmaps.
    uint256 public constant MAX_LEGS = 32;
    /// @inheritdoc ISettlementEscrow
    uint256 public constant TRANSFER_GAS = 100_000;

    /// @dev Set on an unregistered spoke that received ABORT for the buffered `termsHash`.
    uint8 internal constant _FLAG_EARLY_ABORT = 1;

    /// @dev Per-settlement storage: slot 0 the terms hash, slot 1 the packed rest. The sender of the first
    /// deposit-key leg deposited on this chain lives in slot 1 too (`keyLeg` = its index + 1), which saves a
    /// fresh storage slot in the common case of one such leg per chain; further ones use `_keyDepositors`.
    struct Settlement {
        bytes32 termsHash;
        State state;
        uint8 flags;
        uint32 depositedMask;
        uint32 lockedMask;
        uint8 keyLeg;
        address keyDepositor;
    }

    /// @inheritdoc ISettlementEscrow
    uint32 public immutable localEid;
    /// @inheritdoc ISettlementEscrow
    uint256 public immutable maxSettlementDuration;
    /// @inheritdoc ISettlementEscrow
    address public attester;
    /// @inheritdoc ISettlementEscrow
    mapping(address token => mapping(address beneficiary => uint256)) public owed;

    mapping(bytes32 settlementId => Settlement) internal _settlements;
    mapping(bytes32 settlementId => mapping(uint256 legIndex => address)) internal _keyDepositors;
    /// @dev Messages buffered while the id is unregistered here, for every term set but the first one heard
    /// (that one is buffered in the settlement's own slot): only `flags` and `lockedMask` are used.
    mapping(bytes32 settlementId => mapping(bytes32 termsHash => Settlement)) internal _buffers;

    /// @param endpoint_ This chain's LayerZero EndpointV2 (its eid becomes `localEid`).
    /// @param attester_ The key whose EIP-712 signatures register settlements.
    /// @param maxSettlementDuration_ Longest `timeoutAt - block.timestamp` accepted at registration.
    constructor(address endpoint_, address attester_, uint256 maxSettlementDuration_) {
        if (attester_ == address(0)) revert EscrowZeroAddress();
        if (maxSettlementDuration_ == 0) revert EscrowZeroDuration();
        localEid = ILayerZeroEndpointV2(endpoint_).eid();
        maxSettlementDuration = maxSettlementDuration_;
        attester = attester_;
        emit AttesterSet(address(0), attester_);
    }

    /// @dev Where messages for `termsHash` are buffered while `id` is unregistered here: the settlement's
    /// own slot if it is empty or holds that set (the common case costs no extra storage read), else a
    /// slot of that set's own in `_buffers`.
    function _bufferOf(Settlement storage s, bytes32 id, bytes32 termsHash) internal view returns (Settlement storage) {
        bytes32 first = s.termsHash;
        return first == bytes32(0) || first == termsHash ? s : _buffers[id][termsHash];
    }

    /// @dev `_bufferOf`, taking the settlement's own slot for `termsHash` if it is still empty.
    function _claimBuffer(Settlement storage s, bytes32 id, bytes32 termsHash) internal returns (Settlement storage b) {
        b = _bufferOf(s, id, termsHash);
        if (s.termsHash == bytes32(0)) s.termsHash = termsHash;
    }

    function _localMask(Leg[] calldata legs) internal view returns (uint32 mask) {
        uint256 n = legs.length;
        for (uint256 i; i < n; ++i) {
            if (legs[i].eid == localEid) mask |= uint32(1 << i);
        }
    }

    function _eidMask(Leg[] memory legs, uint32 eid) internal pure returns (uint32 mask) {
        uint256 n = legs.length;
        for (uint256 i; i < n; ++i) {
            if (legs[i].eid == eid) mask |= uint32(1 << i);
        }
    }

    function _allMask(uint256 n) internal pure returns (uint32) {
        return uint32((uint256(1) << n) - 1);
    }
}

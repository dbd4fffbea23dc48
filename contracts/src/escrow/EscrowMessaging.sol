// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {OApp, MessagingFee, MessagingReceipt} from "@layerzerolabs/oapp-evm/contracts/oapp/OApp.sol";
import {MessagingParams} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";
import {OAppOptionsType3} from "@layerzerolabs/oapp-evm/contracts/oapp/libs/OAppOptionsType3.sol";

import {Terms, Leg} from "../ISettlementEscrow.sol";
import {SettlementMsgCodec} from "../libs/SettlementMsgCodec.sol";
import {EscrowStorage} from "./EscrowStorage.sol";

/// @title EscrowMessaging
/// @notice The send side of the escrow's LayerZero messaging (R3): every message goes out per destination,
/// quoted and sent under try/catch, and is deferred (`MessageDeferred`, `resend` later) instead of ever
/// reverting the deposit, execution, refund or delivery that triggered it.
abstract contract EscrowMessaging is EscrowStorage, OApp, OAppOptionsType3 {
    /// @notice Executor gas for `lzReceive` (no enforced options): this base plus `RECEIVE_GAS_PER_LEG`
    /// per leg on the destination chain, plus `RECEIVE_GAS_PER_SPOKE` per spoke for LOCKED (the hub may
    /// execute and send RELEASE to every spoke).
    uint128 public constant RECEIVE_BASE_GAS = 200_000;
    /// @notice See `RECEIVE_BASE_GAS`: covers one bounded leg transfer and its bookkeeping.
    uint128 public constant RECEIVE_GAS_PER_LEG = 130_000;
    /// @notice See `RECEIVE_BASE_GAS`: covers one RELEASE send from the hub.
    uint128 public constant RECEIVE_GAS_PER_SPOKE = 200_000;

    /// @dev Sends `kind` to every distinct remote eid of the legs, each on its own: a destination whose
    /// quote fails, whose fee the rest of `budget` does not cover or whose send fails is deferred
    /// (`MessageDeferred`; anyone can `resend`). Never reverts. Returns the fee spent.
    function _broadcast(Terms memory t, bytes memory encoded, uint8 kind, uint256 budget, address refundTo)
        internal
        returns (uint256 spent)
    {
        uint32[] memory dsts = _spokes(t.legs);
        uint256 count = dsts.length;
        for (uint256 j; j < count; ++j) {
            spent += _sendOrDefer(t, dsts[j], kind, encoded, budget - spent, refundTo);
        }
    }

    /// @dev The distinct eids of the legs other than this chain's, in first-appearance order.
    function _spokes(Leg[] memory legs) internal view returns (uint32[] memory dsts) {
        uint256 n = legs.length;
        dsts = new uint32[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            uint32 eid = legs[i].eid;
            if (eid == localEid || _seenBefore(legs, i, eid)) continue;
            dsts[count++] = eid;
        }
        assembly ("memory-safe") {
            mstore(dsts, count)
        }
    }

    /// @dev Quotes and sends one message if `budget` covers its fee; on any failure emits `MessageDeferred`
    /// instead. Never reverts. Returns the fee spent.
    function _sendOrDefer(
        Terms memory t,
        uint32 dstEid,
        uint8 kind,
        bytes memory encoded,
        uint256 budget,
        address refundTo
    ) internal returns (uint256) {
        bytes32 peer = peers[dstEid];
        bytes memory options = _options(t.legs, dstEid, kind);
        MessagingParams memory params =
            MessagingParams(dstEid, peer, SettlementMsgCodec.encode(kind, encoded), options, false);
        (bool quoted, uint256 fee) = _tryQuote(params);
        if (quoted && fee <= budget) {
            try endpoint.send{value: fee}(params, refundTo) returns (MessagingReceipt memory receipt) {
                emit MessageSent(t.settlementId, kind, dstEid, receipt.guid, fee);
                return fee;
            } catch {}
        }
        emit MessageDeferred(t.settlementId, kind, dstEid, fee, budget);
        return 0;
    }

    /// @dev The endpoint's native fee for `params`; (false, 0) without a peer or when the quote reverts.
    function _tryQuote(MessagingParams memory params) internal view returns (bool, uint256) {
        if (params.receiver == bytes32(0)) return (false, 0);
        try endpoint.quote(params, address(this)) returns (MessagingFee memory fee) {
            return (true, fee.nativeFee);
        } catch {
            return (false, 0);
        }
    }

    function _quoteOne(Terms memory t, uint32 dstEid, uint8 kind, bytes memory encoded)
        internal
        view
        returns (uint256 fee)
    {
        (, fee) = _tryQuote(
            MessagingParams(
                dstEid, peers[dstEid], SettlementMsgCodec.encode(kind, encoded), _options(t.legs, dstEid, kind), false
            )
        );
    }

    function _quoteBroadcast(Terms memory t, uint8 kind, bytes memory encoded) internal view returns (uint256 total) {
        uint32[] memory dsts = _spokes(t.legs);
        for (uint256 j; j < dsts.length; ++j) {
            total += _quoteOne(t, dsts[j], kind, encoded);
        }
    }

    function _seenBefore(Leg[] memory legs, uint256 i, uint32 eid) internal pure returns (bool) {
        for (uint256 j; j < i; ++j) {
            if (legs[j].eid == eid) return true;
        }
        return false;
    }

    /// @dev Enforced options for (eid, kind) if the owner set them, else executor lzReceive gas sized for
    /// the destination: base + per leg there (+ per spoke for LOCKED, which may execute and broadcast).
    function _options(Leg[] memory legs, uint32 eid, uint8 kind) internal view returns (bytes memory options) {
        options = enforcedOptions[eid][kind];
        if (options.length == 0) {
            uint256 n = legs.length;
            uint256 gas = RECEIVE_BASE_GAS;
            for (uint256 i; i < n; ++i) {
                if (legs[i].eid == eid) {
                    gas += RECEIVE_GAS_PER_LEG;
                } else if (kind == SettlementMsgCodec.LOCKED && !_seenBefore(legs, i, legs[i].eid)) {
                    gas += RECEIVE_GAS_PER_SPOKE;
                }
            }
            // TYPE_3 ‖ worker 1 (executor) ‖ size 17 ‖ option 1 (lzReceive) ‖ uint128 gas
            options = abi.encodePacked(uint16(3), uint8(1), uint16(17), uint8(1), uint128(gas));
        }
    }

    function _returnExcess(uint256 spent) internal {
        uint256 excess = msg.value - spent;
        if (excess == 0) return;
        (bool ok,) = payable(msg.sender).call{value: excess}("");
        if (!ok) revert EscrowFeeRefundFailed(msg.sender, excess);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {ISettlementEscrow, Terms, Leg} from "../ISettlementEscrow.sol";
import {EscrowStorage} from "./EscrowStorage.sol";

/// @title EscrowPayouts
/// @notice Execution and refund of a settlement's local legs, each leg on its own with a bounded gas
/// allowance (R1): a transfer that fails is recorded as owed to its beneficiary, who `claim`s it later.
abstract contract EscrowPayouts is EscrowStorage {
    using SafeERC20 for IERC20;

    /// @dev Gas that must be left before a bounded transfer so the callee really gets `TRANSFER_GAS`
    /// (63/64 rule plus the call's own cost): a caller cannot starve a transfer into an "owed".
    uint256 private constant _MIN_GAS_PER_TRANSFER = TRANSFER_GAS + TRANSFER_GAS / 63 + 10_000;

    /// @inheritdoc ISettlementEscrow
    function claim(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert EscrowZeroAddress();
        amount = owed[token][msg.sender];
        if (amount == 0) revert EscrowNothingOwed(token, msg.sender);
        owed[token][msg.sender] = 0;
        emit Claimed(token, msg.sender, to, amount);
        if (token == address(0)) {
            (bool ok,) = payable(to).call{value: amount}("");
            if (!ok) revert EscrowFeeRefundFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// @dev Pays every local leg to its recipient, each on its own (a failed transfer becomes owed).
    function _execute(Settlement storage s, Terms memory t, bytes32 termsHash) internal {
        bytes32 id = t.settlementId;
        s.state = State.EXECUTED;
        s.depositedMask = 0;
        emit SettlementExecuted(id, termsHash, t.decisionRef);
        uint256 n = t.legs.length;
        for (uint256 i; i < n; ++i) {
            Leg memory leg = t.legs[i];
            if (leg.eid != localEid) continue;
            if (leg.depositor == address(0)) _takeKeyDepositor(s, id, i);
            if (_tryTransfer(leg.token, leg.recipient, leg.amount)) {
                emit LegReleased(id, i, leg.recipient, leg.token, leg.amount);
            } else {
                _credit(id, i, leg.recipient, leg.token, leg.amount, false);
            }
        }
    }

    /// @dev Returns every deposited local leg to its depositor, each on its own (a failed transfer becomes owed).
    function _refundAll(Settlement storage s, Terms memory t, bytes32 termsHash) internal {
        bytes32 id = t.settlementId;
        uint32 deposited = s.depositedMask;
        s.state = State.REFUNDED;
        s.depositedMask = 0;
        emit SettlementRefunded(id, termsHash);
        uint256 n = t.legs.length;
        for (uint256 i; i < n; ++i) {
            if (uint256(deposited) & (1 << i) == 0) continue;
            Leg memory leg = t.legs[i];
            address to = leg.depositor;
            if (to == address(0)) to = _takeKeyDepositor(s, id, i);
            if (_tryTransfer(leg.token, to, leg.amount)) {
                emit LegRefunded(id, i, to, leg.token, leg.amount);
            } else {
                _credit(id, i, to, leg.token, leg.amount, true);
            }
        }
    }

    function _credit(bytes32 id, uint256 legIndex, address beneficiary, address token, uint256 amount, bool isRefund)
        internal
    {
        owed[token][beneficiary] += amount;
        emit LegOwed(id, legIndex, beneficiary, token, amount, isRefund);
    }

    /// @dev `token.transfer(to, amount)` with at most `TRANSFER_GAS`, copying at most one word of return
    /// data. Success means: the call did not revert, and it returned `true` or (USDT style) nothing from
    /// an address with code. Reverts only if less gas is left than the allowance needs.
    function _tryTransfer(address token, address to, uint256 amount) internal returns (bool ok) {
        uint256 left = gasleft();
        if (left < _MIN_GAS_PER_TRANSFER) revert EscrowInsufficientGas(left, _MIN_GAS_PER_TRANSFER);
        bytes memory data = abi.encodeCall(IERC20.transfer, (to, amount));
        uint256 allowance = TRANSFER_GAS;
        assembly ("memory-safe") {
            mstore(0, 0)
            let success := call(allowance, token, 0, add(data, 0x20), mload(data), 0, 0x20)
            switch returndatasize()
            case 0 { ok := and(success, gt(extcodesize(token), 0)) }
            default { ok := and(success, and(gt(returndatasize(), 31), eq(mload(0), 1))) }
        }
    }

    /// @dev Reads and forgets the recorded sender of deposit-key leg `legIndex`.
    function _takeKeyDepositor(Settlement storage s, bytes32 id, uint256 legIndex) internal returns (address who) {
        if (s.keyLeg == legIndex + 1) {
            who = s.keyDepositor;
            s.keyLeg = 0;
            s.keyDepositor = address(0);
        } else {
            who = _keyDepositors[id][legIndex];
            delete _keyDepositors[id][legIndex];
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {ISettlementEscrow, Terms} from "../src/ISettlementEscrow.sol";
import {FeeOnTransferToken, ReentrantToken, FalseReturnToken, NoReturnToken} from "./mocks/HostileTokens.sol";

/// @notice Tokens that misbehave: fee-on-transfer, reentrant hooks, false returns, no return value (USDT).
contract HostileTokensTest is EscrowTestBase {
    bytes32 internal constant ID = keccak256("LS-HOSTILE-1");

    function _withCashToken(address token) internal returns (Terms memory t) {
        t = _singleChain(ID);
        t.legs[1].token = token;
        _register(escA, t);
    }

    function test_RevertWhen_DepositFeeOnTransfer() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        Terms memory t = _withCashToken(address(fot));
        fot.mint(buyer, CASH_AMOUNT);
        vm.prank(buyer);
        fot.approve(address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementEscrow.EscrowTransferAmountMismatch.selector,
                address(fot),
                CASH_AMOUNT,
                CASH_AMOUNT - CASH_AMOUNT / 100
            )
        );
        escA.deposit(t, 1, _sigOf(t, 1));
    }

    function test_RevertWhen_DepositFalseReturningToken() public {
        FalseReturnToken bad = new FalseReturnToken();
        Terms memory t = _withCashToken(address(bad));
        bad.mint(buyer, CASH_AMOUNT);
        vm.prank(buyer);
        bad.approve(address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(bad)));
        escA.deposit(t, 1, _sigOf(t, 1));
    }

    function test_NoReturnTokenSettles() public {
        NoReturnToken usdt = new NoReturnToken();
        Terms memory t = _withCashToken(address(usdt));
        usdt.mint(buyer, CASH_AMOUNT);
        vm.prank(buyer);
        usdt.approve(address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        escA.deposit(t, 1, _sigOf(t, 1));
        _deposit(t, 0);
        assertEq(usdt.balanceOf(sellerCash), CASH_AMOUNT);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
    }

    function test_NoReturnTokenRefunds() public {
        NoReturnToken usdt = new NoReturnToken();
        Terms memory t = _withCashToken(address(usdt));
        usdt.mint(buyer, CASH_AMOUNT);
        vm.prank(buyer);
        usdt.approve(address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        escA.deposit(t, 1, _sigOf(t, 1));
        vm.warp(t.timeoutAt);
        escA.refund(t);
        assertEq(usdt.balanceOf(buyer), CASH_AMOUNT);
    }

    /// @dev The token's hook re-enters deposit for the other leg while the first deposit pulls funds.
    function test_RevertWhen_ReentrantDeposit() public {
        ReentrantToken ree = new ReentrantToken();
        Terms memory t = _withCashToken(address(ree));
        ree.mint(buyer, CASH_AMOUNT);
        vm.prank(buyer);
        ree.approve(address(escA), CASH_AMOUNT);
        _fund(address(ree), address(asset), address(escA), ASSET_AMOUNT);
        t.legs[0].depositor = address(ree);
        // Re-register under a fresh id with the token itself as the asset depositor.
        t.settlementId = keccak256("LS-HOSTILE-2");
        _register(escA, t);
        ree.setHook(address(escA), abi.encodeCall(ISettlementEscrow.deposit, (t, 0, "")));
        vm.prank(buyer);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escA.deposit(t, 1, _sigOf(t, 1));
        assertEq(ree.balanceOf(address(escA)), 0);
    }

    /// @dev The hook re-enters refund while the escrow pays out: that one transfer fails (reentrancy guard),
    /// the settlement still executes, the other leg is paid and the hooked leg is owed to its recipient.
    function test_ReentrantPayoutBecomesOwed() public {
        ReentrantToken ree = new ReentrantToken();
        Terms memory t = _withCashToken(address(ree));
        ree.mint(buyer, CASH_AMOUNT);
        vm.prank(buyer);
        ree.approve(address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        escA.deposit(t, 1, _sigOf(t, 1));
        ree.setHook(address(escA), abi.encodeCall(ISettlementEscrow.refund, (t)));
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.prank(seller);
        escA.deposit(t, 0, "");
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.EXECUTED));
        assertEq(ree.balanceOf(address(escA)), CASH_AMOUNT);
        assertEq(escA.owed(address(ree), sellerCash), CASH_AMOUNT);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
        ree.setHook(address(0), "");
        vm.prank(sellerCash);
        escA.claim(address(ree), sellerCash);
        assertEq(ree.balanceOf(sellerCash), CASH_AMOUNT);
        assertEq(escA.owed(address(ree), sellerCash), 0);
    }
}

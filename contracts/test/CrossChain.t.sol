// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Origin} from "@layerzerolabs/oapp-evm/contracts/oapp/OApp.sol";
import {IOAppCore} from "@layerzerolabs/oapp-evm/contracts/oapp/interfaces/IOAppCore.sol";
import {OAppReceiver} from "@layerzerolabs/oapp-evm/contracts/oapp/OAppReceiver.sol";
import {EnforcedOptionParam} from "@layerzerolabs/oapp-evm/contracts/oapp/interfaces/IOAppOptionsType3.sol";
import {OptionsBuilder} from "@layerzerolabs/oapp-evm/contracts/oapp/libs/OptionsBuilder.sol";

import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {SettlementEscrow} from "../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms} from "../src/ISettlementEscrow.sol";
import {SettlementMsgCodec} from "../src/libs/SettlementMsgCodec.sol";

/// @notice Full hub/spoke flows over LayerZero's test endpoints and ULN (TestHelperOz5).
contract CrossChainTest is EscrowTestBase {
    using OptionsBuilder for bytes;

    bytes32 internal constant ID = keccak256("LS-CROSS-1");

    // ------------------------------------------------------------------ helpers

    function _assertState(SettlementEscrow esc, bytes32 id, ISettlementEscrow.State expected) internal view {
        assertEq(uint8(_stateOf(esc, id)), uint8(expected));
    }

    function _registerAll(Terms memory t) internal {
        _register(escA, t);
        _register(escB, t);
        if (t.legs.length > 2) _register(escC, t);
    }

    function _resend(SettlementEscrow esc, Terms memory t) internal {
        uint256 fee = esc.quoteResend(t);
        vm.deal(stranger, fee);
        vm.prank(stranger);
        esc.resend{value: fee}(t);
    }

    function _refund(SettlementEscrow esc, Terms memory t) internal {
        uint256 fee = esc.quoteRefund(t);
        vm.deal(stranger, fee);
        vm.prank(stranger);
        esc.refund{value: fee}(t);
    }

    /// @dev Delivers a message as the endpoint would, from the peer on `srcEid` (bypasses the ULN).
    function _inject(SettlementEscrow dst, uint32 srcEid, uint8 kind, Terms memory t) internal {
        vm.prank(address(dst.endpoint()));
        dst.lzReceive(
            Origin(srcEid, addressToBytes32(address(_escrowOf(srcEid))), 1),
            keccak256(abi.encode(kind, t, srcEid)),
            SettlementMsgCodec.encode(kind, abi.encode(t)),
            address(this),
            ""
        );
    }

    /// @dev The spoke's LOCKED carries executor value so the hub can pay for RELEASE/ABORT on receipt.
    function _enforceLockedValue(SettlementEscrow spoke, uint128 value) internal {
        EnforcedOptionParam[] memory params = new EnforcedOptionParam[](1);
        params[0] = EnforcedOptionParam(
            A, SettlementMsgCodec.LOCKED, OptionsBuilder.newOptions().addExecutorLzReceiveOption(1_000_000, value)
        );
        spoke.setEnforcedOptions(params);
    }

    // ------------------------------------------------------------------ execution

    /// @dev Spoke deposits first; the hub's deposit completes its legs but LOCKED is not delivered yet;
    /// LOCKED executes the hub on receipt; RELEASE (deferred for lack of executor value) is resent by anyone.
    function test_ExecuteSpokeFirst() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        assertGt(escB.quoteDeposit(t, 1), 0);
        _deposit(t, 1);
        _assertState(escB, ID, ISettlementEscrow.State.LOCKED);
        _deposit(t, 0);
        _assertState(escA, ID, ISettlementEscrow.State.LOCKED);
        _deliver(A);
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
        assertFalse(_pending(B)); // RELEASE deferred: the executor passed no value
        _resend(escA, t);
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
        assertEq(cash.balanceOf(address(escB)), 0);
    }

    /// @dev LOCKED reaches the hub first; the hub's last deposit executes and pays RELEASE from msg.value.
    function test_ExecuteHubLast() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        _deliver(A);
        (,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(locked, 2);
        uint256 fee = escA.quoteDeposit(t, 0);
        assertGt(fee, 0);
        _deposit(t, 0);
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
    }

    /// @dev With executor value on LOCKED (enforced options) the whole flow needs no extra transaction.
    function test_ExecuteWithExecutorValueOnLocked() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _enforceLockedValue(escB, 0.01 ether);
        _deposit(t, 0);
        _deposit(t, 1);
        _deliver(A);
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
        assertTrue(_pending(B));
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
    }

    function test_ExecuteThreeChains() public {
        Terms memory t = _threeChain(ID);
        _registerAll(t);
        _deposit(t, 0);
        _deposit(t, 1);
        _deliver(A);
        _assertState(escA, ID, ISettlementEscrow.State.LOCKED); // C not locked yet
        _deposit(t, 2);
        _deliver(A);
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
        _resend(escA, t); // RELEASE to B and C in one call
        _deliver(C); // out of order: C before B
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
        _assertState(escC, ID, ISettlementEscrow.State.EXECUTED);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT + ASSET_AMOUNT / 2);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
    }

    function test_NoExecutionWhenLockedArrivesAfterTimeout() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 0);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        _deliver(A);
        _assertState(escA, ID, ISettlementEscrow.State.LOCKED);
        _refund(escA, t); // hub aborts
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    // ------------------------------------------------------------------ unwind

    function test_TimeoutRefundBothOpen() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 0); // hub LOCKED, spoke never deposits
        vm.warp(t.timeoutAt);
        vm.prank(stranger);
        escB.refund(t); // an OPEN spoke refunds on its own clock
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        _refund(escA, t);
        _assertState(escA, ID, ISettlementEscrow.State.REFUNDED);
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
        _deliver(B); // ABORT to an already refunded spoke is ignored
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
    }

    /// @dev The six-step counterexample of protocol.md cannot happen: a LOCKED spoke cannot refund itself.
    function test_RevertWhen_LockedSpokeRefundsItself() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowAwaitingHub.selector, ID));
        escB.refund(t);
    }

    function test_HubAbortRefundsLockedSpoke() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1); // spoke LOCKED, LOCKED in flight
        vm.warp(t.timeoutAt);
        assertGt(escA.quoteRefund(t), 0);
        _refund(escA, t); // hub aborts before LOCKED arrives
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
        assertEq(cash.balanceOf(address(escB)), 0);
    }

    /// @dev The hub's ABORT was never paid for (deferred); the late LOCKED is answered with ABORT again,
    /// here paid by executor value on LOCKED, and unwinds the spoke.
    function test_LateLockedAnsweredWithAbort() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _enforceLockedValue(escB, 0.01 ether);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        vm.recordLogs();
        vm.prank(stranger);
        escA.refund(t); // no msg.value: ABORT deferred
        assertFalse(_pending(B));
        _deliver(A); // late LOCKED
        assertTrue(_pending(B));
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    /// @dev Without executor value the late LOCKED is recorded and anyone resends ABORT.
    function test_LateLockedThenResendAbort() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        vm.prank(stranger);
        escA.refund(t);
        _deliver(A);
        assertFalse(_pending(B));
        _resend(escA, t);
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
    }

    function test_ResendLockedFromSpoke() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _fund(buyer, address(cash), address(escB), CASH_AMOUNT);
        vm.prank(buyer);
        escB.deposit(t, 1, _sigOf(t, 1)); // no fee paid: LOCKED deferred
        _assertState(escB, ID, ISettlementEscrow.State.LOCKED);
        assertFalse(_pending(A));
        _resend(escB, t);
        _deliver(A);
        (,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(locked, 2);
    }

    function test_RevertWhen_ResendInsufficientFee() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        uint256 fee = escB.quoteResend(t);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowInsufficientFee.selector, fee, fee - 1));
        escB.resend{value: fee - 1}(t);
    }

    function test_RevertWhen_ResendOpenSpoke() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowNothingToSend.selector, ID, ISettlementEscrow.State.OPEN)
        );
        escB.resend(t);
    }

    // ------------------------------------------------------------------ ordering and buffering

    /// @dev ABORT reaches a spoke that has not registered yet: it is buffered, and registration then
    /// lands directly in REFUNDED so no deposit can be stranded.
    function test_AbortBeforeSpokeRegistration() public {
        Terms memory t = _crossChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        vm.warp(t.timeoutAt);
        _refund(escA, t);
        _deliver(B);
        (bytes32 buffered, ISettlementEscrow.State state,,) = escB.settlementOf(ID);
        assertEq(buffered, keccak256(abi.encode(t)));
        assertEq(uint8(state), uint8(ISettlementEscrow.State.NONE));
        vm.warp(t.timeoutAt - 10); // a spoke whose clock lags can still register
        _register(escB, t);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        _fund(buyer, address(cash), address(escB), CASH_AMOUNT);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidState.selector, ID, ISettlementEscrow.State.REFUNDED)
        );
        escB.deposit(t, 1, _sigOf(t, 1));
    }

    /// @dev LOCKED reaches the hub before the hub registered: buffered, applied at registration.
    function test_LockedBeforeHubRegistration() public {
        Terms memory t = _crossChain(ID);
        _register(escB, t);
        _deposit(t, 1);
        _deliver(A);
        _register(escA, t);
        (,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(locked, 2);
        _deposit(t, 0);
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
    }

    /// @dev Liveness: the spoke locked but the hub never registered before the timeout. The hub may still
    /// register (straight into REFUNDED) because it holds the spoke's buffered LOCKED, then resend ABORT.
    function test_LateHubRegistrationAbortsLockedSpoke() public {
        Terms memory t = _crossChain(ID);
        _register(escB, t);
        _deposit(t, 1);
        _deliver(A);
        vm.warp(t.timeoutAt);
        _register(escA, t);
        _assertState(escA, ID, ISettlementEscrow.State.REFUNDED);
        _resend(escA, t);
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    function test_RevertWhen_LateHubRegistrationWithoutLockedSpoke() public {
        Terms memory t = _crossChain(ID);
        vm.warp(t.timeoutAt);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowExpired.selector, ID, t.timeoutAt));
        escA.register(t, sig);
    }

    /// @dev A buffered message for other terms under the same id is dropped at registration.
    function test_BufferedMessageForOtherTermsDiscarded() public {
        Terms memory t = _crossChain(ID);
        Terms memory other = _crossChain(ID);
        other.legs[1].amount = 1;
        _inject(escA, B, SettlementMsgCodec.LOCKED, other);
        _register(escA, t);
        (,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(locked, 0);
    }

    /// @dev A second term set for a buffered id is buffered apart (v1 and v2.0 ignored it, which could
    /// strand a spoke that locked under it): neither set's buffer hides or overwrites the other's.
    function test_RebufferedMessageWithOtherTermsKeptApart() public {
        Terms memory t = _crossChain(ID);
        Terms memory other = _crossChain(ID);
        other.legs[1].amount = 1;
        _inject(escA, B, SettlementMsgCodec.LOCKED, t);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.MessageBuffered(ID, SettlementMsgCodec.LOCKED, B, keccak256(abi.encode(other)));
        _inject(escA, B, SettlementMsgCodec.LOCKED, other);
        (bytes32 first,,, uint32 firstLocked) = escA.settlementOf(ID);
        assertEq(first, keccak256(abi.encode(t))); // the view shows the first set heard
        assertEq(firstLocked, 2);
        _register(escA, other);
        (bytes32 held,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(held, keccak256(abi.encode(other)));
        assertEq(locked, 2);
    }

    function test_ReleaseBeforeSpokeRegistrationIgnored() public {
        Terms memory t = _crossChain(ID);
        vm.expectEmit(address(escB));
        emit ISettlementEscrow.MessageIgnored(ID, SettlementMsgCodec.RELEASE, A, ISettlementEscrow.State.NONE);
        _inject(escB, A, SettlementMsgCodec.RELEASE, t);
        (bytes32 buffered,,,) = escB.settlementOf(ID);
        assertEq(buffered, bytes32(0));
    }

    // ------------------------------------------------------------------ message validation

    function test_RevertWhen_MessageFromNonPeer() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        vm.prank(address(escA.endpoint()));
        vm.expectRevert(abi.encodeWithSelector(IOAppCore.OnlyPeer.selector, B, addressToBytes32(stranger)));
        escA.lzReceive(
            Origin(B, addressToBytes32(stranger), 1),
            bytes32(0),
            SettlementMsgCodec.encode(SettlementMsgCodec.LOCKED, abi.encode(t)),
            address(0),
            ""
        );
    }

    function test_RevertWhen_MessageNotFromEndpoint() public {
        Terms memory t = _crossChain(ID);
        vm.expectRevert(abi.encodeWithSelector(OAppReceiver.OnlyEndpoint.selector, address(this)));
        escA.lzReceive(
            Origin(B, addressToBytes32(address(escB)), 1),
            bytes32(0),
            SettlementMsgCodec.encode(SettlementMsgCodec.LOCKED, abi.encode(t)),
            address(0),
            ""
        );
    }

    function test_RevertWhen_MessageMalformed() public {
        vm.prank(address(escA.endpoint()));
        vm.expectRevert(abi.encodeWithSelector(SettlementMsgCodec.SettlementMsgCodecMalformed.selector, 2));
        escA.lzReceive(Origin(B, addressToBytes32(address(escB)), 1), bytes32(0), hex"0102", address(0), "");
    }

    function test_WrongTermsHashIgnored() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        Terms memory forged = _crossChain(ID);
        forged.legs[1].recipient = stranger;
        vm.expectEmit(address(escB));
        emit ISettlementEscrow.MessageIgnored(ID, SettlementMsgCodec.RELEASE, A, ISettlementEscrow.State.LOCKED);
        _inject(escB, A, SettlementMsgCodec.RELEASE, forged);
        _assertState(escB, ID, ISettlementEscrow.State.LOCKED);
        assertEq(cash.balanceOf(stranger), 0);
    }

    function test_DuplicateReleaseIdempotent() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        _deliver(A);
        _deposit(t, 0);
        _resend(escA, t); // a second RELEASE
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
    }

    function test_DuplicateLockedIdempotent() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        _resend(escB, t);
        _deliver(A);
        (,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(locked, 2);
        _deposit(t, 0);
        _inject(escA, B, SettlementMsgCodec.LOCKED, t); // after execution: ignored
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
    }

    function test_DuplicateAbortIdempotent() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        _refund(escA, t);
        _resend(escA, t);
        _deliver(B);
        _assertState(escB, ID, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    /// @dev RELEASE to a spoke that is still OPEN cannot come from an honest hub; it is ignored.
    function test_ReleaseToOpenSpokeIgnored() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _inject(escB, A, SettlementMsgCodec.RELEASE, t);
        _assertState(escB, ID, ISettlementEscrow.State.OPEN);
    }

    function test_WrongRoleMessagesIgnored() public {
        Terms memory t = _threeChain(ID);
        _registerAll(t);
        _inject(escA, B, SettlementMsgCodec.RELEASE, t); // hub ignores RELEASE
        _inject(escA, B, SettlementMsgCodec.ABORT, t); // and ABORT
        _inject(escB, C, SettlementMsgCodec.LOCKED, t); // spokes ignore LOCKED
        _inject(escB, C, SettlementMsgCodec.ABORT, t); // and ABORT not from the hub
        _assertState(escA, ID, ISettlementEscrow.State.OPEN);
        _assertState(escB, ID, ISettlementEscrow.State.OPEN);
    }

    /// @dev Fuzz pairs with test_ExecuteSpokeFirst / test_ExecuteHubLast: any interleaving of the two
    /// deposits and the LOCKED delivery executes on both chains.
    function testFuzz_CrossChainAnyOrder(uint8 order) public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        if (order % 2 == 0) {
            _deposit(t, 0);
            _deposit(t, 1);
            _deliver(A);
        } else {
            _deposit(t, 1);
            if (order % 4 == 1) _deliver(A);
            _deposit(t, 0);
            _deliver(A);
        }
        if (!_pending(B)) _resend(escA, t);
        _deliver(B);
        _assertState(escA, ID, ISettlementEscrow.State.EXECUTED);
        _assertState(escB, ID, ISettlementEscrow.State.EXECUTED);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
    }
}

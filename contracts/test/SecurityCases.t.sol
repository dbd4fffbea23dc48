// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Vm} from "forge-std/Vm.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Origin} from "@layerzerolabs/oapp-evm/contracts/oapp/OApp.sol";
import {ILayerZeroEndpointV2} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";

import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {SwitchToken} from "./mocks/HostileTokens.sol";
import {SettlementEscrow} from "../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms} from "../src/ISettlementEscrow.sol";
import {SettlementMsgCodec} from "../src/libs/SettlementMsgCodec.sol";
import {PermissionedToken} from "../src/demo/PermissionedToken.sol";

/// @notice Refuses native value: an executor that cannot take its change back.
contract NoReceiveExecutor {}

/// @notice One test per row of security.md "Measured against the first version" (R5 excluded), each
/// replaying the attack that broke v1 and asserting the safe outcome of v2; plus R4 and R6 cases.
contract SecurityCasesTest is EscrowTestBase {
    bytes32 internal constant ID = keccak256("LS-SEC-1");
    SwitchToken internal sw;

    function setUp() public override {
        super.setUp();
        sw = new SwitchToken();
        vm.label(address(sw), "switchToken");
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

    function _assertState(SettlementEscrow esc, ISettlementEscrow.State want) internal view {
        assertEq(uint8(_stateOf(esc, ID)), uint8(want));
    }

    // ------------------------------------------------------------------ R1

    /// @dev Row 1: the cash recipient is blacklisted between LOCKED and RELEASE. v1: RELEASE reverted forever,
    /// the spoke could never refund. v2: the spoke executes, the frozen leg is owed, and the recipient
    /// claims it to an address of its choice once it can receive.
    function test_RecipientBlacklistedBetweenLockedAndRelease() public {
        Terms memory t = _crossChain(ID);
        t.legs[1].token = address(sw);
        _registerAll(t);
        _deposit(t, 1); // spoke LOCKED
        _deliver(A);
        _deposit(t, 0); // hub executes, RELEASE in flight
        _assertState(escA, ISettlementEscrow.State.EXECUTED);
        sw.setBlacklisted(sellerCash, true);
        _deliver(B);
        _assertState(escB, ISettlementEscrow.State.EXECUTED);
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
        assertEq(escB.owed(address(sw), sellerCash), CASH_AMOUNT);
        assertEq(sw.balanceOf(address(escB)), CASH_AMOUNT); // conservation: held as owed
        address fresh = makeAddr("sellerFreshWallet");
        vm.prank(sellerCash);
        escB.claim(address(sw), fresh);
        assertEq(sw.balanceOf(fresh), CASH_AMOUNT);
        assertEq(escB.owed(address(sw), sellerCash), 0);
        vm.prank(sellerCash);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNothingOwed.selector, address(sw), sellerCash));
        escB.claim(address(sw), fresh); // exactly once
    }

    /// @dev Row 2: one depositor blacklisted. v1: `_refundAll` reverted for everyone on that chain.
    /// v2: the other depositor is refunded, the blacklisted one is owed.
    function test_OneDepositorBlacklistedOthersRefunded() public {
        Terms memory t = _singleChain(ID);
        t.legs[0].token = address(sw);
        _register(escA, t);
        _deposit(t, 0); // the buyer never deposits
        sw.setBlacklisted(seller, true);
        vm.warp(t.timeoutAt);
        escA.refund(t);
        _assertState(escA, ISettlementEscrow.State.REFUNDED);
        assertEq(escA.owed(address(sw), seller), ASSET_AMOUNT);

        // Same with both legs deposited on the chain of a cross-chain settlement that times out.
        bytes32 id2 = keccak256("LS-SEC-2");
        Terms memory t2 = _threeChain(id2);
        t2.legs[0].token = address(sw);
        _registerAll(t2);
        sw.setBlacklisted(seller, false);
        _deposit(t2, 0);
        _deposit(t2, 1);
        sw.setBlacklisted(seller, true);
        vm.warp(t2.timeoutAt);
        _refund(escA, t2);
        _deliver(B);
        assertEq(uint8(_stateOf(escB, id2)), uint8(ISettlementEscrow.State.REFUNDED));
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT); // the other depositor got its money back
        assertEq(escA.owed(address(sw), seller), 2 * ASSET_AMOUNT);
    }

    /// @dev Every hostile behaviour at payout (revert, false return, gas burner, hook re-entering) is
    /// isolated to its own leg; a fee switched on later still pays (the escrow's balance falls by `amount`).
    function test_HostilePayoutsAreIsolated() public {
        for (uint256 mode; mode < 4; ++mode) {
            bytes32 id = keccak256(abi.encode("LS-SEC-H", mode));
            Terms memory t = _singleChain(id);
            t.legs[1].token = address(sw);
            _register(escA, t);
            _deposit(t, 1);
            if (mode == 0) sw.setPaused(true);
            if (mode == 1) sw.setReturnFalse(true);
            if (mode == 2) sw.setBurnGas(true);
            if (mode == 3) sw.setHook(address(escA), abi.encodeCall(ISettlementEscrow.refund, (t)));
            _deposit(t, 0);
            assertEq(uint8(_stateOf(escA, id)), uint8(ISettlementEscrow.State.EXECUTED));
            assertEq(asset.balanceOf(buyerVault), (mode + 1) * ASSET_AMOUNT, "other leg paid");
            if (mode == 3) {
                // The hook re-entered but the guard only blocks the re-entry; the transfer itself succeeded.
                assertEq(sw.balanceOf(sellerCash), CASH_AMOUNT);
            } else {
                assertEq(escA.owed(address(sw), sellerCash), (mode + 1) * CASH_AMOUNT, "hostile leg owed");
            }
            sw.setPaused(false);
            sw.setReturnFalse(false);
            sw.setBurnGas(false);
            sw.setHook(address(0), "");
        }
        vm.prank(sellerCash);
        escA.claim(address(sw), sellerCash);
        assertEq(sw.balanceOf(sellerCash), 4 * CASH_AMOUNT);
        assertEq(sw.balanceOf(address(escA)), 0);
    }

    /// @dev A caller cannot starve a payout into an "owed": too little gas reverts the whole call instead.
    function test_RevertWhen_PayoutGasStarved() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 1);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        bytes memory data = abi.encodeCall(ISettlementEscrow.deposit, (t, 0, ""));
        vm.prank(seller);
        (bool ok,) = address(escA).call{gas: 150_000}(data);
        assertFalse(ok);
        _assertState(escA, ISettlementEscrow.State.OPEN);
        assertEq(escA.owed(address(cash), sellerCash), 0);
    }

    // ------------------------------------------------------------------ R2

    /// @dev Row 3: v1 put a secret in clear calldata; a sniper copied it and became the leg's refund address.
    /// v2: the deposit key signs for one sender; the copied signature is refused from any other sender.
    function test_RevertWhen_CopiedDepositSignature() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        bytes memory sig = _sigOf(t, 1); // what the buyer's pending transaction reveals
        address sniper = makeAddr("sniper");
        _fund(sniper, address(cash), address(escA), CASH_AMOUNT);
        vm.prank(sniper);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowUnauthorizedDepositor.selector, ID, 1, sniper));
        escA.deposit(t, 1, sig);
        // Nor on another escrow (domain) or for another leg index.
        _fund(buyer, address(cash), address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowUnauthorizedDepositor.selector, ID, 1, buyer));
        escA.deposit(t, 1, _keySig(address(escB), ID, 1, buyer, uint256(BUYER_SECRET)));
        vm.prank(buyer);
        escA.deposit(t, 1, sig);
        assertEq(escA.depositorOf(ID, 1), buyer);
    }

    /// @dev Pairs with test_RevertWhen_CopiedDepositSignature: any other sender is refused.
    function testFuzz_RevertWhen_CopiedDepositSignature(address sniper) public {
        vm.assume(sniper != buyer && sniper != address(0));
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        bytes memory sig = _sigOf(t, 1);
        vm.prank(sniper);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowUnauthorizedDepositor.selector, ID, 1, sniper));
        escA.deposit(t, 1, sig);
    }

    // ------------------------------------------------------------------ R4

    /// @dev Row 5: v1's owner could `setPeer` on a LOCKED spoke and freeze it. v2: the owner is a timelock
    /// whose delay exceeds maxSettlementDuration, so a settlement registered before the change is
    /// scheduled finishes (here: unwinds) before the change can execute; and registration refuses terms
    /// that would outlive the delay.
    function test_WiringChangeWaitsForLiveSettlements() public {
        address[] memory roles = new address[](1);
        roles[0] = address(this);
        TimelockController timelock = new TimelockController(MAX_DURATION + 1, roles, roles, address(0));
        escB.setDelegate(address(timelock));
        escB.transferOwnership(address(timelock));

        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1); // spoke LOCKED, LOCKED lost (never delivered)
        bytes memory rewire = abi.encodeCall(escB.setPeer, (A, bytes32(uint256(0xBAD))));
        timelock.schedule(address(escB), 0, rewire, 0, 0, MAX_DURATION + 1);
        vm.expectRevert();
        timelock.execute(address(escB), 0, rewire, 0, 0);

        vm.warp(t.timeoutAt);
        _refund(escA, t); // hub aborts (it never heard LOCKED)
        _deliver(B);
        _assertState(escB, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
        assertFalse(timelock.isOperationReady(timelock.hashOperation(address(escB), 0, rewire, 0, 0)));

        vm.warp(block.timestamp + MAX_DURATION + 1);
        timelock.execute(address(escB), 0, rewire, 0, 0);
        assertEq(escB.peers(A), bytes32(uint256(0xBAD)));
    }

    function test_RevertWhen_RegisterBeyondMaxDuration() public {
        Terms memory t = _singleChain(ID);
        t.timeoutAt = uint64(block.timestamp + MAX_DURATION + 1);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementEscrow.EscrowDurationTooLong.selector, ID, t.timeoutAt, block.timestamp + MAX_DURATION
            )
        );
        escA.register(t, sig);
        t.timeoutAt = uint64(block.timestamp + MAX_DURATION);
        escA.register(t, _sign(escA, t, ATTESTER_PK));
    }

    // ------------------------------------------------------------------ R3

    /// @dev Row 6: spoke LOCKED before the hub registered. v1 needed a fresh attestation on an unpaused hub.
    /// v2: after timeoutAt anyone aborts the hub with the terms alone, paused, with the attester gone.
    function test_UnregisteredHubAbortedByAnyone() public {
        Terms memory t = _crossChain(ID);
        _register(escB, t);
        _deposit(t, 1);
        _deliver(A); // buffered at the unregistered hub
        escA.pause();
        escA.setAttester(makeAddr("attesterRotatedAway"));
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNotExpired.selector, ID, t.timeoutAt));
        escA.refund(t);
        vm.warp(t.timeoutAt);
        _refund(escA, t);
        _assertState(escA, ISettlementEscrow.State.REFUNDED);
        _deliver(B);
        _assertState(escB, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    /// @dev Unbuffered terms cannot be "aborted" into an unregistered hub (that would block registration).
    function test_RevertWhen_AbortUnregisteredHubWithoutLocked() public {
        Terms memory t = _crossChain(ID);
        vm.warp(t.timeoutAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementEscrow.EscrowTermsMismatch.selector, ID, bytes32(0), keccak256(abi.encode(t))
            )
        );
        escA.refund(t);
    }

    /// @dev Row 7: one unquotable spoke. v1's hub refund reverted before refunding even its own deposits.
    /// v2: local refunds happen, the ABORT is deferred, and anyone resends it once the path works again.
    function test_UnquotableSpokeDoesNotBlockRefund() public {
        Terms memory t = _threeChain(ID);
        _registerAll(t);
        _deposit(t, 0);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        vm.mockCallRevert(endpoints[A], abi.encodeWithSelector(ILayerZeroEndpointV2.quote.selector), "paused feed");
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.MessageDeferred(ID, SettlementMsgCodec.ABORT, B, 0, 0);
        escA.refund(t);
        _assertState(escA, ISettlementEscrow.State.REFUNDED);
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
        vm.clearMockedCalls();
        _resend(escA, t);
        _deliver(B);
        _deliver(C);
        assertEq(uint8(_stateOf(escB, ID)), uint8(ISettlementEscrow.State.REFUNDED));
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    /// @dev A send that reverts (path retired) is deferred as well, never reverting the refund.
    function test_FailingSendDoesNotBlockRefund() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 0);
        vm.warp(t.timeoutAt);
        vm.mockCallRevert(endpoints[A], abi.encodeWithSelector(ILayerZeroEndpointV2.send.selector), "retired");
        escA.refund(t);
        _assertState(escA, ISettlementEscrow.State.REFUNDED);
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
    }

    /// @dev Row 8: two attested term sets for one id (hub holds T, spoke holds T'). v1: each ignored the
    /// other forever. v2: the hub answers the spoke's LOCKED(T') with ABORT(T') and the spoke unwinds.
    function test_ConflictingTermsSpokeUnwinds() public {
        Terms memory t = _crossChain(ID);
        Terms memory t2 = _crossChain(ID);
        t2.legs[1].amount = CASH_AMOUNT - 1;
        _register(escA, t);
        _register(escB, t2);
        _deposit(t2, 1); // LOCKED(T') without executor value
        _deliver(A); // hub cannot pay for ABORT now: deferred
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.ForeignTermsAborted(ID, keccak256(abi.encode(t2)), 0);
        _resend(escA, t2); // anyone sends ABORT(T') later
        _deliver(B);
        _assertState(escB, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT - 1);
        _assertState(escA, ISettlementEscrow.State.OPEN); // the hub's own terms are untouched
    }

    /// @dev Row 8, two term sets naming different hubs (found by the invariant handler): T (hub A) and T'
    /// (hub B), same legs on A, B and C. Hub B aborts T' before chain A ever registered, so A buffers
    /// ABORT(T') as a spoke of T'; spoke C then locks under T and its LOCKED(T) reaches the unregistered A.
    /// Before v2.1 A kept one buffer per id: LOCKED(T) was ignored, `refund(T)` on A reverted and C stayed
    /// LOCKED for good. Now A buffers per (id, termsHash): after T's timeout anyone aborts A with T alone
    /// (paused, attester rotated away) and C unwinds; B's ABORT(T') still lands A straight in REFUNDED if
    /// it registered T' instead.
    function test_ConflictingHubsSpokeUnwinds() public {
        Terms memory t = _threeChain(ID);
        Terms memory t2 = _threeChain(ID);
        t2.hubEid = B;
        t2.decisionRef = keccak256("conflicting decision");
        t2.timeoutAt = uint64(block.timestamp + 10 minutes);
        bytes32 h = keccak256(abi.encode(t));
        bytes32 h2 = keccak256(abi.encode(t2));
        _register(escB, t2);
        vm.warp(t2.timeoutAt);
        _refund(escB, t2); // ABORT(T') to A and C
        _register(escC, t);
        _deposit(t, 2); // C locks under T: LOCKED(T) to A, queued after ABORT(T')
        vm.recordLogs();
        _deliver(A);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(
            _bufferedAt(logs, address(escA)),
            abi.encode(SettlementMsgCodec.ABORT, B, h2, SettlementMsgCodec.LOCKED, C, h)
        );
        _deliver(C); // ABORT(T') at C, which holds T: ignored
        assertEq(uint8(_stateOf(escC, ID)), uint8(ISettlementEscrow.State.LOCKED));
        escA.pause();
        escA.setAttester(makeAddr("attesterRotatedAway"));
        vm.warp(t.timeoutAt);
        _refund(escA, t); // anyone, terms only: REFUNDED, ABORT(T) to B and C
        (bytes32 held, ISettlementEscrow.State st,,) = escA.settlementOf(ID);
        assertEq(held, h);
        assertEq(uint8(st), uint8(ISettlementEscrow.State.REFUNDED));
        _deliver(C);
        assertEq(uint8(_stateOf(escC, ID)), uint8(ISettlementEscrow.State.REFUNDED));
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT / 2);
        assertEq(asset.balanceOf(address(escC)), 0);
        _deliver(B); // ABORT(T) at B, which holds T': ignored, B stays as it was
        assertEq(uint8(_stateOf(escB, ID)), uint8(ISettlementEscrow.State.REFUNDED));
    }

    /// @dev The (kind, srcEid, termsHash) of every `MessageBuffered` that `esc` emitted, in order.
    function _bufferedAt(Vm.Log[] memory logs, address esc) internal pure returns (bytes memory seen) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == esc && logs[i].topics[0] == ISettlementEscrow.MessageBuffered.selector) {
                seen = bytes.concat(seen, logs[i].data);
            }
        }
    }

    /// @dev Buffers are per term set: an unregistered hub keeps LOCKED for two term sets apart, and
    /// registering one of them applies exactly its own buffer.
    function test_BuffersKeptPerTermSet() public {
        Terms memory t = _threeChain(ID);
        Terms memory t2 = _threeChain(ID);
        t2.decisionRef = keccak256("conflicting decision");
        _register(escB, t2);
        _deposit(t2, 1); // LOCKED(T') to A
        _register(escC, t);
        _deposit(t, 2); // LOCKED(T) to A
        _deliver(A);
        (bytes32 first,,, uint32 firstLocked) = escA.settlementOf(ID);
        assertEq(first, keccak256(abi.encode(t2)));
        assertEq(firstLocked, 2);
        _register(escA, t);
        (,,, uint32 locked) = escA.settlementOf(ID);
        assertEq(locked, 4); // C's leg from T's own buffer; B's LOCKED(T') is not applied
        _resend(escA, t2); // ABORT(T'): A holds T and can never execute T'
        _deliver(B);
        assertEq(uint8(_stateOf(escB, ID)), uint8(ISettlementEscrow.State.REFUNDED));
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }

    /// @dev Row 9: native value the executor passed to lzReceive stayed in v1's escrow. v2 returns the
    /// unused value to the executor, or records it as owed when the executor refuses it.
    function test_ExecutorValueReturned() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        bytes memory message = abi.encodePacked(SettlementMsgCodec.LOCKED, abi.encode(t));
        address executor = makeAddr("executor");
        vm.deal(endpoints[A], 2 ether);
        vm.prank(endpoints[A]);
        escA.lzReceive{value: 1 ether}(
            Origin(B, addressToBytes32(address(escB)), 1), bytes32("g1"), message, executor, ""
        );
        assertEq(executor.balance, 1 ether);
        assertEq(address(escA).balance, 0);

        NoReceiveExecutor refuser = new NoReceiveExecutor();
        vm.prank(endpoints[A]);
        escA.lzReceive{value: 1 ether}(
            Origin(B, addressToBytes32(address(escB)), 2), bytes32("g2"), message, address(refuser), ""
        );
        assertEq(escA.owed(address(0), address(refuser)), 1 ether);
        vm.prank(address(refuser));
        escA.claim(address(0), stranger);
        assertEq(stranger.balance, 1 ether);
        assertEq(address(escA).balance, 0);
    }

    // ------------------------------------------------------------------ R6

    /// @dev A permissioned (ERC-3643-style) recipient is unverified after the settlement locked: the leg
    /// is owed, the rest settles, and the recipient claims once verified again (or to a verified wallet).
    function test_PermissionedRecipientUnverifiedAfterLock() public {
        PermissionedToken sec = new PermissionedToken("Security", "SEC", address(this));
        sec.setVerified(address(escA), true);
        sec.setVerified(seller, true);
        sec.setVerified(buyerVault, true);
        Terms memory t = _singleChain(ID);
        t.legs[0].token = address(sec);
        _register(escA, t);
        sec.mint(seller, ASSET_AMOUNT);
        vm.prank(seller);
        sec.approve(address(escA), ASSET_AMOUNT);
        vm.prank(seller);
        escA.deposit(t, 0, "");
        sec.setVerified(buyerVault, false); // status changes after locking
        assertFalse(sec.canTransfer(address(escA), buyerVault, ASSET_AMOUNT));
        _deposit(t, 1);
        _assertState(escA, ISettlementEscrow.State.EXECUTED);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
        assertEq(escA.owed(address(sec), buyerVault), ASSET_AMOUNT);
        address verifiedWallet = makeAddr("buyerVerifiedWallet");
        sec.setVerified(verifiedWallet, true);
        vm.prank(buyerVault);
        escA.claim(address(sec), verifiedWallet);
        assertEq(sec.balanceOf(verifiedWallet), ASSET_AMOUNT);
    }

    /// @dev Pause of the escrow blocks registrations only: unwind, messages and claims keep working.
    function test_PauseNeverBlocksUnwind() public {
        Terms memory t = _crossChain(ID);
        _registerAll(t);
        _deposit(t, 1);
        escA.pause();
        escB.pause();
        vm.warp(t.timeoutAt);
        _refund(escA, t);
        _deliver(A);
        _deliver(B);
        _assertState(escB, ISettlementEscrow.State.REFUNDED);
        assertEq(cash.balanceOf(buyer), CASH_AMOUNT);
    }
}

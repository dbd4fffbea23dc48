// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {StdInvariant} from "forge-std/StdInvariant.sol";
import {console} from "forge-std/console.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {DoubleEndedQueue} from "@openzeppelin/contracts/utils/structs/DoubleEndedQueue.sol";

import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {EscrowHandler, IPacketRelay} from "./handlers/EscrowHandler.sol";
import {EscrowScenarioHandler} from "./handlers/EscrowScenarios.sol";
import {SettlementEscrow} from "../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../src/ISettlementEscrow.sol";
import {DemoToken} from "../src/demo/DemoToken.sol";
import {SwitchToken} from "./mocks/HostileTokens.sol";

/// @notice Handler-based invariants over a hub and two spokes (TestHelperOz5) with a hostile token in the
/// mix (including a fee switch at payout) and one clock per chain, messages delayed, reordered, duplicated
/// and dropped for good (recovered by `resend`), conflicting attestations (two term sets for one id on
/// different chains), and owner actions through a timelock per chain: atomic decision, delivery or
/// entitlement (paid or owed), conservation (balance == held + owed), exactly-once, and liveness
/// (afterInvariant drives every settlement to an end).
contract EscrowInvariantTest is EscrowTestBase {
    using DoubleEndedQueue for DoubleEndedQueue.Bytes32Deque;

    EscrowScenarioHandler internal handler;
    SwitchToken internal sw;

    function setUp() public override {
        super.setUp();
        sw = new SwitchToken();
        sw.setFeeSinkPerReceiver(true);
        handler = new EscrowScenarioHandler(IPacketRelay(address(this)), [escA, escB, escC], [asset, cash], sw);
        // The owner and LayerZero delegate of every escrow is a timelock whose delay exceeds the longest
        // settlement; only the handler proposes and executes.
        address[] memory roles = new address[](1);
        roles[0] = address(handler);
        TimelockController[3] memory tls;
        SettlementEscrow[3] memory escs = [escA, escB, escC];
        for (uint256 c; c < 3; ++c) {
            tls[c] = new TimelockController(MAX_DURATION + 1, roles, roles, address(0));
            escs[c].setDelegate(address(tls[c]));
            escs[c].transferOwnership(address(tls[c]));
        }
        handler.useTimelocks(tls);
        // The multi-step scenarios make themselves possible; each appears three times in the list (weight 3
        // against 1 for a single action), so that every run of `depth` calls reaches each of them.
        bytes4[6] memory scenarios = [
            EscrowScenarioHandler.swapAcrossChains.selector,
            EscrowScenarioHandler.unwindAfterDeadline.selector,
            EscrowScenarioHandler.payoutOwedThenClaim.selector,
            EscrowScenarioHandler.dropThenResend.selector,
            EscrowScenarioHandler.conflictingOtherHub.selector,
            EscrowScenarioHandler.timelockExecute.selector
        ];
        bytes4[] memory selectors = new bytes4[](13 + 3 * scenarios.length);
        selectors[0] = EscrowHandler.create.selector;
        selectors[1] = EscrowHandler.register.selector;
        selectors[2] = EscrowHandler.deposit.selector;
        selectors[3] = EscrowHandler.refund.selector;
        selectors[4] = EscrowHandler.resend.selector;
        selectors[5] = EscrowHandler.deliver.selector;
        selectors[6] = EscrowHandler.warp.selector;
        selectors[7] = EscrowHandler.toggleHostile.selector;
        selectors[8] = EscrowHandler.claim.selector;
        selectors[9] = EscrowHandler.drop.selector;
        selectors[10] = EscrowHandler.registerConflicting.selector;
        selectors[11] = EscrowHandler.scheduleOwnerAction.selector;
        selectors[12] = EscrowHandler.executeOwnerAction.selector;
        for (uint256 k; k < 3 * scenarios.length; ++k) {
            selectors[13 + k] = scenarios[k % scenarios.length];
        }
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice The relay's message loss: the oldest packet for a receiver is verified on its endpoint (so the
    /// path's later nonces still execute) but never executed, and forgotten by the relay.
    function dropPacket(uint32 dstEid, bytes32 dstAddress) external {
        DoubleEndedQueue.Bytes32Deque storage queue = packetsQueue[dstEid][dstAddress];
        require(queue.length() != 0, "nothing to drop");
        bytes32 guid = queue.popBack();
        this.validatePacket(packets[guid], "");
        delete packets[guid];
    }

    /// @dev What `who` received in `token` outside the escrow: its balance plus the fee switch's skim on
    /// transfers to it (the fee sink is per receiver; always empty for the plain tokens).
    function _received(address token, address who) internal view returns (uint256) {
        return DemoToken(token).balanceOf(who) + DemoToken(token).balanceOf(sw.feeSinkOf(who));
    }

    /// @dev Outcome of one leg read from balances plus amounts owed on the leg's chain: 0 none/held,
    /// 1 released (or owed to the recipient), 2 refunded (or owed to the depositor), 3 both (broken).
    function _outcome(uint256 s, uint256 i, Leg memory leg) internal view returns (uint256 outcome) {
        SettlementEscrow esc = handler.escrow(handler.chainIndex(leg.eid));
        address r = handler.recipientOf(s, i);
        address d = handler.depositorOf(s, i);
        uint256 toRecipient = _received(leg.token, r) + esc.owed(leg.token, r);
        uint256 toDepositor = _received(leg.token, d) + esc.owed(leg.token, d);
        assertTrue(toRecipient == 0 || toRecipient == leg.amount, "recipient paid other than once");
        assertTrue(toDepositor == 0 || toDepositor == leg.amount, "depositor refunded other than once");
        if (toRecipient != 0) outcome |= 1;
        if (toDepositor != 0) outcome |= 2;
        if (outcome != 0) assertTrue(handler.ghostDeposited(s, i), "paid out a leg never deposited");
    }

    /// forge-config: default.invariant.runs = 28
    /// @notice Atomicity and exactly-once: per settlement, legs are all released or all refunded, never
    /// a mix, and never a chain EXECUTED while another is REFUNDED.
    function invariant_Atomicity() public view {
        uint256 n = handler.settlementCount();
        for (uint256 s; s < n; ++s) {
            Terms memory t = handler.settlement(s);
            uint256 seen;
            for (uint256 i; i < t.legs.length; ++i) {
                uint256 o = _outcome(s, i, t.legs[i]);
                assertTrue(o != 3, "leg both released and refunded");
                seen |= o;
            }
            assertTrue(seen != 3, "mixed outcome across legs");
            bool executed;
            bool refunded;
            for (uint256 c; c < 3; ++c) {
                ISettlementEscrow.State st = _stateOf(handler.escrow(c), t.settlementId);
                executed = executed || st == ISettlementEscrow.State.EXECUTED;
                refunded = refunded || st == ISettlementEscrow.State.REFUNDED;
            }
            // A chain can be REFUNDED with nothing deposited while another never executed; but an
            // EXECUTED chain excludes any refunded leg anywhere.
            if (executed) assertTrue(seen & 2 == 0, "executed somewhere, refunded elsewhere");
            if (seen & 2 != 0) assertFalse(executed, "refunded leg but a chain executed");
        }
    }

    /// forge-config: default.invariant.runs = 28
    /// @notice Conservation: each escrow's balance of each token equals the legs it holds (bitmap) plus what
    /// it owes, and held + paid out + owed equals the ghost deposits.
    function invariant_Conservation() public view {
        uint256 n = handler.settlementCount();
        for (uint256 c; c < 3; ++c) {
            SettlementEscrow esc = handler.escrow(c);
            for (uint256 k; k < 3; ++k) {
                DemoToken tok = DemoToken(handler.token(k));
                uint256 held;
                uint256 out;
                uint256 owedSum;
                for (uint256 s; s < n; ++s) {
                    Terms memory t = handler.settlement(s);
                    (,, uint32 mask,) = esc.settlementOf(t.settlementId);
                    for (uint256 i; i < t.legs.length; ++i) {
                        Leg memory leg = t.legs[i];
                        if (leg.eid != c + 1 || leg.token != address(tok)) continue;
                        if (mask & (uint32(1) << uint32(i)) != 0) held += leg.amount;
                        out += _received(address(tok), handler.recipientOf(s, i))
                        + _received(address(tok), handler.depositorOf(s, i));
                        owedSum += esc.owed(address(tok), handler.recipientOf(s, i))
                        + esc.owed(address(tok), handler.depositorOf(s, i));
                    }
                }
                assertEq(tok.balanceOf(address(esc)), held + owedSum, "balance != held legs + owed");
                assertEq(held + out + owedSum, handler.ghostIn(c, k), "ghost deposits != held + paid out + owed");
            }
        }
    }

    /// @dev Per-run success counters (forge test -vv prints them).
    function _logCalls() internal view {
        console.log(
            "ok create/register/deposit", handler.calls("create"), handler.calls("register"), handler.calls("deposit")
        );
        console.log("ok swapCross", handler.calls("swapCross"));
        console.log(
            "ok refund/unwind/resend", handler.calls("refund"), handler.calls("unwind"), handler.calls("resend")
        );
        console.log(
            "ok deliver/drop/resendAfterDrop",
            handler.calls("deliver"),
            handler.calls("drop"),
            handler.calls("resendAfterDrop")
        );
        console.log("ok hostile/feeOn/claim", handler.calls("hostile"), handler.calls("feeOn"), handler.calls("claim"));
        console.log("ok owedClaim/dropRecovered", handler.calls("owedClaim"), handler.calls("dropRecovered"));
        console.log("ok conflicting/otherHub", handler.calls("conflicting"), handler.calls("conflictingOtherHub"));
        console.log("ok timelock schedule/execute", handler.calls("tlSchedule"), handler.calls("tlExecute"));
    }

    /// @dev Every run must have exercised each key path at least once (counted before `finishAll`, which only
    /// unwinds): otherwise the invariants above held over a run that never tried what they protect.
    function _assertKeyPathsRan() internal view {
        assertGt(handler.calls("swapCross"), 0, "run never executed a swap across chains");
        assertGt(handler.calls("unwind"), 0, "run never unwound deposits after a deadline");
        assertGt(handler.calls("owedClaim"), 0, "run never claimed a payout that was owed");
        assertGt(handler.calls("dropRecovered"), 0, "run never recovered a dropped message by resend");
        assertGt(handler.calls("conflicting"), 0, "run never registered conflicting attestations");
        assertGt(handler.calls("conflictingOtherHub"), 0, "run never registered a conflicting set with another hub");
        assertGt(handler.calls("tlExecute"), 0, "run never executed an owner action through the timelock");
    }

    /// @notice Liveness: once every timeout has passed, someone pays every step and every packet is
    /// delivered, every registered settlement is EXECUTED or REFUNDED everywhere and the escrows are empty.
    function afterInvariant() public {
        _logCalls();
        _assertKeyPathsRan();
        handler.finishAll();
        invariant_Atomicity();
        invariant_Conservation();
        uint256 n = handler.settlementCount();
        uint256[5] memory states;
        uint256[4] memory outcomes;
        for (uint256 s; s < n; ++s) {
            Terms memory t = handler.settlement(s);
            for (uint256 i; i < t.legs.length; ++i) {
                outcomes[_outcome(s, i, t.legs[i])]++;
            }
            for (uint256 c; c < 3; ++c) {
                ISettlementEscrow.State st = _stateOf(handler.escrow(c), t.settlementId);
                states[uint8(st)]++;
                assertTrue(
                    st == ISettlementEscrow.State.NONE || st == ISettlementEscrow.State.EXECUTED
                        || st == ISettlementEscrow.State.REFUNDED,
                    "settlement not finished"
                );
            }
            for (uint256 i; i < t.legs.length; ++i) {
                if (handler.ghostDeposited(s, i)) assertTrue(_outcome(s, i, t.legs[i]) != 0, "deposit stuck");
            }
        }
        console.log("settlements", n);
        console.log("chain states NONE/EXECUTED/REFUNDED", states[0], states[3], states[4]);
        console.log("legs untouched/released/refunded", outcomes[0], outcomes[1], outcomes[2]);
        // Nothing is held any more: whatever an escrow still has is owed to someone (conservation above).
        for (uint256 s; s < n; ++s) {
            Terms memory t = handler.settlement(s);
            for (uint256 c; c < 3; ++c) {
                (,, uint32 mask,) = handler.escrow(c).settlementOf(t.settlementId);
                assertEq(mask, 0, "deposit still held after the end");
            }
        }
    }
}

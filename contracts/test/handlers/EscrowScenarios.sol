// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {SettlementEscrow} from "../../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../../src/ISettlementEscrow.sol";
import {DemoToken} from "../../src/demo/DemoToken.sol";
import {SwitchToken} from "../mocks/HostileTokens.sol";
import {EscrowHandler, IPacketRelay} from "./EscrowHandler.sol";

/// @notice The handler plus multi-step actions that make themselves possible, so that every run reaches the
/// key paths (`afterInvariant` asserts it): a swap across chains, an unwind after the deadline, a payout owed
/// then claimed, a message dropped then recovered by `resend`, conflicting attestations naming another hub, and
/// a timelock execution. Each first uses what the run already holds where that fits; otherwise it makes a fresh
/// settlement (plain tokens, on unpaused chains, clocks brought level first) - at most `MAX_FRESH` per kind.
contract EscrowScenarioHandler is EscrowHandler {
    uint256 internal constant MAX_FRESH = 1;
    /// @notice Fresh settlements made per scenario kind in this run.
    mapping(bytes32 => uint256) public fresh;

    constructor(IPacketRelay relay_, SettlementEscrow[3] memory escrows_, DemoToken[2] memory tokens_, SwitchToken sw_)
        EscrowHandler(relay_, escrows_, tokens_, sw_)
    {}

    // ------------------------------------------------------------------ helpers

    /// @dev Every chain's clock moves forward to the latest one (a quiet period on the others).
    function _levelClocks() internal {
        uint256 latest;
        for (uint256 c; c < 3; ++c) {
            if (chainTime[c] > latest) latest = chainTime[c];
        }
        for (uint256 c; c < 3; ++c) {
            chainTime[c] = latest;
        }
    }

    /// @dev Unpauses chain `c` the only way there is: an `unpause` scheduled and executed through its timelock.
    function _unpaused(uint256 c) internal returns (bool) {
        if (!escrows[c].paused()) return true;
        this.scheduleOwnerAction(c, 5, 0);
        this.executeOwnerAction(c, _ops[c].length - 1, true);
        return !escrows[c].paused();
    }

    /// @dev A fresh settlement with one leg per entry of `chains` (chain indices; the hub is `chains[0]`),
    /// plain tokens except leg 0 in the switch token when `swFirst`, registered on every chain it names.
    /// Returns false when the kind's budget is spent or a chain stays paused.
    function _fresh(bytes32 kind, uint256 seed, uint256[] memory chains, bool swFirst)
        internal
        returns (bool ok, uint256 s)
    {
        if (fresh[kind] >= MAX_FRESH) return (false, 0);
        for (uint256 i; i < chains.length; ++i) {
            if (!_unpaused(chains[i])) return (false, 0);
        }
        fresh[kind]++;
        _levelClocks();
        s = _settlements.length;
        Leg[] memory legs = new Leg[](chains.length);
        for (uint256 i; i < chains.length; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, kind, i)));
            bool bySecret = r & 1 == 1;
            legs[i] = Leg({
                eid: EIDS[chains[i]],
                token: i == 0 && swFirst ? address(sw) : address(tokens[(r >> 8) % 2]),
                amount: bound(r >> 32, 1, 1e24),
                depositor: bySecret ? address(0) : depositorOf(s, i),
                depositKey: bySecret ? vm.addr(uint256(secretOf(s, i))) : address(0),
                recipient: recipientOf(s, i)
            });
        }
        _push(legs, EIDS[chains[0]], uint64(chainTime[0] + bound(seed >> 64, 10 minutes, 3 hours)));
        for (uint256 i; i < chains.length; ++i) {
            this.register(s, i);
        }
        ok = true;
    }

    /// @dev Chain indices: hub `h` (from the seed) `nHub` times, then another chain `p` `nSpoke` times.
    function _layout(uint256 seed, uint256 nHub, uint256 nSpoke) internal pure returns (uint256[] memory chains) {
        uint256 h = seed % 3;
        uint256 p = (h + 1 + (seed >> 8) % 2) % 3;
        chains = new uint256[](nHub + nSpoke);
        for (uint256 i; i < chains.length; ++i) {
            chains[i] = i < nHub ? h : p;
        }
    }

    function _isMulti(Terms storage t) internal view returns (bool multi) {
        for (uint256 i = 1; i < t.legs.length; ++i) {
            if (t.legs[i].eid != t.legs[0].eid) multi = true;
        }
    }

    function _live(Terms storage t) internal view returns (bool) {
        return chainTime[0] < t.timeoutAt && chainTime[1] < t.timeoutAt && chainTime[2] < t.timeoutAt;
    }

    function _deliverEverywhere(uint256 rounds) internal {
        for (uint256 round; round < rounds; ++round) {
            for (uint256 c; c < 3; ++c) {
                _deliverAll(c);
            }
        }
    }

    function _stateOn(uint256 s, uint256 c) internal view returns (ISettlementEscrow.State st) {
        (, st,,) = escrows[c].settlementOf(_settlements[s].settlementId);
    }

    // ------------------------------------------------------------------ scenario actions

    /// @notice A swap across chains end to end: a live multi-chain settlement (from a random start; a fresh
    /// one when none executes) is registered everywhere, every open leg deposits with its fee, spokes first,
    /// and the packets of every chain are delivered (LOCKED, then RELEASE).
    function swapAcrossChains(uint256 sSeed) external {
        uint256 before = calls["swapCross"];
        uint256 count = _settlements.length;
        for (uint256 k; k < count; ++k) {
            uint256 s = (sSeed % count + k) % count;
            Terms storage t = _settlements[s];
            if (!_isMulti(t) || !_live(t)) continue;
            _swap(s);
            break;
        }
        if (calls["swapCross"] != before) return;
        (bool ok, uint256 fs) = _fresh("swap", sSeed, _layout(sSeed, 1 + (sSeed >> 16) % 2, 1), false);
        if (ok) _swap(fs);
    }

    function _swap(uint256 s) internal {
        Terms storage t = _settlements[s];
        for (uint256 i; i < t.legs.length; ++i) {
            this.register(s, i);
        }
        for (uint256 pass; pass < 2; ++pass) {
            // Pass 0: the spokes' legs (LOCKED travels to the hub), pass 1: the hub's (it executes).
            for (uint256 i; i < t.legs.length; ++i) {
                if ((t.legs[i].eid == t.hubEid) == (pass == 0) || ghostDeposited[s][i]) continue;
                _deposit(s, i, true);
            }
            _deliverEverywhere(1);
        }
        _deliverEverywhere(1);
        _trackExecutions();
    }

    /// @notice Unwind after the deadline: a fresh settlement (two hub legs, one spoke leg) where the spoke's leg
    /// and one hub leg are deposited, then every clock passes the deadline; anyone refunds the hub (its deposit
    /// comes back or is owed: `unwind`), and the ABORT it broadcasts unwinds the spoke.
    function unwindAfterDeadline(uint256 seed) external {
        (bool ok, uint256 s) = _fresh("unwind", seed, _layout(seed, 2, 1), false);
        if (!ok) return;
        _deposit(s, 2, true);
        _deposit(s, 0, true);
        _deliverEverywhere(1);
        uint256 deadline = _settlements[s].timeoutAt;
        for (uint256 c; c < 3; ++c) {
            if (chainTime[c] < deadline) chainTime[c] = deadline;
        }
        this.refund(s, 0);
        _deliverEverywhere(1);
    }

    /// @notice A payout owed, then claimed: a fresh single-chain settlement whose leg 0 is in the switch token
    /// (its other switches off for the moment); the recipient of leg 0 is frozen before the last deposit, so the
    /// execution owes it that leg; the issuer lifts the freeze and the recipient claims to itself (`claim`,
    /// `owedClaim`). The switches the run had set come back afterwards.
    function payoutOwedThenClaim(uint256 seed) external {
        uint256 c = seed % 3;
        (bool swPaused, bool retFalse, bool burn, uint256 feeBps) =
            (sw.paused(), sw.returnFalse(), sw.burnGas(), sw.feeBps());
        (address hookTarget, bytes memory hookData) = (sw.hookTarget(), sw.hookData());
        bool escFrozen = sw.blacklisted(address(escrows[c]));
        _calmSwitch(c);
        uint256[] memory chains = new uint256[](2);
        (chains[0], chains[1]) = (c, c);
        (bool ok, uint256 s) = _fresh("claim", seed, chains, true);
        if (ok) {
            _deposit(s, 0, false);
            address who = recipientOf(s, 0);
            sw.setBlacklisted(who, true);
            _deposit(s, 1, false);
            SettlementEscrow esc = escrows[c];
            if (esc.owed(address(sw), who) != 0) {
                sw.setBlacklisted(who, false);
                vm.prank(who);
                try esc.claim(address(sw), who) {
                    calls["claim"]++;
                    calls["owedClaim"]++;
                } catch {}
            }
        }
        sw.setPaused(swPaused);
        sw.setReturnFalse(retFalse);
        sw.setBurnGas(burn);
        sw.setFeeBps(feeBps);
        sw.setHook(hookTarget, hookData);
        sw.setBlacklisted(address(escrows[c]), escFrozen);
    }

    function _calmSwitch(uint256 c) internal {
        sw.setPaused(false);
        sw.setReturnFalse(false);
        sw.setBurnGas(false);
        sw.setFeeBps(0);
        sw.setHook(address(0), "");
        sw.setBlacklisted(address(escrows[c]), false);
    }

    /// @notice Message drop + resend: a fresh hub-and-spoke settlement; the spoke's deposit sends LOCKED, the
    /// relay loses that packet for good, anyone resends it from the spoke, the hub's leg deposits, and the hub
    /// executing proves the resent LOCKED arrived (`dropRecovered`).
    function dropThenResend(uint256 seed) external {
        (bool ok, uint256 s) = _fresh("drop", seed, _layout(seed, 1, 1), false);
        if (!ok) return;
        uint256 h = chainIndex(_settlements[s].hubEid);
        uint256 p = chainIndex(_settlements[s].legs[1].eid);
        _deliverAll(h); // only this settlement's LOCKED will wait for the hub
        _deposit(s, 1, true);
        _at(h);
        try relay.dropPacket(EIDS[h], bytes32(uint256(uint160(address(escrows[h]))))) {
            calls["drop"]++;
        } catch {
            return;
        }
        _deliverAll(h);
        if (!_resendWith(_settlements[s], p)) return;
        calls["resend"]++;
        calls["resendAfterDrop"]++;
        _deposit(s, 0, true);
        _deliverEverywhere(2);
        if (_stateOn(s, h) == ISettlementEscrow.State.EXECUTED) calls["dropRecovered"]++;
        _trackExecutions();
    }

    /// @notice Conflicting attestations naming another hub: a fresh settlement over two chains is registered on
    /// its hub only; a second term set for the same id, hub the other chain, is registered on the other chain;
    /// every leg then deposits with its fee and every packet is delivered (neither side can execute).
    function conflictingOtherHub(uint256 seed) external {
        uint256[] memory chains = _layout(seed, 1, 1);
        if (fresh["conflict"] >= MAX_FRESH || !_unpaused(chains[0]) || !_unpaused(chains[1])) return;
        fresh["conflict"]++;
        _levelClocks();
        uint256 s = _settlements.length;
        Leg[] memory legs = new Leg[](2);
        for (uint256 i; i < 2; ++i) {
            legs[i] = Leg({
                eid: EIDS[chains[i]],
                token: address(tokens[i]),
                amount: bound(uint256(keccak256(abi.encode(seed, i))), 1, 1e24),
                depositor: depositorOf(s, i),
                depositKey: address(0),
                recipient: recipientOf(s, i)
            });
        }
        _push(legs, legs[0].eid, uint64(chainTime[0] + bound(seed >> 64, 10 minutes, 3 hours)));
        this.register(s, 0);
        this.registerConflicting(s, 1, 1);
        for (uint256 i; i < 2; ++i) {
            _deposit(s, i, true);
        }
        _deliverEverywhere(2);
    }

    /// @notice A timelock execution: schedules an owner action on one chain and executes it once ready (the
    /// chain's clock moves there). Bounded to `MAX_FRESH` per run: each one moves a clock past every deadline.
    function timelockExecute(uint256 chainSeed, uint8 kind, uint256 eidSeed) external {
        if (fresh["timelock"] >= MAX_FRESH) return;
        fresh["timelock"]++;
        uint256 c = chainSeed % 3;
        // Pause or unpause, whichever the chain's state allows (the other one would fail on execution).
        if (kind % 6 >= 4) kind = escrows[c].paused() ? 5 : 4;
        this.scheduleOwnerAction(c, kind, eidSeed);
        this.executeOwnerAction(c, _ops[c].length - 1, true);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {ILayerZeroEndpointV2} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";

import {SettlementEscrow} from "../../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../../src/ISettlementEscrow.sol";
import {DemoToken} from "../../src/demo/DemoToken.sol";
import {SwitchToken} from "../mocks/HostileTokens.sol";

/// @notice The part of TestHelperOz5 the handler drives: deliver the oldest `count` packets to a receiver.
interface IPacketRelay {
    function verifyPackets(
        uint32 dstEid,
        bytes32 dstAddress,
        uint256 packetAmount,
        address composer,
        bytes memory resolvedPayload
    ) external;

    /// @notice Loses the oldest packet waiting for a receiver for good: verified (so later packets on the path
    /// still execute) but never executed. Only a `resend` recovers what it carried.
    function dropPacket(uint32 dstEid, bytes32 dstAddress) external;
}

/// @notice Drives random settlements across a hub (eid 1) and two spokes (eids 2, 3): registrations
/// in any order, deposits with or without the LayerZero fee, refunds, resends (duplicates), claims,
/// packet deliveries interleaved across chains (reordering, delay), one clock per chain (each action
/// runs at its chain's time), and a hostile token in the mix whose switches (blacklist of any party,
/// pause, false return, gas burner, re-entering hook) flip at random moments. Every party address is unique per (settlement, leg) and funded
/// exactly once, so balances show exactly what happened to each leg.
contract EscrowHandler is CommonBase, StdUtils {
    uint256 internal constant ATTESTER_PK = 0xA77E57;
    uint256 internal constant MAX_SETTLEMENTS = 6;
    uint32[3] internal EIDS = [uint32(1), 2, 3];

    IPacketRelay internal immutable relay;
    SettlementEscrow[3] internal escrows;
    DemoToken[2] internal tokens;
    SwitchToken internal sw;
    /// @notice Each chain's clock (eid i + 1): actions on a chain run at its time.
    uint256[3] public chainTime;

    Terms[] internal _settlements;
    /// @notice Ghost: legs whose deposit succeeded, per settlement.
    mapping(uint256 => mapping(uint256 => bool)) public ghostDeposited;
    /// @notice Ghost: sum of successful deposits per (escrow index, token index).
    uint256[3][3] public ghostIn;
    /// @notice Successful executions per action (not attempts), plus the interesting paths they reached:
    /// `swapCross` (a chain of a multi-chain settlement executed), `unwind` (a refund after the deadline
    /// that returned or owed deposits), `claim` (something was owed), `drop` / `resendAfterDrop`, `conflicting` /
    /// `conflictingOtherHub`, `tlSchedule` / `tlExecute`. `afterInvariant` asserts the key ones happened.
    mapping(bytes32 => uint256) public calls;
    /// @notice Executed (settlement, chain) pairs of multi-chain settlements seen so far (for `swapCross`).
    uint256 internal _executedSeen;

    /// @notice Conflicting attestations: a second term set per settlement id (same legs, other decision
    /// reference, possibly another hub), and the chains that registered it instead of the first.
    mapping(uint256 => Terms) internal _alt;
    mapping(uint256 => bool[3]) internal _altOn;
    /// @notice Chain time at which each chain registered each settlement (0: not registered by the handler).
    mapping(uint256 => uint256[3]) internal _registeredAt;

    /// @notice Owner of each escrow (and LayerZero delegate) once `useTimelocks` ran: schedule/execute only.
    TimelockController[3] internal timelocks;

    /// @notice Pending timelock operations per chain: call data, target and the chain time it was scheduled at.
    struct OwnerOp {
        address target;
        bytes data;
        uint256 scheduledAt;
        bytes32 salt;
    }

    mapping(uint256 => OwnerOp[]) internal _ops;

    constructor(
        IPacketRelay relay_,
        SettlementEscrow[3] memory escrows_,
        DemoToken[2] memory tokens_,
        SwitchToken sw_
    ) {
        relay = relay_;
        escrows = escrows_;
        tokens = tokens_;
        sw = sw_;
        vm.deal(address(this), 1000 ether);
        for (uint256 c; c < 3; ++c) {
            chainTime[c] = block.timestamp;
        }
    }

    /// @dev Runs the next action at chain `c`'s time.
    function _at(uint256 c) internal {
        vm.warp(chainTime[c]);
    }

    receive() external payable {}

    /// @notice Hands ownership of the escrows to one timelock per chain (set by the test after wiring).
    function useTimelocks(TimelockController[3] memory timelocks_) external {
        timelocks = timelocks_;
    }

    /// @notice The terms registered (or to register) for settlement `s` on chain `c`.
    function termsOn(uint256 s, uint256 c) public view returns (Terms memory) {
        return _altOn[s][c] ? _alt[s] : _settlements[s];
    }

    function hasAlt(uint256 s) public view returns (bool) {
        return _alt[s].legs.length != 0;
    }

    function altTerms(uint256 s) external view returns (Terms memory) {
        return _alt[s];
    }

    // ------------------------------------------------------------------ views for the invariants

    function settlementCount() external view returns (uint256) {
        return _settlements.length;
    }

    function settlement(uint256 i) external view returns (Terms memory) {
        return _settlements[i];
    }

    function escrow(uint256 i) external view returns (SettlementEscrow) {
        return escrows[i];
    }

    /// @notice Token k: 0 and 1 plain, 2 the hostile switch token.
    function token(uint256 i) external view returns (address) {
        return i == 2 ? address(sw) : address(tokens[i]);
    }

    function tokenIndex(address t) public view returns (uint256) {
        return t == address(tokens[0]) ? 0 : t == address(tokens[1]) ? 1 : 2;
    }

    function chainIndex(uint32 eid) public pure returns (uint256) {
        return eid - 1;
    }

    function depositorOf(uint256 s, uint256 leg) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("depositor", s, leg)))));
    }

    function recipientOf(uint256 s, uint256 leg) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("recipient", s, leg)))));
    }

    function secretOf(uint256 s, uint256 leg) public pure returns (bytes32) {
        return keccak256(abi.encode("secret", s, leg));
    }

    // ------------------------------------------------------------------ actions

    /// @notice Creates terms: 1 to 4 legs over 1 to 3 chains, any hub among them, random amounts.
    function create(uint256 seed, uint8 legCount, uint16 ttl) external {
        if (_settlements.length >= MAX_SETTLEMENTS) return;
        calls["create"]++;
        uint256 s = _settlements.length;
        uint256 n = bound(legCount, 1, 4);
        Leg[] memory legs = new Leg[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            bool bySecret = r & 1 == 1;
            legs[i] = Leg({
                eid: EIDS[(r >> 8) % 3],
                token: this.token((r >> 16) % 3),
                amount: bound(r >> 32, 1, 1e24),
                depositor: bySecret ? address(0) : depositorOf(s, i),
                depositKey: bySecret ? vm.addr(uint256(secretOf(s, i))) : address(0),
                recipient: recipientOf(s, i)
            });
        }
        uint32 hub = legs[(seed >> 128) % n].eid;
        _push(legs, hub, uint64(chainTime[chainIndex(hub)] + bound(ttl, 10 minutes, 3 hours)));
        // Usually register everywhere at once (in leg order, so spokes often before the hub); the
        // `register` action covers the other orders and late registrations.
        if ((seed >> 64) % 4 != 0) {
            for (uint256 i; i < n; ++i) {
                this.register(s, i);
            }
        }
    }

    /// @dev Appends settlement `_settlements.length` with these legs, hub and deadline.
    function _push(Leg[] memory legs, uint32 hub, uint64 timeoutAt) internal returns (uint256 s) {
        s = _settlements.length;
        _settlements.push();
        Terms storage t = _settlements[s];
        t.settlementId = keccak256(abi.encode("LS-INV", s));
        t.hubEid = hub;
        t.timeoutAt = timeoutAt;
        t.decisionRef = keccak256(abi.encode("decision", s));
        for (uint256 i; i < legs.length; ++i) {
            t.legs.push(legs[i]);
        }
    }

    /// @notice Registers a settlement on one of its chains (any order: spokes before the hub too).
    function register(uint256 sSeed, uint256 legSeed) external {
        if (_settlements.length == 0) return;
        uint256 s = sSeed % _settlements.length;
        Terms memory t = _settlements[s];
        uint256 c = chainIndex(t.legs[legSeed % t.legs.length].eid);
        if (_registerOn(s, c, t)) calls["register"]++;
    }

    function _registerOn(uint256 s, uint256 c, Terms memory t) internal returns (bool ok) {
        SettlementEscrow esc = escrows[c];
        _at(c);
        bytes32 digest = esc.registrationDigest(t.settlementId, keccak256(abi.encode(t)), t.decisionRef);
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(ATTESTER_PK, digest);
        try esc.register(t, abi.encodePacked(r, sig, v)) {
            _registeredAt[s][c] = block.timestamp;
            ok = true;
        } catch {}
    }

    /// @notice Conflicting attestations: the attester (compromised, or two coordinator instances) signs a
    /// second term set for a settlement id, same legs but another decision reference and a hub chosen at
    /// random among the legs' chains (often another hub), and it is registered on a chain that has not
    /// registered the first. The chains then hold two term sets for one id; atomicity and every other
    /// property must still hold. (With another hub this found the single-buffer liveness bug, fixed by
    /// buffering per term set: `SecurityCasesTest.test_ConflictingHubsSpokeUnwinds`.)
    function registerConflicting(uint256 sSeed, uint256 legSeed, uint256 hubSeed) external {
        if (_settlements.length == 0) return;
        uint256 s = sSeed % _settlements.length;
        Terms memory t = _settlements[s];
        uint256 c = chainIndex(t.legs[legSeed % t.legs.length].eid);
        if (!hasAlt(s)) {
            Terms storage a = _alt[s];
            a.settlementId = t.settlementId;
            a.hubEid = t.legs[hubSeed % t.legs.length].eid;
            a.timeoutAt = t.timeoutAt;
            a.decisionRef = keccak256(abi.encode("conflicting decision", s));
            for (uint256 i; i < t.legs.length; ++i) {
                a.legs.push(t.legs[i]);
            }
        }
        (, ISettlementEscrow.State st,,) = escrows[c].settlementOf(t.settlementId);
        if (st != ISettlementEscrow.State.NONE) return;
        if (_registerOn(s, c, _alt[s])) {
            _altOn[s][c] = true;
            calls["conflicting"]++;
            if (_alt[s].hubEid != t.hubEid) calls["conflictingOtherHub"]++;
        }
    }

    /// @notice Deposits a leg by its depositor, paying the quoted LayerZero fee or nothing (deferral).
    /// Prefers a leg that can still be deposited (chain OPEN, before the timeout), scanning from a
    /// random settlement and leg, so that settlements complete often; falls back to the random pick.
    function deposit(uint256 sSeed, uint256 legSeed, bool payFee) external {
        uint256 count = _settlements.length;
        if (count == 0) return;
        (uint256 s, uint256 i) = (sSeed % count, 0);
        bool found;
        for (uint256 k; k < count && !found; ++k) {
            uint256 cand = (sSeed % count + k) % count;
            Terms storage t = _settlements[cand];
            if (chainTime[0] >= t.timeoutAt && chainTime[1] >= t.timeoutAt && chainTime[2] >= t.timeoutAt) continue;
            for (uint256 j; j < t.legs.length; ++j) {
                uint256 leg = (legSeed % t.legs.length + j) % t.legs.length;
                if (ghostDeposited[cand][leg]) continue;
                (, ISettlementEscrow.State st,,) = escrows[chainIndex(t.legs[leg].eid)].settlementOf(t.settlementId);
                if (st == ISettlementEscrow.State.OPEN) {
                    (s, i, found) = (cand, leg, true);
                    break;
                }
            }
        }
        if (!found) i = legSeed % _settlements[s].legs.length;
        if (ghostDeposited[s][i]) return;
        _deposit(s, i, payFee);
        // Bias towards execution: half the time the other parties deposit their open legs right after.
        if (found && (legSeed >> 128) % 2 == 0) {
            Terms storage t = _settlements[s];
            for (uint256 j; j < t.legs.length; ++j) {
                if (ghostDeposited[s][j]) continue;
                (, ISettlementEscrow.State st,,) = escrows[chainIndex(t.legs[j].eid)].settlementOf(t.settlementId);
                if (st == ISettlementEscrow.State.OPEN) _deposit(s, j, payFee);
            }
        }
        _trackExecutions();
    }

    /// @dev Counts chains of multi-chain settlements that newly reached EXECUTED (a swap across chains).
    function _trackExecutions() internal {
        uint256 seen;
        for (uint256 s; s < _settlements.length; ++s) {
            Terms storage t = _settlements[s];
            bool multi;
            for (uint256 i = 1; i < t.legs.length; ++i) {
                if (t.legs[i].eid != t.legs[0].eid) multi = true;
            }
            if (!multi) continue;
            for (uint256 c; c < 3; ++c) {
                (, ISettlementEscrow.State st,,) = escrows[c].settlementOf(t.settlementId);
                if (st == ISettlementEscrow.State.EXECUTED) ++seen;
            }
        }
        if (seen > _executedSeen) calls["swapCross"] += seen - _executedSeen;
        _executedSeen = seen;
    }

    function _sig(SettlementEscrow esc, bytes32 id, uint256 s, uint256 i, bool byKey)
        internal
        view
        returns (bytes memory)
    {
        if (!byKey) return "";
        (uint8 v, bytes32 r, bytes32 ss) = vm.sign(uint256(secretOf(s, i)), esc.depositDigest(id, i, depositorOf(s, i)));
        return abi.encodePacked(r, ss, v);
    }

    function _deposit(uint256 s, uint256 i, bool payFee) internal {
        Leg memory leg = _settlements[s].legs[i];
        Terms memory t = termsOn(s, chainIndex(leg.eid));
        SettlementEscrow esc = escrows[chainIndex(leg.eid)];
        _at(chainIndex(leg.eid));
        address who = depositorOf(s, i);
        uint256 fee;
        if (payFee) {
            try esc.quoteDeposit(t, i) returns (uint256 f) {
                fee = f;
            } catch {}
        }
        DemoToken(leg.token).mint(who, leg.amount);
        vm.startPrank(who);
        DemoToken(leg.token).approve(address(esc), leg.amount);
        vm.deal(who, fee);
        try esc.deposit{value: fee}(t, i, _sig(esc, t.settlementId, s, i, leg.depositor == address(0))) {
            ghostDeposited[s][i] = true;
            ghostIn[chainIndex(leg.eid)][tokenIndex(leg.token)] += leg.amount;
            calls["deposit"]++;
            vm.stopPrank();
        } catch {
            vm.stopPrank();
            // Undo the funding so the depositor's balance keeps meaning "refunded".
            if (leg.token == address(sw)) {
                sw.burn(who, leg.amount);
            } else {
                vm.prank(who);
                if (!DemoToken(leg.token).transfer(address(0xdead), leg.amount)) revert();
            }
        }
    }

    /// @notice Anyone refunds / aborts on one chain, paying the quoted fee.
    function refund(uint256 sSeed, uint256 legSeed) external {
        if (_settlements.length == 0) return;
        uint256 s = sSeed % _settlements.length;
        uint256 c = chainIndex(_settlements[s].legs[legSeed % _settlements[s].legs.length].eid);
        (,, uint32 held,) = escrows[c].settlementOf(_settlements[s].settlementId);
        if (_refundWith(termsOn(s, c), c)) {
            calls["refund"]++;
            if (held != 0) calls["unwind"]++;
        }
    }

    function _refundWith(Terms memory t, uint256 c) internal returns (bool ok) {
        SettlementEscrow esc = escrows[c];
        _at(c);
        uint256 fee = esc.quoteRefund(t);
        try esc.refund{value: fee}(t) {
            ok = true;
        } catch {}
    }

    /// @notice Anyone resends a chain's pending message.
    /// @dev Resends with the chain's own terms or, when `other` and a conflicting set exists, the other set
    /// (a hub answers LOCKED for terms it does not hold with ABORT for those terms, and resends it).
    function resend(uint256 sSeed, uint256 legSeed) external {
        if (_settlements.length == 0) return;
        uint256 s = sSeed % _settlements.length;
        uint256 c = chainIndex(_settlements[s].legs[legSeed % _settlements[s].legs.length].eid);
        Terms memory t = termsOn(s, c);
        if ((legSeed >> 128) % 2 == 1 && hasAlt(s)) t = _altOn[s][c] ? _settlements[s] : _alt[s];
        if (_resendWith(t, c)) {
            calls["resend"]++;
            if (calls["drop"] != 0) calls["resendAfterDrop"]++;
        }
    }

    function _resendWith(Terms memory t, uint256 c) internal returns (bool ok) {
        SettlementEscrow esc = escrows[c];
        _at(c);
        try esc.quoteResend(t) returns (uint256 fee) {
            try esc.resend{value: fee}(t) {
                ok = true;
            } catch {}
        } catch {}
    }

    /// @notice True message drop: the oldest packet waiting for one chain is lost for good (never executed);
    /// only a later `resend` carries its content again.
    function drop(uint256 chainSeed) external {
        for (uint256 k; k < 3; ++k) {
            uint256 c = (chainSeed % 3 + k) % 3;
            _at(c);
            try relay.dropPacket(EIDS[c], bytes32(uint256(uint160(address(escrows[c]))))) {
                calls["drop"]++;
                return;
            } catch {}
        }
    }

    /// @notice Delivers the oldest 1-3 packets waiting for one chain.
    function deliver(uint256 chainSeed, uint8 count) external {
        uint256 c = chainSeed % 3;
        _at(c);
        try relay.verifyPackets(
            EIDS[c], bytes32(uint256(uint160(address(escrows[c])))), bound(count, 1, 3), address(0), ""
        ) {
            calls["deliver"]++;
        } catch {}
        _trackExecutions();
    }

    /// @notice Moves one chain's clock forward (timeouts); the chains' clocks drift apart.
    function warp(uint256 chainSeed, uint32 secs) external {
        calls["warp"]++;
        chainTime[chainSeed % 3] += bound(secs, 1, 15 minutes);
    }

    /// @notice Flips one of the hostile token's switches at a random moment: blacklist any party of any
    /// leg (or an escrow), pause, false return, gas burner, or a hook that re-enters an escrow.
    /// Also the fee switch: 1% skimmed from every transfer, so a deposit is refused (amount mismatch) and a
    /// payout or claim made while it is on delivers less (the fee lands at `feeSinkOf(receiver)`).
    /// Bias: no switch flips before the run's first successful deposit, so that runs reach execution.
    function toggleHostile(uint8 mode, uint256 sSeed, uint256 legSeed, bool on) external {
        if (calls["deposit"] == 0) return;
        calls["hostile"]++;
        mode %= 6;
        if (mode == 5) {
            sw.setFeeBps(on ? 100 : 0);
            if (on) calls["feeOn"]++;
            return;
        }
        if (mode == 0) {
            uint256 s = _settlements.length == 0 ? 0 : sSeed % _settlements.length;
            address who = legSeed % 3 == 0 ? recipientOf(s, legSeed % 4) : depositorOf(s, legSeed % 4);
            if (legSeed % 7 == 0) who = address(escrows[legSeed % 3]);
            sw.setBlacklisted(who, on);
        } else if (mode == 1) {
            sw.setPaused(on);
        } else if (mode == 2) {
            sw.setReturnFalse(on);
        } else if (mode == 3) {
            sw.setBurnGas(on);
        } else if (_settlements.length != 0) {
            Terms memory t = _settlements[sSeed % _settlements.length];
            sw.setHook(on ? address(escrows[legSeed % 3]) : address(0), abi.encodeCall(ISettlementEscrow.refund, (t)));
        }
    }

    /// @notice A beneficiary (recipient or depositor of a leg) claims what it is owed on one chain, to itself.
    /// Scans from a random settlement and leg for someone owed (so claims happen whenever anything is owed);
    /// with `unfreeze` the issuer first lifts that beneficiary's blacklist (the usual way a frozen payout ends).
    function claim(uint256 sSeed, uint256 legSeed, bool asRecipient, bool unfreeze) external {
        uint256 count = _settlements.length;
        if (count == 0) return;
        for (uint256 k; k < count; ++k) {
            uint256 s = (sSeed % count + k) % count;
            Terms storage t = _settlements[s];
            for (uint256 j; j < t.legs.length; ++j) {
                uint256 i = (legSeed % t.legs.length + j) % t.legs.length;
                for (uint256 side; side < 2; ++side) {
                    address who = asRecipient == (side == 0) ? recipientOf(s, i) : depositorOf(s, i);
                    SettlementEscrow esc = escrows[chainIndex(t.legs[i].eid)];
                    if (esc.owed(t.legs[i].token, who) == 0) continue;
                    if (unfreeze && t.legs[i].token == address(sw)) sw.setBlacklisted(who, false);
                    vm.prank(who);
                    try esc.claim(t.legs[i].token, who) {
                        calls["claim"]++;
                    } catch {}
                    return;
                }
            }
        }
    }

    // ------------------------------------------------------------------ owner actions through the timelock

    /// @notice The owner (a timelock per chain, minimum delay longer than `maxSettlementDuration`) schedules a
    /// wiring or admin change on one chain: setPeer (re-set), explicit send or receive library (or back to
    /// the default), setAttester, pause or unpause. A direct call by anyone but the timelock must fail.
    function scheduleOwnerAction(uint256 chainSeed, uint8 kind, uint256 eidSeed) external {
        uint256 c = chainSeed % 3;
        if (address(timelocks[c]) == address(0)) return;
        SettlementEscrow esc = escrows[c];
        _at(c);
        uint32 other = EIDS[(c + 1 + eidSeed % 2) % 3];
        ILayerZeroEndpointV2 ep = esc.endpoint();
        address target = address(esc);
        bytes memory data;
        kind %= 6;
        if (kind == 0) {
            data = abi.encodeCall(esc.setPeer, (other, esc.peers(other)));
        } else if (kind == 1) {
            target = address(ep);
            address lib =
                ep.isDefaultSendLibrary(address(esc), other) ? ep.getSendLibrary(address(esc), other) : address(0);
            data = abi.encodeCall(ep.setSendLibrary, (address(esc), other, lib));
        } else if (kind == 2) {
            target = address(ep);
            (address lib, bool isDefault) = ep.getReceiveLibrary(address(esc), other);
            data = abi.encodeCall(ep.setReceiveLibrary, (address(esc), other, isDefault ? lib : address(0), 0));
        } else if (kind == 3) {
            data = abi.encodeCall(esc.setAttester, (esc.attester()));
        } else if (kind == 4) {
            data = abi.encodeCall(esc.pause, ());
        } else {
            data = abi.encodeCall(esc.unpause, ());
        }
        // Nobody but the timelock can make the change directly.
        (bool direct,) = target.call(data);
        require(!direct, "owner action bypassed the timelock");
        bytes32 salt = bytes32(_ops[c].length);
        timelocks[c].schedule(target, 0, data, 0, salt, timelocks[c].getMinDelay());
        _ops[c].push(OwnerOp({target: target, data: data, scheduledAt: block.timestamp, salt: salt}));
        calls["tlSchedule"]++;
    }

    /// @notice Executes a scheduled owner action on one chain: before its delay it must fail; with `wait`
    /// the chain's clock first moves to the moment it is ready (a long quiet period on that chain). When it
    /// takes effect, every settlement registered on that chain before it was scheduled is past its timeout.
    function executeOwnerAction(uint256 chainSeed, uint256 opSeed, bool wait) external {
        uint256 c = chainSeed % 3;
        if (_ops[c].length == 0) return;
        OwnerOp memory op = _ops[c][opSeed % _ops[c].length];
        TimelockController tl = timelocks[c];
        bytes32 id = tl.hashOperation(op.target, 0, op.data, 0, op.salt);
        if (tl.isOperationDone(id)) return;
        _at(c);
        if (!tl.isOperationReady(id)) {
            try tl.execute(op.target, 0, op.data, 0, op.salt) {
                revert("timelock executed early");
            } catch {}
            if (!wait) return;
            chainTime[c] = tl.getTimestamp(id);
            _at(c);
        }
        for (uint256 s; s < _settlements.length; ++s) {
            uint256 at = _registeredAt[s][c];
            if (at != 0 && at <= op.scheduledAt) {
                require(termsOn(s, c).timeoutAt < block.timestamp, "wiring changed under a live settlement");
            }
        }
        try tl.execute(op.target, 0, op.data, 0, op.salt) {
            calls["tlExecute"]++;
        } catch {}
    }

    /// @notice Liveness driver (not fuzzed): after every timeout, someone pays gas for every pending step
    /// and every packet is delivered, for a few rounds.
    function finishAll() external {
        uint256 latest;
        for (uint256 s; s < _settlements.length; ++s) {
            if (_settlements[s].timeoutAt > latest) latest = _settlements[s].timeoutAt;
        }
        for (uint256 c; c < 3; ++c) {
            if (chainTime[c] <= latest) chainTime[c] = latest + 1;
        }
        // The hostile token calms down except for blacklists: frozen parties stay frozen (owed, not stuck).
        sw.setPaused(false);
        sw.setReturnFalse(false);
        sw.setBurnGas(false);
        sw.setHook(address(0), "");
        for (uint256 round; round < 4; ++round) {
            for (uint256 c; c < 3; ++c) {
                _deliverAll(c);
            }
            for (uint256 s; s < _settlements.length; ++s) {
                for (uint256 i; i < _settlements[s].legs.length; ++i) {
                    this.register(s, i);
                    this.refund(s, i);
                    this.resend(s, i);
                }
                // Both term sets of a conflicting id, on every chain: refunds (including the abort of an
                // unregistered hub holding a buffered LOCKED) and resends (including ABORT for foreign terms).
                if (hasAlt(s)) {
                    for (uint256 c; c < 3; ++c) {
                        _refundWith(_settlements[s], c);
                        _refundWith(_alt[s], c);
                        _resendWith(_settlements[s], c);
                        _resendWith(_alt[s], c);
                    }
                }
            }
        }
    }

    function _deliverAll(uint256 c) internal {
        _at(c);
        try relay.verifyPackets(EIDS[c], bytes32(uint256(uint160(address(escrows[c])))), 0, address(0), "") {} catch {}
    }
}

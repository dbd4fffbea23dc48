// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

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
    /// @notice Count of calls per action, for the run summary.
    mapping(bytes32 => uint256) public calls;

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
        _settlements.push();
        Terms storage t = _settlements[s];
        t.settlementId = keccak256(abi.encode("LS-INV", s));
        t.hubEid = hub;
        t.timeoutAt = uint64(chainTime[chainIndex(hub)] + bound(ttl, 10 minutes, 3 hours));
        t.decisionRef = keccak256(abi.encode("decision", s));
        for (uint256 i; i < n; ++i) {
            t.legs.push(legs[i]);
        }
        // Usually register everywhere at once (in leg order, so spokes often before the hub); the
        // `register` action covers the other orders and late registrations.
        if ((seed >> 64) % 4 != 0) {
            for (uint256 i; i < n; ++i) {
                this.register(s, i);
            }
        }
    }

    /// @notice Registers a settlement on one of its chains (any order: spokes before the hub too).
    function register(uint256 sSeed, uint256 legSeed) external {
        if (_settlements.length == 0) return;
        Terms memory t = _settlements[sSeed % _settlements.length];
        uint256 c = chainIndex(t.legs[legSeed % t.legs.length].eid);
        SettlementEscrow esc = escrows[c];
        _at(c);
        bytes32 digest = esc.registrationDigest(t.settlementId, keccak256(abi.encode(t)), t.decisionRef);
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(ATTESTER_PK, digest);
        try esc.register(t, abi.encodePacked(r, sig, v)) {
            calls["register"]++;
        } catch {}
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
        Terms memory t = _settlements[s];
        Leg memory leg = t.legs[i];
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
        Terms memory t = _settlements[sSeed % _settlements.length];
        uint256 c = chainIndex(t.legs[legSeed % t.legs.length].eid);
        SettlementEscrow esc = escrows[c];
        _at(c);
        uint256 fee = esc.quoteRefund(t);
        try esc.refund{value: fee}(t) {
            calls["refund"]++;
        } catch {}
    }

    /// @notice Anyone resends a chain's pending message.
    function resend(uint256 sSeed, uint256 legSeed) external {
        if (_settlements.length == 0) return;
        Terms memory t = _settlements[sSeed % _settlements.length];
        uint256 c = chainIndex(t.legs[legSeed % t.legs.length].eid);
        SettlementEscrow esc = escrows[c];
        _at(c);
        try esc.quoteResend(t) returns (uint256 fee) {
            try esc.resend{value: fee}(t) {
                calls["resend"]++;
            } catch {}
        } catch {}
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
    }

    /// @notice Moves one chain's clock forward (timeouts); the chains' clocks drift apart.
    function warp(uint256 chainSeed, uint32 secs) external {
        calls["warp"]++;
        chainTime[chainSeed % 3] += bound(secs, 1, 15 minutes);
    }

    /// @notice Flips one of the hostile token's switches at a random moment: blacklist any party of any
    /// leg (or an escrow), pause, false return, gas burner, or a hook that re-enters an escrow.
    function toggleHostile(uint8 mode, uint256 sSeed, uint256 legSeed, bool on) external {
        calls["hostile"]++;
        mode %= 5;
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
    function claim(uint256 sSeed, uint256 legSeed, bool asRecipient) external {
        if (_settlements.length == 0) return;
        uint256 s = sSeed % _settlements.length;
        Terms memory t = _settlements[s];
        uint256 i = legSeed % t.legs.length;
        address who = asRecipient ? recipientOf(s, i) : depositorOf(s, i);
        SettlementEscrow esc = escrows[chainIndex(t.legs[i].eid)];
        vm.prank(who);
        try esc.claim(t.legs[i].token, who) {
            calls["claim"]++;
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
            }
        }
    }

    function _deliverAll(uint256 c) internal {
        _at(c);
        try relay.verifyPackets(EIDS[c], bytes32(uint256(uint160(address(escrows[c])))), 0, address(0), "") {} catch {}
    }
}

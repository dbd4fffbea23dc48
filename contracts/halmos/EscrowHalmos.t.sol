// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Test} from "forge-std/Test.sol";
import {
    MessagingParams,
    MessagingFee,
    MessagingReceipt,
    Origin
} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";

import {SettlementEscrow} from "../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../src/ISettlementEscrow.sol";
import {SettlementMsgCodec} from "../src/libs/SettlementMsgCodec.sol";
import {SwitchToken} from "../test/mocks/HostileTokens.sol";

/// @notice The endpoint calls the escrow makes, free of charge; enough for symbolic execution.
contract HalmosEndpoint {
    uint32 public eid;
    uint64 internal _nonce;

    constructor(uint32 eid_) {
        eid = eid_;
    }

    function setDelegate(address) external {}

    function quote(MessagingParams calldata, address) external pure returns (MessagingFee memory) {
        return MessagingFee(0, 0);
    }

    function send(MessagingParams calldata, address) external payable returns (MessagingReceipt memory r) {
        r.nonce = ++_nonce;
        r.guid = bytes32(uint256(r.nonce));
    }
}

/// @notice Halmos symbolic checks of the escrow's core transitions (script/halmos runs them; `forge test`
/// ignores `check_` functions). Concrete two-leg terms, symbolic callers, times, message kinds, source
/// chains and call choices:
/// - a LOCKED spoke moves only on the hub's RELEASE (to EXECUTED) or ABORT (to REFUNDED);
/// - no leg is both paid and refunded, and the escrow's balance is exactly held + owed;
/// - a claim never pays more than is owed, and only once.
contract EscrowHalmosTest is Test {
    uint32 internal constant HUB = 1;
    uint32 internal constant SPOKE = 2;
    uint256 internal constant ATTESTER_PK = 0xA77E57;
    uint256 internal constant AMOUNT_0 = 100;
    uint256 internal constant AMOUNT_1 = 50;

    HalmosEndpoint internal endpoint;
    SettlementEscrow internal esc;
    SwitchToken internal token;
    address internal seller = address(0x5E11E4);
    address internal buyer = address(0xB0B);
    address internal buyerVault = address(0xB0B1);
    address internal sellerVault = address(0x5E11E41);
    address internal hubPeer = address(0x4B);
    Terms internal terms;

    function _setUp(uint32 localEid, uint32 leg0Eid) internal {
        endpoint = new HalmosEndpoint(localEid);
        esc = new SettlementEscrow(address(endpoint), address(this), vm.addr(ATTESTER_PK), 1 days);
        esc.setPeer(HUB, bytes32(uint256(uint160(hubPeer))));
        token = new SwitchToken();
        terms.settlementId = keccak256("LS-HALMOS");
        terms.hubEid = HUB;
        terms.timeoutAt = uint64(block.timestamp + 1 hours);
        terms.decisionRef = keccak256("decision");
        terms.legs.push(Leg(leg0Eid, address(token), AMOUNT_0, seller, address(0), buyerVault));
        terms.legs.push(Leg(localEid, address(token), AMOUNT_1, buyer, address(0), sellerVault));
        Terms memory t = terms;
        bytes32 digest = esc.registrationDigest(t.settlementId, keccak256(abi.encode(t)), t.decisionRef);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ATTESTER_PK, digest);
        esc.register(t, abi.encodePacked(r, s, v));
        token.mint(seller, AMOUNT_0);
        token.mint(buyer, AMOUNT_1);
        vm.prank(seller);
        token.approve(address(esc), AMOUNT_0);
        vm.prank(buyer);
        token.approve(address(esc), AMOUNT_1);
    }

    function _state() internal view returns (ISettlementEscrow.State state) {
        (, state,,) = esc.settlementOf(terms.settlementId);
    }

    /// @dev One arbitrary call by an arbitrary caller: refund, resend, a deposit, a claim, or a message from
    /// any peer of any kind.
    function _anyCall(uint8 action, address caller, uint8 kind, uint32 srcEid, bool blacklist) internal {
        Terms memory t = terms;
        if (blacklist) token.setBlacklisted(caller, true);
        if (action % 5 == 0) {
            vm.prank(caller);
            try esc.refund(t) {} catch {}
        } else if (action % 5 == 1) {
            vm.prank(caller);
            try esc.resend(t) {} catch {}
        } else if (action % 5 == 2) {
            vm.prank(caller);
            if (action / 5 % 2 == 0) {
                try esc.deposit(t, 0, "") {} catch {}
            } else {
                try esc.deposit(t, 1, "") {} catch {}
            }
        } else if (action % 5 == 3) {
            vm.prank(caller);
            try esc.claim(address(token), caller) {} catch {}
        } else {
            bytes32 peer = esc.peers(srcEid);
            vm.prank(address(endpoint));
            try esc.lzReceive(
                Origin(srcEid, peer, 1), bytes32(0), abi.encodePacked(kind, abi.encode(t)), caller, ""
            ) {} catch {}
        }
    }

    /// @notice A LOCKED spoke leaves LOCKED only through the hub's RELEASE (EXECUTED) or ABORT (REFUNDED),
    /// whatever anyone calls and whenever.
    function check_lockedSpokeMovesOnlyOnHubMessage(
        uint8 action,
        address caller,
        uint8 kind,
        uint32 srcEid,
        uint32 dt,
        bool blacklist
    ) public {
        _setUp(SPOKE, HUB);
        Terms memory t = terms;
        vm.prank(buyer);
        esc.deposit(t, 1, "");
        assert(_state() == ISettlementEscrow.State.LOCKED);
        vm.warp(block.timestamp + dt);
        _anyCall(action, caller, kind, srcEid, blacklist);
        ISettlementEscrow.State state = _state();
        if (state != ISettlementEscrow.State.LOCKED) {
            assert(action % 5 == 4 && srcEid == HUB);
            assert(
                (kind == SettlementMsgCodec.RELEASE && state == ISettlementEscrow.State.EXECUTED)
                    || (kind == SettlementMsgCodec.ABORT && state == ISettlementEscrow.State.REFUNDED)
            );
        }
    }

    /// @notice On a single-chain settlement, whether or not both legs were deposited (the second possibly
    /// with its recipient frozen), after any call by anyone at any time: no leg is both paid and refunded,
    /// and the escrow holds exactly the legs still held plus what is owed. (One symbolic call keeps the
    /// run short; the forge invariants drive long sequences.)
    function check_noLegPaidAndRefunded(uint8 action, address caller, uint32 dt, bool both, bool frozen, bool b)
        public
    {
        _setUp(HUB, HUB);
        vm.assume(caller != address(esc));
        Terms memory t = terms;
        vm.prank(buyer);
        esc.deposit(t, 1, "");
        if (both) {
            token.setBlacklisted(sellerVault, frozen);
            vm.prank(seller);
            esc.deposit(t, 0, "");
        }
        vm.warp(block.timestamp + dt);
        _anyCall(action, caller, 0, 0, b);

        ISettlementEscrow.State state = _state();
        (,, uint32 held,) = esc.settlementOf(t.settlementId);
        uint256 owedAll = esc.owed(address(token), buyerVault) + esc.owed(address(token), sellerVault)
            + esc.owed(address(token), seller) + esc.owed(address(token), buyer);
        uint256 heldAmount = (held & 1 != 0 ? AMOUNT_0 : 0) + (held & 2 != 0 ? AMOUNT_1 : 0);
        uint256 paid0 = token.balanceOf(buyerVault) + esc.owed(address(token), buyerVault);
        uint256 paid1 = token.balanceOf(sellerVault) + esc.owed(address(token), sellerVault);
        uint256 back1 = token.balanceOf(buyer) + esc.owed(address(token), buyer);
        // Exactly once: a leg reached its recipient side or its depositor side, never both.
        if (state == ISettlementEscrow.State.EXECUTED) {
            assert(paid0 == AMOUNT_0 && paid1 == AMOUNT_1 && back1 == 0 && heldAmount == 0);
        } else {
            assert(paid0 == 0 && paid1 == 0);
        }
        if (state == ISettlementEscrow.State.REFUNDED) assert(heldAmount == 0 && back1 == AMOUNT_1);
        // Conservation (claims move owed out: balance falls with owed).
        assert(token.balanceOf(address(esc)) == heldAmount + owedAll);
    }

    /// @notice A claim pays at most what the caller is owed, to the address it names, and only once.
    function check_claimNeverExceedsOwed(address claimer, address to, address other) public {
        _setUp(HUB, HUB);
        vm.assume(to != address(esc) && to != address(0) && other != address(esc) && other != address(0));
        Terms memory t = terms;
        token.setBlacklisted(sellerVault, true);
        vm.prank(buyer);
        esc.deposit(t, 1, "");
        vm.prank(seller);
        esc.deposit(t, 0, "");
        token.setBlacklisted(sellerVault, false);
        assert(esc.owed(address(token), sellerVault) == AMOUNT_1);
        uint256 owedBefore = esc.owed(address(token), claimer);
        uint256 escBefore = token.balanceOf(address(esc));
        vm.prank(claimer);
        try esc.claim(address(token), to) returns (uint256 paid) {
            assert(paid == owedBefore && paid > 0);
            assert(escBefore - token.balanceOf(address(esc)) == paid);
            assert(esc.owed(address(token), claimer) == 0);
        } catch {
            assert(esc.owed(address(token), claimer) == owedBefore);
        }
        vm.prank(claimer);
        try esc.claim(address(token), other) {
            assert(false); // a second claim finds nothing owed
        } catch {}
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Test, Vm} from "forge-std/Test.sol";
import {console} from "forge-std/console.sol";
import {Origin} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";

import {LocalLzStack} from "../../script/LocalLzStack.s.sol";
import {ILocalEndpoint, ILocalReceiveUln} from "../src/local/ILzStack.sol";
import {SettlementEscrow} from "../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../src/ISettlementEscrow.sol";
import {DemoToken} from "../src/demo/DemoToken.sol";

/// @notice `vm.cool` exists in forge 1.7 but not in the bundled forge-std's Vm interface.
interface ICoolVm {
    function cool(address target) external;
}

/// @notice Two chains with the REAL LayerZero v2 EndpointV2/SendUln302/ReceiveUln302 (lzstack artifacts),
/// the zero-fee worker as send-side DVN/executor and a relayer key as receive-side DVN, exactly as
/// script/Deploy.s.sol deploys them. Relays packets the way the coordinator's relayer does
/// (PacketSent -> verify -> commitVerification -> lzReceive) and measures the gas of every transaction
/// with cold state, as separate transactions would see it.
/// Builds the lzstack profile through ffi when its artifacts are missing (contracts/lzstack/build).
contract RealStackTest is Test, LocalLzStack {
    uint32 internal constant EID_A = 40_101;
    uint32 internal constant EID_B = 40_102;
    uint256 internal constant ATTESTER_PK = 0xA77E57;
    uint256 internal constant BUYER_KEY = 0xB0B;
    uint256 internal constant MAX_DURATION = 1 days;
    /// @dev Regression bound for the whole cross-chain settlement (measured ~694k; target 500k unmet).
    uint256 internal constant CROSS_CHAIN_GAS_BOUND = 720_000;
    bytes32 internal constant PACKET_SENT = keccak256("PacketSent(bytes,bytes,address)");

    address internal relayer = makeAddr("relayer");
    address internal seller = makeAddr("seller");
    address internal buyer = makeAddr("buyer");
    address internal buyerVault = makeAddr("buyerVault");
    address internal sellerCash = makeAddr("sellerCash");
    Stack internal stackA;
    Stack internal stackB;
    SettlementEscrow internal escA;
    SettlementEscrow internal escB;
    DemoToken internal asset;
    DemoToken internal cash;
    address[] internal _touched;

    function setUp() public {
        _ensureLzStackArtifacts();
        (stackA, stackB) = _stacks();
        _configurePath(stackA, EID_B);
        _configurePath(stackB, EID_A);
        escA = new SettlementEscrow(stackA.endpoint, address(this), vm.addr(ATTESTER_PK), MAX_DURATION);
        escB = new SettlementEscrow(stackB.endpoint, address(this), vm.addr(ATTESTER_PK), MAX_DURATION);
        // Exactly as script/Wire.s.sol: explicit libraries and DVN/executor config per escrow, then the peer.
        _wireEscrow(stackA, address(escA), EID_B, address(escB));
        _wireEscrow(stackB, address(escB), EID_A, address(escA));
        asset = new DemoToken("Asset", "AST", 18);
        cash = new DemoToken("Cash", "CSH", 6);
        // Steady state: the escrows already hold both tokens for other settlements.
        asset.mint(address(escA), 1);
        cash.mint(address(escB), 1);
        asset.mint(seller, 100e18);
        cash.mint(buyer, 1000e6);
        vm.prank(seller);
        asset.approve(address(escA), type(uint256).max);
        vm.prank(buyer);
        cash.approve(address(escB), type(uint256).max);
        _touched = [
            address(escA),
            address(escB),
            address(asset),
            address(cash),
            stackA.endpoint,
            stackA.sendLib,
            stackA.receiveLib,
            stackA.worker,
            stackB.endpoint,
            stackB.sendLib,
            stackB.receiveLib,
            stackB.worker,
            seller,
            buyer,
            relayer,
            buyerVault,
            sellerCash
        ];
    }

    /// @dev Both chains' stacks, their receive paths requiring the relayer key as the only DVN (a
    /// two-DVN variant overrides this).
    function _stacks() internal virtual returns (Stack memory a, Stack memory b) {
        a = _deployStack(EID_A, address(this), relayer);
        b = _deployStack(EID_B, address(this), relayer);
    }

    /// @dev Regression bound on the execution gas of `test_RealStackCrossChainSettlement`.
    function _crossChainGasBound() internal pure virtual returns (uint256) {
        return CROSS_CHAIN_GAS_BOUND;
    }

    function _terms() internal view returns (Terms memory t) {
        return _terms(keccak256("LS-REAL-1"));
    }

    function _terms(bytes32 id) internal view returns (Terms memory t) {
        Leg[] memory legs = new Leg[](2);
        legs[0] = Leg(EID_A, address(asset), 100e18, seller, address(0), buyerVault);
        legs[1] = Leg(EID_B, address(cash), 1000e6, address(0), vm.addr(BUYER_KEY), sellerCash);
        t = Terms(id, EID_A, uint64(block.timestamp + 1 hours), keccak256("decision"), legs);
    }

    function _sign(SettlementEscrow esc, Terms memory t) internal view returns (bytes memory) {
        bytes32 digest = esc.registrationDigest(t.settlementId, keccak256(abi.encode(t)), t.decisionRef);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ATTESTER_PK, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The buyer's one-time deposit key signs for the buyer's address as sender of leg 1.
    function _buyerSig(Terms memory t) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(BUYER_KEY, escB.depositDigest(t.settlementId, 1, buyer));
        return abi.encodePacked(r, s, v);
    }

    function _coolAll() internal virtual {
        for (uint256 i; i < _touched.length; ++i) {
            ICoolVm(address(vm)).cool(_touched[i]);
        }
    }

    /// @dev Intrinsic gas of a transaction with this calldata (21000 + 16/non-zero byte + 4/zero byte).
    function _intrinsic(bytes memory data) internal pure returns (uint256 gas) {
        gas = 21_000;
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    /// @dev Runs one transaction `to.call(data)` from `from` with cold state; returns execution gas.
    function _tx(address from, address to, bytes memory data) internal returns (uint256 used, uint256 intrinsic) {
        _coolAll();
        vm.prank(from);
        uint256 g = gasleft();
        (bool ok, bytes memory ret) = to.call(data);
        used = g - gasleft();
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        intrinsic = _intrinsic(data);
    }

    /// @dev Relays the single PacketSent in `logs` as the coordinator does; returns (execution, intrinsic) gas of
    /// the three transactions (verify, commitVerification, lzReceive).
    function _relay(Vm.Log[] memory logs, Stack memory dst) internal virtual returns (uint256 used, uint256 intrinsic) {
        (
            bytes memory header,
            bytes32 payloadHash,
            Origin memory origin,
            address receiver,
            bytes32 guid,
            bytes memory message
        ) = _packetSent(logs);
        (uint256 u, uint256 n) =
            _tx(relayer, dst.receiveLib, abi.encodeCall(ILocalReceiveUln.verify, (header, payloadHash, 1)));
        console.log("  verify", u);
        used += u;
        intrinsic += n;
        (u, n) =
            _tx(relayer, dst.receiveLib, abi.encodeCall(ILocalReceiveUln.commitVerification, (header, payloadHash)));
        console.log("  commitVerification", u);
        used += u;
        intrinsic += n;
        (u, n) =
            _tx(relayer, dst.endpoint, abi.encodeCall(ILocalEndpoint.lzReceive, (origin, receiver, guid, message, "")));
        used += u;
        intrinsic += n;
    }

    /// @dev The single PacketSent in `logs`, split into what verify, commit and lzReceive take.
    function _packetSent(Vm.Log[] memory logs)
        internal
        pure
        returns (
            bytes memory header,
            bytes32 payloadHash,
            Origin memory origin,
            address receiver,
            bytes32 guid,
            bytes memory message
        )
    {
        bytes memory packet;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == PACKET_SENT) (packet,,) = abi.decode(logs[i].data, (bytes, bytes, address));
        }
        require(packet.length > 81 + 32, "no PacketSent");
        header = new bytes(81);
        for (uint256 i; i < 81; ++i) {
            header[i] = packet[i];
        }
        bytes memory payload = new bytes(packet.length - 81);
        for (uint256 i; i < payload.length; ++i) {
            payload[i] = packet[81 + i];
        }
        payloadHash = keccak256(payload);
        origin = Origin(_u32(packet, 9), _b32(packet, 13), _u64(packet, 1));
        receiver = address(uint160(uint256(_b32(packet, 49))));
        guid = _b32(payload, 0);
        message = new bytes(payload.length - 32);
        for (uint256 i; i < message.length; ++i) {
            message[i] = payload[32 + i];
        }
    }

    function _b32(bytes memory b, uint256 at) internal pure returns (bytes32 v) {
        assembly ("memory-safe") {
            v := mload(add(add(b, 32), at))
        }
    }

    function _u32(bytes memory b, uint256 at) internal pure returns (uint32) {
        return uint32(uint256(_b32(b, at)) >> 224);
    }

    function _u64(bytes memory b, uint256 at) internal pure returns (uint64) {
        return uint64(uint256(_b32(b, at)) >> 192);
    }

    /// @dev R4: each escrow uses its own send and receive library and configuration, not the defaults.
    function test_RealStackLibrariesPinnedPerEscrow() public view {
        assertFalse(ILocalEndpoint(stackA.endpoint).isDefaultSendLibrary(address(escA), EID_B));
        assertEq(ILocalEndpoint(stackA.endpoint).getSendLibrary(address(escA), EID_B), stackA.sendLib);
        (address lib, bool isDefault) = ILocalEndpoint(stackB.endpoint).getReceiveLibrary(address(escB), EID_A);
        assertEq(lib, stackB.receiveLib);
        assertFalse(isDefault);
    }

    function _state(SettlementEscrow esc, bytes32 id) internal view returns (ISettlementEscrow.State state) {
        (, state,,) = esc.settlementOf(id);
    }

    /// @dev The whole two-leg cross-chain settlement through the real LayerZero stack, every transaction
    /// measured cold, in steady state (a first settlement already used both paths, so LayerZero's nonce
    /// slots are non-zero). Target (protocol.md): all transactions on both chains <= 500k.
    function test_RealStackCrossChainSettlement() public {
        _settleUnmetered(_terms(keccak256("LS-REAL-WARMUP")));
        Terms memory t = _terms();
        uint256 total;
        uint256 intrinsicTotal;
        uint256 u;
        uint256 n;
        (u, n) = _tx(address(this), address(escA), abi.encodeCall(escA.register, (t, _sign(escA, t))));
        console.log("register hub", u);
        total += u;
        intrinsicTotal += n;
        (u, n) = _tx(address(this), address(escB), abi.encodeCall(escB.register, (t, _sign(escB, t))));
        console.log("register spoke", u);
        total += u;
        intrinsicTotal += n;
        assertEq(escB.quoteDeposit(t, 1), 0); // zero-fee worker
        vm.recordLogs();
        (u, n) = _tx(buyer, address(escB), abi.encodeCall(escB.deposit, (t, 1, _buyerSig(t))));
        Vm.Log[] memory lockedLogs = vm.getRecordedLogs();
        console.log("spoke deposit + LOCKED send", u);
        total += u;
        intrinsicTotal += n;
        (u, n) = _tx(seller, address(escA), abi.encodeCall(escA.deposit, (t, 0, "")));
        console.log("hub deposit", u);
        total += u;
        intrinsicTotal += n;
        vm.recordLogs();
        (u, n) = _relay(lockedLogs, stackA);
        Vm.Log[] memory releaseLogs = vm.getRecordedLogs();
        console.log("relay LOCKED to hub (verify+commit+lzReceive: executes, sends RELEASE)", u);
        total += u;
        intrinsicTotal += n;
        assertEq(uint8(_state(escA, t.settlementId)), uint8(ISettlementEscrow.State.EXECUTED));
        (u, n) = _relay(releaseLogs, stackB);
        console.log("relay RELEASE to spoke (verify+commit+lzReceive: pays)", u);
        total += u;
        intrinsicTotal += n;
        assertEq(uint8(_state(escB, t.settlementId)), uint8(ISettlementEscrow.State.EXECUTED));
        assertEq(asset.balanceOf(buyerVault), 200e18);
        assertEq(cash.balanceOf(sellerCash), 2000e6);
        console.log("total execution gas, 10 transactions", total);
        console.log("total intrinsic + calldata gas", intrinsicTotal);
        console.log("total including intrinsic", total + intrinsicTotal);
        // protocol.md's target is 500k. Two registrations (~130k) plus the real ULN302 cost of two
        // messages (send ~95k, verify ~27k, commitVerification ~54k each: ~350k) already exceed it, so
        // the target is not reachable with this design; docs/protocol.md reports the breakdown. This
        // bound only guards against regressions.
        assertLe(total, _crossChainGasBound(), "cross-chain settlement, execution gas");
    }

    function _settleUnmetered(Terms memory t) internal {
        asset.mint(seller, t.legs[0].amount);
        cash.mint(buyer, t.legs[1].amount);
        escA.register(t, _sign(escA, t));
        escB.register(t, _sign(escB, t));
        vm.recordLogs();
        bytes memory sig = _buyerSig(t);
        vm.prank(buyer);
        escB.deposit(t, 1, sig);
        Vm.Log[] memory lockedLogs = vm.getRecordedLogs();
        vm.prank(seller);
        escA.deposit(t, 0, "");
        vm.recordLogs();
        _relay(lockedLogs, stackA);
        _relay(vm.getRecordedLogs(), stackB);
        assertEq(uint8(_state(escB, t.settlementId)), uint8(ISettlementEscrow.State.EXECUTED));
    }

    /// @dev Timeout path through the real stack: hub aborts, the locked spoke is refunded by ABORT.
    function test_RealStackAbortRefundsLockedSpoke() public {
        Terms memory t = _terms();
        escA.register(t, _sign(escA, t));
        escB.register(t, _sign(escB, t));
        bytes memory sig = _buyerSig(t);
        vm.prank(buyer);
        escB.deposit(t, 1, sig);
        vm.warp(t.timeoutAt);
        vm.recordLogs();
        escA.refund(t);
        _relay(vm.getRecordedLogs(), stackB);
        assertEq(uint8(_state(escB, t.settlementId)), uint8(ISettlementEscrow.State.REFUNDED));
        assertEq(cash.balanceOf(buyer), 1000e6);
    }
}

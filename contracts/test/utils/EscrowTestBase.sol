// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {TestHelperOz5} from "@layerzerolabs/test-devtools-evm-foundry/contracts/TestHelperOz5.sol";

import {SettlementEscrow} from "../../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../../src/ISettlementEscrow.sol";
import {DemoToken} from "../../src/demo/DemoToken.sol";

/// @notice Three chains (A = hub eid 1, B = eid 2, C = eid 3) with LayerZero's test endpoints and ULN,
/// one escrow per chain wired as peers, demo tokens and helpers to build, sign and settle terms.
abstract contract EscrowTestBase is TestHelperOz5 {
    uint32 internal constant A = 1;
    uint32 internal constant B = 2;
    uint32 internal constant C = 3;
    uint256 internal constant ATTESTER_PK = 0xA77E57;
    uint256 internal constant ASSET_AMOUNT = 100e18;
    uint256 internal constant CASH_AMOUNT = 1_000_000e6;
    /// @dev Private keys of the one-time deposit keys (the secrets of v1 became keys in v2).
    bytes32 internal constant BUYER_SECRET = keccak256("buyer secret");
    bytes32 internal constant SELLER_SECRET = keccak256("seller secret");
    uint64 internal constant TTL = 1 hours;
    /// @dev Every test escrow accepts settlements up to one day long.
    uint256 internal constant MAX_DURATION = 1 days;
    bytes32 internal constant DEPOSIT_TYPEHASH =
        keccak256("Deposit(bytes32 settlementId,uint256 legIndex,address sender)");

    address internal attester;
    SettlementEscrow internal escA;
    SettlementEscrow internal escB;
    SettlementEscrow internal escC;
    DemoToken internal asset;
    DemoToken internal cash;
    address internal seller = makeAddr("seller");
    address internal buyer = makeAddr("buyer");
    address internal sellerCash = makeAddr("sellerCash");
    address internal buyerVault = makeAddr("buyerVault");
    address internal stranger = makeAddr("stranger");

    function setUp() public virtual override {
        super.setUp();
        setUpEndpoints(3, LibraryType.UltraLightNode);
        attester = vm.addr(ATTESTER_PK);
        escA = new SettlementEscrow(endpoints[A], address(this), attester, MAX_DURATION);
        escB = new SettlementEscrow(endpoints[B], address(this), attester, MAX_DURATION);
        escC = new SettlementEscrow(endpoints[C], address(this), attester, MAX_DURATION);
        address[] memory oapps = new address[](3);
        oapps[0] = address(escA);
        oapps[1] = address(escB);
        oapps[2] = address(escC);
        wireOApps(oapps);
        asset = new DemoToken("Asset", "AST", 18);
        cash = new DemoToken("Cash", "CSH", 6);
        vm.label(address(escA), "escA");
        vm.label(address(escB), "escB");
        vm.label(address(escC), "escC");
    }

    // ------------------------------------------------------------------ terms

    /// @dev A leg deposited by `depositor`, or (depositor zero) by whoever the key with private key `secret` signs for.
    function _leg(uint32 eid, address token, uint256 amount, address depositor, bytes32 secret, address recipient)
        internal
        pure
        returns (Leg memory)
    {
        return Leg({
            eid: eid,
            token: token,
            amount: amount,
            depositor: depositor,
            depositKey: depositor == address(0) ? vm.addr(uint256(secret)) : address(0),
            recipient: recipient
        });
    }

    /// @dev EIP-712 domain separator of an escrow, computed locally (no call, so it never consumes a prank).
    function _domainSeparator(address esc) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Lockstep"),
                keccak256("1"),
                block.chainid,
                esc
            )
        );
    }

    /// @dev The deposit key `keyPk`'s signature letting `sender` deposit leg `legIndex` of `id` on `esc`.
    function _keySig(address esc, bytes32 id, uint256 legIndex, address sender, uint256 keyPk)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01", _domainSeparator(esc), keccak256(abi.encode(DEPOSIT_TYPEHASH, id, legIndex, sender))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keyPk, digest);
        return abi.encodePacked(r, s, v);
    }

    function _terms(bytes32 id, uint32 hub, Leg[] memory legs) internal view returns (Terms memory) {
        return Terms({
            settlementId: id,
            hubEid: hub,
            timeoutAt: uint64(block.timestamp) + TTL,
            decisionRef: keccak256(abi.encode("decision", id)),
            legs: legs
        });
    }

    /// @dev Seller delivers the asset (fixed depositor), buyer pays cash (secret), both on chain A.
    function _singleChain(bytes32 id) internal view returns (Terms memory) {
        Leg[] memory legs = new Leg[](2);
        legs[0] = _leg(A, address(asset), ASSET_AMOUNT, seller, 0, buyerVault);
        legs[1] = _leg(A, address(cash), CASH_AMOUNT, address(0), BUYER_SECRET, sellerCash);
        return _terms(id, A, legs);
    }

    /// @dev Asset on hub A (seller, fixed), cash on spoke B (buyer, secret).
    function _crossChain(bytes32 id) internal view returns (Terms memory) {
        Leg[] memory legs = new Leg[](2);
        legs[0] = _leg(A, address(asset), ASSET_AMOUNT, seller, 0, buyerVault);
        legs[1] = _leg(B, address(cash), CASH_AMOUNT, address(0), BUYER_SECRET, sellerCash);
        return _terms(id, A, legs);
    }

    /// @dev Hub A with spokes B and C: asset on A, cash on B, a second asset leg on C.
    function _threeChain(bytes32 id) internal view returns (Terms memory) {
        Leg[] memory legs = new Leg[](3);
        legs[0] = _leg(A, address(asset), ASSET_AMOUNT, seller, 0, buyerVault);
        legs[1] = _leg(B, address(cash), CASH_AMOUNT, address(0), BUYER_SECRET, sellerCash);
        legs[2] = _leg(C, address(asset), ASSET_AMOUNT / 2, address(0), SELLER_SECRET, buyerVault);
        return _terms(id, A, legs);
    }

    // ------------------------------------------------------------------ actions

    function _sign(SettlementEscrow esc, Terms memory t, uint256 pk) internal view returns (bytes memory) {
        bytes32 digest = esc.registrationDigest(t.settlementId, keccak256(abi.encode(t)), t.decisionRef);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function _register(SettlementEscrow esc, Terms memory t) internal {
        esc.register(t, _sign(esc, t, ATTESTER_PK));
    }

    function _escrowOf(uint32 eid) internal view returns (SettlementEscrow) {
        return eid == A ? escA : eid == B ? escB : escC;
    }

    function _depositorOf(Terms memory t, uint256 i) internal view returns (address) {
        Leg memory leg = t.legs[i];
        if (leg.depositor != address(0)) return leg.depositor;
        return leg.depositKey == vm.addr(uint256(BUYER_SECRET)) ? buyer : seller;
    }

    /// @dev The deposit signature for leg `i` sent by its usual depositor (empty for fixed-depositor legs).
    function _sigOf(Terms memory t, uint256 i) internal view returns (bytes memory) {
        return _sigOf(t, i, _depositorOf(t, i));
    }

    /// @dev The deposit signature for leg `i` sent by `sender` (empty for fixed-depositor legs).
    function _sigOf(Terms memory t, uint256 i, address sender) internal view returns (bytes memory) {
        Leg memory leg = t.legs[i];
        if (leg.depositor != address(0)) return "";
        uint256 pk = leg.depositKey == vm.addr(uint256(BUYER_SECRET)) ? uint256(BUYER_SECRET) : uint256(SELLER_SECRET);
        return _keySig(address(_escrowOf(leg.eid)), t.settlementId, i, sender, pk);
    }

    /// @dev Funds the leg's depositor, approves and deposits with the quoted LayerZero fee.
    function _deposit(Terms memory t, uint256 i) internal {
        SettlementEscrow esc = _escrowOf(t.legs[i].eid);
        address who = _depositorOf(t, i);
        _fund(who, t.legs[i].token, address(esc), t.legs[i].amount);
        uint256 fee = esc.quoteDeposit(t, i);
        vm.deal(who, fee);
        vm.prank(who);
        esc.deposit{value: fee}(t, i, _sigOf(t, i));
    }

    function _fund(address who, address token, address spender, uint256 amount) internal {
        DemoToken(token).mint(who, amount);
        vm.prank(who);
        DemoToken(token).approve(spender, amount);
    }

    function _deliver(uint32 dstEid) internal {
        verifyPackets(dstEid, addressToBytes32(address(_escrowOf(dstEid))));
    }

    function _stateOf(SettlementEscrow esc, bytes32 id) internal view returns (ISettlementEscrow.State state) {
        (, state,,) = esc.settlementOf(id);
    }

    function _pending(uint32 dstEid) internal view returns (bool) {
        return hasPendingPackets(uint16(dstEid), addressToBytes32(address(_escrowOf(dstEid))));
    }
}

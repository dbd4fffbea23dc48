// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {SettlementEscrow} from "../src/SettlementEscrow.sol";
import {ISettlementEscrow, Terms, Leg} from "../src/ISettlementEscrow.sol";
import {DemoToken} from "../src/demo/DemoToken.sol";

/// @notice Unit tests of every external function and revert path on one chain (A), plus fuzz tests.
contract SettlementEscrowTest is EscrowTestBase {
    bytes32 internal constant ID = keccak256("LS-UNIT-1");

    // ================================================================== constructor and owner

    function test_Constructor() public view {
        assertEq(escA.localEid(), A);
        assertEq(escA.attester(), attester);
        assertEq(escA.owner(), address(this));
    }

    function test_RevertWhen_ConstructorAttesterZero() public {
        vm.expectRevert(ISettlementEscrow.EscrowZeroAddress.selector);
        new SettlementEscrow(endpoints[A], address(this), address(0), MAX_DURATION);
    }

    function test_SetAttester() public {
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.AttesterSet(attester, stranger);
        escA.setAttester(stranger);
        assertEq(escA.attester(), stranger);
    }

    function test_RevertWhen_SetAttesterZero() public {
        vm.expectRevert(ISettlementEscrow.EscrowZeroAddress.selector);
        escA.setAttester(address(0));
    }

    function test_RevertWhen_SetAttesterNotOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escA.setAttester(stranger);
    }

    function test_RevertWhen_PauseNotOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escA.pause();
    }

    function test_RevertWhen_UnpauseNotOwner() public {
        escA.pause();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escA.unpause();
    }

    function test_RevertWhen_SetPeerNotOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escA.setPeer(B, bytes32(uint256(1)));
    }

    // ================================================================== registration

    function test_Register() public {
        Terms memory t = _singleChain(ID);
        bytes32 termsHash = keccak256(abi.encode(t));
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.SettlementRegistered(ID, termsHash, A, t.timeoutAt, t.decisionRef);
        vm.prank(stranger); // anyone may submit
        escA.register(t, _sign(escA, t, ATTESTER_PK));
        (bytes32 stored, ISettlementEscrow.State state, uint32 deposited, uint32 locked) = escA.settlementOf(ID);
        assertEq(stored, termsHash);
        assertEq(uint8(state), uint8(ISettlementEscrow.State.OPEN));
        assertEq(deposited, 0);
        assertEq(locked, 0);
    }

    /// @dev The digest follows docs/onchain-terms.md exactly: EIP-712 domain ("Lockstep", "1", chainid, escrow).
    function test_RegistrationDigestMatchesSpec() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Lockstep"),
                keccak256("1"),
                block.chainid,
                address(escA)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Registration(bytes32 settlementId,bytes32 termsHash,bytes32 decisionRef)"),
                ID,
                bytes32(uint256(2)),
                bytes32(uint256(3))
            )
        );
        assertEq(
            escA.registrationDigest(ID, bytes32(uint256(2)), bytes32(uint256(3))),
            MessageHashUtils.toTypedDataHash(domain, structHash)
        );
    }

    function test_RegisterWhilePausedThenUnpaused() public {
        Terms memory t = _singleChain(ID);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        escA.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        escA.register(t, sig);
        escA.unpause();
        escA.register(t, sig);
    }

    function test_RevertWhen_RegisterTwice() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidState.selector, ID, ISettlementEscrow.State.OPEN)
        );
        escA.register(t, sig);
    }

    function test_RevertWhen_RegisterExpired() public {
        Terms memory t = _singleChain(ID);
        t.timeoutAt = uint64(block.timestamp);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowExpired.selector, ID, t.timeoutAt));
        escA.register(t, sig);
    }

    function test_RevertWhen_RegisterWrongSigner() public {
        Terms memory t = _singleChain(ID);
        bytes memory sig = _sign(escA, t, 0xBAD);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidAttestation.selector, ID, vm.addr(0xBAD)));
        escA.register(t, sig);
    }

    function test_RevertWhen_RegisterMalformedSignature() public {
        Terms memory t = _singleChain(ID);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidAttestation.selector, ID, address(0)));
        escA.register(t, hex"1234");
    }

    /// @dev An attestation for chain A's escrow cannot register on chain B's escrow (domain binding).
    function test_RevertWhen_RegisterAttestationForOtherEscrow() public {
        Terms memory t = _crossChain(ID);
        bytes memory sigForA = _sign(escA, t, ATTESTER_PK);
        vm.expectPartialRevert(ISettlementEscrow.EscrowInvalidAttestation.selector);
        escB.register(t, sigForA);
    }

    function test_RevertWhen_RegisterTermsAlteredAfterSigning() public {
        Terms memory t = _singleChain(ID);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        t.legs[1].amount += 1;
        vm.expectPartialRevert(ISettlementEscrow.EscrowInvalidAttestation.selector);
        escA.register(t, sig);
    }

    function test_RevertWhen_RegisterNoLegs() public {
        Terms memory t = _terms(ID, A, new Leg[](0));
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidLegCount.selector, ID, 0));
        escA.register(t, "");
    }

    function test_RevertWhen_RegisterTooManyLegs() public {
        Leg[] memory legs = new Leg[](33);
        for (uint256 i; i < 33; ++i) {
            legs[i] = _leg(A, address(cash), 1, seller, 0, buyer);
        }
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidLegCount.selector, ID, 33));
        escA.register(_terms(ID, A, legs), "");
    }

    /// @dev The maximum of 32 legs on one chain: every bit of the leg bitmaps is exercised.
    function test_ThirtyTwoLegsExecute() public {
        Leg[] memory legs = new Leg[](32);
        for (uint256 i; i < 32; ++i) {
            legs[i] = _leg(A, address(cash), i + 1, address(0), bytes32(i + 1), address(uint160(0x1000 + i)));
        }
        Terms memory t = _terms(ID, A, legs);
        _register(escA, t);
        for (uint256 i; i < 32; ++i) {
            address who = address(uint160(0x2000 + i));
            _fund(who, address(cash), address(escA), i + 1);
            vm.prank(who);
            escA.deposit(t, i, _keySig(address(escA), ID, i, who, i + 1));
            (, ISettlementEscrow.State state, uint32 mask,) = escA.settlementOf(ID);
            if (i < 31) {
                assertEq(uint8(state), uint8(ISettlementEscrow.State.OPEN));
                assertEq(mask, uint32((uint256(1) << (i + 1)) - 1));
            }
        }
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.EXECUTED));
        for (uint256 i; i < 32; ++i) {
            assertEq(cash.balanceOf(address(uint160(0x1000 + i))), i + 1);
        }
        assertEq(cash.balanceOf(address(escA)), 0);
    }

    /// @dev 32 legs, some deposited (including high indices), refunded after the timeout.
    function test_ThirtyTwoLegsRefund() public {
        Leg[] memory legs = new Leg[](32);
        for (uint256 i; i < 32; ++i) {
            legs[i] = _leg(A, address(cash), i + 1, address(uint160(0x2000 + i)), 0, address(uint160(0x1000 + i)));
        }
        Terms memory t = _terms(ID, A, legs);
        _register(escA, t);
        uint256[4] memory picks = [uint256(0), 9, 17, 31];
        for (uint256 k; k < 4; ++k) {
            address who = address(uint160(0x2000 + picks[k]));
            _fund(who, address(cash), address(escA), picks[k] + 1);
            vm.prank(who);
            escA.deposit(t, picks[k], "");
        }
        vm.warp(t.timeoutAt);
        escA.refund(t);
        for (uint256 k; k < 4; ++k) {
            assertEq(cash.balanceOf(address(uint160(0x2000 + picks[k]))), picks[k] + 1);
        }
        assertEq(cash.balanceOf(address(escA)), 0);
    }

    function test_RevertWhen_RegisterLegZeroAmount() public {
        Terms memory t = _singleChain(ID);
        t.legs[1].amount = 0;
        _expectInvalidLeg(t, 1);
    }

    function test_RevertWhen_RegisterLegZeroToken() public {
        Terms memory t = _singleChain(ID);
        t.legs[0].token = address(0);
        _expectInvalidLeg(t, 0);
    }

    function test_RevertWhen_RegisterLegZeroRecipient() public {
        Terms memory t = _singleChain(ID);
        t.legs[0].recipient = address(0);
        _expectInvalidLeg(t, 0);
    }

    function test_RevertWhen_RegisterLegZeroEid() public {
        Terms memory t = _singleChain(ID);
        t.legs[0].eid = 0;
        _expectInvalidLeg(t, 0);
    }

    function test_RevertWhen_RegisterLegBothDepositorAndKey() public {
        Terms memory t = _singleChain(ID);
        t.legs[0].depositKey = makeAddr("k");
        _expectInvalidLeg(t, 0);
    }

    function test_RevertWhen_RegisterLegNeitherDepositorNorKey() public {
        Terms memory t = _singleChain(ID);
        t.legs[1].depositKey = address(0);
        _expectInvalidLeg(t, 1);
    }

    function test_RevertWhen_RegisterHubNotInLegs() public {
        Terms memory t = _singleChain(ID);
        t.hubEid = C;
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowHubNotInLegs.selector, ID, C));
        escA.register(t, "");
    }

    function test_RevertWhen_RegisterNoLocalLeg() public {
        Terms memory t = _crossChain(ID);
        t.legs[0].eid = C;
        t.hubEid = C;
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNoLocalLeg.selector, ID, A));
        escA.register(t, "");
    }

    function test_RevertWhen_RegisterHubWithoutSpokePeer() public {
        escA.setPeer(B, bytes32(0));
        Terms memory t = _crossChain(ID);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNoPeer.selector, ID, B));
        escA.register(t, "");
    }

    function test_RevertWhen_RegisterSpokeWithoutHubPeer() public {
        escB.setPeer(A, bytes32(0));
        Terms memory t = _crossChain(ID);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNoPeer.selector, ID, A));
        escB.register(t, "");
    }

    function _expectInvalidLeg(Terms memory t, uint256 i) internal {
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidLeg.selector, ID, i));
        escA.register(t, "");
    }

    // ================================================================== deposits and single-chain execution

    function test_DepositFixedDepositor() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.LegDeposited(ID, 0, seller, address(asset), ASSET_AMOUNT);
        vm.prank(seller);
        escA.deposit(t, 0, "");
        (, ISettlementEscrow.State state, uint32 deposited,) = escA.settlementOf(ID);
        assertEq(uint8(state), uint8(ISettlementEscrow.State.OPEN));
        assertEq(deposited, 1);
        assertEq(asset.balanceOf(address(escA)), ASSET_AMOUNT);
        assertEq(escA.depositorOf(ID, 0), address(0)); // fixed depositors are in the terms
    }

    function test_DepositBySecretRecordsDepositor() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(stranger, address(cash), address(escA), CASH_AMOUNT);
        vm.prank(stranger); // whichever sender the deposit key signed for (e.g. the buyer's custody) deposits
        escA.deposit(t, 1, _sigOf(t, 1, stranger));
        assertEq(escA.depositorOf(ID, 1), stranger);
        assertEq(cash.balanceOf(address(escA)), CASH_AMOUNT);
    }

    function test_LastDepositExecutesSingleChain() public {
        Terms memory t = _singleChain(ID);
        bytes32 termsHash = keccak256(abi.encode(t));
        _register(escA, t);
        _deposit(t, 1);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.SettlementExecuted(ID, termsHash, t.decisionRef);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.LegReleased(ID, 0, buyerVault, address(asset), ASSET_AMOUNT);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.LegReleased(ID, 1, sellerCash, address(cash), CASH_AMOUNT);
        vm.prank(seller);
        escA.deposit(t, 0, "");
        assertEq(asset.balanceOf(buyerVault), ASSET_AMOUNT);
        assertEq(cash.balanceOf(sellerCash), CASH_AMOUNT);
        assertEq(asset.balanceOf(address(escA)), 0);
        assertEq(cash.balanceOf(address(escA)), 0);
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.EXECUTED));
        assertEq(escA.depositorOf(ID, 1), address(0));
    }

    function test_DepositReturnsUnspentValue() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.deal(seller, 1 ether);
        vm.prank(seller);
        escA.deposit{value: 1 ether}(t, 0, "");
        assertEq(seller.balance, 1 ether);
        assertEq(address(escA).balance, 0);
    }

    function test_RevertWhen_DepositExcessValueNotReturnable() public {
        NoReceiveDepositor custody = new NoReceiveDepositor();
        Terms memory t = _singleChain(ID);
        t.legs[0].depositor = address(custody); // a contract without receive(): returning excess fails
        _register(escA, t);
        asset.mint(address(custody), ASSET_AMOUNT);
        vm.deal(address(custody), 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowFeeRefundFailed.selector, address(custody), 1 ether)
        );
        custody.deposit(escA, t, 0, 1 ether);
    }

    function test_RevertWhen_DepositWithPermitLegOutOfRange() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowLegNotLocal.selector, ID, 7));
        escA.depositWithPermit(t, 7, "", block.timestamp, 27, bytes32(0), bytes32(0));
    }

    function test_DepositWhilePaused() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        escA.pause();
        _deposit(t, 0);
        _deposit(t, 1);
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.EXECUTED));
    }

    function test_DepositWithPermit() public {
        uint256 pk = 0xB0B;
        address holder = vm.addr(pk);
        Terms memory t = _singleChain(ID);
        t.legs[0].depositor = holder;
        _register(escA, t);
        asset.mint(holder, ASSET_AMOUNT);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                holder,
                address(escA),
                ASSET_AMOUNT,
                asset.nonces(holder),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(pk, MessageHashUtils.toTypedDataHash(asset.DOMAIN_SEPARATOR(), structHash));
        vm.prank(holder);
        escA.depositWithPermit(t, 0, "", deadline, v, r, s);
        assertEq(asset.balanceOf(address(escA)), ASSET_AMOUNT);
    }

    /// @dev A front-run (already used) permit does not block the deposit when the allowance exists.
    function test_DepositWithPermitIgnoresFailedPermit() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.prank(seller);
        escA.depositWithPermit(t, 0, "", block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(asset.balanceOf(address(escA)), ASSET_AMOUNT);
    }

    function test_RevertWhen_DepositWithPermitNoAllowance() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        asset.mint(seller, ASSET_AMOUNT);
        vm.prank(seller);
        vm.expectRevert();
        escA.depositWithPermit(t, 0, "", block.timestamp, 27, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_DepositUnregistered() public {
        Terms memory t = _singleChain(ID);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementEscrow.EscrowTermsMismatch.selector, ID, bytes32(0), keccak256(abi.encode(t))
            )
        );
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositTermsMismatch() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        bytes32 registered = keccak256(abi.encode(t));
        t.legs[0].recipient = stranger;
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementEscrow.EscrowTermsMismatch.selector, ID, registered, keccak256(abi.encode(t))
            )
        );
        vm.prank(seller);
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositAtTimeout() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.warp(t.timeoutAt);
        vm.prank(seller);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowExpired.selector, ID, t.timeoutAt));
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositAfterExecution() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        _deposit(t, 1);
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidState.selector, ID, ISettlementEscrow.State.EXECUTED)
        );
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositAfterRefund() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.warp(t.timeoutAt);
        escA.refund(t);
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidState.selector, ID, ISettlementEscrow.State.REFUNDED)
        );
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositLegTwice() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        _fund(seller, address(asset), address(escA), ASSET_AMOUNT);
        vm.prank(seller);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowLegAlreadyDeposited.selector, ID, 0));
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositLegIndexOutOfRange() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowLegNotLocal.selector, ID, 2));
        escA.deposit(t, 2, "");
    }

    function test_RevertWhen_DepositRemoteLeg() public {
        Terms memory t = _crossChain(ID);
        _register(escA, t);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowLegNotLocal.selector, ID, 1));
        escA.deposit(t, 1, _sigOf(t, 1));
    }

    function test_RevertWhen_DepositNotFixedDepositor() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(stranger, address(asset), address(escA), ASSET_AMOUNT);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowUnauthorizedDepositor.selector, ID, 0, stranger));
        escA.deposit(t, 0, "");
    }

    function test_RevertWhen_DepositWrongSecret() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(buyer, address(cash), address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowUnauthorizedDepositor.selector, ID, 1, buyer));
        escA.deposit(t, 1, _keySig(address(escA), ID, 1, buyer, uint256(SELLER_SECRET)));
    }

    function test_RevertWhen_DepositInsufficientAllowance() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        asset.mint(seller, ASSET_AMOUNT);
        vm.prank(seller);
        vm.expectRevert();
        escA.deposit(t, 0, "");
    }

    // ================================================================== refunds

    function test_RefundAfterTimeout() public {
        Terms memory t = _singleChain(ID);
        bytes32 termsHash = keccak256(abi.encode(t));
        _register(escA, t);
        _deposit(t, 0);
        vm.warp(t.timeoutAt);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.SettlementRefunded(ID, termsHash);
        vm.expectEmit(address(escA));
        emit ISettlementEscrow.LegRefunded(ID, 0, seller, address(asset), ASSET_AMOUNT);
        vm.prank(stranger); // permissionless
        escA.refund(t);
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
        assertEq(asset.balanceOf(address(escA)), 0);
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.REFUNDED));
    }

    function test_RefundSecretLegGoesToRecordedDepositor() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(stranger, address(cash), address(escA), CASH_AMOUNT);
        vm.prank(stranger);
        escA.deposit(t, 1, _sigOf(t, 1, stranger));
        vm.warp(t.timeoutAt);
        escA.refund(t);
        assertEq(cash.balanceOf(stranger), CASH_AMOUNT);
        assertEq(escA.depositorOf(ID, 1), address(0));
    }

    function test_RefundWithNoDeposits() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.warp(t.timeoutAt);
        escA.refund(t);
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.REFUNDED));
    }

    function test_RefundWhilePaused() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        escA.pause();
        vm.warp(t.timeoutAt);
        escA.refund(t);
        assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
    }

    function test_RevertWhen_RefundBeforeTimeout() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.warp(t.timeoutAt - 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNotExpired.selector, ID, t.timeoutAt));
        escA.refund(t);
    }

    function test_RevertWhen_RefundTwice() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        vm.warp(t.timeoutAt);
        escA.refund(t);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidState.selector, ID, ISettlementEscrow.State.REFUNDED)
        );
        escA.refund(t);
    }

    function test_RevertWhen_RefundAfterExecution() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        _deposit(t, 1);
        vm.warp(t.timeoutAt);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowInvalidState.selector, ID, ISettlementEscrow.State.EXECUTED)
        );
        escA.refund(t);
    }

    function test_RevertWhen_RefundUnregistered() public {
        Terms memory t = _singleChain(ID);
        vm.warp(t.timeoutAt);
        vm.expectPartialRevert(ISettlementEscrow.EscrowTermsMismatch.selector);
        escA.refund(t);
    }

    // ================================================================== resend, quotes

    function test_RevertWhen_ResendSingleChain() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        _deposit(t, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowNothingToSend.selector, ID, ISettlementEscrow.State.EXECUTED)
        );
        escA.resend(t);
    }

    function test_RevertWhen_ResendOpen() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementEscrow.EscrowNothingToSend.selector, ID, ISettlementEscrow.State.OPEN)
        );
        escA.resend(t);
    }

    function test_RevertWhen_QuoteResendNothing() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        vm.expectPartialRevert(ISettlementEscrow.EscrowNothingToSend.selector);
        escA.quoteResend(t);
    }

    function test_QuotesAreZeroSingleChain() public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        assertEq(escA.quoteDeposit(t, 0), 0);
        assertEq(escA.quoteRefund(t), 0);
        assertEq(escA.quoteDeposit(t, 5), 0);
    }

    // ================================================================== fuzz (each paired with a concrete case above)

    /// @dev Pairs with test_LastDepositExecutesSingleChain: any amounts, any deposit order, always atomic.
    function testFuzz_SingleChainExecutesAtomically(uint96 assetAmount, uint96 cashAmount, bool sellerFirst) public {
        assetAmount = uint96(bound(assetAmount, 1, type(uint96).max));
        cashAmount = uint96(bound(cashAmount, 1, type(uint96).max));
        Terms memory t = _singleChain(ID);
        t.legs[0].amount = assetAmount;
        t.legs[1].amount = cashAmount;
        _register(escA, t);
        _deposit(t, sellerFirst ? 0 : 1);
        assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.OPEN));
        _deposit(t, sellerFirst ? 1 : 0);
        assertEq(asset.balanceOf(buyerVault), assetAmount);
        assertEq(cash.balanceOf(sellerCash), cashAmount);
        assertEq(asset.balanceOf(address(escA)) + cash.balanceOf(address(escA)), 0);
    }

    /// @dev Pairs with test_RevertWhen_DepositWrongSecret.
    function testFuzz_RevertWhen_DepositWrongSecret(bytes32 secret) public {
        secret = bytes32(bound(uint256(secret), 1, SECP256K1_ORDER - 1));
        vm.assume(secret != BUYER_SECRET);
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _fund(buyer, address(cash), address(escA), CASH_AMOUNT);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowUnauthorizedDepositor.selector, ID, 1, buyer));
        escA.deposit(t, 1, _keySig(address(escA), ID, 1, buyer, uint256(secret)));
    }

    /// @dev Pairs with test_RefundAfterTimeout / test_RevertWhen_RefundBeforeTimeout / test_RevertWhen_DepositAtTimeout.
    function testFuzz_TimeoutBoundary(uint64 elapsed) public {
        Terms memory t = _singleChain(ID);
        _register(escA, t);
        _deposit(t, 0);
        elapsed = uint64(bound(elapsed, 0, 2 * TTL));
        vm.warp(block.timestamp + elapsed);
        if (block.timestamp < t.timeoutAt) {
            vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowNotExpired.selector, ID, t.timeoutAt));
            escA.refund(t);
            _deposit(t, 1);
            assertEq(uint8(_stateOf(escA, ID)), uint8(ISettlementEscrow.State.EXECUTED));
        } else {
            _fund(buyer, address(cash), address(escA), CASH_AMOUNT);
            vm.prank(buyer);
            vm.expectRevert(abi.encodeWithSelector(ISettlementEscrow.EscrowExpired.selector, ID, t.timeoutAt));
            escA.deposit(t, 1, _sigOf(t, 1));
            escA.refund(t);
            assertEq(asset.balanceOf(seller), ASSET_AMOUNT);
        }
    }

    /// @dev Pairs with test_RevertWhen_RegisterTermsAlteredAfterSigning: any change to the terms breaks the attestation.
    function testFuzz_RevertWhen_RegisterAlteredAmount(uint256 amount) public {
        Terms memory t = _singleChain(ID);
        bytes memory sig = _sign(escA, t, ATTESTER_PK);
        vm.assume(amount != 0 && amount != t.legs[0].amount);
        t.legs[0].amount = amount;
        vm.expectPartialRevert(ISettlementEscrow.EscrowInvalidAttestation.selector);
        escA.register(t, sig);
    }
}

/// @notice Custody contract that can deposit but cannot receive native value.
contract NoReceiveDepositor {
    function deposit(SettlementEscrow esc, Terms calldata t, uint256 leg, uint256 value) external {
        DemoToken(t.legs[leg].token).approve(address(esc), t.legs[leg].amount);
        esc.deposit{value: value}(t, leg, "");
    }
}

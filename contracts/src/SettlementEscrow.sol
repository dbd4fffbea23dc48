// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {OApp, Origin} from "@layerzerolabs/oapp-evm/contracts/oapp/OApp.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {ISettlementEscrow, Terms, Leg} from "./ISettlementEscrow.sol";
import {SettlementMsgCodec} from "./libs/SettlementMsgCodec.sol";
import {EscrowStorage} from "./escrow/EscrowStorage.sol";
import {EscrowPayouts} from "./escrow/EscrowPayouts.sol";
import {EscrowMessaging} from "./escrow/EscrowMessaging.sol";

/// @title SettlementEscrow
/// @notice Lockstep's escrow (v2), one per chain, a LayerZero v2 OApp. For a settlement the escrow on
/// `terms.hubEid` decides; the escrows on the other chains of its legs (spokes) follow the hub's
/// RELEASE or ABORT. Every payout moves one leg with a bounded gas allowance; a transfer that fails is
/// recorded as owed to its beneficiary (`claim`), so no token, address or message can block another
/// leg or keep a settlement from becoming final. See docs/protocol.md.
/// @dev Every call passes the full `Terms`, checked against the stored `termsHash`; messages carry them
/// too. This file holds the entry points (registration, deposits, unwind, resend, views) and the receive
/// side; state is in `EscrowStorage`, per-leg payouts and claims in `EscrowPayouts`, sending in
/// `EscrowMessaging`.
contract SettlementEscrow is EscrowPayouts, EscrowMessaging, EIP712, Pausable {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of the registration attestation.
    bytes32 public constant REGISTRATION_TYPEHASH =
        keccak256("Registration(bytes32 settlementId,bytes32 termsHash,bytes32 decisionRef)");
    /// @notice EIP-712 type hash of a deposit key's authorisation of one sender for one leg.
    bytes32 public constant DEPOSIT_TYPEHASH =
        keccak256("Deposit(bytes32 settlementId,uint256 legIndex,address sender)");

    /// @param endpoint_ This chain's LayerZero EndpointV2.
    /// @param owner_ Owner (wiring only) and LayerZero delegate; in production a TimelockController whose
    /// minimum delay exceeds `maxSettlementDuration_`.
    /// @param attester_ The key whose EIP-712 signatures register settlements.
    /// @param maxSettlementDuration_ Longest `timeoutAt - block.timestamp` accepted at registration.
    constructor(address endpoint_, address owner_, address attester_, uint256 maxSettlementDuration_)
        OApp(endpoint_, owner_)
        Ownable(owner_)
        EIP712("Lockstep", "1")
        EscrowStorage(endpoint_, attester_, maxSettlementDuration_)
    {}

    // ================================================================== owner (wiring only)

    /// @notice Changes the attester. Affects only future registrations.
    /// @param attester_ The new attester.
    function setAttester(address attester_) external onlyOwner {
        if (attester_ == address(0)) revert EscrowZeroAddress();
        emit AttesterSet(attester, attester_);
        attester = attester_;
    }

    /// @notice Stops new registrations. Deposits, executions, refunds, aborts, claims and messages keep working.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Allows new registrations again.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ================================================================== registration

    /// @inheritdoc ISettlementEscrow
    function register(Terms calldata terms, bytes calldata signature) external whenNotPaused {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        if (s.state != State.NONE) revert EscrowInvalidState(id, s.state);
        bytes32 termsHash = keccak256(abi.encode(terms));
        bool isHub = terms.hubEid == localEid;
        // What peers told us before we registered, about exactly these terms (other sets are never applied).
        Settlement storage b = _bufferOf(s, id, termsHash);
        uint32 locked = isHub ? b.lockedMask : 0;
        // Expired terms are rejected, with one exception that keeps liveness: a hub that was never
        // registered but already heard LOCKED from a spoke registers straight into REFUNDED (aborted),
        // so `resend` can send the ABORT that unwinds that spoke. (`refund` does the same without an
        // attestation.)
        bool expired = terms.timeoutAt <= block.timestamp;
        if (expired && locked == 0) revert EscrowExpired(id, terms.timeoutAt);
        _validate(terms);

        _checkAttestation(id, termsHash, terms.decisionRef, signature);

        State next = State.OPEN;
        if (expired || (!isHub && b.flags & _FLAG_EARLY_ABORT != 0)) next = State.REFUNDED;
        _settlements[id] = Settlement(termsHash, next, 0, 0, locked, 0, address(0));
        emit SettlementRegistered(id, termsHash, terms.hubEid, terms.timeoutAt, terms.decisionRef);
        if (next == State.REFUNDED) emit SettlementRefunded(id, termsHash);
    }

    // ================================================================== deposits

    /// @inheritdoc ISettlementEscrow
    function deposit(Terms calldata terms, uint256 legIndex, bytes calldata signature) external payable nonReentrant {
        _deposit(terms, legIndex, signature);
    }

    /// @inheritdoc ISettlementEscrow
    function depositWithPermit(
        Terms calldata terms,
        uint256 legIndex,
        bytes calldata signature,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external payable nonReentrant {
        if (legIndex < terms.legs.length) {
            Leg calldata leg = terms.legs[legIndex];
            // A front-run permit makes this call fail while the allowance is already there.
            try IERC20Permit(leg.token).permit(msg.sender, address(this), leg.amount, deadline, v, r, s) {} catch {}
        }
        _deposit(terms, legIndex, signature);
    }

    function _deposit(Terms calldata terms, uint256 legIndex, bytes calldata signature) private {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        bytes32 termsHash = _checkTerms(s, id, encoded);
        if (s.state != State.OPEN) revert EscrowInvalidState(id, s.state);
        if (block.timestamp >= terms.timeoutAt) revert EscrowExpired(id, terms.timeoutAt);
        if (legIndex >= terms.legs.length || terms.legs[legIndex].eid != localEid) {
            revert EscrowLegNotLocal(id, legIndex);
        }
        uint32 deposited = s.depositedMask;
        if (deposited & uint32(1 << legIndex) != 0) revert EscrowLegAlreadyDeposited(id, legIndex);
        deposited |= uint32(1 << legIndex);
        _authorize(s, id, legIndex, terms.legs[legIndex], signature);
        s.depositedMask = deposited;
        _pull(id, legIndex, terms.legs[legIndex]);

        uint256 spent;
        if (deposited == _localMask(terms.legs)) spent = _lockLocal(s, terms, termsHash, encoded, deposited);
        _returnExcess(spent);
    }

    /// @dev A fixed-depositor leg needs the depositor as sender; a deposit-key leg needs the key's signature
    /// for this sender, who is recorded as the leg's depositor (refunds go there).
    function _authorize(Settlement storage s, bytes32 id, uint256 legIndex, Leg calldata leg, bytes calldata signature)
        private
    {
        if (leg.depositor != address(0)) {
            if (msg.sender != leg.depositor) revert EscrowUnauthorizedDepositor(id, legIndex, msg.sender);
            return;
        }
        // The key signed for this exact sender: a copied signature is useless from any other address.
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(_depositDigest(id, legIndex, msg.sender), signature);
        if (err != ECDSA.RecoverError.NoError || signer != leg.depositKey) {
            revert EscrowUnauthorizedDepositor(id, legIndex, msg.sender);
        }
        if (s.keyLeg == 0) {
            s.keyLeg = uint8(legIndex + 1);
            s.keyDepositor = msg.sender;
        } else {
            _keyDepositors[id][legIndex] = msg.sender;
        }
    }

    /// @dev Pulls exactly the leg amount from the sender; refuses tokens that deliver another amount.
    function _pull(bytes32 id, uint256 legIndex, Leg calldata leg) private {
        IERC20 token = IERC20(leg.token);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), leg.amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != leg.amount) revert EscrowTransferAmountMismatch(leg.token, leg.amount, received);
        emit LegDeposited(id, legIndex, msg.sender, leg.token, leg.amount);
    }

    /// @dev Every local leg is in: LOCKED; the hub executes if every spoke is locked, a spoke tells the hub.
    function _lockLocal(
        Settlement storage s,
        Terms calldata terms,
        bytes32 termsHash,
        bytes memory encoded,
        uint32 deposited
    ) private returns (uint256 spent) {
        s.state = State.LOCKED;
        emit SettlementLocked(terms.settlementId, termsHash);
        if (terms.hubEid == localEid) {
            if (deposited | s.lockedMask == _allMask(terms.legs.length)) {
                Terms memory t = terms;
                _execute(s, t, termsHash);
                spent = _broadcast(t, encoded, SettlementMsgCodec.RELEASE, msg.value, msg.sender);
            }
        } else {
            Terms memory t = terms;
            spent = _sendOrDefer(t, t.hubEid, SettlementMsgCodec.LOCKED, encoded, msg.value, msg.sender);
        }
    }

    // ================================================================== unwind, resend

    /// @inheritdoc ISettlementEscrow
    function refund(Terms calldata terms) external payable nonReentrant {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        bytes32 termsHash = keccak256(encoded);
        if (block.timestamp < terms.timeoutAt) revert EscrowNotExpired(id, terms.timeoutAt);
        bool isHub = terms.hubEid == localEid;
        State state = s.state;
        Terms memory t = terms;
        if (state == State.NONE) {
            // A hub that never registered but holds a spoke's LOCKED for exactly these terms: the spoke
            // registered them with an attestation, the deadline passed, so the hub can only abort. From
            // then on it holds these terms, so LOCKED for any other set is answered with ABORT.
            uint32 locked = _bufferOf(s, id, termsHash).lockedMask;
            if (!isHub || locked == 0) revert EscrowTermsMismatch(id, s.termsHash, termsHash);
            _settlements[id] = Settlement(termsHash, State.REFUNDED, 0, 0, locked, 0, address(0));
            emit SettlementRefunded(id, termsHash);
        } else {
            if (s.termsHash != termsHash) revert EscrowTermsMismatch(id, s.termsHash, termsHash);
            if (state == State.LOCKED && !isHub) revert EscrowAwaitingHub(id);
            if (state != State.OPEN && state != State.LOCKED) revert EscrowInvalidState(id, state);
            // Local deposits first; messaging afterwards can fail without undoing them.
            _refundAll(s, t, termsHash);
        }
        uint256 spent;
        if (isHub) spent = _broadcast(t, encoded, SettlementMsgCodec.ABORT, msg.value, msg.sender);
        _returnExcess(spent);
    }

    /// @inheritdoc ISettlementEscrow
    function resend(Terms calldata terms) external payable nonReentrant {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        (uint8 kind, uint256 fee) = _pendingMessage(s, terms, encoded);
        if (fee > msg.value) revert EscrowInsufficientFee(fee, msg.value);
        Terms memory t = terms;
        uint256 spent;
        if (kind == SettlementMsgCodec.LOCKED) {
            spent = _sendOrDefer(t, t.hubEid, kind, encoded, msg.value, msg.sender);
        } else {
            if (s.termsHash != keccak256(encoded)) emit ForeignTermsAborted(id, keccak256(encoded), 0);
            spent = _broadcast(t, encoded, kind, msg.value, msg.sender);
        }
        _returnExcess(spent);
    }

    // ================================================================== quotes and views

    /// @inheritdoc ISettlementEscrow
    function quoteResend(Terms calldata terms) external view returns (uint256 nativeFee) {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        (, nativeFee) = _pendingMessage(s, terms, abi.encode(terms));
    }

    /// @inheritdoc ISettlementEscrow
    function quoteDeposit(Terms calldata terms, uint256 legIndex) external view returns (uint256 nativeFee) {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        _checkTerms(s, id, encoded);
        if (s.state != State.OPEN || legIndex >= terms.legs.length) return 0;
        uint32 deposited = s.depositedMask | uint32(1 << legIndex);
        if (deposited != _localMask(terms.legs)) return 0;
        Terms memory t = terms;
        if (terms.hubEid != localEid) return _quoteOne(t, terms.hubEid, SettlementMsgCodec.LOCKED, encoded);
        if (deposited | s.lockedMask != _allMask(terms.legs.length)) return 0;
        return _quoteBroadcast(t, SettlementMsgCodec.RELEASE, encoded);
    }

    /// @inheritdoc ISettlementEscrow
    function quoteRefund(Terms calldata terms) external view returns (uint256 nativeFee) {
        if (terms.hubEid != localEid) return 0;
        Terms memory t = terms;
        return _quoteBroadcast(t, SettlementMsgCodec.ABORT, abi.encode(terms));
    }

    /// @inheritdoc ISettlementEscrow
    function settlementOf(bytes32 settlementId)
        external
        view
        returns (bytes32 termsHash, State state, uint32 depositedMask, uint32 lockedMask)
    {
        Settlement storage s = _settlements[settlementId];
        return (s.termsHash, s.state, s.depositedMask, s.lockedMask);
    }

    /// @inheritdoc ISettlementEscrow
    function depositorOf(bytes32 settlementId, uint256 legIndex) external view returns (address) {
        Settlement storage s = _settlements[settlementId];
        if (s.keyLeg != 0 && s.keyLeg == legIndex + 1) return s.keyDepositor;
        return _keyDepositors[settlementId][legIndex];
    }

    /// @inheritdoc ISettlementEscrow
    function registrationDigest(bytes32 settlementId, bytes32 termsHash, bytes32 decisionRef)
        external
        view
        returns (bytes32)
    {
        return _registrationDigest(settlementId, termsHash, decisionRef);
    }

    /// @inheritdoc ISettlementEscrow
    function depositDigest(bytes32 settlementId, uint256 legIndex, address sender) external view returns (bytes32) {
        return _depositDigest(settlementId, legIndex, sender);
    }

    // ================================================================== LayerZero receive

    /// @dev Endpoint and peer are checked by `OAppReceiver.lzReceive`. Never reverts on protocol grounds
    /// (only for too little gas): duplicates, wrong roles and foreign terms are ignored or answered with
    /// an event, so a message can neither block the channel nor be applied twice. Messages arriving
    /// before registration are buffered. Native value the executor sent and no message used goes back to
    /// the executor (or becomes owed to it if it refuses it).
    function _lzReceive(
        Origin calldata origin,
        bytes32 guid,
        bytes calldata message,
        address executor,
        bytes calldata /*extraData*/
    )
        internal
        override
        nonReentrant
    {
        uint8 kind = SettlementMsgCodec.kind(message);
        uint256 spent = _handle(kind, origin.srcEid, guid, SettlementMsgCodec.encodedTerms(message), executor);
        uint256 excess = msg.value - spent;
        if (excess != 0) {
            (bool ok,) = payable(executor).call{value: excess}("");
            if (!ok) {
                owed[address(0)][executor] += excess;
                emit NativeOwed(executor, excess);
            }
        }
    }

    function _handle(uint8 kind, uint32 srcEid, bytes32 guid, bytes memory encoded, address executor)
        private
        returns (uint256 spent)
    {
        bytes32 termsHash = keccak256(encoded);
        Terms memory t = abi.decode(encoded, (Terms));
        Settlement storage s = _settlements[t.settlementId];
        State state = s.state;
        bool isHub = t.hubEid == localEid;

        if (state == State.NONE) {
            _buffer(s, t, kind, srcEid, termsHash, isHub);
        } else if (s.termsHash != termsHash) {
            if (kind == SettlementMsgCodec.LOCKED && isHub && srcEid != localEid && _eidMask(t.legs, srcEid) != 0) {
                // This hub registered other terms for the id, so it can never execute these: tell the
                // spoke to unwind them.
                emit ForeignTermsAborted(t.settlementId, termsHash, srcEid);
                spent = _sendOrDefer(t, srcEid, SettlementMsgCodec.ABORT, encoded, msg.value, executor);
            } else {
                emit MessageIgnored(t.settlementId, kind, srcEid, state);
            }
        } else if (kind == SettlementMsgCodec.LOCKED && isHub) {
            spent = _onLocked(s, t, encoded, srcEid, guid, executor);
        } else if (kind == SettlementMsgCodec.RELEASE && !isHub && srcEid == t.hubEid && state == State.LOCKED) {
            emit MessageReceived(t.settlementId, kind, srcEid, guid);
            _execute(s, t, termsHash);
        } else if (
            kind == SettlementMsgCodec.ABORT && !isHub && srcEid == t.hubEid
                && (state == State.OPEN || state == State.LOCKED)
        ) {
            emit MessageReceived(t.settlementId, kind, srcEid, guid);
            _refundAll(s, t, termsHash);
        } else {
            emit MessageIgnored(t.settlementId, kind, srcEid, state);
        }
    }

    /// @dev LOCKED at the hub: record the spoke; execute if that completes the settlement in time; a late
    /// LOCKED at an aborted hub is answered with ABORT again so the spoke unwinds.
    function _onLocked(
        Settlement storage s,
        Terms memory t,
        bytes memory encoded,
        uint32 srcEid,
        bytes32 guid,
        address executor
    ) private returns (uint256 spent) {
        State state = s.state;
        uint32 spokeMask = _eidMask(t.legs, srcEid);
        if (spokeMask == 0 || srcEid == localEid || state == State.EXECUTED) {
            emit MessageIgnored(t.settlementId, SettlementMsgCodec.LOCKED, srcEid, state);
            return 0;
        }
        emit MessageReceived(t.settlementId, SettlementMsgCodec.LOCKED, srcEid, guid);
        if (state == State.REFUNDED) {
            return _sendOrDefer(t, srcEid, SettlementMsgCodec.ABORT, encoded, msg.value, executor);
        }
        uint32 locked = s.lockedMask | spokeMask;
        s.lockedMask = locked;
        bytes32 termsHash = s.termsHash;
        emit SpokeLocked(t.settlementId, termsHash, srcEid);
        if (
            state == State.LOCKED && block.timestamp < t.timeoutAt
                && s.depositedMask | locked == _allMask(t.legs.length)
        ) {
            _execute(s, t, termsHash);
            spent = _broadcast(t, encoded, SettlementMsgCodec.RELEASE, msg.value, executor);
        }
    }

    /// @dev Records a message for a settlement not registered here yet, per term set (`_bufferOf`): a
    /// message for one set can never hide or overwrite another's, and each message writes at most one
    /// slot. Only what can happen to an honest unregistered escrow is kept: a hub learning that a spoke
    /// locked, and a spoke learning that the hub aborted. A RELEASE cannot reach an unregistered spoke
    /// (the hub needs its LOCKED first).
    function _buffer(Settlement storage s, Terms memory t, uint8 kind, uint32 srcEid, bytes32 termsHash, bool isHub)
        private
    {
        bytes32 id = t.settlementId;
        if (kind == SettlementMsgCodec.LOCKED && isHub && srcEid != localEid) {
            uint32 spokeMask = _eidMask(t.legs, srcEid);
            if (spokeMask != 0) {
                _claimBuffer(s, id, termsHash).lockedMask |= spokeMask;
                emit MessageBuffered(id, kind, srcEid, termsHash);
                return;
            }
        } else if (kind == SettlementMsgCodec.ABORT && !isHub && srcEid == t.hubEid) {
            _claimBuffer(s, id, termsHash).flags |= _FLAG_EARLY_ABORT;
            emit MessageBuffered(id, kind, srcEid, termsHash);
            return;
        }
        emit MessageIgnored(t.settlementId, kind, srcEid, State.NONE);
    }

    // ================================================================== internals

    /// @dev What `resend` would send now: LOCKED (locked spoke), RELEASE (executed hub), ABORT (refunded
    /// hub, or terms this registered hub can never execute because it holds other terms for the id).
    function _pendingMessage(Settlement storage s, Terms calldata terms, bytes memory encoded)
        private
        view
        returns (uint8 kind, uint256 fee)
    {
        bytes32 id = terms.settlementId;
        State state = s.state;
        bool isHub = terms.hubEid == localEid;
        bytes32 termsHash = keccak256(encoded);
        Terms memory t = terms;
        if (s.termsHash != termsHash || state == State.NONE) {
            if (!isHub || state == State.NONE) revert EscrowTermsMismatch(id, s.termsHash, termsHash);
            kind = SettlementMsgCodec.ABORT;
        } else if (!isHub && state == State.LOCKED) {
            return (SettlementMsgCodec.LOCKED, _quoteOne(t, terms.hubEid, SettlementMsgCodec.LOCKED, encoded));
        } else if (isHub && state == State.EXECUTED) {
            kind = SettlementMsgCodec.RELEASE;
        } else if (isHub && state == State.REFUNDED) {
            kind = SettlementMsgCodec.ABORT;
        } else {
            revert EscrowNothingToSend(id, state);
        }
        if (_spokes(t.legs).length == 0) revert EscrowNothingToSend(id, state);
        fee = _quoteBroadcast(t, kind, encoded);
    }

    /// @dev Shape of the terms, `maxSettlementDuration`, and peers for every chain this escrow must message.
    function _validate(Terms calldata terms) private view {
        bytes32 id = terms.settlementId;
        uint256 latest = block.timestamp + maxSettlementDuration;
        if (terms.timeoutAt > latest) revert EscrowDurationTooLong(id, terms.timeoutAt, latest);
        uint256 n = terms.legs.length;
        if (n == 0 || n > MAX_LEGS) revert EscrowInvalidLegCount(id, n);
        uint32 hub = terms.hubEid;
        bool isHub = hub == localEid;
        bool hubSeen;
        bool localSeen;
        for (uint256 i; i < n; ++i) {
            Leg calldata leg = terms.legs[i];
            if (
                leg.eid == 0 || leg.token == address(0) || leg.amount == 0 || leg.recipient == address(0)
                    || (leg.depositor == address(0)) == (leg.depositKey == address(0))
            ) revert EscrowInvalidLeg(id, i);
            if (leg.eid == hub) hubSeen = true;
            if (leg.eid == localEid) localSeen = true;
            else if (isHub && peers[leg.eid] == bytes32(0)) revert EscrowNoPeer(id, leg.eid);
        }
        if (!hubSeen) revert EscrowHubNotInLegs(id, hub);
        if (!localSeen) revert EscrowNoLocalLeg(id, localEid);
        if (!isHub && peers[hub] == bytes32(0)) revert EscrowNoPeer(id, hub);
    }

    function _checkAttestation(bytes32 id, bytes32 termsHash, bytes32 decisionRef, bytes calldata signature)
        private
        view
    {
        bytes32 digest = _registrationDigest(id, termsHash, decisionRef);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != attester) revert EscrowInvalidAttestation(id, signer);
    }

    function _checkTerms(Settlement storage s, bytes32 id, bytes memory encoded)
        private
        view
        returns (bytes32 termsHash)
    {
        termsHash = keccak256(encoded);
        bytes32 registered = s.termsHash;
        if (registered != termsHash || s.state == State.NONE) {
            revert EscrowTermsMismatch(id, registered, termsHash);
        }
    }

    function _registrationDigest(bytes32 settlementId, bytes32 termsHash, bytes32 decisionRef)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(REGISTRATION_TYPEHASH, settlementId, termsHash, decisionRef)));
    }

    function _depositDigest(bytes32 settlementId, uint256 legIndex, address sender) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEPOSIT_TYPEHASH, settlementId, legIndex, sender)));
    }
}

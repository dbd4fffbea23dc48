// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {OApp, Origin, MessagingFee, MessagingReceipt} from "@layerzerolabs/oapp-evm/contracts/oapp/OApp.sol";
import {ILayerZeroEndpointV2} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";
import {OAppOptionsType3} from "@layerzerolabs/oapp-evm/contracts/oapp/libs/OAppOptionsType3.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ISettlementEscrow, Terms, Leg} from "./ISettlementEscrow.sol";
import {SettlementMsgCodec} from "./libs/SettlementMsgCodec.sol";

/// @title SettlementEscrow
/// @notice Lockstep's escrow, one per chain, a LayerZero v2 OApp. For a settlement the escrow on
/// `terms.hubEid` decides; the escrows on the other chains of its legs (spokes) follow the hub's
/// RELEASE or ABORT. See docs/protocol.md for the state machine and the ordering argument.
/// @dev Storage per settlement is two slots: the `termsHash` and a packed word (state, flags, bitmap of
/// local legs held, bitmap of remote legs reported locked), plus the depositor of secret-authorised
/// legs. Every call passes the full `Terms`, checked against `termsHash`; messages carry them too.
contract SettlementEscrow is ISettlementEscrow, OApp, OAppOptionsType3, EIP712, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Legs are tracked in 32-bit bitmaps.
    uint256 public constant MAX_LEGS = 32;
    /// @notice Executor gas for `lzReceive` when the owner set no enforced options for a message kind.
    uint128 public constant DEFAULT_RECEIVE_GAS = 400_000;
    /// @notice EIP-712 type hash of the registration attestation.
    bytes32 public constant REGISTRATION_TYPEHASH =
        keccak256("Registration(bytes32 settlementId,bytes32 termsHash,bytes32 decisionRef)");

    /// @dev Set on an unregistered spoke that received ABORT for the buffered `termsHash`.
    uint8 private constant _FLAG_EARLY_ABORT = 1;

    /// @dev Per-settlement storage: slot 0 the terms hash, slot 1 the packed rest.
    struct Settlement {
        bytes32 termsHash;
        State state;
        uint8 flags;
        uint32 depositedMask;
        uint32 lockedMask;
    }

    /// @inheritdoc ISettlementEscrow
    uint32 public immutable localEid;
    /// @inheritdoc ISettlementEscrow
    address public attester;

    mapping(bytes32 settlementId => Settlement) private _settlements;
    mapping(bytes32 settlementId => mapping(uint256 legIndex => address)) private _secretDepositors;

    /// @param endpoint_ This chain's LayerZero EndpointV2.
    /// @param owner_ Owner (wiring only) and LayerZero delegate.
    /// @param attester_ The key whose EIP-712 signatures register settlements.
    constructor(address endpoint_, address owner_, address attester_)
        OApp(endpoint_, owner_)
        Ownable(owner_)
        EIP712("Lockstep", "1")
    {
        if (attester_ == address(0)) revert EscrowZeroAddress();
        localEid = ILayerZeroEndpointV2(endpoint_).eid();
        attester = attester_;
        emit AttesterSet(address(0), attester_);
    }

    // ================================================================== owner (wiring only)

    /// @notice Changes the attester. Affects only future registrations.
    function setAttester(address attester_) external onlyOwner {
        if (attester_ == address(0)) revert EscrowZeroAddress();
        emit AttesterSet(attester, attester_);
        attester = attester_;
    }

    /// @notice Stops new registrations. Deposits, executions, refunds and messages keep working.
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
        bool buffered = s.termsHash == termsHash;
        // Expired terms are rejected, with one exception that keeps liveness: a hub that was never
        // registered but already heard LOCKED from a spoke registers straight into REFUNDED (aborted),
        // so `resend` can send the ABORT that unwinds that spoke.
        bool lateAbort = isHub && buffered && s.lockedMask != 0;
        if (terms.timeoutAt <= block.timestamp && !lateAbort) revert EscrowExpired(id, terms.timeoutAt);
        _validate(terms);

        _checkAttestation(id, termsHash, terms.decisionRef, signature);

        // Apply what peers told us before we registered, if it was about exactly these terms.
        State next = State.OPEN;
        uint32 locked;
        if (buffered) {
            if (isHub) locked = s.lockedMask;
            else if (s.flags & _FLAG_EARLY_ABORT != 0) next = State.REFUNDED;
        }
        if (lateAbort && terms.timeoutAt <= block.timestamp) next = State.REFUNDED;
        _settlements[id] = Settlement(termsHash, next, 0, 0, locked);
        emit SettlementRegistered(id, termsHash, terms.hubEid, terms.timeoutAt, terms.decisionRef);
        if (next == State.REFUNDED) emit SettlementRefunded(id, termsHash);
    }

    // ================================================================== deposits

    /// @inheritdoc ISettlementEscrow
    function deposit(Terms calldata terms, uint256 legIndex, bytes32 secret) external payable nonReentrant {
        _deposit(terms, legIndex, secret);
    }

    /// @inheritdoc ISettlementEscrow
    function depositWithPermit(
        Terms calldata terms,
        uint256 legIndex,
        bytes32 secret,
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
        _deposit(terms, legIndex, secret);
    }

    function _deposit(Terms calldata terms, uint256 legIndex, bytes32 secret) private {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        bytes32 termsHash = _checkTerms(s, id, encoded);
        if (s.state != State.OPEN) revert EscrowInvalidState(id, s.state);
        if (block.timestamp >= terms.timeoutAt) revert EscrowExpired(id, terms.timeoutAt);
        if (legIndex >= terms.legs.length || terms.legs[legIndex].eid != localEid) {
            revert EscrowLegNotLocal(id, legIndex);
        }
        uint32 bit = uint32(1 << legIndex);
        uint32 deposited = s.depositedMask;
        if (deposited & bit != 0) revert EscrowLegAlreadyDeposited(id, legIndex);

        Leg calldata leg = terms.legs[legIndex];
        if (leg.depositor != address(0)) {
            if (msg.sender != leg.depositor) revert EscrowUnauthorizedDepositor(id, legIndex, msg.sender);
        } else {
            if (keccak256(abi.encodePacked(secret)) != leg.depositKey) {
                revert EscrowUnauthorizedDepositor(id, legIndex, msg.sender);
            }
            _secretDepositors[id][legIndex] = msg.sender;
        }
        deposited |= bit;
        s.depositedMask = deposited;

        IERC20 token = IERC20(leg.token);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), leg.amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != leg.amount) revert EscrowTransferAmountMismatch(leg.token, leg.amount, received);
        emit LegDeposited(id, legIndex, msg.sender, leg.token, leg.amount);

        uint256 spent;
        if (deposited == _localMask(terms.legs)) {
            // Every local leg is in.
            s.state = State.LOCKED;
            emit SettlementLocked(id, termsHash);
            if (terms.hubEid == localEid) {
                if (deposited | s.lockedMask == _allMask(terms.legs.length)) {
                    Terms memory t = terms;
                    _execute(s, t, termsHash);
                    spent = _broadcast(t, encoded, SettlementMsgCodec.RELEASE, msg.value, msg.sender);
                }
            } else {
                spent = _sendOrDefer(id, terms.hubEid, SettlementMsgCodec.LOCKED, encoded, msg.value, msg.sender);
            }
        }
        _returnExcess(spent);
    }

    // ================================================================== unwind and resend

    /// @inheritdoc ISettlementEscrow
    function refund(Terms calldata terms) external payable nonReentrant {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        bytes32 termsHash = _checkTerms(s, id, encoded);
        if (block.timestamp < terms.timeoutAt) revert EscrowNotExpired(id, terms.timeoutAt);
        State state = s.state;
        bool isHub = terms.hubEid == localEid;
        if (state == State.LOCKED && !isHub) revert EscrowAwaitingHub(id);
        if (state != State.OPEN && state != State.LOCKED) revert EscrowInvalidState(id, state);

        Terms memory t = terms;
        _refundAll(s, t, termsHash);
        uint256 spent;
        if (isHub) spent = _broadcast(t, encoded, SettlementMsgCodec.ABORT, msg.value, msg.sender);
        _returnExcess(spent);
    }

    /// @inheritdoc ISettlementEscrow
    function resend(Terms calldata terms) external payable nonReentrant {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        _checkTerms(s, id, encoded);
        (uint8 kind, uint256 fee) = _pendingMessage(s, terms, encoded);
        if (fee > msg.value) revert EscrowInsufficientFee(fee, msg.value);
        Terms memory t = terms;
        uint256 spent = kind == SettlementMsgCodec.LOCKED
            ? _sendOrDefer(id, t.hubEid, kind, encoded, msg.value, msg.sender)
            : _broadcast(t, encoded, kind, msg.value, msg.sender);
        _returnExcess(spent);
    }

    // ================================================================== quotes and views

    /// @inheritdoc ISettlementEscrow
    function quoteResend(Terms calldata terms) external view returns (uint256 nativeFee) {
        bytes32 id = terms.settlementId;
        Settlement storage s = _settlements[id];
        bytes memory encoded = abi.encode(terms);
        _checkTerms(s, id, encoded);
        (, nativeFee) = _pendingMessage(s, terms, encoded);
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
        if (terms.hubEid != localEid) return _quoteOne(terms.hubEid, SettlementMsgCodec.LOCKED, encoded);
        if (deposited | s.lockedMask != _allMask(terms.legs.length)) return 0;
        return _quoteBroadcast(terms.legs, SettlementMsgCodec.RELEASE, encoded);
    }

    /// @inheritdoc ISettlementEscrow
    function quoteRefund(Terms calldata terms) external view returns (uint256 nativeFee) {
        if (terms.hubEid != localEid) return 0;
        return _quoteBroadcast(terms.legs, SettlementMsgCodec.ABORT, abi.encode(terms));
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
        return _secretDepositors[settlementId][legIndex];
    }

    /// @inheritdoc ISettlementEscrow
    function registrationDigest(bytes32 settlementId, bytes32 termsHash, bytes32 decisionRef)
        external
        view
        returns (bytes32)
    {
        return _registrationDigest(settlementId, termsHash, decisionRef);
    }

    // ================================================================== LayerZero receive

    /// @dev Endpoint and peer are checked by `OAppReceiver.lzReceive`. Never reverts on protocol
    /// grounds: duplicates, wrong roles and foreign terms are ignored with an event, so a message can
    /// neither block the channel nor be applied twice. Messages arriving before registration are buffered.
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
        _handle(kind, origin.srcEid, guid, SettlementMsgCodec.encodedTerms(message), executor);
    }

    function _handle(uint8 kind, uint32 srcEid, bytes32 guid, bytes memory encoded, address executor) private {
        bytes32 termsHash = keccak256(encoded);
        Terms memory t = abi.decode(encoded, (Terms));
        Settlement storage s = _settlements[t.settlementId];
        State state = s.state;
        bool isHub = t.hubEid == localEid;

        if (state == State.NONE) {
            _buffer(s, t, kind, srcEid, termsHash, isHub);
        } else if (s.termsHash != termsHash) {
            emit MessageIgnored(t.settlementId, kind, srcEid, state);
        } else if (kind == SettlementMsgCodec.LOCKED && isHub) {
            _onLocked(s, t, encoded, srcEid, guid, executor);
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
    ) private {
        State state = s.state;
        uint32 spokeMask = _eidMask(t.legs, srcEid);
        if (spokeMask == 0 || srcEid == localEid || state == State.EXECUTED) {
            emit MessageIgnored(t.settlementId, SettlementMsgCodec.LOCKED, srcEid, state);
            return;
        }
        emit MessageReceived(t.settlementId, SettlementMsgCodec.LOCKED, srcEid, guid);
        if (state == State.REFUNDED) {
            _sendOrDefer(t.settlementId, srcEid, SettlementMsgCodec.ABORT, encoded, msg.value, executor);
            return;
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
            _broadcast(t, encoded, SettlementMsgCodec.RELEASE, msg.value, executor);
        }
    }

    /// @dev Records a message for a settlement not registered here yet. Only what can happen to an
    /// honest unregistered escrow is kept: a hub learning that a spoke locked, and a spoke learning that
    /// the hub aborted. A RELEASE cannot reach an unregistered spoke (the hub needs its LOCKED first).
    function _buffer(Settlement storage s, Terms memory t, uint8 kind, uint32 srcEid, bytes32 termsHash, bool isHub)
        private
    {
        bytes32 buffered = s.termsHash;
        if (buffered != bytes32(0) && buffered != termsHash) {
            emit MessageIgnored(t.settlementId, kind, srcEid, State.NONE);
            return;
        }
        if (kind == SettlementMsgCodec.LOCKED && isHub && srcEid != localEid) {
            uint32 spokeMask = _eidMask(t.legs, srcEid);
            if (spokeMask != 0) {
                s.termsHash = termsHash;
                s.lockedMask |= spokeMask;
                emit MessageBuffered(t.settlementId, kind, srcEid, termsHash);
                return;
            }
        } else if (kind == SettlementMsgCodec.ABORT && !isHub && srcEid == t.hubEid) {
            s.termsHash = termsHash;
            s.flags |= _FLAG_EARLY_ABORT;
            emit MessageBuffered(t.settlementId, kind, srcEid, termsHash);
            return;
        }
        emit MessageIgnored(t.settlementId, kind, srcEid, State.NONE);
    }

    // ================================================================== internals: settlement

    function _execute(Settlement storage s, Terms memory t, bytes32 termsHash) private {
        bytes32 id = t.settlementId;
        s.state = State.EXECUTED;
        s.depositedMask = 0;
        emit SettlementExecuted(id, termsHash, t.decisionRef);
        uint256 n = t.legs.length;
        for (uint256 i; i < n; ++i) {
            Leg memory leg = t.legs[i];
            if (leg.eid != localEid) continue;
            if (leg.depositor == address(0)) delete _secretDepositors[id][i];
            IERC20(leg.token).safeTransfer(leg.recipient, leg.amount);
            emit LegReleased(id, i, leg.recipient, leg.token, leg.amount);
        }
    }

    function _refundAll(Settlement storage s, Terms memory t, bytes32 termsHash) private {
        bytes32 id = t.settlementId;
        uint32 deposited = s.depositedMask;
        s.state = State.REFUNDED;
        s.depositedMask = 0;
        emit SettlementRefunded(id, termsHash);
        uint256 n = t.legs.length;
        for (uint256 i; i < n; ++i) {
            if (uint256(deposited) & (1 << i) == 0) continue;
            Leg memory leg = t.legs[i];
            address to = leg.depositor;
            if (to == address(0)) {
                to = _secretDepositors[id][i];
                delete _secretDepositors[id][i];
            }
            IERC20(leg.token).safeTransfer(to, leg.amount);
            emit LegRefunded(id, i, to, leg.token, leg.amount);
        }
    }

    /// @dev What `resend` would send now: LOCKED (locked spoke), RELEASE (executed hub), ABORT (refunded hub).
    function _pendingMessage(Settlement storage s, Terms calldata terms, bytes memory encoded)
        private
        view
        returns (uint8 kind, uint256 fee)
    {
        State state = s.state;
        bool isHub = terms.hubEid == localEid;
        if (!isHub && state == State.LOCKED) {
            return (SettlementMsgCodec.LOCKED, _quoteOne(terms.hubEid, SettlementMsgCodec.LOCKED, encoded));
        }
        if (isHub && state == State.EXECUTED) kind = SettlementMsgCodec.RELEASE;
        else if (isHub && state == State.REFUNDED) kind = SettlementMsgCodec.ABORT;
        else revert EscrowNothingToSend(terms.settlementId, state);
        if (_spokes(terms.legs).length == 0) revert EscrowNothingToSend(terms.settlementId, state);
        fee = _quoteBroadcast(terms.legs, kind, encoded);
    }

    function _validate(Terms calldata terms) private view {
        bytes32 id = terms.settlementId;
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
                    || (leg.depositor == address(0)) == (leg.depositKey == bytes32(0))
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

    function _localMask(Leg[] calldata legs) private view returns (uint32 mask) {
        uint256 n = legs.length;
        for (uint256 i; i < n; ++i) {
            if (legs[i].eid == localEid) mask |= uint32(1 << i);
        }
    }

    function _eidMask(Leg[] memory legs, uint32 eid) private pure returns (uint32 mask) {
        uint256 n = legs.length;
        for (uint256 i; i < n; ++i) {
            if (legs[i].eid == eid) mask |= uint32(1 << i);
        }
    }

    function _allMask(uint256 n) private pure returns (uint32) {
        return uint32((uint256(1) << n) - 1);
    }

    // ================================================================== internals: messaging

    /// @dev Sends `kind` to every distinct remote eid of the legs if `budget` covers all fees; otherwise
    /// sends nothing and emits `MessageDeferred` (anyone can `resend`). Returns the fee spent.
    function _broadcast(Terms memory t, bytes memory encoded, uint8 kind, uint256 budget, address refundTo)
        private
        returns (uint256 spent)
    {
        uint32[] memory dsts = _spokes(t.legs);
        uint256 count = dsts.length;
        if (count == 0) return 0;
        bytes memory message = SettlementMsgCodec.encode(kind, encoded);
        uint256[] memory fees = new uint256[](count);
        for (uint256 j; j < count; ++j) {
            fees[j] = _quote(dsts[j], message, _options(dsts[j], kind), false).nativeFee;
            spent += fees[j];
        }
        if (spent > budget) {
            emit MessageDeferred(t.settlementId, kind, spent, budget);
            return 0;
        }
        for (uint256 j; j < count; ++j) {
            _sendPaid(t.settlementId, dsts[j], kind, message, fees[j], refundTo);
        }
    }

    /// @dev The distinct eids of the legs other than this chain's, in first-appearance order.
    function _spokes(Leg[] memory legs) private view returns (uint32[] memory dsts) {
        uint256 n = legs.length;
        dsts = new uint32[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            uint32 eid = legs[i].eid;
            if (eid == localEid || _seenBefore(legs, i, eid)) continue;
            dsts[count++] = eid;
        }
        assembly ("memory-safe") {
            mstore(dsts, count)
        }
    }

    /// @dev Sends one message if `budget` covers its fee, else emits `MessageDeferred`. Returns the fee spent.
    function _sendOrDefer(bytes32 id, uint32 dstEid, uint8 kind, bytes memory encoded, uint256 budget, address refundTo)
        private
        returns (uint256)
    {
        bytes memory message = SettlementMsgCodec.encode(kind, encoded);
        uint256 fee = _quote(dstEid, message, _options(dstEid, kind), false).nativeFee;
        if (fee > budget) {
            emit MessageDeferred(id, kind, fee, budget);
            return 0;
        }
        _sendPaid(id, dstEid, kind, message, fee, refundTo);
        return fee;
    }

    function _sendPaid(bytes32 id, uint32 dstEid, uint8 kind, bytes memory message, uint256 fee, address refundTo)
        private
    {
        MessagingReceipt memory receipt =
            _lzSend(dstEid, message, _options(dstEid, kind), MessagingFee(fee, 0), refundTo);
        emit MessageSent(id, kind, dstEid, receipt.guid, fee);
    }

    function _quoteOne(uint32 dstEid, uint8 kind, bytes memory encoded) private view returns (uint256) {
        bytes memory message = SettlementMsgCodec.encode(kind, encoded);
        return _quote(dstEid, message, _options(dstEid, kind), false).nativeFee;
    }

    function _quoteBroadcast(Leg[] calldata legs, uint8 kind, bytes memory encoded)
        private
        view
        returns (uint256 total)
    {
        uint32[] memory dsts = _spokes(legs);
        bytes memory message = SettlementMsgCodec.encode(kind, encoded);
        for (uint256 j; j < dsts.length; ++j) {
            total += _quote(dsts[j], message, _options(dsts[j], kind), false).nativeFee;
        }
    }

    function _seenBefore(Leg[] memory legs, uint256 i, uint32 eid) private pure returns (bool) {
        for (uint256 j; j < i; ++j) {
            if (legs[j].eid == eid) return true;
        }
        return false;
    }

    /// @dev Enforced options for (eid, kind) if the owner set them, else executor lzReceive gas only.
    function _options(uint32 eid, uint8 kind) private view returns (bytes memory options) {
        options = enforcedOptions[eid][kind];
        if (options.length == 0) {
            // TYPE_3 ‖ worker 1 (executor) ‖ size 17 ‖ option 1 (lzReceive) ‖ uint128 gas
            options = abi.encodePacked(uint16(3), uint8(1), uint16(17), uint8(1), DEFAULT_RECEIVE_GAS);
        }
    }

    /// @dev Fees are checked against the caller's budget before sending, so several messages can be paid
    /// from one `msg.value` (the base implementation requires `msg.value == fee` per message).
    function _payNative(uint256 nativeFee) internal pure override returns (uint256) {
        return nativeFee;
    }

    function _returnExcess(uint256 spent) private {
        uint256 excess = msg.value - spent;
        if (excess == 0) return;
        (bool ok,) = payable(msg.sender).call{value: excess}("");
        if (!ok) revert EscrowFeeRefundFailed(msg.sender, excess);
    }
}

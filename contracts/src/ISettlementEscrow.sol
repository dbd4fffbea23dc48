// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

/// @notice One leg of a settlement: an exact amount of one ERC-20 on one chain, deposited by a
/// fixed depositor or by whoever knows the deposit secret, paid to `recipient` at execution.
/// @dev Layout fixed by docs/onchain-terms.md; the coordinator encodes it byte for byte.
struct Leg {
    uint32 eid;
    address token;
    uint256 amount;
    address depositor;
    bytes32 depositKey;
    address recipient;
}

/// @notice The full, immutable terms of a settlement. `termsHash = keccak256(abi.encode(terms))`.
struct Terms {
    bytes32 settlementId;
    uint32 hubEid;
    uint64 timeoutAt;
    bytes32 decisionRef;
    Leg[] legs;
}

/// @title ISettlementEscrow
/// @notice Lockstep's per-chain escrow: delivery-versus-payment settlement of tokenised assets across
/// chains. One escrow per chain; for a settlement the escrow on `hubEid` decides, the others follow.
interface ISettlementEscrow {
    /// @notice Per-chain state of a settlement.
    enum State {
        NONE,
        OPEN,
        LOCKED,
        EXECUTED,
        REFUNDED
    }

    // ------------------------------------------------------------------ errors

    /// @notice The settlement is not in a state that allows the call.
    error EscrowInvalidState(bytes32 settlementId, State state);
    /// @notice The terms passed do not hash to the registered `termsHash`.
    error EscrowTermsMismatch(bytes32 settlementId, bytes32 registered, bytes32 given);
    /// @notice The attestation was not signed by the configured attester.
    error EscrowInvalidAttestation(bytes32 settlementId, address signer);
    /// @notice The terms have expired (`timeoutAt <= block.timestamp`).
    error EscrowExpired(bytes32 settlementId, uint64 timeoutAt);
    /// @notice The settlement's `timeoutAt` has not passed yet.
    error EscrowNotExpired(bytes32 settlementId, uint64 timeoutAt);
    /// @notice The terms have no legs or more than the supported maximum.
    error EscrowInvalidLegCount(bytes32 settlementId, uint256 count);
    /// @notice A leg is malformed (zero eid/token/amount/recipient, or not exactly one of depositor/depositKey).
    error EscrowInvalidLeg(bytes32 settlementId, uint256 legIndex);
    /// @notice `hubEid` is not the eid of any leg.
    error EscrowHubNotInLegs(bytes32 settlementId, uint32 hubEid);
    /// @notice No leg lives on this chain.
    error EscrowNoLocalLeg(bytes32 settlementId, uint32 localEid);
    /// @notice No peer escrow is configured for a chain the settlement must message.
    error EscrowNoPeer(bytes32 settlementId, uint32 eid);
    /// @notice The leg index is out of range or the leg lives on another chain.
    error EscrowLegNotLocal(bytes32 settlementId, uint256 legIndex);
    /// @notice The leg was already deposited.
    error EscrowLegAlreadyDeposited(bytes32 settlementId, uint256 legIndex);
    /// @notice The caller is not the fixed depositor, or the secret does not match the deposit key.
    error EscrowUnauthorizedDepositor(bytes32 settlementId, uint256 legIndex, address caller);
    /// @notice The escrow's balance did not grow by exactly the leg amount (fee-on-transfer, rebasing...).
    error EscrowTransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice A LOCKED spoke can only be unwound by the hub's ABORT.
    error EscrowAwaitingHub(bytes32 settlementId);
    /// @notice There is no message to (re)send for the settlement in its current state.
    error EscrowNothingToSend(bytes32 settlementId, State state);
    /// @notice `msg.value` does not cover the LayerZero fee of the messages to send.
    error EscrowInsufficientFee(uint256 required, uint256 provided);
    /// @notice Returning unspent `msg.value` to the caller failed.
    error EscrowFeeRefundFailed(address to, uint256 amount);
    /// @notice A zero address was given where one is not allowed.
    error EscrowZeroAddress();

    // ------------------------------------------------------------------ events

    /// @notice A settlement was registered on this chain.
    event SettlementRegistered(
        bytes32 indexed settlementId, bytes32 termsHash, uint32 hubEid, uint64 timeoutAt, bytes32 decisionRef
    );
    /// @notice A leg was deposited into this escrow.
    event LegDeposited(
        bytes32 indexed settlementId, uint256 indexed legIndex, address depositor, address token, uint256 amount
    );
    /// @notice Every local leg is deposited; a spoke now waits for the hub's decision.
    event SettlementLocked(bytes32 indexed settlementId, bytes32 termsHash);
    /// @notice The hub learnt that a spoke chain is locked.
    event SpokeLocked(bytes32 indexed settlementId, bytes32 termsHash, uint32 spokeEid);
    /// @notice The settlement executed on this chain; its local legs were paid.
    event SettlementExecuted(bytes32 indexed settlementId, bytes32 termsHash, bytes32 decisionRef);
    /// @notice A leg was paid to its recipient.
    event LegReleased(
        bytes32 indexed settlementId, uint256 indexed legIndex, address recipient, address token, uint256 amount
    );
    /// @notice The settlement was unwound on this chain; deposited local legs went back to their depositors.
    event SettlementRefunded(bytes32 indexed settlementId, bytes32 termsHash);
    /// @notice A deposited leg was returned to its depositor.
    event LegRefunded(
        bytes32 indexed settlementId, uint256 indexed legIndex, address depositor, address token, uint256 amount
    );
    /// @notice A protocol message was sent to a peer escrow.
    event MessageSent(bytes32 indexed settlementId, uint8 kind, uint32 dstEid, bytes32 guid, uint256 nativeFee);
    /// @notice A message could not be paid for; anyone can send it later with `resend`.
    event MessageDeferred(bytes32 indexed settlementId, uint8 kind, uint256 requiredFee, uint256 providedFee);
    /// @notice A message from a peer was applied.
    event MessageReceived(bytes32 indexed settlementId, uint8 kind, uint32 srcEid, bytes32 guid);
    /// @notice A message from a peer arrived before this chain registered the settlement and was recorded.
    event MessageBuffered(bytes32 indexed settlementId, uint8 kind, uint32 srcEid, bytes32 termsHash);
    /// @notice A message from a peer had no effect (duplicate, wrong role, or terms not matching).
    event MessageIgnored(bytes32 indexed settlementId, uint8 kind, uint32 srcEid, State state);
    /// @notice The attester changed.
    event AttesterSet(address previous, address current);

    // ------------------------------------------------------------------ calls

    /// @notice Registers `terms` on this chain with the attester's EIP-712 `Registration` signature.
    /// @dev Anyone may submit. Reverts when paused, already registered, expired or malformed.
    /// @param terms The settlement terms (same on every chain).
    /// @param signature 65-byte `r ‖ s ‖ v` signature by the attester.
    function register(Terms calldata terms, bytes calldata signature) external;

    /// @notice Deposits local leg `legIndex`, pulling exactly its amount from the caller.
    /// @dev For secret-authorised legs `keccak256(abi.encodePacked(secret))` must equal the deposit key;
    /// for fixed-depositor legs the caller must be the depositor and `secret` is ignored. The deposit that
    /// completes the local legs executes (hub, all spokes locked) or locks (spoke, sends LOCKED to the hub).
    /// `msg.value` pays any LayerZero message this triggers (see `quoteDeposit`); the unspent rest is returned.
    /// @param terms The registered terms.
    /// @param legIndex Index of the leg in `terms.legs`.
    /// @param secret The deposit secret, or zero for fixed-depositor legs.
    function deposit(Terms calldata terms, uint256 legIndex, bytes32 secret) external payable;

    /// @notice `deposit` preceded by an EIP-2612 `permit` from the caller to this escrow for the leg amount.
    /// @dev A failing permit is ignored (it may have been front-run); the deposit then needs the allowance.
    function depositWithPermit(
        Terms calldata terms,
        uint256 legIndex,
        bytes32 secret,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external payable;

    /// @notice Unwinds a settlement after `timeoutAt`: refunds the local deposits and, on the hub, aborts
    /// and sends ABORT to every spoke. Permissionless. A LOCKED spoke reverts: only the hub's ABORT unwinds it.
    /// @param terms The registered terms.
    function refund(Terms calldata terms) external payable;

    /// @notice (Re)sends this chain's pending protocol message for a settlement, paid by `msg.value`:
    /// LOCKED to the hub from a LOCKED spoke, RELEASE (executed hub) or ABORT (refunded hub) to every spoke.
    /// @dev Permissionless and idempotent on the receiving side.
    function resend(Terms calldata terms) external payable;

    /// @notice Native fee for the messages `resend(terms)` would send now.
    function quoteResend(Terms calldata terms) external view returns (uint256 nativeFee);

    /// @notice Native fee the deposit of `legIndex` must carry if it completes the local legs
    /// (LOCKED from a spoke; RELEASE to every spoke from a hub whose spokes are all locked); 0 otherwise.
    function quoteDeposit(Terms calldata terms, uint256 legIndex) external view returns (uint256 nativeFee);

    /// @notice Native fee a `refund(terms)` on this chain must carry (ABORT to every spoke on the hub).
    function quoteRefund(Terms calldata terms) external view returns (uint256 nativeFee);

    /// @notice The registered `termsHash`, the state and the bitmap of local legs currently held.
    function settlementOf(bytes32 settlementId)
        external
        view
        returns (bytes32 termsHash, State state, uint32 depositedMask, uint32 lockedMask);

    /// @notice The depositor recorded for a deposited secret-authorised leg (zero otherwise).
    function depositorOf(bytes32 settlementId, uint256 legIndex) external view returns (address);

    /// @notice The EIP-712 digest the attester signs to register `terms` on this escrow.
    function registrationDigest(bytes32 settlementId, bytes32 termsHash, bytes32 decisionRef)
        external
        view
        returns (bytes32);

    /// @notice This chain's LayerZero endpoint id.
    function localEid() external view returns (uint32);

    /// @notice The address whose signature registers settlements.
    function attester() external view returns (address);
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

/// @notice One leg of a settlement: an exact amount of one ERC-20 on one chain, deposited by a fixed
/// depositor or by a sender that the one-time deposit key signed for, paid to `recipient` at execution.
/// @dev Layout fixed by docs/onchain-terms.md; the coordinator encodes it byte for byte. Exactly one of
/// `depositor` and `depositKey` is non-zero.
struct Leg {
    uint32 eid;
    address token;
    uint256 amount;
    address depositor;
    address depositKey;
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
/// Every payout is isolated per leg: a transfer that fails is recorded as owed and claimed later.
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
    /// @notice `timeoutAt` is further away than this escrow's `maxSettlementDuration` allows.
    error EscrowDurationTooLong(bytes32 settlementId, uint64 timeoutAt, uint256 latestTimeoutAt);
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
    /// @notice The caller is not the fixed depositor, or the deposit key did not sign for this caller.
    error EscrowUnauthorizedDepositor(bytes32 settlementId, uint256 legIndex, address caller);
    /// @notice The escrow's balance did not grow by exactly the leg amount (fee-on-transfer, rebasing...).
    error EscrowTransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice A LOCKED spoke can only be unwound by the hub's ABORT.
    error EscrowAwaitingHub(bytes32 settlementId);
    /// @notice There is no message to (re)send for the settlement in its current state.
    error EscrowNothingToSend(bytes32 settlementId, State state);
    /// @notice `msg.value` does not cover the LayerZero fee of the messages `resend` would send.
    error EscrowInsufficientFee(uint256 required, uint256 provided);
    /// @notice Returning unspent `msg.value` to the caller failed.
    error EscrowFeeRefundFailed(address to, uint256 amount);
    /// @notice Less gas is left than one bounded leg transfer needs (the caller must send more gas).
    error EscrowInsufficientGas(uint256 gasLeft, uint256 required);
    /// @notice The caller is owed nothing in this token.
    error EscrowNothingOwed(address token, address beneficiary);
    /// @notice A zero address was given where one is not allowed.
    error EscrowZeroAddress();
    /// @notice `maxSettlementDuration` must be positive.
    error EscrowZeroDuration();

    // ------------------------------------------------------------------ events

    /// @notice A settlement was registered on this chain.
    event SettlementRegistered(
        bytes32 indexed settlementId, bytes32 termsHash, uint32 hubEid, uint64 timeoutAt, bytes32 decisionRef
    );
    /// @notice A leg was deposited into this escrow by `depositor` (the sender).
    event LegDeposited(
        bytes32 indexed settlementId, uint256 indexed legIndex, address depositor, address token, uint256 amount
    );
    /// @notice Every local leg is deposited; a spoke now waits for the hub's decision.
    event SettlementLocked(bytes32 indexed settlementId, bytes32 termsHash);
    /// @notice The hub learnt that a spoke chain is locked.
    event SpokeLocked(bytes32 indexed settlementId, bytes32 termsHash, uint32 spokeEid);
    /// @notice The settlement executed on this chain; its local legs were paid or recorded as owed.
    event SettlementExecuted(bytes32 indexed settlementId, bytes32 termsHash, bytes32 decisionRef);
    /// @notice A leg was paid to its recipient.
    event LegReleased(
        bytes32 indexed settlementId, uint256 indexed legIndex, address recipient, address token, uint256 amount
    );
    /// @notice The settlement was unwound on this chain; deposited local legs went back to their depositors
    /// or were recorded as owed to them.
    event SettlementRefunded(bytes32 indexed settlementId, bytes32 termsHash);
    /// @notice A deposited leg was returned to its depositor.
    event LegRefunded(
        bytes32 indexed settlementId, uint256 indexed legIndex, address depositor, address token, uint256 amount
    );
    /// @notice The transfer of a leg to `beneficiary` failed (reverted, returned false, ran out of its gas
    /// allowance or hit no code); the amount is now `owed[token][beneficiary]`, to be claimed.
    /// @param refund False when the leg was being released to its recipient, true when refunded to its depositor.
    event LegOwed(
        bytes32 indexed settlementId,
        uint256 indexed legIndex,
        address indexed beneficiary,
        address token,
        uint256 amount,
        bool refund
    );
    /// @notice `beneficiary` withdrew what it was owed in `token` (address(0) = native) to `to`.
    event Claimed(address indexed token, address indexed beneficiary, address to, uint256 amount);
    /// @notice Unspent native value could not be returned to `beneficiary`; it is owed (token address(0)).
    event NativeOwed(address indexed beneficiary, uint256 amount);
    /// @notice A protocol message was sent to a peer escrow.
    event MessageSent(bytes32 indexed settlementId, uint8 kind, uint32 dstEid, bytes32 guid, uint256 nativeFee);
    /// @notice A message to `dstEid` was not sent (fee not covered, quote or send failed); anyone can send
    /// it later with `resend`. `requiredFee` is 0 when the quote itself failed.
    event MessageDeferred(
        bytes32 indexed settlementId, uint8 kind, uint32 dstEid, uint256 requiredFee, uint256 providedFee
    );
    /// @notice A message from a peer was applied.
    event MessageReceived(bytes32 indexed settlementId, uint8 kind, uint32 srcEid, bytes32 guid);
    /// @notice A message from a peer arrived before this chain registered the settlement and was recorded.
    event MessageBuffered(bytes32 indexed settlementId, uint8 kind, uint32 srcEid, bytes32 termsHash);
    /// @notice A message from a peer had no effect (duplicate, wrong role, or terms not matching).
    event MessageIgnored(bytes32 indexed settlementId, uint8 kind, uint32 srcEid, State state);
    /// @notice This hub holds other terms for the settlement id, so it can never execute `termsHash`;
    /// it answers (or will answer, if deferred) ABORT for those terms so their spokes unwind.
    event ForeignTermsAborted(bytes32 indexed settlementId, bytes32 termsHash, uint32 spokeEid);
    /// @notice The attester changed.
    event AttesterSet(address previous, address current);

    // ------------------------------------------------------------------ calls

    /// @notice Registers `terms` on this chain with the attester's EIP-712 `Registration` signature.
    /// @dev Anyone may submit. Reverts when paused, already registered, expired, malformed or when
    /// `timeoutAt` is later than `block.timestamp + maxSettlementDuration`.
    /// @param terms The settlement terms (same on every chain).
    /// @param signature 65-byte `r ‖ s ‖ v` signature by the attester.
    function register(Terms calldata terms, bytes calldata signature) external;

    /// @notice Deposits local leg `legIndex`, pulling exactly its amount from the caller.
    /// @dev For fixed-depositor legs the caller must be `depositor` and `signature` is ignored. For
    /// deposit-key legs `signature` must be the key's EIP-712 `Deposit(settlementId, legIndex, sender)`
    /// signature with `sender == msg.sender` (docs/onchain-terms.md). The deposit that completes the local
    /// legs executes (hub, all spokes locked) or locks (spoke, sends LOCKED to the hub). `msg.value` pays
    /// any LayerZero message this triggers (see `quoteDeposit`); the unspent rest is returned.
    /// @param terms The registered terms.
    /// @param legIndex Index of the leg in `terms.legs`.
    /// @param signature The deposit key's signature for this sender, or empty for fixed-depositor legs.
    function deposit(Terms calldata terms, uint256 legIndex, bytes calldata signature) external payable;

    /// @notice `deposit` preceded by an EIP-2612 `permit` from the caller to this escrow for the leg amount.
    /// @dev A failing permit is ignored (it may have been front-run); the deposit then needs the allowance.
    function depositWithPermit(
        Terms calldata terms,
        uint256 legIndex,
        bytes calldata signature,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external payable;

    /// @notice Unwinds a settlement after `timeoutAt`, permissionless, never blocked by pause or messaging:
    /// refunds the local deposits first (failed transfers become owed), then on the hub tries to send
    /// ABORT to every spoke (a failure is deferred to `resend`). Also aborts a hub that never registered
    /// but holds a buffered LOCKED for exactly these terms (no attestation needed). A LOCKED spoke
    /// reverts: only the hub's ABORT unwinds it.
    /// @param terms The registered (or, on an unregistered hub, buffered) terms.
    function refund(Terms calldata terms) external payable;

    /// @notice (Re)sends this chain's pending protocol message for a settlement, paid by `msg.value`:
    /// LOCKED to the hub from a LOCKED spoke, RELEASE (executed hub) or ABORT (refunded hub) to every
    /// spoke, or ABORT for foreign terms (terms for an id this hub registered with other terms).
    /// @dev Permissionless and idempotent on the receiving side. Destinations whose fee is not covered or
    /// whose quote/send fails are deferred again (event) instead of reverting.
    function resend(Terms calldata terms) external payable;

    /// @notice Pays `msg.sender`'s whole owed amount of `token` (address(0) = native) to `to`.
    /// @param token The token the caller is owed.
    /// @param to Where to send it (any address the caller chooses).
    /// @return amount The amount paid.
    function claim(address token, address to) external returns (uint256 amount);

    /// @notice What `beneficiary` can claim in `token` (address(0) = native).
    function owed(address token, address beneficiary) external view returns (uint256);

    /// @notice Native fee for the messages `resend(terms)` would send now (failing quotes count as 0).
    function quoteResend(Terms calldata terms) external view returns (uint256 nativeFee);

    /// @notice Native fee the deposit of `legIndex` must carry if it completes the local legs
    /// (LOCKED from a spoke; RELEASE to every spoke from a hub whose spokes are all locked); 0 otherwise.
    function quoteDeposit(Terms calldata terms, uint256 legIndex) external view returns (uint256 nativeFee);

    /// @notice Native fee a `refund(terms)` on this chain should carry (ABORT to every spoke on the hub).
    function quoteRefund(Terms calldata terms) external view returns (uint256 nativeFee);

    /// @notice The registered (or buffered) `termsHash`, the state, the bitmap of local legs currently
    /// held and the bitmap of remote legs reported locked.
    function settlementOf(bytes32 settlementId)
        external
        view
        returns (bytes32 termsHash, State state, uint32 depositedMask, uint32 lockedMask);

    /// @notice The sender recorded for a deposited deposit-key leg (zero otherwise, and after payout).
    function depositorOf(bytes32 settlementId, uint256 legIndex) external view returns (address);

    /// @notice The EIP-712 digest the attester signs to register `terms` on this escrow.
    function registrationDigest(bytes32 settlementId, bytes32 termsHash, bytes32 decisionRef)
        external
        view
        returns (bytes32);

    /// @notice The EIP-712 digest a leg's deposit key signs to let `sender` deposit that leg on this escrow.
    function depositDigest(bytes32 settlementId, uint256 legIndex, address sender) external view returns (bytes32);

    /// @notice This chain's LayerZero endpoint id.
    function localEid() external view returns (uint32);

    /// @notice The address whose signature registers settlements.
    function attester() external view returns (address);

    /// @notice The longest `timeoutAt - block.timestamp` a registration accepts, seconds (immutable).
    function maxSettlementDuration() external view returns (uint256);

    /// @notice Gas allowance of each leg transfer at execution or refund (immutable constant).
    function TRANSFER_GAS() external view returns (uint256);
}

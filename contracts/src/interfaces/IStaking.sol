// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Validator staking of dbc-node (stateful precompile at 0x…0D03)
/// @notice Delegated proof of stake. Candidates bond a self-stake and set a commission; anyone
/// delegates DBC to a candidate. At every epoch boundary the top `maxValidators` candidates by
/// total bonded stake (not jailed, self-stake at least the minimum) become the active set that
/// seals blocks and votes for finality. Each block's proposer earns the block reward out of a
/// pre-allocated pool: its commission first, the rest shared by all delegations to it (its own
/// included) by shares. Undelegated stake unbonds for `unbondingBlocks` before `withdraw`.
/// Double signing (two sealed headers, same height and slot, same signer, different signed
/// content) is slashed and jailed by anyone submitting the evidence; missing too many slots in
/// an epoch jails and slashes. Slashes reduce every delegation to the validator pro rata.
///
/// Unbonding stays at risk. Unbonding starts at the block of `undelegate`, or, when the
/// validator is in the active set, at the next epoch boundary (the election that stops counting
/// that stake in the set's weights), and lasts `unbondingBlocks` from there. A slash for an
/// infraction at height h cuts, by the same share, the bonded stake and the stake that started
/// unbonding from that validator at h or later. Unbonding stake is grouped per validator in
/// buckets of ceil((unbondingBlocks + epochBlocks) / 32) blocks of start, so stake that started
/// in h's bucket but before h is cut too. So undelegating after misbehaving does not escape the
/// slash, and a validator in the active set may undelegate its self-stake (even below
/// `minSelfStake`), but that stake keeps counting in the set and stays slashable until the
/// next election, which drops the validator if its self-stake is below the minimum.
/// The slashed validator is never paid the reporter's share: when the caller or the
/// transaction's origin is the offender, the whole slash is burned.
///
/// Commission: a decrease applies at once; an increase of at most `maxCommissionIncreaseBps`
/// over the current commission is scheduled for the first epoch boundary at least
/// `epochBlocks` blocks away (one pending change; a new call replaces it, a call with the
/// current commission cancels it), so delegators get at least an epoch's notice.
/// Candidates: anyone may remove a candidate that is not in the active set and whose
/// self-stake is below `minSelfStake` (zero stake included), freeing its place in
/// `maxCandidates`; its delegators can still undelegate and claim rewards.
/// @dev Amounts are wei of the native token. The precompile never calls EVM code: payouts are
/// plain balance credits, so re-entry is impossible. Static calls cannot write and
/// DELEGATECALL/CALLCODE are refused.
interface IStaking {
    struct Validator {
        address validator;
        uint256 selfStake; // current value of the validator's own delegation
        uint256 totalStake; // bonded stake of all delegations
        uint256 totalShares;
        uint16 commissionBps;
        uint64 jailedUntil; // 0 when not jailed
        uint32 missedThisEpoch;
        bool active; // in the current active set
        uint256 commissionOwed; // commission not yet claimed
    }

    struct Delegation {
        uint256 amount; // current value of the shares
        uint256 shares;
        uint256 pendingReward;
    }

    struct Unbonding {
        address validator;
        uint256 amount; // current value (after slashes)
        uint64 releaseBlock;
    }

    event ValidatorRegistered(address indexed validator, uint256 selfStake, uint16 commissionBps);
    event CommissionChanged(address indexed validator, uint16 commissionBps);
    event CommissionChangeScheduled(address indexed validator, uint16 commissionBps, uint64 effectiveBlock);
    event CandidateRemoved(address indexed validator);
    event Delegated(address indexed validator, address indexed delegator, uint256 amount, uint256 shares);
    event Undelegated(address indexed validator, address indexed delegator, uint256 amount, uint64 releaseBlock);
    event Withdrawn(address indexed delegator, uint256 amount);
    event RewardsClaimed(address indexed validator, address indexed delegator, uint256 amount);
    event BlockRewarded(address indexed validator, uint256 reward, uint256 commission);
    event Slashed(address indexed validator, uint256 amount, uint8 reason); // 1 double sign, 2 downtime
    event Jailed(address indexed validator, uint64 untilBlock);
    event Unjailed(address indexed validator);
    event ValidatorSetElected(uint64 indexed epoch, address[] validators);

    error DelegateCallNotAllowed();
    error StaticCallWrite();
    error NotPayable();
    error UnknownSelector(bytes4 selector);
    error ArithmeticOverflow();
    error OnlySystem();
    error AlreadyRegistered();
    error NotRegistered(address validator);
    error TooManyCandidates();
    error StakeTooLow(uint256 minimum);
    error CommissionTooHigh(uint16 maximum);
    error InsufficientDelegation(uint256 available);
    error NothingToWithdraw();
    error StillUnbonding(uint64 releaseBlock);
    error NotJailed();
    error StillJailed(uint64 untilBlock);
    error InvalidEvidence(string reason);
    error EvidenceAlreadyUsed();
    error CommissionIncreaseTooLarge(uint16 maximum);
    error TooManyUnbondings(uint256 maximum);
    error CandidateNotRemovable();
    error AmountTooSmall();

    /// Becomes a candidate with `msg.value` as self-stake.
    function registerValidator(uint16 commissionBps) external payable;
    /// Changes the caller's commission: a decrease at once, an increase (at most
    /// `maxCommissionIncreaseBps`) from the first epoch boundary at least `epochBlocks` away.
    function setCommission(uint16 commissionBps) external;
    /// Removes `validator` from the candidates if it is not in the active set and its
    /// self-stake is below `minSelfStake`.
    function removeCandidate(address validator) external;
    /// Delegates `msg.value` to `validator`.
    function delegate(address validator) external payable;
    /// Starts unbonding `amount` of the caller's delegation to `validator` (see the notes above
    /// for when it starts). A delegator holds at most 16 unbonding entries (one per validator
    /// and start bucket); `withdraw` frees matured ones.
    function undelegate(address validator, uint256 amount) external;
    /// Pays out the caller's matured unbonding entries (their value after slashes).
    function withdraw() external returns (uint256 amount);
    /// Pays the caller's rewards from its delegation to `validator` (plus the commission when
    /// the caller is `validator`).
    function claimRewards(address validator) external returns (uint256 amount);
    /// Leaves jail once the jail period is over (eligible again at the next election).
    function unjail() external;
    /// Double-signing evidence: two canonical RLP-encoded sealed headers (no trailing bytes)
    /// of the same height and timestamp whose signed content (the header without the seal)
    /// differs, each with a canonical seal (v 27/28, low s) of the same validator, at most
    /// `unbondingBlocks` old. Each (validator, height) is slashed once.
    function submitDoubleSign(bytes calldata headerA, bytes calldata headerB) external;

    /// Called by the node at the end of every block (from the system address).
    function onBlock(address proposer, address[] calldata missed) external;

    function getValidator(address validator) external view returns (Validator memory);
    function getDelegation(address validator, address delegator) external view returns (Delegation memory);
    /// Sum of the caller's unbonding entries' values and the latest release block.
    function getUnbonding(address delegator) external view returns (uint256 amount, uint64 releaseBlock);
    function getUnbondings(address delegator) external view returns (Unbonding[] memory);
    /// A scheduled commission change (0, 0 when none).
    function pendingCommission(address validator) external view returns (uint16 commissionBps, uint64 effectiveBlock);
    function candidates() external view returns (address[] memory);
    function activeValidators() external view returns (address[] memory);
    function epochBlocks() external view returns (uint64);
    function rewardPoolRemaining() external view returns (uint256);
    /// DBC burned by slashing so far (the reporter's share of a double-sign slash is paid, not burned).
    function totalBurned() external view returns (uint256);
}

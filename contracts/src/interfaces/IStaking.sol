// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Validator staking of dbc-node (stateful precompile at 0x…0D03)
/// @notice Delegated proof of stake. Candidates bond a self-stake and set a commission; anyone
/// delegates DBC to a candidate. At every epoch boundary the top `maxValidators` candidates by
/// total bonded stake (not jailed, self-stake at least the minimum) become the active set that
/// seals blocks and votes for finality. Each block's proposer earns the block reward out of a
/// pre-allocated pool: its commission first, the rest shared by all delegations to it (its own
/// included) by shares. Undelegated stake unbonds for `unbondingBlocks` before `withdraw`.
/// Double signing (two sealed headers, same height and slot, same signer) is slashed and jailed
/// by anyone submitting the evidence; missing too many slots in an epoch jails and slashes.
/// Slashes reduce every delegation to the validator pro rata.
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

    event ValidatorRegistered(address indexed validator, uint256 selfStake, uint16 commissionBps);
    event CommissionChanged(address indexed validator, uint16 commissionBps);
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

    /// Becomes a candidate with `msg.value` as self-stake.
    function registerValidator(uint16 commissionBps) external payable;
    /// Changes the caller's commission.
    function setCommission(uint16 commissionBps) external;
    /// Delegates `msg.value` to `validator`.
    function delegate(address validator) external payable;
    /// Starts unbonding `amount` of the caller's delegation to `validator`.
    function undelegate(address validator, uint256 amount) external;
    /// Pays out the caller's matured unbonding stake.
    function withdraw() external returns (uint256 amount);
    /// Pays the caller's rewards from its delegation to `validator` (plus the commission when
    /// the caller is `validator`).
    function claimRewards(address validator) external returns (uint256 amount);
    /// Leaves jail once the jail period is over (eligible again at the next election).
    function unjail() external;
    /// Double-signing evidence: two RLP-encoded sealed headers of the same height and
    /// timestamp with different hashes, sealed by the same validator.
    function submitDoubleSign(bytes calldata headerA, bytes calldata headerB) external;

    /// Called by the node at the end of every block (from the system address).
    function onBlock(address proposer, address[] calldata missed) external;

    function getValidator(address validator) external view returns (Validator memory);
    function getDelegation(address validator, address delegator) external view returns (Delegation memory);
    function getUnbonding(address delegator) external view returns (uint256 amount, uint64 releaseBlock);
    function candidates() external view returns (address[] memory);
    function activeValidators() external view returns (address[] memory);
    function epochBlocks() external view returns (uint64);
    function rewardPoolRemaining() external view returns (uint256);
    /// DBC burned by slashing so far (the reporter's share of a double-sign slash is paid, not burned).
    function totalBurned() external view returns (uint256);
}

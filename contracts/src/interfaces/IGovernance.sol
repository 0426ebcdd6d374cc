// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Treasury and issuance of dbc-node (stateful precompile at 0x…0D04)
/// @notice The treasury is the balance of this account. Nobody holds a key to it: it receives
/// the treasury's share of machine slashes, auditor penalties, the stake lost by machines that
/// verification rejects, the deposits of false fault reports, the treasury share of validator
/// slashes (`staking.slashTreasuryBps`), burns the burn floor stops and donations (`fund`). Each inflow emits
/// `TreasuryReceived` from this account, also when it happens in a block hook (then it is in
/// no receipt: read it with `dbc_getBlockHookLogs`), and is added to a per-source total.
/// Only enacted proposals spend it.
///
/// Proposals: holders lock DBC here to vote (`lock`, 1 wei locked = 1 vote) and anyone
/// proposes with a deposit (`requiredDeposit`). A referendum proposed in block b takes votes
/// until the end of block b + `referendumBlocks`, where it is counted: it passes when the
/// turnout (for + against + abstain) is at least `referendumTurnoutBps` of the total supply and
/// `for` exceeds `referendumApprovalBps` of for + against. A passed proposal gets its deposit
/// back and is enacted at the end of block E − 1, E being the first staking epoch boundary more
/// than `enactmentDelayBlocks` after the pass with room left (`maxEnactmentsPerEpoch`; else the
/// next); a failed one loses its deposit to the treasury (source 6). A vote commits the voter's
/// lock until the vote end + `enactmentDelayBlocks` + one epoch (`lockOf`): it cannot be
/// unlocked before, so one DBC cannot vote twice (when boundaries are full, enactment can come
/// after that).
///
/// Council: every term (`council.termBlocks`) a council of `council.seats` members and
/// `council.runnersUp` runners-up is elected by sequential Phragmén over approval ballots, in
/// the hook of the term's last block (`CouncilElected`). Anyone becomes a candidate for the
/// current term with a bond (`submitCandidacy`); members and runners-up stand again
/// automatically. A ballot (`voteCouncil`) approves up to `council.maxApprovals` candidates
/// with the voter's whole lock (at least `council.minVoteLock`), follows the lock as it changes,
/// and counts for the current term only. In the last `council.electionFreezeBlocks` of a term
/// candidacies and ballots are frozen (`CouncilVotesFrozen`) and a lock cannot go below its
/// ballot. A fresh candidate that is neither elected nor a runner-up loses its bond to the
/// treasury (source 7), also when it withdraws (its slot stays taken); the others get it back
/// when they leave. Council motions
/// (`Route.Council`) are decided by the members of the term they started in, one vote each:
/// passed once `council.approvalBps` of the seated members voted for, rejected once that
/// cannot happen any more, else rejected at the end of `council.motionBlocks`. A motion needs a
/// council of at least a third of the seats (`NoCouncil`); governance's own parameters go to
/// referendum only (`RouteNotAllowed`), and a council spend is at most `council.spendLimit`,
/// `council.termSpendLimit` a term (`SpendAboveCouncilLimit`).
///
/// Running parameters: the market, staking and governance parameters in force live in this
/// account's state (`currentParams`, `paramsVersion`); genesis sets the first ones. A
/// `proposeParams` referendum carries a complete new record, `abi.encode` of the V1 struct of its
/// target (`currentParams` returns one to start from), validated exactly as the genesis file is
/// (`InvalidParams` gives the genesis check's message), and again at enactment; it is enacted
/// only if no other change of the same target was enacted since it was proposed. A
/// `proposeValidatorSetSize` referendum changes `staking.maxValidators` alone. Enacted at the end
/// of block E − 1, a record is in force from block E on every node (`ParamsChanged`). The
/// schedule-defining fields cannot change (`InvalidParams` names them): market and staking
/// `epochBlocks`, `rewardPool` and `emission`, and `staking.unbondingBlocks`.
///
/// `emissionRate` reports the reward pools' decaying schedules (`config.dbc.market.emission`
/// and `config.dbc.staking.emission`): the per-block release of the current era.
/// @dev Amounts are wei of the native token. Static calls cannot write; DELEGATECALL/CALLCODE are
/// refused; value sent to a non-payable function reverts.
interface IGovernance {
    /// A precompile's parameters (`currentParams`, `proposeParams`); for `emissionRate`, its
    /// reward pool (Market or Staking).
    enum Target { Market, Staking, Governance }
    /// What a proposal does.
    enum Kind { Text, TreasurySpend, ParamChange, ValidatorSetSize }
    /// Who decides: a motion of the council, or a referendum of locked DBC.
    enum Route { Council, Referendum }
    enum Status { None, Voting, Queued, Enacted, Rejected, EnactmentFailed }
    /// OpenZeppelin IGovernor's ProposalState, same order (`state`).
    enum ProposalState { Pending, Active, Canceled, Defeated, Succeeded, Queued, Expired, Executed }

    /// An emission schedule (`config.dbc.*.emission`).
    struct Emission { uint256 initialPerBlock; uint64 eraBlocks; uint32 flatEras; uint16 decayBps; uint32 endEra; }
    /// A row of the GPU-model table; `model` is the name left-aligned, zero-padded.
    struct GpuModelRow { bytes32 model; uint32 calcPoint; uint32 memoryGb; }
    struct BurnTierRow { uint64 fromGpus; uint16 bps; }
    /// `underBlocks == type(uint64).max`: the last tier (no bound).
    struct SlashTierRow { uint64 underBlocks; uint16 bps; }
    /// `config.dbc.market`, every field, grouped by what it rules (the ABI allows at most 24
    /// fields a struct).
    struct MarketParamsV1 {
        MarketStakeV1 stake;
        MarketVerificationV1 verification;
        MarketRentV1 rent;
        MarketRewardsV1 rewards;
        MarketLivenessV1 liveness;
    }
    struct MarketStakeV1 {
        uint256 stakePerGpu; uint256 auditorStake; uint16 auditorPenaltyBps; uint16 auditorRewardBps;
        uint16 rejectSlashBps; uint256 reportDeposit;
    }
    struct MarketVerificationV1 {
        uint64 drawDelayBlocks; uint64 commitWindowBlocks; uint64 revealWindowBlocks;
        uint32 standardCalcPoint; GpuModelRow[] gpuModels; uint16 calcPointToleranceBps;
        uint64 challengeCheckBlocks; uint16 challengeChanceBps;
    }
    struct MarketRentV1 {
        uint256 standardPricePerGpuBlock; uint16 minPriceBps; uint64 rentUnitBlocks; uint64 maxRentBlocks;
        BurnTierRow[] burnTiers; bool burnTierBasisRegistered;
    }
    struct MarketRewardsV1 {
        Emission emission; uint64 epochBlocks; uint256 rewardPool; uint16 immediateBps;
        uint64 vestingBlocks; uint16 rentedBonusBps; uint32 maxProjectsPerMachine;
    }
    struct MarketLivenessV1 {
        uint64 heartbeatTimeoutBlocks; uint64 minOnlineBlocks; uint64 exitCooldownBlocks;
        SlashTierRow[] ownerOfflineSlash; SlashTierRow[] unreachableSlash; uint16 slashRenterBps;
        uint16 slashAuditorsBps;
    }
    /// `config.dbc.staking` without the genesis `validators`.
    struct StakingParamsV1 {
        uint64 epochBlocks; uint32 maxValidators; uint32 maxCandidates; uint256 minSelfStake;
        uint256 minDelegation; uint64 unbondingBlocks; Emission emission; uint256 rewardPool;
        uint16 maxCommissionBps; uint16 maxCommissionIncreaseBps; uint16 doubleSignSlashBps;
        uint16 evidenceRewardBps; uint16 slashTreasuryBps; uint32 downtimeJailMissed;
        uint16 downtimeSlashBps; uint64 jailBlocks;
    }
    /// `config.dbc.governance`.
    struct GovernanceParamsV1 {
        uint256 burnFloor; uint64 referendumBlocks; uint16 referendumTurnoutBps;
        uint16 referendumApprovalBps; uint64 enactmentDelayBlocks; uint32 maxEnactmentsPerEpoch;
        uint256 proposalDeposit; uint16 spendDepositBps; uint32 maxOpenProposals; uint32 maxPayloadBytes;
        uint64 maxStreamBlocks; CouncilParamsV1 council;
    }
    /// `config.dbc.governance.council`.
    struct CouncilParamsV1 {
        uint32 seats; uint32 runnersUp; uint64 termBlocks; uint64 electionFreezeBlocks;
        uint32 maxCandidates; uint256 candidacyBond; uint256 minVoteLock; uint32 maxApprovals;
        uint32 maxBallotClasses; uint64 motionBlocks; uint16 approvalBps; uint256 spendLimit;
        uint256 termSpendLimit;
    }
    /// A council candidate of the current term and the locked DBC whose ballots approve it.
    struct Candidate { address account; uint256 bond; uint256 approvalStake; bool carried; }
    /// A streamed spend: `total` released linearly over blocks `startBlock` (E) to `endBlock`;
    /// `claimStream` pays what is released and not yet claimed to `to`.
    struct Stream { uint256 proposalId; address to; uint256 total; uint256 claimed; uint64 startBlock; uint64 endBlock; }

    struct Proposal {
        uint256 id;
        address proposer;
        Kind kind;
        Route route;
        Status status;
        /// ParamChange and ValidatorSetSize: whose parameters.
        Target target;
        /// The block it was proposed in.
        uint64 voteStart;
        /// The last block votes count in.
        uint64 voteEnd;
        /// Once passed: E, the first block the proposal is in force (enacted at the end of E − 1).
        uint64 enactAt;
        /// Council motions: the term whose council decides it, and its seated members.
        uint64 term;
        uint32 seated;
        uint256 deposit;
        uint256 forVotes;
        uint256 againstVotes;
        uint256 abstainVotes;
        uint64 voters;
        /// keccak256 of the description; for ParamChange, of the parameter record
        /// (`proposalPayload`).
        bytes32 payloadHash;
        /// ParamChange: the target's parameter version it was proposed against.
        uint32 baseVersion;
        address spendTo;
        uint256 spendAmount;
        uint64 streamBlocks;
        uint32 validatorSetSize;
    }

    /// Treasury inflows by source (`TreasuryReceived.source`, `treasuryReceived(source)`).
    /// 1 machine slash, 2 auditor penalty, 3 rejected machine, 4 lost report deposit,
    /// 5 validator slash, 6 lost proposal deposit, 7 lost candidacy bond, 8 burn above the
    /// floor, 9 donation (`fund`).
    struct TreasuryInfo {
        /// Balance of this account.
        uint256 balance;
        /// What enacted proposals may spend: the balance less voting locks, proposal deposits
        /// and streams not yet claimed, which this account holds for their owners.
        uint256 available;
        /// Everything received, all sources.
        uint256 received;
        /// Everything spent.
        uint256 spent;
        /// Streamed spends enacted and not yet claimed (held for their recipients).
        uint256 reserved;
    }

    /// `amount` reached the treasury from `source`; `from` is who lost it (the machine's owner,
    /// the auditor, the reporter, the validator) or the donor.
    event TreasuryReceived(uint8 indexed source, address indexed from, uint256 amount);
    /// A block burned more than the floor allowed: the excess was minted back to the treasury.
    event BurnFloorReached(uint256 totalSupply, uint256 floor);

    event Locked(address indexed voter, uint256 amount, uint256 locked);
    event Unlocked(address indexed voter, uint256 amount, uint256 locked);
    event ProposalSubmitted(uint256 indexed id, address indexed proposer, Kind kind, Route route, uint256 deposit, bytes32 payloadHash);
    /// OpenZeppelin Governor's event, for governance front ends: targets = [this account],
    /// values = [0], signatures = [""], calldatas = [abi.encode(kind, route, spendTo,
    /// spendAmount)], voteStart and voteEnd in blocks.
    event ProposalCreated(uint256 proposalId, address proposer, address[] targets, uint256[] values, string[] signatures, bytes[] calldatas, uint256 voteStart, uint256 voteEnd, string description);
    /// OpenZeppelin Governor's event; support 0 against, 1 for, 2 abstain.
    event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason);
    /// OpenZeppelin Governor's name; the second value is the block E, not seconds.
    event ProposalQueued(uint256 proposalId, uint256 etaSeconds);
    /// reason: 1 the council did not pass it, 2 defeated, 3 turnout missed.
    event ProposalRejected(uint256 indexed id, uint8 reason, uint256 depositToTreasury);
    /// OpenZeppelin Governor's name: the proposal was enacted.
    event ProposalExecuted(uint256 proposalId);
    event EnactmentFailed(uint256 indexed id, string reason);
    event DepositReturned(uint256 indexed id, address indexed to, uint256 amount);
    event TreasurySpent(uint256 indexed proposalId, address indexed to, uint256 amount);

    error DelegateCallNotAllowed();
    error StaticCallWrite();
    error NotPayable();
    error UnknownSelector(bytes4 selector);
    error ArithmeticOverflow();
    /// `fund` without value.
    error NothingToFund();
    error WrongDeposit(uint256 required);
    /// `lock` without value, or `unlock` of 0 or of more than is locked.
    error NothingLocked();
    /// Voted weight stays locked until `until`; `unlockable` may be unlocked now.
    error LockCommitted(uint256 unlockable, uint64 until);
    /// The council route needs a council of at least a third of the seats.
    error NoCouncil();
    error UnknownProposal(uint256 id);
    error VotingClosed(uint256 id);
    error BadSupport(uint8 support);
    error NoVotingPower();
    error InsufficientTreasury(uint256 available);
    error TooManyOpenProposals(uint32 maximum);
    error PayloadTooLarge(uint256 maximum);
    error StreamTooLong(uint64 maximum);
    /// No stream for this proposal, or nothing released since the last claim.
    error NothingToClaim();
    /// A spend of nothing, or to the zero address, the system address or a precompile.
    error BadSpend();
    /// A parameter record that is not the canonical encoding of its V1 struct, that the genesis
    /// checks refuse (same message), or that changes a field that cannot change.
    error InvalidParams(string reason);

    /// A streamed spend began: `total` to `to`, released linearly from `startBlock` to `endBlock`.
    event StreamOpened(uint256 indexed proposalId, address indexed to, uint256 total, uint64 startBlock, uint64 endBlock);
    /// `amount` of a stream was paid to `to` (also `TreasurySpent`).
    event StreamClaimed(uint256 indexed proposalId, address indexed to, uint256 amount);
    /// `target`'s parameter record `paramsHash` (version `version`) is in force from block
    /// `effectiveFrom` on.
    event ParamsChanged(Target indexed target, uint32 version, uint64 effectiveFrom, bytes32 paramsHash);

    /// `candidate` stands in the election at the end of `term` with `bond` held.
    event CandidacySubmitted(address indexed candidate, uint64 indexed term, uint256 bond);
    /// `candidate` withdrew from the election at the end of `term`.
    event CandidacyRenounced(address indexed candidate, uint64 indexed term);
    /// `voter`'s ballot for the election at the end of `term` (empty approvals: removed).
    event CouncilBallot(address indexed voter, uint64 indexed term, address[] approvals, uint256 weight);
    /// The election at the end of term `term - 1` seated the council of `term`, until `termEnd`.
    event CouncilElected(uint64 indexed term, address[] members, address[] runnersUp, uint64 termEnd);
    /// A candidacy bond went back to its candidate.
    event BondReturned(address indexed candidate, uint256 amount);

    error CouncilVotesFrozen(uint64 untilBlock);
    error AlreadyCandidate();
    error NotCandidate(address account);
    error TooManyCandidates(uint32 maximum);
    error TooManyApprovals(uint32 maximum);
    error TooManyBallotClasses(uint32 maximum);
    /// A ballot needs a lock of at least `minimum`.
    error BallotTooSmall(uint256 minimum);
    error NotCouncilMember(uint64 term);
    error RouteNotAllowed(Kind kind, Route route);
    error SpendAboveCouncilLimit(uint256 limit);

    /// Donates `msg.value` to the treasury (source 9).
    function fund() external payable;

    /// Locks `msg.value` as voting power.
    function lock() external payable;
    /// Returns `amount` of the caller's lock, except what its votes committed until
    /// `committedUntil` (`LockCommitted`).
    function unlock(uint256 amount) external;
    /// The voter's lock, what its votes committed and until when, and what its council ballot
    /// of the current term weighs (0: none).
    function lockOf(address voter) external view returns (uint256 locked, uint256 committed, uint64 committedUntil, uint256 ballotWeight);
    /// A text proposal; `msg.value` must be `requiredDeposit`.
    function proposeText(Route route, string calldata description) external payable returns (uint256 id);
    /// A spend of `amount` to `to`: paid at enactment (streamBlocks 0), or released linearly
    /// over `streamBlocks` (at most `maxStreamBlocks`) from E and paid by `claimStream`.
    function proposeSpend(address to, uint256 amount, uint64 streamBlocks, Route route, string calldata description) external payable returns (uint256 id);
    /// A change of `target`'s parameters to the record `params` (`abi.encode` of its V1 struct,
    /// complete; `currentParams(target)` is the record in force). Validated now and at
    /// enactment; governance's own parameters by referendum only. At most 65,536 bytes; gas
    /// grows with the record (about 22,200 per 32 bytes).
    function proposeParams(Target target, bytes calldata params, Route route, string calldata description) external payable returns (uint256 id);
    /// A change of the active validator set's size (`staking.maxValidators`) alone.
    function proposeValidatorSetSize(uint32 maxValidators, Route route, string calldata description) external payable returns (uint256 id);
    /// The deposit a proposal of `kind` needs now: `proposalDeposit`, doubled at each quarter
    /// of `maxOpenProposals` in use, and for spends at least `spendDepositBps` of the amount.
    function requiredDeposit(Kind kind, uint256 spendAmount) external view returns (uint256);
    /// Votes with the caller's whole lock (0 against, 1 for, 2 abstain); a new vote replaces
    /// the caller's earlier one. On a council motion only the members of its term vote, with
    /// weight 1 (`NotCouncilMember`). Returns the weight.
    function castVote(uint256 proposalId, uint8 support) external returns (uint256 weight);
    function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason) external returns (uint256 weight);
    function getProposal(uint256 id) external view returns (Proposal memory);
    /// Up to `limit` (at most 100) of proposal `id`'s voters from `offset`, in the order of their
    /// first vote, with their current vote (0 against, 1 for, 2 abstain) and its weight
    /// (`voters` in `getProposal` counts them).
    function proposalVoters(uint256 id, uint256 offset, uint256 limit) external view returns (address[] memory voters, uint8[] memory support, uint256[] memory weights);
    /// The last proposal id (ids start at 1).
    function proposalCount() external view returns (uint256);
    /// A ParamChange proposal's record (empty for other kinds).
    function proposalPayload(uint256 id) external view returns (bytes memory);
    /// `target`'s parameters in force at this block: `abi.encode` of its V1 struct.
    function currentParams(Target target) external view returns (bytes memory params);
    /// How many times `target`'s parameters changed (0: the genesis ones), from which block the
    /// record in force applies, and its hash (zero for the genesis record).
    function paramsVersion(Target target) external view returns (uint32 version, uint64 effectiveFrom, bytes32 paramsHash);
    /// The treasury's balance and totals.
    function treasury() external view returns (TreasuryInfo memory);
    /// Pays `to` of proposal `proposalId`'s stream what is released and not yet claimed
    /// (anyone may call; the money goes to `to`). Returns the amount.
    function claimStream(uint256 proposalId) external returns (uint256 amount);
    /// The stream of a streamed spend once enacted (`NothingToClaim` before).
    function getStream(uint256 proposalId) external view returns (Stream memory);
    /// Everything received from `source`.
    function treasuryReceived(uint8 source) external view returns (uint256);
    /// The per-block release of `target`'s reward pool in the current era, and the era.
    function emissionRate(Target target) external view returns (uint256 perBlock, uint32 era);
    /// The exact total supply at the end of the last block: the genesis supply plus the net
    /// balance change of every block since (base fees, precompile and SELFDESTRUCT burns).
    function totalSupply() external view returns (uint256);
    /// Burning stops at this supply (`config.dbc.governance.burnFloor`, default 100,000,000 DBC).
    function burnFloor() external view returns (uint256);
    /// What precompiles may still burn in this block: max(0, totalSupply − burns so far in this
    /// block − burnFloor).
    function burnHeadroom() external view returns (uint256);
    // ---- OpenZeppelin IGovernor's views, for governance front ends and indexers ----
    // Proposals are typed, enacted automatically and numbered 1, 2, …: `propose`,
    // `hashProposal`, `queue`, `execute`, `cancel` and the by-signature votes do not exist
    // (`UnknownSelector`), and `supportsInterface` is true for ERC-165 and ERC-6372 only.
    // There is no history of weights: `getVotes` and `quorum` ignore `timepoint`.

    /// "DBC Governance".
    function name() external view returns (string memory);
    /// "1".
    function version() external view returns (string memory);
    /// "support=bravo&quorum=for,against,abstain".
    function COUNTING_MODE() external view returns (string memory);
    /// ERC-6372: the block number.
    function clock() external view returns (uint48);
    /// ERC-6372: "mode=blocknumber&from=default".
    function CLOCK_MODE() external view returns (string memory);
    /// Voting → Active, Queued → Queued, Enacted → Executed, Rejected → Defeated,
    /// EnactmentFailed → Expired.
    function state(uint256 proposalId) external view returns (ProposalState);
    /// The block it was proposed in (`voteStart`).
    function proposalSnapshot(uint256 proposalId) external view returns (uint256);
    /// The last block votes count in (`voteEnd`).
    function proposalDeadline(uint256 proposalId) external view returns (uint256);
    function proposalProposer(uint256 proposalId) external view returns (address);
    /// E, the first block it is in force (0 before it passed).
    function proposalEta(uint256 proposalId) external view returns (uint256);
    /// False: a passed proposal is queued and enacted by the chain.
    function proposalNeedsQueuing(uint256 proposalId) external view returns (bool);
    /// 0: votes count from the proposal's own block.
    function votingDelay() external view returns (uint256);
    /// `referendumBlocks`.
    function votingPeriod() external view returns (uint256);
    /// 0: anyone may propose (with the deposit).
    function proposalThreshold() external view returns (uint256);
    /// The turnout a referendum needs now: `referendumTurnoutBps` of the total supply.
    function quorum(uint256 timepoint) external view returns (uint256);
    /// The account's lock now (what a vote weighs).
    function getVotes(address account, uint256 timepoint) external view returns (uint256);
    function hasVoted(uint256 proposalId, address account) external view returns (bool);
    function proposalVotes(uint256 proposalId) external view returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes);
    function supportsInterface(bytes4 interfaceId) external view returns (bool);

    // ---- council ----

    /// Stands in the election at the end of the current term; `msg.value` must be
    /// `council.candidacyBond` (`WrongDeposit`).
    function submitCandidacy() external payable;
    /// Withdraws from the current election. A member or runner-up standing again gets its bond
    /// back now; a fresh candidate's bond goes to the treasury (source 7), as if it lost: its
    /// slot stays taken for the term.
    function renounceCandidacy() external;
    /// Approves `approvals` (candidates of the current term, distinct) with the caller's whole
    /// lock; replaces the caller's ballot.
    function voteCouncil(address[] calldata approvals) external;
    function removeCouncilVote() external;
    /// The council in office, its runners-up, the term, the block whose hook holds the next
    /// election and the first block of the freeze before it.
    function council() external view returns (address[] memory members, address[] memory runnersUp, uint64 term, uint64 termEnd, uint64 freezeStart);
    /// The candidates of the current term's election with their approval stake.
    function candidates() external view returns (Candidate[] memory);
    function isCouncilMember(address account) external view returns (bool);
    /// `voter`'s ballot of the current term (empty: none).
    function ballotOf(address voter) external view returns (address[] memory approvals, uint256 weight);

    /// The block hook: the system address calls it last in every block with the block's net
    /// balance change. Anyone else gets `UnknownSelector`.
    function onBlock(int256 supplyChange) external;
}

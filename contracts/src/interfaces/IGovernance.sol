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
/// after that). The council route is not implemented yet (`NoCouncil`); streamed spends and
/// parameter changes neither.
///
/// `emissionRate` reports the reward pools' decaying schedules (`config.dbc.market.emission`
/// and `config.dbc.staking.emission`): the per-block release of the current era.
/// @dev Amounts are wei of the native token. Static calls cannot write; DELEGATECALL/CALLCODE are
/// refused; value sent to a non-payable function reverts.
interface IGovernance {
    /// The reward pool whose schedule `emissionRate` reports.
    enum Target { Market, Staking }
    /// What a proposal does. Only Text and TreasurySpend can be proposed yet.
    enum Kind { Text, TreasurySpend, ParamChange, ValidatorSetSize }
    /// Who decides: the council (not elected yet) or a referendum of locked DBC.
    enum Route { Council, Referendum }
    enum Status { None, Voting, Queued, Enacted, Rejected, EnactmentFailed }

    struct Proposal {
        uint256 id;
        address proposer;
        Kind kind;
        Route route;
        Status status;
        /// Unused yet (parameter changes).
        Target target;
        /// The block it was proposed in.
        uint64 voteStart;
        /// The last block votes count in.
        uint64 voteEnd;
        /// Once passed: E, the first block the proposal is in force (enacted at the end of E − 1).
        uint64 enactAt;
        /// Unused yet (council motions).
        uint64 term;
        uint32 seated;
        uint256 deposit;
        uint256 forVotes;
        uint256 againstVotes;
        uint256 abstainVotes;
        uint64 voters;
        /// keccak256 of the description.
        bytes32 payloadHash;
        uint32 baseVersion;
        address spendTo;
        uint256 spendAmount;
        uint64 streamBlocks;
        uint32 validatorSetSize;
    }

    /// Treasury inflows by source (`TreasuryReceived.source`, `treasuryReceived(source)`).
    /// 1 machine slash, 2 auditor penalty, 3 rejected machine, 4 lost report deposit,
    /// 5 validator slash, 6 lost proposal deposit, 8 burn above the floor, 9 donation (`fund`).
    struct TreasuryInfo {
        /// Balance of this account.
        uint256 balance;
        /// What enacted proposals may spend: the balance less voting locks and proposal
        /// deposits, which this account holds for their owners.
        uint256 available;
        /// Everything received, all sources.
        uint256 received;
        /// Everything spent.
        uint256 spent;
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
    /// reason: 2 defeated, 3 turnout missed.
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
    /// The council route needs a council, which is not elected yet.
    error NoCouncil();
    error UnknownProposal(uint256 id);
    error VotingClosed(uint256 id);
    error BadSupport(uint8 support);
    error NoVotingPower();
    error InsufficientTreasury(uint256 available);
    error TooManyOpenProposals(uint32 maximum);
    error PayloadTooLarge(uint256 maximum);
    error StreamTooLong(uint64 maximum);
    /// A spend of nothing, or to the zero address, the system address or a precompile.
    error BadSpend();

    /// Donates `msg.value` to the treasury (source 9).
    function fund() external payable;

    /// Locks `msg.value` as voting power.
    function lock() external payable;
    /// Returns `amount` of the caller's lock, except what its votes committed until
    /// `committedUntil` (`LockCommitted`).
    function unlock(uint256 amount) external;
    /// The voter's lock, what its votes committed and until when (ballotWeight is 0: no council yet).
    function lockOf(address voter) external view returns (uint256 locked, uint256 committed, uint64 committedUntil, uint256 ballotWeight);
    /// A text proposal (route must be Referendum); `msg.value` must be `requiredDeposit`.
    function proposeText(Route route, string calldata description) external payable returns (uint256 id);
    /// A spend of `amount` to `to` at enactment (streamBlocks must be 0; route Referendum).
    function proposeSpend(address to, uint256 amount, uint64 streamBlocks, Route route, string calldata description) external payable returns (uint256 id);
    /// The deposit a proposal of `kind` needs now: `proposalDeposit`, doubled at each quarter
    /// of `maxOpenProposals` in use, and for spends at least `spendDepositBps` of the amount.
    function requiredDeposit(Kind kind, uint256 spendAmount) external view returns (uint256);
    /// Votes with the caller's whole lock (0 against, 1 for, 2 abstain); a new vote replaces
    /// the caller's earlier one. Returns the weight.
    function castVote(uint256 proposalId, uint8 support) external returns (uint256 weight);
    function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason) external returns (uint256 weight);
    function getProposal(uint256 id) external view returns (Proposal memory);
    /// The last proposal id (ids start at 1).
    function proposalCount() external view returns (uint256);
    /// The treasury's balance and totals.
    function treasury() external view returns (TreasuryInfo memory);
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
    /// The block hook: the system address calls it last in every block with the block's net
    /// balance change. Anyone else gets `UnknownSelector`.
    function onBlock(int256 supplyChange) external;
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Per-project token mining of dbc-node (stateful precompile at 0x…0D02)
/// @notice An AI project registers a mining program for its own token: an emission (tokens per
/// block, a total budget, an end block), machine requirements and a release rule. Providers
/// enrol verified, online machines of the GPU market (0x…0D01). A project pays for work served,
/// not for being enrolled: its *attestor* (the settler unless it names another with
/// `setAttestor`, e.g. the dApp that sends the jobs) reports after each epoch (the market's
/// `epochBlocks`) the work units each enrolled machine served in it (`attestWork`); from then
/// until its next attestation a machine's weight is its market grade × those units (0 while
/// offline, and 0 until first attested). The emission is shared by weight, exactly and
/// deterministically (integer accumulator; the sum of all settlements never exceeds the budget);
/// while no machine has weight nothing is released. A provider's rewards are released by the project's rule (default
/// 25% at once, 75% linearly over 150 days).
/// @dev The precompile holds no tokens and never calls EVM code. Tokens move in Solidity: the
/// project's *settler* (its ProjectToken, or an escrow holding an existing ERC-20) calls
/// `settle(projectId, provider)`, which returns what the provider may receive now and marks it
/// paid; only the settler can do that, so nobody else can mint or withdraw.
interface IProjectMining {
    struct Requirements {
        uint32 minGpuMemoryGb;
        uint32 minCalcPoint;
        bytes32[] gpuModels; // allowed models (short strings); empty = any, at most 8
    }

    struct Release {
        uint16 immediateBps; // share released at once (2500 = 25%)
        uint64 vestingBlocks; // linear release of the rest (150 days = 2,160,000 blocks)
    }

    struct Project {
        uint256 id;
        address settler; // the only account that can settle (mint/pay) rewards
        address creator;
        uint256 tokensPerBlock;
        uint256 budget;
        uint64 startBlock;
        uint64 endBlock; // emission stops at this block (exclusive)
        uint256 distributed; // emission released to enrolled machines so far
        uint256 settled; // paid out through `settle` so far
        uint256 totalWeight; // sum of the grades of enrolled online machines
        uint32 machines; // enrolled machines
        Requirements requirements;
        Release release;
        address attestor; // reports the work each enrolled machine served (`attestWork`)
    }

    struct ProviderRewards {
        uint256 pending; // accrued by the provider's machines, not yet settled into rewards
        uint256 claimable; // releasable now through the project's settler
        uint256 vesting; // settled but not yet released
        uint256 claimed; // paid out so far
    }

    event ProjectRegistered(
        uint256 indexed projectId, address indexed settler, address indexed creator, uint256 tokensPerBlock, uint256 budget, uint64 endBlock
    );
    event MachineEnrolled(uint256 indexed projectId, bytes32 indexed machineId, address indexed provider, uint256 weight);
    event MachineLeft(uint256 indexed projectId, bytes32 indexed machineId, address indexed provider);
    event MiningRewardAccrued(
        uint256 indexed projectId, bytes32 indexed machineId, address indexed provider, uint256 immediate, uint256 vesting
    );
    event MiningRewardSettled(uint256 indexed projectId, address indexed provider, uint256 amount);
    /// A project's accounting could not follow a machine's grade change and was left as it was;
    /// the market's transition went ahead (mining never blocks the market).
    event ProjectUpdateSkipped(uint256 indexed projectId, bytes32 indexed machineId);
    event AttestorSet(uint256 indexed projectId, address attestor);
    /// The work a machine served in `epoch`; its weight from now on is `weight`.
    event WorkAttested(uint256 indexed projectId, bytes32 indexed machineId, uint64 epoch, uint64 units, uint256 weight);

    error UnknownProject(uint256 projectId);
    error NotAttestor(uint256 projectId);
    /// `attestWork` for an epoch that is not the last completed one.
    error WrongEpoch(uint64 epoch, uint64 expected);
    /// `attestWork` with lists of different lengths or more than 256 entries.
    error BadAttestation(string reason);
    error AlreadyAttested(uint256 projectId, bytes32 machineId, uint64 epoch);
    error InvalidProject(string reason);
    error NotSettler(uint256 projectId);
    error NotMachineOwner(bytes32 machineId);
    error MachineNotEligible(bytes32 machineId, string reason);
    error AlreadyEnrolled(uint256 projectId, bytes32 machineId);
    error NotEnrolled(uint256 projectId, bytes32 machineId);
    error TooManyProjects(bytes32 machineId, uint32 max);
    error StaticCallWrite();
    error DelegateCallNotAllowed();
    error NotPayable();
    error UnknownSelector(bytes4 selector);
    error ArithmeticOverflow();

    /// Registers a mining program; the caller becomes its settler (call it from the token or
    /// escrow contract's constructor). Emission starts now and stops at `endBlock` or when
    /// `budget` is exhausted.
    function registerProject(
        uint256 tokensPerBlock,
        uint256 budget,
        uint64 endBlock,
        Requirements calldata requirements,
        Release calldata release
    ) external returns (uint256 projectId);

    /// Enrols a verified, online machine the caller owns (at most `maxProjectsPerMachine`).
    function enroll(uint256 projectId, bytes32 machineId) external;

    /// Takes a machine out of a project (its accrued rewards stay the provider's).
    function leave(uint256 projectId, bytes32 machineId) external;

    /// Settler only: marks what `provider` may receive now as paid and returns it.
    function settle(uint256 projectId, address provider) external returns (uint256 amount);

    /// Settler only: names the account (service or contract) that attests the project's work.
    function setAttestor(uint256 projectId, address attestor) external;

    /// Attestor only: the work units each listed machine (enrolled in the project) served in
    /// `epoch`, which must be the last completed epoch (`block.number / epochBlocks − 1`); each
    /// machine at most once per epoch, at most 256 a call. Each machine's pending tokens are
    /// settled at its old weight; its weight becomes its grade × `units` until its next
    /// attestation (units 0: it served nothing and earns nothing).
    function attestWork(uint256 projectId, uint64 epoch, bytes32[] calldata machineIds, uint64[] calldata units)
        external;

    function projectCount() external view returns (uint256);
    function getProject(uint256 projectId) external view returns (Project memory);
    function projectsOf(bytes32 machineId) external view returns (uint256[] memory);
    function enrolledMachineAt(uint256 projectId, uint256 index) external view returns (bytes32);
    function rewardsOf(uint256 projectId, address provider) external view returns (ProviderRewards memory);
    function maxProjectsPerMachine() external view returns (uint32);
    /// A machine's last attestation in a project: its units, the epoch they were for (0 and
    /// `attested = false` if never) and its weight now.
    function workOf(uint256 projectId, bytes32 machineId)
        external
        view
        returns (uint64 units, uint64 epoch, bool attested, uint256 weight);
    /// The length of an attestation epoch (the market's `epochBlocks`).
    function epochBlocks() external view returns (uint64);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title GPU leasing market of dbc-node (stateful precompile at 0x…0D01)
/// @notice Providers stake DBC per GPU and register machines; a committee of auditors verifies
/// each machine by commit–reveal; renters pay rent in DBC, of which a tiered share is burned;
/// online machines share a per-epoch reward from a pre-funded pool (25% claimable at once, 75%
/// vesting linearly); missed heartbeats and confirmed faults lead to graduated slashes.
/// Calc points come from the genesis GPU-model table (`gpuModel`), never from opinion: auditors
/// check the hardware and measure it within `calcPointToleranceBps` of the table. A machine
/// proves liveness with heartbeats signed by its own key over a recent block hash, and drawn
/// auditors challenge it at unannounced times; a failure found is slashed at once and ends its
/// rentals with refunds.
/// @dev This file is the one ABI source: dbc-node decodes it with alloy's `sol!`. All amounts are
/// in wei (18 decimals), all durations in blocks. Every economic number is a genesis parameter
/// (`config.dbc.market`, see genesis/README.md). Payments out of the market are plain balance
/// credits: no code of the recipient runs, so re-entry is impossible.
interface IGpuMarket {
    /// Hardware a provider claims and auditors verify.
    struct MachineSpec {
        bytes32 gpuModel; // a model of the genesis table (`gpuModel`), e.g. bytes32("RTX 4090")
        uint32 gpuCount;
        uint32 gpuMemoryGb; // per GPU
        uint32 cpuCores;
        uint32 ramGb;
        uint32 diskGb;
        bytes32 region; // short string, e.g. bytes32("eu-west")
        address machineKey; // key held on the machine: signs its heartbeats; auditors check it there
    }

    enum MachineStatus {
        None,
        Verifying,
        Online,
        Offline,
        Rejected,
        Exited
    }

    enum OfflineReason {
        None,
        Idle, // missed heartbeats while not rented: no slash
        OwnerOffline, // the owner took a rented machine offline
        Unreachable // missed heartbeats while rented, a confirmed fault or a failed liveness challenge
    }

    struct Machine {
        bytes32 id;
        address owner;
        MachineSpec spec;
        MachineStatus status;
        OfflineReason offlineReason;
        uint32 calcPoint; // 0 until verified
        uint32 rentedGpus;
        uint64 registeredAt;
        uint64 onlineSince;
        uint64 offlineSince;
        uint64 lastHeartbeat;
        uint64 rentEnd; // latest end block of its active rentals
        uint256 stake;
        uint256 pricePerGpuBlock;
        uint256 totalEarned; // rewards settled for this machine (before the auditors' share)
        uint256 openChallenge; // report id of a pending liveness challenge, 0 if none
    }

    enum RentalStatus {
        None,
        Active,
        Ended
    }

    struct Rental {
        uint256 id;
        bytes32 machineId;
        address renter;
        uint32 gpus;
        uint16 burnBps; // fixed when the rental starts
        RentalStatus status;
        uint64 start;
        uint64 end;
        uint256 paid; // total paid, extensions included
        uint256 refunded;
        uint256 burned;
        address beneficiary; // receives the refund and a renter's share of slashes (renter by default)
    }

    enum RoundPhase {
        None,
        Drawing, // waiting for the random draw
        Commit,
        Reveal,
        Done
    }

    struct Round {
        RoundPhase phase;
        uint32 attempt; // 1 for the first draw, +1 per reassignment
        uint64 drawAt;
        uint64 commitDeadline;
        uint64 revealDeadline;
        address[3] auditors;
    }

    struct Report {
        uint256 id;
        uint256 rentalId; // 0 for a liveness challenge
        bytes32 machineId;
        address reporter; // the market (0x…0D01) for a liveness challenge
        uint256 deposit;
        uint8 outcome; // 0 pending, 1 fault confirmed, 2 rejected
        Round round;
    }

    struct NetworkStats {
        uint64 totalGpus; // GPUs of registered machines that have not exited or been rejected
        uint64 onlineGpus;
        uint64 rentedGpus;
        uint64 machines;
        uint16 burnRateBps;
        uint256 totalBurned; // rent burned, wei
        uint256 rewardsDistributed;
        uint256 rewardPoolRemaining;
        uint256 feesBurned; // EIP-1559 base fees burned so far, wei
    }

    struct Rewards {
        uint256 claimable; // immediate share and vested amounts not yet claimed
        uint256 vesting; // not yet vested
        uint256 claimed;
    }

    // ---- events (every state change emits one) ----
    event MachineRegistered(bytes32 indexed machineId, address indexed owner, uint32 gpuCount, uint256 stake);
    event StakeAdded(bytes32 indexed machineId, uint256 amount, uint256 stake);
    event PriceSet(bytes32 indexed machineId, uint256 pricePerGpuBlock);
    /// The owner published where the machine's agent answers auditors and renters.
    event EndpointSet(bytes32 indexed machineId, string endpoint);
    event MachineExited(bytes32 indexed machineId, address indexed owner, uint256 stakeReturned);
    event AuditorJoined(address indexed auditor, uint256 stake);
    event AuditorStakeAdded(address indexed auditor, uint256 amount, uint256 stake);
    event AuditorLeft(address indexed auditor, uint256 stakeReturned);
    event AuditorsAssigned(bytes32 indexed machineId, uint32 attempt, address[3] auditors, uint64 commitDeadline);
    event ReportAuditorsAssigned(uint256 indexed reportId, uint32 attempt, address[3] auditors, uint64 commitDeadline);
    event VerificationCommitted(bytes32 indexed machineId, address indexed auditor);
    event VerificationRevealed(bytes32 indexed machineId, address indexed auditor, bool specMatches, uint32 calcPoint);
    event MachineVerified(bytes32 indexed machineId, uint32 calcPoint, uint256 pricePerGpuBlock);
    event MachineRejected(bytes32 indexed machineId, uint256 slashed);
    event VerificationReassigned(bytes32 indexed machineId, uint32 attempt);
    event AuditorPenalized(address indexed auditor, uint256 amount);
    event Heartbeat(bytes32 indexed machineId);
    event MachineOffline(bytes32 indexed machineId, OfflineReason reason);
    event MachineOnline(bytes32 indexed machineId, uint64 offlineBlocks, uint256 slashed);
    event Slashed(bytes32 indexed machineId, uint256 amount, uint256 toRenter, uint256 toAuditors, uint256 toTreasury);
    event Rented(uint256 indexed rentalId, bytes32 indexed machineId, address indexed renter, uint32 gpus, uint64 start, uint64 end, uint256 paid, uint16 burnBps);
    event RentalExtended(uint256 indexed rentalId, uint64 end, uint256 paid);
    event RentalEnded(uint256 indexed rentalId, uint256 refunded, uint256 toProvider, uint256 burned);
    event RentBurned(uint256 indexed rentalId, uint256 amount, uint256 totalBurned);
    event FaultReported(uint256 indexed reportId, uint256 indexed rentalId, address indexed reporter, uint256 deposit);
    event ReportCommitted(uint256 indexed reportId, address indexed auditor);
    event ReportRevealed(uint256 indexed reportId, address indexed auditor, bool faulty);
    event ReportResolved(uint256 indexed reportId, bool faultConfirmed);
    event RewardSettled(bytes32 indexed machineId, address indexed owner, uint256 immediate, uint256 vesting, uint256 toAuditors);
    event RewardsClaimed(address indexed account, uint256 amount);
    /// A rental ended: its bonus is `rentedBonusBps` of the reward its GPUs earned while it ran
    /// (`accrued`), paid at most up to the rent it burned (`paid`), so renting one's own machine
    /// never pays.
    event LivenessChallenged(bytes32 indexed machineId, uint256 indexed reportId);
    /// A machine that auditors found failing came back: it is verified again (auditors drawn
    /// as at registration) before it serves; `slashed` as in `MachineOnline`.
    event MachineReverifying(bytes32 indexed machineId, uint256 slashed);
    event RentedBonusPaid(bytes32 indexed machineId, uint256 indexed rentalId, uint256 accrued, uint256 paid);

    // ---- errors (reverts carry them; they decode with this interface) ----
    error StaticCallWrite();
    error DelegateCallNotAllowed();
    error NotPayable();
    error UnknownSelector(bytes4 selector);
    error MachineExists(bytes32 machineId);
    error UnknownMachine(bytes32 machineId);
    error InvalidSpec();
    error WrongStake(uint256 required, uint256 sent);
    error NotMachineOwner(bytes32 machineId);
    error BadMachineStatus(bytes32 machineId, MachineStatus status);
    error ExitTooEarly(uint64 allowedAt);
    error HasActiveRental(bytes32 machineId);
    error AlreadyAuditor();
    error NotAuditor();
    error AuditorBusy(uint32 activeAssignments);
    error NotAssigned();
    error WrongPhase(RoundPhase phase);
    error AlreadyCommitted();
    error CommitmentMismatch();
    error InvalidDuration(uint64 blocks, uint64 unit, uint64 max);
    error NotEnoughGpus(uint32 requested, uint32 available);
    error InsufficientPayment(uint256 required, uint256 sent);
    error UnknownRental(uint256 rentalId);
    error NotRenter(uint256 rentalId);
    error RentalNotActive(uint256 rentalId);
    error UnknownReport(uint256 reportId);
    error ReportPending(uint256 reportId);
    error StakeTooLow(uint256 required, uint256 stake);
    error NothingToClaim();
    error ArithmeticOverflow();
    error PriceTooHigh();
    error PriceTooLow(uint256 minimum);
    error OwnMachine(bytes32 machineId);
    error TooManyExtensions(uint256 rentalId, uint8 max);
    error UnknownGpuModel(bytes32 model);
    /// The heartbeat's block is not one of the last `maxAge` blocks before this one.
    error StaleHeartbeat(uint64 blockNumber, uint64 maxAge);
    /// The heartbeat is not signed by the machine's key.
    error BadHeartbeatSignature();
    /// A liveness challenge of the machine is being decided.
    error ChallengePending(uint256 reportId);
    /// An endpoint is at most 128 bytes of printable ASCII without spaces.
    error InvalidEndpoint();

    // ---- providers ----
    /// Registers a machine, staking exactly `stakePerGpu × spec.gpuCount` (msg.value); auditors
    /// are drawn `drawDelay` blocks later. `spec.gpuModel` must be in the GPU-model table with
    /// its memory (`UnknownGpuModel`, `InvalidSpec`); `spec.machineKey` is the key the machine
    /// holds (not zero).
    function register(bytes32 machineId, MachineSpec calldata spec) external payable;
    function addStake(bytes32 machineId) external payable;
    /// Sets the price per GPU per block (0 restores the default: standard price × calc point /
    /// standard point). A custom price is at least `minPriceBps` of that default
    /// (`PriceTooLow`).
    function setPrice(bytes32 machineId, uint256 pricePerGpuBlock) external;
    /// Publishes where the machine's agent answers auditors' checks and renters (a URL such as
    /// "http://203.0.113.7:7070", at most 128 bytes of printable ASCII without spaces; "" clears
    /// it). Whatever answers there proves itself with the machine key, so a wrong endpoint only
    /// fails the machine's own checks. Only the owner, not after exit or rejection.
    function setEndpoint(bytes32 machineId, string calldata endpoint) external;
    /// Proves liveness; brings an offline machine back online, applying the graduated slash (one
    /// that auditors found failing goes through a new verification instead,
    /// `MachineReverifying`).
    /// `signature` (65 bytes r‖s‖v, v 27 or 28, low s: the one encoding seals use) is the machine key's signature of
    /// `heartbeatDigest(machineId, blockNumber)`, `blockNumber` one of the last 64 blocks: it
    /// cannot be made before that block exists. Anyone may send it (the machine key needs no
    /// balance).
    function heartbeat(bytes32 machineId, uint64 blockNumber, bytes calldata signature) external;
    /// The owner takes the machine offline (maintenance); slashed on return if it was rented.
    function goOffline(bytes32 machineId) external;
    /// Leaves the market after `minOnlineBlocks` online and `exitCooldownBlocks` since the last
    /// rental; returns the stake less slashes.
    function exit(bytes32 machineId) external;

    // ---- auditors (verification committee) ----
    function joinCommittee() external payable;
    /// Adds msg.value to the caller's committee stake: draws skip members below `auditorStake`
    /// (e.g. after a penalty) until they top up.
    function addAuditorStake() external payable;
    function leaveCommittee() external;
    /// commitment = keccak256(abi.encode(machineId, auditor, spec, calcPoint, salt)); `spec` is
    /// what the auditor found on the machine (its key included), `calcPoint` the per-GPU score it
    /// measured. A vote approves when the spec is the registered one and the score is within
    /// `calcPointToleranceBps` of the model's table value; two approving votes verify the
    /// machine at the table value, two others reject it.
    function commitVerification(bytes32 machineId, bytes32 commitment) external;
    function revealVerification(bytes32 machineId, MachineSpec calldata spec, uint32 calcPoint, bytes32 salt)
        external;
    /// A report is a renter's fault report or the network's liveness challenge (reporter
    /// 0x…0D01). commitment = keccak256(abi.encode(reportId, auditor, faulty, salt))
    function commitReport(uint256 reportId, bytes32 commitment) external;
    function revealReport(uint256 reportId, bool faulty, bytes32 salt) external;

    // ---- renters ----
    function quote(bytes32 machineId, uint32 gpus, uint64 blocks) external view returns (uint256);
    /// Rents `gpus` GPUs for `blocks` blocks (a multiple of `rentUnitBlocks`, at most
    /// `maxRentBlocks`); excess msg.value is refunded. A machine's owner cannot rent it
    /// (`OwnMachine`).
    function rent(bytes32 machineId, uint32 gpus, uint64 blocks) external payable returns (uint256 rentalId);
    /// Extends a rental by `blocks` blocks at the machine's current price (at most 16 times per
    /// rental, `TooManyExtensions`). Each extension is its own segment at its own price.
    /// `rent` on behalf of `beneficiary`, who receives the refund when the rental ends and the
    /// renter's share of a slash, and may report a fault; the caller still controls the rental
    /// (extend, end). For contracts that rent for their users, so that nothing is paid to the
    /// contract. The machine's owner cannot be the beneficiary.
    function rentFor(bytes32 machineId, uint32 gpus, uint64 blocks, address beneficiary)
        external
        payable
        returns (uint256 rentalId);
    function extendRental(uint256 rentalId, uint64 blocks) external payable;
    /// Ends a rental early: the unused blocks of every segment are refunded at that segment's
    /// price.
    function endRental(uint256 rentalId) external;
    /// Reports a fault of a rented machine with a deposit of `reportDeposit` (msg.value).
    function reportFault(uint256 rentalId) external payable returns (uint256 reportId);

    // ---- rewards ----
    function claimRewards() external returns (uint256 amount);

    // ---- views ----
    function getMachine(bytes32 machineId) external view returns (Machine memory);
    /// The machine's published endpoint ("" if none).
    function endpointOf(bytes32 machineId) external view returns (string memory);
    function machineCount() external view returns (uint256);
    function machineIdAt(uint256 index) external view returns (bytes32);
    function getRound(bytes32 machineId) external view returns (Round memory);
    function getRental(uint256 rentalId) external view returns (Rental memory);
    function rentalCount() external view returns (uint256);
    function getReport(uint256 reportId) external view returns (Report memory);
    function burnRateBps() external view returns (uint16);
    function burnRateBpsFor(uint64 onlineGpus) external view returns (uint16);
    function networkStats() external view returns (NetworkStats memory);
    function rewardsOf(address account) external view returns (Rewards memory);
    function pendingReward(bytes32 machineId) external view returns (uint256);
    function isAuditor(address account) external view returns (bool);
    function auditorStake(address account) external view returns (uint256);
    function committeeSize() external view returns (uint256);
    /// The genesis table's reference calc point per GPU and memory per GPU of `model` (reverts
    /// `UnknownGpuModel`).
    function gpuModel(bytes32 model) external view returns (uint32 calcPoint, uint32 memoryGb);
    /// What a machine key signs for a heartbeat: keccak256("DBC machine heartbeat" ‖ market
    /// address ‖ machineId ‖ blockNumber (8 bytes) ‖ blockhash(blockNumber)).
    function heartbeatDigest(bytes32 machineId, uint64 blockNumber) external view returns (bytes32);
}

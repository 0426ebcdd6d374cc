// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// GpuMarketSol: a faithful Solidity stand-in of dbc-node's GPU-market precompile (0x…0D01,
// `crates/precompiles/src/market/`), for `forge test`, where the precompile does not exist.
//
// Install it at the market's address and initialise it once:
//
//     HEVM.etch(DBC_MARKET, type(GpuMarketSol).runtimeCode);
//     GpuMarketSol(payable(DBC_MARKET)).initDev();            // the dev chain's parameters
//     // or: GpuMarketParams memory p = gpuMarketDevParams(); p.drawDelayBlocks = 5;
//     //     GpuMarketSol(payable(DBC_MARKET)).init(p);
//
// and, like the node, call the end-of-block hook at the END of every block, after the block's
// transactions, from the system address (the node passes baseFee × gasUsed of the block):
//
//     HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
//     (bool ok,) = DBC_MARKET.call(abi.encodeWithSignature("onBlock(uint256)", feesBurned));
//
// `nextHookBlock()` tells which blocks a test may skip (see there). Calls by the market's
// project-mining hook go to `DBC_MINING` (`IMiningGradeHook.onGradeChange`, where the node
// calls `mining::on_grade_change`, with the same arguments) when code is installed there.
// The runtime code is larger than EIP-170 allows (about 57 KB): install it with `vm.etch`
// only, and only at `DBC_MARKET` (elsewhere every call reverts `DelegateCallNotAllowed`, as a
// DELEGATECALL to the precompile does). Parameters live in hashed storage slots; there is no
// constructor and there are no immutables.
//
// Every call mirrors the Rust precompile: the same checks in the same order
// (DelegateCallNotAllowed, UnknownSelector, StaticCallWrite, NotPayable), the same success or
// revert, return data, custom errors, events (same order and fields), DBC movements and
// storage: the contract keeps the node's own storage layout (records at
// keccak256(abi.encode(tag, key)) + field, globals in slots 0..14, the same bit packing), and
// writes a record back slot by slot where it changed, as the node's `Slots` does.
//
// Known divergences from the node (none is reachable by calldata that solc or alloy encode):
//  1. ABI decoding. The node decodes leniently (alloy, not validating): it accepts a `uint32`,
//     `uint64`, `uint16`, `bool` or `address` argument with dirty high bits (truncating it) and
//     answers `UnknownSelector(selector)` to calldata too short for its function (a `bytes` or
//     `string` argument running past the end included). Solidity's decoder reverts with empty
//     data in both cases. Trailing bytes are ignored by both. A DELEGATECALL with undecodable
//     calldata reverts empty here, `DelegateCallNotAllowed` there.
//  2. Extra selectors: `initDev()`, `init(GpuMarketParams)`, `nextHookBlock()`,
//     `emissionSchedule()` (read by `GovernanceSol.emissionRate`),
//     `ownerMachines(address)`, `machineGrade(bytes32)` (IMarketMockReads) and the internal
//     `gpuMarketSolRunItem(uint64,uint8,uint64)` / static probe (callable by the contract
//     itself only; anyone else gets `UnknownSelector`) exist here; the node answers
//     `UnknownSelector` to all of them. Before `initDev`/`init`, every market call reverts with
//     `GpuMarketSolFatal("not initialized")`.
//  3. Static-context detection is a self-call with 10,000 gas that attempts a TSTORE: called
//     with less than ~10,200 gas left, a state-changing function may report
//     `StaticCallWrite()` where the node would run out of gas.
//  4. Gas: not mirrored (the node meters its own schedule, `store::gas`); an out-of-gas here
//     is Solidity's, and the hook is not metered on the node. Each payment or burn here
//     creates a contract (about 35k gas) and increments the market's nonce.
//  5. Fatal errors: where the node aborts the block (the market's balance cannot cover a
//     payment: `HostError::Balance`, a broken invariant), the call reverts here with
//     `GpuMarketSolFatal(reason)`, which the hook does not skip.
//  6. Plain Rust arithmetic on block numbers, counters and u32 fields (`now + window`,
//     `count + 1`, `m.rented += gpus`, `attempt + 1`) cannot overflow with parameters that
//     pass validation; if it ever did, the node (release build) would wrap, this contract
//     reverts with a Solidity panic (except an account's tranche counter, which wraps as in
//     `common/RewardAccount.sol`, shared with mining). Every `ck(..)` of the node is an
//     explicit `ArithmeticOverflow()` here.
//  7. Events of the block hook: the node runs `onBlock` as a system call without a receipt,
//     so whatever it emits is dropped; this contract does not emit them, nor has the
//     governance stand-in log the hook's treasury inflows (everything the hook does shows in
//     state and views, as on the node).
//  8. `vm.deal` is not journaled (a reverted frame keeps its balance changes), so payments are
//     not made with it: a payment is a contract created with the value that self-destructs
//     to the payee in its constructor (EIP-6780: no code of the payee runs; a revert undoes
//     it), a burn is one that self-destructs to itself (the value leaves the supply).
//     `initDev`/`init` top the market's balance up to `rewardPool` with `vm.deal` (the
//     genesis allocation of the market account). The treasury's shares (slashes, auditor
//     penalties, rejected machines' stake, lost report deposits) are paid that way to the
//     governance account `DBC_GOVERNANCE`, then counted there by `GovernanceSol` (a call to
//     its extra selector, which emits `TreasuryReceived`): install it too (`DbcPrecompiles`
//     does); without code there the value moves uncounted. Rent burns are capped by the burn
//     floor kept there (`reserveBurn`; the excess to the treasury, source 8); without code
//     there all of it is burned. Run the governance hook after this one in every block
//     (`DbcPrecompiles.endBlock` does), or its pending burns of the block are never reset.
//  9. Randomness is the node's `Host::randomness`: keccak256(block.prevrandao ‖
//     uint256(block.number)); block hashes are `blockhash(n)` inside the last 256 blocks
//     (forge's own unless set with `vm.setBlockhash`); `origin` is not used by the market.
// 10. `nextHookBlock()` is exact only if the hook ran at every block with work due so far (a
//     test that rolled past such a block without calling the hook gets the current block).

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {HEVM} from "./Vm.sol";
import {DBC_MARKET, DBC_SYSTEM} from "./DbcAddresses.sol";
import {IMarketMockReads} from "./MockHooks.sol";
import {
    GpuMarketParams,
    GpuModelRow,
    BurnTierRow,
    SlashTierRow,
    gpuMarketDevParams
} from "./market/MarketBase.sol";
import {MarketHook} from "./market/MarketHook.sol";
import {Machine, Round, Rental, Report} from "./market/MarketRecords.sol";
import {overflow} from "./common/CheckedMath.sol";
import {Emission, EmissionLib, IEmissionSource} from "./common/Emission.sol";
import {slot, numKey, addrKey, get, set, g} from "./common/StoreLib.sol";
import {blockNow, inStaticContext, answerStaticProbe} from "./common/Host.sol";

contract GpuMarketSol is MarketHook, IMarketMockReads, IEmissionSource {
    /// Selector of the static-context probe (a self-call; see `_isStatic`).
    bytes4 internal constant PROBE_SELECTOR = bytes4(keccak256("gpuMarketSolStaticProbe()"));
    /// Upper bound of every duration parameter (`dbc_chainspec::MAX_DURATION_BLOCKS`).
    uint64 internal constant MAX_DURATION_BLOCKS = 1_000_000_000_000;
    /// Most rows of the GPU-model table (`dbc_chainspec::MAX_GPU_MODELS`).
    uint256 internal constant MAX_GPU_MODELS = 256;

    // =========================================================================================
    // genesis

    /// Installs the dev chain's parameters (`MarketParams::default()`, what `genesis/dev.json`
    /// uses) and tops the market's balance up to the reward pool (4e27 wei), as the dev
    /// genesis allocates it. Once only.
    function initDev() external {
        _init(gpuMarketDevParams());
    }

    /// Installs other genesis parameters (`config.dbc.market`; start from `gpuMarketDevParams()`
    /// for the defaults), checked as `MarketParams::validate` checks them (reverts with its
    /// message), and tops the market's balance up to `p.rewardPool`. Once only.
    function init(GpuMarketParams memory p) external {
        _init(p);
    }

    function _init(GpuMarketParams memory p) internal {
        require(address(this) == DBC_MARKET, "GpuMarketSol: install at DBC_MARKET");
        require(get(INIT_SLOT) == 0, "GpuMarketSol: already initialized");
        _validate(p);
        set(INIT_SLOT, 1);
        GpuMarketParams storage s = _p();
        s.stakePerGpu = p.stakePerGpu;
        s.auditorStake = p.auditorStake;
        s.auditorPenaltyBps = p.auditorPenaltyBps;
        s.auditorRewardBps = p.auditorRewardBps;
        s.drawDelayBlocks = p.drawDelayBlocks;
        s.commitWindowBlocks = p.commitWindowBlocks;
        s.revealWindowBlocks = p.revealWindowBlocks;
        s.rejectSlashBps = p.rejectSlashBps;
        s.standardCalcPoint = p.standardCalcPoint;
        for (uint256 i; i < p.gpuModels.length; i++) {
            s.gpuModels.push(p.gpuModels[i]);
        }
        s.calcPointToleranceBps = p.calcPointToleranceBps;
        s.challengeCheckBlocks = p.challengeCheckBlocks;
        s.challengeChanceBps = p.challengeChanceBps;
        s.standardPricePerGpuBlock = p.standardPricePerGpuBlock;
        s.minPriceBps = p.minPriceBps;
        s.rentUnitBlocks = p.rentUnitBlocks;
        s.maxRentBlocks = p.maxRentBlocks;
        for (uint256 i; i < p.burnTiers.length; i++) {
            s.burnTiers.push(p.burnTiers[i]);
        }
        s.burnTierBasisRegistered = p.burnTierBasisRegistered;
        s.emission = p.emission;
        s.epochBlocks = p.epochBlocks;
        s.rewardPool = p.rewardPool;
        s.immediateBps = p.immediateBps;
        s.vestingBlocks = p.vestingBlocks;
        s.rentedBonusBps = p.rentedBonusBps;
        s.heartbeatTimeoutBlocks = p.heartbeatTimeoutBlocks;
        s.minOnlineBlocks = p.minOnlineBlocks;
        s.exitCooldownBlocks = p.exitCooldownBlocks;
        for (uint256 i; i < p.ownerOfflineSlash.length; i++) {
            s.ownerOfflineSlash.push(p.ownerOfflineSlash[i]);
        }
        for (uint256 i; i < p.unreachableSlash.length; i++) {
            s.unreachableSlash.push(p.unreachableSlash[i]);
        }
        s.slashRenterBps = p.slashRenterBps;
        s.slashAuditorsBps = p.slashAuditorsBps;
        s.reportDeposit = p.reportDeposit;
        s.maxProjectsPerMachine = p.maxProjectsPerMachine;
        if (address(this).balance < p.rewardPool) HEVM.deal(address(this), p.rewardPool);
    }

    /// `MarketParams::validate`.
    function _validate(GpuMarketParams memory p) internal pure {
        _bpsOk("auditorPenaltyBps", p.auditorPenaltyBps);
        _bpsOk("auditorRewardBps", p.auditorRewardBps);
        _bpsOk("rejectSlashBps", p.rejectSlashBps);
        _bpsOk("immediateBps", p.immediateBps);
        _bpsOk("rentedBonusBps", p.rentedBonusBps);
        _bpsOk("minPriceBps", p.minPriceBps);
        _bpsOk("slashRenterBps", p.slashRenterBps);
        _bpsOk("slashAuditorsBps", p.slashAuditorsBps);
        _bpsOk("calcPointToleranceBps", p.calcPointToleranceBps);
        _bpsOk("challengeChanceBps", p.challengeChanceBps);
        require(
            p.gpuModels.length > 0 && p.gpuModels.length <= MAX_GPU_MODELS,
            "market.gpuModels must have 1 to 256 rows"
        );
        for (uint256 i; i < p.gpuModels.length; i++) {
            GpuModelRow memory row = p.gpuModels[i];
            require(_validName(row.model), "market.gpuModels: a name is not a 1-32 byte name");
            require(
                row.calcPoint != 0 && row.memoryGb != 0, "market.gpuModels: a model needs a calcPoint and memoryGb"
            );
            for (uint256 j; j < i; j++) {
                require(p.gpuModels[j].model != row.model, "market.gpuModels: a model appears twice");
            }
        }
        require(
            uint256(p.slashRenterBps) + p.slashAuditorsBps <= 10_000,
            "market.slashRenterBps + slashAuditorsBps exceed 10000"
        );
        require(
            p.epochBlocks != 0 && p.vestingBlocks != 0 && p.rentUnitBlocks != 0 && p.drawDelayBlocks != 0
                && p.commitWindowBlocks != 0 && p.revealWindowBlocks != 0 && p.heartbeatTimeoutBlocks != 0
                && p.challengeCheckBlocks != 0,
            "market: a duration that must be positive is 0"
        );
        require(
            p.epochBlocks <= MAX_DURATION_BLOCKS && p.vestingBlocks <= MAX_DURATION_BLOCKS
                && p.rentUnitBlocks <= MAX_DURATION_BLOCKS && p.maxRentBlocks <= MAX_DURATION_BLOCKS
                && p.drawDelayBlocks <= MAX_DURATION_BLOCKS && p.commitWindowBlocks <= MAX_DURATION_BLOCKS
                && p.revealWindowBlocks <= MAX_DURATION_BLOCKS && p.heartbeatTimeoutBlocks <= MAX_DURATION_BLOCKS
                && p.challengeCheckBlocks <= MAX_DURATION_BLOCKS && p.minOnlineBlocks <= MAX_DURATION_BLOCKS
                && p.exitCooldownBlocks <= MAX_DURATION_BLOCKS,
            "market: a duration exceeds 1000000000000 blocks"
        );
        require(p.standardCalcPoint != 0, "market.standardCalcPoint must be positive");
        require(p.maxRentBlocks >= p.rentUnitBlocks, "market.maxRentBlocks is shorter than rentUnitBlocks");
        require(
            p.burnTiers.length > 0 && p.burnTiers[0].fromGpus == 0,
            "market.burnTiers must start with a tier from 0 GPUs"
        );
        for (uint256 i = 1; i < p.burnTiers.length; i++) {
            require(
                p.burnTiers[i].fromGpus > p.burnTiers[i - 1].fromGpus,
                "market.burnTiers must be in ascending fromGpus order"
            );
        }
        for (uint256 i; i < p.burnTiers.length; i++) {
            _bpsOk("burnTiers.bps", p.burnTiers[i].bps);
        }
        _slashTiersOk("ownerOfflineSlash", p.ownerOfflineSlash);
        _slashTiersOk("unreachableSlash", p.unreachableSlash);
        EmissionLib.validate(p.emission, "market.emission", p.rewardPool);
    }

    function _bpsOk(string memory name, uint16 v) internal pure {
        require(v <= 10_000, string.concat("market.", name, " exceeds 10000 bps"));
    }

    /// A 1-32 byte name without NUL, left-aligned in `b`.
    function _validName(bytes32 b) internal pure returns (bool) {
        if (b[0] == 0) return false;
        bool ended;
        for (uint256 i = 1; i < 32; i++) {
            if (b[i] == 0) ended = true;
            else if (ended) return false;
        }
        return true;
    }

    function _slashTiersOk(string memory name, SlashTierRow[] memory list) internal pure {
        require(
            list.length > 0 && list[list.length - 1].underBlocks == type(uint64).max,
            string.concat("market.", name, " must end with a tier without underBlocks")
        );
        for (uint256 i; i < list.length; i++) {
            _bpsOk(name, list[i].bps);
            uint64 u = list[i].underBlocks;
            require(
                u == type(uint64).max || u <= MAX_DURATION_BLOCKS,
                "market.slash tier underBlocks exceeds 1000000000000 blocks"
            );
        }
        for (uint256 i = 1; i < list.length; i++) {
            uint64 a = list[i - 1].underBlocks;
            uint64 b = list[i].underBlocks;
            require(a != type(uint64).max && b > a, string.concat("market.", name, " must be in ascending underBlocks order"));
        }
    }

    // =========================================================================================
    // call-level checks (market/mod.rs `dispatch`)

    /// DelegateCallNotAllowed, then (state-changing functions) StaticCallWrite, then
    /// NotPayable, as the node checks them.
    function _enter(bool write, bool payable_) internal {
        if (address(this) != DBC_MARKET) revert IGpuMarket.DelegateCallNotAllowed();
        _requireInit();
        if (write && _isStatic()) revert IGpuMarket.StaticCallWrite();
        if (!payable_ && msg.value != 0) revert IGpuMarket.NotPayable();
    }

    function _requireInit() internal view {
        if (get(INIT_SLOT) == 0) revert GpuMarketSolFatal("not initialized: call initDev() or init() first");
    }

    /// Whether this call runs in a static context: a self-call with 10,000 gas that writes
    /// transient storage fails there (`inStaticContext`).
    function _isStatic() internal returns (bool) {
        return inStaticContext(PROBE_SELECTOR, 10_000);
    }

    /// The block hook (`onBlock(uint256)`, only from `DBC_SYSTEM`), the static probe, and
    /// `UnknownSelector` for everything else.
    fallback() external payable {
        if (address(this) != DBC_MARKET) revert IGpuMarket.DelegateCallNotAllowed();
        bytes4 sel = bytes4(msg.data);
        if (msg.data.length >= 4 && sel == HOOK_SELECTOR) {
            if (msg.sender != DBC_SYSTEM || _isStatic()) revert IGpuMarket.UnknownSelector(HOOK_SELECTOR);
            _requireInit();
            uint256 fees = msg.data.length >= 36 ? uint256(bytes32(msg.data[4:36])) : 0;
            _onBlock(fees);
            return;
        }
        if (msg.data.length >= 4 && sel == PROBE_SELECTOR && msg.sender == address(this)) {
            answerStaticProbe(PROBE_TSLOT, 1);
            return;
        }
        revert IGpuMarket.UnknownSelector(sel);
    }

    /// One item of the block hook in its own call frame (only the contract itself may call).
    function gpuMarketSolRunItem(uint64 due, uint8 kind, uint64 id) external payable {
        if (address(this) != DBC_MARKET) revert IGpuMarket.DelegateCallNotAllowed();
        if (msg.sender != address(this)) revert IGpuMarket.UnknownSelector(msg.sig);
        _runItem(due, kind, id);
    }

    /// The earliest block number, from the current one (or the one after the last run of the
    /// hook, if later), whose end-of-block hook is not idle in the node's sense
    /// (`idle_hook_slots`: the hook's cursor is zero and that block's queue is empty), or
    /// `type(uint64).max` if no work is scheduled. With no fees burned, the hooks of the blocks
    /// before it change nothing, so a test may run the hook at the current block if the
    /// answer is the current block and otherwise roll straight to the answer. Exact while the
    /// hook ran at every block that had work due; a block whose hook was skipped although
    /// work was due makes the answer the current block.
    function nextHookBlock() external view returns (uint64) {
        uint64 from = blockNow();
        uint256 afterLast = get(LAST_HOOK_SLOT);
        if (afterLast > from) from = uint64(afterLast);
        if (g(G_CURSOR) != 0) return from;
        if (get(HEAP_BASE) == 0) return type(uint64).max;
        uint64 top = _heapAt(1);
        return top > from ? top : from;
    }

    /// The GPU reward pool's emission schedule and size (`config.dbc.market.emission`,
    /// `rewardPool`), read by `GovernanceSol.emissionRate` (`IEmissionSource`). Not a selector
    /// of the node's market.
    function emissionSchedule() external view override returns (Emission memory schedule, uint256 rewardPool) {
        if (address(this) != DBC_MARKET) revert IGpuMarket.DelegateCallNotAllowed();
        _requireInit();
        return (_p().emission, _p().rewardPool);
    }

    // =========================================================================================
    // IMarketMockReads

    /// @inheritdoc IMarketMockReads
    function ownerMachines(address provider) external view override returns (bytes32[] memory) {
        return _ownerMachines(provider);
    }

    /// @inheritdoc IMarketMockReads
    function machineGrade(bytes32 machineId) external view override returns (uint256) {
        return _machine(machineId).grade;
    }

    // =========================================================================================
    // providers

    function register(bytes32 machineId, IGpuMarket.MachineSpec calldata spec) external payable {
        _enter(true, true);
        _register(msg.sender, msg.value, machineId, spec);
    }

    function addStake(bytes32 machineId) external payable {
        _enter(true, true);
        _addStake(msg.sender, msg.value, machineId);
    }

    function setPrice(bytes32 machineId, uint256 pricePerGpuBlock) external payable {
        _enter(true, false);
        _setPrice(msg.sender, machineId, pricePerGpuBlock);
    }

    function setEndpoint(bytes32 machineId, string calldata endpoint) external payable {
        _enter(true, false);
        _setEndpoint(msg.sender, machineId, bytes(endpoint));
    }

    function heartbeat(bytes32 machineId, uint64 blockNumber, bytes calldata signature) external payable {
        _enter(true, false);
        _heartbeat(machineId, blockNumber, signature);
    }

    function goOffline(bytes32 machineId) external payable {
        _enter(true, false);
        _goOffline(msg.sender, machineId);
    }

    function exit(bytes32 machineId) external payable {
        _enter(true, false);
        _exit(msg.sender, machineId);
    }

    // =========================================================================================
    // auditors

    function joinCommittee() external payable {
        _enter(true, true);
        _joinCommittee(msg.sender, msg.value);
    }

    function addAuditorStake() external payable {
        _enter(true, true);
        _addAuditorStake(msg.sender, msg.value);
    }

    function leaveCommittee() external payable {
        _enter(true, false);
        _leaveCommittee(msg.sender);
    }

    function commitVerification(bytes32 machineId, bytes32 commitment) external payable {
        _enter(true, false);
        _commit(msg.sender, T_ROUND_MACHINE, machineId, commitment);
    }

    function revealVerification(bytes32 machineId, IGpuMarket.MachineSpec calldata spec, uint32 calcPoint, bytes32 salt)
        external
        payable
    {
        _enter(true, false);
        _revealVerification(msg.sender, machineId, spec, calcPoint, salt);
    }

    function commitReport(uint256 reportId, bytes32 commitment) external payable {
        _enter(true, false);
        if (reportId > type(uint64).max) overflow();
        _commit(msg.sender, T_ROUND_REPORT, numKey(reportId), commitment);
    }

    function revealReport(uint256 reportId, bool faulty, bytes32 salt) external payable {
        _enter(true, false);
        _revealReport(msg.sender, reportId, faulty, salt);
    }

    // =========================================================================================
    // renters

    function quote(bytes32 machineId, uint32 gpus, uint64 blocks) external payable returns (uint256) {
        _enter(false, false);
        Machine memory m = _machine(machineId);
        return _quote(m, gpus, blocks);
    }

    function rent(bytes32 machineId, uint32 gpus, uint64 blocks) external payable returns (uint256 rentalId) {
        _enter(true, true);
        rentalId = _rent(RentArgs(msg.sender, msg.value, machineId, gpus, blocks, msg.sender));
    }

    function rentFor(bytes32 machineId, uint32 gpus, uint64 blocks, address beneficiary)
        external
        payable
        returns (uint256 rentalId)
    {
        _enter(true, true);
        address b = beneficiary == address(0) ? msg.sender : beneficiary;
        rentalId = _rent(RentArgs(msg.sender, msg.value, machineId, gpus, blocks, b));
    }

    function extendRental(uint256 rentalId, uint64 blocks) external payable {
        _enter(true, true);
        _extend(msg.sender, msg.value, rentalId, blocks);
    }

    function endRental(uint256 rentalId) external payable {
        _enter(true, false);
        _endRentalEarly(msg.sender, rentalId);
    }

    function reportFault(uint256 rentalId) external payable returns (uint256 reportId) {
        _enter(true, true);
        reportId = _reportFault(msg.sender, msg.value, rentalId);
    }

    // =========================================================================================
    // rewards

    function claimRewards() external payable returns (uint256 amount) {
        _enter(true, false);
        amount = _claim(msg.sender);
    }

    // =========================================================================================
    // views (payable only so that value sent to them reverts `NotPayable()` as on the node)

    function getMachine(bytes32 machineId) external payable returns (IGpuMarket.Machine memory) {
        _enter(false, false);
        Machine memory m = _machine(machineId);
        return _machineAbi(m);
    }

    function endpointOf(bytes32 machineId) external payable returns (string memory) {
        _enter(false, false);
        _machine(machineId);
        return _endpointOf(machineId);
    }

    function machineCount() external payable returns (uint256) {
        _enter(false, false);
        return g(G_MACHINES);
    }

    function machineIdAt(uint256 index) external payable returns (bytes32) {
        _enter(false, false);
        if (index >= g(G_MACHINES)) revert IGpuMarket.UnknownMachine(bytes32(0));
        return bytes32(get(slot(T_MACHINE_AT, bytes32(index), 0)));
    }

    function getRound(bytes32 machineId) external payable returns (IGpuMarket.Round memory) {
        _enter(false, false);
        _machine(machineId);
        return _roundAbi(_loadRound(T_ROUND_MACHINE, machineId));
    }

    function getRental(uint256 rentalId) external payable returns (IGpuMarket.Rental memory) {
        _enter(false, false);
        return _rentalAbi(_rental(rentalId));
    }

    function rentalCount() external payable returns (uint256) {
        _enter(false, false);
        return g(G_RENTALS);
    }

    function getReport(uint256 reportId) external payable returns (IGpuMarket.Report memory out) {
        _enter(false, false);
        if (reportId > type(uint64).max) overflow();
        uint64 id = uint64(reportId);
        (bool exists, Report memory rep) = _loadReport(id);
        if (!exists) revert IGpuMarket.UnknownReport(reportId);
        Round memory round = _loadRound(T_ROUND_REPORT, numKey(id));
        out.id = reportId;
        out.rentalId = rep.rental;
        out.machineId = rep.machine;
        out.reporter = rep.reporter;
        out.deposit = rep.deposit;
        out.outcome = rep.outcome;
        out.round = _roundAbi(round);
    }

    function burnRateBps() external payable returns (uint16) {
        _enter(false, false);
        return _burnBps(_tierGpus());
    }

    function burnRateBpsFor(uint64 onlineGpus) external payable returns (uint16) {
        _enter(false, false);
        return _burnBps(onlineGpus);
    }

    function networkStats() external payable returns (IGpuMarket.NetworkStats memory) {
        _enter(false, false);
        return _networkStats();
    }

    function rewardsOf(address account) external payable returns (IGpuMarket.Rewards memory) {
        _enter(false, false);
        return _rewardsOf(account);
    }

    function pendingReward(bytes32 machineId) external payable returns (uint256) {
        _enter(false, false);
        Machine memory m = _machine(machineId);
        return _pending(m, _currentAcc());
    }

    function isAuditor(address account) external payable returns (bool) {
        _enter(false, false);
        return get(slot(T_AUDITOR, addrKey(account), 1)) != 0;
    }

    function auditorStake(address account) external payable returns (uint256) {
        _enter(false, false);
        return get(slot(T_AUDITOR, addrKey(account), 0));
    }

    function committeeSize() external payable returns (uint256) {
        _enter(false, false);
        return g(G_COMMITTEE);
    }

    function gpuModel(bytes32 model) external payable returns (uint32 calcPoint, uint32 memoryGb) {
        _enter(false, false);
        bool found;
        (found, calcPoint, memoryGb) = _gpuModel(model);
        if (!found) revert IGpuMarket.UnknownGpuModel(model);
    }

    function heartbeatDigest(bytes32 machineId, uint64 blockNumber) external payable returns (bytes32) {
        _enter(false, false);
        return _heartbeatDigest(machineId, blockNumber, _blockHash(blockNumber));
    }
}

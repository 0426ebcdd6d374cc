// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HEVM, Vm} from "../test-utils/Vm.sol";
import {DBC_MARKET, DBC_MINING} from "../test-utils/DbcAddresses.sol";
import {DbcPrecompiles} from "../test-utils/DbcPrecompiles.sol";
import {GpuMarketParams, gpuMarketDevParams} from "../test-utils/market/MarketBase.sol";
import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {ProjectToken, ProjectTokenFactory} from "../src/ProjectToken.sol";
import {MiningEscrow, IERC20Minimal} from "../src/MiningEscrow.sol";
import {Token} from "../src/Token.sol";
import {InferenceMarket} from "../examples/InferenceMarket.sol";

/// Unit tests of the example AI dApp (`examples/InferenceMarket.sol`) and the contracts it uses
/// (`ProjectTokenFactory`, `ProjectToken`; and `MiningEscrow` for an existing ERC-20), run on the
/// Solidity stand-ins of dbc-node's precompiles installed with the dev chain's parameters
/// (`DbcPrecompiles.install()`): machines are verified by a committee (draw `drawDelayBlocks`
/// after registration, commit–reveal), keep alive with heartbeats signed by their keys, and the
/// market's end-of-block hook runs through `DbcPrecompiles.mine`.
///
/// Every expected amount is derived here from the rules (the dev parameters, the GPU-model
/// table, the accumulator of project mining), never copied from a run.
contract InferenceMarketTest {
    IGpuMarket internal constant MARKET = IGpuMarket(DBC_MARKET);
    IProjectMining internal constant MINING = IProjectMining(DBC_MINING);

    // The dApp's program, as `script/MiningE2E.s.sol` issues it.
    uint256 internal constant TPB = 3 ether;
    uint256 internal constant BUDGET = 1_000_000_000 ether;
    uint64 internal constant MINING_BLOCKS = 5_256_000;
    /// The token fee per GPU-block the operator sets once providers hold tokens.
    uint256 internal constant FEE = 0.01 ether;
    /// GPU-blocks of a job: one rent unit of the dev chain (`rentUnitBlocks`).
    uint64 internal constant JOB = 300;
    uint256 internal constant START = 100;
    uint256 internal constant ACC_SCALE = 1e18;
    uint256 internal constant BPS = 10_000;

    address internal constant OPERATOR = address(0x0DE7);
    address internal constant USER = address(0x05E4);
    address internal constant USER2 = address(0x05E5);
    address internal constant PROVIDER_A = address(0xA0A0);
    address internal constant PROVIDER_B = address(0xB0B0);
    address internal constant PROVIDER_C = address(0xC0C0);
    address internal constant STRANGER = address(0x5757);
    address internal constant ESCROW_OWNER = address(0xE5C0);
    address internal constant ESCROW_ATTESTOR = address(0xA77E);
    address[3] internal auditors = [address(0xAD01), address(0xAD02), address(0xAD03)];

    /// 2 × RTX 4090 (calc point 1,000, 24 GB) of provider A.
    bytes32 internal constant MA = bytes32("machine-A");
    /// 1 × A100 80GB (calc point 1,890, 80 GB) of provider B.
    bytes32 internal constant MB = bytes32("machine-B");

    ProjectTokenFactory internal factory;
    InferenceMarket internal dapp;
    ProjectToken internal token;
    uint256 internal pid;
    uint64 internal epochBlocks;

    mapping(bytes32 => uint256) internal keyOf;
    mapping(bytes32 => IGpuMarket.MachineSpec) internal specOf;

    function setUp() public {
        DbcPrecompiles.install();
        HEVM.roll(START);
        HEVM.prevrandao(bytes32(uint256(0xDBC)));
        epochBlocks = MINING.epochBlocks();
        require(epochBlocks == _params().epochBlocks && epochBlocks == 14_400, "dev epoch");
        HEVM.deal(USER, 1_000_000 ether);
        HEVM.deal(USER2, 1_000_000 ether);
        HEVM.deal(PROVIDER_A, 1_000_000 ether);
        HEVM.deal(PROVIDER_B, 1_000_000 ether);
        // Committee members staking 4× the minimum: the stake-weighted draw accepts them always.
        uint256 stake = 4 * _params().auditorStake;
        for (uint256 i; i < 3; i++) {
            HEVM.deal(auditors[i], stake);
            HEVM.prank(auditors[i], auditors[i]);
            MARKET.joinCommittee{value: stake}();
        }
        // Deployment as `script/DeployInference.s.sol` / `MiningE2E.s.sol`: factory, dApp (fee 0),
        // then the dApp issues its token and program in one call.
        HEVM.prank(OPERATOR, OPERATOR);
        factory = new ProjectTokenFactory();
        HEVM.prank(OPERATOR, OPERATOR);
        dapp = new InferenceMarket(0);
        HEVM.prank(OPERATOR, OPERATOR);
        dapp.init(factory, "Inference Token", "INFER", TPB, BUDGET, _end(), _requirements());
        token = dapp.token();
        pid = dapp.projectId();
    }

    // =========================================================================================
    // helpers

    function _params() internal pure returns (GpuMarketParams memory) {
        return gpuMarketDevParams();
    }

    function _end() internal pure returns (uint64) {
        return uint64(START + MINING_BLOCKS);
    }

    function _requirements() internal pure returns (IProjectMining.Requirements memory r) {
        bytes32[] memory models = new bytes32[](2);
        models[0] = bytes32("RTX 4090");
        models[1] = bytes32("A100 80GB");
        r = IProjectMining.Requirements({minGpuMemoryGb: 16, minCalcPoint: 500, gpuModels: models});
    }

    function _ids(bytes32 a) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](1);
        ids[0] = a;
    }

    function _ids(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](2);
        ids[0] = a;
        ids[1] = b;
    }

    /// The burn share of the dev tiers for `gpus` online GPUs (`math::burn_bps`).
    function _tierBps(uint256 gpus) internal pure returns (uint16 bps) {
        GpuMarketParams memory p = gpuMarketDevParams();
        for (uint256 i; i < p.burnTiers.length; i++) {
            if (p.burnTiers[i].fromGpus > gpus) break;
            bps = p.burnTiers[i].bps;
        }
    }

    /// Reward grade of a verified machine: table calc point × GPUs × 10,000 (`math::grade`).
    function _grade(bytes32 id) internal view returns (uint256) {
        (uint32 cp,) = MARKET.gpuModel(specOf[id].gpuModel);
        return uint256(cp) * specOf[id].gpuCount * BPS;
    }

    /// The standard rent of one GPU of `id` for `blocks` blocks: standard price × calc point /
    /// standard calc point per GPU-block.
    function _rent(bytes32 id, uint64 blocks) internal view returns (uint256) {
        GpuMarketParams memory p = _params();
        (uint32 cp,) = MARKET.gpuModel(specOf[id].gpuModel);
        return p.standardPricePerGpuBlock * cp / p.standardCalcPoint * blocks;
    }

    /// Registers machine `id` of `owner` (stake `stakePerGpu` × GPUs); its key signs heartbeats.
    function _register(bytes32 id, address owner, bytes32 model, uint32 gpus) internal {
        (, uint32 mem) = MARKET.gpuModel(model);
        uint256 key = uint256(keccak256(abi.encode("dbc machine key", id)));
        keyOf[id] = key;
        IGpuMarket.MachineSpec memory s = IGpuMarket.MachineSpec({
            gpuModel: model,
            gpuCount: gpus,
            gpuMemoryGb: mem,
            cpuCores: 16,
            ramGb: 64,
            diskGb: 1_000,
            region: bytes32("ap-east"),
            machineKey: HEVM.addr(key)
        });
        specOf[id] = s;
        uint256 stake = _params().stakePerGpu * gpus;
        HEVM.deal(owner, owner.balance + stake);
        HEVM.prank(owner, owner);
        MARKET.register{value: stake}(id, s);
    }

    /// Verifies machines registered in the current block: the draw runs in the hook
    /// `drawDelayBlocks` later; the three drawn auditors commit to the spec and the table calc
    /// point, then reveal. Returns with all of them online, one block after the draw.
    function _verify(bytes32[] memory ids) internal {
        DbcPrecompiles.mine(_params().drawDelayBlocks + 1);
        for (uint256 k; k < ids.length; k++) {
            bytes32 id = ids[k];
            IGpuMarket.Round memory r = MARKET.getRound(id);
            require(r.phase == IGpuMarket.RoundPhase.Commit, "auditors not drawn");
            IGpuMarket.MachineSpec memory s = specOf[id];
            (uint32 cp,) = MARKET.gpuModel(s.gpuModel);
            for (uint256 i; i < 3; i++) {
                HEVM.prank(r.auditors[i], r.auditors[i]);
                MARKET.commitVerification(id, keccak256(abi.encode(id, r.auditors[i], s, cp, bytes32(i + 1))));
            }
            for (uint256 i; i < 3; i++) {
                HEVM.prank(r.auditors[i], r.auditors[i]);
                MARKET.revealVerification(id, s, cp, bytes32(i + 1));
            }
            IGpuMarket.Machine memory m = MARKET.getMachine(id);
            require(m.status == IGpuMarket.MachineStatus.Online && m.calcPoint == cp, "not verified");
        }
    }

    /// A heartbeat of `id`, signed by its key over the previous block, relayed by a stranger.
    function _heartbeat(bytes32 id) internal {
        uint64 n = uint64(block.number - 1);
        (uint8 v, bytes32 r, bytes32 s) = HEVM.sign(keyOf[id], MARKET.heartbeatDigest(id, n));
        HEVM.prank(STRANGER, STRANGER);
        MARKET.heartbeat(id, n, abi.encodePacked(r, s, v));
    }

    /// Answers an open liveness challenge of `id` (its auditors find it serving), so that the
    /// random challenges of the dev chain (`challengeChanceBps`) never take a kept-alive machine
    /// down.
    function _answerChallenge(bytes32 id) internal {
        uint256 rep = MARKET.getMachine(id).openChallenge;
        if (rep == 0) return;
        IGpuMarket.Report memory r = MARKET.getReport(rep);
        if (r.round.phase != IGpuMarket.RoundPhase.Commit) return;
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            MARKET.commitReport(rep, keccak256(abi.encode(rep, a, false, bytes32(i))));
        }
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            MARKET.revealReport(rep, false, bytes32(i));
        }
    }

    /// Mines `blocks` blocks, relaying a heartbeat of each of `ids` now and every 50 blocks (the
    /// dev timeout is 100), so they stay online.
    function _mineAlive(uint256 blocks, bytes32[] memory ids) internal {
        uint256 target = block.number + blocks;
        for (uint256 i; i < ids.length; i++) {
            if (MARKET.getMachine(ids[i]).lastHeartbeat < block.number) _heartbeat(ids[i]);
        }
        while (block.number < target) {
            uint256 step = target - block.number < 50 ? target - block.number : 50;
            DbcPrecompiles.mine(step);
            for (uint256 i; i < ids.length; i++) {
                require(MARKET.getMachine(ids[i]).status == IGpuMarket.MachineStatus.Online, "went offline");
                _answerChallenge(ids[i]);
                _heartbeat(ids[i]);
            }
        }
    }

    /// Mines to the first block of epoch `e`; machines left without heartbeats went offline
    /// (idle, unslashed); a heartbeat of each of `ids` brings it back.
    function _toEpoch(uint64 e, bytes32[] memory ids) internal {
        DbcPrecompiles.mine(uint256(e) * epochBlocks - block.number);
        for (uint256 i; i < ids.length; i++) {
            _heartbeat(ids[i]);
            require(MARKET.getMachine(ids[i]).status == IGpuMarket.MachineStatus.Online, "not back online");
        }
    }

    function _submit(address who, bytes32 id, uint64 blocks) internal returns (uint256 jobId) {
        uint256 rent = MARKET.quote(id, 1, blocks);
        HEVM.prank(who, who);
        jobId = dapp.submitJob{value: rent}(id, blocks);
    }

    /// A and B verified (online at block 103) and enrolled in the dApp's program.
    function _machinesEnrolled() internal {
        _register(MA, PROVIDER_A, bytes32("RTX 4090"), 2);
        _register(MB, PROVIDER_B, bytes32("A100 80GB"), 1);
        _verify(_ids(MA, MB));
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        MINING.enroll(pid, MA);
        HEVM.prank(PROVIDER_B, PROVIDER_B);
        MINING.enroll(pid, MB);
    }

    /// Epoch 0: a user runs fee-free jobs of `JOB` GPU-blocks, two on A (both its GPUs) and one
    /// on B; both are kept alive until the rentals end, then left to time out (idle).
    function _epoch0Jobs() internal {
        _submit(USER, MA, JOB);
        _submit(USER, MA, JOB);
        _submit(USER, MB, JOB);
        _mineAlive(JOB + 1, _ids(MA, MB));
    }

    /// The dApp's epoch-0 work attested (by a stranger) in the first block of epoch 1, with A
    /// and B back online.
    function _attestedEpoch0() internal {
        _machinesEnrolled();
        _epoch0Jobs();
        _toEpoch(1, _ids(MA, MB));
        HEVM.prank(STRANGER, STRANGER);
        dapp.attest(0, _ids(MA, MB));
    }

    /// What `blocks` blocks of emission give a position of `weight` out of `total`, from an
    /// accumulator `acc0` (`Project::update_to` then `accrued − debt`, all rounded down).
    function _share(uint256 acc0, uint256 blocks, uint256 weight, uint256 total)
        internal
        pure
        returns (uint256 acc1, uint256 amount)
    {
        acc1 = acc0 + TPB * blocks * ACC_SCALE / total;
        amount = weight * acc1 / ACC_SCALE - weight * acc0 / ACC_SCALE;
    }

    /// Project `id`'s accumulator, read from the precompile's storage (the node's layout:
    /// record `(20, id)`, word 5).
    function _projectAcc(uint256 id) internal view returns (uint256) {
        bytes32 base = keccak256(abi.encode(uint256(20), bytes32(id)));
        return uint256(HEVM.load(DBC_MINING, bytes32(uint256(base) + 5)));
    }

    /// The start of the vesting tranche of a settlement at block `b`: the next epoch.
    function _trancheStart(uint256 b) internal view returns (uint256) {
        return (b / epochBlocks + 1) * epochBlocks;
    }

    function _count(Vm.Log[] memory logs, address emitter, bytes32 topic0) internal pure returns (uint256 n) {
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].emitter == emitter && logs[i].topics.length > 0 && logs[i].topics[0] == topic0) n++;
        }
    }

    function _nth(Vm.Log[] memory logs, address emitter, bytes32 topic0, uint256 nth)
        internal
        pure
        returns (Vm.Log memory)
    {
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].emitter == emitter && logs[i].topics.length > 0 && logs[i].topics[0] == topic0) {
                if (nth == 0) return logs[i];
                nth--;
            }
        }
        revert("log not found");
    }

    function _addr(bytes32 topic) internal pure returns (address) {
        return address(uint160(uint256(topic)));
    }

    // =========================================================================================
    // deployment

    /// `init` issues the token through the factory and registers its mining program: the token
    /// settles (mints), the dApp attests, the creator is the operator's transaction origin, and
    /// the release is DBC's rule (25% at once, 75% over 150 days of 6-second blocks).
    function test_deploy_registersMiningProject() public {
        require(pid == 1 && MINING.projectCount() == 1 && token.projectId() == pid, "project id");
        IProjectMining.Project memory p = MINING.getProject(pid);
        require(p.id == pid && p.settler == address(token) && p.attestor == address(dapp), "token settles, dApp attests");
        require(p.creator == OPERATOR, "creator: the operator's transaction");
        require(p.tokensPerBlock == TPB && p.budget == BUDGET, "emission");
        require(p.startBlock == START && p.endBlock == START + MINING_BLOCKS, "period");
        require(p.distributed == 0 && p.settled == 0 && p.totalWeight == 0 && p.machines == 0, "nothing yet");
        require(p.requirements.minGpuMemoryGb == 16 && p.requirements.minCalcPoint == 500, "requirements");
        require(p.requirements.gpuModels.length == 2, "models");
        require(p.requirements.gpuModels[0] == bytes32("RTX 4090"), "model 0");
        require(p.requirements.gpuModels[1] == bytes32("A100 80GB"), "model 1");
        GpuMarketParams memory mp = _params();
        require(p.release.immediateBps == mp.immediateBps && p.release.immediateBps == 2_500, "25% at once");
        require(p.release.vestingBlocks == mp.vestingBlocks && p.release.vestingBlocks == 150 days / 6, "150 days");
        require(
            factory.DEFAULT_IMMEDIATE_BPS() == p.release.immediateBps
                && factory.DEFAULT_VESTING_BLOCKS() == p.release.vestingBlocks,
            "factory default"
        );
        require(token.deployer() == address(factory) && token.totalSupply() == 0, "token");
        require(keccak256(bytes(token.name())) == keccak256("Inference Token"), "name");
        require(keccak256(bytes(token.symbol())) == keccak256("INFER") && token.decimals() == 18, "symbol");
        require(dapp.operator() == OPERATOR && dapp.feePerBlock() == 0 && dapp.jobs() == 0, "dApp");

        // A second dApp, its `init` recorded: exactly these four events, in this order.
        HEVM.prank(OPERATOR, OPERATOR);
        InferenceMarket d2 = new InferenceMarket(7);
        uint64 end2 = uint64(block.number + 10);
        HEVM.recordLogs();
        HEVM.prank(OPERATOR, OPERATOR);
        d2.init(factory, "Second", "TWO", 1 ether, 1_000 ether, end2, _requirements());
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        address t2 = address(d2.token());
        require(d2.projectId() == 2 && MINING.projectCount() == 2 && d2.feePerBlock() == 7, "second project");
        require(logs.length == 4, "four events");
        require(logs[0].emitter == DBC_MINING && logs[0].topics[0] == IProjectMining.ProjectRegistered.selector, "0");
        require(uint256(logs[0].topics[1]) == 2 && _addr(logs[0].topics[2]) == t2, "registered by the token");
        require(_addr(logs[0].topics[3]) == OPERATOR, "creator topic");
        require(keccak256(logs[0].data) == keccak256(abi.encode(1 ether, 1_000 ether, end2)), "registered data");
        require(logs[1].emitter == DBC_MINING && logs[1].topics[0] == IProjectMining.AttestorSet.selector, "1");
        require(keccak256(logs[1].data) == keccak256(abi.encode(address(d2))), "the dApp attests");
        require(logs[2].emitter == address(factory), "2");
        require(logs[2].topics[0] == ProjectTokenFactory.ProjectTokenCreated.selector, "ProjectTokenCreated");
        require(uint256(logs[2].topics[1]) == 2 && _addr(logs[2].topics[2]) == t2, "created topics");
        require(_addr(logs[2].topics[3]) == address(d2), "creator: the dApp");
        require(logs[3].emitter == address(d2) && logs[3].topics[0] == InferenceMarket.Initialized.selector, "3");
        require(keccak256(logs[3].data) == keccak256(abi.encode(t2, uint256(2))), "Initialized data");
        IProjectMining.Project memory p2 = MINING.getProject(2);
        require(p2.settler == t2 && p2.attestor == address(d2) && p2.endBlock == end2, "second program");
    }

    /// Only the operator initialises (once) and sets the fee.
    function test_operatorOnly() public {
        HEVM.prank(STRANGER);
        HEVM.expectRevert(abi.encodeWithSelector(InferenceMarket.NotOperator.selector));
        dapp.init(factory, "X", "X", TPB, BUDGET, _end(), _requirements());
        HEVM.prank(OPERATOR, OPERATOR);
        HEVM.expectRevert(abi.encodeWithSelector(InferenceMarket.AlreadyInitialized.selector));
        dapp.init(factory, "X", "X", TPB, BUDGET, _end(), _requirements());
        require(MINING.projectCount() == 1, "no second program");
        HEVM.prank(STRANGER);
        HEVM.expectRevert(abi.encodeWithSelector(InferenceMarket.NotOperator.selector));
        dapp.setFee(FEE);
        HEVM.recordLogs();
        HEVM.prank(OPERATOR);
        dapp.setFee(FEE);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(dapp.feePerBlock() == FEE, "fee set");
        require(logs.length == 1 && logs[0].topics[0] == InferenceMarket.FeeSet.selector, "FeeSet");
        require(abi.decode(logs[0].data, (uint256)) == FEE, "FeeSet data");
        // The precompile's own checks reach the operator through `init`: a program that ends now.
        HEVM.prank(OPERATOR, OPERATOR);
        InferenceMarket d2 = new InferenceMarket(0);
        HEVM.prank(OPERATOR, OPERATOR);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.InvalidProject.selector, "endBlock is not in the future"));
        d2.init(factory, "X", "X", TPB, BUDGET, uint64(block.number), _requirements());
    }

    // =========================================================================================
    // enrolment

    /// Verified, online machines meeting the program's requirements enrol; enrolment alone earns
    /// nothing.
    function test_enroll_requirements() public {
        bytes32 mc = bytes32("machine-C"); // RTX 3090: calc point 500, 24 GB, model not accepted
        bytes32 md = bytes32("machine-D"); // RTX 3080: calc point 420 < 500
        _register(MA, PROVIDER_A, bytes32("RTX 4090"), 2);
        _register(MB, PROVIDER_B, bytes32("A100 80GB"), 1);
        _register(mc, PROVIDER_C, bytes32("RTX 3090"), 1);
        _register(md, PROVIDER_C, bytes32("RTX 3080"), 1);
        bytes32[] memory four = new bytes32[](4);
        (four[0], four[1], four[2], four[3]) = (MA, MB, mc, md);
        _verify(four);

        HEVM.recordLogs();
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        MINING.enroll(pid, MA);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].topics[0] == IProjectMining.MachineEnrolled.selector, "MachineEnrolled");
        require(logs[0].topics[2] == MA && _addr(logs[0].topics[3]) == PROVIDER_A, "enrolled topics");
        require(abi.decode(logs[0].data, (uint256)) == 0, "weight 0 until attested");
        HEVM.prank(PROVIDER_B, PROVIDER_B);
        MINING.enroll(pid, MB);

        HEVM.prank(PROVIDER_B);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.NotMachineOwner.selector, MA));
        MINING.enroll(pid, MA);
        HEVM.prank(PROVIDER_A);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.AlreadyEnrolled.selector, pid, MA));
        MINING.enroll(pid, MA);
        HEVM.prank(PROVIDER_C);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, mc, "GPU model not accepted"));
        MINING.enroll(pid, mc);
        HEVM.prank(PROVIDER_C);
        HEVM.expectRevert(
            abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, md, "calc point below the minimum")
        );
        MINING.enroll(pid, md);
        bytes32 me = bytes32("machine-E");
        _register(me, PROVIDER_C, bytes32("RTX 4090"), 1); // not verified yet
        HEVM.prank(PROVIDER_C);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, me, "not verified and online"));
        MINING.enroll(pid, me);
        HEVM.prank(PROVIDER_C);
        HEVM.expectRevert(
            abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, bytes32("nope"), "unknown machine")
        );
        MINING.enroll(pid, bytes32("nope"));

        IProjectMining.Project memory p = MINING.getProject(pid);
        require(p.machines == 2 && p.totalWeight == 0, "two enrolled, no weight");
        require(MINING.enrolledMachineAt(pid, 0) == MA && MINING.enrolledMachineAt(pid, 1) == MB, "list");
        require(MINING.projectsOf(MA).length == 1 && MINING.projectsOf(MA)[0] == pid, "projectsOf");
        (uint64 units, uint64 epoch, bool attested, uint256 weight) = MINING.workOf(pid, MA);
        require(units == 0 && epoch == 0 && !attested && weight == 0, "no work yet");
        _mineAlive(60, _ids(MA, MB));
        require(MINING.getProject(pid).distributed == 0, "nothing released without attested work");
        IProjectMining.ProviderRewards memory r = MINING.rewardsOf(pid, PROVIDER_A);
        require(r.pending == 0 && r.claimable == 0 && r.vesting == 0 && r.claimed == 0, "nothing earned");
    }

    // =========================================================================================
    // jobs

    /// A job rents one GPU from the market in the dApp's name at the machine's quote (excess
    /// returned to the user) and records its GPU-blocks for the epoch; when the rental ends the
    /// market burns the tiered share of the rent and pays the provider the rest. The market's
    /// and the dApp's checks revert with their errors.
    function test_submitJob_rentsThroughTheMarket() public {
        _machinesEnrolled();
        uint256 rentA = _rent(MA, JOB);
        uint256 rentB = _rent(MB, JOB);
        require(MARKET.quote(MA, 1, JOB) == rentA && MARKET.quote(MB, 1, JOB) == rentB, "quotes");
        require(rentA == 3 ether && rentB == 5.67 ether, "standard prices for calc points 1,000 and 1,890");
        uint16 bps = _tierBps(3); // 3 GPUs online
        require(MARKET.networkStats().onlineGpus == 3 && MARKET.burnRateBps() == bps && bps == 3_000, "tier 1");

        uint256 userBefore = USER.balance;
        uint256 marketBefore = DBC_MARKET.balance;
        HEVM.recordLogs();
        HEVM.prank(USER, USER);
        uint256 jobId = dapp.submitJob{value: rentA + 1 ether}(MA, JOB);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(jobId == 1 && dapp.jobs() == 1, "job 1");
        require(USER.balance == userBefore - rentA, "the excess back to the user");
        require(address(dapp).balance == 0, "the dApp keeps nothing");
        require(DBC_MARKET.balance == marketBefore + rentA, "the rent held by the market");
        IGpuMarket.Rental memory r = MARKET.getRental(1);
        require(r.renter == address(dapp) && r.beneficiary == USER, "rented by the dApp for the user");
        require(r.machineId == MA && r.gpus == 1 && r.paid == rentA && r.burnBps == bps, "rental");
        require(r.start == block.number && r.end == block.number + JOB, "span");
        require(r.status == IGpuMarket.RentalStatus.Active, "active");
        require(dapp.work(0, MA) == JOB, "work recorded in epoch 0");
        Vm.Log memory js = _nth(logs, address(dapp), InferenceMarket.JobSubmitted.selector, 0);
        require(uint256(js.topics[1]) == 1 && _addr(js.topics[2]) == USER && js.topics[3] == MA, "JobSubmitted topics");
        require(keccak256(js.data) == keccak256(abi.encode(uint256(1), 0, 0, 0)), "rental 1, no fee");
        require(_count(logs, DBC_MARKET, IGpuMarket.Rented.selector) == 1, "Rented");

        require(_submit(USER, MA, JOB) == 2 && _submit(USER, MB, JOB) == 3, "jobs 2 and 3");
        require(dapp.work(0, MA) == 2 * JOB && dapp.work(0, MB) == JOB, "GPU-blocks per machine");
        require(MARKET.getMachine(MA).rentedGpus == 2 && MARKET.getMachine(MB).rentedGpus == 1, "all GPUs rented");

        // The market's checks, passed through the dApp.
        HEVM.prank(USER, USER);
        HEVM.expectRevert(abi.encodeWithSelector(IGpuMarket.NotEnoughGpus.selector, uint32(1), uint32(0)));
        dapp.submitJob{value: rentA}(MA, JOB);
        uint256 short = _rent(MA, 20);
        GpuMarketParams memory mp = _params();
        HEVM.prank(USER, USER);
        HEVM.expectRevert(
            abi.encodeWithSelector(IGpuMarket.InvalidDuration.selector, uint64(20), mp.rentUnitBlocks, mp.maxRentBlocks)
        );
        dapp.submitJob{value: short}(MA, 20);
        HEVM.prank(USER, USER);
        HEVM.expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownMachine.selector, bytes32("nope")));
        dapp.submitJob{value: rentA}(bytes32("nope"), JOB);
        // The dApp's own check.
        HEVM.prank(USER, USER);
        HEVM.expectRevert(abi.encodeWithSelector(InferenceMarket.RentTooLow.selector, rentB, rentB - 1));
        dapp.submitJob{value: rentB - 1}(MB, JOB);
        require(dapp.jobs() == 3 && dapp.work(0, MB) == JOB, "refused jobs change nothing");

        // The rentals run out in the hook of their end block: burnBps of the rent burned, the
        // rest to the provider, nothing refunded.
        _expectRunOut(rentA, rentB, bps);

        // An offline machine takes no job.
        HEVM.prank(PROVIDER_B, PROVIDER_B);
        MARKET.goOffline(MB);
        HEVM.prank(USER, USER);
        HEVM.expectRevert(
            abi.encodeWithSelector(IGpuMarket.BadMachineStatus.selector, MB, IGpuMarket.MachineStatus.Offline)
        );
        dapp.submitJob{value: rentB}(MB, JOB);
    }

    /// Rentals 1, 2 (A) and 3 (B) run out while A and B are kept alive.
    function _expectRunOut(uint256 rentA, uint256 rentB, uint16 bps) internal {
        uint256 aBefore = PROVIDER_A.balance;
        uint256 bBefore = PROVIDER_B.balance;
        uint256 burnedBefore = MARKET.networkStats().totalBurned;
        _mineAlive(JOB + 1, _ids(MA, MB));
        uint256 burnA = rentA * bps / BPS;
        uint256 burnB = rentB * bps / BPS;
        for (uint256 i = 1; i <= 3; i++) {
            IGpuMarket.Rental memory r = MARKET.getRental(i);
            require(r.status == IGpuMarket.RentalStatus.Ended && r.refunded == 0, "ran out");
            require(r.burned == (i < 3 ? burnA : burnB), "burned share");
        }
        require(PROVIDER_A.balance == aBefore + 2 * (rentA - burnA), "A paid 70% of two rents");
        require(PROVIDER_B.balance == bBefore + rentB - burnB, "B paid 70%");
        require(MARKET.networkStats().totalBurned == burnedBefore + 2 * burnA + burnB, "30% burned");
        require(address(dapp).balance == 0, "nothing left in the dApp");
    }

    /// A provider cannot rent its own machine, directly or through the dApp: the dApp rents
    /// with `rentFor(…, user)`, so the market sees the provider as the beneficiary and refuses
    /// (`OwnMachine`); no work is recorded. Buying mining work for one's own machine costs only
    /// the burned share of the rent, which is what this refusal prevents.
    function test_providerCannotRentOwnMachineThroughTheDapp() public {
        _machinesEnrolled();
        uint256 rent = _rent(MA, JOB);
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        HEVM.expectRevert(abi.encodeWithSelector(IGpuMarket.OwnMachine.selector, MA));
        MARKET.rent{value: rent}(MA, 1, JOB);
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        HEVM.expectRevert(abi.encodeWithSelector(IGpuMarket.OwnMachine.selector, MA));
        dapp.submitJob{value: rent}(MA, JOB);
        require(dapp.work(0, MA) == 0 && MARKET.rentalCount() == 0, "no rental, no work");
        // Another provider's machine is fine: the user of the job is the beneficiary.
        uint256 rentB = _rent(MB, JOB);
        _submit(PROVIDER_A, MB, JOB);
        IGpuMarket.Rental memory r = MARKET.getRental(1);
        require(r.renter == address(dapp) && r.beneficiary == PROVIDER_A, "rented for the user");
    }

    /// A machine that misses its heartbeats while serving a job fails: the market ends the
    /// rental with a refund and pays the renter's share of the slash, both to the rental's
    /// beneficiary, the user who submitted the job (nothing stays in the dApp). The job's
    /// GPU-blocks stay recorded as work.
    function test_machineFailsDuringJob_userIsRefunded() public {
        _machinesEnrolled();
        uint256 rent = _rent(MA, JOB);
        uint256 userBefore = USER.balance;
        _submit(USER, MA, JOB);
        IGpuMarket.Rental memory r = MARKET.getRental(1);
        require(r.beneficiary == USER, "the user is the beneficiary");
        GpuMarketParams memory mp = _params();
        uint256 failAt = MARKET.getMachine(MA).lastHeartbeat + mp.heartbeatTimeoutBlocks;
        DbcPrecompiles.mine(failAt + 1 - block.number); // no heartbeats
        IGpuMarket.Machine memory m = MARKET.getMachine(MA);
        require(m.status == IGpuMarket.MachineStatus.Offline, "failed");
        require(m.offlineReason == IGpuMarket.OfflineReason.Unreachable && m.offlineSince == failAt, "unreachable");
        uint256 refund = rent * (r.end - failAt) / (r.end - r.start);
        uint256 slash = 2 * mp.stakePerGpu * mp.unreachableSlash[0].bps / BPS; // first tier, at once
        uint256 toRenter = slash * mp.slashRenterBps / BPS;
        r = MARKET.getRental(1);
        require(r.status == IGpuMarket.RentalStatus.Ended && r.end == failAt && r.refunded == refund, "refunded");
        require(m.stake == 2 * mp.stakePerGpu - slash, "slashed");
        require(USER.balance == userBefore - rent + refund + toRenter, "the user gets the refund and the slash share");
        require(address(dapp).balance == 0, "nothing stays in the dApp");
        require(dapp.work(0, MA) == JOB, "the whole job still counts as work");
    }

    // =========================================================================================
    // attestation, accrual, claims

    /// After the epoch, anyone has the dApp attest the GPU-blocks its jobs rented per machine;
    /// each machine then mines by grade × units; providers mint 25% of their accrual at once.
    function test_attest_accrue_claim() public {
        _machinesEnrolled();
        _epoch0Jobs();
        bytes32[] memory both = _ids(MA, MB);
        // Epoch 0 is not over.
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.WrongEpoch.selector, uint64(0), uint64(0)));
        dapp.attest(0, both);
        _toEpoch(1, both);
        require(block.number == epochBlocks, "first block of epoch 1");
        require(MINING.getProject(pid).totalWeight == 0 && MINING.getProject(pid).distributed == 0, "no weight yet");
        (uint256 wA, uint256 wB) = _attestAndCheck(both);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.AlreadyAttested.selector, pid, MA, uint64(0)));
        dapp.attest(0, both);
        _claimAndCheck(wA, wB, 60);
    }

    /// A stranger has the dApp attest epoch 0: the recorded GPU-blocks become units, the
    /// weights grade × units.
    function _attestAndCheck(bytes32[] memory both) internal returns (uint256 wA, uint256 wB) {
        wA = _grade(MA) * 2 * JOB;
        wB = _grade(MB) * JOB;
        require(wA == 1_000 * 2 * 10_000 * 600 && wB == 1_890 * 10_000 * 300, "grades x GPU-blocks");
        HEVM.recordLogs();
        HEVM.prank(STRANGER, STRANGER);
        dapp.attest(0, both);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(_count(logs, DBC_MINING, IProjectMining.WorkAttested.selector) == 2, "two WorkAttested");
        Vm.Log memory l = _nth(logs, DBC_MINING, IProjectMining.WorkAttested.selector, 0);
        require(uint256(l.topics[1]) == pid && l.topics[2] == MA, "A attested");
        require(keccak256(l.data) == keccak256(abi.encode(uint64(0), uint64(2 * JOB), wA)), "A: 600 units");
        l = _nth(logs, DBC_MINING, IProjectMining.WorkAttested.selector, 1);
        require(l.topics[2] == MB && keccak256(l.data) == keccak256(abi.encode(uint64(0), uint64(JOB), wB)), "B");
        l = _nth(logs, address(dapp), InferenceMarket.Attested.selector, 0);
        uint64[] memory units = new uint64[](2);
        (units[0], units[1]) = (2 * JOB, JOB);
        require(uint256(l.topics[1]) == 0 && keccak256(l.data) == keccak256(abi.encode(both, units)), "Attested");
        (uint64 u, uint64 e, bool attested, uint256 w) = MINING.workOf(pid, MA);
        require(u == 2 * JOB && e == 0 && attested && w == wA, "workOf A");
        require(MINING.getProject(pid).totalWeight == wA + wB, "total weight");
    }

    /// `k` blocks of emission shared by weight; A and B mint their 25%.
    function _claimAndCheck(uint256 wA, uint256 wB, uint256 k) internal {
        DbcPrecompiles.mine(k);
        (uint256 acc, uint256 pA) = _share(0, k, wA, wA + wB);
        (, uint256 pB) = _share(0, k, wB, wA + wB);
        uint256 immA = pA * 2_500 / BPS;
        uint256 immB = pB * 2_500 / BPS;
        require(MINING.getProject(pid).distributed == TPB * k, "distributed");
        IProjectMining.ProviderRewards memory rw = MINING.rewardsOf(pid, PROVIDER_A);
        require(rw.pending == pA && rw.claimable == immA && rw.vesting == pA - immA && rw.claimed == 0, "A accrued");

        HEVM.recordLogs();
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        require(token.claim() == immA, "A mints 25%");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        Vm.Log memory l = _nth(logs, DBC_MINING, IProjectMining.MiningRewardAccrued.selector, 0);
        require(keccak256(l.data) == keccak256(abi.encode(immA, pA - immA)), "accrued split");
        l = _nth(logs, address(token), ProjectToken.Transfer.selector, 0);
        require(_addr(l.topics[1]) == address(0) && _addr(l.topics[2]) == PROVIDER_A, "minted to A");
        require(abi.decode(l.data, (uint256)) == immA, "mint amount");
        require(_projectAcc(pid) == acc, "accumulator as computed");
        // Anyone may trigger a provider's mint; it goes to the provider.
        HEVM.prank(STRANGER, STRANGER);
        require(token.claim(PROVIDER_B) == immB, "B's 25%");
        require(token.balanceOf(PROVIDER_A) == immA && token.balanceOf(PROVIDER_B) == immB, "balances");
        require(token.balanceOf(STRANGER) == 0 && token.totalSupply() == immA + immB, "supply");
        IProjectMining.Project memory p = MINING.getProject(pid);
        require(p.settled == immA + immB && p.distributed == TPB * k, "settled");
        rw = MINING.rewardsOf(pid, PROVIDER_A);
        require(rw.pending == 0 && rw.claimable == 0 && rw.vesting == pA - immA && rw.claimed == immA, "A after");
        // Nothing more in the same block.
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        require(token.claim() == 0 && token.totalSupply() == immA + immB, "nothing twice");
    }

    /// The 75% vests linearly over 150 days from the epoch after the settlement; claims mint
    /// exactly what has vested, and in the end everything accrued.
    function test_release_vestsOver150Days() public {
        _attestedEpoch0();
        uint256 k = 60;
        DbcPrecompiles.mine(k);
        uint256 wA = _grade(MA) * 2 * JOB;
        uint256 wB = _grade(MB) * JOB;
        (, uint256 pA) = _share(0, k, wA, wA + wB);
        (, uint256 pB) = _share(0, k, wB, wA + wB);
        uint256 immA = pA * 2_500 / BPS;
        uint256 vestA = pA - immA;
        uint256 vestB = pB - pB * 2_500 / BPS;
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        require(token.claim() == immA, "25% at once");
        HEVM.prank(PROVIDER_B, PROVIDER_B);
        token.claim();
        // Both stop here (the owners take them offline: idle, settled at the old weight, no new
        // blocks since the claims).
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        MARKET.goOffline(MA);
        HEVM.prank(PROVIDER_B, PROVIDER_B);
        MARKET.goOffline(MB);
        require(MINING.getProject(pid).totalWeight == 0, "offline: no weight");

        uint256 start = _trancheStart(block.number);
        uint256 vb = _params().vestingBlocks;
        DbcPrecompiles.mine(start - block.number);
        require(MINING.rewardsOf(pid, PROVIDER_A).claimable == 0, "not yet releasing");
        DbcPrecompiles.mine(vb / 3);
        uint256 third = vestA * (vb / 3) / vb;
        IProjectMining.ProviderRewards memory rw = MINING.rewardsOf(pid, PROVIDER_A);
        require(rw.claimable == third && rw.vesting == vestA - third, "a third vested");
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        require(token.claim() == third && token.balanceOf(PROVIDER_A) == immA + third, "mint a third");

        DbcPrecompiles.mine(start + vb - block.number);
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        require(token.claim() == vestA - third, "the rest");
        HEVM.prank(PROVIDER_B, PROVIDER_B);
        require(token.claim() == vestB, "B's 75% at once after 150 days");
        require(token.balanceOf(PROVIDER_A) == pA && token.balanceOf(PROVIDER_B) == pB, "everything accrued");
        rw = MINING.rewardsOf(pid, PROVIDER_A);
        require(rw.claimable == 0 && rw.vesting == 0 && rw.claimed == pA, "all claimed");
        IProjectMining.Project memory p = MINING.getProject(pid);
        require(token.totalSupply() == pA + pB && p.settled == pA + pB, "supply = settled");
        require(p.distributed == TPB * k && p.settled <= p.distributed, "never more than released");
    }

    /// Listing an idle machine attests 0 units: it stops earning while the machine that served
    /// jobs in the epoch takes the whole emission. Jobs count in the epoch they are submitted.
    function test_idleMachineStopsEarning() public {
        _attestedEpoch0();
        bytes32[] memory both = _ids(MA, MB);
        _submit(USER, MB, JOB); // epoch 1
        require(dapp.work(1, MB) == JOB && dapp.work(1, MA) == 0 && dapp.work(0, MB) == JOB, "epoch 1 work");
        _mineAlive(JOB + 1, _ids(MB)); // A is not kept alive: it goes offline (idle)
        _toEpoch(2, both);
        uint256 wA = _grade(MA) * 2 * JOB;
        uint256 wB = _grade(MB) * JOB;
        require(MINING.getProject(pid).totalWeight == wA + wB, "back online at the old units");

        HEVM.recordLogs();
        HEVM.prank(STRANGER, STRANGER);
        dapp.attest(1, both);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        Vm.Log memory l = _nth(logs, DBC_MINING, IProjectMining.WorkAttested.selector, 0);
        require(l.topics[2] == MA && keccak256(l.data) == keccak256(abi.encode(uint64(1), uint64(0), 0)), "A: 0");
        l = _nth(logs, DBC_MINING, IProjectMining.WorkAttested.selector, 1);
        require(l.topics[2] == MB && keccak256(l.data) == keccak256(abi.encode(uint64(1), uint64(JOB), wB)), "B");
        (uint64 u, uint64 e, bool attested, uint256 w) = MINING.workOf(pid, MA);
        require(u == 0 && e == 1 && attested && w == 0, "A weighs nothing");
        require(MINING.getProject(pid).totalWeight == wB, "only B");

        uint256 acc0 = _projectAcc(pid);
        uint256 distributed0 = MINING.getProject(pid).distributed;
        uint256 k = 40;
        DbcPrecompiles.mine(k);
        (, uint256 pB) = _share(acc0, k, wB, wB);
        require(MINING.rewardsOf(pid, PROVIDER_A).pending == 0, "A earns nothing");
        require(MINING.rewardsOf(pid, PROVIDER_B).pending == pB, "B takes the emission");
        require(MINING.getProject(pid).distributed == distributed0 + TPB * k, "released");
    }

    /// The precompile's attestation rules reach callers of the dApp as its custom errors; a
    /// machine offline at attestation weighs 0 until it is back.
    function test_attest_errors_and_offlineMachine() public {
        _machinesEnrolled();
        _epoch0Jobs();
        DbcPrecompiles.mine(epochBlocks - block.number);
        _heartbeat(MA); // B stays offline
        bytes32[] memory both = _ids(MA, MB);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.WrongEpoch.selector, uint64(1), uint64(0)));
        dapp.attest(1, both);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.AlreadyAttested.selector, pid, MA, uint64(0)));
        dapp.attest(0, _ids(MA, MA));
        // An unenrolled machine refuses the whole call (A, listed first, is not attested).
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.NotEnrolled.selector, pid, bytes32("other")));
        dapp.attest(0, _ids(MA, bytes32("other")));
        (,, bool attested,) = MINING.workOf(pid, MA);
        require(!attested, "nothing of a refused call stays");
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.BadAttestation.selector, "more than 256 entries"));
        dapp.attest(0, new bytes32[](257));

        dapp.attest(0, both);
        uint256 wA = _grade(MA) * 2 * JOB;
        uint256 wB = _grade(MB) * JOB;
        (uint64 u,,, uint256 w) = MINING.workOf(pid, MB);
        require(u == JOB && w == 0, "B offline: units kept, weight 0");
        require(MINING.getProject(pid).totalWeight == wA, "only A");
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.AlreadyAttested.selector, pid, MB, uint64(0)));
        dapp.attest(0, _ids(MB));
        DbcPrecompiles.mine(10);
        _heartbeat(MB);
        (,,, w) = MINING.workOf(pid, MB);
        require(w == wB && MINING.getProject(pid).totalWeight == wA + wB, "B back: grade x units");
        // In epoch 2, epoch 0 can no longer be attested.
        DbcPrecompiles.mine(2 * uint256(epochBlocks) - block.number);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.WrongEpoch.selector, uint64(0), uint64(1)));
        dapp.attest(0, both);
    }

    // =========================================================================================
    // fees in the dApp's token

    /// Once providers hold tokens the operator sets a fee: a job's fee is paid in the token; the
    /// market's burn tier for the online GPUs (30% / 70% / 100%) is burned and the rest paid to
    /// the machine's provider, and the market burns the same share of the DBC rent.
    function test_tokenFee_tieredBurn() public {
        _attestedEpoch0();
        DbcPrecompiles.mine(60);
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        uint256 minted = token.claim();
        require(minted >= 3 * FEE * JOB, "A minted enough for three jobs");
        HEVM.prank(PROVIDER_A);
        token.transfer(USER, 3 * FEE * JOB);
        HEVM.prank(OPERATOR);
        dapp.setFee(FEE);
        uint256 fee = FEE * JOB;
        uint256 rentA = _rent(MA, JOB);
        uint256 rentB = _rent(MB, JOB);

        // The token's checks, passed through the dApp.
        HEVM.prank(USER, USER);
        HEVM.expectRevert(abi.encodeWithSelector(ProjectToken.InsufficientAllowance.selector, 0, fee));
        dapp.submitJob{value: rentB}(MB, JOB);
        HEVM.prank(USER2, USER2);
        token.approve(address(dapp), type(uint256).max);
        HEVM.prank(USER2, USER2);
        HEVM.expectRevert(abi.encodeWithSelector(ProjectToken.InsufficientBalance.selector, 0, fee));
        dapp.submitJob{value: rentB}(MB, JOB);
        HEVM.prank(USER, USER);
        token.approve(address(dapp), type(uint256).max);

        uint256 supply = token.totalSupply();
        uint256 aDbc = PROVIDER_A.balance;
        uint256 bDbc = PROVIDER_B.balance;
        uint256 burnedDbc = MARKET.networkStats().totalBurned;
        uint16[3] memory tiers;
        // Tier 1: 3 GPUs online.
        tiers[0] = _feeJob(MB, PROVIDER_B, fee, 3);
        // Tier 2: five machines of 1,024 GPUs join (5,123 online).
        _bigMachines(0);
        tiers[1] = _feeJob(MA, PROVIDER_A, fee, 3 + 5 * 1_024);
        // Tier 3: five more (10,243 online).
        _bigMachines(5);
        tiers[2] = _feeJob(MA, PROVIDER_A, fee, 3 + 10 * 1_024);
        require(tiers[0] == 3_000 && tiers[1] == 7_000 && tiers[2] == 10_000, "30% / 70% / 100%");
        uint256 burned = fee * tiers[0] / BPS + fee * tiers[1] / BPS + fee * tiers[2] / BPS;
        require(token.totalSupply() == supply - burned, "burned from the supply");
        require(token.balanceOf(USER) == 0 && token.balanceOf(address(dapp)) == 0, "fees spent, none kept");

        // The DBC side: each rental burns its tier's share of the rent as it runs out.
        _mineAlive(JOB + 1, _ids(MA, MB));
        for (uint256 i; i < 3; i++) {
            IGpuMarket.Rental memory r = MARKET.getRental(4 + i);
            require(r.status == IGpuMarket.RentalStatus.Ended && r.burned == r.paid * tiers[i] / BPS, "rent burned");
        }
        uint256 rentBurned = rentB * tiers[0] / BPS + rentA * tiers[1] / BPS + rentA * tiers[2] / BPS;
        require(MARKET.networkStats().totalBurned == burnedDbc + rentBurned, "DBC burned");
        require(PROVIDER_B.balance == bDbc + rentB - rentB * tiers[0] / BPS, "B: 70% of the rent");
        require(PROVIDER_A.balance == aDbc + rentA - rentA * tiers[1] / BPS, "A: 30%, then nothing");
    }

    /// Registers and verifies five 1,024-GPU machines of provider C.
    function _bigMachines(uint256 from) internal {
        bytes32[] memory ids = new bytes32[](5);
        for (uint256 i; i < 5; i++) {
            ids[i] = bytes32(uint256(0xB16000) + from + i);
            _register(ids[i], PROVIDER_C, bytes32("RTX 4090"), 1_024);
        }
        _verify(ids);
    }

    /// A job with a token fee on `id` while `online` GPUs are online; checks the fee's split and
    /// returns the burn share applied.
    function _feeJob(bytes32 id, address provider, uint256 fee, uint256 online) internal returns (uint16 bps) {
        require(MARKET.networkStats().onlineGpus == online, "online GPUs");
        bps = MARKET.burnRateBps();
        require(bps == _tierBps(online), "the tier of the online GPUs");
        uint256 burned = fee * bps / BPS;
        uint256 userTokens = token.balanceOf(USER);
        uint256 providerTokens = token.balanceOf(provider);
        uint256 supply = token.totalSupply();
        HEVM.recordLogs();
        uint256 jobId = _submit(USER, id, JOB);
        Vm.Log memory l = _nth(HEVM.getRecordedLogs(), address(dapp), InferenceMarket.JobSubmitted.selector, 0);
        uint256 rentalId = MARKET.rentalCount();
        require(uint256(l.topics[1]) == jobId && _addr(l.topics[2]) == USER && l.topics[3] == id, "topics");
        require(keccak256(l.data) == keccak256(abi.encode(rentalId, fee, burned, fee - burned)), "fee split");
        require(token.balanceOf(USER) == userTokens - fee, "fee paid");
        require(token.balanceOf(provider) == providerTokens + fee - burned, "provider's share");
        require(token.totalSupply() == supply - burned, "burned");
        require(MARKET.getRental(rentalId).burnBps == bps, "the rental burns the same share");
    }

    // =========================================================================================
    // access control

    /// Only the token (the program's settler) settles, so nothing but `claim` mints; only the
    /// dApp attests; nobody can name another attestor or register the token's program again.
    function test_onlyTokenMints_onlyDappAttests() public {
        _attestedEpoch0();
        DbcPrecompiles.mine(30);
        address[4] memory others = [OPERATOR, address(dapp), PROVIDER_A, STRANGER];
        uint64[] memory units = new uint64[](1);
        units[0] = 1_000_000;
        for (uint256 i; i < others.length; i++) {
            HEVM.prank(others[i]);
            HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.NotSettler.selector, pid));
            MINING.settle(pid, PROVIDER_A);
            HEVM.prank(others[i]);
            HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.NotSettler.selector, pid));
            MINING.setAttestor(pid, others[i]);
        }
        address[4] memory notAttestors = [OPERATOR, address(token), PROVIDER_A, STRANGER];
        for (uint256 i; i < notAttestors.length; i++) {
            HEVM.prank(notAttestors[i]);
            HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.NotAttestor.selector, pid));
            MINING.attestWork(pid, 0, _ids(MA), units);
        }
        require(MINING.getProject(pid).attestor == address(dapp), "attestor unchanged");
        // The token's program is registered once, by its factory.
        HEVM.prank(STRANGER);
        HEVM.expectRevert(abi.encodeWithSelector(ProjectToken.NotDeployer.selector));
        token.registerMining(TPB, BUDGET, _end(), _requirements(), IProjectMining.Release(10_000, 0), STRANGER);
        HEVM.prank(address(factory));
        HEVM.expectRevert(abi.encodeWithSelector(ProjectToken.AlreadyRegistered.selector));
        token.registerMining(TPB, BUDGET, _end(), _requirements(), IProjectMining.Release(10_000, 0), STRANGER);
        ProjectToken fresh = new ProjectToken("Fresh", "F");
        HEVM.expectRevert(abi.encodeWithSelector(ProjectToken.NoAttestor.selector));
        fresh.registerMining(TPB, BUDGET, _end(), _requirements(), IProjectMining.Release(10_000, 0), address(0));
        require(MINING.projectCount() == 1, "no other program");
        // Whoever triggers a claim, the tokens go to the provider.
        require(token.totalSupply() == 0, "nothing minted yet");
        uint256 wA = _grade(MA) * 2 * JOB;
        uint256 wB = _grade(MB) * JOB;
        (, uint256 pA) = _share(0, 30, wA, wA + wB);
        HEVM.prank(STRANGER, STRANGER);
        require(token.claim(PROVIDER_A) == pA * 2_500 / BPS, "minted");
        require(token.balanceOf(PROVIDER_A) == pA * 2_500 / BPS && token.balanceOf(STRANGER) == 0, "to A");
        require(token.totalSupply() == pA * 2_500 / BPS, "the only mint");
    }

    // =========================================================================================
    // an existing ERC-20 through MiningEscrow

    /// An existing ERC-20 (supply with `ESCROW_OWNER`), its escrow funded with 10 tokens, and
    /// the escrow's program (1 token a block, 25% at once and 75% over 1,000 blocks) attested by
    /// `ESCROW_ATTESTOR`; checks the escrow's registration guards.
    function _escrowProgram() internal returns (Token t, MiningEscrow esc, uint256 pid2) {
        HEVM.startPrank(ESCROW_OWNER, ESCROW_OWNER);
        t = new Token("Existing", "EXT", 1_000_000 ether);
        esc = new MiningEscrow(IERC20Minimal(address(t)));
        t.approve(address(esc), type(uint256).max);
        esc.fund(10 ether);
        HEVM.stopPrank();
        IProjectMining.Requirements memory none;
        IProjectMining.Release memory rel = IProjectMining.Release(2_500, 1_000);
        HEVM.prank(STRANGER, STRANGER);
        HEVM.expectRevert(abi.encodeWithSelector(MiningEscrow.NotDeployer.selector));
        esc.registerMining(1 ether, 100_000 ether, _end(), none, rel, ESCROW_ATTESTOR);
        HEVM.prank(ESCROW_OWNER, ESCROW_OWNER);
        HEVM.expectRevert(abi.encodeWithSelector(MiningEscrow.NoAttestor.selector));
        esc.registerMining(1 ether, 100_000 ether, _end(), none, rel, address(0));
        HEVM.prank(ESCROW_OWNER, ESCROW_OWNER);
        pid2 = esc.registerMining(1 ether, 100_000 ether, _end(), none, rel, ESCROW_ATTESTOR);
        HEVM.prank(ESCROW_OWNER, ESCROW_OWNER);
        HEVM.expectRevert(abi.encodeWithSelector(MiningEscrow.AlreadyRegistered.selector));
        esc.registerMining(1 ether, 100_000 ether, _end(), none, rel, ESCROW_ATTESTOR);
        IProjectMining.Project memory p = MINING.getProject(pid2);
        require(pid2 == 2 && p.settler == address(esc) && p.attestor == ESCROW_ATTESTOR, "escrow settles");
        require(p.creator == ESCROW_OWNER && p.release.vestingBlocks == 1_000, "program");
    }

    /// An existing token mines through a funded escrow (its settler) with an account as the
    /// attestor; a claim pays from the escrow, and a claim beyond its funds reverts and settles
    /// nothing.
    function test_miningEscrow_existingToken() public {
        _machinesEnrolled();
        (Token t, MiningEscrow esc, uint256 pid2) = _escrowProgram();
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        MINING.enroll(pid2, MA);
        require(MINING.projectsOf(MA).length == 2, "A mines for both programs");

        _toEpoch(1, _ids(MA));
        uint64[] memory units = new uint64[](1);
        units[0] = 10;
        HEVM.prank(ESCROW_OWNER);
        HEVM.expectRevert(abi.encodeWithSelector(IProjectMining.NotAttestor.selector, pid2));
        MINING.attestWork(pid2, 0, _ids(MA), units);
        HEVM.prank(ESCROW_ATTESTOR);
        MINING.attestWork(pid2, 0, _ids(MA), units);
        uint256 w = _grade(MA) * 10;
        require(MINING.getProject(pid2).totalWeight == w, "weight");
        DbcPrecompiles.mine(20);
        (, uint256 owed) = _share0(1 ether, 20, w);
        uint256 imm = owed * 2_500 / BPS;
        HEVM.prank(STRANGER, STRANGER);
        require(esc.claim(PROVIDER_A) == imm, "immediate share paid");
        require(t.balanceOf(PROVIDER_A) == imm && t.balanceOf(address(esc)) == 10 ether - imm, "from the escrow");
        HEVM.prank(PROVIDER_A, PROVIDER_A);
        MARKET.goOffline(MA); // stops accruing (same block: nothing new)

        DbcPrecompiles.mine(_trancheStart(block.number) + 1_000 - block.number);
        IProjectMining.ProviderRewards memory rw = MINING.rewardsOf(pid2, PROVIDER_A);
        require(rw.claimable == owed - imm && rw.vesting == 0, "all vested");
        require(owed - imm > 10 ether - imm, "more than the escrow holds");
        HEVM.expectRevert(abi.encodeWithSignature("Error(string)", "ERC20: insufficient balance"));
        esc.claim(PROVIDER_A);
        rw = MINING.rewardsOf(pid2, PROVIDER_A);
        require(rw.claimable == owed - imm && rw.claimed == imm, "the refused claim settled nothing");
        HEVM.prank(ESCROW_OWNER, ESCROW_OWNER);
        esc.fund(owed - 10 ether);
        require(esc.claim(PROVIDER_A) == owed - imm, "the rest");
        require(t.balanceOf(PROVIDER_A) == owed && t.balanceOf(address(esc)) == 0, "all paid");
        require(MINING.getProject(pid2).settled == owed, "settled");
    }

    /// `_share` for a project whose emission per block is `tpb` from a zero accumulator.
    function _share0(uint256 tpb, uint256 blocks, uint256 weight) internal pure returns (uint256 acc, uint256 amount) {
        acc = tpb * blocks * ACC_SCALE / weight;
        amount = weight * acc / ACC_SCALE;
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HEVM, Vm} from "../test-utils/Vm.sol";
import {DBC_MARKET, DBC_MINING} from "../test-utils/DbcAddresses.sol";
import {IMiningGradeHook} from "../test-utils/MockHooks.sol";
import {ProjectMiningSol, IProjectMiningSolSelf} from "../test-utils/ProjectMiningSol.sol";
import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";

/// A minimal market at `DBC_MARKET` for the mining tests: machines with the fields mining reads
/// (`getMachine`, `IMarketMockReads`), and grade changes reported to mining like the node's
/// `market::regrade` (the hook runs before the new grade is stored). It implements the
/// `IMarketMockReads` functions mining uses without inheriting the interface, so that additions
/// to it for other stand-ins do not break this test.
contract StubMarket {
    struct M {
        bool exists;
        address owner;
        uint8 status;
        uint32 calcPoint;
        uint32 gpus;
        uint32 mem;
        bytes32 model;
        uint256 grade;
    }

    mapping(bytes32 => M) internal machines;
    mapping(address => bytes32[]) internal owned;

    function addMachine(bytes32 id, address owner, uint32 calcPoint, uint32 gpus, uint32 mem, bytes32 model)
        external
    {
        require(!machines[id].exists, "stub: machine exists");
        machines[id] = M(true, owner, 1, calcPoint, gpus, mem, model, 0);
        owned[owner].push(id);
    }

    /// Sets the status and regrades like the node: online → calcPoint × gpus × 10,000, else 0.
    function setStatus(bytes32 id, uint8 status) external {
        M storage m = machines[id];
        m.status = status;
        uint256 g = status == 2 ? uint256(m.calcPoint) * m.gpus * 10_000 : 0;
        if (g != m.grade) {
            IMiningGradeHook(DBC_MINING).onGradeChange(id, g);
            m.grade = g;
        }
    }

    /// Reports an arbitrary grade (for overflow tests).
    function forceGrade(bytes32 id, uint256 g) external {
        IMiningGradeHook(DBC_MINING).onGradeChange(id, g);
        machines[id].grade = g;
    }

    function getMachine(bytes32 id) external view returns (IGpuMarket.Machine memory out) {
        M storage m = machines[id];
        if (!m.exists) revert IGpuMarket.UnknownMachine(id);
        out.id = id;
        out.owner = m.owner;
        out.status = IGpuMarket.MachineStatus(m.status);
        out.calcPoint = m.calcPoint;
        out.spec.gpuModel = m.model;
        out.spec.gpuCount = m.gpus;
        out.spec.gpuMemoryGb = m.mem;
    }

    function machineGrade(bytes32 id) external view returns (uint256) {
        if (!machines[id].exists) revert IGpuMarket.UnknownMachine(id);
        return machines[id].grade;
    }

    function ownerMachines(address provider) external view returns (bytes32[] memory) {
        return owned[provider];
    }
}

/// Calls the mining stand-in through DELEGATECALL.
contract Delegator {
    function run(bytes calldata data) external returns (bool ok, bytes memory out) {
        (ok, out) = DBC_MINING.delegatecall(data);
    }
}

contract ProjectMiningSolTest {
    IProjectMining internal constant MINING = IProjectMining(DBC_MINING);
    StubMarket internal constant MARKET = StubMarket(DBC_MARKET);

    address internal constant SETTLER = address(0x5e77);
    address internal constant ORIGIN = address(0x0419);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    bytes32 internal constant M1 = bytes32("machine-1");
    bytes32 internal constant M2 = bytes32("machine-2");
    bytes32 internal constant M3 = bytes32("machine-3");
    bytes32 internal constant RTX4090 = bytes32("RTX 4090");
    uint256 internal constant EPOCH = 14_400;
    // Grade of a 1-GPU machine with calc point 1,000.
    uint256 internal constant GRADE = 1_000 * 10_000;
    uint256 internal constant TPB = 1e18;
    uint256 internal constant BUDGET = 1e24;

    function setUp() external {
        HEVM.etch(DBC_MINING, type(ProjectMiningSol).runtimeCode);
        HEVM.etch(DBC_MARKET, type(StubMarket).runtimeCode);
        ProjectMiningSol(payable(DBC_MINING)).initDev();
        HEVM.roll(100);
        MARKET.addMachine(M1, ALICE, 1_000, 1, 24, RTX4090);
        MARKET.addMachine(M2, ALICE, 1_000, 1, 24, RTX4090);
        MARKET.addMachine(M3, BOB, 1_000, 1, 24, RTX4090);
        MARKET.setStatus(M1, 2);
        MARKET.setStatus(M2, 2);
        MARKET.setStatus(M3, 2);
    }

    // ---------------------------------------------------------------------------------------
    // helpers

    function _noModels() internal pure returns (IProjectMining.Requirements memory r) {
        r.gpuModels = new bytes32[](0);
    }

    function _register(uint256 tpb, uint256 budget, uint64 endBlock, uint16 bps, uint64 vesting)
        internal
        returns (uint256)
    {
        HEVM.prank(SETTLER, ORIGIN);
        return MINING.registerProject(tpb, budget, endBlock, _noModels(), IProjectMining.Release(bps, vesting));
    }

    function _registerDefault() internal returns (uint256) {
        return _register(TPB, BUDGET, 1_000_000, 2_500, 1_000);
    }

    function _enroll(address who, uint256 pid, bytes32 mid) internal {
        HEVM.prank(who);
        MINING.enroll(pid, mid);
    }

    function _attest1(uint256 pid, uint64 epoch, bytes32 mid, uint64 units) internal {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = mid;
        uint64[] memory u = new uint64[](1);
        u[0] = units;
        HEVM.prank(SETTLER);
        MINING.attestWork(pid, epoch, ids, u);
    }

    function _expectErr(bytes memory data) internal {
        HEVM.expectRevert(data);
    }

    function _miningLogs() internal returns (Vm.Log[] memory out) {
        Vm.Log[] memory all = HEVM.getRecordedLogs();
        uint256 n;
        for (uint256 i; i < all.length; i++) {
            if (all[i].emitter == DBC_MINING) n++;
        }
        out = new Vm.Log[](n);
        n = 0;
        for (uint256 i; i < all.length; i++) {
            if (all[i].emitter == DBC_MINING) out[n++] = all[i];
        }
    }

    /// Project 1 with M1 (Alice) attested for epoch 0 with `units`, at block 14,400.
    function _projectWithM1(uint64 units) internal returns (uint256 pid) {
        pid = _registerDefault();
        _enroll(ALICE, pid, M1);
        HEVM.roll(EPOCH);
        _attest1(pid, 0, M1, units);
    }

    // ---------------------------------------------------------------------------------------
    // projects

    function test_register_and_views() external {
        HEVM.recordLogs();
        bytes32[] memory models = new bytes32[](2);
        models[0] = RTX4090;
        models[1] = bytes32("H100 80GB");
        HEVM.prank(SETTLER, ORIGIN);
        uint256 pid = MINING.registerProject(
            TPB, BUDGET, 5_000, IProjectMining.Requirements(16, 900, models), IProjectMining.Release(2_500, 1_000)
        );
        require(pid == 1, "first id is 1");
        require(MINING.projectCount() == 1, "count");
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 1, "one log");
        require(logs[0].topics[0] == IProjectMining.ProjectRegistered.selector, "topic0");
        require(uint256(logs[0].topics[1]) == 1, "topic id");
        require(address(uint160(uint256(logs[0].topics[2]))) == SETTLER, "topic settler");
        require(address(uint160(uint256(logs[0].topics[3]))) == ORIGIN, "topic creator");
        require(keccak256(logs[0].data) == keccak256(abi.encode(TPB, BUDGET, uint64(5_000))), "data");

        IProjectMining.Project memory p = MINING.getProject(1);
        require(p.id == 1 && p.settler == SETTLER && p.creator == ORIGIN && p.attestor == SETTLER, "roles");
        require(p.tokensPerBlock == TPB && p.budget == BUDGET, "emission");
        require(p.startBlock == 100 && p.endBlock == 5_000, "blocks");
        require(p.distributed == 0 && p.settled == 0 && p.totalWeight == 0 && p.machines == 0, "zeroes");
        require(p.requirements.minGpuMemoryGb == 16 && p.requirements.minCalcPoint == 900, "requirements");
        require(p.requirements.gpuModels.length == 2 && p.requirements.gpuModels[1] == bytes32("H100 80GB"), "models");
        require(p.release.immediateBps == 2_500 && p.release.vestingBlocks == 1_000, "release");
        require(MINING.maxProjectsPerMachine() == 3, "max projects");
        require(MINING.epochBlocks() == 14_400, "epoch");
        require(MINING.projectsOf(M1).length == 0, "no projects");

        // The precompile's storage layout: project 1's settler word and the counter.
        bytes32 base = keccak256(abi.encode(uint256(20), bytes32(uint256(1))));
        require(uint256(HEVM.load(DBC_MINING, base)) == uint256(uint160(SETTLER)), "layout: settler");
        require(uint256(HEVM.load(DBC_MINING, bytes32(0))) == 1, "layout: counter");
    }

    function test_register_reverts() external {
        IProjectMining.Release memory rel = IProjectMining.Release(2_500, 1_000);
        IProjectMining.Requirements memory req = _noModels();
        string[10] memory reasons = [
            "tokensPerBlock is zero",
            "budget is zero",
            "endBlock is not in the future",
            "budget exceeds 2^128 - 1",
            "tokensPerBlock exceeds the budget",
            "emission period exceeds 10^12 blocks",
            "vestingBlocks exceeds 10^12",
            "immediateBps exceeds 10000",
            "vestingBlocks is zero but not everything is immediate",
            "at most 8 non-empty gpuModels"
        ];
        for (uint256 i; i < reasons.length; i++) {
            uint256 tpb = TPB;
            uint256 budget = BUDGET;
            uint64 end = 1_000;
            IProjectMining.Release memory r = rel;
            IProjectMining.Requirements memory q = req;
            if (i == 0) tpb = 0;
            if (i == 1) budget = 0;
            if (i == 2) end = 100;
            if (i == 3) budget = uint256(type(uint128).max) + 1;
            if (i == 4) tpb = BUDGET + 1;
            if (i == 5) end = 100 + 1_000_000_000_001;
            if (i == 6) r = IProjectMining.Release(2_500, 1_000_000_000_001);
            if (i == 7) r = IProjectMining.Release(10_001, 1_000);
            if (i == 8) r = IProjectMining.Release(9_999, 0);
            if (i == 9) q = IProjectMining.Requirements(0, 0, new bytes32[](1)); // a zero model
            _expectErr(abi.encodeWithSelector(IProjectMining.InvalidProject.selector, reasons[i]));
            MINING.registerProject(tpb, budget, end, q, r);
        }
        IProjectMining.Requirements memory nine;
        nine.gpuModels = new bytes32[](9);
        for (uint256 i; i < 9; i++) {
            nine.gpuModels[i] = bytes32(i + 1);
        }
        _expectErr(abi.encodeWithSelector(IProjectMining.InvalidProject.selector, "at most 8 non-empty gpuModels"));
        MINING.registerProject(TPB, BUDGET, 1_000, nine, rel);
        // All immediate without vesting and the longest periods are fine.
        MINING.registerProject(TPB, BUDGET, 100 + 1_000_000_000_000, req, IProjectMining.Release(10_000, 0));
        MINING.registerProject(1, type(uint128).max, 101, req, IProjectMining.Release(0, 1_000_000_000_000));
        require(MINING.projectCount() == 2, "two projects");
        _expectErr(abi.encodeWithSelector(IProjectMining.UnknownProject.selector, 3));
        MINING.getProject(3);
        _expectErr(abi.encodeWithSelector(IProjectMining.UnknownProject.selector, uint256(1) << 64));
        MINING.getProject(uint256(1) << 64);
    }

    // ---------------------------------------------------------------------------------------
    // enrolment

    function test_enroll_and_lists() external {
        uint256 pid = _registerDefault();
        HEVM.recordLogs();
        _enroll(ALICE, pid, M1);
        _enroll(ALICE, pid, M2);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 2, "two logs");
        require(logs[0].topics[0] == IProjectMining.MachineEnrolled.selector, "topic0");
        require(logs[0].topics[2] == M1 && address(uint160(uint256(logs[0].topics[3]))) == ALICE, "topics");
        require(keccak256(logs[0].data) == keccak256(abi.encode(uint256(0))), "weight 0");
        require(MINING.enrolledMachineAt(pid, 0) == M1 && MINING.enrolledMachineAt(pid, 1) == M2, "list");
        _expectErr(abi.encodeWithSelector(IProjectMining.NotEnrolled.selector, pid, bytes32(0)));
        MINING.enrolledMachineAt(pid, 2);
        require(MINING.projectsOf(M1).length == 1 && MINING.projectsOf(M1)[0] == pid, "projectsOf");
        IProjectMining.Project memory p = MINING.getProject(pid);
        require(p.machines == 2 && p.totalWeight == 0, "machines");
        (uint64 units, uint64 epoch, bool attested, uint256 weight) = MINING.workOf(pid, M1);
        require(units == 0 && epoch == 0 && !attested && weight == 0, "no work yet");
    }

    function test_enroll_reverts() external {
        uint256 pid = _registerDefault();
        // Unknown project, unknown machine, not the owner.
        _expectErr(abi.encodeWithSelector(IProjectMining.UnknownProject.selector, 9));
        MINING.enroll(9, M1);
        _expectErr(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, bytes32("nope"), "unknown machine"));
        MINING.enroll(pid, bytes32("nope"));
        HEVM.prank(BOB);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotMachineOwner.selector, M1));
        MINING.enroll(pid, M1);
        // Offline.
        MARKET.setStatus(M1, 3);
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, M1, "not verified and online"));
        MINING.enroll(pid, M1);
        MARKET.setStatus(M1, 2);
        // Requirements.
        bytes32[] memory models = new bytes32[](1);
        models[0] = bytes32("H100 80GB");
        HEVM.prank(SETTLER);
        uint256 strict = MINING.registerProject(
            TPB, BUDGET, 1_000_000, IProjectMining.Requirements(0, 2_000, models), IProjectMining.Release(10_000, 0)
        );
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, M1, "calc point below the minimum"));
        MINING.enroll(strict, M1);
        HEVM.prank(SETTLER);
        uint256 mem = MINING.registerProject(
            TPB, BUDGET, 1_000_000, IProjectMining.Requirements(32, 0, models), IProjectMining.Release(10_000, 0)
        );
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, M1, "GPU memory below the minimum"));
        MINING.enroll(mem, M1);
        HEVM.prank(SETTLER);
        uint256 model = MINING.registerProject(
            TPB, BUDGET, 1_000_000, IProjectMining.Requirements(24, 1_000, models), IProjectMining.Release(10_000, 0)
        );
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.MachineNotEligible.selector, M1, "GPU model not accepted"));
        MINING.enroll(model, M1);
        // Twice; then more than maxProjectsPerMachine (3).
        _enroll(ALICE, pid, M1);
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.AlreadyEnrolled.selector, pid, M1));
        MINING.enroll(pid, M1);
        uint256 p5 = _registerDefault();
        uint256 p6 = _registerDefault();
        uint256 p7 = _registerDefault();
        _enroll(ALICE, p5, M1);
        _enroll(ALICE, p6, M1);
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.TooManyProjects.selector, M1, uint32(3)));
        MINING.enroll(p7, M1);
        // Emission over.
        uint256 short = _register(TPB, BUDGET, 200, 10_000, 0);
        HEVM.roll(200);
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.InvalidProject.selector, "emission has ended"));
        MINING.enroll(short, M2);
    }

    // ---------------------------------------------------------------------------------------
    // attestation and accrual

    function test_attest_sets_weight_and_accrues() external {
        uint256 pid = _registerDefault();
        _enroll(ALICE, pid, M1);
        HEVM.roll(EPOCH + 50);
        // Nothing accrues without attested work.
        require(MINING.rewardsOf(pid, ALICE).pending == 0, "no work, no tokens");
        HEVM.recordLogs();
        _attest1(pid, 0, M1, 2);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 1 && logs[0].topics[0] == IProjectMining.WorkAttested.selector, "WorkAttested");
        require(logs[0].topics[2] == M1, "machine topic");
        require(keccak256(logs[0].data) == keccak256(abi.encode(uint64(0), uint64(2), 2 * GRADE)), "attest data");
        (uint64 units, uint64 epoch, bool attested, uint256 weight) = MINING.workOf(pid, M1);
        require(units == 2 && epoch == 0 && attested && weight == 2 * GRADE, "workOf");
        require(MINING.getProject(pid).totalWeight == 2 * GRADE, "total weight");

        HEVM.roll(EPOCH + 150);
        IProjectMining.ProviderRewards memory r = MINING.rewardsOf(pid, ALICE);
        require(r.pending == 100 * TPB, "pending = 100 blocks");
        require(r.claimable == 25 * TPB && r.vesting == 75 * TPB && r.claimed == 0, "split 25/75");
        require(MINING.getProject(pid).distributed == 100 * TPB, "distributed");
    }

    function test_attest_reverts() external {
        uint256 pid = _registerDefault();
        _enroll(ALICE, pid, M1);
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = M1;
        uint64[] memory u = new uint64[](1);
        u[0] = 1;
        // Not the attestor; the settler names one.
        HEVM.prank(BOB);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotAttestor.selector, pid));
        MINING.attestWork(pid, 0, ids, u);
        // Epoch 0 is not over yet.
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.WrongEpoch.selector, uint64(0), uint64(0)));
        MINING.attestWork(pid, 0, ids, u);
        HEVM.roll(3 * EPOCH + 7);
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.WrongEpoch.selector, uint64(1), uint64(2)));
        MINING.attestWork(pid, 1, ids, u);
        // Lists.
        uint64[] memory two = new uint64[](2);
        HEVM.prank(SETTLER);
        _expectErr(
            abi.encodeWithSelector(IProjectMining.BadAttestation.selector, "machineIds and units differ in length")
        );
        MINING.attestWork(pid, 2, ids, two);
        bytes32[] memory many = new bytes32[](257);
        uint64[] memory manyU = new uint64[](257);
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.BadAttestation.selector, "more than 256 entries"));
        MINING.attestWork(pid, 2, many, manyU);
        bytes32[] memory dup = new bytes32[](3);
        dup[0] = M1;
        dup[1] = M2;
        dup[2] = M1;
        uint64[] memory three = new uint64[](3);
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.AlreadyAttested.selector, pid, M1, uint64(2)));
        MINING.attestWork(pid, 2, dup, three);
        // M2 is not enrolled: nothing of the call stays (M1 came first).
        bytes32[] memory both = new bytes32[](2);
        both[0] = M1;
        both[1] = M2;
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotEnrolled.selector, pid, M2));
        MINING.attestWork(pid, 2, both, two);
        (,, bool attested,) = MINING.workOf(pid, M1);
        require(!attested, "refused call changed nothing");
        // Once per epoch; a named attestor takes over.
        HEVM.prank(SETTLER);
        MINING.attestWork(pid, 2, ids, u);
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.AlreadyAttested.selector, pid, M1, uint64(2)));
        MINING.attestWork(pid, 2, ids, u);
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotSettler.selector, pid));
        MINING.setAttestor(pid, BOB);
        HEVM.recordLogs();
        HEVM.prank(SETTLER);
        MINING.setAttestor(pid, BOB);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 1 && logs[0].topics[0] == IProjectMining.AttestorSet.selector, "AttestorSet");
        require(keccak256(logs[0].data) == keccak256(abi.encode(BOB)), "attestor data");
        HEVM.roll(4 * EPOCH);
        HEVM.prank(SETTLER);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotAttestor.selector, pid));
        MINING.attestWork(pid, 3, ids, u);
        HEVM.prank(BOB);
        MINING.attestWork(pid, 3, ids, u);
        require(MINING.getProject(pid).attestor == BOB, "attestor");
    }

    /// Two machines of different weights share each block's emission pro rata (accumulator
    /// rounded down); grade changes (offline/online) move the weight with the market.
    function test_accrual_follows_grade_changes() external {
        uint256 pid = _register(TPB, BUDGET, 1_000_000, 10_000, 0);
        _enroll(ALICE, pid, M1);
        _enroll(BOB, pid, M3);
        HEVM.roll(EPOCH);
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = M1;
        ids[1] = M3;
        uint64[] memory u = new uint64[](2);
        u[0] = 1;
        u[1] = 2;
        HEVM.prank(SETTLER);
        MINING.attestWork(pid, 0, ids, u);

        // 30 blocks at weights 1:2.
        HEVM.roll(EPOCH + 30);
        uint256 acc = (30 * TPB * 1e18) / (3 * GRADE);
        uint256 alice = (GRADE * acc) / 1e18;
        uint256 bob = (2 * GRADE * acc) / 1e18;
        require(MINING.rewardsOf(pid, ALICE).pending == alice, "alice 1/3");
        require(MINING.rewardsOf(pid, BOB).pending == bob, "bob 2/3");

        // M1 goes offline: settled at the old weight, then weight 0.
        HEVM.recordLogs();
        MARKET.setStatus(M1, 3);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 1 && logs[0].topics[0] == IProjectMining.MiningRewardAccrued.selector, "accrued");
        require(logs[0].topics[2] == M1, "accrued machine");
        require(keccak256(logs[0].data) == keccak256(abi.encode(alice, uint256(0))), "all immediate");
        (,,, uint256 w1) = MINING.workOf(pid, M1);
        require(w1 == 0 && MINING.getProject(pid).totalWeight == 2 * GRADE, "offline weight 0");

        // 20 blocks: all to Bob.
        HEVM.roll(EPOCH + 50);
        uint256 acc2 = acc + (20 * TPB * 1e18) / (2 * GRADE);
        require(MINING.rewardsOf(pid, ALICE).pending == 0, "offline earns nothing");
        require(MINING.rewardsOf(pid, ALICE).claimable == alice, "settled is claimable");
        require(MINING.rewardsOf(pid, BOB).pending == (2 * GRADE * acc2) / 1e18, "bob alone");

        // Back online: weight = grade × the attested units again.
        MARKET.setStatus(M1, 2);
        (,,, w1) = MINING.workOf(pid, M1);
        require(w1 == GRADE && MINING.getProject(pid).totalWeight == 3 * GRADE, "online again");
        HEVM.roll(EPOCH + 53);
        uint256 acc3 = acc2 + (3 * TPB * 1e18) / (3 * GRADE);
        uint256 debt = (GRADE * acc2) / 1e18;
        require(MINING.rewardsOf(pid, ALICE).pending == (GRADE * acc3) / 1e18 - debt, "alice again");

        // Settlement: the settler marks Alice's claimable as paid.
        HEVM.prank(SETTLER);
        uint256 paid = MINING.settle(pid, ALICE);
        require(paid == alice + (GRADE * acc3) / 1e18 - debt, "paid all immediate");
        IProjectMining.ProviderRewards memory r = MINING.rewardsOf(pid, ALICE);
        require(r.pending == 0 && r.claimable == 0 && r.claimed == paid, "claimed");
        require(MINING.getProject(pid).settled == paid, "project settled");
    }

    /// Emission stops at the end block and at the budget; nothing is released while no
    /// machine has weight.
    function test_emission_bounds() external {
        uint256 pid = _register(10, 1_000, uint64(2 * EPOCH), 10_000, 0);
        _enroll(ALICE, pid, M1);
        HEVM.roll(EPOCH);
        _attest1(pid, 0, M1, 1);
        HEVM.roll(EPOCH + 40);
        require(MINING.getProject(pid).distributed == 400, "40 blocks");
        HEVM.roll(EPOCH + 1_000);
        require(MINING.getProject(pid).distributed == 1_000, "budget caps");
        require(MINING.rewardsOf(pid, ALICE).pending == 1_000, "all of it");
        uint256 pid2 = _register(10, 1_000_000, uint64(EPOCH + 1_100), 10_000, 0);
        _enroll(BOB, pid2, M3);
        HEVM.roll(2 * EPOCH);
        _attest1(pid2, 1, M3, 1);
        require(MINING.getProject(pid2).distributed == 0, "ended before any weight");
        HEVM.prank(SETTLER);
        require(MINING.settle(pid, ALICE) == 1_000, "settle all");
        _expectErr(abi.encodeWithSelector(IProjectMining.InvalidProject.selector, "emission has ended"));
        HEVM.prank(ALICE);
        MINING.enroll(pid, M2);
    }

    // ---------------------------------------------------------------------------------------
    // release and settlement

    function test_release_vests_linearly() external {
        uint256 pid = _projectWithM1(1); // 25% at once, 75% over 1,000 blocks
        HEVM.roll(EPOCH + 100); // 100 tokens accrued
        HEVM.recordLogs();
        HEVM.prank(SETTLER);
        uint256 paid = MINING.settle(pid, ALICE);
        require(paid == 25 * TPB, "immediate share");
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 2, "accrued + settled");
        require(logs[0].topics[0] == IProjectMining.MiningRewardAccrued.selector, "accrued first");
        require(keccak256(logs[0].data) == keccak256(abi.encode(25 * TPB, 75 * TPB)), "split");
        require(logs[1].topics[0] == IProjectMining.MiningRewardSettled.selector, "then settled");
        require(address(uint160(uint256(logs[1].topics[2]))) == ALICE, "provider topic");
        require(keccak256(logs[1].data) == keccak256(abi.encode(25 * TPB)), "amount");

        // The tranche starts releasing at the next epoch (28,800), over 1,000 blocks.
        HEVM.roll(2 * EPOCH);
        IProjectMining.ProviderRewards memory r = MINING.rewardsOf(pid, ALICE);
        uint256 pending = r.pending;
        require(pending == (2 * EPOCH - (EPOCH + 100)) * TPB, "accruing on");
        require(r.vesting == 75 * TPB + (pending - (pending * 2_500) / 10_000), "nothing vested yet");
        HEVM.roll(2 * EPOCH + 400);
        r = MINING.rewardsOf(pid, ALICE);
        require(r.claimed == 25 * TPB, "claimed so far");
        uint256 vested = (75 * TPB * 400) / 1_000;
        require(r.claimable == vested + (r.pending * 2_500) / 10_000, "40% vested");

        // Settle now: the new pending is split and its tranche starts at 43,200.
        HEVM.prank(SETTLER);
        uint256 paid2 = MINING.settle(pid, ALICE);
        uint256 now2 = ((EPOCH + 400 - 100) * TPB * 2_500) / 10_000;
        require(paid2 == vested + now2, "vested + immediate");
        HEVM.roll(2 * EPOCH + 1_000);
        HEVM.prank(SETTLER);
        require(MINING.settle(pid, ALICE) == 75 * TPB - vested + ((600 * TPB) * 2_500) / 10_000, "rest of tranche");
        // Nothing to settle: 0 is returned and still logged.
        HEVM.recordLogs();
        HEVM.prank(SETTLER);
        require(MINING.settle(pid, BOB) == 0, "nothing for Bob");
        logs = _miningLogs();
        require(logs.length == 1 && logs[0].topics[0] == IProjectMining.MiningRewardSettled.selector, "zero logged");
        HEVM.prank(ALICE);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotSettler.selector, pid));
        MINING.settle(pid, ALICE);
    }

    function test_leave() external {
        uint256 pid = _registerDefault();
        _enroll(ALICE, pid, M1);
        _enroll(ALICE, pid, M2);
        _enroll(BOB, pid, M3);
        HEVM.roll(EPOCH);
        _attest1(pid, 0, M1, 1);
        HEVM.roll(EPOCH + 10);
        HEVM.prank(BOB);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotMachineOwner.selector, M1));
        MINING.leave(pid, M1);
        _expectErr(abi.encodeWithSelector(IProjectMining.NotEnrolled.selector, pid, bytes32("not-enrolled")));
        MINING.leave(pid, bytes32("not-enrolled"));
        HEVM.recordLogs();
        HEVM.prank(ALICE);
        MINING.leave(pid, M1);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 2, "accrued + left");
        require(logs[0].topics[0] == IProjectMining.MiningRewardAccrued.selector, "settled on leave");
        require(keccak256(logs[0].data) == keccak256(abi.encode(25 * TPB / 10, 75 * TPB / 10)), "10 tokens");
        require(logs[1].topics[0] == IProjectMining.MachineLeft.selector, "left");
        // Swap-remove: M3 took M1's place.
        require(MINING.enrolledMachineAt(pid, 0) == M3 && MINING.enrolledMachineAt(pid, 1) == M2, "swap-removed");
        IProjectMining.Project memory p = MINING.getProject(pid);
        require(p.machines == 2 && p.totalWeight == 0, "weight gone");
        require(MINING.projectsOf(M1).length == 0, "machine list");
        (uint64 units,, bool attested, uint256 w) = MINING.workOf(pid, M1);
        require(units == 0 && !attested && w == 0, "position cleared");
        // Rewards stay Alice's; M3 (moved) can still leave and the machine can re-enrol.
        require(MINING.rewardsOf(pid, ALICE).claimable == 25 * TPB / 10, "kept");
        HEVM.prank(BOB);
        MINING.leave(pid, M3);
        require(MINING.enrolledMachineAt(pid, 0) == M2, "one left");
        _enroll(ALICE, pid, M1);
        require(MINING.enrolledMachineAt(pid, 1) == M1, "re-enrolled");
    }

    /// A provider can always leave: when the position cannot be settled (arithmetic overflow,
    /// forced here through the storage layout), its unsettled tokens are forfeited.
    function test_leave_forfeits_when_settlement_overflows() external {
        uint256 pid = _projectWithM1(1);
        // position weight ← 2^200, project acc ← 2^200: weight × acc / 1e18 does not fit.
        bytes32 posKey = keccak256(abi.encode(uint256(pid), M1));
        bytes32 posBase = keccak256(abi.encode(uint256(22), posKey));
        bytes32 projBase = keccak256(abi.encode(uint256(20), bytes32(pid)));
        HEVM.store(DBC_MINING, posBase, bytes32(uint256(1) << 200));
        HEVM.store(DBC_MINING, bytes32(uint256(projBase) + 5), bytes32(uint256(1) << 200));
        HEVM.store(DBC_MINING, bytes32(uint256(projBase) + 6), bytes32(uint256(1) << 200));
        HEVM.roll(EPOCH + 5);
        _expectErr(abi.encodeWithSelector(IProjectMining.ArithmeticOverflow.selector));
        MINING.rewardsOf(pid, ALICE);
        HEVM.recordLogs();
        HEVM.prank(ALICE);
        MINING.leave(pid, M1);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 1 && logs[0].topics[0] == IProjectMining.MachineLeft.selector, "only MachineLeft");
        IProjectMining.Project memory p = MINING.getProject(pid);
        require(p.totalWeight == 0 && p.machines == 0, "left");
        // The project's update was kept (5 blocks released), the settlement was not.
        require(p.distributed == 5 * TPB, "update kept");
        require(MINING.rewardsOf(pid, ALICE).claimable == 0, "forfeited");
    }

    /// Mining never blocks the market: a project whose update overflows is skipped (undone,
    /// `ProjectUpdateSkipped`), the others are updated.
    function test_grade_change_skips_failing_project() external {
        // Project 1: the whole budget in one block to a weight of 1 → acc ≈ 2^128 × 1e18.
        uint256 big = type(uint128).max;
        uint256 p1 = _register(big, big, 1_000_000, 10_000, 0);
        uint256 p2 = _registerDefault();
        _enroll(ALICE, p1, M1);
        _enroll(ALICE, p2, M1);
        HEVM.roll(EPOCH);
        MARKET.forceGrade(M1, 1);
        _attest1(p1, 0, M1, 1);
        _attest1(p2, 0, M1, 1);
        HEVM.roll(EPOCH + 1);
        // A grade of 2^130: the new debt 2^130 × acc / 1e18 overflows in project 1 only.
        HEVM.recordLogs();
        MARKET.forceGrade(M1, uint256(1) << 130);
        Vm.Log[] memory logs = _miningLogs();
        require(logs.length == 2, "skip + accrued");
        require(logs[0].topics[0] == IProjectMining.ProjectUpdateSkipped.selector, "skipped");
        require(uint256(logs[0].topics[1]) == p1 && logs[0].topics[2] == M1, "skip topics");
        require(logs[0].data.length == 0, "no data");
        require(logs[1].topics[0] == IProjectMining.MiningRewardAccrued.selector, "p2 settled");
        require(uint256(logs[1].topics[1]) == p2, "p2");
        (,,, uint256 w1) = MINING.workOf(p1, M1);
        (,,, uint256 w2) = MINING.workOf(p2, M1);
        require(w1 == 1, "p1 unchanged");
        require(w2 == uint256(1) << 130, "p2 moved");
        // Undone: still pending (not settled), and claimable only as pending (all immediate).
        IProjectMining.ProviderRewards memory r = MINING.rewardsOf(p1, ALICE);
        require(r.pending == big && r.claimable == big, "p1 settlement undone");
        require(MINING.getProject(p1).totalWeight == 1, "p1 total unchanged");
        require(MINING.getProject(p2).totalWeight == uint256(1) << 130, "p2 total moved");
    }

    // ---------------------------------------------------------------------------------------
    // call-level checks

    function _call(bytes memory data, uint256 value) internal returns (bool ok, bytes memory out) {
        HEVM.deal(address(this), value);
        (ok, out) = DBC_MINING.call{value: value}(data);
    }

    function _requireRevert(bool ok, bytes memory out, bytes memory expected, string memory what) internal pure {
        require(!ok, string.concat(what, ": succeeded"));
        require(keccak256(out) == keccak256(expected), string.concat(what, ": wrong revert data"));
    }

    function test_call_checks() external {
        uint256 pid = _registerDefault();
        bytes4 unknown = IProjectMining.UnknownSelector.selector;
        (bool ok, bytes memory out) = _call(hex"12345678", 0);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, bytes4(0x12345678)), "unknown selector");
        (ok, out) = _call(hex"", 0);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, bytes4(0)), "empty calldata");
        (ok, out) = _call(hex"abcd", 5);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, bytes4(0xabcd0000)), "short calldata, value");
        // Too short for its arguments: unknown, before any other check.
        (ok, out) = _call(abi.encodePacked(IProjectMining.enroll.selector, pid), 1);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, IProjectMining.enroll.selector), "short args");
        // Value.
        (ok, out) = _call(abi.encodeCall(IProjectMining.enroll, (pid, M1)), 1);
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.NotPayable.selector), "value");
        (ok, out) = _call(abi.encodeCall(IProjectMining.projectCount, ()), 1);
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.NotPayable.selector), "value to a view");
        // Static context: views work, writes do not.
        (ok, out) = DBC_MINING.staticcall(abi.encodeCall(IProjectMining.projectCount, ()));
        require(ok && abi.decode(out, (uint256)) == 1, "static view");
        (ok, out) = DBC_MINING.staticcall(abi.encodeCall(IProjectMining.setAttestor, (pid, BOB)));
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.StaticCallWrite.selector), "static write");
        (ok, out) = DBC_MINING.staticcall(abi.encodeCall(IProjectMining.getProject, (pid)));
        require(ok, "static getProject");
        // DELEGATECALL is refused before anything else.
        Delegator d = new Delegator();
        (ok, out) = d.run(hex"12");
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.DelegateCallNotAllowed.selector), "delegate");
        (ok, out) = d.run(abi.encodeCall(IProjectMining.projectCount, ()));
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.DelegateCallNotAllowed.selector), "delegate view");
        // The stand-in's own selectors look unknown to others.
        bytes4 initSel = ProjectMiningSol.initDev.selector;
        (ok, out) = _call(abi.encodeWithSelector(initSel), 0);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, initSel), "initDev twice");
        bytes4 hookSel = IMiningGradeHook.onGradeChange.selector;
        (ok, out) = _call(abi.encodeWithSelector(hookSel, M1, uint256(0)), 0);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, hookSel), "hook from others");
        bytes4 moveSel = IProjectMiningSolSelf.__pmsMoveWeight.selector;
        (ok, out) = _call(abi.encodeWithSelector(moveSel, uint64(1), M1, uint256(0)), 0);
        _requireRevert(ok, out, abi.encodeWithSelector(unknown, moveSel), "self-call from others");
        // The trailing bytes and dirty high bits alloy ignores are ignored.
        (ok, out) = _call(abi.encodePacked(abi.encodeCall(IProjectMining.getProject, (pid)), hex"ffff"), 0);
        require(ok, "trailing bytes");
        bytes memory dirty = abi.encodeCall(IProjectMining.setAttestor, (pid, BOB));
        dirty[4 + 32] = 0xff; // high byte of the address word
        HEVM.prank(SETTLER);
        (ok, out) = DBC_MINING.call(dirty);
        require(ok && MINING.getProject(pid).attestor == BOB, "dirty address bits ignored");
    }

    function test_register_calldata_decoding() external {
        bytes4 sel = IProjectMining.registerProject.selector;
        bytes memory good = abi.encodeCall(
            IProjectMining.registerProject, (TPB, BUDGET, 5_000, _noModels(), IProjectMining.Release(10_000, 0))
        );
        (bool ok, bytes memory out) = _call(good, 0);
        require(ok && abi.decode(out, (uint256)) == 1, "good");
        // Offset of `requirements` beyond the data.
        bytes memory bad = bytes.concat(good);
        bad[4 + 96 + 31] = 0xf0;
        (ok, out) = _call(bad, 0);
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.UnknownSelector.selector, sel), "bad offset");
        // Offset with high bits.
        bad = bytes.concat(good);
        bad[4 + 96] = 0x01;
        (ok, out) = _call(bad, 0);
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.UnknownSelector.selector, sel), "huge offset");
        // Array length past the data.
        bad = bytes.concat(good);
        bad[bad.length - 1] = 0x05;
        (ok, out) = _call(bad, 0);
        _requireRevert(ok, out, abi.encodeWithSelector(IProjectMining.UnknownSelector.selector, sel), "long array");
        // Dirty bits of `endBlock` (uint64) and `immediateBps` (uint16) are ignored.
        bad = bytes.concat(good);
        bad[4 + 64] = 0xff;
        bad[4 + 128] = 0xff;
        (ok, out) = _call(bad, 0);
        require(ok && abi.decode(out, (uint256)) == 2, "dirty bits ignored");
        require(MINING.getProject(2).endBlock == 5_000, "low bits kept");
    }

    function test_not_initialized() external {
        HEVM.store(DBC_MINING, keccak256("dbc-node.ProjectMiningSol.params"), bytes32(0));
        (bool ok, bytes memory out) = _call(abi.encodeCall(IProjectMining.projectCount, ()), 0);
        _requireRevert(
            ok, out, abi.encodeWithSelector(ProjectMiningSol.ProjectMiningSolNotInitialized.selector), "not initialised"
        );
        ProjectMiningSol(payable(DBC_MINING)).init(ProjectMiningSol.Params(100, 1));
        require(MINING.epochBlocks() == 100 && MINING.maxProjectsPerMachine() == 1, "init");
    }

    /// The stand-in's self-call selectors must not collide with the precompile's.
    function test_selectors_distinct() external pure {
        bytes4[3] memory own = [
            IProjectMiningSolSelf.__pmsStaticProbe.selector,
            IProjectMiningSolSelf.__pmsMoveWeight.selector,
            IProjectMiningSolSelf.__pmsLeaveSettle.selector
        ];
        bytes4[14] memory theirs = [
            IProjectMining.registerProject.selector,
            IProjectMining.enroll.selector,
            IProjectMining.leave.selector,
            IProjectMining.settle.selector,
            IProjectMining.setAttestor.selector,
            IProjectMining.attestWork.selector,
            IProjectMining.projectCount.selector,
            IProjectMining.getProject.selector,
            IProjectMining.projectsOf.selector,
            IProjectMining.enrolledMachineAt.selector,
            IProjectMining.rewardsOf.selector,
            IProjectMining.maxProjectsPerMachine.selector,
            IProjectMining.workOf.selector,
            IProjectMining.epochBlocks.selector
        ];
        for (uint256 i; i < own.length; i++) {
            for (uint256 j; j < theirs.length; j++) {
                require(own[i] != theirs[j], "selector collision");
            }
        }
    }
}

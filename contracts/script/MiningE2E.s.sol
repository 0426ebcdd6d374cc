// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {ProjectToken, ProjectTokenFactory} from "../src/ProjectToken.sol";
import {InferenceMarket} from "../examples/InferenceMarket.sol";
import {MiningEscrow, IERC20Minimal} from "../src/MiningEscrow.sol";
import {Token} from "../src/Token.sol";
import {E2EBase} from "./E2EBase.sol";

/// @notice Project mining end to end on a live `dbc-node --dev` (phases like MarketE2E): two
/// machines are verified at their models' table calc points, 1,000 (RTX 4090) and 1,890
/// (A100 80GB); the example inference dApp issues its token through the factory (and attests its
/// program's work); both machines enrol, which alone earns nothing; a user runs fee-free jobs on
/// both (rent in DBC); after the epoch the dApp attests the GPU-blocks they served; providers
/// claim (mint) their rewards; the dApp sets a fee and a provider pays for a job with its tokens,
/// of which the tiered share is burned. Then an existing ERC-20 mines through an escrow.
contract MiningE2E is E2EBase {
    bytes32 internal constant MACHINE_A = keccak256("dbc-e2e-mining-A");
    bytes32 internal constant MACHINE_B = keccak256("dbc-e2e-mining-B");
    uint32 internal constant CP_A = 1000; // the GPU-model table's RTX 4090
    uint32 internal constant CP_B = 1890; // the GPU-model table's A100 80GB
    /// The token fee the dApp sets once providers hold tokens.
    uint256 internal constant FEE_PER_BLOCK = 0.1 ether;

    function providerA() internal pure returns (uint256) {
        return key(1);
    }

    function providerB() internal pure returns (uint256) {
        return key(6);
    }

    /// A user of the dApp.
    function user() internal pure returns (uint256) {
        return key(8);
    }

    /// Keys held on the machines (they sign the heartbeats).
    function machineKey(bytes32 id) internal pure returns (uint256) {
        return id == MACHINE_A ? key(9) : key(10);
    }

    function factory() internal pure returns (address) {
        return vm.computeCreateAddress(vm.addr(key(0)), 0);
    }

    function dapp() internal pure returns (address) {
        return vm.computeCreateAddress(vm.addr(key(0)), 1);
    }

    function token() internal pure returns (address) {
        return vm.computeCreateAddress(factory(), 1);
    }

    function spec(bytes32 id) internal pure returns (IGpuMarket.MachineSpec memory) {
        bool a = id == MACHINE_A;
        return IGpuMarket.MachineSpec({
            gpuModel: a ? bytes32("RTX 4090") : bytes32("A100 80GB"),
            gpuCount: 1,
            gpuMemoryGb: a ? 24 : 80,
            cpuCores: 16,
            ramGb: 64,
            diskGb: 1000,
            region: bytes32("ap-east"),
            machineKey: vm.addr(machineKey(id))
        });
    }

    function machine(bytes32 id) internal returns (IGpuMarket.Machine memory) {
        return abi.decode(viewCall(MARKET, abi.encodeCall(IGpuMarket.getMachine, (id))), (IGpuMarket.Machine));
    }

    function round(bytes32 id) internal returns (IGpuMarket.Round memory) {
        return abi.decode(viewCall(MARKET, abi.encodeCall(IGpuMarket.getRound, (id))), (IGpuMarket.Round));
    }

    function project() internal returns (IProjectMining.Project memory) {
        return abi.decode(viewCall(MINING, abi.encodeCall(IProjectMining.getProject, (1))), (IProjectMining.Project));
    }

    function tokenBalance(address who) internal returns (uint256) {
        return uintView(token(), abi.encodeWithSignature("balanceOf(address)", who));
    }

    function uintView(address to, bytes memory data) internal returns (uint256) {
        return abi.decode(viewCall(to, data), (uint256));
    }

    /// GPU-blocks the dApp recorded for `id` in `epoch`.
    function work(uint64 epoch, bytes32 id) internal returns (uint256) {
        return uintView(dapp(), abi.encodeWithSignature("work(uint64,bytes32)", epoch, id));
    }

    /// The last completed epoch at the head (what an attestation sent now must name).
    function lastEpoch() internal returns (uint64) {
        uint64 head = uint64(toUint(vm.rpc("eth_blockNumber", "[]")));
        return head / uint64(uintView(MINING, abi.encodeCall(IProjectMining.epochBlocks, ()))) - 1;
    }

    function phase1() external {
        uint256[3] memory k = auditorKeys();
        for (uint256 i = 0; i < 3; i++) {
            send(k[i], MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.joinCommittee, ()));
        }
        send(providerA(), MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.register, (MACHINE_A, spec(MACHINE_A))));
        send(providerB(), MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.register, (MACHINE_B, spec(MACHINE_B))));
        vm.startBroadcast(key(0));
        ProjectTokenFactory f = new ProjectTokenFactory();
        InferenceMarket d = new InferenceMarket(0);
        vm.stopBroadcast();
        require(address(f) == factory() && address(d) == dapp(), "addresses");
    }

    /// Each auditor commits to the spec and the calc point it measured (near the table's `cp`).
    function commitFor(bytes32 id, uint32 cp) internal {
        IGpuMarket.Round memory r = round(id);
        require(r.phase == IGpuMarket.RoundPhase.Commit, "commit phase");
        for (uint256 i = 0; i < 3; i++) {
            bytes32 c = keccak256(abi.encode(id, r.auditors[i], spec(id), measured(cp, i), bytes32(i + 1)));
            send(seatKey(r.auditors[i]), MARKET, 0, abi.encodeCall(IGpuMarket.commitVerification, (id, c)));
        }
    }

    function revealFor(bytes32 id, uint32 cp) internal {
        IGpuMarket.Round memory r = round(id);
        require(r.phase == IGpuMarket.RoundPhase.Reveal, "reveal phase");
        for (uint256 i = 0; i < 3; i++) {
            send(
                seatKey(r.auditors[i]),
                MARKET,
                0,
                abi.encodeCall(IGpuMarket.revealVerification, (id, spec(id), measured(cp, i), bytes32(i + 1)))
            );
        }
    }

    function phase2() external {
        commitFor(MACHINE_A, CP_A);
        commitFor(MACHINE_B, CP_B);
    }

    function phase3() external {
        revealFor(MACHINE_A, CP_A);
        revealFor(MACHINE_B, CP_B);
    }

    /// Both verified at their table calc points: the dApp issues its token (factory: token +
    /// mining program in one transaction, the dApp its attestor); both machines enrol.
    function phase4() external {
        require(machine(MACHINE_A).status == IGpuMarket.MachineStatus.Online, "A online");
        require(machine(MACHINE_A).calcPoint == CP_A, "A verified at 1,000");
        require(machine(MACHINE_B).status == IGpuMarket.MachineStatus.Online, "B online");
        require(machine(MACHINE_B).calcPoint == CP_B, "B verified at 1,890");
        bytes32[] memory models = new bytes32[](2);
        models[0] = bytes32("RTX 4090");
        models[1] = bytes32("A100 80GB");
        IProjectMining.Requirements memory req =
            IProjectMining.Requirements({minGpuMemoryGb: 16, minCalcPoint: 500, gpuModels: models});
        send(
            key(0),
            dapp(),
            0,
            abi.encodeCall(
                InferenceMarket.init,
                (ProjectTokenFactory(factory()), "Inference Token", "INFER", 3 ether, 1_000_000_000 ether, 1_000_000, req)
            )
        );
        send(providerA(), MINING, 0, abi.encodeCall(IProjectMining.enroll, (1, MACHINE_A)));
        send(providerB(), MINING, 0, abi.encodeCall(IProjectMining.enroll, (1, MACHINE_B)));
    }

    /// Enrolment alone earns nothing (no weight, nothing released). Nobody holds the token yet,
    /// so the dApp charges no fee: a user pays only the rent, in DBC, for jobs of 20 GPU-blocks
    /// on A and 10 on B (the test starts this phase early in an epoch, so both land in it).
    function phase5() external {
        IProjectMining.Project memory p = project();
        require(p.settler == token() && p.attestor == dapp() && p.machines == 2, "token settles, dApp attests");
        require(p.release.immediateBps == 2500 && p.release.vestingBlocks == 2_160_000, "default release");
        require(p.totalWeight == 0 && p.distributed == 0, "enrolled machines weigh nothing until attested");
        require(uintView(dapp(), abi.encodeWithSignature("feePerBlock()")) == 0, "no fee while bootstrapping");
        uint256 rentA = uintView(MARKET, abi.encodeCall(IGpuMarket.quote, (MACHINE_A, 1, 20)));
        uint256 rentB = uintView(MARKET, abi.encodeCall(IGpuMarket.quote, (MACHINE_B, 1, 10)));
        send(user(), dapp(), rentA, abi.encodeCall(InferenceMarket.submitJob, (MACHINE_A, 20)));
        send(user(), dapp(), rentB, abi.encodeCall(InferenceMarket.submitJob, (MACHINE_B, 10)));
    }

    /// In the next epoch anyone has the dApp attest the work it recorded in the last one.
    function phase6() external {
        uint64 epoch = lastEpoch();
        require(work(epoch, MACHINE_A) == 20 && work(epoch, MACHINE_B) == 10, "the jobs' GPU-blocks, last epoch");
        bytes32[] memory ids = new bytes32[](2);
        (ids[0], ids[1]) = (MACHINE_A, MACHINE_B);
        send(key(7), dapp(), 0, abi.encodeCall(InferenceMarket.attest, (epoch, ids)));
    }

    /// The program pays by attested work × grade; providers mint what is released to them.
    function phase7() external {
        require(project().totalWeight == 389_000_000, "weights 10,000,000 x 20 + 18,900,000 x 10");
        send(providerA(), token(), 0, abi.encodeWithSignature("claim()"));
        send(providerB(), token(), 0, abi.encodeWithSignature("claim()"));
    }

    /// Providers hold tokens now: the operator sets a fee, and provider A pays for an inference
    /// job on B's machine with its tokens.
    function phase8() external {
        uint256 balA = tokenBalance(vm.addr(providerA()));
        require(balA >= 10 * FEE_PER_BLOCK, "A minted enough to pay a 10-block job");
        uint256 rent = uintView(MARKET, abi.encodeCall(IGpuMarket.quote, (MACHINE_B, 1, 10)));
        send(key(0), dapp(), 0, abi.encodeCall(InferenceMarket.setFee, (FEE_PER_BLOCK)));
        send(providerA(), token(), 0, abi.encodeCall(ProjectToken.approve, (dapp(), type(uint256).max)));
        send(providerA(), dapp(), rent, abi.encodeCall(InferenceMarket.submitJob, (MACHINE_B, 10)));
    }

    function erc20() internal pure returns (address) {
        // key 0's nonces: factory 0, dApp 1, the dApp's init 2, setFee 3.
        return vm.computeCreateAddress(vm.addr(key(0)), 4);
    }

    function escrow() internal pure returns (address) {
        return vm.computeCreateAddress(vm.addr(key(0)), 5);
    }

    function project2() internal returns (IProjectMining.Project memory) {
        return abi.decode(viewCall(MINING, abi.encodeCall(IProjectMining.getProject, (2))), (IProjectMining.Project));
    }

    /// An existing ERC-20 mines through a funded escrow (project 2), whose deployer attests the
    /// work itself; machine A enrols.
    function phase9() external {
        vm.startBroadcast(key(0));
        Token t = new Token("Existing", "EXT", 1_000_000 ether);
        MiningEscrow e = new MiningEscrow(IERC20Minimal(address(t)));
        t.approve(address(e), 100_000 ether);
        vm.stopBroadcast();
        require(address(t) == erc20() && address(e) == escrow(), "addresses");
        // fund() pulls tokens: a plain ERC-20 call that works locally too.
        vm.startBroadcast(key(0));
        e.fund(100_000 ether);
        vm.stopBroadcast();
        IProjectMining.Requirements memory req =
            IProjectMining.Requirements({minGpuMemoryGb: 0, minCalcPoint: 0, gpuModels: new bytes32[](0)});
        send(
            key(0),
            escrow(),
            0,
            abi.encodeCall(
                MiningEscrow.registerMining,
                (
                    1 ether,
                    100_000 ether,
                    1_000_000,
                    req,
                    IProjectMining.Release({immediateBps: 2500, vestingBlocks: 1000}),
                    vm.addr(key(0))
                )
            )
        );
        send(providerA(), MINING, 0, abi.encodeCall(IProjectMining.enroll, (2, MACHINE_A)));
    }

    /// The attestor (an account, not a contract) reports 10 units of work by A in the last
    /// epoch (the test starts this phase early in an epoch).
    function phase10() external {
        IProjectMining.Project memory p = project2();
        require(p.settler == escrow() && p.attestor == vm.addr(key(0)) && p.machines == 1, "project 2");
        require(p.totalWeight == 0, "A weighs nothing until attested");
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = MACHINE_A;
        uint64[] memory units = new uint64[](1);
        units[0] = 10;
        send(key(0), MINING, 0, abi.encodeCall(IProjectMining.attestWork, (2, lastEpoch(), ids, units)));
    }

    /// Anyone triggers the payout; A receives its released share of the existing token. Anyone
    /// also relays a heartbeat signed by machine A's key.
    function phase11() external {
        require(project2().totalWeight == 100_000_000, "A's weight 10,000,000 x 10");
        send(key(7), escrow(), 0, abi.encodeCall(MiningEscrow.claim, (vm.addr(providerA()))));
        heartbeat(key(7), machineKey(MACHINE_A), MACHINE_A);
    }
}

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
/// machines with calc points 1,000 and 2,000 are verified; the example inference dApp issues its
/// token through the factory; both machines enrol; providers claim (mint) their rewards; a
/// provider then uses its tokens to pay for a job, of which the tiered share is burned.
contract MiningE2E is E2EBase {
    bytes32 internal constant MACHINE_A = keccak256("dbc-e2e-mining-A");
    bytes32 internal constant MACHINE_B = keccak256("dbc-e2e-mining-B");
    uint32 internal constant CP_A = 1000;
    uint32 internal constant CP_B = 2000;
    uint256 internal constant FEE_PER_BLOCK = 0.1 ether;

    function providerA() internal pure returns (uint256) {
        return key(1);
    }

    function providerB() internal pure returns (uint256) {
        return key(6);
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

    function spec() internal pure returns (IGpuMarket.MachineSpec memory) {
        return IGpuMarket.MachineSpec({
            gpuModel: bytes32("RTX 4090"),
            gpuCount: 1,
            gpuMemoryGb: 24,
            cpuCores: 16,
            ramGb: 64,
            diskGb: 1000,
            region: bytes32("ap-east")
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
        return abi.decode(viewCall(token(), abi.encodeWithSignature("balanceOf(address)", who)), (uint256));
    }

    function phase1() external {
        uint256[3] memory k = auditorKeys();
        for (uint256 i = 0; i < 3; i++) {
            send(k[i], MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.joinCommittee, ()));
        }
        send(providerA(), MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.register, (MACHINE_A, spec())));
        send(providerB(), MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.register, (MACHINE_B, spec())));
        vm.startBroadcast(key(0));
        ProjectTokenFactory f = new ProjectTokenFactory();
        InferenceMarket d = new InferenceMarket(FEE_PER_BLOCK);
        vm.stopBroadcast();
        require(address(f) == factory() && address(d) == dapp(), "addresses");
    }

    function commitFor(bytes32 id, uint32 cp) internal {
        IGpuMarket.Round memory r = round(id);
        require(r.phase == IGpuMarket.RoundPhase.Commit, "commit phase");
        for (uint256 i = 0; i < 3; i++) {
            bytes32 c = keccak256(abi.encode(id, r.auditors[i], spec(), cp, bytes32(i + 1)));
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
                abi.encodeCall(IGpuMarket.revealVerification, (id, spec(), cp, bytes32(i + 1)))
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

    /// Both verified: the dApp issues its token (factory: token + mining program in one
    /// transaction); both machines enrol.
    function phase4() external {
        require(machine(MACHINE_A).status == IGpuMarket.MachineStatus.Online, "A online");
        require(machine(MACHINE_B).calcPoint == CP_B, "B verified at 2,000");
        bytes32[] memory models = new bytes32[](1);
        models[0] = bytes32("RTX 4090");
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

    /// The program runs with both machines; providers mint what is released to them.
    function phase5() external {
        IProjectMining.Project memory p = project();
        require(p.settler == token() && p.machines == 2, "project 1: token settles, 2 machines");
        require(p.release.immediateBps == 2500 && p.release.vestingBlocks == 2_160_000, "default release");
        require(p.totalWeight == 30_000_000, "weights 1,000 and 2,000 (x10,000)");
        send(providerA(), token(), 0, abi.encodeWithSignature("claim()"));
        send(providerB(), token(), 0, abi.encodeWithSignature("claim()"));
    }

    /// Provider A pays for an inference job on B's machine with its tokens.
    function phase6() external {
        uint256 balA = tokenBalance(vm.addr(providerA()));
        require(balA >= 1 ether, "A minted enough to pay a 10-block job");
        uint256 rent = abi.decode(viewCall(MARKET, abi.encodeCall(IGpuMarket.quote, (MACHINE_B, 1, 10))), (uint256));
        send(providerA(), token(), 0, abi.encodeCall(ProjectToken.approve, (dapp(), type(uint256).max)));
        send(providerA(), dapp(), rent, abi.encodeCall(InferenceMarket.submitJob, (MACHINE_B, 10)));
    }

    function erc20() internal pure returns (address) {
        // key 0's nonces: factory 0, dApp 1, the dApp's init 2.
        return vm.computeCreateAddress(vm.addr(key(0)), 3);
    }

    function escrow() internal pure returns (address) {
        return vm.computeCreateAddress(vm.addr(key(0)), 4);
    }

    /// An existing ERC-20 mines through a funded escrow (project 2); machine A enrols.
    function phase7() external {
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
                (1 ether, 100_000 ether, 1_000_000, req, IProjectMining.Release({immediateBps: 2500, vestingBlocks: 1000}))
            )
        );
        send(providerA(), MINING, 0, abi.encodeCall(IProjectMining.enroll, (2, MACHINE_A)));
    }

    /// Anyone triggers the payout; A receives its released share of the existing token.
    function phase8() external {
        IProjectMining.Project memory p =
            abi.decode(viewCall(MINING, abi.encodeCall(IProjectMining.getProject, (2))), (IProjectMining.Project));
        require(p.settler == escrow() && p.machines == 1, "project 2 settled by the escrow");
        send(key(7), escrow(), 0, abi.encodeCall(MiningEscrow.claim, (vm.addr(providerA()))));
    }
}

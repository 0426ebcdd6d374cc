// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {RentalEscrow} from "../src/RentalEscrow.sol";
import {E2EBase} from "./E2EBase.sol";

/// @notice End-to-end run of the GPU market on a live `dbc-node --dev` chain, in phases (one
/// `forge script --sig "phaseN()" --broadcast --skip-simulation --slow` each; the driving test
/// waits for blocks in between). The market is a precompile forge's local EVM does not have, so
/// calls are sent with low-level `call` (their local result is ignored) and every assertion reads
/// the node's real state with `vm.rpc("eth_call")` / `eth_getBalance`: each phase checks the
/// effects of the one before, then broadcasts its own step.
contract MarketE2E is E2EBase {

    bytes32 internal constant MACHINE = keccak256("dbc-e2e-machine-A");
    uint32 internal constant CALC_POINT = 1000; // the GPU-model table's, for an RTX 4090
    uint64 internal constant UNIT = 10; // genesis rentUnitBlocks of the test chain

    // ---- accounts ----

    function provider() internal pure returns (uint256) {
        return key(1);
    }

    function renter() internal pure returns (uint256) {
        return key(5);
    }

    /// The key held on the machine: it signs the heartbeats.
    function machineKey() internal pure returns (uint256) {
        return key(9);
    }

    function escrow() internal pure returns (RentalEscrow) {
        // First contract created by account 0 of the mnemonic on a fresh chain (nonce 0).
        return RentalEscrow(0x5FbDB2315678afecb367f032d93F642f64180aa3);
    }

    function spec() internal pure returns (IGpuMarket.MachineSpec memory) {
        return IGpuMarket.MachineSpec({
            gpuModel: bytes32("RTX 4090"),
            gpuCount: 4,
            gpuMemoryGb: 24,
            cpuCores: 32,
            ramGb: 256,
            diskGb: 4000,
            region: bytes32("eu-west"),
            machineKey: vm.addr(machineKey())
        });
    }

    // ---- reading the node ----

    function market(bytes memory data) internal returns (bytes memory) {
        return viewCall(MARKET, data);
    }

    function machine() internal returns (IGpuMarket.Machine memory) {
        return abi.decode(market(abi.encodeCall(IGpuMarket.getMachine, (MACHINE))), (IGpuMarket.Machine));
    }

    function round() internal returns (IGpuMarket.Round memory) {
        return abi.decode(market(abi.encodeCall(IGpuMarket.getRound, (MACHINE))), (IGpuMarket.Round));
    }

    function rental(uint256 id) internal returns (IGpuMarket.Rental memory) {
        return abi.decode(market(abi.encodeCall(IGpuMarket.getRental, (id))), (IGpuMarket.Rental));
    }

    function report(uint256 id) internal returns (IGpuMarket.Report memory) {
        return abi.decode(market(abi.encodeCall(IGpuMarket.getReport, (id))), (IGpuMarket.Report));
    }

    function stats() internal returns (IGpuMarket.NetworkStats memory) {
        return abi.decode(market(abi.encodeCall(IGpuMarket.networkStats, ())), (IGpuMarket.NetworkStats));
    }

    function quote(uint32 gpus, uint64 blocks) internal returns (uint256) {
        return abi.decode(market(abi.encodeCall(IGpuMarket.quote, (MACHINE, gpus, blocks))), (uint256));
    }


    // ---- sending (local results ignored: forge's EVM has no market) ----

    // ---- phases ----

    /// Auditors join the committee, the provider registers a 4-GPU machine, the escrow dApp is
    /// deployed.
    function phase1() external {
        uint256[3] memory k = auditorKeys();
        for (uint256 i = 0; i < 3; i++) {
            send(k[i], MARKET, 1_000 ether, abi.encodeCall(IGpuMarket.joinCommittee, ()));
        }
        send(provider(), MARKET, 4 * 1_000 ether, abi.encodeCall(IGpuMarket.register, (MACHINE, spec())));
        vm.startBroadcast(key(0));
        RentalEscrow e = new RentalEscrow();
        vm.stopBroadcast();
        require(address(e) == address(escrow()), "escrow address");
    }

    /// The draw picked our three auditors; each commits to the spec and the calc point it
    /// measured.
    function phase2() external {
        IGpuMarket.Machine memory m = machine();
        require(m.status == IGpuMarket.MachineStatus.Verifying, "machine verifying");
        require(m.owner == vm.addr(provider()) && m.stake == 4_000 ether, "owner and stake");
        require(toUint(market(abi.encodeCall(IGpuMarket.committeeSize, ()))) == 3, "committee of 3");
        IGpuMarket.Round memory r = round();
        require(r.phase == IGpuMarket.RoundPhase.Commit, "commit phase");
        for (uint256 i = 0; i < 3; i++) {
            address a = r.auditors[i];
            bytes32 c = keccak256(abi.encode(MACHINE, a, spec(), measured(CALC_POINT, i), bytes32(i + 1)));
            send(seatKey(a), MARKET, 0, abi.encodeCall(IGpuMarket.commitVerification, (MACHINE, c)));
        }
    }

    /// All committed, so the reveal phase is open: reveal.
    function phase3() external {
        IGpuMarket.Round memory r = round();
        require(r.phase == IGpuMarket.RoundPhase.Reveal, "reveal phase");
        for (uint256 i = 0; i < 3; i++) {
            address a = r.auditors[i];
            send(
                seatKey(a),
                MARKET,
                0,
                abi.encodeCall(
                    IGpuMarket.revealVerification, (MACHINE, spec(), measured(CALC_POINT, i), bytes32(i + 1))
                )
            );
        }
    }

    /// Verified: rent directly (overpaying), extend, rent through the escrow, rent a third GPU.
    function phase4() external {
        IGpuMarket.Machine memory m = machine();
        require(m.status == IGpuMarket.MachineStatus.Online, "online after 3 approving reveals");
        // The table's value, not what the auditors measured (1,000, 1,040 and 970).
        (uint32 tableCp, uint32 tableMem) =
            abi.decode(market(abi.encodeCall(IGpuMarket.gpuModel, (bytes32("RTX 4090")))), (uint32, uint32));
        require(tableCp == CALC_POINT && tableMem == 24, "GPU-model table");
        require(m.calcPoint == CALC_POINT, "verified at the table's calc point");
        require(m.spec.machineKey == vm.addr(machineKey()) && m.openChallenge == 0, "machine key, no challenge");
        require(round().phase == IGpuMarket.RoundPhase.Done, "round done");
        IGpuMarket.NetworkStats memory s = stats();
        require(s.onlineGpus == 4 && s.totalGpus == 4 && s.rentedGpus == 0, "gpu counts");
        require(s.burnRateBps == 3000, "30% burn below 5,000 GPUs");
        uint256 q = quote(1, 50 * UNIT);
        require(q == m.pricePerGpuBlock * 50 * UNIT && q > 0, "quote");
        send(renter(), MARKET, q + 1 ether, abi.encodeCall(IGpuMarket.rent, (MACHINE, 1, 50 * UNIT)));
        send(renter(), MARKET, quote(1, 10 * UNIT), abi.encodeCall(IGpuMarket.extendRental, (1, 10 * UNIT)));
        send(renter(), address(escrow()), q, abi.encodeCall(RentalEscrow.rent, (MACHINE, 1, 50 * UNIT)));
        send(renter(), MARKET, q, abi.encodeCall(IGpuMarket.rent, (MACHINE, 1, 50 * UNIT)));
    }

    /// Three rentals are active: end #1 early directly and #2 through the escrow; report #3.
    function phase5() external {
        uint256 q = quote(1, 50 * UNIT);
        IGpuMarket.Rental memory r1 = rental(1);
        require(r1.status == IGpuMarket.RentalStatus.Active && r1.renter == vm.addr(renter()), "rental 1");
        require(r1.paid == q + quote(1, 10 * UNIT) && r1.end - r1.start == 60 * UNIT, "rental 1 extended");
        require(r1.burnBps == 3000, "burn fixed at 30%");
        IGpuMarket.Rental memory r2 = rental(2);
        require(r2.renter == address(escrow()) && r2.paid == q, "escrow is the renter of #2");
        require(r2.beneficiary == vm.addr(renter()), "its client is the beneficiary");
        require(rental(1).beneficiary == vm.addr(renter()), "a direct renter is its own beneficiary");
        address client = abi.decode(viewCall(address(escrow()), abi.encodeWithSelector(escrow().clientOf.selector, uint256(2))), (address));
        require(client == vm.addr(renter()), "escrow knows its client");
        require(rental(3).status == IGpuMarket.RentalStatus.Active, "rental 3");
        require(machine().rentedGpus == 3 && stats().rentedGpus == 3, "3 GPUs rented");
        // The 1 DBC overpaid was refunded to the renter, not kept by the market.
        send(renter(), MARKET, 0, abi.encodeCall(IGpuMarket.endRental, (1)));
        send(renter(), address(escrow()), 0, abi.encodeCall(RentalEscrow.end, (2)));
        send(renter(), MARKET, 100 ether, abi.encodeCall(IGpuMarket.reportFault, (3)));
    }

    /// Ended rentals paid the provider and burned 30% of the used rent; the report's auditors
    /// were drawn: two say faulty, one says sound.
    function phase6() external {
        IGpuMarket.Rental memory r1 = rental(1);
        IGpuMarket.Rental memory r2 = rental(2);
        require(r1.status == IGpuMarket.RentalStatus.Ended && r2.status == IGpuMarket.RentalStatus.Ended, "ended");
        require(r1.refunded > 0 && r2.refunded > 0, "pro-rata refunds");
        // The market paid the escrow's client directly: the escrow holds nothing (L9).
        require(balanceAt(address(escrow()), "latest") == 0, "escrow holds nothing");
        uint256 used1 = r1.paid - r1.refunded;
        uint256 used2 = r2.paid - r2.refunded;
        require(r1.burned == used1 * 3000 / 10000 && r2.burned == used2 * 3000 / 10000, "30% of used rent burned");
        IGpuMarket.NetworkStats memory s = stats();
        require(s.totalBurned == r1.burned + r2.burned, "total burned");
        require(s.rentedGpus == 1, "one GPU still rented");
        // Provider: paid exactly the unburned used rent (it sent no transaction meanwhile).
        uint64 first = r1.end < r2.end ? r1.end : r2.end;
        uint256 before = balanceAt(vm.addr(provider()), hexQ(first - 1));
        uint256 afterBoth = balanceAt(vm.addr(provider()), "latest");
        require(afterBoth - before == (used1 - r1.burned) + (used2 - r2.burned), "provider paid");
        IGpuMarket.Report memory rep = report(1);
        require(rep.rentalId == 3 && rep.machineId == MACHINE, "report 1 of rental 3");
        require(rep.deposit == 100 ether && rep.outcome == 0, "report 1 pending");
        require(rep.round.phase == IGpuMarket.RoundPhase.Commit, "report auditors drawn");
        for (uint256 i = 0; i < 3; i++) {
            address a = rep.round.auditors[i];
            bytes32 c = keccak256(abi.encode(uint256(1), a, i < 2, bytes32(i + 7)));
            send(seatKey(a), MARKET, 0, abi.encodeCall(IGpuMarket.commitReport, (1, c)));
        }
    }

    function phase7() external {
        IGpuMarket.Report memory rep = report(1);
        require(rep.round.phase == IGpuMarket.RoundPhase.Reveal, "report reveal phase");
        for (uint256 i = 0; i < 3; i++) {
            address a = rep.round.auditors[i];
            send(seatKey(a), MARKET, 0, abi.encodeCall(IGpuMarket.revealReport, (1, i < 2, bytes32(i + 7))));
        }
    }

    /// Fault confirmed: every active rental (#3) ended with a refund, the machine is offline as
    /// unreachable and was slashed the first unreachable tier (4%) at once. The provider tops up
    /// its stake and relays a heartbeat signed by the machine key (the rest of the tier its
    /// offline time reached is taken on return), then claims.
    function phase8() external {
        IGpuMarket.Report memory rep = report(1);
        require(rep.outcome == 1, "fault confirmed");
        require(rental(3).status == IGpuMarket.RentalStatus.Ended, "rental 3 ended");
        IGpuMarket.Machine memory m = machine();
        require(m.status == IGpuMarket.MachineStatus.Offline, "offline");
        require(m.offlineReason == IGpuMarket.OfflineReason.Unreachable, "unreachable");
        require(m.rentedGpus == 0 && stats().rentedGpus == 0, "every rental ended");
        require(m.stake == 4_000 ether - 4_000 ether * 400 / 10000, "slashed 4% at once");
        // The dissenting auditor lost 10% of its committee stake.
        address dissent = rep.round.auditors[2];
        uint256 st = abi.decode(market(abi.encodeCall(IGpuMarket.auditorStake, (dissent))), (uint256));
        require(st == 900 ether, "minority auditor penalised");
        // Draws skip members below the minimum stake: it tops up (the re-verification below
        // needs all three).
        send(seatKey(dissent), MARKET, 100 ether, abi.encodeCall(IGpuMarket.addAuditorStake, ()));
        send(provider(), MARKET, 400 ether, abi.encodeCall(IGpuMarket.addStake, (MACHINE)));
        heartbeat(provider(), machineKey(), MACHINE);
        send(provider(), MARKET, 0, abi.encodeCall(IGpuMarket.claimRewards, ()));
    }

    /// Auditors found the machine failing, so its return (top-up and signed heartbeat) opened
    /// a new verification instead of bringing it online; the drawn auditors commit again.
    function phase9() external {
        IGpuMarket.Machine memory m = machine();
        require(m.status == IGpuMarket.MachineStatus.Verifying, "verified again before it serves");
        IGpuMarket.Round memory r = round();
        require(r.phase == IGpuMarket.RoundPhase.Commit && r.attempt == 1, "a new round");
        for (uint256 i = 0; i < 3; i++) {
            address a = r.auditors[i];
            bytes32 c = keccak256(abi.encode(MACHINE, a, spec(), measured(CALC_POINT, i), bytes32(i + 1)));
            send(seatKey(a), MARKET, 0, abi.encodeCall(IGpuMarket.commitVerification, (MACHINE, c)));
        }
    }

    /// Verified again (phase 3's reveals), back online after the graduated slash; rewards
    /// claimed, the rest vesting.
    function phase10() external {
        IGpuMarket.Machine memory m = machine();
        require(m.status == IGpuMarket.MachineStatus.Online, "online again");
        // 4% of 4,000 when the fault was confirmed; on return the tier its offline time reached
        // less those 4%: nothing within 70 blocks, else 8% - 4% of the topped-up 4,240 (the
        // driving test waits 70 blocks before phase 8).
        uint256 atFault = 4_000 ether * 400 / 10000;
        uint256 onReturn = (4_400 ether - atFault) * 400 / 10000;
        require(4_400 ether - m.stake == atFault + onReturn, "unreachable tier (8%) less the 4% taken");
        IGpuMarket.Rewards memory r = abi.decode(
            market(abi.encodeCall(IGpuMarket.rewardsOf, (vm.addr(provider())))), (IGpuMarket.Rewards)
        );
        require(r.claimed > 0, "claimed");
        require(r.vesting >= r.claimed * 2, "75% still vesting");
        require(m.totalEarned > 0, "earned");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";
import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {HEVM, Vm} from "../test-utils/Vm.sol";
import {DBC_MARKET, DBC_MINING, DBC_GOVERNANCE, DBC_SYSTEM} from "../test-utils/DbcAddresses.sol";
import {IMiningGradeHook} from "../test-utils/MockHooks.sol";
import {GpuMarketSol, GpuMarketParams, gpuMarketDevParams} from "../test-utils/GpuMarketSol.sol";
import {GovernanceSol} from "../test-utils/GovernanceSol.sol";
import {Emission} from "../test-utils/common/Emission.sol";

/// A stand-in for project mining at `DBC_MINING`: records the market's grade changes.
contract GradeHookStub is IMiningGradeHook {
    uint256 public calls;
    bytes32 public lastMachine;
    uint256 public lastGrade;

    function onGradeChange(bytes32 machineId, uint256 grade) external {
        require(msg.sender == DBC_MARKET, "stub: only the market");
        calls += 1;
        lastMachine = machineId;
        lastGrade = grade;
    }
}

/// Runs a call from itself, for delegatecall checks.
contract Delegator {
    function delegate(address target, bytes calldata data) external returns (bool ok, bytes memory out) {
        (ok, out) = target.delegatecall(data);
    }
}

contract GpuMarketSolTest {
    IGpuMarket internal constant M = IGpuMarket(DBC_MARKET);
    GradeHookStub internal constant STUB = GradeHookStub(DBC_MINING);
    /// The treasury: the governance account's balance, counted by source there.
    address internal constant TREASURY = DBC_GOVERNANCE;
    IGovernance internal constant GOV = IGovernance(DBC_GOVERNANCE);

    uint256 internal constant DBC = 1e18;
    uint256 internal constant MACHINE_PK = 0xA11CE5EC12E7;

    address internal provider = address(0x1001);
    address internal renter = address(0x2002);
    address internal stranger = address(0x3003);
    address[4] internal auditors = [address(0xA001), address(0xA002), address(0xA003), address(0xA004)];
    bytes32 internal constant MID = bytes32("machine-1");
    uint256 internal constant T_ENDPOINT = 16; // store.rs

    function setUp() public {
        HEVM.etch(DBC_MARKET, type(GpuMarketSol).runtimeCode);
        GpuMarketSol(payable(DBC_MARKET)).initDev();
        HEVM.etch(DBC_MINING, type(GradeHookStub).runtimeCode);
        HEVM.etch(DBC_GOVERNANCE, type(GovernanceSol).runtimeCode);
        HEVM.roll(10);
        HEVM.prevrandao(bytes32(uint256(0x5eed)));
        HEVM.deal(provider, 1_000_000 * DBC);
        HEVM.deal(renter, 1_000_000 * DBC);
        HEVM.deal(stranger, 1_000_000 * DBC);
        for (uint256 i; i < 4; i++) {
            HEVM.deal(auditors[i], 1_000_000 * DBC);
        }
    }

    // =========================================================================================
    // helpers

    function _spec(uint32 gpus) internal pure returns (IGpuMarket.MachineSpec memory s) {
        s.gpuModel = bytes32("RTX 4090");
        s.gpuCount = gpus;
        s.gpuMemoryGb = 24;
        s.cpuCores = 32;
        s.ramGb = 128;
        s.diskGb = 2_000;
        s.region = bytes32("eu-west");
        s.machineKey = HEVM.addr(MACHINE_PK);
    }

    /// The block hook at the end of the current block, then the next block.
    function _next() internal {
        _hook(0);
        HEVM.roll(block.number + 1);
    }

    function _hook(uint256 fees) internal {
        HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
        (bool ok, bytes memory out) = DBC_MARKET.call(abi.encodeWithSignature("onBlock(uint256)", fees));
        require(ok, "hook reverted");
        require(out.length == 0, "hook returned data");
    }

    /// Ends blocks up to (not including) `target`, running the hook only where
    /// `nextHookBlock()` says it does something.
    function _skipTo(uint256 target) internal {
        _hook(0);
        while (true) {
            uint64 nb = GpuMarketSol(payable(DBC_MARKET)).nextHookBlock();
            if (nb >= target) break;
            HEVM.roll(nb);
            _hook(0);
        }
        HEVM.roll(target);
    }

    function _join(uint256 n) internal {
        for (uint256 i; i < n; i++) {
            HEVM.prank(auditors[i], auditors[i]);
            M.joinCommittee{value: 10_000 * DBC}();
        }
    }

    function _register(bytes32 id, uint32 gpus) internal {
        HEVM.prank(provider, provider);
        M.register{value: 1_000 * DBC * gpus}(id, _spec(gpus));
    }

    function _commitment(bytes32 id, address a, IGpuMarket.MachineSpec memory s, uint32 cp, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(id, a, s, cp, salt));
    }

    /// Registers `id` and verifies it with the drawn auditors (all approving); returns when
    /// it is online, in the block after the draw.
    function _online(bytes32 id, uint32 gpus) internal returns (address[3] memory drawn) {
        _register(id, gpus);
        uint256 drawAt = block.number + 2;
        while (block.number < drawAt) _next();
        _next(); // the draw runs in the hook of block drawAt
        IGpuMarket.Round memory r = M.getRound(id);
        require(r.phase == IGpuMarket.RoundPhase.Commit, "not in commit phase");
        drawn = r.auditors;
        for (uint256 i; i < 3; i++) {
            HEVM.prank(drawn[i], drawn[i]);
            M.commitVerification(id, _commitment(id, drawn[i], _spec(gpus), 1_000, bytes32(i + 1)));
        }
        for (uint256 i; i < 3; i++) {
            HEVM.prank(drawn[i], drawn[i]);
            M.revealVerification(id, _spec(gpus), 1_000, bytes32(i + 1));
        }
        require(M.getMachine(id).status == IGpuMarket.MachineStatus.Online, "not online");
    }

    function _sign(bytes32 id, uint64 number) internal view returns (bytes memory) {
        bytes32 digest = M.heartbeatDigest(id, number);
        (uint8 v, bytes32 r, bytes32 s) = HEVM.sign(MACHINE_PK, digest);
        return abi.encodePacked(r, s, v);
    }

    function _heartbeat(bytes32 id) internal {
        uint64 number = uint64(block.number - 1);
        bytes memory sig = _sign(id, number);
        HEVM.prank(stranger, stranger);
        M.heartbeat(id, number, sig);
    }

    function _expectRevert(bytes memory err) internal {
        HEVM.expectRevert(err);
    }

    /// The draw the market makes for round `key`: recomputed from the rules (`draw`).
    function _expectedDraw(bytes32 key, address exclude, uint256 snapshot) internal view returns (address[3] memory p) {
        bytes32 seed = keccak256(abi.encodePacked(block.prevrandao, block.number));
        uint256 cap = 4 * 10_000 * DBC;
        uint256 n;
        for (uint64 i; i < 256 && n < 3; i++) {
            bytes32 h = keccak256(abi.encodePacked(seed, key, i));
            address a = auditors[uint256(h) % snapshot];
            if (a == exclude || a == p[0] || a == p[1]) continue;
            uint256 stake = M.auditorStake(a);
            if (stake < 10_000 * DBC) continue;
            if (uint256(keccak256(abi.encodePacked(h, "weight"))) % cap >= (stake < cap ? stake : cap)) continue;
            p[n++] = a;
        }
    }

    /// Index of the only `TreasuryReceived` in `logs` (required: exactly one), checked to come
    /// from the governance account with `source`, `from` and `amount`.
    function _treasuryLog(Vm.Log[] memory logs, uint8 source, address from, uint256 amount)
        internal
        pure
        returns (uint256 at)
    {
        require(_countLogs(logs, IGovernance.TreasuryReceived.selector) == 1, "one TreasuryReceived");
        while (logs[at].topics.length == 0 || logs[at].topics[0] != IGovernance.TreasuryReceived.selector) at++;
        Vm.Log memory l = logs[at];
        require(l.emitter == DBC_GOVERNANCE, "TreasuryReceived from 0x0D04");
        require(l.topics.length == 3 && l.topics[1] == bytes32(uint256(source)), "TreasuryReceived source");
        require(l.topics[2] == bytes32(uint256(uint160(from))), "TreasuryReceived from");
        require(abi.decode(l.data, (uint256)) == amount, "TreasuryReceived amount");
    }

    function _countLogs(Vm.Log[] memory logs, bytes32 topic0) internal pure returns (uint256 n) {
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].topics.length > 0 && logs[i].topics[0] == topic0) n++;
        }
    }

    // =========================================================================================
    // committee

    function test_joinAndLeaveCommittee() public {
        HEVM.recordLogs();
        HEVM.prank(auditors[0], auditors[0]);
        M.joinCommittee{value: 12_000 * DBC}();
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1, "one log");
        require(logs[0].emitter == DBC_MARKET, "emitter");
        require(logs[0].topics[0] == IGpuMarket.AuditorJoined.selector, "AuditorJoined");
        require(logs[0].topics[1] == bytes32(uint256(uint160(auditors[0]))), "indexed auditor");
        require(abi.decode(logs[0].data, (uint256)) == 12_000 * DBC, "stake in event");
        require(M.isAuditor(auditors[0]) && M.committeeSize() == 1, "member");
        require(M.auditorStake(auditors[0]) == 12_000 * DBC, "stake");

        HEVM.prank(auditors[0], auditors[0]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.AlreadyAuditor.selector));
        M.joinCommittee{value: 10_000 * DBC}();
        HEVM.prank(auditors[1], auditors[1]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.WrongStake.selector, 10_000 * DBC, 9_999 * DBC));
        M.joinCommittee{value: 9_999 * DBC}();
        HEVM.prank(auditors[1], auditors[1]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotAuditor.selector));
        M.leaveCommittee();
        HEVM.prank(auditors[1], auditors[1]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotAuditor.selector));
        M.addAuditorStake{value: 1}();
        HEVM.prank(auditors[0], auditors[0]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.WrongStake.selector, 1, 0));
        M.addAuditorStake();

        HEVM.prank(auditors[0], auditors[0]);
        M.addAuditorStake{value: 1 * DBC}();
        require(M.auditorStake(auditors[0]) == 12_001 * DBC, "topped up");

        uint256 before = auditors[0].balance;
        uint256 marketBefore = DBC_MARKET.balance;
        HEVM.prank(auditors[0], auditors[0]);
        M.leaveCommittee();
        require(auditors[0].balance == before + 12_001 * DBC, "stake returned");
        require(DBC_MARKET.balance == marketBefore - 12_001 * DBC, "paid out of the market");
        require(!M.isAuditor(auditors[0]) && M.committeeSize() == 0, "left");
    }

    // =========================================================================================
    // machines

    function test_registerMachine() public {
        HEVM.recordLogs();
        _register(MID, 2);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].topics[0] == IGpuMarket.MachineRegistered.selector, "event");
        require(logs[0].topics[1] == MID && logs[0].topics[2] == bytes32(uint256(uint160(provider))), "topics");
        (uint32 gpuCount, uint256 stake) = abi.decode(logs[0].data, (uint32, uint256));
        require(gpuCount == 2 && stake == 2_000 * DBC, "event data");

        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.owner == provider && m.status == IGpuMarket.MachineStatus.Verifying, "machine");
        require(m.spec.machineKey == HEVM.addr(MACHINE_PK) && m.spec.gpuCount == 2, "spec");
        require(m.stake == 2_000 * DBC && m.registeredAt == 10 && m.pricePerGpuBlock == 0, "fields");
        require(M.machineCount() == 1 && M.machineIdAt(0) == MID, "index");
        IGpuMarket.Round memory r = M.getRound(MID);
        require(r.phase == IGpuMarket.RoundPhase.Drawing && r.attempt == 1 && r.drawAt == 12, "round");
        require(M.networkStats().totalGpus == 2, "total gpus");
        bytes32[] memory owned = GpuMarketSol(payable(DBC_MARKET)).ownerMachines(provider);
        require(owned.length == 1 && owned[0] == MID, "owner machines");
        require(GpuMarketSol(payable(DBC_MARKET)).nextHookBlock() == 12, "next hook at the draw");

        IGpuMarket.MachineSpec memory s = _spec(1);
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.MachineExists.selector, MID));
        M.register{value: 1_000 * DBC}(MID, s);
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.WrongStake.selector, 1_000 * DBC, 999 * DBC));
        M.register{value: 999 * DBC}(bytes32("m2"), s);
        s.gpuModel = bytes32("GTX 1080");
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownGpuModel.selector, bytes32("GTX 1080")));
        M.register{value: 1_000 * DBC}(bytes32("m2"), s);
        s = _spec(1);
        s.gpuMemoryGb = 16;
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.InvalidSpec.selector));
        M.register{value: 1_000 * DBC}(bytes32("m2"), s);
        s = _spec(1);
        s.machineKey = address(0);
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.InvalidSpec.selector));
        M.register{value: 1_000 * DBC}(bytes32("m2"), s);
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotMachineOwner.selector, MID));
        M.setPrice(MID, 1);
    }

    /// The node's `the_owner_publishes_a_bounded_printable_endpoint`: only the owner, at most
    /// 128 bytes of printable ASCII without spaces, stored in 32-byte chunks (a shorter one
    /// leaves nothing of a longer one behind), `""` clears.
    function test_theOwnerPublishesABoundedPrintableEndpoint() public {
        _join(3);
        _register(MID, 1);
        require(bytes(M.endpointOf(MID)).length == 0, "none yet");
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotMachineOwner.selector, MID));
        M.setEndpoint(MID, "http://198.51.100.1:7070");
        string[5] memory bad = ["http://a b", "http://a\n", unicode"http://ü", string(_repeat("x", 129)), "http://\x7f"];
        for (uint256 i; i < bad.length; i++) {
            HEVM.prank(provider, provider);
            _expectRevert(abi.encodeWithSelector(IGpuMarket.InvalidEndpoint.selector));
            M.setEndpoint(MID, bad[i]);
        }
        // A stranger's invalid endpoint is refused for the owner check first.
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotMachineOwner.selector, MID));
        M.setEndpoint(MID, "http://a b");

        // 128 bytes (four chunks), then a shorter one: no byte of the longer one is left behind.
        string memory long = string.concat("http://", string(_repeat("a", 121)));
        require(bytes(long).length == 128, "128 bytes");
        HEVM.prank(provider, provider);
        M.setEndpoint(MID, long);
        require(keccak256(bytes(M.endpointOf(MID))) == keccak256(bytes(long)), "long reads back");
        require(uint256(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, 0))) == 128, "length slot");
        require(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, 4)) == bytes32(bytes(_repeat("a", 32))), "4th chunk");

        string memory ep = "http://198.51.100.1:7070";
        HEVM.recordLogs();
        HEVM.prank(provider, provider);
        M.setEndpoint(MID, ep);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].emitter == DBC_MARKET, "one log");
        require(logs[0].topics.length == 2 && logs[0].topics[0] == IGpuMarket.EndpointSet.selector, "EndpointSet");
        require(logs[0].topics[1] == MID, "indexed machine");
        require(keccak256(logs[0].data) == keccak256(abi.encode(ep)), "event data");
        require(keccak256(bytes(M.endpointOf(MID))) == keccak256(bytes(ep)), "short reads back");
        // The node's layout: length, then left-aligned zero-padded chunks; the rest cleared.
        require(uint256(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, 0))) == 24, "length");
        require(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, 1)) == bytes32(bytes(ep)), "1st chunk");
        for (uint256 i = 2; i <= 4; i++) {
            require(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, i)) == 0, "longer one cleared");
        }
        // The raw return data: one ABI string, zero-padded.
        (bool ok, bytes memory out) = DBC_MARKET.staticcall(abi.encodeCall(IGpuMarket.endpointOf, (MID)));
        require(ok && keccak256(out) == keccak256(abi.encode(ep)), "return data");

        HEVM.prank(provider, provider);
        M.setEndpoint(MID, "");
        require(bytes(M.endpointOf(MID)).length == 0, "cleared");
        require(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, 0)) == 0, "length cleared");
        require(HEVM.load(DBC_MARKET, _slotOf(T_ENDPOINT, MID, 1)) == 0, "chunk cleared");

        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownMachine.selector, bytes32("m9")));
        M.endpointOf(bytes32("m9"));
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownMachine.selector, bytes32("m9")));
        M.setEndpoint(bytes32("m9"), "http://198.51.100.1:7070");
    }

    /// `setEndpoint` is a non-payable write, `endpointOf` a non-payable view.
    function test_endpointCallChecks() public {
        _register(MID, 1);
        (bool ok, bytes memory out) =
            DBC_MARKET.call{value: 1}(abi.encodeCall(IGpuMarket.setEndpoint, (MID, "http://a")));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.NotPayable.selector)), "not payable");
        (ok, out) = DBC_MARKET.call{value: 1}(abi.encodeCall(IGpuMarket.endpointOf, (MID)));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.NotPayable.selector)), "view not payable");
        (ok, out) = DBC_MARKET.staticcall(abi.encodeCall(IGpuMarket.setEndpoint, (MID, "http://a")));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.StaticCallWrite.selector)), "static");
        (ok, out) = DBC_MARKET.staticcall(abi.encodeCall(IGpuMarket.endpointOf, (MID)));
        require(ok && keccak256(out) == keccak256(abi.encode("")), "static view");
    }

    /// `n` copies of the byte `c`.
    function _repeat(bytes1 c, uint256 n) internal pure returns (bytes memory b) {
        b = new bytes(n);
        for (uint256 i; i < n; i++) {
            b[i] = c;
        }
    }

    // =========================================================================================
    // the auditor draw in the block hook, and commit–reveal verification

    function test_drawAndVerification() public {
        _join(4);
        _register(MID, 1);
        _next(); // 10
        _next(); // 11
        uint256 snapshot = 4;
        address[3] memory expected = _expectedDraw(MID, provider, snapshot);
        require(GpuMarketSol(payable(DBC_MARKET)).nextHookBlock() == 12, "draw due now");
        _hook(0); // 12: the draw
        IGpuMarket.Round memory r = M.getRound(MID);
        require(r.phase == IGpuMarket.RoundPhase.Commit, "commit phase");
        require(r.commitDeadline == 612, "commit deadline");
        for (uint256 i; i < 3; i++) {
            require(r.auditors[i] == expected[i], "drawn auditors differ from the rules");
            require(r.auditors[i] != provider && r.auditors[i] != address(0), "auditor");
        }
        HEVM.roll(13);
        address outsider;
        for (uint256 i; i < 4; i++) {
            if (auditors[i] != r.auditors[0] && auditors[i] != r.auditors[1] && auditors[i] != r.auditors[2]) {
                outsider = auditors[i];
            }
        }
        // An auditor busy with a round cannot leave.
        HEVM.prank(r.auditors[0], r.auditors[0]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.AuditorBusy.selector, uint32(1)));
        M.leaveCommittee();

        IGpuMarket.MachineSpec memory s = _spec(1);
        HEVM.prank(outsider, outsider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotAssigned.selector));
        M.commitVerification(MID, bytes32(uint256(1)));
        HEVM.prank(r.auditors[0], r.auditors[0]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.CommitmentMismatch.selector));
        M.commitVerification(MID, bytes32(0));
        HEVM.prank(r.auditors[0], r.auditors[0]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.WrongPhase.selector, IGpuMarket.RoundPhase.Commit));
        M.revealVerification(MID, s, 1_000, bytes32(0));

        // Auditor 2 measured a calc point outside the 10% tolerance: its vote rejects.
        uint32[3] memory measured = [uint32(1_000), uint32(950), uint32(800)];
        for (uint256 i; i < 3; i++) {
            HEVM.prank(r.auditors[i], r.auditors[i]);
            M.commitVerification(MID, _commitment(MID, r.auditors[i], s, measured[i], bytes32(i + 7)));
            if (i == 0) {
                HEVM.prank(r.auditors[0], r.auditors[0]);
                _expectRevert(abi.encodeWithSelector(IGpuMarket.AlreadyCommitted.selector));
                M.commitVerification(MID, bytes32(uint256(5)));
            }
        }
        r = M.getRound(MID);
        require(r.phase == IGpuMarket.RoundPhase.Reveal && r.revealDeadline == 613, "reveal phase");
        // A reveal that does not match the commitment.
        HEVM.prank(r.auditors[0], r.auditors[0]);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.CommitmentMismatch.selector));
        M.revealVerification(MID, s, 999, bytes32(uint256(7)));

        uint256 penalised = M.auditorStake(r.auditors[2]);
        uint256 treasuryBefore = TREASURY.balance;
        HEVM.recordLogs();
        for (uint256 i; i < 3; i++) {
            HEVM.prank(r.auditors[i], r.auditors[i]);
            M.revealVerification(MID, s, measured[i], bytes32(i + 7));
        }
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        // 3 VerificationRevealed, AuditorPenalized (the minority), MachineVerified.
        require(_countLogs(logs, IGpuMarket.VerificationRevealed.selector) == 3, "reveals");
        require(_countLogs(logs, IGpuMarket.AuditorPenalized.selector) == 1, "penalty");
        require(logs[logs.length - 1].topics[0] == IGpuMarket.MachineVerified.selector, "verified last");
        (uint32 cp, uint256 price) = abi.decode(logs[logs.length - 1].data, (uint32, uint256));
        require(cp == 1_000 && price == DBC / 100, "table calc point, standard price");
        require(M.auditorStake(r.auditors[2]) == penalised - penalised / 10, "10% penalty");
        require(TREASURY.balance == treasuryBefore + penalised / 10, "penalty to the treasury");
        // Logged from the treasury's account where the penalty is paid: just before AuditorPenalized.
        uint256 at = _treasuryLog(logs, 2, r.auditors[2], penalised / 10);
        require(logs[at + 1].topics[0] == IGpuMarket.AuditorPenalized.selector, "then AuditorPenalized");
        require(GOV.treasuryReceived(2) == penalised / 10, "counted as an auditor penalty");
        require(GOV.treasury().received == penalised / 10 && GOV.treasuryReceived(1) == 0, "nothing else");

        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.status == IGpuMarket.MachineStatus.Online && m.calcPoint == 1_000, "online");
        require(m.onlineSince == 13 && m.lastHeartbeat == 13, "since");
        require(M.getRound(MID).phase == IGpuMarket.RoundPhase.Done, "done");
        require(M.networkStats().onlineGpus == 1, "online gpus");
        // Project mining heard of the grade change: calc point × GPUs × 10,000.
        require(STUB.calls() == 1 && STUB.lastMachine() == MID && STUB.lastGrade() == 10_000_000, "mining hook");
        require(GpuMarketSol(payable(DBC_MARKET)).machineGrade(MID) == 10_000_000, "machine grade");
        // Next work: the heartbeat check 100 blocks on.
        require(GpuMarketSol(payable(DBC_MARKET)).nextHookBlock() == 113, "next hook at the heartbeat check");
    }

    /// Two auditors that do not reveal: no majority, penalties, a new draw (attempt 2).
    function test_verificationReassigned() public {
        _join(4);
        _register(MID, 1);
        _next();
        _next();
        _hook(0);
        IGpuMarket.Round memory r = M.getRound(MID);
        HEVM.roll(13);
        IGpuMarket.MachineSpec memory s = _spec(1);
        for (uint256 i; i < 3; i++) {
            HEVM.prank(r.auditors[i], r.auditors[i]);
            M.commitVerification(MID, _commitment(MID, r.auditors[i], s, 1_000, bytes32(0)));
        }
        HEVM.prank(r.auditors[0], r.auditors[0]);
        M.revealVerification(MID, s, 1_000, bytes32(0));
        _skipTo(614); // the reveal deadline (613) passes in the hook
        address revealer = r.auditors[0];
        r = M.getRound(MID);
        require(r.phase == IGpuMarket.RoundPhase.Drawing && r.attempt == 2 && r.drawAt == 615, "redraw");
        // The two who did not reveal lost 10% of their stake: below the minimum, they are not
        // drawn, so 3 cannot be found and the draw is retried 2 blocks later.
        require(M.auditorStake(revealer) == 10_000 * DBC, "revealer kept its stake");
        _skipTo(616);
        r = M.getRound(MID);
        require(r.phase == IGpuMarket.RoundPhase.Drawing && r.drawAt == 617, "too few eligible: retried");
        for (uint256 i; i < 4; i++) {
            uint256 stake = M.auditorStake(auditors[i]);
            if (stake < 10_000 * DBC) {
                HEVM.prank(auditors[i], auditors[i]);
                M.addAuditorStake{value: 10_000 * DBC - stake}();
            }
        }
        _skipTo(618);
        r = M.getRound(MID);
        require(r.phase == IGpuMarket.RoundPhase.Commit && r.attempt == 2 && r.commitDeadline == 1_217, "drawn again");
    }

    // =========================================================================================
    // renting, burn tiers, extensions, refunds

    function test_rentWithBurnTier() public {
        _join(4);
        _online(MID, 2);
        require(M.burnRateBps() == 3_000, "tier 1: 30%");
        require(M.burnRateBpsFor(5_001) == 7_000 && M.burnRateBpsFor(10_000) == 10_000, "tiers");
        uint256 cost = M.quote(MID, 1, 600);
        require(cost == (DBC / 100) * 600, "quote");

        uint256 renterBefore = renter.balance;
        uint256 marketBefore = DBC_MARKET.balance;
        HEVM.recordLogs();
        HEVM.prank(renter, renter);
        uint256 id = M.rent{value: cost + 5 * DBC}(MID, 1, 600);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(id == 1 && M.rentalCount() == 1, "rental id");
        require(renter.balance == renterBefore - cost, "excess refunded");
        require(DBC_MARKET.balance == marketBefore + cost, "rent held");
        require(logs[logs.length - 1].topics[0] == IGpuMarket.Rented.selector, "Rented");
        (uint32 gpus, uint64 start, uint64 end, uint256 paid, uint16 burnBps) =
            abi.decode(logs[logs.length - 1].data, (uint32, uint64, uint64, uint256, uint16));
        require(gpus == 1 && start == block.number && end == block.number + 600, "rented span");
        require(paid == cost && burnBps == 3_000, "rented paid/burn");
        require(M.getMachine(MID).rentedGpus == 1, "rented gpus");

        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.OwnMachine.selector, MID));
        M.rent{value: cost}(MID, 1, 600);
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.InvalidDuration.selector, uint64(301), uint64(300), uint64(864_000)));
        M.rent{value: cost}(MID, 1, 301);
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotEnoughGpus.selector, uint32(2), uint32(1)));
        M.rent{value: cost * 2}(MID, 2, 600);
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.InsufficientPayment.selector, cost, cost - 1));
        M.rent{value: cost - 1}(MID, 1, 600);

        // The rental ends in the hook of its end block: 30% of the rent burned, 70% to the
        // provider (no refund, no rewards bonus beyond what the burn covers).
        uint64 endBlock = end;
        uint256 providerBefore = provider.balance;
        for (uint256 b = block.number; b < endBlock; b += 50) {
            HEVM.roll(b);
            _heartbeat(MID);
            _hook(0);
        }
        HEVM.roll(endBlock);
        marketBefore = DBC_MARKET.balance;
        IGpuMarket.Rewards memory before = M.rewardsOf(provider);
        before;
        _hook(0);
        IGpuMarket.Rental memory rr = M.getRental(id);
        require(rr.status == IGpuMarket.RentalStatus.Ended && rr.refunded == 0, "ended");
        require(rr.burned == cost * 3_000 / 10_000, "burned 30%");
        require(provider.balance == providerBefore + cost - rr.burned, "provider got 70%");
        require(DBC_MARKET.balance == marketBefore - cost, "rent left the market");
        IGpuMarket.NetworkStats memory st = M.networkStats();
        require(st.totalBurned == rr.burned && st.rentedGpus == 0, "stats");
    }

    function test_extendAndEndEarly() public {
        _join(4);
        _online(MID, 1);
        uint256 rate = DBC / 100;
        HEVM.prank(renter, renter);
        uint256 id = M.rentFor{value: rate * 300}(MID, 1, 300, stranger);
        require(M.getRental(id).beneficiary == stranger, "beneficiary");
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NotRenter.selector, id));
        M.extendRental{value: rate * 300}(id, 300);
        // The owner doubles the price; the extension is a segment at the new price.
        HEVM.prank(provider, provider);
        M.setPrice(MID, rate * 2);
        HEVM.prank(renter, renter);
        M.extendRental{value: rate * 2 * 300 + 1}(id, 300);
        IGpuMarket.Rental memory r = M.getRental(id);
        require(r.end == r.start + 600 && r.paid == rate * 300 + rate * 2 * 300, "extended");
        _next();
        _next();
        // Two blocks used of the first segment: refund 298 blocks at the first price and the
        // whole second segment at its price, to the beneficiary.
        uint256 before = stranger.balance;
        HEVM.prank(renter, renter);
        M.endRental(id);
        r = M.getRental(id);
        uint256 refund = rate * 298 + rate * 2 * 300;
        require(r.refunded == refund && stranger.balance == before + refund, "segment refund");
        require(r.burned == (rate * 2) * 3_000 / 10_000, "burn of the used share");
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.RentalNotActive.selector, id));
        M.endRental(id);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownRental.selector, 99));
        M.getRental(99);
    }

    /// The first log with `topic0` (required).
    function _logAt(Vm.Log[] memory logs, bytes32 topic0) internal pure returns (uint256 at) {
        while (at < logs.length && (logs[at].topics.length == 0 || logs[at].topics[0] != topic0)) at++;
        require(at < logs.length, "log missing");
    }

    /// Rents one GPU of `MID` for 300 blocks at 0.01 DBC a block and ends the rental 10 blocks
    /// later (the hook running in between); returns the rental and the logs of `endRental`.
    function _rentTenBlocks() internal returns (IGpuMarket.Rental memory r, Vm.Log[] memory logs) {
        HEVM.prank(renter, renter);
        uint256 id = M.rent{value: (DBC / 100) * 300}(MID, 1, 300);
        for (uint256 i; i < 10; i++) {
            _next();
        }
        HEVM.recordLogs();
        HEVM.prank(renter, renter);
        M.endRental(id);
        logs = HEVM.getRecordedLogs();
        r = M.getRental(id);
    }

    /// At the burn floor a rental burns only the headroom (`GovernanceSol.burnHeadroom`): the
    /// rest of its burn goes to the treasury (source 8, from the market) before anything else,
    /// the provider still gets only the unburned share, and the rented bonus is capped by what
    /// was actually burned. With the block's headroom used up, the next rental burns nothing.
    function test_rentBurnStopsAtTheBurnFloor() public {
        _join(4);
        _online(MID, 1);
        // The governance stand-in (uninitialised: the dev chain's genesis supply and floor) with
        // the supply 0.01 DBC above the floor; 10 blocks of rent burn 30% of 0.1 DBC.
        uint256 headroom = DBC / 100;
        int256 delta = int256(GOV.burnFloor() + headroom) - int256(10_000_000_000 ether);
        HEVM.store(DBC_GOVERNANCE, bytes32(uint256(4)), bytes32(uint256(delta)));
        require(GOV.burnHeadroom() == headroom, "headroom");
        uint256 marketBefore = DBC_MARKET.balance + (DBC / 100) * 300;
        uint256 providerBefore = provider.balance;
        (IGpuMarket.Rental memory r, Vm.Log[] memory logs) = _rentTenBlocks();
        uint256 used = r.paid - r.refunded;
        uint256 target = used * 3_000 / 10_000;
        require(target == 3 * headroom, "30% of 10 blocks");
        require(r.burned == headroom, "the rental records what was burned");
        require(_treasuryLog(logs, 8, DBC_MARKET, target - headroom) == 0, "the excess to the treasury, first");
        {
            (uint256 refunded, uint256 toProvider, uint256 burned) =
                abi.decode(logs[_logAt(logs, IGpuMarket.RentalEnded.selector)].data, (uint256, uint256, uint256));
            require(refunded == r.refunded && toProvider == used - target && burned == headroom, "RentalEnded");
            (uint256 accrued, uint256 paid) =
                abi.decode(logs[_logAt(logs, IGpuMarket.RentedBonusPaid.selector)].data, (uint256, uint256));
            require(accrued > headroom && paid == headroom, "the bonus capped by the actual burn");
            (uint256 amount, uint256 total) =
                abi.decode(logs[_logAt(logs, IGpuMarket.RentBurned.selector)].data, (uint256, uint256));
            require(amount == headroom && total == headroom, "RentBurned");
        }
        require(provider.balance == providerBefore + used - target, "the provider never gets the capped part");
        require(DBC_MARKET.balance == marketBefore - r.paid, "all of the rent left the market");
        require(TREASURY.balance == target - headroom && GOV.treasuryReceived(8) == target - headroom, "treasury");
        require(M.networkStats().totalBurned == headroom, "G_BURNED");
        require(GOV.burnHeadroom() == 0, "headroom used up");
        require(uint256(HEVM.load(DBC_GOVERNANCE, bytes32(uint256(5)))) == headroom, "pending");

        // No governance hook ran since: the next rental burns nothing.
        (r, logs) = _rentTenBlocks();
        require(r.burned == 0 && _countLogs(logs, IGpuMarket.RentBurned.selector) == 0, "nothing burned");
        require(_treasuryLog(logs, 8, DBC_MARKET, 3 * headroom) == 0, "all of the burn to the treasury");
        (uint256 accrued2, uint256 paid2) =
            abi.decode(logs[_logAt(logs, IGpuMarket.RentedBonusPaid.selector)].data, (uint256, uint256));
        require(accrued2 > 0 && paid2 == 0, "no bonus without a burn");
        require(M.networkStats().totalBurned == headroom, "G_BURNED unchanged");
    }

    // =========================================================================================
    // heartbeats

    function test_heartbeats() public {
        _join(4);
        _online(MID, 1);
        _next();
        require(blockhash(block.number - 1) != bytes32(0), "forge block hash");
        uint64 n = uint64(block.number - 1);
        bytes32 digest = keccak256(
            abi.encodePacked("DBC machine heartbeat", DBC_MARKET, MID, n, blockhash(n))
        );
        require(M.heartbeatDigest(MID, n) == digest, "digest");
        require(M.heartbeatDigest(MID, uint64(block.number)) == keccak256(
            abi.encodePacked("DBC machine heartbeat", DBC_MARKET, MID, uint64(block.number), bytes32(0))
        ), "digest of the current block uses a zero hash");

        HEVM.recordLogs();
        _heartbeat(MID);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].topics[0] == IGpuMarket.Heartbeat.selector, "Heartbeat");
        require(M.getMachine(MID).lastHeartbeat == block.number, "last heartbeat");

        // Signed by another key (the owner's) or non-canonically: refused.
        (uint8 v, bytes32 r, bytes32 s) = HEVM.sign(0xB0B, digest);
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.BadHeartbeatSignature.selector));
        M.heartbeat(MID, n, abi.encodePacked(r, s, v));
        (v, r, s) = HEVM.sign(MACHINE_PK, digest);
        bytes32 highS = bytes32(0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141 - uint256(s));
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.BadHeartbeatSignature.selector));
        M.heartbeat(MID, n, abi.encodePacked(r, highS, v == 27 ? uint8(28) : uint8(27)));
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.BadHeartbeatSignature.selector));
        M.heartbeat(MID, n, abi.encodePacked(r, s, v - 27));
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.StaleHeartbeat.selector, uint64(block.number), uint64(64)));
        M.heartbeat(MID, uint64(block.number), abi.encodePacked(r, s, v));

        // Heartbeats keep it online past the timeout; without them it goes offline (idle: not
        // rented, no slash) in the hook of the check.
        uint256 t = block.number + 90;
        _skipTo(t);
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.StaleHeartbeat.selector, uint64(t - 65), uint64(64)));
        M.heartbeat(MID, uint64(t - 65), abi.encodePacked(r, s, v));
        _heartbeat(MID);
        _skipTo(t + 100); // the check at 113 moved to 205 = t + 100, not yet run
        require(M.getMachine(MID).status == IGpuMarket.MachineStatus.Online, "kept online");
        require(GpuMarketSol(payable(DBC_MARKET)).nextHookBlock() == t + 100, "check due");
        _skipTo(t + 101);
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.status == IGpuMarket.MachineStatus.Offline, "offline");
        require(m.offlineReason == IGpuMarket.OfflineReason.Idle && m.offlineSince == t + 100, "idle");
        // Back with a heartbeat: no slash for an idle machine.
        _heartbeat(MID);
        m = M.getMachine(MID);
        require(m.status == IGpuMarket.MachineStatus.Online && m.stake == 1_000 * DBC, "back, unslashed");
    }

    // =========================================================================================
    // rewards: settlement, 25% at once, 75% vesting over 150 days from the next epoch

    struct RewardCase {
        uint256 onlineAt;
        uint256 t;
        uint256 amount;
        uint256 each;
        uint256 immediate;
        uint256 vesting;
        uint256 start;
        uint256 third;
    }

    function _expectRewards(uint256 onlineAt, uint256 t) internal pure returns (RewardCase memory c) {
        GpuMarketParams memory p = gpuMarketDevParams();
        uint256 grade = 1_000 * 1 * 10_000;
        // Era 0 of the default schedule: 400M DBC a year of 5,256,000 blocks.
        uint256 released = (400_000_000 * DBC / 5_256_000) * (t - onlineAt);
        c.onlineAt = onlineAt;
        c.t = t;
        c.amount = grade * (released * 1e18 / grade) / 1e18;
        c.each = (c.amount * 100 / 10_000) / 3;
        uint256 owner = c.amount - c.each * 3;
        c.immediate = owner * 2_500 / 10_000;
        c.vesting = owner - c.immediate;
        c.start = (t / p.epochBlocks + 1) * p.epochBlocks;
        c.third = c.vesting * (p.vestingBlocks / 3) / p.vestingBlocks;
    }

    function test_rewardsSettlementAndVesting() public {
        _join(4);
        address[3] memory verifiers = _online(MID, 1);
        uint256 onlineAt = block.number; // 13
        _skipTo(onlineAt + 50);
        RewardCase memory c = _expectRewards(onlineAt, block.number);
        require(M.pendingReward(MID) == c.amount, "pending");
        IGpuMarket.Rewards memory rw = M.rewardsOf(provider);
        require(rw.claimable == c.immediate && rw.vesting == c.vesting && rw.claimed == 0, "rewardsOf before settling");

        uint256 before = provider.balance;
        HEVM.recordLogs();
        HEVM.prank(provider, provider);
        uint256 got = M.claimRewards();
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(got == c.immediate && provider.balance == before + c.immediate, "25% at once");
        require(logs.length == 2, "RewardSettled, RewardsClaimed");
        require(logs[0].topics[0] == IGpuMarket.RewardSettled.selector, "RewardSettled");
        (uint256 eImm, uint256 eVest, uint256 eAud) = abi.decode(logs[0].data, (uint256, uint256, uint256));
        require(eImm == c.immediate && eVest == c.vesting && eAud == c.each * 3, "settled split");
        require(logs[1].topics[0] == IGpuMarket.RewardsClaimed.selector, "RewardsClaimed");
        for (uint256 i; i < 3; i++) {
            require(M.rewardsOf(verifiers[i]).claimable == c.each, "auditor share");
        }
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.NothingToClaim.selector));
        M.claimRewards();
        // Stop accruing: the owner takes the machine offline (nothing more to settle this block).
        HEVM.prank(provider, provider);
        M.goOffline(MID);
        rw = M.rewardsOf(provider);
        require(rw.claimable == 0 && rw.vesting == c.vesting && rw.claimed == c.immediate, "vesting");

        // The tranche releases linearly over 150 days from the next epoch (block 14,400).
        GpuMarketParams memory p = gpuMarketDevParams();
        _skipTo(c.start + p.vestingBlocks / 3);
        rw = M.rewardsOf(provider);
        require(rw.claimable == c.third && rw.vesting == c.vesting - c.third, "a third vested");
        before = provider.balance;
        HEVM.prank(provider, provider);
        require(M.claimRewards() == c.third && provider.balance == before + c.third, "claim a third");
        _skipTo(c.start + p.vestingBlocks + 1);
        HEVM.prank(provider, provider);
        require(M.claimRewards() == c.vesting - c.third, "claim the rest");
        rw = M.rewardsOf(provider);
        require(rw.claimable == 0 && rw.vesting == 0 && rw.claimed == c.immediate + c.vesting, "all claimed");
        HEVM.prank(verifiers[0], verifiers[0]);
        require(M.claimRewards() == c.each, "auditor claims its share");
    }

    // =========================================================================================
    // slashing

    /// The owner takes a rented machine offline: slashed 2% (under 70 blocks) on its return,
    /// split renter 10%, verifiers 20%, treasury the rest. A stake that the slash takes below
    /// the requirement refuses the return (StakeTooLow), and that revert undoes the slash's
    /// payments.
    function test_ownerOfflineSlash() public {
        _join(4);
        address[3] memory verifiers = _online(MID, 1);
        HEVM.prank(renter, renter);
        M.rent{value: DBC / 100 * 3_000}(MID, 1, 3_000);
        HEVM.prank(provider, provider);
        M.goOffline(MID);
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.offlineReason == IGpuMarket.OfflineReason.OwnerOffline, "owner offline");
        uint256 offlineAt = block.number;
        _skipTo(offlineAt + 10);

        uint256 renterBefore = renter.balance;
        uint256 treasuryBefore = TREASURY.balance;
        bytes memory sig = _sign(MID, uint64(block.number - 1));
        HEVM.prank(stranger, stranger);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.StakeTooLow.selector, 1_000 * DBC, 980 * DBC));
        M.heartbeat(MID, uint64(block.number - 1), sig);
        require(renter.balance == renterBefore && TREASURY.balance == treasuryBefore, "revert undid the payments");
        require(GOV.treasury().received == 0, "and the treasury's count");

        HEVM.prank(provider, provider);
        M.addStake{value: 100 * DBC}(MID);
        HEVM.recordLogs();
        HEVM.prank(stranger, stranger);
        M.heartbeat(MID, uint64(block.number - 1), sig);
        uint256 slashed = 22 * DBC; // 2% of 1,100
        uint256 each = slashed * 2_000 / 10_000 / 3;
        uint256 toTreasury = slashed - slashed / 10 - each * 3;
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        _checkSlashLogs(logs, slashed, slashed / 10, each * 3, toTreasury);
        // Source 1 (machine slash), from the owner, logged where it is paid: just before Slashed.
        uint256 at = _treasuryLog(logs, 1, provider, toTreasury);
        require(logs[at + 1].topics[0] == IGpuMarket.Slashed.selector, "then Slashed");
        require(renter.balance == renterBefore + slashed / 10, "renter's share");
        require(TREASURY.balance == treasuryBefore + toTreasury, "treasury's share");
        require(GOV.treasuryReceived(1) == toTreasury && GOV.treasury().received == toTreasury, "counted");
        require(M.getMachine(MID).stake == 1_100 * DBC - slashed, "stake");
        require(M.rewardsOf(verifiers[1]).claimable >= each, "verifiers' share");
    }

    function _checkSlashLogs(Vm.Log[] memory logs, uint256 slashed, uint256 toRenter, uint256 toAud, uint256 toTr)
        internal
        pure
    {
        bool seen;
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].topics[0] == IGpuMarket.Slashed.selector) {
                (uint256 a, uint256 r, uint256 au, uint256 tr) =
                    abi.decode(logs[i].data, (uint256, uint256, uint256, uint256));
                require(a == slashed && r == toRenter && au == toAud && tr == toTr, "Slashed split");
                seen = true;
            }
        }
        require(seen, "Slashed emitted");
        require(logs[logs.length - 1].topics[0] == IGpuMarket.MachineOnline.selector, "MachineOnline last");
        (uint64 offlineBlocks, uint256 s2) = abi.decode(logs[logs.length - 1].data, (uint64, uint256));
        require(offlineBlocks == 10 && s2 == slashed, "MachineOnline data");
    }

    /// A rented machine that stops sending heartbeats is found unreachable in the hook: its
    /// rental ends with a refund and it is slashed the first unreachable tier (4%) at once.
    function test_unreachableSlash() public {
        _join(4);
        _online(MID, 1);
        uint256 cost = DBC / 100 * 3_000;
        HEVM.prank(renter, renter);
        uint256 id = M.rent{value: cost}(MID, 1, 3_000);
        uint256 rentedAt = block.number;
        uint256 renterBefore = renter.balance;
        uint256 treasuryBefore = TREASURY.balance;
        uint256 providerBefore = provider.balance;
        HEVM.recordLogs();
        _skipTo(114); // the heartbeat check of block 113 runs
        // The hook's logs are dropped (no receipt on the node), the treasury's with them.
        require(HEVM.getRecordedLogs().length == 0, "no hook logs");
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.status == IGpuMarket.MachineStatus.Offline, "offline");
        require(m.offlineReason == IGpuMarket.OfflineReason.Unreachable && m.offlineSince == 113, "unreachable");
        IGpuMarket.Rental memory r = M.getRental(id);
        require(r.status == IGpuMarket.RentalStatus.Ended && r.end == 113, "rental ended");
        uint256 used = 113 - rentedAt;
        uint256 refund = cost * (3_000 - used) / 3_000;
        require(r.refunded == refund, "refund");
        uint256 slashed = 40 * DBC;
        uint256 toRenter = slashed / 10;
        uint256 toTreasury = slashed - toRenter - (slashed * 2_000 / 10_000 / 3) * 3;
        require(renter.balance == renterBefore + refund + toRenter, "renter refund and share");
        require(TREASURY.balance == treasuryBefore + toTreasury, "treasury");
        require(GOV.treasuryReceived(1) == toTreasury && GOV.treasury().received == toTreasury, "counted");
        require(m.stake == 960 * DBC, "stake slashed 4%");
        uint256 burned = (cost - refund) * 3_000 / 10_000;
        require(provider.balance == providerBefore + (cost - refund) - burned, "provider paid the used rent");
    }

    // =========================================================================================
    // fault reports

    function test_faultReportConfirmed() public {
        _join(4);
        _online(MID, 1);
        HEVM.prank(renter, renter);
        uint256 rid = M.rent{value: DBC / 100 * 3_000}(MID, 1, 3_000);
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.WrongStake.selector, 100 * DBC, 1));
        M.reportFault{value: 1}(rid);
        HEVM.prank(renter, renter);
        uint256 rep = M.reportFault{value: 100 * DBC}(rid);
        require(rep == 1, "report id");
        HEVM.prank(renter, renter);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.ReportPending.selector, 1));
        M.reportFault{value: 100 * DBC}(rid);
        _heartbeat(MID);
        _next();
        _next();
        _hook(0); // the report's draw
        IGpuMarket.Report memory r = M.getReport(rep);
        require(r.round.phase == IGpuMarket.RoundPhase.Commit && r.reporter == renter, "report round");
        HEVM.roll(block.number + 1);
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            require(a != provider && a != renter, "excluded");
            HEVM.prank(a, a);
            M.commitReport(rep, keccak256(abi.encode(rep, a, true, bytes32(i))));
        }
        uint256 before = renter.balance;
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.revealReport(rep, true, bytes32(i));
        }
        r = M.getReport(rep);
        require(r.outcome == 1 && r.round.phase == IGpuMarket.RoundPhase.Done, "confirmed");
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.offlineReason == IGpuMarket.OfflineReason.Unreachable, "failed");
        require(M.getRental(rid).status == IGpuMarket.RentalStatus.Ended, "rental ended");
        require(renter.balance > before + 100 * DBC, "deposit back, refund and share");
        // Found failing by auditors: a heartbeat brings it to a new verification.
        HEVM.prank(provider, provider);
        M.addStake{value: 1_000 * DBC}(MID);
        _next();
        _heartbeat(MID);
        require(M.getMachine(MID).status == IGpuMarket.MachineStatus.Verifying, "reverifying");
        _expectRevert(abi.encodeWithSelector(IGpuMarket.ArithmeticOverflow.selector));
        M.getReport(uint256(type(uint64).max) + 1);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownReport.selector, 7));
        M.getReport(7);
    }

    /// A report the auditors find false loses its deposit: 20% to the majority in equal shares,
    /// the rest to the treasury (source 4, from the reporter), paid before `ReportResolved`.
    function test_falseReportLosesItsDeposit() public {
        _join(4);
        _online(MID, 1);
        HEVM.prank(renter, renter);
        uint256 rid = M.rent{value: DBC / 100 * 3_000}(MID, 1, 3_000);
        HEVM.prank(renter, renter);
        uint256 rep = M.reportFault{value: 100 * DBC}(rid);
        _heartbeat(MID);
        _next();
        _next();
        _hook(0); // the report's draw
        IGpuMarket.Report memory r = M.getReport(rep);
        require(r.round.phase == IGpuMarket.RoundPhase.Commit, "report round");
        HEVM.roll(block.number + 1);
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.commitReport(rep, keccak256(abi.encode(rep, a, false, bytes32(i))));
        }
        uint256 renterBefore = renter.balance;
        uint256 treasuryBefore = TREASURY.balance;
        HEVM.recordLogs();
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.revealReport(rep, false, bytes32(i));
        }
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(M.getReport(rep).outcome == 2, "not confirmed");
        uint256 each = 100 * DBC * 2_000 / 10_000 / 3;
        uint256 toTreasury = 100 * DBC - each * 3;
        uint256 at = _treasuryLog(logs, 4, renter, toTreasury);
        require(at == logs.length - 2, "paid just before the resolution");
        require(logs[at + 1].topics[0] == IGpuMarket.ReportResolved.selector, "then ReportResolved");
        require(renter.balance == renterBefore, "the deposit is lost");
        require(TREASURY.balance == treasuryBefore + toTreasury, "the rest to the treasury");
        require(GOV.treasuryReceived(4) == toTreasury && GOV.treasury().received == toTreasury, "counted");
        for (uint256 i; i < 3; i++) {
            require(M.rewardsOf(r.round.auditors[i]).claimable >= each, "the majority's share");
        }
        require(M.getMachine(MID).status == IGpuMarket.MachineStatus.Online, "the machine is untouched");
    }

    // =========================================================================================
    // the reward pool's emission schedule

    /// The machines' reward follows the decaying schedule across eras: era 0 (blocks 1-20)
    /// 1 DBC a block, era 1 half of it, era 2 (the last) the rest of a 50 DBC pool over its 20
    /// blocks (50 − 20 − 10 = 20: 1 DBC a block), nothing after.
    function test_rewardsFollowTheEmissionAcrossEras() public {
        GpuMarketParams memory p = gpuMarketDevParams();
        p.emission = Emission({eraBlocks: 20, initialPerBlock: DBC, flatEras: 1, decayBps: 5_000, endEra: 3});
        p.rewardPool = 50 * DBC;
        _reinstall(p);
        _join(4);
        _online(MID, 1);
        require(block.number == 13, "online at 13");
        // One machine: its grade (10^7) divides the accumulator scale, so no rounding.
        _skipTo(20);
        require(M.pendingReward(MID) == 7 * DBC, "blocks 14-20 of era 0");
        _skipTo(30);
        require(M.pendingReward(MID) == 7 * DBC + 10 * DBC / 2, "then 10 blocks of era 1 at half");
        _skipTo(50);
        require(M.pendingReward(MID) == 17 * DBC + 10 * DBC, "era 2 releases the rest: 1 DBC a block");
        _skipTo(61);
        require(M.pendingReward(MID) == 37 * DBC, "all of era 2");
        _skipTo(90);
        require(M.pendingReward(MID) == 37 * DBC, "nothing after the last era");
        // Settled: the pool's distributed total is what the schedule released since block 13.
        HEVM.prank(provider, provider);
        M.claimRewards();
        require(M.networkStats().rewardPoolRemaining == 13 * DBC, "50 - 37");
        require(M.pendingReward(MID) == 0, "settled");
    }

    // =========================================================================================
    // other genesis parameters: liveness challenges, exit, rejection

    /// A fresh market with `p` (instead of the dev parameters).
    function _reinstall(GpuMarketParams memory p) internal {
        HEVM.etch(DBC_MARKET, type(GpuMarketSol).runtimeCode);
        // A fresh account state for the market: clear the slots `initDev` wrote.
        HEVM.store(DBC_MARKET, keccak256("dbc.GpuMarketSol.initialized"), bytes32(0));
        bytes32 base = keccak256("dbc.GpuMarketSol.params");
        for (uint256 i; i < 64; i++) {
            HEVM.store(DBC_MARKET, bytes32(uint256(base) + i), bytes32(0));
        }
        GpuMarketSol(payable(DBC_MARKET)).init(p);
    }

    /// With `burnTierBasis: registered`, `burnRateBps()` and `networkStats().burnRateBps` both
    /// count registered GPUs (the node's `networkStats` used online GPUs until 2026-12-02).
    function test_burnTierBasisRegistered_inBothViews() public {
        GpuMarketParams memory p = gpuMarketDevParams();
        p.burnTierBasisRegistered = true;
        p.burnTiers[1].fromGpus = 3; // 3 registered GPUs reach the second tier
        _reinstall(p);
        _join(3);
        _register(MID, 4);
        require(M.networkStats().onlineGpus == 0, "not verified yet");
        require(M.burnRateBps() == 7_000, "by registered GPUs");
        require(M.networkStats().burnRateBps == 7_000, "networkStats agrees");
    }

    function _challengeParams() internal pure returns (GpuMarketParams memory p) {
        p = gpuMarketDevParams();
        p.challengeCheckBlocks = 50;
        p.challengeChanceBps = 10_000;
        p.heartbeatTimeoutBlocks = 100_000;
        p.minOnlineBlocks = 60;
    }

    function test_livenessChallengeAndExit() public {
        _reinstall(_challengeParams());
        _join(4);
        _online(MID, 1); // online at 13: the first challenge check at 63
        _skipTo(64);
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.openChallenge == 1, "challenged");
        IGpuMarket.Report memory r = M.getReport(1);
        require(r.reporter == DBC_MARKET && r.rentalId == 0 && r.machineId == MID, "challenge report");
        require(r.round.phase == IGpuMarket.RoundPhase.Drawing && r.round.drawAt == 65, "challenge round");
        _skipTo(66);
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.ChallengePending.selector, 1));
        M.exit(MID);
        r = M.getReport(1);
        require(r.round.phase == IGpuMarket.RoundPhase.Commit, "auditors drawn");
        // The auditors find it serving (not faulty).
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.commitReport(1, keccak256(abi.encode(uint256(1), a, false, bytes32(i))));
        }
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.revealReport(1, false, bytes32(i));
        }
        require(M.getReport(1).outcome == 2 && M.getMachine(MID).openChallenge == 0, "found serving");
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.ExitTooEarly.selector, uint64(73)));
        M.exit(MID);
        _skipTo(73);
        // Exit after the minimum online time returns the stake (settling its rewards first).
        uint256 before = provider.balance;
        HEVM.recordLogs();
        HEVM.prank(provider, provider);
        M.exit(MID);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs[logs.length - 1].topics[0] == IGpuMarket.MachineExited.selector, "MachineExited");
        require(provider.balance == before + 1_000 * DBC, "stake back");
        m = M.getMachine(MID);
        require(m.status == IGpuMarket.MachineStatus.Exited && m.stake == 0, "exited");
        require(M.networkStats().totalGpus == 0 && M.networkStats().onlineGpus == 0, "stats");
        require(STUB.lastGrade() == 0, "grade to 0");
    }

    function test_rejectedMachine() public {
        _join(4);
        _register(MID, 2);
        _next();
        _next();
        _hook(0);
        IGpuMarket.Round memory r = M.getRound(MID);
        HEVM.roll(13);
        IGpuMarket.MachineSpec memory s = _spec(2);
        IGpuMarket.MachineSpec memory wrong = _spec(2);
        wrong.gpuCount = 1; // the hardware found differs from the registered spec
        for (uint256 i; i < 3; i++) {
            HEVM.prank(r.auditors[i], r.auditors[i]);
            M.commitVerification(MID, _commitment(MID, r.auditors[i], i == 0 ? s : wrong, 1_000, bytes32(i)));
        }
        uint256 before = provider.balance;
        uint256 treasuryBefore = TREASURY.balance;
        HEVM.recordLogs();
        for (uint256 i; i < 3; i++) {
            HEVM.prank(r.auditors[i], r.auditors[i]);
            M.revealVerification(MID, i == 0 ? s : wrong, 1_000, bytes32(i));
        }
        // The last reveal: the minority's penalty, then the rejection (slashed part first).
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        uint256 n = logs.length;
        require(logs[n - 1].topics[0] == IGpuMarket.MachineRejected.selector, "MachineRejected last");
        require(logs[n - 2].topics[0] == IGovernance.TreasuryReceived.selector, "the slashed part before it");
        require(logs[n - 2].topics[1] == bytes32(uint256(3)), "source 3");
        require(logs[n - 2].topics[2] == bytes32(uint256(uint160(provider))), "from the owner");
        require(abi.decode(logs[n - 2].data, (uint256)) == 100 * DBC && logs[n - 2].emitter == TREASURY, "5%");
        require(logs[n - 3].topics[0] == IGpuMarket.AuditorPenalized.selector, "penalty");
        require(logs[n - 4].topics[0] == IGovernance.TreasuryReceived.selector, "paid before AuditorPenalized");
        require(logs[n - 4].topics[1] == bytes32(uint256(2)), "source 2");
        require(logs[n - 4].topics[2] == bytes32(uint256(uint160(r.auditors[0]))), "from the auditor");
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.status == IGpuMarket.MachineStatus.Rejected && m.stake == 0, "rejected");
        require(provider.balance == before + 1_900 * DBC, "95% back");
        uint256 penalty = 1_000 * DBC; // the approving minority loses 10% of its stake
        require(TREASURY.balance == treasuryBefore + 100 * DBC + penalty, "5% slashed and the penalty");
        require(GOV.treasuryReceived(3) == 100 * DBC, "a rejected machine's stake: source 3");
        require(GOV.treasuryReceived(2) == penalty, "the penalty: source 2");
        IGovernance.TreasuryInfo memory info = GOV.treasury();
        require(info.received == 100 * DBC + penalty && info.spent == 0, "received");
        require(info.balance == TREASURY.balance && info.available == info.balance, "balance");
        require(M.networkStats().totalGpus == 0, "no longer counted");
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.BadMachineStatus.selector, MID, IGpuMarket.MachineStatus.Rejected));
        M.addStake{value: 1}(MID);
        // The status is checked before the endpoint.
        HEVM.prank(provider, provider);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.BadMachineStatus.selector, MID, IGpuMarket.MachineStatus.Rejected));
        M.setEndpoint(MID, "not an endpoint");
    }

    /// A confirmed fault of a machine with more than 16 active rentals is finished by the next
    /// block's hook (`fail_machine_soon`).
    function test_failureWithManyRentalsFinishesInTheNextHook() public {
        _join(4);
        _online(MID, 20);
        uint256 cost = DBC / 100 * 3_000;
        for (uint256 i; i < 17; i++) {
            HEVM.prank(renter, renter);
            M.rent{value: cost}(MID, 1, 3_000);
        }
        HEVM.prank(renter, renter);
        uint256 rep = M.reportFault{value: 100 * DBC}(5);
        _heartbeat(MID);
        _skipTo(block.number + 3);
        IGpuMarket.Report memory r = M.getReport(rep);
        require(r.round.phase == IGpuMarket.RoundPhase.Commit, "drawn");
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.commitReport(rep, keccak256(abi.encode(rep, a, true, bytes32(i))));
        }
        for (uint256 i; i < 3; i++) {
            address a = r.round.auditors[i];
            HEVM.prank(a, a);
            M.revealReport(rep, true, bytes32(i));
        }
        require(M.getReport(rep).outcome == 1, "confirmed");
        require(M.getMachine(MID).status == IGpuMarket.MachineStatus.Online, "not yet failed");
        require(GpuMarketSol(payable(DBC_MARKET)).nextHookBlock() == block.number + 1, "failure due next block");
        _skipTo(block.number + 2);
        IGpuMarket.Machine memory m = M.getMachine(MID);
        require(m.offlineReason == IGpuMarket.OfflineReason.Unreachable && m.rentedGpus == 0, "failed");
        for (uint256 i = 1; i <= 17; i++) {
            require(M.getRental(i).status == IGpuMarket.RentalStatus.Ended, "every rental ended");
        }
    }

    function test_initValidation() public {
        HEVM.etch(address(0xD0D0), type(GpuMarketSol).runtimeCode);
        HEVM.expectRevert(bytes("GpuMarketSol: install at DBC_MARKET"));
        GpuMarketSol(payable(address(0xD0D0))).initDev();
        HEVM.etch(DBC_MARKET, type(GpuMarketSol).runtimeCode);
        HEVM.store(DBC_MARKET, keccak256("dbc.GpuMarketSol.initialized"), bytes32(0));
        GpuMarketParams memory p = gpuMarketDevParams();
        p.immediateBps = 10_001;
        HEVM.expectRevert(bytes("market.immediateBps exceeds 10000 bps"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p = gpuMarketDevParams();
        p.burnTiers[1].fromGpus = 0;
        HEVM.expectRevert(bytes("market.burnTiers must be in ascending fromGpus order"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p = gpuMarketDevParams();
        p.unreachableSlash[3].underBlocks = 100_000;
        HEVM.expectRevert(bytes("market.unreachableSlash must end with a tier without underBlocks"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        // The emission schedule, checked against the pool (`EmissionSchedule::validate`).
        p = gpuMarketDevParams();
        p.emission.decayBps = 10_001;
        HEVM.expectRevert(bytes("market.emission.decayBps = 10001 exceeds 10000 bps"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p = gpuMarketDevParams();
        p.emission.endEra = 1_001;
        HEVM.expectRevert(bytes("market.emission.endEra = 1001 must be 1 to 1000"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p = gpuMarketDevParams();
        p.emission.eraBlocks = 0;
        HEVM.expectRevert(bytes("market.emission.eraBlocks = 0 must be 1 to 1000000000000"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p = gpuMarketDevParams();
        p.emission.flatEras = 101;
        HEVM.expectRevert(bytes("market.emission.flatEras = 101 exceeds endEra = 100"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p = gpuMarketDevParams();
        p.emission.initialPerBlock = type(uint256).max;
        HEVM.expectRevert(bytes(unicode"market.emission: initialPerBlock × eraBlocks overflows"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        // Era 0 and era 1 release 10 and 5 a block over 10 blocks: 150 before the last era.
        p = gpuMarketDevParams();
        p.emission = Emission({eraBlocks: 10, initialPerBlock: 10, flatEras: 1, decayBps: 5_000, endEra: 3});
        p.rewardPool = 149;
        HEVM.expectRevert(bytes("market.emission releases 150 wei before its last era, more than the pool of 149 wei"));
        GpuMarketSol(payable(DBC_MARKET)).init(p);
        p.rewardPool = 150; // the last era releases nothing: accepted
        GpuMarketSol(payable(DBC_MARKET)).init(p);
    }

    /// Slot of field `field` of record `(tag, key)` in the node's layout.
    function _slotOf(uint256 tag, bytes32 key, uint256 field) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(tag, key))) + field);
    }

    /// An item that reverts (here: a draw for a machine that does not exist, written into the
    /// queue by hand) is skipped alone; the hook emits no logs (the node's hook has no
    /// receipt).
    function test_hookItemIsolationAndNoLogs() public {
        _join(4);
        _register(MID, 1);
        bytes32 key = bytes32(uint256(12));
        uint256 T_QUEUE = 11;
        require(uint256(HEVM.load(DBC_MARKET, _slotOf(T_QUEUE, key, 0))) == 1, "one item due at 12");
        bytes32 real = HEVM.load(DBC_MARKET, _slotOf(T_QUEUE, key, 1));
        HEVM.store(DBC_MARKET, _slotOf(T_QUEUE, key, 1), bytes32((uint256(1) << 248) | 99));
        HEVM.store(DBC_MARKET, _slotOf(T_QUEUE, key, 2), real);
        HEVM.store(DBC_MARKET, _slotOf(T_QUEUE, key, 0), bytes32(uint256(2)));
        _next();
        _next();
        HEVM.recordLogs();
        _hook(0);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 0, "the hook emits no logs");
        require(M.getRound(MID).phase == IGpuMarket.RoundPhase.Commit, "the real draw ran");
        require(uint256(HEVM.load(DBC_MARKET, bytes32(uint256(13)))) == 0, "cursor caught up");
    }

    // =========================================================================================
    // call-level checks

    function test_callLevelChecks() public {
        // Unknown selector, short calldata.
        (bool ok, bytes memory out) = DBC_MARKET.call(abi.encodeWithSignature("nope()"));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.UnknownSelector.selector, bytes4(keccak256("nope()")))), "unknown");
        (ok, out) = DBC_MARKET.call(hex"abcd");
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.UnknownSelector.selector, bytes4(0xabcd0000))), "short");
        (ok, out) = DBC_MARKET.call{value: 1}("");
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.UnknownSelector.selector, bytes4(0))), "empty");
        // The hook from anyone but the system address is unknown.
        (ok, out) = DBC_MARKET.call(abi.encodeWithSignature("onBlock(uint256)", 0));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.UnknownSelector.selector, bytes4(0x4fca0bcd))), "hook");
        // The internal item runner is unknown to everyone else.
        (ok, out) = DBC_MARKET.call(abi.encodeWithSignature("gpuMarketSolRunItem(uint64,uint8,uint64)", 1, 1, 0));
        require(!ok && bytes4(out) == IGpuMarket.UnknownSelector.selector, "runner");
        // Value to non-payable functions, views included.
        (ok, out) = DBC_MARKET.call{value: 1}(abi.encodeCall(IGpuMarket.setPrice, (MID, 1)));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.NotPayable.selector)), "not payable");
        (ok, out) = DBC_MARKET.call{value: 1}(abi.encodeCall(IGpuMarket.committeeSize, ()));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.NotPayable.selector)), "view not payable");
        // A write in a static context.
        (ok, out) = DBC_MARKET.staticcall(abi.encodeCall(IGpuMarket.leaveCommittee, ()));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.StaticCallWrite.selector)), "static");
        (ok, out) = DBC_MARKET.staticcall(abi.encodeCall(IGpuMarket.committeeSize, ()));
        require(ok && abi.decode(out, (uint256)) == 0, "static view");
        // DELEGATECALL.
        Delegator d = new Delegator();
        (ok, out) = d.delegate(DBC_MARKET, abi.encodeCall(IGpuMarket.committeeSize, ()));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.DelegateCallNotAllowed.selector)), "delegate");
        (ok, out) = d.delegate(DBC_MARKET, abi.encodeWithSignature("nope()"));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGpuMarket.DelegateCallNotAllowed.selector)), "delegate unknown");
        // Lookups.
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownMachine.selector, bytes32(0)));
        M.machineIdAt(0);
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownMachine.selector, MID));
        M.getMachine(MID);
        (uint32 cp, uint32 mem) = M.gpuModel(bytes32("H100 80GB"));
        require(cp == 6_000 && mem == 80, "model table");
        _expectRevert(abi.encodeWithSelector(IGpuMarket.UnknownGpuModel.selector, bytes32("x")));
        M.gpuModel(bytes32("x"));
        // Fees burned are counted by the hook.
        _hook(123);
        require(M.networkStats().feesBurned == 123, "fees");
        require(M.networkStats().rewardPoolRemaining == 4_000_000_000 * DBC, "pool");
        // initDev only once.
        HEVM.expectRevert(bytes("GpuMarketSol: already initialized"));
        GpuMarketSol(payable(DBC_MARKET)).initDev();
    }

    /// The hook runs at most 256 items a block; the rest carry over (cursor), and
    /// `nextHookBlock` says so.
    function test_hookBoundedWork() public {
        _join(4);
        // 300 registrations: 300 draws due at the same block.
        HEVM.deal(provider, 1_000_000_000 * DBC);
        for (uint256 i; i < 300; i++) {
            _register(bytes32(i + 1), 1);
        }
        _next();
        _next();
        _hook(0); // block 12: 256 draws
        require(M.getRound(bytes32(uint256(256))).phase == IGpuMarket.RoundPhase.Commit, "256th drawn");
        require(M.getRound(bytes32(uint256(257))).phase == IGpuMarket.RoundPhase.Drawing, "257th waits");
        HEVM.roll(13);
        require(GpuMarketSol(payable(DBC_MARKET)).nextHookBlock() == 13, "catch-up due");
        _hook(0); // block 13: the rest (drawn with block 13's randomness)
        require(M.getRound(bytes32(uint256(300))).phase == IGpuMarket.RoundPhase.Commit, "300th drawn");
    }
}

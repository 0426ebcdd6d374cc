// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {HEVM, Vm} from "../test-utils/Vm.sol";
import {DBC_MARKET, DBC_STAKING, DBC_GOVERNANCE} from "../test-utils/DbcAddresses.sol";
import {DbcPrecompiles} from "../test-utils/DbcPrecompiles.sol";
import {GovernanceSol} from "../test-utils/GovernanceSol.sol";
import {GpuMarketSol, GpuMarketParams, gpuMarketDevParams} from "../test-utils/GpuMarketSol.sol";
import {StakingSol} from "../test-utils/StakingSol.sol";
import {StakingParams, GenesisValidator, stakingDevParams} from "../test-utils/staking/StakingStore.sol";
import {Emission} from "../test-utils/common/Emission.sol";
import {ITreasuryCredit} from "../test-utils/common/Treasury.sol";

/// Calls the governance precompile by DELEGATECALL (refused), or funds it and then reverts.
contract GovernanceCaller {
    function viaDelegatecall(bytes calldata data) external returns (bool ok, bytes memory out) {
        (ok, out) = DBC_GOVERNANCE.delegatecall(data);
    }

    function fundThenRevert() external payable {
        IGovernance(DBC_GOVERNANCE).fund{value: msg.value}();
        revert("undone");
    }
}

/// Tests of `GovernanceSol`, the stand-in of the governance precompile `0x…0D04`: the treasury
/// (donations, the per-source totals in the node's storage slots, `treasury()`) and the
/// emission schedules' view (`emissionRate`), with small schedules installed in the market and
/// staking stand-ins.
contract GovernanceSolTest {
    IGovernance internal constant GOV = IGovernance(DBC_GOVERNANCE);

    address internal constant DONOR = address(0xD0A0);
    address internal constant OTHER = address(0x0E0E);
    /// The default GPU schedule's era-0 release: 400M DBC over a year of 5,256,000 blocks.
    uint256 internal constant GPU_PER_BLOCK = uint256(400_000_000 ether) / 5_256_000;

    function setUp() public {
        HEVM.etch(DBC_GOVERNANCE, type(GovernanceSol).runtimeCode);
        HEVM.deal(DONOR, 1_000 ether);
        HEVM.deal(OTHER, 1_000 ether);
    }

    /// Market: 100 wei a block in era 0 (blocks 1-10), 50 in era 1 (11-20), the last era (21-30)
    /// the rest of a 1,600 wei pool (1,600 − 1,000 − 500 = 100: 10 a block), nothing after.
    /// Staking: 7 wei a block in eras 0 and 1 (2 flat eras), 6 in era 2 (7 × 0.9, rounded down),
    /// the last era (31-40) the rest of 250 (250 − 70 − 70 − 60 = 50: 5 a block).
    function _installSchedules() internal {
        GpuMarketParams memory m = gpuMarketDevParams();
        m.emission = Emission({eraBlocks: 10, initialPerBlock: 100, flatEras: 1, decayBps: 5_000, endEra: 3});
        m.rewardPool = 1_600;
        HEVM.etch(DBC_MARKET, type(GpuMarketSol).runtimeCode);
        GpuMarketSol(payable(DBC_MARKET)).init(m);
        StakingParams memory s = stakingDevParams();
        s.emission = Emission({eraBlocks: 10, initialPerBlock: 7, flatEras: 2, decayBps: 1_000, endEra: 4});
        s.rewardPool = 250;
        HEVM.etch(DBC_STAKING, type(StakingSol).runtimeCode);
        StakingSol(payable(DBC_STAKING)).init(s, new GenesisValidator[](0));
    }

    function _slotOf(uint256 tag, bytes32 key, uint256 field) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(tag, key))) + field);
    }

    function _raw(address from, uint256 value, bytes memory data) internal returns (bool ok, bytes memory out) {
        HEVM.prank(from, from);
        (ok, out) = DBC_GOVERNANCE.call{value: value}(data);
    }

    function _rate(IGovernance.Target t, uint256 perBlock, uint32 era) internal view {
        (uint256 p, uint32 e) = GOV.emissionRate(t);
        require(p == perBlock, string.concat("perBlock at block ", HEVM.toString(block.number)));
        require(e == era, string.concat("era at block ", HEVM.toString(block.number)));
    }

    // =========================================================================================
    // the treasury

    function test_fundCountsADonationAndLogsIt() public {
        (bool ok, bytes memory out) = _raw(DONOR, 0, abi.encodeCall(IGovernance.fund, ()));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGovernance.NothingToFund.selector)), "0");
        HEVM.recordLogs();
        HEVM.prank(DONOR, DONOR);
        GOV.fund{value: 5 ether}();
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].emitter == DBC_GOVERNANCE, "one log, from 0x0D04");
        require(logs[0].topics.length == 3 && logs[0].topics[0] == IGovernance.TreasuryReceived.selector, "event");
        require(logs[0].topics[1] == bytes32(uint256(9)), "source 9: a donation");
        require(logs[0].topics[2] == bytes32(uint256(uint160(DONOR))), "from the donor");
        require(abi.decode(logs[0].data, (uint256)) == 5 ether, "amount");
        require(DBC_GOVERNANCE.balance == 5 ether && DONOR.balance == 995 ether, "moved");
        HEVM.prank(OTHER, OTHER);
        GOV.fund{value: 2 ether}();
        require(GOV.treasuryReceived(9) == 7 ether, "per-source total");
        require(GOV.treasuryReceived(1) == 0 && GOV.treasuryReceived(5) == 0, "other sources");
        // A balance that did not come as an inflow is in the balance, not in `received`.
        HEVM.deal(DBC_GOVERNANCE, 10 ether);
        IGovernance.TreasuryInfo memory t = GOV.treasury();
        require(t.balance == 10 ether && t.available == 10 ether, "balance, all available");
        require(t.received == 7 ether && t.spent == 0, "received, nothing spent");
        // The node's slots: G_SPENT 15, G_RECEIVED 16, the totals at (77, source).
        require(uint256(HEVM.load(DBC_GOVERNANCE, bytes32(uint256(16)))) == 7 ether, "G_RECEIVED");
        require(uint256(HEVM.load(DBC_GOVERNANCE, bytes32(uint256(15)))) == 0, "G_SPENT");
        require(uint256(HEVM.load(DBC_GOVERNANCE, _slotOf(77, bytes32(uint256(9)), 0))) == 7 ether, "T_RECEIVED[9]");
        // What the slots hold is what the views report.
        HEVM.store(DBC_GOVERNANCE, bytes32(uint256(15)), bytes32(uint256(3)));
        HEVM.store(DBC_GOVERNANCE, _slotOf(77, bytes32(uint256(4)), 0), bytes32(uint256(11)));
        require(GOV.treasury().spent == 3 && GOV.treasuryReceived(4) == 11, "read from the slots");
    }

    function test_aRevertedDonationLeavesNoTrace() public {
        GovernanceCaller c = new GovernanceCaller();
        HEVM.deal(address(c), 1 ether);
        try c.fundThenRevert{value: 1 ether}() {
            revert("should revert");
        } catch {}
        require(DBC_GOVERNANCE.balance == 0 && GOV.treasury().received == 0 && GOV.treasuryReceived(9) == 0, "undone");
    }

    /// Only the market and staking stand-ins may report an inflow they paid.
    function test_theCreditEntryIsUnknownToOthers() public {
        bytes memory credit = abi.encodeCall(ITreasuryCredit.governanceSolCredit, (uint8(1), DONOR, 1, true));
        (bool ok, bytes memory out) = _raw(DONOR, 0, credit);
        bytes memory unknown =
            abi.encodeWithSelector(IGovernance.UnknownSelector.selector, ITreasuryCredit.governanceSolCredit.selector);
        require(!ok && keccak256(out) == keccak256(unknown), "unknown selector");
        // The market may: counted and logged (or, with `log` false, counted only).
        HEVM.recordLogs();
        HEVM.prank(DBC_MARKET);
        (ok,) = DBC_GOVERNANCE.call(credit);
        require(ok && HEVM.getRecordedLogs().length == 1 && GOV.treasuryReceived(1) == 1, "counted and logged");
        HEVM.prank(DBC_STAKING);
        (ok,) = DBC_GOVERNANCE.call(abi.encodeCall(ITreasuryCredit.governanceSolCredit, (uint8(5), DONOR, 2, false)));
        require(ok && HEVM.getRecordedLogs().length == 0 && GOV.treasuryReceived(5) == 2, "counted, not logged");
        require(GOV.treasury().received == 3, "G_RECEIVED");
    }

    // =========================================================================================
    // emission rates

    function test_emissionRateAcrossErasAndTheLastEraRemainder() public {
        _installSchedules();
        uint256[9] memory at = [uint256(0), 1, 10, 11, 20, 21, 30, 31, 1_000];
        uint256[9] memory market = [uint256(100), 100, 100, 50, 50, 10, 10, 0, 0];
        uint32[9] memory marketEra = [uint32(0), 0, 0, 1, 1, 2, 2, 3, 99];
        for (uint256 i; i < at.length; i++) {
            HEVM.roll(at[i]);
            _rate(IGovernance.Target.Market, market[i], marketEra[i]);
        }
        // The era saturates to u32.
        HEVM.roll(uint256(type(uint32).max) * 10 + 21);
        _rate(IGovernance.Target.Market, 0, type(uint32).max);
        uint256[8] memory sAt = [uint256(1), 10, 20, 21, 30, 31, 40, 41];
        uint256[8] memory staking = [uint256(7), 7, 7, 6, 6, 5, 5, 0];
        uint32[8] memory stakingEra = [uint32(0), 0, 1, 2, 2, 3, 3, 4];
        for (uint256 i; i < sAt.length; i++) {
            HEVM.roll(sAt[i]);
            _rate(IGovernance.Target.Staking, staking[i], stakingEra[i]);
        }
    }

    /// The dev chain's schedules (`DbcPrecompiles.install`): 400M DBC a year for the market's
    /// GPUs and 19 DBC a block for validators in era 0; after 3 flat years 12.5% less.
    function test_emissionRateOfTheDevChain() public {
        DbcPrecompiles.install();
        HEVM.roll(1);
        _rate(IGovernance.Target.Market, GPU_PER_BLOCK, 0);
        _rate(IGovernance.Target.Staking, 19 ether, 0);
        HEVM.roll(3 * 5_256_000 + 1);
        _rate(IGovernance.Target.Market, GPU_PER_BLOCK * 8_750 / 10_000, 3);
        _rate(IGovernance.Target.Staking, uint256(19 ether) * 8_750 / 10_000, 3);
    }

    /// The genesis file's `emission` objects and `slashTreasuryBps` (format 3), and the
    /// governance account's genesis balance.
    function test_genesisEmissionAndTreasuryShare() public {
        string memory genesis = string.concat(
            '{"config":{"dbc":{"version":3,',
            '"market":{"rewardPool":"1600","emission":{"eraBlocks":10,"initialPerBlock":"100","flatEras":1,"decayBps":5000,"endEra":3}},',
            '"staking":{"rewardPool":"250","slashTreasuryBps":2500,',
            '"emission":{"eraBlocks":10,"initialPerBlock":"7","flatEras":2,"decayBps":1000,"endEra":4}}}},',
            '"alloc":{"0x0000000000000000000000000000000000000d04":{"balance":"0x2a"}}}'
        );
        StakingParams memory s = DbcPrecompiles.stakingParams(genesis);
        require(s.slashTreasuryBps == 2_500 && s.emission.initialPerBlock == 7 && s.emission.flatEras == 2, "staking");
        require(stakingDevParams().slashTreasuryBps == 10_000, "default: all to the treasury");
        GpuMarketParams memory m = DbcPrecompiles.marketParams(genesis);
        require(m.emission.eraBlocks == 10 && m.emission.decayBps == 5_000 && m.emission.endEra == 3, "market");
        DbcPrecompiles.installFromGenesis(genesis);
        HEVM.roll(21);
        _rate(IGovernance.Target.Market, 10, 2);
        _rate(IGovernance.Target.Staking, 6, 2);
        require(GOV.treasury().balance == 42 && GOV.treasury().received == 0, "genesis balance, not an inflow");
        // Absent objects: the defaults.
        m = DbcPrecompiles.marketParams('{"config":{"dbc":{"market":{"epochBlocks":50}}}}');
        require(m.emission.eraBlocks == 5_256_000 && m.emission.initialPerBlock == GPU_PER_BLOCK, "dflt");
        require(m.emission.flatEras == 3 && m.emission.decayBps == 1_250 && m.emission.endEra == 100, "default shape");
    }

    // =========================================================================================
    // call-level checks

    function test_callLevelChecks() public {
        _installSchedules();
        bytes memory notPayable = abi.encodeWithSelector(IGovernance.NotPayable.selector);
        (bool ok, bytes memory out) = _raw(DONOR, 1, abi.encodeCall(IGovernance.treasury, ()));
        require(!ok && keccak256(out) == keccak256(notPayable), "treasury() not payable");
        (ok, out) = _raw(DONOR, 1, abi.encodeCall(IGovernance.treasuryReceived, (9)));
        require(!ok && keccak256(out) == keccak256(notPayable), "treasuryReceived not payable");
        (ok, out) = _raw(DONOR, 1, abi.encodeCall(IGovernance.emissionRate, (IGovernance.Target.Market)));
        require(!ok && keccak256(out) == keccak256(notPayable), "emissionRate not payable");
        // Unknown selectors, short and empty calldata.
        (ok, out) = _raw(DONOR, 0, abi.encodeWithSignature("nope()"));
        bytes memory want = abi.encodeWithSelector(IGovernance.UnknownSelector.selector, bytes4(keccak256("nope()")));
        require(!ok && keccak256(out) == keccak256(want), "unknown");
        (ok, out) = _raw(DONOR, 0, hex"abcd");
        want = abi.encodeWithSelector(IGovernance.UnknownSelector.selector, bytes4(0xabcd0000));
        require(!ok && keccak256(out) == keccak256(want), "short");
        (ok, out) = _raw(DONOR, 1, "");
        want = abi.encodeWithSelector(IGovernance.UnknownSelector.selector, bytes4(0));
        require(!ok && keccak256(out) == keccak256(want), "a plain transfer is refused");
        // An argument missing: undecodable, so unknown.
        (ok, out) = _raw(DONOR, 0, abi.encodePacked(IGovernance.treasuryReceived.selector, uint8(9)));
        want = abi.encodeWithSelector(IGovernance.UnknownSelector.selector, IGovernance.treasuryReceived.selector);
        require(!ok && keccak256(out) == keccak256(want), "short argument");
        // A `Target` outside the enum decodes (to alloy's `__Invalid`) and is then refused as
        // unknown, after the value check.
        (ok, out) = _raw(DONOR, 0, abi.encodePacked(IGovernance.emissionRate.selector, uint256(2)));
        want = abi.encodeWithSelector(IGovernance.UnknownSelector.selector, IGovernance.emissionRate.selector);
        require(!ok && keccak256(out) == keccak256(want), "bad target");
        (ok, out) = _raw(DONOR, 1, abi.encodePacked(IGovernance.emissionRate.selector, uint256(2)));
        require(!ok && keccak256(out) == keccak256(notPayable), "bad target with value");
        // Only the low byte counts: 0x101 is Staking.
        HEVM.roll(1);
        (ok, out) = _raw(DONOR, 0, abi.encodePacked(IGovernance.emissionRate.selector, uint256(0x101)));
        require(ok && keccak256(out) == keccak256(abi.encode(uint256(7), uint32(0))), "low byte");
        // Lenient decoding as the node's: dirty high bits of a uint8 are dropped, trailing bytes ignored.
        HEVM.prank(DONOR, DONOR);
        GOV.fund{value: 3}();
        (ok, out) = _raw(DONOR, 0, abi.encodePacked(IGovernance.treasuryReceived.selector, uint256(0x109), hex"ff"));
        require(ok && abi.decode(out, (uint256)) == 3, "source 0x109 reads source 9");
        // Static context: a write is refused, views answer.
        (ok, out) = DBC_GOVERNANCE.staticcall(abi.encodeCall(IGovernance.fund, ()));
        require(!ok && keccak256(out) == keccak256(abi.encodeWithSelector(IGovernance.StaticCallWrite.selector)), "static");
        (ok, out) = DBC_GOVERNANCE.staticcall(abi.encodeCall(IGovernance.treasuryReceived, (9)));
        require(ok && abi.decode(out, (uint256)) == 3, "static view");
        HEVM.roll(11);
        (ok, out) = DBC_GOVERNANCE.staticcall(abi.encodeCall(IGovernance.emissionRate, (IGovernance.Target.Market)));
        require(ok && keccak256(out) == keccak256(abi.encode(uint256(50), uint32(1))), "static emissionRate");
        // DELEGATECALL.
        GovernanceCaller c = new GovernanceCaller();
        (ok, out) = c.viaDelegatecall(abi.encodeCall(IGovernance.treasury, ()));
        want = abi.encodeWithSelector(IGovernance.DelegateCallNotAllowed.selector);
        require(!ok && keccak256(out) == keccak256(want), "delegatecall");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HEVM, Vm} from "../test-utils/Vm.sol";
import {DBC_STAKING, DBC_GOVERNANCE, DBC_SYSTEM} from "../test-utils/DbcAddresses.sol";
import {IStaking} from "../src/interfaces/IStaking.sol";
import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {StakingSol} from "../test-utils/StakingSol.sol";
import {GovernanceSol} from "../test-utils/GovernanceSol.sol";
import {StakingParams, GenesisValidator} from "../test-utils/staking/StakingStore.sol";
import {Emission} from "../test-utils/common/Emission.sol";

/// Calls the staking precompile by DELEGATECALL (refused), or calls it and then reverts.
contract StakingCaller {
    function viaDelegatecall(bytes calldata data) external returns (bool ok, bytes memory out) {
        (ok, out) = DBC_STAKING.delegatecall(data);
    }

    function callThenRevert(bytes calldata data) external payable {
        (bool ok,) = DBC_STAKING.call{value: msg.value}(data);
        require(ok, "inner call failed");
        revert("undone");
    }

    function callStaking(bytes calldata data) external payable returns (bytes memory out) {
        bool ok;
        (ok, out) = DBC_STAKING.call{value: msg.value}(data);
        require(ok, "inner call failed");
    }

    receive() external payable {
        revert("a payment ran my code");
    }
}

/// Tests of `StakingSol`, the Solidity stand-in of the staking precompile. The scenarios and
/// numbers are those of the node's own unit tests (`crates/precompiles/src/staking_tests.rs`
/// and `staking_tests/security.rs`), so this also checks that the port gives the node's results.
contract StakingSolTest {
    IStaking internal constant STAKING = IStaking(DBC_STAKING);
    StakingSol internal constant SOL = StakingSol(payable(DBC_STAKING));
    IGovernance internal constant GOV = IGovernance(DBC_GOVERNANCE);
    /// Treasury inflow source of a validator slash.
    uint8 internal constant SRC_VALIDATOR_SLASH = 5;

    uint256 internal constant B_KEY = 0xB0B;
    uint256 internal constant X_KEY = 0xE71; // not a validator
    uint256 internal constant N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;

    address internal constant A = address(0xa1);
    address internal constant C = address(0xc3);
    address internal constant D = address(0xd4);
    address internal constant ALICE = address(0xa11ce);
    address internal B;

    function dbc(uint256 n) internal pure returns (uint256) {
        return n * 1 ether;
    }

    function setUp() public {
        HEVM.etch(DBC_STAKING, address(new StakingSol()).code);
        HEVM.etch(DBC_GOVERNANCE, type(GovernanceSol).runtimeCode);
        B = HEVM.addr(B_KEY);
        HEVM.roll(0);
    }

    /// The node tests' parameters: epoch 10 blocks, 2 validators, A (300 DBC, 10%) and B (200).
    /// Emission: 10 DBC a block in era 0 (blocks 1-2); era 1 (blocks 3-4), the last, releases
    /// the rest of the 25 DBC pool (2.5 a block); nothing after. Slashes: the rest after the
    /// reporter's share all to the treasury (the default).
    function params() internal pure returns (StakingParams memory p) {
        p.epochBlocks = 10;
        p.maxValidators = 2;
        p.maxCandidates = 10;
        p.minSelfStake = dbc(100);
        p.minDelegation = dbc(1);
        p.unbondingBlocks = 5;
        p.emission = Emission({eraBlocks: 2, initialPerBlock: dbc(10), flatEras: 1, decayBps: 0, endEra: 2});
        p.rewardPool = dbc(25);
        p.maxCommissionBps = 5_000;
        p.maxCommissionIncreaseBps = 500;
        p.doubleSignSlashBps = 1_000;
        p.evidenceRewardBps = 2_000;
        p.slashTreasuryBps = 10_000;
        p.downtimeJailMissed = 3;
        p.downtimeSlashBps = 100;
        p.jailBlocks = 4;
    }

    function genesis() internal view returns (GenesisValidator[] memory v) {
        v = new GenesisValidator[](2);
        v[0] = GenesisValidator(A, dbc(300), 1_000);
        v[1] = GenesisValidator(B, dbc(200), 0);
    }

    /// Installs `p` with A and B, funds the staking account (stakes + pool) and the users, and
    /// runs block 1 (the lazy genesis initialisation).
    function bootWith(StakingParams memory p) internal {
        SOL.init(p, genesis());
        HEVM.deal(DBC_STAKING, dbc(500) + p.rewardPool);
        address[6] memory users = [A, B, C, D, ALICE, HEVM.addr(X_KEY)];
        for (uint256 i = 0; i < users.length; i++) {
            HEVM.deal(users[i], dbc(10_000));
        }
        block_(A, new address[](0));
    }

    function boot() internal {
        bootWith(params());
    }

    /// Next block, then the node's end-of-block hook from the system address.
    function block_(address proposer, address[] memory missed) internal {
        HEVM.roll(block.number + 1);
        HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
        STAKING.onBlock(proposer, missed);
    }

    function blocks(uint256 n) internal {
        for (uint256 i = 0; i < n; i++) {
            block_(A, new address[](0));
        }
    }

    function advanceTo(uint256 n) internal {
        while (block.number < n) block_(A, new address[](0));
    }

    function one(address a) internal pure returns (address[] memory out) {
        out = new address[](1);
        out[0] = a;
    }

    function two(address a, address b) internal pure returns (address[] memory out) {
        out = new address[](2);
        out[0] = a;
        out[1] = b;
    }

    function eq(address[] memory a, address[] memory b) internal pure returns (bool) {
        return keccak256(abi.encode(a)) == keccak256(abi.encode(b));
    }

    function as_(address who) internal {
        HEVM.prank(who, who);
    }

    function val(address v) internal view returns (IStaking.Validator memory) {
        return STAKING.getValidator(v);
    }

    function del(address v, address d) internal view returns (IStaking.Delegation memory) {
        return STAKING.getDelegation(v, d);
    }

    function unb(address d) internal view returns (uint256 amount, uint64 release) {
        return STAKING.getUnbonding(d);
    }

    function topic0s(Vm.Log[] memory logs) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](logs.length);
        for (uint256 i = 0; i < logs.length; i++) {
            t[i] = logs[i].topics[0];
        }
    }

    /// Raw call; returns (success, return data).
    function raw(address who, uint256 value, bytes memory data) internal returns (bool ok, bytes memory out) {
        HEVM.prank(who, who);
        (ok, out) = DBC_STAKING.call{value: value}(data);
    }

    function expectErr(bytes memory out, bytes memory want) internal pure {
        require(keccak256(out) == keccak256(want), "unexpected revert data");
    }

    // =================================================================== genesis and dev

    function test_genesisValidatorsAreBondedAndActiveInStakeOrder() public {
        SOL.init(params(), genesis());
        HEVM.deal(DBC_STAKING, dbc(525));
        HEVM.recordLogs();
        block_(A, new address[](0));
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        bytes32[] memory t = topic0s(logs);
        require(t.length == 6, "genesis logs");
        require(t[0] == IStaking.ValidatorRegistered.selector && t[1] == IStaking.Delegated.selector, "A bonded");
        require(t[2] == IStaking.ValidatorRegistered.selector && t[3] == IStaking.Delegated.selector, "B bonded");
        require(t[4] == IStaking.ValidatorSetElected.selector, "set 0");
        require(logs[4].topics[1] == bytes32(0), "epoch 0");
        require(keccak256(logs[4].data) == keccak256(abi.encode(two(A, B))), "A before B");
        require(t[5] == IStaking.BlockRewarded.selector, "block 1 reward");
        require(keccak256(logs[5].data) == keccak256(abi.encode(dbc(10), dbc(1))), "reward and commission");
        for (uint256 i = 0; i < logs.length; i++) {
            require(logs[i].emitter == DBC_STAKING, "emitter");
        }
        require(eq(STAKING.activeValidators(), two(A, B)), "active");
        require(eq(STAKING.candidates(), two(A, B)), "candidates");
        IStaking.Validator memory a = val(A);
        require(a.selfStake == dbc(300) && a.totalStake == dbc(300), "A stake");
        require(a.commissionBps == 1_000 && a.active && a.validator == A, "A record");
        // The second hook does not initialise again.
        HEVM.recordLogs();
        block_(B, new address[](0));
        require(HEVM.getRecordedLogs().length == 1, "only the reward");
        require(STAKING.epochBlocks() == 10, "epochBlocks");
    }

    function test_devChainInitialState() public {
        SOL.initDev();
        require(STAKING.epochBlocks() == 14_400, "epoch");
        require(STAKING.rewardPoolRemaining() == 1_000_000_000 ether, "pool");
        require(STAKING.totalBurned() == 0, "burned");
        require(STAKING.candidates().length == 0 && STAKING.activeValidators().length == 0, "empty");
        require(DBC_STAKING.balance == 0, "dev.json gives 0x0D03 no balance");
        HEVM.expectRevert("StakingSol: already initialised");
        SOL.initDev();
        // The dev chain never runs the hook; registration and the rest work without it.
        HEVM.roll(7);
        HEVM.deal(C, dbc(20_000));
        HEVM.prank(C);
        STAKING.registerValidator{value: dbc(10_001)}(700);
        HEVM.prank(C);
        STAKING.undelegate(C, dbc(1));
        (uint256 amount, uint64 release) = unb(C);
        require(amount == dbc(1) && release == 7 + 201_600, "unbonding starts now (nobody is active)");
        // An increase waits for the first boundary at least an epoch away.
        HEVM.prank(C);
        STAKING.setCommission(1_200);
        (uint16 bps, uint64 at) = STAKING.pendingCommission(C);
        require(bps == 1_200 && at == 28_800, "scheduled");
        HEVM.roll(28_800);
        require(val(C).commissionBps == 1_200, "applies lazily");
        // Driving the hook (never done by the dev node): the lazy initialisation writes the
        // empty genesis set.
        HEVM.recordLogs();
        HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
        STAKING.onBlock(address(0xdead), new address[](0));
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 2, "set 0 and the epoch-2 election");
        require(logs[0].topics[0] == IStaking.ValidatorSetElected.selector, "set");
        require(keccak256(logs[0].data) == keccak256(abi.encode(new address[](0))), "empty genesis set");
        require(logs[1].topics[1] == bytes32(uint256(3)), "28,800 / 14,400 + 1");
        require(eq(STAKING.activeValidators(), one(C)), "C elected");
    }

    function test_initChecksTheParameters() public {
        HEVM.expectRevert("StakingSol: not initialised");
        STAKING.candidates();
        StakingParams memory p = params();
        p.epochBlocks = 0;
        HEVM.expectRevert("StakingSol: invalid parameters");
        SOL.init(p, genesis());
        GenesisValidator[] memory g = genesis();
        g[1].addr = A;
        HEVM.expectRevert("StakingSol: invalid parameters");
        SOL.init(params(), g);
        g = genesis();
        g[0].stake = dbc(99);
        HEVM.expectRevert("StakingSol: invalid parameters");
        SOL.init(params(), g);
        p = params();
        p.maxCandidates = 1;
        HEVM.expectRevert("StakingSol: invalid parameters");
        SOL.init(p, genesis());
        p = params();
        p.slashTreasuryBps = 10_001;
        HEVM.expectRevert("StakingSol: invalid parameters");
        SOL.init(p, genesis());
        // The emission schedule is checked against the pool (`EmissionSchedule::validate`).
        p = params();
        p.rewardPool = dbc(20) - 1;
        HEVM.expectRevert(
            bytes(
                string.concat(
                    "staking.emission releases 20000000000000000000 wei before its last era, ",
                    "more than the pool of 19999999999999999999 wei"
                )
            )
        );
        SOL.init(p, genesis());
        p = params();
        p.emission.flatEras = 3;
        HEVM.expectRevert(bytes("staking.emission.flatEras = 3 exceeds endEra = 2"));
        SOL.init(p, genesis());
        SOL.init(params(), genesis());
        HEVM.expectRevert("StakingSol: already initialised");
        SOL.init(params(), genesis());
    }

    /// The node's slots: globals 0-5, records at keccak256(abi.encode(tag, key)) + field.
    function test_storageLayoutIsTheNodes() public {
        boot();
        uint256[5] memory globals = [uint256(1), 2, 2, dbc(10), dbc(500)];
        for (uint256 i = 0; i < 5; i++) {
            require(uint256(HEVM.load(DBC_STAKING, bytes32(i))) == globals[i], "global");
        }
        bytes32 base = keccak256(abi.encode(uint256(40), bytes32(uint256(uint160(A)))));
        uint256 w0 = uint256(HEVM.load(DBC_STAKING, base));
        require(w0 & 0xffff == 1_000 && (w0 >> 176) & 3 == 3, "commission, registered, active");
        require(uint256(HEVM.load(DBC_STAKING, bytes32(uint256(base) + 1))) == dbc(300), "total stake");
        bytes32 cand0 = keccak256(abi.encode(uint256(43), bytes32(0)));
        require(uint256(HEVM.load(DBC_STAKING, cand0)) == uint160(A), "T_CAND[0]");
        bytes32 own = keccak256(abi.encode(uint256(41), keccak256(abi.encodePacked(A, A))));
        require(uint256(HEVM.load(DBC_STAKING, own)) == dbc(300), "A's shares");
        bytes32 active1 = keccak256(abi.encode(uint256(44), bytes32(uint256(1))));
        require(uint256(HEVM.load(DBC_STAKING, active1)) == uint160(B), "T_ACTIVE[1]");
        require(uint256(HEVM.load(DBC_STAKING, bytes32(uint256(active1) + 1))) == dbc(200), "stake at election");
    }

    // =================================================================== rewards

    function test_blockRewardSplitsCommissionAndDelegatorsByShares() public {
        boot();
        as_(ALICE);
        STAKING.delegate{value: dbc(100)}(A);
        require(del(A, ALICE).amount == dbc(100), "delegated");
        block_(A, new address[](0));
        // 10 DBC: 1 commission; 9 shared 300:100.
        require(del(A, ALICE).pendingReward == dbc(225) / 100, "alice 2.25");
        require(del(A, A).pendingReward == dbc(9) + dbc(675) / 100, "A 9 + 6.75");
        require(val(A).commissionOwed == dbc(2), "commission");
        uint256 before = ALICE.balance;
        uint256 pool = DBC_STAKING.balance;
        HEVM.recordLogs();
        as_(ALICE);
        require(STAKING.claimRewards(A) == dbc(225) / 100, "returned");
        require(ALICE.balance - before == dbc(225) / 100, "alice paid");
        require(pool - DBC_STAKING.balance == dbc(225) / 100, "out of the staking balance");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].topics[0] == IStaking.RewardsClaimed.selector, "claimed event");
        require(logs[0].topics[1] == bytes32(uint256(uint160(A))), "validator topic");
        require(logs[0].topics[2] == bytes32(uint256(uint160(ALICE))), "delegator topic");
        before = A.balance;
        as_(A);
        STAKING.claimRewards(A);
        require(A.balance - before == dbc(2) + dbc(9) + dbc(675) / 100, "A paid rewards and commission");
        require(val(A).commissionOwed == 0, "commission taken");
        // Era 1 (blocks 3-4), the last, releases the rest of the pool (25 - 20) over its two
        // blocks; then nothing.
        HEVM.recordLogs();
        block_(B, new address[](0));
        Vm.Log[] memory rewarded = HEVM.getRecordedLogs();
        require(rewarded.length == 1 && rewarded[0].topics[0] == IStaking.BlockRewarded.selector, "rewarded");
        require(keccak256(rewarded[0].data) == keccak256(abi.encode(dbc(25) / 10, 0)), "2.5, no commission");
        require(del(B, B).pendingReward == dbc(25) / 10, "B 2.5");
        require(STAKING.rewardPoolRemaining() == dbc(25) / 10, "2.5 left");
        block_(B, new address[](0));
        require(STAKING.rewardPoolRemaining() == 0, "pool spent");
        require(del(B, B).pendingReward == dbc(5), "B 5");
        HEVM.recordLogs();
        block_(B, new address[](0));
        require(HEVM.getRecordedLogs().length == 0, "no reward, no event");
        require(del(B, B).pendingReward == dbc(5), "still 5");
        // Nothing to claim: a zero payout still succeeds with its event.
        as_(C);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.NotRegistered.selector, D));
        STAKING.claimRewards(D);
        as_(C);
        require(STAKING.claimRewards(A) == 0, "nothing");
    }

    function test_paymentsAreUndoneWithTheEnclosingCall() public {
        boot();
        StakingCaller w = new StakingCaller();
        HEVM.deal(address(w), dbc(10));
        w.callStaking{value: dbc(5)}(abi.encodeCall(IStaking.delegate, (A)));
        block_(A, new address[](0));
        uint256 owed = del(A, address(w)).pendingReward;
        require(owed > 0, "rewarded");
        uint256 before = address(w).balance;
        uint256 staked = DBC_STAKING.balance;
        try w.callThenRevert(abi.encodeCall(IStaking.claimRewards, (A))) {
            revert("should revert");
        } catch {}
        require(address(w).balance == before && DBC_STAKING.balance == staked, "payment undone");
        require(del(A, address(w)).pendingReward == owed, "claim undone");
        // A real claim pays a contract without running its code (its receive() reverts).
        bytes memory out = w.callStaking(abi.encodeCall(IStaking.claimRewards, (A)));
        require(abi.decode(out, (uint256)) == owed && address(w).balance == before + owed, "paid");
    }

    // =================================================================== delegation

    function test_undelegateUnbondsThenWithdraws() public {
        boot();
        as_(ALICE);
        STAKING.delegate{value: dbc(50)}(B);
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.InsufficientDelegation.selector, dbc(50)));
        STAKING.undelegate(B, dbc(51));
        HEVM.recordLogs();
        as_(ALICE);
        STAKING.undelegate(B, dbc(20));
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 1 && logs[0].topics[0] == IStaking.Undelegated.selector, "event");
        require(keccak256(logs[0].data) == keccak256(abi.encode(dbc(20), uint64(15))), "amount, release");
        require(del(B, ALICE).amount == dbc(30), "left");
        require(val(B).totalStake == dbc(230), "B stake");
        // B is active: unbonding starts at the next election (block 10), lasts 5 blocks.
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.StillUnbonding.selector, uint64(15)));
        STAKING.withdraw();
        advanceTo(15);
        uint256 before = ALICE.balance;
        as_(ALICE);
        require(STAKING.withdraw() == dbc(20), "returned");
        require(ALICE.balance - before == dbc(20), "paid");
        as_(ALICE);
        HEVM.expectRevert(IStaking.NothingToWithdraw.selector);
        STAKING.withdraw();
        // A delegation below the minimum.
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.StakeTooLow.selector, dbc(1)));
        STAKING.delegate{value: dbc(1) - 1}(B);
    }

    function test_unbondingEntriesAreBounded() public {
        boot();
        as_(C);
        STAKING.registerValidator{value: dbc(100)}(0);
        as_(ALICE);
        STAKING.delegate{value: dbc(50)}(C);
        for (uint256 i = 0; i < 16; i++) {
            as_(ALICE);
            STAKING.undelegate(C, dbc(1));
            if (i == 0) {
                // Same validator and bucket: merged.
                as_(ALICE);
                STAKING.undelegate(C, dbc(1));
            }
            blocks(1);
        }
        IStaking.Unbonding[] memory list = STAKING.getUnbondings(ALICE);
        require(list.length == 16 && list[0].amount == dbc(2) && list[0].validator == C, "16 entries");
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.TooManyUnbondings.selector, uint256(16)));
        STAKING.undelegate(C, dbc(1));
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.InsufficientDelegation.selector, dbc(33)));
        STAKING.undelegate(C, 0);
        uint256 matured = 0;
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i].releaseBlock <= block.number) matured++;
        }
        require(matured > 0, "some matured");
        as_(ALICE);
        require(STAKING.withdraw() == dbc(matured + 1), "matured paid");
        require(STAKING.getUnbondings(ALICE).length == 16 - matured, "freed");
        as_(ALICE);
        STAKING.undelegate(C, dbc(1));
    }

    // =================================================================== validators

    function test_registrationRulesAndCallChecks() public {
        boot();
        as_(C);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.StakeTooLow.selector, dbc(100)));
        STAKING.registerValidator{value: dbc(99)}(0);
        as_(C);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.CommissionTooHigh.selector, uint16(5_000)));
        STAKING.registerValidator{value: dbc(100)}(5_001);
        HEVM.recordLogs();
        as_(C);
        STAKING.registerValidator{value: dbc(100)}(0);
        bytes32[] memory t = topic0s(HEVM.getRecordedLogs());
        require(t.length == 2 && t[0] == IStaking.ValidatorRegistered.selector, "registered + delegated");
        require(t[1] == IStaking.Delegated.selector, "delegated");
        require(DBC_STAKING.balance == dbc(625), "the stake stays in the staking account");
        as_(C);
        HEVM.expectRevert(IStaking.AlreadyRegistered.selector);
        STAKING.registerValidator{value: dbc(100)}(0);
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.NotRegistered.selector, D));
        STAKING.delegate{value: dbc(5)}(D);
        (bool ok, bytes memory out) = raw(ALICE, 1, abi.encodeCall(IStaking.withdraw, ()));
        require(!ok, "value to withdraw");
        expectErr(out, abi.encodeWithSelector(IStaking.NotPayable.selector));
        as_(ALICE);
        HEVM.expectRevert(IStaking.OnlySystem.selector);
        STAKING.onBlock(A, new address[](0));
        // Value to a view; a static call of a write; a delegatecall.
        (ok, out) = raw(ALICE, 1, abi.encodeCall(IStaking.candidates, ()));
        require(!ok, "view with value");
        expectErr(out, abi.encodeWithSelector(IStaking.NotPayable.selector));
        (ok, out) = DBC_STAKING.staticcall(abi.encodeCall(IStaking.unjail, ()));
        require(!ok, "static write");
        expectErr(out, abi.encodeWithSelector(IStaking.StaticCallWrite.selector));
        (ok, out) = DBC_STAKING.staticcall(abi.encodeCall(IStaking.getValidator, (C)));
        require(ok && abi.decode(out, (IStaking.Validator)).totalStake == dbc(100), "static view");
        StakingCaller w = new StakingCaller();
        (ok, out) = w.viaDelegatecall(abi.encodeCall(IStaking.getValidator, (C)));
        require(!ok, "delegatecall");
        expectErr(out, abi.encodeWithSelector(IStaking.DelegateCallNotAllowed.selector));
        // The maximum number of candidates.
        StakingParams memory p = params();
        require(p.maxCandidates == 10, "10");
        for (uint160 i = 0; i < 7; i++) {
            address who = address(0x1000 + i);
            HEVM.deal(who, dbc(100));
            as_(who);
            STAKING.registerValidator{value: dbc(100)}(0);
        }
        as_(D);
        HEVM.expectRevert(IStaking.TooManyCandidates.selector);
        STAKING.registerValidator{value: dbc(100)}(0);
    }

    function test_calldataDecodingFollowsTheNode() public {
        boot();
        (bool ok, bytes memory out) = raw(ALICE, 0, hex"01");
        require(!ok, "short");
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, bytes4(0x01000000)));
        (ok, out) = raw(ALICE, 5, "");
        require(!ok, "plain transfer");
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, bytes4(0)));
        (ok, out) = raw(ALICE, 0, hex"deadbeef");
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, bytes4(0xdeadbeef)));
        // Missing argument bytes.
        bytes memory cut = abi.encodeCall(IStaking.getValidator, (A));
        assembly {
            mstore(cut, 35)
        }
        (ok, out) = raw(ALICE, 0, cut);
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, IStaking.getValidator.selector));
        // Trailing bytes and dirty high bits are accepted (non-validating decoder).
        (ok, out) = raw(ALICE, 0, abi.encodePacked(abi.encodeCall(IStaking.candidates, ()), hex"0102"));
        require(ok && eq(abi.decode(out, (address[])), two(A, B)), "trailing bytes");
        uint256 dirty = (uint256(0xff) << 248) | uint160(A);
        (ok, out) = raw(ALICE, 0, abi.encodeWithSelector(IStaking.getValidator.selector, dirty));
        require(ok && abi.decode(out, (IStaking.Validator)).validator == A, "dirty address");
        (ok,) = raw(C, dbc(100), abi.encodeWithSelector(IStaking.registerValidator.selector, uint256(0x10000 + 300)));
        require(ok && val(C).commissionBps == 300, "uint16 truncated");
        // Dynamic arguments: an offset past the end, a length past the end.
        (ok, out) = raw(ALICE, 0, abi.encodeWithSelector(IStaking.submitDoubleSign.selector, uint256(0x1000), 64));
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, IStaking.submitDoubleSign.selector));
        (ok, out) = raw(ALICE, 0, abi.encodeWithSelector(IStaking.submitDoubleSign.selector, 64, 64, 1));
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, IStaking.submitDoubleSign.selector));
        bytes memory hook = abi.encodeWithSelector(IStaking.onBlock.selector, A, 64, 2, uint160(B));
        HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
        (ok, out) = DBC_STAKING.call(hook);
        expectErr(out, abi.encodeWithSelector(IStaking.UnknownSelector.selector, IStaking.onBlock.selector));
    }

    function test_electionPicksTopStakeAtEpochBoundariesOnly() public {
        boot();
        as_(C);
        STAKING.registerValidator{value: dbc(250)}(0);
        as_(ALICE);
        STAKING.delegate{value: dbc(10)}(C);
        block_(A, new address[](0));
        require(eq(STAKING.activeValidators(), two(A, B)), "mid-epoch: unchanged");
        advanceTo(9);
        HEVM.recordLogs();
        block_(A, new address[](0)); // block 10: the election for epoch 2
        require(block.number == 10, "10");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(eq(STAKING.activeValidators(), two(A, C)), "C (260) beats B (200)");
        require(!val(B).active && val(C).active, "flags");
        Vm.Log memory ev = logs[logs.length - 1];
        require(ev.topics[0] == IStaking.ValidatorSetElected.selector, "elected");
        require(ev.topics[1] == bytes32(uint256(2)), "epoch 2");
        require(keccak256(ev.data) == keccak256(abi.encode(two(A, C))), "A, C");
        // Below the minimum self-stake: not eligible.
        as_(C);
        STAKING.undelegate(C, dbc(200));
        blocks(10);
        require(eq(STAKING.activeValidators(), two(A, B)), "C dropped");
    }

    function test_downtimeJailsSlashesAndUnjailWaits() public {
        boot();
        block_(A, one(B));
        block_(A, one(B));
        require(val(B).missedThisEpoch == 2 && val(B).jailedUntil == 0, "counted");
        HEVM.recordLogs();
        block_(A, one(B));
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        bytes32[] memory t = topic0s(logs);
        require(t.length == 4 && t[0] == IStaking.BlockRewarded.selector, "the block's reward first");
        require(t[1] == IGovernance.TreasuryReceived.selector && logs[1].emitter == DBC_GOVERNANCE, "to the treasury");
        require(t[2] == IStaking.Slashed.selector && t[3] == IStaking.Jailed.selector, "events");
        require(logs[1].topics[1] == bytes32(uint256(SRC_VALIDATOR_SLASH)), "source 5");
        require(logs[1].topics[2] == bytes32(uint256(uint160(B))), "from the validator");
        require(abi.decode(logs[1].data, (uint256)) == dbc(2), "no reporter: all of it");
        IStaking.Validator memory b = val(B);
        require(b.jailedUntil == block.number + 4, "jailed");
        require(b.totalStake == dbc(198), "1% slashed");
        require(STAKING.totalBurned() == 0, "nothing burned");
        require(DBC_GOVERNANCE.balance == dbc(2) && GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(2), "treasury");
        require(DBC_STAKING.balance == dbc(523), "out of the staking balance");
        as_(B);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.StillJailed.selector, b.jailedUntil));
        STAKING.unjail();
        advanceTo(10);
        require(eq(STAKING.activeValidators(), one(A)), "jailed: left out");
        as_(B);
        STAKING.unjail();
        require(val(B).missedThisEpoch == 0, "missed reset");
        as_(B);
        HEVM.expectRevert(IStaking.NotJailed.selector);
        STAKING.unjail();
        advanceTo(20);
        require(eq(STAKING.activeValidators(), two(A, B)), "back");
    }

    function test_slashReducesEveryDelegationProRata() public {
        boot();
        as_(ALICE);
        STAKING.delegate{value: dbc(200)}(B);
        for (uint256 i = 0; i < 3; i++) {
            block_(A, one(B));
        }
        require(val(B).totalStake == dbc(396), "1% of 400");
        require(del(B, ALICE).amount == dbc(198) && del(B, B).amount == dbc(198), "pro rata");
    }

    function test_commissionIncreaseIsCappedAndDelayed() public {
        boot();
        as_(A);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.CommissionIncreaseTooLarge.selector, uint16(1_500)));
        STAKING.setCommission(1_501);
        HEVM.recordLogs();
        as_(A);
        STAKING.setCommission(1_500);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs[0].topics[0] == IStaking.CommissionChangeScheduled.selector, "scheduled");
        require(keccak256(logs[0].data) == keccak256(abi.encode(uint16(1_500), uint64(20))), "at 20");
        (uint16 bps, uint64 at) = STAKING.pendingCommission(A);
        require(bps == 1_500 && at == 20, "pending");
        block_(A, new address[](0));
        require(val(A).commissionBps == 1_000 && val(A).commissionOwed == dbc(2), "still 10%");
        as_(A);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.CommissionIncreaseTooLarge.selector, uint16(1_500)));
        STAKING.setCommission(2_000);
        advanceTo(19);
        require(val(A).commissionBps == 1_000, "19");
        advanceTo(20);
        require(val(A).commissionBps == 1_500, "20");
        (bps, at) = STAKING.pendingCommission(A);
        require(bps == 0 && at == 0, "applied");
        as_(A);
        STAKING.setCommission(2_000);
        HEVM.recordLogs();
        as_(A);
        STAKING.setCommission(500);
        logs = HEVM.getRecordedLogs();
        require(logs[0].topics[0] == IStaking.CommissionChanged.selector, "changed");
        require(val(A).commissionBps == 500, "decrease at once");
        (, at) = STAKING.pendingCommission(A);
        require(at == 0, "cancelled");
        as_(A);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.CommissionTooHigh.selector, uint16(5_000)));
        STAKING.setCommission(5_001);
        as_(C);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.NotRegistered.selector, C));
        STAKING.setCommission(0);
    }

    function test_candidatesBelowTheMinimumCanBeRemoved() public {
        StakingParams memory p = params();
        p.maxCandidates = 3;
        bootWith(p);
        as_(C);
        STAKING.registerValidator{value: dbc(100)}(0);
        as_(ALICE);
        STAKING.delegate{value: dbc(10)}(C);
        as_(D);
        HEVM.expectRevert(IStaking.TooManyCandidates.selector);
        STAKING.registerValidator{value: dbc(100)}(0);
        as_(D);
        HEVM.expectRevert(IStaking.CandidateNotRemovable.selector);
        STAKING.removeCandidate(C);
        as_(D);
        HEVM.expectRevert(IStaking.CandidateNotRemovable.selector);
        STAKING.removeCandidate(A);
        as_(C);
        STAKING.undelegate(C, dbc(100) - 1);
        as_(D);
        STAKING.removeCandidate(C);
        require(eq(STAKING.candidates(), two(A, B)), "removed");
        as_(D);
        STAKING.registerValidator{value: dbc(100)}(0);
        address[] memory abd = new address[](3);
        (abd[0], abd[1], abd[2]) = (A, B, D);
        require(eq(STAKING.candidates(), abd), "A, B, D");
        as_(D);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.NotRegistered.selector, C));
        STAKING.removeCandidate(C);
        as_(ALICE);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.NotRegistered.selector, C));
        STAKING.delegate{value: dbc(1)}(C);
        as_(ALICE);
        STAKING.claimRewards(C);
        as_(ALICE);
        STAKING.undelegate(C, dbc(10));
        as_(D);
        STAKING.undelegate(D, dbc(100));
        as_(A);
        STAKING.removeCandidate(D);
        as_(C);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.CommissionIncreaseTooLarge.selector, uint16(500)));
        STAKING.registerValidator{value: dbc(100)}(5_000);
        HEVM.recordLogs();
        as_(C);
        STAKING.registerValidator{value: dbc(100)}(500);
        bytes32[] memory t = topic0s(HEVM.getRecordedLogs());
        require(t.length == 3 && t[1] == IStaking.CommissionChangeScheduled.selector, "re-registration events");
        require(val(C).commissionBps == 0, "the increase waits");
        address[] memory abc = new address[](3);
        (abc[0], abc[1], abc[2]) = (A, B, C);
        require(eq(STAKING.candidates(), abc), "A, B, C");
    }

    // =================================================================== double signing

    bytes32 internal constant VANITY = bytes32("dbc");

    function rlpBytes(bytes memory b) internal pure returns (bytes memory) {
        if (b.length == 1 && uint8(b[0]) < 0x80) return b;
        return abi.encodePacked(lenPrefix(b.length, 0x80), b);
    }

    function lenPrefix(uint256 len, uint8 base) internal pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(base + len));
        if (len < 256) return abi.encodePacked(uint8(base + 56), uint8(len));
        return abi.encodePacked(uint8(base + 57), uint16(len));
    }

    function rlpUint(uint256 v) internal pure returns (bytes memory) {
        if (v == 0) return hex"80";
        uint256 n = 0;
        for (uint256 t = v; t != 0; t >>= 8) {
            n++;
        }
        bytes memory be = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            be[i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
        }
        return rlpBytes(be);
    }

    /// An RLP header (a London-style header with a base fee) with `extra` as extraData.
    function header(uint256 number, uint256 ts, uint256 salt, bytes memory extra) internal pure returns (bytes memory) {
        bytes memory h32 = rlpBytes(abi.encodePacked(bytes32(0)));
        bytes memory fields = abi.encodePacked(
            h32, // parentHash
            rlpBytes(abi.encodePacked(keccak256("ommers"))),
            rlpBytes(abi.encodePacked(address(0xfee))),
            h32,
            h32,
            h32
        );
        fields = abi.encodePacked(fields, rlpBytes(new bytes(256)), rlpUint(0), rlpUint(number)); // bloom, difficulty
        fields = abi.encodePacked(fields, rlpUint(30_000_000 + salt), rlpUint(0), rlpUint(ts)); // gas limit, used
        fields = abi.encodePacked(fields, rlpBytes(extra), h32, rlpBytes(new bytes(8)), rlpUint(7)); // mix, nonce, base fee
        return abi.encodePacked(lenPrefix(fields.length, 0xc0), fields);
    }

    /// The default consensus data: `ConsensusExtra { finality: [], randao: "" }`.
    bytes internal constant BODY = hex"c2c080";

    function sealWith(uint256 key, uint256 number, uint256 ts, uint256 salt, bytes memory body)
        internal
        pure
        returns (bytes memory seal)
    {
        bytes32 digest = keccak256(header(number, ts, salt, abi.encodePacked(VANITY, body)));
        (uint8 v, bytes32 r, bytes32 s) = HEVM.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function sealed_(uint256 key, uint256 number, uint256 ts, uint256 salt) internal pure returns (bytes memory) {
        bytes memory seal = sealWith(key, number, ts, salt, BODY);
        return header(number, ts, salt, abi.encodePacked(VANITY, BODY, seal));
    }

    /// The header of `sealed_(key, number, ts, salt)` with another seal.
    function resealed(uint256 number, uint256 ts, uint256 salt, bytes32 r, bytes32 s, uint8 v)
        internal
        pure
        returns (bytes memory)
    {
        return header(number, ts, salt, abi.encodePacked(VANITY, BODY, r, s, v));
    }

    function sigOf(uint256 key, uint256 number, uint256 ts, uint256 salt)
        internal
        pure
        returns (bytes32 r, bytes32 s, uint8 v)
    {
        (v, r, s) = HEVM.sign(key, keccak256(header(number, ts, salt, abi.encodePacked(VANITY, BODY))));
    }

    function submit(address who, bytes memory a, bytes memory b) internal returns (bool ok, bytes memory out) {
        return raw(who, 0, abi.encodeCall(IStaking.submitDoubleSign, (a, b)));
    }

    function expectInvalid(address who, bytes memory a, bytes memory b, string memory reason) internal {
        (bool ok, bytes memory out) = submit(who, a, b);
        require(!ok, reason);
        expectErr(out, abi.encodeWithSelector(IStaking.InvalidEvidence.selector, reason));
    }

    function test_doubleSignSlashesJailsAndPaysTheReporter() public {
        boot();
        bytes memory x = sealed_(B_KEY, 1, 100, 0);
        bytes memory y = sealed_(B_KEY, 1, 100, 1);
        expectInvalid(ALICE, x, x, "the headers are the same");
        expectInvalid(ALICE, x, sealed_(B_KEY, 1, 106, 1), "headers are for different slots");
        expectInvalid(ALICE, x, sealed_(X_KEY, 1, 100, 1), "sealed by different validators");
        expectInvalid(ALICE, x, hex"0102", "headers do not decode");
        uint256 before = ALICE.balance;
        HEVM.recordLogs();
        (bool ok,) = submit(ALICE, x, y);
        require(ok, "slashed");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 3, "TreasuryReceived + Slashed + Jailed");
        require(logs[0].topics[0] == IGovernance.TreasuryReceived.selector, "the treasury's share first");
        require(logs[0].emitter == DBC_GOVERNANCE, "from 0x0D04");
        require(logs[0].topics[1] == bytes32(uint256(SRC_VALIDATOR_SLASH)), "source 5");
        require(logs[0].topics[2] == bytes32(uint256(uint160(B))), "from the validator");
        require(abi.decode(logs[0].data, (uint256)) == dbc(16), "the rest after the reporter's 4");
        require(logs[1].topics[0] == IStaking.Slashed.selector, "slashed event");
        require(logs[1].topics[1] == bytes32(uint256(uint160(B))), "validator");
        require(keccak256(logs[1].data) == keccak256(abi.encode(dbc(20), uint8(1))), "20, double sign");
        require(logs[2].topics[0] == IStaking.Jailed.selector, "jailed event");
        IStaking.Validator memory v = val(B);
        require(v.totalStake == dbc(180) && v.jailedUntil == block.number + 4, "10% slashed, jailed");
        require(ALICE.balance - before == dbc(4), "20% of the slash to the reporter");
        require(STAKING.totalBurned() == 0, "nothing burned");
        require(DBC_GOVERNANCE.balance == dbc(16), "the rest to the treasury");
        require(GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(16) && GOV.treasury().received == dbc(16), "counted");
        require(DBC_STAKING.balance == dbc(525) - dbc(20), "out of the staking balance");
        bytes memory out;
        (ok, out) = submit(ALICE, y, x);
        require(!ok, "used");
        expectErr(out, abi.encodeWithSelector(IStaking.EvidenceAlreadyUsed.selector));
    }

    function test_forgedOrMalformedEvidenceIsRefused() public {
        boot();
        bytes memory x = sealed_(B_KEY, 1, 100, 0);
        (bytes32 r, bytes32 s, uint8 v) = sigOf(B_KEY, 1, 100, 0);
        // A trailing byte; the same seal re-encoded (v 0/1, or the high-s twin): no evidence.
        expectInvalid(C, x, abi.encodePacked(x, hex"00"), "headers do not decode");
        bytes memory v01 = resealed(1, 100, 0, r, s, v - 27);
        expectInvalid(C, x, v01, "the headers are the same");
        bytes memory highS = resealed(1, 100, 0, r, bytes32(N - uint256(s)), v == 27 ? 28 : 27);
        expectInvalid(C, x, highS, "the headers are the same");
        expectInvalid(C, v01, highS, "the headers are the same");
        // Non-canonical seals next to a genuinely different header.
        (r, s, v) = sigOf(B_KEY, 1, 100, 1);
        expectInvalid(C, x, resealed(1, 100, 1, r, s, v - 27), "invalid signature: non-canonical v (27 or 28 expected)");
        expectInvalid(C, x, resealed(1, 100, 1, r, s, 5), "invalid signature: invalid parity: 5");
        expectInvalid(
            C, x, resealed(1, 100, 1, r, bytes32(N - uint256(s)), v), "invalid signature: non-canonical s (high s)"
        );
        expectInvalid(C, x, resealed(1, 100, 1, 0, s, v), "invalid signature: non-canonical signature encoding");
        expectInvalid(
            C, x, resealed(1, 100, 1, bytes32(type(uint256).max), s, v), "invalid signature: malformed signature"
        );
        // Malformed extraData (reported for the first header).
        bytes memory shortExtra = header(1, 100, 2, new bytes(70));
        expectInvalid(C, shortExtra, x, "malformed extraData: 70 bytes, at least 97 expected");
        bytes memory seal = new bytes(65);
        expectInvalid(
            C, header(1, 100, 3, abi.encodePacked(VANITY, hex"80", seal)), x, "malformed extraData: unexpected string"
        );
        expectInvalid(
            C,
            header(1, 100, 3, abi.encodePacked(VANITY, hex"c3c08000", seal)),
            x,
            "malformed extraData: unexpected list length (got 2, expected 3)"
        );
        expectInvalid(
            C,
            header(1, 100, 3, abi.encodePacked(VANITY, hex"c2c08000", seal)),
            x,
            "malformed extraData: trailing bytes before the seal"
        );
        expectInvalid(
            C,
            header(1, 100, 3, abi.encodePacked(VANITY, hex"c3c08100", seal)),
            x,
            "malformed extraData: non-canonical single byte"
        );
        expectInvalid(
            C, header(1, 100, 3, abi.encodePacked(VANITY, hex"c2c1", seal)), x, "malformed extraData: input too short"
        );
        // A finality proof whose number is not canonical.
        expectInvalid(
            C,
            header(1, 100, 3, abi.encodePacked(VANITY, hex"c5c4c300c080", seal)),
            x,
            "malformed extraData: leading zero"
        );
        // A well-formed proof with one signature is accepted (and then the seal is checked).
        bytes memory proof = abi.encodePacked(hex"e5", hex"01", hex"a0", bytes32(uint256(5)), hex"c281aa");
        bytes memory body = abi.encodePacked(hex"e8", abi.encodePacked(hex"e6", proof), hex"80");
        bytes memory sealB = sealWith(B_KEY, 1, 100, 4, body);
        bytes memory z = header(1, 100, 4, abi.encodePacked(VANITY, body, sealB));
        // Not a validator; too old.
        expectInvalid(C, sealed_(X_KEY, 1, 100, 0), sealed_(X_KEY, 1, 100, 1), "the signer is not a validator");
        advanceTo(7);
        expectInvalid(C, x, z, "evidence older than the unbonding period");
        require(val(B).totalStake == dbc(200) && val(B).jailedUntil == 0 && STAKING.totalBurned() == 0, "untouched");
        (bool ok,) = submit(C, sealed_(B_KEY, 6, 160, 0), z = sealed_(B_KEY, 6, 160, 1));
        require(ok, "the real double sign still slashes");
        require(val(B).totalStake == dbc(180), "slashed");
    }

    function test_evidenceWithExtendedProofsIsAccepted() public {
        boot();
        bytes memory proof = abi.encodePacked(hex"e5", hex"01", hex"a0", bytes32(uint256(5)), hex"c281aa");
        bytes memory body = abi.encodePacked(hex"e8", abi.encodePacked(hex"e6", proof), hex"80");
        bytes memory z = header(1, 100, 4, abi.encodePacked(VANITY, body, sealWith(B_KEY, 1, 100, 4, body)));
        (bool ok, bytes memory out) = submit(C, sealed_(B_KEY, 1, 100, 0), z);
        require(ok, string(out));
        require(val(B).totalStake == dbc(180), "slashed");
    }

    function test_undelegatingAfterDoubleSigningDoesNotEscapeTheSlash() public {
        boot();
        as_(ALICE);
        STAKING.delegate{value: dbc(100)}(B);
        bytes memory x = sealed_(B_KEY, 2, 104, 0);
        bytes memory y = sealed_(B_KEY, 2, 104, 1);
        blocks(2);
        as_(B);
        STAKING.undelegate(B, dbc(200));
        as_(ALICE);
        STAKING.undelegate(B, dbc(100));
        require(val(B).totalStake == 0, "all undelegated");
        (uint256 amount, uint64 release) = unb(B);
        require(amount == dbc(200) && release == 15, "from the election at 10");
        uint256 before = C.balance;
        (bool ok,) = submit(C, x, y);
        require(ok, "slashed");
        require(C.balance - before == dbc(6), "20% of the 10% of 300 cut from unbonding");
        require(STAKING.totalBurned() == 0 && GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(24), "to the treasury");
        (amount,) = unb(B);
        require(amount == dbc(180), "B unbonding");
        (amount,) = unb(ALICE);
        require(amount == dbc(90), "alice unbonding");
        advanceTo(14);
        as_(B);
        HEVM.expectRevert(abi.encodeWithSelector(IStaking.StillUnbonding.selector, uint64(15)));
        STAKING.withdraw();
        blocks(1);
        as_(B);
        require(STAKING.withdraw() == dbc(180), "B");
        as_(ALICE);
        require(STAKING.withdraw() == dbc(90), "alice");
        require(DBC_STAKING.balance == dbc(300) + dbc(25), "A's stake, unclaimed rewards and the pool left");
    }

    function test_unbondingStartedBeforeTheInfractionIsNotSlashed() public {
        boot();
        as_(ALICE);
        STAKING.delegate{value: dbc(100)}(B);
        as_(ALICE);
        STAKING.undelegate(B, dbc(100));
        advanceTo(12);
        bytes memory x = sealed_(B_KEY, 12, 124, 0);
        bytes memory y = sealed_(B_KEY, 12, 124, 1);
        blocks(1);
        (bool ok,) = submit(C, x, y);
        require(ok, "slashed");
        require(val(B).totalStake == dbc(180), "bonded cut");
        (uint256 amount, uint64 release) = unb(ALICE);
        require(amount == dbc(100) && release == 15, "earlier unbonding untouched");
        advanceTo(15);
        as_(ALICE);
        require(STAKING.withdraw() == dbc(100), "paid in full");
    }

    function test_theOffenderIsNotPaidTheReporterShare() public {
        boot();
        uint256 before = B.balance;
        (bool ok,) = submit(B, sealed_(B_KEY, 1, 100, 0), sealed_(B_KEY, 1, 100, 1));
        require(ok, "slashed");
        require(B.balance == before, "no reward to the offender");
        require(GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(20), "all to the treasury");
        // Submitted by another account in a transaction the offender sent: no reward either.
        HEVM.prank(C, B);
        (ok,) = DBC_STAKING.call(
            abi.encodeCall(IStaking.submitDoubleSign, (sealed_(B_KEY, 2, 104, 0), sealed_(B_KEY, 2, 104, 1)))
        );
        require(ok && C.balance == dbc(10_000), "origin is the offender: no reward");
        require(GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(20) + dbc(18), "all to the treasury");
        require(DBC_GOVERNANCE.balance == dbc(38) && STAKING.totalBurned() == 0, "none burned");
    }

    /// `slashTreasuryBps` below 100%: of the rest after the reporter's share, that share goes
    /// to the treasury (counted and logged first) and the remainder is burned (and counted).
    function test_slashTreasuryShareAndBurnSplitTheRest() public {
        StakingParams memory p = params();
        p.slashTreasuryBps = 2_500;
        bootWith(p);
        uint256 before = ALICE.balance;
        HEVM.recordLogs();
        (bool ok,) = submit(ALICE, sealed_(B_KEY, 1, 100, 0), sealed_(B_KEY, 1, 100, 1));
        require(ok, "slashed");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        // 10% of 200 = 20: 4 to the reporter; of the 16 left, 25% (4) to the treasury, 12 burned.
        require(ALICE.balance - before == dbc(4), "reporter");
        require(logs.length == 3 && logs[0].topics[0] == IGovernance.TreasuryReceived.selector, "treasury first");
        require(abi.decode(logs[0].data, (uint256)) == dbc(4), "25% of the rest");
        require(logs[1].topics[0] == IStaking.Slashed.selector, "then Slashed");
        require(keccak256(logs[1].data) == keccak256(abi.encode(dbc(20), uint8(1))), "the whole slash");
        require(DBC_GOVERNANCE.balance == dbc(4) && GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(4), "treasury");
        require(STAKING.totalBurned() == dbc(12), "the remainder burned");
        require(DBC_STAKING.balance == dbc(525) - dbc(20), "all of it left the staking balance");
        // A downtime slash (no reporter) of A: 1% of 300 = 3; 0.75 to the treasury, 2.25 burned.
        for (uint256 i = 0; i < 3; i++) {
            block_(B, one(A));
        }
        require(val(A).totalStake == dbc(297), "A slashed 1%");
        require(GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(4) + dbc(75) / 100, "A's share counted");
        require(STAKING.totalBurned() == dbc(12) + dbc(225) / 100, "and burned");
        require(GOV.treasury().received == dbc(475) / 100, "received in all");
    }

    /// At the burn floor a slash burns only the headroom (`GovernanceSol.burnHeadroom`); the
    /// rest of its burned part goes to the treasury (source 8, from the staking account), after
    /// the treasury's own share and before `Slashed`. Once the block's headroom is used up,
    /// later slashes burn nothing.
    function test_slashBurnStopsAtTheBurnFloor() public {
        StakingParams memory p = params();
        p.slashTreasuryBps = 2_500;
        bootWith(p);
        // The governance stand-in (uninitialised: the dev chain's genesis supply and floor)
        // with the supply 5 DBC above the floor.
        uint256 supply = 10_000_000_000 ether;
        uint256 floor = GOV.burnFloor();
        HEVM.store(DBC_GOVERNANCE, bytes32(uint256(4)), bytes32(uint256(int256(floor + dbc(5)) - int256(supply))));
        require(GOV.burnHeadroom() == dbc(5), "5 DBC of headroom");
        HEVM.recordLogs();
        (bool ok,) = submit(ALICE, sealed_(B_KEY, 1, 100, 0), sealed_(B_KEY, 1, 100, 1));
        require(ok, "slashed");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        // 10% of 200 = 20: 4 to the reporter; of the 16 left, 4 to the treasury (source 5), 12 to
        // burn of which 5 are burned and 7 go to the treasury (source 8).
        require(logs.length == 4, "TreasuryReceived x2 + Slashed + Jailed");
        require(logs[0].topics[0] == IGovernance.TreasuryReceived.selector, "the treasury's share");
        require(logs[0].topics[1] == bytes32(uint256(SRC_VALIDATOR_SLASH)) && abi.decode(logs[0].data, (uint256)) == dbc(4), "5");
        require(logs[1].topics[0] == IGovernance.TreasuryReceived.selector && logs[1].emitter == DBC_GOVERNANCE, "then 8");
        require(logs[1].topics[1] == bytes32(uint256(8)), "source 8: burn above the floor");
        require(logs[1].topics[2] == bytes32(uint256(uint160(DBC_STAKING))), "from the staking account");
        require(abi.decode(logs[1].data, (uint256)) == dbc(7), "what the floor stopped");
        require(logs[2].topics[0] == IStaking.Slashed.selector, "then Slashed");
        require(keccak256(logs[2].data) == keccak256(abi.encode(dbc(20), uint8(1))), "the whole slash");
        require(STAKING.totalBurned() == dbc(5), "only the headroom burned");
        require(GOV.treasuryReceived(SRC_VALIDATOR_SLASH) == dbc(4) && GOV.treasuryReceived(8) == dbc(7), "counted");
        require(DBC_GOVERNANCE.balance == dbc(11), "both shares in the treasury");
        require(DBC_STAKING.balance == dbc(525) - dbc(20), "all of it left the staking balance");
        require(GOV.burnHeadroom() == 0 && uint256(HEVM.load(DBC_GOVERNANCE, bytes32(uint256(5)))) == dbc(5), "pending");
        // A downtime slash of A before any governance hook: 3, 0.75 to the treasury, 2.25 that
        // cannot be burned.
        for (uint256 i = 0; i < 3; i++) {
            block_(B, one(A));
        }
        require(val(A).totalStake == dbc(297), "A slashed 1%");
        require(STAKING.totalBurned() == dbc(5), "nothing more burned");
        require(GOV.treasuryReceived(8) == dbc(7) + dbc(225) / 100, "all of it to the treasury");
    }

    /// Nothing of a slash to the treasury: no inflow, no TreasuryReceived, all of the rest burned.
    function test_noTreasuryShareBurnsTheRest() public {
        StakingParams memory p = params();
        p.slashTreasuryBps = 0;
        bootWith(p);
        HEVM.recordLogs();
        (bool ok,) = submit(ALICE, sealed_(B_KEY, 1, 100, 0), sealed_(B_KEY, 1, 100, 1));
        require(ok, "slashed");
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(logs.length == 2 && logs[0].topics[0] == IStaking.Slashed.selector, "Slashed + Jailed only");
        require(STAKING.totalBurned() == dbc(16) && DBC_GOVERNANCE.balance == 0, "burned");
        require(GOV.treasury().received == 0, "nothing received");
    }

    /// The block reward follows the schedule: 8 DBC a block in era 0 (blocks 1-3), half of it in
    /// era 1 (4-6), the rest of a 40 DBC pool spread over era 2 (7-9, the last: 4 / 3 DBC a
    /// block, rounded down), then nothing; 1 wei of the pool stays unspent.
    function test_blockRewardFollowsTheEmissionSchedule() public {
        StakingParams memory p = params();
        p.emission = Emission({eraBlocks: 3, initialPerBlock: dbc(8), flatEras: 1, decayBps: 5_000, endEra: 3});
        p.rewardPool = dbc(40);
        bootWith(p); // block 1
        uint256 last = dbc(4) / 3;
        uint256[10] memory want = [dbc(8), dbc(8), dbc(8), dbc(4), dbc(4), dbc(4), last, last, last, 0];
        require(STAKING.rewardPoolRemaining() == dbc(40) - want[0], "block 1");
        uint256 paid = want[0];
        for (uint256 n = 2; n <= 10; n++) {
            HEVM.recordLogs();
            block_(B, new address[](0));
            require(block.number == n, "block");
            Vm.Log[] memory logs = HEVM.getRecordedLogs();
            paid += want[n - 1];
            if (want[n - 1] == 0) {
                // Block 10 ends the epoch: only the election's log, no reward.
                require(logs.length == 1 && logs[0].topics[0] == IStaking.ValidatorSetElected.selector, "no reward");
            } else {
                require(logs.length == 1 && logs[0].topics[0] == IStaking.BlockRewarded.selector, "rewarded");
                require(keccak256(logs[0].data) == keccak256(abi.encode(want[n - 1], 0)), "the era's rate");
            }
            require(STAKING.rewardPoolRemaining() == dbc(40) - paid, "paid out of the pool");
        }
        require(STAKING.rewardPoolRemaining() == 1, "the last era's rounding stays in the pool");
    }

    function test_activeSelfStakeStaysAtRiskUntilTheElection() public {
        boot();
        blocks(1);
        as_(B);
        STAKING.undelegate(B, dbc(200));
        (uint256 amount, uint64 release) = unb(B);
        require(amount == dbc(200) && release == 15, "not released at 2 + 5");
        require(eq(STAKING.activeValidators(), two(A, B)), "counted until the election");
        for (uint256 i = 0; i < 3; i++) {
            block_(A, one(B));
        }
        (amount,) = unb(B);
        require(amount == dbc(198), "the downtime slash reaches the unbonding");
        advanceTo(10);
        require(eq(STAKING.activeValidators(), one(A)), "dropped");
        advanceTo(15);
        as_(B);
        require(STAKING.withdraw() == dbc(198), "paid");
    }
}

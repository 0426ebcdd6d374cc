// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HEVM} from "../Vm.sol";
import {DBC_MARKET, DBC_MINING} from "../DbcAddresses.sol";
import {IMiningGradeHook} from "../MockHooks.sol";
import {BPS, max64, mulDiv} from "../common/CheckedMath.sol";
import {blockNow, payByCarrier, burnByCarrier} from "../common/Host.sol";
import {Emission, yearlyEmission, YEAR_BLOCKS} from "../common/Emission.sol";
import {treasuryReceive, reserveBurn, SOURCE_BURN_FLOOR} from "../common/Treasury.sol";

// Base of `GpuMarketSol`: the market's parameters, record tags and constants, the market's own
// math (`math.rs`), value movements and the mining hook. The storage primitives of the node's
// layout (`store.rs`), checked arithmetic and the value carriers are shared with mining and
// staking (`../common/`). Every function mirrors the Rust function of the same name.

/// A row of the GPU-model table (`MarketParams.gpu_models`): `model` is the name as the ABI's
/// `bytes32` (left-aligned, zero-padded, e.g. `bytes32("RTX 4090")`).
struct GpuModelRow {
    bytes32 model;
    uint32 calcPoint;
    uint32 memoryGb;
}

/// A burn tier: from `fromGpus` GPUs on, `bps` of rent is burned.
struct BurnTierRow {
    uint64 fromGpus;
    uint16 bps;
}

/// A slash tier: an offline period shorter than `underBlocks` costs `bps` of the stake.
/// `underBlocks == type(uint64).max` stands for the Rust `None` (the unbounded last tier; a
/// genesis cannot hold `Some(u64::MAX)`: durations are at most 10^12 blocks).
struct SlashTierRow {
    uint64 underBlocks;
    uint16 bps;
}

/// The market's genesis parameters (`config.dbc.market`, Rust `dbc_chainspec::MarketParams`),
/// field for field in the same order and units (wei, blocks, basis points).
/// `burnTierBasisRegistered` is `burnTierBasis == "registered"` (false: `"online"`, the default).
struct GpuMarketParams {
    uint256 stakePerGpu;
    uint256 auditorStake;
    uint16 auditorPenaltyBps;
    uint16 auditorRewardBps;
    uint64 drawDelayBlocks;
    uint64 commitWindowBlocks;
    uint64 revealWindowBlocks;
    uint16 rejectSlashBps;
    uint32 standardCalcPoint;
    GpuModelRow[] gpuModels;
    uint16 calcPointToleranceBps;
    uint64 challengeCheckBlocks;
    uint16 challengeChanceBps;
    uint256 standardPricePerGpuBlock;
    uint16 minPriceBps;
    uint64 rentUnitBlocks;
    uint64 maxRentBlocks;
    BurnTierRow[] burnTiers;
    bool burnTierBasisRegistered;
    Emission emission;
    uint64 epochBlocks;
    uint256 rewardPool;
    uint16 immediateBps;
    uint64 vestingBlocks;
    uint16 rentedBonusBps;
    uint64 heartbeatTimeoutBlocks;
    uint64 minOnlineBlocks;
    uint64 exitCooldownBlocks;
    SlashTierRow[] ownerOfflineSlash;
    SlashTierRow[] unreachableSlash;
    uint16 slashRenterBps;
    uint16 slashAuditorsBps;
    uint256 reportDeposit;
    uint32 maxProjectsPerMachine;
}

/// `MarketParams::default()`: the parameters of the dev chain (`genesis/dev.json` has no
/// `config.dbc.market`). Tests may change a field and pass the result to `GpuMarketSol.init`.
function gpuMarketDevParams() pure returns (GpuMarketParams memory p) {
    uint256 dbc = 1e18;
    uint64 day = 14_400;
    p.stakePerGpu = 1_000 * dbc;
    p.auditorStake = 10_000 * dbc;
    p.auditorPenaltyBps = 1_000;
    p.auditorRewardBps = 100;
    p.drawDelayBlocks = 2;
    p.commitWindowBlocks = 600;
    p.revealWindowBlocks = 600;
    p.rejectSlashBps = 500;
    p.standardCalcPoint = 1_000;
    p.gpuModels = new GpuModelRow[](8);
    p.gpuModels[0] = GpuModelRow(bytes32("RTX 3080"), 420, 10);
    p.gpuModels[1] = GpuModelRow(bytes32("RTX 3090"), 500, 24);
    p.gpuModels[2] = GpuModelRow(bytes32("RTX 4080"), 600, 16);
    p.gpuModels[3] = GpuModelRow(bytes32("RTX 4090"), 1_000, 24);
    p.gpuModels[4] = GpuModelRow(bytes32("RTX 5090"), 1_270, 32);
    p.gpuModels[5] = GpuModelRow(bytes32("A100 40GB"), 1_890, 40);
    p.gpuModels[6] = GpuModelRow(bytes32("A100 80GB"), 1_890, 80);
    p.gpuModels[7] = GpuModelRow(bytes32("H100 80GB"), 6_000, 80);
    p.calcPointToleranceBps = 1_000;
    p.challengeCheckBlocks = 600;
    p.challengeChanceBps = 417;
    p.standardPricePerGpuBlock = dbc / 100;
    p.minPriceBps = 5_000;
    p.rentUnitBlocks = 300;
    p.maxRentBlocks = 60 * day;
    p.burnTiers = new BurnTierRow[](3);
    p.burnTiers[0] = BurnTierRow(0, 3_000);
    p.burnTiers[1] = BurnTierRow(5_001, 7_000);
    p.burnTiers[2] = BurnTierRow(10_000, 10_000);
    p.burnTierBasisRegistered = false;
    // 400M DBC a year for 3 years, then 12.5% less each year; the 100th year releases the rest.
    p.emission = yearlyEmission((400_000_000 * dbc) / YEAR_BLOCKS);
    p.epochBlocks = day;
    p.rewardPool = 4_000_000_000 * dbc;
    p.immediateBps = 2_500;
    p.vestingBlocks = 150 * day;
    p.rentedBonusBps = 3_000;
    p.heartbeatTimeoutBlocks = 100;
    p.minOnlineBlocks = 365 * day;
    p.exitCooldownBlocks = 10 * day;
    p.ownerOfflineSlash = new SlashTierRow[](4);
    p.ownerOfflineSlash[0] = SlashTierRow(70, 200);
    p.ownerOfflineSlash[1] = SlashTierRow(2 * day, 400);
    p.ownerOfflineSlash[2] = SlashTierRow(5 * day, 3_000);
    p.ownerOfflineSlash[3] = SlashTierRow(type(uint64).max, 5_000);
    p.unreachableSlash = new SlashTierRow[](4);
    p.unreachableSlash[0] = SlashTierRow(70, 400);
    p.unreachableSlash[1] = SlashTierRow(2 * day, 800);
    p.unreachableSlash[2] = SlashTierRow(5 * day, 6_000);
    p.unreachableSlash[3] = SlashTierRow(type(uint64).max, 10_000);
    p.slashRenterBps = 1_000;
    p.slashAuditorsBps = 2_000;
    p.reportDeposit = 100 * dbc;
    p.maxProjectsPerMachine = 3;
}

abstract contract MarketBase {
    // ---- treasury inflow sources (`IGovernance.TreasuryReceived.source`) ----
    uint8 internal constant SRC_MACHINE_SLASH = 1;
    uint8 internal constant SRC_AUDITOR_PENALTY = 2;
    uint8 internal constant SRC_REJECTED_MACHINE = 3;
    uint8 internal constant SRC_LOST_REPORT_DEPOSIT = 4;

    // ---- record tags (store.rs) ----
    uint256 internal constant T_MACHINE = 1;
    uint256 internal constant T_MACHINE_AT = 2;
    uint256 internal constant T_ROUND_MACHINE = 3;
    uint256 internal constant T_ROUND_REPORT = 4;
    uint256 internal constant T_RENTAL = 5;
    uint256 internal constant T_REPORT = 6;
    uint256 internal constant T_AUDITOR = 7;
    uint256 internal constant T_COMMITTEE = 8;
    uint256 internal constant T_ACCOUNT = 9;
    // T_TRANCHE = 10: the accounts' vesting tranches (`../common/RewardAccount.sol`)
    uint256 internal constant T_QUEUE = 11;
    uint256 internal constant T_RENTAL_REPORT = 12;
    uint256 internal constant T_OWNER_MACHINES = 13;
    uint256 internal constant T_RENTAL_SEGMENT = 14;
    uint256 internal constant T_MACHINE_RENTALS = 15;
    /// A machine's published endpoint: `0` → length in bytes, `1..=4` → 32-byte chunks.
    uint256 internal constant T_ENDPOINT = 16;

    // ---- global slots (store.rs) ----
    uint256 internal constant G_MACHINES = 0;
    uint256 internal constant G_RENTALS = 1;
    uint256 internal constant G_REPORTS = 2;
    uint256 internal constant G_TOTAL_GPUS = 3;
    uint256 internal constant G_ONLINE_GPUS = 4;
    uint256 internal constant G_RENTED_GPUS = 5;
    uint256 internal constant G_BURNED = 6;
    uint256 internal constant G_DISTRIBUTED = 7;
    uint256 internal constant G_ACC = 8;
    uint256 internal constant G_LAST_REWARD = 9;
    uint256 internal constant G_TOTAL_GRADE = 10;
    uint256 internal constant G_FEES_BURNED = 11;
    uint256 internal constant G_COMMITTEE = 12;
    uint256 internal constant G_CURSOR = 13;
    uint256 internal constant G_COMMITTEE_SEQ = 14;

    // ---- machine status, offline reasons, round phases, rental status (records.rs) ----
    uint8 internal constant S_NONE = 0;
    uint8 internal constant S_VERIFYING = 1;
    uint8 internal constant S_ONLINE = 2;
    uint8 internal constant S_OFFLINE = 3;
    uint8 internal constant S_REJECTED = 4;
    uint8 internal constant S_EXITED = 5;
    uint8 internal constant R_NONE = 0;
    uint8 internal constant R_IDLE = 1;
    uint8 internal constant R_OWNER_OFFLINE = 2;
    uint8 internal constant R_UNREACHABLE = 3;
    uint8 internal constant P_DRAWING = 1;
    uint8 internal constant P_COMMIT = 2;
    uint8 internal constant P_REVEAL = 3;
    uint8 internal constant P_DONE = 4;
    uint8 internal constant RS_ACTIVE = 1;
    uint8 internal constant RS_ENDED = 2;

    // ---- hook queue item kinds (market/mod.rs) ----
    uint8 internal constant I_DRAW = 1;
    uint8 internal constant I_COMMIT_END = 2;
    uint8 internal constant I_REVEAL_END = 3;
    uint8 internal constant I_HEARTBEAT_CHECK = 4;
    uint8 internal constant I_RENTAL_END = 5;
    uint8 internal constant I_REPORT_DRAW = 6;
    uint8 internal constant I_REPORT_COMMIT_END = 7;
    uint8 internal constant I_REPORT_REVEAL_END = 8;
    uint8 internal constant I_CHALLENGE_CHECK = 9;
    uint8 internal constant I_FAIL_MACHINE = 10;

    // ---- constants (market/mod.rs, liveness.rs, records.rs, math.rs) ----
    uint64 internal constant HOOK_MAX_ITEMS = 256;
    uint8 internal constant MAX_RENTAL_EXTENSIONS = 16;
    uint64 internal constant DRAW_TRIES = 256;
    uint64 internal constant INLINE_RENTAL_ENDS = 16;
    uint256 internal constant AUDITOR_WEIGHT_CAP = 4;
    uint64 internal constant HEARTBEAT_MAX_AGE = 64;
    uint256 internal constant PER_GPU_SCALE = 1e12;
    bytes4 internal constant HOOK_SELECTOR = 0x4fca0bcd;

    // ---- storage of this stand-in that the node does not have (hashed, far from the node's
    // layout, which `GpuMarketSol` reproduces slot for slot) ----
    bytes32 internal constant PARAMS_SLOT = keccak256("dbc.GpuMarketSol.params");
    uint256 internal constant INIT_SLOT = uint256(keccak256("dbc.GpuMarketSol.initialized"));
    /// Transient flag: set while the block hook runs (its logs are dropped, as on the node).
    uint256 internal constant HOOK_RUNNING_TSLOT = uint256(keccak256("dbc.GpuMarketSol.hookRunning"));
    /// Transient scratch slot of the static-context probe.
    uint256 internal constant PROBE_TSLOT = uint256(keccak256("dbc.GpuMarketSol.probe"));

    /// A broken invariant (the market's balance cannot cover a payment): the node aborts the
    /// block (`Fail::Fatal`); here the call reverts with this error (never skipped by the hook).
    error GpuMarketSolFatal(string reason);

    // =========================================================================================
    // parameters

    function _p() internal pure returns (GpuMarketParams storage p) {
        bytes32 s = PARAMS_SLOT;
        assembly {
            p.slot := s
        }
    }

    /// The table row of `model` (`MarketParams::gpu_model`); `found` false if none.
    function _gpuModel(bytes32 model) internal view returns (bool found, uint32 calcPoint, uint32 memoryGb) {
        GpuModelRow[] storage rows = _p().gpuModels;
        uint256 n = rows.length;
        for (uint256 i; i < n; i++) {
            if (rows[i].model == model) return (true, rows[i].calcPoint, rows[i].memoryGb);
        }
        return (false, 0, 0);
    }

    // =========================================================================================
    // math.rs (the helpers mining and staking share are in `../common/CheckedMath.sol`)

    /// The share of rent burned while `gpus` GPUs count: the last tier whose `fromGpus` is at
    /// most `gpus` (`math::burn_bps`).
    function _burnBps(uint64 gpus) internal view returns (uint16 bps) {
        BurnTierRow[] storage tiers = _p().burnTiers;
        uint256 n = tiers.length;
        for (uint256 i; i < n; i++) {
            if (tiers[i].fromGpus > gpus) break;
            bps = tiers[i].bps;
        }
    }

    /// Slash share for an offline period of `blocks` (`math::slash_bps`).
    function _slashBps(SlashTierRow[] storage tiers, uint64 blocks) internal view returns (uint16) {
        uint256 n = tiers.length;
        for (uint256 i; i < n; i++) {
            uint64 u = tiers[i].underBlocks;
            if (u == type(uint64).max || blocks < u) return tiers[i].bps;
        }
        return 0;
    }

    /// Reward grade of an online machine (`math::grade`).
    function _gradeOf(uint32 calcPoint, uint32 gpus) internal pure returns (uint256) {
        return uint256(calcPoint) * uint256(gpus) * BPS;
    }

    /// Unused share of `paid` for a rental ended at `now` (`math::prorata_refund`).
    function _prorataRefund(uint256 paid, uint64 start, uint64 end, uint64 now_) internal pure returns (uint256) {
        if (now_ >= end || end <= start) return 0;
        uint64 left = end - max64(now_, start);
        return mulDiv(paid, left, end - start);
    }

    // =========================================================================================
    // chain (host.rs; the block number is `blockNow()` of `../common/Host.sol`)

    /// The block's randomness as the node's host derives it: keccak256(prevrandao ‖ number).
    function _randomness() internal view returns (bytes32) {
        return keccak256(abi.encodePacked(block.prevrandao, block.number));
    }

    /// Hash of one of the 256 blocks before this one, zero otherwise (`Host::block_hash`).
    function _blockHash(uint64 number) internal view returns (bytes32) {
        uint64 now_ = blockNow();
        if (number >= now_ || now_ - number > 256) return bytes32(0);
        return blockhash(number);
    }

    // =========================================================================================
    // value: plain balance credits that run no code, undone with the call frame

    /// Pays `amount` out of the market (`Ctx::pay`) through a carrier (`payByCarrier`): no code
    /// of `to` runs, and a revert of the calling frame undoes it.
    function _pay(address to, uint256 amount) internal {
        if (address(this).balance < amount) revert GpuMarketSolFatal("market balance too low for a payment");
        if (!payByCarrier(to, amount)) revert GpuMarketSolFatal("payment failed");
    }

    /// `treasury::receive(ctx, source, from, amount)`: pays `amount` to the treasury (the
    /// governance account `DBC_GOVERNANCE`), which counts it for `source` and logs
    /// `TreasuryReceived(source, from, amount)` (not in the block hook, whose logs are dropped).
    /// Nothing for a zero amount.
    function _payTreasury(uint8 source, address from, uint256 amount) internal {
        if (address(this).balance < amount) revert GpuMarketSolFatal("market balance too low for a payment");
        if (!treasuryReceive(source, from, amount, _logs())) revert GpuMarketSolFatal("payment failed");
    }

    /// Removes `amount` from the market's balance and from the supply (`Ctx::burn`) through a
    /// carrier (`burnByCarrier`).
    function _burn(uint256 amount) internal {
        if (address(this).balance < amount) revert GpuMarketSolFatal("market balance too low for a burn");
        if (!burnByCarrier(amount)) revert GpuMarketSolFatal("burn failed");
    }

    /// `supply::burn_capped`: burns as much of `amount` (held by the market) as the burn floor
    /// allows in this block (`reserveBurn`, which counts it in the block's pending burns), pays
    /// the rest to the treasury (source 8, from the market) and returns what was burned.
    function _burnCapped(uint256 amount) internal returns (uint256 burned) {
        burned = reserveBurn(amount);
        if (burned != 0) _burn(burned);
        _payTreasury(SOURCE_BURN_FLOOR, address(this), amount - burned);
    }

    // =========================================================================================
    // logs and the mining hook

    /// Whether events are emitted: not while the block hook runs (the node runs it as a system
    /// call without a receipt, so its logs are dropped).
    function _logs() internal view returns (bool) {
        uint256 v;
        uint256 s = HOOK_RUNNING_TSLOT;
        assembly {
            v := tload(s)
        }
        return v == 0;
    }

    function _setHookRunning(bool on) internal {
        uint256 s = HOOK_RUNNING_TSLOT;
        assembly {
            tstore(s, on)
        }
    }

    /// `crate::mining::on_grade_change(ctx, machine, grade)`: tells the project mining at
    /// `DBC_MINING` (if code is installed there) that `machine`'s grade changed.
    function _onGradeChange(bytes32 machine, uint256 grade) internal {
        if (DBC_MINING.code.length == 0) return;
        (bool ok, bytes memory ret) =
            DBC_MINING.call(abi.encodeCall(IMiningGradeHook.onGradeChange, (machine, grade)));
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    /// The market's own address as the node knows it (reporter of liveness challenges).
    function _market() internal pure returns (address) {
        return DBC_MARKET;
    }
}

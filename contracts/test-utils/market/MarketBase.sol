// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../../src/interfaces/IGpuMarket.sol";
import {HEVM} from "../Vm.sol";
import {DBC_MARKET, DBC_MINING} from "../DbcAddresses.sol";
import {IMiningGradeHook} from "../MockHooks.sol";

// Base of `GpuMarketSol`: the market's parameters, the storage primitives of the node's layout
// (`crates/precompiles/src/store.rs`), checked arithmetic (`math.rs`), value movements and the
// mining hook. Every function mirrors the Rust function of the same name.

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
    uint256 rewardPerEpoch;
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
    address treasury;
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
    p.rewardPerEpoch = (400_000_000 * dbc) / 365;
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
    p.treasury = address(uint160(0xdB7e0));
    p.maxProjectsPerMachine = 3;
}

abstract contract MarketBase {
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
    uint256 internal constant T_TRANCHE = 10;
    uint256 internal constant T_QUEUE = 11;
    uint256 internal constant T_RENTAL_REPORT = 12;
    uint256 internal constant T_OWNER_MACHINES = 13;
    uint256 internal constant T_RENTAL_SEGMENT = 14;
    uint256 internal constant T_MACHINE_RENTALS = 15;

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
    uint256 internal constant ACC_SCALE = 1e18;
    uint64 internal constant HOOK_MAX_ITEMS = 256;
    uint8 internal constant MAX_RENTAL_EXTENSIONS = 16;
    uint64 internal constant DRAW_TRIES = 256;
    uint64 internal constant INLINE_RENTAL_ENDS = 16;
    uint256 internal constant AUDITOR_WEIGHT_CAP = 4;
    uint64 internal constant HEARTBEAT_MAX_AGE = 64;
    uint256 internal constant PER_GPU_SCALE = 1e12;
    uint256 internal constant BPS = 10_000;
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
    // storage (store.rs)

    /// Slot of field `field` of the record `(tag, key)`.
    function _slot(uint256 tag, bytes32 key, uint256 field) internal pure returns (uint256) {
        unchecked {
            return uint256(keccak256(abi.encode(tag, key))) + field;
        }
    }

    function _get(uint256 s) internal view returns (uint256 v) {
        assembly {
            v := sload(s)
        }
    }

    function _set(uint256 s, uint256 v) internal {
        assembly {
            sstore(s, v)
        }
    }

    function _g(uint256 n) internal view returns (uint256) {
        return _get(n);
    }

    function _setG(uint256 n, uint256 v) internal {
        _set(n, v);
    }

    /// Adds (or subtracts) `delta` to a global counter, checked.
    function _addG(uint256 n, uint256 delta, bool sub) internal returns (uint256 next) {
        uint256 cur = _g(n);
        next = sub ? _csub(cur, delta) : _cadd(cur, delta);
        _setG(n, next);
    }

    function _numKey(uint256 n) internal pure returns (bytes32) {
        return bytes32(n);
    }

    function _addrKey(address a) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    function _toAddr(uint256 w) internal pure returns (address) {
        return address(uint160(w));
    }

    function _sat64(uint256 v) internal pure returns (uint64) {
        return v > type(uint64).max ? type(uint64).max : uint64(v);
    }

    function _sat32(uint256 v) internal pure returns (uint32) {
        return v > type(uint32).max ? type(uint32).max : uint32(v);
    }

    /// `count` words of record `(tag, key)`.
    function _loadWords(uint256 tag, bytes32 key, uint256 count) internal view returns (uint256[] memory w) {
        w = new uint256[](count);
        uint256 base = _slot(tag, key, 0);
        unchecked {
            for (uint256 i; i < count; i++) {
                w[i] = _get(base + i);
            }
        }
    }

    /// Writes back the words of `w` that differ from `orig` (and updates `orig`), as
    /// `Slots::store`: a record loaded earlier only overwrites the slots it changed.
    function _storeWords(uint256 tag, bytes32 key, uint256[] memory orig, uint256[] memory w) internal {
        uint256 base = _slot(tag, key, 0);
        unchecked {
            for (uint256 i; i < w.length; i++) {
                if (w[i] != orig[i]) {
                    _set(base + i, w[i]);
                    orig[i] = w[i];
                }
            }
        }
    }

    // =========================================================================================
    // checked arithmetic (`ck`: `ArithmeticOverflow()`)

    function _overflow() internal pure {
        revert IGpuMarket.ArithmeticOverflow();
    }

    function _cadd(uint256 a, uint256 b) internal pure returns (uint256 c) {
        unchecked {
            c = a + b;
        }
        if (c < a) _overflow();
    }

    function _csub(uint256 a, uint256 b) internal pure returns (uint256) {
        if (b > a) _overflow();
        unchecked {
            return a - b;
        }
    }

    function _cmul(uint256 a, uint256 b) internal pure returns (uint256 c) {
        if (a == 0) return 0;
        unchecked {
            c = a * b;
        }
        if (c / a != b) _overflow();
    }

    /// `a * b` if it fits 256 bits.
    function _tryMul(uint256 a, uint256 b) internal pure returns (bool ok, uint256 c) {
        if (a == 0) return (true, 0);
        unchecked {
            c = a * b;
        }
        ok = c / a == b;
    }

    function _cadd64(uint256 a, uint256 b) internal pure returns (uint64) {
        uint256 c = a + b; // operands are u64: no 256-bit overflow
        if (c > type(uint64).max) _overflow();
        return uint64(c);
    }

    function _cmul64(uint256 a, uint256 b) internal pure returns (uint64) {
        uint256 c = a * b; // operands are u64: no 256-bit overflow
        if (c > type(uint64).max) _overflow();
        return uint64(c);
    }

    function _satSub(uint256 a, uint256 b) internal pure returns (uint256) {
        unchecked {
            return a > b ? a - b : 0;
        }
    }

    function _satAdd64(uint64 a, uint64 b) internal pure returns (uint64) {
        uint256 c = uint256(a) + b;
        return c > type(uint64).max ? type(uint64).max : uint64(c);
    }

    function _max64(uint64 a, uint64 b) internal pure returns (uint64) {
        return a > b ? a : b;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    // =========================================================================================
    // math.rs

    /// `amount × bps / 10,000`, rounded down (`ArithmeticOverflow` if the product overflows).
    function _bpsOf(uint256 amount, uint16 bps) internal pure returns (uint256) {
        return _cmul(amount, bps) / BPS;
    }

    /// `amount × num / den` rounded down with a 512-bit product; `ok` false if the result does
    /// not fit 256 bits or `den` is zero (`math::mul_div`).
    function _mulDiv(uint256 a, uint256 b, uint256 d) internal pure returns (bool ok, uint256 result) {
        if (d == 0) return (false, 0);
        unchecked {
            uint256 prod0;
            uint256 prod1;
            assembly {
                let mm := mulmod(a, b, not(0))
                prod0 := mul(a, b)
                prod1 := sub(sub(mm, prod0), lt(mm, prod0))
            }
            if (prod1 == 0) return (true, prod0 / d);
            if (d <= prod1) return (false, 0);
            uint256 remainder;
            assembly {
                remainder := mulmod(a, b, d)
                prod1 := sub(prod1, gt(remainder, prod0))
                prod0 := sub(prod0, remainder)
            }
            uint256 twos = d & (~d + 1);
            assembly {
                d := div(d, twos)
                prod0 := div(prod0, twos)
                twos := add(div(sub(0, twos), twos), 1)
            }
            prod0 |= prod1 * twos;
            uint256 inv = (3 * d) ^ 2;
            inv *= 2 - d * inv;
            inv *= 2 - d * inv;
            inv *= 2 - d * inv;
            inv *= 2 - d * inv;
            inv *= 2 - d * inv;
            inv *= 2 - d * inv;
            return (true, prod0 * inv);
        }
    }

    /// [`_mulDiv`] reverting with `ArithmeticOverflow()` (`ck(math::mul_div(..))`).
    function _ckMulDiv(uint256 a, uint256 b, uint256 d) internal pure returns (uint256 r) {
        bool ok;
        (ok, r) = _mulDiv(a, b, d);
        if (!ok) _overflow();
    }

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
        uint64 left = end - _max64(now_, start);
        return _ckMulDiv(paid, left, end - start);
    }

    /// (immediate, vesting) shares of a reward (`math::split_immediate`).
    function _splitImmediate(uint256 amount, uint16 immediateBps) internal pure returns (uint256 now_, uint256 later) {
        now_ = _bpsOf(amount, immediateBps);
        later = amount - now_;
    }

    // =========================================================================================
    // chain (host.rs)

    function _now() internal view returns (uint64) {
        return _sat64(block.number);
    }

    /// The block's randomness as the node's host derives it: keccak256(prevrandao ‖ number).
    function _randomness() internal view returns (bytes32) {
        return keccak256(abi.encodePacked(block.prevrandao, block.number));
    }

    /// Hash of one of the 256 blocks before this one, zero otherwise (`Host::block_hash`).
    function _blockHash(uint64 number) internal view returns (bytes32) {
        uint64 now_ = _now();
        if (number >= now_ || now_ - number > 256) return bytes32(0);
        return blockhash(number);
    }

    // =========================================================================================
    // value: plain balance credits that run no code, undone with the call frame

    /// Pays `amount` out of the market (`Ctx::pay`). A contract created with the value
    /// self-destructs at once to `to` (EIP-6780: created in this transaction, so it is deleted
    /// and its balance credited to `to` without running `to`'s code). Unlike `vm.deal`, this is
    /// journaled: a revert of the calling frame undoes it, as revm undoes the node's transfer.
    function _pay(address to, uint256 amount) internal {
        if (amount == 0) return;
        if (address(this).balance < amount) revert GpuMarketSolFatal("market balance too low for a payment");
        bytes memory code = abi.encodePacked(hex"73", to, hex"ff"); // PUSH20 to; SELFDESTRUCT
        address a;
        assembly {
            a := create(amount, add(code, 32), mload(code))
        }
        if (a == address(0)) revert GpuMarketSolFatal("payment failed");
    }

    /// Removes `amount` from the market's balance and from the supply (`Ctx::burn`): a contract
    /// created with the value self-destructs to itself, which burns it (EIP-6780).
    function _burn(uint256 amount) internal {
        if (amount == 0) return;
        if (address(this).balance < amount) revert GpuMarketSolFatal("market balance too low for a burn");
        bytes memory code = hex"30ff"; // ADDRESS; SELFDESTRUCT
        address a;
        assembly {
            a := create(amount, add(code, 32), mload(code))
        }
        if (a == address(0)) revert GpuMarketSolFatal("burn failed");
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

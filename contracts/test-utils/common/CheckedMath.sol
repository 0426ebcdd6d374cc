// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Checked, saturating and fixed-point arithmetic shared by the three stand-ins, as the node's
// market, mining and staking share `store::ck` and `math.rs`. Every step the node checks with
// `ck(..)` / `ck2(..)` reverts here with `ArithmeticOverflow()`, never with a Solidity panic.

/// The overflow error of the precompiles: `IGpuMarket`, `IProjectMining`, `IStaking` and
/// `IGovernance` declare it with the same signature, so the revert data is the same 4-byte selector.
error ArithmeticOverflow();

// Scale of the reward accumulators (market and mining `ACC_SCALE`).
uint256 constant ACC_SCALE = 1e18;
// Basis points in a whole.
uint256 constant BPS = 10_000;

/// `ck(None)`.
function overflow() pure {
    revert ArithmeticOverflow();
}

// ---- checked (`ck(a.checked_*(b))`) ----

function cadd(uint256 a, uint256 b) pure returns (uint256 c) {
    unchecked {
        c = a + b;
    }
    if (c < a) overflow();
}

function csub(uint256 a, uint256 b) pure returns (uint256) {
    if (b > a) overflow();
    unchecked {
        return a - b;
    }
}

function cmul(uint256 a, uint256 b) pure returns (uint256 c) {
    if (a == 0) return 0;
    unchecked {
        c = a * b;
    }
    if (c / a != b) overflow();
}

/// `a * b` if it fits 256 bits (`checked_mul` without the revert).
function tryMul(uint256 a, uint256 b) pure returns (bool ok, uint256 c) {
    if (a == 0) return (true, 0);
    unchecked {
        c = a * b;
    }
    ok = c / a == b;
}

/// `a + b` on u64 (operands below 2^64: no 256-bit overflow).
function cadd64(uint256 a, uint256 b) pure returns (uint64) {
    uint256 c = a + b;
    if (c > type(uint64).max) overflow();
    return uint64(c);
}

/// `a * b` on u64 (operands below 2^64: no 256-bit overflow).
function cmul64(uint256 a, uint256 b) pure returns (uint64) {
    uint256 c = a * b;
    if (c > type(uint64).max) overflow();
    return uint64(c);
}

// ---- saturating, min and max ----

/// `U256::saturating_to::<u64>()`.
function sat64(uint256 v) pure returns (uint64) {
    return v > type(uint64).max ? type(uint64).max : uint64(v);
}

/// `U256::saturating_to::<u32>()`.
function sat32(uint256 v) pure returns (uint32) {
    return v > type(uint32).max ? type(uint32).max : uint32(v);
}

function satSub(uint256 a, uint256 b) pure returns (uint256) {
    unchecked {
        return a > b ? a - b : 0;
    }
}

/// `a.saturating_add(b)` on u64 (operands below 2^64).
function satAdd64(uint256 a, uint256 b) pure returns (uint64) {
    uint256 c = a + b;
    return c > type(uint64).max ? type(uint64).max : uint64(c);
}

function min(uint256 a, uint256 b) pure returns (uint256) {
    return a < b ? a : b;
}

function max(uint256 a, uint256 b) pure returns (uint256) {
    return a > b ? a : b;
}

function max64(uint64 a, uint64 b) pure returns (uint64) {
    return a > b ? a : b;
}

// ---- math.rs ----

/// `math::mul_div`: `a × b / d` rounded down with a 512-bit product; `ok` false if the quotient
/// does not fit 256 bits or `d` is zero. (Staking's own `mul_div` checks the product in 256
/// bits instead: `StakingStore.mulDiv`.)
function tryMulDiv(uint256 a, uint256 b, uint256 d) pure returns (bool ok, uint256 result) {
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

/// `ck(math::mul_div(a, b, d))`.
function mulDiv(uint256 a, uint256 b, uint256 d) pure returns (uint256 r) {
    bool ok;
    (ok, r) = tryMulDiv(a, b, d);
    if (!ok) overflow();
}

/// `ck(math::bps_of(amount, bps))`: `amount × bps / 10,000`, rounded down.
function bpsOf(uint256 amount, uint256 bps) pure returns (uint256) {
    return cmul(amount, bps) / BPS;
}

/// `math::split_immediate`: (the immediate share, the vesting rest) of a reward.
function splitImmediate(uint256 amount, uint16 immediateBps) pure returns (uint256 now_, uint256 later) {
    now_ = bpsOf(amount, immediateBps);
    later = amount - now_;
}

/// `accrued`: what `weight` has earned at accumulator `acc` (`weight × acc / ACC_SCALE`, checked).
function accrued(uint256 weight, uint256 acc) pure returns (uint256) {
    return mulDiv(weight, acc, ACC_SCALE);
}

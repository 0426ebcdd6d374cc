// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// The decaying emission of a pre-funded reward pool (`dbc_chainspec::EmissionSchedule`,
// `crates/chainspec/src/emission.rs`), shared by the market (`config.dbc.market.emission`, GPU
// rewards), staking (`config.dbc.staking.emission`, block rewards) and the governance stand-in
// (`emissionRate`). Every function mirrors the Rust function of the same name, saturating where
// it saturates, so the results are the node's also for schedules that validation refuses.
//
// Block n ≥ 1 belongs to era (n − 1) / eraBlocks (block 0 to era 0). The first `flatEras` eras
// release `initialPerBlock` per block, every later era ⌊previous × (10⁴ − decayBps) / 10⁴⌋; the
// last era (`endEra − 1`) releases what the earlier eras left of the pool, spread evenly (rounded
// down) over its blocks; later eras release nothing.

/// `EmissionSchedule`: the JSON object `{eraBlocks, initialPerBlock, flatEras, decayBps,
/// endEra}` (all five required when present).
struct Emission {
    uint64 eraBlocks;
    uint256 initialPerBlock;
    uint32 flatEras;
    uint16 decayBps;
    uint32 endEra;
}

// `emission::MAX_END_ERA`: most eras a schedule may have.
uint256 constant MAX_END_ERA = 1_000;
// `emission::YEAR_BLOCKS`: blocks in a year of 6 s blocks, the default era.
uint64 constant YEAR_BLOCKS = 5_256_000;

/// `EmissionSchedule::yearly`: yearly eras, 3 flat years, −12.5% a year after them, 100 years.
function yearlyEmission(uint256 initialPerBlock) pure returns (Emission memory) {
    return Emission({
        eraBlocks: YEAR_BLOCKS,
        initialPerBlock: initialPerBlock,
        flatEras: 3,
        decayBps: 1_250,
        endEra: 100
    });
}

/// The extra view of the market and staking stand-ins (not a selector of the node's
/// precompiles) through which `GovernanceSol.emissionRate` reads their schedule and pool.
interface IEmissionSource {
    function emissionSchedule() external view returns (Emission memory schedule, uint256 rewardPool);
}

library EmissionLib {
    uint256 private constant U64_MAX = type(uint64).max;
    uint256 private constant BPS = 10_000;

    /// `era_of`: the era of block `n` (blocks 0 and 1 are in era 0).
    function eraOf(Emission memory s, uint256 n) internal pure returns (uint256) {
        return (n == 0 ? 0 : n - 1) / _eraBlocks(s);
    }

    /// `rate`: the per-block release of era `k` for a pool of `pool` wei.
    function rate(Emission memory s, uint256 k, uint256 pool) internal pure returns (uint256) {
        uint256 end = s.endEra;
        if (k >= end) return 0;
        if (k + 1 == end) {
            (bool ok, uint256 spent) = beforeLast(s);
            if (!ok) spent = type(uint256).max;
            return (pool > spent ? pool - spent : 0) / _eraBlocks(s);
        }
        return decayed(s, k);
    }

    /// `emitted`: what blocks `a + 1 ..= b` release in all (at most `pool`), and the number of
    /// eras the range touches. Walks the range era by era; equals the sum of `rate` over its
    /// blocks.
    function emitted(Emission memory s, uint64 a, uint64 b, uint256 pool)
        internal
        pure
        returns (uint256 total, uint256 eras)
    {
        if (b <= a) return (0, 0);
        uint256 n = uint256(a) + 1;
        uint256 k = eraOf(s, n);
        uint256 r = rate(s, k, pool);
        while (n <= b && k < s.endEra) {
            uint256 segEnd = _segmentEnd(s, k, b);
            total = _satAdd(total, _satMul(r, segEnd - n + 1));
            eras += 1;
            if (segEnd == U64_MAX) break;
            n = segEnd + 1;
            k += 1;
            r = _nextRate(s, k, r, pool);
        }
        if (total > pool) total = pool;
    }

    /// The last block of era `k` within `..= b` (u64 saturating, as the node's).
    function _segmentEnd(Emission memory s, uint256 k, uint256 b) private pure returns (uint256) {
        // k + 1 ≤ endEra < 2^32: no overflow before the u64 saturation.
        uint256 lastOfEra = (k + 1) * _eraBlocks(s);
        if (lastOfEra > U64_MAX) lastOfEra = U64_MAX;
        return b < lastOfEra ? b : lastOfEra;
    }

    /// The rate of era `k` from `r`, the previous era's: decayed one step, except in the flat
    /// eras and from the last era on.
    function _nextRate(Emission memory s, uint256 k, uint256 r, uint256 pool) private pure returns (uint256) {
        if (k + 1 >= s.endEra || k < s.flatEras) return rate(s, k, pool);
        return _satMul(r, _keep(s)) / BPS;
    }

    /// `decayed`: the per-block release of era `k` without the last era's remainder rule.
    function decayed(Emission memory s, uint256 k) internal pure returns (uint256 r) {
        r = s.initialPerBlock;
        uint256 keep = _keep(s);
        uint256 k1 = k >= U64_MAX ? U64_MAX : k + 1; // u64 saturating_add
        uint256 steps = k1 > s.flatEras ? k1 - s.flatEras : 0;
        if (steps > MAX_END_ERA) steps = MAX_END_ERA;
        for (uint256 i; i < steps; i++) {
            if (r == 0) break;
            r = _satMul(r, keep) / BPS;
        }
    }

    /// `before_last`: what eras `0 .. endEra − 1` release in all; `ok` false on overflow.
    function beforeLast(Emission memory s) internal pure returns (bool ok, uint256 sum) {
        uint256 last = s.endEra == 0 ? 0 : uint256(s.endEra) - 1;
        uint256 e = s.eraBlocks;
        uint256 keep = _keep(s);
        uint256 r = s.initialPerBlock;
        for (uint256 k; k < last; k++) {
            if (k >= s.flatEras) {
                (bool okMul, uint256 p) = _tryMul(r, keep);
                if (!okMul) return (false, 0);
                r = p / BPS;
            }
            (bool okE, uint256 whole) = _tryMul(r, e);
            if (!okE) return (false, 0);
            unchecked {
                uint256 next = sum + whole;
                if (next < sum) return (false, 0);
                sum = next;
            }
        }
        return (true, sum);
    }

    /// `validate`: reverts with the node's message if the schedule is not acceptable for a pool
    /// of `pool` wei; `name` prefixes the message (`market.emission`).
    function validate(Emission memory s, string memory name, uint256 pool) internal pure {
        uint256 maxDuration = 1_000_000_000_000; // dbc_chainspec::MAX_DURATION_BLOCKS
        require(
            s.eraBlocks != 0 && s.eraBlocks <= maxDuration,
            string.concat(name, ".eraBlocks = ", _dec(s.eraBlocks), " must be 1 to ", _dec(maxDuration))
        );
        require(s.decayBps <= BPS, string.concat(name, ".decayBps = ", _dec(s.decayBps), " exceeds 10000 bps"));
        require(
            s.endEra != 0 && s.endEra <= MAX_END_ERA,
            string.concat(name, ".endEra = ", _dec(s.endEra), " must be 1 to ", _dec(MAX_END_ERA))
        );
        require(
            s.flatEras <= s.endEra,
            string.concat(name, ".flatEras = ", _dec(s.flatEras), " exceeds endEra = ", _dec(s.endEra))
        );
        (bool fits,) = _tryMul(s.initialPerBlock, s.eraBlocks);
        require(fits, string.concat(name, ": initialPerBlock \xc3\x97 eraBlocks overflows"));
        (bool ok, uint256 sum) = beforeLast(s);
        require(ok, string.concat(name, ": the emission overflows"));
        require(
            sum <= pool,
            string.concat(
                name, " releases ", _dec(sum), " wei before its last era, more than the pool of ", _dec(pool), " wei"
            )
        );
    }

    // ---- helpers ----

    function _eraBlocks(Emission memory s) private pure returns (uint256) {
        return s.eraBlocks == 0 ? 1 : s.eraBlocks;
    }

    /// 10⁴ − min(decayBps, 10⁴).
    function _keep(Emission memory s) private pure returns (uint256) {
        return s.decayBps >= BPS ? 0 : BPS - s.decayBps;
    }

    function _tryMul(uint256 a, uint256 b) private pure returns (bool, uint256) {
        if (a == 0) return (true, 0);
        unchecked {
            uint256 c = a * b;
            return (c / a == b, c);
        }
    }

    function _satMul(uint256 a, uint256 b) private pure returns (uint256) {
        (bool ok, uint256 c) = _tryMul(a, b);
        return ok ? c : type(uint256).max;
    }

    function _satAdd(uint256 a, uint256 b) private pure returns (uint256) {
        unchecked {
            uint256 c = a + b;
            return c < a ? type(uint256).max : c;
        }
    }

    /// Decimal digits of `v` (the node's `{}` formatting of an integer).
    function _dec(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) len++;
        bytes memory out = new bytes(len);
        while (v != 0) {
            out[--len] = bytes1(uint8(48 + v % 10));
            v /= 10;
        }
        return string(out);
    }
}

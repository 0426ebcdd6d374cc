// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Emission, EmissionLib, yearlyEmission} from "../test-utils/common/Emission.sol";

/// Exposes the library to `try` (its `validate` reverts).
contract EmissionHarness {
    function validate(Emission memory s, uint256 pool) external pure {
        EmissionLib.validate(s, "x", pool);
    }
}

/// `common/Emission.sol` against the node's own tests of `EmissionSchedule`
/// (`crates/chainspec/src/emission.rs`): the same schedules, the same numbers.
contract EmissionTest {
    using EmissionLib for Emission;

    uint256 internal constant DBC = 1e18;

    function _small() internal pure returns (Emission memory) {
        return Emission({eraBlocks: 7, initialPerBlock: 1_000, flatEras: 2, decayBps: 3_000, endEra: 6});
    }

    function _naive(Emission memory s, uint64 a, uint64 b, uint256 pool) internal pure returns (uint256 sum) {
        for (uint256 n = uint256(a) + 1; n <= b; n++) {
            sum += s.rate(s.eraOf(n), pool);
        }
    }

    /// `emitted` over any range equals the per-block sum of `rate`, and the rates are the
    /// node test's.
    function test_emittedIsTheSumOfPerBlockRatesAcrossEras() public pure {
        Emission memory s = _small();
        uint256 pool = 40_000;
        s.validate("x", pool);
        for (uint64 a; a < 50; a += 3) {
            for (uint64 b = a; b < 60; b++) {
                (uint256 got,) = s.emitted(a, b, pool);
                require(got == _naive(s, a, b, pool), "emitted != sum of rates");
            }
        }
        // Eras 0,1 flat at 1000; 2: 700; 3: 490; 4: 343; 5: the rest.
        require(s.rate(2, pool) == 700 && s.rate(3, pool) == 490 && s.rate(4, pool) == 343, "decay");
        uint256 before = (1_000 + 1_000 + 700 + 490 + 343) * 7;
        require(s.rate(5, pool) == (40_000 - before) / 7, "the last era takes the rest");
        require(s.rate(6, pool) == 0 && s.rate(1_000, pool) == 0, "nothing after");
        (uint256 t, uint256 eras) = s.emitted(0, 7, pool);
        require(t == 7_000 && eras == 1, "one era");
        (t, eras) = s.emitted(5, 9, pool);
        require(t == 4_000 && eras == 2, "two eras");
        (t, eras) = s.emitted(9, 9, pool);
        require(t == 0 && eras == 0, "empty range");
        require(s.eraOf(0) == 0 && s.eraOf(1) == 0 && s.eraOf(7) == 0 && s.eraOf(8) == 1, "eras");
    }

    /// `emitted` is capped by the pool.
    function test_emittedNeverExceedsThePool() public pure {
        Emission memory s = _small();
        (uint256 t,) = s.emitted(0, 100, 1_000);
        require(t == 1_000, "capped");
    }

    /// The defaults spend their pools in exactly one hundred eras (the node's numbers).
    function test_defaultSchedulesSpendTheirPoolsInAHundredEras() public pure {
        Emission memory g = yearlyEmission(400_000_000 * DBC / 5_256_000);
        uint256 pool = 4_000_000_000 * DBC;
        g.validate("market.emission", pool);
        uint64 y = g.eraBlocks;
        require(g.rate(0, pool) * y / DBC / 1_000_000 == 399, "year 1");
        require(g.rate(2, pool) == g.rate(0, pool), "3 flat years");
        require(g.rate(4, pool) * y / DBC / 1_000_000 == 306, "year 5");
        require(g.rate(9, pool) * y / DBC / 1_000_000 == 157, "year 10");
        (uint256 c3,) = g.emitted(0, 3 * y, pool);
        (uint256 c10,) = g.emitted(0, 10 * y, pool);
        (uint256 c20,) = g.emitted(0, 20 * y, pool);
        require(c3 / DBC / 10_000_000 == 119 && c10 / DBC / 10_000_000 == 290 && c20 / DBC / 10_000_000 == 371, "sums");
        (uint256 all,) = g.emitted(0, 100 * y, pool);
        require(all <= pool && pool - all < y, "spent up to the last era's rounding");
        (uint256 later,) = g.emitted(0, 200 * y, pool);
        require(later == all && g.rate(100, pool) == 0, "nothing after");

        Emission memory v = yearlyEmission(19 * DBC);
        uint256 vpool = 1_000_000_000 * DBC;
        v.validate("staking.emission", vpool);
        require(v.rate(0, vpool) * y / DBC == 99_864_000, "validators' year 1");
        (all,) = v.emitted(0, 100 * y, vpool);
        require(vpool - all < y, "spent");
    }

    function test_badSchedulesAreRefused() public {
        EmissionHarness h = new EmissionHarness();
        Emission memory s = _small();
        // Eras 0-4 release (1000 + 1000 + 700 + 490 + 343) × 7 = 24,731: one wei more than the pool.
        h.validate(s, 24_731);
        try h.validate(s, 24_730) {
            revert("accepted");
        } catch Error(string memory reason) {
            require(
                keccak256(bytes(reason))
                    == keccak256("x releases 24731 wei before its last era, more than the pool of 24730 wei"),
                reason
            );
        }
        // One era: the whole pool over it.
        Emission memory one = yearlyEmission(1);
        one.endEra = 1;
        one.flatEras = 0;
        h.validate(one, 5_256_000 * 3);
        require(one.rate(0, 5_256_000 * 3) == 3, "pool / eraBlocks");
    }
}

//! Decaying emission of a pre-funded reward pool (`config.dbc.market.emission`,
//! `config.dbc.staking.emission`).
//!
//! Time is cut into eras of `eraBlocks` blocks; block `n ≥ 1` belongs to era `(n − 1) /
//! eraBlocks`. The first `flatEras` eras release `initialPerBlock` per block; every later era
//! releases `⌊previous · (10⁴ − decayBps) / 10⁴⌋`. The last era (`endEra − 1`) releases what is
//! left of the pool after all earlier eras, so the pool is spent exactly at the end of era
//! `endEra − 1`; nothing is released afterwards. All arithmetic is integer and rounds down.
//!
//! With the defaults (eras of 365 days of 6 s blocks, 3 flat eras, 12.5% decay, 100 eras) a pool
//! ten times its first year's issuance lasts a century, 90% of it in the first ~20 years.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::MAX_DURATION_BLOCKS;

/// Most eras a schedule may have (bounds the work of computing a rate).
pub const MAX_END_ERA: u32 = 1_000;

/// Blocks in a year of 6 s blocks: the default era.
pub const YEAR_BLOCKS: u64 = 5_256_000;

/// A decaying emission schedule. See the module documentation for the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmissionSchedule {
    /// Blocks per era.
    pub era_blocks: u64,
    /// Release per block in the first `flatEras` eras, in wei.
    pub initial_per_block: U256,
    /// Eras at the initial rate.
    pub flat_eras: u32,
    /// Decay of the per-block release from one era to the next after the flat eras, in basis
    /// points.
    pub decay_bps: u16,
    /// Number of eras: the last one releases the pool's remainder, later eras nothing.
    pub end_era: u32,
}

impl EmissionSchedule {
    /// The default shape (yearly eras, 3 flat years, −12.5% a year, 100 years) at
    /// `initial_per_block`.
    pub fn yearly(initial_per_block: U256) -> Self {
        Self {
            era_blocks: YEAR_BLOCKS,
            initial_per_block,
            flat_eras: 3,
            decay_bps: 1_250,
            end_era: 100,
        }
    }

    /// The era of block `n` (block 0 and block 1 are in era 0).
    pub fn era_of(&self, n: u64) -> u64 {
        n.saturating_sub(1) / self.era_blocks.max(1)
    }

    /// The per-block release of era `k` ignoring the remainder rule (`None` on overflow, which
    /// [`Self::validate`] rules out).
    fn decayed(&self, k: u64) -> U256 {
        let mut r = self.initial_per_block;
        let keep = U256::from(10_000u64 - u64::from(self.decay_bps.min(10_000)));
        let steps = k.saturating_add(1).saturating_sub(u64::from(self.flat_eras));
        for _ in 0..steps.min(u64::from(MAX_END_ERA)) {
            if r.is_zero() {
                break;
            }
            r = r.saturating_mul(keep) / U256::from(10_000u64);
        }
        r
    }

    /// What eras `0..endEra − 1` release in all (`None` on overflow).
    fn before_last(&self) -> Option<U256> {
        let last = u64::from(self.end_era.saturating_sub(1));
        let e = U256::from(self.era_blocks);
        let keep = U256::from(10_000u64 - u64::from(self.decay_bps.min(10_000)));
        let mut r = self.initial_per_block;
        let mut sum = U256::ZERO;
        for k in 0..last {
            if k >= u64::from(self.flat_eras) {
                r = r.checked_mul(keep)? / U256::from(10_000u64);
            }
            sum = sum.checked_add(r.checked_mul(e)?)?;
        }
        Some(sum)
    }

    /// The per-block release of era `k` for a pool of `pool` wei.
    pub fn rate(&self, k: u64, pool: U256) -> U256 {
        let end = u64::from(self.end_era);
        if k >= end {
            return U256::ZERO;
        }
        if k + 1 == end {
            let spent = self.before_last().unwrap_or(U256::MAX);
            return pool.saturating_sub(spent) / U256::from(self.era_blocks.max(1));
        }
        self.decayed(k)
    }

    /// What blocks `a + 1 ..= b` release in all, and the number of eras the range touches
    /// (callers charge gas per era). At most `endEra` eras are walked.
    pub fn emitted(&self, a: u64, b: u64, pool: U256) -> (U256, u64) {
        if b <= a {
            return (U256::ZERO, 0);
        }
        let e = self.era_blocks.max(1);
        let mut total = U256::ZERO;
        let mut eras = 0u64;
        let mut n = a + 1;
        let mut k = self.era_of(n);
        let mut r = self.rate(k, pool);
        while n <= b && k < u64::from(self.end_era) {
            let last_of_era = k.saturating_add(1).saturating_mul(e);
            let seg_end = b.min(last_of_era);
            let blocks = U256::from(seg_end - n + 1);
            total = total.saturating_add(r.saturating_mul(blocks));
            eras += 1;
            if seg_end == u64::MAX {
                break;
            }
            n = seg_end + 1;
            k += 1;
            r = if k + 1 >= u64::from(self.end_era) || k < u64::from(self.flat_eras) {
                self.rate(k, pool)
            } else {
                let keep = U256::from(10_000u64 - u64::from(self.decay_bps.min(10_000)));
                r.saturating_mul(keep) / U256::from(10_000u64)
            };
        }
        (total.min(pool), eras)
    }

    /// Checks the schedule against the pool it draws on; `name` prefixes the message
    /// (`market.emission`).
    pub fn validate(&self, name: &str, pool: U256) -> Result<(), String> {
        if self.era_blocks == 0 || self.era_blocks > MAX_DURATION_BLOCKS {
            return Err(format!(
                "{name}.eraBlocks = {} must be 1 to {MAX_DURATION_BLOCKS}",
                self.era_blocks
            ));
        }
        if self.decay_bps > 10_000 {
            return Err(format!("{name}.decayBps = {} exceeds 10000 bps", self.decay_bps));
        }
        if self.end_era == 0 || self.end_era > MAX_END_ERA {
            return Err(format!("{name}.endEra = {} must be 1 to {MAX_END_ERA}", self.end_era));
        }
        if self.flat_eras > self.end_era {
            return Err(format!(
                "{name}.flatEras = {} exceeds endEra = {}",
                self.flat_eras, self.end_era
            ));
        }
        if self.initial_per_block.checked_mul(U256::from(self.era_blocks)).is_none() {
            return Err(format!("{name}: initialPerBlock × eraBlocks overflows"));
        }
        match self.before_last() {
            Some(s) if s <= pool => Ok(()),
            Some(s) => Err(format!(
                "{name} releases {s} wei before its last era, more than the pool of {pool} wei"
            )),
            None => Err(format!("{name}: the emission overflows")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::DBC;

    fn dbc(n: u128) -> U256 {
        U256::from(n) * U256::from(DBC)
    }

    fn gpu() -> (EmissionSchedule, U256) {
        (EmissionSchedule::yearly(dbc(400_000_000) / U256::from(YEAR_BLOCKS)), dbc(4_000_000_000))
    }

    fn year(s: &EmissionSchedule, pool: U256, y: u64) -> U256 {
        s.rate(y - 1, pool) * U256::from(s.era_blocks)
    }

    fn cumulative(s: &EmissionSchedule, pool: U256, years: u64) -> U256 {
        s.emitted(0, years * s.era_blocks, pool).0
    }

    fn whole(v: U256) -> u128 {
        (v / U256::from(DBC)).to::<u128>()
    }

    /// The table in docs/governance-design.md §8.2 and docs/economics.md.
    #[test]
    fn default_schedules_spend_their_pools_in_exactly_one_hundred_years() {
        let (s, pool) = gpu();
        s.validate("market.emission", pool).unwrap();
        assert_eq!(whole(year(&s, pool, 1)) / 1_000_000, 399); // 76.103500761 DBC × 5,256,000
        assert_eq!(year(&s, pool, 1), year(&s, pool, 3));
        assert_eq!(whole(year(&s, pool, 5)) / 1_000_000, 306);
        assert_eq!(whole(year(&s, pool, 10)) / 1_000_000, 157);
        assert_eq!(whole(cumulative(&s, pool, 3)) / 10_000_000, 119);
        assert_eq!(whole(cumulative(&s, pool, 10)) / 10_000_000, 290);
        assert_eq!(whole(cumulative(&s, pool, 20)) / 10_000_000, 371);
        // Spent exactly, up to the rounding of the last era's per-block rate.
        let all = cumulative(&s, pool, 100);
        assert!(all <= pool && pool - all < U256::from(s.era_blocks), "{all}");
        assert_eq!(cumulative(&s, pool, 200), all);
        assert!(s.rate(100, pool).is_zero());

        let v = EmissionSchedule::yearly(dbc(19));
        let vpool = dbc(1_000_000_000);
        v.validate("staking.emission", vpool).unwrap();
        assert_eq!(whole(year(&v, vpool, 1)), 99_864_000);
        let all = cumulative(&v, vpool, 100);
        assert!(vpool - all < U256::from(v.era_blocks));
    }

    /// `emitted` over any range equals the per-block sum of `rate`.
    #[test]
    fn emitted_is_the_sum_of_per_block_rates_across_eras() {
        let s = EmissionSchedule {
            era_blocks: 7,
            initial_per_block: U256::from(1_000u64),
            flat_eras: 2,
            decay_bps: 3_000,
            end_era: 6,
        };
        let pool = U256::from(40_000u64);
        s.validate("x", pool).unwrap();
        let naive = |a: u64, b: u64| -> U256 {
            (a + 1..=b).map(|n| s.rate(s.era_of(n), pool)).fold(U256::ZERO, |x, y| x + y)
        };
        for a in 0..50 {
            for b in a..60 {
                assert_eq!(s.emitted(a, b, pool).0, naive(a, b), "({a}, {b}]");
            }
        }
        // Eras 0,1 flat at 1000; 2: 700; 3: 490; 4: 343; 5: the rest.
        assert_eq!(s.rate(2, pool), U256::from(700u64));
        assert_eq!(s.rate(4, pool), U256::from(343u64));
        let before = (1_000 + 1_000 + 700 + 490 + 343) * 7;
        assert_eq!(s.rate(5, pool), U256::from((40_000 - before) / 7));
        assert_eq!(s.emitted(0, 7, pool), (U256::from(7_000u64), 1));
        assert_eq!(s.emitted(5, 9, pool), (U256::from(4_000u64), 2));
    }

    #[test]
    fn bad_schedules_are_refused_by_name() {
        let (s, pool) = gpu();
        let e = |s: EmissionSchedule| s.validate("market.emission", pool).unwrap_err();
        assert!(e(EmissionSchedule { decay_bps: 10_001, ..s.clone() }).contains("decayBps"));
        assert!(e(EmissionSchedule { end_era: 0, ..s.clone() }).contains("endEra"));
        assert!(e(EmissionSchedule { end_era: 1_001, ..s.clone() }).contains("endEra"));
        assert!(e(EmissionSchedule { era_blocks: 0, ..s.clone() }).contains("eraBlocks"));
        assert!(e(EmissionSchedule { flat_eras: 101, ..s.clone() }).contains("flatEras"));
        assert!(
            e(EmissionSchedule { initial_per_block: U256::MAX, ..s.clone() }).contains("overflows")
        );
        // A slower decay would release more than the pool before the last era.
        assert!(
            e(EmissionSchedule { decay_bps: 1_000, ..s.clone() }).contains("more than the pool")
        );
        // One era: the whole pool over it.
        let one = EmissionSchedule { end_era: 1, flat_eras: 0, ..s };
        one.validate("market.emission", pool).unwrap();
        assert_eq!(one.rate(0, pool), pool / U256::from(YEAR_BLOCKS));
    }
}

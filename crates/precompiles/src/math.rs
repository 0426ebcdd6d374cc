//! Pure market arithmetic: burn tiers, pro-rata refunds, grades, slash tiers and vesting. Every
//! function is checked: `None` means the result does not fit (callers revert).

use alloy_primitives::{U256, U512, ruint::UintTryFrom};
use dbc_chainspec::{BurnTier, SlashTier};

/// Basis points in one.
pub const BPS: u64 = 10_000;

/// The share of rent burned (basis points) while `online_gpus` GPUs are online: the last tier
/// whose `from_gpus` is at most `online_gpus`.
pub fn burn_bps(tiers: &[BurnTier], online_gpus: u64) -> u16 {
    tiers.iter().take_while(|t| t.from_gpus <= online_gpus).last().map_or(0, |t| t.bps)
}

/// `amount × bps / 10,000`, rounded down.
pub fn bps_of(amount: U256, bps: u16) -> Option<U256> {
    amount.checked_mul(U256::from(bps)).map(|v| v / U256::from(BPS))
}

/// `amount × num / den`, rounded down, with a 512-bit product (only the result must fit 256
/// bits); `None` if it does not or the denominator is zero.
pub fn mul_div(amount: U256, num: U256, den: U256) -> Option<U256> {
    if den.is_zero() {
        return None;
    }
    if let Some(v) = amount.checked_mul(num) {
        return Some(v / den);
    }
    let wide = U512::from(amount) * U512::from(num) / U512::from(den);
    U256::uint_try_from(wide).ok()
}

/// Refund of a rental ended at `now`: the unused share of `paid`, pro rata to the blocks left
/// of `start..end`. Nothing is refunded at or after `end`.
pub fn prorata_refund(paid: U256, start: u64, end: u64, now: u64) -> Option<U256> {
    if now >= end || end <= start {
        return Some(U256::ZERO);
    }
    let left = end - now.max(start);
    mul_div(paid, U256::from(left), U256::from(end - start))
}

/// Reward grade (weight in the market's emission) of an online machine: its calc point (per
/// GPU, like the price and the stake) times its GPU count, scaled by 10,000. So an 8-GPU server
/// earns what eight 1-GPU machines of the same calc point earn, for the same stake, whichever
/// way it is registered. Renting does not change it: the rented bonus is paid per rental,
/// capped by the rent the rental burned (`market::rewards::pay_rental_bonus`).
pub fn grade(calc_point: u32, gpus: u32) -> U256 {
    U256::from(calc_point) * U256::from(gpus) * U256::from(BPS)
}

/// Slash share (basis points) for an offline period of `blocks` under `tiers`.
pub fn slash_bps(tiers: &[SlashTier], blocks: u64) -> u16 {
    tiers.iter().find(|t| t.under_blocks.is_none_or(|u| blocks < u)).map_or(0, |t| t.bps)
}

/// Vested part of a tranche of `amount` whose linear release starts at block `start` and lasts
/// `duration` blocks, at block `now`.
pub fn vested(amount: U256, start: u64, duration: u64, now: u64) -> Option<U256> {
    if now <= start {
        return Some(U256::ZERO);
    }
    let elapsed = now - start;
    if elapsed >= duration {
        return Some(amount);
    }
    mul_div(amount, U256::from(elapsed), U256::from(duration))
}

/// Splits a reward into the share claimable at once and the share that vests.
pub fn split_immediate(amount: U256, immediate_bps: u16) -> Option<(U256, U256)> {
    let now = bps_of(amount, immediate_bps)?;
    Some((now, amount - now))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dbc_chainspec::MarketParams;

    fn dbc(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18))
    }

    /// The product may exceed 256 bits; only the quotient must fit.
    #[test]
    fn mul_div_is_exact_past_256_bits() {
        let big = U256::MAX / U256::from(3);
        assert_eq!(mul_div(big, U256::from(6), U256::from(2)), Some(big * U256::from(3)));
        assert_eq!(mul_div(U256::MAX, U256::MAX, U256::MAX), Some(U256::MAX));
        assert_eq!(mul_div(U256::MAX, U256::from(2), U256::from(1)), None);
        assert_eq!(mul_div(U256::from(1), U256::from(1), U256::ZERO), None);
        assert_eq!(mul_div(U256::from(7), U256::from(3), U256::from(2)), Some(U256::from(10)));
    }

    #[test]
    fn burn_tier_boundaries() {
        let tiers = MarketParams::default().burn_tiers;
        assert_eq!(burn_bps(&tiers, 0), 3_000);
        assert_eq!(burn_bps(&tiers, 4_999), 3_000);
        // "Within 5,000 GPUs" 30%, above 70% (the seed text).
        assert_eq!(burn_bps(&tiers, 5_000), 3_000);
        assert_eq!(burn_bps(&tiers, 5_001), 7_000);
        assert_eq!(burn_bps(&tiers, 9_999), 7_000);
        assert_eq!(burn_bps(&tiers, 10_000), 10_000);
        assert_eq!(burn_bps(&tiers, u64::MAX), 10_000);
        assert_eq!(burn_bps(&[], 7), 0);
    }

    #[test]
    fn burn_split_of_rent() {
        let rent = dbc(100);
        assert_eq!(bps_of(rent, 3_000), Some(dbc(30)));
        assert_eq!(bps_of(rent, 10_000), Some(rent));
        assert_eq!(bps_of(U256::MAX, 2), None);
    }

    #[test]
    fn prorata() {
        assert_eq!(prorata_refund(U256::from(1000), 10, 110, 10), Some(U256::from(1000)));
        assert_eq!(prorata_refund(U256::from(1000), 10, 110, 60), Some(U256::from(500)));
        assert_eq!(prorata_refund(U256::from(1000), 10, 110, 109), Some(U256::from(10)));
        assert_eq!(prorata_refund(U256::from(1000), 10, 110, 110), Some(U256::ZERO));
        assert_eq!(prorata_refund(U256::from(1000), 10, 110, 500), Some(U256::ZERO));
        // Rounds down: never refunds more than the unused share.
        assert_eq!(prorata_refund(U256::from(10), 0, 3, 1), Some(U256::from(6)));
    }

    #[test]
    fn grades() {
        assert_eq!(grade(1_000, 4), U256::from(40_000_000u64));
        assert_eq!(grade(1_000, 1), U256::from(10_000_000u64));
        assert_eq!(grade(1_000, 0), U256::ZERO);
        assert_eq!(
            grade(u32::MAX, u32::MAX),
            U256::from(u32::MAX).pow(U256::from(2)) * U256::from(BPS)
        );
    }

    #[test]
    fn slash_tiers() {
        let p = MarketParams::default();
        assert_eq!(slash_bps(&p.owner_offline_slash, 0), 200);
        assert_eq!(slash_bps(&p.owner_offline_slash, 69), 200);
        assert_eq!(slash_bps(&p.owner_offline_slash, 70), 400);
        assert_eq!(slash_bps(&p.owner_offline_slash, 28_799), 400);
        assert_eq!(slash_bps(&p.owner_offline_slash, 28_800), 3_000);
        assert_eq!(slash_bps(&p.owner_offline_slash, 72_000), 5_000);
        assert_eq!(slash_bps(&p.unreachable_slash, 10), 400);
        assert_eq!(slash_bps(&p.unreachable_slash, 1_000), 800);
        assert_eq!(slash_bps(&p.unreachable_slash, 50_000), 6_000);
        assert_eq!(slash_bps(&p.unreachable_slash, u64::MAX), 10_000);
    }

    #[test]
    fn vesting_is_linear_over_150_days() {
        let v = 150 * 14_400;
        let amount = dbc(75);
        assert_eq!(vested(amount, 1_000, v, 1_000), Some(U256::ZERO));
        assert_eq!(vested(amount, 1_000, v, 0), Some(U256::ZERO));
        assert_eq!(vested(amount, 1_000, v, 1_000 + v / 2), Some(dbc(75) / U256::from(2)));
        assert_eq!(vested(amount, 1_000, v, 1_000 + v / 150), Some(dbc(75) / U256::from(150)));
        assert_eq!(vested(amount, 1_000, v, 1_000 + v), Some(amount));
        assert_eq!(vested(amount, 1_000, v, u64::MAX), Some(amount));
        let (now, later) = split_immediate(dbc(100), 2_500).unwrap();
        assert_eq!((now, later), (dbc(25), dbc(75)));
    }
}

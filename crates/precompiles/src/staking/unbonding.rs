//! Unbonding that stays slashable (security review H8).
//!
//! Undelegated stake moves into a per-validator *unbonding pool* chosen by the bucket of its
//! effective start (`start / bucket_len`): the block of the call, or the next epoch boundary
//! when the validator is in the active set (the stake keeps counting in the set's weights until
//! that election). A pool holds stake and shares like a validator's bonded stake, so a slash
//! cuts every entry in it pro rata with one write. A slash for an infraction at height `h`
//! cuts the pools of buckets `bucket(h) ..= bucket(next boundary)`: every stake that started
//! unbonding at `h` or later (and, at bucket granularity, some that started shortly before).
//! Evidence is accepted for `unbondingBlocks` after `h`, and an entry starting at `s ≥ h` is
//! released at `s + unbondingBlocks`, so it is still there when the evidence arrives.
//!
//! Work is bounded: a slash visits at most `BUCKETS + 2` pools; a delegator holds at most
//! [`MAX_ENTRIES`] entries (one per validator and bucket), which `undelegate` scans and
//! `withdraw` rewrites.

use super::{ck2, mul_div};
use crate::{abi::IStaking, host::Host, store::*};
use alloy_primitives::{Address, B256, U256, keccak256};
use dbc_chainspec::StakingParams;

/// Unbonding pool of (validator, bucket): stake, shares.
const T_UNB_POOL: u64 = 46;
/// Number of a delegator's unbonding entries.
const T_UNB_COUNT: u64 = 47;
/// Unbonding entry (delegator, index): validator | release << 160, bucket, shares.
const T_UNB_ENTRY: u64 = 48;

/// Most unbonding entries per delegator.
pub const MAX_ENTRIES: u64 = 16;
/// Buckets per `unbondingBlocks + epochBlocks`.
const BUCKETS: u64 = 32;

/// Blocks of start per bucket.
pub(crate) fn bucket_len(sp: &StakingParams) -> u64 {
    sp.unbonding_blocks.saturating_add(sp.epoch_blocks).div_ceil(BUCKETS).max(1)
}

/// Where stake undelegated now from a validator (`active`: in the active set) starts unbonding.
pub(crate) fn effective_start<H: Host>(
    ctx: &Ctx<'_, H>,
    sp: &StakingParams,
    active: bool,
) -> Res<u64> {
    if active { ck2(ctx.now.checked_next_multiple_of(sp.epoch_blocks.max(1))) } else { Ok(ctx.now) }
}

fn pool_key(validator: Address, bucket: u64) -> B256 {
    keccak256([validator.as_slice(), &bucket.to_be_bytes()].concat())
}

fn entry_key(delegator: Address, i: u64) -> B256 {
    keccak256([delegator.as_slice(), &i.to_be_bytes()].concat())
}

/// One unbonding entry of a delegator.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    validator: Address,
    release: u64,
    bucket: u64,
    shares: U256,
}

impl Entry {
    fn words(&self) -> [U256; 3] {
        let mut w0 = from_addr(self.validator);
        put(&mut w0, 160, 64, self.release);
        [w0, U256::from(self.bucket), self.shares]
    }

    fn from_words(w: [U256; 3]) -> Self {
        Self {
            validator: to_addr(w[0]),
            release: bits(w[0], 160, 64),
            bucket: w[1].saturating_to(),
            shares: w[2],
        }
    }
}

fn count<H: Host>(ctx: &mut Ctx<'_, H>, delegator: Address) -> Res<u64> {
    Ok(ctx.get(slot(T_UNB_COUNT, addr_key(delegator), 0))?.saturating_to::<u64>().min(MAX_ENTRIES))
}

fn entries<H: Host>(ctx: &mut Ctx<'_, H>, delegator: Address) -> Res<Vec<(Slots<3>, Entry)>> {
    let n = count(ctx, delegator)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (s, w) = Slots::<3>::load(ctx, T_UNB_ENTRY, entry_key(delegator, i))?;
        out.push((s, Entry::from_words(w)));
    }
    Ok(out)
}

/// Current value of `shares` of a pool.
fn value<H: Host>(ctx: &mut Ctx<'_, H>, e: &Entry) -> Res<U256> {
    let (_, [stake, shares]) = Slots::<2>::load(ctx, T_UNB_POOL, pool_key(e.validator, e.bucket))?;
    if shares.is_zero() {
        return Ok(U256::ZERO);
    }
    mul_div(e.shares, stake, shares)
}

/// Moves `amount`, already taken out of `validator`'s bonded stake, into unbonding for
/// `delegator`, starting at `start`. Returns the release block.
pub(crate) fn begin<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    validator: Address,
    delegator: Address,
    amount: U256,
    start: u64,
) -> Res<u64> {
    let release = ck2(start.checked_add(sp.unbonding_blocks))?;
    let bucket = start / bucket_len(sp);
    let (mut pool, [stake, shares]) =
        Slots::<2>::load(ctx, T_UNB_POOL, pool_key(validator, bucket))?;
    let minted = if shares.is_zero() {
        amount
    } else if stake.is_zero() {
        // Wiped by a 100% slash: no share price lets new stake join (until the next bucket).
        return Err(revert(IStaking::ArithmeticOverflow {}));
    } else {
        mul_div(amount, shares, stake)?
    };
    if minted.is_zero() {
        return Err(revert(IStaking::AmountTooSmall {}));
    }
    pool.store(ctx, [ck2(stake.checked_add(amount))?, ck2(shares.checked_add(minted))?])?;
    let mut list = entries(ctx, delegator)?;
    for (s, e) in &mut list {
        if e.validator == validator && e.bucket == bucket {
            e.shares = ck2(e.shares.checked_add(minted))?;
            e.release = e.release.max(release);
            s.store(ctx, e.words())?;
            return Ok(e.release);
        }
    }
    let n = list.len() as u64;
    if n >= MAX_ENTRIES {
        return Err(revert(IStaking::TooManyUnbondings { maximum: U256::from(MAX_ENTRIES) }));
    }
    let e = Entry { validator, release, bucket, shares: minted };
    let (mut s, _) = Slots::<3>::load(ctx, T_UNB_ENTRY, entry_key(delegator, n))?;
    s.store(ctx, e.words())?;
    ctx.set(slot(T_UNB_COUNT, addr_key(delegator), 0), U256::from(n + 1))?;
    Ok(release)
}

/// Removes `delegator`'s matured entries and returns their value (taken out of the pools).
pub(crate) fn withdraw<H: Host>(ctx: &mut Ctx<'_, H>, delegator: Address) -> Res<U256> {
    let mut list = entries(ctx, delegator)?;
    if list.is_empty() {
        return Err(revert(IStaking::NothingToWithdraw {}));
    }
    let mut total = U256::ZERO;
    let mut earliest = u64::MAX;
    let mut kept = Vec::with_capacity(list.len());
    for &(_, x) in &list {
        if x.release > ctx.now {
            earliest = earliest.min(x.release);
            kept.push(x);
            continue;
        }
        let (mut pool, [stake, shares]) =
            Slots::<2>::load(ctx, T_UNB_POOL, pool_key(x.validator, x.bucket))?;
        // The last entry out takes the rounding dust.
        let paid =
            if x.shares >= shares { stake } else { mul_div(x.shares, stake, shares)?.min(stake) };
        pool.store(ctx, [stake - paid, shares.saturating_sub(x.shares)])?;
        total = ck2(total.checked_add(paid))?;
    }
    if kept.len() == list.len() {
        return Err(revert(IStaking::StillUnbonding { releaseBlock: earliest }));
    }
    for (i, (s, _)) in list.iter_mut().enumerate() {
        let w = kept.get(i).map_or([U256::ZERO; 3], Entry::words);
        s.store(ctx, w)?;
    }
    ctx.set(slot(T_UNB_COUNT, addr_key(delegator), 0), U256::from(kept.len()))?;
    Ok(total)
}

/// Cuts `share_bps` of every unbonding pool of `validator` that may hold stake which started
/// unbonding at `infraction` or later. Returns the amount cut.
pub(crate) fn slash<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    validator: Address,
    infraction: u64,
    share_bps: u16,
) -> Res<U256> {
    let len = bucket_len(sp);
    // The latest start any existing entry can have: the next boundary (active validators).
    let last = effective_start(ctx, sp, true)? / len;
    // Evidence is at most `unbondingBlocks` old, so this clamp never drops a live bucket; it
    // bounds the loop whatever the caller passes.
    let first = (infraction / len).max(last.saturating_sub(BUCKETS + 1));
    let mut total = U256::ZERO;
    for bucket in first..=last {
        ctx.charge(gas::STEP)?;
        let key = slot(T_UNB_POOL, pool_key(validator, bucket), 0);
        let stake = ctx.get(key)?;
        let cut = super::bps(stake, share_bps)?;
        if cut.is_zero() {
            continue;
        }
        ctx.set(key, stake - cut)?;
        total = ck2(total.checked_add(cut))?;
    }
    Ok(total)
}

/// `delegator`'s entries: (validator, current value, release block).
pub(crate) fn list<H: Host>(
    ctx: &mut Ctx<'_, H>,
    delegator: Address,
) -> Res<Vec<IStaking::Unbonding>> {
    let mut out = Vec::new();
    for (_, e) in entries(ctx, delegator)? {
        out.push(IStaking::Unbonding {
            validator: e.validator,
            amount: value(ctx, &e)?,
            releaseBlock: e.release,
        });
    }
    Ok(out)
}

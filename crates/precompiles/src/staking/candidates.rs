//! Candidates: registration, the candidate list (with removal of candidates that cannot be
//! elected, security review M3) and commission changes (capped and delayed, M3).

use super::*;

pub(super) fn candidates<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<Vec<Address>> {
    let n = ctx.g(G_CANDIDATES)?.saturating_to::<u64>();
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        out.push(to_addr(ctx.get(slot(T_CAND, num_key(i), 0))?));
    }
    Ok(out)
}

pub(super) fn register<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    who: Address,
    stake: U256,
    commission: u16,
) -> Res<()> {
    if stake < sp.min_self_stake {
        return Err(revert(IStaking::StakeTooLow { minimum: sp.min_self_stake }));
    }
    if commission > sp.max_commission_bps {
        return Err(revert(IStaking::CommissionTooHigh { maximum: sp.max_commission_bps }));
    }
    let mut v = Val::load(ctx, who)?;
    if v.registered {
        return Err(revert(IStaking::AlreadyRegistered {}));
    }
    let n = ctx.g(G_CANDIDATES)?.saturating_to::<u64>();
    if n >= u64::from(sp.max_candidates) {
        return Err(revert(IStaking::TooManyCandidates {}));
    }
    ctx.set(slot(T_CAND, num_key(n), 0), from_addr(who))?;
    ctx.set(slot(T_CAND_IDX, addr_key(who), 0), U256::from(n + 1))?;
    ctx.set_g(G_CANDIDATES, U256::from(n + 1))?;
    v.registered = true;
    ctx.emit(
        IStaking::ValidatorRegistered {
            validator: who,
            selfStake: stake,
            commissionBps: commission,
        }
        .encode_log_data(),
    )?;
    if v.total_shares.is_zero() {
        v.commission = commission;
        v.clear_pending();
    } else {
        // A removed candidate coming back still has delegators: they get the same notice and
        // cap on an increase as with `setCommission` (M3).
        change_commission(ctx, sp, &mut v, who, commission)?;
    }
    bond(ctx, &mut v, who, who, stake)
}

/// Applies a commission change (M3): a decrease (or the current value, cancelling a pending
/// increase) at once; an increase of at most `maxCommissionIncreaseBps` from the first epoch
/// boundary at least `epochBlocks` away, replacing any pending one. Does not store `v`.
pub(super) fn change_commission<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    v: &mut Val,
    validator: Address,
    commission: u16,
) -> Res<()> {
    if commission > sp.max_commission_bps {
        return Err(revert(IStaking::CommissionTooHigh { maximum: sp.max_commission_bps }));
    }
    if commission <= v.commission {
        v.commission = commission;
        v.clear_pending();
        return ctx.emit(
            IStaking::CommissionChanged { validator, commissionBps: commission }.encode_log_data(),
        );
    }
    let maximum =
        v.commission.saturating_add(sp.max_commission_increase_bps).min(sp.max_commission_bps);
    if commission > maximum {
        return Err(revert(IStaking::CommissionIncreaseTooLarge { maximum }));
    }
    let e = sp.epoch_blocks.max(1);
    let at = ck2(ctx.now.checked_add(e).and_then(|b| b.checked_next_multiple_of(e)))?;
    v.pending_commission = commission;
    v.pending_at = at;
    ctx.emit(
        IStaking::CommissionChangeScheduled {
            validator,
            commissionBps: commission,
            effectiveBlock: at,
        }
        .encode_log_data(),
    )
}

/// Takes a candidate that cannot be elected (not active, self-stake below the minimum) off the
/// list (M3). Its record and delegations stay: delegators can still undelegate and claim.
pub(super) fn remove_candidate<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    a: Address,
) -> Res<()> {
    let mut v = registered(ctx, a)?;
    let own = Del::load(ctx, a, a)?;
    if v.active || v.value_of(own.shares)? >= sp.min_self_stake {
        return Err(revert(IStaking::CandidateNotRemovable {}));
    }
    let n = ctx.g(G_CANDIDATES)?.saturating_to::<u64>();
    let idx_slot = slot(T_CAND_IDX, addr_key(a), 0);
    let mut idx = ctx.get(idx_slot)?.saturating_to::<u64>();
    if idx == 0 || idx > n || to_addr(ctx.get(slot(T_CAND, num_key(idx - 1), 0))?) != a {
        // Not indexed (state from before the index): find it (bounded by maxCandidates).
        idx = 0;
        for i in 0..n {
            if to_addr(ctx.get(slot(T_CAND, num_key(i), 0))?) == a {
                idx = i + 1;
                break;
            }
        }
        if idx == 0 {
            return Err(revert(IStaking::NotRegistered { validator: a }));
        }
    }
    let last = n - 1;
    if idx - 1 != last {
        let moved = ctx.get(slot(T_CAND, num_key(last), 0))?;
        ctx.set(slot(T_CAND, num_key(idx - 1), 0), moved)?;
        ctx.set(slot(T_CAND_IDX, addr_key(to_addr(moved)), 0), U256::from(idx))?;
    }
    ctx.set(slot(T_CAND, num_key(last), 0), U256::ZERO)?;
    ctx.set(idx_slot, U256::ZERO)?;
    ctx.set_g(G_CANDIDATES, U256::from(last))?;
    v.registered = false;
    v.store(ctx)?;
    ctx.emit(IStaking::CandidateRemoved { validator: a }.encode_log_data())
}

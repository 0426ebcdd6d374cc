//! Rewards: the market pool's accumulator, settlement of a machine's reward (owner, auditors,
//! vesting) and grades, and claims.

use super::*;

/// The accumulator as of now (without writing).
pub(super) fn current_acc<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    Ok(pool_update(ctx)?.0)
}

/// Computes (acc, distributed, newly released) as of now.
pub(super) fn pool_update<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<(U256, U256, U256)> {
    let acc = ctx.g(G_ACC)?;
    let last: u64 = ctx.g(G_LAST_REWARD)?.saturating_to();
    let distributed = ctx.g(G_DISTRIBUTED)?;
    if ctx.now <= last {
        return Ok((acc, distributed, U256::ZERO));
    }
    let total_grade = ctx.g(G_TOTAL_GRADE)?;
    if total_grade.is_zero() {
        return Ok((acc, distributed, U256::ZERO));
    }
    let (due, eras) = ctx.p.emission.emitted(last, ctx.now, ctx.p.reward_pool);
    ctx.charge(gas::STEP.saturating_mul(eras))?;
    let left = ctx.p.reward_pool.saturating_sub(distributed);
    let released = due.min(left);
    let inc = ck(math::mul_div(released, U256::from(ACC_SCALE), total_grade))?;
    Ok((ck(acc.checked_add(inc))?, ck(distributed.checked_add(released))?, released))
}

/// Brings the accumulator up to now.
pub(super) fn update_pool<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    let (acc, distributed, released) = pool_update(ctx)?;
    if !released.is_zero() {
        ctx.set_g(G_ACC, acc)?;
        ctx.set_g(G_DISTRIBUTED, distributed)?;
    }
    let last: u64 = ctx.g(G_LAST_REWARD)?.saturating_to();
    if ctx.now > last {
        ctx.set_g(G_LAST_REWARD, U256::from(ctx.now))?;
    }
    Ok(acc)
}

pub(super) fn accrued(grade: U256, acc: U256) -> Res<U256> {
    ck(math::mul_div(grade, acc, U256::from(ACC_SCALE)))
}

pub(super) fn pending(m: &Machine, acc: U256) -> Res<U256> {
    Ok(accrued(m.grade, acc)?.saturating_sub(m.debt))
}

/// Settles a machine's pending reward (call before changing its grade, and when a rental of it
/// starts or ends, so that the rental's bonus is measured exactly).
pub(super) fn settle<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<()> {
    let acc = update_pool(ctx)?;
    let amount = pending(m, acc)?;
    m.debt = accrued(m.grade, acc)?;
    if amount.is_zero() {
        return Ok(());
    }
    if m.gpus > 0 {
        let per_gpu = ck(math::mul_div(amount, U256::from(PER_GPU_SCALE), U256::from(m.gpus)))?;
        m.reward_per_gpu = ck(m.reward_per_gpu.checked_add(per_gpu))?;
    }
    pay_reward(ctx, m, amount)
}

/// Pays the rented bonus of rental `r` of `m` as it ends (call after [`settle`]): `rentedBonusBps`
/// of what its GPUs earned while it ran, **at most the rent it burned** (issue #16 item 4), from
/// what is left of the pool. Whoever rents a machine, the bonus it brings its owner never
/// exceeds the rent burned for it, so renting one's own machine from another address (wash
/// renting) costs at least what it earns, at every burn tier and network size, and one rental
/// cannot lend its burn to another.
pub(super) fn pay_rental_bonus<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    r: &Rental,
    burned: U256,
) -> Res<()> {
    let per_gpu = m.reward_per_gpu.saturating_sub(r.reward_snapshot);
    let earned = ck(math::mul_div(per_gpu, U256::from(r.gpus), U256::from(PER_GPU_SCALE)))?;
    let accrued = ck(math::bps_of(earned, ctx.p.rented_bonus_bps))?;
    let distributed = ctx.g(G_DISTRIBUTED)?;
    let left = ctx.p.reward_pool.saturating_sub(distributed);
    let paid = accrued.min(burned).min(left);
    if accrued.is_zero() {
        return Ok(());
    }
    ctx.set_g(G_DISTRIBUTED, ck(distributed.checked_add(paid))?)?;
    emit(
        ctx,
        IGpuMarket::RentedBonusPaid { machineId: m.id, rentalId: U256::from(r.id), accrued, paid },
    )?;
    pay_reward(ctx, m, paid)
}

/// Pays `amount` of reward for `m`: the verifiers' share at once, the owner's split into an
/// immediate part and a vesting tranche.
fn pay_reward<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, amount: U256) -> Res<()> {
    if amount.is_zero() {
        return Ok(());
    }
    m.earned = ck(m.earned.checked_add(amount))?;
    // Auditors who verified the machine share `auditorRewardBps` of it, paid at once.
    let to_auditors = credit_verifiers(ctx, m, amount, ctx.p.auditor_reward_bps)?;
    let owner_amount = amount - to_auditors;
    let (immediate, vesting) = ck(math::split_immediate(owner_amount, ctx.p.immediate_bps))?;
    let mut acct = Account::load(ctx, m.owner)?;
    acct.claimable = ck(acct.claimable.checked_add(immediate))?;
    let epoch = ctx.now / ctx.p.epoch_blocks;
    let start = ck((epoch + 1).checked_mul(ctx.p.epoch_blocks))?;
    acct.add_vesting(ctx, start, vesting)?;
    acct.store(ctx)?;
    emit(
        ctx,
        IGpuMarket::RewardSettled {
            machineId: m.id,
            owner: m.owner,
            immediate,
            vesting,
            toAuditors: to_auditors,
        },
    )
}

/// Recomputes a machine's grade after a change (call after [`settle`]).
pub(super) fn regrade<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<()> {
    let new =
        if m.status == status::ONLINE { math::grade(m.calc_point, m.gpus) } else { U256::ZERO };
    if new == m.grade {
        return Ok(());
    }
    // Projects the machine mines for follow its grade.
    crate::mining::on_grade_change(ctx, m.id, new)?;
    let total = ctx.g(G_TOTAL_GRADE)?;
    let total = ck(total.checked_sub(m.grade).and_then(|t| t.checked_add(new)))?;
    ctx.set_g(G_TOTAL_GRADE, total)?;
    let acc = ctx.g(G_ACC)?;
    m.grade = new;
    m.debt = accrued(new, acc)?;
    Ok(())
}

/// Machines registered by `owner`, in registration order.
pub(crate) fn owner_machines<H: Host>(ctx: &mut Ctx<'_, H>, owner: Address) -> Res<Vec<B256>> {
    let key = addr_key(owner);
    let n: u64 = ctx.get(slot(T_OWNER_MACHINES, key, 0))?.saturating_to();
    (0..n).map(|i| Ok(B256::from(ctx.get(slot(T_OWNER_MACHINES, key, i + 1))?))).collect()
}

pub(super) fn rewards_of<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<IGpuMarket::Rewards> {
    let mut acct = Account::load(ctx, who)?;
    let vested = acct.refresh(ctx, ctx.p.vesting_blocks)?;
    let vested_unclaimed = vested.saturating_sub(acct.withdrawn_vested);
    let mut claimable = ck(acct.claimable.checked_add(vested_unclaimed))?;
    let mut vesting = acct.total_vesting.saturating_sub(vested);
    // Rewards accrued by the account's online machines but not yet settled, split as a
    // settlement now would split them.
    let acc = current_acc(ctx)?;
    for id in owner_machines(ctx, who)? {
        let m = machine(ctx, id)?;
        let amount = pending(&m, acc)?;
        if amount.is_zero() {
            continue;
        }
        let auditors = m.verifiers.iter().filter(|a| !a.is_zero()).count();
        let to_auditors = if auditors == 0 {
            U256::ZERO
        } else {
            ck(math::bps_of(amount, ctx.p.auditor_reward_bps))? / U256::from(auditors)
                * U256::from(auditors)
        };
        let (now, later) = ck(math::split_immediate(amount - to_auditors, ctx.p.immediate_bps))?;
        claimable = ck(claimable.checked_add(now))?;
        vesting = ck(vesting.checked_add(later))?;
    }
    Ok(IGpuMarket::Rewards { claimable, vesting, claimed: acct.claimed })
}

pub(super) fn claim<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<U256> {
    // Settle what the caller's online machines accrued so far.
    for id in owner_machines(ctx, who)? {
        let mut m = machine(ctx, id)?;
        if !m.grade.is_zero() {
            settle(ctx, &mut m)?;
            m.store(ctx)?;
        }
    }
    let mut acct = Account::load(ctx, who)?;
    let vested = acct.refresh(ctx, ctx.p.vesting_blocks)?;
    let amount = ck(acct.take(vested))?;
    if amount.is_zero() {
        return Err(revert(IGpuMarket::NothingToClaim {}));
    }
    acct.store(ctx)?;
    ctx.pay(who, amount)?;
    emit(ctx, IGpuMarket::RewardsClaimed { account: who, amount })?;
    Ok(amount)
}

/// Credits `bps` of `amount` in equal whole-wei shares to the auditors who verified `m` (claimable
/// at once); returns what was credited (0 when it has no verifiers).
pub(super) fn credit_verifiers<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &Machine,
    amount: U256,
    bps: u16,
) -> Res<U256> {
    let verifiers = m.verifiers;
    credit_auditors(ctx, &verifiers, amount, bps)
}

/// Credits `bps` of `amount` in equal whole-wei shares to the non-zero `auditors` (claimable at
/// once); returns what was credited.
pub(super) fn credit_auditors<H: Host>(
    ctx: &mut Ctx<'_, H>,
    auditors: &[Address],
    amount: U256,
    bps: u16,
) -> Res<U256> {
    let verifiers: Vec<Address> = auditors.iter().copied().filter(|a| !a.is_zero()).collect();
    if verifiers.is_empty() {
        return Ok(U256::ZERO);
    }
    let each = ck(math::bps_of(amount, bps))? / U256::from(verifiers.len());
    for a in &verifiers {
        let mut acct = Account::load(ctx, *a)?;
        acct.claimable = ck(acct.claimable.checked_add(each))?;
        acct.store(ctx)?;
    }
    Ok(each * U256::from(verifiers.len()))
}

//! Rentals: prices and quotes, renting (for oneself or a beneficiary), extensions as priced
//! segments, and ending with an exact refund.

use super::*;

/// The GPU count that selects the burn tier (`burnTierBasis`).
pub(super) fn tier_gpus<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<u64> {
    let counter = match ctx.p.burn_tier_basis {
        dbc_chainspec::BurnBasis::Online => G_ONLINE_GPUS,
        dbc_chainspec::BurnBasis::Registered => G_TOTAL_GPUS,
    };
    Ok(ctx.g(counter)?.saturating_to())
}

/// The standard price per GPU-block for the machine's calc point.
pub(super) fn standard_price<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<U256> {
    ck(math::mul_div(
        ctx.p.standard_price_per_gpu_block,
        U256::from(m.calc_point),
        U256::from(ctx.p.standard_calc_point),
    ))
}

/// The lowest price an owner may charge (security review H7): `minPriceBps` of the standard
/// price for the machine's calc point.
pub(super) fn price_floor<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<U256> {
    ck(math::bps_of(standard_price(ctx, m)?, ctx.p.min_price_bps))
}

/// The price per GPU-block: the owner's price, never below the floor (a price set before
/// verification fixed the calc point is lifted to it), or the standard price.
pub(super) fn price<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<U256> {
    if !m.custom_price.is_zero() {
        return Ok(m.custom_price.max(price_floor(ctx, m)?));
    }
    standard_price(ctx, m)
}

pub(super) fn quote<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &Machine,
    gpus: u32,
    blocks: u64,
) -> Res<U256> {
    let p = price(ctx, m)?;
    ck(p.checked_mul(U256::from(gpus)).and_then(|v| v.checked_mul(U256::from(blocks))))
}

pub(super) fn check_duration<H: Host>(ctx: &Ctx<'_, H>, blocks: u64, total: u64) -> Res<()> {
    let unit = ctx.p.rent_unit_blocks;
    if blocks == 0 || !blocks.is_multiple_of(unit) || total > ctx.p.max_rent_blocks {
        return Err(revert(IGpuMarket::InvalidDuration {
            blocks,
            unit,
            max: ctx.p.max_rent_blocks,
        }));
    }
    Ok(())
}

pub(super) fn rent<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    value: U256,
    id: B256,
    gpus: u32,
    blocks: u64,
    beneficiary: Address,
) -> Res<u64> {
    let mut m = machine(ctx, id)?;
    if m.status != status::ONLINE {
        return Err(bad_status(&m));
    }
    if who == m.owner || beneficiary == m.owner {
        // Security review H7: renting one's own machine only buys reward weight.
        return Err(revert(IGpuMarket::OwnMachine { machineId: id }));
    }
    check_duration(ctx, blocks, blocks)?;
    let available = m.gpus - m.rented.min(m.gpus);
    if gpus == 0 || gpus > available {
        return Err(revert(IGpuMarket::NotEnoughGpus { requested: gpus, available }));
    }
    let cost = quote(ctx, &m, gpus, blocks)?;
    if value < cost {
        return Err(revert(IGpuMarket::InsufficientPayment { required: cost, sent: value }));
    }
    settle(ctx, &mut m)?;
    let burn_bps = math::burn_bps(&ctx.p.burn_tiers, tier_gpus(ctx)?);
    let rid: u64 = ctx.g(G_RENTALS)?.saturating_to::<u64>() + 1;
    ctx.set_g(G_RENTALS, U256::from(rid))?;
    let mut r = Rental::new(rid, id, who);
    r.beneficiary = beneficiary;
    r.gpus = gpus;
    r.burn_bps = burn_bps;
    r.status = rental_status::ACTIVE;
    r.start = ctx.now;
    r.end = ck(ctx.now.checked_add(blocks))?;
    r.paid = cost;
    // The rental's bonus is measured from here (the machine was just settled).
    r.reward_snapshot = m.reward_per_gpu;
    r.queue_index = schedule_at(ctx, r.end, item::RENTAL_END, rid)? as u32;
    list_rental(ctx, &mut r)?;
    r.store(ctx)?;
    m.rented += gpus;
    m.rent_end = m.rent_end.max(r.end);
    m.last_renter = beneficiary;
    m.store(ctx)?;
    ctx.add_g(G_RENTED_GPUS, U256::from(gpus), false)?;
    ctx.pay(who, value - cost)?;
    emit(
        ctx,
        IGpuMarket::Rented {
            rentalId: U256::from(rid),
            machineId: id,
            renter: who,
            gpus,
            start: r.start,
            end: r.end,
            paid: cost,
            burnBps: burn_bps,
        },
    )?;
    Ok(rid)
}

pub(super) fn active_rental_of<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    id: U256,
) -> Res<Rental> {
    let r = rental(ctx, id)?;
    if r.renter != who {
        return Err(revert(IGpuMarket::NotRenter { rentalId: id }));
    }
    if r.status != rental_status::ACTIVE || ctx.now >= r.end {
        return Err(revert(IGpuMarket::RentalNotActive { rentalId: id }));
    }
    Ok(r)
}

pub(super) fn extend<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    value: U256,
    id: U256,
    blocks: u64,
) -> Res<()> {
    let mut r = active_rental_of(ctx, who, id)?;
    let mut m = machine(ctx, r.machine)?;
    if m.status != status::ONLINE {
        return Err(bad_status(&m));
    }
    let total = ck(r.end.checked_add(blocks))?.saturating_sub(ctx.now);
    check_duration(ctx, blocks, total)?;
    if r.extensions >= MAX_RENTAL_EXTENSIONS {
        return Err(revert(IGpuMarket::TooManyExtensions {
            rentalId: id,
            max: MAX_RENTAL_EXTENSIONS,
        }));
    }
    let rate = ck(price(ctx, &m)?.checked_mul(U256::from(r.gpus)))?;
    let cost = ck(rate.checked_mul(U256::from(blocks)))?;
    if value < cost {
        return Err(revert(IGpuMarket::InsufficientPayment { required: cost, sent: value }));
    }
    // Security review M1: each extension is a segment at its own price, so ending early
    // refunds exactly the unused blocks of each segment at that segment's price.
    let key = num_key(r.id);
    if r.extensions == 0 {
        let first_rate = r.paid / U256::from(r.end - r.start);
        ctx.set(slot(T_RENTAL_SEGMENT, key, 0), U256::from(r.end))?;
        ctx.set(slot(T_RENTAL_SEGMENT, key, 1), first_rate)?;
    }
    let new_end = ck(r.end.checked_add(blocks))?;
    let j = u64::from(r.extensions) + 1;
    ctx.set(slot(T_RENTAL_SEGMENT, key, 2 * j), U256::from(new_end))?;
    ctx.set(slot(T_RENTAL_SEGMENT, key, 2 * j + 1), rate)?;
    r.extensions += 1;
    // The rental keeps exactly one item in the hook queue (security review M5).
    unschedule_rental(ctx, r.end, r.queue_index, r.id)?;
    r.end = new_end;
    r.queue_index = schedule_at(ctx, r.end, item::RENTAL_END, r.id)? as u32;
    r.paid = ck(r.paid.checked_add(cost))?;
    r.store(ctx)?;
    m.rent_end = m.rent_end.max(r.end);
    m.store(ctx)?;
    ctx.pay(who, value - cost)?;
    emit(ctx, IGpuMarket::RentalExtended { rentalId: id, end: r.end, paid: r.paid })
}

/// Ends a rental now: refunds the unused share, burns `burnBps` of the used share and pays
/// the rest to the provider.
pub(super) fn close_rental<H: Host>(ctx: &mut Ctx<'_, H>, r: &mut Rental) -> Res<()> {
    let mut m = machine(ctx, r.machine)?;
    let refund = unused_rent(ctx, r)?;
    unschedule_rental(ctx, r.end, r.queue_index, r.id)?;
    r.queue_index = 0;
    unlist_rental(ctx, r)?;
    let used = r.paid - refund;
    let target = ck(math::bps_of(used, r.burn_bps))?;
    let to_provider = used - target;
    // At the burn floor less (or nothing) is burned and the rest goes to the treasury; the
    // rental's bonus is capped by what was actually burned.
    let burned = crate::supply::burn_capped(ctx, target)?;
    settle(ctx, &mut m)?;
    r.status = rental_status::ENDED;
    r.end = r.end.min(ctx.now);
    r.refunded = refund;
    r.burned = burned;
    r.store(ctx)?;
    m.rented = m.rented.saturating_sub(r.gpus);
    m.last_rental_end = ctx.now;
    pay_rental_bonus(ctx, &mut m, r, burned)?;
    m.store(ctx)?;
    ctx.add_g(G_RENTED_GPUS, U256::from(r.gpus), true)?;
    ctx.pay(r.beneficiary, refund)?;
    ctx.pay(m.owner, to_provider)?;
    let id = U256::from(r.id);
    emit(
        ctx,
        IGpuMarket::RentalEnded { rentalId: id, refunded: refund, toProvider: to_provider, burned },
    )?;
    if !burned.is_zero() {
        let total = ctx.add_g(G_BURNED, burned, false)?;
        emit(ctx, IGpuMarket::RentBurned { rentalId: id, amount: burned, totalBurned: total })?;
    }
    Ok(())
}

/// Adds `r` to its machine's list of active rentals.
fn list_rental<H: Host>(ctx: &mut Ctx<'_, H>, r: &mut Rental) -> Res<()> {
    let n: u64 = ctx.get(slot(T_MACHINE_RENTALS, r.machine, 0))?.saturating_to();
    let at = ck(n.checked_add(1))?;
    ctx.set(slot(T_MACHINE_RENTALS, r.machine, at), U256::from(r.id))?;
    ctx.set(slot(T_MACHINE_RENTALS, r.machine, 0), U256::from(at))?;
    r.machine_slot = ck(u32::try_from(at).ok())?;
    Ok(())
}

/// Removes `r` from its machine's list (the last entry takes its place).
fn unlist_rental<H: Host>(ctx: &mut Ctx<'_, H>, r: &mut Rental) -> Res<()> {
    let i = u64::from(r.machine_slot);
    let n: u64 = ctx.get(slot(T_MACHINE_RENTALS, r.machine, 0))?.saturating_to();
    if i == 0 || i > n || ctx.get(slot(T_MACHINE_RENTALS, r.machine, i))? != U256::from(r.id) {
        return Ok(());
    }
    if i != n {
        let last = ctx.get(slot(T_MACHINE_RENTALS, r.machine, n))?;
        ctx.set(slot(T_MACHINE_RENTALS, r.machine, i), last)?;
        if let Some(mut moved) = Rental::load(ctx, last.saturating_to())? {
            moved.machine_slot = r.machine_slot;
            moved.store(ctx)?;
        }
    }
    ctx.set(slot(T_MACHINE_RENTALS, r.machine, n), U256::ZERO)?;
    ctx.set(slot(T_MACHINE_RENTALS, r.machine, 0), U256::from(n - 1))?;
    r.machine_slot = 0;
    Ok(())
}

/// The machine's active rentals (at most one per GPU).
pub(super) fn active_rentals<H: Host>(ctx: &mut Ctx<'_, H>, machine: B256) -> Res<Vec<u64>> {
    let n: u64 = ctx.get(slot(T_MACHINE_RENTALS, machine, 0))?.saturating_to();
    let mut out = Vec::with_capacity(n.min(1_024) as usize);
    for i in 1..=n {
        out.push(ctx.get(slot(T_MACHINE_RENTALS, machine, i))?.saturating_to());
    }
    Ok(out)
}

/// The rent of the blocks of `r` not yet used: per segment, its unused blocks at its price.
pub(super) fn unused_rent<H: Host>(ctx: &mut Ctx<'_, H>, r: &Rental) -> Res<U256> {
    if r.extensions == 0 {
        return ck(math::prorata_refund(r.paid, r.start, r.end, ctx.now));
    }
    let key = num_key(r.id);
    let (mut from, mut total) = (r.start, U256::ZERO);
    for j in 0..=u64::from(r.extensions) {
        let end: u64 = ctx.get(slot(T_RENTAL_SEGMENT, key, 2 * j))?.saturating_to();
        if end > ctx.now {
            let rate = ctx.get(slot(T_RENTAL_SEGMENT, key, 2 * j + 1))?;
            let unused = end - ctx.now.max(from);
            total = ck(rate.checked_mul(U256::from(unused)).and_then(|v| total.checked_add(v)))?;
        }
        from = end;
    }
    Ok(total.min(r.paid))
}

pub(super) fn end_rental_early<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: U256) -> Res<()> {
    let mut r = active_rental_of(ctx, who, id)?;
    close_rental(ctx, &mut r)
}

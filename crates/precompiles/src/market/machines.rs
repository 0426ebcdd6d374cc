//! Machines: registration, stake, price, signed heartbeats and going offline, failures found
//! (slashed at detection), slashing and exit.

use super::*;

pub(super) fn register<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    value: U256,
    id: B256,
    spec: IGpuMarket::MachineSpec,
) -> Res<()> {
    if id.is_zero()
        || spec.gpuCount == 0
        || spec.gpuCount > 1_024
        || spec.gpuMemoryGb == 0
        || spec.gpuModel.is_zero()
        || spec.machineKey.is_zero()
    {
        return Err(revert(IGpuMarket::InvalidSpec {}));
    }
    // Calc points come from the GPU-model table: only its models can register, with its memory.
    let Some(row) = ctx.p.gpu_model(spec.gpuModel) else {
        return Err(revert(IGpuMarket::UnknownGpuModel { model: spec.gpuModel }));
    };
    if row.memory_gb != spec.gpuMemoryGb {
        return Err(revert(IGpuMarket::InvalidSpec {}));
    }
    if Machine::load(ctx, id)?.is_some() {
        return Err(revert(IGpuMarket::MachineExists { machineId: id }));
    }
    let required = ck(ctx.p.stake_per_gpu.checked_mul(U256::from(spec.gpuCount)))?;
    if value != required {
        return Err(revert(IGpuMarket::WrongStake { required, sent: value }));
    }
    let index: u64 = ctx.g(G_MACHINES)?.saturating_to();
    let mut m = Machine::new(id, who);
    m.status = status::VERIFYING;
    m.model = spec.gpuModel;
    m.region = spec.region;
    m.gpus = spec.gpuCount;
    m.mem = spec.gpuMemoryGb;
    m.cpu = spec.cpuCores;
    m.ram = spec.ramGb;
    m.disk = spec.diskGb;
    m.machine_key = spec.machineKey;
    m.index = index;
    m.registered_at = ctx.now;
    m.stake = value;
    m.store(ctx)?;
    ctx.set(slot(T_MACHINE_AT, num_key(index), 0), id.into())?;
    let owned: u64 = ctx.get(slot(T_OWNER_MACHINES, addr_key(who), 0))?.saturating_to();
    ctx.set(slot(T_OWNER_MACHINES, addr_key(who), owned + 1), id.into())?;
    ctx.set(slot(T_OWNER_MACHINES, addr_key(who), 0), U256::from(owned + 1))?;
    ctx.set_g(G_MACHINES, U256::from(index + 1))?;
    ctx.add_g(G_TOTAL_GPUS, U256::from(spec.gpuCount), false)?;
    start_round(ctx, T_ROUND_MACHINE, id, 1, item::DRAW, index)?;
    emit(
        ctx,
        IGpuMarket::MachineRegistered {
            machineId: id,
            owner: who,
            gpuCount: spec.gpuCount,
            stake: value,
        },
    )
}

pub(super) fn add_stake<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    value: U256,
    id: B256,
) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if matches!(m.status, status::REJECTED | status::EXITED) {
        return Err(bad_status(&m));
    }
    m.stake = ck(m.stake.checked_add(value))?;
    m.store(ctx)?;
    emit(ctx, IGpuMarket::StakeAdded { machineId: id, amount: value, stake: m.stake })
}

pub(super) fn set_price<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256, p: U256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if matches!(m.status, status::REJECTED | status::EXITED) {
        return Err(bad_status(&m));
    }
    // Any quote must fit: price × max GPUs × max blocks.
    if p.checked_mul(U256::from(m.gpus))
        .and_then(|v| v.checked_mul(U256::from(ctx.p.max_rent_blocks)))
        .is_none_or(|v| v > U256::from(u128::MAX))
    {
        return Err(revert(IGpuMarket::PriceTooHigh {}));
    }
    let floor = price_floor(ctx, &m)?;
    if !p.is_zero() && p < floor {
        return Err(revert(IGpuMarket::PriceTooLow { minimum: floor }));
    }
    m.custom_price = p;
    m.store(ctx)?;
    let effective = price(ctx, &m)?;
    emit(ctx, IGpuMarket::PriceSet { machineId: id, pricePerGpuBlock: effective })
}

/// Longest endpoint a machine may publish, in bytes.
pub(crate) const MAX_ENDPOINT_BYTES: usize = 128;

/// Publishes (or with `""` clears) where machine `id`'s agent answers.
pub(super) fn set_endpoint<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    id: B256,
    endpoint: &str,
) -> Res<()> {
    let m = owned(ctx, who, id)?;
    if matches!(m.status, status::REJECTED | status::EXITED) {
        return Err(bad_status(&m));
    }
    let bytes = endpoint.as_bytes();
    if bytes.len() > MAX_ENDPOINT_BYTES || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(revert(IGpuMarket::InvalidEndpoint {}));
    }
    ctx.charge(gas::STEP * bytes.len() as u64)?;
    let old_len: u64 = ctx.get(slot(T_ENDPOINT, id, 0))?.saturating_to();
    let chunks = bytes.len().div_ceil(32);
    for (i, chunk) in bytes.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        ctx.set(slot(T_ENDPOINT, id, i as u64 + 1), U256::from_be_bytes(word))?;
    }
    // Clear the chunks of a longer endpoint before (none is left behind).
    for i in chunks as u64..(old_len as usize).div_ceil(32) as u64 {
        ctx.set(slot(T_ENDPOINT, id, i + 1), U256::ZERO)?;
    }
    ctx.set(slot(T_ENDPOINT, id, 0), U256::from(bytes.len()))?;
    emit(ctx, IGpuMarket::EndpointSet { machineId: id, endpoint: endpoint.to_owned() })
}

/// Machine `id`'s published endpoint (`""` if none).
pub(super) fn endpoint_of<H: Host>(ctx: &mut Ctx<'_, H>, id: B256) -> Res<String> {
    let len =
        (ctx.get(slot(T_ENDPOINT, id, 0))?.saturating_to::<u64>() as usize).min(MAX_ENDPOINT_BYTES);
    let mut out = Vec::with_capacity(len);
    for i in 0..len.div_ceil(32) {
        let word = ctx.get(slot(T_ENDPOINT, id, i as u64 + 1))?.to_be_bytes::<32>();
        let take = (len - out.len()).min(32);
        out.extend_from_slice(&word[..take]);
    }
    // Only printable ASCII is ever stored.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// Takes an online machine offline for `why` (settling its rewards).
pub(super) fn take_offline<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, why: u8) -> Res<()> {
    settle(ctx, m)?;
    m.status = status::OFFLINE;
    m.reason = why;
    m.offline_since = ctx.now;
    ctx.add_g(G_ONLINE_GPUS, U256::from(m.gpus), true)?;
    regrade(ctx, m)?;
    m.store(ctx)?;
    emit(ctx, IGpuMarket::MachineOffline { machineId: m.id, reason: en(why, OR::None) })
}

pub(super) fn go_offline<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if m.status != status::ONLINE {
        return Err(bad_status(&m));
    }
    let why = if m.rented > 0 { reason::OWNER_OFFLINE } else { reason::IDLE };
    take_offline(ctx, &mut m, why)
}

/// Applies the graduated slash of an offline period (none for idle machines); returns it. An
/// unreachable machine was slashed the first tier when found; this takes the rest of the tier
/// its offline time reached.
pub(super) fn apply_offline_slash<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<U256> {
    let blocks = ctx.now.saturating_sub(m.offline_since);
    let bps = match m.reason {
        reason::OWNER_OFFLINE => math::slash_bps(&ctx.p.owner_offline_slash, blocks),
        reason::UNREACHABLE => {
            math::slash_bps(&ctx.p.unreachable_slash, blocks).saturating_sub(m.slashed_bps)
        }
        _ => 0,
    };
    m.slashed_bps = 0;
    let amount = ck(math::bps_of(m.stake, bps))?;
    let renter = m.last_renter;
    slash(ctx, m, amount, &[(renter, 1)])?;
    Ok(amount)
}

/// Takes `amount` of a machine's stake: `slashRenterBps` to the renters (split by their GPU
/// weights; the treasury when there is none), `slashAuditorsBps` to its auditors, the rest to
/// the treasury.
pub(super) fn slash<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    amount: U256,
    renters: &[(Address, u32)],
) -> Res<()> {
    slash_found(ctx, m, amount, renters, &[])
}

/// [`slash`] for a failure `finders` (auditors) found: the auditors' share is theirs, not the
/// verifiers' (who approved the machine). With no finders it is the verifiers'.
pub(super) fn slash_found<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    amount: U256,
    renters: &[(Address, u32)],
    finders: &[Address],
) -> Res<()> {
    let amount = amount.min(m.stake);
    if amount.is_zero() {
        return Ok(());
    }
    m.stake -= amount;
    let mut to_renter = U256::ZERO;
    let renters: Vec<(Address, u32)> =
        renters.iter().copied().filter(|(a, w)| !a.is_zero() && *w > 0).collect();
    let weight: u64 = renters.iter().map(|&(_, w)| u64::from(w)).sum();
    if weight > 0 {
        let share = ck(math::bps_of(amount, ctx.p.slash_renter_bps))?;
        for &(a, w) in &renters {
            let part = ck(math::mul_div(share, U256::from(w), U256::from(weight)))?;
            ctx.pay(a, part)?;
            to_renter += part;
        }
    }
    let to_auditors = if finders.is_empty() {
        credit_verifiers(ctx, m, amount, ctx.p.slash_auditors_bps)?
    } else {
        credit_auditors(ctx, finders, amount, ctx.p.slash_auditors_bps)?
    };
    let to_treasury = amount - to_renter - to_auditors;
    treasury::receive(ctx, treasury::source::MACHINE_SLASH, m.owner, to_treasury)?;
    emit(
        ctx,
        IGpuMarket::Slashed {
            machineId: m.id,
            amount,
            toRenter: to_renter,
            toAuditors: to_auditors,
            toTreasury: to_treasury,
        },
    )
}

pub(super) fn exit<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if !matches!(m.status, status::ONLINE | status::OFFLINE) {
        return Err(bad_status(&m));
    }
    if m.rented > 0 {
        return Err(revert(IGpuMarket::HasActiveRental { machineId: id }));
    }
    if m.challenge != 0 {
        // A machine cannot leave while auditors are deciding whether it failed.
        return Err(revert(IGpuMarket::ChallengePending { reportId: U256::from(m.challenge) }));
    }
    let allowed =
        m.online_since.saturating_add(ctx.p.min_online_blocks).max(if m.last_rental_end > 0 {
            m.last_rental_end.saturating_add(ctx.p.exit_cooldown_blocks)
        } else {
            0
        });
    if ctx.now < allowed {
        return Err(revert(IGpuMarket::ExitTooEarly { allowedAt: allowed }));
    }
    settle(ctx, &mut m)?;
    if m.status == status::OFFLINE {
        apply_offline_slash(ctx, &mut m)?;
    } else {
        ctx.add_g(G_ONLINE_GPUS, U256::from(m.gpus), true)?;
    }
    m.status = status::EXITED;
    regrade(ctx, &mut m)?;
    ctx.add_g(G_TOTAL_GPUS, U256::from(m.gpus), true)?;
    let back = m.stake;
    m.stake = U256::ZERO;
    m.store(ctx)?;
    ctx.pay(who, back)?;
    emit(ctx, IGpuMarket::MachineExited { machineId: id, owner: who, stakeReturned: back })
}

pub(super) fn machine_abi<H: Host>(ctx: &mut Ctx<'_, H>, m: &Machine) -> Res<IGpuMarket::Machine> {
    Ok(IGpuMarket::Machine {
        id: m.id,
        owner: m.owner,
        spec: m.spec(),
        status: en(m.status, MS::None),
        offlineReason: en(m.reason, OR::None),
        calcPoint: m.calc_point,
        rentedGpus: m.rented,
        registeredAt: m.registered_at,
        onlineSince: m.online_since,
        offlineSince: m.offline_since,
        lastHeartbeat: m.last_heartbeat,
        rentEnd: m.rent_end,
        stake: m.stake,
        pricePerGpuBlock: if m.calc_point == 0 && m.custom_price.is_zero() {
            U256::ZERO
        } else {
            price(ctx, m)?
        },
        totalEarned: m.earned,
        openChallenge: U256::from(m.challenge),
    })
}

pub(super) fn network_stats<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<IGpuMarket::NetworkStats> {
    let online: u64 = ctx.g(G_ONLINE_GPUS)?.saturating_to();
    let (_, distributed, _) = pool_update(ctx)?;
    Ok(IGpuMarket::NetworkStats {
        totalGpus: ctx.g(G_TOTAL_GPUS)?.saturating_to(),
        onlineGpus: online,
        rentedGpus: ctx.g(G_RENTED_GPUS)?.saturating_to(),
        machines: ctx.g(G_MACHINES)?.saturating_to(),
        // The rate a rental would get now: by the genesis' tier basis, as `burnRateBps()`.
        burnRateBps: math::burn_bps(&ctx.p.burn_tiers, super::rentals::tier_gpus(ctx)?),
        totalBurned: ctx.g(G_BURNED)?,
        rewardsDistributed: distributed,
        rewardPoolRemaining: ctx.p.reward_pool.saturating_sub(distributed),
        feesBurned: ctx.g(G_FEES_BURNED)?,
    })
}

//! Liveness: heartbeats signed by the machine's own key over a recent block, the heartbeat
//! timeout, unannounced liveness challenges decided by drawn auditors, and what happens when a
//! failure is found (rentals end with refunds, slashed at once).

use super::*;

/// Blocks back a heartbeat's signed block may be (`StaleHeartbeat` beyond).
pub(crate) const HEARTBEAT_MAX_AGE: u64 = 64;

/// What a machine key signs for a heartbeat over block `number` (hash `hash`).
pub(super) fn heartbeat_digest<H: Host>(
    ctx: &mut Ctx<'_, H>,
    id: B256,
    number: u64,
    hash: B256,
) -> Res<B256> {
    ctx.hash(
        &[
            b"DBC machine heartbeat".as_slice(),
            crate::MARKET_ADDRESS.as_slice(),
            id.as_slice(),
            &number.to_be_bytes(),
            hash.as_slice(),
        ]
        .concat(),
    )
}

/// The signer of `sig` over `digest`, in the one canonical encoding seals and votes use
/// (`dbc_primitives::pos::canonical_signature`: 65 bytes, `v` 27/28, low `s`); `None` otherwise.
fn recover_signer(digest: B256, sig: &[u8]) -> Option<Address> {
    let sig = dbc_primitives::pos::canonical_signature(sig).ok()?;
    sig.recover_address_from_prehash(&digest).ok()
}

/// A heartbeat: the machine key's signature of [`heartbeat_digest`] over one of the last
/// [`HEARTBEAT_MAX_AGE`] blocks, which cannot exist before that block does. Anyone may relay
/// it; a signature by any other key (the owner's included) is refused.
pub(super) fn heartbeat<H: Host>(
    ctx: &mut Ctx<'_, H>,
    id: B256,
    number: u64,
    sig: &[u8],
) -> Res<()> {
    let mut m = machine(ctx, id)?;
    if number >= ctx.now || ctx.now - number > HEARTBEAT_MAX_AGE {
        return Err(revert(IGpuMarket::StaleHeartbeat {
            blockNumber: number,
            maxAge: HEARTBEAT_MAX_AGE,
        }));
    }
    let hash = ctx.block_hash(number)?;
    let digest = heartbeat_digest(ctx, id, number, hash)?;
    ctx.charge(gas::ECRECOVER)?;
    if hash.is_zero() || recover_signer(digest, sig) != Some(m.machine_key) {
        return Err(revert(IGpuMarket::BadHeartbeatSignature {}));
    }
    match m.status {
        status::ONLINE => {
            m.last_heartbeat = ctx.now;
            if m.check_at <= ctx.now {
                m.check_at = ctx.now + ctx.p.heartbeat_timeout_blocks;
                schedule(ctx, m.check_at, item::HEARTBEAT_CHECK, m.index)?;
            }
            m.store(ctx)?;
            emit(ctx, IGpuMarket::Heartbeat { machineId: id })
        }
        status::OFFLINE => {
            settle(ctx, &mut m)?;
            let offline = ctx.now.saturating_sub(m.offline_since);
            let slashed = apply_offline_slash(ctx, &mut m)?;
            let required = ck(m.required_stake(ctx.p.stake_per_gpu))?;
            if m.stake < required {
                return Err(revert(IGpuMarket::StakeTooLow { required, stake: m.stake }));
            }
            if m.reverify {
                // Auditors found it failing: only a new verification brings it back (a fake
                // machine cannot just top up its stake and sign a heartbeat).
                m.reverify = false;
                m.status = status::VERIFYING;
                m.reason = reason::NONE;
                m.offline_since = 0;
                m.store(ctx)?;
                start_round(ctx, T_ROUND_MACHINE, id, 1, item::DRAW, m.index)?;
                return emit(ctx, IGpuMarket::MachineReverifying { machineId: id, slashed });
            }
            m.status = status::ONLINE;
            m.reason = reason::NONE;
            m.offline_since = 0;
            m.last_heartbeat = ctx.now;
            if m.check_at <= ctx.now {
                m.check_at = ctx.now + ctx.p.heartbeat_timeout_blocks;
                schedule(ctx, m.check_at, item::HEARTBEAT_CHECK, m.index)?;
            }
            schedule_challenge_check(ctx, &mut m)?;
            ctx.add_g(G_ONLINE_GPUS, U256::from(m.gpus), false)?;
            regrade(ctx, &mut m)?;
            m.store(ctx)?;
            emit(ctx, IGpuMarket::MachineOnline { machineId: id, offlineBlocks: offline, slashed })
        }
        _ => Err(bad_status(&m)),
    }
}

/// A failure found (missed heartbeats while rented, a confirmed fault report or a failed
/// liveness challenge): every active rental ends with its unused rent refunded, the machine is
/// slashed the first unreachable tier at once (the renters' share split by their GPUs) and goes
/// offline as unreachable. Found failing by auditors (`finders`, the deciding round's
/// majority: they get the auditors' share of the slash), it can only come back through a new
/// verification. `m` is stored and reloaded.
pub(super) fn fail_machine<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    finders: &[Address],
) -> Res<()> {
    let reverify = !finders.is_empty();
    if !matches!(m.status, status::ONLINE | status::OFFLINE)
        || (m.status == status::OFFLINE && m.reason == reason::UNREACHABLE)
    {
        // Not serving, or found unreachable (and slashed) already.
        m.reverify |= reverify && m.status == status::OFFLINE;
        return m.store(ctx);
    }
    m.store(ctx)?;
    let mut renters: Vec<(Address, u32)> = Vec::new();
    for rid in active_rentals(ctx, m.id)? {
        if let Some(mut r) = Rental::load(ctx, rid)?
            && r.status == rental_status::ACTIVE
        {
            renters.push((r.beneficiary, r.gpus));
            close_rental(ctx, &mut r)?;
        }
    }
    *m = machine(ctx, m.id)?;
    if let Some(&(last, _)) = renters.last() {
        m.last_renter = last;
    }
    if m.status == status::ONLINE {
        take_offline(ctx, m, reason::UNREACHABLE)?;
    } else {
        // Offline already (the owner's maintenance): it is now unreachable from when it left.
        m.reason = reason::UNREACHABLE;
    }
    let bps = math::slash_bps(&ctx.p.unreachable_slash, 0);
    let amount = ck(math::bps_of(m.stake, bps))?;
    slash_found(ctx, m, amount, &renters, finders)?;
    m.slashed_bps = bps;
    m.reverify |= reverify;
    m.store(ctx)
}

/// The heartbeat timeout of a machine, due at `due`.
pub(super) fn heartbeat_check<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, due: u64) -> Res<()> {
    if m.status != status::ONLINE || m.check_at != due {
        return Ok(());
    }
    let deadline = m.last_heartbeat.saturating_add(ctx.p.heartbeat_timeout_blocks);
    if deadline > ctx.now {
        m.check_at = deadline;
        m.store(ctx)?;
        return schedule(ctx, deadline, item::HEARTBEAT_CHECK, m.index);
    }
    m.check_at = 0;
    if m.rented > 0 {
        // A rented machine that vanished: its renters stop paying at once (security review).
        fail_machine(ctx, m, &[])
    } else {
        take_offline(ctx, m, reason::IDLE)
    }
}

/// Schedules the machine's next challenge check `challengeCheckBlocks` from now, unless one is
/// pending.
pub(super) fn schedule_challenge_check<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<()> {
    if m.challenge_at > ctx.now {
        return Ok(());
    }
    m.challenge_at = ck(ctx.now.checked_add(ctx.p.challenge_check_blocks))?;
    schedule(ctx, m.challenge_at, item::CHALLENGE_CHECK, m.index)
}

/// A failure found by `finders`, the majority of report `report`'s round: [`fail_machine`] now,
/// or, when the machine has more than [`INLINE_RENTAL_ENDS`] active rentals, in the next block's
/// hook (so the transaction that found the failure stays small).
pub(super) fn fail_machine_soon<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    report: u64,
    finders: &[Address],
) -> Res<()> {
    let n: u64 = ctx.get(slot(T_MACHINE_RENTALS, m.id, 0))?.saturating_to();
    if n <= INLINE_RENTAL_ENDS {
        return fail_machine(ctx, m, finders);
    }
    m.store(ctx)?;
    schedule(ctx, ctx.now + 1, item::FAIL_MACHINE, report)
}

/// The auditors of report `report`'s stored round who revealed that the machine failed.
pub(super) fn report_finders<H: Host>(ctx: &mut Ctx<'_, H>, report: u64) -> Res<Vec<Address>> {
    let r = Round::load(ctx, T_ROUND_REPORT, num_key(report))?;
    Ok((0..3).filter(|&i| r.revealed(i) && r.verdict(i)).map(|i| r.auditors[i]).collect())
}

/// A machine's due challenge check: with `challengeChanceBps` chance, drawn from this block's
/// randomness (the proposer's VRF reveal: nobody knows it before this block), it opens a
/// liveness challenge, a report round with the market as reporter. The next check is
/// scheduled while the machine stays online.
pub(super) fn challenge_check<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, due: u64) -> Res<()> {
    if m.challenge_at != due {
        return Ok(());
    }
    m.challenge_at = 0;
    if m.status != status::ONLINE {
        return m.store(ctx);
    }
    schedule_challenge_check(ctx, m)?;
    if m.challenge == 0 {
        let seed = ctx.host.randomness();
        let h = ctx.hash(&[seed.as_slice(), b"liveness", m.id.as_slice()].concat())?;
        if U256::from_be_bytes(h.0) % U256::from(10_000u16) < U256::from(ctx.p.challenge_chance_bps)
        {
            open_challenge(ctx, m)?;
        }
    }
    m.store(ctx)
}

/// Opens a liveness challenge of `m`: auditors are drawn `drawDelayBlocks` later and decide by
/// commit–reveal whether it serves (`faulty = false`) or not.
pub(super) fn open_challenge<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<u64> {
    let id: u64 = ck(ctx.g(G_REPORTS)?.saturating_to::<u64>().checked_add(1))?;
    ctx.set_g(G_REPORTS, U256::from(id))?;
    let mut rep = Report::new(id, 0, crate::MARKET_ADDRESS, m.id);
    rep.store(ctx)?;
    start_round(ctx, T_ROUND_REPORT, num_key(id), 1, item::REPORT_DRAW, id)?;
    m.challenge = id;
    emit(ctx, IGpuMarket::LivenessChallenged { machineId: m.id, reportId: U256::from(id) })?;
    Ok(id)
}

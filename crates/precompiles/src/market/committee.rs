//! The auditor committee and its commit–reveal rounds: joining and leaving, the draw, commits,
//! and the verification of a machine.

use super::*;

pub(super) fn join_committee<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, value: U256) -> Res<()> {
    let key = addr_key(who);
    if !ctx.get(slot(T_AUDITOR, key, 1))?.is_zero() {
        return Err(revert(IGpuMarket::AlreadyAuditor {}));
    }
    if value < ctx.p.auditor_stake {
        return Err(revert(IGpuMarket::WrongStake { required: ctx.p.auditor_stake, sent: value }));
    }
    // A new seat at the end of the list; seats never move (a draw's snapshot is a prefix).
    let seat: u64 = ctx.g(G_COMMITTEE_SEQ)?.saturating_to();
    let n: u64 = ctx.g(G_COMMITTEE)?.saturating_to();
    ctx.set(slot(T_COMMITTEE, num_key(seat), 0), from_addr(who))?;
    ctx.set_g(G_COMMITTEE_SEQ, U256::from(ck(seat.checked_add(1))?))?;
    ctx.set_g(G_COMMITTEE, U256::from(n + 1))?;
    ctx.set(slot(T_AUDITOR, key, 0), value)?;
    ctx.set(slot(T_AUDITOR, key, 1), U256::from(ck(seat.checked_add(1))?))?;
    emit(ctx, IGpuMarket::AuditorJoined { auditor: who, stake: value })
}

pub(super) fn add_auditor_stake<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    value: U256,
) -> Res<()> {
    let key = addr_key(who);
    if ctx.get(slot(T_AUDITOR, key, 1))?.is_zero() {
        return Err(revert(IGpuMarket::NotAuditor {}));
    }
    if value.is_zero() {
        return Err(revert(IGpuMarket::WrongStake { required: U256::from(1), sent: value }));
    }
    let stake = ck(ctx.get(slot(T_AUDITOR, key, 0))?.checked_add(value))?;
    ctx.set(slot(T_AUDITOR, key, 0), stake)?;
    emit(ctx, IGpuMarket::AuditorStakeAdded { auditor: who, amount: value, stake })
}

pub(super) fn leave_committee<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<()> {
    let key = addr_key(who);
    let seat: u64 = ctx.get(slot(T_AUDITOR, key, 1))?.saturating_to();
    if seat == 0 {
        return Err(revert(IGpuMarket::NotAuditor {}));
    }
    let busy: u32 = ctx.get(slot(T_AUDITOR, key, 2))?.saturating_to();
    if busy > 0 {
        return Err(revert(IGpuMarket::AuditorBusy { activeAssignments: busy }));
    }
    // The seat becomes a hole: nobody else moves, so leaving never changes whom a pending
    // draw picks among the others.
    ctx.set(slot(T_COMMITTEE, num_key(seat - 1), 0), U256::ZERO)?;
    let n: u64 = ctx.g(G_COMMITTEE)?.saturating_to();
    ctx.set_g(G_COMMITTEE, U256::from(n.saturating_sub(1)))?;
    let stake = ctx.get(slot(T_AUDITOR, key, 0))?;
    ctx.set(slot(T_AUDITOR, key, 0), U256::ZERO)?;
    ctx.set(slot(T_AUDITOR, key, 1), U256::ZERO)?;
    ctx.pay(who, stake)?;
    emit(ctx, IGpuMarket::AuditorLeft { auditor: who, stakeReturned: stake })
}

/// Committee seats handed out so far: a draw scheduled now picks among these.
pub(super) fn committee_snapshot<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<u64> {
    Ok(ctx.g(G_COMMITTEE_SEQ)?.saturating_to())
}

/// Opens a round: auditors are drawn `drawDelayBlocks` later, among the members seated now.
pub(super) fn start_round<H: Host>(
    ctx: &mut Ctx<'_, H>,
    tag: u64,
    key: B256,
    attempt: u32,
    draw_kind: u8,
    id: u64,
) -> Res<()> {
    let mut r = Round::load(ctx, tag, key)?;
    r.phase = phase::DRAWING;
    r.attempt = attempt;
    r.draw_at = ctx.now + ctx.p.draw_delay_blocks;
    r.commit_deadline = 0;
    r.reveal_deadline = 0;
    r.auditors = [Address::ZERO; 3];
    r.commitments = [B256::ZERO; 3];
    r.reveals = [U256::ZERO; 3];
    r.snapshot = committee_snapshot(ctx)?;
    r.store(ctx)?;
    schedule(ctx, r.draw_at, draw_kind, id)
}

/// Draws 3 distinct auditors for round `key` from the block's randomness (security review H6):
/// - only members seated before the draw was scheduled (`snapshot` seats; joining after the
///   request, when the randomness may be known, never helps);
/// - weighted by stake: a member is accepted with probability `min(stake, cap) / cap`, `cap`
///   being `AUDITOR_WEIGHT_CAP` minimum stakes, so splitting stake over several addresses
///   gives no more seats than holding it in one;
/// - with enough stake, none of them in `exclude`, never one address twice.
///
/// The randomness is the block's VRF beacon (`dbc_consensus::vrf`) under proof of stake: no
/// one knows it when the round is opened. `None` if no 3 were found in `DRAW_TRIES` tries.
pub(super) fn draw<H: Host>(
    ctx: &mut Ctx<'_, H>,
    key: B256,
    exclude: &[Address],
    snapshot: u64,
) -> Res<Option<[Address; 3]>> {
    let n: u64 = ctx.g(G_COMMITTEE)?.saturating_to();
    if n < 3 || snapshot < 3 {
        return Ok(None);
    }
    let cap =
        ck(ctx.p.auditor_stake.checked_mul(U256::from(AUDITOR_WEIGHT_CAP)))?.max(U256::from(1));
    let seed = ctx.host.randomness();
    let mut picked: Vec<Address> = Vec::with_capacity(3);
    for i in 0..DRAW_TRIES {
        let h = ctx.hash(&[seed.as_slice(), key.as_slice(), &i.to_be_bytes()].concat())?;
        let seat = U256::from_be_bytes(h.0) % U256::from(snapshot);
        let a = to_addr(ctx.get(slot(T_COMMITTEE, B256::from(seat), 0))?);
        if a.is_zero() || exclude.contains(&a) || picked.contains(&a) {
            continue;
        }
        let stake = ctx.get(slot(T_AUDITOR, addr_key(a), 0))?;
        if stake < ctx.p.auditor_stake {
            continue;
        }
        let w = ctx.hash(&[h.as_slice(), b"weight"].concat())?;
        if U256::from_be_bytes(w.0) % cap >= stake.min(cap) {
            continue;
        }
        picked.push(a);
        if picked.len() == 3 {
            return Ok(Some([picked[0], picked[1], picked[2]]));
        }
    }
    Ok(None)
}

pub(super) fn assign<H: Host>(ctx: &mut Ctx<'_, H>, auditors: &[Address; 3], add: bool) -> Res<()> {
    for a in auditors {
        if a.is_zero() {
            continue;
        }
        let s = slot(T_AUDITOR, addr_key(*a), 2);
        let v = ctx.get(s)?;
        let v =
            if add { ck(v.checked_add(U256::from(1)))? } else { v.saturating_sub(U256::from(1)) };
        ctx.set(s, v)?;
    }
    Ok(())
}

pub(super) fn penalize<H: Host>(ctx: &mut Ctx<'_, H>, auditor: Address) -> Res<()> {
    let s = slot(T_AUDITOR, addr_key(auditor), 0);
    let stake = ctx.get(s)?;
    let amount = ck(math::bps_of(stake, ctx.p.auditor_penalty_bps))?;
    if amount.is_zero() {
        return Ok(());
    }
    ctx.set(s, stake - amount)?;
    treasury::receive(ctx, treasury::source::AUDITOR_PENALTY, auditor, amount)?;
    emit(ctx, IGpuMarket::AuditorPenalized { auditor, amount })
}

pub(super) fn commit<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    tag: u64,
    key: B256,
    c: B256,
) -> Res<()> {
    if tag == T_ROUND_MACHINE {
        machine(ctx, key)?;
    } else {
        let id: u64 = U256::from_be_bytes(key.0).saturating_to();
        if Report::load(ctx, id)?.is_none() {
            return Err(revert(IGpuMarket::UnknownReport { reportId: U256::from(id) }));
        }
    }
    let mut r = Round::load(ctx, tag, key)?;
    if r.phase != phase::COMMIT || ctx.now > r.commit_deadline {
        return Err(revert(IGpuMarket::WrongPhase { phase: en(r.phase, RP::None) }));
    }
    let Some(i) = r.seat(who) else { return Err(revert(IGpuMarket::NotAssigned {})) };
    if !r.commitments[i].is_zero() {
        return Err(revert(IGpuMarket::AlreadyCommitted {}));
    }
    if c.is_zero() {
        return Err(revert(IGpuMarket::CommitmentMismatch {}));
    }
    r.commitments[i] = c;
    if r.committed() == 3 {
        r.phase = phase::REVEAL;
        r.reveal_deadline = ctx.now + ctx.p.reveal_window_blocks;
        let (kind, id) = if tag == T_ROUND_MACHINE {
            let m = machine(ctx, key)?;
            (item::REVEAL_END, m.index)
        } else {
            (item::REPORT_REVEAL_END, U256::from_be_bytes(key.0).saturating_to())
        };
        schedule(ctx, r.reveal_deadline, kind, id)?;
    }
    r.store(ctx)?;
    if tag == T_ROUND_MACHINE {
        emit(ctx, IGpuMarket::VerificationCommitted { machineId: key, auditor: who })
    } else {
        emit(
            ctx,
            IGpuMarket::ReportCommitted { reportId: U256::from_be_bytes(key.0), auditor: who },
        )
    }
}

pub(super) fn reveal_verification<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    id: B256,
    spec: IGpuMarket::MachineSpec,
    calc_point: u32,
    salt: B256,
) -> Res<()> {
    let mut m = machine(ctx, id)?;
    let mut r = Round::load(ctx, T_ROUND_MACHINE, id)?;
    if r.phase != phase::REVEAL || ctx.now > r.reveal_deadline {
        return Err(revert(IGpuMarket::WrongPhase { phase: en(r.phase, RP::None) }));
    }
    let Some(i) = r.seat(who) else { return Err(revert(IGpuMarket::NotAssigned {})) };
    if r.commitments[i].is_zero() || r.revealed(i) {
        return Err(revert(IGpuMarket::CommitmentMismatch {}));
    }
    let preimage = (id, who, spec.clone(), calc_point, salt).abi_encode();
    if ctx.hash(&preimage)? != r.commitments[i] {
        return Err(revert(IGpuMarket::CommitmentMismatch {}));
    }
    // Evidence, not opinion: the vote approves only the registered hardware (machine key
    // included) measured within the tolerance of its model's table value.
    let matches = spec == m.spec() && within_tolerance(ctx, &m, calc_point)?;
    let mut w = U256::from(1u8);
    if matches {
        w |= U256::from(2u8);
    }
    w |= U256::from(calc_point) << 8;
    r.reveals[i] = w;
    let all = (0..3).filter(|&j| !r.commitments[j].is_zero()).all(|j| r.revealed(j));
    emit(
        ctx,
        IGpuMarket::VerificationRevealed {
            machineId: id,
            auditor: who,
            specMatches: matches,
            calcPoint: calc_point,
        },
    )?;
    if all {
        finish_verification(ctx, &mut m, &mut r)?;
    }
    r.store(ctx)?;
    m.store(ctx)
}

/// The table's calc point per GPU for the machine's model.
pub(super) fn reference_calc_point<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<u32> {
    match ctx.p.gpu_model(m.model) {
        Some(row) => Ok(row.calc_point),
        None => Err(revert(IGpuMarket::UnknownGpuModel { model: m.model })),
    }
}

/// Whether a measured calc point per GPU is within `calcPointToleranceBps` of the table value.
pub(super) fn within_tolerance<H: Host>(ctx: &Ctx<'_, H>, m: &Machine, measured: u32) -> Res<bool> {
    let reference = u64::from(reference_calc_point(ctx, m)?);
    let gap = reference.abs_diff(u64::from(measured));
    Ok(measured > 0 && gap * 10_000 <= reference * u64::from(ctx.p.calc_point_tolerance_bps))
}

/// Decides a verification round from its reveals.
pub(super) fn finish_verification<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    r: &mut Round,
) -> Res<()> {
    let revealed: Vec<usize> = (0..3).filter(|&i| r.revealed(i)).collect();
    // Approve: at least 2 found the registered hardware performing within tolerance of its
    // model; the calc point is then the table's, whatever each measured.
    let mut majority: Option<(bool, u32, Vec<usize>)> = None;
    let approve: Vec<usize> = revealed.iter().copied().filter(|&j| r.verdict(j)).collect();
    if approve.len() >= 2 {
        majority = Some((true, reference_calc_point(ctx, m)?, approve));
    }
    if majority.is_none() {
        let reject: Vec<usize> = revealed.iter().copied().filter(|&j| !r.verdict(j)).collect();
        if reject.len() >= 2 {
            majority = Some((false, 0, reject));
        }
    }
    r.phase = phase::DONE;
    assign(ctx, &r.auditors.clone(), false)?;
    match majority {
        Some((approve, calc_point, seats)) => {
            for i in 0..3 {
                if !seats.contains(&i) && !r.auditors[i].is_zero() {
                    penalize(ctx, r.auditors[i])?;
                }
            }
            if approve {
                m.status = status::ONLINE;
                m.calc_point = calc_point;
                m.online_since = ctx.now;
                m.last_heartbeat = ctx.now;
                m.check_at = ctx.now + ctx.p.heartbeat_timeout_blocks;
                let mut verifiers = [Address::ZERO; 3];
                for (k, &i) in seats.iter().enumerate() {
                    verifiers[k] = r.auditors[i];
                }
                m.verifiers = verifiers;
                schedule(ctx, m.check_at, item::HEARTBEAT_CHECK, m.index)?;
                schedule_challenge_check(ctx, m)?;
                ctx.add_g(G_ONLINE_GPUS, U256::from(m.gpus), false)?;
                update_pool(ctx)?;
                regrade(ctx, m)?;
                let p = price(ctx, m)?;
                emit(
                    ctx,
                    IGpuMarket::MachineVerified {
                        machineId: m.id,
                        calcPoint: calc_point,
                        pricePerGpuBlock: p,
                    },
                )
            } else {
                let slashed = ck(math::bps_of(m.stake, ctx.p.reject_slash_bps))?;
                let back = m.stake - slashed;
                m.stake = U256::ZERO;
                m.status = status::REJECTED;
                ctx.add_g(G_TOTAL_GPUS, U256::from(m.gpus), true)?;
                treasury::receive(ctx, treasury::source::REJECTED_MACHINE, m.owner, slashed)?;
                ctx.pay(m.owner, back)?;
                emit(ctx, IGpuMarket::MachineRejected { machineId: m.id, slashed })
            }
        }
        None => {
            // No agreement: those who did not reveal are penalised; new auditors are drawn.
            for i in 0..3 {
                if !r.auditors[i].is_zero() && !r.revealed(i) {
                    penalize(ctx, r.auditors[i])?;
                }
            }
            let attempt = r.attempt + 1;
            emit(ctx, IGpuMarket::VerificationReassigned { machineId: m.id, attempt })?;
            // start_round rewrites the round record: store ours first.
            r.store(ctx)?;
            start_round(ctx, T_ROUND_MACHINE, m.id, attempt, item::DRAW, m.index)?;
            *r = Round::load(ctx, T_ROUND_MACHINE, m.id)?;
            Ok(())
        }
    }
}

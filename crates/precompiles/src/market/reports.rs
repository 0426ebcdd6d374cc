//! Fault reports and liveness challenges: a renter (or its beneficiary) reports, or the network
//! challenges a machine at random (`liveness.rs`); a drawn round of auditors decides.

use super::*;

pub(super) fn report_fault<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    value: U256,
    rental_id: U256,
) -> Res<u64> {
    // The renter or the beneficiary it rents for (security review L9: a client of a renting
    // contract can report with its own deposit, which comes back to it).
    let r = rental(ctx, rental_id)?;
    if r.renter != who && r.beneficiary != who {
        return Err(revert(IGpuMarket::NotRenter { rentalId: rental_id }));
    }
    if r.status != rental_status::ACTIVE || ctx.now >= r.end {
        return Err(revert(IGpuMarket::RentalNotActive { rentalId: rental_id }));
    }
    let open = ctx.get(slot(T_RENTAL_REPORT, num_key(r.id), 0))?;
    if !open.is_zero() {
        return Err(revert(IGpuMarket::ReportPending { reportId: open }));
    }
    if value != ctx.p.report_deposit {
        return Err(revert(IGpuMarket::WrongStake { required: ctx.p.report_deposit, sent: value }));
    }
    let id: u64 = ctx.g(G_REPORTS)?.saturating_to::<u64>() + 1;
    ctx.set_g(G_REPORTS, U256::from(id))?;
    let mut rep = Report::new(id, r.id, who, r.machine);
    rep.deposit = value;
    rep.store(ctx)?;
    ctx.set(slot(T_RENTAL_REPORT, num_key(r.id), 0), U256::from(id))?;
    start_round(ctx, T_ROUND_REPORT, num_key(id), 1, item::REPORT_DRAW, id)?;
    emit(
        ctx,
        IGpuMarket::FaultReported {
            reportId: U256::from(id),
            rentalId: rental_id,
            reporter: who,
            deposit: value,
        },
    )?;
    Ok(id)
}

pub(super) fn reveal_report<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    id: U256,
    faulty: bool,
    salt: B256,
) -> Res<()> {
    let n = u64::try_from(id).map_err(|_| revert(IGpuMarket::UnknownReport { reportId: id }))?;
    let Some(mut rep) = Report::load(ctx, n)? else {
        return Err(revert(IGpuMarket::UnknownReport { reportId: id }));
    };
    let mut r = Round::load(ctx, T_ROUND_REPORT, num_key(n))?;
    if r.phase != phase::REVEAL || ctx.now > r.reveal_deadline {
        return Err(revert(IGpuMarket::WrongPhase { phase: en(r.phase, RP::None) }));
    }
    let Some(i) = r.seat(who) else { return Err(revert(IGpuMarket::NotAssigned {})) };
    if r.commitments[i].is_zero() || r.revealed(i) {
        return Err(revert(IGpuMarket::CommitmentMismatch {}));
    }
    if ctx.hash(&(id, who, faulty, salt).abi_encode())? != r.commitments[i] {
        return Err(revert(IGpuMarket::CommitmentMismatch {}));
    }
    r.reveals[i] = U256::from(if faulty { 3u8 } else { 1u8 });
    emit(ctx, IGpuMarket::ReportRevealed { reportId: id, auditor: who, faulty })?;
    let all = (0..3).filter(|&j| !r.commitments[j].is_zero()).all(|j| r.revealed(j));
    if all {
        finish_report(ctx, &mut rep, &mut r)?;
    }
    r.store(ctx)?;
    rep.store(ctx)
}

/// Decides a report round: 2 agreeing reveals decide; otherwise new auditors are drawn.
pub(super) fn finish_report<H: Host>(
    ctx: &mut Ctx<'_, H>,
    rep: &mut Report,
    r: &mut Round,
) -> Res<()> {
    let revealed: Vec<usize> = (0..3).filter(|&i| r.revealed(i)).collect();
    let faulty: Vec<usize> = revealed.iter().copied().filter(|&i| r.verdict(i)).collect();
    let sound: Vec<usize> = revealed.iter().copied().filter(|&i| !r.verdict(i)).collect();
    r.phase = phase::DONE;
    assign(ctx, &r.auditors.clone(), false)?;
    let (confirmed, seats) = if faulty.len() >= 2 {
        (true, faulty)
    } else if sound.len() >= 2 {
        (false, sound)
    } else {
        for i in 0..3 {
            if !r.auditors[i].is_zero() && !r.revealed(i) {
                penalize(ctx, r.auditors[i])?;
            }
        }
        r.store(ctx)?;
        start_round(
            ctx,
            T_ROUND_REPORT,
            num_key(rep.id),
            r.attempt + 1,
            item::REPORT_DRAW,
            rep.id,
        )?;
        *r = Round::load(ctx, T_ROUND_REPORT, num_key(rep.id))?;
        return Ok(());
    };
    for i in 0..3 {
        if !seats.contains(&i) && !r.auditors[i].is_zero() {
            penalize(ctx, r.auditors[i])?;
        }
    }
    rep.outcome = if confirmed { 1 } else { 2 };
    let finders: Vec<Address> = seats.iter().map(|&i| r.auditors[i]).collect();
    if rep.reporter == crate::MARKET_ADDRESS {
        // A liveness challenge: a failure found is slashed at once and ends every rental.
        let mut m = machine(ctx, rep.machine)?;
        if m.challenge == rep.id {
            m.challenge = 0;
        }
        if confirmed {
            fail_machine_soon(ctx, &mut m, rep.id, &finders)?;
        } else {
            m.store(ctx)?;
        }
        return emit(
            ctx,
            IGpuMarket::ReportResolved { reportId: U256::from(rep.id), faultConfirmed: confirmed },
        );
    }
    ctx.set(slot(T_RENTAL_REPORT, num_key(rep.rental), 0), U256::ZERO)?;
    if confirmed {
        // The deposit goes back; every rental of the machine ends with its unused rent
        // refunded; the machine is slashed at once and goes offline as unreachable (the rest of
        // the unreachable tier is taken when it returns).
        ctx.pay(rep.reporter, rep.deposit)?;
        let mut m = machine(ctx, rep.machine)?;
        fail_machine_soon(ctx, &mut m, rep.id, &finders)?;
    } else {
        // A false report loses its deposit: the auditors' share to the majority, the rest to
        // the treasury.
        let share = ck(math::bps_of(rep.deposit, ctx.p.slash_auditors_bps))?;
        let each = share / U256::from(seats.len());
        for &i in &seats {
            let mut acct = Account::load(ctx, r.auditors[i])?;
            acct.claimable = ck(acct.claimable.checked_add(each))?;
            acct.store(ctx)?;
        }
        let to_treasury = rep.deposit - each * U256::from(seats.len());
        treasury::receive(ctx, treasury::source::LOST_REPORT_DEPOSIT, rep.reporter, to_treasury)?;
    }
    emit(
        ctx,
        IGpuMarket::ReportResolved { reportId: U256::from(rep.id), faultConfirmed: confirmed },
    )
}

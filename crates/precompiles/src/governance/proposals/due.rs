//! What falls due at a block's end (`run_due`, from the governance hook): a proposal's vote
//! counted on its last voting block, a council motion closed, a passed proposal enacted at
//! block E − 1.

use super::*;

/// Appends `id` to the list `tag` of block `block` (flat-priced: the list is shared).
pub(super) fn push<H: Host>(ctx: &mut Ctx<'_, H>, tag: u64, block: u64, id: U256) -> Res<u64> {
    let key = num_key(block);
    let count = ctx.get_flat(slot(tag, key, 0))?.saturating_to::<u64>();
    let n = ck(count.checked_add(1))?;
    ctx.set_flat(slot(tag, key, n), id)?;
    ctx.set_flat(slot(tag, key, 0), U256::from(n))?;
    Ok(n)
}

/// The governance storage slots that are zero exactly when the hook of block `number` has no
/// proposal to count or enact.
pub fn idle_hook_slots(number: u64) -> [U256; 2] {
    [slot(T_ENACT_Q, num_key(number), 0), slot(T_END_Q, num_key(number), 0)]
}

/// Runs the proposals due at the end of this block: enactments first (in pass order), then
/// vote counts. Each in its own journal checkpoint, so a failing item (a bug) cannot stop the
/// chain. Bounded: at most `maxEnactmentsPerEpoch` + `maxOpenProposals` items.
pub(crate) fn run_due<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams, rules: SupplyRules) -> Res<()> {
    // The parameters with the changes enacted so far in this hook (a later change of the same
    // block builds on them); votes are counted by the ones in force in this block.
    let mut enacted: Option<DbcParams> = None;
    for tag in [T_ENACT_Q, T_END_Q] {
        let key = num_key(ctx.now);
        let count = ctx.get(slot(tag, key, 0))?.saturating_to::<u64>();
        for i in 1..=count {
            let id = ctx.get(slot(tag, key, i))?;
            ctx.host.checkpoint();
            let r = if tag == T_ENACT_Q {
                enact(ctx, enacted.as_ref().unwrap_or(p), id)
            } else {
                count_votes(ctx, p, rules, id).map(|()| None)
            };
            match r {
                Ok(new) => {
                    ctx.host.commit();
                    if new.is_some() {
                        enacted = new;
                    }
                }
                Err(Fail::Revert(_)) => {
                    ctx.host.revert();
                    // A bug: close the proposal rather than leave it open for ever.
                    ctx.host.checkpoint();
                    match abandon(ctx, id) {
                        Ok(()) => ctx.host.commit(),
                        Err(Fail::Revert(_)) => ctx.host.revert(),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Whether a council motion has passed (`Some(true)`), can no longer pass (`Some(false)`)
/// or is still open: passed once `approvalBps` of the seated members voted for it.
pub(super) fn motion_outcome(p: &DbcParams, rec: &Proposal) -> Option<bool> {
    let bps = u64::from(p.governance.council.approval_bps);
    let seated = u64::from(rec.seated);
    let count = |v: U256| v.saturating_to::<u64>();
    let [against, for_, _] = rec.tally;
    if count(for_).saturating_mul(10_000) >= bps.saturating_mul(seated) {
        Some(true)
    } else if count(against).saturating_mul(10_000) > (10_000 - bps.min(10_000)) * seated {
        Some(false)
    } else {
        None
    }
}

/// The END item: counts the referendum, or closes a council motion still open (rejected:
/// its approvals were not reached).
fn count_votes<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    rules: SupplyRules,
    id: U256,
) -> Res<()> {
    let (s, rec) = load_known(ctx, id)?;
    if rec.status != status::VOTING {
        return Ok(());
    }
    if rec.route == ROUTE_COUNCIL {
        let outcome = motion_outcome(p, &rec);
        let rejected = (outcome != Some(true)).then_some(REJECTED_COUNCIL);
        return decide(ctx, p, id, s, rec, rejected);
    }
    let g = &p.governance;
    let [against, for_, abstain] = rec.tally;
    let turnout = ck(ck(for_.checked_add(against))?.checked_add(abstain))?;
    let supply = supply::total_supply(ctx, rules)?;
    let bps = U256::from(10_000);
    let enough = ck(turnout.checked_mul(bps))?
        >= ck(supply.checked_mul(U256::from(g.referendum_turnout_bps)))?;
    let approved = ck(for_.checked_mul(bps))?
        > ck(ck(for_.checked_add(against))?.checked_mul(U256::from(g.referendum_approval_bps)))?;
    let rejected = match (enough, approved) {
        (true, true) => None,
        (true, false) => Some(REJECTED_DEFEATED),
        (false, _) => Some(REJECTED_TURNOUT),
    };
    decide(ctx, p, id, s, rec, rejected)
}

/// Closes a vote. Passed (`rejected` is `None`): deposit back, enactment queued; a council
/// spend that would take the term's council spends past `termSpendLimit` fails instead (the
/// deposit goes back: the proposer could not know). Rejected: the deposit goes to the treasury.
pub(super) fn decide<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    id: U256,
    mut s: Slots<10>,
    mut rec: Proposal,
    rejected: Option<u8>,
) -> Res<()> {
    ctx.add_g_flat(G_DEPOSITS, rec.deposit, true)?;
    if let Some(reason) = rejected {
        rec.status = status::REJECTED;
        s.store(ctx, rec.encode())?;
        close(ctx)?;
        // The deposit is already in this account: only what it owes shrinks.
        treasury::receive(ctx, treasury::source::LOST_PROPOSAL_DEPOSIT, rec.proposer, rec.deposit)?;
        return ctx.emit(
            IGovernance::ProposalRejected { id, reason, depositToTreasury: rec.deposit }
                .encode_log_data(),
        );
    }
    ctx.pay_own(rec.proposer, rec.deposit)?;
    ctx.emit(
        IGovernance::DepositReturned { id, to: rec.proposer, amount: rec.deposit }
            .encode_log_data(),
    )?;
    if rec.route == ROUTE_COUNCIL && rec.kind == KIND_SPEND {
        // Counted against the budget of the term whose council decided it.
        let spent = council::spent(ctx, rec.term)?.saturating_add(rec.spend_amount);
        let limit = p.governance.council.term_spend_limit;
        if spent > limit {
            rec.status = status::ENACTMENT_FAILED;
            s.store(ctx, rec.encode())?;
            close(ctx)?;
            let reason = format!("the council's spends this term would exceed {limit} wei");
            return ctx.emit(IGovernance::EnactmentFailed { id, reason }.encode_log_data());
        }
        council::add_spent(ctx, rec.term, rec.spend_amount)?;
    }
    let enact_at = enactment_block(ctx, p, ctx.now)?;
    rec.status = status::QUEUED;
    rec.enact_at = enact_at;
    s.store(ctx, rec.encode())?;
    push(ctx, T_ENACT_Q, enact_at - 1, id)?;
    ctx.emit(
        IGovernance::ProposalQueued { proposalId: id, etaSeconds: U256::from(enact_at) }
            .encode_log_data(),
    )
}

/// E: the first staking epoch boundary more than `enactmentDelayBlocks` after `passed` whose
/// block E − 1 has room for another enactment.
fn enactment_block<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams, passed: u64) -> Res<u64> {
    let epoch = p.staking.epoch_blocks.max(1);
    let earliest = ck(passed.checked_add(p.governance.enactment_delay_blocks))?;
    let mut e = ck(ck(earliest.checked_add(epoch))?.checked_div(epoch))?;
    e = ck(e.checked_mul(epoch))?;
    // Fewer boundaries than open proposals can be full, and proposals open are at most the
    // largest `maxOpenProposals` any parameters allow: bounded, also after a change of either
    // limit. Should none have room, the item reverts and `abandon` closes the proposal.
    for _ in 0..=dbc_chainspec::MAX_OPEN_PROPOSALS {
        let queued = ctx.get(slot(T_ENACT_Q, num_key(e - 1), 0))?.saturating_to::<u64>();
        if queued < u64::from(p.governance.max_enactments_per_epoch) {
            return Ok(e);
        }
        e = ck(e.checked_add(epoch))?;
    }
    Err(revert(IGovernance::TooManyOpenProposals { maximum: p.governance.max_open_proposals }))
}

/// The ENACT item: applies the proposal (a spend pays out of what the treasury may spend; a
/// parameter change puts its record in force from the next block). Returns the parameters
/// after a parameter change.
fn enact<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams, id: U256) -> Res<Option<DbcParams>> {
    let (mut s, mut rec) = load_known(ctx, id)?;
    if rec.status != status::QUEUED {
        return Ok(None);
    }
    close(ctx)?;
    let mut changed = None;
    let failure = match rec.kind {
        KIND_SPEND => {
            let available = available(ctx)?;
            (rec.spend_amount > available || !spendable_to(rec.spend_to))
                .then(|| format!("the treasury has {available} wei available"))
        }
        KIND_PARAMS | KIND_VALIDATOR_SET_SIZE => match new_params(ctx, p, &rec)? {
            Ok((new, bytes)) => {
                let t = rec.target();
                let hash = ctx.hash(&bytes)?;
                if rec.kind == KIND_VALIDATOR_SET_SIZE {
                    params::store_blob(ctx, hash, &bytes)?;
                }
                let version = params::put_in_force(ctx, t, hash)?;
                ctx.emit(
                    IGovernance::ParamsChanged {
                        target: params::abi_target(t),
                        version,
                        effectiveFrom: ctx.now.saturating_add(1),
                        paramsHash: hash,
                    }
                    .encode_log_data(),
                )?;
                changed = Some(new);
                None
            }
            Err(reason) => Some(reason),
        },
        _ => None,
    };
    if let Some(reason) = failure {
        rec.status = status::ENACTMENT_FAILED;
        s.store(ctx, rec.encode())?;
        ctx.emit(IGovernance::EnactmentFailed { id, reason }.encode_log_data())?;
        return Ok(None);
    }
    if rec.kind == KIND_SPEND && rec.stream_blocks != 0 {
        // Released linearly from E (the next block): held for the recipient until claimed.
        ctx.add_g_flat(G_RESERVED, rec.spend_amount, false)?;
        let start = ck(ctx.now.checked_add(1))?;
        let end = ck(start.checked_add(rec.stream_blocks))?;
        let mut f0 = from_addr(rec.spend_to);
        put(&mut f0, 160, 64, start);
        let mut s = Slots::<4> { tag: T_STREAM, key: B256::from(id), orig: [U256::ZERO; 4] };
        s.store(ctx, [f0, rec.spend_amount, U256::ZERO, U256::from(end)])?;
        ctx.emit(
            IGovernance::StreamOpened {
                proposalId: id,
                to: rec.spend_to,
                total: rec.spend_amount,
                startBlock: start,
                endBlock: end,
            }
            .encode_log_data(),
        )?;
    } else if rec.kind == KIND_SPEND {
        ctx.pay_own(rec.spend_to, rec.spend_amount)?;
        ctx.add_g(treasury::G_SPENT, rec.spend_amount, false)?;
        ctx.emit(
            IGovernance::TreasurySpent {
                proposalId: id,
                to: rec.spend_to,
                amount: rec.spend_amount,
            }
            .encode_log_data(),
        )?;
    }
    rec.status = status::ENACTED;
    s.store(ctx, rec.encode())?;
    ctx.emit(IGovernance::ProposalExecuted { proposalId: id }.encode_log_data())?;
    Ok(changed)
}

/// The parameters a ParamChange or ValidatorSetSize proposal puts in force, and their record,
/// checked again against `p` (the parameters in force, with this block's earlier changes) and
/// the state; or why it cannot be enacted.
fn new_params<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    rec: &Proposal,
) -> Res<Result<(DbcParams, Vec<u8>), String>> {
    let t = rec.target();
    let checked = if rec.kind == KIND_VALIDATOR_SET_SIZE {
        with_set_size(p, rec.validator_set_size)
    } else {
        let (version, _, _) = params::newest(ctx, t)?;
        if version != rec.base_version {
            return Ok(Err(format!(
                "the {} parameters changed since the proposal (version {version}, proposed \
                 against {})",
                params::target_name(t),
                rec.base_version
            )));
        }
        let bytes = params::load_blob(ctx, rec.payload_hash)?;
        params::decode(p, t, &bytes).and_then(|new| p.check_change(&new, t).map(|()| new))
    };
    let new = match checked {
        Ok(new) => new,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = state_checks(ctx, &new, t)? {
        return Ok(Err(e));
    }
    let bytes = params::encode(&new, t);
    Ok(Ok((new, bytes)))
}

/// Closes a proposal whose hook item failed: `EnactmentFailed`, and a deposit still held goes
/// back to the proposer (the failure is not theirs).
fn abandon<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<()> {
    let (mut s, mut rec) = load_known(ctx, id)?;
    if rec.status != status::VOTING && rec.status != status::QUEUED {
        return Ok(());
    }
    if rec.status == status::VOTING {
        ctx.add_g_flat(G_DEPOSITS, rec.deposit, true)?;
        ctx.pay_own(rec.proposer, rec.deposit)?;
    }
    close(ctx)?;
    rec.status = status::ENACTMENT_FAILED;
    s.store(ctx, rec.encode())?;
    let reason = "the proposal's block-hook item failed".to_string();
    ctx.emit(IGovernance::EnactmentFailed { id, reason }.encode_log_data())
}

/// One proposal fewer open.
fn close<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<()> {
    ctx.add_g_flat(G_OPEN, U256::from(1), true).map(|_| ())
}

//! The end-of-block hook and its queue: work scheduled by block number (draws, deadlines,
//! heartbeat checks, rental ends), at most [`HOOK_MAX_ITEMS`] items a block.

use super::*;

/// Appends a work item for the block hook at block `at` (always in the future).
pub(super) fn schedule<H: Host>(ctx: &mut Ctx<'_, H>, at: u64, kind: u8, id: u64) -> Res<()> {
    schedule_at(ctx, at, kind, id).map(|_| ())
}

pub(super) fn queue_word(kind: u8, id: u64) -> U256 {
    (U256::from(kind) << 248) | U256::from(id)
}

/// [`schedule`], returning the item's position in block `at`'s list (from 1).
pub(super) fn schedule_at<H: Host>(ctx: &mut Ctx<'_, H>, at: u64, kind: u8, id: u64) -> Res<u64> {
    let at = at.max(ctx.now.saturating_add(1));
    let key = num_key(at);
    // Flat-priced: the list of a block is shared by every object with an item there, so what
    // it costs must not depend on them (a transaction sent with its estimate one block later
    // would otherwise run out of gas when its item's block was empty).
    let count: u64 = ctx.get_flat(slot(T_QUEUE, key, 0))?.saturating_to();
    ctx.set_flat(slot(T_QUEUE, key, count + 1), queue_word(kind, id))?;
    ctx.set_flat(slot(T_QUEUE, key, 0), U256::from(count + 1))?;
    Ok(count + 1)
}

/// Removes rental `rental`'s `RENTAL_END` item at position `index` of block `at`'s list
/// (security review M5: a rental ended early or extended leaves no stale item behind, so the
/// queue holds at most one item per active rental). The last item of the list takes its place;
/// if that is another rental's end, that rental's position is updated. Only for `at` after the
/// current block, whose list the hook has not started.
pub(super) fn unschedule_rental<H: Host>(
    ctx: &mut Ctx<'_, H>,
    at: u64,
    index: u32,
    rental: u64,
) -> Res<()> {
    let index = u64::from(index);
    if index == 0 || at <= ctx.now {
        return Ok(());
    }
    let key = num_key(at);
    let count: u64 = ctx.get(slot(T_QUEUE, key, 0))?.saturating_to();
    if index > count || ctx.get(slot(T_QUEUE, key, index))? != queue_word(item::RENTAL_END, rental)
    {
        return Ok(());
    }
    if index != count {
        let last = ctx.get(slot(T_QUEUE, key, count))?;
        ctx.set(slot(T_QUEUE, key, index), last)?;
        let kind: u8 = (last >> 248usize).saturating_to();
        if kind == item::RENTAL_END {
            let id: u64 = (last & U256::from(u64::MAX)).saturating_to();
            // Only a live item's rental points at it (a stale item, e.g. one left by a rental
            // ended before this bookkeeping existed, moves without touching its rental).
            if let Some(mut moved) = Rental::load(ctx, id)?
                && moved.status == rental_status::ACTIVE
                && moved.end == at
                && u64::from(moved.queue_index) == count
            {
                moved.queue_index = index as u32;
                moved.store(ctx)?;
            }
        }
    }
    ctx.set(slot(T_QUEUE, key, count), U256::ZERO)?;
    ctx.set(slot(T_QUEUE, key, 0), U256::from(count - 1))
}

pub(super) fn machine_id_at<H: Host>(ctx: &mut Ctx<'_, H>, index: u64) -> Res<B256> {
    Ok(B256::from(ctx.get(slot(T_MACHINE_AT, num_key(index), 0))?))
}

/// Start-of-block work: fee accounting and the due queue (draws, deadlines, heartbeat checks,
/// rental expiries), at most [`HOOK_MAX_ITEMS`] items per block. Each item runs in its own
/// journal checkpoint in the EVM, so one failing item cannot stop the chain.
pub(super) fn on_block<H: Host>(ctx: &mut Ctx<'_, H>, fees: U256) -> Res<()> {
    if !fees.is_zero() {
        ctx.add_g(G_FEES_BURNED, fees, false)?;
    }
    let cursor = ctx.g(G_CURSOR)?;
    let mut block = bits(cursor, 0, 64);
    let mut index = bits(cursor, 64, 64);
    if block == 0 {
        block = ctx.now;
    }
    let mut done = 0;
    while block <= ctx.now && done < HOOK_MAX_ITEMS {
        let key = num_key(block);
        let count: u64 = ctx.get(slot(T_QUEUE, key, 0))?.saturating_to();
        while index < count && done < HOOK_MAX_ITEMS {
            let word = ctx.get(slot(T_QUEUE, key, index + 1))?;
            index += 1;
            done += 1;
            let kind: u8 = (word >> 248usize).saturating_to();
            let id: u64 = (word & U256::from(u64::MAX)).saturating_to();
            // Items are independent: a revert in one (which would be a bug) undoes and skips
            // only that item.
            ctx.host.checkpoint();
            match run_item(ctx, block, kind, id) {
                Ok(()) => ctx.host.commit(),
                Err(Fail::Revert(_)) => ctx.host.revert(),
                Err(e) => return Err(e),
            }
        }
        if index >= count {
            block += 1;
            index = 0;
        }
    }
    // Caught up (everything due up to this block ran) is stored as 0, which the next block
    // reads as "start at this block": an idle block then writes nothing, so a run of empty
    // blocks leaves the state (and its root) unchanged — what lets the dev chain's
    // `anvil_mine` skip executing them (see [`idle_hook_slots`]).
    let mut next = U256::ZERO;
    if block != ctx.now.saturating_add(1) || index != 0 {
        put(&mut next, 0, 64, block);
        put(&mut next, 64, 64, index);
    }
    ctx.set_g(G_CURSOR, next)
}

/// The market's storage slots that are all zero exactly when the end-of-block hook of block
/// `number` has nothing to do and, with no fees burned in the block, changes no state: the
/// cursor (zero: caught up; the same slot for every block, and an idle block leaves it zero)
/// and block `number`'s queue length. A block builder may then skip
/// the hook's execution without changing the block.
pub fn idle_hook_slots(number: u64) -> [U256; 2] {
    [U256::from(G_CURSOR), slot(T_QUEUE, num_key(number), 0)]
}

pub(super) fn run_item<H: Host>(ctx: &mut Ctx<'_, H>, due: u64, kind: u8, id: u64) -> Res<()> {
    match kind {
        item::DRAW | item::COMMIT_END | item::REVEAL_END | item::HEARTBEAT_CHECK => {
            let mid = machine_id_at(ctx, id)?;
            let mut m = machine(ctx, mid)?;
            match kind {
                item::HEARTBEAT_CHECK => heartbeat_check(ctx, &mut m, due),
                _ => machine_round_item(ctx, &mut m, due, kind),
            }
        }
        item::CHALLENGE_CHECK => {
            let mid = machine_id_at(ctx, id)?;
            let mut m = machine(ctx, mid)?;
            challenge_check(ctx, &mut m, due)
        }
        item::FAIL_MACHINE => {
            // `id` is the report whose auditors found the failure.
            let Some(rep) = Report::load(ctx, id)? else { return Ok(()) };
            let mut m = machine(ctx, rep.machine)?;
            let finders = report_finders(ctx, id)?;
            fail_machine(ctx, &mut m, &finders)
        }
        item::RENTAL_END => {
            let Some(mut r) = Rental::load(ctx, id)? else { return Ok(()) };
            if r.status == rental_status::ACTIVE && r.end == due {
                close_rental(ctx, &mut r)?;
            }
            Ok(())
        }
        item::REPORT_DRAW | item::REPORT_COMMIT_END | item::REPORT_REVEAL_END => {
            let Some(mut rep) = Report::load(ctx, id)? else { return Ok(()) };
            report_round_item(ctx, &mut rep, due, kind)
        }
        _ => Ok(()),
    }
}

/// A round's due draw: seats the drawn auditors and opens the commit phase (its end item
/// `kinds.0`), or, if the committee cannot provide 3, retries `drawDelayBlocks` later (item
/// `kinds.1`) among the members seated by then. `id` is the items' id. Returns the auditors.
fn seat_round<H: Host>(
    ctx: &mut Ctx<'_, H>,
    r: &mut Round,
    key: B256,
    exclude: &[Address],
    kinds: (u8, u8, u64),
) -> Res<Option<[Address; 3]>> {
    let (commit_end, redraw, id) = kinds;
    let drawn = draw(ctx, key, exclude, r.snapshot)?;
    match drawn {
        Some(auditors) => {
            r.auditors = auditors;
            r.phase = phase::COMMIT;
            r.commit_deadline = ctx.now + ctx.p.commit_window_blocks;
            assign(ctx, &auditors, true)?;
            schedule(ctx, r.commit_deadline, commit_end, id)?;
        }
        None => {
            r.draw_at = ctx.now + ctx.p.draw_delay_blocks;
            r.snapshot = committee_snapshot(ctx)?;
            schedule(ctx, r.draw_at, redraw, id)?;
        }
    }
    Ok(drawn)
}

pub(super) fn machine_round_item<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    due: u64,
    kind: u8,
) -> Res<()> {
    let mut r = Round::load(ctx, T_ROUND_MACHINE, m.id)?;
    match kind {
        item::DRAW if r.phase == phase::DRAWING && r.draw_at == due => {
            let drawn =
                seat_round(ctx, &mut r, m.id, &[m.owner], (item::COMMIT_END, item::DRAW, m.index))?;
            if let Some(auditors) = drawn {
                emit(
                    ctx,
                    IGpuMarket::AuditorsAssigned {
                        machineId: m.id,
                        attempt: r.attempt,
                        auditors,
                        commitDeadline: r.commit_deadline,
                    },
                )?;
            }
            r.store(ctx)
        }
        item::COMMIT_END if r.phase == phase::COMMIT && r.commit_deadline == due => {
            if r.committed() >= 2 {
                r.phase = phase::REVEAL;
                r.reveal_deadline = ctx.now + ctx.p.reveal_window_blocks;
                schedule(ctx, r.reveal_deadline, item::REVEAL_END, m.index)?;
                r.store(ctx)
            } else {
                finish_verification(ctx, m, &mut r)?;
                r.store(ctx)?;
                m.store(ctx)
            }
        }
        item::REVEAL_END if r.phase == phase::REVEAL && r.reveal_deadline == due => {
            finish_verification(ctx, m, &mut r)?;
            r.store(ctx)?;
            m.store(ctx)
        }
        _ => Ok(()),
    }
}

pub(super) fn report_round_item<H: Host>(
    ctx: &mut Ctx<'_, H>,
    rep: &mut Report,
    due: u64,
    kind: u8,
) -> Res<()> {
    let key = num_key(rep.id);
    let mut r = Round::load(ctx, T_ROUND_REPORT, key)?;
    match kind {
        item::REPORT_DRAW if r.phase == phase::DRAWING && r.draw_at == due => {
            let owner = machine(ctx, rep.machine)?.owner;
            let drawn = seat_round(
                ctx,
                &mut r,
                key,
                &[owner, rep.reporter],
                (item::REPORT_COMMIT_END, item::REPORT_DRAW, rep.id),
            )?;
            if let Some(auditors) = drawn {
                emit(
                    ctx,
                    IGpuMarket::ReportAuditorsAssigned {
                        reportId: U256::from(rep.id),
                        attempt: r.attempt,
                        auditors,
                        commitDeadline: r.commit_deadline,
                    },
                )?;
            }
            r.store(ctx)
        }
        item::REPORT_COMMIT_END if r.phase == phase::COMMIT && r.commit_deadline == due => {
            if r.committed() >= 2 {
                r.phase = phase::REVEAL;
                r.reveal_deadline = ctx.now + ctx.p.reveal_window_blocks;
                schedule(ctx, r.reveal_deadline, item::REPORT_REVEAL_END, rep.id)?;
                r.store(ctx)
            } else {
                finish_report(ctx, rep, &mut r)?;
                r.store(ctx)?;
                rep.store(ctx)
            }
        }
        item::REPORT_REVEAL_END if r.phase == phase::REVEAL && r.reveal_deadline == due => {
            finish_report(ctx, rep, &mut r)?;
            r.store(ctx)?;
            rep.store(ctx)
        }
        _ => Ok(()),
    }
}

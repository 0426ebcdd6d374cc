//! The council (`docs/governance-design.md` §4): candidacies with a bond, approval ballots of
//! locked DBC merged into ballot classes, and the election by sequential Phragmén
//! (`phragmen.rs`) in the hook of each term's last block.
//!
//! Storage of `0x…0D04` (§3.1), everything keyed by term so that no hook ever clears a term:
//! `G_TERM` (7) and `G_TERM_END` (8, set in genesis), `G_BONDS` (13);
//! `T_COUNCIL[keccak(term ‖ i)]` (62) member `i`, `T_MEMBER[keccak(term ‖ addr)]` (63) `i + 1`,
//! `T_RUNNER[keccak(term ‖ i)]` (64), `T_CAND[keccak(term ‖ i)]` (65) f0 `addr | withdrawn@160
//! | carried@161`, f1 bond, `T_CAND_IDX[keccak(term ‖ addr)]` (66) `i + 1`,
//! `T_CLASS[keccak(term ‖ mask)]` (68) f0 weight, f1 `index + 1`, `T_CLASS_AT[keccak(term ‖ i)]`
//! (69) mask, `T_TERM[term]` (70) f0 `candidates(32) | classes(32) | seated(32) | runners(32)`,
//! f1 the spends passed for the term's council motions.
//! A voter's ballot lives in its `T_VOTER` record (`proposals/`): f2 `ballotTerm(64)@64 |
//! mask(64)@128`, f3 weight. The per-term counters and the classes are shared by every voter,
//! so they are read and written at a flat price: a call's gas does not depend on the others.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolEvent, SolValue};
use dbc_chainspec::{CouncilParams, DbcParams, GOVERNANCE_TERM_END_SLOT, MAX_BALLOT_CLASSES};

use super::phragmen;
use crate::{
    abi::IGovernance,
    host::Host,
    store::{Ctx, Fail, Res, bits, ck, from_addr, num_key, put, ret, revert, slot, to_addr},
    treasury,
};

/// The current term.
pub(crate) const G_TERM: u64 = 7;
/// The block whose hook holds the next election.
pub(crate) const G_TERM_END: u64 = GOVERNANCE_TERM_END_SLOT;
/// Candidacy bonds held (owed to the candidates).
pub(crate) const G_BONDS: u64 = 13;
const T_COUNCIL: u64 = 62;
const T_MEMBER: u64 = 63;
const T_RUNNER: u64 = 64;
const T_CAND: u64 = 65;
const T_CAND_IDX: u64 = 66;
const T_CLASS: u64 = 68;
const T_CLASS_AT: u64 = 69;
const T_TERM: u64 = 70;

/// A term's counters (`T_TERM` f0).
#[derive(Debug, Clone, Copy, Default)]
struct TermInfo {
    candidates: u64,
    classes: u64,
    seated: u64,
    runners: u64,
}

impl TermInfo {
    fn encode(self) -> U256 {
        let mut w = U256::ZERO;
        put(&mut w, 0, 32, self.candidates);
        put(&mut w, 32, 32, self.classes);
        put(&mut w, 64, 32, self.seated);
        put(&mut w, 96, 32, self.runners);
        w
    }

    fn decode(w: U256) -> Self {
        Self {
            candidates: bits(w, 0, 32),
            classes: bits(w, 32, 32),
            seated: bits(w, 64, 32),
            runners: bits(w, 96, 32),
        }
    }
}

/// The key of `x` in term `term`'s tables.
fn tk<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, x: U256) -> Res<B256> {
    ctx.hash(&(U256::from(term), x).abi_encode())
}

fn term_info<H: Host>(ctx: &mut Ctx<'_, H>, term: u64) -> Res<TermInfo> {
    Ok(TermInfo::decode(ctx.get_flat(slot(T_TERM, num_key(term), 0))?))
}

fn set_term_info<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, info: TermInfo) -> Res<()> {
    ctx.set_flat(slot(T_TERM, num_key(term), 0), info.encode())
}

/// The current term and the block whose hook holds its election.
pub(crate) fn term<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<(u64, u64)> {
    let term = ctx.get_flat(U256::from(G_TERM))?.saturating_to::<u64>();
    let end = ctx.get_flat(U256::from(G_TERM_END))?.saturating_to::<u64>();
    Ok((term, end))
}

/// Reverts with `CouncilVotesFrozen` in the election freeze, and with `NoCouncil` on a chain
/// that holds no elections (a genesis without `config.dbc`).
fn not_frozen<H: Host>(ctx: &mut Ctx<'_, H>, c: &CouncilParams) -> Res<(u64, u64)> {
    let (term, end) = term(ctx)?;
    if end == 0 {
        return Err(revert(IGovernance::NoCouncil {}));
    }
    if frozen(ctx.now, end, c) {
        return Err(revert(IGovernance::CouncilVotesFrozen { untilBlock: end }));
    }
    Ok((term, end))
}

/// Whether `now` is in the freeze before the election at the end of block `end`.
fn frozen(now: u64, end: u64, c: &CouncilParams) -> bool {
    end != 0 && now >= end.saturating_sub(c.election_freeze_blocks)
}

/// How many members the council of the current term has.
pub(crate) fn seated<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<(u64, u32)> {
    let (term, _) = term(ctx)?;
    let seated = term_info(ctx, term)?.seated;
    Ok((term, u32::try_from(seated).unwrap_or(u32::MAX)))
}

/// Whether `who` is a member of the council of `term`.
pub(crate) fn is_member<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, who: Address) -> Res<bool> {
    let key = tk(ctx, term, from_addr(who))?;
    Ok(!ctx.get(slot(T_MEMBER, key, 0))?.is_zero())
}

// ---- candidacies ----

/// A candidate of a term: `(slots' key, address, withdrawn, carried, bond)`.
fn candidate<H: Host>(
    ctx: &mut Ctx<'_, H>,
    term: u64,
    i: u64,
) -> Res<(B256, Address, bool, bool, U256)> {
    let key = tk(ctx, term, U256::from(i))?;
    let f0 = ctx.get(slot(T_CAND, key, 0))?;
    let bond = ctx.get(slot(T_CAND, key, 1))?;
    Ok((key, to_addr(f0), bits(f0, 160, 1) == 1, bits(f0, 161, 1) == 1, bond))
}

fn write_candidate<H: Host>(
    ctx: &mut Ctx<'_, H>,
    key: B256,
    who: Address,
    withdrawn: bool,
    carried: bool,
    bond: U256,
) -> Res<()> {
    let mut f0 = from_addr(who);
    put(&mut f0, 160, 1, u64::from(withdrawn));
    put(&mut f0, 161, 1, u64::from(carried));
    ctx.set(slot(T_CAND, key, 0), f0)?;
    ctx.set(slot(T_CAND, key, 1), bond)
}

/// `who`'s index in term `term`'s candidate list.
fn candidate_index<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, who: Address) -> Res<Option<u64>> {
    let key = tk(ctx, term, from_addr(who))?;
    let v = ctx.get(slot(T_CAND_IDX, key, 0))?.saturating_to::<u64>();
    Ok(v.checked_sub(1))
}

pub(crate) fn submit_candidacy<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    value: U256,
) -> Res<Bytes> {
    let c = &p.governance.council;
    let (term, _) = not_frozen(ctx, c)?;
    if value != c.candidacy_bond {
        return Err(revert(IGovernance::WrongDeposit { required: c.candidacy_bond }));
    }
    let i = match candidate_index(ctx, term, who)? {
        Some(i) => {
            let (_, _, withdrawn, _, _) = candidate(ctx, term, i)?;
            if !withdrawn {
                return Err(revert(IGovernance::AlreadyCandidate {}));
            }
            i
        }
        None => {
            let mut info = term_info(ctx, term)?;
            if info.candidates >= u64::from(c.max_candidates.min(64)) {
                return Err(revert(IGovernance::TooManyCandidates { maximum: c.max_candidates }));
            }
            let i = info.candidates;
            info.candidates += 1;
            set_term_info(ctx, term, info)?;
            let key = tk(ctx, term, from_addr(who))?;
            ctx.set(slot(T_CAND_IDX, key, 0), U256::from(i + 1))?;
            i
        }
    };
    let key = tk(ctx, term, U256::from(i))?;
    write_candidate(ctx, key, who, false, false, value)?;
    ctx.add_g_flat(G_BONDS, value, false)?;
    ctx.emit(
        IGovernance::CandidacySubmitted { candidate: who, term, bond: value }.encode_log_data(),
    )?;
    Ok(Bytes::new())
}

pub(crate) fn renounce_candidacy<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
) -> Res<Bytes> {
    let (term, _) = not_frozen(ctx, &p.governance.council)?;
    let not_candidate = || revert(IGovernance::NotCandidate { account: who });
    let i = candidate_index(ctx, term, who)?.ok_or_else(not_candidate)?;
    let (key, _, withdrawn, carried, bond) = candidate(ctx, term, i)?;
    if withdrawn {
        return Err(not_candidate());
    }
    write_candidate(ctx, key, who, true, carried, U256::ZERO)?;
    ctx.emit(IGovernance::CandidacyRenounced { candidate: who, term }.encode_log_data())?;
    if carried {
        return_bond(ctx, who, bond)?;
    } else {
        // The slot stays taken for the term (ballots name candidates by index), so a fresh
        // candidacy withdrawn costs its bond as one not elected would: else 64 candidacies made
        // and withdrawn for nothing but gas would keep everyone else out of the election.
        ctx.add_g_flat(G_BONDS, bond, true)?;
        treasury::receive(ctx, treasury::source::CANDIDACY_BOND, who, bond)?;
    }
    Ok(Bytes::new())
}

/// Bonds held (owed to their candidates).
pub(crate) fn bonds<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    ctx.get_flat(U256::from(G_BONDS))
}

fn return_bond<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, bond: U256) -> Res<()> {
    if bond.is_zero() {
        return Ok(());
    }
    ctx.add_g_flat(G_BONDS, bond, true)?;
    ctx.pay_own(who, bond)?;
    ctx.emit(IGovernance::BondReturned { candidate: who, amount: bond }.encode_log_data())
}

// ---- ballots ----

/// A voter's ballot of the current term from its `T_VOTER` words: `(mask, weight)`, mask 0
/// when it has none (or one of an earlier term, which counts for nothing).
pub(crate) fn ballot(v: &[U256; 4], term: u64) -> (u64, U256) {
    let mask = bits(v[2], 128, 64);
    if mask == 0 || bits(v[2], 64, 64) != term { (0, U256::ZERO) } else { (mask, v[3]) }
}

fn set_ballot(v: &mut [U256; 4], term: u64, mask: u64, weight: U256) {
    put(&mut v[2], 64, 64, if mask == 0 { 0 } else { term });
    put(&mut v[2], 128, 64, mask);
    v[3] = if mask == 0 { U256::ZERO } else { weight };
}

/// Most gas [`class_add`] and [`class_sub`] take (a class created; a class removed with the
/// last one moved into its place): each is charged that whatever it does, since whether a class
/// is created or removed depends on other voters' ballots, which a sender cannot know when it
/// estimates gas.
const CLASS_ADD_GAS: u64 = 100_000;
const CLASS_SUB_GAS: u64 = 145_000;

/// Adds `weight` to the class of `mask` in `term`, creating it (at most `maxBallotClasses`).
fn class_add<H: Host>(
    ctx: &mut Ctx<'_, H>,
    c: &CouncilParams,
    term: u64,
    mask: u64,
    weight: U256,
) -> Res<()> {
    ctx.at_flat_cost(CLASS_ADD_GAS, |ctx| class_add_inner(ctx, c, term, mask, weight))
}

fn class_add_inner<H: Host>(
    ctx: &mut Ctx<'_, H>,
    c: &CouncilParams,
    term: u64,
    mask: u64,
    weight: U256,
) -> Res<()> {
    let key = tk(ctx, term, U256::from(mask))?;
    let w = ctx.get_flat(slot(T_CLASS, key, 0))?;
    if ctx.get_flat(slot(T_CLASS, key, 1))?.is_zero() {
        let mut info = term_info(ctx, term)?;
        let max = c.max_ballot_classes.min(MAX_BALLOT_CLASSES);
        if info.classes >= u64::from(max) {
            return Err(revert(IGovernance::TooManyBallotClasses { maximum: max }));
        }
        let at = tk(ctx, term, U256::from(info.classes))?;
        ctx.set_flat(slot(T_CLASS_AT, at, 0), U256::from(mask))?;
        info.classes += 1;
        ctx.set_flat(slot(T_CLASS, key, 1), U256::from(info.classes))?;
        set_term_info(ctx, term, info)?;
    }
    ctx.set_flat(slot(T_CLASS, key, 0), ck(w.checked_add(weight))?)
}

/// Takes `weight` out of the class of `mask` in `term`; an emptied class leaves the list
/// (swap-remove).
fn class_sub<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, mask: u64, weight: U256) -> Res<()> {
    ctx.at_flat_cost(CLASS_SUB_GAS, |ctx| class_sub_inner(ctx, term, mask, weight))
}

fn class_sub_inner<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, mask: u64, weight: U256) -> Res<()> {
    let key = tk(ctx, term, U256::from(mask))?;
    let w = ck(ctx.get_flat(slot(T_CLASS, key, 0))?.checked_sub(weight))?;
    ctx.set_flat(slot(T_CLASS, key, 0), w)?;
    if !w.is_zero() {
        return Ok(());
    }
    let idx = ck(ctx.get_flat(slot(T_CLASS, key, 1))?.saturating_to::<u64>().checked_sub(1))?;
    let mut info = term_info(ctx, term)?;
    let last = ck(info.classes.checked_sub(1))?;
    let last_at = tk(ctx, term, U256::from(last))?;
    if idx != last {
        let moved = ctx.get_flat(slot(T_CLASS_AT, last_at, 0))?;
        let at = tk(ctx, term, U256::from(idx))?;
        ctx.set_flat(slot(T_CLASS_AT, at, 0), moved)?;
        let moved_key = tk(ctx, term, moved)?;
        ctx.set_flat(slot(T_CLASS, moved_key, 1), U256::from(idx + 1))?;
    }
    ctx.set_flat(slot(T_CLASS_AT, last_at, 0), U256::ZERO)?;
    ctx.set_flat(slot(T_CLASS, key, 1), U256::ZERO)?;
    info.classes = last;
    set_term_info(ctx, term, info)
}

/// The ballot approving `approvals` with the voter's whole lock, replacing its ballot (none
/// for an empty list). `v` is the voter's `T_VOTER` record, updated.
pub(crate) fn vote<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    v: &mut [U256; 4],
    approvals: &[Address],
) -> Res<()> {
    let c = &p.governance.council;
    let (term, _) = not_frozen(ctx, c)?;
    if approvals.len() > c.max_approvals as usize {
        return Err(revert(IGovernance::TooManyApprovals { maximum: c.max_approvals }));
    }
    let mut mask = 0u64;
    for &a in approvals {
        let not_candidate = || revert(IGovernance::NotCandidate { account: a });
        let i = candidate_index(ctx, term, a)?.ok_or_else(not_candidate)?;
        let (_, _, withdrawn, _, _) = candidate(ctx, term, i)?;
        if withdrawn || i >= 64 {
            return Err(not_candidate());
        }
        mask |= 1 << i;
    }
    let weight = if mask == 0 { U256::ZERO } else { v[0] };
    if mask != 0 && weight < c.min_vote_lock {
        return Err(revert(IGovernance::BallotTooSmall { minimum: c.min_vote_lock }));
    }
    let (old_mask, old_weight) = ballot(v, term);
    if old_mask != 0 {
        class_sub(ctx, term, old_mask, old_weight)?;
    }
    if mask != 0 {
        class_add(ctx, c, term, mask, weight)?;
    }
    set_ballot(v, term, mask, weight);
    let approvals = if mask == 0 { Vec::new() } else { approvals.to_vec() };
    ctx.emit(IGovernance::CouncilBallot { voter: who, term, approvals, weight }.encode_log_data())
}

/// Follows a change of the voter's lock (`v[0]` already updated): before the freeze the ballot
/// weighs the whole lock (and is removed below `minVoteLock`); in the freeze a lock cannot go
/// below its ballot and a larger one does not raise it.
pub(crate) fn on_lock_change<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    v: &mut [U256; 4],
) -> Res<()> {
    let c = &p.governance.council;
    let (term, end) = term(ctx)?;
    let (mask, weight) = ballot(v, term);
    if mask == 0 {
        return Ok(());
    }
    if frozen(ctx.now, end, c) {
        if v[0] < weight {
            return Err(revert(IGovernance::CouncilVotesFrozen { untilBlock: end }));
        }
        return Ok(());
    }
    let new = if v[0] < c.min_vote_lock { U256::ZERO } else { v[0] };
    if new == weight {
        return Ok(());
    }
    if new.is_zero() {
        class_sub(ctx, term, mask, weight)?;
        set_ballot(v, term, 0, U256::ZERO);
        return ctx.emit(
            IGovernance::CouncilBallot { voter: who, term, approvals: Vec::new(), weight: new }
                .encode_log_data(),
        );
    }
    // The class keeps a ballot of positive weight: only its weight moves.
    let key = tk(ctx, term, U256::from(mask))?;
    let w = ctx.get_flat(slot(T_CLASS, key, 0))?;
    let w = ck(ck(w.checked_sub(weight))?.checked_add(new))?;
    ctx.set_flat(slot(T_CLASS, key, 0), w)?;
    set_ballot(v, term, mask, new);
    Ok(())
}

// ---- views ----

pub(crate) fn council_view<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams) -> Res<Bytes> {
    let (term, end) = term(ctx)?;
    let info = term_info(ctx, term)?;
    let mut members = Vec::new();
    for i in 0..info.seated.min(64) {
        let key = tk(ctx, term, U256::from(i))?;
        members.push(to_addr(ctx.get(slot(T_COUNCIL, key, 0))?));
    }
    let mut runners = Vec::new();
    for i in 0..info.runners.min(64) {
        let key = tk(ctx, term, U256::from(i))?;
        runners.push(to_addr(ctx.get(slot(T_RUNNER, key, 0))?));
    }
    ret::<IGovernance::councilCall>(&IGovernance::councilReturn {
        members,
        runnersUp: runners,
        term,
        termEnd: end,
        freezeStart: end.saturating_sub(p.governance.council.election_freeze_blocks),
    })
}

/// The current term's classes: `(mask, weight)`.
fn classes<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, n: u64) -> Res<Vec<phragmen::Class>> {
    let mut out = Vec::new();
    for i in 0..n.min(u64::from(MAX_BALLOT_CLASSES)) {
        let at = tk(ctx, term, U256::from(i))?;
        let mask = ctx.get(slot(T_CLASS_AT, at, 0))?;
        let key = tk(ctx, term, mask)?;
        let weight = ctx.get(slot(T_CLASS, key, 0))?;
        out.push(phragmen::Class { mask: mask.saturating_to::<u64>(), weight });
    }
    Ok(out)
}

pub(crate) fn candidates_view<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<Bytes> {
    let (term, _) = term(ctx)?;
    let info = term_info(ctx, term)?;
    let classes = classes(ctx, term, info.classes)?;
    let n = info.candidates.min(64) as usize;
    let stake = ck(phragmen::approval_stake(n, &classes))?;
    let mut out = Vec::new();
    for (i, approval) in stake.into_iter().enumerate() {
        let (_, account, withdrawn, carried, bond) = candidate(ctx, term, i as u64)?;
        if !withdrawn {
            out.push(IGovernance::Candidate { account, bond, approvalStake: approval, carried });
        }
    }
    ret::<IGovernance::candidatesCall>(&out)
}

pub(crate) fn ballot_view<H: Host>(ctx: &mut Ctx<'_, H>, v: &[U256; 4]) -> Res<Bytes> {
    let (term, _) = term(ctx)?;
    let (mask, weight) = ballot(v, term);
    let mut approvals = Vec::new();
    for i in 0..64 {
        if mask >> i & 1 == 1 {
            approvals.push(candidate(ctx, term, i)?.1);
        }
    }
    ret::<IGovernance::ballotOfCall>(&IGovernance::ballotOfReturn { approvals, weight })
}

// ---- the election ----

/// Holds the election if this block ends the term: seats the council and runners-up of the
/// next term, carries them into its candidate list with their bonds, settles the other bonds
/// and schedules the next election `termBlocks` later. Unmetered (the hook) and bounded by the
/// hard caps (64 candidates, 8,192 classes, 48 rounds).
pub(crate) fn on_block<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams) -> Res<()> {
    let (term, end) = term(ctx)?;
    // A genesis without `config.dbc` has no term end: no council.
    if end == 0 || ctx.now < end {
        return Ok(());
    }
    ctx.host.checkpoint();
    match elect(ctx, p, term) {
        Ok(()) => {
            ctx.host.commit();
            Ok(())
        }
        Err(Fail::Revert(_)) => {
            // A bug: return every bond and start the next term without a council, rather than
            // stop the chain or keep the bonds.
            ctx.host.revert();
            ctx.host.checkpoint();
            match refund_all(ctx, term) {
                Ok(()) => ctx.host.commit(),
                Err(Fail::Revert(_)) => ctx.host.revert(),
                Err(e) => return Err(e),
            }
            next_term(ctx, p, term).map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Returns the bond of every candidate of `term` still standing.
fn refund_all<H: Host>(ctx: &mut Ctx<'_, H>, term: u64) -> Res<()> {
    let info = term_info(ctx, term)?;
    for i in 0..info.candidates.min(64) {
        let (_, who, withdrawn, _, bond) = candidate(ctx, term, i)?;
        if !withdrawn {
            return_bond(ctx, who, bond)?;
        }
    }
    Ok(())
}

/// The council spends passed for motions of `term` (`T_TERM[term]` f1).
pub(crate) fn spent<H: Host>(ctx: &mut Ctx<'_, H>, term: u64) -> Res<U256> {
    ctx.get_flat(slot(T_TERM, num_key(term), 1))
}

/// Adds a passed council spend of a motion of `term`.
pub(crate) fn add_spent<H: Host>(ctx: &mut Ctx<'_, H>, term: u64, amount: U256) -> Res<()> {
    let total = ck(spent(ctx, term)?.checked_add(amount))?;
    ctx.set_flat(slot(T_TERM, num_key(term), 1), total)
}

/// Moves to term `term + 1`, ending `termBlocks` from now.
fn next_term<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams, term: u64) -> Res<u64> {
    let end = ck(ctx.now.checked_add(p.governance.council.term_blocks))?;
    ctx.set_flat(U256::from(G_TERM), U256::from(ck(term.checked_add(1))?))?;
    ctx.set_flat(U256::from(G_TERM_END), U256::from(end))?;
    Ok(end)
}

fn elect<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams, term: u64) -> Res<()> {
    let c = &p.governance.council;
    let info = term_info(ctx, term)?;
    let mut cands = Vec::new();
    for i in 0..info.candidates.min(64) {
        cands.push(candidate(ctx, term, i)?);
    }
    let classes = classes(ctx, term, info.classes)?;
    let input: Vec<phragmen::Candidate> = cands
        .iter()
        .map(|&(_, account, withdrawn, _, _)| phragmen::Candidate { account, live: !withdrawn })
        .collect();
    let rounds = (c.seats.min(64) + c.runners_up.min(64)) as usize;
    // An overflow (ruled out by the bounds) reverts: every bond is returned (`on_block`).
    let won = ck(phragmen::elect(&input, &classes, rounds))?;
    let seats = (c.seats as usize).min(won.len());
    let next = ck(term.checked_add(1))?;
    let end = next_term(ctx, p, term)?;
    let (mut members, mut runners) = (Vec::new(), Vec::new());
    for (pos, &i) in won.iter().enumerate() {
        let (_, who, _, _, bond) = cands[i];
        let at = tk(ctx, next, U256::from(pos))?;
        if pos < seats {
            ctx.set(slot(T_COUNCIL, at, 0), from_addr(who))?;
            let key = tk(ctx, next, from_addr(who))?;
            ctx.set(slot(T_MEMBER, key, 0), U256::from(pos + 1))?;
            members.push(who);
        } else {
            let r = tk(ctx, next, U256::from(pos - seats))?;
            ctx.set(slot(T_RUNNER, r, 0), from_addr(who))?;
            runners.push(who);
        }
        // Carried into the next election with its bond.
        write_candidate(ctx, at, who, false, true, bond)?;
        let key = tk(ctx, next, from_addr(who))?;
        ctx.set(slot(T_CAND_IDX, key, 0), U256::from(pos + 1))?;
    }
    set_term_info(
        ctx,
        next,
        TermInfo {
            candidates: won.len() as u64,
            classes: 0,
            seated: members.len() as u64,
            runners: runners.len() as u64,
        },
    )?;
    // The bonds of those not elected: back to members and runners-up, lost by the others.
    for (i, &(_, who, withdrawn, carried, bond)) in cands.iter().enumerate() {
        if withdrawn || won.contains(&i) || bond.is_zero() {
            continue;
        }
        if carried {
            return_bond(ctx, who, bond)?;
        } else {
            ctx.add_g_flat(G_BONDS, bond, true)?;
            // The bond is already in this account: only what it owes shrinks.
            treasury::receive(ctx, treasury::source::CANDIDACY_BOND, who, bond)?;
        }
    }
    ctx.emit(
        IGovernance::CouncilElected { term: next, members, runnersUp: runners, termEnd: end }
            .encode_log_data(),
    )
}

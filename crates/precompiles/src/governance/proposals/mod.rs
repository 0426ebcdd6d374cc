//! Voting locks, referenda and council motions (`docs/governance-design.md` §5).
//!
//! Holders lock DBC in `0x…0D04` to vote (1 wei = 1 vote). Anyone proposes with a deposit,
//! to a referendum of locked DBC or as a motion of the council (`council.rs`), whose members of
//! the motion's term vote one each and decide it as soon as the result is certain. Votes are
//! counted in the governance hook of the proposal's last voting block (an END item) unless a
//! motion was decided before; a passed proposal gets its deposit back and is enacted in
//! the hook of block E − 1, E being the first staking epoch boundary at least
//! `enactmentDelayBlocks` after the pass (an ENACT item), so every node applies it at the same
//! block. A failed proposal's deposit goes to the treasury (source 6).
//!
//! Storage of `0x…0D04` (§3.1): `G_PROPOSALS` (9), `G_OPEN` (10), `G_LOCKED` (11),
//! `G_DEPOSITS` (12); `T_PROPOSAL[id]` (60), `T_VOTER[addr]` (67), `T_VOTE[keccak(id ‖ voter)]`
//! (71), `T_END_Q[block]` (74) and `T_ENACT_Q[block]` (75), whose lists are shared by unrelated
//! transactions and so read and written at a flat price.
//!
//! What falls due at a block's end (counting, deciding, enacting) is in [`due`].

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolEvent, SolValue};
use dbc_chainspec::{DbcParams, ParamsTarget, STAKING_ADDRESS};

use super::council;
use crate::{
    GOVERNANCE_ADDRESS,
    abi::IGovernance,
    host::Host,
    params,
    store::{
        Ctx, Fail, Res, Slots, addr_key, bits, ck, from_addr, gas, num_key, put, ret, revert, slot,
        to_addr,
    },
    supply::{self, SupplyRules},
    treasury,
};

mod due;

pub use due::idle_hook_slots;
pub(crate) use due::run_due;
use due::{decide, motion_outcome, push};

/// The last proposal id.
pub(crate) const G_PROPOSALS: u64 = 9;
/// Proposals voting or queued.
pub(crate) const G_OPEN: u64 = 10;
/// Everything locked for voting (owed to the voters).
pub(crate) const G_LOCKED: u64 = 11;
/// Deposits of open proposals (owed to their proposers until they fail).
pub(crate) const G_DEPOSITS: u64 = 12;
/// Streamed spends enacted and not yet claimed (owed to their recipients).
pub(crate) const G_RESERVED: u64 = 14;
/// A streamed spend by proposal id: f0 `to | startBlock(64)@160`, f1 total, f2 claimed,
/// f3 endBlock.
const T_STREAM: u64 = 73;
const T_PROPOSAL: u64 = 60;
const T_VOTER: u64 = 67;
const T_VOTE: u64 = 71;
/// A proposal's voters in the order of their first vote: `keccak(id ‖ i)` → voter.
const T_VOTERS_OF: u64 = 72;
/// Most voters `proposalVoters` returns at once.
const MAX_VOTERS_PAGE: u64 = 100;
/// Proposals whose vote is counted at the end of a block.
pub(crate) const T_END_Q: u64 = 74;
/// Proposals enacted at the end of a block.
pub(crate) const T_ENACT_Q: u64 = 75;

mod status {
    pub(super) const VOTING: u8 = 1;
    pub(super) const QUEUED: u8 = 2;
    pub(super) const ENACTED: u8 = 3;
    pub(super) const REJECTED: u8 = 4;
    pub(super) const ENACTMENT_FAILED: u8 = 5;
}
const KIND_TEXT: u8 = 0;
const KIND_SPEND: u8 = 1;
const KIND_PARAMS: u8 = 2;
const KIND_VALIDATOR_SET_SIZE: u8 = 3;
const ROUTE_COUNCIL: u8 = 0;
const ROUTE_REFERENDUM: u8 = 1;
/// Most gas a council vote's decision takes (`decide`: deposit, events, the enactment search);
/// every council vote is charged that whether or not it decides, since that depends on the other
/// members' votes, which a sender cannot know when it estimates gas.
const MOTION_DECIDE_GAS: u64 = 300_000;
/// `ProposalRejected.reason`.
const REJECTED_COUNCIL: u8 = 1;
const REJECTED_DEFEATED: u8 = 2;
const REJECTED_TURNOUT: u8 = 3;

/// A proposal record (10 slots).
#[derive(Debug, Clone, Default)]
struct Proposal {
    proposer: Address,
    kind: u8,
    route: u8,
    status: u8,
    vote_start: u64,
    vote_end: u64,
    enact_at: u64,
    deposit: U256,
    voters: u64,
    tally: [U256; 3],
    payload_hash: B256,
    spend_to: Address,
    spend_amount: U256,
    /// A streamed spend's length (0: paid at enactment).
    stream_blocks: u64,
    /// ParamChange and ValidatorSetSize: `params::index` of the target.
    target: u8,
    /// ParamChange: the target's version when proposed.
    base_version: u32,
    validator_set_size: u32,
    /// Council motions: the term whose council decides, and its seated members.
    term: u64,
    seated: u32,
}

impl Proposal {
    fn encode(&self) -> [U256; 10] {
        let mut f0 = from_addr(self.proposer);
        put(&mut f0, 160, 8, u64::from(self.kind));
        put(&mut f0, 168, 8, u64::from(self.route));
        put(&mut f0, 176, 8, u64::from(self.status));
        put(&mut f0, 184, 8, u64::from(self.target));
        let mut f1 = U256::ZERO;
        put(&mut f1, 0, 64, self.vote_start);
        put(&mut f1, 64, 64, self.vote_end);
        put(&mut f1, 128, 64, self.enact_at);
        put(&mut f1, 192, 64, self.term);
        // f3: seated(32) | baseVersion(32) | voters(64) | validatorSetSize(32) (§3.1).
        let mut f3 = U256::ZERO;
        put(&mut f3, 0, 32, u64::from(self.seated));
        put(&mut f3, 32, 32, u64::from(self.base_version));
        put(&mut f3, 64, 64, self.voters);
        put(&mut f3, 128, 32, u64::from(self.validator_set_size));
        [
            f0,
            f1,
            self.deposit,
            f3,
            self.tally[1],
            self.tally[0],
            self.tally[2],
            U256::from_be_bytes(self.payload_hash.0),
            {
                let mut f8 = from_addr(self.spend_to);
                put(&mut f8, 160, 64, self.stream_blocks);
                f8
            },
            self.spend_amount,
        ]
    }

    fn decode(w: &[U256; 10]) -> Self {
        Self {
            proposer: to_addr(w[0]),
            kind: bits(w[0], 160, 8) as u8,
            route: bits(w[0], 168, 8) as u8,
            status: bits(w[0], 176, 8) as u8,
            vote_start: bits(w[1], 0, 64),
            vote_end: bits(w[1], 64, 64),
            enact_at: bits(w[1], 128, 64),
            deposit: w[2],
            voters: bits(w[3], 64, 64),
            // Stored for, against, abstain; indexed by `support` (0 against, 1 for, 2 abstain).
            tally: [w[5], w[4], w[6]],
            payload_hash: B256::from(w[7]),
            spend_to: to_addr(w[8]),
            spend_amount: w[9],
            stream_blocks: bits(w[8], 160, 64),
            target: bits(w[0], 184, 8) as u8,
            base_version: bits(w[3], 32, 32) as u32,
            validator_set_size: bits(w[3], 128, 32) as u32,
            term: bits(w[1], 192, 64),
            seated: bits(w[3], 0, 32) as u32,
        }
    }

    fn kind(&self) -> IGovernance::Kind {
        match self.kind {
            KIND_SPEND => IGovernance::Kind::TreasurySpend,
            KIND_PARAMS => IGovernance::Kind::ParamChange,
            KIND_VALIDATOR_SET_SIZE => IGovernance::Kind::ValidatorSetSize,
            _ => IGovernance::Kind::Text,
        }
    }

    fn route(&self) -> IGovernance::Route {
        if self.route == ROUTE_COUNCIL {
            IGovernance::Route::Council
        } else {
            IGovernance::Route::Referendum
        }
    }

    fn target(&self) -> ParamsTarget {
        params::TARGETS.get(usize::from(self.target)).copied().unwrap_or(ParamsTarget::Market)
    }
}

fn load<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Option<(Slots<10>, Proposal)>> {
    if id.is_zero() || id > ctx.g(G_PROPOSALS)? {
        return Ok(None);
    }
    let (s, w) = Slots::<10>::load(ctx, T_PROPOSAL, B256::from(id))?;
    Ok(Some((s, Proposal::decode(&w))))
}

fn load_known<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<(Slots<10>, Proposal)> {
    load(ctx, id)?.ok_or_else(|| revert(IGovernance::UnknownProposal { id }))
}

/// What the treasury may spend: its balance less what it holds for voters, proposers,
/// candidates and stream recipients.
pub(crate) fn available<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    ctx.charge(gas::COLD_SLOAD)?;
    let balance = ctx.host.balance(GOVERNANCE_ADDRESS)?;
    let locked = ctx.get_flat(U256::from(G_LOCKED))?;
    let owed = ck(locked.checked_add(ctx.get_flat(U256::from(G_DEPOSITS))?))?;
    let owed = ck(owed.checked_add(ctx.get_flat(U256::from(G_RESERVED))?))?;
    let owed = ck(owed.checked_add(council::bonds(ctx)?))?;
    Ok(balance.saturating_sub(owed))
}

/// Streamed spends not yet claimed.
pub(crate) fn reserved<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    ctx.get_flat(U256::from(G_RESERVED))
}

// ---- voting locks ----

/// A voter's lock: `[locked, committed, committedUntil | ballotTerm | ballotMask,
/// ballotWeight]`.
pub(super) fn voter<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<(Slots<4>, [U256; 4])> {
    Slots::<4>::load(ctx, T_VOTER, addr_key(who))
}

/// What `w`'s votes still commit at `now`.
fn committed(w: &[U256; 4], now: u64) -> (U256, u64) {
    let until = bits(w[2], 0, 64);
    if until > now { (w[1], until) } else { (U256::ZERO, 0) }
}

pub(crate) fn lock<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    value: U256,
) -> Res<Bytes> {
    if value.is_zero() {
        return Err(revert(IGovernance::NothingLocked {}));
    }
    let (mut s, mut w) = voter(ctx, who)?;
    w[0] = ck(w[0].checked_add(value))?;
    council::on_lock_change(ctx, p, who, &mut w)?;
    s.store(ctx, w)?;
    ctx.add_g_flat(G_LOCKED, value, false)?;
    ctx.emit(IGovernance::Locked { voter: who, amount: value, locked: w[0] }.encode_log_data())?;
    Ok(Bytes::new())
}

pub(crate) fn unlock<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    amount: U256,
) -> Res<Bytes> {
    let (mut s, mut w) = voter(ctx, who)?;
    if amount.is_zero() || amount > w[0] {
        return Err(revert(IGovernance::NothingLocked {}));
    }
    let (held, until) = committed(&w, ctx.now);
    if w[0] - amount < held {
        return Err(revert(IGovernance::LockCommitted {
            unlockable: w[0].saturating_sub(held),
            until,
        }));
    }
    w[0] -= amount;
    council::on_lock_change(ctx, p, who, &mut w)?;
    s.store(ctx, w)?;
    ctx.add_g_flat(G_LOCKED, amount, true)?;
    ctx.pay_own(who, amount)?;
    ctx.emit(IGovernance::Unlocked { voter: who, amount, locked: w[0] }.encode_log_data())?;
    Ok(Bytes::new())
}

pub(crate) fn lock_of<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<Bytes> {
    let (_, w) = voter(ctx, who)?;
    let (held, until) = committed(&w, ctx.now);
    let (term, _) = council::term(ctx)?;
    ret::<IGovernance::lockOfCall>(&IGovernance::lockOfReturn {
        locked: w[0],
        committed: held,
        committedUntil: until,
        ballotWeight: council::ballot(&w, term).1,
    })
}

/// `voteCouncil` (an empty list: `removeCouncilVote`).
pub(crate) fn vote_council<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    approvals: &[Address],
) -> Res<Bytes> {
    let (mut s, mut w) = voter(ctx, who)?;
    council::vote(ctx, p, who, &mut w, approvals)?;
    s.store(ctx, w)?;
    Ok(Bytes::new())
}

// ---- proposals ----

/// The deposit a proposal needs now (§5.2).
fn required_deposit<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    spend: Option<U256>,
) -> Res<U256> {
    let g = &p.governance;
    let open = ctx.get_flat(U256::from(G_OPEN))?.saturating_to::<u64>();
    let quarters = open.saturating_mul(4) / u64::from(g.max_open_proposals.max(1));
    // `validate` keeps the base below 2^252, so 8× fits.
    let base = g.proposal_deposit << usize::try_from(quarters.min(3)).unwrap_or(3);
    let share = match spend {
        Some(amount) => {
            ck(amount.checked_mul(U256::from(g.spend_deposit_bps)))? / U256::from(10_000)
        }
        None => U256::ZERO,
    };
    Ok(base.max(share))
}

pub(crate) fn required_deposit_view<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    c: &IGovernance::requiredDepositCall,
) -> Res<Bytes> {
    let spend = matches!(c.kind, IGovernance::Kind::TreasurySpend).then_some(c.spendAmount);
    let d = required_deposit(ctx, p, spend)?;
    ret::<IGovernance::requiredDepositCall>(&d)
}

/// The checks and the record every proposal shares; `rec` holds the kind's own fields (and,
/// for a parameter change, the record's hash as the payload hash). Returns the new id.
fn submit<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    proposer: Address,
    value: U256,
    route: IGovernance::Route,
    description: &str,
    rec: Proposal,
) -> Res<U256> {
    let g = &p.governance;
    let c = &g.council;
    let by_council = matches!(route, IGovernance::Route::Council);
    let (mut term, mut seated) = (0, 0);
    if by_council {
        // A council must not lower its own thresholds.
        if rec.kind == KIND_PARAMS && rec.target() == ParamsTarget::Governance {
            return Err(revert(IGovernance::RouteNotAllowed { kind: rec.kind(), route }));
        }
        (term, seated) = council::seated(ctx)?;
        if seated < c.quorum_seats() {
            return Err(revert(IGovernance::NoCouncil {}));
        }
        if rec.kind == KIND_SPEND {
            if rec.spend_amount > c.spend_limit {
                return Err(revert(IGovernance::SpendAboveCouncilLimit { limit: c.spend_limit }));
            }
            if council::spent(ctx, term)?.saturating_add(rec.spend_amount) > c.term_spend_limit {
                return Err(revert(IGovernance::SpendAboveCouncilLimit {
                    limit: c.term_spend_limit,
                }));
            }
        }
    } else if !matches!(route, IGovernance::Route::Referendum) {
        return Err(revert(IGovernance::RouteNotAllowed { kind: rec.kind(), route }));
    }
    if description.len() > g.max_payload_bytes as usize {
        return Err(revert(IGovernance::PayloadTooLarge {
            maximum: U256::from(g.max_payload_bytes),
        }));
    }
    let open = ctx.get_flat(U256::from(G_OPEN))?;
    if open >= U256::from(g.max_open_proposals) {
        return Err(revert(IGovernance::TooManyOpenProposals { maximum: g.max_open_proposals }));
    }
    let spend = (rec.kind == KIND_SPEND).then_some(rec.spend_amount);
    let required = required_deposit(ctx, p, spend)?;
    if value != required {
        return Err(revert(IGovernance::WrongDeposit { required }));
    }
    let id = ctx.add_g_flat(G_PROPOSALS, U256::from(1), false)?;
    ctx.add_g_flat(G_OPEN, U256::from(1), false)?;
    ctx.add_g_flat(G_DEPOSITS, value, false)?;
    let period = if by_council { c.motion_blocks } else { g.referendum_blocks };
    let vote_end = ck(ctx.now.checked_add(period))?;
    let route_code = if by_council { ROUTE_COUNCIL } else { ROUTE_REFERENDUM };
    let payload_hash = if rec.payload_hash.is_zero() {
        ctx.hash(description.as_bytes())?
    } else {
        rec.payload_hash
    };
    let (kind, spend_to, spend_amount) = (rec.kind, rec.spend_to, rec.spend_amount);
    let kind_enum = rec.kind();
    let rec = Proposal {
        proposer,
        route: route_code,
        status: status::VOTING,
        term,
        seated,
        vote_start: ctx.now,
        vote_end,
        deposit: value,
        payload_hash,
        ..rec
    };
    // A new id: its slots are all zero.
    let mut s = Slots::<10> { tag: T_PROPOSAL, key: B256::from(id), orig: [U256::ZERO; 10] };
    s.store(ctx, rec.encode())?;
    push(ctx, T_END_Q, vote_end, id)?;
    ctx.emit(
        IGovernance::ProposalSubmitted {
            id,
            proposer,
            kind: kind_enum,
            route,
            deposit: value,
            payloadHash: payload_hash,
        }
        .encode_log_data(),
    )?;
    let calldata: Bytes =
        (U256::from(kind), U256::from(route_code), spend_to, spend_amount).abi_encode().into();
    ctx.emit(
        IGovernance::ProposalCreated {
            proposalId: id,
            proposer,
            targets: vec![GOVERNANCE_ADDRESS],
            values: vec![U256::ZERO],
            signatures: vec![String::new()],
            calldatas: vec![calldata],
            voteStart: U256::from(ctx.now),
            voteEnd: U256::from(vote_end),
            description: description.to_string(),
        }
        .encode_log_data(),
    )?;
    Ok(id)
}

pub(crate) fn propose_text<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    value: U256,
    c: IGovernance::proposeTextCall,
) -> Res<Bytes> {
    let rec = Proposal { kind: KIND_TEXT, ..Default::default() };
    let id = submit(ctx, p, who, value, c.route, &c.description, rec)?;
    ret::<IGovernance::proposeTextCall>(&id)
}

pub(crate) fn propose_spend<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    value: U256,
    c: IGovernance::proposeSpendCall,
) -> Res<Bytes> {
    let max = p.governance.max_stream_blocks;
    if c.streamBlocks > max {
        return Err(revert(IGovernance::StreamTooLong { maximum: max }));
    }
    if !spendable_to(c.to) || c.amount.is_zero() {
        return Err(revert(IGovernance::BadSpend {}));
    }
    // The deposit is paid with this call, so it is not yet in what the treasury owes.
    let available = available(ctx)?.saturating_sub(value);
    if c.amount > available {
        return Err(revert(IGovernance::InsufficientTreasury { available }));
    }
    let rec = Proposal {
        kind: KIND_SPEND,
        spend_to: c.to,
        spend_amount: c.amount,
        stream_blocks: c.streamBlocks,
        ..Default::default()
    };
    let id = submit(ctx, p, who, value, c.route, &c.description, rec)?;
    ret::<IGovernance::proposeSpendCall>(&id)
}

/// A change of a target's whole parameter record (checked as genesis is, and against the
/// state); the record is stored by hash for enactment and `proposalPayload`.
pub(crate) fn propose_params<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    value: U256,
    c: IGovernance::proposeParamsCall,
) -> Res<Bytes> {
    let t = params::target_arg(c.target)?;
    // A fixed bound, not `maxPayloadBytes`: a change of that must not lock changes out.
    if c.params.len() > params::MAX_RECORD_BYTES {
        return Err(revert(IGovernance::PayloadTooLarge {
            maximum: U256::from(params::MAX_RECORD_BYTES),
        }));
    }
    // Decoding and the checks: a hash's worth per word.
    ctx.charge(gas::HASH.saturating_mul(c.params.len().div_ceil(32) as u64))?;
    let new = params::decode(p, t, &c.params)
        .and_then(|new| p.check_change(&new, t).map(|()| new))
        .map_err(invalid)?;
    state_checks(ctx, &new, t)?.map_err(invalid)?;
    let hash = ctx.hash(&c.params)?;
    params::store_blob(ctx, hash, &c.params)?;
    let (base_version, _, _) = params::newest(ctx, t)?;
    let rec = Proposal {
        kind: KIND_PARAMS,
        target: params::index(t) as u8,
        base_version,
        payload_hash: hash,
        ..Default::default()
    };
    let id = submit(ctx, p, who, value, c.route, &c.description, rec)?;
    ret::<IGovernance::proposeParamsCall>(&id)
}

/// A change of `staking.maxValidators` alone (applied to the staking parameters in force at
/// enactment).
pub(crate) fn propose_validator_set_size<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    value: U256,
    c: IGovernance::proposeValidatorSetSizeCall,
) -> Res<Bytes> {
    let new = with_set_size(p, c.maxValidators).map_err(invalid)?;
    let t = ParamsTarget::Staking;
    state_checks(ctx, &new, t)?.map_err(invalid)?;
    let rec = Proposal {
        kind: KIND_VALIDATOR_SET_SIZE,
        target: params::index(t) as u8,
        validator_set_size: c.maxValidators,
        ..Default::default()
    };
    let id = submit(ctx, p, who, value, c.route, &c.description, rec)?;
    ret::<IGovernance::proposeValidatorSetSizeCall>(&id)
}

/// The revert of a parameter change the checks refuse.
fn invalid(reason: String) -> Fail {
    revert(IGovernance::InvalidParams { reason })
}

/// `p` with `staking.maxValidators = size`, checked as a change.
fn with_set_size(p: &DbcParams, size: u32) -> Result<DbcParams, String> {
    let mut new = p.clone();
    new.staking.max_validators = size;
    p.check_change(&new, ParamsTarget::Staking)?;
    Ok(new)
}

/// The checks of a parameter change against the state (the runtime form of genesis's
/// coverage checks): no fewer open proposals or registered candidates than exist now.
fn state_checks<H: Host>(
    ctx: &mut Ctx<'_, H>,
    new: &DbcParams,
    t: ParamsTarget,
) -> Res<Result<(), String>> {
    Ok(match t {
        ParamsTarget::Market => Ok(()),
        ParamsTarget::Staking => {
            let n = ctx.within(STAKING_ADDRESS, |c| {
                c.get_flat(U256::from(crate::staking::G_CANDIDATES))
            })?;
            if U256::from(new.staking.max_candidates) < n {
                Err(format!(
                    "staking.maxCandidates = {} is below the {n} candidates registered now",
                    new.staking.max_candidates
                ))
            } else {
                Ok(())
            }
        }
        ParamsTarget::Governance => {
            let open = ctx.get_flat(U256::from(G_OPEN))?;
            if U256::from(new.governance.max_open_proposals) < open {
                Err(format!(
                    "governance.maxOpenProposals = {} is below the {open} proposals open now",
                    new.governance.max_open_proposals
                ))
            } else {
                Ok(())
            }
        }
    })
}

/// A ParamChange proposal's record (empty for other kinds).
pub(crate) fn proposal_payload<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Bytes> {
    let (_, r) = load_known(ctx, id)?;
    let bytes =
        if r.kind == KIND_PARAMS { params::load_blob(ctx, r.payload_hash)? } else { Vec::new() };
    ret::<IGovernance::proposalPayloadCall>(&Bytes::from(bytes))
}

/// A spend may go to any account but the zero address, the system address and the
/// precompiles' accounts (where it would leave every ledger, or not move at all).
fn spendable_to(to: Address) -> bool {
    to != Address::ZERO
        && to != crate::SYSTEM_ADDRESS
        && !dbc_chainspec::PRECOMPILE_ACCOUNTS.contains(&to)
}

/// Votes with the caller's whole lock; a new vote replaces the old one.
pub(crate) fn cast_vote<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &DbcParams,
    who: Address,
    id: U256,
    support: u8,
    reason: String,
) -> Res<Bytes> {
    let (mut s, mut rec) = load_known(ctx, id)?;
    if rec.status != status::VOTING || ctx.now > rec.vote_end {
        return Err(revert(IGovernance::VotingClosed { id }));
    }
    if support > 2 {
        return Err(revert(IGovernance::BadSupport { support }));
    }
    let by_council = rec.route == ROUTE_COUNCIL;
    if by_council && !council::is_member(ctx, rec.term, who)? {
        return Err(revert(IGovernance::NotCouncilMember { term: rec.term }));
    }
    let (mut vs, mut v) = voter(ctx, who)?;
    // A member's vote weighs one; a referendum vote the caller's whole lock.
    let weight = if by_council { U256::from(1) } else { v[0] };
    if weight.is_zero() {
        return Err(revert(IGovernance::NoVotingPower {}));
    }
    let key = ctx.hash(&(id, who).abi_encode())?;
    let (mut ballot_slots, mut ballot) = Slots::<2>::load(ctx, T_VOTE, key)?;
    if ballot[0].is_zero() {
        let key = ctx.hash(&(id, U256::from(rec.voters)).abi_encode())?;
        ctx.set(slot(T_VOTERS_OF, key, 0), from_addr(who))?;
        rec.voters = ck(rec.voters.checked_add(1))?;
    } else {
        let old = ballot[0].saturating_to::<usize>().saturating_sub(1).min(2);
        rec.tally[old] = ck(rec.tally[old].checked_sub(ballot[1]))?;
    }
    let at = usize::from(support);
    rec.tally[at] = ck(rec.tally[at].checked_add(weight))?;
    // The tallies are shared by every voter: written at a flat price.
    let words = rec.encode();
    for (f, (new, old)) in words.iter().zip(s.orig.iter_mut()).enumerate().skip(3).take(4) {
        if new != old {
            ctx.set_flat(slot(T_PROPOSAL, s.key, f as u64), *new)?;
            *old = *new;
        }
    }
    s.store(ctx, words)?;
    ballot = [U256::from(support + 1), weight];
    ballot_slots.store(ctx, ballot)?;
    if !by_council {
        // The weight stays locked until about the enactment.
        let until = rec
            .vote_end
            .saturating_add(p.governance.enactment_delay_blocks)
            .saturating_add(p.staking.epoch_blocks);
        let (held, held_until) = committed(&v, ctx.now);
        v[1] = held.max(weight);
        put(&mut v[2], 0, 64, held_until.max(until));
        vs.store(ctx, v)?;
    }
    ctx.emit(
        IGovernance::VoteCast { voter: who, proposalId: id, support, weight, reason }
            .encode_log_data(),
    )?;
    if by_council {
        // A motion closes as soon as its result is certain (as pallet-collective's). If that
        // fails (every enactment boundary in reach is full), the vote stands and the END item
        // decides, or abandons the motion with its deposit returned.
        ctx.at_flat_cost(MOTION_DECIDE_GAS, |ctx| {
            let Some(passed) = motion_outcome(p, &rec) else { return Ok(()) };
            let rejected = (!passed).then_some(REJECTED_COUNCIL);
            ctx.host.checkpoint();
            match decide(ctx, p, id, s, rec, rejected) {
                Ok(()) => ctx.host.commit(),
                Err(Fail::Revert(_)) => ctx.host.revert(),
                Err(e) => return Err(e),
            }
            Ok(())
        })?;
    }
    ret::<IGovernance::castVoteCall>(&weight)
}

pub(crate) fn get_proposal<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Bytes> {
    let (_, r) = load_known(ctx, id)?;
    let kind = r.kind();
    let status = match r.status {
        status::VOTING => IGovernance::Status::Voting,
        status::QUEUED => IGovernance::Status::Queued,
        status::ENACTED => IGovernance::Status::Enacted,
        status::REJECTED => IGovernance::Status::Rejected,
        status::ENACTMENT_FAILED => IGovernance::Status::EnactmentFailed,
        _ => IGovernance::Status::None,
    };
    let out = IGovernance::Proposal {
        id,
        proposer: r.proposer,
        kind,
        route: r.route(),
        status,
        target: params::abi_target(r.target()),
        voteStart: r.vote_start,
        voteEnd: r.vote_end,
        enactAt: r.enact_at,
        term: r.term,
        seated: r.seated,
        deposit: r.deposit,
        forVotes: r.tally[1],
        againstVotes: r.tally[0],
        abstainVotes: r.tally[2],
        voters: r.voters,
        payloadHash: r.payload_hash,
        baseVersion: r.base_version,
        spendTo: r.spend_to,
        spendAmount: r.spend_amount,
        streamBlocks: r.stream_blocks,
        validatorSetSize: r.validator_set_size,
    };
    ret::<IGovernance::getProposalCall>(&out)
}

/// A page of a proposal's votes: voters in the order of their first vote, with their current
/// vote (0 against, 1 for, 2 abstain) and weight; at most 100.
pub(crate) fn proposal_voters<H: Host>(
    ctx: &mut Ctx<'_, H>,
    id: U256,
    offset: U256,
    limit: U256,
) -> Res<Bytes> {
    let (_, r) = load_known(ctx, id)?;
    let from = offset.saturating_to::<u64>().min(r.voters);
    let to = from.saturating_add(limit.saturating_to::<u64>().min(MAX_VOTERS_PAGE)).min(r.voters);
    let mut out = IGovernance::proposalVotersReturn {
        voters: Vec::new(),
        support: Vec::new(),
        weights: Vec::new(),
    };
    for i in from..to {
        let key = ctx.hash(&(id, U256::from(i)).abi_encode())?;
        let who = to_addr(ctx.get(slot(T_VOTERS_OF, key, 0))?);
        let vote = ctx.hash(&(id, who).abi_encode())?;
        let support = ctx.get(slot(T_VOTE, vote, 0))?.saturating_to::<u8>().saturating_sub(1);
        out.voters.push(who);
        out.support.push(support);
        out.weights.push(ctx.get(slot(T_VOTE, vote, 1))?);
    }
    ret::<IGovernance::proposalVotersCall>(&out)
}

// ---- streams ----

/// A stream: `(slots, to, start, total, claimed, end)`; `NothingToClaim` if there is none.
#[allow(clippy::type_complexity)]
fn stream<H: Host>(
    ctx: &mut Ctx<'_, H>,
    id: U256,
) -> Res<(Slots<4>, Address, u64, U256, U256, u64)> {
    let (s, w) = Slots::<4>::load(ctx, T_STREAM, B256::from(id))?;
    if w[1].is_zero() {
        return Err(revert(IGovernance::NothingToClaim {}));
    }
    Ok((s, to_addr(w[0]), bits(w[0], 160, 64), w[1], w[2], w[3].saturating_to::<u64>()))
}

/// What a stream has released by block `now`: `total × elapsed / length`, all of it at the end.
fn released(total: U256, start: u64, end: u64, now: u64) -> Res<U256> {
    let length = end.saturating_sub(start).max(1);
    let elapsed = now.saturating_sub(start).min(length);
    Ok(ck(total.checked_mul(U256::from(elapsed)))? / U256::from(length))
}

/// Pays a stream's recipient what it released since the last claim (anyone may call).
pub(crate) fn claim_stream<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Bytes> {
    let (mut s, to, start, total, claimed, end) = stream(ctx, id)?;
    let amount = released(total, start, end, ctx.now)?.saturating_sub(claimed);
    if amount.is_zero() {
        return Err(revert(IGovernance::NothingToClaim {}));
    }
    let mut w = s.orig;
    w[2] = ck(claimed.checked_add(amount))?;
    s.store(ctx, w)?;
    ctx.add_g_flat(G_RESERVED, amount, true)?;
    ctx.add_g(treasury::G_SPENT, amount, false)?;
    ctx.pay_own(to, amount)?;
    ctx.emit(IGovernance::StreamClaimed { proposalId: id, to, amount }.encode_log_data())?;
    ctx.emit(IGovernance::TreasurySpent { proposalId: id, to, amount }.encode_log_data())?;
    ret::<IGovernance::claimStreamCall>(&amount)
}

pub(crate) fn get_stream<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Bytes> {
    let (_, to, start, total, claimed, end) = stream(ctx, id)?;
    ret::<IGovernance::getStreamCall>(&IGovernance::Stream {
        proposalId: id,
        to,
        total,
        claimed,
        startBlock: start,
        endBlock: end,
    })
}

// ---- OpenZeppelin IGovernor's views (`oz.rs`) ----

/// What OpenZeppelin's views read of a proposal: proposer, vote start and end, E, and the
/// tallies as `proposalVotes` orders them (against, for, abstain).
pub(super) struct Summary {
    pub(super) proposer: Address,
    pub(super) vote_start: u64,
    pub(super) vote_end: u64,
    pub(super) enact_at: u64,
    pub(super) votes: [U256; 3],
    pub(super) state: IGovernance::ProposalState,
}

pub(super) fn summary<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Summary> {
    use IGovernance::ProposalState as S;
    let (_, r) = load_known(ctx, id)?;
    let state = match r.status {
        status::QUEUED => S::Queued,
        status::ENACTED => S::Executed,
        status::REJECTED => S::Defeated,
        status::ENACTMENT_FAILED => S::Expired,
        _ => S::Active,
    };
    Ok(Summary {
        proposer: r.proposer,
        vote_start: r.vote_start,
        vote_end: r.vote_end,
        enact_at: r.enact_at,
        votes: r.tally,
        state,
    })
}

/// Whether `who` has a vote on proposal `id`.
pub(super) fn has_voted<H: Host>(ctx: &mut Ctx<'_, H>, id: U256, who: Address) -> Res<bool> {
    load_known(ctx, id)?;
    let key = ctx.hash(&(id, who).abi_encode())?;
    Ok(!ctx.get(slot(T_VOTE, key, 0))?.is_zero())
}

/// The weight a vote of `who` would have now.
pub(super) fn votes_of<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<U256> {
    Ok(voter(ctx, who)?.1[0])
}

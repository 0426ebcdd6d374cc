//! Validator staking (precompile `0x…0D03`): candidates, delegations by shares, unbonding,
//! block rewards out of a pre-allocated pool, epoch elections, jailing and slashing.
//!
//! Every delegation to a validator (its self-stake included) holds *shares* of the validator's
//! bonded stake: a slash lowers the stake and so every delegation pro rata. Rewards use a
//! per-share accumulator (scaled by 1e18, rounded down, so payouts never exceed what was
//! credited). The node calls `onBlock(proposer, missed)` from the system address at the end of
//! every block: the proposer is paid, validators that missed their slot are counted (and jailed
//! past the epoch's limit), and at each multiple of `epochBlocks` the next active set is
//! elected. The active set stored here, with each member's stake at election, is what the
//! consensus engine reads to schedule proposers and weigh finality votes.
//!
//! Security rules (review 2026-12-01): evidence must be two canonical headers whose signed
//! content differs (C1); unbonding stake stays slashable ([`unbonding`], H8) and the offender
//! is never paid the reporter's share; commission increases are capped and delayed, and
//! candidates below the minimum self-stake can be removed (M3).

use crate::{
    SYSTEM_ADDRESS,
    abi::{IStaking, IStaking::IStakingCalls},
    host::Host,
    market::{Call, Outcome},
    store::*,
    treasury,
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use dbc_chainspec::{DbcParams, STAKING_ADDRESS, StakingParams};

mod candidates;
mod slashing;
mod unbonding;
use candidates::{candidates, change_commission, register, remove_candidate};
use slashing::{double_sign, jail, slash};
pub use unbonding::MAX_ENTRIES as MAX_UNBONDING_ENTRIES;

const SCALE: u128 = 1_000_000_000_000_000_000;
/// Gas per signature recovery (like the `ecrecover` precompile).
const ECRECOVER_GAS: u64 = 3_000;

const G_INIT: u64 = 0;
pub(crate) const G_CANDIDATES: u64 = 1;
const G_ACTIVE_LEN: u64 = 2;
const G_POOL_PAID: u64 = 3;
const G_TOTAL_BONDED: u64 = 4;
/// DBC burned by slashing.
const G_BURNED: u64 = 5;

const T_VAL: u64 = 40;
const T_DEL: u64 = 41;
// 42 held per-delegator unbonding before unbonding became slashable (`unbonding`: 46-48).
const T_CAND: u64 = 43;
const T_ACTIVE: u64 = 44;
const T_EVIDENCE: u64 = 45;
/// Index + 1 of a candidate in the `T_CAND` list.
const T_CAND_IDX: u64 = 49;

/// Slash reasons in `Slashed` events.
pub mod reason {
    /// Two headers sealed for the same slot.
    pub const DOUBLE_SIGN: u8 = 1;
    /// Too many missed slots in an epoch.
    pub const DOWNTIME: u8 = 2;
}

fn ck2<T>(v: Option<T>) -> Res<T> {
    v.ok_or_else(|| revert(IStaking::ArithmeticOverflow {}))
}

fn mul_div(a: U256, b: U256, d: U256) -> Res<U256> {
    if d.is_zero() {
        return Err(revert(IStaking::ArithmeticOverflow {}));
    }
    Ok(ck2(a.checked_mul(b))? / d)
}

fn bps(a: U256, bps: u16) -> Res<U256> {
    mul_div(a, U256::from(bps), U256::from(10_000u64))
}

/// A validator record (5 slots).
struct Val {
    slots: Slots<5>,
    /// Commission in force (a due pending change is applied on load).
    commission: u16,
    /// Scheduled commission (≤ 10,000, 14 bits) and the block it applies from (0: none).
    pending_commission: u16,
    pending_at: u64,
    jailed_until: u64,
    missed: u32,
    missed_epoch: u64,
    registered: bool,
    active: bool,
    total_stake: U256,
    total_shares: U256,
    acc: U256,
    commission_owed: U256,
}

impl Val {
    fn load<H: Host>(ctx: &mut Ctx<'_, H>, a: Address) -> Res<Self> {
        let (slots, w) = Slots::<5>::load(ctx, T_VAL, addr_key(a))?;
        let mut v = Self {
            slots,
            commission: bits(w[0], 0, 16) as u16,
            pending_commission: bits(w[0], 178, 14) as u16,
            pending_at: bits(w[0], 192, 64),
            jailed_until: bits(w[0], 16, 64),
            missed: bits(w[0], 80, 32) as u32,
            missed_epoch: bits(w[0], 112, 64),
            registered: bits(w[0], 176, 1) == 1,
            active: bits(w[0], 177, 1) == 1,
            total_stake: w[1],
            total_shares: w[2],
            acc: w[3],
            commission_owed: w[4],
        };
        if v.pending_at != 0 && ctx.now >= v.pending_at {
            v.commission = v.pending_commission;
            v.clear_pending();
        }
        Ok(v)
    }

    fn clear_pending(&mut self) {
        self.pending_commission = 0;
        self.pending_at = 0;
    }

    fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w0 = U256::ZERO;
        put(&mut w0, 0, 16, u64::from(self.commission));
        put(&mut w0, 16, 64, self.jailed_until);
        put(&mut w0, 80, 32, u64::from(self.missed));
        put(&mut w0, 112, 64, self.missed_epoch);
        put(&mut w0, 176, 1, u64::from(self.registered));
        put(&mut w0, 177, 1, u64::from(self.active));
        put(&mut w0, 178, 14, u64::from(self.pending_commission));
        put(&mut w0, 192, 64, self.pending_at);
        let w = [w0, self.total_stake, self.total_shares, self.acc, self.commission_owed];
        self.slots.store(ctx, w)
    }

    fn value_of(&self, shares: U256) -> Res<U256> {
        if self.total_shares.is_zero() {
            return Ok(U256::ZERO);
        }
        mul_div(shares, self.total_stake, self.total_shares)
    }
}

/// A delegation record (3 slots): shares, reward debt, settled pending reward.
struct Del {
    slots: Slots<3>,
    shares: U256,
    debt: U256,
    pending: U256,
}

fn del_key(validator: Address, delegator: Address) -> B256 {
    keccak256([validator.as_slice(), delegator.as_slice()].concat())
}

impl Del {
    fn load<H: Host>(ctx: &mut Ctx<'_, H>, v: Address, d: Address) -> Res<Self> {
        let (slots, w) = Slots::<3>::load(ctx, T_DEL, del_key(v, d))?;
        Ok(Self { slots, shares: w[0], debt: w[1], pending: w[2] })
    }

    fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        self.slots.store(ctx, [self.shares, self.debt, self.pending])
    }

    /// Moves rewards accrued since the last change into `pending`.
    fn settle(&mut self, acc: U256) -> Res<()> {
        let earned = mul_div(self.shares, acc, U256::from(SCALE))?;
        self.pending = ck2(self.pending.checked_add(earned.saturating_sub(self.debt)))?;
        self.debt = earned;
        Ok(())
    }

    fn reset_debt(&mut self, acc: U256) -> Res<()> {
        self.debt = mul_div(self.shares, acc, U256::from(SCALE))?;
        Ok(())
    }

    fn pending_now(&self, acc: U256) -> Res<U256> {
        let earned = mul_div(self.shares, acc, U256::from(SCALE))?;
        ck2(self.pending.checked_add(earned.saturating_sub(self.debt)))
    }
}

/// Runs one call of the staking precompile.
pub fn execute<H: Host>(host: &mut H, params: &DbcParams, call: Call<'_>) -> Outcome {
    let metered = call.caller != SYSTEM_ADDRESS;
    let mut ctx = Ctx::new(host, STAKING_ADDRESS, &params.market, call.gas, metered);
    ctx.supply = Some(crate::supply::SupplyRules::of(params));
    let result = dispatch(&mut ctx, &params.staking, &call);
    Outcome::of(result, ctx.gas_used.min(call.gas))
}

/// Calldata of the end-of-block call.
pub fn hook_calldata(proposer: Address, missed: Vec<Address>) -> Bytes {
    IStaking::onBlockCall { proposer, missed }.abi_encode().into()
}

fn is_view(c: &IStakingCalls) -> bool {
    use IStakingCalls as C;
    matches!(
        c,
        C::getValidator(_)
            | C::getDelegation(_)
            | C::getUnbonding(_)
            | C::getUnbondings(_)
            | C::pendingCommission(_)
            | C::candidates(_)
            | C::activeValidators(_)
            | C::epochBlocks(_)
            | C::rewardPoolRemaining(_)
            | C::totalBurned(_)
    )
}

fn dispatch<H: Host>(ctx: &mut Ctx<'_, H>, sp: &StakingParams, call: &Call<'_>) -> Res<Bytes> {
    use IStakingCalls as C;
    ctx.charge(gas::BASE)?;
    if !call.direct {
        return Err(revert(IStaking::DelegateCallNotAllowed {}));
    }
    let decoded = match C::abi_decode(call.data) {
        Ok(c) => c,
        Err(_) => {
            return Err(revert(IStaking::UnknownSelector { selector: selector_of(call.data) }));
        }
    };
    if call.is_static && !is_view(&decoded) {
        return Err(revert(IStaking::StaticCallWrite {}));
    }
    let payable = matches!(decoded, C::registerValidator(_) | C::delegate(_));
    if !payable && !call.value.is_zero() {
        return Err(revert(IStaking::NotPayable {}));
    }
    let who = call.caller;
    match decoded {
        C::registerValidator(c) => {
            register(ctx, sp, who, call.value, c.commissionBps)?;
            ret::<IStaking::registerValidatorCall>(&IStaking::registerValidatorReturn {})
        }
        C::setCommission(c) => {
            let mut v = registered(ctx, who)?;
            change_commission(ctx, sp, &mut v, who, c.commissionBps)?;
            v.store(ctx)?;
            ret::<IStaking::setCommissionCall>(&IStaking::setCommissionReturn {})
        }
        C::removeCandidate(c) => {
            remove_candidate(ctx, sp, c.validator)?;
            ret::<IStaking::removeCandidateCall>(&IStaking::removeCandidateReturn {})
        }
        C::delegate(c) => {
            if call.value < sp.min_delegation {
                return Err(revert(IStaking::StakeTooLow { minimum: sp.min_delegation }));
            }
            let mut v = registered(ctx, c.validator)?;
            bond(ctx, &mut v, c.validator, who, call.value)?;
            ret::<IStaking::delegateCall>(&IStaking::delegateReturn {})
        }
        C::undelegate(c) => {
            undelegate(ctx, sp, c.validator, who, c.amount)?;
            ret::<IStaking::undelegateCall>(&IStaking::undelegateReturn {})
        }
        C::withdraw(_) => {
            let amount = unbonding::withdraw(ctx, who)?;
            ctx.pay_own(who, amount)?;
            ctx.emit(IStaking::Withdrawn { delegator: who, amount }.encode_log_data())?;
            ret::<IStaking::withdrawCall>(&amount)
        }
        C::claimRewards(c) => {
            // A removed candidate's delegators keep their rewards.
            let mut v = Val::load(ctx, c.validator)?;
            let mut d = Del::load(ctx, c.validator, who)?;
            if !v.registered && d.shares.is_zero() && d.pending.is_zero() && who != c.validator {
                return Err(revert(IStaking::NotRegistered { validator: c.validator }));
            }
            d.settle(v.acc)?;
            let mut amount = std::mem::take(&mut d.pending);
            d.store(ctx)?;
            if who == c.validator {
                amount = ck2(amount.checked_add(std::mem::take(&mut v.commission_owed)))?;
                v.store(ctx)?;
            }
            ctx.pay_own(who, amount)?;
            ctx.emit(
                IStaking::RewardsClaimed { validator: c.validator, delegator: who, amount }
                    .encode_log_data(),
            )?;
            ret::<IStaking::claimRewardsCall>(&amount)
        }
        C::unjail(_) => {
            let mut v = registered(ctx, who)?;
            if v.jailed_until == 0 {
                return Err(revert(IStaking::NotJailed {}));
            }
            if ctx.now < v.jailed_until {
                return Err(revert(IStaking::StillJailed { untilBlock: v.jailed_until }));
            }
            v.jailed_until = 0;
            v.missed = 0;
            v.store(ctx)?;
            ctx.emit(IStaking::Unjailed { validator: who }.encode_log_data())?;
            ret::<IStaking::unjailCall>(&IStaking::unjailReturn {})
        }
        C::submitDoubleSign(c) => {
            double_sign(ctx, sp, who, &c.headerA, &c.headerB)?;
            ret::<IStaking::submitDoubleSignCall>(&IStaking::submitDoubleSignReturn {})
        }
        C::onBlock(c) => {
            if who != SYSTEM_ADDRESS {
                return Err(revert(IStaking::OnlySystem {}));
            }
            on_block(ctx, sp, c.proposer, &c.missed)?;
            ret::<IStaking::onBlockCall>(&IStaking::onBlockReturn {})
        }
        C::getValidator(c) => {
            let v = Val::load(ctx, c.validator)?;
            let own = Del::load(ctx, c.validator, c.validator)?;
            let epoch = ctx.now / sp.epoch_blocks.max(1);
            let info = IStaking::Validator {
                validator: c.validator,
                selfStake: v.value_of(own.shares)?,
                totalStake: v.total_stake,
                totalShares: v.total_shares,
                commissionBps: v.commission,
                jailedUntil: v.jailed_until,
                missedThisEpoch: if v.missed_epoch == epoch { v.missed } else { 0 },
                active: v.active,
                commissionOwed: v.commission_owed,
            };
            ret::<IStaking::getValidatorCall>(&info)
        }
        C::getDelegation(c) => {
            let v = Val::load(ctx, c.validator)?;
            let d = Del::load(ctx, c.validator, c.delegator)?;
            let out = IStaking::Delegation {
                amount: v.value_of(d.shares)?,
                shares: d.shares,
                pendingReward: d.pending_now(v.acc)?,
            };
            ret::<IStaking::getDelegationCall>(&out)
        }
        C::getUnbonding(c) => {
            let list = unbonding::list(ctx, c.delegator)?;
            let mut amount = U256::ZERO;
            for u in &list {
                amount = ck2(amount.checked_add(u.amount))?;
            }
            let release = list.iter().map(|u| u.releaseBlock).max().unwrap_or_default();
            ret::<IStaking::getUnbondingCall>(&IStaking::getUnbondingReturn {
                amount,
                releaseBlock: release,
            })
        }
        C::getUnbondings(c) => {
            ret::<IStaking::getUnbondingsCall>(&unbonding::list(ctx, c.delegator)?)
        }
        C::pendingCommission(c) => {
            let v = Val::load(ctx, c.validator)?;
            ret::<IStaking::pendingCommissionCall>(&IStaking::pendingCommissionReturn {
                commissionBps: v.pending_commission,
                effectiveBlock: v.pending_at,
            })
        }
        C::candidates(_) => {
            let list = candidates(ctx)?;
            ret::<IStaking::candidatesCall>(&list)
        }
        C::activeValidators(_) => {
            let list = active_set(ctx)?.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
            ret::<IStaking::activeValidatorsCall>(&list)
        }
        C::epochBlocks(_) => ret::<IStaking::epochBlocksCall>(&sp.epoch_blocks),
        C::rewardPoolRemaining(_) => {
            let paid = ctx.g(G_POOL_PAID)?;
            ret::<IStaking::rewardPoolRemainingCall>(&sp.reward_pool.saturating_sub(paid))
        }
        C::totalBurned(_) => ret::<IStaking::totalBurnedCall>(&ctx.g(G_BURNED)?),
    }
}

fn registered<H: Host>(ctx: &mut Ctx<'_, H>, a: Address) -> Res<Val> {
    let v = Val::load(ctx, a)?;
    if !v.registered {
        return Err(revert(IStaking::NotRegistered { validator: a }));
    }
    Ok(v)
}

/// The active set with each member's stake at election.
fn active_set<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<Vec<(Address, U256)>> {
    let n = ctx.g(G_ACTIVE_LEN)?.saturating_to::<u64>();
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let a = to_addr(ctx.get(slot(T_ACTIVE, num_key(i), 0))?);
        let s = ctx.get(slot(T_ACTIVE, num_key(i), 1))?;
        out.push((a, s));
    }
    Ok(out)
}

/// Adds `amount` to `delegator`'s delegation to `validator` (stores `v`).
fn bond<H: Host>(
    ctx: &mut Ctx<'_, H>,
    v: &mut Val,
    validator: Address,
    delegator: Address,
    amount: U256,
) -> Res<()> {
    let shares = if v.total_shares.is_zero() {
        amount
    } else {
        mul_div(amount, v.total_shares, v.total_stake)?
    };
    let mut d = Del::load(ctx, validator, delegator)?;
    d.settle(v.acc)?;
    d.shares = ck2(d.shares.checked_add(shares))?;
    d.reset_debt(v.acc)?;
    d.store(ctx)?;
    v.total_stake = ck2(v.total_stake.checked_add(amount))?;
    v.total_shares = ck2(v.total_shares.checked_add(shares))?;
    v.store(ctx)?;
    ctx.add_g(G_TOTAL_BONDED, amount, false)?;
    ctx.emit(IStaking::Delegated { validator, delegator, amount, shares }.encode_log_data())
}

fn undelegate<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    validator: Address,
    who: Address,
    amount: U256,
) -> Res<()> {
    // No `registered` check: a removed candidate's delegators must still be able to leave.
    let mut v = Val::load(ctx, validator)?;
    let mut d = Del::load(ctx, validator, who)?;
    let available = v.value_of(d.shares)?;
    if amount.is_zero() || amount > available {
        return Err(revert(IStaking::InsufficientDelegation { available }));
    }
    // Shares burned round up, so the remaining shares never claim more than the stake left.
    let shares = if amount == available {
        d.shares
    } else {
        let num = ck2(amount.checked_mul(v.total_shares))?;
        let q = num / v.total_stake;
        let s = if (q * v.total_stake) == num { q } else { q + U256::from(1) };
        s.min(d.shares)
    };
    d.settle(v.acc)?;
    d.shares -= shares;
    d.reset_debt(v.acc)?;
    d.store(ctx)?;
    v.total_stake = ck2(v.total_stake.checked_sub(amount))?;
    v.total_shares = ck2(v.total_shares.checked_sub(shares))?;
    v.store(ctx)?;
    ctx.add_g(G_TOTAL_BONDED, amount, true)?;
    // Stake of an active validator keeps counting in the set until the next election, and
    // stays slashable from there (H8).
    let start = unbonding::effective_start(ctx, sp, v.active)?;
    let release = unbonding::begin(ctx, sp, validator, who, amount, start)?;
    ctx.emit(
        IStaking::Undelegated { validator, delegator: who, amount, releaseBlock: release }
            .encode_log_data(),
    )
}

fn on_block<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    proposer: Address,
    missed: &[Address],
) -> Res<()> {
    if ctx.g(G_INIT)?.is_zero() {
        ctx.set_g(G_INIT, U256::from(1))?;
        for gv in &sp.validators {
            register(ctx, sp, gv.address, gv.stake, gv.commission_bps)?;
        }
        let set = genesis_set(sp);
        write_active(ctx, &set, 0)?;
    }
    // Block reward.
    let mut v = Val::load(ctx, proposer)?;
    if v.registered {
        let paid = ctx.g(G_POOL_PAID)?;
        let rate = sp.emission.rate(sp.emission.era_of(ctx.now), sp.reward_pool);
        let reward = rate.min(sp.reward_pool.saturating_sub(paid));
        if !reward.is_zero() {
            ctx.set_g(G_POOL_PAID, ck2(paid.checked_add(reward))?)?;
            let mut commission = bps(reward, v.commission)?;
            let rest = reward - commission;
            if v.total_shares.is_zero() {
                commission = reward;
            } else {
                let inc = mul_div(rest, U256::from(SCALE), v.total_shares)?;
                v.acc = ck2(v.acc.checked_add(inc))?;
            }
            v.commission_owed = ck2(v.commission_owed.checked_add(commission))?;
            v.store(ctx)?;
            ctx.emit(
                IStaking::BlockRewarded { validator: proposer, reward, commission }
                    .encode_log_data(),
            )?;
        }
    }
    // Missed slots.
    let epoch = ctx.now / sp.epoch_blocks;
    for &m in missed {
        let mut v = Val::load(ctx, m)?;
        if !v.registered {
            continue;
        }
        if v.missed_epoch != epoch {
            v.missed_epoch = epoch;
            v.missed = 0;
        }
        v.missed = v.missed.saturating_add(1);
        if v.missed >= sp.downtime_jail_missed && v.jailed_until == 0 {
            let now = ctx.now;
            slash(ctx, sp, &mut v, m, sp.downtime_slash_bps, now, None, reason::DOWNTIME)?;
            jail(ctx, sp, &mut v, m)?;
        }
        v.store(ctx)?;
    }
    if ctx.now.is_multiple_of(sp.epoch_blocks) {
        elect(ctx, sp, epoch)?;
    }
    Ok(())
}

/// The genesis validators in election order (stake descending, then address).
pub fn genesis_set(sp: &StakingParams) -> Vec<(Address, U256)> {
    let mut set: Vec<(Address, U256)> =
        sp.validators.iter().map(|v| (v.address, v.stake)).collect();
    order(&mut set);
    set.truncate(sp.max_validators as usize);
    set
}

fn order(set: &mut [(Address, U256)]) {
    set.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
}

fn write_active<H: Host>(ctx: &mut Ctx<'_, H>, set: &[(Address, U256)], epoch: u64) -> Res<()> {
    let old = active_set(ctx)?;
    for (a, _) in &old {
        let mut v = Val::load(ctx, *a)?;
        v.active = false;
        v.store(ctx)?;
    }
    for (i, (a, s)) in set.iter().enumerate() {
        ctx.set(slot(T_ACTIVE, num_key(i as u64), 0), from_addr(*a))?;
        ctx.set(slot(T_ACTIVE, num_key(i as u64), 1), *s)?;
        let mut v = Val::load(ctx, *a)?;
        v.active = true;
        v.store(ctx)?;
    }
    for i in set.len()..old.len() {
        ctx.set(slot(T_ACTIVE, num_key(i as u64), 0), U256::ZERO)?;
        ctx.set(slot(T_ACTIVE, num_key(i as u64), 1), U256::ZERO)?;
    }
    ctx.set_g(G_ACTIVE_LEN, U256::from(set.len()))?;
    ctx.emit(
        IStaking::ValidatorSetElected { epoch, validators: set.iter().map(|(a, _)| *a).collect() }
            .encode_log_data(),
    )
}

fn elect<H: Host>(ctx: &mut Ctx<'_, H>, sp: &StakingParams, epoch: u64) -> Res<()> {
    let mut set = Vec::new();
    for a in candidates(ctx)? {
        let v = Val::load(ctx, a)?;
        if v.jailed_until != 0 || v.total_stake.is_zero() {
            continue;
        }
        let own = Del::load(ctx, a, a)?;
        if v.value_of(own.shares)? < sp.min_self_stake {
            continue;
        }
        set.push((a, v.total_stake));
    }
    order(&mut set);
    set.truncate(sp.max_validators as usize);
    if set.is_empty() {
        // Never halt the chain: keep the current set.
        return Ok(());
    }
    write_active(ctx, &set, epoch + 1)
}

/// Reads the active set (address, stake at election) from a state reader, for the consensus
/// engine. `read(slot)` returns a storage slot of the staking account.
pub fn read_active_set<E>(
    mut read: impl FnMut(U256) -> Result<U256, E>,
) -> Result<Vec<(Address, U256)>, E> {
    let n = read(U256::from(G_ACTIVE_LEN))?.saturating_to::<u64>();
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let a = to_addr(read(slot(T_ACTIVE, num_key(i), 0))?);
        out.push((a, read(slot(T_ACTIVE, num_key(i), 1))?));
    }
    Ok(out)
}

//! The GPU market's rules: machines, verification, rentals, rewards, liveness and slashing.

use crate::{
    abi::IGpuMarket::{self, IGpuMarketCalls},
    host::Host,
    math,
    records::*,
    store::*,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface, SolValue};

use IGpuMarket::{MachineStatus as MS, OfflineReason as OR, RoundPhase as RP};

/// Converts a stored code to its ABI enum (codes are always valid; `fallback` is unreachable).
pub(crate) fn en<T: TryFrom<u8>>(v: u8, fallback: T) -> T {
    T::try_from(v).unwrap_or(fallback)
}

/// Fixed-point scale of the reward accumulator.
const ACC_SCALE: u128 = 1_000_000_000_000_000_000;
/// Queue items the block hook processes at most per block; the rest carry over.
pub const HOOK_MAX_ITEMS: u64 = 256;
/// Extensions a rental may have (each is a segment at its own price; security review M1).
pub(crate) const MAX_RENTAL_EXTENSIONS: u8 = 16;
/// Draw attempts before a draw is postponed.
const DRAW_TRIES: u64 = 32;

/// Kinds of scheduled work (the block hook's queue).
mod item {
    pub(super) const DRAW: u8 = 1;
    pub(super) const COMMIT_END: u8 = 2;
    pub(super) const REVEAL_END: u8 = 3;
    pub(super) const HEARTBEAT_CHECK: u8 = 4;
    pub(super) const RENTAL_END: u8 = 5;
    pub(super) const REPORT_DRAW: u8 = 6;
    pub(super) const REPORT_COMMIT_END: u8 = 7;
    pub(super) const REPORT_REVEAL_END: u8 = 8;
}

/// A call into the market.
#[derive(Debug)]
pub struct Call<'a> {
    /// Calldata.
    pub data: &'a [u8],
    /// Caller.
    pub caller: Address,
    /// Value sent (already credited to the market account).
    pub value: U256,
    /// STATICCALL context.
    pub is_static: bool,
    /// False for DELEGATECALL/CALLCODE.
    pub direct: bool,
    /// Gas available.
    pub gas: u64,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Success with return data.
    Success {
        /// Gas used.
        gas: u64,
        /// ABI-encoded return data.
        output: Bytes,
    },
    /// Reverted with a custom error.
    Revert {
        /// Gas used.
        gas: u64,
        /// ABI-encoded custom error.
        output: Bytes,
    },
    /// Out of gas: all gas is consumed.
    OutOfGas,
    /// Broken invariant or database failure.
    Fatal(String),
}

/// Selector of the block hook `onBlock(uint256 parentFeesBurned)`, callable only by the system
/// address at the start of each block.
pub const HOOK_SELECTOR: [u8; 4] = [0x4f, 0xca, 0x0b, 0xcd];

/// Calldata of the block hook.
pub fn hook_calldata(parent_fees_burned: U256) -> Bytes {
    let mut v = HOOK_SELECTOR.to_vec();
    v.extend_from_slice(&parent_fees_burned.to_be_bytes::<32>());
    v.into()
}

/// Executes a call against the market.
pub fn execute<H: Host>(
    host: &mut H,
    params: &dbc_chainspec::MarketParams,
    call: Call<'_>,
) -> Outcome {
    let metered = call.caller != crate::SYSTEM_ADDRESS;
    let mut ctx = Ctx::new(host, crate::MARKET_ADDRESS, params, call.gas, metered);
    let result = dispatch(&mut ctx, &call);
    let gas = ctx.gas_used;
    match result {
        Ok(output) => Outcome::Success { gas: gas.min(call.gas), output },
        Err(Fail::Revert(output)) => Outcome::Revert { gas: gas.min(call.gas), output },
        Err(Fail::OutOfGas) => Outcome::OutOfGas,
        Err(Fail::Fatal(e)) => Outcome::Fatal(e),
    }
}

fn is_view(c: &IGpuMarketCalls) -> bool {
    use IGpuMarketCalls as C;
    matches!(
        c,
        C::quote(_)
            | C::getMachine(_)
            | C::machineCount(_)
            | C::machineIdAt(_)
            | C::getRound(_)
            | C::getRental(_)
            | C::rentalCount(_)
            | C::getReport(_)
            | C::burnRateBps(_)
            | C::burnRateBpsFor(_)
            | C::networkStats(_)
            | C::rewardsOf(_)
            | C::pendingReward(_)
            | C::isAuditor(_)
            | C::auditorStake(_)
            | C::committeeSize(_)
    )
}

fn is_payable(c: &IGpuMarketCalls) -> bool {
    use IGpuMarketCalls as C;
    matches!(
        c,
        C::register(_)
            | C::addStake(_)
            | C::joinCommittee(_)
            | C::rent(_)
            | C::rentFor(_)
            | C::extendRental(_)
            | C::reportFault(_)
    )
}

fn ret<C: SolCall>(r: &C::Return) -> Res<Bytes> {
    Ok(C::abi_encode_returns(r).into())
}

fn dispatch<H: Host>(ctx: &mut Ctx<'_, H>, call: &Call<'_>) -> Res<Bytes> {
    use IGpuMarketCalls as C;
    ctx.charge(gas::BASE)?;
    if !call.direct {
        return Err(revert(IGpuMarket::DelegateCallNotAllowed {}));
    }
    if call.data.len() >= 4 && call.data[..4] == HOOK_SELECTOR {
        if call.caller != crate::SYSTEM_ADDRESS || call.is_static {
            return Err(revert(IGpuMarket::UnknownSelector { selector: HOOK_SELECTOR.into() }));
        }
        let fees = call.data.get(4..36).map(U256::from_be_slice).unwrap_or_default();
        on_block(ctx, fees)?;
        return Ok(Bytes::new());
    }
    let decoded = match C::abi_decode(call.data) {
        Ok(c) => c,
        Err(_) => {
            let mut sel = [0u8; 4];
            let n = call.data.len().min(4);
            sel[..n].copy_from_slice(&call.data[..n]);
            return Err(revert(IGpuMarket::UnknownSelector { selector: sel.into() }));
        }
    };
    if call.is_static && !is_view(&decoded) {
        return Err(revert(IGpuMarket::StaticCallWrite {}));
    }
    if !call.value.is_zero() && !is_payable(&decoded) {
        return Err(revert(IGpuMarket::NotPayable {}));
    }
    let who = call.caller;
    let value = call.value;
    match decoded {
        C::register(c) => register(ctx, who, value, c.machineId, c.spec).map(|_| Bytes::new()),
        C::addStake(c) => add_stake(ctx, who, value, c.machineId).map(|_| Bytes::new()),
        C::setPrice(c) => {
            set_price(ctx, who, c.machineId, c.pricePerGpuBlock).map(|_| Bytes::new())
        }
        C::heartbeat(c) => heartbeat(ctx, who, c.machineId).map(|_| Bytes::new()),
        C::goOffline(c) => go_offline(ctx, who, c.machineId).map(|_| Bytes::new()),
        C::exit(c) => exit(ctx, who, c.machineId).map(|_| Bytes::new()),
        C::joinCommittee(_) => join_committee(ctx, who, value).map(|_| Bytes::new()),
        C::leaveCommittee(_) => leave_committee(ctx, who).map(|_| Bytes::new()),
        C::commitVerification(c) => {
            commit(ctx, who, T_ROUND_MACHINE, c.machineId, c.commitment).map(|_| Bytes::new())
        }
        C::revealVerification(c) => {
            reveal_verification(ctx, who, c.machineId, c.spec, c.calcPoint, c.salt)
                .map(|_| Bytes::new())
        }
        C::commitReport(c) => {
            let id = ck(u64::try_from(c.reportId).ok())?;
            commit(ctx, who, T_ROUND_REPORT, num_key(id), c.commitment).map(|_| Bytes::new())
        }
        C::revealReport(c) => {
            reveal_report(ctx, who, c.reportId, c.faulty, c.salt).map(|_| Bytes::new())
        }
        C::quote(c) => {
            let m = machine(ctx, c.machineId)?;
            ret::<IGpuMarket::quoteCall>(&quote(ctx, &m, c.gpus, c.blocks)?)
        }
        C::rent(c) => {
            let id = rent(ctx, who, value, c.machineId, c.gpus, c.blocks, who)?;
            ret::<IGpuMarket::rentCall>(&U256::from(id))
        }
        C::rentFor(c) => {
            let beneficiary = if c.beneficiary.is_zero() { who } else { c.beneficiary };
            let id = rent(ctx, who, value, c.machineId, c.gpus, c.blocks, beneficiary)?;
            ret::<IGpuMarket::rentForCall>(&U256::from(id))
        }
        C::extendRental(c) => extend(ctx, who, value, c.rentalId, c.blocks).map(|_| Bytes::new()),
        C::endRental(c) => end_rental_early(ctx, who, c.rentalId).map(|_| Bytes::new()),
        C::reportFault(c) => {
            let id = report_fault(ctx, who, value, c.rentalId)?;
            ret::<IGpuMarket::reportFaultCall>(&U256::from(id))
        }
        C::claimRewards(_) => {
            let amount = claim(ctx, who)?;
            ret::<IGpuMarket::claimRewardsCall>(&amount)
        }
        C::getMachine(c) => {
            let m = machine(ctx, c.machineId)?;
            let info = machine_abi(ctx, &m)?;
            ret::<IGpuMarket::getMachineCall>(&info)
        }
        C::machineCount(_) => ret::<IGpuMarket::machineCountCall>(&ctx.g(G_MACHINES)?),
        C::machineIdAt(c) => {
            let count = ctx.g(G_MACHINES)?;
            if c.index >= count {
                return Err(revert(IGpuMarket::UnknownMachine { machineId: B256::ZERO }));
            }
            let id = ctx.get(slot(T_MACHINE_AT, B256::from(c.index), 0))?;
            ret::<IGpuMarket::machineIdAtCall>(&B256::from(id))
        }
        C::getRound(c) => {
            machine(ctx, c.machineId)?;
            let r = Round::load(ctx, T_ROUND_MACHINE, c.machineId)?;
            ret::<IGpuMarket::getRoundCall>(&r.abi())
        }
        C::getRental(c) => {
            let r = rental(ctx, c.rentalId)?;
            ret::<IGpuMarket::getRentalCall>(&r.abi())
        }
        C::rentalCount(_) => ret::<IGpuMarket::rentalCountCall>(&ctx.g(G_RENTALS)?),
        C::getReport(c) => {
            let id = ck(u64::try_from(c.reportId).ok())?;
            let Some(r) = Report::load(ctx, id)? else {
                return Err(revert(IGpuMarket::UnknownReport { reportId: c.reportId }));
            };
            let round = Round::load(ctx, T_ROUND_REPORT, num_key(id))?;
            let out = IGpuMarket::Report {
                id: c.reportId,
                rentalId: U256::from(r.rental),
                reporter: r.reporter,
                deposit: r.deposit,
                outcome: r.outcome,
                round: round.abi(),
            };
            ret::<IGpuMarket::getReportCall>(&out)
        }
        C::burnRateBps(_) => {
            let online = tier_gpus(ctx)?;
            ret::<IGpuMarket::burnRateBpsCall>(&math::burn_bps(&ctx.p.burn_tiers, online))
        }
        C::burnRateBpsFor(c) => {
            ret::<IGpuMarket::burnRateBpsForCall>(&math::burn_bps(&ctx.p.burn_tiers, c.onlineGpus))
        }
        C::networkStats(_) => {
            let s = network_stats(ctx)?;
            ret::<IGpuMarket::networkStatsCall>(&s)
        }
        C::rewardsOf(c) => {
            let r = rewards_of(ctx, c.account)?;
            ret::<IGpuMarket::rewardsOfCall>(&r)
        }
        C::pendingReward(c) => {
            let m = machine(ctx, c.machineId)?;
            let acc = current_acc(ctx)?;
            ret::<IGpuMarket::pendingRewardCall>(&pending(&m, acc)?)
        }
        C::isAuditor(c) => {
            let idx = ctx.get(slot(T_AUDITOR, addr_key(c.account), 1))?;
            ret::<IGpuMarket::isAuditorCall>(&!idx.is_zero())
        }
        C::auditorStake(c) => ret::<IGpuMarket::auditorStakeCall>(&ctx.get(slot(
            T_AUDITOR,
            addr_key(c.account),
            0,
        ))?),
        C::committeeSize(_) => ret::<IGpuMarket::committeeSizeCall>(&ctx.g(G_COMMITTEE)?),
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn machine<H: Host>(ctx: &mut Ctx<'_, H>, id: B256) -> Res<Machine> {
    Machine::load(ctx, id)?.ok_or_else(|| revert(IGpuMarket::UnknownMachine { machineId: id }))
}

fn owned<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256) -> Res<Machine> {
    let m = machine(ctx, id)?;
    if m.owner != who {
        return Err(revert(IGpuMarket::NotMachineOwner { machineId: id }));
    }
    Ok(m)
}

fn bad_status(m: &Machine) -> Fail {
    revert(IGpuMarket::BadMachineStatus { machineId: m.id, status: en(m.status, MS::None) })
}

fn rental<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Rental> {
    let n = u64::try_from(id).map_err(|_| revert(IGpuMarket::UnknownRental { rentalId: id }))?;
    Rental::load(ctx, n)?.ok_or_else(|| revert(IGpuMarket::UnknownRental { rentalId: id }))
}

fn emit<H: Host, E: SolEvent>(ctx: &mut Ctx<'_, H>, e: E) -> Res<()> {
    ctx.emit(e.encode_log_data())
}

/// The GPU count that selects the burn tier (`burnTierBasis`).
fn tier_gpus<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<u64> {
    let counter = match ctx.p.burn_tier_basis {
        dbc_chainspec::BurnBasis::Online => G_ONLINE_GPUS,
        dbc_chainspec::BurnBasis::Registered => G_TOTAL_GPUS,
    };
    Ok(ctx.g(counter)?.saturating_to())
}

/// The standard price per GPU-block for the machine's calc point.
fn standard_price<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<U256> {
    ck(math::mul_div(
        ctx.p.standard_price_per_gpu_block,
        U256::from(m.calc_point),
        U256::from(ctx.p.standard_calc_point),
    ))
}

/// The lowest price an owner may charge (security review H7): `minPriceBps` of the standard
/// price for the machine's calc point.
fn price_floor<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<U256> {
    ck(math::bps_of(standard_price(ctx, m)?, ctx.p.min_price_bps))
}

/// The price per GPU-block: the owner's price, never below the floor (a price set before
/// verification fixed the calc point is lifted to it), or the standard price.
fn price<H: Host>(ctx: &Ctx<'_, H>, m: &Machine) -> Res<U256> {
    if !m.custom_price.is_zero() {
        return Ok(m.custom_price.max(price_floor(ctx, m)?));
    }
    standard_price(ctx, m)
}

fn quote<H: Host>(ctx: &mut Ctx<'_, H>, m: &Machine, gpus: u32, blocks: u64) -> Res<U256> {
    let p = price(ctx, m)?;
    ck(p.checked_mul(U256::from(gpus)).and_then(|v| v.checked_mul(U256::from(blocks))))
}

/// Appends a work item for the block hook at block `at` (always in the future).
fn schedule<H: Host>(ctx: &mut Ctx<'_, H>, at: u64, kind: u8, id: u64) -> Res<()> {
    schedule_at(ctx, at, kind, id).map(|_| ())
}

fn queue_word(kind: u8, id: u64) -> U256 {
    (U256::from(kind) << 248) | U256::from(id)
}

/// [`schedule`], returning the item's position in block `at`'s list (from 1).
fn schedule_at<H: Host>(ctx: &mut Ctx<'_, H>, at: u64, kind: u8, id: u64) -> Res<u64> {
    let at = at.max(ctx.now.saturating_add(1));
    let key = num_key(at);
    let count: u64 = ctx.get(slot(T_QUEUE, key, 0))?.saturating_to();
    ctx.set(slot(T_QUEUE, key, count + 1), queue_word(kind, id))?;
    ctx.set(slot(T_QUEUE, key, 0), U256::from(count + 1))?;
    Ok(count + 1)
}

/// Removes rental `rental`'s `RENTAL_END` item at position `index` of block `at`'s list
/// (security review M5: a rental ended early or extended leaves no stale item behind, so the
/// queue holds at most one item per active rental). The last item of the list takes its place;
/// if that is another rental's end, that rental's position is updated. Only for `at` after the
/// current block, whose list the hook has not started.
fn unschedule_rental<H: Host>(ctx: &mut Ctx<'_, H>, at: u64, index: u32, rental: u64) -> Res<()> {
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
            if let Some(mut moved) = Rental::load(ctx, id)? {
                moved.queue_index = index as u32;
                moved.store(ctx)?;
            }
        }
    }
    ctx.set(slot(T_QUEUE, key, count), U256::ZERO)?;
    ctx.set(slot(T_QUEUE, key, 0), U256::from(count - 1))
}

fn machine_id_at<H: Host>(ctx: &mut Ctx<'_, H>, index: u64) -> Res<B256> {
    Ok(B256::from(ctx.get(slot(T_MACHINE_AT, num_key(index), 0))?))
}

// ---------------------------------------------------------------------------------------------
// rewards

/// The accumulator as of now (without writing).
fn current_acc<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    Ok(pool_update(ctx)?.0)
}

/// Computes (acc, distributed, newly released) as of now.
fn pool_update<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<(U256, U256, U256)> {
    let acc = ctx.g(G_ACC)?;
    let last: u64 = ctx.g(G_LAST_REWARD)?.saturating_to();
    let distributed = ctx.g(G_DISTRIBUTED)?;
    if ctx.now <= last {
        return Ok((acc, distributed, U256::ZERO));
    }
    let total_grade = ctx.g(G_TOTAL_GRADE)?;
    if total_grade.is_zero() {
        return Ok((acc, distributed, U256::ZERO));
    }
    let per_block = ctx.p.reward_per_epoch / U256::from(ctx.p.epoch_blocks);
    let due = ck(per_block.checked_mul(U256::from(ctx.now - last)))?;
    let left = ctx.p.reward_pool.saturating_sub(distributed);
    let released = due.min(left);
    let inc = ck(math::mul_div(released, U256::from(ACC_SCALE), total_grade))?;
    Ok((ck(acc.checked_add(inc))?, ck(distributed.checked_add(released))?, released))
}

/// Brings the accumulator up to now.
fn update_pool<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<U256> {
    let (acc, distributed, released) = pool_update(ctx)?;
    if !released.is_zero() {
        ctx.set_g(G_ACC, acc)?;
        ctx.set_g(G_DISTRIBUTED, distributed)?;
    }
    let last: u64 = ctx.g(G_LAST_REWARD)?.saturating_to();
    if ctx.now > last {
        ctx.set_g(G_LAST_REWARD, U256::from(ctx.now))?;
    }
    Ok(acc)
}

fn accrued(grade: U256, acc: U256) -> Res<U256> {
    ck(math::mul_div(grade, acc, U256::from(ACC_SCALE)))
}

fn pending(m: &Machine, acc: U256) -> Res<U256> {
    Ok(accrued(m.grade, acc)?.saturating_sub(m.debt))
}

/// Settles a machine's pending reward (call before changing its grade).
fn settle<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<()> {
    let acc = update_pool(ctx)?;
    let amount = pending(m, acc)?;
    m.debt = accrued(m.grade, acc)?;
    if amount.is_zero() {
        return Ok(());
    }
    m.earned = ck(m.earned.checked_add(amount))?;
    // Auditors who verified the machine share `auditorRewardBps` of it, paid at once.
    let verifiers: Vec<Address> = m.verifiers.iter().copied().filter(|a| !a.is_zero()).collect();
    let mut to_auditors = U256::ZERO;
    if !verifiers.is_empty() {
        let share = ck(math::bps_of(amount, ctx.p.auditor_reward_bps))?;
        let each = share / U256::from(verifiers.len());
        for a in &verifiers {
            let mut acct = Account::load(ctx, *a)?;
            acct.claimable = ck(acct.claimable.checked_add(each))?;
            acct.store(ctx)?;
        }
        to_auditors = each * U256::from(verifiers.len());
    }
    let owner_amount = amount - to_auditors;
    let (immediate, vesting) = ck(math::split_immediate(owner_amount, ctx.p.immediate_bps))?;
    let mut acct = Account::load(ctx, m.owner)?;
    acct.claimable = ck(acct.claimable.checked_add(immediate))?;
    let epoch = ctx.now / ctx.p.epoch_blocks;
    let start = ck((epoch + 1).checked_mul(ctx.p.epoch_blocks))?;
    acct.add_vesting(ctx, start, vesting)?;
    acct.store(ctx)?;
    emit(
        ctx,
        IGpuMarket::RewardSettled {
            machineId: m.id,
            owner: m.owner,
            immediate,
            vesting,
            toAuditors: to_auditors,
        },
    )
}

/// Recomputes a machine's grade after a change (call after [`settle`]).
fn regrade<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<()> {
    let new = if m.status == status::ONLINE {
        math::grade(m.calc_point, m.gpus, m.rented, ctx.p.rented_bonus_bps)
    } else {
        U256::ZERO
    };
    if new == m.grade {
        return Ok(());
    }
    // Projects the machine mines for follow its grade.
    crate::mining::on_grade_change(ctx, m.id, new)?;
    let total = ctx.g(G_TOTAL_GRADE)?;
    let total = ck(total.checked_sub(m.grade).and_then(|t| t.checked_add(new)))?;
    ctx.set_g(G_TOTAL_GRADE, total)?;
    let acc = ctx.g(G_ACC)?;
    m.grade = new;
    m.debt = accrued(new, acc)?;
    Ok(())
}

/// Machines registered by `owner`, in registration order.
pub(crate) fn owner_machines<H: Host>(ctx: &mut Ctx<'_, H>, owner: Address) -> Res<Vec<B256>> {
    let key = addr_key(owner);
    let n: u64 = ctx.get(slot(T_OWNER_MACHINES, key, 0))?.saturating_to();
    (0..n).map(|i| Ok(B256::from(ctx.get(slot(T_OWNER_MACHINES, key, i + 1))?))).collect()
}

fn rewards_of<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<IGpuMarket::Rewards> {
    let mut acct = Account::load(ctx, who)?;
    let vested = acct.refresh(ctx, ctx.p.vesting_blocks)?;
    let vested_unclaimed = vested.saturating_sub(acct.withdrawn_vested);
    let mut claimable = ck(acct.claimable.checked_add(vested_unclaimed))?;
    let mut vesting = acct.total_vesting.saturating_sub(vested);
    // Rewards accrued by the account's online machines but not yet settled, split as a
    // settlement now would split them.
    let acc = current_acc(ctx)?;
    for id in owner_machines(ctx, who)? {
        let m = machine(ctx, id)?;
        let amount = pending(&m, acc)?;
        if amount.is_zero() {
            continue;
        }
        let auditors = m.verifiers.iter().filter(|a| !a.is_zero()).count();
        let to_auditors = if auditors == 0 {
            U256::ZERO
        } else {
            ck(math::bps_of(amount, ctx.p.auditor_reward_bps))? / U256::from(auditors)
                * U256::from(auditors)
        };
        let (now, later) = ck(math::split_immediate(amount - to_auditors, ctx.p.immediate_bps))?;
        claimable = ck(claimable.checked_add(now))?;
        vesting = ck(vesting.checked_add(later))?;
    }
    Ok(IGpuMarket::Rewards { claimable, vesting, claimed: acct.claimed })
}

fn claim<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<U256> {
    // Settle what the caller's online machines accrued so far.
    for id in owner_machines(ctx, who)? {
        let mut m = machine(ctx, id)?;
        if !m.grade.is_zero() {
            settle(ctx, &mut m)?;
            m.store(ctx)?;
        }
    }
    let mut acct = Account::load(ctx, who)?;
    let vested = acct.refresh(ctx, ctx.p.vesting_blocks)?;
    let amount = ck(acct.claimable.checked_add(vested.saturating_sub(acct.withdrawn_vested)))?;
    if amount.is_zero() {
        return Err(revert(IGpuMarket::NothingToClaim {}));
    }
    acct.claimable = U256::ZERO;
    acct.withdrawn_vested = vested;
    acct.claimed = ck(acct.claimed.checked_add(amount))?;
    acct.store(ctx)?;
    ctx.pay(who, amount)?;
    emit(ctx, IGpuMarket::RewardsClaimed { account: who, amount })?;
    Ok(amount)
}

// ---------------------------------------------------------------------------------------------
// machines

fn register<H: Host>(
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
    {
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

fn add_stake<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, value: U256, id: B256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if matches!(m.status, status::REJECTED | status::EXITED) {
        return Err(bad_status(&m));
    }
    m.stake = ck(m.stake.checked_add(value))?;
    m.store(ctx)?;
    emit(ctx, IGpuMarket::StakeAdded { machineId: id, amount: value, stake: m.stake })
}

fn set_price<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256, p: U256) -> Res<()> {
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

fn heartbeat<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
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
            m.status = status::ONLINE;
            m.reason = reason::NONE;
            m.offline_since = 0;
            m.last_heartbeat = ctx.now;
            if m.check_at <= ctx.now {
                m.check_at = ctx.now + ctx.p.heartbeat_timeout_blocks;
                schedule(ctx, m.check_at, item::HEARTBEAT_CHECK, m.index)?;
            }
            ctx.add_g(G_ONLINE_GPUS, U256::from(m.gpus), false)?;
            regrade(ctx, &mut m)?;
            m.store(ctx)?;
            emit(ctx, IGpuMarket::MachineOnline { machineId: id, offlineBlocks: offline, slashed })
        }
        _ => Err(bad_status(&m)),
    }
}

/// Takes an online machine offline for `why` (settling its rewards).
fn take_offline<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, why: u8) -> Res<()> {
    settle(ctx, m)?;
    m.status = status::OFFLINE;
    m.reason = why;
    m.offline_since = ctx.now;
    ctx.add_g(G_ONLINE_GPUS, U256::from(m.gpus), true)?;
    regrade(ctx, m)?;
    m.store(ctx)?;
    emit(ctx, IGpuMarket::MachineOffline { machineId: m.id, reason: en(why, OR::None) })
}

fn go_offline<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if m.status != status::ONLINE {
        return Err(bad_status(&m));
    }
    let why = if m.rented > 0 { reason::OWNER_OFFLINE } else { reason::IDLE };
    take_offline(ctx, &mut m, why)
}

/// Applies the graduated slash of an offline period (none for idle machines); returns it.
fn apply_offline_slash<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine) -> Res<U256> {
    let blocks = ctx.now.saturating_sub(m.offline_since);
    let bps = match m.reason {
        reason::OWNER_OFFLINE => math::slash_bps(&ctx.p.owner_offline_slash, blocks),
        reason::UNREACHABLE => math::slash_bps(&ctx.p.unreachable_slash, blocks),
        _ => 0,
    };
    let amount = ck(math::bps_of(m.stake, bps))?;
    let renter = m.last_renter;
    slash(ctx, m, amount, renter)?;
    Ok(amount)
}

/// Takes `amount` of a machine's stake: `slashRenterBps` to the renter (the treasury when
/// there is none), `slashAuditorsBps` to its auditors, the rest to the treasury.
fn slash<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, amount: U256, renter: Address) -> Res<()> {
    let amount = amount.min(m.stake);
    if amount.is_zero() {
        return Ok(());
    }
    m.stake -= amount;
    let mut to_renter = U256::ZERO;
    if !renter.is_zero() {
        to_renter = ck(math::bps_of(amount, ctx.p.slash_renter_bps))?;
        ctx.pay(renter, to_renter)?;
    }
    let verifiers: Vec<Address> = m.verifiers.iter().copied().filter(|a| !a.is_zero()).collect();
    let mut to_auditors = U256::ZERO;
    if !verifiers.is_empty() {
        let share = ck(math::bps_of(amount, ctx.p.slash_auditors_bps))?;
        let each = share / U256::from(verifiers.len());
        for a in &verifiers {
            let mut acct = Account::load(ctx, *a)?;
            acct.claimable = ck(acct.claimable.checked_add(each))?;
            acct.store(ctx)?;
        }
        to_auditors = each * U256::from(verifiers.len());
    }
    let to_treasury = amount - to_renter - to_auditors;
    ctx.pay(ctx.p.treasury, to_treasury)?;
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

fn exit<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: B256) -> Res<()> {
    let mut m = owned(ctx, who, id)?;
    if !matches!(m.status, status::ONLINE | status::OFFLINE) {
        return Err(bad_status(&m));
    }
    if m.rented > 0 {
        return Err(revert(IGpuMarket::HasActiveRental { machineId: id }));
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

fn machine_abi<H: Host>(ctx: &mut Ctx<'_, H>, m: &Machine) -> Res<IGpuMarket::Machine> {
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
    })
}

fn network_stats<H: Host>(ctx: &mut Ctx<'_, H>) -> Res<IGpuMarket::NetworkStats> {
    let online: u64 = ctx.g(G_ONLINE_GPUS)?.saturating_to();
    let (_, distributed, _) = pool_update(ctx)?;
    Ok(IGpuMarket::NetworkStats {
        totalGpus: ctx.g(G_TOTAL_GPUS)?.saturating_to(),
        onlineGpus: online,
        rentedGpus: ctx.g(G_RENTED_GPUS)?.saturating_to(),
        machines: ctx.g(G_MACHINES)?.saturating_to(),
        burnRateBps: math::burn_bps(&ctx.p.burn_tiers, online),
        totalBurned: ctx.g(G_BURNED)?,
        rewardsDistributed: distributed,
        rewardPoolRemaining: ctx.p.reward_pool.saturating_sub(distributed),
        feesBurned: ctx.g(G_FEES_BURNED)?,
    })
}

// ---------------------------------------------------------------------------------------------
// committee and rounds

fn join_committee<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, value: U256) -> Res<()> {
    let key = addr_key(who);
    if !ctx.get(slot(T_AUDITOR, key, 1))?.is_zero() {
        return Err(revert(IGpuMarket::AlreadyAuditor {}));
    }
    if value < ctx.p.auditor_stake {
        return Err(revert(IGpuMarket::WrongStake { required: ctx.p.auditor_stake, sent: value }));
    }
    let n: u64 = ctx.g(G_COMMITTEE)?.saturating_to();
    ctx.set(slot(T_COMMITTEE, num_key(n), 0), from_addr(who))?;
    ctx.set_g(G_COMMITTEE, U256::from(n + 1))?;
    ctx.set(slot(T_AUDITOR, key, 0), value)?;
    ctx.set(slot(T_AUDITOR, key, 1), U256::from(n + 1))?;
    emit(ctx, IGpuMarket::AuditorJoined { auditor: who, stake: value })
}

fn leave_committee<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<()> {
    let key = addr_key(who);
    let pos: u64 = ctx.get(slot(T_AUDITOR, key, 1))?.saturating_to();
    if pos == 0 {
        return Err(revert(IGpuMarket::NotAuditor {}));
    }
    let busy: u32 = ctx.get(slot(T_AUDITOR, key, 2))?.saturating_to();
    if busy > 0 {
        return Err(revert(IGpuMarket::AuditorBusy { activeAssignments: busy }));
    }
    // Swap-remove from the committee list.
    let n: u64 = ctx.g(G_COMMITTEE)?.saturating_to();
    let last = ctx.get(slot(T_COMMITTEE, num_key(n - 1), 0))?;
    ctx.set(slot(T_COMMITTEE, num_key(pos - 1), 0), last)?;
    ctx.set(slot(T_AUDITOR, addr_key(to_addr(last)), 1), U256::from(pos))?;
    ctx.set(slot(T_COMMITTEE, num_key(n - 1), 0), U256::ZERO)?;
    ctx.set_g(G_COMMITTEE, U256::from(n - 1))?;
    let stake = ctx.get(slot(T_AUDITOR, key, 0))?;
    ctx.set(slot(T_AUDITOR, key, 0), U256::ZERO)?;
    ctx.set(slot(T_AUDITOR, key, 1), U256::ZERO)?;
    ctx.pay(who, stake)?;
    emit(ctx, IGpuMarket::AuditorLeft { auditor: who, stakeReturned: stake })
}

/// Opens a round: auditors are drawn `drawDelayBlocks` later.
fn start_round<H: Host>(
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
    r.store(ctx)?;
    schedule(ctx, r.draw_at, draw_kind, id)
}

/// Draws 3 distinct auditors with enough stake, none of them in `exclude`, from the block's
/// randomness. `None` if the committee cannot provide them.
fn draw<H: Host>(
    ctx: &mut Ctx<'_, H>,
    key: B256,
    exclude: &[Address],
) -> Res<Option<[Address; 3]>> {
    let n: u64 = ctx.g(G_COMMITTEE)?.saturating_to();
    if n < 3 {
        return Ok(None);
    }
    let seed = ctx.host.randomness();
    let mut picked: Vec<Address> = Vec::with_capacity(3);
    for i in 0..DRAW_TRIES.max(n * 3).min(256) {
        let h = ctx.hash(&[seed.as_slice(), key.as_slice(), &i.to_be_bytes()].concat())?;
        let idx = U256::from_be_bytes(h.0) % U256::from(n);
        let a = to_addr(ctx.get(slot(T_COMMITTEE, B256::from(idx), 0))?);
        if a.is_zero() || exclude.contains(&a) || picked.contains(&a) {
            continue;
        }
        if ctx.get(slot(T_AUDITOR, addr_key(a), 0))? < ctx.p.auditor_stake {
            continue;
        }
        picked.push(a);
        if picked.len() == 3 {
            return Ok(Some([picked[0], picked[1], picked[2]]));
        }
    }
    Ok(None)
}

fn assign<H: Host>(ctx: &mut Ctx<'_, H>, auditors: &[Address; 3], add: bool) -> Res<()> {
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

fn penalize<H: Host>(ctx: &mut Ctx<'_, H>, auditor: Address) -> Res<()> {
    let s = slot(T_AUDITOR, addr_key(auditor), 0);
    let stake = ctx.get(s)?;
    let amount = ck(math::bps_of(stake, ctx.p.auditor_penalty_bps))?;
    if amount.is_zero() {
        return Ok(());
    }
    ctx.set(s, stake - amount)?;
    ctx.pay(ctx.p.treasury, amount)?;
    emit(ctx, IGpuMarket::AuditorPenalized { auditor, amount })
}

fn commit<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, tag: u64, key: B256, c: B256) -> Res<()> {
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

fn reveal_verification<H: Host>(
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
    let matches = spec == m.spec() && calc_point > 0;
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

/// Decides a verification round from its reveals.
fn finish_verification<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, r: &mut Round) -> Res<()> {
    let revealed: Vec<usize> = (0..3).filter(|&i| r.revealed(i)).collect();
    // Approve: at least 2 say the spec matches with the same calc point.
    let mut majority: Option<(bool, u32, Vec<usize>)> = None;
    for &i in &revealed {
        if !r.verdict(i) {
            continue;
        }
        let same: Vec<usize> = revealed
            .iter()
            .copied()
            .filter(|&j| r.verdict(j) && r.calc_point(j) == r.calc_point(i))
            .collect();
        if same.len() >= 2 {
            majority = Some((true, r.calc_point(i), same));
            break;
        }
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
                ctx.pay(ctx.p.treasury, slashed)?;
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

// ---------------------------------------------------------------------------------------------
// rentals

fn check_duration<H: Host>(ctx: &Ctx<'_, H>, blocks: u64, total: u64) -> Res<()> {
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

fn rent<H: Host>(
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
    r.queue_index = schedule_at(ctx, r.end, item::RENTAL_END, rid)? as u32;
    r.store(ctx)?;
    m.rented += gpus;
    m.rent_end = m.rent_end.max(r.end);
    m.last_renter = beneficiary;
    regrade(ctx, &mut m)?;
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

fn active_rental_of<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: U256) -> Res<Rental> {
    let r = rental(ctx, id)?;
    if r.renter != who {
        return Err(revert(IGpuMarket::NotRenter { rentalId: id }));
    }
    if r.status != rental_status::ACTIVE || ctx.now >= r.end {
        return Err(revert(IGpuMarket::RentalNotActive { rentalId: id }));
    }
    Ok(r)
}

fn extend<H: Host>(
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
fn close_rental<H: Host>(ctx: &mut Ctx<'_, H>, r: &mut Rental) -> Res<()> {
    let mut m = machine(ctx, r.machine)?;
    let refund = unused_rent(ctx, r)?;
    unschedule_rental(ctx, r.end, r.queue_index, r.id)?;
    r.queue_index = 0;
    let used = r.paid - refund;
    let burned = ck(math::bps_of(used, r.burn_bps))?;
    let to_provider = used - burned;
    settle(ctx, &mut m)?;
    r.status = rental_status::ENDED;
    r.end = r.end.min(ctx.now);
    r.refunded = refund;
    r.burned = burned;
    r.store(ctx)?;
    m.rented = m.rented.saturating_sub(r.gpus);
    m.last_rental_end = ctx.now;
    regrade(ctx, &mut m)?;
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
        ctx.burn(burned)?;
        let total = ctx.add_g(G_BURNED, burned, false)?;
        emit(ctx, IGpuMarket::RentBurned { rentalId: id, amount: burned, totalBurned: total })?;
    }
    Ok(())
}

/// The rent of the blocks of `r` not yet used: per segment, its unused blocks at its price.
fn unused_rent<H: Host>(ctx: &mut Ctx<'_, H>, r: &Rental) -> Res<U256> {
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

fn end_rental_early<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, id: U256) -> Res<()> {
    let mut r = active_rental_of(ctx, who, id)?;
    close_rental(ctx, &mut r)
}

fn report_fault<H: Host>(
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

fn reveal_report<H: Host>(
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
fn finish_report<H: Host>(ctx: &mut Ctx<'_, H>, rep: &mut Report, r: &mut Round) -> Res<()> {
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
    ctx.set(slot(T_RENTAL_REPORT, num_key(rep.rental), 0), U256::ZERO)?;
    rep.outcome = if confirmed { 1 } else { 2 };
    if confirmed {
        // The deposit goes back; the rental ends with a pro-rata refund; the machine goes
        // offline as unreachable and is slashed by the unreachable tiers when it returns.
        ctx.pay(rep.reporter, rep.deposit)?;
        if let Some(mut rental) = Rental::load(ctx, rep.rental)?
            && rental.status == rental_status::ACTIVE
        {
            close_rental(ctx, &mut rental)?;
        }
        let mut m = machine(ctx, rep.machine)?;
        if m.status == status::ONLINE {
            m.last_renter = rep.reporter;
            take_offline(ctx, &mut m, reason::UNREACHABLE)?;
        }
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
        ctx.pay(ctx.p.treasury, to_treasury)?;
    }
    emit(
        ctx,
        IGpuMarket::ReportResolved { reportId: U256::from(rep.id), faultConfirmed: confirmed },
    )
}

// ---------------------------------------------------------------------------------------------
// block hook

/// Start-of-block work: fee accounting and the due queue (draws, deadlines, heartbeat checks,
/// rental expiries), at most [`HOOK_MAX_ITEMS`] items per block. Each item runs in its own
/// journal checkpoint in the EVM, so one failing item cannot stop the chain.
fn on_block<H: Host>(ctx: &mut Ctx<'_, H>, fees: U256) -> Res<()> {
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
    let mut next = U256::ZERO;
    put(&mut next, 0, 64, block);
    put(&mut next, 64, 64, index);
    ctx.set_g(G_CURSOR, next)
}

fn run_item<H: Host>(ctx: &mut Ctx<'_, H>, due: u64, kind: u8, id: u64) -> Res<()> {
    match kind {
        item::DRAW | item::COMMIT_END | item::REVEAL_END | item::HEARTBEAT_CHECK => {
            let mid = machine_id_at(ctx, id)?;
            let mut m = machine(ctx, mid)?;
            match kind {
                item::HEARTBEAT_CHECK => heartbeat_check(ctx, &mut m, due),
                _ => machine_round_item(ctx, &mut m, due, kind),
            }
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

fn heartbeat_check<H: Host>(ctx: &mut Ctx<'_, H>, m: &mut Machine, due: u64) -> Res<()> {
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
    let why = if m.rented > 0 { reason::UNREACHABLE } else { reason::IDLE };
    take_offline(ctx, m, why)
}

fn machine_round_item<H: Host>(
    ctx: &mut Ctx<'_, H>,
    m: &mut Machine,
    due: u64,
    kind: u8,
) -> Res<()> {
    let mut r = Round::load(ctx, T_ROUND_MACHINE, m.id)?;
    match kind {
        item::DRAW if r.phase == phase::DRAWING && r.draw_at == due => {
            match draw(ctx, m.id, &[m.owner])? {
                Some(auditors) => {
                    r.auditors = auditors;
                    r.phase = phase::COMMIT;
                    r.commit_deadline = ctx.now + ctx.p.commit_window_blocks;
                    assign(ctx, &auditors, true)?;
                    schedule(ctx, r.commit_deadline, item::COMMIT_END, m.index)?;
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
                None => {
                    r.draw_at = ctx.now + ctx.p.draw_delay_blocks;
                    schedule(ctx, r.draw_at, item::DRAW, m.index)?;
                }
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

fn report_round_item<H: Host>(
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
            match draw(ctx, key, &[owner, rep.reporter])? {
                Some(auditors) => {
                    r.auditors = auditors;
                    r.phase = phase::COMMIT;
                    r.commit_deadline = ctx.now + ctx.p.commit_window_blocks;
                    assign(ctx, &auditors, true)?;
                    schedule(ctx, r.commit_deadline, item::REPORT_COMMIT_END, rep.id)?;
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
                None => {
                    r.draw_at = ctx.now + ctx.p.draw_delay_blocks;
                    schedule(ctx, r.draw_at, item::REPORT_DRAW, rep.id)?;
                }
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

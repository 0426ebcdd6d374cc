//! The GPU market's rules: machines, verification, rentals, rewards, liveness and slashing.

use crate::{
    abi::IGpuMarket::{self, IGpuMarketCalls},
    host::Host,
    math,
    records::*,
    store::*,
    treasury,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolEvent, SolInterface, SolValue};

use IGpuMarket::{MachineStatus as MS, OfflineReason as OR, RoundPhase as RP};

mod committee;
mod hook;
mod liveness;
mod machines;
mod rentals;
mod reports;
mod rewards;

pub use self::hook::idle_hook_slots;
pub(crate) use self::rewards::owner_machines;
use self::{committee::*, hook::*, liveness::*, machines::*, rentals::*, reports::*, rewards::*};

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
/// Tries of one draw (each: two hashes and at most two reads, all charged).
const DRAW_TRIES: u64 = 256;
/// Rentals a failure found in a transaction ends there; with more, the block hook of the next
/// block ends them all (a reveal must fit a block whatever the machine's rental count).
const INLINE_RENTAL_ENDS: u64 = 16;
/// A member's draw weight is its stake up to this many minimum auditor stakes.
const AUDITOR_WEIGHT_CAP: u64 = 4;

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
    pub(super) const CHALLENGE_CHECK: u8 = 9;
    pub(super) const FAIL_MACHINE: u8 = 10;
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

/// Selector of the block hook `onBlock(uint256 feesBurned)`, callable only by the system
/// address, which the block builder calls at the end of each block, after its transactions.
pub const HOOK_SELECTOR: [u8; 4] = [0x4f, 0xca, 0x0b, 0xcd];

/// Calldata of the block hook: `fees_burned` is the base fee × gas used of the block it ends.
pub fn hook_calldata(fees_burned: U256) -> Bytes {
    let mut v = HOOK_SELECTOR.to_vec();
    v.extend_from_slice(&fees_burned.to_be_bytes::<32>());
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
    Outcome::of(result, ctx.gas_used.min(call.gas))
}

/// Runs one call of the market as the EVM does: with the chain's parameters, so that burns
/// respect the burn floor.
pub(crate) fn execute_chain<H: Host>(
    host: &mut H,
    params: &dbc_chainspec::DbcParams,
    call: Call<'_>,
) -> Outcome {
    let metered = call.caller != crate::SYSTEM_ADDRESS;
    let mut ctx = Ctx::new(host, crate::MARKET_ADDRESS, &params.market, call.gas, metered);
    ctx.supply = Some(crate::supply::SupplyRules::of(params));
    let result = dispatch(&mut ctx, &call);
    Outcome::of(result, ctx.gas_used.min(call.gas))
}

impl Outcome {
    /// How a precompile call that used `gas` (at most its limit) ended.
    pub(crate) fn of(result: Res<Bytes>, gas: u64) -> Self {
        match result {
            Ok(output) => Self::Success { gas, output },
            Err(Fail::Revert(output)) => Self::Revert { gas, output },
            Err(Fail::OutOfGas) => Self::OutOfGas,
            Err(Fail::Fatal(e)) => Self::Fatal(e),
        }
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
            | C::gpuModel(_)
            | C::heartbeatDigest(_)
            | C::endpointOf(_)
    )
}

fn is_payable(c: &IGpuMarketCalls) -> bool {
    use IGpuMarketCalls as C;
    matches!(
        c,
        C::register(_)
            | C::addStake(_)
            | C::joinCommittee(_)
            | C::addAuditorStake(_)
            | C::rent(_)
            | C::rentFor(_)
            | C::extendRental(_)
            | C::reportFault(_)
    )
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
            return Err(revert(IGpuMarket::UnknownSelector { selector: selector_of(call.data) }));
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
        C::setEndpoint(c) => set_endpoint(ctx, who, c.machineId, &c.endpoint).map(|_| Bytes::new()),
        C::endpointOf(c) => {
            machine(ctx, c.machineId)?;
            ret::<IGpuMarket::endpointOfCall>(&endpoint_of(ctx, c.machineId)?)
        }
        C::heartbeat(c) => {
            heartbeat(ctx, c.machineId, c.blockNumber, &c.signature).map(|_| Bytes::new())
        }
        C::goOffline(c) => go_offline(ctx, who, c.machineId).map(|_| Bytes::new()),
        C::exit(c) => exit(ctx, who, c.machineId).map(|_| Bytes::new()),
        C::joinCommittee(_) => join_committee(ctx, who, value).map(|_| Bytes::new()),
        C::addAuditorStake(_) => add_auditor_stake(ctx, who, value).map(|_| Bytes::new()),
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
                machineId: r.machine,
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
        C::gpuModel(c) => {
            let Some(row) = ctx.p.gpu_model(c.model) else {
                return Err(revert(IGpuMarket::UnknownGpuModel { model: c.model }));
            };
            ret::<IGpuMarket::gpuModelCall>(&IGpuMarket::gpuModelReturn {
                calcPoint: row.calc_point,
                memoryGb: row.memory_gb,
            })
        }
        C::heartbeatDigest(c) => {
            let hash = ctx.block_hash(c.blockNumber)?;
            let d = heartbeat_digest(ctx, c.machineId, c.blockNumber, hash)?;
            ret::<IGpuMarket::heartbeatDigestCall>(&d)
        }
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

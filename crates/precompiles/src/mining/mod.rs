//! Per-project token mining (precompile `0x…0D02`): projects, enrolments, exact accrual by
//! attested work × grade while online, release rules and settlement by the project's settler.
//!
//! Each project runs its own accumulator (tokens per unit of weight, scaled by 1e18) over the
//! weights of its enrolled machines; a machine's weight is its market grade (0 while offline)
//! times the work units its project's attestor last attested for it (`work.rs`; 0 until then:
//! a project pays for work served, not for enrolment). The market calls [`on_grade_change`]
//! whenever a grade changes, so accrual follows online blocks exactly. Per-position pending = weight × acc − debt (rounded
//! down), so the sum of everything settled never exceeds what was released, and releases never
//! exceed the budget.

use crate::{
    MARKET_ADDRESS, MINING_ADDRESS,
    abi::{IProjectMining, IProjectMining::IProjectMiningCalls},
    host::Host,
    market::{Call, Outcome},
    math,
    records::{Account, Machine, status},
    store::*,
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolEvent, SolInterface, SolValue};

const ACC_SCALE: u128 = 1_000_000_000_000_000_000;
/// Allowed GPU models per project at most.
pub const MAX_MODELS: usize = 8;
/// Largest `budget` and `tokensPerBlock` a project may declare (2^128 − 1 token units; security
/// review H5: with these bounds no accumulator product can overflow 256 bits).
pub const MAX_TOKEN_AMOUNT: u128 = u128::MAX;
/// Longest emission and vesting period, in blocks (as for the chain spec's durations).
pub const MAX_PROJECT_BLOCKS: u64 = 1_000_000_000_000;

const G_PROJECTS: u64 = 0;
const T_PROJECT: u64 = 20;
const T_MODELS: u64 = 21;
const T_POSITION: u64 = 22;
const T_MACHINE_PROJECTS: u64 = 23;
const T_PROJECT_MACHINES: u64 = 24;
const T_PROVIDER: u64 = 25;

mod work;

fn mrevert<E: alloy_sol_types::SolError>(e: E) -> Fail {
    revert(e)
}

fn ck2<T>(v: Option<T>) -> Res<T> {
    v.ok_or_else(|| mrevert(IProjectMining::ArithmeticOverflow {}))
}

/// A project's core record.
struct Project {
    slots: Slots<11>,
    id: u64,
    settler: Address,
    creator: Address,
    tokens_per_block: U256,
    budget: U256,
    start: u64,
    end: u64,
    last: u64,
    machines: u32,
    acc: U256,
    total_weight: U256,
    distributed: U256,
    settled: U256,
    min_mem: u32,
    min_cp: u32,
    immediate_bps: u16,
    vesting_blocks: u64,
    models: u8,
    /// Reports the work of the project's machines (`attestWork`).
    attestor: Address,
}

impl Project {
    fn load<H: Host>(ctx: &mut Ctx<'_, H>, id: u64) -> Res<Option<Self>> {
        let (slots, w) = Slots::<11>::load(ctx, T_PROJECT, num_key(id))?;
        if w[0].is_zero() {
            return Ok(None);
        }
        Ok(Some(Self {
            slots,
            id,
            settler: to_addr(w[0]),
            creator: to_addr(w[1]),
            tokens_per_block: w[2],
            budget: w[3],
            start: bits(w[4], 0, 64),
            end: bits(w[4], 64, 64),
            last: bits(w[4], 128, 64),
            machines: bits(w[4], 192, 32) as u32,
            acc: w[5],
            total_weight: w[6],
            distributed: w[7],
            settled: w[8],
            min_mem: bits(w[9], 0, 32) as u32,
            min_cp: bits(w[9], 32, 32) as u32,
            immediate_bps: bits(w[9], 64, 16) as u16,
            vesting_blocks: bits(w[9], 80, 64),
            models: bits(w[9], 144, 8) as u8,
            attestor: to_addr(w[10]),
        }))
    }

    fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w = [U256::ZERO; 11];
        w[0] = from_addr(self.settler);
        w[1] = from_addr(self.creator);
        w[2] = self.tokens_per_block;
        w[3] = self.budget;
        put(&mut w[4], 0, 64, self.start);
        put(&mut w[4], 64, 64, self.end);
        put(&mut w[4], 128, 64, self.last);
        put(&mut w[4], 192, 32, self.machines.into());
        w[5] = self.acc;
        w[6] = self.total_weight;
        w[7] = self.distributed;
        w[8] = self.settled;
        put(&mut w[9], 0, 32, self.min_mem.into());
        put(&mut w[9], 32, 32, self.min_cp.into());
        put(&mut w[9], 64, 16, self.immediate_bps.into());
        put(&mut w[9], 80, 64, self.vesting_blocks);
        put(&mut w[9], 144, 8, self.models.into());
        w[10] = from_addr(self.attestor);
        self.slots.store(ctx, w)
    }

    /// Releases the emission up to `now` (or the end) to the enrolled weight. Nothing changes
    /// when it fails.
    fn update_to(&mut self, now: u64) -> Res<()> {
        let to = now.min(self.end);
        if to <= self.last {
            return Ok(());
        }
        if !self.total_weight.is_zero() {
            let due = ck2(self.tokens_per_block.checked_mul(U256::from(to - self.last)))?;
            let released = due.min(self.budget.saturating_sub(self.distributed));
            let inc = ck2(math::mul_div(released, U256::from(ACC_SCALE), self.total_weight))?;
            let acc = ck2(self.acc.checked_add(inc))?;
            let distributed = ck2(self.distributed.checked_add(released))?;
            (self.acc, self.distributed) = (acc, distributed);
        }
        self.last = to;
        Ok(())
    }

    fn models<H: Host>(&self, ctx: &mut Ctx<'_, H>) -> Res<Vec<B256>> {
        (0..u64::from(self.models))
            .map(|i| Ok(B256::from(ctx.get(slot(T_MODELS, num_key(self.id), i))?)))
            .collect()
    }
}

/// A machine's position in a project.
struct Position {
    key: B256,
    weight: U256,
    debt: U256,
    provider: Address,
    /// 1 + index in the project's machine list; 0 when not enrolled.
    index: u64,
    /// Work units of the last attestation (the weight is the grade times these).
    units: u64,
    /// 1 + the epoch of the last attestation; 0 if never attested.
    attested: u64,
}

fn position_key(project: u64, machine: B256) -> B256 {
    keccak256((U256::from(project), machine).abi_encode())
}

impl Position {
    fn load<H: Host>(ctx: &mut Ctx<'_, H>, project: u64, machine: B256) -> Res<Self> {
        let key = position_key(project, machine);
        let weight = ctx.get(slot(T_POSITION, key, 0))?;
        let debt = ctx.get(slot(T_POSITION, key, 1))?;
        let w2 = ctx.get(slot(T_POSITION, key, 2))?;
        let w3 = ctx.get(slot(T_POSITION, key, 3))?;
        Ok(Self {
            key,
            weight,
            debt,
            provider: to_addr(w2 & ((U256::from(1) << 160) - U256::from(1))),
            index: bits(w2, 160, 64),
            units: bits(w3, 0, 64),
            attested: bits(w3, 64, 64),
        })
    }

    fn store<H: Host>(&self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w2 = from_addr(self.provider);
        put(&mut w2, 160, 64, self.index);
        let mut w3 = U256::ZERO;
        put(&mut w3, 0, 64, self.units);
        put(&mut w3, 64, 64, self.attested);
        for (i, v) in [self.weight, self.debt, w2, w3].into_iter().enumerate() {
            let s = slot(T_POSITION, self.key, i as u64);
            if ctx.get(s)? != v {
                ctx.set(s, v)?;
            }
        }
        Ok(())
    }
}

fn accrued(weight: U256, acc: U256) -> Res<U256> {
    ck2(math::mul_div(weight, acc, U256::from(ACC_SCALE)))
}

fn provider_key(project: u64, provider: Address) -> B256 {
    keccak256((U256::from(project), provider).abi_encode())
}

/// Settles a position's pending tokens into the provider's rewards (split by the project's
/// release rule). Call after [`Project::update_to`].
fn settle_position<H: Host>(
    ctx: &mut Ctx<'_, H>,
    p: &Project,
    pos: &mut Position,
    machine: B256,
) -> Res<()> {
    let total = accrued(pos.weight, p.acc)?;
    let amount = total.saturating_sub(pos.debt);
    pos.debt = total;
    if amount.is_zero() {
        return Ok(());
    }
    let (immediate, vesting) = if p.vesting_blocks == 0 {
        (amount, U256::ZERO)
    } else {
        ck2(math::split_immediate(amount, p.immediate_bps))?
    };
    let mut acct = Account::load_keyed(ctx, T_PROVIDER, provider_key(p.id, pos.provider))?;
    acct.claimable = ck2(acct.claimable.checked_add(immediate))?;
    let epoch = ctx.now / ctx.p.epoch_blocks;
    let start = ck2((epoch + 1).checked_mul(ctx.p.epoch_blocks))?;
    acct.add_vesting(ctx, start, vesting)?;
    acct.store(ctx)?;
    ctx.emit(
        IProjectMining::MiningRewardAccrued {
            projectId: U256::from(p.id),
            machineId: machine,
            provider: pos.provider,
            immediate,
            vesting,
        }
        .encode_log_data(),
    )
}

fn list_len<H: Host>(ctx: &mut Ctx<'_, H>, tag: u64, key: B256) -> Res<u64> {
    Ok(ctx.get(slot(tag, key, 0))?.saturating_to())
}

/// Projects a machine is enrolled in.
fn machine_projects<H: Host>(ctx: &mut Ctx<'_, H>, machine: B256) -> Res<Vec<u64>> {
    let n = list_len(ctx, T_MACHINE_PROJECTS, machine)?;
    (0..n).map(|i| Ok(ctx.get(slot(T_MACHINE_PROJECTS, machine, i + 1))?.saturating_to())).collect()
}

/// Called by the market whenever a machine's grade changes (online/offline, exit): settles the
/// machine's positions and moves its weight (the new grade × its attested units) in every
/// project it serves.
///
/// This is the narrow hook from the market into mining, and mining can never veto a market
/// transition (security review H5): each project is updated in its own journal checkpoint, and
/// a project whose update reverts is skipped (undone, with a `ProjectUpdateSkipped` event)
/// instead of reverting the market's call. Only running out of gas and host failures propagate.
/// The work is bounded by `maxProjectsPerMachine`.
pub(crate) fn on_grade_change<H: Host>(
    ctx: &mut Ctx<'_, H>,
    machine: B256,
    grade: U256,
) -> Res<()> {
    ctx.within(MINING_ADDRESS, |ctx| {
        for pid in machine_projects(ctx, machine)? {
            ctx.host.checkpoint();
            match move_weight(ctx, pid, machine, grade, None) {
                Ok(_) => ctx.host.commit(),
                Err(Fail::Revert(_)) => {
                    ctx.host.revert();
                    ctx.emit(
                        IProjectMining::ProjectUpdateSkipped {
                            projectId: U256::from(pid),
                            machineId: machine,
                        }
                        .encode_log_data(),
                    )?;
                }
                Err(e) => {
                    ctx.host.revert();
                    return Err(e);
                }
            }
        }
        Ok(())
    })
}

/// Settles `machine`'s position in project `pid` and gives it the weight `grade` × its units
/// (the newly attested `(units, epoch)`, if given). Returns the new weight.
fn move_weight<H: Host>(
    ctx: &mut Ctx<'_, H>,
    pid: u64,
    machine: B256,
    grade: U256,
    attest: Option<(u64, u64)>,
) -> Res<U256> {
    let Some(mut p) = Project::load(ctx, pid)? else { return Ok(U256::ZERO) };
    p.update_to(ctx.now)?;
    let mut pos = Position::load(ctx, pid, machine)?;
    if let Some((units, epoch)) = attest {
        pos.units = units;
        pos.attested = ck2(epoch.checked_add(1))?;
    }
    let weight = ck2(grade.checked_mul(U256::from(pos.units)))?;
    let total = ck2(p.total_weight.checked_sub(pos.weight).and_then(|t| t.checked_add(weight)))?;
    settle_position(ctx, &p, &mut pos, machine)?;
    p.total_weight = total;
    pos.weight = weight;
    pos.debt = accrued(weight, p.acc)?;
    pos.store(ctx)?;
    p.store(ctx)?;
    Ok(weight)
}

/// Executes a call against the mining precompile.
pub fn execute<H: Host>(
    host: &mut H,
    params: &dbc_chainspec::MarketParams,
    call: Call<'_>,
) -> Outcome {
    let mut ctx = Ctx::new(host, MINING_ADDRESS, params, call.gas, true);
    let result = dispatch(&mut ctx, &call);
    Outcome::of(result, ctx.gas_used.min(call.gas))
}

fn is_view(c: &IProjectMiningCalls) -> bool {
    use IProjectMiningCalls as C;
    matches!(
        c,
        C::projectCount(_)
            | C::getProject(_)
            | C::projectsOf(_)
            | C::enrolledMachineAt(_)
            | C::rewardsOf(_)
            | C::maxProjectsPerMachine(_)
            | C::workOf(_)
            | C::epochBlocks(_)
    )
}

fn project<H: Host>(ctx: &mut Ctx<'_, H>, id: U256) -> Res<Project> {
    let unknown = || mrevert(IProjectMining::UnknownProject { projectId: id });
    let n = u64::try_from(id).map_err(|_| unknown())?;
    Project::load(ctx, n)?.ok_or_else(unknown)
}

fn dispatch<H: Host>(ctx: &mut Ctx<'_, H>, call: &Call<'_>) -> Res<Bytes> {
    use IProjectMiningCalls as C;
    ctx.charge(gas::BASE)?;
    if !call.direct {
        return Err(mrevert(IProjectMining::DelegateCallNotAllowed {}));
    }
    let decoded = match C::abi_decode(call.data) {
        Ok(c) => c,
        Err(_) => {
            return Err(mrevert(IProjectMining::UnknownSelector {
                selector: selector_of(call.data),
            }));
        }
    };
    if call.is_static && !is_view(&decoded) {
        return Err(mrevert(IProjectMining::StaticCallWrite {}));
    }
    if !call.value.is_zero() {
        return Err(mrevert(IProjectMining::NotPayable {}));
    }
    let who = call.caller;
    match decoded {
        C::registerProject(c) => {
            let id = register(ctx, who, c)?;
            ret::<IProjectMining::registerProjectCall>(&U256::from(id))
        }
        C::enroll(c) => enroll(ctx, who, c.projectId, c.machineId).map(|_| Bytes::new()),
        C::leave(c) => leave(ctx, who, c.projectId, c.machineId).map(|_| Bytes::new()),
        C::settle(c) => {
            let amount = settle(ctx, who, c.projectId, c.provider)?;
            ret::<IProjectMining::settleCall>(&amount)
        }
        C::setAttestor(c) => {
            work::set_attestor(ctx, who, c.projectId, c.attestor).map(|_| Bytes::new())
        }
        C::attestWork(c) => work::attest(ctx, who, c).map(|_| Bytes::new()),
        C::workOf(c) => {
            let p = project(ctx, c.projectId)?;
            let pos = Position::load(ctx, p.id, c.machineId)?;
            ret::<IProjectMining::workOfCall>(&IProjectMining::workOfReturn {
                units: pos.units,
                epoch: pos.attested.saturating_sub(1),
                attested: pos.attested != 0,
                weight: pos.weight,
            })
        }
        C::epochBlocks(_) => ret::<IProjectMining::epochBlocksCall>(&ctx.p.epoch_blocks),
        C::projectCount(_) => ret::<IProjectMining::projectCountCall>(&ctx.g(G_PROJECTS)?),
        C::getProject(c) => {
            let mut p = project(ctx, c.projectId)?;
            p.update_to(ctx.now)?;
            let models = p.models(ctx)?;
            let out = IProjectMining::Project {
                id: c.projectId,
                settler: p.settler,
                creator: p.creator,
                tokensPerBlock: p.tokens_per_block,
                budget: p.budget,
                startBlock: p.start,
                endBlock: p.end,
                distributed: p.distributed,
                settled: p.settled,
                totalWeight: p.total_weight,
                machines: p.machines,
                requirements: IProjectMining::Requirements {
                    minGpuMemoryGb: p.min_mem,
                    minCalcPoint: p.min_cp,
                    gpuModels: models,
                },
                release: IProjectMining::Release {
                    immediateBps: p.immediate_bps,
                    vestingBlocks: p.vesting_blocks,
                },
                attestor: p.attestor,
            };
            ret::<IProjectMining::getProjectCall>(&out)
        }
        C::projectsOf(c) => {
            let ids: Vec<U256> =
                machine_projects(ctx, c.machineId)?.into_iter().map(U256::from).collect();
            ret::<IProjectMining::projectsOfCall>(&ids)
        }
        C::enrolledMachineAt(c) => {
            let p = project(ctx, c.projectId)?;
            let key = num_key(p.id);
            let n = list_len(ctx, T_PROJECT_MACHINES, key)?;
            let i = u64::try_from(c.index).ok().filter(|i| *i < n).ok_or_else(|| {
                mrevert(IProjectMining::NotEnrolled {
                    projectId: c.projectId,
                    machineId: B256::ZERO,
                })
            })?;
            let id = ctx.get(slot(T_PROJECT_MACHINES, key, i + 1))?;
            ret::<IProjectMining::enrolledMachineAtCall>(&B256::from(id))
        }
        C::rewardsOf(c) => {
            let r = rewards_of(ctx, c.projectId, c.provider)?;
            ret::<IProjectMining::rewardsOfCall>(&r)
        }
        C::maxProjectsPerMachine(_) => {
            ret::<IProjectMining::maxProjectsPerMachineCall>(&ctx.p.max_projects_per_machine)
        }
    }
}

fn invalid(reason: &str) -> Fail {
    mrevert(IProjectMining::InvalidProject { reason: reason.into() })
}

fn register<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    c: IProjectMining::registerProjectCall,
) -> Res<u64> {
    if c.tokensPerBlock.is_zero() {
        return Err(invalid("tokensPerBlock is zero"));
    }
    if c.budget.is_zero() {
        return Err(invalid("budget is zero"));
    }
    if c.endBlock <= ctx.now {
        return Err(invalid("endBlock is not in the future"));
    }
    // Security review H5: bounded amounts and periods, so that no project's arithmetic can
    // overflow (and so block a market transition through `on_grade_change`).
    let max_amount = U256::from(MAX_TOKEN_AMOUNT);
    if c.budget > max_amount {
        return Err(invalid("budget exceeds 2^128 - 1"));
    }
    if c.tokensPerBlock > c.budget {
        return Err(invalid("tokensPerBlock exceeds the budget"));
    }
    if c.endBlock - ctx.now > MAX_PROJECT_BLOCKS {
        return Err(invalid("emission period exceeds 10^12 blocks"));
    }
    if c.release.vestingBlocks > MAX_PROJECT_BLOCKS {
        return Err(invalid("vestingBlocks exceeds 10^12"));
    }
    if c.release.immediateBps > 10_000 {
        return Err(invalid("immediateBps exceeds 10000"));
    }
    if c.release.vestingBlocks == 0 && c.release.immediateBps != 10_000 {
        return Err(invalid("vestingBlocks is zero but not everything is immediate"));
    }
    let models = &c.requirements.gpuModels;
    if models.len() > MAX_MODELS || models.iter().any(|m| m.is_zero()) {
        return Err(invalid("at most 8 non-empty gpuModels"));
    }
    let id: u64 = ctx.g(G_PROJECTS)?.saturating_to::<u64>() + 1;
    ctx.set_g(G_PROJECTS, U256::from(id))?;
    let mut p = Project {
        slots: Slots { tag: T_PROJECT, key: num_key(id), orig: [U256::ZERO; 11] },
        id,
        settler: who,
        creator: ctx.host.origin(),
        tokens_per_block: c.tokensPerBlock,
        budget: c.budget,
        start: ctx.now,
        end: c.endBlock,
        last: ctx.now,
        machines: 0,
        acc: U256::ZERO,
        total_weight: U256::ZERO,
        distributed: U256::ZERO,
        settled: U256::ZERO,
        min_mem: c.requirements.minGpuMemoryGb,
        min_cp: c.requirements.minCalcPoint,
        immediate_bps: c.release.immediateBps,
        vesting_blocks: c.release.vestingBlocks,
        models: models.len() as u8,
        // The settler attests until it names another attestor.
        attestor: who,
    };
    p.store(ctx)?;
    for (i, m) in models.iter().enumerate() {
        ctx.set(slot(T_MODELS, num_key(id), i as u64), (*m).into())?;
    }
    ctx.emit(
        IProjectMining::ProjectRegistered {
            projectId: U256::from(id),
            settler: who,
            creator: p.creator,
            tokensPerBlock: c.tokensPerBlock,
            budget: c.budget,
            endBlock: c.endBlock,
        }
        .encode_log_data(),
    )?;
    Ok(id)
}

fn market_machine<H: Host>(ctx: &mut Ctx<'_, H>, id: B256) -> Res<Machine> {
    ctx.within(MARKET_ADDRESS, |c| Machine::load(c, id))?.ok_or_else(|| {
        mrevert(IProjectMining::MachineNotEligible {
            machineId: id,
            reason: "unknown machine".into(),
        })
    })
}

fn enroll<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, pid: U256, mid: B256) -> Res<()> {
    let mut p = project(ctx, pid)?;
    let m = market_machine(ctx, mid)?;
    if m.owner != who {
        return Err(mrevert(IProjectMining::NotMachineOwner { machineId: mid }));
    }
    let not = |reason: &str| {
        mrevert(IProjectMining::MachineNotEligible { machineId: mid, reason: reason.into() })
    };
    if m.status != status::ONLINE {
        return Err(not("not verified and online"));
    }
    if ctx.now >= p.end || p.distributed >= p.budget {
        return Err(invalid("emission has ended"));
    }
    if m.calc_point < p.min_cp {
        return Err(not("calc point below the minimum"));
    }
    if m.mem < p.min_mem {
        return Err(not("GPU memory below the minimum"));
    }
    let models = p.models(ctx)?;
    if !models.is_empty() && !models.contains(&m.model) {
        return Err(not("GPU model not accepted"));
    }
    let mut pos = Position::load(ctx, p.id, mid)?;
    if pos.index != 0 {
        return Err(mrevert(IProjectMining::AlreadyEnrolled { projectId: pid, machineId: mid }));
    }
    let projects = machine_projects(ctx, mid)?;
    let max = ctx.p.max_projects_per_machine;
    if projects.len() as u64 >= u64::from(max) {
        return Err(mrevert(IProjectMining::TooManyProjects { machineId: mid, max }));
    }
    p.update_to(ctx.now)?;
    // Machine → projects and project → machines lists.
    ctx.set(slot(T_MACHINE_PROJECTS, mid, projects.len() as u64 + 1), U256::from(p.id))?;
    ctx.set(slot(T_MACHINE_PROJECTS, mid, 0), U256::from(projects.len() as u64 + 1))?;
    let key = num_key(p.id);
    let n = list_len(ctx, T_PROJECT_MACHINES, key)?;
    ctx.set(slot(T_PROJECT_MACHINES, key, n + 1), mid.into())?;
    ctx.set(slot(T_PROJECT_MACHINES, key, 0), U256::from(n + 1))?;
    // No weight until the project's attestor reports work served (issue #16 item 5).
    pos.weight = U256::ZERO;
    pos.debt = U256::ZERO;
    pos.provider = who;
    pos.index = n + 1;
    pos.units = 0;
    pos.attested = 0;
    pos.store(ctx)?;
    p.machines += 1;
    p.store(ctx)?;
    ctx.emit(
        IProjectMining::MachineEnrolled {
            projectId: pid,
            machineId: mid,
            provider: who,
            weight: U256::ZERO,
        }
        .encode_log_data(),
    )
}

fn leave<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, pid: U256, mid: B256) -> Res<()> {
    let mut p = project(ctx, pid)?;
    let mut pos = Position::load(ctx, p.id, mid)?;
    if pos.index == 0 {
        return Err(mrevert(IProjectMining::NotEnrolled { projectId: pid, machineId: mid }));
    }
    if pos.provider != who {
        return Err(mrevert(IProjectMining::NotMachineOwner { machineId: mid }));
    }
    // A provider can always leave (security review H5): if the project's accounting cannot be
    // brought up to date, the position's unsettled tokens are forfeited instead.
    ctx.host.checkpoint();
    match p.update_to(ctx.now).and_then(|()| settle_position(ctx, &p, &mut pos, mid)) {
        Ok(()) => ctx.host.commit(),
        Err(Fail::Revert(_)) => ctx.host.revert(),
        Err(e) => {
            ctx.host.revert();
            return Err(e);
        }
    }
    p.total_weight = p.total_weight.saturating_sub(pos.weight);
    p.machines = p.machines.saturating_sub(1);
    // Swap-remove from the project's machine list.
    let key = num_key(p.id);
    let n = list_len(ctx, T_PROJECT_MACHINES, key)?;
    let last = ctx.get(slot(T_PROJECT_MACHINES, key, n))?;
    ctx.set(slot(T_PROJECT_MACHINES, key, pos.index), last)?;
    if pos.index != n {
        let mut moved = Position::load(ctx, p.id, B256::from(last))?;
        moved.index = pos.index;
        moved.store(ctx)?;
    }
    ctx.set(slot(T_PROJECT_MACHINES, key, n), U256::ZERO)?;
    ctx.set(slot(T_PROJECT_MACHINES, key, 0), U256::from(n - 1))?;
    // Remove from the machine's project list.
    let projects = machine_projects(ctx, mid)?;
    let kept: Vec<u64> = projects.iter().copied().filter(|x| *x != p.id).collect();
    for (i, x) in kept.iter().enumerate() {
        ctx.set(slot(T_MACHINE_PROJECTS, mid, i as u64 + 1), U256::from(*x))?;
    }
    ctx.set(slot(T_MACHINE_PROJECTS, mid, projects.len() as u64), U256::ZERO)?;
    ctx.set(slot(T_MACHINE_PROJECTS, mid, 0), U256::from(kept.len()))?;
    pos.weight = U256::ZERO;
    pos.debt = U256::ZERO;
    pos.index = 0;
    pos.units = 0;
    pos.attested = 0;
    pos.store(ctx)?;
    p.store(ctx)?;
    ctx.emit(
        IProjectMining::MachineLeft { projectId: pid, machineId: mid, provider: who }
            .encode_log_data(),
    )
}

/// The provider's machines (from the market's owner index).
fn provider_machines<H: Host>(ctx: &mut Ctx<'_, H>, provider: Address) -> Res<Vec<B256>> {
    ctx.within(MARKET_ADDRESS, |c| crate::market::owner_machines(c, provider))
}

fn settle<H: Host>(ctx: &mut Ctx<'_, H>, who: Address, pid: U256, provider: Address) -> Res<U256> {
    let mut p = project(ctx, pid)?;
    if p.settler != who {
        return Err(mrevert(IProjectMining::NotSettler { projectId: pid }));
    }
    p.update_to(ctx.now)?;
    for mid in provider_machines(ctx, provider)? {
        let mut pos = Position::load(ctx, p.id, mid)?;
        if pos.index != 0 && pos.provider == provider {
            settle_position(ctx, &p, &mut pos, mid)?;
            pos.store(ctx)?;
        }
    }
    let mut acct = Account::load_keyed(ctx, T_PROVIDER, provider_key(p.id, provider))?;
    let vested = acct.refresh(ctx, p.vesting_blocks.max(1))?;
    let amount = ck2(acct.take(vested))?;
    acct.store(ctx)?;
    p.settled = ck2(p.settled.checked_add(amount))?;
    p.store(ctx)?;
    ctx.emit(
        IProjectMining::MiningRewardSettled { projectId: pid, provider, amount }.encode_log_data(),
    )?;
    Ok(amount)
}

fn rewards_of<H: Host>(
    ctx: &mut Ctx<'_, H>,
    pid: U256,
    provider: Address,
) -> Res<IProjectMining::ProviderRewards> {
    let mut p = project(ctx, pid)?;
    p.update_to(ctx.now)?;
    let mut pending = U256::ZERO;
    for mid in provider_machines(ctx, provider)? {
        let pos = Position::load(ctx, p.id, mid)?;
        if pos.index != 0 && pos.provider == provider {
            pending =
                ck2(pending.checked_add(accrued(pos.weight, p.acc)?.saturating_sub(pos.debt)))?;
        }
    }
    let mut acct = Account::load_keyed(ctx, T_PROVIDER, provider_key(p.id, provider))?;
    let vested = acct.refresh(ctx, p.vesting_blocks.max(1))?;
    let (now, later) = if p.vesting_blocks == 0 {
        (pending, U256::ZERO)
    } else {
        ck2(math::split_immediate(pending, p.immediate_bps))?
    };
    let claimable = ck2(acct
        .claimable
        .checked_add(vested.saturating_sub(acct.withdrawn_vested))
        .and_then(|v| v.checked_add(now)))?;
    let vesting = ck2(acct.total_vesting.saturating_sub(vested).checked_add(later))?;
    Ok(IProjectMining::ProviderRewards { pending, claimable, vesting, claimed: acct.claimed })
}

//! Running parameters in state (`docs/governance-design.md` §6): the market, staking and
//! governance parameters in force live in the governance account `0x…0D04`, so an enacted
//! proposal changes them on every node at the same block without a new genesis.
//!
//! A record is `abi.encode` of the target's V1 struct (`IGovernance.MarketParamsV1`,
//! `StakingParamsV1`, `GovernanceParamsV1`), canonical (one record, one hash), stored once as a
//! blob `T_BLOB[keccak256(record)]` (`0` → length, `1..` → 32-byte chunks). Globals of
//! `0x…0D04`: `G_PARAMS_CHANGES` (19) counts enactments of all targets (zero: every target
//! runs its genesis parameters); `G_PARAMS_HASH + i` (20–22) is the hash of target `i`'s newest
//! record (zero: genesis) and `G_PARAMS_META + i` (23–25) packs its `version u32 @0 |
//! effectiveFrom u64 @32`; `G_PARAMS_PREV_HASH + i` (26–28) and `G_PARAMS_PREV_META + i`
//! (29–31) are the record before it. A record is enacted in the hook of block E − 1 and in force
//! from E, so a call at block n runs the newest record if `n ≥ effectiveFrom`, else the one
//! before (what `eth_call` on block E − 1's state sees, as the block itself did).
//!
//! Every call of the four precompiles loads the parameters in force with [`running`] for a
//! flat [`gas::PARAMS`](crate::gas::PARAMS): one slot decides whether anything changed; the
//! hash slots and blobs behind it are read uncharged (their content is fixed by that slot, so
//! reading them cannot change anyone's gas) and decoded records are cached by hash.

use std::sync::{Arc, Mutex};

use alloy_primitives::{B256, U256, keccak256};
use alloy_sol_types::SolValue;
use dbc_chainspec::{
    BurnBasis, BurnTier, CouncilParams, DbcParams, EmissionSchedule, GOVERNANCE_ADDRESS,
    GovernanceParams, GpuModel, MarketParams, ParamsTarget, SlashTier, StakingParams,
};

use crate::{
    abi::IGovernance as G,
    host::Host,
    store::{Ctx, Fail, Res, bits, ck, put, slot},
};

/// Enactments of parameter records so far, all targets.
pub(crate) const G_PARAMS_CHANGES: u64 = 19;
/// `+ index(target)`: hash of the record in force (zero: the genesis one).
pub(crate) const G_PARAMS_HASH: u64 = 20;
/// `+ index(target)`: `version u32 @0 | effectiveFrom u64 @32`.
pub(crate) const G_PARAMS_META: u64 = 23;
/// `+ index(target)`: the record before the newest (zero: genesis).
pub(crate) const G_PARAMS_PREV_HASH: u64 = 26;
/// `+ index(target)`: its meta.
pub(crate) const G_PARAMS_PREV_META: u64 = 29;
/// Parameter records by hash.
pub(crate) const T_BLOB: u64 = 80;
/// Longest record the loader reads (a market record with 256 GPU models is about 27 KiB).
pub(crate) const MAX_RECORD_BYTES: usize = 65_536;

/// The three targets, in storage order.
pub const TARGETS: [ParamsTarget; 3] =
    [ParamsTarget::Market, ParamsTarget::Staking, ParamsTarget::Governance];

/// Storage index of `t`.
pub(crate) fn index(t: ParamsTarget) -> u64 {
    match t {
        ParamsTarget::Market => 0,
        ParamsTarget::Staking => 1,
        ParamsTarget::Governance => 2,
    }
}

/// The ABI's target.
pub fn abi_target(t: ParamsTarget) -> G::Target {
    match t {
        ParamsTarget::Market => G::Target::Market,
        ParamsTarget::Staking => G::Target::Staking,
        ParamsTarget::Governance => G::Target::Governance,
    }
}

/// The target of the ABI's enum (`None` for a value the enum does not have).
pub(crate) fn target_of(t: G::Target) -> Option<ParamsTarget> {
    match t {
        G::Target::Market => Some(ParamsTarget::Market),
        G::Target::Staking => Some(ParamsTarget::Staking),
        G::Target::Governance => Some(ParamsTarget::Governance),
        _ => None,
    }
}

/// The target of a call's `Target` argument; `InvalidParams("unknown target")` for a value
/// the enum does not have.
pub(crate) fn target_arg(t: G::Target) -> Res<ParamsTarget> {
    target_of(t)
        .ok_or_else(|| crate::store::revert(G::InvalidParams { reason: "unknown target".into() }))
}

/// The name of a target in messages (`config.dbc.<name>`).
pub fn target_name(t: ParamsTarget) -> &'static str {
    match t {
        ParamsTarget::Market => "market",
        ParamsTarget::Staking => "staking",
        ParamsTarget::Governance => "governance",
    }
}

// ---- records ----

fn emission_v1(e: &EmissionSchedule) -> G::Emission {
    G::Emission {
        initialPerBlock: e.initial_per_block,
        eraBlocks: e.era_blocks,
        flatEras: e.flat_eras,
        decayBps: e.decay_bps,
        endEra: e.end_era,
    }
}

fn emission_of(e: &G::Emission) -> EmissionSchedule {
    EmissionSchedule {
        era_blocks: e.eraBlocks,
        initial_per_block: e.initialPerBlock,
        flat_eras: e.flatEras,
        decay_bps: e.decayBps,
        end_era: e.endEra,
    }
}

fn slash_v1(t: &[SlashTier]) -> Vec<G::SlashTierRow> {
    t.iter()
        .map(|t| G::SlashTierRow { underBlocks: t.under_blocks.unwrap_or(u64::MAX), bps: t.bps })
        .collect()
}

fn slash_of(t: &[G::SlashTierRow]) -> Vec<SlashTier> {
    t.iter()
        .map(|t| SlashTier {
            under_blocks: (t.underBlocks != u64::MAX).then_some(t.underBlocks),
            bps: t.bps,
        })
        .collect()
}

/// `m` as the ABI's record struct.
pub fn market_v1(m: &MarketParams) -> G::MarketParamsV1 {
    G::MarketParamsV1 {
        stake: G::MarketStakeV1 {
            stakePerGpu: m.stake_per_gpu,
            auditorStake: m.auditor_stake,
            auditorPenaltyBps: m.auditor_penalty_bps,
            auditorRewardBps: m.auditor_reward_bps,
            rejectSlashBps: m.reject_slash_bps,
            reportDeposit: m.report_deposit,
        },
        verification: G::MarketVerificationV1 {
            drawDelayBlocks: m.draw_delay_blocks,
            commitWindowBlocks: m.commit_window_blocks,
            revealWindowBlocks: m.reveal_window_blocks,
            standardCalcPoint: m.standard_calc_point,
            gpuModels: m
                .gpu_models
                .iter()
                .map(|g| G::GpuModelRow {
                    model: g.key(),
                    calcPoint: g.calc_point,
                    memoryGb: g.memory_gb,
                })
                .collect(),
            calcPointToleranceBps: m.calc_point_tolerance_bps,
            challengeCheckBlocks: m.challenge_check_blocks,
            challengeChanceBps: m.challenge_chance_bps,
        },
        rent: G::MarketRentV1 {
            standardPricePerGpuBlock: m.standard_price_per_gpu_block,
            minPriceBps: m.min_price_bps,
            rentUnitBlocks: m.rent_unit_blocks,
            maxRentBlocks: m.max_rent_blocks,
            burnTiers: m
                .burn_tiers
                .iter()
                .map(|t| G::BurnTierRow { fromGpus: t.from_gpus, bps: t.bps })
                .collect(),
            burnTierBasisRegistered: m.burn_tier_basis == BurnBasis::Registered,
        },
        rewards: G::MarketRewardsV1 {
            emission: emission_v1(&m.emission),
            epochBlocks: m.epoch_blocks,
            rewardPool: m.reward_pool,
            immediateBps: m.immediate_bps,
            vestingBlocks: m.vesting_blocks,
            rentedBonusBps: m.rented_bonus_bps,
            maxProjectsPerMachine: m.max_projects_per_machine,
        },
        liveness: G::MarketLivenessV1 {
            heartbeatTimeoutBlocks: m.heartbeat_timeout_blocks,
            minOnlineBlocks: m.min_online_blocks,
            exitCooldownBlocks: m.exit_cooldown_blocks,
            ownerOfflineSlash: slash_v1(&m.owner_offline_slash),
            unreachableSlash: slash_v1(&m.unreachable_slash),
            slashRenterBps: m.slash_renter_bps,
            slashAuditorsBps: m.slash_auditors_bps,
        },
    }
}

/// A model name from its `bytes32`: left-aligned UTF-8, zero-padded.
fn model_name(b: B256) -> Result<String, String> {
    let len = b.0.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let name = std::str::from_utf8(&b.0[..len])
        .map_err(|_| format!("market.gpuModels: {b} is not a UTF-8 name"))?;
    Ok(name.to_string())
}

fn market_of(v: &G::MarketParamsV1) -> Result<MarketParams, String> {
    let (st, ve, re, rw, li) = (&v.stake, &v.verification, &v.rent, &v.rewards, &v.liveness);
    Ok(MarketParams {
        stake_per_gpu: st.stakePerGpu,
        auditor_stake: st.auditorStake,
        auditor_penalty_bps: st.auditorPenaltyBps,
        auditor_reward_bps: st.auditorRewardBps,
        reject_slash_bps: st.rejectSlashBps,
        report_deposit: st.reportDeposit,
        draw_delay_blocks: ve.drawDelayBlocks,
        commit_window_blocks: ve.commitWindowBlocks,
        reveal_window_blocks: ve.revealWindowBlocks,
        standard_calc_point: ve.standardCalcPoint,
        gpu_models: ve
            .gpuModels
            .iter()
            .map(|g| {
                Ok(GpuModel {
                    model: model_name(g.model)?,
                    calc_point: g.calcPoint,
                    memory_gb: g.memoryGb,
                })
            })
            .collect::<Result<_, String>>()?,
        calc_point_tolerance_bps: ve.calcPointToleranceBps,
        challenge_check_blocks: ve.challengeCheckBlocks,
        challenge_chance_bps: ve.challengeChanceBps,
        standard_price_per_gpu_block: re.standardPricePerGpuBlock,
        min_price_bps: re.minPriceBps,
        rent_unit_blocks: re.rentUnitBlocks,
        max_rent_blocks: re.maxRentBlocks,
        burn_tiers: re
            .burnTiers
            .iter()
            .map(|t| BurnTier { from_gpus: t.fromGpus, bps: t.bps })
            .collect(),
        burn_tier_basis: if re.burnTierBasisRegistered {
            BurnBasis::Registered
        } else {
            BurnBasis::Online
        },
        emission: emission_of(&rw.emission),
        epoch_blocks: rw.epochBlocks,
        reward_pool: rw.rewardPool,
        immediate_bps: rw.immediateBps,
        vesting_blocks: rw.vestingBlocks,
        rented_bonus_bps: rw.rentedBonusBps,
        max_projects_per_machine: rw.maxProjectsPerMachine,
        heartbeat_timeout_blocks: li.heartbeatTimeoutBlocks,
        min_online_blocks: li.minOnlineBlocks,
        exit_cooldown_blocks: li.exitCooldownBlocks,
        owner_offline_slash: slash_of(&li.ownerOfflineSlash),
        unreachable_slash: slash_of(&li.unreachableSlash),
        slash_renter_bps: li.slashRenterBps,
        slash_auditors_bps: li.slashAuditorsBps,
    })
}

/// `s` as the ABI's record struct (the genesis validators are not part of it).
pub fn staking_v1(s: &StakingParams) -> G::StakingParamsV1 {
    G::StakingParamsV1 {
        epochBlocks: s.epoch_blocks,
        maxValidators: s.max_validators,
        maxCandidates: s.max_candidates,
        minSelfStake: s.min_self_stake,
        minDelegation: s.min_delegation,
        unbondingBlocks: s.unbonding_blocks,
        emission: emission_v1(&s.emission),
        rewardPool: s.reward_pool,
        maxCommissionBps: s.max_commission_bps,
        maxCommissionIncreaseBps: s.max_commission_increase_bps,
        doubleSignSlashBps: s.double_sign_slash_bps,
        evidenceRewardBps: s.evidence_reward_bps,
        slashTreasuryBps: s.slash_treasury_bps,
        downtimeJailMissed: s.downtime_jail_missed,
        downtimeSlashBps: s.downtime_slash_bps,
        jailBlocks: s.jail_blocks,
    }
}

fn staking_of(
    v: &G::StakingParamsV1,
    validators: Vec<dbc_chainspec::GenesisValidator>,
) -> StakingParams {
    StakingParams {
        epoch_blocks: v.epochBlocks,
        max_validators: v.maxValidators,
        max_candidates: v.maxCandidates,
        min_self_stake: v.minSelfStake,
        min_delegation: v.minDelegation,
        unbonding_blocks: v.unbondingBlocks,
        emission: emission_of(&v.emission),
        reward_pool: v.rewardPool,
        max_commission_bps: v.maxCommissionBps,
        max_commission_increase_bps: v.maxCommissionIncreaseBps,
        double_sign_slash_bps: v.doubleSignSlashBps,
        evidence_reward_bps: v.evidenceRewardBps,
        slash_treasury_bps: v.slashTreasuryBps,
        downtime_jail_missed: v.downtimeJailMissed,
        downtime_slash_bps: v.downtimeSlashBps,
        jail_blocks: v.jailBlocks,
        validators,
    }
}

/// `g` as the ABI's record struct.
pub fn governance_v1(g: &GovernanceParams) -> G::GovernanceParamsV1 {
    G::GovernanceParamsV1 {
        burnFloor: g.burn_floor,
        referendumBlocks: g.referendum_blocks,
        referendumTurnoutBps: g.referendum_turnout_bps,
        referendumApprovalBps: g.referendum_approval_bps,
        enactmentDelayBlocks: g.enactment_delay_blocks,
        maxEnactmentsPerEpoch: g.max_enactments_per_epoch,
        proposalDeposit: g.proposal_deposit,
        spendDepositBps: g.spend_deposit_bps,
        maxOpenProposals: g.max_open_proposals,
        maxPayloadBytes: g.max_payload_bytes,
        maxStreamBlocks: g.max_stream_blocks,
        council: council_v1(&g.council),
    }
}

fn council_v1(c: &CouncilParams) -> G::CouncilParamsV1 {
    G::CouncilParamsV1 {
        seats: c.seats,
        runnersUp: c.runners_up,
        termBlocks: c.term_blocks,
        electionFreezeBlocks: c.election_freeze_blocks,
        maxCandidates: c.max_candidates,
        candidacyBond: c.candidacy_bond,
        minVoteLock: c.min_vote_lock,
        maxApprovals: c.max_approvals,
        maxBallotClasses: c.max_ballot_classes,
        motionBlocks: c.motion_blocks,
        approvalBps: c.approval_bps,
        spendLimit: c.spend_limit,
        termSpendLimit: c.term_spend_limit,
    }
}

fn council_of(v: &G::CouncilParamsV1) -> CouncilParams {
    CouncilParams {
        seats: v.seats,
        runners_up: v.runnersUp,
        term_blocks: v.termBlocks,
        election_freeze_blocks: v.electionFreezeBlocks,
        max_candidates: v.maxCandidates,
        candidacy_bond: v.candidacyBond,
        min_vote_lock: v.minVoteLock,
        max_approvals: v.maxApprovals,
        max_ballot_classes: v.maxBallotClasses,
        motion_blocks: v.motionBlocks,
        approval_bps: v.approvalBps,
        spend_limit: v.spendLimit,
        term_spend_limit: v.termSpendLimit,
    }
}

fn governance_of(v: &G::GovernanceParamsV1) -> GovernanceParams {
    GovernanceParams {
        burn_floor: v.burnFloor,
        referendum_blocks: v.referendumBlocks,
        referendum_turnout_bps: v.referendumTurnoutBps,
        referendum_approval_bps: v.referendumApprovalBps,
        enactment_delay_blocks: v.enactmentDelayBlocks,
        max_enactments_per_epoch: v.maxEnactmentsPerEpoch,
        proposal_deposit: v.proposalDeposit,
        spend_deposit_bps: v.spendDepositBps,
        max_open_proposals: v.maxOpenProposals,
        max_payload_bytes: v.maxPayloadBytes,
        max_stream_blocks: v.maxStreamBlocks,
        council: council_of(&v.council),
    }
}

/// The record of `target` in `p`: `abi.encode` of its V1 struct.
pub fn encode(p: &DbcParams, target: ParamsTarget) -> Vec<u8> {
    match target {
        ParamsTarget::Market => market_v1(&p.market).abi_encode(),
        ParamsTarget::Staking => staking_v1(&p.staking).abi_encode(),
        ParamsTarget::Governance => governance_v1(&p.governance).abi_encode(),
    }
}

/// `base` with `target`'s parameters replaced by the record `bytes`, which must be the
/// canonical encoding of its V1 struct (decoding and re-encoding gives the same bytes). Does
/// not check the result (see [`DbcParams::check_change`]).
pub fn decode(base: &DbcParams, target: ParamsTarget, bytes: &[u8]) -> Result<DbcParams, String> {
    let bad = |e: alloy_sol_types::Error| format!("not a {} record: {e}", target_name(target));
    let mut p = base.clone();
    match target {
        ParamsTarget::Market => {
            let v = G::MarketParamsV1::abi_decode_validate(bytes).map_err(bad)?;
            canonical(&v.abi_encode(), bytes)?;
            p.market = market_of(&v)?;
        }
        ParamsTarget::Staking => {
            let v = G::StakingParamsV1::abi_decode_validate(bytes).map_err(bad)?;
            canonical(&v.abi_encode(), bytes)?;
            p.staking = staking_of(&v, base.staking.validators.clone());
        }
        ParamsTarget::Governance => {
            let v = G::GovernanceParamsV1::abi_decode_validate(bytes).map_err(bad)?;
            canonical(&v.abi_encode(), bytes)?;
            p.governance = governance_of(&v);
        }
    }
    // A name that does not survive the round trip (NUL inside, more than 32 bytes) is not
    // canonical either.
    if encode(&p, target) != bytes {
        return Err("non-canonical encoding".into());
    }
    Ok(p)
}

fn canonical(again: &[u8], bytes: &[u8]) -> Result<(), String> {
    if again == bytes { Ok(()) } else { Err("non-canonical encoding".into()) }
}

// ---- the records in force ----

/// Decoded and checked records by hash (content-addressed, so shared safely by every chain in
/// the process); at most `CACHE_SIZE`, the least recently used out first.
static CACHE: Mutex<Vec<(B256, Arc<DbcParams>)>> = Mutex::new(Vec::new());
const CACHE_SIZE: usize = 32;

fn cached(hash: B256) -> Option<Arc<DbcParams>> {
    let mut c = CACHE.lock().ok()?;
    let i = c.iter().position(|(h, _)| *h == hash)?;
    let hit = c.remove(i);
    let p = hit.1.clone();
    c.push(hit);
    Some(p)
}

fn remember(hash: B256, p: Arc<DbcParams>) {
    if let Ok(mut c) = CACHE.lock() {
        if c.len() >= CACHE_SIZE {
            c.remove(0);
        }
        c.push((hash, p));
    }
}

fn global<H: Host>(host: &mut H, n: u64) -> Res<U256> {
    Ok(host.sload(GOVERNANCE_ADDRESS, U256::from(n))?.0)
}

/// The record blob `hash`, read uncharged (the loader's path; its content is fixed by the hash).
fn read_blob<H: Host>(host: &mut H, hash: B256) -> Res<Vec<u8>> {
    let len = host.sload(GOVERNANCE_ADDRESS, slot(T_BLOB, hash, 0))?.0;
    let len = usize::try_from(len).ok().filter(|&l| l <= MAX_RECORD_BYTES);
    let len = len.ok_or_else(|| Fail::Fatal(format!("parameter record {hash} is too long")))?;
    let mut out = Vec::with_capacity(len.div_ceil(32) * 32);
    for i in 0..len.div_ceil(32) {
        let w = host.sload(GOVERNANCE_ADDRESS, slot(T_BLOB, hash, 1 + i as u64))?.0;
        out.extend_from_slice(&w.to_be_bytes::<32>());
    }
    out.truncate(len);
    if keccak256(&out) != hash {
        return Err(Fail::Fatal(format!("parameter record {hash} does not match its hash")));
    }
    Ok(out)
}

/// The hashes of the records in force at the current block, by target (zero: genesis); `None`
/// when governance never changed anything (one slot read).
fn in_force_hashes<H: Host>(host: &mut H) -> Res<Option<[B256; 3]>> {
    if global(host, G_PARAMS_CHANGES)?.is_zero() {
        return Ok(None);
    }
    let now = host.block_number();
    let mut out = [B256::ZERO; 3];
    for (t, slot) in TARGETS.into_iter().zip(out.iter_mut()) {
        let i = index(t);
        let mut hash = B256::from(global(host, G_PARAMS_HASH + i)?);
        if !hash.is_zero() && now < bits(global(host, G_PARAMS_META + i)?, 32, 64) {
            hash = B256::from(global(host, G_PARAMS_PREV_HASH + i)?);
        }
        *slot = hash;
    }
    Ok(Some(out))
}

/// The parameters of one precompile instance (one EVM, so one block or one RPC call): the
/// last composition and the hashes it was made from, so later calls only read the hashes.
pub(crate) type Composed = Mutex<Option<([B256; 3], Arc<DbcParams>)>>;

/// [`running`] through `memo`, which the caller keeps between calls.
pub(crate) fn running_memo<H: Host>(
    host: &mut H,
    genesis: &Arc<DbcParams>,
    memo: &Composed,
) -> Res<Arc<DbcParams>> {
    let Some(hashes) = in_force_hashes(host)? else { return Ok(genesis.clone()) };
    if let Ok(m) = memo.lock()
        && let Some((h, p)) = m.as_ref()
        && *h == hashes
    {
        return Ok(p.clone());
    }
    let p = compose(host, genesis, hashes)?;
    if let Ok(mut m) = memo.lock() {
        *m = Some((hashes, p.clone()));
    }
    Ok(p)
}

/// The parameters in force at the current block: `genesis` with every target that governance
/// changed replaced by its record. Reads one slot when nothing changed. The caller charges
/// [`gas::PARAMS`](crate::gas::PARAMS).
pub(crate) fn running<H: Host>(host: &mut H, genesis: &Arc<DbcParams>) -> Res<Arc<DbcParams>> {
    match in_force_hashes(host)? {
        None => Ok(genesis.clone()),
        Some(hashes) => compose(host, genesis, hashes),
    }
}

/// `genesis` with each target whose hash is not zero replaced by that record (read, checked
/// against the genesis as the chain checked it, and cached by hash on first use).
fn compose<H: Host>(
    host: &mut H,
    genesis: &Arc<DbcParams>,
    hashes: [B256; 3],
) -> Res<Arc<DbcParams>> {
    let mut p = (**genesis).clone();
    for (t, hash) in TARGETS.into_iter().zip(hashes) {
        if hash.is_zero() {
            continue;
        }
        let rec = match cached(hash) {
            Some(r) => r,
            None => {
                let bytes = read_blob(host, hash)?;
                // Only records the chain checked are ever put in force; a record that fails
                // here came from elsewhere (an `eth_call` state override) and is refused.
                let r = decode(genesis, t, &bytes)
                    .and_then(|r| genesis.check_record(&r, t).map(|()| r))
                    .map_err(|e| {
                        Fail::Fatal(format!("parameter record {hash} is not valid: {e}"))
                    })?;
                let r = Arc::new(r);
                remember(hash, r.clone());
                r
            }
        };
        match t {
            ParamsTarget::Market => p.market = rec.market.clone(),
            ParamsTarget::Staking => {
                p.staking = StakingParams {
                    validators: genesis.staking.validators.clone(),
                    ..rec.staking.clone()
                }
            }
            ParamsTarget::Governance => p.governance = rec.governance.clone(),
        }
    }
    Ok(Arc::new(p))
}

/// The parameters in force at the host's block, as every precompile call of the EVM loads them
/// (for harnesses outside this crate); a record that does not decode is an error.
pub fn in_force_params<H: Host>(
    host: &mut H,
    genesis: &Arc<DbcParams>,
) -> Result<Arc<DbcParams>, String> {
    running(host, genesis).map_err(|e| format!("{e:?}"))
}

/// `(version, effectiveFrom, hash)` of `t`'s record in force at this block (flat-priced reads).
pub(crate) fn in_force<H: Host>(ctx: &mut Ctx<'_, H>, t: ParamsTarget) -> Res<(u32, u64, B256)> {
    let newest = newest(ctx, t)?;
    if ctx.now >= newest.1 {
        return Ok(newest);
    }
    let meta = ctx.get_flat(U256::from(G_PARAMS_PREV_META + index(t)))?;
    let hash = B256::from(ctx.get_flat(U256::from(G_PARAMS_PREV_HASH + index(t)))?);
    Ok((bits(meta, 0, 32) as u32, bits(meta, 32, 64), hash))
}

/// `(version, effectiveFrom, hash)` of `t`'s newest record, in force from `effectiveFrom`
/// (flat-priced reads).
pub(crate) fn newest<H: Host>(ctx: &mut Ctx<'_, H>, t: ParamsTarget) -> Res<(u32, u64, B256)> {
    let meta = ctx.get_flat(U256::from(G_PARAMS_META + index(t)))?;
    let hash = B256::from(ctx.get_flat(U256::from(G_PARAMS_HASH + index(t)))?);
    Ok((bits(meta, 0, 32) as u32, bits(meta, 32, 64), hash))
}

/// Stores the record `bytes` (whose hash is `hash`) in the blob table, flat-priced per word.
pub(crate) fn store_blob<H: Host>(ctx: &mut Ctx<'_, H>, hash: B256, bytes: &[u8]) -> Res<()> {
    ctx.set_flat(slot(T_BLOB, hash, 0), U256::from(bytes.len()))?;
    for (i, chunk) in bytes.chunks(32).enumerate() {
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        ctx.set_flat(slot(T_BLOB, hash, 1 + i as u64), U256::from_be_bytes(w))?;
    }
    Ok(())
}

/// A stored record (charged per word; for views).
pub(crate) fn load_blob<H: Host>(ctx: &mut Ctx<'_, H>, hash: B256) -> Res<Vec<u8>> {
    let words = ctx.get_flat(slot(T_BLOB, hash, 0))?.saturating_to::<u64>().div_ceil(32);
    ctx.charge(crate::gas::COLD_SLOAD.saturating_mul(words))?;
    read_blob(ctx.host, hash)
}

/// Puts the stored record `hash` in force for `t` from the next block on (called in the hook
/// of block E − 1); returns the new version.
pub(crate) fn put_in_force<H: Host>(ctx: &mut Ctx<'_, H>, t: ParamsTarget, hash: B256) -> Res<u32> {
    let i = index(t);
    let meta = ctx.get_flat(U256::from(G_PARAMS_META + i))?;
    let (version, effective_from) = (bits(meta, 0, 32) as u32, bits(meta, 32, 64));
    // The newest record becomes the previous one, unless it is itself not in force yet (a
    // second change at the same boundary replaces it).
    if effective_from <= ctx.now {
        let current = ctx.get_flat(U256::from(G_PARAMS_HASH + i))?;
        ctx.set_flat(U256::from(G_PARAMS_PREV_HASH + i), current)?;
        ctx.set_flat(U256::from(G_PARAMS_PREV_META + i), meta)?;
    }
    let next = ck(version.checked_add(1))?;
    let from = ck(ctx.now.checked_add(1))?;
    let mut meta = U256::ZERO;
    put(&mut meta, 0, 32, u64::from(next));
    put(&mut meta, 32, 64, from);
    ctx.set_flat(U256::from(G_PARAMS_META + index(t)), meta)?;
    ctx.set_flat(U256::from(G_PARAMS_HASH + index(t)), U256::from_be_bytes(hash.0))?;
    let changes = ctx.get_flat(U256::from(G_PARAMS_CHANGES))?;
    ctx.set_flat(U256::from(G_PARAMS_CHANGES), ck(changes.checked_add(U256::from(1)))?)?;
    Ok(next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_only_canonical_bytes_decode() {
        let mut base = DbcParams { genesis_supply: U256::MAX >> 8, ..DbcParams::default() };
        base.staking.validators.push(dbc_chainspec::GenesisValidator {
            address: alloy_primitives::Address::repeat_byte(7),
            stake: U256::from(1),
            commission_bps: 0,
        });
        for t in TARGETS {
            let rec = encode(&base, t);
            assert_eq!(decode(&base, t, &rec).unwrap(), base, "{t:?}");
            // A trailing byte, a word more, a dirty padding byte: refused.
            let mut long = rec.clone();
            long.push(0);
            assert!(decode(&base, t, &long).is_err());
            let mut more = rec.clone();
            more.extend([0u8; 32]);
            assert_eq!(decode(&base, t, &more).unwrap_err(), "non-canonical encoding");
            assert!(decode(&base, t, &rec[..rec.len() - 32]).is_err());
        }
        // A bool of 2 is not canonical (the last word of the governance record is
        // maxPayloadBytes; use a staking record's last field, a uint64, with a high bit set).
        let mut st = staking_v1(&base.staking).abi_encode();
        let n = st.len();
        st[n - 9] = 1;
        assert!(decode(&base, ParamsTarget::Staking, &st).is_err());
        // A model name that is not UTF-8 does not decode; one with a NUL inside decodes and is
        // then refused by the genesis check.
        let mut v = market_v1(&base.market);
        let mut row = v.verification.gpuModels[0].clone();
        row.model.0[1] = 0xff;
        v.verification.gpuModels.push(row);
        assert!(decode(&base, ParamsTarget::Market, &v.abi_encode()).is_err());
        v.verification.gpuModels.last_mut().unwrap().model.0[1] = 0;
        let p = decode(&base, ParamsTarget::Market, &v.abi_encode()).unwrap();
        let e = base.check_change(&p, ParamsTarget::Market).unwrap_err();
        assert!(e.contains("is not a 1-32 byte name"), "{e}");
    }

    #[test]
    fn a_change_is_checked_as_genesis_is_and_schedules_cannot_change() {
        let base = DbcParams { genesis_supply: U256::MAX >> 8, ..DbcParams::default() };
        let change = |f: &dyn Fn(&mut DbcParams)| {
            let mut p = base.clone();
            f(&mut p);
            p
        };
        let t = ParamsTarget::Market;
        let ok = change(&|p| p.market.stake_per_gpu = U256::from(5));
        base.check_change(&ok, t).unwrap();
        // The genesis check's own message.
        let bad = change(&|p| p.market.immediate_bps = 10_001);
        let genesis = bad.market.validate().unwrap_err();
        assert_eq!(base.check_change(&bad, t).unwrap_err(), genesis);
        for (p, field) in [
            (change(&|p| p.market.epoch_blocks += 1), "market.epochBlocks"),
            (change(&|p| p.market.emission.decay_bps += 1), "market.emission"),
            (change(&|p| p.staking.unbonding_blocks += 1), "staking.unbondingBlocks"),
        ] {
            let target = if field.starts_with("market") { t } else { ParamsTarget::Staking };
            let e = base.check_change(&p, target).unwrap_err();
            assert!(e.starts_with(&format!("{field} cannot change")), "{e}");
        }
        // GPU-model rows stay with their calc point; rows may be added, memory corrected.
        let removed = change(&|p| {
            p.market.gpu_models.remove(0);
        });
        assert!(base.check_change(&removed, t).unwrap_err().contains("cannot be removed"));
        let repriced = change(&|p| p.market.gpu_models[0].calc_point += 1);
        assert!(base.check_change(&repriced, t).unwrap_err().contains("calcPoint"));
        let grown = change(&|p| {
            p.market.gpu_models[0].memory_gb += 1;
            p.market.gpu_models.push(dbc_chainspec::GpuModel {
                model: "B200".into(),
                calc_point: 9_000,
                memory_gb: 192,
            });
        });
        base.check_change(&grown, t).unwrap();
        // Guard rails of a change: not past the bound, unless genesis already was.
        for (p, target, what) in [
            (
                change(&|p| p.governance.referendum_turnout_bps = 2_001),
                ParamsTarget::Governance,
                "referendumTurnoutBps",
            ),
            (
                change(&|p| p.governance.referendum_approval_bps = 6_668),
                ParamsTarget::Governance,
                "referendumApprovalBps",
            ),
            (
                change(&|p| p.governance.proposal_deposit = base.genesis_supply / U256::from(50)),
                ParamsTarget::Governance,
                "proposalDeposit",
            ),
            (change(&|p| p.staking.max_validators = 3), ParamsTarget::Staking, "maxValidators"),
            (change(&|p| p.market.heartbeat_timeout_blocks = 99), t, "heartbeatTimeoutBlocks"),
            (change(&|p| p.market.challenge_check_blocks = 99), t, "challengeCheckBlocks"),
            (change(&|p| p.market.reveal_window_blocks = 19), t, "revealWindowBlocks"),
        ] {
            let e = base.check_change(&p, target).unwrap_err();
            assert!(e.contains(what) && e.contains("a change may set"), "{e}");
            // The same values are a valid genesis, and a chain that starts past a bound may
            // keep it.
            base.check_record(&p, target).unwrap();
            p.check_change(&p, target).unwrap();
        }
        // One target at a time.
        let two = change(&|p| p.governance.max_open_proposals = 3);
        assert!(base.check_change(&two, t).is_err());
        base.check_change(&two, ParamsTarget::Governance).unwrap();
        // The genesis validators do not bound a smaller active set.
        let mut with_set = base.clone();
        for i in 0..5u8 {
            with_set.staking.validators.push(dbc_chainspec::GenesisValidator {
                address: alloy_primitives::Address::repeat_byte(i + 1),
                stake: with_set.staking.min_self_stake,
                commission_bps: 0,
            });
        }
        let mut smaller = with_set.clone();
        smaller.staking.max_validators = 4;
        with_set.check_change(&smaller, ParamsTarget::Staking).unwrap();
        smaller.staking.max_validators = 0;
        assert!(with_set.check_change(&smaller, ParamsTarget::Staking).is_err());
    }
}

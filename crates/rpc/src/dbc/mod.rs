//! The `dbc_` namespace: the GPU market and project mining as JSON.
//!
//! Every method answers by a static call to the market precompile's views at the requested
//! block (default `latest`), so RPC and Solidity always agree. Quantities are hex like `eth_`;
//! `gpuModel` and `region` are the `bytes32` short strings decoded as text.
//!
//! This module holds the namespace's shape (its JSON, the conversions from the precompiles'
//! ABI structs, the method list); [`views`] holds how each method answers.

mod views;

use crate::{
    RpcContext,
    error::{RpcResult, invalid_params, reverted, rpc_err},
};
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::EvmOverrides};
use alloy_sol_types::{SolCall, SolError};
use dbc_precompiles::{
    GOVERNANCE_ADDRESS, MARKET_ADDRESS, MINING_ADDRESS, STAKING_ADDRESS,
    abi::{IGovernance, IGpuMarket, IProjectMining, IStaking},
};
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;

/// Largest page of `dbc_listMachines`.
pub const MAX_PAGE: u64 = 100;

/// Most blocks one `dbc_treasuryHistory` call covers.
pub const MAX_TREASURY_RANGE: u64 = 10_000;

/// `dbc_networkStats`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStats {
    /// GPUs of machines registered and neither rejected nor exited.
    pub total_gpus: U64,
    /// GPUs of online machines.
    pub online_gpus: U64,
    /// GPUs rented now.
    pub rented_gpus: U64,
    /// Machines ever registered.
    pub machines: U64,
    /// Share of rent burned now, basis points.
    pub burn_rate_bps: u16,
    /// Rent burned so far, wei.
    pub total_burned: U256,
    /// EIP-1559 base fees burned so far, wei.
    pub fees_burned: U256,
    /// Validator stake burned by slashing so far, wei.
    pub staking_burned: U256,
    /// The exact total supply at the block (the sum of all balances): the genesis supply plus
    /// every block's net balance change, from the governance precompile's ledger, wei.
    pub total_supply: U256,
    /// GPU rewards released from the pool so far, wei.
    pub rewards_distributed: U256,
    /// GPU reward pool left, wei.
    pub reward_pool_remaining: U256,
}

/// `dbc_treasury`: the treasury (the balance of `0x…0D04`) and what it received by source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Treasury {
    /// Balance of the governance account, wei.
    pub balance: U256,
    /// What enacted proposals may spend, wei.
    pub available: U256,
    /// Everything received through the precompiles (slashes, penalties, lost deposits,
    /// donations), wei. Plain transfers to the account are in `balance` only.
    pub received: U256,
    /// Everything spent, wei (streamed spends as they are claimed).
    pub spent: U256,
    /// Streamed spends enacted and not yet claimed, wei (held for their recipients).
    pub reserved: U256,
    /// `received` by source.
    pub received_by_source: TreasurySources,
    /// Per-block release of the GPU reward pool in the current era, wei.
    pub gpu_emission_per_block: U256,
    /// Per-block release of the validator reward pool in the current era, wei.
    pub validator_emission_per_block: U256,
    /// The current era of the GPU pool's schedule (both schedules have yearly eras by default).
    pub emission_era: u32,
}

/// `dbc_auditSupply`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupplyAudit {
    /// The block whose state was summed.
    pub block: U64,
    /// The sum of every balance, wei.
    pub sum: U256,
    /// Accounts summed.
    pub accounts: U64,
    /// The governance precompile's ledger at the same block (`dbc_networkStats.totalSupply`),
    /// which `sum` must equal.
    pub total_supply: U256,
}

/// One block of `dbc_treasuryHistory`: what the treasury received and spent in it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreasuryChange {
    /// The block.
    pub block: U64,
    /// The treasury's balance at the end of the block, wei.
    pub balance: U256,
    /// Received in the block (the sum of `receivedBySource`), wei.
    pub received: U256,
    /// Spent in the block, wei.
    pub spent: U256,
    /// `received` by source.
    pub received_by_source: TreasurySources,
}

/// What the treasury received, by source (`IGovernance.TreasuryReceived.source`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreasurySources {
    /// 1: the treasury's share of machine slashes.
    pub machine_slash: U256,
    /// 2: auditor penalties.
    pub auditor_penalty: U256,
    /// 3: stake lost by machines verification rejected.
    pub rejected_machine: U256,
    /// 4: the treasury's share of false fault reports' deposits.
    pub lost_report_deposit: U256,
    /// 5: the treasury's share of validator slashes.
    pub validator_slash: U256,
    /// 6: deposits of proposals that failed.
    pub lost_proposal_deposit: U256,
    /// 7: bonds of council candidates neither elected nor runners-up.
    pub lost_candidacy_bond: U256,
    /// 8: burns the burn floor stopped (`config.dbc.governance.burnFloor`).
    pub burn_floor: U256,
    /// 9: donations (`fund`).
    pub donation: U256,
}

/// A machine's claimed (and, once online, verified) hardware.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    /// GPU model.
    pub gpu_model: String,
    /// GPUs.
    pub gpu_count: u32,
    /// Memory per GPU, GB.
    pub gpu_memory_gb: u32,
    /// CPU cores.
    pub cpu_cores: u32,
    /// RAM, GB.
    pub ram_gb: u32,
    /// Disk, GB.
    pub disk_gb: u32,
    /// Region.
    pub region: String,
    /// The key the machine holds (signs its heartbeats).
    pub machine_key: Address,
}

/// `dbc_getMachine`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// Machine id.
    pub id: B256,
    /// Owner (provider).
    pub owner: Address,
    /// Hardware.
    pub spec: MachineSpec,
    /// `verifying`, `online`, `offline`, `rejected` or `exited`.
    pub status: &'static str,
    /// Why it is offline: `idle`, `ownerOffline`, `unreachable` (null when not offline).
    pub offline_reason: Option<&'static str>,
    /// Verified calc point (0 until verified).
    pub calc_point: u32,
    /// GPUs rented now.
    pub rented_gpus: u32,
    /// Block of registration.
    pub registered_at: U64,
    /// Block it went online.
    pub online_since: U64,
    /// Block it went offline (0 when online).
    pub offline_since: U64,
    /// Block of the last heartbeat.
    pub last_heartbeat: U64,
    /// Latest end block of its rentals.
    pub rent_end: U64,
    /// Stake, wei.
    pub stake: U256,
    /// Price per GPU per block, wei.
    pub price_per_gpu_block: U256,
    /// Rewards settled for it so far, wei.
    pub total_earned: U256,
    /// Report id of its pending liveness challenge (null if none).
    pub open_challenge: Option<U256>,
    /// Where its agent answers auditors and renters (`setEndpoint`; null if none).
    pub endpoint: Option<String>,
}

/// A row of `dbc_gpuModels`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuModelJson {
    /// Model name (`MachineSpec.gpuModel`).
    pub model: String,
    /// Reference calc point per GPU.
    pub calc_point: u32,
    /// Memory per GPU, GB.
    pub memory_gb: u32,
}

/// `dbc_listMachines`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachinePage {
    /// Machines registered in all.
    pub total: U64,
    /// The page.
    pub machines: Vec<Machine>,
    /// Offset of the next page, null after the last.
    pub next_offset: Option<U64>,
}

/// `dbc_getRental`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rental {
    /// Rental id.
    pub id: U256,
    /// Machine rented.
    pub machine_id: B256,
    /// Renter.
    pub renter: Address,
    /// GPUs rented.
    pub gpus: u32,
    /// Share of the rent burned, fixed at the start, basis points.
    pub burn_bps: u16,
    /// `active` or `ended`.
    pub status: &'static str,
    /// Start block.
    pub start: U64,
    /// End block.
    pub end: U64,
    /// Paid, extensions included, wei.
    pub paid: U256,
    /// Refunded, wei.
    pub refunded: U256,
    /// Burned, wei.
    pub burned: U256,
}

/// `dbc_getRewards`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rewards {
    /// Claimable now, wei.
    pub claimable: U256,
    /// Still vesting, wei.
    pub vesting: U256,
    /// Claimed so far, wei.
    pub claimed: U256,
}

/// `dbc_getProject`: a mining program of the project-mining precompile.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Project id.
    pub id: U256,
    /// The only account that settles (mints) rewards: the project's token or escrow.
    pub settler: Address,
    /// Who registered it (transaction origin).
    pub creator: Address,
    /// Emission per block.
    pub tokens_per_block: U256,
    /// Total emission.
    pub budget: U256,
    /// First block of the emission.
    pub start_block: U64,
    /// Emission stops at this block.
    pub end_block: U64,
    /// Released to enrolled machines so far.
    pub distributed: U256,
    /// Paid out (minted) so far.
    pub settled: U256,
    /// Sum of the enrolled machines' weights (grade × attested work units).
    pub total_weight: U256,
    /// Enrolled machines.
    pub machines: u32,
    /// Minimum GPU memory, GB.
    pub min_gpu_memory_gb: u32,
    /// Minimum calc point.
    pub min_calc_point: u32,
    /// Accepted GPU models (empty: any).
    pub gpu_models: Vec<String>,
    /// Share released at once, basis points.
    pub immediate_bps: u16,
    /// Linear release of the rest, blocks.
    pub vesting_blocks: U64,
    /// Reports the work each enrolled machine served (`attestWork`).
    pub attestor: Address,
}

/// `dbc_getProposal`: a governance proposal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalJson {
    /// Id (from 1).
    pub id: U256,
    /// Who proposed it.
    pub proposer: Address,
    /// `text`, `treasurySpend`, `paramChange` or `validatorSetSize`.
    pub kind: &'static str,
    /// Whose parameters a `paramChange` or `validatorSetSize` changes (`market`, `staking` or
    /// `governance`); null for other kinds.
    pub target: Option<&'static str>,
    /// `referendum`, or `council` for a council motion.
    pub route: &'static str,
    /// A council motion: the term whose council decides it; else 0.
    pub term: U64,
    /// A council motion: that council's seated members; else 0.
    pub seated: u32,
    /// `voting`, `queued`, `enacted`, `rejected` or `enactmentFailed`.
    pub status: &'static str,
    /// The block it was proposed in.
    pub vote_start: U64,
    /// The last block votes count in.
    pub vote_end: U64,
    /// Once passed: E, the first block it is in force (enacted at the end of E − 1); else 0.
    pub enact_at: U64,
    /// The deposit, wei.
    pub deposit: U256,
    /// Locked wei voting for.
    pub for_votes: U256,
    /// Locked wei voting against.
    pub against_votes: U256,
    /// Locked wei abstaining.
    pub abstain_votes: U256,
    /// Distinct voters.
    pub voters: U64,
    /// keccak256 of the description (the text is in the `ProposalCreated` log); null for a
    /// `paramChange`, which is identified by its record.
    pub description_hash: Option<B256>,
    /// A `paramChange`'s record hash (`dbc_params` shows it once in force; the record is
    /// `proposalPayload(id)`), else null.
    pub params_hash: Option<B256>,
    /// A `paramChange`: the target's parameter version it was proposed against (it fails at
    /// enactment if another change came first).
    pub base_version: u32,
    /// A `validatorSetSize`: the new `staking.maxValidators`, else 0.
    pub validator_set_size: u32,
    /// A spend's recipient (zero for a text).
    pub spend_to: Address,
    /// A spend's amount, wei (zero for a text).
    pub spend_amount: U256,
    /// A streamed spend's length in blocks (0: paid at enactment).
    pub stream_blocks: U64,
}

/// `dbc_getProposalVotes`: a page of a proposal's votes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VotePage {
    /// Distinct voters.
    pub total: U64,
    /// The page, in the order of each voter's first vote.
    pub votes: Vec<VoteJson>,
    /// Offset of the next page, null after the last.
    pub next_offset: Option<U64>,
}

/// One voter's current vote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteJson {
    /// The voter.
    pub voter: Address,
    /// `for`, `against` or `abstain`.
    pub support: &'static str,
    /// Locked wei for a referendum, 1 for a council member's vote.
    pub weight: U256,
}

/// `dbc_council`: the council in office and the next election.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CouncilJson {
    /// The current term (0 until the first election).
    pub term: U64,
    /// Members in election order.
    pub members: Vec<Address>,
    /// Runners-up in election order.
    pub runners_up: Vec<Address>,
    /// The block whose hook holds the next election.
    pub term_end: U64,
    /// The first block of the freeze before it (no candidacies or ballots from then on).
    pub freeze_start: U64,
    /// The candidates of the next election with the locked wei approving each.
    pub candidates: Vec<CandidateJson>,
}

/// A council candidate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateJson {
    /// Its account.
    pub account: Address,
    /// Its bond, wei.
    pub bond: U256,
    /// Locked wei whose ballots approve it.
    pub approval_stake: U256,
    /// A member or runner-up standing again.
    pub carried: bool,
}

/// `dbc_listProposals`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalPage {
    /// Proposals ever made.
    pub total: U64,
    /// The page.
    pub proposals: Vec<ProposalJson>,
    /// Offset of the next page, null after the last.
    pub next_offset: Option<U64>,
}

fn proposal_json(p: IGovernance::Proposal) -> ProposalJson {
    use IGovernance::{Kind, Status, Target};
    let params = matches!(p.kind, Kind::ParamChange);
    let targeted = params || matches!(p.kind, Kind::ValidatorSetSize);
    ProposalJson {
        id: p.id,
        proposer: p.proposer,
        kind: match p.kind {
            Kind::TreasurySpend => "treasurySpend",
            Kind::ParamChange => "paramChange",
            Kind::ValidatorSetSize => "validatorSetSize",
            _ => "text",
        },
        target: targeted.then_some(match p.target {
            Target::Staking => "staking",
            Target::Governance => "governance",
            _ => "market",
        }),
        route: if matches!(p.route, IGovernance::Route::Council) {
            "council"
        } else {
            "referendum"
        },
        term: U64::from(p.term),
        seated: p.seated,
        status: match p.status {
            Status::Voting => "voting",
            Status::Queued => "queued",
            Status::Enacted => "enacted",
            Status::Rejected => "rejected",
            Status::EnactmentFailed => "enactmentFailed",
            _ => "none",
        },
        vote_start: U64::from(p.voteStart),
        vote_end: U64::from(p.voteEnd),
        enact_at: U64::from(p.enactAt),
        deposit: p.deposit,
        for_votes: p.forVotes,
        against_votes: p.againstVotes,
        abstain_votes: p.abstainVotes,
        voters: U64::from(p.voters),
        description_hash: (!params).then_some(p.payloadHash),
        params_hash: params.then_some(p.payloadHash),
        base_version: p.baseVersion,
        validator_set_size: p.validatorSetSize,
        spend_to: p.spendTo,
        spend_amount: p.spendAmount,
        stream_blocks: U64::from(p.streamBlocks),
    }
}

/// `dbc_listProjects`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPage {
    /// Projects registered in all.
    pub total: U64,
    /// The page.
    pub projects: Vec<Project>,
    /// Offset of the next page, null after the last.
    pub next_offset: Option<U64>,
}

/// `dbc_getProjectRewards`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRewards {
    /// Accrued by the provider's machines, not yet settled.
    pub pending: U256,
    /// Releasable now (what a claim would mint).
    pub claimable: U256,
    /// Not yet released.
    pub vesting: U256,
    /// Minted so far.
    pub claimed: U256,
}

/// `dbc_` methods.
#[rpc(server, namespace = "dbc")]
pub trait DbcApi {
    /// Network GPU counts, burn rate, burned totals and supply.
    #[method(name = "networkStats", blocking)]
    fn network_stats(&self, block: Option<BlockId>) -> RpcResult<NetworkStats>;
    /// The treasury: balance, totals, what it received by source, and the reward pools'
    /// current emission.
    #[method(name = "treasury", blocking)]
    fn treasury(&self, block: Option<BlockId>) -> RpcResult<Treasury>;
    /// Sums every balance of the state at a block (default `latest`; O(accounts + changes
    /// since): for audits and tests) beside the ledger's `totalSupply` at that block.
    #[method(name = "auditSupply", blocking)]
    fn audit_supply(&self, block: Option<BlockId>) -> RpcResult<SupplyAudit>;
    /// The council in office, its runners-up, the next election and its candidates.
    #[method(name = "council", blocking)]
    fn council(&self, block: Option<BlockId>) -> RpcResult<CouncilJson>;
    /// One governance proposal, or null.
    #[method(name = "getProposal", blocking)]
    fn get_proposal(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<ProposalJson>>;
    /// A proposal's votes (null for an unknown proposal): `limit` (at most 100, default 100)
    /// from `offset`, in the order of each voter's first vote.
    #[method(name = "getProposalVotes", blocking)]
    fn get_proposal_votes(
        &self,
        id: U256,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<Option<VotePage>>;
    /// Governance proposals by id from `offset` (ids start at 1), at most 100.
    #[method(name = "listProposals", blocking)]
    fn list_proposals(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<ProposalPage>;
    /// The blocks of `fromBlock..=toBlock` (at most [`MAX_TREASURY_RANGE`]) in which the
    /// treasury received or spent anything, with the amounts by source, read from the state
    /// (so inflows made in block hooks, which have no receipt, are included).
    #[method(name = "treasuryHistory", blocking)]
    fn treasury_history(&self, from: BlockId, to: BlockId) -> RpcResult<Vec<TreasuryChange>>;
    /// One machine, or null.
    #[method(name = "getMachine", blocking)]
    fn get_machine(&self, id: B256, block: Option<BlockId>) -> RpcResult<Option<Machine>>;
    /// Machines in registration order: `limit` (at most 100, default 100) from `offset`.
    #[method(name = "listMachines", blocking)]
    fn list_machines(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<MachinePage>;
    /// One rental, or null.
    #[method(name = "getRental", blocking)]
    fn get_rental(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<Rental>>;
    /// Claimable, vesting and claimed rewards of an account.
    #[method(name = "getRewards", blocking)]
    fn get_rewards(&self, account: Address, block: Option<BlockId>) -> RpcResult<Rewards>;
    /// Logs of the end-of-block hooks in `block`: the market's (auditor draws, deadlines,
    /// heartbeat offline marks, liveness challenges, rental expiries and their burns), then
    /// staking's (elections) and governance's (votes counted, proposals enacted, treasury
    /// spends, parameter changes, streams, the burn floor's top-up). The hooks are system calls
    /// without a receipt, so `eth_getLogs` does not have them; the node stores them with the
    /// block. They come in `eth_getLogs`' format with null transaction fields and log indices
    /// after the block's receipt logs. Blocks committed by a build that did not store them get
    /// the market's, replayed.
    #[method(name = "getBlockHookLogs", blocking)]
    fn get_block_hook_logs(&self, block: BlockId) -> RpcResult<Vec<alloy_rpc_types_eth::Log>>;
    /// One mining project, or null.
    #[method(name = "getProject", blocking)]
    fn get_project(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<Project>>;
    /// Mining projects by id from `offset` (ids start at 1), at most 100.
    #[method(name = "listProjects", blocking)]
    fn list_projects(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<ProjectPage>;
    /// Machines enrolled in a mining project, `limit` (at most 100) from `offset`.
    #[method(name = "listProjectMachines", blocking)]
    fn list_project_machines(
        &self,
        id: U256,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<B256>>;
    /// A provider's rewards in a mining project.
    #[method(name = "getProjectRewards", blocking)]
    fn get_project_rewards(
        &self,
        id: U256,
        provider: Address,
        block: Option<BlockId>,
    ) -> RpcResult<ProjectRewards>;
    /// The GPU-model table in force (genesis, or as governance changed it): the models
    /// machines may register and their reference calc point per GPU.
    #[method(name = "gpuModels", blocking)]
    fn gpu_models(&self) -> RpcResult<Vec<GpuModelJson>>;
    /// The active validator set with each member's staking record.
    #[method(name = "getValidators", blocking)]
    fn get_validators(&self, block: Option<BlockId>) -> RpcResult<Vec<ValidatorJson>>;
    /// Pairs of RLP headers sealed by one validator for one slot that this node saw (submit
    /// them to `IStaking.submitDoubleSign`).
    #[method(name = "getDoubleSignEvidence")]
    fn get_double_sign_evidence(&self) -> RpcResult<Vec<DoubleSign>>;
}

/// A validator as `dbc_getValidators` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorJson {
    address: Address,
    self_stake: U256,
    total_stake: U256,
    commission_bps: U64,
    jailed_until: U64,
    missed_this_epoch: U64,
    commission_owed: U256,
}

/// Double-signing evidence.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoubleSign {
    header_a: Bytes,
    header_b: Bytes,
}

fn project_json(p: IProjectMining::Project) -> Project {
    Project {
        id: p.id,
        settler: p.settler,
        creator: p.creator,
        tokens_per_block: p.tokensPerBlock,
        budget: p.budget,
        start_block: U64::from(p.startBlock),
        end_block: U64::from(p.endBlock),
        distributed: p.distributed,
        settled: p.settled,
        total_weight: p.totalWeight,
        machines: p.machines,
        min_gpu_memory_gb: p.requirements.minGpuMemoryGb,
        min_calc_point: p.requirements.minCalcPoint,
        gpu_models: p.requirements.gpuModels.into_iter().map(short_string).collect(),
        immediate_bps: p.release.immediateBps,
        vesting_blocks: U64::from(p.release.vestingBlocks),
        attestor: p.attestor,
    }
}

/// Decodes a `bytes32` short string.
fn short_string(b: B256) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(32);
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn machine_status(s: u8) -> &'static str {
    match s {
        1 => "verifying",
        2 => "online",
        3 => "offline",
        4 => "rejected",
        5 => "exited",
        _ => "none",
    }
}

fn offline_reason(r: u8) -> Option<&'static str> {
    match r {
        1 => Some("idle"),
        2 => Some("ownerOffline"),
        3 => Some("unreachable"),
        _ => None,
    }
}

fn machine_json(m: IGpuMarket::Machine, endpoint: String) -> Machine {
    Machine {
        id: m.id,
        owner: m.owner,
        spec: MachineSpec {
            gpu_model: short_string(m.spec.gpuModel),
            gpu_count: m.spec.gpuCount,
            gpu_memory_gb: m.spec.gpuMemoryGb,
            cpu_cores: m.spec.cpuCores,
            ram_gb: m.spec.ramGb,
            disk_gb: m.spec.diskGb,
            region: short_string(m.spec.region),
            machine_key: m.spec.machineKey,
        },
        status: machine_status(m.status as u8),
        offline_reason: offline_reason(m.offlineReason as u8),
        calc_point: m.calcPoint,
        rented_gpus: m.rentedGpus,
        registered_at: U64::from(m.registeredAt),
        online_since: U64::from(m.onlineSince),
        offline_since: U64::from(m.offlineSince),
        last_heartbeat: U64::from(m.lastHeartbeat),
        rent_end: U64::from(m.rentEnd),
        stake: m.stake,
        price_per_gpu_block: m.pricePerGpuBlock,
        total_earned: m.totalEarned,
        open_challenge: (!m.openChallenge.is_zero()).then_some(m.openChallenge),
        endpoint: (!endpoint.is_empty()).then_some(endpoint),
    }
}

//! The `dbc_` namespace: the GPU market and project mining as JSON.
//!
//! Every method answers by a static call to the market precompile's views at the requested
//! block (default `latest`), so RPC and Solidity always agree. Quantities are hex like `eth_`;
//! `gpuModel` and `region` are the `bytes32` short strings decoded as text.

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

/// Result of a view call: decoded return or the revert data.
enum View<T> {
    Ok(T),
    Reverted(Bytes),
}

impl RpcContext {
    fn precompile_view<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
    ) -> RpcResult<View<C::Return>> {
        self.precompile_view_at(to, call, block, false)
    }

    /// A view at `block`, or (`pending_for_latest`, and `block` latest or unset) in the pending
    /// context: the block after the head, where a transaction sent now executes.
    fn precompile_view_at<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
        pending_for_latest: bool,
    ) -> RpcResult<View<C::Return>> {
        let mut sim = self.simulator_at(block, pending_for_latest, EvmOverrides::default())?;
        let request =
            TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into());
        let out = match sim.call(request) {
            Ok(out) if out.success => out,
            Ok(out) => return Ok(View::Reverted(out.output)),
            Err(dbc_evm::SimError::Revert { output }) => return Ok(View::Reverted(output)),
            Err(e) => return Err(rpc_err(e)),
        };
        C::abi_decode_returns(&out.output)
            .map(View::Ok)
            .map_err(|e| crate::error::internal(format!("market returned malformed data: {e}")))
    }

    /// A view of a record that may not exist: `None` when the precompile reverts with `Missing`
    /// (its "unknown id" error), any other revert is an error.
    fn precompile_opt<C: SolCall, Missing: SolError>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
    ) -> RpcResult<Option<C::Return>> {
        match self.precompile_view(to, call, block)? {
            View::Ok(v) => Ok(Some(v)),
            View::Reverted(data) if Missing::abi_decode(&data).is_ok() => Ok(None),
            View::Reverted(data) => Err(reverted(&data)),
        }
    }

    fn market_ok<C: SolCall>(&self, call: C, block: Option<BlockId>) -> RpcResult<C::Return> {
        self.precompile_ok(MARKET_ADDRESS, call, block)
    }

    /// A page of records numbered from 1 (`limit` at most [`MAX_PAGE`] from `offset`), all
    /// read at one block: `count` at `at_address` says how many exist, `item` reads one.
    /// Returns the total, the page and the next page's offset (null after the last).
    fn id_page<C: SolCall<Return = U256>, T>(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
        at_address: Address,
        count: C,
        mut item: impl FnMut(&Self, u64, Option<BlockId>) -> RpcResult<T>,
    ) -> RpcResult<(U64, Vec<T>, Option<U64>)> {
        let offset = offset.map_or(1, |o| o.to::<u64>()).max(1);
        let limit = limit.map_or(MAX_PAGE, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid_params(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        let at = Some(BlockId::number(self.resolve(block)?));
        let total: u64 = self.precompile_ok(at_address, count, at)?.saturating_to();
        let last = offset.saturating_add(limit - 1).min(total);
        let until = self.deadline();
        let mut page = Vec::new();
        for id in offset..=last {
            Self::check_deadline(until)?;
            page.push(item(self, id, at)?);
        }
        Ok((U64::from(total), page, (last < total).then(|| U64::from(last + 1))))
    }

    pub(crate) fn precompile_ok<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
    ) -> RpcResult<C::Return> {
        self.precompile_ok_at(to, call, block, false)
    }

    /// [`Self::precompile_ok`] in the pending context when `pending_for_latest` (see
    /// [`Self::precompile_view_at`]).
    pub(crate) fn precompile_ok_at<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
        pending_for_latest: bool,
    ) -> RpcResult<C::Return> {
        match self.precompile_view_at(to, call, block, pending_for_latest)? {
            View::Ok(v) => Ok(v),
            View::Reverted(data) => Err(reverted(&data)),
        }
    }
}

impl DbcApiServer for RpcContext {
    fn council(&self, block: Option<BlockId>) -> RpcResult<CouncilJson> {
        // Both reads at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let c = self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::councilCall {}, block)?;
        let cands =
            self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::candidatesCall {}, block)?;
        Ok(CouncilJson {
            term: U64::from(c.term),
            members: c.members,
            runners_up: c.runnersUp,
            term_end: U64::from(c.termEnd),
            freeze_start: U64::from(c.freezeStart),
            candidates: cands
                .into_iter()
                .map(|x| CandidateJson {
                    account: x.account,
                    bond: x.bond,
                    approval_stake: x.approvalStake,
                    carried: x.carried,
                })
                .collect(),
        })
    }

    fn network_stats(&self, block: Option<BlockId>) -> RpcResult<NetworkStats> {
        let s = self.market_ok(IGpuMarket::networkStatsCall {}, block)?;
        let staking_burned =
            self.precompile_ok(STAKING_ADDRESS, IStaking::totalBurnedCall {}, block)?;
        // The exact ledger of the governance precompile (every block's net balance change).
        let supply =
            self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::totalSupplyCall {}, block)?;
        Ok(NetworkStats {
            total_gpus: U64::from(s.totalGpus),
            online_gpus: U64::from(s.onlineGpus),
            rented_gpus: U64::from(s.rentedGpus),
            machines: U64::from(s.machines),
            burn_rate_bps: s.burnRateBps,
            total_burned: s.totalBurned,
            fees_burned: s.feesBurned,
            staking_burned,
            total_supply: supply,
            rewards_distributed: s.rewardsDistributed,
            reward_pool_remaining: s.rewardPoolRemaining,
        })
    }

    fn audit_supply(&self, block: Option<BlockId>) -> RpcResult<SupplyAudit> {
        let number = self.resolve(block)?;
        let (number, sum, accounts) = self
            .storage()
            .sum_balances_at(Some(number))
            .map_err(rpc_err)?
            .ok_or_else(crate::error::header_not_found)?;
        let total_supply = self.precompile_ok(
            GOVERNANCE_ADDRESS,
            IGovernance::totalSupplyCall {},
            Some(BlockId::number(number)),
        )?;
        Ok(SupplyAudit {
            block: U64::from(number),
            sum,
            accounts: U64::from(accounts),
            total_supply,
        })
    }

    fn get_proposal(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<ProposalJson>> {
        let call = IGovernance::getProposalCall { id };
        let p = self.precompile_opt::<_, IGovernance::UnknownProposal>(
            GOVERNANCE_ADDRESS,
            call,
            block,
        )?;
        Ok(p.map(proposal_json))
    }

    fn get_proposal_votes(
        &self,
        id: U256,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<Option<VotePage>> {
        // Both reads at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let call = IGovernance::getProposalCall { id };
        let Some(p) = self.precompile_opt::<_, IGovernance::UnknownProposal>(
            GOVERNANCE_ADDRESS,
            call,
            block,
        )?
        else {
            return Ok(None);
        };
        let offset = offset.map_or(0, |o| o.to::<u64>());
        let limit = limit.map_or(100, |l| l.to::<u64>()).min(100);
        let call = IGovernance::proposalVotersCall {
            id,
            offset: U256::from(offset),
            limit: U256::from(limit),
        };
        let page = self.precompile_ok(GOVERNANCE_ADDRESS, call, block)?;
        let votes: Vec<VoteJson> = page
            .voters
            .into_iter()
            .zip(page.support)
            .zip(page.weights)
            .map(|((voter, support), weight)| VoteJson {
                voter,
                support: match support {
                    0 => "against",
                    1 => "for",
                    _ => "abstain",
                },
                weight,
            })
            .collect();
        let end = offset.saturating_add(votes.len() as u64);
        Ok(Some(VotePage {
            total: U64::from(p.voters),
            next_offset: (end < p.voters && !votes.is_empty()).then_some(U64::from(end)),
            votes,
        }))
    }

    fn list_proposals(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<ProposalPage> {
        let count = IGovernance::proposalCountCall {};
        let (total, proposals, next_offset) =
            self.id_page(offset, limit, block, GOVERNANCE_ADDRESS, count, |this, id, at| {
                let call = IGovernance::getProposalCall { id: U256::from(id) };
                Ok(proposal_json(this.precompile_ok(GOVERNANCE_ADDRESS, call, at)?))
            })?;
        Ok(ProposalPage { total, proposals, next_offset })
    }

    fn treasury_history(&self, from: BlockId, to: BlockId) -> RpcResult<Vec<TreasuryChange>> {
        use dbc_storage::StateReader;
        let (from, to) = (self.resolve(Some(from))?, self.resolve(Some(to))?);
        if from > to {
            return Err(invalid_params("fromBlock is after toBlock"));
        }
        if to - from >= MAX_TREASURY_RANGE {
            return Err(crate::error::server_error(format!(
                "query exceeds max block range {MAX_TREASURY_RANGE}"
            )));
        }
        let slots = dbc_precompiles::governance::treasury_slots();
        let limit = usize::try_from(MAX_TREASURY_RANGE).unwrap_or(usize::MAX);
        let storage = self.storage();
        let mut blocks = storage
            .storage_change_blocks(&GOVERNANCE_ADDRESS, &slots.received, from, to, limit)
            .map_err(rpc_err)?;
        blocks.extend(
            storage
                .storage_change_blocks(&GOVERNANCE_ADDRESS, &slots.spent, from, to, limit)
                .map_err(rpc_err)?,
        );
        blocks.sort_unstable();
        blocks.dedup();
        // The counters at a block: spent, then each source's total.
        let counters = |n: u64| -> RpcResult<(U256, [U256; 9])> {
            let state = storage.state_at(n);
            let read = |slot| state.storage(GOVERNANCE_ADDRESS, slot).map_err(rpc_err);
            let mut by_source = [U256::ZERO; 9];
            for (v, slot) in by_source.iter_mut().zip(slots.by_source) {
                *v = read(slot)?;
            }
            Ok((read(slots.spent)?, by_source))
        };
        let mut out = Vec::with_capacity(blocks.len());
        for n in blocks {
            // The counters only grow: the change of a block is its value less its parent's.
            let (spent, by_source) = counters(n)?;
            let (spent_before, before) = match n.checked_sub(1) {
                Some(parent) => counters(parent)?,
                None => (U256::ZERO, [U256::ZERO; 9]),
            };
            let d: [U256; 9] = std::array::from_fn(|i| by_source[i].saturating_sub(before[i]));
            let balance = storage
                .state_at(n)
                .account(GOVERNANCE_ADDRESS)
                .map_err(rpc_err)?
                .map_or(U256::ZERO, |a| a.balance);
            out.push(TreasuryChange {
                block: U64::from(n),
                balance,
                received: d.iter().fold(U256::ZERO, |a, v| a.saturating_add(*v)),
                spent: spent.saturating_sub(spent_before),
                received_by_source: TreasurySources {
                    machine_slash: d[0],
                    auditor_penalty: d[1],
                    rejected_machine: d[2],
                    lost_report_deposit: d[3],
                    validator_slash: d[4],
                    lost_proposal_deposit: d[5],
                    lost_candidacy_bond: d[6],
                    burn_floor: d[7],
                    donation: d[8],
                },
            });
        }
        Ok(out)
    }

    fn treasury(&self, block: Option<BlockId>) -> RpcResult<Treasury> {
        // Every read at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let gov = |this: &Self, source: u8| {
            this.precompile_ok(
                GOVERNANCE_ADDRESS,
                IGovernance::treasuryReceivedCall { source },
                block,
            )
        };
        let t = self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::treasuryCall {}, block)?;
        let rate = |this: &Self, target| {
            this.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::emissionRateCall { target }, block)
        };
        let gpu = rate(self, IGovernance::Target::Market)?;
        let validators = rate(self, IGovernance::Target::Staking)?;
        Ok(Treasury {
            balance: t.balance,
            available: t.available,
            received: t.received,
            spent: t.spent,
            reserved: t.reserved,
            received_by_source: TreasurySources {
                machine_slash: gov(self, 1)?,
                auditor_penalty: gov(self, 2)?,
                rejected_machine: gov(self, 3)?,
                lost_report_deposit: gov(self, 4)?,
                validator_slash: gov(self, 5)?,
                lost_proposal_deposit: gov(self, 6)?,
                lost_candidacy_bond: gov(self, 7)?,
                burn_floor: gov(self, 8)?,
                donation: gov(self, 9)?,
            },
            gpu_emission_per_block: gpu.perBlock,
            validator_emission_per_block: validators.perBlock,
            emission_era: gpu.era,
        })
    }

    fn get_machine(&self, id: B256, block: Option<BlockId>) -> RpcResult<Option<Machine>> {
        // Both reads at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let call = IGpuMarket::getMachineCall { machineId: id };
        let Some(m) =
            self.precompile_opt::<_, IGpuMarket::UnknownMachine>(MARKET_ADDRESS, call, block)?
        else {
            return Ok(None);
        };
        let endpoint = self.market_ok(IGpuMarket::endpointOfCall { machineId: id }, block)?;
        Ok(Some(machine_json(m, endpoint)))
    }

    fn list_machines(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<MachinePage> {
        let offset = offset.map_or(0, |o| o.to::<u64>());
        let limit = limit.map_or(MAX_PAGE, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid_params(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        // One block for the whole page, even if the head moves meanwhile.
        let number = self.resolve(block)?;
        let at = Some(BlockId::number(number));
        let total: u64 = self.market_ok(IGpuMarket::machineCountCall {}, at)?.saturating_to();
        let end = offset.saturating_add(limit).min(total);
        let until = self.deadline();
        let mut machines = Vec::new();
        for index in offset..end {
            Self::check_deadline(until)?;
            let id =
                self.market_ok(IGpuMarket::machineIdAtCall { index: U256::from(index) }, at)?;
            let m = self.market_ok(IGpuMarket::getMachineCall { machineId: id }, at)?;
            let endpoint = self.market_ok(IGpuMarket::endpointOfCall { machineId: id }, at)?;
            machines.push(machine_json(m, endpoint));
        }
        Ok(MachinePage {
            total: U64::from(total),
            machines,
            next_offset: (end < total).then(|| U64::from(end)),
        })
    }

    fn get_rental(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<Rental>> {
        let call = IGpuMarket::getRentalCall { rentalId: id };
        let Some(r) =
            self.precompile_opt::<_, IGpuMarket::UnknownRental>(MARKET_ADDRESS, call, block)?
        else {
            return Ok(None);
        };
        Ok(Some(Rental {
            id: r.id,
            machine_id: r.machineId,
            renter: r.renter,
            gpus: r.gpus,
            burn_bps: r.burnBps,
            status: if r.status as u8 == 1 { "active" } else { "ended" },
            start: U64::from(r.start),
            end: U64::from(r.end),
            paid: r.paid,
            refunded: r.refunded,
            burned: r.burned,
        }))
    }

    fn get_block_hook_logs(&self, block: BlockId) -> RpcResult<Vec<alloy_rpc_types_eth::Log>> {
        let number = self.resolve(Some(block))?;
        let Some(block) = self.storage().block(number).map_err(rpc_err)? else {
            return Err(crate::error::header_not_found());
        };
        if number == 0 {
            return Ok(Vec::new());
        }
        let logs = match self.storage().hook_logs(number).map_err(rpc_err)? {
            Some(logs) => logs,
            None => {
                let parent = self.storage().state_at(number - 1);
                dbc_evm::trace::market_hook_logs(self.spec(), &block, parent, self.deadline())
                    .map_err(rpc_err)?
            }
        };
        let receipts = self.storage().receipts(number).map_err(rpc_err)?.unwrap_or_default();
        let first =
            receipts.iter().map(|r| alloy_consensus::TxReceipt::logs(r).len() as u64).sum::<u64>();
        Ok(logs
            .into_iter()
            .enumerate()
            .map(|(i, inner)| alloy_rpc_types_eth::Log {
                inner,
                block_hash: Some(block.hash()),
                block_number: Some(number),
                block_timestamp: Some(block.header.timestamp),
                transaction_hash: None,
                transaction_index: None,
                log_index: Some(first + i as u64),
                removed: false,
            })
            .collect())
    }

    fn get_project(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<Project>> {
        let call = IProjectMining::getProjectCall { projectId: id };
        let p =
            self.precompile_opt::<_, IProjectMining::UnknownProject>(MINING_ADDRESS, call, block)?;
        Ok(p.map(project_json))
    }

    fn list_projects(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<ProjectPage> {
        let count = IProjectMining::projectCountCall {};
        let (total, projects, next_offset) =
            self.id_page(offset, limit, block, MINING_ADDRESS, count, |this, id, at| {
                let call = IProjectMining::getProjectCall { projectId: U256::from(id) };
                Ok(project_json(this.precompile_ok(MINING_ADDRESS, call, at)?))
            })?;
        Ok(ProjectPage { total, projects, next_offset })
    }

    fn list_project_machines(
        &self,
        id: U256,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<B256>> {
        let offset = offset.map_or(0, |o| o.to::<u64>());
        let limit = limit.map_or(MAX_PAGE, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid_params(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        let at = Some(BlockId::number(self.resolve(block)?));
        let p = self.precompile_ok(
            MINING_ADDRESS,
            IProjectMining::getProjectCall { projectId: id },
            at,
        )?;
        let end = offset.saturating_add(limit).min(u64::from(p.machines));
        let until = self.deadline();
        (offset..end)
            .map(|i| {
                Self::check_deadline(until)?;
                let call =
                    IProjectMining::enrolledMachineAtCall { projectId: id, index: U256::from(i) };
                self.precompile_ok(MINING_ADDRESS, call, at)
            })
            .collect()
    }

    fn get_project_rewards(
        &self,
        id: U256,
        provider: Address,
        block: Option<BlockId>,
    ) -> RpcResult<ProjectRewards> {
        let call = IProjectMining::rewardsOfCall { projectId: id, provider };
        let r = self.precompile_ok(MINING_ADDRESS, call, block)?;
        Ok(ProjectRewards {
            pending: r.pending,
            claimable: r.claimable,
            vesting: r.vesting,
            claimed: r.claimed,
        })
    }

    fn get_validators(&self, block: Option<BlockId>) -> RpcResult<Vec<ValidatorJson>> {
        let set = self.precompile_ok(STAKING_ADDRESS, IStaking::activeValidatorsCall {}, block)?;
        let until = self.deadline();
        set.into_iter()
            .map(|a| {
                Self::check_deadline(until)?;
                let v = self.precompile_ok(
                    STAKING_ADDRESS,
                    IStaking::getValidatorCall { validator: a },
                    block,
                )?;
                Ok(ValidatorJson {
                    address: a,
                    self_stake: v.selfStake,
                    total_stake: v.totalStake,
                    commission_bps: U64::from(v.commissionBps),
                    jailed_until: U64::from(v.jailedUntil),
                    missed_this_epoch: U64::from(v.missedThisEpoch),
                    commission_owed: v.commissionOwed,
                })
            })
            .collect()
    }

    fn gpu_models(&self) -> RpcResult<Vec<GpuModelJson>> {
        Ok(self
            .running_params(None, false)?
            .1
            .market
            .gpu_models
            .iter()
            .map(|g| GpuModelJson {
                model: g.model.clone(),
                calc_point: g.calc_point,
                memory_gb: g.memory_gb,
            })
            .collect())
    }

    fn get_double_sign_evidence(&self) -> RpcResult<Vec<DoubleSign>> {
        Ok(self
            .net()
            .double_signs
            .lock()
            .iter()
            .map(|(a, b)| DoubleSign { header_a: a.clone(), header_b: b.clone() })
            .collect())
    }

    fn get_rewards(&self, account: Address, block: Option<BlockId>) -> RpcResult<Rewards> {
        let r = self.market_ok(IGpuMarket::rewardsOfCall { account }, block)?;
        Ok(Rewards { claimable: r.claimable, vesting: r.vesting, claimed: r.claimed })
    }
}

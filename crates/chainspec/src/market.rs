//! Parameters of the GPU market precompile (`config.dbc.market` in the genesis file).

use alloy_primitives::{Address, U256, address};
use serde::{Deserialize, Serialize};

use crate::{EmissionSchedule, MAX_DURATION_BLOCKS, emission::YEAR_BLOCKS};

/// One DBC in wei.
pub const DBC: u128 = 1_000_000_000_000_000_000;

/// Address of the GPU market precompile.
pub const MARKET_ADDRESS: Address = address!("0x0000000000000000000000000000000000000D01");

/// Address of the project-mining precompile.
pub const MINING_ADDRESS: Address = address!("0x0000000000000000000000000000000000000D02");

/// A burn tier: from `from_gpus` online GPUs on, `bps` of rent is burned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurnTier {
    /// Online GPUs from which the tier applies.
    pub from_gpus: u64,
    /// Share of rent burned, in basis points.
    pub bps: u16,
}

/// Which GPU count selects the burn tier (`burnTierBasis` in the genesis file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BurnBasis {
    /// GPUs of verified machines that are online when the rental starts (the default).
    #[default]
    Online,
    /// GPUs of every registered machine that has not exited.
    Registered,
}

/// A slash tier: an offline period shorter than `under_blocks` (or any, when `None`) costs `bps`
/// of the machine's stake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlashTier {
    /// Upper bound (exclusive) of the offline period in blocks; `None` for the last tier.
    pub under_blocks: Option<u64>,
    /// Share of the stake slashed, in basis points.
    pub bps: u16,
}

/// A row of the GPU-model table: a machine's calc point comes from here, not from opinion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GpuModel {
    /// Model name as machines register it (`bytes32`, left-aligned, at most 32 bytes).
    pub model: String,
    /// Reference calc point of one GPU of this model (the benchmark auditors measure).
    pub calc_point: u32,
    /// Memory per GPU in GB.
    pub memory_gb: u32,
}

impl GpuModel {
    /// The model name as the ABI's `bytes32` (left-aligned, zero-padded).
    pub fn key(&self) -> alloy_primitives::B256 {
        let mut b = [0u8; 32];
        let n = self.model.len().min(32);
        b[..n].copy_from_slice(&self.model.as_bytes()[..n]);
        alloy_primitives::B256::from(b)
    }
}

/// Economic parameters of the GPU market. Amounts are in wei, durations in blocks, shares in
/// basis points (1/100 of a percent). Defaults follow `shared/docs/dbc-reference.md` at 6 s
/// blocks (14,400 blocks a day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MarketParams {
    /// Stake per GPU a provider locks when registering a machine.
    pub stake_per_gpu: U256,
    /// Minimum stake of a committee member (auditor).
    pub auditor_stake: U256,
    /// Share of an auditor's stake lost for voting with the minority or not revealing.
    pub auditor_penalty_bps: u16,
    /// Share of each machine reward paid to the auditors who verified it.
    pub auditor_reward_bps: u16,
    /// Blocks between a registration (or report) and the random draw of its auditors.
    pub draw_delay_blocks: u64,
    /// Blocks auditors have to commit.
    pub commit_window_blocks: u64,
    /// Blocks auditors have to reveal once the reveal phase opens.
    pub reveal_window_blocks: u64,
    /// Share of the stake a machine rejected by verification loses.
    pub reject_slash_bps: u16,
    /// Calc point of the reference GPU (the price of `standardPricePerGpuBlock` is for it).
    pub standard_calc_point: u32,
    /// GPU models machines may register with, and their reference calc point per GPU.
    pub gpu_models: Vec<GpuModel>,
    /// How far (basis points of the table value) an auditor's measured calc point may be from
    /// the model's table value for its vote to approve.
    pub calc_point_tolerance_bps: u16,
    /// Every this many blocks, each online machine may be challenged (see `challengeChanceBps`).
    pub challenge_check_blocks: u64,
    /// Chance (basis points) that a check opens a liveness challenge: drawn from the block's
    /// randomness when the check is due, so nobody knows in advance which check will.
    pub challenge_chance_bps: u16,
    /// Price per GPU per block of a machine with the standard calc point.
    pub standard_price_per_gpu_block: U256,
    /// Lowest price an owner may set, as a share of the standard price for the machine's calc
    /// point (security review H7: no 1-wei self-dealing rentals).
    pub min_price_bps: u16,
    /// Rental durations are multiples of this many blocks (30 min).
    pub rent_unit_blocks: u64,
    /// Longest rental (60 days).
    pub max_rent_blocks: u64,
    /// Burn tiers by GPU count, ascending `fromGpus`, the first from 0. The defaults follow the
    /// seed text: within 5,000 GPUs 30%, above 5,000 70%, from 10,000 100%.
    pub burn_tiers: Vec<BurnTier>,
    /// Which GPU count selects the tier: `online` (default) or `registered`.
    pub burn_tier_basis: BurnBasis,
    /// Release of the GPU reward pool over time, shared among online machines by grade
    /// (decaying by era; see [`crate::EmissionSchedule`]).
    pub emission: EmissionSchedule,
    /// Blocks per epoch (1 day).
    pub epoch_blocks: u64,
    /// Size of the pre-funded reward pool (the market account's genesis balance must cover it).
    pub reward_pool: U256,
    /// Share of each reward claimable at once; the rest vests.
    pub immediate_bps: u16,
    /// Blocks over which the vesting share is released linearly (150 days).
    pub vesting_blocks: u64,
    /// Grade bonus of a fully rented machine (30%), pro rata to its rented GPUs.
    pub rented_bonus_bps: u16,
    /// A machine without a heartbeat for this many blocks goes offline.
    pub heartbeat_timeout_blocks: u64,
    /// Minimum blocks online before a machine may exit (365 days).
    pub min_online_blocks: u64,
    /// Blocks after the last rental before a machine may exit (10 days).
    pub exit_cooldown_blocks: u64,
    /// Slash tiers when the owner takes a rented machine offline.
    pub owner_offline_slash: Vec<SlashTier>,
    /// Slash tiers when a rented machine is unreachable (missed heartbeats, confirmed fault).
    pub unreachable_slash: Vec<SlashTier>,
    /// Share of a slash paid to the affected renter.
    pub slash_renter_bps: u16,
    /// Share of a slash paid to the machine's auditors.
    pub slash_auditors_bps: u16,
    /// Deposit of a fault report.
    pub report_deposit: U256,
    /// Mining projects (precompile `0x…0D02`) a machine may serve at once.
    pub max_projects_per_machine: u32,
}

/// The initial GPU-model table: per-GPU calc points relative to the RTX 4090 (1,000, the
/// standard), from dense FP16 tensor throughput. Governance (issue #17) will maintain it.
pub fn default_gpu_models() -> Vec<GpuModel> {
    [
        ("RTX 3080", 420, 10),
        ("RTX 3090", 500, 24),
        ("RTX 4080", 600, 16),
        ("RTX 4090", 1_000, 24),
        ("RTX 5090", 1_270, 32),
        ("A100 40GB", 1_890, 40),
        ("A100 80GB", 1_890, 80),
        ("H100 80GB", 6_000, 80),
    ]
    .iter()
    .map(|&(m, cp, mem)| GpuModel { model: m.into(), calc_point: cp, memory_gb: mem })
    .collect()
}

/// Most mining projects one machine may serve at once (`maxProjectsPerMachine`).
pub(crate) const MAX_PROJECTS_PER_MACHINE: u32 = 16;

/// Most rows the GPU-model table may have (a lookup scans it).
pub const MAX_GPU_MODELS: usize = 256;

fn dbc(n: u128) -> U256 {
    U256::from(n) * U256::from(DBC)
}

fn tiers(t: [(Option<u64>, u16); 4]) -> Vec<SlashTier> {
    t.iter().map(|&(under_blocks, bps)| SlashTier { under_blocks, bps }).collect()
}

impl Default for MarketParams {
    fn default() -> Self {
        const DAY: u64 = 14_400;
        Self {
            stake_per_gpu: dbc(1_000),
            auditor_stake: dbc(10_000),
            auditor_penalty_bps: 1_000,
            auditor_reward_bps: 100,
            draw_delay_blocks: 2,
            commit_window_blocks: 600,
            reveal_window_blocks: 600,
            reject_slash_bps: 500,
            standard_calc_point: 1_000,
            gpu_models: default_gpu_models(),
            calc_point_tolerance_bps: 1_000,
            // Hourly checks, each a challenge with a 1-in-24 chance: about one a day.
            challenge_check_blocks: 600,
            challenge_chance_bps: 417,
            // 0.01 DBC per GPU per block = 144 DBC per GPU per day for a standard machine.
            standard_price_per_gpu_block: U256::from(DBC / 100),
            min_price_bps: 5_000,
            rent_unit_blocks: 300,
            max_rent_blocks: 60 * DAY,
            burn_tiers: vec![
                BurnTier { from_gpus: 0, bps: 3_000 },
                BurnTier { from_gpus: 5_001, bps: 7_000 },
                BurnTier { from_gpus: 10_000, bps: 10_000 },
            ],
            burn_tier_basis: BurnBasis::Online,
            // 400M DBC a year for GPU mining for 3 years, then 12.5% less each year for 97
            // years; the 100th year releases what is left of the pool.
            emission: EmissionSchedule::yearly(dbc(400_000_000) / U256::from(YEAR_BLOCKS)),
            epoch_blocks: DAY,
            reward_pool: dbc(4_000_000_000),
            immediate_bps: 2_500,
            vesting_blocks: 150 * DAY,
            rented_bonus_bps: 3_000,
            heartbeat_timeout_blocks: 100,
            min_online_blocks: 365 * DAY,
            exit_cooldown_blocks: 10 * DAY,
            owner_offline_slash: tiers([
                (Some(70), 200),
                (Some(2 * DAY), 400),
                (Some(5 * DAY), 3_000),
                (None, 5_000),
            ]),
            unreachable_slash: tiers([
                (Some(70), 400),
                (Some(2 * DAY), 800),
                (Some(5 * DAY), 6_000),
                (None, 10_000),
            ]),
            slash_renter_bps: 1_000,
            slash_auditors_bps: 2_000,
            report_deposit: dbc(100),
            max_projects_per_machine: 3,
        }
    }
}

impl MarketParams {
    /// The table row of `model` (a registered `bytes32` name).
    pub fn gpu_model(&self, model: alloy_primitives::B256) -> Option<&GpuModel> {
        self.gpu_models.iter().find(|g| g.key() == model)
    }

    /// Checks the parameters are consistent; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let bps = |name: &str, v: u16| {
            if v > 10_000 { Err(format!("market.{name} = {v} exceeds 10000 bps")) } else { Ok(()) }
        };
        bps("auditorPenaltyBps", self.auditor_penalty_bps)?;
        bps("auditorRewardBps", self.auditor_reward_bps)?;
        bps("rejectSlashBps", self.reject_slash_bps)?;
        bps("immediateBps", self.immediate_bps)?;
        bps("rentedBonusBps", self.rented_bonus_bps)?;
        bps("minPriceBps", self.min_price_bps)?;
        bps("slashRenterBps", self.slash_renter_bps)?;
        bps("slashAuditorsBps", self.slash_auditors_bps)?;
        bps("calcPointToleranceBps", self.calc_point_tolerance_bps)?;
        bps("challengeChanceBps", self.challenge_chance_bps)?;
        if self.gpu_models.is_empty() || self.gpu_models.len() > MAX_GPU_MODELS {
            return Err(format!("market.gpuModels must have 1 to {MAX_GPU_MODELS} rows"));
        }
        for (i, g) in self.gpu_models.iter().enumerate() {
            if g.model.is_empty() || g.model.len() > 32 || g.model.contains('\0') {
                return Err(format!("market.gpuModels: {:?} is not a 1-32 byte name", g.model));
            }
            if g.calc_point == 0 || g.memory_gb == 0 {
                return Err(format!(
                    "market.gpuModels: {} needs a calcPoint and memoryGb",
                    g.model
                ));
            }
            if self.gpu_models[..i].iter().any(|o| o.model == g.model) {
                return Err(format!("market.gpuModels: {} appears twice", g.model));
            }
        }
        if u32::from(self.slash_renter_bps) + u32::from(self.slash_auditors_bps) > 10_000 {
            return Err("market.slashRenterBps + slashAuditorsBps exceed 10000".into());
        }
        for (name, v) in [
            ("epochBlocks", self.epoch_blocks),
            ("vestingBlocks", self.vesting_blocks),
            ("rentUnitBlocks", self.rent_unit_blocks),
            ("drawDelayBlocks", self.draw_delay_blocks),
            ("commitWindowBlocks", self.commit_window_blocks),
            ("revealWindowBlocks", self.reveal_window_blocks),
            ("heartbeatTimeoutBlocks", self.heartbeat_timeout_blocks),
            ("challengeCheckBlocks", self.challenge_check_blocks),
        ] {
            if v == 0 {
                return Err(format!("market.{name} must be positive"));
            }
        }
        for (name, v) in [
            ("epochBlocks", self.epoch_blocks),
            ("vestingBlocks", self.vesting_blocks),
            ("rentUnitBlocks", self.rent_unit_blocks),
            ("maxRentBlocks", self.max_rent_blocks),
            ("drawDelayBlocks", self.draw_delay_blocks),
            ("commitWindowBlocks", self.commit_window_blocks),
            ("revealWindowBlocks", self.reveal_window_blocks),
            ("heartbeatTimeoutBlocks", self.heartbeat_timeout_blocks),
            ("challengeCheckBlocks", self.challenge_check_blocks),
            ("minOnlineBlocks", self.min_online_blocks),
            ("exitCooldownBlocks", self.exit_cooldown_blocks),
        ]
        .into_iter()
        .chain(
            self.owner_offline_slash
                .iter()
                .chain(&self.unreachable_slash)
                .filter_map(|t| t.under_blocks)
                .map(|b| ("slash tier underBlocks", b)),
        ) {
            if v > MAX_DURATION_BLOCKS {
                return Err(format!("market.{name} = {v} exceeds {MAX_DURATION_BLOCKS} blocks"));
            }
        }
        if self.max_projects_per_machine > MAX_PROJECTS_PER_MACHINE {
            return Err(format!(
                "market.maxProjectsPerMachine = {} exceeds {MAX_PROJECTS_PER_MACHINE} (the block \
                 hook visits every project of a machine)",
                self.max_projects_per_machine
            ));
        }
        if self.standard_calc_point == 0 {
            return Err("market.standardCalcPoint must be positive".into());
        }
        if self.max_rent_blocks < self.rent_unit_blocks {
            return Err("market.maxRentBlocks is shorter than rentUnitBlocks".into());
        }
        match self.burn_tiers.first() {
            Some(t) if t.from_gpus == 0 => {}
            _ => return Err("market.burnTiers must start with a tier from 0 GPUs".into()),
        }
        for w in self.burn_tiers.windows(2) {
            if w[1].from_gpus <= w[0].from_gpus {
                return Err("market.burnTiers must be in ascending fromGpus order".into());
            }
        }
        for t in &self.burn_tiers {
            bps("burnTiers.bps", t.bps)?;
        }
        for (name, list) in [
            ("ownerOfflineSlash", &self.owner_offline_slash),
            ("unreachableSlash", &self.unreachable_slash),
        ] {
            if list.last().is_none_or(|t| t.under_blocks.is_some()) {
                return Err(format!("market.{name} must end with a tier without underBlocks"));
            }
            for t in list {
                bps(name, t.bps)?;
            }
            for w in list.windows(2) {
                match (w[0].under_blocks, w[1].under_blocks) {
                    (Some(a), Some(b)) if b > a => {}
                    (Some(_), None) => {}
                    _ => {
                        return Err(format!(
                            "market.{name} must be in ascending underBlocks order"
                        ));
                    }
                }
            }
        }
        self.emission.validate("market.emission", self.reward_pool)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let p = MarketParams::default();
        p.validate().unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: MarketParams = serde_json::from_str(&json).unwrap();
        assert_eq!(p, back);
    }

    #[test]
    fn rejects_bad_tiers() {
        let mut p = MarketParams::default();
        p.burn_tiers[1].from_gpus = 0;
        assert!(p.validate().unwrap_err().contains("ascending"));
        let mut p = MarketParams::default();
        p.owner_offline_slash.pop();
        assert!(p.validate().unwrap_err().contains("without underBlocks"));
        let p = MarketParams { slash_renter_bps: 9_000, ..MarketParams::default() };
        assert!(p.validate().is_err());
    }
}

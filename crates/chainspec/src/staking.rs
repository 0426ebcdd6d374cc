//! Parameters of the staking precompile and of proof-of-stake consensus
//! (`config.dbc.staking` in the genesis file).

use alloy_primitives::{Address, U256, address};
use serde::{Deserialize, Serialize};

use crate::{EmissionSchedule, MAX_DURATION_BLOCKS, market::DBC};

/// Upper bound of `maxCandidates` (bounds the election's work in one block hook).
pub const MAX_CANDIDATES: u32 = 1_000;

/// Address of the staking precompile.
pub const STAKING_ADDRESS: Address = address!("0x0000000000000000000000000000000000000D03");

/// A validator of the genesis set: its stake is bonded from block 1 as its own delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisValidator {
    /// Signing address (seals blocks and votes; owns the self-stake).
    pub address: Address,
    /// Self-stake in wei (held by the staking account from genesis).
    pub stake: U256,
    /// Commission on delegators' rewards, in basis points.
    #[serde(default)]
    pub commission_bps: u16,
}

/// Staking and consensus parameters. Amounts in wei, durations in blocks, shares in basis
/// points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct StakingParams {
    /// Blocks per epoch; the active set is elected at every multiple (14,400 = 24 h at 6 s).
    pub epoch_blocks: u64,
    /// Size of the active set (21).
    pub max_validators: u32,
    /// Most registered candidates (bounds the election's work).
    pub max_candidates: u32,
    /// Least self-stake of a candidate.
    pub min_self_stake: U256,
    /// Least delegation.
    pub min_delegation: U256,
    /// Blocks undelegated stake stays locked (14 days).
    pub unbonding_blocks: u64,
    /// Reward of each block's proposer, paid out of the pool: decaying by era (see
    /// [`crate::EmissionSchedule`]).
    pub emission: EmissionSchedule,
    /// Pre-allocated block-reward pool (the staking account's genesis balance must cover it
    /// plus the genesis validators' stakes). Issuance stops when it is spent.
    pub reward_pool: U256,
    /// Highest commission.
    pub max_commission_bps: u16,
    /// Largest commission increase of one `setCommission` (an increase waits for the first
    /// epoch boundary at least `epochBlocks` away; decreases apply at once).
    pub max_commission_increase_bps: u16,
    /// Share of a validator's bonded stake slashed for double signing.
    pub double_sign_slash_bps: u16,
    /// Share of the slash paid to whoever submits the evidence.
    pub evidence_reward_bps: u16,
    /// Share of the rest of a slash (after the evidence reward) paid to the treasury
    /// (`0x…0D04`); the remainder is burned. 100% by default, as in Polkadot.
    pub slash_treasury_bps: u16,
    /// Missed slots in one epoch that jail a validator.
    pub downtime_jail_missed: u32,
    /// Share of bonded stake slashed when jailed for downtime.
    pub downtime_slash_bps: u16,
    /// Blocks a jailed validator must wait before `unjail`.
    pub jail_blocks: u64,
    /// The genesis validator set (empty on the dev chain, which has a single dev sealer).
    pub validators: Vec<GenesisValidator>,
}

impl Default for StakingParams {
    fn default() -> Self {
        let dbc = |n: u128| U256::from(n) * U256::from(DBC);
        Self {
            epoch_blocks: 14_400,
            max_validators: 21,
            max_candidates: 200,
            min_self_stake: dbc(10_000),
            min_delegation: dbc(1),
            unbonding_blocks: 14 * 14_400,
            // 19 DBC a block (99.9M DBC a year) for 3 years, then 12.5% less each year; the
            // 100th year releases what is left of the pool.
            emission: EmissionSchedule::yearly(dbc(19)),
            reward_pool: dbc(1_000_000_000),
            max_commission_bps: 10_000,
            max_commission_increase_bps: 500,
            double_sign_slash_bps: 500,
            evidence_reward_bps: 1_000,
            slash_treasury_bps: 10_000,
            downtime_jail_missed: 50,
            downtime_slash_bps: 10,
            jail_blocks: 14_400,
            validators: Vec::new(),
        }
    }
}

impl StakingParams {
    /// Checks ranges and the genesis set.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("maxCommissionBps", self.max_commission_bps),
            ("maxCommissionIncreaseBps", self.max_commission_increase_bps),
            ("doubleSignSlashBps", self.double_sign_slash_bps),
            ("evidenceRewardBps", self.evidence_reward_bps),
            ("slashTreasuryBps", self.slash_treasury_bps),
            ("downtimeSlashBps", self.downtime_slash_bps),
        ] {
            if v > 10_000 {
                return Err(format!("staking.{name} = {v} exceeds 10000 bps"));
            }
        }
        if self.epoch_blocks == 0 || self.max_validators == 0 {
            return Err("staking.epochBlocks and staking.maxValidators must be positive".into());
        }
        for (name, v) in [
            ("epochBlocks", self.epoch_blocks),
            ("unbondingBlocks", self.unbonding_blocks),
            ("jailBlocks", self.jail_blocks),
        ] {
            if v > MAX_DURATION_BLOCKS {
                return Err(format!("staking.{name} = {v} exceeds {MAX_DURATION_BLOCKS} blocks"));
            }
        }
        if self.max_candidates > MAX_CANDIDATES {
            return Err(format!(
                "staking.maxCandidates = {} exceeds {MAX_CANDIDATES} (the election reads every \
                 candidate in one block)",
                self.max_candidates
            ));
        }
        if self.max_candidates < self.max_validators {
            return Err("staking.maxCandidates must be at least maxValidators".into());
        }
        if self.validators.len() > self.max_validators as usize {
            return Err("staking.validators is larger than maxValidators".into());
        }
        let mut seen = std::collections::HashSet::new();
        for v in &self.validators {
            if !seen.insert(v.address) {
                return Err(format!("staking.validators lists {} twice", v.address));
            }
            if v.stake < self.min_self_stake {
                return Err(format!(
                    "genesis validator {} stakes less than minSelfStake",
                    v.address
                ));
            }
            if v.commission_bps > self.max_commission_bps {
                return Err(format!("genesis validator {} commission too high", v.address));
            }
        }
        self.emission.validate("staking.emission", self.reward_pool)
    }

    /// Sum of the genesis validators' stakes.
    pub fn genesis_stake(&self) -> U256 {
        self.validators.iter().fold(U256::ZERO, |a, v| a.saturating_add(v.stake))
    }
}

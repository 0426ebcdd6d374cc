//! Parameters of the governance precompile (`config.dbc.governance` in the genesis file). For
//! now the burn floor and referenda; the council follows `docs/governance-design.md`.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::{DBC, MAX_DURATION_BLOCKS};

/// Governance parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GovernanceParams {
    /// Burning stops at this total supply, in wei: precompile burns beyond it go to the
    /// treasury, and base fees burned beyond it are minted back to the treasury at the end of
    /// the block (DBC 1.0 stopped burning once 100 M DBC remained).
    pub burn_floor: U256,
    /// A referendum proposed in block `b` takes votes until the end of block
    /// `b + referendumBlocks`, where it is counted.
    pub referendum_blocks: u64,
    /// Least turnout (for + against + abstain, in locked wei) for a referendum to count, basis
    /// points of the total supply.
    pub referendum_turnout_bps: u16,
    /// A referendum passes when `for` exceeds this share of `for + against`, basis points.
    pub referendum_approval_bps: u16,
    /// Least blocks between a proposal passing and its enactment; it is enacted at the end of
    /// the block before the first staking epoch boundary after that.
    pub enactment_delay_blocks: u64,
    /// Most proposals enacted at one epoch boundary (more wait for the next).
    pub max_enactments_per_epoch: u32,
    /// Deposit of a proposal, doubled at each quarter of `maxOpenProposals` in use; returned
    /// when it passes, lost to the treasury when it fails.
    pub proposal_deposit: U256,
    /// A spend's deposit is at least this share of the amount, basis points.
    pub spend_deposit_bps: u16,
    /// Most proposals voting or waiting for enactment at once.
    pub max_open_proposals: u32,
    /// Longest description of a proposal, bytes.
    pub max_payload_bytes: u32,
    /// Longest stream of a streamed treasury spend, blocks (released linearly from E).
    pub max_stream_blocks: u64,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        Self {
            burn_floor: U256::from(100_000_000u64) * U256::from(DBC),
            referendum_blocks: 201_600,
            referendum_turnout_bps: 500,
            referendum_approval_bps: 5_000,
            enactment_delay_blocks: 28_800,
            max_enactments_per_epoch: 16,
            proposal_deposit: U256::from(10_000u64) * U256::from(DBC),
            spend_deposit_bps: 500,
            max_open_proposals: 64,
            max_payload_bytes: 32_768,
            // A year of 6 s blocks.
            max_stream_blocks: 5_256_000,
        }
    }
}

/// Most open proposals the parameters may allow (bounds the block hook's work).
pub const MAX_OPEN_PROPOSALS: u32 = 64;
/// Most enactments per epoch boundary the parameters may allow.
pub(crate) const MAX_ENACTMENTS_PER_EPOCH: u32 = 32;
/// Longest proposal description the parameters may allow, bytes.
pub(crate) const MAX_PAYLOAD_BYTES: u32 = 65_536;

impl GovernanceParams {
    /// Checks the parameters against the genesis supply.
    pub fn validate(&self, genesis_supply: U256) -> Result<(), String> {
        if self.burn_floor > genesis_supply {
            return Err(format!(
                "governance.burnFloor = {} wei exceeds the genesis supply of {genesis_supply} wei",
                self.burn_floor
            ));
        }
        for (name, v) in [
            ("referendumBlocks", self.referendum_blocks),
            ("enactmentDelayBlocks", self.enactment_delay_blocks),
        ] {
            if v == 0 || v > MAX_DURATION_BLOCKS {
                return Err(format!("governance.{name} = {v} must be 1 to {MAX_DURATION_BLOCKS}"));
            }
        }
        if self.referendum_turnout_bps > 10_000 || self.spend_deposit_bps > 10_000 {
            return Err(
                "governance.referendumTurnoutBps and spendDepositBps are at most 10000".into()
            );
        }
        if !(5_000..=9_999).contains(&self.referendum_approval_bps) {
            return Err(format!(
                "governance.referendumApprovalBps = {} must be 5000 to 9999 (`for` must exceed \
                 this share of for + against)",
                self.referendum_approval_bps
            ));
        }
        for (name, v, max) in [
            ("maxOpenProposals", self.max_open_proposals, MAX_OPEN_PROPOSALS),
            ("maxEnactmentsPerEpoch", self.max_enactments_per_epoch, MAX_ENACTMENTS_PER_EPOCH),
            ("maxPayloadBytes", self.max_payload_bytes, MAX_PAYLOAD_BYTES),
        ] {
            if v == 0 || v > max {
                return Err(format!("governance.{name} = {v} must be 1 to {max}"));
            }
        }
        if self.max_stream_blocks > MAX_DURATION_BLOCKS {
            return Err(format!(
                "governance.maxStreamBlocks = {} exceeds {MAX_DURATION_BLOCKS}",
                self.max_stream_blocks
            ));
        }
        if self.proposal_deposit.is_zero() {
            return Err("governance.proposalDeposit must be positive".into());
        }
        // The deposit doubles up to 8 times the base: it must not overflow.
        if self.proposal_deposit > U256::MAX >> 4 {
            return Err("governance.proposalDeposit is too large".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bounds_are_enforced() {
        let supply = U256::from(10_000_000_000u64) * U256::from(DBC);
        GovernanceParams::default().validate(supply).expect("defaults");
        let bad = [
            GovernanceParams { burn_floor: supply + U256::from(1), ..Default::default() },
            GovernanceParams { referendum_blocks: 0, ..Default::default() },
            GovernanceParams {
                enactment_delay_blocks: MAX_DURATION_BLOCKS + 1,
                ..Default::default()
            },
            GovernanceParams { referendum_turnout_bps: 10_001, ..Default::default() },
            GovernanceParams { referendum_approval_bps: 4_999, ..Default::default() },
            GovernanceParams { referendum_approval_bps: 10_000, ..Default::default() },
            GovernanceParams { max_open_proposals: 0, ..Default::default() },
            GovernanceParams { max_open_proposals: 65, ..Default::default() },
            GovernanceParams { max_enactments_per_epoch: 33, ..Default::default() },
            GovernanceParams { max_payload_bytes: 65_537, ..Default::default() },
            GovernanceParams { proposal_deposit: U256::ZERO, ..Default::default() },
            GovernanceParams { max_stream_blocks: MAX_DURATION_BLOCKS + 1, ..Default::default() },
        ];
        for p in bad {
            assert!(p.validate(supply).is_err(), "{p:?}");
        }
    }
}

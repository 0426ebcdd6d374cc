//! Parameters of the governance precompile (`config.dbc.governance` in the genesis file): the
//! burn floor, referenda, proposals and the council (`config.dbc.governance.council`).

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
    /// The council: its election and its motions.
    pub council: CouncilParams,
}

/// The council (`config.dbc.governance.council`): elected every term by sequential Phragmén
/// over the approval ballots of locked DBC; its motions pass with a qualified majority of the
/// seated members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CouncilParams {
    /// Members elected each term.
    pub seats: u32,
    /// Runners-up elected after them (carried to the next election with their bond).
    pub runners_up: u32,
    /// Length of a term, blocks; the election is held in the hook of the term's last block. A
    /// change applies from the next term.
    pub term_blocks: u64,
    /// The last blocks of a term in which candidacies and ballots are frozen.
    pub election_freeze_blocks: u64,
    /// Most candidates a term (a ballot is a 64-bit mask over them).
    pub max_candidates: u32,
    /// Bond of a candidacy, wei: kept while elected, returned to a member or runner-up not
    /// re-elected, lost to the treasury by a fresh candidate not elected.
    pub candidacy_bond: U256,
    /// Least lock a ballot needs, wei.
    pub min_vote_lock: U256,
    /// Most candidates one ballot approves.
    pub max_approvals: u32,
    /// Most distinct approval sets a term (the election's work is bounded by them, not by the
    /// number of voters).
    pub max_ballot_classes: u32,
    /// A council motion proposed in block `b` takes votes until the end of block
    /// `b + motionBlocks`.
    pub motion_blocks: u64,
    /// A motion passes once this share of the seated members voted for it, basis points.
    pub approval_bps: u16,
    /// Largest treasury spend the council may pass alone, wei.
    pub spend_limit: U256,
    /// Most the council may pass in spends a term, wei.
    pub term_spend_limit: U256,
}

impl Default for CouncilParams {
    fn default() -> Self {
        let dbc = |n: u64| U256::from(n) * U256::from(DBC);
        Self {
            seats: 21,
            runners_up: 7,
            // A third of a year of 6 s blocks.
            term_blocks: 1_752_000,
            // 7 days.
            election_freeze_blocks: 100_800,
            max_candidates: 64,
            candidacy_bond: dbc(10_000),
            min_vote_lock: dbc(100),
            max_approvals: 16,
            max_ballot_classes: 2_048,
            motion_blocks: 100_800,
            // Two thirds, rounded down so that 14 of 21 (and 2 of 3) pass.
            approval_bps: 6_666,
            spend_limit: dbc(10_000_000),
            term_spend_limit: dbc(50_000_000),
        }
    }
}

/// Most candidates a term may have (a ballot is a `u64` mask).
pub const MAX_COUNCIL_CANDIDATES: u32 = 64;
/// Most distinct approval sets a term the parameters may allow.
pub const MAX_BALLOT_CLASSES: u32 = 8_192;
/// Most seats the parameters may allow.
pub const MAX_COUNCIL_SEATS: u32 = 32;
/// Most runners-up the parameters may allow.
pub const MAX_COUNCIL_RUNNERS_UP: u32 = 16;

impl CouncilParams {
    /// Checks the council's parameters.
    pub fn validate(&self) -> Result<(), String> {
        let c = "governance.council";
        if self.seats == 0 || self.seats > MAX_COUNCIL_SEATS {
            return Err(format!("{c}.seats = {} must be 1 to {MAX_COUNCIL_SEATS}", self.seats));
        }
        if self.runners_up > MAX_COUNCIL_RUNNERS_UP {
            return Err(format!(
                "{c}.runnersUp = {} must be at most {MAX_COUNCIL_RUNNERS_UP}",
                self.runners_up
            ));
        }
        if self.max_candidates > MAX_COUNCIL_CANDIDATES
            || self.seats + self.runners_up > self.max_candidates
        {
            return Err(format!(
                "{c}.maxCandidates = {} must be at least seats + runnersUp ({}) and at most \
                 {MAX_COUNCIL_CANDIDATES}",
                self.max_candidates,
                self.seats + self.runners_up
            ));
        }
        if self.term_blocks == 0 || self.term_blocks > MAX_DURATION_BLOCKS {
            return Err(format!(
                "{c}.termBlocks = {} must be 1 to {MAX_DURATION_BLOCKS}",
                self.term_blocks
            ));
        }
        if self.election_freeze_blocks >= self.term_blocks {
            return Err(format!(
                "{c}.electionFreezeBlocks = {} must be below termBlocks = {}",
                self.election_freeze_blocks, self.term_blocks
            ));
        }
        if self.motion_blocks == 0 || self.motion_blocks > MAX_DURATION_BLOCKS {
            return Err(format!(
                "{c}.motionBlocks = {} must be 1 to {MAX_DURATION_BLOCKS}",
                self.motion_blocks
            ));
        }
        if self.max_approvals == 0 || self.max_approvals > self.max_candidates.min(16) {
            return Err(format!(
                "{c}.maxApprovals = {} must be 1 to min(16, maxCandidates)",
                self.max_approvals
            ));
        }
        if self.max_ballot_classes == 0 || self.max_ballot_classes > MAX_BALLOT_CLASSES {
            return Err(format!(
                "{c}.maxBallotClasses = {} must be 1 to {MAX_BALLOT_CLASSES}",
                self.max_ballot_classes
            ));
        }
        if !(5_001..=10_000).contains(&self.approval_bps) {
            return Err(format!(
                "{c}.approvalBps = {} must be 5001 to 10000 (a majority of the seated members)",
                self.approval_bps
            ));
        }
        if self.candidacy_bond.is_zero() || self.min_vote_lock.is_zero() {
            return Err(format!("{c}.candidacyBond and minVoteLock must be positive"));
        }
        if self.term_spend_limit > U256::MAX >> 64 {
            return Err(format!("{c}.termSpendLimit is too large"));
        }
        if self.spend_limit > self.term_spend_limit {
            return Err(format!(
                "{c}.spendLimit = {} exceeds termSpendLimit = {}",
                self.spend_limit, self.term_spend_limit
            ));
        }
        Ok(())
    }

    /// Seated members a council motion needs: a third of the seats, rounded up.
    pub fn quorum_seats(&self) -> u32 {
        self.seats.div_ceil(3)
    }
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
            council: CouncilParams::default(),
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
        self.council.validate()
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
        let council = |f: &dyn Fn(&mut CouncilParams)| {
            let mut c = CouncilParams::default();
            f(&mut c);
            GovernanceParams { council: c, ..Default::default() }
        };
        let bad_council = [
            council(&|c| c.seats = 0),
            council(&|c| c.seats = 33),
            council(&|c| c.runners_up = 17),
            council(&|c| c.max_candidates = 65),
            council(&|c| c.max_candidates = 27),
            council(&|c| c.term_blocks = 0),
            council(&|c| c.election_freeze_blocks = c.term_blocks),
            council(&|c| c.motion_blocks = 0),
            council(&|c| c.max_approvals = 0),
            council(&|c| c.max_approvals = 17),
            council(&|c| c.max_ballot_classes = 8_193),
            council(&|c| c.approval_bps = 5_000),
            council(&|c| c.approval_bps = 10_001),
            council(&|c| c.candidacy_bond = U256::ZERO),
            council(&|c| c.min_vote_lock = U256::ZERO),
            council(&|c| c.spend_limit = c.term_spend_limit + U256::from(1)),
        ];
        let bad = bad.into_iter().chain(bad_council);
        for p in bad {
            assert!(p.validate(supply).is_err(), "{p:?}");
        }
    }
}

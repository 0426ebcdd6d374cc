//! The treasury: the balance of the governance account `0x…0D04`. Market and staking pay it
//! through [`receive`], the one narrow entry other precompiles use, which tags every inflow
//! with its source so the treasury's history can be read back by source.
//!
//! Storage of `0x…0D04` used here (the layout of `docs/governance-design.md` §3.1):
//! `G_SPENT` (15), `G_RECEIVED` (16) and `T_RECEIVED[source]` (tag 77). The per-source and
//! total counters are shared by every payer in a block, so they are read and written at a
//! flat price (`get_flat`/`set_flat`): a call's gas does not depend on what else the block did.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolEvent;

use crate::{
    GOVERNANCE_ADDRESS,
    abi::IGovernance,
    host::Host,
    store::{Ctx, Res, ck, num_key, slot},
};

/// Everything the treasury ever spent.
pub(crate) const G_SPENT: u64 = 15;
/// Everything the treasury ever received.
pub(crate) const G_RECEIVED: u64 = 16;
/// Per-source totals of what the treasury received.
pub(crate) const T_RECEIVED: u64 = 77;

/// Sources of treasury inflows (`TreasuryReceived.source`).
pub(crate) mod source {
    /// The treasury's share of a machine slash.
    pub(crate) const MACHINE_SLASH: u8 = 1;
    /// An auditor's penalty.
    pub(crate) const AUDITOR_PENALTY: u8 = 2;
    /// The stake a machine rejected by verification loses.
    pub(crate) const REJECTED_MACHINE: u8 = 3;
    /// The treasury's share of a false fault report's deposit.
    pub(crate) const LOST_REPORT_DEPOSIT: u8 = 4;
    /// The treasury's share of a validator slash.
    pub(crate) const VALIDATOR_SLASH: u8 = 5;
    /// The deposit of a proposal that failed.
    pub(crate) const LOST_PROPOSAL_DEPOSIT: u8 = 6;
    /// The bond of a council candidate neither elected nor a runner-up.
    pub(crate) const CANDIDACY_BOND: u8 = 7;
    /// A burn the burn floor stopped (a precompile's, or base fees minted back).
    pub(crate) const BURN_FLOOR: u8 = 8;
    /// A donation (`fund`).
    pub(crate) const DONATION: u8 = 9;
}

/// Slot of the per-source total of `source`.
pub(crate) fn received_slot(source: u8) -> U256 {
    slot(T_RECEIVED, num_key(u64::from(source)), 0)
}

/// Pays `amount` from the calling precompile (`ctx.me`) to the treasury, adds it to the
/// source's and the overall totals and emits `TreasuryReceived(source, from, amount)` from
/// `0x…0D04`. `from` is who lost the funds. Nothing happens for 0.
pub(crate) fn receive<H: Host>(
    ctx: &mut Ctx<'_, H>,
    source: u8,
    from: Address,
    amount: U256,
) -> Res<()> {
    if amount.is_zero() {
        return Ok(());
    }
    if ctx.me != GOVERNANCE_ADDRESS {
        ctx.pay_own(GOVERNANCE_ADDRESS, amount)?;
    }
    ctx.within(GOVERNANCE_ADDRESS, |c| {
        let s = received_slot(source);
        let v = c.get_flat(s)?;
        c.set_flat(s, ck(v.checked_add(amount))?)?;
        let g = U256::from(G_RECEIVED);
        let v = c.get_flat(g)?;
        c.set_flat(g, ck(v.checked_add(amount))?)?;
        c.emit(IGovernance::TreasuryReceived { source, from, amount }.encode_log_data())
    })
}

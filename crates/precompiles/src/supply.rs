//! The exact supply ledger and the burn floor (issue #17 item 4).
//!
//! The node measures every block's net change of the sum of all balances (base fees, precompile
//! burns, `SELFDESTRUCT` burns, dev-chain balance edits) and hands it to the governance hook,
//! which runs last in the block and adds it to `G_SUPPLY_DELTA`: the total supply is the
//! genesis supply plus that delta, exact at the end of every block. Precompiles burn through
//! [`burn_capped`], which never takes the supply below `governance.burnFloor`: what it may not
//! burn goes to the treasury (source 8), and burns of the block so far are counted in
//! `G_PENDING_BURN` (reset by the hook). Base fees, which the EVM burns on its own, are minted
//! back to the treasury by the hook when they would cross the floor.

use alloy_primitives::{I256, U256};
use dbc_chainspec::{DbcParams, GOVERNANCE_ADDRESS};

use crate::{
    host::Host,
    store::{Ctx, Res, ck},
    treasury,
};

/// Total supply minus the genesis supply (`int256`, two's complement), as of the last hook.
pub(crate) const G_SUPPLY_DELTA: u64 = 4;
/// Precompile burns so far in the current block (flat: shared by every burner).
pub(crate) const G_PENDING_BURN: u64 = 5;

/// The numbers the floor needs: the genesis supply and the floor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SupplyRules {
    /// Sum of the genesis balances.
    pub(crate) genesis: U256,
    /// `governance.burnFloor`.
    pub(crate) floor: U256,
}

impl SupplyRules {
    pub(crate) fn of(p: &DbcParams) -> Self {
        Self { genesis: p.genesis_supply, floor: p.governance.burn_floor }
    }
}

/// Genesis supply plus a signed delta (`None` if it leaves 0..2²⁵⁶).
pub(crate) fn apply_delta(genesis: U256, delta: I256) -> Option<U256> {
    if delta.is_negative() {
        genesis.checked_sub(delta.unsigned_abs())
    } else {
        genesis.checked_add(delta.unsigned_abs())
    }
}

/// The total supply as of the last governance hook.
pub(crate) fn total_supply<H: Host>(ctx: &mut Ctx<'_, H>, rules: SupplyRules) -> Res<U256> {
    let delta = ctx.within(GOVERNANCE_ADDRESS, |c| c.g(G_SUPPLY_DELTA))?;
    ck(apply_delta(rules.genesis, I256::from_raw(delta)))
}

/// What precompiles may still burn in this block.
pub(crate) fn headroom<H: Host>(ctx: &mut Ctx<'_, H>, rules: SupplyRules) -> Res<U256> {
    let supply = total_supply(ctx, rules)?;
    let pending = ctx.within(GOVERNANCE_ADDRESS, |c| c.get_flat(U256::from(G_PENDING_BURN)))?;
    Ok(supply.saturating_sub(pending).saturating_sub(rules.floor))
}

/// Burns up to `amount` held by the calling precompile (`ctx.me`) without taking the supply
/// below the floor; the rest goes to the treasury (source 8). Returns what was burned. Without
/// supply rules (unit tests of one precompile) it burns all of it.
pub(crate) fn burn_capped<H: Host>(ctx: &mut Ctx<'_, H>, amount: U256) -> Res<U256> {
    if amount.is_zero() {
        return Ok(U256::ZERO);
    }
    let Some(rules) = ctx.supply else {
        ctx.burn_own(amount)?;
        return Ok(amount);
    };
    let burned = amount.min(headroom(ctx, rules)?);
    if !burned.is_zero() {
        ctx.within(GOVERNANCE_ADDRESS, |c| {
            let k = U256::from(G_PENDING_BURN);
            let v = c.get_flat(k)?;
            c.set_flat(k, ck(v.checked_add(burned))?)
        })?;
        ctx.burn_own(burned)?;
    }
    let me = ctx.me;
    treasury::receive(ctx, treasury::source::BURN_FLOOR, me, amount - burned)?;
    Ok(burned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deltas_apply_in_both_directions_and_never_wrap() {
        let g = U256::from(1_000u64);
        assert_eq!(apply_delta(g, I256::try_from(-300i64).unwrap()), Some(U256::from(700u64)));
        assert_eq!(apply_delta(g, I256::try_from(25i64).unwrap()), Some(U256::from(1_025u64)));
        assert_eq!(apply_delta(g, I256::try_from(-1_001i64).unwrap()), None);
        assert_eq!(apply_delta(U256::MAX, I256::ONE), None);
        assert_eq!(apply_delta(g, I256::MIN), None);
    }
}

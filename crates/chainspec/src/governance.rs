//! Parameters of the governance precompile (`config.dbc.governance` in the genesis file). For
//! now only the burn floor; the council and proposals follow `docs/governance-design.md`.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::DBC;

/// Governance parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GovernanceParams {
    /// Burning stops at this total supply, in wei: precompile burns beyond it go to the
    /// treasury, and base fees burned beyond it are minted back to the treasury at the end of
    /// the block (DBC 1.0 stopped burning once 100 M DBC remained).
    pub burn_floor: U256,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        Self { burn_floor: U256::from(100_000_000u64) * U256::from(DBC) }
    }
}

impl GovernanceParams {
    /// Checks the parameters against the genesis supply.
    pub fn validate(&self, genesis_supply: U256) -> Result<(), String> {
        if self.burn_floor > genesis_supply {
            return Err(format!(
                "governance.burnFloor = {} wei exceeds the genesis supply of {genesis_supply} wei",
                self.burn_floor
            ));
        }
        Ok(())
    }
}

//! EVM instances with the chain's precompiles, and the market's end-of-block hook.
//!
//! Every EVM the node creates (block building, calls, traces) comes from here, so the GPU
//! market precompile behaves the same everywhere.

use alloy_evm::{
    Database, Evm, EvmEnv, EvmFactory,
    block::BlockExecutionError,
    eth::{EthEvm, EthEvmContext, EthEvmFactory},
    precompiles::PrecompilesMap,
};
use alloy_primitives::{Address, Bytes, U256};
use dbc_chainspec::DbcParams;
use revm::{DatabaseCommit, Inspector, inspector::NoOpInspector};
use std::sync::Arc;

/// An Ethereum EVM with the market precompile installed.
pub fn evm<DB: Database>(
    market: &Arc<DbcParams>,
    db: DB,
    env: EvmEnv,
) -> EthEvm<DB, NoOpInspector, PrecompilesMap> {
    let mut evm = EthEvmFactory::default().create_evm(db, env);
    dbc_precompiles::install(evm.precompiles_mut(), market);
    evm
}

/// [`evm`] with an inspector (tracers, access lists).
pub fn evm_with_inspector<DB: Database, I: Inspector<EthEvmContext<DB>>>(
    market: &Arc<DbcParams>,
    db: DB,
    env: EvmEnv,
    inspector: I,
) -> EthEvm<DB, I, PrecompilesMap> {
    let mut evm = EthEvmFactory::default().create_evm_with_inspector(db, env, inspector);
    dbc_precompiles::install(evm.precompiles_mut(), market);
    evm
}

/// Runs one end-of-block system call from the system address to the precompile at `to` and
/// commits its state changes; returns its logs. Like the EIP-2935/4788 system calls it has no
/// receipt (the node stores the logs beside the block); a failure makes the block invalid.
fn apply_hook<E>(
    evm: &mut E,
    to: Address,
    data: Bytes,
    what: &str,
) -> Result<Vec<alloy_primitives::Log>, BlockExecutionError>
where
    E: Evm<DB: DatabaseCommit>,
{
    let res = evm
        .transact_system_call(dbc_precompiles::SYSTEM_ADDRESS, to, data)
        .map_err(|e| BlockExecutionError::msg(format!("{what} block hook: {e}")))?;
    if !res.result.is_success() {
        return Err(BlockExecutionError::msg(format!(
            "{what} block hook failed: {:?}",
            res.result
        )));
    }
    evm.db_mut().commit(res.state);
    Ok(res.result.into_logs())
}

/// Runs the market's end-of-block hook (`onBlock(feesBurned)`).
pub fn apply_market_hook<E>(
    evm: &mut E,
    fees_burned: U256,
) -> Result<Vec<alloy_primitives::Log>, BlockExecutionError>
where
    E: Evm<DB: DatabaseCommit>,
{
    let data = dbc_precompiles::hook_calldata(fees_burned);
    apply_hook(evm, dbc_precompiles::MARKET_ADDRESS, data, "market")
}

/// Runs the governance precompile's end-of-block call (`onBlock(supplyChange)`), last in the
/// block: the supply ledger, the burn floor's top-up, and the referenda due.
pub fn apply_governance_hook<E>(
    evm: &mut E,
    supply_change: alloy_primitives::I256,
) -> Result<Vec<alloy_primitives::Log>, BlockExecutionError>
where
    E: Evm<DB: DatabaseCommit>,
{
    let data = dbc_precompiles::governance::hook_calldata(supply_change);
    apply_hook(evm, dbc_precompiles::GOVERNANCE_ADDRESS, data, "governance")
}

/// Runs the staking precompile's end-of-block call (`onBlock(proposer, missed)`): block
/// reward, missed-slot accounting and, at epoch boundaries, the election.
pub fn apply_staking_hook<E>(
    evm: &mut E,
    proposer: Address,
    missed: Vec<Address>,
) -> Result<Vec<alloy_primitives::Log>, BlockExecutionError>
where
    E: Evm<DB: DatabaseCommit>,
{
    let data = dbc_precompiles::staking::hook_calldata(proposer, missed);
    apply_hook(evm, dbc_precompiles::STAKING_ADDRESS, data, "staking")
}

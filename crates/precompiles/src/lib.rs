//! Stateful precompiles of dbc-node.
//!
//! The GPU leasing market lives at [`MARKET_ADDRESS`] (`0x…0D01`); per-project token mining at
//! [`MINING_ADDRESS`] (`0x…0D02`, ABI `contracts/src/interfaces/IProjectMining.sol`) shares
//! the market's machines and follows their grades. Its ABI is
//! `contracts/src/interfaces/IGpuMarket.sol`, bound here with alloy's `sol!` ([`abi`]), so
//! Solidity and Rust share one definition. Its state is ordinary storage of that account (the
//! state root covers it), read and written only through revm's journal ([`EvmHost`]), so a
//! reverted call or transaction leaves nothing behind. Every state change emits an event.
//!
//! Rules (see `shared/docs/dbc-reference.md` and `genesis/README.md` for the numbers):
//! providers stake per GPU and register machines; three auditors drawn from the committee by
//! block randomness verify each machine by commit–reveal; renters pay rent of which the
//! [`math::burn_bps`] tier is burned; online machines share a per-epoch reward by grade, 25%
//! claimable at once and 75% vesting linearly; heartbeats keep a machine online, and offline
//! periods of rented machines are slashed by tiers.
//!
//! Time-driven transitions (auditor draws, commit/reveal deadlines, heartbeat checks, rental
//! expiry) run in a block hook: the block builder calls `onBlock(feesBurned)` from
//! [`SYSTEM_ADDRESS`] at the end of every block, after its last transaction, with the base fees
//! the block burned ([`hook_calldata`]). Like the EIP-2935/4788 system calls it has no receipt,
//! so its effects show in state and views, not in logs; every user-initiated change does emit a
//! log.
//!
//! Safety: static calls cannot write, DELEGATECALL/CALLCODE are refused, value sent to a
//! non-payable function reverts, every storage access is charged gas, arithmetic is checked
//! and reverts carry the interface's custom errors. The market never calls EVM code (payments
//! are plain balance credits), so re-entry is impossible.

use std::sync::Arc;

use alloy_evm::precompiles::{DynPrecompile, PrecompileInput, PrecompilesMap};
use alloy_primitives::{Address, address};
use dbc_chainspec::DbcParams;
use revm::precompile::{PrecompileError, PrecompileHalt, PrecompileId, PrecompileOutput};

pub mod abi;
pub mod governance;
mod host;
mod market;
pub mod math;
pub mod mining;
pub mod params;
mod records;
pub mod staking;
#[cfg(test)]
mod staking_tests;
mod store;
mod supply;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod treasury;

pub use dbc_chainspec::{GOVERNANCE_ADDRESS, MARKET_ADDRESS, MINING_ADDRESS, STAKING_ADDRESS};
pub use host::{EvmHost, Host, HostError, StoreInfo};
pub use market::{
    Call, HOOK_MAX_ITEMS, HOOK_SELECTOR, Outcome, execute, hook_calldata, idle_hook_slots,
};
pub use store::gas;

/// Caller of system calls (EIP-4788's system address): the only caller of the block hook.
pub const SYSTEM_ADDRESS: Address = address!("0xfffffffffffffffffffffffffffffffffffffffe");

/// A precompile that runs `run` on the EVM's state (through [`EvmHost`]) with the call's
/// context and the parameters in force ([`params::running`], charged [`gas::PARAMS`]).
fn stateful<F>(id: &'static str, genesis: Arc<DbcParams>, run: F) -> DynPrecompile
where
    F: Fn(&mut EvmHost<'_, '_>, &DbcParams, Call<'_>) -> Outcome + Send + Sync + 'static,
{
    let memo = params::Composed::default();
    DynPrecompile::new_stateful(PrecompileId::custom(id), move |mut input: PrecompileInput<'_>| {
        let reservoir = input.reservoir;
        let metered = input.caller != SYSTEM_ADDRESS;
        if metered && input.gas < gas::PARAMS {
            return outcome(Outcome::OutOfGas, reservoir);
        }
        let call = Call {
            data: input.data,
            caller: input.caller,
            value: input.value,
            is_static: input.is_static,
            direct: input.is_direct_call(),
            gas: input.gas.saturating_sub(gas::PARAMS),
        };
        let mut host = EvmHost::new(&mut input.internals);
        let params = match params::running_memo(&mut host, &genesis, &memo) {
            Ok(p) => p,
            Err(e) => return outcome(Outcome::of(Err(e), 0), reservoir),
        };
        let o = match run(&mut host, &params, call) {
            Outcome::Success { gas, output } => {
                Outcome::Success { gas: gas.saturating_add(gas::PARAMS), output }
            }
            Outcome::Revert { gas, output } => {
                Outcome::Revert { gas: gas.saturating_add(gas::PARAMS), output }
            }
            other => other,
        };
        outcome(o, reservoir)
    })
}

/// The GPU market as a revm precompile.
pub fn market_precompile(params: Arc<DbcParams>) -> DynPrecompile {
    stateful("dbc-gpu-market", params, |host, p, call| market::execute_chain(host, p, call))
}

/// The project-mining precompile.
pub fn mining_precompile(params: Arc<DbcParams>) -> DynPrecompile {
    stateful("dbc-project-mining", params, |host, p, call| mining::execute(host, &p.market, call))
}

fn outcome(o: Outcome, reservoir: u64) -> revm::precompile::PrecompileResult {
    match o {
        Outcome::Success { gas, output } => Ok(PrecompileOutput::new(gas, output, reservoir)),
        Outcome::Revert { gas, output } => Ok(PrecompileOutput::revert(gas, output, reservoir)),
        Outcome::OutOfGas => Ok(PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir)),
        Outcome::Fatal(e) => Err(PrecompileError::Fatal(e)),
    }
}

/// The staking precompile.
pub fn staking_precompile(params: Arc<DbcParams>) -> DynPrecompile {
    stateful("dbc-staking", params, |host, p, call| staking::execute(host, p, call))
}

/// The governance precompile (treasury, supply ledger, referenda, emission views).
pub fn governance_precompile(params: Arc<DbcParams>) -> DynPrecompile {
    stateful("dbc-governance", params, |host, p, call| governance::execute(host, p, call))
}

/// Adds the chain's precompiles (market `0x…0D01`, project mining `0x…0D02`, staking
/// `0x…0D03`, governance `0x…0D04`) to an EVM's precompile set.
pub fn install(precompiles: &mut PrecompilesMap, params: &Arc<DbcParams>) {
    let market = params.clone();
    precompiles.apply_precompile(&MARKET_ADDRESS, move |_| Some(market_precompile(market)));
    let mining = params.clone();
    precompiles.apply_precompile(&MINING_ADDRESS, move |_| Some(mining_precompile(mining)));
    let staking = params.clone();
    precompiles.apply_precompile(&STAKING_ADDRESS, move |_| Some(staking_precompile(staking)));
    let governance = params.clone();
    precompiles
        .apply_precompile(&GOVERNANCE_ADDRESS, move |_| Some(governance_precompile(governance)));
}

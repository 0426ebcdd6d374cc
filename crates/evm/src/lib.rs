//! Block execution for dbc-node.
//!
//! Transactions run in revm through alloy-evm's Ethereum block executor (the stack reth uses),
//! under the hardforks of the chain spec. [`build_block`] executes a block on the parent's state,
//! turns revm's bundle into the storage changeset, updates the incremental state trie and seals
//! the header with real transactions, receipts and state roots. [`Simulator`] serves
//! `eth_call`, `eth_estimateGas` and `eth_createAccessList`.
//!
//! Invariant: execution only reads state through [`StateDb`] (a [`StateReader`]
//! adapter) and only writes through revm's journal; nothing here touches the database.
//!
//! [`StateReader`]: dbc_storage::StateReader

mod block_state;
mod builder;
mod db;
mod dev;
pub mod factory;
pub mod sim;
mod spare;
#[cfg(test)]
mod test_state;
pub mod trace;

pub use block_state::BlockState;
pub use builder::{
    BlockAttributes, BuildTimings, ExecutedBlock, PayloadTransactions, RejectedTx, TxList,
    build_block, build_block_with_edits, evm_env_for, next_base_fee, next_evm_env, pending_header,
    receipts_root, touched_accounts, transactions_root,
};
pub use db::{DbError, StateDb};
pub use dev::{IdleBlocks, StateEdit};
pub use sim::{CallOutcome, SimError, Simulator};

/// Block execution errors. Any of them means the block could not be built; none is caused by a
/// single bad transaction (those are rejected and reported in [`ExecutedBlock::rejected`]).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The executor failed (system call, database).
    #[error("block execution failed: {0}")]
    Execution(#[from] alloy_evm::block::BlockExecutionError),
    /// Reading the parent's state failed.
    #[error("block execution failed: {0}")]
    Database(#[from] DbError),
    /// The stored state trie could not be read (the trie is left for the caller to reopen).
    #[error("state root: {0}")]
    Trie(#[from] dbc_trie::TrieError),
}

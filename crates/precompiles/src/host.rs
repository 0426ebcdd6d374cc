//! The precompiles' view of the chain: their own storage, logs, the market's payments and block
//! data. The EVM
//! implementation ([`EvmHost`]) goes through revm's journal, so every effect is reverted with
//! the call frame; tests use an in-memory host.

use alloy_evm::EvmInternals;
use alloy_primitives::{Address, B256, Log, LogData, U256, keccak256};
use dbc_chainspec::MARKET_ADDRESS;

/// A host failure: the database failed or the market's balance cannot cover a payment. Both
/// mean a broken invariant, never a user error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The state could not be read or written.
    #[error("state access failed: {0}")]
    State(String),
    /// A precompile's balance cannot cover a payment or burn.
    #[error("precompile balance too low for a payment of {0} wei")]
    Balance(U256),
}

/// What an `SSTORE` changed, for gas accounting (EIP-2200/2929).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreInfo {
    /// Value at the start of the transaction.
    pub original: U256,
    /// Value before this write.
    pub present: U256,
    /// Whether the slot was cold.
    pub cold: bool,
}

/// The state a market call reads and writes.
pub trait Host {
    /// Reads a slot of `account` (a precompile); returns the value and whether it was cold.
    fn sload(&mut self, account: Address, key: U256) -> Result<(U256, bool), HostError>;
    /// Writes a slot of `account`.
    fn sstore(&mut self, account: Address, key: U256, value: U256) -> Result<StoreInfo, HostError>;
    /// Emits a log from `account`.
    fn log(&mut self, account: Address, data: LogData);
    /// Moves `amount` from the precompile account `from` to `to` (a plain balance credit: no
    /// code runs).
    fn pay_from(&mut self, from: Address, to: Address, amount: U256) -> Result<(), HostError>;
    /// Removes `amount` from the precompile account `from`: it leaves the supply.
    fn burn_from(&mut self, from: Address, amount: U256) -> Result<(), HostError>;
    /// Balance of `account`.
    fn balance(&mut self, account: Address) -> Result<U256, HostError>;
    /// Creates `amount` in `to` (the governance hook's top-up at the burn floor only).
    fn mint(&mut self, to: Address, amount: U256) -> Result<(), HostError>;
    /// Moves `amount` from the market account to `to`.
    fn pay(&mut self, to: Address, amount: U256) -> Result<(), HostError> {
        self.pay_from(MARKET_ADDRESS, to, amount)
    }
    /// Removes `amount` from the market account's balance.
    fn burn(&mut self, amount: U256) -> Result<(), HostError> {
        self.burn_from(MARKET_ADDRESS, amount)
    }
    /// Current block number.
    fn block_number(&self) -> u64;
    /// Randomness of the current block (the header's `prevrandao`/mix hash).
    fn randomness(&self) -> B256;
    /// Origin (sender) of the current transaction.
    fn origin(&self) -> Address;
    /// Hash of block `number`, one of the 256 before the current one (`BLOCKHASH`); zero
    /// otherwise.
    fn block_hash(&mut self, number: u64) -> Result<B256, HostError>;
    /// Opens a checkpoint: later effects can be undone with [`Host::revert`].
    fn checkpoint(&mut self);
    /// Keeps the effects since the last checkpoint.
    fn commit(&mut self);
    /// Undoes the effects since the last checkpoint.
    fn revert(&mut self);
}

/// [`Host`] over revm's journal.
#[derive(Debug)]
pub struct EvmHost<'a, 'b> {
    internals: &'b mut EvmInternals<'a>,
    checkpoints: Vec<revm::context_interface::journaled_state::JournalCheckpoint>,
}

impl<'a, 'b> EvmHost<'a, 'b> {
    /// Wraps the precompile's EVM internals.
    pub fn new(internals: &'b mut EvmInternals<'a>) -> Self {
        Self { internals, checkpoints: Vec::new() }
    }
}

fn state_err(e: impl core::fmt::Display) -> HostError {
    HostError::State(e.to_string())
}

impl Host for EvmHost<'_, '_> {
    fn sload(&mut self, account: Address, key: U256) -> Result<(U256, bool), HostError> {
        let load = self.internals.sload(account, key).map_err(state_err)?;
        Ok((load.data, load.is_cold))
    }

    fn sstore(&mut self, account: Address, key: U256, value: U256) -> Result<StoreInfo, HostError> {
        let r = self.internals.sstore(account, key, value).map_err(state_err)?;
        Ok(StoreInfo {
            original: r.data.original_value,
            present: r.data.present_value,
            cold: r.is_cold,
        })
    }

    fn log(&mut self, account: Address, data: LogData) {
        self.internals.log(Log { address: account, data });
    }

    fn pay_from(&mut self, from: Address, to: Address, amount: U256) -> Result<(), HostError> {
        if amount.is_zero() {
            return Ok(());
        }
        match self.internals.transfer(from, to, amount).map_err(state_err)? {
            None => Ok(()),
            Some(_) => Err(HostError::Balance(amount)),
        }
    }

    fn burn_from(&mut self, from: Address, amount: U256) -> Result<(), HostError> {
        if amount.is_zero() {
            return Ok(());
        }
        let balance = self.internals.load_account(from).map_err(state_err)?.data.info.balance;
        let left = balance.checked_sub(amount).ok_or(HostError::Balance(amount))?;
        self.internals.set_balance(from, left).map_err(state_err)
    }

    fn balance(&mut self, account: Address) -> Result<U256, HostError> {
        Ok(self.internals.load_account(account).map_err(state_err)?.data.info.balance)
    }

    fn mint(&mut self, to: Address, amount: U256) -> Result<(), HostError> {
        let balance = self.internals.load_account(to).map_err(state_err)?.data.info.balance;
        let new = balance.checked_add(amount).ok_or(HostError::Balance(amount))?;
        self.internals.set_balance(to, new).map_err(state_err)
    }

    fn block_number(&self) -> u64 {
        self.internals.block_number().saturating_to()
    }

    fn randomness(&self) -> B256 {
        let env = self.internals.block_env();
        let number = env.number();
        let mix = env.prevrandao().unwrap_or_default();
        keccak256([mix.as_slice(), &number.to_be_bytes::<32>()].concat())
    }

    fn origin(&self) -> Address {
        self.internals.tx_origin()
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, HostError> {
        let now = self.block_number();
        if number >= now || now - number > 256 {
            return Ok(B256::ZERO);
        }
        revm::Database::block_hash(&mut self.internals.db_mut(), number).map_err(state_err)
    }

    fn checkpoint(&mut self) {
        let cp = self.internals.checkpoint();
        self.checkpoints.push(cp);
    }

    fn commit(&mut self) {
        if self.checkpoints.pop().is_some() {
            self.internals.checkpoint_commit();
        }
    }

    fn revert(&mut self) {
        if let Some(cp) = self.checkpoints.pop() {
            self.internals.checkpoint_revert(cp);
        }
    }
}

//! State readers with executed-but-uncommitted blocks on top: a side branch over the fork
//! point's historical state (fork choice), or the block being committed in the background over
//! the head's state (pipelined import, [`crate::persist`]).

use alloy_primitives::{
    Address, B256, Bytes, U256,
    map::{HashMap, HashSet},
};
use dbc_evm::ExecutedBlock;
use dbc_primitives::StoredAccount;
use dbc_storage::StateReader;

/// `base` (the state at the end of block `above`) plus the changes of the blocks applied
/// since, in order.
#[derive(Debug)]
pub struct Overlay<R> {
    base: R,
    above: u64,
    accounts: HashMap<Address, Option<StoredAccount>>,
    /// Accounts whose storage in `base` no longer counts (cleared or destroyed).
    wiped: HashSet<Address>,
    storage: HashMap<Address, HashMap<B256, U256>>,
    codes: HashMap<B256, Bytes>,
    hashes: HashMap<u64, B256>,
}

impl<R: StateReader> Overlay<R> {
    /// `base`, the state at the end of block `above`, with nothing on top yet.
    pub fn new(base: R, above: u64) -> Self {
        Self {
            base,
            above,
            accounts: HashMap::default(),
            wiped: HashSet::default(),
            storage: HashMap::default(),
            codes: HashMap::default(),
            hashes: HashMap::default(),
        }
    }

    /// Adds an executed block's changes on top (blocks in order, each the next one).
    pub fn apply(&mut self, executed: &ExecutedBlock) {
        for c in &executed.changes.accounts {
            self.accounts.insert(c.address, c.after);
            if c.wiped || c.after.is_none() {
                self.wiped.insert(c.address);
                self.storage.remove(&c.address);
            }
            if !c.storage.is_empty() {
                let slots = self.storage.entry(c.address).or_default();
                for s in &c.storage {
                    slots.insert(s.slot, s.after);
                }
            }
        }
        for (hash, code) in &executed.changes.bytecodes {
            self.codes.insert(*hash, code.clone());
        }
        self.hashes.insert(executed.block.number(), executed.block.hash());
    }
}

impl<R: StateReader> StateReader for Overlay<R> {
    fn account(&self, address: Address) -> dbc_storage::Result<Option<StoredAccount>> {
        match self.accounts.get(&address) {
            Some(a) => Ok(*a),
            None => self.base.account(address),
        }
    }

    fn accounts(&self, addresses: &[Address]) -> dbc_storage::Result<Vec<Option<StoredAccount>>> {
        // The ones the blocks on top did not change, in one batched read of the base.
        let missing: Vec<Address> =
            addresses.iter().filter(|a| !self.accounts.contains_key(*a)).copied().collect();
        let mut read = self.base.accounts(&missing)?.into_iter();
        addresses
            .iter()
            .map(|a| match self.accounts.get(a) {
                Some(acc) => Ok(*acc),
                None => read.next().ok_or(dbc_storage::StorageError::Corrupt {
                    table: "PlainAccounts",
                    reason: "a batched read returned too few accounts".into(),
                }),
            })
            .collect()
    }

    fn storage(&self, address: Address, slot: B256) -> dbc_storage::Result<U256> {
        if let Some(v) = self.storage.get(&address).and_then(|s| s.get(&slot)) {
            return Ok(*v);
        }
        if self.wiped.contains(&address) {
            return Ok(U256::ZERO);
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> dbc_storage::Result<Option<Bytes>> {
        match self.codes.get(&code_hash) {
            Some(c) => Ok(Some(c.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> dbc_storage::Result<Option<B256>> {
        if number > self.above {
            return Ok(self.hashes.get(&number).copied());
        }
        self.base.block_hash(number)
    }
}

//! A state in memory for the crate's tests.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use dbc_chainspec::ChainSpec;
use dbc_primitives::StoredAccount;
use dbc_storage::StateReader;
use dbc_trie::{AccountLeaf, AccountUpdate, StateTrie};
use std::collections::HashMap;

/// A state in memory.
#[derive(Debug, Default, Clone)]
pub(crate) struct MemState {
    pub(crate) accounts: HashMap<Address, StoredAccount>,
    pub(crate) storage: HashMap<(Address, B256), U256>,
    pub(crate) code: HashMap<B256, Bytes>,
}

impl StateReader for MemState {
    fn account(&self, address: Address) -> dbc_storage::Result<Option<StoredAccount>> {
        Ok(self.accounts.get(&address).copied())
    }
    fn storage(&self, address: Address, slot: B256) -> dbc_storage::Result<U256> {
        Ok(self.storage.get(&(address, slot)).copied().unwrap_or_default())
    }
    fn code(&self, code_hash: B256) -> dbc_storage::Result<Option<Bytes>> {
        Ok(self.code.get(&code_hash).cloned())
    }
    fn block_hash(&self, _number: u64) -> dbc_storage::Result<Option<B256>> {
        Ok(None)
    }
}

impl MemState {
    /// The genesis state of `spec`.
    pub(crate) fn genesis(spec: &ChainSpec) -> Self {
        let mut state = Self::default();
        for g in spec.genesis_accounts() {
            if let Some(code) = g.code {
                state.code.insert(keccak256(&code), code);
            }
            for (k, v) in g.storage {
                state.storage.insert((g.address, k), v);
            }
            state.accounts.insert(g.address, g.account);
        }
        state
    }

    /// Its state trie.
    pub(crate) fn trie(&self) -> StateTrie {
        let mut trie = StateTrie::new();
        trie.apply(
            self.accounts
                .iter()
                .map(|(a, acc)| {
                    let storage = self
                        .storage
                        .iter()
                        .filter(|((owner, _), _)| owner == a)
                        .map(|((_, k), v)| (U256::from_be_bytes(k.0), *v))
                        .collect();
                    let info = AccountLeaf {
                        nonce: acc.nonce,
                        balance: acc.balance,
                        code_hash: acc.code_hash,
                    };
                    (*a, AccountUpdate { info: Some(info), storage, ..Default::default() })
                })
                .collect::<Vec<_>>(),
        )
        .expect("in memory");
        trie
    }
}

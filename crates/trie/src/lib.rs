//! Merkle-Patricia roots for dbc-node.
//!
//! [`StateTrie`] keeps the account trie and every storage trie in memory with cached node
//! references, so the cost of a new state root grows with what a block changed, not with the
//! whole state. [`full_state_root`] recomputes the root from scratch with `alloy-trie`'s
//! `HashBuilder` and is the oracle the incremental trie is tested against.

mod mpt;
pub mod proof;

pub use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount};
pub use mpt::Mpt;

use alloy_primitives::{Address, B256, U256, keccak256, map::HashMap};
use rayon::prelude::*;

/// The fields of an account that enter the state trie, apart from its storage root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountLeaf {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Keccak of the account's code ([`KECCAK_EMPTY`] when none).
    pub code_hash: B256,
}

/// What one block (or the genesis) changed about one account.
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    /// The account's new fields, or `None` when the account no longer exists.
    pub info: Option<AccountLeaf>,
    /// The account's storage was cleared before `storage` applies (self-destruct, re-creation).
    pub wipe_storage: bool,
    /// Changed storage slots and their new values (zero deletes the slot).
    pub storage: Vec<(U256, U256)>,
}

/// The state trie: accounts keyed by `keccak(address)` and one storage trie per account.
#[derive(Debug, Default)]
pub struct StateTrie {
    accounts: Mpt,
    storages: HashMap<B256, Mpt>,
}

impl StateTrie {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a set of account updates. Storage roots of touched accounts are recomputed in
    /// parallel; only the changed paths of each trie are re-hashed.
    pub fn apply(&mut self, updates: impl IntoIterator<Item = (Address, AccountUpdate)>) {
        let mut touched: Vec<(B256, Option<AccountLeaf>, Mpt, bool)> = Vec::new();
        // An address may appear more than once; later updates apply on top of earlier ones.
        let mut index: HashMap<B256, usize> = HashMap::default();
        for (address, update) in updates {
            let hashed = keccak256(address);
            let (mut storage, was_changed) = match index.remove(&hashed) {
                Some(i) => {
                    let t = &mut touched[i];
                    t.0 = B256::ZERO;
                    t.1 = None;
                    (std::mem::take(&mut t.2), std::mem::replace(&mut t.3, false))
                }
                None => (self.storages.remove(&hashed).unwrap_or_default(), false),
            };
            if update.wipe_storage {
                storage = Mpt::new();
            }
            let changed_storage = was_changed || update.wipe_storage || !update.storage.is_empty();
            for (slot, value) in update.storage {
                let key = keccak256(B256::from(slot));
                if value.is_zero() {
                    storage.remove(key);
                } else {
                    storage.insert(key, alloy_rlp::encode_fixed_size(&value).to_vec());
                }
            }
            index.insert(hashed, touched.len());
            touched.push((hashed, update.info, storage, changed_storage));
        }
        // Superseded entries were left with a zero key; drop them.
        let live: std::collections::HashSet<usize> = index.into_values().collect();
        let touched: Vec<_> = touched
            .into_iter()
            .enumerate()
            .filter(|(i, _)| live.contains(i))
            .map(|(_, t)| t)
            .collect();
        let mut touched = touched;
        touched.par_iter_mut().filter(|t| t.3).for_each(|t| {
            t.2.root();
        });
        for (hashed, info, mut storage, _) in touched {
            match info {
                None => {
                    self.accounts.remove(hashed);
                }
                Some(info) => {
                    let account = TrieAccount {
                        nonce: info.nonce,
                        balance: info.balance,
                        storage_root: storage.root(),
                        code_hash: info.code_hash,
                    };
                    self.accounts.insert(hashed, alloy_rlp::encode(account));
                    if !storage.is_empty() {
                        self.storages.insert(hashed, storage);
                    }
                }
            }
        }
    }

    /// The state root.
    pub fn root(&mut self) -> B256 {
        self.accounts.root()
    }

    /// The storage root of `address` (the empty root for unknown accounts).
    pub fn storage_root(&mut self, address: Address) -> B256 {
        self.storages.get_mut(&keccak256(address)).map_or(EMPTY_ROOT_HASH, Mpt::root)
    }

    /// Number of accounts in the trie.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }
}

/// Recomputes a state root from scratch with `alloy-trie`'s `HashBuilder`: the oracle for
/// [`StateTrie`]. `state` yields each account with all of its non-zero storage.
pub fn full_state_root(
    state: impl IntoIterator<Item = (Address, AccountLeaf, Vec<(U256, U256)>)>,
) -> B256 {
    let accounts = state.into_iter().map(|(address, leaf, storage)| {
        let storage_root = alloy_trie::root::storage_root_unhashed(
            storage.into_iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (B256::from(k), v)),
        );
        let account = TrieAccount {
            nonce: leaf.nonce,
            balance: leaf.balance,
            storage_root,
            code_hash: leaf.code_hash,
        };
        (address, account)
    });
    alloy_trie::root::state_root_unhashed(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default, Clone)]
    struct Model {
        accounts: BTreeMap<Address, (AccountLeaf, BTreeMap<U256, U256>)>,
    }

    impl Model {
        fn root(&self) -> B256 {
            full_state_root(
                self.accounts
                    .iter()
                    .map(|(a, (leaf, st))| (*a, *leaf, st.iter().map(|(k, v)| (*k, *v)).collect())),
            )
        }
    }

    #[test]
    fn incremental_root_equals_full_recompute_over_random_blocks() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut trie = StateTrie::new();
        let mut model = Model::default();
        for block in 0..80 {
            let mut updates = Vec::new();
            for _ in 0..(next() % 12 + 1) {
                let address = Address::with_last_byte((next() % 40) as u8);
                let entry = model.accounts.entry(address).or_default();
                let mut update = AccountUpdate::default();
                match next() % 10 {
                    0 => {
                        model.accounts.remove(&address);
                        updates.push((address, update));
                        continue;
                    }
                    1 => {
                        update.wipe_storage = true;
                        entry.1.clear();
                    }
                    _ => {}
                }
                for _ in 0..(next() % 5) {
                    let slot = U256::from(next() % 16);
                    let value = if next() % 3 == 0 { U256::ZERO } else { U256::from(next()) };
                    update.storage.push((slot, value));
                    if value.is_zero() {
                        entry.1.remove(&slot);
                    } else {
                        entry.1.insert(slot, value);
                    }
                }
                entry.0.nonce += 1;
                entry.0.balance = U256::from(next() % 1_000_000);
                entry.0.code_hash = if next() % 2 == 0 { KECCAK_EMPTY } else { keccak256([1]) };
                update.info = Some(entry.0);
                updates.push((address, update));
            }
            trie.apply(updates);
            assert_eq!(trie.root(), model.root(), "block {block}");
        }
    }

    #[test]
    fn empty_state_root() {
        assert_eq!(StateTrie::new().root(), EMPTY_ROOT_HASH);
        assert_eq!(full_state_root(Vec::new()), EMPTY_ROOT_HASH);
    }
}

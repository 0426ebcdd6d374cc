//! Moving the in-memory state trie without rebuilding it.
//!
//! The trie is a function of the state: whatever updates were applied to it, setting every key
//! they touched back to its value in the database's plain state gives back exactly the trie of
//! the database's head. [`Touched`] records which accounts and slots updates touched (and which
//! accounts' storage tries were dropped or cleared, so must be restored whole), and
//! [`Touched::restore`] reads those keys at the head and applies them. The cost is linear in
//! the keys touched, never in the state size: an invalid block from a peer, a failed commit or
//! an abandoned fork costs what the block or fork touched (security review H2, H4).

use alloy_primitives::{Address, B256, U256};
use dbc_primitives::StoredAccount;
use dbc_storage::{StateChangeset, Storage};
use dbc_trie::{AccountLeaf, AccountUpdate, StateTrie};
use std::collections::{BTreeMap, BTreeSet};

/// Accounts and slots that updates applied to the trie have touched.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    accounts: BTreeMap<Address, Touch>,
}

#[derive(Debug, Default)]
struct Touch {
    /// The account's storage trie was dropped or cleared: restore all of its storage.
    whole: bool,
    slots: BTreeSet<B256>,
}

pub(crate) fn leaf(a: &StoredAccount) -> AccountLeaf {
    AccountLeaf { nonce: a.nonce, balance: a.balance, code_hash: a.code_hash }
}

impl Touched {
    /// Records what an executed block's trie updates touch (its changeset lists every account
    /// and slot it changed).
    pub(crate) fn add_changes(&mut self, changes: &StateChangeset) {
        for c in &changes.accounts {
            let t = self.accounts.entry(c.address).or_default();
            t.whole |= c.wiped || c.after.is_none();
            t.slots.extend(c.storage.iter().map(|s| s.slot));
        }
    }

    /// Records the keys a storage unwind changed (an account that did not exist before a
    /// removed block loses its whole storage trie).
    pub(crate) fn add_unwound(&mut self, keys: &dbc_storage::UnwoundKeys) {
        for (address, created) in &keys.accounts {
            self.accounts.entry(*address).or_default().whole |= *created;
        }
        for (address, slot) in &keys.slots {
            self.accounts.entry(*address).or_default().slots.insert(*slot);
        }
    }

    /// The accounts touched.
    pub(crate) fn accounts(&self) -> impl Iterator<Item = Address> + '_ {
        self.accounts.keys().copied()
    }

    /// Applies committed block `number`'s changes backwards (its changeset's values before the
    /// block) to `trie`, which must be at that block's state, and records what that touches.
    pub(crate) fn revert_committed(
        &mut self,
        trie: &mut StateTrie,
        storage: &Storage,
        number: u64,
    ) -> Result<(), crate::NodeError> {
        let updates = storage.trie_reverts(number)?;
        for (address, update) in &updates {
            let t = self.accounts.entry(*address).or_default();
            // An account that did not exist before loses its storage trie.
            t.whole |= update.info.is_none();
            t.slots.extend(update.storage.iter().map(|(k, _)| B256::from(*k)));
        }
        trie.apply(updates)?;
        Ok(())
    }

    /// Sets every touched key of `trie` back to its value in `storage`'s plain state, which
    /// makes `trie` the trie of `storage`'s head again. A trie left incomplete by a failed
    /// update is first opened again from the stored trie (the touched keys then move it to the
    /// head, wherever the stored trie is behind).
    pub(crate) fn restore(
        self,
        trie: &mut StateTrie,
        storage: &Storage,
    ) -> Result<(), crate::NodeError> {
        crate::recover_trie(trie, storage)?;
        let restored = self.restore_inner(trie, storage);
        if restored.is_err() {
            // Some keys may be back and others not: the trie is no longer any state's.
            trie.poison();
        }
        restored
    }

    fn restore_inner(
        self,
        trie: &mut StateTrie,
        storage: &Storage,
    ) -> Result<(), crate::NodeError> {
        let mut updates = Vec::with_capacity(self.accounts.len());
        for (address, t) in self.accounts {
            let account = storage.latest_account(address)?;
            let slots = if account.is_none() {
                Vec::new()
            } else if t.whole {
                storage.account_storage(&address)?
            } else {
                let mut out = Vec::with_capacity(t.slots.len());
                for slot in t.slots {
                    out.push((slot, storage.latest_storage(address, slot)?));
                }
                out
            };
            updates.push((
                address,
                AccountUpdate {
                    info: account.as_ref().map(leaf),
                    wipe_storage: t.whole,
                    storage: slots
                        .into_iter()
                        .map(|(k, v)| (U256::from_be_bytes(k.0), v))
                        .collect(),
                    absent_before: false,
                },
            ));
        }
        trie.apply(updates)?;
        Ok(())
    }
}

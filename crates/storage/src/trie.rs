//! The stored state trie: the head's account and storage tries by node path
//! (`AccountsTrie`, `StoragesTrie`), read by [`dbc_trie::StateTrie`] through [`NodeSource`] and
//! written with each block's batch ([`Storage::commit_executed`]). `Meta.trieRoot` names the
//! state root they hold; while it is not the head's, the node rebuilds them at start-up.

use crate::{Result, Storage, StorageError, tables::*};
use alloy_primitives::B256;
use dbc_trie::{Nibbles, NodeSource, TrieError, TrieUpdates};
use rocksdb::WriteBatch;

/// The key of `path` in the account trie's table: one byte a nibble.
fn account_key(path: &Nibbles) -> Vec<u8> {
    path.to_vec()
}

/// The key of `path` in `account`'s storage trie.
fn storage_key(account: &B256, path: &Nibbles) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + path.len());
    key.extend_from_slice(account.as_slice());
    key.extend(path.iter());
    key
}

/// Past every key of `account`'s storage trie (nibble bytes are below 0x10).
fn storage_end(account: &B256) -> Vec<u8> {
    let mut key = account.to_vec();
    key.push(0x10);
    key
}

impl NodeSource for Storage {
    fn node(
        &self,
        account: Option<&B256>,
        path: &Nibbles,
    ) -> std::result::Result<Option<Vec<u8>>, TrieError> {
        let found = match account {
            None => self.get(ACCOUNTS_TRIE, account_key(path)),
            Some(a) => self.get(STORAGES_TRIE, storage_key(a, path)),
        };
        found.map_err(|e| TrieError::Source(e.to_string()))
    }

    fn nodes(
        &self,
        account: Option<&B256>,
        paths: &[Nibbles],
    ) -> std::result::Result<Vec<Option<Vec<u8>>>, TrieError> {
        let (table, keys): (_, Vec<Vec<u8>>) = match account {
            None => (ACCOUNTS_TRIE, paths.iter().map(account_key).collect()),
            Some(a) => (STORAGES_TRIE, paths.iter().map(|p| storage_key(a, p)).collect()),
        };
        self.db
            .batched_multi_get_cf(self.cf(table), &keys, false)
            .into_iter()
            .map(|r| r.map(|v| v.map(|v| v.to_vec())).map_err(|e| TrieError::Source(e.to_string())))
            .collect()
    }
}

/// What [`Storage::write_trie_into`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrieWrite {
    /// The stored trie now holds the updates' root.
    Written,
    /// Nothing was given to write.
    Unchanged,
    /// The stored trie was not the one the updates build on: it is marked stale (rebuilt at
    /// the next start) and nothing else is written.
    Stale,
}

impl Storage {
    /// The state root the stored trie holds, if it is up to date with some state.
    pub fn trie_root(&self) -> Result<Option<B256>> {
        Ok(self.get(META, META_TRIE_ROOT)?.and_then(|v| B256::try_from(v.as_slice()).ok()))
    }

    /// Adds `updates` to `batch`: the whole trie (tables cleared first) when they have no
    /// base, else on top of the stored trie if it holds their base.
    pub(crate) fn write_trie_into(
        &self,
        batch: &mut WriteBatch,
        updates: &TrieUpdates,
    ) -> Result<TrieWrite> {
        let accounts = self.cf(ACCOUNTS_TRIE);
        let storages = self.cf(STORAGES_TRIE);
        match updates.base {
            None => {
                batch.delete_range_cf(accounts, &[][..], &[0x10][..]);
                batch.delete_range_cf(storages, &[0u8; 32][..], &[0xff; 33][..]);
            }
            Some(base) if self.trie_root()? == Some(base) => {
                for account in &updates.wiped {
                    batch.delete_range_cf(
                        storages,
                        account.as_slice(),
                        storage_end(account).as_slice(),
                    );
                }
            }
            Some(_) => {
                batch.delete_cf(self.cf(META), META_TRIE_ROOT);
                return Ok(TrieWrite::Stale);
            }
        }
        for (path, node) in &updates.accounts {
            match node {
                Some(node) => batch.put_cf(accounts, account_key(path), node),
                None => batch.delete_cf(accounts, account_key(path)),
            }
        }
        for (account, nodes) in &updates.storages {
            for (path, node) in nodes {
                match node {
                    Some(node) => batch.put_cf(storages, storage_key(account, path), node),
                    None => batch.delete_cf(storages, storage_key(account, path)),
                }
            }
        }
        batch.put_cf(self.cf(META), META_TRIE_ROOT, updates.root);
        Ok(TrieWrite::Written)
    }

    /// Writes `updates` alone (after an unwind, or a trie built from the plain state) in one
    /// batch.
    pub fn write_trie(&self, updates: &TrieUpdates) -> Result<TrieWrite> {
        let mut batch = WriteBatch::default();
        let written = self.write_trie_into(&mut batch, updates)?;
        self.db.write(batch).map_err(StorageError::from)?;
        Ok(written)
    }
}

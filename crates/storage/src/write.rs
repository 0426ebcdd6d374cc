//! Writing blocks and taking them off: one atomic batch a block (header, body, receipts,
//! lookups, state, changesets, history, the trie's node writes, the head), and unwinds that
//! put the state back from the changesets.

use crate::{
    Result, StateChangeset, Storage, StorageError, TrieWrite,
    codec::{decode_u256, encode_list, encode_receipts, encode_u256},
    corrupt,
    tables::*,
};
use alloy_primitives::{Address, B256};
use alloy_rlp::Encodable;
use dbc_primitives::{Block, ReceiptEnvelope, SealedHeader, TxEnvelope, TxLocation};
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions};

/// About the bytes [`Storage::commit_executed`] puts in a block's write batch (RocksDB adds a
/// few bytes of framing to each entry): a capacity hint, not a limit.
fn batch_estimate(
    body: &[u8],
    transactions: usize,
    changes: &StateChangeset,
    trie: Option<&dbc_trie::TrieUpdates>,
) -> usize {
    // The encoded body, and per transaction a lookup entry, a receipt without logs and a
    // sender.
    let txs = body.len() + transactions * 128;
    // Per account: plain state, changeset and history entries; per slot the same.
    let state: usize = changes.accounts.iter().map(|a| 320 + a.storage.len() * 224).sum();
    let node = |(path, node): &(dbc_trie::Nibbles, Option<Vec<u8>>)| {
        48 + path.len() + node.as_ref().map_or(0, Vec::len)
    };
    let trie = trie.map_or(0, |t| {
        t.accounts.iter().map(node).sum::<usize>()
            + t.storages.iter().flat_map(|(_, nodes)| nodes.iter()).map(node).sum::<usize>()
    });
    4096 + txs + state + trie
}

/// Blocks [`Storage::unwind_to`] removes per write batch.
pub const UNWIND_BATCH: u64 = 4096;

/// Keys an unwind changed in the plain state.
#[derive(Debug, Default)]
pub struct UnwoundKeys {
    /// Accounts, each with whether it did not exist before one of the removed blocks.
    pub accounts: Vec<(Address, bool)>,
    /// Storage slots.
    pub slots: Vec<(Address, B256)>,
}

impl Storage {
    /// Writes `block` with its receipts and state changes as one atomic batch and makes it the
    /// head. The block must extend the current head (or be the genesis of an empty database).
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[ReceiptEnvelope],
        changes: &StateChangeset,
    ) -> Result<()> {
        self.commit_executed(block, receipts, &[], changes, None).map(|_| ())
    }

    /// [`Self::commit_block`] with the logs of the block's end-of-block hooks and the stored
    /// trie's updates to the block's state, in the same batch. Without `trie` the stored trie
    /// stays as it is (a later write of updates since its root catches it up; until then it is
    /// behind the head and a start rebuilds it); updates not built on the stored trie mark it
    /// stale.
    pub fn commit_executed(
        &self,
        block: &Block,
        receipts: &[ReceiptEnvelope],
        hook_logs: &[alloy_primitives::Log],
        changes: &StateChangeset,
        trie: Option<&dbc_trie::TrieUpdates>,
    ) -> Result<TrieWrite> {
        let number = block.number();
        let head = self.head_number()?;
        let expected = head.map_or(0, |h| h + 1);
        if number != expected {
            return Err(StorageError::NotNext { head: head.unwrap_or(0), got: number });
        }
        // Sized once: a large block's batch (16 MB for 10k transfers on a 10M-account state)
        // would otherwise be copied at every doubling and fault in twice its size.
        let body = encode_list(&block.transactions);
        let mut batch = WriteBatch::with_capacity_bytes(batch_estimate(
            &body,
            block.transactions.len(),
            changes,
            trie,
        ));
        let hash = block.hash();
        let nk = num_key(number);
        let mut header_rlp = Vec::with_capacity(600);
        block.header.inner().encode(&mut header_rlp);
        batch.put_cf(self.cf(HEADERS), nk, header_rlp);
        batch.put_cf(self.cf(CANONICAL_HEADERS), nk, hash);
        batch.put_cf(self.cf(HEADER_NUMBERS), hash, nk);
        batch.put_cf(self.cf(BLOCK_BODIES), nk, body);
        let senders: Vec<u8> = block.senders.iter().flat_map(|s| s.0.0).collect();
        batch.put_cf(self.cf(SENDERS), nk, senders);
        batch.put_cf(self.cf(RECEIPTS), nk, encode_receipts(receipts));
        let mut logs_rlp = Vec::new();
        alloy_rlp::encode_list(hook_logs, &mut logs_rlp);
        batch.put_cf(self.cf(HOOK_LOGS), nk, logs_rlp);
        let lookup = self.cf(TX_LOOKUP);
        // In key order: the memtable's skip list inserts a run of ascending keys from where the
        // previous one went instead of searching from the top for each.
        let mut locations: Vec<(&B256, u64)> =
            block.transactions.iter().enumerate().map(|(i, tx)| (tx.tx_hash(), i as u64)).collect();
        locations.sort_unstable_by_key(|(hash, _)| *hash);
        for (hash, index) in locations {
            let location = TxLocation { block_number: number, index };
            batch.put_cf(lookup, hash, alloy_rlp::encode(location));
        }
        self.write_state(&mut batch, number, changes)?;
        let trie = match trie {
            Some(updates) => self.write_trie_into(&mut batch, updates)?,
            None => TrieWrite::Unchanged,
        };
        batch.put_cf(self.cf(META), META_HEAD, nk);
        let mut opts = WriteOptions::default();
        // The WAL makes the batch durable against process crashes; fsync per block would only
        // add protection against power loss at a large cost.
        opts.set_sync(false);
        self.db.write_opt(batch, &opts)?;
        Ok(trie)
    }

    /// Writes a run of blocks without transactions or state changes (the dev chain's
    /// `anvil_mine`) as one atomic batch and makes the last one the head. The first must extend
    /// the current head and each the one before it.
    pub fn commit_empty_blocks(&self, blocks: &[Block]) -> Result<()> {
        let Some(first) = blocks.first() else { return Ok(()) };
        let head = self.head_number()?;
        let mut expected = head.map_or(0, |h| h + 1);
        if first.number() != expected {
            return Err(StorageError::NotNext { head: head.unwrap_or(0), got: first.number() });
        }
        let empty_list = encode_list::<TxEnvelope>(&[]);
        let empty_receipts = encode_receipts(&[]);
        let mut batch = WriteBatch::default();
        let mut header_rlp = Vec::with_capacity(600);
        for block in blocks {
            if block.number() != expected || !block.transactions.is_empty() {
                return Err(StorageError::NotNext {
                    head: expected.saturating_sub(1),
                    got: block.number(),
                });
            }
            let nk = num_key(expected);
            let hash = block.hash();
            header_rlp.clear();
            block.header.inner().encode(&mut header_rlp);
            batch.put_cf(self.cf(HEADERS), nk, &header_rlp);
            batch.put_cf(self.cf(CANONICAL_HEADERS), nk, hash);
            batch.put_cf(self.cf(HEADER_NUMBERS), hash, nk);
            batch.put_cf(self.cf(BLOCK_BODIES), nk, &empty_list);
            batch.put_cf(self.cf(SENDERS), nk, []);
            batch.put_cf(self.cf(RECEIPTS), nk, &empty_receipts);
            // An idle block's hooks log nothing.
            batch.put_cf(self.cf(HOOK_LOGS), nk, [alloy_rlp::EMPTY_LIST_CODE]);
            expected += 1;
        }
        batch.put_cf(self.cf(META), META_HEAD, num_key(expected - 1));
        let mut opts = WriteOptions::default();
        opts.set_sync(false);
        self.db.write_opt(batch, &opts)?;
        Ok(())
    }

    fn write_state(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        changes: &StateChangeset,
    ) -> Result<()> {
        let accounts = self.cf(PLAIN_ACCOUNTS);
        let storage = self.cf(PLAIN_STORAGE);
        let account_cs = self.cf(ACCOUNT_CHANGESETS);
        let storage_cs = self.cf(STORAGE_CHANGESETS);
        let account_hist = self.cf(ACCOUNTS_HISTORY);
        let storage_hist = self.cf(STORAGES_HISTORY);
        for (hash, code) in &changes.bytecodes {
            batch.put_cf(self.cf(BYTECODES), hash, code);
        }
        for change in &changes.accounts {
            let address = &change.address;
            let before = change.before.map(alloy_rlp::encode).unwrap_or_default();
            batch.put_cf(account_cs, account_changeset_key(number, address), before);
            batch.put_cf(account_hist, account_history_key(address, number), []);
            match &change.after {
                Some(account) => batch.put_cf(accounts, address, alloy_rlp::encode(account)),
                None => batch.delete_cf(accounts, address),
            }
            let mut recorded = std::collections::HashSet::new();
            if change.wiped {
                // Record every slot that existed, then delete it.
                for (slot, value) in self.storage_of(address)? {
                    recorded.insert(slot);
                    batch.put_cf(
                        storage_cs,
                        storage_changeset_key(number, address, &slot),
                        encode_u256(&value),
                    );
                    batch.put_cf(storage_hist, storage_history_key(address, &slot, number), []);
                    batch.delete_cf(storage, storage_key(address, &slot));
                }
            }
            for slot in &change.storage {
                if recorded.insert(slot.slot) {
                    batch.put_cf(
                        storage_cs,
                        storage_changeset_key(number, address, &slot.slot),
                        encode_u256(&slot.before),
                    );
                    batch.put_cf(
                        storage_hist,
                        storage_history_key(address, &slot.slot, number),
                        [],
                    );
                }
                let key = storage_key(address, &slot.slot);
                if slot.after.is_zero() {
                    batch.delete_cf(storage, key);
                } else {
                    batch.put_cf(storage, key, encode_u256(&slot.after));
                }
            }
        }
        Ok(())
    }

    /// Removes the head block (never the genesis) in one atomic batch: restores the accounts
    /// and slots it changed from its changesets, drops its changesets, history entries, body,
    /// receipts and transaction lookups, and makes its parent the head. Returns the new head.
    /// Used by fork choice to leave a non-finalized branch.
    pub fn unwind_head(&self) -> Result<SealedHeader> {
        let number = self.head_number()?.unwrap_or(0);
        if number == 0 {
            return Err(StorageError::NotNext { head: 0, got: 0 });
        }
        let parent =
            self.header(number - 1)?.ok_or_else(|| corrupt(HEADERS, "missing parent header"))?;
        let mut batch = WriteBatch::default();
        self.unwind_into(&mut batch, number, &mut UnwoundKeys::default())?;
        batch.put_cf(self.cf(META), META_HEAD, num_key(number - 1));
        self.db.write(batch)?;
        Ok(parent)
    }

    /// Removes every block above `target` as [`unwind_head`](Self::unwind_head) would one by
    /// one, in batches of [`UNWIND_BATCH`] blocks (each atomic: a crash leaves a consistent
    /// chain at a lower head). Returns the new head and the keys whose values changed (the
    /// dev chain's `evm_revert`).
    pub fn unwind_to(&self, target: u64) -> Result<(SealedHeader, UnwoundKeys)> {
        let mut keys = UnwoundKeys::default();
        let mut head = self.head_number()?.unwrap_or(0);
        while head > target {
            let low = head.saturating_sub(UNWIND_BATCH).max(target);
            let mut batch = WriteBatch::default();
            // Newest first: a key changed by several blocks ends with the value before the
            // oldest of them (a batch's later write wins).
            for number in (low + 1..=head).rev() {
                self.unwind_into(&mut batch, number, &mut keys)?;
            }
            batch.put_cf(self.cf(META), META_HEAD, num_key(low));
            self.db.write(batch)?;
            head = low;
        }
        let header = self.header(target)?.ok_or_else(|| corrupt(HEADERS, "missing header"))?;
        Ok((header, keys))
    }

    /// Adds the writes that remove block `number` (the head of the chain the batch leaves) to
    /// `batch`, and records the keys they change.
    fn unwind_into(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        keys: &mut UnwoundKeys,
    ) -> Result<()> {
        let block =
            self.block(number)?.ok_or_else(|| corrupt(BLOCK_BODIES, "missing head body"))?;
        let nk = num_key(number);
        let prefix_iter = |table: &str| {
            self.db.iterator_cf(self.cf(table), IteratorMode::From(&nk, Direction::Forward))
        };
        for item in prefix_iter(ACCOUNT_CHANGESETS) {
            let (k, v) = item?;
            if k[..8] != nk {
                break;
            }
            let address = Address::from_slice(&k[8..28]);
            keys.accounts.push((address, v.is_empty()));
            if v.is_empty() {
                batch.delete_cf(self.cf(PLAIN_ACCOUNTS), address);
            } else {
                batch.put_cf(self.cf(PLAIN_ACCOUNTS), address, &v);
            }
            batch.delete_cf(self.cf(ACCOUNT_CHANGESETS), &k);
            batch.delete_cf(self.cf(ACCOUNTS_HISTORY), account_history_key(&address, number));
        }
        for item in prefix_iter(STORAGE_CHANGESETS) {
            let (k, v) = item?;
            if k[..8] != nk {
                break;
            }
            let address = Address::from_slice(&k[8..28]);
            let slot = B256::from_slice(&k[28..60]);
            keys.slots.push((address, slot));
            let key = storage_key(&address, &slot);
            if decode_u256(&v).is_zero() {
                batch.delete_cf(self.cf(PLAIN_STORAGE), key);
            } else {
                batch.put_cf(self.cf(PLAIN_STORAGE), key, &v);
            }
            batch.delete_cf(self.cf(STORAGE_CHANGESETS), &k);
            batch
                .delete_cf(self.cf(STORAGES_HISTORY), storage_history_key(&address, &slot, number));
        }
        for tx in &block.transactions {
            batch.delete_cf(self.cf(TX_LOOKUP), tx.tx_hash());
        }
        batch.delete_cf(self.cf(HEADER_NUMBERS), block.hash());
        for table in [HEADERS, CANONICAL_HEADERS, BLOCK_BODIES, SENDERS, RECEIPTS, HOOK_LOGS] {
            batch.delete_cf(self.cf(table), nk);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StateReader;
    use crate::{
        AccountChange, SlotChange, StateChangeset,
        tests::{OneAccount, account, block},
    };
    use alloy_primitives::Bytes;
    use alloy_primitives::U256;

    #[test]
    fn unwind_to_restores_the_state_of_the_target_across_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let mut one = OneAccount::new(Address::with_last_byte(1), B256::with_last_byte(9));
        let (a, slot) = (one.address, one.slot);
        let mut change = |n: u64, storage: &Storage| {
            let after = if n == 6 { None } else { Some(account(n, 100 + n)) };
            one.commit(storage, n, after, U256::from(n % 4));
        };
        for n in 0..8 {
            change(n, &storage);
        }
        // More empty blocks than one unwind batch, then changes again.
        let empties: Vec<Block> = (8..8 + UNWIND_BATCH + 10).map(block).collect();
        storage.commit_empty_blocks(&empties).expect("empties");
        let top = 8 + UNWIND_BATCH + 10;
        for n in top..top + 3 {
            change(n, &storage);
        }
        let expected = (storage.state_at(3).account(a).expect("read"), {
            storage.state_at(3).storage(a, slot).expect("read")
        });
        let (head, keys) = storage.unwind_to(3).expect("unwind");
        assert_eq!(head.number, 3);
        assert_eq!(storage.head_number().expect("head"), Some(3));
        assert_eq!(
            (
                storage.latest_account(a).expect("read"),
                storage.latest_storage(a, slot).expect("read")
            ),
            expected
        );
        assert!(storage.header(4).expect("read").is_none());
        assert!(storage.header(top).expect("read").is_none());
        assert!(keys.accounts.iter().any(|(k, _)| *k == a));
        assert!(keys.slots.contains(&(a, slot)));
        // The chain goes on from the target.
        storage.commit_block(&block(4), &[], &StateChangeset::default()).expect("next");
    }

    #[test]
    fn out_of_order_block_is_rejected_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        storage.commit_block(&block(0), &[], &StateChangeset::default()).expect("genesis");
        let err = storage.commit_block(&block(2), &[], &StateChangeset::default());
        assert!(matches!(err, Err(StorageError::NotNext { head: 0, got: 2 })));
        assert!(storage.header(2).expect("read").is_none());
    }

    #[test]
    fn wiped_storage_is_recorded_and_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let a = Address::with_last_byte(2);
        let s1 = B256::with_last_byte(1);
        let s2 = B256::with_last_byte(2);
        let create = StateChangeset {
            accounts: vec![AccountChange {
                address: a,
                before: None,
                after: Some(account(1, 0)),
                wiped: false,
                storage: vec![
                    SlotChange { slot: s1, before: U256::ZERO, after: U256::from(5) },
                    SlotChange { slot: s2, before: U256::ZERO, after: U256::from(6) },
                ],
            }],
            bytecodes: vec![],
        };
        storage.commit_block(&block(0), &[], &create).expect("commit");
        let wipe = StateChangeset {
            accounts: vec![AccountChange {
                address: a,
                before: Some(account(1, 0)),
                after: None,
                wiped: true,
                storage: vec![],
            }],
            bytecodes: vec![],
        };
        storage.commit_block(&block(1), &[], &wipe).expect("commit");
        assert_eq!(storage.latest_storage(a, s1).expect("read"), U256::ZERO);
        assert_eq!(storage.state_at(0).storage(a, s2).expect("read"), U256::from(6));
        assert_eq!(storage.state_at(1).account(a).expect("read"), None);
    }

    #[test]
    fn hook_logs_are_committed_with_their_block_and_unwound_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let log = alloy_primitives::Log::new_unchecked(
            Address::with_last_byte(0xd4),
            vec![B256::with_last_byte(1)],
            Bytes::from_static(b"data"),
        );
        let none = StateChangeset::default();
        storage.commit_block(&block(0), &[], &none).expect("genesis");
        storage
            .commit_executed(&block(1), &[], std::slice::from_ref(&log), &none, None)
            .expect("commit");
        storage.commit_empty_blocks(&[block(2)]).expect("empty");
        assert_eq!(storage.hook_logs(0).expect("read"), Some(vec![]));
        assert_eq!(storage.hook_logs(1).expect("read"), Some(vec![log]));
        assert_eq!(storage.hook_logs(2).expect("read"), Some(vec![]));
        assert_eq!(storage.hook_logs(3).expect("read"), None);
        storage.unwind_to(0).expect("unwind");
        assert_eq!(storage.hook_logs(1).expect("read"), None);
    }
}

//! The state at past blocks: the plain state corrected by the changesets of the blocks after
//! the one asked for, found through the history indices.

use crate::{
    Result, StateReader, Storage, StorageError,
    codec::{decode_rlp, decode_u256},
    corrupt,
    tables::*,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use dbc_primitives::StoredAccount;
use dbc_trie::{AccountLeaf, AccountUpdate};
use rocksdb::{Direction, IteratorMode, ReadOptions};
use std::time::Instant;

/// Accounts changed after the block [`Storage::sum_balances_at`] is asked for that the RPC
/// lets it hold in memory (~60 bytes each).
pub const MAX_AUDIT_CHANGED: usize = 4_000_000;

/// How far a whole-state read may go before it is abandoned.
#[derive(Debug, Clone, Copy)]
pub struct ReadBudget {
    /// Abandoned with [`StorageError::Deadline`] once this has passed.
    pub until: Option<Instant>,
    /// Changed accounts it may hold in memory ([`StorageError::TooManyChanges`] past it).
    pub max_changed: usize,
}

impl ReadBudget {
    /// No deadline, no limit (tests and tools).
    pub const UNLIMITED: Self = Self { until: None, max_changed: usize::MAX };
}

/// State as of the end of one block, read from plain state and changesets.
#[derive(Debug, Clone)]
pub struct HistoricalState {
    storage: Storage,
    block: u64,
}

impl HistoricalState {
    /// The block this view reads at.
    pub fn block(&self) -> u64 {
        self.block
    }

    /// The underlying database.
    pub fn db(&self) -> &Storage {
        &self.storage
    }
}

impl StateReader for HistoricalState {
    fn account(&self, address: Address) -> Result<Option<StoredAccount>> {
        // Plain state first, history second: see the crate invariants.
        let plain = self.storage.latest_account(address)?;
        match self.storage.next_change(ACCOUNTS_HISTORY, address.as_slice(), self.block)? {
            None => Ok(plain),
            Some(changed) => {
                let raw = self
                    .storage
                    .get(ACCOUNT_CHANGESETS, account_changeset_key(changed, &address))?
                    .ok_or_else(|| corrupt(ACCOUNT_CHANGESETS, "missing entry"))?;
                if raw.is_empty() {
                    Ok(None)
                } else {
                    decode_rlp(ACCOUNT_CHANGESETS, &raw).map(Some)
                }
            }
        }
    }

    fn storage(&self, address: Address, slot: B256) -> Result<U256> {
        let plain = self.storage.latest_storage(address, slot)?;
        let mut prefix = [0u8; 52];
        prefix[..20].copy_from_slice(address.as_slice());
        prefix[20..].copy_from_slice(slot.as_slice());
        match self.storage.next_change(STORAGES_HISTORY, &prefix, self.block)? {
            None => Ok(plain),
            Some(changed) => Ok(self
                .storage
                .get(STORAGE_CHANGESETS, storage_changeset_key(changed, &address, &slot))?
                .map(|v| decode_u256(&v))
                .unwrap_or_default()),
        }
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytes>> {
        self.storage.code(code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        if number > self.block {
            return Ok(None);
        }
        self.storage.block_hash(number)
    }
}

impl Storage {
    /// State as of the end of block `number`.
    pub fn state_at(&self, number: u64) -> HistoricalState {
        HistoricalState { storage: self.clone(), block: number }
    }

    /// The sum of every balance as of the end of block `number` (the head when `None`), the
    /// number of accounts and the block, read from one RocksDB snapshot: the plain state,
    /// corrected by the account changesets of the blocks after `number`. O(accounts + changes
    /// after `number`) time, and memory for the accounts changed after `number`, both within
    /// `budget`. `None` when `number` is above the head.
    pub fn sum_balances_at(
        &self,
        number: Option<u64>,
        budget: ReadBudget,
    ) -> Result<Option<(u64, U256, u64)>> {
        let snapshot = self.db.snapshot();
        let head = match snapshot.get_cf(self.cf(META), META_HEAD)? {
            None => return Ok(None),
            Some(v) => decode_num(&v).ok_or_else(|| corrupt(META, "head"))?,
        };
        let number = number.unwrap_or(head);
        if number > head {
            return Ok(None);
        }
        let mut read = 0u64;
        let mut check = || {
            read = read.wrapping_add(1);
            match budget.until {
                // The clock at the first entry and every 4,096 after.
                Some(until) if read % 4096 == 1 && Instant::now() >= until => {
                    Err(StorageError::Deadline)
                }
                _ => Ok(()),
            }
        };
        let mut sum = U256::ZERO;
        let mut count = 0u64;
        for item in snapshot.iterator_cf(self.cf(PLAIN_ACCOUNTS), IteratorMode::Start) {
            check()?;
            let (_, value) = item?;
            let account: StoredAccount = decode_rlp(PLAIN_ACCOUNTS, &value)?;
            sum = sum.checked_add(account.balance).ok_or_else(|| corrupt(PLAIN_ACCOUNTS, "sum"))?;
            count += 1;
        }
        // An account changed after `number`: its first changeset entry after `number` is its
        // value at `number` (empty: it did not exist); replace its head value by that.
        let mut seen = std::collections::HashSet::new();
        let from = num_key(number.saturating_add(1));
        for item in snapshot
            .iterator_cf(self.cf(ACCOUNT_CHANGESETS), IteratorMode::From(&from, Direction::Forward))
        {
            check()?;
            let (k, v) = item?;
            if k.len() != 28 {
                return Err(corrupt(ACCOUNT_CHANGESETS, "key"));
            }
            let address = Address::from_slice(&k[8..28]);
            if !seen.insert(address) {
                continue;
            }
            if seen.len() > budget.max_changed {
                return Err(StorageError::TooManyChanges {
                    since: number,
                    max: budget.max_changed,
                });
            }
            if let Some(now) = snapshot.get_cf(self.cf(PLAIN_ACCOUNTS), address)? {
                let now: StoredAccount = decode_rlp(PLAIN_ACCOUNTS, &now)?;
                sum = sum.checked_sub(now.balance).ok_or_else(|| corrupt(PLAIN_ACCOUNTS, "sum"))?;
                count -= 1;
            }
            if !v.is_empty() {
                let then: StoredAccount = decode_rlp(ACCOUNT_CHANGESETS, &v)?;
                sum = sum
                    .checked_add(then.balance)
                    .ok_or_else(|| corrupt(ACCOUNT_CHANGESETS, "sum"))?;
                count += 1;
            }
        }
        Ok(Some((number, sum, count)))
    }

    /// The blocks in `from..=to` in which `address`'s storage `slot` changed, in order, at most
    /// `limit` of them (from the storage history index).
    pub fn storage_change_blocks(
        &self,
        address: &Address,
        slot: &B256,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<u64>> {
        let start = storage_history_key(address, slot, from);
        let prefix = &start[..52];
        let mut out = Vec::new();
        let mut opts = ReadOptions::default();
        opts.set_prefix_same_as_start(false);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(STORAGES_HISTORY), opts);
        iter.seek(start);
        while iter.valid() && out.len() < limit {
            let Some(k) = iter.key() else { break };
            if k.len() != 60 || !k.starts_with(prefix) {
                break;
            }
            let block = decode_num(&k[52..]).ok_or_else(|| corrupt(STORAGES_HISTORY, "key"))?;
            if block > to {
                break;
            }
            out.push(block);
            iter.next();
        }
        iter.status()?;
        Ok(out)
    }

    /// Account and slot changes recorded for the blocks after `number`, counted from the
    /// changesets' keys (nothing decoded), up to `max + 1`: what moving the head's state back
    /// to block `number` would undo.
    pub fn changes_after(&self, number: u64, max: usize) -> Result<usize> {
        let Some(after) = number.checked_add(1) else { return Ok(0) };
        let from = num_key(after);
        let mut n = 0usize;
        for table in [ACCOUNT_CHANGESETS, STORAGE_CHANGESETS] {
            let mut iter = self.db.raw_iterator_cf(self.cf(table));
            iter.seek(from);
            while iter.valid() && n <= max {
                n += 1;
                iter.next();
            }
            iter.status()?;
        }
        Ok(n)
    }

    /// [`Storage::changes_before`] as updates of the state trie: applied to a trie of block
    /// `number`'s state, they give the trie of the state before it (a trie moved back over
    /// blocks for fork choice or for a proof at an earlier block).
    pub fn trie_reverts(&self, number: u64) -> Result<Vec<(Address, AccountUpdate)>> {
        Ok(self
            .changes_before(number)?
            .into_iter()
            .map(|(address, account, slots)| {
                let info = account.map(|a| AccountLeaf {
                    nonce: a.nonce,
                    balance: a.balance,
                    code_hash: a.code_hash,
                });
                let storage = slots.into_iter().map(|(k, v)| (U256::from_be_bytes(k.0), v));
                let update =
                    AccountUpdate { info, storage: storage.collect(), ..Default::default() };
                (address, update)
            })
            .collect())
    }

    /// What committed block `number` changed, as the values *before* it: each changed account
    /// (`None`: it did not exist) with every slot the block changed or cleared and that slot's
    /// value before the block. Applying these to the state after the block gives the state
    /// before it (fork choice uses it to move the state trie back without rebuilding it).
    #[allow(clippy::type_complexity)]
    pub fn changes_before(
        &self,
        number: u64,
    ) -> Result<Vec<(Address, Option<StoredAccount>, Vec<(B256, U256)>)>> {
        let nk = num_key(number);
        let mut out: Vec<(Address, Option<StoredAccount>, Vec<(B256, U256)>)> = Vec::new();
        let iter = self
            .db
            .iterator_cf(self.cf(ACCOUNT_CHANGESETS), IteratorMode::From(&nk, Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if k.len() < 28 || k[..8] != nk {
                break;
            }
            let before = if v.is_empty() {
                None
            } else {
                Some(decode_rlp::<StoredAccount>(ACCOUNT_CHANGESETS, &v)?)
            };
            out.push((Address::from_slice(&k[8..28]), before, Vec::new()));
        }
        // Both tables are in (number, address) order.
        let mut i = 0;
        let iter = self
            .db
            .iterator_cf(self.cf(STORAGE_CHANGESETS), IteratorMode::From(&nk, Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if k.len() < 60 || k[..8] != nk {
                break;
            }
            let address = Address::from_slice(&k[8..28]);
            while i < out.len() && out[i].0 < address {
                i += 1;
            }
            if i == out.len() || out[i].0 != address {
                return Err(corrupt(STORAGE_CHANGESETS, "slot change without an account change"));
            }
            out[i].2.push((B256::from_slice(&k[28..60]), decode_u256(&v)));
        }
        Ok(out)
    }

    /// Every account with its non-zero storage as of the end of block `number`, rebuilt from
    /// the plain state and the changesets of later blocks. Linear in the state size plus the
    /// changes after `number`: the oracle EIP-1186 proofs at earlier blocks are tested against
    /// (the RPC moves the stored trie back instead, `dbc_rpc::proofs`).
    #[allow(clippy::type_complexity)]
    pub fn full_state_at(
        &self,
        number: u64,
    ) -> Result<
        std::collections::BTreeMap<
            Address,
            (StoredAccount, std::collections::BTreeMap<B256, U256>),
        >,
    > {
        use std::collections::{BTreeMap, HashSet};
        let mut accounts: BTreeMap<Address, (Option<StoredAccount>, BTreeMap<B256, U256>)> =
            BTreeMap::new();
        self.for_each_account(|address, account, storage| {
            accounts.insert(address, (Some(account), storage.into_iter().collect()));
        })?;
        if let Some(after) = number.checked_add(1) {
            let mut seen = HashSet::new();
            let iter = self.db.iterator_cf(
                self.cf(ACCOUNT_CHANGESETS),
                IteratorMode::From(&num_key(after), Direction::Forward),
            );
            for item in iter {
                let (k, v) = item?;
                let address = Address::from_slice(&k[8..28]);
                if seen.insert(address) {
                    let before = if v.is_empty() {
                        None
                    } else {
                        Some(decode_rlp::<StoredAccount>(ACCOUNT_CHANGESETS, &v)?)
                    };
                    accounts.entry(address).or_default().0 = before;
                }
            }
            let mut seen = HashSet::new();
            let iter = self.db.iterator_cf(
                self.cf(STORAGE_CHANGESETS),
                IteratorMode::From(&num_key(after), Direction::Forward),
            );
            for item in iter {
                let (k, v) = item?;
                let address = Address::from_slice(&k[8..28]);
                let slot = B256::from_slice(&k[28..60]);
                if seen.insert((address, slot)) {
                    let value = decode_u256(&v);
                    let storage = &mut accounts.entry(address).or_default().1;
                    if value.is_zero() {
                        storage.remove(&slot);
                    } else {
                        storage.insert(slot, value);
                    }
                }
            }
        }
        Ok(accounts
            .into_iter()
            .filter_map(|(a, (account, storage))| account.map(|acc| (a, (acc, storage))))
            .collect())
    }

    /// First block after `block` in which the history table `table` records a change of the key
    /// starting with `prefix` (whose entries are `prefix ‖ block`).
    fn next_change(&self, table: &str, prefix: &[u8], block: u64) -> Result<Option<u64>> {
        let Some(after) = block.checked_add(1) else { return Ok(None) };
        let mut seek = Vec::with_capacity(prefix.len() + 8);
        seek.extend_from_slice(prefix);
        seek.extend_from_slice(&after.to_be_bytes());
        let mut opts = ReadOptions::default();
        opts.set_prefix_same_as_start(false);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(table), opts);
        iter.seek(&seek);
        if !iter.valid() {
            iter.status()?;
            return Ok(None);
        }
        match iter.key() {
            Some(k) if k.len() == prefix.len() + 8 && k.starts_with(prefix) => {
                Ok(decode_num(&k[prefix.len()..]))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AccountChange, SlotChange, StateChangeset,
        tests::{OneAccount, account, block},
    };

    #[test]
    fn history_reads_return_the_value_at_each_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let mut one = OneAccount::new(Address::with_last_byte(1), B256::with_last_byte(9));
        let (a, slot) = (one.address, one.slot);
        for n in 0..10u64 {
            let after = if n == 6 { None } else { Some(account(n, 100 + n)) };
            let value = if n % 3 == 0 { U256::ZERO } else { U256::from(n) };
            one.commit(&storage, n, after, value);
        }
        for n in 0..10u64 {
            let state = storage.state_at(n);
            let expected = if n == 6 { None } else { Some(account(n, 100 + n)) };
            assert_eq!(state.account(a).expect("read"), expected, "block {n}");
            let expected_slot = if n % 3 == 0 { U256::ZERO } else { U256::from(n) };
            assert_eq!(state.storage(a, slot).expect("read"), expected_slot, "block {n}");
        }
        assert_eq!(storage.head_number().expect("head"), Some(9));
    }

    /// Entries of `table`.
    fn entries(storage: &Storage, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        storage
            .db
            .iterator_cf(storage.cf(table), IteratorMode::Start)
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("read"))
            .collect()
    }

    /// Several accounts and slots a block, one destroyed and created again: one changeset and
    /// one history entry a change; every archive read, `changes_before` and unwinding agree
    /// with a model of the state after each block, and an unwound block leaves no entry behind.
    #[test]
    fn history_reads_and_unwinds_agree_with_a_model_of_several_accounts() {
        use std::collections::BTreeMap;
        type State = BTreeMap<Address, (StoredAccount, BTreeMap<B256, U256>)>;
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let addresses: Vec<Address> = (1..=5u8).map(Address::with_last_byte).collect();
        let slots: Vec<B256> = (1..=3u8).map(B256::with_last_byte).collect();
        let mut state = State::new();
        let mut after_block: Vec<State> = Vec::new();
        let mut changed_in: Vec<Vec<Address>> = Vec::new();
        let mut changes_count = 0;
        for n in 0..8u64 {
            let mut accounts = Vec::new();
            // Changes listed out of address order: reads must not depend on it.
            for (i, address) in addresses.iter().enumerate().rev() {
                let i = i as u64;
                if !(i + n).is_multiple_of(2) {
                    continue;
                }
                let before = state.get(address).map(|(a, _)| *a);
                let destroyed = n == 5 && i == 1;
                let after = (!destroyed).then(|| account(n, 1000 * (i + 1) + n));
                let mut slot_changes = Vec::new();
                for (j, slot) in slots.iter().enumerate() {
                    if destroyed || (j as u64 + n + i).is_multiple_of(3) {
                        continue;
                    }
                    let old = state.get(address).and_then(|(_, st)| st.get(slot).copied());
                    let new = U256::from((n + j as u64) % 3);
                    slot_changes.push(SlotChange {
                        slot: *slot,
                        before: old.unwrap_or_default(),
                        after: new,
                    });
                }
                match after {
                    None => {
                        state.remove(address);
                    }
                    Some(acc) => {
                        let entry = state.entry(*address).or_insert((acc, BTreeMap::new()));
                        entry.0 = acc;
                        for c in &slot_changes {
                            if c.after.is_zero() {
                                entry.1.remove(&c.slot);
                            } else {
                                entry.1.insert(c.slot, c.after);
                            }
                        }
                    }
                }
                accounts.push(AccountChange {
                    address: *address,
                    before,
                    after,
                    wiped: destroyed,
                    storage: slot_changes,
                });
            }
            changes_count += accounts.len();
            changed_in.push(accounts.iter().map(|c| c.address).collect());
            let changes = StateChangeset { accounts, bytecodes: vec![] };
            storage.commit_block(&block(n), &[], &changes).expect("commit");
            after_block.push(state.clone());
        }
        // One changeset and one history entry a changed account.
        assert_eq!(entries(&storage, ACCOUNT_CHANGESETS).len(), changes_count);
        assert_eq!(entries(&storage, ACCOUNTS_HISTORY).len(), changes_count);
        for (n, expected) in after_block.iter().enumerate() {
            let n = n as u64;
            let at = storage.state_at(n);
            for address in &addresses {
                let want = expected.get(address);
                assert_eq!(at.account(*address).expect("read"), want.map(|w| w.0), "block {n}");
                for slot in &slots {
                    let want = want.and_then(|w| w.1.get(slot).copied()).unwrap_or_default();
                    assert_eq!(at.storage(*address, *slot).expect("read"), want, "block {n}");
                }
            }
            assert_eq!(&storage.full_state_at(n).expect("full state"), expected, "block {n}");
            let sum = expected.values().map(|(a, _)| a.balance).sum::<U256>();
            assert_eq!(
                storage.sum_balances_at(Some(n), ReadBudget::UNLIMITED).expect("sum"),
                Some((n, sum, expected.len() as u64)),
                "block {n}"
            );
        }
        // What block 7 changed, as the values before it, in address order.
        let mut want: Vec<Address> = changed_in[7].clone();
        want.sort();
        let before = storage.changes_before(7).expect("changes");
        assert_eq!(before.iter().map(|c| c.0).collect::<Vec<_>>(), want);
        for (address, account, slots_before) in &before {
            let then = after_block[6].get(address);
            assert_eq!(*account, then.map(|t| t.0));
            for (slot, value) in slots_before {
                let old = then.and_then(|t| t.1.get(slot).copied()).unwrap_or_default();
                assert_eq!(*value, old);
            }
        }
        // Unwinding two blocks restores block 5's state and leaves nothing of blocks 6 and 7.
        storage.unwind_head().expect("unwind");
        storage.unwind_head().expect("unwind");
        for address in &addresses {
            let want = after_block[5].get(address);
            assert_eq!(storage.latest_account(*address).expect("read"), want.map(|w| w.0));
            assert_eq!(storage.account_storage(address).expect("read"), {
                want.map(|w| w.1.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>())
                    .unwrap_or_default()
            });
        }
        for table in [ACCOUNT_CHANGESETS, STORAGE_CHANGESETS] {
            for (key, _) in entries(&storage, table) {
                let block = decode_num(&key[..8]).expect("block");
                assert!(block <= 5, "{table} keeps an entry of unwound block {block}");
            }
        }
        for table in [ACCOUNTS_HISTORY, STORAGES_HISTORY] {
            for (key, _) in entries(&storage, table) {
                let block = decode_num(&key[key.len() - 8..]).expect("block");
                assert!(block <= 5, "{table} keeps an entry of unwound block {block}");
            }
        }
    }

    #[test]
    fn balances_sum_at_any_block_and_slot_changes_are_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let (a, b) = (Address::with_last_byte(1), Address::with_last_byte(2));
        let slot = B256::with_last_byte(9);
        // a: balance 100 + n, deleted at block 6, back at 7; b: created at block 4 with 1,000;
        // a's slot holds n / 2: it changes at blocks 2, 4, 6 and 8.
        let a_at = |n: u64| (n != 6).then(|| account(n, 100 + n));
        let slot_at = |n: u64| U256::from(n / 2);
        let mut changed_slots = Vec::new();
        for n in 0..10u64 {
            let before = n.checked_sub(1).and_then(a_at);
            let prev_slot = n.checked_sub(1).map_or(U256::ZERO, slot_at);
            let mut slots = vec![];
            if slot_at(n) != prev_slot {
                slots.push(SlotChange { slot, before: prev_slot, after: slot_at(n) });
                changed_slots.push(n);
            }
            let mut accounts = vec![AccountChange {
                address: a,
                before,
                after: a_at(n),
                wiped: false,
                storage: slots,
            }];
            if n == 4 {
                accounts.push(AccountChange {
                    address: b,
                    before: None,
                    after: Some(account(0, 1_000)),
                    wiped: false,
                    storage: vec![],
                });
            }
            let changes = StateChangeset { accounts, bytecodes: vec![] };
            storage.commit_block(&block(n), &[], &changes).expect("commit");
        }
        for n in 0..10u64 {
            let a_balance = a_at(n).map_or(0, |acc| acc.balance.to::<u64>());
            let b_balance = if n >= 4 { 1_000 } else { 0 };
            let accounts = u64::from(a_at(n).is_some()) + u64::from(n >= 4);
            assert_eq!(
                storage.sum_balances_at(Some(n), ReadBudget::UNLIMITED).expect("sum"),
                Some((n, U256::from(a_balance + b_balance), accounts)),
                "block {n}"
            );
        }
        assert_eq!(
            storage.sum_balances_at(None, ReadBudget::UNLIMITED).expect("sum"),
            Some((9, U256::from(1_109), 2))
        );
        assert_eq!(
            storage.sum_balances_at(Some(10), ReadBudget::UNLIMITED).expect("sum"),
            None,
            "above the head"
        );
        // What moving the state back would undo: after block 8, a's change at 9; after 3, a's
        // six, b's creation and the slot's three; counted up to one past the limit.
        assert_eq!(storage.changes_after(8, usize::MAX).expect("count"), 1);
        assert_eq!(storage.changes_after(3, usize::MAX).expect("count"), 10);
        assert_eq!(storage.changes_after(3, 4).expect("count"), 5);
        assert_eq!(storage.changes_after(9, usize::MAX).expect("count"), 0);
        assert_eq!(storage.changes_after(u64::MAX, usize::MAX).expect("count"), 0);
        // Within its budget: two accounts changed after block 3 (a, and b created at 4), one
        // after block 8; a passed deadline stops it at the first entry.
        let budget = |until, max_changed| ReadBudget { until, max_changed };
        let err = storage.sum_balances_at(Some(3), budget(None, 1)).expect_err("two changed");
        assert!(matches!(err, StorageError::TooManyChanges { since: 3, max: 1 }), "{err}");
        assert!(storage.sum_balances_at(Some(8), budget(None, 1)).expect("one changed").is_some());
        let past = Instant::now().checked_sub(std::time::Duration::from_secs(1));
        let err = storage.sum_balances_at(Some(8), budget(past, usize::MAX)).expect_err("late");
        assert!(matches!(err, StorageError::Deadline), "{err}");
        let later = Instant::now().checked_add(std::time::Duration::from_secs(60));
        assert!(
            storage.sum_balances_at(Some(8), budget(later, usize::MAX)).expect("in time").is_some()
        );
        assert_eq!(changed_slots, vec![2, 4, 6, 8]);
        let listed = |from, to, limit| storage.storage_change_blocks(&a, &slot, from, to, limit);
        assert_eq!(listed(0, 9, 100).expect("list"), changed_slots);
        assert_eq!(listed(3, 7, 100).expect("list"), vec![4, 6]);
        assert_eq!(listed(2, 8, 2).expect("list"), vec![2, 4]);
        assert_eq!(listed(5, 5, 100).expect("list"), Vec::<u64>::new());
        let other = storage.storage_change_blocks(&b, &slot, 0, 9, 100).expect("list");
        assert!(other.is_empty(), "another account's slot");
    }
}

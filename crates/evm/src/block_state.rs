//! The state a block executes on: the parent's state (a [`StateReader`]) under an overlay of
//! everything the block's transactions have committed so far.
//!
//! revm's own `State` keeps a transition and a revert per account per transaction so that it can
//! build a `BundleState` with reverts for many blocks. The node needs much less: per account and
//! per slot, the value before the block (for changesets and history) and the value now. Keeping
//! only those two makes committing a transaction a handful of map writes, which is most of the
//! difference between the block executor and bare revm for simple transfers.
//!
//! Semantics follow revm's `State` (with EIP-161 state clear): accounts that are only loaded are
//! not changes; a self-destructed account is deleted with its storage; a newly created account
//! starts with empty storage; a touched account that ends up empty is deleted.

use crate::{
    db::DbError,
    spare::{MAX_SPARE_ENTRIES, Spare},
};
use alloy_primitives::{
    Address, B256, U256,
    map::{AddressMap, AddressSet, B256Map, U256Map},
};
use dbc_primitives::{KECCAK_EMPTY, StoredAccount};
use dbc_storage::{AccountChange, SlotChange, StateChangeset, StateReader};
use dbc_trie::{AccountLeaf, AccountUpdate};
use revm::{
    Database, DatabaseCommit,
    bytecode::Bytecode,
    state::{Account, AccountInfo},
};
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
    mpsc::{Receiver, Sender, TryRecvError, channel},
};

/// One slot: its value before the block and now.
#[derive(Debug, Clone, Copy)]
struct Slot {
    original: U256,
    present: U256,
}

/// One account as the block sees it.
#[derive(Debug, Default)]
struct Cached {
    /// In the parent's state (`None`: did not exist).
    original: Option<StoredAccount>,
    /// Now (`None`: does not exist). Contract accounts carry their code once loaded.
    info: Option<AccountInfo>,
    /// Slots read or written in this block.
    storage: U256Map<Slot>,
    /// Storage was cleared in this block (created or self-destructed): slots not in `storage`
    /// are zero, whatever the parent's state says.
    cleared: bool,
    /// A transaction committed a change to it.
    touched: bool,
}

/// The executing block's state: implements revm's [`Database`] and [`DatabaseCommit`] and turns
/// into the block's [`StateChangeset`] and trie updates at the end.
#[derive(Debug)]
pub struct BlockState<R> {
    reader: R,
    accounts: AddressMap<Cached>,
    /// Code by hash: read from the reader (analysed once) or deployed in this block.
    code: B256Map<Bytecode>,
    /// Code deployed in this block, to be stored.
    deployed: Vec<(B256, Bytecode)>,
    /// A read that failed inside [`DatabaseCommit::commit`], which cannot return it.
    deferred: Option<DbError>,
    /// Accounts being read ahead by another thread.
    prefetch: Option<Prefetch>,
    /// Sum of the balance increases committed so far in this block.
    supply_added: U256,
    /// Sum of the balance decreases committed so far in this block.
    supply_removed: U256,
}

/// Accounts read ahead of execution, arriving in chunks in the order they will be needed.
#[derive(Debug)]
struct Prefetch {
    /// Everything that will arrive (until the channel closes).
    pending: AddressSet,
    chunks: Receiver<Vec<(Address, Option<StoredAccount>)>>,
    /// The chunks, shared with the prefetching thread: execution reads the next unclaimed one
    /// itself rather than wait for that thread.
    shared: Arc<Chunks>,
}

/// The fields of the accounts found, for the trie's loader.
type FieldsSender = Sender<Vec<(Address, AccountLeaf)>>;

/// A block's addresses in chunks of [`PREFETCH_CHUNK`], each read once by whichever thread
/// claims it first: the prefetching thread in order, or execution when it has caught up with
/// that thread (on two cores that thread shares its core with the previous block's commit, so
/// waiting for it would leave execution's core idle).
#[derive(Debug)]
struct Chunks {
    addresses: Vec<Address>,
    /// The next chunk nobody has claimed.
    next: AtomicUsize,
    /// Chunks read (their fields shared).
    done: AtomicUsize,
    /// Closed (dropped) when every chunk has been read, a read failed, or execution ended
    /// before the prefetching thread read them all: the loader then stops waiting for fields.
    fields: Mutex<Option<FieldsSender>>,
}

impl Chunks {
    fn count(&self) -> usize {
        self.addresses.len().div_ceil(PREFETCH_CHUNK)
    }

    /// Claims the next chunk nobody has claimed yet.
    fn claim(&self) -> Option<&[Address]> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let start = k.checked_mul(PREFETCH_CHUNK).filter(|s| *s < self.addresses.len())?;
        let end = start.saturating_add(PREFETCH_CHUNK).min(self.addresses.len());
        Some(&self.addresses[start..end])
    }

    fn fields(&self) -> std::sync::MutexGuard<'_, Option<FieldsSender>> {
        self.fields.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shares a claimed chunk's accounts with the loader; the last chunk closes its channel.
    fn finish(&self, chunk: &[Address], found: &[Option<StoredAccount>]) {
        let mut fields = self.fields();
        if let Some(tx) = fields.as_ref() {
            let leaves =
                chunk.iter().zip(found).filter_map(|(a, f)| Some((*a, to_leaf(f.as_ref()?))));
            // The preload may be gone (a read failed there): nothing to do.
            let _ = tx.send(leaves.collect());
        }
        if self.done.fetch_add(1, Ordering::AcqRel).saturating_add(1) >= self.count() {
            fields.take();
        }
    }

    /// A read failed: the loader gets no more fields (it reads what it still needs).
    fn abandon(&self) {
        self.fields().take();
    }
}

/// The last block's account map, emptied, for the next block (see [`crate::spare`]).
static SPARE_ACCOUNTS: Spare<AddressMap<Cached>> = Spare::new();

/// How many accounts a prefetch chunk carries: small enough that execution rarely waits for
/// the first one, large enough for RocksDB's batched lookup to pay off.
const PREFETCH_CHUNK: usize = 256;

fn to_info(a: &StoredAccount) -> AccountInfo {
    AccountInfo {
        balance: a.balance,
        nonce: a.nonce,
        code_hash: a.code_hash,
        account_id: None,
        code: None,
    }
}

/// The fields of `a` that enter the state trie.
fn to_leaf(a: &StoredAccount) -> AccountLeaf {
    AccountLeaf { nonce: a.nonce, balance: a.balance, code_hash: a.code_hash }
}

fn to_stored(info: &AccountInfo) -> StoredAccount {
    StoredAccount {
        nonce: info.nonce,
        balance: info.balance,
        code_hash: if info.code_hash.is_zero() { KECCAK_EMPTY } else { info.code_hash },
    }
}

impl<R: StateReader> BlockState<R> {
    /// An empty overlay over `reader`, with room for about `accounts` accounts.
    pub fn new(reader: R, accounts: usize) -> Self {
        let mut map = SPARE_ACCOUNTS.take().unwrap_or_default();
        map.reserve(accounts);
        Self {
            reader,
            accounts: map,
            code: B256Map::default(),
            deployed: Vec::new(),
            deferred: None,
            prefetch: None,
            supply_added: U256::ZERO,
            supply_removed: U256::ZERO,
        }
    }

    /// The net change of the sum of all balances committed so far in this block: base fees
    /// (the sender pays them, nobody receives them), precompile burns, `SELFDESTRUCT` burns and
    /// dev balance edits. The governance hook adds it to the supply ledger.
    pub fn supply_change(&self) -> alloy_primitives::I256 {
        use alloy_primitives::I256;
        let (a, r) = (self.supply_added, self.supply_removed);
        if a >= r {
            I256::try_from(a - r).unwrap_or(I256::MAX)
        } else {
            I256::try_from(r - a).map_or(I256::MIN, |v| -v)
        }
    }

    fn record_balance_change(&mut self, before: U256, after: U256) {
        if after > before {
            self.supply_added = self.supply_added.saturating_add(after - before);
        } else {
            self.supply_removed = self.supply_removed.saturating_add(before - after);
        }
    }

    fn insert_loaded(&mut self, loaded: Vec<(Address, Option<StoredAccount>)>) {
        for (address, original) in loaded {
            // An account already here may carry this block's changes: keep it.
            self.accounts.entry(address).or_insert_with(|| Cached {
                info: original.as_ref().map(to_info),
                original,
                ..Default::default()
            });
        }
    }

    /// Makes sure `address` has been read, if the prefetch has it: takes the chunks that have
    /// arrived, reads the next unclaimed chunk here rather than wait for the prefetching
    /// thread, and waits only when every chunk is claimed.
    fn await_prefetched(&mut self, address: Address) {
        let Some(prefetch) = self.prefetch.as_ref() else { return };
        if !prefetch.pending.contains(&address) {
            return;
        }
        while !self.accounts.contains_key(&address) {
            let Some(prefetch) = self.prefetch.as_ref() else { return };
            match prefetch.chunks.try_recv() {
                Ok(chunk) => {
                    self.insert_loaded(chunk);
                    continue;
                }
                // Done (or failed): read directly from now on.
                Err(TryRecvError::Disconnected) => {
                    self.prefetch = None;
                    return;
                }
                Err(TryRecvError::Empty) => {}
            }
            let shared = Arc::clone(&prefetch.shared);
            if let Some(chunk) = shared.claim() {
                match self.reader.accounts(chunk) {
                    Ok(found) => {
                        shared.finish(chunk, &found);
                        self.insert_loaded(chunk.iter().copied().zip(found).collect());
                    }
                    Err(_) => {
                        // Read directly from now on (the read that fails again returns it).
                        shared.abandon();
                        self.prefetch = None;
                    }
                }
                continue;
            }
            // Every chunk is claimed: the one with `address` is on its way.
            match prefetch.chunks.recv() {
                Ok(chunk) => self.insert_loaded(chunk),
                Err(_) => self.prefetch = None,
            }
        }
    }

    fn load(&mut self, address: Address) -> Result<&mut Cached, DbError> {
        use std::collections::hash_map::Entry;
        if self.prefetch.is_some() && !self.accounts.contains_key(&address) {
            self.await_prefetched(address);
        }
        match self.accounts.entry(address) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let original = self.reader.account(address)?;
                Ok(e.insert(Cached {
                    info: original.as_ref().map(to_info),
                    original,
                    ..Default::default()
                }))
            }
        }
    }

    fn code_of(&mut self, hash: B256) -> Result<Bytecode, DbError> {
        if hash == KECCAK_EMPTY || hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.code.get(&hash) {
            return Ok(code.clone());
        }
        let code = self.reader.code(hash)?.map(Bytecode::new_raw).unwrap_or_default();
        self.code.insert(hash, code.clone());
        Ok(code)
    }

    /// The block's changes: the changeset for storage (sorted by address) and the updates for
    /// the state trie. Fails if a read inside a commit failed.
    pub fn into_changes(self) -> Result<(StateChangeset, Vec<(Address, AccountUpdate)>), DbError> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let mut changes = StateChangeset::default();
        for (hash, code) in &self.deployed {
            if *hash != KECCAK_EMPTY && !code.is_empty() {
                changes.bytecodes.push((*hash, code.original_bytes()));
            }
        }
        let mut accounts = self.accounts;
        let mut updates = Vec::with_capacity(accounts.len());
        changes.accounts.reserve(accounts.len());
        for (address, account) in accounts.drain() {
            if !account.touched {
                continue;
            }
            // Not in the state at all before the block (not even empty): no leaf in the trie.
            let absent_before = account.original.is_none();
            let before = account.original.filter(|a| !a.is_empty());
            let after = account.info.as_ref().map(to_stored).filter(|a| !a.is_empty());
            // Storage to clear in the database: only an account that existed can have any.
            let wiped = account.cleared && before.is_some();
            let storage: Vec<SlotChange> = account
                .storage
                .iter()
                .filter(|(_, s)| wiped || s.original != s.present)
                .map(|(k, s)| SlotChange {
                    slot: B256::from(*k),
                    before: s.original,
                    after: s.present,
                })
                .collect();
            if before == after && storage.is_empty() && !wiped {
                continue;
            }
            updates.push((
                address,
                AccountUpdate {
                    info: after.as_ref().map(to_leaf),
                    wipe_storage: account.cleared || after.is_none(),
                    storage: storage
                        .iter()
                        .map(|s| (U256::from_be_bytes(s.slot.0), s.after))
                        .collect(),
                    absent_before,
                },
            ));
            changes.accounts.push(AccountChange {
                address,
                before,
                after,
                wiped: wiped || (after.is_none() && before.is_some()),
                storage,
            });
        }
        if accounts.capacity() <= MAX_SPARE_ENTRIES {
            SPARE_ACCOUNTS.put(accounts);
        }
        // Deterministic order for the write batch and logs.
        changes.accounts.sort_unstable_by_key(|a| a.address);
        Ok((changes, updates))
    }
}

impl<'r, R: StateReader> BlockState<&'r R> {
    /// Runs `f` on a [`BlockState`] over `reader` while a second thread reads `addresses` (in
    /// the order execution will need them) ahead of it, so that execution finds them in memory
    /// instead of waiting for the database. `accounts` sizes the account map.
    ///
    /// Execution never sees different data than without prefetching: prefetched accounts are
    /// the reader's, and an account execution has already loaded (and perhaps changed) is
    /// never replaced.
    ///
    /// `fields`, if given, also receives the accounts found (their trie fields), chunk by
    /// chunk, and closes once reading ends: what the trie's preload checks leaves against.
    pub fn with_prefetch<T>(
        reader: &'r R,
        addresses: &[Address],
        accounts: usize,
        fields: Option<Sender<Vec<(Address, AccountLeaf)>>>,
        f: impl FnOnce(BlockState<&'r R>) -> T,
    ) -> T {
        let mut state = BlockState::new(reader, accounts);
        if addresses.len() <= PREFETCH_CHUNK {
            // Not worth a thread: one batch now.
            if let Ok(found) = reader.accounts(addresses) {
                if let Some(fields) = &fields {
                    let leaves = addresses
                        .iter()
                        .zip(&found)
                        .filter_map(|(a, f)| Some((*a, to_leaf(f.as_ref()?))));
                    // The preload may be gone (a read failed there): nothing to do.
                    let _ = fields.send(leaves.collect());
                }
                state.insert_loaded(addresses.iter().copied().zip(found).collect());
            }
            // Dropping `fields` here closes the loader's channel: reading has ended.
            drop(fields);
            return f(state);
        }
        let (tx, rx) = channel();
        let mut pending = AddressSet::default();
        pending.extend(addresses.iter().copied());
        let shared = Arc::new(Chunks {
            addresses: addresses.to_vec(),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            fields: Mutex::new(fields),
        });
        state.prefetch = Some(Prefetch { pending, chunks: rx, shared: Arc::clone(&shared) });
        std::thread::scope(|s| {
            s.spawn(move || {
                while let Some(chunk) = shared.claim() {
                    let Ok(found) = reader.accounts(chunk) else {
                        shared.abandon();
                        break;
                    };
                    shared.finish(chunk, &found);
                    // Execution finished (the receiver is gone): stop reading, and let the
                    // loader stop waiting for the chunks nobody will read.
                    if tx.send(chunk.iter().copied().zip(found).collect()).is_err() {
                        shared.abandon();
                        break;
                    }
                }
            });
            f(state)
        })
    }
}

impl<R: StateReader> Database for BlockState<R> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let account = self.load(address)?;
        let Some(info) = account.info.as_ref() else { return Ok(None) };
        if info.code.is_some() || info.code_hash == KECCAK_EMPTY || info.code_hash.is_zero() {
            return Ok(Some(info.clone()));
        }
        // A contract: attach its code once so later loads need no lookup.
        let hash = info.code_hash;
        let code = self.code_of(hash)?;
        let account = self.load(address)?;
        let info = account.info.as_mut().map(|i| {
            i.code = Some(code);
            i.clone()
        });
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.code_of(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let account = self.load(address)?;
        if let Some(slot) = account.storage.get(&index) {
            return Ok(slot.present);
        }
        // A cleared account has no stored slots; one that did not exist never had any.
        let original = if account.cleared || account.original.is_none() {
            U256::ZERO
        } else {
            self.reader.storage(address, B256::from(index))?
        };
        let account = self.load(address)?;
        account.storage.insert(index, Slot { original, present: original });
        Ok(original)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.reader.block_hash(number)?.unwrap_or_default())
    }
}

impl<R: StateReader> DatabaseCommit for BlockState<R> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            self.commit_account(address, account);
        }
    }

    fn commit_iter(&mut self, changes: &mut dyn Iterator<Item = (Address, Account)>) {
        for (address, account) in changes {
            self.commit_account(address, account);
        }
    }
}

impl<R: StateReader> BlockState<R> {
    /// Applies a dev-chain state edit as a change of this block. A storage edit needs an
    /// account that exists (an empty account is deleted at the end of the block, storage and
    /// all); callers check that first.
    pub fn apply_edit(&mut self, edit: &crate::StateEdit) -> Result<(), DbError> {
        use crate::StateEdit;
        if let StateEdit::Storage(address, slot, value) = edit {
            let index = U256::from_be_bytes(slot.0);
            // Loads the slot's value before the block.
            self.storage(*address, index)?;
            let account = self.load(*address)?;
            account.touched = true;
            if let Some(s) = account.storage.get_mut(&index) {
                s.present = U256::from_be_bytes(value.0);
            }
            return Ok(());
        }
        let mut info = self.basic(edit.address())?.unwrap_or_default();
        match edit {
            StateEdit::Balance(_, balance) => info.balance = *balance,
            StateEdit::Nonce(_, nonce) => info.nonce = *nonce,
            StateEdit::Code(_, code) => {
                if code.is_empty() {
                    info.code_hash = KECCAK_EMPTY;
                    info.code = None;
                } else {
                    let bytecode = Bytecode::new_raw(code.clone());
                    info.code_hash = alloy_primitives::keccak256(code);
                    info.code = Some(bytecode);
                }
            }
            StateEdit::Storage(..) => {}
        }
        let entry = self.load(edit.address())?;
        entry.touched = true;
        let before = entry.info.as_ref().map_or(U256::ZERO, |i| i.balance);
        // As after a transaction (EIP-161): an account left empty is deleted.
        entry.info = if info.is_empty() { None } else { Some(info.clone()) };
        self.record_balance_change(before, info.balance);
        if let (StateEdit::Code(..), Some(code)) = (edit, info.code)
            && info.code_hash != KECCAK_EMPTY
            && !self.code.contains_key(&info.code_hash)
        {
            self.code.insert(info.code_hash, code.clone());
            self.deployed.push((info.code_hash, code));
        }
        Ok(())
    }

    fn commit_account(&mut self, address: Address, account: Account) {
        if !account.is_touched() {
            return;
        }
        let entry = match self.load(address) {
            Ok(entry) => entry,
            Err(e) => {
                self.deferred.get_or_insert(e);
                return;
            }
        };
        entry.touched = true;
        let before = entry.info.as_ref().map_or(U256::ZERO, |i| i.balance);
        if account.is_selfdestructed() {
            entry.info = None;
            entry.cleared = true;
            entry.storage.values_mut().for_each(|s| s.present = U256::ZERO);
            self.record_balance_change(before, U256::ZERO);
            return;
        }
        if account.is_created() {
            entry.cleared = true;
            entry.storage.values_mut().for_each(|s| s.present = U256::ZERO);
        }
        for (key, slot) in account.storage {
            if !slot.is_changed() {
                continue;
            }
            entry
                .storage
                .entry(key)
                .or_insert(Slot { original: slot.original_value, present: slot.original_value })
                .present = slot.present_value;
        }
        let info = account.info;
        let after = info.balance;
        // EIP-161: a touched account that is empty is deleted.
        entry.info = if info.is_empty() { None } else { Some(info) };
        // New code: a contract created, or an EIP-7702 delegation set. Code this block has
        // already seen (read or deployed) is not stored again.
        let code = entry.info.as_ref().and_then(|i| Some((i.code_hash, i.code.clone()?)));
        if let Some((hash, code)) = code
            && hash != KECCAK_EMPTY
            && !self.code.contains_key(&hash)
        {
            self.code.insert(hash, code.clone());
            self.deployed.push((hash, code));
        }
        self.record_balance_change(before, after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm::state::{EvmStorageSlot, TransactionId};

    #[derive(Debug, Default)]
    struct Mem {
        accounts: std::collections::HashMap<Address, StoredAccount>,
        slots: std::collections::HashMap<(Address, B256), U256>,
    }

    impl StateReader for Mem {
        fn account(&self, a: Address) -> dbc_storage::Result<Option<StoredAccount>> {
            Ok(self.accounts.get(&a).copied())
        }
        fn storage(&self, a: Address, s: B256) -> dbc_storage::Result<U256> {
            Ok(self.slots.get(&(a, s)).copied().unwrap_or_default())
        }
        fn code(&self, _: B256) -> dbc_storage::Result<Option<alloy_primitives::Bytes>> {
            Ok(None)
        }
        fn block_hash(&self, _: u64) -> dbc_storage::Result<Option<B256>> {
            Ok(None)
        }
    }

    fn eoa(balance: u64) -> StoredAccount {
        StoredAccount { nonce: 0, balance: U256::from(balance), code_hash: KECCAK_EMPTY }
    }

    fn touched(info: AccountInfo) -> Account {
        let mut a = Account::from(info);
        a.mark_touch();
        a
    }

    #[test]
    fn only_changed_accounts_and_slots_are_reported_with_their_values_before_the_block() {
        let (a, b, c) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let mut mem = Mem::default();
        mem.accounts.insert(a, eoa(100));
        mem.accounts.insert(c, eoa(7));
        mem.slots.insert((c, B256::with_last_byte(1)), U256::from(9));
        let mut state = BlockState::new(mem, 4);

        // Transaction 1: a pays b 10.
        let mut info_a = state.basic(a).expect("read").expect("exists");
        assert!(state.basic(b).expect("in-memory reader").is_none());
        info_a.balance = U256::from(90);
        info_a.nonce = 1;
        let info_b = AccountInfo { balance: U256::from(10), ..Default::default() };
        state.commit_iter(&mut [(a, touched(info_a.clone())), (b, touched(info_b))].into_iter());
        // Transaction 2: c's slot 1 goes 9 → 5 → back to 9 (net no change), slot 2 0 → 4; c is
        // only loaded, never touched, by another account.
        assert_eq!(state.storage(c, U256::from(1)).expect("in-memory reader"), U256::from(9));
        assert_eq!(state.storage(c, U256::from(2)).expect("in-memory reader"), U256::ZERO);
        let info_c = state.basic(c).expect("read").expect("exists");
        let mut acc_c = touched(info_c.clone());
        acc_c.storage.insert(
            U256::from(1),
            EvmStorageSlot::new_changed(U256::from(9), U256::from(5), TransactionId::ZERO),
        );
        acc_c.storage.insert(
            U256::from(2),
            EvmStorageSlot::new_changed(U256::ZERO, U256::from(4), TransactionId::ZERO),
        );
        state.commit_iter(&mut [(c, acc_c)].into_iter());
        assert_eq!(state.storage(c, U256::from(1)).expect("in-memory reader"), U256::from(5));
        let mut acc_c = touched(info_c);
        acc_c.storage.insert(
            U256::from(1),
            EvmStorageSlot::new_changed(U256::from(5), U256::from(9), TransactionId::ZERO),
        );
        state.commit_iter(&mut [(c, acc_c)].into_iter());
        // Later reads see committed values.
        assert_eq!(state.basic(a).expect("read").expect("exists").balance, U256::from(90));

        let (changes, updates) = state.into_changes().expect("in-memory reader");
        let addrs: Vec<Address> = changes.accounts.iter().map(|c| c.address).collect();
        assert_eq!(addrs, vec![a, b, c]);
        assert_eq!(changes.accounts[0].before, Some(eoa(100)));
        assert_eq!(changes.accounts[0].after.expect("in-memory reader").balance, U256::from(90));
        assert_eq!(changes.accounts[1].before, None);
        let slots = &changes.accounts[2].storage;
        assert_eq!(slots.len(), 1, "slot 1 ended where it started");
        assert_eq!(slots[0].slot, B256::with_last_byte(2));
        assert_eq!((slots[0].before, slots[0].after), (U256::ZERO, U256::from(4)));
        assert_eq!(updates.len(), 3);
        // Only b was not in the state: the trie takes its storage root as empty unread.
        let absent: Vec<Address> =
            updates.iter().filter(|(_, u)| u.absent_before).map(|(a, _)| *a).collect();
        assert_eq!(absent, vec![b]);
    }

    /// An account that is in the state but empty (a genesis account with only storage, say)
    /// is not "absent before": its leaf, and the storage root in it, are in the trie.
    #[test]
    fn an_empty_account_in_the_state_is_not_absent_before() {
        let d = Address::repeat_byte(4);
        let mut mem = Mem::default();
        mem.accounts.insert(d, eoa(0));
        mem.slots.insert((d, B256::with_last_byte(1)), U256::from(3));
        let mut state = BlockState::new(mem, 4);
        let info = state.basic(d).expect("read").expect("exists");
        assert!(info.is_empty());
        let funded = AccountInfo { balance: U256::from(1), ..info };
        state.commit_iter(&mut [(d, touched(funded))].into_iter());
        let (changes, updates) = state.into_changes().expect("in-memory reader");
        assert_eq!(changes.accounts[0].before, None, "the changeset calls an empty account absent");
        assert!(!updates[0].1.absent_before, "the trie must still read its storage root");
    }

    #[test]
    fn self_destruct_and_create_clear_storage_and_touched_empty_accounts_are_deleted() {
        let (a, b, e) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let mut mem = Mem::default();
        let contract =
            StoredAccount { nonce: 1, balance: U256::from(1), code_hash: B256::repeat_byte(9) };
        mem.accounts.insert(a, contract);
        mem.accounts
            .insert(e, StoredAccount { nonce: 0, balance: U256::ZERO, code_hash: KECCAK_EMPTY });
        mem.slots.insert((a, B256::with_last_byte(1)), U256::from(3));
        let mut state = BlockState::new(mem, 4);

        assert_eq!(state.storage(a, U256::from(1)).expect("in-memory reader"), U256::from(3));
        let mut gone = touched(state.basic(a).expect("read").expect("exists"));
        gone.mark_selfdestruct();
        state.commit_iter(&mut [(a, gone)].into_iter());
        assert!(state.basic(a).expect("in-memory reader").is_none());
        assert_eq!(
            state.storage(a, U256::from(1)).expect("in-memory reader"),
            U256::ZERO,
            "storage went with it"
        );

        // b is created with code and one slot.
        let code = Bytecode::new_raw(alloy_primitives::Bytes::from_static(&[0x60, 0x00]));
        let hash = code.hash_slow();
        let mut created = touched(AccountInfo {
            nonce: 1,
            code_hash: hash,
            code: Some(code),
            ..Default::default()
        });
        created.mark_created();
        created.storage.insert(
            U256::from(7),
            EvmStorageSlot::new_changed(U256::ZERO, U256::from(1), TransactionId::ZERO),
        );
        assert!(state.basic(b).expect("in-memory reader").is_none());
        state.commit_iter(&mut [(b, created)].into_iter());
        assert_eq!(state.code_by_hash(hash).expect("in-memory reader").original_bytes().len(), 2);

        // e exists but is empty; touching it deletes it (EIP-161).
        state.basic(e).expect("in-memory reader");
        state.commit_iter(&mut [(e, touched(AccountInfo::default()))].into_iter());
        assert!(state.basic(e).expect("in-memory reader").is_none());

        // An EIP-7702 delegation gives an existing account code without creating it.
        let delegate = Address::repeat_byte(4);
        let designator = Bytecode::new_eip7702(Address::repeat_byte(0xcc));
        let delegated = touched(AccountInfo {
            nonce: 1,
            balance: U256::from(1),
            code_hash: designator.hash_slow(),
            code: Some(designator),
            ..Default::default()
        });
        assert!(state.basic(delegate).expect("in-memory reader").is_none());
        state.commit_iter(&mut [(delegate, delegated)].into_iter());

        let (changes, updates) = state.into_changes().expect("in-memory reader");
        assert_eq!(changes.bytecodes.len(), 2, "the contract's code and the delegation");
        let by = |x: Address| {
            changes.accounts.iter().find(|c| c.address == x).expect("in-memory reader")
        };
        assert!(by(a).wiped && by(a).after.is_none());
        assert!(!by(b).wiped, "a new account has nothing stored to clear");
        assert_eq!(by(b).storage.len(), 1);
        // e was empty before and after: no change for storage (nor the trie).
        assert!(changes.accounts.iter().all(|c| c.address != e));
        assert!(updates.iter().any(|(x, u)| *x == a && u.info.is_none() && u.wipe_storage));
    }

    /// 1,000 addresses in a reader that has two thirds of them (every third is absent).
    fn thousand_addresses() -> (Mem, Vec<Address>) {
        let mut mem = Mem::default();
        let addresses: Vec<Address> =
            (0..1000u64).map(|i| Address::left_padding_from(&i.to_be_bytes())).collect();
        for (i, a) in addresses.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
            mem.accounts.insert(*a, eoa(i as u64));
        }
        (mem, addresses)
    }

    #[test]
    fn prefetched_accounts_match_direct_reads_and_never_replace_changes() {
        let (mem, addresses) = thousand_addresses();
        let direct: Vec<Option<AccountInfo>> = {
            let mut plain = BlockState::new(&mem, 0);
            addresses.iter().map(|a| plain.basic(*a).expect("read")).collect()
        };
        let first = addresses[1];
        let seen = BlockState::with_prefetch(&mem, &addresses, 2000, None, |mut state| {
            // Change an account, then let a stale copy of it arrive: the change stays.
            let mut info = state.basic(first).expect("read").expect("exists");
            info.balance = U256::from(12345);
            state.commit_iter(&mut [(first, touched(info))].into_iter());
            state.insert_loaded(vec![(first, Some(eoa(1)))]);
            assert_eq!(
                state.basic(first).expect("read").expect("exists").balance,
                U256::from(12345)
            );
            addresses.iter().skip(2).map(|a| state.basic(*a).expect("read")).collect::<Vec<_>>()
        });
        assert_eq!(seen, direct[2..]);
    }

    /// A reader whose `accounts` blocks on every thread but the test's until the gate opens:
    /// a prefetching thread that gets no CPU.
    #[derive(Debug)]
    struct Stalled<'a> {
        mem: &'a Mem,
        test_thread: std::thread::ThreadId,
        gate: std::sync::Mutex<bool>,
        opened: std::sync::Condvar,
        /// Told when the prefetching thread has claimed its first chunk and stalls on it.
        stalled: std::sync::Mutex<Sender<()>>,
    }

    impl StateReader for Stalled<'_> {
        fn account(&self, a: Address) -> dbc_storage::Result<Option<StoredAccount>> {
            self.mem.account(a)
        }
        fn storage(&self, a: Address, s: B256) -> dbc_storage::Result<U256> {
            self.mem.storage(a, s)
        }
        fn code(&self, h: B256) -> dbc_storage::Result<Option<alloy_primitives::Bytes>> {
            self.mem.code(h)
        }
        fn block_hash(&self, n: u64) -> dbc_storage::Result<Option<B256>> {
            self.mem.block_hash(n)
        }
        fn accounts(&self, a: &[Address]) -> dbc_storage::Result<Vec<Option<StoredAccount>>> {
            if std::thread::current().id() != self.test_thread {
                let _ = self.stalled.lock().expect("stalled").send(());
                let mut open = self.gate.lock().expect("gate");
                while !*open {
                    open = self.opened.wait(open).expect("gate");
                }
            }
            a.iter().map(|a| self.mem.account(*a)).collect()
        }
    }

    #[test]
    fn execution_reads_the_next_chunk_itself_instead_of_waiting_for_a_stalled_prefetch() {
        let (mem, addresses) = thousand_addresses();
        let (stalled_tx, stalled_rx) = channel();
        let reader = Stalled {
            mem: &mem,
            test_thread: std::thread::current().id(),
            gate: std::sync::Mutex::new(false),
            opened: std::sync::Condvar::new(),
            stalled: std::sync::Mutex::new(stalled_tx),
        };
        let (fields_tx, fields_rx) = channel();
        let open_gate = || {
            *reader.gate.lock().expect("gate") = true;
            reader.opened.notify_all();
        };
        // The prefetching thread claims the first chunk and stalls there; everything after it
        // must come through execution's own reads, before the gate opens. (Opened after 10 s
        // at the latest, so that a prefetch that waits fails the test instead of hanging it.)
        let (done_tx, done_rx) = channel::<()>();
        let (seen, gate_was_shut) = std::thread::scope(|s| {
            s.spawn(move || {
                let _ = done_rx.recv_timeout(std::time::Duration::from_secs(10));
                open_gate();
            });
            BlockState::with_prefetch(&reader, &addresses, 2000, Some(fields_tx), |mut st| {
                // The prefetching thread holds the first chunk: nothing else has claimed one.
                stalled_rx.recv_timeout(std::time::Duration::from_secs(10)).expect("stalled");
                let after_first = addresses[PREFETCH_CHUNK..].iter();
                let seen: Vec<_> = after_first.map(|a| st.basic(*a).expect("read")).collect();
                let gate_was_shut = !*reader.gate.lock().expect("gate");
                let _ = done_tx.send(());
                // The first chunk arrives once the gate opens.
                assert_eq!(st.basic(addresses[0]).expect("read"), None);
                (seen, gate_was_shut)
            })
        });
        assert!(gate_was_shut, "execution waited for the stalled prefetch");
        let direct: Vec<Option<AccountInfo>> = addresses[PREFETCH_CHUNK..]
            .iter()
            .map(|a| mem.account(*a).expect("read").as_ref().map(to_info))
            .collect();
        assert_eq!(seen, direct);
        // The loader got every account found exactly once, whoever read it, and its channel
        // closed when reading ended.
        let mut fields: Vec<Address> = fields_rx.iter().flatten().map(|(a, _)| a).collect();
        fields.sort_unstable();
        let mut found: Vec<Address> = mem.accounts.keys().copied().collect();
        found.sort_unstable();
        assert_eq!(fields, found);
    }
}

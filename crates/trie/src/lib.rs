//! Merkle-Patricia roots for dbc-node.
//!
//! [`StateTrie`] keeps the account trie and the storage tries with cached node references, so
//! the cost of a new state root grows with what a block changed, not with the whole state. Its
//! nodes are stored by path in the database ([`NodeSource`] reads them, [`TrieUpdates`] are
//! written with each block): a node starts from the stored root and loads only the paths a
//! block touches, and [`StateTrie::unload`] bounds what stays in memory. [`full_state_root`]
//! recomputes the root from scratch with `alloy-trie`'s `HashBuilder` and is the oracle the
//! incremental trie is tested against.

pub mod keccak;
mod mpt;
pub mod ordered;
mod pending;
pub mod proof;

pub use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles, TrieAccount};
pub use mpt::Mpt;

use alloy_primitives::{
    Address, B256, U256, keccak256,
    map::{HashMap, HashSet},
};
use alloy_rlp::Decodable;
use rayon::prelude::*;
use std::sync::Arc;

/// Where stored trie nodes are read from: the database at the head.
pub trait NodeSource: Send + Sync + std::fmt::Debug {
    /// The node stored at `path` of the account trie (`account` `None`) or of the storage trie
    /// of `account` (a hashed address).
    fn node(&self, account: Option<&B256>, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError>;

    /// The nodes at `paths` of one trie, in order (a source may read them in one batch).
    fn nodes(
        &self,
        account: Option<&B256>,
        paths: &[Nibbles],
    ) -> Result<Vec<Option<Vec<u8>>>, TrieError> {
        paths.iter().map(|p| self.node(account, p)).collect()
    }
}

/// How many of a block's accounts [`StateTrie::needs_loading`] walks to.
pub const LOADING_SAMPLE: usize = 64;

/// Why the trie could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A node that should be stored is not.
    #[error("trie node missing at path {path:?} of {} (hash {hash})", trie_name(account))]
    MissingNode {
        /// Whose storage trie, or the account trie.
        account: Option<B256>,
        /// The node's path in hex nibbles.
        path: String,
        /// The hash its parent gives.
        hash: B256,
    },
    /// A stored node does not hash to its parent's reference.
    #[error("trie node at path {path:?} of {} does not match its hash {hash}", trie_name(account))]
    CorruptNode {
        /// Whose storage trie, or the account trie.
        account: Option<B256>,
        /// The node's path in hex nibbles.
        path: String,
        /// The hash its parent gives.
        hash: B256,
    },
    /// A stored node or account leaf is not a canonical encoding.
    #[error("trie node at path {path:?} of {} is malformed: {reason}", trie_name(account))]
    Decode {
        /// Whose storage trie, or the account trie.
        account: Option<B256>,
        /// The node's path in hex nibbles.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The source failed.
    #[error("reading a trie node: {0}")]
    Source(String),
    /// A node is not in memory and the trie has no source.
    #[error("the trie has no node source")]
    NoSource,
    /// An earlier operation failed half-way: the trie must be opened again.
    #[error("the trie is incomplete after an earlier error")]
    Poisoned,
}

fn trie_name(account: &Option<B256>) -> String {
    account.map_or_else(|| "the account trie".into(), |a| format!("the storage trie of {a}"))
}

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
    /// The account was not in the state before this update (no leaf in the trie): its storage
    /// root starts empty, and the trie does not walk to its path to read it. Set only when
    /// that is known (an account the block created); `false` means "unknown", and the trie
    /// looks. A wrong `true` gives a wrong root.
    pub absent_before: bool,
}

/// Node writes of one trie by path: the node to store, or `None` to delete.
pub type NodeWrites = Vec<(Nibbles, Option<Vec<u8>>)>;

/// The stored trie's changes since the last write: written in the block's write batch.
#[derive(Debug, Default, Clone)]
pub struct TrieUpdates {
    /// The stored root they apply to; `None` when they are the whole trie (built in memory).
    pub base: Option<B256>,
    /// The state root they lead to.
    pub root: B256,
    /// Storage tries to delete whole first (accounts removed or their storage wiped).
    pub wiped: Vec<B256>,
    /// Account-trie paths: the node to store, or `None` to delete.
    pub accounts: NodeWrites,
    /// Storage-trie paths by hashed address: the node to store, or `None` to delete.
    pub storages: Vec<(B256, NodeWrites)>,
}

impl TrieUpdates {
    /// Number of node writes and deletions.
    pub fn len(&self) -> usize {
        self.accounts.len() + self.storages.iter().map(|(_, s)| s.len()).sum::<usize>()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.wiped.is_empty() && self.len() == 0
    }
}

/// One account's updates merged in order.
#[derive(Default)]
struct Merged {
    info: Option<AccountLeaf>,
    wipe: bool,
    storage: Vec<(U256, U256)>,
    /// The first update's [`AccountUpdate::absent_before`]: absent before them all.
    absent_before: bool,
}

/// The state trie: accounts keyed by `keccak(address)` and one storage trie per account.
#[derive(Debug, Default)]
pub struct StateTrie {
    accounts: Mpt,
    /// Storage tries in memory, by hashed address.
    storages: HashMap<B256, Mpt>,
    /// Storage tries dropped whole since the last take (their stored nodes go first).
    wiped: HashSet<B256>,
    source: Option<Arc<dyn NodeSource>>,
    /// An update failed half-way: the trie must be opened again from the stored root.
    poisoned: bool,
    /// The stored root the next updates apply to (`None`: nothing stored yet).
    base: Option<B256>,
    /// Nodes in memory past which [`StateTrie::over_limit`] says to unload.
    resident_limit: Option<usize>,
    /// The accounts [`StateTrie::preload_accounts`] last loaded the paths to, with their
    /// hashed addresses: the next [`StateTrie::apply`] neither hashes nor walks to them again.
    /// Only saves work: a path unloaded since is read again when an update reaches it.
    preloaded: HashMap<Address, B256>,
}

impl StateTrie {
    /// An empty state held in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored state with root `root`, read from `source` as needed.
    pub fn open(source: Arc<dyn NodeSource>, root: B256) -> Self {
        Self {
            accounts: Mpt::from_root(root),
            source: Some(source),
            base: Some(root),
            ..Self::default()
        }
    }

    /// Sets the source of a trie built in memory, once its nodes are stored.
    pub fn set_source(&mut self, source: Arc<dyn NodeSource>) {
        self.source = Some(source);
    }

    /// The storage root of the account with hashed address `hashed` as the trie has it;
    /// `absent` when the account is known to have no leaf (see
    /// [`AccountUpdate::absent_before`]).
    fn stored_storage_root(&mut self, hashed: B256, absent: bool) -> Result<B256, TrieError> {
        if let Some(trie) = self.storages.get_mut(&hashed) {
            return Ok(trie.root());
        }
        if absent {
            return Ok(EMPTY_ROOT_HASH);
        }
        // The leaf in memory (a block's paths are loaded before its updates), else read.
        let read;
        let leaf = match self.accounts.loaded_value(&hashed) {
            Some(leaf) => leaf,
            None => {
                read = self.accounts.get_in(hashed, self.source.as_deref(), None)?;
                read.as_deref()
            }
        };
        let Some(mut leaf) = leaf else {
            return Ok(EMPTY_ROOT_HASH);
        };
        let account = TrieAccount::decode(&mut leaf).map_err(|e| TrieError::Decode {
            account: None,
            path: format!("leaf {hashed}"),
            reason: e.to_string(),
        })?;
        Ok(account.storage_root)
    }

    /// Applies a set of account updates. Storage tries of touched accounts are updated and
    /// hashed in parallel; only the changed paths of each trie are loaded and re-hashed.
    /// On an error (a stored node missing or corrupt) the trie is left incomplete and refuses
    /// further updates ([`TrieError::Poisoned`]): open it again from the stored root.
    pub fn apply(
        &mut self,
        updates: impl IntoIterator<Item = (Address, AccountUpdate)>,
    ) -> Result<(), TrieError> {
        if self.poisoned {
            return Err(TrieError::Poisoned);
        }
        let applied = self.apply_inner(updates);
        self.poisoned = applied.is_err();
        applied
    }

    /// Loads the stored account-trie nodes on the paths to `addresses` (in parallel near the
    /// root), so that an update of those accounts finds them in memory: what a block will
    /// touch, read while it executes. Only loads; a node that cannot be read stays unloaded.
    pub fn preload_accounts(&mut self, addresses: &[Address]) -> Result<(), TrieError> {
        self.preload_accounts_with(addresses, None::<fn() -> Vec<(Address, AccountLeaf)>>)
    }

    /// [`StateTrie::preload_accounts`], given the fields the accounts had before the block
    /// (`before`, asked for only if a path ends in a stub that may be an account's leaf, and
    /// then waited for). Such a stub is rebuilt from the account's fields (an empty storage
    /// root assumed) and kept only when it hashes to the reference its parent holds; otherwise
    /// it is read as before. On a large state that saves reading most accounts' leaves.
    pub fn preload_accounts_knowing(
        &mut self,
        addresses: &[Address],
        before: impl FnOnce() -> Vec<(Address, AccountLeaf)>,
    ) -> Result<(), TrieError> {
        self.preload_accounts_with(addresses, Some(before))
    }

    /// [`StateTrie::preload_accounts_knowing`], or without fields (every stub read, none
    /// left waiting for them).
    fn preload_accounts_with(
        &mut self,
        addresses: &[Address],
        before: Option<impl FnOnce() -> Vec<(Address, AccountLeaf)>>,
    ) -> Result<(), TrieError> {
        if self.poisoned {
            return Err(TrieError::Poisoned);
        }
        self.preloaded.clear();
        let keys: Vec<B256> = addresses.iter().map(keccak256).collect();
        let hashed: HashMap<Address, B256> =
            addresses.iter().copied().zip(keys.iter().copied()).collect();
        let Some(before) = before else {
            self.accounts.preload(
                &keys,
                self.source.as_deref(),
                None,
                &mut mpt::Guesses::none(),
            )?;
            self.preloaded = hashed;
            return Ok(());
        };
        let mut guesses = mpt::Guesses::later(|| {
            before()
                .into_iter()
                .filter_map(|(address, leaf)| {
                    let key = hashed.get(&address)?;
                    let account = TrieAccount {
                        nonce: leaf.nonce,
                        balance: leaf.balance,
                        storage_root: EMPTY_ROOT_HASH,
                        code_hash: leaf.code_hash,
                    };
                    Some((Nibbles::unpack(key), alloy_rlp::encode(account)))
                })
                .collect()
        });
        self.accounts.preload(&keys, self.source.as_deref(), None, &mut guesses)?;
        drop(guesses);
        self.preloaded = hashed;
        Ok(())
    }

    /// Whether loading the paths to `addresses` ahead would read anything, judged on the
    /// first [`LOADING_SAMPLE`] of them: whether any of their paths in memory ends at a stub.
    /// On a state whose trie is all in memory (a small one, or fresh accounts under resident
    /// branches) the answer is no, and the block is spared the loader's hashing and walk.
    pub fn needs_loading(&self, addresses: &[Address]) -> bool {
        self.is_stored() && self.sample_ends_at_stub(addresses.iter().map(keccak256))
    }

    /// Whether the path in memory to any of the first [`LOADING_SAMPLE`] of `hashed` ends at a
    /// stub: the rule by which a block's loader starts and `apply` preloads.
    fn sample_ends_at_stub(&self, hashed: impl Iterator<Item = B256>) -> bool {
        hashed.take(LOADING_SAMPLE).any(|h| self.accounts.loaded_value(&h).is_none())
    }

    /// Whether nodes may be in a store rather than in memory.
    pub fn is_stored(&self) -> bool {
        self.source.is_some()
    }

    /// Whether an update failed half-way (see [`StateTrie::apply`]).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// The same trie opened again from the stored root `root`: what is not stored is dropped;
    /// the memory limit stays.
    pub fn reopened(&self, root: B256) -> Result<Self, TrieError> {
        let source = self.source.clone().ok_or(TrieError::NoSource)?;
        Ok(Self { resident_limit: self.resident_limit, ..Self::open(source, root) })
    }

    /// Marks the trie incomplete (a caller's multi-step change failed half-way): it refuses
    /// further updates until opened again, and its updates are never written.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// The memory limit set by [`StateTrie::set_resident_limit`].
    pub fn resident_limit(&self) -> Option<usize> {
        self.resident_limit
    }

    fn apply_inner(
        &mut self,
        updates: impl IntoIterator<Item = (Address, AccountUpdate)>,
    ) -> Result<(), TrieError> {
        // Paths to load: those the last preload did not.
        let preloaded = std::mem::take(&mut self.preloaded);
        // The addresses the preload did not hash, hashed together.
        let mut updates: Vec<(Address, AccountUpdate)> = updates.into_iter().collect();
        let known: Vec<Option<B256>> =
            updates.iter().map(|(a, _)| preloaded.get(a).copied()).collect();
        let unknown: Vec<&[u8]> = updates
            .iter()
            .zip(&known)
            .filter(|(_, k)| k.is_none())
            .map(|((a, _), _)| a.as_slice())
            .collect();
        let mut fresh = keccak::keccak256_many(&unknown).into_iter();
        // Each update's hashed address (and whether the preload had it), with its place:
        // sorted by key, an account's updates (an address may appear more than once) are next
        // to each other in the order given, and later ones apply on top of earlier ones. A
        // sort of these small entries, not a map of the merged updates: a 10k-account block's
        // map cost more to fill than this.
        let mut keyed: Vec<(B256, usize, bool)> = updates
            .iter()
            .zip(known)
            .enumerate()
            .map(|(i, ((address, _), known))| match known {
                Some(hashed) => (hashed, i, true),
                None => (fresh.next().unwrap_or_else(|| keccak256(address)), i, false),
            })
            .collect();
        keyed.sort_unstable();
        let mut merged: Vec<(B256, Merged)> = Vec::with_capacity(keyed.len());
        let mut to_load = Vec::new();
        for (hashed, i, known) in keyed {
            let Some((_, update)) = updates.get_mut(i) else { continue };
            let update = std::mem::take(update);
            if merged.last().is_none_or(|(h, _)| *h != hashed) {
                if !known {
                    to_load.push(hashed);
                }
                merged.push((
                    hashed,
                    Merged { absent_before: update.absent_before, ..Merged::default() },
                ));
            }
            let Some((_, m)) = merged.last_mut() else { continue };
            m.info = update.info;
            // An account that no longer exists has no storage either.
            if update.wipe_storage || update.info.is_none() {
                m.wipe = true;
                m.storage.clear();
            }
            m.storage.extend(update.storage);
        }
        drop(updates);
        // What the changes pass through, loaded at once (in parallel near the root), unless a
        // sample of the paths all end in memory (a trie all in memory, or one the block's
        // loader already filled): then the walk would find nothing to load. A stub the sample
        // missed is read where an update meets it.
        if self.sample_ends_at_stub(to_load.iter().copied()) {
            let source = self.source.as_deref();
            self.accounts.preload(&to_load, source, None, &mut mpt::Guesses::none())?;
        }
        // The storage tries to change, in memory (loading starts from the stored root).
        type Touched = (B256, Mpt, Vec<(U256, U256)>);
        let mut tries: Vec<Touched> = Vec::new();
        for (hashed, m) in &mut merged {
            if m.info.is_none() || (!m.wipe && m.storage.is_empty()) {
                continue;
            }
            let trie = if m.wipe {
                self.storages.remove(hashed);
                self.wiped.insert(*hashed);
                Mpt::new()
            } else {
                match self.storages.remove(hashed) {
                    Some(t) => t,
                    None => Mpt::from_root(self.stored_storage_root(*hashed, m.absent_before)?),
                }
            };
            tries.push((*hashed, trie, std::mem::take(&mut m.storage)));
        }
        let source = self.source.as_deref();
        let results: Vec<Result<(), TrieError>> = tries
            .par_iter_mut()
            .map(|(hashed, trie, slots)| {
                let slot_bytes: Vec<[u8; 32]> =
                    slots.iter().map(|(s, _)| s.to_be_bytes::<32>()).collect();
                let keys = keccak::keccak256_many(
                    &slot_bytes.iter().map(|s| s.as_slice()).collect::<Vec<_>>(),
                );
                trie.preload(&keys, source, Some(*hashed), &mut mpt::Guesses::none())?;
                // Later writes of a slot win; removals go one at a time, the rest together.
                let mut last: HashMap<B256, U256> = HashMap::default();
                for ((_, value), key) in slots.drain(..).zip(keys) {
                    last.insert(key, value);
                }
                let mut inserts = Vec::with_capacity(last.len());
                for (key, value) in last {
                    if value.is_zero() {
                        trie.remove_in(key, source, Some(*hashed))?;
                    } else {
                        inserts.push((key, alloy_rlp::encode_fixed_size(&value).to_vec()));
                    }
                }
                trie.insert_many_in(inserts, source, Some(*hashed))?;
                trie.root();
                Ok(())
            })
            .collect();
        for (hashed, trie, _) in tries {
            self.storages.insert(hashed, trie);
        }
        results.into_iter().collect::<Result<(), _>>()?;
        // Removals one at a time; the accounts that stay, together (in parallel below the
        // root, see `Mpt::insert_many_in`).
        let mut inserts = Vec::with_capacity(merged.len());
        for (hashed, m) in merged {
            match m.info {
                None => {
                    // Its stored storage trie goes, including nodes whose deletion is pending
                    // in a trie emptied since the last write.
                    if self.stored_storage_root(hashed, m.absent_before)? != EMPTY_ROOT_HASH
                        || self.storages.get(&hashed).is_some_and(Mpt::has_pending)
                    {
                        self.wiped.insert(hashed);
                    }
                    self.accounts.remove_in(hashed, self.source.as_deref(), None)?;
                    self.storages.remove(&hashed);
                }
                Some(info) => {
                    let storage_root = self.stored_storage_root(hashed, m.absent_before)?;
                    let account = TrieAccount {
                        nonce: info.nonce,
                        balance: info.balance,
                        storage_root,
                        code_hash: info.code_hash,
                    };
                    inserts.push((hashed, alloy_rlp::encode(account)));
                }
            }
        }
        self.accounts.insert_many_in(inserts, self.source.as_deref(), None)
    }

    /// The state root.
    pub fn root(&mut self) -> B256 {
        self.accounts.root()
    }

    /// The storage root of `address` (the empty root for unknown accounts).
    pub fn storage_root(&mut self, address: Address) -> Result<B256, TrieError> {
        self.stored_storage_root(keccak256(address), false)
    }

    /// Number of accounts in memory (walks the trie; for tests and diagnostics).
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Sets the nodes in memory past which [`StateTrie::over_limit`] is true.
    pub fn set_resident_limit(&mut self, nodes: usize) {
        self.resident_limit = Some(nodes);
    }

    /// Whether the trie holds more nodes than its limit (never without one).
    pub fn over_limit(&self) -> bool {
        self.resident_limit.is_some_and(|limit| self.resident() > limit)
    }

    /// Nodes loaded or created since the last unload: what the trie holds in memory, roughly.
    pub fn resident(&self) -> usize {
        self.accounts.resident() + self.storages.values().map(Mpt::resident).sum::<usize>()
    }

    /// Bytes the nodes in memory hold, storage tries included (walks every node: for
    /// measurements and diagnostics, not for each block).
    pub fn heap_bytes(&self) -> usize {
        self.accounts.heap_bytes() + self.storages.values().map(Mpt::heap_bytes).sum::<usize>()
    }

    /// Takes the changes to store since the last take (the root is brought up to date).
    pub fn take_updates(&mut self) -> TrieUpdates {
        let root = self.accounts.root();
        let mut wiped: Vec<B256> = self.wiped.drain().collect();
        wiped.sort_unstable();
        let mut storages: Vec<_> = self
            .storages
            .iter_mut()
            .map(|(h, t)| (*h, t.take_pending()))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        storages.sort_unstable_by_key(|s| s.0);
        let mut base = self.base.replace(root);
        if self.poisoned {
            // An incomplete trie's changes are never written: a base no stored trie has makes
            // the write refuse them (and mark the stored trie stale).
            base = Some(B256::ZERO);
        }
        TrieUpdates { base, root, wiped, accounts: self.accounts.take_pending(), storages }
    }

    /// Puts back updates taken but not stored (the write failed), under any made since.
    pub fn restore_updates(&mut self, updates: TrieUpdates) {
        self.base = updates.base;
        self.wiped.extend(updates.wiped);
        self.accounts.restore_pending(updates.accounts);
        for (hashed, pending) in updates.storages {
            // A trie dropped since (its account removed) is wiped whole anyway.
            if let Some(t) = self.storages.get_mut(&hashed) {
                t.restore_pending(pending);
            }
        }
    }

    /// Once everything is stored, keeps in memory only the account trie's top `depth` levels
    /// and no storage trie: what a later block touches is read again from the source.
    pub fn unload(&mut self, depth: usize) {
        if self.source.is_none() || !self.wiped.is_empty() {
            return;
        }
        self.storages.retain(|_, t| t.has_pending());
        self.accounts.unload(depth);
        self.preloaded.clear();
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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    /// A small deterministic generator (xorshift64): reproducible tests without extra crates.
    pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

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

    /// Up to `n - 1` random slot writes among `slots` slots (a third of them deletions), in
    /// `update` and in the model's `storage`.
    pub(crate) fn random_slots(
        next: &mut impl FnMut() -> u64,
        n: u64,
        slots: u64,
        update: &mut AccountUpdate,
        storage: &mut BTreeMap<U256, U256>,
    ) {
        for _ in 0..(next() % n) {
            let slot = U256::from(next() % slots);
            let value = if next().is_multiple_of(3) { U256::ZERO } else { U256::from(next()) };
            update.storage.push((slot, value));
            if value.is_zero() {
                storage.remove(&slot);
            } else {
                storage.insert(slot, value);
            }
        }
    }

    #[test]
    fn incremental_root_equals_full_recompute_over_random_blocks() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d_u64);
        let mut trie = StateTrie::new();
        let mut model = Model::default();
        for block in 0..80 {
            let mut updates = Vec::new();
            for _ in 0..(next() % 12 + 1) {
                let address = Address::with_last_byte((next() % 40) as u8);
                // As the block's own state says it: not in the state before this update.
                let absent_before = !model.accounts.contains_key(&address);
                let entry = model.accounts.entry(address).or_default();
                let mut update = AccountUpdate { absent_before, ..Default::default() };
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
                random_slots(&mut next, 5, 16, &mut update, &mut entry.1);
                entry.0.nonce += 1;
                entry.0.balance = U256::from(next() % 1_000_000);
                entry.0.code_hash =
                    if next().is_multiple_of(2) { KECCAK_EMPTY } else { keccak256([1]) };
                update.info = Some(entry.0);
                updates.push((address, update));
            }
            trie.apply(updates).unwrap();
            assert_eq!(trie.root(), model.root(), "block {block}");
        }
    }

    #[test]
    fn empty_state_root() {
        assert_eq!(StateTrie::new().root(), EMPTY_ROOT_HASH);
        assert_eq!(full_state_root(Vec::new()), EMPTY_ROOT_HASH);
    }
}

#[cfg(test)]
mod stored_tests;

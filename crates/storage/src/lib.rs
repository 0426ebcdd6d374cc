//! RocksDB storage for dbc-node.
//!
//! The layout follows reth's tables (see [`tables`]): headers, canonical index, bodies, senders,
//! receipts, the transaction lookup, plain state, bytecodes, and changesets with history
//! indices so the state at any past block can be read.
//!
//! Here: opening the database (its tables' options), reading blocks and the head's state.
//! `write.rs` commits a block in one batch and unwinds blocks; `history.rs` reads the state at
//! past blocks; `trie.rs` stores the state trie's nodes; `codec.rs` encodes rows; `chain.rs`
//! tracks the canonical head.
//!
//! # Invariants
//! - A block is written with **one** RocksDB write batch ([`Storage::commit_block`]): its header,
//!   body, receipts, lookups, state changes, changesets, history indices and the new head number.
//!   A crash at any moment leaves either the whole block or none of it.
//! - Changesets hold the value *before* the block; history indices list the blocks that changed
//!   a key. The value of a key at block `N` is the changeset entry of the first block after `N`
//!   that changed it, or the plain state when none did.
//! - Readers never lock: [`HistoricalState`] reads the plain state first and the history index
//!   second, so a block committed between the two reads is detected and ignored.

pub mod chain;
mod codec;
mod history;
pub mod tables;
mod trie;
mod write;

pub use chain::{CanonChain, NewBlock};
use codec::{decode_list, decode_receipts, decode_rlp, decode_u256};
pub use history::{HistoricalState, MAX_AUDIT_CHANGED, ReadBudget};
pub use trie::TrieWrite;
pub use write::{UNWIND_BATCH, UnwoundKeys};

use alloy_consensus::Header;
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, U256};
use dbc_primitives::{
    Block, ReceiptEnvelope, Sealable, SealedHeader, StoredAccount, TxEnvelope, TxLocation,
};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, Direction, IteratorMode,
    Options,
};
use std::{path::Path, sync::Arc};
use tables::*;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// RocksDB failed.
    #[error("database error: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value did not decode.
    #[error("corrupt {table} entry: {reason}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The database was written in another layout version.
    #[error(
        "the database uses layout version {found}, this dbc-node reads version {expected}: \
         remove the data directory and sync again"
    )]
    Layout {
        /// Version found in the database (0: before versions were recorded).
        found: u64,
        /// Version this build reads and writes.
        expected: u64,
    },
    /// A whole-state read ran past its caller's deadline and was abandoned.
    #[error("the read ran past its deadline")]
    Deadline,
    /// A read at an earlier block would undo more changes than it may hold in memory.
    #[error("more than {max} accounts changed since block {since}: ask at a later block")]
    TooManyChanges {
        /// The block asked for.
        since: u64,
        /// Changed accounts a read may hold.
        max: usize,
    },
    /// The write does not extend the canonical head.
    #[error("block {got} does not extend head {head}")]
    NotNext {
        /// Current head.
        head: u64,
        /// Number of the block offered.
        got: u64,
    },
}

/// Storage result.
pub type Result<T> = std::result::Result<T, StorageError>;

fn corrupt(table: &'static str, reason: impl ToString) -> StorageError {
    StorageError::Corrupt { table, reason: reason.to_string() }
}

/// A storage slot's change within a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotChange {
    /// Slot key.
    pub slot: B256,
    /// Value before the block.
    pub before: U256,
    /// Value after the block.
    pub after: U256,
}

/// An account's change within a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    /// Address.
    pub address: Address,
    /// The account before the block (`None`: absent).
    pub before: Option<StoredAccount>,
    /// The account after the block (`None`: absent / destroyed).
    pub after: Option<StoredAccount>,
    /// All storage that existed before the block was cleared (self-destruct or re-creation).
    pub wiped: bool,
    /// Changed slots.
    pub storage: Vec<SlotChange>,
}

/// Everything a block changed in the state.
#[derive(Debug, Clone, Default)]
pub struct StateChangeset {
    /// Changed accounts.
    pub accounts: Vec<AccountChange>,
    /// New contract code.
    pub bytecodes: Vec<(B256, Bytes)>,
}

/// Read access to state at one block. Implemented by [`HistoricalState`] and, for the block
/// producer, by [`LatestState`].
pub trait StateReader: Send + Sync + std::fmt::Debug {
    /// The account at `address`.
    fn account(&self, address: Address) -> Result<Option<StoredAccount>>;
    /// A storage slot (zero when unset).
    fn storage(&self, address: Address, slot: B256) -> Result<U256>;
    /// Code by hash.
    fn code(&self, code_hash: B256) -> Result<Option<Bytes>>;
    /// Canonical hash of block `number`.
    fn block_hash(&self, number: u64) -> Result<Option<B256>>;
    /// The accounts at `addresses`, in the same order. Readers that can batch lookups override
    /// it (the block executor prefetches a block's senders and recipients with it).
    fn accounts(&self, addresses: &[Address]) -> Result<Vec<Option<StoredAccount>>> {
        addresses.iter().map(|a| self.account(*a)).collect()
    }
}

impl<T: StateReader + ?Sized> StateReader for &T {
    fn account(&self, address: Address) -> Result<Option<StoredAccount>> {
        (**self).account(address)
    }
    fn storage(&self, address: Address, slot: B256) -> Result<U256> {
        (**self).storage(address, slot)
    }
    fn code(&self, code_hash: B256) -> Result<Option<Bytes>> {
        (**self).code(code_hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        (**self).block_hash(number)
    }
    fn accounts(&self, addresses: &[Address]) -> Result<Vec<Option<StoredAccount>>> {
        (**self).accounts(addresses)
    }
}

/// The node's database.
#[derive(Debug, Clone)]
pub struct Storage {
    db: Arc<DB>,
}

/// The block cache of [`Storage::open`]: 256 MiB.
pub const DEFAULT_BLOCK_CACHE: usize = 256 << 20;

/// Tables without a memtable bloom filter, whose inserts cost every write (a tenth of a
/// block's RocksDB write, `docs/benchmarks.md`) and which would save no read here:
/// - written for every changed account or transaction and read only by known key or by seek
///   (transaction lookups, changesets, history);
/// - the stored trie: a node is read only at a path its parent references, so every read
///   finds it, and a filter can only answer "maybe".
const NO_MEMTABLE_FILTER: [&str; 7] = [
    TX_LOOKUP,
    ACCOUNT_CHANGESETS,
    STORAGE_CHANGESETS,
    ACCOUNTS_HISTORY,
    STORAGES_HISTORY,
    ACCOUNTS_TRIE,
    STORAGES_TRIE,
];

/// RocksDB option of every table: memtable inserts start from the previous insert's position
/// (see [`Storage::open_with_cache`]).
const MEMTABLE_INSERT_HINT: &str =
    "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.0";

impl Storage {
    /// Opens (or creates) the database in `path` with the default block cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, DEFAULT_BLOCK_CACHE)
    }

    /// Opens (or creates) the database in `path` with a block cache of `cache_bytes` shared
    /// by every table.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Memory bound: all memtables together stay under 256 MiB (flushes start earlier
        // than each table's own 64 MiB when many tables are busy), plus the block cache.
        opts.set_db_write_buffer_size(256 << 20);
        // What a start after a crash replays is bounded: past 256 MiB of log the oldest
        // tables are flushed. Not lower: a 10k-transfer block on a 10M-account state writes
        // 16 MB, and a 64 MiB cap flushed all 18 tables every ~4 blocks (docs/benchmarks.md).
        opts.set_max_total_wal_size(256 << 20);
        let cache = Cache::new_lru_cache(cache_bytes);
        let cfs = ALL.iter().map(|name| {
            let mut cf = Options::default();
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_bloom_filter(10.0, false);
            table.set_cache_index_and_filter_blocks(true);
            cf.set_block_based_table_factory(&table);
            cf.set_compression_type(rocksdb::DBCompressionType::Lz4);
            cf.set_write_buffer_size(64 << 20);
            // Point reads that miss (fresh accounts, unset slots) stop at a memtable bloom
            // filter instead of searching the skiplist.
            if !NO_MEMTABLE_FILTER.contains(name) {
                cf.set_memtable_prefix_bloom_ratio(0.1);
                cf.set_memtable_whole_key_filtering(true);
            }
            // A block's batch holds each table's keys in ascending order, mostly with older
            // keys between them (transaction hashes, addresses, trie paths). The skip list's
            // own insert position is only reused for a key right after the previous one;
            // anything else searched from the top, a third of a commit's CPU. With an insert
            // hint (one for the whole table: a zero-byte prefix) each insert moves on from the
            // previous one's position, O(log d) for d keys between them.
            let cf = cf.get_options_from_string(MEMTABLE_INSERT_HINT)?;
            Ok(ColumnFamilyDescriptor::new(*name, cf))
        });
        let cfs = cfs.collect::<Result<Vec<_>>>()?;
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let storage = Self { db: Arc::new(db) };
        storage.check_layout()?;
        Ok(storage)
    }

    /// A new database gets the current layout version; an existing one must have it.
    fn check_layout(&self) -> Result<()> {
        let found = self.get(META, META_LAYOUT)?.and_then(|v| decode_num(&v));
        match (found, self.head_number()?) {
            (Some(LAYOUT_VERSION), _) => Ok(()),
            (None, None) => {
                Ok(self.db.put_cf(self.cf(META), META_LAYOUT, num_key(LAYOUT_VERSION))?)
            }
            (found, _) => {
                Err(StorageError::Layout { found: found.unwrap_or(0), expected: LAYOUT_VERSION })
            }
        }
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        // Every table is created in `open`, so a missing handle is a programming error.
        self.db.cf_handle(name).expect("column family created at open")
    }

    fn get(&self, table: &str, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(table), key)?)
    }

    /// Writes every table's in-memory part to disk, so that the next open replays no log
    /// (a clean shutdown).
    pub fn flush(&self) -> Result<()> {
        for name in ALL {
            self.db.flush_cf(self.cf(name))?;
        }
        Ok(())
    }

    /// Flushes every table and waits until RocksDB has no flush or compaction left to run, so
    /// that what comes next does not share the CPU with compactions of earlier writes: for a
    /// bench that measures a database right after building it. Past `timeout` it stops
    /// waiting and returns RocksDB's time-out error.
    pub fn settle(&self, timeout: std::time::Duration) -> Result<()> {
        let mut opts = rocksdb::WaitForCompactOptions::default();
        opts.set_flush(true);
        opts.set_timeout(u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX));
        Ok(self.db.wait_for_compact(&opts)?)
    }

    /// Number of the canonical head, or `None` for an empty database.
    pub fn head_number(&self) -> Result<Option<u64>> {
        match self.get(META, META_HEAD)? {
            None => Ok(None),
            Some(v) => decode_num(&v).map(Some).ok_or_else(|| corrupt(META, "head")),
        }
    }

    /// Canonical header of block `number`.
    pub fn header(&self, number: u64) -> Result<Option<SealedHeader>> {
        let Some(raw) = self.get(HEADERS, num_key(number))? else { return Ok(None) };
        let header: Header = decode_rlp(HEADERS, &raw)?;
        Ok(Some(header.seal_slow()))
    }

    /// Canonical header of block `number`, as stored (its RLP), for serving it as is.
    pub fn header_rlp(&self, number: u64) -> Result<Option<Vec<u8>>> {
        self.get(HEADERS, num_key(number))
    }

    /// Canonical hash of block `number`.
    pub fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        Ok(self.get(CANONICAL_HEADERS, num_key(number))?.map(|v| B256::from_slice(&v)))
    }

    /// Number of the block with `hash`.
    pub fn block_number(&self, hash: B256) -> Result<Option<u64>> {
        match self.get(HEADER_NUMBERS, hash)? {
            None => Ok(None),
            Some(v) => decode_num(&v).map(Some).ok_or_else(|| corrupt(HEADER_NUMBERS, "number")),
        }
    }

    /// Transactions of block `number`.
    pub fn transactions(&self, number: u64) -> Result<Option<Vec<TxEnvelope>>> {
        self.get(BLOCK_BODIES, num_key(number))?
            .map(|raw| decode_list(BLOCK_BODIES, &raw))
            .transpose()
    }

    /// Transaction `index` of block `number` with its sender, decoding only that transaction.
    pub fn transaction_at(
        &self,
        number: u64,
        index: usize,
    ) -> Result<Option<(TxEnvelope, Address)>> {
        let Some(raw) = self.get(BLOCK_BODIES, num_key(number))? else { return Ok(None) };
        let mut rest = raw.as_slice();
        for i in 0.. {
            if rest.len() < 4 {
                return Ok(None);
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            rest = &rest[4..];
            if rest.len() < len {
                return Err(corrupt(BLOCK_BODIES, "truncated item"));
            }
            if i == index {
                let mut item = &rest[..len];
                let tx =
                    TxEnvelope::decode_2718(&mut item).map_err(|e| corrupt(BLOCK_BODIES, e))?;
                let senders = self.get(SENDERS, num_key(number))?.unwrap_or_default();
                let sender = senders
                    .get(index * 20..index * 20 + 20)
                    .map(Address::from_slice)
                    .ok_or_else(|| corrupt(SENDERS, "missing sender"))?;
                return Ok(Some((tx, sender)));
            }
            rest = &rest[len..];
        }
        Ok(None)
    }

    /// Senders of block `number`'s transactions.
    pub fn senders(&self, number: u64) -> Result<Option<Vec<Address>>> {
        Ok(self
            .get(SENDERS, num_key(number))?
            .map(|raw| raw.chunks_exact(20).map(Address::from_slice).collect()))
    }

    /// Receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>> {
        self.get(RECEIPTS, num_key(number))?.map(|raw| decode_receipts(&raw)).transpose()
    }

    /// The logs of block `number`'s end-of-block hooks (market, staking, governance, in
    /// order); `None` when the block was committed by a build that did not store them.
    pub fn hook_logs(&self, number: u64) -> Result<Option<Vec<alloy_primitives::Log>>> {
        self.get(HOOK_LOGS, num_key(number))?.map(|raw| decode_rlp(HOOK_LOGS, &raw)).transpose()
    }

    /// Full block `number` with senders.
    pub fn block(&self, number: u64) -> Result<Option<Block>> {
        let Some(header) = self.header(number)? else { return Ok(None) };
        let transactions = self.transactions(number)?.unwrap_or_default();
        let senders = self.senders(number)?.unwrap_or_default();
        Ok(Some(Block { header, transactions, senders }))
    }

    /// Where transaction `hash` was included.
    pub fn tx_location(&self, hash: B256) -> Result<Option<TxLocation>> {
        self.get(TX_LOOKUP, hash)?.map(|raw| decode_rlp(TX_LOOKUP, &raw)).transpose()
    }

    /// The account at the head.
    pub fn latest_account(&self, address: Address) -> Result<Option<StoredAccount>> {
        // Pinned: decode straight from the block cache without copying the value.
        self.db
            .get_pinned_cf(self.cf(PLAIN_ACCOUNTS), address)?
            .map(|raw| decode_rlp(PLAIN_ACCOUNTS, &raw))
            .transpose()
    }

    /// The accounts at `addresses` at the head, in one batched lookup (RocksDB sorts the keys
    /// and walks each file's index and filter once for the batch).
    pub fn multi_get_accounts(&self, addresses: &[Address]) -> Result<Vec<Option<StoredAccount>>> {
        self.db
            .batched_multi_get_cf(
                self.cf(PLAIN_ACCOUNTS),
                addresses.iter().map(|a| a.as_slice()),
                false,
            )
            .into_iter()
            .map(|raw| match raw? {
                Some(raw) => decode_rlp(PLAIN_ACCOUNTS, &raw).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    /// The storage slot at the head.
    pub fn latest_storage(&self, address: Address, slot: B256) -> Result<U256> {
        Ok(self
            .get(PLAIN_STORAGE, storage_key(&address, &slot))?
            .map(|v| decode_u256(&v))
            .unwrap_or_default())
    }

    /// Code by hash.
    pub fn code(&self, hash: B256) -> Result<Option<Bytes>> {
        Ok(self.get(BYTECODES, hash)?.map(Bytes::from))
    }

    /// State at the head, read without history checks. Only the block producer (the single
    /// writer) may use it: it does not guard against concurrent commits.
    pub fn latest(&self) -> LatestState {
        LatestState { storage: self.clone() }
    }

    /// Calls `f` with every account of the plain state and its storage, in address order.
    pub fn for_each_account(
        &self,
        mut f: impl FnMut(Address, StoredAccount, Vec<(B256, U256)>),
    ) -> Result<()> {
        let accounts = self.db.iterator_cf(self.cf(PLAIN_ACCOUNTS), IteratorMode::Start);
        let mut storage_iter =
            self.db.iterator_cf(self.cf(PLAIN_STORAGE), IteratorMode::Start).peekable();
        for item in accounts {
            let (key, value) = item?;
            let address = Address::from_slice(&key);
            let account: StoredAccount = decode_rlp(PLAIN_ACCOUNTS, &value)?;
            let mut slots = Vec::new();
            while let Some(Ok((k, _))) = storage_iter.peek() {
                if &k[..20] < address.as_slice() {
                    storage_iter.next();
                    continue;
                }
                if &k[..20] != address.as_slice() {
                    break;
                }
                if let Some(Ok((k, v))) = storage_iter.next() {
                    slots.push((B256::from_slice(&k[20..]), decode_u256(&v)));
                }
            }
            f(address, account, slots);
        }
        Ok(())
    }

    /// Every non-zero storage slot of `address` in the plain state (the head), in slot order.
    pub fn account_storage(&self, address: &Address) -> Result<Vec<(B256, U256)>> {
        self.storage_of(address)
    }

    fn storage_of(&self, address: &Address) -> Result<Vec<(B256, U256)>> {
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(PLAIN_STORAGE),
            IteratorMode::From(address.as_slice(), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            if &k[..20] != address.as_slice() {
                break;
            }
            out.push((B256::from_slice(&k[20..]), decode_u256(&v)));
        }
        Ok(out)
    }

    /// Bytes each table takes (SST files plus memtables), for metrics.
    pub fn table_sizes(&self) -> Vec<(&'static str, u64)> {
        ALL.iter()
            .map(|name| {
                let cf = self.cf(name);
                let prop =
                    |p: &str| self.db.property_int_value_cf(cf, p).ok().flatten().unwrap_or(0);
                (
                    *name,
                    prop("rocksdb.total-sst-files-size") + prop("rocksdb.cur-size-all-mem-tables"),
                )
            })
            .collect()
    }

    /// The highest block finalized by consensus, if recorded.
    pub fn finalized(&self) -> Result<Option<u64>> {
        Ok(self.get(META, META_FINALIZED)?.and_then(|v| decode_num(&v)))
    }

    /// Records the highest finalized block.
    pub fn set_finalized(&self, number: u64) -> Result<()> {
        Ok(self.db.put_cf(self.cf(META), META_FINALIZED, num_key(number))?)
    }
}

/// State at the head for the single writer.
#[derive(Debug, Clone)]
pub struct LatestState {
    storage: Storage,
}

impl StateReader for LatestState {
    fn account(&self, address: Address) -> Result<Option<StoredAccount>> {
        self.storage.latest_account(address)
    }

    fn accounts(&self, addresses: &[Address]) -> Result<Vec<Option<StoredAccount>>> {
        self.storage.multi_get_accounts(addresses)
    }

    fn storage(&self, address: Address, slot: B256) -> Result<U256> {
        self.storage.latest_storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytes>> {
        self.storage.code(code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        self.storage.block_hash(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Header, Sealable};
    use dbc_primitives::KECCAK_EMPTY;

    pub(crate) fn block(number: u64) -> Block {
        let header = Header { number, gas_limit: 30_000_000, ..Default::default() };
        Block { header: header.seal_slow(), transactions: vec![], senders: vec![] }
    }

    pub(crate) fn account(nonce: u64, balance: u64) -> StoredAccount {
        StoredAccount { nonce, balance: U256::from(balance), code_hash: KECCAK_EMPTY }
    }

    /// One account and one of its slots, changed block after block: each commit records what
    /// they held before.
    pub(crate) struct OneAccount {
        pub(crate) address: Address,
        pub(crate) slot: B256,
        account: Option<StoredAccount>,
        value: U256,
    }

    impl OneAccount {
        /// Absent, its slot zero.
        pub(crate) fn new(address: Address, slot: B256) -> Self {
            Self { address, slot, account: None, value: U256::ZERO }
        }

        /// Commits block `n` setting the account to `after` and the slot to `value`.
        pub(crate) fn commit(
            &mut self,
            storage: &Storage,
            n: u64,
            after: Option<StoredAccount>,
            value: U256,
        ) {
            let changes = crate::StateChangeset {
                accounts: vec![crate::AccountChange {
                    address: self.address,
                    before: self.account,
                    after,
                    wiped: false,
                    storage: vec![crate::SlotChange {
                        slot: self.slot,
                        before: self.value,
                        after: value,
                    }],
                }],
                bytecodes: vec![],
            };
            storage.commit_block(&block(n), &[], &changes).expect("commit");
            self.account = after;
            self.value = value;
        }
    }

    /// The CF section of each table in the newest `OPTIONS-*` file RocksDB wrote at open.
    fn options_sections(dir: &Path) -> std::collections::HashMap<String, String> {
        let newest = std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with("OPTIONS-"))
            .max_by_key(|n| n.trim_start_matches("OPTIONS-").parse::<u64>().unwrap_or(0))
            .expect("an OPTIONS file");
        let text = std::fs::read_to_string(dir.join(newest)).expect("read");
        let mut sections = std::collections::HashMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix('[') {
                // `[CFOptions "name"]` and `[TableOptions/BlockBasedTable "name"]` both belong
                // to the table `name`.
                current = rest.split('"').nth(1).map(str::to_owned);
                continue;
            }
            if let Some(name) = &current {
                let entry: &mut String = sections.entry(name.clone()).or_default();
                entry.push_str(line.trim());
                entry.push('\n');
            }
        }
        sections
    }

    #[test]
    fn every_table_inserts_from_a_hint_and_keeps_its_other_options() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Storage::open(dir.path()).expect("open"));
        let sections = options_sections(dir.path());
        for name in ALL {
            let section = sections.get(*name).unwrap_or_else(|| panic!("no options for {name}"));
            let has = |line: &str| section.lines().any(|l| l == line);
            assert!(
                has("memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.0"),
                "{name}: no insert hint"
            );
            // What was set before the hint survives it.
            assert!(has("cache_index_and_filter_blocks=true"), "{name}: table options lost");
            assert!(has("write_buffer_size=67108864"), "{name}: write buffer lost");
            assert_eq!(
                has("memtable_whole_key_filtering=true"),
                !NO_MEMTABLE_FILTER.contains(name),
                "{name}: memtable filter"
            );
        }
    }

    /// RocksDB's CRC32C (every log record and table block) runs the hardware instruction on
    /// x86-64: `.cargo/config.toml` passes `-msse4.2 -mpclmul` to its C++, which
    /// `librocksdb-sys` would not (it prints "compiling without SSE4.2" regardless, as it only
    /// looks at rustc's target features). RocksDB says which it got in its `LOG`.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn rocksdb_checksums_use_the_hardware_crc32c() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Storage::open(dir.path()).expect("open"));
        let log = std::fs::read_to_string(dir.path().join("LOG")).expect("RocksDB's LOG");
        let line = log
            .lines()
            .find(|l| l.contains("Fast CRC32 supported:"))
            .expect("RocksDB logs its CRC32C implementation at open");
        assert!(line.ends_with("Fast CRC32 supported: Supported on x86"), "{line}");
    }

    #[test]
    fn hinted_inserts_in_any_order_read_back_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let cf = storage.cf(TX_LOOKUP);
        // Batches ascending, descending and shuffled, each landing between earlier keys.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut keys: Vec<u64> = Vec::new();
        for round in 0..6u64 {
            let mut batch_keys: Vec<u64> = (0..500u64).map(|i| i * 6 + round).collect();
            match round % 3 {
                0 => {}
                1 => batch_keys.reverse(),
                _ => {
                    for i in (1..batch_keys.len()).rev() {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        batch_keys.swap(i, (seed % (i as u64 + 1)) as usize);
                    }
                }
            }
            let mut batch = rocksdb::WriteBatch::default();
            for k in &batch_keys {
                batch.put_cf(cf, k.to_be_bytes(), k.to_le_bytes());
            }
            storage.db.write(batch).expect("write");
            keys.extend(batch_keys);
        }
        keys.sort_unstable();
        for k in &keys {
            let got = storage.db.get_cf(cf, k.to_be_bytes()).expect("get");
            assert_eq!(got.as_deref(), Some(&k.to_le_bytes()[..]), "key {k}");
        }
        let read: Vec<u64> = storage
            .db
            .iterator_cf(cf, IteratorMode::Start)
            .map(|item| {
                let (k, _) = item.expect("item");
                u64::from_be_bytes(k.as_ref().try_into().expect("8 bytes"))
            })
            .collect();
        assert_eq!(read, keys);
    }

    #[test]
    fn reopen_keeps_the_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let storage = Storage::open(dir.path()).expect("open");
            for n in 0..3 {
                storage.commit_block(&block(n), &[], &StateChangeset::default()).expect("commit");
            }
        }
        let storage = Storage::open(dir.path()).expect("reopen");
        assert_eq!(storage.head_number().expect("head"), Some(2));
        let hash = storage.block_hash(2).expect("read").expect("hash");
        assert_eq!(storage.block_number(hash).expect("read"), Some(2));
    }

    #[test]
    fn receipts_come_back_with_their_bloom_recomputed() {
        use alloy_primitives::{Log, LogData};
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let log = Log {
            address: Address::with_last_byte(7),
            data: LogData::new_unchecked(vec![B256::with_last_byte(1)], Bytes::from_static(b"x")),
        };
        let receipts = vec![
            ReceiptEnvelope::from_typed(
                alloy_consensus::TxType::Eip1559,
                alloy_consensus::Receipt {
                    status: true.into(),
                    cumulative_gas_used: 21_000,
                    logs: vec![],
                }
                .with_bloom(),
            ),
            ReceiptEnvelope::from_typed(
                alloy_consensus::TxType::Eip7702,
                alloy_consensus::Receipt {
                    status: false.into(),
                    cumulative_gas_used: 90_000,
                    logs: vec![log],
                }
                .with_bloom(),
            ),
        ];
        storage.commit_block(&block(0), &receipts, &StateChangeset::default()).expect("commit");
        let back = storage.receipts(0).expect("read").expect("stored");
        assert_eq!(back, receipts);
        assert_ne!(alloy_consensus::TxReceipt::bloom(&back[1]), alloy_primitives::Bloom::ZERO);
    }

    #[test]
    fn a_database_from_another_layout_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let storage = Storage::open(dir.path()).expect("open");
            storage.commit_block(&block(0), &[], &StateChangeset::default()).expect("commit");
            // As written by a build that did not record its layout.
            storage.db.delete_cf(storage.cf(META), META_LAYOUT).expect("delete");
        }
        let err = Storage::open(dir.path()).expect_err("old layout");
        assert!(matches!(err, StorageError::Layout { found: 0, expected: LAYOUT_VERSION }));
        assert!(err.to_string().contains("remove the data directory"), "{err}");
    }
}

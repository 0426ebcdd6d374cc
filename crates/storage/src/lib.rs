//! RocksDB storage for dbc-node.
//!
//! The layout follows reth's tables (see [`tables`]): headers, canonical index, bodies, senders,
//! receipts, the transaction lookup, plain state, bytecodes, and changesets with history
//! indices so the state at any past block can be read.
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
pub mod tables;
mod trie;

pub use chain::{CanonChain, NewBlock};
pub use trie::TrieWrite;

use alloy_consensus::Header;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable};
use dbc_primitives::{
    Block, ReceiptEnvelope, Sealable, SealedHeader, StoredAccount, TxEnvelope, TxLocation,
};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, Direction, IteratorMode,
    Options, ReadOptions, WriteBatch, WriteOptions,
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

fn encode_list<T: Encodable2718>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * 128);
    for item in items {
        let len = item.encode_2718_len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        item.encode_2718(&mut out);
    }
    out
}

fn decode_list<T: Decodable2718>(table: &'static str, mut bytes: &[u8]) -> Result<Vec<T>> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(corrupt(table, "truncated length"));
        }
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        bytes = &bytes[4..];
        if bytes.len() < len {
            return Err(corrupt(table, "truncated item"));
        }
        let mut item = &bytes[..len];
        items.push(T::decode_2718(&mut item).map_err(|e| corrupt(table, e))?);
        bytes = &bytes[len..];
    }
    Ok(items)
}

/// A receipt as stored: without its logs bloom, which is derived from the logs (256 of a
/// transfer receipt's ~280 bytes). Readers recompute it.
#[derive(alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
struct StoredReceipt {
    tx_type: u8,
    success: bool,
    cumulative_gas_used: u64,
    logs: Vec<alloy_primitives::Log>,
}

fn encode_receipts(receipts: &[ReceiptEnvelope]) -> Vec<u8> {
    let stored: Vec<StoredReceipt> = receipts
        .iter()
        .map(|r| {
            let inner = r.as_receipt();
            StoredReceipt {
                tx_type: r.tx_type() as u8,
                success: alloy_consensus::TxReceipt::status(r),
                cumulative_gas_used: inner.map_or(0, |i| i.cumulative_gas_used),
                logs: inner.map(|i| i.logs.clone()).unwrap_or_default(),
            }
        })
        .collect();
    alloy_rlp::encode(stored)
}

fn decode_receipts(raw: &[u8]) -> Result<Vec<ReceiptEnvelope>> {
    let stored: Vec<StoredReceipt> = decode_rlp(RECEIPTS, raw)?;
    stored
        .into_iter()
        .map(|r| {
            let ty =
                alloy_consensus::TxType::try_from(r.tx_type).map_err(|e| corrupt(RECEIPTS, e))?;
            let receipt = alloy_consensus::Receipt {
                status: r.success.into(),
                cumulative_gas_used: r.cumulative_gas_used,
                logs: r.logs,
            };
            Ok(ReceiptEnvelope::from_typed(ty, receipt.with_bloom()))
        })
        .collect()
}

fn decode_rlp<T: Decodable>(table: &'static str, mut bytes: &[u8]) -> Result<T> {
    T::decode(&mut bytes).map_err(|e| corrupt(table, e))
}

fn decode_u256(bytes: &[u8]) -> U256 {
    U256::from_be_slice(bytes)
}

fn encode_u256(value: &U256) -> Vec<u8> {
    let bytes = value.to_be_bytes::<32>();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(32);
    bytes[first..].to_vec()
}

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

/// The block cache of [`Storage::open`]: 256 MiB.
pub const DEFAULT_BLOCK_CACHE: usize = 256 << 20;

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

    /// State as of the end of block `number`.
    pub fn state_at(&self, number: u64) -> HistoricalState {
        HistoricalState { storage: self.clone(), block: number }
    }

    /// State at the head, read without history checks. Only the block producer (the single
    /// writer) may use it: it does not guard against concurrent commits.
    pub fn latest(&self) -> LatestState {
        LatestState { storage: self.clone() }
    }

    /// The sum of every balance as of the end of block `number` (the head when `None`), the
    /// number of accounts and the block, read from one RocksDB snapshot: the plain state,
    /// corrected by the account changesets of the blocks after `number`. O(accounts + changes
    /// after `number`). `None` when `number` is above the head.
    pub fn sum_balances_at(&self, number: Option<u64>) -> Result<Option<(u64, U256, u64)>> {
        let snapshot = self.db.snapshot();
        let head = match snapshot.get_cf(self.cf(META), META_HEAD)? {
            None => return Ok(None),
            Some(v) => decode_num(&v).ok_or_else(|| corrupt(META, "head"))?,
        };
        let number = number.unwrap_or(head);
        if number > head {
            return Ok(None);
        }
        let mut sum = U256::ZERO;
        let mut count = 0u64;
        for item in snapshot.iterator_cf(self.cf(PLAIN_ACCOUNTS), IteratorMode::Start) {
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
            let (k, v) = item?;
            if k.len() != 28 {
                return Err(corrupt(ACCOUNT_CHANGESETS, "key"));
            }
            let address = Address::from_slice(&k[8..28]);
            if !seen.insert(address) {
                continue;
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

    /// Every account with its non-zero storage as of the end of block `number`, rebuilt from
    /// the plain state and the changesets of later blocks. Linear in the state size plus the
    /// changes after `number` (used for EIP-1186 proofs).
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

    fn block(number: u64) -> Block {
        let header = Header { number, gas_limit: 30_000_000, ..Default::default() };
        Block { header: header.seal_slow(), transactions: vec![], senders: vec![] }
    }

    fn account(nonce: u64, balance: u64) -> StoredAccount {
        StoredAccount { nonce, balance: U256::from(balance), code_hash: KECCAK_EMPTY }
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
            let mut batch = WriteBatch::default();
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
    fn history_reads_return_the_value_at_each_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let a = Address::with_last_byte(1);
        let slot = B256::with_last_byte(9);
        let mut prev: Option<StoredAccount> = None;
        let mut prev_slot = U256::ZERO;
        for n in 0..10u64 {
            let after = if n == 6 { None } else { Some(account(n, 100 + n)) };
            let new_slot = if n % 3 == 0 { U256::ZERO } else { U256::from(n) };
            let changes = StateChangeset {
                accounts: vec![AccountChange {
                    address: a,
                    before: prev,
                    after,
                    wiped: false,
                    storage: vec![SlotChange { slot, before: prev_slot, after: new_slot }],
                }],
                bytecodes: vec![],
            };
            storage.commit_block(&block(n), &[], &changes).expect("commit");
            prev = after;
            prev_slot = new_slot;
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
                storage.sum_balances_at(Some(n)).expect("sum"),
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
                storage.sum_balances_at(Some(n)).expect("sum"),
                Some((n, U256::from(a_balance + b_balance), accounts)),
                "block {n}"
            );
        }
        assert_eq!(storage.sum_balances_at(None).expect("sum"), Some((9, U256::from(1_109), 2)));
        assert_eq!(storage.sum_balances_at(Some(10)).expect("sum"), None, "above the head");
        assert_eq!(changed_slots, vec![2, 4, 6, 8]);
        let listed = |from, to, limit| storage.storage_change_blocks(&a, &slot, from, to, limit);
        assert_eq!(listed(0, 9, 100).expect("list"), changed_slots);
        assert_eq!(listed(3, 7, 100).expect("list"), vec![4, 6]);
        assert_eq!(listed(2, 8, 2).expect("list"), vec![2, 4]);
        assert_eq!(listed(5, 5, 100).expect("list"), Vec::<u64>::new());
        let other = storage.storage_change_blocks(&b, &slot, 0, 9, 100).expect("list");
        assert!(other.is_empty(), "another account's slot");
    }

    #[test]
    fn unwind_to_restores_the_state_of_the_target_across_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::open(dir.path()).expect("open");
        let a = Address::with_last_byte(1);
        let slot = B256::with_last_byte(9);
        let mut prev: Option<StoredAccount> = None;
        let mut prev_slot = U256::ZERO;
        let mut change = |n: u64, storage: &Storage| {
            let after = if n == 6 { None } else { Some(account(n, 100 + n)) };
            let new_slot = U256::from(n % 4);
            let changes = StateChangeset {
                accounts: vec![AccountChange {
                    address: a,
                    before: prev,
                    after,
                    wiped: false,
                    storage: vec![SlotChange { slot, before: prev_slot, after: new_slot }],
                }],
                bytecodes: vec![],
            };
            storage.commit_block(&block(n), &[], &changes).expect("commit");
            prev = after;
            prev_slot = new_slot;
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

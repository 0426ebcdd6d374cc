//! Table (column family) names and key encodings, modelled on reth's tables.
//!
//! | table | key | value |
//! |---|---|---|
//! | `Headers` | block number | RLP header |
//! | `CanonicalHeaders` | block number | block hash |
//! | `HeaderNumbers` | block hash | block number |
//! | `BlockBodies` | block number | RLP list of EIP-2718 transactions |
//! | `Senders` | block number | concatenated 20-byte senders |
//! | `Receipts` | block number | RLP list of EIP-2718 receipts |
//! | `TransactionHashNumbers` | tx hash | RLP (block number, index) |
//! | `PlainAccountState` | address | RLP [`StoredAccount`](dbc_primitives::StoredAccount) |
//! | `PlainStorageState` | address ‖ slot | 32-byte value (absent = zero) |
//! | `Bytecodes` | code hash | code |
//! | `AccountChangeSets` | block ‖ address | account before the block (empty = absent) |
//! | `StorageChangeSets` | block ‖ address ‖ slot | value before the block |
//! | `AccountsHistory` | address ‖ block | empty: the account changed in that block |
//! | `StoragesHistory` | address ‖ slot ‖ block | empty: the slot changed in that block |
//! | `Meta` | name | chain metadata (head number, …) |
//! | `BlockHookLogs` | block number | RLP list of the end-of-block hooks' logs |
//! | `AccountsTrie` | nibble path (one byte a nibble) | RLP trie node of the head's account trie |
//! | `StoragesTrie` | hashed address ‖ nibble path | RLP trie node of that account's storage trie |
//!
//! Numbers are big-endian so that keys sort by block.

use alloy_primitives::{Address, B256};

/// Block number → RLP header.
pub const HEADERS: &str = "Headers";
/// Block number → canonical hash.
pub const CANONICAL_HEADERS: &str = "CanonicalHeaders";
/// Block hash → number.
pub const HEADER_NUMBERS: &str = "HeaderNumbers";
/// Block number → transactions.
pub const BLOCK_BODIES: &str = "BlockBodies";
/// Block number → senders.
pub const SENDERS: &str = "Senders";
/// Block number → the block's receipts (RLP list of type, status, cumulative gas and logs; the
/// bloom is recomputed on read).
pub const RECEIPTS: &str = "Receipts";
/// Tx hash → location.
pub const TX_LOOKUP: &str = "TransactionHashNumbers";
/// Address → account.
pub const PLAIN_ACCOUNTS: &str = "PlainAccountState";
/// Address ‖ slot → value.
pub const PLAIN_STORAGE: &str = "PlainStorageState";
/// Code hash → code.
pub const BYTECODES: &str = "Bytecodes";
/// Block ‖ address → account before the block.
pub const ACCOUNT_CHANGESETS: &str = "AccountChangeSets";
/// Block ‖ address ‖ slot → value before the block.
pub const STORAGE_CHANGESETS: &str = "StorageChangeSets";
/// Address ‖ block → ().
pub const ACCOUNTS_HISTORY: &str = "AccountsHistory";
/// Address ‖ slot ‖ block → ().
pub const STORAGES_HISTORY: &str = "StoragesHistory";
/// Name → metadata.
pub const META: &str = "Meta";
/// Block number → the logs of its end-of-block hooks (system calls without a receipt); absent
/// for blocks committed by an older build.
pub const HOOK_LOGS: &str = "BlockHookLogs";

/// Nibble path → the account-trie node there (hashed nodes and the root; the head's state).
pub const ACCOUNTS_TRIE: &str = "AccountsTrie";
/// Hashed address ‖ nibble path → the node there of the account's storage trie.
pub const STORAGES_TRIE: &str = "StoragesTrie";

/// Every table, in creation order.
pub const ALL: &[&str] = &[
    HEADERS,
    CANONICAL_HEADERS,
    HEADER_NUMBERS,
    BLOCK_BODIES,
    SENDERS,
    RECEIPTS,
    TX_LOOKUP,
    PLAIN_ACCOUNTS,
    PLAIN_STORAGE,
    BYTECODES,
    ACCOUNT_CHANGESETS,
    STORAGE_CHANGESETS,
    ACCOUNTS_HISTORY,
    STORAGES_HISTORY,
    META,
    HOOK_LOGS,
    ACCOUNTS_TRIE,
    STORAGES_TRIE,
];

/// Meta key of the highest finalized block's number.
pub const META_FINALIZED: &[u8] = b"finalized";
/// Meta key of the state root the stored trie (`AccountsTrie`, `StoragesTrie`) holds; absent
/// while the stored trie is not the head's (never built, or left behind).
pub const META_TRIE_ROOT: &[u8] = b"trieRoot";
/// Meta key of the database layout version.
pub const META_LAYOUT: &[u8] = b"layout";
/// The layout this build reads and writes. 2: receipts stored without their bloom. 3: the chain
/// format changed under it (proof-of-stake headers carry a VRF reveal, market records grew), so
/// a data directory written by an older build is refused with a clear error, not misread.
/// 4: machine keys, liveness challenges and per-machine rental lists in the market's records.
pub const LAYOUT_VERSION: u64 = 4;
/// Meta key of the canonical head's number.
pub const META_HEAD: &[u8] = b"head";

pub(crate) fn num_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub(crate) fn storage_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(slot.as_slice());
    k
}

pub(crate) fn account_changeset_key(block: u64, address: &Address) -> [u8; 28] {
    let mut k = [0u8; 28];
    k[..8].copy_from_slice(&block.to_be_bytes());
    k[8..].copy_from_slice(address.as_slice());
    k
}

pub(crate) fn storage_changeset_key(block: u64, address: &Address, slot: &B256) -> [u8; 60] {
    let mut k = [0u8; 60];
    k[..8].copy_from_slice(&block.to_be_bytes());
    k[8..28].copy_from_slice(address.as_slice());
    k[28..].copy_from_slice(slot.as_slice());
    k
}

pub(crate) fn account_history_key(address: &Address, block: u64) -> [u8; 28] {
    let mut k = [0u8; 28];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&block.to_be_bytes());
    k
}

pub(crate) fn storage_history_key(address: &Address, slot: &B256, block: u64) -> [u8; 60] {
    let mut k = [0u8; 60];
    k[..20].copy_from_slice(address.as_slice());
    k[20..52].copy_from_slice(slot.as_slice());
    k[52..].copy_from_slice(&block.to_be_bytes());
    k
}

pub(crate) fn decode_num(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

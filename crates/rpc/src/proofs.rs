//! `eth_getProof` (EIP-1186).
//!
//! At the head (and any block with the head's state root) the proof reads the stored trie's
//! nodes on the key's path, O(depth). At an earlier block the trie is opened at the stored
//! head and moved back block by block, each block's changes applied backwards (what fork
//! choice does, [`dbc_storage::Storage::trie_reverts`]), as reth serves historical proofs: the
//! cost is what changed since that block, never the state's size. How far back is bounded by
//! `--rpc.eth-proof-window` (blocks, [`RpcLimits::eth_proof_window`]) and by
//! [`RpcLimits::max_proof_reverts`] (account and slot changes held in memory).
//!
//! [`RpcLimits::eth_proof_window`]: crate::RpcLimits::eth_proof_window
//! [`RpcLimits::max_proof_reverts`]: crate::RpcLimits::max_proof_reverts

use crate::{
    RpcContext,
    error::{RpcResult, header_not_found, internal, invalid_params, rpc_err, server_error},
};
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::JsonStorageKey;
use dbc_trie::{EMPTY_ROOT_HASH, StateTrie, TrieAccount, TrieError, proof::AccountProof};
use std::sync::Arc;

/// Storage keys one `eth_getProof` may prove (a request could otherwise carry ~70,000 within
/// its size limit, each a walk of the account's storage trie).
pub const MAX_PROOF_KEYS: usize = 1024;
/// Default of `--rpc.eth-proof-window`: blocks behind the head a proof may be asked at.
pub const DEFAULT_PROOF_WINDOW: u64 = 10_000;
/// Largest `--rpc.eth-proof-window` (reth's: 28 days of 2 s blocks).
pub const MAX_PROOF_WINDOW: u64 = 1_209_600;
/// Default of [`crate::RpcLimits::max_proof_reverts`]: account and slot changes a proof at an
/// earlier block may undo. Each keeps its trie path in memory until the answer: on a
/// 10M-account state 66,004 changes took 806 ms and 142 MiB (`dbc-bench state`), so at most
/// ~1.2 s and ~220 MiB.
pub const DEFAULT_MAX_PROOF_REVERTS: usize = 100_000;
/// Times a proof at an earlier block starts again when a commit moves the head under it.
const ATTEMPTS: usize = 3;
/// Pause before a proof starts again.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(25);
/// Threads of the pool proofs at earlier blocks run their trie work on.
const PROOF_THREADS: usize = 2;

/// The pool proofs at earlier blocks move their trie on (its updates run in parallel), apart
/// from rayon's global pool: block import runs its trie work there, and a proof's parallel
/// work queued ahead of it would hold a block back for as long as the proof takes.
fn proof_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(PROOF_THREADS)
            .thread_name(|i| format!("dbc-rpc-proof-{i}"))
            .build()
            .map_err(|e| tracing::warn!(target: "dbc::rpc", %e, "no pool of its own for proofs"))
            .ok()
    })
    .as_ref()
}

impl RpcContext {
    /// `eth_getProof` of `address` and its storage `keys` at `block`.
    pub(crate) fn account_proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        if keys.len() > MAX_PROOF_KEYS {
            return Err(invalid_params(format!(
                "too many storage keys: {} (at most {MAX_PROOF_KEYS})",
                keys.len()
            )));
        }
        let number = self.resolve(block)?;
        let header =
            self.storage().header(number).map_err(rpc_err)?.ok_or_else(header_not_found)?;
        // The head's state (and any block with the same root): read the stored trie's paths,
        // each node checked against its parent's hash from the header's root. A commit racing
        // the reads fails a check, and the proof is built as for an earlier block.
        if self.storage().trie_root().map_err(rpc_err)? == Some(header.state_root)
            && let Ok(found) =
                stored_account_proof(self.storage(), header.state_root, address, &keys)
        {
            return Ok(response(address, keys, found));
        }
        let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
        let found = self.earlier_proof(number, header.state_root, address, &slots)?;
        Ok(response(address, keys, found))
    }

    /// The proof at block `number` (state root `root`), from the stored head's trie moved back
    /// to it.
    ///
    /// The reads are not from one snapshot: a commit or an unwind under the walk shows as a
    /// node that fails its hash check, a changeset that reads as corrupt or a root that is not
    /// the block's (never as a wrong proof, as every node is checked and the root must be the
    /// header's), and the walk starts again from the new head. A root that still differs with
    /// the head unmoved is a fault, answered as one.
    fn earlier_proof(
        &self,
        number: u64,
        root: B256,
        address: Address,
        slots: &[B256],
    ) -> RpcResult<AccountProof> {
        let until = self.deadline();
        let storage = self.storage();
        let limits = self.limits();
        let head = storage.head_number().map_err(rpc_err)?.ok_or_else(header_not_found)?;
        if head.saturating_sub(number) > limits.eth_proof_window {
            return Err(invalid_params("distance to target block exceeds maximum proof window"));
        }
        // Counted from the changesets' keys before any work: a block may hold more changes
        // than the whole budget (a 1.5 G-gas block of slot writes: ~300,000).
        let changes = storage.changes_after(number, limits.max_proof_reverts).map_err(rpc_err)?;
        if changes > limits.max_proof_reverts {
            return Err(too_many_changes(number, limits.max_proof_reverts));
        }
        let mut fault = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Let the commit or the fork choice under the last walk finish.
                std::thread::sleep(RETRY_PAUSE);
            }
            Self::check_deadline(until)?;
            let walk = || self.walk_back(number, root, address, slots, until);
            let walked = match proof_pool() {
                Some(pool) => pool.install(walk),
                None => walk(),
            };
            match walked? {
                Walk::Proved(found) => return Ok(found),
                Walk::Raced(why) => {
                    tracing::debug!(target: "dbc::rpc", number, %why, "proof raced the chain");
                    fault = None;
                }
                Walk::WrongRoot(got) => fault = Some(got),
            }
        }
        match fault {
            Some(got) => {
                tracing::warn!(target: "dbc::rpc", number, %got, expected = %root, "the state trie moved back to a block does not give its root");
                Err(internal(format!(
                    "the state trie moved back to block {number} has root {got}, not the header's {root}"
                )))
            }
            None => Err(server_error("the chain moved while the proof was built; try again")),
        }
    }

    /// One walk from the stored head back to block `number`.
    fn walk_back(
        &self,
        number: u64,
        root: B256,
        address: Address,
        slots: &[B256],
        until: std::time::Instant,
    ) -> RpcResult<Walk> {
        let storage = self.storage();
        let limits = self.limits();
        // The stored trie's state and the block it is: the head, unless a commit landed
        // between the reads.
        let stored = match storage.trie_root() {
            Ok(Some(stored)) => stored,
            Ok(None) => return Ok(Walk::Raced("the stored trie is being rebuilt".into())),
            Err(e) => return Ok(Walk::Raced(e.to_string())),
        };
        let head = match storage.head_number() {
            Ok(Some(head)) => head,
            other => return Ok(Walk::Raced(format!("head {other:?}"))),
        };
        match storage.header(head) {
            Ok(Some(h)) if h.state_root == stored => {}
            other => {
                return Ok(Walk::Raced(format!(
                    "head {head}'s header {:?}",
                    other.map(|h| h.map(|h| h.state_root))
                )));
            }
        }
        let mut trie = StateTrie::open(Arc::new(storage.clone()), stored);
        let mut changes = 0usize;
        for later in (number.saturating_add(1)..=head).rev() {
            Self::check_deadline(until)?;
            let reverts = match storage.trie_reverts(later) {
                Ok(reverts) => reverts,
                Err(e) => return Ok(Walk::Raced(e.to_string())),
            };
            changes = reverts
                .iter()
                .fold(changes, |n, (_, u)| n.saturating_add(1).saturating_add(u.storage.len()));
            if changes > limits.max_proof_reverts {
                return Err(too_many_changes(number, limits.max_proof_reverts));
            }
            if let Err(e) = trie.apply(reverts) {
                return Ok(Walk::Raced(e.to_string()));
            }
        }
        let got = trie.root();
        if got != root {
            // Unmoved head and stored trie: not a race.
            let unmoved = storage.head_number().ok().flatten() == Some(head)
                && storage.trie_root().ok().flatten() == Some(stored);
            return Ok(if unmoved { Walk::WrongRoot(got) } else { Walk::Raced("root".into()) });
        }
        Ok(match trie.prove(address, slots) {
            Ok(found) => Walk::Proved(found),
            Err(e) => Walk::Raced(e.to_string()),
        })
    }
}

/// How one walk back ended.
enum Walk {
    Proved(AccountProof),
    /// The chain moved under it: walk again.
    Raced(String),
    /// The trie moved back did not give the block's root though nothing moved.
    WrongRoot(B256),
}

fn too_many_changes(number: u64, max: usize) -> jsonrpsee::types::ErrorObjectOwned {
    server_error(format!(
        "too many state changes since block {number} to prove at it (more than {max}): ask at a later block"
    ))
}

/// `eth_getProof` from the stored trie at `root`: O(depth) node reads per key (a trie opened
/// at the stored root, nothing moved).
fn stored_account_proof(
    storage: &dbc_storage::Storage,
    root: B256,
    address: Address,
    keys: &[JsonStorageKey],
) -> Result<AccountProof, TrieError> {
    let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
    StateTrie::open(Arc::new(storage.clone()), root).prove(address, &slots)
}

/// The JSON answer of a proof of `address` and `keys`.
fn response(
    address: Address,
    keys: Vec<JsonStorageKey>,
    found: AccountProof,
) -> EIP1186AccountProofResponse {
    let storage_hash = found.storage_root();
    let account = found.account.unwrap_or(TrieAccount {
        nonce: 0,
        balance: U256::ZERO,
        storage_root: EMPTY_ROOT_HASH,
        code_hash: dbc_primitives::KECCAK_EMPTY,
    });
    let storage_proof = keys
        .into_iter()
        .zip(found.slots)
        .map(|(key, (proof, value))| EIP1186StorageProof { key, value, proof })
        .collect();
    EIP1186AccountProofResponse {
        address,
        balance: account.balance,
        code_hash: account.code_hash,
        nonce: account.nonce,
        storage_hash,
        account_proof: found.proof,
        storage_proof,
    }
}

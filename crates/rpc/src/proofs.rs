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
    error::{RpcResult, header_not_found, invalid_params, rpc_err, server_error},
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
        for _ in 0..ATTEMPTS {
            // The stored trie's state and the block it is: the head, unless a commit landed
            // between the two reads.
            let Some(stored) = storage.trie_root().map_err(rpc_err)? else {
                return Err(server_error(
                    "the state trie is being rebuilt: proofs at earlier blocks are not available until it is",
                ));
            };
            let head = storage.head_number().map_err(rpc_err)?.ok_or_else(header_not_found)?;
            let head_root =
                storage.header(head).map_err(rpc_err)?.ok_or_else(header_not_found)?.state_root;
            if head_root != stored {
                continue;
            }
            if head.saturating_sub(number) > limits.eth_proof_window {
                return Err(server_error(format!(
                    "distance to target block exceeds maximum proof window ({} blocks)",
                    limits.eth_proof_window
                )));
            }
            let mut trie = StateTrie::open(Arc::new(storage.clone()), stored);
            let mut changes = 0usize;
            let mut moved = Ok(());
            for later in (number.saturating_add(1)..=head).rev() {
                Self::check_deadline(until)?;
                let reverts = storage.trie_reverts(later).map_err(rpc_err)?;
                changes = reverts
                    .iter()
                    .fold(changes, |n, (_, u)| n.saturating_add(1).saturating_add(u.storage.len()));
                if changes > limits.max_proof_reverts {
                    return Err(server_error(format!(
                        "too many state changes since block {number} to prove at it (more than {}): ask at a later block",
                        limits.max_proof_reverts
                    )));
                }
                moved = trie.apply(reverts);
                if moved.is_err() {
                    break;
                }
            }
            // A commit or an unwind under the walk shows as a node that fails its hash check
            // or a root that is not the block's: start again from the new head.
            if moved.is_ok() && trie.root() == root {
                match trie.prove(address, slots) {
                    Ok(found) => return Ok(found),
                    Err(e) => tracing::debug!(target: "dbc::rpc", %e, "proof raced a commit"),
                }
            }
        }
        Err(server_error("the chain moved while the proof was built; try again"))
    }
}

/// `eth_getProof` from the stored trie at `root`: O(depth) node reads per key.
fn stored_account_proof(
    storage: &dbc_storage::Storage,
    root: B256,
    address: Address,
    keys: &[JsonStorageKey],
) -> Result<AccountProof, TrieError> {
    use alloy_rlp::Decodable;
    use dbc_trie::proof::stored_proof;
    let malformed = |what: &str, e: alloy_rlp::Error| TrieError::Decode {
        account: None,
        path: what.into(),
        reason: e.to_string(),
    };
    let hashed = alloy_primitives::keccak256(address);
    let (proof, leaf) = stored_proof(storage, None, root, hashed)?;
    let account = leaf
        .map(|leaf| TrieAccount::decode(&mut leaf.as_slice()))
        .transpose()
        .map_err(|e| malformed("account leaf", e))?;
    let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    let mut slots = Vec::with_capacity(keys.len());
    for key in keys {
        let slot = alloy_primitives::keccak256(key.as_b256());
        let (proof, value) = stored_proof(storage, Some(hashed), storage_root, slot)?;
        let value = value
            .map(|v| U256::decode(&mut v.as_slice()))
            .transpose()
            .map_err(|e| malformed("slot", e))?
            .unwrap_or_default();
        slots.push((proof, value));
    }
    Ok(AccountProof { proof, account, slots })
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

//! EIP-1186 Merkle proofs: from the stored trie, reading the nodes on the key's path
//! ([`stored_proof`], O(depth)); from a [`StateTrie`] moved to another state in memory (an
//! earlier block's, by applying its changes backwards: [`StateTrie::prove`]); or built with
//! alloy-trie's `HashBuilder` and `ProofRetainer` from a full listing of a state (the cost is
//! linear in the state size: the oracle the others are tested against).

use crate::{AccountLeaf, Mpt, NodeSource, StateTrie, TrieAccount, TrieError};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, proof::ProofRetainer};

/// The proof of `key` in the stored trie with root `root` (the account trie, or `account`'s
/// storage trie) and the value there: reads only the nodes on the key's path, each checked
/// against its parent's hash.
pub fn stored_proof(
    source: &dyn NodeSource,
    account: Option<B256>,
    root: B256,
    key: B256,
) -> Result<(Vec<Bytes>, Option<Vec<u8>>), TrieError> {
    if root == EMPTY_ROOT_HASH {
        return Ok((Vec::new(), None));
    }
    Mpt::from_root(root).prove_in(key, Some(source), account)
}

/// An account's EIP-1186 proof in a [`StateTrie`]'s state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account trie's nodes from the root to the account's leaf (or to where it would be).
    pub proof: Vec<Bytes>,
    /// The account, `None` if it does not exist.
    pub account: Option<TrieAccount>,
    /// Each asked slot's proof in the account's storage trie and its value (zero if unset).
    pub slots: Vec<(Vec<Bytes>, U256)>,
}

impl AccountProof {
    /// The account's storage root (the empty root when it does not exist).
    pub fn storage_root(&self) -> B256 {
        self.account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root)
    }
}

impl StateTrie {
    /// The proof of `address` and of its storage `slots` (unhashed keys) in the state this trie
    /// holds, which need not be the stored one: nodes not in memory are read from the source,
    /// each checked against its parent's hash. Loads what it passes through; changes no state.
    pub fn prove(&mut self, address: Address, slots: &[B256]) -> Result<AccountProof, TrieError> {
        if self.poisoned {
            return Err(TrieError::Poisoned);
        }
        let hashed = keccak256(address);
        let source = self.source.as_deref();
        let (proof, leaf) = self.accounts.prove_in(hashed, source, None)?;
        let decode_err = |what: String, e: alloy_rlp::Error| TrieError::Decode {
            account: Some(hashed),
            path: what,
            reason: e.to_string(),
        };
        let account = leaf
            .map(|l| TrieAccount::decode(&mut l.as_slice()))
            .transpose()
            .map_err(|e| decode_err(format!("leaf {hashed}"), e))?;
        let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        let mut out = Vec::with_capacity(slots.len());
        if storage_root == EMPTY_ROOT_HASH {
            out.resize(slots.len(), (Vec::new(), U256::ZERO));
            return Ok(AccountProof { proof, account, slots: out });
        }
        // The account's storage trie as this state has it: in memory if an update touched it
        // (then its root is the one in the leaf), else the stored one under the leaf's root.
        let mut stored;
        let trie = match self.storages.get_mut(&hashed) {
            Some(trie) => trie,
            None => {
                stored = Mpt::from_root(storage_root);
                &mut stored
            }
        };
        if trie.root() != storage_root {
            return Err(TrieError::CorruptNode {
                account: Some(hashed),
                path: String::new(),
                hash: storage_root,
            });
        }
        for slot in slots {
            let (proof, value) = trie.prove_in(keccak256(slot), source, Some(hashed))?;
            let value = value
                .map(|v| U256::decode(&mut v.as_slice()))
                .transpose()
                .map_err(|e| decode_err(format!("slot {slot}"), e))?
                .unwrap_or_default();
            out.push((proof, value));
        }
        Ok(AccountProof { proof, account, slots: out })
    }
}

/// Builds a trie over `leaves` (hashed key → RLP value, any order) and returns its root and the
/// proof (root first) of each of `targets` (hashed keys).
pub fn trie_proofs(mut leaves: Vec<(B256, Vec<u8>)>, targets: &[B256]) -> (B256, Vec<Vec<Bytes>>) {
    leaves.sort_unstable_by_key(|l| l.0);
    let retainer = ProofRetainer::new(targets.iter().map(|t| Nibbles::unpack(t)).collect());
    let mut hb = HashBuilder::default().with_proof_retainer(retainer);
    for (key, value) in &leaves {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    let nodes = hb.take_proof_nodes();
    let proofs = targets
        .iter()
        .map(|t| {
            nodes
                .matching_nodes_sorted(&Nibbles::unpack(t))
                .into_iter()
                .map(|(_, node)| node)
                .collect()
        })
        .collect();
    (root, proofs)
}

/// The storage root of `storage` (slot → value) and the proofs of `slots`.
pub fn storage_proofs(storage: &[(U256, U256)], slots: &[B256]) -> (B256, Vec<Vec<Bytes>>) {
    let leaves = storage
        .iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| (keccak256(B256::from(*k)), alloy_rlp::encode_fixed_size(v).to_vec()))
        .collect();
    let targets: Vec<B256> = slots.iter().map(keccak256).collect();
    trie_proofs(leaves, &targets)
}

/// The state root and the account proof of `address`, given every account with its storage
/// root.
pub fn account_proof(
    accounts: impl IntoIterator<Item = (Address, AccountLeaf, B256)>,
    address: Address,
) -> (B256, Vec<Bytes>) {
    let leaves = accounts
        .into_iter()
        .map(|(a, leaf, storage_root)| {
            let account = TrieAccount {
                nonce: leaf.nonce,
                balance: leaf.balance,
                storage_root,
                code_hash: leaf.code_hash,
            };
            (keccak256(a), alloy_rlp::encode(account))
        })
        .collect();
    let (root, mut proofs) = trie_proofs(leaves, &[keccak256(address)]);
    (root, proofs.pop().unwrap_or_default())
}

/// The storage root of an account's (non-zero) storage.
pub fn storage_root(storage: &[(U256, U256)]) -> B256 {
    if storage.iter().all(|(_, v)| v.is_zero()) {
        return EMPTY_ROOT_HASH;
    }
    storage_proofs(storage, &[]).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::proof::verify_proof;

    #[test]
    fn proofs_verify_against_the_root() {
        let storage: Vec<(U256, U256)> =
            (1..50u64).map(|i| (U256::from(i), U256::from(i * 7))).collect();
        let slots = [B256::from(U256::from(3)), B256::from(U256::from(1000))];
        let (root, proofs) = storage_proofs(&storage, &slots);
        let present = Nibbles::unpack(keccak256(slots[0]));
        let value = alloy_rlp::encode_fixed_size(&U256::from(21)).to_vec();
        verify_proof(root, present, Some(value), &proofs[0]).expect("inclusion");
        let absent = Nibbles::unpack(keccak256(slots[1]));
        verify_proof(root, absent, None, &proofs[1]).expect("exclusion");
        assert_eq!(root, storage_root(&storage));
    }
}

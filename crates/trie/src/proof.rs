//! EIP-1186 Merkle proofs: from the stored trie, reading the nodes on the key's path
//! ([`stored_proof`], O(depth)), or built with alloy-trie's `HashBuilder` and `ProofRetainer`
//! from a full listing of a state (the cost is linear in the state size; for states whose
//! trie is not stored).

use crate::{AccountLeaf, Mpt, NodeSource, TrieAccount, TrieError};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
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

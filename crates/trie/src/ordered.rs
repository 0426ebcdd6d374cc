//! The root of an ordered trie (a block's transactions or receipts, keyed by the RLP of each
//! item's index), with the leaves hashed in batches ([`crate::keccak::keccak256_many`]).
//!
//! `alloy_trie::root::ordered_trie_root_with_encoder` hashes each leaf as its `HashBuilder`
//! reaches it. Here each leaf's place in the trie comes first: sorted by key, a leaf sits one
//! nibble below the longest prefix it shares with either neighbour (RLP keys are prefix-free,
//! so no key ends inside another's path). With every leaf's encoding known, they are hashed
//! together, and the `HashBuilder` takes each leaf as a hashed node at its place
//! (`add_branch`), so only the branches above are hashed one at a time. The root is the same
//! (`matches_alloy_for_every_length`).

use crate::keccak::keccak256_many;
use alloy_primitives::B256;
use alloy_trie::{HashBuilder, Nibbles, nodes::LeafNodeRef, root::adjust_index_for_rlp};

/// Below this many items the leaves are hashed one at a time (alloy's builder).
const BATCH_MIN: usize = 16;

/// The root of the trie of `items`, each at the RLP of its index and encoded by `encode`:
/// the same as `alloy_trie::root::ordered_trie_root_with_encoder`.
pub fn ordered_trie_root_with_encoder<T>(
    items: &[T],
    mut encode: impl FnMut(&T, &mut Vec<u8>),
) -> B256 {
    let n = items.len();
    if n < BATCH_MIN {
        return alloy_trie::root::ordered_trie_root_with_encoder(items, encode);
    }
    // The keys in trie order (1..=127, 0, 128.. for more than 127 items).
    let keys: Vec<Nibbles> = (0..n)
        .map(|i| Nibbles::unpack(alloy_rlp::encode_fixed_size(&adjust_index_for_rlp(i, n))))
        .collect();
    // What each key shares with the next, then each leaf's depth: one below the longest
    // prefix it shares with a neighbour.
    let shared: Vec<usize> = keys.windows(2).map(|w| w[0].common_prefix_length(&w[1])).collect();
    let depths: Vec<usize> = (0..n)
        .map(|j| {
            let before = j.checked_sub(1).and_then(|i| shared.get(i)).copied().unwrap_or(0);
            let after = shared.get(j).copied().unwrap_or(0);
            before.max(after) + 1
        })
        .collect();
    // The leaves' encodings, one after another.
    let mut value = Vec::new();
    let mut leaves = Vec::new();
    let mut leaf_ends = Vec::with_capacity(n);
    for (j, key) in keys.iter().enumerate() {
        value.clear();
        encode(&items[adjust_index_for_rlp(j, n)], &mut value);
        if j == 0 {
            leaves.reserve(arena_estimate(n, value.len()));
        }
        let start = leaves.len();
        alloy_rlp::Encodable::encode(
            &LeafNodeRef::new(&key.slice(depths[j]..), &value),
            &mut leaves,
        );
        if leaves.len() - start < 32 {
            // A leaf this short is inlined in its parent, not hashed: alloy's builder handles
            // it (no transaction or receipt is this short).
            return alloy_trie::root::ordered_trie_root_with_encoder(items, encode);
        }
        leaf_ends.push(leaves.len());
    }
    let hashes = keccak256_many(&crate::keccak::unpack(&leaves, &leaf_ends));
    let mut builder = HashBuilder::default();
    for ((key, depth), hash) in keys.iter().zip(depths).zip(hashes) {
        builder.add_branch(key.slice(..depth), hash, false);
    }
    builder.root()
}

/// Most the leaves' buffer is sized for up front (it grows past it if it must).
const ARENA_RESERVE_MAX: usize = 16 << 20;

/// The leaves' buffer for `n` items, sized once from the first's `first` bytes: a block's
/// items are mostly of similar sizes. Never more than [`ARENA_RESERVE_MAX`]: the items may
/// come from a peer, and one large item first among many small ones must not ask for `n`
/// times its size.
fn arena_estimate(n: usize, first: usize) -> usize {
    n.saturating_mul(first.saturating_add(16)).min(ARENA_RESERVE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items of varied lengths, as transactions are.
    fn items(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![(i % 251) as u8; 40 + (i * 7919) % 300]).collect()
    }

    fn encode(item: &Vec<u8>, buf: &mut Vec<u8>) {
        alloy_rlp::Encodable::encode(item, buf);
    }

    #[test]
    fn matches_alloy_for_every_length() {
        // Each side of the batch threshold, of 128 (where index 0 moves and two-byte keys
        // start) and of 256 (three-byte keys), and a block's worth.
        let lengths = (0..300).chain([1000, 4097, 10_000, 65_535, 65_536, 70_000]);
        for n in lengths {
            let items = items(n);
            assert_eq!(
                ordered_trie_root_with_encoder(&items, encode),
                alloy_trie::root::ordered_trie_root_with_encoder(&items, encode),
                "{n} items"
            );
        }
    }

    #[test]
    fn a_large_first_item_among_many_small_ones_reserves_a_bounded_buffer() {
        // A peer's body: one 4 MB transaction first in key order (index 1) and 10,000 small
        // ones would have asked for ~40 GB.
        assert_eq!(arena_estimate(10_001, 4 << 20), ARENA_RESERVE_MAX);
        assert_eq!(arena_estimate(usize::MAX, usize::MAX), ARENA_RESERVE_MAX);
        assert_eq!(arena_estimate(10_000, 100), 10_000 * 116);
        let mut items = items(3000);
        items[1] = vec![9u8; 1 << 20];
        assert_eq!(
            ordered_trie_root_with_encoder(&items, encode),
            alloy_trie::root::ordered_trie_root_with_encoder(&items, encode),
        );
    }

    #[test]
    fn short_leaves_fall_back_to_one_at_a_time() {
        let items: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 3]).collect();
        assert_eq!(
            ordered_trie_root_with_encoder(&items, encode),
            alloy_trie::root::ordered_trie_root_with_encoder(&items, encode),
        );
    }
}

//! The trie against alloy-trie's `HashBuilder` under random inserts and removes.

use super::*;
use alloy_primitives::U256;
use alloy_trie::{HashBuilder, Nibbles};
use std::collections::BTreeMap;

fn oracle(map: &BTreeMap<B256, Vec<u8>>) -> B256 {
    let mut hb = HashBuilder::default();
    for (k, v) in map {
        hb.add_leaf(Nibbles::unpack(k), v);
    }
    hb.root()
}

fn value(n: u64) -> Vec<u8> {
    alloy_rlp::encode(U256::from(n))
}

#[test]
fn empty_root() {
    assert_eq!(Mpt::new().root(), EMPTY_ROOT_HASH);
}

#[test]
fn matches_hash_builder_under_random_inserts_and_removes() {
    let mut next = crate::tests::xorshift(0x9e37_79b9_7f4a_7c15_u64);
    let mut trie = Mpt::new();
    let mut map = BTreeMap::new();
    let mut keys = Vec::new();
    for round in 0..60 {
        for _ in 0..(next() % 40) {
            let key = if !keys.is_empty() && next().is_multiple_of(3) {
                keys[(next() as usize) % keys.len()]
            } else {
                // Keys sharing long prefixes exercise extension splits.
                let mut k = keccak256(next().to_be_bytes());
                if next().is_multiple_of(4) {
                    k.0[..6].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
                }
                keys.push(k);
                k
            };
            if next().is_multiple_of(4) {
                trie.remove(key);
                map.remove(&key);
            } else {
                let v = value(next() % 1000 + 1);
                trie.insert(key, v.clone());
                map.insert(key, v);
            }
        }
        assert_eq!(trie.root(), oracle(&map), "round {round}");
        assert_eq!(trie.len(), map.len());
    }
    for k in keys {
        trie.remove(k);
        map.remove(&k);
    }
    assert_eq!(trie.root(), EMPTY_ROOT_HASH);
    assert!(trie.is_empty());
}

#[test]
fn single_short_leaf_root_is_hashed() {
    let mut trie = Mpt::new();
    let mut map = BTreeMap::new();
    trie.insert(B256::with_last_byte(1), vec![1]);
    map.insert(B256::with_last_byte(1), vec![1]);
    assert_eq!(trie.root(), oracle(&map));
}

#[test]
fn get_returns_inserted_values() {
    let mut trie = Mpt::new();
    trie.insert(B256::with_last_byte(7), value(7));
    assert_eq!(trie.get(B256::with_last_byte(7)), Some(value(7)));
    assert_eq!(trie.get(B256::with_last_byte(8)), None);
}

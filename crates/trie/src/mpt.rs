//! An in-memory Merkle-Patricia trie over fixed-length (32-byte, hashed) keys, with cached node
//! references so that recomputing the root after a change only re-hashes the changed paths.
//!
//! Node encodings come from `alloy-trie` ([`LeafNodeRef`], [`ExtensionNodeRef`],
//! [`BranchNodeRef`]), so the hashes are exactly Ethereum's. Because every key has the same
//! length, no key is a prefix of another and branch nodes never carry values.

use alloy_primitives::{B256, keccak256};
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
};

/// One node of the trie. `cache` holds the node's reference (inline RLP or hash) once computed;
/// any change below a node clears the caches on the path to the root.
#[derive(Debug, Default, Clone)]
enum Node {
    #[default]
    Empty,
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
        cache: Option<RlpNode>,
    },
    Extension {
        key: Nibbles,
        child: Box<Node>,
        cache: Option<RlpNode>,
    },
    Branch {
        children: Box<[Node; 16]>,
        cache: Option<RlpNode>,
    },
}

impl Node {
    fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    fn leaf(key: Nibbles, value: Vec<u8>) -> Self {
        Self::Leaf { key, value, cache: None }
    }

    fn extension(key: Nibbles, child: Self) -> Self {
        if key.is_empty() {
            return child;
        }
        Self::Extension { key, child: Box::new(child), cache: None }
    }

    /// Prepends `prefix` to this node's path, as needed when a branch or extension above it
    /// collapses.
    fn with_prefix(self, prefix: &Nibbles) -> Self {
        match self {
            Self::Empty => Self::Empty,
            Self::Leaf { key, value, .. } => Self::leaf(prefix.join(&key), value),
            Self::Extension { key, child, .. } => {
                Self::Extension { key: prefix.join(&key), child, cache: None }
            }
            branch @ Self::Branch { .. } => Self::extension(*prefix, branch),
        }
    }

    fn insert(self, path: Nibbles, value: Vec<u8>) -> Self {
        match self {
            Self::Empty => Self::leaf(path, value),
            Self::Leaf { key, value: old, cache } => {
                if key == path {
                    if old == value {
                        return Self::Leaf { key, value: old, cache };
                    }
                    return Self::leaf(key, value);
                }
                let common = key.common_prefix_length(&path);
                let mut children: Box<[Node; 16]> = Box::default();
                children[key.get_unchecked(common) as usize] =
                    Self::leaf(key.slice(common + 1..), old);
                children[path.get_unchecked(common) as usize] =
                    Self::leaf(path.slice(common + 1..), value);
                Self::extension(key.slice(..common), Self::Branch { children, cache: None })
            }
            Self::Extension { key, child, .. } => {
                let common = key.common_prefix_length(&path);
                if common == key.len() {
                    let child = child.insert(path.slice(common..), value);
                    return Self::Extension { key, child: Box::new(child), cache: None };
                }
                let mut children: Box<[Node; 16]> = Box::default();
                children[key.get_unchecked(common) as usize] =
                    Self::extension(key.slice(common + 1..), *child);
                children[path.get_unchecked(common) as usize] =
                    Self::leaf(path.slice(common + 1..), value);
                Self::extension(key.slice(..common), Self::Branch { children, cache: None })
            }
            Self::Branch { mut children, .. } => {
                let idx = path.get_unchecked(0) as usize;
                let child = std::mem::take(&mut children[idx]);
                children[idx] = child.insert(path.slice(1..), value);
                Self::Branch { children, cache: None }
            }
        }
    }

    /// Removes `path`; returns the new node and whether anything changed.
    fn remove(self, path: &Nibbles) -> (Self, bool) {
        match self {
            Self::Empty => (Self::Empty, false),
            Self::Leaf { key, value, cache } => {
                if &key == path {
                    (Self::Empty, true)
                } else {
                    (Self::Leaf { key, value, cache }, false)
                }
            }
            Self::Extension { key, child, cache } => {
                if !path.starts_with(&key) {
                    return (Self::Extension { key, child, cache }, false);
                }
                let (child, changed) = child.remove(&path.slice(key.len()..));
                if !changed {
                    return (Self::Extension { key, child: Box::new(child), cache }, false);
                }
                (child.with_prefix(&key), true)
            }
            Self::Branch { mut children, cache } => {
                let idx = path.get_unchecked(0) as usize;
                let child = std::mem::take(&mut children[idx]);
                let (child, changed) = child.remove(&path.slice(1..));
                children[idx] = child;
                if !changed {
                    return (Self::Branch { children, cache }, false);
                }
                let mut present = children.iter().enumerate().filter(|(_, c)| !c.is_empty());
                let first = present.next().map(|(i, _)| i);
                let more = present.next().is_some();
                match (first, more) {
                    (None, _) => (Self::Empty, true),
                    (Some(only), false) => {
                        let child = std::mem::take(&mut children[only]);
                        let mut prefix = Nibbles::new();
                        prefix.push(only as u8);
                        (child.with_prefix(&prefix), true)
                    }
                    (Some(_), true) => (Self::Branch { children, cache: None }, true),
                }
            }
        }
    }

    fn get(&self, path: &Nibbles) -> Option<&[u8]> {
        match self {
            Self::Empty => None,
            Self::Leaf { key, value, .. } => (key == path).then_some(value.as_slice()),
            Self::Extension { key, child, .. } => {
                if path.starts_with(key) {
                    child.get(&path.slice(key.len()..))
                } else {
                    None
                }
            }
            Self::Branch { children, .. } => {
                if path.is_empty() {
                    return None;
                }
                children[path.get_unchecked(0) as usize].get(&path.slice(1..))
            }
        }
    }

    /// Encodes this node into `buf` (cleared first) and returns its reference, re-encoding
    /// only nodes whose cache was cleared.
    fn encode(&mut self, buf: &mut Vec<u8>) -> RlpNode {
        buf.clear();
        match self {
            Self::Empty => RlpNode::from_rlp(&[alloy_rlp::EMPTY_STRING_CODE]),
            Self::Leaf { key, value, cache } => {
                let node = LeafNodeRef::new(key, value).rlp(buf);
                *cache = Some(node.clone());
                node
            }
            Self::Extension { key, child, cache } => {
                let child_ref = child.reference(buf);
                buf.clear();
                let node = ExtensionNodeRef::new(key, &child_ref).rlp(buf);
                *cache = Some(node.clone());
                node
            }
            Self::Branch { children, cache } => {
                let mut stack = Vec::with_capacity(16);
                let mut mask = TrieMask::default();
                for (i, child) in children.iter_mut().enumerate() {
                    if !child.is_empty() {
                        stack.push(child.reference(buf));
                        mask.set_bit(i as u8);
                    }
                }
                buf.clear();
                let node = BranchNodeRef::new(&stack, mask).rlp(buf);
                *cache = Some(node.clone());
                node
            }
        }
    }

    /// This node's reference, from the cache when clean.
    fn reference(&mut self, buf: &mut Vec<u8>) -> RlpNode {
        match self {
            Self::Leaf { cache: Some(c), .. }
            | Self::Extension { cache: Some(c), .. }
            | Self::Branch { cache: Some(c), .. } => c.clone(),
            _ => self.encode(buf),
        }
    }

    fn count_leaves(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::Leaf { .. } => 1,
            Self::Extension { child, .. } => child.count_leaves(),
            Self::Branch { children, .. } => children.iter().map(Self::count_leaves).sum(),
        }
    }
}

/// A Merkle-Patricia trie keyed by 32-byte hashes, with incremental root computation.
#[derive(Debug, Default, Clone)]
pub struct Mpt {
    root: Node,
    root_hash: Option<B256>,
}

impl Mpt {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` (an RLP-encoded leaf value). An empty `value` removes the key.
    pub fn insert(&mut self, key: B256, value: Vec<u8>) {
        if value.is_empty() {
            self.remove(key);
            return;
        }
        let root = std::mem::take(&mut self.root);
        self.root = root.insert(Nibbles::unpack(key), value);
        self.root_hash = None;
    }

    /// Removes `key` if present.
    pub fn remove(&mut self, key: B256) {
        let root = std::mem::take(&mut self.root);
        let (root, changed) = root.remove(&Nibbles::unpack(key));
        self.root = root;
        if changed {
            self.root_hash = None;
        }
    }

    /// The value stored at `key`.
    pub fn get(&self, key: B256) -> Option<&[u8]> {
        self.root.get(&Nibbles::unpack(key))
    }

    /// Whether the trie holds no keys.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Number of keys (walks the trie; for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.root.count_leaves()
    }

    /// The root hash. Only nodes changed since the last call are re-encoded.
    pub fn root(&mut self) -> B256 {
        if let Some(hash) = self.root_hash {
            return hash;
        }
        let hash = if self.root.is_empty() {
            EMPTY_ROOT_HASH
        } else {
            let mut buf = Vec::with_capacity(600);
            let node = self.root.encode(&mut buf);
            // The root is always referenced by hash, even when its encoding is short.
            node.as_hash().unwrap_or_else(|| keccak256(&buf))
        };
        self.root_hash = Some(hash);
        hash
    }
}

#[cfg(test)]
mod tests {
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
        // A small deterministic generator keeps the test reproducible without extra crates.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut trie = Mpt::new();
        let mut map = BTreeMap::new();
        let mut keys = Vec::new();
        for round in 0..60 {
            for _ in 0..(next() % 40) {
                let key = if !keys.is_empty() && next() % 3 == 0 {
                    keys[(next() as usize) % keys.len()]
                } else {
                    // Keys sharing long prefixes exercise extension splits.
                    let mut k = keccak256(next().to_be_bytes());
                    if next() % 4 == 0 {
                        k.0[..6].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
                    }
                    keys.push(k);
                    k
                };
                if next() % 4 == 0 {
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
        assert_eq!(trie.get(B256::with_last_byte(7)), Some(value(7).as_slice()));
        assert_eq!(trie.get(B256::with_last_byte(8)), None);
    }
}

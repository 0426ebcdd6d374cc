//! Encoding and hashing: a node's reference from its cache or its encoding, and the dirty
//! nodes of a subtrie re-encoded from the bottom up with each round's encodings hashed
//! together.

use super::{Node, child_path};
use crate::keccak::keccak256_many;
use crate::pending::Pending;
use alloy_rlp::Encodable;
use alloy_trie::{
    Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
};

/// Re-encodes every dirty node of the subtrie `node` (at `at`) from the bottom up, a round at
/// a time: first the dirty nodes with no dirty child (height 0), then those whose dirty
/// children were all in earlier rounds, up to `node`. The encodings of a round are hashed
/// together ([`keccak256_many`]: four at a time with AVX2), which is where a block's state root
/// spends most of its time. Each node gets the cache and the record in `pending` that
/// [`Node::encode`] would give it, so encoding above `node` then finds it clean.
pub(super) fn hash_dirty(node: &mut Node, at: Nibbles, pending: &mut Pending) {
    let mut rounds: Vec<Vec<Nibbles>> = Vec::new();
    dirty_heights(node, at, &mut rounds);
    let mut encodings = Vec::new();
    let mut ends = Vec::new();
    for paths in rounds {
        encodings.clear();
        ends.clear();
        for path in &paths {
            // Every child of a node in this round is clean by now, so this always encodes.
            if descend(node, at.len(), path).encode_clean(&mut encodings).is_none() {
                return;
            }
            ends.push(encodings.len());
        }
        let slices = crate::keccak::unpack(&encodings, &ends);
        let long: Vec<&[u8]> = slices.iter().copied().filter(|e| e.len() >= 32).collect();
        let mut hashes = keccak256_many(&long).into_iter();
        for (path, encoding) in paths.into_iter().zip(slices) {
            let reference = if encoding.len() >= 32 {
                RlpNode::word_rlp(&hashes.next().unwrap_or_default())
            } else {
                RlpNode::from_rlp(encoding)
            };
            // Inline nodes live in their parent's encoding: nothing is stored at their path.
            pending.insert(path, reference.is_hash().then(|| encoding.to_vec()));
            descend(node, at.len(), &path).set_cache(reference);
        }
    }
}

/// Files each dirty node of `node`'s subtrie (at `at`) under its height in `rounds` (a node
/// with no dirty child is 0, else one more than its highest dirty child); returns `node`'s
/// height, `None` if it is clean.
///
/// A child's path is built only for a dirty child: most children of a dirty branch are clean
/// or stubs, and building a path costs more than looking at the child.
fn dirty_heights(node: &Node, at: Nibbles, rounds: &mut Vec<Vec<Nibbles>>) -> Option<usize> {
    if !node.is_dirty() {
        return None;
    }
    let height = match node {
        Node::Empty | Node::Stub(_) => return None,
        Node::Leaf(_) => 0,
        Node::Extension(e) => dirty_heights(&e.child, at.join(&e.key), rounds).map_or(0, |h| h + 1),
        Node::Branch(b) => b
            .children
            .iter()
            .enumerate()
            .filter(|(_, child)| child.is_dirty())
            .filter_map(|(i, child)| dirty_heights(child, child_path(&at, i), rounds))
            .max()
            .map_or(0, |h| h + 1),
    };
    if rounds.len() <= height {
        rounds.resize_with(height + 1, Vec::new);
    }
    rounds[height].push(at);
    Some(height)
}

/// The node at `path` below `node`, which is at the first `depth` nibbles of it; `node` itself
/// if the path ends early (never on a path [`dirty_heights`] gave, whose nodes are loaded).
fn descend<'a>(mut node: &'a mut Node, mut depth: usize, path: &Nibbles) -> &'a mut Node {
    while let Some(nibble) = path.get(depth) {
        match node {
            Node::Branch(b) => {
                node = &mut b.children[usize::from(nibble & 0x0f)];
                depth += 1;
            }
            Node::Extension(e) => {
                depth += e.key.len();
                node = &mut e.child;
            }
            Node::Empty | Node::Stub(_) | Node::Leaf(_) => break,
        }
    }
    node
}

impl Node {
    /// Encodes this node (at `at`) into `buf` (cleared first) and returns its reference,
    /// re-encoding only nodes whose cache was cleared and recording each in `pending`.
    pub(super) fn encode(
        &mut self,
        at: &Nibbles,
        buf: &mut Vec<u8>,
        pending: &mut Pending,
    ) -> RlpNode {
        buf.clear();
        let node = match self {
            Self::Empty => return RlpNode::from_rlp(&[alloy_rlp::EMPTY_STRING_CODE]),
            Self::Stub(r) => return r.clone(),
            Self::Leaf(l) => {
                let node = LeafNodeRef::new(&l.key, &l.value).rlp(buf);
                l.cache = Some(node.clone());
                node
            }
            Self::Extension(e) => {
                let child_ref = e.child.reference(&at.join(&e.key), buf, pending);
                buf.clear();
                let node = ExtensionNodeRef::new(&e.key, &child_ref).rlp(buf);
                e.cache = Some(node.clone());
                node
            }
            Self::Branch(b) => {
                let mut stack = Vec::with_capacity(16);
                let mut mask = TrieMask::default();
                for (i, child) in b.children.iter_mut().enumerate() {
                    if !child.is_empty() {
                        stack.push(child.reference(&child_path(at, i), buf, pending));
                        mask.set_bit(i as u8);
                    }
                }
                buf.clear();
                let node = BranchNodeRef::new(&stack, mask).rlp(buf);
                b.cache = Some(node.clone());
                node
            }
        };
        // Inline nodes live in their parent's encoding: nothing is stored at their path.
        pending.insert(*at, node.is_hash().then(|| buf.clone()));
        node
    }

    /// This node's reference, from the cache when clean.
    pub(super) fn reference(
        &mut self,
        at: &Nibbles,
        buf: &mut Vec<u8>,
        pending: &mut Pending,
    ) -> RlpNode {
        if let Self::Stub(r) = self {
            return r.clone();
        }
        match self.cache() {
            Some(c) => c.clone(),
            None => self.encode(at, buf, pending),
        }
    }

    /// This node's reference if it is known without encoding (a stub, or a clean node).
    pub(super) fn cached(&self) -> Option<RlpNode> {
        match self {
            Self::Empty => Some(RlpNode::from_rlp(&[alloy_rlp::EMPTY_STRING_CODE])),
            Self::Stub(r) => Some(r.clone()),
            _ => self.cache().cloned(),
        }
    }

    /// Appends this node's encoding to `buf` from its children's references, without changing
    /// anything: `None` (and `buf` as it was) if a child is dirty (the root is not up to date).
    pub(super) fn encode_clean(&self, buf: &mut Vec<u8>) -> Option<()> {
        match self {
            Self::Empty | Self::Stub(_) => return None,
            Self::Leaf(l) => {
                LeafNodeRef::new(&l.key, &l.value).encode(buf);
            }
            Self::Extension(e) => {
                let child = e.child.cached()?;
                ExtensionNodeRef::new(&e.key, &child).encode(buf);
            }
            Self::Branch(b) => {
                // On the stack, not the heap: every dirty branch of a block is encoded here.
                let mut stack: [RlpNode; 16] = Default::default();
                let mut children = 0;
                let mut mask = TrieMask::default();
                for (i, child) in b.children.iter().enumerate() {
                    if !child.is_empty() {
                        stack[children] = child.cached()?;
                        children += 1;
                        mask.set_bit(i as u8);
                    }
                }
                BranchNodeRef::new(&stack[..children], mask).encode(buf);
            }
        }
        Some(())
    }
}

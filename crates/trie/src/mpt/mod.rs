//! A Merkle-Patricia trie over fixed-length (32-byte, hashed) keys, with cached node references
//! so that recomputing the root after a change only re-hashes the changed paths.
//!
//! Nodes may live in a [`NodeSource`] (the database) rather than in memory: an unloaded node is
//! a [`Node::Stub`] holding its reference, read from the source at its path the first time a
//! change or a lookup passes through it and checked against that reference (the parent's
//! hash of it). Every node re-encoded since the last [`Mpt::take_pending`] is recorded at its
//! path ([`crate::pending`]), with the paths whose nodes went away, so the database follows
//! the trie by writing only what changed (path-keyed, like geth's path scheme: one node per
//! path, no reference counts, no garbage). Reading nodes from the source, one at a time or a
//! block's paths a level at a time, is in [`load`]; encoding and hashing nodes in [`hash`].
//!
//! Node encodings come from `alloy-trie` (`LeafNodeRef`, `ExtensionNodeRef`, `BranchNodeRef`),
//! so the hashes are exactly Ethereum's. Because every key has the same
//! length, no key is a prefix of another and branch nodes never carry values.

mod hash;
mod load;

pub(crate) use load::Guesses;

use crate::pending::Pending;
use crate::{NodeSource, TrieError};
use alloy_primitives::{B256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, nodes::RlpNode};
use hash::hash_dirty;
use load::{load, preload};

/// One node of the trie. `cache` holds the node's reference (inline RLP or hash) once computed;
/// any change below a node clears the caches on the path to the root. A node whose cache is
/// set is stored in the source (when it is hashed) exactly as it is.
///
/// Leaves, extensions and branches live behind a box, so a node is no larger than a stub (40
/// bytes): a branch's sixteen children, mostly stubs, take 640 bytes instead of the 1,664 they
/// took with the variants inline, which is most of what a large state's resident trie weighs.
#[derive(Debug, Default, Clone)]
enum Node {
    #[default]
    Empty,
    Leaf(Box<Leaf>),
    Extension(Box<Extension>),
    Branch(Box<Branch>),
    /// A node not in memory, by its reference: its hash (read from the source at its path) or,
    /// when its encoding is shorter than 32 bytes, the encoding itself.
    Stub(RlpNode),
}

// The resident trie's memory per node (the node limit's estimate rests on it).
const _: () = assert!(std::mem::size_of::<Node>() <= 40);

/// A leaf: the rest of its key and the value.
#[derive(Debug, Clone)]
struct Leaf {
    key: Nibbles,
    value: Vec<u8>,
    cache: Option<RlpNode>,
}

/// An extension: the shared part of the keys below it, and its one child.
#[derive(Debug, Clone)]
struct Extension {
    key: Nibbles,
    child: Node,
    cache: Option<RlpNode>,
}

/// A branch: a child per nibble ([`Node::Empty`] where none).
#[derive(Debug, Default, Clone)]
struct Branch {
    children: [Node; 16],
    cache: Option<RlpNode>,
}

/// What an operation on one trie reads from and records to.
struct Cx<'a> {
    source: Option<&'a dyn NodeSource>,
    /// `None` for the account trie, else the hashed address whose storage trie this is.
    account: Option<B256>,
    pending: &'a mut Pending,
    /// Nodes loaded or created (a measure of the memory the trie holds).
    resident: &'a mut usize,
}

impl Cx<'_> {
    /// The node at `at` changes or goes away: unless it is encoded again before the next
    /// take, its stored copy is deleted.
    fn changed(&mut self, at: Nibbles) {
        self.pending.insert(at, None);
    }

    fn created(&mut self, n: usize) {
        *self.resident = self.resident.saturating_add(n);
    }

    /// Reads and decodes the node at `at` whose reference is `r`.
    fn load(&mut self, r: &RlpNode, at: &Nibbles) -> Result<Node, TrieError> {
        self.created(1);
        load(self.source, self.account, r, at)
    }
}

/// Keys and their new values.
type Items = Vec<(B256, Vec<u8>)>;

/// Below this many inserts [`Mpt::insert_many_in`] goes one key at a time.
const PARALLEL_INSERTS_MIN: usize = 256;

/// `at` followed by one nibble.
fn child_path(at: &Nibbles, nibble: usize) -> Nibbles {
    let mut p = *at;
    p.push(nibble as u8);
    p
}

impl Node {
    fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    fn leaf(key: Nibbles, value: Vec<u8>) -> Self {
        Self::Leaf(Box::new(Leaf { key, value, cache: None }))
    }

    fn extension(key: Nibbles, child: Self) -> Self {
        if key.is_empty() {
            return child;
        }
        Self::Extension(Box::new(Extension { key, child, cache: None }))
    }

    /// A leaf, extension or branch whose reference is not computed (it or something below it
    /// changed).
    fn is_dirty(&self) -> bool {
        !matches!(self, Self::Empty | Self::Stub(_)) && self.cache().is_none()
    }

    /// A leaf's, extension's or branch's reference, once computed.
    fn cache(&self) -> Option<&RlpNode> {
        match self {
            Self::Leaf(l) => l.cache.as_ref(),
            Self::Extension(e) => e.cache.as_ref(),
            Self::Branch(b) => b.cache.as_ref(),
            Self::Empty | Self::Stub(_) => None,
        }
    }

    /// Sets a leaf's, extension's or branch's reference.
    fn set_cache(&mut self, reference: RlpNode) {
        match self {
            Self::Leaf(l) => l.cache = Some(reference),
            Self::Extension(e) => e.cache = Some(reference),
            Self::Branch(b) => b.cache = Some(reference),
            Self::Empty | Self::Stub(_) => {}
        }
    }

    /// Loads this node if it is a stub (it is at `at`).
    fn resolve(&mut self, at: &Nibbles, cx: &mut Cx<'_>) -> Result<(), TrieError> {
        if let Self::Stub(r) = self {
            *self = cx.load(r, at)?;
        }
        Ok(())
    }

    /// Prepends `prefix` to this node's path, as needed when a branch or extension above it
    /// collapses. The node is at `at` now and moves to `at` less `prefix`.
    fn with_prefix(
        mut self,
        at: &Nibbles,
        prefix: &Nibbles,
        cx: &mut Cx<'_>,
    ) -> Result<Self, TrieError> {
        self.resolve(at, cx)?;
        Ok(match self {
            Self::Empty | Self::Stub(_) => Self::Empty,
            Self::Leaf(mut l) => {
                cx.changed(*at);
                l.key = prefix.join(&l.key);
                l.cache = None;
                Self::Leaf(l)
            }
            Self::Extension(mut e) => {
                cx.changed(*at);
                e.key = prefix.join(&e.key);
                e.cache = None;
                Self::Extension(e)
            }
            // A branch stays where it is, under a new extension.
            branch @ Self::Branch(_) => {
                cx.created(1);
                Self::extension(*prefix, branch)
            }
        })
    }

    /// Sets `path` (below `at`, where this node is) to `value`.
    ///
    /// Records nothing in `pending`: whatever the insert does, a node is at `at` afterwards
    /// with its cache cleared (every node on the path is), so [`Node::encode`] records its
    /// new encoding there, or `None` when it became inline, before any take
    /// ([`Mpt::take_pending`] brings the root up to date first). A moved leaf is re-encoded at
    /// its new path the same way. Only removals leave paths that nothing is encoded at.
    fn insert(
        mut self,
        at: Nibbles,
        path: Nibbles,
        value: Vec<u8>,
        cx: &mut Cx<'_>,
    ) -> Result<Self, TrieError> {
        self.resolve(&at, cx)?;
        Ok(match self {
            Self::Empty | Self::Stub(_) => {
                cx.created(1);
                Self::leaf(path, value)
            }
            Self::Leaf(mut l) => {
                if l.key == path {
                    if l.value == value {
                        return Ok(Self::Leaf(l));
                    }
                    l.value = value;
                    l.cache = None;
                    return Ok(Self::Leaf(l));
                }
                cx.created(3);
                let common = l.key.common_prefix_length(&path);
                let prefix = l.key.slice(..common);
                let old_at = l.key.get_unchecked(common) as usize;
                l.key = l.key.slice(common + 1..);
                l.cache = None;
                let mut branch: Box<Branch> = Box::default();
                branch.children[old_at] = Self::Leaf(l);
                branch.children[path.get_unchecked(common) as usize] =
                    Self::leaf(path.slice(common + 1..), value);
                Self::extension(prefix, Self::Branch(branch))
            }
            Self::Extension(mut e) => {
                let common = e.key.common_prefix_length(&path);
                if common == e.key.len() {
                    let child = std::mem::take(&mut e.child);
                    e.child = child.insert(at.join(&e.key), path.slice(common..), value, cx)?;
                    e.cache = None;
                    return Ok(Self::Extension(e));
                }
                cx.created(3);
                let Extension { key, child, .. } = *e;
                let mut branch: Box<Branch> = Box::default();
                // The old extension's rest moves below the new branch; its child stays put.
                branch.children[key.get_unchecked(common) as usize] =
                    Self::extension(key.slice(common + 1..), child);
                branch.children[path.get_unchecked(common) as usize] =
                    Self::leaf(path.slice(common + 1..), value);
                Self::extension(key.slice(..common), Self::Branch(branch))
            }
            Self::Branch(mut b) => {
                let idx = path.get_unchecked(0) as usize;
                let child = std::mem::take(&mut b.children[idx]);
                b.children[idx] = child.insert(child_path(&at, idx), path.slice(1..), value, cx)?;
                b.cache = None;
                Self::Branch(b)
            }
        })
    }

    /// Removes `path` (below `at`, where this node is); returns the new node and whether
    /// anything changed.
    fn remove(
        mut self,
        at: Nibbles,
        path: &Nibbles,
        cx: &mut Cx<'_>,
    ) -> Result<(Self, bool), TrieError> {
        self.resolve(&at, cx)?;
        Ok(match self {
            Self::Empty | Self::Stub(_) => (Self::Empty, false),
            Self::Leaf(l) => {
                if &l.key == path {
                    cx.changed(at);
                    (Self::Empty, true)
                } else {
                    (Self::Leaf(l), false)
                }
            }
            Self::Extension(mut e) => {
                if !path.starts_with(&e.key) {
                    return Ok((Self::Extension(e), false));
                }
                let child_at = at.join(&e.key);
                let child = std::mem::take(&mut e.child);
                let (child, changed) = child.remove(child_at, &path.slice(e.key.len()..), cx)?;
                if !changed {
                    e.child = child;
                    return Ok((Self::Extension(e), false));
                }
                cx.changed(at);
                (child.with_prefix(&child_at, &e.key, cx)?, true)
            }
            Self::Branch(mut b) => {
                let idx = path.get_unchecked(0) as usize;
                let child = std::mem::take(&mut b.children[idx]);
                let (child, changed) = child.remove(child_path(&at, idx), &path.slice(1..), cx)?;
                b.children[idx] = child;
                if !changed {
                    return Ok((Self::Branch(b), false));
                }
                cx.changed(at);
                let mut present = b.children.iter().enumerate().filter(|(_, c)| !c.is_empty());
                let first = present.next().map(|(i, _)| i);
                let more = present.next().is_some();
                match (first, more) {
                    (None, _) => (Self::Empty, true),
                    (Some(only), false) => {
                        let child = std::mem::take(&mut b.children[only]);
                        let mut prefix = Nibbles::new();
                        prefix.push(only as u8);
                        (child.with_prefix(&child_path(&at, only), &prefix, cx)?, true)
                    }
                    (Some(_), true) => {
                        b.cache = None;
                        (Self::Branch(b), true)
                    }
                }
            }
        })
    }

    /// Replaces clean subtrees at `depth` nodes below this one by stubs; returns the nodes
    /// left in memory.
    fn unload(&mut self, depth: usize) -> usize {
        if depth == 0
            && let Some(c) = self.cache()
        {
            *self = Self::Stub(c.clone());
            return 0;
        }
        match self {
            Self::Empty | Self::Stub(_) => 0,
            Self::Leaf(_) => 1,
            Self::Extension(e) => 1 + e.child.unload(depth.saturating_sub(1)),
            Self::Branch(b) => {
                1 + b.children.iter_mut().map(|c| c.unload(depth.saturating_sub(1))).sum::<usize>()
            }
        }
    }

    /// The value at `path` below `at`, loading what it passes through; with `proof`, also the
    /// nodes on the way that are referenced by hash (as EIP-1186 lists them: inline nodes are
    /// inside their parent), the root always.
    fn prove(
        &mut self,
        at: Nibbles,
        path: &Nibbles,
        cx: &mut Cx<'_>,
        mut proof: Option<&mut Vec<alloy_primitives::Bytes>>,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        let hashed = self.cached().is_some_and(|r| r.is_hash());
        self.resolve(&at, cx)?;
        if let Some(proof) = proof.as_deref_mut()
            && (hashed || at.is_empty())
            && !self.is_empty()
        {
            let mut buf = Vec::new();
            self.encode_clean(&mut buf).ok_or(TrieError::Poisoned)?;
            proof.push(buf.into());
        }
        match self {
            Self::Empty | Self::Stub(_) => Ok(None),
            Self::Leaf(l) => Ok((&l.key == path).then(|| l.value.clone())),
            Self::Extension(e) => {
                if path.starts_with(&e.key) {
                    let rest = path.slice(e.key.len()..);
                    e.child.prove(at.join(&e.key), &rest, cx, proof)
                } else {
                    Ok(None)
                }
            }
            Self::Branch(b) => {
                let Some(idx) = path.first() else { return Ok(None) };
                b.children[idx as usize].prove(
                    child_path(&at, idx as usize),
                    &path.slice(1..),
                    cx,
                    proof,
                )
            }
        }
    }

    /// The value at `path` below this node if every node on the way is in memory: `None` at
    /// the first stub (the caller reads through the source instead), `Some(None)` when the
    /// key is absent. Reads nothing, changes nothing.
    fn loaded_value(&self, path: &Nibbles) -> Option<Option<&[u8]>> {
        let mut node = self;
        let mut rest = *path;
        loop {
            match node {
                Self::Stub(_) => return None,
                Self::Empty => return Some(None),
                Self::Leaf(l) => return Some((l.key == rest).then_some(l.value.as_slice())),
                Self::Extension(e) => {
                    if !rest.starts_with(&e.key) {
                        return Some(None);
                    }
                    rest = rest.slice(e.key.len()..);
                    node = &e.child;
                }
                Self::Branch(b) => {
                    let Some(idx) = rest.first() else { return Some(None) };
                    rest = rest.slice(1..);
                    node = &b.children[idx as usize];
                }
            }
        }
    }

    /// Bytes this node's subtree holds on the heap (boxes and values, not the node itself).
    fn heap_bytes(&self) -> usize {
        match self {
            Self::Empty | Self::Stub(_) => 0,
            Self::Leaf(l) => std::mem::size_of::<Leaf>() + l.value.capacity(),
            Self::Extension(e) => std::mem::size_of::<Extension>() + e.child.heap_bytes(),
            Self::Branch(b) => {
                std::mem::size_of::<Branch>()
                    + b.children.iter().map(Self::heap_bytes).sum::<usize>()
            }
        }
    }

    fn count_leaves(&self) -> usize {
        match self {
            Self::Empty | Self::Stub(_) => 0,
            Self::Leaf(_) => 1,
            Self::Extension(e) => e.child.count_leaves(),
            Self::Branch(b) => b.children.iter().map(Self::count_leaves).sum(),
        }
    }
}

/// A Merkle-Patricia trie keyed by 32-byte hashes, with incremental root computation; its
/// nodes in memory or, once stored and unloaded, in a [`NodeSource`].
#[derive(Debug, Default, Clone)]
pub struct Mpt {
    root: Node,
    root_hash: Option<B256>,
    pending: Pending,
    /// Nodes loaded or created since the last unload.
    resident: usize,
    /// An operation failed half-way (the source could not give a node): the trie is no
    /// longer whole and refuses further work.
    poisoned: bool,
}

impl Mpt {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored trie with root `root`, nothing loaded yet.
    pub fn from_root(root: B256) -> Self {
        if root == EMPTY_ROOT_HASH {
            return Self::new();
        }
        Self { root: Node::Stub(RlpNode::word_rlp(&root)), root_hash: Some(root), ..Self::new() }
    }

    fn cx<'a>(&'a mut self, source: Option<&'a dyn NodeSource>, account: Option<B256>) -> Cx<'a> {
        Cx { source, account, pending: &mut self.pending, resident: &mut self.resident }
    }

    fn check(&self) -> Result<(), TrieError> {
        if self.poisoned { Err(TrieError::Poisoned) } else { Ok(()) }
    }

    /// Sets `key` to `value` (an RLP-encoded leaf value). An empty `value` removes the key.
    /// `source` gives the nodes not in memory (`account`: whose storage trie this is).
    pub(crate) fn insert_in(
        &mut self,
        key: B256,
        value: Vec<u8>,
        source: Option<&dyn NodeSource>,
        account: Option<B256>,
    ) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove_in(key, source, account);
        }
        self.check()?;
        let root = std::mem::take(&mut self.root);
        self.root_hash = None;
        let inserted =
            root.insert(Nibbles::new(), Nibbles::unpack(key), value, &mut self.cx(source, account));
        self.root = self.poison_on_err(inserted)?;
        Ok(())
    }

    /// `r`'s node, or its error after marking the trie incomplete (the operation that failed
    /// had taken nodes out of it).
    fn poison_on_err<T>(&mut self, r: Result<T, TrieError>) -> Result<T, TrieError> {
        self.poisoned |= r.is_err();
        r
    }

    /// Removes `key` if present.
    pub(crate) fn remove_in(
        &mut self,
        key: B256,
        source: Option<&dyn NodeSource>,
        account: Option<B256>,
    ) -> Result<(), TrieError> {
        self.check()?;
        let root = std::mem::take(&mut self.root);
        let removed =
            root.remove(Nibbles::new(), &Nibbles::unpack(key), &mut self.cx(source, account));
        let (root, changed) = self.poison_on_err(removed)?;
        self.root = root;
        if changed {
            self.root_hash = None;
        }
        Ok(())
    }

    /// The value stored at `key`.
    pub(crate) fn get_in(
        &mut self,
        key: B256,
        source: Option<&dyn NodeSource>,
        account: Option<B256>,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.check()?;
        let mut root = std::mem::take(&mut self.root);
        let found =
            root.prove(Nibbles::new(), &Nibbles::unpack(key), &mut self.cx(source, account), None);
        self.root = root;
        found
    }

    /// The value stored at `key` when its path is in memory (see [`Node::loaded_value`]):
    /// `None` when a node on the way is not loaded.
    pub(crate) fn loaded_value(&self, key: &B256) -> Option<Option<&[u8]>> {
        if self.poisoned {
            return None;
        }
        self.root.loaded_value(&Nibbles::unpack(key))
    }

    /// The proof of `key` (the hashed nodes from the root to it) and its value. The root must
    /// be up to date.
    pub(crate) fn prove_in(
        &mut self,
        key: B256,
        source: Option<&dyn NodeSource>,
        account: Option<B256>,
    ) -> Result<(Vec<alloy_primitives::Bytes>, Option<Vec<u8>>), TrieError> {
        self.check()?;
        self.root();
        let mut proof = Vec::new();
        let mut root = std::mem::take(&mut self.root);
        let found = root.prove(
            Nibbles::new(),
            &Nibbles::unpack(key),
            &mut self.cx(source, account),
            Some(&mut proof),
        );
        self.root = root;
        Ok((proof, found?))
    }

    /// Loads the stored nodes on the paths to `keys` (in parallel near the root), so that the
    /// changes that follow find them in memory.
    pub(crate) fn preload(
        &mut self,
        keys: &[B256],
        source: Option<&dyn NodeSource>,
        account: Option<B256>,
        guesses: &mut Guesses<'_>,
    ) -> Result<(), TrieError> {
        self.check()?;
        if keys.len() < 2 {
            return Ok(());
        }
        let mut paths: Vec<Nibbles> = keys.iter().map(Nibbles::unpack).collect();
        paths.sort_unstable();
        paths.dedup();
        let Some(source) = source else { return Ok(()) };
        let loaded = preload(&mut self.root, &paths, source, account, guesses)?;
        self.resident = self.resident.saturating_add(loaded);
        Ok(())
    }

    /// Sets each key of `items` (distinct keys, non-empty RLP values) to its value, like
    /// [`Mpt::insert_in`] one after another, but with the subtries below the root's branch
    /// updated and re-hashed in parallel: a 10k-account block's account trie costs about half
    /// on two cores. Small batches, or a root that is not a branch, go one at a time.
    pub(crate) fn insert_many_in(
        &mut self,
        mut items: Vec<(B256, Vec<u8>)>,
        source: Option<&dyn NodeSource>,
        account: Option<B256>,
    ) -> Result<(), TrieError> {
        use rayon::prelude::*;
        self.check()?;
        if items.len() < PARALLEL_INSERTS_MIN || items.iter().any(|(_, v)| v.is_empty()) {
            for (key, value) in items {
                self.insert_in(key, value, source, account)?;
            }
            return Ok(());
        }
        let mut root = std::mem::take(&mut self.root);
        let resolved = root.resolve(&Nibbles::new(), &mut self.cx(source, account));
        self.root = root;
        self.poison_on_err(resolved)?;
        if !matches!(self.root, Node::Branch(_)) {
            for (key, value) in items {
                self.insert_in(key, value, source, account)?;
            }
            return Ok(());
        }
        let Node::Branch(branch) = &mut self.root else { return Ok(()) };
        branch.cache = None;
        self.root_hash = None;
        self.pending.insert(Nibbles::new(), None);
        items.sort_unstable_by_key(|a| a.0);
        // The items below each child of the root, by the key's first nibble.
        let mut groups: Vec<(usize, Node, Items)> = Vec::new();
        let mut rest = items.into_iter().peekable();
        for (i, child) in branch.children.iter_mut().enumerate() {
            let mut group = Vec::new();
            while let Some((key, value)) = rest.next_if(|(k, _)| usize::from(k[0] >> 4) == i) {
                group.push((key, value));
            }
            if !group.is_empty() {
                groups.push((i, std::mem::take(child), group));
            }
        }
        let results: Vec<(usize, Result<Node, TrieError>, Pending, usize)> = groups
            .into_par_iter()
            .map(|(i, mut child, group)| {
                // A leaf a key, and the branches above them: sized once.
                let mut pending = Pending::with_capacity(2 * group.len());
                let mut resident = 0;
                let at = child_path(&Nibbles::new(), i);
                let mut cx = Cx { source, account, pending: &mut pending, resident: &mut resident };
                let mut done = Ok(());
                for (key, value) in group {
                    let path = Nibbles::unpack(key).slice(1..);
                    match std::mem::take(&mut child).insert(at, path, value, &mut cx) {
                        Ok(node) => child = node,
                        Err(e) => {
                            done = Err(e);
                            break;
                        }
                    }
                }
                // Re-hashed here too, in parallel: the root's encoding then finds the cache.
                let node = done.map(|()| {
                    hash_dirty(&mut child, at, &mut pending);
                    child
                });
                (i, node, pending, resident)
            })
            .collect();
        let mut failed = None;
        // Grown once, not copied again as each group's records come in.
        self.pending.reserve(results.iter().map(|r| r.2.len()).sum());
        for (i, node, mut pending, resident) in results {
            self.resident = self.resident.saturating_add(resident);
            self.pending.append(&mut pending);
            match node {
                Ok(node) => branch.children[i] = node,
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) => self.poison_on_err(Err(e)),
            None => Ok(()),
        }
    }

    /// Sets `key` to `value` in a trie held wholly in memory.
    pub fn insert(&mut self, key: B256, value: Vec<u8>) {
        // Without a source no node is ever missing.
        let _ = self.insert_in(key, value, None, None);
    }

    /// Removes `key` from a trie held wholly in memory.
    pub fn remove(&mut self, key: B256) {
        let _ = self.remove_in(key, None, None);
    }

    /// The value stored at `key` of a trie held wholly in memory.
    pub fn get(&mut self, key: B256) -> Option<Vec<u8>> {
        self.get_in(key, None, None).ok().flatten()
    }

    /// Whether the trie holds no keys.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Number of keys in memory (walks the trie; for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.root.count_leaves()
    }

    /// Whether changes wait to be taken.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.root_hash.is_none()
    }

    /// Bytes the nodes in memory hold (walks the trie; for measurements and diagnostics).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Node>() + self.root.heap_bytes()
    }

    /// Nodes loaded or created since the last [`Mpt::unload`].
    pub fn resident(&self) -> usize {
        self.resident
    }

    /// The root hash. Only nodes changed since the last call are re-encoded.
    pub fn root(&mut self) -> B256 {
        if let Some(hash) = self.root_hash {
            return hash;
        }
        let hash = if self.root.is_empty() {
            self.pending.insert(Nibbles::new(), None);
            EMPTY_ROOT_HASH
        } else {
            hash_dirty(&mut self.root, Nibbles::new(), &mut self.pending);
            match self.root.cache().and_then(RlpNode::as_hash) {
                Some(hash) => hash,
                None => {
                    // The root is always referenced by hash, and stored, even when its
                    // encoding is short.
                    let mut buf = Vec::with_capacity(600);
                    let node = self.root.encode(&Nibbles::new(), &mut buf, &mut self.pending);
                    if !node.is_hash() {
                        self.pending.insert(Nibbles::new(), Some(buf.clone()));
                    }
                    node.as_hash().unwrap_or_else(|| keccak256(&buf))
                }
            }
        };
        self.root_hash = Some(hash);
        hash
    }

    /// Takes what changed since the last take (after bringing the root up to date): each
    /// path's new encoding, `None` where the stored node goes.
    pub fn take_pending(&mut self) -> Vec<(Nibbles, Option<Vec<u8>>)> {
        self.root();
        self.pending.take_sorted()
    }

    /// Puts back changes taken but not stored (a failed write); changes since win.
    pub fn restore_pending(&mut self, changes: Vec<(Nibbles, Option<Vec<u8>>)>) {
        self.pending.restore(changes);
    }

    /// Keeps in memory only the nodes less than `depth` below the root, once everything is
    /// stored (nothing pending): the rest is read again from the source when needed.
    pub fn unload(&mut self, depth: usize) {
        if !self.pending.is_empty() || self.poisoned {
            return;
        }
        self.root();
        self.resident = if depth == 0 {
            match self.root_hash {
                Some(h) if !self.root.is_empty() => {
                    self.root = Node::Stub(RlpNode::word_rlp(&h));
                    0
                }
                _ => 0,
            }
        } else {
            self.root.unload(depth)
        };
    }
}

#[cfg(test)]
mod tests;

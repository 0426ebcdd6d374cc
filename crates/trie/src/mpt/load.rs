//! Reading nodes from the [`NodeSource`]: one node as a change or a lookup passes a stub, or
//! every stub on the paths to a block's keys a level at a time ([`preload`]), each checked
//! against the hash its parent holds, and leaves rebuilt from values the caller already has
//! ([`Guesses`]) instead of read.

use super::{Branch, Extension, Leaf, Node, child_path};
use crate::keccak::keccak256_many;
use crate::{NodeSource, TrieError};
use alloy_primitives::{B256, keccak256, map::HashMap};
use alloy_rlp::Decodable;
use alloy_trie::{
    Nibbles,
    nodes::{LeafNodeRef, RlpNode, TrieNode},
};

/// Reads (when hashed) and decodes the node at `at` of the trie of `account` whose reference
/// is `r`, checking it against the hash.
pub(super) fn load(
    source: Option<&dyn NodeSource>,
    account: Option<B256>,
    r: &RlpNode,
    at: &Nibbles,
) -> Result<Node, TrieError> {
    let stored = match r.as_hash() {
        Some(_) => source.ok_or(TrieError::NoSource)?.node(account.as_ref(), at)?,
        None => None,
    };
    verified(account, r, at, stored.as_deref(), None)
}

/// Decodes the node at `at` whose reference is `r`: `stored` (what the source holds there)
/// for a hashed reference, which it must hash to; the reference itself for an inline one.
/// `stored_hash` is `stored`'s hash when the caller has it already (hashed with others).
fn verified(
    account: Option<B256>,
    r: &RlpNode,
    at: &Nibbles,
    stored: Option<&[u8]>,
    stored_hash: Option<B256>,
) -> Result<Node, TrieError> {
    let data: &[u8] = match r.as_hash() {
        Some(hash) => {
            let stored = stored.ok_or_else(|| TrieError::MissingNode {
                account,
                path: hex_path(at),
                hash,
            })?;
            if stored_hash.unwrap_or_else(|| keccak256(stored)) != hash {
                return Err(TrieError::CorruptNode { account, path: hex_path(at), hash });
            }
            stored
        }
        None => r.as_slice(),
    };
    // Only the root is stored while its encoding is shorter than a hash: as a root it is
    // referenced by hash, as a child it would be inline, so it keeps no reference.
    let cache = (r.is_hash() == (data.len() >= 32)).then(|| r.clone());
    decode(data, cache).map_err(|e| TrieError::Decode { account, path: hex_path(at), reason: e })
}

/// Stubs on the paths to some keys: each with its path, the keys below it and whether it may
/// be a leaf worth rebuilding instead of reading (see [`stubs`]).
type Frontier<'a, 'k> = Vec<(&'a mut Node, Nibbles, &'k [Nibbles], bool)>;

/// Walks from `node` (at `at`) along `keys` (sorted, all starting with `at`) and collects the
/// stubs where the walk stops.
///
/// `may_be_leaf` is false for `node` when it is a child of an extension (always a branch) or
/// of a full branch. Hashed keys spread evenly, so a branch with all 16 children almost
/// always has several keys below each child: with 4 on average a child is a single leaf less
/// than one time in ten, and the chance falls fast with more. A [`Guesses`] rebuild there
/// would almost always fail, after waiting for the value to try it; such a stub is read.
fn stubs<'a, 'k>(
    node: &'a mut Node,
    at: Nibbles,
    keys: &'k [Nibbles],
    may_be_leaf: bool,
    out: &mut Frontier<'a, 'k>,
) {
    if keys.is_empty() {
        return;
    }
    if matches!(node, Node::Stub(_)) {
        out.push((node, at, keys, may_be_leaf));
        return;
    }
    match node {
        Node::Extension(e) => {
            let below = at.join(&e.key);
            // (Never past a key's end, whatever a stored extension says.)
            let prefix = |k: &Nibbles| k.slice(..below.len().min(k.len()));
            let first = keys.partition_point(|k| prefix(k) < below);
            let end = keys.partition_point(|k| prefix(k) <= below);
            stubs(&mut e.child, below, &keys[first..end], false, out);
        }
        Node::Branch(b) => {
            let depth = at.len();
            let full = b.children.iter().all(|c| !c.is_empty());
            let mut rest = keys;
            for (i, child) in b.children.iter_mut().enumerate() {
                let n = rest
                    .partition_point(|k| k.len() > depth && (k.get_unchecked(depth) as usize) <= i);
                let (group, after) = rest.split_at(n);
                rest = after;
                stubs(child, child_path(&at, i), group, !full, out);
            }
        }
        _ => {}
    }
}

/// How [`Guesses`] asks for its values.
type Ask<'a> = Box<dyn FnOnce() -> HashMap<Nibbles, Vec<u8>> + 'a>;

/// Leaf values a preload may rebuild a leaf from instead of reading it: by key, the value the
/// leaf holds if it is that key's own (for accounts, their fields before the block). Asked
/// for once, when nothing but stubs that could be such leaves is left to load: on a trie held
/// in memory that never happens, the caller never waits for values nobody needs, and the
/// branches above the leaves are read while it gathers them.
pub(crate) struct Guesses<'a> {
    ask: Option<Ask<'a>>,
    values: HashMap<Nibbles, Vec<u8>>,
}

impl<'a> Guesses<'a> {
    /// No values: every stub is read.
    pub(crate) fn none() -> Self {
        Self { ask: None, values: HashMap::default() }
    }

    /// Values given by `ask` when first needed.
    pub(crate) fn later(ask: impl FnOnce() -> HashMap<Nibbles, Vec<u8>> + 'a) -> Self {
        Self { ask: Some(Box::new(ask)), values: HashMap::default() }
    }

    /// Whether the values are still to be asked for.
    fn unasked(&self) -> bool {
        self.ask.is_some()
    }

    /// Whether `stub` (a frontier entry) is one a value could rebuild: a hashed stub that
    /// may be a leaf, with exactly one key below it.
    fn could_rebuild(stub: &(&mut Node, Nibbles, &[Nibbles], bool)) -> bool {
        let (node, _, keys, may_be_leaf) = stub;
        *may_be_leaf && keys.len() == 1 && matches!(&**node, Node::Stub(r) if r.is_hash())
    }

    fn get(&mut self, key: &Nibbles) -> Option<&Vec<u8>> {
        if let Some(ask) = self.ask.take() {
            self.values = ask();
        }
        self.values.get(key)
    }

    /// Replaces each hashed stub of `frontier` with exactly one key below it by that key's
    /// leaf, when the leaf built from the key's value hashes to the stub's reference: the
    /// node the source would give, without the read (a hash match proves it). Anything else
    /// (a branch or extension still above the key's leaf, another account's leaf, a value
    /// that changed) stays a stub and is read.
    fn rebuild(&mut self, frontier: &mut Frontier<'_, '_>, buf: &mut Vec<u8>) {
        if self.ask.is_none() && self.values.is_empty() {
            return;
        }
        for stub in frontier.iter_mut() {
            if !Self::could_rebuild(stub) {
                continue;
            }
            let (node, at, [key], _) = stub else { continue };
            let Node::Stub(r) = &**node else { continue };
            let Some(value) = self.get(key) else { continue };
            let rest = key.slice(at.len()..);
            buf.clear();
            if LeafNodeRef::new(&rest, value).rlp(buf) == *r {
                let leaf = Leaf { key: rest, value: value.clone(), cache: Some(r.clone()) };
                **node = Node::Leaf(Box::new(leaf));
            }
        }
    }
}

/// Loads every stub on the paths from `root` to `keys` (sorted), a level at a time: one
/// batched read of the level's stored nodes, checked and decoded in parallel; a stub that
/// `guesses` shows to be a key's own leaf is rebuilt instead of read. Until the values are
/// asked for, such stubs wait aside while everything else is read (asking may block until
/// the caller has them). Returns the nodes loaded or rebuilt. Only loads: what the trie
/// means does not change.
pub(super) fn preload(
    root: &mut Node,
    keys: &[Nibbles],
    source: &dyn NodeSource,
    account: Option<B256>,
    guesses: &mut Guesses<'_>,
) -> Result<usize, TrieError> {
    use rayon::prelude::*;
    let mut frontier = Frontier::new();
    stubs(root, Nibbles::new(), keys, true, &mut frontier);
    let mut loaded = 0;
    let mut buf = Vec::new();
    let mut waiting = Frontier::new();
    loop {
        if frontier.is_empty() {
            if waiting.is_empty() {
                break;
            }
            // Only stubs a value could rebuild are left: now the values are asked for.
            frontier = std::mem::take(&mut waiting);
            guesses.rebuild(&mut frontier, &mut buf);
        } else if guesses.unasked() {
            let (later, now) = frontier.into_iter().partition(Guesses::could_rebuild);
            waiting.extend::<Frontier<'_, '_>>(later);
            frontier = now;
            if frontier.is_empty() {
                continue;
            }
        } else {
            guesses.rebuild(&mut frontier, &mut buf);
        }
        let hashed: Vec<Nibbles> = frontier
            .iter()
            .filter(|(n, ..)| matches!(n, Node::Stub(r) if r.is_hash()))
            .map(|(_, at, ..)| *at)
            .collect();
        let mut read = read_nodes(source, account.as_ref(), &hashed)?.into_iter();
        let mut level: Vec<_> = frontier
            .into_iter()
            .map(|(node, at, keys, may_be_leaf)| {
                let stored = match node {
                    Node::Stub(r) if r.is_hash() => read.next().flatten(),
                    _ => None,
                };
                (node, at, keys, may_be_leaf, stored)
            })
            .collect();
        // Checked against their hashes in parallel batches, each batch's reads hashed together.
        let chunk = level.len().div_ceil(rayon::current_num_threads()).max(1);
        level.par_chunks_mut(chunk).try_for_each(|batch| {
            let reads: Vec<&[u8]> = batch.iter().filter_map(|l| l.4.as_deref()).collect();
            let mut hashes = keccak256_many(&reads).into_iter();
            for (node, at, _, _, stored) in batch.iter_mut() {
                let stored_hash = stored.as_ref().and_then(|_| hashes.next());
                if let Node::Stub(r) = &**node {
                    **node = verified(account, r, at, stored.as_deref(), stored_hash)?;
                }
            }
            Ok::<_, TrieError>(())
        })?;
        loaded += level.len();
        let mut next = Frontier::new();
        for (node, at, keys, may_be_leaf, _) in level {
            stubs(node, at, keys, may_be_leaf, &mut next);
        }
        frontier = next;
    }
    Ok(loaded)
}

/// Below this many nodes a level is read in one batch; above, in one batch per thread.
const PARALLEL_READS_MIN: usize = 256;

/// The stored nodes at `paths` (in order): a large level is read in parallel batches, since
/// each read is mostly CPU (a table's index and block search, the block cache, the copy out
/// of the page cache) and the loader is what the block waits on once execution is done.
fn read_nodes(
    source: &dyn NodeSource,
    account: Option<&B256>,
    paths: &[Nibbles],
) -> Result<Vec<Option<Vec<u8>>>, TrieError> {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads();
    if paths.len() < PARALLEL_READS_MIN || threads < 2 {
        return source.nodes(account, paths);
    }
    let batches: Vec<Vec<Option<Vec<u8>>>> = paths
        .par_chunks(paths.len().div_ceil(threads))
        .map(|batch| source.nodes(account, batch))
        .collect::<Result<_, _>>()?;
    Ok(batches.into_iter().flatten().collect())
}

/// `at` as hex nibbles, for errors.
fn hex_path(at: &Nibbles) -> String {
    at.iter().map(|n| char::from_digit(u32::from(n), 16).unwrap_or('?')).collect()
}

/// Decodes one stored node (canonical RLP, nothing after it); its children become stubs.
fn decode(mut data: &[u8], cache: Option<RlpNode>) -> Result<Node, String> {
    let node = TrieNode::decode(&mut data).map_err(|e| e.to_string())?;
    if !data.is_empty() {
        return Err(format!("{} bytes after the node", data.len()));
    }
    Ok(match node {
        TrieNode::EmptyRoot => Node::Empty,
        TrieNode::Leaf(l) => Node::Leaf(Box::new(Leaf { key: l.key, value: l.value, cache })),
        TrieNode::Extension(e) => {
            if e.key.is_empty() {
                return Err("an extension with an empty key".into());
            }
            Node::Extension(Box::new(Extension { key: e.key, child: Node::Stub(e.child), cache }))
        }
        TrieNode::Branch(b) => {
            let mut branch: Box<Branch> = Box::default();
            let mut stack = b.stack.into_iter();
            for (i, child) in branch.children.iter_mut().enumerate() {
                if b.state_mask.is_bit_set(i as u8) {
                    *child = Node::Stub(stack.next().ok_or("a branch with too few children")?);
                }
            }
            if stack.next().is_some() {
                return Err("a branch with more children than its mask".into());
            }
            branch.cache = cache;
            Node::Branch(branch)
        }
    })
}

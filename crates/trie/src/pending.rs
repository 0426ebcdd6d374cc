//! What a trie must write to the store at its next take: a log of records, the latest record
//! of a path winning.
//!
//! A block's account trie records ~16,000 re-encoded nodes, each on the thread that re-hashes
//! its subtrie, then all of them are moved to the trie and sorted by path for the write batch.
//! As a hash map each record cost an insert on its thread and another when merged; as a log it
//! costs a push, the merge moves the logs whole, and the take's sort (needed anyway for the
//! batch) also resolves repeats. Past a million records the log is compacted (sorted, repeats
//! dropped) whenever it has doubled since its last compaction, so trie work between takes
//! cannot make it grow past twice the paths it names.

use alloy_trie::Nibbles;

/// One record: a path and its new node's encoding, or `None` when no hashed node is there any
/// more (it went away, or became short enough to live inline in its parent).
pub(crate) type Record = (Nibbles, Option<Vec<u8>>);

/// Records below this many are never compacted before the take. Between takes (a block) the
/// records name distinct paths but for a few (the root, removals), so compacting a block's log
/// early would only sort it twice: a block of 1.5 billion gas of transfers records ~150,000.
/// The tests use a small threshold to reach the compaction.
const COMPACT_MIN: usize = if cfg!(test) { 1 << 10 } else { 1 << 20 };

/// Paths whose stored node changed since the last take.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pending {
    /// In the order recorded.
    log: Vec<Record>,
    /// The log's length after its last compaction.
    compacted: usize,
}

impl Pending {
    /// An empty log with room for `n` records.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self { log: Vec::with_capacity(n), compacted: 0 }
    }

    /// Records `node` at `path`, replacing whatever was recorded there before.
    pub(crate) fn insert(&mut self, path: Nibbles, node: Option<Vec<u8>>) {
        self.log.push((path, node));
        self.compact_if_doubled();
    }

    /// Moves `later`'s records (recorded after this log's) to the end of this log.
    pub(crate) fn append(&mut self, later: &mut Self) {
        self.log.append(&mut later.log);
        later.compacted = 0;
        self.compact_if_doubled();
    }

    /// Room for `n` more records.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.log.reserve(n);
    }

    /// Records held (a path recorded twice counts twice until a compaction).
    pub(crate) fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether nothing is recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Every path's latest record, in path order; the log is left empty.
    pub(crate) fn take_sorted(&mut self) -> Vec<Record> {
        self.compact();
        self.compacted = 0;
        std::mem::take(&mut self.log)
    }

    /// Puts back `older` records (taken but not stored: a failed write): a path recorded since
    /// keeps its newer record.
    pub(crate) fn restore(&mut self, older: Vec<Record>) {
        let newer = std::mem::replace(&mut self.log, older);
        self.log.extend(newer);
        self.compact_if_doubled();
    }

    fn compact_if_doubled(&mut self) {
        if self.log.len() > COMPACT_MIN.max(self.compacted.saturating_mul(2)) {
            self.compact();
        }
    }

    /// Sorts the log by path, keeping only each path's latest record.
    fn compact(&mut self) {
        // Stable: records of one path stay in the order they were made.
        self.log.sort_by_key(|r| r.0);
        let mut kept: usize = 0;
        for i in 0..self.log.len() {
            if kept > 0 && self.log[kept - 1].0 == self.log[i].0 {
                // A later record of the same path replaces the one kept.
                self.log.swap(kept - 1, i);
            } else {
                self.log.swap(kept, i);
                kept += 1;
            }
        }
        self.log.truncate(kept);
        self.compacted = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn path(n: u8) -> Nibbles {
        Nibbles::from_nibbles([n >> 4, n & 0x0f])
    }

    /// A map that replaces on insert: what the log must behave as.
    fn model(ops: &[(u8, Option<u8>)]) -> BTreeMap<Nibbles, Option<Vec<u8>>> {
        let mut m = BTreeMap::new();
        for (p, v) in ops {
            m.insert(path(*p), v.map(|v| vec![v]));
        }
        m
    }

    #[test]
    fn the_latest_record_of_a_path_wins_and_the_take_is_in_path_order() {
        let mut p = Pending::default();
        p.insert(path(9), Some(vec![1]));
        p.insert(path(3), None);
        p.insert(path(9), None);
        p.insert(path(3), Some(vec![2]));
        p.insert(path(5), Some(vec![3]));
        assert_eq!(
            p.take_sorted(),
            vec![(path(3), Some(vec![2])), (path(5), Some(vec![3])), (path(9), None)]
        );
        assert!(p.is_empty());
    }

    #[test]
    fn restored_records_lose_to_newer_ones() {
        let mut p = Pending::default();
        p.insert(path(1), Some(vec![1]));
        p.insert(path(2), Some(vec![2]));
        let taken = p.take_sorted();
        p.insert(path(2), None);
        p.restore(taken);
        assert_eq!(p.take_sorted(), vec![(path(1), Some(vec![1])), (path(2), None)]);
    }

    #[test]
    fn the_log_is_compacted_as_it_grows() {
        let mut p = Pending::default();
        // Ten times the compaction threshold, over 256 paths.
        for i in 0..10 * COMPACT_MIN {
            p.insert(path(i as u8), Some(vec![(i >> 8) as u8]));
            assert!(p.len() <= COMPACT_MIN + 1, "{} records", p.len());
        }
        let taken = p.take_sorted();
        assert_eq!(taken.len(), 256);
        // The latest of each path: the last round's value.
        let last = ((10 * COMPACT_MIN - 1) >> 8) as u8;
        assert!(taken.iter().all(|(_, v)| v.as_deref() == Some(&[last][..])));
    }

    proptest! {
        #[test]
        fn the_log_behaves_as_a_map(
            ops in proptest::collection::vec((any::<u8>(), proptest::option::of(any::<u8>())), 0..300),
            split in 0usize..300,
            compact_at in 0usize..300,
        ) {
            // Recorded over two logs (a subtrie's thread and the trie), one compacted midway.
            let split = split.min(ops.len());
            let mut first = Pending::default();
            let mut second = Pending::with_capacity(4);
            for (i, (p, v)) in ops[..split].iter().enumerate() {
                first.insert(path(*p), v.map(|v| vec![v]));
                if i == compact_at {
                    first.compact();
                }
            }
            for (p, v) in &ops[split..] {
                second.insert(path(*p), v.map(|v| vec![v]));
            }
            first.append(&mut second);
            prop_assert!(second.is_empty());
            let expected: Vec<Record> = model(&ops).into_iter().collect();
            prop_assert_eq!(first.take_sorted(), expected);
        }
    }
}

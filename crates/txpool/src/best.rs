//! [`BestTransactions`]: the pool's pending transactions, best tip first.

use crate::{PoolTx, TxPool};
use alloy_primitives::Address;
use std::{
    cmp::Ordering,
    collections::{BinaryHeap, HashMap, HashSet},
    sync::Arc,
};

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ranked {
    pub(crate) tip: u128,
    pub(crate) seq: u64,
    pub(crate) sender: Address,
    pub(crate) nonce: u64,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.tip.cmp(&other.tip).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Transactions fetched from the pool per lock acquisition for one sender.
const RUN: usize = 256;

/// Iterator over pending transactions, best tip first, nonce order within a sender. It reads
/// the live pool lazily, a run of each sender's transactions per lock acquisition.
#[derive(Debug)]
pub struct BestTransactions<'a> {
    pool: &'a TxPool,
    heap: BinaryHeap<Ranked>,
    runs: HashMap<Address, (Vec<Arc<PoolTx>>, usize)>,
    base_fee: u64,
    skipped: HashSet<Address>,
}

impl<'a> BestTransactions<'a> {
    /// Starts from `heap`: each sender's first pending transaction.
    pub(crate) fn new(pool: &'a TxPool, heap: BinaryHeap<Ranked>, base_fee: u64) -> Self {
        Self { pool, heap, runs: HashMap::new(), base_fee, skipped: HashSet::new() }
    }

    /// The next transaction.
    pub fn next_tx(&mut self) -> Option<Arc<PoolTx>> {
        while let Some(top) = self.heap.pop() {
            if self.skipped.contains(&top.sender) {
                continue;
            }
            let (run, pos) = self.runs.entry(top.sender).or_default();
            if *pos >= run.len() || run[*pos].nonce() != top.nonce {
                *run = self.pool.pending_run(&top.sender, top.nonce, RUN);
                *pos = 0;
            }
            let Some(tx) = run.get(*pos).cloned() else { continue };
            *pos += 1;
            if *pos >= run.len() {
                *run = self.pool.pending_run(&top.sender, top.nonce + 1, RUN);
                *pos = 0;
            }
            if let Some(next) = run.get(*pos)
                && let Some(tip) = next.effective_tip(self.base_fee)
            {
                self.heap.push(Ranked {
                    tip,
                    seq: next.seq,
                    sender: top.sender,
                    nonce: top.nonce + 1,
                });
            }
            return Some(tx);
        }
        None
    }

    /// Skips the remaining transactions of `sender`.
    pub fn skip_sender(&mut self, sender: Address) {
        self.skipped.insert(sender);
    }
}

//! The pool's state behind its lock: per-sender nonce queues, the hash index, and the ordered
//! index of eviction candidates.
//!
//! Every change to a sender's queue goes through [`Inner::update_sender`], which keeps the
//! derived data (pending count, cumulative cost, eviction index) in step with the queue.

use crate::PoolTx;
use alloy_primitives::{Address, B256, U256};
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

/// One sender's transactions.
#[derive(Debug, Default)]
pub(crate) struct SenderQueue {
    pub(crate) txs: BTreeMap<u64, Arc<PoolTx>>,
    /// The sender's nonce in the head state.
    pub(crate) state_nonce: u64,
    /// Number of consecutive transactions from `state_nonce`.
    pub(crate) pending: usize,
    /// Sum of the pooled transactions' [`PoolTx::cost`] (saturating).
    pub(crate) cost: U256,
}

impl SenderQueue {
    fn recount(&mut self) {
        self.pending = (self.state_nonce..)
            .zip(self.txs.keys())
            .take_while(|(expected, nonce)| expected == *nonce)
            .count();
        self.cost = self.txs.values().fold(U256::ZERO, |sum, t| sum.saturating_add(t.cost));
    }

    /// Transactions behind a nonce gap.
    pub(crate) fn queued(&self) -> usize {
        self.txs.len() - self.pending
    }

    /// The nonce after the pending run.
    pub(crate) fn pending_end(&self) -> u64 {
        self.state_nonce.saturating_add(self.pending as u64)
    }

    fn eviction_key(&self, sender: Address) -> Option<EvictionKey> {
        self.txs.values().next_back().map(|t| EvictionKey {
            max_fee: t.max_fee(),
            newest_first: Reverse(t.seq),
            sender,
        })
    }
}

/// Eviction order: the cheapest fee cap first, the latest arrival first among equals. Only
/// each sender's last transaction is a candidate (evicting from the middle of a queue would
/// strand the transactions behind it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EvictionKey {
    pub(crate) max_fee: u128,
    pub(crate) newest_first: Reverse<u64>,
    pub(crate) sender: Address,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) by_hash: HashMap<B256, Arc<PoolTx>>,
    pub(crate) senders: HashMap<Address, SenderQueue>,
    /// Each sender's last transaction, cheapest first: O(log n) eviction instead of a scan of
    /// all senders (security review L6).
    pub(crate) eviction: BTreeSet<EvictionKey>,
    pub(crate) pending: usize,
    pub(crate) seq: u64,
}

impl Inner {
    pub(crate) fn queued(&self) -> usize {
        self.by_hash.len() - self.pending
    }

    /// Applies `f` to `sender`'s queue (created with `state_nonce` if missing), then updates
    /// the pending counts, the cumulative cost and the eviction index, and drops the queue
    /// once empty.
    pub(crate) fn update_sender(
        &mut self,
        sender: &Address,
        state_nonce: u64,
        f: impl FnOnce(&mut SenderQueue),
    ) {
        let q = self
            .senders
            .entry(*sender)
            .or_insert_with(|| SenderQueue { state_nonce, ..Default::default() });
        let before = q.pending;
        let old_key = q.eviction_key(*sender);
        f(q);
        q.recount();
        let new_key = q.eviction_key(*sender);
        let (after, empty) = (q.pending, q.txs.is_empty());
        self.pending = self.pending - before + after;
        if old_key != new_key {
            if let Some(k) = old_key {
                self.eviction.remove(&k);
            }
            if let Some(k) = new_key {
                self.eviction.insert(k);
            }
        }
        if empty {
            self.senders.remove(sender);
        }
    }

    /// The cheapest transaction that is last in its sender's queue, not from `except`.
    pub(crate) fn eviction_candidate(&self, except: &Address) -> Option<Arc<PoolTx>> {
        // Each sender has one entry, so this looks at two entries at most.
        let key = self.eviction.iter().find(|k| k.sender != *except)?;
        self.senders.get(&key.sender)?.txs.values().next_back().cloned()
    }

    pub(crate) fn remove(&mut self, hash: &B256) -> Option<Arc<PoolTx>> {
        let tx = self.by_hash.remove(hash)?;
        let sender = tx.sender();
        let nonce = tx.nonce();
        if self.senders.contains_key(&sender) {
            self.update_sender(&sender, 0, |q| {
                q.txs.remove(&nonce);
            });
        }
        Some(tx)
    }

    /// Sets `sender`'s state nonce (higher or lower), drops its transactions below it, and
    /// returns the hashes that became pending.
    pub(crate) fn set_state_nonce(&mut self, sender: &Address, state_nonce: u64) -> Vec<B256> {
        let Some(q) = self.senders.get(sender) else { return Vec::new() };
        let stale: Vec<B256> = q.txs.range(..state_nonce).map(|(_, t)| t.hash).collect();
        let old_end = q.pending_end();
        for h in &stale {
            self.by_hash.remove(h);
        }
        self.update_sender(sender, state_nonce, |q| {
            q.txs = q.txs.split_off(&state_nonce);
            q.state_nonce = state_nonce;
        });
        let Some(q) = self.senders.get(sender) else { return Vec::new() };
        // No transaction is below the old state nonce, so a lower nonce promotes nothing (its
        // run is empty until the missing transactions are added again); a higher one promotes
        // what follows the old run.
        let (from, to) = (old_end.max(state_nonce), q.pending_end());
        if from >= to {
            return Vec::new();
        }
        q.txs.range(from..to).map(|(_, t)| t.hash).collect()
    }

    /// Checks the derived data against a recount (tests).
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        let mut pending = 0;
        let mut keys = BTreeSet::new();
        let mut txs = 0;
        for (sender, q) in &self.senders {
            assert!(!q.txs.is_empty(), "empty queue kept");
            assert!(q.txs.keys().next().is_some_and(|n| *n >= q.state_nonce), "tx below nonce");
            let run = (q.state_nonce..).zip(q.txs.keys()).take_while(|(a, b)| a == *b).count();
            assert_eq!(q.pending, run);
            pending += run;
            txs += q.txs.len();
            keys.insert(q.eviction_key(*sender).expect("non-empty"));
            for t in q.txs.values() {
                assert!(self.by_hash.contains_key(&t.hash), "hash index misses a tx");
            }
        }
        assert_eq!(self.pending, pending);
        assert_eq!(self.by_hash.len(), txs);
        assert_eq!(self.eviction, keys);
    }
}

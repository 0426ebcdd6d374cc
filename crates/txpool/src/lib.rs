//! Transaction pool for dbc-node.
//!
//! Transactions are validated against the head state before they get here (see the node's
//! validator); the pool itself keeps, per sender, a nonce-ordered queue:
//!
//! - **pending**: the run of consecutive nonces starting at the sender's state nonce — these can
//!   go into the next block;
//! - **queued**: transactions behind a nonce gap. They are promoted as soon as the gap fills
//!   (forge script sends a script's transactions concurrently, so nonce `n+1` may arrive first).
//!
//! A transaction with the same sender and nonce as a pooled one replaces it only if both its
//! fee cap and its tip are at least [`PoolConfig::price_bump_percent`] higher. When the pool is
//! full, the cheapest transaction that is last in its sender's queue is evicted if the new one
//! pays more; otherwise the new one is refused.

mod validate;

pub use validate::{
    MAX_INITCODE_SIZE, MAX_TX_SIZE, TxValidator, ValidTransaction, ValidationError,
};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256};
use dbc_primitives::{Recovered, TxEnvelope};
use parking_lot::RwLock;
use std::{
    cmp::Ordering,
    collections::{BTreeMap, BinaryHeap, HashMap, HashSet},
    sync::Arc,
};
use tokio::sync::{Notify, broadcast};

/// Pool limits.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Maximum transactions in the pool (pending + queued).
    pub max_txs: usize,
    /// How far ahead of its state nonce a sender's transaction may be.
    pub max_nonce_gap: u64,
    /// Required fee increase for a replacement, in percent.
    pub price_bump_percent: u128,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_txs: 200_000, max_nonce_gap: 1024, price_bump_percent: 10 }
    }
}

/// Why the pool refused a transaction. Messages are geth's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Same hash already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// Replacement without the required fee bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// Pool full and the transaction does not outbid anything.
    #[error("txpool is full")]
    PoolFull,
    /// Too far ahead of the sender's nonce.
    #[error("nonce too high: next nonce {expected}, tx nonce {got}")]
    NonceTooHigh {
        /// Sender's state nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
    /// Nonce already used.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// Sender's state nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
}

/// A validated transaction in the pool.
#[derive(Debug)]
pub struct PoolTx {
    /// The transaction with its sender.
    pub tx: Recovered<TxEnvelope>,
    /// Hash.
    pub hash: B256,
    /// Encoded size in bytes.
    pub size: usize,
    /// Arrival order, for tie-breaking.
    pub seq: u64,
}

impl PoolTx {
    /// Sender.
    pub fn sender(&self) -> Address {
        self.tx.signer()
    }

    /// Nonce.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// Fee cap (gas price for legacy transactions).
    pub fn max_fee(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }

    /// Tip cap (gas price for legacy transactions).
    pub fn max_tip(&self) -> u128 {
        self.tx.max_priority_fee_per_gas().unwrap_or_else(|| self.tx.max_fee_per_gas())
    }

    /// The tip the transaction pays at `base_fee` (`None` when its fee cap is below it).
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }
}

#[derive(Debug, Default)]
struct SenderQueue {
    txs: BTreeMap<u64, Arc<PoolTx>>,
    /// The sender's nonce in the head state.
    state_nonce: u64,
    /// Number of consecutive transactions from `state_nonce`.
    pending: usize,
}

impl SenderQueue {
    fn recount(&mut self) {
        self.pending = (self.state_nonce..)
            .zip(self.txs.keys())
            .take_while(|(expected, nonce)| expected == *nonce)
            .count();
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_hash: HashMap<B256, Arc<PoolTx>>,
    senders: HashMap<Address, SenderQueue>,
    pending: usize,
    seq: u64,
}

impl Inner {
    fn queued(&self) -> usize {
        self.by_hash.len() - self.pending
    }

    fn set_pending(&mut self, sender: &Address, f: impl FnOnce(&mut SenderQueue)) {
        if let Some(q) = self.senders.get_mut(sender) {
            let before = q.pending;
            f(q);
            q.recount();
            self.pending = self.pending - before + q.pending;
            if q.txs.is_empty() {
                self.senders.remove(sender);
            }
        }
    }

    /// The cheapest transaction that is last in its sender's queue.
    fn eviction_candidate(&self) -> Option<Arc<PoolTx>> {
        self.senders
            .values()
            .filter_map(|q| q.txs.values().next_back())
            .min_by(|a, b| a.max_fee().cmp(&b.max_fee()).then(b.seq.cmp(&a.seq)))
            .cloned()
    }

    fn remove(&mut self, hash: &B256) -> Option<Arc<PoolTx>> {
        let tx = self.by_hash.remove(hash)?;
        let sender = tx.sender();
        let nonce = tx.nonce();
        self.set_pending(&sender, |q| {
            q.txs.remove(&nonce);
        });
        Some(tx)
    }
}

/// Counts, as `txpool_status` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Executable transactions.
    pub pending: usize,
    /// Transactions behind a nonce gap.
    pub queued: usize,
}

/// The transaction pool.
#[derive(Debug)]
pub struct TxPool {
    config: PoolConfig,
    inner: RwLock<Inner>,
    new_pending: broadcast::Sender<B256>,
    notify: Notify,
}

/// Result of adding a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// It can go into the next block.
    Pending,
    /// It waits for a nonce gap to fill.
    Queued,
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        let (new_pending, _) = broadcast::channel(16_384);
        Self { config, inner: RwLock::default(), new_pending, notify: Notify::new() }
    }

    /// Adds a validated transaction. `state_nonce` is the sender's nonce in the head state.
    pub fn add(
        &self,
        tx: Recovered<TxEnvelope>,
        size: usize,
        state_nonce: u64,
    ) -> Result<AddOutcome, PoolError> {
        let hash = *tx.tx_hash();
        let sender = tx.signer();
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow { expected: state_nonce, got: nonce });
        }
        if nonce > state_nonce + self.config.max_nonce_gap {
            return Err(PoolError::NonceTooHigh { expected: state_nonce, got: nonce });
        }
        let mut promoted = Vec::new();
        let outcome = {
            let mut inner = self.inner.write();
            if inner.by_hash.contains_key(&hash) {
                return Err(PoolError::AlreadyKnown);
            }
            inner.seq += 1;
            let pool_tx = Arc::new(PoolTx { tx, hash, size, seq: inner.seq });
            // Replacement.
            let existing = inner.senders.get(&sender).and_then(|q| q.txs.get(&nonce)).cloned();
            if let Some(old) = &existing {
                let bump = 100 + self.config.price_bump_percent;
                let fee_ok = pool_tx.max_fee() * 100 >= old.max_fee() * bump;
                let tip_ok = pool_tx.max_tip() * 100 >= old.max_tip() * bump;
                if !(fee_ok && tip_ok) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                inner.by_hash.remove(&old.hash);
            } else if inner.by_hash.len() >= self.config.max_txs {
                let victim = inner.eviction_candidate();
                match victim {
                    Some(v) if v.max_fee() < pool_tx.max_fee() && v.sender() != sender => {
                        tracing::debug!(target: "txpool", hash = %v.hash, "evicted");
                        inner.remove(&v.hash);
                    }
                    _ => return Err(PoolError::PoolFull),
                }
            }
            inner.by_hash.insert(hash, pool_tx.clone());
            inner
                .senders
                .entry(sender)
                .or_insert_with(|| SenderQueue { state_nonce, ..Default::default() });
            let before_pending = inner.senders.get(&sender).map(|q| q.pending).unwrap_or_default();
            inner.set_pending(&sender, |q| {
                q.state_nonce = q.state_nonce.max(state_nonce);
                q.txs.insert(nonce, pool_tx);
            });
            let q = inner.senders.get(&sender);
            let now_pending = q.map(|q| q.pending).unwrap_or_default();
            let is_pending = q.is_some_and(|q| nonce < q.state_nonce + q.pending as u64);
            if is_pending {
                // Everything from this nonce up to the end of the pending run is newly
                // executable (promoted from queued).
                if let Some(q) = q {
                    let end = q.state_nonce + now_pending as u64;
                    promoted.extend(q.txs.range(nonce..end).map(|(_, t)| t.hash));
                }
                debug_assert!(now_pending >= before_pending);
                AddOutcome::Pending
            } else {
                AddOutcome::Queued
            }
        };
        if !promoted.is_empty() {
            for h in promoted {
                let _ = self.new_pending.send(h);
            }
            self.notify.notify_waiters();
        }
        Ok(outcome)
    }

    /// Subscribes to hashes of transactions as they become pending.
    pub fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.new_pending.subscribe()
    }

    /// Waits until a transaction becomes pending (instant sealing).
    pub async fn wait_for_pending(&self) {
        loop {
            // Created before the check, so a promotion between the check and the await still
            // wakes it (`notify_waiters` reaches futures that exist, polled or not).
            let notified = self.notify.notified();
            if self.status().pending > 0 {
                return;
            }
            notified.await;
        }
    }

    /// A transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<PoolTx>> {
        self.inner.read().by_hash.get(hash).cloned()
    }

    /// Counts.
    pub fn status(&self) -> PoolStatus {
        let inner = self.inner.read();
        PoolStatus { pending: inner.pending, queued: inner.queued() }
    }

    /// The next nonce of `sender` counting its pending transactions (`eth_getTransactionCount`
    /// at `pending`), if the pool knows the sender.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        let inner = self.inner.read();
        inner.senders.get(sender).map(|q| q.state_nonce + q.pending as u64)
    }

    /// All transactions, split into pending and queued, per sender, nonce-ordered.
    #[allow(clippy::type_complexity)]
    pub fn content(
        &self,
    ) -> (BTreeMap<Address, Vec<Arc<PoolTx>>>, BTreeMap<Address, Vec<Arc<PoolTx>>>) {
        let inner = self.inner.read();
        let mut pending = BTreeMap::new();
        let mut queued = BTreeMap::new();
        for (sender, q) in &inner.senders {
            let (p, rest): (Vec<_>, Vec<_>) =
                q.txs.values().cloned().enumerate().partition(|(i, _)| *i < q.pending);
            if !p.is_empty() {
                pending.insert(*sender, p.into_iter().map(|(_, t)| t).collect());
            }
            if !rest.is_empty() {
                queued.insert(*sender, rest.into_iter().map(|(_, t)| t).collect());
            }
        }
        (pending, queued)
    }

    /// Pending transactions best first at `base_fee`, each sender's in nonce order.
    /// Transactions whose fee cap is below the base fee are left out.
    ///
    /// Building the iterator costs O(senders); transactions are then read from the live pool in
    /// runs per sender, so a block's pool work follows what it includes, not the pool's size.
    pub fn best(&self, base_fee: u64) -> BestTransactions<'_> {
        let inner = self.inner.read();
        let mut heap = BinaryHeap::with_capacity(inner.senders.len());
        for (sender, q) in &inner.senders {
            if q.pending == 0 {
                continue;
            }
            if let Some(first) = q.txs.get(&q.state_nonce)
                && let Some(tip) = first.effective_tip(base_fee)
            {
                heap.push(Ranked { tip, seq: first.seq, sender: *sender, nonce: q.state_nonce });
            }
        }
        BestTransactions {
            pool: self,
            heap,
            runs: HashMap::new(),
            base_fee,
            skipped: HashSet::new(),
        }
    }

    /// Up to `limit` pending transactions in arrival order: about the order a block includes
    /// them, so the block builder can read their accounts ahead of execution.
    pub fn pending_by_arrival(&self, limit: usize) -> Vec<Arc<PoolTx>> {
        let mut txs: Vec<Arc<PoolTx>> = Vec::with_capacity(limit);
        {
            let inner = self.inner.read();
            'senders: for q in inner.senders.values() {
                let end = q.state_nonce + q.pending as u64;
                for tx in q.txs.range(q.state_nonce..end).map(|(_, t)| t) {
                    if txs.len() >= limit {
                        break 'senders;
                    }
                    txs.push(tx.clone());
                }
            }
        }
        txs.sort_unstable_by_key(|t| t.seq);
        txs
    }

    /// Up to `max` pending transactions of `sender` in nonce order, from `nonce` on or, with
    /// `None`, from its nonce in the head state. Empty if there is no pending transaction at
    /// that nonce. A block builder that takes transactions as they arrive uses this to follow a
    /// sender from where its block has got to.
    pub fn pending_from(
        &self,
        sender: &Address,
        nonce: Option<u64>,
        max: usize,
    ) -> Vec<Arc<PoolTx>> {
        let nonce = match nonce {
            Some(n) => n,
            None => match self.inner.read().senders.get(sender) {
                Some(q) => q.state_nonce,
                None => return Vec::new(),
            },
        };
        self.pending_run(sender, nonce, max)
    }

    /// Up to `max` pending transactions of `sender` from `nonce` on, read under one lock.
    fn pending_run(&self, sender: &Address, nonce: u64, max: usize) -> Vec<Arc<PoolTx>> {
        let inner = self.inner.read();
        let Some(q) = inner.senders.get(sender) else { return Vec::new() };
        let end = q.state_nonce + q.pending as u64;
        if nonce < q.state_nonce || nonce >= end {
            return Vec::new();
        }
        q.txs.range(nonce..end).take(max).map(|(_, t)| t.clone()).collect()
    }

    /// Updates the pool after a block: `senders` are the accounts whose nonce may have changed
    /// with their new state nonce; `rejected` are transactions the block builder found invalid.
    pub fn on_new_block(
        &self,
        senders: impl IntoIterator<Item = (Address, u64)>,
        rejected: impl IntoIterator<Item = B256>,
    ) {
        let mut promoted = Vec::new();
        {
            let mut inner = self.inner.write();
            for hash in rejected {
                inner.remove(&hash);
            }
            for (sender, state_nonce) in senders {
                let Some(q) = inner.senders.get(&sender) else { continue };
                let stale: Vec<B256> = q.txs.range(..state_nonce).map(|(_, t)| t.hash).collect();
                let old_end = q.state_nonce + q.pending as u64;
                for h in &stale {
                    inner.by_hash.remove(h);
                }
                inner.set_pending(&sender, |q| {
                    q.txs = q.txs.split_off(&state_nonce);
                    q.state_nonce = state_nonce;
                });
                if let Some(q) = inner.senders.get(&sender) {
                    let new_end = q.state_nonce + q.pending as u64;
                    promoted.extend(
                        q.txs.range(old_end.max(state_nonce)..new_end).map(|(_, t)| t.hash),
                    );
                }
            }
        }
        for h in promoted {
            let _ = self.new_pending.send(h);
        }
        if self.status().pending > 0 {
            self.notify.notify_waiters();
        }
    }

    /// Removes a transaction.
    pub fn remove(&self, hash: &B256) -> Option<Arc<PoolTx>> {
        self.inner.write().remove(hash)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Ranked {
    tip: u128,
    seq: u64,
    sender: Address,
    nonce: u64,
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

impl BestTransactions<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{Signature, TxKind, U256};

    fn tx(sender: u8, nonce: u64, max_fee: u128, tip: u128) -> Recovered<TxEnvelope> {
        let inner = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::with_last_byte(0xee)),
            value: U256::from(1),
            ..Default::default()
        };
        // The pool trusts the recovered sender; a fixed signature keeps hashes distinct per
        // content.
        let signed = inner.into_signed(Signature::test_signature());
        Recovered::new_unchecked(TxEnvelope::Eip1559(signed), Address::with_last_byte(sender))
    }

    /// (last byte of the sender, nonce) of each transaction.
    fn ids(txs: impl IntoIterator<Item = Arc<PoolTx>>) -> Vec<(u8, u64)> {
        txs.into_iter().map(|t| (t.sender().0[19], t.nonce())).collect()
    }

    fn pool() -> TxPool {
        TxPool::new(PoolConfig::default())
    }

    #[test]
    fn gapped_transactions_are_queued_then_promoted() {
        let p = pool();
        assert_eq!(p.add(tx(1, 2, 10, 1), 100, 0), Ok(AddOutcome::Queued));
        assert_eq!(p.add(tx(1, 1, 10, 1), 100, 0), Ok(AddOutcome::Queued));
        assert_eq!(p.status(), PoolStatus { pending: 0, queued: 2 });
        let mut sub = p.subscribe_pending();
        assert_eq!(p.add(tx(1, 0, 10, 1), 100, 0), Ok(AddOutcome::Pending));
        assert_eq!(p.status(), PoolStatus { pending: 3, queued: 0 });
        let mut promoted = 0;
        while sub.try_recv().is_ok() {
            promoted += 1;
        }
        assert_eq!(promoted, 3);
        assert_eq!(p.pending_nonce(&Address::with_last_byte(1)), Some(3));
    }

    #[test]
    fn pending_by_arrival_lists_pending_transactions_in_arrival_order_up_to_the_limit() {
        let p = pool();
        p.add(tx(2, 0, 10, 1), 100, 0).expect("add");
        // Distinct fees: the test transactions' hashes do not depend on the sender.
        p.add(tx(1, 0, 11, 1), 100, 0).expect("add");
        p.add(tx(1, 5, 11, 1), 100, 0).expect("queued: nonce gap");
        p.add(tx(2, 1, 10, 1), 100, 0).expect("add");
        let order = |limit| -> Vec<(u8, u64)> { ids(p.pending_by_arrival(limit)) };
        assert_eq!(order(10), vec![(2, 0), (1, 0), (2, 1)]);
        assert_eq!(order(2).len(), 2);
    }

    #[test]
    fn pending_from_follows_a_sender_from_a_nonce_or_its_state_nonce() {
        let p = pool();
        let nonces = |txs: Vec<Arc<PoolTx>>| txs.iter().map(|t| t.nonce()).collect::<Vec<_>>();
        let sender = Address::with_last_byte(1);
        for nonce in [3, 4, 5, 7] {
            p.add(tx(1, nonce, 10 + nonce as u128, 1), 100, 3).expect("add");
        }
        // 7 is behind a gap: not pending.
        assert_eq!(nonces(p.pending_from(&sender, None, 10)), vec![3, 4, 5]);
        assert_eq!(nonces(p.pending_from(&sender, Some(4), 10)), vec![4, 5]);
        assert_eq!(nonces(p.pending_from(&sender, Some(4), 1)), vec![4]);
        assert!(p.pending_from(&sender, Some(6), 10).is_empty());
        assert!(p.pending_from(&sender, Some(2), 10).is_empty(), "below the state nonce");
        assert!(p.pending_from(&Address::with_last_byte(9), None, 10).is_empty());
    }

    #[test]
    fn replacement_needs_ten_percent_bump_of_fee_and_tip() {
        let p = pool();
        p.add(tx(1, 0, 100, 10), 100, 0).expect("add");
        assert_eq!(p.add(tx(1, 0, 109, 11), 100, 0), Err(PoolError::ReplacementUnderpriced));
        assert_eq!(p.add(tx(1, 0, 110, 10), 100, 0), Err(PoolError::ReplacementUnderpriced));
        assert_eq!(p.add(tx(1, 0, 110, 11), 100, 0), Ok(AddOutcome::Pending));
        assert_eq!(p.status().pending, 1);
        let best = p.best(0).next_tx().expect("one");
        assert_eq!(best.max_fee(), 110);
    }

    #[test]
    fn duplicates_and_stale_nonces_are_refused() {
        let p = pool();
        p.add(tx(1, 5, 100, 10), 100, 5).expect("add");
        assert_eq!(p.add(tx(1, 5, 100, 10), 100, 5), Err(PoolError::AlreadyKnown));
        assert_eq!(
            p.add(tx(1, 4, 100, 10), 100, 5),
            Err(PoolError::NonceTooLow { expected: 5, got: 4 })
        );
        assert!(matches!(p.add(tx(1, 5000, 100, 10), 100, 5), Err(PoolError::NonceTooHigh { .. })));
    }

    #[test]
    fn best_orders_by_tip_and_keeps_nonce_order() {
        let p = pool();
        p.add(tx(1, 0, 100, 1), 100, 0).expect("add");
        p.add(tx(1, 1, 100, 50), 100, 0).expect("add");
        p.add(tx(2, 0, 100, 20), 100, 0).expect("add");
        p.add(tx(3, 0, 5, 5), 100, 0).expect("add"); // below base fee 10: left out
        let mut best = p.best(10);
        let order = ids(std::iter::from_fn(|| best.next_tx()));
        assert_eq!(order, vec![(2, 0), (1, 0), (1, 1)]);
    }

    #[test]
    fn best_reads_long_runs_and_live_additions() {
        let p = pool();
        for n in 0..300 {
            p.add(tx(1, n, 100, 5), 100, 0).expect("add");
        }
        p.add(tx(2, 0, 100, 1), 100, 0).expect("add");
        let mut best = p.best(0);
        let first = best.next_tx().expect("first");
        assert_eq!((first.sender(), first.nonce()), (Address::with_last_byte(1), 0));
        // Added after the iterator was made: still seen, in nonce order.
        p.add(tx(1, 300, 100, 5), 100, 0).expect("add");
        let rest = ids(std::iter::from_fn(|| best.next_tx()));
        let sender1: Vec<u64> = rest.iter().filter(|(s, _)| *s == 1).map(|(_, n)| *n).collect();
        assert_eq!(sender1, (1..=300).collect::<Vec<_>>());
        assert_eq!(rest.last(), Some(&(2, 0)), "lower tip goes last");
    }

    #[test]
    fn skip_sender_drops_its_successors() {
        let p = pool();
        p.add(tx(1, 0, 100, 30), 100, 0).expect("add");
        p.add(tx(1, 1, 100, 30), 100, 0).expect("add");
        p.add(tx(2, 0, 100, 1), 100, 0).expect("add");
        let mut best = p.best(0);
        let first = best.next_tx().expect("first");
        assert_eq!(first.sender(), Address::with_last_byte(1));
        best.skip_sender(first.sender());
        let next = best.next_tx().expect("second");
        assert_eq!(next.sender(), Address::with_last_byte(2));
        assert!(best.next_tx().is_none());
    }

    #[test]
    fn new_block_prunes_mined_and_promotes() {
        let p = pool();
        for n in 0..3 {
            p.add(tx(1, n, 100, 1), 100, 0).expect("add");
        }
        p.add(tx(1, 4, 100, 1), 100, 0).expect("add");
        assert_eq!(p.status(), PoolStatus { pending: 3, queued: 1 });
        p.on_new_block([(Address::with_last_byte(1), 2)], []);
        assert_eq!(p.status(), PoolStatus { pending: 1, queued: 1 });
        p.add(tx(1, 3, 100, 1), 100, 2).expect("fill gap");
        assert_eq!(p.status(), PoolStatus { pending: 3, queued: 0 });
    }

    #[test]
    fn full_pool_evicts_cheapest_or_refuses() {
        let p = TxPool::new(PoolConfig { max_txs: 2, ..Default::default() });
        p.add(tx(1, 0, 100, 1), 100, 0).expect("add");
        p.add(tx(2, 0, 50, 1), 100, 0).expect("add");
        assert_eq!(p.add(tx(3, 0, 40, 1), 100, 0), Err(PoolError::PoolFull));
        assert_eq!(p.add(tx(3, 0, 60, 1), 100, 0), Ok(AddOutcome::Pending));
        let (pending, _) = p.content();
        assert!(!pending.contains_key(&Address::with_last_byte(2)));
        assert_eq!(p.status().pending, 2);
    }
}

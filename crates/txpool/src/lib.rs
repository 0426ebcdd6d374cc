//! Transaction pool for dbc-node.
//!
//! Transactions are validated against the head state before they get here (see
//! [`TxValidator`]); the pool itself keeps, per sender, a nonce-ordered queue:
//!
//! - **pending**: the run of consecutive nonces starting at the sender's state nonce — these can
//!   go into the next block;
//! - **queued**: transactions behind a nonce gap. They are promoted as soon as the gap fills
//!   (forge script sends a script's transactions concurrently, so nonce `n+1` may arrive first).
//!
//! A transaction with the same sender and nonce as a pooled one replaces it only if both its
//! fee cap and its tip are at least [`PoolConfig::price_bump_percent`] higher. When the pool is
//! full, the cheapest transaction that is last in its sender's queue is evicted if the new one
//! pays more; otherwise the new one is refused. Candidates are kept in an ordered index, so an
//! add costs O(log n) whatever the number of senders.
//!
//! Per sender, the pool holds at most [`PoolConfig::max_txs_per_sender`] transactions, of which
//! at most [`PoolConfig::max_queued_per_sender`] behind a gap, and (through
//! [`TxPool::add_valid`]) only as many as its balance pays for together: the sum of
//! `gas limit × fee cap + value` over its pooled transactions may not exceed its balance.
//!
//! The pool follows the chain through [`TxPool::on_new_block`] and, after an unwind, through
//! [`TxPool::on_reorg`].

mod best;
mod inner;
mod validate;

pub use best::BestTransactions;
#[cfg(feature = "storage")]
pub use validate::TxValidator;
pub use validate::{
    MAX_INITCODE_SIZE, MAX_TX_SIZE, ValidTransaction, ValidationError, check_stateless, decode_raw,
};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256};
use best::Ranked;
use dbc_primitives::{Recovered, TxEnvelope};
use inner::Inner;
use parking_lot::RwLock;
use std::{
    collections::{BTreeMap, BinaryHeap},
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
    /// Maximum transactions of one sender (pending + queued).
    pub max_txs_per_sender: usize,
    /// Maximum transactions of one sender behind a nonce gap.
    pub max_queued_per_sender: usize,
}

impl Default for PoolConfig {
    /// 200k transactions; per sender 1,024, of which 256 behind a gap. The per-sender figures
    /// leave room for the project's own tools: `dbc-bench load` funds its senders with about
    /// 1,000 transactions from one account, sent as concurrent 200-transaction batches that
    /// can arrive out of order.
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_nonce_gap: 1024,
            price_bump_percent: 10,
            max_txs_per_sender: 1024,
            max_queued_per_sender: 256,
        }
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
    /// The sender has [`PoolConfig::max_txs_per_sender`] transactions pooled, or
    /// [`PoolConfig::max_queued_per_sender`] behind a gap and this one would be too.
    #[error("account limit exceeded")]
    AccountLimit,
    /// The sender's pooled transactions together would cost more than its balance.
    #[error("transaction would cause overdraft")]
    Overdraft,
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
    /// Most it can take from its sender: `gas limit × fee cap + value`.
    pub cost: U256,
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

/// `gas limit × fee cap + value`: what a transaction can take from its sender at most.
fn max_cost(tx: &TxEnvelope) -> U256 {
    U256::from(tx.max_fee_per_gas())
        .saturating_mul(U256::from(tx.gas_limit()))
        .saturating_add(tx.value())
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

    /// Adds a transaction that passed [`TxValidator`]: like [`TxPool::add`], and also refuses
    /// it with [`PoolError::Overdraft`] when the sender's pooled transactions, this one included
    /// (replacing any at its nonce), would cost more than the balance it was validated against.
    pub fn add_valid(&self, valid: ValidTransaction) -> Result<AddOutcome, PoolError> {
        self.insert(valid.tx, valid.size, valid.state_nonce, Some(valid.balance))
    }

    /// Adds a validated transaction without the cumulative balance check (use
    /// [`TxPool::add_valid`] for transactions from outside). `state_nonce` is the sender's
    /// nonce in the head state.
    ///
    /// The pool's own nonce for the sender wins when it is higher: it was set by a block
    /// committed after the transaction was validated (only [`TxPool::on_reorg`] lowers it).
    pub fn add(
        &self,
        tx: Recovered<TxEnvelope>,
        size: usize,
        state_nonce: u64,
    ) -> Result<AddOutcome, PoolError> {
        self.insert(tx, size, state_nonce, None)
    }

    fn insert(
        &self,
        tx: Recovered<TxEnvelope>,
        size: usize,
        state_nonce: u64,
        balance: Option<U256>,
    ) -> Result<AddOutcome, PoolError> {
        let hash = *tx.tx_hash();
        let sender = tx.signer();
        let nonce = tx.nonce();
        let cost = max_cost(tx.inner());
        let mut promoted = Vec::new();
        let outcome = {
            let mut inner = self.inner.write();
            if inner.by_hash.contains_key(&hash) {
                return Err(PoolError::AlreadyKnown);
            }
            let pool_nonce = inner.senders.get(&sender).map(|q| q.state_nonce);
            let state_nonce = match pool_nonce {
                // Validated after a block the pool has not heard of yet: catch up.
                Some(n) if n < state_nonce => {
                    promoted.extend(inner.set_state_nonce(&sender, state_nonce));
                    state_nonce
                }
                Some(n) => n,
                None => state_nonce,
            };
            if nonce < state_nonce {
                return Err(PoolError::NonceTooLow { expected: state_nonce, got: nonce });
            }
            if nonce > state_nonce.saturating_add(self.config.max_nonce_gap) {
                return Err(PoolError::NonceTooHigh { expected: state_nonce, got: nonce });
            }
            let queue = inner.senders.get(&sender);
            let existing = queue.and_then(|q| q.txs.get(&nonce)).cloned();
            let pooled_cost = queue.map(|q| q.cost).unwrap_or_default();
            if let Some(old) = &existing {
                let bump = 100 + self.config.price_bump_percent;
                let fee_ok =
                    tx.max_fee_per_gas().saturating_mul(100) >= old.max_fee().saturating_mul(bump);
                let tip = tx.max_priority_fee_per_gas().unwrap_or_else(|| tx.max_fee_per_gas());
                let tip_ok = tip.saturating_mul(100) >= old.max_tip().saturating_mul(bump);
                if !(fee_ok && tip_ok) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
            } else if let Some(q) = queue {
                let gapped = nonce > q.pending_end();
                if q.txs.len() >= self.config.max_txs_per_sender
                    || (gapped && q.queued() >= self.config.max_queued_per_sender)
                {
                    return Err(PoolError::AccountLimit);
                }
            }
            if let Some(balance) = balance {
                let replaced = existing.as_ref().map(|t| t.cost).unwrap_or_default();
                if pooled_cost.saturating_sub(replaced).saturating_add(cost) > balance {
                    return Err(PoolError::Overdraft);
                }
            }
            if existing.is_none() && inner.by_hash.len() >= self.config.max_txs {
                match inner.eviction_candidate(&sender) {
                    Some(v) if v.max_fee() < tx.max_fee_per_gas() => {
                        tracing::debug!(target: "txpool", hash = %v.hash, "evicted");
                        inner.remove(&v.hash);
                    }
                    _ => return Err(PoolError::PoolFull),
                }
            }
            inner.seq += 1;
            let pool_tx = Arc::new(PoolTx { tx, hash, size, seq: inner.seq, cost });
            if let Some(old) = &existing {
                inner.by_hash.remove(&old.hash);
            }
            inner.by_hash.insert(hash, pool_tx.clone());
            inner.update_sender(&sender, state_nonce, |q| {
                q.txs.insert(nonce, pool_tx);
            });
            match inner.senders.get(&sender) {
                Some(q) if nonce < q.pending_end() => {
                    if existing.is_some() {
                        promoted.push(hash);
                    } else {
                        // Everything from this nonce to the end of the pending run is newly
                        // executable (promoted from queued).
                        promoted.extend(q.txs.range(nonce..q.pending_end()).map(|(_, t)| t.hash));
                    }
                    AddOutcome::Pending
                }
                _ => AddOutcome::Queued,
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
        inner.senders.get(sender).map(|q| q.pending_end())
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
        BestTransactions::new(self, heap, base_fee)
    }

    /// Up to `limit` pending transactions in arrival order: about the order a block includes
    /// them, so the block builder can read their accounts ahead of execution.
    pub fn pending_by_arrival(&self, limit: usize) -> Vec<Arc<PoolTx>> {
        let mut txs: Vec<Arc<PoolTx>> = Vec::with_capacity(limit);
        {
            let inner = self.inner.read();
            'senders: for q in inner.senders.values() {
                for tx in q.txs.range(q.state_nonce..q.pending_end()).map(|(_, t)| t) {
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
    pub(crate) fn pending_run(&self, sender: &Address, nonce: u64, max: usize) -> Vec<Arc<PoolTx>> {
        let inner = self.inner.read();
        let Some(q) = inner.senders.get(sender) else { return Vec::new() };
        let end = q.pending_end();
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
        self.set_state_nonces(senders, rejected);
    }

    /// Updates the pool after the chain was unwound (a reorg), **before** the unwound blocks'
    /// transactions are added back: `accounts` are the accounts whose nonce the unwound blocks
    /// changed (the senders of their transactions and any EIP-7702 authorities), each with its
    /// nonce in the state of the new head. Accounts the pool does not know are ignored.
    ///
    /// Each known sender's state nonce is set to the given one, lower or higher: its
    /// transactions below it are dropped and its pending run is counted again from it. Without
    /// this, a sender whose nonce went down would keep the pool's higher nonce, and its
    /// re-added transactions would be refused as "nonce too low" while those above them wait
    /// for them forever (security review M8).
    pub fn on_reorg(&self, accounts: impl IntoIterator<Item = (Address, u64)>) {
        self.set_state_nonces(accounts, []);
    }

    fn set_state_nonces(
        &self,
        accounts: impl IntoIterator<Item = (Address, u64)>,
        rejected: impl IntoIterator<Item = B256>,
    ) {
        let mut promoted = Vec::new();
        {
            let mut inner = self.inner.write();
            for hash in rejected {
                inner.remove(&hash);
            }
            for (sender, state_nonce) in accounts {
                promoted.extend(inner.set_state_nonce(&sender, state_nonce));
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

#[cfg(test)]
mod tests;

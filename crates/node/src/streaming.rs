//! Building a block while its slot runs.
//!
//! With a fixed slot (the dev chain's `--dev.block-time`), waiting for the slot's end and only
//! then executing everything that arrived puts the whole execution between the slot's end and
//! the new head. [`StreamingPayload`] instead hands the block builder the pool's pending
//! transactions at the start of the slot (best first), then each transaction as it becomes
//! pending (polling the pool's notifications) until the slot ends. At the end only the roots
//! and the commit remain.
//!
//! Pool work stays proportional to what the block includes: arrivals come from the pool's
//! pending notifications, and each one costs a lookup of its sender's run from where the block
//! has got to.

use alloy_primitives::{Address, B256};
use dbc_evm::PayloadTransactions;
use dbc_primitives::{Recovered, TxEnvelope};
use dbc_txpool::{BestTransactions, PoolTx, TxPool};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::broadcast::{Receiver, error::TryRecvError};

/// Transactions of one sender fetched from the pool per lookup.
const RUN: usize = 256;

/// How long the builder sleeps when nothing has arrived: 1 ms after an arrival, doubling while
/// nothing comes, up to 16 ms (an idle dev node then wakes ~60 times a second). Arrivals during a
/// sleep are still taken before the slot ends. (A tokio timer would avoid polling but cannot be
/// waited on from this blocking thread while the runtime shuts down.)
const IDLE_POLL_MIN: Duration = Duration::from_millis(1);
const IDLE_POLL_MAX: Duration = Duration::from_millis(16);

/// A block's transactions: the pool's pending ones at the start of the slot, then arrivals
/// until `deadline`.
pub(crate) struct StreamingPayload<'a> {
    pool: &'a TxPool,
    /// The pool's pending transactions when the slot opened; `None` once exhausted.
    best: Option<BestTransactions<'a>>,
    /// Pending at the start, for sizing the builder's buffers.
    hint: usize,
    /// Hashes of transactions that became pending (subscribed before `best` was taken, so
    /// nothing falls between the two).
    arrivals: Receiver<B256>,
    /// Fetched from the pool, to be handed out in order.
    ready: VecDeque<Arc<PoolTx>>,
    /// Per sender, the nonce its next transaction in this block must have.
    next_nonce: HashMap<Address, u64>,
    /// Per sender, the nonce after the last one queued in `ready` (runs are fetched from
    /// there, so each transaction is fetched once).
    fetched: HashMap<Address, u64>,
    /// Senders whose last transaction could not be included.
    skipped: HashSet<Address>,
    deadline: Instant,
    /// The block's base fee: a transaction whose fee cap is below it waits in the pool.
    base_fee: u64,
    /// Set when the block will be dropped (the node is shutting down, or a proof-of-stake
    /// producer abandons it for a competing block): end it now.
    stop: &'a AtomicBool,
    /// The next idle sleep.
    idle: Duration,
    /// The slot has ended: hand out what is queued, take no more arrivals.
    closing: bool,
}

impl<'a> StreamingPayload<'a> {
    /// Transactions from `pool` for a block whose slot ends at `deadline` (or earlier, once
    /// `stop` is set); `base_fee` is the block's base fee.
    pub(crate) fn new(
        pool: &'a TxPool,
        base_fee: u64,
        hint: usize,
        deadline: Instant,
        stop: &'a AtomicBool,
    ) -> Self {
        let arrivals = pool.subscribe_pending();
        Self {
            pool,
            best: Some(pool.best(base_fee)),
            hint,
            arrivals,
            ready: VecDeque::new(),
            next_nonce: HashMap::new(),
            fetched: HashMap::new(),
            skipped: HashSet::new(),
            deadline,
            base_fee,
            stop,
            idle: IDLE_POLL_MIN,
            closing: false,
        }
    }

    /// Hands out `tx`, recording where its sender has got to.
    fn take(&mut self, tx: &PoolTx) -> Recovered<TxEnvelope> {
        self.next_nonce.insert(tx.sender(), tx.nonce() + 1);
        tx.tx.clone()
    }

    /// Where `sender`'s next transaction to fetch starts: after what the block took and what is
    /// already queued (`None`: nothing of it yet, start at its nonce in the head state).
    fn frontier(&self, sender: &Address) -> Option<u64> {
        match (self.next_nonce.get(sender), self.fetched.get(sender)) {
            (Some(a), Some(b)) => Some(*a.max(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    /// Queues the pending run of `sender` from its frontier.
    fn fetch_sender(&mut self, sender: Address) {
        if self.skipped.contains(&sender) {
            return;
        }
        let run = self.pool.pending_from(&sender, self.frontier(&sender), RUN);
        if let Some(last) = run.last() {
            self.fetched.insert(sender, last.nonce() + 1);
        }
        self.ready.extend(run);
    }

    /// Queues what the arrival of `hash` makes executable.
    fn on_arrival(&mut self, hash: B256) {
        let Some(tx) = self.pool.get(&hash) else { return };
        let sender = tx.sender();
        // Already in the block or queued (the start-of-slot pass or an earlier run saw it).
        if self.frontier(&sender).is_some_and(|n| tx.nonce() < n) {
            return;
        }
        self.fetch_sender(sender);
    }

    /// Notifications were lost: catches up from the pool's pending set.
    fn catch_up(&mut self) {
        let pending = self.pool.pending_by_arrival(self.pool.status().pending);
        let mut seen = HashSet::new();
        for tx in pending {
            if seen.insert(tx.sender()) {
                self.fetch_sender(tx.sender());
            }
        }
    }

    /// Handles one arrival if there is one. Returns false when nothing has arrived.
    fn receive(&mut self) -> bool {
        match self.arrivals.try_recv() {
            Ok(hash) => self.on_arrival(hash),
            Err(TryRecvError::Lagged(_)) => self.catch_up(),
            Err(TryRecvError::Empty | TryRecvError::Closed) => return false,
        }
        self.idle = IDLE_POLL_MIN;
        true
    }

    /// The slot has ended or the node is shutting down.
    fn over(&self) -> bool {
        Instant::now() >= self.deadline || self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps briefly when nothing has arrived. Returns false at the end of the slot.
    fn wait(&mut self) -> bool {
        let now = Instant::now();
        if self.over() {
            return false;
        }
        std::thread::sleep(self.idle.min(self.deadline - now));
        self.idle = (self.idle * 2).min(IDLE_POLL_MAX);
        true
    }

    /// The next queued transaction that follows its sender's last one in this block.
    fn pop_ready(&mut self) -> Option<Recovered<TxEnvelope>> {
        while let Some(tx) = self.ready.pop_front() {
            let sender = tx.sender();
            let in_order = self.next_nonce.get(&sender).is_none_or(|n| *n == tx.nonce());
            if !in_order || self.skipped.contains(&sender) {
                continue;
            }
            if tx.effective_tip(self.base_fee).is_none() {
                // Underpriced for this block (as the pool's best-first order treats it): it and
                // the sender's later ones stay in the pool.
                self.skipped.insert(sender);
                continue;
            }
            return Some(self.take(&tx));
        }
        None
    }
}

impl PayloadTransactions for StreamingPayload<'_> {
    fn next_tx(&mut self) -> Option<Recovered<TxEnvelope>> {
        // Stopped (shutting down, or the block is abandoned for a competing one): the block is
        // dropped, so end it at once.
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(best) = &mut self.best {
            if let Some(tx) = best.next_tx() {
                return Some(self.take(&tx));
            }
            self.best = None;
        }
        // What was pending at the start is never cut short (even when the slot opened late);
        // arrivals are taken until the slot ends. A flood that keeps arriving cannot stretch
        // the slot: at its end, what has been announced is queued and nothing more.
        loop {
            if let Some(tx) = self.pop_ready() {
                return Some(tx);
            }
            if self.closing {
                return None;
            }
            if self.over() || (!self.receive() && !self.wait()) {
                // Take what was announced before the end, not what keeps arriving after it
                // (and catch up at most once if announcements were lost meanwhile).
                self.closing = true;
                let mut lagged = false;
                for _ in 0..self.arrivals.len() {
                    match self.arrivals.try_recv() {
                        Ok(hash) => self.on_arrival(hash),
                        Err(TryRecvError::Lagged(_)) => lagged = true,
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                if lagged {
                    self.catch_up();
                }
            }
        }
    }

    fn skip_sender(&mut self, sender: Address) {
        self.skipped.insert(sender);
        if let Some(best) = &mut self.best {
            best.skip_sender(sender);
        }
    }

    fn size_hint(&self) -> usize {
        self.hint
    }

    fn prefetch(&self) -> Vec<Address> {
        // The accounts of what is pending now; later arrivals are read as they execute, while
        // the slot still runs.
        crate::pending_accounts(self.pool, self.hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{Signature, TxKind, U256};
    use dbc_txpool::PoolConfig;

    /// A transaction from `sender` with `nonce` (hashes differ by sender and nonce).
    fn tx(sender: u8, nonce: u64) -> Recovered<TxEnvelope> {
        let inner = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::with_last_byte(0xee)),
            value: U256::from(u64::from(sender) << 32 | nonce),
            ..Default::default()
        };
        let signed = inner.into_signed(Signature::test_signature());
        Recovered::new_unchecked(TxEnvelope::Eip1559(signed), Address::with_last_byte(sender))
    }

    static NO_STOP: AtomicBool = AtomicBool::new(false);

    fn add(pool: &TxPool, sender: u8, nonce: u64) {
        pool.add(tx(sender, nonce), 100, 0).expect("add");
    }

    /// Drains `payload` until the slot ends, as the block builder does.
    fn drain(payload: &mut StreamingPayload<'_>) -> Vec<(u8, u64)> {
        let mut out = Vec::new();
        while let Some(t) = payload.next_tx() {
            out.push((t.signer().0[19], alloy_consensus::Transaction::nonce(t.inner())));
        }
        out
    }

    /// Each sender's nonces appear once each, in order from 0.
    fn assert_in_order(seen: &[(u8, u64)]) {
        let mut next: HashMap<u8, u64> = HashMap::new();
        for (sender, nonce) in seen {
            let expected = next.entry(*sender).or_default();
            assert_eq!(nonce, expected, "sender {sender} in {seen:?}");
            *expected += 1;
        }
    }

    #[test]
    fn hands_out_what_is_pending_then_arrivals_until_the_slot_ends() {
        let pool = TxPool::new(PoolConfig::default());
        add(&pool, 1, 0);
        add(&pool, 1, 1);
        add(&pool, 2, 0);
        let deadline = Instant::now() + Duration::from_millis(300);
        let mut payload = StreamingPayload::new(&pool, 0, 3, deadline, &NO_STOP);
        let seen = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                add(&pool, 1, 2);
                // Out of order: 3:1 waits in the queue until 3:0 arrives.
                add(&pool, 3, 1);
                add(&pool, 3, 0);
                // Behind a gap: never pending, never handed out.
                add(&pool, 4, 1);
            });
            drain(&mut payload)
        });
        assert!(Instant::now() >= deadline, "returned None only at the end of the slot");
        assert_in_order(&seen);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, vec![(1, 0), (1, 1), (1, 2), (2, 0), (3, 0), (3, 1)]);
        // The three pending at the start come first.
        assert!(seen[..3].iter().all(|(s, _)| *s != 3), "{seen:?}");
    }

    #[test]
    fn stopping_ends_the_block_before_the_slot_does() {
        let pool = TxPool::new(PoolConfig::default());
        add(&pool, 1, 0);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let mut payload =
            StreamingPayload::new(&pool, 0, 1, started + Duration::from_secs(60), &stop);
        let seen = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                stop.store(true, Ordering::Relaxed);
            });
            drain(&mut payload)
        });
        assert_eq!(seen, vec![(1, 0)]);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn arrivals_that_keep_coming_do_not_stretch_the_slot() {
        let pool = TxPool::new(PoolConfig::default());
        let deadline = Instant::now() + Duration::from_millis(100);
        let mut payload = StreamingPayload::new(&pool, 0, 0, deadline, &NO_STOP);
        // The flood runs until the block has ended (or, as a bound, until it has sent far more
        // than one slot could take). The assertion is about order, not about wall-clock time,
        // so a slow machine cannot fail it: the block must end while the flood is still going.
        let block_ended = AtomicBool::new(false);
        let flood_gave_up = AtomicBool::new(false);
        let (seen, flood_running_at_end) = std::thread::scope(|s| {
            s.spawn(|| {
                for nonce in 0..100_000 {
                    for sender in 1..=200 {
                        if block_ended.load(Ordering::Acquire) {
                            return;
                        }
                        // A full pool refuses; the flood goes on regardless.
                        let _ = pool.add(tx(sender, nonce), 100, 0);
                    }
                }
                flood_gave_up.store(true, Ordering::Release);
            });
            let seen = drain(&mut payload);
            let running = !flood_gave_up.load(Ordering::Acquire);
            block_ended.store(true, Ordering::Release);
            (seen, running)
        });
        assert!(Instant::now() >= deadline);
        assert!(flood_running_at_end, "the block waited for the flood to stop");
        assert!(!seen.is_empty());
        assert_in_order(&seen);
    }

    #[test]
    fn an_arrival_below_the_base_fee_waits_in_the_pool() {
        let pool = TxPool::new(PoolConfig::default());
        let deadline = Instant::now() + Duration::from_millis(100);
        // The test transactions' fee cap is 10.
        let mut payload = StreamingPayload::new(&pool, 11, 0, deadline, &NO_STOP);
        add(&pool, 1, 0);
        add(&pool, 1, 1);
        assert!(drain(&mut payload).is_empty());
        assert_eq!(pool.status().pending, 2, "still pooled");
        let mut cheaper = StreamingPayload::new(&pool, 10, 2, Instant::now(), &NO_STOP);
        assert_eq!(drain(&mut cheaper), vec![(1, 0), (1, 1)]);
    }

    #[test]
    fn a_skipped_sender_gets_nothing_more_in_this_block() {
        let pool = TxPool::new(PoolConfig::default());
        add(&pool, 1, 0);
        let deadline = Instant::now() + Duration::from_millis(100);
        let mut payload = StreamingPayload::new(&pool, 0, 1, deadline, &NO_STOP);
        assert!(payload.next_tx().is_some());
        payload.skip_sender(Address::with_last_byte(1));
        add(&pool, 1, 1);
        add(&pool, 2, 0);
        assert_eq!(drain(&mut payload), vec![(2, 0)]);
    }

    #[test]
    fn catches_up_from_the_pool_when_notifications_were_lost() {
        let pool = TxPool::new(PoolConfig::default());
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut payload = StreamingPayload::new(&pool, 0, 0, deadline, &NO_STOP);
        // More arrivals than the notification channel holds before the builder looks: the
        // oldest notifications, the only ones of senders 1 to 200, are lost.
        for sender in 1..=200 {
            add(&pool, sender, 0);
        }
        for nonce in 0..1000 {
            for sender in 201..=217 {
                add(&pool, sender, nonce);
            }
        }
        let seen = drain(&mut payload);
        assert_in_order(&seen);
        assert_eq!(seen.len(), 17_200);
    }
}

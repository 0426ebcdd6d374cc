//! Unit tests of the pool.

use super::*;
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Signature, TxKind};
use std::time::{Duration, Instant};

/// A transfer of `value` from `sender` (gas 21,000).
fn transfer(
    sender: Address,
    nonce: u64,
    max_fee: u128,
    tip: u128,
    value: u64,
) -> Recovered<TxEnvelope> {
    let inner = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::with_last_byte(0xee)),
        value: U256::from(value),
        // The pool trusts the recovered sender and the signature is fixed: the sender in the
        // input keeps two senders' otherwise equal transactions apart (distinct hashes).
        input: sender.to_vec().into(),
        ..Default::default()
    };
    let signed = inner.into_signed(Signature::test_signature());
    Recovered::new_unchecked(TxEnvelope::Eip1559(signed), sender)
}

fn tx(sender: u8, nonce: u64, max_fee: u128, tip: u128) -> Recovered<TxEnvelope> {
    transfer(Address::with_last_byte(sender), nonce, max_fee, tip, 1)
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

fn valid(tx: Recovered<TxEnvelope>, state_nonce: u64, balance: u64) -> ValidTransaction {
    ValidTransaction { tx, size: 100, state_nonce, balance: U256::from(balance) }
}

#[test]
fn l6_pooled_transactions_of_a_sender_may_not_cost_more_than_its_balance() {
    let p = pool();
    let s = Address::with_last_byte(1);
    // Each costs 21,000 × 10 + 1 = 210,001; the balance covers three.
    let balance = 3 * 210_001;
    for n in 0..3 {
        assert_eq!(p.add_valid(valid(tx(1, n, 10, 1), 0, balance)), Ok(AddOutcome::Pending));
    }
    assert_eq!(p.add_valid(valid(tx(1, 3, 10, 1), 0, balance)), Err(PoolError::Overdraft));
    // Queued transactions count too.
    assert_eq!(p.add_valid(valid(tx(1, 9, 10, 1), 0, balance)), Err(PoolError::Overdraft));
    // A replacement counts instead of the transaction it replaces: a higher fee overdraws.
    assert_eq!(p.add_valid(valid(tx(1, 2, 20, 2), 0, balance)), Err(PoolError::Overdraft));
    assert_eq!(p.add_valid(valid(tx(1, 2, 20, 2), 0, balance + 210_000)), Ok(AddOutcome::Pending));
    // Another sender has its own budget.
    assert_eq!(p.add_valid(valid(tx(2, 0, 10, 1), 0, 210_001)), Ok(AddOutcome::Pending));
    // Once a block includes some, the rest fit the balance the next validation reads.
    p.on_new_block([(s, 2)], []);
    assert_eq!(p.add_valid(valid(tx(1, 3, 10, 1), 2, balance)), Ok(AddOutcome::Pending));
    assert_eq!(p.status(), PoolStatus { pending: 3, queued: 0 });
    p.inner.read().assert_consistent();
}

#[test]
fn l6_transactions_per_sender_are_bounded() {
    let config =
        PoolConfig { max_txs_per_sender: 4, max_queued_per_sender: 2, ..Default::default() };
    let p = TxPool::new(config);
    for n in 0..4 {
        p.add(tx(1, n, 10, 1), 100, 0).expect("within the limit");
    }
    assert_eq!(p.add(tx(1, 4, 10, 1), 100, 0), Err(PoolError::AccountLimit));
    // A replacement is not an extra transaction.
    assert_eq!(p.add(tx(1, 3, 20, 2), 100, 0), Ok(AddOutcome::Pending));
    // Behind a gap: two at most, but the gap itself can still be filled.
    assert_eq!(p.add(tx(2, 5, 10, 1), 100, 0), Ok(AddOutcome::Queued));
    assert_eq!(p.add(tx(2, 6, 10, 1), 100, 0), Ok(AddOutcome::Queued));
    assert_eq!(p.add(tx(2, 7, 10, 1), 100, 0), Err(PoolError::AccountLimit));
    assert_eq!(p.add(tx(2, 0, 10, 1), 100, 0), Ok(AddOutcome::Pending));
    assert_eq!(p.status(), PoolStatus { pending: 5, queued: 2 });
    p.inner.read().assert_consistent();
}

/// A full pool of 200k senders with one transaction each; times adds that each evict one.
/// Prints the figures (a benchmark, not a timed assertion): before the ordered index, each add
/// scanned every sender.
#[test]
fn l6_full_pool_of_200k_senders_evicts_without_scanning_them() {
    const SENDERS: u32 = 200_000;
    const ADDS: u32 = 2_000;
    let p = TxPool::new(PoolConfig { max_txs: SENDERS as usize, ..Default::default() });
    let sender = |i: u32| Address::left_padding_from(&i.to_be_bytes());
    let fill = Instant::now();
    for i in 0..SENDERS {
        let fee = 1_000 + u128::from(i % 5_000);
        p.add(transfer(sender(i), 0, fee, 1, i.into()), 100, 0).expect("fill");
    }
    let fill = fill.elapsed();
    assert_eq!(p.status().pending, SENDERS as usize);
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for i in SENDERS..SENDERS + ADDS {
        let one = Instant::now();
        p.add(transfer(sender(i), 0, 10_000, 1, i.into()), 100, 0).expect("evicts the cheapest");
        slowest = slowest.max(one.elapsed());
    }
    let per_add = started.elapsed() / ADDS;
    // What each add cost before: a scan of all senders for the cheapest last transaction.
    let scan = {
        let inner = p.inner.read();
        let started = Instant::now();
        let victim = inner
            .senders
            .values()
            .filter_map(|q| q.txs.values().next_back())
            .min_by(|a, b| a.max_fee().cmp(&b.max_fee()).then(b.seq.cmp(&a.seq)))
            .map(|t| t.hash);
        let scan = started.elapsed();
        assert_eq!(victim, inner.eviction_candidate(&Address::ZERO).map(|t| t.hash));
        scan
    };
    eprintln!(
        "l6 bench: {SENDERS} senders filled in {fill:?}; add with eviction: mean {per_add:?}, \
         slowest {slowest:?}; one scan of all senders (the old eviction) {scan:?}"
    );
    assert_eq!(p.status().pending, SENDERS as usize);
    // The cheapest were evicted: fees 1,000 and 1,001 (40 senders each) and so on.
    assert!(p.content().0.values().flatten().all(|t| t.max_fee() >= 1_000 + u128::from(ADDS / 40)));
    p.inner.read().assert_consistent();
}

#[test]
fn m8_after_a_reorg_readded_transactions_below_the_old_nonce_are_pending_again() {
    let p = pool();
    let s = Address::with_last_byte(1);
    for n in 0..4 {
        p.add(tx(1, n, 10, 1), 100, 0).expect("add");
    }
    // A block includes nonces 0 and 1.
    p.on_new_block([(s, 2)], []);
    assert_eq!(p.status(), PoolStatus { pending: 2, queued: 0 });
    // The block is unwound: the head state nonce is 0 again. Until the pool hears of it, the
    // re-added transactions cannot go in, and 2 and 3 are not executable.
    assert_eq!(p.add(tx(1, 0, 10, 1), 100, 0), Err(PoolError::NonceTooLow { expected: 2, got: 0 }));
    p.on_reorg([(s, 0), (Address::with_last_byte(9), 5)]);
    assert_eq!(p.status(), PoolStatus { pending: 0, queued: 2 });
    assert_eq!(p.pending_nonce(&s), Some(0));
    let mut sub = p.subscribe_pending();
    assert_eq!(p.add(tx(1, 1, 10, 1), 100, 0), Ok(AddOutcome::Queued));
    assert_eq!(p.add(tx(1, 0, 10, 1), 100, 0), Ok(AddOutcome::Pending));
    assert_eq!(p.status(), PoolStatus { pending: 4, queued: 0 });
    assert_eq!(std::iter::from_fn(|| sub.try_recv().ok()).count(), 4, "all four promoted");
    let mut best = p.best(0);
    assert_eq!(ids(std::iter::from_fn(|| best.next_tx())), vec![(1, 0), (1, 1), (1, 2), (1, 3)]);
    // A reorg onto a branch where the sender got further drops what that branch included.
    p.on_reorg([(s, 3)]);
    assert_eq!(p.status(), PoolStatus { pending: 1, queued: 0 });
    p.inner.read().assert_consistent();
}

#[test]
fn m8_a_validation_older_than_the_last_block_neither_lowers_nor_stalls_the_sender() {
    let p = pool();
    let s = Address::with_last_byte(1);
    for n in 0..3 {
        p.add(tx(1, n, 10, 1), 100, 0).expect("add");
    }
    p.on_new_block([(s, 1)], []);
    // Nonce 0 was validated against the state before that block (state nonce 0): refused,
    // instead of being pooled below the sender's nonce, which left it with no pending run.
    assert_eq!(p.add(tx(1, 0, 20, 2), 100, 0), Err(PoolError::NonceTooLow { expected: 1, got: 0 }));
    assert_eq!(p.status(), PoolStatus { pending: 2, queued: 0 });
    // A validation newer than the pool's last block raises the pool's nonce.
    assert_eq!(p.add(tx(1, 3, 10, 1), 100, 2), Ok(AddOutcome::Pending));
    assert_eq!(p.status(), PoolStatus { pending: 2, queued: 0 });
    assert_eq!(p.pending_nonce(&s), Some(4));
    p.inner.read().assert_consistent();
}

/// Random adds, replacements, blocks, reorgs and removals on a small pool keep the pending
/// counts, the hash index and the eviction index equal to a recount.
#[test]
fn bookkeeping_matches_a_recount_under_random_operations() {
    let config = PoolConfig {
        max_txs: 24,
        max_nonce_gap: 12,
        max_txs_per_sender: 8,
        max_queued_per_sender: 4,
        ..Default::default()
    };
    let p = TxPool::new(config);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut nonces = [0u64; 6];
    for _ in 0..20_000 {
        let s = next(6) as usize;
        let sender = Address::with_last_byte(s as u8 + 1);
        match next(10) {
            0..=5 => {
                let nonce = nonces[s] + next(10);
                let fee = 10 + u128::from(next(40));
                let t = transfer(sender, nonce, fee, 1, next(3));
                let _ = p.add_valid(valid(t, nonces[s], 2_000_000 + 500_000 * next(8)));
            }
            6 => {
                nonces[s] += next(3);
                p.on_new_block([(sender, nonces[s])], []);
            }
            7 => {
                nonces[s] = nonces[s].saturating_sub(next(3));
                p.on_reorg([(sender, nonces[s])]);
            }
            _ => {
                let victim = p.content().1.values().flatten().next().map(|t| t.hash);
                if let Some(h) = victim {
                    p.remove(&h);
                }
            }
        }
        p.inner.read().assert_consistent();
    }
}

//! Transactions on gossip. What this node gossips (transactions accepted through RPC) is
//! gathered for [`FLUSH_EVERY`] into one batch, an RLP list of EIP-2718 encodings, so that a
//! gossip message's signature check and envelope are paid once a batch instead of once a
//! transaction (at thousands of transfers a second they were a quarter of a validator's CPU). A
//! received batch is decoded strictly, its transactions validated in parallel (one signature
//! recovery each) and pooled; one undecodable transaction makes the whole batch garbage.

use super::{GARBAGE_PENALTY, PosNode};
use alloy_primitives::Bytes;
use alloy_rlp::Decodable;
use dbc_network::{MAX_TX_BATCH_SIZE, MAX_TXS_PER_BATCH, Peer, Topic, Verdict};
use rayon::prelude::*;
use std::{sync::Arc, time::Duration};

/// How long transactions to gossip are gathered before they go out as one batch.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Room kept in a batch for its list header.
const LIST_SLACK: usize = 16;

/// Transactions waiting to be gossiped.
#[derive(Debug, Default)]
pub(super) struct TxBatch {
    txs: Vec<Bytes>,
    /// Their encoded size in the list.
    bytes: usize,
}

impl TxBatch {
    /// Adds `raw`; returns the batch to send first if `raw` would not fit in it.
    fn push(&mut self, raw: &[u8]) -> Option<Vec<Bytes>> {
        let size = alloy_rlp::Encodable::length(raw);
        let full = self.bytes + size + LIST_SLACK > MAX_TX_BATCH_SIZE
            || self.txs.len() >= MAX_TXS_PER_BATCH;
        let out = if full { Some(self.take()) } else { None };
        self.txs.push(Bytes::copy_from_slice(raw));
        self.bytes += size;
        out.filter(|b| !b.is_empty())
    }

    fn take(&mut self) -> Vec<Bytes> {
        self.bytes = 0;
        std::mem::take(&mut self.txs)
    }
}

/// Decodes a gossiped batch strictly: one RLP list of byte strings, canonical, nothing after
/// it, not empty and at most [`MAX_TXS_PER_BATCH`] transactions.
pub(super) fn decode_batch(data: &[u8]) -> Result<Vec<Bytes>, String> {
    let mut rest = data;
    let txs = Vec::<Bytes>::decode(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after the batch".into());
    }
    if txs.is_empty() || txs.len() > MAX_TXS_PER_BATCH {
        return Err(format!("a batch of {} transactions", txs.len()));
    }
    if alloy_rlp::encode(&txs) != data {
        return Err("non-canonical batch encoding".into());
    }
    Ok(txs)
}

impl PosNode {
    /// Queues a transaction accepted through RPC for gossip: it goes out with the next batch,
    /// within [`FLUSH_EVERY`] (or at once if the batch is full).
    pub(crate) fn gossip_tx(&self, raw: &[u8]) {
        let full = self.tx_batch.lock().push(raw);
        if let Some(batch) = full {
            self.publish_txs(&batch);
        }
    }

    /// Sends what is queued.
    pub(super) fn flush_txs(&self) {
        let batch = self.tx_batch.lock().take();
        if !batch.is_empty() {
            self.publish_txs(&batch);
        }
    }

    fn publish_txs(&self, batch: &[Bytes]) {
        if let Some(net) = self.net() {
            let mut out = Vec::with_capacity(MAX_TX_BATCH_SIZE.min(64 << 10));
            alloy_rlp::encode_list::<Bytes, Bytes>(batch, &mut out);
            net.publish(Topic::Txs, out);
        }
    }
}

/// Flushes the gossip batch every [`FLUSH_EVERY`].
pub(super) async fn flush_loop(node: Arc<PosNode>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        node.flush_txs();
    }
}

/// A batch from a peer: garbage (an undecodable batch or transaction) costs the sender and is
/// not forwarded; valid transactions are pooled, and the batch is forwarded if any was new.
pub(super) async fn on_gossip_txs(node: &Arc<PosNode>, data: Vec<u8>, from: Peer) -> Verdict {
    let n = node.clone();
    let verdict = tokio::task::spawn_blocking(move || n.receive_txs(&data, from)).await;
    verdict.unwrap_or(Verdict::Ignore)
}

impl PosNode {
    pub(super) fn receive_txs(&self, data: &[u8], from: Peer) -> Verdict {
        let txs = match decode_batch(data) {
            Ok(t) => t,
            Err(e) => {
                self.penalize(from, GARBAGE_PENALTY, format!("bad transaction batch: {e}"));
                return Verdict::Reject;
            }
        };
        let head = self.chain.head();
        let checked: Vec<_> =
            txs.par_iter().map(|raw| self.validator.validate_raw(raw, head.inner())).collect();
        // Undecodable or above the transaction size limit (which a batch could otherwise
        // smuggle past the topic's per-message limit): garbage.
        let garbage = |r: &&Result<_, dbc_txpool::ValidationError>| {
            matches!(
                r,
                Err(dbc_txpool::ValidationError::Decode(_)
                    | dbc_txpool::ValidationError::Oversized { .. })
            )
        };
        if let Some(Err(e)) = checked.iter().find(garbage) {
            self.penalize(from, GARBAGE_PENALTY, format!("bad transaction: {e}"));
            return Verdict::Reject;
        }
        let mut added = 0usize;
        for valid in checked.into_iter().flatten() {
            // The sender's pooled transactions together must fit its balance (L6).
            if self.pool.add_valid(valid).is_ok() {
                added += 1;
            }
        }
        // Valid encodings that are not acceptable here now (nonce, fee, balance, known) are
        // not forwarded again.
        if added > 0 { Verdict::Accept } else { Verdict::Ignore }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_fill_up_to_the_limits_and_decode_strictly() {
        let mut b = TxBatch::default();
        let tx = vec![0xab; 1_000];
        let mut sent = Vec::new();
        for _ in 0..2_000 {
            if let Some(full) = b.push(&tx) {
                let encoded = alloy_rlp::encode(&full);
                assert!(encoded.len() <= MAX_TX_BATCH_SIZE, "{}", encoded.len());
                assert_eq!(decode_batch(&encoded).expect("decodes"), full);
                sent.push(full.len());
            }
        }
        assert!(sent.len() >= 3 && sent.iter().all(|n| *n > 500), "{sent:?}");
        let rest = b.take();
        assert_eq!(sent.iter().sum::<usize>() + rest.len(), 2_000);
        assert!(b.take().is_empty());

        let small = vec![Bytes::from_static(&[1, 2, 3])];
        let mut many = TxBatch::default();
        let mut count = 0;
        for _ in 0..=MAX_TXS_PER_BATCH {
            if let Some(full) = many.push(&small[0]) {
                count = full.len();
            }
        }
        assert_eq!(count, MAX_TXS_PER_BATCH, "a batch holds at most MAX_TXS_PER_BATCH");

        let good = alloy_rlp::encode(&small);
        assert!(decode_batch(&good).is_ok());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode_batch(&trailing).expect_err("trailing").contains("trailing"));
        assert!(decode_batch(&alloy_rlp::encode(Vec::<Bytes>::new())).is_err(), "empty");
        assert!(decode_batch(&[0xff; 8]).is_err(), "garbage");
        // A long-form length for a short list is not canonical.
        let mut long_form = vec![0xf8, good.len() as u8 - 1];
        long_form.extend_from_slice(&good[1..]);
        assert!(decode_batch(&long_form).is_err(), "non-canonical");
        let too_many: Vec<Bytes> = vec![Bytes::from_static(&[1]); MAX_TXS_PER_BATCH + 1];
        assert!(decode_batch(&alloy_rlp::encode(&too_many)).is_err(), "too many");
    }
}

//! The validator's block production: wait for its slot, build, seal under the persisted
//! watermark (never two headers for one slot, across restarts and unwinds), commit, gossip.

use super::{PosNode, codec::encode_block};
use crate::{NodeError, finish_block};
use alloy_primitives::Bytes;
use dbc_consensus::{ConsensusEngine, pos::PosEngine};
use dbc_evm::BlockAttributes;
use dbc_network::Topic;
use dbc_primitives::{Block, Sealable, pos};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::warn;

pub(super) async fn produce(
    node: Arc<PosNode>,
    engine: Arc<PosEngine>,
    gas_limit: u64,
) -> Result<(), NodeError> {
    // After a restart, hear from peers first: sealing on a stale head only makes a fork that
    // the node then has to unwind. Waiting is bounded, and continues only while a peer is
    // delivering valid blocks (a claim alone does not hold production back).
    for _ in 0..30 {
        if node.net().is_some_and(|n| n.peer_count() > 0) && node.chain.head_number() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while node.behind() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let changed = node.head_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let parent = node.chain.head();
        let slot = tokio::select! {
            slot = engine.next_slot(&parent, &node.pool) => slot,
            _ = changed => continue,
        };
        if node.behind() {
            // A peer is proving, block by block, that our head is old: do not fork off it.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let (n, e) = (node.clone(), engine.clone());
        let produced =
            tokio::task::spawn_blocking(move || n.seal_and_commit(&e, &parent, slot, gas_limit))
                .await
                .map_err(|x| NodeError::Production(x.to_string()))?;
        let produced = match produced {
            Ok(p) => p,
            Err(e) => {
                // Skip this slot (a backup proposer takes it); the node keeps following. The
                // trie was put back by `build_sealed`/`commit_or_restore`.
                warn!(target: "dbc::pos", error = %e, "block production failed");
                tokio::time::sleep(Duration::from_secs(node.slot_secs())).await;
                continue;
            }
        };
        if let Some(blocks) = produced {
            if let Some(net) = node.net() {
                for b in blocks {
                    net.publish(Topic::Blocks, b.to_vec());
                }
            }
            node.after_new_head();
        }
    }
}

impl PosNode {
    /// Builds the block after `parent` in `slot`, seals it (under the persisted watermark) and
    /// commits it. Returns the encoded block(s) to gossip, or `None` if the head moved since
    /// `parent` was read. The head moves before the trie lock is released (security review M7),
    /// so whoever takes the lock next sees storage and `CanonChain` agree.
    pub(super) fn seal_and_commit(
        &self,
        engine: &PosEngine,
        parent: &dbc_primitives::SealedHeader,
        slot: dbc_consensus::Slot,
        gas_limit: u64,
    ) -> Result<Option<Vec<Bytes>>, NodeError> {
        let started = Instant::now();
        let mut trie = self.trie.lock();
        if self.chain.head().hash() != parent.hash() {
            return Ok(None);
        }
        let storage = self.storage().clone();
        let attrs = BlockAttributes {
            timestamp: slot.timestamp,
            beneficiary: slot.beneficiary,
            extra_data: slot.extra_data.clone(),
            gas_limit: gas_limit.clamp(
                parent.gas_limit - parent.gas_limit / 1024,
                parent.gas_limit + parent.gas_limit / 1024,
            ),
            staking_hook: slot.staking_hook.clone(),
            prev_randao: slot.prev_randao,
        };
        // Sealing records the slot in `<datadir>/last_seal` (fsynced) before the
        // signature exists; a slot already sealed is refused.
        let executed = crate::build_sealed(
            engine, &self.spec, parent, &storage, &self.pool, attrs, &mut trie, None,
        )?;
        let sealed = executed.block.header.inner().clone();
        if self.abort_after_seal {
            tracing::error!(
                target: "dbc::pos",
                number = sealed.number,
                timestamp = sealed.timestamp,
                "test hook: aborting after the seal, before commit and gossip"
            );
            std::process::abort();
        }
        let proof = pos::parse_extra(&sealed.extra_data)
            .ok()
            .and_then(|(x, _)| x.finality.into_iter().next());
        let mut out = vec![Bytes::from(encode_block(&executed.block))];
        if self.equivocate {
            // Test hook: a second block for the same slot (same contents, other vanity),
            // sealed past the watermark on purpose.
            let mut other = sealed.clone();
            let mut extra = other.extra_data.to_vec();
            extra[0] ^= 0xff;
            extra.truncate(extra.len() - pos::SEAL_LEN);
            other.extra_data = extra.into();
            let other =
                engine.seal_unguarded(other).map_err(|x| NodeError::Production(x.to_string()))?;
            let twin = Block {
                header: other.seal_slow(),
                transactions: executed.block.transactions.clone(),
                senders: executed.block.senders.clone(),
            };
            out.push(encode_block(&twin).into());
        }
        let commit_started = Instant::now();
        crate::commit_or_restore(&storage, &executed, &mut trie)?;
        // The head moves before the lock is released (security review M7).
        finish_block(&self.chain, &self.pool, executed, started, commit_started, "block sealed");
        drop(trie);
        if let Some(p) = proof {
            self.mark_finalized(p.number, true);
        }
        Ok(Some(out))
    }
}

//! The p2p event loop: every gossip message is checked and gets a verdict before the network
//! forwards it (security review H4), peers' statuses feed sync, and equivocation is recorded.

use super::{
    GARBAGE_PENALTY, INVALID_PENALTY, ImportError, PosNode,
    codec::{RawBlock, decode_raw_block},
    fork::heavier,
};
use alloy_rlp::{Decodable, Encodable};
use dbc_network::{NetEvent, Peer, Topic, Verdict};
use dbc_primitives::{
    BlockHeader,
    pos::{self, Vote},
};
use std::sync::{Arc, atomic::Ordering};
use tracing::{debug, warn};

/// Most double-signing evidence pairs kept for `dbc_getDoubleSignEvidence`.
pub(super) const MAX_EVIDENCE: usize = 256;

pub(super) async fn event_loop(
    node: Arc<PosNode>,
    mut events: tokio::sync::mpsc::Receiver<NetEvent>,
) {
    while let Some(ev) = events.recv().await {
        if let Some(net) = node.net() {
            node.info.peers.store(net.peer_count() as u64, Ordering::Relaxed);
            node.info.banned_peers.store(net.banned_count() as u64, Ordering::Relaxed);
        }
        match ev {
            NetEvent::Gossip { topic, data, from, id } => {
                let verdict = match topic {
                    Topic::Txs => super::txs::on_gossip_txs(&node, data, from).await,
                    Topic::Votes => match Vote::decode(&mut &data[..]) {
                        Ok(v) if alloy_rlp::encode(&v).len() == data.len() => {
                            let verdict = node.on_vote(v, Some(from));
                            if matches!(verdict, Verdict::Reject) {
                                node.penalize(from, INVALID_PENALTY, "invalid vote");
                            }
                            verdict
                        }
                        _ => {
                            node.penalize(from, GARBAGE_PENALTY, "undecodable vote");
                            Verdict::Reject
                        }
                    },
                    Topic::Blocks => on_gossip_block(&node, data, from).await,
                };
                if let Some(net) = node.net() {
                    net.report(id, verdict);
                }
            }
            NetEvent::PeerStatus { peer, status } => {
                let genesis = node.storage().block_hash(0).ok().flatten().unwrap_or_default();
                if status.genesis != genesis {
                    if let Some(net) = node.net() {
                        net.ban(peer, "another chain");
                    }
                    continue;
                }
                node.on_peer_claim(peer, status.head);
            }
            NetEvent::PeerGone(peer) => node.forget_peer(&peer),
        }
    }
}

/// What a gossiped block turned out to be.
enum Gossiped {
    Imported,
    /// Valid as far as we can tell, but not for our head (a gap or a competing branch): fetch.
    Sync(u64),
    /// Nothing to do (old, known, or recorded as evidence).
    Old,
    /// At or below our head, carrying a proof that finalizes a block we do not have: fetch
    /// the finalized branch from the forwarder.
    Rejoin(u64),
}

pub(super) async fn on_gossip_block(node: &Arc<PosNode>, data: Vec<u8>, from: Peer) -> Verdict {
    let n = node.clone();
    let outcome = tokio::task::spawn_blocking(move || -> Result<Gossiped, (u32, String)> {
        let mut block = decode_raw_block(&data).map_err(|e| (GARBAGE_PENALTY, e))?;
        let head = n.chain.head();
        let number = block.header.number;
        if number == head.number + 1 && block.header.parent_hash == head.hash() {
            // Checked before waiting for the trie lock (a producer may hold it for its slot);
            // only a block that passes may abandon our build on the same parent.
            n.precheck_block(&head, &mut block).map_err(|e| (INVALID_PENALTY, e))?;
            let hash = block.header.hash();
            n.abandon_for(head.hash(), hash);
            let mut trie = n.trie.lock();
            return match n.import_locked(&mut trie, block) {
                Ok(()) => Ok(Gossiped::Imported),
                Err(ImportError::NotNext(_)) => Ok(Gossiped::Old),
                Err(ImportError::Invalid(e)) => {
                    n.remember_failed(hash);
                    Err((INVALID_PENALTY, e))
                }
                Err(ImportError::Node(e)) => {
                    warn!(target: "dbc::pos", error = %e, "import failed");
                    Ok(Gossiped::Old)
                }
            };
        }
        if number <= head.number {
            // Old news, but still checked: a re-encoded seal or a body that is not the
            // header's is garbage from whoever sent it (security review C1, H4).
            let sealer = pos::recover_sealer(block.header.inner())
                .map_err(|e| (INVALID_PENALTY, format!("old block: {e}")))?;
            block
                .ensure_body_checked()
                .map_err(|e| (INVALID_PENALTY, format!("old block: {e}")))?;
            n.check_equivocation(block.header.inner());
            // A competing block at our height with the same parent and an earlier slot: the
            // in-turn block beats a backup's (security review M2).
            if number == head.number
                && number > n.chain.finalized().unwrap_or(0)
                && block.header.parent_hash == head.parent_hash
                && heavier(&block.header, &head)
            {
                // It would replace the head our build (if any) is on: checked against the
                // head's parent before the trie lock, then the build is abandoned.
                let parent = n.storage().header(head.number - 1).ok().flatten();
                let Some(parent) = parent else { return Ok(Gossiped::Old) };
                n.precheck_block(&parent, &mut block).map_err(|e| (INVALID_PENALTY, e))?;
                let hash = block.header.hash();
                n.abandon_for(head.hash(), hash);
                let replaced = n.try_tip_replacement(block);
                if replaced.is_err() {
                    n.remember_failed(hash);
                }
                return replaced;
            }
            // A proof finalizing a block we do not have at its height: the network finalized
            // a branch we are not on (`rejoin.rs`). A current validator's seal first.
            if let Ok((extra, _)) = pos::parse_extra(&block.header.extra_data)
                && let Some(proof) = extra.finality.first()
                && proof.number > n.chain.finalized().unwrap_or(0)
                && n.storage().block_hash(proof.number).ok().flatten() != Some(proof.hash)
                && n.set_for(&head).stake_of(sealer).is_some()
            {
                return Ok(Gossiped::Rejoin(number));
            }
            return Ok(Gossiped::Old);
        }
        // Ahead of us: before it may trigger anything its seal must be a current validator's
        // (a peer cannot make us sync towards, or report, a number it made up).
        let sealer = pos::recover_sealer(block.header.inner())
            .map_err(|e| (INVALID_PENALTY, format!("future block: {e}")))?;
        if n.set_for(&head).stake_of(sealer).is_none() {
            return Err((INVALID_PENALTY, format!("future block sealed by {sealer}")));
        }
        Ok(Gossiped::Sync(number))
    })
    .await;
    match outcome {
        Ok(Ok(Gossiped::Imported)) => {
            node.after_new_head();
            Verdict::Accept
        }
        Ok(Ok(Gossiped::Sync(number))) => {
            node.on_peer_claim(from, number);
            Verdict::Ignore
        }
        Ok(Ok(Gossiped::Rejoin(number))) => {
            node.rejoin(from, number);
            Verdict::Ignore
        }
        Ok(Ok(Gossiped::Old)) => Verdict::Ignore,
        Ok(Err((penalty, e))) => {
            debug!(target: "dbc::pos", peer = %from, error = %e, "invalid gossip block");
            node.penalize(from, penalty, e);
            Verdict::Reject
        }
        Err(e) => {
            warn!(target: "dbc::pos", error = %e, "block task failed");
            Verdict::Ignore
        }
    }
}

impl PosNode {
    /// Replaces our tip with a heavier sibling (same parent, earlier slot) if it is valid.
    fn try_tip_replacement(&self, block: RawBlock) -> Result<Gossiped, (u32, String)> {
        let mut trie = self.trie.lock();
        match self.import_fork(&mut trie, vec![block]) {
            Ok(0) => Ok(Gossiped::Old),
            Ok(_) => Ok(Gossiped::Imported),
            Err(ImportError::Invalid(e)) => Err((INVALID_PENALTY, e)),
            Err(ImportError::NotNext(_)) => Ok(Gossiped::Old),
            Err(ImportError::Node(e)) => {
                warn!(target: "dbc::pos", error = %e, "tip replacement failed");
                Ok(Gossiped::Old)
            }
        }
    }

    /// Records two headers of one validator for one slot as double-signing evidence: same
    /// number and timestamp, different signed content (seal hash), both canonically sealed by
    /// the same validator (security review C1). A re-encoded seal is not a second header.
    pub(super) fn check_equivocation(&self, header: &BlockHeader) {
        let Ok(Some(ours)) = self.storage().header(header.number) else { return };
        if ours.timestamp != header.timestamp
            || pos::seal_hash(ours.inner(), true) == pos::seal_hash(header, true)
        {
            return;
        }
        let (Ok(a), Ok(b)) = (pos::recover_sealer(ours.inner()), pos::recover_sealer(header))
        else {
            return;
        };
        if a != b {
            return;
        }
        let mut ra = Vec::new();
        ours.inner().encode(&mut ra);
        let mut rb = Vec::new();
        header.encode(&mut rb);
        let mut seen = self.evidence_seen.lock();
        let mut ev = self.info.double_signs.lock();
        if ev.len() < MAX_EVIDENCE && seen.insert((a, header.number)) {
            warn!(target: "dbc::pos", validator = %a, number = header.number, "double signing seen");
            ev.push((ra.into(), rb.into()));
        }
    }
}

//! Catching up with peers: which peer to fetch from, batches of blocks, and what a peer that
//! claims a head it does not serve costs it.
//!
//! A peer's status (its claimed head) only makes it a *candidate* to sync from; nothing else
//! changes on a claim (security review H2, H3). One sync runs at a time, from the candidate
//! with the highest claim that is not cooling down; each request has the network's timeout; a
//! peer that claimed a higher head and served no valid block beyond ours is penalised and left
//! alone for a while, and the next candidate is tried. Block production pauses only while a
//! peer is *proving* we are behind — its batches import as valid blocks — never because of a
//! claim, so a peer announcing a huge head and answering slowly cannot stall the chain.

use super::{ImportError, NO_PROGRESS_PENALTY, PosNode, codec::decode_raw_block, fork::heavier};
use dbc_network::{Peer, Request, Response};
use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tracing::{debug, info};

/// How long a peer that did not deliver is not synced from again.
const COOLDOWN: Duration = Duration::from_secs(30);
/// Most peers whose claims are remembered.
const MAX_CLAIMS: usize = 256;

/// Sync bookkeeping.
#[derive(Debug, Default)]
pub(super) struct SyncState {
    /// Each peer's last claimed head.
    claims: HashMap<Peer, u64>,
    /// Peers not to sync from until then.
    cooldown: HashMap<Peer, Instant>,
    /// Whether a sync task runs.
    running: bool,
    /// Production pauses until then: a peer is delivering valid blocks beyond our head.
    behind_until: Option<Instant>,
}

pub(super) enum BatchOutcome {
    /// Blocks were imported (or a heavier branch adopted).
    Progress,
    /// Every block of the batch is already canonical here, up to this number.
    Known(u64),
    /// Nothing to do with this batch (our chain is at least as heavy).
    NoProgress,
    /// The batch does not connect to our canonical chain.
    Disconnected,
    /// The peer sent something invalid.
    Invalid(String),
}

impl PosNode {
    /// Whether a peer is currently proving, with valid blocks, that we are behind.
    pub(super) fn behind(&self) -> bool {
        self.sync.lock().behind_until.is_some_and(|t| Instant::now() < t)
    }

    /// Records a peer's claimed head and starts a sync if it is above ours.
    pub(super) fn on_peer_claim(self: &Arc<Self>, peer: Peer, head: u64) {
        {
            let mut s = self.sync.lock();
            if s.claims.len() >= MAX_CLAIMS && !s.claims.contains_key(&peer) {
                return;
            }
            s.claims.insert(peer, head);
        }
        self.maybe_sync();
    }

    pub(super) fn forget_peer(&self, peer: &Peer) {
        let mut s = self.sync.lock();
        s.claims.remove(peer);
    }

    /// Starts a sync from the best candidate, unless one runs.
    pub(super) fn maybe_sync(self: &Arc<Self>) {
        let ours = self.chain.head_number();
        let pick = {
            let mut s = self.sync.lock();
            if s.running {
                return;
            }
            let now = Instant::now();
            s.cooldown.retain(|_, until| *until > now);
            let best = s
                .claims
                .iter()
                .filter(|(p, head)| **head > ours && !s.cooldown.contains_key(p))
                .max_by_key(|(_, head)| **head)
                .map(|(p, h)| (*p, *h));
            if best.is_some() {
                s.running = true;
            }
            best
        };
        let Some((peer, target)) = pick else { return };
        let node = self.clone();
        tokio::spawn(async move {
            let from = node.chain.head_number();
            node.info.starting_block.store(from, Ordering::Relaxed);
            let started = Instant::now();
            let result = node.sync_with(peer, target).await;
            let to = node.chain.head_number();
            if to > from + 1 {
                let secs = started.elapsed().as_secs_f64();
                info!(
                    target: "dbc::pos",
                    from, to, secs, blocks_per_sec = (to - from) as f64 / secs.max(1e-9),
                    "synced"
                );
            }
            let delivered = to > from;
            if let Err(e) = &result {
                debug!(target: "dbc::pos", %peer, error = %e, "sync stopped");
            }
            if !delivered && to < target {
                // It claimed a head above ours and served nothing that moved us there.
                node.penalize(peer, NO_PROGRESS_PENALTY, "claimed a head it did not serve");
                node.sync.lock().cooldown.insert(peer, Instant::now() + COOLDOWN);
            }
            {
                let mut s = node.sync.lock();
                s.running = false;
                s.behind_until = None;
            }
            // The round is over: a claimed head it did not reach is no longer shown as the
            // sync target (`eth_syncing` reports false until valid blocks prove us behind).
            node.info.highest_block.store(node.chain.head_number(), Ordering::Relaxed);
            node.after_new_head();
            node.maybe_sync();
        });
    }

    /// Fetches blocks from `peer` until our head reaches `target` or the peer stops helping.
    async fn sync_with(self: &Arc<Self>, peer: Peer, target: u64) -> Result<(), String> {
        let net = self.net().ok_or("no network")?.clone();
        let mut from = self.chain.head_number() + 1;
        let mut back = 8u64;
        while self.chain.head_number() < target {
            let finalized = self.chain.finalized().unwrap_or(0);
            from = from.max(finalized + 1);
            let resp = net
                .request(peer, Request::Blocks { from, count: dbc_network::MAX_BLOCKS_PER_REQUEST })
                .await
                .map_err(|e| e.to_string())?;
            let Response::Blocks(raw) = resp else { return Err("unexpected response".into()) };
            if raw.is_empty() {
                return Ok(());
            }
            let n = self.clone();
            let outcome = tokio::task::spawn_blocking(move || n.import_batch(from, raw))
                .await
                .map_err(|e| e.to_string())?;
            match outcome {
                BatchOutcome::Progress => {
                    from = self.chain.head_number() + 1;
                    back = 8;
                    let head = self.chain.head_number();
                    self.info.highest_block.fetch_max(head, Ordering::Relaxed);
                    if head < target {
                        // Valid blocks beyond where we were: we really are behind.
                        let pause = Duration::from_secs(2 * self.slot_secs());
                        self.sync.lock().behind_until = Some(Instant::now() + pause);
                        self.info.highest_block.fetch_max(target, Ordering::Relaxed);
                    }
                }
                BatchOutcome::Known(last) => from = last + 1,
                BatchOutcome::NoProgress => return Ok(()),
                BatchOutcome::Disconnected => {
                    if from <= finalized + 1 {
                        if let Some(net) = self.net() {
                            net.ban(peer, "chain conflicts with our finalized block");
                        }
                        return Err("peer's chain conflicts with our finalized block".into());
                    }
                    // Walk back towards the fork point, never past the finalized block.
                    from = from.saturating_sub(back).max(finalized + 1);
                    back = back.saturating_mul(4);
                }
                BatchOutcome::Invalid(e) => {
                    self.penalize(peer, super::INVALID_PENALTY, e.clone());
                    return Err(e);
                }
            }
            self.after_new_head();
        }
        Ok(())
    }

    /// Imports a batch of consecutive blocks starting at `from`. The batch must link (numbers
    /// and parent hashes) before anything else happens; where it forks off our chain it is
    /// handed to fork choice, which adopts it only if it is valid and heavier.
    pub(super) fn import_batch(
        &self,
        from: u64,
        raw: Vec<alloy_primitives::Bytes>,
    ) -> BatchOutcome {
        let mut blocks = Vec::with_capacity(raw.len());
        for r in &raw {
            match decode_raw_block(r) {
                Ok(b) => blocks.push(b),
                Err(e) => return BatchOutcome::Invalid(format!("undecodable block: {e}")),
            }
        }
        let Some(first) = blocks.first() else { return BatchOutcome::NoProgress };
        if first.header.number != from || from == 0 {
            return BatchOutcome::Invalid("blocks out of range".into());
        }
        for w in blocks.windows(2) {
            if w[1].header.number != w[0].header.number + 1
                || w[1].header.parent_hash != w[0].header.hash()
            {
                return BatchOutcome::Invalid("batch blocks do not link".into());
            }
        }
        let storage = self.storage().clone();
        if storage.block_hash(from - 1).ok().flatten() != Some(first.header.parent_hash) {
            return BatchOutcome::Disconnected;
        }
        let mut trie = self.trie.lock();
        let head = self.chain.head();
        // Skip what we already have.
        let known = blocks
            .iter()
            .take_while(|b| {
                storage.block_hash(b.header.number).ok().flatten() == Some(b.header.hash())
            })
            .count();
        let last = blocks.last().map(|b| b.header.number).unwrap_or(0);
        if known == blocks.len() {
            return BatchOutcome::Known(last);
        }
        let rest: Vec<_> = blocks.drain(known..).collect();
        let fork_at = rest[0].header.number;
        if fork_at <= head.number {
            let Some(tip) = rest.last() else { return BatchOutcome::NoProgress };
            if !heavier(&tip.header, &head) {
                // Not heavier than ours (as far as this batch shows): keep our chain.
                return BatchOutcome::NoProgress;
            }
            return match self.import_fork(&mut trie, rest) {
                Ok(0) => BatchOutcome::NoProgress,
                Ok(_) => BatchOutcome::Progress,
                Err(ImportError::Invalid(e)) => BatchOutcome::Invalid(e),
                Err(ImportError::NotNext(_)) => BatchOutcome::Disconnected,
                Err(ImportError::Node(e)) => {
                    tracing::warn!(target: "dbc::pos", error = %e, "fork import failed");
                    BatchOutcome::NoProgress
                }
            };
        }
        let mut imported = 0;
        for b in rest {
            match self.import_locked(&mut trie, b) {
                Ok(()) => imported += 1,
                Err(ImportError::Invalid(e)) => return BatchOutcome::Invalid(e),
                Err(e) => {
                    tracing::warn!(target: "dbc::pos", error = %e, "sync import failed");
                    break;
                }
            }
        }
        debug!(target: "dbc::pos", from, imported, "sync batch");
        if imported == 0 { BatchOutcome::NoProgress } else { BatchOutcome::Progress }
    }
}

//! Rejoining a finalized chain that is shorter than ours.
//!
//! A node cut off from the network builds a branch of its own, which nobody else finalizes.
//! Usually that branch is shorter than the network's and sync brings the node back. If it got
//! longer (the network missed more slots than the lone node), no peer claims a higher head, and
//! sync never fetches the network's chain. The network's gossip still reaches the node: a block
//! at or below our head that carries a proof finalizing a block we do not have at that height
//! says the network finalized a branch we are not on. This round fetches that branch from the
//! peer that forwarded the block — the headers after our finalized block, then the bodies from
//! the first header that differs from our chain up to the first one carrying a proof above the
//! fork point — and hands it to fork choice, which adopts it only if every block and the proof
//! check out (`fork.rs`). One round at a time, shared with sync's; a peer whose round did not
//! bring us back then rests for sync's cooldown, so its gossip starts one round, not one per
//! block. Only a block sealed by a current validator starts a round.

use super::{
    PosNode,
    codec::join_body,
    import::BatchOutcome,
    sync::{HeadersError, verify_headers},
};
use dbc_network::{Peer, Request, Response};
use std::{sync::Arc, time::Instant};
use tracing::{debug, info};

/// Branch blocks fetched at most by one round (the fork point to the first proof beyond it:
/// proofs ride a block or two behind the block they finalize).
const MAX_REJOIN_BLOCKS: usize = dbc_network::MAX_BODIES_PER_REQUEST as usize;

impl PosNode {
    /// Starts a rejoin round with `peer`, which forwarded a block at `upto` carrying a proof
    /// for a block we do not have, unless a round runs or `peer` rests.
    pub(super) fn rejoin(self: &Arc<Self>, peer: Peer, upto: u64) {
        if !self.sync.lock().start_rejoin(peer, Instant::now()) {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            let result = node.rejoin_with(peer, upto).await;
            match &result {
                Ok(true) => info!(
                    target: "dbc::pos",
                    %peer,
                    head = node.chain.head_number(),
                    finalized = node.chain.finalized().unwrap_or(0),
                    "rejoined the finalized chain"
                ),
                Ok(false) => {}
                Err(e) => debug!(target: "dbc::pos", %peer, error = %e, "rejoin stopped"),
            }
            node.sync.lock().end_rejoin(peer, matches!(result, Ok(true)));
            node.after_new_head();
            node.maybe_sync();
        });
    }

    /// Fetches the branch `peer` finalized and offers it to fork choice; `Ok(true)` if adopted.
    async fn rejoin_with(self: &Arc<Self>, peer: Peer, upto: u64) -> Result<bool, String> {
        let net = self.net().ok_or("no network")?.clone();
        let finalized = self.chain.finalized().unwrap_or(0);
        let parent = self
            .storage()
            .header(finalized)
            .map_err(|e| e.to_string())?
            .ok_or("no finalized header")?;
        let count = upto.saturating_sub(finalized).min(super::sync::HEADERS);
        if count == 0 {
            return Ok(false);
        }
        let request = Request::Headers { from: finalized + 1, count: count as u32 };
        let raw = match net.request(peer, request).await.map_err(|e| e.to_string())? {
            Response::Headers(raw) => raw,
            _ => {
                self.penalize(peer, super::INVALID_PENALTY, "unexpected response");
                return Err("unexpected response".into());
            }
        };
        let slot = self.slot_secs();
        let pinned = tokio::task::spawn_blocking(move || {
            verify_headers(&parent, &raw, slot, super::now_secs())
        })
        .await
        .map_err(|e| e.to_string())?;
        let pinned = match pinned {
            Ok(p) => p,
            Err(HeadersError::Disconnected) => {
                // Its chain does not contain our finalized block: nothing to rejoin.
                return Err("the peer's chain conflicts with our finalized block".into());
            }
            Err(HeadersError::Invalid(e)) => {
                self.penalize(peer, super::INVALID_PENALTY, e.clone());
                return Err(e);
            }
        };
        // From the first header that is not ours to the first one carrying a proof above the
        // fork point.
        let storage = self.storage();
        let Some(start) = pinned
            .iter()
            .position(|(h, _)| storage.block_hash(h.number).ok().flatten() != Some(h.hash()))
        else {
            return Ok(false);
        };
        let fork_parent = pinned[start].0.number.saturating_sub(1);
        let Some(end) = pinned[start..].iter().position(|(_, shaped)| {
            shaped.finality.as_ref().is_some_and(|p| p.number > fork_parent)
        }) else {
            return Ok(false);
        };
        let wanted = &pinned[start..=start + end];
        if wanted.len() > MAX_REJOIN_BLOCKS {
            return Err(format!(
                "{} blocks to the first proof, at most {MAX_REJOIN_BLOCKS}",
                wanted.len()
            ));
        }
        // The bodies, in as many requests as the peer's answer size needs.
        let mut bodies = Vec::with_capacity(wanted.len());
        while bodies.len() < wanted.len() {
            let hashes = wanted[bodies.len()..].iter().map(|(h, _)| h.hash()).collect();
            match net.request(peer, Request::Bodies { hashes }).await.map_err(|e| e.to_string())? {
                Response::Bodies(raw)
                    if !raw.is_empty() && raw.len() <= wanted.len() - bodies.len() =>
                {
                    bodies.extend(raw);
                }
                Response::Bodies(raw) if raw.is_empty() => {
                    return Err("the peer did not serve the bodies".into());
                }
                _ => {
                    self.penalize(peer, super::INVALID_PENALTY, "unexpected bodies response");
                    return Err("unexpected bodies response".into());
                }
            }
        }
        let blocks = wanted
            .iter()
            .cloned()
            .zip(&bodies)
            .map(|((header, shaped), body)| join_body(header, body).map(|b| b.with_shape(shaped)))
            .collect::<Result<Vec<_>, _>>();
        let blocks = match blocks {
            Ok(b) => b,
            Err(e) => {
                let e = format!("body does not match its header: {e}");
                self.penalize(peer, super::INVALID_PENALTY, e.clone());
                return Err(e);
            }
        };
        let from = fork_parent + 1;
        let node = self.clone();
        let outcome = tokio::task::spawn_blocking(move || node.import_batch(from, blocks))
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            BatchOutcome::Progress => Ok(true),
            BatchOutcome::Invalid(e) => {
                self.penalize(peer, super::INVALID_PENALTY, e.clone());
                Err(e)
            }
            BatchOutcome::Known(_) | BatchOutcome::NoProgress | BatchOutcome::Disconnected => {
                Ok(false)
            }
        }
    }
}

//! Rejoining a finalized chain that is shorter than ours.
//!
//! A node cut off from the network builds a branch of its own, which nobody else finalizes.
//! Usually that branch is shorter than the network's and sync brings the node back. If it got
//! longer (the network missed more slots than the lone node), no peer claims a higher head, and
//! sync never fetches the network's chain. The network's gossip still reaches the node: a block
//! at or below our head that carries a proof finalizing a block we do not have at that height
//! says the network finalized a branch we are not on. This round fetches that branch from the
//! peer that forwarded the block — the fork point by bisection between our finalized block and
//! that block (our finality may have stalled long before the fork), a run of headers from there,
//! then the bodies from the first header that differs from our chain up to the first one
//! carrying a proof above the fork point — and hands it to fork choice, which adopts it only
//! if every block and the proof check out (`fork.rs`). One round at a time, shared with sync's
//! and bounded as a whole (60 s); a peer whose round did not bring us back then rests for
//! sync's cooldown from the round's end, so its gossip starts one round, not one per block.
//! Only a block sealed by a current validator starts a round.

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

/// How long a rejoin round may take at most (its requests each have the network's timeout; a
/// slow peer's bisection could otherwise hold up sync for minutes).
const REJOIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl PosNode {
    /// Starts a rejoin round with `peer`, which forwarded a block at `upto` carrying a proof
    /// for a block we do not have, unless a round runs or `peer` rests.
    pub(super) fn rejoin(self: &Arc<Self>, peer: Peer, upto: u64) {
        if !self.sync.lock().start_rejoin(peer, Instant::now()) {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            // Bounded as a whole: sync waits while it runs.
            let result = tokio::time::timeout(REJOIN_TIMEOUT, node.rejoin_with(peer, upto))
                .await
                .unwrap_or_else(|_| Err("the round timed out".into()));
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
            node.sync.lock().end_rejoin(peer, matches!(result, Ok(true)), Instant::now());
            node.after_new_head();
            node.maybe_sync();
        });
    }

    /// Fetches the branch `peer` finalized and offers it to fork choice; `Ok(true)` if adopted.
    async fn rejoin_with(self: &Arc<Self>, peer: Peer, upto: u64) -> Result<bool, String> {
        let net = self.net().ok_or("no network")?.clone();
        let finalized = self.chain.finalized().unwrap_or(0);
        let below = self.fork_below(&net, peer, finalized, upto).await?;
        let parent = self
            .storage()
            .header(below)
            .map_err(|e| e.to_string())?
            .ok_or("no header below the fork")?;
        let count = upto.saturating_sub(below).min(super::sync::HEADERS);
        if count == 0 {
            return Ok(false);
        }
        let request = Request::Headers { from: below + 1, count: count as u32 };
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
                // Its chain does not contain our block there: nothing to rejoin (its probes
                // misled the search, or its chain conflicts with our finalized block).
                return Err(format!("the peer's chain does not build on our block {below}"));
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

    /// A block of ours, at or above `finalized`, under which `peer`'s chain forks off ours,
    /// close enough to the fork (within half a header run) that one run from it reaches the
    /// fork and the proof after it. Our finality may have stalled long before the fork, so
    /// the fork is found by bisection between our finalized block and `upto` (the block it
    /// forwarded, not ours), one header asked for at a time: log2((upto - finalized) / 512) requests, none
    /// verified, since a peer that misleads the search only gets a run that does not link to
    /// our block, or none that brings us back.
    async fn fork_below(
        &self,
        net: &dbc_network::NetworkHandle,
        peer: Peer,
        finalized: u64,
        upto: u64,
    ) -> Result<u64, String> {
        let (mut lo, mut hi) = (finalized, upto);
        while hi.saturating_sub(lo) > super::sync::HEADERS / 2 {
            let mid = lo + (hi - lo) / 2;
            let request = Request::Headers { from: mid, count: 1 };
            let raw = match net.request(peer, request).await.map_err(|e| e.to_string())? {
                Response::Headers(raw) => raw,
                _ => {
                    self.penalize(peer, super::INVALID_PENALTY, "unexpected response");
                    return Err("unexpected response".into());
                }
            };
            let header = match one_header(&raw, mid) {
                Ok(h) => h,
                Err((e, fault)) => {
                    if fault {
                        self.penalize(peer, super::INVALID_PENALTY, e.clone());
                    }
                    return Err(e);
                }
            };
            let ours = self.storage().block_hash(mid).map_err(|e| e.to_string())?;
            if ours == Some(header.hash()) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }
}

/// The header at `at` from a peer's answer to a request for that one header, or why there is
/// none and whether that is the peer's fault. It forwarded a block above `at`, so it has one
/// there; none at all is not a fault (its chain may have changed meanwhile).
fn one_header(
    raw: &[alloy_primitives::Bytes],
    at: u64,
) -> Result<dbc_primitives::SealedHeader, (String, bool)> {
    let one = match raw {
        [one] => one,
        [] => return Err((format!("no header served at {at}"), false)),
        _ => return Err((format!("{} headers served for one at {at}", raw.len()), true)),
    };
    match super::codec::decode_header(one) {
        Ok(h) if h.number == at => Ok(h),
        Ok(h) => Err((format!("header {} served for {at}", h.number), true)),
        Err(e) => Err((format!("undecodable header: {e}"), true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pos::codec::encode_header;

    #[test]
    fn a_probe_answer_is_one_header_of_the_number_asked_for() {
        let header = |number: u64| {
            let h = dbc_primitives::BlockHeader { number, ..Default::default() };
            alloy_primitives::Bytes::from(encode_header(&h))
        };
        assert_eq!(one_header(&[header(7)], 7).map(|h| h.number), Ok(7));
        let fault =
            |raw: &[alloy_primitives::Bytes]| one_header(raw, 7).map(|_| ()).map_err(|e| e.1);
        assert_eq!(fault(&[]), Err(false), "none: its chain may have changed");
        assert_eq!(fault(&[header(8)]), Err(true), "another number");
        assert_eq!(fault(&[header(7), header(8)]), Err(true), "more than asked for");
        let mut trailing = header(7).to_vec();
        trailing.push(0);
        assert_eq!(fault(&[trailing.into()]), Err(true), "not a strict encoding");
    }
}

//! Catching up with peers: a round fetches blocks from one peer (headers first, bodies from
//! several) and hands them to batch import (`import.rs`).
//!
//! A peer's status (its claimed head) only makes it a *candidate* to sync from; nothing else
//! changes on a claim (security review H2, H3). One sync runs at a time, from the candidate
//! with the highest claim that is not cooling down; each request has the network's timeout; a
//! peer that claimed a higher head and served no valid block beyond ours is penalised and left
//! alone for a while, and the next candidate is tried. Block production pauses only while a
//! peer is *proving* we are behind — its batches import as valid blocks — never because of a
//! claim, so a peer announcing a huge head and answering slowly cannot stall the chain.
//!
//! - `peers.rs`: whom to sync from and what a round that did not deliver costs its peer;
//! - `pipeline.rs`: the pinned header chain, the check of served headers, the body requests;
//! - here: the round itself, and its progress line.

mod peers;
mod pipeline;

pub(super) use peers::SyncState;
pub(super) use pipeline::{HEADERS, HeadersError, verify_headers};

use super::{PosNode, codec::join_body, import::BatchOutcome};
use dbc_network::{Peer, Request, Response};
use pipeline::{HeaderFetch, Pipeline, Skeleton, send};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tracing::{debug, info};

/// How often a running sync logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(8);

/// A sync's progress line: blocks and bytes a second since the start, and the time left at
/// that rate.
struct Progress {
    started: Instant,
    from: u64,
    bytes: usize,
    last_log: Instant,
}

impl Progress {
    fn new(from: u64) -> Self {
        let now = Instant::now();
        Self { started: now, from, bytes: 0, last_log: now }
    }

    /// Records a batch of `bytes` that moved the head to `head`; logs every
    /// [`PROGRESS_EVERY`].
    fn log(&mut self, head: u64, target: u64, bytes: usize) {
        self.bytes += bytes;
        if self.last_log.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last_log = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = head.saturating_sub(self.from) as f64 / secs;
        let eta_secs =
            if rate > 0.0 { (target.saturating_sub(head) as f64 / rate) as u64 } else { 0 };
        info!(
            target: "dbc::pos",
            head,
            target,
            blocks_per_sec = format!("{rate:.0}"),
            mib_per_sec = format!("{:.1}", self.bytes as f64 / secs / (1 << 20) as f64),
            eta = %format!("{}m{:02}s", eta_secs / 60, eta_secs % 60),
            "sync progress"
        );
    }
}

impl PosNode {
    /// Whether a peer is currently proving, with valid blocks, that we are behind.
    pub(super) fn behind(&self) -> bool {
        self.sync.lock().is_behind(Instant::now())
    }

    /// Records a peer's claimed head and starts a sync if it is above ours.
    pub(super) fn on_peer_claim(self: &Arc<Self>, peer: Peer, head: u64) {
        if self.sync.lock().claim(peer, head) {
            self.maybe_sync();
        }
    }

    pub(super) fn forget_peer(&self, peer: &Peer) {
        self.sync.lock().forget(peer);
    }

    /// Starts a sync from the best candidate, unless one runs.
    pub(super) fn maybe_sync(self: &Arc<Self>) {
        let ours = self.chain.head_number();
        let pick = self.sync.lock().start_round(ours, Instant::now());
        let Some((peer, target)) = pick else { return };
        let node = self.clone();
        tokio::spawn(async move {
            let from = node.chain.head_number();
            node.info.starting_block.store(from, Ordering::Relaxed);
            let started = Instant::now();
            let mut progressed = false;
            let result = node.sync_with(peer, target, &mut progressed).await;
            let to = node.chain.head_number();
            if to > from + 1 {
                let secs = started.elapsed().as_secs_f64();
                info!(
                    target: "dbc::pos",
                    from, to, secs, blocks_per_sec = (to - from) as f64 / secs.max(1e-9),
                    "synced"
                );
            }
            // Only this peer's own valid blocks count: our head also moves by gossip and by our
            // own production, which says nothing about the claim.
            let delivered = progressed;
            if let Err(e) = &result {
                debug!(target: "dbc::pos", %peer, error = %e, "sync stopped");
            }
            let penalty = node.sync.lock().end_round(peer, delivered, to >= target, Instant::now());
            if let Some(amount) = penalty {
                // It claimed a head above ours and served nothing that moved us there.
                node.penalize(peer, amount, "claimed a head it did not serve");
            }
            // The round is over: a claimed head it did not reach is no longer shown as the
            // sync target (`eth_syncing` reports false until valid blocks prove us behind).
            node.info.highest_block.store(node.chain.head_number(), Ordering::Relaxed);
            node.after_new_head();
            node.maybe_sync();
        });
    }

    /// Fetches blocks from `peer` until our head reaches `target` or the peer stops helping.
    /// Sets `progressed` once blocks on the header chain this peer served import as valid.
    ///
    /// Headers first: the peer serves the header chain ahead of our head in runs of up to
    /// [`HEADERS`], each checked before any body is asked for ([`verify_headers`]); the bodies
    /// of the pinned headers are then downloaded with up to [`pipeline::PIPELINE`] requests in
    /// flight, the first from `peer` and the others from helpers (other peers whose claimed head
    /// covers the batch, in turn), so several peers serve at once while the previous batch executes.
    /// A body must be the one its pinned header commits to: a helper that serves another is
    /// penalised at once and its batch asked of `peer`, before anything executes; a helper
    /// that fails or answers nothing cools down. A block that fails to execute was committed
    /// to by the header `peer` served, so `peer` pays for it. Batches import in order.
    /// Everything but steady progress (a fork, a walk back, known blocks) empties the
    /// pipeline and continues from the new position.
    async fn sync_with(
        self: &Arc<Self>,
        peer: Peer,
        target: u64,
        progressed: &mut bool,
    ) -> Result<(), String> {
        let mut pipeline = Pipeline::default();
        let result = self.sync_batches(peer, target, progressed, &mut pipeline).await;
        // The round ends only when no request of it is still being served: the next round's
        // requests must not exceed a peer's in-flight limit.
        pipeline.finish().await;
        result
    }

    /// Pins the answer to a header request onto `skeleton`, if it still follows on from it
    /// (else the answer is stale and dropped). `Ok(false)`: the peer has no header there.
    async fn pin_headers(
        &self,
        fetch: HeaderFetch,
        skeleton: &mut Skeleton,
        from: u64,
    ) -> Result<bool, HeadersError> {
        let answer = fetch.handle.await.unwrap_or_else(|e| Err(e.to_string()));
        let follows = match skeleton.last() {
            Some(last) => last.hash() == fetch.parent.hash(),
            // Still our block before `from` (not replaced by a reorg meanwhile).
            None => {
                fetch.parent.number + 1 == from
                    && self.storage().block_hash(fetch.parent.number).ok().flatten()
                        == Some(fetch.parent.hash())
            }
        };
        if !follows {
            return Ok(true);
        }
        let raw = match answer {
            Ok(Response::Headers(raw)) => raw,
            Ok(_) => return Err(HeadersError::Invalid("unexpected response".into())),
            // A timeout or a closed stream: no more headers this round.
            Err(e) => {
                debug!(target: "dbc::pos", peer = %fetch.who, error = %e, "header request failed");
                return Ok(false);
            }
        };
        if raw.is_empty() {
            return Ok(false);
        }
        let (parent, slot) = (fetch.parent, self.slot_secs());
        let headers = tokio::task::spawn_blocking(move || {
            verify_headers(&parent, &raw, slot, super::now_secs())
        })
        .await
        .map_err(|e| HeadersError::Invalid(e.to_string()))??;
        skeleton.headers.extend(headers);
        Ok(true)
    }

    async fn sync_batches(
        self: &Arc<Self>,
        peer: Peer,
        target: u64,
        progressed: &mut bool,
        pipeline: &mut Pipeline,
    ) -> Result<(), String> {
        let net = self.net().ok_or("no network")?.clone();
        let mut from = self.chain.head_number() + 1;
        let mut back = 8u64;
        let mut progress = Progress::new(self.chain.head_number());
        let mut skeleton = Skeleton::default();
        // Whether `peer` has no header beyond the skeleton.
        let mut exhausted = false;
        // Helpers left out of this round: they did not have bodies of the pinned chain.
        let mut benched: Vec<Peer> = Vec::new();
        while self.chain.head_number() < target {
            let finalized = self.chain.finalized().unwrap_or(0);
            from = from.max(finalized + 1);
            skeleton.drop_below(from);
            if skeleton.first().is_some_and(|f| f != from) {
                // We moved back (a walk towards a fork point): pin again from there.
                skeleton.clear();
                pipeline.clear();
                exhausted = false;
            }
            // Headers we already have need no bodies.
            while let Some((h, _)) = skeleton.headers.front() {
                if self.storage().block_hash(h.number).ok().flatten() != Some(h.hash()) {
                    break;
                }
                from = h.number + 1;
                skeleton.headers.pop_front();
            }
            // Keep the pinned chain ahead of the bodies: the next run of headers is asked
            // for while fewer than half a run are pinned beyond `from`, alongside the body
            // requests (it counts against the peer's in-flight limit like them).
            let ahead = from.saturating_add(HEADERS / 2).min(target);
            if !exhausted
                && pipeline.headers.is_none()
                && skeleton.last().is_none_or(|h| h.number < ahead)
                && pipeline.busy(&peer) < dbc_network::MAX_INFLIGHT_PER_PEER as usize
            {
                let parent = match skeleton.last() {
                    Some(h) => Some(h.clone()),
                    None => self.storage().header(from - 1).ok().flatten(),
                };
                let Some(parent) = parent else { return Err("no block before the sync".into()) };
                let start = parent.number + 1;
                let count = (target.saturating_sub(start) + 1).min(HEADERS) as u32;
                let handle = send(&net, peer, Request::Headers { from: start, count });
                pipeline.headers = Some(HeaderFetch { parent, who: peer, handle });
            }
            // Take the run when it is in, or wait for it when no pinned header is left.
            let needed = skeleton.headers.is_empty();
            if pipeline.headers.as_ref().is_some_and(|f| needed || f.handle.is_finished()) {
                let Some(fetch) = pipeline.headers.take() else { continue };
                match self.pin_headers(fetch, &mut skeleton, from).await {
                    Ok(more) => exhausted = !more,
                    Err(HeadersError::Disconnected) if skeleton.headers.is_empty() => {
                        // The peer's chain forks below `from`: walk back towards the fork
                        // point, never past the finalized block.
                        if from <= finalized + 1 {
                            // Useless to sync from, but not banned: an honest node stuck on a
                            // minority fork must still be able to sync from us to rejoin.
                            self.sync.lock().conflicting(peer, Instant::now());
                            return Err("peer's chain conflicts with our finalized block".into());
                        }
                        from = from.saturating_sub(back).max(finalized + 1);
                        back = back.saturating_mul(4);
                        pipeline.clear();
                    }
                    Err(HeadersError::Disconnected) => {
                        // The peer's chain changed under the skeleton: pin again.
                        skeleton.clear();
                        pipeline.clear();
                        exhausted = false;
                    }
                    Err(HeadersError::Invalid(e)) => {
                        self.penalize(peer, super::INVALID_PENALTY, e.clone());
                        return Err(e);
                    }
                }
                continue;
            }
            if needed {
                if exhausted {
                    return Ok(());
                }
                // The peer is busy with requests whose answers no pinned header is left
                // for: drop them and wait for one to end.
                pipeline.clear();
                pipeline.wait_for(&peer).await;
                continue;
            }
            let Some(last) = skeleton.last().map(|h| h.number) else { return Ok(()) };
            let mut helpers = self.sync.lock().helpers(peer, Instant::now());
            helpers.retain(|(p, _)| !benched.contains(p));
            pipeline.fill(&net, peer, &helpers, &skeleton, from, last).await;
            let Some((start, hashes, who, resp)) = pipeline.next().await else {
                return Ok(());
            };
            let asked = hashes.len() as u64;
            let headers = skeleton.range(start, asked);
            if headers.len() != hashes.len()
                || headers.iter().zip(&hashes).any(|((h, _), want)| h.hash() != *want)
            {
                // The pinned chain changed since the request (a walk back, a new run): the
                // answer is for headers no longer pinned. Ask again.
                pipeline.clear();
                continue;
            }
            let bodies = match resp {
                Ok(Response::Bodies(raw)) if !raw.is_empty() && raw.len() as u64 <= asked => {
                    if who == peer {
                        pipeline.answered(asked, raw.len() as u64);
                    }
                    raw
                }
                Ok(Response::Bodies(raw)) if !raw.is_empty() => {
                    let e = format!("{} bodies served for {asked} hashes", raw.len());
                    if who == peer {
                        self.penalize(peer, super::INVALID_PENALTY, e.clone());
                        return Err(e);
                    }
                    self.penalize(who, super::INVALID_PENALTY, e);
                    self.sync.lock().rest(who, Instant::now());
                    pipeline.clear();
                    continue;
                }
                Ok(Response::Bodies(_)) if who != peer => {
                    // A helper without these bodies (on another branch, or the pinned headers
                    // are the round's peer's own invention): it is left out of this round
                    // only, and `peer` is asked for its batch.
                    if !benched.contains(&who) {
                        benched.push(who);
                    }
                    pipeline.clear();
                    continue;
                }
                _ if who != peer => {
                    // A helper that failed (a timeout, a closed stream): it rests, and `peer`
                    // is asked for its batch.
                    self.sync.lock().rest(who, Instant::now());
                    pipeline.clear();
                    continue;
                }
                Ok(Response::Bodies(_)) => return Ok(()),
                Ok(_) => return Err("unexpected response".into()),
                Err(e) => return Err(e),
            };
            let n = self.clone();
            let bytes = bodies.iter().map(|b| b.len()).sum::<usize>();
            let joined = tokio::task::spawn_blocking(move || {
                let blocks = headers
                    .into_iter()
                    .zip(bodies.iter())
                    .map(|((header, shaped), body)| {
                        // Import checks the schedule only: the seal and VRF checked out.
                        join_body(header, body).map(|b| b.with_shape(shaped))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, String>(n.import_batch(start, blocks))
            })
            .await
            .map_err(|e| e.to_string())?;
            let outcome = match joined {
                Ok(outcome) => outcome,
                Err(e) => {
                    // A body that is not its pinned header's: its server pays, nothing ran.
                    let e = format!("body does not match its header: {e}");
                    self.penalize(who, super::INVALID_PENALTY, e.clone());
                    if who == peer {
                        return Err(e);
                    }
                    self.sync.lock().rest(who, Instant::now());
                    pipeline.clear();
                    continue;
                }
            };
            if !matches!(outcome, BatchOutcome::Progress) {
                pipeline.clear();
            }
            match outcome {
                BatchOutcome::Progress => {
                    // Blocks of the header chain `peer` served: the round's peer delivered.
                    *progressed = true;
                    progress.log(self.chain.head_number(), target, bytes);
                    from = self.chain.head_number() + 1;
                    back = 8;
                    let head = self.chain.head_number();
                    self.info.highest_block.fetch_max(head, Ordering::Relaxed);
                    if head < target {
                        // Valid blocks beyond where we were: we really are behind.
                        let pause = Duration::from_secs(2 * self.slot_secs());
                        self.sync.lock().behind_until(Instant::now() + pause);
                        self.info.highest_block.fetch_max(target, Ordering::Relaxed);
                    }
                }
                BatchOutcome::Known(last) => from = last + 1,
                BatchOutcome::NoProgress => return Ok(()),
                BatchOutcome::Disconnected => {
                    // Our chain moved under the skeleton (a block by gossip, a fork): pin
                    // again from our head.
                    skeleton.clear();
                    exhausted = false;
                    from = self.chain.head_number() + 1;
                }
                BatchOutcome::Invalid(e) => {
                    // The body is the one the header commits to: the header's server pays.
                    self.penalize(peer, super::INVALID_PENALTY, e.clone());
                    return Err(e);
                }
            }
            self.after_new_head();
        }
        Ok(())
    }
}

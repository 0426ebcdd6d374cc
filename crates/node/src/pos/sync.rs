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

use super::{
    ImportError, NO_PROGRESS_PENALTY, PosNode,
    codec::{RawBlock, decode_header, join_body},
    fork::{claims_finality_above, heavier},
};
use crate::persist::Persister;
use alloy_primitives::B256;
use dbc_consensus::pos::{ShapedHeader, verify_header_shape};
use dbc_network::{Peer, Request, Response};
use dbc_primitives::SealedHeader;
use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tracing::{debug, info};

/// How long a peer that did not deliver is not synced from again.
const COOLDOWN: Duration = Duration::from_secs(30);
/// How long a peer whose chain conflicts with our finalized block is not synced from again
/// (it is not penalised: it may be an honest node on a minority fork, which syncs from us).
const CONFLICT_COOLDOWN: Duration = Duration::from_secs(600);
/// Most peers whose claims are remembered.
const MAX_CLAIMS: usize = 256;

/// Most consecutive failed rounds counted per peer (the penalty stops doubling there).
const MAX_STRIKES: u32 = 4;

/// Sync bookkeeping: who claims what, who is cooling down, and how often each peer in a row
/// claimed a head it then did not serve. Pure state, so its rules are unit-tested without a
/// network.
#[derive(Debug, Default)]
pub(super) struct SyncState {
    /// Each peer's last claimed head.
    claims: HashMap<Peer, u64>,
    /// Peers not to sync from until then.
    cooldown: HashMap<Peer, Instant>,
    /// Consecutive rounds in which a peer claimed a higher head and served nothing.
    strikes: HashMap<Peer, u32>,
    /// Whether a sync task runs.
    running: bool,
    /// The running round's peer turned out to be on a chain that conflicts with our finalized
    /// block.
    conflict: Option<Peer>,
    /// Production pauses until then: a peer is delivering valid blocks beyond our head.
    behind_until: Option<Instant>,
}

impl SyncState {
    /// Whether a sync round runs.
    #[cfg(test)]
    pub(super) fn is_running(&self) -> bool {
        self.running
    }

    /// Whether `peer` is not to be synced from now.
    #[cfg(test)]
    pub(super) fn is_cooling_down(&self, peer: &Peer) -> bool {
        self.cooldown.get(peer).is_some_and(|until| *until > Instant::now())
    }

    /// Records a claim; returns whether it was recorded (at most [`MAX_CLAIMS`] peers).
    pub(super) fn claim(&mut self, peer: Peer, head: u64) -> bool {
        if self.claims.len() >= MAX_CLAIMS && !self.claims.contains_key(&peer) {
            return false;
        }
        self.claims.insert(peer, head);
        true
    }

    /// Picks the peer to sync from (the highest claim above `ours` not cooling down) and marks a
    /// round as running; `None` while a round runs or when nobody qualifies.
    fn start_round(&mut self, ours: u64, now: Instant) -> Option<(Peer, u64)> {
        if self.running {
            return None;
        }
        self.cooldown.retain(|_, until| *until > now);
        let best = self
            .claims
            .iter()
            .filter(|(p, head)| **head > ours && !self.cooldown.contains_key(p))
            .max_by_key(|(_, head)| **head)
            .map(|(p, h)| (*p, *h));
        self.running = best.is_some();
        best
    }

    /// Peers other than `peer` that may serve batches of the running round, best claim first
    /// (at most [`PIPELINE`] - 1; none cooling down).
    fn helpers(&mut self, peer: Peer, now: Instant) -> Vec<(Peer, u64)> {
        self.cooldown.retain(|_, until| *until > now);
        let mut out: Vec<(Peer, u64)> = self
            .claims
            .iter()
            .filter(|(p, _)| **p != peer && !self.cooldown.contains_key(p))
            .map(|(p, h)| (*p, *h))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(PIPELINE - 1);
        out
    }

    /// Starts a rejoin round with `peer` (see `rejoin.rs`) unless a round runs or `peer` is
    /// cooling down; it cools down for [`COOLDOWN`] from now whatever the round brings, so a
    /// stream of its gossip starts one round, not one per block.
    pub(super) fn start_rejoin(&mut self, peer: Peer, now: Instant) -> bool {
        self.cooldown.retain(|_, until| *until > now);
        if self.running || self.cooldown.contains_key(&peer) {
            return false;
        }
        self.running = true;
        self.cooldown.insert(peer, now + COOLDOWN);
        true
    }

    /// Ends a rejoin round with `peer`; one that brought us back is not left to rest (it is
    /// now the best peer to sync the rest of its chain from).
    pub(super) fn end_rejoin(&mut self, peer: Peer, adopted: bool) {
        self.running = false;
        self.conflict = None;
        if adopted {
            self.cooldown.remove(&peer);
        }
    }

    /// Records that `peer`, the running round's, serves a chain that conflicts with our
    /// finalized block: its round ends without a penalty, and it is not synced from for
    /// [`CONFLICT_COOLDOWN`].
    pub(super) fn conflicting(&mut self, peer: Peer, now: Instant) {
        self.conflict = Some(peer);
        self.cooldown.insert(peer, now + CONFLICT_COOLDOWN);
    }

    /// Ends the running round with `peer`. A peer that moved us forward is forgiven its
    /// strikes; if it stopped short of its claim it still cools down (without a penalty), so
    /// that a peer serving a trickle of headers is not picked again at once ahead of the
    /// others. One that claimed a higher head and served nothing (`delivered` false and the
    /// target not reached) cools down for [`COOLDOWN`] and returns the penalty it owes, which
    /// doubles with each consecutive failure (10, 20, 40, 80: banned after four rounds, about
    /// three minutes with the 10 s request timeout, where a flat 10 took eleven rounds).
    fn end_round(
        &mut self,
        peer: Peer,
        delivered: bool,
        reached: bool,
        now: Instant,
    ) -> Option<u32> {
        self.running = false;
        self.behind_until = None;
        if self.conflict.take() == Some(peer) {
            return None;
        }
        if delivered {
            self.strikes.remove(&peer);
            if !reached {
                self.cooldown.insert(peer, now + COOLDOWN);
            }
            return None;
        }
        if reached {
            return None;
        }
        if self.strikes.len() >= MAX_CLAIMS && !self.strikes.contains_key(&peer) {
            // Bounded: make room by forgetting the peer with the fewest strikes, so that new
            // identities cannot wipe a repeated liar's count.
            if let Some(least) = self.strikes.iter().min_by_key(|(_, n)| **n).map(|(p, _)| *p) {
                self.strikes.remove(&least);
            }
        }
        let strikes = self.strikes.entry(peer).or_insert(0);
        *strikes = (*strikes + 1).min(MAX_STRIKES);
        self.cooldown.insert(peer, now + COOLDOWN);
        Some(NO_PROGRESS_PENALTY << (*strikes - 1))
    }
}

/// Body requests a sync has in flight at most: the batch being imported and the ones after it.
const PIPELINE: usize = 4;

/// Bodies asked for per request.
const BATCH: u64 = dbc_network::MAX_BODIES_PER_REQUEST as u64;

/// Headers asked for per request: the pinned header chain grows by up to this many.
pub(super) const HEADERS: u64 = dbc_network::MAX_HEADERS_PER_REQUEST as u64;

type Answer = Result<Response, String>;

/// The round's pinned header chain (headers first, as geth's skeleton): headers served by the
/// round's peer, consecutive, linked to each other and to our chain, each checked for every
/// rule but the proposer schedule (which needs the parent's state, and is checked at import).
/// Bodies are fetched against it, from any peer: a body either is the one its header commits
/// to, or its server is caught at once, before anything executes.
#[derive(Default)]
struct Skeleton {
    headers: std::collections::VecDeque<Pinned>,
}

/// A pinned header with what its shape check found (its sealer, VRF mix, finality proof), so
/// that import checks only the schedule instead of the seal and VRF again.
pub(super) type Pinned = (SealedHeader, ShapedHeader);

impl Skeleton {
    fn first(&self) -> Option<u64> {
        self.headers.front().map(|h| h.0.number)
    }

    fn last(&self) -> Option<&SealedHeader> {
        self.headers.back().map(|h| &h.0)
    }

    fn clear(&mut self) {
        self.headers.clear();
    }

    /// Forgets the headers below `from` (imported, or known here).
    fn drop_below(&mut self, from: u64) {
        while self.headers.front().is_some_and(|h| h.0.number < from) {
            self.headers.pop_front();
        }
    }

    /// The pinned headers `start..start + count` (fewer where the chain ends).
    fn range(&self, start: u64, count: u64) -> Vec<Pinned> {
        let Some(first) = self.first() else { return Vec::new() };
        let Some(skip) = start.checked_sub(first) else { return Vec::new() };
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        self.headers.iter().skip(skip).take(count).cloned().collect()
    }
}

/// Why a run of served headers was not pinned.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeadersError {
    /// The first header does not build on the block it was asked to follow.
    Disconnected,
    /// The run breaks a rule: the peer that served it pays.
    Invalid(String),
}

/// Checks a run of headers served for the blocks after `parent`: decoded strictly, at most
/// [`HEADERS`], the first the child of `parent`, and each well-formed on its own
/// ([`verify_header_shape`]: number, slot timing, not from the future, a canonical seal by the
/// beneficiary, its VRF reveal, gas limit bounds; the signature and VRF checks run in
/// parallel). The run is cut where a header is not the child of the one before — a server
/// whose chain reorganised while it read the run serves a prefix that links, not a fault; a
/// peer that serves a trickle ends its round short of its claim and cools down.
pub(super) fn verify_headers(
    parent: &SealedHeader,
    raw: &[alloy_primitives::Bytes],
    slot_secs: u64,
    now: u64,
) -> Result<Vec<Pinned>, HeadersError> {
    use rayon::prelude::*;
    if raw.len() as u64 > HEADERS {
        return Err(HeadersError::Invalid(format!(
            "{} headers served, at most {HEADERS}",
            raw.len()
        )));
    }
    let mut headers = raw
        .iter()
        .map(|r| decode_header(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HeadersError::Invalid(format!("undecodable header: {e}")))?;
    if headers.first().is_some_and(|h| h.parent_hash != parent.hash()) {
        return Err(HeadersError::Disconnected);
    }
    let linked = 1 + headers.windows(2).take_while(|w| w[1].parent_hash == w[0].hash()).count();
    headers.truncate(linked);
    let shapes = (0..headers.len())
        .into_par_iter()
        .with_min_len(16)
        .map(|i| {
            let before = if i == 0 { parent } else { &headers[i - 1] };
            let header = &headers[i];
            verify_header_shape(before.inner(), header.inner(), slot_secs, now)
                .map_err(|e| format!("header {}: {e}", header.number))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(HeadersError::Invalid)?;
    Ok(headers.into_iter().zip(shapes).collect())
}

/// A body request in flight.
struct Inflight {
    start: u64,
    count: u64,
    /// The pinned headers' hashes asked for: an answer is for them, not for whatever the
    /// skeleton holds at those numbers when it arrives.
    hashes: Vec<B256>,
    who: Peer,
    handle: tokio::task::JoinHandle<Answer>,
}

/// Consecutive body requests in flight, answered in request order.
struct Pipeline {
    inflight: std::collections::VecDeque<Inflight>,
    /// Requests whose answers are no longer wanted but which the peer may still be serving:
    /// they count against its [`dbc_network::MAX_INFLIGHT_PER_PEER`] until they finish (more
    /// would be dropped by the peer as a flood and end the round).
    draining: Vec<(Peer, tokio::task::JoinHandle<Answer>)>,
    /// Bodies asked for per request: halved down to what the last short answer carried (a
    /// peer answers at most `MAX_RESPONSE_BYTES`, one body if blocks are large), doubled back
    /// up to [`BATCH`] after full answers.
    count: u64,
    /// The next run of headers, requested from the round's peer while bodies download.
    headers: Option<HeaderFetch>,
}

/// A header request in flight: the run after `parent`.
struct HeaderFetch {
    parent: SealedHeader,
    who: Peer,
    handle: tokio::task::JoinHandle<Answer>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self { inflight: Default::default(), draining: Vec::new(), count: BATCH, headers: None }
    }
}

/// Sends `request` to `who` on its own task.
fn send(
    net: &dbc_network::NetworkHandle,
    who: Peer,
    request: Request,
) -> tokio::task::JoinHandle<Answer> {
    let net = net.clone();
    tokio::spawn(async move { net.request(who, request).await.map_err(|e| e.to_string()) })
}

impl Pipeline {
    /// Our requests `peer` may still be serving.
    fn busy(&self, peer: &Peer) -> usize {
        self.inflight.iter().filter(|r| r.who == *peer).count()
            + self.draining.iter().filter(|(p, h)| p == peer && !h.is_finished()).count()
            + self.headers.iter().filter(|f| f.who == *peer && !f.handle.is_finished()).count()
    }

    /// Waits until `peer` serves fewer than its in-flight limit of our requests (each ends
    /// by the network's request timeout).
    async fn wait_for(&mut self, peer: &Peer) {
        let limit = dbc_network::MAX_INFLIGHT_PER_PEER as usize;
        while self.busy(peer) >= limit {
            let Some(i) = self.draining.iter().position(|(p, h)| p == peer && !h.is_finished())
            else {
                break;
            };
            let (_, handle) = self.draining.swap_remove(i);
            let _ = handle.await;
        }
    }

    /// Requests the bodies of the pinned headers from `from` on (up to `last`) until
    /// [`PIPELINE`] requests are in flight: the batch at `from` from `peer` (the round's
    /// peer), the ones after it from `helpers` whose claims cover them, in turn (else from
    /// `peer`); no peer gets more than `MAX_INFLIGHT_PER_PEER` of our requests, counting ones
    /// it may still be serving. A gap before the first batch in flight (the last answer was
    /// short) is asked of `peer` first; if `peer` is busy the pipeline starts again from
    /// `from`.
    async fn fill(
        &mut self,
        net: &dbc_network::NetworkHandle,
        peer: Peer,
        helpers: &[(Peer, u64)],
        skeleton: &Skeleton,
        from: u64,
        last: u64,
    ) {
        let limit = dbc_network::MAX_INFLIGHT_PER_PEER as usize;
        let request = |who: Peer, start: u64, count: u64| {
            let hashes: Vec<B256> =
                skeleton.range(start, count).iter().map(|h| h.0.hash()).collect();
            (send(net, who, Request::Bodies { hashes: hashes.clone() }), hashes)
        };
        self.draining.retain(|(_, h)| !h.is_finished());
        match self.inflight.front().map(|r| r.start) {
            Some(start) if start > from && self.busy(&peer) < limit => {
                let count = (start - from).min(self.count);
                let (handle, hashes) = request(peer, from, count);
                self.inflight.push_front(Inflight {
                    start: from,
                    count,
                    hashes,
                    who: peer,
                    handle,
                });
            }
            Some(start) if start != from => self.clear(),
            _ => {}
        }
        // The first batch is `peer`'s: wait for it to finish what it may still be serving.
        if self.inflight.is_empty() {
            self.wait_for(&peer).await;
        }
        let mut next = self.inflight.back().map_or(from, |r| r.start + r.count);
        while self.inflight.len() < PIPELINE && next <= last {
            let count = self.count.min(last - next + 1);
            // Helpers whose claim covers the batch, in turn by batch, then `peer`.
            let covering: Vec<Peer> = helpers
                .iter()
                .filter(|(_, head)| *head >= next + count - 1)
                .map(|(p, _)| *p)
                .collect();
            let turn = (next / count.max(1)) as usize;
            let candidates = (0..covering.len())
                .map(|i| covering[(turn + i) % covering.len()])
                .chain(std::iter::once(peer));
            let first = self.inflight.is_empty();
            let Some(who) =
                candidates.filter(|p| !first || *p == peer).find(|p| self.busy(p) < limit)
            else {
                break;
            };
            let (handle, hashes) = request(who, next, count);
            self.inflight.push_back(Inflight { start: next, count, hashes, who, handle });
            next += count;
        }
    }

    /// The answer to the first request in flight: (first block, hashes asked, who, answer).
    async fn next(&mut self) -> Option<(u64, Vec<B256>, Peer, Answer)> {
        let r = self.inflight.pop_front()?;
        let answer = r.handle.await.unwrap_or_else(|e| Err(e.to_string()));
        Some((r.start, r.hashes, r.who, answer))
    }

    /// Adapts the request size to an answer of `got` bodies to a request for `asked` (the
    /// round's peer's answers only: a helper cannot shrink everyone's requests).
    fn answered(&mut self, asked: u64, got: u64) {
        self.count = if got < asked { got.max(1) } else { (self.count * 2).min(BATCH) };
    }

    /// Waits for every request still out (each ends by the network's request timeout).
    async fn finish(mut self) {
        self.clear();
        for (_, handle) in self.draining.drain(..) {
            let _ = handle.await;
        }
    }

    /// Drops every request in flight (the answers are no longer wanted; the requests count
    /// against their peers until they finish).
    fn clear(&mut self) {
        for r in self.inflight.drain(..) {
            self.draining.push((r.who, r.handle));
        }
        if let Some(f) = self.headers.take() {
            self.draining.push((f.who, f.handle));
        }
    }
}

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
        if self.sync.lock().claim(peer, head) {
            self.maybe_sync();
        }
    }

    pub(super) fn forget_peer(&self, peer: &Peer) {
        let mut s = self.sync.lock();
        s.claims.remove(peer);
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
    /// of the pinned headers are then downloaded with up to [`PIPELINE`] requests in flight,
    /// the first from `peer` and the others from helpers (other peers whose claimed head covers
    /// the batch, in turn), so several peers serve at once while the previous batch executes.
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
                    self.sync.lock().cooldown.insert(who, Instant::now() + COOLDOWN);
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
                    self.sync.lock().cooldown.insert(who, Instant::now() + COOLDOWN);
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
                    self.sync.lock().cooldown.insert(who, Instant::now() + COOLDOWN);
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
                        self.sync.lock().behind_until = Some(Instant::now() + pause);
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

    /// Imports a batch of consecutive blocks starting at `from`. The batch must link (numbers
    /// and parent hashes) before anything else happens; where it forks off our chain it is
    /// handed to fork choice, which adopts it only if it is valid and heavier.
    pub(super) fn import_batch(&self, from: u64, mut blocks: Vec<RawBlock>) -> BatchOutcome {
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
        // A producer building on our head holds the trie lock for its slot: a batch that
        // extends our head with a block that passes the precheck proves we are behind, and
        // abandons that build rather than waiting for it (and sealing on a stale head).
        let head = self.chain.head();
        if let Some(next) = blocks.iter_mut().find(|b| b.header.parent_hash == head.hash())
            && self.precheck_block(&head, next).is_ok()
        {
            self.abandon_for(head.hash(), next.header.hash());
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
            if !heavier(&tip.header, &head)
                && !claims_finality_above(&rest, fork_at.saturating_sub(1))
            {
                // Not heavier than ours, nor final (as far as this batch shows): keep ours.
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
        // Each block's commit runs while the next one executes (see `crate::persist`).
        let before = self.chain.head().number;
        let mut persist = Persister::new(storage.clone());
        let mut invalid = None;
        for b in rest {
            match self.import_pipelined(&mut trie, &mut persist, b) {
                Ok(()) => {}
                Err(ImportError::Invalid(e)) => {
                    invalid = Some(e);
                    break;
                }
                Err(e) => {
                    tracing::warn!(target: "dbc::pos", error = %e, "sync import failed");
                    break;
                }
            }
        }
        if let Err(e) = self.finish_waited(&mut persist, &mut trie) {
            tracing::warn!(target: "dbc::pos", error = %e, "sync commit failed");
        }
        let imported = self.chain.head().number.saturating_sub(before);
        debug!(target: "dbc::pos", from, imported, "sync batch");
        match invalid {
            Some(e) => BatchOutcome::Invalid(e),
            None if imported == 0 => BatchOutcome::NoProgress,
            None => BatchOutcome::Progress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_are_other_peers_not_cooling_down_best_claim_first() {
        let peers: Vec<Peer> = (0..6).map(|_| Peer::random()).collect();
        let mut s = SyncState::default();
        let now = Instant::now();
        for (i, p) in peers.iter().enumerate() {
            assert!(s.claim(*p, 100 + i as u64));
        }
        s.cooldown.insert(peers[4], now + COOLDOWN);
        let helpers = s.helpers(peers[5], now);
        // Not the round's peer (5), not the one resting (4); the best three others.
        assert_eq!(helpers, vec![(peers[3], 103), (peers[2], 102), (peers[1], 101)]);
        assert_eq!(s.helpers(peers[5], now + COOLDOWN + COOLDOWN).first(), Some(&(peers[4], 104)));
    }

    #[test]
    fn the_request_size_follows_short_answers_down_and_full_ones_back_up() {
        let mut p = Pipeline::default();
        assert_eq!(p.count, BATCH);
        p.answered(BATCH, 3);
        assert_eq!(p.count, 3, "a peer's answers hold 3 blocks (its byte limit)");
        p.answered(3, 0);
        assert_eq!(p.count, 1, "never below one block");
        for _ in 0..10 {
            p.answered(p.count, p.count);
        }
        assert_eq!(p.count, BATCH, "full answers double it back up to a batch");
    }

    #[test]
    fn h3_a_claim_picks_the_highest_candidate_above_our_head_one_round_at_a_time() {
        let (a, b, c) = (Peer::random(), Peer::random(), Peer::random());
        let mut s = SyncState::default();
        let now = Instant::now();
        assert!(s.claim(a, 110));
        assert!(s.claim(b, 150));
        assert!(s.claim(c, 90));
        assert_eq!(s.start_round(100, now), Some((b, 150)));
        assert!(s.running);
        assert_eq!(s.start_round(100, now), None, "one sync at a time");
        // A claim changes nothing but the candidate list: no pause of production.
        assert_eq!(s.behind_until, None);
        assert_eq!(s.end_round(b, true, true, now), None);
        assert!(!s.running);
        // Nobody above our head: no round.
        assert_eq!(s.start_round(150, now), None);
        assert!(!s.running);
    }

    #[test]
    fn h3_a_peer_that_claims_a_head_it_does_not_serve_cools_down_and_the_next_is_tried() {
        let (liar, honest) = (Peer::random(), Peer::random());
        let mut s = SyncState::default();
        let now = Instant::now();
        s.claim(liar, 1_000_000);
        s.claim(honest, 105);
        assert_eq!(s.start_round(100, now), Some((liar, 1_000_000)));
        assert_eq!(s.end_round(liar, false, false, now), Some(NO_PROGRESS_PENALTY));
        // The liar cools down; the honest peer is next.
        assert_eq!(s.start_round(100, now), Some((honest, 105)));
        assert_eq!(s.end_round(honest, true, true, now), None);
        // Nobody else: the liar is not retried before its cooldown ends ...
        assert_eq!(s.start_round(105, now + COOLDOWN - Duration::from_millis(1)), None);
        // ... and is afterwards.
        assert_eq!(s.start_round(105, now + COOLDOWN), Some((liar, 1_000_000)));
    }

    #[test]
    fn h3_a_repeated_liar_is_banned_within_four_rounds_and_delivery_forgives() {
        let liar = Peer::random();
        let mut s = SyncState::default();
        let mut now = Instant::now();
        s.claim(liar, 1_000_000);
        let mut score = 0i64;
        let mut rounds = 0;
        while score >= i64::from(dbc_network::BAN_SCORE) {
            assert_eq!(s.start_round(100, now), Some((liar, 1_000_000)));
            let penalty = s.end_round(liar, false, false, now).expect("penalised");
            score -= i64::from(penalty);
            rounds += 1;
            now += COOLDOWN;
            assert!(rounds <= 4, "still not banned after {rounds} rounds (score {score})");
        }
        assert_eq!(rounds, 4, "penalties 10, 20, 40, 80");
        // A peer that delivers starts again from the smallest penalty.
        let flaky = Peer::random();
        s.claim(flaky, 200);
        assert_eq!(s.end_round(flaky, false, false, now), Some(10));
        assert_eq!(s.end_round(flaky, false, false, now), Some(20));
        assert_eq!(s.end_round(flaky, true, false, now), None);
        // Delivering short of its claim costs nothing, but the next round is someone else's.
        assert!(s.cooldown.contains_key(&flaky), "a peer that stopped short cools down");
        assert_eq!(s.end_round(flaky, false, false, now), Some(10));
        // The penalty stops doubling.
        for _ in 0..10 {
            assert!(s.end_round(flaky, false, false, now).expect("penalty") <= 80);
        }
    }

    #[test]
    fn a_peer_on_a_chain_that_conflicts_with_finality_is_left_alone_not_penalised() {
        let (p, q) = (Peer::random(), Peer::random());
        let mut s = SyncState::default();
        let now = Instant::now();
        s.claim(p, 500);
        assert_eq!(s.start_round(100, now), Some((p, 500)));
        s.conflicting(p, now);
        assert_eq!(s.end_round(p, false, false, now), None, "no penalty: maybe an honest node");
        // Not synced from for the long cooldown, then a candidate again.
        assert_eq!(s.start_round(100, now + COOLDOWN * 2), None);
        s.running = false;
        assert_eq!(s.start_round(100, now + CONFLICT_COOLDOWN), Some((p, 500)));
        // The mark is for that round only: the next failure costs as usual.
        assert_eq!(s.end_round(p, false, false, now + CONFLICT_COOLDOWN), Some(10));
        // Another peer's round is not spared by it.
        s.conflicting(p, now);
        assert_eq!(s.end_round(q, false, false, now), Some(10));
    }

    #[test]
    fn h3_a_round_that_reached_the_target_costs_nothing_and_claims_are_bounded() {
        let p = Peer::random();
        let mut s = SyncState::default();
        let now = Instant::now();
        // Our head reached the claim by other means (gossip): no penalty, no cooldown.
        assert_eq!(s.end_round(p, false, true, now), None);
        assert!(s.cooldown.is_empty());
        for _ in 0..MAX_CLAIMS {
            assert!(s.claim(Peer::random(), 1));
        }
        assert!(!s.claim(Peer::random(), 1), "a new peer beyond the bound is not remembered");
        let known = *s.claims.keys().next().expect("one");
        assert!(s.claim(known, 2), "a known peer's claim is updated");
        assert_eq!(s.claims.len(), MAX_CLAIMS);
    }
}

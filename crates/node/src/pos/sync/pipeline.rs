//! Headers first, bodies from several peers: a round's pinned header chain, the check of a
//! run of served headers, and the body requests in flight.

use crate::pos::codec::decode_header;
use alloy_primitives::B256;
use dbc_consensus::pos::{ShapedHeader, verify_header_shape};
use dbc_network::{Peer, Request, Response};
use dbc_primitives::SealedHeader;

/// Body requests a sync has in flight at most: the batch being imported and the ones after it.
pub(super) const PIPELINE: usize = 4;

/// Bodies asked for per request.
const BATCH: u64 = dbc_network::MAX_BODIES_PER_REQUEST as u64;

/// Headers asked for per request: the pinned header chain grows by up to this many.
pub(in crate::pos) const HEADERS: u64 = dbc_network::MAX_HEADERS_PER_REQUEST as u64;

pub(super) type Answer = Result<Response, String>;

/// The round's pinned header chain (headers first, as geth's skeleton): headers served by the
/// round's peer, consecutive, linked to each other and to our chain, each checked for every
/// rule but the proposer schedule (which needs the parent's state, and is checked at import).
/// Bodies are fetched against it, from any peer: a body either is the one its header commits
/// to, or its server is caught at once, before anything executes.
#[derive(Default)]
pub(super) struct Skeleton {
    pub(super) headers: std::collections::VecDeque<Pinned>,
}

/// A pinned header with what its shape check found (its sealer, VRF mix, finality proof), so
/// that import checks only the schedule instead of the seal and VRF again.
pub(super) type Pinned = (SealedHeader, ShapedHeader);

impl Skeleton {
    pub(super) fn first(&self) -> Option<u64> {
        self.headers.front().map(|h| h.0.number)
    }

    pub(super) fn last(&self) -> Option<&SealedHeader> {
        self.headers.back().map(|h| &h.0)
    }

    pub(super) fn clear(&mut self) {
        self.headers.clear();
    }

    /// Forgets the headers below `from` (imported, or known here).
    pub(super) fn drop_below(&mut self, from: u64) {
        while self.headers.front().is_some_and(|h| h.0.number < from) {
            self.headers.pop_front();
        }
    }

    /// The pinned headers `start..start + count` (fewer where the chain ends).
    pub(super) fn range(&self, start: u64, count: u64) -> Vec<Pinned> {
        let Some(first) = self.first() else { return Vec::new() };
        let Some(skip) = start.checked_sub(first) else { return Vec::new() };
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        self.headers.iter().skip(skip).take(count).cloned().collect()
    }
}

/// Why a run of served headers was not pinned.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::pos) enum HeadersError {
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
pub(in crate::pos) fn verify_headers(
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
pub(super) struct Pipeline {
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
    pub(super) headers: Option<HeaderFetch>,
}

/// A header request in flight: the run after `parent`.
pub(super) struct HeaderFetch {
    pub(super) parent: SealedHeader,
    pub(super) who: Peer,
    pub(super) handle: tokio::task::JoinHandle<Answer>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self { inflight: Default::default(), draining: Vec::new(), count: BATCH, headers: None }
    }
}

/// Sends `request` to `who` on its own task.
pub(super) fn send(
    net: &dbc_network::NetworkHandle,
    who: Peer,
    request: Request,
) -> tokio::task::JoinHandle<Answer> {
    let net = net.clone();
    tokio::spawn(async move { net.request(who, request).await.map_err(|e| e.to_string()) })
}

impl Pipeline {
    /// Our requests `peer` may still be serving.
    pub(super) fn busy(&self, peer: &Peer) -> usize {
        self.inflight.iter().filter(|r| r.who == *peer).count()
            + self.draining.iter().filter(|(p, h)| p == peer && !h.is_finished()).count()
            + self.headers.iter().filter(|f| f.who == *peer && !f.handle.is_finished()).count()
    }

    /// Waits until `peer` serves fewer than its in-flight limit of our requests (each ends
    /// by the network's request timeout).
    pub(super) async fn wait_for(&mut self, peer: &Peer) {
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
    pub(super) async fn fill(
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
    pub(super) async fn next(&mut self) -> Option<(u64, Vec<B256>, Peer, Answer)> {
        let r = self.inflight.pop_front()?;
        let answer = r.handle.await.unwrap_or_else(|e| Err(e.to_string()));
        Some((r.start, r.hashes, r.who, answer))
    }

    /// Adapts the request size to an answer of `got` bodies to a request for `asked` (the
    /// round's peer's answers only: a helper cannot shrink everyone's requests).
    pub(super) fn answered(&mut self, asked: u64, got: u64) {
        self.count = if got < asked { got.max(1) } else { (self.count * 2).min(BATCH) };
    }

    /// Waits for every request still out (each ends by the network's request timeout).
    pub(super) async fn finish(mut self) {
        self.clear();
        for (_, handle) in self.draining.drain(..) {
            let _ = handle.await;
        }
    }

    /// Drops every request in flight (the answers are no longer wanted; the requests count
    /// against their peers until they finish).
    pub(super) fn clear(&mut self) {
        for r in self.inflight.drain(..) {
            self.draining.push((r.who, r.handle));
        }
        if let Some(f) = self.headers.take() {
            self.draining.push((f.who, f.handle));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}

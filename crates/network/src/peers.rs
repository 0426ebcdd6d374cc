//! Per-peer bookkeeping of the network task: scores, the status-request rate limit and the
//! inbound block requests in flight. Plain data, no I/O.

use crate::{BAN_SCORE, MAX_INFLIGHT, MAX_INFLIGHT_PER_PEER, STATUS_BURST, STATUS_PER_SEC};
use libp2p::PeerId;
use std::{collections::HashMap, time::Instant};

/// Scores kept for peers that are neither connected nor banned before they are forgotten.
const MAX_SCORES: usize = 8192;

/// Peer scores: every peer starts at 0 and only penalties move it (down).
#[derive(Debug, Default)]
pub(crate) struct Scores(HashMap<PeerId, i64>);

impl Scores {
    /// Lowers `peer`'s score by `amount`; returns the new score and whether it is below
    /// [`BAN_SCORE`].
    pub(crate) fn penalize(&mut self, peer: PeerId, amount: u32) -> (i64, bool) {
        let score = self.0.entry(peer).or_insert(0);
        *score = score.saturating_sub(i64::from(amount));
        (*score, *score < i64::from(BAN_SCORE))
    }

    /// Puts `peer` below the ban line (an explicit ban).
    pub(crate) fn floor(&mut self, peer: PeerId) {
        let score = self.0.entry(peer).or_insert(0);
        *score = (*score).min(i64::from(BAN_SCORE) - 1);
    }

    pub(crate) fn get(&self, peer: &PeerId) -> i64 {
        self.0.get(peer).copied().unwrap_or(0)
    }

    /// Forgets a departed, unbanned peer's score once too many are kept (a fresh identity costs
    /// nothing, so an old score is worth little; memory is bounded).
    pub(crate) fn on_gone(&mut self, peer: &PeerId) {
        if self.0.len() > MAX_SCORES {
            self.0.remove(peer);
        }
    }

    pub(crate) fn remove(&mut self, peer: &PeerId) {
        self.0.remove(peer);
    }
}

/// Milli-tokens per token.
const TOKEN: u64 = 1000;

/// Token buckets limiting inbound status requests per peer ([`STATUS_BURST`],
/// [`STATUS_PER_SEC`]).
#[derive(Debug, Default)]
pub(crate) struct StatusLimiter(HashMap<PeerId, (u64, Instant)>);

impl StatusLimiter {
    /// Takes a token from `peer`'s bucket; `false` when it is empty.
    pub(crate) fn allow(&mut self, peer: PeerId, now: Instant) -> bool {
        let full = u64::from(STATUS_BURST) * TOKEN;
        let (milli, at) = self.0.entry(peer).or_insert((full, now));
        let elapsed =
            u64::try_from(now.saturating_duration_since(*at).as_millis()).unwrap_or(u64::MAX);
        // STATUS_PER_SEC tokens per 1000 ms = STATUS_PER_SEC milli-tokens per ms.
        *milli = milli.saturating_add(elapsed.saturating_mul(u64::from(STATUS_PER_SEC))).min(full);
        *at = now;
        if *milli >= TOKEN {
            *milli -= TOKEN;
            true
        } else {
            false
        }
    }

    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.0.remove(peer);
    }
}

/// Whether an inbound block request may be served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Yes,
    /// The peer already has [`MAX_INFLIGHT_PER_PEER`] requests in flight.
    PeerBusy,
    /// [`MAX_INFLIGHT`] requests are in flight in all.
    AllBusy,
}

/// Inbound block requests being served.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    per_peer: HashMap<PeerId, u32>,
    total: u32,
}

impl Inflight {
    pub(crate) fn admit(&mut self, peer: PeerId) -> Admit {
        let mine = self.per_peer.get(&peer).copied().unwrap_or(0);
        if mine >= MAX_INFLIGHT_PER_PEER {
            return Admit::PeerBusy;
        }
        if self.total >= MAX_INFLIGHT {
            return Admit::AllBusy;
        }
        self.per_peer.insert(peer, mine + 1);
        self.total += 1;
        Admit::Yes
    }

    pub(crate) fn done(&mut self, peer: &PeerId) {
        if let Some(n) = self.per_peer.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_peer.remove(peer);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn total(&self) -> u32 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn h1_penalties_lower_the_score() {
        let mut s = Scores::default();
        let p = PeerId::random();
        assert_eq!(s.penalize(p, 50), (-50, false));
        assert_eq!(s.penalize(p, 50), (-100, false), "exactly BAN_SCORE is not yet banned");
        assert_eq!(s.penalize(p, 50), (-150, true));
        assert_eq!(s.penalize(p, u32::MAX).0, -150 - i64::from(u32::MAX), "no wrap");
        let q = PeerId::random();
        s.floor(q);
        assert_eq!(s.get(&q), i64::from(BAN_SCORE) - 1);
        assert_eq!(s.get(&PeerId::random()), 0);
    }

    #[test]
    fn h4_status_requests_are_rate_limited() {
        let mut l = StatusLimiter::default();
        let (p, q) = (PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        let burst = (0..100).filter(|_| l.allow(p, t0)).count();
        assert_eq!(burst, STATUS_BURST as usize);
        assert!(l.allow(q, t0), "buckets are per peer");
        // One second refills STATUS_PER_SEC tokens, never more than the burst.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| l.allow(p, t1)).count(), STATUS_PER_SEC as usize);
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| l.allow(p, t2)).count(), STATUS_BURST as usize);
        // Time going backwards refills nothing.
        assert!(!l.allow(p, t0));
    }

    #[test]
    fn h4_inflight_is_bounded_per_peer_and_in_all() {
        let mut f = Inflight::default();
        let p = PeerId::random();
        for _ in 0..MAX_INFLIGHT_PER_PEER {
            assert_eq!(f.admit(p), Admit::Yes);
        }
        assert_eq!(f.admit(p), Admit::PeerBusy);
        f.done(&p);
        assert_eq!(f.admit(p), Admit::Yes);
        let mut others = Vec::new();
        while f.total() < MAX_INFLIGHT {
            let q = PeerId::random();
            assert_eq!(f.admit(q), Admit::Yes);
            others.push(q);
        }
        assert_eq!(f.admit(PeerId::random()), Admit::AllBusy);
        for q in &others {
            f.done(q);
        }
        f.done(&PeerId::random()); // unknown: no underflow
        assert_eq!(f.total(), MAX_INFLIGHT_PER_PEER);
    }
}

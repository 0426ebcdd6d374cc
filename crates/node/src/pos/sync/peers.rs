//! Whom to sync from: each peer's claimed head, who is cooling down, and what a peer that
//! claims a head it does not serve costs it (security review H2, H3). Pure state, so its rules
//! are unit-tested without a network.

use super::pipeline::PIPELINE;
use crate::pos::NO_PROGRESS_PENALTY;
use dbc_network::Peer;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

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
pub(in crate::pos) struct SyncState {
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
    pub(in crate::pos) fn is_running(&self) -> bool {
        self.running
    }

    /// Whether `peer` is not to be synced from now.
    #[cfg(test)]
    pub(in crate::pos) fn is_cooling_down(&self, peer: &Peer) -> bool {
        self.cooldown.get(peer).is_some_and(|until| *until > Instant::now())
    }

    /// Records a claim; returns whether it was recorded (at most [`MAX_CLAIMS`] peers).
    pub(in crate::pos) fn claim(&mut self, peer: Peer, head: u64) -> bool {
        if self.claims.len() >= MAX_CLAIMS && !self.claims.contains_key(&peer) {
            return false;
        }
        self.claims.insert(peer, head);
        true
    }

    /// Forgets a peer that disconnected.
    pub(super) fn forget(&mut self, peer: &Peer) {
        self.claims.remove(peer);
    }

    /// Leaves `peer` alone for [`COOLDOWN`]: a helper that failed or served a wrong body.
    pub(super) fn rest(&mut self, peer: Peer, now: Instant) {
        self.cooldown.insert(peer, now + COOLDOWN);
    }

    /// Whether a peer is proving, with valid blocks, that we are behind.
    pub(super) fn is_behind(&self, now: Instant) -> bool {
        self.behind_until.is_some_and(|t| now < t)
    }

    /// Production pauses until `until`: the round's peer delivered valid blocks beyond our
    /// head, and its claim is higher still.
    pub(super) fn behind_until(&mut self, until: Instant) {
        self.behind_until = Some(until);
    }

    /// Picks the peer to sync from (the highest claim above `ours` not cooling down) and marks a
    /// round as running; `None` while a round runs or when nobody qualifies.
    pub(super) fn start_round(&mut self, ours: u64, now: Instant) -> Option<(Peer, u64)> {
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
    pub(super) fn helpers(&mut self, peer: Peer, now: Instant) -> Vec<(Peer, u64)> {
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
    /// cooling down.
    pub(in crate::pos) fn start_rejoin(&mut self, peer: Peer, now: Instant) -> bool {
        self.cooldown.retain(|_, until| *until > now);
        if self.running || self.cooldown.contains_key(&peer) {
            return false;
        }
        self.running = true;
        true
    }

    /// Ends a rejoin round with `peer`. One that did not bring us back cools down for
    /// [`COOLDOWN`] from now, however long the round took, so a stream of its gossip starts
    /// one round, not one per block; one that did is not left to rest (it is now the best peer
    /// to sync the rest of its chain from).
    pub(in crate::pos) fn end_rejoin(&mut self, peer: Peer, adopted: bool, now: Instant) {
        self.running = false;
        self.conflict = None;
        if adopted {
            self.cooldown.remove(&peer);
        } else {
            self.cooldown.insert(peer, now + COOLDOWN);
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
    pub(super) fn end_round(
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

    #[test]
    fn a_rejoin_round_that_did_not_bring_us_back_rests_its_peer_from_its_end() {
        let (p, q) = (Peer::random(), Peer::random());
        let mut s = SyncState::default();
        let now = Instant::now();
        assert!(s.start_rejoin(p, now));
        assert!(!s.start_rejoin(q, now), "one round at a time");
        assert_eq!(s.start_round(0, now), None, "sync waits for it");
        // A round that took longer than the cooldown: the rest counts from its end.
        let end = now + COOLDOWN * 2;
        s.end_rejoin(p, false, end);
        assert!(!s.start_rejoin(p, end + COOLDOWN - Duration::from_millis(1)));
        assert!(s.start_rejoin(p, end + COOLDOWN));
        // A round that brought us back leaves its peer free at once.
        s.end_rejoin(p, true, end + COOLDOWN);
        assert!(s.start_rejoin(p, end + COOLDOWN));
    }
}

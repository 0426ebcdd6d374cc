//! Finality votes: our own, signed once per height under the voter's watermark, and peers',
//! checked before they are counted, buffered or forwarded (security review M6).
//!
//! A vote at or below the finalized block costs nothing (dropped before any lookup). A vote for
//! a block we have is checked against the set active for that block. A vote for a block we do
//! not have yet (it may arrive before the block) is kept only if it is at most
//! [`MAX_VOTE_AHEAD`] blocks ahead of our head and signed by a member of the current set, and
//! each peer may park at most [`MAX_PENDING_PER_PEER`] of them, so garbage far-future votes
//! cannot crowd out real early ones.

use super::PosNode;
use alloy_rlp::Encodable;
use dbc_network::{Peer, Topic, Verdict};
use dbc_primitives::pos::{self, Vote};
use std::collections::HashMap;

/// How far above our head a vote may be and still be kept until its block arrives.
pub(super) const MAX_VOTE_AHEAD: u64 = 16;
/// Early votes one peer may have waiting.
pub(super) const MAX_PENDING_PER_PEER: usize = 64;
/// Early votes waiting in all.
pub(super) const MAX_PENDING: usize = 4_096;

/// Votes received before their block, by the peer that sent them.
#[derive(Debug, Default)]
pub(super) struct PendingVotes {
    votes: Vec<(Vote, Peer)>,
    per_peer: HashMap<Peer, usize>,
}

impl PendingVotes {
    fn push(&mut self, vote: Vote, peer: Peer) -> bool {
        let n = self.per_peer.entry(peer).or_default();
        if *n >= MAX_PENDING_PER_PEER || self.votes.len() >= MAX_PENDING {
            return false;
        }
        *n += 1;
        self.votes.push((vote, peer));
        true
    }

    /// Takes the votes at or below `head`, drops those that fell too far behind it.
    fn take_ready(&mut self, head: u64) -> Vec<(Vote, Peer)> {
        let (ready, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.votes)
            .into_iter()
            .filter(|(v, _)| v.number.saturating_add(64) > head)
            .partition(|(v, _)| v.number <= head);
        self.per_peer.clear();
        for (_, p) in &keep {
            *self.per_peer.entry(*p).or_default() += 1;
        }
        self.votes = keep;
        ready
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.votes.len()
    }
}

impl PosNode {
    /// Signs and gossips a vote for the new head if this node is a validator of its set and the
    /// block is recent.
    pub(super) fn vote_for_head(&self) {
        let Some(voter) = &self.voter else { return };
        let head = self.chain.head();
        if head.timestamp.saturating_add(3 * self.slot_secs()) < super::now_secs() {
            return; // Catching up: old blocks are not voted on.
        }
        let Some(set) = self.set_of_block(head.number) else { return };
        if set.stake_of(voter.address()).is_none() {
            return;
        }
        let Some(vote) = voter.vote(head.number, head.hash()) else { return };
        let mut raw = Vec::new();
        vote.encode(&mut raw);
        if let Some(net) = self.net() {
            net.publish(Topic::Votes, raw);
        }
        self.on_vote(vote, None);
    }

    /// Records a vote (from a peer, or `None` for our own) and says whether to forward it.
    pub(super) fn on_vote(&self, vote: Vote, from: Option<Peer>) -> Verdict {
        let finalized = self.votes.lock().finalized().max(self.chain.finalized().unwrap_or(0));
        if vote.number <= finalized {
            return Verdict::Ignore;
        }
        let head = self.chain.head_number();
        if vote.number > head {
            let Some(peer) = from else { return Verdict::Ignore };
            // A signature that does not recover is garbage at any height (and costs the
            // sender); a real one too far ahead is only dropped.
            let Ok(who) =
                pos::recover_voter(self.spec.chain_id, vote.number, vote.hash, &vote.signature)
            else {
                return Verdict::Reject;
            };
            if self.set_for(&self.chain.head()).stake_of(who).is_none() {
                // Random bytes usually recover to some address: not a validator's.
                return Verdict::Reject;
            }
            if vote.number > head.saturating_add(MAX_VOTE_AHEAD) {
                return Verdict::Ignore;
            }
            return if self.pending_votes.lock().push(vote, peer) {
                Verdict::Accept
            } else {
                Verdict::Ignore
            };
        }
        let Some(set) = self.set_of_block(vote.number) else { return Verdict::Ignore };
        let added = self.votes.lock().add(self.spec.chain_id, &set, &vote);
        match added {
            Ok(Some(proof)) => {
                let canonical = self.storage().block_hash(proof.number).ok().flatten();
                if canonical == Some(proof.hash) {
                    self.mark_finalized(proof.number, false);
                }
                Verdict::Accept
            }
            Ok(None) => Verdict::Accept,
            Err(_) => Verdict::Reject,
        }
    }

    pub(super) fn retry_pending_votes(&self) {
        let head = self.chain.head_number();
        let ready = self.pending_votes.lock().take_ready(head);
        for (v, p) in ready {
            if matches!(self.on_vote(v, Some(p)), Verdict::Reject) {
                self.penalize(p, super::INVALID_PENALTY, "invalid vote");
            }
        }
    }
}

//! The validator's block production: build during the slot before its own, seal when its slot
//! opens under the persisted watermark (never two headers for one slot, across restarts and
//! unwinds), gossip, commit; abandon the build for a valid competing block.

use super::codec::RawBlock;
use super::{PosNode, codec::encode_block};
use crate::NodeError;
use alloy_primitives::{B256, Bytes};
use dbc_consensus::pos::{PosEngine, verify_header};
use dbc_evm::BlockAttributes;
use dbc_network::Topic;
use dbc_primitives::{Block, Sealable, pos};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tracing::warn;

pub(super) async fn produce(
    node: Arc<PosNode>,
    engine: Arc<PosEngine>,
    gas_limit: u64,
) -> Result<(), NodeError> {
    // Dropped with this future when the node shuts down: a block being built ends at once.
    let _abandon = AbandonOnDrop(node.clone());
    // After a restart, hear from peers first: sealing on a stale head only makes a fork that
    // the node then has to unwind. Waiting is bounded, and continues only while a peer is
    // delivering valid blocks (a claim alone does not hold production back).
    for _ in 0..30 {
        if node.net().is_some_and(|n| n.peer_count() > 0) && node.chain.head_number() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while node.behind() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let changed = node.head_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let parent = node.chain.head();
        // The block of slot `t` is built while the slot before it runs (`t - slot` to `t`:
        // for the in-turn proposer, from the parent's arrival), executing transactions as they
        // arrive, and sealed when its slot opens; only the roots and the commit come after.
        let Some(slot) = engine.slot_after(&parent) else {
            // Not a proposer after this parent: wait for the head to move.
            changed.await;
            continue;
        };
        let opens = Duration::from_secs(slot.timestamp.saturating_sub(node.slot_secs()));
        tokio::select! {
            _ = tokio::time::sleep(opens.saturating_sub(unix_now())) => {}
            _ = changed => continue,
        }
        if node.behind() {
            // A peer is proving, block by block, that our head is old: do not fork off it.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let deadline =
            Instant::now() + Duration::from_secs(slot.timestamp).saturating_sub(unix_now());
        let parent_hash = parent.hash();
        let (n, e) = (node.clone(), engine.clone());
        let produced = tokio::task::spawn_blocking(move || {
            n.seal_and_commit(&e, &parent, slot, gas_limit, Some(deadline))
        })
        .await
        .map_err(|x| NodeError::Production(x.to_string()))?;
        let produced = match produced {
            Ok(p) => p,
            Err(e) => {
                // Skip this slot (a backup proposer takes it); the node keeps following. The
                // trie was put back by `build_sealed`/`commit_or_restore`.
                warn!(target: "dbc::pos", error = %e, "block production failed");
                tokio::time::sleep(Duration::from_secs(node.slot_secs())).await;
                continue;
            }
        };
        match produced {
            // Gossiped by `seal_and_commit` before its commit.
            Some(_) => node.after_new_head(),
            None => {
                // Abandoned for a competing block (or the head moved): let that block's import,
                // which waited for the trie lock, run before anything is built on this parent
                // again — rebuilding at once could take the lock first and seal a losing
                // block. If the competitor fails to import, its parent is built on after a slot.
                let until = Instant::now() + Duration::from_secs(node.slot_secs());
                while node.chain.head().hash() == parent_hash && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Abandons the block being built when the producer goes away.
struct AbandonOnDrop(Arc<PosNode>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.abandon_build();
    }
}

/// Peer blocks remembered as having failed to import after passing the precheck.
const MAX_FAILED_COMPETITORS: usize = 64;

/// The block a validator is building: its parent, and the flag that abandons it.
#[derive(Debug)]
pub(super) struct Building {
    pub(super) parent: B256,
    pub(super) abandon: Arc<AtomicBool>,
}

/// Clears [`PosNode::building`] when the build ends, however it ends.
struct ClearBuilding<'a>(&'a parking_lot::Mutex<Option<Building>>);

impl Drop for ClearBuilding<'_> {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
}

impl PosNode {
    /// Builds the block after `parent` in `slot`, seals it (under the persisted watermark),
    /// gossips it and commits it. Returns the encoded block(s) it gossiped, or `None` if the
    /// head moved since `parent` was read. The head moves before the trie lock is released
    /// (security review M7), so whoever takes the lock next sees storage and `CanonChain` agree.
    ///
    /// With `until` (the slot's start), the block is built while the slot before it runs and
    /// sealed when its own opens; a prechecked competing block on the same parent arriving
    /// meanwhile ([`Self::abandon_for`]) abandons it: nothing is sealed and `None` is returned.
    pub(super) fn seal_and_commit(
        &self,
        engine: &PosEngine,
        parent: &dbc_primitives::SealedHeader,
        slot: dbc_consensus::Slot,
        gas_limit: u64,
        until: Option<Instant>,
    ) -> Result<Option<Vec<Bytes>>, NodeError> {
        // Announced before the trie lock is taken, so that a competing block checked while we
        // wait for the lock abandons the build too (which then ends at once).
        let abandon = Arc::new(AtomicBool::new(false));
        *self.building.lock() = Some(Building { parent: parent.hash(), abandon: abandon.clone() });
        let _building = ClearBuilding(&self.building);
        let mut trie = self.trie.lock();
        if self.chain.head().hash() != parent.hash() {
            return Ok(None);
        }
        let started = Instant::now();
        let storage = self.storage().clone();
        let attrs = BlockAttributes {
            timestamp: slot.timestamp,
            beneficiary: slot.beneficiary,
            extra_data: slot.extra_data.clone(),
            gas_limit: gas_limit.clamp(
                parent.gas_limit - parent.gas_limit / 1024,
                parent.gas_limit + parent.gas_limit / 1024,
            ),
            staking_hook: slot.staking_hook.clone(),
            prev_randao: slot.prev_randao,
        };
        // Sealing records the slot in `<datadir>/last_seal` (fsynced) before the
        // signature exists; a slot already sealed is refused.
        let until = until.map(|u| (u, &*abandon));
        let Some(executed) = crate::build_sealed(
            engine, &self.spec, parent, &storage, &self.pool, attrs, &mut trie, until,
        )?
        else {
            tracing::info!(
                target: "dbc::pos",
                number = parent.number + 1,
                "block abandoned for a competing one"
            );
            return Ok(None);
        };
        // Logged times count from the slot's start (the build ran during the slot before).
        let started = until.map_or(started, |(u, _)| u.min(Instant::now()));
        let sealed = executed.block.header.inner().clone();
        if self.abort_after_seal {
            tracing::error!(
                target: "dbc::pos",
                number = sealed.number,
                timestamp = sealed.timestamp,
                "test hook: aborting after the seal, before commit and gossip"
            );
            std::process::abort();
        }
        let proof = pos::parse_extra(&sealed.extra_data)
            .ok()
            .and_then(|(x, _)| x.finality.into_iter().next());
        let mut out = vec![Bytes::from(encode_block(&executed.block))];
        if self.equivocate {
            // Test hook: a second block for the same slot (same contents, other vanity),
            // sealed past the watermark on purpose.
            let mut other = sealed.clone();
            let mut extra = other.extra_data.to_vec();
            extra[0] ^= 0xff;
            extra.truncate(extra.len() - pos::SEAL_LEN);
            other.extra_data = extra.into();
            let other =
                engine.seal_unguarded(other).map_err(|x| NodeError::Production(x.to_string()))?;
            let twin = Block {
                header: other.seal_slow(),
                transactions: executed.block.transactions.clone(),
                senders: executed.block.senders.clone(),
            };
            out.push(encode_block(&twin).into());
        }
        // Peers get the block now, not after our commit: its import on every other validator
        // (and its votes) starts a commit earlier (Lighthouse publishes before import too).
        // Sealing recorded the slot first, so a failed commit below cannot lead to a second
        // header for it; the block then reaches us back through sync like anyone's.
        if let Some(net) = self.net() {
            for b in &out {
                net.publish(Topic::Blocks, b.to_vec());
            }
        }
        // The head moves before the lock is released (security review M7).
        crate::commit_and_finish(
            &self.chain,
            &self.pool,
            &storage,
            executed,
            &mut trie,
            started,
            "block sealed",
        )?;
        drop(trie);
        if let Some(p) = proof {
            self.mark_finalized(p.number, true);
        }
        Ok(Some(out))
    }

    /// Abandons the block being built, if any (the producer is going away).
    pub(super) fn abandon_build(&self) {
        if let Some(b) = &*self.building.lock() {
            b.abandon.store(true, Ordering::Relaxed);
        }
    }

    /// Checks a peer's block on `parent` the way its import starts — header (seal, slot,
    /// proposer, not from the future) and body (transactions root) — before anyone waits for
    /// the trie lock, which a producer building during its slot holds: garbage is refused at
    /// once instead of after our slot, and only a block that passes may abandon a build.
    pub(super) fn precheck_block(
        &self,
        parent: &dbc_primitives::SealedHeader,
        block: &mut RawBlock,
    ) -> Result<(), String> {
        let set = self.set_for(parent);
        let header = block.header.inner();
        verify_header(&set, parent.inner(), header, self.slot_secs(), super::now_secs())
            .map_err(|e| e.to_string())?;
        block.ensure_body_checked()
    }

    /// A prechecked peer block `block` that builds on `parent` or replaces it: a build on
    /// `parent` is abandoned (the import waiting for the trie lock runs now rather than after
    /// our slot, when our block would lose fork choice anyway), unless `block` already failed
    /// to import once — a sealer cannot keep abandoning our builds with one signed header.
    /// Returns whether a build was abandoned.
    pub(super) fn abandon_for(&self, parent: B256, block: B256) -> bool {
        if self.failed_competitors.lock().contains(&block) {
            return false;
        }
        match &*self.building.lock() {
            Some(b) if b.parent == parent => {
                b.abandon.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Remembers a peer block that passed the precheck but failed to import.
    pub(super) fn remember_failed(&self, block: B256) {
        let mut failed = self.failed_competitors.lock();
        if failed.len() >= MAX_FAILED_COMPETITORS {
            failed.remove(0);
        }
        failed.push(block);
    }
}

//! A peer's block on top of the head: verified cheapest first, re-executed, then committed;
//! and a batch of consecutive blocks a peer served (sync and rejoin rounds), which may fork off
//! our chain and then goes to fork choice.

use super::{
    ImportError, PosNode,
    codec::{RawBlock, recover_senders_with},
    fork::{claims_finality_above, heavier},
    now_secs,
};
use crate::{
    NodeError, finish_block,
    persist::{Committed, Persister},
    trie_undo::Touched,
};
use dbc_consensus::pos::{VerifiedHeader, verify_header, verify_schedule};
use dbc_evm::{BlockAttributes, ExecutedBlock, TxList, build_block};
use dbc_primitives::pos::FinalityProof;
use dbc_primitives::{BlockHeader, Recovered, TxEnvelope};
use dbc_storage::StateReader;
use dbc_trie::StateTrie;
use std::time::Instant;

/// Which header field differs between a received header and the re-executed one.
pub(super) fn differing_field(built: &BlockHeader, header: &BlockHeader) -> &'static str {
    if built.state_root != header.state_root {
        "state root"
    } else if built.receipts_root != header.receipts_root {
        "receipts root"
    } else if built.gas_used != header.gas_used {
        "gas used"
    } else if built.logs_bloom != header.logs_bloom {
        "logs bloom"
    } else {
        "header fields"
    }
}

impl PosNode {
    /// Re-executes a block whose header is verified on `state` (the parent's state), updating
    /// `trie`. Returns the executed block, or why it is invalid; on `Err` the trie may hold the
    /// block's update, which `touched` records (the caller restores it).
    pub(super) fn execute_verified<R: StateReader>(
        &self,
        parent: &dbc_primitives::SealedHeader,
        state: R,
        block: RawBlock,
        verified: &VerifiedHeader,
        trie: &mut StateTrie,
        touched: &mut Touched,
    ) -> Result<ExecutedBlock, ImportError> {
        let mut block = block;
        block.ensure_body_checked().map_err(ImportError::Invalid)?;
        let header = block.header.inner();
        let transactions_root = header.transactions_root;
        let expected_hash = block.header.hash();
        let attrs = BlockAttributes {
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            extra_data: header.extra_data.clone(),
            gas_limit: header.gas_limit,
            staking_hook: Some((verified.sealer, verified.missed.clone())),
            prev_randao: Some(verified.mix),
        };
        // Only now, with the header and the body checked, one ecrecover per transaction the
        // pool has not recovered already.
        let block = recover_senders_with(block, |hash| self.pool.get(hash).map(|t| t.sender()))
            .map_err(ImportError::Invalid)?;
        let received = block.header.clone();
        let count = block.transactions.len();
        let txs: Vec<Recovered<TxEnvelope>> = block
            .transactions
            .into_iter()
            .zip(block.senders)
            .map(|(t, s)| Recovered::new_unchecked(t, s))
            .collect();
        // The body matches the header's transactions root (checked above): not hashed again.
        let mut txs = TxList::with_verified_root(txs, transactions_root);
        let executed = build_block(&self.spec, parent, state, attrs, &mut txs, trie)
            .map_err(|e| ImportError::Invalid(format!("execution failed: {e}")))?;
        touched.add_changes(&executed.changes);
        if !executed.rejected.is_empty() || executed.block.transactions.len() != count {
            let why = executed.rejected.first().map(|r| r.reason.clone()).unwrap_or_default();
            return Err(ImportError::Invalid(format!("a transaction is not executable: {why}")));
        }
        let built = executed.block.header.inner();
        if built.hash_slow() != expected_hash {
            let field = differing_field(built, received.inner());
            return Err(ImportError::Invalid(format!("{field} differs from re-execution")));
        }
        let mut executed = executed;
        executed.block.header = received;
        Ok(executed)
    }

    /// Imports `block` on top of the head. Call with the trie locked (`trie`). Nothing is
    /// recovered or executed before the header (seal, slot, finality proof) and the body
    /// (transactions root) check out; an invalid block costs what it touched to undo, never a
    /// trie rebuild (security review H4). The one-block case of [`PosNode::import_pipelined`]:
    /// the same checks, and the commit is waited for before returning.
    pub(super) fn import_locked(
        &self,
        trie: &mut StateTrie,
        block: RawBlock,
    ) -> Result<(), ImportError> {
        let mut persist = Persister::new(self.storage().clone());
        let imported = self.import_pipelined(trie, &mut persist, block);
        let committed = self.finish_waited(&mut persist, trie);
        imported?;
        Ok(committed?)
    }

    /// Imports `block` on top of the block `persist` is committing (else the head), with that
    /// commit still running: the block is verified and executed over the state with the
    /// committing block on top, then handed to `persist`; every block whose commit finished
    /// meanwhile is finished here (head, pool, finality). Call with the trie locked, for a run
    /// of blocks (a sync batch), and [`PosNode::finish_waited`] after the last.
    pub(super) fn import_pipelined(
        &self,
        trie: &mut StateTrie,
        persist: &mut Persister<Option<FinalityProof>>,
        block: RawBlock,
    ) -> Result<(), ImportError> {
        let started = Instant::now();
        let storage = self.storage().clone();
        if trie.is_poisoned() {
            // Reopening reads the storage head: the commit in flight lands first.
            self.finish_waited(persist, trie)?;
            crate::recover_trie(trie, &storage)?;
        }
        let parent = match persist.pending_header() {
            Some(h) => h.clone(),
            None => self.chain.head(),
        };
        if block.header.parent_hash != parent.hash() {
            return Err(ImportError::NotNext(block.header.parent_hash));
        }
        let state = persist.state()?;
        let header = block.header.inner();
        let set = self.set_in(&parent, &state);
        let slot = self.slot_secs();
        let verified = match &block.shaped {
            // Headers-first sync checked the seal and VRF on this very parent already.
            Some(shaped) => verify_schedule(&set, parent.inner(), header, shaped.clone(), slot),
            None => verify_header(&set, parent.inner(), header, slot, now_secs()),
        }
        .map_err(|e| ImportError::Invalid(e.to_string()))?;
        if let Some(proof) = &verified.finality {
            // The proof's block must be canonical in storage: wait if it is being committed.
            if persist.pending_header().is_some_and(|h| h.number <= proof.number) {
                self.finish_waited(persist, trie)?;
            }
            self.check_finality(proof, header.number).map_err(ImportError::Invalid)?;
        }
        let mut touched = Touched::default();
        let finality = verified.finality.clone();
        match self.execute_verified(&parent, state, block, &verified, trie, &mut touched) {
            Ok(executed) => {
                let submitted = persist.submit(executed, trie, started, finality);
                // Whatever committed is finished, also when this block could not be.
                self.finish_all(persist);
                Ok(submitted?)
            }
            Err(e) => {
                // Putting the trie back reads the head's plain state: the block in flight
                // must be there first. If its commit failed, the trie was reopened at the
                // storage head instead; the block is still invalid.
                match self.finish_waited(persist, trie) {
                    Ok(()) => touched.restore(trie, &storage)?,
                    Err(w) => tracing::warn!(target: "dbc::pos", error = %w, "a commit failed"),
                }
                Err(e)
            }
        }
    }

    /// Waits for `persist`'s block in flight and finishes it (also when a later step fails).
    pub(super) fn finish_waited(
        &self,
        persist: &mut Persister<Option<FinalityProof>>,
        trie: &mut StateTrie,
    ) -> Result<(), NodeError> {
        let waited = persist.wait(trie);
        self.finish_all(persist);
        waited
    }

    /// Every block `persist` has committed becomes the head, in order.
    fn finish_all(&self, persist: &mut Persister<Option<FinalityProof>>) {
        for c in persist.take_finished() {
            self.finish_committed(c);
        }
    }

    /// A block committed by a [`Persister`] becomes the head.
    fn finish_committed(&self, c: Committed<Option<FinalityProof>>) {
        let proof = c.tag;
        finish_block(&self.chain, &self.pool, c.executed, c.started, c.commit, "block imported");
        if let Some(proof) = proof {
            self.mark_finalized(proof.number, true);
        }
    }
}

/// What became of a batch of blocks a peer served (sync and rejoin rounds).
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
        tracing::debug!(target: "dbc::pos", from, imported, "sync batch");
        match invalid {
            Some(e) => BatchOutcome::Invalid(e),
            None if imported == 0 => BatchOutcome::NoProgress,
            None => BatchOutcome::Progress,
        }
    }
}

//! A peer's block on top of the head: verified cheapest first, re-executed, then committed.

use super::{
    ImportError, PosNode,
    codec::{RawBlock, recover_senders_with},
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

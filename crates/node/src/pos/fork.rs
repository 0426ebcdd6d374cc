//! Fork choice: a competing branch is verified and executed on an overlay of the fork point's
//! state, and adopted only if every block of it is valid and it is heavier than our chain, or
//! it carries a valid proof finalizing one of its own blocks (finality beats length: none of
//! our blocks above the fork point can be final then).
//!
//! Nothing a peer claims moves the chain (security review H2): the state trie is moved back to
//! the fork point by applying our blocks' changesets backwards, the branch is executed over
//! [`BranchState`] (the fork point's historical state plus the branch's own changes), and only
//! when the whole branch re-executes to its headers and is heavier are our blocks unwound from
//! storage and the branch committed. A branch that fails anywhere puts the trie back to our
//! head by re-reading what was touched; storage, the head and the pool never changed.

use super::{ImportError, PosNode, codec::RawBlock, now_secs};
use crate::{NodeError, finish_block, trie_undo::Touched};
use alloy_primitives::{Address, B256};
use dbc_consensus::pos::{ValidatorSet, verify_finality, verify_header};
use dbc_evm::ExecutedBlock;
use dbc_primitives::{
    SealedHeader, TxEnvelope,
    pos::{self, FinalityProof},
};
use dbc_storage::HistoricalState;
use dbc_trie::StateTrie;
use std::time::Instant;
use tracing::{debug, info};

/// Whether a chain whose tip is `theirs` is heavier than ours (tip `ours`): longer, or as long
/// with an earlier tip (fewer skipped slots: the in-turn block beats a backup's, so a backup
/// racing the in-turn proposer gains nothing — security review M2).
pub(super) fn heavier(theirs: &SealedHeader, ours: &SealedHeader) -> bool {
    theirs.number > ours.number
        || (theirs.number == ours.number && theirs.timestamp < ours.timestamp)
}

/// Checks a finality proof carried by a branch block against the branch itself when it is
/// for one of the branch's earlier blocks (`sets`: their hashes and active sets, in order from
/// the block after `fork_parent`). The network may have finalized those blocks while this node
/// was on another branch: a node on a minority fork must still be able to rejoin a chain that
/// carries its own finality (our finalized block is at or below the fork point, so nothing we
/// finalized is undone). `Ok(false)`: the proof is for a block at or below the fork point, to
/// be checked against our canonical chain.
pub(super) fn check_branch_finality(
    proof: &FinalityProof,
    fork_parent: u64,
    sets: &[(B256, ValidatorSet)],
    chain_id: u64,
) -> Result<bool, String> {
    let Some(index) = proof.number.checked_sub(fork_parent.saturating_add(1)) else {
        return Ok(false);
    };
    let index = usize::try_from(index).unwrap_or(usize::MAX);
    let Some((hash, set)) = sets.get(index) else {
        return Err(format!("finality proof for block {}, not below it", proof.number));
    };
    if *hash != proof.hash {
        return Err(format!("finality proof for block {} of another branch", proof.number));
    }
    verify_finality(set, chain_id, proof).map_err(|e| e.to_string())?;
    Ok(true)
}

/// Whether a header of `branch` carries a finality proof for a block above `fork_parent` (one
/// of the branch's own, not yet checked): such a branch is worth executing even when it is not
/// heavier, since a valid proof makes it the chain (fork choice never leaves finality).
pub(super) fn claims_finality_above(branch: &[RawBlock], fork_parent: u64) -> bool {
    branch.iter().any(|b| {
        pos::parse_extra(&b.header.extra_data)
            .is_ok_and(|(extra, _)| extra.finality.iter().any(|p| p.number > fork_parent))
    })
}

/// The fork point's historical state plus the changes of the branch blocks executed so far.
pub(super) type BranchState = crate::overlay::Overlay<HistoricalState>;

impl PosNode {
    /// Switches to `branch` (consecutive blocks, the first one's parent canonical here and at
    /// or below our head) if it is valid and heavier than our chain. Call with the trie locked.
    /// Returns the number of blocks adopted (0: ours is at least as heavy; nothing changed).
    pub(super) fn import_fork(
        &self,
        trie: &mut StateTrie,
        branch: Vec<RawBlock>,
    ) -> Result<usize, ImportError> {
        let started = Instant::now();
        let storage = self.storage().clone();
        crate::recover_trie(trie, &storage)?;
        let head = self.chain.head();
        let (Some(first), Some(last)) = (branch.first(), branch.last()) else { return Ok(0) };
        let fork_parent_number =
            first.header.number.checked_sub(1).ok_or_else(|| {
                ImportError::Invalid("a branch cannot replace the genesis".into())
            })?;
        let finalized = self.chain.finalized().unwrap_or(0);
        if fork_parent_number < finalized {
            return Err(ImportError::Invalid(format!(
                "branch forks below finalized block {finalized}"
            )));
        }
        let fork_parent = storage
            .header(fork_parent_number)
            .map_err(NodeError::from)?
            .filter(|h| h.hash() == first.header.parent_hash)
            .ok_or(ImportError::NotNext(first.header.parent_hash))?;
        let longer = heavier(&last.header, &head);
        if fork_parent.number >= head.number
            || !(longer || claims_finality_above(&branch, fork_parent.number))
        {
            return Ok(0);
        }
        let mut touched = Touched::default();
        let result = self.execute_branch(trie, &fork_parent, &head, branch, &mut touched);
        let executed = match result {
            Ok(e) => e,
            Err(e) => {
                touched.restore(trie, &storage)?;
                return Err(e);
            }
        };
        // A shorter branch wins only by finality: more than 2/3 of the stake voted for one of
        // its blocks, so none of ours above the fork point can ever be final.
        let finalizes = executed.iter().any(|(_, f)| f.is_some_and(|n| n > fork_parent.number));
        if !(longer || finalizes) {
            touched.restore(trie, &storage)?;
            return Ok(0);
        }
        // Every block checked out and the branch is heavier (or final): now, and only now,
        // switch.
        let mut unwound: Vec<(TxEnvelope, Address)> = Vec::new();
        let mut accounts: Vec<Address> = Vec::new();
        for n in fork_parent.number + 1..=head.number {
            if let Ok(Some(b)) = storage.block(n)
                && b.senders.len() == b.transactions.len()
            {
                unwound.extend(b.transactions.into_iter().zip(b.senders));
            }
            if let Ok(changed) = storage.changes_before(n) {
                accounts.extend(changed.into_iter().map(|(a, _, _)| a));
            }
        }
        accounts.sort_unstable();
        accounts.dedup();
        let adopted = executed.len();
        if let Err(e) = self.adopt(&fork_parent, executed, started, trie) {
            // Storage refused a write: the trie no longer matches anything we know.
            crate::reset_trie(trie, &storage)?;
            return Err(e.into());
        }
        info!(
            target: "dbc::pos",
            fork_at = fork_parent.number + 1,
            unwound = head.number - fork_parent.number,
            adopted,
            head = self.chain.head_number(),
            "switched to another branch"
        );
        // Senders whose nonce our unwound blocks had raised go back to the new head's nonce
        // before their transactions return to the pool (security review M8).
        let nonces: Vec<(Address, u64)> = accounts
            .into_iter()
            .map(|a| (a, storage.latest_account(a).ok().flatten().map_or(0, |acc| acc.nonce)))
            .collect();
        let new_nonces: std::collections::HashMap<Address, u64> = nonces.iter().copied().collect();
        self.pool.on_reorg(nonces);
        self.readd(unwound, &new_nonces);
        Ok(adopted)
    }

    /// Moves the trie back to `fork_parent` and executes the branch over [`BranchState`];
    /// every header is verified (seal, slot, finality proof, body) before its block runs.
    fn execute_branch(
        &self,
        trie: &mut StateTrie,
        fork_parent: &SealedHeader,
        head: &SealedHeader,
        branch: Vec<RawBlock>,
        touched: &mut Touched,
    ) -> Result<Vec<(ExecutedBlock, Option<u64>)>, ImportError> {
        let storage = self.storage();
        for n in (fork_parent.number + 1..=head.number).rev() {
            touched.revert_committed(trie, storage, n)?;
        }
        let mut state = BranchState::new(storage.state_at(fork_parent.number), fork_parent.number);
        let mut parent = fork_parent.clone();
        let mut out = Vec::with_capacity(branch.len());
        // The branch's blocks executed so far, each with the set that was active for it: a
        // proof carried further on may finalize one of them.
        let mut sets: Vec<(B256, ValidatorSet)> = Vec::with_capacity(branch.len());
        let now = now_secs();
        for block in branch {
            if block.header.parent_hash != parent.hash() {
                return Err(ImportError::Invalid("branch blocks do not link".into()));
            }
            let set = self.set_in(&parent, &state);
            let header = block.header.inner();
            let verified = verify_header(&set, parent.inner(), header, self.slot_secs(), now)
                .map_err(|e| ImportError::Invalid(e.to_string()))?;
            let finalized = match &verified.finality {
                None => None,
                Some(proof) => {
                    let chain_id = self.spec.chain_id;
                    let on_branch =
                        check_branch_finality(proof, fork_parent.number, &sets, chain_id)
                            .map_err(ImportError::Invalid)?;
                    if !on_branch {
                        self.check_finality(proof, fork_parent.number + 1)
                            .map_err(ImportError::Invalid)?;
                    }
                    Some(proof.number)
                }
            };
            let next = block.header.clone();
            let executed =
                self.execute_verified(&parent, &state, block, &verified, trie, touched)?;
            state.apply(&executed);
            sets.push((next.hash(), set));
            parent = next;
            out.push((executed, finalized));
        }
        Ok(out)
    }

    /// Unwinds storage to `fork_parent` and commits the executed branch (the trie already
    /// holds the branch's state: its updates go with the branch's last block; a crash before
    /// leaves the stored trie behind the head, rebuilt at start).
    fn adopt(
        &self,
        fork_parent: &SealedHeader,
        executed: Vec<(ExecutedBlock, Option<u64>)>,
        started: Instant,
        trie: &mut StateTrie,
    ) -> Result<(), NodeError> {
        let storage = self.storage();
        let mut head = self.chain.head();
        while head.number > fork_parent.number {
            match storage.unwind_head() {
                Ok(h) => head = h,
                Err(e) => {
                    // Storage stopped part-way: the chain's head follows what storage holds.
                    if head.number < self.chain.head_number() {
                        self.chain.on_unwound(head);
                    }
                    return Err(e.into());
                }
            }
        }
        self.chain.on_unwound(head);
        let last = executed.len().saturating_sub(1);
        for (i, (block, finalized)) in executed.into_iter().enumerate() {
            let commit_started = Instant::now();
            let updates = (i == last).then(|| trie.take_updates());
            let written = storage.commit_executed(
                &block.block,
                &block.receipts,
                &block.hook_logs,
                &block.changes,
                updates.as_ref(),
            )?;
            if updates.is_some() {
                // The branch's last block carries the trie's updates since our old head.
                crate::trie_written(trie, storage, written)?;
            }
            finish_block(
                &self.chain,
                &self.pool,
                block,
                started,
                commit_started.elapsed(),
                "block imported",
            );
            if let Some(number) = finalized {
                self.mark_finalized(number, true);
            }
        }
        Ok(())
    }

    /// Returns unwound transactions (with the senders recovered when their blocks were
    /// executed) to the pool, those still valid on the new head. Most of a reorg's are
    /// usually in the adopted branch too: a transaction below its sender's nonce on the new
    /// head (`nonces`: every account the unwound blocks changed, senders included) is left
    /// out before any other check. One line sums up what happened to them.
    fn readd(
        &self,
        txs: Vec<(TxEnvelope, Address)>,
        nonces: &std::collections::HashMap<Address, u64>,
    ) {
        let head = self.chain.head();
        let (mut returned, mut in_branch, mut dropped) = (0usize, 0usize, 0usize);
        for (tx, sender) in txs {
            if nonces.get(&sender).is_some_and(|n| alloy_consensus::Transaction::nonce(&tx) < *n) {
                in_branch += 1;
                continue;
            }
            let size = tx.eip2718_encoded_length();
            match self.validator.validate_with_sender(tx, size, head.inner(), sender) {
                Ok(v) => match self.pool.add(v.tx, v.size, v.state_nonce) {
                    Ok(_) => returned += 1,
                    Err(e) => {
                        dropped += 1;
                        debug!(target: "dbc::pos", error = %e, "unwound transaction not taken back");
                    }
                },
                Err(e) => {
                    dropped += 1;
                    debug!(target: "dbc::pos", error = %e, "unwound transaction dropped");
                }
            }
        }
        if returned + in_branch + dropped > 0 {
            info!(
                target: "dbc::pos",
                returned_to_pool = returned,
                nonce_used_on_new_head = in_branch,
                dropped,
                "unwound transactions"
            );
        }
    }
}

//! Importing a run of blocks with each block's commit overlapping the next block's execution
//! and state root (reth's background persistence, one block deep).
//!
//! Block N's write batch goes to RocksDB on its own thread while block N + 1 executes over an
//! [`Overlay`] of N's changes on the head's state. N + 1 reads the same state whether or not
//! N's batch has landed: a RocksDB batch is atomic to readers, and every key N changed is read
//! from the overlay. N's trie updates were taken before N + 1 changes the trie, and a node N
//! changed is in memory, so the trie never reads a node N's batch is writing. What holds:
//! - commits happen in order and one at a time: N + 1's starts once N's has finished;
//! - the trie never unloads while a commit is in flight (an unloaded node must be stored): a
//!   trie over its memory bound commits at once, then unloads;
//! - whatever reads the head's plain state to put the trie back (an invalid block) waits for
//!   the commit in flight first ([`Persister::wait`]);
//! - a failed commit reopens the trie from the stored root (the head before that block), and
//!   the blocks executed on top of it are dropped; if even that fails, the trie is left
//!   poisoned, so its next user reopens it;
//! - the chain's head (RPC, pool, notifications) moves when a block's commit has finished, never
//!   before: [`Persister::take_finished`] hands back each committed block in order, also after
//!   an error (a block committed before a failure is never lost).

use crate::{NodeError, commit_or_restore, overlay::Overlay, reset_trie};
use dbc_evm::ExecutedBlock;
use dbc_primitives::SealedHeader;
use dbc_storage::{LatestState, Storage, StorageError, TrieWrite};
use dbc_trie::StateTrie;
use std::{
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// A block whose commit has finished, with what its importer attached to it.
#[derive(Debug)]
pub struct Committed<T> {
    /// The block, now the storage's head (or below it).
    pub executed: ExecutedBlock,
    /// When its import started.
    pub started: Instant,
    /// How long its commit (the write itself) took.
    pub commit: Duration,
    /// The importer's own data (e.g. the finality proof its header carried).
    pub tag: T,
}

#[derive(Debug)]
struct InFlight<T> {
    executed: Arc<ExecutedBlock>,
    started: Instant,
    tag: T,
    handle: JoinHandle<(Result<TrieWrite, StorageError>, Duration)>,
}

/// Commits executed blocks one at a time on a background thread. Call [`Persister::wait`] and
/// [`Persister::take_finished`] before dropping it: the block in flight is finished only then.
#[derive(Debug)]
pub struct Persister<T> {
    storage: Storage,
    inflight: Option<InFlight<T>>,
    /// Committed, not yet taken by the caller.
    finished: Vec<Committed<T>>,
}

impl<T> Persister<T> {
    /// A persister writing to `storage`, nothing in flight.
    pub fn new(storage: Storage) -> Self {
        Self { storage, inflight: None, finished: Vec::new() }
    }

    /// The header of the block being committed, if any: the next block's parent.
    pub fn pending_header(&self) -> Option<&SealedHeader> {
        self.inflight.as_ref().map(|f| &f.executed.block.header)
    }

    /// The state the next block executes on: the head's, with the block being committed on
    /// top.
    pub fn state(&self) -> Result<Overlay<LatestState>, NodeError> {
        let Some(f) = &self.inflight else {
            let head = self.storage.head_number()?.unwrap_or(0);
            return Ok(Overlay::new(self.storage.latest(), head));
        };
        let mut state =
            Overlay::new(self.storage.latest(), f.executed.block.number().saturating_sub(1));
        state.apply(&f.executed);
        Ok(state)
    }

    /// Hands over `executed`, whose trie updates `trie` holds and has not given out, for
    /// commit, after waiting for the block before it. The blocks whose commit finished
    /// meanwhile (the one before, and `executed` itself when the trie is over its memory bound:
    /// committed at once, then unloaded) are queued for [`Persister::take_finished`], also when
    /// this fails. On `Err` nothing of `executed` is stored and the trie is the storage head's
    /// (or poisoned, if even reopening it failed).
    pub fn submit(
        &mut self,
        executed: ExecutedBlock,
        trie: &mut StateTrie,
        started: Instant,
        tag: T,
    ) -> Result<(), NodeError>
    where
        T: Send + 'static,
    {
        if self.wait_inner(trie)? {
            // The trie was rebuilt at the block before: `executed`'s update is gone with it.
            return Err(NodeError::Production(
                "the stored state trie was stale and was rebuilt; the block is not committed"
                    .into(),
            ));
        }
        if trie.over_limit() {
            let commit_started = Instant::now();
            commit_or_restore(&self.storage, &executed, trie)?;
            let commit = commit_started.elapsed();
            self.finished.push(Committed { executed, started, commit, tag });
            return Ok(());
        }
        let updates = trie.take_updates();
        let executed = Arc::new(executed);
        let block = executed.clone();
        let storage = self.storage.clone();
        let spawned = std::thread::Builder::new().name("dbc-commit".into()).spawn(move || {
            let commit_started = Instant::now();
            let written = storage.commit_executed(
                &block.block,
                &block.receipts,
                &block.hook_logs,
                &block.changes,
                Some(&updates),
            );
            drop(block);
            (written, commit_started.elapsed())
        });
        match spawned {
            Ok(handle) => {
                self.inflight = Some(InFlight { executed, started, tag, handle });
                Ok(())
            }
            Err(e) => {
                // No thread: the updates went with the closure, so the trie starts again from
                // the stored root (the head, as the block before was committed above).
                trie.poison();
                reset_trie(trie, &self.storage)?;
                Err(NodeError::Production(format!("could not start a commit: {e}")))
            }
        }
    }

    /// Waits for the block in flight and queues it for [`Persister::take_finished`] once
    /// committed. If its commit failed, the trie (which may hold later blocks' updates too) is
    /// reopened from the stored root, the storage head's, and the error returned.
    pub fn wait(&mut self, trie: &mut StateTrie) -> Result<(), NodeError> {
        self.wait_inner(trie).map(|_| ())
    }

    /// The blocks whose commit has finished since the last call, in order: the caller moves
    /// the head to each.
    pub fn take_finished(&mut self) -> Vec<Committed<T>> {
        std::mem::take(&mut self.finished)
    }

    /// [`Persister::wait`]; `true` if the stored trie turned out stale and the trie was
    /// rebuilt (dropping any later block's update it held).
    fn wait_inner(&mut self, trie: &mut StateTrie) -> Result<bool, NodeError> {
        let Some(f) = self.inflight.take() else { return Ok(false) };
        let (written, commit) = match f.handle.join() {
            Ok((Ok(written), commit)) => (written, commit),
            Ok((Err(e), _)) => {
                // Poisoned first: if reopening fails too, the next user of the trie reopens it.
                trie.poison();
                reset_trie(trie, &self.storage)?;
                return Err(e.into());
            }
            Err(_) => {
                trie.poison();
                reset_trie(trie, &self.storage)?;
                return Err(NodeError::Production("the commit thread panicked".into()));
            }
        };
        // The thread dropped its handle on the block before it ended.
        let executed = Arc::try_unwrap(f.executed)
            .map_err(|_| NodeError::Production("a committed block is still shared".into()))?;
        self.finished.push(Committed { executed, started: f.started, commit, tag: f.tag });
        if written == TrieWrite::Stale {
            // Never in a correct run (see `trie_written`): the stored trie is rebuilt.
            trie.poison();
            reset_trie(trie, &self.storage)?;
            return Ok(true);
        }
        Ok(false)
    }
}

impl<T> Drop for Persister<T> {
    fn drop(&mut self) {
        // Never leave a write running unseen; its block is in storage but was not finished
        // (a caller bug: `wait` first).
        if let Some(f) = self.inflight.take() {
            tracing::warn!(target: "dbc::node", number = f.executed.block.number(), "a commit in flight was not waited for");
            let _ = f.handle.join();
        }
        if let Some(c) = self.finished.last() {
            tracing::warn!(target: "dbc::node", number = c.executed.block.number(), "a committed block was not finished");
        }
    }
}

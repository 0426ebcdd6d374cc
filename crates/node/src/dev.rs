//! The dev chain's controls behind the `anvil_*` / `hardhat_*` / `evm_*` methods
//! ([`dbc_rpc::DevApi`]): mining many blocks in one call, state edits sealed into blocks,
//! the dev clock, and snapshots.
//!
//! Every control takes the state-trie lock the block producer takes, so it runs between two
//! produced blocks and never beside one. Blocks are the same blocks the producer would build
//! (the market's hook runs in each); a run of empty blocks in which the hook has nothing due is
//! written without executing them ([`IdleBlocks`]), in batches of one write each.

use crate::{NodeError, PoolPayload, commit_or_restore, finish_block, trie_undo::Touched};
use alloy_primitives::{Address, B256, Bytes};
use dbc_chainspec::ChainSpec;
use dbc_consensus::{DevClock, DevEngine};
use dbc_evm::{
    BlockAttributes, IdleBlocks, StateEdit, TxList, build_block, build_block_with_edits,
    next_base_fee,
};
use dbc_primitives::{Block, SealedHeader};
use dbc_storage::{CanonChain, StateReader};
use dbc_trie::StateTrie;
use dbc_txpool::TxPool;
use parking_lot::Mutex;
use std::{collections::BTreeMap, sync::Arc, time::Instant};
use tracing::info;

/// Idle blocks written in one batch.
const IDLE_BATCH: usize = 8192;

/// Most blocks one `anvil_mine` call may mine (anvil has no limit; this keeps a typo from
/// writing for hours).
pub const MAX_MINE_BLOCKS: u64 = 100_000_000;

/// The latest block timestamp the dev methods set (the largest signed 64-bit second, as Go's
/// and JavaScript's clocks allow): above it a block's `timestamp + 1` would wrap.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// What `evm_snapshot` records.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    number: u64,
    hash: B256,
    clock: DevClock,
}

/// The dev chain's controls.
#[derive(Debug)]
pub struct DevControl {
    spec: Arc<ChainSpec>,
    chain: Arc<CanonChain>,
    pool: Arc<TxPool>,
    trie: Arc<Mutex<StateTrie>>,
    engine: Arc<DevEngine>,
    gas_limit: u64,
    snapshots: Mutex<(u64, BTreeMap<u64, Snapshot>)>,
}

impl DevControl {
    pub(crate) fn new(
        spec: Arc<ChainSpec>,
        chain: Arc<CanonChain>,
        pool: Arc<TxPool>,
        trie: Arc<Mutex<StateTrie>>,
        engine: Arc<DevEngine>,
        gas_limit: u64,
    ) -> Self {
        Self { spec, chain, pool, trie, engine, gas_limit, snapshots: Default::default() }
    }

    fn attrs(&self, timestamp: u64) -> BlockAttributes {
        BlockAttributes {
            timestamp,
            beneficiary: self.engine.beneficiary(),
            extra_data: Bytes::from_static(b"dbc-node dev"),
            gas_limit: self.gas_limit,
            staking_hook: None,
            prev_randao: None,
        }
    }

    /// Mines `blocks` blocks: the first at the clock's time (or `timestamp`) with the pool's
    /// pending transactions, each later one `interval` seconds after the one before. Returns
    /// how many were written without execution.
    pub fn mine_blocks(
        &self,
        blocks: u64,
        interval: u64,
        timestamp: Option<u64>,
    ) -> Result<u64, NodeError> {
        if blocks > MAX_MINE_BLOCKS {
            return Err(NodeError::Production(format!(
                "at most {MAX_MINE_BLOCKS} blocks per call"
            )));
        }
        // The last block's timestamp, at the latest: the first at `timestamp` or the clock's
        // (never past the parent's by less than a second), each next `interval` later.
        let first = timestamp.unwrap_or(0).max(self.chain.head().timestamp.saturating_add(1));
        let last = interval
            .max(1)
            .checked_mul(blocks.saturating_sub(1))
            .and_then(|span| first.checked_add(span));
        if last.is_none_or(|last| last > MAX_TIMESTAMP) {
            return Err(NodeError::Production(format!(
                "the blocks' timestamps would pass {MAX_TIMESTAMP}"
            )));
        }
        let started = Instant::now();
        let mut trie = self.trie.lock();
        let storage = self.chain.storage().clone();
        crate::recover_trie(&mut trie, &storage)?;
        let mut parent = self.chain.head();
        let from = parent.number;
        let mut idle = IdleBlocks::new(&storage.latest())?;
        let mut batch: Vec<Block> = Vec::new();
        let mut skipped = 0u64;
        for i in 0..blocks {
            let ts = match (i, timestamp) {
                (0, Some(ts)) => {
                    self.engine.set_next_timestamp(ts);
                    self.engine.take_timestamp(&parent)
                }
                (0, None) => self.engine.take_timestamp(&parent),
                _ => parent.timestamp.saturating_add(interval.max(1)),
            };
            let attrs = self.attrs(ts);
            let pending = i == 0 && self.pool.status().pending > 0;
            if !pending
                && let Some(block) =
                    idle.block_after(&self.spec, &parent, &storage.latest(), attrs.clone())?
            {
                parent = block.block.header.clone();
                batch.push(block.block);
                skipped += 1;
                if batch.len() >= IDLE_BATCH {
                    self.write_idle(&mut batch)?;
                }
                continue;
            }
            self.write_idle(&mut batch)?;
            let block_started = Instant::now();
            let executed = if pending {
                let hint = self.pool.status().pending;
                let best = self.pool.best(next_base_fee(parent.inner()));
                let mut payload = PoolPayload { best, pool: &self.pool, hint };
                build_block(&self.spec, &parent, storage.latest(), attrs, &mut payload, &mut trie)
            } else {
                let mut none = TxList::default();
                build_block(&self.spec, &parent, storage.latest(), attrs, &mut none, &mut trie)
            }
            .map_err(|e| NodeError::Production(e.to_string()))?;
            parent = executed.block.header.clone();
            let commit_started = Instant::now();
            commit_or_restore(&storage, &executed, &mut trie)?;
            finish_block(
                &self.chain,
                &self.pool,
                executed,
                block_started,
                commit_started.elapsed(),
                "block mined",
            );
            idle = IdleBlocks::new(&storage.latest())?;
        }
        self.write_idle(&mut batch)?;
        // Later blocks continue from the last one's time, as on anvil.
        let last = self.chain.head().timestamp;
        let now = self.engine.now_secs();
        if last > now {
            self.engine.increase_time(last - now);
        }
        info!(
            target: "dbc::node",
            from = from + 1,
            to = self.chain.head_number(),
            without_execution = skipped,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "dev blocks mined"
        );
        Ok(skipped)
    }

    /// Commits the idle blocks in `batch` in one write and makes the last one the head.
    fn write_idle(&self, batch: &mut Vec<Block>) -> Result<(), NodeError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.chain.storage().commit_empty_blocks(batch)?;
        metrics::counter!("dbc_blocks_total", "kind" => "idle").increment(batch.len() as u64);
        for block in batch.drain(..) {
            self.chain.on_committed(block, Vec::new());
        }
        Ok(())
    }

    /// Seals `edit` into a block of its own.
    pub fn apply_edit(&self, edit: StateEdit) -> Result<(), NodeError> {
        let mut trie = self.trie.lock();
        let storage = self.chain.storage().clone();
        crate::recover_trie(&mut trie, &storage)?;
        if let StateEdit::Storage(address, ..) = &edit
            && storage.latest().account(*address)?.is_none_or(|a| a.is_empty())
        {
            return Err(NodeError::Production(format!(
                "account {address} is empty: give it a balance, a nonce or code before its storage"
            )));
        }
        let parent = self.chain.head();
        let attrs = self.attrs(self.engine.take_timestamp(&parent));
        let started = Instant::now();
        let executed = build_block_with_edits(
            &self.spec,
            &parent,
            storage.latest(),
            attrs,
            std::slice::from_ref(&edit),
            &mut TxList::default(),
            &mut trie,
        )
        .map_err(|e| NodeError::Production(e.to_string()))?;
        crate::commit_and_finish(
            &self.chain,
            &self.pool,
            &storage,
            executed,
            &mut trie,
            started,
            "dev state edit",
        )
    }

    /// Records the head and the clock; returns the snapshot's id (from 1).
    pub fn snapshot(&self) -> u64 {
        // Under the trie lock: the head does not move while it is read.
        let _trie = self.trie.lock();
        let head = self.chain.head();
        let mut snapshots = self.snapshots.lock();
        snapshots.0 += 1;
        let id = snapshots.0;
        snapshots.1.insert(
            id,
            Snapshot { number: head.number, hash: head.hash(), clock: self.engine.clock() },
        );
        id
    }

    /// Unwinds the chain to snapshot `id` and restores its clock; drops `id` and every later
    /// snapshot. `false` if `id` is unknown or its block is no longer in the chain.
    pub fn revert(&self, id: u64) -> Result<bool, NodeError> {
        let mut trie = self.trie.lock();
        let snap = {
            let mut snapshots = self.snapshots.lock();
            let Some(snap) = snapshots.1.get(&id).copied() else { return Ok(false) };
            snapshots.1.split_off(&id);
            snap
        };
        let storage = self.chain.storage().clone();
        if storage.block_hash(snap.number)? != Some(snap.hash) {
            return Ok(false);
        }
        let started = Instant::now();
        let from = self.chain.head_number();
        let unwound = storage.unwind_to(snap.number);
        let (head, keys) = match unwound {
            Ok(done) => done,
            Err(e) => {
                // Storage stopped part-way (each batch is atomic): follow what it holds.
                let head = storage.head_number()?.and_then(|n| storage.header(n).ok().flatten());
                if let Some(head) = head {
                    self.chain.on_unwound(head);
                }
                crate::reset_trie(&mut trie, &storage)?;
                return Err(e.into());
            }
        };
        self.chain.on_unwound(head.clone());
        let mut touched = Touched::default();
        touched.add_unwound(&keys);
        let accounts: Vec<Address> = touched.accounts().collect();
        if let Err(e) = touched.restore(&mut trie, &storage) {
            // The stored trie is the old head's: rebuild from the unwound plain state.
            crate::reset_trie(&mut trie, &storage)?;
            return Err(e);
        }
        let root = trie.root();
        if root == head.state_root {
            crate::store_trie(&mut trie, &storage)?;
        } else {
            return Err(NodeError::StateRootMismatch {
                number: head.number,
                computed: root,
                header: head.state_root,
            });
        }
        // Senders the unwound blocks moved on go back to the snapshot's nonces.
        let mut nonces = Vec::with_capacity(accounts.len());
        for a in accounts {
            nonces.push((a, storage.latest().account(a)?.map_or(0, |acc| acc.nonce)));
        }
        self.pool.on_reorg(nonces);
        self.engine.set_clock(snap.clock);
        info!(
            target: "dbc::node",
            from,
            to = head.number,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "dev chain reverted to snapshot {id}"
        );
        Ok(true)
    }

    fn head(&self) -> SealedHeader {
        self.chain.head()
    }
}

impl dbc_rpc::DevApi for DevControl {
    fn mine(&self, blocks: u64, interval: u64, timestamp: Option<u64>) -> Result<(), String> {
        if let Some(ts) = timestamp {
            self.set_next_timestamp(ts)?;
        }
        self.mine_blocks(blocks, interval, None).map(|_| ()).map_err(|e| e.to_string())
    }

    fn edit(&self, edit: StateEdit) -> Result<(), String> {
        self.apply_edit(edit).map_err(|e| e.to_string())
    }

    fn increase_time(&self, seconds: u64) -> i64 {
        self.engine.increase_time(seconds)
    }

    fn set_next_timestamp(&self, timestamp: u64) -> Result<(), String> {
        if timestamp > MAX_TIMESTAMP {
            return Err(format!("timestamp {timestamp} is past {MAX_TIMESTAMP}"));
        }
        let head = self.head();
        if timestamp <= head.timestamp {
            return Err(format!(
                "timestamp {timestamp} is lower than or equal to the previous block's timestamp {}",
                head.timestamp
            ));
        }
        self.engine.set_next_timestamp(timestamp);
        Ok(())
    }

    fn snapshot(&self) -> Result<u64, String> {
        Ok(DevControl::snapshot(self))
    }

    fn revert(&self, id: u64) -> Result<bool, String> {
        DevControl::revert(self, id).map_err(|e| e.to_string())
    }
}

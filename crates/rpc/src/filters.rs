//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`).
//!
//! Ids are 128 random bits from the thread's CSPRNG, printed like geth's (`0x` + hex without
//! leading zeros). At most `max` filters are installed at once; a filter that is not polled for
//! [`FILTER_TIMEOUT`] is removed, as in geth, by a sweep that runs every [`SWEEP_INTERVAL`] (and
//! when the table is full), not on every install. Each filter has its own lock, held while it
//! is polled, so a poll's cursor moves only once the poll has produced its answer.

use crate::{
    RpcContext,
    convert::{matching_logs, rpc_header},
    error::{RpcResult, rpc_err, server_error},
    eth::{MAX_LOG_RANGE, MAX_LOGS},
};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterChanges, Log};
use dbc_storage::chain::ChainEvent;
use jsonrpsee::types::ErrorObjectOwned;
use parking_lot::Mutex;
use rand::Rng;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::broadcast;

/// Unpolled filters expire after this long.
pub(crate) const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// Expired filters are swept this often.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// What a filter watches. `seq` is the chain's reorg sequence number the filter has seen (see
/// `CanonChain::reorgs_since`).
#[derive(Debug)]
pub(crate) enum FilterKind {
    /// New block hashes; the last block reported.
    Blocks {
        /// Last block number already returned.
        last: u64,
        /// Reorgs seen.
        seq: u64,
    },
    /// Logs; the last block scanned.
    Logs {
        /// The criteria.
        filter: Box<Filter>,
        /// Last block number already scanned.
        last: u64,
        /// Reorgs seen.
        seq: u64,
    },
    /// Hashes of new pending transactions.
    PendingTransactions {
        /// Subscription to the pool.
        rx: broadcast::Receiver<B256>,
    },
}

/// One installed filter.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Its state, locked for the whole of a poll.
    pub(crate) kind: Mutex<FilterKind>,
    polled: Mutex<Instant>,
}

impl Entry {
    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(*self.polled.lock()) >= FILTER_TIMEOUT
    }
}

#[derive(Debug)]
struct Table {
    entries: HashMap<U256, Arc<Entry>>,
    last_sweep: Instant,
}

/// The filter table.
#[derive(Debug)]
pub(crate) struct Filters {
    table: Mutex<Table>,
    max: usize,
}

impl Default for Filters {
    fn default() -> Self {
        Self::new(crate::server::MAX_FILTERS)
    }
}

impl Filters {
    /// A table of at most `max` filters.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            table: Mutex::new(Table { entries: HashMap::new(), last_sweep: Instant::now() }),
            max,
        }
    }

    /// Installs a filter and returns its id; an error when `max` filters are installed.
    pub(crate) fn install(&self, kind: FilterKind) -> Result<U256, ErrorObjectOwned> {
        let mut table = self.table.lock();
        let now = Instant::now();
        let since_sweep = now.saturating_duration_since(table.last_sweep);
        let full = table.entries.len() >= self.max;
        // Sweep on a timer, or when full (at most once a second, so that a full table does not
        // make every install O(n)).
        if since_sweep >= SWEEP_INTERVAL || (full && since_sweep >= Duration::from_secs(1)) {
            table.entries.retain(|_, e| !e.expired(now));
            table.last_sweep = now;
        }
        if table.entries.len() >= self.max {
            return Err(server_error(format!(
                "too many installed filters (limit {}): uninstall some, or let unpolled ones \
                 expire",
                self.max
            )));
        }
        let mut rng = rand::rng();
        let id = loop {
            let id = U256::from(rng.random::<u128>());
            if !id.is_zero() && !table.entries.contains_key(&id) {
                break id;
            }
        };
        table
            .entries
            .insert(id, Arc::new(Entry { kind: Mutex::new(kind), polled: Mutex::new(now) }));
        Ok(id)
    }

    /// Removes a filter; whether it existed.
    pub(crate) fn uninstall(&self, id: U256) -> bool {
        self.table.lock().entries.remove(&id).is_some()
    }

    /// Filter `id`, its timeout refreshed; `None` if there is no such filter (or it expired).
    pub(crate) fn get(&self, id: U256) -> Option<Arc<Entry>> {
        let mut table = self.table.lock();
        let now = Instant::now();
        let entry = table.entries.get(&id)?.clone();
        if entry.expired(now) {
            table.entries.remove(&id);
            return None;
        }
        *entry.polled.lock() = now;
        Some(entry)
    }

    /// Installed filters.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.lock().entries.len()
    }
}

impl RpcContext {
    /// `eth_getFilterChanges`: what changed since the last poll. Reorgs the filter has not
    /// seen come first: a log filter reports the unwound blocks' logs again with
    /// `removed: true` and both kinds move their cursor back to the fork, so the new branch's
    /// blocks and logs follow.
    pub(crate) fn poll_filter(&self, id: U256) -> RpcResult<FilterChanges> {
        let entry = self.filters().get(id).ok_or_else(|| server_error("filter not found"))?;
        // Held for the whole poll: a concurrent poll of this filter waits, and the cursor moves
        // only once this poll has its answer.
        let mut kind = entry.kind.lock();
        let until = self.deadline();
        // A reorg while the poll reads blocks could mix branches: then the poll starts over.
        for _ in 0..3 {
            let seq_now = self.chain().reorg_seq();
            let changes = match &mut *kind {
                FilterKind::PendingTransactions { rx } => {
                    let mut hashes = Vec::new();
                    loop {
                        match rx.try_recv() {
                            Ok(h) => hashes.push(h),
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                    return Ok(FilterChanges::Hashes(hashes));
                }
                FilterKind::Blocks { last, seq } => {
                    let cursor = self.rewind_cursor(*last, *seq, |_| {});
                    let head = self.chain().head_number();
                    let to = head.min(cursor.saturating_add(MAX_LOG_RANGE));
                    let mut hashes = Vec::new();
                    let mut covered = cursor;
                    for n in cursor + 1..=to {
                        Self::check_deadline(until)?;
                        let Some(h) = self.storage().block_hash(n).map_err(rpc_err)? else {
                            break;
                        };
                        hashes.push(h);
                        covered = n;
                    }
                    if self.chain().reorg_seq() != seq_now {
                        continue;
                    }
                    (*last, *seq) = (covered, seq_now);
                    FilterChanges::Hashes(hashes)
                }
                FilterKind::Logs { filter, last, seq } => {
                    let mut removed = Vec::new();
                    let cursor = self.rewind_cursor(*last, *seq, |block| {
                        removed.extend(
                            matching_logs(&block.block, &block.receipts, filter).into_iter().map(
                                |mut l| {
                                    l.removed = true;
                                    l
                                },
                            ),
                        );
                    });
                    let head = self.chain().head_number();
                    let to = match filter.block_option.as_range().1 {
                        Some(BlockNumberOrTag::Number(n)) => (*n).min(head),
                        _ => head,
                    };
                    let (logs, covered) = self.scan_filter_chunk(filter, cursor + 1, to, until)?;
                    if self.chain().reorg_seq() != seq_now {
                        continue;
                    }
                    (*last, *seq) = (covered.max(cursor), seq_now);
                    removed.extend(logs);
                    FilterChanges::Logs(removed)
                }
            };
            return Ok(changes);
        }
        Err(server_error("the chain reorganised during the poll; poll again"))
    }

    /// The logs of blocks `from..=to` for a polled filter, in chunks: at most
    /// [`MAX_LOG_RANGE`] blocks and, unless one block alone has more, [`MAX_LOGS`] logs per
    /// poll (the rest comes with the next poll). Returns the logs and the last block covered.
    fn scan_filter_chunk(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
        until: Instant,
    ) -> RpcResult<(Vec<Log>, u64)> {
        let mut out = Vec::new();
        let last = from.saturating_sub(1);
        if to < from {
            return Ok((out, last));
        }
        let to = to.min(from.saturating_add(MAX_LOG_RANGE - 1));
        let mut covered = last;
        for n in from..=to {
            Self::check_deadline(until)?;
            let Some(header) = self.storage().header(n).map_err(rpc_err)? else { break };
            if filter.matches_bloom(header.logs_bloom) {
                let Some(block) = self.stored_block(n)? else { break };
                let receipts = self.storage().receipts(n).map_err(rpc_err)?.unwrap_or_default();
                let logs = matching_logs(&block, &receipts, filter);
                if !out.is_empty() && out.len() + logs.len() > MAX_LOGS {
                    break;
                }
                out.extend(logs);
            }
            covered = n;
        }
        Ok((out, covered))
    }

    /// Applies the reorgs a filter at `last` has not seen yet (those from `seq` on): calls
    /// `on_removed` for each unwound block the filter had covered (oldest reorg first, oldest
    /// block first) and returns the cursor moved back to the fork.
    fn rewind_cursor(
        &self,
        last: u64,
        seq: u64,
        mut on_removed: impl FnMut(&dbc_storage::NewBlock),
    ) -> u64 {
        let (reorgs, complete) = self.chain().reorgs_since(seq);
        let mut cursor = last;
        if !complete {
            // Some reorgs fell out of the journal: no reorg goes below the finalized block.
            cursor = cursor.min(self.chain().finalized().unwrap_or(cursor));
        }
        for reorg in &reorgs {
            for block in &reorg.removed {
                if block.block.number() <= cursor {
                    on_removed(block);
                }
            }
            cursor = cursor.min(reorg.new_head.number);
        }
        cursor
    }
}

/// What a `newHeads` (`filter` = `None`) or `logs` subscription sends for a chain event: the
/// new head's header, or the matching logs; for an unwind, the header of the block the chain
/// went back to, or the unwound blocks' matching logs with `removed: true` (oldest first, as
/// geth sends them).
pub(crate) fn chain_event_values(
    event: &ChainEvent,
    filter: Option<&Filter>,
) -> Vec<serde_json::Value> {
    let logs = |block: &dbc_storage::NewBlock, f: &Filter, removed: bool| {
        matching_logs(&block.block, &block.receipts, f).into_iter().filter_map(move |mut l| {
            l.removed = removed;
            serde_json::to_value(l).ok()
        })
    };
    match (event, filter) {
        (ChainEvent::Committed(block), None) => {
            vec![serde_json::to_value(rpc_header(&block.block.header)).unwrap_or_default()]
        }
        (ChainEvent::Committed(block), Some(f)) => logs(block, f, false).collect(),
        (ChainEvent::Unwound(reorg), None) => {
            vec![serde_json::to_value(rpc_header(&reorg.new_head)).unwrap_or_default()]
        }
        (ChainEvent::Unwound(reorg), Some(f)) => {
            reorg.removed.iter().flat_map(|b| logs(b, f, true)).collect()
        }
    }
}

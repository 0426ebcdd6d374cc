//! The canonical chain as the rest of the node sees it: the head header and a stream of chain
//! events (for subscriptions and filters): new blocks, and unwinds.
//!
//! An unwind removes blocks from storage before [`CanonChain::on_unwound`] is called, so the
//! chain keeps the blocks that are not final yet (at most [`RECENT_BLOCKS`]) to tell
//! subscribers what was removed (their logs come back with `removed: true`, as in geth). Every
//! unwind is also kept in a journal (at most [`MAX_REORGS`] of them, the blocks of the newest
//! [`RECENT_BLOCKS`] only) that polled filters read with [`CanonChain::reorgs_since`].

use crate::Storage;
use dbc_primitives::{Block, ReceiptEnvelope, SealedHeader};
use parking_lot::{Mutex, RwLock};
use std::{collections::VecDeque, sync::Arc};
use tokio::sync::broadcast;

/// Non-final blocks kept in memory to report unwound logs.
pub const RECENT_BLOCKS: usize = 64;
/// Unwinds kept in the journal.
pub const MAX_REORGS: usize = 1024;
/// Events buffered per subscriber; a slower one skips events (it sees `Lagged`).
pub const EVENT_BUFFER: usize = 256;

/// A block that just became canonical, with its receipts.
#[derive(Debug, Clone)]
pub struct NewBlock {
    /// The block.
    pub block: Block,
    /// Its receipts.
    pub receipts: Vec<ReceiptEnvelope>,
}

/// One unwind of the canonical chain.
#[derive(Debug, Clone)]
pub struct Reorg {
    /// Its place in the journal (1, 2, …).
    pub seq: u64,
    /// The head after the unwind (the common ancestor of the old and new branch).
    pub new_head: SealedHeader,
    /// The head before the unwind.
    pub old_head: u64,
    /// The removed blocks that were still in memory, oldest first. Blocks older than
    /// [`RECENT_BLOCKS`], or committed before a restart, are missing.
    pub removed: Vec<Arc<NewBlock>>,
}

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum ChainEvent {
    /// A block became canonical.
    Committed(Arc<NewBlock>),
    /// Blocks were unwound.
    Unwound(Arc<Reorg>),
}

#[derive(Debug, Default)]
struct Journal {
    /// Newest last.
    reorgs: VecDeque<Arc<Reorg>>,
    next_seq: u64,
    /// Non-final blocks, oldest first (only while a finalized block is tracked).
    recent: VecDeque<Arc<NewBlock>>,
}

/// Head tracking and chain events over [`Storage`].
#[derive(Debug)]
pub struct CanonChain {
    storage: Storage,
    head: RwLock<SealedHeader>,
    /// `None`: every block is final at once (single dev sealer).
    finalized: RwLock<Option<u64>>,
    events: broadcast::Sender<ChainEvent>,
    journal: Mutex<Journal>,
}

impl CanonChain {
    /// Tracks `storage` whose head is `head`.
    pub fn new(storage: Storage, head: SealedHeader) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            storage,
            head: RwLock::new(head),
            finalized: RwLock::new(None),
            events,
            journal: Mutex::new(Journal { next_seq: 1, ..Default::default() }),
        }
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The head header.
    pub fn head(&self) -> SealedHeader {
        self.head.read().clone()
    }

    /// The head number.
    pub fn head_number(&self) -> u64 {
        self.head.read().number
    }

    /// Records a committed block as the new head and notifies subscribers.
    pub fn on_committed(&self, block: Block, receipts: Vec<ReceiptEnvelope>) {
        let header = block.header.clone();
        let new = Arc::new(NewBlock { block, receipts });
        {
            let mut journal = self.journal.lock();
            if self.finalized.read().is_some() {
                journal.recent.push_back(new.clone());
                while journal.recent.len() > RECENT_BLOCKS {
                    journal.recent.pop_front();
                }
            }
            *self.head.write() = header;
        }
        let _ = self.events.send(ChainEvent::Committed(new));
    }

    /// The highest finalized block (`None` when blocks are final at once).
    pub fn finalized(&self) -> Option<u64> {
        *self.finalized.read()
    }

    /// Records the highest finalized block. The first call loads the blocks after it (at most
    /// [`RECENT_BLOCKS`]) from storage, so that a restarted node can report their logs if they
    /// are unwound.
    pub fn set_finalized(&self, number: u64) {
        let first = self.finalized.write().replace(number).is_none();
        let mut journal = self.journal.lock();
        if first {
            let head = self.head_number();
            let from = number.max(head.saturating_sub(RECENT_BLOCKS as u64)) + 1;
            journal.recent.clear();
            for n in from..=head {
                if let (Ok(Some(block)), Ok(receipts)) =
                    (self.storage.block(n), self.storage.receipts(n))
                {
                    let receipts = receipts.unwrap_or_default();
                    journal.recent.push_back(Arc::new(NewBlock { block, receipts }));
                }
            }
        }
        while journal.recent.front().is_some_and(|b| b.block.number() <= number) {
            journal.recent.pop_front();
        }
    }

    /// Records that the head was unwound to `head` (fork choice) and tells subscribers which
    /// blocks were removed.
    pub fn on_unwound(&self, head: SealedHeader) {
        let reorg = {
            let mut journal = self.journal.lock();
            let old_head = {
                let mut current = self.head.write();
                std::mem::replace(&mut *current, head.clone()).number
            };
            let mut removed = Vec::new();
            while journal.recent.back().is_some_and(|b| b.block.number() > head.number) {
                if let Some(b) = journal.recent.pop_back() {
                    removed.push(b);
                }
            }
            removed.reverse();
            // Only blocks of the unwound branch (a stale cache entry above the old head cannot
            // exist, but be exact).
            removed.retain(|b| b.block.number() <= old_head);
            let seq = journal.next_seq;
            journal.next_seq += 1;
            let reorg = Arc::new(Reorg { seq, new_head: head, old_head, removed });
            journal.reorgs.push_back(reorg.clone());
            while journal.reorgs.len() > MAX_REORGS {
                journal.reorgs.pop_front();
            }
            // Keep block contents for the newest reorgs only.
            let mut kept = 0usize;
            for r in journal.reorgs.iter_mut().rev() {
                kept += r.removed.len();
                if kept > RECENT_BLOCKS && !r.removed.is_empty() {
                    let mut light = (**r).clone();
                    light.removed.clear();
                    *r = Arc::new(light);
                }
            }
            reorg
        };
        let _ = self.events.send(ChainEvent::Unwound(reorg));
    }

    /// The sequence number the next reorg will get (a filter installed now has seen every
    /// reorg below it).
    pub fn reorg_seq(&self) -> u64 {
        self.journal.lock().next_seq
    }

    /// The reorgs with `seq` at least `from`, oldest first, and whether the journal still holds
    /// all of them (`false`: some were dropped, see [`MAX_REORGS`]).
    pub fn reorgs_since(&self, from: u64) -> (Vec<Arc<Reorg>>, bool) {
        let journal = self.journal.lock();
        let complete =
            journal.reorgs.front().is_none_or(|r| r.seq <= from) || from >= journal.next_seq;
        let list = journal.reorgs.iter().filter(|r| r.seq >= from).cloned().collect();
        (list, complete)
    }

    /// Subscribes to chain events.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }
}

//! The canonical chain as the rest of the node sees it: the head header and a stream of new
//! blocks (for subscriptions and filters).

use crate::Storage;
use dbc_primitives::{Block, ReceiptEnvelope, SealedHeader};
use parking_lot::RwLock;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A block that just became canonical, with its receipts.
#[derive(Debug, Clone)]
pub struct NewBlock {
    /// The block.
    pub block: Block,
    /// Its receipts.
    pub receipts: Vec<ReceiptEnvelope>,
}

/// Head tracking and block notifications over [`Storage`].
#[derive(Debug)]
pub struct CanonChain {
    storage: Storage,
    head: RwLock<SealedHeader>,
    /// `None`: every block is final at once (single dev sealer).
    finalized: RwLock<Option<u64>>,
    events: broadcast::Sender<Arc<NewBlock>>,
}

impl CanonChain {
    /// Tracks `storage` whose head is `head`.
    pub fn new(storage: Storage, head: SealedHeader) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self { storage, head: RwLock::new(head), finalized: RwLock::new(None), events }
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
        *self.head.write() = block.header.clone();
        let _ = self.events.send(Arc::new(NewBlock { block, receipts }));
    }

    /// The highest finalized block (`None` when blocks are final at once).
    pub fn finalized(&self) -> Option<u64> {
        *self.finalized.read()
    }

    /// Records the highest finalized block.
    pub fn set_finalized(&self, number: u64) {
        *self.finalized.write() = Some(number);
    }

    /// Records that the head was unwound to `head` (fork choice).
    pub fn on_unwound(&self, head: SealedHeader) {
        *self.head.write() = head;
    }

    /// Subscribes to new canonical blocks.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<NewBlock>> {
        self.events.subscribe()
    }
}

//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`).
//! A filter that is not polled for [`FILTER_TIMEOUT`] is removed, as in geth.

use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::Filter;
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};
use tokio::sync::broadcast;

/// Unpolled filters expire after this long.
pub(crate) const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

/// What a filter watches.
#[derive(Debug)]
pub(crate) enum FilterKind {
    /// New block hashes; the last block reported.
    Blocks {
        /// Last block number already returned.
        last: u64,
    },
    /// Logs; the last block scanned.
    Logs {
        /// The criteria.
        filter: Box<Filter>,
        /// Last block number already scanned.
        last: u64,
    },
    /// Hashes of new pending transactions.
    PendingTransactions {
        /// Subscription to the pool.
        rx: broadcast::Receiver<B256>,
    },
}

#[derive(Debug)]
struct Entry {
    kind: FilterKind,
    polled: Instant,
}

/// The filter table.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    next_id: Mutex<u64>,
    table: Mutex<HashMap<U256, Entry>>,
}

impl Filters {
    /// Installs a filter and returns its id.
    pub(crate) fn install(&self, kind: FilterKind) -> U256 {
        let id = {
            let mut n = self.next_id.lock();
            *n += 1;
            // Ids look random enough to not be guessed sequentially by other clients.
            U256::from(*n) | (U256::from(alloy_primitives::keccak256(n.to_be_bytes()).0[0]) << 64)
        };
        let mut table = self.table.lock();
        table.retain(|_, e| e.polled.elapsed() < FILTER_TIMEOUT);
        table.insert(id, Entry { kind, polled: Instant::now() });
        id
    }

    /// Removes a filter; whether it existed.
    pub(crate) fn uninstall(&self, id: U256) -> bool {
        self.table.lock().remove(&id).is_some()
    }

    /// Runs `f` on filter `id`, refreshing its timeout. `None` if there is no such filter.
    pub(crate) fn with<T>(&self, id: U256, f: impl FnOnce(&mut FilterKind) -> T) -> Option<T> {
        let mut table = self.table.lock();
        let entry = table.get_mut(&id)?;
        if entry.polled.elapsed() >= FILTER_TIMEOUT {
            table.remove(&id);
            return None;
        }
        entry.polled = Instant::now();
        Some(f(&mut entry.kind))
    }
}

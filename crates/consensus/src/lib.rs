//! Consensus engines for dbc-node.
//!
//! Block production asks a [`ConsensusEngine`] *when* to build the next block and with what
//! attributes, then asks it to [`seal`](ConsensusEngine::seal) the built header. The pipeline
//! (pool → executor → storage → RPC) does not change between engines: [`DevEngine`] seals
//! single-validator dev blocks on a timer or as soon as transactions arrive; the proof-of-stake
//! engine ([`pos::PosEngine`]) implements the same trait.

pub mod pos;

use alloy_consensus::Header;
use alloy_primitives::{Address, Bytes};
use dbc_primitives::SealedHeader;
use dbc_txpool::TxPool;
use std::{
    future::Future,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// What the engine decided for the next block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Block timestamp in seconds.
    pub timestamp: u64,
    /// Fee recipient.
    pub beneficiary: Address,
    /// Header extra data (unsealed).
    pub extra_data: Bytes,
    /// Proposer and skipped validators for the staking precompile (`None` on the dev chain).
    pub staking_hook: Option<(Address, Vec<Address>)>,
}

/// Consensus errors.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The header violates the engine's rules.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
}

/// A consensus engine drives block production.
pub trait ConsensusEngine: Send + Sync + 'static {
    /// Waits until a block on top of `parent` is due and returns its slot.
    fn next_slot(&self, parent: &SealedHeader, pool: &TxPool) -> impl Future<Output = Slot> + Send;

    /// Seals a built header (a signature for PoS; nothing for dev).
    fn seal(&self, header: Header) -> Result<Header, ConsensusError>;

    /// Checks a header against its parent under the engine's rules.
    fn validate_header(&self, header: &Header, parent: &Header) -> Result<(), ConsensusError> {
        if header.number != parent.number + 1 {
            return Err(ConsensusError::InvalidHeader("number is not parent + 1".into()));
        }
        if header.timestamp <= parent.timestamp {
            return Err(ConsensusError::InvalidHeader("timestamp not after parent".into()));
        }
        Ok(())
    }
}

/// When the dev engine seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevMode {
    /// A block every interval, empty or not.
    Interval(Duration),
    /// A block as soon as transactions are pending (anvil's automine).
    Instant,
}

/// The single-validator dev sealer.
#[derive(Debug)]
pub struct DevEngine {
    mode: DevMode,
    beneficiary: Address,
    /// Interval mode: when the last slot started. Slots keep a fixed cadence (like anvil's
    /// `--block-time` and geth's `--dev.period`), however long building the previous block took.
    last_slot: parking_lot::Mutex<Option<tokio::time::Instant>>,
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl DevEngine {
    /// A dev engine in `mode`, paying fees to `beneficiary`.
    pub fn new(mode: DevMode, beneficiary: Address) -> Self {
        Self { mode, beneficiary, last_slot: parking_lot::Mutex::new(None) }
    }

    /// The mode.
    pub fn mode(&self) -> DevMode {
        self.mode
    }

    fn slot_for(&self, parent: &SealedHeader) -> Slot {
        Slot {
            // Timestamps strictly increase even when blocks come faster than one per second.
            timestamp: now().as_secs().max(parent.timestamp + 1),
            beneficiary: self.beneficiary,
            extra_data: Bytes::from_static(b"dbc-node dev"),
            staking_hook: None,
        }
    }
}

impl ConsensusEngine for DevEngine {
    async fn next_slot(&self, parent: &SealedHeader, pool: &TxPool) -> Slot {
        match self.mode {
            DevMode::Instant => pool.wait_for_pending().await,
            DevMode::Interval(period) => {
                // `period` after the previous slot started; at once if building the parent took
                // longer than that (the schedule then restarts from now).
                let now = tokio::time::Instant::now();
                let last = *self.last_slot.lock();
                let due = last.map_or(now + period, |l| (l + period).max(now));
                tokio::time::sleep_until(due).await;
                *self.last_slot.lock() = Some(due);
            }
        }
        self.slot_for(parent)
    }

    fn seal(&self, header: Header) -> Result<Header, ConsensusError> {
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Sealable;
    use dbc_txpool::PoolConfig;

    #[tokio::test]
    async fn interval_slots_have_increasing_timestamps() {
        let engine = DevEngine::new(DevMode::Interval(Duration::from_millis(5)), Address::ZERO);
        let pool = TxPool::new(PoolConfig::default());
        let parent = Header { timestamp: u64::MAX / 2, ..Default::default() }.seal_slow();
        let slot = engine.next_slot(&parent, &pool).await;
        assert_eq!(slot.timestamp, parent.timestamp + 1);
        let child = Header { number: 1, timestamp: slot.timestamp, ..Default::default() };
        assert!(engine.validate_header(&child, parent.inner()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn interval_slots_keep_a_fixed_cadence_however_long_building_takes() {
        let engine = DevEngine::new(DevMode::Interval(Duration::from_secs(1)), Address::ZERO);
        let pool = TxPool::new(PoolConfig::default());
        let parent = Header::default().seal_slow();
        let t0 = tokio::time::Instant::now();
        engine.next_slot(&parent, &pool).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
        // Building and committing the block takes 300 ms: the next slot is still at 2 s.
        tokio::time::advance(Duration::from_millis(300)).await;
        engine.next_slot(&parent, &pool).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        // A block that took longer than a slot: the next one starts at once.
        tokio::time::advance(Duration::from_millis(1500)).await;
        engine.next_slot(&parent, &pool).await;
        assert_eq!(t0.elapsed(), Duration::from_millis(3500));
        engine.next_slot(&parent, &pool).await;
        assert_eq!(t0.elapsed(), Duration::from_millis(4500));
    }

    #[tokio::test]
    async fn instant_mode_waits_for_a_transaction() {
        let engine = DevEngine::new(DevMode::Instant, Address::ZERO);
        let pool = TxPool::new(PoolConfig::default());
        let parent = Header::default().seal_slow();
        let waited =
            tokio::time::timeout(Duration::from_millis(50), engine.next_slot(&parent, &pool)).await;
        assert!(waited.is_err(), "no transaction: no slot");
    }
}

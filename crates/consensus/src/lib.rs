//! Consensus engines for dbc-node.
//!
//! Block production asks a [`ConsensusEngine`] *when* to build the next block and with what
//! attributes, then asks it to [`seal`](ConsensusEngine::seal) the built header. The pipeline
//! (pool → executor → storage → RPC) does not change between engines: [`DevEngine`] seals
//! single-validator dev blocks on a timer or as soon as transactions arrive; the proof-of-stake
//! engine ([`pos::PosEngine`]) implements the same trait.

pub mod guard;
pub mod pos;
pub mod vrf;

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
    /// The block's randomness (`mixHash`, the EVM's `PREVRANDAO`) when the engine provides it
    /// (proof of stake: the proposer's VRF reveal, [`vrf`]); `None` derives it from the parent.
    pub prev_randao: Option<alloy_primitives::B256>,
}

/// Consensus errors.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The header violates the engine's rules.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// Signing at or below what this validator already signed (it would be slashable).
    #[error("already signed up to {last}; refusing to sign at {value}")]
    AlreadySigned {
        /// What was asked.
        value: u64,
        /// The watermark.
        last: u64,
    },
    /// The signing watermark could not be read or written.
    #[error("signing watermark {0}")]
    Watermark(String),
}

/// A consensus engine drives block production.
pub trait ConsensusEngine: Send + Sync + 'static {
    /// Waits until a block on top of `parent` is due and returns its slot.
    fn next_slot(&self, parent: &SealedHeader, pool: &TxPool) -> impl Future<Output = Slot> + Send;

    /// For engines whose next slot is known in advance: its attributes and when it ends, without
    /// waiting. The producer then executes transactions as they arrive during the slot and only
    /// computes roots and commits at its end. `None` (the default): the producer waits for
    /// [`next_slot`](Self::next_slot) and builds the block then.
    fn open_slot(&self, _parent: &SealedHeader) -> Option<(Slot, tokio::time::Instant)> {
        None
    }

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

/// An engine shared with others (the dev chain's RPC controls its clock).
impl<T: ConsensusEngine> ConsensusEngine for std::sync::Arc<T> {
    fn next_slot(&self, parent: &SealedHeader, pool: &TxPool) -> impl Future<Output = Slot> + Send {
        (**self).next_slot(parent, pool)
    }

    fn open_slot(&self, parent: &SealedHeader) -> Option<(Slot, tokio::time::Instant)> {
        (**self).open_slot(parent)
    }

    fn seal(&self, header: Header) -> Result<Header, ConsensusError> {
        (**self).seal(header)
    }

    fn validate_header(&self, header: &Header, parent: &Header) -> Result<(), ConsensusError> {
        (**self).validate_header(header, parent)
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
    /// The dev clock (`evm_increaseTime`, `evm_setNextBlockTimestamp`).
    clock: parking_lot::Mutex<DevClock>,
}

/// The dev chain's clock: wall-clock time shifted by an offset, and a timestamp fixed for the
/// next block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevClock {
    /// Seconds added to the wall clock.
    pub offset: i64,
    /// The next block's timestamp, if set.
    pub next: Option<u64>,
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl DevEngine {
    /// A dev engine in `mode`, paying fees to `beneficiary`.
    pub fn new(mode: DevMode, beneficiary: Address) -> Self {
        Self {
            mode,
            beneficiary,
            last_slot: parking_lot::Mutex::new(None),
            clock: Default::default(),
        }
    }

    /// The fee recipient of its blocks.
    pub fn beneficiary(&self) -> Address {
        self.beneficiary
    }

    /// The clock's state (to restore with [`set_clock`](Self::set_clock)).
    pub fn clock(&self) -> DevClock {
        *self.clock.lock()
    }

    /// Restores the clock (`evm_revert`).
    pub fn set_clock(&self, clock: DevClock) {
        *self.clock.lock() = clock;
    }

    /// Moves the clock `seconds` ahead (`evm_increaseTime`); returns the total offset.
    pub fn increase_time(&self, seconds: u64) -> i64 {
        let mut clock = self.clock.lock();
        clock.offset = clock.offset.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
        clock.offset
    }

    /// Fixes the next block's timestamp; the clock continues from it
    /// (`evm_setNextBlockTimestamp`).
    pub fn set_next_timestamp(&self, timestamp: u64) {
        let mut clock = self.clock.lock();
        let now = i64::try_from(now().as_secs()).unwrap_or(i64::MAX);
        clock.offset = i64::try_from(timestamp).unwrap_or(i64::MAX).saturating_sub(now);
        clock.next = Some(timestamp);
    }

    /// The dev clock's time now (the wall clock plus the offset), in seconds.
    pub fn now_secs(&self) -> u64 {
        let offset = self.clock.lock().offset;
        i64::try_from(now().as_secs()).unwrap_or(i64::MAX).saturating_add(offset).max(0) as u64
    }

    /// The timestamp of the block after `parent`, built now: the fixed next timestamp (used
    /// up), or the shifted clock, always after the parent's.
    pub fn take_timestamp(&self, parent: &SealedHeader) -> u64 {
        self.timestamp_at(parent, now())
    }

    fn timestamp_at(&self, parent: &SealedHeader, unix_time: Duration) -> u64 {
        let mut clock = self.clock.lock();
        let shifted = i64::try_from(unix_time.as_secs())
            .unwrap_or(i64::MAX)
            .saturating_add(clock.offset)
            .max(0) as u64;
        clock.next.take().unwrap_or(shifted).max(parent.timestamp.saturating_add(1))
    }

    /// The mode.
    pub fn mode(&self) -> DevMode {
        self.mode
    }

    /// Interval mode: when the next slot starts (one period after the last one, or now if that
    /// has passed), recorded as the last slot.
    fn next_due(&self, period: Duration) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        let mut last = self.last_slot.lock();
        let due = last.map_or(now + period, |l| (l + period).max(now));
        *last = Some(due);
        due
    }

    fn slot_for(&self, parent: &SealedHeader) -> Slot {
        self.slot_at(parent, now())
    }

    /// The slot for a block on `parent` sealed at `unix_time`.
    fn slot_at(&self, parent: &SealedHeader, unix_time: Duration) -> Slot {
        Slot {
            // Timestamps strictly increase even when blocks come faster than one per second.
            timestamp: self.timestamp_at(parent, unix_time),
            beneficiary: self.beneficiary,
            extra_data: Bytes::from_static(b"dbc-node dev"),
            staking_hook: None,
            prev_randao: None,
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
                tokio::time::sleep_until(self.next_due(period)).await;
            }
        }
        self.slot_for(parent)
    }

    /// Interval mode: the slot ending one period after the last one ended (see
    /// [`next_slot`](ConsensusEngine::next_slot)), stamped with the wall-clock time at its end.
    fn open_slot(&self, parent: &SealedHeader) -> Option<(Slot, tokio::time::Instant)> {
        let DevMode::Interval(period) = self.mode else { return None };
        let due = self.next_due(period);
        let ends_in = due.saturating_duration_since(tokio::time::Instant::now());
        Some((self.slot_at(parent, now() + ends_in), due))
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

    #[tokio::test(start_paused = true)]
    async fn open_slots_end_one_period_apart_and_do_not_wait() {
        let engine = DevEngine::new(DevMode::Interval(Duration::from_secs(1)), Address::ZERO);
        let parent = Header { timestamp: 5, ..Default::default() }.seal_slow();
        let t0 = tokio::time::Instant::now();
        let (slot, ends) = engine.open_slot(&parent).expect("interval mode");
        assert_eq!(t0.elapsed(), Duration::ZERO, "returned at once");
        assert_eq!(ends, t0 + Duration::from_secs(1));
        assert!(slot.timestamp > parent.timestamp);
        // The producer builds until the end, then opens the next slot.
        tokio::time::advance(Duration::from_millis(1100)).await;
        let (_, next) = engine.open_slot(&parent).expect("interval mode");
        assert_eq!(next, t0 + Duration::from_secs(2));
        let instant = DevEngine::new(DevMode::Instant, Address::ZERO);
        assert!(instant.open_slot(&parent).is_none());
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

//! The proof-of-stake node: block production by the validator's [`PosEngine`], import of peers'
//! blocks, finality votes, sync and fork choice over [`dbc_network`].
//!
//! One domain per file, over the shared [`PosNode`] state:
//! - [`codec`]: blocks on the wire, decoded strictly and checked cheapest first;
//! - `import`: a peer's block on top of the head — verified (seal, slot, finality proof, body
//!   roots) before its senders are recovered or it is executed, and re-executed before commit;
//! - `fork`: a competing branch, verified and executed on an overlay of the fork point's state
//!   and adopted only if it is valid and heavier, or finalizes a block of its own (no unwind
//!   on a claim);
//! - `sync`: which peer to fetch from, batches, penalties for peers that claim and do not serve;
//! - `rejoin`: fetching a finalized branch shorter than ours, announced by a proof in its
//!   gossip (a node whose own branch outgrew the network's);
//! - `votes`: finality votes, checked before they are buffered or forwarded;
//! - `txs`: transactions gossiped in batches, decoded strictly and validated in parallel;
//! - `events`: the p2p event loop: every gossip message gets a verdict before it is forwarded;
//! - `produce`: the validator's slots, sealed under a persisted watermark.
//!
//! Every change of the canonical chain (a sealed block, an imported block, a fork switch)
//! happens while holding the state-trie lock and re-checks the head under it, and the head
//! moves before the lock is released. Fork choice: the heaviest valid chain that contains the
//! finalized block — the longer one, and at equal length the one whose tip has the earlier
//! timestamp (the in-turn proposer's block beats a backup's); otherwise a node keeps its head.

pub mod codec;
mod events;
mod fork;
mod import;
mod produce;
mod rejoin;
mod sync;
#[cfg(test)]
mod sync_tests;
#[cfg(test)]
mod tests;
mod txs;
mod votes;

pub use codec::{block_rlp, decode_block, encode_block};

use crate::NodeError;
use alloy_primitives::{B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use dbc_chainspec::{ChainSpec, STAKING_ADDRESS};
use dbc_consensus::pos::{PosEngine, ValidatorSet, VoteBook, Voter, verify_finality};
use dbc_network::{NetworkConfig, NetworkHandle, Status, SyncServer};
use dbc_primitives::{SealedHeader, pos::FinalityProof};
use dbc_rpc::NetInfo;
use dbc_storage::{CanonChain, StateReader, Storage};
use dbc_trie::StateTrie;
use dbc_txpool::{TxPool, TxValidator};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    path::Path,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};
use tokio::sync::Notify;
use tracing::{info, warn};

/// Score a peer loses for an invalid block or vote.
const INVALID_PENALTY: u32 = 50;
/// Score a peer loses for undecodable gossip.
const GARBAGE_PENALTY: u32 = 20;
/// Score a peer loses for claiming a head it then does not serve.
const NO_PROGRESS_PENALTY: u32 = 10;
/// Raw body bytes served per sync response (at least one body is always served).
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Proof-of-stake configuration of a node.
#[derive(Debug, Clone)]
pub struct PosConfig {
    /// Networking.
    pub network: NetworkConfig,
    /// The validator key (`None`: a full node that follows the chain).
    pub signer: Option<PrivateKeySigner>,
    /// Test hook: seal a second, different block for every own slot and gossip both
    /// (double signing), so that slashing can be exercised end to end.
    pub equivocate: bool,
    /// Test hook: abort the process right after sealing a block (before commit and gossip), as
    /// `kill -9` would, to test the seal watermark across a crash.
    pub abort_after_seal: bool,
}

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    /// Its parent is not the head (a fork or a gap): not the peer's fault.
    #[error("parent {0} is not the head")]
    NotNext(B256),
    /// The block breaks the rules.
    #[error("invalid block: {0}")]
    Invalid(String),
    /// A local failure.
    #[error(transparent)]
    Node(#[from] NodeError),
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// State shared by production, import, voting and sync.
pub(crate) struct PosNode {
    spec: Arc<ChainSpec>,
    chain: Arc<CanonChain>,
    pool: Arc<TxPool>,
    validator: TxValidator,
    trie: Arc<Mutex<StateTrie>>,
    head_changed: Notify,
    votes: Mutex<VoteBook>,
    pending_votes: Mutex<votes::PendingVotes>,
    voter: Option<Voter>,
    net: std::sync::OnceLock<NetworkHandle>,
    info: Arc<NetInfo>,
    /// Active sets by the hash of the parent they apply after (a hash fixes the state, so
    /// sets of side branches can share the cache).
    sets: Mutex<HashMap<B256, ValidatorSet>>,
    sync: Mutex<sync::SyncState>,
    /// (validator, number) pairs already recorded as double-signing evidence.
    evidence_seen: Mutex<std::collections::HashSet<(alloy_primitives::Address, u64)>>,
    equivocate: bool,
    abort_after_seal: bool,
    engine: std::sync::OnceLock<Arc<PosEngine>>,
    /// The block this validator is building, if any.
    building: Mutex<Option<produce::Building>>,
    /// Transactions accepted through RPC, waiting to be gossiped as one batch.
    tx_batch: Mutex<txs::TxBatch>,
    /// Peer blocks that passed the precheck and then failed to import: they abandon no build.
    failed_competitors: Mutex<Vec<B256>>,
}

impl std::fmt::Debug for PosNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosNode").field("head", &self.chain.head_number()).finish()
    }
}

struct Server(Arc<PosNode>);

impl SyncServer for Server {
    fn status(&self) -> Status {
        let head = self.0.chain.head();
        Status {
            genesis: self.0.storage().block_hash(0).ok().flatten().unwrap_or_default(),
            head: head.number,
            head_hash: head.hash(),
            finalized: self.0.chain.finalized().unwrap_or(0),
        }
    }

    fn headers(&self, from: u64, count: u32) -> Vec<Bytes> {
        let storage = self.0.storage();
        let count = count.min(dbc_network::MAX_HEADERS_PER_REQUEST);
        let mut out = Vec::new();
        for n in from..from.saturating_add(u64::from(count)) {
            let Ok(Some(raw)) = storage.header_rlp(n) else { break };
            out.push(Bytes::from(raw));
        }
        out
    }

    fn bodies(&self, hashes: &[B256]) -> Vec<Bytes> {
        let storage = self.0.storage();
        let mut out = Vec::new();
        let mut bytes = 0;
        for hash in hashes.iter().take(dbc_network::MAX_BODIES_PER_REQUEST as usize) {
            // Responses travel as JSON (hex, twice the size) under the sync codec's limit.
            if bytes >= MAX_RESPONSE_BYTES {
                break;
            }
            // Canonical blocks only: a hash we hold off the canonical chain is not served.
            let Ok(Some(n)) = storage.block_number(*hash) else { break };
            if storage.block_hash(n).ok().flatten() != Some(*hash) {
                break;
            }
            let Ok(Some(txs)) = storage.transactions(n) else { break };
            let raw = codec::encode_body(&txs);
            bytes += raw.len();
            out.push(Bytes::from(raw));
        }
        out
    }
}

impl PosNode {
    fn storage(&self) -> &Storage {
        self.chain.storage()
    }

    fn slot_secs(&self) -> u64 {
        self.spec.dbc.block_time_secs.max(1)
    }

    fn net(&self) -> Option<&NetworkHandle> {
        self.net.get()
    }

    fn penalize(&self, peer: dbc_network::Peer, amount: u32, why: impl Into<String>) {
        if let Some(net) = self.net() {
            net.penalize(peer, amount, why);
        }
    }

    /// The active set for the block after canonical `parent`: the genesis validators for
    /// block 1, then the staking precompile's active set in the parent's state.
    pub(crate) fn set_for(&self, parent: &SealedHeader) -> ValidatorSet {
        let state = self.storage().state_at(parent.number);
        self.set_in(parent, &state)
    }

    /// The active set for the block after `parent`, whose state `state` is (a side branch's
    /// overlay, or the canonical state).
    fn set_in<R: StateReader>(&self, parent: &SealedHeader, state: &R) -> ValidatorSet {
        if let Some(s) = self.sets.lock().get(&parent.hash()) {
            return s.clone();
        }
        let members = if parent.number == 0 {
            dbc_precompiles::staking::genesis_set(&self.spec.dbc.staking)
        } else {
            dbc_precompiles::staking::read_active_set(|slot| {
                state.storage(STAKING_ADDRESS, B256::from(slot))
            })
            .unwrap_or_default()
        };
        let set = ValidatorSet::new(members);
        let mut sets = self.sets.lock();
        if sets.len() > 256 {
            sets.clear();
        }
        sets.insert(parent.hash(), set.clone());
        set
    }

    /// The set that was active for canonical block `number`.
    fn set_of_block(&self, number: u64) -> Option<ValidatorSet> {
        let parent = self.storage().header(number.checked_sub(1)?).ok()??;
        Some(self.set_for(&parent))
    }

    /// Checks a finality proof carried by a header at `below` on the canonical chain.
    fn check_finality(&self, proof: &FinalityProof, below: u64) -> Result<(), String> {
        if proof.number == 0 || proof.number >= below {
            return Err(format!("finality proof for block {} not below {below}", proof.number));
        }
        let canonical = self.storage().block_hash(proof.number).map_err(|e| e.to_string())?;
        if canonical != Some(proof.hash) {
            return Err(format!("finality proof for a non-canonical block {}", proof.number));
        }
        let set = self.set_of_block(proof.number).ok_or("no parent for the finalized block")?;
        verify_finality(&set, self.spec.chain_id, proof).map_err(|e| e.to_string())
    }

    fn mark_finalized(&self, number: u64, by_proof: bool) {
        if by_proof {
            self.votes.lock().on_finalized(number);
        }
        if self.chain.finalized().unwrap_or(0) < number {
            if let Err(e) = self.storage().set_finalized(number) {
                warn!(target: "dbc::pos", error = %e, "could not persist the finalized block");
            }
            self.chain.set_finalized(number);
            info!(target: "dbc::pos", number, by_proof, "finalized");
        }
    }

    fn after_new_head(&self) {
        self.head_changed.notify_waiters();
        self.retry_pending_votes();
        self.vote_for_head();
    }
}

/// Starts networking, the block producer (for a validator) and the sync loop. The validator's
/// signing watermarks live in `datadir` (`last_seal`, `last_vote`).
#[allow(clippy::too_many_arguments)] // the node's parts, wired once in `launch_pos`
pub(crate) async fn start(
    config: PosConfig,
    spec: Arc<ChainSpec>,
    chain: Arc<CanonChain>,
    pool: Arc<TxPool>,
    validator: TxValidator,
    trie: Arc<Mutex<StateTrie>>,
    info: Arc<NetInfo>,
    gas_limit: u64,
    datadir: &Path,
) -> Result<(Arc<PosNode>, tokio::task::JoinHandle<Result<(), NodeError>>), NodeError> {
    let watermark_err = |e: dbc_consensus::ConsensusError| NodeError::Production(e.to_string());
    let voter = match &config.signer {
        Some(s) => Some(
            Voter::open(s.clone(), spec.chain_id, datadir.join("last_vote"))
                .map_err(watermark_err)?,
        ),
        None => None,
    };
    let mut book = VoteBook::default();
    let finalized = chain.storage().finalized()?.unwrap_or(0);
    book.on_finalized(finalized);
    chain.set_finalized(finalized);
    let node = Arc::new(PosNode {
        spec: spec.clone(),
        chain: chain.clone(),
        pool: pool.clone(),
        validator,
        trie,
        head_changed: Notify::new(),
        votes: Mutex::new(book),
        pending_votes: Mutex::default(),
        voter,
        net: Default::default(),
        info,
        sets: Mutex::default(),
        sync: Mutex::default(),
        evidence_seen: Mutex::default(),
        equivocate: config.equivocate,
        abort_after_seal: config.abort_after_seal,
        engine: Default::default(),
        building: Mutex::default(),
        tx_batch: Mutex::default(),
        failed_competitors: Mutex::default(),
    });
    let (handle, events, addr) = dbc_network::start(config.network, Arc::new(Server(node.clone())))
        .await
        .map_err(|e| NodeError::Production(e.to_string()))?;
    info!(target: "dbc::pos", %addr, peer_id = %handle.local_peer_id(), "p2p listening");
    let _ = node.net.set(handle);

    tokio::spawn(events::event_loop(node.clone(), events));
    tokio::spawn(txs::flush_loop(node.clone()));
    let producer = match config.signer {
        Some(signer) => {
            let n1 = node.clone();
            let n2 = node.clone();
            let engine = PosEngine::new(
                signer,
                node.slot_secs(),
                Arc::new(move |parent| n1.set_for(parent)),
                Arc::new(move || {
                    let storage = n2.storage();
                    n2.votes.lock().proof_to_include(|n| storage.block_hash(n).ok().flatten())
                }),
            )
            .with_seal_watermark(datadir.join("last_seal"))
            .map_err(watermark_err)?;
            let engine = Arc::new(engine);
            let _ = node.engine.set(engine.clone());
            info!(target: "dbc::pos", validator = %engine.address(), "validating");
            tokio::spawn(produce::produce(node.clone(), engine, gas_limit))
        }
        None => tokio::spawn(std::future::pending()),
    };
    Ok((node, producer))
}

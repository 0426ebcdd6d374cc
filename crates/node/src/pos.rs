//! The proof-of-stake node: block production by the validator's [`PosEngine`], import of peers'
//! blocks, finality votes, sync and fork choice over [`dbc_network`].
//!
//! Every change of the canonical chain (a sealed block, an imported block, an unwind) happens
//! while holding the state-trie lock, and re-checks the head under it, so production and import
//! never interleave. Fork choice: the longest valid chain that contains the finalized block; on
//! equal length a node keeps its own head.

use crate::{NodeError, finish_block, rebuild_trie};
use alloy_consensus::{BlockBody, Header, Sealable};
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, Encodable};
use alloy_signer_local::PrivateKeySigner;
use dbc_chainspec::{ChainSpec, STAKING_ADDRESS};
use dbc_consensus::{
    ConsensusEngine,
    pos::{PosEngine, ValidatorSet, VoteBook, Voter, verify_finality, verify_header},
};
use dbc_evm::{BlockAttributes, TxList, build_block};
use dbc_network::{
    NetEvent, NetworkConfig, NetworkHandle, Peer, Request, Response, Status, SyncServer, Topic,
};
use dbc_primitives::{
    Block, Recovered, SealedHeader, TxEnvelope,
    pos::{self, FinalityProof, Vote},
};
use dbc_rpc::NetInfo;
use dbc_storage::{CanonChain, StateReader, Storage};
use dbc_trie::StateTrie;
use dbc_txpool::{TxPool, TxValidator};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

/// Score lost for an invalid block or vote.
const INVALID_PENALTY: i32 = -50;
/// Raw block bytes served per sync response (at least one block is always served).
const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// Score lost for undecodable gossip.
const GARBAGE_PENALTY: i32 = -20;

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

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// RLP of a block as gossiped and served: the standard Ethereum block encoding.
pub fn encode_block(block: &Block) -> Vec<u8> {
    let b = alloy_consensus::Block {
        header: block.header.inner().clone(),
        body: BlockBody {
            transactions: block.transactions.clone(),
            ommers: vec![],
            withdrawals: Some(Default::default()),
        },
    };
    let mut out = Vec::with_capacity(512);
    b.encode(&mut out);
    out
}

/// Decodes an RLP block and recovers its senders.
pub fn decode_block(mut raw: &[u8]) -> Result<Block, String> {
    let b = alloy_consensus::Block::<TxEnvelope>::decode(&mut raw).map_err(|e| e.to_string())?;
    if !raw.is_empty() {
        return Err("trailing bytes after the block".into());
    }
    let mut senders = Vec::with_capacity(b.body.transactions.len());
    for tx in &b.body.transactions {
        senders.push(
            alloy_consensus::transaction::SignerRecoverable::recover_signer(tx)
                .map_err(|e| format!("transaction {}: {e}", tx.tx_hash()))?,
        );
    }
    Ok(Block { header: b.header.seal_slow(), transactions: b.body.transactions, senders })
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
    pending_votes: Mutex<Vec<(Vote, Peer)>>,
    voter: Option<Voter>,
    net: std::sync::OnceLock<NetworkHandle>,
    info: Arc<NetInfo>,
    sets: Mutex<HashMap<B256, ValidatorSet>>,
    syncing: AtomicBool,
    equivocate: bool,
    engine: std::sync::OnceLock<Arc<PosEngine>>,
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

    fn blocks(&self, from: u64, count: u32) -> Vec<Bytes> {
        let storage = self.0.storage();
        let mut out = Vec::new();
        let mut bytes = 0;
        for n in from..from.saturating_add(count.min(dbc_network::MAX_BLOCKS_PER_REQUEST) as u64) {
            // Responses travel as JSON (hex, twice the size) under libp2p's 10 MiB limit.
            if bytes >= MAX_RESPONSE_BYTES {
                break;
            }
            let Ok(Some(b)) = storage.block(n) else { break };
            let raw = encode_block(&b);
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

    /// Gossips a transaction accepted through RPC.
    pub(crate) fn gossip_tx(&self, raw: &[u8]) {
        if let Some(net) = self.net() {
            net.publish(Topic::Txs, raw.to_vec());
        }
    }

    /// The active set for the block after `parent`: the genesis validators for block 1, then
    /// the staking precompile's active set in the parent's state.
    pub(crate) fn set_for(&self, parent: &SealedHeader) -> ValidatorSet {
        if let Some(s) = self.sets.lock().get(&parent.hash()) {
            return s.clone();
        }
        let members = if parent.number == 0 {
            dbc_precompiles::staking::genesis_set(&self.spec.dbc.staking)
        } else {
            let state = self.storage().state_at(parent.number);
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

    /// Imports `block` on top of the head. Call with the trie locked (`trie`).
    fn import_locked(&self, trie: &mut StateTrie, block: Block) -> Result<(), ImportError> {
        let started = Instant::now();
        let head = self.chain.head();
        if block.header.parent_hash != head.hash() {
            return Err(ImportError::NotNext(block.header.parent_hash));
        }
        let header = block.header.inner();
        let set = self.set_for(&head);
        let verified = verify_header(&set, head.inner(), header, self.slot_secs(), now_secs())
            .map_err(|e| ImportError::Invalid(e.to_string()))?;
        if let Some(proof) = &verified.finality {
            self.check_finality(proof, header.number).map_err(ImportError::Invalid)?;
        }
        let attrs = BlockAttributes {
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            extra_data: header.extra_data.clone(),
            gas_limit: header.gas_limit,
            staking_hook: Some((verified.sealer, verified.missed.clone())),
        };
        let txs: Vec<Recovered<TxEnvelope>> = block
            .transactions
            .iter()
            .zip(&block.senders)
            .map(|(t, s)| Recovered::new_unchecked(t.clone(), *s))
            .collect();
        let count = txs.len();
        let storage = self.storage().clone();
        let executed =
            build_block(&self.spec, &head, storage.latest(), attrs, &mut TxList::new(txs), trie);
        let fail = |trie: &mut StateTrie, why: String| -> Result<(), ImportError> {
            *trie = rebuild_trie(&storage)?;
            Err(ImportError::Invalid(why))
        };
        let mut executed = match executed {
            Ok(e) => e,
            Err(e) => return fail(trie, format!("execution failed: {e}")),
        };
        if !executed.rejected.is_empty() || executed.block.transactions.len() != count {
            let why = executed.rejected.first().map(|r| r.reason.clone()).unwrap_or_default();
            return fail(trie, format!("a transaction is not executable: {why}"));
        }
        let built = executed.block.header.inner();
        if built.hash_slow() != block.header.hash() {
            let field = if built.state_root != header.state_root {
                "state root"
            } else if built.receipts_root != header.receipts_root {
                "receipts root"
            } else if built.gas_used != header.gas_used {
                "gas used"
            } else if built.logs_bloom != header.logs_bloom {
                "logs bloom"
            } else {
                "header fields"
            };
            return fail(trie, format!("{field} differs from re-execution"));
        }
        executed.block.header = block.header.clone();
        let commit_started = Instant::now();
        crate::commit_or_rebuild(&storage, &executed, trie)?;
        finish_block(&self.chain, &self.pool, executed, started, commit_started, "block imported");
        if let Some(proof) = verified.finality {
            self.mark_finalized(proof.number, true);
        }
        Ok(())
    }

    /// Unwinds the canonical chain to `number` (never below the finalized block). Returns the
    /// transactions of the unwound blocks. Call with the trie locked.
    fn unwind_locked(&self, trie: &mut StateTrie, number: u64) -> Result<Vec<TxEnvelope>, String> {
        let finalized = self.chain.finalized().unwrap_or(0);
        if number < finalized {
            return Err(format!("refusing to unwind below finalized block {finalized}"));
        }
        let storage = self.storage();
        let mut txs = Vec::new();
        let mut head = self.chain.head();
        while head.number > number {
            if let Ok(Some(b)) = storage.block(head.number) {
                txs.extend(b.transactions);
            }
            head = storage.unwind_head().map_err(|e| e.to_string())?;
        }
        *trie = rebuild_trie(storage).map_err(|e| e.to_string())?;
        info!(target: "dbc::pos", to = number, hash = %head.hash(), "unwound for a longer chain");
        self.chain.on_unwound(head);
        Ok(txs)
    }

    /// Returns unwound transactions to the pool (those still valid).
    fn readd(&self, txs: Vec<TxEnvelope>) {
        let head = self.chain.head();
        for tx in txs {
            let size = tx.eip2718_encoded_length();
            if let Ok(v) = self.validator.validate(tx, size, head.inner()) {
                let _ = self.pool.add(v.tx, v.size, v.state_nonce);
            }
        }
    }

    /// Signs and gossips a vote for the new head if this node is a validator of its set and the
    /// block is recent.
    fn vote_for_head(&self) {
        let Some(voter) = &self.voter else { return };
        let head = self.chain.head();
        if head.timestamp.saturating_add(3 * self.slot_secs()) < now_secs() {
            return; // Catching up: old blocks are not voted on.
        }
        let Some(set) = self.set_of_block(head.number) else { return };
        if set.stake_of(voter.address()).is_none() {
            return;
        }
        let Some(vote) = voter.vote(head.number, head.hash()) else { return };
        let mut raw = Vec::new();
        vote.encode(&mut raw);
        if let Some(net) = self.net() {
            net.publish(Topic::Votes, raw);
        }
        self.on_vote(vote, None);
    }

    /// Records a vote (from a peer, or `None` for our own).
    fn on_vote(&self, vote: Vote, from: Option<Peer>) {
        if vote.number > self.chain.head_number() {
            if let Some(p) = from {
                let mut pending = self.pending_votes.lock();
                if pending.len() < 4_096 {
                    pending.push((vote, p));
                }
            }
            return;
        }
        let Some(set) = self.set_of_block(vote.number) else { return };
        let added = self.votes.lock().add(self.spec.chain_id, &set, &vote);
        match added {
            Ok(Some(proof)) => {
                let canonical = self.storage().block_hash(proof.number).ok().flatten();
                if canonical == Some(proof.hash) {
                    self.mark_finalized(proof.number, false);
                }
            }
            Ok(None) => {}
            Err(e) => {
                if let (Some(p), Some(net)) = (from, self.net()) {
                    net.penalize(p, INVALID_PENALTY, e.to_string());
                }
            }
        }
    }

    fn retry_pending_votes(&self) {
        let head = self.chain.head_number();
        let ready: Vec<(Vote, Peer)> = {
            let mut pending = self.pending_votes.lock();
            let (ready, keep) = std::mem::take(&mut *pending)
                .into_iter()
                .filter(|(v, _)| v.number + 64 > head)
                .partition(|(v, _)| v.number <= head);
            *pending = keep;
            ready
        };
        for (v, p) in ready {
            self.on_vote(v, Some(p));
        }
    }

    fn after_new_head(&self) {
        self.head_changed.notify_waiters();
        self.retry_pending_votes();
        self.vote_for_head();
    }

    /// Records two headers of one validator for one slot as double-signing evidence.
    fn check_equivocation(&self, header: &Header) {
        let Ok(Some(ours)) = self.storage().header(header.number) else { return };
        if ours.hash() == header.hash_slow() || ours.timestamp != header.timestamp {
            return;
        }
        let (Ok(a), Ok(b)) = (pos::recover_sealer(ours.inner()), pos::recover_sealer(header))
        else {
            return;
        };
        if a != b {
            return;
        }
        let mut ra = Vec::new();
        ours.inner().encode(&mut ra);
        let mut rb = Vec::new();
        header.encode(&mut rb);
        let mut ev = self.info.double_signs.lock();
        if !ev.iter().any(|(x, y)| x[..] == ra[..] && y[..] == rb[..]) {
            warn!(target: "dbc::pos", validator = %a, number = header.number, "double signing seen");
            ev.push((ra.into(), rb.into()));
        }
    }
}

/// Starts networking, the block producer (for a validator) and the sync loop.
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
    vote_file: std::path::PathBuf,
) -> Result<(Arc<PosNode>, tokio::task::JoinHandle<Result<(), NodeError>>), NodeError> {
    // Signing watermarks (`last_vote`, `last_seal`) live in the data directory and are
    // persisted before a vote or seal exists: a restarted validator never signs twice.
    let watermark_err = |e: dbc_consensus::ConsensusError| NodeError::Production(e.to_string());
    let voter = match &config.signer {
        Some(s) => {
            Some(Voter::open(s.clone(), spec.chain_id, vote_file.clone()).map_err(watermark_err)?)
        }
        None => None,
    };
    let seal_file = vote_file.with_file_name("last_seal");
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
        syncing: AtomicBool::new(false),
        equivocate: config.equivocate,
        engine: Default::default(),
    });
    let (handle, events, addr) = dbc_network::start(config.network, Arc::new(Server(node.clone())))
        .await
        .map_err(|e| NodeError::Production(e.to_string()))?;
    info!(target: "dbc::pos", %addr, peer_id = %handle.local_peer_id(), "p2p listening");
    let _ = node.net.set(handle);

    tokio::spawn(event_loop(node.clone(), events));
    let producer = match config.signer {
        Some(signer) => {
            let n1 = node.clone();
            let n2 = node.clone();
            let engine = Arc::new(
                PosEngine::new(
                    signer,
                    node.slot_secs(),
                    Arc::new(move |parent| n1.set_for(parent)),
                    Arc::new(move || {
                        let storage = n2.storage();
                        n2.votes.lock().proof_to_include(|n| storage.block_hash(n).ok().flatten())
                    }),
                )
                .with_seal_watermark(seal_file)
                .map_err(watermark_err)?,
            );
            let _ = node.engine.set(engine.clone());
            info!(target: "dbc::pos", validator = %engine.address(), "validating");
            tokio::spawn(produce(node.clone(), engine, gas_limit))
        }
        None => tokio::spawn(std::future::pending()),
    };
    Ok((node, producer))
}

async fn produce(
    node: Arc<PosNode>,
    engine: Arc<PosEngine>,
    gas_limit: u64,
) -> Result<(), NodeError> {
    // After a restart, hear from peers first: sealing on a stale head only makes a fork that
    // the node then has to unwind.
    for _ in 0..30 {
        if node.info.highest_block.load(Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while node.syncing.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let changed = node.head_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let parent = node.chain.head();
        let slot = tokio::select! {
            slot = engine.next_slot(&parent, &node.pool) => slot,
            _ = changed => continue,
        };
        if node.syncing.load(Ordering::Relaxed) {
            // Behind a peer: do not fork off an old head.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let (n, e) = (node.clone(), engine.clone());
        let produced =
            tokio::task::spawn_blocking(move || -> Result<Option<Vec<Bytes>>, NodeError> {
                let started = Instant::now();
                let mut trie = n.trie.lock();
                if n.chain.head().hash() != parent.hash() {
                    return Ok(None);
                }
                let storage = n.storage().clone();
                let attrs = BlockAttributes {
                    timestamp: slot.timestamp,
                    beneficiary: slot.beneficiary,
                    extra_data: slot.extra_data.clone(),
                    gas_limit: gas_limit.clamp(
                        parent.gas_limit - parent.gas_limit / 1024,
                        parent.gas_limit + parent.gas_limit / 1024,
                    ),
                    staking_hook: slot.staking_hook.clone(),
                };
                let executed = crate::build_sealed(
                    &*e, &n.spec, &parent, &storage, &n.pool, attrs, &mut trie, None,
                )?;
                let sealed = executed.block.header.inner().clone();
                let proof = pos::parse_extra(&sealed.extra_data)
                    .ok()
                    .and_then(|(x, _)| x.finality.into_iter().next());
                let mut out = vec![Bytes::from(encode_block(&executed.block))];
                if n.equivocate {
                    // A second block for the same slot: same contents, other vanity.
                    let mut other = sealed.clone();
                    let mut extra = other.extra_data.to_vec();
                    extra[0] ^= 0xff;
                    extra.truncate(extra.len() - pos::SEAL_LEN);
                    other.extra_data = extra.into();
                    // The test hook double-signs on purpose, past the seal watermark.
                    let other = e
                        .seal_unguarded(other)
                        .map_err(|x| NodeError::Production(x.to_string()))?;
                    let twin = Block {
                        header: other.seal_slow(),
                        transactions: executed.block.transactions.clone(),
                        senders: executed.block.senders.clone(),
                    };
                    out.push(encode_block(&twin).into());
                }
                let commit_started = Instant::now();
                crate::commit_or_rebuild(&storage, &executed, &mut trie)?;
                drop(trie);
                finish_block(&n.chain, &n.pool, executed, started, commit_started, "block sealed");
                if let Some(p) = proof {
                    n.mark_finalized(p.number, true);
                }
                Ok(Some(out))
            })
            .await
            .map_err(|x| NodeError::Production(x.to_string()))?;
        let produced = match produced {
            Ok(p) => p,
            Err(e) => {
                // Skip this slot (a backup proposer takes it); the node keeps following.
                warn!(target: "dbc::pos", error = %e, "block production failed");
                tokio::time::sleep(Duration::from_secs(node.slot_secs())).await;
                continue;
            }
        };
        if let Some(blocks) = produced {
            if let Some(net) = node.net() {
                for b in blocks {
                    net.publish(Topic::Blocks, b.to_vec());
                }
            }
            node.after_new_head();
        }
    }
}

async fn event_loop(
    node: Arc<PosNode>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<NetEvent>,
) {
    while let Some(ev) = events.recv().await {
        if let Some(net) = node.net() {
            node.info.peers.store(net.peer_count() as u64, Ordering::Relaxed);
        }
        match ev {
            NetEvent::Gossip { topic: Topic::Txs, data, from } => {
                let head = node.chain.head();
                match node.validator.validate_raw(&data, head.inner()) {
                    Ok(v) => {
                        let _ = node.pool.add(v.tx, v.size, v.state_nonce);
                    }
                    Err(dbc_txpool::ValidationError::Decode(e)) => {
                        if let Some(net) = node.net() {
                            net.penalize(from, GARBAGE_PENALTY, format!("bad transaction: {e}"));
                        }
                    }
                    Err(_) => {}
                }
            }
            NetEvent::Gossip { topic: Topic::Votes, data, from } => {
                match Vote::decode(&mut &data[..]) {
                    Ok(v) => node.on_vote(v, Some(from)),
                    Err(e) => {
                        if let Some(net) = node.net() {
                            net.penalize(from, GARBAGE_PENALTY, format!("bad vote: {e}"));
                        }
                    }
                }
            }
            NetEvent::Gossip { topic: Topic::Blocks, data, from } => {
                on_gossip_block(&node, data, from).await;
            }
            NetEvent::PeerStatus { peer, status } => {
                let genesis = node.storage().block_hash(0).ok().flatten().unwrap_or_default();
                if status.genesis != genesis {
                    if let Some(net) = node.net() {
                        net.penalize(peer, dbc_network::BAN_SCORE, "another chain");
                    }
                    continue;
                }
                node.info.highest_block.fetch_max(status.head, Ordering::Relaxed);
                if status.head > node.chain.head_number() {
                    spawn_sync(&node, peer, status.head);
                }
            }
            NetEvent::PeerGone(_) => {}
        }
    }
}

async fn on_gossip_block(node: &Arc<PosNode>, data: Vec<u8>, from: Peer) {
    let n = node.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let block = decode_block(&data)?;
        let head = n.chain.head();
        if block.header.number <= head.number {
            n.check_equivocation(block.header.inner());
            return Ok(None);
        }
        if block.header.number == head.number + 1 && block.header.parent_hash == head.hash() {
            let mut trie = n.trie.lock();
            return match n.import_locked(&mut trie, block) {
                Ok(()) => Ok(Some(true)),
                Err(ImportError::NotNext(_)) => Ok(Some(false)),
                Err(ImportError::Invalid(e)) => Err(e),
                Err(ImportError::Node(e)) => {
                    warn!(target: "dbc::pos", error = %e, "import failed");
                    Ok(None)
                }
            };
        }
        n.info.highest_block.fetch_max(block.header.number, Ordering::Relaxed);
        Ok(Some(false))
    })
    .await;
    match decoded {
        Ok(Ok(Some(true))) => node.after_new_head(),
        Ok(Ok(Some(false))) => {
            let target = node.info.highest_block.load(Ordering::Relaxed);
            spawn_sync(node, from, target.max(node.chain.head_number() + 1));
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            debug!(target: "dbc::pos", peer = %from, error = %e, "invalid gossip block");
            if let Some(net) = node.net() {
                net.penalize(from, INVALID_PENALTY, e);
            }
        }
        Err(e) => warn!(target: "dbc::pos", error = %e, "block task failed"),
    }
}

fn spawn_sync(node: &Arc<PosNode>, peer: Peer, target: u64) {
    if node.syncing.swap(true, Ordering::AcqRel) {
        return;
    }
    let node = node.clone();
    tokio::spawn(async move {
        node.info.starting_block.store(node.chain.head_number(), Ordering::Relaxed);
        node.info.highest_block.fetch_max(target, Ordering::Relaxed);
        let started = Instant::now();
        let from = node.chain.head_number();
        if let Err(e) = sync_with(&node, peer, target).await {
            debug!(target: "dbc::pos", %peer, error = %e, "sync stopped");
        }
        let to = node.chain.head_number();
        if to > from + 1 {
            let secs = started.elapsed().as_secs_f64();
            info!(
                target: "dbc::pos",
                from, to, secs, blocks_per_sec = (to - from) as f64 / secs.max(1e-9),
                "synced"
            );
        }
        node.syncing.store(false, Ordering::Release);
        node.after_new_head();
    });
}

/// Fetches blocks from `peer` until the head reaches `target`, unwinding a shorter fork.
async fn sync_with(node: &Arc<PosNode>, peer: Peer, target: u64) -> Result<(), String> {
    let net = node.net().ok_or("no network")?.clone();
    let mut from = node.chain.head_number() + 1;
    let mut back = 8u64;
    while node.chain.head_number() < target {
        let finalized = node.chain.finalized().unwrap_or(0);
        from = from.max(finalized + 1);
        let resp = net
            .request(peer, Request::Blocks { from, count: dbc_network::MAX_BLOCKS_PER_REQUEST })
            .await
            .map_err(|e| e.to_string())?;
        let Response::Blocks(raw) = resp else { return Err("unexpected response".into()) };
        if raw.is_empty() {
            return Ok(());
        }
        let n = node.clone();
        let outcome = tokio::task::spawn_blocking(move || n.import_batch(from, raw, target))
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            BatchOutcome::Progress => {
                from = node.chain.head_number() + 1;
                back = 8;
            }
            BatchOutcome::Known(last) => from = last + 1,
            BatchOutcome::NoProgress => return Ok(()),
            BatchOutcome::Disconnected => {
                if from <= finalized + 1 {
                    net.penalize(peer, dbc_network::BAN_SCORE, "chain conflicts with finalized");
                    return Err("peer's chain conflicts with our finalized block".into());
                }
                // Walk back towards the fork point, never past the finalized block.
                from = from.saturating_sub(back).max(finalized + 1);
                back = back.saturating_mul(4);
            }
            BatchOutcome::Invalid(e) => {
                net.penalize(peer, INVALID_PENALTY, e.clone());
                return Err(e);
            }
        }
        node.after_new_head();
    }
    Ok(())
}

enum BatchOutcome {
    Progress,
    /// Every block of the batch is already canonical here, up to this number.
    Known(u64),
    NoProgress,
    Disconnected,
    Invalid(String),
}

impl PosNode {
    /// Imports a batch of consecutive blocks starting at `from`, unwinding our blocks where the
    /// batch forks off our chain, but only if the peer's chain (head `target`) is longer.
    fn import_batch(&self, from: u64, raw: Vec<Bytes>, target: u64) -> BatchOutcome {
        let mut blocks = Vec::with_capacity(raw.len());
        for r in &raw {
            match decode_block(r) {
                Ok(b) => blocks.push(b),
                Err(e) => return BatchOutcome::Invalid(format!("undecodable block: {e}")),
            }
        }
        let storage = self.storage().clone();
        let Some(first) = blocks.first() else { return BatchOutcome::NoProgress };
        if first.header.number != from {
            return BatchOutcome::Invalid("blocks out of range".into());
        }
        if storage.block_hash(from - 1).ok().flatten() != Some(first.header.parent_hash) {
            return BatchOutcome::Disconnected;
        }
        let mut trie = self.trie.lock();
        let head = self.chain.head();
        // Skip what we already have.
        let mut i = 0;
        while i < blocks.len()
            && storage.block_hash(blocks[i].header.number).ok().flatten()
                == Some(blocks[i].header.hash())
        {
            i += 1;
        }
        let last = blocks.last().map(|b| b.header.number).unwrap_or(0);
        if i == blocks.len() {
            return BatchOutcome::Known(last);
        }
        let fork_at = blocks[i].header.number;
        let mut unwound = Vec::new();
        if fork_at <= head.number {
            if target.max(last) <= head.number {
                // Not longer than ours: keep our chain.
                return BatchOutcome::NoProgress;
            }
            match self.unwind_locked(&mut trie, fork_at - 1) {
                Ok(txs) => unwound = txs,
                Err(e) => {
                    warn!(target: "dbc::pos", error = %e, "not switching fork");
                    return BatchOutcome::NoProgress;
                }
            }
        }
        let mut imported = 0;
        let mut result = BatchOutcome::Progress;
        for b in blocks.drain(i..) {
            match self.import_locked(&mut trie, b) {
                Ok(()) => imported += 1,
                Err(ImportError::Invalid(e)) => {
                    result = BatchOutcome::Invalid(e);
                    break;
                }
                Err(e) => {
                    warn!(target: "dbc::pos", error = %e, "sync import failed");
                    result = BatchOutcome::NoProgress;
                    break;
                }
            }
        }
        drop(trie);
        if !unwound.is_empty() {
            self.readd(unwound);
        }
        debug!(target: "dbc::pos", from, imported, "sync batch");
        if imported == 0 && matches!(result, BatchOutcome::Progress) {
            result = BatchOutcome::NoProgress;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NodeConfig, Opened, open};
    use alloy_primitives::Address;
    use dbc_chainspec::DEV_GENESIS_JSON;

    fn spec_for(validator: Address) -> Arc<ChainSpec> {
        let mut g: serde_json::Value = serde_json::from_str(DEV_GENESIS_JSON).expect("json");
        let staking = dbc_chainspec::StakingParams {
            validators: vec![dbc_chainspec::GenesisValidator {
                address: validator,
                stake: alloy_primitives::U256::from(100_000u64)
                    * alloy_primitives::U256::from(dbc_chainspec::DBC),
                commission_bps: 0,
            }],
            ..Default::default()
        };
        let balance = staking.genesis_stake() + staking.reward_pool;
        g["timestamp"] = format!("{:#x}", now_secs() - 10_000).into();
        g["config"]["dbc"] = serde_json::json!({ "blockTimeSecs": 1, "staking": staking });
        g["alloc"][STAKING_ADDRESS.to_string().to_lowercase()] =
            serde_json::json!({ "balance": format!("{balance:#x}") });
        Arc::new(ChainSpec::from_json(&g.to_string()).expect("spec"))
    }

    fn offline(spec: &Arc<ChainSpec>, dir: &std::path::Path) -> PosNode {
        let config = NodeConfig {
            datadir: dir.to_path_buf(),
            spec: spec.clone(),
            rpc: dbc_rpc::RpcConfig { http: None, ws: None, cors: None },
            pool: Default::default(),
            gas_limit: None,
        };
        let Opened { chain, pool, validator, trie } = open(&config).expect("open");
        PosNode {
            spec: spec.clone(),
            chain,
            pool,
            validator,
            trie: Arc::new(Mutex::new(trie)),
            head_changed: Notify::new(),
            votes: Mutex::default(),
            pending_votes: Mutex::default(),
            voter: None,
            net: Default::default(),
            info: Arc::default(),
            sets: Mutex::default(),
            syncing: AtomicBool::new(false),
            equivocate: false,
            engine: Default::default(),
        }
    }

    /// Builds and seals the block after `node`'s head at slot offset `k` (not committed).
    fn make(node: &PosNode, key: &PrivateKeySigner, k: u64) -> Block {
        let parent = node.chain.head();
        let mut trie = node.trie.lock();
        let attrs = BlockAttributes {
            timestamp: parent.timestamp + k + 1,
            beneficiary: key.address(),
            extra_data: pos::unsealed_extra(b"test", &Default::default()),
            gas_limit: parent.gas_limit,
            staking_hook: Some((key.address(), vec![])),
        };
        let storage = node.storage().clone();
        let executed = build_block(
            &node.spec,
            &parent,
            storage.latest(),
            attrs,
            &mut TxList::new(vec![]),
            &mut trie,
        )
        .expect("build");
        // Put the trie back to the head's state: the block is only proposed here.
        *trie = rebuild_trie(&storage).expect("trie");
        let header = engine_seal(key, executed.block.header.inner().clone());
        Block { header: header.seal_slow(), transactions: vec![], senders: vec![] }
    }

    fn engine_seal(key: &PrivateKeySigner, header: Header) -> Header {
        PosEngine::new(key.clone(), 1, Arc::new(|_| Default::default()), Arc::new(|| None))
            .seal(header)
            .expect("seal")
    }

    fn reseal(key: &PrivateKeySigner, mut header: Header) -> Header {
        let mut extra = header.extra_data.to_vec();
        extra.truncate(extra.len() - pos::SEAL_LEN);
        header.extra_data = extra.into();
        engine_seal(key, header)
    }

    fn import(node: &PosNode, block: Block) -> Result<(), ImportError> {
        let mut trie = node.trie.lock();
        node.import_locked(&mut trie, block)
    }

    fn extend(node: &PosNode, key: &PrivateKeySigner, k: u64, n: usize) -> Vec<Block> {
        (0..n)
            .map(|_| {
                let b = make(node, key, k);
                import(node, b.clone()).expect("own block imports");
                b
            })
            .collect()
    }

    fn raw(blocks: &[Block]) -> Vec<Bytes> {
        blocks.iter().map(|b| Bytes::from(encode_block(b))).collect()
    }

    fn root_ok(node: &PosNode) {
        let head = node.chain.head();
        assert_eq!(rebuild_trie(node.storage()).expect("trie").root(), head.state_root);
        assert_eq!(node.trie.lock().root(), head.state_root, "in-memory trie follows the head");
    }

    #[test]
    fn import_rejects_tampered_and_missealed_blocks_and_keeps_state() {
        let key = PrivateKeySigner::random();
        let spec = spec_for(key.address());
        let (da, db) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
        let (a, b) = (offline(&spec, da.path()), offline(&spec, db.path()));
        for block in extend(&a, &key, 0, 3) {
            import(&b, block).expect("valid block");
        }
        assert_eq!(b.chain.head().hash(), a.chain.head().hash());

        let good = make(&a, &key, 0);
        // A different state root, correctly sealed: re-execution disagrees.
        let mut h = good.header.inner().clone();
        h.state_root = B256::repeat_byte(1);
        let bad = Block { header: reseal(&key, h).seal_slow(), ..good.clone() };
        match import(&b, bad) {
            Err(ImportError::Invalid(e)) => assert!(e.contains("state root"), "{e}"),
            other => panic!("tampered block: {other:?}"),
        }
        // Sealed by someone else.
        let outsider = PrivateKeySigner::random();
        let wrong = Block {
            header: reseal(&outsider, good.header.inner().clone()).seal_slow(),
            ..good.clone()
        };
        assert!(matches!(import(&b, wrong), Err(ImportError::Invalid(_))));
        // A block that does not build on the head.
        assert!(matches!(import(&b, make(&b, &key, 0)), Ok(())));
        assert!(matches!(import(&b, good), Err(ImportError::NotNext(_))));
        assert_eq!(b.chain.head_number(), 4);
        root_ok(&b);
    }

    #[test]
    fn fork_choice_takes_the_longer_chain_but_never_unwinds_finalized_blocks() {
        let key = PrivateKeySigner::random();
        let spec = spec_for(key.address());
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
        let (a, b, c) = (
            offline(&spec, dirs[0].path()),
            offline(&spec, dirs[1].path()),
            offline(&spec, dirs[2].path()),
        );
        // A: 4 blocks in turn. C: a branch from genesis with later slots (other hashes).
        let chain_a = extend(&a, &key, 0, 4);
        let chain_c = extend(&c, &key, 1, 2);
        for blk in &chain_a {
            import(&b, blk.clone()).expect("import");
        }
        // A shorter branch is not adopted.
        assert!(matches!(b.import_batch(1, raw(&chain_c), 2), BatchOutcome::NoProgress));
        assert_eq!(b.chain.head().hash(), a.chain.head().hash());
        // Blocks B already has are skipped.
        assert!(matches!(b.import_batch(1, raw(&chain_a[..2]), 4), BatchOutcome::Known(2)));
        // A longer branch is: B unwinds to genesis and follows C.
        let chain_c: Vec<Block> = chain_c.into_iter().chain(extend(&c, &key, 0, 4)).collect();
        assert!(matches!(b.import_batch(1, raw(&chain_c), 6), BatchOutcome::Progress));
        assert_eq!(b.chain.head().hash(), c.chain.head().hash());
        assert_eq!(b.storage().block_hash(1).expect("read"), Some(chain_c[0].header.hash()));
        root_ok(&b);
        // A batch that does not connect to B's chain.
        assert!(matches!(b.import_batch(3, raw(&chain_a[2..]), 8), BatchOutcome::Disconnected));
        // Finalized blocks stay: A's chain grows longer but forks below B's finalized block.
        b.mark_finalized(3, true);
        let chain_a: Vec<Block> = chain_a.into_iter().chain(extend(&a, &key, 0, 6)).collect();
        assert!(matches!(b.import_batch(1, raw(&chain_a), 10), BatchOutcome::NoProgress));
        assert_eq!(b.chain.head().hash(), c.chain.head().hash());
        assert_eq!(b.storage().finalized().expect("read"), Some(3));
        root_ok(&b);
    }

    #[test]
    fn block_rlp_round_trips() {
        let header = Header { number: 3, gas_limit: 30_000_000, ..Default::default() };
        let block = Block { header: header.seal_slow(), transactions: vec![], senders: vec![] };
        let raw = encode_block(&block);
        let back = decode_block(&raw).expect("decodes");
        assert_eq!(back.header.hash(), block.header.hash());
        assert!(decode_block(&raw[..raw.len() - 1]).is_err());
    }
}

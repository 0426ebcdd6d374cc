//! Node assembly for dbc-node: opens storage, initialises the genesis, rebuilds the state trie,
//! starts the RPC servers and runs block production through a [`ConsensusEngine`].
//!
//! Data flow: RPC `eth_sendRawTransaction` → [`TxValidator`] → [`TxPool`] → engine slot →
//! [`build_block`] (revm) → state trie → [`Storage::commit_block`] (one write batch) →
//! [`CanonChain`] notifications → RPC subscriptions and filters.

use alloy_primitives::{Address, B256};
use dbc_chainspec::ChainSpec;
use dbc_consensus::ConsensusEngine;
use dbc_evm::{BlockAttributes, PayloadTransactions, build_block, next_base_fee};
use dbc_primitives::{Block, Recovered, Sealable, TxEnvelope};
use dbc_rpc::{RpcConfig, RpcContext, RpcServerHandles};
use dbc_storage::{AccountChange, CanonChain, StateChangeset, Storage};
use dbc_trie::{AccountLeaf, AccountUpdate, StateTrie};
use dbc_txpool::{BestTransactions, PoolConfig, TxPool, TxValidator};
use parking_lot::Mutex;

pub mod dev;
pub mod overlay;
pub mod persist;
pub mod pos;
mod streaming;
mod trie_undo;
pub use dbc_storage::chain::ChainEvent;
pub use pos::{PosConfig, block_rlp, decode_block, encode_block};
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};
use tracing::{error, info, warn};

/// Node errors.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] dbc_storage::StorageError),
    /// The data directory holds another chain.
    #[error("datadir holds a different chain: genesis {found}, expected {expected}")]
    GenesisMismatch {
        /// Genesis hash found.
        found: B256,
        /// Genesis hash of the chain spec.
        expected: B256,
    },
    /// State does not match the head header.
    #[error("state root mismatch at head {number}: computed {computed}, header {header}")]
    StateRootMismatch {
        /// Head number.
        number: u64,
        /// Root from the plain state.
        computed: B256,
        /// Root in the header.
        header: B256,
    },
    /// RPC server failed to start.
    #[error("rpc: {0}")]
    Rpc(String),
    /// Block production failed.
    #[error("block production: {0}")]
    Production(String),
    /// The stored state trie could not be read.
    #[error(transparent)]
    Trie(#[from] dbc_trie::TrieError),
}

/// Node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Data directory.
    pub datadir: PathBuf,
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// RPC servers.
    pub rpc: RpcConfig,
    /// Pool limits.
    pub pool: PoolConfig,
    /// Gas limit of produced blocks (defaults to the genesis gas limit).
    pub gas_limit: Option<u64>,
    /// Memory for caches.
    pub cache: CacheConfig,
}

/// What the node keeps in memory: the database's block cache and the state trie's nodes.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// RocksDB's block cache, shared by every table, in bytes.
    pub db_bytes: usize,
    /// State-trie nodes kept in memory past a commit before the trie is unloaded to its top
    /// [`TRIE_KEEP_DEPTH`] levels.
    pub trie_nodes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { db_bytes: dbc_storage::DEFAULT_BLOCK_CACHE, trie_nodes: TRIE_RESIDENT_NODES }
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    /// The chain.
    pub chain: Arc<CanonChain>,
    /// The pool.
    pub pool: Arc<TxPool>,
    /// RPC servers.
    pub rpc: RpcServerHandles,
    /// Peer and sync counters (proof of stake; `None` on the dev chain).
    pub net: Option<Arc<dbc_rpc::NetInfo>>,
    producer: tokio::task::JoinHandle<Result<(), NodeError>>,
}

impl Node {
    /// Waits until block production stops (it only stops on a fatal error).
    pub async fn wait(self) -> Result<(), NodeError> {
        match self.producer.await {
            Ok(r) => r,
            Err(e) => Err(NodeError::Production(e.to_string())),
        }
    }
}

/// Writes the genesis block into an empty database, or checks that the database holds this
/// chain. Returns the storage's head.
pub fn init_genesis(storage: &Storage, spec: &ChainSpec) -> Result<u64, NodeError> {
    let genesis_header = spec.genesis_header();
    let expected = genesis_header.hash_slow();
    if let Some(head) = storage.head_number()? {
        let found = storage.block_hash(0)?.unwrap_or_default();
        if found != expected {
            return Err(NodeError::GenesisMismatch { found, expected });
        }
        return Ok(head);
    }
    let mut changes = StateChangeset::default();
    for acc in spec.genesis_accounts() {
        if let Some(code) = &acc.code {
            changes.bytecodes.push((acc.account.code_hash, code.clone()));
        }
        changes.accounts.push(AccountChange {
            address: acc.address,
            before: None,
            after: Some(acc.account),
            wiped: false,
            storage: acc
                .storage
                .iter()
                .map(|(k, v)| dbc_storage::SlotChange {
                    slot: *k,
                    before: Default::default(),
                    after: *v,
                })
                .collect(),
        });
    }
    let block = Block { header: genesis_header.seal_slow(), transactions: vec![], senders: vec![] };
    storage.commit_block(&block, &[], &changes)?;
    info!(target: "dbc::node", hash = %expected, accounts = changes.accounts.len(), "wrote genesis");
    Ok(0)
}

/// Trie nodes loaded or created after which a committed block's trie is unloaded down to
/// [`TRIE_KEEP_DEPTH`] levels, by default (on the 10M-account state, 448 bytes a node measured at
/// the limit: ~860 MiB; `dbc-bench state --blocks 100`).
pub const TRIE_RESIDENT_NODES: usize = 2_000_000;
/// Levels of the account trie kept in memory after an unload (16⁴ = 65,536 branches at most).
pub const TRIE_KEEP_DEPTH: usize = 4;

/// Builds the state trie from the plain state and stores it whole (replacing whatever the
/// trie tables held): the first start of a data directory written before the trie was
/// stored, or a start after a crash between an unwind and its trie write.
pub fn rebuild_trie(storage: &Storage) -> Result<StateTrie, NodeError> {
    let mut trie = build_trie(storage)?;
    storage.write_trie(&trie.take_updates())?;
    trie.set_source(Arc::new(storage.clone()));
    trie.set_resident_limit(TRIE_RESIDENT_NODES);
    trie.unload(TRIE_KEEP_DEPTH);
    Ok(trie)
}

/// The head's state trie: the stored one if it is the head's, else rebuilt from the plain
/// state and stored.
pub fn open_trie(
    storage: &Storage,
    head: &dbc_primitives::SealedHeader,
) -> Result<StateTrie, NodeError> {
    if storage.trie_root()? == Some(head.state_root) {
        let mut trie = StateTrie::open(Arc::new(storage.clone()), head.state_root);
        trie.set_resident_limit(TRIE_RESIDENT_NODES);
        return Ok(trie);
    }
    let mut trie = rebuild_trie(storage)?;
    let computed = trie.root();
    if computed != head.state_root {
        return Err(NodeError::StateRootMismatch {
            number: head.number,
            computed,
            header: head.state_root,
        });
    }
    Ok(trie)
}

/// A trie left incomplete by a failed update (a stored node unreadable, a failed restore) is
/// opened again: from the stored trie if it is the storage head's, else rebuilt from the plain
/// state. Its memory limit carries over.
pub(crate) fn recover_trie(trie: &mut StateTrie, storage: &Storage) -> Result<(), NodeError> {
    if trie.is_poisoned() {
        reset_trie(trie, storage)?;
    }
    Ok(())
}

/// Replaces `trie` by the storage head's (see [`recover_trie`]).
pub(crate) fn reset_trie(trie: &mut StateTrie, storage: &Storage) -> Result<(), NodeError> {
    let limit = trie.resident_limit();
    let number = storage.head_number()?.unwrap_or(0);
    let head = storage
        .header(number)?
        .ok_or_else(|| NodeError::Production(format!("missing head header {number}")))?;
    *trie = match storage.trie_root()? {
        Some(root) if root == head.state_root => trie.reopened(root)?,
        _ => {
            warn!(target: "dbc::node", head = number, "rebuilding the state trie from the plain state");
            open_trie(storage, &head)?
        }
    };
    if let Some(limit) = limit {
        trie.set_resident_limit(limit);
    }
    Ok(())
}

/// Stores `trie`'s updates since the last write on their own (after an unwind moved it), then
/// unloads it if it grew.
pub(crate) fn store_trie(trie: &mut StateTrie, storage: &Storage) -> Result<(), NodeError> {
    let updates = trie.take_updates();
    match storage.write_trie(&updates) {
        Ok(written) => trie_written(trie, storage, written),
        Err(e) => {
            trie.restore_updates(updates);
            Err(e.into())
        }
    }
}

/// After a write of `trie`'s updates: unloads it if it grew, or, if the stored trie was not
/// the one they built on (never in a correct run), rebuilds it so that it is stored again.
pub(crate) fn trie_written(
    trie: &mut StateTrie,
    storage: &Storage,
    written: dbc_storage::TrieWrite,
) -> Result<(), NodeError> {
    if written == dbc_storage::TrieWrite::Stale {
        warn!(target: "dbc::node", "the stored state trie was not the one this node's updates build on");
        return reset_trie(trie, storage);
    }
    after_commit(trie);
    Ok(())
}

/// Bounds the trie's memory once a block's updates are stored.
pub fn after_commit(trie: &mut StateTrie) {
    if trie.over_limit() {
        trie.unload(TRIE_KEEP_DEPTH);
    }
}

/// Builds the state trie in memory from the plain state.
pub fn build_trie(storage: &Storage) -> Result<StateTrie, NodeError> {
    let mut trie = StateTrie::new();
    let mut updates = Vec::new();
    let mut failed = None;
    storage.for_each_account(|address, account, storage| {
        updates.push((
            address,
            AccountUpdate {
                info: Some(AccountLeaf {
                    nonce: account.nonce,
                    balance: account.balance,
                    code_hash: account.code_hash,
                }),
                wipe_storage: false,
                storage: storage
                    .into_iter()
                    .map(|(k, v)| (alloy_primitives::U256::from_be_bytes(k.0), v))
                    .collect(),
                absent_before: false,
            },
        ));
        if updates.len() >= 10_000 {
            failed = failed.take().or(trie.apply(std::mem::take(&mut updates)).err());
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    trie.apply(updates)?;
    Ok(trie)
}

/// Updates the pool and the canonical-chain notifications after `executed` was committed, and
/// logs it.
pub(crate) fn finish_block(
    chain: &CanonChain,
    pool: &TxPool,
    executed: dbc_evm::ExecutedBlock,
    started: Instant,
    commit: std::time::Duration,
    what: &'static str,
) {
    let mut senders: Vec<(Address, u64)> = executed
        .changes
        .accounts
        .iter()
        .filter_map(|a| a.after.map(|acc| (a.address, acc.nonce)))
        .collect();
    senders.sort_unstable();
    pool.on_new_block(senders, executed.rejected.iter().map(|r| r.hash));
    for r in &executed.rejected {
        warn!(target: "dbc::node", hash = %r.hash, sender = %r.sender, reason = %r.reason, "dropped transaction");
    }
    let header = executed.block.header.clone();
    let txs = executed.block.transactions.len();
    record_block(what, &executed.timings, commit, started.elapsed(), txs, header.gas_used);
    chain.on_committed(executed.block, executed.receipts);
    info!(
        target: "dbc::node",
        number = header.number,
        hash = %header.hash(),
        txs,
        gas_used = header.gas_used,
        base_fee = header.base_fee_per_gas.unwrap_or_default(),
        exec_ms = executed.timings.execution.as_secs_f64() * 1e3,
        root_ms = executed.timings.state_root.as_secs_f64() * 1e3,
        commit_ms = commit.as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "{what}"
    );
}

/// Records a committed block in the metrics (`--metrics`): its time by phase, transactions
/// and gas, labelled by how it came (`what`: sealed, imported, mined, ...).
fn record_block(
    what: &'static str,
    timings: &dbc_evm::BuildTimings,
    commit: std::time::Duration,
    total: std::time::Duration,
    txs: usize,
    gas_used: u64,
) {
    metrics::counter!("dbc_blocks_total", "kind" => what).increment(1);
    metrics::counter!("dbc_transactions_total").increment(txs as u64);
    metrics::histogram!("dbc_block_execution_seconds", "kind" => what)
        .record(timings.execution.as_secs_f64());
    metrics::histogram!("dbc_block_state_root_seconds", "kind" => what)
        .record(timings.state_root.as_secs_f64());
    metrics::histogram!("dbc_block_commit_seconds", "kind" => what).record(commit.as_secs_f64());
    metrics::histogram!("dbc_block_total_seconds", "kind" => what).record(total.as_secs_f64());
    metrics::histogram!("dbc_block_transactions", "kind" => what).record(txs as f64);
    metrics::gauge!("dbc_block_gas_used").set(gas_used as f64);
}

/// Builds the block after `parent` from the pool's best transactions and seals it with
/// `engine`. With `until` (the slot's end and a stop flag), the slot is still running:
/// transactions that become pending before then are executed as they arrive (see
/// [`streaming`]), a block that fills up early is sealed at the slot's end (blocks keep the
/// cadence and their timestamps never run ahead of the clock), and once the flag is set the
/// build is abandoned: nothing is sealed, the trie is put back and `None` is returned. A build
/// failure leaves the trie untouched (its update is the build's last step); a refused seal puts
/// back only the keys the block touched.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_sealed<E: ConsensusEngine>(
    engine: &E,
    spec: &ChainSpec,
    parent: &dbc_primitives::SealedHeader,
    storage: &Storage,
    pool: &TxPool,
    attrs: BlockAttributes,
    trie: &mut StateTrie,
    until: Option<(Instant, &AtomicBool)>,
) -> Result<Option<dbc_evm::ExecutedBlock>, NodeError> {
    // At most what fits in the block: the builder sizes buffers and prefetches accounts for it.
    let fits = (attrs.gas_limit / 21_000) as usize;
    let hint = pool.status().pending.min(fits);
    let base_fee = next_base_fee(parent.inner());
    let mut best;
    let mut streaming;
    let payload: &mut dyn PayloadTransactions = match until {
        Some((deadline, stop)) => {
            streaming = streaming::StreamingPayload::new(pool, base_fee, hint, deadline, stop);
            &mut streaming
        }
        None => {
            best = PoolPayload { best: pool.best(base_fee), pool, hint };
            &mut best
        }
    };
    // On error `build_block` has not touched the trie (its update is the last step) or left it
    // incomplete (a stored node unreadable), and then it is opened again.
    recover_trie(trie, storage)?;
    let built = build_block(spec, parent, storage.latest(), attrs, payload, trie);
    let mut executed = match built {
        Ok(e) => e,
        Err(e) => {
            recover_trie(trie, storage)?;
            return Err(NodeError::Production(e.to_string()));
        }
    };
    let drop_block = |executed: &dbc_evm::ExecutedBlock, trie: &mut StateTrie| {
        let mut touched = trie_undo::Touched::default();
        touched.add_changes(&executed.changes);
        touched.restore(trie, storage)
    };
    if let Some((deadline, stop)) = until {
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(STOP_POLL.min(deadline - Instant::now()));
        }
        if stop.load(Ordering::Relaxed) {
            drop_block(&executed, trie)?;
            return Ok(None);
        }
    }
    match engine.seal(executed.block.header.inner().clone()) {
        Ok(sealed) => {
            executed.block.header = sealed.seal_slow();
            Ok(Some(executed))
        }
        Err(e) => {
            // Not sealed (e.g. the slot was already sealed before a restart): the block is
            // dropped and the trie put back to the head.
            drop_block(&executed, trie)?;
            Err(NodeError::Production(e.to_string()))
        }
    }
}

/// Commits `executed` ([`commit_or_restore`]) and moves the head to it ([`finish_block`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_and_finish(
    chain: &CanonChain,
    pool: &TxPool,
    storage: &Storage,
    executed: dbc_evm::ExecutedBlock,
    trie: &mut StateTrie,
    started: Instant,
    what: &'static str,
) -> Result<(), NodeError> {
    let commit_started = Instant::now();
    commit_or_restore(storage, &executed, trie)?;
    finish_block(chain, pool, executed, started, commit_started.elapsed(), what);
    Ok(())
}

/// Commits `executed` in one write batch; if that fails the trie (already updated for the
/// block) is put back to the storage's head.
pub(crate) fn commit_or_restore(
    storage: &Storage,
    executed: &dbc_evm::ExecutedBlock,
    trie: &mut StateTrie,
) -> Result<(), NodeError> {
    let updates = trie.take_updates();
    match storage.commit_executed(
        &executed.block,
        &executed.receipts,
        &executed.hook_logs,
        &executed.changes,
        Some(&updates),
    ) {
        Ok(written) => trie_written(trie, storage, written)?,
        Err(e) => {
            trie.restore_updates(updates);
            // Put the trie back to the storage's head: O(what the block touched).
            let mut touched = trie_undo::Touched::default();
            touched.add_changes(&executed.changes);
            touched.restore(trie, storage)?;
            return Err(e.into());
        }
    }
    Ok(())
}

/// Pool transactions as the block builder consumes them, best first.
pub(crate) struct PoolPayload<'a> {
    best: BestTransactions<'a>,
    pool: &'a TxPool,
    /// Pending transactions that fit in the block.
    hint: usize,
}

impl PayloadTransactions for PoolPayload<'_> {
    fn next_tx(&mut self) -> Option<Recovered<TxEnvelope>> {
        self.best.next_tx().map(|t| t.tx.clone())
    }

    fn skip_sender(&mut self, sender: Address) {
        self.best.skip_sender(sender)
    }

    fn size_hint(&self) -> usize {
        self.hint
    }

    fn prefetch(&self) -> Vec<Address> {
        pending_accounts(self.pool, self.hint)
    }
}

/// The senders and recipients of up to `limit` pending transactions, in about the order a
/// block executes them: what the builder reads ahead (see `BlockState::with_prefetch`).
pub(crate) fn pending_accounts(pool: &TxPool, limit: usize) -> Vec<Address> {
    let txs = pool.pending_by_arrival(limit);
    dbc_evm::touched_accounts(txs.iter().map(|t| &t.tx))
}

struct Opened {
    chain: Arc<CanonChain>,
    pool: Arc<TxPool>,
    validator: TxValidator,
    trie: StateTrie,
}

fn open(config: &NodeConfig) -> Result<Opened, NodeError> {
    std::fs::create_dir_all(&config.datadir).map_err(|e| NodeError::Production(e.to_string()))?;
    let storage = Storage::open_with_cache(config.datadir.join("db"), config.cache.db_bytes)?;
    let head_number = init_genesis(&storage, &config.spec)?;
    let head = storage
        .header(head_number)?
        .ok_or_else(|| NodeError::Production(format!("missing head header {head_number}")))?;

    let started = Instant::now();
    let stored = storage.trie_root()?;
    let mut trie = open_trie(&storage, &head)?;
    trie.set_resident_limit(config.cache.trie_nodes);
    info!(
        target: "dbc::node",
        head = head_number,
        hash = %head.hash(),
        state_root = %head.state_root,
        elapsed = ?started.elapsed(),
        "{}",
        if stored == Some(head.state_root) {
            "stored state trie opened"
        } else {
            "state trie built from the plain state, checked and stored"
        }
    );
    let chain = Arc::new(CanonChain::new(storage.clone(), head));
    let pool = Arc::new(TxPool::new(config.pool.clone()));
    let validator = TxValidator::new(config.spec.clone(), storage);
    Ok(Opened { chain, pool, validator, trie })
}

/// Opens storage, initialises genesis, starts RPC and block production with `engine`.
pub async fn launch<E: ConsensusEngine>(config: NodeConfig, engine: E) -> Result<Node, NodeError> {
    let Opened { chain, pool, validator, trie } = open(&config)?;
    let ctx = RpcContext::new(config.spec.clone(), chain.clone(), pool.clone(), validator);
    let rpc = dbc_rpc::start(&config.rpc, ctx).await.map_err(|e| NodeError::Rpc(e.to_string()))?;

    let gas_limit = config.gas_limit.unwrap_or(config.spec.genesis.gas_limit);
    let producer = tokio::spawn(produce(
        engine,
        config.spec.clone(),
        chain.clone(),
        pool.clone(),
        Arc::new(Mutex::new(trie)),
        gas_limit,
    ));
    Ok(Node { chain, pool, rpc, net: None, producer })
}

/// Opens storage and starts a dev chain sealed by `engine`, with the dev methods
/// (`anvil_mine`, `evm_snapshot`, `eth_sendTransaction` from the dev accounts, ...; see
/// [`dev`]).
pub async fn launch_dev(
    config: NodeConfig,
    engine: dbc_consensus::DevEngine,
    accounts: usize,
) -> Result<Node, NodeError> {
    let Opened { chain, pool, validator, trie } = open(&config)?;
    let engine = Arc::new(engine);
    let trie = Arc::new(Mutex::new(trie));
    let gas_limit = config.gas_limit.unwrap_or(config.spec.genesis.gas_limit);
    let control = Arc::new(dev::DevControl::new(
        config.spec.clone(),
        chain.clone(),
        pool.clone(),
        trie.clone(),
        engine.clone(),
        gas_limit,
    ));
    let signers =
        dbc_chainspec::dev_signers(accounts).map_err(|e| NodeError::Production(e.to_string()))?;
    let ctx = RpcContext::new(config.spec.clone(), chain.clone(), pool.clone(), validator)
        .with_dev(dbc_rpc::DevRpc::new(control, signers));
    let rpc = dbc_rpc::start(&config.rpc, ctx).await.map_err(|e| NodeError::Rpc(e.to_string()))?;
    let producer = tokio::spawn(produce(
        engine,
        config.spec.clone(),
        chain.clone(),
        pool.clone(),
        trie,
        gas_limit,
    ));
    Ok(Node { chain, pool, rpc, net: None, producer })
}

/// Opens storage and starts a proof-of-stake node: p2p networking, sync, finality votes, RPC
/// and, with a validator key, block production.
pub async fn launch_pos(config: NodeConfig, pos: PosConfig) -> Result<Node, NodeError> {
    let Opened { chain, pool, validator, trie } = open(&config)?;
    let info = Arc::new(dbc_rpc::NetInfo::default());
    let gas_limit = config.gas_limit.unwrap_or(config.spec.genesis.gas_limit);
    let (node, producer) = pos::start(
        pos,
        config.spec.clone(),
        chain.clone(),
        pool.clone(),
        validator.clone(),
        Arc::new(Mutex::new(trie)),
        info.clone(),
        gas_limit,
        &config.datadir,
    )
    .await?;
    let gossip = node.clone();
    let ctx = RpcContext::new(config.spec.clone(), chain.clone(), pool.clone(), validator)
        .with_network(info.clone(), Arc::new(move |raw: &[u8]| gossip.gossip_tx(raw)));
    let rpc = dbc_rpc::start(&config.rpc, ctx).await.map_err(|e| NodeError::Rpc(e.to_string()))?;
    Ok(Node { chain, pool, rpc, net: Some(info), producer })
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How often a producer waiting for its slot's end checks whether the node is shutting down.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(10);

async fn produce<E: ConsensusEngine>(
    engine: E,
    spec: Arc<ChainSpec>,
    chain: Arc<CanonChain>,
    pool: Arc<TxPool>,
    trie: Arc<Mutex<StateTrie>>,
    gas_limit: u64,
) -> Result<(), NodeError> {
    let engine = Arc::new(engine);
    // Dropped with this future when the node shuts down: a block being built during its slot
    // then ends at once and is not committed.
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    loop {
        let parent = chain.head();
        // With a slot known in advance, build while it runs; otherwise wait for it.
        let (slot, until) = match engine.open_slot(&parent) {
            Some((slot, ends)) => (slot, Some(ends.into_std())),
            None => (engine.next_slot(&parent, &pool).await, None),
        };
        let (spec, chain2, pool2, trie2, engine2) =
            (spec.clone(), chain.clone(), pool.clone(), trie.clone(), engine.clone());
        let stop = stop.0.clone();
        let result = tokio::task::spawn_blocking(move || {
            let opened = Instant::now();
            let attrs = BlockAttributes {
                timestamp: slot.timestamp,
                beneficiary: slot.beneficiary,
                extra_data: slot.extra_data,
                gas_limit,
                staking_hook: slot.staking_hook,
                prev_randao: slot.prev_randao,
            };
            let storage = chain2.storage().clone();
            let mut trie = trie2.lock();
            // The dev methods (`anvil_mine`, ...) may have moved the head since the slot opened:
            // that slot is dropped and the next one opens on the new head.
            if chain2.head().hash() != parent.hash() {
                return Ok(());
            }
            let Some(executed) = build_sealed(
                &*engine2,
                &spec,
                &parent,
                &storage,
                &pool2,
                attrs,
                &mut trie,
                until.map(|u| (u, &*stop)),
            )?
            else {
                // Shutting down mid-slot: the slot has not ended, so its block is dropped, as the
                // pool (not persisted) is.
                return Ok(());
            };
            // Logged times count from the end of the slot (or from its start when the block is
            // built after it).
            let started = until.map_or(opened, |u| u.min(Instant::now()));
            let commit_started = Instant::now();
            commit_or_restore(&storage, &executed, &mut trie)?;
            // The head moves while the trie lock is held (security review M7): an import that
            // takes the lock next sees the new head, never storage ahead of `chain.head()`.
            finish_block(
                &chain2,
                &pool2,
                executed,
                started,
                commit_started.elapsed(),
                "block sealed",
            );
            drop(trie);
            Ok::<_, NodeError>(())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                error!(target: "dbc::node", error = %e, "block production failed");
                return Err(e);
            }
            Err(e) => return Err(NodeError::Production(e.to_string())),
        }
    }
}

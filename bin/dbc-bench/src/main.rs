//! `dbc-bench market`: gas and time per GPU-market transaction. `dbc-bench import`: native-transfer blocks executed **and committed** (state root, RocksDB
//! write batch) per second by dbc-node's pipeline, next to the same transactions executed by
//! bare revm on an in-memory database, and their ratio.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_evm::{Evm, EvmFactory, FromRecoveredTx, eth::EthEvmFactory};
use alloy_primitives::{Address, B256, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use clap::Parser;
use dbc_chainspec::ChainSpec;
use dbc_evm::{BlockAttributes, TxList, build_block, next_evm_env};
use dbc_node_lib::{init_genesis, rebuild_trie};
use dbc_primitives::Recovered;
use dbc_storage::Storage;
use rayon::prelude::*;
use revm::{
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    state::AccountInfo,
};
use std::time::{Duration, Instant};

mod load;
mod market;
mod network;
mod state;
mod sync;

#[derive(Debug, Parser)]
#[command(name = "dbc-bench", about = "dbc-node benchmarks")]
enum Cmd {
    /// End-to-end load against a running node (dbc-node or anvil).
    Load(load::LoadArgs),
    /// A steady flood through one node of a proof-of-stake network (`scripts/bench-network.sh`):
    /// end-to-end transfers/s, block fullness, time to finality, CPU per node.
    Network(network::NetworkArgs),
    /// Gas and time per GPU-market transaction (rent, heartbeat) vs a transfer.
    Market(market::MarketArgs),
    /// A fresh node syncing a proof-of-stake chain from a peer over libp2p.
    Sync(sync::SyncArgs),
    /// A large state: start-up, import touching random accounts, proofs, memory and disk,
    /// beside the same on a small state.
    State(state::StateArgs),
    /// Block import of native transfers vs bare revm.
    Import {
        /// Distinct senders.
        #[arg(long, default_value_t = 1000)]
        senders: usize,
        /// Transactions per block.
        #[arg(long, default_value_t = 10_000)]
        txs_per_block: usize,
        /// Blocks.
        #[arg(long, default_value_t = 10)]
        blocks: usize,
        /// Rounds of bare revm then the import, alternating in this process; past one, each
        /// round's ratios and their median are printed too (this machine's speed swings
        /// between runs).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Keccak-256 of many messages: one at a time (alloy's) against at most four and at most
    /// eight at a time (`dbc_trie::keccak::keccak256_many_at_most`), for message lengths a
    /// block hashes.
    Keccak {
        /// Messages per round.
        #[arg(long, default_value_t = 40_000)]
        messages: usize,
        /// Rounds (each alternating the three widths).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
}

/// [`Cmd::Keccak`]: for a transfer's account leaf (~110 bytes, one block), a receipt (~280
/// bytes, three blocks) and a full branch (532 bytes, four blocks), µs a message at each width.
fn keccak_bench(messages: usize, rounds: usize) -> eyre::Result<()> {
    use dbc_trie::keccak::{Width, keccak256_many_at_most};
    for (what, len) in [("account leaf", 110), ("receipt", 280), ("full branch", 532)] {
        let data: Vec<Vec<u8>> =
            (0..messages).map(|k| (0..len).map(|i| (i * 7 + k * 13) as u8).collect()).collect();
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        for _ in 0..rounds {
            let mut per = Vec::new();
            for width in [Width::One, Width::Four, Width::Eight] {
                let started = Instant::now();
                let hashes = keccak256_many_at_most(&refs, width);
                per.push(started.elapsed().as_secs_f64() * 1e6 / messages as f64);
                eyre::ensure!(
                    hashes.iter().zip(&refs).all(|(h, m)| *h == keccak256(m)),
                    "{width:?} hashed differently from keccak256"
                );
            }
            println!(
                "{what:>12} ({len} bytes), µs a message: one at a time {:.3}, at most four {:.3} ({:.2}x), at most eight {:.3} ({:.2}x)",
                per[0],
                per[1],
                per[0] / per[1],
                per[2],
                per[0] / per[2]
            );
        }
    }
    Ok(())
}

struct Workload {
    spec: ChainSpec,
    blocks: Vec<Vec<Recovered<TxEnvelope>>>,
}

impl Workload {
    /// Attributes of the `i`-th benchmark block (identical for both runs).
    fn attrs(&self, i: usize) -> BlockAttributes {
        BlockAttributes {
            timestamp: 1_000 + i as u64,
            beneficiary: Address::ZERO,
            extra_data: Default::default(),
            gas_limit: self.spec.genesis.gas_limit,
            staking_hook: None,
            prev_randao: None,
        }
    }
}

fn workload(senders: usize, txs_per_block: usize, blocks: usize) -> eyre::Result<Workload> {
    workload_on(ChainSpec::dev(10)?, senders, txs_per_block, blocks)
}

/// The recipient of the `i`-th transfer overall: a fresh account each time.
pub(crate) fn fresh_recipient(i: usize) -> Address {
    Address::from_word(keccak256(i.to_be_bytes()))
}

/// Funds `senders` bench accounts in `spec` and signs the blocks' transfers, each to a fresh
/// account.
fn workload_on(
    spec: ChainSpec,
    senders: usize,
    txs_per_block: usize,
    blocks: usize,
) -> eyre::Result<Workload> {
    workload_to(spec, senders, txs_per_block, blocks, &fresh_recipient)
}

/// [`workload_on`] with the `i`-th transfer overall sent to `recipient(i)`.
pub(crate) fn workload_to(
    mut spec: ChainSpec,
    senders: usize,
    txs_per_block: usize,
    blocks: usize,
    recipient: &(dyn Fn(usize) -> Address + Sync),
) -> eyre::Result<Workload> {
    let keys: Vec<PrivateKeySigner> = (0..senders)
        .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("dbc-bench-{i}"))))
        .collect::<Result<_, _>>()?;
    for k in &keys {
        spec.genesis.alloc.insert(
            k.address(),
            alloy_genesis::GenesisAccount {
                balance: U256::from(10u128.pow(24)),
                ..Default::default()
            },
        );
    }
    // Blocks at the EIP-1559 target (half the limit): the base fee stays where it is however
    // many blocks there are, so the transactions' fixed fee cap always suffices.
    spec.genesis.gas_limit = (2 * txs_per_block as u64 * 21_000).max(30_000_000) + 1_000_000;
    let chain_id = spec.chain_id;
    let per_sender = txs_per_block.div_ceil(senders);
    let blocks: Vec<Vec<Recovered<TxEnvelope>>> = (0..blocks)
        .map(|b| {
            let mut txs: Vec<Recovered<TxEnvelope>> = (0..txs_per_block)
                .into_par_iter()
                .map(|i| {
                    let s = i % senders;
                    let nonce = (b * per_sender + i / senders) as u64;
                    let tx = TxEip1559 {
                        chain_id,
                        nonce,
                        gas_limit: 21_000,
                        max_fee_per_gas: 100_000_000_000,
                        max_priority_fee_per_gas: 1_000_000_000,
                        to: TxKind::Call(recipient(b * txs_per_block + i)),
                        value: U256::from(1),
                        ..Default::default()
                    };
                    let sig = keys[s].sign_hash_sync(&tx.signature_hash()).expect("sign");
                    let tx = Recovered::new_unchecked(
                        TxEnvelope::Eip1559(tx.into_signed(sig)),
                        keys[s].address(),
                    );
                    // Hashed here, as the node's pool (at intake) and a peer's block (at
                    // decoding) have their transactions hashed before import: the import's
                    // commit would otherwise hash them (2.5% of its samples).
                    tx.inner().tx_hash();
                    tx
                })
                .collect();
            // Keep each sender's nonces in order within the block.
            txs.sort_by_key(|t| (alloy_consensus::Transaction::nonce(t.inner()), t.signer()));
            txs
        })
        .collect();
    Ok(Workload { spec, blocks })
}

/// Builds the block after `parent` from exactly `txs` (every one must be included).
fn build_all(
    spec: &ChainSpec,
    parent: &dbc_primitives::SealedHeader,
    state: impl dbc_storage::StateReader,
    attrs: BlockAttributes,
    txs: Vec<Recovered<TxEnvelope>>,
    trie: &mut dbc_trie::StateTrie,
) -> eyre::Result<dbc_evm::ExecutedBlock> {
    let offered = txs.len();
    let executed = build_block(spec, parent, state, attrs, &mut TxList::new(txs), trie)?;
    eyre::ensure!(
        executed.block.transactions.len() == offered,
        "only {} of {} included: {:?}",
        executed.block.transactions.len(),
        offered,
        executed.rejected.first()
    );
    Ok(executed)
}

/// Per block: execution, state root, commit and the rest of the block's own thread (waiting
/// for the trie's paths to load, the other roots).
type BlockTimes = (Duration, Duration, Duration, Duration);

/// The node's import of `w`: wall time, each block's stage times, and the CPU time of the
/// whole process (every thread, RocksDB's own included) while it ran.
fn run_node(w: &Workload) -> eyre::Result<(Duration, Vec<BlockTimes>, Duration)> {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    init_genesis(&storage, &w.spec)?;
    let mut trie = rebuild_trie(&storage)?;
    let parent = storage.header(0)?.ok_or_else(|| eyre::eyre!("no genesis"))?;
    // The node owns the transactions it imports (decoded from a peer's body): copies made
    // before the clock and the CPU count start.
    let lists = w.blocks.clone();
    let cpu = process_cpu();
    let (wall, parts) = import_blocks(w, lists, &storage, &mut trie, parent, 0)?;
    Ok((wall, parts, process_cpu().saturating_sub(cpu)))
}

/// CPU time used by this process so far (user and system, all threads), from
/// `/proc/self/stat` in clock ticks of 10 ms (Linux's fixed `USER_HZ`); zero elsewhere.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) start with the state; user
    // and system time are the 12th and 13th of them.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 =
        rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks.saturating_mul(10))
}

/// [`run_node`] without storing the trie (the trie in memory only, as before it was stored):
/// what storing it costs.
fn run_node_unstored(w: &Workload) -> eyre::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    init_genesis(&storage, &w.spec)?;
    let mut trie = dbc_node_lib::build_trie(&storage)?;
    let mut parent = storage.header(0)?.ok_or_else(|| eyre::eyre!("no genesis"))?;
    // The node owns the transactions it imports: copies made before the clock starts.
    let lists = w.blocks.clone();
    let started = Instant::now();
    for (i, txs) in lists.into_iter().enumerate() {
        let executed = build_all(&w.spec, &parent, storage.latest(), w.attrs(i), txs, &mut trie)?;
        storage.commit_block(&executed.block, &executed.receipts, &executed.changes)?;
        parent = executed.block.header;
    }
    Ok(started.elapsed())
}

/// Imports `w`'s blocks on `parent` as the node's sync does (execute, root, commit with the
/// trie's node writes in the block's batch, unload past the memory bound), each block's commit
/// running while the next one executes (`dbc_node_lib::persist`); the first is the workload's
/// block `first`, and `lists` holds the transactions of blocks `first..`, owned as the node
/// owns those it imports. Per block: execution, state root and the commit's own time.
pub(crate) fn import_blocks(
    w: &Workload,
    lists: Vec<Vec<Recovered<TxEnvelope>>>,
    storage: &Storage,
    trie: &mut dbc_trie::StateTrie,
    mut parent: dbc_primitives::SealedHeader,
    first: usize,
) -> eyre::Result<(Duration, Vec<BlockTimes>)> {
    let mut parts = Vec::new();
    let mut persist = dbc_node_lib::persist::Persister::<()>::new(storage.clone());
    let record = |parts: &mut Vec<BlockTimes>, c: dbc_node_lib::persist::Committed<()>| {
        let t = &c.executed.timings;
        parts.push((t.execution, t.state_root, c.commit, t.other));
    };
    let started = Instant::now();
    for (i, txs) in lists.into_iter().enumerate() {
        let i = i + first;
        let attrs = w.attrs(i);
        let block_started = Instant::now();
        let executed = build_all(&w.spec, &parent, persist.state()?, attrs, txs, trie)?;
        parent = executed.block.header.clone();
        persist.submit(executed, trie, block_started, ())?;
        for c in persist.take_finished() {
            record(&mut parts, c);
        }
    }
    persist.wait(trie)?;
    for c in persist.take_finished() {
        record(&mut parts, c);
    }
    Ok((started.elapsed(), parts))
}

/// A state reader over a hash map (no database): isolates the block executor's own cost.
#[derive(Debug)]
struct MemState(std::collections::HashMap<Address, dbc_primitives::StoredAccount>);

impl dbc_storage::StateReader for MemState {
    fn account(
        &self,
        address: Address,
    ) -> dbc_storage::Result<Option<dbc_primitives::StoredAccount>> {
        Ok(self.0.get(&address).copied())
    }
    fn storage(&self, _: Address, _: B256) -> dbc_storage::Result<U256> {
        Ok(U256::ZERO)
    }
    fn code(&self, _: B256) -> dbc_storage::Result<Option<alloy_primitives::Bytes>> {
        Ok(None)
    }
    fn block_hash(&self, _: u64) -> dbc_storage::Result<Option<B256>> {
        Ok(None)
    }
}

/// Execution time of each block of `w` through `build_block` over an in-memory reader (no
/// RocksDB, no prefetch, nothing else running): the block executor's own cost, next to which
/// the import's execution shows what reading the state and sharing the cores add.
fn run_executor_in_memory(w: &Workload) -> eyre::Result<Vec<Duration>> {
    let mut state =
        MemState(w.spec.genesis_accounts().into_iter().map(|a| (a.address, a.account)).collect());
    let mut parent = alloy_consensus::Sealable::seal_slow(w.spec.genesis_header());
    let mut times = Vec::with_capacity(w.blocks.len());
    for (i, txs) in w.blocks.iter().enumerate() {
        let mut trie = dbc_trie::StateTrie::new();
        let executed = build_all(&w.spec, &parent, &state, w.attrs(i), txs.clone(), &mut trie)?;
        times.push(executed.timings.execution);
        for change in &executed.changes.accounts {
            match change.after {
                Some(account) => state.0.insert(change.address, account),
                None => state.0.remove(&change.address),
            };
        }
        parent = executed.block.header;
    }
    Ok(times)
}

fn run_revm(w: &Workload) -> eyre::Result<Duration> {
    let mut db = CacheDB::new(EmptyDB::default());
    for acc in w.spec.genesis_accounts() {
        db.insert_account_info(
            acc.address,
            AccountInfo {
                balance: acc.account.balance,
                nonce: acc.account.nonce,
                code_hash: acc.account.code_hash,
                account_id: None,
                code: None,
            },
        );
    }
    let genesis = w.spec.genesis_header();
    let mut parent = alloy_consensus::Sealable::seal_slow(genesis);
    let started = Instant::now();
    for (i, txs) in w.blocks.iter().enumerate() {
        let attrs = w.attrs(i);
        let env = next_evm_env(&w.spec, &parent, &attrs);
        let mut evm = EthEvmFactory::default().create_evm(&mut db, env);
        for tx in txs {
            let r = evm.transact_commit(TxEnv::from_recovered_tx(tx.inner(), tx.signer()))?;
            eyre::ensure!(r.is_success(), "revm tx failed");
        }
        drop(evm);
        let header = alloy_consensus::Header {
            number: parent.number + 1,
            parent_hash: parent.hash(),
            timestamp: attrs.timestamp,
            gas_limit: attrs.gas_limit,
            base_fee_per_gas: Some(dbc_evm::next_base_fee(parent.inner())),
            ..Default::default()
        };
        parent = alloy_consensus::Sealable::seal_slow(header);
        let _: B256 = parent.hash();
    }
    Ok(started.elapsed())
}

/// jemalloc as the process's allocator, unprefixed so that RocksDB's memtables and block cache
/// use it too (as reth does). Under a sustained import on a 10M-account state glibc's malloc
/// held ~560 MiB more for the same work (`docs/benchmarks.md`, "the resident trie").
#[cfg(all(feature = "jemalloc", unix))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> eyre::Result<()> {
    match Cmd::parse() {
        Cmd::Load(args) => load::run(&args)?,
        Cmd::Network(args) => network::run(&args)?,
        Cmd::Market(args) => market::run(&args)?,
        Cmd::Sync(args) => sync::run(&args)?,
        Cmd::State(args) => state::run(&args)?,
        Cmd::Keccak { messages, rounds } => keccak_bench(messages, rounds)?,
        Cmd::Import { senders, txs_per_block, blocks, rounds } => {
            eprintln!(
                "preparing {blocks} blocks × {txs_per_block} transfers from {senders} senders …"
            );
            let w = workload(senders, txs_per_block, blocks)?;
            let total = (blocks * txs_per_block) as f64;
            let revm = run_revm(&w)?;
            let (node, parts, cpu) = run_node(&w)?;
            let unstored = run_node_unstored(&w)?;
            let mem = run_executor_in_memory(&w)?;
            // The first block runs cold (fresh maps, first page faults): reported apart.
            let warm: Duration = mem.iter().skip(1).sum();
            let warm_tps =
                (mem.len().saturating_sub(1) * txs_per_block) as f64 / warm.as_secs_f64();
            let sum = |f: fn(&BlockTimes) -> Duration| {
                parts.iter().map(f).sum::<Duration>().as_secs_f64()
            };
            let (exec, root, commit) = (sum(|p| p.0), sum(|p| p.1), sum(|p| p.2));
            let node_tps = total / node.as_secs_f64();
            let revm_tps = total / revm.as_secs_f64();
            println!(
                "workload: {blocks} blocks × {txs_per_block} native transfers, {senders} senders"
            );
            println!(
                "bare revm (in-memory, execute only): {:>10.0} tx/s  {:>8.2} blocks/s",
                revm_tps,
                blocks as f64 / revm.as_secs_f64()
            );
            println!(
                "dbc-node import (execute+root+commit): {:>8.0} tx/s  {:>8.2} blocks/s",
                node_tps,
                blocks as f64 / node.as_secs_f64()
            );
            println!(
                "  the same without storing the trie:  {:>8.0} tx/s",
                total / unstored.as_secs_f64()
            );
            println!("  execution only:                     {:>8.0} tx/s", total / exec);
            println!(
                "  block executor over an in-memory reader: {:>8.0} tx/s after the first block \
                 ({:.2} of revm; first block {:.0} tx/s)",
                warm_tps,
                warm_tps / revm_tps,
                txs_per_block as f64 / mem.first().map_or(f64::NAN, Duration::as_secs_f64),
            );
            let per_block = |f: fn(&BlockTimes) -> Duration| {
                let ms: Vec<String> =
                    parts.iter().map(|p| format!("{:.1}", f(p).as_secs_f64() * 1e3)).collect();
                ms.join(" ")
            };
            println!("  execution per block (ms): {}", per_block(|p| p.0));
            println!("  state root per block (ms): {}", per_block(|p| p.1));
            println!(
                "  commit per block (ms, its own thread, during the next block): {}",
                per_block(|p| p.2)
            );
            println!(
                "  of the wall time: execution {:.0}%, state root {:.0}%, the rest {:.0}%; \
                 commits ran {:.0}% of it alongside",
                100.0 * exec / node.as_secs_f64(),
                100.0 * root / node.as_secs_f64(),
                100.0 * (node.as_secs_f64() - exec - root) / node.as_secs_f64(),
                100.0 * commit / node.as_secs_f64(),
            );
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            println!(
                "  CPU of the whole process while importing: {:.0} ms a block, {:.0}% of {cores} cores \
                 (if all of it ran in parallel on them: {:.0} tx/s)",
                cpu.as_secs_f64() * 1e3 / blocks as f64,
                100.0 * cpu.as_secs_f64() / (node.as_secs_f64() * cores as f64),
                total * cores as f64 / cpu.as_secs_f64().max(1e-9),
            );
            println!(
                "ratio import/revm: {:.2}   execution/revm: {:.2}",
                node_tps / revm_tps,
                (total / exec) / revm_tps
            );
            if rounds > 1 {
                let mut ratios = vec![(node_tps / revm_tps, (total / exec) / revm_tps)];
                for round in 2..=rounds {
                    let revm = run_revm(&w)?;
                    let (node, parts, _) = run_node(&w)?;
                    let exec: f64 = parts.iter().map(|p| p.0.as_secs_f64()).sum();
                    let (revm_tps, node_tps) =
                        (total / revm.as_secs_f64(), total / node.as_secs_f64());
                    let r = (node_tps / revm_tps, (total / exec) / revm_tps);
                    println!(
                        "round {round}: bare revm {revm_tps:.0} tx/s, import {node_tps:.0} tx/s, \
                         import/revm {:.2}, execution/revm {:.2}",
                        r.0, r.1
                    );
                    ratios.push(r);
                }
                let (import, execution) = medians(&ratios);
                println!(
                    "median of {rounds} rounds: import/revm {import:.2}   execution/revm {execution:.2}"
                );
            }
        }
    }
    Ok(())
}

/// The median of the first values of `pairs` and that of the second ones (the lower middle one
/// for an even count).
fn medians(pairs: &[(f64, f64)]) -> (f64, f64) {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
    };
    (median(pairs.iter().map(|p| p.0).collect()), median(pairs.iter().map(|p| p.1).collect()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians_take_the_middle_of_each_half() {
        let pairs = [(0.3, 0.9), (0.1, 0.5), (0.2, 0.7)];
        assert_eq!(super::medians(&pairs), (0.2, 0.7));
        assert_eq!(super::medians(&[(0.4, 0.6), (0.2, 0.8)]), (0.2, 0.6));
        assert_eq!(super::medians(&[]), (0.0, 0.0));
    }
}

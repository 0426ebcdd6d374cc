//! `dbc-bench state`: a node on a large state. Builds a state of `--accounts` funded accounts
//! and `--contracts` × `--slots` storage slots (written as the node writes blocks: plain state,
//! changesets and the stored trie in one batch each), and a small one of the same shape, then,
//! in a fresh process that opens both: start-up time and memory, `eth_getProof` work (the
//! stored-trie proof of a random account and of one of its slots), and blocks of transfers to
//! random existing accounts imported on each state in turn (execute, state root, commit with
//! the trie's node writes).

use crate::{BlockTimes, Workload, import_blocks, workload_to};
use alloy_primitives::{Address, B256, U256, keccak256};
use dbc_chainspec::ChainSpec;
use dbc_node_lib::{after_commit, init_genesis, open_trie};
use dbc_primitives::{Block, StoredAccount};
use dbc_storage::{AccountChange, SlotChange, StateChangeset, Storage};
use dbc_trie::{AccountLeaf, AccountUpdate, KECCAK_EMPTY, StateTrie, proof::stored_proof};
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// Arguments of `dbc-bench state`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StateArgs {
    /// Funded accounts in the large state.
    #[arg(long, default_value_t = 10_000_000)]
    accounts: usize,
    /// Contracts with storage in the large state.
    #[arg(long, default_value_t = 1_000)]
    contracts: usize,
    /// Storage slots of each contract.
    #[arg(long, default_value_t = 1_000)]
    slots: usize,
    /// Funded accounts in the small state.
    #[arg(long, default_value_t = 10_000)]
    small_accounts: usize,
    /// Transfers per imported block.
    #[arg(long, default_value_t = 10_000)]
    txs_per_block: usize,
    /// Blocks imported on each state.
    #[arg(long, default_value_t = 6)]
    blocks: usize,
    /// Distinct senders (funded in the genesis of both states).
    #[arg(long, default_value_t = 1_000)]
    senders: usize,
    /// Proofs taken on each state.
    #[arg(long, default_value_t = 2_000)]
    proofs: usize,
    /// Directory for the two data directories (a temporary one if not given; kept if given).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also time building the whole trie from the plain state (what every start did before
    /// the trie was stored).
    #[arg(long)]
    rebuild: bool,
    /// RocksDB block cache of each opened state, MiB (the node's `--db.cache-size`).
    #[arg(long, default_value_t = 256)]
    db_cache_mib: usize,
    /// Measure the states already built in `--dir` (once: importing changes them).
    #[arg(long)]
    measure: bool,
    /// Only build the states in `--dir`.
    #[arg(long)]
    build_only: bool,
    /// Import on the large state only (the small one stays open and idle): the memory of a
    /// node with one large state, over many blocks (`--blocks 100` fills the trie's cache).
    #[arg(long)]
    large_only: bool,
    /// Blocks imported in a row on one state before the other's turn, each block's commit
    /// running while the next executes, as the node's sync imports (1: each block alone,
    /// timed to the end of its own commit).
    #[arg(long, default_value_t = 1)]
    run: usize,
    /// Also time `eth_getProof` at an earlier block as it was served before 2026-12-06: from a
    /// listing of the whole state at that block (minutes and gigabytes on the large state).
    #[arg(long)]
    listed_proofs: bool,
}

/// The `i`-th bench account.
fn account(i: usize) -> Address {
    Address::from_word(keccak256([b"dbc-state-account".as_slice(), &i.to_be_bytes()].concat()))
}

/// The `i`-th bench contract.
fn contract(i: usize) -> Address {
    Address::from_word(keccak256([b"dbc-state-contract".as_slice(), &i.to_be_bytes()].concat()))
}

/// The workload imported on a state of `accounts` accounts: each transfer to a random one of
/// them (deterministic, so the measuring process signs the same blocks).
fn workload(args: &StateArgs, accounts: usize) -> eyre::Result<Workload> {
    let pick = move |i: usize| {
        let h = keccak256([b"dbc-state-pick".as_slice(), &i.to_be_bytes()].concat());
        let n = u64::from_be_bytes(h[..8].try_into().unwrap_or_default());
        account((n % accounts as u64) as usize)
    };
    workload_to(ChainSpec::dev(10)?, args.senders, args.txs_per_block, args.blocks, &pick)
}

/// Writes the genesis and then blocks without transactions that create `accounts` accounts
/// and `contracts` × `slots` slots, 100,000 entries a block, with the trie stored as the node
/// stores it.
fn build(
    dir: &Path,
    w: &Workload,
    accounts: usize,
    contracts: usize,
    slots: usize,
) -> eyre::Result<()> {
    let storage = Storage::open(dir)?;
    init_genesis(&storage, &w.spec)?;
    let head = storage.header(0)?.ok_or_else(|| eyre::eyre!("no genesis"))?;
    let mut trie = open_trie(&storage, &head)?;
    let mut parent = head;
    let funded =
        StoredAccount { nonce: 0, balance: U256::from(10u64.pow(18)), code_hash: KECCAK_EMPTY };
    let leaf = |a: &StoredAccount| AccountLeaf {
        nonce: a.nonce,
        balance: a.balance,
        code_hash: a.code_hash,
    };
    const CHUNK: usize = 100_000;
    let mut commit = |trie: &mut StateTrie,
                      changes: StateChangeset,
                      updates: Vec<(Address, AccountUpdate)>|
     -> eyre::Result<()> {
        trie.apply(updates)?;
        let mut header = parent.inner().clone();
        header.number += 1;
        header.parent_hash = parent.hash();
        header.timestamp += 1;
        header.state_root = trie.root();
        let block = Block {
            header: alloy_consensus::Sealable::seal_slow(header),
            transactions: vec![],
            senders: vec![],
        };
        let updates = trie.take_updates();
        storage.commit_executed(&block, &[], &[], &changes, Some(&updates))?;
        after_commit(trie);
        parent = block.header;
        Ok(())
    };
    let started = Instant::now();
    for start in (0..accounts).step_by(CHUNK) {
        let end = (start + CHUNK).min(accounts);
        let mut changes = StateChangeset::default();
        let mut updates = Vec::with_capacity(end - start);
        for i in start..end {
            let a = account(i);
            changes.accounts.push(AccountChange {
                address: a,
                before: None,
                after: Some(funded),
                wiped: false,
                storage: vec![],
            });
            updates.push((a, AccountUpdate { info: Some(leaf(&funded)), ..Default::default() }));
        }
        commit(&mut trie, changes, updates)?;
        if (end / CHUNK).is_multiple_of(10) {
            eprintln!("  {end} accounts ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    let per_block = (CHUNK / slots.max(1)).max(1);
    for start in (0..contracts).step_by(per_block) {
        let end = (start + per_block).min(contracts);
        let mut changes = StateChangeset::default();
        let mut updates = Vec::new();
        for c in start..end {
            let a = contract(c);
            let storage: Vec<(U256, U256)> =
                (0..slots).map(|s| (U256::from(s), U256::from(s + 1))).collect();
            changes.accounts.push(AccountChange {
                address: a,
                before: None,
                after: Some(funded),
                wiped: false,
                storage: storage
                    .iter()
                    .map(|(k, v)| SlotChange {
                        slot: B256::from(*k),
                        before: U256::ZERO,
                        after: *v,
                    })
                    .collect(),
            });
            updates.push((
                a,
                AccountUpdate { info: Some(leaf(&funded)), storage, ..Default::default() },
            ));
        }
        commit(&mut trie, changes, updates)?;
    }
    eprintln!("  built in {:.0} s", started.elapsed().as_secs_f64());
    // Flushed, as a node stopped cleanly leaves it, and with the compactions the build's
    // writes call for done: a node that grew this state over a long history ran them as it
    // went.
    let settling = Instant::now();
    storage.settle(SETTLE_TIMEOUT)?;
    eprintln!("  compactions settled in {:.1} s", settling.elapsed().as_secs_f64());
    Ok(())
}

/// Resident and peak memory of this process (kB), from `/proc/self/status`.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes under `dir`.
fn disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// How long the bench waits for RocksDB's compactions to finish before it fails.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

/// One state opened for measuring.
struct Opened {
    name: &'static str,
    storage: Storage,
    trie: StateTrie,
    head: dbc_primitives::SealedHeader,
    accounts: usize,
    startup: Duration,
}

fn open(name: &'static str, dir: &Path, accounts: usize, cache: usize) -> eyre::Result<Opened> {
    let started = Instant::now();
    let storage = Storage::open_with_cache(dir, cache.saturating_mul(1 << 20))?;
    let number = storage.head_number()?.ok_or_else(|| eyre::eyre!("empty database"))?;
    let head = storage.header(number)?.ok_or_else(|| eyre::eyre!("no head header"))?;
    eyre::ensure!(
        storage.trie_root()? == Some(head.state_root),
        "the stored trie is not the head's"
    );
    let trie = open_trie(&storage, &head)?;
    Ok(Opened { name, storage, trie, head, accounts, startup: started.elapsed() })
}

/// Proof work per key on `s`: an account proof of a random account and a slot proof of a
/// random contract slot (µs, median and p99).
fn proofs(s: &Opened, n: usize, contracts: usize, slots: usize) -> eyre::Result<(f64, f64)> {
    let root = s.head.state_root;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let h = keccak256([b"dbc-state-proof".as_slice(), &i.to_be_bytes()].concat());
        let r = u64::from_be_bytes(h[..8].try_into().unwrap_or_default()) as usize;
        let started = Instant::now();
        let (proof, leaf) =
            stored_proof(&s.storage, None, root, keccak256(account(r % s.accounts)))?;
        eyre::ensure!(leaf.is_some() && !proof.is_empty(), "no account");
        if contracts > 0 {
            let c = keccak256(contract(r % contracts));
            let (_, leaf) = stored_proof(&s.storage, None, root, c)?;
            let leaf = leaf.ok_or_else(|| eyre::eyre!("no contract"))?;
            let acc =
                <dbc_trie::TrieAccount as alloy_rlp::Decodable>::decode(&mut leaf.as_slice())?;
            let slot = keccak256(B256::from(U256::from(r % slots.max(1))));
            let (_, value) = stored_proof(&s.storage, Some(c), acc.storage_root, slot)?;
            eyre::ensure!(value.is_some(), "no slot");
        }
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok((at(0.5), at(0.99)))
}

/// `eth_getProof` of an account 1 block and `imported` blocks before the head, the
/// way the RPC serves it (the stored head's trie moved back, each block's changes applied
/// backwards), and with `listed` as it was served before (a listing of the whole state at
/// that block): wall time and resident memory added.
fn earlier_proofs(s: &Opened, imported: u64, listed: bool) -> eyre::Result<()> {
    let head = s.head.number;
    let mut backs = vec![1u64, imported];
    backs.dedup();
    for back in backs.into_iter().filter(|b| *b <= head) {
        let number = head - back;
        let root = s.storage.header(number)?.ok_or_else(|| eyre::eyre!("no header"))?.state_root;
        let address = account(7 % s.accounts);
        let (rss0, _) = memory();
        let started = Instant::now();
        let source: std::sync::Arc<dyn dbc_trie::NodeSource> =
            std::sync::Arc::new(s.storage.clone());
        let mut trie = StateTrie::open(source, s.head.state_root);
        let mut changes = 0usize;
        for later in (number + 1..=head).rev() {
            let reverts = s.storage.trie_reverts(later)?;
            changes += reverts.iter().map(|(_, u)| 1 + u.storage.len()).sum::<usize>();
            trie.apply(reverts)?;
        }
        eyre::ensure!(trie.root() == root, "moved back to the wrong root");
        let found = trie.prove(address, &[])?;
        eyre::ensure!(found.account.is_some(), "no account");
        let took = started.elapsed();
        let (rss1, _) = memory();
        drop(trie);
        println!(
            "  {:<5} {back} block(s) back: {:>9.1} ms ({changes} account and slot changes undone), resident +{} MiB",
            s.name,
            took.as_secs_f64() * 1e3,
            rss1.saturating_sub(rss0) / 1024
        );
        if listed {
            let (rss0, _) = memory();
            let started = Instant::now();
            let state = s.storage.full_state_at(number)?;
            let accounts = state.iter().map(|(a, (acc, st))| {
                let st: Vec<(U256, U256)> =
                    st.iter().map(|(k, v)| (U256::from_be_bytes(k.0), *v)).collect();
                let leaf = AccountLeaf {
                    nonce: acc.nonce,
                    balance: acc.balance,
                    code_hash: acc.code_hash,
                };
                (*a, leaf, dbc_trie::proof::storage_root(&st))
            });
            let (listed_root, proof) = dbc_trie::proof::account_proof(accounts, address);
            eyre::ensure!(listed_root == root && proof == found.proof, "the listing differs");
            let took = started.elapsed();
            let (rss1, _) = memory();
            println!(
                "        as before (a listing of the whole state): {:>9.1} ms, resident +{} MiB",
                took.as_secs_f64() * 1e3,
                rss1.saturating_sub(rss0) / 1024
            );
        }
    }
    Ok(())
}

/// One measured block: its wall time (from the start of its execution to the end of its
/// commit; in a run of blocks, an equal share of the run's) and its stages.
type Measured = (Duration, BlockTimes);

/// Rate over the wall time, and per block: execution, the rest of the block's thread (waiting
/// for the trie's paths, the other roots), state root and commit, in ms.
fn tps(txs: usize, blocks: &[Measured]) -> (f64, [f64; 4]) {
    let wall: f64 = blocks.iter().map(|b| b.0.as_secs_f64()).sum();
    let avg = |f: fn(&BlockTimes) -> Duration| {
        blocks.iter().map(|b| f(&b.1)).sum::<Duration>().as_secs_f64() * 1e3
            / blocks.len().max(1) as f64
    };
    ((txs * blocks.len()) as f64 / wall, [avg(|p| p.0), avg(|p| p.3), avg(|p| p.1), avg(|p| p.2)])
}

/// The measuring process: both states opened (the large first, alone in memory), proofs,
/// then the blocks imported alternately.
fn measure(args: &StateArgs, dir: &Path) -> eyre::Result<()> {
    // A directory built by an older build may still owe compactions, which would run in the
    // background during the measured blocks (on the 10M-account state: rewriting 270 MB of
    // plain state, ~4 s of a core). Done first, in a handle dropped before the measured open.
    for name in ["large", "small"] {
        let opening = Instant::now();
        let storage = Storage::open(dir.join(name))?;
        let opened = opening.elapsed();
        storage.settle(SETTLE_TIMEOUT)?;
        eprintln!(
            "{name}: opened in {:.0} ms (the log left unflushed replayed), compactions settled in {:.1} s",
            opened.as_secs_f64() * 1e3,
            (opening.elapsed() - opened).as_secs_f64()
        );
    }
    let large_w = workload(args, args.accounts)?;
    let small_w = workload(args, args.small_accounts)?;
    let (rss0, _) = memory();
    let mut large = open("large", &dir.join("large"), args.accounts, args.db_cache_mib)?;
    let (rss_large, _) = memory();
    let mut small = open("small", &dir.join("small"), args.small_accounts, args.db_cache_mib)?;
    let small_contracts = (args.contracts / 100).max(1);
    let small_slots = (args.slots / 10).max(1);
    println!("start-up (open the database and the stored trie, root checked against the head):");
    for s in [&large, &small] {
        println!(
            "  {:<5} {:>8.1} ms   head {}  state root {}",
            s.name,
            s.startup.as_secs_f64() * 1e3,
            s.head.number,
            s.head.state_root
        );
    }
    println!(
        "  resident memory after opening the large state: {} MiB (process before it: {} MiB)",
        rss_large / 1024,
        rss0 / 1024
    );
    let (lp50, lp99) = proofs(&large, args.proofs, args.contracts, args.slots)?;
    let (sp50, sp99) = proofs(&small, args.proofs, small_contracts, small_slots)?;
    println!(
        "eth_getProof work (an account proof and a contract slot proof, from the stored trie):"
    );
    println!("  large {lp50:>8.1} µs median {lp99:>8.1} µs p99");
    println!("  small {sp50:>8.1} µs median {sp99:>8.1} µs p99");
    let mut parts_large = Vec::new();
    let mut parts_small = Vec::new();
    let mut rss_max = 0;
    // The large state's trie in memory after a block, at its largest: (nodes, bytes).
    let mut trie_max = (0, 0);
    // The first block alone (it warms the caches), then runs of `--run` blocks.
    let run = args.run.max(1);
    let runs = std::iter::once(0..1.min(args.blocks))
        .chain((1..args.blocks).step_by(run).map(|b| b..(b + run).min(args.blocks)));
    for blocks in runs {
        for (s, w, parts) in
            [(&mut small, &small_w, &mut parts_small), (&mut large, &large_w, &mut parts_large)]
        {
            if args.large_only && s.name == "small" {
                continue;
            }
            let (wall, p) = import_run(w, s, blocks.clone())?;
            // Each block of a run is charged an equal share of the run's wall time.
            let share = wall / p.len().max(1) as u32;
            parts.extend(p.into_iter().map(|p| (share, p)));
            rss_max = rss_max.max(memory().0);
        }
        let bytes = large.trie.heap_bytes();
        if bytes > trie_max.1 {
            trie_max = (large.trie.resident(), bytes);
        }
    }
    // The first block of each warms caches: reported, not counted.
    let (lt, l) = tps(args.txs_per_block, parts_large.get(1..).unwrap_or_default());
    let (st, sm) = tps(args.txs_per_block, parts_small.get(1..).unwrap_or_default());
    println!(
        "import of {} blocks × {} transfers to random existing accounts, alternating runs of {} (first block of each not counted):",
        args.blocks, args.txs_per_block, run
    );
    let stages = |m: [f64; 4]| {
        format!(
            "execution {:.1} ms, waiting for the trie's paths and the other roots {:.1} ms, state root {:.1} ms, commit {:.1} ms",
            m[0], m[1], m[2], m[3]
        )
    };
    println!("  large {lt:>8.0} tx/s   per block: {}", stages(l));
    if !args.large_only {
        println!("  small {st:>8.0} tx/s   per block: {}", stages(sm));
        println!("  large/small: {:.2}", lt / st);
    }
    println!(
        "eth_getProof at earlier blocks (the stored head's trie moved back over the blocks since, as the RPC serves it):"
    );
    let (_, hwm) = memory();
    for s in [&large, &small] {
        if args.large_only && s.name == "small" {
            continue;
        }
        earlier_proofs(s, args.blocks as u64, args.listed_proofs)?;
    }
    println!("dbc_auditSupply at the head (every balance summed from the plain state):");
    for s in [&large, &small] {
        let started = Instant::now();
        let (_, sum, accounts) = s
            .storage
            .sum_balances_at(None, dbc_storage::ReadBudget::UNLIMITED)?
            .ok_or_else(|| eyre::eyre!("no head"))?;
        println!(
            "  {:<5} {:>9.1} ms  ({accounts} accounts, sum {sum})",
            s.name,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    println!(
        "memory: resident at most {} MiB while importing ({}), peak {} MiB",
        rss_max / 1024,
        if args.large_only { "the large state only" } else { "both states open" },
        hwm / 1024
    );
    println!(
        "  the large state's trie in memory after a block: at most {} nodes, {} MiB ({} bytes a node; the limit is {} nodes)",
        trie_max.0,
        trie_max.1 >> 20,
        trie_max.1.checked_div(trie_max.0).unwrap_or(0),
        large.trie.resident_limit().unwrap_or(0)
    );
    println!(
        "disk: large {:.2} GiB, small {:.1} MiB",
        disk(&dir.join("large")) as f64 / (1u64 << 30) as f64,
        disk(&dir.join("small")) as f64 / (1u64 << 20) as f64
    );
    if args.rebuild {
        let started = Instant::now();
        let trie = dbc_node_lib::build_trie(&large.storage)?;
        let (rss, _) = memory();
        println!(
            "rebuilding the large state's trie from the plain state (every start before it was stored): {:.1} s, resident {} MiB",
            started.elapsed().as_secs_f64(),
            rss / 1024
        );
        drop(trie);
    }
    Ok(())
}

/// Imports `blocks` of `w` on `s` in a row (each block's commit during the next one's
/// execution): the run's wall time, to the end of its last commit, and each block's stages.
fn import_run(
    w: &Workload,
    s: &mut Opened,
    blocks: std::ops::Range<usize>,
) -> eyre::Result<(Duration, Vec<BlockTimes>)> {
    let upto = Workload { spec: w.spec.clone(), blocks: w.blocks[..blocks.end].to_vec() };
    let lists = w.blocks[blocks.clone()].to_vec();
    let out = import_blocks(&upto, lists, &s.storage, &mut s.trie, s.head.clone(), blocks.start)?;
    let number = s.storage.head_number()?.unwrap_or(0);
    s.head = s.storage.header(number)?.ok_or_else(|| eyre::eyre!("no head"))?;
    Ok(out)
}

/// `dbc-bench state`.
pub(crate) fn run(args: &StateArgs) -> eyre::Result<()> {
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    if args.measure {
        return measure(args, &dir);
    }
    std::fs::create_dir_all(&dir)?;
    for name in ["large", "small"] {
        let d = dir.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
    }
    eprintln!("building the small state: {} accounts …", args.small_accounts);
    build(
        &dir.join("small"),
        &workload(args, args.small_accounts)?,
        args.small_accounts,
        (args.contracts / 100).max(1),
        (args.slots / 10).max(1),
    )?;
    eprintln!(
        "building the large state: {} accounts, {} contracts × {} slots …",
        args.accounts, args.contracts, args.slots
    );
    build(
        &dir.join("large"),
        &workload(args, args.accounts)?,
        args.accounts,
        args.contracts,
        args.slots,
    )?;
    if args.build_only {
        return Ok(());
    }
    // Measured in a fresh process: nothing of the build stays in its memory or caches.
    let mut child = std::process::Command::new(std::env::current_exe()?);
    child.args(std::env::args().skip(1)).arg("--measure");
    if args.dir.is_none() {
        child.arg("--dir").arg(&dir);
    }
    let status = child.status()?;
    eyre::ensure!(status.success(), "the measuring process failed");
    Ok(())
}

//! `dbc-bench network`: a steady flood of native transfers through one node's JSON-RPC (the
//! testnet's full node), and what the proof-of-stake network made of it.
//!
//! Transfers from many dev-mnemonic senders are signed before timing, then offered at a fixed
//! rate (`--rate` per second for `--secs`) in JSON-RPC batches; the node gossips them to the
//! validators. A watcher polls the node's `latest` and `finalized` headers every 25 ms.
//! Reported:
//! - **end to end**: transfers included while the flood ran (the blocks whose slots started
//!   after the first send and before the last), per second of those slots; and all of them,
//!   first send to last inclusion;
//! - **block fullness**: gas used / gas limit of those blocks;
//! - **time to finality**: for each block, from its slot's start (its timestamp: a proposer
//!   seals when its slot opens) to when the node reports it finalized, in ms and slots, p50
//!   and p99;
//! - **CPU**: each given process's user + system time over the run, in cores, and the
//!   transfers per second per core the network used.

use crate::load::{Conn, dev_keys, hex_u64, pending_nonces, sign};
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Network load parameters.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NetworkArgs {
    /// `host:port` of the node the transfers are sent to (the testnet's full node).
    #[arg(long, default_value = "127.0.0.1:8549")]
    rpc: String,
    /// Offered load: transfers per second.
    #[arg(long, default_value_t = 5_000)]
    rate: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Distinct senders (the first accounts of the dev mnemonic; the genesis must fund them).
    #[arg(long, default_value_t = 1_000)]
    senders: usize,
    /// Transfers per JSON-RPC batch.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    /// Processes whose CPU time is reported: `name=pid`, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pids: Vec<String>,
    /// Seconds to wait after the last send for the last inclusion and finality.
    #[arg(long, default_value_t = 60)]
    drain: u64,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A block as the watcher saw it.
#[derive(Debug, Clone, Copy)]
struct SeenBlock {
    timestamp: u64,
    gas_used: u64,
    gas_limit: u64,
    txs: u64,
    /// When (unix ms) the node first reported it finalized.
    finalized_at: Option<u64>,
    hash: B256,
}

/// What the watcher saw, by block number.
#[derive(Debug, Default)]
struct Seen {
    blocks: BTreeMap<u64, SeenBlock>,
    finalized: u64,
    head: u64,
    /// Blocks read once and later replaced by a competing branch (a reorg).
    replaced: u64,
}

/// Polls the node's `latest` and `finalized` headers every 25 ms until `stop`, reading each new
/// block's header and transaction count once. A block that a reorg replaced is read again (the
/// watcher steps back from its last block until the node's hash there matches), so what it
/// holds is the canonical chain, never two blocks for one number.
fn watch(rpc: &str, seen: &Mutex<Seen>, stop: &AtomicBool) -> eyre::Result<()> {
    let mut conn = Conn::connect(rpc)?;
    let header = |conn: &mut Conn, tag: Value| conn.rpc("eth_getHeaderByNumber", json!([tag]));
    let mut finalized = hex_u64(&header(&mut conn, json!("finalized"))?["number"]);
    let start = hex_u64(&header(&mut conn, json!("latest"))?["number"]);
    let mut next = start + 1;
    while !stop.load(Ordering::Relaxed) {
        let head = hex_u64(&header(&mut conn, json!("latest"))?["number"]);
        // Step back over blocks a reorg replaced since they were read.
        let mut replaced = 0;
        while next - 1 > start {
            let n = next - 1;
            let ours =
                seen.lock().map_err(|_| eyre::eyre!("poisoned"))?.blocks.get(&n).map(|b| b.hash);
            let theirs = header(&mut conn, json!(format!("0x{n:x}")))?;
            if ours.is_none() || hash_of(&theirs) == ours {
                break;
            }
            seen.lock().map_err(|_| eyre::eyre!("poisoned"))?.blocks.remove(&n);
            replaced += 1;
            next -= 1;
        }
        let mut new = Vec::new();
        while next <= head {
            let number = json!(format!("0x{next:x}"));
            let h = header(&mut conn, number.clone())?;
            if h.is_null() {
                // The head moved back meanwhile (a shorter branch won): read it next time.
                break;
            }
            let txs = hex_u64(&conn.rpc("eth_getBlockTransactionCountByHash", json!([h["hash"]]))?);
            new.push((
                next,
                SeenBlock {
                    timestamp: hex_u64(&h["timestamp"]),
                    gas_used: hex_u64(&h["gasUsed"]),
                    gas_limit: hex_u64(&h["gasLimit"]),
                    txs,
                    finalized_at: None,
                    hash: hash_of(&h).unwrap_or_default(),
                },
            ));
            next += 1;
        }
        let now_finalized = hex_u64(&header(&mut conn, json!("finalized"))?["number"]);
        let now = unix_ms();
        let mut s = seen.lock().map_err(|_| eyre::eyre!("poisoned"))?;
        s.replaced += replaced;
        s.blocks.extend(new);
        // Blocks read after the node had finalized them count from now (at most a poll late).
        for n in start + 1..=now_finalized {
            if let Some(b) = s.blocks.get_mut(&n) {
                b.finalized_at.get_or_insert(now);
            }
        }
        finalized = finalized.max(now_finalized);
        s.finalized = finalized;
        s.head = head;
        drop(s);
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

/// The `hash` of a JSON-RPC header.
fn hash_of(header: &Value) -> Option<B256> {
    header["hash"].as_str()?.parse().ok()
}

/// User + system CPU seconds of `pid` so far (Linux `/proc/<pid>/stat`).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the flood and prints the report.
pub(crate) fn run(args: &NetworkArgs) -> eyre::Result<()> {
    let mut conn = Conn::connect(&args.rpc)?;
    let chain_id = hex_u64(&conn.rpc("eth_chainId", json!([]))?);
    let pids: Vec<(String, u32)> = args
        .pids
        .iter()
        .map(|p| {
            let (name, pid) = p.split_once('=').ok_or_else(|| eyre::eyre!("--pids: {p}"))?;
            Ok((name.to_string(), pid.parse()?))
        })
        .collect::<eyre::Result<_>>()?;
    let keys = dev_keys(args.senders)?;
    let nonces = pending_nonces(&mut conn, &keys)?;
    let total = args.rate * args.secs as usize;
    eprintln!("signing {total} transfers from {} senders …", keys.len());
    let raws: Vec<String> = (0..total)
        .into_par_iter()
        .map(|i| {
            let s = i % keys.len();
            let nonce = nonces[s] + (i / keys.len()) as u64;
            let to = Address::left_padding_from(&(i as u64 + 2_000_000).to_be_bytes());
            let raw = sign(&keys[s], chain_id, nonce, to, U256::from(1), Bytes::new(), 21_000);
            format!("0x{}", hex::encode(raw))
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = {
        let (rpc, seen, stop) = (args.rpc.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || watch(&rpc, &seen, &stop))
    };
    std::thread::sleep(Duration::from_millis(200));
    let cpu_before: Vec<Option<f64>> = pids.iter().map(|(_, p)| cpu_secs(*p)).collect();
    let started = Instant::now();
    let first_send_ms = unix_ms();

    // Paced sending: batch `k` goes out at k × batch / rate seconds, on two connections so
    // that one slow answer does not hold the pace.
    let accepted = AtomicUsize::new(0);
    let errors = Mutex::new(BTreeMap::<String, usize>::new());
    let batches: Vec<&[String]> = raws.chunks(args.batch.max(1)).collect();
    let per_batch = Duration::from_secs_f64(args.batch.max(1) as f64 / args.rate.max(1) as f64);
    std::thread::scope(|s| -> eyre::Result<()> {
        let handles: Vec<_> = (0..2)
            .map(|lane| {
                let (batches, accepted, errors) = (&batches, &accepted, &errors);
                s.spawn(move || -> eyre::Result<()> {
                    let mut c = Conn::connect(&args.rpc)?;
                    for (k, chunk) in batches.iter().enumerate().skip(lane).step_by(2) {
                        let due = started + per_batch * k as u32;
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let body: Vec<Value> = chunk
                            .iter()
                            .enumerate()
                            .map(|(i, raw)| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}))
                            .collect();
                        let resp = c.call(&Value::Array(body).to_string())?;
                        for r in resp.as_array().into_iter().flatten() {
                            let Some(e) = r.get("error") else {
                                accepted.fetch_add(1, Ordering::Relaxed);
                                continue;
                            };
                            let msg = e["message"].as_str().unwrap_or("?");
                            let key = msg.split(':').next().unwrap_or(msg).to_string();
                            if let Ok(mut m) = errors.lock() {
                                *m.entry(key).or_insert(0) += 1;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| eyre::eyre!("sender thread panicked"))??;
        }
        Ok(())
    })?;
    let send_secs = started.elapsed().as_secs_f64();
    let last_send_ms = unix_ms();
    // CPU over the flood itself (the drain after it is mostly idle).
    let cpu_after: Vec<Option<f64>> = pids.iter().map(|(_, p)| cpu_secs(*p)).collect();
    let accepted = accepted.into_inner();

    // Drain: until every accepted transfer is in a block and the head is finalized.
    let drain_until = Instant::now() + Duration::from_secs(args.drain);
    let in_run = |b: &SeenBlock| b.timestamp * 1000 + 1000 > first_send_ms;
    loop {
        let done = {
            let s = seen.lock().map_err(|_| eyre::eyre!("poisoned"))?;
            let included: u64 = s.blocks.values().filter(|b| in_run(b)).map(|b| b.txs).sum();
            included as usize >= accepted && s.finalized >= s.head
        };
        if done || Instant::now() > drain_until {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let wall = send_secs;
    watcher.join().map_err(|_| eyre::eyre!("watcher panicked"))??;
    let seen = Arc::try_unwrap(seen)
        .map_err(|_| eyre::eyre!("watcher still holds its state"))?
        .into_inner()
        .map_err(|_| eyre::eyre!("poisoned"))?;
    let errors = errors.into_inner().unwrap_or_default();
    report(Report {
        args,
        senders: keys.len(),
        seen: &seen,
        first_send_ms,
        last_send_ms,
        accepted,
        errors,
        send_secs,
        wall,
        cpu: pids
            .iter()
            .zip(cpu_before.iter().zip(&cpu_after))
            .map(|((name, pid), (b, a))| {
                (name.clone(), *pid, b.zip(*a).map(|(b, a)| (a - b) / wall))
            })
            .collect(),
    });
    Ok(())
}

struct Report<'a> {
    args: &'a NetworkArgs,
    senders: usize,
    seen: &'a Seen,
    first_send_ms: u64,
    last_send_ms: u64,
    accepted: usize,
    errors: BTreeMap<String, usize>,
    send_secs: f64,
    wall: f64,
    /// (name, pid, cores used on average)
    cpu: Vec<(String, u32, Option<f64>)>,
}

fn report(r: Report<'_>) {
    let blocks = &r.seen.blocks;
    let slot_secs = blocks
        .values()
        .map(|b| b.timestamp)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(1);
    let slot_ms = slot_secs * 1000;
    // The blocks of the flood: slots that started after the first send, up to the last send.
    let flood: Vec<&SeenBlock> = blocks
        .values()
        .filter(|b| b.timestamp * 1000 >= r.first_send_ms && b.timestamp * 1000 <= r.last_send_ms)
        .collect();
    let flood_txs: u64 = flood.iter().map(|b| b.txs).sum();
    // The flood's blocks cover the slots from the one before the first to the last.
    let span_secs = match (flood.first(), flood.last()) {
        (Some(first), Some(last)) => (last.timestamp + slot_secs - first.timestamp) as f64,
        _ => 0.0,
    };
    let run: Vec<&SeenBlock> =
        blocks.values().filter(|b| b.timestamp * 1000 + 1000 > r.first_send_ms).collect();
    let included: u64 = run.iter().map(|b| b.txs).sum();
    let last_inclusion_s = run.iter().filter(|b| b.txs > 0).map(|b| b.timestamp).max();
    let mut finality: Vec<u64> = run
        .iter()
        .filter_map(|b| b.finalized_at.map(|f| f.saturating_sub(b.timestamp * 1000)))
        .collect();
    finality.sort_unstable();
    let (p50, p99) = (percentile(&finality, 0.5), percentile(&finality, 0.99));

    println!("network flood through {} ({slot_secs} s slots)", r.args.rpc);
    println!(
        "offered {} transfers/s for {} s from {} senders: {} accepted in {:.1} s, rejected {:?}",
        r.args.rate, r.args.secs, r.senders, r.accepted, r.send_secs, r.errors
    );
    println!(
        "end to end, during the flood: {:.0} transfers/s ({flood_txs} in {} blocks over {span_secs:.0} s of slots)",
        if span_secs > 0.0 { flood_txs as f64 / span_secs } else { 0.0 },
        flood.len()
    );
    if let Some(last) = last_inclusion_s {
        let secs = (last * 1000).saturating_sub(r.first_send_ms) as f64 / 1000.0 + slot_secs as f64;
        println!(
            "end to end, all: {included} of {} included; first send to the end of the last block's slot {secs:.1} s = {:.0} transfers/s",
            r.accepted,
            included as f64 / secs.max(1e-9)
        );
    }
    if !flood.is_empty() {
        let fullness: Vec<f64> =
            flood.iter().map(|b| b.gas_used as f64 / b.gas_limit.max(1) as f64).collect();
        let mean = fullness.iter().sum::<f64>() / fullness.len() as f64;
        let max = fullness.iter().copied().fold(0.0, f64::max);
        let limit = flood[0].gas_limit;
        println!(
            "block fullness: mean {:.0}%, max {:.0}% of {} Mgas ({} transfers a block at most)",
            mean * 100.0,
            max * 100.0,
            limit / 1_000_000,
            limit / 21_000
        );
    }
    println!(
        "blocks replaced by a competing branch after the node reported them: {}",
        r.seen.replaced
    );
    println!(
        "time to finality from the slot's start ({} blocks): p50 {p50} ms = {:.2} slots, p99 {p99} ms = {:.2} slots, max {} ms",
        finality.len(),
        p50 as f64 / slot_ms as f64,
        p99 as f64 / slot_ms as f64,
        finality.last().copied().unwrap_or(0)
    );
    let mut total = 0.0;
    for (name, pid, cores) in &r.cpu {
        match cores {
            Some(c) => {
                total += c;
                println!("cpu {name} (pid {pid}): {c:.2} cores");
            }
            None => println!("cpu {name} (pid {pid}): not readable"),
        }
    }
    if total > 0.0 && span_secs > 0.0 {
        println!(
            "cpu all nodes: {total:.2} cores on average over the {:.0} s of sending; {:.0} transfers/s per core used",
            r.wall,
            flood_txs as f64 / span_secs / total
        );
    }
}

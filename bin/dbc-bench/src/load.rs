//! `dbc-bench load`: end-to-end load against any JSON-RPC node (dbc-node or anvil).
//!
//! Senders come from the dev mnemonic; all transactions are signed before timing; they are
//! submitted with `eth_sendRawTransaction` in JSON-RPC batches over several keep-alive HTTP
//! connections. Reported: intake (accepted tx/s), end to end (first send → last inclusion),
//! blocks used, Mgas/s and rejections with their messages.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, hex};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use rayon::prelude::*;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

/// A keep-alive HTTP/1.1 JSON-RPC connection.
pub(crate) struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Conn {
    pub(crate) fn connect(addr: &str) -> eyre::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self { reader: BufReader::new(stream.try_clone()?), writer: stream, host: addr.into() })
    }

    pub(crate) fn call(&mut self, body: &str) -> eyre::Result<Value> {
        write!(
            self.writer,
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            self.host,
            body.len(),
            body
        )?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse()?;
            }
            if l.starts_with("transfer-encoding:") && l.contains("chunked") {
                chunked = true;
            }
        }
        let mut buf = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16)?;
                let mut chunk = vec![0u8; n + 2];
                self.reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        } else {
            buf.resize(len, 0);
            self.reader.read_exact(&mut buf)?;
        }
        Ok(serde_json::from_slice(&buf)?)
    }

    pub(crate) fn rpc(&mut self, method: &str, params: Value) -> eyre::Result<Value> {
        let v = self.call(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
        )?;
        v.get("result").cloned().ok_or_else(|| eyre::eyre!("{method}: {v}"))
    }
}

pub(crate) fn hex_u64(v: &Value) -> u64 {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()).unwrap_or(0)
}

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Native transfers.
    Native,
    /// ERC-20 transfers (a token is deployed and distributed first, not timed).
    Erc20,
}

/// Load-test parameters.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LoadArgs {
    /// `host:port` of the node's HTTP JSON-RPC.
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub(crate) rpc: String,
    /// Total transactions.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) txs: usize,
    /// Distinct senders (the first accounts of the dev mnemonic; the node must fund them).
    #[arg(long, default_value_t = 1_000)]
    pub(crate) senders: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 200)]
    pub(crate) batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    pub(crate) conns: usize,
    /// Transfer kind.
    #[arg(long, value_enum, default_value = "native")]
    pub(crate) kind: Kind,
    /// Give up waiting for inclusion after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub(crate) timeout: u64,
    /// Start the timed burst at this point of a slot: wait for a new block, then this fraction
    /// of `--block-time`. Without it the burst starts whenever signing ends (an uncontrolled
    /// phase). With interval sealing the end-to-end time depends on the phase, so comparisons
    /// sweep it.
    #[arg(long)]
    pub(crate) phase: Option<f64>,
    /// The node's block time in seconds (for `--phase`).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) block_time: f64,
}

/// Waits for the next block, then `phase` × `block_time`.
fn align_to_slot(conn: &mut Conn, phase: f64, block_time: f64) -> eyre::Result<()> {
    let head = hex_u64(&conn.rpc("eth_blockNumber", json!([]))?);
    let deadline = Instant::now() + Duration::from_secs_f64(10.0 * block_time.max(0.1));
    while hex_u64(&conn.rpc("eth_blockNumber", json!([]))?) == head {
        eyre::ensure!(Instant::now() < deadline, "no new block within 10 block times");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_secs_f64(phase.clamp(0.0, 1.0) * block_time));
    Ok(())
}

pub(crate) fn sign(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas: u64,
) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        input,
        ..Default::default()
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("signing with a valid key");
    TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718()
}

fn erc20_transfer(to: Address, amount: u64) -> Bytes {
    let mut data = hex::decode("a9059cbb").expect("selector").to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(to.as_slice());
    data.extend_from_slice(&U256::from(amount).to_be_bytes::<32>());
    data.into()
}

/// Sends raw transactions in batches over `conns` connections; returns (accepted, rejections).
fn blast(
    rpc: &str,
    raws: &[Vec<u8>],
    batch: usize,
    conns: usize,
) -> eyre::Result<(usize, BTreeMap<String, usize>)> {
    let chunks: Vec<&[Vec<u8>]> = raws.chunks(batch.max(1)).collect();
    let per_conn = chunks.len().div_ceil(conns.max(1));
    let results: Vec<eyre::Result<(usize, BTreeMap<String, usize>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .chunks(per_conn.max(1))
            .map(|mine| {
                s.spawn(move || {
                    let mut conn = Conn::connect(rpc)?;
                    let mut ok = 0usize;
                    let mut errors = BTreeMap::new();
                    for chunk in mine {
                        let body: Vec<Value> = chunk
                            .iter()
                            .enumerate()
                            .map(|(i, raw)| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [format!("0x{}", hex::encode(raw))]}))
                            .collect();
                        let resp = conn.call(&Value::Array(body).to_string())?;
                        for r in resp.as_array().into_iter().flatten() {
                            match r.get("error") {
                                None => ok += 1,
                                Some(e) => {
                                    let msg = e["message"].as_str().unwrap_or("?");
                                    let key: String = msg.split(':').next().unwrap_or(msg).to_string();
                                    *errors.entry(key).or_insert(0) += 1;
                                }
                            }
                        }
                    }
                    Ok((ok, errors))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(eyre::eyre!("sender thread panicked"))))
            .collect()
    });
    let mut ok = 0;
    let mut errors = BTreeMap::new();
    for r in results {
        let (o, e) = r?;
        ok += o;
        for (k, v) in e {
            *errors.entry(k).or_insert(0) += v;
        }
    }
    Ok((ok, errors))
}

/// Waits until the chain holds `expected` more transactions than at `start_block`; returns the
/// time of the last inclusion, blocks used and gas used.
fn wait_included(
    conn: &mut Conn,
    start_block: u64,
    expected: usize,
    timeout: Duration,
    t0: Instant,
) -> eyre::Result<(Duration, u64, u64, usize)> {
    let mut seen = 0usize;
    let mut next = start_block + 1;
    let mut blocks = 0u64;
    let mut gas = 0u64;
    let mut last = t0.elapsed();
    while seen < expected && t0.elapsed() < timeout {
        let head = hex_u64(&conn.rpc("eth_blockNumber", json!([]))?);
        while next <= head {
            let b = conn.rpc("eth_getBlockByNumber", json!([format!("0x{next:x}"), false]))?;
            let n = b["transactions"].as_array().map_or(0, Vec::len);
            if n > 0 {
                seen += n;
                blocks += 1;
                gas += hex_u64(&b["gasUsed"]);
                last = t0.elapsed();
            }
            next += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((last, blocks, gas, seen))
}

/// The first `n` accounts of the dev mnemonic.
pub(crate) fn dev_keys(n: usize) -> eyre::Result<Vec<PrivateKeySigner>> {
    eprintln!("deriving {n} dev keys …");
    (0..n as u32)
        .into_par_iter()
        .map(|i| {
            alloy_signer_local::MnemonicBuilder::<alloy_signer_local::coins_bip39::English>::default()
                .phrase(dbc_chainspec::DEV_MNEMONIC)
                .index(i)
                .and_then(|b| b.build())
                .map_err(|e| eyre::eyre!("{e}"))
        })
        .collect()
}

/// Each key's pending nonce, asked in batches of 500.
pub(crate) fn pending_nonces(conn: &mut Conn, keys: &[PrivateKeySigner]) -> eyre::Result<Vec<u64>> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let body: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, k)| json!({"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount", "params": [k.address(), "pending"]}))
            .collect();
        let resp = conn.call(&Value::Array(body).to_string())?;
        let mut answers = resp.as_array().cloned().unwrap_or_default();
        answers.sort_by_key(|r| r["id"].as_u64().unwrap_or(u64::MAX));
        eyre::ensure!(answers.len() == chunk.len(), "nonces: {} answers", answers.len());
        for r in answers {
            let n = r.get("result").ok_or_else(|| eyre::eyre!("nonce: {r}"))?;
            out.push(hex_u64(n));
        }
    }
    Ok(out)
}

/// Runs the load test and prints one line of results.
pub(crate) fn run(args: &LoadArgs) -> eyre::Result<()> {
    let mut conn = Conn::connect(&args.rpc)?;
    let chain_id = hex_u64(&conn.rpc("eth_chainId", json!([]))?);
    let client = conn.rpc("web3_clientVersion", json!([]))?;
    let keys = dev_keys(args.senders)?;
    let mut nonces = pending_nonces(&mut conn, &keys)?;
    let token = if args.kind == Kind::Erc20 {
        Some(setup_token(&mut conn, &args.rpc, chain_id, &keys, &mut nonces, args.timeout)?)
    } else {
        None
    };
    eprintln!("signing {} transactions …", args.txs);
    let raws: Vec<Vec<u8>> = (0..args.txs)
        .into_par_iter()
        .map(|i| {
            let s = i % keys.len();
            let nonce = nonces[s] + (i / keys.len()) as u64;
            let to = Address::left_padding_from(&(i as u64 + 1_000_000).to_be_bytes());
            match token {
                None => sign(&keys[s], chain_id, nonce, to, U256::from(1), Bytes::new(), 21_000),
                Some(t) => {
                    sign(&keys[s], chain_id, nonce, t, U256::ZERO, erc20_transfer(to, 1), 60_000)
                }
            }
        })
        .collect();
    if let Some(phase) = args.phase {
        align_to_slot(&mut conn, phase, args.block_time)?;
    }
    let start_block = hex_u64(&conn.rpc("eth_blockNumber", json!([]))?);
    let t0 = Instant::now();
    let (accepted, errors) = blast(&args.rpc, &raws, args.batch, args.conns)?;
    let intake_time = t0.elapsed();
    let (last, blocks, gas, included) =
        wait_included(&mut conn, start_block, accepted, Duration::from_secs(args.timeout), t0)?;
    let e2e = last.as_secs_f64();
    println!(
        "{} | {:?} {} txs from {} senders | intake {:.0} tx/s ({} accepted in {:.2}s) | end-to-end {:.0} tx/s ({} included in {:.2}s, {} blocks, {:.1} Mgas/s) | rejected {:?} | phase {}",
        client.as_str().unwrap_or("?"),
        args.kind,
        args.txs,
        keys.len(),
        accepted as f64 / intake_time.as_secs_f64(),
        accepted,
        intake_time.as_secs_f64(),
        included as f64 / e2e,
        included,
        e2e,
        blocks,
        gas as f64 / e2e / 1e6,
        errors,
        args.phase.map_or("uncontrolled".to_string(), |p| format!("{p}")),
    );
    Ok(())
}

/// Deploys `contracts/src/Token.sol` (from forge's artifact in `contracts/out`) from sender 0
/// and gives every sender tokens. Not timed.
fn setup_token(
    conn: &mut Conn,
    rpc: &str,
    chain_id: u64,
    keys: &[PrivateKeySigner],
    nonces: &mut [u64],
    timeout: u64,
) -> eyre::Result<Address> {
    use alloy_sol_types::SolValue;
    let artifact = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/out/Token.sol/Token.json");
    let artifact: Value =
        serde_json::from_str(&std::fs::read_to_string(&artifact).map_err(|e| {
            eyre::eyre!("{}: {e} (run `forge build` in contracts/)", artifact.display())
        })?)?;
    let code = artifact["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| eyre::eyre!("no bytecode in the Token artifact"))?;
    let mut init = hex::decode(code)?;
    init.extend(
        ("Bench".to_string(), "BNCH".to_string(), U256::from(10u128.pow(30))).abi_encode_params(),
    );
    let deployer = &keys[0];
    let tx = TxEip1559 {
        chain_id,
        nonce: nonces[0],
        gas_limit: 3_000_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: init.into(),
        ..Default::default()
    };
    let sig = deployer.sign_hash_sync(&tx.signature_hash())?;
    let raw = TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718();
    let token = deployer.address().create(nonces[0]);
    nonces[0] += 1;
    let start = hex_u64(&conn.rpc("eth_blockNumber", json!([]))?);
    conn.rpc("eth_sendRawTransaction", json!([format!("0x{}", hex::encode(raw))]))?;
    let raws: Vec<Vec<u8>> = keys
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, k)| {
            let input = erc20_transfer(k.address(), 1_000_000_000);
            sign(deployer, chain_id, nonces[0] + i as u64 - 1, token, U256::ZERO, input, 80_000)
        })
        .collect();
    nonces[0] += raws.len() as u64;
    let (accepted, errors) = blast(rpc, &raws, 200, 2)?;
    eyre::ensure!(errors.is_empty(), "token distribution rejected: {errors:?}");
    let (_, _, _, seen) =
        wait_included(conn, start, accepted + 1, Duration::from_secs(timeout), Instant::now())?;
    eyre::ensure!(seen > accepted, "token distribution not mined ({seen} of {})", accepted + 1);
    Ok(token)
}

//! `dbc-node`: the DeepBrainChain-style AI compute chain node.

use alloy_signer_local::PrivateKeySigner;
use clap::Parser;
use dbc_chainspec::ChainSpec;
use dbc_consensus::{DevEngine, DevMode};
use dbc_node_lib::{CacheConfig, NodeConfig, PosConfig, launch_dev, launch_pos};
use dbc_rpc::{ApiSet, RpcConfig, RpcLimits};
use dbc_txpool::PoolConfig;
use eyre::{Context, bail};
use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};
use tracing_subscriber::EnvFilter;

mod logging;
mod metrics;

/// Parses a duration such as `6s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = num.parse().map_err(|_| format!("invalid duration `{s}`"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("invalid duration unit in `{s}` (use ms, s or m)")),
    };
    if secs <= 0.0 {
        return Err("duration must be positive".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// [`parse_duration`], or `0` (zero: off).
fn parse_interval(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" { Ok(Duration::ZERO) } else { parse_duration(s) }
}

/// dbc-node: an EVM chain for a decentralised GPU compute market.
#[derive(Debug, Parser)]
#[command(name = "dbc-node", version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Validator keys.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Writes a proof-of-stake genesis file (the dev genesis's rules and predeploys, a validator
    /// set, and only the balances asked for with --alloc / --dev-accounts).
    Genesis(GenesisArgs),
    /// Prints the p2p peer id of a data directory (creating its key if missing), for
    /// `--bootnodes`.
    PeerId {
        /// Data directory.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
enum AccountCmd {
    /// Generates a validator key into an encrypted (Web3 Secret Storage) keystore file and
    /// prints its address.
    New {
        /// Directory to write the keystore file into.
        #[arg(long, value_name = "DIR")]
        keystore: PathBuf,
        /// File whose first line is the password.
        #[arg(long = "password-file", value_name = "FILE")]
        password_file: PathBuf,
        /// File name (default: the key's UUID).
        #[arg(long)]
        name: Option<String>,
    },
    /// Prints the address of a keystore file (needs its password).
    Inspect {
        /// The keystore file.
        #[arg(value_name = "FILE")]
        keystore: PathBuf,
        /// File whose first line is the password.
        #[arg(long = "password-file", value_name = "FILE")]
        password_file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct GenesisArgs {
    /// A genesis validator's address (repeat for each).
    #[arg(long = "validator", value_name = "ADDRESS", required = true)]
    validators: Vec<alloy_primitives::Address>,
    /// Self-stake of each genesis validator, in DBC.
    #[arg(long, default_value_t = 100_000)]
    stake: u64,
    /// Seconds per slot.
    #[arg(long = "block-time", default_value_t = 6)]
    block_time: u64,
    /// Blocks per staking epoch.
    #[arg(long = "epoch-blocks", default_value_t = 14_400)]
    epoch_blocks: u64,
    /// Chain id.
    #[arg(long = "chain-id", default_value_t = 19_889)]
    chain_id: u64,
    /// Genesis timestamp (default: now).
    #[arg(long)]
    timestamp: Option<u64>,
    /// Fund an account: `ADDRESS=DBC` (whole DBC; repeat for each).
    #[arg(long = "alloc", value_name = "ADDRESS=DBC")]
    alloc: Vec<dbc_chainspec::GenesisAlloc>,
    /// Local test networks only: fund the first N accounts of the public test mnemonic
    /// ("test test … junk", anyone can sign for them) with 10,000 DBC each. Default: none.
    #[arg(long = "dev-accounts", value_name = "N", default_value_t = 0)]
    dev_accounts: usize,
    /// A JSON object merged into `config.dbc` (objects field by field, anything else
    /// replaced), e.g. `{"governance": {"referendumBlocks": 20}}`; the result is checked like
    /// `--chain` checks a file.
    #[arg(long = "config-dbc", value_name = "FILE")]
    config_dbc: Option<PathBuf>,
    /// Block gas limit of the genesis (default: the dev genesis's; producers then move it by
    /// at most 1/1024 a block towards their `--builder.gaslimit`).
    #[arg(long = "gas-limit", value_name = "GAS")]
    gas_limit: Option<u64>,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Running a node.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Run a single-validator development chain on the embedded dev genesis
    /// (genesis/dev.json): the standard test mnemonic's accounts are funded.
    #[arg(long)]
    dev: bool,

    /// Genesis file (geth format) for a non-dev chain.
    #[arg(long, value_name = "FILE")]
    chain: Option<PathBuf>,

    /// Seconds between dev blocks (`6s`, `500ms`, `1`); ignored with --dev.instant.
    #[arg(long = "dev.block-time", value_name = "DURATION", value_parser = parse_duration, default_value = "6s")]
    dev_block_time: Duration,

    /// Seal a dev block as soon as transactions arrive (anvil's automine) instead of on a timer.
    #[arg(long = "dev.instant")]
    dev_instant: bool,

    /// Number of dev-mnemonic accounts to fund in the dev genesis (at least the 10 of
    /// genesis/dev.json are always funded).
    #[arg(long = "dev.accounts", value_name = "N", default_value_t = 10)]
    dev_accounts: usize,

    /// Data directory (database, logs). Defaults to a temporary directory with --dev.
    #[arg(long, value_name = "DIR")]
    datadir: Option<PathBuf>,

    /// Enable the HTTP JSON-RPC server (always on with --dev).
    #[arg(long)]
    http: bool,

    /// HTTP server listen address.
    #[arg(long = "http.addr", default_value = "127.0.0.1")]
    http_addr: IpAddr,

    /// HTTP server port (0 picks a free port).
    #[arg(long = "http.port", default_value_t = 8545)]
    http_port: u16,

    /// Browser origins allowed to call the HTTP server (CORS), comma-separated, `*` for any.
    /// Without it the server sends no CORS headers, so web pages cannot call the node.
    #[arg(long = "http.corsdomain", value_name = "ORIGINS")]
    http_corsdomain: Option<String>,

    /// Host names HTTP requests may address (the `Host` header), comma-separated, `*` for any;
    /// IP addresses are always accepted. Guards against DNS rebinding.
    #[arg(long = "http.vhosts", value_name = "HOSTS", default_value = "localhost")]
    http_vhosts: String,

    /// RPC namespaces served over HTTP, comma-separated (eth, net, web3, txpool, debug, trace,
    /// ots, dbc) or `all`. Default: all with --dev, eth,net,web3,dbc otherwise.
    #[arg(long = "http.api", value_name = "LIST")]
    http_api: Option<ApiSet>,

    /// Enable the WebSocket JSON-RPC server (always on with --dev).
    #[arg(long)]
    ws: bool,

    /// WebSocket server listen address.
    #[arg(long = "ws.addr", default_value = "127.0.0.1")]
    ws_addr: IpAddr,

    /// WebSocket server port (0 picks a free port).
    #[arg(long = "ws.port", default_value_t = 8546)]
    ws_port: u16,

    /// RPC namespaces served over WebSocket (as --http.api). Default: all with --dev,
    /// eth,net,web3,dbc otherwise.
    #[arg(long = "ws.api", value_name = "LIST")]
    ws_api: Option<ApiSet>,

    /// Browser origins allowed to open WebSocket connections, comma-separated, `*` for any.
    /// Without it a connection that sends an `Origin` header (a web page) is refused.
    #[arg(long = "ws.origins", value_name = "ORIGINS")]
    ws_origins: Option<String>,

    /// TCP connections per RPC server.
    #[arg(long = "rpc.max-connections", value_name = "N", default_value_t = 200)]
    rpc_max_connections: u32,

    /// Largest RPC request (or WebSocket message), in MiB.
    #[arg(long = "rpc.max-request-size", value_name = "MB", default_value_t = 5)]
    rpc_max_request_size: u32,

    /// Largest RPC response, in MiB.
    #[arg(long = "rpc.max-response-size", value_name = "MB", default_value_t = 100)]
    rpc_max_response_size: u32,

    /// Subscriptions per WebSocket connection.
    #[arg(long = "rpc.max-subscriptions-per-connection", value_name = "N", default_value_t = 64)]
    rpc_max_subscriptions: u32,

    /// Calls per JSON-RPC batch.
    #[arg(long = "rpc.batch-request-limit", value_name = "N", default_value_t = 1000)]
    rpc_batch_request_limit: u32,

    /// Largest batch response, in bytes.
    #[arg(
        long = "rpc.batch-response-max-size",
        value_name = "BYTES",
        default_value_t = 25_000_000
    )]
    rpc_batch_response_max_size: u32,

    /// Block-scale requests (logs, proofs, traces, Otterscan, fee history, pool content,
    /// market lists) run at once; more wait in a bounded queue. Default: cores - 2, at least 2.
    #[arg(long = "rpc.max-tracing-requests", value_name = "N")]
    rpc_max_tracing_requests: Option<usize>,

    /// Blocks behind the head eth_getProof may be asked at. A proof at an earlier block undoes
    /// every change since it (at most 100,000 account and slot changes).
    #[arg(
        long = "rpc.eth-proof-window",
        value_name = "BLOCKS",
        default_value_t = dbc_rpc::proofs::DEFAULT_PROOF_WINDOW,
        value_parser = clap::value_parser!(u64).range(..=dbc_rpc::proofs::MAX_PROOF_WINDOW)
    )]
    rpc_eth_proof_window: u64,

    /// Deadline of a block-scale request (logs, proofs, traces, replays, dbc_auditSupply, …)
    /// and of a whole batch (`30s`, `2m`); past it the answer is -32002 "request timed out".
    #[arg(long = "rpc.request-timeout", value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    rpc_request_timeout: Duration,

    /// Gas cap of eth_call, eth_estimateGas and traced calls.
    #[arg(long = "rpc.gascap", value_name = "GAS", default_value_t = 50_000_000)]
    rpc_gascap: u64,

    /// Timeout of eth_call and eth_estimateGas (`5s`, `500ms`).
    #[arg(long = "rpc.evmtimeout", value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    rpc_evmtimeout: Duration,

    /// Gas limit of produced blocks (default: the genesis gas limit).
    #[arg(long = "builder.gaslimit", value_name = "GAS")]
    gas_limit: Option<u64>,

    /// RocksDB block cache shared by every table, in MiB.
    #[arg(long = "db.cache-size", value_name = "MIB", default_value_t = 256)]
    db_cache_size: usize,

    /// State-trie nodes kept in memory after a block (about 450 bytes each); past it the trie
    /// keeps only its top levels and reads the rest from the database as blocks need them.
    #[arg(long = "trie.cache-nodes", value_name = "NODES", default_value_t = 2_000_000)]
    trie_cache_nodes: usize,

    /// Maximum transactions in the pool.
    #[arg(long = "txpool.max-txs", default_value_t = 200_000)]
    txpool_max_txs: usize,

    /// Fee recipient of produced blocks.
    #[arg(long = "miner.etherbase", default_value = "0x0000000000000000000000000000000000000000")]
    etherbase: alloy_primitives::Address,

    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. `127.0.0.1:9001`; off by default).
    #[arg(long = "metrics", value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,

    /// Log filter (RUST_LOG syntax), e.g. `info,dbc::rpc=debug`.
    #[arg(long = "log.filter", default_value = "info")]
    log_filter: String,

    /// Log format: `terminal` (coloured only when stdout is a terminal) or `json` (one object
    /// per line, for log shippers).
    #[arg(long = "log.format", value_enum, default_value = "terminal")]
    log_format: logging::LogFormat,

    /// How often to log a status line (head, finalized, peers, pool, tx/s); `0` turns it off.
    #[arg(long = "log.status-interval", value_name = "DURATION", default_value = "30s", value_parser = parse_interval)]
    log_status_interval: Duration,

    /// Encrypted keystore file of this node's validator key (proof-of-stake chains). Without
    /// it the node follows the chain as a full node.
    #[arg(long = "validator.keystore", value_name = "FILE")]
    validator_keystore: Option<PathBuf>,

    /// File whose first line is the keystore's password.
    #[arg(long = "validator.password", value_name = "FILE")]
    validator_password: Option<PathBuf>,

    /// Address the p2p transport listens on.
    #[arg(long = "p2p.addr", default_value = "127.0.0.1")]
    p2p_addr: IpAddr,

    /// p2p TCP port (0 picks a free port).
    #[arg(long = "p2p.port", default_value_t = 30303)]
    p2p_port: u16,

    /// Peers to connect to and keep connected, comma-separated multiaddrs
    /// (`/ip4/127.0.0.1/tcp/30303/p2p/<peer id>`).
    #[arg(long, value_delimiter = ',')]
    bootnodes: Vec<String>,

    /// Test only: seal two different blocks for each own slot (double signing).
    #[arg(long = "dev.equivocate", hide = true)]
    dev_equivocate: bool,

    /// Test only: abort the process (like `kill -9`) right after sealing a block, before it is
    /// committed or gossiped, to test that a restarted validator never seals that slot again.
    #[arg(long = "dev.abort-after-seal", hide = true)]
    dev_abort_after_seal: bool,
}

fn read_password(path: &PathBuf) -> eyre::Result<String> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("reading password file {}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

fn account(cmd: AccountCmd) -> eyre::Result<()> {
    match cmd {
        AccountCmd::New { keystore, password_file, name } => {
            let password = read_password(&password_file)?;
            std::fs::create_dir_all(&keystore)
                .wrap_err_with(|| format!("creating {}", keystore.display()))?;
            let (signer, uuid) = PrivateKeySigner::new_keystore(
                &keystore,
                &mut rand08::thread_rng(),
                password,
                name.as_deref(),
            )?;
            let file = keystore.join(name.unwrap_or(uuid));
            println!("{}", signer.address());
            eprintln!("keystore written to {}", file.display());
        }
        AccountCmd::Inspect { keystore, password_file } => {
            let password = read_password(&password_file)?;
            let signer = PrivateKeySigner::decrypt_keystore(&keystore, password)
                .wrap_err("decrypting the keystore (wrong password?)")?;
            println!("{}", signer.address());
        }
    }
    Ok(())
}

fn genesis(a: GenesisArgs) -> eyre::Result<()> {
    use alloy_primitives::U256;
    let timestamp = a.timestamp.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    });
    // The dev genesis's rules and predeploys, the validators, and only the balances asked for
    // (no test-mnemonic account unless `--dev-accounts`); checked like `--chain` would.
    let text = dbc_chainspec::pos_genesis_json(&dbc_chainspec::PosGenesis {
        validators: a.validators,
        stake: U256::from(a.stake) * U256::from(dbc_chainspec::DBC),
        commission_bps: 1_000,
        block_time_secs: a.block_time,
        epoch_blocks: a.epoch_blocks,
        chain_id: a.chain_id,
        timestamp,
        dev_accounts: a.dev_accounts,
        alloc: a.alloc,
    })?;
    let text = match a.gas_limit {
        None => text,
        Some(gas) => {
            eyre::ensure!(gas >= 5_000, "--gas-limit must be at least 5000");
            let mut g: serde_json::Value = serde_json::from_str(&text)?;
            g["gasLimit"] = format!("{gas:#x}").into();
            let text = serde_json::to_string_pretty(&g)?;
            dbc_chainspec::ChainSpec::from_json(&text).wrap_err("the genesis with --gas-limit")?;
            text
        }
    };
    let text = match &a.config_dbc {
        None => text,
        Some(path) => {
            let read = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("reading {}", path.display()))?;
            let changes: serde_json::Value = serde_json::from_str(&read)
                .wrap_err_with(|| format!("{} is not JSON", path.display()))?;
            eyre::ensure!(changes.is_object(), "{} must hold a JSON object", path.display());
            let mut g: serde_json::Value = serde_json::from_str(&text)?;
            merge_json(&mut g["config"]["dbc"], changes);
            let text = serde_json::to_string_pretty(&g)?;
            dbc_chainspec::ChainSpec::from_json(&text)
                .wrap_err_with(|| format!("the genesis with {} merged", path.display()))?;
            text
        }
    };
    std::fs::write(&a.out, text).wrap_err_with(|| format!("writing {}", a.out.display()))?;
    eprintln!("genesis written to {}", a.out.display());
    Ok(())
}

/// Merges `changes` into `into`: objects field by field, anything else replaced.
fn merge_json(into: &mut serde_json::Value, changes: serde_json::Value) {
    match (into, changes) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge_json(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The RPC servers' settings from the flags.
fn rpc_config(cli: &RunArgs) -> RpcConfig {
    // A dev chain serves every namespace (tools like Otterscan and `cast run` need them);
    // another chain serves reth's standard ones plus the market's `dbc`.
    let default_api = if cli.dev { ApiSet::all() } else { ApiSet::standard() };
    let mib = |n: u32| n.saturating_mul(1024 * 1024);
    let defaults = RpcLimits::default();
    RpcConfig {
        http: Some((cli.http_addr, cli.http_port).into()),
        ws: Some((cli.ws_addr, cli.ws_port).into()),
        cors: cli.http_corsdomain.clone(),
        vhosts: vec![cli.http_vhosts.clone()],
        ws_origins: cli.ws_origins.clone(),
        http_api: cli.http_api.clone().unwrap_or_else(|| default_api.clone()),
        ws_api: cli.ws_api.clone().unwrap_or(default_api),
        limits: RpcLimits {
            max_connections: cli.rpc_max_connections.max(1),
            max_request_size: mib(cli.rpc_max_request_size.max(1)),
            max_response_size: mib(cli.rpc_max_response_size.max(1)),
            max_subscriptions_per_connection: cli.rpc_max_subscriptions,
            batch_request_limit: cli.rpc_batch_request_limit,
            batch_response_max_size: cli.rpc_batch_response_max_size,
            max_block_scale_requests: cli
                .rpc_max_tracing_requests
                .unwrap_or(defaults.max_block_scale_requests)
                .max(1),
            gas_cap: cli.rpc_gascap,
            evm_timeout: cli.rpc_evmtimeout,
            eth_proof_window: cli.rpc_eth_proof_window,
            request_timeout: cli.rpc_request_timeout,
            ..defaults
        },
    }
}

/// jemalloc as the process's allocator, unprefixed so that RocksDB's memtables and block cache
/// use it too (as reth does). Under a sustained import on a 10M-account state glibc's malloc
/// held ~560 MiB more for the same work (`docs/benchmarks.md`, "the resident trie").
#[cfg(all(feature = "jemalloc", unix))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let Cli { cmd, run: cli } = Cli::parse();
    match cmd {
        Some(Cmd::Account(c)) => return account(c),
        Some(Cmd::Genesis(a)) => return genesis(a),
        Some(Cmd::PeerId { datadir }) => {
            println!("{}", dbc_network::peer_id_of(&datadir.join("p2p_key"))?);
            return Ok(());
        }
        None => {}
    }
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.log_filter.clone()));
    logging::init(filter, cli.log_format);

    if !cli.dev && cli.chain.is_none() {
        bail!("pass --dev for a development chain, or --chain <genesis.json> --datadir <DIR>");
    }
    if !cli.dev && cli.datadir.is_none() {
        bail!("--datadir is required without --dev");
    }
    let spec = match &cli.chain {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("reading {}", path.display()))?;
            ChainSpec::from_json(&json)?
        }
        None => ChainSpec::dev(cli.dev_accounts)?,
    };
    let datadir = match cli.datadir.clone() {
        Some(d) => d,
        None => {
            let dir = std::env::temp_dir().join(format!("dbc-node-dev-{}", std::process::id()));
            tracing::info!(path = %dir.display(), "no --datadir: using a temporary directory");
            dir
        }
    };
    let mode =
        if cli.dev_instant { DevMode::Instant } else { DevMode::Interval(cli.dev_block_time) };
    let spec = Arc::new(spec);
    let config = NodeConfig {
        datadir,
        spec: spec.clone(),
        rpc: rpc_config(&cli),
        pool: PoolConfig { max_txs: cli.txpool_max_txs, ..Default::default() },
        gas_limit: cli.gas_limit,
        cache: CacheConfig {
            db_bytes: cli.db_cache_size.saturating_mul(1 << 20),
            trie_nodes: cli.trie_cache_nodes,
        },
    };
    if let Some(addr) = cli.metrics {
        metrics::install(addr)?;
    }
    let node = if cli.dev {
        tracing::info!(chain_id = config.spec.chain_id, ?mode, datadir = %config.datadir.display(), "starting dbc-node");
        let accounts = cli.dev_accounts.max(10);
        launch_dev(config, DevEngine::new(mode, cli.etherbase), accounts).await?
    } else {
        if config.spec.dbc.staking.validators.is_empty() {
            bail!("the genesis has no validators (config.dbc.staking.validators)");
        }
        let signer = match (&cli.validator_keystore, &cli.validator_password) {
            (Some(k), Some(p)) => Some(
                PrivateKeySigner::decrypt_keystore(k, read_password(p)?)
                    .wrap_err_with(|| format!("unlocking {} (wrong password?)", k.display()))?,
            ),
            (None, None) => None,
            _ => bail!("--validator.keystore and --validator.password go together"),
        };
        let bootnodes = cli
            .bootnodes
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| b.parse().wrap_err_with(|| format!("bad bootnode {b}")))
            .collect::<eyre::Result<Vec<_>>>()?;
        let listen = format!(
            "/{}/{}/tcp/{}",
            if cli.p2p_addr.is_ipv4() { "ip4" } else { "ip6" },
            cli.p2p_addr,
            cli.p2p_port
        )
        .parse()?;
        let pos = PosConfig {
            network: dbc_network::NetworkConfig {
                listen,
                bootnodes,
                key_file: config.datadir.join("p2p_key"),
                status_interval: Duration::from_secs(2),
                ..Default::default()
            },
            signer,
            equivocate: cli.dev_equivocate,
            abort_after_seal: cli.dev_abort_after_seal,
        };
        tracing::info!(
            chain_id = config.spec.chain_id,
            validator = ?pos.signer.as_ref().map(|s| s.address()),
            datadir = %config.datadir.display(),
            "starting dbc-node (proof of stake)"
        );
        launch_pos(config, pos).await?
    };
    if cli.metrics.is_some() {
        metrics::start_samplers(&node, spec.clone());
    }
    if !cli.log_status_interval.is_zero() {
        logging::spawn_status(&node, cli.log_status_interval);
    }
    let storage = node.chain.storage().clone();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = node.wait() => r?,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
        () = terminate => tracing::info!("terminated; shutting down"),
    }
    // A clean stop leaves no log to replay: the next start opens at once.
    storage.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(args: &[&str]) -> Result<RpcLimits, clap::Error> {
        let cli = Cli::try_parse_from(["dbc-node"].iter().chain(args))?;
        Ok(rpc_config(&cli.run).limits)
    }

    #[test]
    fn rpc_deadline_and_proof_window_flags_reach_the_limits() {
        let defaults = limits(&["--dev"]).unwrap();
        assert_eq!(defaults.request_timeout, Duration::from_secs(30));
        assert_eq!(defaults.eth_proof_window, dbc_rpc::proofs::DEFAULT_PROOF_WINDOW);
        let set = limits(&["--dev", "--rpc.request-timeout", "2m", "--rpc.eth-proof-window", "5"])
            .unwrap();
        assert_eq!(set.request_timeout, Duration::from_secs(120));
        assert_eq!(set.eth_proof_window, 5);
        // reth's largest window, and no more.
        let max = dbc_rpc::proofs::MAX_PROOF_WINDOW.to_string();
        assert_eq!(limits(&["--rpc.eth-proof-window", &max]).unwrap().eth_proof_window, 1_209_600);
        let past = (dbc_rpc::proofs::MAX_PROOF_WINDOW + 1).to_string();
        assert!(limits(&["--rpc.eth-proof-window", &past]).is_err());
        assert!(limits(&["--rpc.request-timeout", "0s"]).is_err());
    }
}

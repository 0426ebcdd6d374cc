//! `dbc-node`: the DeepBrainChain-style AI compute chain node.

use clap::Parser;
use dbc_chainspec::ChainSpec;
use dbc_consensus::{DevEngine, DevMode};
use dbc_node_lib::{NodeConfig, launch};
use dbc_rpc::RpcConfig;
use dbc_txpool::PoolConfig;
use eyre::{Context, bail};
use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};
use tracing_subscriber::EnvFilter;

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

/// dbc-node: an EVM chain for a decentralised GPU compute market.
#[derive(Debug, Parser)]
#[command(name = "dbc-node", version, about, long_about = None)]
struct Cli {
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

    /// Allowed CORS origins for HTTP, comma-separated, `*` for any.
    #[arg(long = "http.corsdomain", default_value = "*")]
    http_corsdomain: String,

    /// Enable the WebSocket JSON-RPC server (always on with --dev).
    #[arg(long)]
    ws: bool,

    /// WebSocket server listen address.
    #[arg(long = "ws.addr", default_value = "127.0.0.1")]
    ws_addr: IpAddr,

    /// WebSocket server port (0 picks a free port).
    #[arg(long = "ws.port", default_value_t = 8546)]
    ws_port: u16,

    /// Gas limit of produced blocks (default: the genesis gas limit).
    #[arg(long = "builder.gaslimit", value_name = "GAS")]
    gas_limit: Option<u64>,

    /// Maximum transactions in the pool.
    #[arg(long = "txpool.max-txs", default_value_t = 200_000)]
    txpool_max_txs: usize,

    /// Fee recipient of produced blocks.
    #[arg(long = "miner.etherbase", default_value = "0x0000000000000000000000000000000000000000")]
    etherbase: alloy_primitives::Address,

    /// Log filter (RUST_LOG syntax), e.g. `info,dbc::rpc=debug`.
    #[arg(long = "log.filter", default_value = "info")]
    log_filter: String,
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.log_filter.clone()));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();

    if !cli.dev {
        bail!("only --dev chains are supported by this build; run `dbc-node --dev`");
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
    let config = NodeConfig {
        datadir,
        spec: Arc::new(spec),
        rpc: RpcConfig {
            http: Some((cli.http_addr, cli.http_port).into()),
            ws: Some((cli.ws_addr, cli.ws_port).into()),
            cors: Some(cli.http_corsdomain.clone()),
        },
        pool: PoolConfig { max_txs: cli.txpool_max_txs, ..Default::default() },
        gas_limit: cli.gas_limit,
    };
    tracing::info!(chain_id = config.spec.chain_id, ?mode, datadir = %config.datadir.display(), "starting dbc-node");
    let node = launch(config, DevEngine::new(mode, cli.etherbase)).await?;
    tokio::select! {
        r = node.wait() => r?,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}

//! `dbc-agent`: the off-chain half of the GPU market, one command per role.
//!
//! - `provider`: reads the machine's GPUs (or a `--spec-file`), registers the machine with its
//!   stake, publishes its endpoint, answers auditors with the machine key, sends heartbeats.
//! - `auditor`: joins the committee, checks the machines it is drawn for, commits and reveals.
//! - `renter`: rents, reaches the rental's workload (details sealed to its key), ends rentals.
//! - `key`: creates or imports encrypted keystores; `detect`: prints the hardware found.

mod access;
mod attest;
mod auditor;
mod bench;
mod chain;
mod endpoint;
mod hw;
mod keys;
mod provider;
mod renter;
mod rpc;
mod sig;
mod state;
mod workload;

use alloy_primitives::{B256, U256};
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Parser, Subcommand};
use eyre::{Context, bail};
use serde::Deserialize;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// The off-chain half of the dbc GPU market.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML file with the same settings as the flags (flags win): `rpc`, `key`, `data-dir`,
    /// `password-file` at the top, role settings under `[provider]` and `[auditor]`.
    #[arg(long, global = true, env = "DBC_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// File whose first line unlocks the keystores (else `DBC_AGENT_PASSWORD`).
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// Log format: `terminal` or `json` (one object per line).
    #[arg(long = "log.format", global = true, default_value = "terminal")]
    log_format: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs a GPU provider: registers the machine, answers auditors, keeps it online.
    Provider(Box<ProviderArgs>),
    /// Runs an auditor of the verification committee.
    Auditor(AuditorArgs),
    /// Rents machines and reaches their workloads.
    Renter(RenterArgs),
    /// Creates or imports an encrypted keystore, or prints its address.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Runs the auditors' compute challenge (the built-in CPU implementation) and prints its
    /// row digests, one a line; the seed and size default to `DBC_BENCH_SEED` / `DBC_BENCH_N`.
    Bench {
        /// The seed (0x-hex, 32 bytes).
        #[arg(long, env = "DBC_BENCH_SEED")]
        seed: B256,
        /// The size `n`.
        #[arg(long, env = "DBC_BENCH_N")]
        n: u32,
    },
    /// Prints the hardware this machine would register (JSON).
    Detect {
        /// Declare the hardware in a file instead of reading it.
        #[arg(long)]
        spec_file: Option<PathBuf>,
        /// The disk whose size is reported.
        #[arg(long, default_value = "/")]
        disk: PathBuf,
    },
}

/// Settings every role shares.
#[derive(Debug, Args)]
struct Common {
    /// The node's HTTP JSON-RPC URL.
    #[arg(long)]
    rpc: Option<String>,
    /// The keystore of the account that pays (the machine's owner, or the auditor).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Where the agent keeps its state (and the provider its machine key).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ProviderArgs {
    #[command(flatten)]
    common: Common,
    /// Declare the hardware in a TOML/JSON file instead of reading it (tests, air-gapped hosts).
    #[arg(long)]
    spec_file: Option<PathBuf>,
    /// The disk whose size is reported.
    #[arg(long)]
    disk: Option<PathBuf>,
    /// Region published with the machine (≤ 32 bytes).
    #[arg(long)]
    region: Option<String>,
    /// Machine id (default: derived from the machine key).
    #[arg(long)]
    machine_id: Option<B256>,
    /// Address the attestation endpoint listens on.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// URL published on chain for auditors and renters (default `http://<listen>`).
    #[arg(long)]
    endpoint: Option<String>,
    /// Blocks between heartbeats (keep it well under the market's heartbeat timeout).
    #[arg(long)]
    heartbeat_every: Option<u64>,
    /// Requests a second one client address may send the endpoint over time (default 5).
    #[arg(long)]
    endpoint_rate: Option<f64>,
    /// Requests one client address may send the endpoint at once (default 20).
    #[arg(long)]
    endpoint_burst: Option<f64>,
    /// The GPU implementation of the auditors' compute challenge: gets `DBC_BENCH_SEED` and
    /// `DBC_BENCH_N`, prints the row digests (docs/agent.md); default: the built-in CPU one.
    #[arg(long)]
    benchmark_cmd: Option<String>,
    /// The command a renter's workload runs (process backend; gets `PORT`, `DBC_ACCESS_TOKEN`
    /// and `CUDA_VISIBLE_DEVICES`); without it (or an image) renters get no workload.
    #[arg(long)]
    workload_cmd: Option<String>,
    /// Where workloads run: `auto` (podman, else docker, whichever `info` works, once an image
    /// is configured; else processes), `podman`, `docker` or `none` (processes).
    #[arg(long, value_enum)]
    container_runtime: Option<workload::container::RuntimeChoice>,
    /// The image a renter's workload runs unless the renter names another (container backend).
    #[arg(long)]
    workload_image: Option<String>,
    /// Images a renter may name (default: only `--workload-image`); a trailing `*` allows a
    /// prefix, e.g. `ghcr.io/acme/*`.
    #[arg(long, value_delimiter = ',')]
    allowed_images: Vec<String>,
    /// One-click mining, `PROJECT=IMAGE` (repeatable; the first the machine is enrolled in
    /// runs on all GPUs while the machine is online and no renter's workload runs).
    #[arg(long)]
    mine: Vec<workload::Mine>,
    /// One-click mining with the process backend, `PROJECT=CMD` (repeatable).
    #[arg(long)]
    mine_cmd: Vec<workload::Mine>,
    /// Project-mining programmes (ids) to enrol the machine in once it is online (with the
    /// projects of `--mine`/`--mine-cmd`).
    #[arg(long, value_delimiter = ',')]
    projects: Vec<u64>,
}

#[derive(Debug, Args)]
struct RenterArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: RenterCmd,
}

#[derive(Debug, Subcommand)]
enum RenterCmd {
    /// Rents GPUs of a machine at its quoted price; prints the rental id.
    Rent {
        /// The machine.
        #[arg(long)]
        machine: B256,
        /// GPUs to rent.
        #[arg(long, default_value_t = 1)]
        gpus: u32,
        /// Blocks to rent for (a multiple of the market's rent unit).
        #[arg(long)]
        blocks: u64,
    },
    /// Reaches a rental's workload: prints its connection details (JSON).
    Access {
        /// The rental.
        #[arg(long)]
        rental: u64,
        /// The image the workload runs (one the provider allows; default: the provider's).
        #[arg(long, default_value = "")]
        image: String,
        /// An SSH public key file (`.pub`) let in as root into the workload's container.
        #[arg(long)]
        ssh_key: Option<PathBuf>,
    },
    /// Reports a fault of the rental's machine (with the market's deposit); prints the report
    /// id.
    Report {
        /// The rental.
        #[arg(long)]
        rental: u64,
    },
    /// Ends a rental early.
    End {
        /// The rental.
        #[arg(long)]
        rental: u64,
    },
}

#[derive(Debug, Args)]
struct AuditorArgs {
    #[command(flatten)]
    common: Common,
    /// Committee stake in DBC to join with (default: the minimum).
    #[arg(long)]
    stake: Option<u64>,
    /// Blocks scanned back for draws on the first start.
    #[arg(long)]
    lookback: Option<u64>,
    /// The node's WebSocket URL (`ws://…`): new heads wake the auditor instead of polling.
    #[arg(long)]
    ws: Option<String>,
    /// Size `n` of the compute challenge (`n³` multiply-adds on the machine).
    #[arg(long)]
    bench_size: Option<u32>,
    /// Calibration: measured GOPS (10⁹ operations a second) per calc point.
    #[arg(long)]
    bench_gops_per_point: Option<f64>,
    /// A challenged machine measured this far below its table value (basis points) is faulty.
    #[arg(long)]
    bench_tolerance_bps: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Creates a keystore with a new random key.
    New {
        /// The keystore file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Encrypts an existing private key (from `DBC_AGENT_PRIVATE_KEY` or `--private-key`).
    Import {
        /// The keystore file to write.
        #[arg(long)]
        out: PathBuf,
        /// Hex private key (prefer the environment variable: flags show in `ps`).
        #[arg(long, env = "DBC_AGENT_PRIVATE_KEY", hide_env_values = true)]
        private_key: String,
    },
    /// Prints a keystore's address.
    Address {
        /// The keystore file.
        keystore: PathBuf,
    },
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    rpc: Option<String>,
    key: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    password_file: Option<PathBuf>,
    #[serde(default)]
    provider: ProviderConfig,
    #[serde(default)]
    auditor: AuditorConfig,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ProviderConfig {
    spec_file: Option<PathBuf>,
    disk: Option<PathBuf>,
    region: Option<String>,
    machine_id: Option<B256>,
    listen: Option<SocketAddr>,
    endpoint: Option<String>,
    heartbeat_every: Option<u64>,
    endpoint_rate: Option<f64>,
    endpoint_burst: Option<f64>,
    benchmark_cmd: Option<String>,
    workload_cmd: Option<String>,
    container_runtime: Option<workload::container::RuntimeChoice>,
    workload_image: Option<String>,
    #[serde(default)]
    allowed_images: Vec<String>,
    #[serde(default)]
    mine: Vec<workload::Mine>,
    #[serde(default)]
    mine_cmd: Vec<workload::Mine>,
    #[serde(default)]
    projects: Vec<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct AuditorConfig {
    stake: Option<u64>,
    lookback: Option<u64>,
    ws: Option<String>,
    bench_size: Option<u32>,
    bench_gops_per_point: Option<f64>,
    bench_tolerance_bps: Option<u32>,
}

/// A list setting: the flags' if given, else the config file's.
fn flag_or_config<T>(flag: Vec<T>, config: Vec<T>) -> Vec<T> {
    if flag.is_empty() { config } else { flag }
}

fn load_config(path: Option<&Path>) -> eyre::Result<Config> {
    let Some(path) = path else { return Ok(Config::default()) };
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("reading the config {}", path.display()))?;
    toml::from_str(&text).wrap_err_with(|| format!("in the config {}", path.display()))
}

/// The resolved shared settings.
struct Resolved {
    rpc: String,
    key: PathBuf,
    data_dir: PathBuf,
    password: keys::Password,
}

fn resolve(common: Common, cfg: &Config, password_file: Option<PathBuf>) -> eyre::Result<Resolved> {
    let rpc = common
        .rpc
        .or_else(|| cfg.rpc.clone())
        .unwrap_or_else(|| "http://127.0.0.1:8545".to_owned());
    let Some(key) = common.key.or_else(|| cfg.key.clone()) else {
        bail!("no key: pass --key <keystore> (create one with `dbc-agent key new --out FILE`)");
    };
    let data_dir = common.data_dir.or_else(|| cfg.data_dir.clone()).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".dbc-agent")
    });
    let password = keys::Password { file: password_file.or_else(|| cfg.password_file.clone()) };
    Ok(Resolved { rpc, key, data_dir, password })
}

async fn wallet(r: &Resolved, rpc: &rpc::Rpc) -> eyre::Result<rpc::Wallet> {
    let key = keys::load(&r.key, &r.password)?;
    let chain_id =
        rpc.chain_id().await.wrap_err_with(|| format!("reaching the node at {}", rpc.url()))?;
    Ok(rpc::Wallet::new(key, chain_id))
}

fn init_logs(format: &str) -> eyre::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr: stdout carries the commands' results (a rental id, an address, JSON).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match format {
        "json" => fmt.json().init(),
        "terminal" => fmt.with_ansi(ansi).init(),
        other => bail!("--log.format is `terminal` or `json`, not {other:?}"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    init_logs(&cli.log_format)?;
    let cfg = load_config(cli.config.as_deref())?;
    // SIGINT/SIGTERM stop between steps: every decision that matters is on disk before its
    // transaction is sent, and a restart resumes from the chain and the state files.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = run(cli, cfg) => r,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupted; stopping");
            Ok(())
        }
        _ = term.recv() => {
            tracing::info!("terminated; stopping");
            Ok(())
        }
    }
}

async fn run(cli: Cli, cfg: Config) -> eyre::Result<()> {
    match cli.cmd {
        Cmd::Key(k) => {
            let password = keys::Password {
                file: cli.password_file.clone().or_else(|| cfg.password_file.clone()),
            };
            match k {
                KeyCmd::New { out } => {
                    let key = PrivateKeySigner::random();
                    keys::save(&out, &key, &password)?;
                    println!("{}", key.address());
                }
                KeyCmd::Import { out, private_key } => {
                    let key: PrivateKeySigner = private_key
                        .trim()
                        .parse()
                        .map_err(|e| eyre::eyre!("not a private key: {e}"))?;
                    keys::save(&out, &key, &password)?;
                    println!("{}", key.address());
                }
                KeyCmd::Address { keystore } => {
                    println!("{}", keys::load(&keystore, &password)?.address());
                }
            }
            Ok(())
        }
        Cmd::Bench { seed, n } => {
            if !(bench::MIN_N..=bench::MAX_N).contains(&n) {
                bail!("the size must be {}..={}", bench::MIN_N, bench::MAX_N);
            }
            let rows: String = bench::compute(seed, n).iter().map(|r| format!("{r}\n")).collect();
            print!("{rows}");
            Ok(())
        }
        Cmd::Detect { spec_file, disk } => {
            let d = match spec_file {
                Some(p) => hw::from_spec_file(&hw::load_spec_file(&p)?),
                None => {
                    let report = hw::detect_gpus()?;
                    hw::from_report(&report, &hw::detect_host(&disk)?)?
                }
            };
            println!("{}", serde_json::to_string_pretty(&d)?);
            Ok(())
        }
        Cmd::Provider(a) => {
            let p = cfg.provider.clone();
            let r = resolve(a.common, &cfg, cli.password_file)?;
            let rpc = rpc::Rpc::new(&r.rpc)?;
            let owner = wallet(&r, &rpc).await?;
            let chain_id = rpc.chain_id().await?;
            let machine_key =
                keys::load_or_create(&r.data_dir.join("machine-key.json"), &r.password)?;
            let workloads = workload::Settings {
                runtime: a.container_runtime.or(p.container_runtime).unwrap_or_default(),
                workload_cmd: a.workload_cmd.or(p.workload_cmd),
                workload_image: a.workload_image.or(p.workload_image),
                allowed_images: flag_or_config(a.allowed_images, p.allowed_images),
                mine: flag_or_config(a.mine, p.mine),
                mine_cmd: flag_or_config(a.mine_cmd, p.mine_cmd),
            };
            let mut projects = flag_or_config(a.projects, p.projects);
            for m in workloads.mine.iter().chain(&workloads.mine_cmd) {
                if !projects.contains(&m.project) {
                    projects.push(m.project);
                }
            }
            provider::Provider {
                rpc: std::sync::Arc::new(rpc),
                chain_id,
                owner,
                machine_key,
                spec_file: a.spec_file.or(p.spec_file),
                disk_path: a.disk.or(p.disk).unwrap_or_else(|| PathBuf::from("/")),
                region: a.region.or(p.region).unwrap_or_default(),
                machine_id: a.machine_id.or(p.machine_id),
                listen: a
                    .listen
                    .or(p.listen)
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7070))),
                endpoint: a.endpoint.or(p.endpoint),
                heartbeat_every: a.heartbeat_every.or(p.heartbeat_every).unwrap_or(20).max(1),
                benchmark_cmd: a.benchmark_cmd.or(p.benchmark_cmd),
                endpoint_limits: endpoint::Limits {
                    per_sec: a.endpoint_rate.or(p.endpoint_rate).unwrap_or(5.0).max(0.0),
                    burst: a.endpoint_burst.or(p.endpoint_burst).unwrap_or(20.0).max(1.0),
                    ..endpoint::Limits::default()
                },
                workloads,
                data_dir: r.data_dir.clone(),
                projects,
            }
            .run()
            .await
        }
        Cmd::Renter(a) => {
            let r = resolve(a.common, &cfg, cli.password_file)?;
            let rpc = rpc::Rpc::new(&r.rpc)?;
            let w = wallet(&r, &rpc).await?;
            match a.cmd {
                RenterCmd::Rent { machine, gpus, blocks } => {
                    println!("{}", renter::rent(&rpc, &w, machine, gpus, blocks).await?);
                }
                RenterCmd::Access { rental, image, ssh_key } => {
                    let key = keys::load(&r.key, &r.password)?;
                    let chain_id = rpc.chain_id().await?;
                    let ssh_key = match ssh_key {
                        Some(path) => renter::read_ssh_key(&path)?,
                        None => String::new(),
                    };
                    let d = renter::access(&rpc, &key, chain_id, rental, image, ssh_key).await?;
                    println!("{}", serde_json::to_string_pretty(&d)?);
                }
                RenterCmd::Report { rental } => {
                    println!("{}", renter::report(&rpc, &w, rental).await?);
                }
                RenterCmd::End { rental } => renter::end(&rpc, &w, rental).await?,
            }
            Ok(())
        }
        Cmd::Auditor(a) => {
            let stake = a.stake.or(cfg.auditor.stake);
            let lookback = a.lookback.or(cfg.auditor.lookback).unwrap_or(600);
            let ws = a.ws.or(cfg.auditor.ws.clone());
            let r = resolve(a.common, &cfg, cli.password_file)?;
            let rpc = rpc::Rpc::new(&r.rpc)?;
            let wallet = wallet(&r, &rpc).await?;
            let state = state::Persisted::new(
                r.data_dir.join(format!("auditor-{}.json", wallet.address())),
            );
            auditor::Auditor {
                rpc,
                wallet,
                state,
                stake: stake.map(|d| U256::from(d) * U256::from(10u64).pow(U256::from(18))),
                lookback,
                ws,
                checks: auditor::Checks::default(),
                bench: auditor::BenchSettings {
                    n: a.bench_size.or(cfg.auditor.bench_size).unwrap_or(4_096),
                    gops_per_point: a
                        .bench_gops_per_point
                        .or(cfg.auditor.bench_gops_per_point)
                        .unwrap_or(20.0),
                    tolerance_bps: a
                        .bench_tolerance_bps
                        .or(cfg.auditor.bench_tolerance_bps)
                        .unwrap_or(1_000),
                },
            }
            .run()
            .await
        }
    }
}

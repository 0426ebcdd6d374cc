//! `dbc-bench sync`: how fast a fresh node syncs a proof-of-stake chain from a peer over the
//! real network stack (libp2p request/response, decode, seal and header checks, re-execution,
//! state root, commit). A source chain of sealed blocks of native transfers is built directly
//! into a datadir, served by one node; a second node with an empty datadir syncs it.

use alloy_primitives::{Address, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_chainspec::{ChainSpec, DEV_GENESIS_JSON, STAKING_ADDRESS};
use dbc_evm::BlockAttributes;
use dbc_node_lib::{NodeConfig, PosConfig, init_genesis, launch_pos, rebuild_trie};
use dbc_primitives::{
    Sealable,
    pos::{self, ConsensusExtra},
};
use dbc_storage::Storage;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// Arguments of `dbc-bench sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
    /// Blocks in the source chain.
    #[arg(long, default_value_t = 2_000)]
    blocks: usize,
    /// Native transfers per block.
    #[arg(long, default_value_t = 100)]
    txs_per_block: usize,
    /// Distinct senders.
    #[arg(long, default_value_t = 100)]
    senders: usize,
    /// Nodes serving the chain (copies of one datadir); the fresh node syncs from all of them.
    #[arg(long, default_value_t = 1)]
    peers: usize,
}

/// Copies a closed datadir's files.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> eyre::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn pos_spec(validator: Address, blocks: usize) -> eyre::Result<ChainSpec> {
    let mut g: serde_json::Value = serde_json::from_str(DEV_GENESIS_JSON)?;
    let staking = dbc_chainspec::StakingParams {
        validators: vec![dbc_chainspec::GenesisValidator {
            address: validator,
            stake: U256::from(100_000u64) * U256::from(dbc_chainspec::DBC),
            commission_bps: 0,
        }],
        ..Default::default()
    };
    let balance = staking.genesis_stake() + staking.reward_pool;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    g["timestamp"] = format!("{:#x}", now - blocks as u64 - 60).into();
    g["config"]["dbc"] = serde_json::json!({
        "version": dbc_chainspec::GENESIS_FORMAT,
        "blockTimeSecs": 1,
        "staking": staking,
    });
    g["alloc"][STAKING_ADDRESS.to_string().to_lowercase()] =
        serde_json::json!({ "balance": format!("{balance:#x}") });
    Ok(ChainSpec::from_json(&g.to_string())?)
}

fn free_port() -> eyre::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn node_config(datadir: std::path::PathBuf, spec: &Arc<ChainSpec>) -> NodeConfig {
    NodeConfig {
        datadir,
        spec: spec.clone(),
        rpc: dbc_rpc::RpcConfig { http: None, ws: None, cors: None, ..Default::default() },
        pool: Default::default(),
        gas_limit: None,
        cache: Default::default(),
    }
}

fn pos_config(
    datadir: &std::path::Path,
    port: u16,
    bootnodes: Vec<dbc_network::Addr>,
) -> eyre::Result<PosConfig> {
    Ok(PosConfig {
        network: dbc_network::NetworkConfig {
            listen: format!("/ip4/127.0.0.1/tcp/{port}").parse()?,
            bootnodes,
            key_file: datadir.join("p2p_key"),
            status_interval: Duration::from_millis(500),
            ..Default::default()
        },
        signer: None,
        equivocate: false,
        abort_after_seal: false,
    })
}

pub(crate) fn run(args: &SyncArgs) -> eyre::Result<()> {
    let validator = PrivateKeySigner::from_bytes(&keccak256("dbc-bench-validator"))?;
    let spec = pos_spec(validator.address(), args.blocks)?;
    let w = crate::workload_on(spec, args.senders, args.txs_per_block, args.blocks)?;
    let spec = Arc::new(w.spec.clone());

    eprintln!("building {} sealed blocks × {} transfers …", args.blocks, args.txs_per_block);
    let src = tempfile::tempdir()?;
    {
        let storage = Storage::open(src.path().join("db"))?;
        init_genesis(&storage, &spec)?;
        let mut trie = rebuild_trie(&storage)?;
        let mut parent = storage.header(0)?.ok_or_else(|| eyre::eyre!("no genesis"))?;
        for txs in &w.blocks {
            let (randao, mix) = dbc_consensus::vrf::reveal(validator.credential(), parent.inner())?;
            let extra = ConsensusExtra { finality: vec![], randao: randao.to_vec().into() };
            let attrs = BlockAttributes {
                timestamp: parent.timestamp + 1,
                beneficiary: validator.address(),
                extra_data: pos::unsealed_extra(b"dbc-bench", &extra),
                gas_limit: parent.gas_limit,
                staking_hook: Some((validator.address(), vec![])),
                prev_randao: Some(mix),
            };
            let mut executed =
                crate::build_all(&spec, &parent, storage.latest(), attrs, txs.to_vec(), &mut trie)?;
            let header = executed.block.header.inner().clone();
            let sig = validator.sign_hash_sync(&pos::seal_hash(&header, false))?;
            executed.block.header = pos::apply_seal(header, &sig).seal_slow();
            storage.commit_block(&executed.block, &executed.receipts, &executed.changes)?;
            parent = executed.block.header;
        }
    }

    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        // The serving nodes: the built datadir and copies of its database (each its own key).
        let mut copies = Vec::new();
        for _ in 1..args.peers.max(1) {
            let dir = tempfile::tempdir()?;
            copy_dir(&src.path().join("db"), &dir.path().join("db"))?;
            copies.push(dir);
        }
        let mut sources = Vec::new();
        let mut boot = Vec::new();
        for dir in std::iter::once(src.path()).chain(copies.iter().map(|d| d.path())) {
            let port = free_port()?;
            let id = dbc_network::peer_id_of(&dir.join("p2p_key"))?;
            sources.push(
                launch_pos(node_config(dir.to_path_buf(), &spec), pos_config(dir, port, vec![])?)
                    .await?,
            );
            boot.push(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{id}").parse()?);
        }
        let dst = tempfile::tempdir()?;
        let started = Instant::now();
        let sink = launch_pos(
            node_config(dst.path().to_path_buf(), &spec),
            pos_config(dst.path(), free_port()?, boot)?,
        )
        .await?;
        let target = args.blocks as u64;
        let mut first = None;
        while sink.chain.head_number() < target {
            if first.is_none() && sink.chain.head_number() > 0 {
                first = Some(started.elapsed());
            }
            eyre::ensure!(started.elapsed() < Duration::from_secs(600), "sync stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let total = started.elapsed();
        let syncing = total - first.unwrap_or_default();
        let blocks = target as f64;
        let txs = blocks * args.txs_per_block as f64;
        println!(
            "sync: {target} blocks × {} transfers from {} peer(s) over libp2p",
            args.txs_per_block,
            args.peers.max(1)
        );
        println!(
            "  total {:.2}s (connect + first response {:.2}s)",
            total.as_secs_f64(),
            first.unwrap_or_default().as_secs_f64()
        );
        println!(
            "  {:.0} blocks/s, {:.0} tx/s once blocks flow",
            blocks / syncing.as_secs_f64(),
            txs / syncing.as_secs_f64()
        );
        Ok::<_, eyre::Report>(())
    })
}

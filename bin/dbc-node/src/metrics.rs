//! Prometheus metrics (`--metrics ADDR`, as reth's): the `metrics` facade's recorder is
//! `metrics-exporter-prometheus`, serving `/metrics` on ADDR. Block production and import, RPC
//! calls and dev mining record as they happen (`dbc_blocks_total`, `dbc_block_*_seconds`,
//! `dbc_rpc_*`); this module samples the rest every second (chain, pool, p2p, sync) and every
//! ten seconds (RocksDB table sizes, the GPU market's numbers). `docs/grafana-dashboard.json`
//! charts them.

use alloy_primitives::U256;
use dbc_chainspec::ChainSpec;
use dbc_node_lib::Node;
use dbc_rpc::DbcApiServer;
use eyre::WrapErr;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::{net::SocketAddr, sync::Arc, sync::atomic::Ordering, time::Duration};

/// Seconds: 100 µs to 30 s.
const TIME_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
/// Transactions per block.
const TX_BUCKETS: &[f64] = &[0.0, 1.0, 10.0, 100.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0];

/// Installs the recorder and serves `/metrics` on `addr`. Called before the node starts: a
/// block sealed or an RPC call answered as soon as the RPC server is up is counted too.
pub(crate) fn install(addr: SocketAddr) -> eyre::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(TIME_BUCKETS)
        .wrap_err("metrics buckets")?
        .set_buckets_for_metric(Matcher::Full("dbc_block_transactions".into()), TX_BUCKETS)
        .wrap_err("metrics buckets")?
        .install()
        .wrap_err_with(|| format!("serving metrics on {addr}"))?;
    tracing::info!(%addr, "Prometheus metrics served at /metrics");
    Ok(())
}

/// Starts the samplers of what is read rather than recorded (chain, pool, p2p, sync, storage,
/// market).
pub(crate) fn start_samplers(node: &Node, spec: Arc<ChainSpec>) {
    let (chain, pool, net) = (node.chain.clone(), node.pool.clone(), node.net.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let head = chain.head_number();
            let finalized = chain.finalized().unwrap_or(head).min(head);
            metrics::gauge!("dbc_chain_head").set(head as f64);
            metrics::gauge!("dbc_chain_finalized").set(finalized as f64);
            // `safe` is the finalized block here (no separate justification).
            metrics::gauge!("dbc_chain_safe").set(finalized as f64);
            let status = pool.status();
            metrics::gauge!("dbc_txpool_pending").set(status.pending as f64);
            metrics::gauge!("dbc_txpool_queued").set(status.queued as f64);
            let net_value = |f: fn(&dbc_rpc::NetInfo) -> u64| net.as_deref().map_or(0, f) as f64;
            metrics::gauge!("dbc_p2p_peers").set(net_value(|n| n.peers.load(Ordering::Relaxed)));
            metrics::gauge!("dbc_p2p_banned_peers")
                .set(net_value(|n| n.banned_peers.load(Ordering::Relaxed)));
            metrics::gauge!("dbc_sync_starting_block")
                .set(net_value(|n| n.starting_block.load(Ordering::Relaxed)));
            let highest = net_value(|n| n.highest_block.load(Ordering::Relaxed));
            metrics::gauge!("dbc_sync_highest_block").set(highest.max(head as f64));
        }
    });
    let (chain, pool) = (node.chain.clone(), node.pool.clone());
    let validator = dbc_txpool::TxValidator::new(spec.clone(), chain.storage().clone());
    let ctx = dbc_rpc::RpcContext::new(spec, chain.clone(), pool, validator);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let (ctx, chain) = (ctx.clone(), chain.clone());
            // RocksDB properties and a static call into the market: off the async workers.
            let sampled = tokio::task::spawn_blocking(move || sample_slow(&ctx, &chain)).await;
            if let Ok(Err(e)) = sampled {
                tracing::debug!(error = %e, "market metrics not sampled");
            }
        }
    });
}

/// DBC (10^18 wei) as a float, for gauges.
fn dbc(wei: U256) -> f64 {
    let whole: u128 = (wei / U256::from(10u64.pow(18))).saturating_to();
    let frac: u128 = (wei % U256::from(10u64.pow(18))).saturating_to();
    whole as f64 + frac as f64 / 1e18
}

fn sample_slow(ctx: &dbc_rpc::RpcContext, chain: &dbc_storage::CanonChain) -> Result<(), String> {
    for (table, bytes) in chain.storage().table_sizes() {
        metrics::gauge!("dbc_db_table_size_bytes", "table" => table).set(bytes as f64);
    }
    let s = ctx.network_stats(None).map_err(|e| e.to_string())?;
    metrics::gauge!("dbc_market_machines").set(s.machines.to::<u64>() as f64);
    metrics::gauge!("dbc_market_gpus", "state" => "total").set(s.total_gpus.to::<u64>() as f64);
    metrics::gauge!("dbc_market_gpus", "state" => "online").set(s.online_gpus.to::<u64>() as f64);
    metrics::gauge!("dbc_market_gpus", "state" => "rented").set(s.rented_gpus.to::<u64>() as f64);
    metrics::gauge!("dbc_market_burn_rate_bps").set(f64::from(s.burn_rate_bps));
    metrics::gauge!("dbc_market_burned_dbc", "kind" => "rent").set(dbc(s.total_burned));
    metrics::gauge!("dbc_market_burned_dbc", "kind" => "fees").set(dbc(s.fees_burned));
    metrics::gauge!("dbc_market_burned_dbc", "kind" => "staking").set(dbc(s.staking_burned));
    metrics::gauge!("dbc_market_rewards_distributed_dbc").set(dbc(s.rewards_distributed));
    metrics::gauge!("dbc_market_reward_pool_remaining_dbc").set(dbc(s.reward_pool_remaining));
    metrics::gauge!("dbc_supply_dbc").set(dbc(s.total_supply));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn wei_become_dbc() {
        use super::*;
        assert_eq!(dbc(U256::from(10u64.pow(18)) * U256::from(3)), 3.0);
        assert_eq!(dbc(U256::from(5u64 * 10u64.pow(17))), 0.5);
        assert_eq!(dbc(U256::ZERO), 0.0);
    }
}

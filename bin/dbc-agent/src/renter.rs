//! The renter role: rent a machine, reach the workload of one's rental (connection details
//! sealed to the renter's key), end a rental.

use crate::{
    access::{self, AccessRequest, Sealed},
    chain::dbc,
    rpc::{Rpc, Wallet},
    workload::Details,
};
use alloy_primitives::{B256, U256};
use alloy_signer_local::PrivateKeySigner;
use dbc_precompiles::{MARKET_ADDRESS, abi::IGpuMarket};
use eyre::Context;
use serde_json::json;
use std::path::Path;

/// Rents `gpus` GPUs of `machine` for `blocks` blocks at the quoted price; returns the rental
/// id.
pub(crate) async fn rent(
    rpc: &Rpc,
    wallet: &Wallet,
    machine: B256,
    gpus: u32,
    blocks: u64,
) -> eyre::Result<u64> {
    let cost = rpc
        .view(MARKET_ADDRESS, &IGpuMarket::quoteCall { machineId: machine, gpus, blocks })
        .await?;
    let receipt = wallet
        .send(rpc, MARKET_ADDRESS, cost, &IGpuMarket::rentCall { machineId: machine, gpus, blocks })
        .await
        .wrap_err("renting")?;
    let id = crate::chain::receipt_event::<IGpuMarket::Rented>(&receipt)
        .and_then(|e| u64::try_from(e.rentalId).ok())
        .ok_or_else(|| eyre::eyre!("no Rented event in {receipt}"))?;
    tracing::info!(rental = id, cost = %dbc(cost), "rented");
    Ok(id)
}

/// Asks rental `id`'s machine for its workload, running `image` (empty: the provider's default)
/// and reachable over SSH with `ssh_key` (empty: none), and opens the answer with the renter's
/// key.
pub(crate) async fn access(
    rpc: &Rpc,
    key: &PrivateKeySigner,
    chain_id: u64,
    id: u64,
    image: String,
    ssh_key: String,
) -> eyre::Result<Details> {
    let r =
        rpc.view(MARKET_ADDRESS, &IGpuMarket::getRentalCall { rentalId: U256::from(id) }).await?;
    let endpoint =
        rpc.view(MARKET_ADDRESS, &IGpuMarket::endpointOfCall { machineId: r.machineId }).await?;
    if endpoint.is_empty() {
        eyre::bail!("machine {} published no endpoint", r.machineId);
    }
    let deadline = crate::chain::unix_now() + 600;
    let req =
        AccessRequest::sign(key, chain_id, U256::from(id), r.machineId, deadline, image, ssh_key)?;
    let sealed: Sealed = Rpc::untrusted(&endpoint)?
        .call("agent_access", json!([req]))
        .await
        .wrap_err_with(|| format!("asking {endpoint} for access"))?;
    let plain = access::open(key, &sealed)?;
    Ok(serde_json::from_slice(&plain)?)
}

/// The SSH public key in the `.pub` file at `path` (one line, checked as the provider will).
pub(crate) fn read_ssh_key(path: &Path) -> eyre::Result<String> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("reading the SSH key {}", path.display()))?;
    let line = text.trim();
    access::check_ssh_key(line)
        .map_err(|e| eyre::eyre!("{}: {e} (give the public key, the .pub file)", path.display()))?;
    Ok(line.to_owned())
}

/// Reports a fault of rental `id`'s machine with the market's deposit; returns the report id.
/// Drawn auditors decide it: a confirmed fault slashes the machine (the deposit comes back),
/// a rejected one loses the deposit.
pub(crate) async fn report(rpc: &Rpc, wallet: &Wallet, id: u64) -> eyre::Result<u64> {
    let call = IGpuMarket::reportFaultCall { rentalId: U256::from(id) };
    let deposit = crate::chain::required_stake(rpc, wallet.address(), &call).await?;
    let receipt = wallet.send(rpc, MARKET_ADDRESS, deposit, &call).await.wrap_err("reporting")?;
    let report = crate::chain::receipt_event::<IGpuMarket::FaultReported>(&receipt)
        .and_then(|e| u64::try_from(e.reportId).ok())
        .ok_or_else(|| eyre::eyre!("no FaultReported event in {receipt}"))?;
    tracing::info!(rental = id, report, deposit = %dbc(deposit), "fault reported");
    Ok(report)
}

/// Ends rental `id` early (the unused blocks are refunded).
pub(crate) async fn end(rpc: &Rpc, wallet: &Wallet, id: u64) -> eyre::Result<()> {
    wallet
        .send(
            rpc,
            MARKET_ADDRESS,
            U256::ZERO,
            &IGpuMarket::endRentalCall { rentalId: U256::from(id) },
        )
        .await
        .wrap_err("ending the rental")?;
    Ok(())
}

//! Reads of the market precompile shared by the roles.

use crate::rpc::{Rpc, RpcError};
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use dbc_precompiles::{
    MARKET_ADDRESS,
    abi::IGpuMarket::{self, IGpuMarketErrors},
};
use serde_json::json;

/// A machine's status (the ABI's `MachineStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MachineStatus {
    /// Waiting for its auditors' verdict.
    Verifying,
    /// Serving and earning.
    Online,
    /// Offline (idle, by its owner, or found failing).
    Offline,
    /// Rejected by its auditors.
    Rejected,
    /// Left the market.
    Exited,
    /// A code this agent does not know.
    Unknown,
}

impl MachineStatus {
    /// The status of `m`.
    pub(crate) fn of(m: &IGpuMarket::Machine) -> Self {
        use IGpuMarket::MachineStatus as S;
        match m.status {
            S::Verifying => Self::Verifying,
            S::Online => Self::Online,
            S::Offline => Self::Offline,
            S::Rejected => Self::Rejected,
            S::Exited => Self::Exited,
            _ => Self::Unknown,
        }
    }
}

/// Machine `id`, or `None` if it is not registered.
pub(crate) async fn machine(rpc: &Rpc, id: B256) -> Result<Option<IGpuMarket::Machine>, RpcError> {
    match rpc.view(MARKET_ADDRESS, &IGpuMarket::getMachineCall { machineId: id }).await {
        Ok(m) => Ok(Some(m)),
        Err(e) if matches!(e.market_error(), Some(IGpuMarketErrors::UnknownMachine(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The stake `call` (a payable market call) requires of `from`: what the market's
/// `WrongStake(required, sent)` names when the call is simulated without value.
pub(crate) async fn required_stake<C: SolCall>(
    rpc: &Rpc,
    from: Address,
    call: &C,
) -> eyre::Result<U256> {
    let data = alloy_primitives::Bytes::from(call.abi_encode());
    let probe: Result<alloy_primitives::Bytes, RpcError> = rpc
        .call("eth_call", json!([{"from": from, "to": MARKET_ADDRESS, "data": data}, "latest"]))
        .await;
    match probe {
        Ok(_) => Ok(U256::ZERO),
        Err(e) => match e.market_error() {
            Some(IGpuMarketErrors::WrongStake(w)) => Ok(w.required),
            Some(other) => eyre::bail!("{} would revert: {other:?}", C::SIGNATURE),
            None => Err(e.into()),
        },
    }
}

/// A JSON-RPC log (`address`, `topics`, `data`) as a log of the market, `None` if it is
/// another account's or malformed.
pub(crate) fn market_log(l: &serde_json::Value) -> Option<alloy_primitives::LogData> {
    let addr: Address = serde_json::from_value(l["address"].clone()).ok()?;
    if addr != MARKET_ADDRESS {
        return None;
    }
    let topics: Vec<B256> = serde_json::from_value(l["topics"].clone()).ok()?;
    let data: alloy_primitives::Bytes = serde_json::from_value(l["data"].clone()).ok()?;
    Some(alloy_primitives::LogData::new_unchecked(topics, data))
}

/// The first market event `E` in a receipt.
pub(crate) fn receipt_event<E: alloy_sol_types::SolEvent>(
    receipt: &serde_json::Value,
) -> Option<E> {
    receipt["logs"].as_array()?.iter().find_map(|l| E::decode_log_data(&market_log(l)?).ok())
}

/// `s` as a right-padded `bytes32` (at most 32 bytes).
pub(crate) fn to_bytes32(s: &str) -> eyre::Result<B256> {
    if s.len() > 32 {
        eyre::bail!("{s:?} is longer than 32 bytes");
    }
    Ok(B256::right_padding_from(s.as_bytes()))
}

/// A right-padded `bytes32` as text.
pub(crate) fn short_string(b: B256) -> String {
    String::from_utf8_lossy(&b.0).trim_end_matches('\0').to_owned()
}

/// `wei` as DBC with up to 4 decimals.
pub(crate) fn dbc(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18));
    let whole = wei / unit;
    let frac = (wei % unit) / U256::from(100_000_000_000_000u64);
    if frac.is_zero() { format!("{whole}") } else { format!("{whole}.{frac:04}") }
}

/// Seconds since the Unix epoch (0 on a clock before it).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Refuses a signed request's `deadline` that is past or more than `max_ahead` seconds away.
pub(crate) fn check_deadline(deadline: u64, max_ahead: u64) -> Result<(), String> {
    let now = unix_now();
    if deadline < now || deadline > now.saturating_add(max_ahead) {
        return Err(format!("the request's deadline is past or more than {max_ahead} s away"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_and_amounts() {
        assert_eq!(short_string(to_bytes32("RTX 4090").unwrap()), "RTX 4090");
        assert!(to_bytes32(&"x".repeat(33)).is_err());
        let unit = U256::from(10u64).pow(U256::from(18));
        assert_eq!(dbc(unit * U256::from(1_000)), "1000");
        assert_eq!(dbc(unit / U256::from(4)), "0.2500");
    }
}

//! `net_`, `web3_` and `txpool_` namespaces.

use crate::{RpcContext, error::RpcResult};
use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bytes, U64, keccak256};
use alloy_rpc_types_eth::Transaction;
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;
use std::collections::BTreeMap;

/// `net_` methods.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// Network id (the chain id, as a decimal string).
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
    /// Whether the node listens for peers.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
    /// Connected peers.
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// `web3_` methods.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// Client version.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// Keccak-256 of the input.
    #[method(name = "sha3")]
    fn sha3(&self, input: Bytes) -> RpcResult<B256>;
}

/// Counts of `txpool_status`.
#[derive(Debug, Clone, Serialize)]
pub struct TxPoolStatus {
    /// Executable transactions.
    pub pending: U64,
    /// Gapped transactions.
    pub queued: U64,
}

/// `txpool_content`: sender → nonce → transaction.
#[derive(Debug, Clone, Serialize)]
pub struct TxPoolContent<T> {
    /// Executable.
    pub pending: BTreeMap<Address, BTreeMap<String, T>>,
    /// Gapped.
    pub queued: BTreeMap<Address, BTreeMap<String, T>>,
}

/// `txpool_` methods.
#[rpc(server, namespace = "txpool")]
pub trait TxPoolApi {
    /// Counts.
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxPoolStatus>;
    /// Every pooled transaction.
    #[method(name = "content", blocking)]
    fn content(&self) -> RpcResult<TxPoolContent<Transaction>>;
    /// Pooled transactions of one sender.
    #[method(name = "contentFrom", blocking)]
    fn content_from(&self, from: Address) -> RpcResult<TxPoolContent<Transaction>>;
    /// A one-line summary per pooled transaction.
    #[method(name = "inspect", blocking)]
    fn inspect(&self) -> RpcResult<TxPoolContent<String>>;
}

impl NetApiServer for RpcContext {
    fn version(&self) -> RpcResult<String> {
        Ok(self.spec().chain_id.to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn peer_count(&self) -> RpcResult<U64> {
        Ok(U64::from(self.net().peers.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

impl Web3ApiServer for RpcContext {
    fn client_version(&self) -> RpcResult<String> {
        Ok(format!(
            "dbc-node/v{}/{}-{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    }

    fn sha3(&self, input: Bytes) -> RpcResult<B256> {
        Ok(keccak256(input))
    }
}

type Grouped = BTreeMap<Address, Vec<std::sync::Arc<dbc_txpool::PoolTx>>>;

fn group<T>(
    map: Grouped,
    filter: Option<Address>,
    f: impl Fn(&dbc_txpool::PoolTx) -> T,
) -> BTreeMap<Address, BTreeMap<String, T>> {
    map.into_iter()
        .filter(|(a, _)| filter.is_none_or(|f| f == *a))
        .map(|(a, txs)| (a, txs.iter().map(|t| (t.nonce().to_string(), f(t))).collect()))
        .collect()
}

fn summary(t: &dbc_txpool::PoolTx) -> String {
    let to = t.tx.to().map_or_else(|| "contract creation".to_string(), |a| a.to_string());
    format!(
        "{}: {} wei + {} gas × {} wei",
        to,
        t.tx.value(),
        t.tx.gas_limit(),
        t.tx.max_fee_per_gas()
    )
}

impl TxPoolApiServer for RpcContext {
    fn status(&self) -> RpcResult<TxPoolStatus> {
        let s = self.pool().status();
        Ok(TxPoolStatus { pending: U64::from(s.pending), queued: U64::from(s.queued) })
    }

    fn content(&self) -> RpcResult<TxPoolContent<Transaction>> {
        let (pending, queued) = self.pool().content();
        let f = |t: &dbc_txpool::PoolTx| crate::convert::rpc_pending_transaction(&t.tx);
        Ok(TxPoolContent { pending: group(pending, None, f), queued: group(queued, None, f) })
    }

    fn content_from(&self, from: Address) -> RpcResult<TxPoolContent<Transaction>> {
        let (pending, queued) = self.pool().content();
        let f = |t: &dbc_txpool::PoolTx| crate::convert::rpc_pending_transaction(&t.tx);
        Ok(TxPoolContent {
            pending: group(pending, Some(from), f),
            queued: group(queued, Some(from), f),
        })
    }

    fn inspect(&self) -> RpcResult<TxPoolContent<String>> {
        let (pending, queued) = self.pool().content();
        Ok(TxPoolContent {
            pending: group(pending, None, summary),
            queued: group(queued, None, summary),
        })
    }
}

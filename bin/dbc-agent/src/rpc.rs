//! A small JSON-RPC client over HTTP for the node and for other agents, and a wallet that
//! signs, sends and confirms transactions with its own nonce bookkeeping.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolInterface};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use tokio::sync::Mutex;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RpcError {
    /// The server could not be reached or answered garbage.
    #[error("{url}: {msg}")]
    Transport {
        /// Where.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// The server answered with a JSON-RPC error.
    #[error("{method}: error {code}: {message}{}", describe_revert(data.as_ref()))]
    Rpc {
        /// The method called.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
        /// Revert data, if any.
        data: Option<Bytes>,
    },
    /// The result did not decode.
    #[error("{method}: unexpected result: {msg}")]
    Decode {
        /// The method called.
        method: String,
        /// What went wrong.
        msg: String,
    },
    /// A transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(B256),
    /// A transaction was not mined in time.
    #[error("transaction {0} not mined within {1:?}")]
    Timeout(B256, Duration),
}

/// ` (ErrorName { … })` for revert data that is one of the market's errors, ` (0x…)` for other
/// data.
fn describe_revert(data: Option<&Bytes>) -> String {
    match data {
        None => String::new(),
        Some(d) => {
            use dbc_precompiles::abi::{
                IGpuMarket::IGpuMarketErrors, IProjectMining::IProjectMiningErrors,
            };
            if let Ok(e) = IGpuMarketErrors::abi_decode(d) {
                format!(" ({e:?})")
            } else if let Ok(e) = IProjectMiningErrors::abi_decode(d) {
                format!(" ({e:?})")
            } else {
                format!(" ({d})")
            }
        }
    }
}

impl RpcError {
    /// Revert data of a failed `eth_call`/`eth_estimateGas`, if any.
    pub(crate) fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Rpc { data, .. } => data.as_ref(),
            _ => None,
        }
    }

    /// Project mining's custom error in a revert, decoded, if it is one.
    pub(crate) fn mining_error(
        &self,
    ) -> Option<dbc_precompiles::abi::IProjectMining::IProjectMiningErrors> {
        let data = self.revert_data()?;
        dbc_precompiles::abi::IProjectMining::IProjectMiningErrors::abi_decode(data).ok()
    }

    /// The market's custom error in a revert, decoded, if it is one.
    pub(crate) fn market_error(
        &self,
    ) -> Option<dbc_precompiles::abi::IGpuMarket::IGpuMarketErrors> {
        let data = self.revert_data()?;
        dbc_precompiles::abi::IGpuMarket::IGpuMarketErrors::abi_decode(data).ok()
    }
}

/// A JSON-RPC endpoint reached over HTTP/1.1 (keep-alive).
#[derive(Debug)]
pub(crate) struct Rpc {
    url: String,
    uri: hyper::Uri,
    client: Client<HttpConnector, Full<hyper::body::Bytes>>,
    next_id: AtomicU64,
    timeout: Duration,
    max_response: usize,
}

impl Rpc {
    /// A client of `url` (`http://host:port[/path]`; put TLS in a local proxy).
    pub(crate) fn new(url: &str) -> Result<Self, RpcError> {
        let bad = |msg: String| RpcError::Transport { url: url.to_owned(), msg };
        let uri: hyper::Uri = url.parse().map_err(|e| bad(format!("not a URL: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// URLs are supported (put TLS in a local proxy)".into()));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self {
            url: url.to_owned(),
            uri,
            client,
            next_id: AtomicU64::new(1),
            timeout: Duration::from_secs(20),
            max_response: 64 << 20,
        })
    }

    /// A client of an endpoint nobody vouches for (another machine's agent): short timeout,
    /// small answers only.
    pub(crate) fn untrusted(url: &str) -> Result<Self, RpcError> {
        let mut rpc = Self::new(url)?;
        rpc.timeout = Duration::from_secs(10);
        rpc.max_response = 64 << 10;
        Ok(rpc)
    }

    /// This client with another timeout and answer size limit.
    pub(crate) fn with_limits(mut self, timeout: Duration, max_response: usize) -> Self {
        self.timeout = timeout;
        self.max_response = max_response;
        self
    }

    /// The URL this client talks to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with `params` and decodes the result.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let transport = |msg: String| RpcError::Transport { url: self.url.clone(), msg };
        let req = hyper::Request::post(self.uri.clone())
            .header("content-type", "application/json")
            .body(Full::new(hyper::body::Bytes::from(body.to_string())))
            .map_err(|e| transport(e.to_string()))?;
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| transport(format!("{method}: no answer within {:?}", self.timeout)))?
            .map_err(|e| transport(format!("{method}: {e}")))?;
        let status = resp.status();
        let body = http_body_util::Limited::new(resp.into_body(), self.max_response);
        let bytes = tokio::time::timeout(self.timeout, body.collect())
            .await
            .map_err(|_| transport(format!("{method}: body not received in time")))?
            .map_err(|e| transport(format!("{method}: {e}")))?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| transport(format!("{method}: HTTP {status}, not JSON-RPC: {e}")))?;
        if let Some(err) = v.get("error") {
            let data =
                err.get("data").and_then(|d| d.as_str()).and_then(|s| s.parse::<Bytes>().ok());
            return Err(RpcError::Rpc {
                method: method.to_owned(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
                data,
            });
        }
        let result = v.get("result").cloned().unwrap_or(Value::Null);
        serde_json::from_value(result)
            .map_err(|e| RpcError::Decode { method: method.to_owned(), msg: e.to_string() })
    }

    /// The head block number.
    pub(crate) async fn block_number(&self) -> Result<u64, RpcError> {
        let n: U256 = self.call("eth_blockNumber", json!([])).await?;
        Ok(n.saturating_to())
    }

    /// The chain id.
    pub(crate) async fn chain_id(&self) -> Result<u64, RpcError> {
        let n: U256 = self.call("eth_chainId", json!([])).await?;
        Ok(n.saturating_to())
    }

    /// Balance of `who` at the head.
    pub(crate) async fn balance(&self, who: Address) -> Result<U256, RpcError> {
        self.call("eth_getBalance", json!([who, "latest"])).await
    }

    /// `eth_call` of `call` on `to` at the head, decoded.
    pub(crate) async fn view<C: SolCall>(
        &self,
        to: Address,
        call: &C,
    ) -> Result<C::Return, RpcError> {
        let data = Bytes::from(call.abi_encode());
        let out: Bytes = self.call("eth_call", json!([{"to": to, "data": data}, "latest"])).await?;
        C::abi_decode_returns(&out)
            .map_err(|e| RpcError::Decode { method: C::SIGNATURE.to_owned(), msg: e.to_string() })
    }
}

/// A key that sends transactions through an [`Rpc`], one at a time, tracking its nonce.
#[derive(Debug)]
pub(crate) struct Wallet {
    key: PrivateKeySigner,
    chain_id: u64,
    nonce: Mutex<Option<u64>>,
}

/// How long a sent transaction may take to be mined.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

impl Wallet {
    /// The wallet's key.
    pub(crate) fn key(&self) -> &PrivateKeySigner {
        &self.key
    }

    /// A wallet of `key` on chain `chain_id`.
    pub(crate) fn new(key: PrivateKeySigner, chain_id: u64) -> Self {
        Self { key, chain_id, nonce: Mutex::new(None) }
    }

    /// Its address.
    pub(crate) fn address(&self) -> Address {
        self.key.address()
    }

    /// Sends `call` to `to` with `value`, waits for its receipt (returned) and fails if it
    /// reverted.
    /// The gas limit is the node's estimate plus a quarter; a revert found by the estimate is
    /// returned as the node's error (with its revert data), nothing is sent.
    pub(crate) async fn send<C: SolCall>(
        &self,
        rpc: &Rpc,
        to: Address,
        value: U256,
        call: &C,
    ) -> Result<Value, RpcError> {
        let data = Bytes::from(call.abi_encode());
        let from = self.address();
        let req = json!({"from": from, "to": to, "value": value, "data": data});
        let gas: U256 = rpc.call("eth_estimateGas", json!([req])).await?;
        let gas = gas.saturating_to::<u64>().saturating_mul(5) / 4;
        let price: U256 = rpc.call("eth_gasPrice", json!([])).await?;
        let tip: U256 = rpc.call("eth_maxPriorityFeePerGas", json!([])).await.unwrap_or(price);
        let max_fee = price.saturating_to::<u128>().saturating_mul(2);
        let mut guard = self.nonce.lock().await;
        let nonce = match *guard {
            Some(n) => n,
            None => {
                let n: U256 = rpc.call("eth_getTransactionCount", json!([from, "pending"])).await?;
                n.saturating_to()
            }
        };
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee.max(1),
            max_priority_fee_per_gas: tip.saturating_to::<u128>().min(max_fee),
            to: TxKind::Call(to),
            value,
            input: data,
            ..Default::default()
        };
        let sig = self.key.sign_hash_sync(&tx.signature_hash()).map_err(|e| {
            RpcError::Transport { url: rpc.url().to_owned(), msg: format!("signing: {e}") }
        })?;
        let raw = Bytes::from(TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718());
        let hash: B256 = match rpc.call("eth_sendRawTransaction", json!([raw])).await {
            Ok(h) => h,
            Err(e) => {
                // Ask the node again next time (another sender, a restart, a dropped tx).
                *guard = None;
                return Err(e);
            }
        };
        *guard = Some(nonce + 1);
        drop(guard);
        self.wait(rpc, hash).await
    }

    /// Waits for transaction `hash`'s receipt; fails if it reverted.
    async fn wait(&self, rpc: &Rpc, hash: B256) -> Result<Value, RpcError> {
        let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
        loop {
            let receipt: Value = rpc.call("eth_getTransactionReceipt", json!([hash])).await?;
            if !receipt.is_null() {
                if receipt["status"] == json!("0x1") {
                    return Ok(receipt);
                }
                return Err(RpcError::Reverted(hash));
            }
            if tokio::time::Instant::now() > deadline {
                *self.nonce.lock().await = None;
                return Err(RpcError::Timeout(hash, RECEIPT_TIMEOUT));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

//! JSON-RPC server for dbc-node, built on jsonrpsee.
//!
//! Namespaces: `eth` (see [`eth`]), `net`, `web3`, `txpool`, `debug` and `trace` (see
//! [`trace`]), `ots` (Otterscan, see [`ots`]), `dbc` (the GPU market, see [`dbc`]). HTTP and WebSocket run as two
//! servers on their own ports (reth's `--http.port` / `--ws.port`); both accept JSON-RPC batches
//! and requests without a `params` member. Errors use geth's codes and messages: `-32000` for
//! rejected transactions and unknown blocks, `3` with the revert data for reverts, `-32602`
//! for bad parameters, `-32601` for unknown methods.

mod convert;
pub mod dbc;
pub mod error;
pub mod eth;
mod filters;
mod other;
pub mod ots;
pub mod trace;

pub use dbc::DbcApiServer;
pub use eth::{EthApiServer, FillTransactionResult};
pub use other::{NetApiServer, TxPoolApiServer, Web3ApiServer};
pub use ots::OtsApiServer;
pub use trace::{DebugApiServer, TraceApiServer};

use alloy_primitives::{B256, Bytes};
use dbc_chainspec::ChainSpec;
use dbc_storage::{CanonChain, Storage};
use dbc_txpool::{TxPool, TxValidator};
use error::{RpcResult, rpc_err};
use filters::Filters;
use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
};
use std::{net::SocketAddr, sync::Arc};
use tower_http::cors::{Any, CorsLayer};

/// Which servers to run.
#[derive(Debug, Clone, Default)]
pub struct RpcConfig {
    /// HTTP listen address, `None` to disable.
    pub http: Option<SocketAddr>,
    /// WebSocket listen address, `None` to disable.
    pub ws: Option<SocketAddr>,
    /// Allowed CORS origins for HTTP (`*` for any), `None` for no CORS headers.
    pub cors: Option<String>,
}

struct Inner {
    spec: Arc<ChainSpec>,
    chain: Arc<CanonChain>,
    pool: Arc<TxPool>,
    validator: TxValidator,
    filters: Filters,
    /// (head number, suggested tip) of the last computation.
    tip_cache: parking_lot::Mutex<Option<(u64, u128)>>,
    net: Arc<NetInfo>,
    on_submit: Option<SubmitHook>,
}

/// Called with every raw transaction accepted through RPC (the node gossips it).
pub type SubmitHook = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// What the network and consensus tell RPC (`net_peerCount`, `eth_syncing`, double-sign
/// evidence).
#[derive(Debug, Default)]
pub struct NetInfo {
    /// Connected peers.
    pub peers: std::sync::atomic::AtomicU64,
    /// Head when the current sync started.
    pub starting_block: std::sync::atomic::AtomicU64,
    /// Highest head a peer announced.
    pub highest_block: std::sync::atomic::AtomicU64,
    /// Pairs of RLP headers sealed by one validator for one slot, seen by this node.
    pub double_signs: parking_lot::Mutex<Vec<(Bytes, Bytes)>>,
}

/// Shared state of all RPC handlers.
#[derive(Clone)]
pub struct RpcContext {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RpcContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcContext").field("chain_id", &self.inner.spec.chain_id).finish()
    }
}

impl RpcContext {
    /// A context over the node's parts.
    pub fn new(
        spec: Arc<ChainSpec>,
        chain: Arc<CanonChain>,
        pool: Arc<TxPool>,
        validator: TxValidator,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                spec,
                chain,
                pool,
                validator,
                filters: Filters::default(),
                tip_cache: Default::default(),
                net: Arc::default(),
                on_submit: None,
            }),
        }
    }

    /// The same context with network info and a hook for submitted transactions. Call before
    /// the context is shared.
    pub fn with_network(mut self, net: Arc<NetInfo>, on_submit: SubmitHook) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.net = net;
            inner.on_submit = Some(on_submit);
        }
        self
    }

    pub(crate) fn net(&self) -> &NetInfo {
        &self.inner.net
    }

    pub(crate) fn spec(&self) -> &ChainSpec {
        &self.inner.spec
    }

    pub(crate) fn chain(&self) -> &CanonChain {
        &self.inner.chain
    }

    pub(crate) fn storage(&self) -> &Storage {
        self.inner.chain.storage()
    }

    pub(crate) fn pool(&self) -> &TxPool {
        &self.inner.pool
    }

    pub(crate) fn filters(&self) -> &Filters {
        &self.inner.filters
    }

    pub(crate) fn tip_cache(&self) -> &parking_lot::Mutex<Option<(u64, u128)>> {
        &self.inner.tip_cache
    }

    /// Validates and pools a raw transaction; returns its hash.
    pub fn submit(&self, raw: &[u8]) -> RpcResult<B256> {
        let head = self.chain().head();
        let valid = self.inner.validator.validate_raw(raw, head.inner()).map_err(rpc_err)?;
        let hash = *valid.tx.tx_hash();
        self.pool().add(valid.tx, valid.size, valid.state_nonce).map_err(rpc_err)?;
        if let Some(hook) = &self.inner.on_submit {
            hook(raw);
        }
        tracing::debug!(target: "dbc::rpc", %hash, "transaction pooled");
        Ok(hash)
    }

    /// All namespaces in one module.
    pub fn into_module(self) -> RpcModule<()> {
        let mut module = RpcModule::new(());
        // Method names are unique per namespace, so merging cannot fail.
        let parts = [
            EthApiServer::into_rpc(self.clone()).remove_context(),
            NetApiServer::into_rpc(self.clone()).remove_context(),
            Web3ApiServer::into_rpc(self.clone()).remove_context(),
            TxPoolApiServer::into_rpc(self.clone()).remove_context(),
            DebugApiServer::into_rpc(self.clone()).remove_context(),
            TraceApiServer::into_rpc(self.clone()).remove_context(),
            DbcApiServer::into_rpc(self.clone()).remove_context(),
            OtsApiServer::into_rpc(self).remove_context(),
        ];
        for part in parts {
            if let Err(e) = module.merge(part) {
                tracing::error!(target: "dbc::rpc", error = %e, "duplicate rpc method");
            }
        }
        module
    }
}

/// Handles of the running servers and their bound addresses.
#[derive(Debug)]
pub struct RpcServerHandles {
    /// HTTP address actually bound.
    pub http_addr: Option<SocketAddr>,
    /// WebSocket address actually bound.
    pub ws_addr: Option<SocketAddr>,
    handles: Vec<ServerHandle>,
}

impl RpcServerHandles {
    /// Stops the servers.
    pub fn stop(&self) {
        for h in &self.handles {
            let _ = h.stop();
        }
    }
}

/// RPC start-up errors.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {server} server on {addr}: {source}")]
pub struct RpcStartError {
    server: &'static str,
    addr: SocketAddr,
    source: std::io::Error,
}

fn server_config(ws: bool) -> ServerConfig {
    let builder = ServerConfig::builder()
        .max_request_body_size(32 * 1024 * 1024)
        .max_response_body_size(256 * 1024 * 1024)
        .max_connections(1_000)
        .set_batch_request_config(BatchRequestConfig::Limit(10_000));
    if ws { builder.ws_only().build() } else { builder.http_only().build() }
}

/// Starts the configured servers.
pub async fn start(config: &RpcConfig, ctx: RpcContext) -> Result<RpcServerHandles, RpcStartError> {
    let module = ctx.into_module();
    let mut out = RpcServerHandles { http_addr: None, ws_addr: None, handles: vec![] };
    if let Some(addr) = config.http {
        let cors = config.cors.as_ref().map(|origins| {
            let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
            if origins == "*" {
                layer.allow_origin(Any)
            } else {
                let list: Vec<_> =
                    origins.split(',').filter_map(|o| o.trim().parse().ok()).collect();
                layer.allow_origin(list)
            }
        });
        let middleware = tower::ServiceBuilder::new().option_layer(cors);
        let server = Server::builder()
            .set_config(server_config(false))
            .set_http_middleware(middleware)
            .build(addr)
            .await
            .map_err(|source| RpcStartError { server: "http", addr, source })?;
        out.http_addr = Some(server.local_addr().map_err(|source| RpcStartError {
            server: "http",
            addr,
            source,
        })?);
        out.handles.push(server.start(module.clone()));
        tracing::info!(target: "dbc::rpc", addr = ?out.http_addr, "HTTP JSON-RPC server started");
    }
    if let Some(addr) = config.ws {
        let server = Server::builder()
            .set_config(server_config(true))
            .build(addr)
            .await
            .map_err(|source| RpcStartError { server: "ws", addr, source })?;
        out.ws_addr = Some(server.local_addr().map_err(|source| RpcStartError {
            server: "ws",
            addr,
            source,
        })?);
        out.handles.push(server.start(module));
        tracing::info!(target: "dbc::rpc", addr = ?out.ws_addr, "WebSocket JSON-RPC server started");
    }
    Ok(out)
}

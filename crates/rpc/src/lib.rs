//! JSON-RPC server for dbc-node, built on jsonrpsee.
//!
//! Namespaces: `eth` (see [`eth`]), `net`, `web3`, `txpool`, `debug` and `trace` (see
//! [`trace`]), `ots` (Otterscan, see [`ots`]), `dbc` (the GPU market, see [`dbc`]). HTTP and
//! WebSocket run as two servers on their own ports (reth's `--http.port` / `--ws.port`), each
//! serving the namespaces of its `--http.api` / `--ws.api` list; both accept JSON-RPC batches
//! and requests without a `params` member. Errors use geth's codes and messages: `-32000` for
//! rejected transactions and unknown blocks, `3` with the revert data for reverts, `-32602`
//! for bad parameters, `-32601` for unknown or disabled methods, `-32002` for requests past
//! their deadline. [`server`] runs the servers, [`limits`] keeps costly calls off the node's
//! async workers and bounded in number.

mod convert;
pub mod dbc;
pub mod dev;
pub mod error;
pub mod eth;
mod fees;
mod filters;
pub mod limits;
mod other;
pub mod ots;
pub mod params;
pub mod proofs;
mod resolve;
pub mod server;
pub mod trace;

#[cfg(test)]
mod tests;

pub use dbc::DbcApiServer;
pub use dev::{DevApi, DevRpc};
pub use eth::{EthApiServer, FillTransactionResult};
pub use other::{NetApiServer, TxPoolApiServer, Web3ApiServer};
pub use ots::OtsApiServer;
pub use params::DbcParamsApiServer;
pub use server::{ApiSet, Namespace, RpcConfig, RpcLimits, RpcServerHandles, RpcStartError, start};
pub use trace::{DebugApiServer, TraceApiServer};

use alloy_primitives::{B256, Bytes};
use dbc_chainspec::ChainSpec;
use dbc_storage::{CanonChain, Storage};
use dbc_txpool::{TxPool, TxValidator};
use error::{RpcResult, rpc_err};
use filters::Filters;
use jsonrpsee::RpcModule;
use std::{sync::Arc, time::Instant};

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
    /// The dev chain's controls (`--dev` only).
    dev: Option<Arc<dev::DevRpc>>,
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
    /// Peers banned (misbehaviour) since start.
    pub banned_peers: std::sync::atomic::AtomicU64,
    /// Pairs of RLP headers sealed by one validator for one slot, seen by this node.
    pub double_signs: parking_lot::Mutex<Vec<(Bytes, Bytes)>>,
}

/// Shared state of all RPC handlers.
#[derive(Clone)]
pub struct RpcContext {
    inner: Arc<Inner>,
    limits: Arc<RpcLimits>,
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
                filters: Filters::new(server::MAX_FILTERS),
                tip_cache: Default::default(),
                net: Arc::default(),
                on_submit: None,
                dev: None,
            }),
            limits: Arc::default(),
        }
    }

    /// The same context with other limits (gas cap, timeouts, filter count).
    pub fn with_limits(mut self, limits: RpcLimits) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.filters = Filters::new(limits.max_filters);
        }
        self.limits = Arc::new(limits);
        self
    }

    pub(crate) fn limits(&self) -> &RpcLimits {
        &self.limits
    }

    /// The deadline of a block-scale request that starts now.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + self.limits.request_timeout
    }

    /// `request timed out` (-32002) once `until` has passed.
    pub(crate) fn check_deadline(until: Instant) -> RpcResult<()> {
        if Instant::now() >= until { Err(limits::request_timed_out()) } else { Ok(()) }
    }

    /// Call limits for simulations (`--rpc.gascap`, `--rpc.evmtimeout`).
    pub(crate) fn call_limits(&self) -> dbc_evm::sim::CallLimits {
        dbc_evm::sim::CallLimits { gas_cap: self.limits.gas_cap, timeout: self.limits.evm_timeout }
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
        // `add_valid`: the sender's pooled transactions together must fit its balance (L6).
        self.pool().add_valid(valid).map_err(rpc_err)?;
        if let Some(hook) = &self.inner.on_submit {
            hook(raw);
        }
        tracing::debug!(target: "dbc::rpc", %hash, "transaction pooled");
        Ok(hash)
    }

    /// All namespaces in one module.
    pub fn into_module(self) -> RpcModule<()> {
        self.into_module_for(&ApiSet::all())
    }

    /// The namespaces of `apis` in one module.
    pub fn into_module_for(self, apis: &ApiSet) -> RpcModule<()> {
        let mut module = RpcModule::new(());
        for ns in apis.iter() {
            let part = match ns {
                Namespace::Eth => EthApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Net => NetApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Web3 => Web3ApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Txpool => TxPoolApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Debug => DebugApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Trace => TraceApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Ots => OtsApiServer::into_rpc(self.clone()).remove_context(),
                Namespace::Dbc => {
                    let mut dbc = DbcApiServer::into_rpc(self.clone()).remove_context();
                    if let Err(e) =
                        dbc.merge(DbcParamsApiServer::into_rpc(self.clone()).remove_context())
                    {
                        tracing::error!(target: "dbc::rpc", error = %e, "duplicate rpc method");
                    }
                    dbc
                }
            };
            // Method names are unique per namespace, so merging cannot fail.
            if let Err(e) = module.merge(part) {
                tracing::error!(target: "dbc::rpc", error = %e, "duplicate rpc method");
            }
        }
        // A dev chain serves its test methods whatever the namespaces (as anvil does).
        if let Err(e) = module.merge(dev::module(self)) {
            tracing::error!(target: "dbc::rpc", error = %e, "duplicate rpc method");
        }
        module
    }
}

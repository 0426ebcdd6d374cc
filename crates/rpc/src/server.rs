//! The HTTP and WebSocket servers: which namespaces each serves (reth's `--http.api` /
//! `--ws.api`), who may call them from a browser (`--http.corsdomain`, `--http.vhosts`,
//! `--ws.origins`) and how much they may hold at once (connections, body sizes, batches).
//!
//! Each server runs its own accept loop so that it can cap TCP connections (jsonrpsee only caps
//! requests in flight) and close idle keep-alive connections ([`IDLE_TIMEOUT`]).

use crate::{
    RpcContext,
    limits::{AccessLayer, Gates, GuardLayer},
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder as ConnBuilder,
    service::TowerToHyperService,
};
use jsonrpsee::{
    RpcModule,
    server::{
        BatchRequestConfig, PingConfig, ServerConfig, ServerHandle, StopHandle,
        middleware::rpc::RpcServiceBuilder, stop_channel,
    },
};
use std::{
    collections::BTreeSet,
    fmt,
    net::SocketAddr,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// A connection that sends no (further) request for this long is closed (hyper's header read
/// timeout; geth's `ReadHeaderTimeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A block-scale request (and a whole batch) stops after this long (geth's request timeout,
/// error -32002 `request timed out`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one HTTP exchange may take on a dev chain (see [`start`]).
pub const DEV_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Most installed filters (`eth_newFilter` and friends) at once.
pub const MAX_FILTERS: usize = 10_000;
/// Most block-scale calls one batch may hold.
pub const MAX_BLOCK_SCALE_PER_BATCH: usize = 100;

/// An RPC namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// `eth_`.
    Eth,
    /// `net_`.
    Net,
    /// `web3_`.
    Web3,
    /// `txpool_`.
    Txpool,
    /// `debug_` (geth tracers).
    Debug,
    /// `trace_` (Parity traces).
    Trace,
    /// `ots_` (Otterscan).
    Ots,
    /// `dbc_` (the GPU market, mining and staking; includes `dbc_getBlockHookLogs`).
    Dbc,
}

impl Namespace {
    /// Every namespace.
    pub const ALL: [Self; 8] = [
        Self::Eth,
        Self::Net,
        Self::Web3,
        Self::Txpool,
        Self::Debug,
        Self::Trace,
        Self::Ots,
        Self::Dbc,
    ];

    /// The name as in method names and `--http.api`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eth => "eth",
            Self::Net => "net",
            Self::Web3 => "web3",
            Self::Txpool => "txpool",
            Self::Debug => "debug",
            Self::Trace => "trace",
            Self::Ots => "ots",
            Self::Dbc => "dbc",
        }
    }
}

/// A set of namespaces: `--http.api` / `--ws.api`, a comma-separated list (`eth,net,web3`) or
/// `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSet(BTreeSet<Namespace>);

impl ApiSet {
    /// Every namespace.
    pub fn all() -> Self {
        Self(Namespace::ALL.into_iter().collect())
    }

    /// The namespaces of a node that is not a dev chain when `--http.api` is not given:
    /// reth's standard `eth,net,web3` plus `dbc` (the market's API, this chain's reason to be).
    pub fn standard() -> Self {
        Self([Namespace::Eth, Namespace::Net, Namespace::Web3, Namespace::Dbc].into())
    }

    /// Whether `ns` is in the set.
    pub fn contains(&self, ns: Namespace) -> bool {
        self.0.contains(&ns)
    }

    /// The namespaces.
    pub fn iter(&self) -> impl Iterator<Item = Namespace> + '_ {
        self.0.iter().copied()
    }
}

impl Default for ApiSet {
    fn default() -> Self {
        Self::all()
    }
}

impl fmt::Display for ApiSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.iter().map(Namespace::name).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for ApiSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.eq_ignore_ascii_case("all") {
                return Ok(Self::all());
            }
            let ns = Namespace::ALL
                .into_iter()
                .find(|n| n.name().eq_ignore_ascii_case(part))
                .ok_or_else(|| {
                    let known: Vec<_> = Namespace::ALL.iter().map(|n| n.name()).collect();
                    format!("unknown RPC namespace `{part}` (known: {}, all)", known.join(", "))
                })?;
            set.insert(ns);
        }
        Ok(Self(set))
    }
}

/// How much the servers accept and hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcLimits {
    /// TCP connections per server (`--rpc.max-connections`).
    pub max_connections: u32,
    /// Largest request body or WebSocket message, bytes (`--rpc.max-request-size`).
    pub max_request_size: u32,
    /// Largest response, bytes (`--rpc.max-response-size`).
    pub max_response_size: u32,
    /// Subscriptions per WebSocket connection (`--rpc.max-subscriptions-per-connection`).
    pub max_subscriptions_per_connection: u32,
    /// Calls per batch (geth's `--rpc.batch-request-limit`).
    pub batch_request_limit: u32,
    /// Largest batch response, bytes (geth's `--rpc.batch-response-max-size`).
    pub batch_response_max_size: u32,
    /// Block-scale requests (logs, proofs, traces, replays, Otterscan searches, …) running at
    /// once (reth's `--rpc.max-tracing-requests`); more wait, and past a queue they are refused.
    pub max_block_scale_requests: usize,
    /// Single-block compute requests (`eth_call`, gas estimation, `dbc_` views, full blocks
    /// and receipts) running at once.
    pub max_compute_requests: usize,
    /// Gas cap of `eth_call`, `eth_estimateGas` and traced calls (`--rpc.gascap`).
    pub gas_cap: u64,
    /// Timeout of `eth_call` / `eth_estimateGas` (`--rpc.evmtimeout`).
    pub evm_timeout: Duration,
    /// Timeout of a block-scale request and of a whole batch.
    pub request_timeout: Duration,
    /// Installed filters at once.
    pub max_filters: usize,
    /// A keep-alive connection idle this long is closed.
    pub idle_timeout: Duration,
    /// Blocks behind the head `eth_getProof` may be asked at (reth's
    /// `--rpc.eth-proof-window`).
    pub eth_proof_window: u64,
    /// Account and slot changes a proof at an earlier block may undo to reach it.
    pub max_proof_reverts: usize,
}

/// reth's default for tracing requests: the cores less two, at least two.
pub fn default_block_scale_requests() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    cores.saturating_sub(2).max(2)
}

impl Default for RpcLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        Self {
            max_connections: 200,
            max_request_size: 5 * 1024 * 1024,
            max_response_size: 100 * 1024 * 1024,
            max_subscriptions_per_connection: 64,
            batch_request_limit: 1_000,
            batch_response_max_size: 25_000_000,
            max_block_scale_requests: default_block_scale_requests(),
            max_compute_requests: cores.max(2),
            gas_cap: dbc_evm::sim::RPC_GAS_CAP,
            evm_timeout: dbc_evm::sim::RPC_EVM_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_filters: MAX_FILTERS,
            idle_timeout: IDLE_TIMEOUT,
            eth_proof_window: crate::proofs::DEFAULT_PROOF_WINDOW,
            max_proof_reverts: crate::proofs::DEFAULT_MAX_PROOF_REVERTS,
        }
    }
}

/// Which servers to run and how.
#[derive(Debug, Clone, Default)]
pub struct RpcConfig {
    /// HTTP listen address, `None` to disable.
    pub http: Option<SocketAddr>,
    /// WebSocket listen address, `None` to disable.
    pub ws: Option<SocketAddr>,
    /// Browser origins allowed over HTTP (`--http.corsdomain`: comma-separated, `*` for any);
    /// `None`: no CORS headers, so browsers refuse cross-origin calls.
    pub cors: Option<String>,
    /// Host names HTTP requests may address (`--http.vhosts`, geth's defence against DNS
    /// rebinding; `*` for any). IP-address hosts are always accepted. Empty: `localhost` only.
    pub vhosts: Vec<String>,
    /// Browser origins allowed to open WebSocket connections (`--ws.origins`, `*` for any);
    /// `None`: only clients that send no `Origin` (non-browser clients).
    pub ws_origins: Option<String>,
    /// Namespaces served over HTTP (`--http.api`).
    pub http_api: ApiSet,
    /// Namespaces served over WebSocket (`--ws.api`).
    pub ws_api: ApiSet,
    /// Sizes and counts.
    pub limits: RpcLimits,
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
pub enum RpcStartError {
    /// Binding failed.
    #[error("cannot start {server} server on {addr}: {source}")]
    Bind {
        /// `http` or `ws`.
        server: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A flag's value is invalid.
    #[error("{0}")]
    Config(String),
}

fn server_config(limits: &RpcLimits, ws: bool) -> ServerConfig {
    let builder = ServerConfig::builder()
        .max_request_body_size(limits.max_request_size)
        .max_response_body_size(limits.max_response_size)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        // The guard middleware enforces the batch limit with geth's error.
        .set_batch_request_config(BatchRequestConfig::Unlimited)
        // Per WebSocket connection: responses and notifications waiting for a slow reader.
        .set_message_buffer_capacity(256)
        // A WebSocket client that answers no ping for two minutes is disconnected (one that
        // never reads its responses, among others).
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(Duration::from_secs(30))
                .inactive_limit(Duration::from_secs(40))
                .max_failures(3),
        );
    if ws { builder.ws_only().build() } else { builder.http_only().build() }
}

fn cors_layer(origins: &str) -> Result<CorsLayer, RpcStartError> {
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if origins.trim() == "*" {
        return Ok(layer.allow_origin(Any));
    }
    let list = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            o.parse().map_err(|_| RpcStartError::Config(format!("invalid --http.corsdomain `{o}`")))
        })
        .collect::<Result<Vec<http::HeaderValue>, _>>()?;
    Ok(layer.allow_origin(AllowOrigin::list(list)))
}

/// Starts the configured servers.
pub async fn start(config: &RpcConfig, ctx: RpcContext) -> Result<RpcServerHandles, RpcStartError> {
    let ctx = ctx.with_limits(config.limits.clone());
    let gates = Arc::new(Gates::new(&config.limits));
    let limits = &config.limits;
    let mut out = RpcServerHandles { http_addr: None, ws_addr: None, handles: vec![] };
    // A dev chain's `anvil_mine` of millions of blocks or `evm_revert` over them may take
    // minutes; its client waits for the answer.
    let exchange =
        if ctx.dev().is_some() { DEV_EXCHANGE_TIMEOUT } else { exchange_timeout(limits) };
    if let Some(addr) = config.http {
        let module = ctx.clone().into_module_for(&config.http_api);
        let cors = config.cors.as_deref().map(cors_layer).transpose()?;
        let (listener, bound) = bind("http", addr).await?;
        let (stop_handle, handle) = stop_channel();
        let builder = jsonrpsee::server::Server::builder()
            .set_config(server_config(limits, false))
            .set_http_middleware(
                tower::ServiceBuilder::new()
                    .layer(AccessLayer::http(&config.vhosts, exchange))
                    .option_layer(cors),
            )
            .set_rpc_middleware(RpcServiceBuilder::new().layer(GuardLayer::new(
                false,
                method_names(&module),
                gates.clone(),
                limits,
            )))
            .to_service_builder();
        let methods: jsonrpsee::Methods = module.into();
        let stop = stop_handle.clone();
        let make = move || builder.clone().build(methods.clone(), stop.clone());
        tokio::spawn(accept_loop(listener, make, stop_handle, limits.clone()));
        out.http_addr = Some(bound);
        out.handles.push(handle);
        tracing::info!(target: "dbc::rpc", addr = %bound, api = %config.http_api, cors = ?config.cors, "HTTP JSON-RPC server started");
    }
    if let Some(addr) = config.ws {
        let module = ctx.into_module_for(&config.ws_api);
        let (listener, bound) = bind("ws", addr).await?;
        let (stop_handle, handle) = stop_channel();
        let builder = jsonrpsee::server::Server::builder()
            .set_config(server_config(limits, true))
            .set_http_middleware(
                tower::ServiceBuilder::new()
                    .layer(AccessLayer::ws(config.ws_origins.as_deref(), exchange)),
            )
            .set_rpc_middleware(RpcServiceBuilder::new().layer(GuardLayer::new(
                true,
                method_names(&module),
                gates,
                limits,
            )))
            .to_service_builder();
        let methods: jsonrpsee::Methods = module.into();
        let stop = stop_handle.clone();
        let make = move || builder.clone().build(methods.clone(), stop.clone());
        tokio::spawn(accept_loop(listener, make, stop_handle, limits.clone()));
        out.ws_addr = Some(bound);
        out.handles.push(handle);
        tracing::info!(target: "dbc::rpc", addr = %bound, api = %config.ws_api, origins = ?config.ws_origins, "WebSocket JSON-RPC server started");
    }
    Ok(out)
}

/// How long one HTTP exchange may take: a block-scale call may wait for its permit and then
/// run, each up to the request timeout.
fn exchange_timeout(limits: &RpcLimits) -> Duration {
    limits.request_timeout.saturating_mul(2) + Duration::from_secs(10)
}

fn method_names(module: &RpcModule<()>) -> Arc<BTreeSet<&'static str>> {
    Arc::new(module.method_names().collect())
}

async fn bind(
    server: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), RpcStartError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| RpcStartError::Bind {
        server,
        addr,
        source,
    })?;
    let bound =
        listener.local_addr().map_err(|source| RpcStartError::Bind { server, addr, source })?;
    Ok((listener, bound))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Accepts connections until stopped: at most `max_connections` at once (past that a new
/// connection is closed at once), each served by a service from `make`; a connection that sends
/// no (further) request for `idle_timeout` is closed.
async fn accept_loop<F, S, B>(
    listener: TcpListener,
    make: F,
    stop_handle: StopHandle,
    limits: RpcLimits,
) where
    F: Fn() -> S + Send + 'static,
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = hyper::body::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let max_connections = limits.max_connections;
    let idle_timeout = limits.idle_timeout;
    let connections = Arc::new(Semaphore::new(max_connections as usize));
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        let stopped = stop_handle.clone().shutdown();
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(target: "dbc::rpc", error = %e, "accept failed");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            if last_refusal_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                last_refusal_log = Some(Instant::now());
                tracing::warn!(target: "dbc::rpc", %peer, max_connections, "RPC connection limit reached; closing new connections");
            }
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let service = TowerToHyperService::new(make());
        let stop = stop_handle.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // A connection must start its first request within the idle timeout, or it is
            // closed and its slot freed: hyper's header timeout only starts with the first
            // byte, so without this a client that connects and stays silent would hold a slot
            // (and, with `max_connections` of them, the whole server) forever.
            let mut first = [0u8; 1];
            match tokio::time::timeout(idle_timeout, socket.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let mut builder = ConnBuilder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(idle_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(socket), service);
            tokio::pin!(conn);
            let stopped = stop.shutdown();
            tokio::pin!(stopped);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = &mut stopped => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::trace!(target: "dbc::rpc", error = %e, "connection closed");
            }
        });
    }
}

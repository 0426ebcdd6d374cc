//! What keeps hostile RPC traffic from starving the node:
//!
//! - [`GuardLayer`], a jsonrpsee middleware: answers calls to methods that are not served
//!   (unknown, or of a namespace left out of `--http.api`) with geth's -32601; runs
//!   [`Cost::BlockScale`] and [`Cost::Compute`] methods only when a permit of their [`Gate`] is
//!   free (a bounded queue waits, past it the call is refused as busy); limits batches to geth's
//!   item count, response size and timeout, and to [`MAX_BLOCK_SCALE_PER_BATCH`] block-scale
//!   calls.
//!   On WebSocket it also counts, per connection, the responses not yet handed to the
//!   connection's writer (a client that does not read makes them pile up: jsonrpsee runs each
//!   message in its own task): past [`MAX_UNSENT`] responses a call gets a `-32005` error, past
//!   [`MAX_UNSENT_HARD`] responses or [`MAX_UNSENT_BYTES`] bytes it is dropped unanswered.
//! - [`AccessLayer`], an HTTP middleware: `--http.vhosts` (the `Host` header, against DNS
//!   rebinding) on HTTP and `--ws.origins` (the `Origin` header) on WebSocket, and a time limit
//!   on each HTTP exchange.
//!
//! Every method of the two costly classes is also a jsonrpsee `blocking` method, so it runs on
//! tokio's blocking pool and never on the async workers the node's network and consensus use.

use crate::server::{MAX_BLOCK_SCALE_PER_BATCH, RpcLimits};
use futures::{FutureExt, future::BoxFuture};
use jsonrpsee::{
    core::middleware::{Batch, BatchEntry, Notification, RpcServiceT},
    server::{
        BatchResponseBuilder, HttpBody, HttpRequest, HttpResponse, MethodResponse,
        ResponsePayload as Payload,
    },
    types::{ErrorObjectOwned, Id, Request, Response, ResponsePayload},
};
use serde_json::value::RawValue;
use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// geth's code for an unknown method.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// geth's code for a request that ran out of time.
pub const REQUEST_TIMED_OUT: i32 = -32002;
/// geth's code for a response over the size limit.
pub const RESPONSE_TOO_LARGE: i32 = -32003;
/// EIP-1474's code for a refused request (limit exceeded).
pub const LIMIT_EXCEEDED: i32 = -32005;
/// JSON-RPC's invalid request (geth's code for an oversized batch).
pub const INVALID_REQUEST: i32 = -32600;
/// Unsent responses per WebSocket connection past which calls are refused.
pub const MAX_UNSENT: usize = 1024;
/// Unsent responses per WebSocket connection past which calls are dropped unanswered.
pub const MAX_UNSENT_HARD: usize = 4 * MAX_UNSENT;
/// Bytes of requests and unsent responses per WebSocket connection past which calls are
/// dropped unanswered.
pub const MAX_UNSENT_BYTES: usize = 64 * 1024 * 1024;

/// geth's answer to a method that is not served.
pub fn method_not_found(method: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        METHOD_NOT_FOUND,
        format!("the method {method} does not exist/is not available"),
        None::<()>,
    )
}

/// geth's answer to a request past its deadline.
pub fn request_timed_out() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(REQUEST_TIMED_OUT, "request timed out", None::<()>)
}

/// How costly a method is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Reads a few keys.
    Cheap,
    /// One EVM call or one block's worth of conversion.
    Compute,
    /// Many blocks, a whole block's re-execution, the whole state or the whole pool.
    BlockScale,
}

/// The cost class of a method.
pub fn cost_of(method: &str) -> Cost {
    match method {
        "eth_getLogs"
        | "eth_getFilterLogs"
        | "eth_getFilterChanges"
        | "eth_getProof"
        | "eth_feeHistory"
        | "txpool_content"
        | "txpool_contentFrom"
        | "txpool_inspect"
        | "dbc_getBlockHookLogs"
        | "dbc_listMachines"
        | "dbc_listProjects"
        | "dbc_listProjectMachines"
        | "dbc_listProposals"
        | "dbc_getValidators"
        | "dbc_auditSupply"
        | "dbc_treasuryHistory" => Cost::BlockScale,
        "ots_getApiLevel" | "ots_hasCode" => Cost::Cheap,
        m if m.starts_with("debug_") || m.starts_with("trace_") || m.starts_with("ots_") => {
            Cost::BlockScale
        }
        "eth_call"
        | "eth_estimateGas"
        | "eth_createAccessList"
        | "eth_fillTransaction"
        | "eth_getBlockByNumber"
        | "eth_getBlockByHash"
        | "eth_getBlockReceipts"
        | "eth_getTransactionReceipt"
        | "eth_getTransactionByBlockHashAndIndex"
        | "eth_getTransactionByBlockNumberAndIndex"
        | "eth_getBlockTransactionCountByNumber"
        | "eth_getBlockTransactionCountByHash"
        | "eth_gasPrice"
        | "eth_maxPriorityFeePerGas"
        | "dbc_networkStats"
        | "dbc_treasury"
        | "dbc_getMachine"
        | "dbc_getRental"
        | "dbc_getRewards"
        | "dbc_getProject"
        | "dbc_getProjectRewards"
        | "dbc_getProposal"
        | "dbc_council"
        | "dbc_getProposalVotes"
        | "dbc_gpuModels"
        | "dbc_params"
        | "dbc_encodeParams" => Cost::Compute,
        _ => Cost::Cheap,
    }
}

/// A bounded number of running calls of one class, with a bounded queue.
#[derive(Debug)]
pub struct Gate {
    what: &'static str,
    permits: Arc<Semaphore>,
    limit: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Decrements a counter when dropped (a waiter that gives up or is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gate {
    /// `limit` running at once, at most `max_waiting` waiting.
    pub fn new(what: &'static str, limit: usize, max_waiting: usize) -> Self {
        let limit = limit.max(1);
        Self {
            what,
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// The error for a refused call.
    pub fn busy(&self) -> ErrorObjectOwned {
        ErrorObjectOwned::owned(
            LIMIT_EXCEEDED,
            format!(
                "server busy: too many {} requests (limit {} running, {} waiting); retry later",
                self.what, self.limit, self.max_waiting
            ),
            None::<()>,
        )
    }

    /// A permit, waiting until `until` at most; busy when the queue is full or time is up.
    pub async fn enter(&self, until: Instant) -> Result<OwnedSemaphorePermit, ErrorObjectOwned> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(self.busy());
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout_at(until.into(), self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(self.busy()),
        }
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// The two gates the HTTP and WebSocket servers share.
#[derive(Debug)]
pub struct Gates {
    /// [`Cost::Compute`] calls.
    pub compute: Gate,
    /// [`Cost::BlockScale`] calls.
    pub block_scale: Gate,
}

impl Gates {
    /// Gates sized by `limits`; each queue holds 64 waiters per permit.
    pub fn new(limits: &RpcLimits) -> Self {
        let compute = limits.max_compute_requests.max(1);
        let block_scale = limits.max_block_scale_requests.max(1);
        Self {
            compute: Gate::new("compute", compute, compute * 64),
            block_scale: Gate::new("block-scale", block_scale, block_scale * 64),
        }
    }

    fn for_cost(&self, cost: Cost) -> Option<&Gate> {
        match cost {
            Cost::Cheap => None,
            Cost::Compute => Some(&self.compute),
            Cost::BlockScale => Some(&self.block_scale),
        }
    }
}

/// How long past the request timeout a gated call that ignores its deadline is waited for.
const BACKSTOP_SLACK: Duration = Duration::from_secs(5);

/// `req` owning its method name, id and parameters, so that its call can outlive the
/// connection's buffer.
fn owned_request(req: Request<'_>) -> Request<'static> {
    Request {
        jsonrpc: req.jsonrpc,
        id: req.id.into_owned(),
        method: std::borrow::Cow::Owned(req.method.into_owned()),
        params: req.params.map(|p| std::borrow::Cow::Owned(p.into_owned())),
        extensions: req.extensions,
    }
}

/// Installs [`Guard`] on every connection.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    shared: Arc<GuardShared>,
}

#[derive(Debug)]
struct GuardShared {
    /// A WebSocket server (unsent responses are counted per connection).
    ws: bool,
    methods: Arc<BTreeSet<&'static str>>,
    gates: Arc<Gates>,
    batch_limit: usize,
    batch_response_max: usize,
    timeout: Duration,
}

impl GuardLayer {
    /// A guard for a server (`ws`: a WebSocket one) that serves `methods`.
    pub fn new(
        ws: bool,
        methods: Arc<BTreeSet<&'static str>>,
        gates: Arc<Gates>,
        limits: &RpcLimits,
    ) -> Self {
        Self {
            shared: Arc::new(GuardShared {
                ws,
                methods,
                gates,
                batch_limit: limits.batch_request_limit as usize,
                batch_response_max: limits.batch_response_max_size as usize,
                timeout: limits.request_timeout,
            }),
        }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        // Called once per WebSocket connection (and once per HTTP request).
        let unsent = self.shared.ws.then(|| Arc::new(Unsent::default()));
        Guard { inner, shared: self.shared.clone(), unsent }
    }
}

/// A WebSocket connection's responses not yet handed to its writer.
#[derive(Debug, Default)]
struct Unsent {
    count: AtomicUsize,
    bytes: AtomicUsize,
}

/// One call's share of [`Unsent`], given back when dropped.
struct UnsentShare {
    unsent: Arc<Unsent>,
    bytes: usize,
}

impl UnsentShare {
    fn add_bytes(&mut self, n: usize) {
        self.unsent.bytes.fetch_add(n, Ordering::Relaxed);
        self.bytes += n;
    }
}

impl Drop for UnsentShare {
    fn drop(&mut self) {
        self.unsent.count.fetch_sub(1, Ordering::Relaxed);
        self.unsent.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// The same response, made to tell when jsonrpsee has handed it to the connection's writer;
/// `share` is released then.
fn release_when_sent(
    rp: MethodResponse,
    id: Id<'static>,
    mut share: UnsentShare,
) -> MethodResponse {
    let json = rp.as_json().get();
    share.add_bytes(json.len());
    let Ok(parsed) = serde_json::from_str::<Response<'_, &RawValue>>(json) else { return rp };
    let (tracked, sent) = match parsed.payload {
        ResponsePayload::Success(result) => {
            let (payload, sent) =
                Payload::success(result.into_owned().to_owned()).notify_on_completion();
            (MethodResponse::response(id, payload, usize::MAX), sent)
        }
        ResponsePayload::Error(e) => {
            let (payload, sent) = Payload::<()>::error(e.into_owned()).notify_on_completion();
            (MethodResponse::response(id, payload, usize::MAX), sent)
        }
    };
    tokio::spawn(async move {
        let _ = sent.await;
        drop(share);
    });
    tracked
}

/// The per-connection middleware (see the module docs).
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    shared: Arc<GuardShared>,
    unsent: Option<Arc<Unsent>>,
}

impl<S> Guard<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    /// One call: refused when not served, gated by its cost class.
    /// [`Self::checked`], counted and timed per method in the metrics (`--metrics`); a method
    /// that is not served is counted as `unknown`.
    async fn guarded(&self, req: Request<'_>) -> MethodResponse {
        let method: &'static str =
            self.shared.methods.get(req.method_name()).copied().unwrap_or("unknown");
        let started = Instant::now();
        let rp = self.checked(req).await;
        metrics::counter!("dbc_rpc_requests_total", "method" => method).increment(1);
        if rp.is_error() {
            metrics::counter!("dbc_rpc_errors_total", "method" => method).increment(1);
        }
        metrics::histogram!("dbc_rpc_request_duration_seconds", "method" => method)
            .record(started.elapsed().as_secs_f64());
        rp
    }

    async fn checked(&self, req: Request<'_>) -> MethodResponse {
        let (served, cost) = {
            let name = req.method_name();
            (self.shared.methods.contains(name), cost_of(name))
        };
        if !served {
            return MethodResponse::error(
                req.id().into_owned(),
                method_not_found(req.method_name()),
            );
        }
        let Some(gate) = self.shared.gates.for_cost(cost) else {
            return self.inner.call(req).await;
        };
        let id = req.id().into_owned();
        let started = Instant::now();
        let permit = match gate.enter(started + self.shared.timeout).await {
            Ok(p) => p,
            Err(e) => return MethodResponse::error(id, e),
        };
        // The methods stop themselves at their deadline; this is the backstop for one that
        // does not. Its work goes on after the caller has been answered, and holds the permit
        // until it ends: a caller who repeats a call that outlives the backstop does not pile
        // up more work than the gate admits.
        let inner = self.inner.clone();
        let req = owned_request(req);
        let call = tokio::spawn(async move {
            let rp = inner.call(req).await;
            drop(permit);
            rp
        });
        match tokio::time::timeout(self.shared.timeout + BACKSTOP_SLACK, call).await {
            Ok(Ok(rp)) => rp,
            Ok(Err(_)) => MethodResponse::error(id, crate::error::internal("the call failed")),
            Err(_) => MethodResponse::error(id, request_timed_out()),
        }
    }
}

impl<S> RpcServiceT for Guard<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let Some(unsent) = this.unsent.clone() else { return this.guarded(request).await };
            let count = unsent.count.fetch_add(1, Ordering::Relaxed) + 1;
            let mut share = UnsentShare { unsent: unsent.clone(), bytes: 0 };
            share.add_bytes(request.params.as_ref().map_or(0, |p| p.get().len()));
            if count > MAX_UNSENT_HARD || unsent.bytes.load(Ordering::Relaxed) > MAX_UNSENT_BYTES {
                tracing::debug!(target: "dbc::rpc", count, "WebSocket client not reading; call dropped");
                return MethodResponse::notification();
            }
            let id = request.id().into_owned();
            let rp = if count > MAX_UNSENT {
                MethodResponse::error(
                    id.clone(),
                    ErrorObjectOwned::owned(
                        LIMIT_EXCEEDED,
                        format!(
                            "too many responses waiting for this connection to read them \
                             (limit {MAX_UNSENT})"
                        ),
                        None::<()>,
                    ),
                )
            } else {
                this.guarded(request).await
            };
            if !rp.is_method_call() {
                return rp;
            }
            release_when_sent(rp, id, share)
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let shared = &this.shared;
            if batch.len() > shared.batch_limit {
                return MethodResponse::error(
                    Id::Null,
                    ErrorObjectOwned::owned(INVALID_REQUEST, "batch too large", None::<()>),
                );
            }
            let deadline = Instant::now() + shared.timeout;
            let mut out = BatchResponseBuilder::new_with_limit(shared.batch_response_max);
            let mut block_scale = 0usize;
            let mut got_notification = false;
            for entry in batch {
                let rp = match entry {
                    Ok(BatchEntry::Call(req)) => {
                        let id = req.id().into_owned();
                        if Instant::now() >= deadline {
                            MethodResponse::error(id, request_timed_out())
                        } else if cost_of(req.method_name()) == Cost::BlockScale && {
                            block_scale += 1;
                            block_scale > MAX_BLOCK_SCALE_PER_BATCH
                        } {
                            MethodResponse::error(
                                id,
                                ErrorObjectOwned::owned(
                                    LIMIT_EXCEEDED,
                                    format!(
                                        "batch too costly: more than {MAX_BLOCK_SCALE_PER_BATCH} \
                                         block-scale calls"
                                    ),
                                    None::<()>,
                                ),
                            )
                        } else {
                            this.guarded(req).await
                        }
                    }
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        this.inner.notification(n).await;
                        continue;
                    }
                    Err(err) => {
                        let (err, id) = err.into_parts();
                        MethodResponse::error(id, err)
                    }
                };
                if out.append(rp).is_err() {
                    return MethodResponse::error(
                        Id::Null,
                        ErrorObjectOwned::owned(
                            RESPONSE_TOO_LARGE,
                            "response too large",
                            None::<()>,
                        ),
                    );
                }
            }
            if out.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(out.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// Who may address the server: `Host` names on HTTP, `Origin`s on WebSocket; and how long one
/// HTTP exchange may take (reading the body included: a client that sends half a body and
/// stalls does not hold its connection and buffer for ever).
#[derive(Debug, Clone)]
pub struct AccessLayer {
    rule: Arc<AccessRule>,
    timeout: Duration,
}

#[derive(Debug)]
enum AccessRule {
    /// HTTP: the `Host` must be an IP address or one of these names (`*`: any).
    Hosts(Vec<String>),
    /// WebSocket: an `Origin`, if sent, must be one of these (`*`: any; empty: none).
    Origins(Vec<String>),
}

impl AccessLayer {
    /// HTTP's host check (`--http.vhosts`; empty: `localhost`); an exchange may take
    /// `timeout`.
    pub fn http(vhosts: &[String], timeout: Duration) -> Self {
        let mut hosts: Vec<String> = vhosts
            .iter()
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            hosts.push("localhost".into());
        }
        Self { rule: Arc::new(AccessRule::Hosts(hosts)), timeout }
    }

    /// WebSocket's origin check (`--ws.origins`; `None`: browsers refused); the upgrade
    /// request may take `timeout`.
    pub fn ws(origins: Option<&str>, timeout: Duration) -> Self {
        let list = origins
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        Self { rule: Arc::new(AccessRule::Origins(list)), timeout }
    }
}

/// The host part of a `Host` header (without the port; IPv6 brackets removed).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

impl AccessRule {
    /// `None` when allowed, else why not.
    fn check<B>(&self, req: &HttpRequest<B>) -> Option<&'static str> {
        match self {
            Self::Hosts(allowed) => {
                // No Host header (HTTP/1.0): nothing a browser would send; allow.
                let host = req.headers().get(http::header::HOST)?;
                let Ok(host) = host.to_str() else { return Some("invalid host specified") };
                let name = host_name(host).to_ascii_lowercase();
                let ok = name.parse::<std::net::IpAddr>().is_ok()
                    || allowed.iter().any(|a| a == "*" || *a == name);
                (!ok).then_some("invalid host specified")
            }
            Self::Origins(allowed) => {
                let origin = req.headers().get(http::header::ORIGIN)?;
                let Ok(origin) = origin.to_str() else { return Some("origin not allowed") };
                let origin = origin.trim_end_matches('/').to_ascii_lowercase();
                let ok = allowed.iter().any(|a| a == "*" || *a == origin);
                (!ok).then_some("origin not allowed")
            }
        }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Access<S> {
        Access { inner, rule: self.rule.clone(), timeout: self.timeout }
    }
}

/// The HTTP middleware of [`AccessLayer`].
#[derive(Debug, Clone)]
pub struct Access<S> {
    inner: S,
    rule: Arc<AccessRule>,
    timeout: Duration,
}

impl<S, B> tower::Service<HttpRequest<B>> for Access<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = BoxFuture<'static, Result<HttpResponse, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        if let Some(why) = self.rule.check(&req) {
            tracing::debug!(target: "dbc::rpc", why, headers = ?req.headers(), "request refused");
            let response = http::Response::builder()
                .status(http::StatusCode::FORBIDDEN)
                .header(http::header::CONTENT_TYPE, "text/plain")
                .body(HttpBody::from(format!("{why}\n")))
                .unwrap_or_else(|_| HttpResponse::new(HttpBody::from(why)));
            return async move { Ok(response) }.boxed();
        }
        let call = self.inner.call(req);
        let timeout = self.timeout;
        async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(r) => r.map_err(Into::into),
                Err(_) => Ok(http::Response::builder()
                    .status(http::StatusCode::REQUEST_TIMEOUT)
                    .body(HttpBody::from("request timed out\n"))
                    .unwrap_or_else(|_| HttpResponse::new(HttpBody::from("request timed out")))),
            }
        }
        .boxed()
    }
}

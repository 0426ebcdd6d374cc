//! The servers on loopback ports: CORS, namespaces, batches, hosts and origins, connections,
//! and the gates of costly calls (M4).

use super::TestChain;
use crate::{
    ApiSet, RpcConfig, RpcLimits, RpcServerHandles,
    limits::{Cost, Gate, cost_of},
};
use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

/// A response: status line, lower-cased head, body.
struct Raw {
    status: String,
    head: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn raw_blocking(port: u16, request: String) -> Raw {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    let head = head.to_ascii_lowercase();
    let body =
        if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    Raw { status, head, body }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

async fn raw(port: u16, request: String) -> Raw {
    tokio::task::spawn_blocking(move || raw_blocking(port, request)).await.unwrap()
}

async fn post(port: u16, body: &Value, extra: &str) -> Raw {
    let body = body.to_string();
    raw(
        port,
        format!(
            "POST / HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        ),
    )
    .await
}

fn req(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

struct Served {
    _chain: TestChain,
    handles: RpcServerHandles,
}

impl Served {
    fn http(&self) -> u16 {
        self.handles.http_addr.unwrap().port()
    }

    fn ws(&self) -> u16 {
        self.handles.ws_addr.unwrap().port()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.handles.stop();
    }
}

async fn serve(config: RpcConfig) -> Served {
    let chain = TestChain::new();
    let config = RpcConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        ws: Some("127.0.0.1:0".parse().unwrap()),
        ..config
    };
    let handles = crate::start(&config, chain.ctx.clone()).await.unwrap();
    Served { _chain: chain, handles }
}

fn preflight(port: u16, origin: &str) -> String {
    format!(
        "OPTIONS / HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: {origin}\r\n\
         Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\
         Connection: close\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_no_cors_headers_unless_configured() {
    let node = serve(RpcConfig::default()).await;
    let port = node.http();
    let r = raw(port, preflight(port, "http://evil.example")).await;
    assert!(!r.head.contains("access-control-allow-origin"), "{}", r.head);
    let r = post(port, &req(1, "eth_chainId", json!([])), "Origin: http://evil.example\r\n").await;
    assert!(!r.head.contains("access-control-allow-origin"), "{}", r.head);

    let node =
        serve(RpcConfig { cors: Some("http://good.example".into()), ..Default::default() }).await;
    let port = node.http();
    let r = raw(port, preflight(port, "http://good.example")).await;
    assert!(r.head.contains("access-control-allow-origin: http://good.example"), "{}", r.head);
    let r = raw(port, preflight(port, "http://evil.example")).await;
    assert!(!r.head.contains("access-control-allow-origin"), "{}", r.head);
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_disabled_namespaces_answer_like_geth() {
    let api: ApiSet = "eth,net,web3".parse().unwrap();
    let node = serve(RpcConfig { http_api: api.clone(), ws_api: api, ..Default::default() }).await;
    let port = node.http();
    for (method, params) in [
        ("debug_traceTransaction", json!([format!("0x{}", "11".repeat(32))])),
        ("trace_block", json!(["latest"])),
        ("ots_getApiLevel", json!([])),
        ("txpool_content", json!([])),
        ("dbc_getBlockHookLogs", json!(["latest"])),
        ("nope_nothing", json!([])),
    ] {
        let v = post(port, &req(1, method, params), "").await.json();
        assert_eq!(
            v["error"],
            json!({"code": -32601, "message": format!("the method {method} does not exist/is not available")}),
            "{method}"
        );
    }
    let v = post(port, &req(1, "eth_chainId", json!([])), "").await.json();
    assert_eq!(v["result"], "0x4db0");
    // Unknown namespaces are refused when parsed.
    assert!("eth,admin".parse::<ApiSet>().unwrap_err().contains("unknown RPC namespace `admin`"));
    assert_eq!("all".parse::<ApiSet>().unwrap(), ApiSet::all());
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_batches_are_limited() {
    let limits = RpcLimits { batch_request_limit: 200, ..Default::default() };
    let node = serve(RpcConfig { limits, ..Default::default() }).await;
    let port = node.http();
    // Over the item limit: one error, geth's.
    let batch: Vec<Value> = (0..201).map(|i| req(i, "eth_chainId", json!([]))).collect();
    let v = post(port, &Value::Array(batch), "").await.json();
    assert_eq!(v["error"], json!({"code": -32600, "message": "batch too large"}), "{v}");
    // Block-scale calls past 100 in one batch are refused one by one.
    let unknown = format!("0x{}", "22".repeat(32));
    let batch: Vec<Value> =
        (0..102).map(|i| req(i, "eth_getLogs", json!([{"blockHash": unknown}]))).collect();
    let v = post(port, &Value::Array(batch), "").await.json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 102);
    let refused: Vec<_> = items.iter().filter(|r| r["error"]["code"] == -32005).collect();
    assert_eq!(refused.len(), 2, "{v}");
    assert_eq!(refused[0]["error"]["message"], "batch too costly: more than 100 block-scale calls");

    // A batch stops at its deadline: the calls after it time out (geth's -32002).
    let limits = RpcLimits { request_timeout: Duration::ZERO, ..Default::default() };
    let node = serve(RpcConfig { limits, ..Default::default() }).await;
    let batch = json!([req(1, "eth_chainId", json!([])), req(2, "eth_blockNumber", json!([]))]);
    let v = post(node.http(), &batch, "").await.json();
    for item in v.as_array().unwrap() {
        assert_eq!(item["error"], json!({"code": -32002, "message": "request timed out"}));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_hosts_and_websocket_origins_are_checked() {
    let node = serve(RpcConfig::default()).await;
    let port = node.http();
    let body = req(1, "eth_chainId", json!([])).to_string();
    let with_host = |host: &str| {
        format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    // DNS rebinding: a page at evil.example resolved to 127.0.0.1.
    let r = raw(port, with_host(&format!("evil.example:{port}"))).await;
    assert!(r.status.contains("403"), "{}", r.status);
    assert_eq!(r.body, "invalid host specified\n");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), "[::1]".into()] {
        let r = raw(port, with_host(&host)).await;
        assert!(r.status.contains("200"), "{host}: {}", r.status);
    }

    let upgrade = |port: u16, origin: Option<&str>| {
        let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        format!(
            "GET / HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{origin}\r\n"
        )
    };
    let ws_status = |port: u16, origin: Option<&'static str>| {
        let request = upgrade(port, origin);
        tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut buf = [0u8; 256];
            let n = stream.read(&mut buf).unwrap_or(0);
            String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string()
        })
    };
    let ws = node.ws();
    assert!(ws_status(ws, None).await.unwrap().contains("101"));
    assert!(ws_status(ws, Some("http://evil.example")).await.unwrap().contains("403"));
    let node =
        serve(RpcConfig { ws_origins: Some("http://good.example".into()), ..Default::default() })
            .await;
    let ws = node.ws();
    assert!(ws_status(ws, Some("http://good.example")).await.unwrap().contains("101"));
    assert!(ws_status(ws, Some("http://evil.example")).await.unwrap().contains("403"));
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_connections_are_capped() {
    let limits = RpcLimits {
        max_connections: 2,
        idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let node = serve(RpcConfig { limits, ..Default::default() }).await;
    let port = node.http();
    let idle: Vec<TcpStream> =
        (0..2).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A third connection is closed at once.
    let third = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let mut buf = [0u8; 64];
        s.read(&mut buf).unwrap_or(0)
    });
    assert_eq!(third.await.unwrap(), 0);
    // Connections that never send a byte are closed after the idle timeout, which frees their
    // slots while the clients still hold them open (a slowloris cannot keep the server).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let v = post(port, &req(1, "eth_chainId", json!([])), "").await.json();
    assert_eq!(v["result"], "0x4db0");
    let closed = tokio::task::spawn_blocking(move || {
        idle.into_iter()
            .map(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 8];
                s.read(&mut buf).unwrap_or(0)
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(closed.await.unwrap(), vec![0, 0], "the server closed the silent connections");
}

#[tokio::test]
async fn m4_gates_queue_then_refuse() {
    let gate = std::sync::Arc::new(Gate::new("test", 1, 1));
    let held = gate.enter(Instant::now() + Duration::from_secs(5)).await.unwrap();
    let waiter = {
        let gate = gate.clone();
        tokio::spawn(async move { gate.enter(Instant::now() + Duration::from_secs(5)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The queue (one waiter) is full: refused at once.
    let err = gate.enter(Instant::now() + Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.code(), -32005);
    assert_eq!(
        err.message(),
        "server busy: too many test requests (limit 1 running, 1 waiting); retry later"
    );
    drop(held);
    assert!(waiter.await.unwrap().is_ok());
    // A waiter that runs out of time is refused too.
    let _held = gate.enter(Instant::now() + Duration::from_secs(5)).await.unwrap();
    assert!(gate.enter(Instant::now() + Duration::from_millis(20)).await.is_err());
    assert_eq!(gate.available(), 0);
}

#[test]
fn m4_block_scale_methods_are_classified() {
    for m in [
        "dbc_getBlockHookLogs",
        "dbc_listMachines",
        "eth_feeHistory",
        "txpool_content",
        "txpool_contentFrom",
        "eth_getProof",
        "eth_getLogs",
        "eth_getFilterChanges",
        "trace_filter",
        "trace_block",
        "debug_traceCall",
        "debug_traceBlockByNumber",
        "ots_searchTransactionsBefore",
        "ots_getBlockTransactions",
    ] {
        assert_eq!(cost_of(m), Cost::BlockScale, "{m}");
    }
    for m in ["eth_call", "eth_estimateGas", "eth_getBlockByNumber", "dbc_getMachine"] {
        assert_eq!(cost_of(m), Cost::Compute, "{m}");
    }
    for m in ["eth_chainId", "eth_getBalance", "ots_getApiLevel"] {
        assert_eq!(cost_of(m), Cost::Cheap, "{m}");
    }
}

/// A served method that ignores its deadline: it sleeps `for_` and counts how many of its calls
/// run at once.
#[derive(Clone)]
struct Stubborn {
    for_: Duration,
    running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    most: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl jsonrpsee::core::middleware::RpcServiceT for Stubborn {
    type MethodResponse = jsonrpsee::MethodResponse;
    type NotificationResponse = jsonrpsee::MethodResponse;
    type BatchResponse = jsonrpsee::MethodResponse;

    fn call<'a>(
        &self,
        req: jsonrpsee::types::Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        use std::sync::atomic::Ordering::SeqCst;
        let this = self.clone();
        async move {
            // On the blocking pool, as jsonrpsee runs the node's `blocking` methods.
            let work = this.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let now = work.running.fetch_add(1, SeqCst) + 1;
                work.most.fetch_max(now, SeqCst);
                std::thread::sleep(work.for_); // stuck, as a method in a long scan would be
                work.running.fetch_sub(1, SeqCst);
            })
            .await;
            jsonrpsee::MethodResponse::response(
                req.id().into_owned(),
                jsonrpsee::ResponsePayload::success(1u8),
                usize::MAX,
            )
        }
    }

    fn batch<'a>(
        &self,
        _: jsonrpsee::core::middleware::Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        // Never sent here.
        std::future::pending()
    }

    fn notification<'a>(
        &self,
        _: jsonrpsee::core::middleware::Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        // Never sent here.
        std::future::pending()
    }
}

/// A gated call that outlives its backstop is answered "timed out" but keeps its permit until
/// its work ends: a caller repeating it is refused meanwhile instead of starting a second run
/// beside the first (security review M4; the permit used to go with the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn m4_a_call_past_its_backstop_keeps_its_permit_until_it_ends() {
    use jsonrpsee::core::middleware::RpcServiceT;
    use std::sync::{Arc, atomic::Ordering::SeqCst};
    let limits = RpcLimits {
        max_block_scale_requests: 1,
        request_timeout: Duration::from_millis(200),
        ..RpcLimits::default()
    };
    let gates = Arc::new(crate::limits::Gates::new(&limits));
    let methods = Arc::new(std::collections::BTreeSet::from(["debug_traceBlockByNumber"]));
    let stubborn = Stubborn {
        for_: Duration::from_secs(8),
        running: Default::default(),
        most: Default::default(),
    };
    let guard = tower::Layer::layer(
        &crate::limits::GuardLayer::new(false, methods, gates.clone(), &limits),
        stubborn.clone(),
    );
    let call = |id: u64| {
        let guard = guard.clone();
        async move {
            let req = jsonrpsee::types::Request::owned(
                "debug_traceBlockByNumber".into(),
                None,
                jsonrpsee::types::Id::Number(id),
            );
            let rp = guard.call(req).await;
            serde_json::from_str::<Value>(rp.as_json().get()).unwrap()
        }
    };
    let started = Instant::now();
    let first = call(1).await;
    assert_eq!(first["error"]["code"], -32002, "{first}");
    assert!(started.elapsed() < Duration::from_secs(7), "answered at the backstop");
    // The first call's work still runs: the repeat waits for the permit and is refused.
    let second = call(2).await;
    assert_eq!(second["error"]["code"], -32005, "{second}");
    assert_eq!(stubborn.most.load(SeqCst), 1, "two runs at once");
    assert_eq!(stubborn.running.load(SeqCst), 1);
}

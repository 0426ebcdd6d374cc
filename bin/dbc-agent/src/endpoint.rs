//! The provider's public endpoint: a JSON-RPC server anyone on the network can reach, so it
//! limits what one client can take. At most [`Limits::connections`] connections in all and
//! [`Limits::connections_per_ip`] from one address (IPv6 by /64, what one host usually holds);
//! requests from one address are rate limited by a token bucket (answered with HTTP 429 past
//! it); a connection that stays silent is closed. The state kept per address is bounded too.

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, Methods, ServerConfig, StopHandle};
use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::Semaphore};

/// What one endpoint accepts.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Connections at once, in all.
    pub(crate) connections: usize,
    /// Connections at once from one address.
    pub(crate) connections_per_ip: u32,
    /// Requests one address may send at once before it is limited.
    pub(crate) burst: f64,
    /// Requests per second one address may send over time.
    pub(crate) per_sec: f64,
    /// A connection silent this long (before its first request, or between requests) is
    /// closed.
    pub(crate) idle: Duration,
    /// Addresses tracked at most; past it, new addresses are refused until old ones are idle.
    pub(crate) tracked: usize,
    /// Longest a connection may stay open (a client sending its body or reading the answer
    /// slowly cannot hold a slot longer).
    pub(crate) lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: 64,
            connections_per_ip: 8,
            burst: 20.0,
            per_sec: 5.0,
            idle: Duration::from_secs(10),
            tracked: 4096,
            lifetime: Duration::from_secs(120),
        }
    }
}

/// One address's token bucket and open connections.
#[derive(Debug, Clone)]
struct Client {
    tokens: f64,
    at: Instant,
    connections: u32,
}

/// Per-address accounting.
#[derive(Debug)]
struct PerIp {
    limits: Limits,
    clients: Mutex<HashMap<IpAddr, Client>>,
}

/// The key of an address: itself for IPv4, its /64 for IPv6.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::from(o)
            }
        },
    }
}

impl PerIp {
    fn new(limits: Limits) -> Self {
        Self { limits, clients: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Client>> {
        self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a new connection from `ip`; `false` if `ip` holds its share already or no more
    /// addresses can be tracked.
    fn connect(&self, ip: IpAddr, now: Instant) -> bool {
        let limits = &self.limits;
        let mut clients = self.lock();
        if !clients.contains_key(&key(ip)) && clients.len() >= limits.tracked {
            // Forget addresses with no connection whose bucket has refilled: they lose nothing.
            clients.retain(|_, c| c.connections > 0 || refilled(c, limits, now) < limits.burst);
            if clients.len() >= limits.tracked {
                return false;
            }
        }
        let c = clients.entry(key(ip)).or_insert(Client {
            tokens: limits.burst,
            at: now,
            connections: 0,
        });
        if c.connections >= limits.connections_per_ip {
            return false;
        }
        c.connections += 1;
        true
    }

    /// A connection from `ip` closed.
    fn disconnect(&self, ip: IpAddr) {
        if let Some(c) = self.lock().get_mut(&key(ip)) {
            c.connections = c.connections.saturating_sub(1);
        }
    }

    /// Takes a request's token from `ip`'s bucket; `false` if it is empty.
    fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let limits = &self.limits;
        let mut clients = self.lock();
        let Some(c) = clients.get_mut(&key(ip)) else { return false };
        c.tokens = refilled(c, limits, now);
        c.at = now;
        if c.tokens < 1.0 {
            return false;
        }
        c.tokens -= 1.0;
        true
    }
}

/// `c`'s tokens at `now`.
fn refilled(c: &Client, limits: &Limits, now: Instant) -> f64 {
    let secs = now.saturating_duration_since(c.at).as_secs_f64();
    (c.tokens + secs * limits.per_sec).min(limits.burst)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The RPC service behind one connection, refusing requests past the address's rate.
#[derive(Clone)]
struct Limited<S> {
    inner: S,
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl<S> hyper::service::Service<HttpRequest<hyper::body::Incoming>> for Limited<S>
where
    S: tower::Service<
            HttpRequest<hyper::body::Incoming>,
            Response = HttpResponse,
            Error = BoxError,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn call(&self, req: HttpRequest<hyper::body::Incoming>) -> Self::Future {
        if !self.per_ip.allow(self.ip, Instant::now()) {
            let mut too_many =
                HttpResponse::new(HttpBody::from("too many requests from this address"));
            *too_many.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
            return Box::pin(async move { Ok(too_many) });
        }
        let mut inner = self.inner.clone();
        Box::pin(async move { tower::Service::call(&mut inner, req).await })
    }
}

/// Serves `methods` on `listener` under `limits` until `stop` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    methods: Methods,
    stop: StopHandle,
    limits: Limits,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let service = jsonrpsee::server::Server::builder()
        .set_config(config)
        .to_service_builder()
        .build(methods, stop.clone());
    let per_ip = Arc::new(PerIp::new(limits.clone()));
    let connections = Arc::new(Semaphore::new(limits.connections));
    loop {
        let (socket, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.clone().shutdown() => break,
        };
        let ip = peer.ip();
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "endpoint connection limit reached");
            continue;
        };
        if !per_ip.connect(ip, Instant::now()) {
            tracing::debug!(%peer, "too many connections from this address");
            continue;
        }
        let per_ip = per_ip.clone();
        let service = service.clone();
        let stop = stop.clone();
        let idle = limits.idle;
        let lifetime = limits.lifetime;
        tokio::spawn(async move {
            let _permit = permit;
            // A client must start its request within the idle time (hyper's header timeout
            // starts only with the first byte).
            let mut first = [0u8; 1];
            if matches!(tokio::time::timeout(idle, socket.peek(&mut first)).await, Ok(Ok(n)) if n > 0)
            {
                let handler = Limited { inner: service, per_ip: per_ip.clone(), ip };
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(idle)
                    .serve_connection(TokioIo::new(socket), handler);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => if let Err(e) = r {
                        tracing::trace!(error = %e, "endpoint connection closed");
                    },
                    () = stop.shutdown() => {}
                    () = tokio::time::sleep(lifetime) => {
                        tracing::debug!(%ip, "endpoint connection open too long; closed");
                    }
                }
            }
            per_ip.disconnect(ip);
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Read, Write};

    fn limits() -> Limits {
        Limits {
            connections: 16,
            connections_per_ip: 2,
            burst: 3.0,
            per_sec: 1.0,
            idle: Duration::from_secs(2),
            tracked: 2,
            lifetime: Duration::from_secs(5),
        }
    }

    #[test]
    fn an_address_gets_its_burst_then_its_rate() {
        let p = PerIp::new(limits());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        assert!(p.connect(ip, t));
        assert!((0..3).all(|_| p.allow(ip, t)));
        assert!(!p.allow(ip, t), "the burst is spent");
        assert!(!p.allow(ip, t + Duration::from_millis(900)));
        assert!(p.allow(ip, t + Duration::from_millis(1_900)), "one token a second");
        // Another address has its own bucket.
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(p.connect(other, t));
        assert!(p.allow(other, t));
    }

    #[test]
    fn connections_per_address_and_addresses_tracked_are_bounded() {
        let p = PerIp::new(limits());
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(p.connect(a, t) && p.connect(a, t));
        assert!(!p.connect(a, t), "a third connection from one address");
        p.disconnect(a);
        assert!(p.connect(a, t));
        // IPv6 addresses of one /64 are one client.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2:3".parse().unwrap();
        assert!(p.connect(v6a, t) && p.connect(v6b, t));
        assert!(p.allow(v6b, t));
        assert!(!p.connect("2001:db8::ffff".parse().unwrap(), t));
        // Two addresses are tracked, both with connections: a third is refused...
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        assert!(!p.connect(c, t));
        // ...until one has closed its connections and refilled its bucket.
        p.disconnect(v6a);
        p.disconnect(v6b);
        assert!(!p.connect(c, t), "a client that just left keeps its spent bucket");
        assert!(p.connect(c, t + Duration::from_secs(5)));
    }

    /// One HTTP exchange on a new connection: the status, `None` if the server closed it.
    fn post(addr: SocketAddr, body: &str) -> Option<u16> {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.split_whitespace().nth(1)?.parse().ok()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flooding_address_is_answered_429_and_cannot_hold_many_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut module = jsonrpsee::RpcModule::new(());
        module.register_method("ping", |_, _, _| "pong").unwrap();
        let (stop, handle) = jsonrpsee::server::stop_channel();
        let l = Limits { per_sec: 0.01, ..limits() };
        tokio::spawn(serve(listener, ServerConfig::default(), module.into(), stop, l));
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}"#;
        let statuses = tokio::task::spawn_blocking(move || {
            // Two silent connections take this address's share: a third is closed at once.
            let held: Vec<_> =
                (0..2).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            std::thread::sleep(Duration::from_millis(200));
            let refused = post(addr, body);
            drop(held);
            std::thread::sleep(Duration::from_millis(200));
            let statuses: Vec<Option<u16>> = (0..5).map(|_| post(addr, body)).collect();
            (refused, statuses)
        })
        .await
        .unwrap();
        assert_eq!(statuses.0, None, "a third connection from one address is closed");
        assert_eq!(statuses.1, vec![Some(200), Some(200), Some(200), Some(429), Some(429)]);
        handle.stop().unwrap();
    }
}

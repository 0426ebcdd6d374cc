//! Helpers shared by the network tests: a toy chain served over sync, configs on 127.0.0.1 and
//! event waiting.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use alloy_primitives::{B256, Bytes};
use dbc_network::{NetEvent, NetworkConfig, NetworkHandle, Status, SyncServer};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::mpsc::Receiver;

/// A chain of `head + 1` blocks whose header `n` is `n` in big-endian bytes and whose body
/// for a hash is the hash; `delay` slows every read down; `overflowed` records a range whose
/// end does not fit a u64.
#[derive(Default)]
pub struct Chain {
    pub head: u64,
    pub delay: Duration,
    pub overflowed: AtomicBool,
}

impl Chain {
    pub fn new(head: u64) -> Arc<Self> {
        Arc::new(Self { head, ..Default::default() })
    }

    pub fn slow(head: u64, delay: Duration) -> Arc<Self> {
        Arc::new(Self { head, delay, ..Default::default() })
    }
}

impl SyncServer for Chain {
    fn status(&self) -> Status {
        Status {
            genesis: B256::ZERO,
            head: self.head,
            head_hash: B256::repeat_byte(1),
            finalized: 0,
        }
    }
    fn headers(&self, from: u64, count: u32) -> Vec<Bytes> {
        std::thread::sleep(self.delay);
        let Some(end) = from.checked_add(u64::from(count)) else {
            self.overflowed.store(true, Ordering::Relaxed);
            return vec![];
        };
        (from..end.min(self.head + 1)).map(|n| Bytes::from(n.to_be_bytes().to_vec())).collect()
    }
    fn bodies(&self, hashes: &[B256]) -> Vec<Bytes> {
        std::thread::sleep(self.delay);
        hashes.iter().map(|h| Bytes::from(h.to_vec())).collect()
    }
}

pub fn config(dir: &std::path::Path, name: &str, boot: Vec<dbc_network::Addr>) -> NetworkConfig {
    NetworkConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        bootnodes: boot,
        key_file: dir.join(name),
        status_interval: Duration::from_millis(500),
        ..Default::default()
    }
}

/// `addr` with `/p2p/<peer>` appended (a bootnode address).
pub fn boot(addr: &dbc_network::Addr, peer: dbc_network::Peer) -> dbc_network::Addr {
    addr.clone().with(libp2p::multiaddr::Protocol::P2p(peer))
}

/// A started node.
pub struct Node {
    pub net: NetworkHandle,
    pub rx: Receiver<NetEvent>,
    pub addr: dbc_network::Addr,
}

impl Node {
    pub async fn start(config: NetworkConfig, server: Arc<dyn SyncServer>) -> Self {
        let (net, rx, addr) = dbc_network::start(config, server).await.unwrap();
        Self { net, rx, addr }
    }

    /// This node as a bootnode.
    pub fn boot(&self) -> dbc_network::Addr {
        boot(&self.addr, self.net.local_peer_id())
    }
}

pub async fn next_matching(rx: &mut Receiver<NetEvent>, f: impl Fn(&NetEvent) -> bool) -> NetEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let ev = rx.recv().await.expect("network running");
            if f(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("event in time")
}

/// Waits until `f` holds (polled every 50 ms, at most 20 s).
pub async fn until(what: &str, f: impl Fn() -> bool) {
    let t = tokio::time::Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Watches `f` for `window` (polled every 50 ms) and fails if it stays false for `max_gap`: a
/// state that may break for a moment but never lasts broken. A peer that a node refuses and that
/// keeps redialing counts the connection from its side while the refusing node closes it.
pub async fn never_broken_for(
    what: &str,
    window: Duration,
    max_gap: Duration,
    f: impl Fn() -> bool,
) {
    let t = tokio::time::Instant::now();
    let mut broken_since: Option<tokio::time::Instant> = None;
    while t.elapsed() < window {
        if f() {
            broken_since = None;
        } else {
            let since = *broken_since.get_or_insert_with(tokio::time::Instant::now);
            assert!(since.elapsed() < max_gap, "{what}: broken for {:?}", since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! Two real libp2p nodes on 127.0.0.1: connect through a bootnode address, exchange status,
//! gossip, serve block ranges and ban a misbehaving peer.
#![allow(clippy::unwrap_used, missing_docs)]

use alloy_primitives::{B256, Bytes};
use dbc_network::{NetEvent, NetworkConfig, Request, Response, Status, SyncServer, Topic};
use std::{sync::Arc, time::Duration};

struct Chain(u64);

impl SyncServer for Chain {
    fn status(&self) -> Status {
        Status { genesis: B256::ZERO, head: self.0, head_hash: B256::repeat_byte(1), finalized: 0 }
    }
    fn blocks(&self, from: u64, count: u32) -> Vec<Bytes> {
        (from..(from + u64::from(count)).min(self.0 + 1))
            .map(|n| Bytes::from(n.to_be_bytes().to_vec()))
            .collect()
    }
}

fn config(dir: &std::path::Path, name: &str, boot: Vec<dbc_network::Addr>) -> NetworkConfig {
    NetworkConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        bootnodes: boot,
        key_file: dir.join(name),
        status_interval: Duration::from_millis(500),
    }
}

async fn next_matching(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<NetEvent>,
    f: impl Fn(&NetEvent) -> bool,
) -> NetEvent {
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

#[tokio::test(flavor = "multi_thread")]
async fn peers_connect_gossip_sync_and_ban() {
    let dir = tempfile::tempdir().unwrap();
    let (a, mut a_rx, a_addr) =
        dbc_network::start(config(dir.path(), "a", vec![]), Arc::new(Chain(300))).await.unwrap();
    let boot = a_addr.with(libp2p_p2p(a.local_peer_id()));
    let (b, mut b_rx, _) =
        dbc_network::start(config(dir.path(), "b", vec![boot]), Arc::new(Chain(5))).await.unwrap();
    // The key file keeps the peer id.
    assert_eq!(dbc_network::peer_id_of(&dir.path().join("a")).unwrap(), a.local_peer_id());

    let ev = next_matching(&mut b_rx, |e| matches!(e, NetEvent::PeerStatus { .. })).await;
    let NetEvent::PeerStatus { peer, status } = ev else { unreachable!() };
    assert_eq!((peer, status.head), (a.local_peer_id(), 300));
    assert_eq!(a.peer_count(), 1);

    // Ranges are capped at the head and at 128 per request.
    let resp =
        b.request(a.local_peer_id(), Request::Blocks { from: 250, count: 100 }).await.unwrap();
    let Response::Blocks(blocks) = resp else { panic!("blocks expected") };
    assert_eq!(blocks.len(), 51);
    let resp =
        b.request(a.local_peer_id(), Request::Blocks { from: 0, count: 1000 }).await.unwrap();
    let Response::Blocks(blocks) = resp else { panic!("blocks expected") };
    assert_eq!(blocks.len(), 128);

    // Gossip needs the mesh: publish until the other side hears it.
    let heard = tokio::time::timeout(Duration::from_secs(20), async {
        let mut i = 0u8;
        loop {
            a.publish(Topic::Votes, vec![7, i]);
            i = i.wrapping_add(1);
            tokio::select! {
                ev = b_rx.recv() => if let Some(NetEvent::Gossip { topic, data, from }) = ev {
                    return (topic, data[0], from);
                },
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            }
        }
    })
    .await
    .expect("gossip arrives");
    assert_eq!(heard, (Topic::Votes, 7, a.local_peer_id()));

    // A banned peer is disconnected.
    a.penalize(b.local_peer_id(), 1000, "test");
    next_matching(&mut a_rx, |e| matches!(e, NetEvent::PeerGone(_))).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(a.peer_count(), 0, "b keeps redialing but is refused");
}

fn libp2p_p2p(id: dbc_network::Peer) -> libp2p::multiaddr::Protocol<'static> {
    libp2p::multiaddr::Protocol::P2p(id)
}

//! Two real libp2p nodes on 127.0.0.1: connect through a bootnode address, exchange status,
//! gossip, serve block ranges, and ban a misbehaving peer.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use alloy_primitives::{B256, U256};
use common::{Chain, Node, config, next_matching, until};
use dbc_network::{BAN_SCORE, MAX_BODIES_PER_REQUEST, NetEvent, Request, Response, Topic, Verdict};
use std::{sync::atomic::Ordering, time::Duration};

#[tokio::test(flavor = "multi_thread")]
async fn peers_connect_gossip_sync_and_ban() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(300);
    let mut a = Node::start(config(dir.path(), "a", vec![]), chain.clone()).await;
    let mut b = Node::start(config(dir.path(), "b", vec![a.boot()]), Chain::new(5)).await;
    let (a_id, b_id) = (a.net.local_peer_id(), b.net.local_peer_id());
    // The key file keeps the peer id.
    assert_eq!(dbc_network::peer_id_of(&dir.path().join("a")).unwrap(), a_id);

    let ev = next_matching(&mut b.rx, |e| matches!(e, NetEvent::PeerStatus { .. })).await;
    let NetEvent::PeerStatus { peer, status } = ev else { unreachable!() };
    assert_eq!((peer, status.head), (a_id, 300));
    until("a sees b", || a.net.peer_count() == 1).await;
    assert_eq!(a.net.peers(), vec![b_id]);
    assert_eq!(b.net.peers(), vec![a_id]);

    // Header ranges are capped at the head and at MAX_HEADERS_PER_REQUEST per request.
    let resp = b.net.request(a_id, Request::Headers { from: 250, count: 100 }).await.unwrap();
    let Response::Headers(headers) = resp else { panic!("headers expected") };
    assert_eq!(headers.len(), 51);
    assert_eq!(headers[0].as_ref(), 250u64.to_be_bytes());
    let resp = b.net.request(a_id, Request::Headers { from: 0, count: u32::MAX }).await.unwrap();
    let Response::Headers(headers) = resp else { panic!("headers expected") };
    assert_eq!(headers.len(), 301);
    // H4: a range ending past u64::MAX is clamped before it reaches the server.
    for from in [u64::MAX - 1, u64::MAX] {
        let resp = b.net.request(a_id, Request::Headers { from, count: u32::MAX }).await.unwrap();
        assert_eq!(resp, Response::Headers(vec![]));
    }
    // Bodies by hash, in order, at most MAX_BODIES_PER_REQUEST of them.
    let hashes: Vec<B256> = (0..200u64).map(|i| B256::from(U256::from(i))).collect();
    let resp = b.net.request(a_id, Request::Bodies { hashes: hashes.clone() }).await.unwrap();
    let Response::Bodies(bodies) = resp else { panic!("bodies expected") };
    assert_eq!(bodies.len(), MAX_BODIES_PER_REQUEST as usize);
    assert_eq!(bodies[5].as_ref(), hashes[5].as_slice());
    let resp = b.net.request(a_id, Request::Bodies { hashes: vec![] }).await.unwrap();
    assert_eq!(resp, Response::Bodies(vec![]));
    assert!(!chain.overflowed.load(Ordering::Relaxed), "the server saw from + count overflow");

    // Gossip needs the mesh: publish until the other side hears it.
    let heard = tokio::time::timeout(Duration::from_secs(20), async {
        let mut i = 0u8;
        loop {
            a.net.publish(Topic::Votes, vec![7, i]);
            i = i.wrapping_add(1);
            tokio::select! {
                ev = b.rx.recv() => if let Some(NetEvent::Gossip { topic, data, from, id }) = ev {
                    assert_eq!(id.source(), from);
                    b.net.report(id, Verdict::Accept);
                    return (topic, data[0], from);
                },
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            }
        }
    })
    .await
    .expect("gossip arrives");
    assert_eq!(heard, (Topic::Votes, 7, a_id));

    // An explicit ban disconnects the peer at once and keeps it out.
    a.net.ban(b_id, "test");
    next_matching(&mut a.rx, |e| matches!(e, NetEvent::PeerGone(_))).await;
    assert!(a.net.is_banned(&b_id));
    assert_eq!(a.net.score(b_id).await.unwrap(), i64::from(BAN_SCORE) - 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(a.net.peer_count(), 0, "b keeps redialing but is refused");
    assert!(b.net.request(a_id, Request::Status).await.is_err());
    assert!(a.net.request(b_id, Request::Status).await.is_err(), "no requests to a banned peer");
}

/// H1: penalties used to be added with the caller's sign, and the node passed negative ones, so
/// scores rose and nobody was ever banned. Penalties are now unsigned amounts that only lower
/// the score: three of 50 from a connected peer ban it (below -100), it is disconnected, and
/// its redials are refused.
#[tokio::test(flavor = "multi_thread")]
async fn h1_penalties_lower_the_score_and_ban() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::start(config(dir.path(), "a", vec![]), Chain::new(3)).await;
    let b = Node::start(config(dir.path(), "b", vec![a.boot()]), Chain::new(3)).await;
    let b_id = b.net.local_peer_id();
    until("connected", || a.net.peer_count() == 1 && b.net.peer_count() == 1).await;

    a.net.penalize(b_id, 50, "invalid block");
    a.net.penalize(b_id, 50, "invalid block");
    assert_eq!(a.net.score(b_id).await.unwrap(), -100);
    assert!(!a.net.is_banned(&b_id), "exactly BAN_SCORE is not below it");
    assert_eq!((a.net.banned_count(), a.net.peer_count()), (0, 1));

    a.net.penalize(b_id, 50, "invalid block");
    assert_eq!(a.net.score(b_id).await.unwrap(), -150);
    assert!(a.net.is_banned(&b_id));
    assert_eq!(a.net.banned_count(), 1);
    let gone = next_matching(&mut a.rx, |e| matches!(e, NetEvent::PeerGone(_))).await;
    assert!(matches!(gone, NetEvent::PeerGone(p) if p == b_id));
    until("b sees the disconnect", || b.net.peer_count() == 0).await;
    // b redials its bootnode every 3 s; a refuses every time.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!((a.net.peer_count(), b.net.peer_count()), (0, 0));
    // Banning again is idempotent.
    a.net.ban(b_id, "again");
    a.net.penalize(b_id, 1, "again");
    assert_eq!(a.net.score(b_id).await.unwrap(), -151);
    assert_eq!(a.net.banned_count(), 1);
}

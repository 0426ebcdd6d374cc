//! Headers-first sync: the pinned header chain, and bodies from several peers checked against
//! it (over a real network).

use super::{
    Server,
    codec::{encode_block, encode_body, encode_header, join_body},
    import::BatchOutcome,
    now_secs,
    sync::{HeadersError, verify_headers},
    tests::{
        extend, import, make_carrying, make_with, offline, proof_by, reseal, root_ok, spec_for,
        transfer, two_nodes,
    },
};
use alloy_consensus::Sealable;
use alloy_primitives::{B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use dbc_network::{NetworkConfig, Status, SyncServer};
use dbc_primitives::Block;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

fn raw_headers(blocks: &[Block]) -> Vec<Bytes> {
    blocks.iter().map(|b| Bytes::from(encode_header(b.header.inner()))).collect()
}

/// A run of headers is pinned only if every header decodes strictly, follows the one before
/// (the first our block) and is well-formed on its own; one that starts elsewhere is a fork
/// to walk back from, not a fault.
#[test]
fn headers_first_pins_only_a_linked_well_formed_run() {
    let (key, _dirs, a, b) = two_nodes();
    let blocks = extend(&a, &key, 0, 6);
    let genesis = b.storage().header(0).expect("read").expect("genesis");
    let (slot, now) = (b.slot_secs(), now_secs());
    let pinned = verify_headers(&genesis, &raw_headers(&blocks), slot, now).expect("valid run");
    let hashes: Vec<B256> = pinned.iter().map(|(h, _)| h.hash()).collect();
    assert_eq!(hashes, blocks.iter().map(|b| b.header.hash()).collect::<Vec<_>>());
    // What the shape check found travels with each header (import checks the schedule only).
    assert!(
        pinned.iter().all(|(h, shaped)| shaped.sealer == key.address() && shaped.mix == h.mix_hash)
    );
    assert_eq!(verify_headers(&genesis, &[], slot, now).map(|v| v.len()), Ok(0));

    // A run that does not start on our block.
    let err = verify_headers(&genesis, &raw_headers(&blocks[1..]), slot, now);
    assert!(matches!(err, Err(HeadersError::Disconnected)));
    let invalid = |raw: &[Bytes]| match verify_headers(&genesis, raw, slot, now) {
        Err(HeadersError::Invalid(e)) => e,
        other => panic!("not refused: {other:?}"),
    };
    // A run that stops linking (the server's chain changed while it read it) pins the prefix
    // that links.
    let mut gap = raw_headers(&blocks);
    gap.remove(3);
    assert_eq!(verify_headers(&genesis, &gap, slot, now).map(|v| v.len()), Ok(3));
    // A header changed under its seal.
    let mut tampered = blocks.clone();
    let mut h = tampered[4].header.inner().clone();
    h.state_root = B256::repeat_byte(7);
    tampered[4] = Block { header: h.seal_slow(), ..tampered[4].clone() };
    // (The next header still names the old parent: rebuild the rest on top.)
    let e = invalid(&raw_headers(&tampered[..5]));
    assert!(e.contains("header 5"), "{e}");
    // A header from the future, resealed properly.
    let mut h = blocks[0].header.inner().clone();
    h.timestamp = now + 3_600;
    let future = Block { header: reseal(&key, h).seal_slow(), ..blocks[0].clone() };
    assert!(invalid(&raw_headers(&[future])).contains("future"));
    // Bytes that are not one canonical header.
    let mut trailing = raw_headers(&blocks[..1]);
    trailing[0] = Bytes::from([trailing[0].to_vec(), vec![0x80]].concat());
    assert!(invalid(&trailing).contains("undecodable"));
    // More headers than a request may carry.
    let many = vec![
        raw_headers(&blocks[..1])[0].clone();
        dbc_network::MAX_HEADERS_PER_REQUEST as usize + 1
    ];
    assert!(invalid(&many).contains("at most"));
    // A header sealed by someone outside the set is well-formed (the schedule needs the
    // parent's state): it is pinned, and import refuses it.
    let outsider = PrivateKeySigner::random();
    let forged = make_with(&b, &outsider, 0, vec![]);
    let run = raw_headers(std::slice::from_ref(&forged));
    assert_eq!(verify_headers(&genesis, &run, slot, now).map(|h| h.len()), Ok(1));
    // Through the sync path (the shape check's result carried along), import still checks
    // the schedule and refuses it.
    let (header, shaped) =
        verify_headers(&genesis, &run, slot, now).expect("pinned").into_iter().next().expect("one");
    let body = encode_body(&forged.transactions);
    let joined = join_body(header, &body).expect("its body").with_shape(shaped);
    match b.import_batch(1, vec![joined]) {
        BatchOutcome::Invalid(e) => assert!(e.contains("slot belongs to"), "{e}"),
        _ => panic!("an outsider's block was not refused"),
    }
    assert!(import(&b, forged).is_err());
    assert!(import(&b, blocks[0].clone()).is_ok());
}

/// A peer that serves bodies its headers do not commit to: every body is the same transfer.
struct WrongBodies {
    genesis: B256,
    head: u64,
}

impl SyncServer for WrongBodies {
    fn status(&self) -> Status {
        Status { genesis: self.genesis, head: self.head, head_hash: B256::ZERO, finalized: 0 }
    }
    fn headers(&self, _: u64, _: u32) -> Vec<Bytes> {
        Vec::new()
    }
    fn bodies(&self, hashes: &[B256]) -> Vec<Bytes> {
        hashes.iter().map(|_| Bytes::from(encode_body(&[transfer(1, 0)]))).collect()
    }
}

fn net_config(dir: &std::path::Path, name: &str, boot: Vec<dbc_network::Addr>) -> NetworkConfig {
    NetworkConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
        bootnodes: boot,
        key_file: dir.join(name),
        status_interval: Duration::from_millis(300),
        ..Default::default()
    }
}

fn boot(addr: &dbc_network::Addr, peer: dbc_network::Peer) -> dbc_network::Addr {
    format!("{addr}/p2p/{peer}").parse().expect("bootnode address")
}

/// A's and B's networks (keys in `dir`), B dialling A and using its network; returns once they
/// are connected, with A's peer id and both event streams (kept, not read: nothing but the test
/// acts).
async fn connect(
    a: &Arc<super::PosNode>,
    b: &Arc<super::PosNode>,
    dir: &std::path::Path,
) -> (
    dbc_network::NetworkHandle,
    dbc_network::NetworkHandle,
    dbc_network::Peer,
    [tokio::sync::mpsc::Receiver<dbc_network::NetEvent>; 2],
) {
    let (a_net, a_events, a_addr) =
        dbc_network::start(net_config(dir, "a", vec![]), Arc::new(Server(a.clone())))
            .await
            .expect("a's network");
    let a_id = a_net.local_peer_id();
    let (b_net, b_events, _) = dbc_network::start(
        net_config(dir, "b", vec![boot(&a_addr, a_id)]),
        Arc::new(Server(b.clone())),
    )
    .await
    .expect("b's network");
    let _ = b.net.set(b_net.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    while b_net.peer_count() < 1 {
        assert!(Instant::now() < deadline, "not connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (a_net, b_net, a_id, [a_events, b_events])
}

/// Headers first over a real network: B pins A's header chain and fetches the bodies from A
/// and from a helper whose claim covers them. The helper serves bodies that are not the ones
/// the pinned headers commit to: it is penalised before anything executes, its batch is asked
/// of A, and B reaches A's head with A's state. Without the body check the wrong bodies would
/// fail execution and cost A, the headers' server, its standing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_come_from_several_peers_and_a_wrong_body_costs_only_its_server() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let a = Arc::new(offline(&spec, dirs[0].path()));
    let b = Arc::new(offline(&spec, dirs[1].path()));
    const HEAD: u64 = 300;
    for n in 0..HEAD {
        let block = make_with(&a, &key, 0, vec![transfer(0, n)]);
        import(&a, block).expect("own block");
    }
    let genesis = a.storage().block_hash(0).expect("read").expect("genesis");

    let (a_net, _a_events, a_addr) =
        dbc_network::start(net_config(dirs[2].path(), "a", vec![]), Arc::new(Server(a.clone())))
            .await
            .expect("a's network");
    let _ = a.net.set(a_net.clone());
    let evil_server = Arc::new(WrongBodies { genesis, head: HEAD - 1 });
    let (evil_net, _evil_events, evil_addr) =
        dbc_network::start(net_config(dirs[2].path(), "evil", vec![]), evil_server)
            .await
            .expect("evil's network");
    let (a_id, evil_id) = (a_net.local_peer_id(), evil_net.local_peer_id());
    let boots = vec![boot(&a_addr, a_id), boot(&evil_addr, evil_id)];
    // B's event loop is not running: the claims below are the only ones it acts on.
    let (b_net, _b_events, _) =
        dbc_network::start(net_config(dirs[2].path(), "b", boots), Arc::new(Server(b.clone())))
            .await
            .expect("b's network");
    let _ = b.net.set(b_net.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    while b_net.peer_count() < 2 {
        assert!(Instant::now() < deadline, "connected to {}", b_net.peer_count());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The helper's claim first (no round: it is recorded while A's round is being picked).
    b.sync.lock().claim(evil_id, HEAD - 1);
    b.on_peer_claim(a_id, HEAD);
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.chain.head_number() < HEAD {
        assert!(Instant::now() < deadline, "synced to {} of {HEAD}", b.chain.head_number());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.chain.head().hash(), a.chain.head().hash());
    root_ok(&b);
    let receipts = b.storage().receipts(HEAD).expect("read").expect("receipts");
    assert_eq!(receipts.len(), 1, "bodies arrived with their transactions");
    let evil_score = b_net.score(evil_id).await.expect("score");
    assert!(evil_score <= -i64::from(super::INVALID_PENALTY), "helper's score {evil_score}");
    assert_eq!(b_net.score(a_id).await.expect("score"), 0, "the headers' server lost nothing");
}

/// A peer whose chain conflicts with our finalized block is useless to sync from, but it may be
/// an honest node on a minority fork that must sync from us to rejoin: the round ends without a
/// ban or a penalty, and the peer is left alone as a sync source for a while. (On 2026-12-05
/// the testnet's nodes banned a validator that had forked off early, for ever.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_chain_conflicts_with_our_finality_is_left_alone_not_banned() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let a = Arc::new(offline(&spec, dirs[0].path()));
    let b = Arc::new(offline(&spec, dirs[1].path()));
    // A: six blocks. B: three of its own from genesis (later slots), the second finalized.
    extend(&a, &key, 0, 6);
    extend(&b, &key, 1, 3);
    b.mark_finalized(2, true);
    let (_a_net, b_net, a_id, _events) = connect(&a, &b, dirs[2].path()).await;
    let ours = b.chain.head().hash();
    b.on_peer_claim(a_id, 6);
    // The round walks back to our finalized block, finds A's chain conflicting, and ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.sync.lock().is_running() || !b.sync.lock().is_cooling_down(&a_id) {
        assert!(Instant::now() < deadline, "the round did not end on the conflict");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.chain.head().hash(), ours, "our finalized chain stays");
    assert!(!b_net.is_banned(&a_id), "a node on another fork is not banned");
    assert_eq!(b_net.score(a_id).await.expect("score"), 0, "nor penalised");
    assert_eq!(b_net.peer_count(), 1, "and stays connected, to sync from us");
}

/// A node whose own branch outgrew the network's (cut off while the network missed slots)
/// hears the network's block carrying a proof for a block it does not have: it fetches that
/// finalized branch from the block's forwarder, fork choice adopts it though it is shorter, and
/// the node finalizes with it (`rejoin.rs`). Sync alone never would: no peer claims a head
/// above ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_branch_outgrew_the_network_rejoins_on_its_gossip() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let a = Arc::new(offline(&spec, dirs[0].path()));
    let b = Arc::new(offline(&spec, dirs[1].path()));
    extend(&b, &key, 1, 5);
    let theirs = extend(&a, &key, 0, 2);
    let block = make_carrying(&a, &key, 0, vec![], vec![proof_by(&[&key], &theirs[1])]);
    import(&a, block.clone()).expect("A's own block");
    let (_a_net, b_net, a_id, _events) = connect(&a, &b, dirs[2].path()).await;
    // No claim brings B back: A's head is below B's.
    b.on_peer_claim(a_id, a.chain.head_number());
    assert_eq!(b.chain.head_number(), 5);
    // A's block 3 arrives by gossip from A.
    let verdict = super::events::on_gossip_block(&b, encode_block(&block), a_id).await;
    assert_eq!(verdict, dbc_network::Verdict::Ignore, "not forwarded: not our chain yet");
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.chain.head().hash() != a.chain.head().hash() {
        assert!(Instant::now() < deadline, "B did not rejoin (head {})", b.chain.head_number());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.chain.finalized(), Some(2));
    root_ok(&b);
    assert_eq!(b_net.score(a_id).await.expect("score"), 0, "an honest forwarder pays nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_rejoins_a_branch_forked_more_than_a_header_run_above_its_finalized_block() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let a = Arc::new(offline(&spec, dirs[0].path()));
    let b = Arc::new(offline(&spec, dirs[1].path()));
    // A long shared chain that nobody finalized: B's finality stays at genesis.
    let shared = super::sync::HEADERS + 100;
    for block in extend(&a, &key, 0, shared as usize) {
        import(&b, block).expect("shared block");
    }
    extend(&b, &key, 1, 5);
    let theirs = extend(&a, &key, 0, 2);
    let block = make_carrying(&a, &key, 0, vec![], vec![proof_by(&[&key], &theirs[1])]);
    import(&a, block.clone()).expect("A's own block");
    assert_eq!(b.chain.finalized().unwrap_or(0), 0);
    assert!(b.chain.head_number() > a.chain.head_number(), "B's branch outgrew A's");
    let (_a_net, b_net, a_id, _events) = connect(&a, &b, dirs[2].path()).await;
    // The fork is more than a run of headers above B's finalized block: the first run after it
    // is all B's own chain.
    super::events::on_gossip_block(&b, encode_block(&block), a_id).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.chain.head().hash() != a.chain.head().hash() {
        assert!(Instant::now() < deadline, "B did not rejoin (head {})", b.chain.head_number());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.chain.finalized(), Some(shared + 2));
    root_ok(&b);
    assert_eq!(b_net.score(a_id).await.expect("score"), 0, "an honest forwarder pays nothing");
}

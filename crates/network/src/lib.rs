//! Peer-to-peer networking of dbc-node over libp2p.
//!
//! - **Transport**: TCP with Noise encryption and Yamux multiplexing; peers are identified by an
//!   Ed25519 key kept in the data directory (`p2p_key`), so a node keeps its peer id across
//!   restarts and others can list it as a bootnode (`/ip4/…/tcp/…/p2p/<peer id>`).
//! - **Gossip** (gossipsub, signed messages, message id = hash of the payload): transactions
//!   ([`Topic::Txs`], in batches), blocks ([`Topic::Blocks`]) and finality votes ([`Topic::Votes`]). Every
//!   message is *validated before it is forwarded*: the node receives it as a
//!   [`NetEvent::Gossip`] and must [`report`](NetworkHandle::report) a [`Verdict`]; only
//!   accepted messages travel on. Each topic has a size limit ([`Topic::max_size`]); larger
//!   messages are rejected before the node sees them.
//! - **Sync** (request/response `/dbc/sync/2`, JSON, [`MAX_REQUEST_SIZE`] /
//!   [`MAX_RESPONSE_SIZE`]): a peer's [`Status`] (head, finalized), ranges of canonical
//!   headers by number and block bodies by hash (headers first, as geth's `eth` protocol:
//!   a syncing node pins the header chain from one peer and fetches the bodies, which the
//!   headers commit to, from several). Headers and bodies are read by the [`SyncServer`] on the
//!   blocking thread pool, at most [`MAX_INFLIGHT_PER_PEER`] requests per peer and
//!   [`MAX_INFLIGHT`] in all; status requests are rate-limited per peer.
//! - **Scoring**: a peer starts at 0; [`NetworkHandle::penalize`] lowers its score, and a peer
//!   whose score drops below [`BAN_SCORE`] (or that is [`ban`](NetworkHandle::ban)ned) is
//!   disconnected and refused for the node's lifetime.
//! - **Back-pressure**: the event stream is bounded (count and bytes). The swarm task never
//!   waits on the node: when the stream is full, gossip is dropped (and reported as
//!   [`Verdict::Ignore`], so it is not forwarded), statuses and departures are dropped, and
//!   [`NetworkHandle::dropped_events`] counts them. Connections are capped in number.
//!
//! The node drives everything through a [`NetworkHandle`] and receives [`NetEvent`]s; inbound
//! sync requests are answered by a [`SyncServer`] the node provides.

mod handle;
mod peers;
mod task;

pub use handle::{GossipId, NetworkHandle, Verdict};
pub use libp2p::{Multiaddr as Addr, PeerId as Peer};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, allow_block_list, connection_limits, gossipsub, identity,
    multiaddr::Protocol,
    noise, ping,
    request_response::{self, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use serde::{Deserialize, Serialize};
use std::{net::Ipv4Addr, path::PathBuf, sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tracing::info;

/// Score below which a peer is banned (a peer starts at 0).
pub const BAN_SCORE: i32 = -100;
/// Score a peer loses for each gossip message rejected by the node ([`Verdict::Reject`]) or by
/// the network (oversized).
pub const REJECT_PENALTY: u32 = 20;
/// Score a peer loses for each sync request beyond its in-flight or rate allowance.
pub const FLOOD_PENALTY: u32 = 5;
/// Most headers served per request.
pub const MAX_HEADERS_PER_REQUEST: u32 = 1024;
/// Most bodies served per request (and most hashes a request may name).
pub const MAX_BODIES_PER_REQUEST: u32 = 128;
/// Largest gossiped block (RLP bytes): EIP-7934's `MAX_RLP_BLOCK_SIZE` (10 MiB minus a 2 MiB
/// margin), a consensus rule from Osaka on, which this chain activates at genesis. With the
/// EIP-7623 calldata floor (10 gas per byte) a 60M-gas block carries at most ~6 MB of
/// calldata, so honest blocks stay below it with room for gas-limit growth.
pub const MAX_BLOCK_SIZE: usize = 8 << 20;
/// Largest gossiped transaction (EIP-2718 bytes): the pool's `MAX_TX_SIZE`.
pub const MAX_TX_SIZE: usize = 128 << 10;
/// Largest gossiped batch of transactions (an RLP list of EIP-2718 encodings): a node
/// gathers what it gossips for a few milliseconds into one message, so that the message's
/// signature check and envelope are paid once a batch, not once a transaction.
pub const MAX_TX_BATCH_SIZE: usize = 512 << 10;
/// Most transactions in one gossiped batch.
pub const MAX_TXS_PER_BATCH: usize = 4_096;
/// Largest gossiped finality vote (an RLP vote is about 110 bytes).
pub const MAX_VOTE_SIZE: usize = 1 << 10;
/// Largest sync request accepted (JSON; a `Bodies` request naming [`MAX_BODIES_PER_REQUEST`]
/// hashes is under 9 KiB).
pub const MAX_REQUEST_SIZE: u64 = 16 << 10;
/// Largest sync response accepted (JSON). Headers and bodies travel as hex, twice their size,
/// so the body of one [`MAX_BLOCK_SIZE`] block must fit; answers are cut to fit.
pub const MAX_RESPONSE_SIZE: u64 = 2 * MAX_BLOCK_SIZE as u64 + (64 << 10);
/// Inbound `Headers` and `Bodies` requests served at once for one peer; more are dropped and
/// cost [`FLOOD_PENALTY`].
pub const MAX_INFLIGHT_PER_PEER: u32 = 2;
/// Inbound `Headers` and `Bodies` requests served at once in all; more are dropped.
pub const MAX_INFLIGHT: u32 = 16;
/// Inbound `Status` requests a peer may burst; beyond, [`STATUS_PER_SEC`] are answered and the
/// rest dropped, each costing [`FLOOD_PENALTY`].
pub const STATUS_BURST: u32 = 8;
/// Sustained inbound `Status` requests per second per peer.
pub const STATUS_PER_SEC: u32 = 4;

/// Network errors.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The key file could not be read or written.
    #[error("p2p key: {0}")]
    Key(String),
    /// Listening or building the transport failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The network task has stopped.
    #[error("network stopped")]
    Stopped,
    /// A request to a peer failed.
    #[error("request to {0} failed: {1}")]
    Request(PeerId, String),
}

/// Gossip topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Batches of transactions: an RLP list of EIP-2718 encodings.
    Txs,
    /// RLP blocks (header and transactions).
    Blocks,
    /// RLP finality votes.
    Votes,
}

impl Topic {
    fn name(self) -> &'static str {
        match self {
            Topic::Txs => "/dbc/txs/2",
            Topic::Blocks => "/dbc/blocks/1",
            Topic::Votes => "/dbc/votes/1",
        }
    }

    fn all() -> [Topic; 3] {
        [Topic::Txs, Topic::Blocks, Topic::Votes]
    }

    fn hash(self) -> gossipsub::TopicHash {
        gossipsub::IdentTopic::new(self.name()).hash()
    }

    /// Largest payload accepted on this topic (larger messages are rejected unseen and cost the
    /// forwarding peer [`REJECT_PENALTY`]; larger publishes are dropped).
    pub fn max_size(self) -> usize {
        match self {
            Topic::Txs => MAX_TX_BATCH_SIZE,
            Topic::Blocks => MAX_BLOCK_SIZE,
            Topic::Votes => MAX_VOTE_SIZE,
        }
    }
}

/// A node's view of its chain, exchanged on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Status {
    /// Genesis hash (peers on another chain are dropped).
    pub genesis: alloy_primitives::B256,
    /// Head number.
    pub head: u64,
    /// Head hash.
    pub head_hash: alloy_primitives::B256,
    /// Finalized number.
    pub finalized: u64,
}

/// Sync requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Request {
    /// The peer's status.
    Status,
    /// Canonical headers `from..from+count` (RLP), fewer at the head.
    Headers {
        /// First block number.
        from: u64,
        /// How many (the server clamps it to [`MAX_HEADERS_PER_REQUEST`] and to `u64::MAX`).
        count: u32,
    },
    /// The bodies of the blocks with these hashes (the server serves at most
    /// [`MAX_BODIES_PER_REQUEST`]).
    Bodies {
        /// Block hashes, in the order the bodies are wanted.
        hashes: Vec<alloy_primitives::B256>,
    },
}

/// Sync responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Response {
    /// The status.
    Status(Status),
    /// RLP-encoded headers, consecutive from the first one asked for.
    Headers(Vec<alloy_primitives::Bytes>),
    /// RLP-encoded bodies (each the RLP list of the block's EIP-2718 transactions), in the
    /// order asked for: a prefix of the hashes (it stops at one the server does not have, or
    /// at the size limit).
    Bodies(Vec<alloy_primitives::Bytes>),
}

/// Answers inbound sync requests (implemented by the node over its storage).
pub trait SyncServer: Send + Sync + 'static {
    /// The node's status (called on the network task: must be cheap).
    fn status(&self) -> Status;
    /// Canonical headers (RLP) from `from`, at most `count` (at most
    /// [`MAX_HEADERS_PER_REQUEST`]; `from + count` never overflows). Called on the blocking
    /// thread pool; the network cuts the answer to [`MAX_RESPONSE_SIZE`].
    fn headers(&self, from: u64, count: u32) -> Vec<alloy_primitives::Bytes>;
    /// The bodies of the blocks `hashes` names (at most [`MAX_BODIES_PER_REQUEST`]), in order,
    /// stopping at the first one the server does not have. Called on the blocking thread pool;
    /// the network cuts the answer to [`MAX_RESPONSE_SIZE`].
    fn bodies(&self, hashes: &[alloy_primitives::B256]) -> Vec<alloy_primitives::Bytes>;
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message, not yet forwarded: the node must [`report`](NetworkHandle::report)
    /// `id` with its verdict (dropping `id` unreported means "not forwarded").
    Gossip {
        /// Topic.
        topic: Topic,
        /// Payload (at most [`Topic::max_size`] bytes).
        data: Vec<u8>,
        /// Who forwarded it.
        from: PeerId,
        /// The message, for [`NetworkHandle::report`].
        id: GossipId,
    },
    /// A peer's status (after connecting and periodically).
    PeerStatus {
        /// The peer.
        peer: PeerId,
        /// Its status.
        status: Status,
    },
    /// A peer disconnected.
    PeerGone(PeerId),
}

/// Network configuration. [`Default`] gives the production limits (listening on
/// `/ip4/0.0.0.0/tcp/30303`, key in `./p2p_key`); construct it with `..Default::default()`.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Address to listen on (`/ip4/127.0.0.1/tcp/30303`).
    pub listen: Multiaddr,
    /// Peers to dial and keep dialing (`…/p2p/<peer id>`).
    pub bootnodes: Vec<Multiaddr>,
    /// File of the node's Ed25519 key (created if missing).
    pub key_file: PathBuf,
    /// How often to ask peers for their status.
    pub status_interval: Duration,
    /// How long an outbound sync request may take (and an inbound one may be served in).
    pub request_timeout: Duration,
    /// Most established connections in all (inbound and outbound).
    pub max_connections: u32,
    /// Most established inbound connections (keep it below `max_connections` so that the
    /// bootnodes can always be dialed).
    pub max_inbound: u32,
    /// Most established connections to one peer.
    pub max_connections_per_peer: u32,
    /// Most inbound connections in the handshake at once.
    pub max_pending_inbound: u32,
    /// Capacity of the event stream returned by [`start`].
    pub event_queue: usize,
    /// Most gossip payload bytes handed to the node and not yet reported or dropped by it.
    pub event_queue_bytes: usize,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            listen: Multiaddr::empty()
                .with(Protocol::Ip4(Ipv4Addr::UNSPECIFIED))
                .with(Protocol::Tcp(30303)),
            bootnodes: Vec::new(),
            key_file: PathBuf::from("p2p_key"),
            status_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_connections: 50,
            max_inbound: 40,
            max_connections_per_peer: 2,
            max_pending_inbound: 16,
            event_queue: 4096,
            event_queue_bytes: 64 << 20,
        }
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    gossip: gossipsub::Behaviour,
    sync: request_response::json::Behaviour<Request, Response>,
    ping: ping::Behaviour,
}

fn load_key(path: &PathBuf) -> Result<identity::Keypair, NetworkError> {
    let err = |e: &dyn std::fmt::Display| NetworkError::Key(format!("{}: {e}", path.display()));
    if let Ok(bytes) = std::fs::read(path) {
        return identity::Keypair::from_protobuf_encoding(&bytes).map_err(|e| err(&e));
    }
    let key = identity::Keypair::generate_ed25519();
    let bytes = key.to_protobuf_encoding().map_err(|e| err(&e))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    std::fs::write(path, bytes).map_err(|e| err(&e))?;
    Ok(key)
}

/// The peer id stored in (or newly created in) `key_file`.
pub fn peer_id_of(key_file: &PathBuf) -> Result<PeerId, NetworkError> {
    Ok(load_key(key_file)?.public().to_peer_id())
}

/// Room for control messages in one gossipsub frame on top of the largest message.
const FRAME_SLACK: usize = 64 << 10;

/// Room for the protobuf envelope of one gossip message (source, sequence number, topic,
/// signature) on top of its payload.
const MESSAGE_SLACK: usize = 1 << 10;

fn gossip_config() -> Result<gossipsub::Config, String> {
    let mut b = gossipsub::ConfigBuilder::default();
    b.heartbeat_interval(Duration::from_millis(500))
        // Received messages wait in the cache for the node's verdict for 10 heartbeats (5 s);
        // a verdict after that only stops forwarding.
        .history_length(10)
        .validation_mode(gossipsub::ValidationMode::Strict)
        // Nothing is forwarded before the node's verdict (`NetworkHandle::report`).
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(alloy_primitives::keccak256(&m.data).to_vec())
        })
        // The frame limit of the codec; each topic gets its own message limit below.
        .max_transmit_size(MAX_BLOCK_SIZE + FRAME_SLACK)
        // A message seen in the last two minutes is dropped unseen (the id is the payload hash).
        .duplicate_cache_time(Duration::from_secs(120))
        // Publish to the mesh (topped up to `mesh_n`), not to every peer: an 8 MiB block costs
        // 4 uploads instead of one per connection.
        .flood_publish(false)
        .max_messages_per_rpc(Some(1024))
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1);
    // Gossipsub drops a message far above its topic's limit unseen; one just above it (within
    // the slack) reaches the network task, which rejects it and penalizes the sender.
    for t in Topic::all() {
        b.max_transmit_size_for_topic(t.max_size() + MESSAGE_SLACK, t.hash());
    }
    b.build().map_err(|e| e.to_string())
}

/// Starts the network: listens, dials the bootnodes and runs until every handle is dropped.
/// Returns the handle, the (bounded) event stream and the address actually listened on.
pub async fn start(
    config: NetworkConfig,
    server: Arc<dyn SyncServer>,
) -> Result<(NetworkHandle, mpsc::Receiver<NetEvent>, Multiaddr), NetworkError> {
    let key = load_key(&config.key_file)?;
    let local = key.public().to_peer_id();
    let terr = |e: &dyn std::fmt::Display| NetworkError::Transport(e.to_string());
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_incoming(Some(config.max_inbound))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(config.max_pending_inbound));
    let request_timeout = config.request_timeout;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| terr(&e))?
        .with_behaviour(|key| {
            let gossip = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config()?,
            )?;
            let codec = request_response::json::codec::Codec::default()
                .set_request_size_maximum(MAX_REQUEST_SIZE)
                .set_response_size_maximum(MAX_RESPONSE_SIZE);
            let sync = request_response::Behaviour::with_codec(
                codec,
                [(StreamProtocol::new("/dbc/sync/2"), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(32),
            );
            Ok(Behaviour {
                blocked: Default::default(),
                limits: connection_limits::Behaviour::new(limits),
                gossip,
                sync,
                ping: ping::Behaviour::new(ping::Config::new()),
            })
        })
        .map_err(|e| terr(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for t in Topic::all() {
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(&gossipsub::IdentTopic::new(t.name()))
            .map_err(|e| terr(&e))?;
    }
    swarm.listen_on(config.listen.clone()).map_err(|e| terr(&e))?;
    let listen = loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => break address,
            SwarmEvent::ListenerError { error, .. } => return Err(terr(&error)),
            _ => {}
        }
    };
    info!(target: "dbc::net", peer_id = %local, %listen, "p2p listening");
    let (handle, channels) = handle::NetworkHandle::new(local);
    let (ev_tx, ev_rx) = mpsc::channel(config.event_queue.max(1));
    let task = task::Task::new(swarm, server, ev_tx, handle.shared(), &config);
    tokio::spawn(task.run(channels, config.status_interval));
    Ok((handle, ev_rx, listen))
}

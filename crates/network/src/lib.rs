//! Peer-to-peer networking of dbc-node over libp2p.
//!
//! - **Transport**: TCP with Noise encryption and Yamux multiplexing; peers are identified by an
//!   Ed25519 key kept in the data directory (`p2p_key`), so a node keeps its peer id across
//!   restarts and others can list it as a bootnode (`/ip4/…/tcp/…/p2p/<peer id>`).
//! - **Gossip** (gossipsub, signed messages, message id = hash of the payload): transactions
//!   ([`Topic::Txs`]), blocks ([`Topic::Blocks`]) and finality votes ([`Topic::Votes`]).
//! - **Sync** (request/response `/dbc/sync/1`, JSON): a peer's [`Status`] (head, finalized) and
//!   ranges of blocks by number.
//! - **Scoring**: the node reports misbehaviour with [`NetworkHandle::penalize`]; a peer whose
//!   score drops below [`BAN_SCORE`] is disconnected and banned for the node's lifetime.
//!
//! The node drives everything through a [`NetworkHandle`] and receives [`NetEvent`]s; inbound
//! sync requests are answered by a [`SyncServer`] the node provides.

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, gossipsub, identity, noise, ping,
    request_response::{self, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

pub use libp2p::{Multiaddr as Addr, PeerId as Peer};

/// Score below which a peer is banned.
pub const BAN_SCORE: i32 = -100;
/// Most blocks served per request.
pub const MAX_BLOCKS_PER_REQUEST: u32 = 128;

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
    /// EIP-2718 encoded transactions.
    Txs,
    /// RLP blocks (header and transactions).
    Blocks,
    /// RLP finality votes.
    Votes,
}

impl Topic {
    fn name(self) -> &'static str {
        match self {
            Topic::Txs => "/dbc/txs/1",
            Topic::Blocks => "/dbc/blocks/1",
            Topic::Votes => "/dbc/votes/1",
        }
    }

    fn all() -> [Topic; 3] {
        [Topic::Txs, Topic::Blocks, Topic::Votes]
    }
}

/// A node's view of its chain, exchanged on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
pub enum Request {
    /// The peer's status.
    Status,
    /// Canonical blocks `from..from+count` (RLP), fewer at the head.
    Blocks {
        /// First block number.
        from: u64,
        /// How many.
        count: u32,
    },
}

/// Sync responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Response {
    /// The status.
    Status(Status),
    /// RLP-encoded blocks.
    Blocks(Vec<alloy_primitives::Bytes>),
}

/// Answers inbound sync requests (implemented by the node over its storage).
pub trait SyncServer: Send + Sync + 'static {
    /// The node's status.
    fn status(&self) -> Status;
    /// Canonical blocks from `from`, at most `count`.
    fn blocks(&self, from: u64, count: u32) -> Vec<alloy_primitives::Bytes>;
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message.
    Gossip {
        /// Topic.
        topic: Topic,
        /// Payload.
        data: Vec<u8>,
        /// Who forwarded it.
        from: PeerId,
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

/// Network configuration.
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
}

enum Command {
    Publish(Topic, Vec<u8>),
    Request(PeerId, Request, oneshot::Sender<Result<Response, NetworkError>>),
    Penalize(PeerId, i32, String),
}

/// Handle to the running network.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    cmd: mpsc::UnboundedSender<Command>,
    peers: Arc<AtomicUsize>,
    local: PeerId,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Publish(t, d) => write!(f, "Publish({t:?}, {} bytes)", d.len()),
            Command::Request(p, r, _) => write!(f, "Request({p}, {r:?})"),
            Command::Penalize(p, s, why) => write!(f, "Penalize({p}, {s}, {why})"),
        }
    }
}

impl NetworkHandle {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }

    /// Gossips `data` on `topic`.
    pub fn publish(&self, topic: Topic, data: Vec<u8>) {
        let _ = self.cmd.send(Command::Publish(topic, data));
    }

    /// Sends a sync request to `peer`.
    pub async fn request(&self, peer: PeerId, req: Request) -> Result<Response, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Request(peer, req, tx)).map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Lowers `peer`'s score by `by` (banned below [`BAN_SCORE`]).
    pub fn penalize(&self, peer: PeerId, by: i32, why: impl Into<String>) {
        let _ = self.cmd.send(Command::Penalize(peer, by, why.into()));
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
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

/// Starts the network: listens, dials the bootnodes and runs until the handle is dropped.
/// Returns the handle, the event stream and the address actually listened on.
pub async fn start(
    config: NetworkConfig,
    server: Arc<dyn SyncServer>,
) -> Result<(NetworkHandle, mpsc::UnboundedReceiver<NetEvent>, Multiaddr), NetworkError> {
    let key = load_key(&config.key_file)?;
    let local = key.public().to_peer_id();
    let terr = |e: &dyn std::fmt::Display| NetworkError::Transport(e.to_string());
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| terr(&e))?
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(500))
                .validation_mode(gossipsub::ValidationMode::Strict)
                .message_id_fn(|m: &gossipsub::Message| {
                    gossipsub::MessageId::from(alloy_primitives::keccak256(&m.data).to_vec())
                })
                .max_transmit_size(16 << 20)
                .mesh_n_low(2)
                .mesh_n(4)
                .mesh_n_high(8)
                .mesh_outbound_min(1)
                .build()
                .map_err(|e| e.to_string())?;
            let gossip = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            let sync = request_response::json::Behaviour::new(
                [(StreamProtocol::new("/dbc/sync/1"), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(20)),
            );
            Ok(Behaviour {
                blocked: Default::default(),
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
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let peers = Arc::new(AtomicUsize::new(0));
    let handle = NetworkHandle { cmd: cmd_tx, peers: peers.clone(), local };
    let task = Task {
        swarm,
        server,
        events: ev_tx,
        peers,
        bootnodes: config.bootnodes,
        pending: HashMap::new(),
        scores: HashMap::new(),
        connected: HashMap::new(),
    };
    tokio::spawn(task.run(cmd_rx, config.status_interval));
    Ok((handle, ev_rx, listen))
}

type Pending = HashMap<
    request_response::OutboundRequestId,
    Option<oneshot::Sender<Result<Response, NetworkError>>>,
>;

struct Task {
    swarm: Swarm<Behaviour>,
    server: Arc<dyn SyncServer>,
    events: mpsc::UnboundedSender<NetEvent>,
    peers: Arc<AtomicUsize>,
    bootnodes: Vec<Multiaddr>,
    /// Outbound requests: `None` for the network's own status polls.
    pending: Pending,
    scores: HashMap<PeerId, i32>,
    connected: HashMap<PeerId, usize>,
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl Task {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Command>, status_every: Duration) {
        let mut status_tick = tokio::time::interval(status_every);
        let mut dial_tick = tokio::time::interval(Duration::from_secs(3));
        loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                cmd = cmds.recv() => match cmd {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                _ = status_tick.tick() => {
                    let peers: Vec<PeerId> = self.connected.keys().copied().collect();
                    for p in peers {
                        let id = self.swarm.behaviour_mut().sync.send_request(&p, Request::Status);
                        self.pending.insert(id, None);
                    }
                }
                _ = dial_tick.tick() => self.dial_bootnodes(),
            }
        }
    }

    fn dial_bootnodes(&mut self) {
        for addr in self.bootnodes.clone() {
            let Some(peer) = peer_of(&addr) else { continue };
            if peer == *self.swarm.local_peer_id() || self.connected.contains_key(&peer) {
                continue;
            }
            if self.scores.get(&peer).is_some_and(|s| *s < BAN_SCORE) {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                debug!(target: "dbc::net", %addr, error = %e, "dial failed");
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish(topic, data) => {
                let t = gossipsub::IdentTopic::new(topic.name());
                if let Err(e) = self.swarm.behaviour_mut().gossip.publish(t, data) {
                    // No peers yet or a duplicate: nothing to do.
                    debug!(target: "dbc::net", ?topic, error = %e, "publish");
                }
            }
            Command::Request(peer, req, reply) => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, req);
                self.pending.insert(id, Some(reply));
            }
            Command::Penalize(peer, by, why) => {
                let score = self.scores.entry(peer).or_insert(0);
                *score -= by;
                warn!(target: "dbc::net", %peer, score = *score, reason = %why, "peer penalized");
                if *score < BAN_SCORE {
                    warn!(target: "dbc::net", %peer, "peer banned");
                    self.swarm.behaviour_mut().blocked.block_peer(peer);
                }
            }
        }
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                *self.connected.entry(peer_id).or_default() += 1;
                self.peers.store(self.connected.len(), Ordering::Relaxed);
                info!(target: "dbc::net", peer = %peer_id, peers = self.connected.len(), "peer connected");
                let id = self.swarm.behaviour_mut().sync.send_request(&peer_id, Request::Status);
                self.pending.insert(id, None);
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.connected.remove(&peer_id);
                self.peers.store(self.connected.len(), Ordering::Relaxed);
                info!(target: "dbc::net", peer = %peer_id, peers = self.connected.len(), "peer disconnected");
                let _ = self.events.send(NetEvent::PeerGone(peer_id));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            })) => {
                let topic = Topic::all()
                    .into_iter()
                    .find(|t| gossipsub::IdentTopic::new(t.name()).hash() == message.topic);
                if let Some(topic) = topic {
                    let _ = self.events.send(NetEvent::Gossip {
                        topic,
                        data: message.data,
                        from: propagation_source,
                    });
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            _ => {}
        }
    }

    fn on_sync(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let resp = match request {
                        Request::Status => Response::Status(self.server.status()),
                        Request::Blocks { from, count } => Response::Blocks(
                            self.server.blocks(from, count.min(MAX_BLOCKS_PER_REQUEST)),
                        ),
                    };
                    let _ = self.swarm.behaviour_mut().sync.send_response(channel, resp);
                }
                request_response::Message::Response { request_id, response } => {
                    match self.pending.remove(&request_id) {
                        Some(Some(reply)) => {
                            let _ = reply.send(Ok(response));
                        }
                        Some(None) => {
                            if let Response::Status(status) = response {
                                let _ = self.events.send(NetEvent::PeerStatus { peer, status });
                            }
                        }
                        None => {}
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                if let Some(Some(reply)) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetworkError::Request(peer, error.to_string())));
                }
            }
            _ => {}
        }
    }
}

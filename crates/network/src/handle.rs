//! The node's side of the network: [`NetworkHandle`], gossip verdicts and the state the network
//! task shares with it.

use crate::{NetworkError, Request, Response, Topic};
use libp2p::{PeerId, gossipsub};
use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

/// Publishes waiting for the network task; beyond, publishes are dropped (and counted).
const PUBLISH_QUEUE: usize = 1024;

/// What the node thinks of a gossip message ([`NetworkHandle::report`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it to the mesh.
    Accept,
    /// Invalid: drop it, and the forwarding peer loses [`crate::REJECT_PENALTY`].
    Reject,
    /// Not forwarded and nobody penalized (a duplicate, stale or not yet checkable).
    Ignore,
}

impl Verdict {
    pub(crate) fn acceptance(self) -> gossipsub::MessageAcceptance {
        match self {
            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
            Verdict::Reject => gossipsub::MessageAcceptance::Reject,
            Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
        }
    }
}

/// A received gossip message awaiting the node's [`Verdict`]. While any clone of it is alive,
/// its payload counts against [`crate::NetworkConfig::event_queue_bytes`].
#[derive(Debug, Clone)]
pub struct GossipId(Arc<GossipIdInner>);

#[derive(Debug)]
struct GossipIdInner {
    msg: gossipsub::MessageId,
    source: PeerId,
    bytes: usize,
    queued: Arc<AtomicUsize>,
}

impl Drop for GossipIdInner {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl GossipId {
    /// Reserves `bytes` of the queue budget (released when the last clone is dropped).
    pub(crate) fn new(
        msg: gossipsub::MessageId,
        source: PeerId,
        bytes: usize,
        queued: Arc<AtomicUsize>,
    ) -> Self {
        queued.fetch_add(bytes, Ordering::Relaxed);
        Self(Arc::new(GossipIdInner { msg, source, bytes, queued }))
    }

    /// The peer that forwarded the message.
    pub fn source(&self) -> PeerId {
        self.0.source
    }

    pub(crate) fn message_id(&self) -> &gossipsub::MessageId {
        &self.0.msg
    }
}

/// State the network task publishes for the handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) peer_count: AtomicUsize,
    pub(crate) peers: Mutex<Vec<PeerId>>,
    pub(crate) banned: Mutex<HashSet<PeerId>>,
    pub(crate) banned_count: AtomicUsize,
    pub(crate) dropped_events: AtomicU64,
    pub(crate) dropped_publishes: AtomicU64,
    /// Payload bytes of gossip handed to the node whose [`GossipId`] is still alive.
    pub(crate) queued_bytes: Arc<AtomicUsize>,
}

/// Locks `m`, ignoring poisoning (the guarded data are plain sets, valid at every point).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Commands from the handles. Unbounded on purpose: each is small and produced by the node
/// either in answer to an event (which the bounded event stream limits) or awaited by it
/// (requests, scores). Publishes, which RPC users can drive, have their own bounded queue.
pub(crate) enum Command {
    Request(PeerId, Request, oneshot::Sender<Result<Response, NetworkError>>),
    Penalize(PeerId, u32, String),
    Ban(PeerId, String),
    Report(GossipId, Verdict),
    Score(PeerId, oneshot::Sender<i64>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Request(p, r, _) => write!(f, "Request({p}, {r:?})"),
            Command::Penalize(p, s, why) => write!(f, "Penalize({p}, {s}, {why})"),
            Command::Ban(p, why) => write!(f, "Ban({p}, {why})"),
            Command::Report(id, v) => write!(f, "Report({id:?}, {v:?})"),
            Command::Score(p, _) => write!(f, "Score({p})"),
        }
    }
}

/// The receiving ends of a handle's channels, owned by the network task.
pub(crate) struct Channels {
    pub(crate) cmds: mpsc::UnboundedReceiver<Command>,
    pub(crate) publishes: mpsc::Receiver<(Topic, Vec<u8>)>,
}

/// Handle to the running network (cheap to clone; the network stops when all are dropped).
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    cmd: mpsc::UnboundedSender<Command>,
    publish: mpsc::Sender<(Topic, Vec<u8>)>,
    shared: Arc<Shared>,
    local: PeerId,
}

impl NetworkHandle {
    pub(crate) fn new(local: PeerId) -> (Self, Channels) {
        let (cmd, cmds) = mpsc::unbounded_channel();
        let (publish, publishes) = mpsc::channel(PUBLISH_QUEUE);
        let handle = Self { cmd, publish, shared: Arc::default(), local };
        (handle, Channels { cmds, publishes })
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.shared.peer_count.load(Ordering::Relaxed)
    }

    /// The connected peers.
    pub fn peers(&self) -> Vec<PeerId> {
        lock(&self.shared.peers).clone()
    }

    /// Gossips `data` on `topic`. Dropped (with a log line) when larger than
    /// [`Topic::max_size`] or when 1024 publishes are already waiting
    /// ([`NetworkHandle::dropped_publishes`]).
    pub fn publish(&self, topic: Topic, data: Vec<u8>) {
        if data.len() > topic.max_size() {
            debug!(target: "dbc::net", ?topic, size = data.len(), "oversized publish dropped");
            self.shared.dropped_publishes.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.publish.try_send((topic, data)) {
            debug!(target: "dbc::net", ?topic, "publish queue full");
            self.shared.dropped_publishes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends a sync request to `peer` (fails after [`crate::NetworkConfig::request_timeout`]).
    pub async fn request(&self, peer: PeerId, req: Request) -> Result<Response, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Request(peer, req, tx)).map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Lowers `peer`'s score by `amount`; the peer is banned once its score is below
    /// [`crate::BAN_SCORE`]. A penalty can only lower the score:
    ///
    /// ```compile_fail
    /// fn f(net: &dbc_network::NetworkHandle, peer: dbc_network::Peer) {
    ///     net.penalize(peer, -50, "a negative penalty does not compile");
    /// }
    /// ```
    /// ```
    /// fn f(net: &dbc_network::NetworkHandle, peer: dbc_network::Peer) {
    ///     net.penalize(peer, 50, "invalid block");
    /// }
    /// ```
    pub fn penalize(&self, peer: PeerId, amount: u32, why: impl Into<String>) {
        let _ = self.cmd.send(Command::Penalize(peer, amount, why.into()));
    }

    /// Bans `peer` at once: it is disconnected and refused from now on.
    pub fn ban(&self, peer: PeerId, why: impl Into<String>) {
        let _ = self.cmd.send(Command::Ban(peer, why.into()));
    }

    /// The node's verdict on a [`crate::NetEvent::Gossip`] message: only accepted messages are
    /// forwarded; a rejected one also costs its forwarder [`crate::REJECT_PENALTY`].
    pub fn report(&self, id: GossipId, verdict: Verdict) {
        let _ = self.cmd.send(Command::Report(id, verdict));
    }

    /// `peer`'s current score (0 for a peer never penalized).
    pub async fn score(&self, peer: PeerId) -> Result<i64, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Score(peer, tx)).map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// Number of banned peers.
    pub fn banned_count(&self) -> usize {
        self.shared.banned_count.load(Ordering::Relaxed)
    }

    /// Whether `peer` is banned.
    pub fn is_banned(&self, peer: &PeerId) -> bool {
        lock(&self.shared.banned).contains(peer)
    }

    /// Events dropped because the event stream was full (gossip, statuses, departures).
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_events.load(Ordering::Relaxed)
    }

    /// Publishes dropped (oversized, or the publish queue full).
    pub fn dropped_publishes(&self) -> u64 {
        self.shared.dropped_publishes.load(Ordering::Relaxed)
    }
}

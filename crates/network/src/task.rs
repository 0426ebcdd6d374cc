//! The swarm task: owns the libp2p swarm and never waits on the node. Gossip is checked
//! (topic, size, queue room) before the node sees it; inbound block ranges are read on the
//! blocking pool and answered when they come back.

use crate::{
    Behaviour, BehaviourEvent, FLOOD_PENALTY, MAX_BODIES_PER_REQUEST, MAX_HEADERS_PER_REQUEST,
    MAX_RESPONSE_SIZE, NetEvent, NetworkConfig, NetworkError, REJECT_PENALTY, Request, Response,
    SyncServer, Topic,
    handle::{Channels, Command, GossipId, Shared, Verdict, lock},
    peers::{Admit, Inflight, Scores, StatusLimiter},
};
use alloy_primitives::Bytes;
use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, gossipsub,
    request_response::{self, ResponseChannel},
    swarm::SwarmEvent,
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// Bans kept; past it the oldest ban is lifted (identities are free, so a huge ban list buys
/// nothing but memory).
const MAX_BANNED: usize = 65_536;

type Pending = HashMap<
    request_response::OutboundRequestId,
    Option<oneshot::Sender<Result<Response, NetworkError>>>,
>;

/// A block range read on the blocking pool, to be sent back on the swarm task.
struct Served {
    peer: PeerId,
    channel: ResponseChannel<Response>,
    /// Whether the answer is headers (else bodies).
    headers: bool,
    items: Vec<Bytes>,
}

pub(crate) struct Task {
    swarm: Swarm<Behaviour>,
    server: Arc<dyn SyncServer>,
    events: mpsc::Sender<NetEvent>,
    shared: Arc<Shared>,
    bootnodes: Vec<Multiaddr>,
    /// Outbound requests: `None` for the network's own status polls.
    pending: Pending,
    scores: Scores,
    ban_order: VecDeque<PeerId>,
    connected: HashMap<PeerId, usize>,
    status_limit: StatusLimiter,
    inflight: Inflight,
    served_tx: mpsc::UnboundedSender<Served>,
    served_rx: mpsc::UnboundedReceiver<Served>,
    topics: [(gossipsub::TopicHash, Topic); 3],
    queue_bytes: usize,
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// Cuts `blocks` so that their JSON response stays within [`MAX_RESPONSE_SIZE`] (hex doubles
/// each block; quotes, `0x` and a comma add 5 bytes).
pub(crate) fn fit_response(mut blocks: Vec<Bytes>) -> Vec<Bytes> {
    let budget = MAX_RESPONSE_SIZE.saturating_sub(64);
    let mut used = 0u64;
    let keep = blocks
        .iter()
        .take_while(|b| {
            let len = u64::try_from(b.len()).unwrap_or(u64::MAX);
            used = used.saturating_add(len.saturating_mul(2).saturating_add(5));
            used <= budget
        })
        .count();
    blocks.truncate(keep);
    blocks
}

/// Clamps an inbound range to [`MAX_BLOCKS_PER_REQUEST`] and so that `from + count` fits a u64.
pub(crate) fn clamp_range(from: u64, count: u32) -> u32 {
    let room = u32::try_from(u64::MAX - from).unwrap_or(u32::MAX);
    count.min(MAX_HEADERS_PER_REQUEST).min(room)
}

impl Task {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        server: Arc<dyn SyncServer>,
        events: mpsc::Sender<NetEvent>,
        shared: Arc<Shared>,
        config: &NetworkConfig,
    ) -> Self {
        let (served_tx, served_rx) = mpsc::unbounded_channel();
        Self {
            swarm,
            server,
            events,
            shared,
            bootnodes: config.bootnodes.clone(),
            pending: HashMap::new(),
            scores: Scores::default(),
            ban_order: VecDeque::new(),
            connected: HashMap::new(),
            status_limit: StatusLimiter::default(),
            inflight: Inflight::default(),
            served_tx,
            served_rx,
            topics: Topic::all().map(|t| (t.hash(), t)),
            queue_bytes: config.event_queue_bytes,
        }
    }

    pub(crate) async fn run(mut self, mut ch: Channels, status_every: Duration) {
        let mut status_tick = tokio::time::interval(status_every);
        let mut dial_tick = tokio::time::interval(Duration::from_secs(3));
        loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                cmd = ch.cmds.recv() => match cmd {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                Some((topic, data)) = ch.publishes.recv() => self.publish(topic, data),
                Some(s) = self.served_rx.recv() => self.on_served(s),
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
        let banned = lock(&self.shared.banned).clone();
        for addr in self.bootnodes.clone() {
            let Some(peer) = peer_of(&addr) else { continue };
            if peer == *self.swarm.local_peer_id()
                || self.connected.contains_key(&peer)
                || banned.contains(&peer)
            {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                debug!(target: "dbc::net", %addr, error = %e, "dial failed");
            }
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let t = gossipsub::IdentTopic::new(topic.name());
        if let Err(e) = self.swarm.behaviour_mut().gossip.publish(t, data) {
            // No peers yet or a duplicate: nothing to do.
            debug!(target: "dbc::net", ?topic, error = %e, "publish");
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request(peer, req, reply) => {
                if lock(&self.shared.banned).contains(&peer) {
                    let _ = reply.send(Err(NetworkError::Request(peer, "peer is banned".into())));
                    return;
                }
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, req);
                self.pending.insert(id, Some(reply));
            }
            Command::Penalize(peer, amount, why) => self.penalize(peer, amount, &why),
            Command::Ban(peer, why) => self.ban(peer, &why),
            Command::Report(id, verdict) => {
                let source = id.source();
                self.swarm.behaviour_mut().gossip.report_message_validation_result(
                    id.message_id(),
                    &source,
                    verdict.acceptance(),
                );
                if verdict == Verdict::Reject {
                    self.penalize(source, REJECT_PENALTY, "rejected gossip");
                }
            }
            Command::Score(peer, reply) => {
                let _ = reply.send(self.scores.get(&peer));
            }
        }
    }

    fn penalize(&mut self, peer: PeerId, amount: u32, why: &str) {
        let (score, ban) = self.scores.penalize(peer, amount);
        debug!(target: "dbc::net", %peer, score, reason = %why, "peer penalized");
        if ban {
            self.ban(peer, why);
        }
    }

    /// Bans `peer`: `block_peer` closes its connections and refuses new ones, in and out.
    fn ban(&mut self, peer: PeerId, why: &str) {
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        self.scores.floor(peer);
        if !lock(&self.shared.banned).insert(peer) {
            return;
        }
        warn!(target: "dbc::net", %peer, reason = %why, "peer banned");
        self.shared.banned_count.fetch_add(1, Ordering::Relaxed);
        self.swarm.behaviour_mut().blocked.block_peer(peer);
        self.ban_order.push_back(peer);
        if self.ban_order.len() > MAX_BANNED
            && let Some(old) = self.ban_order.pop_front()
        {
            lock(&self.shared.banned).remove(&old);
            self.shared.banned_count.fetch_sub(1, Ordering::Relaxed);
            self.swarm.behaviour_mut().blocked.unblock_peer(old);
            self.scores.remove(&old);
        }
    }

    fn set_peers(&mut self) {
        let mut list: Vec<PeerId> = self.connected.keys().copied().collect();
        list.sort_unstable();
        self.shared.peer_count.store(list.len(), Ordering::Relaxed);
        *lock(&self.shared.peers) = list;
    }

    /// Hands an event to the node without waiting; `false` (and counted) when the queue is
    /// full or the node is gone.
    fn emit(&self, ev: NetEvent) -> bool {
        if self.events.try_send(ev).is_err() {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                *self.connected.entry(peer_id).or_default() += 1;
                self.set_peers();
                info!(target: "dbc::net", peer = %peer_id, peers = self.connected.len(), "peer connected");
                let id = self.swarm.behaviour_mut().sync.send_request(&peer_id, Request::Status);
                self.pending.insert(id, None);
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.connected.remove(&peer_id);
                self.set_peers();
                self.status_limit.forget(&peer_id);
                if !lock(&self.shared.banned).contains(&peer_id) {
                    self.scores.on_gone(&peer_id);
                }
                info!(target: "dbc::net", peer = %peer_id, peers = self.connected.len(), "peer disconnected");
                self.emit(NetEvent::PeerGone(peer_id));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            _ => {}
        }
    }

    fn on_gossip(
        &mut self,
        source: PeerId,
        msg: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let verdict = |task: &mut Self, v: Verdict| {
            task.swarm.behaviour_mut().gossip.report_message_validation_result(
                &msg,
                &source,
                v.acceptance(),
            );
        };
        let Some(topic) = self.topics.iter().find(|(h, _)| *h == message.topic).map(|(_, t)| *t)
        else {
            verdict(self, Verdict::Ignore);
            return;
        };
        let size = message.data.len();
        if size > topic.max_size() {
            verdict(self, Verdict::Reject);
            self.penalize(source, REJECT_PENALTY, &format!("{topic:?} gossip of {size} bytes"));
            return;
        }
        let queued = self.shared.queued_bytes.load(Ordering::Relaxed);
        if queued.saturating_add(size) > self.queue_bytes {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
            verdict(self, Verdict::Ignore);
            return;
        }
        let id = GossipId::new(msg.clone(), source, size, self.shared.queued_bytes.clone());
        if !self.emit(NetEvent::Gossip { topic, data: message.data, from: source, id }) {
            verdict(self, Verdict::Ignore);
        }
    }

    fn on_sync(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.on_request(peer, request, channel)
                }
                request_response::Message::Response { request_id, response } => {
                    match self.pending.remove(&request_id) {
                        Some(Some(reply)) => {
                            let _ = reply.send(Ok(response));
                        }
                        Some(None) => {
                            if let Response::Status(status) = response {
                                self.emit(NetEvent::PeerStatus { peer, status });
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

    /// Answers an inbound request; a dropped `channel` closes the stream without an answer.
    fn on_request(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        match request {
            Request::Status => {
                if !self.status_limit.allow(peer, Instant::now()) {
                    self.penalize(peer, FLOOD_PENALTY, "status flood");
                    return;
                }
                let status = self.server.status();
                self.respond(channel, Response::Status(status));
            }
            Request::Headers { from, count } => {
                let count = clamp_range(from, count);
                if count == 0 {
                    self.respond(channel, Response::Headers(vec![]));
                    return;
                }
                self.serve(peer, channel, true, move |server| server.headers(from, count));
            }
            Request::Bodies { mut hashes } => {
                if hashes.is_empty() {
                    self.respond(channel, Response::Bodies(vec![]));
                    return;
                }
                hashes.truncate(MAX_BODIES_PER_REQUEST as usize);
                self.serve(peer, channel, false, move |server| server.bodies(&hashes));
            }
        }
    }

    fn respond(&mut self, channel: ResponseChannel<Response>, response: Response) {
        let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
    }

    /// Serves a headers or bodies request with `read` on the blocking pool, if `peer` and the
    /// node have room for one more request in flight.
    fn serve(
        &mut self,
        peer: PeerId,
        channel: ResponseChannel<Response>,
        headers: bool,
        read: impl FnOnce(&dyn SyncServer) -> Vec<Bytes> + Send + 'static,
    ) {
        match self.inflight.admit(peer) {
            Admit::Yes => {}
            Admit::PeerBusy => {
                self.penalize(peer, FLOOD_PENALTY, "too many sync requests in flight");
                return;
            }
            Admit::AllBusy => {
                debug!(target: "dbc::net", %peer, "sync request dropped: server busy");
                return;
            }
        }
        // Read on the blocking pool: the swarm task never waits for the database.
        let server = self.server.clone();
        let done = self.served_tx.clone();
        tokio::spawn(async move {
            let read = tokio::task::spawn_blocking(move || read(server.as_ref()));
            // A panicking server answers nothing; the slot is freed either way.
            let items = read.await.unwrap_or_default();
            let _ = done.send(Served { peer, channel, headers, items });
        });
    }

    fn on_served(&mut self, s: Served) {
        self.inflight.done(&s.peer);
        let items = fit_response(s.items);
        let resp = if s.headers { Response::Headers(items) } else { Response::Bodies(items) };
        // The peer may have gone or timed out meanwhile.
        let _ = self.swarm.behaviour_mut().sync.send_response(s.channel, resp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h4_ranges_never_overflow() {
        assert_eq!(clamp_range(0, u32::MAX), MAX_HEADERS_PER_REQUEST);
        assert_eq!(clamp_range(u64::MAX - 3, 100), 3);
        assert_eq!(clamp_range(u64::MAX, 100), 0);
        assert_eq!(clamp_range(10, 5), 5);
    }

    /// The largest request the sync needs (a `Bodies` request naming the most hashes a server
    /// serves) fits the request decode limit; one naming many more does not.
    #[test]
    fn a_full_bodies_request_fits_the_request_limit() {
        let hashes =
            vec![alloy_primitives::B256::repeat_byte(0xab); MAX_BODIES_PER_REQUEST as usize];
        let json = serde_json::to_vec(&Request::Bodies { hashes }).unwrap_or_default();
        assert!(json.len() as u64 <= crate::MAX_REQUEST_SIZE, "{} bytes", json.len());
        let hashes = vec![alloy_primitives::B256::ZERO; 4 * MAX_BODIES_PER_REQUEST as usize];
        let json = serde_json::to_vec(&Request::Bodies { hashes }).unwrap_or_default();
        assert!(json.len() as u64 > crate::MAX_REQUEST_SIZE, "a flood of hashes is refused");
    }

    #[test]
    fn h4_responses_fit_the_decode_limit() {
        let big = Bytes::from(vec![0xab; crate::MAX_BLOCK_SIZE]);
        // One largest block always fits, two do not.
        assert_eq!(fit_response(vec![big.clone(), big.clone()]).len(), 1);
        let resp = Response::Bodies(fit_response(vec![big.clone(), big]));
        let json = serde_json::to_vec(&resp).unwrap_or_default();
        assert!(json.len() as u64 <= MAX_RESPONSE_SIZE, "{} bytes", json.len());
        // Many small blocks fill the budget up to the limit and no further.
        let small = Bytes::from(vec![1u8; 1 << 20]);
        let cut = fit_response(vec![small; 40]);
        let json = serde_json::to_vec(&Response::Bodies(cut.clone())).unwrap_or_default();
        assert!(json.len() as u64 <= MAX_RESPONSE_SIZE);
        assert_eq!(cut.len(), 8);
    }
}

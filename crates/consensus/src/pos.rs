//! Delegated proof of stake: proposer schedule, header verification, sealing and finality
//! votes.
//!
//! **Schedule.** The active set for block `n` is read from the staking precompile's state after
//! block `n − 1` (the genesis validators before the first election). Slots are
//! `slotSecs` long. Block `n` may be sealed at `parent.timestamp + slot × (1 + k)` only by
//! `set[(n + k) mod len]`: `k = 0` is the in-turn proposer, `k = 1, 2, …` are backups that take
//! over one slot later each, so a missing validator delays the chain by one slot and never
//! halts it. The validators skipped before the sealer are reported to the staking precompile as
//! having missed their slot.
//!
//! **Finality.** Every active validator signs a vote for each new canonical head (never two
//! blocks at one height). Votes from more than 2/3 of the set's stake (stake at election)
//! finalize a block; the proof (the signatures) is carried in a later header's `extraData`, so a
//! node that was not online to see the votes checks it on import.
//!
//! **Fork choice.** The longest valid chain that contains the latest finalized block; between
//! chains of equal length the one whose tip has the earlier timestamp (fewer skipped slots, so
//! the in-turn block beats a backup's). Finalized blocks are never unwound.

use crate::{ConsensusEngine, ConsensusError, Slot, guard::Watermark, vrf};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_primitives::{
    SealedHeader,
    pos::{self, ConsensusExtra, FinalityProof, Vote},
};
use dbc_txpool::TxPool;
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// The active validators of one block with their stake at election, in schedule order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidatorSet {
    members: Vec<(Address, U256)>,
}

impl ValidatorSet {
    /// A set in schedule order.
    pub fn new(members: Vec<(Address, U256)>) -> Self {
        Self { members }
    }

    /// Members in schedule order.
    pub fn members(&self) -> &[(Address, U256)] {
        &self.members
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Sum of the members' stake.
    pub fn total_stake(&self) -> U256 {
        self.members.iter().fold(U256::ZERO, |a, m| a.saturating_add(m.1))
    }

    /// Stake of `a`, if it is a member.
    pub fn stake_of(&self, a: Address) -> Option<U256> {
        self.members.iter().find(|m| m.0 == a).map(|m| m.1)
    }

    /// The proposer of block `number` at slot offset `k` (0 = in turn).
    pub fn proposer(&self, number: u64, k: u64) -> Option<Address> {
        let len = self.members.len() as u64;
        if len == 0 {
            return None;
        }
        let i = (number % len + k % len) % len;
        Some(self.members[i as usize].0)
    }

    /// The first slot offset at which `a` may seal block `number`.
    pub fn offset_of(&self, number: u64, a: Address) -> Option<u64> {
        (0..self.members.len() as u64).find(|k| self.proposer(number, *k) == Some(a))
    }

    /// Validators that missed their slot before offset `k` of block `number` (each once, the
    /// sealer excluded).
    pub fn missed(&self, number: u64, k: u64) -> Vec<Address> {
        let sealer = self.proposer(number, k);
        let mut out = Vec::new();
        for j in 0..k.min(self.members.len() as u64) {
            if let Some(p) = self.proposer(number, j)
                && Some(p) != sealer
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
        out
    }

    /// Whether `voted` stake is more than 2/3 of the set's.
    pub fn is_quorum(&self, voted: U256) -> bool {
        voted.saturating_mul(U256::from(3)) > self.total_stake().saturating_mul(U256::from(2))
    }
}

/// The slot offset `k` of a block at `timestamp` after a parent at `parent_ts`.
pub fn slot_offset(parent_ts: u64, timestamp: u64, slot_secs: u64) -> Option<u64> {
    let delta = timestamp.checked_sub(parent_ts)?;
    if slot_secs == 0 || delta == 0 || delta % slot_secs != 0 {
        return None;
    }
    Some(delta / slot_secs - 1)
}

/// How far ahead of the local clock a header's timestamp may be.
pub const MAX_CLOCK_DRIFT_SECS: u64 = 1;

fn invalid(m: impl Into<String>) -> ConsensusError {
    ConsensusError::InvalidHeader(m.into())
}

/// A verified header: who sealed it, the validators it skipped and the finality proof it
/// carries.
#[derive(Debug, Clone)]
pub struct VerifiedHeader {
    /// The sealer (also the beneficiary).
    pub sealer: Address,
    /// Validators that missed their slot before the sealer's.
    pub missed: Vec<Address>,
    /// Finality proof carried, if any (not yet checked against the chain).
    pub finality: Option<FinalityProof>,
    /// The block's randomness (`mixHash`), checked against the proposer's VRF reveal.
    pub mix: B256,
}

/// Checks `header` against `parent` and the active set: number, slot timing, sealer, gas limit
/// bounds, and that it is not from the future (`now` in seconds).
pub fn verify_header(
    set: &ValidatorSet,
    parent: &Header,
    header: &Header,
    slot_secs: u64,
    now: u64,
) -> Result<VerifiedHeader, ConsensusError> {
    let shaped = verify_header_shape(parent, header, slot_secs, now)?;
    verify_schedule(set, parent, header, shaped, slot_secs)
}

/// The rest of [`verify_header`] for a header that passed [`verify_header_shape`] on `parent`
/// (giving `shaped`): its sealer is the set's proposer for the slot.
pub fn verify_schedule(
    set: &ValidatorSet,
    parent: &Header,
    header: &Header,
    shaped: ShapedHeader,
    slot_secs: u64,
) -> Result<VerifiedHeader, ConsensusError> {
    let k = slot_offset(parent.timestamp, header.timestamp, slot_secs)
        .ok_or_else(|| invalid("timestamp is not on a slot after the parent"))?;
    let expected = set.proposer(header.number, k).ok_or_else(|| invalid("empty validator set"))?;
    if shaped.sealer != expected {
        return Err(invalid(format!("sealed by {}, slot belongs to {expected}", shaped.sealer)));
    }
    Ok(VerifiedHeader {
        sealer: shaped.sealer,
        missed: set.missed(header.number, k),
        finality: shaped.finality,
        mix: shaped.mix,
    })
}

/// A header whose every rule but the proposer schedule holds: see [`verify_header_shape`].
#[derive(Debug, Clone)]
pub struct ShapedHeader {
    /// Who sealed it (also the beneficiary); not yet checked against the schedule.
    pub sealer: Address,
    /// Finality proof carried, if any (not checked).
    pub finality: Option<FinalityProof>,
    /// The block's randomness, the sealer's VRF reveal on the parent's mix.
    pub mix: B256,
}

/// Checks every rule of `header` that needs only `parent`, not the validator set (which is
/// in the parent's state): number, slot timing, not from the future, a canonical seal whose
/// signer is the beneficiary, the signer's VRF reveal as `mixHash`, gas limit bounds, zero
/// difficulty and nonce, at most one finality proof. Headers-first sync checks a run of
/// headers this way before it fetches their bodies; [`verify_header`] adds the schedule.
pub fn verify_header_shape(
    parent: &Header,
    header: &Header,
    slot_secs: u64,
    now: u64,
) -> Result<ShapedHeader, ConsensusError> {
    if parent.number.checked_add(1) != Some(header.number) {
        return Err(invalid("number is not parent + 1"));
    }
    slot_offset(parent.timestamp, header.timestamp, slot_secs)
        .ok_or_else(|| invalid("timestamp is not on a slot after the parent"))?;
    // Not from the future beyond a small clock drift: a backup proposer cannot publish its
    // block before its slot and race the in-turn one (security review M2).
    if header.timestamp > now.saturating_add(MAX_CLOCK_DRIFT_SECS) {
        return Err(invalid(format!("timestamp {} is in the future", header.timestamp)));
    }
    let (extra, seal) = pos::parse_extra(&header.extra_data).map_err(|e| invalid(e.to_string()))?;
    let key = pos::canonical_signature(&seal)
        .and_then(|sig| {
            sig.recover_from_prehash(&pos::seal_hash(header, true))
                .map_err(|e| pos::SealError::Signature(e.to_string()))
        })
        .map_err(|e| invalid(e.to_string()))?;
    let sealer = Address::from_public_key(&key);
    if header.beneficiary != sealer {
        return Err(invalid("beneficiary is not the sealer"));
    }
    // The block's randomness is the sealer's one VRF output on the parent's mix (H6): a
    // proposer can publish its block or not, never pick its randomness.
    let output = vrf::verify(&key, &vrf::beacon_input(parent), &extra.randao)
        .map_err(|e| invalid(e.to_string()))?;
    let mix = vrf::next_mix(parent, output);
    if header.mix_hash != mix {
        return Err(invalid("mixHash is not the proposer's VRF reveal"));
    }
    let bound = parent.gas_limit / 1024;
    if header.gas_limit.abs_diff(parent.gas_limit) > bound || header.gas_limit < 5_000 {
        return Err(invalid("gas limit changed too much"));
    }
    if !header.difficulty.is_zero() || !header.nonce.is_zero() {
        return Err(invalid("difficulty and nonce must be zero"));
    }
    if extra.finality.len() > 1 {
        return Err(invalid("more than one finality proof"));
    }
    Ok(ShapedHeader { sealer, finality: extra.finality.into_iter().next(), mix })
}

/// Checks a finality proof against the set that was active for the finalized block: every
/// signature from a distinct member, together more than 2/3 of the stake.
pub fn verify_finality(
    set: &ValidatorSet,
    chain_id: u64,
    proof: &FinalityProof,
) -> Result<(), ConsensusError> {
    let mut seen = Vec::new();
    let mut voted = U256::ZERO;
    for sig in &proof.signatures {
        let who = pos::recover_voter(chain_id, proof.number, proof.hash, sig)
            .map_err(|e| invalid(format!("finality vote: {e}")))?;
        let stake = set
            .stake_of(who)
            .ok_or_else(|| invalid(format!("finality vote from {who}, not a validator")))?;
        if seen.contains(&who) {
            return Err(invalid(format!("two finality votes from {who}")));
        }
        seen.push(who);
        voted = voted.saturating_add(stake);
    }
    if !set.is_quorum(voted) {
        return Err(invalid("finality proof without 2/3 of the stake"));
    }
    Ok(())
}

/// Most heights whose votes a [`VoteBook`] keeps (the lowest are dropped first).
pub const MAX_VOTE_HEIGHTS: usize = 1_024;

/// Collects votes per block and tells when a block reaches quorum.
#[derive(Debug, Default)]
pub struct VoteBook {
    votes: BTreeMap<u64, HashMap<B256, BTreeMap<Address, Bytes>>>,
    /// Highest block with a quorum of votes seen here.
    best: Option<FinalityProof>,
    /// Highest block finalized by a proof in the canonical chain.
    finalized: u64,
}

impl VoteBook {
    /// Adds a vote checked against `set` (the set active for the voted block). Returns the proof
    /// when the block has just reached quorum.
    pub fn add(
        &mut self,
        chain_id: u64,
        set: &ValidatorSet,
        vote: &Vote,
    ) -> Result<Option<FinalityProof>, ConsensusError> {
        if vote.number <= self.finalized {
            return Ok(None);
        }
        let who = pos::recover_voter(chain_id, vote.number, vote.hash, &vote.signature)
            .map_err(|e| invalid(format!("vote: {e}")))?;
        if set.stake_of(who).is_none() {
            return Err(invalid(format!("vote from {who}, not a validator")));
        }
        let by_hash = self.votes.entry(vote.number).or_default();
        // One vote per validator and height: a second vote for another hash is ignored, so a
        // member cannot grow the book with votes for made-up hashes (security review M6).
        if by_hash.values().any(|voters| voters.contains_key(&who)) {
            return Ok(None);
        }
        let voters = by_hash.entry(vote.hash).or_default();
        voters.insert(who, vote.signature.clone());
        let voters = voters.clone();
        // Heights above the finalized block are kept while finality lags, up to a bound.
        while self.votes.len() > MAX_VOTE_HEIGHTS {
            self.votes.pop_first();
        }
        let voted = voters
            .keys()
            .filter_map(|a| set.stake_of(*a))
            .fold(U256::ZERO, |a, s| a.saturating_add(s));
        if !set.is_quorum(voted) || self.best.as_ref().is_some_and(|b| b.number >= vote.number) {
            return Ok(None);
        }
        let proof = FinalityProof {
            number: vote.number,
            hash: vote.hash,
            signatures: voters.values().cloned().collect(),
        };
        self.best = Some(proof.clone());
        Ok(Some(proof))
    }

    /// The proof a proposer should carry: the highest quorum above the finalized block, if it
    /// is canonical (`canonical(number)` gives the canonical hash).
    pub fn proof_to_include(
        &self,
        canonical: impl Fn(u64) -> Option<B256>,
    ) -> Option<FinalityProof> {
        let best = self.best.as_ref()?;
        (best.number > self.finalized && canonical(best.number) == Some(best.hash))
            .then(|| best.clone())
    }

    /// Records that the canonical chain finalized `number`; forgets older votes.
    pub fn on_finalized(&mut self, number: u64) {
        if number > self.finalized {
            self.finalized = number;
            self.votes = self.votes.split_off(&(number + 1));
            if self.best.as_ref().is_some_and(|b| b.number <= number) {
                self.best = None;
            }
        }
    }

    /// Highest block finalized in the canonical chain.
    pub fn finalized(&self) -> u64 {
        self.finalized
    }
}

/// Signs votes, never two for one height; the last height survives restarts and power loss
/// in a watermark file ([`crate::guard`]), written before the vote is signed.
#[derive(Debug)]
pub struct Voter {
    signer: PrivateKeySigner,
    chain_id: u64,
    last: Watermark,
}

impl Voter {
    /// A voter that remembers its last height in memory only (tests).
    pub fn new(signer: PrivateKeySigner, chain_id: u64) -> Self {
        Self { signer, chain_id, last: Watermark::in_memory() }
    }

    /// A voter whose last voted height is kept in `file`. Fails if the file exists but cannot
    /// be read (a validator must not forget what it signed).
    pub fn open(
        signer: PrivateKeySigner,
        chain_id: u64,
        file: std::path::PathBuf,
    ) -> Result<Self, ConsensusError> {
        Ok(Self { signer, chain_id, last: Watermark::open(Some(file))? })
    }

    /// The voter's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// A vote for (`number`, `hash`), unless this validator already voted at that height or
    /// above (or the watermark cannot be persisted).
    pub fn vote(&self, number: u64, hash: B256) -> Option<Vote> {
        self.last
            .advance(number, 0, || {
                self.signer
                    .sign_hash_sync(&pos::vote_hash(self.chain_id, number, hash))
                    .map_err(|e| ConsensusError::InvalidHeader(format!("signing failed: {e}")))
            })
            .ok()
            .map(|sig| Vote { number, hash, signature: sig.as_bytes().to_vec().into() })
    }
}

/// Source of the active set for the block after a given parent (reads the staking
/// precompile's state).
pub type SetProvider = Arc<dyn Fn(&SealedHeader) -> ValidatorSet + Send + Sync>;

/// Finality proof source for proposers.
pub type ProofProvider = Arc<dyn Fn() -> Option<FinalityProof> + Send + Sync>;

/// The proof-of-stake block producer of one validator.
pub struct PosEngine {
    signer: PrivateKeySigner,
    slot_secs: u64,
    sets: SetProvider,
    proofs: ProofProvider,
    vanity: Bytes,
    /// Timestamp (and number) of the last header sealed: never seal at or below it.
    sealed: Watermark,
}

impl std::fmt::Debug for PosEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosEngine")
            .field("validator", &self.signer.address())
            .field("slot_secs", &self.slot_secs)
            .finish()
    }
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl PosEngine {
    /// An engine sealing with `signer` in `slot_secs` slots.
    pub fn new(
        signer: PrivateKeySigner,
        slot_secs: u64,
        sets: SetProvider,
        proofs: ProofProvider,
    ) -> Self {
        Self {
            signer,
            slot_secs,
            sets,
            proofs,
            vanity: Bytes::from_static(b"dbc-node"),
            sealed: Watermark::in_memory(),
        }
    }

    /// Keeps the seal watermark in `file` (`<datadir>/last_seal`): after a restart, a crash
    /// between sealing and gossiping, or an unwind of its own block, the validator never seals
    /// a second header for a slot it already sealed. Fails if the file cannot be read.
    pub fn with_seal_watermark(mut self, file: std::path::PathBuf) -> Result<Self, ConsensusError> {
        self.sealed = Watermark::open(Some(file))?;
        Ok(self)
    }

    /// The timestamp and number of the last header this validator sealed.
    pub fn last_sealed(&self) -> (u64, u64) {
        self.sealed.last()
    }

    /// Seals without the watermark. Only for the `equivocate` test hook, which double-signs on
    /// purpose so that slashing can be tested end to end.
    pub fn seal_unguarded(&self, header: Header) -> Result<Header, ConsensusError> {
        self.sign_seal(header)
    }

    fn sign_seal(&self, header: Header) -> Result<Header, ConsensusError> {
        let sig = self
            .signer
            .sign_hash_sync(&pos::seal_hash(&header, false))
            .map_err(|e| ConsensusError::InvalidHeader(format!("signing failed: {e}")))?;
        Ok(pos::apply_seal(header, &sig))
    }

    /// The validator's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The slot this validator may seal the block after `parent` in, as (offset, timestamp).
    pub fn my_slot(&self, parent: &SealedHeader) -> Option<(u64, u64, ValidatorSet)> {
        let set = (self.sets)(parent);
        let number = parent.number + 1;
        let first = set.offset_of(number, self.address())?;
        // Past slots are gone: move on by whole rounds until the slot is not in the past.
        let len = set.len() as u64;
        let now_s = now().as_secs();
        let slot = self.slot_secs.max(1);
        let end = parent.timestamp.saturating_add(slot.saturating_mul(first + 2));
        let k = if end <= now_s {
            // Skip the smallest number of whole rounds that puts the slot's end after now.
            let rounds = (now_s - end) / slot.saturating_mul(len) + 1;
            first.saturating_add(rounds.saturating_mul(len))
        } else {
            first
        };
        Some((k, parent.timestamp.saturating_add(slot.saturating_mul(k + 1)), set))
    }
}

impl PosEngine {
    /// The slot this validator may seal the block after `parent` in, with what its header
    /// carries, without waiting for it: the producer builds the block while the slot before it
    /// runs and seals it when the slot opens. `None`: not in the active set (never produce on
    /// this parent), or no VRF reveal (hashing to the curve fails with probability 2⁻²⁵⁶; the
    /// slot is then left to the backup rather than sealing a header every peer would refuse).
    pub fn slot_after(&self, parent: &SealedHeader) -> Option<Slot> {
        let (k, timestamp, set) = self.my_slot(parent)?;
        let number = parent.number + 1;
        let Ok((randao, mix)) = vrf::reveal(self.signer.credential(), parent.inner()) else {
            tracing::error!(target: "dbc::pos", number, "no VRF reveal for this slot; skipping it");
            return None;
        };
        let extra = ConsensusExtra {
            finality: (self.proofs)().into_iter().collect(),
            randao: randao.to_vec().into(),
        };
        Some(Slot {
            timestamp,
            beneficiary: self.address(),
            extra_data: pos::unsealed_extra(&self.vanity, &extra),
            staking_hook: Some((self.address(), set.missed(number, k))),
            prev_randao: Some(mix),
        })
    }

    /// Puts the newest finality proof into an unsealed header built during the slot before:
    /// votes for the parent usually arrive while its successor is being built. The proof
    /// provider only offers canonical blocks below the head, so the proof stays below `header`.
    fn refresh_finality(&self, header: &mut Header) {
        let Some(fresh) = (self.proofs)() else { return };
        let Some(body) = header.extra_data.get(pos::VANITY_LEN..) else { return };
        let mut rest = body;
        let Ok(mut extra) = <ConsensusExtra as alloy_rlp::Decodable>::decode(&mut rest) else {
            return;
        };
        let newer = extra.finality.first().is_none_or(|p| p.number < fresh.number);
        if !rest.is_empty() || !newer || fresh.number >= header.number {
            return;
        }
        extra.finality = vec![fresh];
        header.extra_data = pos::unsealed_extra(&header.extra_data[..pos::VANITY_LEN], &extra);
    }
}

impl ConsensusEngine for PosEngine {
    async fn next_slot(&self, parent: &SealedHeader, _pool: &TxPool) -> Slot {
        let Some(slot) = self.slot_after(parent) else {
            return std::future::pending().await;
        };
        let wait = Duration::from_secs(slot.timestamp).saturating_sub(now());
        tokio::time::sleep(wait).await;
        slot
    }

    /// Seals `header` if its timestamp is after every header this validator sealed before,
    /// recording it durably first (see [`crate::guard`]).
    fn seal(&self, mut header: Header) -> Result<Header, ConsensusError> {
        self.refresh_finality(&mut header);
        let (timestamp, number) = (header.timestamp, header.number);
        self.sealed.advance(timestamp, number, || self.sign_seal(header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Sealable;

    fn keys(n: usize) -> Vec<PrivateKeySigner> {
        (0..n).map(|_| PrivateKeySigner::random()).collect()
    }

    fn set_of(keys: &[PrivateKeySigner], stakes: &[u64]) -> ValidatorSet {
        ValidatorSet::new(
            keys.iter().zip(stakes).map(|(k, s)| (k.address(), U256::from(*s))).collect(),
        )
    }

    #[test]
    fn schedule_rotates_and_backups_follow() {
        let k = keys(4);
        let set = set_of(&k, &[1, 1, 1, 1]);
        assert_eq!(set.proposer(5, 0), Some(k[1].address()));
        assert_eq!(set.proposer(5, 1), Some(k[2].address()));
        assert_eq!(set.proposer(5, 4), Some(k[1].address()), "wraps after a round");
        assert_eq!(set.offset_of(5, k[0].address()), Some(3));
        assert_eq!(set.missed(5, 2), vec![k[1].address(), k[2].address()]);
        assert_eq!(set.missed(5, 5), vec![k[1].address(), k[3].address(), k[0].address()]);
        assert_eq!(slot_offset(100, 106, 6), Some(0));
        assert_eq!(slot_offset(100, 118, 6), Some(2));
        assert_eq!(slot_offset(100, 104, 6), None);
        assert_eq!(slot_offset(100, 100, 6), None);
    }

    fn engine(k: &PrivateKeySigner, set: ValidatorSet) -> PosEngine {
        PosEngine::new(k.clone(), 2, Arc::new(move |_| set.clone()), Arc::new(|| None))
    }

    fn child(parent: &Header, e: &PosEngine, k: u64) -> Header {
        e.seal(unsealed_child(parent, e, k)).expect("seal")
    }

    /// The block after `parent` by `e` in backup slot `k`, with `e`'s VRF reveal, unsealed.
    fn unsealed_child(parent: &Header, e: &PosEngine, k: u64) -> Header {
        let (randao, mix) = vrf::reveal(e.signer.credential(), parent).expect("reveal");
        let extra = ConsensusExtra { finality: vec![], randao: randao.to_vec().into() };
        Header {
            number: parent.number + 1,
            timestamp: parent.timestamp + 2 * (k + 1),
            gas_limit: parent.gas_limit,
            beneficiary: e.address(),
            mix_hash: mix,
            extra_data: pos::unsealed_extra(b"x", &extra),
            ..Default::default()
        }
    }

    /// H6: a block's randomness is its sealer's VRF output on the parent's mix. A header with
    /// any other `mixHash`, without a reveal, or with someone else's reveal is refused, so the
    /// proposer cannot choose (grind) the randomness the market draws auditors with.
    #[test]
    fn h6_the_mix_is_the_sealers_vrf_reveal_and_nothing_else() {
        let k = keys(3);
        let set = set_of(&k, &[1, 1, 1]);
        let parent = Header {
            number: 9,
            timestamp: 1_000,
            gas_limit: 30_000_000,
            mix_hash: B256::repeat_byte(3),
            ..Default::default()
        };
        let e = engine(&k[1], set.clone());
        let good = child(&parent, &e, 0);
        let v = verify_header(&set, &parent, &good, 2, 1_002).expect("valid");
        assert_eq!(v.mix, good.mix_hash);
        assert_ne!(v.mix, parent.mix_hash);
        // Another mix, sealed properly by the right proposer.
        let mut h = unsealed_child(&parent, &e, 0);
        h.mix_hash = B256::repeat_byte(4);
        let err = verify_header(&set, &parent, &e.seal_unguarded(h).expect("seal"), 2, 1_002);
        assert!(format!("{err:?}").contains("mixHash"), "{err:?}");
        // No reveal at all (the mix the old rule would give).
        let mut h = unsealed_child(&parent, &e, 0);
        h.extra_data = pos::unsealed_extra(b"x", &ConsensusExtra::default());
        let err = verify_header(&set, &parent, &e.seal_unguarded(h).expect("seal"), 2, 1_002);
        assert!(format!("{err:?}").contains("VRF"), "{err:?}");
        // Another validator's reveal (and its mix) under the proposer's seal.
        let other = unsealed_child(&parent, &engine(&k[2], set.clone()), 0);
        let mut h = unsealed_child(&parent, &e, 0);
        h.extra_data = other.extra_data.clone();
        h.mix_hash = other.mix_hash;
        let err = verify_header(&set, &parent, &e.seal_unguarded(h).expect("seal"), 2, 1_002);
        assert!(format!("{err:?}").contains("VRF proof does not verify"), "{err:?}");
        // The reveal for another parent (a stale one) does not verify either.
        let stale = Header { mix_hash: B256::repeat_byte(5), ..parent.clone() };
        let mut h = unsealed_child(&stale, &e, 0);
        h.timestamp = parent.timestamp + 2;
        let err = verify_header(&set, &parent, &e.seal_unguarded(h).expect("seal"), 2, 1_002);
        assert!(err.is_err());
    }

    #[test]
    fn seal_verification_accepts_the_scheduled_sealer_only() {
        let k = keys(3);
        let set = set_of(&k, &[1, 1, 1]);
        let parent =
            Header { number: 9, timestamp: 1_000, gas_limit: 30_000_000, ..Default::default() };
        // Block 10: in turn is k[1]; k[2] is the first backup.
        let ok = child(&parent, &engine(&k[1], set.clone()), 0);
        let v = verify_header(&set, &parent, &ok, 2, 1_002).expect("valid");
        assert_eq!((v.sealer, v.missed.len()), (k[1].address(), 0));
        let backup = child(&parent, &engine(&k[2], set.clone()), 1);
        let v = verify_header(&set, &parent, &backup, 2, 1_004).expect("backup valid");
        assert_eq!(v.missed, vec![k[1].address()]);
        // The wrong sealer for the slot, a future block, a tampered header.
        let wrong = child(&parent, &engine(&k[2], set.clone()), 0);
        assert!(verify_header(&set, &parent, &wrong, 2, 1_002).is_err());
        assert!(verify_header(&set, &parent, &ok, 2, 990).is_err());
        let mut tampered = ok.clone();
        tampered.gas_used = 1;
        assert!(verify_header(&set, &parent, &tampered, 2, 1_002).is_err());
        let outsider = child(&parent, &engine(&PrivateKeySigner::random(), set.clone()), 0);
        assert!(verify_header(&set, &parent, &outsider, 2, 1_002).is_err());
    }

    /// Headers-first sync checks a run of headers without the validator set: everything but
    /// the schedule. A header sealed out of turn or by an outsider passes that check (the
    /// schedule is checked at import); a tampered, unsigned or future header does not.
    #[test]
    fn the_shape_check_is_everything_but_the_schedule() {
        let k = keys(3);
        let set = set_of(&k, &[1, 1, 1]);
        let parent =
            Header { number: 9, timestamp: 1_000, gas_limit: 30_000_000, ..Default::default() };
        let outsider = PrivateKeySigner::random();
        let out = child(&parent, &engine(&outsider, set.clone()), 0);
        let shaped = verify_header_shape(&parent, &out, 2, 1_002).expect("well-formed");
        assert_eq!(shaped.sealer, outsider.address());
        assert!(verify_header(&set, &parent, &out, 2, 1_002).is_err(), "not scheduled");
        let ok = child(&parent, &engine(&k[1], set.clone()), 0);
        assert_eq!(verify_header_shape(&parent, &ok, 2, 1_002).expect("ok").sealer, k[1].address());
        let mut tampered = ok.clone();
        tampered.gas_used = 1;
        assert!(verify_header_shape(&parent, &tampered, 2, 1_002).is_err(), "seal no longer signs");
        assert!(verify_header_shape(&parent, &ok, 2, 990).is_err(), "from the future");
        let mut unsigned = ok.clone();
        unsigned.extra_data = pos::unsealed_extra(b"x", &ConsensusExtra::default());
        assert!(verify_header_shape(&parent, &unsigned, 2, 1_002).is_err(), "no seal");
        let far = Header { number: u64::MAX, ..parent.clone() };
        assert!(verify_header_shape(&far, &ok, 2, 1_002).is_err(), "no overflow past u64::MAX");
    }

    #[test]
    fn finality_needs_more_than_two_thirds_of_stake() {
        let k = keys(4);
        let set = set_of(&k, &[10, 10, 10, 30]);
        let hash = B256::repeat_byte(7);
        let voters: Vec<Voter> = k.iter().map(|s| Voter::new(s.clone(), 1)).collect();
        let mut book = VoteBook::default();
        // 10 + 10 + 10 = 30 of 60: not enough; + 30 = 60 > 40.
        for v in &voters[..3] {
            assert!(book.add(1, &set, &v.vote(5, hash).expect("vote")).expect("ok").is_none());
        }
        let proof = book
            .add(1, &set, &voters[3].vote(5, hash).expect("vote"))
            .expect("ok")
            .expect("quorum");
        assert_eq!(proof.signatures.len(), 4);
        verify_finality(&set, 1, &proof).expect("valid proof");
        // 30 + 10 + 10 = 50 > 40 with three votes; 30 + 10 = 40 is not > 40.
        let mut short = proof.clone();
        short.signatures.truncate(2);
        short.signatures[0] = proof.signatures[3].clone();
        assert!(verify_finality(&set, 1, &short).is_err());
        let mut dup = proof.clone();
        dup.signatures.push(proof.signatures[0].clone());
        assert!(verify_finality(&set, 1, &dup).is_err());
        assert!(verify_finality(&set, 2, &proof).is_err(), "other chain id");
        assert_eq!(book.proof_to_include(|n| (n == 5).then_some(hash)), Some(proof.clone()));
        assert_eq!(book.proof_to_include(|_| Some(B256::ZERO)), None, "not canonical");
        book.on_finalized(5);
        assert_eq!(book.proof_to_include(|n| (n == 5).then_some(hash)), None);
    }

    #[test]
    fn a_voter_never_votes_twice_at_one_height() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("last_vote");
        let k = PrivateKeySigner::random();
        let v = Voter::open(k.clone(), 1, file.clone()).expect("open");
        assert!(v.vote(3, B256::ZERO).is_some());
        assert!(v.vote(3, B256::repeat_byte(1)).is_none());
        assert!(v.vote(2, B256::repeat_byte(1)).is_none());
        // After a restart too.
        let v = Voter::open(k, 1, file).expect("reopen");
        assert!(v.vote(3, B256::repeat_byte(2)).is_none());
        assert!(v.vote(4, B256::repeat_byte(2)).is_some());
    }

    /// Issue #15 item 3 / security review H2: a validator never seals two headers for one
    /// slot, also after a restart (the watermark is on disk before the seal exists).
    #[test]
    fn h2_an_engine_never_seals_twice_for_one_slot_across_restarts() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("last_seal");
        let k = keys(1);
        let set = set_of(&k, &[1]);
        let parent =
            Header { number: 9, timestamp: 1_000, gas_limit: 30_000_000, ..Default::default() };
        let unsealed = |gas_used: u64, k_: u64| Header {
            number: 10,
            timestamp: 1_000 + 2 * (k_ + 1),
            gas_limit: parent.gas_limit,
            gas_used,
            beneficiary: k[0].address(),
            extra_data: pos::unsealed_extra(b"x", &ConsensusExtra::default()),
            ..Default::default()
        };
        let e = engine(&k[0], set.clone()).with_seal_watermark(file.clone()).expect("open");
        e.seal(unsealed(0, 0)).expect("first seal");
        assert!(e.seal(unsealed(1, 0)).is_err(), "another header for the same slot");
        let e = engine(&k[0], set.clone()).with_seal_watermark(file.clone()).expect("reopen");
        assert_eq!(e.last_sealed(), (1_002, 10));
        assert!(e.seal(unsealed(2, 0)).is_err(), "refused after a restart too");
        e.seal(unsealed(2, 1)).expect("a later slot is fine");
        // The twin test hook bypasses it on purpose.
        e.seal_unguarded(unsealed(3, 1)).expect("unguarded");
    }

    /// Security review M6: one vote per validator and height is kept.
    #[test]
    fn m6_a_validator_cannot_fill_the_vote_book_with_other_hashes() {
        let k = keys(2);
        let set = set_of(&k, &[1, 1]);
        let mut book = VoteBook::default();
        let sign = |h: B256| {
            let sig = k[0].sign_hash_sync(&pos::vote_hash(1, 5, h)).expect("sign");
            Vote { number: 5, hash: h, signature: sig.as_bytes().to_vec().into() }
        };
        for i in 0..100u8 {
            book.add(1, &set, &sign(B256::repeat_byte(i))).expect("valid vote");
        }
        assert_eq!(book.votes.get(&5).map(|h| h.len()), Some(1), "only the first hash is kept");
        for n in 0..(MAX_VOTE_HEIGHTS as u64 + 10) {
            let sig = k[1].sign_hash_sync(&pos::vote_hash(1, 100 + n, B256::ZERO)).expect("sign");
            let v = Vote {
                number: 100 + n,
                hash: B256::ZERO,
                signature: sig.as_bytes().to_vec().into(),
            };
            book.add(1, &set, &v).expect("valid");
        }
        assert!(book.votes.len() <= MAX_VOTE_HEIGHTS);
    }

    #[tokio::test]
    async fn engine_waits_for_its_slot_and_reports_skipped_validators() {
        let k = keys(2);
        let set = set_of(&k, &[1, 1]);
        let now_s = now().as_secs();
        let parent =
            Header { number: 1, timestamp: now_s, gas_limit: 30_000_000, ..Default::default() }
                .seal_slow();
        let pool = TxPool::new(Default::default());
        // Block 2: k[0] in turn (2 mod 2 = 0), k[1] backup one slot later.
        let e = engine(&k[1], set.clone());
        let slot = e.next_slot(&parent, &pool).await;
        assert_eq!(slot.timestamp, now_s + 4);
        assert_eq!(slot.staking_hook, Some((k[1].address(), vec![k[0].address()])));
    }
}

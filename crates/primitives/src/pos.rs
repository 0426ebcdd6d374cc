//! Proof-of-stake header format: the proposer's seal and the finality proof carried in
//! `extraData`.
//!
//! `extraData = vanity (32 bytes) ‖ RLP(ConsensusExtra) ‖ seal (65 bytes)`. The seal is the
//! proposer's secp256k1 signature (r ‖ s ‖ v) over [`seal_hash`]: the Keccak-256 of the RLP
//! header whose `extraData` stops before the seal. Every other header field keeps its Ethereum
//! meaning, so explorers and clients read these headers like any other.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

/// Bytes of free-form vanity at the start of `extraData`.
pub const VANITY_LEN: usize = 32;
/// Bytes of the seal at the end of `extraData`.
pub const SEAL_LEN: usize = 65;

/// Why a header's seal or extra data is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// `extraData` is too short or its middle part is not valid RLP.
    #[error("malformed extraData: {0}")]
    Extra(String),
    /// The signature does not recover.
    #[error("invalid signature: {0}")]
    Signature(String),
}

/// A signed vote for a block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Vote {
    /// Voted block number.
    pub number: u64,
    /// Voted block hash.
    pub hash: B256,
    /// 65-byte signature over [`vote_hash`].
    pub signature: Bytes,
}

/// Votes of more than 2/3 of the active stake for one block.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct FinalityProof {
    /// Finalized block number.
    pub number: u64,
    /// Finalized block hash.
    pub hash: B256,
    /// 65-byte signatures over [`vote_hash`] of (number, hash), one per validator.
    pub signatures: Vec<Bytes>,
}

/// The consensus data between vanity and seal.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct ConsensusExtra {
    /// Finality proofs of earlier blocks (zero or one).
    pub finality: Vec<FinalityProof>,
}

/// `extraData` without its seal, for a header about to be sealed.
pub fn unsealed_extra(vanity: &[u8], extra: &ConsensusExtra) -> Bytes {
    let mut out = vec![0u8; VANITY_LEN];
    let n = vanity.len().min(VANITY_LEN);
    out[..n].copy_from_slice(&vanity[..n]);
    extra.encode(&mut out);
    out.into()
}

/// Splits a sealed `extraData` into (consensus data, seal).
pub fn parse_extra(extra: &[u8]) -> Result<(ConsensusExtra, [u8; SEAL_LEN]), SealError> {
    if extra.len() < VANITY_LEN + SEAL_LEN {
        return Err(SealError::Extra(format!("{} bytes, at least 97 expected", extra.len())));
    }
    let (body, seal) = extra[VANITY_LEN..].split_at(extra.len() - VANITY_LEN - SEAL_LEN);
    let mut b = body;
    let parsed = ConsensusExtra::decode(&mut b).map_err(|e| SealError::Extra(e.to_string()))?;
    if !b.is_empty() {
        return Err(SealError::Extra("trailing bytes before the seal".into()));
    }
    let mut s = [0u8; SEAL_LEN];
    s.copy_from_slice(seal);
    Ok((parsed, s))
}

/// Hash the proposer signs: the header with `extraData` cut before the seal. For an unsealed
/// header (`extraData` from [`unsealed_extra`]) pass `sealed = false`.
pub fn seal_hash(header: &Header, sealed: bool) -> B256 {
    let mut h = header.clone();
    if sealed {
        let n = h.extra_data.len().saturating_sub(SEAL_LEN);
        h.extra_data = h.extra_data.slice(..n);
    }
    let mut out = Vec::with_capacity(600);
    h.encode(&mut out);
    keccak256(out)
}

/// Appends `signature` to an unsealed header's `extraData`.
pub fn apply_seal(mut header: Header, signature: &Signature) -> Header {
    let mut extra = header.extra_data.to_vec();
    extra.extend_from_slice(&signature.as_bytes());
    header.extra_data = extra.into();
    header
}

fn recover(sig: &[u8], prehash: &B256) -> Result<Address, SealError> {
    let sig = Signature::from_raw(sig).map_err(|e| SealError::Signature(e.to_string()))?;
    sig.recover_address_from_prehash(prehash).map_err(|e| SealError::Signature(e.to_string()))
}

/// The proposer that sealed `header`.
pub fn recover_sealer(header: &Header) -> Result<Address, SealError> {
    let (_, seal) = parse_extra(&header.extra_data)?;
    recover(&seal, &seal_hash(header, true))
}

/// Hash a validator signs to vote for block (`number`, `hash`) on chain `chain_id`.
pub fn vote_hash(chain_id: u64, number: u64, hash: B256) -> B256 {
    let mut buf = Vec::with_capacity(56);
    buf.extend_from_slice(b"dbc-vote");
    buf.extend_from_slice(&chain_id.to_be_bytes());
    buf.extend_from_slice(&number.to_be_bytes());
    buf.extend_from_slice(hash.as_slice());
    keccak256(buf)
}

/// The validator that signed a vote.
pub fn recover_voter(
    chain_id: u64,
    number: u64,
    hash: B256,
    sig: &[u8],
) -> Result<Address, SealError> {
    recover(sig, &vote_hash(chain_id, number, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_round_trips_and_rejects_garbage() {
        let extra = ConsensusExtra {
            finality: vec![FinalityProof {
                number: 7,
                hash: B256::repeat_byte(1),
                signatures: vec![Bytes::from(vec![9u8; 65])],
            }],
        };
        let mut full = unsealed_extra(b"dbc", &extra).to_vec();
        full.extend_from_slice(&[3u8; SEAL_LEN]);
        let (parsed, seal) = parse_extra(&full).expect("parses");
        assert_eq!(parsed, extra);
        assert_eq!(seal, [3u8; SEAL_LEN]);
        assert!(parse_extra(&full[..90]).is_err());
        let mut bad = full.clone();
        bad.insert(VANITY_LEN + 1, 0xff);
        assert!(parse_extra(&bad).is_err());
    }
}

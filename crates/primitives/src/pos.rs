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
    /// The proposer's VRF proof for this block's randomness (`dbc_consensus::vrf`): 97 bytes in
    /// a proof-of-stake block.
    pub randao: Bytes,
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

/// Parses a 65-byte `r ‖ s ‖ v` signature in its one canonical form: `v` is 27 or 28 and `s`
/// is in the lower half of the curve order (EIP-2). Every other encoding of the same signature
/// (`v` of 0/1/35+, or `n − s` with the parity flipped) is refused, so one signed content has
/// exactly one accepted seal, vote or evidence encoding (security review C1).
pub fn canonical_signature(sig: &[u8]) -> Result<Signature, SealError> {
    let bad = |m: &str| SealError::Signature(m.into());
    if sig.len() != SEAL_LEN {
        return Err(bad("a signature is exactly 65 bytes"));
    }
    let parsed = Signature::from_raw(sig).map_err(|e| SealError::Signature(e.to_string()))?;
    if sig[SEAL_LEN - 1] != 27 && sig[SEAL_LEN - 1] != 28 {
        return Err(bad("non-canonical v (27 or 28 expected)"));
    }
    if parsed.normalize_s().is_some() {
        return Err(bad("non-canonical s (high s)"));
    }
    if parsed.r().is_zero() || parsed.s().is_zero() || parsed.as_bytes()[..] != sig[..] {
        return Err(bad("non-canonical signature encoding"));
    }
    Ok(parsed)
}

fn recover(sig: &[u8], prehash: &B256) -> Result<Address, SealError> {
    let sig = canonical_signature(sig)?;
    sig.recover_address_from_prehash(prehash).map_err(|e| SealError::Signature(e.to_string()))
}

/// Decodes an RLP header that must take all of `raw` (no trailing bytes) and re-encode to
/// exactly `raw` (canonical RLP only).
pub fn decode_header_exact(raw: &[u8]) -> Result<Header, SealError> {
    let mut rest = raw;
    let h = Header::decode(&mut rest).map_err(|e| SealError::Extra(format!("header RLP: {e}")))?;
    if !rest.is_empty() {
        return Err(SealError::Extra("trailing bytes after the header".into()));
    }
    if alloy_rlp::encode(&h) != raw {
        return Err(SealError::Extra("non-canonical header encoding".into()));
    }
    Ok(h)
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
            randao: Bytes::from(vec![2u8; 97]),
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

    fn sealed_header() -> (Header, Address) {
        use alloy_signer::SignerSync;
        let key = alloy_signer_local::PrivateKeySigner::random();
        let unsealed = Header {
            number: 5,
            timestamp: 60,
            gas_limit: 30_000_000,
            extra_data: unsealed_extra(b"dbc", &ConsensusExtra::default()),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&seal_hash(&unsealed, false)).expect("sign");
        (apply_seal(unsealed, &sig), key.address())
    }

    fn with_seal(h: &Header, seal: [u8; SEAL_LEN]) -> Header {
        let mut extra = h.extra_data.to_vec();
        let n = extra.len() - SEAL_LEN;
        extra[n..].copy_from_slice(&seal);
        Header { extra_data: extra.into(), ..h.clone() }
    }

    /// Security review C1 (scenario B): re-encoded seals (another `v`, or `n − s` with the
    /// parity flipped) recover the same sealer under alloy's lenient parsing; only the one
    /// canonical encoding is accepted.
    #[test]
    fn c1_only_the_canonical_seal_encoding_recovers() {
        let (h, sealer) = sealed_header();
        assert_eq!(recover_sealer(&h).expect("canonical seal"), sealer);
        let (_, seal) = parse_extra(&h.extra_data).expect("extra");
        let sig = Signature::from_raw(&seal).expect("sig");
        // v values alloy reads as the same parity: 0/1, and EIP-155 style 35 + 2·id + parity.
        let same_parity: [u8; 4] = if seal[64] == 28 { [1, 36, 38, 40] } else { [0, 35, 37, 39] };
        for v in same_parity {
            let mut other = seal;
            other[64] = v;
            let lenient = Signature::from_raw(&other).expect("alloy accepts this v");
            assert_eq!(
                lenient.recover_address_from_prehash(&seal_hash(&h, true)).ok(),
                Some(sealer),
                "v = {v} recovers the same sealer leniently"
            );
            assert!(recover_sealer(&with_seal(&h, other)).is_err(), "v = {v} refused");
        }
        let high = sig.normalize_s().map(|_| sig).unwrap_or_else(|| {
            let n = alloy_primitives::U256::from_be_bytes(SECP256K1_ORDER);
            Signature::new(sig.r(), n - sig.s(), !sig.v())
        });
        assert_eq!(
            high.recover_address_from_prehash(&seal_hash(&h, true)).ok(),
            Some(sealer),
            "the high-s twin is a valid signature of the same key"
        );
        assert!(recover_sealer(&with_seal(&h, high.as_bytes())).is_err(), "high s");
        assert!(canonical_signature(&seal[..64]).is_err(), "short");
    }

    const SECP256K1_ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];

    /// Security review C1 (scenario A): a header plus a trailing byte is not a second header.
    #[test]
    fn c1_header_decoding_is_exact() {
        let (h, _) = sealed_header();
        let raw = alloy_rlp::encode(&h);
        assert_eq!(decode_header_exact(&raw).expect("exact"), h);
        let mut trailing = raw.clone();
        trailing.push(0);
        assert!(decode_header_exact(&trailing).is_err());
        assert!(decode_header_exact(&raw[..raw.len() - 1]).is_err());
    }
}

//! Property tests of the decoders that take bytes from peers and transactions: strict header
//! decoding, `extraData` parsing, seals and signatures, votes and finality proofs.
//!
//! Properties: nothing panics on any input; whatever decodes re-encodes to exactly its input
//! (one accepted encoding per value); a sealed header has exactly one accepted seal.
//! `cargo +nightly fuzz` targets in `fuzz/` drive the same decoders with coverage feedback.
#![allow(clippy::unwrap_used, missing_docs)]

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use alloy_rlp::{Decodable, Encodable};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_primitives::pos::{
    ConsensusExtra, FinalityProof, SEAL_LEN, VANITY_LEN, Vote, apply_seal, canonical_signature,
    decode_header_exact, parse_extra, recover_sealer, seal_hash, unsealed_extra,
};
use proptest::prelude::*;
use std::sync::OnceLock;

/// secp256k1's group order n.
const ORDER_BYTES: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

fn order() -> U256 {
    U256::from_be_bytes(ORDER_BYTES)
}

fn key() -> &'static PrivateKeySigner {
    static KEY: OnceLock<PrivateKeySigner> = OnceLock::new();
    KEY.get_or_init(PrivateKeySigner::random)
}

/// One edit of an encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 1u8..).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        prop::collection::vec(any::<u8>(), 1..4).prop_map(Mutation::Append),
    ]
}

fn mutate(mut raw: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for m in edits {
        let n = raw.len().max(1);
        match m {
            Mutation::Set(i, b) if !raw.is_empty() => raw[i % n] = *b,
            Mutation::Flip(i, b) if !raw.is_empty() => raw[i % n] ^= *b,
            Mutation::Insert(i, b) => raw.insert(i % (raw.len() + 1), *b),
            Mutation::Remove(i) if !raw.is_empty() => {
                raw.remove(i % n);
            }
            Mutation::Truncate(i) => raw.truncate(i % n),
            Mutation::Append(bytes) => raw.extend_from_slice(bytes),
            _ => {}
        }
    }
    raw
}

fn b256() -> impl Strategy<Value = B256> {
    prop_oneof![Just(B256::ZERO), any::<[u8; 32]>().prop_map(B256::from)]
}

/// Small, boundary and arbitrary integers.
fn int() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..1_000, Just(u64::MAX), any::<u64>()]
}

fn proof() -> impl Strategy<Value = FinalityProof> {
    (int(), b256(), prop::collection::vec(prop::collection::vec(any::<u8>(), 0..70), 0..4))
        .prop_map(|(number, hash, sigs)| FinalityProof {
            number,
            hash,
            signatures: sigs.into_iter().map(Bytes::from).collect(),
        })
}

fn consensus_extra() -> impl Strategy<Value = ConsensusExtra> {
    (prop::collection::vec(proof(), 0..2), prop::collection::vec(any::<u8>(), 0..100))
        .prop_map(|(finality, randao)| ConsensusExtra { finality, randao: randao.into() })
}

/// A header with any field values and the first `optional` of the post-London fields set, as
/// Ethereum encodes them (in order, without gaps).
fn header() -> impl Strategy<Value = Header> {
    (
        (b256(), b256(), any::<[u8; 20]>(), b256(), b256(), b256()),
        (int(), int(), int(), int(), int(), any::<[u8; 8]>()),
        (prop::collection::vec(any::<u8>(), 0..140), any::<u128>(), 0usize..=6, b256()),
    )
        .prop_map(
            |(
                (parent, ommers, beneficiary, state, txs, receipts),
                (number, gas_limit, gas_used, timestamp, base_fee, nonce),
                (extra, difficulty, optional, other),
            )| {
                let mut h = Header {
                    parent_hash: parent,
                    ommers_hash: ommers,
                    beneficiary: Address::from(beneficiary),
                    state_root: state,
                    transactions_root: txs,
                    receipts_root: receipts,
                    logs_bloom: Bloom::repeat_byte(nonce[0]),
                    difficulty: U256::from(difficulty),
                    number,
                    gas_limit,
                    gas_used,
                    timestamp,
                    extra_data: extra.into(),
                    mix_hash: other,
                    nonce: nonce.into(),
                    ..Default::default()
                };
                if optional > 0 {
                    h.base_fee_per_gas = Some(base_fee);
                }
                if optional > 1 {
                    h.withdrawals_root = Some(other);
                }
                if optional > 2 {
                    h.blob_gas_used = Some(gas_used);
                }
                if optional > 3 {
                    h.excess_blob_gas = Some(number);
                }
                if optional > 4 {
                    h.parent_beacon_block_root = Some(parent);
                }
                if optional > 5 {
                    h.requests_hash = Some(state);
                }
                h
            },
        )
}

/// A header sealed by [`key`] with `extra` between the vanity and the seal.
fn sealed(mut h: Header, vanity: &[u8], extra: &ConsensusExtra) -> Header {
    h.extra_data = unsealed_extra(vanity, extra);
    let sig = key().sign_hash_sync(&seal_hash(&h, false)).unwrap();
    apply_seal(h, &sig)
}

fn with_seal(h: &Header, seal: &[u8; SEAL_LEN]) -> Header {
    let mut extra = h.extra_data.to_vec();
    let n = extra.len() - SEAL_LEN;
    extra[n..].copy_from_slice(seal);
    Header { extra_data: extra.into(), ..h.clone() }
}

/// Decodes an RLP value that must take all of `raw`; if it does, it re-encodes to `raw`.
fn check_exact<T: Decodable + Encodable + std::fmt::Debug>(raw: &[u8]) -> Option<T> {
    let mut rest = raw;
    let value = T::decode(&mut rest).ok()?;
    if !rest.is_empty() {
        return None;
    }
    assert_eq!(alloy_rlp::encode(&value), raw, "{value:?} decoded from a non-canonical encoding");
    Some(value)
}

fn check_header(raw: &[u8]) {
    if let Ok(h) = decode_header_exact(raw) {
        assert_eq!(alloy_rlp::encode(&h), raw);
        // Whatever a peer sends, the seal checks answer without panicking.
        let _ = parse_extra(&h.extra_data);
        let _ = recover_sealer(&h);
    }
}

fn check_extra(raw: &[u8]) {
    if let Ok((extra, seal)) = parse_extra(raw) {
        let mut again = raw[..VANITY_LEN].to_vec();
        extra.encode(&mut again);
        again.extend_from_slice(&seal);
        assert_eq!(again, raw, "extraData has one encoding per content");
    }
}

fn check_signature(raw: &[u8]) {
    if let Ok(sig) = canonical_signature(raw) {
        assert_eq!(&sig.as_bytes()[..], raw);
        assert!(raw[64] == 27 || raw[64] == 28);
        assert!(sig.s() <= order() >> 1, "high s accepted");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_header_and_extra_decoders(
        raw in prop::collection::vec(any::<u8>(), 0..700),
    ) {
        check_header(&raw);
        check_extra(&raw);
        check_signature(&raw[..raw.len().min(SEAL_LEN)]);
        let _ = check_exact::<Vote>(&raw);
        let _ = check_exact::<FinalityProof>(&raw);
        let _ = check_exact::<ConsensusExtra>(&raw);
    }

    #[test]
    fn headers_decode_exactly_and_mutations_are_canonical_or_refused(
        h in header(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let raw = alloy_rlp::encode(&h);
        prop_assert_eq!(decode_header_exact(&raw).unwrap(), h);
        check_header(&mutate(raw, &edits));
    }

    #[test]
    fn extra_data_round_trips_and_mutations_are_canonical_or_refused(
        vanity in prop::collection::vec(any::<u8>(), 0..40),
        extra in consensus_extra(),
        seal in prop::collection::vec(any::<u8>(), SEAL_LEN),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut raw = unsealed_extra(&vanity, &extra).to_vec();
        raw.extend_from_slice(&seal);
        let (parsed, parsed_seal) = parse_extra(&raw).unwrap();
        prop_assert_eq!(parsed, extra);
        prop_assert_eq!(&parsed_seal[..], &seal[..]);
        check_extra(&mutate(raw, &edits));
    }

    #[test]
    fn votes_and_proofs_round_trip_and_mutations_are_canonical_or_refused(
        p in proof(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let vote = Vote {
            number: p.number,
            hash: p.hash,
            signature: p.signatures.first().cloned().unwrap_or_default(),
        };
        let raw_vote = alloy_rlp::encode(&vote);
        prop_assert_eq!(check_exact::<Vote>(&raw_vote), Some(vote));
        let _ = check_exact::<Vote>(&mutate(raw_vote, &edits));
        let raw_proof = alloy_rlp::encode(&p);
        prop_assert_eq!(check_exact::<FinalityProof>(&raw_proof), Some(p));
        let _ = check_exact::<FinalityProof>(&mutate(raw_proof, &edits));
    }

    #[test]
    fn signatures_are_accepted_in_their_canonical_form_only(
        raw in prop::collection::vec(any::<u8>(), SEAL_LEN),
        v in prop_oneof![Just(27u8), Just(28u8), any::<u8>()],
    ) {
        let mut raw = raw;
        raw[64] = v;
        check_signature(&raw);
    }
}

proptest! {
    // Each case signs a header (about 0.1 ms) and recovers several seals.
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Security review C1: one sealed content has exactly one accepted seal. Any other seal
    /// bytes either fail or recover someone else; the known malleable twins (other `v`
    /// encodings, `n − s`) always fail.
    #[test]
    fn a_sealed_header_has_exactly_one_accepted_seal(
        h in header(),
        vanity in prop::collection::vec(any::<u8>(), 0..32),
        extra in consensus_extra(),
        edits in prop::collection::vec((0usize..SEAL_LEN, 1u8..), 1..3),
    ) {
        let h = sealed(h, &vanity, &extra);
        let sealer = key().address();
        prop_assert_eq!(recover_sealer(&h).unwrap(), sealer);
        let raw = alloy_rlp::encode(&h);
        prop_assert_eq!(decode_header_exact(&raw).unwrap(), h.clone());
        let (_, seal) = parse_extra(&h.extra_data).unwrap();
        // Arbitrary edits of the seal.
        let mut edited = seal;
        for (i, x) in &edits {
            edited[*i] ^= x;
        }
        // Two edits of one byte can cancel out (CI drew `[(11, 29), (11, 29)]`).
        prop_assume!(edited != seal);
        prop_assert_ne!(recover_sealer(&with_seal(&h, &edited)).ok(), Some(sealer));
        // The malleable twins.
        let parity = seal[64] - 27;
        for v in [parity, 35 + parity, 37 + parity, 255] {
            let mut twin = seal;
            twin[64] = v;
            prop_assert!(recover_sealer(&with_seal(&h, &twin)).is_err(), "v = {}", v);
        }
        let s = U256::from_be_slice(&seal[32..64]);
        let mut twin = seal;
        twin[32..64].copy_from_slice(&(order() - s).to_be_bytes::<32>());
        twin[64] = 55 - seal[64]; // 27 <-> 28
        prop_assert!(recover_sealer(&with_seal(&h, &twin)).is_err(), "high s");
    }
}

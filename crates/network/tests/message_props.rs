//! Property tests of the sync protocol's messages as a peer sends them: `Request`, `Response`
//! and `Status` decoded from JSON bytes (what libp2p's JSON codec does with a peer's payload).
//!
//! Properties: nothing panics on any input; whatever decodes encodes back to a payload that
//! decodes to the same value; mutations of valid messages decode to a well-formed message or
//! are refused. `cargo +nightly fuzz` targets in `fuzz/` drive the same decoders with coverage
//! feedback.
#![allow(clippy::unwrap_used, missing_docs)]

use alloy_primitives::{B256, Bytes};
use dbc_network::{Request, Response, Status};
use proptest::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(raw: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(raw) {
        let again = serde_json::to_vec(&v).unwrap();
        assert_eq!(serde_json::from_slice::<T>(&again).unwrap(), v, "{v:?} does not round-trip");
    }
}

fn check_all(raw: &[u8]) {
    check::<Request>(raw);
    check::<Response>(raw);
    check::<Status>(raw);
}

fn status() -> impl Strategy<Value = Status> {
    (any::<[u8; 32]>(), any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(
        |(genesis, head, head_hash, finalized)| Status {
            genesis: B256::from(genesis),
            head,
            head_hash: B256::from(head_hash),
            finalized,
        },
    )
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Status),
        (any::<u64>(), any::<u32>()).prop_map(|(from, count)| Request::Headers { from, count }),
        prop::collection::vec(any::<[u8; 32]>(), 0..4)
            .prop_map(|h| Request::Bodies { hashes: h.into_iter().map(B256::from).collect() }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        status().prop_map(Response::Status),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4)
            .prop_map(|b| Response::Headers(b.into_iter().map(Bytes::from).collect())),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4)
            .prop_map(|b| Response::Bodies(b.into_iter().map(Bytes::from).collect())),
    ]
}

fn mutate(mut raw: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    // JSON-ish bytes make mutations reach deeper into the parser than random ones.
    const ALPHABET: &[u8] = b"{}[]\":,0123456789abcdefxX-+.eE \\nultrsfBSbo";
    for (kind, at, byte) in edits {
        let n = raw.len().max(1);
        let b = if byte % 2 == 0 { ALPHABET[usize::from(*byte) % ALPHABET.len()] } else { *byte };
        match kind % 4 {
            0 if !raw.is_empty() => raw[at % n] = b,
            1 => raw.insert(at % (raw.len() + 1), b),
            2 if !raw.is_empty() => {
                raw.remove(at % n);
            }
            _ => raw.truncate(at % n),
        }
    }
    raw
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_message_decoders(
        raw in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        check_all(&raw);
    }

    #[test]
    fn messages_round_trip_and_mutations_decode_cleanly_or_are_refused(
        req in request(),
        resp in response(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let raw = serde_json::to_vec(&req).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Request>(&raw).unwrap(), req);
        check_all(&mutate(raw, &edits));
        let raw = serde_json::to_vec(&resp).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Response>(&raw).unwrap(), resp);
        check_all(&mutate(raw, &edits));
    }
}

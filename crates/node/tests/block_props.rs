//! Property tests of block decoding as peers send blocks (gossip and sync): `decode_block` on
//! random bytes and on mutations of valid block encodings.
//!
//! Properties: nothing panics; a block that decodes re-encodes to exactly its input (one
//! accepted encoding per block); a valid block decodes to itself with its senders. The
//! `block_rlp` fuzz target in `fuzz/` drives the same alloy decoders with coverage feedback
//! (without this crate, which needs RocksDB).
#![allow(clippy::unwrap_used, missing_docs)]

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header, SignableTransaction, TxEip1559, TxLegacy,
    constants::EMPTY_WITHDRAWALS, proofs::calculate_transaction_root,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_node_lib::{decode_block, encode_block};
use dbc_primitives::{Block, Sealable, TxEnvelope};
use proptest::prelude::*;
use std::sync::OnceLock;

fn key() -> &'static PrivateKeySigner {
    static KEY: OnceLock<PrivateKeySigner> = OnceLock::new();
    KEY.get_or_init(PrivateKeySigner::random)
}

fn transaction(legacy: bool, nonce: u64, fee: u128, to: [u8; 20], input: Vec<u8>) -> TxEnvelope {
    let to = TxKind::Call(Address::from(to));
    if legacy {
        let tx = TxLegacy {
            chain_id: Some(19_888),
            nonce,
            gas_price: fee,
            gas_limit: 21_000,
            to,
            value: U256::from(nonce),
            input: input.into(),
        };
        let sig = key().sign_hash_sync(&tx.signature_hash()).unwrap();
        tx.into_signed(sig).into()
    } else {
        let tx = TxEip1559 {
            chain_id: 19_888,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: fee / 2,
            to,
            input: input.into(),
            ..Default::default()
        };
        let sig = key().sign_hash_sync(&tx.signature_hash()).unwrap();
        tx.into_signed(sig).into()
    }
}

fn block() -> impl Strategy<Value = Block> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<[u8; 32]>()),
        prop::collection::vec(any::<u8>(), 0..120),
        prop::collection::vec(
            (
                any::<bool>(),
                any::<u64>(),
                any::<u128>(),
                any::<[u8; 20]>(),
                prop::collection::vec(any::<u8>(), 0..40),
            ),
            0..4,
        ),
    )
        .prop_map(|((number, timestamp, base_fee, root), extra, txs)| {
            let transactions: Vec<TxEnvelope> = txs
                .into_iter()
                .map(|(legacy, nonce, fee, to, input)| transaction(legacy, nonce, fee, to, input))
                .collect();
            let header = Header {
                parent_hash: B256::from(root),
                ommers_hash: EMPTY_OMMER_ROOT_HASH,
                state_root: B256::from(root),
                transactions_root: calculate_transaction_root(&transactions),
                number,
                gas_limit: 30_000_000,
                timestamp,
                extra_data: Bytes::from(extra),
                base_fee_per_gas: Some(base_fee),
                withdrawals_root: Some(EMPTY_WITHDRAWALS),
                blob_gas_used: Some(0),
                excess_blob_gas: Some(0),
                parent_beacon_block_root: Some(B256::ZERO),
                ..Default::default()
            };
            let senders = vec![key().address(); transactions.len()];
            Block { header: header.seal_slow(), transactions, senders }
        })
}

fn mutate(mut raw: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    for (kind, at, byte) in edits {
        let n = raw.len().max(1);
        match kind % 5 {
            0 if !raw.is_empty() => raw[at % n] = *byte,
            1 if !raw.is_empty() => raw[at % n] ^= byte.max(&1),
            2 => raw.insert(at % (raw.len() + 1), *byte),
            3 if !raw.is_empty() => {
                raw.remove(at % n);
            }
            4 => raw.truncate(at % n),
            _ => raw.push(*byte),
        }
    }
    raw
}

fn check(raw: &[u8]) {
    if let Ok(b) = decode_block(raw) {
        assert_eq!(encode_block(&b), raw, "a block decoded from a non-canonical encoding");
        assert_eq!(b.senders.len(), b.transactions.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_block_decoding(
        raw in prop::collection::vec(any::<u8>(), 0..800),
    ) {
        check(&raw);
    }

    #[test]
    fn blocks_round_trip_and_mutations_are_canonical_or_refused(
        b in block(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let raw = encode_block(&b);
        let back = decode_block(&raw).unwrap();
        prop_assert_eq!(back.hash(), b.hash());
        prop_assert_eq!(&back.transactions, &b.transactions);
        prop_assert_eq!(&back.senders, &b.senders);
        check(&mutate(raw, &edits));
    }
}

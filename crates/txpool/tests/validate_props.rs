//! Property tests of transaction intake (`eth_sendRawTransaction`, gossip): `validate_raw` on
//! random bytes and on mutations of valid signed transactions of every type.
//!
//! Properties: nothing panics; a transaction that validates re-encodes to exactly the bytes it
//! came from (one accepted encoding per transaction); well-formed, funded transactions are
//! accepted; the pool takes whatever validates without panicking. `cargo +nightly fuzz`
//! targets in `fuzz/` drive the same decoder with coverage feedback.
#![allow(clippy::unwrap_used, missing_docs)]

use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxEnvelope, TxLegacy,
};
use alloy_eips::{
    eip2718::Encodable2718,
    eip2930::{AccessList, AccessListItem},
    eip7702::Authorization,
};
use alloy_primitives::{Address, B256, Bytes, Sealable, Signature, TxKind, U256, b256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_chainspec::ChainSpec;
use dbc_primitives::{Block, BlockHeader, StoredAccount};
use dbc_storage::{AccountChange, StateChangeset, Storage};
use dbc_txpool::{PoolConfig, TxPool, TxValidator};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

struct Fixture {
    validator: TxValidator,
    head: BlockHeader,
    chain_id: u64,
    base_fee: u128,
    /// Funded accounts.
    keys: Vec<PrivateKeySigner>,
    _dir: tempfile::TempDir,
}

/// A node's head state with two funded accounts (one with a balance near `U256::MAX`).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let spec = Arc::new(ChainSpec::dev(1).unwrap());
        let storage = Storage::open(dir.path()).unwrap();
        let keys: Vec<PrivateKeySigner> = (0..2).map(|_| PrivateKeySigner::random()).collect();
        let balances = [U256::from(10u128.pow(24)), U256::MAX >> 1];
        let accounts = keys
            .iter()
            .zip(balances)
            .map(|(k, balance)| AccountChange {
                address: k.address(),
                before: None,
                after: Some(StoredAccount { nonce: 3, balance, ..Default::default() }),
                wiped: false,
                storage: vec![],
            })
            .collect();
        let head = spec.genesis_header();
        let block =
            Block { header: head.clone().seal_slow(), transactions: vec![], senders: vec![] };
        let changes = StateChangeset { accounts, bytecodes: vec![] };
        storage.commit_block(&block, &[], &changes).unwrap();
        let base_fee = u128::from(
            head.next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
                .unwrap_or_default(),
        );
        Fixture {
            validator: TxValidator::new(spec.clone(), storage),
            head,
            chain_id: spec.chain_id,
            base_fee,
            keys,
            _dir: dir,
        }
    })
}

/// The fields a generated transaction is made of.
#[derive(Debug, Clone)]
struct Fields {
    kind: u8,
    key: usize,
    chain: u8,
    nonce: u64,
    gas: u64,
    fee: u128,
    tip: u128,
    create: bool,
    to: [u8; 20],
    value: U256,
    input: Vec<u8>,
    access: Vec<([u8; 20], Vec<[u8; 32]>)>,
    auths: Vec<(u64, [u8; 20], u64, Vec<u8>)>,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        (0u8..5, 0usize..3, 0u8..4, prop_oneof![Just(3u64), 0u64..6, any::<u64>()]),
        (
            prop_oneof![Just(21_000u64), 20_000u64..200_000, any::<u64>()],
            prop_oneof![Just(0u128), 1u128..1_000, any::<u128>()],
            prop_oneof![Just(0u128), 1u128..1_000, any::<u128>()],
        ),
        (
            any::<bool>(),
            any::<[u8; 20]>(),
            prop_oneof![Just(U256::ZERO), Just(U256::MAX), any::<u64>().prop_map(U256::from)],
            prop_oneof![Just(vec![]), prop::collection::vec(any::<u8>(), 0..80)],
        ),
        prop::collection::vec(
            (any::<[u8; 20]>(), prop::collection::vec(any::<[u8; 32]>(), 0..3)),
            0..3,
        ),
        prop::collection::vec(
            (0u64..3, any::<[u8; 20]>(), any::<u64>(), prop::collection::vec(any::<u8>(), 65)),
            0..3,
        ),
    )
        .prop_map(
            |(
                (kind, key, chain, nonce),
                (gas, fee, tip),
                (create, to, value, input),
                access,
                auths,
            )| {
                Fields {
                    kind,
                    key,
                    chain,
                    nonce,
                    gas,
                    fee,
                    tip,
                    create,
                    to,
                    value,
                    input,
                    access,
                    auths,
                }
            },
        )
}

/// Signs the transaction `f` describes with a funded key (or an unfunded one for `key == 2`).
fn build(f: &Fields) -> TxEnvelope {
    let fx = fixture();
    let chain_id = match f.chain {
        0 => 1,
        _ => fx.chain_id,
    };
    // Fees relative to the next base fee, so many are acceptable.
    let fee = fx.base_fee.saturating_add(f.fee);
    let tip = f.tip.min(fee);
    let to = Address::from(f.to);
    let kind = if f.create { TxKind::Create } else { TxKind::Call(to) };
    let input = Bytes::from(f.input.clone());
    let access = AccessList(
        f.access
            .iter()
            .map(|(a, keys)| AccessListItem {
                address: Address::from(*a),
                storage_keys: keys.iter().map(|k| B256::from(*k)).collect(),
            })
            .collect(),
    );
    let key = match fx.keys.get(f.key) {
        Some(k) => k.clone(),
        None => PrivateKeySigner::random(),
    };
    let sign = |hash: B256| key.sign_hash_sync(&hash).unwrap();
    match f.kind {
        0 => {
            let tx = TxLegacy {
                chain_id: (f.chain != 3).then_some(chain_id),
                nonce: f.nonce,
                gas_price: fee,
                gas_limit: f.gas,
                to: kind,
                value: f.value,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        1 => {
            let tx = TxEip2930 {
                chain_id,
                nonce: f.nonce,
                gas_price: fee,
                gas_limit: f.gas,
                to: kind,
                value: f.value,
                input,
                access_list: access,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        2 => {
            let tx = TxEip1559 {
                chain_id,
                nonce: f.nonce,
                gas_limit: f.gas,
                max_fee_per_gas: fee,
                max_priority_fee_per_gas: tip,
                to: kind,
                value: f.value,
                access_list: access,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        3 => {
            let tx = TxEip7702 {
                chain_id,
                nonce: f.nonce,
                gas_limit: f.gas,
                max_fee_per_gas: fee,
                max_priority_fee_per_gas: tip,
                to,
                value: f.value,
                access_list: access,
                authorization_list: f
                    .auths
                    .iter()
                    .map(|(chain, address, nonce, sig)| {
                        let sig = Signature::from_raw(sig)
                            .unwrap_or_else(|_| Signature::test_signature());
                        Authorization {
                            chain_id: U256::from(*chain),
                            address: Address::from(*address),
                            nonce: *nonce,
                        }
                        .into_signed(sig)
                    })
                    .collect(),
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        _ => {
            let tx = TxEip4844 {
                chain_id,
                nonce: f.nonce,
                gas_limit: f.gas,
                max_fee_per_gas: fee,
                max_priority_fee_per_gas: tip,
                to,
                value: f.value,
                access_list: access,
                blob_versioned_hashes: vec![b256!(
                    "0x0100000000000000000000000000000000000000000000000000000000000001"
                )],
                max_fee_per_blob_gas: 1,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
    }
}

/// Validates `raw`; what validates re-encodes to `raw` and goes into `pool` without panicking.
fn check(raw: &[u8], pool: &TxPool) -> bool {
    let fx = fixture();
    match fx.validator.validate_raw(raw, &fx.head) {
        Ok(valid) => {
            assert_eq!(valid.tx.inner().encoded_2718(), raw, "accepted a non-canonical encoding");
            assert_eq!(valid.size, raw.len());
            assert_eq!(*valid.tx.tx_hash(), alloy_primitives::keccak256(raw));
            let _ = pool.add_valid(valid);
            true
        }
        Err(e) => {
            // Every refusal has a message for the RPC caller.
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

/// One edit of an encoding.
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_intake(
        prefix in prop_oneof![Just(None), (0u8..6).prop_map(Some), any::<u8>().prop_map(Some)],
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let pool = TxPool::new(PoolConfig::default());
        let mut raw: Vec<u8> = prefix.into_iter().collect();
        raw.extend(body);
        check(&raw, &pool);
    }

    #[test]
    fn signed_transactions_of_every_type_validate_canonically(
        f in fields(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let pool = TxPool::new(PoolConfig::default());
        let raw = build(&f).encoded_2718();
        check(&raw, &pool);
        check(&mutate(raw, &edits), &pool);
    }

    #[test]
    fn plain_funded_transfers_are_accepted(
        kind in 0u8..3,
        key in 0usize..2,
        fee in 0u128..1_000,
        tip in 0u128..1_000,
        to in any::<[u8; 20]>(),
        value in 0u64..u64::MAX,
    ) {
        let f = Fields {
            kind, key, chain: 1, nonce: 3, gas: 21_000, fee, tip, create: false, to,
            value: U256::from(value), input: vec![], access: vec![], auths: vec![],
        };
        let pool = TxPool::new(PoolConfig::default());
        prop_assert!(check(&build(&f).encoded_2718(), &pool), "refused: {:?}", f);
        prop_assert_eq!(pool.status().pending, 1);
    }
}

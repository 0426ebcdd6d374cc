//! The checks each fuzz target runs on its input. Every function must not panic on any input;
//! a panic (an assertion below or in the code under test) is a crash libFuzzer reports.
//!
//! The properties are those of the property tests in the crates (`tests/*_props.rs`): what
//! decodes re-encodes to exactly its input, signatures are accepted in one form only, and the
//! precompiles end every call cleanly (see `crates/precompiles/tests/support/harness.rs`).
#![allow(missing_docs, clippy::unwrap_used)]

use alloy_consensus::transaction::SignerRecoverable;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::U256;
use alloy_rlp::{Decodable, Encodable};
use dbc_chainspec::ChainSpec;
use dbc_primitives::{BlockHeader, TxEnvelope, pos};
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use std::sync::OnceLock;

#[path = "../../crates/precompiles/tests/support/harness.rs"]
pub mod harness;

use harness::{Harness, Target};

fn chain() -> &'static (ChainSpec, BlockHeader) {
    static CHAIN: OnceLock<(ChainSpec, BlockHeader)> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let spec = ChainSpec::dev(1).unwrap();
        let head = spec.genesis_header();
        (spec, head)
    })
}

/// Inputs starting with an odd byte describe a valid value (signed with a fixed key) plus a
/// few edits of its encoding, so the fuzzer reaches past signature checks; the others are fed
/// to the decoder as they are.
fn structured(data: &[u8]) -> Option<Unstructured<'_>> {
    match data.split_first() {
        Some((first, rest)) if first & 1 == 1 => Some(Unstructured::new(rest)),
        _ => None,
    }
}

fn key() -> &'static alloy_signer_local::PrivateKeySigner {
    static KEY: OnceLock<alloy_signer_local::PrivateKeySigner> = OnceLock::new();
    KEY.get_or_init(|| {
        alloy_signer_local::PrivateKeySigner::from_bytes(&alloy_primitives::B256::repeat_byte(7))
            .unwrap()
    })
}

fn sign(hash: alloy_primitives::B256) -> alloy_primitives::Signature {
    use alloy_signer::SignerSync;
    key().sign_hash_sync(&hash).unwrap()
}

/// Up to three edits (set, insert, remove, truncate, append) of `raw`.
fn mutate(u: &mut Unstructured<'_>, mut raw: Vec<u8>) -> Vec<u8> {
    let edits = u.int_in_range(0u8..=3).unwrap_or(0);
    for _ in 0..edits {
        let (Ok(kind), Ok(at), Ok(byte)) =
            (u.arbitrary::<u8>(), u.arbitrary::<usize>(), u.arbitrary::<u8>())
        else {
            break;
        };
        let n = raw.len().max(1);
        match kind % 5 {
            0 if !raw.is_empty() => raw[at % n] = byte,
            1 => raw.insert(at % (raw.len() + 1), byte),
            2 if !raw.is_empty() => {
                raw.remove(at % n);
            }
            3 => raw.truncate(at % n),
            _ => raw.push(byte),
        }
    }
    raw
}

/// A signed transaction of any type with fields from the input.
fn arbitrary_tx(u: &mut Unstructured<'_>) -> ArbResult<TxEnvelope> {
    use alloy_consensus::{
        SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxLegacy,
    };
    use alloy_eips::{eip2930::AccessList, eip7702::Authorization};
    use alloy_primitives::{Address, B256, Bytes, TxKind};
    let chain_id = if u.ratio(1u8, 8)? { u.arbitrary()? } else { chain().0.chain_id };
    let nonce = u.arbitrary()?;
    let gas_limit = if u.arbitrary()? { 21_000 } else { u.arbitrary()? };
    let fee: u128 = if u.arbitrary()? { 10_000_000_000 } else { u.arbitrary()? };
    let tip = if u.arbitrary()? { 1 } else { u.arbitrary()? };
    let to: Address = Address::from(u.arbitrary::<[u8; 20]>()?);
    let kind = if u.ratio(1u8, 4)? { TxKind::Create } else { TxKind::Call(to) };
    let value = U256::from(u.arbitrary::<u128>()?);
    let input_len = u.int_in_range(0usize..=64)?;
    let input = Bytes::from(u.bytes(input_len)?.to_vec());
    let access_list = AccessList(
        (0..u.int_in_range(0u8..=2)?)
            .map(|_| -> ArbResult<_> {
                Ok(alloy_eips::eip2930::AccessListItem {
                    address: Address::from(u.arbitrary::<[u8; 20]>()?),
                    storage_keys: (0..u.int_in_range(0u8..=2)?)
                        .map(|_| Ok(B256::from(u.arbitrary::<[u8; 32]>()?)))
                        .collect::<ArbResult<_>>()?,
                })
            })
            .collect::<ArbResult<_>>()?,
    );
    Ok(match u.int_in_range(0u8..=4)? {
        0 => {
            let tx = TxLegacy {
                chain_id: if u.ratio(1u8, 8)? { None } else { Some(chain_id) },
                nonce,
                gas_price: fee,
                gas_limit,
                to: kind,
                value,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        1 => {
            let tx = TxEip2930 {
                chain_id,
                nonce,
                gas_price: fee,
                gas_limit,
                to: kind,
                value,
                input,
                access_list,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        2 => {
            let tx = TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: fee,
                max_priority_fee_per_gas: tip,
                to: kind,
                value,
                access_list,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        3 => {
            let authorization_list = (0..u.int_in_range(0u8..=2)?)
                .map(|_| -> ArbResult<_> {
                    let auth = Authorization {
                        chain_id: U256::from(u.arbitrary::<u64>()?),
                        address: Address::from(u.arbitrary::<[u8; 20]>()?),
                        nonce: u.arbitrary()?,
                    };
                    let sig = sign(auth.signature_hash());
                    Ok(auth.into_signed(sig))
                })
                .collect::<ArbResult<_>>()?;
            let tx = TxEip7702 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: fee,
                max_priority_fee_per_gas: tip,
                to,
                value,
                access_list,
                authorization_list,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
        _ => {
            let tx = TxEip4844 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: fee,
                max_priority_fee_per_gas: tip,
                to,
                value,
                access_list,
                blob_versioned_hashes: vec![B256::from(u.arbitrary::<[u8; 32]>()?)],
                max_fee_per_blob_gas: u.arbitrary()?,
                input,
            };
            let sig = sign(tx.signature_hash());
            tx.into_signed(sig).into()
        }
    })
}

/// `eth_sendRawTransaction` and transaction gossip: strict EIP-2718 decoding, then the checks
/// that need no state (`TxValidator` runs them before it reads the sender's account).
pub fn tx_intake(data: &[u8]) {
    if let Some(mut u) = structured(data) {
        let Ok(tx) = arbitrary_tx(&mut u) else { return };
        let raw = tx.encoded_2718();
        assert_eq!(dbc_txpool::decode_raw(&raw).ok().as_ref(), Some(&tx), "a valid encoding");
        let raw = mutate(&mut u, raw);
        return check_tx(&raw);
    }
    check_tx(data);
}

fn check_tx(data: &[u8]) {
    let Ok(tx) = dbc_txpool::decode_raw(data) else { return };
    assert_eq!(tx.encoded_2718(), data, "a transaction decoded from a non-canonical encoding");
    let (spec, head) = chain();
    if let Ok(sender) = dbc_txpool::check_stateless(spec, &tx, head) {
        assert_eq!(tx.recover_signer().ok(), Some(sender));
    }
}

/// Blocks from peers: the rules of the node's `decode_raw_block` (whole input, no ommers, an
/// empty withdrawals list, no blob transactions, canonical encoding), then sender recovery.
/// The node's own function is covered by `crates/node/tests/block_props.rs` (the node crate
/// needs RocksDB, which this crate avoids).
pub fn block_rlp(data: &[u8]) {
    if let Some(mut u) = structured(data) {
        let mut transactions = Vec::new();
        for _ in 0..u.int_in_range(0u8..=3).unwrap_or(0) {
            let Ok(tx) = arbitrary_tx(&mut u) else { break };
            transactions.push(tx);
        }
        let Ok(header) = arbitrary_header(&mut u) else { return };
        let block = alloy_consensus::Block {
            header,
            body: alloy_consensus::BlockBody {
                transactions,
                ommers: vec![],
                withdrawals: Some(Default::default()),
            },
        };
        let raw = mutate(&mut u, alloy_rlp::encode(&block));
        return check_block(&raw);
    }
    check_block(data);
}

fn check_block(data: &[u8]) {
    let mut rest = data;
    let Ok(block) = alloy_consensus::Block::<TxEnvelope>::decode(&mut rest) else { return };
    if !rest.is_empty() {
        return;
    }
    let canonical = alloy_rlp::encode(&block) == data;
    let _ = block.header.hash_slow();
    for tx in &block.body.transactions {
        let _ = tx.recover_signer();
        let _ = tx.encoded_2718();
    }
    if canonical {
        let mut again = data;
        let twice = alloy_consensus::Block::<TxEnvelope>::decode(&mut again).unwrap();
        assert_eq!(twice, block);
    }
}

/// A header with fields from the input; its optional fields are set in order, without gaps.
fn arbitrary_header(u: &mut Unstructured<'_>) -> ArbResult<alloy_consensus::Header> {
    use alloy_primitives::B256;
    let root = |u: &mut Unstructured<'_>| -> ArbResult<B256> {
        Ok(if u.arbitrary()? { B256::ZERO } else { B256::from(u.arbitrary::<[u8; 32]>()?) })
    };
    let mut h = alloy_consensus::Header {
        parent_hash: root(u)?,
        ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
        beneficiary: alloy_primitives::Address::from(u.arbitrary::<[u8; 20]>()?),
        state_root: root(u)?,
        transactions_root: root(u)?,
        receipts_root: root(u)?,
        number: u.arbitrary()?,
        gas_limit: u.arbitrary()?,
        gas_used: u.arbitrary()?,
        timestamp: u.arbitrary()?,
        difficulty: U256::from(u.int_in_range(0u8..=2)?),
        ..Default::default()
    };
    let optional = u.int_in_range(0u8..=6)?;
    if optional > 0 {
        h.base_fee_per_gas = Some(u.arbitrary()?);
    }
    if optional > 1 {
        h.withdrawals_root = Some(alloy_consensus::constants::EMPTY_WITHDRAWALS);
    }
    if optional > 2 {
        h.blob_gas_used = Some(u.arbitrary()?);
    }
    if optional > 3 {
        h.excess_blob_gas = Some(u.arbitrary()?);
    }
    if optional > 4 {
        h.parent_beacon_block_root = Some(root(u)?);
    }
    if optional > 5 {
        h.requests_hash = Some(root(u)?);
    }
    // Sealed like a proposer seals, with a finality proof some of the time.
    let mut extra = pos::ConsensusExtra::default();
    if u.arbitrary()? {
        let signatures = (0..u.int_in_range(0u8..=3)?)
            .map(|_| Ok(u.bytes(65)?.to_vec().into()))
            .collect::<ArbResult<_>>()?;
        extra.finality.push(pos::FinalityProof {
            number: u.arbitrary()?,
            hash: root(u)?,
            signatures,
        });
    }
    if u.arbitrary()? {
        extra.randao = u.bytes(97)?.to_vec().into();
    }
    let vanity_len = u.int_in_range(0usize..=32)?;
    h.extra_data = pos::unsealed_extra(u.bytes(vanity_len)?, &extra);
    let seal = sign(pos::seal_hash(&h, false));
    Ok(pos::apply_seal(h, &seal))
}

/// Headers from peers and double-sign evidence: strict decoding, `extraData`, seal recovery.
pub fn header(data: &[u8]) {
    if let Some(mut u) = structured(data) {
        let Ok(h) = arbitrary_header(&mut u) else { return };
        let raw = alloy_rlp::encode(&h);
        assert_eq!(pos::decode_header_exact(&raw).ok().as_ref(), Some(&h));
        assert_eq!(pos::recover_sealer(&h).ok(), Some(key().address()), "a canonical seal");
        let raw = mutate(&mut u, raw);
        return check_header(&raw);
    }
    check_header(data);
}

fn check_header(data: &[u8]) {
    let Ok(h) = pos::decode_header_exact(data) else { return };
    assert_eq!(alloy_rlp::encode(&h), data);
    if let Ok((extra, seal)) = pos::parse_extra(&h.extra_data) {
        let mut again = h.extra_data[..pos::VANITY_LEN].to_vec();
        extra.encode(&mut again);
        again.extend_from_slice(&seal);
        assert_eq!(again, h.extra_data.to_vec());
    }
    if pos::recover_sealer(&h).is_ok() {
        let (_, seal) = pos::parse_extra(&h.extra_data).unwrap();
        assert!(pos::canonical_signature(&seal).is_ok());
    }
}

fn exact<T: Decodable + Encodable + std::fmt::Debug>(data: &[u8]) {
    let mut rest = data;
    if let Ok(v) = T::decode(&mut rest)
        && rest.is_empty()
    {
        assert_eq!(alloy_rlp::encode(&v), data, "{v:?} decoded from a non-canonical encoding");
    }
}

/// Votes, finality proofs, `extraData` and signatures.
pub fn consensus_rlp(data: &[u8]) {
    exact::<pos::Vote>(data);
    exact::<pos::FinalityProof>(data);
    exact::<pos::ConsensusExtra>(data);
    if let Ok((extra, seal)) = pos::parse_extra(data) {
        let mut again = data[..pos::VANITY_LEN].to_vec();
        extra.encode(&mut again);
        again.extend_from_slice(&seal);
        assert_eq!(again, data);
    }
    if data.len() >= pos::SEAL_LEN {
        let sig = &data[..pos::SEAL_LEN];
        if let Ok(s) = pos::canonical_signature(sig) {
            assert_eq!(&s.as_bytes()[..], sig);
            let _ = pos::recover_voter(1, 2, alloy_primitives::B256::ZERO, sig);
        }
    }
}

fn json<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    data: &[u8],
) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let again = serde_json::to_vec(&v).unwrap();
        assert_eq!(serde_json::from_slice::<T>(&again).unwrap(), v, "{v:?} does not round-trip");
    }
}

/// The sync protocol's messages (libp2p's JSON codec).
pub fn net_messages(data: &[u8]) {
    json::<dbc_network::Request>(data);
    json::<dbc_network::Response>(data);
    json::<dbc_network::Status>(data);
}

/// JSON-RPC parameters: the types the `eth_` methods take, from one JSON value each.
pub fn rpc_params(data: &[u8]) {
    use alloy_rpc_types_eth::{
        BlockId, BlockNumberOrTag, Filter, TransactionRequest, state::StateOverride,
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = serde_json::from_value::<TransactionRequest>(value.clone());
    let _ = serde_json::from_value::<Filter>(value.clone());
    let _ = serde_json::from_value::<BlockId>(value.clone());
    let _ = serde_json::from_value::<BlockNumberOrTag>(value.clone());
    let _ = serde_json::from_value::<StateOverride>(value.clone());
    let _ = serde_json::from_value::<(TransactionRequest, Option<BlockId>)>(value.clone());
    let _ = serde_json::from_value::<(alloy_primitives::Bytes,)>(value.clone());
    let _ = serde_json::from_value::<(BlockNumberOrTag, bool)>(value);
}

/// One step of a precompile scenario, drawn from the input.
fn step(u: &mut Unstructured<'_>, h: &mut Harness, focus: Target) -> ArbResult<()> {
    match u.int_in_range(0u8..=15)? {
        0..=11 => {
            let selector: u16 = u.arbitrary()?;
            let n = u.int_in_range(0usize..=12)?;
            let mut words = Vec::with_capacity(n);
            for _ in 0..n {
                words.push((u.arbitrary::<u8>()?, u.arbitrary::<u64>()?));
            }
            let tail_len = u.int_in_range(0usize..=8)?;
            let tail = u.bytes(tail_len)?.to_vec();
            let data = harness::calldata(focus, selector, &words, &tail);
            let value = harness::value(u.arbitrary()?, u.arbitrary()?);
            let flags: u8 = if u.ratio(1u8, 6)? { u.arbitrary()? } else { 0 };
            let gas = if flags & 4 != 0 { u.int_in_range(0u64..=100_000)? } else { 30_000_000 };
            let from = harness::caller(u.arbitrary()?);
            h.call(focus, from, value, &data, flags & 1 != 0, flags & 2 == 0, gas);
        }
        12 => {
            let len = u.int_in_range(0usize..=200)?;
            let data = u.bytes(len)?.to_vec();
            let from = harness::caller(u.arbitrary()?);
            h.call(focus, from, U256::ZERO, &data, false, true, 30_000_000);
        }
        _ => h.next_block(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?),
    }
    Ok(())
}

/// A scenario of calls to one precompile (the input decides the calls), with blocks between.
pub fn precompile(data: &[u8], focus: Target) {
    let mut u = Unstructured::new(data);
    let mut h = Harness::new();
    for _ in 0..64 {
        if u.is_empty() || step(&mut u, &mut h, focus).is_err() {
            break;
        }
    }
}

/// Double-sign evidence: two byte strings as `submitDoubleSign(headerA, headerB)`, after a
/// few staking calls and blocks.
pub fn evidence(data: &[u8]) {
    use alloy_sol_types::SolCall;
    let mut u = Unstructured::new(data);
    let mut h = Harness::new();
    let setup = u.int_in_range(0u8..=4).unwrap_or(0);
    for _ in 0..setup {
        if step(&mut u, &mut h, Target::Staking).is_err() {
            return;
        }
    }
    let Ok(split) = u.arbitrary_len::<u8>() else { return };
    let Ok(a) = u.bytes(split) else { return };
    let a = a.to_vec();
    let b = u.take_rest().to_vec();
    let call = dbc_precompiles::abi::IStaking::submitDoubleSignCall {
        headerA: a.clone().into(),
        headerB: b.into(),
    };
    let from = harness::caller(a.first().copied().unwrap_or(0));
    h.call(Target::Staking, from, U256::ZERO, &call.abi_encode(), false, true, 30_000_000);
}

/// A governance parameter record (`proposeParams`' `params`, and what the loader reads back
/// from state): decoding never panics, only canonical bytes decode (decoding then encoding
/// gives the same bytes), and the check a change goes through never panics either.
pub fn params_record(data: &[u8]) {
    use dbc_chainspec::{DbcParams, ParamsTarget};
    let Some((&t, record)) = data.split_first() else { return };
    let target = [ParamsTarget::Market, ParamsTarget::Staking, ParamsTarget::Governance]
        [usize::from(t % 3)];
    let base = DbcParams::default();
    if let Ok(p) = dbc_precompiles::params::decode(&base, target, record) {
        assert_eq!(dbc_precompiles::params::encode(&p, target), record, "{target:?}");
        let _ = base.check_change(&p, target);
    }
}

//! `eth_getProof` at earlier blocks: the stored head's trie moved back over the blocks since
//! (never a rebuild of the whole state), the same answer as a proof built from a full listing
//! of the block's state, and refused past the proof window or the budget of changes (M4).

use super::TestChain;
use crate::{EthApiServer, RpcLimits};
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::JsonStorageKey;
use dbc_storage::Storage;
use dbc_trie::{AccountLeaf, proof};

/// Init code of a contract that stores calldata word 1 at the slot in calldata word 0.
fn store_contract() -> Bytes {
    // Runtime: PUSH1 0x20 CALLDATALOAD PUSH1 0 CALLDATALOAD SSTORE STOP.
    let runtime = [0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00];
    // PUSH8 runtime, PUSH1 0, MSTORE, then RETURN memory[24..32].
    let mut code = vec![0x67];
    code.extend(runtime);
    code.extend([0x60, 0x00, 0x52, 0x60, 0x08, 0x60, 0x18, 0xf3]);
    code.into()
}

fn store(t: &mut TestChain, contract: Address, slot: u64, value: u64) {
    let mut input = B256::from(U256::from(slot)).to_vec();
    input.extend_from_slice(B256::from(U256::from(value)).as_slice());
    let tx = t.tx(TxKind::Call(contract), input.into());
    t.commit(vec![tx]);
}

/// The proof as built from a full listing of block `number`'s state (linear in the state:
/// how the RPC answered before, kept here as the oracle).
fn listed(
    storage: &Storage,
    number: u64,
    address: Address,
    keys: &[JsonStorageKey],
) -> EIP1186AccountProofResponse {
    let state = storage.full_state_at(number).unwrap();
    let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
    let own: Vec<(U256, U256)> = state
        .get(&address)
        .map(|(_, st)| st.iter().map(|(k, v)| (U256::from_be_bytes(k.0), *v)).collect())
        .unwrap_or_default();
    let (_, storage_proofs) = proof::storage_proofs(&own, &slots);
    let accounts = state.iter().map(|(a, (acc, st))| {
        let st: Vec<(U256, U256)> =
            st.iter().map(|(k, v)| (U256::from_be_bytes(k.0), *v)).collect();
        let leaf = AccountLeaf { nonce: acc.nonce, balance: acc.balance, code_hash: acc.code_hash };
        (*a, leaf, proof::storage_root(&st))
    });
    let (root, account_proof) = proof::account_proof(accounts, address);
    assert_eq!(root, storage.header(number).unwrap().unwrap().state_root);
    let account = state.get(&address).map(|(a, _)| *a).unwrap_or_default();
    let value = |slot: &B256| {
        state.get(&address).and_then(|(_, st)| st.get(slot).copied()).unwrap_or_default()
    };
    EIP1186AccountProofResponse {
        address,
        balance: account.balance,
        code_hash: if account.code_hash.is_zero() {
            dbc_primitives::KECCAK_EMPTY
        } else {
            account.code_hash
        },
        nonce: account.nonce,
        storage_hash: proof::storage_root(&own),
        account_proof,
        storage_proof: keys
            .iter()
            .zip(storage_proofs)
            .map(|(key, proof)| EIP1186StorageProof {
                key: *key,
                value: value(&key.as_b256()),
                // An empty storage trie's proof is empty (the builder gives the empty node).
                proof: if own.is_empty() { Vec::new() } else { proof },
            })
            .collect(),
    }
}

fn keys() -> Vec<JsonStorageKey> {
    [0u64, 1, 2, 3, 99].map(|s| JsonStorageKey::from(B256::from(U256::from(s)))).to_vec()
}

/// A chain whose blocks change a contract's storage (set, overwrite, clear), the sender and
/// the fee recipient; the contract's address.
fn chain() -> (TestChain, Address) {
    let mut t = TestChain::new();
    let contract = t.key.address().create(t.nonce);
    let deploy = t.tx(TxKind::Create, store_contract());
    t.commit(vec![deploy]);
    for (slot, value) in [(0, 5), (1, 7), (0, 6), (2, 9), (1, 0), (3, 1), (2, 0), (0, 0)] {
        store(&mut t, contract, slot, value);
    }
    (t, contract)
}

fn assert_every_block_proves_as_listed(t: &TestChain, contract: Address) {
    let head = t.head().number;
    let accounts = [contract, t.key.address(), Address::ZERO, Address::repeat_byte(0xee)];
    for number in 0..=head {
        for address in accounts {
            let got = EthApiServer::proof(&t.ctx, address, keys(), Some(BlockId::number(number)))
                .unwrap();
            assert_eq!(got, listed(&t.storage, number, address, &keys()), "{address} at {number}");
        }
    }
}

#[test]
fn m4_proofs_at_earlier_blocks_match_a_full_listing_of_their_state() {
    let (mut t, contract) = chain();
    assert_every_block_proves_as_listed(&t, contract);
    let values = |t: &TestChain, n: u64| -> Vec<u64> {
        let p = EthApiServer::proof(&t.ctx, contract, keys(), Some(BlockId::number(n))).unwrap();
        p.storage_proof.iter().map(|s| s.value.to::<u64>()).collect()
    };
    // The contract's slots 0, 1, 2, 3 and 99 as the blocks left them.
    assert_eq!(values(&t, 4), [6, 7, 0, 0, 0]);
    assert_eq!(values(&t, 9), [0, 0, 0, 1, 0]);
    // After a reorg: blocks 8 and 9 unwound, three others committed in their place.
    t.unwind();
    t.unwind();
    t.time_shift = 1;
    store(&mut t, contract, 4, 8);
    store(&mut t, contract, 1, 3);
    store(&mut t, contract, 4, 0);
    assert_every_block_proves_as_listed(&t, contract);
    assert_eq!(values(&t, 7), [6, 0, 9, 1, 0]);
    assert_eq!(values(&t, 9), [6, 3, 9, 1, 0]);
    assert_eq!(values(&t, 4), [6, 7, 0, 0, 0]);
}

#[test]
fn m4_proofs_past_the_window_or_the_budget_of_changes_are_refused() {
    let (t, contract) = chain();
    let head = t.head().number;
    let ctx = t.ctx.clone().with_limits(RpcLimits { eth_proof_window: 3, ..Default::default() });
    let at = |ctx: &crate::RpcContext, n: u64| {
        EthApiServer::proof(ctx, contract, keys(), Some(BlockId::number(n)))
    };
    assert_eq!(at(&ctx, head - 3).unwrap(), listed(&t.storage, head - 3, contract, &keys()));
    // reth's code and message.
    let err = at(&ctx, head - 4).unwrap_err();
    assert_eq!(err.code(), -32602);
    assert_eq!(err.message(), "distance to target block exceeds maximum proof window");
    // Each block changes at least the sender, the fee recipient and a slot.
    let ctx = t.ctx.clone().with_limits(RpcLimits { max_proof_reverts: 8, ..Default::default() });
    assert!(at(&ctx, head - 1).is_ok());
    let err = at(&ctx, head - 4).unwrap_err();
    assert_eq!(err.code(), -32000);
    assert!(err.message().starts_with("too many state changes since block"), "{}", err.message());
    // A walk past the request's deadline stops.
    let ctx = t.ctx.clone().with_limits(RpcLimits {
        request_timeout: std::time::Duration::ZERO,
        ..Default::default()
    });
    assert_eq!(at(&ctx, head - 1).unwrap_err().code(), -32002);
    // The head needs no change undone.
    let ctx = t.ctx.clone().with_limits(RpcLimits {
        eth_proof_window: 0,
        max_proof_reverts: 0,
        ..Default::default()
    });
    assert_eq!(at(&ctx, head).unwrap(), listed(&t.storage, head, contract, &keys()));
}

/// A proof at an earlier block moves its trie on a pool of its own: with every thread of
/// rayon's global pool (where block import runs its trie work) held, it still ends. On the
/// global pool its parallel updates would wait for those threads.
#[test]
fn m4_a_proof_never_waits_for_the_global_pool_that_import_uses() {
    use std::sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    };
    use std::time::Duration;
    let (t, contract) = chain();
    let head = t.head().number;
    let held = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let threads = rayon::current_num_threads();
    for _ in 0..threads {
        let (held, gate) = (held.clone(), gate.clone());
        rayon::spawn(move || {
            held.fetch_add(1, Ordering::SeqCst);
            let (open, cv) = &*gate;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
        });
    }
    let release = || {
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    };
    let waited = std::time::Instant::now();
    while held.load(Ordering::SeqCst) < threads {
        if waited.elapsed() > Duration::from_secs(30) {
            release();
            panic!("the global pool's threads were not all taken");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (tx, rx) = mpsc::channel();
    let ctx = t.ctx.clone();
    std::thread::spawn(move || {
        let proof = EthApiServer::proof(&ctx, contract, keys(), Some(BlockId::number(head - 3)));
        let _ = tx.send(proof.map(|p| p.storage_proof.len()));
    });
    let proved = rx.recv_timeout(Duration::from_secs(20));
    release();
    assert_eq!(proved, Ok(Ok(5)), "the proof waited for the global pool");
}

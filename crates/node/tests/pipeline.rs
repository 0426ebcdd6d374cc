//! The block pipeline without RPC: build blocks from signed transactions, commit them, and check
//! the incremental state root against a full recompute of the stored state.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy};
use alloy_eips::{
    eip2930::{AccessList, AccessListItem},
    eip7702::Authorization,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_chainspec::{ChainSpec, dev_signers};
use dbc_evm::{BlockAttributes, TxList, build_block};
use dbc_node_lib::{init_genesis, open_trie, rebuild_trie};
use dbc_primitives::Recovered;
use dbc_storage::{StateReader, Storage};
use dbc_trie::{AccountLeaf, full_state_root};

fn full_root(storage: &Storage) -> alloy_primitives::B256 {
    let mut accounts = Vec::new();
    storage
        .for_each_account(|address, account, slots| {
            let leaf = AccountLeaf {
                nonce: account.nonce,
                balance: account.balance,
                code_hash: account.code_hash,
            };
            let slots = slots.into_iter().map(|(k, v)| (U256::from_be_bytes(k.0), v)).collect();
            accounts.push((address, leaf, slots));
        })
        .expect("iterate");
    full_state_root(accounts)
}

fn eip1559(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: u64,
    input: Bytes,
    gas: u64,
) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 50_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        input,
        ..Default::default()
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Recovered::new_unchecked(TxEnvelope::Eip1559(tx.into_signed(sig)), key.address())
}

/// Builds the block after `parent` from exactly `txs`, six seconds later, paying `beneficiary`.
fn build_next(
    spec: &ChainSpec,
    parent: &dbc_primitives::SealedHeader,
    storage: &Storage,
    txs: Vec<Recovered<TxEnvelope>>,
    trie: &mut dbc_trie::StateTrie,
    beneficiary: Address,
) -> dbc_evm::ExecutedBlock {
    let attrs = BlockAttributes {
        timestamp: parent.timestamp + 6,
        beneficiary,
        extra_data: Bytes::new(),
        gas_limit: spec.genesis.gas_limit,
        staking_hook: None,
        prev_randao: None,
    };
    build_block(spec, parent, storage.latest(), attrs, &mut TxList::new(txs), trie).expect("build")
}

/// Commits `executed` with the trie's node writes in its batch, as the node does.
fn commit_with_trie(
    storage: &Storage,
    executed: &dbc_evm::ExecutedBlock,
    trie: &mut dbc_trie::StateTrie,
) {
    let updates = trie.take_updates();
    storage
        .commit_executed(
            &executed.block,
            &executed.receipts,
            &executed.hook_logs,
            &executed.changes,
            Some(&updates),
        )
        .expect("commit");
}

#[test]
fn blocks_commit_with_roots_equal_to_full_recompute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ChainSpec::dev(10).expect("spec");
    let storage = Storage::open(dir.path()).expect("open");
    init_genesis(&storage, &spec).expect("genesis");
    let mut trie = rebuild_trie(&storage).expect("trie");
    let keys = dev_signers(4).expect("keys");
    let chain_id = spec.chain_id;
    let mut parent = storage.header(0).expect("read").expect("genesis");
    assert_eq!(trie.root(), parent.state_root);
    assert_eq!(full_root(&storage), parent.state_root);

    // init code: SSTORE(0, 5); SSTORE(1, CALLVALUE); return empty runtime code.
    let init: Bytes = "0x600560005534600155".parse().expect("hex");
    let mut nonces = [0u64; 4];
    for round in 0..6u64 {
        let mut txs = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            // Fresh recipients, away from the precompile addresses.
            let to = Address::left_padding_from(&[0xaa, (round * 4 + i as u64) as u8]);
            txs.push(eip1559(
                key,
                chain_id,
                nonces[i],
                TxKind::Call(to),
                1_000 + round,
                Bytes::new(),
                21_000,
            ));
            nonces[i] += 1;
        }
        // A contract creation with storage.
        txs.push(eip1559(&keys[0], chain_id, nonces[0], TxKind::Create, 7, init.clone(), 200_000));
        nonces[0] += 1;
        // A legacy (EIP-155) transfer.
        let legacy = TxLegacy {
            chain_id: Some(chain_id),
            nonce: nonces[1],
            gas_price: 10_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(keys[2].address()),
            value: U256::from(5),
            input: Bytes::new(),
        };
        let sig = keys[1].sign_hash_sync(&legacy.signature_hash()).expect("sign");
        txs.push(Recovered::new_unchecked(
            TxEnvelope::Legacy(legacy.into_signed(sig)),
            keys[1].address(),
        ));
        nonces[1] += 1;
        // A replayed nonce is rejected; a gapped nonce is skipped and kept for later.
        txs.push(eip1559(
            &keys[3],
            chain_id,
            0,
            TxKind::Call(Address::ZERO),
            1,
            Bytes::new(),
            21_000,
        ));
        txs.push(eip1559(
            &keys[2],
            chain_id,
            nonces[2] + 5,
            TxKind::Call(Address::ZERO),
            1,
            Bytes::new(),
            21_000,
        ));

        let executed =
            build_next(&spec, &parent, &storage, txs, &mut trie, Address::with_last_byte(0xfe));
        assert_eq!(executed.block.transactions.len(), 6, "round {round}");
        // Only the replay is dropped; the gapped transaction waits.
        assert_eq!(executed.rejected.len(), 1, "round {round}: {:?}", executed.rejected);
        assert!(executed.rejected[0].reason.contains("too low"), "{:?}", executed.rejected);
        let statuses: Vec<bool> = executed.receipts.iter().map(|r| r.status()).collect();
        assert!(statuses.iter().all(|s| *s), "round {round}: {statuses:?}");
        let last = executed.receipts.last().expect("receipt");
        assert_eq!(last.cumulative_gas_used(), executed.block.header.gas_used);
        storage
            .commit_block(&executed.block, &executed.receipts, &executed.changes)
            .expect("commit");
        parent = executed.block.header;
        assert_eq!(full_root(&storage), parent.state_root, "round {round}");
        assert_eq!(trie.root(), parent.state_root);
    }
    // An EIP-2930 transaction and an EIP-7702 delegation in one more block.
    let delegate = keys[0].address().create(1);
    let authority = &keys[3];
    let auth_nonce =
        storage.latest().account(authority.address()).expect("read").expect("acct").nonce;
    let auth =
        Authorization { chain_id: U256::from(chain_id), address: delegate, nonce: auth_nonce };
    let auth_sig = authority.sign_hash_sync(&auth.signature_hash()).expect("sign");
    let tx7702 = TxEip7702 {
        chain_id,
        nonce: nonces[2],
        gas_limit: 100_000,
        max_fee_per_gas: 50_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::with_last_byte(0xaa),
        value: U256::ZERO,
        access_list: Default::default(),
        authorization_list: vec![auth.into_signed(auth_sig)],
        input: Bytes::new(),
    };
    let sig = keys[2].sign_hash_sync(&tx7702.signature_hash()).expect("sign");
    let tx2930 = TxEip2930 {
        chain_id,
        nonce: nonces[1],
        gas_price: 10_000_000_000,
        gas_limit: 50_000,
        to: TxKind::Call(delegate),
        value: U256::ZERO,
        access_list: AccessList(vec![AccessListItem {
            address: delegate,
            storage_keys: vec![B256::ZERO],
        }]),
        input: Bytes::new(),
    };
    let sig2930 = keys[1].sign_hash_sync(&tx2930.signature_hash()).expect("sign");
    let txs = vec![
        Recovered::new_unchecked(
            TxEnvelope::Eip2930(tx2930.into_signed(sig2930)),
            keys[1].address(),
        ),
        Recovered::new_unchecked(TxEnvelope::Eip7702(tx7702.into_signed(sig)), keys[2].address()),
    ];
    let executed = build_next(&spec, &parent, &storage, txs, &mut trie, Address::ZERO);
    assert_eq!(executed.block.transactions.len(), 2, "{:?}", executed.rejected);
    assert!(executed.receipts.iter().all(|r| r.status()));
    storage.commit_block(&executed.block, &executed.receipts, &executed.changes).expect("commit");
    parent = executed.block.header;
    assert_eq!(full_root(&storage), parent.state_root);
    let delegated = storage.latest().account(authority.address()).expect("read").expect("acct");
    let code = storage.code(delegated.code_hash).expect("read").expect("code");
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
    assert_eq!(&code[3..], delegate.as_slice());
    assert_eq!(delegated.nonce, auth_nonce + 1);

    // The created contracts hold their storage; history reads see earlier values.
    let creator = keys[0].address();
    let contract = creator.create(1);
    let latest = storage.latest();
    assert_eq!(latest.storage(contract, U256::from(0).into()).expect("read"), U256::from(5));
    assert_eq!(latest.storage(contract, U256::from(1).into()).expect("read"), U256::from(7));
    let at_genesis = storage.state_at(0);
    assert_eq!(at_genesis.account(contract).expect("read"), None);
    let balance_then = storage.state_at(1).account(keys[3].address()).expect("read").expect("acct");
    let balance_now = latest.account(keys[3].address()).expect("read").expect("acct");
    assert!(balance_now.balance < balance_then.balance);
    // A restart rebuilds the same trie.
    let mut rebuilt = rebuild_trie(&storage).expect("rebuild");
    assert_eq!(rebuilt.root(), parent.state_root);
}

/// The stored trie follows the head when each block's batch carries the trie's updates; a
/// start finds it caught up (opened, not rebuilt) or behind (rebuilt from the plain state and
/// stored), and blocks built on an opened trie have the full recompute's roots.
#[test]
fn the_stored_trie_is_opened_when_current_and_rebuilt_when_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ChainSpec::dev(10).expect("spec");
    let storage = Storage::open(dir.path()).expect("open");
    init_genesis(&storage, &spec).expect("genesis");
    let genesis = storage.header(0).expect("read").expect("genesis");
    assert_eq!(storage.trie_root().expect("read"), None, "the genesis is written without it");
    let mut trie = open_trie(&storage, &genesis).expect("trie");
    assert_eq!(storage.trie_root().expect("read"), Some(genesis.state_root));
    let keys = dev_signers(2).expect("keys");
    let commit = |executed: &dbc_evm::ExecutedBlock, updates: Option<&dbc_trie::TrieUpdates>| {
        storage
            .commit_executed(&executed.block, &executed.receipts, &[], &executed.changes, updates)
            .expect("commit")
    };
    let mut parent = genesis;
    let mut nonce = 0;
    let mut next_block = |trie: &mut dbc_trie::StateTrie, parent: &dbc_primitives::SealedHeader| {
        let txs = (0..3u8)
            .map(|i| {
                nonce += 1;
                let to = Address::left_padding_from(&[0xbb, nonce as u8, i]);
                eip1559(
                    &keys[0],
                    spec.chain_id,
                    nonce - 1,
                    TxKind::Call(to),
                    9,
                    Bytes::new(),
                    21_000,
                )
            })
            .collect();
        build_next(&spec, parent, &storage, txs, trie, Address::ZERO)
    };
    // Blocks 1 and 3 without the trie's updates, block 2 with all of them since genesis.
    for (n, with_trie) in [(1, false), (2, true), (3, false)] {
        let executed = next_block(&mut trie, &parent);
        let updates = with_trie.then(|| trie.take_updates());
        commit(&executed, updates.as_ref());
        parent = executed.block.header;
        let stored = storage.trie_root().expect("read");
        assert_eq!(stored == Some(parent.state_root), with_trie, "block {n}");
    }
    // Behind the head: rebuilt, checked and stored.
    drop(trie);
    let mut trie = open_trie(&storage, &parent).expect("rebuilt");
    assert_eq!(trie.root(), parent.state_root);
    assert_eq!(storage.trie_root().expect("read"), Some(parent.state_root));
    // Current: opened from the store; blocks on it commit with the full recompute's root.
    drop(trie);
    let mut trie = open_trie(&storage, &parent).expect("opened");
    for _ in 0..3 {
        let executed = next_block(&mut trie, &parent);
        let updates = trie.take_updates();
        commit(&executed, Some(&updates));
        parent = executed.block.header;
        assert_eq!(full_root(&storage), parent.state_root);
        assert_eq!(storage.trie_root().expect("read"), Some(parent.state_root));
        trie.unload(1);
    }
    // Updates built on another root than the stored one are refused, and mark it stale.
    let executed = next_block(&mut trie, &parent);
    let mut updates = trie.take_updates();
    updates.base = Some(B256::repeat_byte(7));
    assert_eq!(commit(&executed, Some(&updates)), dbc_storage::TrieWrite::Stale);
    assert_eq!(storage.trie_root().expect("read"), None);
    let mut trie = open_trie(&storage, &executed.block.header).expect("rebuilt");
    assert_eq!(trie.root(), executed.block.header.state_root);
}

/// Receipts leave the builder with their blooms and the header carries their union, whether the
/// block roots run beside the state root (large blocks) or after it.
#[test]
fn receipts_carry_their_log_blooms_in_small_and_large_blocks() {
    use alloy_primitives::Bloom;

    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = ChainSpec::dev(10).expect("spec");
    // Runtime code: LOG1(offset 0, size 0, topic 7); STOP.
    let emitter = Address::with_last_byte(0xe7);
    spec.genesis.alloc.insert(
        emitter,
        alloy_genesis::GenesisAccount {
            code: Some("0x600760006000a100".parse().expect("hex")),
            ..Default::default()
        },
    );
    let storage = Storage::open(dir.path()).expect("open");
    init_genesis(&storage, &spec).expect("genesis");
    let mut trie = rebuild_trie(&storage).expect("trie");
    let keys = dev_signers(10).expect("keys");
    let mut parent = storage.header(0).expect("read").expect("genesis");
    let mut nonces = vec![0u64; keys.len()];
    // 3 transactions: roots after the state root; 600: beside it.
    for count in [3usize, 600] {
        let txs: Vec<_> = (0..count)
            .map(|i| {
                let k = i % keys.len();
                nonces[k] += 1;
                let call = TxKind::Call(emitter);
                eip1559(&keys[k], spec.chain_id, nonces[k] - 1, call, 0, Bytes::new(), 50_000)
            })
            .collect();
        let executed = build_next(&spec, &parent, &storage, txs, &mut trie, Address::ZERO);
        assert_eq!(executed.receipts.len(), count, "{:?}", executed.rejected.first());
        let mut union = Bloom::ZERO;
        for r in &executed.receipts {
            let with_bloom = r.as_receipt_with_bloom().expect("typed receipt");
            assert_eq!(r.logs().len(), 1);
            assert_ne!(*r.logs_bloom(), Bloom::ZERO);
            assert_eq!(*r.logs_bloom(), with_bloom.receipt.bloom_slow());
            union.accrue_bloom(r.logs_bloom());
        }
        assert_eq!(executed.block.header.logs_bloom, union);
        assert!(
            executed
                .block
                .header
                .logs_bloom
                .contains_input(alloy_primitives::BloomInput::Raw(emitter.as_slice()))
        );
        assert_eq!(
            executed.block.header.receipts_root,
            alloy_consensus::proofs::calculate_receipt_root(&executed.receipts)
        );
        storage
            .commit_block(&executed.block, &executed.receipts, &executed.changes)
            .expect("commit");
        parent = executed.block.header;
    }
}

/// Blocks imported with each commit on a background thread while the next block executes
/// (`persist::Persister`, what sync does) give exactly the chain and stored trie of committing
/// one block at a time: every block spends nonces the block before set, so each executes over
/// the state of the block still being written. A trie over its memory bound commits at once
/// and unloads; a failed commit reopens the trie at the storage head.
#[test]
fn background_commits_give_the_sequential_chain_and_a_failed_commit_reopens_the_trie() {
    use dbc_node_lib::persist::Persister;
    let spec = ChainSpec::dev(10).expect("spec");
    let keys = dev_signers(4).expect("keys");
    let (seq_dir, bg_dir) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let open = |dir: &tempfile::TempDir| {
        let storage = Storage::open(dir.path()).expect("open");
        init_genesis(&storage, &spec).expect("genesis");
        let trie = rebuild_trie(&storage).expect("trie");
        (storage, trie)
    };
    let (seq, mut seq_trie) = open(&seq_dir);
    let (bg, mut bg_trie) = open(&bg_dir);
    let limit = bg_trie.resident_limit();
    let init: Bytes = "0x600560005534600155".parse().expect("hex");
    let attrs = |parent: &dbc_primitives::SealedHeader| BlockAttributes {
        timestamp: parent.timestamp + 6,
        beneficiary: Address::with_last_byte(0xfe),
        extra_data: Bytes::new(),
        gas_limit: spec.genesis.gas_limit,
        staking_hook: None,
        prev_randao: None,
    };
    let mut persist = Persister::<u64>::new(bg.clone());
    let mut seq_parent = seq.header(0).expect("read").expect("genesis");
    let mut bg_parent = seq_parent.clone();
    let mut nonces = [0u64; 4];
    let mut finished = Vec::new();
    for round in 0..10u64 {
        let mut txs = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            for j in 0..3u64 {
                let to = Address::left_padding_from(&[0xbb, round as u8, (i * 3) as u8 + j as u8]);
                txs.push(eip1559(
                    key,
                    spec.chain_id,
                    nonces[i],
                    TxKind::Call(to),
                    10,
                    Bytes::new(),
                    21_000,
                ));
                nonces[i] += 1;
            }
        }
        txs.push(eip1559(
            &keys[0],
            spec.chain_id,
            nonces[0],
            TxKind::Create,
            7,
            init.clone(),
            200_000,
        ));
        nonces[0] += 1;
        let count = txs.len();
        // One at a time.
        let executed = build_block(
            &spec,
            &seq_parent,
            seq.latest(),
            attrs(&seq_parent),
            &mut TxList::new(txs.clone()),
            &mut seq_trie,
        )
        .expect("build");
        commit_with_trie(&seq, &executed, &mut seq_trie);
        seq_parent = executed.block.header;
        // In the background; in rounds 4 and 5 the trie is over its bound and unloads.
        bg_trie.set_resident_limit(if (4..6).contains(&round) {
            1
        } else {
            limit.unwrap_or(usize::MAX)
        });
        let executed = build_block(
            &spec,
            &bg_parent,
            persist.state().expect("state"),
            attrs(&bg_parent),
            &mut TxList::new(txs),
            &mut bg_trie,
        )
        .expect("build");
        assert_eq!(
            executed.block.transactions.len(),
            count,
            "round {round}: {:?}",
            executed.rejected
        );
        assert_eq!(executed.block.hash(), seq_parent.hash(), "round {round}");
        bg_parent = executed.block.header.clone();
        let number = bg_parent.number;
        persist.submit(executed, &mut bg_trie, std::time::Instant::now(), number).expect("submit");
        finished.extend(persist.take_finished().into_iter().map(|c| c.tag));
        // The next block's state has this one on top, landed or not.
        let state = persist.state().expect("state");
        if let Some(pending) = persist.pending_header() {
            assert_eq!(pending.hash(), bg_parent.hash());
        }
        assert_eq!(state.block_hash(number).expect("read"), Some(bg_parent.hash()));
        let account = state.account(keys[1].address()).expect("read").expect("account");
        assert_eq!(account.nonce, nonces[1]);
    }
    persist.wait(&mut bg_trie).expect("last commit");
    finished.extend(persist.take_finished().into_iter().map(|c| c.tag));
    // Every block finished once, in order, each only once committed.
    assert_eq!(finished, (1..=10).collect::<Vec<_>>());
    let head = bg.header(10).expect("read").expect("head");
    assert_eq!(head.hash(), seq_parent.hash());
    assert_eq!(bg.trie_root().expect("read"), Some(head.state_root), "the stored trie follows");
    assert_eq!(full_root(&bg), head.state_root);
    assert_eq!(bg_trie.root(), head.state_root);

    // Block 11 goes into flight; a second block 11 (same parent, so it does not extend the
    // head once the first lands) fails to commit at once (the trie over its bound): the first
    // is still handed back finished and the trie is block 11's.
    let eleven = |nonce: u64, trie: &mut dbc_trie::StateTrie, state: &dyn StateReader| {
        let to = TxKind::Call(Address::with_last_byte(0x77));
        let txs = vec![eip1559(&keys[2], spec.chain_id, nonce, to, 1, Bytes::new(), 21_000)];
        build_block(&spec, &head, state, attrs(&head), &mut TxList::new(txs), trie).expect("build")
    };
    bg_trie.set_resident_limit(usize::MAX);
    let first = eleven(nonces[2], &mut bg_trie, &persist.state().expect("state"));
    let first_root = first.block.header.state_root;
    persist.submit(first, &mut bg_trie, std::time::Instant::now(), 11).expect("submit");
    let second = eleven(nonces[2] + 1, &mut bg_trie, &persist.state().expect("state"));
    bg_trie.set_resident_limit(1);
    assert!(persist.submit(second, &mut bg_trie, std::time::Instant::now(), 12).is_err());
    let tags: Vec<u64> = persist.take_finished().into_iter().map(|c| c.tag).collect();
    assert_eq!(tags, vec![11], "the block committed before the failure is not lost");
    assert_eq!(bg.head_number().expect("read"), Some(11));
    assert!(!bg_trie.is_poisoned());
    assert_eq!(bg_trie.root(), first_root);
    // The same on the commit thread: the failure shows when it is waited for, and the trie is
    // reopened at the storage head.
    bg_trie.set_resident_limit(usize::MAX);
    let third = eleven(nonces[2] + 1, &mut bg_trie, &persist.state().expect("state"));
    assert_ne!(bg_trie.root(), first_root);
    persist.submit(third, &mut bg_trie, std::time::Instant::now(), 13).expect("handed over");
    assert!(persist.take_finished().is_empty());
    assert!(persist.wait(&mut bg_trie).is_err(), "a second block 11 does not extend head 11");
    assert!(persist.take_finished().is_empty());
    assert_eq!(bg.head_number().expect("read"), Some(11));
    assert!(!bg_trie.is_poisoned());
    assert_eq!(bg_trie.root(), first_root);
}

/// A block touching many accounts has the stored trie's paths to them loaded on a thread while
/// it executes (`build_block`'s `TrieSlot`): on a trie unloaded to its root, the block's state
/// root still equals a full recomputation, and the trie is back in place, stored, afterwards.
#[test]
fn a_large_block_loads_its_trie_paths_while_it_executes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ChainSpec::dev(10).expect("spec");
    let storage = Storage::open(dir.path()).expect("open");
    init_genesis(&storage, &spec).expect("genesis");
    let keys = dev_signers(10).expect("keys");
    let mut trie = rebuild_trie(&storage).expect("trie");
    let mut parent = storage.header(0).expect("read").expect("genesis");
    for round in 0..3u64 {
        trie.unload(0);
        assert_eq!(trie.resident(), 0);
        let mut txs = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            for j in 0..10u64 {
                // Fresh recipients, and in later rounds last round's again.
                let to =
                    Address::left_padding_from(&[0xcc, (round.min(1) * 10 + j) as u8, i as u8]);
                txs.push(eip1559(
                    key,
                    spec.chain_id,
                    round * 10 + j,
                    TxKind::Call(to),
                    3,
                    Bytes::new(),
                    21_000,
                ));
            }
        }
        let executed =
            build_next(&spec, &parent, &storage, txs, &mut trie, Address::with_last_byte(0xfe));
        assert_eq!(executed.block.transactions.len(), 100, "round {round}");
        assert!(trie.is_stored(), "the trie came back from the loading thread");
        assert!(trie.resident() > 0, "paths were loaded");
        commit_with_trie(&storage, &executed, &mut trie);
        parent = executed.block.header;
        assert_eq!(full_root(&storage), parent.state_root, "round {round}");
        assert_eq!(trie.root(), parent.state_root);
        assert_eq!(storage.trie_root().expect("read"), Some(parent.state_root));
    }
}

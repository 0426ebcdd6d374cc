//! Import, fork choice and vote handling of offline nodes (no network).

use super::{codec::RawBlock, import::BatchOutcome, *};
use crate::rebuild_trie;
use crate::{NodeConfig, Opened, open};
use alloy_consensus::{Header, Sealable};
use alloy_primitives::Address;
use alloy_primitives::Bytes;
use dbc_chainspec::DEV_GENESIS_JSON;
use dbc_consensus::{ConsensusEngine, pos::PosEngine};
use dbc_evm::{BlockAttributes, TxList, build_block};
use dbc_primitives::{Block, pos, pos::FinalityProof};
use tokio::sync::Notify;

pub(super) fn spec_for(validator: Address) -> Arc<ChainSpec> {
    let mut g: serde_json::Value = serde_json::from_str(DEV_GENESIS_JSON).expect("json");
    let staking = dbc_chainspec::StakingParams {
        validators: vec![dbc_chainspec::GenesisValidator {
            address: validator,
            stake: alloy_primitives::U256::from(100_000u64)
                * alloy_primitives::U256::from(dbc_chainspec::DBC),
            commission_bps: 0,
        }],
        ..Default::default()
    };
    let balance = staking.genesis_stake() + staking.reward_pool;
    g["timestamp"] = format!("{:#x}", now_secs() - 10_000).into();
    g["config"]["dbc"] = serde_json::json!({
        "version": dbc_chainspec::GENESIS_FORMAT,
        "blockTimeSecs": 1,
        "staking": staking,
    });
    g["alloc"][STAKING_ADDRESS.to_string().to_lowercase()] =
        serde_json::json!({ "balance": format!("{balance:#x}") });
    Arc::new(ChainSpec::from_json(&g.to_string()).expect("spec"))
}

pub(super) fn offline(spec: &Arc<ChainSpec>, dir: &std::path::Path) -> PosNode {
    let config = NodeConfig {
        datadir: dir.to_path_buf(),
        spec: spec.clone(),
        rpc: dbc_rpc::RpcConfig { http: None, ws: None, cors: None, ..Default::default() },
        pool: Default::default(),
        gas_limit: None,
        cache: Default::default(),
    };
    let Opened { chain, pool, validator, trie } = open(&config).expect("open");
    PosNode {
        spec: spec.clone(),
        chain,
        pool,
        validator,
        trie: Arc::new(Mutex::new(trie)),
        head_changed: Notify::new(),
        votes: Mutex::default(),
        pending_votes: Mutex::default(),
        voter: None,
        net: Default::default(),
        info: Arc::default(),
        sets: Mutex::default(),
        sync: Mutex::default(),
        evidence_seen: Mutex::default(),
        equivocate: false,
        abort_after_seal: false,
        engine: Default::default(),
        building: Mutex::default(),
        tx_batch: Mutex::default(),
        failed_competitors: Mutex::default(),
    }
}

/// Two offline nodes of one single-validator chain, with the validator's key (the temporary
/// directories live as long as the returned value).
pub(super) fn two_nodes() -> (PrivateKeySigner, Vec<tempfile::TempDir>, PosNode, PosNode) {
    let (key, dirs, [a, b]) = nodes();
    (key, dirs, a, b)
}

/// `N` offline nodes of one single-validator chain, with the validator's key (the temporary
/// directories live as long as the returned value).
fn nodes<const N: usize>() -> (PrivateKeySigner, Vec<tempfile::TempDir>, [PosNode; N]) {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dirs: Vec<_> = (0..N).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let nodes = std::array::from_fn(|i| offline(&spec, dirs[i].path()));
    (key, dirs, nodes)
}

/// Builds and seals the block after `node`'s head at slot offset `k` (not committed).
fn make(node: &PosNode, key: &PrivateKeySigner, k: u64) -> Block {
    make_with(node, key, k, vec![])
}

/// A signed EIP-1559 transfer from dev account `from` (chain 19888).
pub(super) fn transfer(from: usize, nonce: u64) -> dbc_primitives::TxEnvelope {
    use alloy_consensus::SignableTransaction;
    use alloy_signer::SignerSync;
    let signer = dbc_chainspec::dev_signers(from + 1).expect("dev keys").remove(from);
    let tx = alloy_consensus::TxEip1559 {
        chain_id: 19888,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy_primitives::TxKind::Call(Address::repeat_byte(0x42)),
        value: alloy_primitives::U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    tx.into_signed(sig).into()
}

/// [`make`] with transactions.
pub(super) fn make_with(
    node: &PosNode,
    key: &PrivateKeySigner,
    k: u64,
    txs: Vec<dbc_primitives::TxEnvelope>,
) -> Block {
    make_carrying(node, key, k, txs, vec![])
}

/// [`make_with`] carrying `finality` in the header.
pub(super) fn make_carrying(
    node: &PosNode,
    key: &PrivateKeySigner,
    k: u64,
    txs: Vec<dbc_primitives::TxEnvelope>,
    finality: Vec<FinalityProof>,
) -> Block {
    let txs: Vec<dbc_primitives::Recovered<dbc_primitives::TxEnvelope>> = txs
        .into_iter()
        .map(|t| {
            let sender = alloy_consensus::transaction::SignerRecoverable::recover_signer(&t)
                .expect("sender");
            dbc_primitives::Recovered::new_unchecked(t, sender)
        })
        .collect();
    let parent = node.chain.head();
    let mut trie = node.trie.lock();
    let (extra_data, mix) = reveal_extra_with(key, &parent, b"test", finality);
    let attrs = BlockAttributes {
        timestamp: parent.timestamp + k + 1,
        beneficiary: key.address(),
        extra_data,
        gas_limit: parent.gas_limit,
        staking_hook: Some((key.address(), vec![])),
        prev_randao: Some(mix),
    };
    let storage = node.storage().clone();
    let executed =
        build_block(&node.spec, &parent, storage.latest(), attrs, &mut TxList::new(txs), &mut trie)
            .expect("build");
    // Put the trie back to the head's state: the block is only proposed here.
    *trie = rebuild_trie(&storage).expect("trie");
    let header = engine_seal(key, executed.block.header.inner().clone());
    Block {
        header: header.seal_slow(),
        transactions: executed.block.transactions,
        senders: executed.block.senders,
    }
}

/// Unsealed `extraData` carrying `key`'s VRF reveal for the block after `parent`, and the
/// block's mix.
fn reveal_extra(
    key: &PrivateKeySigner,
    parent: &dbc_primitives::SealedHeader,
    vanity: &[u8],
) -> (alloy_primitives::Bytes, alloy_primitives::B256) {
    reveal_extra_with(key, parent, vanity, vec![])
}

/// [`reveal_extra`] carrying `finality`.
fn reveal_extra_with(
    key: &PrivateKeySigner,
    parent: &dbc_primitives::SealedHeader,
    vanity: &[u8],
    finality: Vec<FinalityProof>,
) -> (alloy_primitives::Bytes, alloy_primitives::B256) {
    let (randao, mix) = dbc_consensus::vrf::reveal(key.credential(), parent.inner()).expect("vrf");
    let extra = pos::ConsensusExtra { finality, randao: randao.to_vec().into() };
    (pos::unsealed_extra(vanity, &extra), mix)
}

/// `keys`' finality proof for `block` (chain 19888).
pub(super) fn proof_by(keys: &[&PrivateKeySigner], block: &Block) -> FinalityProof {
    use alloy_signer::SignerSync;
    let (number, hash) = (block.header.number, block.header.hash());
    let signatures = keys
        .iter()
        .map(|k| {
            let sig = k.sign_hash_sync(&pos::vote_hash(19888, number, hash)).expect("sign");
            Bytes::from(sig.as_bytes().to_vec())
        })
        .collect();
    FinalityProof { number, hash, signatures }
}

fn engine_seal(key: &PrivateKeySigner, header: Header) -> Header {
    PosEngine::new(key.clone(), 1, Arc::new(|_| Default::default()), Arc::new(|| None))
        .seal(header)
        .expect("seal")
}

pub(super) fn reseal(key: &PrivateKeySigner, mut header: Header) -> Header {
    let mut extra = header.extra_data.to_vec();
    extra.truncate(extra.len() - pos::SEAL_LEN);
    header.extra_data = extra.into();
    engine_seal(key, header)
}

fn raw_block(block: &Block) -> RawBlock {
    RawBlock::new(block.header.clone(), block.transactions.clone())
}

pub(super) fn import(node: &PosNode, block: Block) -> Result<(), ImportError> {
    let mut trie = node.trie.lock();
    node.import_locked(&mut trie, raw_block(&block))
}

pub(super) fn extend(node: &PosNode, key: &PrivateKeySigner, k: u64, n: usize) -> Vec<Block> {
    (0..n)
        .map(|_| {
            let b = make(node, key, k);
            import(node, b.clone()).expect("own block imports");
            b
        })
        .collect()
}

pub(super) fn raw(blocks: &[Block]) -> Vec<RawBlock> {
    blocks.iter().map(raw_block).collect()
}

pub(super) fn root_ok(node: &PosNode) {
    let head = node.chain.head();
    assert_eq!(rebuild_trie(node.storage()).expect("trie").root(), head.state_root);
    assert_eq!(node.trie.lock().root(), head.state_root, "in-memory trie follows the head");
}

#[test]
fn import_rejects_tampered_and_missealed_blocks_and_keeps_state() {
    let (key, _dirs, a, b) = two_nodes();
    for block in extend(&a, &key, 0, 3) {
        import(&b, block).expect("valid block");
    }
    assert_eq!(b.chain.head().hash(), a.chain.head().hash());

    let good = make(&a, &key, 0);
    // A different state root, correctly sealed: re-execution disagrees.
    let mut h = good.header.inner().clone();
    h.state_root = B256::repeat_byte(1);
    let bad = Block { header: reseal(&key, h).seal_slow(), ..good.clone() };
    match import(&b, bad) {
        Err(ImportError::Invalid(e)) => assert!(e.contains("state root"), "{e}"),
        other => panic!("tampered block: {other:?}"),
    }
    // Sealed by someone else.
    let outsider = PrivateKeySigner::random();
    let wrong = Block {
        header: reseal(&outsider, good.header.inner().clone()).seal_slow(),
        ..good.clone()
    };
    assert!(matches!(import(&b, wrong), Err(ImportError::Invalid(_))));
    // A block that does not build on the head.
    assert!(matches!(import(&b, make(&b, &key, 0)), Ok(())));
    assert!(matches!(import(&b, good), Err(ImportError::NotNext(_))));
    assert_eq!(b.chain.head_number(), 4);
    root_ok(&b);
}

#[test]
fn fork_choice_takes_the_longer_chain_but_never_unwinds_finalized_blocks() {
    let (key, _dirs, [a, b, c]) = nodes();
    // A: 4 blocks in turn. C: a branch from genesis with later slots (other hashes).
    let chain_a = extend(&a, &key, 0, 4);
    let chain_c = extend(&c, &key, 1, 2);
    for blk in &chain_a {
        import(&b, blk.clone()).expect("import");
    }
    // A shorter branch is not adopted.
    assert!(matches!(b.import_batch(1, raw(&chain_c)), BatchOutcome::NoProgress));
    assert_eq!(b.chain.head().hash(), a.chain.head().hash());
    // Blocks B already has are skipped.
    assert!(matches!(b.import_batch(1, raw(&chain_a[..2])), BatchOutcome::Known(2)));
    // A longer branch is: B unwinds to genesis and follows C.
    let chain_c: Vec<Block> = chain_c.into_iter().chain(extend(&c, &key, 0, 4)).collect();
    assert!(matches!(b.import_batch(1, raw(&chain_c)), BatchOutcome::Progress));
    assert_eq!(b.chain.head().hash(), c.chain.head().hash());
    assert_eq!(b.storage().block_hash(1).expect("read"), Some(chain_c[0].header.hash()));
    root_ok(&b);
    // A batch that does not connect to B's chain.
    assert!(matches!(b.import_batch(3, raw(&chain_a[2..])), BatchOutcome::Disconnected));
    // Finalized blocks stay: A's chain grows longer but forks below B's finalized block.
    b.mark_finalized(3, true);
    let chain_a: Vec<Block> = chain_a.into_iter().chain(extend(&a, &key, 0, 6)).collect();
    assert!(matches!(b.import_batch(1, raw(&chain_a)), BatchOutcome::Invalid(_)));
    assert_eq!(b.chain.head().hash(), c.chain.head().hash());
    assert_eq!(b.storage().finalized().expect("read"), Some(3));
    root_ok(&b);
}

/// A node that went off on a minority fork before the network's first finality (the testnet
/// flake of 2026-12-05: validator v2 never rejoined) adopts the network's longer branch even
/// though that branch carries a proof finalizing one of its own blocks; a proof on a branch
/// that is not signed by the branch's set, or that finalizes a block not on the branch, keeps
/// the branch out.
#[test]
fn a_node_on_a_minority_fork_rejoins_a_branch_that_finalized_its_own_blocks() {
    let (key, _dirs, [a, b, c]) = nodes();
    // B went its own way at block 1 (a later slot: another hash).
    let ours = extend(&b, &key, 1, 2);
    // The network (A): blocks 1-2, then block 3 carrying the proof that finalizes block 2.
    let mut theirs = extend(&a, &key, 0, 2);
    assert_ne!(ours[0].header.hash(), theirs[0].header.hash());
    // Block 3 with a proof by someone outside the branch's set, or for a block of another
    // branch (C's block 2, at the same height).
    let outsider = PrivateKeySigner::random();
    let other = extend(&c, &key, 2, 2);
    let forged = [
        (proof_by(&[&outsider], &theirs[1]), "not a validator"),
        (proof_by(&[&key], &other[1]), "another branch"),
    ]
    .map(|(proof, why)| (make_carrying(&a, &key, 0, vec![], vec![proof]), why));
    let proof = proof_by(&[&key], &theirs[1]);
    let block = make_carrying(&a, &key, 0, vec![], vec![proof]);
    import(&a, block.clone()).expect("A's own block");
    theirs.push(block);
    theirs.extend(extend(&a, &key, 0, 1));

    // A wrong proof keeps the whole branch out and changes nothing.
    for (block, why) in forged {
        let mut forged = theirs[..2].to_vec();
        forged.push(block);
        assert!(
            matches!(b.import_batch(1, raw(&forged)), BatchOutcome::Invalid(ref e) if e.contains(why)),
            "{why}"
        );
        assert_eq!(b.chain.head().hash(), ours[1].header.hash());
        root_ok(&b);
    }

    assert!(matches!(b.import_batch(1, raw(&theirs)), BatchOutcome::Progress));
    assert_eq!(b.chain.head().hash(), a.chain.head().hash());
    assert_eq!(b.storage().finalized().expect("read"), Some(2), "the branch's proof counts");
    assert_eq!(b.chain.finalized(), Some(2));
    root_ok(&b);
}

/// Finality beats length: a node whose own branch outgrew the network's (it was cut off, and
/// the network missed slots) takes the network's shorter branch once that branch carries a
/// valid proof finalizing one of its blocks; without a proof a shorter branch is not taken, and
/// with a forged one it is refused and nothing changes.
#[test]
fn a_shorter_branch_that_finalized_one_of_its_blocks_beats_a_longer_chain() {
    let (key, _dirs, [a, b]) = nodes();
    let ours = extend(&b, &key, 1, 5);
    // The network (A): three blocks, the third carrying the proof that finalizes the second.
    let mut theirs = extend(&a, &key, 0, 2);
    let outsider = PrivateKeySigner::random();
    let forged = make_carrying(&a, &key, 0, vec![], vec![proof_by(&[&outsider], &theirs[1])]);
    let block = make_carrying(&a, &key, 0, vec![], vec![proof_by(&[&key], &theirs[1])]);
    import(&a, block.clone()).expect("A's own block");
    theirs.push(block);

    assert!(matches!(b.import_batch(1, raw(&theirs[..2])), BatchOutcome::NoProgress));
    let mut bad = theirs[..2].to_vec();
    bad.push(forged);
    assert!(matches!(b.import_batch(1, raw(&bad)), BatchOutcome::Invalid(_)));
    assert_eq!(b.chain.head().hash(), ours[4].header.hash());
    assert_eq!(b.chain.finalized().unwrap_or(0), 0, "nothing finalized");
    root_ok(&b);

    assert!(matches!(b.import_batch(1, raw(&theirs)), BatchOutcome::Progress));
    assert_eq!(b.chain.head().hash(), a.chain.head().hash());
    assert_eq!(b.chain.head_number(), 3, "five blocks of ours unwound for three");
    assert_eq!(b.chain.finalized(), Some(2));
    root_ok(&b);
}

/// Security review H4: a correctly sealed header with a swapped body is refused at the body
/// check, before senders are recovered or anything executes; the trie stays at the head.
#[test]
fn h4_a_valid_header_with_a_swapped_body_is_refused_before_execution() {
    let (key, _dirs, a, b) = two_nodes();
    for block in extend(&a, &key, 0, 2) {
        import(&b, block).expect("valid block");
    }
    let good = make(&a, &key, 0);
    let tx = alloy_consensus::TxLegacy { gas_limit: 21_000, ..Default::default() };
    let signed = alloy_consensus::Signed::new_unchecked(
        tx,
        alloy_primitives::Signature::test_signature(),
        Default::default(),
    );
    let swapped = Block {
        transactions: vec![dbc_primitives::TxEnvelope::Legacy(signed)],
        senders: vec![Address::ZERO],
        ..good.clone()
    };
    match import(&b, swapped) {
        Err(ImportError::Invalid(e)) => assert!(e.contains("transactions root"), "{e}"),
        other => panic!("swapped body: {other:?}"),
    }
    assert_eq!(b.chain.head_number(), 2);
    root_ok(&b);
    import(&b, good).expect("the real block still imports");
}

/// Security review H2: a longer branch that turns out invalid changes nothing — no unwind, no
/// lost blocks, the trie stays at our head (the branch ran on an overlay).
#[test]
fn h2_an_invalid_longer_branch_changes_nothing() {
    let (key, _dirs, [a, b, c]) = nodes();
    let chain_a = extend(&a, &key, 0, 3);
    for blk in &chain_a {
        import(&b, blk.clone()).expect("import");
    }
    let head = b.chain.head();
    // C: a longer branch from genesis whose last block has a wrong state root (resealed).
    let mut chain_c = extend(&c, &key, 1, 5);
    let last = chain_c.pop().expect("block");
    let mut h = last.header.inner().clone();
    h.state_root = B256::repeat_byte(9);
    chain_c.push(Block { header: reseal(&key, h).seal_slow(), ..last });
    assert!(matches!(b.import_batch(1, raw(&chain_c)), BatchOutcome::Invalid(_)));
    assert_eq!(b.chain.head().hash(), head.hash(), "head unchanged");
    assert_eq!(b.storage().block_hash(1).expect("read"), Some(chain_a[0].header.hash()));
    root_ok(&b);
    // A branch with a block sealed by an outsider: refused the same way.
    let outsider = PrivateKeySigner::random();
    let dd = tempfile::tempdir().expect("tmp");
    let d = offline(&a.spec, dd.path());
    let mut forged = extend(&d, &key, 1, 4);
    let valid = forged.clone();
    let h = forged[3].header.inner().clone();
    forged[3] = Block { header: reseal(&outsider, h).seal_slow(), ..forged[3].clone() };
    assert!(matches!(b.import_batch(1, raw(&forged)), BatchOutcome::Invalid(_)));
    assert_eq!(b.chain.head().hash(), head.hash());
    root_ok(&b);
    // As long as ours but with later slots: not heavier.
    assert!(matches!(b.import_batch(1, raw(&valid[..3])), BatchOutcome::NoProgress));
    assert_eq!(b.chain.head().hash(), head.hash());
    // The valid branch, one block longer than ours, is adopted; the trie follows without a
    // rebuild (checked against a full recomputation).
    assert!(matches!(b.import_batch(1, raw(&valid)), BatchOutcome::Progress));
    assert_eq!(b.chain.head().hash(), valid[3].header.hash());
    root_ok(&b);
}

/// Security review M2: at equal height the block of the earlier slot (the in-turn proposer's)
/// wins over a backup's, so racing the in-turn proposer gains nothing.
#[test]
fn m2_the_earlier_slot_wins_at_equal_height() {
    let (key, _dirs, [a, b, c]) = nodes();
    let backup = extend(&a, &key, 1, 1).remove(0);
    let in_turn = extend(&c, &key, 0, 1).remove(0);
    import(&b, backup.clone()).expect("backup block");
    {
        let mut trie = b.trie.lock();
        assert_eq!(b.import_fork(&mut trie, vec![raw_block(&in_turn)]).expect("valid"), 1);
    }
    assert_eq!(b.chain.head().hash(), in_turn.header.hash());
    root_ok(&b);
    // And not the other way round.
    let mut trie = b.trie.lock();
    assert_eq!(b.import_fork(&mut trie, vec![raw_block(&backup)]).expect("valid"), 0);
    drop(trie);
    assert_eq!(b.chain.head().hash(), in_turn.header.hash());
}

/// Security review M6: far-future votes are not buffered, garbage signatures are rejected
/// before buffering, and a vote at `u64::MAX` does not overflow.
#[test]
fn m6_votes_are_checked_before_they_are_buffered() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dir = tempfile::tempdir().expect("tmp");
    let node = offline(&spec, dir.path());
    extend(&node, &key, 0, 2);
    let peer = dbc_network::Peer::random();
    let sign = |number: u64| {
        use alloy_signer::SignerSync;
        let hash = B256::repeat_byte(3);
        let sig = key.sign_hash_sync(&pos::vote_hash(spec.chain_id, number, hash)).expect("sign");
        pos::Vote { number, hash, signature: sig.as_bytes().to_vec().into() }
    };
    assert!(matches!(node.on_vote(sign(1_000), Some(peer)), dbc_network::Verdict::Ignore));
    assert!(matches!(node.on_vote(sign(u64::MAX), Some(peer)), dbc_network::Verdict::Ignore));
    let mut garbage = sign(3);
    garbage.signature = vec![7u8; 65].into();
    assert!(matches!(node.on_vote(garbage, Some(peer)), dbc_network::Verdict::Reject));
    assert_eq!(node.pending_votes.lock().len(), 0);
    assert!(matches!(node.on_vote(sign(3), Some(peer)), dbc_network::Verdict::Accept));
    assert_eq!(node.pending_votes.lock().len(), 1, "a real early vote waits for its block");
    node.retry_pending_votes();
}

/// Security review M8: after a fork switch unwinds a block, its sender's pooled transactions
/// are executable again from the new head's nonce (the pool's nonce is lowered, not kept).
#[test]
fn m8_a_reorg_lowers_the_pools_nonce_so_senders_are_not_stuck() {
    let (key, _dirs, [a, b, c]) = nodes();
    // B knows the sender: its nonce-1 transaction waits behind the gap.
    let head = b.chain.head();
    let v = b.validator.validate(transfer(0, 1), 200, head.inner()).expect("valid");
    b.pool.add(v.tx, v.size, v.state_nonce).expect("pooled");
    // A's block 1 carries the sender's nonce-0 transaction and another sender's; B imports it.
    let block = make_with(&a, &key, 0, vec![transfer(0, 0), transfer(1, 0)]);
    assert_eq!(block.transactions.len(), 2);
    import(&a, block.clone()).expect("a");
    import(&b, block).expect("b");
    assert_eq!(b.pool.status().pending, 1, "the nonce-1 transaction is executable now");
    // C's heavier branch from genesis has only the second sender's: B switches and re-adds
    // the first sender's, not the one the new head already includes.
    let c1 = make_with(&c, &key, 1, vec![transfer(1, 0)]);
    import(&c, c1.clone()).expect("c1");
    let mut chain_c = vec![c1];
    chain_c.extend(extend(&c, &key, 1, 1));
    assert!(matches!(b.import_batch(1, raw(&chain_c)), BatchOutcome::Progress));
    assert_eq!(b.chain.head().hash(), c.chain.head().hash());
    assert_eq!(b.pool.status().pending, 2, "nonce 0 (re-added) and nonce 1 are both executable");
    let sender = |i: usize| {
        let tx = transfer(i, 0);
        alloy_consensus::transaction::SignerRecoverable::recover_signer(&tx).expect("sender")
    };
    assert_eq!(b.pool.pending_from(&sender(0), None, 10).len(), 2);
    assert!(b.pool.pending_from(&sender(1), None, 10).is_empty(), "in the new head already");
    root_ok(&b);
}

/// Security review M7: production committed the block, released the trie lock and only then
/// moved `CanonChain`'s head, so an importer taking the lock in between saw storage at N+1 and
/// the head at N (and failed, rebuilt the trie and penalised an honest peer). Whoever takes the
/// trie lock must see the two agree.
#[test]
fn m7_whoever_takes_the_trie_lock_sees_storage_and_the_head_agree() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dir = tempfile::tempdir().expect("tmp");
    let node = offline(&spec, dir.path());
    let engine =
        PosEngine::new(key.clone(), 1, Arc::new(|_| Default::default()), Arc::new(|| None));
    let done = std::sync::atomic::AtomicBool::new(false);
    let checks = std::sync::atomic::AtomicU64::new(0);
    const BLOCKS: u64 = 1_000;
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let _trie = node.trie.lock();
                let stored = node.storage().head_number().expect("read").unwrap_or(0);
                assert_eq!(node.chain.head_number(), stored, "head lags storage under the lock");
                checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        for _ in 0..BLOCKS {
            let parent = node.chain.head();
            let (extra_data, mix) = reveal_extra(&key, &parent, b"m7");
            let slot = dbc_consensus::Slot {
                timestamp: parent.timestamp + 1,
                beneficiary: key.address(),
                extra_data,
                staking_hook: Some((key.address(), vec![])),
                prev_randao: Some(mix),
            };
            // A few transactions, so that the pool has work after each commit.
            let nonce = node.chain.head_number();
            let v = node.validator.validate(transfer(0, nonce), 200, parent.inner()).expect("ok");
            node.pool.add(v.tx, v.size, v.state_nonce).expect("pooled");
            let out = node.seal_and_commit(&engine, &parent, slot, parent.gas_limit, None);
            assert!(matches!(out, Ok(Some(_))), "{out:?}");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(node.chain.head_number(), BLOCKS);
    assert!(checks.load(std::sync::atomic::Ordering::Relaxed) > BLOCKS, "the checker ran");
    root_ok(&node);
}

/// Security review H3 (`eth_syncing`): a peer's claimed head is never reported as the sync
/// target; after a round that proved nothing, `highest_block` is back at our head, so
/// `eth_syncing` answers `false`, and production was never held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h3_a_claimed_head_alone_never_shows_in_eth_syncing() {
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dir = tempfile::tempdir().expect("tmp");
    let node = Arc::new(offline(&spec, dir.path()));
    extend(&node, &key, 0, 2);
    let peer = dbc_network::Peer::random();
    node.on_peer_claim(peer, 1_000_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let highest = node.info.highest_block.load(std::sync::atomic::Ordering::Relaxed);
        assert!(highest <= node.chain.head_number() + 1, "claimed head shown: {highest}");
        assert!(!node.behind(), "a claim paused production");
        if !node.sync.lock().is_running() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "sync round never ended");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(node.info.highest_block.load(std::sync::atomic::Ordering::Relaxed), 2);
}

/// A trie left incomplete (a stored node unreadable, a restore that failed half-way) is opened
/// again before the next block: from the store when it is the head's, else rebuilt from the
/// plain state; imports go on with the right roots and the memory limit stays.
#[test]
fn a_poisoned_trie_is_reopened_or_rebuilt_before_the_next_block() {
    let (key, _dirs, a, b) = two_nodes();
    let blocks = extend(&a, &key, 0, 4);
    b.trie.lock().set_resident_limit(1234);
    // Poisoned while the store is the head's: reopened from it.
    import(&b, blocks[0].clone()).expect("valid block");
    b.trie.lock().poison();
    import(&b, blocks[1].clone()).expect("imports after a reopen");
    root_ok(&b);
    // Poisoned while the store is behind the head (as between an unwind and its trie write):
    // rebuilt, not reopened at the old root.
    import(&b, blocks[2].clone()).expect("valid block");
    let stale = b.storage().trie_root().expect("read");
    b.storage()
        .write_trie(&dbc_trie::TrieUpdates {
            base: stale,
            root: B256::repeat_byte(9),
            ..Default::default()
        })
        .expect("write");
    b.trie.lock().poison();
    import(&b, blocks[3].clone()).expect("imports after a rebuild");
    root_ok(&b);
    assert_eq!(b.storage().trie_root().expect("read"), Some(b.chain.head().state_root));
    assert_eq!(b.trie.lock().resident_limit(), Some(1234));
}

/// The slot `t` block of `key` after the node's head, with what the engine would put in it.
fn slot_at(key: &PrivateKeySigner, node: &PosNode, timestamp: u64) -> dbc_consensus::Slot {
    let parent = node.chain.head();
    let (extra_data, mix) = reveal_extra(key, &parent, b"during");
    dbc_consensus::Slot {
        timestamp,
        beneficiary: key.address(),
        extra_data,
        staking_hook: Some((key.address(), vec![])),
        prev_randao: Some(mix),
    }
}

fn pool_transfer(node: &PosNode, from: usize, nonce: u64) {
    let head = node.chain.head();
    let v = node.validator.validate(transfer(from, nonce), 200, head.inner()).expect("valid");
    node.pool.add(v.tx, v.size, v.state_nonce).expect("pooled");
}

/// #20 item 5: a validator builds its block while the slot before it runs and seals it when
/// its slot opens, so a transaction arriving during the build is in the block; a valid
/// competing block on the same parent abandons the build at once — nothing sealed (the
/// watermark does not move), the trie back at the head — and then imports.
#[test]
fn a_block_is_built_during_the_slot_before_and_abandoned_for_a_competing_block() {
    use std::sync::atomic::Ordering::Relaxed;
    let key = PrivateKeySigner::random();
    let spec = spec_for(key.address());
    let dir = tempfile::tempdir().expect("tmp");
    let node = offline(&spec, dir.path());
    let engine =
        PosEngine::new(key.clone(), 1, Arc::new(|_| Default::default()), Arc::new(|| None));

    // Built during the slot: one transaction pending at the start, one arriving mid-build.
    let parent = node.chain.head();
    pool_transfer(&node, 0, 0);
    let opens = std::time::Instant::now() + std::time::Duration::from_millis(1_500);
    let slot = slot_at(&key, &node, parent.timestamp + 1);
    let built = std::thread::scope(|s| {
        let build =
            s.spawn(|| node.seal_and_commit(&engine, &parent, slot, parent.gas_limit, Some(opens)));
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(node.building.lock().is_some(), "the build runs before the slot opens");
        pool_transfer(&node, 1, 0);
        build.join().expect("thread")
    });
    assert!(std::time::Instant::now() >= opens, "sealed when the slot opens, not before");
    assert!(matches!(built, Ok(Some(_))), "{built:?}");
    let block = node.storage().block(1).expect("read").expect("block 1");
    assert_eq!(block.transactions.len(), 2, "the arrival during the build is in the block");
    assert!(node.building.lock().is_none());
    root_ok(&node);

    // A competing block for the next height (an earlier slot than ours, validly sealed).
    let parent = node.chain.head();
    let theirs = make_with(&node, &key, 0, vec![transfer(0, 1)]);
    let sealed_before = engine.last_sealed();
    pool_transfer(&node, 0, 1);
    let opens = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let slot = slot_at(&key, &node, parent.timestamp + 2);
    let started = std::time::Instant::now();
    let built = std::thread::scope(|s| {
        let build =
            s.spawn(|| node.seal_and_commit(&engine, &parent, slot, parent.gas_limit, Some(opens)));
        while node.building.lock().is_none() {
            std::thread::yield_now();
        }
        // A forged seal, a swapped body and a block for another parent fail the precheck; a
        // block that failed to import before abandons nothing.
        let mut forged = raw_block(&theirs);
        let mut header = forged.header.inner().clone();
        header.gas_used += 1;
        forged.header = header.seal_slow();
        assert!(node.precheck_block(&parent, &mut forged).is_err(), "forged seal");
        let mut swapped = raw_block(&theirs);
        swapped.transactions.clear();
        assert!(node.precheck_block(&parent, &mut swapped).is_err(), "swapped body");
        let mut elsewhere = raw_block(&theirs);
        let mut header = elsewhere.header.inner().clone();
        header.parent_hash = alloy_primitives::B256::repeat_byte(1);
        elsewhere.header = reseal(&key, header).seal_slow();
        assert!(!node.abandon_for(alloy_primitives::B256::repeat_byte(1), elsewhere.header.hash()));
        node.remember_failed(alloy_primitives::B256::repeat_byte(7));
        assert!(!node.abandon_for(parent.hash(), alloy_primitives::B256::repeat_byte(7)));
        assert!(
            node.building.lock().as_ref().is_some_and(|b| !b.abandon.load(Relaxed)),
            "still building"
        );
        let mut real = raw_block(&theirs);
        node.precheck_block(&parent, &mut real).expect("a valid competitor");
        assert!(node.abandon_for(parent.hash(), real.header.hash()));
        build.join().expect("thread")
    });
    assert!(matches!(built, Ok(None)), "abandoned: {built:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "at once, not at the slot");
    assert_eq!(engine.last_sealed(), sealed_before, "nothing was sealed");
    assert_eq!(node.chain.head().hash(), parent.hash());
    root_ok(&node);
    import(&node, theirs.clone()).expect("the competing block imports");
    assert_eq!(node.chain.head().hash(), theirs.header.hash());
    root_ok(&node);
}

/// Transactions travel in gossip batches: a valid batch is pooled and forwarded, a repeat is
/// not forwarded again, and a batch holding one undecodable transaction is garbage (nothing of
/// it pooled). A block carrying pooled transactions imports with the pool's senders.
#[test]
fn gossiped_transaction_batches_are_pooled_or_refused_whole() {
    use alloy_eips::eip2718::Encodable2718;
    use dbc_network::Verdict;
    let (key, _dirs, a, b) = two_nodes();
    let peer = dbc_network::Peer::random();
    let batch = |txs: &[Vec<u8>]| {
        let list: Vec<Bytes> = txs.iter().map(|t| Bytes::from(t.clone())).collect();
        alloy_rlp::encode(&list)
    };
    let (t0, t1) = (transfer(0, 0).encoded_2718(), transfer(1, 0).encoded_2718());
    let mut garbage = transfer(2, 0).encoded_2718();
    garbage.truncate(garbage.len() - 3);
    let t3 = transfer(3, 0).encoded_2718();
    assert!(matches!(b.receive_txs(&batch(&[t3, garbage]), peer), Verdict::Reject));
    assert_eq!(b.pool.status().pending, 0, "nothing of a garbage batch is pooled");
    assert!(matches!(b.receive_txs(&batch(&[t0.clone(), t1.clone()]), peer), Verdict::Accept));
    assert_eq!(b.pool.status().pending, 2);
    assert!(matches!(b.receive_txs(&batch(&[t0, t1]), peer), Verdict::Ignore), "known");
    assert!(matches!(b.receive_txs(&[0xc0], peer), Verdict::Reject), "an empty batch");
    let oversized = vec![0x02; dbc_network::MAX_TX_SIZE + 1];
    assert!(matches!(b.receive_txs(&batch(&[oversized]), peer), Verdict::Reject), "oversized");

    let block = make_with(&a, &key, 0, vec![transfer(0, 0), transfer(1, 0)]);
    import(&b, block.clone()).expect("imports with the pool's senders");
    assert_eq!(b.storage().block(1).expect("read").expect("block").senders, block.senders);
    assert_eq!(b.pool.status().pending, 0, "included");
    root_ok(&b);
}

/// A sync batch commits each block while the next one executes: blocks that spend the nonces
/// of the block before import, a block with a wrong state root stops the batch with the blocks
/// before it committed and the trie at their head (it waits for the commit in flight before
/// putting the trie back), and the rest of the chain imports after.
#[test]
fn a_sync_batch_commits_in_the_background_and_stops_cleanly_at_an_invalid_block() {
    let (key, _dirs, a, b) = two_nodes();
    let mut blocks = Vec::new();
    for n in 0..6u64 {
        let txs = vec![transfer(0, 2 * n), transfer(0, 2 * n + 1), transfer(1, n)];
        let block = make_with(&a, &key, 0, txs);
        import(&a, block.clone()).expect("import");
        blocks.push(block);
    }
    let mut bad = blocks.clone();
    let mut h = bad[3].header.inner().clone();
    h.state_root = B256::repeat_byte(7);
    bad[3] = Block { header: reseal(&key, h).seal_slow(), ..bad[3].clone() };
    // (The batch ends at the bad block: the next one would not link to it.)
    let outcome = b.import_batch(1, raw(&bad[..4]));
    assert!(matches!(outcome, BatchOutcome::Invalid(_)));
    assert_eq!(b.chain.head().hash(), blocks[2].header.hash());
    assert_eq!(b.storage().head_number().expect("read"), Some(3));
    root_ok(&b);
    assert!(matches!(b.import_batch(4, raw(&blocks[3..])), BatchOutcome::Progress));
    assert_eq!(b.chain.head().hash(), blocks[5].header.hash());
    root_ok(&b);
    let receipts = b.storage().receipts(6).expect("read").expect("receipts");
    assert_eq!(receipts.len(), 3);
}

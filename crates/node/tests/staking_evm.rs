//! The staking precompile driven through the real block builder (revm journal, system calls):
//! block hooks pay the proposer, and double-signing evidence submitted in a transaction slashes
//! and jails the signer while later hooks in the same block keep working.

use alloy_consensus::{Header, SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_rlp::Encodable;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use dbc_chainspec::{ChainSpec, DEV_GENESIS_JSON, STAKING_ADDRESS, dev_signers};
use dbc_consensus::{ConsensusEngine, pos::PosEngine};
use dbc_evm::{BlockAttributes, TxList, build_block};
use dbc_node_lib::{init_genesis, rebuild_trie};
use dbc_precompiles::abi::IStaking;
use dbc_primitives::{
    Recovered, SealedHeader,
    pos::{ConsensusExtra, unsealed_extra},
};
use dbc_storage::Storage;
use std::sync::Arc;

fn pos_spec(validators: &[Address]) -> ChainSpec {
    let mut g: serde_json::Value = serde_json::from_str(DEV_GENESIS_JSON).expect("json");
    let stake = U256::from(100_000u64) * U256::from(10u64).pow(U256::from(18));
    let staking = dbc_chainspec::StakingParams {
        validators: validators
            .iter()
            .map(|a| dbc_chainspec::GenesisValidator { address: *a, stake, commission_bps: 0 })
            .collect(),
        ..Default::default()
    };
    let balance = staking.genesis_stake() + staking.reward_pool;
    g["config"]["dbc"] = serde_json::json!({
        "version": dbc_chainspec::GENESIS_FORMAT,
        "blockTimeSecs": 2,
        "staking": staking,
    });
    g["alloc"][STAKING_ADDRESS.to_string().to_lowercase()] =
        serde_json::json!({ "balance": format!("{balance:#x}") });
    ChainSpec::from_json(&g.to_string()).expect("spec")
}

fn engine(key: &PrivateKeySigner) -> PosEngine {
    PosEngine::new(key.clone(), 2, Arc::new(|_| Default::default()), Arc::new(|| None))
}

fn sealed_header(key: &PrivateKeySigner, number: u64, vanity: &[u8]) -> Bytes {
    let h = Header {
        number,
        timestamp: 1_000 + number * 2,
        gas_limit: 30_000_000,
        beneficiary: key.address(),
        extra_data: unsealed_extra(vanity, &ConsensusExtra::default()),
        ..Default::default()
    };
    let sealed = engine(key).seal(h).expect("seal");
    let mut out = Vec::new();
    sealed.encode(&mut out);
    out.into()
}

fn call_tx(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    input: Vec<u8>,
) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 2_000_000,
        max_fee_per_gas: 50_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(STAKING_ADDRESS),
        value: U256::ZERO,
        input: input.into(),
        ..Default::default()
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Recovered::new_unchecked(TxEnvelope::Eip1559(tx.into_signed(sig)), key.address())
}

fn view<C: SolCall>(
    storage: &Storage,
    spec: &ChainSpec,
    head: &SealedHeader,
    call: C,
) -> C::Return {
    let mut sim = dbc_evm::Simulator::new(spec, head.inner(), storage.latest(), Default::default())
        .expect("simulator");
    let request = alloy_rpc_types_eth::TransactionRequest::default()
        .to(STAKING_ADDRESS)
        .input(Bytes::from(call.abi_encode()).into());
    let out = sim.call(request).expect("view call");
    C::abi_decode_returns(&out.output).expect("decode")
}

#[test]
fn double_sign_evidence_in_a_block_slashes_and_later_hooks_still_run() {
    let validator = PrivateKeySigner::random();
    let other = PrivateKeySigner::random();
    let spec = pos_spec(&[validator.address(), other.address()]);
    let dir = tempfile::tempdir().expect("tmp");
    let storage = Storage::open(dir.path()).expect("open");
    init_genesis(&storage, &spec).expect("genesis");
    let mut trie = rebuild_trie(&storage).expect("trie");
    let reporter = dev_signers(1).expect("keys").remove(0);
    let mut parent = storage.header(0).expect("read").expect("genesis");

    for n in 1..=3u64 {
        let txs = if n == 2 {
            let call = IStaking::submitDoubleSignCall {
                headerA: sealed_header(&validator, 1, b"a"),
                headerB: sealed_header(&validator, 1, b"b"),
            };

            vec![call_tx(&reporter, spec.chain_id, 0, call.abi_encode())]
        } else {
            vec![]
        };
        let attrs = BlockAttributes {
            timestamp: parent.timestamp + 2,
            beneficiary: other.address(),
            extra_data: Bytes::new(),
            gas_limit: spec.genesis.gas_limit,
            staking_hook: Some((other.address(), vec![validator.address()])),
            prev_randao: None,
        };
        let executed =
            build_block(&spec, &parent, storage.latest(), attrs, &mut TxList::new(txs), &mut trie)
                .unwrap_or_else(|e| panic!("block {n}: {e}"));
        assert!(executed.receipts.iter().all(|r| r.status()), "block {n}: a transaction failed");
        storage
            .commit_block(&executed.block, &executed.receipts, &executed.changes)
            .expect("commit");
        parent = executed.block.header.clone();
    }
    let v = view(
        &storage,
        &spec,
        &parent,
        IStaking::getValidatorCall { validator: validator.address() },
    );
    assert!(v.jailedUntil > 0, "jailed");
    assert!(
        v.totalStake < U256::from(100_000u64) * U256::from(10u64).pow(U256::from(18)),
        "slashed"
    );
}

//! Parameter changes by referendum: a market record in force from its epoch boundary on (the
//! market charges the new stake and burns by the new tiers), refusals with the genesis checks'
//! messages, a stale record failing at enactment, and a validator-set size change.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent, SolValue};

use super::proposal_tests::{ALICE, PROPOSER, chain, dbc, end_block, end_blocks_to, send, view};
use crate::{
    abi::{
        IGovernance::{self, Kind, Route, Status, Target},
        IGpuMarket,
    },
    testing::MockChain,
};

fn record(c: &mut MockChain, target: Target) -> Bytes {
    view(c, IGovernance::currentParamsCall { target })
}

fn market(c: &mut MockChain) -> IGovernance::MarketParamsV1 {
    let rec = record(c, Target::Market);
    IGovernance::MarketParamsV1::abi_decode(&rec).unwrap()
}

fn propose(target: Target, params: Vec<u8>, what: &str) -> IGovernance::proposeParamsCall {
    IGovernance::proposeParamsCall {
        target,
        params: params.into(),
        route: Route::Referendum,
        description: what.into(),
    }
}

fn deposit(c: &mut MockChain, kind: Kind) -> U256 {
    view(c, IGovernance::requiredDepositCall { kind, spendAmount: U256::ZERO })
}

/// The reason of an `InvalidParams` revert.
fn invalid<C: SolCall>(c: &mut MockChain, call: C) -> String {
    let d = deposit(c, Kind::ParamChange);
    let out = c.tx_governance(PROPOSER, d, &call.abi_encode(), false, true).unwrap_err();
    IGovernance::InvalidParams::abi_decode(&out).unwrap().reason
}

/// `register` of a one-GPU RTX 4090 machine `n` paying `stake`.
fn register(c: &mut MockChain, n: u8, stake: U256) -> Result<Bytes, Bytes> {
    let call = IGpuMarket::registerCall {
        machineId: keccak256([n]),
        spec: crate::tests::spec_cp(1, 1_000),
    };
    c.tx(PROPOSER, stake, &call.abi_encode())
}

#[test]
fn a_market_change_is_in_force_from_its_epoch_boundary_on() {
    let mut c = chain();
    send(&mut c, ALICE, dbc(60), IGovernance::lockCall {});
    let genesis = market(&mut c);
    assert_eq!(genesis, crate::params::market_v1(&c.params));
    let v0 = view(&mut c, IGovernance::paramsVersionCall { target: Target::Market });
    assert_eq!((v0.version, v0.effectiveFrom, v0.paramsHash), (0, 0, B256::ZERO));

    // Refused, with the genesis checks' own words.
    let mut bad = genesis.clone();
    bad.rewards.immediateBps = 10_001;
    let why = invalid(&mut c, propose(Target::Market, bad.abi_encode(), "bad"));
    assert_eq!(why, "market.immediateBps = 10001 exceeds 10000 bps");
    let mut bad = genesis.clone();
    bad.rewards.epochBlocks += 1;
    let why = invalid(&mut c, propose(Target::Market, bad.abi_encode(), "bad"));
    assert!(why.starts_with("market.epochBlocks cannot change"), "{why}");
    let mut long = genesis.abi_encode();
    long.extend([0u8; 32]);
    assert_eq!(invalid(&mut c, propose(Target::Market, long, "x")), "non-canonical encoding");
    let mut short = genesis.abi_encode();
    short.pop();
    assert!(invalid(&mut c, propose(Target::Market, short, "x")).starts_with("not a market"));
    // A staking record is not a market record.
    let st = record(&mut c, Target::Staking).to_vec();
    assert!(invalid(&mut c, propose(Target::Market, st, "x")).starts_with("not a market"));

    // Double the stake per GPU; burn 50% below 10 online GPUs and everything from 10 on.
    let mut new = genesis.clone();
    new.stake.stakePerGpu = dbc(2_000);
    new.rent.burnTiers = vec![
        IGovernance::BurnTierRow { fromGpus: 0, bps: 5_000 },
        IGovernance::BurnTierRow { fromGpus: 10, bps: 10_000 },
    ];
    let rec = new.abi_encode();
    let d = deposit(&mut c, Kind::ParamChange);
    assert_eq!(d, dbc(100));
    let id = send(&mut c, PROPOSER, d, propose(Target::Market, rec.clone(), "stake 2,000"));
    let p = view(&mut c, IGovernance::getProposalCall { id });
    assert_eq!(
        (p.kind, p.target, p.payloadHash, p.baseVersion),
        (Kind::ParamChange, Target::Market, keccak256(&rec), 0)
    );
    assert_eq!(view(&mut c, IGovernance::proposalPayloadCall { id }).to_vec(), rec);
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 });

    // Passed at 6, enacted at the end of block 9: block 9 still runs the genesis numbers.
    end_blocks_to(&mut c, 8);
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).enactAt, 10);
    register(&mut c, 1, dbc(1_000)).unwrap();
    let burn = IGpuMarket::burnRateBpsForCall { onlineGpus: 0 }.abi_encode();
    let rate = |c: &mut MockChain| {
        let out = c.tx_with(ALICE, U256::ZERO, &burn, true, true, 1_000_000).unwrap();
        IGpuMarket::burnRateBpsForCall::abi_decode_returns(&out).unwrap()
    };
    assert_eq!(rate(&mut c), 3_000);
    let logs = end_block(&mut c);
    let changed =
        logs.iter().find_map(|l| IGovernance::ParamsChanged::decode_log_data(l).ok()).unwrap();
    assert_eq!(
        (changed.target, changed.version, changed.effectiveFrom, changed.paramsHash),
        (Target::Market, 1, 10, keccak256(&rec))
    );
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).status, Status::Enacted);

    // On block 9's final state (an `eth_call` at block 9) the genesis record is still the one
    // in force.
    c.number = 9;
    assert_eq!(c.running().market.stake_per_gpu, dbc(1_000));
    assert_eq!(rate(&mut c), 3_000);
    assert_eq!(view(&mut c, IGovernance::paramsVersionCall { target: Target::Market }).version, 0);
    assert_eq!(market(&mut c), genesis);
    c.number = 10;

    // Block 10: the market asks for the new stake and burns by the new tiers.
    let out = register(&mut c, 2, dbc(1_000)).unwrap_err();
    assert_eq!(
        out,
        Bytes::from(IGpuMarket::WrongStake { required: dbc(2_000), sent: dbc(1_000) }.abi_encode())
    );
    register(&mut c, 2, dbc(2_000)).unwrap();
    assert_eq!(rate(&mut c), 5_000);
    assert_eq!(record(&mut c, Target::Market).to_vec(), rec);
    let v1 = view(&mut c, IGovernance::paramsVersionCall { target: Target::Market });
    assert_eq!((v1.version, v1.effectiveFrom, v1.paramsHash), (1, 10, keccak256(&rec)));
    // The other targets are untouched.
    let v = view(&mut c, IGovernance::paramsVersionCall { target: Target::Staking });
    assert_eq!(v.version, 0);
}

#[test]
fn a_stale_record_fails_and_a_set_size_change_builds_on_the_one_before() {
    let mut c = chain();
    send(&mut c, ALICE, dbc(60), IGovernance::lockCall {});
    let g =
        IGovernance::GovernanceParamsV1::abi_decode(&record(&mut c, Target::Governance)).unwrap();
    let first = IGovernance::GovernanceParamsV1 { maxPayloadBytes: 100, ..g.clone() };
    let second = IGovernance::GovernanceParamsV1 { referendumTurnoutBps: 400, ..g.clone() };
    let mut ids = vec![];
    for (rec, what) in [(first.abi_encode(), "first"), (second.abi_encode(), "second")] {
        let d = deposit(&mut c, Kind::ParamChange);
        ids.push(send(&mut c, PROPOSER, d, propose(Target::Governance, rec, what)));
    }
    // Refused: a set of none, a set larger than maxCandidates, fewer open slots than open.
    let size = |n: u32| IGovernance::proposeValidatorSetSizeCall {
        maxValidators: n,
        route: Route::Referendum,
        description: "size".into(),
    };
    assert!(invalid(&mut c, size(0)).contains("maxValidators must be positive"));
    assert!(invalid(&mut c, size(201)).contains("maxCandidates must be at least"));
    let shrink = IGovernance::GovernanceParamsV1 { maxOpenProposals: 1, ..g.clone() };
    let why = invalid(&mut c, propose(Target::Governance, shrink.abi_encode(), "x"));
    assert_eq!(why, "governance.maxOpenProposals = 1 is below the 2 proposals open now");
    let d = deposit(&mut c, Kind::ValidatorSetSize);
    ids.push(send(&mut c, PROPOSER, d, size(7)));
    for &id in &ids {
        send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 });
    }
    let logs = end_blocks_to(&mut c, 9);
    let status = |c: &mut MockChain, id| view(c, IGovernance::getProposalCall { id }).status;
    assert_eq!(status(&mut c, ids[0]), Status::Enacted);
    assert_eq!(status(&mut c, ids[1]), Status::EnactmentFailed);
    assert_eq!(status(&mut c, ids[2]), Status::Enacted);
    let failed =
        logs.iter().find_map(|l| IGovernance::EnactmentFailed::decode_log_data(l).ok()).unwrap();
    assert_eq!(failed.id, ids[1]);
    assert!(failed.reason.contains("changed since the proposal (version 1, proposed against 0)"));
    let p = c.running();
    assert_eq!(p.governance.max_payload_bytes, 100);
    assert_eq!(p.governance.referendum_turnout_bps, 500);
    assert_eq!(p.staking.max_validators, 7);
    // The size change kept the rest of the staking record.
    assert_eq!(p.staking.epoch_blocks, 10);
    let s = view(&mut c, IGovernance::paramsVersionCall { target: Target::Staking });
    assert_eq!((s.version, s.effectiveFrom), (1, 10));
    let _ = Address::ZERO;
}

#[test]
fn the_loader_refuses_a_record_the_chain_did_not_check() {
    use crate::{
        params::{G_PARAMS_CHANGES, G_PARAMS_HASH, G_PARAMS_META, T_BLOB},
        store::slot,
    };
    let mut c = chain();
    let genesis = c.genesis_params();
    // What an `eth_call` state override could write: a market record with a zero vesting
    // period (valid ABI, refused by the genesis checks), in force.
    let mut v = crate::params::market_v1(&genesis.market);
    v.rewards.vestingBlocks = 0;
    let rec = v.abi_encode();
    let hash = keccak256(&rec);
    let gov = crate::GOVERNANCE_ADDRESS;
    c.set_storage(gov, U256::from(G_PARAMS_CHANGES), U256::from(1));
    c.set_storage(gov, U256::from(G_PARAMS_HASH), U256::from_be_bytes(hash.0));
    c.set_storage(gov, U256::from(G_PARAMS_META), U256::from(1));
    c.set_storage(gov, slot(T_BLOB, hash, 0), U256::from(rec.len()));
    for (i, w) in rec.chunks(32).enumerate() {
        c.set_storage(gov, slot(T_BLOB, hash, 1 + i as u64), U256::from_be_slice(w));
    }
    let e = crate::params::in_force_params(&mut c, &genesis).unwrap_err();
    assert!(e.contains("is not valid") && e.contains("vestingBlocks"), "{e}");
    // The same record with a valid period loads.
    v.rewards.vestingBlocks = 10;
    let rec = v.abi_encode();
    let hash = keccak256(&rec);
    c.set_storage(gov, U256::from(G_PARAMS_HASH), U256::from_be_bytes(hash.0));
    c.set_storage(gov, slot(T_BLOB, hash, 0), U256::from(rec.len()));
    for (i, w) in rec.chunks(32).enumerate() {
        c.set_storage(gov, slot(T_BLOB, hash, 1 + i as u64), U256::from_be_slice(w));
    }
    assert_eq!(crate::params::in_force_params(&mut c, &genesis).unwrap().market.vesting_blocks, 10);
}

//! Unit tests of the staking precompile on the in-memory host.
#![allow(clippy::unwrap_used)]

use crate::{STAKING_ADDRESS, abi::IStaking, testing::MockChain};
use alloy_primitives::{Address, Bytes, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolEvent};
use dbc_chainspec::{DBC, GenesisValidator, StakingParams};
use dbc_primitives::{BlockHeader, pos};

fn dbc(n: u64) -> U256 {
    U256::from(n) * U256::from(DBC)
}

const A: Address = address!("0x00000000000000000000000000000000000000a1");
const B: Address = address!("0x00000000000000000000000000000000000000b2");
const C: Address = address!("0x00000000000000000000000000000000000000c3");
const D: Address = address!("0x00000000000000000000000000000000000000d4");
const ALICE: Address = address!("0x00000000000000000000000000000000000a11ce");

fn params() -> StakingParams {
    StakingParams {
        epoch_blocks: 10,
        max_validators: 2,
        max_candidates: 10,
        min_self_stake: dbc(100),
        min_delegation: dbc(1),
        unbonding_blocks: 5,
        // 10 DBC a block for the first era (the pool of 25 runs dry first).
        emission: dbc_chainspec::EmissionSchedule {
            era_blocks: 1_000_000,
            initial_per_block: dbc(10),
            flat_eras: 2,
            decay_bps: 0,
            end_era: 2,
        },
        reward_pool: dbc(25),
        max_commission_bps: 5_000,
        max_commission_increase_bps: 500,
        double_sign_slash_bps: 1_000,
        evidence_reward_bps: 2_000,
        // Burned, as before the treasury (a test below sends a share there).
        slash_treasury_bps: 0,
        downtime_jail_missed: 3,
        downtime_slash_bps: 100,
        jail_blocks: 4,
        validators: vec![
            GenesisValidator { address: A, stake: dbc(300), commission_bps: 1_000 },
            GenesisValidator { address: B, stake: dbc(200), commission_bps: 0 },
        ],
    }
}

/// A chain whose staking account holds the genesis stakes and the pool, after block 1.
fn chain() -> MockChain {
    let mut c = MockChain::new(Default::default());
    c.staking = params();
    c.fund(STAKING_ADDRESS, dbc(500) + c.staking.reward_pool);
    for who in [A, B, C, D, ALICE] {
        c.fund(who, dbc(10_000));
    }
    c.staking_block(A, vec![]);
    c
}

fn call<T: SolCall>(c: &mut MockChain, who: Address, value: U256, x: T) -> Result<Bytes, Bytes> {
    c.tx_staking(who, value, &x.abi_encode())
}

fn view<T: SolCall>(c: &mut MockChain, x: T) -> T::Return {
    let out = c.tx_staking_with(Address::ZERO, U256::ZERO, &x.abi_encode(), true, true).unwrap();
    T::abi_decode_returns(&out).unwrap()
}

fn validator(c: &mut MockChain, v: Address) -> IStaking::Validator {
    view(c, IStaking::getValidatorCall { validator: v })
}

fn delegation(c: &mut MockChain, v: Address, d: Address) -> IStaking::Delegation {
    view(c, IStaking::getDelegationCall { validator: v, delegator: d })
}

fn active(c: &mut MockChain) -> Vec<Address> {
    view(c, IStaking::activeValidatorsCall {})
}

fn err<E: SolError + PartialEq + std::fmt::Debug>(r: Result<Bytes, Bytes>, e: E) {
    let data = r.expect_err("should revert");
    assert_eq!(E::abi_decode(&data).expect("custom error"), e);
}

#[test]
fn genesis_validators_are_bonded_and_active_in_stake_order() {
    let mut c = chain();
    assert_eq!(active(&mut c), vec![A, B]);
    let a = validator(&mut c, A);
    assert_eq!(
        (a.selfStake, a.totalStake, a.commissionBps, a.active),
        (dbc(300), dbc(300), 1_000, true)
    );
    assert_eq!(view(&mut c, IStaking::candidatesCall {}), vec![A, B]);
    // The genesis set used for epoch 0 by the engine is the same order.
    assert_eq!(
        crate::staking::genesis_set(&c.staking).iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![A, B]
    );
}

#[test]
fn block_reward_splits_commission_and_delegators_by_shares() {
    let mut c = chain();
    // Block 1 already paid A 10 DBC: 1 commission, 9 to A's shares (A is the only delegator).
    call(&mut c, ALICE, dbc(100), IStaking::delegateCall { validator: A }).unwrap();
    let d = delegation(&mut c, A, ALICE);
    assert_eq!(d.amount, dbc(100));
    c.staking_block(A, vec![]);
    // 10 DBC: 1 commission; 9 shared 300:100 → A 6.75, Alice 2.25.
    assert_eq!(delegation(&mut c, A, ALICE).pendingReward, dbc(225) / U256::from(100));
    assert_eq!(delegation(&mut c, A, A).pendingReward, dbc(9) + dbc(675) / U256::from(100));
    assert_eq!(validator(&mut c, A).commissionOwed, dbc(2));
    let before = c.balance(ALICE);
    call(&mut c, ALICE, U256::ZERO, IStaking::claimRewardsCall { validator: A }).unwrap();
    assert_eq!(c.balance(ALICE) - before, dbc(225) / U256::from(100));
    let before = c.balance(A);
    call(&mut c, A, U256::ZERO, IStaking::claimRewardsCall { validator: A }).unwrap();
    assert_eq!(c.balance(A) - before, dbc(2) + dbc(9) + dbc(675) / U256::from(100));
    // The pool (25) runs out on the third reward: 10 + 10 + 5, then nothing.
    c.staking_block(B, vec![]);
    assert_eq!(view(&mut c, IStaking::rewardPoolRemainingCall {}), U256::ZERO);
    assert_eq!(delegation(&mut c, B, B).pendingReward, dbc(5));
    c.staking_block(B, vec![]);
    assert_eq!(delegation(&mut c, B, B).pendingReward, dbc(5));
}

#[test]
fn undelegate_unbonds_then_withdraws() {
    let mut c = chain();
    call(&mut c, ALICE, dbc(50), IStaking::delegateCall { validator: B }).unwrap();
    err(
        call(&mut c, ALICE, U256::ZERO, IStaking::undelegateCall { validator: B, amount: dbc(51) }),
        IStaking::InsufficientDelegation { available: dbc(50) },
    );
    call(&mut c, ALICE, U256::ZERO, IStaking::undelegateCall { validator: B, amount: dbc(20) })
        .unwrap();
    assert_eq!(delegation(&mut c, B, ALICE).amount, dbc(30));
    assert_eq!(validator(&mut c, B).totalStake, dbc(230));
    // B is in the active set: unbonding starts at the next election (block 10), 5 blocks.
    let release = 15;
    err(
        call(&mut c, ALICE, U256::ZERO, IStaking::withdrawCall {}),
        IStaking::StillUnbonding { releaseBlock: release },
    );
    while c.number < release {
        c.staking_block(A, vec![]);
    }
    let before = c.balance(ALICE);
    call(&mut c, ALICE, U256::ZERO, IStaking::withdrawCall {}).unwrap();
    assert_eq!(c.balance(ALICE) - before, dbc(20));
    err(call(&mut c, ALICE, U256::ZERO, IStaking::withdrawCall {}), IStaking::NothingToWithdraw {});
}

#[test]
fn registration_rules_and_safety() {
    let mut c = chain();
    err(
        call(&mut c, C, dbc(99), IStaking::registerValidatorCall { commissionBps: 0 }),
        IStaking::StakeTooLow { minimum: dbc(100) },
    );
    err(
        call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 5_001 }),
        IStaking::CommissionTooHigh { maximum: 5_000 },
    );
    call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }).unwrap();
    assert_eq!(c.last_logs.len(), 2, "ValidatorRegistered + Delegated");
    assert_eq!(c.last_logs[0].topics()[0], IStaking::ValidatorRegistered::SIGNATURE_HASH);
    err(
        call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }),
        IStaking::AlreadyRegistered {},
    );
    err(
        call(&mut c, ALICE, dbc(5), IStaking::delegateCall { validator: D }),
        IStaking::NotRegistered { validator: D },
    );
    err(call(&mut c, ALICE, dbc(1), IStaking::withdrawCall {}), IStaking::NotPayable {});
    err(
        call(&mut c, ALICE, U256::ZERO, IStaking::onBlockCall { proposer: A, missed: vec![] }),
        IStaking::OnlySystem {},
    );
    let data = IStaking::delegateCall { validator: A }.abi_encode();
    err(c.tx_staking_with(ALICE, dbc(1), &data, true, true), IStaking::StaticCallWrite {});
    err(c.tx_staking_with(ALICE, dbc(1), &data, false, false), IStaking::DelegateCallNotAllowed {});
}

#[test]
fn election_picks_top_stake_at_epoch_boundaries_only() {
    let mut c = chain();
    call(&mut c, C, dbc(250), IStaking::registerValidatorCall { commissionBps: 0 }).unwrap();
    call(&mut c, ALICE, dbc(10), IStaking::delegateCall { validator: C }).unwrap();
    // Mid-epoch: the set does not change.
    c.staking_block(A, vec![]);
    assert_eq!(active(&mut c), vec![A, B]);
    while c.number < 9 {
        c.staking_block(A, vec![]);
    }
    c.staking_block(A, vec![]); // block 10: election for the next epoch.
    assert_eq!(c.number, 10);
    let logs = c.last_logs.clone();
    assert_eq!(active(&mut c), vec![A, C], "C (260) beats B (200)");
    assert!(!validator(&mut c, B).active);
    let ev = logs
        .iter()
        .find(|l| l.topics()[0] == IStaking::ValidatorSetElected::SIGNATURE_HASH)
        .unwrap();
    let ev = IStaking::ValidatorSetElected::decode_log_data(ev).unwrap();
    assert_eq!((ev.epoch, ev.validators), (2, vec![A, C]));
    // A validator below its minimum self-stake is not eligible.
    call(&mut c, C, U256::ZERO, IStaking::undelegateCall { validator: C, amount: dbc(200) })
        .unwrap();
    for _ in 0..10 {
        c.staking_block(A, vec![]);
    }
    assert_eq!(active(&mut c), vec![A, B]);
}

#[test]
fn downtime_jails_slashes_and_unjail_waits() {
    let mut c = chain();
    c.staking_block(A, vec![B]);
    c.staking_block(A, vec![B]);
    assert_eq!(validator(&mut c, B).missedThisEpoch, 2);
    assert_eq!(validator(&mut c, B).jailedUntil, 0);
    c.staking_block(A, vec![B]);
    let b = validator(&mut c, B);
    assert_eq!(b.jailedUntil, c.number + 4);
    assert_eq!(b.totalStake, dbc(198), "1% slashed");
    err(
        call(&mut c, B, U256::ZERO, IStaking::unjailCall {}),
        IStaking::StillJailed { untilBlock: b.jailedUntil },
    );
    // Jailed validators are left out of the next election.
    while c.number < 10 {
        c.staking_block(A, vec![]);
    }
    assert_eq!(active(&mut c), vec![A]);
    call(&mut c, B, U256::ZERO, IStaking::unjailCall {}).unwrap();
    err(call(&mut c, B, U256::ZERO, IStaking::unjailCall {}), IStaking::NotJailed {});
    while c.number < 20 {
        c.staking_block(A, vec![]);
    }
    assert_eq!(active(&mut c), vec![A, B]);
}

fn sealed(signer: &PrivateKeySigner, number: u64, ts: u64, salt: u8) -> Bytes {
    let h = BlockHeader {
        number,
        timestamp: ts,
        gas_limit: 30_000_000 + u64::from(salt),
        extra_data: pos::unsealed_extra(b"dbc", &Default::default()),
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&pos::seal_hash(&h, false)).unwrap();
    alloy_rlp::encode(pos::apply_seal(h, &sig)).into()
}

#[test]
fn double_sign_evidence_slashes_jails_and_pays_the_reporter() {
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = MockChain::new(Default::default());
    let mut p = params();
    p.validators[1].address = v;
    // Issue #17: three quarters of what is left after the reporter's share to the treasury.
    p.slash_treasury_bps = 7_500;
    c.staking = p;
    c.fund(STAKING_ADDRESS, dbc(500) + c.staking.reward_pool);
    c.fund(ALICE, dbc(10));
    c.staking_block(A, vec![]);
    let (x, y) = (sealed(&key, 1, 100, 0), sealed(&key, 1, 100, 1));
    let submit = |c: &mut MockChain, a: &Bytes, b: &Bytes| {
        call(
            c,
            ALICE,
            U256::ZERO,
            IStaking::submitDoubleSignCall { headerA: a.clone(), headerB: b.clone() },
        )
    };
    let invalid = |r: &str| IStaking::InvalidEvidence { reason: r.into() };
    err(submit(&mut c, &x, &x), invalid("the headers are the same"));
    err(submit(&mut c, &x, &sealed(&key, 1, 106, 1)), invalid("headers are for different slots"));
    let other = PrivateKeySigner::random();
    err(submit(&mut c, &x, &sealed(&other, 1, 100, 1)), invalid("sealed by different validators"));
    err(submit(&mut c, &x, &Bytes::from_static(b"\x01\x02")), invalid("headers do not decode"));
    let before = c.balance(ALICE);
    submit(&mut c, &x, &y).unwrap();
    let logs = c.last_logs.clone();
    let val = validator(&mut c, v);
    assert_eq!(val.totalStake, dbc(180), "10% of 200 slashed");
    assert_eq!(val.jailedUntil, c.number + 4);
    assert_eq!(c.balance(ALICE) - before, dbc(4), "20% of the slash");
    assert_eq!(c.balance(crate::GOVERNANCE_ADDRESS), dbc(12), "75% of the other 16");
    assert_eq!(c.burned(), dbc(4), "the rest of the slash is burned");
    assert_eq!(view(&mut c, IStaking::totalBurnedCall {}), dbc(4));
    let ev = logs.iter().find(|l| l.topics()[0] == IStaking::Slashed::SIGNATURE_HASH).unwrap();
    assert_eq!(IStaking::Slashed::decode_log_data(ev).unwrap().amount, dbc(20));
    let ev = logs
        .iter()
        .find(|l| l.topics()[0] == crate::abi::IGovernance::TreasuryReceived::SIGNATURE_HASH)
        .unwrap();
    let t = crate::abi::IGovernance::TreasuryReceived::decode_log_data(ev).unwrap();
    assert_eq!((t.source, t.from, t.amount), (5, v, dbc(12)));
    err(submit(&mut c, &y, &x), IStaking::EvidenceAlreadyUsed {});
    // The staking account paid 4 to the reporter, 12 to the treasury and burned 4 (block
    // rewards stay in it until claimed).
    assert_eq!(c.balance(STAKING_ADDRESS), dbc(500) + c.staking.reward_pool - dbc(20));
}

#[test]
fn slash_reduces_every_delegation_pro_rata() {
    let mut c = chain();
    call(&mut c, ALICE, dbc(200), IStaking::delegateCall { validator: B }).unwrap();
    for _ in 0..3 {
        c.staking_block(A, vec![B]);
    }
    // 1% of 400.
    assert_eq!(validator(&mut c, B).totalStake, dbc(396));
    assert_eq!(delegation(&mut c, B, ALICE).amount, dbc(198));
    assert_eq!(delegation(&mut c, B, B).amount, dbc(198));
}

mod security;

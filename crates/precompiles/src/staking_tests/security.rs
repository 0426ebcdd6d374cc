//! Regression tests of the staking fixes of security review 2026-12-01 (C1, H8, M3).

use super::*;
use alloy_primitives::Signature;

/// A chain whose genesis validator B is `key` (active, self-stake 200 DBC).
fn chain_with(key: &PrivateKeySigner) -> MockChain {
    let mut c = MockChain::new(Default::default());
    let mut p = params();
    p.validators[1].address = key.address();
    c.staking = p;
    c.fund(STAKING_ADDRESS, dbc(500) + c.staking.reward_pool);
    for who in [A, C, D, ALICE, key.address()] {
        c.fund(who, dbc(10_000));
    }
    c.staking_block(A, vec![]);
    c
}

fn submit(c: &mut MockChain, who: Address, a: &[u8], b: &[u8]) -> Result<Bytes, Bytes> {
    let x = IStaking::submitDoubleSignCall {
        headerA: Bytes::copy_from_slice(a),
        headerB: Bytes::copy_from_slice(b),
    };
    call(c, who, U256::ZERO, x)
}

fn invalid(r: &str) -> IStaking::InvalidEvidence {
    IStaking::InvalidEvidence { reason: r.into() }
}

fn unbonding(c: &mut MockChain, who: Address) -> (U256, u64) {
    let r = view(c, IStaking::getUnbondingCall { delegator: who });
    (r.amount, r.releaseBlock)
}

fn undelegate(c: &mut MockChain, who: Address, v: Address, amount: U256) -> Result<Bytes, Bytes> {
    call(c, who, U256::ZERO, IStaking::undelegateCall { validator: v, amount })
}

fn withdraw(c: &mut MockChain, who: Address) -> U256 {
    let before = c.balance(who);
    call(c, who, U256::ZERO, IStaking::withdrawCall {}).unwrap();
    c.balance(who) - before
}

fn advance_to(c: &mut MockChain, n: u64) {
    while c.number < n {
        c.staking_block(A, vec![]);
    }
}

/// `raw` (an RLP header) with its 65-byte seal replaced by `seal`.
fn reseal(raw: &[u8], seal: [u8; 65]) -> Vec<u8> {
    let mut h = pos::decode_header_exact(raw).unwrap();
    let mut extra = h.extra_data.to_vec();
    let n = extra.len() - 65;
    extra[n..].copy_from_slice(&seal);
    h.extra_data = extra.into();
    alloy_rlp::encode(&h)
}

fn seal_of(raw: &[u8]) -> [u8; 65] {
    let h = pos::decode_header_exact(raw).unwrap();
    pos::parse_extra(&h.extra_data).unwrap().1
}

/// C1: a header plus a trailing byte, or the same header with its seal re-encoded (v = 0/1, or
/// high s), is not a second signature: no slash of an honest validator. A real double sign
/// (different signed content, same slot and sealer) still slashes.
#[test]
fn c1_reencoded_or_padded_headers_are_not_double_sign_evidence() {
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = chain_with(&key);
    let x = sealed(&key, 1, 100, 0);
    let seal = seal_of(&x);

    let mut padded = x.to_vec();
    padded.push(0);
    err(submit(&mut c, C, &x, &padded), invalid("headers do not decode"));

    let mut v01 = seal;
    v01[64] -= 27;
    let v0 = reseal(&x, v01);
    err(submit(&mut c, C, &x, &v0), invalid("the headers are the same"));

    let sig = Signature::from_raw(&seal).unwrap();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
    assert_eq!(
        high.recover_address_from_prehash(&pos::seal_hash(
            &pos::decode_header_exact(&x).unwrap(),
            true
        ))
        .unwrap(),
        v,
        "the high-s twin is a valid signature of the same key"
    );
    let high_s = reseal(&x, high.as_bytes());
    err(submit(&mut c, C, &x, &high_s), invalid("the headers are the same"));
    err(submit(&mut c, C, &v0, &high_s), invalid("the headers are the same"));

    // A non-canonical seal does not count even next to a genuinely different header.
    let y = sealed(&key, 1, 100, 1);
    let bad_v = reseal(&y, {
        let mut s = seal_of(&y);
        s[64] -= 27;
        s
    });
    let e = submit(&mut c, C, &x, &bad_v).unwrap_err();
    let reason = IStaking::InvalidEvidence::abi_decode(&e).unwrap().reason;
    assert!(reason.contains("non-canonical v"), "{reason}");

    let val = validator(&mut c, v);
    assert_eq!((val.totalStake, val.jailedUntil), (dbc(200), 0), "honest validator untouched");
    assert_eq!(c.burned(), U256::ZERO);

    // The real double sign still slashes.
    submit(&mut c, C, &x, &y).unwrap();
    assert_eq!(validator(&mut c, v).totalStake, dbc(180));
    err(submit(&mut c, C, &y, &x), IStaking::EvidenceAlreadyUsed {});
}

/// H8: a validator that double-signs and then undelegates everything (its delegators too)
/// is still slashed out of the unbonding stake; withdrawals pay the slashed value.
#[test]
fn h8_undelegating_after_double_signing_does_not_escape_the_slash() {
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = chain_with(&key);
    call(&mut c, ALICE, dbc(100), IStaking::delegateCall { validator: v }).unwrap();
    let (x, y) = (sealed(&key, 2, 104, 0), sealed(&key, 2, 104, 1));
    c.staking_block(A, vec![]); // block 2: v seals two blocks
    c.staking_block(A, vec![]);
    undelegate(&mut c, v, v, dbc(200)).unwrap();
    undelegate(&mut c, ALICE, v, dbc(100)).unwrap();
    assert_eq!(validator(&mut c, v).totalStake, U256::ZERO);
    // v is in the active set: unbonding starts at the next election (block 10).
    assert_eq!(unbonding(&mut c, v), (dbc(200), 15));

    let before = c.balance(C);
    submit(&mut c, C, &x, &y).unwrap();
    assert_eq!(c.balance(C) - before, dbc(6), "20% of the 10% of 300 cut from unbonding");
    assert_eq!(c.burned(), dbc(24));
    assert_eq!(unbonding(&mut c, v).0, dbc(180));
    assert_eq!(unbonding(&mut c, ALICE).0, dbc(90));
    advance_to(&mut c, 14);
    err(
        call(&mut c, v, U256::ZERO, IStaking::withdrawCall {}),
        IStaking::StillUnbonding { releaseBlock: 15 },
    );
    c.staking_block(A, vec![]);
    assert_eq!(withdraw(&mut c, v), dbc(180));
    assert_eq!(withdraw(&mut c, ALICE), dbc(90));
    // Conservation: everything paid out or burned; the staking account keeps only A's 300,
    // the unclaimed rewards and what is left of the pool.
    assert_eq!(c.balance(STAKING_ADDRESS), dbc(300) + c.staking.reward_pool);
}

/// H8: stake that started unbonding before the infraction (here: effective at the election
/// of block 10, infraction at 12) is not cut.
#[test]
fn h8_unbonding_started_before_the_infraction_is_not_slashed() {
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = chain_with(&key);
    call(&mut c, ALICE, dbc(100), IStaking::delegateCall { validator: v }).unwrap();
    undelegate(&mut c, ALICE, v, dbc(100)).unwrap();
    advance_to(&mut c, 12);
    let (x, y) = (sealed(&key, 12, 124, 0), sealed(&key, 12, 124, 1));
    c.staking_block(A, vec![]);
    submit(&mut c, C, &x, &y).unwrap();
    assert_eq!(validator(&mut c, v).totalStake, dbc(180));
    assert_eq!(unbonding(&mut c, ALICE), (dbc(100), 15));
    advance_to(&mut c, 15);
    assert_eq!(withdraw(&mut c, ALICE), dbc(100));
}

/// H8: the offender submitting its own evidence is not paid the reporter's share.
#[test]
fn h8_the_offender_is_not_paid_the_reporter_share() {
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = chain_with(&key);
    let (x, y) = (sealed(&key, 1, 100, 0), sealed(&key, 1, 100, 1));
    let before = c.balance(v);
    submit(&mut c, v, &x, &y).unwrap();
    assert_eq!(c.balance(v), before, "no reward to the offender");
    assert_eq!(c.burned(), dbc(20), "the whole 10% of 200 is burned");
    assert_eq!(view(&mut c, IStaking::totalBurnedCall {}), dbc(20));
}

/// H8: an active validator's self-stake keeps counting in the set and stays slashable until
/// the next election (here a downtime slash in the same epoch), which then drops it.
#[test]
fn h8_active_validator_self_stake_stays_at_risk_until_the_election() {
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = chain_with(&key);
    c.staking_block(A, vec![]);
    undelegate(&mut c, v, v, dbc(200)).unwrap();
    assert_eq!(unbonding(&mut c, v), (dbc(200), 15), "not released at 2 + 5");
    assert_eq!(active(&mut c), vec![A, v], "counted until the election");
    for _ in 0..3 {
        c.staking_block(A, vec![v]);
    }
    assert_eq!(unbonding(&mut c, v).0, dbc(198), "1% downtime slash reaches the unbonding");
    advance_to(&mut c, 10);
    assert_eq!(active(&mut c), vec![A]);
    advance_to(&mut c, 15);
    assert_eq!(withdraw(&mut c, v), dbc(198));
}

/// H8: unbonding entries per delegator are bounded (one per validator and start bucket) and
/// `withdraw` frees matured ones; a slash visits a bounded number of buckets.
#[test]
fn h8_unbonding_entries_are_bounded_and_gas_is_charged() {
    let mut c = chain();
    call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }).unwrap();
    call(&mut c, ALICE, dbc(50), IStaking::delegateCall { validator: C }).unwrap();
    let max = crate::staking::MAX_UNBONDING_ENTRIES;
    let mut full_scan_gas = 0;
    for i in 0..max {
        undelegate(&mut c, ALICE, C, dbc(1)).unwrap();
        full_scan_gas = c.last_gas;
        if i == 0 {
            // Same validator and bucket: merged into the same entry.
            undelegate(&mut c, ALICE, C, dbc(1)).unwrap();
        }
        c.staking_block(A, vec![]);
    }
    let list = view(&mut c, IStaking::getUnbondingsCall { delegator: ALICE });
    assert_eq!(list.len() as u64, max);
    assert_eq!(list[0].amount, dbc(2));
    err(
        undelegate(&mut c, ALICE, C, dbc(1)),
        IStaking::TooManyUnbondings { maximum: U256::from(max) },
    );
    undelegate(&mut c, ALICE, C, U256::ZERO).unwrap_err();
    // Matured entries are freed by `withdraw`.
    let n = c.number;
    let matured = list.iter().filter(|u| u.releaseBlock <= n).count() as u64;
    assert!(matured > 0);
    let paid = withdraw(&mut c, ALICE);
    let withdraw_gas = c.last_gas;
    assert_eq!(paid, dbc(matured + 1));
    let left = view(&mut c, IStaking::getUnbondingsCall { delegator: ALICE });
    assert_eq!(left.len() as u64, max - matured);
    undelegate(&mut c, ALICE, C, dbc(1)).unwrap();
    eprintln!(
        "gas: undelegate adding the 16th entry {full_scan_gas}, withdraw of {matured} of \
         {max} entries {withdraw_gas}"
    );
    // The bound is the work, not a target: the 16th entry reads 16 entries of 3 cold slots
    // (≈100k gas) and writes a pool and a new entry (≈110k); a withdrawal rewrites them all.
    assert!(withdraw_gas < 400_000 && full_scan_gas < 300_000);
}

/// H8: the slash loop is bounded by the number of buckets, whatever the unbonding history.
#[test]
fn h8_slash_gas_is_bounded() {
    // A candidate outside the active set: its unbonding starts at once, one bucket a block.
    let key = PrivateKeySigner::random();
    let v = key.address();
    let mut c = chain();
    c.fund(v, dbc(1_000));
    call(&mut c, v, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }).unwrap();
    call(&mut c, ALICE, dbc(100), IStaking::delegateCall { validator: v }).unwrap();
    let (x, y) = (sealed(&key, 3, 104, 0), sealed(&key, 3, 104, 1));
    // Unbonding in every bucket from block 3 to 8 (the evidence is at most 5 blocks old).
    for _ in 0..6 {
        c.staking_block(A, vec![]);
        undelegate(&mut c, ALICE, v, dbc(1)).unwrap();
    }
    submit(&mut c, C, &x, &y).unwrap();
    assert_eq!(unbonding(&mut c, ALICE).0, dbc(6) - dbc(6) / U256::from(10));
    let gas = c.last_gas;
    eprintln!("gas: double-sign evidence with unbonding buckets {gas}");
    assert!(gas < 400_000, "{gas}");
}

/// M3: a commission increase is capped per change and only applies from the first epoch
/// boundary at least an epoch away; a decrease applies at once.
#[test]
fn m3_commission_increase_is_capped_and_delayed() {
    let mut c = chain();
    // A: 10% commission, the cap is +5 points a change.
    err(
        call(&mut c, A, U256::ZERO, IStaking::setCommissionCall { commissionBps: 1_501 }),
        IStaking::CommissionIncreaseTooLarge { maximum: 1_500 },
    );
    call(&mut c, A, U256::ZERO, IStaking::setCommissionCall { commissionBps: 1_500 }).unwrap();
    let p = view(&mut c, IStaking::pendingCommissionCall { validator: A });
    assert_eq!((p.commissionBps, p.effectiveBlock), (1_500, 20));
    // Still 10% for the next blocks: block 2's reward of 10 pays 1 commission.
    c.staking_block(A, vec![]);
    assert_eq!(validator(&mut c, A).commissionBps, 1_000);
    assert_eq!(validator(&mut c, A).commissionOwed, dbc(2));
    // No stacking: another increase is capped relative to the commission in force.
    err(
        call(&mut c, A, U256::ZERO, IStaking::setCommissionCall { commissionBps: 2_000 }),
        IStaking::CommissionIncreaseTooLarge { maximum: 1_500 },
    );
    advance_to(&mut c, 19);
    assert_eq!(validator(&mut c, A).commissionBps, 1_000);
    advance_to(&mut c, 20);
    assert_eq!(validator(&mut c, A).commissionBps, 1_500);
    let p = view(&mut c, IStaking::pendingCommissionCall { validator: A });
    assert_eq!((p.commissionBps, p.effectiveBlock), (0, 0));
    // A decrease is immediate and cancels a pending increase.
    call(&mut c, A, U256::ZERO, IStaking::setCommissionCall { commissionBps: 2_000 }).unwrap();
    call(&mut c, A, U256::ZERO, IStaking::setCommissionCall { commissionBps: 500 }).unwrap();
    assert_eq!(validator(&mut c, A).commissionBps, 500);
    let p = view(&mut c, IStaking::pendingCommissionCall { validator: A });
    assert_eq!(p.effectiveBlock, 0);
}

/// M3: a candidate that cannot be elected (self-stake below the minimum, not active) can be
/// removed by anyone, so `maxCandidates` cannot be squatted; its delegators keep their stake
/// and rewards, and coming back does not bypass the commission rules.
#[test]
fn m3_candidates_below_the_minimum_can_be_removed() {
    let mut c = chain();
    c.staking.max_candidates = 3;
    call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }).unwrap();
    call(&mut c, ALICE, dbc(10), IStaking::delegateCall { validator: C }).unwrap();
    err(
        call(&mut c, D, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }),
        IStaking::TooManyCandidates {},
    );
    let remove = |c: &mut MockChain, who: Address, v: Address| {
        call(c, who, U256::ZERO, IStaking::removeCandidateCall { validator: v })
    };
    err(remove(&mut c, D, C), IStaking::CandidateNotRemovable {});
    err(remove(&mut c, D, A), IStaking::CandidateNotRemovable {});
    // The squatter keeps 1 wei of self-stake: still removable.
    undelegate(&mut c, C, C, dbc(100) - U256::from(1)).unwrap();
    remove(&mut c, D, C).unwrap();
    assert_eq!(view(&mut c, IStaking::candidatesCall {}), vec![A, B]);
    call(&mut c, D, dbc(100), IStaking::registerValidatorCall { commissionBps: 0 }).unwrap();
    assert_eq!(view(&mut c, IStaking::candidatesCall {}), vec![A, B, D]);
    err(remove(&mut c, D, C), IStaking::NotRegistered { validator: C });
    err(
        call(&mut c, ALICE, dbc(1), IStaking::delegateCall { validator: C }),
        IStaking::NotRegistered { validator: C },
    );
    // The removed candidate's delegator can still claim and leave.
    call(&mut c, ALICE, U256::ZERO, IStaking::claimRewardsCall { validator: C }).unwrap();
    undelegate(&mut c, ALICE, C, dbc(10)).unwrap();
    // Removing D (after it leaves) makes room for C again; with delegations still there (its
    // own 1 wei), C's commission change on re-registration follows the increase rules.
    undelegate(&mut c, D, D, dbc(100)).unwrap();
    remove(&mut c, A, D).unwrap();
    err(
        call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 5_000 }),
        IStaking::CommissionIncreaseTooLarge { maximum: 500 },
    );
    call(&mut c, C, dbc(100), IStaking::registerValidatorCall { commissionBps: 500 }).unwrap();
    assert_eq!(validator(&mut c, C).commissionBps, 0, "the increase waits");
    assert_eq!(view(&mut c, IStaking::candidatesCall {}), vec![A, B, C]);
}

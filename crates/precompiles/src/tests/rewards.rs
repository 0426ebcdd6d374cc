//! Rewards by grade (25% at once, 75% vesting linearly) and the owner's exit.

use super::*;

#[test]
fn rewards_split_by_grade_with_immediate_and_vesting_shares() {
    let mut t = T::new();
    // No heartbeats in this test: keep the machines online.
    t.c.params.heartbeat_timeout_blocks = 10_000;
    t.committee(3);
    let a = t.online(1, 1, 1_000);
    // A second machine of another owner with twice the calc point.
    t.c.fund(addr(0x40), dbc(10_000));
    t.ok(0x40, dbc(1_000), registerCall { machineId: mid(2), spec: spec_cp(1, 2_000) });
    t.verify(mid(2), &[(true, 2_000), (true, 2_050), (true, 1_900)]);
    let b = mid(2);
    // From here both are online: rewards accrue 1:2.
    let pa0 = t.ok(0x30, U256::ZERO, pendingRewardCall { machineId: a });
    t.c.advance(30);
    let pa = t.ok(0x30, U256::ZERO, pendingRewardCall { machineId: a }) - pa0;
    let pb = t.ok(0x30, U256::ZERO, pendingRewardCall { machineId: b });
    let per_block = params().emission.rate(0, params().reward_pool);
    // b joined one block after the mark: it saw 30 blocks, a 30 blocks at a third.
    assert!(pb > pa * U256::from(19) / U256::from(10) && pb <= pa * U256::from(2) + U256::from(2));
    let total = pa + pb;
    assert!(total <= per_block * U256::from(30) && total >= per_block * U256::from(29));
    // Claim: 25% at once (less the auditors' 1%), the rest vests from the next epoch.
    let owner_before = t.c.balance(addr(OWNER));
    let got = t.ok(OWNER, U256::ZERO, claimRewardsCall {});
    assert_eq!(t.c.balance(addr(OWNER)), owner_before + got);
    let settled = t.machine(a).totalEarned;
    let owner_part = owner_share(settled);
    assert_eq!(got, owner_part / U256::from(4));
    let rw = t.ok(OWNER, U256::ZERO, rewardsOfCall { account: addr(OWNER) });
    assert_eq!(rw.vesting, owner_part - owner_part / U256::from(4));
    assert_eq!(rw.claimable, U256::ZERO);
    err_is::<NothingToClaim>(t.call(OWNER, U256::ZERO, claimRewardsCall {}));
    // Auditors got their 1% at once.
    let aud = t.round(a).auditors[0];
    let ra = t.ok(0x30, U256::ZERO, rewardsOfCall { account: aud });
    assert!(ra.claimable > U256::ZERO);
}

#[test]
fn vesting_releases_linearly_over_the_vesting_period() {
    let mut t = T::new();
    t.committee(3);
    let a = t.online(1, 1, 1_000);
    // Settle once at a known block by going offline (grade → 0).
    t.c.advance(10);
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: a });
    let settled = t.machine(a).totalEarned;
    let owner_part = owner_share(settled);
    let vest = owner_part - owner_part / U256::from(4);
    let immediate = owner_part / U256::from(4);
    let start = (t.c.number / 100 + 1) * 100;
    let v = params().vesting_blocks;
    let rewards = |t: &mut T| t.ok(0x30, U256::ZERO, rewardsOfCall { account: addr(OWNER) });
    assert_eq!(rewards(&mut t).claimable, immediate);
    t.c.number = start;
    assert_eq!(rewards(&mut t).claimable, immediate);
    t.c.number = start + v / 3;
    assert_eq!(rewards(&mut t).claimable, immediate + vest / U256::from(3));
    t.c.number = start + v / 2;
    let got = t.ok(OWNER, U256::ZERO, claimRewardsCall {});
    assert_eq!(got, immediate + vest / U256::from(2));
    t.c.number = start + v;
    let r = rewards(&mut t);
    assert_eq!((r.claimable, r.vesting), (vest - vest / U256::from(2), U256::ZERO));
    t.c.number = start + 10 * v;
    let got2 = t.ok(OWNER, U256::ZERO, claimRewardsCall {});
    assert_eq!(got + got2, owner_part);
}

#[test]
fn exit_after_minimum_period_returns_stake() {
    let mut t = T::new();
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    err_is::<NotMachineOwner>(t.call(RENTER, U256::ZERO, exitCall { machineId: id }));
    err_is::<ExitTooEarly>(t.call(OWNER, U256::ZERO, exitCall { machineId: id }));
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 10 });
    t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 10 });
    // A rented machine cannot leave, whatever the time.
    err_is::<HasActiveRental>(t.call(OWNER, U256::ZERO, exitCall { machineId: id }));
    // Every block runs the hook, as on the chain (a caught-up hook starts at its own block, so
    // a test may not jump over a due item).
    t.c.advance(10);
    // The rental ended in the hook at its end block... after the cooldown it may exit.
    let e2: ExitTooEarly = err_is(t.call(OWNER, U256::ZERO, exitCall { machineId: id }));
    t.c.number = e2.allowedAt;
    let before = t.c.balance(addr(OWNER));
    t.ok(OWNER, U256::ZERO, exitCall { machineId: id });
    assert_eq!(t.c.balance(addr(OWNER)), before + dbc(1_000));
    let m = t.machine(id);
    assert_eq!(((m.status as u8), m.stake), (5, U256::ZERO));
    let s = t.ok(0x30, U256::ZERO, networkStatsCall {});
    assert_eq!((s.totalGpus, s.onlineGpus), (0, 0));
}

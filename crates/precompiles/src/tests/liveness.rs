//! Issue #16 items 2 and 3: calc points from the GPU-model table, heartbeats only the machine's
//! own key can sign, unannounced liveness challenges, and failures slashed when found.

use super::*;
use crate::MARKET_ADDRESS;

/// The secp256k1 group order.
const N: U256 = U256::from_be_bytes(alloy_primitives::hex!(
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
));

#[test]
fn only_table_models_with_their_memory_and_a_machine_key_can_register() {
    let mut t = T::new();
    let stake = dbc(1_000);
    let mut s = spec(1);
    s.gpuModel = B256::right_padding_from(b"RTX 9999");
    let e: UnknownGpuModel =
        err_is(t.call(OWNER, stake, registerCall { machineId: mid(1), spec: s.clone() }));
    assert_eq!(e.model, s.gpuModel);
    // An RTX 4090 has 24 GB.
    let s = MachineSpec { gpuMemoryGb: 48, ..spec(1) };
    err_is::<InvalidSpec>(t.call(OWNER, stake, registerCall { machineId: mid(1), spec: s }));
    let s = MachineSpec { machineKey: Address::ZERO, ..spec(1) };
    err_is::<InvalidSpec>(t.call(OWNER, stake, registerCall { machineId: mid(1), spec: s }));
    t.ok(OWNER, stake, registerCall { machineId: mid(1), spec: spec(1) });
    // The table is readable on chain.
    let row =
        t.ok(0x30, U256::ZERO, gpuModelCall { model: B256::right_padding_from(b"H100 80GB") });
    assert_eq!((row.calcPoint, row.memoryGb), (6_000, 80));
    err_is::<UnknownGpuModel>(t.call(0x30, U256::ZERO, gpuModelCall { model: B256::ZERO }));
}

/// Auditors who agree on an inflated score (or on anything outside the tolerance) vote against
/// the machine: colluding auditors cannot raise a calc point, only the table can.
#[test]
fn auditors_cannot_verify_an_inflated_calc_point() {
    let mut t = T::new();
    t.committee(3);
    let id = t.register(1, 2);
    t.verify(id, &[(true, 2_000), (true, 2_000), (true, 2_000)]);
    assert_eq!((t.machine(id).status as u8), 4, "rejected");
    // At the tolerance's edge (10% of 1,000) a vote still approves.
    let id = t.register(2, 2);
    t.verify(id, &[(true, 1_100), (true, 900), (false, 0)]);
    let m = t.machine(id);
    assert_eq!(((m.status as u8), m.calcPoint), (2, 1_000));
}

#[test]
fn heartbeats_are_signed_by_the_machine_key_over_a_recent_block() {
    let mut t = T::new();
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    t.c.advance(100);
    let now = t.c.number;
    // Another key (the owner's, say) cannot sign for the machine.
    let hb = t.heartbeat_by(&other_key(), id, now - 1);
    err_is::<BadHeartbeatSignature>(t.call(OWNER, U256::ZERO, hb));
    // Only one of the last 64 blocks: not the current one (its hash is not known), not older.
    for n in [now, now + 1, now - 65, 0] {
        let hb = t.heartbeat_by(&machine_key(), id, n);
        let e: StaleHeartbeat = err_is(t.call(OWNER, U256::ZERO, hb));
        assert_eq!((e.blockNumber, e.maxAge), (n, 64));
    }
    // A signature for another machine, or over another block, does not verify.
    let mut hb = t.heartbeat_by(&machine_key(), mid(9), now - 1);
    hb.machineId = id;
    err_is::<BadHeartbeatSignature>(t.call(OWNER, U256::ZERO, hb));
    let mut hb = t.heartbeat_by(&machine_key(), id, now - 2);
    hb.blockNumber = now - 1;
    err_is::<BadHeartbeatSignature>(t.call(OWNER, U256::ZERO, hb));
    // Only the canonical encoding: 65 bytes, low s.
    let good = t.heartbeat_by(&machine_key(), id, now - 64);
    let sig = good.signature.to_vec();
    let s = U256::from_be_slice(&sig[32..64]);
    let mut high = sig.clone();
    high[32..64].copy_from_slice(&(N - s).to_be_bytes::<32>());
    high[64] = if sig[64] == 27 { 28 } else { 27 };
    let mut short = sig.clone();
    short.pop();
    let mut long = sig.clone();
    long.push(0);
    let mut v01 = sig.clone();
    v01[64] -= 27;
    for bad in [high, short, long, v01] {
        let hb = heartbeatCall { signature: bad.into(), ..good.clone() };
        err_is::<BadHeartbeatSignature>(t.call(OWNER, U256::ZERO, hb));
    }
    // The real one, relayed by anybody (the machine key needs no balance).
    let before = t.machine(id).lastHeartbeat;
    t.ok(RENTER, U256::ZERO, good);
    assert!(t.machine(id).lastHeartbeat > before);
    assert_eq!(t.machine(id).lastHeartbeat, now);
}

/// Commits and reveals `faulty` for every drawn auditor of report `rep`.
fn decide(t: &mut T, rep: U256, faulty: bool) {
    let r = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).round;
    assert_eq!((r.phase as u8), 2, "auditors drawn");
    for a in r.auditors {
        let c = keccak256((rep, a, faulty, B256::repeat_byte(5)).abi_encode());
        let seat = t.seat_of(a);
        t.ok(seat, U256::ZERO, commitReportCall { reportId: rep, commitment: c });
    }
    for a in r.auditors {
        let seat = t.seat_of(a);
        t.ok(
            seat,
            U256::ZERO,
            revealReportCall { reportId: rep, faulty, salt: B256::repeat_byte(5) },
        );
    }
}

/// Each member's claimable auditor rewards.
fn claimables(t: &mut T) -> Vec<U256> {
    A.iter()
        .map(|a| t.ok(0x30, U256::ZERO, rewardsOfCall { account: addr(*a) }).claimable)
        .collect()
}

#[test]
fn liveness_challenges_find_failures_which_are_slashed_at_once_and_refunded() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.c.params.challenge_check_blocks = 50;
    // Verifiers earn no share of rewards here, so what auditors receive is the slash's.
    t.c.params.auditor_reward_bps = 0;
    t.committee(4);
    let id = t.online(1, 2, 1_000);
    // Checks with no chance open nothing.
    t.c.advance(500);
    assert_eq!(t.machine(id).openChallenge, U256::ZERO);
    // Two renters, a GPU each.
    t.c.fund(addr(0x40), dbc(1_000_000));
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 500 });
    let r1 = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 500 });
    let r2 = t.ok(0x40, q, rentCall { machineId: id, gpus: 1, blocks: 500 });
    // Every check is a challenge now: the next one opens within 50 blocks.
    t.c.params.challenge_chance_bps = 10_000;
    let mut opened = 0;
    for _ in 0..50 {
        t.c.advance(1);
        if !t.machine(id).openChallenge.is_zero() {
            opened = t.c.number;
            break;
        }
    }
    assert!(opened > 0, "no challenge opened");
    let rep = t.machine(id).openChallenge;
    let report = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep });
    assert_eq!(
        (report.reporter, report.rentalId, report.machineId),
        (MARKET_ADDRESS, U256::ZERO, id)
    );
    t.c.advance(params().draw_delay_blocks);
    let r = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).round;
    assert!(!r.auditors.contains(&addr(OWNER)));
    let (b1, b2) = (t.c.balance(addr(RENTER)), t.c.balance(addr(0x40)));
    let before = claimables(&mut t);
    decide(&mut t, rep, true);
    // The auditors' 20% of the 80 DBC slash goes to the three who found the failure, not to
    // those who verified the machine.
    let after = claimables(&mut t);
    for (i, a) in A.iter().enumerate() {
        let found = r.auditors.contains(&addr(*a));
        let share = if found { dbc(16) / U256::from(3) } else { U256::ZERO };
        assert_eq!(after[i] - before[i], share, "auditor {a:#x} (found it: {found})");
    }
    // Found failing: offline as unreachable, 4% of 2,000 DBC slashed now (10% of it to the two
    // renters, 1:1 by GPUs), both rentals ended with their unused rent back.
    let m = t.machine(id);
    assert_eq!(((m.status as u8), (m.offlineReason as u8)), (3, 3));
    assert_eq!((m.stake, m.openChallenge, m.rentedGpus), (dbc(1_920), U256::ZERO, 0));
    for (rid, who, before) in [(r1, RENTER, b1), (r2, 0x40, b2)] {
        let rental = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
        assert_eq!((rental.status as u8), 2);
        assert!(rental.refunded > q / U256::from(2), "most of the rent comes back");
        assert_eq!(t.c.balance(addr(who)), before + rental.refunded + dbc(4));
    }
    assert_eq!(t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).outcome, 1);
    let stats = t.ok(0x30, U256::ZERO, networkStatsCall {});
    assert_eq!((stats.onlineGpus, stats.rentedGpus), (0, 0)); // Topping the stake up and signing a heartbeat does not bring it back (a fake machine could
    // do that at once): auditors verify it again first.
    t.ok(OWNER, dbc(80), addStakeCall { machineId: id });
    t.beat_ok(id);
    assert!(t.c.last_logs.iter().any(|l| MachineReverifying::decode_log_data(l).is_ok()));
    assert_eq!((t.machine(id).status as u8), 1, "verifying, not online");
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 10 });
    err_is::<BadMachineStatus>(t.call(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 10 }));
    t.verify(id, &[(true, 1_000), (true, 1_000), (false, 0)]);
    let m = t.machine(id);
    assert_eq!(((m.status as u8), m.calcPoint), (2, 1_000), "verified again");
}

#[test]
fn a_machine_found_serving_keeps_serving_and_cannot_leave_while_challenged() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.c.params.challenge_check_blocks = 50;
    t.c.params.challenge_chance_bps = 10_000;
    t.committee(4);
    let id = t.online(1, 1, 1_000);
    t.c.advance(50);
    let rep = t.machine(id).openChallenge;
    assert!(!rep.is_zero());
    let e: ChallengePending = err_is(t.call(OWNER, U256::ZERO, exitCall { machineId: id }));
    assert_eq!(e.reportId, rep);
    // One challenge at a time: the checks meanwhile open none.
    t.c.advance(params().draw_delay_blocks);
    assert_eq!(t.machine(id).openChallenge, rep);
    let stake = t.machine(id).stake;
    decide(&mut t, rep, false);
    let m = t.machine(id);
    assert_eq!(((m.status as u8), m.stake, m.openChallenge), (2, stake, U256::ZERO));
    assert_eq!(t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).outcome, 2);
    // Checks go on while it is online.
    t.c.advance(50);
    assert!(t.machine(id).openChallenge > rep);
}

/// A failure found in a transaction (the last reveal) ends at most 16 rentals there; a machine
/// with more is failed whole by the next block's hook, so a reveal always fits a block.
#[test]
fn a_failure_with_many_rentals_is_finished_by_the_next_blocks_hook() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.c.params.auditor_reward_bps = 0;
    t.c.params.challenge_check_blocks = 50;
    t.committee(4);
    let id = t.online(1, 20, 1_000);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 500 });
    let rentals: Vec<U256> = (0..17)
        .map(|_| t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 500 }))
        .collect();
    t.c.params.challenge_chance_bps = 10_000;
    t.c.advance(50);
    let rep = t.machine(id).openChallenge;
    assert!(!rep.is_zero());
    t.c.advance(params().draw_delay_blocks);
    let finders = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).round.auditors;
    let before = claimables(&mut t);
    decide(&mut t, rep, true);
    assert_eq!((t.machine(id).status as u8), 2, "still online until the hook runs");
    t.c.advance(1);
    // The hook paid the finders their share of the 800 DBC slash.
    let after = claimables(&mut t);
    for (i, a) in A.iter().enumerate() {
        let share = if finders.contains(&addr(*a)) { dbc(160) / U256::from(3) } else { U256::ZERO };
        assert_eq!(after[i] - before[i], share);
    }
    let m = t.machine(id);
    assert_eq!(((m.status as u8), (m.offlineReason as u8), m.rentedGpus), (3, 3, 0));
    assert_eq!(m.stake, dbc(20_000) - dbc(20_000) * U256::from(4) / U256::from(100));
    for rid in rentals {
        let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
        assert_eq!((r.status as u8), 2);
        assert!(r.refunded > U256::ZERO);
    }
}

/// Issue #16 item 3: a rented machine that stops sending heartbeats is found unreachable at
/// the timeout: its rental ends with the unused rent refunded and it is slashed the first
/// unreachable tier at once; on its return the rest of the tier its offline time reached.
#[test]
fn missed_heartbeats_of_a_rented_machine_are_slashed_at_detection_and_refunded() {
    let mut t = T::new();
    t.committee(3);
    let id = t.online(1, 2, 1_000);
    for _ in 0..3 {
        t.c.advance(15);
        t.beat_ok(id);
    }
    assert_eq!((t.machine(id).status as u8), 2);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 500 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 500 });
    let renter_before = t.c.balance(addr(RENTER));
    // Silence: after the timeout the machine is found unreachable.
    t.c.advance(21);
    let m = t.machine(id);
    assert_eq!(((m.status as u8), (m.offlineReason as u8)), (3, 3));
    assert_eq!(t.ok(0x30, U256::ZERO, networkStatsCall {}).onlineGpus, 0);
    let rental = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!((rental.status as u8), 2, "the rental ended when the failure was found");
    assert!(rental.refunded > U256::ZERO && rental.refunded < q);
    // 4% of 2,000 DBC at once; the renter gets 10% of it with its refund.
    assert_eq!(m.stake, dbc(1_920));
    assert_eq!(t.c.balance(addr(RENTER)), renter_before + rental.refunded + dbc(8));
    // Back after 100 blocks offline: the tier for >= 70 blocks is 8%, 4% of which was taken.
    t.c.advance(100 - 1);
    let renter_before = t.c.balance(addr(RENTER));
    let treasury_before = t.c.balance(GOVERNANCE_ADDRESS);
    let n = t.c.number - 1;
    let forged = t.heartbeat_by(&other_key(), id, n);
    err_is::<BadHeartbeatSignature>(t.call(OWNER, U256::ZERO, forged));
    // The slash leaves the stake short: the owner must top it up first.
    let e: StakeTooLow = err_is(t.beat(id));
    assert_eq!(e.stake, dbc(1_920) - dbc(1_920) * U256::from(4) / U256::from(100));
    t.ok(OWNER, dbc(200), addStakeCall { machineId: id });
    t.beat_ok(id);
    let ev = t.c.last_logs.iter().find(|l| l.topics()[0] == Slashed::SIGNATURE_HASH).unwrap();
    let s = Slashed::decode_log_data(ev).unwrap();
    assert_eq!(s.amount, dbc(2_120) * U256::from(4) / U256::from(100));
    assert_eq!(t.c.balance(addr(RENTER)), renter_before + s.toRenter);
    assert_eq!(s.toRenter, s.amount / U256::from(10));
    assert_eq!(s.toAuditors, s.amount / U256::from(5) / U256::from(3) * U256::from(3));
    assert_eq!(t.c.balance(GOVERNANCE_ADDRESS), treasury_before + s.toTreasury);
    let m = t.machine(id);
    assert_eq!((m.status as u8), 2);
    assert_eq!(m.stake, dbc(2_120) - s.amount);
}

#[test]
fn idle_offline_is_not_slashed_and_owner_offline_uses_its_tiers() {
    let mut t = T::new();
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
    assert_eq!((t.machine(id).offlineReason as u8), 1);
    t.c.advance(500);
    t.beat_ok(id);
    assert_eq!(t.machine(id).stake, dbc(1_000));
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 100 });
    t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 });
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
    assert_eq!((t.machine(id).offlineReason as u8), 2);
    t.c.advance(5);
    t.ok(OWNER, dbc(30), addStakeCall { machineId: id });
    t.beat_ok(id);
    // Under 70 blocks: 2%.
    assert_eq!(t.machine(id).stake, dbc(1_030) - dbc(1_030) * U256::from(2) / U256::from(100));
}

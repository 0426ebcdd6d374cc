//! Registration and committee verification: exact stake, calc points at the table value,
//! commit-reveal by the assigned auditors only, reassignment and penalties.

use super::*;

#[test]
fn registration_needs_exact_stake_and_a_valid_spec() {
    let mut t = T::new();
    let e: WrongStake =
        err_is(t.call(OWNER, dbc(999), registerCall { machineId: mid(1), spec: spec(1) }));
    assert_eq!(e.required, dbc(1_000));
    err_is::<InvalidSpec>(t.call(
        OWNER,
        U256::ZERO,
        registerCall { machineId: mid(1), spec: spec(0) },
    ));
    t.register(1, 2);
    assert_eq!(t.c.last_logs.len(), 1, "MachineRegistered");
    err_is::<MachineExists>(t.call(
        OWNER,
        dbc(2_000),
        registerCall { machineId: mid(1), spec: spec(2) },
    ));
    let m = t.machine(mid(1));
    assert_eq!(((m.status as u8), m.stake, m.owner), (1, dbc(2_000), addr(OWNER)));
    let stats = t.ok(0x30, U256::ZERO, networkStatsCall {});
    assert_eq!((stats.totalGpus, stats.onlineGpus, stats.machines), (2, 0, 1));
}

/// Issue #16 item 2: two auditors who found the registered hardware measuring within 10% of its
/// model's table value verify it at the table value, whatever they measured; a measurement
/// outside the tolerance is a vote against (here the minority, penalised).
#[test]
fn verification_approves_at_the_table_value_and_penalises_the_minority() {
    let mut t = T::new();
    t.committee(3);
    let id = t.register(1, 4);
    // No draw before the delay.
    assert_eq!((t.round(id).phase as u8), 1);
    let auditors = t.verify(id, &[(true, 1_080), (true, 905), (true, 1_200)]);
    let revealed: Vec<bool> =
        t.c.last_logs
            .iter()
            .filter_map(|l| VerificationRevealed::decode_log_data(l).ok().map(|e| e.specMatches))
            .collect();
    assert_eq!(revealed, vec![false], "the last reveal, 20% above the table, disapproves");
    let m = t.machine(id);
    assert_eq!(((m.status as u8), m.calcPoint), (2, 1_000), "the RTX 4090's table value");
    assert_eq!(m.pricePerGpuBlock, params().standard_price_per_gpu_block);
    // The third auditor disagreed: 10% of its stake to the treasury.
    let s = t.ok(0x30, U256::ZERO, auditorStakeCall { account: auditors[2] });
    assert_eq!(s, dbc(9_000));
    assert_eq!(t.c.balance(GOVERNANCE_ADDRESS), dbc(1_000));
    let s = t.ok(0x30, U256::ZERO, auditorStakeCall { account: auditors[0] });
    assert_eq!(s, dbc(10_000));
    let stats = t.ok(0x30, U256::ZERO, networkStatsCall {});
    assert_eq!(stats.onlineGpus, 4);
}

#[test]
fn rejected_machine_loses_five_percent() {
    let mut t = T::new();
    t.committee(3);
    let before = t.c.balance(addr(OWNER));
    let id = t.register(1, 2);
    t.verify(id, &[(false, 0), (false, 0), (true, 1_000)]);
    let m = t.machine(id);
    assert_eq!(((m.status as u8), m.stake), (4, U256::ZERO));
    assert_eq!(t.c.balance(addr(OWNER)), before - dbc(100));
    // 5% of 2,000 plus the dissenting auditor's 10% of 10,000, each counted by its source.
    assert_eq!(t.c.balance(GOVERNANCE_ADDRESS), dbc(100) + dbc(1_000));
    let received =
        |t: &T, s: u8| t.c.storage_at(GOVERNANCE_ADDRESS, crate::treasury::received_slot(s));
    assert_eq!(received(&t, crate::treasury::source::REJECTED_MACHINE), dbc(100));
    assert_eq!(received(&t, crate::treasury::source::AUDITOR_PENALTY), dbc(1_000));
    assert_eq!(
        t.c.storage_at(GOVERNANCE_ADDRESS, U256::from(crate::treasury::G_RECEIVED)),
        dbc(1_100)
    );
}

#[test]
fn no_agreement_reassigns_and_owner_cannot_be_drawn() {
    let mut t = T::new();
    t.committee(4);
    // The owner joins the committee too; it must never audit its own machine.
    t.c.fund(addr(OWNER), dbc(10_000));
    t.ok(OWNER, dbc(10_000), joinCommitteeCall {});
    let id = t.register(1, 1);
    // One approves, one rejects, one never reveals: no majority.
    t.verify(id, &[(true, 1_000), (false, 0)]);
    let r = t.round(id);
    assert_eq!(r.attempt, 2, "drawn again");
    assert!(matches!(r.phase as u8, 1 | 2), "drawing or drawn again");
    assert_eq!((t.machine(id).status as u8), 1);
    for _ in 0..5 {
        t.c.advance(params().draw_delay_blocks);
        let r = t.round(id);
        assert!(!r.auditors.contains(&addr(OWNER)));
    }
}

#[test]
fn missing_commits_lead_to_reassignment_and_penalties() {
    let mut t = T::new();
    t.committee(3);
    let id = t.register(1, 1);
    t.c.advance(2);
    let r = t.round(id);
    assert_eq!((r.phase as u8), 2);
    t.c.advance(params().commit_window_blocks + 1);
    let r2 = t.round(id);
    assert_eq!(r2.attempt, 2);
    for a in r.auditors {
        assert_eq!(t.ok(0x30, U256::ZERO, auditorStakeCall { account: a }), dbc(9_000));
    }
    // Below the minimum stake nobody is drawn: the round waits...
    t.c.advance(params().draw_delay_blocks * 3);
    assert_eq!((t.round(id).phase as u8), 1, "nobody eligible");
    err_is::<NotAuditor>(t.call(RENTER, dbc(1), addAuditorStakeCall {}));
    // ...until they top their stakes up.
    for a in r.auditors {
        let seat = t.seat_of(a);
        err_is::<WrongStake>(t.call(seat, U256::ZERO, addAuditorStakeCall {}));
        t.ok(seat, dbc(1_000), addAuditorStakeCall {});
        assert_eq!(t.ok(0x30, U256::ZERO, auditorStakeCall { account: a }), dbc(10_000));
    }
    t.c.advance(params().draw_delay_blocks);
    assert_eq!((t.round(id).phase as u8), 2, "drawn again");
}

#[test]
fn only_assigned_auditors_commit_and_reveals_must_match() {
    let mut t = T::new();
    t.committee(4);
    let id = t.register(1, 1);
    t.c.advance(2);
    let r = t.round(id);
    let outsider = *A.iter().find(|a| !r.auditors.contains(&addr(**a))).unwrap();
    err_is::<NotAssigned>(t.call(
        outsider,
        U256::ZERO,
        commitVerificationCall { machineId: id, commitment: B256::repeat_byte(1) },
    ));
    let seat = t.seat_of(r.auditors[0]);
    t.ok(
        seat,
        U256::ZERO,
        commitVerificationCall { machineId: id, commitment: B256::repeat_byte(1) },
    );
    err_is::<AlreadyCommitted>(t.call(
        seat,
        U256::ZERO,
        commitVerificationCall { machineId: id, commitment: B256::repeat_byte(2) },
    ));
    // Revealing in the commit phase is refused.
    err_is::<WrongPhase>(t.call(
        seat,
        U256::ZERO,
        revealVerificationCall { machineId: id, spec: spec(1), calcPoint: 1, salt: B256::ZERO },
    ));
    // Committee members with assignments cannot leave.
    err_is::<AuditorBusy>(t.call(seat, U256::ZERO, leaveCommitteeCall {}));
    t.ok(outsider, U256::ZERO, leaveCommitteeCall {});
    assert_eq!(t.ok(0x30, U256::ZERO, committeeSizeCall {}), U256::from(3));
}

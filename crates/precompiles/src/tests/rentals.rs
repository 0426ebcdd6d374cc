//! Rentals: tiered burns, pro-rata refunds, the owner's price, when a machine may be rented,
//! fault reports, and a rental's gas.

use super::*;

#[test]
fn renting_burns_by_tier_refunds_pro_rata_and_never_over_rents() {
    let mut t = T::new();
    // No heartbeats in this test: keep the machine online.
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 4, 1_000);
    let price = params().standard_price_per_gpu_block;
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 2, blocks: 100 });
    assert_eq!(q, price * U256::from(200));
    err_is::<InvalidDuration>(t.call(RENTER, q, rentCall { machineId: id, gpus: 2, blocks: 95 }));
    err_is::<InvalidDuration>(t.call(
        RENTER,
        q,
        rentCall { machineId: id, gpus: 2, blocks: 1_010 },
    ));
    err_is::<NotEnoughGpus>(t.call(RENTER, q, rentCall { machineId: id, gpus: 5, blocks: 100 }));
    err_is::<InsufficientPayment>(t.call(
        RENTER,
        q - U256::from(1),
        rentCall { machineId: id, gpus: 2, blocks: 100 },
    ));
    let renter_before = t.c.balance(addr(RENTER));
    // Overpay: the excess comes back.
    let rid = t.ok(RENTER, q + dbc(5), rentCall { machineId: id, gpus: 2, blocks: 100 });
    assert_eq!(t.c.balance(addr(RENTER)), renter_before - q);
    let log = t.c.last_logs.iter().find(|l| l.topics()[0] == Rented::SIGNATURE_HASH).unwrap();
    let ev = Rented::decode_log_data(log).unwrap();
    assert_eq!((ev.gpus, ev.burnBps, ev.paid), (2, 3_000, q));
    let rid2 = t.ok(RENTER, q, rentCall { machineId: id, gpus: 2, blocks: 100 });
    err_is::<NotEnoughGpus>(t.call(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 }));
    assert_eq!(t.machine(id).rentedGpus, 4);
    // Only the renter extends or ends.
    err_is::<NotRenter>(t.call(OWNER, q, extendRentalCall { rentalId: rid, blocks: 100 }));
    err_is::<NotRenter>(t.call(OWNER, U256::ZERO, endRentalCall { rentalId: rid }));
    t.ok(RENTER, q, extendRentalCall { rentalId: rid, blocks: 100 });
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!((r.end - r.start, r.paid), (200, q * U256::from(2)));
    // End early after 50 of 200 blocks: 3/4 refunded, 30% of the rest burned.
    t.c.advance(50);
    let owner_before = t.c.balance(addr(OWNER));
    let renter_before = t.c.balance(addr(RENTER));
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    let paid = q * U256::from(2);
    let refund = paid * U256::from(150) / U256::from(200);
    let used = paid - refund;
    let burned = used * U256::from(3) / U256::from(10);
    assert_eq!(t.c.balance(addr(RENTER)), renter_before + refund);
    assert_eq!(t.c.balance(addr(OWNER)), owner_before + used - burned);
    assert_eq!(t.c.burned(), burned);
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!(((r.status as u8), r.refunded, r.burned), (2, refund, burned));
    err_is::<RentalNotActive>(t.call(RENTER, U256::ZERO, endRentalCall { rentalId: rid }));
    // The second rental expires on its own in the block hook: no refund, all paid out.
    t.c.advance(50);
    let r2 = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid2 });
    assert_eq!(((r2.status as u8), r2.refunded), (2, U256::ZERO));
    assert_eq!(r2.burned, q * U256::from(3) / U256::from(10));
    assert_eq!(t.c.burned(), burned + r2.burned);
    let stats = t.ok(0x30, U256::ZERO, networkStatsCall {});
    assert_eq!((stats.rentedGpus, stats.totalBurned), (0, burned + r2.burned));
    assert_eq!(t.machine(id).rentedGpus, 0);
}

#[test]
fn burn_rate_is_fixed_when_a_rental_starts() {
    let mut p = params();
    p.burn_tiers[1].from_gpus = 5;
    p.burn_tiers[2].from_gpus = 8;
    let mut t = T::new();
    t.c.params = p;
    t.committee(3);
    let a = t.online(1, 4, 1_000);
    assert_eq!(t.ok(0x30, U256::ZERO, burnRateBpsCall {}), 3_000);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: a, gpus: 1, blocks: 10 });
    let rid = t.ok(RENTER, q, rentCall { machineId: a, gpus: 1, blocks: 10 });
    t.online(2, 1, 1_000);
    assert_eq!(t.ok(0x30, U256::ZERO, burnRateBpsCall {}), 7_000);
    t.online(3, 3, 1_000);
    assert_eq!(t.ok(0x30, U256::ZERO, burnRateBpsCall {}), 10_000);
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!(r.burnBps, 3_000);
}

#[test]
fn owner_sets_the_price_and_quotes_follow() {
    let mut t = T::new();
    t.committee(3);
    let id = t.online(1, 2, 2_000);
    let default = params().standard_price_per_gpu_block * U256::from(2);
    assert_eq!(t.machine(id).pricePerGpuBlock, default);
    err_is::<NotMachineOwner>(t.call(
        RENTER,
        U256::ZERO,
        setPriceCall { machineId: id, pricePerGpuBlock: U256::from(1) },
    ));
    err_is::<PriceTooHigh>(t.call(
        OWNER,
        U256::ZERO,
        setPriceCall { machineId: id, pricePerGpuBlock: U256::MAX / U256::from(2) },
    ));
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: dbc(1) });
    let ev = PriceSet::decode_log_data(&t.c.last_logs[0]).unwrap();
    assert_eq!(ev.pricePerGpuBlock, dbc(1));
    assert_eq!(t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 2, blocks: 30 }), dbc(60));
    // 0 restores the calc-point default.
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: U256::ZERO });
    assert_eq!(t.machine(id).pricePerGpuBlock, default);
}

#[test]
fn machines_cannot_be_rented_before_verification_or_while_offline() {
    let mut t = T::new();
    t.committee(3);
    let id = t.register(1, 1);
    err_is::<BadMachineStatus>(t.call(
        RENTER,
        dbc(1),
        rentCall { machineId: id, gpus: 1, blocks: 10 },
    ));
    t.verify(id, &[(true, 1_000), (true, 1_000), (true, 1_000)]);
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
    let e: BadMachineStatus =
        err_is(t.call(RENTER, dbc(1), rentCall { machineId: id, gpus: 1, blocks: 10 }));
    assert_eq!(e.status as u8, 3);
    err_is::<UnknownMachine>(t.call(
        RENTER,
        dbc(1),
        rentCall { machineId: mid(9), gpus: 1, blocks: 10 },
    ));
}

#[test]
fn fault_reports_confirmed_and_false() {
    let mut t = T::new();
    t.committee(4);
    let id = t.online(1, 2, 1_000);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 200 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 200 });
    err_is::<WrongStake>(t.call(RENTER, dbc(1), reportFaultCall { rentalId: rid }));
    err_is::<NotRenter>(t.call(OWNER, dbc(100), reportFaultCall { rentalId: rid }));
    let rep = t.ok(RENTER, dbc(100), reportFaultCall { rentalId: rid });
    err_is::<ReportPending>(t.call(RENTER, dbc(100), reportFaultCall { rentalId: rid }));
    t.c.advance(2);
    let r = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).round;
    assert_eq!((r.phase as u8), 2);
    assert!(!r.auditors.contains(&addr(RENTER)) && !r.auditors.contains(&addr(OWNER)));
    for (i, a) in r.auditors.iter().enumerate() {
        let c = keccak256((rep, *a, i < 2, B256::repeat_byte(9)).abi_encode());
        let seat = t.seat_of(*a);
        t.ok(seat, U256::ZERO, commitReportCall { reportId: rep, commitment: c });
    }
    let renter_before = t.c.balance(addr(RENTER));
    for (i, a) in r.auditors.iter().enumerate() {
        let seat = t.seat_of(*a);
        t.ok(
            seat,
            U256::ZERO,
            revealReportCall { reportId: rep, faulty: i < 2, salt: B256::repeat_byte(9) },
        );
    }
    let report = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep });
    assert_eq!(report.outcome, 1);
    // Deposit back plus the pro-rata refund plus 10% of the 4% slashed at once; the machine is
    // offline as unreachable.
    let rental = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!((rental.status as u8), 2);
    assert_eq!(t.c.balance(addr(RENTER)), renter_before + dbc(100) + rental.refunded + dbc(8));
    let m = t.machine(id);
    assert_eq!(((m.status as u8), (m.offlineReason as u8)), (3, 3));
    assert_eq!(m.stake, dbc(1_920));
    // The dissenting auditor was penalised.
    assert_eq!(t.ok(0x30, U256::ZERO, auditorStakeCall { account: r.auditors[2] }), dbc(9_000));

    // Found failing by auditors, the machine comes back only through a new verification.
    t.ok(OWNER, dbc(1_000), addStakeCall { machineId: id });
    t.beat_ok(id);
    assert!(t.c.last_logs.iter().any(|l| MachineReverifying::decode_log_data(l).is_ok()));
    assert_eq!((t.machine(id).status as u8), 1, "verifying again");
    t.verify(id, &[(true, 1_000), (true, 1_000), (true, 1_000)]);
    assert_eq!((t.machine(id).status as u8), 2);

    // A false report loses its deposit.
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 200 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 200 });
    let rep = t.ok(RENTER, dbc(100), reportFaultCall { rentalId: rid });
    t.c.advance(2);
    let r = t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).round;
    for a in r.auditors.iter() {
        let c = keccak256((rep, *a, false, B256::ZERO).abi_encode());
        let seat = t.seat_of(*a);
        t.ok(seat, U256::ZERO, commitReportCall { reportId: rep, commitment: c });
    }
    let treasury_before = t.c.balance(GOVERNANCE_ADDRESS);
    for a in r.auditors.iter() {
        let seat = t.seat_of(*a);
        t.ok(seat, U256::ZERO, revealReportCall { reportId: rep, faulty: false, salt: B256::ZERO });
    }
    assert_eq!(t.ok(0x30, U256::ZERO, getReportCall { reportId: rep }).outcome, 2);
    let each = dbc(20) / U256::from(3);
    assert_eq!(t.c.balance(GOVERNANCE_ADDRESS), treasury_before + dbc(100) - each * U256::from(3));
    assert_eq!((t.machine(id).status as u8), 2);
}

/// A rental's gas does not depend on whether another item is already scheduled at the block its
/// rental ends (CI saw `rent` sent with its estimate run out of gas one block later, when its
/// end block's queue went from shared to empty).
#[test]
fn a_rentals_gas_does_not_depend_on_other_items_at_its_end_block() {
    let gas_of_second_rent = |first_blocks: u64| {
        let mut t = T::new();
        t.c.params.heartbeat_timeout_blocks = 1_000_000;
        t.committee(3);
        let id = t.online(1, 4, 1_000);
        let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 200 });
        t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: first_blocks });
        let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 100 });
        t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 });
        t.c.last_gas
    };
    // Same end block as the first rental (its list has an item) vs an empty list.
    assert_eq!(gas_of_second_rent(100), gas_of_second_rent(110));
}

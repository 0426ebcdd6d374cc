//! Attacks on the market's economics from the security review (H5, H7, M1, M5), each run
//! through the ABI on the in-memory chain: the attack is refused or earns nothing.

use super::*;
use crate::{
    MARKET_ADDRESS, MINING_ADDRESS,
    abi::IProjectMining::{self as PM},
    store::{T_QUEUE, num_key, slot},
};

const POISONER: u8 = 0x60;

impl T {
    fn pm<C: SolCall>(&mut self, who: u8, call: C) -> Result<C::Return, Bytes> {
        let out = self.c.tx_mining(addr(who), &call.abi_encode())?;
        Ok(C::abi_decode_returns(&out).unwrap())
    }

    /// Items waiting in the hook queue for block `at`.
    fn queued_at(&self, at: u64) -> u64 {
        self.c.storage_at(MARKET_ADDRESS, slot(T_QUEUE, num_key(at), 0)).saturating_to()
    }
}

fn project_call(tokens_per_block: U256, budget: U256, end: u64) -> PM::registerProjectCall {
    PM::registerProjectCall {
        tokensPerBlock: tokens_per_block,
        budget,
        endBlock: end,
        requirements: PM::Requirements { minGpuMemoryGb: 0, minCalcPoint: 0, gpuModels: vec![] },
        release: PM::Release { immediateBps: 10_000, vestingBlocks: 0 },
    }
}

fn mining_reason(e: &Bytes) -> String {
    match PM::InvalidProject::abi_decode(e) {
        Ok(x) => x.reason,
        Err(_) => format!("not InvalidProject: {e}"),
    }
}

#[test]
fn h5_poison_project_parameters_are_refused() {
    let mut t = T::new();
    let huge = U256::from(1) << 255;
    let e = t.pm(POISONER, project_call(U256::from(1) << 250, huge, 1_000)).unwrap_err();
    assert!(mining_reason(&e).contains("budget exceeds"), "{}", mining_reason(&e));
    let max = U256::from(u128::MAX);
    let e = t.pm(POISONER, project_call(max + U256::from(1), max, 1_000)).unwrap_err();
    assert!(mining_reason(&e).contains("tokensPerBlock exceeds"), "{}", mining_reason(&e));
    let e = t.pm(POISONER, project_call(U256::from(1), max, u64::MAX)).unwrap_err();
    assert!(mining_reason(&e).contains("emission period"), "{}", mining_reason(&e));
    // The largest allowed project registers.
    t.pm(POISONER, project_call(max, max, 1_000_000)).unwrap();
}

/// The review's scenario with the largest parameters still allowed: the machine's owner
/// enrols its machine in its own extreme project; every market transition keeps working.
#[test]
fn h5_a_project_at_the_bounds_never_blocks_market_transitions() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 2, 1_000);
    let max = U256::from(u128::MAX);
    let pid = t.pm(OWNER, project_call(max, max, 1_000_000_000)).unwrap();
    t.pm(OWNER, PM::enrollCall { projectId: pid, machineId: id }).unwrap();
    t.c.advance(500);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 10 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 10 });
    t.c.advance(3);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
    t.ok(OWNER, U256::ZERO, heartbeatCall { machineId: id });
    t.pm(OWNER, PM::leaveCall { projectId: pid, machineId: id }).unwrap();
    assert_eq!((t.machine(id).status as u8), 2, "online again");
}

/// Defence in depth: even a project whose accounting does fail (forced here through storage,
/// since the ABI no longer allows it) cannot veto the market. Before the fix `goOffline`, the
/// heartbeat check, `rent`, `exit` and `leave` all reverted for such a machine.
#[test]
fn h5_a_project_whose_update_fails_is_skipped_not_propagated() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    let pid = t.pm(OWNER, project_call(U256::from(10), U256::from(1_000_000), 100_000)).unwrap();
    t.pm(OWNER, PM::enrollCall { projectId: pid, machineId: id }).unwrap();
    t.c.advance(5);
    // Project 1's accumulator (word 5 of its record, tag 20) at its maximum: the next update
    // overflows.
    let acc = slot(20, num_key(1), 5);
    t.c.set_storage(MINING_ADDRESS, acc, U256::MAX);
    let before = t.c.storage_at(MINING_ADDRESS, acc);
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
    let skipped =
        t.c.last_logs
            .iter()
            .filter_map(|l| PM::ProjectUpdateSkipped::decode_log_data(l).ok())
            .collect::<Vec<_>>();
    assert_eq!(skipped.len(), 1, "the failing project is reported");
    assert_eq!(skipped[0].projectId, pid);
    assert_eq!(t.c.storage_at(MINING_ADDRESS, acc), before, "the project's update was undone");
    assert_eq!((t.machine(id).status as u8), 3, "the machine went offline");
    // The owner can still leave the project.
    t.pm(OWNER, PM::leaveCall { projectId: pid, machineId: id }).unwrap();
}

#[test]
fn h7_an_owner_cannot_rent_its_own_machine_or_price_it_at_one_wei() {
    let mut t = T::new();
    t.committee(3);
    // A price set before verification (calc point still 0) is lifted to the floor afterwards.
    let id = t.register(1, 2);
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: U256::from(1) });
    t.verify(id, &[(true, 1_000), (true, 1_000), (true, 1_000)]);
    let standard = params().standard_price_per_gpu_block;
    let floor = standard * U256::from(params().min_price_bps) / U256::from(10_000);
    assert!(!floor.is_zero());
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 2, blocks: 10 });
    assert_eq!(q, floor * U256::from(20), "the 1-wei price is lifted to the floor");
    let e: PriceTooLow = err_is(t.call(
        OWNER,
        U256::ZERO,
        setPriceCall { machineId: id, pricePerGpuBlock: U256::from(1) },
    ));
    assert_eq!(e.minimum, floor);
    err_is::<PriceTooLow>(t.call(
        OWNER,
        U256::ZERO,
        setPriceCall { machineId: id, pricePerGpuBlock: floor - U256::from(1) },
    ));
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: floor });
    let e: OwnMachine = err_is(t.call(OWNER, q, rentCall { machineId: id, gpus: 2, blocks: 10 }));
    assert_eq!(e.machineId, id);
    assert_eq!(t.machine(id).rentedGpus, 0, "no rented bonus for the owner");
    t.ok(RENTER, q, rentCall { machineId: id, gpus: 2, blocks: 10 });
}

/// The review's M1 scenario: rent at P, extend at a lower price, end at once. The refund is
/// exactly the unused blocks of each segment at that segment's price (before the fix the
/// renter got back about a quarter of rent already consumed).
#[test]
fn m1_extensions_are_refunded_per_segment_at_their_own_price() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    let p = params().standard_price_per_gpu_block * U256::from(2);
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: p });
    let rid = t.ok(RENTER, p * U256::from(500), rentCall { machineId: id, gpus: 1, blocks: 500 });
    t.c.advance(450);
    // The provider lowers its price to half; the renter extends by 500 and ends at once.
    let p2 = p / U256::from(2);
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: p2 });
    t.ok(RENTER, p2 * U256::from(500), extendRentalCall { rentalId: rid, blocks: 500 });
    let before = t.c.balance(addr(RENTER));
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    let refund = t.c.balance(addr(RENTER)) - before;
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    let used = U256::from(r.end - r.start);
    assert_eq!(used, U256::from(450));
    // Unused: 50 blocks at p, 500 at p2; used: 450 blocks at p.
    assert_eq!(refund, p * U256::from(50) + p2 * U256::from(500));
    assert_eq!(r.paid - r.refunded, p * used, "the renter paid exactly what it used");
    assert_eq!(r.burned, p * used * U256::from(3_000) / U256::from(10_000));

    // A price rise is not blended either: rent at p2, extend at p, end halfway through the
    // extension.
    let rid = t.ok(RENTER, p2 * U256::from(100), rentCall { machineId: id, gpus: 1, blocks: 100 });
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: p });
    t.ok(RENTER, p * U256::from(100), extendRentalCall { rentalId: rid, blocks: 100 });
    t.c.advance(150);
    let before = t.c.balance(addr(RENTER));
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    assert_eq!(t.c.balance(addr(RENTER)) - before, p * U256::from(50));
}

#[test]
fn m1_a_rental_has_at_most_sixteen_extensions() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 10 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 10 });
    for _ in 0..16 {
        t.ok(RENTER, q, extendRentalCall { rentalId: rid, blocks: 10 });
    }
    let e: TooManyExtensions =
        err_is(t.call(RENTER, q, extendRentalCall { rentalId: rid, blocks: 10 }));
    assert_eq!(e.max, 16);
    // Ending after 5 blocks refunds the other 165 blocks at the one price.
    t.c.advance(5);
    let before = t.c.balance(addr(RENTER));
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    assert_eq!(t.c.balance(addr(RENTER)) - before, q / U256::from(10) * U256::from(165));
}

/// The review's M5 scenario: rentals renewed, extended and ended early to pile items on the
/// hook queue. Every active rental has exactly one queue item, at its end; none is left behind.
#[test]
fn m5_rentals_leave_no_stale_items_in_the_hook_queue() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 2, 1_000);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 100 });
    let due = t.c.number + 100;
    // Rent and end at once, 50 times, all aimed at the same due block.
    for _ in 0..50 {
        let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 });
        t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    }
    assert_eq!(t.queued_at(due), 0, "rentals ended early leave no item");
    // Two rentals due at the same block; ending the first moves the second into its place.
    let a = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 });
    let b = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 });
    assert_eq!(t.queued_at(due), 2);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: a });
    assert_eq!(t.queued_at(due), 1);
    // Extending b (ten times) moves its one item each time.
    let q10 = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 10 });
    for i in 1..=10u64 {
        t.ok(RENTER, q10, extendRentalCall { rentalId: b, blocks: 10 });
        assert_eq!(t.queued_at(due + 10 * (i - 1)), 0, "the old end has no item left");
        assert_eq!(t.queued_at(due + 10 * i), 1, "one item at the new end");
    }
    // The hook still ends b at its real end.
    let end = due + 100;
    t.c.advance(end - t.c.number);
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: b });
    assert_eq!(r.status as u8, 2, "ended by the hook at its end");
    assert_eq!(r.end, end);
    assert_eq!(t.machine(id).rentedGpus, 0);
}

/// Security review L9: a contract renting for its client (`RentalEscrow`) names the client as
/// beneficiary; the refund goes to the client, never to the contract, and the client can report
/// a fault with its own deposit.
#[test]
fn l9_refunds_go_to_the_beneficiary_who_may_report_faults() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 2, 1_000);
    const ESCROW: u8 = 0x30;
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 100 });
    let e: OwnMachine = err_is(t.call(
        ESCROW,
        q,
        rentForCall { machineId: id, gpus: 1, blocks: 100, beneficiary: addr(OWNER) },
    ));
    assert_eq!(e.machineId, id);
    let rid = t.ok(
        ESCROW,
        q,
        rentForCall { machineId: id, gpus: 1, blocks: 100, beneficiary: addr(RENTER) },
    );
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!((r.renter, r.beneficiary), (addr(ESCROW), addr(RENTER)));
    // The client, not the contract, may report; a stranger may not.
    err_is::<NotRenter>(t.call(OWNER, params().report_deposit, reportFaultCall { rentalId: rid }));
    t.ok(RENTER, params().report_deposit, reportFaultCall { rentalId: rid });
    // Only the renter controls the rental; ending it refunds the client.
    err_is::<NotRenter>(t.call(RENTER, U256::ZERO, endRentalCall { rentalId: rid }));
    t.c.advance(10);
    let (escrow_before, client_before) = (t.c.balance(addr(ESCROW)), t.c.balance(addr(RENTER)));
    t.ok(ESCROW, U256::ZERO, endRentalCall { rentalId: rid });
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert!(!r.refunded.is_zero());
    assert_eq!(t.c.balance(addr(RENTER)) - client_before, r.refunded, "refund to the client");
    assert_eq!(t.c.balance(addr(ESCROW)), escrow_before, "nothing paid to the contract");
    // A plain rental is its renter's own.
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 100 });
    let r = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: rid });
    assert_eq!(r.beneficiary, addr(RENTER));
}

/// M5 bookkeeping under a stale item (one left behind by a rental made before rentals tracked
/// their queue position): when ending another rental swaps the stale item into its place, the
/// stale item's rental keeps pointing at its live item, which is still removed when it ends.
#[test]
fn m5_a_stale_item_swapped_into_a_hole_does_not_redirect_its_rental() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 4, 1_000);
    let q100 = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 100 });
    let q200 = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 200 });
    let (d, e) = (t.c.number + 100, t.c.number + 200);
    let a = t.ok(RENTER, q100, rentCall { machineId: id, gpus: 1, blocks: 100 });
    t.ok(RENTER, q200, rentCall { machineId: id, gpus: 1, blocks: 200 });
    let x = t.ok(RENTER, q200, rentCall { machineId: id, gpus: 1, blocks: 200 });
    assert_eq!((t.queued_at(d), t.queued_at(e)), (1, 2));
    // A stale end item of x in block d's list, after a's.
    let stale = (U256::from(5u8) << 248) | x;
    t.c.set_storage(MARKET_ADDRESS, slot(T_QUEUE, num_key(d), 2), stale);
    t.c.set_storage(MARKET_ADDRESS, slot(T_QUEUE, num_key(d), 0), U256::from(2));
    // Ending a moves the stale item into a's place; x must still point at its live item.
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: a });
    assert_eq!(t.queued_at(d), 1);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: x });
    assert_eq!(t.queued_at(e), 1, "x's live item was removed");
}

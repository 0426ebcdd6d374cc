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

impl T {
    /// Enrols machine `id` of `who` in `pid` and has `who` (its settler) attest a unit of work
    /// for the last completed epoch (moving into epoch 1 first if needed): the position then
    /// has weight, so the project's accumulator runs.
    fn enroll_attested(&mut self, who: u8, pid: U256, id: B256) {
        self.pm(who, PM::enrollCall { projectId: pid, machineId: id }).unwrap();
        let epoch_blocks = self.c.params.epoch_blocks;
        if self.c.number < epoch_blocks {
            self.c.advance(epoch_blocks - self.c.number);
        }
        let call = PM::attestWorkCall {
            projectId: pid,
            epoch: self.c.number / epoch_blocks - 1,
            machineIds: vec![id],
            units: vec![1],
        };
        self.pm(who, call).unwrap();
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
    t.enroll_attested(OWNER, pid, id);
    t.c.advance(500);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 1, blocks: 10 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 1, blocks: 10 });
    t.c.advance(3);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
    t.beat_ok(id);
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
    t.enroll_attested(OWNER, pid, id);
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

/// H6: the committee is snapshotted when a round is opened. A member who joins after the
/// request (when the draw's randomness may already be known to someone) is never drawn for
/// it. Without the snapshot the late member would sit in about 3 of every 4 of these draws.
#[test]
fn h6_members_who_join_after_the_request_are_never_drawn_for_it() {
    let mut t = T::new();
    t.committee(3);
    let late = addr(A[3]);
    let ids: Vec<B256> = (1..=12).map(|n| t.register(n, 1)).collect();
    t.ok(A[3], dbc(40_000), joinCommitteeCall {});
    t.c.advance(params().draw_delay_blocks);
    for id in &ids {
        let r = t.round(*id);
        assert_eq!(r.phase as u8, 2, "drawn");
        assert!(!r.auditors.contains(&late), "a member who joined after the request was drawn");
    }
    // A round opened after it joined may draw it.
    let later: Vec<B256> = (13..=24).map(|n| t.register(n, 1)).collect();
    t.c.advance(params().draw_delay_blocks);
    assert!(later.iter().any(|id| t.round(*id).auditors.contains(&late)));
}

/// H6: draws are weighted by stake (up to 4 minimum stakes per member), so one address with
/// four minimum stakes sits about as often as four addresses with one each, and far more often
/// than any single one of them. Without the weighting every member sits equally often.
#[test]
fn h6_draws_are_weighted_by_stake() {
    let mut t = T::new();
    let small: Vec<u8> = (0x70..0x78).collect();
    for s in &small {
        t.c.fund(addr(*s), dbc(1_000_000));
        t.ok(*s, dbc(10_000), joinCommitteeCall {});
    }
    t.ok(A[0], dbc(40_000), joinCommitteeCall {});
    let ids: Vec<B256> = (1..=60).map(|n| t.register(n, 1)).collect();
    t.c.advance(params().draw_delay_blocks);
    let (mut big, mut each) = (0u32, std::collections::HashMap::<Address, u32>::new());
    for id in &ids {
        for a in t.round(*id).auditors {
            if a == addr(A[0]) {
                big += 1;
            } else {
                *each.entry(a).or_default() += 1;
            }
        }
    }
    let small_total: u32 = each.values().sum();
    assert_eq!(big + small_total, 180, "every round drew 3");
    let mean_small = small_total / small.len() as u32;
    assert!(big > 2 * mean_small, "4× stake sat {big} times, a 1× member {mean_small} on average");
}

/// H6: leaving leaves a hole; nobody moves into it, so a member cannot reshuffle whom a
/// pending draw picks among the others by leaving. The drawn auditors of a round are the same
/// whether or not an unpicked member left in between.
#[test]
fn h6_leaving_moves_nobody_in_a_pending_draw() {
    let pick = |leave: bool| {
        let mut t = T::new();
        let members: Vec<u8> = (0x70..0x78).collect();
        for s in &members {
            t.c.fund(addr(*s), dbc(1_000_000));
            t.ok(*s, dbc(40_000), joinCommitteeCall {});
        }
        let id = t.register(1, 1);
        if leave {
            // The last member leaves after the request: with swap-removal it used to move into
            // the leaver's seat. It leaves only if it is not the one drawn in the control run.
            t.ok(0x70, U256::ZERO, leaveCommitteeCall {});
        }
        t.c.advance(params().draw_delay_blocks);
        t.round(id).auditors
    };
    let control = pick(false);
    assert!(!control.contains(&addr(0x70)), "pick another leaver for this seed");
    assert_eq!(pick(true), control);
}

/// H7 / item 4: an owner renting its own machine from a second address at the floor price
/// ends up with no more than if it had left the machine idle: the rented bonus is paid only
/// as far as the rent burned on the machine matches it. Before, the bonus on this small
/// network was worth many times the burn.
#[test]
fn h7_wash_renting_never_pays() {
    const SHILL: u8 = 0x50;
    let wealth = |t: &mut T| {
        let r = t.ok(0x30, U256::ZERO, rewardsOfCall { account: addr(OWNER) });
        t.c.balance(addr(OWNER)) + t.c.balance(addr(SHILL)) + r.claimable + r.vesting
    };
    let run = |wash: bool| {
        let mut t = T::new();
        t.c.fund(addr(SHILL), dbc(1_000_000));
        t.c.params.heartbeat_timeout_blocks = 1_000_000;
        t.committee(3);
        let id = t.online(1, 8, 1_000);
        let floor = U256::from(10u64).pow(U256::from(16)) / U256::from(2);
        t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: floor });
        let start = wealth(&mut t);
        if wash {
            for _ in 0..3 {
                let q = t.ok(SHILL, U256::ZERO, quoteCall { machineId: id, gpus: 8, blocks: 300 });
                let rid = t.ok(SHILL, q, rentCall { machineId: id, gpus: 8, blocks: 300 });
                t.c.advance(299);
                t.ok(SHILL, U256::ZERO, endRentalCall { rentalId: rid });
                t.c.advance(1);
            }
        } else {
            t.c.advance(900);
        }
        t.beat_ok(id);
        wealth(&mut t) - start
    };
    let idle = run(false);
    let washed = run(true);
    assert!(washed <= idle, "wash renting gained {} wei over idling", washed - idle);
}

/// An online 8-GPU machine priced at 10,000 DBC per GPU-block, and a renter who can afford it.
fn priced_machine() -> (T, B256) {
    let mut t = T::new();
    t.c.fund(addr(RENTER), dbc(100_000_000));
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let id = t.online(1, 8, 1_000);
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: dbc(10_000) });
    (t, id)
}

fn bonus_paid(t: &T) -> (U256, U256) {
    let log =
        t.c.last_logs
            .iter()
            .find(|l| l.topics()[0] == RentedBonusPaid::SIGNATURE_HASH)
            .expect("RentedBonusPaid");
    let e = RentedBonusPaid::decode_log_data(log).unwrap();
    (e.accrued, e.paid)
}

/// The rented bonus still pays where real rent is burned: a renter who pays well above the
/// floor earns the owner the bonus in full (30% of what the rented GPUs earned), on top of the
/// base reward and the rent.
#[test]
fn a_real_rental_at_a_real_price_earns_the_full_bonus() {
    // A price at which the burn (30% of 8 × 100 × 10,000 DBC) exceeds the bonus.
    let (mut t, id) = priced_machine();
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 8, blocks: 100 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 8, blocks: 100 });
    let before = t.machine(id).totalEarned;
    t.c.advance(99);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    let (accrued, paid) = bonus_paid(&t);
    assert_eq!(paid, accrued, "the burn covers the bonus");
    let earned = t.machine(id).totalEarned - before;
    // The only machine earns the whole emission of those blocks, plus 30% of it as the bonus.
    let base = earned - paid;
    assert_eq!(accrued, base * U256::from(3_000) / U256::from(10_000));
    let per_block = t.c.params.emission.rate(0, t.c.params.reward_pool);
    assert!(base + U256::from(1_000) >= per_block * U256::from(99), "{base}");
}

/// Each rental's bonus is capped by the rent *it* burned: a cheap rental next to an expensive
/// one on the same machine cannot borrow the expensive one's burn (the wash renter's trick on a
/// machine that also has real renters).
#[test]
fn h7_a_rentals_bonus_is_capped_by_its_own_burn() {
    const SHILL: u8 = 0x50;
    // A real renter at a high price for 4 GPUs.
    let (mut t, id) = priced_machine();
    t.c.fund(addr(SHILL), dbc(1_000_000));
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 4, blocks: 200 });
    let real = t.ok(RENTER, q, rentCall { machineId: id, gpus: 4, blocks: 200 });
    // The owner's shill takes the other 4 at the floor.
    let floor = U256::from(10u64).pow(U256::from(16)) / U256::from(2);
    t.ok(OWNER, U256::ZERO, setPriceCall { machineId: id, pricePerGpuBlock: floor });
    let q = t.ok(SHILL, U256::ZERO, quoteCall { machineId: id, gpus: 4, blocks: 100 });
    let wash = t.ok(SHILL, q, rentCall { machineId: id, gpus: 4, blocks: 100 });
    t.c.advance(99);
    t.ok(SHILL, U256::ZERO, endRentalCall { rentalId: wash });
    let (accrued, paid) = bonus_paid(&t);
    let burned = t.ok(0x30, U256::ZERO, getRentalCall { rentalId: wash }).burned;
    assert!(accrued > burned, "the shill's bonus would exceed its burn");
    assert_eq!(paid, burned, "capped by its own burn, not the real rental's");
    t.c.advance(100);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: real });
    let (accrued, paid) = bonus_paid(&t);
    assert_eq!(paid, accrued, "the real rental's burn covers its own bonus");
}

/// Item 2 (units): grade, price and stake are all per GPU. An 8-GPU server registered as one
/// machine earns what it earns as eight 1-GPU machines (same stake, same calc point); before,
/// the grade ignored the GPU count and splitting paid eight times as much.
#[test]
fn splitting_a_server_into_one_gpu_machines_earns_nothing_extra() {
    let earned = |split: bool| {
        let mut t = T::new();
        t.c.params.heartbeat_timeout_blocks = 1_000_000;
        t.committee(3);
        // A reference machine of another owner shares the emission.
        t.c.fund(addr(0x40), dbc(100_000));
        t.ok(0x40, dbc(8_000), registerCall { machineId: mid(99), spec: spec(8) });
        t.verify(mid(99), &[(true, 1_000), (true, 1_000), (true, 1_000)]);
        let ids: Vec<B256> = if split {
            (1..=8).map(|n| t.online(n, 1, 1_000)).collect()
        } else {
            vec![t.online(1, 8, 1_000)]
        };
        let pending0: U256 =
            ids.iter().map(|id| t.ok(0x30, U256::ZERO, pendingRewardCall { machineId: *id })).sum();
        t.c.advance(100);
        let pending: U256 =
            ids.iter().map(|id| t.ok(0x30, U256::ZERO, pendingRewardCall { machineId: *id })).sum();
        pending - pending0
    };
    let whole = earned(false);
    let split = earned(true);
    // Equal up to rounding (one wei per machine and block).
    assert!(
        split <= whole + U256::from(1_000) && whole <= split + U256::from(1_000),
        "{whole} vs {split}"
    );
}

/// M5: every hook-queue item is backed by a deposit and bounded per object: a machine (backed
/// by its per-GPU stake) has at most one round item and one heartbeat check at a time, a report
/// (backed by its deposit) one round item, a rental (backed by its rent) one end item. Spamming
/// heartbeats or going offline and back adds nothing: the check is rescheduled lazily.
#[test]
fn m5_a_machine_holds_at_most_one_heartbeat_check_whatever_its_owner_sends() {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 100;
    t.committee(3);
    let id = t.online(1, 1, 1_000);
    // Items due after the spam (the machine's heartbeat check and its verification round's
    // leftovers), before it and after it.
    let future = t.c.number + 41..t.c.number + 400;
    let before: u64 = future.clone().map(|b| t.queued_at(b)).sum();
    for _ in 0..40 {
        t.beat_ok(id);
        t.c.advance(1);
    }
    for _ in 0..5 {
        t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: id });
        t.beat_ok(id);
    }
    let after: u64 = future.map(|b| t.queued_at(b)).sum();
    assert_eq!(after, before, "heartbeats and offline cycles added items to the queue");
}

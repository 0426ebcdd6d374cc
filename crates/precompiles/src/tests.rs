//! Rules of the market, driven through the ABI on an in-memory chain.
#![allow(clippy::unwrap_used)]

use crate::{
    abi::IGpuMarket::{self, *},
    testing::MockChain,
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolEvent, SolInterface, SolValue};
use dbc_chainspec::{GOVERNANCE_ADDRESS, MarketParams};

fn dbc(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn addr(n: u8) -> Address {
    Address::with_last_byte(n)
}

const OWNER: u8 = 0x10;
const RENTER: u8 = 0x20;
const A: [u8; 4] = [0xa1, 0xa2, 0xa3, 0xa4];

fn params() -> MarketParams {
    MarketParams {
        draw_delay_blocks: 2,
        commit_window_blocks: 10,
        reveal_window_blocks: 10,
        rent_unit_blocks: 10,
        max_rent_blocks: 1_000,
        epoch_blocks: 100,
        vesting_blocks: 1_500,
        heartbeat_timeout_blocks: 20,
        min_online_blocks: 200,
        exit_cooldown_blocks: 50,
        // Liveness challenges only where a test asks for them.
        challenge_chance_bps: 0,
        gpu_models: {
            let mut table = dbc_chainspec::default_gpu_models();
            table.push(dbc_chainspec::GpuModel {
                model: "TEST 2000".into(),
                calc_point: 2_000,
                memory_gb: 24,
            });
            table
        },
        ..MarketParams::default()
    }
}

/// The spec of a machine of `gpus` GPUs of the table's 1,000-point model, the RTX 4090.
fn spec(gpus: u32) -> MachineSpec {
    spec_cp(gpus, 1_000)
}

/// The spec of a machine of `gpus` 24 GB GPUs of the table model worth `cp` per GPU (1,000:
/// the RTX 4090; 2,000: the test table's "TEST 2000").
pub(crate) fn spec_cp(gpus: u32, cp: u32) -> MachineSpec {
    let model: &[u8] = match cp {
        1_000 => b"RTX 4090",
        2_000 => b"TEST 2000",
        _ => panic!("no 24 GB test model at {cp}"),
    };
    MachineSpec {
        gpuModel: B256::right_padding_from(model),
        gpuCount: gpus,
        gpuMemoryGb: 24,
        cpuCores: 32,
        ramGb: 128,
        diskGb: 2_000,
        region: B256::right_padding_from(b"eu-west"),
        machineKey: machine_key().address(),
    }
}

/// The key the test machines hold.
fn machine_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x4b)).unwrap()
}

/// Some other key (the owner's, say).
fn other_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x0e)).unwrap()
}

fn mid(n: u8) -> B256 {
    keccak256([n])
}

struct T {
    c: MockChain,
}

impl T {
    fn new() -> Self {
        let mut c = MockChain::new(params());
        for who in [OWNER, RENTER, A[0], A[1], A[2], A[3], 0x30] {
            c.fund(addr(who), dbc(1_000_000));
        }
        Self { c }
    }

    fn call<C: SolCall>(&mut self, who: u8, value: U256, call: C) -> Result<C::Return, Bytes> {
        let out = self.c.tx(addr(who), value, &call.abi_encode())?;
        Ok(C::abi_decode_returns(&out).unwrap())
    }

    fn ok<C: SolCall>(&mut self, who: u8, value: U256, call: C) -> C::Return {
        match self.call(who, value, call) {
            Ok(r) => r,
            Err(e) => panic!("{} reverted: {}", C::SIGNATURE, decode_err(&e)),
        }
    }

    /// A heartbeat of machine `id` signed by `key` over block `number`.
    fn heartbeat_by(&mut self, key: &PrivateKeySigner, id: B256, number: u64) -> heartbeatCall {
        let digest =
            self.ok(0x30, U256::ZERO, heartbeatDigestCall { machineId: id, blockNumber: number });
        let sig = key.sign_hash_sync(&digest).unwrap();
        heartbeatCall {
            machineId: id,
            blockNumber: number,
            signature: Bytes::from(sig.as_bytes().to_vec()),
        }
    }

    /// Sends machine `id`'s heartbeat over the previous block (relayed by its owner).
    fn beat(&mut self, id: B256) -> Result<(), Bytes> {
        let number = self.c.number - 1;
        let hb = self.heartbeat_by(&machine_key(), id, number);
        self.call(OWNER, U256::ZERO, hb).map(|_| ())
    }

    fn beat_ok(&mut self, id: B256) {
        if let Err(e) = self.beat(id) {
            panic!("heartbeat reverted: {}", decode_err(&e));
        }
    }

    fn machine(&mut self, id: B256) -> IGpuMarket::Machine {
        self.ok(0x30, U256::ZERO, getMachineCall { machineId: id })
    }

    fn round(&mut self, id: B256) -> IGpuMarket::Round {
        self.ok(0x30, U256::ZERO, getRoundCall { machineId: id })
    }

    fn committee(&mut self, n: usize) {
        for a in &A[..n] {
            self.ok(*a, dbc(10_000), joinCommitteeCall {});
        }
    }

    /// Registers machine `n` with `gpus` GPUs and runs its verification with the given votes
    /// (spec matches, calc point) by the assigned auditors in seat order.
    fn register(&mut self, n: u8, gpus: u32) -> B256 {
        self.register_cp(n, gpus, 1_000)
    }

    fn register_cp(&mut self, n: u8, gpus: u32, cp: u32) -> B256 {
        let id = mid(n);
        self.ok(
            OWNER,
            dbc(1_000) * U256::from(gpus),
            registerCall { machineId: id, spec: spec_cp(gpus, cp) },
        );
        id
    }

    fn seat_of(&self, a: Address) -> u8 {
        *A.iter().find(|x| addr(**x) == a).unwrap()
    }

    fn verify(&mut self, id: B256, votes: &[(bool, u32)]) -> [Address; 3] {
        self.c.advance(params().draw_delay_blocks);
        let r = self.round(id);
        assert_eq!((r.phase as u8), 2, "commit phase after the draw");
        let claimed = self.machine(id).spec;
        for (i, (good, cp)) in votes.iter().enumerate() {
            let who = r.auditors[i];
            let s = if *good {
                claimed.clone()
            } else {
                MachineSpec { gpuMemoryGb: 12, ..claimed.clone() }
            };
            let salt = B256::repeat_byte(i as u8 + 1);
            let c = keccak256((id, who, s, *cp, salt).abi_encode());
            let seat = self.seat_of(who);
            self.ok(seat, U256::ZERO, commitVerificationCall { machineId: id, commitment: c });
        }
        if votes.len() < 3 {
            self.c.advance(params().commit_window_blocks + 1);
        }
        for (i, (good, cp)) in votes.iter().enumerate() {
            let who = r.auditors[i];
            let s = if *good {
                claimed.clone()
            } else {
                MachineSpec { gpuMemoryGb: 12, ..claimed.clone() }
            };
            let salt = B256::repeat_byte(i as u8 + 1);
            let seat = self.seat_of(who);
            self.ok(
                seat,
                U256::ZERO,
                revealVerificationCall { machineId: id, spec: s, calcPoint: *cp, salt },
            );
        }
        if votes.len() < 3 {
            self.c.advance(params().reveal_window_blocks + 1);
        }
        r.auditors
    }

    fn online(&mut self, n: u8, gpus: u32, cp: u32) -> B256 {
        let id = self.register_cp(n, gpus, cp);
        self.verify(id, &[(true, cp), (true, cp), (true, cp)]);
        assert_eq!((self.machine(id).status as u8), 2);
        id
    }
}

/// What the owner keeps of a settled reward: the 3 auditors share 1% in equal whole wei.
fn owner_share(settled: U256) -> U256 {
    settled - settled / U256::from(100) / U256::from(3) * U256::from(3)
}

fn decode_err(e: &Bytes) -> String {
    match IGpuMarket::IGpuMarketErrors::abi_decode(e) {
        Ok(err) => format!("{err:?}"),
        Err(_) => format!("{e}"),
    }
}

fn err_is<E: SolError>(r: Result<impl Sized, Bytes>) -> E {
    match r {
        Ok(_) => panic!("expected {} but the call succeeded", E::SIGNATURE),
        Err(e) => E::abi_decode(&e)
            .unwrap_or_else(|_| panic!("expected {}, got {}", E::SIGNATURE, decode_err(&e))),
    }
}

#[test]
fn tier_boundaries_through_the_abi() {
    let mut t = T::new();
    for (gpus, bps) in [
        (0, 3_000),
        (4_999, 3_000),
        (5_000, 3_000),
        (5_001, 7_000),
        (9_999, 7_000),
        (10_000, 10_000),
    ] {
        let got = t.ok(0x30, U256::ZERO, burnRateBpsForCall { onlineGpus: gpus });
        assert_eq!(got, bps, "{gpus} GPUs");
    }
    assert_eq!(t.ok(0x30, U256::ZERO, burnRateBpsCall {}), 3_000);
}

#[test]
fn the_burn_tier_basis_is_online_or_registered_gpus() {
    let tiers = vec![
        dbc_chainspec::BurnTier { from_gpus: 0, bps: 3_000 },
        dbc_chainspec::BurnTier { from_gpus: 3, bps: 7_000 },
    ];
    for (basis, before_verification) in
        [(dbc_chainspec::BurnBasis::Online, 3_000), (dbc_chainspec::BurnBasis::Registered, 7_000)]
    {
        let mut t = T::new();
        t.c.params.burn_tiers = tiers.clone();
        t.c.params.burn_tier_basis = basis;
        t.committee(3);
        let id = t.register(1, 4);
        assert_eq!(t.ok(0x30, U256::ZERO, burnRateBpsCall {}), before_verification, "{basis:?}");
        // `networkStats` reports the same rate a rental would get (it used online GPUs always).
        let stats = t.ok(0x30, U256::ZERO, networkStatsCall {});
        assert_eq!(stats.burnRateBps, before_verification, "{basis:?}: networkStats");
        t.verify(id, &[(true, 1_000), (true, 1_000), (true, 1_000)]);
        assert_eq!(t.ok(0x30, U256::ZERO, burnRateBpsCall {}), 7_000, "{basis:?}");
        assert_eq!(t.ok(0x30, U256::ZERO, networkStatsCall {}).burnRateBps, 7_000, "{basis:?}");
    }
}

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

#[test]
fn call_context_rules() {
    let mut t = T::new();
    let data = joinCommitteeCall {}.abi_encode();
    // Static calls never write; views work.
    let e = t.c.tx_with(addr(A[0]), U256::ZERO, &data, true, true, 1_000_000).unwrap_err();
    assert!(StaticCallWrite::abi_decode(&e).is_ok());
    let view = burnRateBpsCall {}.abi_encode();
    assert!(t.c.tx_with(addr(A[0]), U256::ZERO, &view, true, true, 1_000_000).is_ok());
    // DELEGATECALL/CALLCODE refused, even for views.
    let e = t.c.tx_with(addr(A[0]), U256::ZERO, &view, false, false, 1_000_000).unwrap_err();
    assert!(DelegateCallNotAllowed::abi_decode(&e).is_ok());
    // Value to a non-payable function.
    let e = t.c.tx_with(addr(A[0]), U256::from(1), &view, false, true, 1_000_000).unwrap_err();
    assert!(NotPayable::abi_decode(&e).is_ok());
    // Unknown selector and the hook from a user.
    let e = t.c.tx(addr(A[0]), U256::ZERO, &[1, 2, 3, 4]).unwrap_err();
    assert_eq!(UnknownSelector::abi_decode(&e).unwrap().selector.0, [1, 2, 3, 4]);
    let e = t.c.tx(addr(A[0]), U256::ZERO, &crate::hook_calldata(U256::ZERO)).unwrap_err();
    assert!(UnknownSelector::abi_decode(&e).is_ok());
    // Out of gas: nothing written.
    let e = t.c.tx_with(addr(A[0]), dbc(10_000), &data, false, true, 5_000).unwrap_err();
    assert_eq!(&e[..], b"out of gas");
    assert!(!t.ok(0x30, U256::ZERO, isAuditorCall { account: addr(A[0]) }));
}

#[test]
fn gas_is_charged_for_storage() {
    let mut t = T::new();
    t.ok(A[0], dbc(10_000), joinCommitteeCall {});
    // 4 fresh slots (20k + 2.1k cold each), reads and a log.
    assert!(t.c.last_gas > 4 * 22_100 + 375, "{}", t.c.last_gas);
    t.ok(0x30, U256::ZERO, burnRateBpsCall {});
    assert!(t.c.last_gas >= crate::gas::BASE + crate::gas::COLD_SLOAD);
}

#[test]
fn value_is_conserved_and_the_market_stays_solvent() {
    let mut t = T::new();
    // No heartbeats in this test: keep the machine online.
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    let total = t.c.total();
    t.committee(3);
    let id = t.online(1, 2, 1_000);
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: id, gpus: 2, blocks: 100 });
    let rid = t.ok(RENTER, q, rentCall { machineId: id, gpus: 2, blocks: 100 });
    t.c.advance(30);
    t.ok(RENTER, U256::ZERO, endRentalCall { rentalId: rid });
    t.c.advance(30);
    t.ok(OWNER, U256::ZERO, claimRewardsCall {});
    assert_eq!(t.c.total(), total, "balances + burned are conserved");
    // The market holds at least every stake plus the undistributed pool.
    let stats = t.ok(0x30, U256::ZERO, networkStatsCall {});
    let m = t.machine(id);
    let committee = dbc(30_000);
    assert!(t.c.balance(crate::MARKET_ADDRESS) >= m.stake + committee + stats.rewardPoolRemaining);
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

// ---------------------------------------------------------------------------------------------
// project mining (0x…0D02)

mod mining;

// Economic attacks on the market (issue #16): each runs through the ABI.
mod attacks;
mod liveness;

#[test]
fn the_owner_publishes_a_bounded_printable_endpoint() {
    let mut t = T::new();
    t.committee(3);
    let id = t.register(1, 1);
    assert_eq!(t.ok(RENTER, U256::ZERO, endpointOfCall { machineId: id }), "");
    let set = |e: &str| setEndpointCall { machineId: id, endpoint: e.to_owned() };
    err_is::<NotMachineOwner>(t.call(RENTER, U256::ZERO, set("http://198.51.100.1:7070")));
    for bad in ["http://a b", "http://a\n", "http://ü", &"x".repeat(129)] {
        err_is::<InvalidEndpoint>(t.call(OWNER, U256::ZERO, set(bad)));
    }
    // 128 bytes (four chunks), then a shorter one: no byte of the longer one is left behind.
    let long = format!("http://{}", "a".repeat(121));
    assert_eq!(long.len(), 128);
    t.ok(OWNER, U256::ZERO, set(&long));
    assert_eq!(t.ok(RENTER, U256::ZERO, endpointOfCall { machineId: id }), long);
    t.ok(OWNER, U256::ZERO, set("http://198.51.100.1:7070"));
    let ev = EndpointSet::decode_log_data(&t.c.last_logs[0]).unwrap();
    assert_eq!((ev.machineId, ev.endpoint.as_str()), (id, "http://198.51.100.1:7070"));
    assert_eq!(
        t.ok(RENTER, U256::ZERO, endpointOfCall { machineId: id }),
        "http://198.51.100.1:7070"
    );
    t.ok(OWNER, U256::ZERO, set(""));
    assert_eq!(t.ok(RENTER, U256::ZERO, endpointOfCall { machineId: id }), "");
    err_is::<UnknownMachine>(t.call(RENTER, U256::ZERO, endpointOfCall { machineId: mid(9) }));
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

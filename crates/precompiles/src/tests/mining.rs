//! Project mining (`0x…0D02`) through its ABI on the in-memory chain, with the market it
//! reads machines from.

use super::*;
use crate::abi::IProjectMining::{self as PM, *};

const SETTLER: u8 = 0x50;
const TPB: u64 = 3_000;

impl T {
    fn m<C: SolCall>(&mut self, who: u8, call: C) -> Result<C::Return, Bytes> {
        let out = self.c.tx_mining(addr(who), &call.abi_encode())?;
        Ok(C::abi_decode_returns(&out).unwrap())
    }

    fn mok<C: SolCall>(&mut self, who: u8, call: C) -> C::Return {
        match self.m(who, call) {
            Ok(r) => r,
            Err(e) => panic!("{} reverted: {}", C::SIGNATURE, mining_err(&e)),
        }
    }

    fn project(&mut self, budget: u64, end: u64, vesting: u64) -> U256 {
        let call = registerProjectCall {
            tokensPerBlock: U256::from(TPB),
            budget: U256::from(budget),
            endBlock: end,
            requirements: Requirements {
                minGpuMemoryGb: 16,
                minCalcPoint: 500,
                gpuModels: vec![
                    B256::right_padding_from(b"RTX 4090"),
                    B256::right_padding_from(b"TEST 2000"),
                ],
            },
            release: Release { immediateBps: 2_500, vestingBlocks: vesting },
        };
        self.mok(SETTLER, call)
    }

    fn rewards(&mut self, pid: U256, who: u8) -> ProviderRewards {
        self.mok(0x30, PM::rewardsOfCall { projectId: pid, provider: addr(who) })
    }

    fn settle_for(&mut self, pid: U256, who: u8) -> U256 {
        self.mok(SETTLER, settleCall { projectId: pid, provider: addr(who) })
    }

    /// The attestation of the last completed epoch by `who` (the settler attests unless it
    /// named another).
    fn attest_as(&mut self, who: u8, pid: U256, work: &[(B256, u64)]) -> Result<(), Bytes> {
        let call = attestWorkCall {
            projectId: pid,
            epoch: self.c.number / params().epoch_blocks - 1,
            machineIds: work.iter().map(|w| w.0).collect(),
            units: work.iter().map(|w| w.1).collect(),
        };
        self.m(who, call).map(|_| ())
    }

    /// Enrols machine `id` of `who` and has the settler attest one unit of work for it, so
    /// that its weight is its grade (as if every machine served alike).
    fn enroll_working(&mut self, who: u8, pid: U256, id: B256) {
        self.mok(who, enrollCall { projectId: pid, machineId: id });
        if let Err(e) = self.attest_as(SETTLER, pid, &[(id, 1)]) {
            panic!("attestWork reverted: {}", mining_err(&e));
        }
    }
}

fn fails<R>(r: Result<R, Bytes>) -> Bytes {
    match r {
        Ok(_) => panic!("expected a revert"),
        Err(e) => e,
    }
}

fn mining_err(e: &Bytes) -> String {
    match PM::IProjectMiningErrors::abi_decode(e) {
        Ok(err) => format!("{err:?}"),
        Err(_) => format!("{e}"),
    }
}

/// Two machines, owners OWNER and 0x40, calc points 1,000 and 2,000, heartbeats off.
fn two_machines() -> (T, B256, B256) {
    let mut t = T::new();
    t.c.params.heartbeat_timeout_blocks = 1_000_000;
    t.committee(3);
    let a = t.online(1, 1, 1_000);
    t.c.fund(addr(0x40), dbc(10_000));
    t.ok(0x40, dbc(1_000), registerCall { machineId: mid(2), spec: spec_cp(1, 2_000) });
    t.verify(mid(2), &[(true, 2_000), (true, 2_000), (true, 2_000)]);
    // Into epoch 1, so that epoch 0's work can be attested.
    t.c.advance(params().epoch_blocks);
    (t, a, mid(2))
}

#[test]
fn accrual_follows_weight_joining_and_leaving() {
    let (mut t, a, b) = two_machines();
    let pid = t.project(1_000_000_000, 10_000, 1_000);
    assert_eq!(t.mok(0x30, projectCountCall {}), U256::from(1));
    t.enroll_working(OWNER, pid, a);
    // A alone for 10 blocks: all 3,000/block.
    t.c.advance(10);
    assert_eq!(t.rewards(pid, OWNER).pending, U256::from(10 * TPB));
    t.enroll_working(0x40, pid, b);
    // Both for 10 blocks: 1,000 and 2,000 per block.
    t.c.advance(10);
    assert_eq!(t.rewards(pid, OWNER).pending, U256::from(10 * TPB + 10 * 1_000));
    assert_eq!(t.rewards(pid, 0x40).pending, U256::from(10 * 2_000));
    // A leaves: its rewards stay its owner's, B takes everything.
    t.mok(OWNER, leaveCall { projectId: pid, machineId: a });
    t.c.advance(5);
    let ra = t.rewards(pid, OWNER);
    assert_eq!(ra.pending, U256::ZERO);
    assert_eq!(ra.claimable + ra.vesting, U256::from(10 * TPB + 10 * 1_000));
    assert_eq!(t.rewards(pid, 0x40).pending, U256::from(10 * 2_000 + 5 * TPB));
    let p = t.mok(0x30, getProjectCall { projectId: pid });
    assert_eq!(p.machines, 1);
    assert_eq!(t.mok(0x30, enrolledMachineAtCall { projectId: pid, index: U256::ZERO }), b);
    let e = fails(t.m(OWNER, leaveCall { projectId: pid, machineId: a }));
    assert!(NotEnrolled::abi_decode(&e).is_ok());
}

#[test]
fn offline_machines_accrue_nothing_and_renting_leaves_the_mining_weight_alone() {
    let (mut t, a, b) = two_machines();
    let pid = t.project(1_000_000_000, 10_000, 1_000);
    t.enroll_working(OWNER, pid, a);
    t.enroll_working(0x40, pid, b);
    t.ok(OWNER, U256::ZERO, goOfflineCall { machineId: a });
    t.c.advance(10);
    let before_a = t.rewards(pid, OWNER);
    assert_eq!(before_a.pending, U256::ZERO);
    assert_eq!(t.rewards(pid, 0x40).pending, U256::from(10 * TPB));
    t.beat_ok(a);
    // Rent B's only GPU: its market grade gets the rented bonus, its mining weight does not
    // (2,000 against A's 1,000), so wash renting cannot buy project tokens.
    let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: b, gpus: 1, blocks: 360 });
    t.ok(RENTER, q, rentCall { machineId: b, gpus: 1, blocks: 360 });
    let pa0 = t.rewards(pid, OWNER);
    let pb0 = t.rewards(pid, 0x40);
    t.c.advance(36);
    let pa = t.rewards(pid, OWNER);
    let pb = t.rewards(pid, 0x40);
    // claimable + vesting include the split of what is pending.
    let got_a = pa.claimable + pa.vesting - pa0.claimable - pa0.vesting;
    let got_b = pb.claimable + pb.vesting - pb0.claimable - pb0.vesting;
    assert_eq!(got_a, U256::from(36 * TPB * 1_000 / 3_000));
    assert_eq!(got_b, U256::from(36 * TPB * 2_000 / 3_000));
}

#[test]
fn emission_stops_at_the_end_and_the_budget_and_never_over_mints() {
    let (mut t, a, b) = two_machines();
    // Budget runs out after 100 blocks; weights 1:2 with a 3,001-per-block split rounding.
    let pid = t.project(300_000, t.c.number + 1_000, 1_000);
    t.enroll_working(OWNER, pid, a);
    t.enroll_working(0x40, pid, b);
    t.c.advance(150);
    let p = t.mok(0x30, getProjectCall { projectId: pid });
    assert_eq!(p.distributed, U256::from(300_000));
    let ra = t.rewards(pid, OWNER);
    let rb = t.rewards(pid, 0x40);
    let total = ra.pending + rb.pending;
    assert!(total <= U256::from(300_000) && total >= U256::from(300_000 - 2), "{total}");
    // Settling everything (and again once all of it vested) never exceeds the budget.
    let mut paid = t.settle_for(pid, OWNER) + t.settle_for(pid, 0x40);
    t.c.number += 10_000;
    paid += t.settle_for(pid, OWNER) + t.settle_for(pid, 0x40);
    assert_eq!(paid, total);
    assert!(paid <= U256::from(300_000));
    assert_eq!(t.mok(0x30, getProjectCall { projectId: pid }).settled, paid);
    // The end block: a second project ends before its budget.
    let pid2 = t.project(1_000_000_000, t.c.number + 20, 1_000);
    t.enroll_working(OWNER, pid2, a);
    t.c.advance(40);
    let p2 = t.mok(0x30, getProjectCall { projectId: pid2 });
    assert_eq!(p2.distributed, U256::from(20 * TPB));
    let e = fails(t.m(0x40, enrollCall { projectId: pid2, machineId: b }));
    assert!(InvalidProject::abi_decode(&e).is_ok());
}

#[test]
fn rounding_never_over_mints() {
    let (mut t, a, b) = two_machines();
    // 1,000 per block over weights 1:2 (and later 1:2.6 with the rented bonus) does not
    // divide evenly: every settlement rounds down.
    let call = registerProjectCall {
        tokensPerBlock: U256::from(1_000),
        budget: U256::from(77_777),
        endBlock: 100_000,
        requirements: Requirements { minGpuMemoryGb: 0, minCalcPoint: 0, gpuModels: vec![] },
        release: Release { immediateBps: 3_333, vestingBlocks: 7 },
    };
    let pid = t.mok(SETTLER, call);
    t.enroll_working(OWNER, pid, a);
    t.c.advance(3);
    t.enroll_working(0x40, pid, b);
    let mut paid = U256::ZERO;
    for i in 0..40u64 {
        t.c.advance(1 + i % 3);
        paid += t.settle_for(pid, if i % 2 == 0 { OWNER } else { 0x40 });
        if i == 10 {
            let q = t.ok(RENTER, U256::ZERO, quoteCall { machineId: b, gpus: 1, blocks: 10 });
            t.ok(RENTER, q, rentCall { machineId: b, gpus: 1, blocks: 10 });
        }
    }
    t.c.advance(200);
    paid += t.settle_for(pid, OWNER) + t.settle_for(pid, 0x40);
    let p = t.mok(0x30, getProjectCall { projectId: pid });
    assert_eq!(p.distributed, U256::from(77_777), "the whole budget was released");
    assert_eq!(p.settled, paid);
    assert!(paid <= p.distributed, "{paid} > {}", p.distributed);
    // Rounding loses at most a few units per settlement.
    assert!(paid + U256::from(200) >= p.distributed, "{paid}");
}

#[test]
fn several_projects_per_machine_up_to_the_limit() {
    let (mut t, a, _) = two_machines();
    let pids: Vec<U256> = (0..4).map(|_| t.project(1_000_000_000, 10_000, 1_000)).collect();
    for pid in &pids[..3] {
        t.enroll_working(OWNER, *pid, a);
    }
    let e = fails(t.m(OWNER, enrollCall { projectId: pids[3], machineId: a }));
    assert_eq!(TooManyProjects::abi_decode(&e).unwrap().max, 3);
    let e = fails(t.m(OWNER, enrollCall { projectId: pids[0], machineId: a }));
    assert!(AlreadyEnrolled::abi_decode(&e).is_ok());
    t.c.advance(10);
    for pid in &pids[..3] {
        assert_eq!(t.rewards(*pid, OWNER).pending, U256::from(10 * TPB));
    }
    assert_eq!(t.mok(0x30, projectsOfCall { machineId: a }), pids[..3].to_vec());
    t.mok(OWNER, leaveCall { projectId: pids[1], machineId: a });
    assert_eq!(t.mok(0x30, projectsOfCall { machineId: a }), vec![pids[0], pids[2]]);
    t.enroll_working(OWNER, pids[3], a);
}

#[test]
fn requirements_ownership_and_settler_rules() {
    let (mut t, a, b) = two_machines();
    let pid = t.project(1_000_000_000, 10_000, 1_000);
    let e = fails(t.m(0x40, enrollCall { projectId: pid, machineId: a }));
    assert!(PM::NotMachineOwner::abi_decode(&e).is_ok());
    // A project that wants more memory, calc point or another model.
    let strict = registerProjectCall {
        tokensPerBlock: U256::from(1),
        budget: U256::from(1_000),
        endBlock: 10_000,
        requirements: Requirements {
            minGpuMemoryGb: 16,
            minCalcPoint: 1_500,
            gpuModels: vec![B256::right_padding_from(b"H100")],
        },
        release: Release { immediateBps: 2_500, vestingBlocks: 1_000 },
    };
    let sid = t.mok(SETTLER, strict);
    let e = fails(t.m(0x40, enrollCall { projectId: sid, machineId: b }));
    assert_eq!(MachineNotEligible::abi_decode(&e).unwrap().reason, "GPU model not accepted");
    let e = fails(t.m(OWNER, enrollCall { projectId: sid, machineId: a }));
    assert_eq!(MachineNotEligible::abi_decode(&e).unwrap().reason, "calc point below the minimum");
    // Only the settler settles (mints).
    t.enroll_working(OWNER, pid, a);
    t.c.advance(4);
    let e = fails(t.m(OWNER, settleCall { projectId: pid, provider: addr(OWNER) }));
    assert!(NotSettler::abi_decode(&e).is_ok());
    // Invalid programs.
    let bad = registerProjectCall {
        tokensPerBlock: U256::ZERO,
        budget: U256::from(1),
        endBlock: 10_000,
        requirements: Requirements { minGpuMemoryGb: 0, minCalcPoint: 0, gpuModels: vec![] },
        release: Release { immediateBps: 2_500, vestingBlocks: 1_000 },
    };
    assert!(InvalidProject::abi_decode(&fails(t.m(SETTLER, bad))).is_ok());
    assert_eq!(t.mok(0x30, maxProjectsPerMachineCall {}), 3);
}

#[test]
fn settlement_releases_a_quarter_at_once_and_the_rest_linearly() {
    let (mut t, a, _) = two_machines();
    let pid = t.project(1_000_000_000, 100_000, 1_000);
    t.enroll_working(OWNER, pid, a);
    t.c.advance(40);
    let accrued = U256::from(40 * TPB);
    let r = t.rewards(pid, OWNER);
    assert_eq!(
        (r.pending, r.claimable, r.vesting),
        (accrued, accrued / U256::from(4), accrued * U256::from(3) / U256::from(4))
    );
    let first = t.settle_for(pid, OWNER);
    assert_eq!(first, accrued / U256::from(4));
    let ev = t.c.last_logs.last().unwrap();
    assert_eq!(MiningRewardSettled::decode_log_data(ev).unwrap().amount, first);
    // The vesting tranche starts at the next epoch (100 blocks) and runs 1,000 blocks.
    let start = (t.c.number / 100 + 1) * 100;
    let vest = accrued - first;
    t.c.number = start + 500;
    let r = t.rewards(pid, OWNER);
    // The machine kept accruing meanwhile (pending), but the vested half is exact.
    let settled_now = t.settle_for(pid, OWNER);
    let pending_immediate = r.pending / U256::from(4);
    assert_eq!(settled_now, vest / U256::from(2) + pending_immediate);
    assert_eq!(t.rewards(pid, OWNER).claimed, first + settled_now);
}

/// Issue #16 item 5: enrolment alone earns nothing; the emission is split by attested
/// work × grade, and a machine attested with no work stops earning.
#[test]
fn projects_pay_for_attested_work_not_for_enrolment() {
    let (mut t, a, b) = two_machines();
    let pid = t.project(1_000_000_000, 100_000, 1_000);
    t.mok(OWNER, enrollCall { projectId: pid, machineId: a });
    t.mok(0x40, enrollCall { projectId: pid, machineId: b });
    t.c.advance(20);
    assert_eq!(t.rewards(pid, OWNER).pending, U256::ZERO);
    assert_eq!(t.rewards(pid, 0x40).pending, U256::ZERO);
    assert_eq!(t.mok(0x30, getProjectCall { projectId: pid }).distributed, U256::ZERO);
    // A (grade 1,000) served 4 units, B (grade 2,000) 1: weights 4,000 and 2,000.
    t.attest_as(SETTLER, pid, &[(a, 4), (b, 1)]).unwrap();
    let w = t.mok(0x30, workOfCall { projectId: pid, machineId: a });
    assert_eq!((w.units, w.attested, w.weight), (4, true, U256::from(4 * 10_000_000u64)));
    t.c.advance(30);
    assert_eq!(t.rewards(pid, OWNER).pending, U256::from(30 * 2_000));
    assert_eq!(t.rewards(pid, 0x40).pending, U256::from(30 * 1_000));
    // Next epoch A served nothing: from then on B takes everything.
    t.c.advance(params().epoch_blocks);
    let (pa, pb) = (t.rewards(pid, OWNER).pending, t.rewards(pid, 0x40).pending);
    t.attest_as(SETTLER, pid, &[(a, 0)]).unwrap();
    t.c.advance(10);
    let ra = t.rewards(pid, OWNER);
    assert_eq!(ra.pending + ra.claimable + ra.vesting, pa, "A earns nothing more");
    assert_eq!(t.rewards(pid, 0x40).pending, pb + U256::from(10 * TPB));
}

#[test]
fn only_the_attestor_attests_the_last_epoch_once_per_machine() {
    let (mut t, a, b) = two_machines();
    let pid = t.project(1_000_000_000, 100_000, 1_000);
    t.mok(OWNER, enrollCall { projectId: pid, machineId: a });
    // Only the attestor (the settler until it names another).
    let e = fails(t.attest_as(OWNER, pid, &[(a, 1)]));
    assert!(NotAttestor::abi_decode(&e).is_ok());
    let e = fails(t.m(OWNER, setAttestorCall { projectId: pid, attestor: addr(OWNER) }));
    assert!(NotSettler::abi_decode(&e).is_ok());
    t.mok(SETTLER, setAttestorCall { projectId: pid, attestor: addr(0x31) });
    assert_eq!(t.mok(0x30, getProjectCall { projectId: pid }).attestor, addr(0x31));
    assert!(NotAttestor::abi_decode(&fails(t.attest_as(SETTLER, pid, &[(a, 1)]))).is_ok());
    // Only the last completed epoch.
    let now = t.c.number / params().epoch_blocks;
    for epoch in [now, now - 2, now + 1] {
        let call = attestWorkCall { projectId: pid, epoch, machineIds: vec![a], units: vec![1] };
        let e = WrongEpoch::abi_decode(&fails(t.m(0x31, call))).unwrap();
        assert_eq!((e.epoch, e.expected), (epoch, now - 1));
    }
    // Only enrolled machines, well-formed lists, each machine once.
    assert!(NotEnrolled::abi_decode(&fails(t.attest_as(0x31, pid, &[(b, 1)]))).is_ok());
    assert!(AlreadyAttested::abi_decode(&fails(t.attest_as(0x31, pid, &[(a, 1), (a, 2)]))).is_ok());
    let call =
        attestWorkCall { projectId: pid, epoch: now - 1, machineIds: vec![a], units: vec![] };
    assert!(BadAttestation::abi_decode(&fails(t.m(0x31, call))).is_ok());
    let many: Vec<(B256, u64)> = (0..257u64).map(|i| (keccak256(i.to_be_bytes()), 1)).collect();
    assert!(BadAttestation::abi_decode(&fails(t.attest_as(0x31, pid, &many))).is_ok());
    t.attest_as(0x31, pid, &[(a, 1)]).unwrap();
    assert!(AlreadyAttested::abi_decode(&fails(t.attest_as(0x31, pid, &[(a, 5)]))).is_ok());
    // The next epoch it may attest again.
    t.c.advance(params().epoch_blocks);
    t.attest_as(0x31, pid, &[(a, 5)]).unwrap();
    let w = t.mok(0x30, workOfCall { projectId: pid, machineId: a });
    assert_eq!((w.units, w.epoch), (5, now));
    // Leaving forgets the work: re-enrolled, the machine waits for a new attestation.
    t.mok(OWNER, leaveCall { projectId: pid, machineId: a });
    t.mok(OWNER, enrollCall { projectId: pid, machineId: a });
    let w = t.mok(0x30, workOfCall { projectId: pid, machineId: a });
    assert_eq!((w.units, w.attested, w.weight), (0, false, U256::ZERO));
}

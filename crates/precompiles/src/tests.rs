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

// ---------------------------------------------------------------------------------------------
// project mining (0x…0D02)

mod mining;

// Economic attacks on the market (issue #16): each runs through the ABI.
mod attacks;
mod committee;
mod liveness;
mod rentals;
mod rewards;

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

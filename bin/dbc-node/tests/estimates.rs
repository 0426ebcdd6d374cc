//! Issue #16 item 8: gas estimates that hold. Every state-changing call of the GPU market, the
//! project-mining and the staking precompiles is estimated with `eth_estimateGas` the way a
//! wallet does, then sent with exactly that gas limit one block later and, for most, tens of
//! blocks later (across epoch boundaries: epochs are 50 blocks here) with `cast send`. None may
//! run out of gas, and none may use more than it was given.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue};
use common::*;
use dbc_precompiles::abi::{IGpuMarket, IProjectMining, IStaking};
use serde_json::{Value, json};
use std::time::Duration;

const MARKET: &str = "0x0000000000000000000000000000000000000D01";
const MINING: &str = "0x0000000000000000000000000000000000000D02";
const STAKING: &str = "0x0000000000000000000000000000000000000D03";
const DBC: u128 = 1_000_000_000_000_000_000;

/// Private keys of the test mnemonic's accounts 0..=9 (Foundry's and Hardhat's defaults).
const KEYS: [&str; 10] = [
    DEV_KEY_0,
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    DEV_KEY_3,
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];
const OWNER: usize = 1;
const RENTER: usize = 3;
const AUDITORS: [usize; 3] = [2, 4, 5];
const EXTRA_AUDITOR: usize = 6;
const SETTLER: usize = 7;
const VALIDATOR: usize = 8;
const MACHINE_KEY: usize = 9;

struct Chain {
    node: DevNode,
    addrs: Vec<Address>,
    /// (call, estimate, gas used) of every exact send.
    sent: Vec<(&'static str, u64, u64)>,
}

impl Chain {
    fn addr(&self, k: usize) -> Address {
        self.addrs[k]
    }

    /// Estimates `call` from account `k` now, waits `wait` blocks, sends it with exactly the
    /// estimate and checks it succeeded within it.
    fn exact<C: SolCall>(&mut self, k: usize, to: &str, call: C, value: U256, wait: u64) {
        let data = format!("0x{}", alloy_primitives::hex::encode(call.abi_encode()));
        let req =
            json!({"from": self.addr(k), "to": to, "data": data, "value": format!("{value:#x}")});
        let gas = hex_u64(&self.node.rpc("eth_estimateGas", json!([req])));
        self.node.wait_for_block(self.node.block_number() + wait, Duration::from_secs(60));
        let out = cast(&[
            "send",
            "--json",
            "--rpc-url",
            &self.node.url(),
            "--private-key",
            KEYS[k],
            "--gas-limit",
            &gas.to_string(),
            "--value",
            &value.to_string(),
            to,
            &data,
        ]);
        let receipt: Value = serde_json::from_str(&out).unwrap();
        let used = hex_u64(&receipt["gasUsed"]);
        assert_eq!(
            receipt["status"],
            json!("0x1"),
            "{} sent {wait} block(s) after its estimate of {gas}: {receipt}",
            C::SIGNATURE
        );
        assert!(used <= gas);
        self.sent.push((C::SIGNATURE, gas, used));
    }

    fn call<C: SolCall>(&self, to: &str, call: C) -> C::Return {
        sol_call(&self.node, to, call)
    }

    /// A heartbeat of `machine` signed by its key over the block before the head (`eth_call`
    /// at `latest` runs in the head's own context, where only earlier hashes are known).
    fn heartbeat(&self, machine: B256) -> IGpuMarket::heartbeatCall {
        let n = self.node.block_number() - 1;
        let digest = self
            .call(MARKET, IGpuMarket::heartbeatDigestCall { machineId: machine, blockNumber: n });
        let sig = cast(&[
            "wallet",
            "sign",
            "--no-hash",
            "--private-key",
            KEYS[MACHINE_KEY],
            &format!("{digest}"),
        ]);
        let sig: alloy_primitives::Bytes = sig.trim().parse().unwrap();
        IGpuMarket::heartbeatCall { machineId: machine, blockNumber: n, signature: sig }
    }
}

#[test]
fn every_precompile_call_sent_with_exactly_its_estimate_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    write_market_test_genesis(&genesis);
    // Candidates with a stake the dev accounts can afford.
    let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    g["config"]["dbc"]["staking"] = json!({
        "minSelfStake": format!("{:#x}", 1_000 * DBC),
        "minDelegation": format!("{:#x}", DBC),
    });
    std::fs::write(&genesis, serde_json::to_string_pretty(&g).unwrap()).unwrap();
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.block-time", "250ms"],
    );
    let addrs = KEYS
        .iter()
        .map(|k| cast(&["wallet", "address", "--private-key", k]).trim().parse().unwrap())
        .collect();
    let mut c = Chain { node, addrs, sent: Vec::new() };
    let zero = U256::ZERO;
    let dbc = |n: u128| U256::from(n * DBC);

    // Auditors join; a machine registers and is verified.
    for (i, a) in AUDITORS.into_iter().enumerate() {
        c.exact(a, MARKET, IGpuMarket::joinCommitteeCall {}, dbc(1_000), i as u64);
    }
    let machine = keccak256("dbc-estimates-machine");
    let spec = IGpuMarket::MachineSpec {
        gpuModel: B256::right_padding_from(b"RTX 4090"),
        gpuCount: 2,
        gpuMemoryGb: 24,
        cpuCores: 32,
        ramGb: 128,
        diskGb: 2_000,
        region: B256::right_padding_from(b"eu-west"),
        machineKey: c.addr(MACHINE_KEY),
    };
    let register = IGpuMarket::registerCall { machineId: machine, spec: spec.clone() };
    c.exact(OWNER, MARKET, register, dbc(2_000), 1);
    wait_until("the auditors' draw", || {
        c.call(MARKET, IGpuMarket::getRoundCall { machineId: machine }).phase as u8 == 2
    });
    let round = c.call(MARKET, IGpuMarket::getRoundCall { machineId: machine });
    let seats: Vec<usize> =
        round.auditors.iter().map(|a| c.addrs.iter().position(|x| x == a).unwrap()).collect();
    let measured = [1_000u32, 1_040, 970];
    for (i, a) in round.auditors.into_iter().enumerate() {
        let salt = B256::repeat_byte(i as u8 + 1);
        let commitment = keccak256((machine, a, spec.clone(), measured[i], salt).abi_encode());
        let call = IGpuMarket::commitVerificationCall { machineId: machine, commitment };
        c.exact(seats[i], MARKET, call, zero, 1);
    }
    for i in 0..3 {
        let salt = B256::repeat_byte(i as u8 + 1);
        let call = IGpuMarket::revealVerificationCall {
            machineId: machine,
            spec: spec.clone(),
            calcPoint: measured[i],
            salt,
        };
        c.exact(seats[i], MARKET, call, zero, 1);
    }
    let m = c.call(MARKET, IGpuMarket::getMachineCall { machineId: machine });
    assert_eq!((m.status as u8, m.calcPoint), (2, 1_000));

    // Providers.
    c.exact(OWNER, MARKET, IGpuMarket::addStakeCall { machineId: machine }, dbc(1), 1);
    let price = m.pricePerGpuBlock * U256::from(2);
    let set_price = IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: price };
    c.exact(OWNER, MARKET, set_price, zero, 30);
    let hb = c.heartbeat(machine);
    c.exact(OWNER, MARKET, hb, zero, 1);
    let hb = c.heartbeat(machine);
    c.exact(RENTER, MARKET, hb, zero, 40);
    // A committee member who joins and leaves.
    c.exact(EXTRA_AUDITOR, MARKET, IGpuMarket::joinCommitteeCall {}, dbc(1_000), 1);
    c.exact(EXTRA_AUDITOR, MARKET, IGpuMarket::leaveCommitteeCall {}, zero, 30);

    // Project mining: a project, enrolment, settlement, leaving.
    let register_project = IProjectMining::registerProjectCall {
        tokensPerBlock: U256::from(3 * DBC),
        budget: U256::from(1_000_000 * DBC),
        endBlock: 1_000_000,
        requirements: IProjectMining::Requirements {
            minGpuMemoryGb: 16,
            minCalcPoint: 500,
            gpuModels: vec![B256::right_padding_from(b"RTX 4090")],
        },
        release: IProjectMining::Release { immediateBps: 2_500, vestingBlocks: 1_000 },
    };
    c.exact(SETTLER, MINING, register_project, zero, 1);
    let pid = c.call(MINING, IProjectMining::projectCountCall {});
    c.exact(
        OWNER,
        MINING,
        IProjectMining::enrollCall { projectId: pid, machineId: machine },
        zero,
        1,
    );
    let provider = c.addr(OWNER);
    c.exact(SETTLER, MINING, IProjectMining::settleCall { projectId: pid, provider }, zero, 60);

    // Renters.
    let blocks = 100;
    let q = c.call(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks });
    c.exact(RENTER, MARKET, IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks }, q, 1);
    let rental = c.call(MARKET, IGpuMarket::rentalCountCall {});
    let q = c.call(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks: 10 });
    let extend = IGpuMarket::extendRentalCall { rentalId: rental, blocks: 10 };
    c.exact(RENTER, MARKET, extend, q, 30);
    c.exact(RENTER, MARKET, IGpuMarket::reportFaultCall { rentalId: rental }, dbc(100), 1);
    c.exact(RENTER, MARKET, IGpuMarket::endRentalCall { rentalId: rental }, zero, 5);
    c.exact(
        OWNER,
        MINING,
        IProjectMining::leaveCall { projectId: pid, machineId: machine },
        zero,
        1,
    );
    c.exact(OWNER, MARKET, IGpuMarket::claimRewardsCall {}, zero, 60);
    c.exact(OWNER, MARKET, IGpuMarket::goOfflineCall { machineId: machine }, zero, 1);

    // Staking: a candidate, a delegator, rewards, unbonding.
    let v = c.addr(VALIDATOR);
    let reg = IStaking::registerValidatorCall { commissionBps: 1_000 };
    c.exact(VALIDATOR, STAKING, reg, dbc(1_000), 1);
    c.exact(VALIDATOR, STAKING, IStaking::setCommissionCall { commissionBps: 500 }, zero, 30);
    c.exact(0, STAKING, IStaking::delegateCall { validator: v }, dbc(10), 1);
    c.exact(0, STAKING, IStaking::claimRewardsCall { validator: v }, zero, 60);
    c.exact(0, STAKING, IStaking::undelegateCall { validator: v, amount: dbc(5) }, zero, 1);

    let report: Vec<String> = c
        .sent
        .iter()
        .map(|(name, gas, used)| format!("{name}: estimate {gas}, used {used}"))
        .collect();
    println!("{}", report.join("\n"));
    assert_eq!(c.sent.len(), 31);
}

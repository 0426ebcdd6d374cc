//! A dev node with a verified GPU machine, driven with `cast` as a user would: shared by the
//! end-to-end tests of gas estimates (`estimates.rs`) and of economic attacks through the EVM
//! (`attacks_evm.rs`).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use crate::common::*;
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue};
use dbc_precompiles::abi::IGpuMarket;
use serde_json::{Value, json};
use std::time::Duration;

pub const MARKET: &str = "0x0000000000000000000000000000000000000D01";
pub const MINING: &str = "0x0000000000000000000000000000000000000D02";
pub const STAKING: &str = "0x0000000000000000000000000000000000000D03";
pub const DBC: u128 = 1_000_000_000_000_000_000;

/// Private keys of the test mnemonic's accounts 0..=9 (Foundry's and Hardhat's defaults).
pub const KEYS: [&str; 10] = [
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
pub const OWNER: usize = 1;
pub const RENTER: usize = 3;
pub const AUDITORS: [usize; 3] = [2, 4, 5];
pub const EXTRA_AUDITOR: usize = 6;
pub const SETTLER: usize = 7;
pub const VALIDATOR: usize = 8;
pub const MACHINE_KEY: usize = 9;

pub struct Chain {
    pub node: DevNode,
    pub addrs: Vec<Address>,
    /// (call, estimate, gas used) of every exact send.
    pub sent: Vec<(&'static str, u64, u64)>,
}

impl Chain {
    pub fn addr(&self, k: usize) -> Address {
        self.addrs[k]
    }

    /// Estimates `call` from account `k` now, waits `wait` blocks, sends it with exactly the
    /// estimate and checks it succeeded within it.
    pub fn exact<C: SolCall>(
        &mut self,
        k: usize,
        to: &str,
        call: C,
        value: U256,
        wait: u64,
    ) -> Value {
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
        receipt
    }

    pub fn call<C: SolCall>(&self, to: &str, call: C) -> C::Return {
        sol_call(&self.node, to, call)
    }

    /// A heartbeat of `machine` signed by its key over the block before the head (`eth_call`
    /// at `latest` runs in the head's own context, where only earlier hashes are known).
    pub fn heartbeat(&self, machine: B256) -> IGpuMarket::heartbeatCall {
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

/// Starts a dev node (250 ms blocks) on the market test genesis, edited by `edit`, and gives
/// every account of [`KEYS`] its address.
pub fn start(dir: &std::path::Path, edit: impl FnOnce(&mut Value)) -> Chain {
    let genesis = dir.join("genesis.json");
    write_market_test_genesis(&genesis);
    let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    edit(&mut g);
    std::fs::write(&genesis, serde_json::to_string_pretty(&g).unwrap()).unwrap();
    let node = DevNode::start(
        &dir.join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.block-time", "250ms"],
    );
    let addrs = KEYS
        .iter()
        .map(|k| cast(&["wallet", "address", "--private-key", k]).trim().parse().unwrap())
        .collect();
    Chain { node, addrs, sent: Vec::new() }
}

/// The spec of the 2-GPU RTX 4090 machine the tests use, with [`MACHINE_KEY`]'s address.
pub fn machine_spec(c: &Chain) -> IGpuMarket::MachineSpec {
    IGpuMarket::MachineSpec {
        gpuModel: B256::right_padding_from(b"RTX 4090"),
        gpuCount: 2,
        gpuMemoryGb: 24,
        cpuCores: 32,
        ramGb: 128,
        diskGb: 2_000,
        region: B256::right_padding_from(b"eu-west"),
        machineKey: c.addr(MACHINE_KEY),
    }
}

/// The [`AUDITORS`] join the committee and [`OWNER`] registers machine `name`, which they
/// verify (each measuring within 10% of the RTX 4090's 1,000); every call is sent with exactly
/// its estimate. Returns the machine id.
pub fn verified_machine(c: &mut Chain, name: &str) -> B256 {
    let zero = U256::ZERO;
    let dbc = |n: u128| U256::from(n * DBC);
    // Auditors join; a machine registers and is verified.
    for (i, a) in AUDITORS.into_iter().enumerate() {
        c.exact(a, MARKET, IGpuMarket::joinCommitteeCall {}, dbc(1_000), i as u64);
    }
    let machine = keccak256(name);
    let spec = machine_spec(c);
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

    machine
}

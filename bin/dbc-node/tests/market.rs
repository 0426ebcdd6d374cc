//! The GPU market precompile end to end: `forge script` phases drive a real `dbc-node --dev`
//! (registration, a 3-auditor verification, rentals direct and through the RentalEscrow
//! contract, extension, early ends, a fault report, slashing, reward claims); each phase asserts
//! the previous one's effects on the node. This test then checks the market's events and the
//! `dbc_` RPC against the chain.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent};
use common::*;
use dbc_precompiles::abi::IGpuMarket;
use serde_json::{Value, json};
use std::{path::Path, time::Duration};

const MARKET: &str = "0x0000000000000000000000000000000000000D01";
const TREASURY: &str = "0x00000000000000000000000000000000000dB7e0";

/// Writes the dev genesis with market windows short enough for a test at 250 ms blocks;
/// returns its total supply (the sum of its balances).
fn write_test_genesis(path: &Path) -> U256 {
    let mut g: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("genesis/dev.json")).unwrap(),
    )
    .unwrap();
    g["config"]["dbc"]["market"] = json!({
        "auditorStake": "1000000000000000000000",
        "drawDelayBlocks": 2,
        "commitWindowBlocks": 200,
        "revealWindowBlocks": 200,
        "rentUnitBlocks": 10,
        "maxRentBlocks": 5000,
        "epochBlocks": 50,
        "vestingBlocks": 100000,
        "heartbeatTimeoutBlocks": 100000,
        "minOnlineBlocks": 100000,
        "exitCooldownBlocks": 100,
    });
    std::fs::write(path, serde_json::to_string_pretty(&g).unwrap()).unwrap();
    g["alloc"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["balance"].as_str().map_or(U256::ZERO, |b| b.parse::<U256>().unwrap()))
        .sum()
}

fn view<C: SolCall>(node: &DevNode, call: C) -> C::Return {
    let out = node
        .rpc("eth_call", json!([{"to": MARKET, "data": Bytes::from(call.abi_encode())}, "latest"]));
    let bytes: Bytes = serde_json::from_value(out).unwrap();
    C::abi_decode_returns(&bytes).unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn phase(url: &str, n: u32) {
    let output = std::process::Command::new(tool("forge"))
        .current_dir(repo_root().join("contracts"))
        .stdin(std::process::Stdio::null())
        .args([
            "script",
            "script/MarketE2E.s.sol:MarketE2E",
            "--sig",
            &format!("phase{n}()"),
            "--rpc-url",
            url,
            "--broadcast",
            "--skip-simulation",
            "--slow",
            "--non-interactive",
        ])
        .output()
        .expect("forge");
    let out = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success()
            && (out.contains("ONCHAIN EXECUTION COMPLETE & SUCCESSFUL")
                || (n == 9 && out.contains("Script ran successfully"))),
        "phase {n}:\n{out}"
    );
}

#[test]
fn gpu_market_end_to_end_with_forge_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    let genesis_supply = write_test_genesis(&genesis);
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.block-time", "250ms"],
    );
    let url = node.url();
    let machine = keccak256("dbc-e2e-machine-A");

    phase(&url, 1);
    wait_until("the auditors' draw", || {
        view(&node, IGpuMarket::getRoundCall { machineId: machine }).phase as u8 == 2
    });
    phase(&url, 2);
    phase(&url, 3);
    phase(&url, 4);
    phase(&url, 5);
    wait_until("the report's draw", || {
        view(&node, IGpuMarket::getReportCall { reportId: U256::from(1) }).round.phase as u8 == 2
    });
    phase(&url, 6);
    phase(&url, 7);
    phase(&url, 8);
    phase(&url, 9);

    // Every user-visible change left an event an indexer can follow.
    let logs = node
        .rpc("eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "latest", "address": MARKET}]));
    let logs = logs.as_array().unwrap();
    let count = |sig: B256| logs.iter().filter(|l| l["topics"][0] == json!(sig)).count();
    use IGpuMarket::*;
    for (name, sig, n) in [
        ("AuditorJoined", AuditorJoined::SIGNATURE_HASH, 3),
        ("MachineRegistered", MachineRegistered::SIGNATURE_HASH, 1),
        ("VerificationCommitted", VerificationCommitted::SIGNATURE_HASH, 3),
        ("VerificationRevealed", VerificationRevealed::SIGNATURE_HASH, 3),
        ("MachineVerified", MachineVerified::SIGNATURE_HASH, 1),
        ("Rented", Rented::SIGNATURE_HASH, 3),
        ("RentalExtended", RentalExtended::SIGNATURE_HASH, 1),
        ("RentalEnded", RentalEnded::SIGNATURE_HASH, 3),
        ("RentBurned", RentBurned::SIGNATURE_HASH, 3),
        ("FaultReported", FaultReported::SIGNATURE_HASH, 1),
        ("ReportCommitted", ReportCommitted::SIGNATURE_HASH, 3),
        ("ReportRevealed", ReportRevealed::SIGNATURE_HASH, 3),
        ("ReportResolved", ReportResolved::SIGNATURE_HASH, 1),
        ("AuditorPenalized", AuditorPenalized::SIGNATURE_HASH, 1),
        ("MachineOffline", MachineOffline::SIGNATURE_HASH, 1),
        ("StakeAdded", StakeAdded::SIGNATURE_HASH, 1),
        ("Slashed", Slashed::SIGNATURE_HASH, 1),
        ("MachineOnline", MachineOnline::SIGNATURE_HASH, 1),
        ("RewardsClaimed", RewardsClaimed::SIGNATURE_HASH, 1),
    ] {
        assert_eq!(count(sig), n, "{name} events");
    }
    assert!(count(RewardSettled::SIGNATURE_HASH) >= 1);

    // Burned totals: the RentBurned events add up to the market's and the RPC's total.
    let burned_events: U256 = logs
        .iter()
        .filter(|l| l["topics"][0] == json!(RentBurned::SIGNATURE_HASH))
        .map(|l| {
            let data: Bytes = serde_json::from_value(l["data"].clone()).unwrap();
            U256::from_be_slice(&data[..32])
        })
        .sum();
    let stats = node.rpc("dbc_networkStats", json!([]));
    let total_burned: U256 = serde_json::from_value(stats["totalBurned"].clone()).unwrap();
    assert_eq!(total_burned, burned_events);
    assert!(total_burned > U256::ZERO);
    assert_eq!(stats["burnRateBps"], json!(3000));
    assert_eq!(stats["onlineGpus"], json!("0x4"));
    assert_eq!(stats["rentedGpus"], json!("0x0"));

    // Supply: genesis supply less rent burned less base fees burned (Σ baseFee × gasUsed),
    // at one block so nothing moves under us.
    let head = node.block_number();
    let stats = node.rpc("dbc_networkStats", json!([format!("0x{head:x}")]));
    let mut fees = U256::ZERO;
    for n in 1..=head {
        let b = node.rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]));
        fees += U256::from(hex_u128(&b["baseFeePerGas"])) * U256::from(hex_u64(&b["gasUsed"]));
    }
    let fees_rpc: U256 = serde_json::from_value(stats["feesBurned"].clone()).unwrap();
    assert_eq!(fees_rpc, fees);
    let supply: U256 = serde_json::from_value(stats["totalSupply"].clone()).unwrap();
    let burned_at: U256 = serde_json::from_value(stats["totalBurned"].clone()).unwrap();
    assert_eq!(supply, genesis_supply - burned_at - fees);

    // dbc_ views agree with the chain.
    let m = node.rpc("dbc_getMachine", json!([machine]));
    assert_eq!(m["status"], json!("online"));
    assert_eq!(m["spec"]["gpuModel"], json!("RTX 4090"));
    assert_eq!(m["calcPoint"], json!(1500));
    assert_eq!(node.rpc("dbc_getMachine", json!([B256::repeat_byte(7)])), Value::Null);
    let page = node.rpc("dbc_listMachines", json!(["0x0", "0x1"]));
    assert_eq!(page["total"], json!("0x1"));
    assert_eq!(page["machines"][0]["id"], json!(machine));
    assert_eq!(page["nextOffset"], Value::Null);
    let err = node.rpc_err("dbc_listMachines", json!(["0x0", "0x0"]));
    assert_eq!(err["code"], json!(-32602));
    let r = node.rpc("dbc_getRental", json!(["0x3"]));
    assert_eq!(r["status"], json!("ended"));
    assert_eq!(node.rpc("dbc_getRental", json!(["0x63"])), Value::Null);

    // The treasury holds the 70% of the slash plus the minority auditor's 100 DBC penalty.
    let slashed: Vec<_> =
        logs.iter().filter(|l| l["topics"][0] == json!(Slashed::SIGNATURE_HASH)).collect();
    let data: Bytes = serde_json::from_value(slashed[0]["data"].clone()).unwrap();
    let to_treasury = U256::from_be_slice(&data[96..128]);
    let treasury: U256 =
        serde_json::from_value(node.rpc("eth_getBalance", json!([TREASURY, "latest"]))).unwrap();
    assert_eq!(treasury, to_treasury + U256::from(100u128 * 10u128.pow(18)));

    // Calls to the market show up in call traces.
    let tx = logs.iter().find(|l| l["topics"][0] == json!(Rented::SIGNATURE_HASH)).unwrap()
        ["transactionHash"]
        .clone();
    let trace = node.rpc("debug_traceTransaction", json!([tx, {"tracer": "callTracer"}]));
    assert_eq!(trace["to"].as_str().unwrap().to_lowercase(), MARKET.to_lowercase());
}

//! The GPU market precompile end to end: `forge script` phases drive a real `dbc-node --dev`
//! (registration, a 3-auditor verification, rentals direct and through the RentalEscrow
//! contract, extension, early ends, a fault report, slashing, reward claims); each phase asserts
//! the previous one's effects on the node. This test then checks the market's events and the
//! `dbc_` RPC against the chain.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::SolEvent;
use common::*;
use dbc_precompiles::abi::IGpuMarket;
use serde_json::{Value, json};

const MARKET: &str = "0x0000000000000000000000000000000000000D01";
/// The treasury: the governance precompile's account.
const TREASURY: &str = "0x0000000000000000000000000000000000000D04";
/// Dev account 9: the machine key of MarketE2E's machine (it signs the heartbeats).
const MACHINE_KEY: &str = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720";
const DBC: u128 = 1_000_000_000_000_000_000;

#[test]
fn gpu_market_end_to_end_with_forge_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    let genesis_supply = write_market_test_genesis(&genesis);
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.block-time", "250ms"],
    );
    let url = node.url();
    let machine = keccak256("dbc-e2e-machine-A");

    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 1);
    wait_until("the auditors' draw", || {
        sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: machine }).phase as u8 == 2
    });
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 2);
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 3);
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 4);
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 5);
    wait_until("the report's draw", || {
        sol_call(&node, MARKET, IGpuMarket::getReportCall { reportId: U256::from(1) }).round.phase
            as u8
            == 2
    });
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 6);
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 7);
    // The confirmed fault slashed 4% (the first unreachable tier) at once; 70 blocks offline
    // reach the second tier (8%), so the heartbeat of phase 8 takes the other 4% on return.
    let m = sol_call(&node, MARKET, IGpuMarket::getMachineCall { machineId: machine });
    assert_eq!(m.status as u8, 3, "offline after the confirmed fault");
    node.wait_for_block(m.offlineSince + 70, std::time::Duration::from_secs(60));
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 8);
    // Found failing by auditors, the machine is verified again before it serves: a new draw,
    // commits (phase 9), reveals (phase 3 again), then back online (phase 10).
    wait_until("the re-verification's draw", || {
        sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: machine }).phase as u8 == 2
    });
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 9);
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 3);
    forge_phase(&url, "script/MarketE2E.s.sol:MarketE2E", 10);

    // Every user-visible change left an event an indexer can follow.
    let logs = node
        .rpc("eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "latest", "address": MARKET}]));
    let logs = logs.as_array().unwrap();
    let count = |sig: B256| logs.iter().filter(|l| l["topics"][0] == json!(sig)).count();
    use IGpuMarket::*;
    for (name, sig, n) in [
        ("AuditorJoined", AuditorJoined::SIGNATURE_HASH, 3),
        ("AuditorStakeAdded", AuditorStakeAdded::SIGNATURE_HASH, 1),
        ("MachineRegistered", MachineRegistered::SIGNATURE_HASH, 1),
        ("VerificationCommitted", VerificationCommitted::SIGNATURE_HASH, 6),
        ("VerificationRevealed", VerificationRevealed::SIGNATURE_HASH, 6),
        ("MachineVerified", MachineVerified::SIGNATURE_HASH, 2),
        ("MachineReverifying", MachineReverifying::SIGNATURE_HASH, 1),
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
        ("Slashed", Slashed::SIGNATURE_HASH, 2),
        ("MachineOnline", MachineOnline::SIGNATURE_HASH, 0),
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
    assert_eq!(m["calcPoint"], json!(1000), "the table's RTX 4090, not what auditors measured");
    let key: Address = serde_json::from_value(m["spec"]["machineKey"].clone()).unwrap();
    assert_eq!(key, MACHINE_KEY.parse::<Address>().unwrap());
    assert_eq!(m["openChallenge"], Value::Null);
    assert_eq!(node.rpc("dbc_getMachine", json!([B256::repeat_byte(7)])), Value::Null);
    // The genesis GPU-model table the calc point came from.
    let models = node.rpc("dbc_gpuModels", json!([]));
    let rtx = models.as_array().unwrap().iter().find(|m| m["model"] == json!("RTX 4090")).unwrap();
    assert_eq!((&rtx["calcPoint"], &rtx["memoryGb"]), (&json!(1000), &json!(24)));
    assert_eq!(models.as_array().unwrap().len(), 8);
    let page = node.rpc("dbc_listMachines", json!(["0x0", "0x1"]));
    assert_eq!(page["total"], json!("0x1"));
    assert_eq!(page["machines"][0]["id"], json!(machine));
    assert_eq!(page["nextOffset"], Value::Null);
    let err = node.rpc_err("dbc_listMachines", json!(["0x0", "0x0"]));
    assert_eq!(err["code"], json!(-32602));
    let r = node.rpc("dbc_getRental", json!(["0x3"]));
    assert_eq!(r["status"], json!("ended"));
    assert_eq!(node.rpc("dbc_getRental", json!(["0x63"])), Value::Null);

    // Two slashes: 4% of the 4,000 DBC stake when the fault was confirmed (160), and on return
    // 8% - 4% of the stake topped up to 3,840 + 400 = 4,240 (169.6). Each pays 10% to the
    // renter, 20% to auditors (rounded down per auditor: at the fault the two who found it, on
    // return the three who verified the machine), the rest to the treasury, which also holds
    // the minority auditor's 100 DBC penalty.
    let slashed: Vec<_> =
        logs.iter().filter(|l| l["topics"][0] == json!(Slashed::SIGNATURE_HASH)).collect();
    let mut to_treasury = U256::ZERO;
    for (l, (amount, auditors)) in slashed.iter().zip([(160 * DBC, 2), (1696 * DBC / 10, 3)]) {
        let data: Bytes = serde_json::from_value(l["data"].clone()).unwrap();
        let word = |i: usize| U256::from_be_slice(&data[32 * i..32 * (i + 1)]);
        assert_eq!(word(0), U256::from(amount));
        assert_eq!(word(1), U256::from(amount / 10), "the renter's 10%");
        assert_eq!(word(2), U256::from(amount / 5 / auditors * auditors), "the auditors' 20%");
        assert_eq!(word(3), word(0) - word(1) - word(2));
        to_treasury += word(3);
    }
    let treasury = |block: &str| -> U256 {
        serde_json::from_value(node.rpc("eth_getBalance", json!([TREASURY, block]))).unwrap()
    };
    assert_eq!(treasury("latest"), treasury("0x0") + to_treasury + U256::from(100 * DBC));
    // dbc_treasury counts the same inflows by source (issue #17).
    let t = node.rpc("dbc_treasury", json!([]));
    let amount = |v: &Value| -> U256 { serde_json::from_value(v.clone()).unwrap() };
    assert_eq!(amount(&t["balance"]), treasury("latest"));
    assert_eq!(amount(&t["received"]), to_treasury + U256::from(100 * DBC));
    assert_eq!(amount(&t["receivedBySource"]["machineSlash"]), to_treasury);

    // Transitions of the end-of-block hook have no receipt; dbc_getBlockHookLogs replays the
    // block and returns them: the auditors' draw happened in the round's draw block.
    let round = sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: machine });
    let hook = node.rpc("dbc_getBlockHookLogs", json!([format!("0x{:x}", round.drawAt)]));
    let assigned = hook
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["topics"][0] == json!(AuditorsAssigned::SIGNATURE_HASH))
        .unwrap_or_else(|| panic!("no AuditorsAssigned in {hook}"));
    assert_eq!(assigned["topics"][1], json!(machine));
    assert_eq!(assigned["transactionHash"], Value::Null);
    assert_eq!(hex_u64(&assigned["blockNumber"]), round.drawAt);

    // Calls into the market from a contract show up in geth and Parity traces: the escrow's
    // `end` calls `endRental` (no value) on 0x…0D01.
    let escrow_end = node.rpc(
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "latest",
                "topics": [keccak256("EscrowEnded(uint256,address,uint256)")]}]),
    );
    let tx = escrow_end[0]["transactionHash"].clone();
    let trace = node.rpc("debug_traceTransaction", json!([tx, {"tracer": "callTracer"}]));
    let inner = trace["calls"].as_array().unwrap();
    assert!(
        inner.iter().any(|c| c["to"].as_str().unwrap().eq_ignore_ascii_case(MARKET)),
        "{trace}"
    );
    let parity = node.rpc("trace_transaction", json!([tx]));
    assert!(
        parity.as_array().unwrap().iter().any(|t| t["traceAddress"] != json!([])
            && t["action"]["to"].as_str().is_some_and(|to| to.eq_ignore_ascii_case(MARKET))),
        "{parity}"
    );

    // Calls to the market show up in call traces.
    let tx = logs.iter().find(|l| l["topics"][0] == json!(Rented::SIGNATURE_HASH)).unwrap()
        ["transactionHash"]
        .clone();
    let trace = node.rpc("debug_traceTransaction", json!([tx, {"tracer": "callTracer"}]));
    assert_eq!(trace["to"].as_str().unwrap().to_lowercase(), MARKET.to_lowercase());

    // Issue #16 item 8: a transaction sent with exactly its `eth_estimateGas` estimate does not
    // run out of gas one block later, nor after an epoch boundary (epochs are 50 blocks here):
    // the estimate runs in the next block's context, and a settlement costs the same whether
    // its vesting tranche opens or merges.
    let from = cast(&["wallet", "address", "--private-key", DEV_KEY_3]);
    let exact = |data: Vec<u8>, value: U256, wait: u64| {
        let data = format!("0x{}", alloy_primitives::hex::encode(&data));
        let req = json!({"from": from, "to": MARKET, "data": data, "value": format!("{value:#x}")});
        let gas = hex_u64(&node.rpc("eth_estimateGas", json!([req])));
        node.wait_for_block(node.block_number() + wait, std::time::Duration::from_secs(60));
        let out = cast(&[
            "send",
            "--json",
            "--rpc-url",
            &url,
            "--private-key",
            DEV_KEY_3,
            "--gas-limit",
            &gas.to_string(),
            "--value",
            &value.to_string(),
            MARKET,
            &data,
        ]);
        let receipt: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(receipt["status"], json!("0x1"), "sent with the estimate {gas}: {receipt}");
        assert!(hex_u64(&receipt["gasUsed"]) <= gas);
        gas
    };
    use alloy_sol_types::SolCall;
    let blocks = 100;
    let q = sol_call(&node, MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks });
    let rent = IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks }.abi_encode();
    exact(rent.clone(), q, 1);
    let id = sol_call(&node, MARKET, IGpuMarket::rentalCountCall {});
    exact(IGpuMarket::endRentalCall { rentalId: id }.abi_encode(), U256::ZERO, 60);
    exact(rent, q, 60);
}

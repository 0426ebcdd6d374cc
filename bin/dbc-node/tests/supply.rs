//! Issue #17 item 4: `dbc_networkStats.totalSupply` is exact. After every block it equals the
//! sum of every balance in the state (`dbc_auditSupply`), through what moves the supply:
//! base fees burned, a contract that `SELFDESTRUCT`s to itself in its constructor (EIP-6780:
//! its balance is burned), a dev balance edit, a donation to the treasury.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use common::*;
use dbc_precompiles::abi::IGovernance;
use serde_json::{Value, json};

const DEV_0: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const DEV_3: &str = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
const DEAD: &str = "0x000000000000000000000000000000000000dead";
const GOVERNANCE: &str = "0x0000000000000000000000000000000000000d04";
const ETHER: u128 = 1_000_000_000_000_000_000;

fn amount(v: &Value) -> U256 {
    serde_json::from_value(v.clone()).unwrap()
}

/// The state's sum at the head, checked against the ledger at the same block; remembered in
/// `seen` to check the history at the end.
fn audited(node: &DevNode, seen: &mut Vec<(Value, U256)>) -> U256 {
    let audit = node.rpc("dbc_auditSupply", json!([]));
    let stats = node.rpc("dbc_networkStats", json!([audit["block"]]));
    assert_eq!(
        amount(&audit["sum"]),
        amount(&stats["totalSupply"]),
        "block {}: the ledger differs from the sum of {} balances",
        audit["block"],
        audit["accounts"]
    );
    assert_eq!(amount(&audit["totalSupply"]), amount(&audit["sum"]));
    seen.push((audit["block"].clone(), amount(&audit["sum"])));
    amount(&audit["sum"])
}

fn send(node: &DevNode, tx: Value) -> Value {
    let hash = node.rpc("eth_sendTransaction", json!([tx]));
    let receipt = node.wait_receipt(hash.as_str().unwrap());
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt
}

#[test]
fn total_supply_equals_the_sum_of_all_balances_after_every_block() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("data"), &["--dev.instant"]);
    let ten_b = U256::from(10_000_000_000u64) * U256::from(ETHER);
    let mut seen = Vec::new();
    assert_eq!(audited(&node, &mut seen), ten_b, "genesis");

    // Transfers: the base fees leave the supply, the tips stay (the coinbase gets them).
    let mut supply = ten_b;
    for _ in 0..3 {
        send(&node, json!({ "from": DEV_0, "to": DEV_3, "value": format!("{:#x}", ETHER) }));
        let now = audited(&node, &mut seen);
        assert!(now < supply, "base fees burned");
        supply = now;
    }

    // ADDRESS SELFDESTRUCT as init code, with 5 DBC: created and destroyed in one transaction
    // with itself as the beneficiary, so the 5 DBC are burned.
    let receipt = send(
        &node,
        json!({ "from": DEV_0, "data": "0x30ff", "value": format!("{:#x}", 5 * ETHER) }),
    );
    let fee = U256::from(hex_u128(&receipt["gasUsed"]))
        * U256::from(hex_u128(&receipt["effectiveGasPrice"]));
    let now = audited(&node, &mut seen);
    assert!(now + U256::from(5 * ETHER) <= supply && supply - now <= U256::from(5 * ETHER) + fee);
    supply = now;

    // A dev balance edit mints: the ledger follows it.
    node.rpc("anvil_setBalance", json!([DEAD, format!("{:#x}", 100 * ETHER)]));
    let now = audited(&node, &mut seen);
    assert_eq!(now, supply + U256::from(100 * ETHER));
    supply = now;

    // A donation moves DBC, it creates or burns none (only the fee's base share).
    let data = alloy_primitives::Bytes::from(IGovernance::fundCall {}.abi_encode());
    let donation = send(
        &node,
        json!({ "from": DEV_0, "to": GOVERNANCE, "data": data, "value": format!("{:#x}", 2 * ETHER) }),
    );
    assert!(audited(&node, &mut seen) < supply);
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(amount(&t["receivedBySource"]["donation"]), U256::from(2 * ETHER));

    // The ledger is kept for history: at every block audited above, totalSupply read later
    // is what the state summed to then, and so is the state summed at that block later.
    assert!(seen.len() >= 7);
    for (block, sum) in &seen {
        let stats = node.rpc("dbc_networkStats", json!([block]));
        assert_eq!(amount(&stats["totalSupply"]), *sum, "block {block}");
        let audit = node.rpc("dbc_auditSupply", json!([block]));
        assert_eq!((&audit["block"], amount(&audit["sum"])), (block, *sum), "block {block}");
        assert_eq!(amount(&audit["totalSupply"]), *sum, "block {block}");
    }

    // The treasury's history: the donation, in its block, and nothing else.
    let history = node.rpc("dbc_treasuryHistory", json!(["0x0", "latest"]));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["block"], donation["blockNumber"]);
    assert_eq!(amount(&history[0]["received"]), U256::from(2 * ETHER));
    assert_eq!(amount(&history[0]["receivedBySource"]["donation"]), U256::from(2 * ETHER));
    assert_eq!(amount(&history[0]["receivedBySource"]["machineSlash"]), U256::ZERO);
    assert_eq!(amount(&history[0]["spent"]), U256::ZERO);
    assert_eq!(amount(&history[0]["balance"]), amount(&t["balance"]));
    let err = node.rpc_err("dbc_treasuryHistory", json!(["latest", "0x0"]));
    assert_eq!(err["code"], -32602, "{err}");
}

/// With the burn floor at the whole genesis supply nothing can be burned: every block's base
/// fees are minted back to the treasury at the end of the block (source 8, `BurnFloorReached`),
/// so the supply and the sum of the balances stay at 10 B DBC while fees are paid.
#[test]
fn base_fees_below_the_burn_floor_are_minted_back_to_the_treasury() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    let ten_b = U256::from(10_000_000_000u64) * U256::from(ETHER);
    let supply = write_dev_genesis(&genesis, |g| {
        g["config"]["dbc"]["governance"] = json!({ "burnFloor": ten_b.to_string() });
    });
    assert_eq!(supply, ten_b);
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.instant"],
    );
    let mut seen = Vec::new();
    let treasury_before = amount(&node.rpc("dbc_treasury", json!([]))["balance"]);
    let mut fees = U256::ZERO;
    let mut per_block = Vec::new();
    for _ in 0..3 {
        let r =
            send(&node, json!({ "from": DEV_0, "to": DEV_3, "value": format!("{:#x}", ETHER) }));
        let block = node.rpc("eth_getBlockByHash", json!([r["blockHash"], false]));
        let fee =
            U256::from(hex_u128(&r["gasUsed"])) * U256::from(hex_u128(&block["baseFeePerGas"]));
        fees += fee;
        per_block.push((r["blockNumber"].clone(), fee));
        assert_eq!(audited(&node, &mut seen), ten_b, "nothing burned below the floor");
    }
    assert!(fees > U256::ZERO);
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(amount(&t["receivedBySource"]["burnFloor"]), fees);
    // Minted in the governance hook, without a receipt, yet in the history block by block.
    let history = node.rpc("dbc_treasuryHistory", json!(["0x0", "latest"]));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    for (entry, (block, fee)) in history.iter().zip(&per_block) {
        assert_eq!(&entry["block"], block);
        assert_eq!(amount(&entry["receivedBySource"]["burnFloor"]), *fee);
        assert_eq!(amount(&entry["received"]), *fee);
    }
    assert_eq!(amount(&t["balance"]), treasury_before + fees);
    let headroom = sol_call(&node, GOVERNANCE, IGovernance::burnHeadroomCall {});
    assert_eq!(headroom, U256::ZERO);
}

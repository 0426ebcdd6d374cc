//! Issue #17 item 6 on the proof-of-stake network (`testnet/run.sh`: 4 validators and a full
//! node, 2 s slots, 10-block epochs; governance periods shortened with `CONFIG_DBC`): a change
//! of the market's stake per GPU and burn tiers, built with `dbc_encodeParams` and proposed,
//! voted for and enacted with `cast` through the full node, is in force from the same block E
//! on all five nodes, which agree on that block; block E − 1 still ran the genesis numbers.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use common::{DEV_KEY_0, DEV_KEY_3, cast, testnet::Testnet};
use dbc_precompiles::abi::{IGovernance, IGpuMarket};
use serde_json::{Value, json};

const GOVERNANCE: &str = "0x0000000000000000000000000000000000000D04";
const MARKET: &str = "0x0000000000000000000000000000000000000D01";

/// One network at a time: both tests pick free ports at start, and two networks would share the
/// machine's two cores.
static ONE_NETWORK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `eth_call` of `call` to `to` on `node` at `block`.
fn view<C: SolCall>(net: &Testnet, node: usize, to: &str, call: C, block: &str) -> C::Return {
    let data = format!("0x{}", alloy_primitives::hex::encode(call.abi_encode()));
    let out = net.rpc(node, "eth_call", json!([{"to": to, "data": data}, block])).unwrap();
    let bytes = alloy_primitives::hex::decode(out.as_str().unwrap()).unwrap();
    C::abi_decode_returns(&bytes).unwrap()
}

fn send(net: &Testnet, key: &str, value: &str, sig: &str, args: &[&str]) -> Value {
    let url = net.url(4);
    let mut cmd = vec![
        "send",
        "--json",
        "--rpc-url",
        &url,
        "--private-key",
        key,
        "--value",
        value,
        GOVERNANCE,
    ];
    cmd.push(sig);
    cmd.extend_from_slice(args);
    let receipt: Value = serde_json::from_str(cast(&cmd).trim()).unwrap();
    assert_eq!(receipt["status"], "0x1", "{sig}: {receipt}");
    receipt
}

#[test]
fn a_parameter_change_switches_every_node_at_the_same_block() {
    let _one = ONE_NETWORK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config-dbc.json");
    let governance = json!({"governance": {
        "referendumBlocks": 3,
        "referendumTurnoutBps": 0,
        "enactmentDelayBlocks": 1,
        "proposalDeposit": "100000000000000000000",
    }});
    std::fs::write(&config, governance.to_string()).unwrap();
    let net =
        Testnet::start_with(&[("EPOCH_BLOCKS", "10"), ("CONFIG_DBC", config.to_str().unwrap())]);
    net.wait("the first blocks", 60, || net.head(4) >= 2);
    let params = net.rpc(4, "dbc_params", json!([])).unwrap();
    assert_eq!(params["governance"]["params"]["referendumBlocks"], 3, "CONFIG_DBC applied");

    let new_stake = U256::from(2_000u64) * U256::from(10u64).pow(U256::from(18));
    let changes = json!({
        "stakePerGpu": format!("{new_stake:#x}"),
        "burnTiers": [{"fromGpus": 0, "bps": 5000}, {"fromGpus": 10, "bps": 10000}],
    });
    let record = net.rpc(4, "dbc_encodeParams", json!(["market", changes])).unwrap();
    let record = record.as_str().unwrap().to_string();
    send(&net, DEV_KEY_3, "1000ether", "lock()", &[]);
    let what = "stake 2,000 DBC per GPU";
    send(
        &net,
        DEV_KEY_0,
        "100ether",
        "proposeParams(uint8,bytes,uint8,string)",
        &["0", &record, "1", what],
    );
    send(&net, DEV_KEY_3, "0", "castVote(uint256,uint8)", &["1", "1"]);

    // Counted after 3 blocks, enacted at the end of E − 1.
    let id = U256::from(1);
    let mut e = 0;
    net.wait("the referendum to pass", 90, || {
        e = view(&net, 4, GOVERNANCE, IGovernance::getProposalCall { id }, "latest").enactAt;
        e != 0
    });
    net.wait("block E + 1 on every node", 120, || (0..5).all(|n| net.head(n) > e));
    let status = view(&net, 4, GOVERNANCE, IGovernance::getProposalCall { id }, "latest").status;
    assert_eq!(status, IGovernance::Status::Enacted);
    let hash = net.hash_at(4, e).unwrap();
    let (before, at) = (format!("{:#x}", e - 1), format!("{e:#x}"));
    for n in 0..5 {
        assert_eq!(net.hash_at(n, e).as_deref(), Some(hash.as_str()), "node {n} block {e}");
        let p = net.rpc(n, "dbc_params", json!([before])).unwrap();
        assert_eq!(p["market"]["version"], 0, "node {n} at E - 1");
        let p = net.rpc(n, "dbc_params", json!([at])).unwrap();
        assert_eq!(p["market"]["version"], 1, "node {n} at E");
        assert_eq!(p["market"]["effectiveFrom"], at, "node {n}");
        assert_eq!(p["market"]["params"]["stakePerGpu"], format!("{new_stake:#x}"), "node {n}");
        let rate = |block: &str| {
            view(&net, n, MARKET, IGpuMarket::burnRateBpsForCall { onlineGpus: 0 }, block)
        };
        assert_eq!((rate(&before), rate(&at)), (3_000, 5_000), "node {n} burn tiers");
    }
    println!("market parameters changed at block {e} on all 5 nodes (block {hash})");
}

/// Issue #17 item 6 with a forge script (`contracts/script/GovernanceE2E.s.sol`) through the
/// full node of the 4-validator network: a council is elected at the end of the first term,
/// its motions change the market's stake per GPU and burn tiers, pay a grant and reject a
/// text (whose deposit the treasury keeps); the change is in force from the same block E on
/// all five nodes, which agree on that block.
#[test]
fn a_council_elected_on_the_network_changes_the_market_by_forge_script() {
    use common::forge_phase;
    const SCRIPT: &str = "script/GovernanceE2E.s.sol:GovernanceE2E";
    let _one = ONE_NETWORK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config-dbc.json");
    let governance = json!({"governance": {
        "enactmentDelayBlocks": 1,
        "proposalDeposit": "100000000000000000000",
        "council": {
            "seats": 3, "runnersUp": 0, "termBlocks": 40, "electionFreezeBlocks": 1,
            "maxCandidates": 8, "maxApprovals": 4, "motionBlocks": 20,
            "candidacyBond": "10000000000000000000", "minVoteLock": "1000000000000000000",
        },
    }});
    std::fs::write(&config, governance.to_string()).unwrap();
    let net =
        Testnet::start_with(&[("EPOCH_BLOCKS", "10"), ("CONFIG_DBC", config.to_str().unwrap())]);
    net.wait("the first blocks", 60, || net.head(4) >= 2);
    let url = net.url(4);
    forge_phase(&url, SCRIPT, 1);
    assert!(net.head(4) < 39, "phase 1 ended before the freeze (block {})", net.head(4));
    net.wait("the council election at block 40", 120, || {
        net.rpc(4, "dbc_council", json!([])).is_some_and(|c| c["term"] == "0x1")
    });
    forge_phase(&url, SCRIPT, 2);
    let id = U256::from(1);
    let mut e = 0;
    net.wait("the motion to pass", 60, || {
        e = view(&net, 4, GOVERNANCE, IGovernance::getProposalCall { id }, "latest").enactAt;
        e != 0
    });
    // The grant passed a block later, possibly past the boundary's deadline: its E may be the
    // next boundary.
    let grant = U256::from(2);
    let mut last = 0;
    net.wait("the grant to pass", 60, || {
        last =
            view(&net, 4, GOVERNANCE, IGovernance::getProposalCall { id: grant }, "latest").enactAt;
        last != 0
    });
    net.wait("both enactments on every node", 120, || (0..5).all(|n| net.head(n) > e.max(last)));
    forge_phase(&url, SCRIPT, 3);
    let hash = net.hash_at(4, e).unwrap();
    let (before, at) = (format!("{:#x}", e - 1), format!("{e:#x}"));
    let new_stake = format!("{:#x}", U256::from(2_000u64) * U256::from(10u64).pow(U256::from(18)));
    for n in 0..5 {
        assert_eq!(net.hash_at(n, e).as_deref(), Some(hash.as_str()), "node {n} block {e}");
        let council = net.rpc(n, "dbc_council", json!([])).unwrap();
        assert_eq!(council["members"].as_array().map(Vec::len), Some(3), "node {n}");
        let p = net.rpc(n, "dbc_params", json!([before])).unwrap();
        assert_eq!(p["market"]["version"], 0, "node {n} at E - 1");
        let p = net.rpc(n, "dbc_params", json!([at])).unwrap();
        assert_eq!(p["market"]["params"]["stakePerGpu"], new_stake, "node {n} at E");
        let rate = |block: &str| {
            view(&net, n, MARKET, IGpuMarket::burnRateBpsForCall { onlineGpus: 0 }, block)
        };
        assert_eq!((rate(&before), rate(&at)), (3_000, 5_000), "node {n} burn tiers");
    }
    println!("council motion enacted: market parameters changed at block {e} on all 5 nodes");
}

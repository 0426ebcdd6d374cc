//! Real indexers against the node after a scripted workload, their output checked against the
//! node's own answers.

mod common;

use common::*;
use std::process::Command;

#[test]
fn ethereum_etl_and_cryo_exports_match_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "1s"]);
    let url = node.url();
    // Workload: contract creations (plain and CREATE2), ERC-20 transfers, calls, native transfers,
    // and internal calls with value.
    deploy_script(&url, DEV_KEY_0);
    let relay = deploy(&url, "src/Relay.sol:Relay");
    let counter = deploy(&url, "src/Counter.sol:Counter");
    cast(&[
        "send",
        &relay,
        "bump(address,uint256)",
        &counter,
        "3",
        "--value",
        "5",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_3,
    ]);
    cast(&["send", DEV_ADDR_3, "--value", "2ether", "--rpc-url", &url, "--private-key", DEV_KEY_0]);

    let work = dir.path().join("etl");
    std::fs::create_dir_all(&work).expect("workdir");
    let python = repo_root().join("scripts/.venv/bin/python");
    assert!(python.exists(), "run ./scripts/setup.sh first (installs ethereum-etl)");
    let out = run(Command::new(python)
        .arg(repo_root().join("scripts/e2e/ethereum_etl.py"))
        .arg(&url)
        .arg(&work));
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("summary")).expect("json");
    assert_eq!(summary["ok"], true, "{out}");
    assert_eq!(summary["transactions"], 12, "{out}");
    assert_eq!(summary["token_transfers"], 2, "{out}");
    assert!(summary["internal_traces"].as_u64().expect("n") >= 4, "{out}");

    // cryo (Python API): blocks, transactions and logs of the same chain.
    let python = repo_root().join("scripts/.venv/bin/python");
    let out =
        run(Command::new(python).arg(repo_root().join("scripts/e2e/cryo_check.py")).arg(&url));
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("summary")).expect("json");
    assert_eq!(summary["ok"], true, "{out}");
    assert_eq!(summary["transactions"], 12, "{out}");
}

//! Issue #19 item 1: a Hardhat project runs against the node. `tests/hardhat` (npm `hardhat`
//! 2.29.1, its network `dbc` pointed at the node with `accounts: "remote"`) compiles its
//! `Counter.sol` and runs mocha tests that use `hardhat_mine` (1000 blocks 12 s apart),
//! `evm_snapshot`/`evm_revert` around a deployment, transactions from the unlocked dev accounts,
//! `hardhat_set*` edits and a transaction from an impersonated account, and time travel
//! (`evm_increaseTime`, `evm_setNextBlockTimestamp`, `evm_mine`). The same tests pass on anvil.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn hardhat_project_tests_pass_on_a_dev_node() {
    let hardhat = repo_root().join("tests/hardhat/node_modules/.bin/hardhat");
    assert!(
        hardhat.exists(),
        "{} missing: run ./scripts/setup-test.sh (the README's test command does)",
        hardhat.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Automine, as anvil and Hardhat's own network have it: the tests read exact block numbers
    // after evm_revert, which a timer's blocks would move.
    let node = DevNode::start(&dir.path().join("data"), &["--dev.instant"]);
    let start = node.block_number();
    let stdout = run_script_on(&node, "scripts/hardhat-test.sh", dir.path(), " passing");
    assert!(!stdout.contains(" failing"), "{stdout}");
    // They ran against this node: its chain has the 1000 blocks hardhat_mine added.
    assert!(node.block_number() >= start + 1000, "hardhat_mine's blocks are not on the node");
}

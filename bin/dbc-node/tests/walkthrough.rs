//! Issue #19 item 6: the AI-dApp walk-through (`docs/dapp-walkthrough.md`) is checked by running
//! it. A dev node starts as the walk-through says (`--dev --dev.instant`) and
//! `scripts/walkthrough-test.sh` runs the page's marked command blocks, in order, in a fresh
//! directory with `bash -euo pipefail`: a Foundry project from `forge init`, a `ProjectToken` and
//! its mining program, a committee-verified machine, enrolment, `anvil_mine` past an epoch, a
//! heartbeat, the attestation and the provider's claim (the last block fails unless it minted).
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::U256;
use common::*;
use serde_json::json;

/// Dev account 1, the walk-through's GPU provider.
const PROVIDER: &str = "0x70997970C51812dc3A010C7d01b50e0D17dc79C8";

#[test]
fn dapp_walkthrough_commands_run_on_a_dev_node() {
    // The script runs Foundry's platform binaries from scripts/node_modules (`tool` says how to
    // install them when they are missing).
    tool("forge");
    tool("cast");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("data"), &["--dev.instant"]);
    run_script_on(&node, "scripts/walkthrough-test.sh", dir.path(), "walkthrough-test: all ");

    // What the page claims, seen from the node: the fast-forward crossed the dev chain's first
    // epoch (14,400 blocks), the token (project 1's settler) exists and the provider minted it.
    let project = node.rpc("dbc_getProject", json!(["0x1"]));
    assert!(project["settler"].is_string(), "project 1 missing: {project}");
    assert!(node.block_number() >= 14_400, "anvil_mine did not pass the first epoch");
    let rewards = node.rpc("dbc_getProjectRewards", json!(["0x1", PROVIDER]));
    let claimed: U256 = serde_json::from_value(rewards["claimed"].clone()).unwrap();
    let vesting: U256 = serde_json::from_value(rewards["vesting"].clone()).unwrap();
    // 25% minted at once, 75% vesting (DBC's release rule, which the page registers).
    assert!(claimed > U256::ZERO, "the provider minted nothing: {rewards}");
    assert!(vesting > claimed, "{rewards}");
}

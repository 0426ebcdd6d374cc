//! Issue #19 item 1: the dev chain's test methods, driven over JSON-RPC as Foundry and Hardhat
//! drive anvil. `anvil_mine` writes many blocks in one call with the market's hook running as
//! in real blocks; state edits, impersonation and `eth_sendTransaction` from the unlocked
//! accounts work; `evm_revert` puts chain, state and clock back exactly (head hash, state root,
//! balances, code, nonces), and a restart re-verifies the reverted database's state root.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

const DEAD: &str = "0x000000000000000000000000000000000000dead";
const BEEF: &str = "0x000000000000000000000000000000000000beef";

fn head(node: &DevNode) -> Value {
    node.rpc("eth_getBlockByNumber", json!(["latest", false]))
}

/// What `evm_revert` must restore.
fn fingerprint(node: &DevNode) -> Vec<Value> {
    let h = head(node);
    let mut out = vec![h["number"].clone(), h["hash"].clone(), h["stateRoot"].clone()];
    for a in [DEV_ADDR_0, DEV_ADDR_3, DEAD, BEEF] {
        out.push(node.rpc("eth_getBalance", json!([a, "latest"])));
        out.push(node.rpc("eth_getTransactionCount", json!([a, "latest"])));
        out.push(node.rpc("eth_getCode", json!([a, "latest"])));
        out.push(node.rpc("eth_getStorageAt", json!([a, "0x1", "latest"])));
    }
    out
}

#[test]
fn dev_methods_mine_edit_impersonate_and_revert_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut node = DevNode::start(&data, &["--dev.instant"]);

    // The unlocked accounts are the standard ten.
    let accounts = node.rpc("eth_accounts", json!([]));
    assert_eq!(accounts.as_array().map(Vec::len), Some(10));
    assert_eq!(accounts[0].as_str().map(str::to_lowercase), Some(DEV_ADDR_0.to_lowercase()));

    // anvil_mine: 1000 blocks 12 s apart in one call; the market's hook runs in each (its
    // cursor stays caught up, which the next real block's hook would catch otherwise).
    let start = node.block_number();
    let before = hex_u64(&head(&node)["timestamp"]);
    node.rpc("anvil_mine", json!(["0x3e8", "0xc"]));
    assert_eq!(node.block_number(), start + 1000);
    let last = hex_u64(&head(&node)["timestamp"]);
    let prev = hex_u64(
        &node.rpc("eth_getBlockByNumber", json!([format!("{:#x}", start + 999), false]))["timestamp"],
    );
    assert_eq!(last - prev, 12, "blocks after the first are `interval` apart");
    assert!(last >= before + 999 * 12);
    // hardhat_mine is the same method; a decimal count works too.
    node.rpc("hardhat_mine", json!(["0x2"]));
    assert_eq!(node.block_number(), start + 1002);

    // Snapshot, then change everything evm_revert must undo.
    let snapshot = node.rpc("evm_snapshot", json!([]));
    let saved = fingerprint(&node);
    let sent = node.rpc(
        "eth_sendTransaction",
        json!([{ "from": DEV_ADDR_0, "to": DEV_ADDR_3, "value": "0xde0b6b3a7640000" }]),
    );
    let receipt = node.wait_receipt(sent.as_str().unwrap());
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["from"].as_str().map(str::to_lowercase), Some(DEV_ADDR_0.to_lowercase()));
    node.rpc("anvil_setBalance", json!([DEAD, "0x56bc75e2d63100000"]));
    assert_eq!(node.rpc("eth_getBalance", json!([DEAD, "latest"])), "0x56bc75e2d63100000");
    node.rpc("hardhat_setCode", json!([BEEF, "0x600160005500"]));
    assert_eq!(node.rpc("eth_getCode", json!([BEEF, "latest"])), "0x600160005500");
    assert_eq!(node.rpc("anvil_setStorageAt", json!([BEEF, "0x1", format!("0x{:064x}", 7)])), true);
    assert_eq!(
        node.rpc("eth_getStorageAt", json!([BEEF, "0x1", "latest"])),
        format!("0x{:064x}", 7)
    );
    node.rpc("anvil_setNonce", json!([BEEF, "0x5"]));
    assert_eq!(node.rpc("eth_getTransactionCount", json!([BEEF, "latest"])), "0x5");
    // Storage of an account that does not exist is refused (it would vanish with the account).
    let err = node.rpc_err(
        "anvil_setStorageAt",
        json!(["0x00000000000000000000000000000000000000aa", "0x1", format!("0x{:064x}", 1)]),
    );
    assert!(err["message"].as_str().unwrap().contains("empty"), "{err}");

    // A transaction from an account nobody holds the key of: refused until impersonated.
    let from_dead = json!([{ "from": DEAD, "to": DEV_ADDR_3, "value": "0x1" }]);
    let err = node.rpc_err("eth_sendTransaction", from_dead.clone());
    assert_eq!(err["message"], "unknown account", "{err}");
    node.rpc("anvil_impersonateAccount", json!([DEAD]));
    let sent = node.rpc("eth_sendTransaction", from_dead.clone());
    let receipt = node.wait_receipt(sent.as_str().unwrap());
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["from"].as_str().map(str::to_lowercase), Some(DEAD.to_string()));
    let tx = node.rpc("eth_getTransactionByHash", json!([sent]));
    assert_eq!(tx["from"].as_str().map(str::to_lowercase), Some(DEAD.to_string()));
    node.rpc("anvil_stopImpersonatingAccount", json!([DEAD]));
    node.rpc_err("eth_sendTransaction", from_dead);

    // Clock: an exact next timestamp, then an offset.
    let t = hex_u64(&head(&node)["timestamp"]) + 1000;
    node.rpc("evm_setNextBlockTimestamp", json!([t]));
    node.rpc("evm_mine", json!([]));
    assert_eq!(hex_u64(&head(&node)["timestamp"]), t);
    node.rpc_err("evm_setNextBlockTimestamp", json!([t]));
    node.rpc("evm_increaseTime", json!([3600]));
    node.rpc("evm_mine", json!([]));
    assert!(hex_u64(&head(&node)["timestamp"]) >= t + 3600);
    node.rpc("anvil_mine", json!(["0x2710"]));
    assert_ne!(fingerprint(&node), saved);

    // Back to the snapshot: every block after it is gone and the state is the snapshot's.
    assert_eq!(node.rpc("evm_revert", json!([snapshot.clone()])), true);
    assert_eq!(fingerprint(&node), saved);
    assert!(node.rpc("eth_getTransactionByHash", json!([sent])).is_null());
    // A snapshot is used up by its revert; an unknown id is `false`.
    assert_eq!(node.rpc("evm_revert", json!([snapshot])), false);
    assert_eq!(node.rpc("evm_revert", json!(["0x99"])), false);

    // The chain goes on from the snapshot: the next transaction lands right after it, with the
    // sender's nonce as it was.
    let n = node.block_number();
    let sent = node.rpc(
        "eth_sendTransaction",
        json!([{ "from": DEV_ADDR_0, "to": DEV_ADDR_3, "value": "0x1" }]),
    );
    let receipt = node.wait_receipt(sent.as_str().unwrap());
    assert_eq!(hex_u64(&receipt["blockNumber"]), n + 1);

    // The reverted database is consistent: the trie stored after the revert is the head's, so
    // a restart opens it (its root checked against the head header), and what it proves
    // matches the plain state.
    let expected = head(&node);
    node.kill9();
    let node = DevNode::start(&data, &["--dev.instant"]);
    assert_eq!(head(&node)["hash"], expected["hash"]);
    assert_eq!(head(&node)["stateRoot"], expected["stateRoot"]);
    assert!(node.logs().contains("stored state trie opened"), "{}", node.logs());
    let proof = node.rpc("eth_getProof", json!([DEV_ADDR_3, [], "latest"]));
    assert_eq!(proof["balance"], node.rpc("eth_getBalance", json!([DEV_ADDR_3, "latest"])));
    assert_eq!(proof["nonce"], node.rpc("eth_getTransactionCount", json!([DEV_ADDR_3, "latest"])));
}

#[test]
fn dev_methods_check_their_parameters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("data"), &["--dev.instant"]);
    let err = node.rpc_err("anvil_mine", json!(["0xzz"]));
    assert_eq!(err["code"], -32602, "{err}");
    let err = node.rpc_err("anvil_setBalance", json!([DEAD]));
    assert_eq!(err["code"], -32602, "{err}");
    let err = node.rpc_err("evm_increaseTime", json!([]));
    assert_eq!(err["code"], -32602, "{err}");
    // Timestamps past i64::MAX are refused: a head at u64::MAX wrapped every next block's
    // `timestamp + 1` to 0, and the chain stopped.
    let max = "0xffffffffffffffff";
    let err = node.rpc_err("evm_setNextBlockTimestamp", json!([max]));
    assert!(err["message"].as_str().unwrap().contains("is past"), "{err}");
    let err = node.rpc_err("evm_mine", json!([max]));
    assert!(err["message"].as_str().unwrap().contains("is past"), "{err}");
    let err = node.rpc_err("anvil_mine", json!(["0x3", max]));
    assert!(err["message"].as_str().unwrap().contains("would pass"), "{err}");
    // The chain goes on.
    let head = node.block_number();
    node.rpc("evm_mine", json!([]));
    assert_eq!(node.block_number(), head + 1);
    node.rpc("eth_estimateGas", json!([{ "from": DEV_ADDR_0, "to": DEAD }]));
}

/// `eth_sendTransaction` (and `eth_fillTransaction`) fill the gas limit in the context of the
/// block the transaction lands in, as `eth_estimateGas` does: a call that costs more in odd
/// blocks, sent at an even head and at an odd head, succeeds both times (filled at the head's
/// context, the one landing in an odd block ran out of gas; the web app's test saw a claim do
/// so at an epoch boundary).
#[test]
fn filled_gas_is_for_the_block_the_transaction_lands_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("data"), &["--dev.instant"]);
    // if (block.number odd) sstore(block.number, block.number): a fresh slot in odd blocks.
    let contract = "0x00000000000000000000000000000000000C0DE1";
    node.rpc("anvil_setCode", json!([contract, "0x43600116600857005b43435500"]));
    // Two transactions land in two consecutive blocks: one of them is odd.
    for _ in 0..2 {
        let sent = node.rpc("eth_sendTransaction", json!([{ "from": DEV_ADDR_0, "to": contract }]));
        let receipt = node.wait_receipt(sent.as_str().unwrap());
        assert_eq!(receipt["status"], "0x1", "block {}: {receipt}", receipt["blockNumber"]);
    }
}

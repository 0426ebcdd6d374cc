//! End-to-end tests: the real `dbc-node --dev` driven by forge, cast, viem and ethers.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn forge_create_and_cast_roundtrip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.instant"]);
    let url = node.url();

    // forge create --broadcast (EIP-1559, no --legacy).
    let counter = deploy(&url, "src/Counter.sol:Counter");
    assert_ne!(cast(&["code", &counter, "--rpc-url", &url]), "0x");

    // cast send → receipt with an event; cast call reads the new storage.
    let receipt = cast(&[
        "send",
        &counter,
        "setNumber(uint256)",
        "7",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_0,
        "--json",
    ]);
    let receipt: serde_json::Value = serde_json::from_str(&receipt).expect("receipt json");
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["type"], "0x2");
    assert_eq!(receipt["logs"].as_array().map(Vec::len), Some(1));
    let tx_hash = receipt["transactionHash"].as_str().expect("hash").to_string();
    assert_eq!(cast(&["call", &counter, "number()(uint256)", "--rpc-url", &url]), "7");

    // cast receipt / logs / balance agree with the node.
    let status = cast(&["receipt", &tx_hash, "status", "--rpc-url", &url]);
    assert!(status == "true" || status.starts_with("1"), "status: {status}");
    let logs = cast(&[
        "logs",
        "--rpc-url",
        &url,
        "--from-block",
        "0",
        "--to-block",
        "latest",
        "--address",
        &counter,
        "NumberSet(address indexed,uint256,uint256)",
    ]);
    assert!(logs.contains(&tx_hash[2..]) || logs.contains(&tx_hash), "logs: {logs}");
    let before: u128 = cast(&["balance", DEV_ADDR_3, "--rpc-url", &url]).parse().expect("wei");
    cast(&["send", DEV_ADDR_3, "--value", "1ether", "--rpc-url", &url, "--private-key", DEV_KEY_0]);
    let after: u128 = cast(&["balance", DEV_ADDR_3, "--rpc-url", &url]).parse().expect("wei");
    assert_eq!(after - before, 1_000_000_000_000_000_000);

    // EIP-7702: account 3 delegates to the Counter and calls itself in one type-4 transaction.
    let r = cast(&[
        "send",
        DEV_ADDR_3,
        "increment()",
        "--auth",
        &counter,
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_3,
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_str(&r).expect("receipt json");
    assert_eq!(r["type"], "0x4");
    assert_eq!(r["status"], "0x1");
    let code = cast(&["code", DEV_ADDR_3, "--rpc-url", &url]);
    assert_eq!(code, format!("0xef0100{}", &counter[2..].to_lowercase()));
    assert_eq!(cast(&["call", DEV_ADDR_3, "number()(uint256)", "--rpc-url", &url]), "1");

    // A revert surfaces as code 3 with the custom error's data.
    let err = node.rpc_err(
        "eth_call",
        json!([{"to": counter, "data": format!("0x3fb5c1cb{:064x}", 2_000_000u64)}, "latest"]),
    );
    assert_eq!(err["code"], 3);
    let data = err["data"].as_str().expect("revert data");
    // TooLarge(uint256,uint256) selector
    let selector = cast(&["sig", "TooLarge(uint256,uint256)"]);
    assert!(data.starts_with(&selector), "data {data} selector {selector}");
    // cast estimate on a reverting call fails with the reason.
    let fail = cast(&["sig", "failWithReason()"]);
    let err = node.rpc_err("eth_estimateGas", json!([{"to": counter, "data": fail}]));
    assert_eq!(err["code"], 3);
    assert_eq!(err["message"], "execution reverted: counter: always fails");
}

#[test]
fn forge_script_broadcast_sends_concurrent_transactions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "1s"]);
    let url = node.url();
    deploy_script(&url, DEV_KEY_3);
    // Eight transactions from one sender, all mined and successful.
    let nonce = hex_u64(&node.rpc("eth_getTransactionCount", json!([DEV_ADDR_3, "latest"])));
    assert_eq!(nonce, 8);
    let broadcast = std::fs::read_to_string(
        repo_root().join(format!("contracts/broadcast/Deploy.s.sol/{CHAIN_ID}/run-latest.json")),
    )
    .expect("broadcast file");
    let run: serde_json::Value = serde_json::from_str(&broadcast).expect("json");
    let receipts = run["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 8);
    for r in receipts {
        assert_eq!(r["status"], "0x1", "{r}");
    }
    // The Counter deployed through the CREATE2 deployer reached 1.
    let created: Vec<&serde_json::Value> = run["transactions"]
        .as_array()
        .expect("txs")
        .iter()
        .filter(|t| t["transactionType"] == "CREATE2")
        .collect();
    assert_eq!(created.len(), 1);
    let addr = created[0]["contractAddress"].as_str().expect("address");
    assert_eq!(cast(&["call", addr, "number()(uint256)", "--rpc-url", &url]), "1");
}

#[test]
fn metamask_sequence_with_viem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "1s"]);
    let out = node_script("metamask.mjs", &[&node.url(), &CHAIN_ID.to_string()]);
    assert!(out.contains("\"ok\":true"), "{out}");
}

#[test]
fn ethers_batches_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.instant"]);
    let out = node_script("ethers-batch.mjs", &[&node.url(), &CHAIN_ID.to_string()]);
    assert!(out.contains("\"ok\":true"), "{out}");
}

#[test]
fn kill_9_and_restart_keeps_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let mut node = DevNode::start(&datadir, &["--dev.block-time", "500ms"]);
    let url = node.url();
    let counter = deploy(&url, "src/Counter.sol:Counter");
    cast(&[
        "send",
        &counter,
        "setNumber(uint256)",
        "4242",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_0,
    ]);
    cast(&["send", DEV_ADDR_3, "--value", "3ether", "--rpc-url", &url, "--private-key", DEV_KEY_0]);
    // Let blocks keep coming, then kill in the middle of production.
    let target = node.block_number() + 4;
    node.wait_for_block(target, Duration::from_secs(30));
    let balance = node.rpc("eth_getBalance", json!([DEV_ADDR_3, "latest"]));
    let slot0 = node.rpc("eth_getStorageAt", json!([counter, "0x0", "latest"]));
    std::thread::sleep(Duration::from_millis(230));
    node.kill9();
    let head_before = {
        // The database is reopened by the next process; read what it will see.
        let restarted = DevNode::start_on(
            &datadir,
            &["--dev.block-time", "500ms"],
            node.http_port,
            node.ws_port,
        );
        let head = restarted.block_number();
        assert!(head >= target, "head {head} < {target}");
        // The state trie is stored with each block's batch, so even a kill -9 leaves it at the
        // head: the restart opens it, it does not rebuild it from the plain state.
        let logs = restarted.logs();
        assert!(logs.contains("stored state trie opened"), "{logs}");
        assert!(!logs.contains("built from the plain state"), "{logs}");
        assert_eq!(restarted.rpc("eth_getBalance", json!([DEV_ADDR_3, "latest"])), balance);
        assert_eq!(restarted.rpc("eth_getStorageAt", json!([counter, "0x0", "latest"])), slot0);
        assert_eq!(
            cast(&["call", &counter, "number()(uint256)", "--rpc-url", &restarted.url()]),
            "4242"
        );
        // Every block up to the head is complete: header, body and receipts.
        for n in 0..=head {
            let block = restarted.rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), true]));
            assert!(!block.is_null(), "block {n} missing");
            let receipts = restarted.rpc("eth_getBlockReceipts", json!([format!("0x{n:x}")]));
            assert_eq!(
                receipts.as_array().map(Vec::len),
                block["transactions"].as_array().map(Vec::len),
                "block {n}"
            );
        }
        // The chain continues and accepts transactions.
        restarted.wait_for_block(head + 2, Duration::from_secs(30));
        cast(&[
            "send",
            &counter,
            "increment()",
            "--rpc-url",
            &restarted.url(),
            "--private-key",
            DEV_KEY_0,
        ]);
        assert_eq!(
            cast(&["call", &counter, "number()(uint256)", "--rpc-url", &restarted.url()]),
            "4243"
        );
        head
    };
    assert!(head_before > 0);
}

#[test]
fn websocket_subscriptions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "1s"]);
    let counter = deploy(&node.url(), "src/Counter.sol:Counter");
    let out = node_script("ws-subscribe.mjs", &[&node.url(), &node.ws_url(), &counter]);
    assert!(out.contains("\"ok\":true"), "{out}");
}

/// Kill -9 the node repeatedly while it seals blocks every 100 ms with transactions flowing; every
/// restart must open the database, verify the head's state root (the node refuses to start
/// otherwise) and find every block up to the head complete.
#[test]
fn repeated_kill_9_never_leaves_a_partial_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let recipient = "0x000000000000000000000000000000000000c0fe";
    let mut node = DevNode::start(&datadir, &["--dev.block-time", "100ms"]);
    let url = node.url();
    // Pre-sign transfers (the pool is not persisted, so lost ones are re-sent later).
    let raws: Vec<String> = (0..40u64)
        .map(|nonce| signed_transfer(&url, DEV_KEY_3, recipient, nonce, "50gwei"))
        .collect();
    let mut last_head = 0;
    let mut seed = 0x5eed_u64;
    for round in 0..6 {
        let nonce = hex_u64(&node.rpc("eth_getTransactionCount", json!([DEV_ADDR_3, "latest"])));
        for raw in raws.iter().skip(nonce as usize).take(8) {
            let _ = node.try_rpc("eth_sendRawTransaction", json!([raw]));
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(50 + (seed >> 33) % 400));
        node.kill9();
        node = DevNode::start_on(
            &datadir,
            &["--dev.block-time", "100ms"],
            node.http_port,
            node.ws_port,
        );
        let head = node.block_number();
        assert!(head >= last_head, "round {round}: head went back from {last_head} to {head}");
        for n in last_head.saturating_sub(1)..=head {
            let block = node.rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]));
            assert!(!block.is_null(), "round {round}: block {n} missing");
            let receipts = node.rpc("eth_getBlockReceipts", json!([format!("0x{n:x}")]));
            assert_eq!(
                receipts.as_array().map(Vec::len),
                block["transactions"].as_array().map(Vec::len),
                "round {round}: block {n}"
            );
        }
        last_head = head;
    }
    // Balance of the recipient equals the number of transfers the chain holds.
    let nonce = hex_u64(&node.rpc("eth_getTransactionCount", json!([DEV_ADDR_3, "latest"])));
    assert!(nonce > 0, "no transfer survived:\n{}", node.logs());
    let balance = hex_u64(&node.rpc("eth_getBalance", json!([recipient, "latest"])));
    assert_eq!(balance, nonce);
}

/// With `--dev.block-time` the block is built while its slot runs; one that fills up early is
/// still published at the slot's end, so a backlog larger than a block does not produce blocks
/// faster than the cadence or with timestamps ahead of the clock.
#[test]
fn full_blocks_keep_the_slot_cadence() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room for three transfers a block.
    let node = DevNode::start(
        &dir.path().join("node"),
        &["--dev.block-time", "1s", "--builder.gaslimit", "63000"],
    );
    let url = node.url();
    let recipient = "0x000000000000000000000000000000000000beef";
    let raws: Vec<String> = (0..12u64)
        .map(|nonce| signed_transfer(&url, DEV_KEY_3, recipient, nonce, "50gwei"))
        .collect();
    // Sent just after a block, in one batch: the twelve reach the pool early in one slot. (One
    // by one, a slot could end between two sends and seal a block of one or two.)
    let before = node.block_number();
    wait_until("a new block", || node.block_number() > before);
    let start = node.block_number();
    let sent = std::time::Instant::now();
    let batch: Vec<Value> = raws
        .iter()
        .enumerate()
        .map(|(id, raw)| {
            json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw]})
        })
        .collect();
    let replies = node.post(&Value::Array(batch).to_string()).expect("batch");
    let mut replies = replies.as_array().expect("a batch reply").clone();
    replies.sort_by_key(|r| r["id"].as_u64());
    let hashes: Vec<String> = replies
        .iter()
        .map(|r| r["result"].as_str().unwrap_or_else(|| panic!("sent: {r}")).to_string())
        .collect();
    assert_eq!(hashes.len(), 12);
    let mut blocks = std::collections::BTreeSet::new();
    for hash in &hashes {
        let receipt = node.wait_receipt(hash);
        assert_eq!(receipt["status"], "0x1");
        blocks.insert(hex_u64(&receipt["blockNumber"]));
        // A block is visible only once its slot has ended: never stamped after the clock.
        let block = node.rpc("eth_getBlockByNumber", json!([receipt["blockNumber"], false]));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(hex_u64(&block["timestamp"]) <= now, "block {block} is ahead of {now}");
    }
    assert_eq!(blocks.len(), 4, "three transfers a block: {blocks:?}");
    // Four full blocks take four slots (the first may start up to a slot after the sends).
    assert!(sent.elapsed() >= Duration::from_millis(3000), "took {:?}", sent.elapsed());
    let timestamps: Vec<u64> = (start + 1..=*blocks.last().expect("blocks"))
        .map(|n| {
            hex_u64(
                &node.rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]))["timestamp"],
            )
        })
        .collect();
    assert!(timestamps.windows(2).all(|w| w[1] > w[0]), "{timestamps:?}");
}

//! JSON-RPC behaviour of the real node: geth's error codes and messages, batches, requests
//! without `params`, block tags, pool rules seen from outside, filters and subscriptions.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

/// Signs a transaction with cast (`cast mktx`) without sending it.
fn mktx(url: &str, key: &str, args: &[&str]) -> String {
    let mut all = vec!["mktx", "--rpc-url", url, "--private-key", key];
    all.extend_from_slice(args);
    cast(&all)
}

#[test]
fn protocol_level_behaviour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.instant"]);

    // No `params` member at all (forge/cast do this for eth_chainId).
    let v = node.post(r#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}"#).expect("post");
    assert_eq!(v["result"], format!("0x{CHAIN_ID:x}"));
    assert_eq!(v["id"], 7);

    // Batches.
    let v = node
        .post(r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"net_version","params":[]},{"jsonrpc":"2.0","id":3,"method":"nope_nope","params":[]}]"#)
        .expect("post");
    let arr = v.as_array().expect("batch response");
    assert_eq!(arr.len(), 3);
    let by_id = |id: u64| arr.iter().find(|r| r["id"] == id).cloned().expect("id");
    assert_eq!(by_id(2)["result"], CHAIN_ID.to_string());
    assert_eq!(by_id(3)["error"]["code"], -32601);

    // Parse error and invalid params.
    let v = node.post("{not json").expect("post");
    assert_eq!(v["error"]["code"], -32700);
    let err = node.rpc_err("eth_getBalance", json!(["0x1234"]));
    assert_eq!(err["code"], -32602);

    // Misc namespaces.
    assert_eq!(node.rpc("net_listening", json!([])), true);
    assert_eq!(node.rpc("net_peerCount", json!([])), "0x0");
    assert_eq!(node.rpc("eth_syncing", json!([])), false);
    assert!(
        node.rpc("web3_clientVersion", json!([])).as_str().expect("str").starts_with("dbc-node/")
    );

    // Block tags and EIP-1898 objects.
    for tag in ["latest", "pending", "earliest", "safe", "finalized", "0x0"] {
        let b = node.rpc("eth_getBalance", json!([DEV_ADDR_0, tag]));
        assert_eq!(b, "0x21e19e0c9bab2400000", "{tag}");
    }
    let genesis = node.rpc("eth_getBlockByNumber", json!(["0x0", false]));
    let hash = genesis["hash"].as_str().expect("hash");
    assert_eq!(
        node.rpc("eth_getBalance", json!([DEV_ADDR_0, {"blockHash": hash}])),
        "0x21e19e0c9bab2400000"
    );
    assert_eq!(
        node.rpc("eth_getBalance", json!([DEV_ADDR_0, {"blockNumber": "0x0"}])),
        "0x21e19e0c9bab2400000"
    );
    let err = node.rpc_err("eth_getBalance", json!([DEV_ADDR_0, "0x999"]));
    assert_eq!(err["code"], -32000);
    assert_eq!(err["message"], "header not found");
    assert!(node.rpc("eth_getBlockByNumber", json!(["0x999", false])).is_null());
    assert!(genesis["baseFeePerGas"].is_string());
    assert_eq!(genesis["withdrawals"], json!([]));

    // CREATE2 deployer is predeployed.
    assert_ne!(
        node.rpc("eth_getCode", json!(["0x4e59b44847b379578588920ca78fbf26c0b4956c", "latest"])),
        "0x"
    );
    let info = node.rpc("eth_getAccountInfo", json!([DEV_ADDR_0, "latest"]));
    assert_eq!(info["nonce"], "0x0");
    assert_eq!(info["code"], "0x");
}

#[test]
fn transactions_are_validated_before_the_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "2s"]);
    let url = node.url();
    let to = "0x000000000000000000000000000000000000bEEF";

    let send_err = |raw: &str| node.rpc_err("eth_sendRawTransaction", json!([raw]));

    // Wrong chain id.
    let raw = mktx(
        &url,
        DEV_KEY_0,
        &[
            to,
            "--value",
            "1",
            "--chain",
            "1",
            "--nonce",
            "0",
            "--gas-limit",
            "21000",
            "--gas-price",
            "10gwei",
            "--priority-gas-price",
            "1gwei",
        ],
    );
    let e = send_err(&raw);
    assert_eq!(e["code"], -32000);
    assert_eq!(e["message"], format!("invalid chain id for signer: have 1 want {CHAIN_ID}"));

    // Intrinsic gas too low.
    let raw = mktx(
        &url,
        DEV_KEY_0,
        &[
            to,
            "--value",
            "1",
            "--gas-limit",
            "20000",
            "--gas-price",
            "10gwei",
            "--priority-gas-price",
            "1gwei",
        ],
    );
    let e = send_err(&raw);
    assert!(e["message"].as_str().expect("msg").starts_with("intrinsic gas too low"), "{e}");

    // Max fee below base fee (genesis base fee is 1 gwei; the next block's is just under).
    let raw = mktx(
        &url,
        DEV_KEY_0,
        &[
            to,
            "--value",
            "1",
            "--gas-limit",
            "21000",
            "--gas-price",
            "1",
            "--priority-gas-price",
            "1",
        ],
    );
    let e = send_err(&raw);
    assert!(
        e["message"].as_str().expect("msg").starts_with("max fee per gas less than block base fee"),
        "{e}"
    );

    // Insufficient funds: an unfunded key.
    let poor = "0x0000000000000000000000000000000000000000000000000000000000000abc";
    let raw = mktx(
        &url,
        poor,
        &[
            to,
            "--value",
            "1",
            "--nonce",
            "0",
            "--gas-limit",
            "21000",
            "--gas-price",
            "10gwei",
            "--priority-gas-price",
            "1gwei",
        ],
    );
    let e = send_err(&raw);
    assert!(
        e["message"]
            .as_str()
            .expect("msg")
            .starts_with("insufficient funds for gas * price + value"),
        "{e}"
    );

    // Unsupported type: garbage with the blob type byte.
    let e = send_err("0x03f8");
    assert_eq!(e["code"], -32000);
    // Undecodable bytes.
    let e = send_err("0xdeadbeef");
    assert_eq!(e["code"], -32000);

    // Oversized (> 128 KiB of calldata).
    // The size limit applies before decoding, as in geth.
    let big = format!("0x02{}", "ab".repeat(130 * 1024));
    let e = send_err(&big);
    assert!(e["message"].as_str().expect("msg").starts_with("oversized data"), "{e}");

    // Gapped nonces are queued and promoted; replacement needs a 10% bump.
    let tx = |nonce: u64, price: &str| signed_transfer(&url, DEV_KEY_3, to, nonce, price);
    let h2 = node.rpc("eth_sendRawTransaction", json!([tx(2, "10gwei")]));
    let h1 = node.rpc("eth_sendRawTransaction", json!([tx(1, "10gwei")]));
    let status = node.rpc("txpool_status", json!([]));
    assert_eq!(status["queued"], "0x2", "{status}");
    assert_eq!(status["pending"], "0x0");
    let content = node.rpc("txpool_content", json!([]));
    assert!(content["queued"].as_object().expect("queued").len() == 1);
    let inspect = node.rpc("txpool_inspect", json!([]));
    assert!(inspect["queued"].to_string().contains("gas"), "{inspect}");
    let e = send_err(&tx(1, "10.5gwei"));
    assert_eq!(e["message"], "replacement transaction underpriced");
    let e = send_err(&tx(1, "10gwei"));
    assert_eq!(e["message"], "already known");
    // Right after a block, so that the next one (taking all three) is a slot away when the
    // pool is read.
    let before = node.block_number();
    wait_until("a new block", || node.block_number() > before);
    let h0 = node.rpc("eth_sendRawTransaction", json!([tx(0, "10gwei")]));
    let status = node.rpc("txpool_status", json!([]));
    assert_eq!(status["pending"], "0x3", "{status}");
    assert_eq!(node.rpc("eth_getTransactionCount", json!([DEV_ADDR_3, "pending"])), "0x3");
    // A pooled transaction is visible by hash before inclusion.
    let pooled = node.rpc("eth_getTransactionByHash", json!([h1]));
    assert!(pooled["blockHash"].is_null());
    for h in [&h0, &h1, &h2] {
        let r = node.wait_receipt(h.as_str().expect("hash"));
        assert_eq!(r["status"], "0x1");
    }
    // Now nonce 0 is used.
    let e = send_err(&tx(0, "20gwei"));
    assert!(e["message"].as_str().expect("msg").starts_with("nonce too low"), "{e}");
}

#[test]
fn fees_filters_and_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "1s"]);
    let url = node.url();
    let block_filter = node.rpc("eth_newBlockFilter", json!([]));
    let pending_filter = node.rpc("eth_newPendingTransactionFilter", json!([]));
    let counter = deploy(&url, "src/Counter.sol:Counter");
    // Without fromBlock a filter's criteria start at `latest` (geth); start at the deployment.
    let from = format!("0x{:x}", node.block_number());
    let log_filter = node.rpc("eth_newFilter", json!([{"address": counter, "fromBlock": from}]));
    for _ in 0..3 {
        cast(&["send", &counter, "increment()", "--rpc-url", &url, "--private-key", DEV_KEY_0]);
    }
    let logs = node.rpc("eth_getFilterChanges", json!([log_filter]));
    assert_eq!(logs.as_array().map(Vec::len), Some(3), "{logs}");
    assert_eq!(node.rpc("eth_getFilterChanges", json!([log_filter])), json!([]));
    assert_eq!(
        node.rpc("eth_getFilterLogs", json!([log_filter])).as_array().map(Vec::len),
        Some(3)
    );
    let blocks = node.rpc("eth_getFilterChanges", json!([block_filter]));
    assert!(blocks.as_array().map(Vec::len).unwrap_or(0) >= 2, "{blocks}");
    let pending = node.rpc("eth_getFilterChanges", json!([pending_filter]));
    assert_eq!(pending.as_array().map(Vec::len), Some(4), "{pending}");
    assert_eq!(node.rpc("eth_uninstallFilter", json!([log_filter])), true);
    assert_eq!(
        node.rpc_err("eth_getFilterChanges", json!([log_filter]))["message"],
        "filter not found"
    );

    // eth_getLogs by range, topic and block hash.
    let topic = cast(&["keccak", "Incremented(address,uint256)"]);
    let all = node
        .rpc("eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}]));
    let all = all.as_array().expect("logs");
    assert_eq!(all.len(), 3);
    let bh = all[1]["blockHash"].clone();
    let by_hash = node.rpc("eth_getLogs", json!([{"blockHash": bh}]));
    assert!(by_hash.as_array().expect("logs").iter().any(|l| l == &all[1]));
    let none = node.rpc("eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "latest", "topics": [format!("0x{}", "00".repeat(32))]}]));
    assert_eq!(none, json!([]));
    // Receipts carry the same logs with consistent indices.
    let receipt = node.rpc("eth_getTransactionReceipt", json!([all[2]["transactionHash"]]));
    assert_eq!(receipt["logs"][0], all[2]);

    // Block-indexed transaction lookups agree with each other.
    let tx_hash = all[2]["transactionHash"].clone();
    let bn = all[2]["blockNumber"].clone();
    let bhash = all[2]["blockHash"].clone();
    let idx = all[2]["transactionIndex"].clone();
    assert_eq!(node.rpc("eth_getBlockTransactionCountByNumber", json!([bn])), "0x1");
    assert_eq!(node.rpc("eth_getBlockTransactionCountByHash", json!([bhash])), "0x1");
    assert_eq!(node.rpc("eth_getUncleCountByBlockHash", json!([bhash])), "0x0");
    let by_num = node.rpc("eth_getTransactionByBlockNumberAndIndex", json!([bn, idx]));
    let by_hash = node.rpc("eth_getTransactionByBlockHashAndIndex", json!([bhash, idx]));
    let direct = node.rpc("eth_getTransactionByHash", json!([tx_hash]));
    assert_eq!(by_num, direct);
    assert_eq!(by_hash, direct);
    assert_eq!(direct["type"], "0x2");
    assert!(direct["maxFeePerGas"].is_string() && direct["gasPrice"].is_string());
    let raw = node.rpc("eth_getRawTransactionByHash", json!([tx_hash]));
    assert_eq!(cast(&["keccak", raw.as_str().expect("raw")]), tx_hash.as_str().expect("hash"));
    let full = node.rpc("eth_getBlockByHash", json!([bhash, true]));
    assert_eq!(full["transactions"][0], direct);
    assert!(node.rpc("eth_getTransactionByBlockNumberAndIndex", json!([bn, "0x5"])).is_null());

    // Fee history with float percentiles, as forge sends it.
    let fh = node.rpc("eth_feeHistory", json!(["0xa", "latest", [20.0, 50.0]]));
    let n = fh["gasUsedRatio"].as_array().expect("ratios").len();
    assert_eq!(fh["baseFeePerGas"].as_array().expect("fees").len(), n + 1);
    assert_eq!(fh["reward"].as_array().expect("reward").len(), n);
    let price = hex_u128(&node.rpc("eth_gasPrice", json!([])));
    let tip = hex_u128(&node.rpc("eth_maxPriorityFeePerGas", json!([])));
    assert!(price > tip && tip > 0);

    // eth_fillTransaction fills nonce, gas and fees.
    let filled = node.rpc(
        "eth_fillTransaction",
        json!([{"from": DEV_ADDR_0, "to": counter, "data": "0xd09de08a"}]),
    );
    assert_eq!(filled["tx"]["nonce"], "0x4");
    assert!(hex_u64(&filled["tx"]["gas"]) > 21_000);
    assert!(filled["raw"].as_str().expect("raw").starts_with("0x02"));
    // A tip at the type's limit: the fee cap it implies saturates (it wrapped to a small cap).
    let max = format!("0x{:x}", u128::MAX);
    let filled = node.rpc(
        "eth_fillTransaction",
        json!([{"from": DEV_ADDR_0, "to": counter, "gas": "0x5208", "maxPriorityFeePerGas": max}]),
    );
    assert_eq!(filled["tx"]["maxFeePerGas"], max, "{filled}");

    // eth_createAccessList lists the counter's slots.
    let al = node.rpc(
        "eth_createAccessList",
        json!([{"from": DEV_ADDR_0, "to": counter, "data": "0xd09de08a"}, "latest"]),
    );
    assert_eq!(
        al["accessList"][0]["address"].as_str().map(str::to_lowercase),
        Some(counter.to_lowercase())
    );
    assert!(hex_u64(&al["gasUsed"]) > 21_000);

    // eth_call with a state override.
    let code = node.rpc("eth_getCode", json!([counter, "latest"]));
    let other = "0x00000000000000000000000000000000000c0de1";
    let overridden = node.rpc("eth_call", json!([{"to": other, "data": "0x8381f58a"}, "latest", {other: {"code": code, "stateDiff": {"0x0000000000000000000000000000000000000000000000000000000000000000": format!("0x{:064x}", 99)}}}]));
    assert_eq!(overridden, format!("0x{:064x}", 99));
    // And at a historical block the counter was smaller.
    let first = all[0]["blockNumber"].clone();
    let then = node.rpc("eth_call", json!([{"to": counter, "data": "0x8381f58a"}, first]));
    assert_eq!(then, format!("0x{:064x}", 1));
    node.wait_for_block(1, Duration::from_secs(5));
}

//! Tracing APIs for explorers: geth tracers and Parity traces over nested calls.

mod common;

use common::*;
use serde_json::json;

#[test]
fn geth_and_parity_traces_of_nested_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node =
        DevNode::start(&dir.path().join("node"), &["--dev.instant", "--rpc.eth-proof-window", "2"]);
    let url = node.url();
    let counter = deploy(&url, "src/Counter.sol:Counter");
    let relay = deploy(&url, "src/Relay.sol:Relay");
    let r = cast(&[
        "send",
        &relay,
        "bump(address,uint256)",
        &counter,
        "2",
        "--value",
        "1000",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_3,
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_str(&r).expect("json");
    let hash = r["transactionHash"].as_str().expect("hash").to_string();
    let block = r["blockNumber"].clone();

    // callTracer: the relay calls increment twice, then refunds the value to the sender.
    let call = node.rpc(
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer", "tracerConfig": {"withLog": true}}]),
    );
    assert_eq!(call["type"], "CALL");
    assert_eq!(call["to"].as_str().map(str::to_lowercase), Some(relay.to_lowercase()));
    assert_eq!(call["value"], "0x3e8");
    let calls = call["calls"].as_array().expect("subcalls");
    let kinds: Vec<&str> = calls.iter().map(|c| c["type"].as_str().expect("type")).collect();
    assert_eq!(kinds, vec!["CALL", "CALL", "CALL"], "{call}");
    assert_eq!(calls[2]["value"], "0x3e8");
    assert_eq!(calls[2]["to"].as_str().map(str::to_lowercase), Some(DEV_ADDR_3.to_lowercase()));
    assert_eq!(
        call["logs"][0]["address"].as_str().map(str::to_lowercase),
        Some(relay.to_lowercase())
    );
    assert_eq!(call["gasUsed"], r["gasUsed"]);
    let only_top = node.rpc(
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}]),
    );
    assert!(only_top.get("calls").is_none());

    // prestateTracer in diff mode: the counter's slot 0 went from 0 to 2.
    let diff = node.rpc(
        "debug_traceTransaction",
        json!([hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}]),
    );
    let key = counter.to_lowercase();
    let post_slot = &diff["post"][&key]["storage"]["0x0000000000000000000000000000000000000000000000000000000000000000"];
    assert_eq!(post_slot, &format!("0x{:064x}", 2), "{diff}");
    let pre = node.rpc("debug_traceTransaction", json!([hash, {"tracer": "prestateTracer"}]));
    assert!(pre[&key]["code"].as_str().is_some_and(|c| c.len() > 2));

    // 4byteTracer counts selectors.
    let four = node.rpc("debug_traceTransaction", json!([hash, {"tracer": "4byteTracer"}]));
    assert_eq!(four["0xd09de08a-0"], 2, "{four}");

    // Default struct logger.
    let logs = node.rpc("debug_traceTransaction", json!([hash]));
    assert_eq!(logs["failed"], false);
    assert!(logs["structLogs"].as_array().expect("logs").len() > 100);

    // Block tracing by number and hash gives the same call frames.
    let by_number = node.rpc("debug_traceBlockByNumber", json!([block, {"tracer": "callTracer"}]));
    assert_eq!(by_number[0]["txHash"], hash);
    let block_hash = r["blockHash"].clone();
    let by_hash = node.rpc("debug_traceBlockByHash", json!([block_hash, {"tracer": "callTracer"}]));
    assert_eq!(by_number, by_hash);
    let block_kinds: Vec<&str> = by_number[0]["result"]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect();
    assert_eq!(block_kinds, kinds);

    // Parity traces: one top-level call and three subtraces with trace addresses.
    let traces = node.rpc("trace_transaction", json!([hash]));
    let traces = traces.as_array().expect("traces");
    assert_eq!(traces.len(), 4);
    assert_eq!(traces[0]["subtraces"], 3);
    assert_eq!(traces[3]["traceAddress"], json!([2]));
    assert_eq!(traces[3]["action"]["value"], "0x3e8");
    assert_eq!(node.rpc("trace_block", json!([block])).as_array().map(Vec::len), Some(4));
    let replay = node.rpc("trace_replayBlockTransactions", json!([block, ["trace", "stateDiff"]]));
    assert_eq!(replay[0]["transactionHash"], hash);
    assert!(replay[0]["stateDiff"].as_object().is_some_and(|d| d.contains_key(&key)));
    let single = node.rpc("trace_replayTransaction", json!([hash, ["trace"]]));
    assert_eq!(single["trace"].as_array().map(Vec::len), Some(4));

    // A creation from a contract appears as a create trace.
    let r =
        cast(&["send", &relay, "spawn()", "--rpc-url", &url, "--private-key", DEV_KEY_0, "--json"]);
    let r: serde_json::Value = serde_json::from_str(&r).expect("json");
    let spawn =
        node.rpc("debug_traceTransaction", json!([r["transactionHash"], {"tracer": "callTracer"}]));
    assert_eq!(spawn["calls"][0]["type"], "CREATE");

    // trace_filter by recipient finds the relay's traces; trace_call and debug_traceCall run calls.
    let filtered = node.rpc("trace_filter", json!([{"fromBlock": "0x0", "toAddress": [counter]}]));
    assert!(filtered.as_array().expect("traces").len() >= 3);
    let tc =
        node.rpc("trace_call", json!([{"to": counter, "data": "0x8381f58a"}, ["trace"], "latest"]));
    assert_eq!(tc["output"], format!("0x{:064x}", 2));
    let dc = node.rpc(
        "debug_traceCall",
        json!([{"to": counter, "data": "0x8381f58a"}, "latest", {"tracer": "callTracer"}]),
    );
    assert_eq!(dc["output"], format!("0x{:064x}", 2));
    let slot0 = format!("0x{:064x}", 0);
    let dc = node.rpc(
        "debug_traceCall",
        json!([{"to": counter, "data": "0x8381f58a"}, "latest", {"tracer": "callTracer", "stateOverrides": {counter.clone(): {"stateDiff": {slot0: format!("0x{:064x}", 77)}}}}]),
    );
    assert_eq!(dc["output"], format!("0x{:064x}", 77));

    // Unknown tracers and transactions give clear errors.
    let e = node.rpc_err("debug_traceTransaction", json!([hash, {"tracer": "nonsenseTracer"}]));
    assert_eq!(e["code"], -32602);
    let e = node.rpc_err("debug_traceTransaction", json!([format!("0x{}", "11".repeat(32))]));
    assert_eq!(e["code"], -32000);
}

fn verify_account(proof: &serde_json::Value, state_root: &str) {
    use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
    use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
    let parse_b256 =
        |v: &serde_json::Value| v.as_str().expect("hex").parse::<B256>().expect("b256");
    let nodes = |v: &serde_json::Value| -> Vec<Bytes> {
        v.as_array()
            .expect("proof")
            .iter()
            .map(|n| n.as_str().expect("hex").parse().expect("bytes"))
            .collect()
    };
    let address: Address = proof["address"].as_str().expect("addr").parse().expect("address");
    let account = TrieAccount {
        nonce: hex_u64(&proof["nonce"]),
        balance: proof["balance"].as_str().expect("hex").parse::<U256>().expect("u256"),
        storage_root: parse_b256(&proof["storageHash"]),
        code_hash: parse_b256(&proof["codeHash"]),
    };
    let root: B256 = state_root.parse().expect("root");
    verify_proof(
        root,
        Nibbles::unpack(keccak256(address)),
        Some(alloy_rlp::encode(account)),
        &nodes(&proof["accountProof"]),
    )
    .expect("account proof verifies against the block's state root");
    for sp in proof["storageProof"].as_array().expect("storage proofs") {
        let key = parse_b256(&sp["key"]);
        let value = sp["value"].as_str().expect("hex").parse::<U256>().expect("u256");
        let expected = (!value.is_zero()).then(|| alloy_rlp::encode_fixed_size(&value).to_vec());
        verify_proof(
            account.storage_root,
            Nibbles::unpack(keccak256(key)),
            expected,
            &nodes(&sp["proof"]),
        )
        .expect("storage proof verifies against the storage root");
    }
}

#[test]
fn eth_get_proof_verifies_against_block_state_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node =
        DevNode::start(&dir.path().join("node"), &["--dev.instant", "--rpc.eth-proof-window", "2"]);
    let url = node.url();
    let counter = deploy(&url, "src/Counter.sol:Counter");
    cast(&[
        "send",
        &counter,
        "setNumber(uint256)",
        "9",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_0,
    ]);
    let then = node.block_number();
    cast(&[
        "send",
        &counter,
        "setNumber(uint256)",
        "11",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_0,
    ]);
    let slot0 = format!("0x{:064x}", 0);
    let slot5 = format!("0x{:064x}", 5);
    for (block, expected) in [(format!("0x{then:x}"), 9u64), ("latest".to_string(), 11)] {
        let proof = node.rpc("eth_getProof", json!([counter, [slot0, slot5], block]));
        assert_eq!(hex_u64(&proof["storageProof"][0]["value"]), expected);
        assert_eq!(proof["storageProof"][1]["value"], "0x0");
        let header = node.rpc("eth_getBlockByNumber", json!([block, false]));
        verify_account(&proof, header["stateRoot"].as_str().expect("root"));
    }
    // Past `--rpc.eth-proof-window` (reth's flag and message).
    let head = node.block_number();
    assert!(head >= 3, "{head}");
    let err = node.rpc_err("eth_getProof", json!([counter, [], format!("0x{:x}", head - 3)]));
    assert_eq!(err["code"], -32602);
    assert_eq!(err["message"], "distance to target block exceeds maximum proof window");
    // An account that does not exist has an exclusion proof.
    let proof = node
        .rpc("eth_getProof", json!(["0x00000000000000000000000000000000deadbeef", [], "latest"]));
    assert_eq!(proof["balance"], "0x0");
    let header = node.rpc("eth_getBlockByNumber", json!(["latest", false]));
    let root = header["stateRoot"].as_str().expect("root");
    // Absence is proven by an exclusion proof against the state root.
    {
        use alloy_primitives::{B256, Bytes, keccak256};
        use alloy_trie::{Nibbles, proof::verify_proof};
        let nodes: Vec<Bytes> = proof["accountProof"]
            .as_array()
            .expect("proof")
            .iter()
            .map(|n| n.as_str().expect("hex").parse().expect("bytes"))
            .collect();
        let address: alloy_primitives::Address =
            "0x00000000000000000000000000000000deadbeef".parse().expect("address");
        verify_proof(
            root.parse::<B256>().expect("root"),
            Nibbles::unpack(keccak256(address)),
            None,
            &nodes,
        )
        .expect("exclusion proof");
    }
}

#[test]
fn otterscan_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.instant"]);
    let url = node.url();
    assert_eq!(node.rpc("ots_getApiLevel", json!([])), 8);
    let counter = deploy(&url, "src/Counter.sol:Counter");
    let relay = deploy(&url, "src/Relay.sol:Relay");
    let send = |args: &[&str], key: &str| -> serde_json::Value {
        let mut all = vec!["send"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--rpc-url", &url, "--private-key", key, "--json"]);
        serde_json::from_str(&cast(&all)).expect("receipt")
    };
    let bump = send(&[&relay, "bump(address,uint256)", &counter, "1", "--value", "77"], DEV_KEY_3);
    let bump_hash = bump["transactionHash"].clone();
    let spawn = send(&[&relay, "spawn()"], DEV_KEY_0);
    // A failing transaction (forced with a fixed gas limit so estimation does not stop it).
    let fail = send(&[&counter, "failWithReason()", "--gas-limit", "100000"], DEV_KEY_0);
    assert_eq!(fail["status"], "0x0");

    assert_eq!(node.rpc("ots_hasCode", json!([counter, "latest"])), true);
    assert_eq!(node.rpc("ots_hasCode", json!([counter, "0x0"])), false);

    let ops = node.rpc("ots_getInternalOperations", json!([bump_hash]));
    assert_eq!(
        ops,
        json!([{"type": 0, "from": relay.to_lowercase(), "to": DEV_ADDR_3.to_lowercase(), "value": "0x4d"}])
    );
    let ops = node.rpc("ots_getInternalOperations", json!([spawn["transactionHash"]]));
    assert_eq!(ops[0]["type"], 2);

    let err = node.rpc("ots_getTransactionError", json!([fail["transactionHash"]]));
    let reason = err.as_str().expect("hex");
    assert!(reason.starts_with("0x08c379a0"), "{reason}");
    assert_eq!(node.rpc("ots_getTransactionError", json!([bump_hash])), "0x");

    let entries = node.rpc("ots_traceTransaction", json!([bump_hash]));
    let entries = entries.as_array().expect("entries");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["depth"], 0);
    assert_eq!(entries[1]["depth"], 1);

    let block = bump["blockNumber"].clone();
    let details = node.rpc("ots_getBlockDetails", json!([block]));
    assert_eq!(details["block"]["transactionCount"], 1);
    let fee = hex_u128(&bump["gasUsed"]) * hex_u128(&bump["effectiveGasPrice"]);
    assert_eq!(hex_u128(&details["totalFees"]), fee);
    let by_hash = node.rpc("ots_getBlockDetailsByHash", json!([bump["blockHash"]]));
    assert_eq!(by_hash, details);
    let page = node.rpc("ots_getBlockTransactions", json!([block, 0, 10]));
    assert_eq!(page["fullblock"]["transactionCount"], 1);
    assert_eq!(page["receipts"][0]["transactionHash"], bump_hash);

    // Address history: account 3 sent one transaction; the relay appears in three.
    let mine = node.rpc("ots_searchTransactionsBefore", json!([DEV_ADDR_3, 0, 10]));
    assert_eq!(mine["txs"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["firstPage"], true);
    assert_eq!(mine["lastPage"], true);
    let relay_txs = node.rpc("ots_searchTransactionsAfter", json!([relay, 0, 10]));
    assert_eq!(relay_txs["txs"].as_array().map(Vec::len), Some(3));
    let n0 = hex_u64(&relay_txs["txs"][0]["blockNumber"]);
    let n2 = hex_u64(&relay_txs["txs"][2]["blockNumber"]);
    assert!(n0 > n2, "newest first");

    assert_eq!(node.rpc("ots_getTransactionBySenderAndNonce", json!([DEV_ADDR_3, 0])), bump_hash);
    assert!(node.rpc("ots_getTransactionBySenderAndNonce", json!([DEV_ADDR_3, 1])).is_null());
    let creator = node.rpc("ots_getContractCreator", json!([counter]));
    assert_eq!(creator["creator"].as_str().map(str::to_lowercase), Some(DEV_ADDR_0.to_lowercase()));
    let spawned = ops[0]["to"].clone();
    let creator = node.rpc("ots_getContractCreator", json!([spawned]));
    assert_eq!(creator["creator"].as_str().map(str::to_lowercase), Some(relay.to_lowercase()));
    assert_eq!(creator["hash"], spawn["transactionHash"]);
    assert!(node.rpc("ots_getContractCreator", json!([DEV_ADDR_0])).is_null());
}

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
    assert!(python.exists(), "run ./scripts/setup-test.sh first (installs ethereum-etl)");
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

/// Kills the child process when dropped.
/// `keccak256("Transfer(address,address,uint256)")`.
const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    // Chunked bodies: keep the JSON between the first '{' and the last '}'.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b > a => body[a..=b].to_string(),
        _ => body,
    };
    Some((code, body))
}

/// ponder 1.0 (an ERC-20 Transfer indexer in `scripts/ponder`) indexes the node, historically and
/// in realtime; every Transfer log, receipt gas and resulting balance matches the node.
#[test]
fn ponder_indexes_erc20_transfers_like_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), &["--dev.block-time", "250ms"]);
    let url = node.url();
    let out = forge(&[
        "create",
        "--broadcast",
        "--rpc-url",
        &url,
        "--private-key",
        DEV_KEY_0,
        "src/Token.sol:Token",
        "--constructor-args",
        "Indexed",
        "IDX",
        "1000000000000000000000000",
    ]);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Deployed to: "))
        .expect("deployed")
        .trim()
        .to_string();
    let send = |key: &str, args: &[&str]| {
        let mut a = vec!["send", &token];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--rpc-url", &url, "--private-key", key]);
        cast(&a);
    };
    send(DEV_KEY_0, &["transfer(address,uint256)", DEV_ADDR_3, "5000"]);
    send(
        DEV_KEY_3,
        &["transfer(address,uint256)", "0x00000000000000000000000000000000000bEef1", "1200"],
    );
    send(DEV_KEY_0, &["approve(address,uint256)", DEV_ADDR_3, "777"]);
    send(
        DEV_KEY_3,
        &[
            "transferFrom(address,address,uint256)",
            DEV_ADDR_0,
            "0x00000000000000000000000000000000000bEef2",
            "777",
        ],
    );

    // ponder runs from a copy of the project so nothing is written into the repository.
    let root = dir.path().join("ponder");
    let src = repo_root().join("scripts/ponder");
    assert!(src.join("node_modules/.bin/ponder").exists(), "run ./scripts/setup.sh first");
    std::fs::create_dir_all(root.join("src/api")).expect("mkdir");
    for f in
        ["package.json", "ponder.config.ts", "ponder.schema.ts", "src/index.ts", "src/api/index.ts"]
    {
        std::fs::copy(src.join(f), root.join(f)).expect("copy");
    }
    std::os::unix::fs::symlink(src.join("node_modules"), root.join("node_modules")).expect("link");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let log = std::fs::File::create(dir.path().join("ponder.log")).expect("log");
    let _ponder = Killed(
        Command::new(src.join("node_modules/.bin/ponder"))
            .args(["start", "--port", &port.to_string()])
            .current_dir(&root)
            .env("PONDER_RPC_URL", &url)
            .env("PONDER_CHAIN_ID", CHAIN_ID.to_string())
            .env("PONDER_TOKEN", &token)
            .env("PONDER_PGLITE_DIR", dir.path().join("pglite"))
            .env("DATABASE_SCHEMA", "e2e")
            .env("PONDER_TELEMETRY_DISABLED", "true")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn ponder"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let ponder_log = || std::fs::read_to_string(dir.path().join("ponder.log")).unwrap_or_default();
    while http_get(port, "/ready").map(|r| r.0) != Some(200) {
        assert!(std::time::Instant::now() < deadline, "ponder not ready:\n{}", ponder_log());
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // One more transfer while ponder follows the chain in realtime.
    send(
        DEV_KEY_0,
        &["transfer(address,uint256)", "0x00000000000000000000000000000000000bEef3", "42"],
    );
    let logs = node.rpc(
        "eth_getLogs",
        serde_json::json!([{"fromBlock": "0x0", "toBlock": "latest", "address": token, "topics": [TRANSFER_TOPIC]}]),
    );
    let logs = logs.as_array().expect("logs").clone();
    assert_eq!(logs.len(), 5, "mint + 4 transfers (the approve emits Approval, not Transfer)");
    let dump = loop {
        let (_, body) = http_get(port, "/dump").unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if v["transfers"].as_array().is_some_and(|t| t.len() == logs.len()) {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "ponder has {body}\n{}", ponder_log());
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let word = |v: &serde_json::Value| v.as_str().expect("hex").to_lowercase();
    let mut indexed: Vec<serde_json::Value> = dump["transfers"].as_array().expect("t").clone();
    indexed.sort_by_key(|t| {
        (t["blockNumber"].as_str().unwrap_or("").parse::<u64>().unwrap_or(0), word(&t["txHash"]))
    });
    for (log, t) in logs.iter().zip(&indexed) {
        assert_eq!(word(&log["transactionHash"]), word(&t["txHash"]));
        assert_eq!(hex_u64(&log["blockNumber"]).to_string(), t["blockNumber"].as_str().expect("n"));
        let from = format!("0x{}", &word(&log["topics"][1])[26..]);
        let to = format!("0x{}", &word(&log["topics"][2])[26..]);
        assert_eq!((from, to), (word(&t["from"]), word(&t["to"])));
        assert_eq!(hex_u128(&log["data"]).to_string(), t["amount"].as_str().expect("amount"));
        let receipt =
            node.rpc("eth_getTransactionReceipt", serde_json::json!([log["transactionHash"]]));
        assert_eq!(hex_u64(&receipt["gasUsed"]).to_string(), t["gasUsed"].as_str().expect("gas"));
    }
    // Balances ponder derived from the events equal the token's own.
    for a in dump["accounts"].as_array().expect("accounts") {
        let addr = a["address"].as_str().expect("address");
        let bal = cast(&["call", &token, "balanceOf(address)(uint256)", addr, "--rpc-url", &url]);
        let bal = bal.split_whitespace().next().expect("balance");
        assert_eq!(bal, a["balance"].as_str().expect("balance"), "{addr}");
    }
}

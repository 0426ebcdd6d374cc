//! Harness for end-to-end tests: starts the real `dbc-node` binary on free loopback ports and
//! talks to it over HTTP, and through Foundry and node scripts.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

pub mod testnet;

use alloy_primitives::{Bytes, U256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

pub const DEV_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const DEV_ADDR_0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub const DEV_KEY_3: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
pub const DEV_ADDR_3: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
pub const CHAIN_ID: u64 = 19888;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

pub fn tool(name: &str) -> PathBuf {
    // The platform binary itself: the npm wrapper (`.bin/<name>` → `bin.mjs`) does not pass
    // the tool's exit status on (it exits 0 when cast or forge fail), so `run` could not see
    // a failure through it.
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let native = repo_root()
        .join("scripts/node_modules/@foundry-rs")
        .join(format!("{name}-{}-{arch}", std::env::consts::OS))
        .join("bin")
        .join(name);
    if native.exists() {
        return native;
    }
    let p = repo_root().join("scripts/node_modules/.bin").join(name);
    assert!(
        p.exists(),
        "{} missing: run ./scripts/setup-test.sh (the README's test command does)",
        p.display()
    );
    p
}

/// Two free ports for a node's HTTP and WebSocket servers. Both are held while the second is
/// picked: two binds in a row may get the same released port back, and the WebSocket server
/// then cannot start (seen once in CI).
pub fn two_free_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind");
    (first.local_addr().expect("addr").port(), second.local_addr().expect("addr").port())
}

pub struct DevNode {
    pub child: Child,
    pub http_port: u16,
    pub ws_port: u16,
    pub datadir: PathBuf,
    pub log: PathBuf,
}

impl DevNode {
    /// Starts `dbc-node --dev` with `extra` flags on `datadir`.
    pub fn start(datadir: &Path, extra: &[&str]) -> Self {
        // Ports 0: the node binds free ones itself and logs them. A port picked here and
        // released would be free only until something else took it: another test's node, or
        // one of the thousands of client connections of the RPC flood test.
        Self::start_on(datadir, extra, 0, 0)
    }

    /// Starts `dbc-node --dev` on the given ports (0: any free one, read from its log).
    pub fn start_on(datadir: &Path, extra: &[&str], http_port: u16, ws_port: u16) -> Self {
        // One log a start, never shared (a restart on the same data directory gets its own).
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let start = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = datadir.with_extension(format!("{start}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_dbc-node"))
            .arg("--dev")
            .arg("--datadir")
            .arg(datadir)
            .args(["--http.port", &http_port.to_string(), "--ws.port", &ws_port.to_string()])
            .args(extra)
            .stdout(log_file.try_clone().expect("clone"))
            .stderr(log_file)
            .spawn()
            .expect("spawn dbc-node");
        let mut node = Self { child, http_port, ws_port, datadir: datadir.to_path_buf(), log };
        let started = Instant::now();
        if http_port == 0 || ws_port == 0 {
            let (http, ws) = loop {
                let logs = node.logs();
                let bound = |server: &str| {
                    let line = logs.lines().find(|l| l.contains(server))?;
                    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
                    let digits: String =
                        line[at..].chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<u16>().ok()
                };
                if let (Some(http), Some(ws)) = (
                    bound("HTTP JSON-RPC server started"),
                    bound("WebSocket JSON-RPC server started"),
                ) {
                    break (http, ws);
                }
                let exited = node.child.try_wait().ok().flatten();
                assert!(
                    exited.is_none() && started.elapsed() < Duration::from_secs(60),
                    "node did not start ({exited:?}):\n{logs}"
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            (node.http_port, node.ws_port) = (http, ws);
        }
        loop {
            if let Ok(v) = node.try_rpc("eth_chainId", json!([]))
                && v.get("result").is_some()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node did not start:\n{}",
                node.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        node
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a raw JSON body and returns the parsed response.
    pub fn post(&self, body: &str) -> std::io::Result<Value> {
        post_to(self.http_port, body)
    }

    pub fn try_rpc(&self, method: &str, params: Value) -> std::io::Result<Value> {
        self.post(
            &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
        )
    }

    /// Calls `method` and returns `result`, panicking on an error response.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        let v = self.try_rpc(method, params.clone()).expect("rpc transport");
        match v.get("result") {
            Some(r) => r.clone(),
            None => panic!("{method}({params}) failed: {v}"),
        }
    }

    /// Calls `method` expecting an error object; returns it.
    pub fn rpc_err(&self, method: &str, params: Value) -> Value {
        let v = self.try_rpc(method, params.clone()).expect("rpc transport");
        v.get("error").cloned().unwrap_or_else(|| panic!("{method}({params}) should fail: {v}"))
    }

    pub fn block_number(&self) -> u64 {
        hex_u64(&self.rpc("eth_blockNumber", json!([])))
    }

    pub fn wait_for_block(&self, n: u64, timeout: Duration) {
        let started = Instant::now();
        while self.block_number() < n {
            assert!(started.elapsed() < timeout, "block {n} not reached:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_receipt(&self, hash: &str) -> Value {
        let started = Instant::now();
        loop {
            let r = self.rpc("eth_getTransactionReceipt", json!([hash]));
            if !r.is_null() {
                return r;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no receipt for {hash}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill9(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a raw JSON body to the HTTP RPC on `port` and returns the parsed response.
pub fn post_to(port: u16, body: &str) -> std::io::Result<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    stream.write_all(req.as_bytes())?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).map_err(|e| std::io::Error::other(format!("{e}: {body}")))
}

/// Calls `method` on the HTTP RPC at `port`; `None` when the node is down or answers an error.
pub fn rpc_at(port: u16, method: &str, params: Value) -> Option<Value> {
    let v = post_to(
        port,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
    )
    .ok()?;
    v.get("result").cloned()
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// Runs `bash script url` against `node` (in `cwd`), asserting that it succeeds and that its
/// output contains `done`; on failure shows its output and the end of the node's log.
pub fn run_script_on(node: &DevNode, script: &str, cwd: &Path, done: &str) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join(script))
        .arg(node.url())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs = node.logs();
    let tail: Vec<&str> = logs.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    assert!(
        out.status.success() && stdout.contains(done),
        "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}\nnode log (tail):\n{}",
        out.status,
        tail.join("\n")
    );
    stdout
}

pub fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

pub fn hex_u128(v: &Value) -> u128 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a hex string: {v}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

/// Runs a command and returns its output, panicking with stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let out: Output = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A signed EIP-1559 transfer of 1 wei from `key` to `to` at `nonce` with gas price `price`
/// (`cast mktx`), not sent.
pub fn signed_transfer(url: &str, key: &str, to: &str, nonce: u64, price: &str) -> String {
    cast(&[
        "mktx",
        "--rpc-url",
        url,
        "--private-key",
        key,
        to,
        "--value",
        "1",
        "--nonce",
        &nonce.to_string(),
        "--gas-limit",
        "21000",
        "--gas-price",
        price,
        "--priority-gas-price",
        "1gwei",
    ])
}

pub fn cast(args: &[&str]) -> String {
    run(Command::new(tool("cast")).args(args).stdin(Stdio::null()))
}

pub fn forge(args: &[&str]) -> String {
    run(Command::new(tool("forge"))
        .args(args)
        .current_dir(repo_root().join("contracts"))
        .stdin(Stdio::null()))
}

pub fn node_script(script: &str, args: &[&str]) -> String {
    run(Command::new("node")
        .arg(repo_root().join("scripts/e2e").join(script))
        .args(args)
        .current_dir(repo_root().join("scripts")))
}

/// Deploys `contract` (e.g. `src/Counter.sol:Counter`) with `forge create --broadcast` from dev
/// account 0 and returns its address.
pub fn deploy(url: &str, contract: &str) -> String {
    let out =
        forge(&["create", "--broadcast", "--rpc-url", url, "--private-key", DEV_KEY_0, contract]);
    out.lines()
        .find_map(|l| l.strip_prefix("Deployed to: "))
        .unwrap_or_else(|| panic!("no address in forge output:\n{out}"))
        .trim()
        .to_string()
}

/// Runs `contracts/script/Deploy.s.sol` with `forge script --broadcast` from `key`; asserts
/// that forge reports success and returns its output.
pub fn deploy_script(url: &str, key: &str) -> String {
    let out = forge(&[
        "script",
        "script/Deploy.s.sol:Deploy",
        "--broadcast",
        "--rpc-url",
        url,
        "--private-key",
        key,
        "--non-interactive",
    ]);
    assert!(out.contains("ONCHAIN EXECUTION COMPLETE & SUCCESSFUL"), "{out}");
    out
}

/// Writes the dev genesis with market windows short enough for a test at 250 ms blocks and no
/// random liveness challenges (the scripts number the reports and count the events); returns its
/// total supply (the sum of its balances).
pub fn write_market_test_genesis(path: &Path) -> U256 {
    write_genesis_with_market(
        path,
        json!({
        "auditorStake": "1000000000000000000000",
        "drawDelayBlocks": 2,
        "commitWindowBlocks": 200,
        "revealWindowBlocks": 200,
        "rentUnitBlocks": 10,
        "maxRentBlocks": 5000,
        "epochBlocks": 50,
        "vestingBlocks": 100000,
        "heartbeatTimeoutBlocks": 100000,
        "minOnlineBlocks": 100000,
        "exitCooldownBlocks": 100,
        "challengeChanceBps": 0,
        }),
    )
}

/// Writes the dev genesis with `market` as its market parameters; returns its total supply.
pub fn write_genesis_with_market(path: &Path, market: Value) -> U256 {
    write_dev_genesis(path, |g| g["config"]["dbc"]["market"] = market)
}

/// Writes `genesis/dev.json` as `edit` changes it; returns its total supply.
pub fn write_dev_genesis(path: &Path, edit: impl FnOnce(&mut Value)) -> U256 {
    let mut g: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("genesis/dev.json")).unwrap(),
    )
    .unwrap();
    edit(&mut g);
    std::fs::write(path, serde_json::to_string_pretty(&g).unwrap()).unwrap();
    g["alloc"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["balance"].as_str().map_or(U256::ZERO, |b| b.parse::<U256>().unwrap()))
        .sum()
}

/// `eth_call` of a `sol!` call on `to` at `latest`, decoded.
pub fn sol_call<C: SolCall>(node: &DevNode, to: &str, call: C) -> C::Return {
    let out =
        node.rpc("eth_call", json!([{"to": to, "data": Bytes::from(call.abi_encode())}, "latest"]));
    let bytes: Bytes = serde_json::from_value(out).unwrap();
    C::abi_decode_returns(&bytes).unwrap()
}

/// [`sol_call`] that returns `None` when the call reverts (or the node is unreachable).
pub fn try_sol_call<C: SolCall>(node: &DevNode, to: &str, call: C) -> Option<C::Return> {
    let out = node
        .try_rpc("eth_call", json!([{"to": to, "data": Bytes::from(call.abi_encode())}, "latest"]))
        .ok()?;
    let bytes: Bytes = serde_json::from_value(out.get("result")?.clone()).ok()?;
    C::abi_decode_returns(&bytes).ok()
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `phase{n}()` of a phase script (`path:Contract`) with `forge script --broadcast
/// --skip-simulation --slow` and asserts that it succeeded (and that every transaction it sent
/// succeeded on chain).
pub fn forge_phase(url: &str, script: &str, n: u32) {
    let output = std::process::Command::new(tool("forge"))
        .current_dir(repo_root().join("contracts"))
        .stdin(std::process::Stdio::null())
        .args([
            "script",
            script,
            "--sig",
            &format!("phase{n}()"),
            "--rpc-url",
            url,
            "--broadcast",
            "--skip-simulation",
            "--slow",
            "--non-interactive",
        ])
        .output()
        .expect("forge");
    let out = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success()
            && (out.contains("ONCHAIN EXECUTION COMPLETE & SUCCESSFUL")
                || (!out.contains("Transactions saved")
                    && out.contains("Script ran successfully"))),
        "phase {n}:\n{out}"
    );
}

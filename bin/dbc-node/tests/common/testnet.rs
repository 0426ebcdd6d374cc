//! The 4-validator + 1 full node network of `testnet/run.sh` on free loopback ports, for the
//! end-to-end tests that need real proof-of-stake processes.

use super::{hex_u64, repo_root, rpc_at};
use serde_json::{Value, json};
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub const NODES: [&str; 5] = ["v1", "v2", "v3", "v4", "full"];

/// `s` without its ANSI colour codes (the nodes' log lines).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

pub struct Testnet {
    pub dir: tempfile::TempDir,
    pub up: String,
    pub http_base: u16,
    pub p2p_base: u16,
    /// Environment for `run.sh` beyond the defaults (`EPOCH_BLOCKS`, `CONFIG_DBC`, …).
    pub env: Vec<(String, String)>,
}

fn ports_free(base: u16) -> bool {
    (0..5).all(|i| {
        TcpListener::bind(("127.0.0.1", base + i)).is_ok()
            && TcpListener::bind(("127.0.0.1", base + 1000 + i)).is_ok()
    })
}

impl Testnet {
    /// Starts the network (2 s slots, long epochs).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the network with `env` for `run.sh` on top of the defaults (2 s slots, epochs of
    /// 1,000 blocks).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let seed = std::process::id() as u16;
        let mut http_base = 20_000 + (seed % 200) * 20;
        while !ports_free(http_base) {
            http_base += 20;
        }
        let mut p2p_base = http_base + 5_000;
        while !ports_free(p2p_base) {
            p2p_base += 20;
        }
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut net = Self {
            dir: tempfile::tempdir().expect("tmp"),
            up: String::new(),
            http_base,
            p2p_base,
            env,
        };
        net.up = net.script(&[]);
        net
    }

    pub fn script(&self, args: &[&str]) -> String {
        let out = self.run_script(args);
        assert!(
            out.status.success(),
            "run.sh {args:?} failed:\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Runs `run.sh` and returns whatever it did, for a node that may exit before it answers
    /// (one started to crash).
    pub fn run_script(&self, args: &[&str]) -> std::process::Output {
        Command::new(repo_root().join("testnet/run.sh"))
            .args(args)
            .env("TESTNET_DIR", self.dir.path())
            .env("HTTP_PORT_BASE", self.http_base.to_string())
            .env("P2P_PORT_BASE", self.p2p_base.to_string())
            .env("BLOCK_TIME", "2")
            .env("EPOCH_BLOCKS", "1000")
            .env("DBC_NODE_BIN", env!("CARGO_BIN_EXE_dbc-node"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("run.sh")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn logs(&self) -> String {
        NODES
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(self.path(&format!("{n}.log"))).unwrap_or_default();
                let log = strip_ansi(&log);
                // Every warning and error (the cause is rarely in the last lines), then the tail.
                let warned: Vec<&str> =
                    log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
                let warned = &warned[warned.len().saturating_sub(40)..];
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!(
                    "--- {n}: the last {} warnings and errors ---\n{}\n--- {n}: the last lines ---\n{}",
                    warned.len(),
                    warned.join("\n"),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn port(&self, node: usize) -> u16 {
        self.http_base + node as u16
    }

    pub fn url(&self, node: usize) -> String {
        format!("http://127.0.0.1:{}", self.port(node))
    }

    pub fn rpc(&self, node: usize, method: &str, params: Value) -> Option<Value> {
        rpc_at(self.port(node), method, params)
    }

    pub fn head(&self, node: usize) -> u64 {
        self.rpc(node, "eth_blockNumber", json!([])).map(|v| hex_u64(&v)).unwrap_or(0)
    }

    pub fn block(&self, node: usize, tag: &str) -> Option<Value> {
        let b = self.rpc(node, "eth_getBlockByNumber", json!([tag, false]))?;
        (!b.is_null()).then_some(b)
    }

    pub fn finalized(&self, node: usize) -> u64 {
        self.block(node, "finalized").map(|b| hex_u64(&b["number"])).unwrap_or(0)
    }

    pub fn hash_at(&self, node: usize, n: u64) -> Option<String> {
        self.block(node, &format!("{n:#x}")).and_then(|b| b["hash"].as_str().map(String::from))
    }

    pub fn wait(&self, what: &str, secs: u64, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        // A failed test's whole logs, for whoever set DBC_TEST_KEEP_LOGS to a directory.
        if let Some(keep) =
            std::env::var_os("DBC_TEST_KEEP_LOGS").filter(|_| std::thread::panicking())
        {
            let _ = std::fs::create_dir_all(&keep);
            for n in NODES {
                let name = format!("{n}.log");
                let _ = std::fs::copy(self.path(&name), PathBuf::from(&keep).join(name));
            }
        }
        let _ = Command::new(repo_root().join("testnet/run.sh"))
            .arg("stop")
            .env("TESTNET_DIR", self.dir.path())
            .output();
    }
}

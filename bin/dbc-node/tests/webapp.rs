//! The market web app (`webapp/`) end to end in a headless browser: a real `dbc-node --dev`
//! (market test genesis, CORS open to the page) gets a verified online machine from
//! MarketE2E's first three `forge script` phases (registration, the auditors' commits and
//! reveals); `python3 -m http.server` serves `webapp/` on loopback; `scripts/e2e/webapp.mjs`
//! drives it in Debian's Chromium through puppeteer-core with an injected EIP-1193 wallet:
//! connect, stats against `dbc_networkStats`, the machine's row, the rent dialog's quote, a
//! refused duration and a wallet rejection shown as errors, rent, "My rentals", Extend, End,
//! and the owner's "My machines" with its rewards and Claim. Screenshots of every step go to
//! `$CARGO_TARGET_TMPDIR/webapp-screenshots`.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::keccak256;
use common::*;
use dbc_precompiles::abi::IGpuMarket;
use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const MARKET: &str = "0x0000000000000000000000000000000000000D01";
const SCRIPT: &str = "script/MarketE2E.s.sol:MarketE2E";
/// Debian's Chromium (scripts/setup-test.sh installs it); puppeteer-core brings no browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// `python3 -m http.server` serving a directory on a free loopback port; killed on drop.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3 -m http.server");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("python3 -m http.server on port {port} exited: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "http.server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn webapp_rents_and_ends_a_rental_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} missing: run ./scripts/setup-test.sh (it installs Debian's chromium)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    write_market_test_genesis(&genesis);
    // The page (served from another port) reads the node with fetch: CORS must allow it.
    let node = DevNode::start(
        &dir.path().join("data"),
        &[
            "--chain",
            genesis.to_str().unwrap(),
            "--dev.block-time",
            "250ms",
            "--http.corsdomain",
            "*",
        ],
    );
    let url = node.url();
    let machine = keccak256("dbc-e2e-machine-A");

    // A verified online machine, as in market.rs: auditors join and the provider (dev account
    // 1) registers; after the draw the auditors commit, then reveal.
    forge_phase(&url, SCRIPT, 1);
    wait_until("the auditors' draw", || {
        sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: machine }).phase as u8 == 2
    });
    forge_phase(&url, SCRIPT, 2);
    forge_phase(&url, SCRIPT, 3);
    wait_until("the machine online", || {
        sol_call(&node, MARKET, IGpuMarket::getMachineCall { machineId: machine }).status as u8 == 2
    });

    let server = StaticServer::start(&repo_root().join("webapp"));
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("webapp-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    println!("screenshots: {}", shots.display());
    let out = node_script(
        "webapp.mjs",
        &[&url, &server.url(), shots.to_str().unwrap(), &machine.to_string()],
    );
    println!("{out}");
    assert!(out.contains(r#""ok":true"#), "webapp.mjs did not report success:\n{out}");
    let pngs = std::fs::read_dir(&shots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .count();
    assert!(pngs >= 8, "{pngs} screenshots in {}", shots.display());
}

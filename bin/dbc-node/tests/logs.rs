//! Issue #19 item 4: logs an operator can ship. Output that is not a terminal carries no ANSI
//! colour codes; `--log.format json` writes one JSON object per line; a status line (head,
//! finalized, peers, pool, tx/s) comes every `--log.status-interval`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

/// Waits until the node's log has `n` lines containing `needle`; on a timeout the log is
/// shown.
fn wait_for_lines(node: &DevNode, needle: &str, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while node.logs().lines().filter(|l| l.contains(needle)).count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} lines with {needle:?} not logged within 60 s; the log:\n{}",
            node.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn logs_to_a_file_have_no_colour_and_a_status_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--dev.block-time", "250ms", "--log.status-interval", "1s"],
    );
    let raw = signed_transfer(&node.url(), DEV_KEY_0, DEV_ADDR_3, 0, "10gwei");
    node.rpc("eth_sendRawTransaction", json!([raw.trim()]));
    wait_for_lines(&node, " status ", 2);
    let logs = node.logs();
    assert!(!logs.contains('\u{1b}'), "ANSI escape codes in a log file:\n{logs}");
    let status = logs.lines().rfind(|l| l.contains(" status ")).unwrap();
    for field in ["head=", "finalized=", "pending=", "queued=", "tx_per_sec="] {
        assert!(status.contains(field), "{field} missing from {status}");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--dev.block-time", "250ms", "--log.format", "json", "--log.status-interval", "1s"],
    );
    wait_for_lines(&node, "\"message\":\"status\"", 1);
    let lines: Vec<Value> = node
        .logs()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 2);
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string() && l["target"].is_string());
    }
    let start = lines.iter().find(|l| l["message"] == json!("starting dbc-node")).unwrap();
    assert_eq!(start["level"], json!("INFO"));
    assert_eq!(start["chain_id"], json!(CHAIN_ID));
    let status = lines.iter().rfind(|l| l["message"] == json!("status")).unwrap();
    assert!(status["head"].as_u64().is_some(), "{status}");
    assert!(status["pending"].as_u64().is_some(), "{status}");
    // A bad value is refused by the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dbc-node"))
        .args(["--dev", "--log.format", "xml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("terminal, json"));
}

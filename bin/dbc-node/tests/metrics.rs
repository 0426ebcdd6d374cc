//! Issue #19 item 3: `--metrics ADDR` serves Prometheus text that Prometheus's own parser
//! (`prometheus_client.parser`, through `scripts/e2e/prom_check.py`) reads, with the chain,
//! block-time, pool, RPC, p2p/sync, storage and GPU-market series, and every metric the Grafana
//! dashboard (`docs/grafana-dashboard.json`) charts is one the node exports.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Command, Stdio},
};

fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    write!(s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The exposition parsed by Prometheus's parser: family name → samples.
fn parse(text: &str) -> Value {
    let python = repo_root().join("scripts/.venv/bin/python");
    assert!(python.exists(), "{} missing: run ./scripts/setup-test.sh", python.display());
    let mut child = Command::new(python)
        .arg(repo_root().join("scripts/e2e/prom_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "parser: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn value(families: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[family]["samples"].as_array()?.iter().find_map(|s| {
        let matches =
            s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k].as_str() == Some(*v));
        matches.then(|| s["value"].as_f64()).flatten()
    })
}

#[test]
fn metrics_endpoint_serves_parsable_prometheus_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--dev.instant", "--metrics", &format!("127.0.0.1:{port}")],
    );
    // The recorder is installed before the RPC server opens: what the node does as soon as a
    // client can reach it is counted (a block sealed right after start was once lost in CI).
    // (The RPC server logs its line just after it starts answering: read until it is there.)
    let mut lines = None;
    wait_until("the start-up lines", || {
        let logs = node.logs();
        let found =
            (logs.find("Prometheus metrics served"), logs.find("HTTP JSON-RPC server started"));
        lines = Some((found, logs));
        matches!(found, (_, Some(_)))
    });
    let ((served, Some(rpc)), logs) = lines.unwrap() else { unreachable!() };
    assert!(
        served.is_some_and(|s| s < rpc),
        "metrics installed after the RPC server started:\n{logs}"
    );
    // Some work to measure: a transfer (a sealed block), mined blocks, RPC calls and an error.
    let raw = signed_transfer(&node.url(), DEV_KEY_0, DEV_ADDR_3, 0, "0x77359400");
    let hash = node.rpc("eth_sendRawTransaction", json!([raw]));
    node.wait_receipt(hash.as_str().unwrap());
    node.rpc("anvil_mine", json!(["0x10"]));
    node.rpc_err("eth_getBalance", json!(["not an address"]));
    let head = node.block_number();
    // The samplers run every 1 s (chain, pool) and 10 s (storage, market).
    let mut families = Value::Null;
    wait_until("metrics sampled", || {
        families = parse(&scrape(port));
        value(&families, "dbc_chain_head", "dbc_chain_head", &[]) == Some(head as f64)
            && value(&families, "dbc_supply_dbc", "dbc_supply_dbc", &[]).is_some()
    });
    let f = &families;
    // Chain and pool.
    assert_eq!(value(f, "dbc_chain_finalized", "dbc_chain_finalized", &[]), Some(head as f64));
    assert_eq!(value(f, "dbc_txpool_pending", "dbc_txpool_pending", &[]), Some(0.0));
    // Blocks by kind, with block-time histograms (the parser keys counters without `_total`).
    assert!(value(f, "dbc_blocks", "dbc_blocks_total", &[("kind", "block sealed")]) >= Some(1.0));
    assert_eq!(value(f, "dbc_blocks", "dbc_blocks_total", &[("kind", "idle")]), Some(16.0));
    assert!(value(f, "dbc_transactions", "dbc_transactions_total", &[]) >= Some(1.0));
    assert_eq!(f["dbc_block_total_seconds"]["type"], "histogram");
    let sealed = [("kind", "block sealed")];
    assert!(
        value(f, "dbc_block_execution_seconds", "dbc_block_execution_seconds_count", &sealed)
            >= Some(1.0)
    );
    assert!(
        value(
            f,
            "dbc_block_execution_seconds",
            "dbc_block_execution_seconds_bucket",
            &[("kind", "block sealed"), ("le", "+Inf")]
        ) >= Some(1.0)
    );
    // RPC calls by method, with errors and latency.
    let by = [("method", "eth_getBalance")];
    assert!(value(f, "dbc_rpc_requests", "dbc_rpc_requests_total", &by) >= Some(1.0));
    assert!(value(f, "dbc_rpc_errors", "dbc_rpc_errors_total", &by) >= Some(1.0));
    // `DevNode::start`'s first answered request, made as soon as the port opened.
    let by = [("method", "eth_chainId")];
    assert!(value(f, "dbc_rpc_requests", "dbc_rpc_requests_total", &by) >= Some(1.0));
    let by = [("method", "eth_blockNumber")];
    assert!(
        value(f, "dbc_rpc_request_duration_seconds", "dbc_rpc_request_duration_seconds_count", &by)
            >= Some(1.0)
    );
    // Storage, p2p/sync (a dev chain has no peers) and the market.
    assert!(
        value(f, "dbc_db_table_size_bytes", "dbc_db_table_size_bytes", &[("table", "Headers")])
            > Some(0.0)
    );
    assert_eq!(value(f, "dbc_p2p_peers", "dbc_p2p_peers", &[]), Some(0.0));
    assert_eq!(value(f, "dbc_market_gpus", "dbc_market_gpus", &[("state", "online")]), Some(0.0));
    assert!(value(f, "dbc_supply_dbc", "dbc_supply_dbc", &[]) > Some(0.0));

    // Every metric the dashboard charts is exported.
    // Family names and sample names (a counter's family drops its `_total`).
    let mut names: Vec<String> = f.as_object().unwrap().keys().cloned().collect();
    for family in f.as_object().unwrap().values() {
        for sample in family["samples"].as_array().unwrap() {
            names.push(sample["name"].as_str().unwrap().to_string());
        }
    }
    names.sort();
    names.dedup();
    let out = Command::new(repo_root().join("scripts/.venv/bin/python"))
        .arg(repo_root().join("scripts/e2e/check_dashboard.py"))
        .arg(repo_root().join("docs/grafana-dashboard.json"))
        .args(&names)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dashboard uses metrics the node does not export:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

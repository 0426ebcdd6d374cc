//! The proof-of-stake network with real processes on 127.0.0.1, started by `testnet/run.sh`
//! (4 validators and 1 full node, 2 s slots): blocks are produced and finalized; with one
//! validator stopped both continue; with two stopped blocks continue but nothing new
//! finalizes, and after a restart the chain finalizes again and everyone catches up; a
//! validator cut off from the others rejoins their finalized chain; a double-signing validator's evidence is picked up by the nodes and slashes it on chain; a
//! fresh full node syncs from genesis. Prints time to finality and sync speed.

mod common;

use alloy_primitives::U256;
use alloy_sol_types::SolEvent;
use common::{
    DEV_KEY_3, hex_u64,
    testnet::{Testnet, strip_ansi},
    tool,
};
use dbc_precompiles::abi::IStaking;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Seconds since midnight of a log line's RFC 3339 timestamp.
fn log_time(line: &str) -> Option<f64> {
    let t = line.split('T').nth(1)?.split('Z').next()?;
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// From the full node's log: per block, time from import to finalization (ms), and from the
/// block's slot start (its timestamp) to finalization.
fn finality_latency(net: &Testnet) -> (f64, f64, f64) {
    let log = strip_ansi(&std::fs::read_to_string(net.path("full.log")).unwrap_or_default());
    let mut imported = std::collections::HashMap::new();
    let mut import_ms = Vec::new();
    let mut slot_ms = Vec::new();
    for line in log.lines() {
        let Some(t) = log_time(line) else { continue };
        let number = line
            .split(" number=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok());
        // The first blocks carry the start-up (validators wait to hear from peers).
        let Some(n) = number.filter(|n| *n > 3) else { continue };
        if line.contains("block imported") {
            imported.insert(n, t);
        } else if line.contains(" finalized ")
            && let Some(at) = imported.get(&n)
        {
            import_ms.push((t - at) * 1e3);
            if let Some(b) = net.block(4, &format!("{n:#x}")) {
                let ts = hex_u64(&b["timestamp"]) % 86_400;
                slot_ms.push((t - ts as f64) * 1e3);
            }
        }
    }
    assert!(import_ms.len() >= 5, "finality measured on too few blocks:\n{log}");
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = import_ms.iter().cloned().fold(0.0, f64::max);
    (avg(&import_ms), max, avg(&slot_ms))
}

fn cast_validator(url: &str, validator: &str) -> String {
    common::cast(&[
        "call",
        "--rpc-url",
        url,
        "0x0000000000000000000000000000000000000D03",
        "getValidator(address)((address,uint256,uint256,uint256,uint16,uint64,uint32,bool,uint256))",
        validator,
    ])
}

/// A node's command line (`run.sh`'s `<node>.cmd`) listening on `port` and dialling nobody.
fn cut_off(cmd: &str, port: u16) -> String {
    let mut out = Vec::new();
    let mut words = cmd.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "--bootnodes" => {
                words.next();
            }
            "--p2p.port" => {
                words.next();
                out.push(format!("--p2p.port {port}"));
            }
            w => out.push(w.to_string()),
        }
    }
    out.join(" ")
}

#[test]
fn four_validators_finalize_tolerate_faults_slash_double_signing_and_sync_a_new_node() {
    let _ = tool("cast");
    let net = Testnet::start();
    let validators: Vec<String> = net
        .up
        .lines()
        .find_map(|l| l.strip_prefix("testnet up: validators "))
        .map(|l| l.split(' ').map(String::from).collect())
        .unwrap_or_default();
    assert_eq!(validators.len(), 4, "run.sh prints the validators");

    // 1. Blocks and finality with all four.
    net.wait("twelve finalized blocks", 60, || net.finalized(4) >= 12);
    let (avg_import, max_import, avg_slot) = finality_latency(&net);
    println!(
        "time to finality (full node's log): import → finalized avg {avg_import:.1} ms, \
         max {max_import:.1} ms; slot start → finalized avg {avg_slot:.0} ms"
    );
    for i in 0..5 {
        assert_eq!(net.rpc(i, "net_peerCount", json!([])), Some(json!("0x4")), "node {i} peers");
        assert_eq!(net.rpc(i, "eth_syncing", json!([])), Some(json!(false)));
    }
    // Finality proofs ride in headers' extraData (vanity 32 + RLP proof + seal 65).
    let head = net.block(4, "latest").expect("head");
    let extra = head["extraData"].as_str().expect("extra").len() / 2 - 1;
    assert!(extra > 32 + 65 + 1, "finality proof carried in the header ({extra} bytes)");
    let fin = net.finalized(0);
    let h = net.hash_at(0, fin);
    assert!(h.is_some());
    for i in 1..5 {
        assert_eq!(net.hash_at(i, fin), h, "node {i} agrees on finalized block {fin}");
    }
    let validators_rpc = net.rpc(0, "dbc_getValidators", json!([])).expect("validators");
    assert_eq!(validators_rpc.as_array().map(|a| a.len()), Some(4));

    // 2. One validator stopped: 3 of 4 (> 2/3) keep producing and finalizing.
    net.script(&["stop", "v4"]);
    let (h0, f0) = (net.head(0), net.finalized(0));
    net.wait("blocks and finality without v4", 40, || {
        net.head(0) >= h0 + 5 && net.finalized(0) >= f0 + 4
    });

    // 3. Two stopped: blocks continue (backup proposers) but nothing new is finalized.
    net.script(&["stop", "v3"]);
    std::thread::sleep(Duration::from_secs(3));
    let (h1, f1) = (net.head(0), net.finalized(0));
    net.wait("blocks without v3 and v4", 40, || net.head(0) >= h1 + 4);
    assert_eq!(net.finalized(0), f1, "two of four validators down: nothing new finalizes");
    assert_eq!(net.finalized(4), f1);

    // 4. Restart both: they catch up, finality resumes, everyone agrees.
    net.script(&["start", "v3"]);
    net.script(&["start", "v4"]);
    let h2 = net.head(0);
    net.wait("finality after the restart", 60, || net.finalized(0) > h2);
    net.wait("restarted validators at the tip", 30, || {
        let tip = net.head(0);
        net.head(2) + 1 >= tip && net.head(3) + 1 >= tip
    });
    let fin = net.finalized(0);
    for i in 1..5 {
        assert_eq!(net.hash_at(i, fin), net.hash_at(0, fin), "node {i} at finalized {fin}");
    }
    println!("fault tolerance: finalized {f1} stalled while head went {h1}→{h2}; resumed to {fin}");

    // 4b. A partition: v3, cut off from the others (restarted on another port, without
    //     bootnodes), builds a branch of its own while the other three finalize theirs. Back
    //     on its port it switches to the network's branch, although that branch carries proofs
    //     finalizing blocks of its own, finalizes with it, and no node banned it. (On
    //     2026-12-05 a validator that forked off early refused such a branch for ever, and the
    //     nodes it had sent its branch to banned it.)
    let cmd_file = net.path("v3.cmd");
    let cmd = std::fs::read_to_string(&cmd_file).expect("cmd");
    std::fs::write(&cmd_file, cut_off(&cmd, net.p2p_base + 50)).expect("write");
    net.script(&["start", "v3"]);
    let (cut, f_cut) = (net.head(2), net.finalized(0));
    net.wait("both sides of the partition growing, the majority finalizing", 60, || {
        net.head(2) >= cut + 4 && net.finalized(0) >= f_cut + 4 && net.finalized(0) > cut + 1
    });
    let apart = cut + 1;
    assert_ne!(net.hash_at(2, apart), net.hash_at(0, apart), "v3 built a branch of its own");
    assert!(net.finalized(2) < apart, "v3 alone finalized nothing of its branch");
    std::fs::write(&cmd_file, &cmd).expect("restore");
    net.script(&["start", "v3"]);
    let f3 = net.finalized(0);
    net.wait("v3 back on the network's chain and finalizing with it", 60, || {
        net.finalized(2) >= f3 && net.hash_at(2, f3) == net.hash_at(0, f3)
    });
    net.wait("every node connected to every other (nobody banned v3)", 30, || {
        (0..5).all(|i| net.rpc(i, "net_peerCount", json!([])) == Some(json!("0x4")))
    });
    println!("partition: v3 apart from block {apart}, rejoined; finalized {f3} on every side");

    // 5. Double signing: v4 seals two blocks per slot; the nodes record the evidence and
    //    anyone submits it to the staking precompile, which slashes and jails v4.
    let cmd_file = net.path("v4.cmd");
    let cmd = std::fs::read_to_string(&cmd_file).expect("cmd");
    std::fs::write(&cmd_file, format!("{} --dev.equivocate\n", cmd.trim())).expect("write");
    net.script(&["start", "v4"]);
    let mut evidence = Value::Null;
    net.wait("double-sign evidence", 60, || {
        evidence = net.rpc(0, "dbc_getDoubleSignEvidence", json!([])).unwrap_or_default();
        evidence.as_array().is_some_and(|a| !a.is_empty())
    });
    std::fs::write(&cmd_file, cmd).expect("restore");
    net.script(&["start", "v4"]);
    let before = cast_validator(&net.url(4), &validators[3]);
    let (a, b) =
        (evidence[0]["headerA"].as_str().expect("a"), evidence[0]["headerB"].as_str().expect("b"));
    let receipt = common::cast(&[
        "send",
        "--rpc-url",
        &net.url(4),
        "--private-key",
        DEV_KEY_3,
        "--json",
        "0x0000000000000000000000000000000000000D03",
        "submitDoubleSign(bytes,bytes)",
        a,
        b,
    ]);
    let receipt: Value = serde_json::from_str(&receipt).expect("receipt json");
    assert_eq!(receipt["status"], json!("0x1"), "evidence accepted: {receipt}");
    let after = cast_validator(&net.url(4), &validators[3]);
    assert_ne!(before, after, "validator record changed");
    let fields: Vec<&str> = after.trim_matches(|c| c == '(' || c == ')').split(", ").collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.split(' ').next()).unwrap_or_default();
    let jailed_until: u64 = field(5).parse().unwrap_or_else(|_| panic!("jailedUntil in {after}"));
    assert!(jailed_until > 0, "double signer jailed: {after}");
    assert_ne!(field(2), "100000000000000000000000", "double signer slashed: {after}");
    println!("double signing: {} slashed and jailed until block {jailed_until}", validators[3]);
    // The reporter is paid its share of the slash and the rest goes to the treasury
    // (`staking.slashTreasuryBps`, all of it by default, as in Polkadot): nothing is burned, so
    // the total supply moves by the block's base fees only.
    let slashed = receipt["logs"]
        .as_array()
        .and_then(|logs| {
            let topic = json!(IStaking::Slashed::SIGNATURE_HASH.to_string());
            logs.iter().find(|l| l["topics"][0] == topic)
        })
        .map(|l| {
            U256::from_str_radix(&l["data"].as_str().expect("data")[2..66], 16).expect("amount")
        })
        .expect("Slashed event");
    let number = hex_u64(&receipt["blockNumber"]);
    let stats = |n: u64| {
        let s = net.rpc(4, "dbc_networkStats", json!([format!("0x{n:x}")])).expect("stats");
        let get = |k: &str| serde_json::from_value::<U256>(s[k].clone()).expect(k);
        (get("stakingBurned"), get("feesBurned"), get("totalSupply"))
    };
    let (burned_before, fees_before, supply_before) = stats(number - 1);
    let (burned, fees, supply) = stats(number);
    assert_eq!(burned, burned_before, "nothing burned");
    assert_eq!(supply_before - supply, fees - fees_before);
    let to_treasury = |n: u64| {
        let t = net.rpc(4, "dbc_treasury", json!([format!("0x{n:x}")])).expect("treasury");
        serde_json::from_value::<U256>(t["receivedBySource"]["validatorSlash"].clone())
            .expect("validatorSlash")
    };
    let paid = to_treasury(number) - to_treasury(number - 1);
    assert!(!paid.is_zero() && paid < slashed, "treasury got {paid} of {slashed}");

    // 6. A new full node syncs from genesis to the tip.
    net.script(&["stop", "full"]);
    std::fs::remove_dir_all(net.path("full/db")).expect("wipe full node");
    let target = net.head(0);
    let started = Instant::now();
    net.script(&["start", "full"]);
    net.wait("full node synced", 60, || net.head(4) >= target);
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(net.hash_at(4, target), net.hash_at(0, target));
    let log = std::fs::read_to_string(net.path("full.log")).unwrap_or_default();
    let synced = log.lines().rev().find(|l| l.contains("synced")).unwrap_or("").to_string();
    println!(
        "sync: {target} blocks from genesis in {secs:.2}s including process start \
         ({:.0} blocks/s); node's own report: {synced}",
        target as f64 / secs
    );
}

//! The market's off-chain half end to end: two providers and three auditors run as `dbc-agent`
//! processes against a `dbc-node --dev`, and nobody sends a transaction by hand except the
//! renter and an AI project registering its mining programme. Machines get verified, the
//! eligible one enrols itself in the programme and runs the project's mining workload while
//! idle, a renter reaches its workload (mining makes way) and loses it when the rental ends, a fault report on a healthy machine is rejected by the auditors,
//! machines stay online through every liveness challenge for 600 blocks (an hour of 6 s
//! blocks) while an auditor and a provider restart in the middle and resume from their state,
//! and a rented machine whose provider is killed is slashed when its heartbeat times out.
//! Three machines whose endpoints accept connections and never answer are registered first:
//! the auditors check endpoints concurrently, so they cannot delay the honest machines' first
//! round. Auditors measure every machine with the compute challenge: a provider that computes
//! only half of it, and one that is far slower than its GPU model, are rejected.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{B256, U256, keccak256};
use common::*;
use dbc_precompiles::abi::{IGpuMarket, IProjectMining};
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const MARKET: &str = "0x0000000000000000000000000000000000000D01";
const MINING: &str = "0x0000000000000000000000000000000000000D02";
/// Dev account 8: an AI project that runs a mining programme.
const PROJECT_KEY: &str = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97";
/// Private keys of the standard dev mnemonic's accounts 1, 2 (owners), 4, 5, 6 (auditors) and
/// 7 (the renter).
const KEYS: [&str; 6] = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
];
const HEARTBEAT_TIMEOUT: u64 = 40;
/// Dev account 0: owner of the machines whose endpoints never answer.
const SILENT_OWNER: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Dev accounts 3 and 9: owners of a machine that skips half the benchmark and of one that is
/// far slower than its model.
const CHEAT_KEYS: [&str; 2] = [
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];
/// A renter's workload: answers 200 with its GPUs to the bearer of its token, 403 otherwise.
const WORKLOAD: &str = r#"
import http.server, os
token = os.environ["DBC_ACCESS_TOKEN"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == "Bearer " + token
        self.send_response(200 if ok else 403)
        self.end_headers()
        if ok:
            self.wfile.write(("gpus=" + os.environ["CUDA_VISIBLE_DEVICES"]).encode())
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

/// GET `url` with a bearer token: status and body, `None` if nothing listens.
fn http_get(url: &str, token: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((status, body))
}

/// `dbc-agent`, built next to `dbc-node` by `cargo test --workspace` (its own integration test
/// makes cargo build it).
fn agent_bin() -> PathBuf {
    let node = PathBuf::from(env!("CARGO_BIN_EXE_dbc-node"));
    let agent = node.with_file_name("dbc-agent");
    assert!(
        agent.exists(),
        "{} not built: run `cargo build --release -p dbc-agent` (test.sh builds the workspace)",
        agent.display()
    );
    agent
}

struct Agent {
    child: Child,
    log: PathBuf,
    args: Vec<String>,
}

impl Agent {
    fn start(log: PathBuf, args: Vec<String>) -> Self {
        let child = spawn(&log, &args);
        Self { child, log, args }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        self.child = spawn(&self.log, &self.args);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(log: &Path, args: &[String]) -> Child {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    Command::new(agent_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn dbc-agent")
}

fn import_key(dir: &Path, name: &str, key: &str, password: &Path) -> PathBuf {
    let out = dir.join(format!("{name}.json"));
    let status = Command::new(agent_bin())
        .args(["--password-file", password.to_str().unwrap(), "key", "import", "--out"])
        .arg(&out)
        .env("DBC_AGENT_PRIVATE_KEY", key)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

/// A TCP endpoint that accepts connections and never answers (held until the test ends).
fn silent_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    format!("http://{addr}")
}

/// Registers machine `id` (one RTX 4090) for the owner `key` with the stake the market asks
/// for, publishing `endpoint`.
fn register_by_hand(node: &DevNode, key: &str, id: B256, endpoint: &str) {
    use alloy_sol_types::{SolCall, SolInterface};
    let owner = cast(&["wallet", "address", "--private-key", key]).trim().to_owned();
    let register = IGpuMarket::registerCall {
        machineId: id,
        spec: IGpuMarket::MachineSpec {
            gpuModel: B256::right_padding_from(b"RTX 4090"),
            gpuCount: 1,
            gpuMemoryGb: 24,
            cpuCores: 8,
            ramGb: 32,
            diskGb: 500,
            region: B256::right_padding_from(b"eu-west"),
            machineKey: alloy_primitives::Address::from_word(keccak256(id)),
        },
    };
    let data = alloy_primitives::Bytes::from(register.abi_encode());
    let err = node.rpc_err("eth_call", json!([{"from": owner, "to": MARKET, "data": data}]));
    let revert: alloy_primitives::Bytes = serde_json::from_value(err["data"].clone()).unwrap();
    let IGpuMarket::IGpuMarketErrors::WrongStake(w) =
        IGpuMarket::IGpuMarketErrors::abi_decode(&revert).unwrap()
    else {
        panic!("registering without a stake should ask for one: {err}");
    };
    let url = node.url();
    let stake = w.required.to_string();
    cast(&[
        "send",
        "--rpc-url",
        &url,
        "--private-key",
        key,
        "--value",
        &stake,
        MARKET,
        &data.to_string(),
    ]);
    let set = IGpuMarket::setEndpointCall { machineId: id, endpoint: endpoint.into() };
    let set = alloy_primitives::Bytes::from(set.abi_encode()).to_string();
    cast(&["send", "--rpc-url", &url, "--private-key", key, MARKET, &set]);
}

fn machine(node: &DevNode, id: B256) -> IGpuMarket::Machine {
    sol_call(node, MARKET, IGpuMarket::getMachineCall { machineId: id })
}

/// Machine `id`'s status, `None` while it is not registered.
fn status(node: &DevNode, id: B256) -> Option<IGpuMarket::MachineStatus> {
    try_sol_call(node, MARKET, IGpuMarket::getMachineCall { machineId: id }).map(|m| m.status)
}

fn wait_long(what: &str, secs: u64, mut f: impl FnMut() -> bool, agents: &[&Agent]) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        if Instant::now() > deadline {
            let logs: Vec<String> = agents.iter().map(|a| a.logs()).collect();
            panic!("timed out waiting for {what}; agent logs:\n{}", logs.join("\n----\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn providers_and_auditors_run_the_market_without_a_hand_sent_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    write_genesis_with_market(
        &genesis,
        json!({
        "auditorStake": "1000000000000000000000",
        "drawDelayBlocks": 2,
        "commitWindowBlocks": 80,
        "revealWindowBlocks": 80,
        "rentUnitBlocks": 10,
        "maxRentBlocks": 5000,
        "epochBlocks": 50,
        "vestingBlocks": 100000,
        "heartbeatTimeoutBlocks": HEARTBEAT_TIMEOUT,
        "minOnlineBlocks": 100000,
        "exitCooldownBlocks": 100,
        // Every online machine is challenged every 100 blocks: the auditors answer each.
        "challengeCheckBlocks": 100,
        "challengeChanceBps": 10000,
        }),
    );
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.block-time", "200ms"],
    );
    let url = node.url();
    let password = dir.path().join("password");
    std::fs::write(&password, "agent test password\n").unwrap();
    let pw = password.to_str().unwrap().to_owned();

    let keys: Vec<PathBuf> = ["owner-a", "owner-b", "auditor-1", "auditor-2", "auditor-3"]
        .iter()
        .zip(KEYS)
        .map(|(name, key)| import_key(dir.path(), name, key, &password))
        .collect();

    let mut auditors: Vec<Agent> = (0..3)
        .map(|i| {
            let data = dir.path().join(format!("auditor-{i}"));
            Agent::start(
                dir.path().join(format!("auditor-{i}.log")),
                vec![
                    "--password-file".into(),
                    pw.clone(),
                    "auditor".into(),
                    "--rpc".into(),
                    url.clone(),
                    "--key".into(),
                    keys[2 + i].to_str().unwrap().into(),
                    "--data-dir".into(),
                    data.to_str().unwrap().into(),
                    // A small challenge, calibrated so that this machine's CPU is far faster
                    // than an RTX 4090's table value and 3 s is far slower.
                    "--bench-size".into(),
                    "128".into(),
                    "--bench-gops-per-point".into(),
                    "0.000002".into(),
                ]
                .into_iter()
                // Two watch new heads over WebSocket, one polls.
                .chain((i > 0).then(|| ["--ws".to_owned(), node.ws_url()]).into_iter().flatten())
                .collect(),
            )
        })
        .collect();
    wait_long(
        "three committee members",
        60,
        || sol_call(&node, MARKET, IGpuMarket::committeeSizeCall {}) == U256::from(3),
        &auditors.iter().collect::<Vec<_>>(),
    );

    // An AI project's mining programme for RTX 4090s (the project is not an agent: it sends its
    // own transaction); both providers are configured to enrol in it.
    let register_project = IProjectMining::registerProjectCall {
        tokensPerBlock: U256::from(10u64).pow(U256::from(18)),
        budget: U256::from(10u64).pow(U256::from(24)),
        endBlock: 1_000_000,
        requirements: IProjectMining::Requirements {
            minGpuMemoryGb: 16,
            minCalcPoint: 500,
            gpuModels: vec![B256::right_padding_from(b"RTX 4090")],
        },
        release: IProjectMining::Release { immediateBps: 2_500, vestingBlocks: 1_000 },
    };
    let calldata =
        alloy_primitives::Bytes::from(alloy_sol_types::SolCall::abi_encode(&register_project));
    cast(&["send", "--rpc-url", &url, "--private-key", PROJECT_KEY, MINING, &calldata.to_string()]);

    // Machines whose endpoints hold every connection open and never answer (an auditor waits
    // up to 10 s per try, retried until the commit deadline nears): drawn before the honest
    // machines, to the same three auditors.
    let silent: Vec<B256> = (0..3).map(|i| keccak256(format!("silent-{i}"))).collect();
    for id in &silent {
        register_by_hand(&node, SILENT_OWNER, *id, &silent_endpoint());
    }

    let specs = [("RTX 4090", 2u32, 24u32), ("RTX 3090", 1, 24)];
    let ids: Vec<B256> =
        ["machine-a", "machine-b"].iter().map(|n| keccak256(n.as_bytes())).collect();
    let workload = dir.path().join("workload.py");
    std::fs::write(&workload, WORKLOAD).unwrap();
    // A provider agent for `spec` (model, GPUs, memory) with the owner key `key`, its
    // settings followed by `extra` (TOML lines of `[provider]`).
    let start_provider = |name: &str, key: &Path, id: B256, spec: (&str, u32, u32), extra: &str| {
        let (model, gpus, mem) = spec;
        let spec_file = dir.path().join(format!("spec-{name}.toml"));
        std::fs::write(
            &spec_file,
            format!(
                "gpu-model = \"{model}\"\ngpu-count = {gpus}\ngpu-memory-gb = {mem}\n\
                 cpu-cores = 16\nram-gb = 64\ndisk-gb = 1000\nregion = \"eu-west\"\n"
            ),
        )
        .unwrap();
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "rpc = \"{url}\"\nkey = \"{}\"\ndata-dir = \"{}\"\npassword-file = \"{pw}\"\n\
                 [provider]\nspec-file = \"{}\"\nmachine-id = \"{id}\"\nlisten = \"127.0.0.1:0\"\n\
                 heartbeat-every = 10\n\
                 # Every agent of this test reaches it from 127.0.0.1.\n\
                 endpoint-rate = 1000.0\nendpoint-burst = 1000.0\n{extra}",
                key.display(),
                dir.path().join(name).display(),
                spec_file.display(),
            ),
        )
        .unwrap();
        Agent::start(
            dir.path().join(format!("{name}.log")),
            vec!["--config".into(), config.to_str().unwrap().into(), "provider".into()],
        )
    };
    // One-click mining: project 1's workload runs on an idle, enrolled machine; it logs its
    // start with its pid (the shell execs into `sleep`, so the pid is the workload's).
    let mining_log = dir.path().join("mining.log");
    let honest = format!(
        "workload-cmd = \"exec python3 {}\"\nprojects = [1]\nmine-cmd = [\"1=echo start \
         $DBC_PROJECT_ID $DBC_MACHINE_ID $$ >> {}; exec sleep 600\"]\n",
        workload.display(),
        mining_log.display()
    );
    // The pids of project 1's mining workload on `machine`, in order of start.
    let mining_starts = |machine: B256| -> Vec<i32> {
        let log = std::fs::read_to_string(&mining_log).unwrap_or_default();
        let prefix = format!("start 1 {machine} ");
        log.lines().filter_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok()).collect()
    };
    let mut providers: Vec<Agent> = (0..2)
        .map(|i| start_provider(&format!("provider-{i}"), &keys[i], ids[i], specs[i], &honest))
        .collect();
    // Two cheats: one computes only the first half of the benchmark's rows and makes up the
    // rest; one is as correct as the others but takes 3 s.
    let agent = agent_bin();
    let cheats: Vec<(B256, Agent)> = [
        (
            "lazy",
            format!(
                "benchmark-cmd = \"{{ {a} bench | head -n $((DBC_BENCH_N / 2)); yes 0x{z} | head -n \
                 $((DBC_BENCH_N / 2)); }}\"\n",
                a = agent.display(),
                z = "0".repeat(64)
            ),
        ),
        ("slow", format!("benchmark-cmd = \"sleep 3; exec {} bench\"\n", agent.display())),
    ]
    .iter()
    .zip(CHEAT_KEYS)
    .map(|((name, extra), key)| {
        let id = keccak256(name.as_bytes());
        let key = import_key(dir.path(), &format!("owner-{name}"), key, &password);
        (id, start_provider(name, &key, id, ("RTX 4090", 1, 24), extra))
    })
    .collect();

    let everyone =
        |a: &[Agent], p: &[Agent]| -> Vec<String> { a.iter().chain(p).map(|x| x.logs()).collect() };
    // Verified by the drawn auditors with no hand-sent transaction.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ids.iter().all(|id| status(&node, *id) == Some(IGpuMarket::MachineStatus::Online)) {
        assert!(
            Instant::now() < deadline,
            "machines not verified; logs:\n{}",
            everyone(&auditors, &providers).join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // In their first round: the silent endpoints did not hold the auditors up.
    for id in &ids {
        let round = sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: *id });
        assert_eq!(round.attempt, 1, "machine {id} was verified only at attempt {}", round.attempt);
    }
    // The silent machines are rejected by the same auditors.
    wait_long(
        "the silent machines' rejection",
        120,
        || silent.iter().all(|id| status(&node, *id) == Some(IGpuMarket::MachineStatus::Rejected)),
        &auditors.iter().collect::<Vec<_>>(),
    );
    // The cheats are measured and rejected.
    for (id, agent) in &cheats {
        wait_long(
            "a cheat's rejection",
            120,
            || status(&node, *id) == Some(IGpuMarket::MachineStatus::Rejected),
            &auditors.iter().chain([agent]).collect::<Vec<_>>(),
        );
    }
    // Each for what it did: wrong rows for the lazy one; the slow one measured far below
    // its model's table value by every auditor.
    let findings: String = auditors.iter().map(Agent::logs).collect();
    let about = |id: B256| -> Vec<&str> {
        let id = id.to_string();
        findings.lines().filter(|l| l.contains(&id) && l.contains("committed")).collect()
    };
    let lazy = about(cheats[0].0);
    // (An auditor whose 8 checked rows all fall in the computed half, 1 in 256, approves;
    // the other two reject it.)
    let caught = lazy.iter().filter(|l| l.contains("of the benchmark is wrong")).count();
    assert!(caught >= 2, "{lazy:?}");
    // Its benchmarks run one at a time, so the last auditor may only see the deadline come.
    let slow = about(cheats[1].0);
    let measured: Vec<u32> = slow
        .iter()
        .filter_map(|l| l.split("measured ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(!measured.is_empty() && measured.iter().all(|m| *m < 900), "{slow:?}");
    assert!(
        slow.iter().all(|l| l.contains("(table 1000)") || l.contains("before the deadline")),
        "{slow:?}"
    );
    drop(cheats);
    // Machine A enrolled itself in the project; machine B (an RTX 3090) is not eligible.
    wait_long(
        "machine A's enrolment",
        60,
        || {
            let call = IProjectMining::enrolledMachineAtCall {
                projectId: U256::from(1),
                index: U256::ZERO,
            };
            try_sol_call(&node, MINING, call) == Some(ids[0])
        },
        &[&providers[0]],
    );
    wait_long(
        "machine A's mining workload",
        60,
        || mining_starts(ids[0]).len() == 1,
        &[&providers[0]],
    );
    let mining_proc = PathBuf::from(format!("/proc/{}", mining_starts(ids[0])[0]));
    assert!(mining_proc.exists());
    wait_long(
        "machine B's refusal",
        60,
        || providers[1].logs().contains("not eligible"),
        &[&providers[1]],
    );
    for (id, (_, gpus, _)) in ids.iter().zip(specs) {
        let m = machine(&node, *id);
        assert_eq!(m.spec.gpuCount, gpus);
        assert!(m.calcPoint > 0);
        let endpoint: String =
            sol_call(&node, MARKET, IGpuMarket::endpointOfCall { machineId: *id });
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    }

    // The renter rents a GPU of machine A, reaches its workload with the details sealed to its
    // key, and loses it when the rental ends.
    let renter_key = import_key(dir.path(), "renter", KEYS[5], &password);
    let renter = |args: &[&str]| -> std::process::Output {
        let mut c = Command::new(agent_bin());
        c.args(["--password-file", &pw, "renter", "--rpc", &url, "--key"])
            .arg(&renter_key)
            .args(args);
        c.output().unwrap()
    };
    let out =
        renter(&["rent", "--machine", &ids[0].to_string(), "--gpus", "1", "--blocks", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rental = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let out = renter(&["access", "--rental", &rental]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        providers[0].logs()
    );
    let details: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The renter's workload took the GPUs from mining.
    assert!(!mining_proc.exists(), "mining made way for the rental");
    let workload_url = details["url"].as_str().unwrap().to_owned();
    let token = details["token"].as_str().unwrap().to_owned();
    assert_eq!(details["gpus"], json!([0]), "exactly the rented GPU");
    let get = |token: &str| http_get(&workload_url, token);
    wait_long("the workload to listen", 30, || get(&token).is_some(), &[&providers[0]]);
    assert_eq!(get(&token).unwrap(), (200, "gpus=0".to_owned()));
    assert_eq!(get("not-the-token").unwrap().0, 403);
    // Someone else cannot get the details: the provider checks the signer against the rental.
    let stranger = import_key(dir.path(), "stranger", KEYS[0], &password);
    let mut c = Command::new(agent_bin());
    let out = c
        .args(["--password-file", &pw, "renter", "--rpc", &url, "--key"])
        .arg(&stranger)
        .args(["access", "--rental", &rental])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the rental's renter"));
    // A fault report on a machine that answers its auditors with the registered hardware is
    // rejected by them (no hand-sent vote); the machine stays online.
    let out = renter(&["report", "--rental", &rental]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: u64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let everyone_now: Vec<&Agent> = auditors.iter().chain(&providers).collect();
    wait_long(
        "the auditors' decision on the fault report",
        60,
        || {
            sol_call(&node, MARKET, IGpuMarket::getReportCall { reportId: U256::from(report) })
                .outcome
                != 0
        },
        &everyone_now,
    );
    let r = sol_call(&node, MARKET, IGpuMarket::getReportCall { reportId: U256::from(report) });
    assert_eq!(r.outcome, 2, "the report is rejected");
    assert_eq!(machine(&node, ids[0]).status, IGpuMarket::MachineStatus::Online);
    let out = renter(&["end", "--rental", &rental]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_long("the workload to stop", 30, || get(&token).is_none(), &[&providers[0]]);
    let out = renter(&["access", "--rental", &rental]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not active"));
    assert!(!dir.path().join(format!("provider-0/workloads/rental-{rental}")).exists());
    // With the machine idle again, mining resumes.
    wait_long("mining to resume", 60, || mining_starts(ids[0]).len() == 2, &[&providers[0]]);

    let online_at = node.block_number();

    // 600 blocks (an hour of 6 s blocks) on heartbeats alone, through the liveness challenges;
    // one auditor is restarted half way and resumes from its state file.
    let mut restarted = false;
    while node.block_number() < online_at + 600 {
        for id in &ids {
            let m = machine(&node, *id);
            assert_eq!(
                m.status,
                IGpuMarket::MachineStatus::Online,
                "machine {id} dropped at block {}; logs:\n{}",
                node.block_number(),
                everyone(&auditors, &providers).join("\n----\n")
            );
        }
        if !restarted && node.block_number() > online_at + 300 {
            auditors[0].restart();
            // The provider comes back on a new port and publishes it.
            providers[0].restart();
            restarted = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // The challenges were answered: each was decided as no fault.
    let mut decided = 0;
    for id in 1u64.. {
        let Some(r) =
            try_sol_call(&node, MARKET, IGpuMarket::getReportCall { reportId: U256::from(id) })
        else {
            break;
        };
        if r.outcome != 0 {
            assert_eq!(r.outcome, 2, "challenge {id} of a live machine found a fault");
            decided += 1;
        }
    }
    assert!(decided >= 4, "only {decided} liveness challenges decided");

    // A renter rents machine B; its provider dies; the heartbeat check slashes it at detection.
    let out =
        renter(&["rent", "--machine", &ids[1].to_string(), "--gpus", "1", "--blocks", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stake_before = machine(&node, ids[1]).stake;
    providers[1].kill();
    let killed_at = node.block_number();
    let deadline = Instant::now() + Duration::from_secs(60);
    while machine(&node, ids[1]).status != IGpuMarket::MachineStatus::Offline {
        assert!(Instant::now() < deadline, "the killed provider's machine stayed online");
        std::thread::sleep(Duration::from_millis(250));
    }
    let m = machine(&node, ids[1]);
    assert_eq!(m.offlineReason, IGpuMarket::OfflineReason::Unreachable);
    assert!(m.stake < stake_before, "slashed at detection");
    assert!(node.block_number() <= killed_at + HEARTBEAT_TIMEOUT + 20);
    // The other machine is still online.
    assert_eq!(machine(&node, ids[0]).status, IGpuMarket::MachineStatus::Online);
    // Every auditor finished its work: no assignment is left pending in its state file.
    for (i, a) in auditors.iter().enumerate() {
        assert!(a.logs().contains("revealed"), "auditor {i} never revealed:\n{}", a.logs());
        assert_eq!(
            a.logs().contains("watching new heads over WebSocket"),
            i > 0,
            "auditor {i}:\n{}",
            a.logs()
        );
    }
    drop(providers);
    drop(auditors);
}

//! Issue #17 items 2 and 3 on a real `dbc-node --dev`, driven with `cast`: holders lock DBC,
//! a treasury spend passes a referendum and is paid at exactly block E − 1 (E the first
//! staking epoch boundary after the enactment delay), the proposer's deposit comes back, a
//! proposal nobody supports loses its deposit to the treasury, and the treasury's history and
//! views follow. A parameter change (the stake per GPU and the burn tiers), built with
//! `dbc_encodeParams` and proposed with `cast`, is in force from block E on: the market asks
//! the new stake and burns by the new tiers there, not one block earlier.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{B256, U256};
use alloy_sol_types::{SolCall, SolError};
use common::*;
use dbc_precompiles::abi::{IGovernance, IGpuMarket};
use serde_json::{Value, json};

const GOVERNANCE: &str = "0x0000000000000000000000000000000000000D04";
const PAYEE: &str = "0x00000000000000000000000000000000000a11ce";
const ETHER: u128 = 1_000_000_000_000_000_000;
/// `getProposal` as `docs/governance.md` calls it with `cast`.
const GET_PROPOSAL: &str = "getProposal(uint256)((uint256,address,uint8,uint8,uint8,uint8,uint64,\
    uint64,uint64,uint64,uint32,uint256,uint256,uint256,uint256,uint64,bytes32,uint32,address,\
    uint256,uint64,uint32))";

fn amount(v: &Value) -> U256 {
    serde_json::from_value(v.clone()).unwrap()
}

fn balance_at(node: &DevNode, who: &str, block: u64) -> U256 {
    amount(&node.rpc("eth_getBalance", json!([who, format!("{block:#x}")])))
}

fn send(url: &str, key: &str, value: &str, sig: &str, args: &[&str]) -> Value {
    let mut cmd = vec!["send", "--json", "--rpc-url", url, "--private-key", key, "--value", value];
    cmd.push(GOVERNANCE);
    cmd.push(sig);
    cmd.extend_from_slice(args);
    let out = cast(&cmd);
    let receipt: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(receipt["status"], "0x1", "{sig}: {receipt}");
    println!("{sig}: {} gas", hex_u64(&receipt["gasUsed"]));
    receipt
}

/// A `--dev.instant` node with 5-block referenda, a 3-block delay and 10-block epochs.
fn governed_node(dir: &std::path::Path) -> DevNode {
    let genesis = dir.join("genesis.json");
    write_dev_genesis(&genesis, |g| {
        g["config"]["dbc"]["governance"] = json!({
            "referendumBlocks": 5,
            "referendumTurnoutBps": 0,
            "enactmentDelayBlocks": 3,
            "proposalDeposit": (100 * ETHER).to_string(),
        });
        g["config"]["dbc"]["staking"] = json!({ "epochBlocks": 10 });
    });
    DevNode::start(&dir.join("data"), &["--chain", genesis.to_str().unwrap(), "--dev.instant"])
}

#[test]
fn a_referendum_spends_the_treasury_at_the_epoch_boundary_and_a_failed_one_loses_its_deposit() {
    let dir = tempfile::tempdir().unwrap();
    let node = governed_node(dir.path());
    let url = node.url();

    // Dev account 3 locks 1,000 DBC to vote; dev account 0 proposes a 500 DBC grant and a
    // text.
    let wei = |dbc: u128| (dbc * ETHER).to_string();
    send(&url, DEV_KEY_3, "1000ether", "lock()", &[]);
    let need = cast(&[
        "call",
        "--rpc-url",
        &url,
        GOVERNANCE,
        "requiredDeposit(uint8,uint256)(uint256)",
        "1",
        &wei(500),
    ]);
    assert!(need.starts_with("100000000000000000000"), "{need}");
    let grant = send(
        &url,
        DEV_KEY_0,
        "100ether",
        "proposeSpend(address,uint256,uint64,uint8,string)",
        &[PAYEE, &wei(500), "0", "1", "a grant"],
    );
    let proposed_at = hex_u64(&grant["blockNumber"]);
    send(&url, DEV_KEY_0, "100ether", "proposeText(uint8,string)", &["1", "nobody wants this"]);
    let vote = send(&url, DEV_KEY_3, "0", "castVote(uint256,uint8)", &["1", "1"]);
    assert!(hex_u64(&vote["blockNumber"]) <= proposed_at + 5, "voted in time");
    // The vote commits the lock until vote end + delay + an epoch.
    let vote_end = proposed_at + 5;
    let until = vote_end + 3 + 10;
    let lock =
        sol_call(&node, GOVERNANCE, IGovernance::lockOfCall { voter: DEV_ADDR_3.parse().unwrap() });
    assert_eq!((lock.committed, lock.committedUntil), (U256::from(1000 * ETHER), until));

    // Counted at the end of block proposed + 5; E is the first multiple of 10 after that + 3.
    let e = (vote_end + 3 + 10) / 10 * 10;
    let head = node.block_number();
    node.rpc("anvil_mine", json!([format!("{:#x}", e + 2 - head)]));
    assert_eq!(balance_at(&node, PAYEE, e - 2), U256::ZERO);
    assert_eq!(balance_at(&node, PAYEE, e - 1), U256::from(500 * ETHER), "paid at E - 1");

    let p = sol_call(&node, GOVERNANCE, IGovernance::getProposalCall { id: U256::from(1) });
    assert_eq!((p.status, p.enactAt, p.voteEnd), (IGovernance::Status::Enacted, e, vote_end));
    assert_eq!(p.forVotes, U256::from(1000 * ETHER));
    let p = sol_call(&node, GOVERNANCE, IGovernance::getProposalCall { id: U256::from(2) });
    assert_eq!(p.status, IGovernance::Status::Rejected);
    // The same over the dbc_ RPC.
    let listed = node.rpc("dbc_listProposals", json!([]));
    assert_eq!(listed["total"], "0x2");
    assert_eq!(listed["proposals"][0]["status"], "enacted");
    assert_eq!(listed["proposals"][0]["kind"], "treasurySpend");
    assert_eq!(listed["proposals"][0]["enactAt"], format!("{e:#x}"));
    assert_eq!(amount(&listed["proposals"][0]["spendAmount"]), U256::from(500 * ETHER));
    assert_eq!(listed["proposals"][1]["status"], "rejected");
    assert_eq!(node.rpc("dbc_getProposal", json!(["0x2"]))["kind"], "text");
    assert!(node.rpc("dbc_getProposal", json!(["0x3"])).is_null());
    // docs/governance.md's commands.
    let shown = cast(&["call", GOVERNANCE, GET_PROPOSAL, "1", "--rpc-url", &url]);
    let payee = PAYEE.trim_start_matches("0x");
    assert!(shown.to_lowercase().contains(payee), "{shown}");
    assert!(shown.starts_with("(1, 0xf39F"), "{shown}");
    let info = cast(&[
        "call",
        GOVERNANCE,
        "treasury()((uint256,uint256,uint256,uint256,uint256))",
        "--rpc-url",
        &url,
    ]);
    assert!(info.contains("500000000000000000000 [5e20], 0)"), "spent, then reserved: {info}");

    // The hooks' events, which no receipt holds: counted at the vote's end, paid at E - 1.
    let hook_events = |block: u64| -> Vec<alloy_primitives::B256> {
        let logs = node.rpc("dbc_getBlockHookLogs", json!([format!("{block:#x}")]));
        logs.as_array()
            .unwrap()
            .iter()
            .map(|l| l["topics"][0].as_str().unwrap().parse().unwrap())
            .collect()
    };
    use alloy_sol_types::SolEvent;
    // The text was proposed a block after the grant: its vote ends a block later.
    let mut counted = hook_events(vote_end);
    counted.extend(hook_events(vote_end + 1));
    assert!(counted.contains(&IGovernance::ProposalQueued::SIGNATURE_HASH), "{counted:?}");
    assert!(counted.contains(&IGovernance::ProposalRejected::SIGNATURE_HASH), "{counted:?}");
    let paid = hook_events(e - 1);
    assert!(paid.contains(&IGovernance::TreasurySpent::SIGNATURE_HASH), "{paid:?}");
    assert!(paid.contains(&IGovernance::ProposalExecuted::SIGNATURE_HASH), "{paid:?}");

    // OpenZeppelin IGovernor's views, with OpenZeppelin's signatures (what front ends call).
    let oz = |sig: &str, args: &[&str]| {
        let mut cmd = vec!["call", GOVERNANCE, sig];
        cmd.extend_from_slice(args);
        cmd.extend_from_slice(&["--rpc-url", &url]);
        cast(&cmd).trim().to_string()
    };
    assert_eq!(oz("state(uint256)(uint8)", &["1"]), "7", "Executed");
    assert_eq!(oz("state(uint256)(uint8)", &["2"]), "3", "Defeated");
    let votes = oz("proposalVotes(uint256)(uint256,uint256,uint256)", &["1"]);
    assert_eq!(votes.lines().nth(1), Some("1000000000000000000000 [1e21]"), "for: {votes}");
    assert_eq!(oz("hasVoted(uint256,address)(bool)", &["1", DEV_ADDR_3]), "true");
    assert_eq!(oz("hasVoted(uint256,address)(bool)", &["1", DEV_ADDR_0]), "false");
    assert_eq!(oz("proposalDeadline(uint256)(uint256)", &["1"]), vote_end.to_string());
    assert_eq!(oz("proposalEta(uint256)(uint256)", &["1"]), e.to_string());
    assert_eq!(oz("proposalProposer(uint256)(address)", &["1"]), DEV_ADDR_0);
    assert_eq!(oz("votingPeriod()(uint256)", &[]), "5");
    assert_eq!(oz("COUNTING_MODE()(string)", &[]), "\"support=bravo&quorum=for,against,abstain\"");
    assert_eq!(oz("clock()(uint48)", &[]), node.block_number().to_string());
    assert_eq!(oz("supportsInterface(bytes4)(bool)", &["0xda287a1d"]), "true", "ERC-6372");
    assert_eq!(oz("supportsInterface(bytes4)(bool)", &["0x01ffc9a7"]), "true", "ERC-165");

    // The treasury: the lost deposit in, the grant out, both in the history at their blocks.
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(amount(&t["receivedBySource"]["lostProposalDeposit"]), U256::from(100 * ETHER));
    assert_eq!(amount(&t["spent"]), U256::from(500 * ETHER));
    let history = node.rpc("dbc_treasuryHistory", json!(["0x0", "latest"]));
    let rows: Vec<(u64, U256, U256)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (hex_u64(&r["block"]), amount(&r["received"]), amount(&r["spent"])))
        .collect();
    assert_eq!(
        rows,
        vec![
            (vote_end + 1, U256::from(100 * ETHER), U256::ZERO),
            (e - 1, U256::ZERO, U256::from(500 * ETHER)),
        ]
    );

    // After the commitment the lock comes back.
    let head = node.block_number();
    if head < until {
        node.rpc("anvil_mine", json!([format!("{:#x}", until - head)]));
    }
    let before = amount(&node.rpc("eth_getBalance", json!([DEV_ADDR_3, "latest"])));
    send(&url, DEV_KEY_3, "0", "unlock(uint256)", &[&wei(1000)]);
    let after = amount(&node.rpc("eth_getBalance", json!([DEV_ADDR_3, "latest"])));
    assert!(after > before + U256::from(999 * ETHER), "unlocked: {before} -> {after}");
    // The supply is untouched by all of it (only base fees left it).
    let audit = node.rpc("dbc_auditSupply", json!([]));
    assert_eq!(amount(&audit["sum"]), amount(&audit["totalSupply"]));
}

/// `eth_call` of `register` (one RTX 4090) paying `stake` at `block`: Ok, or the revert data.
fn try_register(node: &DevNode, stake: U256, block: u64) -> Result<(), String> {
    let spec = IGpuMarket::MachineSpec {
        gpuModel: B256::right_padding_from(b"RTX 4090"),
        gpuCount: 1,
        gpuMemoryGb: 24,
        cpuCores: 32,
        ramGb: 128,
        diskGb: 2_000,
        region: B256::right_padding_from(b"eu-west"),
        machineKey: DEV_ADDR_3.parse().unwrap(),
    };
    let data = IGpuMarket::registerCall { machineId: B256::repeat_byte(7), spec }.abi_encode();
    let tx = json!({
        "from": DEV_ADDR_0,
        "to": "0x0000000000000000000000000000000000000D01",
        "value": format!("{stake:#x}"),
        "data": format!("0x{}", alloy_primitives::hex::encode(data)),
    });
    let v = node.try_rpc("eth_call", json!([tx, format!("{block:#x}")])).unwrap();
    match v.get("error") {
        None => Ok(()),
        Some(e) => Err(e["data"].as_str().unwrap_or_default().to_string()),
    }
}

fn burn_rate_at(url: &str, gpus: u64, block: u64) -> String {
    let (gpus, block) = (gpus.to_string(), block.to_string());
    let sig = "burnRateBpsFor(uint64)(uint16)";
    let market = "0x0000000000000000000000000000000000000D01";
    cast(&["call", market, sig, &gpus, "--block", &block, "--rpc-url", url]).trim().to_string()
}

#[test]
fn a_parameter_change_is_in_force_from_its_epoch_boundary_on_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let node = governed_node(dir.path());
    let url = node.url();
    let params = node.rpc("dbc_params", json!([]));
    assert_eq!(params["market"]["version"], 0);
    assert_eq!(amount(&params["market"]["params"]["stakePerGpu"]), U256::from(1_000 * ETHER));
    assert!(params["staking"]["params"].get("validators").is_none());

    // docs/governance.md: build the record with dbc_encodeParams; a bad value is refused with
    // the genesis check's words.
    let err = node.rpc_err("dbc_encodeParams", json!(["market", {"immediateBps": 10001}]));
    assert_eq!(err["message"], "market.immediateBps = 10001 exceeds 10000 bps");
    let err = node.rpc_err("dbc_encodeParams", json!(["market", {"stakePerGPU": "0x1"}]));
    assert!(err["message"].as_str().unwrap().contains("no field"), "{err}");
    let changes = json!({
        "stakePerGpu": format!("{:#x}", U256::from(2_000 * ETHER)),
        "burnTiers": [{"fromGpus": 0, "bps": 5000}, {"fromGpus": 10, "bps": 10000}],
    });
    let record = cast(&[
        "rpc",
        "--raw",
        "--rpc-url",
        &url,
        "dbc_encodeParams",
        &json!(["market", changes]).to_string(),
    ]);
    let record = record.trim().trim_matches('"').to_string();
    assert!(record.starts_with("0x") && record.len() > 1_000, "{record}");

    send(&url, DEV_KEY_3, "1000ether", "lock()", &[]);
    let proposal = send(
        &url,
        DEV_KEY_0,
        "100ether",
        "proposeParams(uint8,bytes,uint8,string)",
        &["0", &record, "1", "stake 2,000 DBC per GPU; burn 50%, 100% from 10 GPUs"],
    );
    let proposed_at = hex_u64(&proposal["blockNumber"]);
    send(&url, DEV_KEY_3, "0", "castVote(uint256,uint8)", &["1", "1"]);
    let shown =
        cast(&["call", GOVERNANCE, "proposalPayload(uint256)(bytes)", "1", "--rpc-url", &url]);
    assert_eq!(shown.trim(), record);

    let e = (proposed_at + 5 + 3 + 10) / 10 * 10;
    let head = node.block_number();
    node.rpc("anvil_mine", json!([format!("{:#x}", e + 1 - head)]));
    let p = sol_call(&node, GOVERNANCE, IGovernance::getProposalCall { id: U256::from(1) });
    assert_eq!((p.status, p.enactAt), (IGovernance::Status::Enacted, e));

    // Block E − 1 ran the genesis numbers, block E runs the new ones: the stake a
    // registration needs, the burn tier of a rental, the RPC's view.
    let (old, new) = (U256::from(1_000 * ETHER), U256::from(2_000 * ETHER));
    assert_eq!(try_register(&node, old, e - 1), Ok(()));
    let wrong = IGpuMarket::WrongStake { required: new, sent: old }.abi_encode();
    let wrong = format!("0x{}", alloy_primitives::hex::encode(wrong));
    assert_eq!(try_register(&node, old, e), Err(wrong));
    assert_eq!(try_register(&node, new, e), Ok(()));
    assert_eq!(burn_rate_at(&url, 0, e - 1), "3000");
    assert_eq!(burn_rate_at(&url, 0, e), "5000");
    assert_eq!(burn_rate_at(&url, 10, e), "10000 [1e4]");
    let before = node.rpc("dbc_params", json!([format!("{:#x}", e - 1)]));
    assert_eq!(before["market"]["version"], 0);
    let after = node.rpc("dbc_params", json!([format!("{e:#x}")]));
    assert_eq!(after["market"]["version"], 1);
    assert_eq!(after["market"]["effectiveFrom"], format!("{e:#x}"));
    assert_eq!(amount(&after["market"]["params"]["stakePerGpu"]), new);
    assert_eq!(after["market"]["params"]["burnTiers"][1]["bps"], 10000);
    assert_eq!(after["staking"]["version"], 0);
    let listed = node.rpc("dbc_getProposal", json!(["0x1"]));
    assert_eq!(
        (listed["kind"].as_str(), listed["target"].as_str()),
        (Some("paramChange"), Some("market"))
    );
    assert_eq!(listed["paramsHash"], after["market"]["hash"]);
    let _ = IGovernance::InvalidParams::SELECTOR;
}

#[test]
fn a_streamed_spend_is_released_block_by_block_and_anyone_can_pay_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let node = governed_node(dir.path());
    let url = node.url();
    let wei = |dbc: u128| (dbc * ETHER).to_string();
    send(&url, DEV_KEY_3, "1000ether", "fund()", &[]);
    send(&url, DEV_KEY_3, "1000ether", "lock()", &[]);
    let grant = send(
        &url,
        DEV_KEY_0,
        "100ether",
        "proposeSpend(address,uint256,uint64,uint8,string)",
        &[PAYEE, &wei(100), "10", "1", "100 DBC over 10 blocks"],
    );
    let proposed_at = hex_u64(&grant["blockNumber"]);
    send(&url, DEV_KEY_3, "0", "castVote(uint256,uint8)", &["1", "1"]);
    let listed = node.rpc("dbc_getProposal", json!(["0x1"]));
    assert_eq!(listed["streamBlocks"], "0xa");
    let e = (proposed_at + 5 + 3 + 10) / 10 * 10;
    let head = node.block_number();
    // To block E + 4: 4 of 10 blocks released.
    node.rpc("anvil_mine", json!([format!("{:#x}", e + 4 - head)]));
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(amount(&t["reserved"]), U256::from(100 * ETHER));
    let s = sol_call(&node, GOVERNANCE, IGovernance::getStreamCall { proposalId: U256::from(1) });
    assert_eq!((s.to, s.startBlock, s.endBlock), (PAYEE.parse().unwrap(), e, e + 10));
    // Anyone pays it out, to the recipient; the claim lands in block E + 5: half released.
    send(&url, DEV_KEY_0, "0", "claimStream(uint256)", &["1"]);
    assert_eq!(
        amount(&node.rpc("eth_getBalance", json!([PAYEE, "latest"]))),
        U256::from(50 * ETHER)
    );
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(
        (amount(&t["reserved"]), amount(&t["spent"])),
        (U256::from(50 * ETHER), U256::from(50 * ETHER))
    );
    let head = node.block_number();
    node.rpc("anvil_mine", json!([format!("{:#x}", e + 20 - head)]));
    send(&url, DEV_KEY_0, "0", "claimStream(uint256)", &["1"]);
    assert_eq!(
        amount(&node.rpc("eth_getBalance", json!([PAYEE, "latest"]))),
        U256::from(100 * ETHER)
    );
    let err = node.rpc_err(
        "eth_estimateGas",
        json!([{"from": DEV_ADDR_0, "to": GOVERNANCE, "data": format!("0x{}", alloy_primitives::hex::encode(IGovernance::claimStreamCall { proposalId: U256::from(1) }.abi_encode()))}]),
    );
    let data = err["data"].as_str().unwrap_or_default().to_string();
    let want = alloy_primitives::hex::encode(IGovernance::NothingToClaim {}.abi_encode());
    assert!(data.contains(&want), "nothing left: {err}");
    // The history shows both claims as spends.
    let history = node.rpc("dbc_treasuryHistory", json!(["0x0", "latest"]));
    let spent: U256 = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| amount(&r["spent"]))
        .fold(U256::ZERO, |a, b| a + b);
    assert_eq!(spent, U256::from(100 * ETHER));
}

const DEV_KEY_1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const DEV_ADDR_1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const DEV_KEY_2: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const DEV_ADDR_2: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const DEV_KEY_4: &str = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
const DEV_ADDR_4: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

/// Issue #17 items 1, 2 and 6 on one `dbc-node --dev`, with `cast` only: candidates stand, a
/// holder's ballot elects a council of three at the end of the term (the fresh candidate left
/// out loses its bond), the council passes a motion changing the stake per GPU (closed by the
/// second member's vote, in that transaction), the market asks the new stake from block E and
/// not before, and a motion two members oppose loses its deposit to the treasury.
#[test]
fn an_elected_council_changes_the_market_by_motion_and_a_rejected_motion_loses_its_deposit() {
    use alloy_sol_types::SolEvent;
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    write_dev_genesis(&genesis, |g| {
        g["config"]["dbc"]["governance"] = json!({
            "enactmentDelayBlocks": 3,
            "proposalDeposit": (100 * ETHER).to_string(),
            "council": {
                "seats": 3, "runnersUp": 0, "termBlocks": 30, "electionFreezeBlocks": 2,
                "maxCandidates": 8, "maxApprovals": 4, "candidacyBond": (10 * ETHER).to_string(),
                "minVoteLock": ETHER.to_string(), "motionBlocks": 5,
            },
        });
        g["config"]["dbc"]["staking"] = json!({ "epochBlocks": 10 });
    });
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.instant"],
    );
    let url = node.url();
    let council = node.rpc("dbc_council", json!([]));
    assert_eq!(
        (council["term"].as_str(), council["termEnd"].as_str()),
        (Some("0x0"), Some("0x1e"))
    );
    // dbc_encodeParams merges a nested object field by field.
    let record = node.rpc("dbc_encodeParams", json!(["governance", {"council": {"seats": 5}}]));
    let record = alloy_primitives::hex::decode(record.as_str().unwrap()).unwrap();
    let g = <IGovernance::GovernanceParamsV1 as alloy_sol_types::SolValue>::abi_decode(&record)
        .unwrap();
    assert_eq!((g.council.seats, g.council.termBlocks, g.council.maxApprovals), (5, 30, 4));
    let err = node.rpc_err("dbc_encodeParams", json!(["governance", {"council": {"sets": 5}}]));
    assert_eq!(err["message"], "config.dbc.governance.council has no field \"sets\"");

    for key in [DEV_KEY_0, DEV_KEY_1, DEV_KEY_2, DEV_KEY_4] {
        send(&url, key, "10ether", "submitCandidacy()", &[]);
    }
    send(&url, DEV_KEY_3, "1000ether", "lock()", &[]);
    let approvals = format!("[{DEV_ADDR_0},{DEV_ADDR_1},{DEV_ADDR_2}]");
    send(&url, DEV_KEY_3, "0", "voteCouncil(address[])", &[&approvals]);
    let before = node.rpc("dbc_council", json!([]));
    let stake: Vec<U256> = before["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| amount(&c["approvalStake"]))
        .collect();
    let k = U256::from(1000 * ETHER);
    assert_eq!(stake, vec![k, k, k, U256::ZERO]);
    let fresh = before["candidates"][3]["account"].as_str().unwrap().to_lowercase();
    assert_eq!(fresh, DEV_ADDR_4.to_lowercase());

    // The election runs in block 30's hook: equal approval stakes, so lower addresses first.
    let head = node.block_number();
    node.rpc("anvil_mine", json!([format!("{:#x}", 31 - head)]));
    let council = node.rpc("dbc_council", json!([]));
    assert_eq!(council["term"], "0x1");
    assert_eq!(council["termEnd"], "0x3c");
    let members: Vec<String> = council["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_lowercase())
        .collect();
    let want: Vec<String> =
        [DEV_ADDR_2, DEV_ADDR_1, DEV_ADDR_0].iter().map(|a| a.to_lowercase()).collect();
    assert_eq!(members, want);
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(amount(&t["receivedBySource"]["lostCandidacyBond"]), U256::from(10 * ETHER));
    let elected = node.rpc("dbc_getBlockHookLogs", json!(["0x1e"]));
    let topic = format!("{:#x}", IGovernance::CouncilElected::SIGNATURE_HASH);
    assert!(
        elected.as_array().unwrap().iter().any(|l| l["topics"][0] == topic.as_str()),
        "CouncilElected in block 30's hook logs: {elected}"
    );

    // A council motion (route 0) by a non-member: 2,000 DBC per GPU.
    let changes = json!({ "stakePerGpu": format!("{:#x}", U256::from(2_000 * ETHER)) });
    let record = node.rpc("dbc_encodeParams", json!(["market", changes]));
    let record = record.as_str().unwrap().to_string();
    send(
        &url,
        DEV_KEY_4,
        "100ether",
        "proposeParams(uint8,bytes,uint8,string)",
        &["0", &record, "0", "council: 2,000 DBC per GPU"],
    );
    let p = node.rpc("dbc_getProposal", json!(["0x1"]));
    assert_eq!(
        (p["route"].as_str(), p["term"].as_str(), p["seated"].as_u64()),
        (Some("council"), Some("0x1"), Some(3))
    );
    send(&url, DEV_KEY_0, "0", "castVote(uint256,uint8)", &["1", "1"]);
    assert_eq!(node.rpc("dbc_getProposal", json!(["0x1"]))["status"], "voting");
    let second = send(&url, DEV_KEY_1, "0", "castVote(uint256,uint8)", &["1", "1"]);
    let queued = format!("{:#x}", IGovernance::ProposalQueued::SIGNATURE_HASH);
    assert!(
        second["logs"].as_array().unwrap().iter().any(|l| l["topics"][0] == queued.as_str()),
        "the second member's vote passes it: {second}"
    );
    let votes = node.rpc("dbc_getProposalVotes", json!(["0x1"]));
    assert_eq!(votes["total"], "0x2");
    assert_eq!(
        votes["votes"][1]["voter"].as_str().unwrap().to_lowercase(),
        DEV_ADDR_1.to_lowercase()
    );
    assert_eq!(
        (votes["votes"][1]["support"].as_str(), amount(&votes["votes"][1]["weight"])),
        (Some("for"), U256::from(1))
    );
    assert!(votes["nextOffset"].is_null());
    assert!(node.rpc("dbc_getProposalVotes", json!(["0x9"])).is_null());
    let passed_at = hex_u64(&second["blockNumber"]);
    let e = (passed_at + 3 + 10) / 10 * 10;

    // A text motion two members oppose is rejected at once; its deposit goes to the treasury.
    send(&url, DEV_KEY_4, "100ether", "proposeText(uint8,string)", &["0", "no"]);
    send(&url, DEV_KEY_0, "0", "castVote(uint256,uint8)", &["2", "0"]);
    send(&url, DEV_KEY_2, "0", "castVote(uint256,uint8)", &["2", "0"]);
    assert_eq!(node.rpc("dbc_getProposal", json!(["0x2"]))["status"], "rejected");
    let t = node.rpc("dbc_treasury", json!([]));
    assert_eq!(amount(&t["receivedBySource"]["lostProposalDeposit"]), U256::from(100 * ETHER));

    let head = node.block_number();
    node.rpc("anvil_mine", json!([format!("{:#x}", e + 1 - head)]));
    assert_eq!(node.rpc("dbc_getProposal", json!(["0x1"]))["status"], "enacted");
    let (old, new) = (U256::from(1_000 * ETHER), U256::from(2_000 * ETHER));
    assert_eq!(try_register(&node, old, e - 1), Ok(()));
    assert_eq!(try_register(&node, new, e), Ok(()));
    let at = |b: u64| node.rpc("dbc_params", json!([format!("{b:#x}")]));
    assert_eq!(amount(&at(e - 1)["market"]["params"]["stakePerGpu"]), old);
    assert_eq!(amount(&at(e)["market"]["params"]["stakePerGpu"]), new);
}

//! Project mining end to end: `forge script` phases (`contracts/script/MiningE2E.s.sol`) verify
//! two machines (an RTX 4090 and an A100 80GB: table calc points 1,000 and 1,890), deploy the
//! example inference dApp which issues its token through the factory and attests its program's
//! work, enrol both machines (which alone earns nothing), run fee-free jobs on both, attest them
//! after their epoch, claim (mint) and pay for a job with the token. This test checks the minted
//! amounts exactly against the attestation and claim blocks, the vesting share, that nobody but
//! the token can mint and nobody but the attestor attest, the tiered burn of the job fee, an
//! existing ERC-20 mined through an escrow whose deployer attests, a relayed heartbeat and the
//! `dbc_` project RPC.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use common::*;
use dbc_precompiles::abi::{IGpuMarket, IProjectMining};
use serde_json::{Value, json};

alloy_sol_types::sol! {
    /// `MiningEscrow.token()`.
    function token() external view returns (address);
}
use tokenCall as TokenOf;

const MARKET: &str = "0x0000000000000000000000000000000000000D01";
const MINING: &str = "0x0000000000000000000000000000000000000D02";
const SCRIPT: &str = "script/MiningE2E.s.sol:MiningE2E";
const ETHER: u128 = 1_000_000_000_000_000_000;
/// Dev accounts 1 (provider A) and 6 (provider B).
const PROVIDER_A: &str = "0x70997970C51812dc3A010C7d01b50e0D17dc79C8";
const PROVIDER_B: &str = "0x976EA74026E726554dB657fA54763abd0C3a0aa9";

fn raw_call(node: &DevNode, to: &str, data: Vec<u8>, block: &str) -> Bytes {
    let out = node.rpc("eth_call", json!([{"to": to, "data": Bytes::from(data)}, block]));
    serde_json::from_value(out).unwrap()
}

fn balance_of(node: &DevNode, token: &str, who: &str) -> U256 {
    let who: Address = who.parse().unwrap();
    let mut data = keccak256("balanceOf(address)")[..4].to_vec();
    data.extend_from_slice(who.into_word().as_slice());
    U256::from_be_slice(&raw_call(node, token, data, "latest"))
}

fn total_supply(node: &DevNode, token: &str) -> U256 {
    U256::from_be_slice(&raw_call(node, token, keccak256("totalSupply()")[..4].to_vec(), "latest"))
}

fn logs(node: &DevNode, address: &str, topic: B256) -> Vec<Value> {
    let out = node.rpc(
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "latest", "address": address, "topics": [topic]}]),
    );
    out.as_array().unwrap().clone()
}

fn decode<E: SolEvent>(l: &Value) -> E {
    let topics: Vec<B256> = serde_json::from_value(l["topics"].clone()).unwrap();
    let data: Bytes = serde_json::from_value(l["data"].clone()).unwrap();
    E::decode_raw_log(topics, &data).unwrap()
}

/// A project's record as of block `n`.
fn project_at(node: &DevNode, id: u64, n: u64) -> IProjectMining::Project {
    let call = IProjectMining::getProjectCall { projectId: U256::from(id) };
    let out = raw_call(node, MINING, call.abi_encode(), &format!("0x{n:x}"));
    IProjectMining::getProjectCall::abi_decode_returns(&out).unwrap()
}

/// The project's accumulator (tokens per unit of weight × 1e18) grows, at each update, by the
/// emission released since the last one over the total weight, rounded down.
fn acc_increase(tokens_per_block: U256, blocks: u64, total_weight: U256) -> U256 {
    tokens_per_block * U256::from(blocks) * U256::from(ETHER) / total_weight
}

/// What a weight earns over an accumulator increase, rounded down.
fn earned(weight: U256, acc: U256) -> U256 {
    weight * acc / U256::from(ETHER)
}

#[test]
fn project_mining_end_to_end_with_forge_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    write_market_test_genesis(&genesis);
    let node = DevNode::start(
        &dir.path().join("data"),
        &["--chain", genesis.to_str().unwrap(), "--dev.block-time", "250ms"],
    );
    let url = node.url();
    let (a, b) = (keccak256("dbc-e2e-mining-A"), keccak256("dbc-e2e-mining-B"));
    let dapp: Address = DEV_ADDR_0.parse::<Address>().unwrap().create(1);
    let block_of = |l: &Value| hex_u64(&l["blockNumber"]);
    let amount = |l: &Value| {
        let d: Bytes = serde_json::from_value(l["data"].clone()).unwrap();
        U256::from_be_slice(&d)
    };
    // An attestation names the last completed epoch: phases that must land in one epoch start
    // early in it (a phase takes a few blocks of 250 ms; epochs are 50 blocks here).
    let eb = sol_call(&node, MINING, IProjectMining::epochBlocksCall {});
    assert_eq!(eb, 50);
    let early = |n: u64| (1..20).contains(&(n % eb));

    forge_phase(&url, SCRIPT, 1);
    wait_until("both draws", || {
        [a, b].iter().all(|m| {
            sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: *m }).phase as u8 == 2
        })
    });
    forge_phase(&url, SCRIPT, 2);
    forge_phase(&url, SCRIPT, 3);
    forge_phase(&url, SCRIPT, 4);
    let enrolled = logs(&node, MINING, IProjectMining::MachineEnrolled::SIGNATURE_HASH);
    assert_eq!(enrolled.len(), 2);
    for l in &enrolled {
        let e: IProjectMining::MachineEnrolled = decode(l);
        assert_eq!(e.weight, U256::ZERO, "enrolment alone earns nothing");
    }

    // Fee-free jobs (rent in DBC) on A (20 GPU-blocks) and B (10), in one epoch.
    wait_until("the start of an epoch", || early(node.block_number()));
    forge_phase(&url, SCRIPT, 5);
    let rented = logs(&node, MARKET, IGpuMarket::Rented::SIGNATURE_HASH);
    assert_eq!(rented.len(), 2);
    let job_epoch = block_of(&rented[0]) / eb;
    assert_eq!(block_of(&rented[1]) / eb, job_epoch, "both jobs in one epoch");

    // In the next epoch the dApp attests them: weights grade × GPU-blocks.
    wait_until("the next epoch", || {
        let n = node.block_number();
        n / eb == job_epoch + 1 && early(n)
    });
    forge_phase(&url, SCRIPT, 6);
    let attested = logs(&node, MINING, IProjectMining::WorkAttested::SIGNATURE_HASH);
    assert_eq!(attested.len(), 2);
    let t1 = block_of(&attested[0]);
    assert_eq!(block_of(&attested[1]), t1, "one attestation transaction");
    let (wa, wb) = (U256::from(10_000_000u64 * 20), U256::from(18_900_000u64 * 10));
    for (l, (m, units, weight)) in attested.iter().zip([(a, 20, wa), (b, 10, wb)]) {
        let w: IProjectMining::WorkAttested = decode(l);
        assert_eq!(w.projectId, U256::from(1));
        assert_eq!((w.machineId, w.epoch, w.units, w.weight), (m, job_epoch, units, weight));
        let work = sol_call(
            &node,
            MINING,
            IProjectMining::workOfCall { projectId: U256::from(1), machineId: m },
        );
        assert_eq!(
            (work.units, work.epoch, work.attested, work.weight),
            (units, job_epoch, true, weight)
        );
    }
    // Nothing was released before: the project had no weight.
    assert_eq!(project_at(&node, 1, t1).distributed, U256::ZERO);
    // Only the attestor (the dApp) attests.
    let attest = IProjectMining::attestWorkCall {
        projectId: U256::from(1),
        epoch: job_epoch,
        machineIds: vec![a],
        units: vec![1_000],
    };
    let err = node.rpc_err(
        "eth_call",
        json!([{"from": PROVIDER_A, "to": MINING, "data": Bytes::from(attest.abi_encode())}, "latest"]),
    );
    let data: Bytes = serde_json::from_value(err["data"].clone()).unwrap();
    assert!(IProjectMining::NotAttestor::abi_decode(&data).is_ok());

    node.wait_for_block(node.block_number() + 20, std::time::Duration::from_secs(30));
    forge_phase(&url, SCRIPT, 7);

    // The token is project 1's settler.
    let p = sol_call(&node, MINING, IProjectMining::getProjectCall { projectId: U256::from(1) });
    let token = format!("{:#x}", p.settler);
    assert_eq!((p.machines, p.attestor), (2, dapp));

    // Exact accrual: from the attestation, A and B (weights 2e8 and 1.89e8) share 3 tokens per
    // block through the project's accumulator (rounded down at each update: A's claim, B's
    // claim); each claim mints 25% (the rest vests from the next epoch).
    let settled = logs(&node, MINING, IProjectMining::MiningRewardSettled::SIGNATURE_HASH);
    assert_eq!(settled.len(), 2);
    let (ca, cb) = (block_of(&settled[0]), block_of(&settled[1]));
    let tpb = U256::from(3 * ETHER);
    let acc_a = acc_increase(tpb, ca - t1, wa + wb);
    let acc_b = acc_a + acc_increase(tpb, cb - ca, wa + wb);
    let accrued_a = earned(wa, acc_a);
    let accrued_b = earned(wb, acc_b);
    assert!(accrued_a > U256::ZERO && accrued_b > U256::ZERO);
    assert_eq!(project_at(&node, 1, cb).distributed, tpb * U256::from(cb - t1));
    assert_eq!(amount(&settled[0]), accrued_a / U256::from(4), "A minted 25% of its accrual");
    assert_eq!(amount(&settled[1]), accrued_b / U256::from(4), "B minted 25% of its accrual");
    let minted_a = balance_of(&node, &token, PROVIDER_A);
    let minted_b = balance_of(&node, &token, PROVIDER_B);
    assert_eq!((minted_a, minted_b), (accrued_a / U256::from(4), accrued_b / U256::from(4)));
    // At the claim block, 75% of A's accrual is vesting and nothing is pending.
    let call = IProjectMining::rewardsOfCall {
        projectId: U256::from(1),
        provider: PROVIDER_A.parse().unwrap(),
    };
    let at_claim = raw_call(&node, MINING, call.abi_encode(), &format!("0x{ca:x}"));
    let r = IProjectMining::rewardsOfCall::abi_decode_returns(&at_claim).unwrap();
    assert_eq!((r.pending, r.claimed), (U256::ZERO, minted_a));
    assert_eq!(r.vesting, accrued_a - accrued_a / U256::from(4));

    // Nobody but the token can mint: the precompile refuses other settlers, the token has no
    // mint function and only its deployer (the factory) could register its program.
    let settle = IProjectMining::settleCall {
        projectId: U256::from(1),
        provider: PROVIDER_A.parse().unwrap(),
    };
    let err = node.rpc_err("eth_call", json!([{"from": PROVIDER_A, "to": MINING, "data": Bytes::from(settle.abi_encode())}, "latest"]));
    assert_eq!(err["code"], json!(3));
    let data: Bytes = serde_json::from_value(err["data"].clone()).unwrap();
    assert!(IProjectMining::NotSettler::abi_decode(&data).is_ok());
    let mut mint = keccak256("mint(address,uint256)")[..4].to_vec();
    mint.extend_from_slice(&[0u8; 64]);
    let err = node.rpc_err(
        "eth_call",
        json!([{"from": PROVIDER_A, "to": token, "data": Bytes::from(mint)}, "latest"]),
    );
    assert_eq!(err["code"], json!(3));
    let register = keccak256(
        "registerMining(uint256,uint256,uint64,(uint32,uint32,bytes32[]),(uint16,uint64),address)",
    );
    let err = node.rpc_err(
        "eth_call",
        json!([{"from": PROVIDER_A, "to": token, "data": Bytes::from(register[..4].to_vec())}, "latest"]),
    );
    assert_eq!(err["code"], json!(3));

    // The operator sets a fee; A's job on B: 10 blocks × 0.1 token, 30% burned (fewer than
    // 5,000 GPUs online), 70% to B.
    let supply_before = total_supply(&node, &token);
    forge_phase(&url, SCRIPT, 8);
    let fee = U256::from(ETHER);
    let burned = fee * U256::from(3) / U256::from(10);
    assert_eq!(balance_of(&node, &token, PROVIDER_A), minted_a - fee);
    assert_eq!(balance_of(&node, &token, PROVIDER_B), minted_b + fee - burned);
    assert_eq!(total_supply(&node, &token), supply_before - burned);
    let m = sol_call(&node, MARKET, IGpuMarket::getMachineCall { machineId: b });
    assert_eq!(m.rentedGpus, 1, "the dApp rented B's GPU");

    // An existing ERC-20 through a funded MiningEscrow (project 2, A alone, 1 token a block),
    // whose deployer attests 10 units of A's work.
    forge_phase(&url, SCRIPT, 9);
    wait_until("the start of an epoch", || early(node.block_number()));
    forge_phase(&url, SCRIPT, 10);
    node.wait_for_block(node.block_number() + 8, std::time::Duration::from_secs(30));
    forge_phase(&url, SCRIPT, 11);
    let is_project_2 = |l: &&Value| l["topics"][1] == json!(B256::from(U256::from(2)));
    let attested = logs(&node, MINING, IProjectMining::WorkAttested::SIGNATURE_HASH);
    let t2 = block_of(attested.iter().find(is_project_2).unwrap());
    let settled = logs(&node, MINING, IProjectMining::MiningRewardSettled::SIGNATURE_HASH);
    let paid = settled.iter().find(is_project_2).unwrap();
    let w2 = U256::from(10_000_000u64 * 10);
    let accrued = earned(w2, acc_increase(U256::from(ETHER), block_of(paid) - t2, w2));
    // A alone at 1e8: exactly 1 token a block (1e36 / 1e8 leaves no remainder).
    assert_eq!(accrued, U256::from(ETHER) * U256::from(block_of(paid) - t2));
    let expected = accrued / U256::from(4);
    assert_eq!(amount(paid), expected);
    // A heartbeat signed by machine A's key, relayed by an account that is not its owner.
    let beats = logs(&node, MARKET, IGpuMarket::Heartbeat::SIGNATURE_HASH);
    assert_eq!(beats.len(), 1);
    assert_eq!(beats[0]["topics"][1], json!(a));
    let p2 = sol_call(&node, MINING, IProjectMining::getProjectCall { projectId: U256::from(2) });
    assert_eq!(p2.attestor, DEV_ADDR_0.parse::<Address>().unwrap());
    let erc20 = format!("{:#x}", sol_call(&node, &format!("{:#x}", p2.settler), TokenOf {}));
    assert_eq!(balance_of(&node, &erc20, PROVIDER_A), expected);

    // dbc_ views.
    let pj = node.rpc("dbc_getProject", json!(["0x1"]));
    assert_eq!(pj["settler"].as_str().unwrap().to_lowercase(), token.to_lowercase());
    assert_eq!(pj["attestor"].as_str().unwrap().to_lowercase(), format!("{dapp:#x}"));
    let total: U256 = serde_json::from_value(pj["totalWeight"].clone()).unwrap();
    assert_eq!(total, wa + wb);
    assert_eq!(pj["gpuModels"], json!(["RTX 4090", "A100 80GB"]));
    assert_eq!(pj["machines"], json!(2));
    assert_eq!(node.rpc("dbc_getProject", json!(["0x9"])), Value::Null);
    let page = node.rpc("dbc_listProjects", json!([]));
    assert_eq!(page["total"], json!("0x2"));
    assert_eq!(page["projects"].as_array().unwrap().len(), 2);
    let page = node.rpc("dbc_listProjects", json!(["0x1", "0x1"]));
    assert_eq!(page["projects"][0]["id"], json!("0x1"));
    assert_eq!(page["nextOffset"], json!("0x2"));
    let machines = node.rpc("dbc_listProjectMachines", json!(["0x1"]));
    assert_eq!(machines, json!([a, b]));
    let rw = node.rpc("dbc_getProjectRewards", json!(["0x1", PROVIDER_A]));
    let claimed: U256 = serde_json::from_value(rw["claimed"].clone()).unwrap();
    assert_eq!(claimed, minted_a);
}

/// The example dApp deploys with one `forge script` on the default dev chain.
#[test]
fn inference_dapp_deploys_with_one_forge_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(dir.path(), &["--dev.block-time", "250ms"]);
    let out = forge(&[
        "script",
        "script/DeployInference.s.sol:DeployInference",
        "--rpc-url",
        &node.url(),
        "--private-key",
        DEV_KEY_0,
        "--broadcast",
        "--skip-simulation",
        "--slow",
        "--non-interactive",
    ]);
    assert!(out.contains("ONCHAIN EXECUTION COMPLETE & SUCCESSFUL"), "{out}");
    let deployer: Address = DEV_ADDR_0.parse().unwrap();
    let dapp = format!("{:#x}", deployer.create(1));
    let token = sol_call(&node, &dapp, TokenOf {});
    let p = sol_call(&node, MINING, IProjectMining::getProjectCall { projectId: U256::from(1) });
    assert_eq!(p.settler, token, "the dApp's token settles project 1");
    assert_eq!(p.attestor, deployer.create(1), "the dApp attests its work");
    assert_eq!(p.creator, deployer);
    assert_eq!(p.tokensPerBlock, U256::from(3 * ETHER));
    assert_eq!(p.requirements.gpuModels.len(), 1);
    let code = node.rpc("eth_getCode", json!([format!("{token:#x}"), "latest"]));
    assert!(code.as_str().unwrap().len() > 100, "token deployed");
}

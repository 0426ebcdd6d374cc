//! Project mining end to end: `forge script` phases (`contracts/script/MiningE2E.s.sol`) verify
//! two machines (calc points 1,000 and 2,000), deploy the example inference dApp which issues
//! its token through the factory, enrol both machines, claim (mint) and pay for a job with the
//! token. This test checks the minted amounts exactly against the enrolment and claim blocks,
//! the vesting share, that nobody but the token can mint, the tiered burn of the job fee and
//! the `dbc_` project RPC.
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

    forge_phase(&url, SCRIPT, 1);
    wait_until("both draws", || {
        [a, b].iter().all(|m| {
            sol_call(&node, MARKET, IGpuMarket::getRoundCall { machineId: *m }).phase as u8 == 2
        })
    });
    forge_phase(&url, SCRIPT, 2);
    forge_phase(&url, SCRIPT, 3);
    forge_phase(&url, SCRIPT, 4);
    node.wait_for_block(node.block_number() + 20, std::time::Duration::from_secs(30));
    forge_phase(&url, SCRIPT, 5);

    // The token is project 1's settler.
    let p = sol_call(&node, MINING, IProjectMining::getProjectCall { projectId: U256::from(1) });
    let token = format!("{:#x}", p.settler);
    assert_eq!(p.machines, 2);

    // Exact accrual: A alone (weight 1,000) from its enrolment to B's, then A : B = 1 : 2 of
    // 3 tokens per block; each claim mints 25% (the rest vests from the next epoch).
    let block_of = |l: &Value| hex_u64(&l["blockNumber"]);
    let enrolled = logs(&node, MINING, IProjectMining::MachineEnrolled::SIGNATURE_HASH);
    assert_eq!(enrolled.len(), 2);
    let (ea, eb) = (block_of(&enrolled[0]), block_of(&enrolled[1]));
    let settled = logs(&node, MINING, IProjectMining::MiningRewardSettled::SIGNATURE_HASH);
    assert_eq!(settled.len(), 2);
    let (ca, cb) = (block_of(&settled[0]), block_of(&settled[1]));
    let amount = |l: &Value| {
        let d: Bytes = serde_json::from_value(l["data"].clone()).unwrap();
        U256::from_be_slice(&d)
    };
    let tpb = U256::from(3 * ETHER);
    let accrued_a = tpb * U256::from(eb - ea) + tpb / U256::from(3) * U256::from(ca - eb);
    let accrued_b = tpb * U256::from(2) / U256::from(3) * U256::from(cb - eb);
    assert!(accrued_a > U256::ZERO && accrued_b > U256::ZERO);
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
        "registerMining(uint256,uint256,uint64,(uint32,uint32,bytes32[]),(uint16,uint64))",
    );
    let err = node.rpc_err(
        "eth_call",
        json!([{"from": PROVIDER_A, "to": token, "data": Bytes::from(register[..4].to_vec())}, "latest"]),
    );
    assert_eq!(err["code"], json!(3));

    // The dApp job: 10 blocks × 0.1 token, 30% burned (fewer than 5,000 GPUs online), 70% to B.
    let supply_before = total_supply(&node, &token);
    forge_phase(&url, SCRIPT, 6);
    let fee = U256::from(ETHER);
    let burned = fee * U256::from(3) / U256::from(10);
    assert_eq!(balance_of(&node, &token, PROVIDER_A), minted_a - fee);
    assert_eq!(balance_of(&node, &token, PROVIDER_B), minted_b + fee - burned);
    assert_eq!(total_supply(&node, &token), supply_before - burned);
    let m = sol_call(&node, MARKET, IGpuMarket::getMachineCall { machineId: b });
    assert_eq!(m.rentedGpus, 1, "the dApp rented B's GPU");

    // An existing ERC-20 through a funded MiningEscrow (project 2, A alone, 1 token a block).
    forge_phase(&url, SCRIPT, 7);
    node.wait_for_block(node.block_number() + 8, std::time::Duration::from_secs(30));
    forge_phase(&url, SCRIPT, 8);
    let enrolled = logs(&node, MINING, IProjectMining::MachineEnrolled::SIGNATURE_HASH);
    let e2 = block_of(
        enrolled.iter().find(|l| l["topics"][1] == json!(B256::from(U256::from(2)))).unwrap(),
    );
    let settled = logs(&node, MINING, IProjectMining::MiningRewardSettled::SIGNATURE_HASH);
    let paid = settled.iter().find(|l| l["topics"][1] == json!(B256::from(U256::from(2)))).unwrap();
    let expected = U256::from(ETHER) * U256::from(block_of(paid) - e2) / U256::from(4);
    assert_eq!(amount(paid), expected);
    let p2 = sol_call(&node, MINING, IProjectMining::getProjectCall { projectId: U256::from(2) });
    let erc20 = format!("{:#x}", sol_call(&node, &format!("{:#x}", p2.settler), TokenOf {}));
    assert_eq!(balance_of(&node, &erc20, PROVIDER_A), expected);

    // dbc_ views.
    let pj = node.rpc("dbc_getProject", json!(["0x1"]));
    assert_eq!(pj["settler"].as_str().unwrap().to_lowercase(), token.to_lowercase());
    assert_eq!(pj["gpuModels"], json!(["RTX 4090"]));
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
    assert_eq!(p.creator, deployer);
    assert_eq!(p.tokensPerBlock, U256::from(3 * ETHER));
    assert_eq!(p.requirements.gpuModels.len(), 1);
    let code = node.rpc("eth_getCode", json!([format!("{token:#x}"), "latest"]));
    assert!(code.as_str().unwrap().len() > 100, "token deployed");
}

//! Issue #16 item 7: the GPU market's economic attacks run through the EVM on a live dev node,
//! by Solidity attacker contracts (`contracts/test/MarketAttackers.sol`) deployed with
//! `forge create` and driven with `cast`, against a machine verified as users do it:
//! - H7 through a contract: renting one's own machine with oneself as beneficiary is refused;
//!   wash renting from a second identity (a contract) earns a bonus never above the rent it
//!   burns, so the provider's return on it is ≤ 0;
//! - M5 through a contract: 40 rent-and-end cycles in one transaction leave no item in the hook
//!   queue, and refunds run no code of the renter (no re-entry);
//! - H5 through a contract: a project at the largest parameters whose attestor gives the
//!   machine the largest weight cannot stop it going offline, returning, being rented, leaving;
//! - M1 through a contract: extending after a price rise and ending at once refunds each
//!   segment's unused blocks at its own price, so the renter pays exactly what it used;
//! - heartbeats relayed by a contract verify only with the machine key's signature over one of
//!   the last 64 blocks: the owner's key, or a signature replayed later, is refused;
//! - DELEGATECALL into the market and a write under STATICCALL are refused.
#![allow(clippy::unwrap_used)]

mod common;
mod market_support;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent, SolValue};
use common::*;
use dbc_precompiles::abi::{IGpuMarket, IProjectMining};
use market_support::*;
use serde_json::{Value, json};

alloy_sol_types::sol! {
    interface WashRenter {
        function rentForProvider(bytes32 machineId, uint32 gpus, uint64 blocks) external returns (uint256 id);
        function rent(bytes32 machineId, uint32 gpus, uint64 blocks) external returns (uint256 id);
        function end(uint256 rentalId) external;
        function extend(uint256 rentalId, uint64 blocks) external;
        function flood(bytes32 machineId, uint64 blocks, uint256 n) external;
        function callbacks() external view returns (uint256 n);
    }
    interface PoisonProject {
        function register() external;
        function attestMax(bytes32 machineId) external;
        function projectId() external view returns (uint256 id);
    }
    interface HeartbeatRelay {
        function relay(bytes32 machineId, uint64 blockNumber, bytes signature) external;
    }
    interface ContextAbuser {
        function abuse(bytes32 machineId) external returns (bool delegated, bytes memory delegateErr, bool staticWrite, bytes memory staticErr);
    }
}

/// Deploys `contract` (path:Name under `contracts/`) from account `k` with `value` wei.
fn deploy_from(c: &Chain, k: usize, contract: &str, value: U256) -> String {
    let out = forge(&[
        "create",
        "--broadcast",
        "--rpc-url",
        &c.node.url(),
        "--private-key",
        KEYS[k],
        "--value",
        &value.to_string(),
        contract,
    ]);
    out.lines()
        .find_map(|l| l.strip_prefix("Deployed to: "))
        .unwrap_or_else(|| panic!("no address in forge output:\n{out}"))
        .trim()
        .to_string()
}

/// The revert data of `call` from account `k` (an `eth_call` that must fail).
fn revert_data<C: SolCall>(c: &Chain, k: usize, to: &str, call: C) -> Bytes {
    let data = Bytes::from(call.abi_encode());
    let err =
        c.node.rpc_err("eth_call", json!([{"from": c.addr(k), "to": to, "data": data}, "latest"]));
    serde_json::from_value(err["data"].clone()).unwrap_or_else(|_| panic!("no revert data: {err}"))
}

/// Decoded logs of event `E` from `address` in the receipt of the last exact send.
fn receipt_logs<E: SolEvent>(receipt: &Value, address: &str) -> Vec<E> {
    receipt["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["address"].as_str().unwrap().eq_ignore_ascii_case(address))
        .filter_map(|l| {
            let topics: Vec<B256> = serde_json::from_value(l["topics"].clone()).unwrap();
            let data: Bytes = serde_json::from_value(l["data"].clone()).unwrap();
            E::decode_raw_log(topics, &data).ok()
        })
        .collect()
}

#[test]
fn market_attacks_through_contracts_are_refused_or_earn_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = start(dir.path(), |_| {});
    let machine = verified_machine(&mut c, "dbc-attacks-machine");
    let zero = U256::ZERO;

    // H7: the provider's second identity, a contract it funds.
    let wash = deploy_from(&c, OWNER, "test/MarketAttackers.sol:WashRenter", U256::from(100 * DBC));
    let data = revert_data(
        &c,
        OWNER,
        &wash,
        WashRenter::rentForProviderCall { machineId: machine, gpus: 1, blocks: 100 },
    );
    let e = IGpuMarket::OwnMachine::abi_decode(&data).expect("OwnMachine");
    assert_eq!(e.machineId, machine);
    // Wash renting: two rentals of the provider's own machine at its price, ended after 40 and
    // 80 blocks. The bonus each pays the provider is at most the rent it burned.
    let mut net = alloy_primitives::I256::ZERO;
    for used in [40u64, 80] {
        let r = c.exact(
            OWNER,
            &wash,
            WashRenter::rentCall { machineId: machine, gpus: 1, blocks: 100 },
            zero,
            1,
        );
        let rented = receipt_logs::<IGpuMarket::Rented>(&r, MARKET);
        let id = rented[0].rentalId;
        c.node.wait_for_block(c.node.block_number() + used, std::time::Duration::from_secs(60));
        let r = c.exact(OWNER, &wash, WashRenter::endCall { rentalId: id }, zero, 0);
        let burned = receipt_logs::<IGpuMarket::RentBurned>(&r, MARKET);
        let bonus = receipt_logs::<IGpuMarket::RentedBonusPaid>(&r, MARKET);
        assert_eq!((burned.len(), bonus.len()), (1, 1), "{r}");
        assert!(bonus[0].accrued > U256::ZERO, "the rental accrued a bonus");
        assert!(
            bonus[0].paid <= burned[0].amount,
            "bonus {} > burn {}",
            bonus[0].paid,
            burned[0].amount
        );
        net += alloy_primitives::I256::from_raw(bonus[0].paid)
            - alloy_primitives::I256::from_raw(burned[0].amount);
        println!(
            "wash rental {id} ({used} blocks): burned {} wei, bonus accrued {} paid {}",
            burned[0].amount, bonus[0].accrued, bonus[0].paid
        );
    }
    assert!(net <= alloy_primitives::I256::ZERO, "wash renting paid the provider {net} wei");

    // M5: 40 rentals started and ended in one transaction, all due at one block.
    let before = c.node.rpc("eth_getBalance", json!([wash, "latest"]));
    let unit = 10;
    let r = c.exact(
        OWNER,
        &wash,
        WashRenter::floodCall { machineId: machine, blocks: unit, n: U256::from(40) },
        zero,
        1,
    );
    let due = hex_u64(&r["blockNumber"]) + unit;
    let queue_len = {
        let base = keccak256((U256::from(11u64), B256::from(U256::from(due))).abi_encode());
        c.node.rpc("eth_getStorageAt", json!([MARKET, base, "latest"]))
    };
    assert_eq!(
        U256::from_str_radix(queue_len.as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
        zero,
        "no item left in block {due}'s queue"
    );
    assert_eq!(receipt_logs::<IGpuMarket::RentalEnded>(&r, MARKET).len(), 40);
    // Nothing used, everything refunded, and the refunds ran none of the renter's code.
    assert_eq!(c.node.rpc("eth_getBalance", json!([wash, "latest"])), before);
    assert_eq!(c.call(&wash, WashRenter::callbacksCall {}), zero);

    // M1: rent 100 blocks, double the price, extend 100 blocks, end at once.
    let p1 = c.call(MARKET, IGpuMarket::getMachineCall { machineId: machine }).pricePerGpuBlock;
    let r = c.exact(
        OWNER,
        &wash,
        WashRenter::rentCall { machineId: machine, gpus: 1, blocks: 100 },
        zero,
        1,
    );
    let id = receipt_logs::<IGpuMarket::Rented>(&r, MARKET)[0].rentalId;
    let start = hex_u64(&r["blockNumber"]);
    let p2 = p1 * U256::from(2);
    c.exact(
        OWNER,
        MARKET,
        IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: p2 },
        zero,
        1,
    );
    c.exact(OWNER, &wash, WashRenter::extendCall { rentalId: id, blocks: 100 }, zero, 1);
    let r = c.exact(OWNER, &wash, WashRenter::endCall { rentalId: id }, zero, 0);
    let ended = hex_u64(&r["blockNumber"]);
    let rental = c.call(MARKET, IGpuMarket::getRentalCall { rentalId: id });
    let unused_first = U256::from(start + 100 - ended);
    assert_eq!(rental.refunded, p1 * unused_first + p2 * U256::from(100), "per-segment refund");
    assert_eq!(rental.paid - rental.refunded, p1 * U256::from(ended - start), "pays what it used");

    // Heartbeats through a relay contract: only the machine key's fresh signature counts.
    let relay = deploy_from(&c, RENTER, "test/MarketAttackers.sol:HeartbeatRelay", zero);
    let hb = c.heartbeat(machine);
    let digest = c.call(
        MARKET,
        IGpuMarket::heartbeatDigestCall { machineId: machine, blockNumber: hb.blockNumber },
    );
    let owner_sig =
        cast(&["wallet", "sign", "--no-hash", "--private-key", KEYS[OWNER], &format!("{digest}")]);
    let forged = HeartbeatRelay::relayCall {
        machineId: machine,
        blockNumber: hb.blockNumber,
        signature: owner_sig.trim().parse().unwrap(),
    };
    let data = revert_data(&c, RENTER, &relay, forged);
    IGpuMarket::BadHeartbeatSignature::abi_decode(&data).expect("BadHeartbeatSignature");
    let good = HeartbeatRelay::relayCall {
        machineId: machine,
        blockNumber: hb.blockNumber,
        signature: hb.signature.clone(),
    };
    c.exact(RENTER, &relay, good.clone(), zero, 1);
    // The same signature, replayed 70 blocks later (a pre-signed batch would be): stale.
    c.node.wait_for_block(hb.blockNumber + 70, std::time::Duration::from_secs(60));
    let data = revert_data(&c, RENTER, &relay, good);
    let e = IGpuMarket::StaleHeartbeat::abi_decode(&data).expect("StaleHeartbeat");
    assert_eq!((e.blockNumber, e.maxAge), (hb.blockNumber, 64));

    // Calling contexts.
    let abuser = deploy_from(&c, OWNER, "test/MarketAttackers.sol:ContextAbuser", zero);
    let out = c.call(&abuser, ContextAbuser::abuseCall { machineId: machine });
    assert!(!out.delegated && !out.staticWrite);
    IGpuMarket::DelegateCallNotAllowed::abi_decode(&out.delegateErr)
        .expect("DelegateCallNotAllowed");
    IGpuMarket::StaticCallWrite::abi_decode(&out.staticErr).expect("StaticCallWrite");

    // H5: a poison project, registered and attested by a contract.
    let poison = deploy_from(&c, OWNER, "test/MarketAttackers.sol:PoisonProject", zero);
    c.exact(OWNER, &poison, PoisonProject::registerCall {}, zero, 1);
    let pid = c.call(&poison, PoisonProject::projectIdCall {});
    c.exact(
        OWNER,
        MINING,
        IProjectMining::enrollCall { projectId: pid, machineId: machine },
        zero,
        1,
    );
    let epoch_blocks = c.call(MINING, IProjectMining::epochBlocksCall {});
    wait_until("the start of an epoch", || {
        (2..30).contains(&(c.node.block_number() % epoch_blocks))
    });
    c.exact(OWNER, &poison, PoisonProject::attestMaxCall { machineId: machine }, zero, 1);
    let work = c.call(MINING, IProjectMining::workOfCall { projectId: pid, machineId: machine });
    assert_eq!(work.units, u64::MAX);
    assert!(work.weight > zero);
    // Every market transition still works.
    c.exact(OWNER, MARKET, IGpuMarket::goOfflineCall { machineId: machine }, zero, 5);
    let hb = c.heartbeat(machine);
    c.exact(RENTER, MARKET, hb, zero, 20);
    let m = c.call(MARKET, IGpuMarket::getMachineCall { machineId: machine });
    assert_eq!(m.status as u8, 2, "online again");
    let q = c.call(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 2, blocks: 20 });
    let r = c.exact(
        RENTER,
        MARKET,
        IGpuMarket::rentCall { machineId: machine, gpus: 2, blocks: 20 },
        q,
        1,
    );
    let id = receipt_logs::<IGpuMarket::Rented>(&r, MARKET)[0].rentalId;
    c.exact(RENTER, MARKET, IGpuMarket::endRentalCall { rentalId: id }, zero, 10);
    c.exact(
        OWNER,
        MINING,
        IProjectMining::leaveCall { projectId: pid, machineId: machine },
        zero,
        5,
    );
    let owner: Address = c.addr(OWNER);
    let rewards = c.call(MINING, IProjectMining::rewardsOfCall { projectId: pid, provider: owner });
    println!(
        "poison project {pid}: weight {}, the provider's rewards: claimable {}",
        work.weight, rewards.claimable
    );
}

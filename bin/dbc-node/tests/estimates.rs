//! Issue #16 item 8: gas estimates that hold. Every state-changing call of the GPU market, the
//! project-mining and the staking precompiles is estimated with `eth_estimateGas` the way a
//! wallet does, then sent with exactly that gas limit one block later and, for most, tens of
//! blocks later (across epoch boundaries: epochs are 50 blocks here) with `cast send`. None may
//! run out of gas, and none may use more than it was given.
#![allow(clippy::unwrap_used)]

mod common;
mod market_support;

use alloy_primitives::{B256, U256};
use common::*;
use dbc_precompiles::abi::{IGpuMarket, IProjectMining, IStaking};
use market_support::*;
use serde_json::json;

#[test]
fn every_precompile_call_sent_with_exactly_its_estimate_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Candidates with a stake the dev accounts can afford.
    let mut c = start(dir.path(), |g| {
        g["config"]["dbc"]["staking"] = json!({
            "minSelfStake": format!("{:#x}", 1_000 * DBC),
            "minDelegation": format!("{:#x}", DBC),
        });
    });
    let zero = U256::ZERO;
    let dbc = |n: u128| U256::from(n * DBC);

    let machine = verified_machine(&mut c, "dbc-estimates-machine");
    let m = c.call(MARKET, IGpuMarket::getMachineCall { machineId: machine });
    // Providers.
    c.exact(OWNER, MARKET, IGpuMarket::addStakeCall { machineId: machine }, dbc(1), 1);
    let price = m.pricePerGpuBlock * U256::from(2);
    let set_price = IGpuMarket::setPriceCall { machineId: machine, pricePerGpuBlock: price };
    c.exact(OWNER, MARKET, set_price, zero, 30);
    let hb = c.heartbeat(machine);
    c.exact(OWNER, MARKET, hb, zero, 1);
    let hb = c.heartbeat(machine);
    c.exact(RENTER, MARKET, hb, zero, 40);
    // A committee member who joins and leaves.
    c.exact(EXTRA_AUDITOR, MARKET, IGpuMarket::joinCommitteeCall {}, dbc(1_000), 1);
    c.exact(EXTRA_AUDITOR, MARKET, IGpuMarket::leaveCommitteeCall {}, zero, 30);

    // Project mining: a project, enrolment, settlement, leaving.
    let register_project = IProjectMining::registerProjectCall {
        tokensPerBlock: U256::from(3 * DBC),
        budget: U256::from(1_000_000 * DBC),
        endBlock: 1_000_000,
        requirements: IProjectMining::Requirements {
            minGpuMemoryGb: 16,
            minCalcPoint: 500,
            gpuModels: vec![B256::right_padding_from(b"RTX 4090")],
        },
        release: IProjectMining::Release { immediateBps: 2_500, vestingBlocks: 1_000 },
    };
    c.exact(SETTLER, MINING, register_project, zero, 1);
    let pid = c.call(MINING, IProjectMining::projectCountCall {});
    c.exact(
        OWNER,
        MINING,
        IProjectMining::enrollCall { projectId: pid, machineId: machine },
        zero,
        1,
    );
    let attestor = IProjectMining::setAttestorCall { projectId: pid, attestor: c.addr(SETTLER) };
    c.exact(SETTLER, MINING, attestor, zero, 1);
    // The attestation names the last completed epoch: send it well inside an epoch.
    let epoch_blocks = c.call(MINING, IProjectMining::epochBlocksCall {});
    wait_until("the start of an epoch", || {
        (2..30).contains(&(c.node.block_number() % epoch_blocks))
    });
    let epoch = c.node.block_number() / epoch_blocks - 1;
    let attest = IProjectMining::attestWorkCall {
        projectId: pid,
        epoch,
        machineIds: vec![machine],
        units: vec![10],
    };
    c.exact(SETTLER, MINING, attest, zero, 1);
    let provider = c.addr(OWNER);
    c.exact(SETTLER, MINING, IProjectMining::settleCall { projectId: pid, provider }, zero, 60);

    // Renters.
    let blocks = 100;
    let q = c.call(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks });
    c.exact(RENTER, MARKET, IGpuMarket::rentCall { machineId: machine, gpus: 1, blocks }, q, 1);
    let rental = c.call(MARKET, IGpuMarket::rentalCountCall {});
    let q = c.call(MARKET, IGpuMarket::quoteCall { machineId: machine, gpus: 1, blocks: 10 });
    let extend = IGpuMarket::extendRentalCall { rentalId: rental, blocks: 10 };
    c.exact(RENTER, MARKET, extend, q, 30);
    c.exact(RENTER, MARKET, IGpuMarket::reportFaultCall { rentalId: rental }, dbc(100), 1);
    c.exact(RENTER, MARKET, IGpuMarket::endRentalCall { rentalId: rental }, zero, 5);
    c.exact(
        OWNER,
        MINING,
        IProjectMining::leaveCall { projectId: pid, machineId: machine },
        zero,
        1,
    );
    c.exact(OWNER, MARKET, IGpuMarket::claimRewardsCall {}, zero, 60);
    c.exact(OWNER, MARKET, IGpuMarket::goOfflineCall { machineId: machine }, zero, 1);

    // Staking: a candidate, a delegator, rewards, unbonding.
    let v = c.addr(VALIDATOR);
    let reg = IStaking::registerValidatorCall { commissionBps: 1_000 };
    c.exact(VALIDATOR, STAKING, reg, dbc(1_000), 1);
    c.exact(VALIDATOR, STAKING, IStaking::setCommissionCall { commissionBps: 500 }, zero, 30);
    c.exact(0, STAKING, IStaking::delegateCall { validator: v }, dbc(10), 1);
    c.exact(0, STAKING, IStaking::claimRewardsCall { validator: v }, zero, 60);
    c.exact(0, STAKING, IStaking::undelegateCall { validator: v, amount: dbc(5) }, zero, 1);

    let report: Vec<String> = c
        .sent
        .iter()
        .map(|(name, gas, used)| format!("{name}: estimate {gas}, used {used}"))
        .collect();
    println!("{}", report.join("\n"));
    assert_eq!(c.sent.len(), 33);
}

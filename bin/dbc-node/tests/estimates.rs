//! Issue #16 item 8: gas estimates that hold. Every state-changing call of the GPU market, the
//! project-mining, the staking and the governance precompiles is estimated with `eth_estimateGas` the way a
//! wallet does, then sent with exactly that gas limit one block later and, for most, tens of
//! blocks later (across epoch boundaries: epochs are 50 blocks here) with `cast send`. None may
//! run out of gas, and none may use more than it was given.
#![allow(clippy::unwrap_used)]

mod common;
mod market_support;

use alloy_primitives::{B256, U256};
use common::*;
use dbc_precompiles::abi::{IGovernance, IGpuMarket, IProjectMining, IStaking};
use market_support::*;
use serde_json::json;

/// Prints each exact send's estimate and gas used.
fn report(c: &market_support::Chain) {
    for (name, gas, used) in &c.sent {
        println!("{name}: estimate {gas}, used {used}");
    }
}

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

    report(&c);
    assert_eq!(c.sent.len(), 33);
}

const GOVERNANCE: &str = "0x0000000000000000000000000000000000000D04";

/// The governance precompile's calls, each sent with exactly its estimate one block or more
/// later, while other proposals, votes and enactments change the shared counters in between:
/// donations, locks, the four proposal kinds, votes and revotes, a stream's claims, an unlock.
#[test]
fn every_governance_call_sent_with_exactly_its_estimate_succeeds() {
    use IGovernance::{Kind, Route, Target};
    use alloy_sol_types::SolValue;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = start(dir.path(), |g| {
        g["config"]["dbc"]["governance"] = json!({
            "referendumBlocks": 80,
            "referendumTurnoutBps": 0,
            "enactmentDelayBlocks": 2,
            "proposalDeposit": format!("{:#x}", 100 * DBC),
            "council": {
                "candidacyBond": format!("{:#x}", 10 * DBC),
                "minVoteLock": format!("{:#x}", DBC),
            },
        });
        g["config"]["dbc"]["staking"] = json!({ "epochBlocks": 10 });
    });
    let zero = U256::ZERO;
    let dbc = |n: u128| U256::from(n * DBC);
    let deposit = |c: &mut market_support::Chain, kind| {
        c.call(GOVERNANCE, IGovernance::requiredDepositCall { kind, spendAmount: dbc(10) })
    };
    c.exact(0, GOVERNANCE, IGovernance::fundCall {}, dbc(1_000), 1);
    c.exact(1, GOVERNANCE, IGovernance::lockCall {}, dbc(100), 1);
    c.exact(2, GOVERNANCE, IGovernance::lockCall {}, dbc(50), 3);
    let d = deposit(&mut c, Kind::Text);
    let text = IGovernance::proposeTextCall { route: Route::Referendum, description: "t".into() };
    c.exact(0, GOVERNANCE, text, d, 1);
    let d = deposit(&mut c, Kind::TreasurySpend);
    let to = c.addr(8);
    let spend = IGovernance::proposeSpendCall {
        to,
        amount: dbc(10),
        streamBlocks: 5,
        route: Route::Referendum,
        description: "stream".into(),
    };
    c.exact(0, GOVERNANCE, spend, d, 2);
    let current = c.call(GOVERNANCE, IGovernance::currentParamsCall { target: Target::Market });
    let mut m = IGovernance::MarketParamsV1::abi_decode(&current).unwrap();
    m.stake.stakePerGpu = dbc(1_500);
    let params = IGovernance::proposeParamsCall {
        target: Target::Market,
        params: m.abi_encode().into(),
        route: Route::Referendum,
        description: "stake".into(),
    };
    let d = deposit(&mut c, Kind::ParamChange);
    c.exact(0, GOVERNANCE, params, d, 2);
    let size = IGovernance::proposeValidatorSetSizeCall {
        maxValidators: 25,
        route: Route::Referendum,
        description: "size".into(),
    };
    let d = deposit(&mut c, Kind::ValidatorSetSize);
    c.exact(0, GOVERNANCE, size, d, 1);
    for id in 1..=4u64 {
        let id = U256::from(id);
        c.exact(1, GOVERNANCE, IGovernance::castVoteCall { proposalId: id, support: 0 }, zero, 1);
        c.exact(1, GOVERNANCE, IGovernance::castVoteCall { proposalId: id, support: 1 }, zero, 1);
        let why = IGovernance::castVoteWithReasonCall {
            proposalId: id,
            support: 2,
            reason: "why".into(),
        };
        c.exact(2, GOVERNANCE, why, zero, 1);
    }
    // The stream is enacted at an epoch boundary, then claimed twice as it is released.
    let stream = IGovernance::getProposalCall { id: U256::from(2) };
    let mut enact_at = 0;
    wait_until("the streamed spend to pass", || {
        enact_at = c.call(GOVERNANCE, stream.clone()).enactAt;
        enact_at != 0
    });
    c.node.wait_for_block(enact_at + 2, std::time::Duration::from_secs(60));
    let claim = IGovernance::claimStreamCall { proposalId: U256::from(2) };
    c.exact(5, GOVERNANCE, claim.clone(), zero, 1);
    c.exact(6, GOVERNANCE, claim, zero, 1);
    wait_until("the parameter change to be enacted", || {
        let p = c.call(GOVERNANCE, IGovernance::getProposalCall { id: U256::from(3) });
        p.status == IGovernance::Status::Enacted
    });
    // Every call now loads the changed market record: still exactly its estimate.
    let params = c.node.rpc("dbc_params", json!([]));
    assert_eq!(params["market"]["version"], 1);
    c.exact(2, GOVERNANCE, IGovernance::lockCall {}, dbc(5), 1);
    c.exact(2, GOVERNANCE, IGovernance::unlockCall { amount: dbc(5) }, zero, 1);
    // The council: candidacies, ballots that create, join and leave classes, locks that move a
    // ballot's weight, a renounced candidacy.
    let (a, b) = (c.addr(3), c.addr(4));
    c.exact(3, GOVERNANCE, IGovernance::submitCandidacyCall {}, dbc(10), 1);
    c.exact(4, GOVERNANCE, IGovernance::submitCandidacyCall {}, dbc(10), 2);
    c.exact(1, GOVERNANCE, IGovernance::voteCouncilCall { approvals: vec![a, b] }, zero, 1);
    c.exact(2, GOVERNANCE, IGovernance::voteCouncilCall { approvals: vec![a, b] }, zero, 2);
    c.exact(2, GOVERNANCE, IGovernance::voteCouncilCall { approvals: vec![a] }, zero, 1);
    c.exact(1, GOVERNANCE, IGovernance::lockCall {}, dbc(5), 1);
    c.exact(1, GOVERNANCE, IGovernance::unlockCall { amount: dbc(5) }, zero, 1);
    c.exact(2, GOVERNANCE, IGovernance::removeCouncilVoteCall {}, zero, 1);
    c.exact(4, GOVERNANCE, IGovernance::renounceCandidacyCall {}, zero, 1);
    report(&c);
    assert_eq!(c.sent.len(), 32);
}

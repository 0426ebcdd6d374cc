//! Voting locks and referenda: a spend enacted at the epoch boundary, deposits returned or lost,
//! committed votes, spam pricing, and every refusal.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{Address, Bytes, U256, address};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use dbc_chainspec::{DBC, GovernanceParams, MarketParams};

use crate::{
    GOVERNANCE_ADDRESS, SYSTEM_ADDRESS,
    abi::IGovernance::{self, Kind, Route, Status},
    testing::MockChain,
};

pub(super) const PROPOSER: Address = address!("0x00000000000000000000000000000000000a0001");
pub(super) const ALICE: Address = address!("0x00000000000000000000000000000000000a0002");
pub(super) const BOB: Address = address!("0x00000000000000000000000000000000000a0003");
pub(super) const PAYEE: Address = address!("0x00000000000000000000000000000000000a0004");

pub(super) fn dbc(n: u64) -> U256 {
    U256::from(n) * U256::from(DBC)
}

/// A chain of 1,000 DBC (turnout 5% = 50 DBC), referenda of 5 blocks, enactment 3 blocks
/// after the pass at a boundary of 10-block epochs, deposits of 100 DBC, 4 open at most.
pub(super) fn chain() -> MockChain {
    let mut c = MockChain::new(MarketParams::default());
    c.genesis_supply = dbc(1_000);
    c.staking.epoch_blocks = 10;
    c.governance = GovernanceParams {
        burn_floor: U256::ZERO,
        referendum_blocks: 5,
        enactment_delay_blocks: 3,
        proposal_deposit: dbc(100),
        max_open_proposals: 4,
        max_payload_bytes: 64,
        ..GovernanceParams::default()
    };
    for who in [PROPOSER, ALICE, BOB] {
        c.fund(who, dbc(10_000));
    }
    c
}

pub(super) fn send<C: SolCall>(c: &mut MockChain, who: Address, value: U256, call: C) -> C::Return {
    let out = c.tx_governance(who, value, &call.abi_encode(), false, true).unwrap();
    C::abi_decode_returns(&out).unwrap()
}

pub(super) fn refused<C: SolCall, E: SolError>(
    c: &mut MockChain,
    who: Address,
    value: U256,
    call: C,
    e: E,
) {
    let out = c.tx_governance(who, value, &call.abi_encode(), false, true).unwrap_err();
    assert_eq!(out, Bytes::from(e.abi_encode()), "{}", C::SIGNATURE);
}

pub(super) fn view<C: SolCall>(c: &mut MockChain, call: C) -> C::Return {
    let out = c.tx_governance(ALICE, U256::ZERO, &call.abi_encode(), true, true).unwrap();
    C::abi_decode_returns(&out).unwrap()
}

/// Ends the current block (the governance hook, no supply change) and starts the next one;
/// returns the hook's logs.
pub(super) fn end_block(c: &mut MockChain) -> Vec<alloy_primitives::LogData> {
    let data = crate::governance::hook_calldata(alloy_primitives::I256::ZERO);
    c.tx_governance(SYSTEM_ADDRESS, U256::ZERO, &data, false, true).unwrap();
    c.number += 1;
    c.last_logs.clone()
}

pub(super) fn end_blocks_to(c: &mut MockChain, last: u64) -> Vec<alloy_primitives::LogData> {
    let mut logs = vec![];
    while c.number <= last {
        logs.extend(end_block(c));
    }
    logs
}

fn spend(to: Address, amount: U256) -> IGovernance::proposeSpendCall {
    IGovernance::proposeSpendCall {
        to,
        amount,
        streamBlocks: 0,
        route: Route::Referendum,
        description: "pay".into(),
    }
}

fn text() -> IGovernance::proposeTextCall {
    IGovernance::proposeTextCall { route: Route::Referendum, description: "hello".into() }
}

#[test]
fn a_passed_referendum_spends_the_treasury_at_the_epoch_boundary() {
    let mut c = chain();
    c.fund(GOVERNANCE_ADDRESS, dbc(500));
    send(&mut c, ALICE, dbc(60), IGovernance::lockCall {});
    let need = view(
        &mut c,
        IGovernance::requiredDepositCall { kind: Kind::TreasurySpend, spendAmount: dbc(100) },
    );
    assert_eq!(need, dbc(100));
    // 5% of a 3,000 DBC spend is more than the base.
    let big =
        IGovernance::requiredDepositCall { kind: Kind::TreasurySpend, spendAmount: dbc(3_000) };
    assert_eq!(view(&mut c, big), dbc(150));
    refused(
        &mut c,
        PROPOSER,
        dbc(99),
        spend(PAYEE, dbc(100)),
        IGovernance::WrongDeposit { required: dbc(100) },
    );
    let id = send(&mut c, PROPOSER, dbc(100), spend(PAYEE, dbc(100)));
    assert_eq!(id, U256::from(1));
    let created = c
        .last_logs
        .iter()
        .find_map(|l| IGovernance::ProposalCreated::decode_log_data(l).ok())
        .unwrap();
    assert_eq!((created.voteStart, created.voteEnd), (U256::from(1), U256::from(6)));
    assert_eq!(created.targets, vec![GOVERNANCE_ADDRESS]);
    // The lock and the deposit are held for their owners, not spendable.
    let t = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!((t.balance, t.available), (dbc(660), dbc(500)));

    assert_eq!(
        send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 }),
        dbc(60)
    );
    // The vote commits the lock until the vote end + the delay + an epoch.
    let lock = view(&mut c, IGovernance::lockOfCall { voter: ALICE });
    assert_eq!((lock.locked, lock.committed, lock.committedUntil), (dbc(60), dbc(60), 19));
    refused(
        &mut c,
        ALICE,
        U256::ZERO,
        IGovernance::unlockCall { amount: dbc(1) },
        IGovernance::LockCommitted { unlockable: U256::ZERO, until: 19 },
    );
    // More locked later is free to leave.
    send(&mut c, ALICE, dbc(5), IGovernance::lockCall {});
    send(&mut c, ALICE, U256::ZERO, IGovernance::unlockCall { amount: dbc(5) });

    // Counted at the end of block 6: 60 of 1,000 DBC turned out, all for.
    let before = c.balance(PROPOSER);
    let logs = end_blocks_to(&mut c, 6);
    assert_eq!(c.balance(PROPOSER), before + dbc(100), "deposit returned");
    let queued =
        logs.iter().find_map(|l| IGovernance::ProposalQueued::decode_log_data(l).ok()).unwrap();
    // Passed at 6: E is the first multiple of 10 after 6 + 3.
    assert_eq!(queued.etaSeconds, U256::from(10));
    let p = view(&mut c, IGovernance::getProposalCall { id });
    assert_eq!((p.status, p.enactAt, p.forVotes, p.voters), (Status::Queued, 10, dbc(60), 1));
    refused(
        &mut c,
        BOB,
        U256::ZERO,
        IGovernance::castVoteCall { proposalId: id, support: 0 },
        IGovernance::VotingClosed { id },
    );

    // Enacted at the end of block 9, E − 1.
    end_blocks_to(&mut c, 8);
    assert_eq!(c.balance(PAYEE), U256::ZERO);
    let logs = end_block(&mut c);
    assert_eq!(c.balance(PAYEE), dbc(100));
    let spent = logs.iter().find_map(|l| IGovernance::TreasurySpent::decode_log_data(l).ok());
    assert_eq!(spent.map(|e| (e.to, e.amount)), Some((PAYEE, dbc(100))));
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).status, Status::Enacted);
    let t = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!((t.available, t.spent), (dbc(400), dbc(100)));

    // After block 19 the lock is free again.
    end_blocks_to(&mut c, 18);
    let before = c.balance(ALICE);
    send(&mut c, ALICE, U256::ZERO, IGovernance::unlockCall { amount: dbc(60) });
    assert_eq!(c.balance(ALICE), before + dbc(60));
    refused(
        &mut c,
        ALICE,
        U256::ZERO,
        IGovernance::unlockCall { amount: dbc(1) },
        IGovernance::NothingLocked {},
    );
}

#[test]
fn failed_referenda_lose_their_deposit_and_stale_spends_fail_at_enactment() {
    let mut c = chain();
    c.fund(GOVERNANCE_ADDRESS, dbc(150));
    // Nobody votes: turnout missed.
    let quiet = send(&mut c, PROPOSER, dbc(100), text());
    // Defeated: 60 against, 40 for.
    let defeated = send(&mut c, PROPOSER, dbc(200), text());
    send(&mut c, ALICE, dbc(60), IGovernance::lockCall {});
    send(&mut c, BOB, dbc(40), IGovernance::lockCall {});
    // A revote replaces the vote: Alice first for, then against.
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: defeated, support: 1 });
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: defeated, support: 0 });
    send(&mut c, BOB, U256::ZERO, IGovernance::castVoteCall { proposalId: defeated, support: 1 });
    let p = view(&mut c, IGovernance::getProposalCall { id: defeated });
    assert_eq!((p.forVotes, p.againstVotes, p.voters), (dbc(40), dbc(60), 2));
    let logs = end_blocks_to(&mut c, 6);
    let rejected: Vec<_> = logs
        .iter()
        .filter_map(|l| IGovernance::ProposalRejected::decode_log_data(l).ok())
        .map(|e| (e.id, e.reason, e.depositToTreasury))
        .collect();
    assert_eq!(rejected, vec![(quiet, 3, dbc(100)), (defeated, 2, dbc(200))]);
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 6 }), dbc(300));
    let t = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!(t.available, dbc(450), "150 + the lost deposits");

    // Two spends of 300 pass; the second finds the treasury short at enactment.
    let first = send(&mut c, PROPOSER, dbc(100), spend(PAYEE, dbc(300)));
    let second = send(&mut c, PROPOSER, dbc(200), spend(BOB, dbc(300)));
    for id in [first, second] {
        send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 });
    }
    // Proposed at 7, counted at 12, E = 20.
    let logs = end_blocks_to(&mut c, 19);
    assert_eq!(c.balance(PAYEE), dbc(300));
    let failed =
        logs.iter().find_map(|l| IGovernance::EnactmentFailed::decode_log_data(l).ok()).unwrap();
    assert_eq!(failed.id, second);
    assert_eq!(
        view(&mut c, IGovernance::getProposalCall { id: second }).status,
        Status::EnactmentFailed
    );
    let t = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!((t.available, t.spent), (dbc(150), dbc(300)));
}

#[test]
fn spam_costs_more_as_slots_fill_and_bad_calls_are_refused() {
    let mut c = chain();
    c.fund(GOVERNANCE_ADDRESS, dbc(50));
    // 100, 200, 400, 800 DBC; the fifth is refused.
    for (i, deposit) in [100, 200, 400, 800].into_iter().enumerate() {
        let need = view(
            &mut c,
            IGovernance::requiredDepositCall { kind: Kind::Text, spendAmount: U256::ZERO },
        );
        assert_eq!(need, dbc(deposit), "proposal {i}");
        send(&mut c, PROPOSER, dbc(deposit), text());
    }
    refused(&mut c, PROPOSER, dbc(800), text(), IGovernance::TooManyOpenProposals { maximum: 4 });
    assert_eq!(view(&mut c, IGovernance::proposalCountCall {}), U256::from(4));

    let mut c = chain();
    c.fund(GOVERNANCE_ADDRESS, dbc(50));
    let council = IGovernance::proposeTextCall { route: Route::Council, description: "x".into() };
    refused(&mut c, PROPOSER, dbc(100), council, IGovernance::NoCouncil {});
    let long =
        IGovernance::proposeTextCall { route: Route::Referendum, description: "x".repeat(65) };
    refused(
        &mut c,
        PROPOSER,
        dbc(100),
        long,
        IGovernance::PayloadTooLarge { maximum: U256::from(64) },
    );
    refused(
        &mut c,
        PROPOSER,
        dbc(100),
        spend(PAYEE, dbc(51)),
        IGovernance::InsufficientTreasury { available: dbc(50) },
    );
    refused(&mut c, PROPOSER, dbc(100), spend(Address::ZERO, dbc(1)), IGovernance::BadSpend {});
    let max = GovernanceParams::default().max_stream_blocks;
    let streamed = IGovernance::proposeSpendCall { streamBlocks: max + 1, ..spend(PAYEE, dbc(1)) };
    refused(&mut c, PROPOSER, dbc(100), streamed, IGovernance::StreamTooLong { maximum: max });
    refused(&mut c, ALICE, U256::ZERO, IGovernance::lockCall {}, IGovernance::NothingLocked {});
    let id = send(&mut c, PROPOSER, dbc(100), text());
    let vote = |support| IGovernance::castVoteCall { proposalId: id, support };
    refused(&mut c, ALICE, U256::ZERO, vote(1), IGovernance::NoVotingPower {});
    send(&mut c, ALICE, dbc(1), IGovernance::lockCall {});
    refused(&mut c, ALICE, U256::ZERO, vote(3), IGovernance::BadSupport { support: 3 });
    refused(&mut c, ALICE, dbc(1), vote(1), IGovernance::NotPayable {});
    let unknown = IGovernance::castVoteCall { proposalId: U256::from(9), support: 1 };
    refused(&mut c, ALICE, U256::ZERO, unknown, IGovernance::UnknownProposal { id: U256::from(9) });
    let out = c.tx_governance(PROPOSER, U256::ZERO, &text().abi_encode(), true, true).unwrap_err();
    assert_eq!(out, Bytes::from(IGovernance::StaticCallWrite {}.abi_encode()));
    refused(
        &mut c,
        ALICE,
        U256::ZERO,
        IGovernance::getProposalCall { id: U256::ZERO },
        IGovernance::UnknownProposal { id: U256::ZERO },
    );
}

#[test]
fn thresholds_are_exact_late_votes_count_and_full_boundaries_push_enactment() {
    let mut c = chain();
    c.governance.max_enactments_per_epoch = 1;
    c.fund(GOVERNANCE_ADDRESS, dbc(500));
    // Exactly 5% turnout (50 of 1,000 DBC), all for: passes.
    let exact = send(&mut c, PROPOSER, dbc(100), text());
    // For == against: fails (for must exceed half).
    let tie = send(&mut c, PROPOSER, dbc(200), text());
    // A second passing proposal at the same boundary waits for the next (one per boundary).
    let later = send(&mut c, PROPOSER, dbc(400), text());
    send(&mut c, ALICE, dbc(50), IGovernance::lockCall {});
    send(&mut c, BOB, dbc(50), IGovernance::lockCall {});
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: exact, support: 1 });
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: tie, support: 1 });
    // Votes in the last block (6) still count.
    end_blocks_to(&mut c, 5);
    assert_eq!(c.number, 6);
    send(&mut c, BOB, U256::ZERO, IGovernance::castVoteCall { proposalId: tie, support: 0 });
    send(&mut c, BOB, U256::ZERO, IGovernance::castVoteCall { proposalId: later, support: 1 });
    end_block(&mut c);
    let get = |c: &mut MockChain, id| view(c, IGovernance::getProposalCall { id });
    let p = get(&mut c, exact);
    assert_eq!((p.status, p.enactAt), (Status::Queued, 10));
    let p = get(&mut c, tie);
    assert_eq!((p.status, p.forVotes, p.againstVotes), (Status::Rejected, dbc(50), dbc(50)));
    let p = get(&mut c, later);
    assert_eq!((p.status, p.enactAt), (Status::Queued, 20), "boundary 10 is full");
    end_blocks_to(&mut c, 9);
    assert_eq!(get(&mut c, exact).status, Status::Enacted);
    assert_eq!(get(&mut c, later).status, Status::Queued);
    end_blocks_to(&mut c, 19);
    assert_eq!(get(&mut c, later).status, Status::Enacted);

    // Spends to the precompiles or the system address are refused; so is value to unlock.
    for to in [GOVERNANCE_ADDRESS, crate::MARKET_ADDRESS, SYSTEM_ADDRESS] {
        refused(&mut c, PROPOSER, dbc(100), spend(to, dbc(1)), IGovernance::BadSpend {});
    }
    let unlock = IGovernance::unlockCall { amount: dbc(1) };
    refused(&mut c, ALICE, dbc(1), unlock, IGovernance::NotPayable {});
}

#[test]
fn tally_writes_cost_the_same_whatever_others_left() {
    // The first vote on a proposal and a vote after others' votes pay the same for the shared
    // tallies; the same for a lock when the total locked is zero or not.
    let gas_of = |others_first: bool| {
        let mut c = chain();
        let id = send(&mut c, PROPOSER, dbc(100), text());
        if others_first {
            send(&mut c, BOB, dbc(5), IGovernance::lockCall {});
            send(&mut c, BOB, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 });
        }
        send(&mut c, ALICE, dbc(5), IGovernance::lockCall {});
        let lock = c.last_gas;
        send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 });
        (lock, c.last_gas)
    };
    assert_eq!(gas_of(false), gas_of(true));
}

#[test]
fn openzeppelin_views_follow_a_proposal_through_its_life() {
    use IGovernance::ProposalState as S;
    let mut c = chain();
    send(&mut c, ALICE, dbc(60), IGovernance::lockCall {});
    let id = send(&mut c, PROPOSER, dbc(100), text());
    let state = |c: &mut MockChain| view(c, IGovernance::stateCall { proposalId: id });
    assert_eq!(state(&mut c), S::Active);
    let voted = |c: &mut MockChain, who| {
        view(c, IGovernance::hasVotedCall { proposalId: id, account: who })
    };
    assert!(!voted(&mut c, ALICE));
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 2 });
    assert!(voted(&mut c, ALICE) && !voted(&mut c, BOB));
    let v = view(&mut c, IGovernance::proposalVotesCall { proposalId: id });
    assert_eq!((v.againstVotes, v.forVotes, v.abstainVotes), (U256::ZERO, U256::ZERO, dbc(60)));
    assert_eq!(
        view(&mut c, IGovernance::getVotesCall { account: ALICE, timepoint: U256::ZERO }),
        dbc(60)
    );
    assert_eq!(view(&mut c, IGovernance::proposalDeadlineCall { proposalId: id }), U256::from(6));
    assert_eq!(view(&mut c, IGovernance::proposalSnapshotCall { proposalId: id }), U256::from(1));
    // 5% of the 1,000 DBC supply.
    assert_eq!(view(&mut c, IGovernance::quorumCall { timepoint: U256::ZERO }), dbc(50));
    // Only abstentions: not approved.
    end_blocks_to(&mut c, 6);
    assert_eq!(state(&mut c), S::Defeated);
    let again = send(&mut c, PROPOSER, dbc(100), text());
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: again, support: 1 });
    end_blocks_to(&mut c, 12);
    assert_eq!(view(&mut c, IGovernance::stateCall { proposalId: again }), S::Queued);
    let eta = view(&mut c, IGovernance::proposalEtaCall { proposalId: again });
    end_blocks_to(&mut c, eta.to::<u64>() - 1);
    assert_eq!(view(&mut c, IGovernance::stateCall { proposalId: again }), S::Executed);
    refused(
        &mut c,
        ALICE,
        U256::ZERO,
        IGovernance::stateCall { proposalId: U256::from(9) },
        IGovernance::UnknownProposal { id: U256::from(9) },
    );
    assert!(!view(&mut c, IGovernance::supportsInterfaceCall { interfaceId: [0xff; 4].into() }));
}

/// A claim of stream `id` now is refused: nothing released since the last one.
fn nothing_to_claim(c: &mut MockChain, id: U256) {
    let claim = IGovernance::claimStreamCall { proposalId: id };
    refused(c, BOB, U256::ZERO, claim, IGovernance::NothingToClaim {});
}

#[test]
fn a_streamed_spend_is_released_linearly_and_claimed_by_anyone() {
    let mut c = chain();
    c.governance.max_stream_blocks = 10;
    c.fund(GOVERNANCE_ADDRESS, dbc(500));
    send(&mut c, ALICE, dbc(60), IGovernance::lockCall {});
    let streamed =
        |blocks| IGovernance::proposeSpendCall { streamBlocks: blocks, ..spend(PAYEE, dbc(100)) };
    refused(&mut c, PROPOSER, dbc(100), streamed(11), IGovernance::StreamTooLong { maximum: 10 });
    let id = send(&mut c, PROPOSER, dbc(100), streamed(10));
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).streamBlocks, 10);
    send(&mut c, ALICE, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support: 1 });
    nothing_to_claim(&mut c, id);
    // Enacted at the end of block 9: nothing paid, 100 DBC reserved.
    let logs = end_blocks_to(&mut c, 9);
    let opened =
        logs.iter().find_map(|l| IGovernance::StreamOpened::decode_log_data(l).ok()).unwrap();
    assert_eq!(
        (opened.to, opened.total, opened.startBlock, opened.endBlock),
        (PAYEE, dbc(100), 10, 20)
    );
    assert_eq!(c.balance(PAYEE), U256::ZERO);
    let t = view(&mut c, IGovernance::treasuryCall {});
    // 500 + 60 locked; 100 reserved for the stream.
    assert_eq!(
        (t.balance, t.available, t.reserved, t.spent),
        (dbc(560), dbc(400), dbc(100), U256::ZERO)
    );
    // A spend cannot take what the stream holds.
    refused(
        &mut c,
        PROPOSER,
        dbc(100),
        spend(PAYEE, dbc(401)),
        IGovernance::InsufficientTreasury { available: dbc(400) },
    );
    nothing_to_claim(&mut c, id);
    end_blocks_to(&mut c, 12);
    // Block 13: 3 of 10 blocks released; Bob pays it out to the payee.
    assert_eq!(
        send(&mut c, BOB, U256::ZERO, IGovernance::claimStreamCall { proposalId: id }),
        dbc(30)
    );
    assert_eq!(c.balance(PAYEE), dbc(30));
    nothing_to_claim(&mut c, id);
    end_blocks_to(&mut c, 40);
    assert_eq!(
        send(&mut c, PAYEE, U256::ZERO, IGovernance::claimStreamCall { proposalId: id }),
        dbc(70)
    );
    assert_eq!(c.balance(PAYEE), dbc(100));
    let s = view(&mut c, IGovernance::getStreamCall { proposalId: id });
    assert_eq!((s.total, s.claimed), (dbc(100), dbc(100)));
    let t = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!((t.balance, t.reserved, t.spent), (dbc(460), U256::ZERO, dbc(100)));
    // A stream claim is not a view.
    let out = c
        .tx_governance(
            BOB,
            U256::ZERO,
            &IGovernance::claimStreamCall { proposalId: id }.abi_encode(),
            true,
            true,
        )
        .unwrap_err();
    assert_eq!(out, Bytes::from(IGovernance::StaticCallWrite {}.abi_encode()));
}

//! The council: a proportional election at the term's end with its bonds settled, ballots that
//! follow locks, the freeze, ballot classes, and council motions decided early or at their end.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::SolEvent;
use dbc_chainspec::CouncilParams;

use super::proposal_tests::{
    ALICE, BOB, PAYEE, PROPOSER, chain, dbc, end_blocks_to, refused, send, view,
};
use crate::{
    GOVERNANCE_ADDRESS,
    abi::IGovernance::{self, Kind, Route, Status},
    testing::MockChain,
};

const A: Address = address!("0x00000000000000000000000000000000000c0001");
const B: Address = address!("0x00000000000000000000000000000000000c0002");
const C: Address = address!("0x00000000000000000000000000000000000c0003");
const D: Address = address!("0x00000000000000000000000000000000000c0004");
const E: Address = address!("0x00000000000000000000000000000000000c0005");

/// `proposal_tests::chain` with a council of 3 seats and 1 runner-up elected every 20 blocks
/// (the first election in block 20's hook, as genesis sets it), a freeze of 5 blocks, bonds of
/// 10 DBC, motions of 5 blocks, council spends of at most 100 DBC, 150 DBC a term.
fn council_chain() -> MockChain {
    let mut c = chain();
    c.governance.max_open_proposals = 64;
    c.governance.council = CouncilParams {
        seats: 3,
        runners_up: 1,
        term_blocks: 20,
        election_freeze_blocks: 5,
        max_candidates: 8,
        candidacy_bond: dbc(10),
        min_vote_lock: dbc(1),
        max_approvals: 4,
        max_ballot_classes: 3,
        motion_blocks: 5,
        approval_bps: 6_666,
        spend_limit: dbc(100),
        term_spend_limit: dbc(150),
    };
    c.set_storage(
        GOVERNANCE_ADDRESS,
        U256::from(dbc_chainspec::GOVERNANCE_TERM_END_SLOT),
        U256::from(20),
    );
    for who in [A, B, C, D, E] {
        c.fund(who, dbc(100));
    }
    c
}

fn stand(c: &mut MockChain, who: Address) {
    send(c, who, dbc(10), IGovernance::submitCandidacyCall {});
}

fn ballot(c: &mut MockChain, who: Address, approvals: &[Address]) {
    send(c, who, U256::ZERO, IGovernance::voteCouncilCall { approvals: approvals.to_vec() });
}

fn stakes(c: &mut MockChain) -> Vec<(Address, U256)> {
    view(c, IGovernance::candidatesCall {})
        .into_iter()
        .map(|x| (x.account, x.approvalStake))
        .collect()
}

/// Five candidates; 60 DBC approve A, B, C and 40 DBC approve D, E.
fn elect_first_council(c: &mut MockChain) -> Vec<alloy_primitives::LogData> {
    for who in [A, B, C, D, E] {
        stand(c, who);
    }
    send(c, ALICE, dbc(60), IGovernance::lockCall {});
    send(c, BOB, dbc(40), IGovernance::lockCall {});
    ballot(c, ALICE, &[A, B, C]);
    ballot(c, BOB, &[D, E]);
    end_blocks_to(c, 20)
}

#[test]
fn the_election_is_proportional_and_settles_the_bonds() {
    let mut c = council_chain();
    let before = view(&mut c, IGovernance::treasuryCall {});
    let logs = elect_first_council(&mut c);
    // Seq-Phragmén: A (1/60), D (1/40), B (2/60), then C before E (a tie at 3/60 = 2/40 broken
    // by the larger approval stake). Approval-weight top-3 would have seated A, B and C.
    let elected = logs.iter().find_map(|l| IGovernance::CouncilElected::decode_log_data(l).ok());
    let elected = elected.expect("CouncilElected in block 20's hook");
    assert_eq!((elected.term, elected.termEnd), (1, 40));
    assert_eq!((elected.members, elected.runnersUp), (vec![A, D, B], vec![C]));
    let council = view(&mut c, IGovernance::councilCall {});
    assert_eq!((council.members, council.runnersUp), (vec![A, D, B], vec![C]));
    assert_eq!((council.term, council.termEnd, council.freezeStart), (1, 40, 35));
    assert!(view(&mut c, IGovernance::isCouncilMemberCall { account: D }));
    assert!(!view(&mut c, IGovernance::isCouncilMemberCall { account: C }));
    // E, fresh and not elected, lost its bond; the four others stand again with theirs.
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 7 }), dbc(10));
    assert!(logs.iter().any(|l| {
        IGovernance::TreasuryReceived::decode_log_data(l)
            .is_ok_and(|e| e.source == 7 && e.from == E && e.amount == dbc(10))
    }));
    let after = view(&mut c, IGovernance::treasuryCall {});
    // Held for voters (100) and the four carried candidates (40); E's 10 became the treasury's.
    assert_eq!(after.balance - before.balance, dbc(150));
    assert_eq!(after.available - before.available, dbc(10));
    let carried = view(&mut c, IGovernance::candidatesCall {});
    assert_eq!(carried.iter().map(|x| x.account).collect::<Vec<_>>(), vec![A, D, B, C]);
    assert!(carried.iter().all(|x| x.carried && x.bond == dbc(10) && x.approvalStake.is_zero()));
    // Ballots are per term: the old ones count for nothing now.
    assert_eq!(view(&mut c, IGovernance::lockOfCall { voter: ALICE }).ballotWeight, U256::ZERO);

    // Term 1: nobody votes; B renounces (bond back now), E stands again. At block 40 nobody has
    // approval stake, so nobody is elected: the carried A, D and C get their bonds back, E loses
    // its second bond.
    send(&mut c, B, U256::ZERO, IGovernance::renounceCandidacyCall {});
    assert_eq!(c.balance(B), dbc(100));
    refused(
        &mut c,
        B,
        U256::ZERO,
        IGovernance::renounceCandidacyCall {},
        IGovernance::NotCandidate { account: B },
    );
    stand(&mut c, E);
    let logs = end_blocks_to(&mut c, 40);
    let elected = logs.iter().find_map(|l| IGovernance::CouncilElected::decode_log_data(l).ok());
    let elected = elected.unwrap();
    assert_eq!((elected.term, elected.members.len(), elected.termEnd), (2, 0, 60));
    for who in [A, B, C, D] {
        assert_eq!(c.balance(who), dbc(100), "{who}");
    }
    assert_eq!(c.balance(E), dbc(80));
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 7 }), dbc(20));
}

#[test]
fn ballots_follow_locks_and_the_freeze_holds_them() {
    let mut c = council_chain();
    for who in [A, B, C] {
        stand(&mut c, who);
    }
    refused(
        &mut c,
        A,
        dbc(10),
        IGovernance::submitCandidacyCall {},
        IGovernance::AlreadyCandidate {},
    );
    refused(
        &mut c,
        D,
        dbc(9),
        IGovernance::submitCandidacyCall {},
        IGovernance::WrongDeposit { required: dbc(10) },
    );
    let vote = |v: &[Address]| IGovernance::voteCouncilCall { approvals: v.to_vec() };
    refused(&mut c, ALICE, U256::ZERO, vote(&[A]), IGovernance::BallotTooSmall { minimum: dbc(1) });
    send(&mut c, ALICE, dbc(5), IGovernance::lockCall {});
    refused(&mut c, ALICE, U256::ZERO, vote(&[A, D]), IGovernance::NotCandidate { account: D });
    refused(
        &mut c,
        ALICE,
        U256::ZERO,
        vote(&[A, B, C, A, B]),
        IGovernance::TooManyApprovals { maximum: 4 },
    );
    ballot(&mut c, ALICE, &[A, B]);
    assert_eq!(stakes(&mut c), vec![(A, dbc(5)), (B, dbc(5)), (C, U256::ZERO)]);
    // A fresh candidacy withdrawn keeps its slot taken and costs its bond (else candidacies
    // made and withdrawn for gas alone would fill the list); it can come back with a new bond.
    let slots = |c: &mut MockChain| view(c, IGovernance::candidatesCall {}).len();
    stand(&mut c, E);
    send(&mut c, E, U256::ZERO, IGovernance::renounceCandidacyCall {});
    assert_eq!((slots(&mut c), c.balance(E)), (3, dbc(90)));
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 7 }), dbc(10));
    refused(&mut c, ALICE, U256::ZERO, vote(&[E]), IGovernance::NotCandidate { account: E });
    stand(&mut c, E);
    assert_eq!(slots(&mut c), 4);
    send(&mut c, E, U256::ZERO, IGovernance::renounceCandidacyCall {});
    // A larger lock weighs more at once; a smaller one less; below the minimum, no ballot.
    send(&mut c, ALICE, dbc(3), IGovernance::lockCall {});
    assert_eq!(stakes(&mut c)[0], (A, dbc(8)));
    send(&mut c, ALICE, U256::ZERO, IGovernance::unlockCall { amount: dbc(2) });
    assert_eq!(view(&mut c, IGovernance::ballotOfCall { voter: ALICE }).weight, dbc(6));
    // Classes: {A,B} (Alice), {C} (Bob), {A} (Proposer); a fourth set is refused, an existing one
    // is not.
    send(&mut c, BOB, dbc(2), IGovernance::lockCall {});
    ballot(&mut c, BOB, &[C]);
    send(&mut c, PROPOSER, dbc(2), IGovernance::lockCall {});
    ballot(&mut c, PROPOSER, &[A]);
    c.fund(PAYEE, dbc(10));
    send(&mut c, PAYEE, dbc(2), IGovernance::lockCall {});
    refused(
        &mut c,
        PAYEE,
        U256::ZERO,
        vote(&[B]),
        IGovernance::TooManyBallotClasses { maximum: 3 },
    );
    ballot(&mut c, PAYEE, &[A, B]);
    ballot(&mut c, PROPOSER, &[C]);
    assert_eq!(stakes(&mut c), vec![(A, dbc(8)), (B, dbc(8)), (C, dbc(4))]);
    // The {A} class emptied and left: there is room for {B} now.
    ballot(&mut c, PAYEE, &[B]);
    assert_eq!(stakes(&mut c), vec![(A, dbc(6)), (B, dbc(8)), (C, dbc(4))]);
    // Below the least lock, the ballot goes.
    send(&mut c, BOB, U256::ZERO, IGovernance::unlockCall { amount: dbc(1) + U256::from(1) });
    assert_eq!(view(&mut c, IGovernance::ballotOfCall { voter: BOB }).weight, U256::ZERO);
    assert_eq!(stakes(&mut c)[2], (C, dbc(2)));

    // The freeze: from block 15 to the election in block 20.
    end_blocks_to(&mut c, 14);
    let frozen = IGovernance::CouncilVotesFrozen { untilBlock: 20 };
    refused(&mut c, ALICE, U256::ZERO, vote(&[C]), frozen.clone());
    refused(&mut c, ALICE, U256::ZERO, IGovernance::removeCouncilVoteCall {}, frozen.clone());
    refused(&mut c, D, dbc(10), IGovernance::submitCandidacyCall {}, frozen.clone());
    refused(&mut c, A, U256::ZERO, IGovernance::renounceCandidacyCall {}, frozen.clone());
    refused(&mut c, ALICE, U256::ZERO, IGovernance::unlockCall { amount: dbc(1) }, frozen);
    // A lock may grow, but the ballot does not; what exceeds it may leave again.
    send(&mut c, ALICE, dbc(4), IGovernance::lockCall {});
    assert_eq!(view(&mut c, IGovernance::ballotOfCall { voter: ALICE }).weight, dbc(6));
    send(&mut c, ALICE, U256::ZERO, IGovernance::unlockCall { amount: dbc(4) });
    let elected = end_blocks_to(&mut c, 20)
        .iter()
        .find_map(|l| IGovernance::CouncilElected::decode_log_data(l).ok())
        .unwrap();
    // B (8 DBC), then A (whose voter shares B's load), then C (2 DBC); nobody is left.
    assert_eq!((elected.members, elected.runnersUp), (vec![B, A, C], vec![]));
}

fn motion_spend(amount: U256) -> IGovernance::proposeSpendCall {
    IGovernance::proposeSpendCall {
        to: PAYEE,
        amount,
        streamBlocks: 0,
        route: Route::Council,
        description: "council pays".into(),
    }
}

fn vote(c: &mut MockChain, who: Address, id: U256, support: u8) -> U256 {
    send(c, who, U256::ZERO, IGovernance::castVoteCall { proposalId: id, support })
}

#[test]
fn council_motions_pass_or_fail_as_soon_as_the_result_is_certain() {
    let mut c = council_chain();
    c.fund(GOVERNANCE_ADDRESS, dbc(1_000));
    refused(&mut c, PROPOSER, dbc(100), motion_spend(dbc(10)), IGovernance::NoCouncil {});
    elect_first_council(&mut c);
    // Members A, D and B: two of three pass a motion.
    let id = send(&mut c, PROPOSER, dbc(100), motion_spend(dbc(100)));
    let p = view(&mut c, IGovernance::getProposalCall { id });
    assert_eq!((p.route, p.term, p.seated, p.voteEnd), (Route::Council, 1, 3, 26));
    refused(
        &mut c,
        ALICE,
        U256::ZERO,
        IGovernance::castVoteCall { proposalId: id, support: 1 },
        IGovernance::NotCouncilMember { term: 1 },
    );
    assert_eq!(vote(&mut c, A, id, 1), U256::from(1));
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).status, Status::Voting);
    vote(&mut c, D, id, 1);
    let queued =
        c.last_logs.iter().find_map(|l| IGovernance::ProposalQueued::decode_log_data(l).ok());
    // Passed in block 21 by D's vote: E = the boundary after 21 + 3 (epochs of 10).
    assert_eq!(queued.unwrap().etaSeconds, U256::from(30));
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).status, Status::Queued);
    let page = IGovernance::proposalVotersCall { id, offset: U256::ZERO, limit: U256::from(9) };
    let voters = view(&mut c, page);
    assert_eq!((voters.voters, voters.support), (vec![A, D], vec![1, 1]));
    assert_eq!(voters.weights, vec![U256::from(1); 2]);
    let page = IGovernance::proposalVotersCall { id, offset: U256::from(1), limit: U256::MAX };
    assert_eq!(view(&mut c, page).voters, vec![D]);
    refused(
        &mut c,
        B,
        U256::ZERO,
        IGovernance::castVoteCall { proposalId: id, support: 1 },
        IGovernance::VotingClosed { id },
    );
    // A second motion is rejected once two of three are against; its deposit is lost.
    let text = IGovernance::proposeTextCall { route: Route::Council, description: "no".into() };
    let no = send(&mut c, PROPOSER, dbc(100), text);
    vote(&mut c, B, no, 0);
    vote(&mut c, A, no, 2);
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id: no }).status, Status::Voting);
    vote(&mut c, D, no, 0);
    let rejected =
        c.last_logs.iter().find_map(|l| IGovernance::ProposalRejected::decode_log_data(l).ok());
    assert_eq!(rejected.unwrap().reason, 1);
    // Limits: 100 DBC a spend, 150 a term (the first one counts at its pass), and governance's
    // own parameters only by referendum.
    refused(
        &mut c,
        PROPOSER,
        dbc(100),
        motion_spend(dbc(101)),
        IGovernance::SpendAboveCouncilLimit { limit: dbc(100) },
    );
    refused(
        &mut c,
        PROPOSER,
        dbc(100),
        motion_spend(dbc(51)),
        IGovernance::SpendAboveCouncilLimit { limit: dbc(150) },
    );
    let record =
        view(&mut c, IGovernance::currentParamsCall { target: IGovernance::Target::Governance });
    let own = IGovernance::proposeParamsCall {
        target: IGovernance::Target::Governance,
        params: record,
        route: Route::Council,
        description: String::new(),
    };
    refused(
        &mut c,
        PROPOSER,
        dbc(100),
        own,
        IGovernance::RouteNotAllowed { kind: Kind::ParamChange, route: Route::Council },
    );
    // A motion nobody decides is rejected at its end.
    let quiet = send(&mut c, PROPOSER, dbc(100), motion_spend(dbc(50)));
    end_blocks_to(&mut c, 29);
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id: quiet }).status, Status::Rejected);
    // The passed spend is paid at the end of block 29.
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id }).status, Status::Enacted);
    assert_eq!(c.balance(PAYEE), dbc(100));
}

#[test]
fn what_depends_on_others_costs_the_same_gas_and_limits_follow_the_motions_term() {
    // A chain without `config.dbc` holds no elections: nothing to stand for.
    let mut bare = chain();
    bare.fund(A, dbc(100));
    refused(&mut bare, A, dbc(10), IGovernance::submitCandidacyCall {}, IGovernance::NoCouncil {});

    let mut c = council_chain();
    c.fund(GOVERNANCE_ADDRESS, dbc(1_000));
    elect_first_council(&mut c);
    // Term 1's ballots (A, B, C and D stand again). The first ballot of a set creates its class, the second joins it: same gas.
    ballot(&mut c, ALICE, &[A, B]);
    let creates = c.last_gas;
    ballot(&mut c, BOB, &[A, B]);
    assert_eq!(c.last_gas, creates, "joining a class costs what creating one does");
    // Leaving a class that stays and leaving one that goes: same gas.
    ballot(&mut c, ALICE, &[A]);
    let stays = c.last_gas;
    ballot(&mut c, BOB, &[A]);
    assert_eq!(c.last_gas, stays, "emptying a class costs what leaving one does");

    // A vote that does not decide a motion costs what the deciding one does.
    let id = send(&mut c, PROPOSER, dbc(100), motion_spend(dbc(100)));
    vote(&mut c, A, id, 1);
    let first = c.last_gas;
    vote(&mut c, D, id, 1);
    assert_eq!(c.last_gas, first, "the deciding vote");
    // Two 50 DBC motions of term 1 (of 30 blocks), each within its budget when proposed
    // (100 + 50 ≤ 150); the one passed after the election still counts against term 1's
    // budget, which it would exceed: it fails, with its deposit returned.
    c.governance.council.motion_blocks = 30;
    let late = send(&mut c, PROPOSER, dbc(100), motion_spend(dbc(50)));
    let later = send(&mut c, PROPOSER, dbc(100), motion_spend(dbc(50)));
    vote(&mut c, A, late, 1);
    vote(&mut c, D, late, 1);
    assert_eq!(view(&mut c, IGovernance::getProposalCall { id: late }).status, Status::Queued);
    end_blocks_to(&mut c, 40);
    assert_eq!(view(&mut c, IGovernance::councilCall {}).term, 2);
    vote(&mut c, A, later, 1);
    let proposer = c.balance(PROPOSER);
    vote(&mut c, D, later, 1);
    let p = view(&mut c, IGovernance::getProposalCall { id: later });
    assert_eq!(p.status, Status::EnactmentFailed);
    assert_eq!(c.balance(PROPOSER), proposer + dbc(100), "deposit returned");
}

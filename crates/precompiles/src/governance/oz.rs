//! OpenZeppelin `IGovernor`'s views over the referenda (`docs/governance-design.md` §9), so
//! governance front ends and indexers in the style of Tally read proposals unchanged. Only
//! views: proposals are typed and enacted by the chain, so `propose`, `queue`, `execute` and
//! `cancel` do not exist.

use alloy_primitives::{Bytes, FixedBytes, U256, aliases::U48};

use crate::{
    abi::{IGovernance, IGovernance::IGovernanceCalls as C},
    governance::proposals,
    host::Host,
    store::{Ctx, Res, ret},
    supply::{self, SupplyRules},
};
use dbc_chainspec::DbcParams;

/// ERC-165's and ERC-6372's interface ids (not IGovernor's: `propose` is not there).
const ERC165: [u8; 4] = [0x01, 0xff, 0xc9, 0xa7];
const ERC6372: [u8; 4] = [0xda, 0x28, 0x7a, 0x1d];

/// Answers `call` if it is one of OpenZeppelin's views, else `None`.
pub(super) fn view<H: Host>(ctx: &mut Ctx<'_, H>, p: &DbcParams, call: &C) -> Option<Res<Bytes>> {
    Some(match call {
        C::name(_) => ret::<IGovernance::nameCall>(&"DBC Governance".to_string()),
        C::version(_) => ret::<IGovernance::versionCall>(&"1".to_string()),
        C::COUNTING_MODE(_) => ret::<IGovernance::COUNTING_MODECall>(
            &"support=bravo&quorum=for,against,abstain".to_string(),
        ),
        C::clock(_) => ret::<IGovernance::clockCall>(&U48::from(ctx.now)),
        C::CLOCK_MODE(_) => {
            ret::<IGovernance::CLOCK_MODECall>(&"mode=blocknumber&from=default".to_string())
        }
        C::state(c) => proposals::summary(ctx, c.proposalId)
            .and_then(|s| ret::<IGovernance::stateCall>(&s.state)),
        C::proposalSnapshot(c) => proposals::summary(ctx, c.proposalId)
            .and_then(|s| ret::<IGovernance::proposalSnapshotCall>(&U256::from(s.vote_start))),
        C::proposalDeadline(c) => proposals::summary(ctx, c.proposalId)
            .and_then(|s| ret::<IGovernance::proposalDeadlineCall>(&U256::from(s.vote_end))),
        C::proposalProposer(c) => proposals::summary(ctx, c.proposalId)
            .and_then(|s| ret::<IGovernance::proposalProposerCall>(&s.proposer)),
        C::proposalEta(c) => proposals::summary(ctx, c.proposalId)
            .and_then(|s| ret::<IGovernance::proposalEtaCall>(&U256::from(s.enact_at))),
        C::proposalNeedsQueuing(c) => proposals::summary(ctx, c.proposalId)
            .and_then(|_| ret::<IGovernance::proposalNeedsQueuingCall>(&false)),
        C::votingDelay(_) => ret::<IGovernance::votingDelayCall>(&U256::ZERO),
        C::votingPeriod(_) => {
            ret::<IGovernance::votingPeriodCall>(&U256::from(p.governance.referendum_blocks))
        }
        C::proposalThreshold(_) => ret::<IGovernance::proposalThresholdCall>(&U256::ZERO),
        C::quorum(_) => supply::total_supply(ctx, SupplyRules::of(p)).and_then(|supply| {
            let bps = U256::from(p.governance.referendum_turnout_bps);
            // Supply × bps fits: the supply is far below 2^240.
            let q = supply.saturating_mul(bps) / U256::from(10_000);
            ret::<IGovernance::quorumCall>(&q)
        }),
        C::getVotes(c) => {
            proposals::votes_of(ctx, c.account).and_then(|v| ret::<IGovernance::getVotesCall>(&v))
        }
        C::hasVoted(c) => proposals::has_voted(ctx, c.proposalId, c.account)
            .and_then(|v| ret::<IGovernance::hasVotedCall>(&v)),
        C::proposalVotes(c) => proposals::summary(ctx, c.proposalId).and_then(|s| {
            let [against, for_, abstain] = s.votes;
            ret::<IGovernance::proposalVotesCall>(&IGovernance::proposalVotesReturn {
                againstVotes: against,
                forVotes: for_,
                abstainVotes: abstain,
            })
        }),
        C::supportsInterface(c) => {
            let id: FixedBytes<4> = c.interfaceId;
            let yes = id.0 == ERC165 || id.0 == ERC6372;
            ret::<IGovernance::supportsInterfaceCall>(&yes)
        }
        _ => return None,
    })
}

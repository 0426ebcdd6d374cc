//! The governance precompile at `0x…0D04` (`contracts/src/interfaces/IGovernance.sol`): the
//! treasury (donations, balance, inflows by source), the supply ledger, voting locks,
//! proposals decided by referendum or council motion (`proposals/`), the council's election
//! (`council.rs`, `phragmen.rs`), and the emission schedules' views. Parameter changes put new
//! records in force (`params.rs`). The design is `docs/governance-design.md`.

mod council;
mod oz;
mod phragmen;
mod proposals;

pub use proposals::idle_hook_slots;

use alloy_primitives::{B256, Bytes, I256, U256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use dbc_chainspec::{DbcParams, EmissionSchedule, GOVERNANCE_ADDRESS};

use crate::{
    Call, Outcome,
    abi::{IGovernance, IGovernance::IGovernanceCalls},
    host::Host,
    store::{Ctx, Res, ck, gas, ret, revert, selector_of},
    supply::{self, G_PENDING_BURN, G_SUPPLY_DELTA, SupplyRules},
    treasury,
};

/// Calldata of the end-of-block call with the block's net balance change.
pub fn hook_calldata(supply_change: I256) -> Bytes {
    IGovernance::onBlockCall { supplyChange: supply_change }.abi_encode().into()
}

/// Sources of treasury inflows, as `TreasuryReceived.source` numbers them.
pub const TREASURY_SOURCES: [u8; 9] = [
    treasury::source::MACHINE_SLASH,
    treasury::source::AUDITOR_PENALTY,
    treasury::source::REJECTED_MACHINE,
    treasury::source::LOST_REPORT_DEPOSIT,
    treasury::source::VALIDATOR_SLASH,
    treasury::source::LOST_PROPOSAL_DEPOSIT,
    treasury::source::CANDIDACY_BOND,
    treasury::source::BURN_FLOOR,
    treasury::source::DONATION,
];

/// Storage slots of `0x…0D04` that count the treasury's flows, for reading its history from
/// the state: what it ever spent, what it ever received, and what it received from each of
/// [`TREASURY_SOURCES`] (in that order). A slot changes in exactly the blocks whose flows it
/// counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreasurySlots {
    /// Everything spent.
    pub spent: B256,
    /// Everything received.
    pub received: B256,
    /// Received per source.
    pub by_source: [B256; 9],
}

/// The treasury's counter slots.
pub fn treasury_slots() -> TreasurySlots {
    TreasurySlots {
        spent: B256::from(U256::from(treasury::G_SPENT)),
        received: B256::from(U256::from(treasury::G_RECEIVED)),
        by_source: TREASURY_SOURCES.map(|s| B256::from(treasury::received_slot(s))),
    }
}

/// Runs one call of the governance precompile.
pub fn execute<H: Host>(host: &mut H, params: &DbcParams, call: Call<'_>) -> Outcome {
    let metered = call.caller != crate::SYSTEM_ADDRESS;
    let mut ctx = Ctx::new(host, GOVERNANCE_ADDRESS, &params.market, call.gas, metered);
    ctx.supply = Some(SupplyRules::of(params));
    let result = dispatch(&mut ctx, params, &call);
    Outcome::of(result, ctx.gas_used.min(call.gas))
}

fn dispatch<H: Host>(ctx: &mut Ctx<'_, H>, params: &DbcParams, call: &Call<'_>) -> Res<Bytes> {
    use IGovernanceCalls as C;
    ctx.charge(gas::BASE)?;
    if !call.direct {
        return Err(revert(IGovernance::DelegateCallNotAllowed {}));
    }
    if call.data.get(..4) == Some(&IGovernance::onBlockCall::SELECTOR[..]) {
        let Ok(c) = IGovernance::onBlockCall::abi_decode(call.data) else {
            return Err(revert(IGovernance::UnknownSelector { selector: selector_of(call.data) }));
        };
        if call.caller != crate::SYSTEM_ADDRESS || call.is_static || !call.value.is_zero() {
            return Err(revert(IGovernance::UnknownSelector { selector: selector_of(call.data) }));
        }
        on_block(ctx, SupplyRules::of(params), c.supplyChange)?;
        proposals::run_due(ctx, params, SupplyRules::of(params))?;
        // Last: a motion enacted or counted in this block was decided by the council of the
        // term it started in.
        council::on_block(ctx, params)?;
        return Ok(Bytes::new());
    }
    let Ok(decoded) = C::abi_decode(call.data) else {
        return Err(revert(IGovernance::UnknownSelector { selector: selector_of(call.data) }));
    };
    let payable = matches!(
        decoded,
        C::fund(_)
            | C::lock(_)
            | C::proposeText(_)
            | C::proposeSpend(_)
            | C::proposeParams(_)
            | C::proposeValidatorSetSize(_)
            | C::submitCandidacy(_)
    );
    let view = !payable
        && !matches!(
            decoded,
            C::onBlock(_)
                | C::unlock(_)
                | C::castVote(_)
                | C::castVoteWithReason(_)
                | C::claimStream(_)
                | C::renounceCandidacy(_)
                | C::voteCouncil(_)
                | C::removeCouncilVote(_)
        );
    if call.is_static && !view {
        return Err(revert(IGovernance::StaticCallWrite {}));
    }
    if !call.value.is_zero() && !payable {
        return Err(revert(IGovernance::NotPayable {}));
    }
    if let Some(answer) = oz::view(ctx, params, &decoded) {
        return answer;
    }
    match decoded {
        C::fund(_) => {
            if call.value.is_zero() {
                return Err(revert(IGovernance::NothingToFund {}));
            }
            // The value is already in this account.
            treasury::receive(ctx, treasury::source::DONATION, call.caller, call.value)?;
            Ok(Bytes::new())
        }
        C::lock(_) => proposals::lock(ctx, params, call.caller, call.value),
        C::unlock(c) => proposals::unlock(ctx, params, call.caller, c.amount),
        C::submitCandidacy(_) => council::submit_candidacy(ctx, params, call.caller, call.value),
        C::renounceCandidacy(_) => council::renounce_candidacy(ctx, params, call.caller),
        C::voteCouncil(c) => proposals::vote_council(ctx, params, call.caller, &c.approvals),
        C::removeCouncilVote(_) => proposals::vote_council(ctx, params, call.caller, &[]),
        C::council(_) => council::council_view(ctx, params),
        C::candidates(_) => council::candidates_view(ctx),
        C::isCouncilMember(c) => {
            let (term, _) = council::term(ctx)?;
            let member = council::is_member(ctx, term, c.account)?;
            ret::<IGovernance::isCouncilMemberCall>(&member)
        }
        C::ballotOf(c) => {
            let (_, v) = proposals::voter(ctx, c.voter)?;
            council::ballot_view(ctx, &v)
        }
        C::lockOf(c) => proposals::lock_of(ctx, c.voter),
        C::proposeText(c) => proposals::propose_text(ctx, params, call.caller, call.value, c),
        C::proposeSpend(c) => proposals::propose_spend(ctx, params, call.caller, call.value, c),
        C::proposeParams(c) => proposals::propose_params(ctx, params, call.caller, call.value, c),
        C::proposeValidatorSetSize(c) => {
            proposals::propose_validator_set_size(ctx, params, call.caller, call.value, c)
        }
        C::proposalPayload(c) => proposals::proposal_payload(ctx, c.id),
        C::claimStream(c) => proposals::claim_stream(ctx, c.proposalId),
        C::getStream(c) => proposals::get_stream(ctx, c.proposalId),
        C::currentParams(c) => {
            let t = crate::params::target_arg(c.target)?;
            let record = crate::params::encode(params, t);
            ctx.charge(gas::STEP.saturating_mul(record.len().div_ceil(32) as u64))?;
            ret::<IGovernance::currentParamsCall>(&Bytes::from(record))
        }
        C::paramsVersion(c) => {
            let t = crate::params::target_arg(c.target)?;
            let (version, effective_from, hash) = crate::params::in_force(ctx, t)?;
            ret::<IGovernance::paramsVersionCall>(&IGovernance::paramsVersionReturn {
                version,
                effectiveFrom: effective_from,
                paramsHash: hash,
            })
        }
        C::requiredDeposit(c) => proposals::required_deposit_view(ctx, params, &c),
        C::castVote(c) => {
            proposals::cast_vote(ctx, params, call.caller, c.proposalId, c.support, String::new())
        }
        C::castVoteWithReason(c) => {
            proposals::cast_vote(ctx, params, call.caller, c.proposalId, c.support, c.reason)
        }
        C::getProposal(c) => proposals::get_proposal(ctx, c.id),
        C::proposalVoters(c) => proposals::proposal_voters(ctx, c.id, c.offset, c.limit),
        C::proposalCount(_) => {
            let n = ctx.g(proposals::G_PROPOSALS)?;
            ret::<IGovernance::proposalCountCall>(&n)
        }
        C::treasury(_) => {
            let available = proposals::available(ctx)?;
            let balance = ctx.host.balance(GOVERNANCE_ADDRESS)?;
            let info = IGovernance::TreasuryInfo {
                balance,
                available,
                received: ctx.g(treasury::G_RECEIVED)?,
                spent: ctx.g(treasury::G_SPENT)?,
                reserved: proposals::reserved(ctx)?,
            };
            ret::<IGovernance::treasuryCall>(&info)
        }
        C::treasuryReceived(c) => {
            let v = ctx.get(treasury::received_slot(c.source))?;
            ret::<IGovernance::treasuryReceivedCall>(&v)
        }
        C::totalSupply(_) => ret::<IGovernance::totalSupplyCall>(&supply::total_supply(
            ctx,
            SupplyRules::of(params),
        )?),
        C::burnFloor(_) => ret::<IGovernance::burnFloorCall>(&params.governance.burn_floor),
        C::burnHeadroom(_) => {
            ret::<IGovernance::burnHeadroomCall>(&supply::headroom(ctx, SupplyRules::of(params))?)
        }
        // Routed above; a call that reaches here did not decode as the hook.
        C::onBlock(_) => {
            Err(revert(IGovernance::UnknownSelector { selector: selector_of(call.data) }))
        }
        // OpenZeppelin's views, answered by `oz::view` above.
        C::name(_)
        | C::version(_)
        | C::COUNTING_MODE(_)
        | C::clock(_)
        | C::CLOCK_MODE(_)
        | C::state(_)
        | C::proposalSnapshot(_)
        | C::proposalDeadline(_)
        | C::proposalProposer(_)
        | C::proposalEta(_)
        | C::proposalNeedsQueuing(_)
        | C::votingDelay(_)
        | C::votingPeriod(_)
        | C::proposalThreshold(_)
        | C::quorum(_)
        | C::getVotes(_)
        | C::hasVoted(_)
        | C::proposalVotes(_)
        | C::supportsInterface(_) => {
            Err(revert(IGovernance::UnknownSelector { selector: selector_of(call.data) }))
        }
        C::emissionRate(c) => {
            let (schedule, pool) = match c.target {
                IGovernance::Target::Market => (&params.market.emission, params.market.reward_pool),
                IGovernance::Target::Staking => {
                    (&params.staking.emission, params.staking.reward_pool)
                }
                _ => {
                    return Err(revert(IGovernance::UnknownSelector {
                        selector: selector_of(call.data),
                    }));
                }
            };
            let (per_block, era) = emission_now(ctx, schedule, pool)?;
            ret::<IGovernance::emissionRateCall>(&IGovernance::emissionRateReturn {
                perBlock: per_block,
                era,
            })
        }
    }
}

/// The block hook: adds the block's net balance change to the ledger, mints back to the
/// treasury what base fees burned below the floor, and resets the block's pending burns. A block
/// that changed no balance and burned nothing writes nothing (so idle dev blocks stay idle).
fn on_block<H: Host>(ctx: &mut Ctx<'_, H>, rules: SupplyRules, change: I256) -> Res<()> {
    let pending = ctx.g(G_PENDING_BURN)?;
    if change.is_zero() && pending.is_zero() {
        return Ok(());
    }
    let delta = I256::from_raw(ctx.g(G_SUPPLY_DELTA)?);
    let after = ck(delta.checked_add(change))?;
    let supply = ck(supply::apply_delta(rules.genesis, after))?;
    let mut minted = U256::ZERO;
    if change.is_negative() && supply < rules.floor {
        minted = (rules.floor - supply).min(change.unsigned_abs());
        ctx.host.mint(GOVERNANCE_ADDRESS, minted)?;
        // Counted as an inflow (the DBC is already in this account).
        treasury::receive(
            ctx,
            treasury::source::BURN_FLOOR,
            alloy_primitives::Address::ZERO,
            minted,
        )?;
        ctx.emit(
            IGovernance::BurnFloorReached { totalSupply: supply + minted, floor: rules.floor }
                .encode_log_data(),
        )?;
    }
    let minted_signed = ck(I256::try_from(minted).ok())?;
    let next = ck(after.checked_add(minted_signed))?;
    if next != delta {
        ctx.set_g(G_SUPPLY_DELTA, next.into_raw())?;
    }
    if !pending.is_zero() {
        ctx.set_g(G_PENDING_BURN, U256::ZERO)?;
    }
    Ok(())
}

/// The per-block release and era of `schedule` at the current block, charged per era the
/// rate computation walks.
fn emission_now<H: Host>(
    ctx: &mut Ctx<'_, H>,
    schedule: &EmissionSchedule,
    pool: U256,
) -> Res<(U256, u32)> {
    let era = schedule.era_of(ctx.now);
    ctx.charge(gas::STEP.saturating_mul(era.min(u64::from(schedule.end_era)).saturating_add(1)))?;
    Ok((schedule.rate(era, pool), u32::try_from(era).unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod council_tests;
#[cfg(test)]
mod params_tests;
#[cfg(test)]
mod proposal_tests;
#[cfg(test)]
mod tests;

//! The governance precompile at `0x…0D04` (`contracts/src/interfaces/IGovernance.sol`): for
//! now the treasury (donations, balance, inflows by source) and the emission schedules' views.
//! Council, proposals and running parameters in state follow `docs/governance-design.md`.

use alloy_primitives::{Bytes, U256};
use alloy_sol_types::SolInterface;
use dbc_chainspec::{DbcParams, EmissionSchedule, GOVERNANCE_ADDRESS};

use crate::{
    Call, Outcome,
    abi::{IGovernance, IGovernance::IGovernanceCalls},
    host::Host,
    store::{Ctx, Res, gas, ret, revert, selector_of},
    treasury,
};

/// Runs one call of the governance precompile.
pub fn execute<H: Host>(host: &mut H, params: &DbcParams, call: Call<'_>) -> Outcome {
    let metered = call.caller != crate::SYSTEM_ADDRESS;
    let mut ctx = Ctx::new(host, GOVERNANCE_ADDRESS, &params.market, call.gas, metered);
    let result = dispatch(&mut ctx, params, &call);
    Outcome::of(result, ctx.gas_used.min(call.gas))
}

fn dispatch<H: Host>(ctx: &mut Ctx<'_, H>, params: &DbcParams, call: &Call<'_>) -> Res<Bytes> {
    use IGovernanceCalls as C;
    ctx.charge(gas::BASE)?;
    if !call.direct {
        return Err(revert(IGovernance::DelegateCallNotAllowed {}));
    }
    let Ok(decoded) = C::abi_decode(call.data) else {
        return Err(revert(IGovernance::UnknownSelector { selector: selector_of(call.data) }));
    };
    let view = !matches!(decoded, C::fund(_));
    if call.is_static && !view {
        return Err(revert(IGovernance::StaticCallWrite {}));
    }
    if !call.value.is_zero() && view {
        return Err(revert(IGovernance::NotPayable {}));
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
        C::treasury(_) => {
            ctx.charge(gas::COLD_SLOAD)?;
            let balance = ctx.host.balance(GOVERNANCE_ADDRESS)?;
            let info = IGovernance::TreasuryInfo {
                balance,
                available: balance,
                received: ctx.g(treasury::G_RECEIVED)?,
                spent: ctx.g(treasury::G_SPENT)?,
            };
            ret::<IGovernance::treasuryCall>(&info)
        }
        C::treasuryReceived(c) => {
            let v = ctx.get(treasury::received_slot(c.source))?;
            ret::<IGovernance::treasuryReceivedCall>(&v)
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
mod tests;

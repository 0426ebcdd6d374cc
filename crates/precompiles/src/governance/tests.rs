//! The governance precompile: donations, the treasury's views, inflows by source from the
//! market and staking, and the emission views.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use dbc_chainspec::{DBC, EmissionSchedule, MarketParams};

use crate::{GOVERNANCE_ADDRESS, abi::IGovernance, testing::MockChain, treasury};

const DONOR: Address = address!("0x00000000000000000000000000000000000d0a0e");

fn dbc(n: u64) -> U256 {
    U256::from(n) * U256::from(DBC)
}

fn view<C: SolCall>(c: &mut MockChain, call: C) -> C::Return {
    let out = c.tx_governance(DONOR, U256::ZERO, &call.abi_encode(), true, true).unwrap();
    C::abi_decode_returns(&out).unwrap()
}

#[test]
fn donations_are_counted_by_source_and_logged_from_the_treasury() {
    let mut c = MockChain::new(MarketParams::default());
    c.fund(DONOR, dbc(10));
    let fund = IGovernance::fundCall {}.abi_encode();
    let e = c.tx_governance(DONOR, U256::ZERO, &fund, false, true).unwrap_err();
    assert_eq!(e.as_ref(), IGovernance::NothingToFund {}.abi_encode().as_slice());
    c.tx_governance(DONOR, dbc(3), &fund, false, true).unwrap();
    let (at, log) = c.last_logs_from[0].clone();
    assert_eq!(at, GOVERNANCE_ADDRESS);
    let ev = IGovernance::TreasuryReceived::decode_log_data(&log).unwrap();
    assert_eq!((ev.source, ev.from, ev.amount), (treasury::source::DONATION, DONOR, dbc(3)));
    assert_eq!(c.balance(GOVERNANCE_ADDRESS), dbc(3));
    let info = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!(
        (info.balance, info.available, info.received, info.spent),
        (dbc(3), dbc(3), dbc(3), U256::ZERO)
    );
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 9 }), dbc(3));
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 1 }), U256::ZERO);
    // The slots the RPC reads the history from hold the same counters.
    let slots = crate::governance::treasury_slots();
    let at = |c: &MockChain, slot: alloy_primitives::B256| {
        c.storage_at(GOVERNANCE_ADDRESS, U256::from_be_bytes(slot.0))
    };
    assert_eq!((at(&c, slots.received), at(&c, slots.spent)), (dbc(3), U256::ZERO));
    for (source, slot) in crate::governance::TREASURY_SOURCES.iter().zip(slots.by_source) {
        let expected = if *source == treasury::source::DONATION { dbc(3) } else { U256::ZERO };
        assert_eq!(at(&c, slot), expected, "source {source}");
    }

    // A donation by plain transfer (or SELFDESTRUCT) is in the balance, not in `received`.
    c.fund(GOVERNANCE_ADDRESS, dbc(1));
    let info = view(&mut c, IGovernance::treasuryCall {});
    assert_eq!((info.balance, info.received), (dbc(4), dbc(3)));
}

#[test]
fn calls_are_refused_like_the_other_precompiles() {
    let mut c = MockChain::new(MarketParams::default());
    c.fund(DONOR, dbc(10));
    let fund = IGovernance::fundCall {}.abi_encode();
    let e = c.tx_governance(DONOR, dbc(1), &fund, true, true).unwrap_err();
    assert_eq!(e.as_ref(), IGovernance::StaticCallWrite {}.abi_encode().as_slice());
    let e = c.tx_governance(DONOR, dbc(1), &fund, false, false).unwrap_err();
    assert_eq!(e.as_ref(), IGovernance::DelegateCallNotAllowed {}.abi_encode().as_slice());
    let t = IGovernance::treasuryCall {}.abi_encode();
    let e = c.tx_governance(DONOR, dbc(1), &t, false, true).unwrap_err();
    assert_eq!(e.as_ref(), IGovernance::NotPayable {}.abi_encode().as_slice());
    let e = c.tx_governance(DONOR, U256::ZERO, &[1, 2, 3, 4, 5], false, true).unwrap_err();
    let want = IGovernance::UnknownSelector { selector: [1, 2, 3, 4].into() }.abi_encode();
    assert_eq!(e.as_ref(), want.as_slice());
    // Nothing moved.
    assert_eq!(c.balance(DONOR), dbc(10));
    assert_eq!(c.balance(GOVERNANCE_ADDRESS), U256::ZERO);
}

#[test]
fn emission_rate_follows_the_schedule_across_eras() {
    let p = MarketParams {
        reward_pool: U256::from(40_000u64),
        emission: EmissionSchedule {
            era_blocks: 10,
            initial_per_block: U256::from(1_000u64),
            flat_eras: 1,
            decay_bps: 5_000,
            end_era: 3,
        },
        ..MarketParams::default()
    };
    let mut c = MockChain::new(p);
    let rate = |c: &mut MockChain| {
        let r = view(c, IGovernance::emissionRateCall { target: IGovernance::Target::Market });
        (r.perBlock.to::<u64>(), r.era)
    };
    c.number = 10;
    assert_eq!(rate(&mut c), (1_000, 0));
    c.number = 11;
    assert_eq!(rate(&mut c), (500, 1));
    // The last era releases the remainder: (40,000 − 10,000 − 5,000) / 10.
    c.number = 21;
    assert_eq!(rate(&mut c), (2_500, 2));
    c.number = 31;
    assert_eq!(rate(&mut c), (0, 3));
    let s = view(&mut c, IGovernance::emissionRateCall { target: IGovernance::Target::Staking });
    assert_eq!(s.era, 0, "the staking schedule's yearly eras");
    assert_eq!(s.perBlock, dbc(19));
}

/// Issue #17 item 4: precompile burns stop at the floor (the rest goes to the treasury as
/// source 8), the hook keeps the ledger and mints back base fees burned below the floor, and
/// an idle block's hook writes nothing.
#[test]
fn burns_stop_at_the_floor_and_the_ledger_follows_every_block() {
    use crate::{
        MARKET_ADDRESS, SYSTEM_ADDRESS,
        store::Ctx,
        supply::{SupplyRules, burn_capped},
    };
    use alloy_primitives::I256;
    let mut c = MockChain::new(MarketParams::default());
    c.genesis_supply = dbc(1_000);
    c.governance.burn_floor = dbc(950);
    let market = c.params.clone();
    c.fund(MARKET_ADDRESS, dbc(100));
    let before = c.balance(MARKET_ADDRESS);
    let rules = SupplyRules { genesis: dbc(1_000), floor: dbc(950) };
    {
        let mut ctx = Ctx::new(&mut c, MARKET_ADDRESS, &market, u64::MAX, false);
        ctx.supply = Some(rules);
        assert_eq!(burn_capped(&mut ctx, dbc(30)).unwrap(), dbc(30));
        // 20 of the next 30 fit above the floor; 10 go to the treasury.
        assert_eq!(burn_capped(&mut ctx, dbc(30)).unwrap(), dbc(20));
        assert_eq!(burn_capped(&mut ctx, dbc(5)).unwrap(), U256::ZERO);
    }
    assert_eq!(c.burned(), dbc(50));
    assert_eq!(c.balance(MARKET_ADDRESS), before - dbc(65));
    assert_eq!(c.balance(GOVERNANCE_ADDRESS), dbc(15));
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 8 }), dbc(15));
    assert_eq!(view(&mut c, IGovernance::burnHeadroomCall {}), U256::ZERO);
    assert_eq!(view(&mut c, IGovernance::totalSupplyCall {}), dbc(1_000), "until the hook");

    let hook = |c: &mut MockChain, change: i64| {
        let change = I256::try_from(change).unwrap() * I256::try_from(DBC).unwrap();
        let data = crate::governance::hook_calldata(change);
        c.tx_governance(SYSTEM_ADDRESS, U256::ZERO, &data, false, true).unwrap();
        c.last_logs_from.clone()
    };
    // The block burned 50 (the node measures it): supply 950, pending burns reset.
    assert!(hook(&mut c, -50).is_empty());
    assert_eq!(view(&mut c, IGovernance::totalSupplyCall {}), dbc(950));
    assert_eq!(c.storage_at(GOVERNANCE_ADDRESS, U256::from(5)), U256::ZERO);
    // A block whose base fees burned 10 more: minted back to the treasury.
    let logs = hook(&mut c, -10);
    assert_eq!(view(&mut c, IGovernance::totalSupplyCall {}), dbc(950));
    assert_eq!(c.balance(GOVERNANCE_ADDRESS), dbc(25));
    let floor = logs
        .iter()
        .find_map(|(_, l)| IGovernance::BurnFloorReached::decode_log_data(l).ok())
        .unwrap();
    assert_eq!((floor.totalSupply, floor.floor), (dbc(950), dbc(950)));
    assert_eq!(view(&mut c, IGovernance::treasuryReceivedCall { source: 8 }), dbc(25));
    // Supply coming back (a block that net minted, e.g. a dev balance edit) is followed.
    assert!(hook(&mut c, 7).is_empty());
    assert_eq!(view(&mut c, IGovernance::totalSupplyCall {}), dbc(957));
    assert_eq!(view(&mut c, IGovernance::burnHeadroomCall {}), dbc(7));
    // An idle block writes nothing.
    let slots = |c: &MockChain| {
        (c.storage_at(GOVERNANCE_ADDRESS, U256::from(4)), c.balance(GOVERNANCE_ADDRESS))
    };
    let was = slots(&c);
    assert!(hook(&mut c, 0).is_empty());
    assert_eq!(slots(&c), was);
    // Only the system address may call the hook.
    let data = crate::governance::hook_calldata(I256::MINUS_ONE);
    let e = c.tx_governance(DONOR, U256::ZERO, &data, false, true).unwrap_err();
    let want = IGovernance::UnknownSelector { selector: IGovernance::onBlockCall::SELECTOR.into() };
    assert_eq!(e.as_ref(), want.abi_encode().as_slice());
}

//! Property tests of the market, mining, staking and governance precompiles' calldata
//! handling: random sequences of calls (real selectors with words from a small vocabulary, or
//! raw bytes), from a few accounts, with and without value, static, delegated and short of
//! gas, across blocks, with parameter changes proposed, voted and enacted on the way.
//!
//! The checks after every call are in `support/harness.rs`: no panic, never a `Fatal`
//! outcome, gas at most the limit, static and delegated calls write nothing, no value created
//! or lost, and the end-of-block hooks always succeed. `cargo +nightly fuzz` targets in
//! `fuzz/` run the same harness with coverage feedback.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "support/harness.rs"]
mod harness;

use alloy_primitives::U256;
use harness::{Harness, Target, calldata, caller, value};
use proptest::prelude::*;

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Step {
    /// A transaction.
    Call {
        target: u8,
        from: u8,
        value: (u8, u64),
        selector: u16,
        words: Vec<(u8, u64)>,
        tail: Vec<u8>,
        /// Bit 0: static; bit 1: delegated; bit 2: short of gas.
        flags: u8,
        gas: u32,
    },
    /// Raw calldata.
    Raw { target: u8, from: u8, data: Vec<u8> },
    /// End of block, and the next one `blocks` later.
    Blocks { blocks: u8, proposer: u8, missed: u8 },
    /// A referendum on a parameter change (valid or not) that everybody votes for.
    ParamChange { target: u8, seed: u64 },
    /// A council step: candidacy, ballot, withdrawal, motion with votes, unlock.
    Council { seed: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (
            (any::<u8>(), any::<u8>(), (any::<u8>(), any::<u64>()), any::<u16>()),
            prop::collection::vec((any::<u8>(), any::<u64>()), 0..12),
            prop::collection::vec(any::<u8>(), 0..8),
            (prop_oneof![6 => Just(0u8), 1 => any::<u8>()], any::<u32>()),
        )
            .prop_map(|((target, from, value, selector), words, tail, (flags, gas))| Step::Call {
                target,
                from,
                value,
                selector,
                words,
                tail,
                flags,
                gas,
            }),
        1 => (any::<u8>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(target, from, data)| Step::Raw { target, from, data }),
        2 => (any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(blocks, proposer, missed)| Step::Blocks { blocks, proposer, missed }),
        1 => (any::<u8>(), any::<u64>()).prop_map(|(target, seed)| Step::ParamChange { target, seed }),
        2 => any::<u64>().prop_map(|seed| Step::Council { seed }),
    ]
}

fn run(steps: &[Step]) {
    let mut h = Harness::new();
    for s in steps {
        match s {
            Step::Call { target, from, value: (vt, vx), selector, words, tail, flags, gas } => {
                let target = Target::from_index(*target);
                let data = calldata(target, *selector, words, tail);
                let gas = if flags & 4 != 0 { u64::from(*gas % 100_000) } else { 30_000_000 };
                h.call(
                    target,
                    caller(*from),
                    value(*vt, *vx),
                    &data,
                    flags & 1 != 0,
                    flags & 2 == 0,
                    gas,
                );
            }
            Step::Raw { target, from, data } => {
                h.call(
                    Target::from_index(*target),
                    caller(*from),
                    U256::ZERO,
                    data,
                    false,
                    true,
                    30_000_000,
                );
            }
            Step::Blocks { blocks, proposer, missed } => h.next_block(*blocks, *proposer, *missed),
            Step::ParamChange { target, seed } => h.propose_change(*target, *seed),
            Step::Council { seed } => h.council_step(*seed),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn call_sequences_end_cleanly_and_conserve_value(
        steps in prop::collection::vec(step(), 1..40),
    ) {
        run(&steps);
    }
}

/// A record with one byte changed, cut or grown: decoding never panics and accepts only
/// canonical bytes (what it decodes re-encodes to the same bytes), and checking the result as
/// a change never panics.
fn mutated_record(
    target: u8,
    at: u16,
    byte: u8,
    how: u8,
) -> (dbc_chainspec::ParamsTarget, Vec<u8>) {
    use dbc_chainspec::ParamsTarget;
    let t = [ParamsTarget::Market, ParamsTarget::Staking, ParamsTarget::Governance]
        [usize::from(target % 3)];
    let mut rec = dbc_precompiles::params::encode(&dbc_chainspec::DbcParams::default(), t);
    let i = usize::from(at) % rec.len();
    match how % 4 {
        0 => rec[i] = byte,
        1 => rec.truncate(i),
        2 => rec.insert(i, byte),
        _ => rec.extend(std::iter::repeat_n(byte, usize::from(at % 64))),
    }
    (t, rec)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn parameter_records_decode_only_when_canonical(
        target in any::<u8>(), at in any::<u16>(), byte in any::<u8>(), how in any::<u8>(),
    ) {
        let (t, rec) = mutated_record(target, at, byte, how);
        let base = dbc_chainspec::DbcParams::default();
        if let Ok(p) = dbc_precompiles::params::decode(&base, t, &rec) {
            prop_assert_eq!(dbc_precompiles::params::encode(&p, t), rec);
            let _ = base.check_change(&p, t);
        }
    }
}

/// The scenario step above does change the parameters in force: a market change everybody
/// votes for is in force some blocks later (else the property test would never run a call
/// under changed parameters).
#[test]
fn a_change_proposed_in_a_scenario_is_enacted() {
    let mut h = Harness::new();
    let before = dbc_precompiles::params::in_force_params(&mut h.host, &h.params).unwrap();
    h.propose_change(0, 12_345);
    for _ in 0..4 {
        h.next_block(10, 0, 0);
    }
    let after = dbc_precompiles::params::in_force_params(&mut h.host, &h.params).unwrap();
    assert_ne!(after.market.stake_per_gpu, before.market.stake_per_gpu);
    assert_eq!(
        after.market.stake_per_gpu,
        U256::from(12_345u64.rotate_left(7) % 5_000 + 1) * U256::from(10u128.pow(18))
    );
    h.propose_change(3, 7);
    for _ in 0..4 {
        h.next_block(10, 0, 0);
    }
    let after = dbc_precompiles::params::in_force_params(&mut h.host, &h.params).unwrap();
    assert_eq!(after.staking.max_validators, 7);
}

/// The council steps above do elect councils whose motions are then voted on: three callers
/// stand, two ballots approve them, and the hook of block 10 seats two members and a runner-up
/// (else the property test would never run a motion).
#[test]
fn a_council_is_elected_in_a_scenario() {
    use dbc_precompiles::abi::IGovernance;
    let mut h = Harness::new();
    for who in 0..3u64 {
        h.council_step(who << 8);
    }
    // Callers 0 and 1 lock 100 DBC and approve callers 0–2 (bits 0b0111).
    for who in 0..2u64 {
        h.council_step(1 | who << 8 | 0b0111 << 16 | 100 << 40);
    }
    assert_eq!(h.governance_view(IGovernance::candidatesCall {}).len(), 3);
    h.next_block(12, 0, 0);
    let council = h.governance_view(IGovernance::councilCall {});
    assert_eq!((council.term, council.members.len(), council.runnersUp.len()), (1, 2, 1));
    // A text motion the two members both vote for passes in the second vote's transaction.
    let members: Vec<u64> =
        (0..4u64).filter(|i| council.members.contains(&caller(*i as u8))).collect();
    let votes = members.iter().fold(0u64, |v, i| v | 1 << (48 + 2 * i));
    h.council_step(4 | votes);
    let p = h.governance_view(IGovernance::getProposalCall { id: U256::from(1) });
    assert_eq!((p.route, p.status), (IGovernance::Route::Council, IGovernance::Status::Queued));
}

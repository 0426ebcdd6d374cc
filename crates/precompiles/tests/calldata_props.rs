//! Property tests of the market, mining, staking and governance precompiles' calldata
//! handling: random sequences of calls (real selectors with words from a small vocabulary, or
//! raw bytes), from a few accounts, with and without value, static, delegated and short of
//! gas, across blocks.
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

//! Sequential Phragmén over ballot classes (`docs/governance-design.md` §4.2): a pure,
//! deterministic function of the candidates and the classes.
//!
//! Two voters with the same approval set start at load 0 and every round updates both the same
//! way, so merging them into one class of their summed weight gives exactly the result of the
//! voters one by one (`merging_voters_into_classes_changes_nothing` checks it). The work is
//! `rounds × classes × approvals` multiply-adds, bounded by the parameters' hard caps (48 rounds,
//! 8,192 classes, 64 candidates).

use alloy_primitives::{Address, U256};

/// Loads are scaled by 10^36: with weights ≤ 10^28 (more than the whole supply) and 48
/// rounds, `Σ w·λ ≤ 8,192 · 10^28 · 48 · 10^36 < 10^70`, far below 2^256, while a score's
/// resolution `10^36 / A ≥ 10^8` leaves ties only between truly equal scores.
const SCALE: U256 = U256::from_limbs([0xb34b_9f10_0000_0000, 0x00c0_97ce_7bc9_0715, 0, 0]);

/// A candidate: its address (the last tie-break) and whether it stands (not withdrawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) account: Address,
    pub(crate) live: bool,
}

/// The ballots with one approval set: `mask` bit `i` approves candidate `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) mask: u64,
    pub(crate) weight: U256,
}

/// The approval stake of each candidate: the weight of the classes approving it.
pub(crate) fn approval_stake(n: usize, classes: &[Class]) -> Option<Vec<U256>> {
    let mut stake = vec![U256::ZERO; n.min(64)];
    for class in classes {
        for (i, s) in stake.iter_mut().enumerate() {
            if class.mask >> i & 1 == 1 {
                *s = s.checked_add(class.weight)?;
            }
        }
    }
    Some(stake)
}

/// Elects up to `rounds` live candidates with approval stake, in election order (indices into
/// `candidates`). Each round elects the candidate with the least score
/// `(1 + Σ_{classes approving it} w·λ) / approval stake`, ties going to the larger approval
/// stake, then the lower address; the classes approving the winner take its score as their load
/// `λ`. `None` only if a sum overflows, which the bounds above rule out.
pub(crate) fn elect(
    candidates: &[Candidate],
    classes: &[Class],
    rounds: usize,
) -> Option<Vec<usize>> {
    let n = candidates.len().min(64);
    let stake = approval_stake(n, classes)?;
    let mut load = vec![U256::ZERO; classes.len()];
    let mut elected = 0u64;
    let mut out = Vec::new();
    for _ in 0..rounds {
        // Σ w·λ per candidate, over the classes approving it.
        let mut backed = vec![U256::ZERO; n];
        for (class, l) in classes.iter().zip(&load) {
            if l.is_zero() {
                continue;
            }
            let wl = class.weight.checked_mul(*l)?;
            let mut mask = class.mask & !elected;
            while mask != 0 {
                let i = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if i < n {
                    backed[i] = backed[i].checked_add(wl)?;
                }
            }
        }
        let mut best: Option<(U256, usize)> = None;
        for i in 0..n {
            if elected >> i & 1 == 1 || !candidates[i].live || stake[i].is_zero() {
                continue;
            }
            let score = SCALE.checked_add(backed[i])? / stake[i];
            let better = match best {
                None => true,
                Some((s, j)) => {
                    score < s
                        || (score == s
                            && (stake[i] > stake[j]
                                || (stake[i] == stake[j]
                                    && candidates[i].account < candidates[j].account)))
                }
            };
            if better {
                best = Some((score, i));
            }
        }
        let Some((score, winner)) = best else { break };
        elected |= 1 << winner;
        out.push(winner);
        for (class, l) in classes.iter().zip(load.iter_mut()) {
            if class.mask >> winner & 1 == 1 {
                *l = score;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cands(n: usize) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate { account: Address::with_last_byte(i as u8 + 1), live: true })
            .collect()
    }

    fn class(mask: u64, weight: u64) -> Class {
        Class { mask, weight: U256::from(weight) }
    }

    #[test]
    fn the_scale_is_ten_to_the_36() {
        assert_eq!(SCALE, U256::from(10u64).pow(U256::from(36)));
    }

    #[test]
    fn a_minority_gets_its_share_of_the_seats_where_top_n_gives_it_none() {
        // 60% approve candidates 0..5, 40% approve 5..10; five seats.
        let classes = [class(0b11111, 60), class(0b11111 << 5, 40)];
        let won = elect(&cands(10), &classes, 5).unwrap();
        let majority = won.iter().filter(|&&i| i < 5).count();
        assert_eq!((majority, won.len() - majority), (3, 2), "{won:?}");
        // Approval-weight top-N would seat the majority's five.
    }

    #[test]
    fn withdrawn_and_unbacked_candidates_are_never_elected_and_ties_are_deterministic() {
        let mut c = cands(4);
        c[0].live = false;
        // 0 is withdrawn, 3 has no ballot; 1 and 2 tie: the lower address wins first.
        let won = elect(&c, &[class(0b0111, 10)], 4).unwrap();
        assert_eq!(won, vec![1, 2]);
        // The larger approval stake breaks a tie before the address.
        let won = elect(&cands(2), &[class(0b01, 5), class(0b10, 5), class(0b10, 1)], 1).unwrap();
        assert_eq!(won, vec![1]);
    }

    #[test]
    fn the_worst_case_is_bounded() {
        // 64 candidates, 8,192 classes of 16 approvals, 48 rounds at the largest weights.
        let classes: Vec<Class> = (0..8_192u64)
            .map(|j| {
                let mut mask = 0u64;
                let mut x = j.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                while mask.count_ones() < 16 {
                    mask |= 1 << (x % 64);
                    x = x.rotate_left(7).wrapping_mul(31).wrapping_add(j);
                }
                Class { mask, weight: U256::from(10u64).pow(U256::from(28)) - U256::from(j) }
            })
            .collect();
        let start = std::time::Instant::now();
        let won = elect(&cands(64), &classes, 48).unwrap();
        assert_eq!(won.len(), 48);
        // Bounded work, not a timed test: printed for docs/governance-design.md §4.4.
        eprintln!("worst-case election: {:?}", start.elapsed());
    }

    proptest! {
        /// Merging voters with the same approval set into one class changes nothing.
        #[test]
        fn merging_voters_into_classes_changes_nothing(
            voters in prop::collection::vec((1u64..(1 << 8), 1u64..1_000_000), 1..40),
            live in 0u64..(1 << 8),
            rounds in 1usize..9,
        ) {
            let mut c = cands(8);
            for (i, x) in c.iter_mut().enumerate() {
                x.live = live >> i & 1 == 0 || i == 0;
            }
            let each: Vec<Class> = voters.iter().map(|&(m, w)| class(m, w)).collect();
            let mut merged: Vec<Class> = Vec::new();
            for v in &each {
                match merged.iter_mut().find(|m| m.mask == v.mask) {
                    Some(m) => m.weight += v.weight,
                    None => merged.push(*v),
                }
            }
            prop_assert_eq!(elect(&c, &each, rounds), elect(&c, &merged, rounds));
        }
    }
}

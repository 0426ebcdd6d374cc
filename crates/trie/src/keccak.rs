//! Keccak-256 of many independent messages at once ([`keccak256_many`]).
//!
//! A block hashes tens of thousands of small, independent messages: each receipt and
//! transaction leaf of its two ordered tries, each changed node of the state trie. With AVX2,
//! four of them go through Keccak-f\[1600\] together, each in one 64-bit lane of the 256-bit
//! registers: on the CI machine's CPU that hashes ~2.7× as many messages a second as one at a
//! time (`docs/benchmarks.md`, 2026-12-05 afternoon). Without AVX2, or for a lone message,
//! they are hashed one at a time with `alloy_primitives::keccak256`; the results are the same
//! bytes either way (`the_batch_hashes_like_keccak256_one_at_a_time`).

use alloy_primitives::{B256, keccak256};

/// Keccak-256 of each of `messages`, in order.
pub fn keccak256_many(messages: &[&[u8]]) -> Vec<B256> {
    let mut out = vec![B256::ZERO; messages.len()];
    #[cfg(target_arch = "x86_64")]
    if messages.len() >= x4::LANES && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { x4::hash_all(messages, &mut out) };
        return out;
    }
    for (hash, message) in out.iter_mut().zip(messages) {
        *hash = keccak256(message);
    }
    out
}

/// The messages packed one after another in `packed`, each ending at the next of `ends`
/// (ascending): how callers lay out many encodings before hashing them together.
pub(crate) fn unpack<'a>(packed: &'a [u8], ends: &[usize]) -> Vec<&'a [u8]> {
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let message = packed.get(start..end).unwrap_or_default();
            start = end;
            message
        })
        .collect()
}

/// Four Keccak-256 computations at once on AVX2.
#[cfg(target_arch = "x86_64")]
mod x4 {
    use alloy_primitives::{B256, keccak256};
    use core::arch::x86_64::*;

    /// Messages hashed together.
    pub(super) const LANES: usize = 4;

    /// Keccak-256's rate: the bytes absorbed per permutation.
    const RATE: usize = 136;

    /// The round constants of Keccak-f\[1600\].
    const RC: [u64; 24] = [
        0x0000000000000001,
        0x0000000000008082,
        0x800000000000808a,
        0x8000000080008000,
        0x000000000000808b,
        0x0000000080000001,
        0x8000000080008081,
        0x8000000000008009,
        0x000000000000008a,
        0x0000000000000088,
        0x0000000080008009,
        0x000000008000000a,
        0x000000008000808b,
        0x800000000000008b,
        0x8000000000008089,
        0x8000000000008003,
        0x8000000000008002,
        0x8000000000000080,
        0x000000000000800a,
        0x800000008000000a,
        0x8000000080008081,
        0x8000000000008080,
        0x0000000080000001,
        0x8000000080008008,
    ];

    /// Each 64-bit lane of `v` rotated left by `n` (1 to 63) bits.
    macro_rules! rol {
        ($v:expr, $n:literal) => {{
            let v = $v;
            _mm256_or_si256(_mm256_slli_epi64::<$n>(v), _mm256_srli_epi64::<{ 64 - $n }>(v))
        }};
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn xor(a: __m256i, b: __m256i) -> __m256i {
        _mm256_xor_si256(a, b)
    }

    /// Keccak-f\[1600\] on four states at once: `a[i]` holds lane `i` (x + 5y) of each.
    /// θ, ρ and π, χ and ι unrolled, with the ρ offsets as immediates.
    #[target_feature(enable = "avx2")]
    fn permute(a: &mut [__m256i; 25]) {
        for rc in RC {
            let c0 = xor(xor(xor(a[0], a[5]), xor(a[10], a[15])), a[20]);
            let c1 = xor(xor(xor(a[1], a[6]), xor(a[11], a[16])), a[21]);
            let c2 = xor(xor(xor(a[2], a[7]), xor(a[12], a[17])), a[22]);
            let c3 = xor(xor(xor(a[3], a[8]), xor(a[13], a[18])), a[23]);
            let c4 = xor(xor(xor(a[4], a[9]), xor(a[14], a[19])), a[24]);
            let d0 = xor(c4, rol!(c1, 1));
            let d1 = xor(c0, rol!(c2, 1));
            let d2 = xor(c1, rol!(c3, 1));
            let d3 = xor(c2, rol!(c4, 1));
            let d4 = xor(c3, rol!(c0, 1));
            let b0 = xor(a[0], d0);
            let b10 = rol!(xor(a[1], d1), 1);
            let b20 = rol!(xor(a[2], d2), 62);
            let b5 = rol!(xor(a[3], d3), 28);
            let b15 = rol!(xor(a[4], d4), 27);
            let b16 = rol!(xor(a[5], d0), 36);
            let b1 = rol!(xor(a[6], d1), 44);
            let b11 = rol!(xor(a[7], d2), 6);
            let b21 = rol!(xor(a[8], d3), 55);
            let b6 = rol!(xor(a[9], d4), 20);
            let b7 = rol!(xor(a[10], d0), 3);
            let b17 = rol!(xor(a[11], d1), 10);
            let b2 = rol!(xor(a[12], d2), 43);
            let b12 = rol!(xor(a[13], d3), 25);
            let b22 = rol!(xor(a[14], d4), 39);
            let b23 = rol!(xor(a[15], d0), 41);
            let b8 = rol!(xor(a[16], d1), 45);
            let b18 = rol!(xor(a[17], d2), 15);
            let b3 = rol!(xor(a[18], d3), 21);
            let b13 = rol!(xor(a[19], d4), 8);
            let b14 = rol!(xor(a[20], d0), 18);
            let b24 = rol!(xor(a[21], d1), 2);
            let b9 = rol!(xor(a[22], d2), 61);
            let b19 = rol!(xor(a[23], d3), 56);
            let b4 = rol!(xor(a[24], d4), 14);
            a[0] = xor(b0, _mm256_andnot_si256(b1, b2));
            a[1] = xor(b1, _mm256_andnot_si256(b2, b3));
            a[2] = xor(b2, _mm256_andnot_si256(b3, b4));
            a[3] = xor(b3, _mm256_andnot_si256(b4, b0));
            a[4] = xor(b4, _mm256_andnot_si256(b0, b1));
            a[5] = xor(b5, _mm256_andnot_si256(b6, b7));
            a[6] = xor(b6, _mm256_andnot_si256(b7, b8));
            a[7] = xor(b7, _mm256_andnot_si256(b8, b9));
            a[8] = xor(b8, _mm256_andnot_si256(b9, b5));
            a[9] = xor(b9, _mm256_andnot_si256(b5, b6));
            a[10] = xor(b10, _mm256_andnot_si256(b11, b12));
            a[11] = xor(b11, _mm256_andnot_si256(b12, b13));
            a[12] = xor(b12, _mm256_andnot_si256(b13, b14));
            a[13] = xor(b13, _mm256_andnot_si256(b14, b10));
            a[14] = xor(b14, _mm256_andnot_si256(b10, b11));
            a[15] = xor(b15, _mm256_andnot_si256(b16, b17));
            a[16] = xor(b16, _mm256_andnot_si256(b17, b18));
            a[17] = xor(b17, _mm256_andnot_si256(b18, b19));
            a[18] = xor(b18, _mm256_andnot_si256(b19, b15));
            a[19] = xor(b19, _mm256_andnot_si256(b15, b16));
            a[20] = xor(b20, _mm256_andnot_si256(b21, b22));
            a[21] = xor(b21, _mm256_andnot_si256(b22, b23));
            a[22] = xor(b22, _mm256_andnot_si256(b23, b24));
            a[23] = xor(b23, _mm256_andnot_si256(b24, b20));
            a[24] = xor(b24, _mm256_andnot_si256(b20, b21));
            a[0] = xor(a[0], _mm256_set1_epi64x(rc as i64));
        }
    }

    /// The number of permutations a message of `len` bytes takes (its last block padded).
    pub(super) fn blocks(len: usize) -> usize {
        len / RATE + 1
    }

    /// Hashes four messages that take the same number of blocks.
    #[target_feature(enable = "avx2")]
    fn hash4(messages: [&[u8]; LANES]) -> [B256; LANES] {
        let blocks = blocks(messages[0].len());
        debug_assert!(messages.iter().all(|m| self::blocks(m.len()) == blocks));
        // Each message's last block, padded (Keccak's pad10*1 with the 0x01 domain byte).
        let mut last = [[0u8; RATE]; LANES];
        for (padded, m) in last.iter_mut().zip(messages) {
            let tail = &m[(blocks - 1) * RATE..];
            padded[..tail.len()].copy_from_slice(tail);
            padded[tail.len()] ^= 0x01;
            padded[RATE - 1] ^= 0x80;
        }
        let mut state = [_mm256_setzero_si256(); 25];
        for b in 0..blocks {
            let block: [&[u8]; LANES] = core::array::from_fn(|k| {
                if b + 1 == blocks { &last[k][..] } else { &messages[k][b * RATE..(b + 1) * RATE] }
            });
            for (j, lane) in state.iter_mut().take(RATE / 8).enumerate() {
                let word = |k: usize| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&block[k][j * 8..j * 8 + 8]);
                    i64::from_le_bytes(w)
                };
                *lane = xor(*lane, _mm256_set_epi64x(word(3), word(2), word(1), word(0)));
            }
            permute(&mut state);
        }
        let mut out = [B256::ZERO; LANES];
        for (j, lane) in state.iter().take(4).enumerate() {
            let mut words = [0u64; LANES];
            // SAFETY: `words` is 32 bytes, the width of the store; unaligned stores are allowed.
            unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), *lane) };
            for (hash, word) in out.iter_mut().zip(words) {
                hash[j * 8..j * 8 + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        out
    }

    /// Hashes each of `messages` into `out`: those of equal length in blocks four at a time,
    /// the rest one at a time.
    #[target_feature(enable = "avx2")]
    pub(super) fn hash_all(messages: &[&[u8]], out: &mut [B256]) {
        // Most of a block's messages of one kind take the same number of blocks: grouping by
        // it leaves at most three of each length to hash alone.
        let mut order: Vec<usize> = (0..messages.len()).collect();
        order.sort_by_key(|&i| blocks(messages[i].len()));
        for run in order.chunk_by(|&a, &b| blocks(messages[a].len()) == blocks(messages[b].len())) {
            let mut fours = run.chunks_exact(LANES);
            for four in &mut fours {
                let hashes = hash4([
                    messages[four[0]],
                    messages[four[1]],
                    messages[four[2]],
                    messages[four[3]],
                ]);
                for (&i, hash) in four.iter().zip(hashes) {
                    out[i] = hash;
                }
            }
            for &i in fours.remainder() {
                out[i] = keccak256(messages[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131)) as u8).collect()
    }

    #[test]
    fn every_length_around_the_block_edges_hashes_like_keccak256() {
        // Empty, one byte, and each side of one, two and three blocks (136 bytes each),
        // where the padding's two bytes meet or spill into a new block.
        let lengths =
            [0, 1, 31, 32, 33, 134, 135, 136, 137, 270, 271, 272, 273, 407, 408, 409, 1000];
        for len in lengths {
            let messages: Vec<Vec<u8>> = (0..9).map(|s| message(len, s)).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let expected: Vec<B256> = refs.iter().map(keccak256).collect();
            assert_eq!(keccak256_many(&refs), expected, "length {len}");
        }
    }

    proptest! {
        #[test]
        fn the_batch_hashes_like_keccak256_one_at_a_time(
            lengths in proptest::collection::vec(0usize..600, 0..40),
            seed in any::<usize>(),
        ) {
            let messages: Vec<Vec<u8>> =
                lengths.iter().enumerate().map(|(i, &l)| message(l, seed ^ i)).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let expected: Vec<B256> = refs.iter().map(keccak256).collect();
            prop_assert_eq!(keccak256_many(&refs), expected);
        }
    }
}

//! Keccak-256 of many independent messages at once ([`keccak256_many`]).
//!
//! A block hashes tens of thousands of small, independent messages: each receipt and
//! transaction leaf of its two ordered tries, each changed node of the state trie. With SIMD,
//! several of them go through Keccak-f\[1600\] together, each in one 64-bit lane of a vector
//! register: eight at a time with AVX-512 (whose lane rotation and three-input logic do θ's
//! parities, ρ and χ in one instruction each), four at a time with AVX2. On the CI machine's CPU
//! four at a time hashes ~2× as many messages a second as one at a time, eight at a time more
//! again (`dbc-bench keccak`, `docs/benchmarks.md`). Without those features, or for the few
//! messages left over, they are hashed one at a time with `alloy_primitives::keccak256`; the
//! results are the same bytes either way (`the_batch_hashes_like_keccak256_one_at_a_time`, at
//! every width).

use alloy_primitives::{B256, keccak256};

/// How many messages go through the permutation together at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Width {
    /// One at a time (`alloy_primitives::keccak256`).
    One,
    /// Four at a time where the CPU has AVX2.
    Four,
    /// Eight at a time where the CPU has AVX-512 (four at a time for what is left, with AVX2).
    Eight,
}

/// Keccak-256 of each of `messages`, in order, as many at a time as the CPU allows.
pub fn keccak256_many(messages: &[&[u8]]) -> Vec<B256> {
    keccak256_many_at_most(messages, Width::Eight)
}

/// Keccak-256 of each of `messages`, in order, at most `width` at a time (the benchmark and the
/// tests compare the widths; the node uses [`keccak256_many`]).
pub fn keccak256_many_at_most(messages: &[&[u8]], width: Width) -> Vec<B256> {
    let mut out = vec![B256::ZERO; messages.len()];
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = width >= Width::Four && std::arch::is_x86_feature_detected!("avx2");
        let avx512 = width >= Width::Eight && std::arch::is_x86_feature_detected!("avx512f");
        if avx2 && messages.len() >= x4::LANES {
            // SAFETY: the CPU has AVX2, and AVX-512F when `avx512` is set (checked above).
            unsafe { simd::hash_all(messages, &mut out, avx512) };
            return out;
        }
    }
    let _ = width;
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

/// Keccak-256's rate: the bytes absorbed per permutation.
#[cfg(target_arch = "x86_64")]
const RATE: usize = 136;

/// The round constants of Keccak-f\[1600\].
#[cfg(target_arch = "x86_64")]
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

/// The 24 rounds of Keccak-f\[1600\] on `$a` (25 registers, lane `x + 5y` of each state in
/// `$a[x + 5y]`), written once for every register width with its operations:
/// `$xor3(a, b, c)` = a ⊕ b ⊕ c, `$xor(a, b)`, `$rol(v, n)` (each lane rotated left by the
/// literal `n`), `$chi(a, b, c)` = a ⊕ (¬b ∧ c) and `$splat(rc)` (the constant in every lane).
/// θ, ρ and π, χ and ι unrolled, with the ρ offsets as immediates.
#[cfg(target_arch = "x86_64")]
macro_rules! keccak_rounds {
    ($a:ident, $xor3:ident, $xor:ident, $rol:ident, $chi:ident, $splat:ident) => {
        for rc in RC {
            let c0 = $xor3($xor3($a[0], $a[5], $a[10]), $a[15], $a[20]);
            let c1 = $xor3($xor3($a[1], $a[6], $a[11]), $a[16], $a[21]);
            let c2 = $xor3($xor3($a[2], $a[7], $a[12]), $a[17], $a[22]);
            let c3 = $xor3($xor3($a[3], $a[8], $a[13]), $a[18], $a[23]);
            let c4 = $xor3($xor3($a[4], $a[9], $a[14]), $a[19], $a[24]);
            let d0 = $xor(c4, $rol!(c1, 1));
            let d1 = $xor(c0, $rol!(c2, 1));
            let d2 = $xor(c1, $rol!(c3, 1));
            let d3 = $xor(c2, $rol!(c4, 1));
            let d4 = $xor(c3, $rol!(c0, 1));
            let b0 = $xor($a[0], d0);
            let b10 = $rol!($xor($a[1], d1), 1);
            let b20 = $rol!($xor($a[2], d2), 62);
            let b5 = $rol!($xor($a[3], d3), 28);
            let b15 = $rol!($xor($a[4], d4), 27);
            let b16 = $rol!($xor($a[5], d0), 36);
            let b1 = $rol!($xor($a[6], d1), 44);
            let b11 = $rol!($xor($a[7], d2), 6);
            let b21 = $rol!($xor($a[8], d3), 55);
            let b6 = $rol!($xor($a[9], d4), 20);
            let b7 = $rol!($xor($a[10], d0), 3);
            let b17 = $rol!($xor($a[11], d1), 10);
            let b2 = $rol!($xor($a[12], d2), 43);
            let b12 = $rol!($xor($a[13], d3), 25);
            let b22 = $rol!($xor($a[14], d4), 39);
            let b23 = $rol!($xor($a[15], d0), 41);
            let b8 = $rol!($xor($a[16], d1), 45);
            let b18 = $rol!($xor($a[17], d2), 15);
            let b3 = $rol!($xor($a[18], d3), 21);
            let b13 = $rol!($xor($a[19], d4), 8);
            let b14 = $rol!($xor($a[20], d0), 18);
            let b24 = $rol!($xor($a[21], d1), 2);
            let b9 = $rol!($xor($a[22], d2), 61);
            let b19 = $rol!($xor($a[23], d3), 56);
            let b4 = $rol!($xor($a[24], d4), 14);
            $a[0] = $xor($chi(b0, b1, b2), $splat(rc));
            $a[1] = $chi(b1, b2, b3);
            $a[2] = $chi(b2, b3, b4);
            $a[3] = $chi(b3, b4, b0);
            $a[4] = $chi(b4, b0, b1);
            $a[5] = $chi(b5, b6, b7);
            $a[6] = $chi(b6, b7, b8);
            $a[7] = $chi(b7, b8, b9);
            $a[8] = $chi(b8, b9, b5);
            $a[9] = $chi(b9, b5, b6);
            $a[10] = $chi(b10, b11, b12);
            $a[11] = $chi(b11, b12, b13);
            $a[12] = $chi(b12, b13, b14);
            $a[13] = $chi(b13, b14, b10);
            $a[14] = $chi(b14, b10, b11);
            $a[15] = $chi(b15, b16, b17);
            $a[16] = $chi(b16, b17, b18);
            $a[17] = $chi(b17, b18, b19);
            $a[18] = $chi(b18, b19, b15);
            $a[19] = $chi(b19, b15, b16);
            $a[20] = $chi(b20, b21, b22);
            $a[21] = $chi(b21, b22, b23);
            $a[22] = $chi(b22, b23, b24);
            $a[23] = $chi(b23, b24, b20);
            $a[24] = $chi(b24, b20, b21);
        }
    };
}

/// [`simd::Parallel`] for the register type `V` of the module it is expanded in, whose CPU
/// feature is `$feature` and whose unaligned load and store are `$load` and `$store`; the module
/// has `LANES` and the lane operations [`keccak_rounds`] takes.
#[cfg(target_arch = "x86_64")]
macro_rules! parallel_impl {
    ($feature:literal, $load:ident, $store:ident) => {
        impl Parallel for V {
            const LANES: usize = LANES;

            #[target_feature(enable = $feature)]
            unsafe fn absorb(state: &mut [V; 25], blocks: &[&[u8]]) {
                for (j, lane) in state.iter_mut().take(RATE / 8).enumerate() {
                    let words = lane_words(blocks, j);
                    // SAFETY: `words` is 64 bytes, at least the width of the load; unaligned
                    // loads are allowed.
                    *lane = xor(*lane, unsafe { $load(words.as_ptr().cast()) });
                }
            }

            #[target_feature(enable = $feature)]
            unsafe fn permute(a: &mut [V; 25]) {
                keccak_rounds!(a, xor3, xor, rol, chi, splat);
            }

            #[target_feature(enable = $feature)]
            unsafe fn squeeze(state: &[V; 25], out: &mut [B256]) {
                for (j, lane) in state.iter().take(4).enumerate() {
                    let mut words = [0u64; 8];
                    // SAFETY: `words` is 64 bytes, at least the width of the store; unaligned
                    // stores are allowed.
                    unsafe { $store(words.as_mut_ptr().cast(), *lane) };
                    put_lane_words(out, j, &words[..LANES]);
                }
            }
        }
    };
}

/// What every width shares: grouping the messages, padding, absorbing and squeezing.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{RATE, x4, x8};
    use alloy_primitives::{B256, keccak256};

    /// Keccak-f\[1600\] on `LANES` states at once, one in each 64-bit lane of a register.
    pub(super) trait Parallel: Copy {
        /// Messages hashed together.
        const LANES: usize;

        /// Word `j` (little-endian) of each of `blocks` (`LANES` of them, `RATE` bytes each)
        /// XORed into lane `j` of its state.
        ///
        /// # Safety
        /// The CPU has the register's instructions.
        unsafe fn absorb(state: &mut [Self; 25], blocks: &[&[u8]]);

        /// The permutation.
        ///
        /// # Safety
        /// The CPU has the register's instructions.
        unsafe fn permute(state: &mut [Self; 25]);

        /// The first 32 bytes of each state into `out` (`LANES` of them).
        ///
        /// # Safety
        /// The CPU has the register's instructions.
        unsafe fn squeeze(state: &[Self; 25], out: &mut [B256]);
    }

    /// The number of permutations a message of `len` bytes takes (its last block padded).
    pub(super) fn blocks(len: usize) -> usize {
        len / RATE + 1
    }

    /// Word `j` (little-endian) of each of `blocks` (at most eight, `RATE` bytes each), in
    /// lane order.
    #[inline]
    pub(super) fn lane_words(blocks: &[&[u8]], j: usize) -> [u64; 8] {
        let mut words = [0u64; 8];
        for (word, block) in words.iter_mut().zip(blocks) {
            let mut w = [0u8; 8];
            w.copy_from_slice(&block[j * 8..j * 8 + 8]);
            *word = u64::from_le_bytes(w);
        }
        words
    }

    /// Word `j` of each hash in `out` from `words`, in lane order.
    #[inline]
    pub(super) fn put_lane_words(out: &mut [B256], j: usize, words: &[u64]) {
        for (hash, word) in out.iter_mut().zip(words) {
            hash[j * 8..j * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
    }

    /// The lane operations of one register width: each a function compiled for the width's CPU
    /// feature and inlined into the permutation.
    macro_rules! lane_ops {
        ($feature:literal; $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block)*) => {
            $(
                #[target_feature(enable = $feature)]
                #[inline]
                fn $name($($arg: $ty),*) -> $ret $body
            )*
        };
    }
    pub(super) use lane_ops;

    /// Hashes `messages` (`V::LANES` of them, all taking the same number of blocks) into `out`.
    ///
    /// # Safety
    /// The CPU has `V`'s instructions.
    unsafe fn hash_lanes<V: Parallel>(messages: &[&[u8]], out: &mut [B256]) {
        let blocks = blocks(messages[0].len());
        debug_assert!(messages.iter().all(|m| self::blocks(m.len()) == blocks));
        // Each message's last block, padded (Keccak's pad10*1 with the 0x01 domain byte).
        let mut last = [[0u8; RATE]; 8];
        for (padded, m) in last.iter_mut().zip(messages) {
            let tail = &m[(blocks - 1) * RATE..];
            padded[..tail.len()].copy_from_slice(tail);
            padded[tail.len()] ^= 0x01;
            padded[RATE - 1] ^= 0x80;
        }
        // SAFETY: an all-zero register is a valid value of every SIMD type.
        let mut state: [V; 25] = unsafe { core::mem::zeroed() };
        let mut block: [&[u8]; 8] = [&[]; 8];
        for b in 0..blocks {
            for (k, (slot, m)) in block.iter_mut().zip(messages).enumerate() {
                *slot = if b + 1 == blocks { &last[k][..] } else { &m[b * RATE..(b + 1) * RATE] };
            }
            // SAFETY: the caller guarantees the CPU features.
            unsafe {
                V::absorb(&mut state, &block[..V::LANES]);
                V::permute(&mut state);
            }
        }
        // SAFETY: as above.
        unsafe { V::squeeze(&state, out) };
    }

    /// Hashes `group` (indices into `messages`, `V::LANES` at a time) into `out`; returns the
    /// indices left over (fewer than `V::LANES`).
    ///
    /// # Safety
    /// The CPU has `V`'s instructions.
    unsafe fn hash_group<'i, V: Parallel>(
        messages: &[&[u8]],
        group: &'i [usize],
        out: &mut [B256],
    ) -> &'i [usize] {
        let mut chunks = group.chunks_exact(V::LANES);
        let mut these: [&[u8]; 8] = [&[]; 8];
        let mut hashes = [B256::ZERO; 8];
        for chunk in &mut chunks {
            for (slot, &i) in these.iter_mut().zip(chunk) {
                *slot = messages[i];
            }
            // SAFETY: the caller guarantees the CPU features.
            unsafe { hash_lanes::<V>(&these[..V::LANES], &mut hashes[..V::LANES]) };
            for (&i, hash) in chunk.iter().zip(hashes) {
                out[i] = hash;
            }
        }
        chunks.remainder()
    }

    /// Hashes each of `messages` into `out`: those of equal length in blocks eight at a time
    /// (with `avx512`), then four at a time, the rest one at a time.
    ///
    /// # Safety
    /// The CPU has AVX2, and AVX-512F if `avx512` is set.
    pub(super) unsafe fn hash_all(messages: &[&[u8]], out: &mut [B256], avx512: bool) {
        // Most of a block's messages of one kind take the same number of blocks: grouping by
        // it leaves at most seven of each length for the narrower widths.
        let mut order: Vec<usize> = (0..messages.len()).collect();
        order.sort_by_key(|&i| blocks(messages[i].len()));
        for run in order.chunk_by(|&a, &b| blocks(messages[a].len()) == blocks(messages[b].len())) {
            // SAFETY: the caller guarantees the CPU features of each width used.
            let rest =
                if avx512 { unsafe { hash_group::<x8::V>(messages, run, out) } } else { run };
            // SAFETY: as above.
            let rest = unsafe { hash_group::<x4::V>(messages, rest, out) };
            for &i in rest {
                out[i] = keccak256(messages[i]);
            }
        }
    }
}

/// Four Keccak-256 computations at once on AVX2.
#[cfg(target_arch = "x86_64")]
mod x4 {
    use super::{
        RATE, RC,
        simd::{Parallel, lane_words, put_lane_words},
    };
    use alloy_primitives::B256;
    use core::arch::x86_64::*;

    /// Messages hashed together.
    pub(super) const LANES: usize = 4;

    /// Four 64-bit lanes.
    pub(super) type V = __m256i;

    /// Each 64-bit lane of `v` rotated left by `n` (1 to 63) bits.
    macro_rules! rol {
        ($v:expr, $n:literal) => {{
            let v = $v;
            _mm256_or_si256(_mm256_slli_epi64::<$n>(v), _mm256_srli_epi64::<{ 64 - $n }>(v))
        }};
    }

    super::simd::lane_ops! { "avx2";
        fn xor(a: V, b: V) -> V { _mm256_xor_si256(a, b) }
        fn xor3(a: V, b: V, c: V) -> V { _mm256_xor_si256(_mm256_xor_si256(a, b), c) }
        fn chi(a: V, b: V, c: V) -> V { _mm256_xor_si256(a, _mm256_andnot_si256(b, c)) }
        fn splat(rc: u64) -> V { _mm256_set1_epi64x(rc as i64) }
    }

    parallel_impl!("avx2", _mm256_loadu_si256, _mm256_storeu_si256);
}

/// Eight Keccak-256 computations at once on AVX-512F: a lane rotation (`vprolq`) for each ρ
/// and θ rotation, and the three-input logic (`vpternlogq`) for θ's parities and for χ.
#[cfg(target_arch = "x86_64")]
mod x8 {
    use super::{
        RATE, RC,
        simd::{Parallel, lane_words, put_lane_words},
    };
    use alloy_primitives::B256;
    use core::arch::x86_64::*;

    /// Messages hashed together.
    const LANES: usize = 8;

    /// Eight 64-bit lanes.
    pub(super) type V = __m512i;

    /// Each 64-bit lane of `v` rotated left by `n` bits.
    macro_rules! rol {
        ($v:expr, $n:literal) => {
            _mm512_rol_epi64::<$n>($v)
        };
    }

    // χ's a ⊕ (¬b ∧ c) is the truth table 0xD2, θ's a ⊕ b ⊕ c is 0x96.
    super::simd::lane_ops! { "avx512f";
        fn xor(a: V, b: V) -> V { _mm512_xor_si512(a, b) }
        fn xor3(a: V, b: V, c: V) -> V { _mm512_ternarylogic_epi64::<0x96>(a, b, c) }
        fn chi(a: V, b: V, c: V) -> V { _mm512_ternarylogic_epi64::<0xD2>(a, b, c) }
        fn splat(rc: u64) -> V { _mm512_set1_epi64(rc as i64) }
    }

    parallel_impl!("avx512f", _mm512_loadu_si512, _mm512_storeu_si512);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131)) as u8).collect()
    }

    const WIDTHS: [Width; 3] = [Width::One, Width::Four, Width::Eight];

    #[test]
    fn every_length_around_the_block_edges_hashes_like_keccak256() {
        // Empty, one byte, and each side of one, two and three blocks (136 bytes each),
        // where the padding's two bytes meet or spill into a new block. 23 messages of each
        // length: at most eight at a time, two groups of eight, one of four and three alone.
        let lengths =
            [0, 1, 31, 32, 33, 134, 135, 136, 137, 270, 271, 272, 273, 407, 408, 409, 1000];
        for len in lengths {
            let messages: Vec<Vec<u8>> = (0..23).map(|s| message(len, s)).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let expected: Vec<B256> = refs.iter().map(keccak256).collect();
            for width in WIDTHS {
                assert_eq!(keccak256_many_at_most(&refs, width), expected, "{len}, {width:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn the_batch_hashes_like_keccak256_one_at_a_time(
            lengths in proptest::collection::vec(0usize..600, 0..60),
            seed in any::<usize>(),
        ) {
            let messages: Vec<Vec<u8>> =
                lengths.iter().enumerate().map(|(i, &l)| message(l, seed ^ i)).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let expected: Vec<B256> = refs.iter().map(keccak256).collect();
            for width in WIDTHS {
                prop_assert_eq!(keccak256_many_at_most(&refs, width), expected.clone());
            }
        }
    }
}

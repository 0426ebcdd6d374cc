//! A verifiable random function (VRF) on secp256k1 with the validator's own key, and the chain's
//! random beacon built from it (security review H6).
//!
//! **Why a VRF.** An ECDSA seal is not unique: the signer picks the nonce, so it can produce as
//! many valid seals for one header as it likes and grind any randomness taken from them. A VRF
//! output is a deterministic function of (secret key, input): for one input the key holder has
//! exactly one output to offer, and anyone can check it against the public key.
//!
//! **Construction** (the elliptic-curve VRF of RFC 9381 in outline, with Keccak-256 and
//! try-and-increment hashing to the curve; secp256k1 has cofactor 1):
//! - `H = hash_to_curve(pk, alpha)`, `Γ = x·H` (the output point, `x` the secret key);
//! - a Chaum–Pedersen proof that `log_G(pk) = log_H(Γ)`: nonce `k` (derived from `x` and `H`),
//!   `c = Hc(pk, H, Γ, k·G, k·H)`, `s = k + c·x`;
//! - proof = `Γ` (33-byte compressed) ‖ `c` (32 bytes) ‖ `s` (32 bytes), scalars below the
//!   group order; output `β = keccak256("dbc-vrf-out" ‖ Γ)`.
//!
//! Verification recomputes `U = s·G − c·pk`, `V = s·H − c·Γ` and checks `c = Hc(pk, H, Γ, U, V)`.
//!
//! **The beacon.** Block `n`'s proposer publishes a proof over
//! `alpha = "dbc-randao" ‖ parent.mix_hash ‖ n` in the header's consensus data, and the header's
//! `mixHash` (the EVM's `PREVRANDAO`) is `keccak256(parent.mix_hash ‖ β)`. Nobody knows a
//! block's mix before its proposer reveals it, the proposer cannot choose it, only withhold its
//! block (and lose the slot; the backup's output then counts instead): one bit of influence,
//! like Ethereum's RANDAO.

use alloy_consensus::Header;
use alloy_primitives::{B256, keccak256};
use k256::{
    AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar,
    ecdsa::{SigningKey, VerifyingKey},
    elliptic_curve::{
        PrimeField,
        ops::Reduce,
        sec1::{FromEncodedPoint, ToEncodedPoint},
    },
};

/// Bytes of a proof: `Γ` (33) ‖ `c` (32) ‖ `s` (32).
pub const PROOF_LEN: usize = 97;

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VrfError {
    /// Not exactly [`PROOF_LEN`] bytes, `Γ` not a compressed curve point, or a scalar not below
    /// the group order.
    #[error("malformed VRF proof: {0}")]
    Malformed(&'static str),
    /// The proof does not verify for this key and input.
    #[error("VRF proof does not verify")]
    Invalid,
    /// No curve point was found for the input (probability 2⁻²⁵⁶).
    #[error("no curve point for the VRF input")]
    HashToCurve,
}

/// The compressed SEC1 encoding of `p`; all zeros for the point at infinity (never valid).
fn compress(p: &AffinePoint) -> [u8; 33] {
    let e = p.to_encoded_point(true);
    let b = e.as_bytes();
    let mut out = [0u8; 33];
    if b.len() == 33 {
        out.copy_from_slice(b);
    }
    out
}

/// A compressed point (`02`/`03` prefix, `x` below the field prime, on the curve).
fn decompress(b: &[u8]) -> Option<AffinePoint> {
    if b.len() != 33 || (b[0] != 2 && b[0] != 3) {
        return None;
    }
    let e = EncodedPoint::from_bytes(b).ok()?;
    Option::from(AffinePoint::from_encoded_point(&e))
}

/// A scalar in its one canonical encoding (below the group order).
fn scalar(b: &[u8]) -> Option<Scalar> {
    let arr: [u8; 32] = b.try_into().ok()?;
    Option::from(Scalar::from_repr(FieldBytes::from(arr)))
}

fn scalar_bytes(s: &Scalar) -> [u8; 32] {
    s.to_repr().into()
}

fn reduce(h: B256) -> Scalar {
    <Scalar as Reduce<k256::U256>>::reduce_bytes(&FieldBytes::from(h.0))
}

fn hash_to_curve(pk: &[u8; 33], alpha: &[u8]) -> Result<ProjectivePoint, VrfError> {
    for ctr in 0u8..=255 {
        let h = keccak256([b"dbc-vrf-h2c".as_slice(), pk, alpha, &[ctr]].concat());
        let mut c = [0u8; 33];
        c[0] = 2;
        c[1..].copy_from_slice(h.as_slice());
        if let Some(p) = decompress(&c) {
            return Ok(p.into());
        }
    }
    Err(VrfError::HashToCurve)
}

fn challenge(pk: &[u8; 33], points: [&ProjectivePoint; 4]) -> Scalar {
    let mut buf = Vec::with_capacity(13 + 33 * 5);
    buf.extend_from_slice(b"dbc-vrf-chal");
    buf.extend_from_slice(pk);
    for p in points {
        buf.extend_from_slice(&compress(&p.to_affine()));
    }
    reduce(keccak256(buf))
}

fn output(gamma: &[u8; 33]) -> B256 {
    keccak256([b"dbc-vrf-out".as_slice(), gamma].concat())
}

/// Proves the VRF output of `key` on `alpha`: returns (proof, output).
pub fn prove(key: &SigningKey, alpha: &[u8]) -> Result<([u8; PROOF_LEN], B256), VrfError> {
    let x: Scalar = **key.as_nonzero_scalar();
    let pk = compress(key.verifying_key().as_affine());
    let h = hash_to_curve(&pk, alpha)?;
    let gamma = h * x;
    let h_c = compress(&h.to_affine());
    // Deterministic nonce from the secret and the input point: never reused across inputs,
    // never zero.
    let mut k = Scalar::ZERO;
    for ctr in 0u8..=255 {
        let seed =
            keccak256([b"dbc-vrf-nonce".as_slice(), &scalar_bytes(&x), &h_c, &[ctr]].concat());
        k = reduce(seed);
        if !bool::from(k.is_zero()) {
            break;
        }
    }
    let c = challenge(&pk, [&h, &gamma, &(ProjectivePoint::GENERATOR * k), &(h * k)]);
    let s = k + c * x;
    let gamma_c = compress(&gamma.to_affine());
    let mut proof = [0u8; PROOF_LEN];
    proof[..33].copy_from_slice(&gamma_c);
    proof[33..65].copy_from_slice(&scalar_bytes(&c));
    proof[65..].copy_from_slice(&scalar_bytes(&s));
    Ok((proof, output(&gamma_c)))
}

/// Verifies `proof` of `key`'s output on `alpha`; returns the output. Strict: exactly
/// [`PROOF_LEN`] bytes, `Γ` a compressed point on the curve, `c` and `s` below the group order.
pub fn verify(key: &VerifyingKey, alpha: &[u8], proof: &[u8]) -> Result<B256, VrfError> {
    if proof.len() != PROOF_LEN {
        return Err(VrfError::Malformed("a proof is exactly 97 bytes"));
    }
    let gamma =
        decompress(&proof[..33]).ok_or(VrfError::Malformed("gamma is not a curve point"))?;
    let c = scalar(&proof[33..65]).ok_or(VrfError::Malformed("c is not below the group order"))?;
    let s = scalar(&proof[65..]).ok_or(VrfError::Malformed("s is not below the group order"))?;
    let pk_point = ProjectivePoint::from(*key.as_affine());
    let pk = compress(key.as_affine());
    let h = hash_to_curve(&pk, alpha)?;
    let gamma = ProjectivePoint::from(gamma);
    let u = ProjectivePoint::GENERATOR * s - pk_point * c;
    let v = h * s - gamma * c;
    if challenge(&pk, [&h, &gamma, &u, &v]) != c {
        return Err(VrfError::Invalid);
    }
    let mut gamma_c = [0u8; 33];
    gamma_c.copy_from_slice(&proof[..33]);
    Ok(output(&gamma_c))
}

/// The VRF input of the block after `parent`: the parent's mix and the new block's number.
pub fn beacon_input(parent: &Header) -> Vec<u8> {
    [b"dbc-randao".as_slice(), parent.mix_hash.as_slice(), &(parent.number + 1).to_be_bytes()]
        .concat()
}

/// The mix (`mixHash`, the EVM's `PREVRANDAO`) of the block after `parent` whose proposer's
/// VRF output is `output`.
pub fn next_mix(parent: &Header, output: B256) -> B256 {
    keccak256([parent.mix_hash.as_slice(), output.as_slice()].concat())
}

/// The proposer's reveal for the block after `parent`: (proof for the header, the block's mix).
pub fn reveal(key: &SigningKey, parent: &Header) -> Result<([u8; PROOF_LEN], B256), VrfError> {
    let (proof, out) = prove(key, &beacon_input(parent))?;
    Ok((proof, next_mix(parent, out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_signer_local::PrivateKeySigner;

    fn key() -> SigningKey {
        PrivateKeySigner::random().credential().clone()
    }

    #[test]
    fn a_proof_verifies_for_its_key_and_input_only() {
        let (a, b) = (key(), key());
        let (proof, out) = prove(&a, b"alpha").expect("prove");
        assert_eq!(verify(a.verifying_key(), b"alpha", &proof), Ok(out));
        assert_eq!(verify(b.verifying_key(), b"alpha", &proof), Err(VrfError::Invalid));
        assert_eq!(verify(a.verifying_key(), b"alphb", &proof), Err(VrfError::Invalid));
    }

    #[test]
    fn the_output_is_unique_and_differs_per_input_and_key() {
        let (a, b) = (key(), key());
        let (p1, o1) = prove(&a, b"x").expect("prove");
        let (p2, o2) = prove(&a, b"x").expect("prove");
        assert_eq!((p1, o1), (p2, o2), "deterministic");
        assert_ne!(o1, prove(&a, b"y").expect("prove").1);
        assert_ne!(o1, prove(&b, b"x").expect("prove").1);
    }

    /// A proposer who wants another output must present another `Γ`: the proof no longer
    /// verifies, whatever `c` and `s` it picks with them.
    #[test]
    fn another_gamma_never_verifies() {
        let a = key();
        let (proof, _) = prove(&a, b"x").expect("prove");
        // Γ' = 2Γ with the same c, s.
        let gamma = ProjectivePoint::from(decompress(&proof[..33]).expect("point"));
        let mut forged = proof;
        forged[..33].copy_from_slice(&compress(&gamma.double().to_affine()));
        assert_eq!(verify(a.verifying_key(), b"x", &forged), Err(VrfError::Invalid));
        // Γ' = Γ + G with s adjusted the way a forger would try (c unchanged).
        let mut forged = proof;
        forged[..33].copy_from_slice(&compress(&(gamma + ProjectivePoint::GENERATOR).to_affine()));
        assert_eq!(verify(a.verifying_key(), b"x", &forged), Err(VrfError::Invalid));
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let a = key();
        let (proof, _) = prove(&a, b"x").expect("prove");
        for i in 0..PROOF_LEN * 8 {
            let mut p = proof;
            p[i / 8] ^= 1 << (i % 8);
            assert!(verify(a.verifying_key(), b"x", &p).is_err(), "bit {i}");
        }
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        let a = key();
        let (proof, _) = prove(&a, b"x").expect("prove");
        assert!(matches!(
            verify(a.verifying_key(), b"x", &proof[..96]),
            Err(VrfError::Malformed(_))
        ));
        let mut long = proof.to_vec();
        long.push(0);
        assert!(matches!(verify(a.verifying_key(), b"x", &long), Err(VrfError::Malformed(_))));
        // The group order itself and 2²⁵⁶ − 1 are not scalars.
        let n = alloy_primitives::hex!(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
        );
        for bad in [n, [0xff; 32]] {
            let mut p = proof;
            p[65..].copy_from_slice(&bad);
            assert_eq!(
                verify(a.verifying_key(), b"x", &p),
                Err(VrfError::Malformed("s is not below the group order"))
            );
            let mut p = proof;
            p[33..65].copy_from_slice(&bad);
            assert_eq!(
                verify(a.verifying_key(), b"x", &p),
                Err(VrfError::Malformed("c is not below the group order"))
            );
        }
        // Γ uncompressed-prefix or infinity.
        let mut p = proof;
        p[0] = 4;
        assert!(matches!(verify(a.verifying_key(), b"x", &p), Err(VrfError::Malformed(_))));
        let mut p = proof;
        p[..33].fill(0);
        assert!(matches!(verify(a.verifying_key(), b"x", &p), Err(VrfError::Malformed(_))));
    }

    #[test]
    fn the_beacon_chains_mixes_and_is_checkable() {
        let a = key();
        let parent = Header { number: 7, mix_hash: B256::repeat_byte(9), ..Default::default() };
        let (proof, mix) = reveal(&a, &parent).expect("reveal");
        let out = verify(a.verifying_key(), &beacon_input(&parent), &proof).expect("verifies");
        assert_eq!(next_mix(&parent, out), mix);
        let other = Header { number: 7, mix_hash: B256::repeat_byte(8), ..Default::default() };
        assert!(verify(a.verifying_key(), &beacon_input(&other), &proof).is_err());
    }
}

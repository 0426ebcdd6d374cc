//! Signatures from outside, read strictly: exactly 65 bytes `r ‖ s ‖ v` with `v` 27 or 28,
//! low `s`, nonzero `r` and `s` — the one encoding of a signature the chain's own parser
//! (`dbc_primitives::pos::canonical_signature`) accepts, so no answer has two valid forms.

use alloy_primitives::{Address, B256};
use k256::ecdsa::VerifyingKey;

/// The key that signed `prehash` with `sig`, if `sig` is canonical.
pub(crate) fn recover(sig: &[u8], prehash: &B256) -> Result<VerifyingKey, String> {
    let sig = dbc_primitives::pos::canonical_signature(sig).map_err(|e| e.to_string())?;
    sig.recover_from_prehash(prehash).map_err(|e| e.to_string())
}

/// The address that signed `prehash` with `sig`, if `sig` is canonical.
pub(crate) fn recover_address(sig: &[u8], prehash: &B256) -> Result<Address, String> {
    recover(sig, prehash).map(|k| Address::from_public_key(&k))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy_primitives::U256;
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;

    #[test]
    fn only_the_canonical_encoding_recovers() {
        let key = PrivateKeySigner::random();
        let h = B256::repeat_byte(1);
        let sig = key.sign_hash_sync(&h).unwrap().as_bytes();
        assert_eq!(recover_address(&sig, &h), Ok(key.address()));
        // v as 0/1, a trailing byte, a short signature: refused.
        let mut v01 = sig;
        v01[64] -= 27;
        assert!(recover_address(&v01, &h).is_err());
        assert!(recover_address(&[sig.as_slice(), &[0]].concat(), &h).is_err());
        assert!(recover_address(&sig[..64], &h).is_err());
        // The high-s twin (n - s, v flipped) recovers the same key elsewhere: refused here.
        let n = U256::from_str_radix(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
            16,
        )
        .unwrap();
        let s = U256::from_be_slice(&sig[32..64]);
        let mut twin = sig;
        twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        twin[64] = if sig[64] == 27 { 28 } else { 27 };
        assert!(recover_address(&twin, &h).is_err());
    }
}

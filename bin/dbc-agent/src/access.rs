//! Renter access: the renter proves control of an active rental with an EIP-712 signature; the
//! provider's agent answers with connection details sealed to the renter's key (ECIES over
//! secp256k1: an ephemeral ECDH key, SHA-256 key derivation, AES-256-GCM), so only the renter
//! can read them whoever relays or logs the answer.

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, Payload},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::{Signature, SignerSync};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain};
use k256::{
    PublicKey, SecretKey,
    elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

alloy_sol_types::sol! {
    /// What a renter signs to reach its rental's workload.
    #[derive(Debug)]
    struct RentalAccess {
        uint256 rentalId;
        bytes32 machineId;
        uint64 deadline;
    }
}

/// The EIP-712 domain of access requests on chain `chain_id`.
pub(crate) fn domain(chain_id: u64) -> Eip712Domain {
    eip712_domain! {
        name: "DBC rental access",
        version: "1",
        chain_id: chain_id,
        verifying_contract: dbc_precompiles::MARKET_ADDRESS,
    }
}

/// A signed access request (`agent_access`'s parameter).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccessRequest {
    /// The rental.
    pub(crate) rental_id: U256,
    /// Its machine.
    pub(crate) machine_id: B256,
    /// Unix time after which the request is void.
    pub(crate) deadline: u64,
    /// The renter's EIP-712 signature (65 bytes).
    pub(crate) signature: Bytes,
}

impl AccessRequest {
    /// Signs a request for `rental_id` on `machine_id` valid until `deadline`.
    pub(crate) fn sign(
        key: &PrivateKeySigner,
        chain_id: u64,
        rental_id: U256,
        machine_id: B256,
        deadline: u64,
    ) -> eyre::Result<Self> {
        let msg = RentalAccess { rentalId: rental_id, machineId: machine_id, deadline };
        let sig = key.sign_hash_sync(&msg.eip712_signing_hash(&domain(chain_id)))?;
        Ok(Self {
            rental_id,
            machine_id,
            deadline,
            signature: Bytes::from(sig.as_bytes().to_vec()),
        })
    }

    /// The signer's address and public key.
    pub(crate) fn signer(&self, chain_id: u64) -> Result<(Address, PublicKey), String> {
        if self.signature.len() != 65 {
            return Err("the signature is not 65 bytes".into());
        }
        let sig = Signature::try_from(self.signature.as_ref()).map_err(|e| e.to_string())?;
        if sig.normalize_s().is_some() {
            return Err("high-s signature".into());
        }
        let msg = RentalAccess {
            rentalId: self.rental_id,
            machineId: self.machine_id,
            deadline: self.deadline,
        };
        let hash = msg.eip712_signing_hash(&domain(chain_id));
        let vk = sig.recover_from_prehash(&hash).map_err(|e| e.to_string())?;
        let address = Address::from_public_key(&vk);
        Ok((address, PublicKey::from(vk)))
    }
}

/// Connection details sealed to the renter's key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sealed {
    /// The ephemeral public key (33 bytes, compressed).
    pub(crate) ephemeral: Bytes,
    /// AES-GCM nonce (12 bytes).
    pub(crate) nonce: Bytes,
    /// Ciphertext and tag.
    pub(crate) ciphertext: Bytes,
}

const KDF_DOMAIN: &[u8] = b"dbc-agent access v1";

fn kdf(shared_x: &[u8], ephemeral: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(KDF_DOMAIN);
    h.update(ephemeral);
    h.update(shared_x);
    h.finalize().into()
}

/// Seals `plaintext` to `to`.
pub(crate) fn seal(to: &PublicKey, plaintext: &[u8]) -> eyre::Result<Sealed> {
    let mut rng = rand08::rngs::OsRng;
    let eph = SecretKey::random(&mut rng);
    let eph_pub = eph.public_key().to_encoded_point(true);
    let shared = k256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), to.as_affine());
    let key = kdf(shared.raw_secret_bytes(), eph_pub.as_bytes());
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| eyre::eyre!("{e}"))?;
    let nonce: [u8; 12] = rand08::random();
    let ciphertext = cipher
        .encrypt(&nonce.into(), Payload { msg: plaintext, aad: eph_pub.as_bytes() })
        .map_err(|e| eyre::eyre!("sealing: {e}"))?;
    Ok(Sealed {
        ephemeral: Bytes::copy_from_slice(eph_pub.as_bytes()),
        nonce: Bytes::copy_from_slice(&nonce),
        ciphertext: ciphertext.into(),
    })
}

/// Opens `sealed` with the renter's key.
pub(crate) fn open(key: &PrivateKeySigner, sealed: &Sealed) -> eyre::Result<Vec<u8>> {
    let point = k256::EncodedPoint::from_bytes(&sealed.ephemeral)
        .map_err(|_| eyre::eyre!("bad ephemeral key"))?;
    let eph = Option::<PublicKey>::from(PublicKey::from_encoded_point(&point))
        .ok_or_else(|| eyre::eyre!("bad ephemeral key"))?;
    let secret = SecretKey::from_bytes(&key.to_bytes().0.into())
        .map_err(|_| eyre::eyre!("bad private key"))?;
    let shared = k256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), eph.as_affine());
    let k = kdf(shared.raw_secret_bytes(), &sealed.ephemeral);
    let cipher = Aes256Gcm::new_from_slice(&k).map_err(|e| eyre::eyre!("{e}"))?;
    let nonce: [u8; 12] =
        sealed.nonce.as_ref().try_into().map_err(|_| eyre::eyre!("the nonce is not 12 bytes"))?;
    cipher
        .decrypt(&nonce.into(), Payload { msg: &sealed.ciphertext, aad: &sealed.ephemeral })
        .map_err(|_| eyre::eyre!("the connection details do not open with this key"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_the_renter_opens_what_is_sealed_to_it() {
        let renter = PrivateKeySigner::random();
        let req =
            AccessRequest::sign(&renter, 7, U256::from(3), B256::repeat_byte(1), 1_000).unwrap();
        let (addr, pk) = req.signer(7).unwrap();
        assert_eq!(addr, renter.address());
        // Another chain, rental or deadline: another signer.
        assert_ne!(req.signer(8).map(|s| s.0).ok(), Some(renter.address()));
        let mut edited = req.clone();
        edited.deadline += 1;
        assert_ne!(edited.signer(7).map(|s| s.0).ok(), Some(renter.address()));

        let sealed = seal(&pk, b"ssh -p 2222 renter@host").unwrap();
        assert_eq!(open(&renter, &sealed).unwrap(), b"ssh -p 2222 renter@host");
        assert!(open(&PrivateKeySigner::random(), &sealed).is_err());
        let mut tampered = sealed.clone();
        let mut ct = tampered.ciphertext.to_vec();
        ct[0] ^= 1;
        tampered.ciphertext = ct.into();
        assert!(open(&renter, &tampered).is_err());
    }
}

//! Renter access: the renter proves control of an active rental with an EIP-712 signature; the
//! provider's agent answers with connection details sealed to the renter's key (ECIES over
//! secp256k1: an ephemeral ECDH key, SHA-256 key derivation, AES-256-GCM), so only the renter
//! can read them whoever relays or logs the answer. What the renter chooses (an image, an SSH
//! key) is signed with the rest, so no relay can swap it.

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, Payload},
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
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
        string image;
        string sshKey;
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
    /// The image the workload runs (container backend); empty: the provider's default.
    pub(crate) image: String,
    /// The renter's SSH public key (one `authorized_keys` line); empty: no SSH.
    pub(crate) ssh_key: String,
    /// The renter's EIP-712 signature (65 bytes).
    pub(crate) signature: Bytes,
}

impl AccessRequest {
    /// Signs a request for `rental_id` on `machine_id` valid until `deadline`, for a workload
    /// of `image` reachable over SSH with `ssh_key` (each empty for none).
    pub(crate) fn sign(
        key: &PrivateKeySigner,
        chain_id: u64,
        rental_id: U256,
        machine_id: B256,
        deadline: u64,
        image: String,
        ssh_key: String,
    ) -> eyre::Result<Self> {
        let mut req =
            Self { rental_id, machine_id, deadline, image, ssh_key, signature: Bytes::new() };
        let sig = key.sign_hash_sync(&req.message().eip712_signing_hash(&domain(chain_id)))?;
        req.signature = Bytes::from(sig.as_bytes().to_vec());
        Ok(req)
    }

    /// What is signed.
    fn message(&self) -> RentalAccess {
        RentalAccess {
            rentalId: self.rental_id,
            machineId: self.machine_id,
            deadline: self.deadline,
            image: self.image.clone(),
            sshKey: self.ssh_key.clone(),
        }
    }

    /// The signer's address and public key.
    pub(crate) fn signer(&self, chain_id: u64) -> Result<(Address, PublicKey), String> {
        let hash = self.message().eip712_signing_hash(&domain(chain_id));
        let vk = crate::sig::recover(&self.signature, &hash)?;
        let address = Address::from_public_key(&vk);
        Ok((address, PublicKey::from(vk)))
    }
}

/// SSH key types a renter may give.
const SSH_KEY_TYPES: [&str; 3] = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"];

/// Longest SSH public key line accepted (an RSA-4096 key is about 730 bytes).
const MAX_SSH_KEY_LEN: usize = 1024;

/// Checks that `line` is one OpenSSH public key, `TYPE BASE64 [COMMENT]`: printable ASCII, at
/// most 1 KiB, of an accepted type, with a base64 body that names the same type.
pub(crate) fn check_ssh_key(line: &str) -> Result<(), String> {
    if line.len() > MAX_SSH_KEY_LEN {
        return Err(format!("the SSH key is longer than {MAX_SSH_KEY_LEN} bytes"));
    }
    if !line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("the SSH key is not one line of printable ASCII".into());
    }
    let mut fields = line.splitn(3, ' ');
    let kind = fields.next().unwrap_or_default();
    if !SSH_KEY_TYPES.contains(&kind) {
        return Err(format!("SSH keys are one of {}", SSH_KEY_TYPES.join(", ")));
    }
    let blob = fields
        .next()
        .and_then(base64_decode)
        .ok_or_else(|| "the SSH key's body is not base64".to_owned())?;
    // The wire format starts with the type again: a u32 length, then the name.
    let named = blob
        .get(..4)
        .and_then(|n| n.try_into().ok())
        .map(|n| u32::from_be_bytes(n) as usize)
        .and_then(|n| blob.get(4..).and_then(|rest| rest.get(..n)));
    if named != Some(kind.as_bytes()) {
        return Err(format!("the SSH key's body is not an {kind} key"));
    }
    Ok(())
}

/// Standard base64 with padding; `None` if `s` is not that.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let quads = bytes.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in bytes.chunks(4).enumerate() {
        let (mut n, mut pad) = (0u32, 0usize);
        for &c in quad {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if i + 1 == quads => {
                    pad += 1;
                    0
                }
                _ => return None,
            };
            if pad > 0 && c != b'=' {
                return None;
            }
            n = (n << 6) | u32::from(v);
        }
        if pad > 2 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
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

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIMx/w6OxJLp02i6Eko5R2OMejYiS6032kkvC95mL/99 renter@laptop";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP54pTyG3pxcw9ZSEASzzfmXF2nK0DM5CAMshtYuGJ0Z3mQG1+bNHqTtJPws7hCHFDAwL30BMuWLEDPmF+y/IxA=";

    #[test]
    fn only_the_renter_opens_what_is_sealed_to_it() {
        let renter = PrivateKeySigner::random();
        let req = AccessRequest::sign(
            &renter,
            7,
            U256::from(3),
            B256::repeat_byte(1),
            1_000,
            "localhost/llm:1".into(),
            ED25519.into(),
        )
        .unwrap();
        let (addr, pk) = req.signer(7).unwrap();
        assert_eq!(addr, renter.address());
        // The request survives the wire.
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"sshKey\""), "{json}");
        let back: AccessRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.signer(7).unwrap().0, renter.address());
        // Another chain, deadline, image or SSH key (a relay swapping in its own): another
        // signer, whom the provider refuses as not the rental's renter.
        assert_ne!(req.signer(8).map(|s| s.0).ok(), Some(renter.address()));
        let edits: [fn(&mut AccessRequest); 4] = [
            |r| r.deadline += 1,
            |r| r.image = "localhost/miner:1".into(),
            |r| r.ssh_key = ECDSA.into(),
            |r| r.ssh_key.clear(),
        ];
        for edit in edits {
            let mut edited = req.clone();
            edit(&mut edited);
            assert_ne!(edited.signer(7).map(|s| s.0).ok(), Some(renter.address()));
        }

        let sealed = seal(&pk, b"ssh -p 2222 renter@host").unwrap();
        assert_eq!(open(&renter, &sealed).unwrap(), b"ssh -p 2222 renter@host");
        assert!(open(&PrivateKeySigner::random(), &sealed).is_err());
        let mut tampered = sealed.clone();
        let mut ct = tampered.ciphertext.to_vec();
        ct[0] ^= 1;
        tampered.ciphertext = ct.into();
        assert!(open(&renter, &tampered).is_err());
    }

    #[test]
    fn ssh_keys_are_one_well_formed_public_key() {
        for good in [
            ED25519,
            ECDSA,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIMx/w6OxJLp02i6Eko5R2OMejYiS6032kkvC95mL/99",
        ] {
            assert_eq!(check_ssh_key(good), Ok(()), "{good}");
        }
        let body = ED25519.split(' ').nth(1).unwrap();
        for bad in [
            "".to_owned(),
            format!("ssh-dss {body}"),
            format!("ssh-rsa {body}"),
            format!("{ED25519}\n{ECDSA}"),
            format!("{ED25519}\n"),
            format!("{ED25519}\u{e9}"),
            format!("ssh-ed25519 {}", &body[1..]),
            format!("ssh-ed25519 {body}="),
            format!("ssh-ed25519 {}==AA", &body[..body.len() - 4]),
            format!("ssh-ed25519  {body}"),
            format!("ssh-ed25519 {body} {}", "x".repeat(1024)),
            "ssh-ed25519".to_owned(),
            "ssh-ed25519 AAAA".to_owned(),
        ] {
            assert!(check_ssh_key(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aGkh").unwrap(), b"hi!");
        assert_eq!(base64_decode("aA==").unwrap(), b"h");
        assert!(base64_decode("a===").is_none());
        assert!(base64_decode("aG=k").is_none());
    }
}

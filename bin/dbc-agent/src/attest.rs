//! The attestation an auditor asks a machine for: the hardware the machine's agent found and
//! the per-GPU score it measured, signed with the machine key over the auditor's fresh nonce.
//! The chain knows the machine key (`MachineSpec.machineKey`), so only the machine that holds
//! it can answer, and an old answer cannot be replayed.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolValue;
use dbc_precompiles::{MARKET_ADDRESS, abi::IGpuMarket::MachineSpec};
use serde::{Deserialize, Serialize};

/// Domain of the attestation digest.
const DOMAIN: &[u8] = b"DBC machine attestation";

/// A machine's answer to `agent_attest`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attestation {
    /// `abi.encode(MachineSpec)` of what the agent found on the machine.
    pub(crate) spec: Bytes,
    /// The per-GPU score it measured.
    pub(crate) calc_point: u32,
    /// The machine key's signature (65 bytes) of [`digest`].
    pub(crate) signature: Bytes,
    /// NVIDIA driver version, if a GPU was read.
    #[serde(default)]
    pub(crate) driver: Option<String>,
    /// CUDA version, if a GPU was read.
    #[serde(default)]
    pub(crate) cuda: Option<String>,
    /// GPU UUIDs, if read.
    #[serde(default)]
    pub(crate) gpu_uuids: Vec<String>,
}

/// What the machine key signs: keccak256("DBC machine attestation" ‖ market ‖ machineId ‖
/// nonce ‖ keccak256(abi.encode(spec)) ‖ calcPoint (4 bytes, big-endian)).
pub(crate) fn digest(machine_id: B256, nonce: B256, spec_abi: &[u8], calc_point: u32) -> B256 {
    let mut buf = Vec::with_capacity(DOMAIN.len() + 20 + 32 * 3 + 4);
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(MARKET_ADDRESS.as_slice());
    buf.extend_from_slice(machine_id.as_slice());
    buf.extend_from_slice(nonce.as_slice());
    buf.extend_from_slice(keccak256(spec_abi).as_slice());
    buf.extend_from_slice(&calc_point.to_be_bytes());
    keccak256(buf)
}

/// Signs an attestation of `spec` and `calc_point` for `nonce` with the machine key.
pub(crate) fn sign(
    key: &PrivateKeySigner,
    machine_id: B256,
    nonce: B256,
    spec: &MachineSpec,
    calc_point: u32,
) -> eyre::Result<Attestation> {
    let spec_abi = Bytes::from(spec.abi_encode());
    let sig = key.sign_hash_sync(&digest(machine_id, nonce, &spec_abi, calc_point))?;
    Ok(Attestation {
        spec: spec_abi,
        calc_point,
        signature: Bytes::from(sig.as_bytes().to_vec()),
        driver: None,
        cuda: None,
        gpu_uuids: Vec::new(),
    })
}

/// Why an attestation is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The spec is not one canonical `abi.encode(MachineSpec)`.
    #[error("the spec is not a canonical ABI encoding")]
    Spec,
    /// The signature is malformed.
    #[error("malformed signature")]
    Signature,
    /// Signed by another key than the machine's.
    #[error("signed by {got}, not by the machine key {want}")]
    WrongKey {
        /// The key on chain.
        want: Address,
        /// The key that signed.
        got: Address,
    },
    /// The attested spec names another key than the one that signed.
    #[error("the attested spec names another machine key")]
    KeyMismatch,
}

/// Checks `a` as the answer of the machine with key `machine_key` to `nonce`, and returns what
/// it attests.
pub(crate) fn verify(
    a: &Attestation,
    machine_id: B256,
    nonce: B256,
    machine_key: Address,
) -> Result<MachineSpec, Invalid> {
    let spec = MachineSpec::abi_decode_validate(&a.spec).map_err(|_| Invalid::Spec)?;
    // Canonical only: re-encoding gives the same bytes.
    if spec.abi_encode() != a.spec.as_ref() {
        return Err(Invalid::Spec);
    }
    let d = digest(machine_id, nonce, &a.spec, a.calc_point);
    let got = crate::sig::recover_address(&a.signature, &d).map_err(|_| Invalid::Signature)?;
    if got != machine_key {
        return Err(Invalid::WrongKey { want: machine_key, got });
    }
    if spec.machineKey != machine_key {
        return Err(Invalid::KeyMismatch);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(key: Address) -> MachineSpec {
        MachineSpec {
            gpuModel: B256::right_padding_from(b"RTX 4090"),
            gpuCount: 2,
            gpuMemoryGb: 24,
            cpuCores: 16,
            ramGb: 64,
            diskGb: 1000,
            region: B256::right_padding_from(b"eu-west"),
            machineKey: key,
        }
    }

    #[test]
    fn only_the_machine_key_over_this_nonce_verifies() {
        let key = PrivateKeySigner::random();
        let id = B256::repeat_byte(1);
        let nonce = B256::repeat_byte(2);
        let a = sign(&key, id, nonce, &spec(key.address()), 1_000).unwrap();
        assert_eq!(verify(&a, id, nonce, key.address()).unwrap(), spec(key.address()));
        // A replay for another nonce, another machine, or an edited score fails.
        assert!(matches!(
            verify(&a, id, B256::repeat_byte(3), key.address()),
            Err(Invalid::WrongKey { .. })
        ));
        assert!(verify(&a, B256::repeat_byte(9), nonce, key.address()).is_err());
        let mut edited = a.clone();
        edited.calc_point = 2_000;
        assert!(verify(&edited, id, nonce, key.address()).is_err());
        // Another key signing the machine's spec.
        let other = PrivateKeySigner::random();
        let forged = sign(&other, id, nonce, &spec(key.address()), 1_000).unwrap();
        assert!(matches!(verify(&forged, id, nonce, key.address()), Err(Invalid::WrongKey { .. })));
        // A spec naming another key than the signer.
        let a = sign(&key, id, nonce, &spec(other.address()), 1_000).unwrap();
        assert_eq!(verify(&a, id, nonce, key.address()), Err(Invalid::KeyMismatch));
        // Trailing bytes after the spec.
        let mut long = sign(&key, id, nonce, &spec(key.address()), 1_000).unwrap();
        let mut bytes = long.spec.to_vec();
        bytes.push(0);
        long.spec = bytes.into();
        assert_eq!(verify(&long, id, nonce, key.address()), Err(Invalid::Spec));
    }
}

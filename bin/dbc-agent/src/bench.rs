//! The compute challenge an auditor runs on a machine, checkable without trusting it.
//!
//! The auditor sends a fresh seed and a size `n`. The machine computes `C = A × B` over `u32`
//! with wrapping arithmetic, where `A` and `B` are `n × n` matrices whose entries are derived
//! from the seed (a counter-based generator, so any entry can be made on its own), and answers
//! with the keccak256 digest of every row of `C`, signed with the machine key. The auditor
//! times the exchange, then recomputes a few rows it picks only after the answer arrived
//! (`n²` multiply-adds each, where the machine did `n³`) and compares their digests. A machine
//! that skips a fraction `f` of the rows passes `k` checked rows with chance `(1 - f)^k`; one
//! that is slower than the GPUs it claims shows it in the time taken.
//!
//! The agent's built-in implementation runs on the CPU (`dbc-agent bench` prints the same
//! digests); a GPU host runs the same computation on its GPUs with `--benchmark-cmd` (docs/agent.md
//! gives the exact definition).

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_precompiles::MARKET_ADDRESS;
use serde::{Deserialize, Serialize};

/// Smallest challenge size.
pub(crate) const MIN_N: u32 = 16;
/// Largest challenge size (the answer is `32 n` bytes of digests).
pub(crate) const MAX_N: u32 = 8_192;
/// Longest a benchmark request may be valid for, in seconds.
pub(crate) const MAX_REQUEST_SECS: u64 = 120;
/// JSON-RPC error code of `agent_benchmark` while another benchmark runs (ask again).
pub(crate) const BUSY: i64 = -32005;
/// Domain of the answer's digest.
const DOMAIN: &[u8] = b"DBC benchmark";

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The generator keys of `A` and `B` for `seed`: the first 16 bytes of keccak256(domain ‖
/// seed ‖ "A"/"B"), as two little-endian `u64`.
fn keys(seed: B256) -> (u64, u64) {
    let key = |m: u8| {
        let h = keccak256([DOMAIN, seed.as_slice(), &[m]].concat());
        let mut k = [0u8; 8];
        k.copy_from_slice(&h[..8]);
        u64::from_le_bytes(k)
    };
    (key(b'A'), key(b'B'))
}

/// Entry `index` (row-major) of the matrix with generator key `key`: the low 32 bits of
/// SplitMix64's output for the state `key + (index + 1) · 0x9e3779b97f4a7c15`.
fn entry(key: u64, index: u64) -> u32 {
    mix(key.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))) as u32
}

/// The whole matrix `B` (the auditor needs it to recompute any row).
fn matrix(key: u64, n: usize) -> Vec<u32> {
    (0..(n * n) as u64).map(|i| entry(key, i)).collect()
}

/// The digest of one row of `C`: keccak256 of its `n` entries as little-endian `u32`.
fn row_digest(row: &[u32]) -> B256 {
    let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
    keccak256(bytes)
}

/// Row `i` of `C = A × B`, given all of `B`.
fn row(ka: u64, b: &[u32], n: usize, i: usize) -> Vec<u32> {
    let mut out = vec![0u32; n];
    for k in 0..n {
        let a = entry(ka, (i * n + k) as u64);
        for (o, bv) in out.iter_mut().zip(&b[k * n..(k + 1) * n]) {
            *o = o.wrapping_add(a.wrapping_mul(*bv));
        }
    }
    out
}

/// Row `i` of `C = A × B`, making `B`'s entries as they are needed (the auditor's side: no
/// `n²` matrix in memory per check).
fn row_on_the_fly(ka: u64, kb: u64, n: usize, i: usize) -> Vec<u32> {
    let mut out = vec![0u32; n];
    for k in 0..n {
        let a = entry(ka, (i * n + k) as u64);
        for (j, o) in out.iter_mut().enumerate() {
            *o = o.wrapping_add(a.wrapping_mul(entry(kb, (k * n + j) as u64)));
        }
    }
    out
}

/// The digests of every row of `C` for `seed` and `n` (the machine's side: `n³`
/// multiply-adds).
pub(crate) fn compute(seed: B256, n: u32) -> Vec<B256> {
    let n = n as usize;
    let (ka, kb) = keys(seed);
    let b = matrix(kb, n);
    (0..n).map(|i| row_digest(&row(ka, &b, n, i))).collect()
}

/// A machine's answer to `agent_benchmark`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Answer {
    /// The row digests, concatenated (`32 n` bytes).
    pub(crate) rows: Bytes,
    /// The machine key's signature (65 bytes) of [`digest`].
    pub(crate) signature: Bytes,
}

/// What the machine key signs: keccak256("DBC benchmark" ‖ market ‖ machineId ‖ seed ‖ n (4
/// bytes, big-endian) ‖ keccak256(rows)).
pub(crate) fn digest(machine_id: B256, seed: B256, n: u32, rows: &[u8]) -> B256 {
    keccak256(
        [
            DOMAIN,
            MARKET_ADDRESS.as_slice(),
            machine_id.as_slice(),
            seed.as_slice(),
            &n.to_be_bytes(),
            keccak256(rows).as_slice(),
        ]
        .concat(),
    )
}

/// Signs the row digests `rows` of the challenge `(seed, n)`.
pub(crate) fn sign(
    key: &PrivateKeySigner,
    machine_id: B256,
    seed: B256,
    n: u32,
    rows: &[B256],
) -> eyre::Result<Answer> {
    let rows: Vec<u8> = rows.iter().flat_map(|r| r.0).collect();
    let sig = key.sign_hash_sync(&digest(machine_id, seed, n, &rows))?;
    Ok(Answer { rows: Bytes::from(rows), signature: Bytes::from(sig.as_bytes().to_vec()) })
}

/// Why a benchmark answer is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not `32 n` bytes of digests.
    #[error("the answer has {0} bytes of row digests, not 32 per row")]
    Length(usize),
    /// The signature is malformed or high-s.
    #[error("malformed benchmark signature")]
    Signature,
    /// Signed by another key than the machine's.
    #[error("the benchmark was signed by {0}, not by the machine key")]
    WrongKey(alloy_primitives::Address),
    /// A checked row's digest is wrong.
    #[error("row {0} of the benchmark is wrong")]
    WrongRow(u32),
}

/// Checks `answer` to the challenge `(seed, n)` of machine `machine_id` with key `key`:
/// the signature, then the rows `check` (recomputed here).
pub(crate) fn verify(
    answer: &Answer,
    machine_id: B256,
    seed: B256,
    n: u32,
    key: alloy_primitives::Address,
    check: &[u32],
) -> Result<(), Invalid> {
    if answer.rows.len() != 32 * n as usize {
        return Err(Invalid::Length(answer.rows.len()));
    }
    let signer =
        crate::sig::recover_address(&answer.signature, &digest(machine_id, seed, n, &answer.rows))
            .map_err(|_| Invalid::Signature)?;
    if signer != key {
        return Err(Invalid::WrongKey(signer));
    }
    let nn = n as usize;
    let (ka, kb) = keys(seed);
    for &i in check {
        let at = i as usize * 32;
        let Some(given) = answer.rows.get(at..at + 32) else { return Err(Invalid::WrongRow(i)) };
        if row_digest(&row_on_the_fly(ka, kb, nn, i as usize)).as_slice() != given {
            return Err(Invalid::WrongRow(i));
        }
    }
    Ok(())
}

/// An auditor's request for a benchmark (`agent_benchmark`'s parameter): a benchmark costs
/// the machine `n³` work, so only committee members may ask, and they sign for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    /// The machine.
    pub(crate) machine_id: B256,
    /// The auditor's fresh seed.
    pub(crate) seed: B256,
    /// The size.
    pub(crate) n: u32,
    /// Unix time after which the request is void (at most [`MAX_REQUEST_SECS`] ahead).
    pub(crate) deadline: u64,
    /// The auditor's signature (65 bytes) of [`request_digest`].
    pub(crate) signature: Bytes,
}

/// What an auditor signs to ask for a benchmark: keccak256("DBC benchmark request" ‖ market ‖
/// machineId ‖ seed ‖ n (4 bytes, big-endian) ‖ deadline (8 bytes, big-endian)).
fn request_digest(machine_id: B256, seed: B256, n: u32, deadline: u64) -> B256 {
    keccak256(
        [
            b"DBC benchmark request".as_slice(),
            MARKET_ADDRESS.as_slice(),
            machine_id.as_slice(),
            seed.as_slice(),
            &n.to_be_bytes(),
            &deadline.to_be_bytes(),
        ]
        .concat(),
    )
}

impl Request {
    /// A request signed by the auditor's `key`.
    pub(crate) fn sign(
        key: &PrivateKeySigner,
        machine_id: B256,
        seed: B256,
        n: u32,
        deadline: u64,
    ) -> eyre::Result<Self> {
        let sig = key.sign_hash_sync(&request_digest(machine_id, seed, n, deadline))?;
        Ok(Self { machine_id, seed, n, deadline, signature: Bytes::from(sig.as_bytes().to_vec()) })
    }

    /// Who signed the request.
    pub(crate) fn signer(&self) -> Result<alloy_primitives::Address, Invalid> {
        let digest = request_digest(self.machine_id, self.seed, self.n, self.deadline);
        crate::sig::recover_address(&self.signature, &digest).map_err(|_| Invalid::Signature)
    }
}

/// Runs the challenge on this machine: `cmd` (a GPU implementation; it gets `DBC_BENCH_SEED`
/// as 0x-hex and `DBC_BENCH_N`, and prints the `n` row digests as hex, one a line) or the
/// built-in CPU implementation.
pub(crate) async fn run(cmd: Option<&str>, seed: B256, n: u32) -> Result<Vec<B256>, String> {
    let Some(cmd) = cmd else {
        return tokio::task::spawn_blocking(move || compute(seed, n))
            .await
            .map_err(|e| e.to_string());
    };
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("DBC_BENCH_SEED", seed.to_string())
        .env("DBC_BENCH_N", n.to_string())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("running the benchmark: {e}"))?;
    if !out.status.success() {
        return Err(format!("the benchmark failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    parse_rows(&String::from_utf8_lossy(&out.stdout), n)
}

/// Exactly `n` lines of one 32-byte hex digest each (`0x` optional).
pub(crate) fn parse_rows(text: &str, n: u32) -> Result<Vec<B256>, String> {
    let rows: Vec<B256> = text
        .lines()
        .map(|l| l.trim().parse::<B256>().map_err(|_| format!("not a row digest: {l:?}")))
        .collect::<Result<_, _>>()?;
    if rows.len() != n as usize {
        return Err(format!("the benchmark printed {} rows, not {n}", rows.len()));
    }
    Ok(rows)
}

/// Multiply-adds of a challenge of size `n` (`n³`), as operations (2 per multiply-add).
pub(crate) fn ops(n: u32) -> f64 {
    2.0 * f64::from(n).powi(3)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A naive `C = A × B` from the definition, entry by entry.
    fn naive(seed: B256, n: usize) -> Vec<B256> {
        let (ka, kb) = keys(seed);
        (0..n)
            .map(|i| {
                let row: Vec<u32> = (0..n)
                    .map(|j| {
                        (0..n).fold(0u32, |acc, k| {
                            acc.wrapping_add(
                                entry(ka, (i * n + k) as u64)
                                    .wrapping_mul(entry(kb, (k * n + j) as u64)),
                            )
                        })
                    })
                    .collect();
                row_digest(&row)
            })
            .collect()
    }

    #[test]
    fn the_rows_are_the_product_of_the_seeded_matrices() {
        let seed = B256::repeat_byte(7);
        assert_eq!(compute(seed, 24), naive(seed, 24));
        let (ka, kb) = keys(seed);
        assert_eq!(row_digest(&row_on_the_fly(ka, kb, 24, 5)), naive(seed, 24)[5]);
        // Another seed, another product.
        assert_ne!(compute(B256::repeat_byte(8), 24), compute(seed, 24));
        // Pinned: the definition in docs/agent.md must not drift.
        assert_eq!(entry(0, 0), mix(0x9e37_79b9_7f4a_7c15) as u32);
    }

    #[test]
    fn only_the_machine_key_and_the_right_rows_pass() {
        let key = PrivateKeySigner::random();
        let (id, seed, n) = (B256::repeat_byte(1), B256::repeat_byte(2), 32);
        let rows = compute(seed, n);
        let a = sign(&key, id, seed, n, &rows).unwrap();
        let all: Vec<u32> = (0..n).collect();
        assert_eq!(verify(&a, id, seed, n, key.address(), &all), Ok(()));
        // Another machine's key, another seed or size: refused.
        let other = PrivateKeySigner::random();
        assert!(matches!(
            verify(&a, id, seed, n, other.address(), &all),
            Err(Invalid::WrongKey(_))
        ));
        assert!(matches!(
            verify(&a, id, B256::repeat_byte(3), n, key.address(), &[0]),
            Err(Invalid::WrongKey(_))
        ));
        assert_eq!(verify(&a, id, seed, n - 1, key.address(), &[0]), Err(Invalid::Length(32 * 32)));
        // One wrong row, signed by the machine: found if checked, and only then.
        let mut lazy = rows.clone();
        lazy[5] = B256::ZERO;
        let l = sign(&key, id, seed, n, &lazy).unwrap();
        assert_eq!(verify(&l, id, seed, n, key.address(), &[4, 5]), Err(Invalid::WrongRow(5)));
        assert_eq!(verify(&l, id, seed, n, key.address(), &[4, 6]), Ok(()));
    }

    #[test]
    fn requests_name_their_auditor_and_rows_parse_strictly() {
        let auditor = PrivateKeySigner::random();
        let mut r = Request::sign(&auditor, B256::ZERO, B256::repeat_byte(9), 64, 1_000).unwrap();
        assert_eq!(r.signer(), Ok(auditor.address()));
        r.n = 65;
        assert_ne!(r.signer(), Ok(auditor.address()), "the size is signed");
        r.n = 64;
        r.deadline = 2_000;
        assert_ne!(r.signer(), Ok(auditor.address()), "the deadline is signed");
        let rows = compute(B256::ZERO, 16);
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        assert_eq!(parse_rows(&text, 16), Ok(rows));
        assert!(parse_rows(&text, 17).is_err());
        assert!(parse_rows(&format!("{text}junk\n"), 16).is_err());
    }
}

//! How rows are encoded: transaction and receipt lists, RLP values, 32-byte words.

use crate::{Result, corrupt, tables::RECEIPTS};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::U256;
use alloy_rlp::Decodable;
use dbc_primitives::ReceiptEnvelope;

pub(crate) fn encode_list<T: Encodable2718>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * 128);
    for item in items {
        let len = item.encode_2718_len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        item.encode_2718(&mut out);
    }
    out
}

pub(crate) fn decode_list<T: Decodable2718>(
    table: &'static str,
    mut bytes: &[u8],
) -> Result<Vec<T>> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(corrupt(table, "truncated length"));
        }
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        bytes = &bytes[4..];
        if bytes.len() < len {
            return Err(corrupt(table, "truncated item"));
        }
        let mut item = &bytes[..len];
        items.push(T::decode_2718(&mut item).map_err(|e| corrupt(table, e))?);
        bytes = &bytes[len..];
    }
    Ok(items)
}

/// A receipt as stored: without its logs bloom, which is derived from the logs (256 of a
/// transfer receipt's ~280 bytes). Readers recompute it.
#[derive(alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub(crate) struct StoredReceipt {
    tx_type: u8,
    success: bool,
    cumulative_gas_used: u64,
    logs: Vec<alloy_primitives::Log>,
}

pub(crate) fn encode_receipts(receipts: &[ReceiptEnvelope]) -> Vec<u8> {
    let stored: Vec<StoredReceipt> = receipts
        .iter()
        .map(|r| {
            let inner = r.as_receipt();
            StoredReceipt {
                tx_type: r.tx_type() as u8,
                success: alloy_consensus::TxReceipt::status(r),
                cumulative_gas_used: inner.map_or(0, |i| i.cumulative_gas_used),
                logs: inner.map(|i| i.logs.clone()).unwrap_or_default(),
            }
        })
        .collect();
    alloy_rlp::encode(stored)
}

pub(crate) fn decode_receipts(raw: &[u8]) -> Result<Vec<ReceiptEnvelope>> {
    let stored: Vec<StoredReceipt> = decode_rlp(RECEIPTS, raw)?;
    stored
        .into_iter()
        .map(|r| {
            let ty =
                alloy_consensus::TxType::try_from(r.tx_type).map_err(|e| corrupt(RECEIPTS, e))?;
            let receipt = alloy_consensus::Receipt {
                status: r.success.into(),
                cumulative_gas_used: r.cumulative_gas_used,
                logs: r.logs,
            };
            Ok(ReceiptEnvelope::from_typed(ty, receipt.with_bloom()))
        })
        .collect()
}

pub(crate) fn decode_rlp<T: Decodable>(table: &'static str, mut bytes: &[u8]) -> Result<T> {
    T::decode(&mut bytes).map_err(|e| corrupt(table, e))
}

pub(crate) fn decode_u256(bytes: &[u8]) -> U256 {
    U256::from_be_slice(bytes)
}

pub(crate) fn encode_u256(value: &U256) -> Vec<u8> {
    let bytes = value.to_be_bytes::<32>();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(32);
    bytes[first..].to_vec()
}

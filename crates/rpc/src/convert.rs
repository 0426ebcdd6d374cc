//! Conversions from stored types to their JSON-RPC shapes.

use alloy_consensus::{Transaction as _, TxReceipt};
use alloy_primitives::{Address, B256, Log as PrimitiveLog, U256};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};
use dbc_primitives::{Block as StoredBlock, ReceiptEnvelope, Recovered, SealedHeader, TxEnvelope};

/// The RPC header of a sealed header.
pub(crate) fn rpc_header(header: &SealedHeader) -> Header {
    let size = header.inner().length();
    Header {
        hash: header.hash(),
        inner: header.inner().clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(size)),
    }
}

/// An included transaction as RPC returns it.
pub(crate) fn rpc_transaction(
    tx: &TxEnvelope,
    sender: Address,
    header: &SealedHeader,
    index: usize,
) -> Transaction {
    let base_fee = header.base_fee_per_gas;
    Transaction {
        inner: Recovered::new_unchecked(tx.clone(), sender),
        block_hash: Some(header.hash()),
        block_number: Some(header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(tx.effective_gas_price(base_fee)),
        block_timestamp: Some(header.timestamp),
    }
}

/// A pooled (not yet included) transaction.
pub(crate) fn rpc_pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    Transaction {
        inner: tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// A block, with full transactions or hashes.
pub(crate) fn rpc_block(block: &StoredBlock, full: bool) -> Block<Transaction, Header> {
    let header = &block.header;
    let transactions = if full {
        BlockTransactions::Full(
            block
                .transactions
                .iter()
                .zip(&block.senders)
                .enumerate()
                .map(|(i, (tx, sender))| rpc_transaction(tx, *sender, header, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.transactions.iter().map(|t| *t.tx_hash()).collect())
    };
    // Size of the block's RLP: header, transactions, ommers, withdrawals.
    let tx_len: usize = block.transactions.iter().map(|t| t.length()).sum();
    let body_len = header.inner().length() + tx_len + 16;
    let mut rpc = Block {
        header: rpc_header(header),
        uncles: vec![],
        transactions,
        withdrawals: header.withdrawals_root.map(|_| Default::default()),
    };
    rpc.header.size = Some(U256::from(body_len));
    rpc
}

fn rpc_logs(
    logs: &[PrimitiveLog],
    header: &SealedHeader,
    tx_hash: B256,
    tx_index: usize,
    first_log_index: usize,
) -> Vec<Log> {
    logs.iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(header.hash()),
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(tx_index as u64),
            log_index: Some((first_log_index + i) as u64),
            removed: false,
        })
        .collect()
}

/// The RPC receipt of transaction `i` of `block`, given the cumulative gas before it and the
/// block-wide index of its first log.
pub(crate) fn rpc_receipt_at(
    header: &SealedHeader,
    tx: &TxEnvelope,
    sender: Address,
    receipt: &ReceiptEnvelope,
    i: usize,
    prev_cumulative: u64,
    first_log_index: usize,
) -> TransactionReceipt {
    let cumulative = receipt.cumulative_gas_used();
    let logs = rpc_logs(receipt.logs(), header, *tx.tx_hash(), i, first_log_index);
    let with_bloom = alloy_consensus::ReceiptWithBloom {
        receipt: alloy_consensus::Receipt {
            status: receipt.status_or_post_state(),
            cumulative_gas_used: cumulative,
            logs,
        },
        logs_bloom: receipt.bloom(),
    };
    let inner = match receipt {
        ReceiptEnvelope::Legacy(_) => ReceiptEnvelope::Legacy(with_bloom),
        ReceiptEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(with_bloom),
        ReceiptEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(with_bloom),
        ReceiptEnvelope::Eip4844(_) => ReceiptEnvelope::Eip4844(with_bloom),
        ReceiptEnvelope::Eip7702(_) => ReceiptEnvelope::Eip7702(with_bloom),
    };
    TransactionReceipt {
        inner,
        transaction_hash: *tx.tx_hash(),
        transaction_index: Some(i as u64),
        block_hash: Some(header.hash()),
        block_number: Some(header.number),
        gas_used: cumulative.saturating_sub(prev_cumulative),
        effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from: sender,
        to: tx.to(),
        contract_address: tx.to().is_none().then(|| sender.create(tx.nonce())),
    }
}

/// The cumulative gas before receipt `index` and the block-wide index of its first log.
pub(crate) fn receipt_offsets(receipts: &[ReceiptEnvelope], index: usize) -> (u64, usize) {
    let prev =
        index.checked_sub(1).and_then(|p| receipts.get(p)).map_or(0, |r| r.cumulative_gas_used());
    let first_log = receipts.iter().take(index).map(|r| r.logs().len()).sum();
    (prev, first_log)
}

/// All receipts of a block in RPC form.
pub(crate) fn rpc_receipts(
    block: &StoredBlock,
    receipts: &[ReceiptEnvelope],
) -> Vec<TransactionReceipt> {
    let mut out = Vec::with_capacity(receipts.len());
    let mut log_index = 0usize;
    let mut prev_cumulative = 0u64;
    for (i, (receipt, (tx, sender))) in
        receipts.iter().zip(block.transactions.iter().zip(&block.senders)).enumerate()
    {
        out.push(rpc_receipt_at(
            &block.header,
            tx,
            *sender,
            receipt,
            i,
            prev_cumulative,
            log_index,
        ));
        log_index += receipt.logs().len();
        prev_cumulative = receipt.cumulative_gas_used();
    }
    out
}

/// Logs of a block matching `filter`.
pub(crate) fn matching_logs(
    block: &StoredBlock,
    receipts: &[ReceiptEnvelope],
    filter: &alloy_rpc_types_eth::Filter,
) -> Vec<Log> {
    let mut out = Vec::new();
    let mut log_index = 0usize;
    for (i, (receipt, tx)) in receipts.iter().zip(&block.transactions).enumerate() {
        for log in receipt.logs() {
            if filter.matches(log) {
                out.extend(rpc_logs(
                    std::slice::from_ref(log),
                    &block.header,
                    *tx.tx_hash(),
                    i,
                    log_index,
                ));
            }
            log_index += 1;
        }
    }
    out
}

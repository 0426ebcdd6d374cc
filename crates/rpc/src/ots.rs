//! The `ots_` namespace that Otterscan uses.
//!
//! Address searches (`ots_searchTransactions*`) scan blocks for transactions sent by, sent to, or
//! creating the address; they do not see internal calls (there is no call-trace index yet).

use crate::{
    RpcContext,
    convert::{rpc_block, rpc_header, rpc_receipts},
    error::{RpcResult, header_not_found, rpc_err, server_error},
};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{BlockTransactions, Transaction, TransactionReceipt};
use alloy_rpc_types_trace::{
    geth::{
        CallConfig, GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions,
        GethTrace,
    },
    otterscan::{
        BlockDetails, ContractCreator, InternalIssuance, InternalOperation, OperationType,
        OtsBlock, OtsBlockTransactions, OtsReceipt, OtsSlimBlock, OtsTransactionReceipt,
        TraceEntry, TransactionsWithReceipts,
    },
    parity::{Action, CreationMethod, LocalizedTransactionTrace, TraceOutput},
};
use dbc_evm::trace::{GethTracer, ParityTracer, replay_block};
use dbc_primitives::Block;
use dbc_storage::StateReader;
use jsonrpsee::proc_macros::rpc;

/// Otterscan API level implemented.
pub const API_LEVEL: u64 = 8;
/// Blocks an address search scans at most per call.
pub const MAX_SEARCH_BLOCKS: u64 = 100_000;

/// `ots_` methods.
#[rpc(server, namespace = "ots")]
pub trait OtsApi {
    /// API level.
    #[method(name = "getApiLevel")]
    fn api_level(&self) -> RpcResult<u64>;
    /// Whether `address` has code at `block`.
    #[method(name = "hasCode")]
    fn has_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<bool>;
    /// Value transfers, creations and self-destructs inside a transaction.
    #[method(name = "getInternalOperations", blocking)]
    fn internal_operations(&self, hash: B256) -> RpcResult<Vec<InternalOperation>>;
    /// Revert data of a failed transaction (`0x` when it succeeded).
    #[method(name = "getTransactionError", blocking)]
    fn transaction_error(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// Flat list of a transaction's call frames.
    #[method(name = "traceTransaction", blocking)]
    fn trace_transaction(&self, hash: B256) -> RpcResult<Option<Vec<TraceEntry>>>;
    /// Block header, transaction count and fees.
    #[method(name = "getBlockDetails", blocking)]
    fn block_details(&self, number: BlockNumberOrTag) -> RpcResult<Option<BlockDetails>>;
    /// Block header, transaction count and fees, by hash.
    #[method(name = "getBlockDetailsByHash", blocking)]
    fn block_details_by_hash(&self, hash: B256) -> RpcResult<Option<BlockDetails>>;
    /// A page of a block's transactions with their receipts.
    #[method(name = "getBlockTransactions", blocking)]
    fn block_transactions(
        &self,
        number: BlockNumberOrTag,
        page: usize,
        page_size: usize,
    ) -> RpcResult<OtsBlockTransactions>;
    /// Transactions of `address` before `block` (0 = latest), newest first.
    #[method(name = "searchTransactionsBefore", blocking)]
    fn search_before(
        &self,
        address: Address,
        block: u64,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts>;
    /// Transactions of `address` after `block` (0 = genesis), newest first.
    #[method(name = "searchTransactionsAfter", blocking)]
    fn search_after(
        &self,
        address: Address,
        block: u64,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts>;
    /// The hash of the transaction `sender` sent with `nonce`.
    #[method(name = "getTransactionBySenderAndNonce", blocking)]
    fn transaction_by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: u64,
    ) -> RpcResult<Option<B256>>;
    /// The transaction and account that created contract `address`.
    #[method(name = "getContractCreator", blocking)]
    fn contract_creator(&self, address: Address) -> RpcResult<Option<ContractCreator>>;
}

/// `items[start..end]`, cut to what `items` has (never panics).
pub(crate) fn page<T: Clone>(items: &[T], start: usize, end: usize) -> Vec<T> {
    let end = end.min(items.len());
    items.get(start.min(end)..end).map(<[T]>::to_vec).unwrap_or_default()
}

fn ots_receipt(r: TransactionReceipt, timestamp: u64) -> OtsTransactionReceipt {
    let receipt = r.map_inner(|inner| OtsReceipt {
        status: inner.status(),
        cumulative_gas_used: inner.cumulative_gas_used(),
        logs: None,
        logs_bloom: None,
        r#type: inner.tx_type() as u8,
    });
    OtsTransactionReceipt { receipt, timestamp: Some(timestamp) }
}

impl RpcContext {
    fn parity_traces(&self, hash: B256) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>> {
        let Some(loc) = self.storage().tx_location(hash).map_err(rpc_err)? else { return Ok(None) };
        let Some(block) = self.storage().block(loc.block_number).map_err(rpc_err)? else {
            return Ok(None);
        };
        let state = self.storage().state_at(loc.block_number.saturating_sub(1));
        let mut traces = replay_block(
            self.spec(),
            &block,
            state,
            Some(loc.index as usize),
            &mut ParityTracer,
            self.deadline(),
        )
        .map_err(rpc_err)?;
        Ok(traces.pop())
    }

    fn details(&self, block: Block) -> RpcResult<BlockDetails> {
        let receipts =
            self.storage().receipts(block.number()).map_err(rpc_err)?.unwrap_or_default();
        let total_fees = rpc_receipts(&block, &receipts).iter().fold(U256::ZERO, |acc, r| {
            acc + U256::from(r.gas_used) * U256::from(r.effective_gas_price)
        });
        Ok(BlockDetails {
            block: OtsSlimBlock {
                header: rpc_header(&block.header),
                uncles: vec![],
                withdrawals: block.header.withdrawals_root.map(|_| Default::default()),
                transaction_count: block.transactions.len(),
            },
            issuance: InternalIssuance::default(),
            total_fees,
        })
    }

    /// Scans blocks in `range` (in the given order) for transactions touching `address`.
    fn scan_address(
        &self,
        address: Address,
        blocks: impl Iterator<Item = u64>,
        page_size: usize,
    ) -> RpcResult<(Vec<Transaction>, Vec<OtsTransactionReceipt>, bool)> {
        let until = self.deadline();
        let mut txs = Vec::new();
        let mut receipts = Vec::new();
        let mut exhausted = true;
        for n in blocks {
            Self::check_deadline(until)?;
            let Some(block) = self.storage().block(n).map_err(rpc_err)? else { continue };
            if block.transactions.is_empty() {
                continue;
            }
            let stored = self.storage().receipts(n).map_err(rpc_err)?.unwrap_or_default();
            let rpc_block = rpc_block(&block, true);
            let BlockTransactions::Full(full) = rpc_block.transactions else { continue };
            let mut block_hits = Vec::new();
            for (tx, r) in full.into_iter().zip(rpc_receipts(&block, &stored)) {
                let hit = r.from == address
                    || r.to == Some(address)
                    || r.contract_address == Some(address);
                if hit {
                    block_hits.push((tx, ots_receipt(r, block.header.timestamp)));
                }
            }
            // Newest first within a block too.
            for (tx, r) in block_hits.into_iter().rev() {
                txs.push(tx);
                receipts.push(r);
            }
            if txs.len() >= page_size {
                exhausted = false;
                break;
            }
        }
        Ok((txs, receipts, exhausted))
    }
}

impl OtsApiServer for RpcContext {
    fn api_level(&self) -> RpcResult<u64> {
        Ok(API_LEVEL)
    }

    fn has_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<bool> {
        let state = self.storage().state_at(self.resolve(block)?);
        Ok(state.account(address).map_err(rpc_err)?.is_some_and(|a| a.has_code()))
    }

    fn internal_operations(&self, hash: B256) -> RpcResult<Vec<InternalOperation>> {
        let traces = self.parity_traces(hash)?.unwrap_or_default();
        let mut ops = Vec::new();
        for t in traces.iter().filter(|t| !t.trace.trace_address.is_empty()) {
            match &t.trace.action {
                Action::Call(call) if !call.value.is_zero() => ops.push(InternalOperation {
                    r#type: OperationType::OpTransfer,
                    from: call.from,
                    to: call.to,
                    value: call.value,
                }),
                Action::Create(create) => {
                    let to = match &t.trace.result {
                        Some(TraceOutput::Create(out)) => out.address,
                        _ => continue,
                    };
                    let r#type = if create.creation_method == CreationMethod::Create2 {
                        OperationType::OpCreate2
                    } else {
                        OperationType::OpCreate
                    };
                    ops.push(InternalOperation {
                        r#type,
                        from: create.from,
                        to,
                        value: create.value,
                    });
                }
                Action::Selfdestruct(sd) => ops.push(InternalOperation {
                    r#type: OperationType::OpSelfDestruct,
                    from: sd.address,
                    to: sd.refund_address,
                    value: sd.balance,
                }),
                _ => {}
            }
        }
        Ok(ops)
    }

    fn transaction_error(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        let Some(loc) = self.storage().tx_location(hash).map_err(rpc_err)? else { return Ok(None) };
        let block = self
            .storage()
            .block(loc.block_number)
            .map_err(rpc_err)?
            .ok_or_else(header_not_found)?;
        let opts = GethDebugTracingOptions {
            tracer: Some(GethDebugTracerType::BuiltInTracer(
                GethDebugBuiltInTracerType::CallTracer,
            )),
            tracer_config: serde_json::to_value(CallConfig::default().only_top_call())
                .map_err(|e| server_error(e.to_string()))?
                .into(),
            ..Default::default()
        };
        let state = self.storage().state_at(loc.block_number.saturating_sub(1));
        let mut tracer = GethTracer::new(opts).map_err(rpc_err)?;
        let trace = replay_block(
            self.spec(),
            &block,
            state,
            Some(loc.index as usize),
            &mut tracer,
            self.deadline(),
        )
        .map_err(rpc_err)?
        .pop();
        Ok(Some(match trace {
            Some(GethTrace::CallTracer(frame)) if frame.error.is_some() => {
                frame.output.unwrap_or_default()
            }
            _ => Bytes::new(),
        }))
    }

    fn trace_transaction(&self, hash: B256) -> RpcResult<Option<Vec<TraceEntry>>> {
        let Some(traces) = self.parity_traces(hash)? else { return Ok(None) };
        Ok(Some(
            traces
                .iter()
                .filter_map(|t| {
                    TraceEntry::from_transaction_trace(&t.trace).or_else(|| {
                        match (&t.trace.action, &t.trace.result) {
                            (Action::Create(c), Some(TraceOutput::Create(out))) => {
                                Some(TraceEntry {
                                    r#type: if c.creation_method == CreationMethod::Create2 {
                                        "CREATE2".into()
                                    } else {
                                        "CREATE".into()
                                    },
                                    depth: t.trace.trace_address.len() as u32,
                                    from: c.from,
                                    to: out.address,
                                    value: Some(c.value),
                                    input: c.init.clone(),
                                    output: out.code.clone(),
                                })
                            }
                            _ => None,
                        }
                    })
                })
                .collect(),
        ))
    }

    fn block_details(&self, number: BlockNumberOrTag) -> RpcResult<Option<BlockDetails>> {
        let Some(n) = self.resolve_tag(number) else { return Ok(None) };
        match self.storage().block(n).map_err(rpc_err)? {
            Some(b) => self.details(b).map(Some),
            None => Ok(None),
        }
    }

    fn block_details_by_hash(&self, hash: B256) -> RpcResult<Option<BlockDetails>> {
        let Some(n) = self.storage().block_number(hash).map_err(rpc_err)? else { return Ok(None) };
        match self.storage().block(n).map_err(rpc_err)? {
            Some(b) => self.details(b).map(Some),
            None => Ok(None),
        }
    }

    fn block_transactions(
        &self,
        number: BlockNumberOrTag,
        page_number: usize,
        page_size: usize,
    ) -> RpcResult<OtsBlockTransactions> {
        let n = self.resolve_tag(number).ok_or_else(header_not_found)?;
        let block = self.storage().block(n).map_err(rpc_err)?.ok_or_else(header_not_found)?;
        let stored = self.storage().receipts(n).map_err(rpc_err)?.unwrap_or_default();
        let count = block.transactions.len();
        let start = page_number.saturating_mul(page_size).min(count);
        let end = start.saturating_add(page_size).min(count);
        let mut rpc = rpc_block(&block, true);
        if let BlockTransactions::Full(txs) = &mut rpc.transactions {
            *txs = page(txs, start, end);
        }
        // The receipts are read apart from the block: if an unwind removed them in between,
        // the page has fewer (or no) receipts rather than a panic.
        let receipts = page(&rpc_receipts(&block, &stored), start, end)
            .into_iter()
            .map(|r| ots_receipt(r, block.header.timestamp))
            .collect();
        Ok(OtsBlockTransactions {
            fullblock: OtsBlock { block: rpc, transaction_count: count },
            receipts,
        })
    }

    fn search_before(
        &self,
        address: Address,
        block: u64,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts> {
        let head = self.chain().head_number();
        let first_page = block == 0;
        let top = if block == 0 { head } else { block.saturating_sub(1).min(head) };
        let bottom = top.saturating_sub(MAX_SEARCH_BLOCKS);
        let (txs, receipts, exhausted) =
            self.scan_address(address, (bottom..=top).rev(), page_size.max(1))?;
        Ok(TransactionsWithReceipts {
            txs,
            receipts,
            first_page,
            last_page: exhausted && bottom == 0,
        })
    }

    fn search_after(
        &self,
        address: Address,
        block: u64,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts> {
        let head = self.chain().head_number();
        let bottom = block.saturating_add(1);
        let top = bottom.saturating_add(MAX_SEARCH_BLOCKS).min(head);
        let (mut txs, mut receipts, exhausted) =
            self.scan_address(address, bottom..=top, page_size.max(1))?;
        // Otterscan expects newest first on every page.
        txs.reverse();
        receipts.reverse();
        Ok(TransactionsWithReceipts {
            txs,
            receipts,
            first_page: exhausted && top == head,
            last_page: block == 0,
        })
    }

    fn transaction_by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: u64,
    ) -> RpcResult<Option<B256>> {
        let head = self.chain().head_number();
        let nonce_at = |n: u64| -> RpcResult<u64> {
            Ok(self.storage().state_at(n).account(sender).map_err(rpc_err)?.map_or(0, |a| a.nonce))
        };
        if nonce_at(head)? <= nonce {
            return Ok(None);
        }
        // The first block whose end state has nonce > `nonce` holds the transaction.
        let (mut lo, mut hi) = (0u64, head);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if nonce_at(mid)? > nonce { hi = mid } else { lo = mid + 1 }
        }
        let block = self.storage().block(lo).map_err(rpc_err)?.ok_or_else(header_not_found)?;
        let found = block
            .transactions
            .iter()
            .zip(&block.senders)
            .find(|(tx, s)| **s == sender && alloy_consensus::Transaction::nonce(*tx) == nonce)
            .map(|(tx, _)| *tx.tx_hash());
        Ok(found)
    }

    fn contract_creator(&self, address: Address) -> RpcResult<Option<ContractCreator>> {
        let head = self.chain().head_number();
        let has_code = |n: u64| -> RpcResult<bool> {
            Ok(self
                .storage()
                .state_at(n)
                .account(address)
                .map_err(rpc_err)?
                .is_some_and(|a| a.has_code()))
        };
        if !has_code(head)? || has_code(0)? {
            return Ok(None);
        }
        let (mut lo, mut hi) = (0u64, head);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if has_code(mid)? { hi = mid } else { lo = mid + 1 }
        }
        let block = self.storage().block(lo).map_err(rpc_err)?.ok_or_else(header_not_found)?;
        let state = self.storage().state_at(lo.saturating_sub(1));
        let traces =
            replay_block(self.spec(), &block, state, None, &mut ParityTracer, self.deadline())
                .map_err(rpc_err)?;
        for t in traces.into_iter().flatten() {
            if let (Action::Create(c), Some(TraceOutput::Create(out))) =
                (&t.trace.action, &t.trace.result)
                && out.address == address
            {
                return Ok(Some(ContractCreator {
                    hash: t.transaction_hash.unwrap_or_default(),
                    creator: c.from,
                }));
            }
        }
        Ok(None)
    }
}

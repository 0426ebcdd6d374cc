//! The `eth_` namespace.

use crate::{
    RpcContext,
    convert::{
        matching_logs, receipt_offsets, rpc_block, rpc_pending_transaction, rpc_receipt_at,
        rpc_receipts, rpc_transaction,
    },
    error::{RpcResult, header_not_found, invalid_params, rpc_err, server_error},
    filters::{FilterKind, chain_event_values},
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    AccessListResult, AccountInfo, Block, BlockOverrides, EIP1186AccountProofResponse, FeeHistory,
    Filter, FilterChanges, Header, Index, Log, SyncStatus, Transaction, TransactionReceipt,
    TransactionRequest,
    pubsub::{Params as SubParams, SubscriptionKind},
    state::{EvmOverrides, StateOverride},
};
use alloy_serde::JsonStorageKey;
use dbc_primitives::{Recovered, TxEnvelope};
use dbc_storage::StateReader;
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage,
    core::{SubscriptionResult, async_trait},
    proc_macros::rpc,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::broadcast::error::RecvError;

/// Blocks an `eth_getLogs` range may span.
pub const MAX_LOG_RANGE: u64 = 100_000;
/// Logs an `eth_getLogs` answer may hold.
pub const MAX_LOGS: usize = 20_000;
/// Default suggested tip (1 gwei) when recent blocks have no transactions.
pub const DEFAULT_TIP: u128 = 1_000_000_000;
/// Blocks `eth_feeHistory` may span.
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;
/// Reward percentiles `eth_feeHistory` may ask for (geth's `maxQueryLimit`).
pub const MAX_REWARD_PERCENTILES: usize = 100;

/// The result of `eth_fillTransaction` (geth's `SignTransactionResult`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FillTransactionResult {
    /// The unsigned transaction, EIP-2718 encoded with an empty signature.
    pub raw: Bytes,
    /// The filled transaction.
    pub tx: Transaction,
}

/// `eth_` methods.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// Chain id.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Sync status (always `false`: a dev node is at its tip).
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<SyncStatus>;
    /// Head number.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Accounts this node signs for (none).
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// Balance.
    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce.
    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Code.
    #[method(name = "getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// Storage slot.
    #[method(name = "getStorageAt")]
    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256>;
    /// Balance, nonce and code at once.
    #[method(name = "getAccountInfo")]
    fn account_info(&self, address: Address, block: Option<BlockId>) -> RpcResult<AccountInfo>;
    /// EIP-1186 account and storage proofs.
    #[method(name = "getProof", blocking)]
    fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;
    /// Block by number.
    #[method(name = "getBlockByNumber", blocking)]
    fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: Option<bool>,
    ) -> RpcResult<Option<Block>>;
    /// Block by hash.
    #[method(name = "getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<Block>>;
    /// Header by number (geth's and reth's `eth_getHeaderByNumber`): a block without its
    /// transaction list, cheap to poll for `latest`/`finalized`.
    #[method(name = "getHeaderByNumber", blocking)]
    fn header_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<Header>>;
    /// Header by hash.
    #[method(name = "getHeaderByHash", blocking)]
    fn header_by_hash(&self, hash: B256) -> RpcResult<Option<Header>>;
    /// Transaction count of a block by number.
    #[method(name = "getBlockTransactionCountByNumber", blocking)]
    fn block_tx_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Transaction count of a block by hash.
    #[method(name = "getBlockTransactionCountByHash", blocking)]
    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// Uncle count (always 0).
    #[method(name = "getUncleCountByBlockNumber")]
    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Uncle count (always 0).
    #[method(name = "getUncleCountByBlockHash")]
    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// Transaction by hash (pooled or included).
    #[method(name = "getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// Raw transaction by hash.
    #[method(name = "getRawTransactionByHash")]
    fn raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// Transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex", blocking)]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;
    /// Transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex", blocking)]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;
    /// Receipt.
    #[method(name = "getTransactionReceipt", blocking)]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;
    /// All receipts of a block.
    #[method(name = "getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;
    /// Submits a signed transaction.
    #[method(name = "sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// Executes a call without a transaction.
    #[method(name = "call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes>;
    /// Estimates gas.
    #[method(name = "estimateGas", blocking)]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;
    /// Access list a call touches.
    #[method(name = "createAccessList", blocking)]
    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;
    /// Suggested legacy gas price.
    #[method(name = "gasPrice", blocking)]
    fn gas_price(&self) -> RpcResult<U256>;
    /// Suggested tip.
    #[method(name = "maxPriorityFeePerGas", blocking)]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// Blob base fee (blobs are not accepted; reported for completeness).
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;
    /// Fee history.
    #[method(name = "feeHistory", blocking)]
    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// Fills in nonce, gas and fees of a transaction request.
    #[method(name = "fillTransaction", blocking)]
    fn fill_transaction(&self, request: TransactionRequest) -> RpcResult<FillTransactionResult>;
    /// Logs.
    #[method(name = "getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    /// Installs a log filter.
    #[method(name = "newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U256>;
    /// Installs a block filter.
    #[method(name = "newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U256>;
    /// Installs a pending-transaction filter.
    #[method(name = "newPendingTransactionFilter")]
    fn new_pending_transaction_filter(&self) -> RpcResult<U256>;
    /// Changes since the last poll.
    #[method(name = "getFilterChanges", blocking)]
    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges>;
    /// All logs of a log filter.
    #[method(name = "getFilterLogs", blocking)]
    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>>;
    /// Removes a filter.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: U256) -> RpcResult<bool>;
    /// Subscriptions over WebSocket: `newHeads`, `logs`, `newPendingTransactions`.
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(
        &self,
        kind: SubscriptionKind,
        params: Option<SubParams>,
    ) -> SubscriptionResult;
}

impl RpcContext {
    fn scan_logs(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
        until: Instant,
    ) -> RpcResult<Vec<Log>> {
        if to < from {
            return Ok(vec![]);
        }
        if to - from >= MAX_LOG_RANGE {
            return Err(server_error(format!("query exceeds max block range {MAX_LOG_RANGE}")));
        }
        let mut out = Vec::new();
        for n in from..=to {
            Self::check_deadline(until)?;
            let Some(header) = self.storage().header(n).map_err(rpc_err)? else { break };
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let block = self.stored_block(n)?.ok_or_else(header_not_found)?;
            let receipts = self.storage().receipts(n).map_err(rpc_err)?.unwrap_or_default();
            out.extend(matching_logs(&block, &receipts, filter));
            if out.len() > MAX_LOGS {
                return Err(server_error(format!("query returned more than {MAX_LOGS} results")));
            }
        }
        Ok(out)
    }

    fn logs_for(&self, filter: &Filter, until: Instant) -> RpcResult<Vec<Log>> {
        if let Some(hash) = filter.get_block_hash() {
            let n = self
                .storage()
                .block_number(hash)
                .map_err(rpc_err)?
                .ok_or_else(|| server_error("unknown block"))?;
            return self.scan_logs(filter, n, n, until);
        }
        let head = self.chain().head_number();
        let resolve = |tag: Option<&BlockNumberOrTag>, default: u64| match tag {
            None => default,
            Some(BlockNumberOrTag::Number(n)) => *n,
            Some(BlockNumberOrTag::Earliest) => 0,
            Some(_) => head,
        };
        let (from, to) = filter.block_option.as_range();
        let from = resolve(from, head);
        let to = resolve(to, head).min(head);
        if from > to && from <= head {
            return Err(invalid_params("invalid block range params"));
        }
        self.scan_logs(filter, from, to, until)
    }

    /// A mined transaction by hash: its block header, index, body and sender (only that
    /// transaction is decoded).
    #[allow(clippy::type_complexity)]
    fn find_transaction(
        &self,
        hash: B256,
    ) -> RpcResult<Option<(dbc_primitives::SealedHeader, usize, TxEnvelope, Address)>> {
        let Some(loc) = self.storage().tx_location(hash).map_err(rpc_err)? else {
            return Ok(None);
        };
        if loc.block_number > self.chain().head_number() {
            return Ok(None);
        }
        let Some(header) = self.storage().header(loc.block_number).map_err(rpc_err)? else {
            return Ok(None);
        };
        let index = loc.index as usize;
        let found = self.storage().transaction_at(loc.block_number, index).map_err(rpc_err)?;
        Ok(found.map(|(tx, sender)| (header, index, tx, sender)))
    }
}

fn tx_at(block: &dbc_primitives::Block, index: usize) -> Option<Transaction> {
    let tx = block.transactions.get(index)?;
    let sender = *block.senders.get(index)?;
    Some(rpc_transaction(tx, sender, &block.header, index))
}

#[async_trait]
impl EthApiServer for RpcContext {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.spec().chain_id))
    }

    fn syncing(&self) -> RpcResult<SyncStatus> {
        let net = self.net();
        let highest = net.highest_block.load(std::sync::atomic::Ordering::Relaxed);
        let current = self.chain().head_number();
        if highest <= current + 1 {
            return Ok(SyncStatus::None);
        }
        Ok(SyncStatus::Info(Box::new(alloy_rpc_types_eth::SyncInfo {
            starting_block: U256::from(
                net.starting_block.load(std::sync::atomic::Ordering::Relaxed),
            ),
            current_block: U256::from(current),
            highest_block: U256::from(highest),
            ..Default::default()
        })))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain().head_number()))
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        // The dev chain's unlocked accounts (anvil's); a public node holds no keys.
        Ok(self.dev().map(|d| d.accounts()).unwrap_or_default())
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let state = self.state(block)?;
        Ok(state.account(address).map_err(rpc_err)?.map(|a| a.balance).unwrap_or_default())
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let state = self.state(block)?;
        let nonce = state.account(address).map_err(rpc_err)?.map(|a| a.nonce).unwrap_or_default();
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(self.pool().pending_nonce(&address).unwrap_or(nonce).max(nonce)));
        }
        Ok(U64::from(nonce))
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let state = self.state(block)?;
        let Some(account) = state.account(address).map_err(rpc_err)? else {
            return Ok(Bytes::new());
        };
        if !account.has_code() {
            return Ok(Bytes::new());
        }
        Ok(state.code(account.code_hash).map_err(rpc_err)?.unwrap_or_default())
    }

    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256> {
        let state = self.state(block)?;
        Ok(B256::from(state.storage(address, B256::from(slot)).map_err(rpc_err)?))
    }

    fn account_info(&self, address: Address, block: Option<BlockId>) -> RpcResult<AccountInfo> {
        let state = self.state(block)?;
        let account = state.account(address).map_err(rpc_err)?.unwrap_or_default();
        let code = if account.has_code() {
            state.code(account.code_hash).map_err(rpc_err)?.unwrap_or_default()
        } else {
            Bytes::new()
        };
        Ok(AccountInfo { balance: account.balance, nonce: account.nonce, code })
    }

    fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        self.account_proof(address, keys, block)
    }

    fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: Option<bool>,
    ) -> RpcResult<Option<Block>> {
        let Some(n) = self.resolve_tag(number) else { return Ok(None) };
        Ok(self.stored_block(n)?.map(|b| rpc_block(&b, full.unwrap_or(false))))
    }

    fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<Block>> {
        let Some(n) = self.storage().block_number(hash).map_err(rpc_err)? else { return Ok(None) };
        Ok(self.stored_block(n)?.map(|b| rpc_block(&b, full.unwrap_or(false))))
    }

    fn header_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<Header>> {
        let Some(n) = self.resolve_tag(number) else { return Ok(None) };
        Ok(self.storage().header(n).map_err(rpc_err)?.map(|h| crate::convert::rpc_header(&h)))
    }

    fn header_by_hash(&self, hash: B256) -> RpcResult<Option<Header>> {
        let Some(n) = self.storage().block_number(hash).map_err(rpc_err)? else { return Ok(None) };
        if n > self.chain().head_number() {
            return Ok(None);
        }
        Ok(self.storage().header(n).map_err(rpc_err)?.map(|h| crate::convert::rpc_header(&h)))
    }

    fn block_tx_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        let Some(n) = self.resolve_tag(number) else { return Ok(None) };
        Ok(self.stored_block(n)?.map(|b| U64::from(b.transactions.len())))
    }

    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let Some(n) = self.storage().block_number(hash).map_err(rpc_err)? else { return Ok(None) };
        Ok(self.stored_block(n)?.map(|b| U64::from(b.transactions.len())))
    }

    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        Ok(self.resolve_tag(number).map(|_| U64::ZERO))
    }

    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self.storage().block_number(hash).map_err(rpc_err)?.map(|_| U64::ZERO))
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        if let Some((header, index, tx, sender)) = self.find_transaction(hash)? {
            return Ok(Some(rpc_transaction(&tx, sender, &header, index)));
        }
        Ok(self.pool().get(&hash).map(|t| rpc_pending_transaction(&t.tx)))
    }

    fn raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        if let Some((_, _, tx, _)) = self.find_transaction(hash)? {
            return Ok(Some(tx.encoded_2718().into()));
        }
        Ok(self.pool().get(&hash).map(|t| t.tx.inner().encoded_2718().into()))
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        let Some(n) = self.storage().block_number(hash).map_err(rpc_err)? else { return Ok(None) };
        Ok(self.stored_block(n)?.and_then(|b| tx_at(&b, index.0)))
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        let Some(n) = self.resolve_tag(number) else { return Ok(None) };
        Ok(self.stored_block(n)?.and_then(|b| tx_at(&b, index.0)))
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        let Some((header, index, tx, sender)) = self.find_transaction(hash)? else {
            return Ok(None);
        };
        let receipts = self.storage().receipts(header.number).map_err(rpc_err)?.unwrap_or_default();
        let Some(receipt) = receipts.get(index) else { return Ok(None) };
        let (prev, first_log) = receipt_offsets(&receipts, index);
        Ok(Some(rpc_receipt_at(&header, &tx, sender, receipt, index, prev, first_log)))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let Some(n) = self.block_number_of(block)? else { return Ok(None) };
        let Some(block) = self.stored_block(n)? else { return Ok(None) };
        let receipts = self.storage().receipts(n).map_err(rpc_err)?.unwrap_or_default();
        Ok(Some(rpc_receipts(&block, &receipts)))
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.submit(&raw)
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes> {
        let overrides = EvmOverrides::new(state_overrides, block_overrides);
        let mut sim = self.simulator_at(block, false, overrides)?;
        Ok(sim.call(request).map_err(rpc_err)?.output)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        // Estimates are for a transaction sent now: at `latest` (the default) and `pending`
        // they run in the next block's context (issue #16 item 8: `rent` estimated in the
        // head's context ran out of gas one block later).
        let mut sim = self.simulator_at(block, true, EvmOverrides::state(state_overrides))?;
        Ok(U64::from(sim.estimate_gas(request).map_err(rpc_err)?))
    }

    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        let mut sim = self.simulator_at(block, false, EvmOverrides::default())?;
        let (access_list, gas_used, error) = sim.create_access_list(request).map_err(rpc_err)?;
        Ok(AccessListResult { access_list, gas_used: U256::from(gas_used), error })
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(self.next_base_fee() as u128 + self.suggested_tip()))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.suggested_tip()))
    }

    fn blob_base_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(1))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        self.fee_history_of(block_count.saturating_to(), newest, percentiles.as_deref())
    }

    fn fill_transaction(&self, request: TransactionRequest) -> RpcResult<FillTransactionResult> {
        let (envelope, from) = self.fill_request(request)?;
        let raw = envelope.encoded_2718().into();
        let tx = rpc_pending_transaction(&Recovered::new_unchecked(envelope, from));
        Ok(FillTransactionResult { raw, tx })
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        self.logs_for(&filter, self.deadline())
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U256> {
        let seq = self.chain().reorg_seq();
        let head = self.chain().head_number();
        let last = match filter.block_option.as_range().0 {
            Some(BlockNumberOrTag::Number(n)) => n.saturating_sub(1),
            Some(BlockNumberOrTag::Earliest) => 0,
            _ => head,
        };
        self.filters().install(FilterKind::Logs { filter: Box::new(filter), last, seq })
    }

    fn new_block_filter(&self) -> RpcResult<U256> {
        let seq = self.chain().reorg_seq();
        let last = self.chain().head_number();
        self.filters().install(FilterKind::Blocks { last, seq })
    }

    fn new_pending_transaction_filter(&self) -> RpcResult<U256> {
        let rx = self.pool().subscribe_pending();
        self.filters().install(FilterKind::PendingTransactions { rx })
    }

    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges> {
        self.poll_filter(id)
    }

    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>> {
        let entry = self.filters().get(id).ok_or_else(|| server_error("filter not found"))?;
        let filter = match &*entry.kind.lock() {
            FilterKind::Logs { filter, .. } => (**filter).clone(),
            _ => return Err(server_error("filter not found")),
        };
        self.logs_for(&filter, self.deadline())
    }

    fn uninstall_filter(&self, id: U256) -> RpcResult<bool> {
        Ok(self.filters().uninstall(id))
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: SubscriptionKind,
        params: Option<SubParams>,
    ) -> SubscriptionResult {
        let filter = match (&kind, &params) {
            (SubscriptionKind::Logs, Some(SubParams::Logs(f))) => Some((**f).clone()),
            (SubscriptionKind::Logs, _) => Some(Filter::default()),
            (SubscriptionKind::NewHeads | SubscriptionKind::NewPendingTransactions, None)
            | (SubscriptionKind::NewPendingTransactions, Some(SubParams::Bool(_))) => None,
            (SubscriptionKind::Syncing, _) => None,
            _ => {
                pending.reject(invalid_params("invalid subscription parameters")).await;
                return Ok(());
            }
        };
        let full_pending = matches!(params, Some(SubParams::Bool(true)));
        let sink = pending.accept().await?;
        let ctx = self.clone();
        tokio::spawn(async move {
            let send = |value: serde_json::Value| {
                let sink = sink.clone();
                async move {
                    let raw = serde_json::value::to_raw_value(&value).map_err(|_| ())?;
                    sink.send(SubscriptionMessage::from(raw)).await.map_err(|_| ())
                }
            };
            match kind {
                SubscriptionKind::NewHeads | SubscriptionKind::Logs => {
                    let mut rx = ctx.chain().subscribe();
                    loop {
                        let event = tokio::select! {
                            e = rx.recv() => e,
                            _ = sink.closed() => break,
                        };
                        let event = match event {
                            Ok(e) => e,
                            Err(RecvError::Lagged(_)) => continue,
                            Err(RecvError::Closed) => break,
                        };
                        let values = chain_event_values(&event, filter.as_ref());
                        for v in values {
                            if send(v).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                SubscriptionKind::NewPendingTransactions => {
                    let mut rx = ctx.pool().subscribe_pending();
                    loop {
                        let event = tokio::select! {
                            e = rx.recv() => e,
                            _ = sink.closed() => break,
                        };
                        let hash = match event {
                            Ok(h) => h,
                            Err(RecvError::Lagged(_)) => continue,
                            Err(RecvError::Closed) => break,
                        };
                        let value = if full_pending {
                            match ctx.pool().get(&hash) {
                                Some(t) => serde_json::to_value(rpc_pending_transaction(&t.tx))
                                    .unwrap_or_default(),
                                None => continue,
                            }
                        } else {
                            serde_json::to_value(hash).unwrap_or_default()
                        };
                        if send(value).await.is_err() {
                            return;
                        }
                    }
                }
                SubscriptionKind::Syncing => {
                    let _ = send(serde_json::Value::Bool(false)).await;
                }
                // Rejected above.
                _ => {}
            }
        });
        Ok(())
    }
}

//! `debug_trace*` (geth tracers) and `trace_*` (Parity traces), for explorers and indexers.

use crate::{
    RpcContext,
    error::{RpcResult, header_not_found, invalid_params, rpc_err, server_error},
};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, map::HashSet};
use alloy_rpc_types_eth::{TransactionRequest, state::EvmOverrides};
use alloy_rpc_types_trace::{
    filter::TraceFilter,
    geth::{GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult},
    parity::{LocalizedTransactionTrace, TraceResults, TraceResultsWithTransactionHash, TraceType},
};
use dbc_evm::{
    SimError,
    sim::request_tx_env,
    trace::{GethTracer, ParityTracer, ReplayTracer, TxTracer, replay_block, trace_call},
};
use dbc_primitives::Block;
use dbc_storage::HistoricalState;
use jsonrpsee::proc_macros::rpc;
use std::time::Instant;

/// Blocks a `trace_filter` range may span (reth's `--rpc.max-trace-filter-blocks` default).
pub const MAX_TRACE_FILTER_RANGE: u64 = 100;

/// `debug_` methods.
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// Traces a mined transaction.
    #[method(name = "traceTransaction", blocking)]
    fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;
    /// Traces every transaction of a block by number.
    #[method(name = "traceBlockByNumber", blocking)]
    fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
    /// Traces every transaction of a block by hash.
    #[method(name = "traceBlockByHash", blocking)]
    fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
    /// Traces a call.
    #[method(name = "traceCall", blocking)]
    fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;
}

/// `trace_` methods (Parity/OpenEthereum format).
#[rpc(server, namespace = "trace")]
pub trait TraceApi {
    /// Traces of all transactions in a block.
    #[method(name = "block", blocking)]
    fn block(&self, block: BlockId) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>>;
    /// Traces of one transaction.
    #[method(name = "transaction", blocking)]
    fn transaction(&self, hash: B256) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>>;
    /// Replays every transaction of a block with the requested trace types.
    #[method(name = "replayBlockTransactions", blocking)]
    fn replay_block_transactions(
        &self,
        block: BlockId,
        types: HashSet<TraceType>,
    ) -> RpcResult<Option<Vec<TraceResultsWithTransactionHash>>>;
    /// Replays one transaction.
    #[method(name = "replayTransaction", blocking)]
    fn replay_transaction(&self, hash: B256, types: HashSet<TraceType>) -> RpcResult<TraceResults>;
    /// Traces a call.
    #[method(name = "call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        types: HashSet<TraceType>,
        block: Option<BlockId>,
    ) -> RpcResult<TraceResults>;
    /// Traces matching a filter over a block range.
    #[method(name = "filter", blocking)]
    fn filter(&self, filter: TraceFilter) -> RpcResult<Vec<LocalizedTransactionTrace>>;
}

fn sim_err(e: SimError) -> jsonrpsee::types::ErrorObjectOwned {
    rpc_err(e)
}

impl RpcContext {
    fn block_for(&self, id: BlockId) -> RpcResult<Option<Block>> {
        let number = match id {
            BlockId::Number(tag) => self.resolve_tag(tag),
            BlockId::Hash(h) => self.storage().block_number(h.block_hash).map_err(rpc_err)?,
        };
        match number {
            Some(n) => self.storage().block(n).map_err(rpc_err),
            None => Ok(None),
        }
    }

    fn parent_state(&self, block: &Block) -> HistoricalState {
        self.storage().state_at(block.number().saturating_sub(1))
    }

    pub(crate) fn replay<T: TxTracer<HistoricalState>>(
        &self,
        block: &Block,
        select: Option<usize>,
        tracer: &mut T,
        until: Instant,
    ) -> RpcResult<Vec<T::Output>> {
        if block.transactions.is_empty() {
            return Ok(vec![]);
        }
        replay_block(self.spec(), block, self.parent_state(block), select, tracer, until)
            .map_err(sim_err)
    }

    /// Traces a call request at `block` with `tracer`.
    fn trace_request<T: TxTracer<HistoricalState>>(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: EvmOverrides,
        tracer: &mut T,
    ) -> RpcResult<T::Output> {
        let number = self.resolve(block)?;
        let header =
            self.storage().header(number).map_err(rpc_err)?.ok_or_else(header_not_found)?;
        let env = dbc_evm::evm_env_for(self.spec(), header.inner());
        let (tx, priced) = request_tx_env(&env, request, self.limits().gas_cap).map_err(sim_err)?;
        trace_call(
            self.spec(),
            header.inner(),
            self.storage().state_at(number),
            tx,
            priced,
            overrides,
            tracer,
            self.deadline(),
        )
        .map_err(sim_err)
    }

    fn mined_tx(&self, hash: B256) -> RpcResult<Option<(Block, usize)>> {
        let Some(loc) = self.storage().tx_location(hash).map_err(rpc_err)? else {
            return Ok(None);
        };
        Ok(self
            .storage()
            .block(loc.block_number)
            .map_err(rpc_err)?
            .map(|b| (b, loc.index as usize)))
    }

    fn geth_block_traces(
        &self,
        block: Block,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let mut tracer = GethTracer::new(opts.unwrap_or_default()).map_err(sim_err)?;
        let traces = self.replay(&block, None, &mut tracer, self.deadline())?;
        Ok(traces
            .into_iter()
            .zip(&block.transactions)
            .map(|(result, tx)| TraceResult::Success { result, tx_hash: Some(*tx.tx_hash()) })
            .collect())
    }
}

impl DebugApiServer for RpcContext {
    fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let (block, index) = self
            .mined_tx(hash)?
            .ok_or_else(|| server_error(format!("transaction {hash} not found")))?;
        let mut tracer = GethTracer::new(opts.unwrap_or_default()).map_err(sim_err)?;
        self.replay(&block, Some(index), &mut tracer, self.deadline())?
            .pop()
            .ok_or_else(|| server_error("transaction not found in its block"))
    }

    fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let block = self
            .block_for(BlockId::Number(number))?
            .ok_or_else(|| server_error(format!("block #{number} not found")))?;
        self.geth_block_traces(block, opts)
    }

    fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let block = self
            .block_for(BlockId::from(hash))?
            .ok_or_else(|| server_error(format!("block {hash} not found")))?;
        self.geth_block_traces(block, opts)
    }

    fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let opts = opts.unwrap_or_default();
        let overrides = EvmOverrides::new(opts.state_overrides, opts.block_overrides.map(Box::new));
        let mut tracer = GethTracer::new(opts.tracing_options).map_err(sim_err)?;
        self.trace_request(request, block, overrides, &mut tracer)
    }
}

impl TraceApiServer for RpcContext {
    fn block(&self, block: BlockId) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>> {
        let Some(block) = self.block_for(block)? else { return Ok(None) };
        let traces = self.replay(&block, None, &mut ParityTracer, self.deadline())?;
        Ok(Some(traces.into_iter().flatten().collect()))
    }

    fn transaction(&self, hash: B256) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>> {
        let Some((block, index)) = self.mined_tx(hash)? else { return Ok(None) };
        Ok(self.replay(&block, Some(index), &mut ParityTracer, self.deadline())?.pop())
    }

    fn replay_block_transactions(
        &self,
        block: BlockId,
        types: HashSet<TraceType>,
    ) -> RpcResult<Option<Vec<TraceResultsWithTransactionHash>>> {
        let Some(block) = self.block_for(block)? else { return Ok(None) };
        let mut tracer = ReplayTracer { types };
        Ok(Some(
            self.replay(&block, None, &mut tracer, self.deadline())?
                .into_iter()
                .map(|(transaction_hash, full_trace)| TraceResultsWithTransactionHash {
                    full_trace,
                    transaction_hash,
                })
                .collect(),
        ))
    }

    fn replay_transaction(&self, hash: B256, types: HashSet<TraceType>) -> RpcResult<TraceResults> {
        let (block, index) = self
            .mined_tx(hash)?
            .ok_or_else(|| server_error(format!("transaction {hash} not found")))?;
        let mut tracer = ReplayTracer { types };
        self.replay(&block, Some(index), &mut tracer, self.deadline())?
            .pop()
            .map(|(_, r)| r)
            .ok_or_else(|| server_error("transaction not found in its block"))
    }

    fn call(
        &self,
        request: TransactionRequest,
        types: HashSet<TraceType>,
        block: Option<BlockId>,
    ) -> RpcResult<TraceResults> {
        let mut tracer = ReplayTracer { types };
        self.trace_request(request, block, EvmOverrides::default(), &mut tracer).map(|(_, r)| r)
    }

    fn filter(&self, filter: TraceFilter) -> RpcResult<Vec<LocalizedTransactionTrace>> {
        let head = self.chain().head_number();
        let from = filter.from_block.unwrap_or(0);
        let to = filter.to_block.unwrap_or(head).min(head);
        if from > to {
            return Err(invalid_params("invalid block range"));
        }
        if to - from >= MAX_TRACE_FILTER_RANGE {
            return Err(server_error(format!(
                "trace_filter range exceeds {MAX_TRACE_FILTER_RANGE} blocks"
            )));
        }
        let matcher = filter.matcher();
        let until = self.deadline();
        let mut out = Vec::new();
        for n in from..=to {
            Self::check_deadline(until)?;
            let Some(block) = self.storage().block(n).map_err(rpc_err)? else { break };
            let traces = self.replay(&block, None, &mut ParityTracer, until)?;
            out.extend(traces.into_iter().flatten().filter(|t| matcher.matches(&t.trace)));
        }
        let after = filter.after.unwrap_or(0) as usize;
        let count = filter.count.map_or(usize::MAX, |c| c as usize);
        Ok(out.into_iter().skip(after).take(count).collect())
    }
}

//! Transaction tracing with revm-inspectors: geth's tracers (struct logger, `callTracer`,
//! `prestateTracer`, `4byteTracer`, `noopTracer`) and Parity's `trace_*` format.
//!
//! A traced transaction is re-executed on the state before its block, after the block's
//! system calls and the transactions before it, so its trace is what the block executed.

use crate::{
    builder::evm_env_for,
    db::StateDb,
    sim::{SimError, map_evm_err},
};
use alloy_consensus::Header;
use alloy_evm::overrides::{apply_block_overrides, apply_state_overrides};
use alloy_evm::{Evm, EvmEnv, FromRecoveredTx, block::SystemCaller, eth::EthEvmContext};
use alloy_primitives::{B256, Bytes, map::HashSet};
use alloy_rpc_types_eth::{TransactionInfo, state::EvmOverrides};
use alloy_rpc_types_trace::{
    geth::{
        GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, GethTrace,
        NoopFrame,
    },
    parity::{LocalizedTransactionTrace, TraceResults, TraceType},
};
use dbc_chainspec::{ChainSpec, DbcParams};
use dbc_primitives::{Block, TxEnvelope};
use dbc_storage::StateReader;
use revm::{
    DatabaseCommit,
    context::TxEnv,
    context_interface::result::{ExecutionResult, HaltReason, ResultAndState},
    database::CacheDB,
};
use revm_inspectors::tracing::{FourByteInspector, TracingInspector, TracingInspectorConfig};
use std::sync::Arc;

/// The database a replay runs on: a cache over the parent block's state.
pub type ReplayDb<R> = CacheDB<StateDb<R>>;

/// Runs one transaction under a tracer and returns the tracer's output. The tracer must commit
/// the transaction's state changes to the database (so later transactions see them).
pub trait TxTracer<R: StateReader> {
    /// The trace.
    type Output;
    /// Executes `tx` in `env` on `db`.
    fn trace(
        &mut self,
        market: &Arc<DbcParams>,
        db: &mut ReplayDb<R>,
        env: EvmEnv,
        tx: TxEnv,
        info: TransactionInfo,
    ) -> Result<Self::Output, SimError>;
}

/// Executes `tx` with `inspector` on `db` (without committing).
fn inspect<'a, R: StateReader, I>(
    market: &Arc<DbcParams>,
    db: &'a mut ReplayDb<R>,
    env: EvmEnv,
    tx: TxEnv,
    inspector: I,
) -> Result<ResultAndState<HaltReason>, SimError>
where
    I: revm::Inspector<EthEvmContext<&'a mut ReplayDb<R>>>,
{
    let mut evm = crate::factory::evm_with_inspector(market, db, env, inspector);
    evm.transact(tx).map_err(map_evm_err)
}

/// Re-executes `block` on `parent_state`, tracing the transactions selected by `select` with
/// `tracer`. Execution stops after the last selected transaction.
pub fn replay_block<R: StateReader, T: TxTracer<R>>(
    spec: &ChainSpec,
    block: &Block,
    parent_state: R,
    select: Option<usize>,
    tracer: &mut T,
) -> Result<Vec<T::Output>, SimError> {
    let header = block.header.inner();
    let env = evm_env_for(spec, header);
    let mut db = CacheDB::new(StateDb(parent_state));
    {
        // The block's system calls (EIP-2935 history, EIP-4788 beacon root) run first.
        let mut evm = crate::factory::evm(&spec.dbc, &mut db, env.clone());
        let mut system = SystemCaller::new(spec);
        system
            .apply_blockhashes_contract_call(header.parent_hash, &mut evm)
            .map_err(|e| SimError::Invalid(e.to_string()))?;
        system
            .apply_beacon_root_contract_call(header.parent_beacon_block_root, &mut evm)
            .map_err(|e| SimError::Invalid(e.to_string()))?;
    }
    let mut out = Vec::new();
    for (index, (tx, sender)) in block.transactions.iter().zip(&block.senders).enumerate() {
        let tx_env = TxEnv::from_recovered_tx(tx, *sender);
        let traced = select.is_none_or(|s| s == index);
        if traced {
            let info = tx_info(block, index, tx);
            out.push(tracer.trace(&spec.dbc, &mut db, env.clone(), tx_env, info)?);
            if select.is_some() {
                break;
            }
        } else {
            let mut evm = crate::factory::evm(&spec.dbc, &mut db, env.clone());
            let res = evm.transact(tx_env).map_err(map_evm_err)?;
            drop(evm);
            db.commit(res.state);
        }
    }
    Ok(out)
}

/// Re-executes `block` on its parent's state and returns the logs of its end-of-block market
/// hook (auditor draws, deadlines, offline marks, rental expiries): the hook is a system call
/// without a receipt, so these logs are not in `eth_getLogs`.
pub fn market_hook_logs<R: StateReader>(
    spec: &ChainSpec,
    block: &Block,
    parent_state: R,
) -> Result<Vec<alloy_primitives::Log>, SimError> {
    let header = block.header.inner();
    let env = evm_env_for(spec, header);
    let mut db = CacheDB::new(StateDb(parent_state));
    let mut evm = crate::factory::evm(&spec.dbc, &mut db, env);
    let mut system = SystemCaller::new(spec);
    system
        .apply_blockhashes_contract_call(header.parent_hash, &mut evm)
        .map_err(|e| SimError::Invalid(e.to_string()))?;
    system
        .apply_beacon_root_contract_call(header.parent_beacon_block_root, &mut evm)
        .map_err(|e| SimError::Invalid(e.to_string()))?;
    for (tx, sender) in block.transactions.iter().zip(&block.senders) {
        let res = evm.transact(TxEnv::from_recovered_tx(tx, *sender)).map_err(map_evm_err)?;
        evm.db_mut().commit(res.state);
    }
    let fees = alloy_primitives::U256::from(header.base_fee_per_gas.unwrap_or_default())
        * alloy_primitives::U256::from(header.gas_used);
    let res = evm
        .transact_system_call(
            dbc_precompiles::SYSTEM_ADDRESS,
            dbc_precompiles::MARKET_ADDRESS,
            dbc_precompiles::hook_calldata(fees),
        )
        .map_err(map_evm_err)?;
    Ok(res.result.into_logs())
}

/// Position information of transaction `index` of `block`.
pub fn tx_info(block: &Block, index: usize, tx: &TxEnvelope) -> TransactionInfo {
    TransactionInfo {
        hash: Some(*tx.tx_hash()),
        index: Some(index as u64),
        block_hash: Some(block.hash()),
        block_number: Some(block.number()),
        base_fee: block.header.base_fee_per_gas,
        block_timestamp: Some(block.header.timestamp),
    }
}

/// Runs a geth tracer.
#[derive(Debug, Clone, Default)]
pub struct GethTracer {
    /// The options of the request.
    pub opts: GethDebugTracingOptions,
}

fn unsupported(name: &str) -> SimError {
    SimError::BadRequest(format!("tracer {name} is not supported"))
}

fn gas_and_output(res: &ExecutionResult<HaltReason>) -> (u64, Bytes) {
    let gas = res.gas().tx_gas_used();
    (gas, res.output().cloned().unwrap_or_default())
}

impl<R: StateReader> TxTracer<R> for GethTracer {
    type Output = GethTrace;

    fn trace(
        &mut self,
        market: &Arc<DbcParams>,
        db: &mut ReplayDb<R>,
        env: EvmEnv,
        tx: TxEnv,
        _info: TransactionInfo,
    ) -> Result<GethTrace, SimError> {
        let opts = &self.opts;
        let spec_id = env.cfg_env.spec;
        match &opts.tracer {
            None => {
                let mut inspector =
                    TracingInspector::new(TracingInspectorConfig::from_geth_config(&opts.config));
                let res = inspect(market, &mut *db, env, tx, &mut inspector)?;
                let (gas, output) = gas_and_output(&res.result);
                let frame = inspector.geth_builder().with_spec_id(spec_id).geth_traces(
                    gas,
                    output,
                    opts.config,
                );
                db.commit(res.state);
                Ok(GethTrace::Default(frame))
            }
            Some(GethDebugTracerType::BuiltInTracer(kind)) => match kind {
                GethDebugBuiltInTracerType::CallTracer => {
                    let config = opts
                        .tracer_config
                        .clone()
                        .into_call_config()
                        .map_err(|e| SimError::BadRequest(e.to_string()))?;
                    let mut inspector = TracingInspector::new(
                        TracingInspectorConfig::from_geth_call_config(&config),
                    );
                    let res = inspect(market, &mut *db, env, tx, &mut inspector)?;
                    let (gas, _) = gas_and_output(&res.result);
                    let frame = inspector.geth_builder().geth_call_traces(config, gas);
                    db.commit(res.state);
                    Ok(GethTrace::CallTracer(frame))
                }
                GethDebugBuiltInTracerType::PreStateTracer => {
                    let config = opts
                        .tracer_config
                        .clone()
                        .into_pre_state_config()
                        .map_err(|e| SimError::BadRequest(e.to_string()))?;
                    let mut inspector = TracingInspector::new(
                        TracingInspectorConfig::from_geth_prestate_config(&config),
                    );
                    let res = inspect(market, &mut *db, env, tx, &mut inspector)?;
                    let frame = inspector
                        .geth_builder()
                        .geth_prestate_traces(&res, &config, &*db)
                        .map_err(|e| SimError::Db(e.to_string()))?;
                    db.commit(res.state);
                    Ok(GethTrace::PreStateTracer(frame))
                }
                GethDebugBuiltInTracerType::FourByteTracer => {
                    let mut inspector = FourByteInspector::default();
                    let res = inspect(market, &mut *db, env, tx, &mut inspector)?;
                    db.commit(res.state);
                    Ok(GethTrace::FourByteTracer((&inspector).into()))
                }
                GethDebugBuiltInTracerType::NoopTracer => {
                    let res = {
                        let mut evm = crate::factory::evm(market, &mut *db, env);
                        evm.transact(tx).map_err(map_evm_err)?
                    };
                    db.commit(res.state);
                    Ok(GethTrace::NoopTracer(NoopFrame::default()))
                }
                other => Err(unsupported(&format!("{other:?}"))),
            },
            Some(GethDebugTracerType::JsTracer(_)) => Err(unsupported("JavaScript")),
        }
    }
}

/// Produces Parity-style localized traces (`trace_block`, `trace_transaction`).
#[derive(Debug, Clone, Default)]
pub struct ParityTracer;

impl<R: StateReader> TxTracer<R> for ParityTracer {
    type Output = Vec<LocalizedTransactionTrace>;

    fn trace(
        &mut self,
        market: &Arc<DbcParams>,
        db: &mut ReplayDb<R>,
        env: EvmEnv,
        tx: TxEnv,
        info: TransactionInfo,
    ) -> Result<Self::Output, SimError> {
        // Unlike OpenEthereum, list calls to precompiles (as geth's callTracer does): calls
        // into the GPU market and project mining are what explorers need to see.
        let mut inspector = TracingInspector::new(
            TracingInspectorConfig::default_parity().set_exclude_precompile_calls(false),
        );
        let res = inspect(market, &mut *db, env, tx, &mut inspector)?;
        let gas = res.result.gas().tx_gas_used();
        db.commit(res.state);
        Ok(inspector
            .into_parity_builder()
            .with_transaction_gas_used(gas)
            .into_localized_transaction_traces(info))
    }
}

/// Produces Parity `TraceResults` for `trace_replay*` and `trace_call`.
#[derive(Debug, Clone, Default)]
pub struct ReplayTracer {
    /// Requested trace types (`trace`, `vmTrace`, `stateDiff`).
    pub types: HashSet<TraceType>,
}

impl<R: StateReader> TxTracer<R> for ReplayTracer {
    type Output = (B256, TraceResults);

    fn trace(
        &mut self,
        market: &Arc<DbcParams>,
        db: &mut ReplayDb<R>,
        env: EvmEnv,
        tx: TxEnv,
        info: TransactionInfo,
    ) -> Result<Self::Output, SimError> {
        let mut inspector = TracingInspector::new(
            TracingInspectorConfig::from_parity_config(&self.types)
                .set_exclude_precompile_calls(false),
        );
        let res = inspect(market, &mut *db, env, tx, &mut inspector)?;
        let gas = res.result.gas().tx_gas_used();
        let results = inspector
            .into_parity_builder()
            .with_transaction_gas_used(gas)
            .into_trace_results_with_state(&res, &self.types, &*db)
            .map_err(|e| SimError::Db(e.to_string()))?;
        db.commit(res.state);
        Ok((info.hash.unwrap_or_default(), results))
    }
}

/// Traces a call (not a mined transaction) on `state` in the context of `header`.
pub fn trace_call<R: StateReader, T: TxTracer<R>>(
    spec: &ChainSpec,
    header: &Header,
    state: R,
    tx: TxEnv,
    priced: bool,
    overrides: EvmOverrides,
    tracer: &mut T,
) -> Result<T::Output, SimError> {
    let mut env = evm_env_for(spec, header);
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_eip3607 = true;
    env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
    env.cfg_env.disable_base_fee = !priced;
    let mut db = CacheDB::new(StateDb(state));
    if let Some(block) = overrides.block {
        apply_block_overrides(*block, &mut db, &mut env.block_env);
    }
    if let Some(state) = overrides.state {
        apply_state_overrides(state, &mut db).map_err(|e| SimError::BadRequest(e.to_string()))?;
    }
    tracer.trace(&spec.dbc, &mut db, env, tx, TransactionInfo::default())
}

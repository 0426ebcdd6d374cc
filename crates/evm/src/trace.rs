//! Transaction tracing with revm-inspectors: geth's tracers (struct logger, `callTracer`,
//! `prestateTracer`, `4byteTracer`, `noopTracer`) and Parity's `trace_*` format.
//!
//! A traced transaction is re-executed on the state before its block, after the block's
//! system calls and the transactions before it, so its trace is what the block executed.
//!
//! Each traced transaction runs under an [`ExecutionGuard`]: it stops after the tracer's
//! timeout (geth's `timeout` option, [`DEFAULT_TRACE_TIMEOUT`] by default) or the request's
//! deadline, whichever comes first, with geth's `execution timeout`; and a trace may not
//! collect more than [`MAX_TRACE_FRAMES`] call frames or [`MAX_TRACE_STEP_BYTES`] of recorded
//! steps (the struct logger, Parity's `vmTrace`), so one request's memory stays bounded.

use crate::{
    builder::evm_env_for,
    db::StateDb,
    sim::{ExecutionGuard, Guarded, SimError, StepCost, Stop, check_overrides, map_evm_err},
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
    inspector::NoOpInspector,
};
use revm_inspectors::tracing::{FourByteInspector, TracingInspector, TracingInspectorConfig};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// How long one transaction may run under a tracer when the request sets no `timeout` (geth's
/// default).
pub const DEFAULT_TRACE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most call frames one traced transaction may collect.
pub const MAX_TRACE_FRAMES: u64 = 100_000;
/// Most memory (estimated) the recorded steps of one traced transaction may take.
pub const MAX_TRACE_STEP_BYTES: u64 = 64 * 1024 * 1024;

/// The error for a guard's stop.
fn stop_error(stop: Stop) -> SimError {
    match stop {
        Stop::Timeout => SimError::Timeout("execution timeout".into()),
        Stop::TooManyFrames(n) => {
            SimError::TooLarge(format!("trace too large: more than {n} call frames"))
        }
        Stop::TooManySteps(bytes) => SimError::TooLarge(format!(
            "trace too large: the recorded steps exceed {} MiB (set a `limit`, disable the \
             stack or memory, or use the callTracer)",
            bytes / (1024 * 1024)
        )),
    }
}

/// Parses a Go duration (`time.ParseDuration`: `300ms`, `5s`, `1m30s`, `1.5h`), as geth does
/// for the tracer `timeout` option; errors are Go's.
pub fn parse_go_duration(text: &str) -> Result<Duration, SimError> {
    let quoted = format!("{text:?}");
    let invalid = || SimError::Invalid(format!("time: invalid duration {quoted}"));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "" => {
                return Err(SimError::Invalid(format!("time: missing unit in duration {quoted}")));
            }
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(SimError::Invalid(format!(
                    "time: unknown unit {other:?} in duration {quoted}"
                )));
            }
        };
        total += value * scale;
    }
    // Go's durations are at most ~292 years; a negative one has already expired.
    if negative || !total.is_finite() {
        return Ok(Duration::ZERO);
    }
    Duration::try_from_secs_f64(total.min(9.2e9)).map_err(|_| invalid())
}

/// The database a replay runs on: a cache over the parent block's state.
pub type ReplayDb<R> = CacheDB<StateDb<R>>;

/// Runs one transaction under a tracer and returns the tracer's output. The tracer must commit
/// the transaction's state changes to the database (so later transactions see them).
pub trait TxTracer<R: StateReader> {
    /// The trace.
    type Output;
    /// How long one transaction may run under this tracer.
    fn timeout(&self) -> Duration {
        DEFAULT_TRACE_TIMEOUT
    }
    /// Executes `tx` in `env` on `db`, stopping at `deadline`.
    fn trace(
        &mut self,
        market: &Arc<DbcParams>,
        db: &mut ReplayDb<R>,
        env: EvmEnv,
        tx: TxEnv,
        info: TransactionInfo,
        deadline: Instant,
    ) -> Result<Self::Output, SimError>;
}

/// Executes `tx` with `inspector` under `guard` on `db` (without committing); the guard's stop
/// is an error.
fn inspect<'a, R: StateReader, I>(
    market: &Arc<DbcParams>,
    db: &'a mut ReplayDb<R>,
    env: EvmEnv,
    tx: TxEnv,
    inspector: I,
    guard: ExecutionGuard,
) -> Result<ResultAndState<HaltReason>, SimError>
where
    I: revm::Inspector<EthEvmContext<&'a mut ReplayDb<R>>>,
{
    let mut guarded = Guarded::new(inspector, guard.max_frames(MAX_TRACE_FRAMES));
    let result = {
        let mut evm = crate::factory::evm_with_inspector(market, db, env, &mut guarded);
        evm.transact(tx).map_err(map_evm_err)
    };
    if let Some(stop) = guarded.guard.stopped() {
        return Err(stop_error(stop));
    }
    result
}

/// The deadline of the next traced transaction: its own timeout, or the request's deadline.
fn tx_deadline(timeout: Duration, until: Instant) -> Instant {
    Instant::now().checked_add(timeout).map_or(until, |d| d.min(until))
}

fn check_until(until: Instant) -> Result<(), SimError> {
    if Instant::now() >= until { Err(stop_error(Stop::Timeout)) } else { Ok(()) }
}

/// Re-executes `block` on `parent_state`, tracing the transactions selected by `select` with
/// `tracer`. Execution stops after the last selected transaction. Each traced transaction
/// stops after the tracer's timeout, and the whole replay at `until`.
pub fn replay_block<R: StateReader, T: TxTracer<R>>(
    spec: &ChainSpec,
    block: &Block,
    parent_state: R,
    select: Option<usize>,
    tracer: &mut T,
    until: Instant,
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
        check_until(until)?;
        let tx_env = TxEnv::from_recovered_tx(tx, *sender);
        let traced = select.is_none_or(|s| s == index);
        if traced {
            let info = tx_info(block, index, tx);
            let deadline = tx_deadline(tracer.timeout(), until);
            out.push(tracer.trace(&spec.dbc, &mut db, env.clone(), tx_env, info, deadline)?);
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
/// without a receipt, so these logs are not in `eth_getLogs`. Stops with `execution timeout`
/// at `until`.
pub fn market_hook_logs<R: StateReader>(
    spec: &ChainSpec,
    block: &Block,
    parent_state: R,
    until: Instant,
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
        check_until(until)?;
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
#[derive(Debug, Clone)]
pub struct GethTracer {
    opts: GethDebugTracingOptions,
    timeout: Duration,
}

impl GethTracer {
    /// A tracer with the request's options; its `timeout` (a Go duration) defaults to
    /// [`DEFAULT_TRACE_TIMEOUT`].
    pub fn new(opts: GethDebugTracingOptions) -> Result<Self, SimError> {
        let timeout = match &opts.timeout {
            Some(t) => parse_go_duration(t)?,
            None => DEFAULT_TRACE_TIMEOUT,
        };
        Ok(Self { opts, timeout })
    }

    /// The timeout of each traced transaction.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
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

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn trace(
        &mut self,
        market: &Arc<DbcParams>,
        db: &mut ReplayDb<R>,
        env: EvmEnv,
        tx: TxEnv,
        _info: TransactionInfo,
        deadline: Instant,
    ) -> Result<GethTrace, SimError> {
        let opts = &self.opts;
        let spec_id = env.cfg_env.spec;
        let guard = ExecutionGuard::new(deadline);
        match &opts.tracer {
            None => {
                let config = TracingInspectorConfig::from_geth_config(&opts.config);
                let cost = StepCost {
                    base: 256,
                    stack: !opts.config.disable_stack.unwrap_or_default(),
                    memory: opts.config.is_memory_enabled(),
                };
                // The struct logger records at most `limit` steps (0: no limit).
                let limit = opts.config.limit.filter(|l| *l != 0);
                let guard = guard.record_limit(limit).record_budget(cost, MAX_TRACE_STEP_BYTES);
                let mut inspector = TracingInspector::new(config);
                let res = inspect(market, &mut *db, env, tx, &mut inspector, guard)?;
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
                    let res = inspect(market, &mut *db, env, tx, &mut inspector, guard)?;
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
                    let res = inspect(market, &mut *db, env, tx, &mut inspector, guard)?;
                    let frame = inspector
                        .geth_builder()
                        .geth_prestate_traces(&res, &config, &*db)
                        .map_err(|e| SimError::Db(e.to_string()))?;
                    db.commit(res.state);
                    Ok(GethTrace::PreStateTracer(frame))
                }
                GethDebugBuiltInTracerType::FourByteTracer => {
                    let mut inspector = FourByteInspector::default();
                    let res = inspect(market, &mut *db, env, tx, &mut inspector, guard)?;
                    db.commit(res.state);
                    Ok(GethTrace::FourByteTracer((&inspector).into()))
                }
                GethDebugBuiltInTracerType::NoopTracer => {
                    let res = inspect(market, &mut *db, env, tx, NoOpInspector, guard)?;
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
        deadline: Instant,
    ) -> Result<Self::Output, SimError> {
        // Unlike OpenEthereum, list calls to precompiles (as geth's callTracer does): calls
        // into the GPU market and project mining are what explorers need to see.
        let mut inspector = TracingInspector::new(
            TracingInspectorConfig::default_parity().set_exclude_precompile_calls(false),
        );
        let guard = ExecutionGuard::new(deadline);
        let res = inspect(market, &mut *db, env, tx, &mut inspector, guard)?;
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
        deadline: Instant,
    ) -> Result<Self::Output, SimError> {
        let mut inspector = TracingInspector::new(
            TracingInspectorConfig::from_parity_config(&self.types)
                .set_exclude_precompile_calls(false),
        );
        let mut guard = ExecutionGuard::new(deadline);
        if self.types.contains(&TraceType::VmTrace) {
            let cost = StepCost { base: 256, stack: false, memory: false };
            guard = guard.record_budget(cost, MAX_TRACE_STEP_BYTES);
        }
        let res = inspect(market, &mut *db, env, tx, &mut inspector, guard)?;
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

/// Traces a call (not a mined transaction) on `state` in the context of `header`; it stops
/// after the tracer's timeout or at `until`.
#[allow(clippy::too_many_arguments)]
pub fn trace_call<R: StateReader, T: TxTracer<R>>(
    spec: &ChainSpec,
    header: &Header,
    state: R,
    tx: TxEnv,
    priced: bool,
    overrides: EvmOverrides,
    tracer: &mut T,
    until: Instant,
) -> Result<T::Output, SimError> {
    check_overrides(&overrides)?;
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
    let deadline = tx_deadline(tracer.timeout(), until);
    tracer.trace(&spec.dbc, &mut db, env, tx, TransactionInfo::default(), deadline)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn m4_tracer_timeout_defaults_to_geths_5s() {
        let tracer = GethTracer::new(GethDebugTracingOptions::default()).unwrap();
        assert_eq!(tracer.timeout(), Duration::from_secs(5));
        assert_eq!(DEFAULT_TRACE_TIMEOUT, Duration::from_secs(5));
        let opts = GethDebugTracingOptions { timeout: Some("100ms".into()), ..Default::default() };
        assert_eq!(GethTracer::new(opts).unwrap().timeout(), Duration::from_millis(100));
    }

    #[test]
    fn m4_timeouts_parse_like_go_durations() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("5s"), Duration::from_secs(5));
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("250us"), Duration::from_micros(250));
        assert_eq!(ok("0"), Duration::ZERO);
        // A negative timeout has already expired.
        assert_eq!(ok("-1s"), Duration::ZERO);
        let err = |s: &str| parse_go_duration(s).unwrap_err().to_string();
        assert_eq!(err("soon"), "time: invalid duration \"soon\"");
        assert_eq!(err(""), "time: invalid duration \"\"");
        assert_eq!(err("5"), "time: missing unit in duration \"5\"");
        assert_eq!(err("5 s"), "time: unknown unit \" s\" in duration \"5 s\"");
        assert_eq!(err("5x"), "time: unknown unit \"x\" in duration \"5x\"");
    }
}

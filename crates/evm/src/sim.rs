//! Simulation for the RPC: `eth_call`, `eth_estimateGas`, `eth_createAccessList`.
//!
//! Semantics follow geth: calls skip the nonce check, skip the base-fee check when no fee is
//! given, default the gas to the block's gas limit and cap any gas at [`CallLimits::gas_cap`]
//! (geth's `--rpc.gascap`); estimation runs a binary search between the gas used and the cap,
//! stopping within 1.5%. A call stops after [`CallLimits::timeout`] (geth's `--rpc.evmtimeout`):
//! an [`ExecutionGuard`] checks the clock every [`CLOCK_CHECK_STEPS`] steps. The system address
//! cannot be a call's sender: only the block hooks call as it.

use crate::{builder::evm_env_for, db::StateDb};
use alloy_consensus::Header;
use alloy_eips::{eip2930::AccessList, eip7825::MAX_TX_GAS_LIMIT_OSAKA};
use alloy_evm::{
    Evm, EvmEnv,
    call::caller_gas_allowance,
    overrides::{apply_block_overrides, apply_state_overrides},
    rpc::TryIntoTxEnv,
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, Bytes, Log, TxKind, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::EvmOverrides};
use dbc_chainspec::ChainSpec;
use dbc_precompiles::SYSTEM_ADDRESS;
use dbc_storage::StateReader;
use revm::{
    DatabaseRef, Inspector,
    context::TxEnv,
    context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    database::{State, WrapDatabaseRef},
    handler::FrameResult,
    inspector::NoOpInspector,
    interpreter::{
        CallInputs, CallOutcome as FrameCallOutcome, CreateInputs, CreateOutcome, FrameInput,
        InstructionResult, Interpreter, interpreter::EthInterpreter,
    },
};
use revm_inspectors::access_list::AccessListInspector;
use std::time::{Duration, Instant};

/// Gas cap for `eth_call` and `eth_estimateGas` (geth's default `--rpc.gascap`).
pub const RPC_GAS_CAP: u64 = 50_000_000;
/// How long an `eth_call` / `eth_estimateGas` may run (geth's default `--rpc.evmtimeout`).
pub const RPC_EVM_TIMEOUT: Duration = Duration::from_secs(5);
/// The guard reads the clock once per this many interpreter steps.
pub const CLOCK_CHECK_STEPS: u64 = 1024;

/// Limits of simulated calls: geth's `--rpc.gascap` and `--rpc.evmtimeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Gas of a call (or of the estimate's search) is capped at this.
    pub gas_cap: u64,
    /// A call (an estimate: the whole search) is aborted after this long.
    pub timeout: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self { gas_cap: RPC_GAS_CAP, timeout: RPC_EVM_TIMEOUT }
    }
}

/// A duration as Go prints it (`5s`, `100ms`, `1.5s`), for geth's messages.
pub fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// The error for a request that names the system address as its sender (or overrides it).
pub fn system_address_refused() -> SimError {
    SimError::BadRequest(format!(
        "{SYSTEM_ADDRESS} is the system address: only the block hooks may call from it"
    ))
}

/// Why a simulation did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The call reverted; `output` is the revert data.
    #[error("execution reverted")]
    Revert {
        /// Revert data.
        output: Bytes,
    },
    /// The call halted (out of gas, invalid opcode, …).
    #[error("{0}")]
    Halt(String),
    /// The transaction is invalid in this context (funds, fees, gas).
    #[error("{0}")]
    Invalid(String),
    /// Gas estimation found no limit under the cap that works.
    #[error("gas required exceeds allowance ({0})")]
    GasExceedsAllowance(u64),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Reading state failed.
    #[error("database error: {0}")]
    Db(String),
    /// The execution ran past its deadline (geth: `execution timeout` for tracers,
    /// `execution aborted (timeout = 5s)` for calls).
    #[error("{0}")]
    Timeout(String),
    /// A trace grew past what one response may hold.
    #[error("{0}")]
    TooLarge(String),
}

/// A finished simulation.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Whether it succeeded.
    pub success: bool,
    /// Return or revert data.
    pub output: Bytes,
    /// Gas used.
    pub gas_used: u64,
}

type SimDb<R> = State<WrapDatabaseRef<StateDb<R>>>;

fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::InvalidFEOpcode | HaltReason::OpcodeNotFound => "invalid opcode".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack overflow".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StateChangeDuringStaticCall => "write protection".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        other => format!("{other:?}"),
    }
}

fn invalid_message(e: &InvalidTransaction) -> String {
    match e {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".into()
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        other => other.to_string(),
    }
}

pub(crate) fn map_evm_err<E: std::fmt::Display>(e: EVMError<E>) -> SimError {
    match e {
        EVMError::Transaction(t) => SimError::Invalid(invalid_message(&t)),
        EVMError::Database(d) => SimError::Db(d.to_string()),
        other => SimError::Invalid(other.to_string()),
    }
}

/// Converts a call request into a transaction environment in `env`; also tells whether the
/// request named a fee (when it did not, the base-fee check is skipped, as in geth). The gas,
/// given or not, is capped at `gas_cap` (geth's `--rpc.gascap`). A request from the system
/// address is refused.
pub fn request_tx_env(
    env: &EvmEnv,
    request: TransactionRequest,
    gas_cap: u64,
) -> Result<(TxEnv, bool), SimError> {
    if request.from == Some(SYSTEM_ADDRESS) {
        return Err(system_address_refused());
    }
    let priced = request.gas_price.is_some()
        || request.max_fee_per_gas.is_some()
        || request.max_priority_fee_per_gas.is_some();
    let gas_given = request.gas;
    let mut tx: TxEnv = TryIntoTxEnv::<TxEnv>::try_into_tx_env(request, env)
        .map_err(|e| SimError::BadRequest(e.to_string()))?;
    if gas_given.is_none() {
        tx.gas_limit = env.block_env.gas_limit;
    }
    tx.gas_limit = tx.gas_limit.min(gas_cap);
    Ok((tx, priced))
}

/// Refuses overrides that put code, balance or storage at the system address (a contract there
/// would call the precompiles' hooks as the system).
pub fn check_overrides(overrides: &EvmOverrides) -> Result<(), SimError> {
    match &overrides.state {
        Some(state) if state.contains_key(&SYSTEM_ADDRESS) => Err(system_address_refused()),
        _ => Ok(()),
    }
}

/// A prepared simulation environment at one block.
#[derive(Debug)]
pub struct Simulator<R: StateReader> {
    market: std::sync::Arc<dbc_chainspec::DbcParams>,
    env: EvmEnv,
    db: SimDb<R>,
    osaka: bool,
    limits: CallLimits,
    /// When the current call (or estimate) must stop.
    deadline: Instant,
}

impl<R: StateReader> Simulator<R> {
    /// Prepares a simulation on `state` in the context of `header` (`header` is the block the
    /// call runs *in*: for `latest` the head itself, as geth does), with optional overrides.
    pub fn new(
        spec: &ChainSpec,
        header: &Header,
        state: R,
        overrides: EvmOverrides,
    ) -> Result<Self, SimError> {
        check_overrides(&overrides)?;
        let mut env = evm_env_for(spec, header);
        env.cfg_env.disable_nonce_check = true;
        env.cfg_env.disable_eip3607 = true;
        // The per-transaction gas cap (EIP-7825) binds included transactions; calls run under
        // the RPC gas cap instead, as in geth.
        env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
        let mut db = State::builder().with_database(WrapDatabaseRef(StateDb(state))).build();
        if let Some(block) = overrides.block {
            apply_block_overrides(*block, &mut db, &mut env.block_env);
        }
        if let Some(state_override) = overrides.state {
            apply_state_overrides(state_override, &mut db)
                .map_err(|e| SimError::BadRequest(e.to_string()))?;
        }
        let osaka = spec.is_osaka_active_at_timestamp(header.timestamp);
        let limits = CallLimits::default();
        let deadline = Instant::now() + limits.timeout;
        Ok(Self { market: spec.dbc.clone(), env, db, osaka, limits, deadline })
    }

    /// The same simulator with other gas cap and timeout.
    pub fn with_limits(mut self, limits: CallLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Converts the request and starts the clock of one call or estimate.
    fn tx_env(&mut self, request: TransactionRequest) -> Result<(TxEnv, bool), SimError> {
        self.deadline = Instant::now() + self.limits.timeout;
        request_tx_env(&self.env, request, self.limits.gas_cap)
    }

    fn timeout_error(&self) -> SimError {
        SimError::Timeout(format!(
            "execution aborted (timeout = {})",
            go_duration(self.limits.timeout)
        ))
    }

    fn run(&mut self, tx: TxEnv, priced: bool) -> Result<ExecutionResult<HaltReason>, SimError> {
        let mut env = self.env.clone();
        env.cfg_env.disable_base_fee = !priced;
        let mut guarded = Guarded::new(NoOpInspector, ExecutionGuard::new(self.deadline));
        let result = {
            let mut evm =
                crate::factory::evm_with_inspector(&self.market, &mut self.db, env, &mut guarded);
            evm.transact(tx).map_err(map_evm_err)?
        };
        if guarded.guard.stopped().is_some() {
            return Err(self.timeout_error());
        }
        Ok(result.result)
    }

    /// `eth_call`.
    pub fn call(&mut self, request: TransactionRequest) -> Result<CallOutcome, SimError> {
        let (tx, priced) = self.tx_env(request)?;
        match self.run(tx, priced)? {
            ExecutionResult::Success { output, gas, .. } => Ok(CallOutcome {
                success: true,
                output: output.into_data(),
                gas_used: gas.tx_gas_used(),
            }),
            ExecutionResult::Revert { output, .. } => Err(SimError::Revert { output }),
            ExecutionResult::Halt { reason, .. } => Err(SimError::Halt(halt_message(&reason))),
        }
    }

    /// `eth_estimateGas`: the smallest gas limit (within 1.5%) under which the transaction
    /// succeeds.
    pub fn estimate_gas(&mut self, request: TransactionRequest) -> Result<u64, SimError> {
        let given = request.gas;
        let (mut tx, priced) = self.tx_env(request)?;
        let mut hi = given.unwrap_or(self.env.block_env.gas_limit).min(self.limits.gas_cap);
        if self.osaka {
            hi = hi.min(MAX_TX_GAS_LIMIT_OSAKA);
        }
        if priced && tx.gas_price > 0 {
            let allowance = caller_gas_allowance(&mut self.db, &tx).map_err(|e| match e {
                alloy_evm::call::CallError::InsufficientFunds(f) => SimError::Invalid(format!(
                    "insufficient funds for transfer: have {} want {}",
                    f.balance, f.cost
                )),
                alloy_evm::call::CallError::Database(d) => SimError::Db(d.to_string()),
            })?;
            hi = hi.min(allowance);
        }
        // A plain transfer to an account without code costs exactly 21000.
        if let TxKind::Call(to) = tx.kind {
            let has_code = self
                .db
                .database
                .0
                .basic_ref(to)
                .map_err(|e| SimError::Db(e.to_string()))?
                .is_some_and(|a| a.code_hash != dbc_primitives::KECCAK_EMPTY);
            if tx.data.is_empty() && !has_code && tx.authorization_list.is_empty() {
                tx.gas_limit = 21_000;
                if let Ok(ExecutionResult::Success { .. }) = self.run(tx.clone(), priced) {
                    return Ok(21_000);
                }
            }
        }
        tx.gas_limit = hi;
        let (gas_used, refund) = match self.run(tx.clone(), priced)? {
            ExecutionResult::Success { gas, .. } => (gas.tx_gas_used(), gas.final_refunded()),
            ExecutionResult::Revert { output, .. } => return Err(SimError::Revert { output }),
            ExecutionResult::Halt { reason, .. } => {
                return Err(match reason {
                    HaltReason::OutOfGas(_) => SimError::GasExceedsAllowance(hi),
                    other => SimError::Halt(halt_message(&other)),
                });
            }
        };
        let mut lo = gas_used.saturating_sub(1);
        // The gas a call needs can exceed what it uses (63/64 rule, refunds): try an optimistic
        // guess first.
        let optimistic = (gas_used + refund + 2_300) * 64 / 63;
        if optimistic < hi {
            tx.gas_limit = optimistic;
            if matches!(self.run(tx.clone(), priced)?, ExecutionResult::Success { .. }) {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            if (hi - lo) as f64 / hi as f64 <= 0.015 {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            tx.gas_limit = mid;
            match self.run(tx.clone(), priced) {
                Ok(ExecutionResult::Success { .. }) => hi = mid,
                Ok(_) => lo = mid,
                Err(SimError::Invalid(msg)) if msg.contains("intrinsic gas too low") => lo = mid,
                Err(e) => return Err(e),
            }
        }
        Ok(hi)
    }

    /// `eth_createAccessList`: the access list the call touches and the gas used with it.
    pub fn create_access_list(
        &mut self,
        request: TransactionRequest,
    ) -> Result<(AccessList, u64, Option<String>), SimError> {
        let (mut tx, priced) = self.tx_env(request)?;
        let mut inspector = AccessListInspector::new(tx.access_list.clone());
        let mut env = self.env.clone();
        env.cfg_env.disable_base_fee = !priced;
        let mut guarded = Guarded::new(&mut inspector, ExecutionGuard::new(self.deadline));
        let result = {
            let mut evm =
                crate::factory::evm_with_inspector(&self.market, &mut self.db, env, &mut guarded);
            evm.transact(tx.clone()).map_err(map_evm_err)?
        };
        if guarded.guard.stopped().is_some() {
            return Err(self.timeout_error());
        }
        let list = inspector.into_access_list();
        tx.access_list = list.clone();
        let (gas_used, error) = match self.run(tx, priced)? {
            ExecutionResult::Success { gas, .. } => (gas.tx_gas_used(), None),
            ExecutionResult::Revert { gas, .. } => {
                (gas.tx_gas_used(), Some("execution reverted".into()))
            }
            ExecutionResult::Halt { reason, gas, .. } => {
                (gas.tx_gas_used(), Some(halt_message(&reason)))
            }
        };
        let _ = result;
        Ok((list, gas_used, error))
    }

    /// The balance of the request's sender (for `eth_fillTransaction` checks).
    pub fn balance(&self, address: alloy_primitives::Address) -> Result<U256, SimError> {
        Ok(self
            .db
            .database
            .0
            .basic_ref(address)
            .map_err(|e| SimError::Db(e.to_string()))?
            .map(|a| a.balance)
            .unwrap_or_default())
    }
}

/// Why an [`ExecutionGuard`] stopped an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The deadline passed.
    Timeout,
    /// More call frames than allowed (the limit).
    TooManyFrames(u64),
    /// The recorded steps would take more memory than allowed (the limit, bytes).
    TooManySteps(u64),
}

/// What recording one step costs a step-recording tracer, for [`ExecutionGuard::record_budget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepCost {
    /// Bytes per step whatever it records.
    pub base: u64,
    /// The tracer copies the whole stack at each step.
    pub stack: bool,
    /// The tracer copies the whole memory at each step.
    pub memory: bool,
}

/// Stops an execution at a deadline, the way geth cancels its EVM: the clock is read every
/// [`CLOCK_CHECK_STEPS`] steps and at every new frame, and once stopped every further step
/// halts (out of gas), so all frames unwind at once. Also caps the call frames a tracer may
/// collect and the memory its recorded steps take.
#[derive(Debug, Clone)]
pub struct ExecutionGuard {
    deadline: Instant,
    steps: u64,
    frames: u64,
    max_frames: u64,
    /// Steps handed to the inner inspector.
    recorded: u64,
    /// Hand at most this many steps to the inner inspector (geth's struct-logger `limit`).
    record_limit: Option<u64>,
    /// Cost of a recorded step and the most bytes all recorded steps may take.
    record_budget: Option<(StepCost, u64)>,
    recorded_bytes: u64,
    stopped: Option<Stop>,
}

impl ExecutionGuard {
    /// A guard that stops at `deadline` and caps nothing else.
    pub fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            steps: 0,
            frames: 0,
            max_frames: u64::MAX,
            recorded: 0,
            record_limit: None,
            record_budget: None,
            recorded_bytes: 0,
            stopped: None,
        }
    }

    /// Also stops after `max` call frames.
    pub fn max_frames(mut self, max: u64) -> Self {
        self.max_frames = max;
        self
    }

    /// Hands the inner inspector at most `limit` steps (later steps run unrecorded).
    pub fn record_limit(mut self, limit: Option<u64>) -> Self {
        self.record_limit = limit;
        self
    }

    /// Stops when the recorded steps would take more than `max_bytes`, each step costing
    /// `cost`.
    pub fn record_budget(mut self, cost: StepCost, max_bytes: u64) -> Self {
        self.record_budget = Some((cost, max_bytes));
        self
    }

    /// Why the execution was stopped, if it was.
    pub fn stopped(&self) -> Option<Stop> {
        self.stopped
    }

    /// Steps executed so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Counts a step; whether it may run (`false`: halt) and whether to record it.
    fn on_step(&mut self, interp: &Interpreter<EthInterpreter>) -> (bool, bool) {
        if self.stopped.is_some() {
            return (false, false);
        }
        self.steps += 1;
        if self.steps.is_multiple_of(CLOCK_CHECK_STEPS) && Instant::now() >= self.deadline {
            self.stopped = Some(Stop::Timeout);
            return (false, false);
        }
        if self.record_limit.is_some_and(|l| self.recorded >= l) {
            return (true, false);
        }
        if let Some((cost, max)) = self.record_budget {
            let mut bytes = cost.base;
            if cost.stack {
                bytes += 32 * interp.stack.len() as u64;
            }
            if cost.memory {
                bytes += interp.memory.len() as u64;
            }
            self.recorded_bytes = self.recorded_bytes.saturating_add(bytes);
            if self.recorded_bytes > max {
                self.stopped = Some(Stop::TooManySteps(max));
                return (false, false);
            }
        }
        self.recorded += 1;
        (true, true)
    }

    /// Counts a frame; whether it may start.
    fn on_frame(&mut self) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        self.frames += 1;
        if self.frames > self.max_frames {
            self.stopped = Some(Stop::TooManyFrames(self.max_frames));
            return false;
        }
        // A frame that starts after the deadline (a precompile runs without steps) stops too.
        if Instant::now() >= self.deadline {
            self.stopped = Some(Stop::Timeout);
            return false;
        }
        true
    }
}

/// An inspector run under an [`ExecutionGuard`]: every hook is forwarded to `inner` unless the
/// guard stopped the execution (or, for steps, the guard's record limit was reached). A frame
/// the guard refuses never reaches `inner` (neither its start nor its end).
#[derive(Debug)]
pub struct Guarded<I> {
    /// The inspector.
    pub inner: I,
    /// The guard.
    pub guard: ExecutionGuard,
    /// Whether the step in progress was handed to `inner` (so is its `step_end`).
    recording: bool,
    /// Whether the frame ending next was refused (its end is not forwarded).
    refused: bool,
}

impl<I> Guarded<I> {
    /// `inner` under `guard`.
    pub fn new(inner: I, guard: ExecutionGuard) -> Self {
        Self { inner, guard, recording: false, refused: false }
    }
}

/// The result of a frame the guard refused: out of gas, nothing returned.
fn refused_frame(input: &FrameInput) -> Option<FrameResult> {
    match input {
        FrameInput::Call(c) => Some(FrameResult::Call(FrameCallOutcome::new_oog(
            c.gas_limit,
            c.return_memory_offset.clone(),
            c.reservoir,
        ))),
        FrameInput::Create(c) => {
            Some(FrameResult::Create(CreateOutcome::new_oog(c.gas_limit(), c.reservoir())))
        }
        FrameInput::Empty => None,
    }
}

impl<CTX, I: Inspector<CTX, EthInterpreter>> Inspector<CTX, EthInterpreter> for Guarded<I> {
    fn initialize_interp(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        self.inner.initialize_interp(interp, context);
    }

    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        let (run, record) = self.guard.on_step(interp);
        self.recording = record;
        if !run {
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        if record {
            self.inner.step(interp, context);
        }
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        if std::mem::take(&mut self.recording) {
            self.inner.step_end(interp, context);
        }
    }

    fn log(&mut self, context: &mut CTX, log: Log) {
        self.inner.log(context, log);
    }

    fn log_full(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX, log: Log) {
        self.inner.log_full(interp, context, log);
    }

    fn frame_start(
        &mut self,
        context: &mut CTX,
        frame_input: &mut FrameInput,
    ) -> Option<FrameResult> {
        if !self.guard.on_frame() {
            let refused = refused_frame(frame_input);
            self.refused = refused.is_some();
            return refused;
        }
        self.inner.frame_start(context, frame_input)
    }

    fn frame_end(&mut self, context: &mut CTX, frame_input: &FrameInput, result: &mut FrameResult) {
        // `frame_end` comes after `call_end`/`create_end`.
        if std::mem::take(&mut self.refused) {
            return;
        }
        self.inner.frame_end(context, frame_input, result);
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<FrameCallOutcome> {
        self.inner.call(context, inputs)
    }

    fn call_end(&mut self, context: &mut CTX, inputs: &CallInputs, outcome: &mut FrameCallOutcome) {
        if !self.refused {
            self.inner.call_end(context, inputs, outcome);
        }
    }

    fn create(&mut self, context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.inner.create(context, inputs)
    }

    fn create_end(
        &mut self,
        context: &mut CTX,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        if !self.refused {
            self.inner.create_end(context, inputs, outcome);
        }
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        self.inner.selfdestruct(contract, target, value);
    }
}

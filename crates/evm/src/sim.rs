//! Simulation for the RPC: `eth_call`, `eth_estimateGas`, `eth_createAccessList`.
//!
//! Semantics follow geth: calls skip the nonce check, skip the base-fee check when no fee is
//! given, default the gas to the block's gas limit (capped by [`RPC_GAS_CAP`]); estimation runs
//! a binary search between the gas used and the cap, stopping within 1.5%.

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
use alloy_primitives::{Bytes, TxKind, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::EvmOverrides};
use dbc_chainspec::ChainSpec;
use dbc_storage::StateReader;
use revm::{
    DatabaseRef,
    context::TxEnv,
    context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    database::{State, WrapDatabaseRef},
};
use revm_inspectors::access_list::AccessListInspector;

/// Gas cap for `eth_call` and `eth_estimateGas` (geth's default `--rpc.gascap`).
pub const RPC_GAS_CAP: u64 = 50_000_000;

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
/// request named a fee (when it did not, the base-fee check is skipped, as in geth).
pub fn request_tx_env(
    env: &EvmEnv,
    request: TransactionRequest,
) -> Result<(TxEnv, bool), SimError> {
    let priced = request.gas_price.is_some()
        || request.max_fee_per_gas.is_some()
        || request.max_priority_fee_per_gas.is_some();
    let gas_given = request.gas;
    let mut tx: TxEnv = TryIntoTxEnv::<TxEnv>::try_into_tx_env(request, env)
        .map_err(|e| SimError::BadRequest(e.to_string()))?;
    if gas_given.is_none() {
        tx.gas_limit = env.block_env.gas_limit.min(RPC_GAS_CAP);
    }
    Ok((tx, priced))
}

/// A prepared simulation environment at one block.
#[derive(Debug)]
pub struct Simulator<R: StateReader> {
    market: std::sync::Arc<dbc_chainspec::DbcParams>,
    env: EvmEnv,
    db: SimDb<R>,
    osaka: bool,
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
        Ok(Self { market: spec.dbc.clone(), env, db, osaka })
    }

    fn tx_env(&self, request: TransactionRequest) -> Result<(TxEnv, bool), SimError> {
        request_tx_env(&self.env, request)
    }

    fn run(&mut self, tx: TxEnv, priced: bool) -> Result<ExecutionResult<HaltReason>, SimError> {
        let mut env = self.env.clone();
        env.cfg_env.disable_base_fee = !priced;
        let mut evm = crate::factory::evm(&self.market, &mut self.db, env);
        let result = evm.transact(tx).map_err(map_evm_err)?;
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
        let mut hi = given.unwrap_or(self.env.block_env.gas_limit).min(RPC_GAS_CAP);
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
        let result = {
            let mut evm =
                crate::factory::evm_with_inspector(&self.market, &mut self.db, env, &mut inspector);
            evm.transact(tx.clone()).map_err(map_evm_err)?
        };
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

//! Stateless and head-state checks a raw transaction passes before it enters the pool.
//! Messages are geth's, so users and tools recognise them.

use alloy_consensus::{Transaction, transaction::SignerRecoverable};
use alloy_eips::{eip1559::BaseFeeParams, eip2718::Decodable2718, eip7825::MAX_TX_GAS_LIMIT_OSAKA};
use alloy_evm::{FromRecoveredTx, spec_by_timestamp_and_block_number};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, U256};
use dbc_chainspec::ChainSpec;
use dbc_primitives::{BlockHeader, Recovered, TxEnvelope};
use revm::context::TxEnv;
use revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx;

/// Largest accepted transaction, as in geth (128 KiB).
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Largest init code (EIP-3860).
pub const MAX_INITCODE_SIZE: usize = 49_152;

/// Why a transaction was refused before reaching the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Bytes are not a transaction.
    #[error("rlp: {0}")]
    Decode(String),
    /// Too large.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Blob transactions are not accepted.
    #[error("transaction type not supported")]
    UnsupportedType,
    /// Signed for another chain.
    #[error("invalid chain id for signer: have {have} want {want}")]
    WrongChainId {
        /// Chain id of the transaction.
        have: u64,
        /// Ours.
        want: u64,
    },
    /// Legacy transaction without EIP-155 replay protection.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// Signature does not recover.
    #[error("invalid sender")]
    InvalidSender,
    /// Gas limit above the block's.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit,
    /// Gas limit above EIP-7825's cap.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// Cap.
        cap: u64,
        /// Transaction gas limit.
        gas: u64,
    },
    /// Tip above fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Fee cap under the next block's base fee.
    #[error(
        "max fee per gas less than block base fee: address {address}, maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// Sender.
        address: alloy_primitives::Address,
        /// Fee cap.
        max_fee: u128,
        /// Next block's base fee.
        base_fee: u64,
    },
    /// Gas limit under the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// Gas limit.
        gas: u64,
        /// Intrinsic gas (or the EIP-7623 floor).
        needed: u64,
    },
    /// Nonce already used.
    #[error("nonce too low: address {address}, tx: {tx} state: {state}")]
    NonceTooLow {
        /// Sender.
        address: alloy_primitives::Address,
        /// Transaction nonce.
        tx: u64,
        /// State nonce.
        state: u64,
    },
    /// Cannot pay.
    #[error(
        "insufficient funds for gas * price + value: address {address} have {have} want {want}"
    )]
    InsufficientFunds {
        /// Sender.
        address: alloy_primitives::Address,
        /// Balance.
        have: U256,
        /// Cost.
        want: U256,
    },
    /// EIP-7702 transaction without authorizations.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthorizationList,
    /// Init code too large.
    #[error("max initcode size exceeded: code size {size} limit {limit}")]
    InitCodeTooLarge {
        /// Size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Reading state failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A transaction that passed validation.
#[derive(Debug)]
pub struct ValidTransaction {
    /// The transaction with its sender.
    pub tx: Recovered<TxEnvelope>,
    /// Encoded size.
    pub size: usize,
    /// The sender's nonce in the head state.
    pub state_nonce: u64,
    /// The sender's balance in the head state (for the pool's cumulative check).
    pub balance: U256,
}

/// Decodes `raw` (EIP-2718 bytes) strictly: at most [`MAX_TX_SIZE`] bytes, one transaction, no
/// trailing bytes.
pub fn decode_raw(raw: &[u8]) -> Result<TxEnvelope, ValidationError> {
    if raw.len() > MAX_TX_SIZE {
        return Err(ValidationError::Oversized { size: raw.len(), limit: MAX_TX_SIZE });
    }
    let mut buf = raw;
    let tx =
        TxEnvelope::decode_2718(&mut buf).map_err(|e| ValidationError::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(ValidationError::Decode("input contains more than one value".into()));
    }
    Ok(tx)
}

/// The checks that need no state: type, chain id, gas, fees, authorization list, init code
/// size, signature and intrinsic gas, for inclusion after `head`. Returns the sender.
pub fn check_stateless(
    spec: &ChainSpec,
    tx: &TxEnvelope,
    head: &BlockHeader,
) -> Result<Address, ValidationError> {
    check_stateless_as(spec, tx, head, None)
}

/// [`check_stateless`] with the sender given instead of recovered from the signature (`Some`:
/// the dev chain's impersonated accounts, whose transactions carry no valid signature).
fn check_stateless_as(
    spec: &ChainSpec,
    tx: &TxEnvelope,
    head: &BlockHeader,
    impersonated: Option<Address>,
) -> Result<Address, ValidationError> {
    if tx.is_eip4844() {
        return Err(ValidationError::UnsupportedType);
    }
    match tx.chain_id() {
        Some(id) if id != spec.chain_id => {
            return Err(ValidationError::WrongChainId { have: id, want: spec.chain_id });
        }
        None => return Err(ValidationError::Unprotected),
        _ => {}
    }
    let gas = tx.gas_limit();
    if gas > head.gas_limit {
        return Err(ValidationError::ExceedsBlockGasLimit);
    }
    let next_ts = head.timestamp.saturating_add(1);
    if spec.is_osaka_active_at_timestamp(next_ts) && gas > MAX_TX_GAS_LIMIT_OSAKA {
        return Err(ValidationError::GasLimitTooHigh { cap: MAX_TX_GAS_LIMIT_OSAKA, gas });
    }
    if let Some(tip) = tx.max_priority_fee_per_gas()
        && tip > tx.max_fee_per_gas()
    {
        return Err(ValidationError::TipAboveFeeCap);
    }
    if tx.is_eip7702() && tx.authorization_list().is_none_or(|l| l.is_empty()) {
        return Err(ValidationError::EmptyAuthorizationList);
    }
    if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(ValidationError::InitCodeTooLarge {
            size: tx.input().len(),
            limit: MAX_INITCODE_SIZE,
        });
    }
    let sender = match impersonated {
        Some(sender) => sender,
        None => tx.recover_signer().map_err(|_| ValidationError::InvalidSender)?,
    };
    let base_fee = head.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default();
    if tx.max_fee_per_gas() < base_fee as u128 {
        return Err(ValidationError::FeeCapTooLow {
            address: sender,
            max_fee: tx.max_fee_per_gas(),
            base_fee,
        });
    }
    let spec_id = spec_by_timestamp_and_block_number(spec, next_ts, head.number.saturating_add(1));
    let tx_env = TxEnv::from_recovered_tx(tx, sender);
    let intrinsic = calculate_initial_tx_gas_for_tx(&tx_env, spec_id, None);
    let needed = intrinsic.initial_regular_gas.max(intrinsic.floor_gas);
    if gas < needed {
        return Err(ValidationError::IntrinsicGasTooLow { gas, needed });
    }
    Ok(sender)
}

/// Validates raw transactions against the chain spec and the head state.
#[cfg(feature = "storage")]
#[derive(Debug, Clone)]
pub struct TxValidator {
    spec: std::sync::Arc<ChainSpec>,
    storage: dbc_storage::Storage,
}

#[cfg(feature = "storage")]
impl TxValidator {
    /// A validator over `storage`'s head state.
    pub fn new(spec: std::sync::Arc<ChainSpec>, storage: dbc_storage::Storage) -> Self {
        Self { spec, storage }
    }

    /// Decodes and validates `raw` (EIP-2718 bytes) for inclusion after `head`.
    pub fn validate_raw(
        &self,
        raw: &[u8],
        head: &BlockHeader,
    ) -> Result<ValidTransaction, ValidationError> {
        let tx = decode_raw(raw)?;
        self.validate(tx, raw.len(), head)
    }

    /// Validates a decoded transaction.
    pub fn validate(
        &self,
        tx: TxEnvelope,
        size: usize,
        head: &BlockHeader,
    ) -> Result<ValidTransaction, ValidationError> {
        self.validate_as(tx, size, head, None)
    }

    /// Validates a transaction whose sender is known without recovering its signature, which
    /// is not checked; everything else is, as for a new transaction. Only for two senders:
    /// - one this node recovered itself earlier: its own canonical blocks' transactions
    ///   returning to the pool after a reorg (recovered when the block was built or imported);
    /// - the dev chain's impersonated account (anvil's `anvil_impersonateAccount`), never for
    ///   transactions from outside a dev chain.
    pub fn validate_with_sender(
        &self,
        tx: TxEnvelope,
        size: usize,
        head: &BlockHeader,
        sender: Address,
    ) -> Result<ValidTransaction, ValidationError> {
        self.validate_as(tx, size, head, Some(sender))
    }

    fn validate_as(
        &self,
        tx: TxEnvelope,
        size: usize,
        head: &BlockHeader,
        impersonated: Option<Address>,
    ) -> Result<ValidTransaction, ValidationError> {
        let sender = check_stateless_as(&self.spec, &tx, head, impersonated)?;
        let account = self
            .storage
            .latest_account(sender)
            .map_err(|e| ValidationError::Internal(e.to_string()))?
            .unwrap_or_default();
        if tx.nonce() < account.nonce {
            return Err(ValidationError::NonceTooLow {
                address: sender,
                tx: tx.nonce(),
                state: account.nonce,
            });
        }
        let cost = U256::from(tx.max_fee_per_gas())
            .saturating_mul(U256::from(tx.gas_limit()))
            .saturating_add(tx.value());
        if cost > account.balance {
            return Err(ValidationError::InsufficientFunds {
                address: sender,
                have: account.balance,
                want: cost,
            });
        }
        Ok(ValidTransaction {
            tx: Recovered::new_unchecked(tx, sender),
            size,
            state_nonce: account.nonce,
            balance: account.balance,
        })
    }
}

#[cfg(all(test, feature = "storage"))]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEip4844, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Signature, TxKind};
    use dbc_storage::Storage;
    use std::sync::Arc;

    fn validator() -> (TxValidator, BlockHeader, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = Arc::new(ChainSpec::dev(10).expect("spec"));
        let storage = Storage::open(dir.path()).expect("open");
        let header = spec.genesis_header();
        (TxValidator::new(spec, storage), header, dir)
    }

    #[test]
    fn blob_transactions_are_refused_as_unsupported() {
        let (v, head, _dir) = validator();
        let blob = TxEip4844 {
            chain_id: 19888,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_fee_per_blob_gas: 1,
            blob_versioned_hashes: vec![Default::default()],
            ..Default::default()
        };
        let tx: TxEnvelope = blob.into_signed(Signature::test_signature()).into();
        let raw = tx.encoded_2718();
        assert_eq!(v.validate_raw(&raw, &head).err(), Some(ValidationError::UnsupportedType));
    }

    #[test]
    fn replay_unprotected_and_foreign_chain_transactions_are_refused() {
        let (v, head, _dir) = validator();
        let legacy = TxLegacy {
            chain_id: None,
            gas_price: 10_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let tx: TxEnvelope = legacy.into_signed(Signature::test_signature()).into();
        assert_eq!(v.validate(tx, 100, &head).err(), Some(ValidationError::Unprotected));
        let foreign = TxEip1559 {
            chain_id: 1,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let tx: TxEnvelope = foreign.into_signed(Signature::test_signature()).into();
        assert_eq!(
            v.validate(tx, 100, &head).err(),
            Some(ValidationError::WrongChainId { have: 1, want: 19888 })
        );
        let big = vec![0u8; MAX_TX_SIZE + 1];
        assert!(matches!(v.validate_raw(&big, &head), Err(ValidationError::Oversized { .. })));
    }
}

//! JSON-RPC errors with geth's codes and messages.

use alloy_primitives::Bytes;
use alloy_sol_types::{Revert, SolError};
use dbc_evm::SimError;
use dbc_txpool::{PoolError, ValidationError};
use jsonrpsee::types::{ErrorObjectOwned, error::INVALID_PARAMS_CODE};

/// geth's code for most server-side failures.
pub const SERVER_ERROR: i32 = -32000;
/// geth's code for a reverted execution (the revert data is in `data`).
pub const EXECUTION_REVERTED: i32 = 3;
/// Internal error.
pub const INTERNAL_ERROR: i32 = -32603;

/// An RPC error.
#[derive(Debug)]
pub struct RpcError(pub ErrorObjectOwned);

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        e.0
    }
}

/// Result of an RPC method.
pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// `-32000` with `message`.
pub fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, message.into(), None::<()>)
}

/// `-32602` with `message`.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, message.into(), None::<()>)
}

/// `-32603` with `message`.
pub fn internal(message: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR, message.to_string(), None::<()>)
}

/// geth's "header not found".
pub fn header_not_found() -> ErrorObjectOwned {
    server_error("header not found")
}

/// A revert: code 3, `execution reverted[: reason]`, data = the revert bytes.
pub fn reverted(output: &Bytes) -> ErrorObjectOwned {
    let message = match Revert::abi_decode(output) {
        Ok(r) => format!("execution reverted: {}", r.reason),
        Err(_) => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(output.to_string()))
}

impl From<SimError> for RpcError {
    fn from(e: SimError) -> Self {
        Self(match e {
            SimError::Revert { output } => reverted(&output),
            SimError::BadRequest(m) => invalid_params(m),
            SimError::Db(m) => internal(m),
            other => server_error(other.to_string()),
        })
    }
}

impl From<ValidationError> for RpcError {
    fn from(e: ValidationError) -> Self {
        Self(match e {
            ValidationError::Internal(m) => internal(m),
            other => server_error(other.to_string()),
        })
    }
}

impl From<PoolError> for RpcError {
    fn from(e: PoolError) -> Self {
        Self(server_error(e.to_string()))
    }
}

impl From<dbc_storage::StorageError> for RpcError {
    fn from(e: dbc_storage::StorageError) -> Self {
        use dbc_storage::StorageError;
        Self(match e {
            StorageError::Deadline => crate::limits::request_timed_out(),
            e @ StorageError::TooManyChanges { .. } => server_error(e.to_string()),
            e => internal(e),
        })
    }
}

/// Converts any error convertible to [`RpcError`] into a jsonrpsee error object.
pub fn rpc_err<E: Into<RpcError>>(e: E) -> ErrorObjectOwned {
    e.into().0
}

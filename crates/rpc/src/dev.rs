//! The dev chain's test methods, with anvil's names and semantics and the `hardhat_` / `evm_`
//! aliases Hardhat and its network helpers call: mining many blocks at once, moving the clock,
//! editing state, impersonating accounts, `eth_sendTransaction` from unlocked accounts, and
//! snapshots. Served only by a `--dev` node (see [`RpcContext::with_dev`]); the node implements
//! [`DevApi`].
//!
//! One difference from anvil: every block carries a real state root, so a state edit
//! (`anvil_setBalance` and friends) is sealed into a block of its own at once instead of
//! changing the head's state in place; the block number rises by one per edit.

use crate::{
    RpcContext,
    error::{RpcResult, invalid_params, rpc_err, server_error},
};
use alloy_consensus::SignableTransaction;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_evm::StateEdit;
use dbc_primitives::TxEnvelope;
use jsonrpsee::{RpcModule, types::Params};
use parking_lot::RwLock;
use serde_json::Value;
use std::{collections::HashSet, sync::Arc};

/// What the node does for the dev methods. Every call is blocking (it may mine many blocks).
pub trait DevApi: Send + Sync + 'static {
    /// Mines `blocks` blocks (pending transactions go into the first), the first at the clock's
    /// time (or `timestamp`), each later one `interval` seconds after the one before.
    fn mine(&self, blocks: u64, interval: u64, timestamp: Option<u64>) -> Result<(), String>;
    /// Applies `edit` in a block of its own.
    fn edit(&self, edit: StateEdit) -> Result<(), String>;
    /// Moves the clock ahead; returns the total offset in seconds.
    fn increase_time(&self, seconds: u64) -> i64;
    /// Fixes the next block's timestamp (after the head's).
    fn set_next_timestamp(&self, timestamp: u64) -> Result<(), String>;
    /// Records the chain, state and clock; returns the snapshot's id.
    fn snapshot(&self) -> Result<u64, String>;
    /// Returns to snapshot `id` (dropping it and every later one); `false` if unknown.
    fn revert(&self, id: u64) -> Result<bool, String>;
}

/// The dev chain's RPC-side state: the node's controls, the unlocked accounts and the
/// impersonated ones.
pub struct DevRpc {
    api: Arc<dyn DevApi>,
    signers: Vec<PrivateKeySigner>,
    impersonated: RwLock<HashSet<Address>>,
}

impl std::fmt::Debug for DevRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevRpc").field("accounts", &self.signers.len()).finish()
    }
}

impl DevRpc {
    /// Dev methods over `api`, with `signers` unlocked (`eth_accounts`, `eth_sendTransaction`).
    pub fn new(api: Arc<dyn DevApi>, signers: Vec<PrivateKeySigner>) -> Self {
        Self { api, signers, impersonated: RwLock::default() }
    }

    /// The unlocked accounts.
    pub fn accounts(&self) -> Vec<Address> {
        self.signers.iter().map(|s| s.address()).collect()
    }

    fn signer(&self, address: Address) -> Option<&PrivateKeySigner> {
        self.signers.iter().find(|s| s.address() == address)
    }
}

/// A JSON quantity: a number, or a hex (`0x…`) or decimal string.
fn quantity(v: &Value) -> RpcResult<u64> {
    let bad = || invalid_params(format!("invalid quantity {v}"));
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad),
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad()),
            None => s.parse().map_err(|_| bad()),
        },
        _ => Err(bad()),
    }
}

/// The `i`-th parameter, if present and not null.
fn param(params: &Params<'_>, i: usize) -> RpcResult<Option<Value>> {
    if params.is_object() {
        return Err(invalid_params("expected positional parameters"));
    }
    let list: Option<Vec<Value>> = params.parse().map_err(|e| invalid_params(e.to_string()))?;
    Ok(list.and_then(|l| l.into_iter().nth(i)).filter(|v| !v.is_null()))
}

fn required<T: serde::de::DeserializeOwned>(params: &Params<'_>, i: usize) -> RpcResult<T> {
    let v = param(params, i)?.ok_or_else(|| invalid_params(format!("missing value for {i}")))?;
    serde_json::from_value(v).map_err(|e| invalid_params(e.to_string()))
}

fn opt_quantity(params: &Params<'_>, i: usize) -> RpcResult<Option<u64>> {
    param(params, i)?.as_ref().map(quantity).transpose()
}

/// A signature that makes an impersonated account's transaction unique to its sender (the
/// sender is never recovered from it).
fn impersonation_signature(sender: Address) -> Signature {
    Signature::new(U256::from_be_slice(sender.as_slice()).max(U256::from(1)), U256::from(1), false)
}

/// `tx` carrying the signature `sign` makes over its signing hash.
fn with_signature(
    tx: TxEnvelope,
    sign: impl Fn(B256) -> RpcResult<Signature>,
) -> RpcResult<TxEnvelope> {
    Ok(match tx {
        TxEnvelope::Legacy(t) => {
            let t = t.strip_signature();
            let sig = sign(t.signature_hash())?;
            t.into_signed(sig).into()
        }
        TxEnvelope::Eip2930(t) => {
            let t = t.strip_signature();
            let sig = sign(t.signature_hash())?;
            t.into_signed(sig).into()
        }
        TxEnvelope::Eip1559(t) => {
            let t = t.strip_signature();
            let sig = sign(t.signature_hash())?;
            t.into_signed(sig).into()
        }
        TxEnvelope::Eip7702(t) => {
            let t = t.strip_signature();
            let sig = sign(t.signature_hash())?;
            t.into_signed(sig).into()
        }
        TxEnvelope::Eip4844(_) => return Err(invalid_params("transaction type not supported")),
    })
}

impl RpcContext {
    /// The same context serving the dev methods. Call before the context is shared.
    pub fn with_dev(mut self, dev: DevRpc) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.dev = Some(Arc::new(dev));
        }
        self
    }

    pub(crate) fn dev(&self) -> Option<&DevRpc> {
        self.inner.dev.as_deref()
    }

    /// `eth_sendTransaction`: fills `request`, signs it with the unlocked account or sends it
    /// as the impersonated one, and pools it.
    fn send_transaction(&self, dev: &DevRpc, request: TransactionRequest) -> RpcResult<B256> {
        let from = request.from.ok_or_else(|| invalid_params("missing from"))?;
        let signer = dev.signer(from).cloned();
        if signer.is_none() && !dev.impersonated.read().contains(&from) {
            return Err(server_error("unknown account"));
        }
        let (unsigned, _) = self.fill_request(request)?;
        match signer {
            Some(signer) => {
                let signed = with_signature(unsigned, |hash| {
                    signer.sign_hash_sync(&hash).map_err(|e| server_error(e.to_string()))
                })?;
                self.submit(&signed.encoded_2718())
            }
            None => {
                let tx = with_signature(unsigned, |_| Ok(impersonation_signature(from)))?;
                let hash = *tx.tx_hash();
                let size = tx.eip2718_encoded_length();
                let head = self.chain().head();
                let valid = self
                    .inner
                    .validator
                    .validate_with_sender(tx, size, head.inner(), from)
                    .map_err(rpc_err)?;
                self.pool().add_valid(valid).map_err(rpc_err)?;
                Ok(hash)
            }
        }
    }
}

type DevModule = RpcModule<RpcContext>;

/// Registers `f` under `names` (the first is the method, the rest aliases).
fn register<R, F>(module: &mut DevModule, dev: &Arc<DevRpc>, names: &[&'static str], f: F)
where
    R: jsonrpsee::IntoResponse + 'static,
    F: Fn(Params<'_>, &RpcContext, &DevRpc) -> R + Clone + Send + Sync + 'static,
{
    let dev = dev.clone();
    let result =
        module.register_blocking_method(names[0], move |params, ctx, _| f(params, &ctx, &dev));
    if let Err(e) = result {
        tracing::error!(target: "dbc::rpc", error = %e, "duplicate dev method");
    }
    for alias in &names[1..] {
        if let Err(e) = module.register_alias(alias, names[0]) {
            tracing::error!(target: "dbc::rpc", error = %e, "duplicate dev method");
        }
    }
}

fn edit(dev: &DevRpc, edit: StateEdit) -> RpcResult<()> {
    dev.api.edit(edit).map_err(server_error)
}

/// The dev methods (empty when `ctx` has no dev controls).
pub(crate) fn module(ctx: RpcContext) -> RpcModule<()> {
    let Some(dev) = ctx.inner.dev.clone() else { return RpcModule::new(()) };
    let mut m = RpcModule::new(ctx);
    register(&mut m, &dev, &["anvil_mine", "hardhat_mine"], |p, _, dev| -> RpcResult<()> {
        let blocks = opt_quantity(&p, 0)?.unwrap_or(1);
        let interval = opt_quantity(&p, 1)?.unwrap_or(1);
        dev.api.mine(blocks, interval, None).map_err(server_error)
    });
    register(&mut m, &dev, &["evm_mine"], |p, _, dev| -> RpcResult<&'static str> {
        // A timestamp, or anvil's `{ timestamp, blocks }`.
        let (blocks, timestamp) = match param(&p, 0)? {
            Some(Value::Object(o)) => (
                o.get("blocks").map(quantity).transpose()?.unwrap_or(1),
                o.get("timestamp").map(quantity).transpose()?,
            ),
            Some(v) => (1, Some(quantity(&v)?)),
            None => (1, None),
        };
        dev.api.mine(blocks, 1, timestamp).map_err(server_error)?;
        Ok("0x0")
    });
    register(
        &mut m,
        &dev,
        &["evm_increaseTime", "anvil_increaseTime"],
        |p, _, dev| -> RpcResult<i64> {
            let seconds = opt_quantity(&p, 0)?.ok_or_else(|| invalid_params("missing seconds"))?;
            Ok(dev.api.increase_time(seconds))
        },
    );
    register(
        &mut m,
        &dev,
        &["evm_setNextBlockTimestamp", "anvil_setNextBlockTimestamp"],
        |p, _, dev| -> RpcResult<()> {
            let ts = opt_quantity(&p, 0)?.ok_or_else(|| invalid_params("missing timestamp"))?;
            dev.api.set_next_timestamp(ts).map_err(server_error)
        },
    );
    register(
        &mut m,
        &dev,
        &["anvil_setBalance", "hardhat_setBalance"],
        |p, _, dev| -> RpcResult<()> {
            edit(dev, StateEdit::Balance(required(&p, 0)?, required(&p, 1)?))
        },
    );
    register(&mut m, &dev, &["anvil_setNonce", "hardhat_setNonce"], |p, _, dev| -> RpcResult<()> {
        let nonce = opt_quantity(&p, 1)?.ok_or_else(|| invalid_params("missing nonce"))?;
        edit(dev, StateEdit::Nonce(required(&p, 0)?, nonce))
    });
    register(&mut m, &dev, &["anvil_setCode", "hardhat_setCode"], |p, _, dev| -> RpcResult<()> {
        let code: Bytes = required(&p, 1)?;
        edit(dev, StateEdit::Code(required(&p, 0)?, code))
    });
    register(
        &mut m,
        &dev,
        &["anvil_setStorageAt", "hardhat_setStorageAt"],
        |p, _, dev| -> RpcResult<bool> {
            let slot: U256 = required(&p, 1)?;
            let value: U256 = required(&p, 2)?;
            edit(dev, StateEdit::Storage(required(&p, 0)?, slot.into(), value.into()))?;
            Ok(true)
        },
    );
    register(
        &mut m,
        &dev,
        &["anvil_impersonateAccount", "hardhat_impersonateAccount"],
        |p, _, dev| -> RpcResult<()> {
            dev.impersonated.write().insert(required(&p, 0)?);
            Ok(())
        },
    );
    register(
        &mut m,
        &dev,
        &["anvil_stopImpersonatingAccount", "hardhat_stopImpersonatingAccount"],
        |p, _, dev| -> RpcResult<()> {
            dev.impersonated.write().remove(&required::<Address>(&p, 0)?);
            Ok(())
        },
    );
    register(&mut m, &dev, &["eth_sendTransaction"], |p, ctx, dev| -> RpcResult<B256> {
        ctx.send_transaction(dev, required(&p, 0)?)
    });
    register(&mut m, &dev, &["evm_snapshot", "anvil_snapshot"], |_, _, dev| -> RpcResult<U256> {
        dev.api.snapshot().map(U256::from).map_err(server_error)
    });
    register(&mut m, &dev, &["evm_revert", "anvil_revert"], |p, _, dev| -> RpcResult<bool> {
        let id: U256 = required(&p, 0)?;
        match u64::try_from(id) {
            Ok(id) => dev.api.revert(id).map_err(server_error),
            Err(_) => Ok(false),
        }
    });
    m.remove_context()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_numbers_or_hex_or_decimal_strings() {
        assert_eq!(quantity(&serde_json::json!(3600)).ok(), Some(3600));
        assert_eq!(quantity(&serde_json::json!("0xe10")).ok(), Some(3600));
        assert_eq!(quantity(&serde_json::json!("3600")).ok(), Some(3600));
        assert!(quantity(&serde_json::json!("0xzz")).is_err());
        assert!(quantity(&serde_json::json!(-1)).is_err());
        assert!(quantity(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn impersonation_signatures_differ_by_sender() {
        let a = impersonation_signature(Address::with_last_byte(1));
        let b = impersonation_signature(Address::with_last_byte(2));
        assert_ne!(a, b);
        assert!(!impersonation_signature(Address::ZERO).r().is_zero());
    }
}

#[cfg(test)]
mod served {
    use super::*;
    use crate::tests::TestChain;

    /// Records what the node was asked to do.
    #[derive(Default)]
    struct Recorder(parking_lot::Mutex<Vec<String>>);

    impl Recorder {
        fn calls(&self) -> Vec<String> {
            self.0.lock().clone()
        }
    }

    impl DevApi for Recorder {
        fn mine(&self, blocks: u64, interval: u64, ts: Option<u64>) -> Result<(), String> {
            self.0.lock().push(format!("mine {blocks} {interval} {ts:?}"));
            Ok(())
        }
        fn edit(&self, edit: StateEdit) -> Result<(), String> {
            self.0.lock().push(format!("{edit:?}"));
            Ok(())
        }
        fn increase_time(&self, seconds: u64) -> i64 {
            self.0.lock().push(format!("time {seconds}"));
            seconds as i64
        }
        fn set_next_timestamp(&self, ts: u64) -> Result<(), String> {
            self.0.lock().push(format!("next {ts}"));
            Ok(())
        }
        fn snapshot(&self) -> Result<u64, String> {
            Ok(7)
        }
        fn revert(&self, id: u64) -> Result<bool, String> {
            Ok(id == 7)
        }
    }

    #[test]
    fn dev_methods_are_served_only_by_a_dev_chain() {
        let chain = TestChain::new();
        let public = chain.ctx.clone().into_module();
        for m in ["anvil_mine", "hardhat_mine", "evm_snapshot", "eth_sendTransaction"] {
            assert!(public.method(m).is_none(), "{m} served without --dev");
        }
        let recorder = Arc::new(Recorder::default());
        let fresh = RpcContext::new(
            chain.spec.clone(),
            chain.chain.clone(),
            Arc::new(dbc_txpool::TxPool::new(Default::default())),
            dbc_txpool::TxValidator::new(chain.spec.clone(), chain.storage.clone()),
        );
        let module = fresh.with_dev(DevRpc::new(recorder, vec![])).into_module();
        for m in [
            "anvil_mine",
            "hardhat_mine",
            "evm_mine",
            "evm_increaseTime",
            "evm_setNextBlockTimestamp",
            "anvil_setBalance",
            "hardhat_setCode",
            "anvil_setStorageAt",
            "hardhat_setNonce",
            "anvil_impersonateAccount",
            "hardhat_stopImpersonatingAccount",
            "eth_sendTransaction",
            "evm_snapshot",
            "evm_revert",
        ] {
            assert!(module.method(m).is_some(), "{m} missing");
        }
    }

    #[tokio::test]
    async fn dev_method_parameters_reach_the_node_as_anvil_and_hardhat_send_them() {
        let chain = TestChain::new();
        let recorder = Arc::new(Recorder::default());
        let ctx = RpcContext::new(
            chain.spec.clone(),
            chain.chain.clone(),
            Arc::new(dbc_txpool::TxPool::new(Default::default())),
            dbc_txpool::TxValidator::new(chain.spec.clone(), chain.storage.clone()),
        );
        let module = ctx.with_dev(DevRpc::new(recorder.clone(), vec![])).into_module();
        let call = |m: &'static str, p: Value| {
            let module = &module;
            async move {
                let params = p.as_array().cloned().unwrap_or_default();
                module.call::<_, Value>(m, params).await
            }
        };
        call("hardhat_mine", serde_json::json!(["0x3e8", "0xc"])).await.expect("mine");
        call("anvil_mine", serde_json::json!([])).await.expect("mine one");
        call("evm_mine", serde_json::json!([{ "timestamp": 5000, "blocks": "0x2" }]))
            .await
            .expect("evm_mine");
        call("evm_increaseTime", serde_json::json!([3600])).await.expect("time");
        call("evm_setNextBlockTimestamp", serde_json::json!(["0x10"])).await.expect("next");
        let who = Address::with_last_byte(9);
        call("hardhat_setBalance", serde_json::json!([who, "0x10"])).await.expect("balance");
        call("anvil_setStorageAt", serde_json::json!([who, "0x1", "0x2"])).await.expect("slot");
        assert_eq!(
            recorder.calls(),
            [
                "mine 1000 12 None".to_string(),
                "mine 1 1 None".into(),
                "mine 2 1 Some(5000)".into(),
                "time 3600".into(),
                "next 16".into(),
                format!("{:?}", StateEdit::Balance(who, U256::from(16))),
                format!(
                    "{:?}",
                    StateEdit::Storage(who, B256::with_last_byte(1), B256::with_last_byte(2))
                ),
            ]
        );
        assert_eq!(call("evm_snapshot", serde_json::json!([])).await.expect("snap"), "0x7");
        assert_eq!(call("evm_revert", serde_json::json!(["0x7"])).await.expect("revert"), true);
        assert_eq!(call("evm_revert", serde_json::json!(["0x8"])).await.expect("revert"), false);
        // Not an unlocked or impersonated account.
        let err = call("eth_sendTransaction", serde_json::json!([{ "from": who, "to": who }]))
            .await
            .expect_err("unknown account");
        assert!(err.to_string().contains("unknown account"), "{err}");
    }
}

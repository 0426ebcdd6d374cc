//! `dbc_params` and `dbc_encodeParams`: the chain's parameters in force (the genesis ones with
//! the changes governance enacted, read from the governance precompile's state) in the genesis
//! file's JSON, and the record of a change built from them, for `proposeParams`.

use alloy_eips::BlockId;
use alloy_primitives::{B256, Bytes, U64};
use dbc_chainspec::{DbcParams, GovernanceParams, MarketParams, ParamsTarget, StakingParams};
use dbc_precompiles::{GOVERNANCE_ADDRESS, abi::IGovernance, params};
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;
use serde_json::Value;

use crate::{
    RpcContext,
    error::{RpcResult, internal, invalid_params},
};

/// One target's record in force.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamsRecord {
    /// Changes enacted so far (0: the genesis parameters).
    pub version: u32,
    /// The first block of the record in force (0 for the genesis one).
    pub effective_from: U64,
    /// keccak256 of the record (zero for the genesis one).
    pub hash: B256,
    /// The parameters as `config.dbc.<target>` of a genesis file writes them (staking without
    /// the genesis validators).
    pub params: Value,
}

/// `dbc_params`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamsJson {
    /// The block they are in force at.
    pub block: U64,
    /// `config.dbc.market` (also project mining's).
    pub market: ParamsRecord,
    /// `config.dbc.staking`.
    pub staking: ParamsRecord,
    /// `config.dbc.governance`.
    pub governance: ParamsRecord,
}

/// `dbc_` methods on the running parameters.
#[rpc(server, namespace = "dbc")]
pub trait DbcParamsApi {
    /// The market, staking and governance parameters in force at a block (default `latest`),
    /// each with its version, first block and record hash.
    #[method(name = "params", blocking)]
    fn params(&self, block: Option<BlockId>) -> RpcResult<ParamsJson>;
    /// The record `proposeParams(target, record, …)` takes for a change of `target`
    /// (`"market"`, `"staking"` or `"governance"`): the parameters in force at `block`
    /// (default: the pending block, where a proposal sent now runs) with the fields of
    /// `changes` (a JSON object in the genesis file's names and format) replacing theirs.
    /// Refused, with the precompile's message, when the checks of a change refuse it (the
    /// precompile also checks the open proposals and registered candidates).
    #[method(name = "encodeParams", blocking)]
    fn encode_params(
        &self,
        target: String,
        changes: Value,
        block: Option<BlockId>,
    ) -> RpcResult<Bytes>;
}

fn target_of(name: &str) -> RpcResult<ParamsTarget> {
    match name.to_ascii_lowercase().as_str() {
        "market" | "0" => Ok(ParamsTarget::Market),
        "staking" | "1" => Ok(ParamsTarget::Staking),
        "governance" | "2" => Ok(ParamsTarget::Governance),
        _ => Err(invalid_params(format!("unknown target {name:?}: market, staking or governance"))),
    }
}

/// `t`'s parameters in `p` as the genesis file writes them.
fn json_of(p: &DbcParams, t: ParamsTarget) -> RpcResult<Value> {
    let v = match t {
        ParamsTarget::Market => serde_json::to_value(&p.market),
        ParamsTarget::Staking => serde_json::to_value(&p.staking),
        ParamsTarget::Governance => serde_json::to_value(&p.governance),
    };
    let mut v = v.map_err(internal)?;
    if let Some(o) = v.as_object_mut() {
        o.remove("validators");
    }
    Ok(v)
}

impl RpcContext {
    /// The parameters in force at `block` (genesis, with every enacted change); with
    /// `pending_for_latest`, for `latest` (or no block) those of the pending block, where a
    /// transaction sent now runs (a change enacted in the head's hook is in force there).
    pub(crate) fn running_params(
        &self,
        block: Option<BlockId>,
        pending_for_latest: bool,
    ) -> RpcResult<(u64, DbcParams)> {
        let number = self.resolve(block)?;
        let pending = pending_for_latest
            && matches!(
                block,
                None | Some(BlockId::Number(
                    alloy_eips::BlockNumberOrTag::Latest | alloy_eips::BlockNumberOrTag::Pending
                ))
            );
        let at = if pending { None } else { Some(BlockId::number(number)) };
        let mut p = (*self.spec().dbc).clone();
        for t in params::TARGETS {
            let call = IGovernance::currentParamsCall { target: params::abi_target(t) };
            let rec = self.precompile_ok_at(GOVERNANCE_ADDRESS, call, at, pending)?;
            p = params::decode(&p, t, &rec).map_err(internal)?;
        }
        Ok((number, p))
    }
}

impl DbcParamsApiServer for RpcContext {
    fn params(&self, block: Option<BlockId>) -> RpcResult<ParamsJson> {
        let (number, p) = self.running_params(block, false)?;
        let at = Some(BlockId::number(number));
        let record = |t: ParamsTarget| -> RpcResult<ParamsRecord> {
            let call = IGovernance::paramsVersionCall { target: params::abi_target(t) };
            let v = self.precompile_ok(GOVERNANCE_ADDRESS, call, at)?;
            Ok(ParamsRecord {
                version: v.version,
                effective_from: U64::from(v.effectiveFrom),
                hash: v.paramsHash,
                params: json_of(&p, t)?,
            })
        };
        Ok(ParamsJson {
            block: U64::from(number),
            market: record(ParamsTarget::Market)?,
            staking: record(ParamsTarget::Staking)?,
            governance: record(ParamsTarget::Governance)?,
        })
    }

    fn encode_params(
        &self,
        target: String,
        changes: Value,
        block: Option<BlockId>,
    ) -> RpcResult<Bytes> {
        let t = target_of(&target)?;
        let Value::Object(changes) = changes else {
            return Err(invalid_params("changes must be a JSON object of config.dbc fields"));
        };
        let (_, current) = self.running_params(block, true)?;
        let mut merged = json_of(&current, t)?;
        let fields =
            merged.as_object_mut().ok_or_else(|| internal("parameters are not an object"))?;
        let name = params::target_name(t);
        merge_fields(fields, changes, &format!("config.dbc.{name}"))?;
        let bad = |e: serde_json::Error| invalid_params(format!("config.dbc.{name}: {e}"));
        let mut new = current.clone();
        match t {
            ParamsTarget::Market => {
                new.market = serde_json::from_value::<MarketParams>(merged).map_err(bad)?;
            }
            ParamsTarget::Staking => {
                let s = serde_json::from_value::<StakingParams>(merged).map_err(bad)?;
                new.staking = StakingParams { validators: current.staking.validators.clone(), ..s };
            }
            ParamsTarget::Governance => {
                new.governance = serde_json::from_value::<GovernanceParams>(merged).map_err(bad)?;
            }
        }
        current.check_change(&new, t).map_err(invalid_params)?;
        Ok(Bytes::from(params::encode(&new, t)))
    }
}

/// Replaces the fields of `into` that `changes` gives; a nested object (`governance.council`)
/// is merged field by field, so the fields it does not give keep their values in force.
fn merge_fields(
    into: &mut serde_json::Map<String, Value>,
    changes: serde_json::Map<String, Value>,
    path: &str,
) -> RpcResult<()> {
    for (k, v) in changes {
        let Some(slot) = into.get_mut(&k) else {
            return Err(invalid_params(format!("{path} has no field {k:?}")));
        };
        match (slot, v) {
            (Value::Object(inner), Value::Object(v)) => {
                merge_fields(inner, v, &format!("{path}.{k}"))?
            }
            (slot, v) => *slot = v,
        }
    }
    Ok(())
}

//! What transactions pay, as the `eth_` namespace suggests and reports it: the tip (the median
//! of recent blocks'), the next block's base fee, `eth_feeHistory`'s rows; and a request filled
//! into an unsigned transaction with its nonce, fees, chain id and gas (`eth_fillTransaction`,
//! the dev chain's `eth_sendTransaction`).

use crate::{
    RpcContext,
    error::{RpcResult, header_not_found, invalid_params, rpc_err},
    eth::{DEFAULT_TIP, EthApiServer, MAX_FEE_HISTORY_BLOCKS, MAX_REWARD_PERCENTILES},
};
use alloy_consensus::{
    SignableTransaction, Transaction as _, TxEip1559, TxEip2930, TxEip7702, TxLegacy,
};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Signature, TxKind, U256};
use alloy_rpc_types_eth::{FeeHistory, TransactionRequest, state::EvmOverrides};
use dbc_primitives::TxEnvelope;

impl RpcContext {
    /// `request` with its nonce, fees, chain id and gas filled in as `eth_fillTransaction`
    /// does, as an unsigned transaction, and its sender.
    pub(crate) fn fill_request(
        &self,
        mut request: TransactionRequest,
    ) -> RpcResult<(TxEnvelope, Address)> {
        let from = request.from.ok_or_else(|| invalid_params("missing from"))?;
        if request.nonce.is_none() {
            let nonce = self.transaction_count(from, Some(BlockId::pending()))?;
            request.nonce = Some(nonce.to());
        }
        let legacy = request.gas_price.is_some() && request.max_fee_per_gas.is_none();
        if !legacy {
            let tip = request.max_priority_fee_per_gas.unwrap_or_else(|| self.suggested_tip());
            request.max_priority_fee_per_gas = Some(tip);
            if request.max_fee_per_gas.is_none() {
                // Saturating: `tip` is the caller's, up to u128::MAX.
                request.max_fee_per_gas =
                    Some((2 * u128::from(self.next_base_fee())).saturating_add(tip));
            }
        }
        request.chain_id = Some(self.spec().chain_id);
        if request.gas.is_none() {
            // In the next block's context, as `eth_estimateGas` (a claim filled at the block
            // before an epoch boundary ran out of gas at the boundary).
            let mut sim = self.simulator_at(None, true, EvmOverrides::default())?;
            request.gas = Some(sim.estimate_gas(request.clone()).map_err(rpc_err)?);
        }
        Ok((build_unsigned(&request, self.spec().chain_id)?, from))
    }

    /// The tip to suggest: the median tip of recent transactions, or [`DEFAULT_TIP`].
    pub(crate) fn suggested_tip(&self) -> u128 {
        let head = self.chain().head();
        if let Some((number, tip)) = *self.tip_cache().lock()
            && number == head.number
        {
            return tip;
        }
        let tip = self.compute_suggested_tip(&head);
        *self.tip_cache().lock() = Some((head.number, tip));
        tip
    }

    fn compute_suggested_tip(&self, head: &dbc_primitives::SealedHeader) -> u128 {
        let mut tips = Vec::new();
        for n in head.number.saturating_sub(20)..=head.number {
            let Ok(Some(block)) = self.storage().block(n) else { continue };
            let base = block.header.base_fee_per_gas.unwrap_or_default();
            tips.extend(block.transactions.iter().filter_map(|t| t.effective_tip_per_gas(base)));
        }
        if tips.is_empty() {
            return DEFAULT_TIP;
        }
        tips.sort_unstable();
        tips[tips.len() / 2].max(1)
    }

    pub(crate) fn next_base_fee(&self) -> u64 {
        dbc_evm::next_base_fee(self.chain().head().inner())
    }

    /// `eth_feeHistory`: `block_count` blocks (at most [`MAX_FEE_HISTORY_BLOCKS`]) up to
    /// `newest`, with each block's tips at `percentiles` of its gas used.
    pub(crate) fn fee_history_of(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<&[f64]>,
    ) -> RpcResult<FeeHistory> {
        let count = block_count.min(MAX_FEE_HISTORY_BLOCKS);
        let newest = self.resolve_tag(newest).ok_or_else(header_not_found)?;
        if let Some(p) = percentiles {
            if p.len() > MAX_REWARD_PERCENTILES {
                return Err(invalid_params(format!(
                    "invalid reward percentile: over the query limit {MAX_REWARD_PERCENTILES}"
                )));
            }
            if p.windows(2).any(|w| w[0] > w[1]) || p.iter().any(|x| !(0.0..=100.0).contains(x)) {
                return Err(invalid_params("invalid reward percentiles"));
            }
        }
        let until = self.deadline();
        if count == 0 {
            return Ok(FeeHistory::default());
        }
        let oldest = (newest + 1).saturating_sub(count);
        let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
        let mut last_header = None;
        for n in oldest..=newest {
            Self::check_deadline(until)?;
            let block = self.stored_block(n)?.ok_or_else(header_not_found)?;
            let header = block.header.clone();
            let base = header.base_fee_per_gas.unwrap_or_default();
            history.base_fee_per_gas.push(base as u128);
            history.gas_used_ratio.push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
            history.base_fee_per_blob_gas.push(1);
            history.blob_gas_used_ratio.push(0.0);
            if let Some(percentiles) = percentiles {
                let receipts = self.storage().receipts(n).map_err(rpc_err)?.unwrap_or_default();
                let mut prev = 0u64;
                let mut txs: Vec<(u128, u64)> = block
                    .transactions
                    .iter()
                    .zip(&receipts)
                    .map(|(tx, r)| {
                        let used = r.cumulative_gas_used() - prev;
                        prev = r.cumulative_gas_used();
                        (tx.effective_tip_per_gas(base).unwrap_or_default(), used)
                    })
                    .collect();
                txs.sort_unstable_by_key(|t| t.0);
                let rewards = percentiles
                    .iter()
                    .map(|p| {
                        if txs.is_empty() {
                            return 0;
                        }
                        let threshold = (header.gas_used as f64 * p / 100.0) as u64;
                        let mut sum = 0u64;
                        for (tip, used) in &txs {
                            sum += used;
                            if sum >= threshold {
                                return *tip;
                            }
                        }
                        txs.last().map(|t| t.0).unwrap_or_default()
                    })
                    .collect();
                history.reward.get_or_insert_with(Vec::new).push(rewards);
            }
            last_header = Some(header);
        }
        if let Some(h) = last_header {
            history.base_fee_per_gas.push(dbc_evm::next_base_fee(h.inner()) as u128);
            history.base_fee_per_blob_gas.push(1);
        }
        Ok(history)
    }
}

/// Fills a request's missing fields and returns it as an unsigned typed transaction.
fn build_unsigned(req: &TransactionRequest, chain_id: u64) -> RpcResult<TxEnvelope> {
    let to = req.to.unwrap_or(TxKind::Create);
    let input = req.input.input().cloned().unwrap_or_default();
    let value = req.value.unwrap_or_default();
    let nonce = req.nonce.unwrap_or_default();
    let gas_limit = req.gas.unwrap_or_default();
    let sig = Signature::new(U256::ZERO, U256::ZERO, false);
    let access_list = req.access_list.clone().unwrap_or_default();
    let envelope = if let Some(auth) = &req.authorization_list {
        let TxKind::Call(to) = to else {
            return Err(invalid_params("EIP-7702 transactions cannot create contracts"));
        };
        TxEnvelope::Eip7702(
            TxEip7702 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: req.max_fee_per_gas.unwrap_or_default(),
                max_priority_fee_per_gas: req.max_priority_fee_per_gas.unwrap_or_default(),
                to,
                value,
                access_list,
                authorization_list: auth.clone(),
                input,
            }
            .into_signed(sig),
        )
    } else if req.max_fee_per_gas.is_some() || req.gas_price.is_none() {
        TxEnvelope::Eip1559(
            TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: req.max_fee_per_gas.unwrap_or_default(),
                max_priority_fee_per_gas: req.max_priority_fee_per_gas.unwrap_or_default(),
                to,
                value,
                access_list,
                input,
            }
            .into_signed(sig),
        )
    } else if req.access_list.is_some() {
        TxEnvelope::Eip2930(
            TxEip2930 {
                chain_id,
                nonce,
                gas_price: req.gas_price.unwrap_or_default(),
                gas_limit,
                to,
                value,
                access_list,
                input,
            }
            .into_signed(sig),
        )
    } else {
        TxEnvelope::Legacy(
            TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price: req.gas_price.unwrap_or_default(),
                gas_limit,
                to,
                value,
                input,
            }
            .into_signed(sig),
        )
    };
    Ok(envelope)
}

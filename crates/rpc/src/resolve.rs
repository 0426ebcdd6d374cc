//! A request's block: ids and tags resolved against the canonical chain, and the stored block,
//! the state and the EVM at it (every namespace reads through these).

use crate::{
    RpcContext,
    error::{RpcResult, header_not_found, rpc_err, server_error},
};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_rpc_types_eth::state::EvmOverrides;
use dbc_evm::Simulator;
use dbc_storage::HistoricalState;

impl RpcContext {
    /// Resolves a block id to a canonical block number (`None` → latest).
    pub(crate) fn resolve(&self, id: Option<BlockId>) -> RpcResult<u64> {
        let head = self.chain().head_number();
        match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Number(tag) => self.resolve_tag(tag).ok_or_else(header_not_found),
            BlockId::Hash(h) => {
                let n = self.storage().block_number(h.block_hash).map_err(rpc_err)?.ok_or_else(
                    || server_error(format!("header for hash not found: {}", h.block_hash)),
                )?;
                if n > head {
                    return Err(header_not_found());
                }
                Ok(n)
            }
        }
    }

    /// A tag to a number, `None` past the head.
    pub(crate) fn resolve_tag(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.chain().head_number();
        match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(head),
            // Proof of stake: the block with a finality proof in the chain; a single dev sealer
            // finalizes at once.
            BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => {
                Some(self.chain().finalized().unwrap_or(head).min(head))
            }
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
        }
    }

    /// The state at the end of block `id` (`None` → latest).
    pub(crate) fn state(&self, id: Option<BlockId>) -> RpcResult<HistoricalState> {
        Ok(self.storage().state_at(self.resolve(id)?))
    }

    /// The stored block `number`, if any.
    pub(crate) fn stored_block(&self, number: u64) -> RpcResult<Option<dbc_primitives::Block>> {
        self.storage().block(number).map_err(rpc_err)
    }

    /// The number of `id`: a tag or a number as [`RpcContext::resolve_tag`] gives it (`None`
    /// past the head), a hash as storage knows it (`None` if unknown).
    pub(crate) fn block_number_of(&self, id: BlockId) -> RpcResult<Option<u64>> {
        match id {
            BlockId::Number(tag) => Ok(self.resolve_tag(tag)),
            BlockId::Hash(h) => self.storage().block_number(h.block_hash).map_err(rpc_err),
        }
    }

    /// A simulator over the state at the end of block `block` (`None` → latest), in that
    /// block's own context, with `overrides`.
    pub(crate) fn simulator(
        &self,
        block: Option<BlockId>,
        overrides: EvmOverrides,
    ) -> RpcResult<Simulator<HistoricalState>> {
        let number = self.resolve(block)?;
        let header =
            self.storage().header(number).map_err(rpc_err)?.ok_or_else(header_not_found)?;
        Simulator::new(self.spec(), header.inner(), self.storage().state_at(number), overrides)
            .map(|sim| sim.with_limits(self.call_limits()))
            .map_err(rpc_err)
    }

    /// A simulator in the `pending` context: the block after the head (next number, timestamp,
    /// base fee and randomness) over the head's state, where a transaction sent now executes.
    /// The market's and mining's settlement depend on the block number, so an estimate made in
    /// the head's own context undercounts what the transaction costs one block later.
    pub(crate) fn pending_simulator(
        &self,
        overrides: EvmOverrides,
    ) -> RpcResult<Simulator<HistoricalState>> {
        let head = self.chain().head();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let header = dbc_evm::pending_header(&head, now);
        Simulator::new(self.spec(), &header, self.storage().state_at(head.number), overrides)
            .map(|sim| sim.with_limits(self.call_limits()))
            .map_err(rpc_err)
    }

    /// `pending_simulator` for `pending`, else the block's own context.
    pub(crate) fn simulator_at(
        &self,
        block: Option<BlockId>,
        pending_for_latest: bool,
        overrides: EvmOverrides,
    ) -> RpcResult<Simulator<HistoricalState>> {
        let pending = match block {
            Some(BlockId::Number(BlockNumberOrTag::Pending)) => true,
            None | Some(BlockId::Number(BlockNumberOrTag::Latest)) => pending_for_latest,
            _ => false,
        };
        if pending { self.pending_simulator(overrides) } else { self.simulator(block, overrides) }
    }
}

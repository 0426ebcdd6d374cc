//! Dev-chain support for `anvil_*` methods: state edits applied at the start of a block
//! (`anvil_setBalance` and friends) and empty blocks built without executing anything when
//! executing them could not change the state (`anvil_mine`).

use crate::{
    BlockAttributes, ExecutedBlock,
    builder::{Roots, header_after, next_evm_env},
};
use alloy_consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy_eips::eip7685::Requests;
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use dbc_chainspec::ChainSpec;
use dbc_primitives::{Block, KECCAK_EMPTY, ReceiptEnvelope, Sealable, SealedHeader, TxEnvelope};
use dbc_storage::{StateChangeset, StateReader};

/// One dev-chain state edit, applied before a block's transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateEdit {
    /// Sets an account's balance (creating the account).
    Balance(Address, U256),
    /// Sets an account's nonce (creating the account).
    Nonce(Address, u64),
    /// Sets an account's code (empty: removes it), keeping its storage.
    Code(Address, Bytes),
    /// Sets one storage slot of an existing (non-empty) account.
    Storage(Address, B256, B256),
}

impl StateEdit {
    /// The account edited.
    pub fn address(&self) -> Address {
        match self {
            Self::Balance(a, _) | Self::Nonce(a, _) | Self::Code(a, _) | Self::Storage(a, ..) => *a,
        }
    }
}

/// Contracts whose presence gives every block a state change of its own (the history and
/// beacon-root system contracts, EIP-2935/4788, and the request contracts, EIP-7002/7251).
const SYSTEM_CONTRACTS: [Address; 4] = [
    alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
    alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
    alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
    alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
];

/// Builds empty blocks that change no state without executing them: a block with no
/// transactions, no edits and no staking hook changes nothing when no system contract is
/// deployed and the market's hook has nothing due ([`dbc_precompiles::idle_hook_slots`]). Such a
/// block is exactly what executing it would give (`idle_blocks_equal_executed_empty_blocks`
/// proves it); any other block must be built by [`crate::build_block`].
#[derive(Debug, Clone, Copy)]
pub struct IdleBlocks {
    possible: bool,
}

impl IdleBlocks {
    /// Checks, once, the conditions that hold for a whole run of idle blocks on `state` (no
    /// system contract, the market's hook caught up). Make a new one after any other block.
    pub fn new<R: StateReader>(state: &R) -> dbc_storage::Result<Self> {
        for address in SYSTEM_CONTRACTS {
            if state.account(address)?.is_some_and(|a| a.code_hash != KECCAK_EMPTY) {
                return Ok(Self { possible: false });
            }
        }
        let [cursor, _] = dbc_precompiles::idle_hook_slots(0);
        let caught_up =
            state.storage(dbc_precompiles::MARKET_ADDRESS, B256::from(cursor))?.is_zero();
        Ok(Self { possible: caught_up })
    }

    /// The empty block after `parent` with `attrs`, if executing it would change nothing on
    /// `state` (the parent's state); `None`: build it with [`crate::build_block`].
    pub fn block_after<R: StateReader>(
        &self,
        spec: &ChainSpec,
        parent: &SealedHeader,
        state: &R,
        attrs: BlockAttributes,
    ) -> dbc_storage::Result<Option<ExecutedBlock>> {
        if !self.possible || attrs.staking_hook.is_some() {
            return Ok(None);
        }
        // The cursor was checked in `new`; an idle block does not move it.
        let [_, due] = dbc_precompiles::idle_hook_slots(parent.number + 1);
        if !state.storage(dbc_precompiles::MARKET_ADDRESS, B256::from(due))?.is_zero() {
            return Ok(None);
        }
        // Proposals counted or enacted at the end of the block.
        for due in dbc_precompiles::governance::idle_hook_slots(parent.number + 1) {
            if !state.storage(dbc_precompiles::GOVERNANCE_ADDRESS, B256::from(due))?.is_zero() {
                return Ok(None);
            }
        }
        // The council election at the end of the term.
        let term_end = B256::from(U256::from(dbc_chainspec::GOVERNANCE_TERM_END_SLOT));
        let term_end = state.storage(dbc_precompiles::GOVERNANCE_ADDRESS, term_end)?;
        if !term_end.is_zero() && term_end <= U256::from(parent.number + 1) {
            return Ok(None);
        }
        let base_fee = next_evm_env(spec, parent, &attrs).block_env.basefee;
        let roots = Roots {
            state_root: parent.state_root,
            transactions_root: calculate_transaction_root::<TxEnvelope>(&[]),
            receipts_root: calculate_receipt_root::<ReceiptEnvelope>(&[]),
            logs_bloom: Bloom::ZERO,
            gas_used: 0,
            requests_hash: Requests::default().requests_hash(),
        };
        let header = header_after(spec, parent, attrs, base_fee, roots);
        Ok(Some(ExecutedBlock {
            block: Block { header: header.seal_slow(), transactions: vec![], senders: vec![] },
            receipts: vec![],
            hook_logs: vec![],
            changes: StateChangeset::default(),
            rejected: vec![],
            timings: Default::default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TxList, build_block, test_state::MemState as Mem};
    use alloy_primitives::keccak256;
    use dbc_primitives::StoredAccount;

    fn attrs(timestamp: u64) -> BlockAttributes {
        BlockAttributes {
            timestamp,
            beneficiary: Address::with_last_byte(0xbe),
            extra_data: Bytes::from_static(b"dbc-node dev"),
            gas_limit: 60_000_000,
            staking_hook: None,
            prev_randao: None,
        }
    }

    #[test]
    fn idle_blocks_equal_executed_empty_blocks() {
        let spec = ChainSpec::dev(10).expect("spec");
        let state = Mem::genesis(&spec);
        let mut trie = state.trie();
        let genesis = spec.genesis_header().seal_slow();
        assert_eq!(trie.root(), genesis.state_root, "the test trie is the genesis trie");
        let idle = IdleBlocks::new(&state).expect("read");
        let (mut executed_parent, mut idle_parent) = (genesis.clone(), genesis);
        for i in 1..=5u64 {
            // Executed: the market hook and every system call run; nothing changes.
            let executed = build_block(
                &spec,
                &executed_parent,
                &state,
                attrs(1000 + 12 * i),
                &mut TxList::default(),
                &mut trie,
            )
            .expect("build");
            assert!(
                executed.changes.accounts.is_empty(),
                "block {i} changed {:?}",
                executed.changes
            );
            let fast = idle
                .block_after(&spec, &idle_parent, &state, attrs(1000 + 12 * i))
                .expect("read")
                .expect("idle");
            assert_eq!(fast.block.header.inner(), executed.block.header.inner(), "block {i}");
            assert_eq!(fast.block.hash(), executed.block.hash());
            executed_parent = executed.block.header;
            idle_parent = fast.block.header;
        }
    }

    #[test]
    fn blocks_with_work_due_or_system_contracts_are_not_idle() {
        let spec = ChainSpec::dev(10).expect("spec");
        let genesis = spec.genesis_header().seal_slow();
        let mut state = Mem::genesis(&spec);
        let idle = IdleBlocks::new(&state).expect("read");
        assert!(idle.block_after(&spec, &genesis, &state, attrs(1)).expect("read").is_some());
        // A staking hook is work.
        let mut with_hook = attrs(1);
        with_hook.staking_hook = Some((Address::ZERO, vec![]));
        assert!(idle.block_after(&spec, &genesis, &state, with_hook).expect("read").is_none());
        // An item due in the market's queue at block 1, or a cursor behind, is work.
        for slot in dbc_precompiles::idle_hook_slots(1) {
            let mut busy = state.clone();
            busy.storage.insert((dbc_precompiles::MARKET_ADDRESS, B256::from(slot)), U256::from(1));
            let idle = IdleBlocks::new(&busy).expect("read");
            assert!(idle.block_after(&spec, &genesis, &busy, attrs(1)).expect("read").is_none());
        }
        // So is a proposal counted or enacted at block 1.
        for slot in dbc_precompiles::governance::idle_hook_slots(1) {
            let mut busy = state.clone();
            let key = (dbc_precompiles::GOVERNANCE_ADDRESS, B256::from(slot));
            busy.storage.insert(key, U256::from(1));
            let idle = IdleBlocks::new(&busy).expect("read");
            assert!(idle.block_after(&spec, &genesis, &busy, attrs(1)).expect("read").is_none());
        }
        // So is the council election at the end of a term (genesis sets the first one's block),
        // and a term end passed without one.
        let end = B256::from(U256::from(dbc_chainspec::GOVERNANCE_TERM_END_SLOT));
        let key = (dbc_precompiles::GOVERNANCE_ADDRESS, end);
        assert_eq!(state.storage.get(&key), Some(&U256::from(1_752_000)), "set in genesis");
        for at in [1u64, 0] {
            let mut busy = state.clone();
            busy.storage.insert(key, U256::from(at));
            let idle = IdleBlocks::new(&busy).expect("read");
            let built = idle.block_after(&spec, &genesis, &busy, attrs(1)).expect("read");
            assert_eq!(built.is_none(), at == 1, "term end {at}");
        }
        // A deployed system contract changes state in every block.
        state.accounts.insert(
            alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
            StoredAccount { nonce: 1, balance: U256::ZERO, code_hash: keccak256([0x00]) },
        );
        let idle = IdleBlocks::new(&state).expect("read");
        assert!(idle.block_after(&spec, &genesis, &state, attrs(1)).expect("read").is_none());
    }

    #[test]
    fn edits_are_changes_of_their_block() {
        let spec = ChainSpec::dev(10).expect("spec");
        let state = Mem::genesis(&spec);
        let mut trie = state.trie();
        let genesis = spec.genesis_header().seal_slow();
        let who = Address::with_last_byte(0x77);
        let code = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55, 0x00]);
        let edits = [
            StateEdit::Balance(who, U256::from(5)),
            StateEdit::Nonce(who, 9),
            StateEdit::Code(who, code.clone()),
            StateEdit::Storage(who, B256::with_last_byte(1), B256::with_last_byte(2)),
        ];
        let executed = crate::build_block_with_edits(
            &spec,
            &genesis,
            &state,
            attrs(1),
            &edits,
            &mut TxList::default(),
            &mut trie,
        )
        .expect("build");
        let change = executed.changes.accounts.iter().find(|c| c.address == who).expect("changed");
        let after = change.after.expect("exists");
        assert_eq!(
            (after.balance, after.nonce, after.code_hash),
            (U256::from(5), 9, keccak256(&code))
        );
        assert_eq!(change.storage.len(), 1);
        assert_eq!(change.storage[0].after, U256::from(2));
        assert!(
            executed.changes.bytecodes.iter().any(|(h, c)| *h == keccak256(&code) && *c == code)
        );
        assert_ne!(executed.block.header.state_root, genesis.state_root);
        // Setting the balance to zero of an account with nothing else deletes it (EIP-161).
        let gone = Address::with_last_byte(0x78);
        let executed = crate::build_block_with_edits(
            &spec,
            &genesis,
            &state,
            attrs(1),
            &[StateEdit::Balance(gone, U256::ZERO)],
            &mut TxList::default(),
            &mut state.trie(),
        )
        .expect("build");
        assert!(executed.changes.accounts.iter().all(|c| c.address != gone));
        assert_eq!(executed.block.header.state_root, genesis.state_root);
    }
}

//! In-process tests of the RPC: a dev chain on a temporary database, blocks built and committed
//! (and unwound) by hand, methods called on [`RpcContext`] directly, and the servers on
//! loopback ports for what happens on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chain;
mod params_props;
mod proofs;
mod server;

use crate::{EthApiServer, RpcContext};
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, Bytes, Sealable, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use dbc_chainspec::{ChainSpec, dev_signers};
use dbc_evm::{BlockAttributes, TxList, build_block};
use dbc_primitives::{Block, Recovered, SealedHeader, TxEnvelope};
use dbc_storage::{AccountChange, CanonChain, SlotChange, StateChangeset, Storage};
use dbc_trie::{AccountLeaf, AccountUpdate, StateTrie};
use dbc_txpool::{PoolConfig, TxPool, TxValidator};
use std::sync::Arc;

/// A dev chain that tests drive block by block.
pub(crate) struct TestChain {
    _dir: tempfile::TempDir,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) storage: Storage,
    pub(crate) chain: Arc<CanonChain>,
    pub(crate) ctx: RpcContext,
    trie: StateTrie,
    key: PrivateKeySigner,
    nonce: u64,
    /// Added to block timestamps, so a re-built block differs from the one it replaces.
    pub(crate) time_shift: u64,
}

fn trie_of(storage: &Storage) -> StateTrie {
    let mut trie = StateTrie::new();
    let mut updates = Vec::new();
    storage
        .for_each_account(|address, account, slots| {
            let info = AccountLeaf {
                nonce: account.nonce,
                balance: account.balance,
                code_hash: account.code_hash,
            };
            let storage = slots.into_iter().map(|(k, v)| (U256::from_be_bytes(k.0), v)).collect();
            updates
                .push((address, AccountUpdate { info: Some(info), storage, ..Default::default() }));
        })
        .unwrap();
    trie.apply(updates).unwrap();
    trie
}

impl TestChain {
    /// The dev genesis, nothing else.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec = Arc::new(ChainSpec::dev(10).unwrap());
        let storage = Storage::open(dir.path().join("db")).unwrap();
        let mut changes = StateChangeset::default();
        for acc in spec.genesis_accounts() {
            if let Some(code) = &acc.code {
                changes.bytecodes.push((acc.account.code_hash, code.clone()));
            }
            changes.accounts.push(AccountChange {
                address: acc.address,
                before: None,
                after: Some(acc.account),
                wiped: false,
                storage: acc
                    .storage
                    .iter()
                    .map(|(k, v)| SlotChange { slot: *k, before: U256::ZERO, after: *v })
                    .collect(),
            });
        }
        let genesis = Block {
            header: spec.genesis_header().seal_slow(),
            transactions: vec![],
            senders: vec![],
        };
        storage.commit_block(&genesis, &[], &changes).unwrap();
        // The genesis state's trie stored, as the node stores it.
        let mut trie = trie_of(&storage);
        storage.write_trie(&trie.take_updates()).unwrap();
        let head = storage.header(0).unwrap().unwrap();
        let chain = Arc::new(CanonChain::new(storage.clone(), head));
        let pool = Arc::new(TxPool::new(PoolConfig::default()));
        let validator = TxValidator::new(spec.clone(), storage.clone());
        let ctx = RpcContext::new(spec.clone(), chain.clone(), pool, validator);
        let key = dev_signers(1).unwrap().remove(0);
        Self { _dir: dir, spec, storage, chain, ctx, trie, key, nonce: 0, time_shift: 0 }
    }

    pub(crate) fn head(&self) -> SealedHeader {
        self.chain.head()
    }

    /// A signed transaction from dev account 0.
    pub(crate) fn tx(&mut self, to: TxKind, input: Bytes) -> Recovered<TxEnvelope> {
        let tx = TxEip1559 {
            chain_id: self.spec.chain_id,
            nonce: self.nonce,
            gas_limit: 1_000_000,
            max_fee_per_gas: 50_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::ZERO,
            input,
            ..Default::default()
        };
        self.nonce += 1;
        let sig = self.key.sign_hash_sync(&tx.signature_hash()).unwrap();
        Recovered::new_unchecked(TxEnvelope::Eip1559(tx.into_signed(sig)), self.key.address())
    }

    /// A contract creation whose constructor emits `LOG1(topic)` with no data.
    pub(crate) fn log_tx(&mut self, topic: u8) -> Recovered<TxEnvelope> {
        // PUSH1 topic PUSH1 0 PUSH1 0 LOG1 STOP
        let code = Bytes::from(vec![0x60, topic, 0x60, 0x00, 0x60, 0x00, 0xa1, 0x00]);
        self.tx(TxKind::Create, code)
    }

    /// Builds, commits and announces the next block with `txs`.
    pub(crate) fn commit(&mut self, txs: Vec<Recovered<TxEnvelope>>) -> Block {
        let parent = self.head();
        let attrs = BlockAttributes {
            timestamp: parent.timestamp + 1 + self.time_shift,
            beneficiary: Address::ZERO,
            extra_data: Bytes::new(),
            gas_limit: self.spec.genesis.gas_limit,
            staking_hook: None,
            prev_randao: None,
        };
        let executed = build_block(
            &self.spec,
            &parent,
            self.storage.latest(),
            attrs,
            &mut TxList::new(txs),
            &mut self.trie,
        )
        .unwrap();
        assert!(executed.rejected.is_empty(), "{:?}", executed.rejected);
        self.storage
            .commit_executed(
                &executed.block,
                &executed.receipts,
                &executed.hook_logs,
                &executed.changes,
                Some(&self.trie.take_updates()),
            )
            .unwrap();
        self.chain.on_committed(executed.block.clone(), executed.receipts);
        executed.block
    }

    /// Unwinds the head block (as fork choice does) and tells the chain.
    pub(crate) fn unwind(&mut self) {
        let removed = self.storage.block(self.head().number).unwrap().unwrap();
        let head = self.storage.unwind_head().unwrap();
        // The trie of the new head, stored (as fork choice leaves it).
        self.trie = trie_of(&self.storage);
        self.storage.write_trie(&self.trie.take_updates()).unwrap();
        self.nonce -= removed.transactions.len() as u64;
        self.chain.on_unwound(head);
    }
}

/// `eth_call` of `request` at latest, as the RPC answers it.
pub(crate) fn call(
    ctx: &RpcContext,
    request: alloy_rpc_types_eth::TransactionRequest,
    overrides: Option<alloy_rpc_types_eth::state::StateOverride>,
) -> Result<Bytes, jsonrpsee::types::ErrorObjectOwned> {
    EthApiServer::call(ctx, request, None, overrides, None)
}

#[test]
fn l8_ots_pages_never_slice_past_what_was_read() {
    use crate::ots::page;
    // The receipts of an unwound block read as empty while its transactions were read before.
    let none: [u8; 0] = [];
    assert_eq!(page(&none, 0, 2), Vec::<u8>::new());
    assert_eq!(page(&[1, 2, 3], 1, 3), vec![2, 3]);
    assert_eq!(page(&[1, 2, 3], 2, 9), vec![3]);
    assert_eq!(page(&[1], 5, 9), Vec::<u8>::new());
    assert_eq!(page(&[1, 2], 2, 1), Vec::<u8>::new());
}

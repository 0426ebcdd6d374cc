//! The market precompile inside real revm (through `dbc_evm::factory`): DELEGATECALL,
//! CALLCODE and STATICCALL from contracts, reverts with the interface's custom errors, and
//! value sent to a view.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_rpc_types_eth::{TransactionRequest, state::EvmOverrides};
use alloy_sol_types::{SolCall, SolError};
use dbc_chainspec::{ChainSpec, MARKET_ADDRESS};
use dbc_evm::{SimError, Simulator};
use dbc_precompiles::abi::IGpuMarket;
use dbc_primitives::StoredAccount;
use dbc_storage::StateReader;
use std::collections::HashMap;

#[derive(Debug, Default)]
struct Mem {
    accounts: HashMap<Address, StoredAccount>,
    storage: HashMap<(Address, B256), U256>,
    code: HashMap<B256, Bytes>,
}

impl StateReader for Mem {
    fn account(&self, address: Address) -> dbc_storage::Result<Option<StoredAccount>> {
        Ok(self.accounts.get(&address).cloned())
    }
    fn storage(&self, address: Address, slot: B256) -> dbc_storage::Result<U256> {
        Ok(self.storage.get(&(address, slot)).copied().unwrap_or_default())
    }
    fn code(&self, code_hash: B256) -> dbc_storage::Result<Option<Bytes>> {
        Ok(self.code.get(&code_hash).cloned())
    }
    fn block_hash(&self, _number: u64) -> dbc_storage::Result<Option<B256>> {
        Ok(None)
    }
}

/// Forwards its calldata to 0x…0D01 with `op` (DELEGATECALL, STATICCALL or CALLCODE) and
/// returns or reverts with the answer.
fn forwarder(op: u8) -> Bytes {
    let mut code = vec![0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f];
    if op == 0xf2 {
        code.push(0x5f); // value 0
    }
    code.extend_from_slice(&[0x61, 0x0d, 0x01, 0x5a, op, 0x3d, 0x5f, 0x5f, 0x3e]);
    let dest = code.len() as u8 + 6;
    code.extend_from_slice(&[0x60, dest, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d, 0x5f, 0xf3]);
    code.into()
}

const DELEGATE: Address = address!("0x00000000000000000000000000000000000de1e9");
const STATIC: Address = address!("0x00000000000000000000000000000000000057a7");
const CALLCODE: Address = address!("0x00000000000000000000000000000000000000cc");
const USER: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

fn setup() -> (ChainSpec, Mem) {
    let mut spec = ChainSpec::dev(10).unwrap();
    for (a, op) in [(DELEGATE, 0xf4), (STATIC, 0xfa), (CALLCODE, 0xf2)] {
        spec.genesis.alloc.insert(
            a,
            alloy_genesis::GenesisAccount { code: Some(forwarder(op)), ..Default::default() },
        );
    }
    let mut mem = Mem::default();
    for g in spec.genesis_accounts() {
        if let Some(code) = g.code {
            mem.code.insert(keccak256(&code), code);
        }
        for (k, v) in g.storage {
            mem.storage.insert((g.address, k), v);
        }
        mem.accounts.insert(g.address, g.account);
    }
    (spec, mem)
}

fn call(to: Address, value: U256, data: Vec<u8>) -> Result<Bytes, Bytes> {
    let (spec, mem) = setup();
    let header = spec.genesis_header();
    let mut sim = Simulator::new(&spec, &header, mem, EvmOverrides::default()).unwrap();
    let request = TransactionRequest::default()
        .from(USER)
        .to(to)
        .value(value)
        .input(Bytes::from(data).into());
    match sim.call(request) {
        Ok(out) => Ok(out.output),
        Err(SimError::Revert { output }) => Err(output),
        Err(e) => panic!("unexpected: {e}"),
    }
}

#[test]
fn direct_calls_reach_the_market() {
    let out =
        call(MARKET_ADDRESS, U256::ZERO, IGpuMarket::burnRateBpsCall {}.abi_encode()).unwrap();
    assert_eq!(IGpuMarket::burnRateBpsCall::abi_decode_returns(&out).unwrap(), 3_000);
    // A write with too little stake reverts with data that decodes with the interface.
    let e = call(MARKET_ADDRESS, U256::from(1), IGpuMarket::joinCommitteeCall {}.abi_encode())
        .unwrap_err();
    let err = IGpuMarket::WrongStake::abi_decode(&e).unwrap();
    assert_eq!(err.sent, U256::from(1));
    // Value to a view.
    let e = call(MARKET_ADDRESS, U256::from(1), IGpuMarket::burnRateBpsCall {}.abi_encode())
        .unwrap_err();
    assert!(IGpuMarket::NotPayable::abi_decode(&e).is_ok());
}

#[test]
fn delegatecall_and_callcode_are_refused() {
    for via in [DELEGATE, CALLCODE] {
        for data in [
            IGpuMarket::joinCommitteeCall {}.abi_encode(),
            IGpuMarket::burnRateBpsCall {}.abi_encode(),
        ] {
            let e = call(via, U256::ZERO, data).unwrap_err();
            assert!(IGpuMarket::DelegateCallNotAllowed::abi_decode(&e).is_ok(), "via {via}: {e}");
        }
    }
}

#[test]
fn static_calls_read_but_never_write() {
    let out = call(STATIC, U256::ZERO, IGpuMarket::burnRateBpsCall {}.abi_encode()).unwrap();
    assert_eq!(IGpuMarket::burnRateBpsCall::abi_decode_returns(&out).unwrap(), 3_000);
    let e = call(STATIC, U256::ZERO, IGpuMarket::leaveCommitteeCall {}.abi_encode()).unwrap_err();
    assert!(IGpuMarket::StaticCallWrite::abi_decode(&e).is_ok(), "{e}");
}

#[test]
fn the_block_hook_cannot_be_called_by_users() {
    let e = call(MARKET_ADDRESS, U256::ZERO, dbc_precompiles::hook_calldata(U256::ZERO).to_vec())
        .unwrap_err();
    assert!(IGpuMarket::UnknownSelector::abi_decode(&e).is_ok());
}

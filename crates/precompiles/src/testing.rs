//! An in-memory [`Host`] and a driver for tests: one call is one transaction (state rolls back
//! on revert), [`MockChain::next_block`] runs the block hook.
#![allow(missing_docs, unreachable_pub, clippy::unwrap_used)]

use crate::{
    Call, HOOK_SELECTOR, Host, HostError, MARKET_ADDRESS, Outcome, SYSTEM_ADDRESS, StoreInfo,
    execute, hook_calldata,
};
use alloy_primitives::{Address, B256, Bytes, LogData, U256, keccak256};
use dbc_chainspec::MarketParams;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Default)]
struct State {
    storage: HashMap<(Address, U256), U256>,
    balances: HashMap<Address, U256>,
    logs: Vec<(Address, LogData)>,
    burned: U256,
}

/// In-memory chain state with the market at [`MARKET_ADDRESS`].
#[derive(Debug, Clone, Default)]
pub struct MockChain {
    state: State,
    originals: HashMap<(Address, U256), U256>,
    warm: HashSet<(Address, U256)>,
    snapshots: Vec<State>,
    pub number: u64,
    pub params: MarketParams,
    pub staking: dbc_chainspec::StakingParams,
    /// The genesis supply and governance parameters staking and governance calls see (10 B DBC
    /// and the defaults unless a test changes them).
    pub genesis_supply: U256,
    pub governance: dbc_chainspec::GovernanceParams,
    /// Logs of the last call.
    pub last_logs: Vec<LogData>,
    /// Logs of the last governance call with the emitting account.
    pub last_logs_from: Vec<(Address, LogData)>,
    pub last_gas: u64,
    /// Origin of the current transaction.
    pub origin: Address,
}

impl Host for MockChain {
    fn sload(&mut self, account: Address, key: U256) -> Result<(U256, bool), HostError> {
        let cold = self.warm.insert((account, key));
        Ok((self.state.storage.get(&(account, key)).copied().unwrap_or_default(), cold))
    }
    fn sstore(&mut self, account: Address, key: U256, value: U256) -> Result<StoreInfo, HostError> {
        let cold = self.warm.insert((account, key));
        let present = self.state.storage.get(&(account, key)).copied().unwrap_or_default();
        let original = *self.originals.entry((account, key)).or_insert(present);
        self.state.storage.insert((account, key), value);
        Ok(StoreInfo { original, present, cold })
    }
    fn log(&mut self, account: Address, data: LogData) {
        self.state.logs.push((account, data));
    }
    fn pay_from(&mut self, from: Address, to: Address, amount: U256) -> Result<(), HostError> {
        let m = self.state.balances.entry(from).or_default();
        *m = m.checked_sub(amount).ok_or(HostError::Balance(amount))?;
        *self.state.balances.entry(to).or_default() += amount;
        Ok(())
    }
    fn mint(&mut self, to: Address, amount: U256) -> Result<(), HostError> {
        *self.state.balances.entry(to).or_default() += amount;
        Ok(())
    }

    fn balance(&mut self, account: Address) -> Result<U256, HostError> {
        Ok(self.state.balances.get(&account).copied().unwrap_or_default())
    }

    fn burn_from(&mut self, from: Address, amount: U256) -> Result<(), HostError> {
        let m = self.state.balances.entry(from).or_default();
        *m = m.checked_sub(amount).ok_or(HostError::Balance(amount))?;
        self.state.burned += amount;
        Ok(())
    }
    fn block_number(&self) -> u64 {
        self.number
    }
    fn randomness(&self) -> B256 {
        keccak256(self.number.to_be_bytes())
    }
    fn origin(&self) -> Address {
        self.origin
    }
    fn block_hash(&mut self, number: u64) -> Result<B256, HostError> {
        let now = self.number;
        Ok(if number < now && now - number <= 256 {
            keccak256([b"block".as_slice(), &number.to_be_bytes()].concat())
        } else {
            B256::ZERO
        })
    }
    fn checkpoint(&mut self) {
        self.snapshots.push(self.state.clone());
    }
    fn commit(&mut self) {
        self.snapshots.pop();
    }
    fn revert(&mut self) {
        if let Some(s) = self.snapshots.pop() {
            self.state = s;
        }
    }
}

/// Result of a mock transaction.
pub type TxResult = Result<Bytes, Bytes>;

impl MockChain {
    pub fn new(params: MarketParams) -> Self {
        let mut c = Self {
            params,
            number: 1,
            genesis_supply: U256::from(10_000_000_000u64) * U256::from(dbc_chainspec::DBC),
            ..Default::default()
        };
        let pool = c.params.reward_pool;
        c.state.balances.insert(MARKET_ADDRESS, pool);
        c
    }

    /// The chain's parameters as genesis sets them.
    pub fn genesis_params(&self) -> std::sync::Arc<dbc_chainspec::DbcParams> {
        std::sync::Arc::new(dbc_chainspec::DbcParams {
            market: self.params.clone(),
            staking: self.staking.clone(),
            genesis_supply: self.genesis_supply,
            governance: self.governance.clone(),
            ..Default::default()
        })
    }

    /// The parameters in force (genesis, with the changes governance enacted), as every
    /// precompile of the EVM loads them.
    pub fn running(&mut self) -> std::sync::Arc<dbc_chainspec::DbcParams> {
        let genesis = self.genesis_params();
        crate::params::running(self, &genesis).expect("parameters in force")
    }

    pub fn balance(&self, a: Address) -> U256 {
        self.state.balances.get(&a).copied().unwrap_or_default()
    }

    pub fn fund(&mut self, a: Address, amount: U256) {
        *self.state.balances.entry(a).or_default() += amount;
    }

    /// A storage slot of `account`.
    pub fn storage_at(&self, account: Address, key: U256) -> U256 {
        self.state.storage.get(&(account, key)).copied().unwrap_or_default()
    }

    /// Overwrites a storage slot (tests that need a state the ABI cannot reach).
    pub fn set_storage(&mut self, account: Address, key: U256, value: U256) {
        self.state.storage.insert((account, key), value);
    }

    pub fn burned(&self) -> U256 {
        self.state.burned
    }

    /// Runs one transaction `who → market` with `value` and calldata.
    pub fn tx(&mut self, who: Address, value: U256, data: &[u8]) -> TxResult {
        self.tx_with(who, value, data, false, true, 30_000_000)
    }

    pub fn tx_with(
        &mut self,
        who: Address,
        value: U256,
        data: &[u8],
        is_static: bool,
        direct: bool,
        gas: u64,
    ) -> TxResult {
        let before = self.state.clone();
        self.origin = who;
        self.originals.clear();
        self.warm.clear();
        let logs_before = self.state.logs.len();
        // Like revm: the value moves to the precompile before it runs.
        let from = self.state.balances.entry(who).or_default();
        assert!(*from >= value, "test account underfunded");
        *from -= value;
        *self.state.balances.entry(MARKET_ADDRESS).or_default() += value;
        let p = self.running();
        let out =
            execute(self, &p.market, Call { data, caller: who, value, is_static, direct, gas });
        match out {
            Outcome::Success { gas, output } => {
                self.last_gas = gas;
                self.last_logs =
                    self.state.logs[logs_before..].iter().map(|(_, l)| l.clone()).collect();
                Ok(output)
            }
            Outcome::Revert { gas, output } => {
                self.last_gas = gas;
                self.state = before;
                Err(output)
            }
            Outcome::OutOfGas => {
                self.state = before;
                Err(Bytes::from_static(b"out of gas"))
            }
            Outcome::Fatal(e) => panic!("fatal: {e}"),
        }
    }

    /// Runs one call `who → governance` (`0x…0D04`) with `value`; `is_static` for a static
    /// call. Logs of every account are kept in `last_logs` with their address in
    /// `last_logs_from`.
    pub fn tx_governance(
        &mut self,
        who: Address,
        value: U256,
        data: &[u8],
        is_static: bool,
        direct: bool,
    ) -> TxResult {
        let before = self.state.clone();
        self.origin = who;
        self.originals.clear();
        self.warm.clear();
        let logs_before = self.state.logs.len();
        let from = self.state.balances.entry(who).or_default();
        assert!(*from >= value, "test account underfunded");
        *from -= value;
        *self.state.balances.entry(crate::GOVERNANCE_ADDRESS).or_default() += value;
        let params = self.running();
        let call = Call { data, caller: who, value, is_static, direct, gas: 30_000_000 };
        match crate::governance::execute(self, &params, call) {
            Outcome::Success { gas, output } => {
                self.last_gas = gas;
                self.last_logs_from = self.state.logs[logs_before..].to_vec();
                self.last_logs = self.last_logs_from.iter().map(|(_, l)| l.clone()).collect();
                Ok(output)
            }
            Outcome::Revert { gas, output } => {
                self.last_gas = gas;
                self.state = before;
                Err(output)
            }
            Outcome::OutOfGas => {
                self.state = before;
                Err(Bytes::from_static(b"out of gas"))
            }
            Outcome::Fatal(e) => panic!("fatal: {e}"),
        }
    }

    /// Runs one transaction `who → project mining` (non-payable).
    pub fn tx_mining(&mut self, who: Address, data: &[u8]) -> TxResult {
        let before = self.state.clone();
        self.origin = who;
        self.originals.clear();
        self.warm.clear();
        let logs_before = self.state.logs.len();
        let call = Call {
            data,
            caller: who,
            value: U256::ZERO,
            is_static: false,
            direct: true,
            gas: 30_000_000,
        };
        let p = self.running();
        match crate::mining::execute(self, &p.market, call) {
            Outcome::Success { gas, output } => {
                self.last_gas = gas;
                self.last_logs =
                    self.state.logs[logs_before..].iter().map(|(_, l)| l.clone()).collect();
                Ok(output)
            }
            Outcome::Revert { gas, output } => {
                self.last_gas = gas;
                self.state = before;
                Err(output)
            }
            Outcome::OutOfGas => {
                self.state = before;
                Err(Bytes::from_static(b"out of gas"))
            }
            Outcome::Fatal(e) => panic!("fatal: {e}"),
        }
    }

    /// Runs one transaction `who → staking` with `value`.
    pub fn tx_staking(&mut self, who: Address, value: U256, data: &[u8]) -> TxResult {
        self.tx_staking_with(who, value, data, false, true)
    }

    pub fn tx_staking_with(
        &mut self,
        who: Address,
        value: U256,
        data: &[u8],
        is_static: bool,
        direct: bool,
    ) -> TxResult {
        let before = self.state.clone();
        self.origin = who;
        self.originals.clear();
        self.warm.clear();
        let logs_before = self.state.logs.len();
        let from = self.state.balances.entry(who).or_default();
        assert!(*from >= value, "test account underfunded");
        *from -= value;
        *self.state.balances.entry(crate::STAKING_ADDRESS).or_default() += value;
        let params = self.running();
        let call = Call { data, caller: who, value, is_static, direct, gas: 30_000_000 };
        match crate::staking::execute(self, &params, call) {
            Outcome::Success { gas, output } => {
                self.last_gas = gas;
                self.last_logs =
                    self.state.logs[logs_before..].iter().map(|(_, l)| l.clone()).collect();
                Ok(output)
            }
            Outcome::Revert { gas, output } => {
                self.last_gas = gas;
                self.state = before;
                Err(output)
            }
            Outcome::OutOfGas => {
                self.state = before;
                Err(Bytes::from_static(b"out of gas"))
            }
            Outcome::Fatal(e) => panic!("fatal: {e}"),
        }
    }

    /// Advances one block sealed by `proposer` after `missed` skipped their slots, running the
    /// staking hook only.
    pub fn staking_block(&mut self, proposer: Address, missed: Vec<Address>) {
        self.number += 1;
        let data = crate::staking::hook_calldata(proposer, missed);
        self.tx_staking(SYSTEM_ADDRESS, U256::ZERO, &data).unwrap();
    }

    /// Advances one block and runs the block hook.
    pub fn next_block(&mut self) {
        self.number += 1;
        let data = hook_calldata(U256::ZERO);
        assert_eq!(data[..4], HOOK_SELECTOR);
        self.tx(SYSTEM_ADDRESS, U256::ZERO, &data).unwrap();
    }

    pub fn advance(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.next_block();
        }
    }

    /// Sum of the balances of everyone but the market, plus the market's, plus burned: constant.
    pub fn total(&self) -> U256 {
        self.state.balances.values().fold(U256::ZERO, |a, b| a + *b) + self.state.burned
    }
}

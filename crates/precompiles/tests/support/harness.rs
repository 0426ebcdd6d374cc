//! A checked driver for the market, mining and staking precompiles over an in-memory host,
//! shared by the property tests (`tests/calldata_props.rs`) and the fuzz targets
//! (`fuzz/fuzz_targets/precompile_*.rs` include this file).
//!
//! Each call is one transaction: the value moves to the precompile first and everything is
//! undone on revert, as in revm. After every call it checks that:
//! - nothing panicked and the outcome is a success, a revert or out-of-gas, never `Fatal` (a
//!   broken invariant or a payment the precompile cannot cover);
//! - the gas reported is at most the gas given;
//! - static calls and DELEGATECALL/CALLCODE change nothing;
//! - the balances plus the burned amount are unchanged (no value is created or lost);
//! - the end-of-block hooks always succeed (a failing hook halts block production).
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use alloy_primitives::{Address, B256, LogData, U256, keccak256};
use alloy_sol_types::{SolCall, SolInterface, SolValue};
use dbc_chainspec::{
    DbcParams, GOVERNANCE_ADDRESS, MARKET_ADDRESS, MINING_ADDRESS, STAKING_ADDRESS,
};
use dbc_precompiles::{
    Call, Host, HostError, Outcome, SYSTEM_ADDRESS,
    abi::{IGovernance, IGpuMarket, IProjectMining, IStaking},
    hook_calldata,
};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    storage: BTreeMap<(Address, U256), U256>,
    balances: BTreeMap<Address, U256>,
    burned: U256,
    logs: usize,
}

impl State {
    fn total(&self) -> U256 {
        self.balances.values().fold(self.burned, |sum, b| sum + *b)
    }
}

/// In-memory chain state.
#[derive(Debug, Default)]
pub struct MemHost {
    state: State,
    originals: HashMap<(Address, U256), U256>,
    warm: HashSet<(Address, U256)>,
    snapshots: Vec<State>,
    number: u64,
    origin: Address,
}

impl Host for MemHost {
    fn sload(&mut self, account: Address, key: U256) -> Result<(U256, bool), HostError> {
        let cold = self.warm.insert((account, key));
        Ok((self.state.storage.get(&(account, key)).copied().unwrap_or_default(), cold))
    }
    fn sstore(
        &mut self,
        account: Address,
        key: U256,
        value: U256,
    ) -> Result<dbc_precompiles::StoreInfo, HostError> {
        let cold = self.warm.insert((account, key));
        let present = self.state.storage.get(&(account, key)).copied().unwrap_or_default();
        let original = *self.originals.entry((account, key)).or_insert(present);
        if value.is_zero() {
            self.state.storage.remove(&(account, key));
        } else {
            self.state.storage.insert((account, key), value);
        }
        Ok(dbc_precompiles::StoreInfo { original, present, cold })
    }
    fn log(&mut self, _account: Address, _data: LogData) {
        self.state.logs += 1;
    }
    fn pay_from(&mut self, from: Address, to: Address, amount: U256) -> Result<(), HostError> {
        if amount.is_zero() {
            return Ok(()); // Not a write (and no empty entry that would look like one).
        }
        let have = self.state.balances.get(&from).copied().unwrap_or_default();
        let left = have.checked_sub(amount).ok_or(HostError::Balance(amount))?;
        self.state.balances.insert(from, left);
        let to = self.state.balances.entry(to).or_default();
        *to = to.checked_add(amount).ok_or(HostError::Balance(amount))?;
        Ok(())
    }
    fn burn_from(&mut self, from: Address, amount: U256) -> Result<(), HostError> {
        if amount.is_zero() {
            return Ok(());
        }
        let have = self.state.balances.get(&from).copied().unwrap_or_default();
        let left = have.checked_sub(amount).ok_or(HostError::Balance(amount))?;
        self.state.balances.insert(from, left);
        self.state.burned += amount;
        Ok(())
    }
    fn mint(&mut self, to: Address, amount: U256) -> Result<(), HostError> {
        let b = self.state.balances.entry(to).or_default();
        *b = b.checked_add(amount).ok_or(HostError::Balance(amount))?;
        Ok(())
    }
    fn balance(&mut self, account: Address) -> Result<U256, HostError> {
        Ok(self.state.balances.get(&account).copied().unwrap_or_default())
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

/// Which precompile a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Market,
    Mining,
    Staking,
    Governance,
}

impl Target {
    pub fn from_index(i: u8) -> Self {
        match i % 4 {
            0 => Self::Market,
            1 => Self::Mining,
            2 => Self::Staking,
            _ => Self::Governance,
        }
    }

    pub fn address(self) -> Address {
        match self {
            Self::Market => MARKET_ADDRESS,
            Self::Mining => MINING_ADDRESS,
            Self::Staking => STAKING_ADDRESS,
            Self::Governance => GOVERNANCE_ADDRESS,
        }
    }

    /// The precompile's function selectors.
    pub fn selectors(self) -> Vec<[u8; 4]> {
        match self {
            Self::Market => IGpuMarket::IGpuMarketCalls::selectors().collect(),
            Self::Mining => IProjectMining::IProjectMiningCalls::selectors().collect(),
            Self::Staking => IStaking::IStakingCalls::selectors().collect(),
            Self::Governance => IGovernance::IGovernanceCalls::selectors().collect(),
        }
    }
}

/// The accounts that send transactions (index 4 and above: any address).
pub const CALLERS: [Address; 4] = [
    Address::with_last_byte(0xa1),
    Address::with_last_byte(0xa2),
    Address::with_last_byte(0xa3),
    Address::with_last_byte(0xa4),
];

pub fn caller(i: u8) -> Address {
    CALLERS[usize::from(i) % CALLERS.len()]
}

/// Gas of the system calls that run the hooks.
const HOOK_GAS: u64 = 30_000_000;

const DBC: u128 = 1_000_000_000_000_000_000;

/// An ABI word from a small vocabulary that makes calls likely to get past validation:
/// small numbers, the callers' addresses, stake-sized amounts, offsets of dynamic arguments,
/// extremes and arbitrary values.
pub fn word(tag: u8, x: u64) -> [u8; 32] {
    let v = match tag % 8 {
        0 => U256::from(x % 16),
        1 => U256::from_be_slice(caller(x as u8).as_slice()),
        2 => U256::from(x % 100_001) * U256::from(DBC),
        3 => U256::from(32 * (x % 16)),
        4 => U256::from(x),
        5 => U256::MAX >> (x % 256),
        6 => U256::from(x % 1_000_000),
        _ => U256::from_be_bytes(keccak256(x.to_be_bytes()).0),
    };
    v.to_be_bytes()
}

/// Calldata: a selector of `target` (or raw bytes for `selector` beyond them), then words and
/// a raw tail.
pub fn calldata(target: Target, selector: u16, words: &[(u8, u64)], tail: &[u8]) -> Vec<u8> {
    let selectors = target.selectors();
    let mut data = match selectors.get(usize::from(selector) % (selectors.len() + 1)) {
        Some(s) => s.to_vec(),
        None => selector.to_be_bytes().to_vec(),
    };
    for (tag, x) in words {
        data.extend_from_slice(&word(*tag, *x));
    }
    data.extend_from_slice(tail);
    data
}

/// A value from a small vocabulary (zero mostly, stake-sized amounts, odd amounts).
pub fn value(tag: u8, x: u64) -> U256 {
    match tag % 4 {
        0 | 1 => U256::ZERO,
        2 => U256::from(x % 100_001) * U256::from(DBC),
        _ => U256::from(x),
    }
}

/// The precompiles over a [`MemHost`], with the checks above after each call.
#[derive(Debug)]
pub struct Harness {
    pub host: MemHost,
    /// The genesis parameters; calls run the ones in force (`params::in_force_params`).
    pub params: std::sync::Arc<DbcParams>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        let mut params = DbcParams::default();
        // Referenda short enough to be counted within a scenario.
        params.governance.referendum_blocks = 3;
        params.governance.enactment_delay_blocks = 1;
        // Epochs short enough for elections and enactments within a scenario.
        params.staking.epoch_blocks = 20;
        // A council of two (and a runner-up) elected every 10 blocks, as genesis schedules the
        // first election; motions of 3 blocks; bonds and ballots a caller can afford many times.
        let c = &mut params.governance.council;
        (c.seats, c.runners_up, c.max_candidates, c.max_approvals) = (2, 1, 6, 3);
        (c.term_blocks, c.election_freeze_blocks, c.motion_blocks) = (10, 1, 3);
        (c.max_ballot_classes, c.candidacy_bond, c.min_vote_lock) =
            (4, U256::from(10 * DBC), U256::from(DBC));
        let mut host = MemHost { number: 1, ..Default::default() };
        let term_end = U256::from(dbc_chainspec::GOVERNANCE_TERM_END_SLOT);
        host.state.storage.insert((GOVERNANCE_ADDRESS, term_end), U256::from(10));
        host.state.balances.insert(MARKET_ADDRESS, params.market.reward_pool);
        host.state.balances.insert(STAKING_ADDRESS, params.staking.reward_pool);
        for c in CALLERS {
            host.state.balances.insert(c, U256::from(10u128.pow(30)));
        }
        Self { host, params: std::sync::Arc::new(params) }
    }

    /// Runs one transaction and checks its outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        target: Target,
        from: Address,
        value: U256,
        data: &[u8],
        is_static: bool,
        direct: bool,
        gas: u64,
    ) -> Outcome {
        // A static call carries no value; the sender pays only what it has.
        let have = self.host.state.balances.get(&from).copied().unwrap_or_default();
        let value = if is_static { U256::ZERO } else { value.min(have) };
        let before = self.host.state.clone();
        let total = before.total();
        self.host.origin = from;
        self.host.originals.clear();
        self.host.warm.clear();
        self.host.pay_from(from, target.address(), value).unwrap();
        let call = Call { data, caller: from, value, is_static, direct, gas };
        let p = dbc_precompiles::params::in_force_params(&mut self.host, &self.params)
            .unwrap_or_else(|e| panic!("parameters in force: {e}"));
        let out = match target {
            Target::Market => dbc_precompiles::execute(&mut self.host, &p.market, call),
            Target::Mining => dbc_precompiles::mining::execute(&mut self.host, &p.market, call),
            Target::Staking => dbc_precompiles::staking::execute(&mut self.host, &p, call),
            Target::Governance => dbc_precompiles::governance::execute(&mut self.host, &p, call),
        };
        match &out {
            Outcome::Success { gas: used, .. } => {
                assert!(*used <= gas, "{target:?}: used {used} of {gas} gas");
                if is_static || !direct {
                    let mut after = self.host.state.clone();
                    after.logs = before.logs;
                    assert!(after == before, "{target:?}: a static or delegated call wrote");
                }
            }
            Outcome::Revert { gas: used, .. } => {
                assert!(*used <= gas, "{target:?}: used {used} of {gas} gas (revert)");
                self.host.state = before;
            }
            Outcome::OutOfGas => self.host.state = before,
            Outcome::Fatal(e) => panic!("{target:?}: fatal outcome from calldata {data:02x?}: {e}"),
        }
        self.host.snapshots.clear();
        assert_eq!(self.host.state.total(), total, "{target:?}: value created or lost");
        out
    }

    /// Ends the block (the market's, the staking and the governance hooks, which must succeed)
    /// and starts the next `blocks` later; the governance hook, which has work queued by block
    /// number, also runs at the end of every block skipped.
    pub fn next_block(&mut self, blocks: u8, proposer: u8, missed: u8) {
        let missed: Vec<Address> =
            (0..4u8).filter(|i| missed & (1 << i) != 0).map(caller).collect();
        let market = hook_calldata(U256::ZERO);
        let out =
            self.call(Target::Market, SYSTEM_ADDRESS, U256::ZERO, &market, false, true, HOOK_GAS);
        assert!(matches!(out, Outcome::Success { .. }), "market hook failed: {out:?}");
        let staking = dbc_precompiles::staking::hook_calldata(caller(proposer), missed);
        let out =
            self.call(Target::Staking, SYSTEM_ADDRESS, U256::ZERO, &staking, false, true, HOOK_GAS);
        assert!(matches!(out, Outcome::Success { .. }), "staking hook failed: {out:?}");
        let governance = dbc_precompiles::governance::hook_calldata(alloy_primitives::I256::ZERO);
        for _ in 0..blocks.max(1) {
            let out = self.call(
                Target::Governance,
                SYSTEM_ADDRESS,
                U256::ZERO,
                &governance,
                false,
                true,
                HOOK_GAS,
            );
            assert!(matches!(out, Outcome::Success { .. }), "governance hook failed: {out:?}");
            self.host.number += 1;
        }
    }
}

impl Harness {
    /// A view of the governance precompile (panics on a revert).
    pub fn governance_view<C: alloy_sol_types::SolCall>(&mut self, c: C) -> C::Return {
        let data = c.abi_encode();
        let gov = Target::Governance;
        match self.call(gov, CALLERS[0], U256::ZERO, &data, true, true, HOOK_GAS) {
            Outcome::Success { output, .. } => C::abi_decode_returns(&output).unwrap(),
            other => panic!("{}: {other:?}", C::SIGNATURE),
        }
    }

    /// A council step derived from `seed` (its low byte picks the action, byte 1 the caller,
    /// byte 2 the approvals): a candidacy, a lock and a ballot, a withdrawal, a
    /// council motion (a spend or a text) that some callers vote on, or an unlock. Outcomes
    /// are whatever the precompile decides; [`Self::call`] checks each.
    pub fn council_step(&mut self, seed: u64) {
        use IGovernance::Route;
        let gov = Target::Governance;
        let who = caller((seed >> 8) as u8);
        let bits = (seed >> 16) as u8;
        let chosen: Vec<Address> = (0..4u8).filter(|i| bits & (1 << i) != 0).map(caller).collect();
        let dbc = |n: u64| U256::from(n) * U256::from(DBC);
        let action = (seed & 0xff) % 6;
        match action {
            0 => {
                let data = IGovernance::submitCandidacyCall {}.abi_encode();
                self.call(gov, who, dbc(10), &data, false, true, HOOK_GAS);
            }
            1 => {
                let lock = IGovernance::lockCall {}.abi_encode();
                self.call(gov, who, dbc(seed >> 40 & 0xff), &lock, false, true, HOOK_GAS);
                let data = IGovernance::voteCouncilCall { approvals: chosen }.abi_encode();
                self.call(gov, who, U256::ZERO, &data, false, true, HOOK_GAS);
            }
            2 => {
                let data = if bits & 1 == 0 {
                    IGovernance::removeCouncilVoteCall {}.abi_encode()
                } else {
                    IGovernance::renounceCandidacyCall {}.abi_encode()
                };
                self.call(gov, who, U256::ZERO, &data, false, true, HOOK_GAS);
            }
            3 | 4 => {
                let fund = IGovernance::fundCall {}.abi_encode();
                self.call(gov, who, dbc(50), &fund, false, true, HOOK_GAS);
                let (kind, data) = if action == 3 {
                    let c = IGovernance::proposeSpendCall {
                        to: caller(bits),
                        amount: dbc(seed >> 24 & 0x3f),
                        streamBlocks: seed >> 32 & 3,
                        route: Route::Council,
                        description: "motion".into(),
                    };
                    (IGovernance::Kind::TreasurySpend, c.abi_encode())
                } else {
                    let c = IGovernance::proposeTextCall {
                        route: Route::Council,
                        description: "motion".into(),
                    };
                    (IGovernance::Kind::Text, c.abi_encode())
                };
                let deposit = self.governance_view(IGovernance::requiredDepositCall {
                    kind,
                    spendAmount: dbc(63),
                });
                let out = self.call(gov, who, deposit, &data, false, true, HOOK_GAS);
                let Outcome::Success { output, .. } = out else { return };
                let id = U256::from_be_slice(&output[..32]);
                for (i, c) in CALLERS.into_iter().enumerate() {
                    let support = (seed >> (48 + 2 * i)) as u8 & 3;
                    let vote = IGovernance::castVoteCall { proposalId: id, support }.abi_encode();
                    self.call(gov, c, U256::ZERO, &vote, false, true, HOOK_GAS);
                }
            }
            _ => {
                let data = IGovernance::unlockCall { amount: dbc(seed >> 40 & 0xff) }.abi_encode();
                self.call(gov, who, U256::ZERO, &data, false, true, HOOK_GAS);
            }
        }
    }

    /// A referendum on a change of `target`'s parameters (0 market, 1 staking, 2 governance,
    /// else the validator-set size) derived from `seed` (valid or not), which every caller
    /// locks DBC for and votes for; later blocks count and enact it.
    pub fn propose_change(&mut self, target: u8, seed: u64) {
        use IGovernance::{Kind, Route};
        let pick = |n: u64| seed.rotate_left((n * 7) as u32);
        let t = match target % 4 {
            0 => IGovernance::Target::Market,
            1 => IGovernance::Target::Staking,
            _ => IGovernance::Target::Governance,
        };
        let current = self.governance_view(IGovernance::currentParamsCall { target: t });
        let (kind, data) = if target % 4 == 3 {
            let n = (seed % 40) as u32;
            let c = IGovernance::proposeValidatorSetSizeCall {
                maxValidators: n,
                route: Route::Referendum,
                description: "size".into(),
            };
            (Kind::ValidatorSetSize, c.abi_encode())
        } else {
            let record = match t {
                IGovernance::Target::Market => {
                    let mut m = IGovernance::MarketParamsV1::abi_decode(&current).unwrap();
                    m.stake.stakePerGpu = U256::from(pick(1) % 5_000 + 1) * U256::from(DBC);
                    m.stake.auditorStake = U256::from(pick(2) % 20_000) * U256::from(DBC);
                    m.rent.burnTiers = vec![
                        IGovernance::BurnTierRow { fromGpus: 0, bps: (pick(3) % 10_001) as u16 },
                        IGovernance::BurnTierRow { fromGpus: pick(4) % 100 + 1, bps: 10_000 },
                    ];
                    m.rewards.vestingBlocks = pick(5) % 1_000 + 1;
                    m.rewards.immediateBps = (pick(6) % 10_001) as u16;
                    m.rewards.rentedBonusBps = (pick(7) % 10_002) as u16;
                    m.rewards.maxProjectsPerMachine = (pick(8) % 18) as u32;
                    m.liveness.heartbeatTimeoutBlocks = 99 + pick(9) % 200;
                    m.verification.commitWindowBlocks = 20 + pick(10) % 20;
                    m.stake.reportDeposit = U256::from(pick(11) % 1_000) * U256::from(DBC);
                    m.abi_encode()
                }
                IGovernance::Target::Staking => {
                    let mut s = IGovernance::StakingParamsV1::abi_decode(&current).unwrap();
                    s.maxValidators = (pick(1) % 30) as u32;
                    s.maxCandidates = (pick(2) % 300) as u32;
                    s.minSelfStake = U256::from(pick(3) % 100_000) * U256::from(DBC);
                    s.jailBlocks = pick(4) % 100;
                    s.doubleSignSlashBps = (pick(5) % 10_001) as u16;
                    s.abi_encode()
                }
                _ => {
                    let mut g = IGovernance::GovernanceParamsV1::abi_decode(&current).unwrap();
                    g.referendumBlocks = pick(1) % 5;
                    g.enactmentDelayBlocks = pick(2) % 3 + 1;
                    g.maxEnactmentsPerEpoch = (pick(3) % 4) as u32;
                    g.maxOpenProposals = (pick(4) % 66) as u32;
                    g.proposalDeposit = U256::from(pick(5) % 10) * U256::from(DBC);
                    g.abi_encode()
                }
            };
            let c = IGovernance::proposeParamsCall {
                target: t,
                params: record.into(),
                route: Route::Referendum,
                description: "change".into(),
            };
            (Kind::ParamChange, c.abi_encode())
        };
        let deposit = self
            .governance_view(IGovernance::requiredDepositCall { kind, spendAmount: U256::ZERO });
        let gov = Target::Governance;
        let out = self.call(gov, CALLERS[0], deposit, &data, false, true, HOOK_GAS);
        let Outcome::Success { output, .. } = out else { return };
        let id = U256::from_be_slice(&output[..32]);
        let lock = IGovernance::lockCall {}.abi_encode();
        let vote = IGovernance::castVoteCall { proposalId: id, support: 1 }.abi_encode();
        for c in CALLERS {
            self.call(gov, c, U256::from(1_000u64) * U256::from(DBC), &lock, false, true, HOOK_GAS);
            self.call(gov, c, U256::ZERO, &vote, false, true, HOOK_GAS);
        }
    }
}

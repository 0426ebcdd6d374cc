//! The proof-of-stake genesis that `dbc-node genesis` writes: the dev genesis's chain rules,
//! predeploys and market pool, a validator set, and only the funded accounts the caller asks
//! for. The ten test-mnemonic accounts of `genesis/dev.json` (whose private keys are public)
//! are left out unless requested with `dev_accounts` (security review L5).

use crate::{
    CIRCULATING_RESERVE, ChainSpec, ChainSpecError, DBC, DEV_ACCOUNT_BALANCE, DEV_GENESIS_JSON,
    GenesisValidator, PRECOMPILE_ACCOUNTS, STAKING_ADDRESS, StakingParams, dev_addresses,
};
use alloy_primitives::{Address, U256};
use std::{collections::BTreeMap, str::FromStr};

/// Number of test-mnemonic accounts `genesis/dev.json` funds.
const DEV_JSON_ACCOUNTS: usize = 10;

/// Most test-mnemonic accounts a genesis may fund (each is a key derivation).
pub const MAX_DEV_ACCOUNTS: usize = 1_000;

/// An explicit genesis balance: `ADDRESS=DBC` (whole DBC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenesisAlloc {
    /// Funded account.
    pub address: Address,
    /// Balance in wei.
    pub balance: U256,
}

impl FromStr for GenesisAlloc {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, amount) =
            s.split_once('=').ok_or_else(|| format!("`{s}`: expected ADDRESS=DBC"))?;
        let address =
            addr.trim().parse::<Address>().map_err(|e| format!("`{addr}`: bad address: {e}"))?;
        let dbc = U256::from_str_radix(amount.trim(), 10)
            .map_err(|e| format!("`{amount}`: bad amount of DBC (a whole number): {e}"))?;
        let balance = dbc
            .checked_mul(U256::from(DBC))
            .ok_or_else(|| format!("`{amount}` DBC overflows 256 bits of wei"))?;
        Ok(Self { address, balance })
    }
}

/// What goes into a proof-of-stake genesis.
#[derive(Debug, Clone)]
pub struct PosGenesis {
    /// Genesis validators (each bonds `stake` as its self-stake from block 1).
    pub validators: Vec<Address>,
    /// Self-stake of each validator, in wei.
    pub stake: U256,
    /// Commission of each genesis validator, in basis points.
    pub commission_bps: u16,
    /// Slot length in seconds.
    pub block_time_secs: u64,
    /// Blocks per staking epoch.
    pub epoch_blocks: u64,
    /// Chain id.
    pub chain_id: u64,
    /// Genesis timestamp.
    pub timestamp: u64,
    /// Fund the first `dev_accounts` accounts of the public test mnemonic
    /// ([`crate::DEV_MNEMONIC`]) with [`DEV_ACCOUNT_BALANCE`] each: for local test networks
    /// only, since anyone can sign for them.
    pub dev_accounts: usize,
    /// Explicit balances (summed when an address repeats).
    pub alloc: Vec<GenesisAlloc>,
}

/// The genesis file (pretty JSON) for `p`, checked by [`ChainSpec::from_json`].
pub fn pos_genesis_json(p: &PosGenesis) -> Result<String, ChainSpecError> {
    let bad = |m: String| ChainSpecError::Unsupported(m);
    if p.validators.is_empty() {
        return Err(bad("a proof-of-stake genesis needs at least one validator".into()));
    }
    if p.dev_accounts > MAX_DEV_ACCOUNTS {
        return Err(bad(format!("at most {MAX_DEV_ACCOUNTS} test-mnemonic accounts")));
    }
    let mut g: serde_json::Value = serde_json::from_str(DEV_GENESIS_JSON)?;
    let staking = StakingParams {
        epoch_blocks: p.epoch_blocks,
        validators: p
            .validators
            .iter()
            .map(|v| GenesisValidator {
                address: *v,
                stake: p.stake,
                commission_bps: p.commission_bps,
            })
            .collect(),
        ..Default::default()
    };
    staking.validate().map_err(bad)?;
    let staked = staking
        .genesis_stake()
        .checked_add(staking.reward_pool)
        .ok_or_else(|| bad("the validators' stakes overflow".into()))?;

    // Start from dev.json's alloc and supply buckets without its test-mnemonic accounts (their
    // balances go back to the circulating reserve); every account funded here, and the
    // validators' stakes, are paid out of that reserve, so the total stays 10 B DBC.
    let dev_spec = ChainSpec::from_json(DEV_GENESIS_JSON)?;
    let mut supply = dev_spec
        .params
        .supply
        .clone()
        .ok_or_else(|| bad("genesis/dev.json has no config.dbc.supply".into()))?;
    let dev = dev_addresses(DEV_JSON_ACCOUNTS.max(p.dev_accounts))?;
    let mut alloc: BTreeMap<Address, serde_json::Value> =
        serde_json::from_value(g["alloc"].take())?;
    for a in &dev[..DEV_JSON_ACCOUNTS] {
        alloc.remove(a);
        supply.return_to_reserve(*a);
    }
    let mut balances: BTreeMap<Address, U256> = BTreeMap::new();
    for a in &dev[..p.dev_accounts] {
        balances.insert(*a, U256::from(DEV_ACCOUNT_BALANCE));
    }
    for x in &p.alloc {
        if PRECOMPILE_ACCOUNTS.contains(&x.address) || x.address == CIRCULATING_RESERVE {
            return Err(bad(format!("cannot fund the account {} (it holds a pool)", x.address)));
        }
        let b = balances.entry(x.address).or_default();
        *b = b.checked_add(x.balance).ok_or_else(|| bad("balances overflow".into()))?;
    }
    let pool = dev_spec.genesis.alloc.get(&STAKING_ADDRESS).map(|a| a.balance).unwrap_or_default();
    if pool != staking.reward_pool {
        return Err(bad("genesis/dev.json's staking account does not hold the reward pool".into()));
    }
    supply.pay_from_reserve(STAKING_ADDRESS, staking.genesis_stake()).map_err(bad)?;
    for (a, balance) in &balances {
        supply.pay_from_reserve(*a, *balance).map_err(bad)?;
    }
    for (a, balance) in balances {
        // dev.json's remaining entries (predeploys) hold no balance.
        let entry = alloc.entry(a).or_insert_with(|| serde_json::json!({}));
        entry["balance"] = format!("{balance:#x}").into();
    }
    alloc.insert(STAKING_ADDRESS, serde_json::json!({ "balance": format!("{staked:#x}") }));
    let reserve = supply
        .buckets
        .iter()
        .filter(|b| b.address == CIRCULATING_RESERVE)
        .fold(U256::ZERO, |a, b| a.saturating_add(b.amount.0));
    alloc.insert(CIRCULATING_RESERVE, serde_json::json!({ "balance": format!("{reserve:#x}") }));
    g["alloc"] = serde_json::to_value(alloc)?;
    g["config"]["chainId"] = p.chain_id.into();
    g["config"]["dbc"] = serde_json::json!({
        "version": crate::GENESIS_FORMAT,
        "blockTimeSecs": p.block_time_secs,
        "staking": serde_json::to_value(&staking)?,
        "supply": serde_json::to_value(&supply)?,
    });
    g["timestamp"] = format!("{:#x}", p.timestamp).into();
    let text = serde_json::to_string_pretty(&g)?;
    // Refuse to write what the node would not accept.
    ChainSpec::from_json(&text)?;
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{DEV_MNEMONIC, MARKET_ADDRESS};
    use alloy_primitives::address;

    fn args() -> PosGenesis {
        PosGenesis {
            validators: vec![
                address!("0x00000000000000000000000000000000000000a1"),
                address!("0x00000000000000000000000000000000000000b2"),
            ],
            stake: U256::from(100_000u64) * U256::from(DBC),
            commission_bps: 1_000,
            block_time_secs: 2,
            epoch_blocks: 200,
            chain_id: 19_889,
            timestamp: 1_700_000_000,
            dev_accounts: 0,
            alloc: vec![],
        }
    }

    /// Security review L5: the test mnemonic's accounts (public keys) are not funded in a
    /// proof-of-stake genesis unless asked for; explicit `--alloc` balances are.
    #[test]
    fn l5_pos_genesis_funds_no_test_mnemonic_account_unless_asked() {
        let dev = dev_addresses(12).unwrap();
        let carol = address!("0x00000000000000000000000000000000000000c3");
        let mut a = args();
        a.alloc = vec!["0x00000000000000000000000000000000000000c3=5".parse().unwrap()];
        a.alloc.push(GenesisAlloc { address: carol, balance: U256::from(1u64) });
        let spec = ChainSpec::from_json(&pos_genesis_json(&a).unwrap()).unwrap();
        for d in &dev {
            assert!(!spec.genesis.alloc.contains_key(d), "{d} ({DEV_MNEMONIC}) is not funded");
        }
        assert_eq!(spec.genesis.alloc[&carol].balance, U256::from(5 * DBC + 1));
        // The rest of dev.json stays: the market pool, the predeploys, the staking balance.
        assert_eq!(spec.genesis.alloc[&MARKET_ADDRESS].balance, spec.params.market.reward_pool);
        let create2 = address!("0x4e59b44847b379578588920ca78fbf26c0b4956c");
        assert!(spec.genesis.alloc[&create2].code.is_some());
        let staking = &spec.params.staking;
        assert_eq!(
            spec.genesis.alloc[&STAKING_ADDRESS].balance,
            staking.genesis_stake() + staking.reward_pool
        );
        assert_eq!((spec.chain_id, staking.validators.len()), (19_889, 2));
        // Stakes and balances come out of the circulating reserve: the total stays 10 B.
        let ten_b = U256::from(crate::TOTAL_SUPPLY_DBC) * U256::from(DBC);
        assert_eq!(spec.genesis_supply(), ten_b);
        assert_eq!(spec.params.supply.as_ref().unwrap().total.0, ten_b);

        // Opt-in: the first N test accounts, here more than dev.json's ten.
        let a = PosGenesis { dev_accounts: 11, ..args() };
        let spec = ChainSpec::from_json(&pos_genesis_json(&a).unwrap()).unwrap();
        for d in &dev[..11] {
            assert_eq!(spec.genesis.alloc[d].balance, U256::from(DEV_ACCOUNT_BALANCE));
        }
        assert!(!spec.genesis.alloc.contains_key(&dev[11]));
    }

    #[test]
    fn l5_pos_genesis_refuses_bad_allocations() {
        assert!("0x00000000000000000000000000000000000000c3".parse::<GenesisAlloc>().is_err());
        assert!("0x00000000000000000000000000000000000000c3=1.5".parse::<GenesisAlloc>().is_err());
        assert!("nope=1".parse::<GenesisAlloc>().is_err());
        let a = PosGenesis {
            alloc: vec![GenesisAlloc { address: STAKING_ADDRESS, balance: U256::from(1u64) }],
            ..args()
        };
        assert!(pos_genesis_json(&a).unwrap_err().to_string().contains("holds a pool"));
        // More than the circulating reserve (3 B DBC less what is handed out) is refused.
        let big = "0x00000000000000000000000000000000000000c3=3000000000".parse().unwrap();
        let a = PosGenesis { alloc: vec![big], ..args() };
        assert!(pos_genesis_json(&a).unwrap_err().to_string().contains("circulating reserve"));
        let a = PosGenesis { validators: vec![], ..args() };
        assert!(pos_genesis_json(&a).unwrap_err().to_string().contains("at least one"));
    }
}
